/* SPDX-License-Identifier: MIT */
/*
 * Inflate: RFC 1951 deflate and the RFC 1950 zlib wrapper around it.
 *
 * Bits come LSB first through a 64-bit buffer. Past the end of the input
 * the buffer is padded with zero bytes, counted in `pad`; consuming any of
 * them means the stream was truncated. Huffman codes decode through a root
 * table indexed by the next LIT_ROOT (or DIST_ROOT) bits, with a subtable
 * for each root prefix that longer codes share.
 */
#include "lib/inflate.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/lzcopy.h"
#include "lib/plat.h"

#define MAX_BITS 15
#define LIT_ROOT 10
#define DIST_ROOT 8
#define CL_ROOT 7
/* Root table plus the largest set of subtables a code of at most 288
 * (or 32) symbols that passes build_table's checks can need. */
#define LIT_ENTRIES (1024 + 1536)
#define DIST_ENTRIES (256 + 512)
#define CL_ENTRIES 128

/* Table entries: (symbol << 8) | code length for a leaf, (subtable offset
 * << 8) | ENT_LINK | subtable bits for a link, 0 for no code. */
#define ENT_LINK 0x40u

struct inflate_ws {
	uint32_t lit[LIT_ENTRIES];
	uint32_t dist[DIST_ENTRIES];
	uint32_t cl[CL_ENTRIES];
	uint8_t sub[1 << LIT_ROOT];
	uint8_t lens[288 + 32];
};

struct inflate {
	const uint8_t *in;
	size_t in_len;
	size_t pos;
	uint64_t bits;
	unsigned nbits;
	unsigned pad;
	uint8_t *out;
	size_t cap;
	size_t len;
	struct inflate_ws *ws;
};

/* RFC 1951 §3.2.5. */
static const uint16_t len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t dist_base[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
	16385, 24577,
};
static const uint8_t dist_extra[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};
/* §3.2.7: the order code length code lengths are sent in. */
static const uint8_t cl_order[19] = {
	16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
};

/* Offset of the next unconsumed input byte (for messages and the trailer). */
static size_t in_offset(const struct inflate *s)
{
	if (s->nbits < s->pad)
		return s->in_len;
	return s->pos - (s->nbits - s->pad) / 8;
}

static int corrupt(const struct inflate *s, const char *why)
{
	return log_err(-VQ_ECORRUPT, "inflate: %s at input offset %zu",
		       why, in_offset(s));
}

static int no_space(const struct inflate *s, size_t need)
{
	return log_err(-VQ_ENOSPC,
		       "inflate: output needs %zu+ bytes, buffer holds %zu (input offset %zu)",
		       need, s->cap, in_offset(s));
}

/* Leaves at least 57 bits (some of them padding at the end). */
static inline void refill(struct inflate *s)
{
	if (s->in_len - s->pos >= 8) {
		s->bits |= lz_load64(s->in + s->pos) << s->nbits;
		s->pos += (63 - s->nbits) >> 3;
		s->nbits |= 56;
		return;
	}
	while (s->nbits <= 56) {
		uint64_t b = 0;

		if (s->pos < s->in_len)
			b = s->in[s->pos++];
		else
			s->pad += 8;
		s->bits |= b << s->nbits;
		s->nbits += 8;
	}
}

static inline uint32_t getbits(struct inflate *s, unsigned n)
{
	uint32_t v;

	if (s->nbits < n)
		refill(s);
	v = (uint32_t)(s->bits & ((1ull << n) - 1));
	s->bits >>= n;
	s->nbits -= n;
	return v;
}

static inline bool overran(const struct inflate *s)
{
	return s->nbits < s->pad;
}

/* Next symbol of the code in @t; -1 for a bit pattern with no code. The
 * caller has refilled to at least MAX_BITS bits. */
static inline int decode(struct inflate *s, const uint32_t *t, unsigned root)
{
	uint32_t e = t[s->bits & ((1u << root) - 1)];
	unsigned n;

	if (e & ENT_LINK)
		e = t[(e >> 8) + ((s->bits >> root) & ((1u << (e & 15)) - 1))];
	n = e & 31;
	if (n == 0)
		return -1;
	s->bits >>= n;
	s->nbits -= n;
	return (int)(e >> 8);
}

