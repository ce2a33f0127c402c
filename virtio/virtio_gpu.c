/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu 2D driver (virtio 1.2 §5.7). See virtio_gpu.h for the scanout
 * and mode policy.
 *
 * Commands live in a preallocated DMA area cut into slots: the command at the
 * start of a slot, its response at VGPU_RESP_OFF. A batch posts up to nslots
 * commands, kicks once and waits for all of them; then every response is
 * checked in order. Each command takes exactly two descriptors, so with
 * nslots <= queue size / 2 the ring never runs out.
 */
#include "lib/log.h"
#include "virtio/virtio_gpu.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define VGPU_CTRLQ 0
#define VGPU_CURSORQ 1
#define VGPU_MAX_SLOTS 32
#define VGPU_SLOT_SIZE 2048
#define VGPU_RESP_OFF 512
#define VGPU_RESOURCE_ID 1
#define VGPU_CURSORQ_SIZE 16
#define VGPU_PAGE 4096

/* §5.7.6: the wire sizes the device expects. */
_Static_assert(sizeof(struct virtio_gpu_ctrl_hdr) == 24, "ctrl_hdr");
_Static_assert(sizeof(struct virtio_gpu_rect) == 16, "rect");
_Static_assert(sizeof(struct virtio_gpu_resp_display_info) == 24 + 16 * 24,
	       "resp_display_info");
_Static_assert(sizeof(struct virtio_gpu_get_edid) == 32, "get_edid");
_Static_assert(sizeof(struct virtio_gpu_resp_edid) == 32 + 1024, "resp_edid");
_Static_assert(sizeof(struct virtio_gpu_resource_create_2d) == 40, "create_2d");
_Static_assert(sizeof(struct virtio_gpu_resource_unref) == 32, "unref");
_Static_assert(sizeof(struct virtio_gpu_set_scanout) == 48, "set_scanout");
_Static_assert(sizeof(struct virtio_gpu_resource_flush) == 48, "flush");
_Static_assert(sizeof(struct virtio_gpu_transfer_to_host_2d) == 56, "transfer");
_Static_assert(sizeof(struct virtio_gpu_mem_entry) == 16, "mem_entry");
_Static_assert(sizeof(struct virtio_gpu_resource_attach_backing) == 32,
	       "attach_backing");
_Static_assert(sizeof(struct virtio_gpu_resource_detach_backing) == 32,
	       "detach_backing");
_Static_assert(sizeof(struct virtio_gpu_resp_edid) <=
		       VGPU_SLOT_SIZE - VGPU_RESP_OFF, "edid response fits a slot");

struct vgpu_slot {
	void *cmd, *resp;          /* host views */
	uint64_t cmd_dev, resp_dev; /* what the device is told */
	uint32_t cmd_len, resp_len;
	uint32_t type, resp_type;
	uint64_t fence_id;         /* 0: not fenced */
	uint32_t used_len;
	bool done, dropped;
};

struct vgpu {
	struct vdev *d;
	struct virtqueue *ctrlq, *cursorq;
	struct vq_dma cmd_dma;
	struct vgpu_slot slots[VGPU_MAX_SLOTS];
	unsigned nslots, nposted;
	int batch_err;             /* first error of an implicit batch run */
	uint64_t next_fence;
	uint64_t timeout_us;
	bool edid;                 /* VIRTIO_GPU_F_EDID negotiated */
	bool dead;                 /* device reset under us; no more commands */

	uint32_t num_scanouts;
	struct vgpu_scanout_info scanouts[VIRTIO_GPU_MAX_SCANOUTS];
	bool scanout_set[VIRTIO_GPU_MAX_SCANOUTS];

	bool started, created, attached;
	struct vq_dma fb;
	uint32_t res_w, res_h;
	struct vgpu_fb view;        /* what every used scanout shows */
	struct vgpu_stats stats;
};

/* ---- names and pure helpers ------------------------------------------- */

