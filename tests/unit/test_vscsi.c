/* SPDX-License-Identifier: MIT */
/* virtio-scsi driver against the fake virtio-pci function's SCSI backend. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "virtio/virtio_scsi.h"
#include "tests/support/fake_scsi.h"
#include "tests/support/host_platform.h"

#define F(b) VIRTIO_BIT(b)
#define ALL_SCSI_BITS (F(VIRTIO_SCSI_F_INOUT) | F(VIRTIO_SCSI_F_HOTPLUG) | \
		       F(VIRTIO_SCSI_F_CHANGE) | F(VIRTIO_SCSI_F_T10_PI))
#define BASE_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_INDIRECT_DESC) | \
		       F(VIRTIO_F_EVENT_IDX) | ALL_SCSI_BITS)
#define DISK_BLOCKS 8192 /* 4 MiB of 512-byte blocks */
#define BUF_SIZE (8u << 20)

#define OP_TUR 0x00
#define OP_INQUIRY 0x12
#define OP_RC10 0x25
#define OP_READ10 0x28
#define OP_READ16 0x88
#define OP_RC16 0x9E
#define OP_REPORT_LUNS 0xA0

struct fx {
	struct fake_pci *fp;
	struct fake_scsi *fs;
	struct vdev d;
	struct vscsi *c;
	uint8_t *buf;
};

static struct fx fx;

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	host_clock_set_auto_advance(1);
	host_log_clear();
	fx.buf = malloc(BUF_SIZE);
	return fx.buf ? 0 : -1;
}

static int teardown(void **state)
{
	unsigned bad;

	if (fx.c)
		vscsi_close(fx.c);
	if (fx.fs) {
		/* Whatever the test did: nothing that writes was sent. */
		assert_true(fake_scsi_reads_only(fx.fs));
		assert_int_equal(fx.fs->bad_lun_format, 0);
	}
	fake_scsi_detach(fx.fs);
	/* The fake's promise: nothing alive, nothing mapped, no violation. */
	bad = fake_pci_free(fx.fp);
	free(fx.buf);
	host_clock_set_auto_advance(0);
	if (bad)
		fail_msg("fake device freed with %u leaks and violations "
			 "(stderr names them)", bad);
	return 0;
}

static void make_ctrl(enum fake_pci_mode mode, uint64_t features)
{
	if (mode == FAKE_PCI_LEGACY)
		features &= 0xFFFFFFFFu;
	fx.fp = fake_pci_new(mode, VIRTIO_ID_SCSI, features);
	fx.fs = fake_scsi_attach(fx.fp);
}

static void open_ctrl(void)
{
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vscsi_open(&fx.d, &fx.c), 0);
	assert_int_equal(vscsi_scan(fx.c), 0);
}

/* One 512-byte disk at target 0, LUN 0, opened. */
static struct vscsi_lun *open_one_disk(void)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, DISK_BLOCKS);
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 1);
	return vscsi_lun_at(fx.c, 0);
}

static void assert_lun_bytes(const struct vscsi_lun *l, const uint8_t *p,
			     uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != fake_scsi_pattern(l->target, l->lun, off + i))
			fail_msg("byte %zu of a read at %llu of t%u l%u: 0x%02x, disk has 0x%02x",
				 i, (unsigned long long)off, l->target, l->lun, p[i],
				 fake_scsi_pattern(l->target, l->lun, off + i));
}

static void read_check(struct vscsi_lun *l, uint64_t lba, uint64_t count)
{
	size_t len = (size_t)(count * l->block_size);

	memset(fx.buf, 0xEE, len);
	assert_int_equal(vscsi_read(l, lba, count, fx.buf), 0);
	assert_lun_bytes(l, fx.buf, lba * l->block_size, len);
}

/* ---- opening and the scan ------------------------------------------------- */

