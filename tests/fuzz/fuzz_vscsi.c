/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the virtio-scsi driver (over the real transport and
 * ring) against the fake virtio-scsi controller, with the controller's
 * config, its targets and LUNs, the bus's DMA mapping behaviour and the
 * misbehaviour of every answer taken from the input: hostile resid,
 * sense_len and used lengths, any response code and status, unit
 * attentions, NOT READY, medium errors, stalls, reordering, bogus ids.
 * Properties checked on every run:
 *   - the driver never breaks the virtio protocol (the fake counts
 *     violations) and sends nothing but commands that read;
 *   - a read that returns 0 delivered exactly the LUN's bytes;
 *   - with a well-behaved controller, the scan finds exactly the disks
 *     there are, and a valid read of one succeeds;
 *   - after close no DMA area or mapping is left.
 *
 * Input: 4 setup bytes (transport, features and mapping; queue size and
 * max_target; cdb/sense sizes; max_sectors and cmd_per_lun), 4 LUNs of 4
 * bytes (target and LUN, type and block size, blocks, behaviour), one byte
 * of scan misbehaviour, then 5 bytes per read (LUN, misbehaviour, LBA,
 * count).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "virtio/virtio_scsi.h"
#include "tests/support/fake_scsi.h"
#include "tests/support/host_platform.h"

#define SETUP 4
#define NLUNS 4
#define LUN_BYTES 4
#define HDR (SETUP + NLUNS * LUN_BYTES + 1)
#define OP_BYTES 5
#define MAX_OPS 12

static uint8_t data_buf[256 * 4096];

static struct fake_pci *make_ctrl(const uint8_t *in, struct fake_scsi **ret)
{
	enum fake_pci_mode mode = (enum fake_pci_mode)((in[0] & 3) % 3);
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_SCSI_F_HOTPLUG);
	static const uint32_t cdb[4] = { 32, 16, 64, 8 }, sense[4] = { 96, 18, 252, 300 };
	struct fake_pci *fp;
	struct fake_scsi *fs;

	if (in[0] & 0x04)
		f |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (in[0] & 0x08)
		f |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (mode == FAKE_PCI_LEGACY)
		f &= 0xFFFFFFFFu;
	fp = fake_pci_new(mode, VIRTIO_ID_SCSI, f);
	fs = fake_scsi_attach(fp);
	fp->q[2].max = (uint16_t)(2u << (in[1] & 7)); /* 2..256 */
	fp->map_mode = (enum fake_map_mode)(in[0] >> 4 & 3);
	fp->map_partial = 512u * (1 + (in[0] >> 6));
	fake_scsi_config(fs, 30, in[1] >> 4, 2);      /* max_target 0..15 */
	/* Legacy config cannot be written: keep sizes the driver accepts. */
	if (mode != FAKE_PCI_LEGACY) {
		fake_scsi_config(fs, 24, cdb[in[2] & 3], 4);
		fake_scsi_config(fs, 20, sense[in[2] >> 2 & 3], 4);
	}
	fake_scsi_config(fs, 8, in[3] & 0x80 ? in[3] & 0x7F : 0xFFFF, 4);
	fake_scsi_config(fs, 12, in[2] >> 4, 4);
	*ret = fs;
	return fp;
}

static void add_luns(struct fake_scsi *fs, const uint8_t *in)
{
	static const uint32_t bs[4] = { 512, 4096, 512, 520 };

	for (unsigned i = 0; i < NLUNS; i++) {
		const uint8_t *d = in + i * LUN_BYTES;
		uint16_t target = d[0] & 0x0F, lun = (d[0] >> 4) == 15 ? 300 : d[0] >> 4 & 3;
		uint8_t type = (d[1] & 0x80) ? 5 : 0;
		struct fake_scsi_lun *l;
		bool dup = false;

		if (d[1] & 0x40)
			continue;
		for (unsigned j = 0; j < fs->nluns; j++)
			dup |= fs->luns[j].target == target && fs->luns[j].lun == lun;
		if (dup)
			continue;
		l = fake_scsi_add(fs, target, lun, type, bs[d[1] & 3], 1 + d[2] % 24);
		l->unit_attention = d[3] & 3;
		l->not_ready = d[3] >> 2 & 3;
		l->no_rc16 = d[3] & 0x10;
		l->no_medium = (d[3] & 0xE0) == 0xE0;
		l->descriptor_sense = d[3] & 0x20;
	}
}

/* One knob per misbehaviour, for a READ or (scan) every command. */
static bool set_misbehaviour(struct fake_scsi *fs, uint8_t m, uint8_t extra)
{
	fs->short_by = (m & 7) == 1 ? 512u * (extra % 3 + 1) : 0;
	fs->resid_over = (m & 7) == 2 ? extra + 1u : 0;
	fs->sense_len_over = (m & 7) == 3 ? extra * 0x01010101u + 1 : 0;
	fs->used_short = (m & 7) == 4 ? extra + 1u : 0;
	fs->response = (m & 7) == 5 ? extra % 12 : -1;
	fs->status = (m & 7) == 6 ? extra : -1;
	fs->busy_reads = (m & 7) == 7 ? extra % 8 : 0;
	fs->reverse = m & 0x08;
	fs->bad_id = (m & 0x30) == 0x10;
	fs->never_complete = (m & 0x30) == 0x20;
	fs->delay_polls = (m & 0x30) == 0x30 ? extra % 4 : 0;
	return !(m & 0x37);
}

