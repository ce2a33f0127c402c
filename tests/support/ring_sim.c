/* SPDX-License-Identifier: MIT */
/* Simulated device side of a split virtqueue; see ring_sim.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/ring_sim.h"
#include "virtio/barrier.h"
#include "virtio/virtqueue.h"

static int sim_fail(struct ring_sim *sim, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int sim_fail(struct ring_sim *sim, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sim->error, sizeof(sim->error), fmt, ap);
	va_end(ap);
	return -1;
}

static volatile uint16_t *sim_avail16(const struct ring_sim *sim, unsigned i)
{
	return (volatile uint16_t *)sim->avail + i;
}

/* avail: flags, idx, ring[size], used_event */
static volatile uint16_t *sim_avail_ring(const struct ring_sim *sim, unsigned i)
{
	return sim_avail16(sim, 2 + i);
}

static volatile uint16_t *sim_used16(const struct ring_sim *sim, unsigned i)
{
	return (volatile uint16_t *)sim->used + i;
}

/* used: flags, idx, ring[size] of 8 bytes, avail_event */
static volatile struct virtq_used_elem *sim_used_elem(const struct ring_sim *sim,
						       unsigned i)
{
	return (volatile struct virtq_used_elem *)((volatile uint8_t *)sim->used + 4) + i;
}

static volatile uint16_t *sim_avail_event(const struct ring_sim *sim)
{
	return (volatile uint16_t *)sim_used_elem(sim, sim->size);
}

int ring_sim_init(struct ring_sim *sim, uint64_t desc_dev, uint64_t avail_dev,
		  uint64_t used_dev, uint16_t size, bool event_idx,
		  ring_sim_translate_fn translate, void *ctx)
{
	/* The arrays at the end, 72 KiB in all, are cleared up to @size. */
	memset(sim, 0, offsetof(struct ring_sim, outstanding));
	if (size <= VQ_MAX_SIZE) {
		size_t words = ((size_t)size + 63) / 64;

		memset(sim->outstanding, 0, sizeof(sim->outstanding[0]) * words);
		memset(sim->desc_busy, 0, sizeof(sim->desc_busy[0]) * words);
		memset(sim->desc_link, 0xff, sizeof(sim->desc_link[0]) * size);
	}
	sim->translate = translate;
	sim->ctx = ctx;
	sim->size = size;
	sim->event_idx = event_idx;
	sim->auto_avail_event = true;
	if (size == 0 || size > VQ_MAX_SIZE || (size & (size - 1)))
		return sim_fail(sim, "queue size %u is not a power of 2", size);
	sim->desc = translate(ctx, desc_dev, 16 * (size_t)size);
	sim->avail = translate(ctx, avail_dev, 6 + 2 * (size_t)size);
	sim->used = translate(ctx, used_dev, 6 + 8 * (size_t)size);
	if (!sim->desc || !sim->avail || !sim->used)
		return sim_fail(sim, "ring parts 0x%llx/0x%llx/0x%llx do not translate",
				(unsigned long long)desc_dev, (unsigned long long)avail_dev,
				(unsigned long long)used_dev);
	/* A device starts at index 0 when the queue is enabled (§2.7). */
	sim->last_avail = 0;
	sim->used_idx = 0;
	return 0;
}

uint16_t ring_sim_avail_pending(const struct ring_sim *sim)
{
	if (!sim->avail)
		return 0;
	return (uint16_t)(vq_read16(sim_avail16(sim, 1)) - sim->last_avail);
}

/* Each shared field read exactly once. */
static struct virtq_desc sim_read_desc(const volatile struct virtq_desc *d)
{
	struct virtq_desc v;

	v.addr = d->addr;
	v.len = d->len;
	v.flags = d->flags;
	v.next = d->next;
	return v;
}

static int sim_add_seg(struct ring_sim *sim, struct ring_sim_chain *c,
		       const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	struct ring_sim_seg *s;

	if (d->len == 0)
		return sim_fail(sim, "chain %u: zero-length buffer", c->head);
	if (!writable && c->n_segs > c->n_readable)
		return sim_fail(sim, "chain %u: readable buffer after a writable one",
				c->head);
	if (c->n_segs >= RING_SIM_MAX_SEGS)
		return sim_fail(sim, "chain %u: more than %u buffers", c->head,
				RING_SIM_MAX_SEGS);
	s = &c->seg[c->n_segs];
	s->host = sim->translate(sim->ctx, d->addr, d->len);
	if (!s->host)
		return sim_fail(sim, "chain %u: buffer 0x%llx+%u is not DMA memory",
				c->head, (unsigned long long)d->addr, d->len);
	s->addr = d->addr;
	s->len = d->len;
	s->writable = writable;
	c->n_segs++;
	if (writable) {
		c->writable_bytes += d->len;
	} else {
		c->n_readable++;
		c->readable_bytes += d->len;
	}
	return 0;
}

