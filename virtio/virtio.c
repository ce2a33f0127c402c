/* SPDX-License-Identifier: MIT */
/*
 * The device initialisation every virtio driver shares (virtio 1.2 §3.1.1),
 * queue setup, polling with deadlines, and teardown, over whatever
 * transport the device was probed with.
 */
#include "lib/log.h"
#include "virtio/virtio.h"
#include "lib/plat.h"

/* Poll the status byte for DEVICE_NEEDS_RESET this often while waiting. */
#define VDEV_STATUS_POLL_US 1000
#define VDEV_RESET_POLL_US 10
/* Two passes of a polling loop this far apart: the VM was not running (a
 * loaded or paused host, a migration), and the device had no time to
 * answer either. The deadline moves by the gap. */
#define VDEV_GAP_US 100000
/* Nothing completed for this long: notify the queue again, in case a
 * notification was lost (a spurious one is harmless: §2.7.13 lets the
 * driver notify at any time). */
#define VDEV_RENOTIFY_US 100000

/* §6: bits 24..41 belong to the transport and queue mechanisms. Of those we
 * implement INDIRECT_DESC, EVENT_IDX (if the driver's filter keeps them),
 * VERSION_1 and ACCESS_PLATFORM; never packed rings, IN_ORDER etc. */
#define VDEV_TRANSPORT_BITS (((1ULL << 42) - 1) & ~((1ULL << 24) - 1))

#define VDEV_STATUS_DEAD (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

/*
 * A reset that does not complete leaves a device that may still write into
 * every buffer it was given (§2.4.1, §4.1.4.3.2: nothing may be reused until
 * it has stopped). Take the bus away from it; if even that fails, everything
 * it was given stays allocated (vdev_may_dma()).
 */
static void stop_dma(struct vdev *d)
{
	const struct vpci_bus *bus = &d->bus;
	int r = -VQ_ENOTSUP;

	d->broken = true;
	d->stuck = true;
	if (d->dma_off)
		return;
	if (bus->ops->set_bus_master)
		r = bus->ops->set_bus_master(bus->ctx, false);
	if (r) {
		log_error("%s: reset did not complete and bus mastering cannot be turned off (%s): everything the device was given stays allocated, never reused",
			  d->name, vq_strerror(r));
		return;
	}
	d->dma_off = true;
	log_warn("%s: reset did not complete: bus mastering turned off, the device can no longer write memory",
		 d->name);
}

/* A completed reset: the device has stopped, so it may master the bus again. */
static int reset_done(struct vdev *d)
{
	const struct vpci_bus *bus = &d->bus;
	int r;

	d->stuck = false;
	if (!d->dma_off)
		return 0;
	r = bus->ops->set_bus_master(bus->ctx, true);
	if (r)
		return log_err(r, "%s: reset completed, but bus mastering cannot be turned back on",
			       d->name);
	d->dma_off = false;
	log_info("%s: reset completed at last; bus mastering back on", d->name);
	return 0;
}

/*
 * A deadline measured in time the VM ran: a polling loop calls clock_pass
 * once per pass, and a gap of more than VDEV_GAP_US between two passes moves
 * the deadline by the gap.
 */
struct vdev_clock {
	uint64_t deadline;
	uint64_t prev;   /* the previous pass */
	uint64_t paused; /* how far the deadline moved */
};

static void clock_start(struct vdev_clock *c, uint64_t deadline)
{
	*c = (struct vdev_clock){ .deadline = deadline, .prev = plat_now_us() };
}

static uint64_t clock_pass(struct vdev *d, struct vdev_clock *c)
{
	uint64_t now = plat_now_us();
	uint64_t gap = now > c->prev ? now - c->prev : 0;

	c->prev = now;
	if (gap <= VDEV_GAP_US)
		return now;
	c->deadline = c->deadline > UINT64_MAX - gap ? UINT64_MAX : c->deadline + gap;
	c->paused += gap;
	log_info("%s: %llu ms between two polls: the VM was not running; deadline moved",
		 d->name, (unsigned long long)(gap / 1000));
	return now;
}

static int read_status(struct vdev *d, uint8_t *st)
{
	int ret = d->ops->get_status(d, st);

	if (ret) {
		log_error("%s: cannot read status (%s)", d->name, vq_strerror(ret));
		stop_dma(d);
	}
	return ret;
}

