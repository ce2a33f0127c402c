/* SPDX-License-Identifier: MIT */
/*
 * The decompressors btrfs reads compressed extents with, on streams the
 * real tools wrote (tests/unit/images/mk_decomp.sh, listed in its
 * manifest): every byte and the length checked, a buffer one byte short
 * refused, every truncation of the small streams refused, flipped bytes
 * never crashing, and hand-made streams that break one rule each.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "lib/inflate.h"
#include "lib/lzo.h"
#include "lib/zstd.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"

typedef int (*decomp_fn)(const void *src, size_t src_len, void *dst, size_t dst_cap,
			 size_t *ret_len);

struct codec {
	const char *name;     /* as in the manifest */
	decomp_fn fn;
	int min_streams;      /* the manifest must list at least this many */
	int flip_fail_pct;    /* flipped bytes of a checksummed stream fail this often */
};

static const struct codec codec_zlib = { "zlib", vq_inflate_zlib, 90, 95 };
static const struct codec codec_deflate = { "deflate", vq_inflate_raw, 20, 20 };
static const struct codec codec_zstd = { "zstd", vq_zstd_decompress, 80, 70 };
static const struct codec codec_lzo = { "lzo", vq_lzo1x_decompress, 40, 20 };

struct stream {
	char comp[160];
	char orig[160];
};

/* The manifest's streams of @codec; *ret_n of them. */
static struct stream *load_manifest(const char *codec, int *ret_n)
{
	FILE *f = fopen(test_image("decomp/manifest"), "r");
	struct stream *v = NULL;
	char c[32], a[128], b[128];
	int n = 0;

	assert_non_null(f);
	while (fscanf(f, "%31s %127s %127s", c, a, b) == 3) {
		if (strcmp(c, codec))
			continue;
		v = realloc(v, sizeof(*v) * (size_t)(n + 1));
		assert_non_null(v);
		snprintf(v[n].comp, sizeof(v[n].comp), "decomp/%s", a);
		snprintf(v[n].orig, sizeof(v[n].orig), "decomp/%s", b);
		n++;
	}
	fclose(f);
	*ret_n = n;
	return v;
}

static void *slurp(const char *name, size_t *ret_size)
{
	return test_slurp(test_image(name), ret_size);
}

/* Output into a buffer of exactly @cap bytes, so ASan sees any overrun. */
static int run(const struct codec *c, const void *src, size_t n, size_t cap,
	       uint8_t **ret_out, size_t *ret_len)
{
	uint8_t *out = malloc(cap ? cap : 1);
	int r;

	assert_non_null(out);
	*ret_len = (size_t)-1;
	r = c->fn(src, n, out, cap, ret_len);
	if (ret_out)
		*ret_out = out;
	else
		free(out);
	return r;
}

/* Every stream: right bytes and length in an exact and a roomy buffer,
 * -VQ_ENOSPC one byte short. */
static void test_streams(void **state)
{
	const struct codec *c = *state;
	int n;
	struct stream *v = load_manifest(c->name, &n);

	assert_true(n >= c->min_streams);
	for (int i = 0; i < n; i++) {
		size_t clen, olen, len;
		uint8_t *comp = slurp(v[i].comp, &clen);
		uint8_t *orig = slurp(v[i].orig, &olen);
		uint8_t *out;
		int r;

		r = run(c, comp, clen, olen, &out, &len);
		if (r != 0 || len != olen || memcmp(out, orig, olen))
			fail_msg("%s: r=%d len=%zu, want %zu bytes", v[i].comp, r, len, olen);
		free(out);
		r = run(c, comp, clen, olen + 4096, &out, &len);
		if (r != 0 || len != olen || memcmp(out, orig, olen))
			fail_msg("%s (roomy buffer): r=%d len=%zu", v[i].comp, r, len);
		free(out);
		if (olen > 0) {
			r = run(c, comp, clen, olen - 1, NULL, &len);
			if (r != -VQ_ENOSPC || len != (size_t)-1)
				fail_msg("%s: r=%d with %zu bytes of room", v[i].comp, r, olen - 1);
		}
		free(comp);
		free(orig);
	}
	free(v);
}

