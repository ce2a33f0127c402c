/* SPDX-License-Identifier: MIT */
/*
 * Zstandard decompression (RFC 8878; section names below are those of the
 * format document). Frames decode straight into the caller's buffer: the
 * output so far is the window. Per frame we keep the repeat offsets, the
 * last Huffman table and the three sequence tables, for the repeat and
 * treeless modes.
 *
 * Entropy-coded streams are read backwards through a 64-bit container
 * loaded from `ptr`, whose top `consumed` bits are used up. A stream
 * shorter than 8 bytes is loaded once into the low bytes, the zero bytes
 * above it counted as consumed; a stream is used up exactly when ptr == start and consumed ==
 * 64. Reads past the start give garbage that only the final check sees:
 * every value read is bounded before use, so garbage costs nothing.
 */
#include "lib/zstd.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/lzcopy.h"
#include "lib/plat.h"

#define ZSTD_MAGIC 0xFD2FB528u
#define SKIP_MAGIC 0x184D2A50u      /* low 4 bits are free */
#define BLOCK_MAX (128u << 10)
#define LIT_SLACK 32                /* literals buffer tail for 16-byte copies */

#define LL_MAX_SYM 35
#define ML_MAX_SYM 52
#define OF_MAX_SYM 31               /* offsets up to 2^32: more than any buffer */
#define LL_MAX_AL 9
#define ML_MAX_AL 9
#define OF_MAX_AL 8
#define HUF_MAX_BITS 11
#define HUFW_MAX_AL 6
#define HUFW_MAX_SYM 11             /* weights are 0..11 */

/* A sequence table entry: the code's baseline and extra bits folded in. */
struct seq_ent {
	uint32_t base;
	uint8_t extra;
	uint8_t nbits;
	uint16_t next;
};

struct fse_ent {
	uint8_t sym;
	uint8_t nbits;
	uint16_t next;
};

struct seq_table {
	struct seq_ent *t;
	unsigned al;
	bool valid;
};

struct zstd_ws {
	struct seq_ent ll[1 << LL_MAX_AL];
	struct seq_ent ml[1 << ML_MAX_AL];
	struct seq_ent of[1 << OF_MAX_AL];
	struct fse_ent fse[1 << LL_MAX_AL];   /* table being built */
	uint16_t huf[1 << HUF_MAX_BITS];      /* (symbol << 8) | code length */
	int16_t norm[ML_MAX_SYM + 1];
	uint16_t next[ML_MAX_SYM + 1];
	uint8_t weights[256];
	uint8_t lit[BLOCK_MAX + LIT_SLACK];
};

struct zstd {
	const uint8_t *src;
	size_t src_len;
	uint8_t *out;
	size_t cap;
	size_t pos;
	size_t frame_start;
	size_t block_max;
	struct zstd_ws *ws;
	unsigned huf_bits;                    /* 0: no Huffman table in this frame */
	struct seq_table ll, ml, of;
	size_t rep[3];
};

struct bwd {
	const uint8_t *start;
	const uint8_t *ptr;
	uint64_t container;
	unsigned consumed;
};

/* ---- the code tables (Sequences section, "The codes for ...") ------------ */

static const uint32_t ll_base[LL_MAX_SYM + 1] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
	16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024, 2048, 4096,
	8192, 16384, 32768, 65536,
};
static const uint8_t ll_extra[LL_MAX_SYM + 1] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12,
	13, 14, 15, 16,
};
static const uint32_t ml_base[ML_MAX_SYM + 1] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
	19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
	35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051,
	4099, 8195, 16387, 32771, 65539,
};
static const uint8_t ml_extra[ML_MAX_SYM + 1] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 7, 8, 9, 10, 11,
	12, 13, 14, 15, 16,
};

/* "Default Distributions" */
static const int16_t ll_default[36] = {
	4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
	2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1,
	-1, -1, -1, -1,
};
static const int16_t ml_default[53] = {
	1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1,
	-1, -1, -1, -1, -1,
};
static const int16_t of_default[29] = {
	1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1,
};

/* ---- errors ---------------------------------------------------------------- */

static size_t offset_of(const struct zstd *z, const uint8_t *p)
{
	return (size_t)(p - z->src);
}

static int corrupt(const struct zstd *z, const uint8_t *at, const char *why)
{
	return log_err(-VQ_ECORRUPT, "zstd: %s at input offset %zu", why, offset_of(z, at));
}

static int no_space(const struct zstd *z, const uint8_t *at, uint64_t need)
{
	return log_err(-VQ_ENOSPC,
		       "zstd: output needs %llu+ bytes, buffer holds %zu (input offset %zu)",
		       (unsigned long long)need, z->cap, offset_of(z, at));
}