int vdev_reset(struct vdev *d)
{
	struct vdev_clock c;
	uint8_t st;
	int ret = d->ops->set_status(d, 0);

	if (ret) {
		log_error("%s: cannot write reset (%s)", d->name, vq_strerror(ret));
		stop_dma(d);
		return ret;
	}
	/* §4.1.4.3.2: the reset is done only once status reads back 0. */
	clock_start(&c, plat_now_us() + VDEV_RESET_TIMEOUT_US);
	for (;;) {
		ret = read_status(d, &st);
		if (ret)
			return ret;
		if (st == 0)
			return reset_done(d);
		if (clock_pass(d, &c) >= c.deadline)
			break;
		plat_delay_us(VDEV_RESET_POLL_US);
	}
	/* One last look: it may have finished while we read the clock. */
	ret = read_status(d, &st);
	if (ret)
		return ret;
	if (st == 0)
		return reset_done(d);
	log_error("%s: reset not done after %u us (status 0x%x)", d->name,
		  VDEV_RESET_TIMEOUT_US, st);
	stop_dma(d);
	return -VQ_ETIMEDOUT;
}

void vdev_fail(struct vdev *d)
{
	uint8_t st;

	if (d->ops->get_status(d, &st))
		st = 0;
	if (d->ops->set_status(d, st | VIRTIO_STATUS_FAILED))
		log_warn("%s: cannot set FAILED", d->name);
}

/* Adds @bit to the status we have written so far: never clears a bit. */
static int status_add(struct vdev *d, uint8_t *status, uint8_t bit)
{
	*status |= bit;
	return d->ops->set_status(d, *status);
}

/* Reads status back; the device refusing or giving up is an error. */
static int status_expect(struct vdev *d, uint8_t want)
{
	uint8_t st;
	int ret = d->ops->get_status(d, &st);

	if (ret)
		return log_err(ret, "%s: cannot read status", d->name);
	if (st & VDEV_STATUS_DEAD)
		return log_err(-VQ_ENEEDRESET, "%s: device status 0x%x",
			       d->name, st);
	if ((st & want) != want)
		return log_err(-VQ_ENOTSUP,
			       "%s: device cleared status bits 0x%x (status 0x%x, features 0x%llx)",
			       d->name, want & ~st, st,
			       (unsigned long long)d->features);
	return 0;
}

/* The driver filter decides; the transport adds and removes its own bits. */
static uint64_t accept_features(uint64_t offered, vdev_feature_filter filter,
				void *ctx)
{
	uint64_t acc = filter ? filter(ctx, offered) & offered : 0;

	acc &= ~VDEV_TRANSPORT_BITS | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	       VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	/* §6.1: VERSION_1 is the modern interface itself; ACCESS_PLATFORM
	 * must be accepted when offered, and we always map (bus dma_map). */
	acc |= offered & (VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			  VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));
	return acc;
}

