/* SPDX-License-Identifier: MIT */
/* Boot Loader Specification entries, loader.conf, ordering and default. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/bls.h"
#include "boot/grubenv.h"
#include "lib/err.h"
#include "lib/log.h"
#include "tests/support/host_platform.h"

static struct bls_entry *parse(const char *name, const char *text)
{
	struct bls_entry *e = NULL;

	assert_int_equal(bls_parse_entry(name, text, strlen(text), &e), 0);
	assert_non_null(e);
	return e;
}

static struct bls_entry *parse_n(const char *name, const void *text, size_t n)
{
	struct bls_entry *e = NULL;

	assert_int_equal(bls_parse_entry(name, text, n, &e), 0);
	assert_non_null(e);
	return e;
}

static void test_every_key(void **state)
{
	struct bls_entry *e = parse("6a98-6.1.0-10-amd64.conf",
		"# Debian kernel\n"
		"title        Debian GNU/Linux 12\n"
		"version      6.1.0-10-amd64\n"
		"machine-id   6a9857a393724b7a981ebb5b8495b9ea\n"
		"sort-key     debian\n"
		"options      root=/dev/vda2 ro\n"
		"architecture x64\n"
		"linux        /6a98/6.1.0-10-amd64/linux\n"
		"initrd       /6a98/6.1.0-10-amd64/initrd\n"
		"efi          /EFI/tool.efi\n"
		"devicetree   /dtb/board.dtb\n");

	assert_string_equal(e->id, "6a98-6.1.0-10-amd64");
	assert_string_equal(e->name, "6a98-6.1.0-10-amd64.conf");
	assert_string_equal(e->title, "Debian GNU/Linux 12");
	assert_string_equal(e->version, "6.1.0-10-amd64");
	assert_string_equal(e->machine_id, "6a9857a393724b7a981ebb5b8495b9ea");
	assert_string_equal(e->sort_key, "debian");
	assert_string_equal(e->options, "root=/dev/vda2 ro");
	assert_string_equal(e->architecture, "x64");
	assert_string_equal(e->linux_path, "/6a98/6.1.0-10-amd64/linux");
	assert_int_equal(e->initrd_count, 1);
	assert_string_equal(e->initrd[0], "/6a98/6.1.0-10-amd64/initrd");
	assert_string_equal(e->efi_path, "/EFI/tool.efi");
	assert_string_equal(e->devicetree, "/dtb/board.dtb");
	assert_int_equal(e->tries_left, -1);
	assert_false(e->broken);
	assert_true(bls_entry_bootable(e));
	assert_false(bls_entry_hidden(e));
	assert_string_equal(bls_entry_title(e), "Debian GNU/Linux 12");
	bls_entry_free(e);
}

static void test_repeated_keys(void **state)
{
	struct bls_entry *e = parse("a.conf",
		"linux /vmlinuz\n"
		"initrd /ucode.img\n"
		"options root=LABEL=root\n"
		"initrd /initrd.img\n"
		"options   quiet    splash  \n"
		"options\tconsole=ttyS0\n"
		"title first\n"
		"title second\n");

	assert_int_equal(e->initrd_count, 2);
	assert_string_equal(e->initrd[0], "/ucode.img");
	assert_string_equal(e->initrd[1], "/initrd.img");
	/* Inner spacing of one line is kept; lines join with one space. */
	assert_string_equal(e->options, "root=LABEL=root quiet    splash console=ttyS0");
	assert_string_equal(e->title, "second");
	assert_false(e->broken);
	bls_entry_free(e);
}

static void test_crlf_and_comments(void **state)
{
	struct bls_entry *e = parse("crlf.conf",
		"# comment\r\n"
		"   # indented comment\r\n"
		"\r\n"
		"title  CRLF entry \r\n"
		"frobnicate yes\r\n"
		"linux /k\r\n"
		"options a=1\r\n"
		"options b=2"); /* no final newline */

	assert_string_equal(e->title, "CRLF entry");
	assert_string_equal(e->linux_path, "/k");
	assert_string_equal(e->options, "a=1 b=2");
	assert_false(e->broken);
	bls_entry_free(e);
}

static void test_garbage_nul(void **state)
{
	static const char text[] = "title ok\nlinux /k\nopt\0ions x\n";
	struct bls_entry *e;

	host_log_clear();
	e = parse_n("nul.conf", text, sizeof(text) - 1);
	assert_true(e->broken);
	assert_false(bls_entry_bootable(e));
	assert_non_null(strstr(e->reason, "line 3"));
	assert_non_null(strstr(e->reason, "0x00"));
	assert_true(host_log_contains("nul.conf line 3"));
	/* The good lines still count, so the menu can show a title. */
	assert_string_equal(e->title, "ok");
	assert_string_equal(e->options, "");
	bls_entry_free(e);
}

