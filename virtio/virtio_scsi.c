/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi driver (virtio 1.2 §5.6) over struct vdev, the first request
 * queue only (the control and event queues are left disabled: a boot loader
 * neither aborts tasks, it resets the device, nor follows hot-plug).
 *
 * A command is {request header + CDB, device-readable; response header +
 * sense, then the data-in buffer, device-writable} (§5.6.6). Headers,
 * responses and a small buffer for the scan's own data live in one
 * preallocated DMA area, one slot per command that may be in flight; reads
 * go straight into the caller's buffer when the bus maps it as an identity,
 * through the slot's bounce buffer otherwise (allocated when first needed).
 *
 * One engine runs every command: a source fills free slots (the scan's
 * lists, or a stream of READs), completions are judged (response code,
 * status, sense_len, resid, used length) and handed back to the source.
 * The scan runs each phase for all targets or LUNs at once, so a controller
 * costs a few round trips to the device, not one per target.
 *
 * After a failure that reset the device, the next command first
 * re-initialises it; if that fails the driver is dead (-VQ_ENODEV).
 */
#include "lib/log.h"
#include "virtio/virtio_scsi.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define VSCSI_QUEUE VIRTIO_SCSI_REQUESTQ
#define VSCSI_SLOTS 64
#define VSCSI_CDB_MIN 16           /* READ(16) and READ CAPACITY(16) */
#define VSCSI_CDB_MAX 64
#define VSCSI_CDB_DEFAULT 32
#define VSCSI_SENSE_MIN 18         /* fixed format up to ASCQ and more */
#define VSCSI_SENSE_MAX 252
#define VSCSI_SENSE_DEFAULT 96
#define VSCSI_RESP_OFF 96          /* in a slot: request at 0, response here */
#define VSCSI_AUX_OFF 384          /* ... the scan's data buffer here */
#define VSCSI_AUX_SIZE 1024
#define VSCSI_SLOT_STRIDE (VSCSI_AUX_OFF + VSCSI_AUX_SIZE)
#define VSCSI_RESPONSE_UNSET 0xFF  /* preset: an unwritten response is no OK */
#define VSCSI_BOUNCE_SIZE (64u << 10) /* per slot: 4 MiB when all bounce */
#define VSCSI_MAX_REQUEST (4u << 20)
#define VSCSI_SPREAD 4             /* a lone read goes as this many requests */
#define VSCSI_SPREAD_MIN (1u << 20)  /* ... none smaller than this */
#define VSCSI_RETRIES 4            /* UNIT ATTENTION, BUSY, RESET */
#define VSCSI_READY_RETRIES 200    /* NOT READY, becoming ready: ... */
#define VSCSI_READY_POLL_US 10000  /* ... every 10 ms, 2 s in all */
#define VSCSI_INQUIRY_LEN 96
#define VSCSI_RC16_LEN 32
#define VSCSI_RC10_LEN 8
#define VSCSI_CANDIDATES 64        /* (target, LUN) pairs INQUIRY looks at */
#define VSCSI_REPORT_LEN (8 + 8 * VSCSI_LUNS_PER_TARGET)
#define VSCSI_TASK_SIMPLE 0

