/* SPDX-License-Identifier: MIT */
/*
 * The split virtqueue against the simulated device (support/ring_sim.c).
 *
 * Device addresses are host addresses + DEV_OFFSET, and the translation the
 * simulator uses fails the test for anything outside the registered DMA
 * areas, so a host pointer in a descriptor cannot go unnoticed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "virtio/virtqueue.h"
#include "tests/support/host_platform.h"
#include "tests/support/ring_sim.h"

#define DEV_OFFSET 0x100000000ULL
#define DATA_SIZE (1u << 20)
#define MAX_DONE 64

struct env {
	struct vq_config cfg;
	struct vq_dma ring;
	uint8_t *data;          /* host side of the data area */
	struct virtqueue *vq;
	struct ring_sim *sim;
	struct ring_sim_chain *chain;
	unsigned notifies;
	bool translate_may_fail; /* return NULL instead of failing the test */

	unsigned ndone;
	void *done_token[MAX_DONE];
	uint32_t done_len[MAX_DONE];
	unsigned ndropped;
};

static struct env *cur; /* for the translation callback */

static uint64_t data_dev(struct env *e, size_t off)
{
	return (uint64_t)(uintptr_t)e->data + DEV_OFFSET + off;
}

static void *in_area(uint64_t addr, size_t len, uint64_t dev, void *host, size_t size)
{
	if (addr < dev || addr - dev > size || len > size - (addr - dev))
		return NULL;
	return (uint8_t *)host + (addr - dev);
}

static void *translate(void *ctx, uint64_t addr, size_t len)
{
	struct env *e = ctx;
	void *p = in_area(addr, len, e->ring.dev, e->ring.host, e->ring.size);

	if (!p)
		p = in_area(addr, len, data_dev(e, 0), e->data, DATA_SIZE);
	if (!p && !e->translate_may_fail)
		fail_msg("device access to 0x%llx+%zu outside DMA memory",
			 (unsigned long long)addr, len);
	return p;
}

static void on_notify(void *ctx, uint16_t index)
{
	struct env *e = ctx;

	assert_int_equal(index, e->cfg.index);
	e->notifies++;
}

static void on_done(void *ctx, void *token, uint32_t len)
{
	struct env *e = ctx;

	assert_true(e->ndone < MAX_DONE);
	e->done_token[e->ndone] = token;
	e->done_len[e->ndone] = len;
	e->ndone++;
}

static void on_dropped(void *ctx, void *token, uint32_t len)
{
	struct env *e = ctx;

	assert_non_null(token);
	assert_int_equal(len, 0);
	e->ndropped++;
}

static void sim_attach(struct env *e)
{
	assert_int_equal(ring_sim_init(e->sim, vq_desc_addr(e->vq), vq_avail_addr(e->vq),
				       vq_used_addr(e->vq), vq_size(e->vq), e->cfg.event_idx,
				       translate, e), 0);
}

static struct env *env_new(uint16_t size, bool event_idx, uint16_t indirect_max,
			   bool legacy)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->cfg = (struct vq_config){ .index = 3, .size = size, .event_idx = event_idx,
				     .indirect_max = indirect_max, .legacy_layout = legacy };
	e->ring.size = vq_dma_size(&e->cfg);
	e->ring.host = aligned_alloc(4096, e->ring.size);
	e->ring.dev = (uint64_t)(uintptr_t)e->ring.host + DEV_OFFSET;
	e->data = aligned_alloc(4096, DATA_SIZE);
	e->sim = calloc(1, sizeof(*e->sim));
	e->chain = calloc(1, sizeof(*e->chain));
	assert_true(e->ring.host && e->data && e->sim && e->chain);
	memset(e->ring.host, 0xee, e->ring.size); /* vq_create must zero it */
	assert_int_equal(vq_create(&e->cfg, &e->ring, on_notify, e, &e->vq), 0);
	cur = e;
	sim_attach(e);
	host_log_clear();
	return e;
}

static void env_free(struct env *e)
{
	vq_destroy(e->vq);
	free(e->ring.host);
	free(e->data);
	free(e->sim);
	free(e->chain);
	free(e);
}

static struct vq_buf buf_at(struct env *e, size_t off, uint32_t len)
{
	return (struct vq_buf){ .addr = data_dev(e, off), .len = len };
}

/* One readable buffer at @off, one writable right after it. */
static int add_simple(struct env *e, size_t off, uint32_t out_len, uint32_t in_len,
		      void *token)
{
	struct vq_buf out = buf_at(e, off, out_len);
	struct vq_buf in = buf_at(e, off + out_len, in_len);

	return vq_add(e->vq, &out, 1, &in, 1, token);
}

static void pop_ok(struct env *e)
{
	int r = ring_sim_pop(e->sim, e->chain);

	if (r != 1)
		fail_msg("pop returned %d: %s", r, e->sim->error);
}

/* ---- layout -------------------------------------------------------------- */

static size_t dma_size(uint16_t q, uint16_t indirect, bool legacy)
{
	struct vq_config c = { .size = q, .indirect_max = indirect, .legacy_layout = legacy };

	return vq_dma_size(&c);
}