const char *vgpu_type_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return "GET_DISPLAY_INFO";
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return "RESOURCE_CREATE_2D";
	case VIRTIO_GPU_CMD_RESOURCE_UNREF: return "RESOURCE_UNREF";
	case VIRTIO_GPU_CMD_SET_SCANOUT: return "SET_SCANOUT";
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: return "RESOURCE_FLUSH";
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: return "TRANSFER_TO_HOST_2D";
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: return "RESOURCE_ATTACH_BACKING";
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: return "RESOURCE_DETACH_BACKING";
	case VIRTIO_GPU_CMD_GET_EDID: return "GET_EDID";
	case VIRTIO_GPU_CMD_UPDATE_CURSOR: return "UPDATE_CURSOR";
	case VIRTIO_GPU_CMD_MOVE_CURSOR: return "MOVE_CURSOR";
	case VIRTIO_GPU_RESP_OK_NODATA: return "OK_NODATA";
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO: return "OK_DISPLAY_INFO";
	case VIRTIO_GPU_RESP_OK_EDID: return "OK_EDID";
	case VIRTIO_GPU_RESP_ERR_UNSPEC: return "ERR_UNSPEC";
	case VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY: return "ERR_OUT_OF_MEMORY";
	case VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID: return "ERR_INVALID_SCANOUT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID: return "ERR_INVALID_RESOURCE_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID: return "ERR_INVALID_CONTEXT_ID";
	case VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER: return "ERR_INVALID_PARAMETER";
	default: return "unknown";
	}
}

bool vgpu_mode_ok(uint32_t width, uint32_t height)
{
	return width && height && width <= VGPU_MAX_DIM &&
	       height <= VGPU_MAX_DIM &&
	       (uint64_t)width * height * 4 <= VGPU_MAX_FB_BYTES;
}

void vgpu_choose_mode(bool enabled, const struct virtio_gpu_rect *info_rect,
		      const struct vgpu_edid *edid_or_null,
		      uint32_t *ret_width, uint32_t *ret_height,
		      enum vgpu_mode_source *ret_source)
{
	const struct vgpu_edid *e = edid_or_null;

	/* Each candidate must be within bounds, else the next one is tried:
	 * an 8K monitor should still get a picture. */
	if (e && e->has_preferred && vgpu_mode_ok(e->pref_width, e->pref_height)) {
		*ret_width = e->pref_width;
		*ret_height = e->pref_height;
		*ret_source = VGPU_MODE_EDID;
	} else if (enabled && info_rect &&
		   vgpu_mode_ok(info_rect->width, info_rect->height)) {
		*ret_width = info_rect->width;
		*ret_height = info_rect->height;
		*ret_source = VGPU_MODE_DISPLAY_INFO;
	} else {
		*ret_width = VGPU_FALLBACK_WIDTH;
		*ret_height = VGPU_FALLBACK_HEIGHT;
		*ret_source = VGPU_MODE_FALLBACK;
	}
}

/* ---- EDID (VESA E-EDID 1.4 base block) --------------------------------- */

#define EDID_BLOCK 128
#define EDID_DESC_OFF 54
#define EDID_DESC_LEN 18
#define EDID_DESC_MONITOR_NAME 0xfc

static const uint8_t edid_header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };

/* Bytes 8-9: big-endian, three 5-bit letters, 1 = 'A'. */
static void edid_manufacturer(const uint8_t *e, char ret[4])
{
	uint16_t v = (uint16_t)(e[8] << 8 | e[9]);

	for (int i = 0; i < 3; i++) {
		unsigned c = (v >> (10 - 5 * i)) & 0x1f;

		ret[i] = c >= 1 && c <= 26 ? (char)('A' + c - 1) : '?';
	}
	ret[3] = 0;
}

static void edid_timing(const uint8_t *dtd, struct vgpu_edid *ret)
{
	uint32_t clock_10khz = get_le16(dtd);
	uint32_t hact = dtd[2] | (uint32_t)(dtd[4] & 0xf0) << 4;
	uint32_t hblank = dtd[3] | (uint32_t)(dtd[4] & 0x0f) << 8;
	uint32_t vact = dtd[5] | (uint32_t)(dtd[7] & 0xf0) << 4;
	uint32_t vblank = dtd[6] | (uint32_t)(dtd[7] & 0x0f) << 8;
	uint64_t total = (uint64_t)(hact + hblank) * (vact + vblank);

	if (!hact || !vact)
		return;
	/* Byte 17 bit 7: interlaced; vact counts one field. */
	if (dtd[17] & 0x80)
		vact *= 2;
	ret->has_preferred = true;
	ret->pref_width = hact;
	ret->pref_height = vact;
	ret->pref_refresh_mhz =
		total ? (uint32_t)((uint64_t)clock_10khz * 10000 * 1000 / total)
		      : 0;
}

/* Display descriptor text: up to 13 bytes ended by 0x0a, space padded. */
static void edid_text(const uint8_t *desc, char ret[14])
{
	unsigned n = 0;

	for (unsigned i = 5; i < EDID_DESC_LEN && desc[i] != 0x0a; i++)
		ret[n++] = desc[i] >= 0x20 && desc[i] < 0x7f ? (char)desc[i] : '?';
	while (n && ret[n - 1] == ' ')
		n--;
	ret[n] = 0;
}

