/* SPDX-License-Identifier: MIT */
/* virtio-blk driver against the fake virtio-pci device's blk backend. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "virtio/virtio_blk.h"
#include "tests/support/fake_pci.h"
#include "tests/support/host_platform.h"

#define F(b) VIRTIO_BIT(b)
#define BASE_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) | \
		       F(VIRTIO_BLK_F_BLK_SIZE) | F(VIRTIO_BLK_F_FLUSH) |  \
		       F(VIRTIO_BLK_F_TOPOLOGY))
#define DISK_SECTORS 4096 /* 2 MiB */

struct fx {
	struct fake_pci *fp;
	struct fake_blk *fb;
	struct vdev d;
	struct vblk *b;
	uint8_t *buf;
	unsigned kept;     /* DMA areas + mappings left alive on purpose */
	void *stuck_buf;   /* a caller's buffer the device may still write */
};

static struct fx fx;

static int setup(void **state)
{
	memset(&fx, 0, sizeof(fx));
	host_clock_set_auto_advance(1);
	host_log_clear();
	fx.buf = malloc(DISK_SECTORS * 512 + 8192);
	return fx.buf ? 0 : -1;
}

static int teardown(void **state)
{
	unsigned bad;

	if (fx.b)
		vblk_close(fx.b);
	fake_blk_detach(fx.fb);
	/* The fake's promise: nothing alive, nothing mapped, no violation,
	 * but for what a stuck device keeps on purpose. */
	bad = fake_pci_free(fx.fp);
	free(fx.stuck_buf); /* the device is gone now */
	free(fx.buf);
	if (bad != fx.kept)
		fail_msg("fake device freed with %u leaks and violations, %u "
			 "expected (stderr names them)", bad, fx.kept);
	host_clock_set_auto_advance(0);
	return 0;
}

/* A device with SEG_MAX @seg_max, SIZE_MAX @size_max (0: not offered) and
 * BLK_SIZE @blk_size, opened. */
static void make_dev(enum fake_pci_mode mode, uint64_t extra, uint32_t seg_max,
		     uint32_t size_max, uint32_t blk_size)
{
	uint64_t offered = BASE_FEATURES | extra;

	if (size_max)
		offered |= F(VIRTIO_BLK_F_SIZE_MAX);
	if (mode == FAKE_PCI_LEGACY)
		offered &= 0xFFFFFFFFu;
	fx.fp = fake_pci_new(mode, VIRTIO_ID_BLOCK, offered);
	fx.fb = fake_blk_attach(fx.fp, DISK_SECTORS);
	fake_blk_config(fx.fb, seg_max, size_max, blk_size);
}

static void open_made(void)
{
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vblk_open(&fx.d, &fx.b), 0);
}

static void open_dev(enum fake_pci_mode mode, uint64_t extra, uint32_t seg_max,
		     uint32_t size_max, uint32_t blk_size)
{
	make_dev(mode, extra, seg_max, size_max, blk_size);
	open_made();
}

static void open_default(void)
{
	open_dev(FAKE_PCI_MODERN, 0, 254, 0, 512);
}

static void assert_disk_bytes(const uint8_t *p, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != fx.fb->disk[off + i])
			fail_msg("byte %zu of a read at %llu: 0x%02x, disk has 0x%02x",
				 i, (unsigned long long)off, p[i], fx.fb->disk[off + i]);
}

static void read_check(uint64_t sector, size_t len)
{
	memset(fx.buf, 0xEE, len);
	assert_int_equal(vblk_read(fx.b, sector, fx.buf, len), 0);
	assert_disk_bytes(fx.buf, sector * 512, len);
}

/* ---- opening ------------------------------------------------------------- */

