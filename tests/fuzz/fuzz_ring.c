/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the split virtqueue against a device that writes
 * anything anywhere in the ring memory.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_ring); run: `make fuzz`.
 *
 * The input is a configuration byte followed by a little program: add
 * chains, kick, let the simulated device (support/ring_sim.c) pop and
 * complete them properly, scribble over descriptors, avail and used rings,
 * publish bogus used elements and indices, collect, reset. Besides "never
 * crash", the driver's bookkeeping is checked against our own: every
 * completion and every drop names a token we posted and did not get back
 * yet, and the counts match vq_inflight(). A mismatch traps. A program
 * ends after 16 resets (each re-initialises the whole ring).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "virtio/virtqueue.h"
#include "tests/support/ring_sim.h"

#define DEV_OFFSET 0x7f00000000000ULL
#define DATA_SIZE 65536
#define MAX_TOKENS 256 /* >= the largest queue we make */
/* Each reset re-initialises the whole ring; one op byte in eight is one, so
 * a 4 KiB program spent most of its time there. The program ends after
 * this many (the last reset, after it, always runs). */
#define FUZZ_RESETS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz {
	const uint8_t *in;
	size_t len, pos;

	struct vq_config cfg;
	struct vq_dma ring;
	uint8_t *buf;          /* data area, device address buf + DEV_OFFSET */
	struct virtqueue *vq;
	struct ring_sim sim;
	struct ring_sim_chain chain;
	unsigned resets;       /* do_reset calls so far */

	bool posted[MAX_TOKENS]; /* token i = &posted[i] is in flight */
	unsigned nposted;
};

static struct fuzz fz;

static uint8_t next8(struct fuzz *f)
{
	return f->pos < f->len ? f->in[f->pos++] : 0;
}

static uint16_t next16(struct fuzz *f)
{
	uint16_t lo = next8(f);

	return (uint16_t)(lo | next8(f) << 8);
}

static uint32_t next32(struct fuzz *f)
{
	uint32_t lo = next16(f);

	return lo | (uint32_t)next16(f) << 16;
}

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void *in_area(uint64_t addr, size_t len, uint64_t dev, void *host, size_t size)
{
	if (addr < dev || addr - dev > size || len > size - (addr - dev))
		return NULL;
	return (uint8_t *)host + (addr - dev);
}

static void *translate(void *ctx, uint64_t addr, size_t len)
{
	struct fuzz *f = ctx;
	void *p = in_area(addr, len, f->ring.dev, f->ring.host, f->ring.size);

	return p ? p : in_area(addr, len, (uint64_t)(uintptr_t)f->buf + DEV_OFFSET,
			       f->buf, DATA_SIZE);
}

/* A token the driver hands back must be one we posted and still own. */
static void take_token(void *ctx, void *token, uint32_t len)
{
	struct fuzz *f = ctx;
	bool *p = token;

	check(p >= f->posted && p < f->posted + MAX_TOKENS && *p);
	*p = false;
	f->nposted--;
}

static void sim_attach(struct fuzz *f)
{
	check(ring_sim_init(&f->sim, vq_desc_addr(f->vq), vq_avail_addr(f->vq),
			    vq_used_addr(f->vq), vq_size(f->vq), f->cfg.event_idx,
			    translate, f) == 0);
}

/* Device reset, then the driver forgets everything in flight. */
static void do_reset(struct fuzz *f)
{
	f->resets++;
	vq_reset(f->vq, take_token, f);
	check(f->nposted == 0 && vq_inflight(f->vq) == 0);
	check(vq_num_free(f->vq) == vq_size(f->vq) && !vq_is_broken(f->vq));
	sim_attach(f);
}

