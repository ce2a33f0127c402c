/* SPDX-License-Identifier: MIT */
/*
 * GRUB environment blocks: one written by grub-editenv (mk_layouts.sh, with
 * the escapes it uses for a backslash and a newline), damaged and odd ones
 * written here; `$variable` expansion as RHEL 8 entries use it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/grubenv.h"
#include "lib/err.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"

static struct grubenv *parse(const char *text, size_t len, int want)
{
	struct grubenv *env = NULL;
	char *copy = malloc(len ? len : 1);

	memcpy(copy, text, len);
	host_log_clear();
	assert_int_equal(grubenv_parse("test", copy, len, &env), want);
	free(copy);
	return env;
}

static void test_editenv_file(void **state)
{
	size_t len;
	char *text = test_slurp(test_image("grubenv_rhel"), &len);
	struct grubenv *env = parse(text, len, 0);

	assert_int_equal(len, 1024);
	assert_string_equal(grubenv_get(env, "kernelopts"),
			    "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root console=ttyS0");
	assert_string_equal(grubenv_get(env, "saved_entry"),
			    "0123456789abcdef-4.18.0-80.el8.x86_64");
	assert_string_equal(grubenv_get(env, "tuned_initrd"), "/tuned.img");
	assert_string_equal(grubenv_get(env, "boot_success"), "0");
	/* grub-editenv writes '\' and newline with a backslash before them. */
	assert_string_equal(grubenv_get(env, "odd"), "back\\slash\nnewline");
	assert_string_equal(grubenv_get(env, "empty"), "");
	assert_null(grubenv_get(env, "tuned_params"));
	assert_null(grubenv_get(NULL, "kernelopts"));
	assert_int_equal(env->count, 6);
	grubenv_free(env);
	free(text);
}

static void test_damaged(void **state)
{
	static const char nul[] = GRUBENV_SIGNATURE "a=1\nb=2\0c=3\n";
	static const char odd[] = GRUBENV_SIGNATURE
		"no equals sign\n"
		"=empty name\n"
		"bad-name=1\n"
		"ok_1=x=y\n"
		"ok_1=again\n"
		"last=no newline";
	struct grubenv *env;
	char *big;

	parse("# GRUB Environment Blok\nx=1\n", 28, -VQ_ECORRUPT);
	assert_true(host_log_contains("test: not a GRUB environment block"));
	parse("", 0, -VQ_ECORRUPT);
	big = calloc(1, GRUBENV_FILE_MAX + 1);
	memcpy(big, GRUBENV_SIGNATURE, strlen(GRUBENV_SIGNATURE));
	parse(big, GRUBENV_FILE_MAX + 1, -VQ_E2BIG);
	free(big);
	env = parse(nul, sizeof(nul) - 1, 0);
	assert_true(host_log_contains("NUL byte at offset"));
	assert_string_equal(grubenv_get(env, "b"), "2");
	assert_null(grubenv_get(env, "c"));
	grubenv_free(env);
	env = parse(odd, sizeof(odd) - 1, 0);
	assert_true(host_log_contains("test line 2: no '='"));
	assert_true(host_log_contains("test line 3: variable name of 0 bytes"));
	assert_true(host_log_contains("test line 4: variable name of 8 bytes"));
	assert_string_equal(grubenv_get(env, "ok_1"), "again");
	assert_string_equal(grubenv_get(env, "last"), "no newline");
	assert_int_equal(env->count, 2);
	grubenv_free(env);
	assert_int_equal(grubenv_parse(NULL, "", 0, &env), -VQ_EINVAL);
}

/* Past GRUBENV_VARS_MAX new names are skipped, known ones still set. */
static void test_many(void **state)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s", GRUBENV_SIGNATURE);
	struct grubenv *env;

	for (int i = 0; i < GRUBENV_VARS_MAX + 5; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "v%d=%d\n", i, i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "v3=changed\n");
	env = parse(text, n, 0);
	assert_int_equal(env->count, GRUBENV_VARS_MAX);
	assert_true(host_log_contains("more than 64 variables; v64 skipped"));
	assert_null(grubenv_get(env, "v64"));
	assert_string_equal(grubenv_get(env, "v3"), "changed");
	grubenv_free(env);
}

static void test_expand(void **state)
{
	static const char text[] = GRUBENV_SIGNATURE
		"kernelopts=root=/dev/vda2 ro\n"
		"two=a\\\nb\n"
		"dollar=$kernelopts\n"
		"x=X\n";
	struct grubenv *env = parse(text, sizeof(text) - 1, 0);
	char out[64];

	host_log_clear();
	assert_int_equal(grubenv_expand(env, "rhel.conf", "$kernelopts $tuned_params", out,
					sizeof(out)), 0);
	assert_string_equal(out, "root=/dev/vda2 ro ");
	assert_true(host_log_contains(
		"rhel.conf: $tuned_params is not set in test; it expands to nothing"));
	assert_int_equal(grubenv_expand(env, "e", "${x}y $xy ${x", out, sizeof(out)), 0);
	assert_string_equal(out, "Xy  ${x");
	/* Not references: kept as they are. */
	assert_int_equal(grubenv_expand(env, "e", "$ $$ a$-b ${} 5$", out, sizeof(out)), 0);
	assert_string_equal(out, "$ $$ a$-b ${} 5$");
	/* Values are not expanded again; control bytes become spaces. */
	assert_int_equal(grubenv_expand(env, "e", "$dollar|$two", out, sizeof(out)), 0);
	assert_string_equal(out, "$kernelopts|a b");
	/* No block at all: every use says so. */
	host_log_clear();
	assert_int_equal(grubenv_expand(NULL, "e", "a $kernelopts b", out, sizeof(out)), 0);
	assert_string_equal(out, "a  b");
	assert_true(host_log_contains("$kernelopts is not set (no GRUB environment block found)"));
	/* Too long, by the expansion or the text. */
	assert_int_equal(grubenv_expand(env, "e", "$kernelopts", out, 10), -VQ_E2BIG);
	assert_int_equal(strlen(out), 9);
	assert_int_equal(grubenv_expand(env, "e", "0123456789", out, 10), -VQ_E2BIG);
	assert_int_equal(grubenv_expand(env, "e", "012345678", out, 10), 0);
	assert_int_equal(grubenv_expand(env, "e", "x", out, 0), -VQ_EINVAL);
	assert_true(grubenv_has_vars("a $b"));
	assert_true(grubenv_has_vars("${b}"));
	assert_false(grubenv_has_vars("a $ b $"));
	assert_false(grubenv_has_vars("${}"));
	grubenv_free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_editenv_file),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_expand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
