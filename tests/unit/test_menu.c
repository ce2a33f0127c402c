/* SPDX-License-Identifier: MIT */
/* The menu state machine: countdown, keys, editor, view model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/menu.h"
#include "lib/err.h"
#include "tests/support/host_platform.h"

#define S 1000000ull

static const struct menu_item items[] = {
	{ .title = "Debian 6.1.0-10", .cmdline = "root=/dev/vda2 quiet" },
	{ .title = "Debian 6.1.0-9", .cmdline = "root=/dev/vda2" },
	{ .title = "Broken", .broken = true, .reason = "line 3: control byte 0x01" },
	{ .title = "EFI shell", .cmdline = NULL },
};
#define N (sizeof(items) / sizeof(items[0]))

static struct menu m;
static struct menu_event ev;

static void init(size_t def, int timeout, bool editor, size_t max)
{
	assert_int_equal(menu_init(&m, items, N, def, timeout, editor, max), 0);
}

static int teardown(void **state)
{
	menu_free(&m);
	return 0;
}

static void key(enum menu_key k)
{
	menu_key(&m, k, 0, &ev);
}

static void ch(char c)
{
	menu_key(&m, MENU_KEY_CHAR, (unsigned char)c, &ev);
}

static void type(const char *s)
{
	while (*s)
		ch(*s++);
}

static void assert_boot(size_t index, const char *cmdline)
{
	assert_int_equal(ev.type, MENU_EV_BOOT);
	assert_int_equal(ev.index, index);
	assert_string_equal(ev.cmdline, cmdline);
}

static void test_timeout_zero(void **state)
{
	struct menu_view v;

	init(1, 0, true, 2047);
	menu_start(&m, 0, &ev);
	assert_boot(1, "root=/dev/vda2");
	menu_view(&m, 10, 80, &v);
	assert_false(v.visible);
	/* The boot failed: the caller shows the menu with the reason. */
	menu_set_status(&m, "kernel not found");
	menu_view(&m, 10, 80, &v);
	assert_true(v.visible);
	assert_string_equal(v.status, "kernel not found");
}

static void test_timeout_zero_broken_default(void **state)
{
	struct menu_view v;

	init(2, 0, true, 2047);
	menu_start(&m, 0, &ev);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_true(v.visible);
	assert_non_null(strstr(v.status, "'Broken' is broken: line 3"));
	assert_string_equal(v.countdown, "");
	menu_tick(&m, 100 * S, &ev);
	assert_int_equal(ev.type, MENU_EV_NONE);
}

static void test_countdown(void **state)
{
	struct menu_view v;
	uint64_t t0 = 5 * S;

	init(0, 3, true, 2047);
	menu_start(&m, t0, &ev);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_true(v.visible);
	assert_non_null(strstr(v.countdown, "in 3 s"));
	menu_tick(&m, t0 + S / 2, &ev);
	assert_int_equal(ev.type, MENU_EV_NONE);
	menu_tick(&m, t0 + S, &ev);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_non_null(strstr(v.countdown, "in 2 s"));
	menu_tick(&m, t0 + 2 * S + 1, &ev);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_non_null(strstr(v.countdown, "in 1 s"));
	menu_tick(&m, t0 + 3 * S, &ev);
	assert_boot(0, "root=/dev/vda2 quiet");
	/* Done counting: later ticks do nothing. */
	menu_tick(&m, t0 + 9 * S, &ev);
	assert_int_equal(ev.type, MENU_EV_NONE);
}

static void test_key_stops_countdown(void **state)
{
	struct menu_view v;

	init(0, 5, true, 2047);
	menu_start(&m, 0, &ev);
	menu_tick(&m, 1 * S, &ev);
	key(MENU_KEY_DOWN);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_string_equal(v.countdown, "");
	assert_true(v.lines[1].selected);
	menu_tick(&m, 60 * S, &ev);
	assert_int_equal(ev.type, MENU_EV_NONE);
}