/* A well-behaved scan finds exactly the fake's usable disks. */
static void check_scan(struct vscsi *c, const struct fake_scsi *fs)
{
	unsigned want = 0, got = 0;
	uint16_t max_target = vscsi_get_info(c)->max_target;

	for (unsigned i = 0; i < fs->nluns; i++) {
		const struct fake_scsi_lun *l = &fs->luns[i];

		want += !l->type && l->block_size != 520 && !l->no_medium &&
			l->target <= max_target &&
			(l->lun == 0 || !fs->no_report_luns) &&
			(vscsi_get_info(c)->max_request >= l->block_size);
	}
	for (unsigned i = 0; i < vscsi_lun_count(c); i++) {
		const struct vscsi_lun *l = vscsi_lun_at(c, i);
		bool found = false;

		if (!l->disk)
			continue;
		got++;
		for (unsigned j = 0; j < fs->nluns; j++)
			found |= fs->luns[j].target == l->target && fs->luns[j].lun == l->lun &&
				 fs->luns[j].blocks == l->blocks &&
				 fs->luns[j].block_size == l->block_size;
		if (!found)
			abort();
	}
	if (got != want)
		abort();
}

/* The fake's LUN behind the driver's @l, or NULL: a device that answered
 * "OK" for a target it does not have, in a scan that misbehaved (after a
 * good one check_scan holds the driver to the fake's LUNs), made it up. */
static const struct fake_scsi_lun *fake_lun(const struct fake_scsi *fs,
					    const struct vscsi_lun *l)
{
	for (unsigned i = 0; i < fs->nluns; i++)
		if (fs->luns[i].target == l->target && fs->luns[i].lun == l->lun)
			return &fs->luns[i];
	return NULL;
}

static void do_read(struct vscsi *c, struct fake_scsi *fs, const uint8_t *op)
{
	const struct fake_scsi_lun *fl;
	struct vscsi_lun *l;
	uint64_t lba = (uint64_t)(op[2] | op[3] << 8) % 32;
	uint64_t count = op[4] % 32;
	bool good = set_misbehaviour(fs, op[1], op[3]);
	int r;

	if (!vscsi_lun_count(c))
		return;
	l = vscsi_lun_at(c, op[0] % vscsi_lun_count(c));
	if (!l->disk)
		return;
	if (count * l->block_size > sizeof(data_buf))
		count = sizeof(data_buf) / l->block_size;
	r = vscsi_read(l, lba, count, data_buf);
	fl = fake_lun(fs, l);
	/* A made-up LUN has no contents to compare; a device that behaves
	 * now answers "bad target", and a read of any block must fail. */
	if (!fl) {
		if (!r && good && count)
			abort();
		return;
	}
	if (!r && !fake_scsi_check(fl, lba * l->block_size, data_buf,
				   count * l->block_size))
		abort();
	/* A device that behaves and a valid range: it must work (a unit
	 * attention left from the scan is retried). */
	if (r && good && lba + count <= l->blocks && !(op[1] & 0x40))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_scsi *fs;
	struct fake_pci *fp;
	struct vdev d;
	struct vscsi *c;
	bool scan_good;

	if (size < HDR)
		return 0;
	/* A coarse clock: a stalled command meets its deadline, and a delayed
	 * one the status poll that completes it, in a hundred spins. */
	host_clock_set_auto_advance(20);
	fp = make_ctrl(data, &fs);
	fs->lazy = true;
	add_luns(fs, data + SETUP);
	fs->no_report_luns = data[HDR - 1] & 0x80;
	fs->misbehave_all = data[HDR - 1] & 0x40;
	scan_good = !fs->misbehave_all || set_misbehaviour(fs, data[HDR - 1] & 0x3F, data[1]);
	if (fs->misbehave_all)
		set_misbehaviour(fs, data[HDR - 1] & 0x3F, data[1]);
	if (!vpci_probe(&fp->bus, &d) && !vscsi_open(&d, &c)) {
		vscsi_set_timeout(c, 2000);
		int r = vscsi_scan(c);

		if (scan_good && r)
			abort();
		if (scan_good)
			check_scan(c, fs);
		fs->misbehave_all = false;
		for (size_t i = HDR, n = 0; i + OP_BYTES <= size && n < MAX_OPS;
		     i += OP_BYTES, n++) {
			/* op[1] bit 6: a unit attention to retry. */
			if (data[i + 1] & 0x40 && fs->nluns)
				fs->luns[data[i] % fs->nluns].unit_attention = data[i + 4] & 3;
			do_read(c, fs, data + i);
		}
		vscsi_close(c);
	}
	if (fp->errors || fake_pci_live_dma(fp) || fp->maps != fp->unmaps ||
	    !fake_scsi_reads_only(fs) || fs->bad_lun_format)
		abort();
	fake_scsi_detach(fs);
	fake_pci_free(fp);
	return 0;
}