static int negotiate(struct vdev *d, vdev_feature_filter filter, void *ctx)
{
	uint64_t offered, accepted;
	int ret = d->ops->get_features(d, &offered);

	if (ret)
		return log_err(ret, "%s: cannot read features", d->name);
	if (!d->legacy && !(offered & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return log_err(-VQ_ENOTSUP,
			       "%s: modern device does not offer VERSION_1 (features 0x%llx)",
			       d->name, (unsigned long long)offered);
	accepted = accept_features(offered, filter, ctx);
	ret = d->ops->set_features(d, accepted);
	if (ret)
		return log_err(ret, "%s: cannot write features 0x%llx",
			       d->name, (unsigned long long)accepted);
	d->features_offered = offered;
	d->features = accepted;
	return 0;
}

int vdev_init(struct vdev *d, vdev_feature_filter filter, void *ctx)
{
	uint8_t status = 0;
	int ret = vdev_reset(d);

	/* A device stuck in reset cannot take FAILED either. */
	if (ret)
		return ret;
	ret = status_add(d, &status, VIRTIO_STATUS_ACKNOWLEDGE);
	if (!ret)
		ret = status_add(d, &status, VIRTIO_STATUS_DRIVER);
	if (!ret)
		ret = negotiate(d, filter, ctx);
	/* §3.1.2 legacy: no FEATURES_OK; the device cannot refuse. */
	if (!ret && !d->legacy) {
		ret = status_add(d, &status, VIRTIO_STATUS_FEATURES_OK);
		if (!ret)
			ret = status_expect(d, VIRTIO_STATUS_FEATURES_OK);
	}
	if (ret) {
		vdev_fail(d);
		return ret;
	}
	d->broken = false;
	return 0;
}

static void vdev_notify_cb(void *ctx, uint16_t index)
{
	struct vdev *d = ctx;

	d->ops->notify(d, index);
}

static int queue_size_for(struct vdev *d, uint16_t idx, uint16_t want,
			  uint16_t *ret)
{
	uint16_t max, size;
	int err = d->ops->queue_max(d, idx, &max);

	if (err)
		return log_err(err, "%s: cannot read size of queue %u",
			       d->name, idx);
	if (!max)
		return log_err(-VQ_ENOENT, "%s: queue %u does not exist",
			       d->name, idx);
	if (d->legacy && (max & (max - 1) || max > VQ_MAX_SIZE))
		return log_err(-VQ_ENOTSUP,
			       "%s: legacy queue %u size %u is not a power of 2",
			       d->name, idx, max);
	/* Legacy: the device dictates the size (§4.1.4.8). */
	size = (want && want < max && !d->legacy) ? want : max;
	size = VQ_MIN(size, (uint16_t)VQ_MAX_SIZE);
	while (size & (size - 1))
		size &= size - 1;
	*ret = size;
	return 0;
}

static int setup_queue(struct vdev *d, uint16_t idx, uint16_t want,
		       uint16_t indirect_max, struct virtqueue **ret_vq)
{
	struct vdev_queue *q = &d->queues[idx];
	struct vq_config cfg = {
		.index = idx,
		.legacy_layout = d->legacy,
		.event_idx = d->features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX),
		.indirect_max = (d->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))
					? indirect_max : 0,
	};
	struct vq_dma mem;
	struct virtqueue *vq;
	int ret = queue_size_for(d, idx, want, &cfg.size);

	if (ret)
		return ret;
	ret = d->bus.ops->dma_alloc(d->bus.ctx, vq_dma_size(&cfg), &mem);
	if (ret)
		return log_err(ret, "%s: no DMA memory for queue %u (%zu bytes)",
			       d->name, idx, vq_dma_size(&cfg));
	ret = vq_create(&cfg, &mem, vdev_notify_cb, d, &vq);
	if (ret)
		goto out_free_mem;
	ret = d->ops->queue_enable(d, idx, vq);
	if (ret)
		goto out_destroy_vq;
	q->vq = vq;
	q->mem = mem;
	d->nqueues = VQ_MAX(d->nqueues, (uint16_t)(idx + 1));
	*ret_vq = vq;
	return 0;

out_destroy_vq:
	vq_destroy(vq);
out_free_mem:
	d->bus.ops->dma_free(d->bus.ctx, &mem);
	return log_err(ret, "%s: cannot set up queue %u", d->name, idx);
}

int vdev_setup_queue(struct vdev *d, uint16_t idx, uint16_t want,
		     uint16_t indirect_max, struct virtqueue **ret_vq)
{
	int ret;

	if (idx >= VDEV_MAX_QUEUES || d->queues[idx].vq)
		return log_err(-VQ_EINVAL, "%s: queue %u out of range or set up",
			       d->name, idx);
	ret = setup_queue(d, idx, want, indirect_max, ret_vq);
	if (ret)
		vdev_fail(d);
	return ret;
}

int vdev_driver_ok(struct vdev *d)
{
	uint8_t st;
	int ret = d->ops->get_status(d, &st);

	if (ret)
		ret = log_err(ret, "%s: cannot read status", d->name);
	else if (st & VDEV_STATUS_DEAD)
		ret = log_err(-VQ_ENEEDRESET,
			      "%s: device status 0x%x before DRIVER_OK",
			      d->name, st);
	if (!ret)
		ret = d->ops->set_status(d, st | VIRTIO_STATUS_DRIVER_OK);
	if (!ret)
		ret = status_expect(d, VIRTIO_STATUS_DRIVER_OK);
	if (ret)
		vdev_fail(d);
	return ret;
}

/* The device is stopped: it may have been mid-DMA, so reset it before any
 * buffer is given back, then forget every queue's in-flight chains. A reset
 * that does not complete turns bus mastering off first (vdev_reset); if the
 * device may still write, the drivers keep the dropped buffers. */
static void vdev_abort(struct vdev *d, vq_done_fn dropped, void *ctx)
{
	unsigned inflight = 0;

	for (unsigned i = 0; i < d->nqueues; i++)
		if (d->queues[i].vq)
			inflight += vq_inflight(d->queues[i].vq);
	if (!vdev_reset(d))
		log_warn("%s: device reset, %u in-flight request%s dropped", d->name,
			 inflight, inflight == 1 ? "" : "s");
	else if (vdev_may_dma(d))
		log_error("%s: %u in-flight request%s dropped; their buffers may still be written and are kept",
			  d->name, inflight, inflight == 1 ? "" : "s");
	else
		log_warn("%s: %u in-flight request%s dropped with bus mastering off",
			 d->name, inflight, inflight == 1 ? "" : "s");
	for (unsigned i = 0; i < d->nqueues; i++)
		if (d->queues[i].vq)
			vq_reset(d->queues[i].vq, dropped, ctx);
	d->broken = true;
}

