/* SPDX-License-Identifier: MIT */
/*
 * Filesystems hand fragmented reads to the device as one list: on a device
 * with read_blocks_vec, FAT's frag.bin (cluster runs in three holes) and
 * ext4's /frag (200 islands between holes) arrive as pieces of few
 * bdev_read_vec calls, and the bytes are right.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "boot/fs.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"

/* A vec-capable device over an image file, counting what it is given. */
struct vec_img {
	struct blockdev bd;
	struct blockdev file;
	unsigned vec_calls, pieces;
};

static int vi_read(struct blockdev *bd, uint64_t lba, uint64_t count, void *buf)
{
	struct vec_img *v = bd->ctx;

	return v->file.ops->read_blocks(&v->file, lba, count, buf);
}

static int vi_read_vec(struct blockdev *bd, const struct bdev_iov *iov, unsigned n)
{
	struct vec_img *v = bd->ctx;

	v->vec_calls++;
	v->pieces += n;
	for (unsigned i = 0; i < n; i++) {
		int r = vi_read(bd, iov[i].lba, iov[i].count, iov[i].buf);

		if (r)
			return r;
	}
	return 0;
}

static const struct blockdev_ops vi_ops = {
	.read_blocks = vi_read,
	.read_blocks_vec = vi_read_vec,
};

static void vi_open(struct vec_img *v, const char *image)
{
	memset(v, 0, sizeof(*v));
	/* A missing image is a failure, not a skip. */
	assert_int_equal(file_bdev_open(test_image(image), 512, &v->file), 0);
	v->bd = v->file;
	v->bd.ops = &vi_ops;
	v->bd.ctx = v;
}

static void test_fat_fragmented_one_list(void **state)
{
	static const char *const images[] = { "pf_fat12.img", "pf_fat16.img", "pf_fat32.img" };
	char host[4096];
	size_t size;
	uint8_t *want, *got;

	(void)state;
	snprintf(host, sizeof(host), "%s/frag.bin", test_image("pf_tree"));
	want = test_slurp(host, &size);
	got = malloc(size);
	assert_non_null(got);
	for (unsigned i = 0; i < 3; i++) {
		struct vec_img v;
		struct fs *fs;
		struct fs_file *f;

		vi_open(&v, images[i]);
		assert_int_equal(fs_mount(&v.bd, &fs), 0);
		assert_int_equal(fs->ops->open(fs, "/frag.bin", &f), 0);
		v.vec_calls = v.pieces = 0;
		memset(got, 0, size);
		assert_int_equal(fs->ops->read(f, 0, got, size), 0);
		assert_memory_equal(got, want, size);
		assert_int_equal(v.vec_calls, 1);
		assert_true(v.pieces >= 3);
		fs->ops->close(f);
		fs_unmount(fs);
		file_bdev_close(&v.file);
	}
	free(got);
	free(want);
}

static void test_ext4_islands_few_lists(void **state)
{
	const size_t size = 199 * 16384 + 11;
	uint8_t *got = malloc(size);
	struct vec_img v;
	struct fs *fs;
	struct fs_file *f;

	(void)state;
	assert_non_null(got);
	vi_open(&v, "ext4.img");
	assert_int_equal(fs_mount(&v.bd, &fs), 0);
	assert_int_equal(fs->ops->open(fs, "/frag", &f), 0);
	assert_int_equal(fs->ops->size(f), size);
	v.vec_calls = v.pieces = 0;
	memset(got, 0xEE, size);
	assert_int_equal(fs->ops->read(f, 0, got, size), 0);
	for (unsigned i = 0; i < 200; i++) {
		char island[16];

		snprintf(island, sizeof(island), "island %03u\n", i);
		assert_memory_equal(got + (size_t)i * 16384, island, 11);
		if (i < 199)
			assert_int_equal(got[(size_t)i * 16384 + 100], 0);
	}

	/* 199 whole-block islands (the last one is short), 64 per list. */
	assert_int_equal(v.pieces, 199);
	assert_true(v.vec_calls >= 4 && v.vec_calls <= 8);
	fs->ops->close(f);
	fs_unmount(fs);
	file_bdev_close(&v.file);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fat_fragmented_one_list),
		cmocka_unit_test(test_ext4_islands_few_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
