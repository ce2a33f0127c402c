/* SPDX-License-Identifier: MIT */
/*
 * virtio/virtio_gpu.c against a fake virtio-gpu (a fake_pci backend written
 * here from virtio 1.2 §5.7): command bytes, response validation, EDID,
 * mode choice, bounds, damage flushing, teardown, timeouts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lib/err.h"
#include "gfx/gfx.h"
#include "virtio/virtio_gpu.h"
#include "tests/support/fake_pci.h"
#include "tests/support/gpu_surface.h"
#include "tests/support/host_platform.h"

#define GPU_OFFERED (VIRTIO_BIT(VIRTIO_F_VERSION_1) | \
		     VIRTIO_BIT(VIRTIO_GPU_F_EDID) | VIRTIO_BIT(VIRTIO_GPU_F_VIRGL))
#define MAX_LOG 512
#define CMD_BYTES 128

/* ---- the fake device ------------------------------------------------------ */

struct fake_cmd {
	uint32_t type;
	uint32_t len;
	uint8_t bytes[CMD_BYTES];
};

struct fake_out {
	bool enabled;
	uint32_t w, h;
	uint8_t edid[256];
	uint32_t edid_len;
	uint32_t resource;    /* what SET_SCANOUT attached */
	uint32_t sw, sh;      /* its rect */
};

struct fake_gpu {
	struct fake_pci *fp;
	struct ring_sim_chain chain;
	uint32_t num_scanouts;
	struct fake_out out[VIRTIO_GPU_MAX_SCANOUTS];

	/* misbehaviour */
	uint32_t fail_cmd, fail_code;  /* answer this command with an error */
	uint32_t wrong_type_cmd;       /* answer with OK_EDID instead */
	uint32_t short_cmd, short_len; /* report this used length */
	bool no_fence_echo;
	bool never_complete;

	/* state */
	uint32_t res_id, res_w, res_h, res_format;
	uint8_t *backing;              /* host view of the attached memory */
	uint64_t backing_len;
	uint32_t *shadow;              /* the "host side" copy of the resource */

	/* observations */
	unsigned ncmds;
	struct fake_cmd log[MAX_LOG];
	unsigned transfers, flushes, held;
	unsigned violations;
	char violation[160];
};

static void violate(struct fake_gpu *fg, const char *msg, uint32_t v)
{
	if (!fg->violations++)
		snprintf(fg->violation, sizeof(fg->violation), "%s (%u)", msg, v);
}

static void resp_hdr(const uint8_t *cmd, uint8_t *resp, uint32_t type,
		     bool echo)
{
	memset(resp, 0, 24);
	put_le32(resp, type);
	/* §5.7.6.7: echo FENCE and fence_id. */
	if (echo && (get_le32(cmd + 4) & VIRTIO_GPU_FLAG_FENCE)) {
		put_le32(resp + 4, VIRTIO_GPU_FLAG_FENCE);
		memcpy(resp + 8, cmd + 8, 8);
	}
}

static bool rect_inside(struct fake_gpu *fg, const uint8_t *r)
{
	uint64_t x = get_le32(r), y = get_le32(r + 4);
	uint64_t w = get_le32(r + 8), h = get_le32(r + 12);

	return fg->res_id && x + w <= fg->res_w && y + h <= fg->res_h;
}

