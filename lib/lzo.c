/* SPDX-License-Identifier: MIT */
/*
 * LZO1X decompression, as the Linux kernel's lzo1x_decompress_safe reads
 * it (Documentation/staging/lzo.rst). Instructions are a byte whose top
 * bits pick the kind, operands after it, and 0-3 trailing literals whose
 * count (the "state") changes what the next 0000xxxx byte means:
 *
 *   0000LLLL  state 0:   3 + L literals (L = 0: 18 + a length run)
 *   0000DDSS  state 1-3: 2 bytes from (H << 2) + D + 1, one byte H follows
 *   0000DDSS  state 4:   3 bytes from (H << 2) + D + 2049
 *   0001HLLL  2 + L bytes (L = 0: 9 + run) from 16384 + (H << 14) + D,
 *             LE16 D:S follows; D = 0, H = 0 is the end of the stream.
 *             Version 1: H = 1 and D all ones is a run of zeros,
 *             ((X << 3) | L) + 4 long, the byte X after the LE16.
 *   001LLLLL  2 + L bytes (L = 0: 33 + run) from D + 1, LE16 D:S follows
 *   01LDDDSS  3 + L bytes from (H << 3) + D + 1, one byte H follows
 *   1LLDDDSS  5 + L bytes, the same
 *
 * A length run is zero bytes worth 255 each and a last non-zero byte.
 */
#include "lib/lzo.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/lzcopy.h"

#define LZO_RLE_MIN 4

struct lzo {
	const uint8_t *in;
	size_t in_len;
	size_t ip;
	uint8_t *out;
	size_t cap;
	size_t op;
	unsigned version;
};

static int corrupt(const struct lzo *s, size_t at, const char *why)
{
	return log_err(-VQ_ECORRUPT, "lzo: %s at input offset %zu", why, at);
}

static int no_space(const struct lzo *s, size_t need)
{
	return log_err(-VQ_ENOSPC, "lzo: output needs %zu+ bytes, buffer holds %zu (input offset %zu)",
		       need, s->cap, s->ip);
}

static int literals(struct lzo *s, size_t n)
{
	if (n > s->in_len - s->ip)
		return corrupt(s, s->ip, "literals run past the input");
	if (n > s->cap - s->op)
		return no_space(s, s->op + n);
	memcpy(s->out + s->op, s->in + s->ip, n);
	s->ip += n;
	s->op += n;
	return 0;
}

static int match(struct lzo *s, size_t at, size_t dist, size_t len)
{
	if (dist > s->op)
		return corrupt(s, at, "distance before the start of the output");
	if (len > s->cap - s->op)
		return no_space(s, s->op + len);
	lz_copy_match(s->out, s->op, dist, len, s->cap);
	s->op += len;
	return 0;
}

/* The rest of a length whose bits in the instruction were 0: @base plus
 * 255 per zero byte plus the first non-zero byte. */
static int length_run(struct lzo *s, size_t base, size_t *ret_len)
{
	size_t start = s->ip, zeros;

	while (s->ip < s->in_len && s->in[s->ip] == 0)
		s->ip++;
	if (s->ip == s->in_len)
		return corrupt(s, start, "length runs past the input");
	zeros = s->ip - start;
	*ret_len = base + 255 * zeros + s->in[s->ip++];
	return 0;
}

static int need(const struct lzo *s, size_t at, size_t n)
{
	return n > s->in_len - s->ip ? corrupt(s, at, "truncated instruction") : 0;
}

/* 0001HLLL: a far match, a run of zeros (version 1) or the end. *ret_end
 * is set at the end marker. */