static void op_add(struct fuzz *f)
{
	uint8_t shape = next8(f);
	unsigned n_out = shape & 3, n_in = (shape >> 2) & 3, i, t;
	struct vq_buf b[6];
	int r;

	for (t = 0; t < MAX_TOKENS && f->posted[t]; t++)
		;
	for (i = 0; i < n_out + n_in; i++) {
		uint16_t off = next16(f) % (DATA_SIZE - 256);

		b[i].addr = (uint64_t)(uintptr_t)f->buf + DEV_OFFSET + off;
		b[i].len = next8(f) + (shape & 0x80 ? 0 : 1); /* sometimes 0: rejected */
	}
	if (t == MAX_TOKENS)
		return;
	r = vq_add(f->vq, b, n_out, b + n_out, n_in, shape & 0x40 ? NULL : &f->posted[t]);
	check(r == 0 || r == -VQ_EINVAL || r == -VQ_ENOSPC || r == -VQ_EBROKEN);
	if (r == 0) {
		f->posted[t] = true;
		f->nposted++;
	}
}

/* A well-behaved device step: pop one chain and complete it. */
static void op_device(struct fuzz *f)
{
	uint8_t x = next8(f);

	if (ring_sim_pop(&f->sim, &f->chain) != 1)
		return;
	ring_sim_push(&f->sim, f->chain.head,
		      (uint32_t)VQ_MIN((uint64_t)x, f->chain.writable_bytes));
}

static void op_scribble(struct fuzz *f)
{
	size_t off = next16(f) % f->ring.size;
	uint8_t n = next8(f) % 8 + 1, i;

	for (i = 0; i < n && off + i < f->ring.size; i++)
		((volatile uint8_t *)f->ring.host)[off + i] = next8(f);
}

static void op_collect(struct fuzz *f)
{
	int r = vq_collect(f->vq, take_token, f);

	check(r >= 0 || r == -VQ_EBROKEN);
	check(r == -VQ_EBROKEN || !vq_is_broken(f->vq));
	check(vq_inflight(f->vq) == f->nposted);
	check(vq_num_free(f->vq) <= vq_size(f->vq));
	check(vq_is_broken(f->vq) == (vq_broken_reason(f->vq) != NULL));
	if (vq_is_broken(f->vq))
		do_reset(f);
}

static void run_op(struct fuzz *f, uint8_t op)
{
	switch (op % 8) {
	case 0: op_add(f); break;
	case 1: vq_kick(f->vq); break;
	case 2: op_device(f); break;
	case 3: op_scribble(f); break;
	case 4: ring_sim_push_raw(&f->sim, next16(f) % 512, next32(f)); break;
	case 5: ring_sim_set_used_idx(&f->sim, next16(f)); break;
	case 6: op_collect(f); break;
	default: do_reset(f); break;
	}
}

static bool setup(struct fuzz *f, uint8_t c)
{
	static const uint16_t indirect[4] = { 0, 2, 3, 64 };

	f->cfg = (struct vq_config){ .index = 1, .size = (uint16_t)(1u << (c & 7)),
				     .event_idx = c & 0x08, .legacy_layout = c & 0x10,
				     .indirect_max = indirect[c >> 6] };
	f->ring.size = vq_dma_size(&f->cfg);
	f->ring.host = aligned_alloc(4096, f->ring.size);
	f->ring.dev = (uint64_t)(uintptr_t)f->ring.host + DEV_OFFSET;
	f->buf = calloc(1, DATA_SIZE);
	if (!f->ring.host || !f->buf)
		return false;
	check(vq_create(&f->cfg, &f->ring, NULL, NULL, &f->vq) == 0);
	sim_attach(f);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz *f = &fz;
	unsigned i;

	memset(f, 0, sizeof(*f));
	f->in = data;
	f->len = size;
	if (setup(f, next8(f))) {
		/* A real submission first, so there is something to break. */
		for (i = 0; i < 3; i++) {
			struct vq_buf b[2] = {
				{ (uint64_t)(uintptr_t)f->buf + DEV_OFFSET + i * 64, 16 },
				{ (uint64_t)(uintptr_t)f->buf + DEV_OFFSET + i * 64 + 16, 48 },
			};

			if (vq_add(f->vq, b, 1, b + 1, 1, &f->posted[i]) == 0) {
				f->posted[i] = true;
				f->nposted++;
			}
		}
		vq_kick(f->vq);
		while (f->pos < f->len && f->resets < FUZZ_RESETS_MAX)
			run_op(f, next8(f));
		op_collect(f);
		do_reset(f);
		vq_destroy(f->vq);
	}
	free(f->ring.host);
	free(f->buf);
	return 0;
}