static void test_dma_size(void **state)
{
	(void)state;
	assert_int_equal(dma_size(1, 0, false), 4096);
	assert_int_equal(dma_size(4, 0, false), 4096);
	/* 4096 desc + 518 avail -> used at 4616, ends 6670 */
	assert_int_equal(dma_size(256, 0, false), 8192);
	/* legacy: ALIGN(16Q + 6 + 2Q, 4096) + ALIGN(6 + 8Q, 4096) */
	assert_int_equal(dma_size(256, 0, true), 12288);
	/* tables from 6672: 256 * 8 * 16 bytes */
	assert_int_equal(dma_size(256, 8, false), 40960);
	/* indirect tables are at most Q entries (§2.7.5.3.1) */
	assert_int_equal(dma_size(256, 1000, false), 1056768);
	assert_int_equal(dma_size(32768, 0, false), 856064);
	assert_int_equal(dma_size(0, 0, false), 0);
	assert_int_equal(dma_size(3, 0, false), 0);
	assert_int_equal(vq_dma_size(NULL), 0);
}

static void test_layout_offsets(void **state)
{
	struct env *e = env_new(256, false, 0, false);

	(void)state;
	assert_int_equal(vq_desc_addr(e->vq), e->ring.dev);
	assert_int_equal(vq_avail_addr(e->vq) - e->ring.dev, 4096);
	assert_int_equal(vq_used_addr(e->vq) - e->ring.dev, 4616);
	assert_int_equal(vq_size(e->vq), 256);
	assert_int_equal(vq_index(e->vq), 3);
	assert_int_equal(vq_num_free(e->vq), 256);
	assert_int_equal(ring_sim_avail_flags(e->sim), VIRTQ_AVAIL_F_NO_INTERRUPT);
	env_free(e);

	e = env_new(256, false, 0, true);
	assert_int_equal(vq_used_addr(e->vq) - e->ring.dev, 8192);
	env_free(e);

	e = env_new(4, false, 0, true);
	assert_int_equal(vq_avail_addr(e->vq) - e->ring.dev, 64);
	assert_int_equal(vq_used_addr(e->vq) - e->ring.dev, 4096);
	env_free(e);
}

static void test_legacy_round_trip(void **state)
{
	struct env *e = env_new(16, false, 0, true);
	int token;

	(void)state;
	assert_int_equal(add_simple(e, 0, 16, 32, &token), 0);
	assert_true(vq_kick(e->vq));
	pop_ok(e);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, 32), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_ptr_equal(e->done_token[0], &token);
	assert_int_equal(e->done_len[0], 32);
	env_free(e);
}

static void test_create_rejects(void **state)
{
	struct vq_config c = { .size = 8 };
	struct vq_dma m = { 0 };
	struct virtqueue *vq = (struct virtqueue *)0x1;
	void *host = aligned_alloc(4096, 8192);

	(void)state;
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	m = (struct vq_dma){ .host = host, .dev = 0x10000, .size = 100 };
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	m = (struct vq_dma){ .host = host, .dev = 0x10008, .size = 8192 };
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	m = (struct vq_dma){ .host = host, .dev = ~0ULL - 4095, .size = 8192 };
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	m = (struct vq_dma){ .host = host, .dev = 0x10000, .size = 8192 };
	c.size = 12;
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	c.size = 0;
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), -VQ_EINVAL);
	assert_ptr_equal(vq, (struct virtqueue *)0x1); /* untouched on failure */
	c.size = 8;
	assert_int_equal(vq_create(&c, &m, NULL, NULL, &vq), 0);
	vq_destroy(vq);
	free(host);
}

/* ---- basic operation ----------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct env *e = env_new(8, false, 0, false);
	struct vq_stats st;
	char hdr[16], reply[] = "hello from the device";
	int token;

	(void)state;
	memcpy(e->data, "request header!", 16);
	assert_int_equal(add_simple(e, 0, 16, 512, &token), 0);
	assert_int_equal(vq_inflight(e->vq), 1);
	assert_int_equal(vq_num_free(e->vq), 6);
	assert_int_equal(ring_sim_avail_pending(e->sim), 0); /* not yet published */
	assert_true(vq_kick(e->vq));
	assert_int_equal(e->notifies, 1);
	assert_false(vq_kick(e->vq)); /* nothing new */

	pop_ok(e);
	assert_int_equal(e->chain->n_segs, 2);
	assert_int_equal(e->chain->n_readable, 1);
	assert_false(e->chain->indirect);
	assert_int_equal(e->chain->readable_bytes, 16);
	assert_int_equal(e->chain->writable_bytes, 512);
	assert_ptr_equal(e->chain->seg[1].host, e->data + 16);
	assert_int_equal(ring_sim_chain_read(e->chain, 0, hdr, sizeof(hdr)), 16);
	assert_memory_equal(hdr, "request header!", 16);
	assert_int_equal(ring_sim_chain_write(e->chain, 0, reply, sizeof(reply)),
			 sizeof(reply));
	assert_int_equal(vq_collect(e->vq, on_done, e), 0);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, sizeof(reply)), 0);

	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_int_equal(e->ndone, 1);
	assert_ptr_equal(e->done_token[0], &token);
	assert_int_equal(e->done_len[0], sizeof(reply));
	assert_memory_equal(e->data + 16, reply, sizeof(reply));
	assert_int_equal(vq_inflight(e->vq), 0);
	assert_int_equal(vq_num_free(e->vq), 8);
	vq_get_stats(e->vq, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.kicks, 1);
	env_free(e);
}

