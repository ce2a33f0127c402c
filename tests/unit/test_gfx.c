/* SPDX-License-Identifier: MIT */
/*
 * gfx/gfx.c: pixel format, font rendering, clipping, damage merging,
 * progress bar and text grid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "gfx/gfx.h"
#include "lib/err.h"

#define W 64
#define H 40
#define STRIDE 72 /* padding columns must never be written */
#define SENTINEL 0xdeadbeefu
#define WHITE GFX_RGB(0xff, 0xff, 0xff)
#define BLACK GFX_RGB(0, 0, 0)
#define RED GFX_RGB(0xff, 0, 0)

struct fixture {
	uint32_t *px;
	struct gfx_surface s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	/* Exactly H rows: ASan catches any write past the end. */
	f->px = malloc(sizeof(uint32_t) * STRIDE * H);
	for (size_t i = 0; i < (size_t)STRIDE * H; i++)
		f->px[i] = SENTINEL;
	assert_int_equal(gfx_init(&f->s, f->px, W, H, STRIDE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->px);
	free(f);
	return 0;
}

static void assert_padding_untouched(const struct fixture *f)
{
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = W; x < STRIDE; x++)
			assert_int_equal(f->px[y * STRIDE + x], SENTINEL);
}

/* 0x00RRGGBB must be B, G, R, X in memory (B8G8R8X8_UNORM). */
static void test_pixel_byte_order(void **state)
{
	struct fixture *f = *state;
	const uint8_t *b = (const uint8_t *)f->px;

	gfx_fill(&f->s, 0, 0, 1, 1, GFX_RGB(0x11, 0x22, 0x33));
	assert_int_equal(b[0], 0x33);
	assert_int_equal(b[1], 0x22);
	assert_int_equal(b[2], 0x11);
	assert_int_equal(b[3], 0x00);
}

static void test_init_rejects_bad_geometry(void **state)
{
	struct fixture *f = *state;
	struct gfx_surface s;

	assert_int_equal(gfx_init(&s, f->px, 0, 10, 10), -VQ_EINVAL);
	assert_int_equal(gfx_init(&s, f->px, 10, 0, 10), -VQ_EINVAL);
	assert_int_equal(gfx_init(&s, f->px, 10, 10, 9), -VQ_EINVAL);
	assert_int_equal(gfx_init(&s, NULL, 10, 10, 10), -VQ_EINVAL);
}

static void test_fill_clips_negative_and_large(void **state)
{
	struct fixture *f = *state;

	gfx_fill(&f->s, -5, -5, 10, 10, RED);
	assert_int_equal(gfx_get(&f->s, 4, 4), RED);
	assert_int_equal(gfx_get(&f->s, 5, 5), SENTINEL);
	gfx_fill(&f->s, W - 2, H - 2, UINT32_MAX, UINT32_MAX, RED);
	assert_int_equal(gfx_get(&f->s, W - 1, H - 1), RED);
	gfx_fill(&f->s, INT32_MAX, 0, UINT32_MAX, 1, RED);
	gfx_fill(&f->s, INT32_MIN, 0, 5, 1, RED);
	assert_padding_untouched(f);
	assert_int_equal(f->s.ndamage, 2);
}

/* Terminus 8x16 'A': rows 2..11 are 3c 42 42 42 42 7e 42 42 42 42. */
static const uint8_t terminus_A[16] = {
	0x00, 0x00, 0x3c, 0x42, 0x42, 0x42, 0x42, 0x7e,
	0x42, 0x42, 0x42, 0x42, 0x00, 0x00, 0x00, 0x00,
};

static void assert_glyph_at(const struct fixture *f, uint32_t x0, uint32_t y0,
			    const uint8_t rows[16], unsigned scale)
{
	for (uint32_t y = 0; y < 16 * scale; y++)
		for (uint32_t x = 0; x < 8 * scale; x++) {
			bool set = rows[y / scale] & (0x80 >> (x / scale));

			assert_int_equal(gfx_get(&f->s, x0 + x, y0 + y),
					 set ? WHITE : BLACK);
		}
}

static void test_font_geometry(void **state)
{
	(void)state;
	assert_int_equal(gfx_font_width(), 8);
	assert_int_equal(gfx_font_height(), 16);
	assert_true(gfx_font_glyph('A') >= 0);
	assert_true(gfx_font_glyph(0x10ffff) < 0);
	for (uint32_t c = 0x20; c < 0x7f; c++)
		assert_true(gfx_font_glyph(c) >= 0);
}

