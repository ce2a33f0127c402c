/* SPDX-License-Identifier: MIT */
/* The boot menu state machine (see menu.h for the keys). */
#include "boot/menu.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define US_PER_S 1000000u

static void ev_set(struct menu_event *ev, enum menu_event_type type)
{
	*ev = (struct menu_event){ .type = type };
}

static const char *item_cmdline(const struct menu_item *it)
{
	return it->cmdline ? it->cmdline : "";
}

static const char *item_title(const struct menu_item *it)
{
	return it->title ? it->title : "(untitled)";
}

void menu_set_status(struct menu *m, const char *msg)
{
	size_t n = msg ? VQ_MIN(strlen(msg), sizeof(m->status) - 1) : 0;

	if (n)
		memcpy(m->status, msg, n);
	m->status[n] = '\0';
	m->visible = true;
}

static void ev_error(struct menu *m, struct menu_event *ev, size_t index)
{
	ev_set(ev, MENU_EV_ERROR);
	ev->index = index;
	ev->message = m->status;
	log_error("menu: %s", m->status);
}

int menu_init(struct menu *m, const struct menu_item *items, size_t count,
	      size_t default_index, int timeout_s, bool editor,
	      size_t cmdline_max)
{
	char *edit = NULL;

	if (cmdline_max == 0 || cmdline_max > MENU_CMDLINE_LIMIT || (count && !items))
		return log_err(-VQ_EINVAL, "menu: cmdline_max %zu outside 1..%u or no items",
			       cmdline_max, MENU_CMDLINE_LIMIT);
	if (editor && !(edit = plat_alloc(cmdline_max + 1)))
		return log_err(-VQ_ENOMEM, "menu: no memory for a %zu-byte editor",
			       cmdline_max + 1);
	*m = (struct menu){
		.items = items,
		.count = count,
		.default_index = default_index < count ? default_index : 0,
		.timeout_s = timeout_s,
		.editor = editor,
		.edit = edit,
		.cmdline_max = cmdline_max,
	};
	m->selected = m->default_index;
	return 0;
}

void menu_free(struct menu *m)
{
	plat_free(m->edit);
	m->edit = NULL;
}

/* Boot @index, or say why not. */
static void boot(struct menu *m, size_t index, const char *cmdline,
		 struct menu_event *ev)
{
	const struct menu_item *it = &m->items[index];

	if (it->broken) {
		vq_snprintf(m->status, sizeof(m->status), "'%s' cannot boot: %s",
			    item_title(it), it->reason ? it->reason : "broken entry");
		m->visible = true;
		ev_error(m, ev, index);
		return;
	}
	ev_set(ev, MENU_EV_BOOT);
	ev->index = index;
	ev->cmdline = cmdline;
}

void menu_start(struct menu *m, uint64_t now_us, struct menu_event *ev)
{
	if (m->count == 0) {
		menu_set_status(m, "no boot entries found");
		ev_error(m, ev, 0);
		return;
	}
	if (m->timeout_s == 0 && !m->items[m->default_index].broken) {
		boot(m, m->default_index, item_cmdline(&m->items[m->default_index]), ev);
		return;
	}
	m->visible = true;
	if (m->timeout_s > 0) {
		m->counting = true;
		m->deadline_us = now_us + (uint64_t)m->timeout_s * US_PER_S;
		m->shown_s = m->timeout_s;
	} else if (m->timeout_s == 0) {
		/* Asked to boot at once, but the default cannot: say so. */
		vq_snprintf(m->status, sizeof(m->status), "default '%s' is broken: %s",
			    item_title(&m->items[m->default_index]),
			    m->items[m->default_index].reason ?
				    m->items[m->default_index].reason : "broken entry");
	}
	ev_set(ev, MENU_EV_REDRAW);
}

void menu_tick(struct menu *m, uint64_t now_us, struct menu_event *ev)
{
	uint64_t left;
	int secs;

	ev_set(ev, MENU_EV_NONE);
	if (!m->counting)
		return;
	if (now_us >= m->deadline_us) {
		m->counting = false;
		boot(m, m->default_index, item_cmdline(&m->items[m->default_index]), ev);
		return;
	}
	left = m->deadline_us - now_us;
	secs = (int)((left + US_PER_S - 1) / US_PER_S); /* rounded up */
	if (secs != m->shown_s) {
		m->shown_s = secs;
		ev_set(ev, MENU_EV_REDRAW);
	}
}

