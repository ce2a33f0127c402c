/* SPDX-License-Identifier: MIT */
#include "apps/vqboot/bootmenu.h"
#include "apps/vqboot/screen.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define MENU_ROWS 12
#define MENU_COLS 76

static enum menu_key translate_key(const EFI_INPUT_KEY *k, uint32_t *ch)
{
	*ch = 0;
	switch (k->ScanCode) {
	case SCAN_UP: return MENU_KEY_UP;
	case SCAN_DOWN: return MENU_KEY_DOWN;
	case SCAN_RIGHT: return MENU_KEY_RIGHT;
	case SCAN_LEFT: return MENU_KEY_LEFT;
	case SCAN_HOME: return MENU_KEY_HOME;
	case SCAN_END: return MENU_KEY_END;
	case SCAN_PAGE_UP: return MENU_KEY_PGUP;
	case SCAN_PAGE_DOWN: return MENU_KEY_PGDN;
	case SCAN_DELETE: return MENU_KEY_DELETE;
	case SCAN_ESC: return MENU_KEY_ESC;
	default: break;
	}
	switch (k->UnicodeChar) {
	case 0: return MENU_KEY_NONE;
	case CHAR_CARRIAGE_RETURN:
	case CHAR_LINEFEED: return MENU_KEY_ENTER;
	case CHAR_BACKSPACE:
	case 0x7f: return MENU_KEY_BACKSPACE;
	case 0x1b: return MENU_KEY_ESC;
	default:
		*ch = k->UnicodeChar;
		return MENU_KEY_CHAR;
	}
}

static void draw_line_text(const struct menu_view *v, const struct menu_view_line *l,
			   char *buf, size_t size)
{
	vq_snprintf(buf, size, "%c %*zu) %s%s%s", l->selected ? '>' : ' ',
		    v->number_width, l->number, l->title,
		    l->is_default ? "  [default]" : "", l->broken ? "  [broken]" : "");
}

static void draw_serial(const struct menu_view *v, const char *title)
{
	char line[200];

	con_printf("\n%s\n", title);
	if (v->more_above)
		con_puts("    ...\n");
	for (size_t i = 0; i < v->line_count; i++) {
		draw_line_text(v, &v->lines[i], line, sizeof(line));
		con_printf("%s\n", line);
	}
	if (v->more_below)
		con_puts("    ...\n");
	if (v->detail && v->detail[0])
		con_printf("  %s\n", v->detail);
	if (v->status && v->status[0])
		con_printf("! %s\n", v->status);
	if (v->editing)
		con_printf("edit> %s\n", v->edit_text);
	con_printf("%s%s%s\n", v->countdown, v->countdown[0] ? "  " : "", v->help);
}

static void draw_screen(const struct menu_view *v, const char *title)
{
	char line[200];
	unsigned row = 0;

	if (!screen_active())
		return;
	screen_title(title);
	for (size_t i = 0; i < v->line_count; i++, row++) {
		draw_line_text(v, &v->lines[i], line, sizeof(line));
		screen_menu_line(row, line + 2, v->lines[i].selected, v->lines[i].broken);
	}
	screen_menu_clear_from(row);
	if (v->status && v->status[0])
		screen_menu_line(row + 1, v->status, false, true);
	vq_snprintf(line, sizeof(line), "%s%s%s", v->countdown,
		    v->countdown[0] ? "  " : "", v->help);
	screen_status(line);
	if (v->editing)
		screen_edit_line(v->edit_text + v->edit_first,
				 (int)(v->edit_cursor - v->edit_first));
	else
		screen_edit_line(NULL, -1);
	screen_flush();
}

/* What the last full serial drawing showed: when only the edit line
 * changed, rewrite that line in place instead of the whole menu. */
static struct {
	bool valid;
	bool editing;
	size_t selected;
	char status[MENU_STATUS_MAX];
} last;

static bool only_edit_changed(const struct menu *m, const struct menu_view *v)
{
	bool same = last.valid && v->editing && last.editing &&
		    last.selected == m->selected && !strcmp(last.status, v->status);

	last.valid = true;
	last.editing = v->editing;
	last.selected = m->selected;
	vq_snprintf(last.status, sizeof(last.status), "%s", v->status);
	return same;
}

/* The countdown alone changes every second: rewrite just that line. */
static void draw(const struct menu *m, const char *title, bool countdown_only)
{
	struct menu_view v;

	menu_view(m, MENU_ROWS, MENU_COLS, &v);
	if (!v.visible)
		return;
	if (!countdown_only && only_edit_changed(m, &v)) {
		/* Clear to the end of the line with spaces: a serial terminal
		 * keeps what a shorter line does not overwrite. */
		con_printf("\redit> %s   \b\b\b", v.edit_text);
		screen_edit_line(v.edit_text + v.edit_first,
				 (int)(v.edit_cursor - v.edit_first));
		screen_flush();
		return;
	}
	if (countdown_only && !v.editing && v.countdown[0]) {
		con_printf("%s\n", v.countdown);
		char line[128];
		vq_snprintf(line, sizeof(line), "%s  %s", v.countdown, v.help);
		screen_status(line);
		screen_flush();
		return;
	}
	draw_serial(&v, title);
	draw_screen(&v, title);
}

void bootmenu_run(struct menu *m, const char *title, uint64_t idle_quit_us,
		  struct menu_event *ret)
{
	struct menu_event ev;
	uint64_t last_key = plat_now_us();
	EFI_INPUT_KEY key;

	menu_start(m, plat_now_us(), &ev);
	for (;;) {
		if (ev.type == MENU_EV_BOOT || ev.type == MENU_EV_QUIT) {
			*ret = ev;
			return;
		}
		if (ev.type == MENU_EV_REDRAW || ev.type == MENU_EV_ERROR)
			draw(m, title, false);
		if (con_read_key(20000, &key) == EFI_SUCCESS) {
			uint32_t ch;
			enum menu_key mk = translate_key(&key, &ch);

			last_key = plat_now_us();
			if (mk == MENU_KEY_NONE)
				continue;
			menu_key(m, mk, ch, &ev);
			continue;
		}
		if (idle_quit_us && plat_now_us() - last_key > idle_quit_us) {
			ev = (struct menu_event){ .type = MENU_EV_QUIT };
			continue;
		}
		int shown = m->shown_s;
		menu_tick(m, plat_now_us(), &ev);
		if (ev.type == MENU_EV_REDRAW && m->shown_s != shown) {
			draw(m, title, true);
			ev.type = MENU_EV_NONE;
		}
	}
}