static void test_countdown_broken_default(void **state)
{
	init(2, 1, true, 2047);
	menu_start(&m, 0, &ev);
	menu_tick(&m, 2 * S, &ev);
	assert_int_equal(ev.type, MENU_EV_ERROR);
	assert_int_equal(ev.index, 2);
	assert_non_null(strstr(ev.message, "control byte"));
}

static void test_wait_forever(void **state)
{
	struct menu_view v;

	init(3, -1, true, 2047);
	menu_start(&m, 0, &ev);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_tick(&m, 1000 * S, &ev);
	assert_int_equal(ev.type, MENU_EV_NONE);
	menu_view(&m, 10, 80, &v);
	assert_string_equal(v.countdown, "");
	key(MENU_KEY_ENTER);
	assert_boot(3, ""); /* NULL cmdline boots with "" */
}

static void test_navigation(void **state)
{
	init(0, -1, true, 2047);
	menu_start(&m, 0, &ev);
	key(MENU_KEY_UP);
	assert_int_equal(m.selected, 0);
	key(MENU_KEY_DOWN);
	key(MENU_KEY_DOWN);
	assert_int_equal(m.selected, 2);
	key(MENU_KEY_END);
	assert_int_equal(m.selected, 3);
	key(MENU_KEY_DOWN);
	assert_int_equal(m.selected, 3);
	key(MENU_KEY_HOME);
	assert_int_equal(m.selected, 0);
	key(MENU_KEY_PGDN);
	assert_int_equal(m.selected, 3);
	key(MENU_KEY_PGUP);
	assert_int_equal(m.selected, 0);
	key(MENU_KEY_DOWN);
	key(MENU_KEY_ENTER);
	assert_boot(1, "root=/dev/vda2");
}

static void test_digits(void **state)
{
	init(0, 5, true, 2047);
	menu_start(&m, 0, &ev);
	ch('2');
	assert_boot(1, "root=/dev/vda2");
	assert_int_equal(m.selected, 1);
	ch('9');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	ch('0');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	ch('4');
	assert_boot(3, "");
}

/* Twenty entries: "1" waits for a second digit, "3" cannot start a longer
 * number and boots at once, "1" "2" is entry 12, "2" "0" entry 20, "2" "5"
 * is no entry, and a key other than a digit drops what was typed. */
static void test_digits_past_nine(void **state)
{
	static struct menu_item many[20];
	static char titles[20][24], lines[20][24];
	struct menu_view v;

	for (int i = 0; i < 20; i++) {
		snprintf(titles[i], sizeof(titles[i]), "entry %d", i + 1);
		snprintf(lines[i], sizeof(lines[i]), "n=%d", i + 1);
		many[i] = (struct menu_item){ .title = titles[i], .cmdline = lines[i] };
	}
	assert_int_equal(menu_init(&m, many, 20, 0, 5, true, 100), 0);
	menu_start(&m, 0, &ev);
	ch('3');
	assert_boot(2, "n=3");
	ch('1');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	assert_int_equal(m.selected, 0);
	menu_view(&m, 5, 80, &v);
	assert_string_equal(v.status, "entry 1: Enter boots it, or type the next digit");
	ch('2');
	assert_boot(11, "n=12");
	ch('2');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	assert_int_equal(m.selected, 1);
	ch('0');
	assert_boot(19, "n=20");
	ch('2');
	ch('5');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 5, 80, &v);
	assert_string_equal(v.status, "no entry 25 (entries are 1-20)");
	/* Typing starts over: "7" alone is entry 7. */
	ch('7');
	assert_boot(6, "n=7");
	ch('1');
	key(MENU_KEY_ENTER);
	assert_boot(0, "n=1");
	ch('1');
	key(MENU_KEY_DOWN);          /* drops the "1": selection moves to 2 */
	assert_int_equal(m.selected, 1);
	ch('4');
	assert_boot(3, "n=4");
	ch('0');
	menu_view(&m, 5, 80, &v);
	assert_string_equal(v.status, "no entry 0 (entries are 1-20)");
}