/* ---- list mode ------------------------------------------------------------ */

static void move_to(struct menu *m, size_t index)
{
	if (m->count)
		m->selected = VQ_MIN(index, m->count - 1);
}

static void start_edit(struct menu *m, struct menu_event *ev)
{
	const struct menu_item *it = &m->items[m->selected];
	const char *cl = item_cmdline(it);
	size_t n = strlen(cl);

	if (!m->editor) {
		menu_set_status(m, "the editor is disabled (loader.conf editor no)");
		ev_set(ev, MENU_EV_REDRAW);
		return;
	}
	if (it->broken) {
		boot(m, m->selected, "", ev); /* the same message as booting it */
		return;
	}
	if (n > m->cmdline_max) {
		vq_snprintf(m->status, sizeof(m->status),
			    "command line of '%s' is %zu bytes, over the limit of %zu",
			    item_title(it), n, m->cmdline_max);
		ev_error(m, ev, m->selected);
		return;
	}
	memcpy(m->edit, cl, n + 1);
	m->edit_len = n;
	m->edit_cursor = n;
	m->editing = true;
	m->status[0] = '\0';
	ev_set(ev, MENU_EV_REDRAW);
}

static size_t digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* See menu.h "Numbers". */
static void list_digit(struct menu *m, unsigned d, struct menu_event *ev)
{
	size_t n = m->typed * 10 + d;

	m->typed = 0;
	if (n == 0 || n > m->count) {
		vq_snprintf(m->status, sizeof(m->status), "no entry %zu (entries are 1-%zu)",
			    n, m->count);
		return;
	}
	m->selected = n - 1;
	if (n > m->count / 10) {
		m->status[0] = '\0';
		boot(m, n - 1, item_cmdline(&m->items[n - 1]), ev);
		return;
	}
	m->typed = n;
	vq_snprintf(m->status, sizeof(m->status),
		    "entry %zu: Enter boots it, or type the next digit", n);
}

static void list_char(struct menu *m, uint32_t ch, struct menu_event *ev)
{
	if (ch >= '0' && ch <= '9') {
		if (m->count)
			list_digit(m, ch - '0', ev);
		return;
	}
	if (ch == 'e' && m->count)
		start_edit(m, ev);
	else if (ch == 'q')
		ev_set(ev, MENU_EV_QUIT);
}

static void list_key(struct menu *m, enum menu_key key, uint32_t ch,
		     struct menu_event *ev)
{
	switch (key) {
	case MENU_KEY_UP: move_to(m, m->selected ? m->selected - 1 : 0); break;
	case MENU_KEY_DOWN: move_to(m, m->selected + 1); break;
	case MENU_KEY_PGUP: move_to(m, m->selected > MENU_PAGE ? m->selected - MENU_PAGE : 0); break;
	case MENU_KEY_PGDN: move_to(m, m->selected + MENU_PAGE); break;
	case MENU_KEY_HOME: move_to(m, 0); break;
	case MENU_KEY_END: move_to(m, m->count ? m->count - 1 : 0); break;
	case MENU_KEY_ESC: m->status[0] = '\0'; break;
	case MENU_KEY_ENTER:
		if (m->count) {
			boot(m, m->selected, item_cmdline(&m->items[m->selected]), ev);
			break;
		}
		/* Esc may have cleared what menu_start said: say it again. */
		menu_set_status(m, "no boot entries found");
		ev_error(m, ev, 0);
		break;
	case MENU_KEY_CHAR: list_char(m, ch, ev); break;
	default: break;
	}
}

/* ---- edit mode -------------------------------------------------------------- */

static void edit_insert(struct menu *m, char c)
{
	if (m->edit_len >= m->cmdline_max) {
		vq_snprintf(m->status, sizeof(m->status),
			    "the command line is full (%zu bytes)", m->cmdline_max);
		return;
	}
	memmove(m->edit + m->edit_cursor + 1, m->edit + m->edit_cursor,
		m->edit_len - m->edit_cursor + 1);
	m->edit[m->edit_cursor++] = c;
	m->edit_len++;
}

/* Removes the byte at @at (< edit_len). */
static void edit_remove(struct menu *m, size_t at)
{
	memmove(m->edit + at, m->edit + at + 1, m->edit_len - at);
	m->edit_len--;
}