static void test_open_one_disk(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	const struct vscsi_info *in = vscsi_get_info(fx.c);

	assert_true(l->disk);
	assert_int_equal(l->target, 0);
	assert_int_equal(l->lun, 0);
	assert_string_equal(l->vendor, "VQFAKE");
	assert_string_equal(l->product, "FAKE DISK");
	assert_string_equal(l->revision, "1.0");
	assert_int_equal(l->blocks, DISK_BLOCKS);
	assert_int_equal(l->block_size, 512);
	assert_string_equal(l->name, "vscsi 00:03.0 t0 l0");
	assert_int_equal(vscsi_lun_bdev(l)->size, DISK_BLOCKS * 512);
	assert_string_equal(vscsi_lun_bdev(l)->name, "vscsi 00:03.0 t0 l0");
	assert_string_equal(fx.d.name, "vscsi 00:03.0");
	/* None of the device's own feature bits: only the ring's. */
	assert_int_equal(fx.fp->driver_features, F(VIRTIO_F_VERSION_1) |
			 F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX));
	assert_int_equal(fx.fp->status, 0xF);
	assert_int_equal(in->cdb_size, 32);
	assert_int_equal(in->sense_size, 96);
	assert_int_equal(in->max_target, 255);
	assert_int_equal(in->targets_scanned, 256);
	assert_int_equal(in->queue_size, 256);
	/* Only the request queue is used. */
	assert_false(fx.fp->q[0].enabled);
	assert_false(fx.fp->q[1].enabled);
	assert_true(fx.fp->q[2].enabled);
	/* One REPORT LUNS per target, then one of each for the disk; the
	 * targets went many at a time. */
	assert_int_equal(fx.fs->op_count[OP_REPORT_LUNS], 256);
	assert_int_equal(fx.fs->op_count[OP_INQUIRY], 1);
	assert_int_equal(fx.fs->op_count[OP_TUR], 1);
	assert_int_equal(fx.fs->op_count[OP_RC16], 1);
	assert_int_equal(fx.fs->commands, 259);
	assert_true(fx.fs->max_held >= 32);
	assert_true(host_log_contains("256 targets scanned in"));
}

static void test_open_wrong_type(void **state)
{
	struct vscsi *c = NULL;

	fx.fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F(VIRTIO_F_VERSION_1));
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vscsi_open(&fx.d, &c), -VQ_ENODEV);
	assert_null(c);
}

static void test_no_disks(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 0);
	/* BAD_TARGET everywhere: nothing but REPORT LUNS was sent. */
	assert_int_equal(fx.fs->commands, 256);
	assert_int_equal(fx.fs->op_count[OP_REPORT_LUNS], 256);
}

static void test_bad_target_stops_the_target(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 3, 0, 0, 512, 64);
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 1);
	l = vscsi_lun_at(fx.c, 0);
	assert_int_equal(l->target, 3);
	assert_true(l->disk);
	/* Targets that answered BAD_TARGET got nothing after REPORT LUNS. */
	assert_int_equal(fx.fs->op_count[OP_INQUIRY], 1);
	read_check(l, 0, 64);
}

static void test_luns_of_several_kinds(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	/* Added out of order: the driver sorts by target, then LUN. */
	fake_scsi_add(fx.fs, 5, 300, 0, 512, 128);
	fake_scsi_add(fx.fs, 0, 2, 0, 4096, 64);
	fake_scsi_add(fx.fs, 0, 1, 5, 0, 0);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 256);
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 4);
	l = vscsi_lun_at(fx.c, 0);
	assert_true(l->target == 0 && l->lun == 0 && l->disk);
	l = vscsi_lun_at(fx.c, 1);
	assert_true(l->target == 0 && l->lun == 1);
	assert_false(l->disk);
	assert_int_equal(l->type, 5);
	assert_null(vscsi_lun_bdev(l));
	assert_int_equal(vscsi_read(l, 0, 1, fx.buf), -VQ_ENODEV);
	assert_true(host_log_contains("target 0 lun 1: CD/DVD \"VQFAKE FAKE OTHER\", not a disk; skipped"));
	l = vscsi_lun_at(fx.c, 2);
	assert_true(l->target == 0 && l->lun == 2 && l->disk);
	assert_int_equal(l->block_size, 4096);
	read_check(l, 3, 7);
	l = vscsi_lun_at(fx.c, 3);
	/* LUN 300 went as flat space addressing both ways. */
	assert_true(l->target == 5 && l->lun == 300 && l->disk);
	assert_string_equal(l->name, "vscsi 00:03.0 t5 l300");
	read_check(l, 0, 128);
	/* No TUR or READ CAPACITY to the CD. */
	assert_int_equal(fx.fs->op_count[OP_TUR], 3);
	assert_int_equal(fx.fs->op_count[OP_RC16], 3);
}