static void test_out_of_order(void **state)
{
	struct env *e = env_new(16, false, 0, false);
	static const unsigned order[] = { 3, 0, 4, 2, 1 };
	uint16_t heads[5];
	int tokens[5];
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++) {
		struct vq_buf out[2] = { buf_at(e, i * 1024, 8), buf_at(e, i * 1024 + 8, 8) };
		struct vq_buf in = buf_at(e, i * 1024 + 16, 100 + i);

		/* chains of 1..3 descriptors */
		assert_int_equal(vq_add(e->vq, out, i % 3, &in, 1, &tokens[i]), 0);
	}
	assert_int_equal(vq_num_free(e->vq), 16 - (1 + 2 + 3 + 1 + 2));
	vq_kick(e->vq);
	for (i = 0; i < 5; i++) {
		pop_ok(e);
		assert_int_equal(e->chain->n_segs, i % 3 + 1);
		heads[i] = e->chain->head;
	}
	for (i = 0; i < 5; i++)
		assert_int_equal(ring_sim_push(e->sim, heads[order[i]], 100 + order[i]), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 5);
	for (i = 0; i < 5; i++) {
		assert_ptr_equal(e->done_token[i], &tokens[order[i]]);
		assert_int_equal(e->done_len[i], 100 + order[i]);
	}
	assert_int_equal(vq_num_free(e->vq), 16);
	env_free(e);
}

struct readd {
	struct env *e;
	unsigned left;
	unsigned completed;
};

/* A done callback that posts the next chain at once (and tries to nest). */
static void readd_done(void *ctx, void *token, uint32_t len)
{
	struct readd *r = ctx;

	r->completed++;
	assert_int_equal(vq_collect(r->e->vq, readd_done, r), 0); /* no nesting */
	if (r->left) {
		r->left--;
		assert_int_equal(add_simple(r->e, 0, 8, 8, token), 0);
		vq_kick(r->e->vq);
	}
}

static void test_add_from_callback(void **state)
{
	struct env *e = env_new(4, false, 0, false);
	struct readd r = { .e = e, .left = 1000 };
	int tokens[2];
	unsigned i;

	(void)state;
	assert_int_equal(add_simple(e, 0, 8, 8, &tokens[0]), 0);
	assert_int_equal(add_simple(e, 0, 8, 8, &tokens[1]), 0);
	vq_kick(e->vq);
	for (i = 0; i < 2000 && vq_inflight(e->vq); i++) {
		while (ring_sim_avail_pending(e->sim)) {
			pop_ok(e);
			assert_int_equal(ring_sim_push(e->sim, e->chain->head, 8), 0);
		}
		assert_true(vq_collect(e->vq, readd_done, &r) > 0);
	}
	assert_int_equal(r.completed, 1002);
	assert_int_equal(vq_num_free(e->vq), 4);
	env_free(e);
}

