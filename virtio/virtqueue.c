/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue, driver side (virtio 1.2 §2.7).
 *
 * The driver keeps a shadow of every descriptor it writes and per-head state
 * (token, descriptor count, device-writable bytes). Everything the driver
 * later needs - which descriptors to free, how long the chain was, how many
 * bytes the device may claim - comes from the shadow; the shared ring is only
 * ever written, except for used->idx, the used elements and the two
 * suppression fields, each of which is read once and checked before use.
 */
#include "virtio/virtqueue.h"
#include "virtio/barrier.h"
#include "lib/log.h"
#include "lib/plat.h"

#define VQ_PAGE 4096u

/* Wire layout of the two rings (§2.7.6, §2.7.8); the trailing event fields
 * sit after ring[size] and are reached through vq_used_event()/vq_avail_event(). */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};

struct vq_head {
	void *token;       /* NULL: this descriptor is not an in-flight head */
	uint64_t writable; /* device-writable bytes posted (at most 2^32) */
	uint16_t ndesc;    /* descriptors of the direct table it holds */
	bool indirect;
	bool published;    /* avail->idx covers it: the device may complete it */
};

struct vq_layout {
	size_t avail_off;
	size_t used_off;
	size_t indirect_off;
	size_t total;
	uint16_t indirect_max; /* effective entries per table */
};

struct virtqueue {
	struct vq_config cfg;
	struct vq_layout lay;
	struct vq_dma mem;
	vq_notify_fn notify;
	void *notify_ctx;

	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	struct virtq_desc *shadow; /* what we wrote into desc[]; next threads the free list */
	struct vq_head *heads;
	uint16_t *avail_shadow; /* what we wrote into avail->ring[] */
	uint16_t free_head;
	uint16_t num_free;
	uint16_t inflight;

	uint16_t avail_idx;   /* next avail->idx we will publish */
	uint16_t kicked_idx;  /* avail->idx at the last publish */
	uint16_t last_used;   /* used->idx up to which we have collected */

	const char *broken;
	bool collecting;      /* inside vq_collect(): a nested call returns 0 */
	struct vq_stats stats;
};

static bool vq_size_ok(uint16_t size)
{
	return size != 0 && size <= VQ_MAX_SIZE && (size & (size - 1)) == 0;
}

/*
 * virtio 1.2 §2.7.5.3.1: a chain may not be longer than the queue size, and
 * that includes the descriptors of an indirect table.
 */
static uint16_t vq_indirect_entries(const struct vq_config *cfg)
{
	return VQ_MIN(cfg->indirect_max, cfg->size);
}

/* §2.7: desc 16-aligned (offset 0), avail 2-aligned right after, used
 * 4-aligned (legacy: 4096-aligned); our indirect tables follow, 16-aligned. */
static void vq_compute_layout(const struct vq_config *cfg, struct vq_layout *ret)
{
	size_t q = cfg->size;
	size_t avail_end, used_end;

	ret->avail_off = 16 * q;
	avail_end = ret->avail_off + 6 + 2 * q;
	ret->used_off = cfg->legacy_layout ? VQ_ALIGN_UP(avail_end, (size_t)VQ_PAGE)
					   : VQ_ALIGN_UP(avail_end, (size_t)4);
	used_end = ret->used_off + 6 + 8 * q;
	ret->indirect_off = VQ_ALIGN_UP(used_end, (size_t)16);
	ret->indirect_max = vq_indirect_entries(cfg);
	ret->total = VQ_ALIGN_UP(ret->indirect_off +
				 q * ret->indirect_max * sizeof(struct virtq_desc),
				 (size_t)VQ_PAGE);
}

size_t vq_dma_size(const struct vq_config *cfg)
{
	struct vq_layout lay;

	if (!cfg || !vq_size_ok(cfg->size))
		return 0;
	vq_compute_layout(cfg, &lay);
	return lay.total;
}

static volatile uint16_t *vq_used_event(struct virtqueue *vq)
{
	return &vq->avail->ring[vq->cfg.size];
}

static volatile uint16_t *vq_avail_event(struct virtqueue *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->cfg.size];
}

static void vq_build_free_list(struct virtqueue *vq)
{
	uint16_t i;

	for (i = 0; i < vq->cfg.size; i++) {
		vq->shadow[i] = (struct virtq_desc){ .next = (uint16_t)(i + 1) };
		vq->heads[i] = (struct vq_head){ 0 };
	}
	vq->free_head = 0;
	vq->num_free = vq->cfg.size;
	vq->inflight = 0;
}