static int far_match(struct lzo *s, size_t at, unsigned opc, unsigned *ret_state, bool *ret_end)
{
	size_t len = opc & 7, dist;
	unsigned v;
	int r;

	if (s->version && (opc & 8) && s->in_len - s->ip >= 2 &&
	    (get_le16(s->in + s->ip) & 0xfffc) == 0xfffc) {
		r = need(s, at, 3);
		if (r)
			return r;
		len = ((size_t)s->in[s->ip + 2] << 3 | (opc & 7)) + LZO_RLE_MIN;
		*ret_state = s->in[s->ip] & 3;
		s->ip += 3;
		if (len > s->cap - s->op)
			return no_space(s, s->op + len);
		memset(s->out + s->op, 0, len);
		s->op += len;
		return 0;
	}
	if (len == 0) {
		r = length_run(s, 7, &len);
		if (r)
			return r;
	}
	len += 2;
	r = need(s, at, 2);
	if (r)
		return r;
	v = get_le16(s->in + s->ip);
	s->ip += 2;
	*ret_state = v & 3;
	dist = 16384 + ((size_t)(opc & 8) << 11) + (v >> 2);
	if (dist == 16384) {
		if (len != 3)
			return corrupt(s, at, "end marker with a length");
		*ret_end = true;
		return 0;
	}
	return match(s, at, dist, len);
}

/* One instruction after @state; its trailing literals copied. */
static int instruction(struct lzo *s, unsigned *state, bool *ret_end)
{
	size_t at = s->ip, len, dist;
	unsigned opc = s->in[s->ip++], next = opc & 3;
	int r;

	if (opc >= 64) {
		r = need(s, at, 1);
		if (r)
			return r;
		len = opc >= 128 ? 5 + ((opc >> 5) & 3) : 3 + ((opc >> 5) & 1);
		dist = ((size_t)s->in[s->ip++] << 3) + ((opc >> 2) & 7) + 1;
		r = match(s, at, dist, len);
	} else if (opc >= 32) {
		len = opc & 31;
		if (len == 0) {
			r = length_run(s, 31, &len);
			if (r)
				return r;
		}
		r = need(s, at, 2);
		if (r)
			return r;
		next = get_le16(s->in + s->ip) & 3;
		dist = (get_le16(s->in + s->ip) >> 2) + 1;
		s->ip += 2;
		r = match(s, at, dist, len + 2);
	} else if (opc >= 16) {
		r = far_match(s, at, opc, &next, ret_end);
		if (r || *ret_end)
			return r;
	} else if (*state == 0) {
		len = opc;
		if (len == 0) {
			r = length_run(s, 15, &len);
			if (r)
				return r;
		}
		*state = 4;
		return literals(s, len + 3);
	} else {
		r = need(s, at, 1);
		if (r)
			return r;
		dist = ((size_t)s->in[s->ip++] << 2) + ((opc >> 2) & 3) + 1;
		len = 2;
		if (*state == 4) {
			dist += 2048;
			len = 3;
		}
		r = match(s, at, dist, len);
	}
	if (r)
		return r;
	*state = next;
	return literals(s, next);
}

int vq_lzo1x_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len)
{
	struct lzo s = { .in = src, .in_len = src_len, .out = dst, .cap = dst_cap };
	unsigned state = 0;
	bool end = false;
	int r;

	/* A leading 17 in a stream of 5+ bytes announces a bitstream version
	 * (the kernel's lzo-rle writes 1); the kernel takes any non-zero one
	 * as version 1, and so do we. */
	if (src_len >= 5 && s.in[0] == 17) {
		s.version = s.in[1];
		s.ip = 2;
	}
	/* The first byte may be a literal run of byte - 17. */
	if (s.ip < src_len && s.in[s.ip] > 17) {
		size_t t = s.in[s.ip++] - 17u;

		r = literals(&s, t);
		if (r)
			return r;
		state = t < 4 ? (unsigned)t : 4;
	}
	while (!end) {
		if (s.ip >= s.in_len)
			return corrupt(&s, s.ip, "stream without its end marker");
		r = instruction(&s, &state, &end);
		if (r)
			return r;
	}
	if (s.ip != s.in_len)
		return corrupt(&s, s.ip, "data after the end marker");
	*ret_len = s.op;
	return 0;
}