static void test_glyph_A(void **state)
{
	struct fixture *f = *state;

	gfx_draw_char(&f->s, 3, 2, 'A', WHITE, BLACK, 1);
	assert_glyph_at(f, 3, 2, terminus_A, 1);
	/* Outside the cell nothing changed. */
	assert_int_equal(gfx_get(&f->s, 2, 2), SENTINEL);
	assert_int_equal(gfx_get(&f->s, 11, 2), SENTINEL);
	assert_int_equal(gfx_get(&f->s, 3, 18), SENTINEL);
}

static void test_glyph_A_scaled(void **state)
{
	struct fixture *f = *state;

	gfx_draw_char(&f->s, 0, 0, 'A', WHITE, BLACK, 2);
	assert_glyph_at(f, 0, 0, terminus_A, 2);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].w, 16);
	assert_int_equal(f->s.damage[0].h, 32);
}

static void test_space_is_empty(void **state)
{
	struct fixture *f = *state;
	static const uint8_t empty[16];

	gfx_draw_char(&f->s, 0, 0, ' ', WHITE, BLACK, 1);
	assert_glyph_at(f, 0, 0, empty, 1);
}

static void test_unknown_codepoint_draws_fallback(void **state)
{
	struct fixture *f = *state;
	unsigned set = 0;

	gfx_draw_char(&f->s, 0, 0, 0x10fffd, WHITE, BLACK, 1);
	for (uint32_t y = 0; y < 16; y++)
		for (uint32_t x = 0; x < 8; x++)
			set += gfx_get(&f->s, x, y) == WHITE;
	assert_true(set > 0);
}

static void test_text_clipped_at_edge(void **state)
{
	struct fixture *f = *state;
	unsigned n;

	/* 8 cells of 8 px from x = 60: only 4 columns of the first show. */
	n = gfx_draw_text(&f->s, W - 4, H - 8, "AAAAAAAA", WHITE, BLACK, 1);
	assert_int_equal(n, 8);
	assert_padding_untouched(f);
	/* Column 1 of 'A' row 2 (0x3c: bits 2..5) is clear, column 2 set. */
	assert_int_equal(gfx_get(&f->s, W - 3, H - 6), BLACK);
	assert_int_equal(gfx_get(&f->s, W - 2, H - 6), WHITE);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].x, W - 4);
	assert_int_equal(f->s.damage[0].w, 4);
	assert_int_equal(f->s.damage[0].h, 8);

	/* Entirely off-surface: nothing drawn, no damage. */
	gfx_damage_clear(&f->s);
	gfx_draw_text(&f->s, -100, 0, "AB", WHITE, BLACK, 3);
	gfx_draw_text(&f->s, 0, H, "AB", WHITE, BLACK, 1);
	assert_int_equal(f->s.ndamage, 0);
}

static void test_text_left_clip(void **state)
{
	struct fixture *f = *state;

	/* Second 'A' lands at x = 4: its column 4 is at x = 8. */
	gfx_draw_text(&f->s, -4, 0, "AA", WHITE, BLACK, 1);
	assert_int_equal(gfx_get(&f->s, 0, 2), WHITE);  /* col 4 of 1st 'A' */
	assert_int_equal(gfx_get(&f->s, 5, 2), BLACK);  /* col 1 of 2nd */
	assert_int_equal(gfx_get(&f->s, 6, 2), WHITE);  /* col 2 of 2nd */
}

static void test_utf8_decoding(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gfx_text_width("h\xc3\xa9llo", 1), 5 * 8);
	assert_int_equal(gfx_text_width("\xe2\x82\xac", 2), 16);
	/* Bad lead, truncated sequence, overlong NUL, lone surrogate. */
	assert_int_equal(gfx_draw_text(&f->s, 0, 0, "\xff", WHITE, BLACK, 1), 1);
	assert_int_equal(gfx_draw_text(&f->s, 0, 0, "\xe2\x82", WHITE, BLACK, 1),
			 1);
	assert_int_equal(gfx_draw_text(&f->s, 0, 0, "\xc0\x80", WHITE, BLACK, 1),
			 2);
	assert_int_equal(gfx_draw_text(&f->s, 0, 0, "\xed\xa0\x80", WHITE, BLACK,
				       1), 1);
	assert_padding_untouched(f);
}