static void test_garbage_control_and_utf8(void **state)
{
	struct bls_entry *e;

	e = parse("ctl.conf", "linux /k\ntitle bell\a\n");
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "line 2: control byte 0x07"));
	bls_entry_free(e);

	e = parse("cr.conf", "linux /k\rtitle x\n");
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "control byte 0x0d"));
	bls_entry_free(e);

	e = parse("utf8.conf", "title Caf\xc3\xa9 \xe2\x82\xac\nlinux /k\n");
	assert_false(e->broken);
	assert_string_equal(e->title, "Caf\xc3\xa9 \xe2\x82\xac");
	bls_entry_free(e);

	/* Overlong '/', a surrogate, a lone continuation byte, truncated. */
	static const char *const bad[] = {
		"title \xc0\xaf\nlinux /k\n", "title \xed\xa0\x80\nlinux /k\n",
		"title \x80\nlinux /k\n", "linux /k\ntitle \xe2\x82",
		"title \xf5\x80\x80\x80\nlinux /k\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = parse("bad.conf", bad[i]);
		assert_true(e->broken);
		assert_non_null(strstr(e->reason, "bad UTF-8"));
		bls_entry_free(e);
	}
}

static void test_overlong_line(void **state)
{
	size_t n = BLS_LINE_MAX + 100;
	char *text = malloc(n + 64);
	struct bls_entry *e;

	strcpy(text, "linux /k\noptions ");
	size_t at = strlen(text);
	memset(text + at, 'x', n);
	strcpy(text + at + n, "\ntitle after\n");
	host_log_clear();
	e = parse("long.conf", text);
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "line 2"));
	assert_true(host_log_contains("long.conf line 2"));
	assert_string_equal(e->title, "after");
	bls_entry_free(e);
	free(text);
}

static void test_field_limits(void **state)
{
	char text[BLS_OPTIONS_MAX + 600];
	struct bls_entry *e;
	size_t at;

	/* A title of 300 bytes does not fit in 255. */
	strcpy(text, "linux /k\ntitle ");
	at = strlen(text);
	memset(text + at, 't', 300);
	strcpy(text + at + 300, "\n");
	e = parse("title.conf", text);
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "title is 300 bytes"));
	bls_entry_free(e);

	/* Options that add up past the limit, each line fine on its own. */
	strcpy(text, "linux /k\n");
	for (int i = 0; i < 3; i++) {
		at = strlen(text);
		strcpy(text + at, "options ");
		at += 8;
		memset(text + at, 'o', 700);
		strcpy(text + at + 700, "\n");
	}
	e = parse("opts.conf", text);
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "line 4: options add up"));
	assert_true(strlen(e->options) < BLS_OPTIONS_MAX);
	bls_entry_free(e);

	/* Nine initrds where eight fit. */
	strcpy(text, "linux /k\n");
	for (int i = 0; i < 9; i++)
		sprintf(text + strlen(text), "initrd /i%d\n", i);
	e = parse("initrd.conf", text);
	assert_true(e->broken);
	assert_int_equal(e->initrd_count, BLS_INITRD_MAX);
	assert_non_null(strstr(e->reason, "more than 8 initrd"));
	bls_entry_free(e);
}

static void test_missing_linux(void **state)
{
	struct bls_entry *e;

	e = parse("nolinux.conf", "title Nothing\noptions quiet\n");
	assert_true(e->broken);
	assert_string_equal(e->reason, "no linux or efi key");
	assert_false(bls_entry_bootable(e));
	bls_entry_free(e);

	/* A key with no value does not count. */
	e = parse("empty.conf", "linux   \n");
	assert_true(e->broken);
	bls_entry_free(e);

	e = parse_n("zero.conf", NULL, 0);
	assert_true(e->broken);
	bls_entry_free(e);

	e = parse("efi.conf", "efi /EFI/shell.efi\n");
	assert_false(e->broken);
	assert_true(bls_entry_bootable(e));
	assert_string_equal(bls_entry_title(e), "efi");
	bls_entry_free(e);
}

static void test_bad_arguments(void **state)
{
	struct bls_entry *e = NULL;

	assert_int_equal(bls_parse_entry("", "linux /k", 8, &e), -VQ_EINVAL);
	assert_int_equal(bls_parse_entry(NULL, "linux /k", 8, &e), -VQ_EINVAL);
	assert_int_equal(bls_parse_entry("x.conf", NULL, 8, &e), -VQ_EINVAL);
	assert_null(e);
}