int vgpu_edid_parse(const uint8_t *edid, size_t len, struct vgpu_edid *ret)
{
	struct vgpu_edid e = { 0 };
	uint8_t sum = 0;

	if (len < EDID_BLOCK)
		return log_err(-VQ_ESHORT, "edid: %zu bytes, need %u", len,
			       EDID_BLOCK);
	if (memcmp(edid, edid_header, sizeof(edid_header)))
		return log_err(-VQ_ECORRUPT, "edid: bad header");
	for (unsigned i = 0; i < EDID_BLOCK; i++)
		sum += edid[i];
	if (sum)
		return log_err(-VQ_ECORRUPT, "edid: checksum off by 0x%02x", sum);
	edid_manufacturer(edid, e.manufacturer);
	e.product = get_le16(edid + 10);
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *desc = edid + EDID_DESC_OFF + i * EDID_DESC_LEN;

		/* Non-zero pixel clock: a detailed timing; the first is the
		 * preferred mode (EDID 1.4 §3.10.1). */
		if (get_le16(desc)) {
			if (!e.has_preferred)
				edid_timing(desc, &e);
		} else if (desc[2] == 0 && desc[3] == EDID_DESC_MONITOR_NAME &&
			   !e.name[0]) {
			edid_text(desc, e.name);
		}
	}
	*ret = e;
	return 0;
}

/* ---- command slots and batches ----------------------------------------- */

static int slots_alloc(struct vgpu *g)
{
	struct vdev *d = g->d;
	int rc;

	g->nslots = VQ_MIN((unsigned)VGPU_MAX_SLOTS, vq_size(g->ctrlq) / 2u);
	if (!g->nslots)
		return log_err(-VQ_ENOTSUP, "%s: controlq of %u entries too small",
			       d->name, vq_size(g->ctrlq));
	rc = d->bus.ops->dma_alloc(d->bus.ctx, VGPU_MAX_SLOTS * VGPU_SLOT_SIZE,
				   &g->cmd_dma);
	if (rc)
		return log_err(rc, "%s: no DMA memory for commands", d->name);
	for (unsigned i = 0; i < g->nslots; i++) {
		struct vgpu_slot *s = &g->slots[i];
		size_t off = (size_t)i * VGPU_SLOT_SIZE;

		s->cmd = (uint8_t *)g->cmd_dma.host + off;
		s->resp = (uint8_t *)s->cmd + VGPU_RESP_OFF;
		s->cmd_dev = g->cmd_dma.dev + off;
		s->resp_dev = s->cmd_dev + VGPU_RESP_OFF;
	}
	return 0;
}

static int batch_run(struct vgpu *g);

/*
 * Take the next slot for a command of @type (@len bytes, zeroed, header
 * filled) expecting @resp_type in @resp_len bytes. Runs the current batch
 * first when every slot is taken; its error is kept for the next batch_run.
 */
static struct vgpu_slot *cmd_new(struct vgpu *g, uint32_t type, uint32_t len,
				 uint32_t resp_type, uint32_t resp_len,
				 bool fence)
{
	struct virtio_gpu_ctrl_hdr *h;
	struct vgpu_slot *s;

	if (g->nposted == g->nslots) {
		int rc = batch_run(g);

		if (rc && !g->batch_err)
			g->batch_err = rc;
	}
	s = &g->slots[g->nposted];
	memset(s->cmd, 0, len);
	/* A stale response must not pass for a new one. */
	memset(s->resp, 0, resp_len);
	s->cmd_len = len;
	s->resp_len = resp_len;
	s->type = type;
	s->resp_type = resp_type;
	s->fence_id = 0;
	s->used_len = 0;
	s->done = s->dropped = false;
	h = s->cmd;
	h->type = type;
	/* §5.7.6.7: with FENCE the device answers only once the command is
	 * complete, and echoes flag and fence id. */
	if (fence) {
		s->fence_id = ++g->next_fence;
		h->flags = VIRTIO_GPU_FLAG_FENCE;
		h->fence_id = s->fence_id;
	}
	return s;
}

/* Post the slot cmd_new() returned; failures are kept for batch_run. */
static void cmd_post(struct vgpu *g, struct vgpu_slot *s)
{
	struct vq_buf out = { s->cmd_dev, s->cmd_len };
	struct vq_buf in = { s->resp_dev, s->resp_len };
	int rc;

	rc = g->dead ? -VQ_ENODEV : vq_add(g->ctrlq, &out, 1, &in, 1, s);
	if (rc) {
		if (!g->batch_err)
			g->batch_err = log_err(rc, "%s: cannot queue %s: %s",
					       g->d->name, vgpu_type_name(s->type),
					       vq_strerror(rc));
		return;
	}
	g->nposted++;
	g->stats.commands++;
}