static void test_no_report_luns_uses_lun0(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 1, 0, 0, 512, 64);
	fake_scsi_add(fx.fs, 1, 1, 0, 512, 64);
	fx.fs->no_report_luns = true;
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 1);
	assert_int_equal(vscsi_lun_at(fx.c, 0)->lun, 0);
	assert_true(vscsi_lun_at(fx.c, 0)->disk);
}

static void test_absent_lun0_with_fallback(void **state)
{
	/* REPORT LUNS fails and the target has no LUN 0: INQUIRY answers
	 * qualifier 3, which is no LUN at all. */
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 2, 4, 0, 512, 64);
	fx.fs->no_report_luns = true;
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 0);
}

static void test_max_target(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_config(fx.fs, 30, 3, 2);
	fake_scsi_add(fx.fs, 3, 0, 0, 512, 64);
	fake_scsi_add(fx.fs, 4, 0, 0, 512, 64);
	open_ctrl();
	assert_int_equal(fx.fs->op_count[OP_REPORT_LUNS], 4);
	assert_int_equal(vscsi_lun_count(fx.c), 1);
	assert_int_equal(vscsi_get_info(fx.c)->targets_scanned, 4);
}

static void test_unit_attention_first(void **state)
{
	struct vscsi_lun *l;
	struct vscsi_stats st;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	l = NULL;
	fake_scsi_add(fx.fs, 0, 0, 0, 512, DISK_BLOCKS)->unit_attention = 2;
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	assert_true(l->disk);
	/* TUR: UNIT ATTENTION twice, then ready. */
	assert_int_equal(fx.fs->op_count[OP_TUR], 3);
	/* A unit attention on a read (after a reset, say): tried again. */
	fx.fs->luns[0].unit_attention = 1;
	read_check(l, 10, 100);
	vscsi_get_stats(fx.c, &st);
	assert_true(st.retries >= 3);
}

static void test_unit_attention_forever(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->luns[0].unit_attention = 1000;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("still refused after 5 tries"));
}

static void test_not_ready_then_ready(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 64)->not_ready = 3;
	fake_scsi_add(fx.fs, 0, 1, 0, 512, 64)->no_medium = true;
	open_ctrl();
	assert_int_equal(vscsi_lun_count(fx.c), 2);
	assert_true(vscsi_lun_at(fx.c, 0)->disk);
	assert_false(vscsi_lun_at(fx.c, 1)->disk);
	assert_string_equal(vscsi_lun_at(fx.c, 1)->why, "not ready");
	assert_true(host_log_contains("target 0 lun 1: TEST UNIT READY: NOT READY, medium not present"));
	assert_int_equal(fx.fs->op_count[OP_TUR], 5);
	/* Only the ready one is asked for its capacity. */
	assert_int_equal(fx.fs->op_count[OP_RC16], 1);
}

static void test_capacity_10_fallback(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 1000)->no_rc16 = true;
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	assert_true(l->disk);
	assert_int_equal(l->blocks, 1000);
	assert_int_equal(fx.fs->op_count[OP_RC16], 1);
	assert_int_equal(fx.fs->op_count[OP_RC10], 1);
	read_check(l, 999, 1);
}

static void test_odd_block_size_skipped(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 520, 64);
	open_ctrl();
	assert_false(vscsi_lun_at(fx.c, 0)->disk);
	assert_true(host_log_contains("block size 520 not supported"));
}