static uint32_t do_display_info(struct fake_gpu *fg, uint8_t *resp)
{
	for (uint32_t i = 0; i < fg->num_scanouts; i++) {
		uint8_t *m = resp + 24 + i * 24;

		put_le32(m + 8, fg->out[i].w);
		put_le32(m + 12, fg->out[i].h);
		put_le32(m + 16, fg->out[i].enabled);
	}
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static uint32_t do_edid(struct fake_gpu *fg, const uint8_t *cmd, uint8_t *resp)
{
	uint32_t i = get_le32(cmd + 24);

	if (i >= fg->num_scanouts)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	put_le32(resp + 24, fg->out[i].edid_len);
	memcpy(resp + 32, fg->out[i].edid, fg->out[i].edid_len);
	return VIRTIO_GPU_RESP_OK_EDID;
}

static uint32_t do_create(struct fake_gpu *fg, const uint8_t *cmd)
{
	if (fg->res_id)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	fg->res_id = get_le32(cmd + 24);
	fg->res_format = get_le32(cmd + 28);
	fg->res_w = get_le32(cmd + 32);
	fg->res_h = get_le32(cmd + 36);
	if (fg->res_format != VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM)
		violate(fg, "format", fg->res_format);
	fg->shadow = calloc((size_t)fg->res_w * fg->res_h, 4);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t do_attach(struct fake_gpu *fg, const uint8_t *cmd, uint32_t len)
{
	uint32_t n = get_le32(cmd + 28);
	uint64_t addr, elen;

	/* Our driver gives one entry covering the whole framebuffer. */
	if (n != 1 || len < 32 + 16 || get_le32(cmd + 24) != fg->res_id)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	addr = get_le64(cmd + 32);
	elen = get_le32(cmd + 40);
	fg->backing = fake_pci_translate(fg->fp, addr, elen);
	fg->backing_len = elen;
	if (!fg->backing || elen < (uint64_t)fg->res_w * fg->res_h * 4)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t do_set_scanout(struct fake_gpu *fg, const uint8_t *cmd)
{
	uint32_t i = get_le32(cmd + 40), res = get_le32(cmd + 44);

	if (i >= fg->num_scanouts)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (res && (res != fg->res_id || !rect_inside(fg, cmd + 24)))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	fg->out[i].resource = res;
	fg->out[i].sw = get_le32(cmd + 32);
	fg->out[i].sh = get_le32(cmd + 36);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Copy the rectangle from guest backing into the shadow, as QEMU does:
 * row y of the rect starts at offset + y * stride, stride = width * 4. */
static uint32_t do_transfer(struct fake_gpu *fg, const uint8_t *cmd)
{
	uint32_t x = get_le32(cmd + 24), y = get_le32(cmd + 28);
	uint32_t w = get_le32(cmd + 32), h = get_le32(cmd + 36);
	uint64_t off = get_le64(cmd + 40);

	if (get_le32(cmd + 48) != fg->res_id || !rect_inside(fg, cmd + 24) ||
	    !fg->backing)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (off != ((uint64_t)y * fg->res_w + x) * 4)
		violate(fg, "transfer offset", (uint32_t)off);
	for (uint32_t r = 0; r < h; r++)
		memcpy(fg->shadow + (size_t)(y + r) * fg->res_w + x,
		       fg->backing + off + (uint64_t)r * fg->res_w * 4,
		       (size_t)w * 4);
	fg->transfers++;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t do_resource(struct fake_gpu *fg, const uint8_t *cmd,
			    uint32_t type)
{
	if (get_le32(cmd + 24) != fg->res_id || !fg->res_id)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (type == VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING) {
		fg->backing = NULL;
	} else {
		fg->res_id = 0;
		free(fg->shadow);
		fg->shadow = NULL;
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t dispatch(struct fake_gpu *fg, const uint8_t *cmd, uint32_t len,
			 uint8_t *resp)
{
	uint32_t type = get_le32(cmd);

	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return do_display_info(fg, resp);
	case VIRTIO_GPU_CMD_GET_EDID: return do_edid(fg, cmd, resp);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return do_create(fg, cmd);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: return do_attach(fg, cmd, len);
	case VIRTIO_GPU_CMD_SET_SCANOUT: return do_set_scanout(fg, cmd);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D: return do_transfer(fg, cmd);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		/* flush: rect at 24, resource id at 40 */
		if (get_le32(cmd + 40) != fg->res_id || !rect_inside(fg, cmd + 24))
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
		fg->flushes++;
		return VIRTIO_GPU_RESP_OK_NODATA;
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
	case VIRTIO_GPU_CMD_RESOURCE_UNREF: return do_resource(fg, cmd, type);
	default: return VIRTIO_GPU_RESP_ERR_UNSPEC;
	}
}

static uint32_t resp_size(uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_RESP_OK_DISPLAY_INFO: return 408;
	case VIRTIO_GPU_RESP_OK_EDID: return 1056;
	default: return 24;
	}
}

static void handle_chain(struct fake_gpu *fg, struct ring_sim *sim)
{
	static uint8_t cmd[4096], resp[2048];
	uint32_t len = (uint32_t)ring_sim_chain_read(&fg->chain, 0, cmd, sizeof(cmd));
	uint32_t type, rtype, rlen;
	struct fake_cmd *log;

	if (len < 24) {
		violate(fg, "command shorter than a header", len);
		return;
	}
	type = get_le32(cmd);
	if (fg->ncmds < MAX_LOG) {
		log = &fg->log[fg->ncmds];
		log->type = type;
		log->len = len;
		memcpy(log->bytes, cmd, VQ_MIN(len, (uint32_t)CMD_BYTES));
	}
	fg->ncmds++;
	memset(resp, 0, sizeof(resp));
	rtype = dispatch(fg, cmd, len, resp);
	if (type == fg->fail_cmd)
		rtype = fg->fail_code;
	if (type == fg->wrong_type_cmd)
		rtype = VIRTIO_GPU_RESP_OK_EDID;
	resp_hdr(cmd, resp, rtype, !fg->no_fence_echo);
	rlen = resp_size(rtype);
	if (rtype == fg->wrong_type_cmd || type == fg->wrong_type_cmd)
		rlen = 24;
	if (fg->chain.writable_bytes < rlen)
		violate(fg, "response buffer too small", (uint32_t)fg->chain.writable_bytes);
	rlen = (uint32_t)ring_sim_chain_write(&fg->chain, 0, resp, rlen);
	if (type == fg->short_cmd)
		rlen = fg->short_len;
	ring_sim_push(sim, fg->chain.head, rlen);
}

static void gpu_notify(struct fake_pci *fp, uint16_t q)
{
	struct fake_gpu *fg = fp->backend_ctx;
	struct ring_sim *sim = fp->q[q].sim;
	int rc;

	if (q != 0)
		return;
	while ((rc = ring_sim_pop(sim, &fg->chain)) == 1) {
		if (fg->never_complete) {
			fg->held++;
			continue;
		}
		handle_chain(fg, sim);
	}
	if (rc < 0)
		fake_pci_fail(fp, "controlq: %s", sim->error);
}

static void gpu_reset(struct fake_pci *fp)
{
	struct fake_gpu *fg = fp->backend_ctx;

	fg->res_id = 0;
	fg->backing = NULL;
	free(fg->shadow);
	fg->shadow = NULL;
}

static const struct fake_backend gpu_backend = {
	.notify = gpu_notify,
	.reset = gpu_reset,
};

/* ---- EDID blocks ---------------------------------------------------------- */

/* A 1.4 base block: "RHT" product 0x1234, first DTD w x h (60 Hz-ish),
 * monitor name "QEMU Monitor". */
static void make_edid(uint8_t *e, uint32_t w, uint32_t h)
{
	uint8_t *dtd = e + 54, *name = e + 72;
	const uint32_t hb = 160, vb = 23, clock = 7110;
	uint8_t sum = 0;

	memset(e, 0, 128);
	memcpy(e, "\x00\xff\xff\xff\xff\xff\xff\x00", 8);
	e[8] = 0x49; /* R=18 H=8 T=20: 10010 01000 10100 */
	e[9] = 0x14;
	put_le16(e + 10, 0x1234);
	e[18] = 1;
	e[19] = 4;
	put_le16(dtd, clock);
	dtd[2] = w & 0xff;
	dtd[3] = hb & 0xff;
	dtd[4] = (uint8_t)(((w >> 8) << 4) | (hb >> 8));
	dtd[5] = h & 0xff;
	dtd[6] = vb & 0xff;
	dtd[7] = (uint8_t)(((h >> 8) << 4) | (vb >> 8));
	name[3] = 0xfc;
	memcpy(name + 5, "QEMU Monitor\n", 13);
	e[90 + 3] = 0x10; /* dummy descriptors */
	e[108 + 3] = 0x10;
	for (int i = 0; i < 127; i++)
		sum += e[i];
	e[127] = (uint8_t)-sum;
}

/* ---- fixture -------------------------------------------------------------- */

struct fx {
	struct fake_pci *fp;
	struct fake_gpu *fg;
	struct vdev d;
	struct vgpu *g;
};

static struct fx *fx_new(uint64_t offered, uint32_t nscan)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_GPU, offered);
	f->fp->num_queues = 2;
	f->fg = calloc(1, sizeof(*f->fg));
	f->fg->fp = f->fp;
	f->fg->num_scanouts = nscan;
	put_le32(f->fp->devcfg + 8, nscan);
	f->fp->backend = &gpu_backend;
	f->fp->backend_ctx = f->fg;
	assert_int_equal(vpci_probe(&f->fp->bus, &f->d), 0);
	host_log_clear();
	return f;
}

static void fx_screen(struct fx *f, uint32_t i, bool en, uint32_t w, uint32_t h,
		      uint32_t edid_w, uint32_t edid_h)
{
	struct fake_out *o = &f->fg->out[i];

	o->enabled = en;
	o->w = w;
	o->h = h;
	if (edid_w) {
		make_edid(o->edid, edid_w, edid_h);
		o->edid_len = 128;
	}
}

static void fx_free(struct fx *f)
{
	if (f->g)
		vgpu_close(f->g);
	assert_int_equal(fake_pci_live_dma(f->fp), 0);
	if (f->fp->errors)
		fail_msg("fake pci: %s", f->fp->error);
	if (f->fg->violations)
		fail_msg("fake gpu: %s", f->fg->violation);
	free(f->fg->shadow);
	/* The fake's promise: nothing alive, nothing mapped, no violation. */
	assert_int_equal(fake_pci_free(f->fp), 0);
	free(f->fg);
	free(f);
}

static const struct fake_cmd *find_cmd(const struct fx *f, uint32_t type,
				       unsigned nth)
{
	for (unsigned i = 0; i < f->fg->ncmds && i < MAX_LOG; i++)
		if (f->fg->log[i].type == type && nth-- == 0)
			return &f->fg->log[i];
	return NULL;
}

static unsigned count_cmd(const struct fx *f, uint32_t type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->fg->ncmds && i < MAX_LOG; i++)
		n += f->fg->log[i].type == type;
	return n;
}

/* Expected bytes, built field by field, independent of the driver's structs. */
struct bytes {
	uint8_t b[CMD_BYTES];
	uint32_t n;
};

static void b_le32(struct bytes *x, uint32_t v)
{
	put_le32(x->b + x->n, v);
	x->n += 4;
}

static void b_le64(struct bytes *x, uint64_t v)
{
	put_le64(x->b + x->n, v);
	x->n += 8;
}

static void b_hdr(struct bytes *x, uint32_t type, uint32_t flags, uint64_t fence)
{
	b_le32(x, type);
	b_le32(x, flags);
	b_le64(x, fence);
	b_le32(x, 0); /* ctx_id */
	b_le32(x, 0); /* ring_idx + padding */
}

static void assert_cmd_bytes(const struct fake_cmd *c, const struct bytes *x)
{
	assert_non_null(c);
	assert_int_equal(c->len, x->n);
	assert_memory_equal(c->bytes, x->b, x->n);
}

static void open_ok(struct fx *f)
{
	assert_int_equal(vgpu_open(&f->d, &f->g), 0);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_open_edid_mode(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	struct vgpu_scanout_info si;

	(void)state;
	fx_screen(f, 0, true, 1280, 800, 1920, 1080);
	put_le32(f->fp->devcfg + 0, VIRTIO_GPU_EVENT_DISPLAY);
	open_ok(f);
	/* §5.7.4: a pending display event is acknowledged via events_clear. */
	assert_int_equal(get_le32(f->fp->devcfg + 4), VIRTIO_GPU_EVENT_DISPLAY);
	/* VIRGL offered, never accepted. */
	assert_false(f->d.features & VIRTIO_BIT(VIRTIO_GPU_F_VIRGL));
	assert_true(f->d.features & VIRTIO_BIT(VIRTIO_GPU_F_EDID));
	assert_int_equal(vgpu_num_scanouts(f->g), 1);
	assert_int_equal(vgpu_scanout_info(f->g, 0, &si), 0);
	assert_true(si.enabled && si.used && si.has_edid);
	assert_int_equal(si.width, 1920);
	assert_int_equal(si.height, 1080);
	assert_int_equal(si.source, VGPU_MODE_EDID);
	assert_string_equal(si.edid.manufacturer, "RHT");
	assert_string_equal(si.edid.name, "QEMU Monitor");
	assert_int_equal(si.info_rect.width, 1280);
	assert_int_equal(vgpu_scanout_info(f->g, 1, &si), -VQ_EINVAL);
	assert_null(test_gpu_surface(f->g));
	fx_free(f);
}

static void test_command_bytes(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	const struct fake_cmd *c;
	struct bytes x;
	uint64_t fence;

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);

	x = (struct bytes){ 0 };
	b_hdr(&x, 0x100, 0, 0);
	assert_cmd_bytes(find_cmd(f, 0x100, 0), &x);

	x = (struct bytes){ 0 };
	b_hdr(&x, 0x10a, 0, 0);
	b_le32(&x, 0);
	b_le32(&x, 0);
	assert_cmd_bytes(find_cmd(f, 0x10a, 0), &x);

	x = (struct bytes){ 0 };
	b_hdr(&x, 0x101, 0, 0);
	b_le32(&x, 1);   /* resource id */
	b_le32(&x, 2);   /* B8G8R8X8_UNORM */
	b_le32(&x, 640);
	b_le32(&x, 480);
	assert_cmd_bytes(find_cmd(f, 0x101, 0), &x);

	/* The backing is given by device address, not the host pointer. */
	c = find_cmd(f, 0x106, 0);
	assert_non_null(c);
	assert_true(get_le64(c->bytes + 32) !=
		    (uintptr_t)test_gpu_surface(f->g)->px);
	x = (struct bytes){ 0 };
	b_hdr(&x, 0x106, 0, 0);
	b_le32(&x, 1);
	b_le32(&x, 1);   /* nr_entries */
	b_le64(&x, get_le64(c->bytes + 32));
	b_le32(&x, 640 * 480 * 4);
	b_le32(&x, 0);
	assert_cmd_bytes(c, &x);

	x = (struct bytes){ 0 };
	b_hdr(&x, 0x103, 0, 0);
	b_le32(&x, 0);
	b_le32(&x, 0);
	b_le32(&x, 640);
	b_le32(&x, 480);
	b_le32(&x, 0);   /* scanout */
	b_le32(&x, 1);   /* resource */
	assert_cmd_bytes(find_cmd(f, 0x103, 0), &x);

	/* The initial full-screen update: fenced transfer, fenced flush. */
	c = find_cmd(f, 0x105, 0);
	assert_non_null(c);
	fence = get_le64(c->bytes + 8);
	assert_true(fence > 0);
	x = (struct bytes){ 0 };
	b_hdr(&x, 0x105, 1, fence);
	b_le32(&x, 0);
	b_le32(&x, 0);
	b_le32(&x, 640);
	b_le32(&x, 480);
	b_le64(&x, 0);   /* offset */
	b_le32(&x, 1);
	b_le32(&x, 0);
	assert_cmd_bytes(c, &x);

	x = (struct bytes){ 0 };
	b_hdr(&x, 0x104, 1, fence + 1);
	b_le32(&x, 0);
	b_le32(&x, 0);
	b_le32(&x, 640);
	b_le32(&x, 480);
	b_le32(&x, 1);
	b_le32(&x, 0);
	assert_cmd_bytes(find_cmd(f, 0x104, 0), &x);

	/* A damaged rect at (8, 32): offset = (32 * 640 + 8) * 4. */
	gfx_fill(test_gpu_surface(f->g), 8, 32, 16, 4, 0xffffff);
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	c = find_cmd(f, 0x105, 1);
	assert_non_null(c);
	assert_int_equal(get_le32(c->bytes + 24), 8);
	assert_int_equal(get_le32(c->bytes + 28), 32);
	assert_int_equal(get_le32(c->bytes + 32), 16);
	assert_int_equal(get_le32(c->bytes + 36), 4);
	assert_int_equal(get_le64(c->bytes + 40), (32 * 640 + 8) * 4);
	fx_free(f);
}

static void test_flush_only_damage(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	struct gfx_surface *s;
	struct gfx_grid grid;
	struct vgpu_stats st;
	unsigned before;

	(void)state;
	fx_screen(f, 0, true, 320, 200, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	s = test_gpu_surface(f->g);
	assert_non_null(s);
	assert_int_equal(s->width, 320);
	assert_int_equal(s->height, 200);
	assert_int_equal(f->fg->transfers, 1);
	assert_int_equal(f->fg->flushes, 1);

	gfx_grid_init(&grid, s, 0, 0, 0, 0, 1);
	gfx_grid_line(&grid, 2, "changed", 0xffffff, 0x000080);
	before = f->fg->ncmds;
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	/* One line: one transfer and one flush, of that line only. */
	assert_int_equal(f->fg->ncmds - before, 2);
	assert_int_equal(f->fg->transfers, 2);
	assert_int_equal(f->fg->flushes, 2);
	assert_int_equal(s->ndamage, 0);
	/* The device-side copy has the pixels. */
	for (uint32_t y = 32; y < 48; y++)
		for (uint32_t x = 0; x < 320; x++)
			assert_int_equal(f->fg->shadow[y * 320 + x],
					 s->px[y * s->stride + x]);
	assert_int_equal(f->fg->shadow[31 * 320], 0);

	/* Nothing damaged: nothing sent. */
	before = f->fg->ncmds;
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	assert_int_equal(f->fg->ncmds, before);

	vgpu_get_stats(f->g, &st);
	assert_int_equal(st.flushes, 1);
	assert_int_equal(st.rects, 2);
	assert_int_equal(st.pixels, 320 * 200 + 320 * 16);
	fx_free(f);
}

static void test_many_rects_in_flight(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	struct gfx_surface *s;
	unsigned kicks;

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	s = test_gpu_surface(f->g);
	for (int i = 0; i < GFX_MAX_DAMAGE; i++)
		gfx_fill(s, i * 40, i * 29, 3, 3, 0xff0000);
	assert_int_equal(s->ndamage, GFX_MAX_DAMAGE);
	kicks = f->fp->q[0].notifies;
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	assert_int_equal(f->fg->transfers, 1 + GFX_MAX_DAMAGE);
	/* 32 commands fit the slots: one kick for all of them. */
	assert_int_equal(f->fp->q[0].notifies - kicks, 1);
	fx_free(f);
}

/* A controlq of 4 entries gives 2 command slots: batches run early. */
static void test_tiny_queue(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 2);
	struct gfx_surface *s;
	unsigned before;

	(void)state;
	f->fp->q[0].max = 4;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	fx_screen(f, 1, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	assert_int_equal(vgpu_start(f->g), -VQ_EINVAL);
	assert_int_equal(f->fg->out[0].resource, 1);
	assert_int_equal(f->fg->out[1].resource, 1);
	s = test_gpu_surface(f->g);
	for (int i = 0; i < 5; i++)
		gfx_fill(s, i * 100, i * 90, 2, 2, 0xffffff);
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	assert_int_equal(f->fg->transfers, 1 + 5);
	assert_int_equal(f->fg->shadow[4 * 90 * 640 + 400], 0xffffff);
	before = f->fg->ncmds;
	vgpu_close(f->g);
	f->g = NULL;
	assert_int_equal(f->fg->ncmds - before, 4);
	assert_int_equal(f->fg->res_id, 0);
	fx_free(f);
}

/* With few slots an early failure is known only as an error: teardown is
 * then best effort and must still free everything. */
static void test_tiny_queue_create_fails(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);

	(void)state;
	f->fp->q[0].max = 2;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	f->fg->fail_cmd = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D;
	f->fg->fail_code = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), -VQ_ENOMEM);
	assert_true(host_log_contains("RESOURCE_CREATE_2D failed: ERR_OUT_OF_MEMORY"));
	fx_free(f);
}

