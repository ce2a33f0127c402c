/* SPDX-License-Identifier: MIT */
/*
 * Framebuffer drawing with damage tracking. See gfx.h.
 */
#include "gfx/gfx.h"
#include "lib/err.h"
#include "lib/log.h"
#include "font_data.h"

#define GFX_REPLACEMENT 0xFFFDu

/* ---- clipping and damage ---------------------------------------------- */

/* Clip (x, y, w, h) to the surface in 64-bit so no sum can wrap. */
static bool clip_rect(const struct gfx_surface *s, int64_t x, int64_t y,
		      uint64_t w, uint64_t h, struct gfx_rect *ret)
{
	int64_t x0 = VQ_MAX(x, 0), y0 = VQ_MAX(y, 0);
	int64_t x1 = VQ_MIN(x + (int64_t)w, (int64_t)s->width);
	int64_t y1 = VQ_MIN(y + (int64_t)h, (int64_t)s->height);

	if (w == 0 || h == 0 || x0 >= x1 || y0 >= y1)
		return false;
	ret->x = (uint32_t)x0;
	ret->y = (uint32_t)y0;
	ret->w = (uint32_t)(x1 - x0);
	ret->h = (uint32_t)(y1 - y0);
	return true;
}

static uint64_t rect_area(const struct gfx_rect *r)
{
	return (uint64_t)r->w * r->h;
}

static struct gfx_rect rect_bbox(const struct gfx_rect *a,
				 const struct gfx_rect *b)
{
	uint32_t x0 = VQ_MIN(a->x, b->x), y0 = VQ_MIN(a->y, b->y);
	uint32_t x1 = VQ_MAX(a->x + a->w, b->x + b->w);
	uint32_t y1 = VQ_MAX(a->y + a->h, b->y + b->h);

	return (struct gfx_rect){ x0, y0, x1 - x0, y1 - y0 };
}

/* Overlap length of [a0, a0+al) and [b0, b0+bl); 0 when they only touch. */
static uint64_t span_overlap(uint32_t a0, uint32_t al, uint32_t b0, uint32_t bl)
{
	uint32_t lo = VQ_MAX(a0, b0), hi = VQ_MIN(a0 + al, b0 + bl);

	return hi > lo ? hi - lo : 0;
}

/*
 * Merge two damage rectangles when they touch or overlap and their bounding
 * box wastes at most a quarter of itself on pixels neither covers: a
 * transfer costs a command round trip, a few extra pixels cost little.
 */
static bool worth_merging(const struct gfx_rect *a, const struct gfx_rect *b)
{
	struct gfx_rect box;
	uint64_t both;

	if (a->x > b->x + b->w || b->x > a->x + a->w ||
	    a->y > b->y + b->h || b->y > a->y + a->h)
		return false;
	box = rect_bbox(a, b);
	both = rect_area(a) + rect_area(b) -
	       span_overlap(a->x, a->w, b->x, b->w) *
		       span_overlap(a->y, a->h, b->y, b->h);
	return rect_area(&box) - both <= rect_area(&box) / 4;
}

static void damage_add_rect(struct gfx_surface *s, struct gfx_rect r)
{
	unsigned i = 0;

	/* Each merge may make r touch an earlier entry: rescan from 0. */
	while (i < s->ndamage) {
		if (worth_merging(&s->damage[i], &r)) {
			r = rect_bbox(&s->damage[i], &r);
			s->damage[i] = s->damage[--s->ndamage];
			i = 0;
		} else {
			i++;
		}
	}
	if (s->ndamage == GFX_MAX_DAMAGE) {
		for (i = 0; i < s->ndamage; i++)
			r = rect_bbox(&s->damage[i], &r);
		s->ndamage = 0;
	}
	s->damage[s->ndamage++] = r;
}

void gfx_damage_add(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
		    uint32_t h)
{
	struct gfx_rect r;

	if (clip_rect(s, x, y, w, h, &r))
		damage_add_rect(s, r);
}