/* The small single-frame streams: every proper prefix is refused. */
static bool small_stream(const struct stream *s)
{
	return strstr(s->orig, "/hello.in") || strstr(s->orig, "/one.in") ||
	       strstr(s->orig, "/empty.in") || strstr(s->orig, "/page.in");
}

static void test_truncations(void **state)
{
	const struct codec *c = *state;
	int n, tried = 0;
	struct stream *v = load_manifest(c->name, &n);

	for (int i = 0; i < n; i++) {
		size_t clen, olen, len;
		uint8_t *comp, *orig;

		if (!small_stream(&v[i]))
			continue;
		comp = slurp(v[i].comp, &clen);
		orig = slurp(v[i].orig, &olen);
		for (size_t k = 0; k < clen; k++) {
			/* A copy of exactly k bytes: reading past it is an ASan error. */
			uint8_t *cut = malloc(k ? k : 1);
			int r;

			memcpy(cut, comp, k);
			r = run(c, cut, k, olen, NULL, &len);
			if (r != -VQ_ECORRUPT)
				fail_msg("%s cut to %zu of %zu bytes: r=%d", v[i].comp, k, clen, r);
			free(cut);
			tried++;
		}
		free(comp);
		free(orig);
	}
	assert_true(tried > 100);
	free(v);
}

/* Flipped bits and bytes anywhere in the small streams: no crash, no
 * overrun, a length within the buffer, and mostly a refusal. */
static void test_flips(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x10, 0x80, 0xff };
	const struct codec *c = *state;
	int n, tried = 0, failed = 0;
	struct stream *v = load_manifest(c->name, &n);

	for (int i = 0; i < n; i++) {
		size_t clen, olen, len;
		uint8_t *comp, *orig;

		if (!small_stream(&v[i]))
			continue;
		comp = slurp(v[i].comp, &clen);
		orig = slurp(v[i].orig, &olen);
		for (size_t k = 0; k < clen; k++) {
			for (size_t m = 0; m < ARRAY_SIZE(masks); m++) {
				int r;

				comp[k] ^= masks[m];
				r = run(c, comp, clen, 2 * olen + 64, NULL, &len);
				comp[k] ^= masks[m];
				tried++;
				if (r == 0) {
					assert_true(len <= 2 * olen + 64);
					continue;
				}
				if (r != -VQ_ECORRUPT && r != -VQ_ENOSPC && r != -VQ_ENOTSUP)
					fail_msg("%s byte %zu ^ %02x: r=%d", v[i].comp, k, masks[m], r);
				failed++;
			}
		}
		free(comp);
		free(orig);
	}
	assert_true(tried > 100);
	if (failed * 100 < tried * c->flip_fail_pct)
		fail_msg("%s: only %d of %d flipped streams refused", c->name, failed, tried);
	free(v);
}

/* ---- deflate streams made by hand ----------------------------------------- */

struct bitw {
	uint8_t buf[256];
	unsigned nbits;
};

/* @n bits of @v, least significant first (RFC 1951 §3.1.1). */
static void put_bits(struct bitw *w, uint32_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, w->nbits++)
		if (v >> i & 1)
			w->buf[w->nbits / 8] |= (uint8_t)(1u << (w->nbits % 8));
}

/* A Huffman code of @n bits, most significant first. */
static void put_code(struct bitw *w, uint32_t code, unsigned n)
{
	while (n--)
		put_bits(w, code >> n & 1, 1);
}

static size_t bytes_of(const struct bitw *w)
{
	return (w->nbits + 7) / 8;
}