static void on_done(void *ctx, void *token, uint32_t len)
{
	struct vgpu_slot *s = token;

	(void)ctx;
	s->used_len = len;
	s->done = true;
}

static void on_dropped(void *ctx, void *token, uint32_t len)
{
	struct vgpu_slot *s = token;

	(void)ctx;
	(void)len;
	s->dropped = s->done = true;
}

static const struct vgpu_slot *first_pending(const struct vgpu *g)
{
	for (unsigned i = 0; i < g->nposted; i++)
		if (!g->slots[i].done)
			return &g->slots[i];
	return NULL;
}

/* Kick once and wait for every posted command, up to one deadline. */
static int batch_wait(struct vgpu *g)
{
	uint64_t deadline = plat_now_us() + g->timeout_us;
	const struct vgpu_slot *p;

	if (!g->nposted)
		return 0;
	g->stats.batches++;
	vq_kick(g->ctrlq);
	while ((p = first_pending(g))) {
		int rc = vdev_wait(g->d, g->ctrlq, deadline, on_done, on_dropped,
				   g);

		if (rc < 0) {
			/* vdev_wait reset the device: nothing is in flight. */
			g->dead = true;
			return log_err(rc, "%s: %s: no response (%s)", g->d->name,
				       vgpu_type_name(p->type), vq_strerror(rc));
		}
	}
	return 0;
}

static int resp_error(uint32_t code)
{
	return code == VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY ? -VQ_ENOMEM : -VQ_EIO;
}

/* The device is not trusted: length first, then type, then the fence echo. */
static int resp_check(const struct vgpu *g, const struct vgpu_slot *s)
{
	const char *name = g->d->name, *cmd = vgpu_type_name(s->type);
	const struct virtio_gpu_ctrl_hdr *h = s->resp;
	uint32_t type;

	if (s->dropped)
		return log_err(-VQ_ECANCELED, "%s: %s dropped by a reset", name, cmd);
	if (s->used_len < sizeof(*h))
		return log_err(-VQ_ESHORT, "%s: %s: response of %u bytes, need %zu",
			       name, cmd, s->used_len, sizeof(*h));
	type = get_le32(&h->type);
	if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC && type < 0x1300)
		return log_err(resp_error(type), "%s: %s failed: %s (0x%x)", name,
			       cmd, vgpu_type_name(type), type);
	if (type != s->resp_type)
		return log_err(-VQ_EBROKEN, "%s: %s: response type 0x%x, expected %s",
			       name, cmd, type, vgpu_type_name(s->resp_type));
	if (s->used_len < s->resp_len)
		return log_err(-VQ_ESHORT, "%s: %s: response of %u bytes, need %u",
			       name, cmd, s->used_len, s->resp_len);
	if (s->fence_id && (!(get_le32(&h->flags) & VIRTIO_GPU_FLAG_FENCE) ||
			    get_le64(&h->fence_id) != s->fence_id))
		return log_err(-VQ_EBROKEN, "%s: %s: fence %llu not echoed (got %llu)",
			       name, cmd, (unsigned long long)s->fence_id,
			       (unsigned long long)get_le64(&h->fence_id));
	return 0;
}

/* End a batch: the earliest error wins (an implicit run's comes first). */
static int batch_finish(struct vgpu *g, int rc)
{
	if (g->batch_err)
		rc = g->batch_err;
	g->batch_err = 0;
	g->nposted = 0;
	return rc;
}

/* Check the responses of a batch that has been waited for. */
static int batch_check_finish(struct vgpu *g, int rc)
{
	for (unsigned i = 0; !rc && i < g->nposted; i++)
		rc = resp_check(g, &g->slots[i]);
	return batch_finish(g, rc);
}

static int batch_run(struct vgpu *g)
{
	return batch_check_finish(g, batch_wait(g));
}

/* ---- bring-up: features, queues, config, display info, EDID ------------ */

