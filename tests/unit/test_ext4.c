/* SPDX-License-Identifier: MIT */
/*
 * boot/ext4.c over the images tests/unit/images/mk_ext4.sh builds: the same
 * tree on ext2, ext3 and ext4 with 1, 4 and 64 KiB blocks, block maps and
 * extents, meta_bg, revision 0; then damaged copies that must fail with the
 * right error and never crash.
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

#define FS_OPS ext4_fs_ops
#include "tests/support/fs_check.h"

#define BIG_PATH "/boot/vmlinuz-6.1.0-13-amd64"
#define BIG_SIZE (5u * 1024 * 1024 + 1234)
#define FRAG_ISLANDS 200
#define FRAG_STEP 16384
#define SPARSE_SIZE (80ull * 1024 * 1024)
#define MANY_FILES 300

static void check_big(struct fs *fs)
{
	uint8_t *buf;
	uint64_t size;

	assert_int_equal(slurp(fs, BIG_PATH, &buf, &size), 0);
	assert_int_equal(size, BIG_SIZE);
	assert_big(buf, 0, size);
	free(buf);
}

/* Reads that start and end inside blocks, across block boundaries. */
static void check_big_pieces(struct fs *fs)
{
	static const struct { uint64_t off; size_t len; } cases[] = {
		{ 0, 1 }, { 1023, 2 }, { 4095, 3 }, { 1000, 100000 },
		{ 65535, 65538 }, { BIG_SIZE - 7, 7 }, { BIG_SIZE, 0 },
		{ 3 * 1024 * 1024 + 17, 1024 * 1024 },
	};
	struct fs_file *f;
	uint8_t *buf = malloc(2 * 1024 * 1024);

	assert_non_null(buf);
	assert_int_equal(ext4_fs_ops.open(fs, "/vmlinuz", &f), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ext4_fs_ops.read(f, cases[i].off, buf,
						  cases[i].len), 0);
		assert_big(buf, cases[i].off, cases[i].len);
	}
	assert_int_equal(ext4_fs_ops.read(f, BIG_SIZE - 1, buf, 2), -VQ_ERANGE);
	assert_int_equal(ext4_fs_ops.read(f, BIG_SIZE + 1, buf, 0), -VQ_ERANGE);
	assert_int_equal(ext4_fs_ops.read(f, UINT64_MAX, buf, 1), -VQ_ERANGE);
	ext4_fs_ops.close(f);
	free(buf);
}

static void check_frag(struct fs *fs)
{
	uint8_t *buf;
	uint64_t size;
	char want[16];

	assert_int_equal(slurp(fs, "/frag", &buf, &size), 0);
	assert_int_equal(size, (FRAG_ISLANDS - 1) * FRAG_STEP + 11);
	for (unsigned i = 0; i < FRAG_ISLANDS; i++) {
		const uint8_t *p = buf + (size_t)i * FRAG_STEP;
		size_t n = (size_t)snprintf(want, sizeof(want), "island %03u\n", i);

		assert_memory_equal(p, want, n);
		for (size_t j = n; j < FRAG_STEP && i + 1 < FRAG_ISLANDS; j++)
			if (p[j] != 0)
				fail_msg("frag byte %zu not zero",
					 (size_t)i * FRAG_STEP + j);
	}
	free(buf);
}