static int check_alive(struct vdev *d)
{
	uint8_t st;
	int ret = d->ops->get_status(d, &st);

	if (ret)
		return log_err(ret, "%s: cannot read status", d->name);
	if (st & VDEV_STATUS_DEAD || !(st & VIRTIO_STATUS_DRIVER_OK))
		return log_err(-VQ_ENEEDRESET, "%s: device status 0x%x while waiting",
			       d->name, st);
	return 0;
}

/* A real timeout: say where both sides of the ring stand, so that the next
 * stall can be diagnosed from the log alone. */
static int log_timeout(struct vdev *d, struct virtqueue *vq,
		       const struct vdev_clock *c, uint64_t now,
		       unsigned renotified)
{
	struct vq_ring_state rs;
	struct vq_stats st;

	vq_get_ring_state(vq, &rs);
	vq_get_stats(vq, &st);
	return log_err(-VQ_ETIMEDOUT,
		       "%s: queue %u: %u requests not completed by the deadline (%llu us late, %llu us paused): "
		       "avail idx %u (added %u), used idx %u, last seen used idx %u, avail_event %u, used_event %u, used flags 0x%x; "
		       "%llu kicks, %llu suppressed, %u notifications repeated",
		       d->name, vq_index(vq), rs.inflight,
		       (unsigned long long)(now - c->deadline),
		       (unsigned long long)c->paused, rs.avail_idx, rs.pending_idx,
		       rs.used_idx, rs.last_used, rs.avail_event, rs.used_event,
		       rs.used_flags, (unsigned long long)st.kicks,
		       (unsigned long long)st.kicks_suppressed, renotified);
}

/* vq_collect, with a broken queue turned into its error. */
static int collect(struct vdev *d, struct virtqueue *vq, vq_done_fn done,
		   void *ctx)
{
	int n = vq_collect(vq, done, ctx);

	if (n < 0)
		return log_err(-VQ_EBROKEN, "%s: queue %u broken: %s", d->name,
			       vq_index(vq), vq_broken_reason(vq));
	return n;
}

int vdev_wait(struct vdev *d, struct virtqueue *vq, uint64_t deadline_us,
	      vq_done_fn done, vq_done_fn dropped, void *ctx)
{
	struct vdev_clock c;
	uint64_t next_check, quiet_since;
	unsigned renotified = 0;
	int ret;

	if (d->broken)
		return log_err(-VQ_EBROKEN, "%s: device needs re-initialising",
			       d->name);
	clock_start(&c, deadline_us);
	next_check = c.prev + VDEV_STATUS_POLL_US;
	quiet_since = c.prev;
	for (;;) {
		/* The clock first, then the ring: the pass that finds the
		 * deadline passed still collects once more before it gives
		 * up, and a gap (a frozen VM) is seen even when the device
		 * answered during it. */
		uint64_t now = clock_pass(d, &c);

		ret = collect(d, vq, done, ctx);
		if (ret)
			break;
		/* A register read is a trap to the hypervisor; the ring is
		 * memory. Read status rarely. */
		if (now >= next_check) {
			ret = check_alive(d);
			if (ret)
				break;
			next_check = now + VDEV_STATUS_POLL_US;
		}
		if (now - quiet_since >= VDEV_RENOTIFY_US) {
			d->ops->notify(d, vq_index(vq));
			renotified++;
			quiet_since = now;
		}
		if (now >= c.deadline) {
			ret = log_timeout(d, vq, &c, now, renotified);
			break;
		}
	}
	if (ret > 0)
		return ret;
	vdev_abort(d, dropped, ctx);
	return ret;
}

void vdev_teardown(struct vdev *d)
{
	if (!d || !d->ops)
		return;
	if (vdev_reset(d) && vdev_may_dma(d))
		log_error("%s: device did not reset; leaking its rings", d->name);
	for (unsigned i = 0; i < VDEV_MAX_QUEUES; i++) {
		struct vdev_queue *q = &d->queues[i];

		if (q->vq)
			vq_destroy(q->vq);
		/* A device that may still write keeps its rings. */
		if (q->mem.host && !vdev_may_dma(d))
			d->bus.ops->dma_free(d->bus.ctx, &q->mem);
		memset(q, 0, sizeof(*q));
	}
	d->nqueues = 0;
}