/* Fill the queue, get ENOSPC, then recover by completing one chain. */
static void test_enospc_and_recovery(void **state)
{
	struct env *e = env_new(256, false, 0, false);
	int tokens[129];
	unsigned i;

	(void)state;
	for (i = 0; i < 128; i++)
		assert_int_equal(add_simple(e, i * 64, 32, 32, &tokens[i]), 0);
	assert_int_equal(vq_num_free(e->vq), 0);
	assert_int_equal(vq_inflight(e->vq), 128);
	assert_int_equal(add_simple(e, 0, 32, 32, &tokens[128]), -VQ_ENOSPC);
	vq_kick(e->vq);
	for (i = 0; i < 128; i++)
		pop_ok(e);
	/* complete chain 7 (descriptors 14 and 15): both come back */
	assert_int_equal(ring_sim_push(e->sim, 15, 32), -1); /* not a head */
	assert_int_equal(ring_sim_push(e->sim, 14, 32), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_int_equal(vq_num_free(e->vq), 2);
	assert_int_equal(add_simple(e, 0, 32, 32, &tokens[128]), 0);
	assert_int_equal(add_simple(e, 0, 32, 32, &tokens[128]), -VQ_ENOSPC);
	vq_reset(e->vq, on_dropped, e);
	assert_int_equal(e->ndropped, 128);
	env_free(e);
}

static void test_invalid_chains(void **state)
{
	struct env *e = env_new(8, false, 4, false);
	struct vq_buf b[9];
	struct vq_buf big[2] = { { 0x1000, 0x80000000u }, { 0x90000000, 0x80000000u } };
	struct vq_buf over[2] = { { 0x1000, 0x80000000u }, { 0x90000000, 0x80000001u } };
	struct vq_buf wrap = { ~0ULL - 10, 100 };
	int token;
	unsigned i;

	(void)state;
	for (i = 0; i < 9; i++)
		b[i] = buf_at(e, i * 16, 16);
	assert_int_equal(vq_add(e->vq, b, 0, b, 0, &token), -VQ_EINVAL);
	assert_int_equal(vq_add(e->vq, NULL, 1, b, 0, &token), -VQ_EINVAL);
	assert_int_equal(vq_add(e->vq, b, 1, b, 1, NULL), -VQ_EINVAL);
	b[1].len = 0;
	assert_int_equal(vq_add(e->vq, b, 2, b, 0, &token), -VQ_EINVAL);
	b[1].len = 16;
	assert_int_equal(vq_add(e->vq, over, 1, over + 1, 1, &token), -VQ_EINVAL);
	assert_int_equal(vq_add(e->vq, &wrap, 1, NULL, 0, &token), -VQ_EINVAL);
	/* 9 buffers never fit a queue of 8 with 4-entry tables */
	assert_int_equal(vq_add(e->vq, b, 5, b, 4, &token), -VQ_EINVAL);
	assert_int_equal(vq_add(e->vq, b, 1, b, 70000, &token), -VQ_EINVAL);
	assert_int_equal(vq_num_free(e->vq), 8);
	assert_int_equal(vq_inflight(e->vq), 0);
	/* exactly 4 GiB is allowed (§2.7.5) */
	assert_int_equal(vq_add(e->vq, big, 1, big + 1, 1, &token), 0);
	vq_reset(e->vq, on_dropped, e);
	assert_int_equal(e->ndropped, 1);
	env_free(e);
}

/* ---- indirect ------------------------------------------------------------ */

static void test_indirect(void **state)
{
	struct env *e = env_new(8, false, 8, false);
	struct vq_buf b[8];
	struct vq_stats st;
	int tokens[10];
	uint16_t heads[8];
	unsigned i, j;

	(void)state;
	for (i = 0; i < 8; i++)
		b[i] = buf_at(e, i * 4096, 100 + i);
	/* 8 chains of 6 buffers: one descriptor each */
	for (i = 0; i < 8; i++)
		assert_int_equal(vq_add(e->vq, b, 2, b + 2, 4, &tokens[i]), 0);
	assert_int_equal(vq_num_free(e->vq), 0);
	assert_int_equal(vq_add(e->vq, b, 2, b + 2, 4, &tokens[8]), -VQ_ENOSPC);
	vq_kick(e->vq);
	for (i = 0; i < 8; i++) {
		pop_ok(e);
		assert_true(e->chain->indirect);
		assert_int_equal(e->chain->n_segs, 6);
		assert_int_equal(e->chain->n_readable, 2);
		for (j = 0; j < 6; j++) {
			assert_int_equal(e->chain->seg[j].addr, b[j].addr);
			assert_int_equal(e->chain->seg[j].len, b[j].len);
			assert_int_equal(e->chain->seg[j].writable, j >= 2);
		}
		assert_int_equal(e->chain->writable_bytes, 102 + 103 + 104 + 105);
		heads[i] = e->chain->head;
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(ring_sim_push(e->sim, heads[7 - i], 50), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 8);
	assert_int_equal(vq_num_free(e->vq), 8);

	/* a single buffer goes direct even with indirect negotiated */
	assert_int_equal(vq_add(e->vq, b, 1, NULL, 0, &tokens[8]), 0);
	assert_int_equal(vq_num_free(e->vq), 7);
	vq_kick(e->vq);
	pop_ok(e);
	assert_false(e->chain->indirect);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, 0), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	vq_get_stats(e->vq, &st);
	assert_int_equal(st.indirect, 8);
	env_free(e);
}

/* Longer than the tables: falls back to a direct chain. */
static void test_indirect_fallback(void **state)
{
	struct env *e = env_new(8, false, 4, false);
	struct vq_buf b[6];
	int token;
	unsigned i;

	(void)state;
	for (i = 0; i < 6; i++)
		b[i] = buf_at(e, i * 64, 64);
	assert_int_equal(vq_add(e->vq, b, 3, b + 3, 3, &token), 0);
	assert_int_equal(vq_num_free(e->vq), 2);
	assert_int_equal(vq_add(e->vq, b, 3, b + 3, 3, &token), -VQ_ENOSPC);
	vq_kick(e->vq);
	pop_ok(e);
	assert_false(e->chain->indirect);
	assert_int_equal(e->chain->n_segs, 6);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, 192), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_int_equal(e->done_len[0], 192);
	assert_int_equal(vq_num_free(e->vq), 8);
	env_free(e);
}

/* ---- notification suppression -------------------------------------------- */

static void add_and_kick(struct env *e, void *token, bool expect_notify)
{
	assert_int_equal(add_simple(e, 0, 8, 8, token), 0);
	assert_int_equal(vq_kick(e->vq), expect_notify);
}