static inline unsigned highbit32(uint32_t v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

/* ---- backward bit streams ------------------------------------------------- */

static int bwd_init(const struct zstd *z, struct bwd *b, const uint8_t *p, size_t n)
{
	if (n == 0 || p[n - 1] == 0)
		return corrupt(z, p + n - (n > 0), "bitstream without its end mark");
	b->start = p;
	if (n >= 8) {
		b->ptr = p + n - 8;
		b->container = lz_load64(b->ptr);
		b->consumed = 0;
	} else {
		b->ptr = p;
		b->container = 0;
		for (size_t i = 0; i < n; i++)
			b->container |= (uint64_t)p[i] << (8 * i);
		b->consumed = 8 * (unsigned)(8 - n);
	}
	/* Skip the zero padding and the 1 bit above the data. */
	b->consumed += (unsigned)__builtin_clz(p[n - 1]) - 24 + 1;
	return 0;
}

/* Afterwards consumed <= 7, or ptr == start. */
static inline void bwd_reload(struct bwd *b)
{
	size_t back = b->consumed >> 3;

	if (b->ptr - b->start >= 8) {
		b->ptr -= back;
	} else {
		size_t room = (size_t)(b->ptr - b->start);

		if (back > room)
			back = room;
		if (!back)
			return;
		b->ptr -= back;
	}
	b->consumed -= 8 * (unsigned)back;
	b->container = lz_load64(b->ptr);
}

/* @n <= 56 bits; the shifts stay defined whatever consumed is. */
static inline uint32_t bwd_peek(const struct bwd *b, unsigned n)
{
	return (uint32_t)(((b->container << (b->consumed & 63)) >> 1) >> (63 - n));
}

static inline uint32_t bwd_read(struct bwd *b, unsigned n)
{
	uint32_t v = bwd_peek(b, n);

	b->consumed += n;
	return v;
}

static inline bool bwd_done(struct bwd *b)
{
	bwd_reload(b);
	return b->ptr == b->start && b->consumed == 64;
}

static inline bool bwd_overflowed(const struct bwd *b)
{
	return b->ptr == b->start && b->consumed > 64;
}

/* ---- FSE tables ("FSE Table Description") --------------------------------- */

/* Up to 16 bits of a forward little-endian bit stream; zeros past the end. */
static uint32_t fwd_peek(const uint8_t *p, size_t len, size_t bitpos, unsigned n)
{
	uint32_t v = 0;
	size_t i = bitpos >> 3;

	for (unsigned k = 0; k < 4 && i + k < len; k++)
		v |= (uint32_t)p[i + k] << (8 * k);
	return (v >> (bitpos & 7)) & ((1u << n) - 1);
}

/* A normalized distribution from @p into ws->norm; *ret_used bytes read. */
static int read_fse_dist(struct zstd *z, const uint8_t *p, size_t len, unsigned max_al,
			 unsigned max_sym, unsigned *ret_al, unsigned *ret_nsym, size_t *ret_used)
{
	int16_t *norm = z->ws->norm;
	unsigned al, s = 0;
	size_t bp = 4;
	int left;

	if (len == 0)
		return corrupt(z, p, "missing FSE table");
	al = (p[0] & 15u) + 5;
	if (al > max_al)
		return corrupt(z, p, "FSE accuracy log too large");
	left = 1 << al;
	while (left > 0) {
		uint32_t r = (uint32_t)left + 1, t = highbit32(r) + 1;
		uint32_t lower = (1u << t) - 1 - r, v;
		int prob;

		if (s > max_sym)
			return corrupt(z, p, "FSE table has too many symbols");
		v = fwd_peek(p, len, bp, t - 1);
		if (v < lower) {
			bp += t - 1;
		} else {
			v = fwd_peek(p, len, bp, t);
			if (v >= (1u << (t - 1)))
				v -= lower;
			bp += t;
		}
		prob = (int)v - 1;
		norm[s++] = (int16_t)prob;
		left -= prob < 0 ? 1 : prob;
		if (prob == 0) {
			uint32_t rep;

			do {
				rep = fwd_peek(p, len, bp, 2);
				bp += 2;
				if (rep > max_sym + 1 - s)
					return corrupt(z, p, "FSE zero run past the last symbol");
				for (uint32_t i = 0; i < rep; i++)
					norm[s++] = 0;
			} while (rep == 3 && bp <= len * 8);
		}
		if (bp > len * 8)
			return corrupt(z, p, "truncated FSE table");
	}
	*ret_al = al;
	*ret_nsym = s;
	*ret_used = (bp + 7) / 8;
	return 0;
}

/* "From normalized distribution to decoding tables", into ws->fse. */
static int build_fse(struct zstd *z, const uint8_t *at, const int16_t *norm,
		     unsigned nsym, unsigned al)
{
	struct fse_ent *t = z->ws->fse;
	uint16_t *next = z->ws->next;
	unsigned ts = 1u << al, step = (ts >> 1) + (ts >> 3) + 3, mask = ts - 1, pos = 0;
	int high = (int)ts - 1;

	for (unsigned s = 0; s < nsym; s++) {
		if (norm[s] == -1) {
			if (high < 0)
				return corrupt(z, at, "FSE table overfull");
			t[high--].sym = (uint8_t)s;
			next[s] = 1;
		} else {
			next[s] = (uint16_t)norm[s];
		}
	}
	for (unsigned s = 0; s < nsym; s++) {
		for (int i = 0; i < norm[s]; i++) {
			t[pos].sym = (uint8_t)s;
			do
				pos = (pos + step) & mask;
			while ((int)pos > high);
		}
	}
	if (pos != 0)
		return corrupt(z, at, "FSE table does not fill its states");
	for (unsigned u = 0; u < ts; u++) {
		unsigned x = next[t[u].sym]++;
		unsigned nb = al - highbit32(x);

		t[u].nbits = (uint8_t)nb;
		t[u].next = (uint16_t)((x << nb) - ts);
	}
	return 0;
}

/* ws->fse into a sequence table, with each code's baseline and extra bits. */
static void fse_to_seq(struct zstd *z, struct seq_table *st, unsigned al,
		       const uint32_t *base, const uint8_t *extra)
{
	for (unsigned u = 0; u < (1u << al); u++) {
		const struct fse_ent *f = &z->ws->fse[u];
		struct seq_ent *e = &st->t[u];

		e->base = base ? base[f->sym] : 1u << f->sym;
		e->extra = extra ? extra[f->sym] : f->sym;
		e->nbits = f->nbits;
		e->next = f->next;
	}
	st->al = al;
	st->valid = true;
}

/* One of the three tables of a Sequences section header, by @mode; *ret_used
 * bytes of @p read. */
static int read_seq_table(struct zstd *z, struct seq_table *st, unsigned mode,
			  const uint8_t *p, const uint8_t *end, const int16_t *def,
			  unsigned def_nsym, unsigned def_al, unsigned max_sym, unsigned max_al,
			  const uint32_t *base, const uint8_t *extra, size_t *ret_used)
{
	unsigned al, nsym;
	int r;

	*ret_used = 0;
	switch (mode) {
	case 0:         /* Predefined_Mode */
		r = build_fse(z, p, def, def_nsym, def_al);
		if (r)
			return r;
		fse_to_seq(z, st, def_al, base, extra);
		return 0;
	case 1:         /* RLE_Mode */
		if (p >= end)
			return corrupt(z, p, "truncated RLE sequence table");
		if (*p > max_sym)
			return corrupt(z, p, "RLE sequence code out of range");
		z->ws->fse[0] = (struct fse_ent){ .sym = *p };
		fse_to_seq(z, st, 0, base, extra);
		*ret_used = 1;
		return 0;
	case 2:         /* FSE_Compressed_Mode */
		r = read_fse_dist(z, p, (size_t)(end - p), max_al, max_sym, &al, &nsym, ret_used);
		if (r == 0)
			r = build_fse(z, p, z->ws->norm, nsym, al);
		if (r)
			return r;
		fse_to_seq(z, st, al, base, extra);
		return 0;
	default:        /* Repeat_Mode */
		if (!st->valid)
			return corrupt(z, p, "repeat mode with no previous sequence table");
		return 0;
	}
}

/* ---- literals (Literals section, Huffman coding) -------------------------- */

/* The weights of a Huffman tree description compressed with FSE. */
static int read_fse_weights(struct zstd *z, const uint8_t *p, size_t csize, unsigned *ret_n)
{
	const struct fse_ent *t = z->ws->fse;
	uint8_t *w = z->ws->weights;
	unsigned al, nsym, n = 0, s1, s2;
	size_t used;
	struct bwd b;
	int r;

	r = read_fse_dist(z, p, csize, HUFW_MAX_AL, HUFW_MAX_SYM, &al, &nsym, &used);
	if (r == 0)
		r = build_fse(z, p, z->ws->norm, nsym, al);
	if (r == 0)
		r = bwd_init(z, &b, p + used, csize - used);
	if (r)
		return r;
	s1 = bwd_read(&b, al);
	s2 = bwd_read(&b, al);
	bwd_reload(&b);
	if (bwd_overflowed(&b))
		return corrupt(z, p, "truncated Huffman weights");
	/* Two states take turns; the stream ends when an update runs past its
	 * start, and the other state's symbol is the last weight. */
	for (;;) {
		/* At most 3 weights an iteration, 255 in all. */
		if (n > 252)
			return corrupt(z, p, "too many Huffman weights");
		w[n++] = t[s1].sym;
		s1 = t[s1].next + bwd_read(&b, t[s1].nbits);
		bwd_reload(&b);
		if (bwd_overflowed(&b)) {
			w[n++] = t[s2].sym;
			break;
		}
		w[n++] = t[s2].sym;
		s2 = t[s2].next + bwd_read(&b, t[s2].nbits);
		bwd_reload(&b);
		if (bwd_overflowed(&b)) {
			w[n++] = t[s1].sym;
			break;
		}
	}
	*ret_n = n;
	return 0;
}

/* Weights (the last one implied) into the decoding table ws->huf. */
static int build_huffman(struct zstd *z, const uint8_t *at, unsigned nw)
{
	uint8_t *w = z->ws->weights;
	uint32_t sum = 0, rest;
	unsigned bits, ones = 0, pos = 0;

	for (unsigned i = 0; i < nw; i++) {
		if (w[i] > HUF_MAX_BITS)
			return corrupt(z, at, "Huffman weight out of range");
		if (w[i])
			sum += 1u << (w[i] - 1);
	}
	if (sum == 0)
		return corrupt(z, at, "Huffman tree without weights");
	bits = highbit32(sum) + 1;
	if (bits > HUF_MAX_BITS)
		return corrupt(z, at, "Huffman tree too deep");
	rest = (1u << bits) - sum;
	if (rest & (rest - 1))
		return corrupt(z, at, "Huffman weights do not complete to a power of 2");
	w[nw++] = (uint8_t)(highbit32(rest) + 1);
	for (unsigned i = 0; i < nw; i++)
		ones += w[i] == 1;
	if (ones < 2 || (ones & 1))
		return corrupt(z, at, "Huffman weights without an even number of weight 1");
	/* Lowest weight (longest code) first, then by symbol: ascending codes. */
	for (unsigned wt = 1; wt <= bits; wt++) {
		for (unsigned s = 0; s < nw; s++) {
			uint16_t e = (uint16_t)((s << 8) | (bits + 1 - wt));

			if (w[s] != wt)
				continue;
			for (unsigned k = 0; k < (1u << (wt - 1)); k++)
				z->ws->huf[pos++] = e;
		}
	}
	z->huf_bits = bits;
	return 0;
}

static int read_huffman_tree(struct zstd *z, const uint8_t *p, size_t avail, size_t *ret_used)
{
	unsigned hb, nw = 0;
	int r;

	if (avail == 0)
		return corrupt(z, p, "missing Huffman tree");
	hb = p[0];
	if (hb >= 128) {
		size_t bytes;

		nw = hb - 127;
		bytes = (nw + 1) / 2;
		if (bytes > avail - 1)
			return corrupt(z, p, "truncated Huffman weights");
		for (unsigned i = 0; i < nw; i++)
			z->ws->weights[i] = (i & 1) ? (p[1 + i / 2] & 15) : (p[1 + i / 2] >> 4);
		*ret_used = 1 + bytes;
	} else {
		if (hb == 0 || hb > avail - 1)
			return corrupt(z, p, "truncated Huffman weights");
		r = read_fse_weights(z, p + 1, hb, &nw);
		if (r)
			return r;
		*ret_used = 1 + hb;
	}
	return build_huffman(z, p, nw);
}

/* One Huffman-coded stream of @n bytes into @count bytes of @out. */
static int huffman_stream(struct zstd *z, const uint8_t *p, size_t n, uint8_t *out, size_t count)
{
	const uint16_t *t = z->ws->huf;
	unsigned bits = z->huf_bits;
	uint8_t *end = out + count;
	struct bwd b;
	int r = bwd_init(z, &b, p, n);

	if (r)
		return r;
	/* 4 codes of at most 11 bits fit the 57 bits a reload leaves. */
	while (end - out >= 4) {
		bwd_reload(&b);
		for (int k = 0; k < 4; k++) {
			uint16_t e = t[bwd_peek(&b, bits)];

			*out++ = (uint8_t)(e >> 8);
			b.consumed += e & 15;
		}
	}
	while (out < end) {
		uint16_t e;

		bwd_reload(&b);
		e = t[bwd_peek(&b, bits)];
		*out++ = (uint8_t)(e >> 8);
		b.consumed += e & 15;
	}
	if (!bwd_done(&b))
		return corrupt(z, p, "Huffman stream not used up exactly");
	return 0;
}

static int huffman_streams(struct zstd *z, const uint8_t *p, size_t n, bool four,
			   uint8_t *out, size_t regen)
{
	size_t sz[4], seg = (regen + 3) / 4;
	int r;

	if (!four)
		return huffman_stream(z, p, n, out, regen);
	if (n < 6 + 1 || 3 * seg > regen)
		return corrupt(z, p, "4 Huffman streams do not fit");
	sz[0] = get_le16(p);
	sz[1] = get_le16(p + 2);
	sz[2] = get_le16(p + 4);
	if (sz[0] + sz[1] + sz[2] + 6 + 1 > n)
		return corrupt(z, p, "Huffman jump table beyond the literals");
	sz[3] = n - 6 - sz[0] - sz[1] - sz[2];
	p += 6;
	for (int i = 0; i < 4; i++) {
		size_t count = i < 3 ? seg : regen - 3 * seg;

		r = huffman_stream(z, p, sz[i], out, count);
		if (r)
			return r;
		p += sz[i];
		out += count;
	}
	return 0;
}

/* The Literals section at @p into ws->lit; *ret_used bytes, *ret_n literals. */
static int read_literals(struct zstd *z, const uint8_t *p, const uint8_t *end,
			 size_t *ret_used, size_t *ret_n)
{
	size_t avail = (size_t)(end - p), hdr, regen, csize = 0, tree = 0;
	unsigned type, sf;
	uint64_t v;
	int r;

	if (avail < 1)
		return corrupt(z, p, "missing literals section");
	type = p[0] & 3;
	sf = (p[0] >> 2) & 3;
	if (type < 2) {
		hdr = sf == 3 ? 3 : sf == 1 ? 2 : 1;
	} else {
		hdr = sf < 2 ? 3 : sf + 2;
	}
	if (avail < hdr)
		return corrupt(z, p, "truncated literals header");
	v = 0;
	for (size_t i = 0; i < hdr; i++)
		v |= (uint64_t)p[i] << (8 * i);
	if (type < 2) {
		regen = (sf & 1) ? (size_t)(v >> 4) : (size_t)(v >> 3);
	} else {
		unsigned w = hdr == 3 ? 10 : hdr == 4 ? 14 : 18;

		regen = (size_t)((v >> 4) & ((1u << w) - 1));
		csize = (size_t)((v >> (4 + w)) & ((1u << w) - 1));
	}
	if (regen > z->block_max)
		return corrupt(z, p, "literals larger than a block");
	p += hdr;
	avail -= hdr;
	switch (type) {
	case 0:
		if (regen > avail)
			return corrupt(z, p, "truncated raw literals");
		memcpy(z->ws->lit, p, regen);
		*ret_used = hdr + regen;
		break;
	case 1:
		if (avail < 1)
			return corrupt(z, p, "truncated RLE literals");
		memset(z->ws->lit, p[0], regen);
		*ret_used = hdr + 1;
		break;
	default:
		if (csize > avail)
			return corrupt(z, p, "truncated Huffman literals");
		if (type == 2) {
			r = read_huffman_tree(z, p, csize, &tree);
			if (r)
				return r;
		} else if (!z->huf_bits) {
			return corrupt(z, p, "treeless literals with no previous Huffman tree");
		}
		r = huffman_streams(z, p + tree, csize - tree, sf != 0, z->ws->lit, regen);
		if (r)
			return r;
		*ret_used = hdr + csize;
		break;
	}
	*ret_n = regen;
	return 0;
}

/* ---- sequences (Sequences section, Sequence execution) -------------------- */

static int read_seq_header(struct zstd *z, const uint8_t *p, const uint8_t *end,
			   size_t *ret_nseq, const uint8_t **ret_p)
{
	size_t avail = (size_t)(end - p), nseq;
	unsigned modes;
	size_t used;
	int r;

	if (avail < 1)
		return corrupt(z, p, "missing sequences section");
	if (p[0] < 128) {
		nseq = p[0];
		p += 1;
	} else if (p[0] < 255) {
		if (avail < 2)
			return corrupt(z, p, "truncated sequences header");
		nseq = ((size_t)(p[0] - 128) << 8) + p[1];
		p += 2;
	} else {
		if (avail < 3)
			return corrupt(z, p, "truncated sequences header");
		nseq = p[1] + ((size_t)p[2] << 8) + 0x7F00;
		p += 3;
	}
	*ret_nseq = nseq;
	if (nseq == 0) {
		*ret_p = p;
		return p == end ? 0 : corrupt(z, p, "data after an empty sequences section");
	}
	if (p >= end)
		return corrupt(z, p, "truncated sequences header");
	modes = *p++;
	if (modes & 3)
		return corrupt(z, p - 1, "reserved bits set in the sequence modes");
	r = read_seq_table(z, &z->ll, modes >> 6, p, end, ll_default, 36, 6, LL_MAX_SYM,
			   LL_MAX_AL, ll_base, ll_extra, &used);
	if (r)
		return r;
	p += used;
	r = read_seq_table(z, &z->of, (modes >> 4) & 3, p, end, of_default, 29, 5, OF_MAX_SYM,
			   OF_MAX_AL, NULL, NULL, &used);
	if (r)
		return r;
	p += used;
	r = read_seq_table(z, &z->ml, (modes >> 2) & 3, p, end, ml_default, 53, 6, ML_MAX_SYM,
			   ML_MAX_AL, ml_base, ml_extra, &used);
	if (r)
		return r;
	*ret_p = p + used;
	return 0;
}

/* "Repeat offsets": the offset that offset_value @ov names, and the update. */
static inline size_t resolve_offset(size_t *rep, uint32_t ov, size_t ll)
{
	size_t off;
	unsigned idx;

	if (ov > 3) {
		off = ov - 3;
		rep[2] = rep[1];
		rep[1] = rep[0];
		rep[0] = off;
		return off;
	}
	idx = ov - 1 + (ll == 0);
	if (idx == 0)
		return rep[0];
	off = idx == 3 ? rep[0] - 1 : rep[idx];
	if (idx > 1)
		rep[2] = rep[1];
	rep[1] = rep[0];
	rep[0] = off;
	return off;
}

/* Literals then a match into the output, everything checked. */
static inline int exec_seq(struct zstd *z, const uint8_t *at, const uint8_t **lp,
			   const uint8_t *lend, size_t ll, size_t off, size_t ml)
{
	uint8_t *out = z->out;
	size_t pos = z->pos;

	if (ll > (size_t)(lend - *lp))
		return corrupt(z, at, "sequence runs past the literals");
	if (ll + ml > z->cap - pos)
		return no_space(z, at, (uint64_t)pos + ll + ml);
	/* The literals buffer has LIT_SLACK bytes after its end. */
	if (ll <= 16 && z->cap - pos >= 16) {
		lz_store64(out + pos, lz_load64(*lp));
		lz_store64(out + pos + 8, lz_load64(*lp + 8));
	} else {
		memcpy(out + pos, *lp, ll);
	}
	*lp += ll;
	pos += ll;
	if (off == 0 || off > pos - z->frame_start)
		return corrupt(z, at, "match offset before the start of the frame");
	lz_copy_match(out, pos, off, ml, z->cap);
	z->pos = pos + ml;
	return 0;
}

static int decode_sequences(struct zstd *z, const uint8_t *p, const uint8_t *end,
			    size_t nseq, size_t nlit)
{
	const struct seq_ent *llt = z->ll.t, *mlt = z->ml.t, *oft = z->of.t;
	const uint8_t *lp = z->ws->lit, *lend = lp + nlit;
	unsigned lls, mls, ofs;
	struct bwd b;
	int r = bwd_init(z, &b, p, (size_t)(end - p));

	if (r)
		return r;
	lls = bwd_read(&b, z->ll.al);
	ofs = bwd_read(&b, z->of.al);
	mls = bwd_read(&b, z->ml.al);
	for (size_t i = 0; i < nseq; i++) {
		const struct seq_ent *le = &llt[lls], *me = &mlt[mls], *oe = &oft[ofs];
		uint32_t ov;
		size_t ml, ll, off;

		/* Offset (<= 31 bits) and match length (<= 16) after a reload,
		 * then the literals length (<= 16) and 3 states (<= 26). */
		bwd_reload(&b);
		ov = oe->base + bwd_read(&b, oe->extra);
		ml = me->base + bwd_read(&b, me->extra);
		bwd_reload(&b);
		ll = le->base + bwd_read(&b, le->extra);
		if (i + 1 < nseq) {
			lls = le->next + bwd_read(&b, le->nbits);
			mls = me->next + bwd_read(&b, me->nbits);
			ofs = oe->next + bwd_read(&b, oe->nbits);
		}
		off = resolve_offset(z->rep, ov, ll);
		r = exec_seq(z, p, &lp, lend, ll, off, ml);
		if (r)
			return r;
	}
	if (!bwd_done(&b))
		return corrupt(z, p, "sequences bitstream not used up exactly");
	if ((size_t)(lend - lp) > z->cap - z->pos)
		return no_space(z, p, (uint64_t)z->pos + (size_t)(lend - lp));
	memcpy(z->out + z->pos, lp, (size_t)(lend - lp));
	z->pos += (size_t)(lend - lp);
	return 0;
}

static int compressed_block(struct zstd *z, const uint8_t *p, size_t size)
{
	const uint8_t *end = p + size, *sp = p;
	size_t used = 0, nlit = 0, nseq = 0, start = z->pos;
	int r;

	r = read_literals(z, p, end, &used, &nlit);
	if (r)
		return r;
	r = read_seq_header(z, p + used, end, &nseq, &sp);
	if (r)
		return r;
	if (nseq == 0) {
		if (nlit > z->cap - z->pos)
			return no_space(z, p, (uint64_t)z->pos + nlit);
		memcpy(z->out + z->pos, z->ws->lit, nlit);
		z->pos += nlit;
	} else {
		r = decode_sequences(z, sp, end, nseq, nlit);
		if (r)
			return r;
	}
	if (z->pos - start > z->block_max)
		return corrupt(z, p, "block decodes to more than the block maximum");
	return 0;
}

/* ---- frames ("Zstandard frames", "Skippable frames") ---------------------- */

struct frame_header {
	uint64_t content_size;   /* UINT64_MAX: not given */
	uint64_t window;
	bool checksum;
	size_t len;
};

static int read_frame_header(struct zstd *z, const uint8_t *p, size_t avail,
			     struct frame_header *fh)
{
	static const uint8_t fcs_bytes[4] = { 0, 2, 4, 8 };
	static const uint8_t did_bytes[4] = { 0, 1, 2, 4 };
	unsigned fhd, single, nd, nf;
	size_t n = 1;
	uint64_t v = 0;

	if (avail < 1)
		return corrupt(z, p, "truncated frame header");
	fhd = p[0];
	single = (fhd >> 5) & 1;
	if (fhd & 0x08)
		return corrupt(z, p, "reserved bit set in the frame header");
	nd = did_bytes[fhd & 3];
	nf = fcs_bytes[fhd >> 6];
	if (nf == 0 && single)
		nf = 1;
	if (avail < 1 + !single + nd + nf)
		return corrupt(z, p, "truncated frame header");
	fh->window = 0;
	if (!single) {
		unsigned e = p[1] >> 3, m = p[1] & 7;
		uint64_t base = 1ull << (10 + e);

		fh->window = base + (base / 8) * m;
		n++;
	}
	for (unsigned i = 0; i < nd; i++)
		v |= (uint64_t)p[n + i] << (8 * i);
	if (v != 0)
		return log_err(-VQ_ENOTSUP, "zstd: frame needs dictionary %llu (input offset %zu)",
			       (unsigned long long)v, offset_of(z, p));
	n += nd;
	v = 0;
	for (unsigned i = 0; i < nf; i++)
		v |= (uint64_t)p[n + i] << (8 * i);
	if (nf == 2)
		v += 256;
	fh->content_size = nf ? v : UINT64_MAX;
	if (single)
		fh->window = v;
	fh->checksum = (fhd >> 2) & 1;
	fh->len = n + nf;
	return 0;
}

static int frame_blocks(struct zstd *z, const uint8_t *p, const uint8_t *end, const uint8_t **ret_p)
{
	bool last;

	do {
		uint32_t bh, type, size;
		int r = 0;

		if (end - p < 3)
			return corrupt(z, p, "truncated block header");
		bh = p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
		last = bh & 1;
		type = (bh >> 1) & 3;
		size = bh >> 3;
		if (type == 3)
			return corrupt(z, p, "reserved block type");
		/* Block_Maximum_Size bounds what a block decodes to; the input
		 * of a compressed block is held to 128 KiB only (a tiny frame's
		 * window is its content size, which its encoding may exceed). */
		if (size > (type == 2 ? BLOCK_MAX : z->block_max))
			return corrupt(z, p, "block larger than the block maximum");
		p += 3;
		if ((size_t)(end - p) < (type == 1 ? 1 : size))
			return corrupt(z, p, "truncated block");
		if (type != 2 && size > z->cap - z->pos)
			return no_space(z, p, (uint64_t)z->pos + size);
		if (type == 0) {
			memcpy(z->out + z->pos, p, size);
			z->pos += size;
		} else if (type == 1) {
			memset(z->out + z->pos, p[0], size);
			z->pos += size;
			size = 1;
		} else {
			r = compressed_block(z, p, size);
		}
		if (r)
			return r;
		p += size;
	} while (!last);
	*ret_p = p;
	return 0;
}

static int zstd_frame(struct zstd *z, const uint8_t *p, const uint8_t *end, const uint8_t **ret_p)
{
	const uint8_t *start = p;
	struct frame_header fh = { 0 };
	int r;

	r = read_frame_header(z, p, (size_t)(end - p), &fh);
	if (r)
		return r;
	p += fh.len;
	if (fh.content_size != UINT64_MAX && fh.content_size > z->cap - z->pos)
		return no_space(z, p, (uint64_t)z->pos + fh.content_size);
	z->frame_start = z->pos;
	z->block_max = (size_t)VQ_MIN(fh.window, (uint64_t)BLOCK_MAX);
	z->huf_bits = 0;
	z->ll.valid = z->ml.valid = z->of.valid = false;
	z->rep[0] = 1;
	z->rep[1] = 4;
	z->rep[2] = 8;
	r = frame_blocks(z, p, end, &p);
	if (r)
		return r;
	if (fh.content_size != UINT64_MAX && fh.content_size != z->pos - z->frame_start)
		return corrupt(z, start, "frame content size does not match its blocks");
	if (fh.checksum) {
		uint32_t want, got;

		if (end - p < 4)
			return corrupt(z, p, "truncated content checksum");
		want = get_le32(p);
		got = (uint32_t)vq_xxh64(z->out + z->frame_start, z->pos - z->frame_start, 0);
		if (want != got)
			return log_err(-VQ_ECORRUPT,
				       "zstd: content checksum %08x does not match %08x at input offset %zu",
				       got, want, offset_of(z, p));
		p += 4;
	}
	*ret_p = p;
	return 0;
}

/* Nothing but zero bytes from @p to @end. */
static bool zero_tail(const uint8_t *p, const uint8_t *end)
{
	while (p < end && *p == 0)
		p++;
	return p == end;
}

static int zstd_frames(struct zstd *z)
{
	const uint8_t *p = z->src, *end = z->src + z->src_len;

	if (p == end)
		return corrupt(z, p, "no frame");
	while (p < end) {
		uint32_t magic;
		int r;

		/* btrfs pads a compressed extent with zeros to its sector size;
		 * no frame starts with a zero byte. */
		if (p > z->src && zero_tail(p, end))
			break;

		if (end - p < 4)
			return corrupt(z, p, "truncated frame magic");
		magic = get_le32(p);
		if ((magic & ~15u) == SKIP_MAGIC) {
			uint32_t n;

			if (end - p < 8)
				return corrupt(z, p, "truncated skippable frame");
			n = get_le32(p + 4);
			if (n > (size_t)(end - p) - 8)
				return corrupt(z, p, "skippable frame beyond the input");
			p += 8 + (size_t)n;
			continue;
		}
		if (magic != ZSTD_MAGIC)
			return corrupt(z, p, "not a zstd frame");
		r = zstd_frame(z, p + 4, end, &p);
		if (r)
			return r;
	}
	return 0;
}

int vq_zstd_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len)
{
	struct zstd z = { .src = src, .src_len = src_len, .out = dst, .cap = dst_cap };
	int r;

	z.ws = plat_alloc(sizeof(*z.ws));
	if (!z.ws)
		return log_err(-VQ_ENOMEM, "zstd: no memory for %zu bytes of tables",
			       sizeof(*z.ws));
	z.ll.t = z.ws->ll;
	z.ml.t = z.ws->ml;
	z.of.t = z.ws->of;
	r = zstd_frames(&z);
	plat_free(z.ws);
	if (r)
		return r;
	*ret_len = z.pos;
	return 0;
}