void gfx_damage_all(struct gfx_surface *s)
{
	s->ndamage = 0;
	gfx_damage_add(s, 0, 0, s->width, s->height);
}

void gfx_damage_clear(struct gfx_surface *s)
{
	s->ndamage = 0;
}

/* ---- surface and rectangles ------------------------------------------- */

int gfx_init(struct gfx_surface *s, uint32_t *px, uint32_t width,
	     uint32_t height, uint32_t stride)
{
	if (!px || width == 0 || height == 0 || stride < width)
		return log_err(-VQ_EINVAL, "gfx: bad surface %ux%u stride %u",
			       width, height, stride);
	if ((uint64_t)stride * height > SIZE_MAX / sizeof(uint32_t))
		return log_err(-VQ_EINVAL, "gfx: surface %ux%u too large",
			       stride, height);
	memset(s, 0, sizeof(*s));
	s->px = px;
	s->width = width;
	s->height = height;
	s->stride = stride;
	return 0;
}

static uint32_t *px_at(const struct gfx_surface *s, uint32_t x, uint32_t y)
{
	return s->px + (size_t)y * s->stride + x;
}

/* Paint an already clipped rectangle, without recording damage. */
static void paint(struct gfx_surface *s, const struct gfx_rect *r,
		  uint32_t color)
{
	for (uint32_t y = 0; y < r->h; y++) {
		uint32_t *row = px_at(s, r->x, r->y + y);

		for (uint32_t x = 0; x < r->w; x++)
			row[x] = color;
	}
}

static void paint_clipped(struct gfx_surface *s, int64_t x, int64_t y,
			  uint64_t w, uint64_t h, uint32_t color)
{
	struct gfx_rect r;

	if (clip_rect(s, x, y, w, h, &r))
		paint(s, &r, color);
}

void gfx_fill(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
	      uint32_t h, uint32_t color)
{
	struct gfx_rect r;

	if (!clip_rect(s, x, y, w, h, &r))
		return;
	paint(s, &r, color);
	damage_add_rect(s, r);
}

void gfx_clear(struct gfx_surface *s, uint32_t color)
{
	gfx_fill(s, 0, 0, s->width, s->height, color);
}

uint32_t gfx_get(const struct gfx_surface *s, uint32_t x, uint32_t y)
{
	if (x >= s->width || y >= s->height)
		return 0;
	return *px_at(s, x, y);
}

/* ---- font ------------------------------------------------------------- */

uint32_t gfx_font_width(void)
{
	return FONT_WIDTH;
}

uint32_t gfx_font_height(void)
{
	return FONT_HEIGHT;
}