static void test_broken_entry(void **state)
{
	struct menu_view v;

	init(0, -1, true, 2047);
	menu_start(&m, 0, &ev);
	ch('3');
	assert_int_equal(ev.type, MENU_EV_ERROR);
	assert_int_equal(ev.index, 2);
	assert_string_equal(ev.message, "'Broken' cannot boot: line 3: control byte 0x01");
	assert_true(host_log_contains("'Broken' cannot boot"));
	menu_view(&m, 10, 80, &v);
	assert_string_equal(v.status, ev.message);
	assert_true(v.lines[2].broken);
	assert_true(v.lines[2].selected);
	assert_string_equal(v.detail, "line 3: control byte 0x01");
	/* Editing it is refused the same way. */
	ch('e');
	assert_int_equal(ev.type, MENU_EV_ERROR);
	assert_false(m.editing);
	key(MENU_KEY_ENTER);
	assert_int_equal(ev.type, MENU_EV_ERROR);
	/* Esc clears the status line. */
	key(MENU_KEY_ESC);
	menu_view(&m, 10, 80, &v);
	assert_string_equal(v.status, "");
}

static void test_edit(void **state)
{
	struct menu_view v;

	init(0, 5, true, 2047);
	menu_start(&m, 0, &ev);
	ch('e');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	menu_view(&m, 10, 80, &v);
	assert_true(v.editing);
	assert_string_equal(v.edit_text, "root=/dev/vda2 quiet");
	assert_int_equal(v.edit_cursor, 20);
	assert_string_equal(v.countdown, "");

	type(" x1");                      /* "root=/dev/vda2 quiet x1" */
	key(MENU_KEY_LEFT);
	key(MENU_KEY_BACKSPACE);          /* removes 'x' */
	assert_string_equal(m.edit, "root=/dev/vda2 quiet 1");
	key(MENU_KEY_HOME);
	key(MENU_KEY_DELETE);             /* removes 'r' */
	ch('R');
	assert_string_equal(m.edit, "Root=/dev/vda2 quiet 1");
	key(MENU_KEY_BACKSPACE);
	key(MENU_KEY_BACKSPACE);          /* nothing before the cursor */
	key(MENU_KEY_LEFT);               /* stays at 0 */
	assert_int_equal(m.edit_cursor, 0);
	key(MENU_KEY_END);
	key(MENU_KEY_DELETE);             /* nothing after the cursor */
	key(MENU_KEY_RIGHT);
	assert_int_equal(m.edit_cursor, m.edit_len);
	ch('q');                          /* a letter here, not quit */
	menu_key(&m, MENU_KEY_CHAR, 0xe9, &ev);  /* non-ASCII ignored */
	menu_key(&m, MENU_KEY_CHAR, '\t', &ev);  /* control ignored */
	key(MENU_KEY_UP);                 /* no meaning while editing */
	assert_string_equal(m.edit, "oot=/dev/vda2 quiet 1q");
	assert_int_equal(m.edit_len, strlen(m.edit));
	key(MENU_KEY_ENTER);
	assert_boot(0, "oot=/dev/vda2 quiet 1q");
	assert_false(m.editing);
	/* The item itself is untouched. */
	assert_string_equal(items[0].cmdline, "root=/dev/vda2 quiet");
}

static void test_edit_cancel(void **state)
{
	init(1, -1, true, 2047);
	menu_start(&m, 0, &ev);
	ch('e');
	type(" single");
	key(MENU_KEY_ESC);
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	assert_false(m.editing);
	key(MENU_KEY_ENTER);
	assert_boot(1, "root=/dev/vda2");
	/* Editing again starts from the entry, not the dropped edit. */
	ch('e');
	assert_string_equal(m.edit, "root=/dev/vda2");
}

