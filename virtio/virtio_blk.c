/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk driver (virtio 1.2 §5.2) over struct vdev, one request queue.
 *
 * A request is {16-byte header, data segments, 1 status byte} (§5.2.6). The
 * headers and status bytes live in one preallocated DMA area, one slot per
 * request that may be in flight; each slot also owns a bounce buffer, all
 * allocated together the first time a request needs one. Data goes straight to the caller's buffer when the bus maps it as
 * an identity of the whole piece (and bouncing is not forced), through the
 * slot's bounce buffer otherwise.
 *
 * After a failure that reset the device (timeout, broken queue,
 * DEVICE_NEEDS_RESET), the next request first re-initialises the device
 * (reset, feature negotiation, queue, DRIVER_OK); if that fails the driver
 * is dead and every later call returns -VQ_ENODEV.
 */
#include "lib/log.h"
#include "virtio/virtio_blk.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define VBLK_QUEUE 0
#define VBLK_SLOTS 32
#define VBLK_BOUNCE_TOTAL (4u << 20)
#define VBLK_MAX_REQUEST (4u << 20)
#define VBLK_MAX_SEGS 64        /* data segments per request we build */
#define VBLK_SPREAD 4           /* split a lone read into this many requests */
#define VBLK_SPREAD_MIN (1u << 20) /* ... but none smaller than this */
#define VBLK_SECTOR 512u
#define VBLK_HDR_SIZE 16
#define VBLK_SLOT_STRIDE 32     /* header + status byte, 16-aligned */
#define VBLK_STATUS_OFF 16
#define VBLK_STATUS_UNSET 0xFF  /* §5.2.6.1: preset to a non-OK value */
#define VBLK_ID_BYTES 20

#define VBLK_FEATURES                                                          \
	(VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | \
	 VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |     \
	 VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) |  \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

struct vblk_slot {
	bool busy;
	bool done;
	bool dropped;
	bool bounced;
	uint32_t type;
	uint32_t used_len;
	uint64_t sector;
	uint8_t *buf;           /* caller's data */
	size_t len;
	void *mapping;          /* direct mapping, to unmap on completion */
	uint8_t *hdr;           /* header, status at VBLK_STATUS_OFF */
	uint64_t hdr_dev;
	uint8_t *bounce;
	uint64_t bounce_dev;
};

struct vblk {
	struct vdev *d;
	struct virtqueue *vq;
	struct vblk_info info;
	struct vblk_stats stats;
	uint32_t segs_per_req;  /* data segments we may use per request */
	uint32_t seg_len;       /* bytes per segment at most */
	size_t bounce_size;     /* per slot */
	unsigned nslots;
	unsigned inflight;
	struct vblk_slot slots[VBLK_SLOTS];
	struct vq_dma hdrs;
	struct vq_dma bounce;
	bool force_bounce;
	bool dead;
	uint64_t timeout_us;
	struct blockdev bdev;
};

uint64_t vblk_features(uint64_t offered)
{
	/* MQ, DISCARD, WRITE_ZEROES, CONFIG_WCE: not used by a boot loader. */
	return offered & VBLK_FEATURES;
}

static uint64_t vblk_filter(void *ctx, uint64_t offered)
{
	return vblk_features(offered);
}

static bool has(const struct vblk *b, unsigned bit)
{
	return b->d->features & VIRTIO_BIT(bit);
}

/* ---- configuration ------------------------------------------------------- */

#define cfg_get(b, field, ptr) \
	vdev_config_get((b)->d, struct virtio_blk_config, field, (ptr))

static int read_blk_size(struct vblk *b)
{
	uint32_t bs = VBLK_SECTOR;
	int ret;

	if (has(b, VIRTIO_BLK_F_BLK_SIZE)) {
		ret = cfg_get(b, blk_size, &bs);
		if (ret)
			return ret;
		if (bs < VBLK_SECTOR || bs > 65536 || (bs & (bs - 1))) {
			log_warn("%s: ignoring block size %u", b->d->name, bs);
			bs = VBLK_SECTOR;
		}
	}
	b->info.blk_size = bs;
	return 0;
}