/* ---- reads --------------------------------------------------------------- */

static void test_read_sizes(void **state)
{
	static const struct { uint64_t lba, count; } cases[] = {
		{ 0, 1 }, { 1, 2 }, { 7, 8 }, { 100, 128 }, { 3, 2048 },
		{ 0, 3072 }, { 0, DISK_BLOCKS }, { DISK_BLOCKS - 1, 1 },
		{ DISK_BLOCKS - 2048, 2048 },
	};
	struct vscsi_lun *l = open_one_disk();
	struct vscsi_stats st;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		read_check(l, cases[i].lba, cases[i].count);
	assert_int_equal(vscsi_read(l, 5, 0, fx.buf), 0);
	vscsi_get_stats(fx.c, &st);
	assert_int_equal(st.bounced_bytes, 0);
	assert_true(st.max_inflight >= 4);
	/* Small disks need no READ(16). */
	assert_int_equal(fx.fs->op_count[OP_READ16], 0);
	assert_true(fx.fs->op_count[OP_READ10] >= ARRAY_SIZE(cases));
}

static void test_read16_past_2tib(void **state)
{
	struct vscsi_lun *l;
	uint64_t big = (1ull << 32) + 4096;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, big);
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	assert_int_equal(l->blocks, big);
	read_check(l, 100, 16);
	assert_int_equal(fx.fs->op_count[OP_READ16], 0);
	read_check(l, (1ull << 32) + 5, 16);
	assert_int_equal(fx.fs->op_count[OP_READ16], 1);
	/* Straddling the 32-bit boundary needs READ(16) too. */
	read_check(l, (1ull << 32) - 4, 8);
	assert_int_equal(fx.fs->op_count[OP_READ16], 2);
}

static void test_4096_blocks_bdev(void **state)
{
	struct vscsi_lun *l;
	struct blockdev *bd;
	uint8_t small[700];

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 4096, 1024);
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	bd = vscsi_lun_bdev(l);
	assert_int_equal(bd->block_size, 4096);
	assert_int_equal(bd->size, 4096 * 1024);
	assert_int_equal(bdev_read(bd, 5000, small, sizeof(small)), 0);
	assert_lun_bytes(l, small, 5000, sizeof(small));
	assert_int_equal(bdev_read(bd, 12345, fx.buf, 300000), 0);
	assert_lun_bytes(l, fx.buf, 12345, 300000);
	assert_int_equal(bd->ops->read_blocks(bd, 1023, 2, fx.buf), -VQ_ERANGE);
}

static void test_read_vec(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	struct blockdev *bd = vscsi_lun_bdev(l);
	struct bdev_iov iov[5];

	for (unsigned i = 0; i < 5; i++)
		iov[i] = (struct bdev_iov){ .lba = 1000 - i * 150, .count = 9 + i,
					    .buf = fx.buf + i * 65536 };
	assert_int_equal(bdev_read_vec(bd, iov, 5), 0);
	for (unsigned i = 0; i < 5; i++)
		assert_lun_bytes(l, fx.buf + i * 65536, (1000 - i * 150) * 512,
				 (9 + i) * 512);
	/* A bad piece stops the list before anything is sent. */
	unsigned before = fx.fs->commands;
	iov[2].lba = DISK_BLOCKS;
	assert_int_equal(bdev_read_vec(bd, iov, 5), -VQ_ERANGE);
	assert_int_equal(fx.fs->commands, before);
}

static void test_out_of_order_and_delayed(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->reverse = true;
	read_check(l, 3, 4000);
	fx.fs->reverse = false;
	fx.fs->delay_polls = 3;
	read_check(l, 17, 16);
}

static void test_max_sectors_splits(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_config(fx.fs, 8, 16, 4);   /* max_sectors 16: 8 KiB reads */
	fake_scsi_add(fx.fs, 0, 0, 0, 512, DISK_BLOCKS);
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	assert_int_equal(vscsi_get_info(fx.c)->max_request, 8192);
	read_check(l, 0, 160);
	assert_int_equal(fx.fs->op_count[OP_READ10], 10);
}