static void test_open_info(void **state)
{
	const struct vblk_info *in;

	open_dev(FAKE_PCI_MODERN, F(VIRTIO_BLK_F_MQ) | F(VIRTIO_F_INDIRECT_DESC) |
		 F(VIRTIO_F_EVENT_IDX) | F(VIRTIO_BLK_F_DISCARD), 254, 0, 512);
	in = vblk_get_info(fx.b);
	assert_int_equal(in->capacity, DISK_SECTORS);
	assert_int_equal(in->blk_size, 512);
	assert_int_equal(in->seg_max, 254);
	assert_int_equal(in->size_max, 0);
	assert_false(in->read_only);
	assert_true(in->flush);
	assert_true(in->topology);
	assert_int_equal(in->queue_size, 256);
	assert_int_equal(in->max_request, 4 << 20);
	/* MQ and DISCARD are not ours. */
	assert_int_equal(fx.fp->driver_features,
			 BASE_FEATURES | F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX));
	assert_string_equal(fx.d.name, "vblk 00:03.0");
	assert_int_equal(vblk_bdev(fx.b)->size, DISK_SECTORS * 512);
	assert_int_equal(vblk_bdev(fx.b)->block_size, 512);
	assert_int_equal(fx.fp->status, 0xF);
	assert_int_equal(fx.fb->requests, 0);
}

static void test_open_wrong_type(void **state)
{
	struct vblk *b = NULL;

	fx.fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_GPU, F(VIRTIO_F_VERSION_1));
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vblk_open(&fx.d, &b), -VQ_ENODEV);
	assert_null(b);
}

static void test_open_fails_cleanly(void **state)
{
	struct vblk *b = NULL;

	fx.fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, BASE_FEATURES);
	fx.fb = fake_blk_attach(fx.fp, DISK_SECTORS);
	fx.fp->reject_features = F(VIRTIO_BLK_F_FLUSH);
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vblk_open(&fx.d, &b), -VQ_ENOTSUP);
	assert_null(b);
	/* Reset on failure; nothing left allocated (teardown checks). */
	assert_int_equal(fx.fp->status, 0);
}

/* ---- reads --------------------------------------------------------------- */

static void test_read_sizes(void **state)
{
	static const struct { uint64_t sector; size_t len; } cases[] = {
		{ 0, 512 }, { 1, 1024 }, { 7, 4096 }, { 100, 65536 },
		{ 3, 1 << 20 }, { 0, 3 << 19 }, { 0, DISK_SECTORS * 512 },
		{ DISK_SECTORS - 1, 512 }, { DISK_SECTORS - 2048, 1 << 20 },
	};
	struct vblk_stats st;

	open_default();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		read_check(cases[i].sector, cases[i].len);
	assert_int_equal(vblk_read(fx.b, 5, fx.buf, 0), 0);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(st.bounced_bytes, 0);
	/* A lone read is spread over requests of 1 MiB (up to 4 MiB when it
	 * is bigger): the 1.5 MiB and 2 MiB reads went as two each. */
	assert_int_equal(fx.fb->requests, 11);
	assert_true(st.max_inflight >= 2);
	assert_int_equal(fx.fb->max_segs, 1);
}

static void test_read_split_seg_size_max(void **state)
{
	struct vblk_stats st;

	open_dev(FAKE_PCI_MODERN, 0, 3, 4096, 512);
	assert_int_equal(vblk_get_info(fx.b)->max_request, 3 * 4096);
	read_check(11, 100 * 1024);
	/* The backend fails the test on any segment over the limits. */
	assert_int_equal(fx.fb->max_segs, 3);
	assert_int_equal(fx.fb->max_seg_len, 4096);
	assert_int_equal(fx.fb->requests, 9); /* ceil(100 KiB / 12 KiB) */
	vblk_get_stats(fx.b, &st);
	/* 32 slots: all nine requests at once. */
	assert_int_equal(st.max_inflight, 9);
	assert_int_equal(st.requests, 9);
	assert_int_equal(st.bytes, 100 * 1024);
}

static void test_read_odd_size_max(void **state)
{
	/* A segment limit that is not a multiple of 512. */
	open_dev(FAKE_PCI_MODERN, F(VIRTIO_F_INDIRECT_DESC), 5, 1000, 512);
	assert_int_equal(vblk_get_info(fx.b)->max_request, 4608);
	read_check(0, 64 * 1024);
	read_check(1, 512);
	assert_true(fx.fb->max_seg_len <= 1000);
}

