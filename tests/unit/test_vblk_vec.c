/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk vectored reads (read_blocks_vec through bdev_read_vec) against
 * the fake device: pieces stream through the slots with several in flight,
 * split to the request limits, land in the right places, and a bad piece
 * stops the list before anything reaches the device.
 */
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
#define FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) | \
		  F(VIRTIO_BLK_F_BLK_SIZE))
#define DISK_SECTORS 4096

static struct fake_pci *fp;
static struct fake_blk *fb;
static struct vdev dev;
static struct vblk *blk;
static uint8_t *buf;

static int setup(void **state)
{
	(void)state;
	host_clock_set_auto_advance(1);
	host_log_clear();
	buf = malloc(DISK_SECTORS * 512);
	return buf ? 0 : -1;
}

static int teardown(void **state)
{
	unsigned bad;

	(void)state;
	if (blk)
		vblk_close(blk);
	blk = NULL;
	fake_blk_detach(fb);
	/* The fake's promise: nothing alive, nothing mapped, no violation. */
	bad = fake_pci_free(fp);
	fp = NULL;
	fb = NULL;
	free(buf);
	if (bad)
		fail_msg("fake device freed with %u leaks and violations "
			 "(stderr names them)", bad);
	host_clock_set_auto_advance(0);
	return 0;
}

static void open_dev(uint32_t seg_max, uint32_t size_max, uint32_t blk_size)
{
	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK,
			  FEATURES | (size_max ? F(VIRTIO_BLK_F_SIZE_MAX) : 0));
	fb = fake_blk_attach(fp, DISK_SECTORS);
	fake_blk_config(fb, seg_max, size_max, blk_size);
	assert_int_equal(vpci_probe(&fp->bus, &dev), 0);
	assert_int_equal(vblk_open(&dev, &blk), 0);
}

static void assert_disk(const uint8_t *p, uint64_t off, size_t len)
{
	if (memcmp(p, fb->disk + off, len))
		fail_msg("read at byte %llu (%zu bytes) differs from the disk",
			 (unsigned long long)off, len);
}

static void test_vec_many_small_pieces(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[40];
	struct vblk_stats st;

	(void)state;
	open_dev(254, 0, 512);
	bd = vblk_bdev(blk);
	fb->reverse = true;
	/* 4 KiB pieces scattered backwards over the disk. */
	for (unsigned i = 0; i < 40; i++)
		iov[i] = (struct bdev_iov){ .lba = (39 - i) * 97, .count = 8,
					    .buf = buf + i * 4096 };
	memset(buf, 0xEE, 40 * 4096);
	assert_int_equal(bdev_read_vec(bd, iov, 40), 0);
	for (unsigned i = 0; i < 40; i++)
		assert_disk(buf + i * 4096, (uint64_t)(39 - i) * 97 * 512, 4096);
	vblk_get_stats(blk, &st);
	assert_int_equal(st.requests, 40);
	assert_true(st.max_inflight >= 4);
	assert_true(fb->max_held >= 2);
}

static void test_vec_pieces_split_to_limits(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[3];

	(void)state;
	open_dev(2, 4096, 512);
	bd = vblk_bdev(blk);
	iov[0] = (struct bdev_iov){ .lba = 5, .count = 100, .buf = buf };
	iov[1] = (struct bdev_iov){ .lba = 0, .count = 0, .buf = buf };
	iov[2] = (struct bdev_iov){ .lba = 1000, .count = 33, .buf = buf + 51200 };
	assert_int_equal(bdev_read_vec(bd, iov, 3), 0);
	assert_disk(buf, 5 * 512, 51200);
	assert_disk(buf + 51200, 1000 * 512, 33 * 512);
	assert_true(fb->max_segs <= 2);
	assert_true(fb->max_seg_len <= 4096);
}

