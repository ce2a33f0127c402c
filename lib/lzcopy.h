/* SPDX-License-Identifier: MIT */
/*
 * What the LZ77-family decoders (inflate, zstd, lzo) share: unaligned loads
 * and the back-reference copy into a flat output buffer. Callers check the
 * distance and the length against the buffer before calling.
 */
#ifndef VQ_LZCOPY_H
#define VQ_LZCOPY_H

#include "lib/compat.h"

/* __builtin_memcpy: the EFI build is -ffreestanding, where a plain memcpy
 * call is not inlined and a fixed 8-byte load would become a call. */
static inline uint64_t lz_load64(const void *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t lz_load32(const void *p)
{
	uint32_t v;

	__builtin_memcpy(&v, p, sizeof(v));
	return v;
}

static inline void lz_store64(void *p, uint64_t v)
{
	__builtin_memcpy(p, &v, sizeof(v));
}

/*
 * Copy @len bytes from @dist bytes back, at @out + @pos, in a buffer of @cap
 * bytes, byte by byte in effect (an overlapping copy repeats the pattern).
 * Requires 1 <= @dist <= @pos and @pos + @len <= @cap. Copies 8 bytes at a
 * time when the source is at least 8 back and there is room to overshoot,
 * else the pattern in non-overlapping pieces from its start.
 */
static inline void lz_copy_match(uint8_t *out, size_t pos, size_t dist,
				 size_t len, size_t cap)
{
	uint8_t *d = out + pos;
	const uint8_t *s = d - dist;

	if (dist >= 8 && cap - pos - len >= 8) {
		uint8_t *end = d + len;

		do {
			lz_store64(d, lz_load64(s));
			d += 8;
			s += 8;
		} while (d < end);
		return;
	}
	if (dist == 1) {
		__builtin_memset(d, *s, len);
		return;
	}
	/* The pattern so far, copied whole: each copy doubles it. */
	while (len) {
		size_t n = VQ_MIN(dist, len);

		__builtin_memcpy(d, s, n);
		d += n;
		len -= n;
		dist *= 2;
	}
}

#endif