#define VSCSI_FEATURES \
	(VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

/* A judged completion. */
struct vscsi_result {
	int err;                   /* 0: GOOD, data (if any) delivered */
	uint8_t response;
	uint8_t status;
	uint32_t resid;            /* checked: within the transfer */
	uint32_t got;              /* data bytes the device transferred */
	struct vscsi_sense sense;
};

struct vscsi_slot {
	bool busy;
	bool done;
	bool dropped;
	bool bounced;
	bool aux;                  /* data in the slot's own aux buffer */
	uint16_t target;
	uint16_t lun;
	uint8_t cdb[16];
	uint8_t cdb_len;
	uint32_t used_len;
	unsigned tag;              /* the source's index */
	uint8_t *buf;              /* caller's data */
	size_t len;
	void *mapping;             /* direct mapping, to unmap on completion */
	/* fixed: set up once */
	uint8_t *hdr;
	uint64_t hdr_dev;
	uint8_t *bounce;
	uint64_t bounce_dev;
};

struct vscsi {
	struct vdev *d;
	struct virtqueue *vq;
	struct vscsi_info info;
	struct vscsi_stats stats;
	size_t bounce_size;        /* per slot */
	unsigned nslots;
	unsigned inflight;
	struct vscsi_slot slots[VSCSI_SLOTS];
	struct vq_dma hdrs;
	struct vq_dma bounce[VSCSI_SLOTS];
	uint64_t next_id;
	bool force_bounce;
	bool dead;
	bool lost;             /* a caller's buffer was left to a stuck device */
	uint64_t timeout_us;
	unsigned nluns;
	struct vscsi_lun luns[VSCSI_MAX_LUNS];
};

/* A source of commands for the engine. */
struct vscsi_batch {
	/* Fill free slot @s: 1 when filled, 0 when nothing is ready, < 0. */
	int (*next)(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s);
	/* Slot @s completed (or was dropped), judged as @r. */
	void (*done)(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s,
		     const struct vscsi_result *r);
	unsigned max_inflight;
	int err;                   /* the first error that stops the batch */
};

uint64_t vscsi_features(uint64_t offered)
{
	return offered & VSCSI_FEATURES;
}

static uint64_t vscsi_filter(void *ctx, uint64_t offered)
{
	return vscsi_features(offered);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- configuration ------------------------------------------------------- */

#define cfg_get(c, field, ptr) \
	vdev_config_get((c)->d, struct virtio_scsi_config, field, (ptr))

static int read_config(struct vscsi *c, struct vscsi_info *in)
{
	int ret = cfg_get(c, num_queues, &in->num_queues);

	if (!ret)
		ret = cfg_get(c, seg_max, &in->seg_max);
	if (!ret)
		ret = cfg_get(c, max_sectors, &in->max_sectors);
	if (!ret)
		ret = cfg_get(c, cmd_per_lun, &in->cmd_per_lun);
	if (!ret)
		ret = cfg_get(c, event_info_size, &in->event_info_size);
	if (!ret)
		ret = cfg_get(c, sense_size, &in->sense_size);
	if (!ret)
		ret = cfg_get(c, cdb_size, &in->cdb_size);
	if (!ret)
		ret = cfg_get(c, max_channel, &in->max_channel);
	if (!ret)
		ret = cfg_get(c, max_target, &in->max_target);
	if (!ret)
		ret = cfg_get(c, max_lun, &in->max_lun);
	if (ret)
		return log_err(ret, "%s: cannot read config", c->d->name);
	return 0;
}

static bool sizes_ok(uint32_t cdb, uint32_t sense)
{
	return cdb >= VSCSI_CDB_MIN && cdb <= VSCSI_CDB_MAX &&
	       sense >= VSCSI_SENSE_MIN && sense <= VSCSI_SENSE_MAX;
}

/*
 * The header layout follows cdb_size and sense_size. §5.6.4: the driver may
 * write both; do so only when the device's values do not fit our slots.
 */
static int fix_sizes(struct vscsi *c, struct vscsi_info *in)
{
	uint32_t cdb = VSCSI_CDB_DEFAULT, sense = VSCSI_SENSE_DEFAULT;
	int ret;

	if (sizes_ok(in->cdb_size, in->sense_size))
		return 0;
	log_warn("%s: cdb_size %u, sense_size %u do not fit; asking for %u and %u",
		 c->d->name, in->cdb_size, in->sense_size, cdb, sense);
	ret = c->d->ops->config_write(c->d, offsetof(struct virtio_scsi_config, cdb_size),
				      &cdb, sizeof(cdb));
	if (!ret)
		ret = c->d->ops->config_write(c->d,
					      offsetof(struct virtio_scsi_config, sense_size),
					      &sense, sizeof(sense));
	if (!ret)
		ret = cfg_get(c, cdb_size, &in->cdb_size);
	if (!ret)
		ret = cfg_get(c, sense_size, &in->sense_size);
	if (ret)
		return log_err(ret, "%s: cannot write cdb_size and sense_size", c->d->name);
	if (!sizes_ok(in->cdb_size, in->sense_size))
		return log_err(-VQ_ENOTSUP, "%s: device kept cdb_size %u, sense_size %u",
			       c->d->name, in->cdb_size, in->sense_size);
	return 0;
}

/* Bytes of one READ: max_sectors (512-byte units) and our own limit. */
static void compute_limits(struct vscsi *c)
{
	struct vscsi_info *in = &c->info;
	uint64_t max = VSCSI_MAX_REQUEST;

	if (in->max_sectors)
		max = VQ_MIN(max, (uint64_t)in->max_sectors * 512);
	in->max_request = (uint32_t)max;
}

/* ---- slots and DMA ------------------------------------------------------- */

static int alloc_slots(struct vscsi *c)
{
	const struct vpci_bus *bus = &c->d->bus;
	int ret = bus->ops->dma_alloc(bus->ctx, VSCSI_SLOTS * VSCSI_SLOT_STRIDE, &c->hdrs);

	if (ret)
		return log_err(ret, "%s: no DMA memory for command headers", c->d->name);
	c->nslots = VSCSI_SLOTS;
	c->bounce_size = VSCSI_BOUNCE_SIZE;
	for (unsigned i = 0; i < VSCSI_SLOTS; i++) {
		c->slots[i].hdr = (uint8_t *)c->hdrs.host + i * VSCSI_SLOT_STRIDE;
		c->slots[i].hdr_dev = c->hdrs.dev + i * VSCSI_SLOT_STRIDE;
	}
	return 0;
}

/* A slot's bounce buffer only when a read first bounces through it: with
 * identity mappings (OVMF below 4 GiB) none is ever allocated, and a
 * bounced read allocates as many as it keeps in flight. */
static int ensure_bounce(struct vscsi *c, struct vscsi_slot *s)
{
	const struct vpci_bus *bus = &c->d->bus;
	struct vq_dma *b = &c->bounce[s - c->slots];
	int ret;

	if (b->host)
		return 0;
	ret = bus->ops->dma_alloc(bus->ctx, c->bounce_size, b);
	if (ret) {
		b->host = NULL;
		return log_err(ret, "%s: no DMA memory for a %zu-byte bounce buffer",
			       c->d->name, c->bounce_size);
	}
	s->bounce = b->host;
	s->bounce_dev = b->dev;
	return 0;
}

static void free_slots(struct vscsi *c)
{
	const struct vpci_bus *bus = &c->d->bus;

	for (unsigned i = 0; i < VSCSI_SLOTS; i++)
		if (c->bounce[i].host)
			bus->ops->dma_free(bus->ctx, &c->bounce[i]);
	if (c->hdrs.host)
		bus->ops->dma_free(bus->ctx, &c->hdrs);
	c->hdrs.host = NULL;
}

static struct vscsi_slot *free_slot(struct vscsi *c)
{
	for (unsigned i = 0; i < c->nslots; i++)
		if (!c->slots[i].busy)
			return &c->slots[i];
	return NULL;
}

static void release_slot(struct vscsi *c, struct vscsi_slot *s)
{
	if (s->mapping)
		c->d->bus.ops->dma_unmap(c->d->bus.ctx, s->mapping);
	memset(s, 0, offsetof(struct vscsi_slot, hdr));
}

/* Data in the slot's aux buffer (the scan's small replies). */
static void slot_aux(struct vscsi_slot *s, uint32_t len)
{
	s->aux = true;
	s->len = len;
}

/*
 * Data into the caller's @buf: direct when the bus maps all of it as an
 * identity, else through the slot's bounce buffer, which may take less.
 * Returns the bytes this command carries (whole blocks of @bs) or < 0.
 */
static int slot_data(struct vscsi *c, struct vscsi_slot *s, uint8_t *buf,
		     size_t len, uint32_t bs)
{
	const struct vpci_bus *bus = &c->d->bus;
	uint64_t dev;
	size_t got;
	void *mapping;
	int ret;

	s->buf = buf;
	if (!c->force_bounce &&
	    !bus->ops->dma_map(bus->ctx, buf, len, VPCI_DMA_FROM_DEVICE, &dev, &got,
			       &mapping)) {
		if (dev == (uintptr_t)buf && got == len) {
			s->mapping = mapping;
			s->len = len;
			return (int)(len / bs);
		}
		bus->ops->dma_unmap(bus->ctx, mapping);
	}
	ret = ensure_bounce(c, s);
	if (ret)
		return ret;
	s->bounced = true;
	s->len = VQ_MIN(len, c->bounce_size);
	s->len -= s->len % bs;
	return (int)(s->len / bs);
}

/* ---- posting and judging one command ------------------------------------- */

/* vqboot reads: nothing that writes, formats or reserves ever leaves here. */
static bool cdb_reads_only(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case SCSI_TEST_UNIT_READY:
	case SCSI_INQUIRY:
	case SCSI_REPORT_LUNS:
	case SCSI_READ_CAPACITY_10:
	case SCSI_READ_10:
	case SCSI_READ_16:
		return true;
	case SCSI_SERVICE_ACTION_IN_16:
		return (cdb[1] & 0x1F) == SCSI_SA_READ_CAPACITY_16;
	default:
		return false;
	}
}

static uint32_t resp_size(const struct vscsi *c)
{
	return VIRTIO_SCSI_RESP_HDR + c->info.sense_size;
}

/* Writes the request header (§5.6.6.1) and presets the response. */
static void fill_header(struct vscsi *c, struct vscsi_slot *s)
{
	uint8_t *req = s->hdr, *resp = s->hdr + VSCSI_RESP_OFF;

	memset(req, 0, VIRTIO_SCSI_REQ_HDR + c->info.cdb_size);
	/* lun: 1, target, then the LUN in the flat space method (0x40). */
	req[0] = 1;
	req[1] = (uint8_t)s->target;
	req[2] = (uint8_t)(0x40 | (s->lun >> 8));
	req[3] = (uint8_t)s->lun;
	put_le64(req + 8, ++c->next_id);
	req[16] = VSCSI_TASK_SIMPLE;
	memcpy(req + VIRTIO_SCSI_REQ_HDR, s->cdb, s->cdb_len);
	memset(resp, 0, resp_size(c));
	resp[11] = VSCSI_RESPONSE_UNSET;
}

static int post_slot(struct vscsi *c, struct vscsi_slot *s)
{
	struct vq_buf out[1], in[2];
	unsigned n_in = 1;

	if (!cdb_reads_only(s->cdb))
		return log_err(-VQ_EINVAL, "%s: refusing to send opcode 0x%02x",
			       c->d->name, s->cdb[0]);
	fill_header(c, s);
	out[0] = (struct vq_buf){ .addr = s->hdr_dev,
				  .len = VIRTIO_SCSI_REQ_HDR + c->info.cdb_size };
	in[0] = (struct vq_buf){ .addr = s->hdr_dev + VSCSI_RESP_OFF, .len = resp_size(c) };
	if (s->len)
		in[n_in++] = (struct vq_buf){
			.addr = s->aux ? s->hdr_dev + VSCSI_AUX_OFF :
			       s->bounced ? s->bounce_dev : (uintptr_t)s->buf,
			.len = (uint32_t)s->len };
	return vq_add(c->vq, out, 1, in, n_in, s);
}

static void on_done(void *ctx, void *token, uint32_t len)
{
	struct vscsi_slot *s = token;

	s->done = true;
	s->used_len = len;
}

static void on_dropped(void *ctx, void *token, uint32_t len)
{
	struct vscsi_slot *s = token;

	s->done = true;
	s->dropped = true;
}

static int judge_status(struct vscsi_result *r, const uint8_t *sense,
			uint32_t sense_len)
{
	switch (r->status) {
	case SCSI_STATUS_GOOD:
		return 0;
	case SCSI_STATUS_CHECK_CONDITION:
		vscsi_parse_sense(sense, sense_len, &r->sense);
		return r->sense.valid && r->sense.key == SCSI_SENSE_UNIT_ATTENTION
			       ? -VQ_EAGAIN : -VQ_EIO;
	case SCSI_STATUS_BUSY:
	case SCSI_STATUS_TASK_SET_FULL:
	case SCSI_STATUS_TASK_ABORTED:
		return -VQ_EAGAIN;
	default:
		return -VQ_EIO;
	}
}

static int judge_response(uint8_t response)
{
	switch (response) {
	case VIRTIO_SCSI_S_OK:
		return 0;
	case VIRTIO_SCSI_S_BAD_TARGET:
		return -VQ_ENODEV;
	case VIRTIO_SCSI_S_RESET:
	case VIRTIO_SCSI_S_BUSY:
		return -VQ_EAGAIN;
	default:
		return -VQ_EIO;
	}
}

/*
 * Judges a completion from one snapshot of the response (the device could
 * still scribble on the shared copy): used length, response, resid,
 * sense_len, then the status. Logs only what contradicts the protocol; the
 * source decides what a failed command means.
 */
static void judge(struct vscsi *c, const struct vscsi_slot *s, struct vscsi_result *r)
{
	uint8_t resp[VIRTIO_SCSI_RESP_HDR + VSCSI_SENSE_MAX];
	uint32_t sense_len;

	*r = (struct vscsi_result){ 0 };
	if (s->dropped) {
		r->err = -VQ_ECANCELED;
		return;
	}
	memcpy(resp, (const void *)(s->hdr + VSCSI_RESP_OFF), resp_size(c));
	sense_len = get_le32(resp);
	r->resid = get_le32(resp + 4);
	r->status = resp[10];
	r->response = resp[11];
	if (s->used_len < VIRTIO_SCSI_RESP_HDR) {
		r->err = log_err(-VQ_ESHORT, "%s: target %u lun %u: device wrote %u bytes, no response",
				 c->d->name, s->target, s->lun, s->used_len);
		return;
	}
	r->err = judge_response(r->response);
	if (r->err)
		return;
	if (sense_len > c->info.sense_size ||
	    s->used_len < VIRTIO_SCSI_RESP_HDR + sense_len) {
		r->err = log_err(-VQ_ECORRUPT,
				 "%s: target %u lun %u: sense_len %u beyond sense_size %u or the %u bytes written",
				 c->d->name, s->target, s->lun, sense_len,
				 c->info.sense_size, s->used_len);
		return;
	}
	if (r->resid > s->len) {
		r->err = log_err(-VQ_ECORRUPT,
				 "%s: target %u lun %u: resid %u beyond the %zu-byte transfer",
				 c->d->name, s->target, s->lun, r->resid, s->len);
		return;
	}
	r->got = (uint32_t)(s->len - r->resid);
	r->err = judge_status(r, resp + VIRTIO_SCSI_RESP_HDR, sense_len);
	/* §2.7.8: len counts from the first writable byte: the data follows
	 * the whole response area. */
	if (!r->err && r->got && s->used_len < resp_size(c) + r->got)
		r->err = log_err(-VQ_ESHORT,
				 "%s: target %u lun %u: device wrote %u bytes, %u needed for %u of data",
				 c->d->name, s->target, s->lun, s->used_len,
				 resp_size(c) + r->got, r->got);
}

/* ---- the engine ---------------------------------------------------------- */

static int vscsi_start(struct vscsi *c);

static int vscsi_restart(struct vscsi *c)
{
	int ret;

	log_warn("%s: re-initialising the controller after a reset", c->d->name);
	vdev_teardown(c->d);
	c->vq = NULL;
	ret = vscsi_start(c);
	if (ret) {
		vdev_teardown(c->d);
		c->dead = true;
		return log_err(-VQ_ENODEV, "%s: controller did not come back (%s); giving up",
			       c->d->name, vq_strerror(ret));
	}
	return 0;
}

static int vscsi_ready(struct vscsi *c)
{
	if (c->dead)
		return log_err(-VQ_ENODEV, "%s: controller is dead", c->d->name);
	if (c->d->broken)
		return vscsi_restart(c);
	return 0;
}

/* A direct chain takes 3 descriptors; with indirect tables 1. Checking room
 * before the source fills a slot means a filled slot is always posted. */
static bool ring_has_room(struct vscsi *c)
{
	return vq_num_free(c->vq) >= 3 ||
	       ((c->d->features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) &&
		vq_num_free(c->vq) >= 1);
}

static unsigned issue(struct vscsi *c, struct vscsi_batch *b)
{
	unsigned n = 0;
	struct vscsi_slot *s;

	while (!b->err && c->inflight < b->max_inflight && ring_has_room(c) &&
	       (s = free_slot(c))) {
		int ret;

		s->busy = true;
		ret = b->next(c, b, s);
		if (ret > 0)
			ret = post_slot(c, s);
		else if (!ret) {
			release_slot(c, s);
			break;
		}
		if (ret) {
			release_slot(c, s);
			b->err = log_err(ret, "%s: cannot queue a command", c->d->name);
			break;
		}
		c->inflight++;
		c->stats.max_inflight = VQ_MAX(c->stats.max_inflight, c->inflight);
		n++;
	}
	return n;
}

static void finish_slot(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s)
{
	struct vscsi_result r;

	judge(c, s, &r);
	/* Dropped by a reset that did not complete, and the device may still
	 * write: the caller's buffer stays mapped and is lost (-VQ_ESTUCK). */
	if (s->dropped && vdev_may_dma(c->d)) {
		s->mapping = NULL;
		c->lost = true;
	}
	/* Unmap first: for a FROM_DEVICE mapping it makes the data visible. */
	if (s->mapping) {
		c->d->bus.ops->dma_unmap(c->d->bus.ctx, s->mapping);
		s->mapping = NULL;
	}
	if (!r.err && s->bounced) {
		plat_copy(s->buf, s->bounce, r.got);
		c->stats.bounced_bytes += r.got;
	}
	if (!r.err)
		c->stats.commands++;
	b->done(c, b, s, &r);
	c->inflight--;
	release_slot(c, s);
}

static void reap(struct vscsi *c, struct vscsi_batch *b)
{
	for (unsigned i = 0; i < c->nslots; i++)
		if (c->slots[i].busy && c->slots[i].done)
			finish_slot(c, b, &c->slots[i]);
}

/* Runs @b until its source has nothing more and nothing is in flight. */
static int run_batch(struct vscsi *c, struct vscsi_batch *b)
{
	int ret = vscsi_ready(c);

	if (ret)
		return ret;
	c->lost = false;
	for (;;) {
		if (issue(c, b))
			vq_kick(c->vq);
		if (!c->inflight)
			break;
		ret = vdev_wait(c->d, c->vq, plat_now_us() + c->timeout_us,
				on_done, on_dropped, c);
		/* On failure every in-flight slot was dropped after a reset. */
		if (ret < 0 && !b->err)
			b->err = ret;
		reap(c, b);
	}
	if (c->lost)
		return log_err(-VQ_ESTUCK, "%s: the device would not stop: buffers of this batch may still be written and are not to be reused",
			       c->d->name);
	return b->err;
}

/* ---- messages ------------------------------------------------------------ */

static const char *response_name(uint8_t r)
{
	static const char *const names[] = {
		"OK", "OVERRUN", "ABORTED", "BAD_TARGET", "RESET", "BUSY",
		"TRANSPORT_FAILURE", "TARGET_FAILURE", "NEXUS_FAILURE", "FAILURE",
	};

	return r < ARRAY_SIZE(names) ? names[r] : "unknown response";
}

static const char *op_name(const uint8_t *cdb)
{
	switch (cdb[0]) {
	case SCSI_TEST_UNIT_READY: return "TEST UNIT READY";
	case SCSI_INQUIRY: return "INQUIRY";
	case SCSI_REPORT_LUNS: return "REPORT LUNS";
	case SCSI_READ_CAPACITY_10: return "READ CAPACITY(10)";
	case SCSI_SERVICE_ACTION_IN_16: return "READ CAPACITY(16)";
	case SCSI_READ_10: return "READ(10)";
	case SCSI_READ_16: return "READ(16)";
	default: return "command";
	}
}

/* "MEDIUM ERROR, unrecovered read error at LBA 123456" and the like. */
static void result_words(const struct vscsi_result *r, char *buf, size_t size)
{
	const char *asc;
	int n;

	if (r->response != VIRTIO_SCSI_S_OK) {
		vq_snprintf(buf, size, "response %s (%u)", response_name(r->response),
			    r->response);
		return;
	}
	if (r->status != SCSI_STATUS_CHECK_CONDITION || !r->sense.valid) {
		vq_snprintf(buf, size, "status 0x%02x%s", r->status,
			    r->status == SCSI_STATUS_CHECK_CONDITION ? " without sense data" : "");
		return;
	}
	asc = vscsi_asc_name(r->sense.asc, r->sense.ascq);
	n = vq_snprintf(buf, size, "%s, ", vscsi_sense_key_name(r->sense.key));
	if ((size_t)n >= size)
		return;
	if (asc)
		n += vq_snprintf(buf + n, size - n, "%s", asc);
	else
		n += vq_snprintf(buf + n, size - n, "ASC 0x%02x ASCQ 0x%02x",
				 r->sense.asc, r->sense.ascq);
	if ((size_t)n < size && r->sense.info_valid)
		vq_snprintf(buf + n, size - n, " at LBA %llu",
			    (unsigned long long)r->sense.info);
}

static int log_cmd_error(struct vscsi *c, const struct vscsi_slot *s,
			 const struct vscsi_result *r, const char *what)
{
	char words[160];

	if (r->err == -VQ_ECANCELED || r->err == -VQ_ECORRUPT || r->err == -VQ_ESHORT)
		return r->err; /* the engine or judge said it already */
	result_words(r, words, sizeof(words));
	return log_err(r->err, "%s target %u lun %u: %s%s: %s", c->d->name, s->target,
		       s->lun, op_name(s->cdb), what, words);
}

/* ---- reads --------------------------------------------------------------- */

struct vscsi_read {
	struct vscsi_batch b;
	struct vscsi_lun *l;
	uint64_t lba;
	uint8_t *buf;
	uint64_t left;             /* blocks of the current piece */
	const struct bdev_iov *iov;
	unsigned iov_left;
	uint64_t unissued;         /* bytes of everything not yet sent */
	bool retry;                /* something asked to be tried again */
};

static bool next_piece(struct vscsi_read *io)
{
	while (!io->left && io->iov_left) {
		io->lba = io->iov->lba;
		io->buf = io->iov->buf;
		io->left = io->iov->count;
		io->iov++;
		io->iov_left--;
	}
	return io->left != 0;
}

/* Bytes for the next READ: up to max_request, but a read too small to fill
 * VSCSI_SPREAD of them is cut so the device works on several at once. */
static size_t request_len(const struct vscsi *c, const struct vscsi_read *io)
{
	uint32_t bs = io->l->block_size;
	uint64_t want = VQ_MAX(io->unissued / VSCSI_SPREAD, (uint64_t)VSCSI_SPREAD_MIN);
	uint64_t max = c->info.max_request - c->info.max_request % bs;
	uint64_t len = VQ_MIN(io->left * bs, VQ_MIN(want, max));

	len -= len % bs;
	return (size_t)(len ? len : VQ_MIN(io->left * bs, max));
}

/* READ(10) while the LBA and count fit it, READ(16) beyond 2 TiB. */
static void read_cdb(struct vscsi_slot *s, uint64_t lba, uint32_t blocks)
{
	memset(s->cdb, 0, sizeof(s->cdb));
	if (lba + blocks - 1 <= UINT32_MAX && blocks <= UINT16_MAX) {
		s->cdb[0] = SCSI_READ_10;
		put_be32(s->cdb + 2, (uint32_t)lba);
		put_be16(s->cdb + 7, (uint16_t)blocks);
		s->cdb_len = 10;
	} else {
		s->cdb[0] = SCSI_READ_16;
		put_be64(s->cdb + 2, lba);
		put_be32(s->cdb + 10, blocks);
		s->cdb_len = 16;
	}
}

static int read_next(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s)
{
	struct vscsi_read *io = (struct vscsi_read *)b;
	struct vscsi_lun *l = io->l;
	int blocks;

	if (!next_piece(io))
		return 0;
	blocks = slot_data(c, s, io->buf, request_len(c, io), l->block_size);
	if (blocks <= 0)
		return blocks ? blocks : -VQ_ENOSPC;
	s->target = l->target;
	s->lun = l->lun;
	read_cdb(s, io->lba, (uint32_t)blocks);
	io->lba += (uint64_t)blocks;
	io->buf += s->len;
	io->left -= (uint64_t)blocks;
	io->unissued -= VQ_MIN(io->unissued, (uint64_t)s->len);
	return 1;
}

static uint64_t cdb_lba(const uint8_t *cdb)
{
	return cdb[0] == SCSI_READ_16 ? be64(cdb + 2) : be32(cdb + 2);
}

static uint32_t cdb_blocks(const uint8_t *cdb)
{
	return cdb[0] == SCSI_READ_16 ? be32(cdb + 10) : be16(cdb + 7);
}

static void read_done(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s,
		      const struct vscsi_result *r)
{
	struct vscsi_read *io = (struct vscsi_read *)b;
	char what[64];
	int err = r->err;

	if (err == -VQ_EAGAIN) {
		io->retry = true;
		return;
	}
	if (!err && r->got != s->len) {
		err = log_err(-VQ_ESHORT, "%s target %u lun %u: %s at LBA %llu: %u of %zu bytes transferred",
			      c->d->name, s->target, s->lun, op_name(s->cdb),
			      (unsigned long long)cdb_lba(s->cdb), r->got, s->len);
	} else if (err) {
		vq_snprintf(what, sizeof(what), " of %u blocks at LBA %llu",
			    cdb_blocks(s->cdb), (unsigned long long)cdb_lba(s->cdb));
		log_cmd_error(c, s, r, what);
	} else {
		c->stats.reads++;
		c->stats.bytes += s->len;
		return;
	}
	if (!b->err)
		b->err = err;
}

static int check_range(const struct vscsi_lun *l, uint64_t lba, uint64_t count)
{
	if (lba > l->blocks || count > l->blocks - lba || count > SIZE_MAX / l->block_size)
		return log_err(-VQ_ERANGE, "%s: block %llu + %llu beyond %llu blocks",
			       l->name, (unsigned long long)lba,
			       (unsigned long long)count, (unsigned long long)l->blocks);
	return 0;
}

/* A read, tried again whole when a command asked for it (UNIT ATTENTION
 * after a reset, BUSY): reads have no side effects. */
static int run_read(struct vscsi_lun *l, const struct bdev_iov *iov, unsigned n,
		    uint64_t bytes)
{
	struct vscsi *c = l->c;
	unsigned limit = c->info.cmd_per_lun ? VQ_MIN(c->info.cmd_per_lun, c->nslots)
					     : c->nslots;
	int ret = -VQ_EAGAIN;

	for (unsigned tries = 0; tries <= VSCSI_RETRIES && ret == -VQ_EAGAIN; tries++) {
		struct vscsi_read io = {
			.b = { .next = read_next, .done = read_done, .max_inflight = limit },
			.l = l, .iov = iov, .iov_left = n, .unissued = bytes };

		if (tries)
			c->stats.retries++;
		ret = run_batch(c, &io.b);
		if (!ret && io.retry)
			ret = -VQ_EAGAIN;
	}
	if (ret == -VQ_EAGAIN)
		return log_err(-VQ_EIO, "%s: read still refused after %u tries (unit attention or busy)",
			       l->name, VSCSI_RETRIES + 1);
	return ret;
}

int vscsi_read(struct vscsi_lun *l, uint64_t lba, uint64_t count, void *buf)
{
	struct bdev_iov iov = { .lba = lba, .count = count, .buf = buf };
	int ret;

	if (!l->disk)
		return log_err(-VQ_ENODEV, "%s: not a disk", l->name);
	ret = check_range(l, lba, count);
	if (ret || !count)
		return ret;
	return run_read(l, &iov, 1, count * l->block_size);
}

/* ---- blockdev ------------------------------------------------------------ */

static int lun_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count, void *buf)
{
	return vscsi_read(bd->ctx, lba, count, buf);
}