static void test_error_codes(void **state)
{
	static const char *names[] = {
		"ERR_UNSPEC", "ERR_OUT_OF_MEMORY", "ERR_INVALID_SCANOUT_ID",
		"ERR_INVALID_RESOURCE_ID", "ERR_INVALID_CONTEXT_ID",
		"ERR_INVALID_PARAMETER",
	};

	(void)state;
	for (uint32_t code = 0x1200; code <= 0x1205; code++) {
		struct fx *f = fx_new(GPU_OFFERED, 1);
		char want[128];
		int rc;

		fx_screen(f, 0, true, 640, 480, 0, 0);
		f->fg->fail_cmd = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D;
		f->fg->fail_code = code;
		open_ok(f);
		rc = vgpu_start(f->g);
		assert_int_equal(rc, code == 0x1201 ? -VQ_ENOMEM : -VQ_EIO);
		snprintf(want, sizeof(want),
			 "vgpu 00:03.0: RESOURCE_CREATE_2D failed: %s (0x%x)",
			 names[code - 0x1200], code);
		if (!host_log_contains(want))
			fail_msg("log lacks \"%s\"; last: %s", want, host_log_last());
		assert_null(test_gpu_surface(f->g));
		fx_free(f);
	}
}

static void test_wrong_response_type(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	f->fg->wrong_type_cmd = VIRTIO_GPU_CMD_GET_DISPLAY_INFO;
	assert_int_equal(vgpu_open(&f->d, &f->g), -VQ_EBROKEN);
	assert_true(host_log_contains("GET_DISPLAY_INFO: response type 0x1104"));
	fx_free(f);
}