static void test_boot_counter(void **state)
{
	struct bls_entry *e;

	e = parse("fedora+3-1.conf", "linux /k\n");
	assert_string_equal(e->id, "fedora");
	assert_int_equal(e->tries_left, 3);
	assert_int_equal(e->tries_done, 1);
	assert_false(bls_entry_bad(e));
	bls_entry_free(e);

	e = parse("fedora+0-5.conf", "linux /k\n");
	assert_int_equal(e->tries_left, 0);
	assert_true(bls_entry_bad(e));
	bls_entry_free(e);

	e = parse("fedora+2.CONF", "linux /k\n");
	assert_string_equal(e->id, "fedora");
	assert_int_equal(e->tries_left, 2);
	assert_int_equal(e->tries_done, 0);
	bls_entry_free(e);

	/* Not a counter: left alone. */
	e = parse("c++-x.conf", "linux /k\n");
	assert_string_equal(e->id, "c++-x");
	assert_int_equal(e->tries_left, -1);
	bls_entry_free(e);
}

static void test_architecture(void **state)
{
	struct bls_list l = { 0 };
	struct bls_entry *e;

	e = parse("arm.conf", "linux /k\narchitecture aa64\n");
	assert_true(bls_entry_hidden(e));
	assert_int_equal(bls_list_add(&l, e), 0); /* freed, not added */
	assert_int_equal(l.count, 0);

	e = parse("x.conf", "linux /k\narchitecture X64\n");
	assert_false(bls_entry_hidden(e));
	assert_int_equal(bls_list_add(&l, e), 0);
	assert_int_equal(l.count, 1);
	bls_list_free(&l);
}