static int read_topology(struct vblk *b)
{
	struct vblk_info *in = &b->info;
	int ret;

	if (!has(b, VIRTIO_BLK_F_TOPOLOGY))
		return 0;
	in->topology = true;
	ret = cfg_get(b, topology.physical_block_exp, &in->physical_block_exp);
	if (!ret)
		ret = cfg_get(b, topology.min_io_size, &in->min_io_size);
	if (!ret)
		ret = cfg_get(b, topology.opt_io_size, &in->opt_io_size);
	return ret;
}

static int read_limits(struct vblk *b)
{
	struct vblk_info *in = &b->info;
	int ret = 0;

	if (has(b, VIRTIO_BLK_F_SEG_MAX))
		ret = cfg_get(b, seg_max, &in->seg_max);
	if (!ret && has(b, VIRTIO_BLK_F_SIZE_MAX))
		ret = cfg_get(b, size_max, &in->size_max);
	return ret;
}

static int read_config(struct vblk *b)
{
	struct vblk_info *in = &b->info;
	int ret = cfg_get(b, capacity, &in->capacity);

	if (!ret)
		ret = read_blk_size(b);
	if (!ret)
		ret = read_limits(b);
	if (!ret)
		ret = read_topology(b);
	if (ret)
		return log_err(ret, "%s: cannot read config", b->d->name);
	if (in->capacity > UINT64_MAX / VBLK_SECTOR)
		return log_err(-VQ_ECORRUPT, "%s: capacity %llu sectors overflows",
			       b->d->name, (unsigned long long)in->capacity);
	in->read_only = has(b, VIRTIO_BLK_F_RO);
	/* Never send FLUSH to a read-only device. */
	in->flush = has(b, VIRTIO_BLK_F_FLUSH) && !in->read_only;
	return 0;
}

/*
 * Request shape: at most segs_per_req data segments of seg_len bytes. As in
 * Linux, without SEG_MAX (or with 0) one segment. §2.7.5.3.1: a chain
 * (header + data + status) may not be longer than the queue, indirect
 * table or not.
 */
static int compute_limits(struct vblk *b, uint16_t queue_size)
{
	struct vblk_info *in = &b->info;
	uint32_t segs = in->seg_max ? in->seg_max : 1;
	uint64_t max;

	segs = VQ_MIN(segs, (uint32_t)VBLK_MAX_SEGS);
	segs = VQ_MIN(segs, queue_size > 2 ? queue_size - 2u : 0u);
	b->seg_len = in->size_max ? in->size_max : VBLK_MAX_REQUEST;
	max = VQ_MIN((uint64_t)segs * b->seg_len, (uint64_t)VBLK_MAX_REQUEST);
	max -= max % in->blk_size;
	if (!max)
		return log_err(-VQ_ENOTSUP,
			       "%s: %u segments of %u bytes cannot carry one %u-byte block",
			       b->d->name, segs, b->seg_len, in->blk_size);
	b->segs_per_req = segs;
	in->max_request = (uint32_t)max;
	return 0;
}

/* ---- slots and DMA ------------------------------------------------------- */

/* Headers and status bytes now; bounce buffers only when a request needs
 * one (ensure_bounce): with identity mappings they are never touched, and
 * 4 MiB of DMA memory cost several ms to allocate and clear at open. */
static int alloc_slots(struct vblk *b)
{
	const struct vpci_bus *bus = &b->d->bus;
	size_t per = VBLK_BOUNCE_TOTAL / VBLK_SLOTS;
	int ret;

	per = VQ_MIN(per, (size_t)b->info.max_request);
	per -= per % b->info.blk_size;
	ret = bus->ops->dma_alloc(bus->ctx, VBLK_SLOTS * VBLK_SLOT_STRIDE, &b->hdrs);
	if (ret)
		return log_err(ret, "%s: no DMA memory for request headers",
			       b->d->name);
	b->bounce_size = per;
	b->nslots = VBLK_SLOTS;
	for (unsigned i = 0; i < VBLK_SLOTS; i++) {
		struct vblk_slot *s = &b->slots[i];

		s->hdr = (uint8_t *)b->hdrs.host + i * VBLK_SLOT_STRIDE;
		s->hdr_dev = b->hdrs.dev + i * VBLK_SLOT_STRIDE;
	}
	return 0;
}