/* Every piece checked first: none reaches the device if one is bad. */
static int lun_read_blocks_vec(struct blockdev *bd, const struct bdev_iov *iov,
			       unsigned n)
{
	struct vscsi_lun *l = bd->ctx;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		int ret = check_range(l, iov[i].lba, iov[i].count);

		if (ret)
			return ret;
		/* Saturating: the sum only steers request sizes. */
		bytes += VQ_MIN(iov[i].count * l->block_size, UINT64_MAX - bytes);
	}
	return n ? run_read(l, iov, n, bytes) : 0;
}

static const struct blockdev_ops lun_bdev_ops = {
	.read_blocks = lun_read_blocks,
	.read_blocks_vec = lun_read_blocks_vec,
};

struct blockdev *vscsi_lun_bdev(struct vscsi_lun *l)
{
	return l->disk ? &l->bdev : NULL;
}

/* ---- the scan ------------------------------------------------------------ */

/* One command of a scan phase, for one target or LUN. */
struct scan_cmd {
	uint16_t target;
	uint16_t lun;
	unsigned index;            /* into c->luns, for the LUN phases */
	bool queued;               /* to be sent (again) */
	bool rc10;                 /* READ CAPACITY(10) instead of (16) */
	unsigned tries;
	uint64_t not_before;
};