static void test_small_queue_waits_for_room(void **state)
{
	struct vblk_stats st;

	/* 8 descriptors, 512-byte segments: each request takes the whole
	 * ring (header + 6 segments + status), so the driver must wait for
	 * room instead of failing. */
	make_dev(FAKE_PCI_MODERN, 0, 254, 512, 512);
	fx.fp->q[0].max = 8;
	open_made();
	assert_int_equal(vblk_get_info(fx.b)->max_request, 6 * 512);
	read_check(10, 40 * 1024);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(st.max_inflight, 1);
	assert_int_equal(fx.fb->max_segs, 6);
}

static void test_indirect_many_segments(void **state)
{
	struct vblk_stats st;

	/* With indirect descriptors each request takes one ring entry, so
	 * all slots fit a small ring at once; the chain still may not be
	 * longer than the queue (§2.7.5.3.1): 16 - 2 data segments. */
	make_dev(FAKE_PCI_MODERN, F(VIRTIO_F_INDIRECT_DESC) | F(VIRTIO_F_EVENT_IDX),
		 254, 512, 512);
	fx.fp->q[0].max = 16;
	open_made();
	assert_int_equal(vblk_get_info(fx.b)->max_request, 14 * 512);
	fx.fb->reverse = true;
	read_check(1, 256 * 1024);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(fx.fb->max_segs, 14);
	/* One ring entry per request: the 16-entry ring is the limit. */
	assert_int_equal(st.max_inflight, 16);
}

static void test_read_out_of_order(void **state)
{
	open_dev(FAKE_PCI_MODERN, 0, 2, 4096, 512);
	fx.fb->reverse = true;
	read_check(3, 200 * 1024);
	assert_true(fx.fb->max_held >= 2);
}

static void test_read_delayed(void **state)
{
	open_default();
	fx.fb->delay_polls = 3;
	read_check(17, 8192);
}

static void test_read_legacy(void **state)
{
	make_dev(FAKE_PCI_LEGACY, 0, 126, 0, 512);
	fx.fp->q[0].max = 128;
	open_made();
	assert_int_equal(vblk_get_info(fx.b)->queue_size, 128);
	assert_string_equal(fx.d.ops->name, "legacy");
	read_check(0, DISK_SECTORS * 512);
	read_check(99, 4096);
}

static void test_read_transitional_event_idx(void **state)
{
	open_dev(FAKE_PCI_TRANSITIONAL, F(VIRTIO_F_EVENT_IDX), 254, 0, 512);
	assert_string_equal(fx.d.ops->name, "modern");
	read_check(0, 1 << 20);
	read_check(2000, 512);
}

/* ---- errors --------------------------------------------------------------- */

static void test_ioerr(void **state)
{
	unsigned resets;

	open_dev(FAKE_PCI_MODERN, 0, 1, 8192, 512);
	fx.fb->ioerr_sector = 100;
	resets = fx.fp->resets;
	assert_int_equal(vblk_read(fx.b, 64, fx.buf, 64 * 1024), -VQ_EIO);
	assert_true(host_log_contains("I/O error at sector 96"));
	/* Not a protocol failure: no reset, the next read works. */
	assert_int_equal(fx.fp->resets, resets);
	read_check(0, 8192);
}

static void test_unsupp(void **state)
{
	open_default();
	fx.fb->unsupp = true;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_EUNSUPP);
}

static void test_short_used_len(void **state)
{
	open_default();
	fx.fb->short_by = 1;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 4096), -VQ_ESHORT);
	assert_true(host_log_contains("wrote 4096 of 4097 bytes"));
}