static void test_cmdline(void **state)
{
	struct bls_entry *e = parse("c.conf", "linux /k\noptions root=/dev/vda2\n");
	char buf[32];

	assert_int_equal(bls_entry_cmdline(e, "quiet", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "root=/dev/vda2 quiet");
	assert_int_equal(bls_entry_cmdline(e, NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "root=/dev/vda2");
	assert_int_equal(bls_entry_cmdline(e, "0123456789abcdefg", buf, sizeof(buf)),
			 -VQ_E2BIG);
	/* Exactly full: 14 + 1 + 16 = 31 bytes. */
	assert_int_equal(bls_entry_cmdline(e, "0123456789abcdef", buf, sizeof(buf)), 0);
	e->options[0] = '\0';
	assert_int_equal(bls_entry_cmdline(e, "x", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "x");
	bls_entry_free(e);
}

/* ---- version order ----------------------------------------------------- */

static void test_version_cmp(void **state)
{
	static const struct { const char *a, *b; int r; } cases[] = {
		{ "11", "11", 0 },
		{ "systemd-123", "systemd-123", 0 },
		{ "bar-123", "foo-123", -1 },
		{ "123a", "123", 1 },
		{ "123.a", "123", 1 },
		{ "123.a", "123.b", -1 },
		{ "123a", "123.a", 1 },
		{ "A", "a", -1 },
		{ "", "0", -1 },
		{ "0.", "0", 1 },
		{ "0.0", "0", 1 },
		{ "1_", "1", 0 },
		{ "_1", "1", 0 },
		{ "1_", "1.2", -1 },
		{ "1_2_3", "1.3.3", 1 },
		{ "1+", "1", 0 },
		{ "11\xce\xb1", "11\xce\xb2", 0 },
		{ "6.1.0-10", "6.1.0-9", 1 },
		{ "6.1.0-10-amd64", "6.1.0-9-amd64", 1 },
		{ "1.0~rc1", "1.0", -1 },
		{ "1.0~rc1", "1.0~rc2", -1 },
		{ "1.0~", "1.0", -1 },
		{ "1.0-1", "1.0", 1 },
		{ "1.0-1", "1.0.1", -1 },
		{ "1.0^1", "1.0", 1 },
		{ "1.0^1", "1.0.1", 1 },
		{ "007", "7", 0 },
		{ "1.10", "1.9", 1 },
		{ "99999999999999999999", "99999999999999999998", 1 },
		{ "5.10.0", "5.9.200", 1 },
		{ "a", "0", 1 },
		{ NULL, "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = bls_version_cmp(cases[i].a, cases[i].b);
		int back = bls_version_cmp(cases[i].b, cases[i].a);

		if ((r > 0) - (r < 0) != cases[i].r || (back > 0) - (back < 0) != -cases[i].r)
			fail_msg("'%s' vs '%s': got %d / %d, want %d", cases[i].a,
				 cases[i].b, r, back, cases[i].r);
	}
}

/* ---- ordering and default --------------------------------------------- */

static void add(struct bls_list *l, const char *name, const char *text)
{
	assert_int_equal(bls_list_add(l, parse(name, text)), 0);
}

static void assert_order(const struct bls_list *l, const char *const *ids, size_t n)
{
	assert_int_equal(l->count, n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(l->v[i]->id, ids[i]) != 0)
			fail_msg("position %zu: got %s, want %s", i, l->v[i]->id, ids[i]);
}

static void test_order(void **state)
{
	struct bls_list l = { 0 };
	static const char *const want[] = {
		"d", "cx", "c", "os-b", "a-10", "a-5", "a-1.0~rc1", "bad",
	};

	add(&l, "a-5.conf", "linux /k\nversion 5\nmachine-id dd23\n");
	add(&l, "bad+0-3.conf", "linux /k\nsort-key aaaa\n");
	add(&l, "a-10.conf", "linux /k\nversion 10\nmachine-id dd23\n");
	add(&l, "os-b.conf", "linux /k\nversion 3\nmachine-id b754\n");
	add(&l, "a-1.0~rc1.conf", "linux /k\n");
	add(&l, "c.conf", "linux /k\nsort-key xxxx\nversion 5\nmachine-id 309d\n");
	add(&l, "cx.conf", "linux /k\nsort-key xxxx\nversion 10\nmachine-id 309d\n");
	add(&l, "d.conf", "linux /k\nsort-key kkkk\nversion 100\nmachine-id 81c6\n");
	bls_list_sort(&l);
	assert_order(&l, want, sizeof(want) / sizeof(want[0]));
	bls_list_free(&l);
	assert_int_equal(l.count, 0);
}

static void test_order_machine_id(void **state)
{
	struct bls_list l = { 0 };
	static const char *const want[] = { "z", "y", "m1", "m2", "x" };

	/* Same sort-key: machine-id increasing, empty first; then version
	 * decreasing; no version ("x") compares lowest so comes last. */
	add(&l, "x.conf", "linux /k\nsort-key os\nmachine-id bbbb\n");
	add(&l, "m2.conf", "linux /k\nsort-key os\nmachine-id bbbb\nversion 1.2\n");
	add(&l, "m1.conf", "linux /k\nsort-key os\nmachine-id bbbb\nversion 1.10\n");
	add(&l, "y.conf", "linux /k\nsort-key os\nmachine-id aaaa\n");
	add(&l, "z.conf", "linux /k\nsort-key os\n");
	bls_list_sort(&l);
	assert_order(&l, want, sizeof(want) / sizeof(want[0]));
	bls_list_free(&l);
}

static void test_order_by_name(void **state)
{
	struct bls_list l = { 0 };
	static const char *const want[] = {
		"debian-6.1.0-10-amd64", "debian-6.1.0-9-amd64", "debian-5.10.0-23-amd64",
	};

	add(&l, "debian-6.1.0-9-amd64.conf", "linux /k\n");
	add(&l, "debian-5.10.0-23-amd64.conf", "linux /k\n");
	add(&l, "debian-6.1.0-10-amd64.conf", "linux /k\n");
	bls_list_sort(&l);
	assert_order(&l, want, sizeof(want) / sizeof(want[0]));
	bls_list_free(&l);
}

static void test_display_titles(void **state)
{
	struct bls_list l = { 0 };

	add(&l, "deb-10.conf", "linux /k\ntitle Debian\nversion 6.1.0-10\n");
	add(&l, "deb-9.conf", "linux /k\ntitle Debian\nversion 6.1.0-9\n");
	add(&l, "deb-9b.conf", "linux /k\ntitle Debian\nversion 6.1.0-9\n");
	add(&l, "fed.conf", "linux /k\ntitle Fedora\n");
	add(&l, "x.conf", "linux /k\n");
	add(&l, "y.conf", "linux /k\ntitle x\n");
	bls_list_sort(&l);
	bls_list_make_titles(&l);
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "deb-10")]),
			    "Debian (6.1.0-10)");
	/* Same title and version: the id tells them apart. */
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "deb-9")]),
			    "Debian (deb-9)");
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "deb-9b")]),
			    "Debian (deb-9b)");
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "fed")]), "Fedora");
	/* An untitled entry shows its id, which may clash with a title. */
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "x")]), "x (x)");
	assert_string_equal(bls_entry_title(l.v[bls_list_find(&l, "y")]), "x (y)");
	bls_list_free(&l);
}