uint64_t vgpu_features(uint64_t offered)
{
	/* VIRGL stays off: we only do 2D. */
	return offered & (VIRTIO_BIT(VIRTIO_GPU_F_EDID) |
			  VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
			  VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
}

static uint64_t vgpu_filter(void *ctx, uint64_t offered)
{
	return vgpu_features(offered);
}

static int read_config(struct vgpu *g)
{
	uint32_t n;
	int rc = vdev_config_get(g->d, struct virtio_gpu_config, num_scanouts, &n);

	if (rc)
		return log_err(rc, "%s: cannot read num_scanouts", g->d->name);
	if (!n)
		return log_err(-VQ_ENODEV, "%s: device has no scanouts", g->d->name);
	if (n > VIRTIO_GPU_MAX_SCANOUTS) {
		log_warn("%s: num_scanouts %u, using the first %u", g->d->name, n,
			 VIRTIO_GPU_MAX_SCANOUTS);
		n = VIRTIO_GPU_MAX_SCANOUTS;
	}
	g->num_scanouts = n;
	return 0;
}

/* §5.7.4: acknowledge a pending display event by writing it back. */
static void clear_events(struct vgpu *g)
{
	uint32_t ev;

	if (vdev_config_get(g->d, struct virtio_gpu_config, events_read, &ev) ||
	    !ev)
		return;
	if (g->d->ops->config_write(g->d,
				    offsetof(struct virtio_gpu_config, events_clear),
				    &ev, sizeof(ev)))
		log_warn("%s: cannot clear events 0x%x", g->d->name, ev);
}

static int get_display_info(struct vgpu *g)
{
	struct vgpu_slot *s = cmd_new(g, VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
				      sizeof(struct virtio_gpu_ctrl_hdr),
				      VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
				      sizeof(struct virtio_gpu_resp_display_info),
				      false);
	const struct virtio_gpu_resp_display_info *r = s->resp;
	int rc;

	cmd_post(g, s);
	rc = batch_run(g);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		const struct virtio_gpu_display_one *m = &r->pmodes[i];
		struct vgpu_scanout_info *si = &g->scanouts[i];

		si->enabled = get_le32(&m->enabled) != 0;
		si->info_rect.x = get_le32(&m->r.x);
		si->info_rect.y = get_le32(&m->r.y);
		si->info_rect.width = get_le32(&m->r.width);
		si->info_rect.height = get_le32(&m->r.height);
	}
	return 0;
}

static void parse_edid_resp(struct vgpu *g, uint32_t i, const struct vgpu_slot *s)
{
	const struct virtio_gpu_resp_edid *r = s->resp;
	uint32_t size;

	if (resp_check(g, s))
		return;
	size = get_le32(&r->size);
	if (!size) {
		log_debug("%s: scanout %u: no EDID", g->d->name, i);
		return;
	}
	if (size > sizeof(r->edid)) {
		log_warn("%s: scanout %u: EDID size %u exceeds %zu", g->d->name, i,
			 size, sizeof(r->edid));
		return;
	}
	if (vgpu_edid_parse(r->edid, size, &g->scanouts[i].edid) == 0)
		g->scanouts[i].has_edid = true;
	else
		log_warn("%s: scanout %u: EDID ignored", g->d->name, i);
}

/* GET_EDID for every scanout, as many in flight as slots allow. An error
 * for one scanout only costs its EDID; a dead queue fails the open. */
static int get_edids(struct vgpu *g)
{
	for (uint32_t first = 0; first < g->num_scanouts; first += g->nslots) {
		uint32_t n = VQ_MIN(g->num_scanouts - first, g->nslots);
		int rc;

		for (uint32_t i = 0; i < n; i++) {
			struct vgpu_slot *s = cmd_new(g, VIRTIO_GPU_CMD_GET_EDID,
						      sizeof(struct virtio_gpu_get_edid),
						      VIRTIO_GPU_RESP_OK_EDID,
						      sizeof(struct virtio_gpu_resp_edid),
						      false);
			struct virtio_gpu_get_edid *c = s->cmd;

			c->scanout = first + i;
			cmd_post(g, s);
		}
		rc = batch_wait(g);
		for (uint32_t i = 0; !rc && !g->batch_err && i < n; i++)
			parse_edid_resp(g, first + i, &g->slots[i]);
		rc = batch_finish(g, rc);
		if (rc)
			return rc;
	}
	return 0;
}

static void choose_modes(struct vgpu *g)
{
	bool any = false;

	for (uint32_t i = 0; i < g->num_scanouts; i++)
		any |= g->scanouts[i].enabled;
	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		struct vgpu_scanout_info *si = &g->scanouts[i];

		/* Nothing enabled: still drive scanout 0, at the fallback. */
		si->used = si->enabled || (!any && i == 0);
		if (!si->used)
			continue;
		vgpu_choose_mode(si->enabled, &si->info_rect,
				 si->has_edid ? &si->edid : NULL, &si->width,
				 &si->height, &si->source);
		log_info("%s: scanout %u: %ux%u from %s", g->d->name, i,
			 si->width, si->height,
			 si->source == VGPU_MODE_EDID ? "EDID" :
			 si->source == VGPU_MODE_DISPLAY_INFO ? "display info" :
							       "fallback");
		if (si->has_edid)
			log_info("%s: scanout %u: monitor %s \"%s\"", g->d->name,
				 i, si->edid.manufacturer, si->edid.name);
	}
}