static void test_cmd_per_lun(void **state)
{
	struct vscsi_lun *l;
	struct vscsi_stats st;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_config(fx.fs, 12, 2, 4);   /* cmd_per_lun 2 */
	fake_scsi_config(fx.fs, 8, 8, 4);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, DISK_BLOCKS);
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	fx.fs->max_held = 0;
	read_check(l, 0, 256);
	assert_true(fx.fs->max_held <= 2);
	vscsi_get_stats(fx.c, &st);
	assert_int_equal(st.reads, 32);	/* 128 KiB in 4 KiB reads */
}

static void test_small_queue_without_indirect(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_MODERN, F(VIRTIO_F_VERSION_1));
	fx.fp->q[2].max = 4;
	fake_scsi_add(fx.fs, 2, 0, 0, 512, DISK_BLOCKS);
	open_ctrl();
	l = vscsi_lun_at(fx.c, 0);
	/* One three-descriptor command at a time fits a 4-entry ring. */
	assert_int_equal(fx.fs->max_held, 1);
	read_check(l, 0, 4096);
}

static void test_legacy_and_transitional(void **state)
{
	struct vscsi_lun *l;

	make_ctrl(FAKE_PCI_LEGACY, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 1, 0, 512, DISK_BLOCKS);
	open_ctrl();
	assert_string_equal(fx.d.ops->name, "legacy");
	l = vscsi_lun_at(fx.c, 0);
	read_check(l, 0, DISK_BLOCKS);
	vscsi_close(fx.c);
	fx.c = NULL;
	fake_scsi_detach(fx.fs);
	assert_int_equal(fake_pci_free(fx.fp), 0);

	make_ctrl(FAKE_PCI_TRANSITIONAL, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 4096, 256);
	open_ctrl();
	assert_string_equal(fx.d.ops->name, "modern");
	read_check(vscsi_lun_at(fx.c, 0), 1, 255);
}

static void test_odd_sizes_rewritten(void **state)
{
	/* A cdb_size too small for READ(16): the driver asks for 32 / 96. */
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_config(fx.fs, 24, 10, 4);
	fake_scsi_config(fx.fs, 20, 4000, 4);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 64);
	open_ctrl();
	assert_int_equal(vscsi_get_info(fx.c)->cdb_size, 32);
	assert_int_equal(vscsi_get_info(fx.c)->sense_size, 96);
	read_check(vscsi_lun_at(fx.c, 0), 0, 64);
	assert_true(host_log_contains("cdb_size 10, sense_size 4000 do not fit"));
}

static void test_bigger_sizes_kept(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_config(fx.fs, 24, 64, 4);
	fake_scsi_config(fx.fs, 20, 252, 4);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 64);
	fx.fs->luns[0].medium_error_lba = 7;
	open_ctrl();
	assert_int_equal(vscsi_get_info(fx.c)->cdb_size, 64);
	assert_int_equal(vscsi_get_info(fx.c)->sense_size, 252);
	read_check(vscsi_lun_at(fx.c, 0), 0, 7);
	assert_int_equal(vscsi_read(vscsi_lun_at(fx.c, 0), 7, 1, fx.buf), -VQ_EIO);
}

/* ---- errors --------------------------------------------------------------- */

static void test_medium_error_in_words(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	unsigned resets = fx.fp->resets;

	fx.fs->luns[0].medium_error_lba = 1234;
	assert_int_equal(vscsi_read(l, 1200, 100, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("vscsi 00:03.0 target 0 lun 0: READ(10)"));
	assert_true(host_log_contains("MEDIUM ERROR, unrecovered read error at LBA 1234"));
	/* A command error, not a protocol failure: no reset. */
	assert_int_equal(fx.fp->resets, resets);
	read_check(l, 0, 1000);
	/* The same in descriptor format. */
	host_log_clear();
	fx.fs->luns[0].descriptor_sense = true;
	assert_int_equal(vscsi_read(l, 1234, 1, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("MEDIUM ERROR, unrecovered read error at LBA 1234"));
}

static void test_short_resid(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->short_by = 512;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ESHORT);
	assert_true(host_log_contains("3584 of 4096 bytes transferred"));
	fx.fs->short_by = 0;
	read_check(l, 0, 8);
}

static void test_hostile_resid(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->resid_over = 1;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ECORRUPT);
	assert_true(host_log_contains("resid 4097 beyond the 4096-byte transfer"));
}