static void test_glob(void **state)
{
	assert_true(bls_glob_match("*", ""));
	assert_true(bls_glob_match("*", "anything"));
	assert_true(bls_glob_match("debian-*", "debian-6.1"));
	assert_false(bls_glob_match("debian-*", "fedora-6.1"));
	assert_true(bls_glob_match("d?b*n", "debian"));
	assert_true(bls_glob_match("*-6.[0-9]*", "debian-6.1.0"));
	assert_false(bls_glob_match("*-6.[2-9]*", "debian-6.1.0"));
	assert_true(bls_glob_match("[!f]*", "debian"));
	assert_false(bls_glob_match("[!d]*", "debian"));
	assert_true(bls_glob_match("[^f]*", "debian"));
	assert_true(bls_glob_match("[]x]", "]"));
	assert_true(bls_glob_match("a[", "a["));
	assert_true(bls_glob_match("DEBIAN*", "debian-6"));
	assert_true(bls_glob_match("*a*b*c*", "xxaxxbxxcxx"));
	assert_false(bls_glob_match("*a*b*c*", "xxaxxcxxbxx"));
	assert_true(bls_glob_match("**x", "aax"));
	assert_false(bls_glob_match("?", ""));
	assert_false(bls_glob_match("abc", "abcd"));
	assert_false(bls_glob_match("", "a"));
	assert_true(bls_glob_match("", ""));
	/* Many stars against a long miss stays linear-ish, no recursion. */
	assert_false(bls_glob_match("*a*a*a*a*a*a*a*a*b",
				    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_default(void **state)
{
	struct bls_list l = { 0 };

	assert_int_equal(bls_list_default(&l, "x"), -VQ_ENOENT);
	add(&l, "broken-9.conf", "title no kernel\n");
	add(&l, "debian-6.1.0-9.conf", "linux /k\n");
	add(&l, "debian-6.1.0-10.conf", "linux /k\n");
	add(&l, "fedora-40.conf", "linux /k\n");
	bls_list_sort(&l);
	/* Ids compare as versions: "fedora" > "debian" > "broken". */
	assert_string_equal(l.v[0]->id, "fedora-40");
	assert_string_equal(l.v[1]->id, "debian-6.1.0-10");
	assert_string_equal(l.v[2]->id, "debian-6.1.0-9");
	assert_string_equal(l.v[3]->id, "broken-9");

	assert_int_equal(bls_list_default(&l, "debian-*"), 1);
	assert_int_equal(bls_list_default(&l, "debian-6.1.0-9.conf"), 2);
	assert_int_equal(bls_list_default(&l, "*-9*"), 2);
	assert_int_equal(bls_list_default(&l, "nomatch*"), 0);
	assert_int_equal(bls_list_default(&l, ""), 0);
	assert_int_equal(bls_list_default(&l, NULL), 0);
	/* A broken entry is never the default, even when named. */
	assert_int_equal(bls_list_default(&l, "broken-9"), 0);
	assert_int_equal(bls_list_find(&l, "debian-6.1.0-9"), 2);
	assert_int_equal(bls_list_find(&l, "debian"), -VQ_ENOENT);
	bls_list_free(&l);
}

static void test_default_all_broken(void **state)
{
	struct bls_list l = { 0 };

	add(&l, "a.conf", "title a\n");
	add(&l, "b.conf", "title b\n");
	bls_list_sort(&l);
	assert_int_equal(bls_list_default(&l, "*"), 0);
	bls_list_free(&l);
}

static void test_list_limit(void **state)
{
	struct bls_list l = { 0 };
	char name[32];

	for (int i = 0; i < BLS_ENTRIES_MAX; i++) {
		snprintf(name, sizeof(name), "e%d.conf", i);
		add(&l, name, "linux /k\n");
	}
	assert_int_equal(bls_list_add(&l, parse("more.conf", "linux /k\n")), -VQ_ENOSPC);
	assert_int_equal(l.count, BLS_ENTRIES_MAX);
	bls_list_sort(&l);
	assert_string_equal(l.v[0]->id, "e63");
	bls_list_free(&l);
}

/* ---- loader.conf ------------------------------------------------------- */

static struct bls_config conf(const char *text)
{
	struct bls_config c;

	memset(&c, 0xAA, sizeof(c));
	assert_int_equal(bls_parse_loader_conf("loader.conf", text, strlen(text), &c), 0);
	return c;
}

static void test_loader_conf(void **state)
{
	struct bls_config c;

	c = conf("");
	assert_int_equal(c.timeout_s, BLS_TIMEOUT_DEFAULT);
	assert_false(c.timeout_set);
	assert_string_equal(c.default_pattern, "");
	assert_true(c.editor);

	c = conf("# loader\ntimeout 3\ndefault debian-*\neditor no\nconsole-mode max\n");
	assert_int_equal(c.timeout_s, 3);
	assert_true(c.timeout_set);
	assert_string_equal(c.default_pattern, "debian-*");
	assert_false(c.editor);

	c = conf("timeout 0\r\neditor 1\r\n");
	assert_int_equal(c.timeout_s, 0);
	assert_true(c.editor);

	c = conf("timeout menu-force\n");
	assert_int_equal(c.timeout_s, BLS_TIMEOUT_FOREVER);
	c = conf("timeout menu-hidden\n");
	assert_int_equal(c.timeout_s, 0);

	static const char *const yes[] = { "yes", "y", "true", "t", "on", "1" };
	static const char *const no[] = { "no", "n", "false", "f", "off", "0" };
	char text[64];
	for (size_t i = 0; i < 6; i++) {
		snprintf(text, sizeof(text), "editor %s\n", no[i]);
		assert_false(conf(text).editor);
		snprintf(text, sizeof(text), "editor no\neditor %s\n", yes[i]);
		assert_true(conf(text).editor);
	}
}

static void test_loader_conf_bad(void **state)
{
	struct bls_config c;

	host_log_clear();
	c = conf("timeout 5\ntimeout abc\n");
	assert_int_equal(c.timeout_s, 5);
	assert_true(host_log_contains("loader.conf line 2: timeout 'abc'"));

	c = conf("timeout 99999999999\n");
	assert_int_equal(c.timeout_s, BLS_TIMEOUT_DEFAULT);
	c = conf("timeout 3601\n");
	assert_false(c.timeout_set);
	c = conf("timeout -1\n");
	assert_false(c.timeout_set);

	host_log_clear();
	c = conf("editor maybe\n");
	assert_true(c.editor);
	assert_true(host_log_contains("editor 'maybe'"));

	c = conf("default @saved\n");
	assert_string_equal(c.default_pattern, "");

	/* A garbage line is skipped, the rest is used. */
	host_log_clear();
	c = conf("timeout\x01 9\ndefault x*\n");
	assert_string_equal(c.default_pattern, "x*");
	assert_int_equal(c.timeout_s, BLS_TIMEOUT_DEFAULT);
	assert_true(host_log_contains("loader.conf line 1"));

	char *big = malloc(BLS_LINE_MAX + 64);
	strcpy(big, "default ");
	memset(big + 8, 'x', BLS_LINE_MAX);
	strcpy(big + 8 + BLS_LINE_MAX, "\ntimeout 2\n");
	host_log_clear();
	c = conf(big);
	assert_string_equal(c.default_pattern, "");
	assert_int_equal(c.timeout_s, 2);
	assert_true(host_log_contains("loader.conf line 1: line is"));
	free(big);

	memset(&c, 0, sizeof(c));
	assert_int_equal(bls_parse_loader_conf("l", NULL, 3, &c), -VQ_EINVAL);
}

/* ---- auto entries -------------------------------------------------------- */

static void test_auto_entries(void **state)
{
	static const char *const paths[] = {
		"/vmlinuz", "/initrd.img", "/vmlinuz.old", "/etc",
		"/boot/vmlinuz-6.1.0-9-amd64", "/boot/initrd.img-6.1.0-9-amd64",
		"/boot/vmlinuz-6.1.0-10-amd64", "/boot/initrd.img-6.1.0-10-amd64",
		"/boot/vmlinuz-6.2-noinitrd", "/boot/config-6.1.0-9-amd64",
		"/boot/vmlinuz-", "/boot/initrd.img-6.0-orphan", NULL,
	};
	struct bls_list l = { 0 };

	assert_int_equal(bls_auto_entries(paths, sizeof(paths) / sizeof(paths[0]),
					  2, 3, &l), 0);
	assert_int_equal(l.count, 4);
	bls_list_sort(&l);
	assert_string_equal(l.v[0]->id, "vmlinuz-6.2-noinitrd");
	assert_int_equal(l.v[0]->initrd_count, 0);
	assert_string_equal(l.v[0]->title, "Linux 6.2-noinitrd");

	assert_string_equal(l.v[1]->id, "vmlinuz-6.1.0-10-amd64");
	assert_string_equal(l.v[1]->linux_path, "/boot/vmlinuz-6.1.0-10-amd64");
	assert_int_equal(l.v[1]->initrd_count, 1);
	assert_string_equal(l.v[1]->initrd[0], "/boot/initrd.img-6.1.0-10-amd64");
	assert_string_equal(l.v[1]->version, "6.1.0-10-amd64");
	assert_int_equal(l.v[1]->disk_index, 2);
	assert_int_equal(l.v[1]->part_index, 3);
	assert_true(bls_entry_bootable(l.v[1]));

	assert_string_equal(l.v[2]->id, "vmlinuz-6.1.0-9-amd64");
	assert_string_equal(l.v[3]->id, "vmlinuz");
	assert_string_equal(l.v[3]->linux_path, "/vmlinuz");
	assert_string_equal(l.v[3]->initrd[0], "/initrd.img");
	assert_string_equal(l.v[3]->title, "Linux (/vmlinuz)");
	bls_list_free(&l);
}

/* ---- robustness ------------------------------------------------------------ */

/* Text is not NUL-terminated: messages quoting a key or value at the very
 * end of the buffer must not read past it (ASan watches the exact-size
 * copy). */
static void test_unterminated_text(void **state)
{
	static const char *const texts[] = {
		"linux /k\nfrobnicate", "timeout", "timeout abc", "editor maybe",
		"default @saved", "xyz 1",
	};
	int saved = log_max_level;
	struct bls_config c;

	log_max_level = LOG_DEBUG;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);
		char *buf = malloc(n);
		struct bls_entry *e;

		memcpy(buf, texts[i], n);
		assert_int_equal(bls_parse_loader_conf("l.conf", buf, n, &c), 0);
		e = parse_n("u.conf", buf, n);
		bls_entry_free(e);
		free(buf);
	}
	log_max_level = saved;
}

static void test_random_bytes(void **state)
{
	unsigned char buf[700];
	uint32_t x = 12345;
	struct bls_config c;

	host_log_echo(0);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)(round * 7) % sizeof(buf);

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			/* Mostly text-ish bytes, with key words sprinkled in. */
			buf[i] = (x >> 16) % 5 == 0 ? (unsigned char)(x >> 8)
						    : (unsigned char)"linux initrd options\n #\r\t"[(x >> 20) % 25];
		}
		struct bls_entry *e = parse_n("rnd.conf", buf, n);
		assert_true(strlen(e->options) < BLS_OPTIONS_MAX);
		assert_true(e->initrd_count <= BLS_INITRD_MAX);
		bls_entry_free(e);
		assert_int_equal(bls_parse_loader_conf("rnd", buf, n, &c), 0);
	}
}