/* The fixed code's literal/length symbol @sym (§3.2.6). */
static void put_fixed(struct bitw *w, unsigned sym)
{
	if (sym < 144)
		put_code(w, 0x30 + sym, 8);
	else if (sym < 256)
		put_code(w, 0x190 + sym - 144, 9);
	else if (sym < 280)
		put_code(w, sym - 256, 7);
	else
		put_code(w, 0xc0 + sym - 280, 8);
}

static void expect_raw(const struct bitw *w, size_t cap, int want, const char *log)
{
	size_t len;

	host_log_clear();
	assert_int_equal(run(&codec_deflate, w->buf, bytes_of(w), cap, NULL, &len), want);
	if (log && !host_log_contains(log))
		fail_msg("log lacks \"%s\"; last line: %s", log, host_log_last());
}

static void test_deflate_handmade(void **state)
{
	struct bitw w;
	uint8_t *out;
	size_t len;

	(void)state;
	/* Fixed block: 'a', then a match of 3 at distance 2 (only 1 byte out). */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 1, 1);
	put_bits(&w, 1, 2);
	put_fixed(&w, 'a');
	put_fixed(&w, 257);
	put_code(&w, 1, 5);
	put_fixed(&w, 256);
	expect_raw(&w, 100, -VQ_ECORRUPT, "distance before the start of the output at input offset");

	/* The same at distance 1 is fine: "aaaa". */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 1, 1);
	put_bits(&w, 1, 2);
	put_fixed(&w, 'a');
	put_fixed(&w, 257);
	put_code(&w, 0, 5);
	put_fixed(&w, 256);
	assert_int_equal(run(&codec_deflate, w.buf, bytes_of(&w), 4, &out, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "aaaa", 4);
	free(out);
	expect_raw(&w, 3, -VQ_ENOSPC, "buffer holds 3");

	/* Literal/length symbols 286 and 287 and distance codes 30, 31 exist
	 * in the fixed code but mean nothing. */
	for (unsigned sym = 286; sym < 288; sym++) {
		memset(&w, 0, sizeof(w));
		put_bits(&w, 3, 3);
		put_fixed(&w, sym);
		expect_raw(&w, 100, -VQ_ECORRUPT, "invalid length code");
	}
	memset(&w, 0, sizeof(w));
	put_bits(&w, 3, 3);
	put_fixed(&w, 'a');
	put_fixed(&w, 257);
	put_code(&w, 30, 5);
	expect_raw(&w, 100, -VQ_ECORRUPT, "invalid distance code");

	/* Block type 3 is reserved. */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 7, 3);
	expect_raw(&w, 100, -VQ_ECORRUPT, "reserved block type");

	/* Stored block whose NLEN is not the complement of LEN. */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 1, 8);
	put_bits(&w, 5, 16);
	put_bits(&w, 0, 16);
	expect_raw(&w, 100, -VQ_ECORRUPT, "stored block length check");

	/* Stored block of 5 bytes with only 2 there, and with too little room. */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 1, 8);
	put_bits(&w, 5, 16);
	put_bits(&w, 0xfffa, 16);
	put_bits(&w, 0x4241, 16);
	expect_raw(&w, 100, -VQ_ECORRUPT, "truncated stored block");
	put_bits(&w, 0x444443, 24);
	expect_raw(&w, 4, -VQ_ENOSPC, NULL);
	expect_raw(&w, 5, 0, NULL);

	/* Dynamic block with 287 literal/length codes. */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 5, 3);
	put_bits(&w, 30, 5);
	put_bits(&w, 0, 5);
	put_bits(&w, 15, 4);
	expect_raw(&w, 100, -VQ_ECORRUPT, "too many length or distance codes");

	/* Code length code of 19 one-bit codes: over-subscribed. */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 5, 3);
	put_bits(&w, 0, 5);
	put_bits(&w, 0, 5);
	put_bits(&w, 15, 4);
	for (int i = 0; i < 19; i++)
		put_bits(&w, 1, 3);
	expect_raw(&w, 100, -VQ_ECORRUPT, "over-subscribed Huffman code");

	/* Code length code {0: code 0, 16: code 1} (§3.2.2's order), and the
	 * first length is a "repeat the previous one". */
	memset(&w, 0, sizeof(w));
	put_bits(&w, 5, 3);
	put_bits(&w, 0, 5);
	put_bits(&w, 0, 5);
	put_bits(&w, 0, 4);
	put_bits(&w, 1, 3);
	put_bits(&w, 0, 3);
	put_bits(&w, 0, 3);
	put_bits(&w, 1, 3);
	put_code(&w, 1, 1);               /* codes: 0 -> "0", 1 -> "16" */
	expect_raw(&w, 100, -VQ_ECORRUPT, "repeat with no previous length");

	/* An empty stream and one cut in the middle of a code. */
	memset(&w, 0, sizeof(w));
	expect_raw(&w, 100, -VQ_ECORRUPT, "truncated");
	put_bits(&w, 3, 3);
	put_fixed(&w, 'a');
	w.nbits = 9;
	expect_raw(&w, 100, -VQ_ECORRUPT, "truncated");
}