/* §2.7.5.3: a table of len/16 descriptors, next fields index the table, no
 * nested INDIRECT, at most queue-size entries. */
static int sim_walk_indirect(struct ring_sim *sim, struct ring_sim_chain *c,
			     const struct virtq_desc *d)
{
	const volatile struct virtq_desc *table;
	uint32_t n = d->len / 16, i = 0, count = 0;

	if (d->flags & VIRTQ_DESC_F_NEXT)
		return sim_fail(sim, "chain %u: INDIRECT together with NEXT", c->head);
	if (d->len == 0 || d->len % 16 || n > sim->size)
		return sim_fail(sim, "chain %u: indirect table length %u", c->head, d->len);
	table = sim->translate(sim->ctx, d->addr, d->len);
	if (!table)
		return sim_fail(sim, "chain %u: indirect table 0x%llx is not DMA memory",
				c->head, (unsigned long long)d->addr);
	c->indirect = true;
	for (;;) {
		struct virtq_desc e = sim_read_desc(&table[i]);

		if (++count > n)
			return sim_fail(sim, "chain %u: indirect table loops", c->head);
		if (e.flags & VIRTQ_DESC_F_INDIRECT)
			return sim_fail(sim, "chain %u: nested indirect table", c->head);
		if (sim_add_seg(sim, c, &e) < 0)
			return -1;
		if (!(e.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = e.next;
		if (i >= n)
			return sim_fail(sim, "chain %u: indirect next %u beyond table of %u",
					c->head, i, n);
	}
}

static int sim_walk(struct ring_sim *sim, struct ring_sim_chain *c)
{
	const volatile struct virtq_desc *ring = sim->desc;
	uint32_t i = c->head, count = 0;

	for (;;) {
		struct virtq_desc d;

		if (i >= sim->size)
			return sim_fail(sim, "chain %u: next %u out of range", c->head, i);
		if (++count > sim->size)
			return sim_fail(sim, "chain %u: longer than the queue (loop?)", c->head);
		d = sim_read_desc(&ring[i]);
		if (sim->n_walk <= RING_SIM_MAX_SEGS)
			sim->walk[sim->n_walk++] = (uint16_t)i;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (count != 1)
				return sim_fail(sim, "chain %u: INDIRECT not at the head", c->head);
			return sim_walk_indirect(sim, c, &d);
		}
		if (sim_add_seg(sim, c, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static bool desc_busy(const struct ring_sim *sim, uint16_t i)
{
	return sim->desc_busy[i / 64] & (1ull << (i % 64));
}

static void desc_set_busy(struct ring_sim *sim, uint16_t i, bool on)
{
	if (on)
		sim->desc_busy[i / 64] |= 1ull << (i % 64);
	else
		sim->desc_busy[i / 64] &= ~(1ull << (i % 64));
}

/* The outstanding chain holding descriptor @i (for the message). */
static unsigned desc_owner(const struct ring_sim *sim, uint16_t i)
{
	for (unsigned h = 0; h < sim->size; h++) {
		if (!(sim->outstanding[h / 64] & (1ull << (h % 64))))
			continue;
		for (uint16_t j = (uint16_t)h, n = 0; j != 0xffff && n < sim->size;
		     j = sim->desc_link[j], n++)
			if (j == i)
				return h;
	}
	return i;
}

/* Mark the table descriptors of the chain just walked (sim->walk) as in
 * flight and link them, unless one of them already is (§2.7.13.1: the
 * driver may not reuse a descriptor before the device has used it). */
static int sim_take_descs(struct ring_sim *sim, uint16_t head)
{
	for (unsigned k = 0; k < sim->n_walk; k++) {
		uint16_t i = sim->walk[k];

		if (desc_busy(sim, i)) {
			for (unsigned u = 0; u < k; u++)
				desc_set_busy(sim, sim->walk[u], false);
			return sim_fail(sim, "chain %u: descriptor %u is still in flight "
					"(chain %u)", head, i, desc_owner(sim, i));
		}
		desc_set_busy(sim, i, true);
	}
	for (unsigned k = 0; k < sim->n_walk; k++)
		sim->desc_link[sim->walk[k]] =
			k + 1 < sim->n_walk ? sim->walk[k + 1] : 0xffff;
	return 0;
}

/* The device used chain @head: its descriptors are the driver's again. */
static void sim_release_descs(struct ring_sim *sim, uint16_t head)
{
	for (uint16_t i = head, n = 0; i != 0xffff && n < sim->size; n++) {
		uint16_t next = sim->desc_link[i];

		desc_set_busy(sim, i, false);
		sim->desc_link[i] = 0xffff;
		i = next;
	}
}

int ring_sim_pop(struct ring_sim *sim, struct ring_sim_chain *chain)
{
	uint16_t pending = ring_sim_avail_pending(sim);
	uint16_t head;

	if (pending == 0)
		return 0;
	if (pending > sim->size)
		return sim_fail(sim, "avail->idx %u is %u ahead of %u (size %u)",
				vq_read16(sim_avail16(sim, 1)), pending, sim->last_avail,
				sim->size);
	/* §2.7.13: read the index before the entries it publishes. */
	vq_rmb();
	head = vq_read16(sim_avail_ring(sim, sim->last_avail & (sim->size - 1)));
	sim->last_avail++;
	if (sim->event_idx && sim->auto_avail_event)
		vq_write16(sim_avail_event(sim), sim->last_avail);
	memset(chain, 0, offsetof(struct ring_sim_chain, seg));
	chain->head = head;
	if (head >= sim->size)
		return sim_fail(sim, "avail head %u out of range (size %u)", head, sim->size);
	if (sim->outstanding[head / 64] & (1ull << (head % 64)))
		return sim_fail(sim, "avail head %u is already in flight", head);
	sim->n_walk = 0;
	if (sim_walk(sim, chain) < 0 || sim_take_descs(sim, head) < 0)
		return -1;
	sim->outstanding[head / 64] |= 1ull << (head % 64);
	sim->popped++;
	return 1;
}

void ring_sim_push_raw(struct ring_sim *sim, uint32_t id, uint32_t len)
{
	volatile struct virtq_used_elem *e =
		sim_used_elem(sim, sim->used_idx & (sim->size - 1));

	e->id = id;
	e->len = len;
	/* §2.7.13 (device side): the element before the index. */
	vq_wmb();
	sim->used_idx++;
	vq_write16(sim_used16(sim, 1), sim->used_idx);
	sim->pushed++;
}

int ring_sim_push(struct ring_sim *sim, uint16_t head, uint32_t len)
{
	if (head >= sim->size ||
	    !(sim->outstanding[head / 64] & (1ull << (head % 64))))
		return sim_fail(sim, "push of %u, which is not outstanding", head);
	sim->outstanding[head / 64] &= ~(1ull << (head % 64));
	sim_release_descs(sim, head);
	ring_sim_push_raw(sim, head, len);
	return 0;
}

void ring_sim_set_used_idx(struct ring_sim *sim, uint16_t idx)
{
	sim->used_idx = idx;
	vq_write16(sim_used16(sim, 1), idx);
}

void ring_sim_set_no_notify(struct ring_sim *sim, bool on)
{
	vq_write16(sim_used16(sim, 0), on ? VIRTQ_USED_F_NO_NOTIFY : 0);
}

void ring_sim_set_avail_event(struct ring_sim *sim, uint16_t idx)
{
	vq_write16(sim_avail_event(sim), idx);
}

uint16_t ring_sim_avail_flags(const struct ring_sim *sim)
{
	return vq_read16(sim_avail16(sim, 0));
}

uint16_t ring_sim_used_event(const struct ring_sim *sim)
{
	return vq_read16(sim_avail_ring(sim, sim->size));
}

/* Copies between @buf and the segments [first, end) of @chain from byte
 * @off of those segments; @to_chain says which way. */
static size_t chain_copy(const struct ring_sim_chain *chain, unsigned first,
			 unsigned end, uint64_t off, uint8_t *buf, size_t len,
			 bool to_chain)
{
	size_t done = 0;

	for (unsigned i = first; i < end && done < len; i++) {
		const struct ring_sim_seg *s = &chain->seg[i];
		uint8_t *seg = (uint8_t *)s->host;
		size_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = s->len - off;
		if (n > len - done)
			n = len - done;
		if (to_chain)
			memcpy(seg + off, buf + done, n);
		else
			memcpy(buf + done, seg + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t ring_sim_chain_read(const struct ring_sim_chain *chain, uint64_t off,
			   void *buf, size_t len)
{
	return chain_copy(chain, 0, chain->n_readable, off, buf, len, false);
}

size_t ring_sim_chain_write(const struct ring_sim_chain *chain, uint64_t off,
			    const void *buf, size_t len)
{
	return chain_copy(chain, chain->n_readable, chain->n_segs, off,
			  (uint8_t *)buf, len, true);
}