static int ensure_bounce(struct vblk *b)
{
	const struct vpci_bus *bus = &b->d->bus;
	size_t per = b->bounce_size;
	int ret;

	if (b->bounce.host)
		return 0;
	ret = bus->ops->dma_alloc(bus->ctx, per * VBLK_SLOTS, &b->bounce);
	if (ret) {
		b->bounce.host = NULL;
		return log_err(ret, "%s: no DMA memory for %zu bytes of bounce buffers",
			       b->d->name, per * VBLK_SLOTS);
	}
	for (unsigned i = 0; i < VBLK_SLOTS; i++) {
		b->slots[i].bounce = (uint8_t *)b->bounce.host + i * per;
		b->slots[i].bounce_dev = b->bounce.dev + i * per;
	}
	return 0;
}

static void free_slots(struct vblk *b)
{
	const struct vpci_bus *bus = &b->d->bus;

	if (b->bounce.host)
		bus->ops->dma_free(bus->ctx, &b->bounce);
	if (b->hdrs.host)
		bus->ops->dma_free(bus->ctx, &b->hdrs);
	b->bounce.host = b->hdrs.host = NULL;
}

static struct vblk_slot *free_slot(struct vblk *b)
{
	for (unsigned i = 0; i < b->nslots; i++)
		if (!b->slots[i].busy)
			return &b->slots[i];
	return NULL;
}

/* ---- bring-up ------------------------------------------------------------ */

/* Negotiation, queue and DRIVER_OK: done at open and after a reset. */
static int vblk_start(struct vblk *b)
{
	uint16_t indirect = (uint16_t)(VBLK_MAX_SEGS + 2);
	int ret = vdev_init(b->d, vblk_filter, NULL);

	if (ret)
		return ret;
	ret = vdev_setup_queue(b->d, VBLK_QUEUE, 0, indirect, &b->vq);
	if (!ret)
		ret = vdev_driver_ok(b->d);
	return ret;
}

static int vblk_restart(struct vblk *b)
{
	int ret;

	log_warn("%s: re-initialising the device after a reset", b->d->name);
	vdev_teardown(b->d);
	b->vq = NULL;
	ret = vblk_start(b);
	if (ret) {
		vdev_teardown(b->d);
		b->dead = true;
		return log_err(-VQ_ENODEV, "%s: device did not come back (%s); giving up",
			       b->d->name, vq_strerror(ret));
	}
	return 0;
}

static int vblk_ready(struct vblk *b)
{
	if (b->dead)
		return log_err(-VQ_ENODEV, "%s: device is dead", b->d->name);
	if (b->d->broken)
		return vblk_restart(b);
	return 0;
}

static const struct blockdev_ops vblk_bdev_ops;

static void init_bdev(struct vblk *b)
{
	struct blockdev *bd = &b->bdev;
	uint64_t bytes = b->info.capacity * VBLK_SECTOR;

	bd->ops = &vblk_bdev_ops;
	bd->ctx = b;
	vq_snprintf(bd->name, sizeof(bd->name), "%s", b->d->name);
	bd->block_size = b->info.blk_size;
	bd->size = bytes - bytes % b->info.blk_size;
}

static int vblk_setup(struct vblk *b)
{
	int ret = vblk_start(b);

	if (!ret)
		ret = read_config(b);
	if (!ret)
		ret = compute_limits(b, vq_size(b->vq));
	if (!ret)
		ret = alloc_slots(b);
	if (ret)
		return ret;
	b->info.queue_size = vq_size(b->vq);
	init_bdev(b);
	log_info("%s: %s transport, %llu sectors, block %u, %s%s, %u-byte requests",
		 b->d->name, b->d->ops->name, (unsigned long long)b->info.capacity,
		 b->info.blk_size, b->info.read_only ? "read-only" : "writable",
		 b->info.flush ? " with flush" : "", b->info.max_request);
	return 0;
}

int vblk_open(struct vdev *d, struct vblk **ret)
{
	struct vblk *b;
	int err;

	if (!d || !ret || d->type != VIRTIO_ID_BLOCK)
		return -VQ_ENODEV;
	b = plat_alloc(sizeof(*b));
	if (!b)
		return -VQ_ENOMEM;
	b->d = d;
	b->timeout_us = VBLK_DEFAULT_TIMEOUT_US;
	vq_snprintf(d->name, sizeof(d->name), "vblk %s", d->bus.name);
	err = vblk_setup(b);
	if (err) {
		free_slots(b);
		vdev_teardown(d);
		plat_free(b);
		return err;
	}
	*ret = b;
	return 0;
}

