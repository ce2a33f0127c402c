/* SPDX-License-Identifier: MIT */
/*
 * Framebuffer drawing, EFI-free: rectangles, text from the built-in console
 * font (scaled 1x..4x), a progress bar and a text grid, with damage tracking
 * so that a display driver transfers only what changed.
 *
 * Pixels are uint32_t 0x00RRGGBB. On our little-endian targets that value
 * sits in memory as the bytes B, G, R, X: virtio-gpu's B8G8R8X8_UNORM and
 * UEFI GOP's PixelBlueGreenRedReserved8BitPerColor.
 *
 * Every drawing op clips to the surface and adds the rectangle it touched to
 * the damage list. Touching or overlapping rectangles whose bounding box
 * wastes little are merged; when the list is full everything collapses into
 * one bounding box. Rewriting one text line therefore costs one rectangle.
 */
#ifndef VQ_GFX_H
#define VQ_GFX_H

#include "lib/compat.h"

#define GFX_MAX_DAMAGE 16
#define GFX_MAX_SCALE 4

#define GFX_RGB(r, g, b) \
	((((uint32_t)(r) & 0xff) << 16) | (((uint32_t)(g) & 0xff) << 8) | \
	 ((uint32_t)(b) & 0xff))

struct gfx_rect {
	uint32_t x, y, w, h;
};

struct gfx_surface {
	uint32_t *px;       /* top-left pixel */
	uint32_t width;     /* visible size in pixels */
	uint32_t height;
	uint32_t stride;    /* pixels per row, >= width */
	struct gfx_rect damage[GFX_MAX_DAMAGE];
	unsigned ndamage;
};

/**
 * Set up @s over @px (@stride pixels per row). Returns -VQ_EINVAL when the
 * geometry is empty, stride < width, or stride * height overflows.
 * The damage list starts empty.
 */
int gfx_init(struct gfx_surface *s, uint32_t *px, uint32_t width,
	     uint32_t height, uint32_t stride);

/** Fill a rectangle (clipped; x/y may be negative). */
void gfx_fill(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
	      uint32_t h, uint32_t color);

/** Fill the whole surface. */
void gfx_clear(struct gfx_surface *s, uint32_t color);

/** Read one pixel (0 outside the surface); for tests and readback. */
uint32_t gfx_get(const struct gfx_surface *s, uint32_t x, uint32_t y);

/** Font cell size at scale 1. */
uint32_t gfx_font_width(void);
uint32_t gfx_font_height(void);

/** Glyph index for Unicode code point @cp, or -1 when the font lacks it. */
int gfx_font_glyph(uint32_t cp);

/**
 * Draw one character cell at (@x, @y) with @scale (1..GFX_MAX_SCALE;
 * outside that range it is clamped). Code points the font lacks draw as '?'.
 * @bg is painted behind the glyph.
 */
void gfx_draw_char(struct gfx_surface *s, int32_t x, int32_t y, uint32_t cp,
		   uint32_t fg, uint32_t bg, unsigned scale);

/**
 * Draw a UTF-8 string on one line (no wrapping, clipped at the edge).
 * Malformed bytes draw as U+FFFD (or '?' when the font lacks it). Returns
 * the number of character cells drawn, clipped ones included.
 */
unsigned gfx_draw_text(struct gfx_surface *s, int32_t x, int32_t y,
		       const char *utf8, uint32_t fg, uint32_t bg,
		       unsigned scale);

/** Width in pixels of @utf8 drawn at @scale. */
uint32_t gfx_text_width(const char *utf8, unsigned scale);

/**
 * A progress bar: a 1-pixel @frame border, then @done/@total of the inside
 * filled with @fg and the rest with @bg. @total 0 draws an empty bar.
 */
void gfx_progress(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
		  uint32_t h, uint64_t done, uint64_t total, uint32_t fg,
		  uint32_t bg, uint32_t frame);

/** A fixed grid of character cells placed on a surface. */
struct gfx_grid {
	struct gfx_surface *s;
	int32_t x, y;       /* top-left pixel of cell (0, 0) */
	uint32_t cols, rows;
	unsigned scale;
};

/**
 * Place a grid of @cols x @rows cells at (@x, @y). With @cols or @rows 0 the
 * grid takes as many as fit on the surface from (@x, @y).
 */
void gfx_grid_init(struct gfx_grid *g, struct gfx_surface *s, int32_t x,
		   int32_t y, uint32_t cols, uint32_t rows, unsigned scale);

/** Draw @utf8 from cell (@col, @row), cut at the grid's right edge. */
void gfx_grid_put(struct gfx_grid *g, uint32_t col, uint32_t row,
		  const char *utf8, uint32_t fg, uint32_t bg);

/**
 * Replace row @row with @utf8: the whole row is painted @bg and the text
 * drawn over it, so the damage is exactly one row-sized rectangle.
 */
void gfx_grid_line(struct gfx_grid *g, uint32_t row, const char *utf8,
		   uint32_t fg, uint32_t bg);

/** Add a rectangle to the damage list (clipped to the surface). */
void gfx_damage_add(struct gfx_surface *s, int32_t x, int32_t y, uint32_t w,
		    uint32_t h);

/** Mark the whole surface damaged. */
void gfx_damage_all(struct gfx_surface *s);

/** Forget all damage (after a display driver has pushed it). */
void gfx_damage_clear(struct gfx_surface *s);

#endif