static void test_short_responses(void **state)
{
	(void)state;
	for (int hdr_only = 0; hdr_only < 2; hdr_only++) {
		struct fx *f = fx_new(GPU_OFFERED, 1);

		fx_screen(f, 0, true, 640, 480, 0, 0);
		f->fg->short_cmd = VIRTIO_GPU_CMD_GET_DISPLAY_INFO;
		f->fg->short_len = hdr_only ? 23 : 407;
		assert_int_equal(vgpu_open(&f->d, &f->g), -VQ_ESHORT);
		fx_free(f);
	}
}

static void test_fence_must_echo(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	f->fg->no_fence_echo = true;
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), -VQ_EBROKEN);
	assert_true(host_log_contains("not echoed"));
	fx_free(f);
}

static void test_edid_error_tolerated(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	struct vgpu_scanout_info si;

	(void)state;
	fx_screen(f, 0, true, 800, 600, 1920, 1080);
	f->fg->fail_cmd = VIRTIO_GPU_CMD_GET_EDID;
	f->fg->fail_code = VIRTIO_GPU_RESP_ERR_UNSPEC;
	open_ok(f);
	assert_int_equal(vgpu_scanout_info(f->g, 0, &si), 0);
	assert_false(si.has_edid);
	assert_int_equal(si.width, 800);
	assert_int_equal(si.source, VGPU_MODE_DISPLAY_INFO);
	fx_free(f);
}