static unsigned reverse_bits(unsigned code, unsigned n)
{
	unsigned r = 0;

	while (n--) {
		r = (r << 1) | (code & 1);
		code >>= 1;
	}
	return r;
}

/* Link each root prefix that codes longer than @root share to a subtable big
 * enough for the longest of them. ws->sub holds the sizes meanwhile, for
 * the prefixes of long codes only, and is all zeros again afterwards. */
static int make_subtables(struct inflate *s, uint32_t *t, unsigned cap, unsigned root,
			  const uint8_t *lens, unsigned n, const unsigned *first)
{
	unsigned next[MAX_BITS + 1], off = 1u << root;
	uint8_t *sub = s->ws->sub;
	int r = 0;

	memcpy(next, first, sizeof(next));
	for (unsigned i = 0; i < n; i++) {
		unsigned l = lens[i], idx;

		if (l <= root)
			continue;
		idx = reverse_bits(next[l]++ >> (l - root), root);
		if (sub[idx] < l - root)
			sub[idx] = (uint8_t)(l - root);
	}
	memcpy(next, first, sizeof(next));
	for (unsigned i = 0; i < n; i++) {
		unsigned l = lens[i], idx, bits;

		if (l <= root)
			continue;
		idx = reverse_bits(next[l]++ >> (l - root), root);
		bits = sub[idx];
		if (!bits)
			continue;       /* linked already */
		sub[idx] = 0;
		if ((1u << bits) > cap - off) {
			r = corrupt(s, "Huffman subtables overflow");
			continue;       /* clear the rest of sub[] all the same */
		}
		t[idx] = (off << 8) | ENT_LINK | bits;
		memset(t + off, 0, sizeof(*t) << bits);
		off += 1u << bits;
	}
	return r;
}

/*
 * Canonical Huffman code (§3.2.2) from @n code lengths into @t. An
 * over-subscribed set is refused, and so is an incomplete one unless it has
 * at most one code and @allow_single (a distance code may be a single code,
 * or none for a block of literals only).
 */
static int build_table(struct inflate *s, uint32_t *t, unsigned cap, unsigned root,
		       const uint8_t *lens, unsigned n, bool allow_single)
{
	unsigned count[MAX_BITS + 1] = { 0 }, next[MAX_BITS + 1];
	int left = 1;
	unsigned ncodes = 0;
	int r;

	for (unsigned i = 0; i < n; i++)
		count[lens[i]]++;
	for (unsigned l = 1; l <= MAX_BITS; l++) {
		left = 2 * left - (int)count[l];
		if (left < 0)
			return corrupt(s, "over-subscribed Huffman code");
		ncodes += count[l];
	}
	if (left > 0 && (!allow_single || ncodes > 1))
		return corrupt(s, "incomplete Huffman code");
	next[0] = next[1] = 0;
	for (unsigned l = 1; l < MAX_BITS; l++)
		next[l + 1] = (next[l] + count[l]) << 1;
	memset(t, 0, sizeof(*t) << root);
	r = make_subtables(s, t, cap, root, lens, n, next);
	if (r)
		return r;
	for (unsigned sym = 0; sym < n; sym++) {
		unsigned l = lens[sym], rev;
		uint32_t e = (sym << 8) | l;

		if (!l)
			continue;
		rev = reverse_bits(next[l]++, l);
		if (l <= root) {
			for (unsigned i = rev; i < (1u << root); i += 1u << l)
				t[i] = e;
		} else {
			uint32_t link = t[rev & ((1u << root) - 1)];
			uint32_t *st = t + (link >> 8);

			for (unsigned i = rev >> root; i < (1u << (link & 15)); i += 1u << (l - root))
				st[i] = e;
		}
	}
	return 0;
}

