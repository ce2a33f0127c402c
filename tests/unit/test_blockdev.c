/* SPDX-License-Identifier: MIT */
/*
 * bdev_read_vec: pieces through partition views reach the device rebased,
 * in one list when the device has a vectored op and one by one otherwise;
 * pieces past the end are refused before any read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/blockdev.h"
#include "lib/err.h"
#include "tests/support/file_bdev.h"

#define DISK_BYTES (64 * 4096)

static uint8_t disk[DISK_BYTES];

static void fill_disk(void)
{
	for (size_t i = 0; i < sizeof(disk); i++)
		disk[i] = (uint8_t)(i * 7 + (i >> 9));
}

/* A device with a vectored op that records what it got. */
struct vec_dev {
	struct blockdev bd;
	unsigned calls, pieces;
	struct bdev_iov last[8];
};

static int vec_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count,
			   void *buf)
{
	memcpy(buf, disk + lba * bd->block_size, count * bd->block_size);
	return 0;
}

static int vec_read_vec(struct blockdev *bd, const struct bdev_iov *iov,
			unsigned n)
{
	struct vec_dev *v = (struct vec_dev *)bd;

	v->calls++;
	v->pieces += n;
	for (unsigned i = 0; i < n; i++) {
		if (i < 8)
			v->last[i] = iov[i];
		vec_read_blocks(bd, iov[i].lba, iov[i].count, iov[i].buf);
	}
	return 0;
}

static const struct blockdev_ops vec_ops = {
	.read_blocks = vec_read_blocks,
	.read_blocks_vec = vec_read_vec,
};

static void vec_dev_init(struct vec_dev *v, uint32_t bs)
{
	memset(v, 0, sizeof(*v));
	v->bd = (struct blockdev){ .ops = &vec_ops, .ctx = v, .block_size = bs,
				   .size = DISK_BYTES, .name = "vecdev" };
}

static void test_vec_through_partition(void **state)
{
	struct vec_dev v;
	struct blockdev part;
	uint8_t a[1024], b[2048];
	struct bdev_iov iov[2] = { { 3, 2, a }, { 10, 4, b } };

	(void)state;
	fill_disk();
	vec_dev_init(&v, 512);
	assert_int_equal(bdev_sub(&v.bd, 8 * 512, 32 * 512, "p1", &part), 0);
	assert_int_equal(bdev_read_vec(&part, iov, 2), 0);
	assert_int_equal(v.calls, 1);
	assert_int_equal(v.pieces, 2);
	assert_int_equal(v.last[0].lba, 11);
	assert_int_equal(v.last[1].lba, 18);
	assert_memory_equal(a, disk + 11 * 512, sizeof(a));
	assert_memory_equal(b, disk + 18 * 512, sizeof(b));
}

static void test_vec_fallback_one_by_one(void **state)
{
	struct blockdev mem, part;
	struct bdev_counts c;
	uint8_t a[4096], b[8192];
	struct bdev_iov iov[2] = { { 1, 1, a }, { 5, 2, b } };

	(void)state;
	fill_disk();
	mem_bdev_init(disk, sizeof(disk), 4096, &mem);
	assert_int_equal(bdev_sub(&mem, 4096 * 4, 4096 * 16, "p2", &part), 0);
	assert_int_equal(bdev_read_vec(&part, iov, 2), 0);
	bdev_counts_get(&mem, &c);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.blocks, 3);
	assert_memory_equal(a, disk + 5 * 4096, sizeof(a));
	assert_memory_equal(b, disk + 9 * 4096, sizeof(b));
	file_bdev_close(&mem);
}

static void test_vec_range_refused(void **state)
{
	struct vec_dev v;
	struct blockdev part;
	uint8_t a[512];
	struct bdev_iov ok = { 0, 1, a };
	struct bdev_iov iov[3] = { ok, ok, { 31, 2, a } };
	struct bdev_iov wrap[1] = { { UINT64_MAX, 2, a } };

	(void)state;
	vec_dev_init(&v, 512);
	assert_int_equal(bdev_sub(&v.bd, 512, 32 * 512, "p1", &part), 0);
	assert_int_equal(bdev_read_vec(&part, iov, 3), -VQ_ERANGE);
	assert_int_equal(bdev_read_vec(&part, wrap, 1), -VQ_ERANGE);
	assert_int_equal(v.calls, 0);
	/* The last block itself is fine; nothing at all is fine too. */
	iov[2].count = 1;
	assert_int_equal(bdev_read_vec(&part, iov, 3), 0);
	assert_int_equal(bdev_read_vec(&part, iov, 0), 0);
}

static void test_batch_unaligned_ranges(void **state)
{
	struct vec_dev v;
	struct bdev_batch batch;
	uint8_t out[9000];
	static const struct { uint64_t off; size_t len; } r[] = {
		{ 1024, 2048 },     /* whole blocks */
		{ 5000, 700 },      /* head, one block, tail */
		{ 10240 + 100, 3000 }, /* head, blocks, tail */
		{ 20480, 1000 },    /* block and tail */
	};
	size_t at = 0;

	(void)state;
	fill_disk();
	vec_dev_init(&v, 512);
	bdev_batch_init(&batch, &v.bd);
	memset(out, 0, sizeof(out));
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(bdev_batch_add(&batch, r[i].off, out + at, r[i].len), 0);
		at += r[i].len;
	}
	assert_int_equal(bdev_batch_flush(&batch), 0);
	assert_int_equal(v.calls, 1);
	assert_int_equal(v.pieces, 4);
	at = 0;
	for (unsigned i = 0; i < 4; i++) {
		assert_memory_equal(out + at, disk + r[i].off, r[i].len);
		at += r[i].len;
	}
	/* Past the end: refused, nothing queued. */
	assert_int_equal(bdev_batch_add(&batch, DISK_BYTES - 10, out, 20), -VQ_ERANGE);
	assert_int_equal(batch.n, 0);
}

static void test_batch_full_list_flushes(void **state)
{
	struct vec_dev v;
	struct bdev_batch batch;
	static uint8_t out[(BDEV_BATCH_MAX + 3) * 512];

	(void)state;
	fill_disk();
	vec_dev_init(&v, 512);
	bdev_batch_init(&batch, &v.bd);
	/* Every other block: pieces that cannot merge. */
	for (unsigned i = 0; i < BDEV_BATCH_MAX + 3; i++)
		assert_int_equal(bdev_batch_add(&batch, (uint64_t)i * 1024,
						out + i * 512, 512), 0);
	assert_int_equal(bdev_batch_flush(&batch), 0);
	assert_int_equal(v.calls, 2);
	assert_int_equal(v.pieces, BDEV_BATCH_MAX + 3);
	for (unsigned i = 0; i < BDEV_BATCH_MAX + 3; i++)
		assert_memory_equal(out + i * 512, disk + i * 1024, 512);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vec_through_partition),
		cmocka_unit_test(test_vec_fallback_one_by_one),
		cmocka_unit_test(test_vec_range_refused),
		cmocka_unit_test(test_batch_unaligned_ranges),
		cmocka_unit_test(test_batch_full_list_flushes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