static void test_no_edid_feature(void **state)
{
	struct fx *f = fx_new(VIRTIO_BIT(VIRTIO_F_VERSION_1), 1);
	struct vgpu_scanout_info si;

	(void)state;
	fx_screen(f, 0, true, 800, 600, 1920, 1080);
	open_ok(f);
	assert_int_equal(count_cmd(f, VIRTIO_GPU_CMD_GET_EDID), 0);
	assert_int_equal(vgpu_scanout_info(f->g, 0, &si), 0);
	assert_int_equal(si.width, 800);
	fx_free(f);
}

static void test_nothing_enabled_falls_back(void **state)
{
	struct fx *f = fx_new(VIRTIO_BIT(VIRTIO_F_VERSION_1), 2);
	struct vgpu_scanout_info si;

	(void)state;
	open_ok(f);
	assert_int_equal(vgpu_scanout_info(f->g, 0, &si), 0);
	assert_true(si.used);
	assert_int_equal(si.width, 1024);
	assert_int_equal(si.height, 768);
	assert_int_equal(si.source, VGPU_MODE_FALLBACK);
	assert_int_equal(vgpu_scanout_info(f->g, 1, &si), 0);
	assert_false(si.used);
	assert_int_equal(vgpu_start(f->g), 0);
	assert_int_equal(f->fg->out[0].resource, 1);
	assert_int_equal(f->fg->out[1].resource, 0);
	fx_free(f);
}