static void test_no_notify(void **state)
{
	struct env *e = env_new(16, false, 0, false);
	struct vq_stats st;
	int token;

	(void)state;
	add_and_kick(e, &token, true);
	ring_sim_set_no_notify(e->sim, true);
	add_and_kick(e, &token, false);
	add_and_kick(e, &token, false);
	ring_sim_set_no_notify(e->sim, false);
	add_and_kick(e, &token, true);
	assert_int_equal(e->notifies, 2);
	assert_int_equal(ring_sim_avail_pending(e->sim), 4);
	vq_get_stats(e->vq, &st);
	assert_int_equal(st.kicks, 2);
	assert_int_equal(st.kicks_suppressed, 2);
	env_free(e);
}

static void test_event_idx(void **state)
{
	struct env *e = env_new(16, true, 0, false);
	int token;

	(void)state;
	e->sim->auto_avail_event = false;
	/* avail_event 0: kick when the index moves past 0 */
	add_and_kick(e, &token, true);   /* 0 -> 1 */
	add_and_kick(e, &token, false);  /* 1 -> 2: already past 0 */
	ring_sim_set_avail_event(e->sim, 2);
	add_and_kick(e, &token, true);   /* 2 -> 3 crosses 2 */
	ring_sim_set_avail_event(e->sim, 4);
	assert_int_equal(add_simple(e, 0, 8, 8, &token), 0);
	add_and_kick(e, &token, true);   /* 3 -> 5 crosses 4 */
	add_and_kick(e, &token, false);  /* 5 -> 6 */
	ring_sim_set_avail_event(e->sim, 100);
	add_and_kick(e, &token, false);  /* 6 -> 7 */
	assert_int_equal(e->notifies, 3);
	/* our used_event asks for no interrupts: one behind last_used */
	assert_int_equal(ring_sim_used_event(e->sim), 0xffff);
	env_free(e);
}

/* §2.7.7.1: with EVENT_IDX the driver MUST keep avail->flags 0 (it says
 * "no interrupts" through used_event instead), also after a reset. */
static void test_event_idx_avail_flags_zero(void **state)
{
	struct env *e = env_new(16, true, 0, false);
	int token;

	(void)state;
	assert_int_equal(ring_sim_avail_flags(e->sim), 0);
	add_and_kick(e, &token, true);
	pop_ok(e);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, 8), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_int_equal(ring_sim_avail_flags(e->sim), 0);
	vq_reset(e->vq, on_dropped, e);
	assert_int_equal(ring_sim_avail_flags(e->sim), 0);
	env_free(e);
}

/* With the device asking after every pop, every kick notifies across the
 * 16-bit wrap; and our used_event trails last_used. */
static void test_event_idx_wrap(void **state)
{
	struct env *e = env_new(4, true, 0, false);
	int token;
	unsigned i;

	(void)state;
	for (i = 0; i < 70000; i++) {
		add_and_kick(e, &token, true);
		pop_ok(e);
		assert_int_equal(ring_sim_push(e->sim, e->chain->head, 8), 0);
		assert_int_equal(vq_collect(e->vq, NULL, NULL), 1);
		assert_int_equal(ring_sim_used_event(e->sim), (uint16_t)(i + 1 - 1));
	}
	assert_int_equal(e->notifies, 70000);
	env_free(e);
}

/* ---- long runs with wrap --------------------------------------------------- */

struct slot {
	uint32_t seq;
	bool busy;
};

struct run {
	struct env *e;
	struct slot *slots;
	uint32_t seq;
	uint64_t rng;
	uint64_t completed;
	uint16_t *pending; /* popped, not pushed */
	unsigned npending;
};

static uint32_t rnd(struct run *r)
{
	r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(r->rng >> 33);
}

/* Slot k's buffers: 4 readable bytes (its sequence number) at k*64, then
 * one or two writable buffers of 4 and 8 bytes. */
static int run_add(struct run *r, unsigned k)
{
	struct env *e = r->e;
	struct vq_buf out = buf_at(e, k * 64, 4);
	struct vq_buf in[2] = { buf_at(e, k * 64 + 8, 4), buf_at(e, k * 64 + 16, 8) };
	uint32_t seq = r->seq;
	int ret;

	memcpy(e->data + k * 64, &seq, 4);
	ret = vq_add(e->vq, &out, 1, in, 1 + rnd(r) % 2, &r->slots[k]);
	if (ret == 0) {
		r->slots[k].seq = seq;
		r->slots[k].busy = true;
		r->seq++;
	}
	return ret;
}

static void run_done(void *ctx, void *token, uint32_t len)
{
	struct run *r = ctx;
	struct slot *s = token;
	size_t k = (size_t)(s - r->slots);
	uint32_t reply;

	assert_true(s->busy);
	assert_int_equal(len, 4);
	memcpy(&reply, r->e->data + k * 64 + 8, 4);
	assert_int_equal(reply, s->seq ^ 0xa5a5a5a5u);
	s->busy = false;
	r->completed++;
}