static int setup_queues(struct vgpu *g)
{
	int rc = vdev_setup_queue(g->d, VGPU_CTRLQ, 2 * VGPU_MAX_SLOTS, 0,
				  &g->ctrlq);

	if (!rc)
		rc = vdev_setup_queue(g->d, VGPU_CURSORQ, VGPU_CURSORQ_SIZE, 0,
				      &g->cursorq);
	if (!rc)
		rc = slots_alloc(g);
	return rc;
}

static void vgpu_free(struct vgpu *g)
{
	struct vdev *d = g->d;

	/* Only after the reset in vdev_teardown: the device may DMA until then,
	 * and after it too if it would not stop: then both stay allocated. */
	vdev_teardown(d);
	if (vdev_may_dma(d))
		log_error("%s: leaking the framebuffer and command buffers the device may still write",
			  d->name);
	else if (g->fb.host)
		d->bus.ops->dma_free(d->bus.ctx, &g->fb);
	if (g->cmd_dma.host && !vdev_may_dma(d))
		d->bus.ops->dma_free(d->bus.ctx, &g->cmd_dma);
	plat_free(g);
}

static int vgpu_bring_up(struct vgpu *g)
{
	int rc = vdev_init(g->d, vgpu_filter, NULL);

	if (rc)
		return rc;
	g->edid = g->d->features & VIRTIO_BIT(VIRTIO_GPU_F_EDID);
	rc = setup_queues(g);
	if (!rc)
		rc = vdev_driver_ok(g->d);
	if (!rc)
		rc = read_config(g);
	if (!rc)
		rc = get_display_info(g);
	if (!rc && g->edid)
		rc = get_edids(g);
	return rc;
}

int vgpu_open(struct vdev *d, struct vgpu **ret)
{
	uint64_t t0 = plat_now_us();
	struct vgpu *g = plat_alloc(sizeof(*g));
	int rc;

	if (!g)
		return log_err(-VQ_ENOMEM, "%s: out of memory", d->name);
	vq_snprintf(d->name, sizeof(d->name), "vgpu %s", d->bus.name);
	g->d = d;
	g->timeout_us = VGPU_DEFAULT_TIMEOUT_US;
	rc = vgpu_bring_up(g);
	if (rc) {
		vgpu_free(g);
		return rc;
	}
	choose_modes(g);
	clear_events(g);
	g->stats.open_us = plat_now_us() - t0;
	*ret = g;
	return 0;
}

/* ---- resource, scanouts, flushing --------------------------------------- */

uint32_t vgpu_num_scanouts(const struct vgpu *g)
{
	return g->num_scanouts;
}

int vgpu_scanout_info(const struct vgpu *g, uint32_t i,
		      struct vgpu_scanout_info *ret)
{
	if (i >= g->num_scanouts)
		return -VQ_EINVAL;
	*ret = g->scanouts[i];
	return 0;
}

int vgpu_set_mode(struct vgpu *g, uint32_t i, uint32_t width, uint32_t height)
{
	struct vgpu_scanout_info *si;

	if (i >= g->num_scanouts || g->started)
		return log_err(-VQ_EINVAL, "%s: cannot set mode of scanout %u",
			       g->d->name, i);
	if ((width || height) && !vgpu_mode_ok(width, height))
		return log_err(-VQ_ERANGE, "%s: scanout %u: mode %ux%u out of bounds",
			       g->d->name, i, width, height);
	si = &g->scanouts[i];
	si->used = width && height;
	si->width = width;
	si->height = height;
	return 0;
}

/* The resource covers every used scanout; the view what all of them show. */
static int resource_size(struct vgpu *g, uint32_t *ret_cw, uint32_t *ret_ch)
{
	uint32_t w = 0, h = 0, cw = UINT32_MAX, ch = UINT32_MAX;

	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		const struct vgpu_scanout_info *si = &g->scanouts[i];

		if (!si->used)
			continue;
		w = VQ_MAX(w, si->width);
		h = VQ_MAX(h, si->height);
		cw = VQ_MIN(cw, si->width);
		ch = VQ_MIN(ch, si->height);
	}
	if (!w || !h)
		return log_err(-VQ_EINVAL, "%s: no scanout to drive", g->d->name);
	if (!vgpu_mode_ok(w, h))
		return log_err(-VQ_ERANGE,
			       "%s: resource %ux%u exceeds %u px per side or %u MiB",
			       g->d->name, w, h, VGPU_MAX_DIM,
			       VGPU_MAX_FB_BYTES >> 20);
	g->res_w = w;
	g->res_h = h;
	*ret_cw = cw;
	*ret_ch = ch;
	return 0;
}