static void test_zlib_handmade(void **state)
{
	/* zlib of "a" at level 6: 78 9c 4b 04 00 00 62 00 62. */
	uint8_t z[] = { 0x78, 0x9c, 0x4b, 0x04, 0x00, 0x00, 0x62, 0x00, 0x62 };
	uint8_t *out;
	size_t len;

	(void)state;
	assert_int_equal(run(&codec_zlib, z, sizeof(z), 1, &out, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 'a');
	free(out);
	/* Bytes after the stream are left alone. */
	uint8_t zt[sizeof(z) + 3];
	memcpy(zt, z, sizeof(z));
	memcpy(zt + sizeof(z), "xyz", 3);
	assert_int_equal(run(&codec_zlib, zt, sizeof(zt), 1, NULL, &len), 0);
	assert_int_equal(len, 1);
	z[8] ^= 1;
	host_log_clear();
	assert_int_equal(run(&codec_zlib, z, sizeof(z), 1, NULL, &len), -VQ_ECORRUPT);
	assert_true(host_log_contains("Adler-32"));
	z[8] ^= 1;
	z[1] ^= 1;          /* FCHECK no longer makes CMF.FLG a multiple of 31 */
	assert_int_equal(run(&codec_zlib, z, sizeof(z), 1, NULL, &len), -VQ_ECORRUPT);
	z[1] = 0xbb;        /* FDICT, FCHECK right */
	assert_int_equal(run(&codec_zlib, z, sizeof(z), 1, NULL, &len), -VQ_ENOTSUP);
	z[0] = 0x79;        /* CM 9 */
	assert_int_equal(run(&codec_zlib, z, sizeof(z), 1, NULL, &len), -VQ_ECORRUPT);
	assert_int_equal(vq_adler32(1, "Wikipedia", 9), 0x11E60398u);
}

/* ---- zstd frames made by hand (RFC 8878) ------------------------------------ */

/* Magic, a single-segment header with a 1-byte content size, then a last
 * compressed block holding @body. */
static size_t zstd_frame(uint8_t *f, unsigned content, const uint8_t *body, size_t n)
{
	static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	uint32_t bh = ((uint32_t)n << 3) | (2 << 1) | 1;

	memcpy(f, magic, 4);
	f[4] = 0x20;
	f[5] = (uint8_t)content;
	f[6] = (uint8_t)bh;
	f[7] = (uint8_t)(bh >> 8);
	f[8] = (uint8_t)(bh >> 16);
	memcpy(f + 9, body, n);
	return 9 + n;
}

static void expect_zstd(const uint8_t *f, size_t n, size_t cap, int want, const char *log)
{
	size_t len;

	host_log_clear();
	assert_int_equal(run(&codec_zstd, f, n, cap, NULL, &len), want);
	if (log && !host_log_contains(log))
		fail_msg("log lacks \"%s\"; last line: %s", log, host_log_last());
}

static void test_zstd_handmade(void **state)
{
	/* Raw literals "ab"; one sequence, all three codes in RLE mode:
	 * literals length code 2, offset code 2 (offset_value 4 + 2 bits),
	 * match length code 0 (3); the bitstream is the 2 offset bits under
	 * the end mark. */
	uint8_t body[] = { 0x10, 'a', 'b', 0x01, 0x54, 2, 2, 0, 0x04 };
	uint8_t f[64], *out;
	size_t n, len;

	(void)state;
	n = zstd_frame(f, 5, body, sizeof(body));
	assert_int_equal(run(&codec_zstd, f, n, 5, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "abbbb", 5);
	free(out);
	expect_zstd(f, n, 4, -VQ_ENOSPC, "buffer holds 4");

	/* offset_value 7: offset 4, with 2 bytes out. */
	body[8] = 0x07;
	n = zstd_frame(f, 5, body, sizeof(body));
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "match offset before the start of the frame at input offset");

	/* Literals length 3 with 2 literals. */
	body[8] = 0x04;
	body[5] = 3;
	n = zstd_frame(f, 6, body, sizeof(body));
	expect_zstd(f, n, 6, -VQ_ECORRUPT, "sequence runs past the literals");
	body[5] = 2;

	/* A bit left over in the sequences bitstream. */
	body[8] = 0x08;
	n = zstd_frame(f, 5, body, sizeof(body));
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "not used up exactly");
	body[8] = 0x04;

	/* The content size says 6. */
	n = zstd_frame(f, 6, body, sizeof(body));
	expect_zstd(f, n, 6, -VQ_ECORRUPT, "content size does not match");

	/* Repeat mode for the offsets with no table before. */
	body[4] = 0x74;
	n = zstd_frame(f, 5, body, sizeof(body));
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "repeat mode with no previous");
	body[4] = 0x55;         /* reserved bits */
	n = zstd_frame(f, 5, body, sizeof(body));
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "reserved bits");
	body[4] = 0x54;

	/* An RLE match length code past 52. */
	body[7] = 53;
	n = zstd_frame(f, 5, body, sizeof(body));
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "code out of range");
	body[7] = 0;

	/* Offsets in FSE mode whose table description ends first. */
	{
		uint8_t b2[] = { 0x10, 'a', 'b', 0x01, 0x64, 2, 0x00 };

		n = zstd_frame(f, 5, b2, sizeof(b2));
		expect_zstd(f, n, 5, -VQ_ECORRUPT, "truncated FSE table");
	}

	/* Huffman literals (1 stream, 2 literals, 3 bytes) with weights sent
	 * directly: 12 is out of range; treeless with no tree before. */
	{
		uint32_t v = 2 | (2u << 4) | (3u << 14);
		uint8_t b3[] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), 0x81, 0xc1, 0x80, 0x00 };

		n = zstd_frame(f, 2, b3, sizeof(b3));
		expect_zstd(f, n, 2, -VQ_ECORRUPT, "Huffman weight out of range");
		b3[3] = 0x80;   /* one weight, 2: the implied one is 2, no weight 1 */
		b3[4] = 0x20;
		n = zstd_frame(f, 2, b3, sizeof(b3));
		expect_zstd(f, n, 2, -VQ_ECORRUPT, "even number of weight 1");
		b3[0] |= 3;
		n = zstd_frame(f, 2, b3, sizeof(b3));
		expect_zstd(f, n, 2, -VQ_ECORRUPT, "treeless literals with no previous Huffman tree");
	}

	/* Reserved block type, reserved header bit, and a dictionary. */
	n = zstd_frame(f, 5, body, sizeof(body));
	f[6] |= 6;
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "reserved block type");
	n = zstd_frame(f, 5, body, sizeof(body));
	f[4] |= 0x08;
	expect_zstd(f, n, 5, -VQ_ECORRUPT, "reserved bit");
	{
		uint8_t d[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x21, 0x07, 0x00, 0x01, 0x00, 0x00 };

		expect_zstd(d, sizeof(d), 5, -VQ_ENOTSUP, "dictionary 7");
		d[5] = 0;       /* dictionary id 0 means none: an empty raw block */
		assert_int_equal(run(&codec_zstd, d, sizeof(d) - 1, 5, NULL, &len), -VQ_ECORRUPT);
	}

	/* Not zstd at all, an empty input, a skippable frame running past the end. */
	expect_zstd((const uint8_t *)"hello", 5, 5, -VQ_ECORRUPT, "not a zstd frame");
	expect_zstd(f, 0, 5, -VQ_ECORRUPT, "no frame");
	{
		uint8_t sk[] = { 0x5a, 0x2a, 0x4d, 0x18, 0x10, 0x00, 0x00, 0x00, 1, 2 };

		expect_zstd(sk, sizeof(sk), 5, -VQ_ECORRUPT, "skippable frame beyond the input");
	}
	assert_true(vq_xxh64("", 0, 0) == 0xEF46DB3751D8E999ull);
}