/* ---- XXH64 (the xxHash specification) ------------------------------------- */

#define P64_1 0x9E3779B185EBCA87ull
#define P64_2 0xC2B2AE3D27D4EB4Full
#define P64_3 0x165667B19E3779F9ull
#define P64_4 0x85EBCA77C2B2AE63ull
#define P64_5 0x27D4EB2F165667C5ull

static inline uint64_t rotl64(uint64_t v, unsigned r)
{
	return (v << r) | (v >> (64 - r));
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t lane)
{
	return rotl64(acc + lane * P64_2, 31) * P64_1;
}

static inline uint64_t xxh_merge(uint64_t h, uint64_t v)
{
	return (h ^ xxh_round(0, v)) * P64_1 + P64_4;
}

uint64_t vq_xxh64(const void *buf, size_t len, uint64_t seed)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v1 = seed + P64_1 + P64_2, v2 = seed + P64_2, v3 = seed, v4 = seed - P64_1;

		do {
			v1 = xxh_round(v1, lz_load64(p));
			v2 = xxh_round(v2, lz_load64(p + 8));
			v3 = xxh_round(v3, lz_load64(p + 16));
			v4 = xxh_round(v4, lz_load64(p + 24));
			p += 32;
		} while (end - p >= 32);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else {
		h = seed + P64_5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rotl64(h ^ xxh_round(0, lz_load64(p)), 27) * P64_1 + P64_4;
	if (end - p >= 4) {
		h = rotl64(h ^ ((uint64_t)lz_load32(p) * P64_1), 23) * P64_2 + P64_3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ (*p * P64_5), 11) * P64_1;
	h ^= h >> 33;
	h *= P64_2;
	h ^= h >> 29;
	h *= P64_3;
	h ^= h >> 32;
	return h;
}