void vblk_close(struct vblk *b)
{
	if (!b)
		return;
	vdev_teardown(b->d);
	/* A device that may still write headers or bounce buffers keeps them:
	 * leaked rather than reused. */
	if (!vdev_may_dma(b->d))
		free_slots(b);
	plat_free(b);
}

const struct vblk_info *vblk_get_info(const struct vblk *b)
{
	return &b->info;
}

void vblk_get_stats(const struct vblk *b, struct vblk_stats *ret)
{
	*ret = b->stats;
}

void vblk_set_force_bounce(struct vblk *b, bool force)
{
	b->force_bounce = force;
}

void vblk_set_timeout(struct vblk *b, uint64_t us)
{
	b->timeout_us = us;
}

/* ---- one request --------------------------------------------------------- */

static bool is_in(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

/* Direct only when the bus maps the whole piece as an identity: anything
 * else (a bounce mapping, a partial one) goes through our own buffer. */
static bool map_direct(struct vblk *b, struct vblk_slot *s)
{
	const struct vpci_bus *bus = &b->d->bus;
	enum vpci_dma_dir dir = is_in(s->type) ? VPCI_DMA_FROM_DEVICE
					       : VPCI_DMA_TO_DEVICE;
	uint64_t dev;
	size_t len;
	void *mapping;

	if (b->force_bounce || !s->len ||
	    bus->ops->dma_map(bus->ctx, s->buf, s->len, dir, &dev, &len,
			      &mapping))
		return false;
	if (dev != (uintptr_t)s->buf || len != s->len) {
		bus->ops->dma_unmap(bus->ctx, mapping);
		return false;
	}
	s->mapping = mapping;
	return true;
}

/* Splits [dev, dev + len) into segments of at most seg_len bytes. */
static unsigned add_segs(const struct vblk *b, uint64_t dev, size_t len,
			 struct vq_buf *segs)
{
	unsigned n = 0;

	while (len) {
		uint32_t l = (uint32_t)VQ_MIN(len, (size_t)b->seg_len);

		segs[n++] = (struct vq_buf){ .addr = dev, .len = l };
		dev += l;
		len -= l;
	}
	return n;
}

static int post_slot(struct vblk *b, struct vblk_slot *s, uint64_t data_dev)
{
	struct vq_buf out[VBLK_MAX_SEGS + 1], in[VBLK_MAX_SEGS + 1];
	unsigned n_out = 1, n_in = 0;

	out[0] = (struct vq_buf){ .addr = s->hdr_dev, .len = VBLK_HDR_SIZE };
	if (is_in(s->type))
		n_in = add_segs(b, data_dev, s->len, in);
	else
		n_out += add_segs(b, data_dev, s->len, out + 1);
	in[n_in++] = (struct vq_buf){ .addr = s->hdr_dev + VBLK_STATUS_OFF,
				      .len = 1 };
	return vq_add(b->vq, out, n_out, in, n_in, s);
}

static void release_slot(struct vblk *b, struct vblk_slot *s)
{
	if (s->mapping)
		b->d->bus.ops->dma_unmap(b->d->bus.ctx, s->mapping);
	memset(s, 0, offsetof(struct vblk_slot, hdr));
}

/* Fills and posts slot @s; on failure the slot is free again. */
static int submit(struct vblk *b, struct vblk_slot *s, uint32_t type,
		  uint64_t sector, uint8_t *buf, size_t len)
{
	uint64_t data_dev;
	int ret;

	*s = (struct vblk_slot){ .busy = true, .type = type, .sector = sector,
				 .buf = buf, .len = len, .hdr = s->hdr,
				 .hdr_dev = s->hdr_dev, .bounce = s->bounce,
				 .bounce_dev = s->bounce_dev };
	put_le32(s->hdr, type);
	put_le32(s->hdr + 4, 0);
	put_le64(s->hdr + 8, sector);
	s->hdr[VBLK_STATUS_OFF] = VBLK_STATUS_UNSET;
	if (map_direct(b, s)) {
		data_dev = (uintptr_t)buf;
	} else {
		ret = ensure_bounce(b);
		if (ret) {
			release_slot(b, s);
			return ret;
		}
		/* The bounce buffer may be smaller than a direct piece. */
		s->len = VQ_MIN(len, b->bounce_size);
		s->bounced = true;
		data_dev = s->bounce_dev;
		if (!is_in(type) && s->len)
			plat_copy(s->bounce, buf, s->len);
	}
	ret = post_slot(b, s, data_dev);
	if (ret) {
		release_slot(b, s);
		return ret;
	}
	b->inflight++;
	b->stats.max_inflight = VQ_MAX(b->stats.max_inflight, b->inflight);
	return 0;
}

static void on_done(void *ctx, void *token, uint32_t len)
{
	struct vblk_slot *s = token;

	s->done = true;
	s->used_len = len;
}

static void on_dropped(void *ctx, void *token, uint32_t len)
{
	struct vblk_slot *s = token;

	s->done = true;
	s->dropped = true;
}

/* Judges a completed request (§5.2.6): status first, then the length. */
static int check_slot(struct vblk *b, const struct vblk_slot *s)
{
	uint8_t st = *(volatile uint8_t *)(s->hdr + VBLK_STATUS_OFF);
	uint64_t need = (is_in(s->type) && s->type != VIRTIO_BLK_T_GET_ID ?
			 s->len : 0) + 1;

	if (s->dropped)
		return -VQ_ECANCELED;
	if (st == VIRTIO_BLK_S_IOERR)
		return log_err(-VQ_EIO, "%s: I/O error at sector %llu (+%zu bytes)",
			       b->d->name, (unsigned long long)s->sector, s->len);
	if (st == VIRTIO_BLK_S_UNSUPP)
		return log_err(-VQ_EUNSUPP, "%s: request type %u unsupported",
			       b->d->name, s->type);
	if (st != VIRTIO_BLK_S_OK)
		return log_err(-VQ_EIO, "%s: status %u at sector %llu",
			       b->d->name, st, (unsigned long long)s->sector);
	if (s->used_len < need)
		return log_err(-VQ_ESHORT,
			       "%s: sector %llu: device wrote %u of %llu bytes",
			       b->d->name, (unsigned long long)s->sector,
			       s->used_len, (unsigned long long)need);
	return 0;
}

/* A request dropped by a reset that did not complete, on a device that may
 * still write: its mapping stays (a bounce behind it stays allocated), the
 * driver is dead so that no slot is reused, and the caller learns that its
 * buffer is lost. */
static int lose_slot(struct vblk *b, struct vblk_slot *s)
{
	s->mapping = NULL;
	b->dead = true;
	b->inflight--;
	release_slot(b, s);
	return -VQ_ESTUCK;
}

static int finish_slot(struct vblk *b, struct vblk_slot *s)
{
	int ret;

	if (s->dropped && vdev_may_dma(b->d))
		return lose_slot(b, s);
	ret = check_slot(b, s);

	/* Unmap first: for a FROM_DEVICE mapping it makes the data visible. */
	if (s->mapping) {
		b->d->bus.ops->dma_unmap(b->d->bus.ctx, s->mapping);
		s->mapping = NULL;
	}
	if (!ret && s->bounced && s->type == VIRTIO_BLK_T_IN)
		plat_copy(s->buf, s->bounce, s->len);
	/* GET_ID: trust only what the used length covers. */
	if (!ret && s->type == VIRTIO_BLK_T_GET_ID)
		plat_copy(s->buf, s->bounce, VQ_MIN((size_t)s->used_len - 1, s->len));
	if (!ret && s->bounced)
		b->stats.bounced_bytes += s->len;
	if (!ret) {
		b->stats.requests++;
		b->stats.bytes += s->len;
	}
	b->inflight--;
	release_slot(b, s);
	return ret;
}

/* ---- request streams ----------------------------------------------------- */

struct vblk_io {
	uint32_t type;
	uint64_t sector;
	uint8_t *buf;
	size_t left;
	int err;               /* first error */
	/* A vectored read: pieces not started yet (checked by the caller). */
	const struct bdev_iov *iov;
	unsigned iov_left;
	uint64_t unissued;     /* bytes of all pieces not yet sent */
};

/* Moves @io to its next non-empty piece; false when there is none. */
static bool next_piece(const struct vblk *b, struct vblk_io *io)
{
	uint64_t per = b->info.blk_size / VBLK_SECTOR;

	while (!io->left && io->iov_left) {
		io->sector = io->iov->lba * per;
		io->buf = io->iov->buf;
		io->left = (size_t)(io->iov->count * b->info.blk_size);
		io->iov++;
		io->iov_left--;
	}
	return io->left != 0;
}

/*
 * Bytes for the next request: up to max_request, but a read too small to
 * fill VBLK_SPREAD requests of that size is cut into VBLK_SPREAD (not below
 * VBLK_SPREAD_MIN), so that the device works on several at once: QEMU
 * reads each request with its own worker. Whole logical blocks.
 */
static size_t request_len(const struct vblk *b, const struct vblk_io *io)
{
	uint64_t want = VQ_MAX(io->unissued / VBLK_SPREAD, (uint64_t)VBLK_SPREAD_MIN);
	size_t len = (size_t)VQ_MIN((uint64_t)io->left,
				    VQ_MIN(want, (uint64_t)b->info.max_request));

	len -= len % b->info.blk_size;
	return len ? len : VQ_MIN(io->left, (size_t)b->info.max_request);
}

/* Posts requests while slots and ring space last. Returns how many. */
static unsigned issue(struct vblk *b, struct vblk_io *io)
{
	unsigned n = 0;
	struct vblk_slot *s;

	while (next_piece(b, io) && !io->err && (s = free_slot(b))) {
		size_t len = request_len(b, io);
		int ret;

		/* submit() may shorten a bounced piece: advance by s->len. */
		ret = submit(b, s, io->type, io->sector, io->buf, len);
		if (ret == -VQ_ENOSPC && b->inflight)
			break;
		if (ret) {
			io->err = log_err(ret, "%s: cannot queue request at sector %llu",
					  b->d->name, (unsigned long long)io->sector);
			break;
		}
		io->sector += s->len / VBLK_SECTOR;
		io->buf += s->len;
		io->left -= s->len;
		io->unissued -= VQ_MIN(io->unissued, (uint64_t)s->len);
		n++;
	}
	return n;
}

static void reap(struct vblk *b, struct vblk_io *io)
{
	for (unsigned i = 0; i < b->nslots; i++) {
		struct vblk_slot *s = &b->slots[i];
		int ret;

		if (!s->busy || !s->done)
			continue;
		ret = finish_slot(b, s);
		/* A lost buffer outranks the error that lost it. */
		if ((ret && !io->err) || ret == -VQ_ESTUCK)
			io->err = ret;
	}
}

static int run_io(struct vblk *b, struct vblk_io *io)
{
	int ret = vblk_ready(b);

	if (ret)
		return ret;
	for (;;) {
		if (issue(b, io))
			vq_kick(b->vq);
		if (!b->inflight)
			break;
		ret = vdev_wait(b->d, b->vq, plat_now_us() + b->timeout_us,
				on_done, on_dropped, b);
		/* On failure every in-flight slot was dropped after a reset. */
		if (ret < 0 && !io->err)
			io->err = ret;
		reap(b, io);
	}
	if (io->err == -VQ_ESTUCK)
		log_error("%s: the device would not stop: the buffer of this %s may still be written and is not to be reused",
			  b->d->name, is_in(io->type) ? "read" : "request");
	return io->err;
}

static int check_range(struct vblk *b, uint64_t sector, size_t len)
{
	uint64_t cap = b->info.capacity;
	uint32_t bs = b->info.blk_size;

	if (sector > cap || len / VBLK_SECTOR > cap - sector)
		return log_err(-VQ_ERANGE,
			       "%s: sector %llu + %zu bytes beyond capacity %llu",
			       b->d->name, (unsigned long long)sector, len,
			       (unsigned long long)cap);
	/* In range, so sector * 512 cannot overflow (capacity was checked). */
	if ((sector * VBLK_SECTOR) % bs || len % bs)
		return log_err(-VQ_EINVAL,
			       "%s: sector %llu + %zu bytes not aligned to the %u-byte block",
			       b->d->name, (unsigned long long)sector, len, bs);
	return 0;
}

static int vblk_rw(struct vblk *b, uint32_t type, uint64_t sector, void *buf,
		   size_t len)
{
	struct vblk_io io = { .type = type, .sector = sector, .buf = buf,
			      .left = len, .unissued = len };
	int ret = check_range(b, sector, len);

	if (ret || !len)
		return ret;
	return run_io(b, &io);
}

int vblk_read(struct vblk *b, uint64_t sector, void *buf, size_t len)
{
	return vblk_rw(b, VIRTIO_BLK_T_IN, sector, buf, len);
}

int vblk_write(struct vblk *b, uint64_t sector, const void *buf, size_t len)
{
	if (b->info.read_only)
		return log_err(-VQ_EROFS, "%s: write to sector %llu of a read-only disk",
			       b->d->name, (unsigned long long)sector);
	return vblk_rw(b, VIRTIO_BLK_T_OUT, sector, (void *)buf, len);
}

/* A request without caller data (FLUSH) or with a small one (GET_ID) that
 * always goes through the slot's own buffer. */
static int small_request(struct vblk *b, uint32_t type, uint8_t *buf,
			 size_t len)
{
	bool force = b->force_bounce;
	struct vblk_io io = { .type = type, .buf = buf, .left = len,
			      .unissued = len };
	int ret;

	b->force_bounce = true;
	if (!len) {
		struct vblk_slot *s;

		ret = vblk_ready(b);
		if (ret)
			goto out;
		s = free_slot(b);
		ret = s ? submit(b, s, type, 0, NULL, 0) : -VQ_ENOSPC;
		if (ret)
			goto out;
		vq_kick(b->vq);
	}
	ret = run_io(b, &io);
out:
	b->force_bounce = force;
	return ret;
}

int vblk_flush(struct vblk *b)
{
	if (!b->info.flush)
		return log_err(-VQ_ENOTSUP, "%s: flush not negotiated or read-only",
			       b->d->name);
	return small_request(b, VIRTIO_BLK_T_FLUSH, NULL, 0);
}

int vblk_get_id(struct vblk *b, char ret[21])
{
	uint8_t id[VBLK_ID_BYTES];
	int err;

	memset(id, 0, sizeof(id));
	err = small_request(b, VIRTIO_BLK_T_GET_ID, id, sizeof(id));
	if (err)
		return err;
	/* §5.2.6: 20 bytes, NUL-padded, maybe without a terminator. */
	memcpy(ret, id, VBLK_ID_BYTES);
	ret[VBLK_ID_BYTES] = '\0';
	return 0;
}

/* ---- blockdev ------------------------------------------------------------ */

static int vblk_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count,
			    void *buf)
{
	struct vblk *b = bd->ctx;
	uint64_t per = b->info.blk_size / VBLK_SECTOR;

	if (count > SIZE_MAX / b->info.blk_size || lba > UINT64_MAX / per)
		return log_err(-VQ_ERANGE, "%s: block %llu + %llu out of range",
			       bd->name, (unsigned long long)lba,
			       (unsigned long long)count);
	return vblk_read(b, lba * per, buf, (size_t)(count * b->info.blk_size));
}

