/* SPDX-License-Identifier: MIT */
/* vqboot load options. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/opts.h"
#include "lib/err.h"
#include "tests/support/host_platform.h"

static struct vq_opts ok(const char *line)
{
	struct vq_opts o;

	memset(&o, 0x5a, sizeof(o));
	if (opts_parse(line, &o) != 0)
		fail_msg("'%s' refused: %s", line, host_log_last());
	return o;
}

static void bad(const char *line, int err, const char *needle)
{
	struct vq_opts o;

	memset(&o, 0x5a, sizeof(o));
	host_log_clear();
	assert_int_equal(opts_parse(line, &o), err);
	if (!host_log_contains(needle))
		fail_msg("'%s': log lacks '%s'; last: %s", line, needle, host_log_last());
	/* Nothing written on failure. */
	assert_int_equal(((unsigned char *)&o)[0], 0x5a);
}

static void test_defaults(void **state)
{
	struct vq_opts o = ok(NULL);

	assert_string_equal(o.entry, "");
	assert_false(o.timeout_set);
	assert_string_equal(o.append, "");
	assert_false(o.verbose || o.bounce || o.no_gpu || o.help);
	o = ok("");
	assert_false(o.help);
	o = ok("   \t ");
	assert_false(o.help);
	o = ok("vqboot.efi");
	assert_string_equal(o.entry, "");
}

static void test_all_options(void **state)
{
	struct vq_opts o = ok("vqboot.efi --entry debian-6.1 --timeout 7 "
			      "--append \"console=ttyS0 quiet\" --verbose --bounce "
			      "--no-gpu --help");

	assert_string_equal(o.entry, "debian-6.1");
	assert_true(o.timeout_set);
	assert_int_equal(o.timeout_s, 7);
	assert_string_equal(o.append, "console=ttyS0 quiet");
	assert_true(o.verbose);
	assert_true(o.bounce);
	assert_true(o.no_gpu);
	assert_true(o.help);
}

static void test_forms(void **state)
{
	struct vq_opts o;

	/* No program name: first word is an option. */
	o = ok("--timeout=0 --entry=x");
	assert_int_equal(o.timeout_s, 0);
	assert_true(o.timeout_set);
	assert_string_equal(o.entry, "x");

	o = ok("  \\EFI\\vqboot.efi\t--append 'a b'  --append c\r\n--append=\"d \\\"e\\\" f\\\\\"");
	assert_string_equal(o.append, "a b c d \"e\" f\\");

	/* Quotes inside a word join it. */
	o = ok("x --entry ab\"c d\"e");
	assert_string_equal(o.entry, "abc de");

	o = ok("x --timeout 3600");
	assert_int_equal(o.timeout_s, 3600);
	assert_int_equal(o.io_timeout_ms, 0);
	o = ok("x --io-timeout 2500");
	assert_int_equal(o.io_timeout_ms, 2500);
	o = ok("x --io-timeout=600000");
	assert_int_equal(o.io_timeout_ms, 600000);
	o = ok("x --timeout 007");
	assert_int_equal(o.timeout_s, 7);

	/* '=' in a value is kept. */
	o = ok("x --append=root=/dev/vda2");
	assert_string_equal(o.append, "root=/dev/vda2");
	o = ok("x --append \"\"");
	assert_string_equal(o.append, "");
}

static void test_errors(void **state)
{
	bad("x --frobnicate", -VQ_EINVAL, "unknown option '--frobnicate'");
	bad("--frob=1", -VQ_EINVAL, "unknown option '--frob'");
	bad("x --verbose stray", -VQ_EINVAL, "unexpected argument 'stray'");
	bad("x -v", -VQ_EINVAL, "unknown option '-v'");
	bad("x --entry", -VQ_EINVAL, "--entry needs a value");
	bad("x --entry ''", -VQ_EINVAL, "--entry needs a value");
	bad("x --timeout", -VQ_EINVAL, "--timeout needs a value");
	bad("x --timeout abc", -VQ_EINVAL, "--timeout value 'abc' is not a number");
	bad("x --timeout 3601", -VQ_EINVAL, "--timeout value '3601'");
	bad("x --timeout -1", -VQ_EINVAL, "--timeout value '-1'");
	bad("x --timeout 5s", -VQ_EINVAL, "--timeout value '5s'");
	bad("x --timeout 99999999999999999999", -VQ_EINVAL, "--timeout value");
	bad("x --timeout=", -VQ_EINVAL, "--timeout value ''");
	bad("x --io-timeout 0", -VQ_EINVAL, "--io-timeout value '0' is not a number 1..600000");
	bad("x --io-timeout 600001", -VQ_EINVAL, "--io-timeout value '600001'");
	bad("x --verbose=yes", -VQ_EINVAL, "--verbose takes no value");
	bad("x --append \"open", -VQ_EINVAL, "unclosed \"");
	bad("x --append 'open", -VQ_EINVAL, "unclosed '");
}

static void test_bounds(void **state)
{
	char *line = malloc(OPTS_CMDLINE_MAX + 64);
	struct vq_opts o;

	strcpy(line, "x --entry ");
	memset(line + 10, 'e', OPTS_ENTRY_MAX - 1);
	line[10 + OPTS_ENTRY_MAX - 1] = '\0';
	o = ok(line);
	assert_int_equal(strlen(o.entry), OPTS_ENTRY_MAX - 1);
	strcat(line, "e");
	bad(line, -VQ_E2BIG, "--entry value is 128 bytes, limit 127");

	/* --append values add up. */
	strcpy(line, "x");
	for (int i = 0; i < 3; i++) {
		strcat(line, " --append ");
		size_t at = strlen(line);
		memset(line + at, 'a', 400);
		line[at + 400] = '\0';
	}
	bad(line, -VQ_E2BIG, "--append text adds up to 1202 bytes, limit 1023");

	/* One word longer than any value can be. */
	strcpy(line, "x --append ");
	memset(line + 11, 'w', 2000);
	line[11 + 2000] = '\0';
	bad(line, -VQ_E2BIG, "is 2000 bytes");

	memset(line, ' ', OPTS_CMDLINE_MAX + 1);
	line[OPTS_CMDLINE_MAX + 1] = '\0';
	bad(line, -VQ_E2BIG, "load options are 4097 bytes");
	free(line);
}

static void test_help_text(void **state)
{
	const char *h = opts_help_text();

	assert_non_null(strstr(h, "--entry"));
	assert_non_null(strstr(h, "--timeout"));
	assert_non_null(strstr(h, "--append"));
	assert_non_null(strstr(h, "--io-timeout"));
	assert_non_null(strstr(h, "--verbose"));
	assert_non_null(strstr(h, "--bounce"));
	assert_non_null(strstr(h, "--no-gpu"));
	assert_non_null(strstr(h, "--help"));
	assert_int_equal(h[strlen(h) - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_help_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