static void edit_key(struct menu *m, enum menu_key key, uint32_t ch,
		     struct menu_event *ev)
{
	switch (key) {
	case MENU_KEY_LEFT: if (m->edit_cursor) m->edit_cursor--; break;
	case MENU_KEY_RIGHT: if (m->edit_cursor < m->edit_len) m->edit_cursor++; break;
	case MENU_KEY_HOME: m->edit_cursor = 0; break;
	case MENU_KEY_END: m->edit_cursor = m->edit_len; break;
	case MENU_KEY_BACKSPACE:
		if (m->edit_cursor)
			edit_remove(m, --m->edit_cursor);
		break;
	case MENU_KEY_DELETE:
		if (m->edit_cursor < m->edit_len)
			edit_remove(m, m->edit_cursor);
		break;
	case MENU_KEY_ESC:
		m->editing = false;
		m->status[0] = '\0';
		break;
	case MENU_KEY_ENTER:
		m->editing = false;
		boot(m, m->selected, m->edit, ev);
		break;
	case MENU_KEY_CHAR:
		/* ASCII only: the cursor counts bytes, and kernel parameters
		 * are ASCII in practice. */
		if (ch >= 0x20 && ch < 0x7f)
			edit_insert(m, (char)ch);
		break;
	default: break;
	}
}

void menu_key(struct menu *m, enum menu_key key, uint32_t ch,
	      struct menu_event *ev)
{
	ev_set(ev, MENU_EV_REDRAW);
	m->counting = false;
	m->visible = true;
	if (m->typed && !(key == MENU_KEY_CHAR && ch >= '0' && ch <= '9')) {
		m->typed = 0;
		m->status[0] = '\0';
	}
	if (m->editing)
		edit_key(m, key, ch, ev);
	else
		list_key(m, key, ch, ev);
}

/* ---- view ------------------------------------------------------------------- */

static const char help_list[] =
	"Up/Down select  Enter boot  digits pick by number  e edit  q quit";
static const char help_list_no_edit[] =
	"Up/Down select  Enter boot  digits pick by number  q quit";
static const char help_edit[] =
	"Left/Right move  Backspace/Delete remove  Enter boot  Esc cancel";

static void view_lines(const struct menu *m, size_t rows, struct menu_view *v)
{
	size_t first;

	rows = VQ_MIN(rows, (size_t)MENU_VIEW_ROWS_MAX);
	if (rows == 0)
		return;
	/* Keep the selection on screen, as low as it needs to be. */
	first = m->selected < rows ? 0 : m->selected - rows + 1;
	for (size_t i = first; i < m->count && v->line_count < rows; i++) {
		struct menu_view_line *l = &v->lines[v->line_count++];

		l->index = i;
		l->title = item_title(&m->items[i]);
		l->number = i + 1;
		l->selected = i == m->selected;
		l->is_default = i == m->default_index;
		l->broken = m->items[i].broken;
	}
	v->number_width = (int)digits(m->count);
	v->more_above = first > 0;
	v->more_below = first + v->line_count < m->count;
}

static void view_edit(const struct menu *m, size_t cols, struct menu_view *v)
{
	v->editing = true;
	v->edit_text = m->edit;
	v->edit_len = m->edit_len;
	v->edit_cursor = m->edit_cursor;
	/* The cursor may sit one past the last byte, so it needs a column. */
	if (cols && m->edit_cursor >= cols)
		v->edit_first = m->edit_cursor - cols + 1;
}

static const char *view_detail(const struct menu *m)
{
	const struct menu_item *it;

	if (m->count == 0)
		return "";
	it = &m->items[m->selected];
	if (it->broken)
		return it->reason ? it->reason : "broken entry";
	return item_cmdline(it);
}

void menu_view(const struct menu *m, size_t rows, size_t cols,
	       struct menu_view *ret)
{
	struct menu_view *v = ret;

	memset(v, 0, sizeof(*v));
	v->visible = m->visible;
	v->status = m->status;
	v->edit_text = "";
	v->help = m->editing ? help_edit : m->editor ? help_list : help_list_no_edit;
	v->detail = view_detail(m);
	view_lines(m, rows, v);
	if (m->counting)
		vq_snprintf(v->countdown, sizeof(v->countdown),
			    "Booting the default in %d s; any key stops", m->shown_s);
	if (m->editing)
		view_edit(m, cols, v);
}