struct scan_list {
	struct vscsi_batch b;
	struct scan_cmd *cmds;
	unsigned n;
	/* Build the command for @k into @s. */
	void (*build)(struct vscsi *c, const struct scan_cmd *k, struct vscsi_slot *s);
	/* @k completed: take what it says; set k->queued to send it again. */
	void (*take)(struct vscsi *c, struct scan_list *sl, struct scan_cmd *k,
		     const struct vscsi_slot *s, const struct vscsi_result *r);
	/* candidates found by REPORT LUNS */
	struct scan_cmd *found;
	unsigned nfound;
	bool found_full;
};

static int scan_next(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s)
{
	struct scan_list *sl = (struct scan_list *)b;
	uint64_t now = plat_now_us();

	for (unsigned i = 0; i < sl->n; i++) {
		struct scan_cmd *k = &sl->cmds[i];

		if (!k->queued || now < k->not_before)
			continue;
		k->queued = false;
		s->target = k->target;
		s->lun = k->lun;
		s->tag = i;
		memset(s->cdb, 0, sizeof(s->cdb));
		sl->build(c, k, s);
		return 1;
	}
	return 0;
}

static void scan_done(struct vscsi *c, struct vscsi_batch *b, struct vscsi_slot *s,
		      const struct vscsi_result *r)
{
	struct scan_list *sl = (struct scan_list *)b;
	struct scan_cmd *k = &sl->cmds[s->tag];

	if (r->err == -VQ_ECANCELED)
		return;
	k->tries++;
	/* UNIT ATTENTION, BUSY, RESET: at once, a few times. */
	if (r->err == -VQ_EAGAIN && k->tries <= VSCSI_RETRIES) {
		k->queued = true;
		c->stats.retries++;
		return;
	}
	sl->take(c, sl, k, s, r);
	if (k->queued)
		c->stats.retries++;
}

