/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-gpu driver (and the ring and transport under
 * it) against a device whose every answer comes from the fuzz input, plus the
 * EDID parser on raw bytes.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_gpu); run: `make fuzz`.
 *
 * Input: byte 0 picks the scanout count and features, byte 1 a drawing
 * pattern; then for every command the device receives: response type
 * selector (1 byte), used-length mode (1 byte), and payload bytes for the
 * response body (display info or EDID), taken as needed. When the input runs
 * out the device answers correctly, so runs get deep into the driver.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gfx/gfx.h"
#include "virtio/virtio_gpu.h"
#include "tests/support/fake_pci.h"
#include "tests/support/gpu_surface.h"
#include "tests/support/host_platform.h"

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

struct fuzz_gpu {
	struct fuzz_in in;
	struct ring_sim_chain chain;
	uint8_t resp[2048];
	uint8_t cmd[512];
};

static uint8_t take(struct fuzz_in *in, uint8_t dflt)
{
	if (!in->left)
		return dflt;
	in->left--;
	return *in->p++;
}

static void take_bytes(struct fuzz_in *in, uint8_t *buf, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(buf, in->p, k);
	in->p += k;
	in->left -= k;
}

/* The type a correct device would answer @cmd with. */
static uint32_t right_type(uint32_t cmd)
{
	switch (cmd) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
	case VIRTIO_GPU_CMD_GET_EDID: return VIRTIO_GPU_RESP_OK_EDID;
	default: return VIRTIO_GPU_RESP_OK_NODATA;
	}
}

static uint32_t pick_type(uint8_t sel, uint32_t cmd)
{
	static const uint32_t types[] = {
		VIRTIO_GPU_RESP_OK_NODATA, VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
		VIRTIO_GPU_RESP_OK_EDID, 0x1200, 0x1201, 0x1202, 0x1203,
		0x1204, 0x1205, 0x12ff, 0, 0xffffffff,
	};

	/* Mostly right, so the run goes on; sometimes anything. */
	if (sel < 200)
		return right_type(cmd);
	return types[sel % (sizeof(types) / sizeof(types[0]))];
}

static void answer(struct fuzz_gpu *fz, struct ring_sim *sim)
{
	size_t clen = ring_sim_chain_read(&fz->chain, 0, fz->cmd, sizeof(fz->cmd));
	uint32_t cmd = clen >= 4 ? get_le32(fz->cmd) : 0;
	uint32_t type = pick_type(take(&fz->in, 0), cmd);
	uint8_t lmode = take(&fz->in, 0);
	uint64_t writable = fz->chain.writable_bytes;
	uint32_t len;

	memset(fz->resp, 0, sizeof(fz->resp));
	put_le32(fz->resp, type);
	if (clen >= 24 && (get_le32(fz->cmd + 4) & VIRTIO_GPU_FLAG_FENCE) &&
	    lmode != 0x42) {
		put_le32(fz->resp + 4, VIRTIO_GPU_FLAG_FENCE);
		memcpy(fz->resp + 8, fz->cmd + 8, 8);
	}
	if (type == VIRTIO_GPU_RESP_OK_DISPLAY_INFO)
		take_bytes(&fz->in, fz->resp + 24, 16 * 24);
	else if (type == VIRTIO_GPU_RESP_OK_EDID)
		take_bytes(&fz->in, fz->resp + 24, 8 + 256);
	len = (uint32_t)ring_sim_chain_write(&fz->chain, 0, fz->resp,
					     writable < sizeof(fz->resp) ?
						     (size_t)writable :
						     sizeof(fz->resp));
	/* Used length: as written, short, zero, or beyond what was posted
	 * (the ring must catch that). */
	if (lmode >= 0xf0)
		len = lmode & 1 ? 0 : len + (lmode & 0x0f) + 1;
	else if (lmode >= 0xe0)
		len = len > (lmode & 0x0f) ? len - (lmode & 0x0f) - 1 : 0;
	ring_sim_push(sim, fz->chain.head, len);
}

static void fz_notify(struct fake_pci *fp, uint16_t q)
{
	struct fuzz_gpu *fz = fp->backend_ctx;
	struct ring_sim *sim = fp->q[q].sim;

	if (!sim)
		return;
	while (ring_sim_pop(sim, &fz->chain) == 1) {
		/* Sometimes hold a command: the driver's deadline must fire. */
		if (take(&fz->in, 0) == 0x5a)
			continue;
		answer(fz, sim);
	}
}

static const struct fake_backend fz_backend = { .notify = fz_notify };

static void draw_and_flush(struct vgpu *g, uint8_t pattern)
{
	struct gfx_surface *s = test_gpu_surface(g);
	struct gfx_grid grid;

	if (!s)
		return;
	gfx_grid_init(&grid, s, pattern % 17, pattern % 5, 0, 0, 1 + pattern % 3);
	/* Two glyphs, one of them multibyte: enough damage to flush. Not a
	 * whole line: painting a row of a wide surface would take most of a
	 * run, and the drawing has its own tests. */
	gfx_grid_put(&grid, pattern % 7, pattern % 4, "v\xe2\x82\xac", 0xffffff, 0x202020);
	gfx_progress(s, (int32_t)pattern - 20, 40, 300, 12, pattern, 255,
		     0x00ff00, 0, 0xffffff);
	test_gpu_flush_damage(g);
	gfx_fill(s, 0, 0, s->width, 1, 0x123456);
	test_gpu_flush_damage(g);
}

static void fuzz_driver(const uint8_t *data, size_t size)
{
	struct fuzz_gpu *fz = calloc(1, sizeof(*fz));
	uint64_t offered = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	struct fake_pci *fp;
	struct vdev d;
	struct vgpu *g;

	if (!fz)
		return;
	fz->in = (struct fuzz_in){ data + 2, size - 2 };
	if (data[0] & 0x80)
		offered |= VIRTIO_BIT(VIRTIO_GPU_F_EDID);
	if (data[0] & 0x40)
		offered |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_GPU, offered);
	fp->num_queues = 2;
	fp->q[0].max = data[0] & 0x20 ? 4 : 256;
	put_le32(fp->devcfg + 8, data[0] & 0x1f);
	put_le32(fp->devcfg + 0, data[1] & 1);
	fp->backend = &fz_backend;
	fp->backend_ctx = fz;
	if (vpci_probe(&fp->bus, &d) == 0 && vgpu_open(&d, &g) == 0) {
		vgpu_set_timeout(g, 1000);
		if (vgpu_start(g) == 0)
			draw_and_flush(g, data[1]);
		vgpu_close(g);
	}
	fake_pci_free(fp);
	free(fz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vgpu_edid e;

	if (size < 2)
		return 0;
	/* Deadlines must pass quickly under the fake clock. */
	host_clock_set_auto_advance(500);
	vgpu_edid_parse(data, size, &e);
	fuzz_driver(data, size);
	return 0;
}