/* The device: echo seq ^ 0xa5a5a5a5 into the first writable buffer. */
static void run_device_pop(struct run *r)
{
	struct env *e = r->e;
	uint32_t seq;

	while (ring_sim_avail_pending(e->sim)) {
		pop_ok(e);
		assert_int_equal(ring_sim_chain_read(e->chain, 0, &seq, 4), 4);
		seq ^= 0xa5a5a5a5u;
		assert_int_equal(ring_sim_chain_write(e->chain, 0, &seq, 4), 4);
		r->pending[r->npending++] = e->chain->head;
	}
}

static void run_device_push_some(struct run *r)
{
	unsigned n = r->npending ? 1 + rnd(r) % r->npending : 0;

	while (n--) {
		unsigned i = rnd(r) % r->npending;

		assert_int_equal(ring_sim_push(r->e->sim, r->pending[i], 4), 0);
		r->pending[i] = r->pending[--r->npending];
	}
}

static void run_many(uint16_t q, uint16_t indirect_max, unsigned ops)
{
	struct run r = { .rng = q };
	unsigned i, k, rounds = 0;

	r.e = env_new(q, true, indirect_max, false);
	r.slots = calloc(q, sizeof(*r.slots));
	r.pending = calloc(q, sizeof(*r.pending));
	assert_true(r.slots && r.pending && (size_t)q * 64 <= DATA_SIZE);
	for (i = 0; i < ops;) {
		/* add a random number of chains to free slots until ENOSPC */
		unsigned want = 1 + rnd(&r) % q;

		if (++rounds > ops)
			fail_msg("stalled after %u chains: %u free, %u in flight", i,
				 vq_num_free(r.e->vq), vq_inflight(r.e->vq));
		for (k = 0; k < q && want; k++) {
			if (r.slots[k].busy)
				continue;
			if (run_add(&r, k) < 0)
				break;
			want--;
			i++;
		}
		vq_kick(r.e->vq);
		run_device_pop(&r);
		run_device_push_some(&r);
		assert_true(vq_collect(r.e->vq, run_done, &r) >= 0);
	}
	while (r.npending) {
		run_device_push_some(&r);
		assert_true(vq_collect(r.e->vq, run_done, &r) >= 0);
	}
	assert_int_equal(r.completed, r.seq);
	assert_int_equal(vq_inflight(r.e->vq), 0);
	assert_int_equal(vq_num_free(r.e->vq), q);
	assert_true(r.completed > 65536 * 3); /* the indices wrapped */
	assert_false(vq_is_broken(r.e->vq));
	free(r.slots);
	free(r.pending);
	env_free(r.e);
}

static void test_wrap_q4(void **state)
{
	(void)state;
	run_many(4, 0, 210000);
}

static void test_wrap_q256(void **state)
{
	(void)state;
	run_many(256, 0, 210000);
}

static void test_wrap_q16_indirect(void **state)
{
	(void)state;
	run_many(16, 4, 210000);
}

/* ---- a device that breaks the rules --------------------------------------- */

/* Two chains in flight, popped: a 2-descriptor one and a 3-descriptor one. */
static struct env *broken_env(uint16_t q, uint16_t *heads)
{
	struct env *e = env_new(q, false, 0, false);
	static int tokens[2];
	struct vq_buf b[3] = { buf_at(e, 0, 16), buf_at(e, 16, 16), buf_at(e, 32, 16) };

	assert_int_equal(vq_add(e->vq, b, 1, b + 1, 1, &tokens[0]), 0);
	assert_int_equal(vq_add(e->vq, b, 1, b + 1, 2, &tokens[1]), 0);
	vq_kick(e->vq);
	pop_ok(e);
	heads[0] = e->chain->head;
	pop_ok(e);
	heads[1] = e->chain->head;
	return e;
}