static void test_timeout_resets_and_recovers(void **state)
{
	unsigned resets;

	open_default();
	vblk_set_timeout(fx.b, 5000);
	fx.fb->never_complete = true;
	resets = fx.fp->resets;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 1 << 20), -VQ_ETIMEDOUT);
	/* The device was reset before the call returned. */
	assert_int_equal(fx.fp->resets, resets + 1);
	assert_int_equal(fx.fp->status, 0);
	fx.fb->never_complete = false;
	read_check(8, 4096);
	assert_true(host_log_contains("re-initialising"));
	assert_int_equal(fx.fp->status, 0xF);
}

static void test_broken_queue_resets(void **state)
{
	open_default();
	fx.fb->bad_id = true;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 4096), -VQ_EBROKEN);
	assert_int_equal(fx.fp->status, 0);
	fx.fb->bad_id = false;
	read_check(0, 4096);
}

static void test_needs_reset_while_waiting(void **state)
{
	open_default();
	fx.fb->never_complete = true;
	fake_pci_set_needs_reset(fx.fp);
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 4096), -VQ_ENEEDRESET);
	fx.fb->never_complete = false;
	read_check(0, 4096);
}

static void test_dead_after_failed_restart(void **state)
{
	open_default();
	vblk_set_timeout(fx.b, 1000);
	fx.fb->never_complete = true;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_ETIMEDOUT);
	fx.fp->reject_features = F(VIRTIO_F_VERSION_1);
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_ENODEV);
	fx.fp->reject_features = 0;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_ENODEV);
}

/* A device whose reset never completes and that goes on writing the
 * buffers it was given (on every status read while the driver waits for the
 * reset, and whenever fake_blk_scribble says so). */
static uint8_t *stuck_read(int want)
{
	uint8_t *buf = malloc(65536);

	assert_non_null(buf);
	memset(buf, 0xEE, 65536);
	vblk_set_timeout(fx.b, 1000);
	fx.fb->never_complete = true;
	fx.fb->write_after_reset = true;
	fx.fp->reset_never = true;
	host_clock_set_auto_advance(1000);
	assert_int_equal(vblk_read(fx.b, 0, buf, 65536), want);
	assert_true(host_log_contains("reset not done"));
	assert_true(fx.fb->scribbled > 0); /* it did write while we waited */
	return buf;
}

/* Bus mastering goes off before anything is handed back: the caller may
 * free its buffer at once, and the device writes nothing more (ASan would
 * catch a write into the freed buffer). */
static void test_stuck_device_bus_master_off(void **state)
{
	uint8_t *buf;
	unsigned requests;

	open_default();
	buf = stuck_read(-VQ_ETIMEDOUT);
	assert_false(fx.fp->bus_master);
	assert_int_equal(fx.fp->bus_master_offs, 1);
	assert_true(host_log_contains("bus mastering turned off"));
	free(buf);
	assert_int_equal(fake_blk_scribble(fx.fb, 0), 0);
	/* The device is still not reset: it does not come back, and it is
	 * never notified with bus mastering off (the fake would object). */
	requests = fx.fb->requests;
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_ENODEV);
	assert_int_equal(fx.fb->requests, requests);
	vblk_close(fx.b);
	fx.b = NULL;
	assert_int_equal(fake_blk_scribble(fx.fb, 0), 0);
	/* teardown: every DMA area freed, every mapping undone */
}

/* Bus mastering cannot be turned off either: the caller gets -VQ_ESTUCK
 * (its buffer is lost, never "success"), and everything the device may still
 * write stays allocated: the ring, the request headers, the caller's
 * mapping. The device goes on writing and ASan stays quiet. */
static void test_stuck_device_cannot_stop(void **state)
{
	uint8_t *buf;

	open_default();
	fx.fp->bus_master_fail = true;
	buf = stuck_read(-VQ_ESTUCK);
	assert_true(fx.fp->bus_master);
	assert_true(host_log_contains("bus mastering cannot be turned off"));
	assert_true(host_log_contains("not to be reused"));
	assert_true(fake_blk_scribble(fx.fb, 0x5A) >= 65536 + 1);
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 512), -VQ_ENODEV);
	vblk_close(fx.b);
	fx.b = NULL;
	assert_true(fake_blk_scribble(fx.fb, 0xA5) >= 65536 + 1);
	assert_int_equal(fake_pci_live_dma(fx.fp), 3); /* ring, headers, mapping */
	assert_int_equal(fx.fp->maps, fx.fp->unmaps + 1);
	/* teardown: those 3 areas and the 1 mapping, no violation */
	fx.kept = 3 + 1;
	fx.stuck_buf = buf;
}

