/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-blk driver (over the real transport and ring)
 * against the fake virtio-pci blk device, with the device's configuration,
 * the bus's DMA mapping behaviour and per-request misbehaviour (I/O errors,
 * UNSUPP, short used lengths, bogus ids, stalls, reordering) taken from the
 * input. Properties checked on every run:
 *   - the driver never breaks the protocol (the fake counts violations);
 *   - a read that returns 0 delivered exactly the disk's bytes, a write that
 *     returns 0 stored exactly the caller's;
 *   - a valid read from a device that behaves succeeds, whatever the ring
 *     size, segment limits and mapping behaviour;
 *   - after close no DMA area or mapping is left.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_vblk); run: `make fuzz`.
 *
 * Input: 7 setup bytes (transport and features, seg_max, size_max le16,
 * block size, capacity, DMA map mode), then 5 bytes per operation (kind and
 * misbehaviour flags, sector le16, length in blocks, an extra byte).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "virtio/virtio_blk.h"
#include "tests/support/fake_pci.h"
#include "tests/support/host_platform.h"

#define MAX_OPS 12
#define MAX_SECTORS (8 + 255 * 2)

static uint8_t data_buf[256 * 4096];

/* The disk is made once: each run writes into it and puts back what it
 * wrote from the pristine copy (a fresh 1 MiB pattern per run was most of a
 * run's time). */
static uint8_t disk[MAX_SECTORS * 512], pristine[MAX_SECTORS * 512];

static uint64_t features_from(uint8_t sel, bool size_max)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		     VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		     VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE);

	if (sel & 0x04)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (sel & 0x08)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (sel & 0x10)
		f |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (sel & 0x20)
		f |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (size_max)
		f |= VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX);
	return f;
}

static struct fake_pci *make_device(const uint8_t *in, struct fake_blk **ret)
{
	enum fake_pci_mode mode = (enum fake_pci_mode)((in[0] & 3) % 3);
	uint16_t size_max = (uint16_t)(in[2] | in[3] << 8);
	uint64_t f = features_from(in[0], size_max != 0);
	struct fake_pci *fp;
	struct fake_blk *fb;

	if (mode == FAKE_PCI_LEGACY)
		f &= 0xFFFFFFFFu;
	fp = fake_pci_new(mode, VIRTIO_ID_BLOCK, f);
	/* 4..128 entries: the ring's wrap and suppression do not depend on
	 * the size, and every reset walks the whole ring. */
	fp->q[0].max = (uint16_t)(4u << ((in[6] >> 5) % 6));
	/* Up to 259 KiB: room for reads over many requests and slots, few pages
	 * of bounce buffer to touch per run. */
	fb = fake_blk_attach_disk(fp, disk, 8 + (uint64_t)in[5] * 2);
	fb->read_only = in[0] & 0x04;
	fake_blk_config(fb, in[1], size_max, 512u << (in[4] & 3));
	fp->map_mode = (enum fake_map_mode)(in[6] & 3);
	fp->map_partial = 512u * (1 + (in[6] >> 2 & 7));
	*ret = fb;
	return fp;
}

static void set_misbehaviour(struct fake_blk *fb, uint8_t flags, uint8_t extra,
			     uint64_t sector)
{
	fb->ioerr_sector = (flags & 0x04) ? sector + extra % 8 : ~0ull;
	fb->unsupp = flags & 0x08;
	fb->short_by = (flags & 0x10) ? extra % 3 + 1 : 0;
	fb->reverse = flags & 0x20;
	fb->bad_id = (flags & 0xC0) == 0x40;
	fb->never_complete = (flags & 0xC0) == 0x80;
	fb->delay_polls = (flags & 0xC0) == 0xC0 ? extra % 4 : 0;
}

static void do_op(struct vblk *b, struct fake_blk *fb, const uint8_t *op)
{
	const struct vblk_info *in = vblk_get_info(b);
	uint64_t sector = (uint64_t)(op[1] | op[2] << 8);
	size_t len = (size_t)op[3] * in->blk_size;
	int r;

	if (len > sizeof(data_buf))
		len = sizeof(data_buf);
	set_misbehaviour(fb, op[0], op[4], sector);
	switch (op[0] & 3) {
	case 0:
		r = vblk_read(b, sector, data_buf, len);
		if (!r && memcmp(data_buf, fb->disk + sector * 512, len))
			abort();
		/* A well-behaved device and a valid range: it must work. */
		if (r && !(op[0] & 0xFC) && (sector * 512) % in->blk_size == 0 &&
		    sector + len / 512 <= in->capacity)
			abort();
		break;
	case 1:
		memset(data_buf, op[4], len);
		r = vblk_write(b, sector, data_buf, len);
		if (!r && memcmp(data_buf, fb->disk + sector * 512, len))
			abort();
		/* Whatever reached the disk, inside it: put the pattern back. */
		if (sector < fb->capacity)
			memcpy(disk + sector * 512, pristine + sector * 512,
			       VQ_MIN(len, (size_t)(fb->capacity - sector) * 512));
		break;
	case 2:
		vblk_flush(b);
		break;
	default: {
		char id[21];

		if (!vblk_get_id(b, id) && strlen(id) > 20)
			abort();
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_blk *fb;
	struct fake_pci *fp;
	struct vdev d;
	struct vblk *b;

	if (size < 7)
		return 0;
	if (!pristine[0]) {
		fake_blk_fill_pattern(pristine, MAX_SECTORS);
		memcpy(disk, pristine, sizeof(disk));
	}
	/* Deadlines pass in a few dozen polls, not thousands. */
	host_clock_set_auto_advance(100);
	fp = make_device(data, &fb);
	if (!vpci_probe(&fp->bus, &d) && !vblk_open(&d, &b)) {
		vblk_set_timeout(b, 2000);
		for (size_t i = 7, n = 0; i + 5 <= size && n < MAX_OPS; i += 5, n++)
			do_op(b, fb, data + i);
		vblk_close(b);
	}
	if (fp->errors || fake_pci_live_dma(fp) || fp->maps != fp->unmaps)
		abort();
	fake_blk_detach(fb);
	fake_pci_free(fp);
	return 0;
}