static void test_two_scanouts_share_resource(void **state)
{
	struct fx *f = fx_new(VIRTIO_BIT(VIRTIO_F_VERSION_1), 3);
	struct gfx_surface *s;

	(void)state;
	fx_screen(f, 0, true, 1024, 768, 0, 0);
	fx_screen(f, 2, true, 800, 600, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	assert_int_equal(f->fg->res_w, 1024);
	assert_int_equal(f->fg->res_h, 768);
	assert_int_equal(f->fg->out[0].resource, 1);
	assert_int_equal(f->fg->out[0].sw, 1024);
	assert_int_equal(f->fg->out[1].resource, 0);
	assert_int_equal(f->fg->out[2].resource, 1);
	assert_int_equal(f->fg->out[2].sw, 800);
	assert_int_equal(f->fg->out[2].sh, 600);
	s = test_gpu_surface(f->g);
	/* The part every scanout shows; rows are the resource's width. */
	assert_int_equal(s->width, 800);
	assert_int_equal(s->height, 600);
	assert_int_equal(s->stride, 1024);
	gfx_fill(s, 790, 590, 100, 100, 0x123456);
	assert_int_equal(test_gpu_flush_damage(f->g), 0);
	assert_int_equal(f->fg->shadow[599 * 1024 + 799], 0x123456);
	assert_int_equal(f->fg->shadow[600 * 1024 + 799], 0);
	fx_free(f);
}

static void test_oversize_refused(void **state)
{
	struct fx *f = fx_new(VIRTIO_BIT(VIRTIO_F_VERSION_1), 2);

	(void)state;
	/* Each mode is fine alone; together the resource is 8192x8192x4. */
	fx_screen(f, 0, true, 8192, 64, 0, 0);
	fx_screen(f, 1, true, 64, 8192, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), -VQ_ERANGE);
	assert_int_equal(count_cmd(f, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 0);
	assert_int_equal(vgpu_set_mode(f->g, 0, 9000, 10), -VQ_ERANGE);
	assert_int_equal(vgpu_set_mode(f->g, 0, 4096, 4097), -VQ_ERANGE);
	assert_int_equal(vgpu_set_mode(f->g, 2, 640, 480), -VQ_EINVAL);
	/* Turning one off makes it fit. */
	assert_int_equal(vgpu_set_mode(f->g, 1, 0, 0), 0);
	assert_int_equal(vgpu_start(f->g), 0);
	assert_int_equal(f->fg->res_w, 8192);
	assert_int_equal(f->fg->res_h, 64);
	fx_free(f);
}

static void test_close_tears_down(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	unsigned before, resets;
	struct bytes x;

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	before = f->fg->ncmds;
	resets = f->fp->resets;
	vgpu_close(f->g);
	f->g = NULL;
	assert_int_equal(f->fg->ncmds - before, 3);
	/* Scanout off (resource 0, empty rect), detach, unref: exact bytes. */
	x = (struct bytes){ 0 };
	b_hdr(&x, 0x103, 0, 0);
	for (int i = 0; i < 6; i++)
		b_le32(&x, 0);
	assert_cmd_bytes(&f->fg->log[before], &x);
	for (unsigned k = 1; k < 3; k++) {
		x = (struct bytes){ 0 };
		b_hdr(&x, k == 1 ? 0x107 : 0x102, 0, 0);
		b_le32(&x, 1);
		b_le32(&x, 0);
		assert_cmd_bytes(&f->fg->log[before + k], &x);
	}
	assert_int_equal(f->fg->res_id, 0);
	assert_true(f->fp->resets > resets);
	fx_free(f);
}

static void test_timeout_resets(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);
	unsigned resets, before;

	(void)state;
	fx_screen(f, 0, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	vgpu_set_timeout(f->g, 1000);
	f->fg->never_complete = true;
	host_clock_set_auto_advance(10);
	resets = f->fp->resets;
	gfx_fill(test_gpu_surface(f->g), 0, 0, 10, 10, 0xffffff);
	assert_int_equal(test_gpu_flush_damage(f->g), -VQ_ETIMEDOUT);
	host_clock_set_auto_advance(0);
	assert_true(f->fp->resets > resets);
	assert_true(host_log_contains("TRANSFER_TO_HOST_2D: no response"));
	/* Dead now: refuses work, close sends nothing and frees all. */
	assert_int_equal(test_gpu_flush_damage(f->g), -VQ_ENODEV);
	before = f->fg->ncmds;
	vgpu_close(f->g);
	f->g = NULL;
	assert_int_equal(f->fg->ncmds, before);
	fx_free(f);
}

/* A reset that never completes: with bus mastering off everything is freed;
 * when that cannot be turned off either, the framebuffer and the command
 * buffers stay allocated with the rings (the device may still write them). */
static void stuck_close(bool bus_master_fails, unsigned want_live)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);

	fx_screen(f, 0, true, 640, 480, 0, 0);
	open_ok(f);
	assert_int_equal(vgpu_start(f->g), 0);
	vgpu_set_timeout(f->g, 1000);
	f->fg->never_complete = true;
	f->fp->reset_never = true;
	f->fp->bus_master_fail = bus_master_fails;
	host_clock_set_auto_advance(1000);
	gfx_fill(test_gpu_surface(f->g), 0, 0, 10, 10, 0xffffff);
	assert_int_equal(test_gpu_flush_damage(f->g), -VQ_ETIMEDOUT);
	vgpu_close(f->g);
	f->g = NULL;
	host_clock_set_auto_advance(0);
	assert_int_equal(f->fp->bus_master, bus_master_fails);
	assert_int_equal(fake_pci_live_dma(f->fp), want_live);
	if (bus_master_fails)
		assert_true(host_log_contains("leaking the framebuffer"));
	f->fp->reset_never = false;
	assert_int_equal(f->fp->errors, 0);
	free(f->fg->shadow);
	/* What a device that would not stop keeps, and nothing else. */
	assert_int_equal(fake_pci_free(f->fp), want_live);
	free(f->fg);
	free(f);
}