static void test_damage_one_line_one_rect(void **state)
{
	struct fixture *f = *state;
	struct gfx_grid g;

	gfx_grid_init(&g, &f->s, 0, 0, 0, 0, 1);
	assert_int_equal(g.cols, W / 8);
	assert_int_equal(g.rows, H / 16);
	gfx_clear(&f->s, BLACK);
	gfx_damage_clear(&f->s);

	gfx_grid_line(&g, 1, "hi", WHITE, BLACK);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].x, 0);
	assert_int_equal(f->s.damage[0].y, 16);
	assert_int_equal(f->s.damage[0].w, W);
	assert_int_equal(f->s.damage[0].h, 16);

	/* Characters written one by one along a row merge too. */
	gfx_damage_clear(&f->s);
	for (uint32_t c = 0; c < 5; c++)
		gfx_grid_put(&g, c, 0, "x", WHITE, BLACK);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].w, 40);
}

static void test_damage_separate_and_collapse(void **state)
{
	struct fixture *f = *state;

	gfx_fill(&f->s, 0, 0, 2, 2, RED);
	gfx_fill(&f->s, 40, 30, 2, 2, RED);
	assert_int_equal(f->s.ndamage, 2);
	/* A rect covering one of them absorbs it. */
	gfx_fill(&f->s, 39, 29, 4, 4, RED);
	assert_int_equal(f->s.ndamage, 2);

	/* Many scattered dots: the list stays bounded and covers them all. */
	gfx_damage_clear(&f->s);
	for (int i = 0; i < 30; i++)
		gfx_fill(&f->s, (i * 7) % W, (i * 13) % H, 1, 1, RED);
	assert_true(f->s.ndamage <= GFX_MAX_DAMAGE);
	for (int i = 0; i < 30; i++) {
		uint32_t x = (i * 7) % W, y = (i * 13) % H;
		bool covered = false;

		for (unsigned k = 0; k < f->s.ndamage; k++) {
			const struct gfx_rect *r = &f->s.damage[k];

			covered |= x >= r->x && x < r->x + r->w && y >= r->y &&
				   y < r->y + r->h;
		}
		assert_true(covered);
	}
	gfx_damage_all(&f->s);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].w, W);
	assert_int_equal(f->s.damage[0].h, H);
}

static void test_progress_bar_pixels(void **state)
{
	struct fixture *f = *state;
	const uint32_t fg = GFX_RGB(0, 0xff, 0), bg = GFX_RGB(0x20, 0x20, 0x20);
	const uint32_t frame = WHITE;

	/* 52 wide: 50 inside; 30/60 fills 25 of them. */
	gfx_progress(&f->s, 2, 3, 52, 6, 30, 60, fg, bg, frame);
	assert_int_equal(gfx_get(&f->s, 2, 3), frame);
	assert_int_equal(gfx_get(&f->s, 53, 8), frame);
	assert_int_equal(gfx_get(&f->s, 2, 5), frame);
	assert_int_equal(gfx_get(&f->s, 53, 5), frame);
	assert_int_equal(gfx_get(&f->s, 3, 4), fg);
	assert_int_equal(gfx_get(&f->s, 27, 7), fg);
	assert_int_equal(gfx_get(&f->s, 28, 4), bg);
	assert_int_equal(gfx_get(&f->s, 52, 7), bg);
	assert_int_equal(gfx_get(&f->s, 54, 5), SENTINEL);
	assert_int_equal(f->s.ndamage, 1);
	assert_int_equal(f->s.damage[0].w, 52);

	/* Over 100 %, zero total and huge totals stay in bounds. */
	gfx_progress(&f->s, 2, 3, 52, 6, 99, 60, fg, bg, frame);
	assert_int_equal(gfx_get(&f->s, 52, 7), fg);
	gfx_progress(&f->s, 2, 3, 52, 6, 5, 0, fg, bg, frame);
	assert_int_equal(gfx_get(&f->s, 3, 4), bg);
	gfx_progress(&f->s, 2, 3, 52, 6, UINT64_MAX / 2, UINT64_MAX, fg, bg,
		     frame);
	assert_int_equal(gfx_get(&f->s, 26, 4), fg);
	assert_int_equal(gfx_get(&f->s, 28, 4), bg);
	gfx_progress(&f->s, W - 10, H - 2, 100, 100, 1, 2, fg, bg, frame);
	assert_padding_untouched(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_pixel_byte_order),
		T(test_init_rejects_bad_geometry),
		T(test_fill_clips_negative_and_large),
		T(test_font_geometry),
		T(test_glyph_A),
		T(test_glyph_A_scaled),
		T(test_space_is_empty),
		T(test_unknown_codepoint_draws_fallback),
		T(test_text_clipped_at_edge),
		T(test_text_left_clip),
		T(test_utf8_decoding),
		T(test_damage_one_line_one_rect),
		T(test_damage_separate_and_collapse),
		T(test_progress_bar_pixels),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
