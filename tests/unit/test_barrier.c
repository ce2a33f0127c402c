/* SPDX-License-Identifier: MIT */
/*
 * The ring's full barrier is a real fence. On x86-64 it must be MFENCE, not
 * a locked add to the stack: QEMU's TCG before 8.1 translates barriers away
 * for a single vCPU and emulates a locked add without any ordering, while it
 * keeps MFENCE as a fence. The test looks at the machine code vq_mb()
 * compiles to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "virtio/barrier.h"

__attribute__((noinline)) void barrier_full(void);
__attribute__((noinline)) void barrier_full(void)
{
	vq_mb();
}

/* Whether the first bytes of @fn (up to its RET) contain @pat. */
static int code_has(void (*fn)(void), const uint8_t *pat, size_t n)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)fn;

	for (size_t i = 0; i < 64; i++) {
		size_t k = 0;

		while (k < n && p[i + k] == pat[k])
			k++;
		if (k == n)
			return 1;
		if (p[i] == 0xC3) /* RET: the end of this small function */
			break;
	}
	return 0;
}

static void test_full_barrier_is_mfence(void **state)
{
#if defined(__x86_64__)
	static const uint8_t mfence[] = { 0x0F, 0xAE, 0xF0 };
	static const uint8_t lock_add[] = { 0xF0, 0x83 };

	(void)state;
	assert_true(code_has(barrier_full, mfence, sizeof(mfence)));
	assert_false(code_has(barrier_full, lock_add, sizeof(lock_add)));
#else
	(void)state;
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_barrier_is_mfence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