/* RHEL 8 as Anaconda writes it: GRUB's keys pass without a word, the
 * initrd line lists two files, $variables come from grubenv. */
static void test_rhel_entry(void **state)
{
	static const char env_text[] = GRUBENV_SIGNATURE
		"kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto\n"
		"tuned_initrd=/tuned.img /extra.img\n";
	struct grubenv *env;
	struct bls_entry *e;

	log_max_level = LOG_DEBUG;
	host_log_clear();
	e = parse("0123-4.18.0-80.el8.x86_64.conf",
		  "title Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)\n"
		  "version 4.18.0-80.el8.x86_64\n"
		  "linux /vmlinuz-4.18.0-80.el8.x86_64\n"
		  "initrd /initramfs-4.18.0-80.el8.x86_64.img $tuned_initrd\n"
		  "options $kernelopts $tuned_params\n"
		  "id rhel-20190313123447-4.18.0-80.el8.x86_64\n"
		  "grub_users $grub_users\n"
		  "grub_arg --unrestricted\n"
		  "grub_class kernel\n");
	log_max_level = LOG_INFO;
	assert_false(host_log_contains("grub_"));
	assert_false(host_log_contains("'id'"));
	assert_false(e->broken);
	assert_int_equal(e->initrd_count, 2);
	assert_string_equal(e->initrd[1], "$tuned_initrd");
	assert_true(bls_entry_has_vars(e));
	assert_int_equal(grubenv_parse("grubenv", env_text, sizeof(env_text) - 1, &env), 0);
	host_log_clear();
	bls_entry_expand(e, env);
	assert_string_equal(e->options, "root=/dev/mapper/rhel-root ro crashkernel=auto");
	assert_true(host_log_contains("$tuned_params is not set in grubenv"));
	assert_int_equal(e->initrd_count, 3);
	assert_string_equal(e->initrd[0], "/initramfs-4.18.0-80.el8.x86_64.img");
	assert_string_equal(e->initrd[1], "/tuned.img");
	assert_string_equal(e->initrd[2], "/extra.img");
	assert_false(bls_entry_has_vars(e));
	assert_false(e->broken);
	bls_entry_free(e);
	/* Unset everywhere: the initrd word vanishes, the options empty. */
	e = parse("r.conf", "linux /k\ninitrd $tuned_initrd\noptions $kernelopts\n");
	bls_entry_expand(e, NULL);
	assert_int_equal(e->initrd_count, 0);
	assert_string_equal(e->options, "");
	assert_false(e->broken);
	bls_entry_free(e);
	grubenv_free(env);
}