static void expect_broken(struct env *e, const char *reason, const char *log)
{
	int token;

	assert_int_equal(vq_collect(e->vq, on_done, e), -VQ_EBROKEN);
	assert_true(vq_is_broken(e->vq));
	assert_non_null(vq_broken_reason(e->vq));
	if (!strstr(vq_broken_reason(e->vq), reason))
		fail_msg("reason '%s' lacks '%s'", vq_broken_reason(e->vq), reason);
	if (log && !host_log_contains(log))
		fail_msg("log '%s' lacks '%s'", host_log_last(), log);
	/* dead until reset */
	assert_int_equal(vq_collect(e->vq, on_done, e), -VQ_EBROKEN);
	assert_int_equal(add_simple(e, 0, 8, 8, &token), -VQ_EBROKEN);
	assert_false(vq_kick(e->vq));

	/* after a device reset, vq_reset brings the queue back */
	e->ndropped = 0;
	vq_reset(e->vq, on_dropped, e);
	assert_false(vq_is_broken(e->vq));
	assert_null(vq_broken_reason(e->vq));
	assert_int_equal(vq_inflight(e->vq), 0);
	assert_int_equal(vq_num_free(e->vq), vq_size(e->vq));
	sim_attach(e);
	e->ndone = 0;
	assert_int_equal(add_simple(e, 0, 8, 8, &token), 0);
	assert_true(vq_kick(e->vq));
	pop_ok(e);
	assert_int_equal(ring_sim_push(e->sim, e->chain->head, 8), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	assert_ptr_equal(e->done_token[0], &token);
}

static void test_bad_id(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(256, h);

	(void)state;
	ring_sim_push_raw(e->sim, 300, 0);
	expect_broken(e, "out of range", "vq 3: used id 300 out of range (size 256)");
	assert_int_equal(e->ndropped, 2);
	env_free(e);
}

static void test_id_not_head(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	/* the second descriptor of the first chain */
	ring_sim_push_raw(e->sim, (uint16_t)(h[0] + 1), 0);
	expect_broken(e, "not an in-flight", "used id 1 is not");
	env_free(e);
}

static void test_id_free(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	ring_sim_push_raw(e->sim, 12, 0);
	expect_broken(e, "not an in-flight", NULL);
	env_free(e);
}

static void test_len_too_large(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	assert_int_equal(ring_sim_push(e->sim, h[1], 32), 0); /* 2 x 16 writable: ok */
	ring_sim_push_raw(e->sim, h[0], 17);                   /* 16 writable */
	expect_broken(e, "len exceeds", "len 17 exceeds 16 writable");
	assert_int_equal(e->ndropped, 1); /* the other was collected */
	env_free(e);
}

static void test_idx_runs_ahead(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	ring_sim_set_used_idx(e->sim, 3);
	expect_broken(e, "runs ahead", "only 2 in flight");
	env_free(e);
}

/* A chain added but not kicked is in flight, yet the device cannot have
 * seen it: used->idx counting it runs ahead, and nothing is completed. */
static void test_idx_runs_ahead_of_published(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);
	int token;

	(void)state;
	assert_int_equal(add_simple(e, 64, 8, 8, &token), 0); /* not kicked */
	assert_int_equal(vq_inflight(e->vq), 3);
	assert_int_equal(ring_sim_push(e->sim, h[0], 0), 0);
	assert_int_equal(ring_sim_push(e->sim, h[1], 0), 0);
	ring_sim_push_raw(e->sim, 5, 0);
	/* Refused as a whole: not even the two good elements complete. */
	assert_int_equal(vq_collect(e->vq, on_done, e), -VQ_EBROKEN);
	assert_int_equal(e->ndone, 0);
	expect_broken(e, "runs ahead", "only 2 in flight and published");
	assert_int_equal(e->ndropped, 3);
	env_free(e);
}

static void test_idx_runs_backwards(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	ring_sim_set_used_idx(e->sim, 0xffff);
	expect_broken(e, "runs ahead", NULL);
	assert_int_equal(e->ndropped, 2);
	env_free(e);
}

/* Same id twice within one collect, caught before the second callback. */
static void test_duplicate_completion(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	assert_int_equal(ring_sim_push(e->sim, h[1], 4), 0);
	ring_sim_push_raw(e->sim, h[1], 4);
	expect_broken(e, "not an in-flight", NULL);
	assert_int_equal(e->ndropped, 1);
	env_free(e);
}

/* The device completes a chain we added but never made available. */
static void test_id_unpublished(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);
	int token;

	(void)state;
	assert_int_equal(add_simple(e, 64, 8, 8, &token), 0); /* head 5, not kicked */
	ring_sim_push_raw(e->sim, 5, 0);
	expect_broken(e, "not yet made available", "used id 5 names a chain not yet");
	assert_int_equal(e->ndropped, 3);
	env_free(e);
}

/* The largest queue: every descriptor in flight, all completed in one go,
 * so pending and inflight reach 32768. */
static void test_max_queue(void **state)
{
	struct env *e = env_new(VQ_MAX_SIZE, true, 0, false);
	uint16_t *heads = calloc(VQ_MAX_SIZE, sizeof(*heads));
	struct vq_buf b = buf_at(e, 0, 8);
	static int token;
	unsigned round, n;

	(void)state;
	assert_non_null(heads);
	for (round = 0; round < 3; round++) {
		for (n = 0; n < VQ_MAX_SIZE; n++)
			assert_int_equal(vq_add(e->vq, &b, 1, NULL, 0, &token), 0);
		assert_int_equal(vq_add(e->vq, &b, 1, NULL, 0, &token), -VQ_ENOSPC);
		assert_int_equal(vq_inflight(e->vq), VQ_MAX_SIZE);
		assert_int_equal(vq_num_free(e->vq), 0);
		vq_kick(e->vq);
		for (n = 0; ring_sim_pop(e->sim, e->chain) == 1; n++)
			heads[n] = e->chain->head;
		assert_int_equal(n, VQ_MAX_SIZE);
		while (n--)
			assert_int_equal(ring_sim_push(e->sim, heads[n], 0), 0);
		assert_int_equal(vq_collect(e->vq, NULL, NULL), VQ_MAX_SIZE);
		assert_int_equal(vq_num_free(e->vq), VQ_MAX_SIZE);
		assert_int_equal(vq_inflight(e->vq), 0);
	}
	free(heads);
	env_free(e);
}