/* Runs a phase, waiting between rounds for commands that retry later. */
static int run_scan(struct vscsi *c, struct scan_list *sl)
{
	for (;;) {
		uint64_t soonest = UINT64_MAX, now;
		int ret;

		sl->b = (struct vscsi_batch){ .next = scan_next, .done = scan_done,
					      .max_inflight = c->nslots };
		ret = run_batch(c, &sl->b);
		if (ret)
			return ret;
		for (unsigned i = 0; i < sl->n; i++)
			if (sl->cmds[i].queued)
				soonest = VQ_MIN(soonest, sl->cmds[i].not_before);
		if (soonest == UINT64_MAX)
			return 0;
		now = plat_now_us();
		if (soonest > now)
			plat_delay_us((uint32_t)VQ_MIN(soonest - now, (uint64_t)VSCSI_READY_POLL_US));
	}
}

static const uint8_t *aux_of(const struct vscsi_slot *s)
{
	return s->hdr + VSCSI_AUX_OFF;
}

/* -- phase 1: REPORT LUNS on every target -- */

static void build_report_luns(struct vscsi *c, const struct scan_cmd *k,
			      struct vscsi_slot *s)
{
	s->cdb[0] = SCSI_REPORT_LUNS;
	put_be32(s->cdb + 6, VSCSI_REPORT_LEN);
	s->cdb_len = 12;
	slot_aux(s, VSCSI_REPORT_LEN);
}