static struct vgpu_slot *cmd_nodata(struct vgpu *g, uint32_t type,
				    uint32_t len, bool fence)
{
	return cmd_new(g, type, len, VIRTIO_GPU_RESP_OK_NODATA,
		       sizeof(struct virtio_gpu_ctrl_hdr), fence);
}

static void post_set_scanout(struct vgpu *g, uint32_t i, uint32_t resource,
			     uint32_t w, uint32_t h)
{
	struct vgpu_slot *s = cmd_nodata(g, VIRTIO_GPU_CMD_SET_SCANOUT,
					 sizeof(struct virtio_gpu_set_scanout),
					 false);
	struct virtio_gpu_set_scanout *c = s->cmd;

	c->r.width = w;
	c->r.height = h;
	c->scanout_id = i;
	c->resource_id = resource;
	cmd_post(g, s);
}

static void post_create(struct vgpu *g)
{
	struct vgpu_slot *s = cmd_nodata(g, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
					 sizeof(struct virtio_gpu_resource_create_2d),
					 false);
	struct virtio_gpu_resource_create_2d *c = s->cmd;

	c->resource_id = VGPU_RESOURCE_ID;
	c->format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;
	c->width = g->res_w;
	c->height = g->res_h;
	cmd_post(g, s);
}

/* The framebuffer is one DMA area: one entry, by device address. */
static void post_attach(struct vgpu *g)
{
	struct vgpu_slot *s = cmd_nodata(g, VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
					 sizeof(struct virtio_gpu_resource_attach_backing) +
						 sizeof(struct virtio_gpu_mem_entry),
					 false);
	struct virtio_gpu_resource_attach_backing *c = s->cmd;
	struct virtio_gpu_mem_entry *e = (struct virtio_gpu_mem_entry *)(c + 1);

	c->resource_id = VGPU_RESOURCE_ID;
	c->nr_entries = 1;
	e->addr = g->fb.dev;
	e->length = g->res_w * g->res_h * 4;
	cmd_post(g, s);
}

static void post_resource_cmd(struct vgpu *g, uint32_t type)
{
	/* DETACH_BACKING and UNREF share one layout: id + padding. */
	struct vgpu_slot *s = cmd_nodata(g, type,
					 sizeof(struct virtio_gpu_resource_unref),
					 false);
	struct virtio_gpu_resource_unref *c = s->cmd;

	c->resource_id = VGPU_RESOURCE_ID;
	cmd_post(g, s);
}

/* TRANSFER_TO_HOST_2D then RESOURCE_FLUSH of @r, both fenced: the flush
 * must see the transferred pixels. */
static void post_update(struct vgpu *g, const struct vgpu_rect *r)
{
	struct vgpu_slot *s = cmd_nodata(g, VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
					 sizeof(struct virtio_gpu_transfer_to_host_2d),
					 true);
	struct virtio_gpu_transfer_to_host_2d *t = s->cmd;
	struct virtio_gpu_resource_flush *f;

	t->r = (struct virtio_gpu_rect){ r->x, r->y, r->w, r->h };
	/* §5.7.6.8: offset of the rectangle's first pixel in the backing. */
	t->offset = ((uint64_t)r->y * g->res_w + r->x) * 4;
	t->resource_id = VGPU_RESOURCE_ID;
	cmd_post(g, s);

	s = cmd_nodata(g, VIRTIO_GPU_CMD_RESOURCE_FLUSH,
		       sizeof(struct virtio_gpu_resource_flush), true);
	f = s->cmd;
	f->r = (struct virtio_gpu_rect){ r->x, r->y, r->w, r->h };
	f->resource_id = VGPU_RESOURCE_ID;
	cmd_post(g, s);
	g->stats.rects++;
	g->stats.pixels += (uint64_t)r->w * r->h;
}

/*
 * CREATE_2D, ATTACH_BACKING and a SET_SCANOUT per used scanout in one batch.
 * What was created is assumed until the responses say otherwise, so a
 * failure whose details are lost (few slots: part of the batch ran early)
 * still gets a best-effort teardown.
 */
