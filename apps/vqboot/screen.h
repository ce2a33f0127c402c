/* SPDX-License-Identifier: MIT */
/*
 * vqboot on the virtio-gpu screen: the menu, the load progress and errors,
 * drawn with gfx/gfx.h into the driver's framebuffer and pushed as damaged
 * rectangles. The serial console stays the primary text console and shows
 * the same.
 *
 * Layout (cells of the 8x16 font at scale S = 2 when the surface is at least
 * 1024 pixels wide, else 1; cell = 8S x 16S pixels):
 *   row 0            title bar, SCREEN_TITLE_BG
 *   row 2 + i        menu entry i; the selected one on SCREEN_HILITE_BG
 *   rows - 3         countdown / help line; rows - 2: the edit line
 *   progress screen: text on row 3, the bar on row 5 (x from 1 cell to
 *                    width - 1 cell, one cell high), figures on row 7
 *   errors           SCREEN_ERROR_FG text at twice the scale from row 3
 */
#ifndef VQ_SCREEN_H
#define VQ_SCREEN_H

#include "efi/vqefi.h"
#include "efi/display.h"

#define SCREEN_BG GFX_RGB(0x10, 0x18, 0x28)
#define SCREEN_FG GFX_RGB(0xe0, 0xe0, 0xe0)
#define SCREEN_TITLE_BG GFX_RGB(0x20, 0x50, 0x90)
#define SCREEN_HILITE_BG GFX_RGB(0xf0, 0xc0, 0x30)
#define SCREEN_HILITE_FG GFX_RGB(0x10, 0x10, 0x10)
#define SCREEN_BROKEN_FG GFX_RGB(0xc0, 0x60, 0x60)
#define SCREEN_BAR_FG GFX_RGB(0x30, 0xc0, 0x60)
#define SCREEN_BAR_BG GFX_RGB(0x30, 0x30, 0x40)
#define SCREEN_ERROR_FG GFX_RGB(0xff, 0x50, 0x50)

/**
 * Start drawing on @g (NULL: every call is a no-op). Detaching with an error
 * on screen keeps it there a few seconds (or until a key) first.
 */
void screen_attach(struct vgpu *g);
void screen_detach(void);
bool screen_active(void);

/** Clear to the background with the title bar. */
void screen_title(const char *title);

/** One menu row: @row counts from the first entry row. */
void screen_menu_line(unsigned row, const char *text, bool selected, bool broken);
/** Blank menu rows from @row on. */
void screen_menu_clear_from(unsigned row);
/** The status line (countdown, help) and the edit line (NULL: blank). */
void screen_status(const char *text);
void screen_edit_line(const char *text, int cursor);

/** Progress: @what on row 3, the bar, and "done / total MiB, rate MB/s". */
void screen_progress(const char *what, uint64_t done, uint64_t total,
		     uint64_t elapsed_us);

/** An error in large text (also logged to serial by the caller). */
void screen_error(const char *text);

/** Push damaged rectangles to the device. */
void screen_flush(void);

#endif