static void add_candidate(struct vscsi *c, struct scan_list *sl, uint16_t target,
			  uint16_t lun)
{
	for (unsigned i = 0; i < sl->nfound; i++)
		if (sl->found[i].target == target && sl->found[i].lun == lun)
			return;
	if (sl->nfound == VSCSI_CANDIDATES) {
		if (!sl->found_full)
			log_warn("%s: more than %u LUNs; target %u lun %u and later ignored",
				 c->d->name, VSCSI_CANDIDATES, target, lun);
		sl->found_full = true;
		return;
	}
	sl->found[sl->nfound++] = (struct scan_cmd){ .target = target, .lun = lun,
						      .queued = true };
}

/* SAM-5 §4.7: single-level LUNs, peripheral (bus 0) or flat space. */
static bool parse_lun(const uint8_t *e, uint32_t max_lun, uint16_t *ret)
{
	uint16_t lun;

	if (e[2] | e[3] | e[4] | e[5] | e[6] | e[7])
		return false;
	if (e[0] >> 6 == 0 && !(e[0] & 0x3F))
		lun = e[1];
	else if (e[0] >> 6 == 1)
		lun = (uint16_t)((e[0] & 0x3F) << 8 | e[1]);
	else
		return false;
	if (lun > max_lun)
		return false;
	*ret = lun;
	return true;
}

static void take_report_luns(struct vscsi *c, struct scan_list *sl, struct scan_cmd *k,
			     const struct vscsi_slot *s, const struct vscsi_result *r)
{
	const uint8_t *d = aux_of(s);
	uint32_t listed, fits, n = 0;

	if (r->err == -VQ_ENODEV)
		return; /* BAD_TARGET: nobody there */
	if (r->err || r->got < 8) {
		log_debug("%s target %u: REPORT LUNS failed (%s); trying LUN 0",
			  c->d->name, k->target, vq_strerror(r->err ? r->err : -VQ_ESHORT));
		add_candidate(c, sl, k->target, 0);
		return;
	}
	listed = be32(d) / 8;
	fits = (r->got - 8) / 8;
	if (listed > fits)
		log_warn("%s target %u: %u LUNs reported, looking at the first %u",
			 c->d->name, k->target, listed, fits);
	for (uint32_t i = 0; i < VQ_MIN(listed, fits); i++) {
		uint16_t lun;

		if (parse_lun(d + 8 + 8 * i, c->info.max_lun, &lun)) {
			add_candidate(c, sl, k->target, lun);
			n++;
		}
	}
	if (!n)
		add_candidate(c, sl, k->target, 0);
}

/* -- phase 2: INQUIRY on every LUN found -- */

static void build_inquiry(struct vscsi *c, const struct scan_cmd *k, struct vscsi_slot *s)
{
	s->cdb[0] = SCSI_INQUIRY;
	put_be16(s->cdb + 3, VSCSI_INQUIRY_LEN);
	s->cdb_len = 6;
	slot_aux(s, VSCSI_INQUIRY_LEN);
}