static int build_fixed(struct inflate *s)
{
	uint8_t *lens = s->ws->lens;
	int r;

	/* §3.2.6 */
	memset(lens, 8, 144);
	memset(lens + 144, 9, 112);
	memset(lens + 256, 7, 24);
	memset(lens + 280, 8, 8);
	r = build_table(s, s->ws->lit, LIT_ENTRIES, LIT_ROOT, lens, 288, false);
	if (r)
		return r;
	memset(lens, 5, 32);
	return build_table(s, s->ws->dist, DIST_ENTRIES, DIST_ROOT, lens, 32, false);
}

/* The code length alphabet's repeat codes (§3.2.7) into ws->lens. */
static int read_code_lengths(struct inflate *s, unsigned total)
{
	uint8_t *lens = s->ws->lens;
	unsigned n = 0;

	while (n < total) {
		unsigned rep;
		uint8_t val = 0;
		int sym;

		refill(s);
		sym = decode(s, s->ws->cl, CL_ROOT);
		if (sym < 0)
			return corrupt(s, "invalid code length code");
		if (sym < 16) {
			lens[n++] = (uint8_t)sym;
			continue;
		}
		if (sym == 16) {
			if (n == 0)
				return corrupt(s, "code length repeat with no previous length");
			val = lens[n - 1];
			rep = 3 + getbits(s, 2);
		} else if (sym == 17) {
			rep = 3 + getbits(s, 3);
		} else {
			rep = 11 + getbits(s, 7);
		}
		if (rep > total - n)
			return corrupt(s, "code lengths repeat past the end");
		memset(lens + n, val, rep);
		n += rep;
	}
	return overran(s) ? corrupt(s, "truncated code lengths") : 0;
}

static int build_dynamic(struct inflate *s)
{
	uint8_t *lens = s->ws->lens;
	unsigned hlit, hdist, hclen;
	int r;

	hlit = getbits(s, 5) + 257;
	hdist = getbits(s, 5) + 1;
	hclen = getbits(s, 4) + 4;
	if (hlit > 286 || hdist > 30)
		return corrupt(s, "too many length or distance codes");
	memset(lens, 0, 19);
	for (unsigned i = 0; i < hclen; i++)
		lens[cl_order[i]] = (uint8_t)getbits(s, 3);
	if (overran(s))
		return corrupt(s, "truncated block header");
	r = build_table(s, s->ws->cl, CL_ENTRIES, CL_ROOT, lens, 19, false);
	if (r)
		return r;
	r = read_code_lengths(s, hlit + hdist);
	if (r)
		return r;
	if (lens[256] == 0)
		return corrupt(s, "no end-of-block code");
	r = build_table(s, s->ws->lit, LIT_ENTRIES, LIT_ROOT, lens, hlit, false);
	if (r)
		return r;
	return build_table(s, s->ws->dist, DIST_ENTRIES, DIST_ROOT, lens + hlit, hdist, true);
}

/* One length/distance pair after length symbol @sym (257..285). */
static inline int do_match(struct inflate *s, int sym)
{
	unsigned li = (unsigned)sym - 257, dsym;
	size_t len, dist;
	int d;

	if (li >= 29)
		return corrupt(s, "invalid length code");
	len = len_base[li] + getbits(s, len_extra[li]);
	d = decode(s, s->ws->dist, DIST_ROOT);
	if (d < 0 || d >= 30)
		return corrupt(s, "invalid distance code");
	dsym = (unsigned)d;
	dist = dist_base[dsym] + getbits(s, dist_extra[dsym]);
	if (overran(s))
		return corrupt(s, "truncated block");
	if (dist > s->len)
		return corrupt(s, "distance before the start of the output");
	if (len > s->cap - s->len)
		return no_space(s, s->len + len);
	lz_copy_match(s->out, s->len, dist, len, s->cap);
	s->len += len;
	return 0;
}

/*
 * The hot loop, while at least 8 input bytes and a longest match (plus the
 * 8 bytes lz_copy_match may overshoot) of room are left: no padding, no
 * room checks. State lives in locals, since stores through the uint8_t
 * output could alias the struct. Returns 1 at end-of-block, 0 when near
 * an end of either buffer, or an error.
 */
