/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the text parsers: boot/bls.c (entries, loader.conf,
 * version order, glob, auto entries) and boot/opts.c. Besides crashes,
 * sanitizer reports and leaks, it aborts when the version order is not
 * antisymmetric or an entry breaks its own bounds.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_bls); run: `make fuzz`.
 * Seeds: any BLS entries and loader.conf files, e.g.
 *   mkdir -p build/fuzz/bls_seeds
 *   printf 'title T\nversion 6.1.0-10\nlinux /k\ninitrd /i\noptions a b\n' \
 *     > build/fuzz/bls_seeds/entry
 *   printf 'timeout 3\ndefault deb*\neditor no\n' > build/fuzz/bls_seeds/conf
 * Run:
 *   build/fuzz/fuzz_bls -max_len=8192 -timeout=10 build/fuzz/bls_seeds
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bls.h"
#include "boot/opts.h"

#define HALF_MAX 4096
#define PATHS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

/* Copies up to HALF_MAX bytes as a NUL-terminated string. */
static char *to_str(const uint8_t *p, size_t n)
{
	char *s;

	n = n < HALF_MAX ? n : HALF_MAX;
	s = malloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void check_entry(const struct bls_entry *e)
{
	if (e->initrd_count > BLS_INITRD_MAX || strlen(e->options) >= BLS_OPTIONS_MAX ||
	    strlen(e->title) >= BLS_TITLE_MAX || (e->broken && !e->reason[0]))
		abort();
}

static void fuzz_entries(const uint8_t *data, size_t size, const char *pattern)
{
	struct bls_list l = { 0 };
	struct bls_entry *e;
	char cmdline[BLS_OPTIONS_MAX];

	for (int i = 0; i < 2; i++) {
		size_t off = i ? size / 2 : 0, n = i ? size - size / 2 : size;

		if (bls_parse_entry(i ? "b+1-2.conf" : "a.conf", data + off, n, &e) != 0)
			abort();
		check_entry(e);
		bls_entry_cmdline(e, pattern, cmdline, sizeof(cmdline));
		bls_list_add(&l, e);
	}
	bls_list_sort(&l);
	bls_list_make_titles(&l);
	for (size_t i = 0; i < l.count; i++)
		if (strlen(bls_entry_title(l.v[i])) >= BLS_TITLE_MAX)
			abort();
	if (l.count && bls_list_default(&l, pattern) >= (int)l.count)
		abort();
	bls_list_free(&l);
}

static void fuzz_strings(const char *a, const char *b)
{
	struct bls_list l = { 0 };
	const char *paths[PATHS_MAX];
	struct vq_opts o;
	size_t n = 0;
	char *copy, *p;

	if (sign(bls_version_cmp(a, b)) != -sign(bls_version_cmp(b, a)) ||
	    bls_version_cmp(a, a) != 0)
		abort();
	bls_glob_match(a, b);
	opts_parse(a, &o);
	/* b as a list of paths, one per line. */
	copy = strdup(b);
	for (p = copy; p && n < PATHS_MAX; n++) {
		paths[n] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	bls_auto_entries(paths, n, 0, 0, &l);
	for (size_t i = 0; i < l.count; i++)
		check_entry(l.v[i]);
	bls_list_free(&l);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bls_config c;
	char *a = to_str(data, size / 2);
	char *b = to_str(data + size / 2, size - size / 2);

	if (bls_parse_loader_conf("loader.conf", data, size, &c) != 0 ||
	    strlen(c.default_pattern) >= BLS_PATTERN_MAX)
		abort();
	fuzz_entries(data, size, a);
	fuzz_strings(a, b);
	free(a);
	free(b);
	return 0;
}