/* A fixed-width INQUIRY field as a printable, trimmed string. */
static void copy_field(char *dst, size_t size, const uint8_t *src, uint32_t at,
		       uint32_t len, uint32_t got)
{
	size_t n = 0;

	for (uint32_t i = at; i < at + len && i < got && n + 1 < size; i++)
		dst[n++] = src[i] >= 0x20 && src[i] < 0x7F ? (char)src[i] : '?';
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void take_inquiry(struct vscsi *c, struct scan_list *sl, struct scan_cmd *k,
			 const struct vscsi_slot *s, const struct vscsi_result *r)
{
	const uint8_t *d = aux_of(s);
	struct vscsi_lun *l;

	if (r->err || !r->got) {
		if (r->err != -VQ_ENODEV)
			log_cmd_error(c, s, r, "");
		return;
	}
	/* Peripheral qualifier 0: a device is connected to this LUN. */
	if (d[0] >> 5)
		return;
	if (c->nluns == VSCSI_MAX_LUNS) {
		log_warn("%s target %u lun %u: more than %u LUNs; ignored", c->d->name,
			 k->target, k->lun, VSCSI_MAX_LUNS);
		return;
	}
	l = &c->luns[c->nluns++];
	*l = (struct vscsi_lun){ .c = c, .target = k->target, .lun = k->lun,
				 .type = d[0] & 0x1F };
	vq_snprintf(l->name, sizeof(l->name), "%s t%u l%u", c->d->name, k->target, k->lun);
	copy_field(l->vendor, sizeof(l->vendor), d, 8, 8, r->got);
	copy_field(l->product, sizeof(l->product), d, 16, 16, r->got);
	copy_field(l->revision, sizeof(l->revision), d, 32, 4, r->got);
	if (l->type) {
		l->why = "not a disk";
		log_info("%s target %u lun %u: %s \"%s %s\", not a disk; skipped",
			 c->d->name, k->target, k->lun, vscsi_type_name(l->type),
			 l->vendor, l->product);
	}
}

/* -- phase 3: TEST UNIT READY on every disk -- */

static void build_tur(struct vscsi *c, const struct scan_cmd *k, struct vscsi_slot *s)
{
	s->cdb[0] = SCSI_TEST_UNIT_READY;
	s->cdb_len = 6;
}

static bool becoming_ready(const struct vscsi_result *r)
{
	return r->err == -VQ_EIO && r->sense.valid &&
	       r->sense.key == SCSI_SENSE_NOT_READY && r->sense.asc == 0x04 &&
	       (r->sense.ascq == 0x01 || r->sense.ascq == 0x00);
}

static void lun_unusable(struct vscsi *c, struct vscsi_lun *l, const char *why)
{
	l->why = why;
	log_info("%s: %s; skipped", l->name, why);
}

static void take_tur(struct vscsi *c, struct scan_list *sl, struct scan_cmd *k,
		     const struct vscsi_slot *s, const struct vscsi_result *r)
{
	struct vscsi_lun *l = &c->luns[k->index];

	if (!r->err)
		return;
	if (becoming_ready(r) && k->tries < VSCSI_READY_RETRIES) {
		k->queued = true;
		k->not_before = plat_now_us() + VSCSI_READY_POLL_US;
		return;
	}
	log_cmd_error(c, s, r, "");
	lun_unusable(c, l, "not ready");
}

/* -- phase 4: READ CAPACITY(16), (10) where (16) is not supported -- */

static void build_capacity(struct vscsi *c, const struct scan_cmd *k, struct vscsi_slot *s)
{
	if (k->rc10) {
		s->cdb[0] = SCSI_READ_CAPACITY_10;
		s->cdb_len = 10;
		slot_aux(s, VSCSI_RC10_LEN);
		return;
	}
	s->cdb[0] = SCSI_SERVICE_ACTION_IN_16;
	s->cdb[1] = SCSI_SA_READ_CAPACITY_16;
	put_be32(s->cdb + 10, VSCSI_RC16_LEN);
	s->cdb_len = 16;
	slot_aux(s, VSCSI_RC16_LEN);
}

static void lun_set_capacity(struct vscsi *c, struct vscsi_lun *l, uint64_t last,
			     uint32_t bs, uint8_t phys_exp)
{
	/* The blockdev interface takes any power of 2; the issue and the
	 * disks we meet are 512 and 4096: accept the powers in between. */
	if (bs < 512 || bs > 4096 || (bs & (bs - 1))) {
		log_info("%s: block size %u not supported; skipped", l->name, bs);
		l->why = "unsupported block size";
		return;
	}
	if (c->info.max_request < bs) {
		log_info("%s: max_sectors %u cannot carry one %u-byte block; skipped",
			 l->name, c->info.max_sectors, bs);
		l->why = "max_sectors below the block size";
		return;
	}
	if (last == UINT64_MAX || last + 1 > UINT64_MAX / bs) {
		log_info("%s: capacity of %llu blocks overflows; skipped", l->name,
			 (unsigned long long)last);
		l->why = "capacity overflows";
		return;
	}
	l->blocks = last + 1;
	l->block_size = bs;
	l->phys_exp = phys_exp & 0xF;
	l->disk = true;
	l->bdev = (struct blockdev){ .ops = &lun_bdev_ops, .ctx = l, .block_size = bs,
				     .size = l->blocks * bs };
	vq_snprintf(l->bdev.name, sizeof(l->bdev.name), "%s", l->name);
	log_info("%s: disk \"%s %s\" rev %s, %llu blocks of %u bytes", l->name, l->vendor,
		 l->product, l->revision, (unsigned long long)l->blocks, bs);
}

static bool illegal_request(const struct vscsi_result *r)
{
	return r->err == -VQ_EIO && r->sense.valid &&
	       r->sense.key == SCSI_SENSE_ILLEGAL_REQUEST;
}

static void take_capacity(struct vscsi *c, struct scan_list *sl, struct scan_cmd *k,
			  const struct vscsi_slot *s, const struct vscsi_result *r)
{
	struct vscsi_lun *l = &c->luns[k->index];
	const uint8_t *d = aux_of(s);

	if (!k->rc10 && illegal_request(r)) {
		k->rc10 = true;
		k->tries = 0;
		k->queued = true;
		return;
	}
	if (r->err || r->got < (k->rc10 ? 8u : 12u)) {
		if (r->err)
			log_cmd_error(c, s, r, "");
		else
			log_info("%s: %s returned %u bytes", l->name, op_name(s->cdb), r->got);
		lun_unusable(c, l, "no capacity");
		return;
	}
	if (k->rc10) {
		if (be32(d) == UINT32_MAX) {
			lun_unusable(c, l, "too large for READ CAPACITY(10)");
			return;
		}
		lun_set_capacity(c, l, be32(d), be32(d + 4), 0);
		return;
	}
	lun_set_capacity(c, l, be64(d), be32(d + 8), r->got >= 14 ? d[13] : 0);
}

/* The LUN phases: one command per LUN of type 0 still usable. */
static unsigned lun_cmds(struct vscsi *c, struct scan_cmd *cmds)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nluns; i++)
		if (!c->luns[i].type && !c->luns[i].why)
			cmds[n++] = (struct scan_cmd){ .target = c->luns[i].target,
						       .lun = c->luns[i].lun, .index = i,
						       .queued = true };
	return n;
}

static int scan_phase(struct vscsi *c, struct scan_list *sl,
		      void (*build)(struct vscsi *, const struct scan_cmd *, struct vscsi_slot *),
		      void (*take)(struct vscsi *, struct scan_list *, struct scan_cmd *,
				   const struct vscsi_slot *, const struct vscsi_result *))
{
	uint64_t t0 = plat_now_us();
	int ret;

	sl->build = build;
	sl->take = take;
	ret = sl->n ? run_scan(c, sl) : 0;
	log_debug("%s: scan phase of %u commands: %llu us", c->d->name, sl->n,
		  (unsigned long long)(plat_now_us() - t0));
	return ret;
}

/* Orders c->luns by target, then LUN: REPORT LUNS answers in any order. */
static void sort_luns(struct vscsi *c)
{
	for (unsigned i = 1; i < c->nluns; i++)
		for (unsigned j = i; j > 0; j--) {
			struct vscsi_lun *a = &c->luns[j - 1], *b = &c->luns[j], t;

			if (a->target < b->target || (a->target == b->target && a->lun <= b->lun))
				break;
			t = *a;
			*a = *b;
			*b = t;
		}
	for (unsigned i = 0; i < c->nluns; i++)
		c->luns[i].bdev.ctx = &c->luns[i];
}