static void test_vec_4096_blocks(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[2];

	(void)state;
	open_dev(254, 0, 4096);
	bd = vblk_bdev(blk);
	iov[0] = (struct bdev_iov){ .lba = 7, .count = 2, .buf = buf };
	iov[1] = (struct bdev_iov){ .lba = 1, .count = 1, .buf = buf + 8192 };
	assert_int_equal(bdev_read_vec(bd, iov, 2), 0);
	assert_disk(buf, 7 * 4096, 8192);
	assert_disk(buf + 8192, 4096, 4096);
}

static void test_vec_bad_piece_sends_nothing(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[2];

	(void)state;
	open_dev(254, 0, 512);
	bd = vblk_bdev(blk);
	iov[0] = (struct bdev_iov){ .lba = 0, .count = 8, .buf = buf };
	iov[1] = (struct bdev_iov){ .lba = DISK_SECTORS - 1, .count = 2, .buf = buf };
	/* Through the driver's op directly: bdev_read_vec would refuse first. */
	assert_int_equal(bd->ops->read_blocks_vec(bd, iov, 2), -VQ_ERANGE);
	assert_int_equal(fb->requests, 0);
	iov[1].lba = UINT64_MAX / 2;
	assert_int_equal(bd->ops->read_blocks_vec(bd, iov, 2), -VQ_ERANGE);
	assert_int_equal(fb->requests, 0);
}

static void test_vec_ioerr_names_piece(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[3];

	(void)state;
	open_dev(254, 0, 512);
	bd = vblk_bdev(blk);
	fb->ioerr_sector = 300;
	for (unsigned i = 0; i < 3; i++)
		iov[i] = (struct bdev_iov){ .lba = 100 + i * 200, .count = 8,
					    .buf = buf + i * 4096 };
	assert_int_equal(bdev_read_vec(bd, iov, 3), -VQ_EIO);
	assert_true(host_log_contains("sector 300"));
	/* The driver is still usable. */
	fb->ioerr_sector = ~0ULL;
	assert_int_equal(bdev_read_vec(bd, iov, 3), 0);
	assert_disk(buf + 4096, 300 * 512, 4096);
}

static void test_vec_bounced(void **state)
{
	struct blockdev *bd;
	struct bdev_iov iov[12];
	struct vblk_stats st;

	(void)state;
	open_dev(254, 0, 512);
	/* Ring and headers only: bounce buffers wait for a request that needs
	 * them. */
	assert_int_equal(fake_pci_live_dma(fp), 2);
	vblk_set_force_bounce(blk, true);
	bd = vblk_bdev(blk);
	for (unsigned i = 0; i < 12; i++)
		iov[i] = (struct bdev_iov){ .lba = i * 300, .count = 256,
					    .buf = buf + i * 131072 };
	assert_int_equal(bdev_read_vec(bd, iov, 12), 0);
	for (unsigned i = 0; i < 12; i++)
		assert_disk(buf + i * 131072, (uint64_t)i * 300 * 512, 131072);
	vblk_get_stats(blk, &st);
	assert_int_equal(st.bounced_bytes, 12 * 131072);
	assert_int_equal(fake_pci_live_dma(fp), 3);
}

/* A lone read is spread over several requests of at least 1 MiB so that
 * the device can work on them at once. */
static void test_lone_read_spread(void **state)
{
	struct vblk_stats st;

	(void)state;
	open_dev(254, 0, 512);
	assert_int_equal(vblk_read(blk, 0, buf, DISK_SECTORS * 512), 0);
	assert_disk(buf, 0, DISK_SECTORS * 512);
	vblk_get_stats(blk, &st);
	assert_int_equal(fb->requests, 2);
	assert_int_equal(st.max_inflight, 2);
	/* Below 1 MiB nothing is split. */
	assert_int_equal(vblk_read(blk, 8, buf, 768 * 1024), 0);
	assert_int_equal(fb->requests, 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vec_many_small_pieces),
		T(test_vec_pieces_split_to_limits),
		T(test_vec_4096_blocks),
		T(test_vec_bad_piece_sends_nothing),
		T(test_vec_ioerr_names_piece),
		T(test_vec_bounced),
		T(test_lone_read_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
