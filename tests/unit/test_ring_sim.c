/* SPDX-License-Identifier: MIT */
/*
 * The ring simulator's own checks, against a driver written by hand into a
 * ring: what the real driver never does must still be caught, or the tests
 * that run the real driver against ring_sim could not fail on it. Here: a
 * descriptor reused while its chain is in flight (a free-list bug), a head
 * posted twice, a chain completed twice, and the same descriptors posted
 * again once the device used them (legal).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/support/ring_sim.h"
#include "virtio/virtqueue.h"

#define Q 8
#define DEV 0x1000000000ULL /* device addresses differ from host ones */

static struct {
	struct virtq_desc desc[Q];
	uint16_t avail[3 + Q];       /* flags, idx, ring[Q], used_event */
	struct {
		uint16_t flags, idx;
		struct { uint32_t id, len; } ring[Q];
		uint16_t avail_event;
	} __attribute__((aligned(4))) used;
	uint8_t data[Q][64];
} __attribute__((aligned(16))) mem;

static struct ring_sim sim;
static struct ring_sim_chain chain;

static void *translate(void *ctx, uint64_t dev, size_t len)
{
	(void)ctx;
	if (dev < DEV || dev - DEV > sizeof(mem) || len > sizeof(mem) - (dev - DEV))
		return NULL;
	return (uint8_t *)&mem + (dev - DEV);
}

static uint64_t dev_of(const void *p)
{
	return DEV + (uint64_t)((const uint8_t *)p - (const uint8_t *)&mem);
}

static int setup(void **state)
{
	(void)state;
	memset(&mem, 0, sizeof(mem));
	return ring_sim_init(&sim, dev_of(mem.desc), dev_of(mem.avail),
			     dev_of(&mem.used), Q, false, translate, NULL);
}

/* Descriptor @i: one buffer, then @next (or the end when next < 0). */
static void desc(unsigned i, int next, bool writable)
{
	mem.desc[i] = (struct virtq_desc){
		.addr = dev_of(mem.data[i]),
		.len = sizeof(mem.data[i]),
		.flags = (uint16_t)((next >= 0 ? VIRTQ_DESC_F_NEXT : 0) |
				    (writable ? VIRTQ_DESC_F_WRITE : 0)),
		.next = (uint16_t)(next >= 0 ? next : 0),
	};
}

/* Publish chain @head in the avail ring. */
static void post(uint16_t head)
{
	uint16_t idx = mem.avail[1];

	mem.avail[2 + idx % Q] = head;
	mem.avail[1] = (uint16_t)(idx + 1);
}

/* Chain 0 -> 1 -> 2 in flight; a second chain 3 -> 1 reuses descriptor 1. */
static void test_reused_descriptor_caught(void **state)
{
	(void)state;
	desc(0, 1, false), desc(1, 2, false), desc(2, -1, true);
	post(0);
	assert_int_equal(ring_sim_pop(&sim, &chain), 1);
	desc(3, 1, false); /* the bug: 1 is still chain 0's */
	post(3);
	assert_int_equal(ring_sim_pop(&sim, &chain), -1);
	assert_non_null(strstr(sim.error, "descriptor 1 is still in flight (chain 0)"));
	/* Chain 0 is unaffected: its completion is still accepted. */
	assert_int_equal(ring_sim_push(&sim, 0, 64), 0);
}

/* The same descriptors in a new chain after the device used them: fine. */
static void test_reuse_after_use_allowed(void **state)
{
	(void)state;
	desc(0, 1, false), desc(1, -1, true);
	post(0);
	assert_int_equal(ring_sim_pop(&sim, &chain), 1);
	assert_int_equal(ring_sim_push(&sim, 0, 64), 0);
	desc(5, 1, false), desc(1, 0, true), desc(0, -1, true);
	post(5);
	assert_int_equal(ring_sim_pop(&sim, &chain), 1);
	assert_int_equal(chain.n_segs, 3);
	assert_int_equal(ring_sim_push(&sim, 5, 128), 0);
}

/* A head posted while its chain is in flight, and a double completion. */
static void test_head_twice(void **state)
{
	(void)state;
	desc(4, -1, true);
	post(4);
	post(4);
	assert_int_equal(ring_sim_pop(&sim, &chain), 1);
	assert_int_equal(ring_sim_pop(&sim, &chain), -1);
	assert_non_null(strstr(sim.error, "already in flight"));
	assert_int_equal(ring_sim_push(&sim, 4, 1), 0);
	assert_int_equal(ring_sim_push(&sim, 4, 1), -1);
	assert_non_null(strstr(sim.error, "not outstanding"));
}

/* The tail of one in-flight chain as the head of another. */
static void test_tail_as_head_caught(void **state)
{
	(void)state;
	desc(6, 7, false), desc(7, -1, true);
	post(6);
	assert_int_equal(ring_sim_pop(&sim, &chain), 1);
	post(7);
	assert_int_equal(ring_sim_pop(&sim, &chain), -1);
	assert_non_null(strstr(sim.error, "descriptor 7 is still in flight (chain 6)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reused_descriptor_caught, setup),
		cmocka_unit_test_setup(test_reuse_after_use_allowed, setup),
		cmocka_unit_test_setup(test_head_twice, setup),
		cmocka_unit_test_setup(test_tail_as_head_caught, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