static void test_hostile_sense_len(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->luns[0].medium_error_lba = 3;
	fx.fs->sense_len_over = 1;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ECORRUPT);
	assert_true(host_log_contains("sense_len 97 beyond sense_size 96"));
	fx.fs->sense_len_over = 0x7FFFFFF0;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ECORRUPT);
}

static void test_short_used_len(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->used_short = 1;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ESHORT);
	assert_true(host_log_contains("device wrote 4203 bytes, 4204 needed"));
	fx.fs->used_short = 4200;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ESHORT);
	assert_true(host_log_contains("no response"));
}

static void test_response_codes(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->response = VIRTIO_SCSI_S_TRANSPORT_FAILURE;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("response TRANSPORT_FAILURE (6)"));
	fx.fs->response = 200;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("unknown response (200)"));
	fx.fs->response = VIRTIO_SCSI_S_BAD_TARGET;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_ENODEV);
	/* RESET and BUSY responses are tried again, then given up. */
	fx.fs->response = VIRTIO_SCSI_S_BUSY;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	fx.fs->response = -1;
	fx.fs->status = SCSI_STATUS_RESERVATION_CONFLICT;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("status 0x18"));
	fx.fs->status = SCSI_STATUS_CHECK_CONDITION;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EIO);
	assert_true(host_log_contains("without sense data"));
	fx.fs->status = -1;
	read_check(l, 0, 8);
}

static void test_busy_then_good(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->busy_reads = 2;
	read_check(l, 40, 8);
}

static void test_timeout_resets_and_recovers(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	unsigned resets = fx.fp->resets;

	vscsi_set_timeout(fx.c, 5000);
	fx.fs->never_complete = true;
	assert_int_equal(vscsi_read(l, 0, 2048, fx.buf), -VQ_ETIMEDOUT);
	assert_int_equal(fx.fp->resets, resets + 1);
	assert_int_equal(fx.fp->status, 0);
	fx.fs->never_complete = false;
	/* After the reset the target reports a unit attention: retried. */
	fx.fs->luns[0].unit_attention = 1;
	read_check(l, 8, 8);
	assert_true(host_log_contains("re-initialising"));
	assert_int_equal(fx.fp->status, 0xF);
}

static void test_broken_queue_resets(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	fx.fs->bad_id = true;
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf), -VQ_EBROKEN);
	assert_int_equal(fx.fp->status, 0);
	fx.fs->bad_id = false;
	read_check(l, 0, 8);
}

static void test_dead_after_failed_restart(void **state)
{
	struct vscsi_lun *l = open_one_disk();

	vscsi_set_timeout(fx.c, 1000);
	fx.fs->never_complete = true;
	assert_int_equal(vscsi_read(l, 0, 1, fx.buf), -VQ_ETIMEDOUT);
	fx.fp->reject_features = F(VIRTIO_F_VERSION_1);
	assert_int_equal(vscsi_read(l, 0, 1, fx.buf), -VQ_ENODEV);
	fx.fp->reject_features = 0;
	assert_int_equal(vscsi_read(l, 0, 1, fx.buf), -VQ_ENODEV);
}

static void test_scan_timeout(void **state)
{
	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fake_scsi_add(fx.fs, 0, 0, 0, 512, 64);
	fx.fs->never_complete = true;
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vscsi_open(&fx.d, &fx.c), 0);
	vscsi_set_timeout(fx.c, 3000);
	assert_int_equal(vscsi_scan(fx.c), -VQ_ETIMEDOUT);
	assert_int_equal(fx.fp->status, 0);
	assert_true(host_log_contains("scan failed"));
	/* Scanned again once the controller answers: re-initialised first. */
	fx.fs->never_complete = false;
	assert_int_equal(vscsi_scan(fx.c), 0);
	assert_int_equal(vscsi_lun_count(fx.c), 1);
	read_check(vscsi_lun_at(fx.c, 0), 0, 64);
}