static void test_edit_bound(void **state)
{
	struct menu_view v;

	init(1, -1, true, 16);            /* "root=/dev/vda2" is 14 */
	menu_start(&m, 0, &ev);
	ch('e');
	type("abc");
	assert_string_equal(m.edit, "root=/dev/vda2ab");
	menu_view(&m, 10, 80, &v);
	assert_non_null(strstr(v.status, "full (16 bytes)"));
	key(MENU_KEY_HOME);
	ch('x');
	assert_string_equal(m.edit, "root=/dev/vda2ab");
	key(MENU_KEY_ENTER);
	assert_boot(1, "root=/dev/vda2ab");
	/* Entry 0's line (20 bytes) is over the bound: no editing it. */
	key(MENU_KEY_HOME);
	ch('e');
	assert_int_equal(ev.type, MENU_EV_ERROR);
	assert_non_null(strstr(ev.message, "20 bytes, over the limit of 16"));
	assert_false(m.editing);
}

static void test_editor_disabled(void **state)
{
	struct menu_view v;

	init(0, -1, false, 2047);
	menu_start(&m, 0, &ev);
	ch('e');
	assert_int_equal(ev.type, MENU_EV_REDRAW);
	assert_false(m.editing);
	menu_view(&m, 10, 80, &v);
	assert_non_null(strstr(v.status, "editor is disabled"));
	assert_null(strstr(v.help, " e edit"));
	key(MENU_KEY_ENTER);
	assert_boot(0, "root=/dev/vda2 quiet");
}

static void test_quit(void **state)
{
	init(0, 5, true, 2047);
	menu_start(&m, 0, &ev);
	ch('q');
	assert_int_equal(ev.type, MENU_EV_QUIT);
}

static void test_no_entries(void **state)
{
	struct menu_view v;

	assert_int_equal(menu_init(&m, NULL, 0, 0, 5, true, 100), 0);
	menu_start(&m, 0, &ev);
	assert_int_equal(ev.type, MENU_EV_ERROR);
	assert_string_equal(ev.message, "no boot entries found");
	key(MENU_KEY_ENTER);
	assert_int_equal(ev.type, MENU_EV_ERROR);
	key(MENU_KEY_DOWN);
	ch('e');
	ch('1');
	menu_view(&m, 10, 80, &v);
	assert_int_equal(v.line_count, 0);
	assert_string_equal(v.detail, "");
	ch('q');
	assert_int_equal(ev.type, MENU_EV_QUIT);
}

static void test_init_errors(void **state)
{
	assert_int_equal(menu_init(&m, items, N, 0, 5, true, 0), -VQ_EINVAL);
	assert_int_equal(menu_init(&m, items, N, 0, 5, true, MENU_CMDLINE_LIMIT + 1),
			 -VQ_EINVAL);
	assert_int_equal(menu_init(&m, NULL, 3, 0, 5, true, 10), -VQ_EINVAL);
	/* A default past the end means the first. */
	init(99, -1, true, 10);
	assert_int_equal(m.default_index, 0);
}

static void test_view_scroll(void **state)
{
	static struct menu_item many[20];
	static char titles[20][24];
	struct menu_view v;

	for (int i = 0; i < 20; i++) {
		snprintf(titles[i], sizeof(titles[i]), "entry %d", i);
		many[i] = (struct menu_item){ .title = titles[i], .cmdline = "x" };
	}
	assert_int_equal(menu_init(&m, many, 20, 4, -1, true, 100), 0);
	menu_start(&m, 0, &ev);
	menu_view(&m, 5, 80, &v);
	assert_int_equal(v.line_count, 5);
	assert_false(v.more_above);
	assert_true(v.more_below);
	assert_true(v.lines[4].selected);
	assert_true(v.lines[4].is_default);
	assert_int_equal(v.lines[0].number, 1);
	assert_int_equal(v.number_width, 2);
	for (int i = 0; i < 8; i++)
		key(MENU_KEY_DOWN);       /* selected 12 */
	menu_view(&m, 5, 80, &v);
	assert_int_equal(v.lines[0].index, 8);
	assert_int_equal(v.lines[4].index, 12);
	assert_true(v.lines[4].selected);
	/* Every entry has a number, also past 9. */
	assert_int_equal(v.lines[0].number, 9);
	assert_int_equal(v.lines[1].number, 10);
	assert_int_equal(v.lines[4].number, 13);
	assert_string_equal(v.lines[4].title, "entry 12");
	assert_true(v.more_above);
	assert_true(v.more_below);
	key(MENU_KEY_END);
	menu_view(&m, 5, 80, &v);
	assert_false(v.more_below);
	/* More rows than the view holds are capped. */
	menu_view(&m, 1000, 80, &v);
	assert_int_equal(v.line_count, 20);
	menu_view(&m, 0, 80, &v);
	assert_int_equal(v.line_count, 0);
}