static void test_beyond_capacity(void **state)
{
	open_default();
	assert_int_equal(vblk_read(fx.b, DISK_SECTORS - 1, fx.buf, 1024), -VQ_ERANGE);
	assert_true(host_log_contains("sector 4095 + 1024 bytes beyond capacity 4096"));
	assert_int_equal(vblk_read(fx.b, DISK_SECTORS, fx.buf, 512), -VQ_ERANGE);
	assert_int_equal(vblk_read(fx.b, UINT64_MAX, fx.buf, 512), -VQ_ERANGE);
	assert_int_equal(vblk_read(fx.b, UINT64_MAX / 512 + 1, fx.buf, 512), -VQ_ERANGE);
	assert_int_equal(vblk_read(fx.b, 0, fx.buf, 100), -VQ_EINVAL);
	assert_int_equal(fx.fb->requests, 0);
	assert_int_equal(fx.fb->beyond_capacity, 0);
}

/* ---- writes, flush, id ---------------------------------------------------- */

static void test_write_flush(void **state)
{
	uint8_t *back;

	open_default();
	for (int i = 0; i < 8192; i++)
		fx.buf[i] = (uint8_t)(i * 3 + 1);
	assert_int_equal(vblk_write(fx.b, 40, fx.buf, 8192), 0);
	assert_memory_equal(fx.fb->disk + 40 * 512, fx.buf, 8192);
	back = fx.buf + 8192;
	assert_int_equal(vblk_read(fx.b, 40, back, 8192), 0);
	assert_memory_equal(back, fx.buf, 8192);
	assert_int_equal(vblk_flush(fx.b), 0);
	assert_int_equal(fx.fb->flushes, 1);
}

static void test_read_only(void **state)
{
	open_dev(FAKE_PCI_MODERN, F(VIRTIO_BLK_F_RO), 254, 0, 512);
	assert_true(vblk_get_info(fx.b)->read_only);
	assert_false(vblk_get_info(fx.b)->flush);
	assert_int_equal(vblk_write(fx.b, 0, fx.buf, 512), -VQ_EROFS);
	assert_int_equal(vblk_flush(fx.b), -VQ_ENOTSUP);
	assert_int_equal(fx.fb->requests, 0);
	read_check(0, 512);
}

static void test_no_flush(void **state)
{
	fx.fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F(VIRTIO_F_VERSION_1));
	fx.fb = fake_blk_attach(fx.fp, DISK_SECTORS);
	assert_int_equal(vpci_probe(&fx.fp->bus, &fx.d), 0);
	assert_int_equal(vblk_open(&fx.d, &fx.b), 0);
	assert_int_equal(vblk_flush(fx.b), -VQ_ENOTSUP);
	/* Without SEG_MAX: one data segment per request. */
	read_check(0, 1 << 20);
	assert_int_equal(fx.fb->max_segs, 1);
}

