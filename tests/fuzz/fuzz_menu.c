/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the boot menu's key handling (boot/menu.c). The
 * input builds a menu and then types at it:
 *
 *   byte 0   item count (0..40)
 *   byte 1   bit 0 editor, bits 1-2 timeout (-1, 0, 1, 5 s), bits 3-7 default
 *   byte 2   cmdline_max - 1 (1..256: a short limit makes "full" reachable)
 *   then per item: a length byte (bit 7: broken) and that many bytes of
 *   its command line (NULs end it early)
 *   then keys: a byte k; k % 16 is the key (MENU_KEY_NONE..MENU_KEY_CHAR,
 *   15 is a clock tick); CHAR and tick take one more byte (the character,
 *   or the tenths of a second the clock moves).
 *
 * The harness keeps its own copy of the line being edited and applies
 * every edit key to it, so a wrong cursor, a lost byte or a line over the
 * limit aborts, as does a BOOT of a broken or missing entry, a BOOT whose
 * command line is neither the entry's nor the edited one, or a view whose
 * lines, window or edit scroll disagree with the state.
 *
 * Run: build/fuzz/fuzz_menu -max_len=4096 build/fuzz/seeds/fuzz_menu
 * fuzz-options: -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/menu.h"

#define FUZZ_ITEMS_MAX 40
#define FUZZ_LINE_MAX 128
#define FUZZ_CMDLINE_MAX 256
#define FUZZ_TICK 15

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned next(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

/* The harness's own editor: what the line must be after each key. */
struct shadow {
	char text[FUZZ_CMDLINE_MAX + 1];
	size_t len, cursor, max;
};

static void shadow_key(struct shadow *s, enum menu_key key, uint32_t ch)
{
	switch (key) {
	case MENU_KEY_LEFT: if (s->cursor) s->cursor--; break;
	case MENU_KEY_RIGHT: if (s->cursor < s->len) s->cursor++; break;
	case MENU_KEY_HOME: s->cursor = 0; break;
	case MENU_KEY_END: s->cursor = s->len; break;
	case MENU_KEY_BACKSPACE:
		if (s->cursor) {
			s->cursor--;
			memmove(s->text + s->cursor, s->text + s->cursor + 1,
				s->len - s->cursor);
			s->len--;
		}
		break;
	case MENU_KEY_DELETE:
		if (s->cursor < s->len) {
			memmove(s->text + s->cursor, s->text + s->cursor + 1,
				s->len - s->cursor);
			s->len--;
		}
		break;
	case MENU_KEY_CHAR:
		if (ch >= 0x20 && ch < 0x7f && s->len < s->max) {
			memmove(s->text + s->cursor + 1, s->text + s->cursor,
				s->len - s->cursor + 1);
			s->text[s->cursor++] = (char)ch;
			s->len++;
		}
		break;
	default: break;
	}
}

static void check_edit(const struct menu *m, const struct shadow *s)
{
	if (m->edit_len > m->cmdline_max || m->edit_cursor > m->edit_len ||
	    m->edit[m->edit_len] != '\0' || m->edit_len != s->len ||
	    m->edit_cursor != s->cursor || memcmp(m->edit, s->text, s->len))
		abort();
}

static void check_event(const struct menu *m, const struct menu_event *ev,
			bool was_editing, const struct shadow *s)
{
	const struct menu_item *it;

	if (ev->type != MENU_EV_BOOT) {
		if (ev->type == MENU_EV_ERROR && (!ev->message || !ev->message[0]))
			abort();
		return;
	}
	if (ev->index >= m->count || !ev->cmdline)
		abort();
	it = &m->items[ev->index];
	if (it->broken)
		abort();
	if (was_editing) {
		if (strcmp(ev->cmdline, s->text))
			abort();
	} else if (strcmp(ev->cmdline, it->cmdline ? it->cmdline : "")) {
		abort();
	}
}

static void check_view(const struct menu *m, size_t rows, size_t cols)
{
	struct menu_view v;
	bool seen = false;

	menu_view(m, rows, cols, &v);
	if (v.line_count > rows || v.line_count > MENU_VIEW_ROWS_MAX ||
	    v.line_count > m->count)
		abort();
	for (size_t i = 0; i < v.line_count; i++) {
		const struct menu_view_line *l = &v.lines[i];

		if (l->index >= m->count || l->number != l->index + 1 ||
		    (i && l->index != v.lines[i - 1].index + 1) ||
		    l->selected != (l->index == m->selected))
			abort();
		seen |= l->selected;
	}
	if (m->count && rows && !seen)
		abort(); /* the selection is always on screen */
	if (!v.status || !v.help || !v.detail || !v.edit_text)
		abort();
	if (v.editing) {
		if (v.edit_first > v.edit_cursor || v.edit_cursor > v.edit_len ||
		    (cols && v.edit_cursor - v.edit_first >= cols))
			abort();
	}
}

/* The items and their command lines, from the head of the input. */
static size_t make_items(struct input *in, struct menu_item *items,
			 char lines[][FUZZ_LINE_MAX + 1], size_t count)
{
	for (size_t i = 0; i < count; i++) {
		unsigned h = next(in), n = h & 0x7f;
		size_t k;

		if (n > FUZZ_LINE_MAX)
			n = FUZZ_LINE_MAX;
		for (k = 0; k < n && in->left; k++)
			lines[i][k] = (char)next(in);
		lines[i][k] = '\0';
		items[i] = (struct menu_item){
			.title = (i & 3) == 3 ? NULL : lines[i],
			.cmdline = (i & 7) == 5 ? NULL : lines[i],
			.broken = h & 0x80,
			.reason = (h & 0x80) && (i & 1) ? "fuzz" : NULL,
		};
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int timeouts[] = { -1, 0, 1, 5 };
	static struct menu_item items[FUZZ_ITEMS_MAX];
	static char lines[FUZZ_ITEMS_MAX][FUZZ_LINE_MAX + 1];
	struct input in = { data, size };
	struct shadow s = { .len = 0 };
	struct menu_event ev;
	struct menu m;
	uint64_t now = 1000;
	size_t count = next(&in) % (FUZZ_ITEMS_MAX + 1);
	unsigned flags = next(&in);
	size_t max = next(&in) + 1;

	make_items(&in, items, lines, count);
	if (menu_init(&m, items, count, flags >> 3, timeouts[(flags >> 1) & 3],
		      flags & 1, max) != 0)
		abort();
	s.max = max;
	menu_start(&m, now, &ev);
	check_event(&m, &ev, false, &s);
	while (in.left && ev.type != MENU_EV_BOOT && ev.type != MENU_EV_QUIT) {
		unsigned k = next(&in) % 16;
		bool was_editing = m.editing;

		if (k == FUZZ_TICK) {
			now += (uint64_t)next(&in) * 100000;
			menu_tick(&m, now, &ev);
			check_event(&m, &ev, false, &s);
		} else {
			uint32_t ch = k == MENU_KEY_CHAR ? next(&in) : 0;

			if (k > MENU_KEY_CHAR)
				k = MENU_KEY_NONE;
			if (was_editing)
				shadow_key(&s, (enum menu_key)k, ch);
			menu_key(&m, (enum menu_key)k, ch, &ev);
			check_event(&m, &ev, was_editing, &s);
			if (!was_editing && m.editing) {
				/* The edit starts from the entry's line. */
				const char *cl = items[m.selected].cmdline;

				s.len = strlen(cl ? cl : "");
				memcpy(s.text, cl ? cl : "", s.len + 1);
				s.cursor = s.len;
			}
		}
		if (m.editing)
			check_edit(&m, &s);
		if (m.selected >= (count ? count : 1))
			abort();
		check_view(&m, k * 3 % 37, (size_t)(k * 7 % 90));
	}
	menu_free(&m);
	return 0;
}