static void test_stuck_device_keeps_buffers(void **state)
{
	(void)state;
	stuck_close(false, 0);
	stuck_close(true, 4); /* two rings, framebuffer, commands */
}

static void test_open_fails_cleanly(void **state)
{
	struct fx *f = fx_new(GPU_OFFERED, 1);

	(void)state;
	put_le32(f->fp->devcfg + 8, 0); /* no scanouts */
	assert_int_equal(vgpu_open(&f->d, &f->g), -VQ_ENODEV);
	assert_null(f->g);
	fx_free(f);
}

/* ---- pure functions -------------------------------------------------------- */

static void test_edid_parse(void **state)
{
	uint8_t e[128];
	struct vgpu_edid ed;

	(void)state;
	make_edid(e, 1280, 800);
	assert_int_equal(vgpu_edid_parse(e, sizeof(e), &ed), 0);
	assert_string_equal(ed.manufacturer, "RHT");
	assert_int_equal(ed.product, 0x1234);
	assert_string_equal(ed.name, "QEMU Monitor");
	assert_true(ed.has_preferred);
	assert_int_equal(ed.pref_width, 1280);
	assert_int_equal(ed.pref_height, 800);
	/* 71.1 MHz / (1440 * 823) = 59.993 Hz */
	assert_int_equal(ed.pref_refresh_mhz, 59993);

	/* 12-bit sizes use the high nibbles. */
	make_edid(e, 3840, 2160);
	assert_int_equal(vgpu_edid_parse(e, sizeof(e), &ed), 0);
	assert_int_equal(ed.pref_width, 3840);
	assert_int_equal(ed.pref_height, 2160);

	memset(&ed, 0xaa, sizeof(ed));
	e[60] ^= 1;
	assert_int_equal(vgpu_edid_parse(e, sizeof(e), &ed), -VQ_ECORRUPT);
	assert_int_equal(ed.pref_width, 0xaaaaaaaa); /* untouched on failure */
	e[60] ^= 1;
	e[0] = 1;
	e[127]--;
	assert_int_equal(vgpu_edid_parse(e, sizeof(e), &ed), -VQ_ECORRUPT);
	assert_int_equal(vgpu_edid_parse(e, 127, &ed), -VQ_ESHORT);
}