static void test_open_refused(void **state)
{
	struct vscsi *c = NULL;

	make_ctrl(FAKE_PCI_MODERN, BASE_FEATURES);
	fx.fp->reject_features = F(VIRTIO_F_INDIRECT_DESC);
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vscsi_open(&fx.d, &c), -VQ_ENOTSUP);
	assert_null(c);
	assert_int_equal(fx.fp->status, 0);
}

/* A reset that never completes: bus mastering goes off and everything is
 * freed; when it cannot be turned off, the read fails with -VQ_ESTUCK and
 * the ring, the command headers and the caller's mapping stay. */
static void stuck_read(bool bus_master_fails)
{
	struct vscsi_lun *l = open_one_disk();

	vscsi_set_timeout(fx.c, 1000);
	fx.fs->never_complete = true;
	fx.fp->reset_never = true;
	fx.fp->bus_master_fail = bus_master_fails;
	host_clock_set_auto_advance(1000);
	assert_int_equal(vscsi_read(l, 0, 8, fx.buf),
			 bus_master_fails ? -VQ_ESTUCK : -VQ_ETIMEDOUT);
	assert_true(host_log_contains("reset not done"));
	assert_int_equal(fx.fp->bus_master, bus_master_fails);
	vscsi_close(fx.c);
	fx.c = NULL;
	assert_int_equal(fake_pci_live_dma(fx.fp), bus_master_fails ? 3 : 0);
	assert_int_equal(fx.fp->maps, fx.fp->unmaps + (bus_master_fails ? 1 : 0));
	fake_scsi_detach(fx.fs);
	/* Ring, headers, the caller's mapping (and that mapping, not undone). */
	assert_int_equal(fake_pci_free(fx.fp), bus_master_fails ? 3 + 1 : 0);
	fx.fs = NULL;
	fx.fp = NULL;
}

static void test_stuck_device_bus_master_off(void **state)
{
	stuck_read(false);
}

static void test_stuck_device_leaks_buffers(void **state)
{
	stuck_read(true);
}

static void test_beyond_capacity(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	unsigned before = fx.fs->commands;

	assert_int_equal(vscsi_read(l, DISK_BLOCKS - 1, 2, fx.buf), -VQ_ERANGE);
	assert_true(host_log_contains("block 8191 + 2 beyond 8192 blocks"));
	assert_int_equal(vscsi_read(l, DISK_BLOCKS, 1, fx.buf), -VQ_ERANGE);
	assert_int_equal(vscsi_read(l, UINT64_MAX, 1, fx.buf), -VQ_ERANGE);
	assert_int_equal(vscsi_read(l, 0, UINT64_MAX, fx.buf), -VQ_ERANGE);
	assert_int_equal(fx.fs->commands, before);
	assert_int_equal(fx.fs->beyond_capacity, 0);
}

/* ---- DMA paths ------------------------------------------------------------ */

static void test_force_bounce(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	struct vscsi_stats st;

	vscsi_set_force_bounce(fx.c, true);
	read_check(l, 1, DISK_BLOCKS - 1);
	vscsi_get_stats(fx.c, &st);
	assert_int_equal(st.bounced_bytes, (DISK_BLOCKS - 1) * 512);
	assert_int_equal(fx.fp->maps, 0);
}

static void test_non_identity_and_partial_mappings_bounce(void **state)
{
	struct vscsi_lun *l = open_one_disk();
	struct vscsi_stats st;

	fx.fp->map_mode = FAKE_MAP_OFFSET;
	read_check(l, 0, 2048);
	fx.fp->map_mode = FAKE_MAP_PARTIAL;
	fx.fp->map_partial = 4096;
	read_check(l, 3, 128);
	fx.fp->map_mode = FAKE_MAP_FAIL;
	read_check(l, 5, 16);
	vscsi_get_stats(fx.c, &st);
	assert_int_equal(st.bounced_bytes, (2048 + 128 + 16) * 512);
	/* Bounce buffers as many as were in flight, not one per slot. */
	assert_true(fake_pci_live_dma(fx.fp) < 2 + 64);
}