static void test_expand_overflow(void **state)
{
	char env_text[4096];
	struct grubenv *env;
	struct bls_entry *e;
	size_t n = (size_t)snprintf(env_text, sizeof(env_text), "%skernelopts=", GRUBENV_SIGNATURE);

	memset(env_text + n, 'k', 1500);
	n += 1500;
	n += (size_t)snprintf(env_text + n, sizeof(env_text) - n, "\nmany=");
	for (int i = 0; i < 8; i++)
		n += (size_t)snprintf(env_text + n, sizeof(env_text) - n, "/i%d ", i);
	env_text[n++] = '\n';
	assert_int_equal(grubenv_parse("g", env_text, n, &env), 0);
	e = parse("o.conf", "linux /k\noptions $kernelopts $kernelopts\n");
	bls_entry_expand(e, env);
	assert_true(e->broken);
	assert_string_equal(e->reason, "options too long once variables are expanded");
	bls_entry_free(e);
	e = parse("i.conf", "linux /k\ninitrd /first.img $many\n");
	bls_entry_expand(e, env);
	assert_true(e->broken);
	assert_string_equal(e->reason, "more than 8 initrds");
	bls_entry_free(e);
	grubenv_free(env);
}

/* GRUB's blscfg reads every word of an initrd line as a file. */
static void test_initrd_words(void **state)
{
	struct bls_entry *e = parse("w.conf", "linux /k\ninitrd  /a.img\t/b.img \ninitrd /c.img\n");

	assert_int_equal(e->initrd_count, 3);
	assert_string_equal(e->initrd[0], "/a.img");
	assert_string_equal(e->initrd[1], "/b.img");
	assert_string_equal(e->initrd[2], "/c.img");
	bls_entry_free(e);
}