static void test_view_edit_window(void **state)
{
	struct menu_view v;

	init(0, -1, true, 2047);
	menu_start(&m, 0, &ev);
	ch('e');                          /* 20 bytes, cursor at 20 */
	menu_view(&m, 10, 10, &v);
	assert_int_equal(v.edit_first, 11);  /* columns 11..20 */
	assert_int_equal(v.edit_len, 20);
	key(MENU_KEY_HOME);
	menu_view(&m, 10, 10, &v);
	assert_int_equal(v.edit_first, 0);
	menu_view(&m, 10, 0, &v);
	assert_int_equal(v.edit_first, 0);
	assert_non_null(strstr(v.help, "Esc cancel"));
}

static void test_random_keys(void **state)
{
	uint32_t x = 99;
	uint64_t now = 0;
	struct menu_view v;

	host_log_echo(0);
	init(0, 2, true, 24);
	menu_start(&m, now, &ev);
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		unsigned r = (x >> 16) % 40;

		if (r < 14)
			menu_key(&m, (enum menu_key)r, 0, &ev);
		else if (r < 16)
			menu_tick(&m, now += S / 3, &ev);
		else if (r < 17)
			ch((x >> 8) & 1 ? 'e' : 'q');
		else
			menu_key(&m, MENU_KEY_CHAR, (x >> 4) & 0xff, &ev);
		assert_true(m.selected < N);
		assert_true(m.edit_len <= 24);
		assert_true(m.edit_cursor <= m.edit_len);
		assert_int_equal(strlen(m.edit), m.edit_len);
		if (ev.type == MENU_EV_BOOT)
			assert_false(items[ev.index].broken);
		menu_view(&m, 3, 7, &v);
		assert_true(v.edit_cursor >= v.edit_first);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_timeout_zero, teardown),
		cmocka_unit_test_teardown(test_timeout_zero_broken_default, teardown),
		cmocka_unit_test_teardown(test_countdown, teardown),
		cmocka_unit_test_teardown(test_key_stops_countdown, teardown),
		cmocka_unit_test_teardown(test_countdown_broken_default, teardown),
		cmocka_unit_test_teardown(test_wait_forever, teardown),
		cmocka_unit_test_teardown(test_navigation, teardown),
		cmocka_unit_test_teardown(test_digits, teardown),
		cmocka_unit_test_teardown(test_digits_past_nine, teardown),
		cmocka_unit_test_teardown(test_broken_entry, teardown),
		cmocka_unit_test_teardown(test_edit, teardown),
		cmocka_unit_test_teardown(test_edit_cancel, teardown),
		cmocka_unit_test_teardown(test_edit_bound, teardown),
		cmocka_unit_test_teardown(test_editor_disabled, teardown),
		cmocka_unit_test_teardown(test_quit, teardown),
		cmocka_unit_test_teardown(test_no_entries, teardown),
		cmocka_unit_test_teardown(test_init_errors, teardown),
		cmocka_unit_test_teardown(test_view_scroll, teardown),
		cmocka_unit_test_teardown(test_view_edit_window, teardown),
		cmocka_unit_test_teardown(test_random_keys, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