static void test_get_id(void **state)
{
	char id[21];

	open_default();
	memset(id, 'x', sizeof(id));
	assert_int_equal(vblk_get_id(fx.b, id), 0);
	assert_string_equal(id, "VQFAKE-SERIAL-123456");
	memcpy(fx.fb->id, "short\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(vblk_get_id(fx.b, id), 0);
	assert_string_equal(id, "short");
	assert_int_equal(fx.fb->get_ids, 2);
}

/* ---- DMA paths ------------------------------------------------------------ */

static void test_force_bounce(void **state)
{
	struct vblk_stats st;

	open_default();
	vblk_set_force_bounce(fx.b, true);
	read_check(1, DISK_SECTORS * 512 - 512);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(st.bounced_bytes, DISK_SECTORS * 512 - 512);
	assert_int_equal(fx.fp->maps, 0);
	/* Writes bounce too. */
	memset(fx.buf, 0x5C, 4096);
	assert_int_equal(vblk_write(fx.b, 8, fx.buf, 4096), 0);
	assert_int_equal(fx.fb->disk[8 * 512 + 4095], 0x5C);
}

static void test_non_identity_mapping_bounces(void **state)
{
	struct vblk_stats st;

	open_default();
	fx.fp->map_mode = FAKE_MAP_OFFSET;
	read_check(0, 1 << 20);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(st.bounced_bytes, 1 << 20);
	assert_true(fx.fp->maps > 0);
}

static void test_partial_mapping_bounces(void **state)
{
	struct vblk_stats st;

	open_default();
	fx.fp->map_mode = FAKE_MAP_PARTIAL;
	fx.fp->map_partial = 4096;
	read_check(3, 64 * 1024);
	fx.fp->map_mode = FAKE_MAP_FAIL;
	read_check(5, 8192);
	vblk_get_stats(fx.b, &st);
	assert_int_equal(st.bounced_bytes, 64 * 1024 + 8192);
}

/* ---- 4096-byte blocks and the blockdev ------------------------------------ */

static void test_block_size_4096(void **state)
{
	struct blockdev *bd;

	open_dev(FAKE_PCI_MODERN, 0, 254, 0, 4096);
	bd = vblk_bdev(fx.b);
	assert_int_equal(bd->block_size, 4096);
	assert_int_equal(bd->size, DISK_SECTORS * 512);
	memset(fx.buf, 0, 5 * 4096);
	assert_int_equal(bd->ops->read_blocks(bd, 3, 5, fx.buf), 0);
	assert_disk_bytes(fx.buf, 3 * 4096, 5 * 4096);
	/* Sector numbers stay 512-byte units on the wire. */
	assert_int_equal(vblk_read(fx.b, 1, fx.buf, 4096), -VQ_EINVAL);
	assert_int_equal(vblk_read(fx.b, 8, fx.buf, 512), -VQ_EINVAL);
	read_check(16, 8192);
	assert_int_equal(bd->ops->read_blocks(bd, DISK_SECTORS / 8 - 1, 2, fx.buf),
			 -VQ_ERANGE);
}

static void test_bdev_read(void **state)
{
	struct blockdev *bd;
	uint8_t small[700];

	open_default();
	bd = vblk_bdev(fx.b);
	assert_int_equal(bdev_read(bd, 1000, small, sizeof(small)), 0);
	assert_disk_bytes(small, 1000, sizeof(small));
	assert_int_equal(bdev_read(bd, 12345, fx.buf, 300000), 0);
	assert_disk_bytes(fx.buf, 12345, 300000);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_info),
		T(test_open_wrong_type),
		T(test_open_fails_cleanly),
		T(test_read_sizes),
		T(test_read_split_seg_size_max),
		T(test_read_odd_size_max),
		T(test_small_queue_waits_for_room),
		T(test_indirect_many_segments),
		T(test_read_out_of_order),
		T(test_read_delayed),
		T(test_read_legacy),
		T(test_read_transitional_event_idx),
		T(test_ioerr),
		T(test_unsupp),
		T(test_short_used_len),
		T(test_timeout_resets_and_recovers),
		T(test_broken_queue_resets),
		T(test_needs_reset_while_waiting),
		T(test_dead_after_failed_restart),
		T(test_stuck_device_bus_master_off),
		T(test_stuck_device_cannot_stop),
		T(test_beyond_capacity),
		T(test_write_flush),
		T(test_read_only),
		T(test_no_flush),
		T(test_get_id),
		T(test_force_bounce),
		T(test_non_identity_mapping_bounces),
		T(test_partial_mapping_bounces),
		T(test_block_size_4096),
		T(test_bdev_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
