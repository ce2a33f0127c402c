/* SPDX-License-Identifier: MIT */
/*
 * The initrd's LoadFile2 answer (boot/initrd.c) as the Linux EFI stub asks
 * for it: a size query with a NULL buffer (whatever the size says), a
 * buffer too small, the right buffer; and the calls it refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot/initrd.h"
#include "lib/err.h"

static const uint8_t initrd[37] = "0707010000 an initrd of 37 bytes ...";

/* The stub's first call: NULL and 0; but a stale size must not matter. */
static void test_size_query(void **state)
{
	static const size_t sizes[] = { 0, 1, sizeof(initrd), 1u << 30 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		assert_int_equal(initrd_lf2_load(initrd, sizeof(initrd), false, &n, NULL),
				 -VQ_ENOSPC);
		assert_int_equal(n, sizeof(initrd));
	}
}

static void test_too_small_untouched(void **state)
{
	uint8_t buf[sizeof(initrd)];
	size_t n = sizeof(initrd) - 1;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(initrd_lf2_load(initrd, sizeof(initrd), false, &n, buf),
			 -VQ_ENOSPC);
	assert_int_equal(n, sizeof(initrd));
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

/* A larger buffer gets the bytes, the exact size, and nothing past them. */
static void test_load(void **state)
{
	uint8_t buf[sizeof(initrd) + 8];
	size_t n = sizeof(buf);

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(initrd_lf2_load(initrd, sizeof(initrd), false, &n, buf), 0);
	assert_int_equal(n, sizeof(initrd));
	assert_memory_equal(buf, initrd, sizeof(initrd));
	for (size_t i = sizeof(initrd); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void test_refused(void **state)
{
	uint8_t buf[sizeof(initrd)];
	size_t n = sizeof(buf);

	(void)state;
	assert_int_equal(initrd_lf2_load(initrd, sizeof(initrd), true, &n, buf),
			 -VQ_ENOTSUP);
	assert_int_equal(n, sizeof(buf));
	assert_int_equal(initrd_lf2_load(initrd, sizeof(initrd), false, NULL, buf),
			 -VQ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_query),
		cmocka_unit_test(test_too_small_untouched),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
