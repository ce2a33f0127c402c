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

/* ---- a source that reads, as from a disk ---------------------------------- */

struct counting_src {
	unsigned reads;
	int fail;          /* returned instead of reading, when set */
};

static int src_read(void *ctx, void *buf, size_t size)
{
	struct counting_src *c = ctx;

	c->reads++;
	if (c->fail)
		return c->fail;
	memcpy(buf, initrd, size);
	return 0;
}

/* The size query and a buffer too small are answered without a read; each
 * call with room reads again (a stub may ask twice); a read error is
 * returned as it came, with the size. */
static void test_source_reads_only_with_room(void **state)
{
	struct counting_src c = { 0 };
	struct initrd_src src = { sizeof(initrd), src_read, &c };
	uint8_t buf[sizeof(initrd) + 4];
	size_t n = 0;

	(void)state;
	assert_int_equal(initrd_lf2_read(&src, false, &n, NULL), -VQ_ENOSPC);
	assert_int_equal(n, sizeof(initrd));
	n = sizeof(initrd) - 1;
	assert_int_equal(initrd_lf2_read(&src, false, &n, buf), -VQ_ENOSPC);
	assert_int_equal(initrd_lf2_read(&src, true, &n, buf), -VQ_ENOTSUP);
	assert_int_equal(c.reads, 0);
	for (unsigned i = 1; i <= 2; i++) {
		memset(buf, 0xee, sizeof(buf));
		n = sizeof(buf);
		assert_int_equal(initrd_lf2_read(&src, false, &n, buf), 0);
		assert_int_equal(n, sizeof(initrd));
		assert_memory_equal(buf, initrd, sizeof(initrd));
		assert_int_equal(c.reads, i);
	}
	c.fail = -VQ_EIO;
	n = sizeof(buf);
	assert_int_equal(initrd_lf2_read(&src, false, &n, buf), -VQ_EIO);
	assert_int_equal(n, sizeof(initrd));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_query),
		cmocka_unit_test(test_too_small_untouched),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_source_reads_only_with_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
