/* SPDX-License-Identifier: MIT */
#include "apps/vqboot/screen.h"
#include "lib/log.h"
#include "lib/fmt.h"

/* How long an error stays readable before the display goes back. */
#define SCREEN_ERROR_HOLD_S 5

static struct {
	struct vgpu *gpu;
	struct gfx_surface surface;
	struct gfx_surface *s;      /* &surface while attached, else NULL */
	struct gfx_grid grid;
	unsigned scale;
	unsigned error_row;
} scr;

void screen_attach(struct vgpu *g)
{
	scr.gpu = NULL;
	scr.s = NULL;
	if (!g || EFI_ERROR(display_surface(g, &scr.surface)))
		return;
	scr.gpu = g;
	scr.s = &scr.surface;
	scr.scale = scr.s->width >= 1024 ? 2 : 1;
	gfx_grid_init(&scr.grid, scr.s, 0, 0, 0, 0, scr.scale);
}

/*
 * The firmware blanks the display as soon as it is given back, and a failed
 * boot gives it back at once: without a pause an error on screen would be
 * gone before anyone read it (systemd-boot waits after errors too).
 */
static void hold_error(void)
{
	EFI_INPUT_KEY key;

	if (!scr.s || !scr.error_row)
		return;
	log_info("vqboot: the error stays on screen for %u s (any key: go on)",
		 SCREEN_ERROR_HOLD_S);
	con_read_key(SCREEN_ERROR_HOLD_S * 1000000ULL, &key);
	scr.error_row = 0;
}

void screen_detach(void)
{
	hold_error();
	scr.gpu = NULL;
	scr.s = NULL;
}

bool screen_active(void)
{
	return scr.s != NULL;
}

void screen_flush(void)
{
	if (scr.gpu)
		display_flush(scr.gpu, scr.s);
}

static uint32_t cell_w(void) { return gfx_font_width() * scr.scale; }
static uint32_t cell_h(void) { return gfx_font_height() * scr.scale; }

void screen_title(const char *title)
{
	if (!scr.s)
		return;
	gfx_clear(scr.s, SCREEN_BG);
	gfx_grid_line(&scr.grid, 0, title, SCREEN_FG, SCREEN_TITLE_BG);
	scr.error_row = 0;
}

void screen_menu_line(unsigned row, const char *text, bool selected, bool broken)
{
	char line[160];

	if (!scr.s || 2 + row >= scr.grid.rows - 3)
		return;
	vq_snprintf(line, sizeof(line), " %s", text);
	gfx_grid_line(&scr.grid, 2 + row, line,
		      selected ? SCREEN_HILITE_FG : broken ? SCREEN_BROKEN_FG : SCREEN_FG,
		      selected ? SCREEN_HILITE_BG : SCREEN_BG);
}

void screen_menu_clear_from(unsigned row)
{
	if (!scr.s)
		return;
	for (unsigned r = 2 + row; r < scr.grid.rows - 3; r++)
		gfx_grid_line(&scr.grid, r, "", SCREEN_FG, SCREEN_BG);
}

/*
 * The status line is groups separated by two spaces (countdown, then help
 * items): when it is wider than the screen, whole groups are dropped from the
 * end rather than one cut in half.
 */
void screen_status(const char *text)
{
	char line[256];
	size_t len;

	if (!scr.s)
		return;
	vq_snprintf(line, sizeof(line), "%s", text ? text : "");
	len = strlen(line);
	while (len > scr.grid.cols) {
		size_t cut = scr.grid.cols;

		while (cut > 0 && !(line[cut - 1] == ' ' && line[cut] == ' '))
			cut--;
		if (!cut)
			break; /* one group wider than the screen: clipped */
		while (cut > 0 && line[cut - 1] == ' ')
			cut--;
		line[cut] = 0;
		len = cut;
	}
	gfx_grid_line(&scr.grid, scr.grid.rows - 3, line, SCREEN_FG, SCREEN_BG);
}

void screen_edit_line(const char *text, int cursor)
{
	if (!scr.s)
		return;
	gfx_grid_line(&scr.grid, scr.grid.rows - 2, text ? text : "", SCREEN_FG,
		      SCREEN_BG);
	if (text && cursor >= 0 && (uint32_t)cursor < scr.grid.cols)
		gfx_fill(scr.s, (int32_t)(cursor * cell_w()),
			 (int32_t)((scr.grid.rows - 1) * cell_h() - 2 * scr.scale),
			 cell_w(), 2 * scr.scale, SCREEN_FG);
}

void screen_progress(const char *what, uint64_t done, uint64_t total,
		     uint64_t elapsed_us)
{
	char text[128];
	uint64_t rate = elapsed_us ? done / elapsed_us : 0; /* bytes/us = MB/s */

	if (!scr.s)
		return;
	gfx_grid_line(&scr.grid, 3, what, SCREEN_FG, SCREEN_BG);
	gfx_progress(scr.s, (int32_t)cell_w(), (int32_t)(5 * cell_h()),
		     scr.s->width - 2 * cell_w(), cell_h(), done, total,
		     SCREEN_BAR_FG, SCREEN_BAR_BG, SCREEN_FG);
	vq_snprintf(text, sizeof(text), " %llu.%01llu / %llu.%01llu MiB   %llu MB/s",
		    (unsigned long long)(done >> 20),
		    (unsigned long long)((done & 0xfffff) * 10 >> 20),
		    (unsigned long long)(total >> 20),
		    (unsigned long long)((total & 0xfffff) * 10 >> 20),
		    (unsigned long long)rate);
	gfx_grid_line(&scr.grid, 7, text, SCREEN_FG, SCREEN_BG);
	screen_flush();
}

/* Word-wraps @text at twice the menu scale from row 3 down. */
void screen_error(const char *text)
{
	unsigned scale = scr.scale * 2;
	uint32_t cw, ch, cols;
	char line[128];

	if (!scr.s)
		return;
	cw = gfx_font_width() * scale;
	ch = gfx_font_height() * scale;
	cols = scr.s->width / cw;
	if (cols < 8 || cols >= sizeof(line))
		cols = VQ_MIN(sizeof(line) - 1, (size_t)VQ_MAX(cols, 8u));
	size_t len = strlen(text);
	for (size_t pos = 0; pos < len;) {
		size_t n = VQ_MIN(len - pos, (size_t)cols - 1);
		if (pos + n < len) {
			size_t cut = n;
			while (cut > 0 && text[pos + cut] != ' ')
				cut--;
			if (cut > 0)
				n = cut;
		}
		memcpy(line, text + pos, n);
		line[n] = 0;
		int32_t y = (int32_t)(3 * cell_h() + scr.error_row * ch);
		if ((uint32_t)y + ch > scr.s->height)
			break;
		gfx_fill(scr.s, 0, y, scr.s->width, ch, SCREEN_BG);
		gfx_draw_text(scr.s, (int32_t)(cell_w() / 2), y, line,
			      SCREEN_ERROR_FG, SCREEN_BG, scale);
		scr.error_row++;
		pos += n;
		while (pos < len && text[pos] == ' ')
			pos++;
	}
	screen_flush();
}
