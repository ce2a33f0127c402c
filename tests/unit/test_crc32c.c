/* SPDX-License-Identifier: MIT */
/* CRC-32C against the check value of the catalogue and RFC 3720's vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lib/crc32c.h"

static void test_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
}

/* RFC 3720 B.4: 32 bytes of zeros, of 0xff, and ascending 0..31. */
static void test_iscsi_vectors(void **state)
{
	uint8_t b[32];

	(void)state;
	memset(b, 0, sizeof(b));
	assert_int_equal(crc32c(b, sizeof(b)), 0x8A9136AAu);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(crc32c(b, sizeof(b)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc32c(b, sizeof(b)), 0x46DD794Eu);
}

static void test_pieces(void **state)
{
	const char *s = "123456789";

	(void)state;
	assert_int_equal(~crc32c_update(crc32c_update(~0u, s, 4), s + 4, 5),
			 0xE3069283u);
	assert_int_equal(crc32c(s, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_iscsi_vectors),
		cmocka_unit_test(test_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