/* A frame padded with zeros to a 4 KiB sector, as btrfs stores it; other
 * bytes after the frame are refused. */
static void test_zstd_sector_padding(void **state)
{
	size_t clen, olen, len;
	uint8_t *comp = slurp("decomp/page.l3.zst", &clen);
	uint8_t *orig = slurp("decomp/page.in", &olen);
	uint8_t *pad = calloc(1, 4096), *out;

	(void)state;
	assert_non_null(pad);
	assert_true(clen < 4096);
	memcpy(pad, comp, clen);
	assert_int_equal(run(&codec_zstd, pad, 4096, olen, &out, &len), 0);
	assert_int_equal(len, olen);
	assert_memory_equal(out, orig, olen);
	free(out);
	pad[4095] = 1;
	assert_int_equal(run(&codec_zstd, pad, 4096, olen, NULL, &len), -VQ_ECORRUPT);
	memset(pad, 0, 4096);
	assert_int_equal(run(&codec_zstd, pad, 4096, olen, NULL, &len), -VQ_ECORRUPT);
	free(pad);
	free(comp);
	free(orig);
}

/* The 3-byte sequence count: a raw block "abcd", then 0x7F00 sequences of
 * no literals and 3 bytes at repeat offset 1, which with no literals is
 * Repeated_Offset2: 4, 1, 4, 1, ... (all codes RLE, no bits to read). */