/* An entry under /boot/loader/entries of a root file system: its paths are
 * relative to /boot. */
static void test_prefix_paths(void **state)
{
	struct bls_entry *e = parse("p.conf",
		"linux /vmlinuz-6.1\ninitrd initrd.img-6.1\nefi /EFI/x.efi\ndevicetree /d.dtb\n");
	char longp[BLS_PATH_MAX + 8];

	bls_entry_prefix_paths(e, "/boot");
	assert_string_equal(e->linux_path, "/boot/vmlinuz-6.1");
	assert_string_equal(e->initrd[0], "/boot/initrd.img-6.1");
	assert_string_equal(e->efi_path, "/boot/EFI/x.efi");
	assert_string_equal(e->devicetree, "/boot/d.dtb");
	assert_false(e->broken);
	bls_entry_free(e);
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "linux /", 7);
	longp[6 + BLS_PATH_MAX - 3] = '\0'; /* a path of BLS_PATH_MAX - 3 bytes fits... */
	e = parse("l.conf", longp);
	assert_false(e->broken);
	bls_entry_prefix_paths(e, "/boot");  /* ...but not with /boot before it */
	assert_true(e->broken);
	bls_entry_free(e);
}

/* Unified kernel images in the list: ids without .efi, default globs with
 * ".efi" like systemd-boot's, sorted with type #1 by the same rules. */
static void test_uki_in_list(void **state)
{
	struct bls_list l = { 0 };
	struct bls_entry *u, *t;

	assert_int_equal(bls_entry_alloc("debian-6.1+2.efi", ".efi", &u), 0);
	u->kind = BLS_KIND_UKI;
	assert_string_equal(u->id, "debian-6.1");
	assert_int_equal(u->tries_left, 2);
	strcpy(u->efi_path, "/EFI/Linux/debian-6.1+2.efi");
	strcpy(u->sort_key, "debian");
	strcpy(u->version, "12");
	t = parse("debian-type1.conf", "sort-key debian\nversion 6.1.0-10-amd64\nlinux /k\n");
	assert_int_equal(bls_list_add(&l, t), 0);
	assert_int_equal(bls_list_add(&l, u), 0);
	bls_list_sort(&l);
	/* Same sort-key and machine-id: version 12 is newer than 6.1. */
	assert_ptr_equal(l.v[0], u);
	assert_int_equal(bls_list_default(&l, "debian-type*.conf"), 1);
	assert_int_equal(bls_list_default(&l, "debian-6*.efi"), 0);
	assert_int_equal(bls_list_default(&l, "*.EFI"), 0);
	assert_int_equal(bls_list_find(&l, "debian-6.1"), 0);
	assert_int_equal(bls_list_find(&l, "debian-6.1.efi"), 0);
	assert_int_equal(bls_list_find(&l, "debian-type1.conf"), 1);
	assert_int_equal(bls_list_find(&l, "debian-type1.efi"), 1);
	assert_int_equal(bls_list_find(&l, "debian-6.1.conf.x"), -VQ_ENOENT);
	bls_list_free(&l);
	assert_int_equal(bls_entry_alloc("", ".efi", &u), -VQ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_repeated_keys),
		cmocka_unit_test(test_crlf_and_comments),
		cmocka_unit_test(test_garbage_nul),
		cmocka_unit_test(test_garbage_control_and_utf8),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_missing_linux),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_boot_counter),
		cmocka_unit_test(test_architecture),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_machine_id),
		cmocka_unit_test(test_order_by_name),
		cmocka_unit_test(test_display_titles),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_default_all_broken),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_loader_conf),
		cmocka_unit_test(test_loader_conf_bad),
		cmocka_unit_test(test_auto_entries),
		cmocka_unit_test(test_unterminated_text),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_rhel_entry),
		cmocka_unit_test(test_expand_overflow),
		cmocka_unit_test(test_initrd_words),
		cmocka_unit_test(test_prefix_paths),
		cmocka_unit_test(test_uki_in_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
