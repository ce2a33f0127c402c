/* SPDX-License-Identifier: MIT */
/*
 * lib/fmt.c, the formatter every log and console line goes through: each
 * conversion it documents against the C library's snprintf, truncation and
 * the returned length, and what it does with formats it does not know.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/fmt.h"

/* Both formatters on the same format and arguments must agree. */
#define SAME(...)                                                              \
	do {                                                                   \
		char ours[256], libc[256];                                     \
		int n1 = vq_snprintf(ours, sizeof(ours), __VA_ARGS__);         \
		int n2 = snprintf(libc, sizeof(libc), __VA_ARGS__);            \
		assert_string_equal(ours, libc);                               \
		assert_int_equal(n1, n2);                                      \
	} while (0)

static void test_integers(void **state)
{
	(void)state;
	SAME("%d %i %u", 0, -1, 4000000000u);
	SAME("%d %d", INT32_MIN, INT32_MAX);
	SAME("%ld %lu", (long)INT64_MIN, (unsigned long)UINT64_MAX);
	SAME("%lld %llu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
	SAME("%zu %zx", (size_t)123456789, (size_t)0xdeadbeef);
	SAME("%x %X %08x %-6x|", 0xabcdefu, 0xabcdefu, 0x1fu, 0x2au);
	SAME("%hu %hd", (unsigned short)65535, (short)-2);
	SAME("%5d|%-5d|%05d|%05d", 42, 42, 42, -42);
	SAME("%*d|%-*d|", 6, 7, 6, 7);
	SAME("%llx", 0x123456789abcdef0ull);
}

static void test_strings_chars(void **state)
{
	const char unterminated[3] = { 'a', 'b', 'c' };

	(void)state;
	SAME("%s|%10s|%-10s|", "abc", "abc", "abc");
	SAME("%.2s|%.*s|%.0s|", "abcdef", 3, "abcdef", "x");
	/* The precision bounds the read: no NUL is needed after it. */
	SAME("%.3s", unterminated);
	SAME("%c%c%c", 'v', 'q', '!');
	SAME("100%%");
}

/* The odd cases go through a pointer to the formatter, out of the reach of
 * the compiler's format checks (they are what is tested here). */
static int (*volatile fmt_unchecked)(char *, size_t, const char *, ...) = vq_snprintf;

static void test_null_and_pointer(void **state)
{
	char buf[64];

	(void)state;
	fmt_unchecked(buf, sizeof(buf), "%s", (const char *)NULL);
	assert_string_equal(buf, "(null)");
	vq_snprintf(buf, sizeof(buf), "%p", (void *)(uintptr_t)0x1234);
	assert_string_equal(buf, "0x1234");
}

static void test_truncation(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(vq_snprintf(buf, sizeof(buf), "%s-%d", "abcdef", 12345), 12);
	assert_string_equal(buf, "abcdef-");
	/* Size 1: only the NUL; size 0: nothing written at all. */
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(vq_snprintf(buf, 1, "hello"), 5);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'X');
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(vq_snprintf(buf, 0, "hello"), 5);
	assert_int_equal(buf[0], 'X');
	assert_int_equal(vq_snprintf(NULL, 0, "%u", 1234567u), 7);
}

static void test_odd_formats(void **state)
{
	char buf[32];

	(void)state;
	/* A lone % at the end is dropped; an unknown conversion is kept as
	 * text, so a bad format shows in the log rather than eating args. */
	fmt_unchecked(buf, sizeof(buf), "50%");
	assert_string_equal(buf, "50");
	fmt_unchecked(buf, sizeof(buf), "%q %d", 3);
	assert_string_equal(buf, "%q 3");
	fmt_unchecked(buf, sizeof(buf), "");
	assert_string_equal(buf, "");
}

static int wrapper(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vq_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void test_va_list(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(wrapper(buf, sizeof(buf), "%s=%u", "n", 9u), 3);
	assert_string_equal(buf, "n=9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_strings_chars),
		cmocka_unit_test(test_null_and_pointer),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_odd_formats),
		cmocka_unit_test(test_va_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