static void test_zstd_many_sequences(void **state)
{
	static const uint8_t f[] = {
		0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38,             /* 128 KiB window */
		0x20, 0x00, 0x00, 'a', 'b', 'c', 'd',           /* raw block */
		0x4d, 0x00, 0x00,                               /* last, compressed, 9 */
		0x00, 0xff, 0x00, 0x00, 0x54, 0, 0, 0, 0x01,
	};
	const size_t n = 4 + 3 * 0x7F00;
	uint8_t *want = malloc(n), *out;
	size_t len;

	(void)state;
	assert_non_null(want);
	memcpy(want, "abcd", 4);
	for (size_t i = 0, pos = 4; i < 0x7F00; i++)
		for (int k = 0; k < 3; k++, pos++)
			want[pos] = want[pos - (i & 1 ? 1 : 4)];
	assert_int_equal(run(&codec_zstd, f, sizeof(f), n, &out, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, want, n);
	free(out);
	free(want);
}

/* ---- LZO1X streams made by hand (Documentation/staging/lzo.rst) ------------ */

static void expect_lzo(const uint8_t *in, size_t n, size_t cap, int want, const char *log)
{
	size_t len;

	host_log_clear();
	assert_int_equal(run(&codec_lzo, in, n, cap, NULL, &len), want);
	if (log && !host_log_contains(log))
		fail_msg("log lacks \"%s\"; last line: %s", log, host_log_last());
}

static void test_lzo_handmade(void **state)
{
	/* Version 1: 4 literals, a run of ((12 << 3) | 0) + 4 = 100 zeros,
	 * then 2 trailing literals and the end marker. */
	uint8_t rle[] = { 17, 1, 21, 'a', 'b', 'c', 'd', 0x18, 0xfe, 0xff, 12, 'x', 'y',
			  0x11, 0, 0 };
	uint8_t want[106] = "abcd", *out;
	size_t len;

	(void)state;
	want[104] = 'x';
	want[105] = 'y';
	assert_int_equal(run(&codec_lzo, rle, sizeof(rle), sizeof(want), &out, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);
	expect_lzo(rle, sizeof(rle), 105, -VQ_ENOSPC, "buffer holds 105");
	/* LLL = 3: 103 zeros. */
	rle[7] = 0x1b;
	assert_int_equal(run(&codec_lzo, rle, sizeof(rle), 200, NULL, &len), 0);
	assert_int_equal(len, 109);
	rle[7] = 0x18;
	/* The same bytes in a version 0 stream are a 261-byte copy from
	 * 16384 + 16384 + 831 back. */
	expect_lzo(rle + 2, sizeof(rle) - 2, 1000, -VQ_ECORRUPT, "distance before the start");
	/* A run cut short. */
	expect_lzo(rle, 10, 1000, -VQ_ECORRUPT, "truncated instruction");

	/* 1 literal, then 3 bytes from 9 back. */
	{
		uint8_t far[] = { 18, 'a', 0x40, 1, 0x11, 0, 0 };

		expect_lzo(far, sizeof(far), 100, -VQ_ECORRUPT, "distance before the start of the output at input offset 2");
		far[3] = 0;     /* 1 back: "aaaa" */
		assert_int_equal(run(&codec_lzo, far, sizeof(far), 4, &out, &len), 0);
		assert_int_equal(len, 4);
		assert_memory_equal(out, "aaaa", 4);
		free(out);
	}
	/* The end marker alone; with a length of 4; with a byte after it;
	 * missing. */
	{
		const uint8_t eos[] = { 0x11, 0, 0, 0 };

		assert_int_equal(run(&codec_lzo, eos, 3, 0, NULL, &len), 0);
		assert_int_equal(len, 0);
		expect_lzo(eos, 4, 10, -VQ_ECORRUPT, "data after the end marker");
		/* (a first byte of 18 would be a literal run) */
		expect_lzo((const uint8_t *)"\x12" "a\x12\0\0", 5, 10, -VQ_ECORRUPT,
			   "end marker with a length");
		expect_lzo((const uint8_t *)"\x15" "abcd", 5, 10, -VQ_ECORRUPT, "without its end marker");
	}
	/* A literal run of 18 + 255 * 2 + 7 bytes with only 10 there, and a
	 * length run of zero bytes to the end. */
	{
		uint8_t lit[] = { 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

		expect_lzo(lit, sizeof(lit), 1000, -VQ_ECORRUPT, "literals run past the input");
		expect_lzo(lit, 3, 1000, -VQ_ECORRUPT, "length runs past the input");
	}
}

#define PER_CODEC(c) \
	cmocka_unit_test_prestate(test_streams, (void *)&(c)), \
	cmocka_unit_test_prestate(test_truncations, (void *)&(c)), \
	cmocka_unit_test_prestate(test_flips, (void *)&(c))

int main(void)
{
	const struct CMUnitTest tests[] = {
		PER_CODEC(codec_zlib),
		PER_CODEC(codec_deflate),
		PER_CODEC(codec_zstd),
		PER_CODEC(codec_lzo),
		cmocka_unit_test(test_deflate_handmade),
		cmocka_unit_test(test_zlib_handmade),
		cmocka_unit_test(test_zstd_handmade),
		cmocka_unit_test(test_zstd_many_sequences),
		cmocka_unit_test(test_zstd_sector_padding),
		cmocka_unit_test(test_lzo_handmade),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