static int inflate_fast(struct inflate *s)
{
	const uint8_t *in = s->in;
	uint8_t *out = s->out;
	const uint32_t *lit = s->ws->lit, *dt = s->ws->dist;
	uint64_t bits = s->bits;
	unsigned nbits = s->nbits;
	size_t pos = s->pos, len = s->len;
	size_t in_end, out_end;
	const char *why = NULL;
	int ret = 0;

	if (s->in_len < 8 || s->cap < 258 + 8)
		return 0;
	in_end = s->in_len - 8;
	out_end = s->cap - 258 - 8;
	while (pos <= in_end && len <= out_end) {
		uint32_t e, n, sym, li, extra;
		size_t mlen, dist;

		if (nbits < 48) {
			bits |= lz_load64(in + pos) << nbits;
			pos += (63 - nbits) >> 3;
			nbits |= 56;
		}
		e = lit[bits & ((1u << LIT_ROOT) - 1)];
		if (e & ENT_LINK)
			e = lit[(e >> 8) + ((bits >> LIT_ROOT) & ((1u << (e & 15)) - 1))];
		n = e & 31;
		sym = e >> 8;
		bits >>= n;
		nbits -= n;
		if (sym < 256) {
			if (n == 0) {
				why = "invalid literal/length code";
				break;
			}
			out[len++] = (uint8_t)sym;
			continue;
		}
		if (sym == 256) {
			ret = 1;
			break;
		}
		li = sym - 257;
		if (li >= 29) {
			why = "invalid length code";
			break;
		}
		extra = len_extra[li];
		mlen = len_base[li] + (uint32_t)(bits & ((1u << extra) - 1));
		bits >>= extra;
		nbits -= extra;
		e = dt[bits & ((1u << DIST_ROOT) - 1)];
		if (e & ENT_LINK)
			e = dt[(e >> 8) + ((bits >> DIST_ROOT) & ((1u << (e & 15)) - 1))];
		n = e & 31;
		sym = e >> 8;
		if (n == 0 || sym >= 30) {
			why = "invalid distance code";
			break;
		}
		bits >>= n;
		nbits -= n;
		extra = dist_extra[sym];
		dist = dist_base[sym] + (uint32_t)(bits & ((1u << extra) - 1));
		bits >>= extra;
		nbits -= extra;
		if (dist > len) {
			why = "distance before the start of the output";
			break;
		}
		lz_copy_match(out, len, dist, mlen, s->cap);
		len += mlen;
	}
	s->bits = bits;
	s->nbits = nbits;
	s->pos = pos;
	s->len = len;
	return why ? corrupt(s, why) : ret;
}

/* The symbols of one Huffman-coded block, through end-of-block; near the
 * ends of the buffers one symbol at a time, with every check. */
static int inflate_codes(struct inflate *s)
{
	for (;;) {
		int sym, r;

		r = inflate_fast(s);
		if (r)
			return r < 0 ? r : 0;
		if (s->nbits < 48)
			refill(s);
		sym = decode(s, s->ws->lit, LIT_ROOT);
		if (sym < 256) {
			if (sym < 0)
				return corrupt(s, "invalid literal/length code");
			if (overran(s))
				return corrupt(s, "truncated block");
			if (s->len == s->cap)
				return no_space(s, s->len + 1);
			s->out[s->len++] = (uint8_t)sym;
			continue;
		}
		if (sym == 256)
			return overran(s) ? corrupt(s, "truncated block") : 0;
		r = do_match(s, sym);
		if (r)
			return r;
	}
}

/* Drop the bits to the next byte boundary and hand the whole bytes still in
 * the bit buffer back to the input. */
static void align_to_byte(struct inflate *s)
{
	unsigned drop = s->nbits & 7;

	s->bits >>= drop;
	s->nbits -= drop;
	s->pos = in_offset(s);
	s->bits = 0;
	s->nbits = 0;
	s->pad = 0;
}