static void check_sparse(struct fs *fs)
{
	struct fs_file *f;
	uint8_t buf[256 * 1024];
	static const uint8_t zeros[sizeof(buf)];

	assert_int_equal(ext4_fs_ops.open(fs, "/sparse", &f), 0);
	assert_int_equal(ext4_fs_ops.size(f), SPARSE_SIZE);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(ext4_fs_ops.read(f, 1024 * 1024, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, zeros, sizeof(buf));
	/* A read ending in the data after a long hole. */
	assert_int_equal(ext4_fs_ops.read(f, 32 * 1024 * 1024 - 100, buf, 107),
			 0);
	assert_memory_equal(buf, zeros, 100);
	assert_memory_equal(buf + 100, "middle\n", 7);
	assert_int_equal(ext4_fs_ops.read(f, SPARSE_SIZE - 4, buf, 4), 0);
	assert_memory_equal(buf, "end\n", 4);
	assert_int_equal(ext4_fs_ops.read(f, SPARSE_SIZE - 4, buf, 5), -VQ_ERANGE);
	ext4_fs_ops.close(f);
}

static void check_symlinks(struct fs *fs)
{
	uint8_t *buf;
	uint64_t size;

	assert_int_equal(slurp(fs, "/vmlinuz", &buf, &size), 0);
	assert_int_equal(size, BIG_SIZE);
	free(buf);
	assert_file(fs, "/initrd.img", "initrd image\n");
	assert_file(fs, "/abs_link", "hello, ext4\n");
	assert_file(fs, "/chain1", "hello, ext4\n");
	assert_file(fs, "/long_link", "hello, ext4\n");
	assert_file(fs, "/dirlink/initrd.img-6.1.0-13-amd64", "initrd image\n");
	assert_int_equal(open_error(fs, "/loop1"), -VQ_ELOOP);
	assert_int_equal(open_error(fs, "/loop1/x"), -VQ_ELOOP);
	assert_int_equal(open_error(fs, "/dangling"), -VQ_ENOENT);
}

static void check_paths(struct fs *fs)
{
	assert_file(fs, "/hello.txt", "hello, ext4\n");
	assert_file(fs, "hello.txt", "hello, ext4\n");
	assert_file(fs, "/mid.txt", "0123456789012345678901234567890123456789"
				    "0123456789012345678901234567890123456789"
				    "01234567890123456789");
	assert_file(fs, "/empty", "");
	assert_file(fs, "/a/b/c/d/deep.txt", "deep\n");
	assert_file(fs, "//a/./b/../b/c//d/deep.txt", "deep\n");
	assert_file(fs, "/../../hello.txt", "hello, ext4\n");
	assert_file(fs, "/many/file_123", "file 123\n");
	assert_int_equal(open_error(fs, "/nope"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/Hello.txt"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/a/b/nope/deep.txt"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/hello.txt/x"), -VQ_ENOTDIR);
	assert_int_equal(open_error(fs, "/boot"), -VQ_EINVAL);
	assert_int_equal(open_error(fs, "/"), -VQ_EINVAL);
}

struct listing {
	unsigned count;
	unsigned dirs;
	bool saw_hello, saw_dot;
	uint8_t seen[MANY_FILES];
};

static int collect(void *ctx, const struct fs_dirent *ent)
{
	struct listing *l = ctx;
	unsigned n;
	char want[32];

	l->count++;
	l->dirs += ent->is_dir;
	if (!strcmp(ent->name, ".") || !strcmp(ent->name, ".."))
		l->saw_dot = true;
	if (!strcmp(ent->name, "hello.txt")) {
		l->saw_hello = true;
		assert_false(ent->is_dir);
		assert_int_equal(ent->size, 12);
	}
	if (sscanf(ent->name, "file_%u", &n) == 1 && n < MANY_FILES) {
		l->seen[n]++;
		snprintf(want, sizeof(want), "file %u\n", n);
		assert_int_equal(ent->size, strlen(want));
		assert_false(ent->is_dir);
	}
	return 0;
}

static int stop_after_one(void *ctx, const struct fs_dirent *ent)
{
	(void)ent;
	++*(unsigned *)ctx;
	return 42;
}

static void check_list(struct fs *fs)
{
	struct listing l;
	unsigned calls = 0;

	memset(&l, 0, sizeof(l));
	assert_int_equal(ext4_fs_ops.list(fs, "/", collect, &l), 0);
	assert_true(l.saw_hello);
	assert_false(l.saw_dot);
	/* hello.txt mid.txt empty boot vmlinuz initrd.img abs_link chain1
	 * chain2 loop1 loop2 dirlink long_link dangling a many sub frag
	 * sparse, and lost+found. */
	assert_int_equal(l.count, 20);
	assert_int_equal(l.dirs, 5);

	memset(&l, 0, sizeof(l));
	assert_int_equal(ext4_fs_ops.list(fs, "/many", collect, &l), 0);
	assert_int_equal(l.count, MANY_FILES);
	for (unsigned i = 0; i < MANY_FILES; i++)
		assert_int_equal(l.seen[i], 1);

	memset(&l, 0, sizeof(l));
	assert_int_equal(ext4_fs_ops.list(fs, "/dirlink", collect, &l), 0);
	assert_int_equal(l.count, 2);

	assert_int_equal(ext4_fs_ops.list(fs, "/many", stop_after_one, &calls),
			 42);
	assert_int_equal(calls, 1);
	assert_int_equal(ext4_fs_ops.list(fs, "/hello.txt", collect, &l),
			 -VQ_ENOTDIR);
	assert_int_equal(ext4_fs_ops.list(fs, "/nope", collect, &l),
			 -VQ_ENOENT);
}

/* The whole tree, on the image named by the test's initial state. */
static void test_tree(void **state)
{
	struct mounted *m = mount_image(*state);

	assert_int_equal(m->fs->type, FS_EXT);
	assert_ptr_equal(m->fs->ops, &ext4_fs_ops);
	assert_string_equal(m->fs->label, "vqroot");
	check_paths(m->fs);
	check_symlinks(m->fs);
	check_big(m->fs);
	check_big_pieces(m->fs);
	check_frag(m->fs);
	check_sparse(m->fs);
	check_list(m->fs);
	unmount_image(m);
}

/* Reading the 5 MiB file takes few device requests: contiguous extents or
 * pointer runs are coalesced and read straight into the caller's buffer. */
static uint64_t big_read_calls(const char *image)
{
	struct mounted *m = mount_image(image);
	struct bdev_counts before, after;
	struct fs_file *f;
	uint8_t *buf = malloc(BIG_SIZE);

	assert_non_null(buf);
	assert_int_equal(ext4_fs_ops.open(m->fs, BIG_PATH, &f), 0);
	bdev_counts_get(&m->bd, &before);
	assert_int_equal(ext4_fs_ops.read(f, 0, buf, BIG_SIZE), 0);
	bdev_counts_get(&m->bd, &after);
	assert_big(buf, 0, BIG_SIZE);
	ext4_fs_ops.close(f);
	free(buf);
	unmount_image(m);
	return after.calls - before.calls;
}

static void test_large_requests(void **state)
{
	(void)state;
	/* One or two extents; plus the partial last block. */
	assert_in_range(big_read_calls("ext4.img"), 1, 4);
	/* 1 KiB block map: a run per indirect block (256 pointers), the
	 * indirect blocks themselves in between: about 2 * 5133 / 256. */
	assert_in_range(big_read_calls("ext2.img"), 1, 60);
}

static void test_bad_extent(void **state)
{
	struct mounted *m = mount_image("ext4_bad_extent.img");
	struct fs_file *f;
	uint8_t buf[64];

	(void)state;
	host_log_clear();
	assert_int_equal(ext4_fs_ops.open(m->fs, BIG_PATH, &f), 0);
	assert_int_equal(ext4_fs_ops.read(f, 0, buf, sizeof(buf)),
			 -VQ_ECORRUPT);
	assert_true(host_log_contains("extent at block 1048576 beyond "
				      "filesystem (12288 blocks)"));
	ext4_fs_ops.close(f);
	assert_file(m->fs, "/hello.txt", "hello, ext4\n");
	unmount_image(m);
}

static void test_bad_magic(void **state)
{
	struct mounted *m = mount_image("ext4_bad_magic.img");
	uint8_t *buf;
	uint64_t size;

	(void)state;
	host_log_clear();
	assert_int_equal(slurp(m->fs, "/hello.txt", &buf, &size), -VQ_ECORRUPT);
	assert_true(host_log_contains("extent header magic 0xbeef"));
	assert_file(m->fs, "/a/b/c/d/deep.txt", "deep\n");
	unmount_image(m);
}

static void test_bad_depth(void **state)
{
	struct mounted *m = mount_image("ext4_bad_depth.img");
	uint8_t *buf;
	uint64_t size;

	(void)state;
	host_log_clear();
	assert_int_equal(slurp(m->fs, "/hello.txt", &buf, &size), -VQ_ECORRUPT);
	assert_true(host_log_contains("extent depth 9 exceeds 5"));
	unmount_image(m);
}

static void test_unwritten_extent(void **state)
{
	struct mounted *m = mount_image("ext4_unwritten.img");
	static const uint8_t zeros[12];
	uint8_t *buf;
	uint64_t size;

	(void)state;
	assert_int_equal(slurp(m->fs, "/hello.txt", &buf, &size), 0);
	assert_int_equal(size, 12);
	assert_memory_equal(buf, zeros, 12);
	free(buf);
	unmount_image(m);
}

static void test_bad_rec_len(void **state)
{
	struct mounted *m = mount_image("ext4_bad_reclen.img");
	struct listing l;

	(void)state;
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/a/b/c/d/deep.txt"), -VQ_ECORRUPT);
	assert_true(host_log_contains("rec_len 0"));
	memset(&l, 0, sizeof(l));
	assert_int_equal(ext4_fs_ops.list(m->fs, "/a", collect, &l),
			 -VQ_ECORRUPT);
	assert_file(m->fs, "/hello.txt", "hello, ext4\n");
	unmount_image(m);
}

static void test_bad_dirents(void **state)
{
	struct mounted *m;

	(void)state;
	host_log_clear();
	m = mount_image("ext4_bad_namelen.img");
	assert_int_equal(open_error(m->fs, "/a/b/c/d/deep.txt"), -VQ_ECORRUPT);
	assert_true(host_log_contains("rec_len 12, name_len 9"));
	unmount_image(m);

	m = mount_image("ext4_bad_dirent_ino.img");
	assert_int_equal(open_error(m->fs, "/a/b/c/d/deep.txt"), -VQ_ECORRUPT);
	assert_true(host_log_contains("inode 4294967280 out of range"));
	assert_int_equal(open_error(m->fs, "/a/nope"), -VQ_ENOENT);
	unmount_image(m);
}

static void test_bad_maps(void **state)
{
	struct mounted *m;
	uint8_t *buf;
	uint64_t size;

	(void)state;
	host_log_clear();
	m = mount_image("ext4_bad_leaf.img");
	assert_int_equal(slurp(m->fs, "/frag", &buf, &size), -VQ_ECORRUPT);
	assert_true(host_log_contains("extent node has 65535 entries"));
	check_big(m->fs);
	unmount_image(m);

	m = mount_image("ext2_bad_indirect.img");
	assert_int_equal(slurp(m->fs, BIG_PATH, &buf, &size), -VQ_ECORRUPT);
	assert_true(host_log_contains("indirect block at block 16777215 "
				      "beyond filesystem (49152 blocks)"));
	assert_file(m->fs, "/hello.txt", "hello, ext4\n");
	unmount_image(m);
}

static void test_recover_and_encrypted(void **state)
{
	struct mounted *m;

	(void)state;
	host_log_clear();
	m = mount_image("ext4_recover.img");
	assert_true(host_log_contains("journal needs recovery"));
	check_big(m->fs);
	unmount_image(m);

	m = mount_image("ext4_encrypted.img");
	assert_int_equal(open_error(m->fs, "/hello.txt"), -VQ_ENOTSUP);
	assert_true(host_log_contains("/hello.txt: encrypted"));
	unmount_image(m);
}

static void test_bad_mounts(void **state)
{
	(void)state;
	host_log_clear();
	assert_int_equal(mount_error("ext4_bad_feature.img"), -VQ_ENOTSUP);
	assert_true(host_log_contains("unsupported incompatible features "
				      "0x80000000"));
	assert_int_equal(mount_error("ext4_truncated.img"), -VQ_ECORRUPT);
	assert_true(host_log_contains("exceed the device"));
	assert_int_equal(mount_error("ext4_zero.img"), -VQ_ENOENT);
	assert_int_equal(mount_error("ext4_bad_itable.img"), -VQ_ECORRUPT);
	assert_true(host_log_contains("group 0 inode table at block 65536"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_tree, "ext4.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_1k.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_64k.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_noext.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_metabg.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_metabg_nosparse.img"),
		cmocka_unit_test_prestate(test_tree, "ext3.img"),
		cmocka_unit_test_prestate(test_tree, "ext2.img"),
		cmocka_unit_test_prestate(test_tree, "ext2_4k.img"),
		cmocka_unit_test_prestate(test_tree, "ext2_rev0.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_inline.img"),
		cmocka_unit_test_prestate(test_tree, "ext4_1k_htree.img"),
		cmocka_unit_test_prestate(test_tree, "ext3_htree.img"),
		cmocka_unit_test(test_large_requests),
		cmocka_unit_test(test_bad_extent),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_depth),
		cmocka_unit_test(test_unwritten_extent),
		cmocka_unit_test(test_bad_rec_len),
		cmocka_unit_test(test_bad_dirents),
		cmocka_unit_test(test_bad_maps),
		cmocka_unit_test(test_recover_and_encrypted),
		cmocka_unit_test(test_bad_mounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