static int scan_targets(struct vscsi *c, struct scan_list *sl, struct scan_cmd *cmds)
{
	unsigned targets = VQ_MIN((unsigned)c->info.max_target + 1u, VSCSI_MAX_TARGETS);
	int ret;

	if (c->info.max_target >= VSCSI_MAX_TARGETS)
		log_warn("%s: max_target %u; scanning targets 0..%u", c->d->name,
			 c->info.max_target, VSCSI_MAX_TARGETS - 1);
	for (unsigned t = 0; t < targets; t++)
		cmds[t] = (struct scan_cmd){ .target = (uint16_t)t, .queued = true };
	c->info.targets_scanned = targets;
	*sl = (struct scan_list){ .cmds = cmds, .n = targets, .found = sl->found };
	ret = scan_phase(c, sl, build_report_luns, take_report_luns);
	if (ret)
		return ret;
	sl->cmds = sl->found;
	sl->n = sl->nfound;
	return scan_phase(c, sl, build_inquiry, take_inquiry);
}

static int scan_disks(struct vscsi *c, struct scan_list *sl, struct scan_cmd *cmds)
{
	int ret;

	sl->cmds = cmds;
	sl->n = lun_cmds(c, cmds);
	ret = scan_phase(c, sl, build_tur, take_tur);
	if (ret)
		return ret;
	sl->n = lun_cmds(c, cmds);
	return scan_phase(c, sl, build_capacity, take_capacity);
}

int vscsi_scan(struct vscsi *c)
{
	struct scan_cmd *cmds = plat_alloc((VSCSI_MAX_TARGETS + VSCSI_CANDIDATES) *
					   sizeof(*cmds));
	struct scan_list sl = { 0 };
	uint64_t t0 = plat_now_us();
	unsigned disks = 0;
	int ret;

	if (!cmds)
		return -VQ_ENOMEM;
	c->nluns = 0;
	sl.found = cmds + VSCSI_MAX_TARGETS;
	ret = scan_targets(c, &sl, cmds);
	if (!ret)
		ret = scan_disks(c, &sl, cmds);
	plat_free(cmds);
	if (ret)
		return log_err(ret, "%s: scan failed", c->d->name);
	sort_luns(c);
	c->info.scan_us = plat_now_us() - t0;
	for (unsigned i = 0; i < c->nluns; i++)
		disks += c->luns[i].disk;
	log_info("%s: %u targets scanned in %llu us: %u disk%s, %u other LUN%s",
		 c->d->name, c->info.targets_scanned, (unsigned long long)c->info.scan_us,
		 disks, disks == 1 ? "" : "s", c->nluns - disks,
		 c->nluns - disks == 1 ? "" : "s");
	return 0;
}

/* ---- bring-up ------------------------------------------------------------ */

/* Negotiation, queue, sizes and DRIVER_OK: at open and after a reset. */
static int vscsi_start(struct vscsi *c)
{
	struct vscsi_info in = { 0 };
	int ret = vdev_init(c->d, vscsi_filter, NULL);

	/* vdev_init leaves a refused device FAILED (or stuck in reset). */
	if (ret)
		return ret;
	ret = vdev_setup_queue(c->d, VSCSI_QUEUE, 0, 4, &c->vq);
	if (ret)
		return ret;
	ret = read_config(c, &in);
	if (!ret)
		ret = fix_sizes(c, &in);
	if (!ret && c->info.cdb_size &&
	    (in.cdb_size != c->info.cdb_size || in.sense_size != c->info.sense_size))
		ret = log_err(-VQ_ENOTSUP, "%s: cdb_size/sense_size changed across a reset",
			      c->d->name);
	/* §2.7.5.3.1: no chain longer than the queue, indirect or not. */
	if (!ret && vq_size(c->vq) < 3)
		ret = log_err(-VQ_ENOTSUP, "%s: a %u-entry queue cannot carry a command",
			      c->d->name, vq_size(c->vq));
	if (ret) {
		vdev_fail(c->d);
		return ret;
	}
	ret = vdev_driver_ok(c->d);
	if (ret)
		return ret;
	if (!c->info.cdb_size) {
		in.queue_size = vq_size(c->vq);
		c->info = in;
	}
	return 0;
}

static int vscsi_setup(struct vscsi *c)
{
	int ret = vscsi_start(c);

	if (!ret) {
		compute_limits(c);
		ret = alloc_slots(c);
	}
	if (ret)
		return ret;
	log_info("%s: %u request queue%s, max_target %u, max_lun %u, cdb %u, sense %u, %u-byte reads",
		 c->d->name, c->info.num_queues, c->info.num_queues == 1 ? "" : "s",
		 c->info.max_target, c->info.max_lun, c->info.cdb_size,
		 c->info.sense_size, c->info.max_request);
	return 0;
}

int vscsi_open(struct vdev *d, struct vscsi **ret)
{
	struct vscsi *c;
	int err;

	if (!d || !ret || d->type != VIRTIO_ID_SCSI)
		return -VQ_ENODEV;
	c = plat_alloc(sizeof(*c));
	if (!c)
		return -VQ_ENOMEM;
	c->d = d;
	c->timeout_us = VSCSI_DEFAULT_TIMEOUT_US;
	vq_snprintf(d->name, sizeof(d->name), "vscsi %s", d->bus.name);
	err = vscsi_setup(c);
	if (err) {
		vdev_teardown(d);
		if (!vdev_may_dma(d))
			free_slots(c);
		plat_free(c);
		return err;
	}
	*ret = c;
	return 0;
}

void vscsi_close(struct vscsi *c)
{
	if (!c)
		return;
	vdev_teardown(c->d);
	/* A device that may still write headers or bounce buffers keeps
	 * them: leaked rather than reused. */
	if (!vdev_may_dma(c->d))
		free_slots(c);
	plat_free(c);
}

const struct vscsi_info *vscsi_get_info(const struct vscsi *c)
{
	return &c->info;
}

const char *vscsi_name(const struct vscsi *c)
{
	return c->d->name;
}

void vscsi_get_stats(const struct vscsi *c, struct vscsi_stats *ret)
{
	*ret = c->stats;
}

void vscsi_reset_stats(struct vscsi *c)
{
	c->stats = (struct vscsi_stats){ 0 };
}

unsigned vscsi_lun_count(const struct vscsi *c)
{
	return c->nluns;
}

struct vscsi_lun *vscsi_lun_at(struct vscsi *c, unsigned i)
{
	return i < c->nluns ? &c->luns[i] : NULL;
}

void vscsi_set_force_bounce(struct vscsi *c, bool force)
{
	c->force_bounce = force;
}

void vscsi_set_timeout(struct vscsi *c, uint64_t us)
{
	c->timeout_us = us;
}