/* ---- the words ------------------------------------------------------------- */

static void test_sense_parser(void **state)
{
	uint8_t fixed[18] = { 0xF0, 0, 0x03, 0x00, 0x01, 0xE2, 0x40, 10,
			      0, 0, 0, 0, 0x11, 0x00 };
	uint8_t desc[20] = { 0x72, 0x06, 0x29, 0x00, 0, 0, 0, 12,
			     0x00, 0x0A, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 5 };
	struct vscsi_sense s;

	vscsi_parse_sense(fixed, sizeof(fixed), &s);
	assert_true(s.valid && s.info_valid);
	assert_int_equal(s.key, SCSI_SENSE_MEDIUM_ERROR);
	assert_int_equal(s.info, 123456);
	assert_int_equal(s.asc, 0x11);
	/* Cut short: the key, no ASC, no information field. */
	vscsi_parse_sense(fixed, 5, &s);
	assert_true(s.valid);
	assert_false(s.info_valid);
	assert_int_equal(s.asc, 0);
	vscsi_parse_sense(desc, sizeof(desc), &s);
	assert_true(s.valid && s.info_valid);
	assert_int_equal(s.key, SCSI_SENSE_UNIT_ATTENTION);
	assert_int_equal(s.info, 0x100000005ull);
	/* A descriptor that claims more than was sent is not read. */
	desc[9] = 0xF0;
	vscsi_parse_sense(desc, sizeof(desc), &s);
	assert_false(s.info_valid);
	desc[7] = 0xFF;
	vscsi_parse_sense(desc, sizeof(desc), &s);
	assert_false(s.info_valid);
	vscsi_parse_sense(desc, 0, &s);
	assert_false(s.valid);
	assert_string_equal(vscsi_sense_key_name(3), "MEDIUM ERROR");
	assert_string_equal(vscsi_asc_name(0x11, 0), "unrecovered read error");
	assert_string_equal(vscsi_asc_name(0x00, 0x06), "I/O process terminated");
	assert_null(vscsi_asc_name(0x99, 0x99));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_one_disk),
		T(test_open_wrong_type),
		T(test_no_disks),
		T(test_bad_target_stops_the_target),
		T(test_luns_of_several_kinds),
		T(test_no_report_luns_uses_lun0),
		T(test_absent_lun0_with_fallback),
		T(test_max_target),
		T(test_unit_attention_first),
		T(test_unit_attention_forever),
		T(test_not_ready_then_ready),
		T(test_capacity_10_fallback),
		T(test_odd_block_size_skipped),
		T(test_read_sizes),
		T(test_read16_past_2tib),
		T(test_4096_blocks_bdev),
		T(test_read_vec),
		T(test_out_of_order_and_delayed),
		T(test_max_sectors_splits),
		T(test_cmd_per_lun),
		T(test_small_queue_without_indirect),
		T(test_legacy_and_transitional),
		T(test_odd_sizes_rewritten),
		T(test_bigger_sizes_kept),
		T(test_medium_error_in_words),
		T(test_short_resid),
		T(test_hostile_resid),
		T(test_hostile_sense_len),
		T(test_short_used_len),
		T(test_response_codes),
		T(test_busy_then_good),
		T(test_timeout_resets_and_recovers),
		T(test_broken_queue_resets),
		T(test_dead_after_failed_restart),
		T(test_scan_timeout),
		T(test_open_refused),
		T(test_stuck_device_bus_master_off),
		T(test_stuck_device_leaks_buffers),
		T(test_beyond_capacity),
		T(test_force_bounce),
		T(test_non_identity_and_partial_mappings_bounce),
		T(test_sense_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