/* Every piece checked first: none reaches the device if one is bad. */
static int check_piece(struct vblk *b, const struct bdev_iov *v)
{
	uint64_t per = b->info.blk_size / VBLK_SECTOR;

	if (v->count > SIZE_MAX / b->info.blk_size || v->lba > UINT64_MAX / per)
		return log_err(-VQ_ERANGE, "%s: block %llu + %llu out of range",
			       b->d->name, (unsigned long long)v->lba,
			       (unsigned long long)v->count);
	return check_range(b, v->lba * per, (size_t)(v->count * b->info.blk_size));
}

/* The pieces stream through the slots like one long read: several in
 * flight, each split to the request limits. */
static int vblk_read_blocks_vec(struct blockdev *bd, const struct bdev_iov *iov,
				unsigned n)
{
	struct vblk *b = bd->ctx;
	struct vblk_io io = { .type = VIRTIO_BLK_T_IN, .iov = iov, .iov_left = n };

	for (unsigned i = 0; i < n; i++) {
		int ret = check_piece(b, &iov[i]);

		if (ret)
			return ret;
		/* Saturating: the sum only steers request sizes. */
		io.unissued += VQ_MIN(iov[i].count * b->info.blk_size,
				      UINT64_MAX - io.unissued);
	}
	return n ? run_io(b, &io) : 0;
}

static const struct blockdev_ops vblk_bdev_ops = {
	.read_blocks = vblk_read_blocks,
	.read_blocks_vec = vblk_read_blocks_vec,
};

struct blockdev *vblk_bdev(struct vblk *b)
{
	return &b->bdev;
}