static int inflate_stored(struct inflate *s)
{
	uint16_t len, nlen;

	align_to_byte(s);
	if (s->in_len - s->pos < 4)
		return corrupt(s, "truncated stored block header");
	len = get_le16(s->in + s->pos);
	nlen = get_le16(s->in + s->pos + 2);
	if ((len ^ nlen) != 0xffff)
		return corrupt(s, "stored block length check fails");
	s->pos += 4;
	if (s->in_len - s->pos < len)
		return corrupt(s, "truncated stored block");
	if (len > s->cap - s->len)
		return no_space(s, s->len + len);
	memcpy(s->out + s->len, s->in + s->pos, len);
	s->pos += len;
	s->len += len;
	return 0;
}

static int inflate_blocks(struct inflate *s)
{
	bool last;

	do {
		uint32_t type;
		int r;

		last = getbits(s, 1);
		type = getbits(s, 2);
		if (overran(s))
			return corrupt(s, "truncated stream");
		if (type == 0)
			r = inflate_stored(s);
		else if (type == 1)
			r = build_fixed(s);
		else if (type == 2)
			r = build_dynamic(s);
		else
			r = corrupt(s, "reserved block type 3");
		if (r == 0 && type != 0)
			r = inflate_codes(s);
		if (r)
			return r;
	} while (!last);
	align_to_byte(s);
	return 0;
}

/* Runs the deflate stream of @src from @start; *ret_end = the offset of
 * the byte after it. */
static int inflate_run(const void *src, size_t src_len, size_t start, void *dst,
		       size_t dst_cap, size_t *ret_len, size_t *ret_end)
{
	struct inflate s = {
		.in = src, .in_len = src_len, .pos = start, .out = dst, .cap = dst_cap,
	};
	int r;

	s.ws = plat_alloc(sizeof(*s.ws));
	if (!s.ws)
		return log_err(-VQ_ENOMEM, "inflate: no memory for %zu bytes of tables",
			       sizeof(*s.ws));
	r = inflate_blocks(&s);
	plat_free(s.ws);
	if (r)
		return r;
	*ret_len = s.len;
	*ret_end = s.pos;
	return 0;
}

int vq_inflate_raw(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len)
{
	size_t end;

	return inflate_run(src, src_len, 0, dst, dst_cap, ret_len, &end);
}

/* RFC 1950 §8.2; 5552 is the most bytes before the sums can overflow. */
uint32_t vq_adler32(uint32_t adler, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t a = adler & 0xffff, b = adler >> 16;

	while (len) {
		size_t n = VQ_MIN(len, (size_t)5552);

		len -= n;
		while (n--) {
			a += *p++;
			b += a;
		}
		a %= 65521;
		b %= 65521;
	}
	return (b << 16) | a;
}

int vq_inflate_zlib(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len)
{
	const uint8_t *in = src;
	size_t len, end;
	uint32_t want;
	int r;

	/* §2.2: CMF (CM 8, CINFO <= 7), FLG with FCHECK and FDICT. */
	if (src_len < 2)
		return log_err(-VQ_ECORRUPT, "zlib: truncated header at input offset 0");
	if ((in[0] & 0x0f) != 8 || (in[0] >> 4) > 7 || ((in[0] << 8) | in[1]) % 31)
		return log_err(-VQ_ECORRUPT, "zlib: bad header %02x %02x at input offset 0",
			       in[0], in[1]);
	if (in[1] & 0x20)
		return log_err(-VQ_ENOTSUP, "zlib: stream needs a preset dictionary");
	r = inflate_run(src, src_len, 2, dst, dst_cap, &len, &end);
	if (r)
		return r;
	if (src_len - end < 4)
		return log_err(-VQ_ECORRUPT, "zlib: truncated Adler-32 at input offset %zu", end);
	want = ((uint32_t)in[end] << 24) | ((uint32_t)in[end + 1] << 16) |
	       ((uint32_t)in[end + 2] << 8) | in[end + 3];
	if (vq_adler32(1, dst, len) != want)
		return log_err(-VQ_ECORRUPT, "zlib: Adler-32 %08x does not match %08x at input offset %zu",
			       vq_adler32(1, dst, len), want, end);
	*ret_len = len;
	return 0;
}