static void test_edid_without_timing(void **state)
{
	uint8_t e[128];
	struct vgpu_edid ed;
	uint8_t sum = 0;

	(void)state;
	make_edid(e, 1280, 800);
	memset(e + 54, 0, 18);      /* descriptor 0: dummy, no DTD */
	e[54 + 3] = 0x10;
	e[8] = 0;                   /* letters 0: not A-Z */
	e[9] = 0;
	memcpy(e + 72 + 5, "\x01\x02 ab        ", 13); /* unprintable, padded */
	for (int i = 0; i < 127; i++)
		sum += e[i];
	e[127] = (uint8_t)-sum;
	assert_int_equal(vgpu_edid_parse(e, sizeof(e), &ed), 0);
	assert_false(ed.has_preferred);
	assert_string_equal(ed.manufacturer, "???");
	assert_string_equal(ed.name, "?? ab");
}

static void test_mode_choice(void **state)
{
	struct virtio_gpu_rect r = { 0, 0, 800, 600 };
	struct vgpu_edid ed = { .has_preferred = true, .pref_width = 1920,
				.pref_height = 1080 };
	enum vgpu_mode_source src;
	uint32_t w, h;

	(void)state;
	vgpu_choose_mode(true, &r, &ed, &w, &h, &src);
	assert_int_equal(src, VGPU_MODE_EDID);
	assert_int_equal(w, 1920);
	vgpu_choose_mode(true, &r, NULL, &w, &h, &src);
	assert_int_equal(src, VGPU_MODE_DISPLAY_INFO);
	assert_int_equal(w, 800);
	assert_int_equal(h, 600);
	/* An oversize preferred mode falls back to the display info. */
	ed.pref_width = 10000;
	vgpu_choose_mode(true, &r, &ed, &w, &h, &src);
	assert_int_equal(src, VGPU_MODE_DISPLAY_INFO);
	/* A disabled scanout's rect is not trusted; an empty one neither. */
	vgpu_choose_mode(false, &r, NULL, &w, &h, &src);
	assert_int_equal(src, VGPU_MODE_FALLBACK);
	assert_int_equal(w, 1024);
	assert_int_equal(h, 768);
	r.width = 0;
	vgpu_choose_mode(true, &r, NULL, &w, &h, &src);
	assert_int_equal(src, VGPU_MODE_FALLBACK);

	assert_true(vgpu_mode_ok(8192, 2048));
	assert_false(vgpu_mode_ok(8192, 2049)); /* 64 MiB + a row */
	assert_false(vgpu_mode_ok(8193, 1));
	assert_false(vgpu_mode_ok(0, 1));
	assert_string_equal(vgpu_type_name(0x10a), "GET_EDID");
	assert_string_equal(vgpu_type_name(0x1203), "ERR_INVALID_RESOURCE_ID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_edid_mode),
		cmocka_unit_test(test_command_bytes),
		cmocka_unit_test(test_flush_only_damage),
		cmocka_unit_test(test_many_rects_in_flight),
		cmocka_unit_test(test_tiny_queue),
		cmocka_unit_test(test_tiny_queue_create_fails),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_wrong_response_type),
		cmocka_unit_test(test_short_responses),
		cmocka_unit_test(test_fence_must_echo),
		cmocka_unit_test(test_edid_error_tolerated),
		cmocka_unit_test(test_no_edid_feature),
		cmocka_unit_test(test_nothing_enabled_falls_back),
		cmocka_unit_test(test_two_scanouts_share_resource),
		cmocka_unit_test(test_oversize_refused),
		cmocka_unit_test(test_close_tears_down),
		cmocka_unit_test(test_timeout_resets),
		cmocka_unit_test(test_stuck_device_keeps_buffers),
		cmocka_unit_test(test_open_fails_cleanly),
		cmocka_unit_test(test_edid_parse),
		cmocka_unit_test(test_edid_without_timing),
		cmocka_unit_test(test_mode_choice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