/* A completion repeated in a later collect. */
static void test_duplicate_later(void **state)
{
	uint16_t h[2];
	struct env *e = broken_env(16, h);

	(void)state;
	assert_int_equal(ring_sim_push(e->sim, h[0], 4), 0);
	assert_int_equal(vq_collect(e->vq, on_done, e), 1);
	ring_sim_push_raw(e->sim, h[0], 4);
	expect_broken(e, "not an in-flight", NULL);
	env_free(e);
}

/* Garbage in every byte the device owns: never a crash, only broken. */
static void test_garbage_used_ring(void **state)
{
	struct env *e = env_new(8, true, 4, false);
	uint64_t rng = 12345;
	unsigned round, i;
	int token[8];

	(void)state;
	for (round = 0; round < 2000; round++) {
		uint8_t *used = (uint8_t *)e->ring.host + (vq_used_addr(e->vq) - e->ring.dev);
		int r;

		for (i = 0; i < 3; i++)
			add_simple(e, i * 64, 8, 8, &token[i]);
		vq_kick(e->vq);
		for (i = 0; i < 6 + 8 * 8; i++) {
			rng = rng * 6364136223846793005ULL + 1;
			if ((rng >> 60) < 4)
				used[i] = (uint8_t)(rng >> 40);
		}
		r = vq_collect(e->vq, on_done, e);
		e->ndone = 0;
		assert_true(r >= 0 || r == -VQ_EBROKEN);
		assert_true(vq_num_free(e->vq) + vq_inflight(e->vq) <= 8);
		if (r < 0 || vq_inflight(e->vq) > 4) {
			vq_reset(e->vq, NULL, NULL);
			assert_int_equal(vq_num_free(e->vq), 8);
		}
	}
	env_free(e);
}

/* The harness itself: a host pointer in a descriptor is caught. */
static void test_host_pointer_caught(void **state)
{
	struct env *e = env_new(8, false, 0, false);
	struct vq_buf b = { .addr = (uint64_t)(uintptr_t)e->data, .len = 64 };
	int token;

	(void)state;
	assert_int_equal(vq_add(e->vq, &b, 1, NULL, 0, &token), 0);
	vq_kick(e->vq);
	e->translate_may_fail = true;
	assert_int_equal(ring_sim_pop(e->sim, e->chain), -1);
	assert_non_null(strstr(e->sim->error, "not DMA memory"));
	env_free(e);
}

static void test_reset_drops(void **state)
{
	struct env *e = env_new(8, false, 4, false);
	struct vq_buf b[3] = { buf_at(e, 0, 16), buf_at(e, 16, 16), buf_at(e, 32, 16) };
	int tokens[3];
	uint16_t *avail = (uint16_t *)((uint8_t *)e->ring.host + 128);

	(void)state;
	assert_int_equal(vq_add(e->vq, b, 1, b + 1, 2, &tokens[0]), 0);
	assert_int_equal(vq_add(e->vq, b, 1, NULL, 0, &tokens[1]), 0);
	vq_kick(e->vq);
	assert_int_equal(vq_add(e->vq, b, 3, NULL, 0, &tokens[2]), 0); /* not kicked */
	assert_int_equal(avail[1], 2);
	vq_reset(e->vq, on_dropped, e);
	assert_int_equal(e->ndropped, 3);
	assert_int_equal(vq_inflight(e->vq), 0);
	assert_int_equal(vq_num_free(e->vq), 8);
	assert_int_equal(avail[1], 0);
	assert_int_equal(avail[0], VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(vq_kick(e->vq));
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dma_size),
		cmocka_unit_test(test_layout_offsets),
		cmocka_unit_test(test_legacy_round_trip),
		cmocka_unit_test(test_create_rejects),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_add_from_callback),
		cmocka_unit_test(test_enospc_and_recovery),
		cmocka_unit_test(test_invalid_chains),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_indirect_fallback),
		cmocka_unit_test(test_no_notify),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_event_idx_wrap),
		cmocka_unit_test(test_event_idx_avail_flags_zero),
		cmocka_unit_test(test_wrap_q4),
		cmocka_unit_test(test_wrap_q256),
		cmocka_unit_test(test_wrap_q16_indirect),
		cmocka_unit_test(test_bad_id),
		cmocka_unit_test(test_id_not_head),
		cmocka_unit_test(test_id_free),
		cmocka_unit_test(test_len_too_large),
		cmocka_unit_test(test_idx_runs_ahead),
		cmocka_unit_test(test_idx_runs_backwards),
		cmocka_unit_test(test_idx_runs_ahead_of_published),
		cmocka_unit_test(test_id_unpublished),
		cmocka_unit_test(test_max_queue),
		cmocka_unit_test(test_duplicate_completion),
		cmocka_unit_test(test_duplicate_later),
		cmocka_unit_test(test_garbage_used_ring),
		cmocka_unit_test(test_host_pointer_caught),
		cmocka_unit_test(test_reset_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
