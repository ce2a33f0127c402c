/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for lib/inflate.c: the input is a zlib stream when its
 * first two bytes are a valid zlib header, a raw deflate stream otherwise.
 * Besides crashes and sanitizer reports, it aborts on a return value outside
 * the documented set, on a length beyond the buffer, and when a stream that
 * decoded into 64 KiB is not refused with -VQ_ENOSPC in one byte less.
 * Seeds: the streams of tests/unit/images/mk_decomp.sh (tests/fuzz/seeds.sh).
 * Run: build/fuzz/fuzz_inflate -max_len=4096 build/fuzz/seeds/fuzz_inflate
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "lib/inflate.h"

#define CAP (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool zlib = size >= 2 && (data[0] & 0x0f) == 8 && ((data[0] << 8) | data[1]) % 31 == 0;
	int (*fn)(const void *, size_t, void *, size_t, size_t *) =
		zlib ? vq_inflate_zlib : vq_inflate_raw;
	uint8_t *out = malloc(CAP);
	size_t len = 0, len2 = 0;
	int r;

	if (!out)
		return 0;
	r = fn(data, size, out, CAP, &len);
	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOSPC && r != -VQ_ENOTSUP)
		abort();
	if (r == 0 && len > CAP)
		abort();
	/* Output near the end of the buffer: one byte less must not fit. */
	if (r == 0 && len > 0 && (size & 1) && fn(data, size, out, len - 1, &len2) != -VQ_ENOSPC)
		abort();
	free(out);
	return 0;
}