/* Rings zeroed, nothing in flight, indices at 0: the state a device sees
 * after queue setup (§2.7). */
static void vq_init_rings(struct virtqueue *vq)
{
	/* The indirect tables after the rings need no clearing: each is
	 * written in full before a published descriptor points at it. */
	memset(vq->mem.host, 0, vq->lay.indirect_off);
	vq_build_free_list(vq);
	vq->avail_idx = 0;
	vq->kicked_idx = 0;
	vq->last_used = 0;
	vq->broken = NULL;
	/* We poll and never take interrupts. §2.7.7.1: with EVENT_IDX the
	 * driver MUST leave avail->flags 0 and says it through used_event: an
	 * event one behind what we have collected is never crossed (see
	 * vq_collect). Without it, NO_INTERRUPT. */
	vq_write16(&vq->avail->flags,
		   vq->cfg.event_idx ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
	vq_write16(vq_used_event(vq), (uint16_t)(vq->last_used - 1));
}

static int vq_check_mem(const struct vq_config *cfg, const struct vq_dma *mem,
			size_t need)
{
	if (!mem || !mem->host)
		return log_err(-VQ_EINVAL, "vq %u: no ring memory", cfg->index);
	if (mem->size < need)
		return log_err(-VQ_EINVAL, "vq %u: ring memory %zu bytes, need %zu",
			       cfg->index, mem->size, need);
	if (((uintptr_t)mem->host | mem->dev) & (VQ_PAGE - 1))
		return log_err(-VQ_EINVAL, "vq %u: ring memory not 4096-aligned (dev 0x%llx)",
			       cfg->index, (unsigned long long)mem->dev);
	if (mem->dev + need < mem->dev)
		return log_err(-VQ_EINVAL, "vq %u: ring dev address 0x%llx wraps",
			       cfg->index, (unsigned long long)mem->dev);
	return 0;
}

int vq_create(const struct vq_config *cfg, const struct vq_dma *mem,
	      vq_notify_fn notify, void *notify_ctx, struct virtqueue **ret_vq)
{
	struct virtqueue *vq;
	int r;

	if (!cfg || !ret_vq)
		return -VQ_EINVAL;
	if (!vq_size_ok(cfg->size))
		return log_err(-VQ_EINVAL, "vq %u: size %u is not a power of 2 in 1..%u",
			       cfg->index, cfg->size, VQ_MAX_SIZE);
	vq = plat_alloc(sizeof(*vq));
	if (!vq)
		return -VQ_ENOMEM;
	vq->cfg = *cfg;
	vq_compute_layout(cfg, &vq->lay);
	r = vq_check_mem(cfg, mem, vq->lay.total);
	if (r < 0)
		goto out_free_vq;
	vq->mem = *mem;
	vq->notify = notify;
	vq->notify_ctx = notify_ctx;
	vq->desc = (struct virtq_desc *)mem->host;
	vq->avail = (struct virtq_avail *)((uint8_t *)mem->host + vq->lay.avail_off);
	vq->used = (struct virtq_used *)((uint8_t *)mem->host + vq->lay.used_off);
	r = -VQ_ENOMEM;
	vq->shadow = plat_alloc(sizeof(*vq->shadow) * cfg->size);
	if (!vq->shadow)
		goto out_free_vq;
	vq->heads = plat_alloc(sizeof(*vq->heads) * cfg->size);
	if (!vq->heads)
		goto out_free_shadow;
	vq->avail_shadow = plat_alloc(sizeof(*vq->avail_shadow) * cfg->size);
	if (!vq->avail_shadow)
		goto out_free_heads;
	vq_init_rings(vq);
	*ret_vq = vq;
	return 0;

out_free_heads:
	plat_free(vq->heads);
out_free_shadow:
	plat_free(vq->shadow);
out_free_vq:
	plat_free(vq);
	return r;
}

void vq_destroy(struct virtqueue *vq)
{
	if (!vq)
		return;
	plat_free(vq->avail_shadow);
	plat_free(vq->heads);
	plat_free(vq->shadow);
	plat_free(vq);
}

uint64_t vq_desc_addr(const struct virtqueue *vq) { return vq->mem.dev; }
uint64_t vq_avail_addr(const struct virtqueue *vq) { return vq->mem.dev + vq->lay.avail_off; }
uint64_t vq_used_addr(const struct virtqueue *vq) { return vq->mem.dev + vq->lay.used_off; }
uint16_t vq_size(const struct virtqueue *vq) { return vq->cfg.size; }
uint16_t vq_index(const struct virtqueue *vq) { return vq->cfg.index; }
unsigned vq_inflight(const struct virtqueue *vq) { return vq->inflight; }
unsigned vq_num_free(const struct virtqueue *vq) { return vq->num_free; }
bool vq_is_broken(const struct virtqueue *vq) { return vq->broken != NULL; }
const char *vq_broken_reason(const struct virtqueue *vq) { return vq->broken; }

void vq_get_stats(const struct virtqueue *vq, struct vq_stats *ret)
{
	*ret = vq->stats;
}

void vq_get_ring_state(struct virtqueue *vq, struct vq_ring_state *ret)
{
	*ret = (struct vq_ring_state){
		.avail_idx = vq->kicked_idx,
		.pending_idx = vq->avail_idx,
		.used_idx = vq_read16(&vq->used->idx),
		.last_used = vq->last_used,
		.used_event = vq_read16(vq_used_event(vq)),
		.avail_event = vq_read16(vq_avail_event(vq)),
		.used_flags = vq_read16(&vq->used->flags),
		.inflight = vq->inflight,
	};
}

/* ---- adding chains ------------------------------------------------------ */

struct vq_chain {
	const struct vq_buf *out, *in;
	unsigned n_out, n_in, n;
	uint64_t writable;
};

static const struct vq_buf *vq_chain_buf(const struct vq_chain *c, unsigned i)
{
	return i < c->n_out ? &c->out[i] : &c->in[i - c->n_out];
}

/* §2.7.4: no zero-length buffers, a chain totals at most 2^32 bytes. */
static int vq_check_chain(const struct virtqueue *vq, struct vq_chain *c)
{
	uint64_t total = 0;
	unsigned i;

	if ((c->n_out && !c->out) || (c->n_in && !c->in) || c->n == 0)
		return log_err(-VQ_EINVAL, "vq %u: chain without buffers", vq->cfg.index);
	c->writable = 0;
	for (i = 0; i < c->n; i++) {
		const struct vq_buf *b = vq_chain_buf(c, i);

		if (b->len == 0)
			return log_err(-VQ_EINVAL, "vq %u: buffer %u has length 0",
				       vq->cfg.index, i);
		if (b->addr + b->len - 1 < b->addr)
			return log_err(-VQ_EINVAL, "vq %u: buffer %u at 0x%llx wraps",
				       vq->cfg.index, i, (unsigned long long)b->addr);
		total += b->len;
		if (i >= c->n_out)
			c->writable += b->len;
	}
	if (total > (1ULL << 32))
		return log_err(-VQ_EINVAL, "vq %u: chain of %llu bytes exceeds 4 GiB",
			       vq->cfg.index, (unsigned long long)total);
	return 0;
}

static uint16_t vq_buf_flags(const struct vq_chain *c, unsigned i)
{
	uint16_t flags = i >= c->n_out ? VIRTQ_DESC_F_WRITE : 0;

	if (i + 1 < c->n)
		flags |= VIRTQ_DESC_F_NEXT;
	return flags;
}

/* Take one descriptor off the free list (caller checked num_free). */
static uint16_t vq_take_desc(struct virtqueue *vq)
{
	uint16_t d = vq->free_head;

	vq->free_head = vq->shadow[d].next;
	vq->num_free--;
	return d;
}

/* The ring gets exactly what the shadow holds. */
static void vq_set_desc(struct virtqueue *vq, uint16_t d, uint64_t addr,
			uint32_t len, uint16_t flags)
{
	vq->shadow[d].addr = addr;
	vq->shadow[d].len = len;
	vq->shadow[d].flags = flags;
	vq->desc[d] = vq->shadow[d];
}

/* §2.7.5.3: one direct descriptor, INDIRECT and never NEXT, pointing at the
 * head's own table; the table's next fields are table indices. */
static uint16_t vq_add_indirect(struct virtqueue *vq, const struct vq_chain *c)
{
	uint16_t head = vq_take_desc(vq);
	size_t off = vq->lay.indirect_off +
		     (size_t)head * vq->lay.indirect_max * sizeof(struct virtq_desc);
	struct virtq_desc *table = (struct virtq_desc *)((uint8_t *)vq->mem.host + off);
	unsigned i;

	for (i = 0; i < c->n; i++) {
		const struct vq_buf *b = vq_chain_buf(c, i);

		table[i] = (struct virtq_desc){ .addr = b->addr, .len = b->len,
						.flags = vq_buf_flags(c, i),
						.next = (uint16_t)(i + 1) };
	}
	vq_set_desc(vq, head, vq->mem.dev + off,
		    (uint32_t)(c->n * sizeof(struct virtq_desc)), VIRTQ_DESC_F_INDIRECT);
	vq->heads[head].ndesc = 1;
	vq->heads[head].indirect = true;
	vq->stats.indirect++;
	return head;
}

/* The descriptors come off the free list in order, so each one's shadow next
 * already names the following one. */
static uint16_t vq_add_direct(struct virtqueue *vq, const struct vq_chain *c)
{
	uint16_t head = vq->free_head;
	unsigned i;

	for (i = 0; i < c->n; i++) {
		const struct vq_buf *b = vq_chain_buf(c, i);
		uint16_t d = vq_take_desc(vq);

		vq_set_desc(vq, d, b->addr, b->len, vq_buf_flags(c, i));
	}
	vq->heads[head].ndesc = (uint16_t)c->n;
	vq->heads[head].indirect = false;
	return head;
}

static bool vq_want_indirect(const struct virtqueue *vq, const struct vq_chain *c)
{
	return c->n > 1 && c->n <= vq->lay.indirect_max && vq->num_free >= 1;
}

int vq_add(struct virtqueue *vq, const struct vq_buf *out, unsigned n_out,
	   const struct vq_buf *in, unsigned n_in, void *token)
{
	struct vq_chain c = { .out = out, .in = in, .n_out = n_out, .n_in = n_in };
	uint16_t head;
	int r;

	if (vq->broken)
		return -VQ_EBROKEN;
	if (!token)
		return log_err(-VQ_EINVAL, "vq %u: NULL token", vq->cfg.index);
	if (n_out > VQ_MAX_SIZE || n_in > VQ_MAX_SIZE)
		return log_err(-VQ_EINVAL, "vq %u: chain of %u+%u buffers",
			       vq->cfg.index, n_out, n_in);
	c.n = n_out + n_in;
	r = vq_check_chain(vq, &c);
	if (r < 0)
		return r;
	/* §2.7.5.3.1; waiting for completions would not help either. */
	if (c.n > vq->cfg.size)
		return log_err(-VQ_EINVAL, "vq %u: chain of %u buffers exceeds queue size %u",
			       vq->cfg.index, c.n, vq->cfg.size);
	if (vq_want_indirect(vq, &c))
		head = vq_add_indirect(vq, &c);
	else if (c.n <= vq->num_free)
		head = vq_add_direct(vq, &c);
	else
		return -VQ_ENOSPC;
	vq->heads[head].token = token;
	vq->heads[head].writable = c.writable;
	vq->inflight++;
	/* Visible to the device only once vq_kick() publishes avail->idx. */
	vq->avail_shadow[vq->avail_idx & (vq->cfg.size - 1)] = head;
	vq->avail->ring[vq->avail_idx & (vq->cfg.size - 1)] = head;
	vq->avail_idx++;
	vq->stats.added++;
	return 0;
}

/* ---- notifying ---------------------------------------------------------- */

/* §2.7.10 / §2.7.7: may we skip the notification? */
static bool vq_should_notify(struct virtqueue *vq, uint16_t old, uint16_t new)
{
	uint16_t event;

	if (!vq->cfg.event_idx)
		return !(vq_read16(&vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY);
	event = vq_read16(vq_avail_event(vq));
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

/* Make [kicked_idx, avail_idx) visible to the device. */
static void vq_publish(struct virtqueue *vq)
{
	uint16_t i;

	for (i = vq->kicked_idx; i != vq->avail_idx; i++)
		vq->heads[vq->avail_shadow[i & (vq->cfg.size - 1)]].published = true;
	/* §2.7.13: the ring entries (and descriptors) before the index. */
	vq_wmb();
	vq_write16(&vq->avail->idx, vq->avail_idx);
	vq->kicked_idx = vq->avail_idx;
}

bool vq_kick(struct virtqueue *vq)
{
	uint16_t old = vq->kicked_idx, new = vq->avail_idx;

	if (vq->broken || old == new)
		return false;
	vq_publish(vq);
	/* Our idx store must be visible before we read the device's
	 * suppression state, or we may miss its last request (§2.7.13). */
	vq_mb();
	if (!vq_should_notify(vq, old, new)) {
		vq->stats.kicks_suppressed++;
		return false;
	}
	if (vq->notify)
		vq->notify(vq->notify_ctx, vq->cfg.index);
	vq->stats.kicks++;
	return true;
}

/* ---- collecting --------------------------------------------------------- */

static int vq_break(struct virtqueue *vq, const char *reason)
{
	vq->broken = reason;
	return -VQ_EBROKEN;
}

/* Return a head's descriptors to the free list, walking our shadow only. */
static void vq_free_chain(struct virtqueue *vq, uint16_t head)
{
	uint16_t tail = head;
	uint16_t i;

	for (i = 1; i < vq->heads[head].ndesc; i++)
		tail = vq->shadow[tail].next;
	vq->shadow[tail].next = vq->free_head;
	vq->free_head = head;
	vq->num_free += vq->heads[head].ndesc;
	vq->heads[head] = (struct vq_head){ 0 };
	vq->inflight--;
}

/* §2.7.8: check one used element against what we posted. */
static int vq_check_used(struct virtqueue *vq, uint32_t id, uint32_t len)
{
	uint16_t q = vq->cfg.index;

	if (id >= vq->cfg.size) {
		log_error("vq %u: used id %u out of range (size %u)", q, id, vq->cfg.size);
		return vq_break(vq, "used id out of range");
	}
	if (!vq->heads[id].token) {
		log_error("vq %u: used id %u is not an in-flight chain head", q, id);
		return vq_break(vq, "used id is not an in-flight chain head");
	}
	if (!vq->heads[id].published) {
		log_error("vq %u: used id %u names a chain not yet made available", q, id);
		return vq_break(vq, "used id names a chain not yet made available");
	}
	if (len > vq->heads[id].writable) {
		log_error("vq %u: used id %u len %u exceeds %llu writable bytes posted",
			  q, id, len, (unsigned long long)vq->heads[id].writable);
		return vq_break(vq, "used len exceeds the writable bytes posted");
	}
	return 0;
}

static int vq_collect_one(struct virtqueue *vq, vq_done_fn done, void *ctx)
{
	const volatile struct virtq_used_elem *e =
		&vq->used->ring[vq->last_used & (vq->cfg.size - 1)];
	uint32_t id = e->id, len = e->len; /* each read once */
	void *token;
	int r;

	r = vq_check_used(vq, id, len);
	if (r < 0)
		return r;
	token = vq->heads[id].token;
	vq_free_chain(vq, (uint16_t)id);
	vq->last_used++;
	vq->stats.completed++;
	if (done)
		done(ctx, token, len);
	return 0;
}

int vq_collect(struct virtqueue *vq, vq_done_fn done, void *ctx)
{
	uint16_t used_idx, pending, published, i;
	int r;

	if (vq->broken)
		return -VQ_EBROKEN;
	if (vq->collecting)
		return 0;
	used_idx = vq_read16(&vq->used->idx);
	/* §2.7.13: the index before the elements it publishes. */
	vq_rmb();
	pending = (uint16_t)(used_idx - vq->last_used);
	/* Only chains the device has seen (published, not yet collected) can
	 * complete: added but unkicked ones do not count (§2.7.8). */
	published = (uint16_t)(vq->kicked_idx - vq->last_used);
	if (pending > published) {
		log_error("vq %u: used->idx %u is %u ahead of %u, only %u in flight and published",
			  vq->cfg.index, used_idx, pending, vq->last_used, published);
		return vq_break(vq, "used->idx runs ahead of the chains in flight");
	}
	vq->collecting = true;
	for (i = 0, r = 0; i < pending && r == 0; i++)
		r = vq_collect_one(vq, done, ctx);
	vq->collecting = false;
	if (r < 0)
		return r;
	/* §2.7.10: the device interrupts when used->idx passes used_event; one
	 * behind last_used can only be passed after 2^16 completions, which
	 * the in-flight limit rules out. We poll. */
	if (vq->cfg.event_idx && pending)
		vq_write16(vq_used_event(vq), (uint16_t)(vq->last_used - 1));
	return pending;
}

void vq_reset(struct virtqueue *vq, vq_done_fn dropped, void *ctx)
{
	uint16_t i;

	for (i = 0; i < vq->cfg.size; i++) {
		void *token = vq->heads[i].token;

		vq->heads[i].token = NULL;
		if (token && dropped)
			dropped(ctx, token, 0);
	}
	vq_init_rings(vq);
}