int gfx_font_glyph(uint32_t cp)
{
	size_t lo = 0, hi = FONT_NUM_MAP;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (font_map_cp[mid] == cp)
			return font_map_glyph[mid] < FONT_NUM_GLYPHS ?
				       font_map_glyph[mid] : -1;
		if (font_map_cp[mid] < cp)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int glyph_or_fallback(uint32_t cp)
{
	int g = gfx_font_glyph(cp);

	if (g < 0)
		g = gfx_font_glyph(GFX_REPLACEMENT);
	if (g < 0)
		g = gfx_font_glyph('?');
	return g;
}

static unsigned clamp_scale(unsigned scale)
{
	return scale < 1 ? 1 : VQ_MIN(scale, GFX_MAX_SCALE);
}

static bool glyph_bit(int glyph, uint32_t row, uint32_t col)
{
	const uint8_t *g = font_glyphs +
			   (size_t)glyph * FONT_ROW_BYTES * FONT_HEIGHT;

	return g[row * FONT_ROW_BYTES + col / 8] & (0x80 >> (col % 8));
}

/* One scaled glyph row onto surface row @line, within the clip [x0, x1). */
static void paint_glyph_row(uint32_t *line, int64_t x, int64_t x0, int64_t x1,
			    int glyph, uint32_t row, uint32_t fg, uint32_t bg,
			    unsigned scale)
{
	int64_t px = x;

	for (uint32_t col = 0; col < FONT_WIDTH; col++) {
		uint32_t c = glyph >= 0 && glyph_bit(glyph, row, col) ? fg : bg;

		for (unsigned k = 0; k < scale; k++, px++)
			if (px >= x0 && px < x1)
				line[px] = c;
	}
}

/* Paint one cell without recording damage; -1 glyph paints only @bg.
 * Walks glyph rows and columns (no per-pixel division: this runs a lot). */
static void paint_glyph(struct gfx_surface *s, int64_t x, int64_t y,
			int glyph, uint32_t fg, uint32_t bg, unsigned scale)
{
	struct gfx_rect r;
	int64_t py = y;

	if (!clip_rect(s, x, y, (uint64_t)FONT_WIDTH * scale,
		       (uint64_t)FONT_HEIGHT * scale, &r))
		return;
	for (uint32_t row = 0; row < FONT_HEIGHT; row++) {
		for (unsigned k = 0; k < scale; k++, py++) {
			if (py < r.y || py >= (int64_t)r.y + r.h)
				continue;
			paint_glyph_row(px_at(s, 0, (uint32_t)py), x, r.x,
					(int64_t)r.x + r.w, glyph, row, fg, bg,
					scale);
		}
	}
}

void gfx_draw_char(struct gfx_surface *s, int32_t x, int32_t y, uint32_t cp,
		   uint32_t fg, uint32_t bg, unsigned scale)
{
	scale = clamp_scale(scale);
	paint_glyph(s, x, y, glyph_or_fallback(cp), fg, bg, scale);
	gfx_damage_add(s, x, y, FONT_WIDTH * scale, FONT_HEIGHT * scale);
}

/*
 * Decode one UTF-8 sequence and advance *@p. Malformed, overlong or
 * surrogate sequences yield U+FFFD and consume only what was examined, so
 * the terminating NUL is never skipped.
 */
static uint32_t utf8_next(const char **p)
{
	const uint8_t *b = (const uint8_t *)*p;
	uint32_t cp;
	unsigned n, i;

	if (b[0] < 0x80) {
		*p += 1;
		return b[0];
	}
	if (b[0] >= 0xc2 && b[0] < 0xe0) {
		n = 1;
		cp = b[0] & 0x1f;
	} else if (b[0] >= 0xe0 && b[0] < 0xf0) {
		n = 2;
		cp = b[0] & 0x0f;
	} else if (b[0] >= 0xf0 && b[0] < 0xf5) {
		n = 3;
		cp = b[0] & 0x07;
	} else {
		*p += 1;
		return GFX_REPLACEMENT;
	}
	for (i = 1; i <= n; i++) {
		if ((b[i] & 0xc0) != 0x80) {
			*p += i;
			return GFX_REPLACEMENT;
		}
		cp = (cp << 6) | (b[i] & 0x3f);
	}
	*p += n + 1;
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return GFX_REPLACEMENT;
	return cp;
}

/* Draw at most @max_cells characters; one damage rectangle for all. */
static unsigned draw_text_n(struct gfx_surface *s, int64_t x, int64_t y,
			    const char *utf8, uint64_t max_cells, uint32_t fg,
			    uint32_t bg, unsigned scale)
{
	uint64_t cell = (uint64_t)FONT_WIDTH * scale;
	unsigned n = 0;

	while (*utf8 && n < max_cells) {
		uint32_t cp = utf8_next(&utf8);

		/* Past the right edge nothing more can show; keep counting. */
		if (x + (int64_t)(n * cell) < (int64_t)s->width)
			paint_glyph(s, x + (int64_t)(n * cell), y,
				    glyph_or_fallback(cp), fg, bg, scale);
		n++;
	}
	if (n) {
		struct gfx_rect r;

		if (clip_rect(s, x, y, n * cell, (uint64_t)FONT_HEIGHT * scale,
			      &r))
			damage_add_rect(s, r);
	}
	return n;
}

unsigned gfx_draw_text(struct gfx_surface *s, int32_t x, int32_t y,
		       const char *utf8, uint32_t fg, uint32_t bg,
		       unsigned scale)
{
	return draw_text_n(s, x, y, utf8, UINT32_MAX, fg, bg,
			   clamp_scale(scale));
}

uint32_t gfx_text_width(const char *utf8, unsigned scale)
{
	uint64_t n = 0;

	while (*utf8) {
		utf8_next(&utf8);
		n++;
	}
	n *= (uint64_t)FONT_WIDTH * clamp_scale(scale);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* ---- progress bar ----------------------------------------------------- */

/* done/total of @len without overflowing 64 bits. */
static uint32_t part_of(uint32_t len, uint64_t done, uint64_t total)
{
	if (total == 0)
		return 0;
	if (done >= total)
		return len;
	while (total > UINT32_MAX) {
		total >>= 1;
		done >>= 1;
	}
	return (uint32_t)((uint64_t)len * done / total);
}

void gfx_progress(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
		  uint32_t h, uint64_t done, uint64_t total, uint32_t fg,
		  uint32_t bg, uint32_t frame)
{
	uint32_t inner_w, fill;

	if (w == 0 || h == 0)
		return;
	if (w <= 2 || h <= 2) {
		gfx_fill(s, x, y, w, h, frame);
		return;
	}
	inner_w = w - 2;
	fill = part_of(inner_w, done, total);
	paint_clipped(s, x, y, w, 1, frame);
	paint_clipped(s, x, (int64_t)y + h - 1, w, 1, frame);
	paint_clipped(s, x, y, 1, h, frame);
	paint_clipped(s, (int64_t)x + w - 1, y, 1, h, frame);
	paint_clipped(s, (int64_t)x + 1, (int64_t)y + 1, fill, h - 2, fg);
	paint_clipped(s, (int64_t)x + 1 + fill, (int64_t)y + 1, inner_w - fill,
		      h - 2, bg);
	gfx_damage_add(s, x, y, w, h);
}

/* ---- text grid -------------------------------------------------------- */

static uint32_t cells_fitting(int32_t origin, uint32_t extent, uint32_t cell)
{
	if (origin < 0 || (uint32_t)origin >= extent)
		return 0;
	return (extent - (uint32_t)origin) / cell;
}

void gfx_grid_init(struct gfx_grid *g, struct gfx_surface *s, int32_t x,
		   int32_t y, uint32_t cols, uint32_t rows, unsigned scale)
{
	g->s = s;
	g->x = x;
	g->y = y;
	g->scale = clamp_scale(scale);
	g->cols = cols ? cols : cells_fitting(x, s->width, FONT_WIDTH * g->scale);
	g->rows = rows ? rows :
			 cells_fitting(y, s->height, FONT_HEIGHT * g->scale);
}

static int64_t cell_x(const struct gfx_grid *g, uint32_t col)
{
	return g->x + (int64_t)col * FONT_WIDTH * g->scale;
}

static int64_t cell_y(const struct gfx_grid *g, uint32_t row)
{
	return g->y + (int64_t)row * FONT_HEIGHT * g->scale;
}

void gfx_grid_put(struct gfx_grid *g, uint32_t col, uint32_t row,
		  const char *utf8, uint32_t fg, uint32_t bg)
{
	if (col >= g->cols || row >= g->rows)
		return;
	draw_text_n(g->s, cell_x(g, col), cell_y(g, row), utf8, g->cols - col,
		    fg, bg, g->scale);
}

void gfx_grid_line(struct gfx_grid *g, uint32_t row, const char *utf8,
		   uint32_t fg, uint32_t bg)
{
	struct gfx_rect r;

	if (row >= g->rows)
		return;
	if (clip_rect(g->s, cell_x(g, 0), cell_y(g, row),
		      (uint64_t)g->cols * FONT_WIDTH * g->scale,
		      (uint64_t)FONT_HEIGHT * g->scale, &r)) {
		paint(g->s, &r, bg);
		damage_add_rect(g->s, r);
	}
	gfx_grid_put(g, 0, row, utf8, fg, bg);
}