static int create_and_show(struct vgpu *g)
{
	unsigned total = 2, k = 2;
	int rc, r;

	g->created = g->attached = true;
	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		g->scanout_set[i] = g->scanouts[i].used;
		total += g->scanouts[i].used;
	}
	post_create(g);
	post_attach(g);
	for (uint32_t i = 0; i < g->num_scanouts; i++)
		if (g->scanouts[i].used)
			post_set_scanout(g, i, VGPU_RESOURCE_ID,
					 g->scanouts[i].width,
					 g->scanouts[i].height);
	rc = batch_wait(g);
	if (rc || g->batch_err || g->nposted != total)
		return batch_check_finish(g, rc);
	rc = resp_check(g, &g->slots[0]);
	g->created = !rc;
	r = resp_check(g, &g->slots[1]);
	g->attached = !r;
	rc = rc ? rc : r;
	for (uint32_t i = 0; i < g->num_scanouts; i++) {
		if (!g->scanouts[i].used)
			continue;
		r = resp_check(g, &g->slots[k++]);
		g->scanout_set[i] = !r;
		rc = rc ? rc : r;
	}
	return batch_finish(g, rc);
}

int vgpu_start(struct vgpu *g)
{
	uint64_t t0 = plat_now_us();
	struct vgpu_rect all;
	uint32_t cw = 0, ch = 0;
	size_t bytes;
	int rc;

	/* One attempt: a failed start leaves state only vgpu_close undoes. */
	if (g->started || g->dead || g->fb.host)
		return log_err(-VQ_EINVAL, "%s: already started, or reset",
			       g->d->name);
	rc = resource_size(g, &cw, &ch);
	if (rc)
		return rc;
	bytes = VQ_ALIGN_UP((size_t)g->res_w * g->res_h * 4, VGPU_PAGE);
	rc = g->d->bus.ops->dma_alloc(g->d->bus.ctx, bytes, &g->fb);
	if (rc)
		return log_err(rc, "%s: no DMA memory for a %ux%u framebuffer",
			       g->d->name, g->res_w, g->res_h);
	g->view = (struct vgpu_fb){ g->fb.host, cw, ch, g->res_w };
	rc = create_and_show(g);
	if (rc)
		return rc;
	g->started = true;
	/* Show the zeroed (black) framebuffer over the whole resource. */
	all = (struct vgpu_rect){ 0, 0, g->res_w, g->res_h };
	post_update(g, &all);
	rc = batch_run(g);
	g->stats.start_us = plat_now_us() - t0;
	return rc;
}

int vgpu_framebuffer(const struct vgpu *g, struct vgpu_fb *ret)
{
	if (!g->started)
		return log_err(-VQ_EINVAL, "%s: no framebuffer before start",
			       g->d->name);
	*ret = g->view;
	return 0;
}

static bool rect_inside(const struct vgpu_fb *v, const struct vgpu_rect *r)
{
	return r->w && r->h && r->x < v->width && r->w <= v->width - r->x &&
	       r->y < v->height && r->h <= v->height - r->y;
}

int vgpu_flush(struct vgpu *g, const struct vgpu_rect *r, unsigned n)
{
	uint64_t t0 = plat_now_us(), dt;
	int rc;

	if (!g->started)
		return log_err(-VQ_EINVAL, "%s: flush before start", g->d->name);
	if (g->dead)
		return log_err(-VQ_ENODEV, "%s: device was reset; reopen it",
			       g->d->name);
	for (unsigned i = 0; i < n; i++)
		if (!rect_inside(&g->view, &r[i]))
			return log_err(-VQ_ERANGE,
				       "%s: flush of %ux%u at %u,%u outside the %ux%u framebuffer",
				       g->d->name, r[i].w, r[i].h, r[i].x, r[i].y,
				       g->view.width, g->view.height);
	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++)
		post_update(g, &r[i]);
	rc = batch_run(g);
	if (rc)
		return rc;
	dt = plat_now_us() - t0;
	g->stats.flushes++;
	g->stats.last_flush_us = dt;
	g->stats.total_flush_us += dt;
	g->stats.max_flush_us = VQ_MAX(g->stats.max_flush_us, dt);
	return 0;
}

void vgpu_set_timeout(struct vgpu *g, uint64_t us)
{
	g->timeout_us = us;
}

void vgpu_get_stats(const struct vgpu *g, struct vgpu_stats *ret)
{
	*ret = g->stats;
}

/* Scanouts off (resource 0, §5.7.6.9), then detach and unref. */
static void stop_resource(struct vgpu *g)
{
	for (uint32_t i = 0; i < g->num_scanouts; i++)
		if (g->scanout_set[i])
			post_set_scanout(g, i, 0, 0, 0);
	if (g->attached)
		post_resource_cmd(g, VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING);
	if (g->created)
		post_resource_cmd(g, VIRTIO_GPU_CMD_RESOURCE_UNREF);
	if (batch_run(g))
		log_warn("%s: resource teardown incomplete; resetting", g->d->name);
}

void vgpu_close(struct vgpu *g)
{
	if (!g)
		return;
	if (!g->dead)
		stop_resource(g);
	vgpu_free(g);
}
