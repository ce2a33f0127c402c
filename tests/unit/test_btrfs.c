/* SPDX-License-Identifier: MIT */
/*
 * boot/btrfs.c over the images tests/unit/images/mk_btrfs.sh builds with
 * mkfs.btrfs --rootdir (metadata single, DUP and mixed; 4K, 16K and 64K
 * nodes; 16 KiB sectors; crc32c and xxhash64 checksums) and with the kernel through loop mounts (zlib, lzo
 * and zstd extents, subvolumes with a non-top default, fragments, extents
 * referenced in part, preallocation, two-device RAID1 and RAID0). Every file
 * of the trees the images were made from is compared byte for byte, every
 * directory entry for entry; then damaged copies must fail with an error
 * that names the block, and never crash.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/crc32c.h"
#include "lib/err.h"
#include "boot/fs.h"

#define FS_OPS btrfs_fs_ops
#include "tests/support/fs_check.h"

#define BIG_PATH "/boot/vmlinuz-6.1.0-13-amd64"
#define BIG_SIZE (5u * 1024 * 1024 + 1234)
#define MANY_FILES 300

static const char *src_path(const char *tree, const char *rel)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s%s", getenv("VQ_TEST_IMAGES"), tree,
		 rel);
	return buf;
}

/* ---- the whole source tree against the image ----------------------------- */

struct names {
	unsigned n;
	char name[400][256];
};

static int collect_names(void *ctx, const struct fs_dirent *ent)
{
	struct names *l = ctx;

	assert_true(l->n < 400);
	snprintf(l->name[l->n++], sizeof(l->name[0]), "%s", ent->name);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The file at @fpath in the image holds what @host holds. */
static void compare_file(struct fs *fs, const char *fpath, const char *host)
{
	size_t want_size;
	uint8_t *want = test_slurp(host, &want_size), *got;
	uint64_t size;
	int r = slurp(fs, fpath, &got, &size);

	if (r)
		fail_msg("%s: open/read failed: %d", fpath, r);
	if (size != want_size || memcmp(got, want, want_size))
		fail_msg("%s: %llu bytes differ from the %zu of %s", fpath,
			 (unsigned long long)size, want_size, host);
	free(got);
	free(want);
}

/* A listing of @fpath names exactly the entries of host directory @host. */
static void compare_listing(struct fs *fs, const char *fpath, const char *host,
			    const char *const *extra)
{
	struct names *got = calloc(1, sizeof(*got)), *want = calloc(1, sizeof(*want));
	struct dirent *de;
	DIR *d = opendir(host);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			snprintf(want->name[want->n++], 256, "%s", de->d_name);
	closedir(d);
	for (; extra && *extra; extra++)
		snprintf(want->name[want->n++], 256, "%s", *extra);
	assert_int_equal(btrfs_fs_ops.list(fs, fpath, collect_names, got), 0);
	qsort(got->name, got->n, sizeof(got->name[0]), cmp_name);
	qsort(want->name, want->n, sizeof(want->name[0]), cmp_name);
	if (got->n != want->n)
		fail_msg("%s: %u entries, want %u", fpath, got->n, want->n);
	for (unsigned i = 0; i < got->n; i++)
		assert_string_equal(got->name[i], want->name[i]);
	free(got);
	free(want);
}

/*
 * Walk host directory @host (the tree the image was made from) and check
 * the image at @fpath: every regular file and every symlink the host can
 * follow to a file byte for byte, every directory's listing.
 */
static void compare_tree(struct fs *fs, const char *fpath, const char *host)
{
	struct dirent *de;
	DIR *d = opendir(host);

	assert_non_null(d);
	while ((de = readdir(d))) {
		char h[4096], f[4096];
		struct stat st, lst;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(h, sizeof(h), "%s/%s", host, de->d_name);
		snprintf(f, sizeof(f), "%s/%s", fpath, de->d_name);
		assert_int_equal(lstat(h, &lst), 0);
		if (S_ISDIR(lst.st_mode)) {
			compare_listing(fs, f, h, NULL);
			compare_tree(fs, f, h);
		} else if (S_ISLNK(lst.st_mode) && stat(h, &st) == 0 &&
			   S_ISREG(st.st_mode) && strcmp(de->d_name, "abs_link")) {
			compare_file(fs, f, h);
		} else if (S_ISREG(lst.st_mode)) {
			compare_file(fs, f, h);
		}
	}
	closedir(d);
}

/* Reads that start and end inside sectors and extents. */
static void check_pieces(struct fs *fs, const char *path, const char *host)
{
	static const struct { uint64_t off; size_t len; } cases[] = {
		{ 0, 1 }, { 1023, 2 }, { 4095, 3 }, { 1000, 100000 },
		{ 65535, 65538 }, { 131071, 2 }, { 131072 * 3 - 5, 131072 + 9 },
		{ 300001, 4999 }, { 700000, 5 },
	};
	size_t size;
	uint8_t *want = test_slurp(host, &size), *buf = malloc(300000);
	struct fs_file *f;

	assert_non_null(buf);
	assert_int_equal(btrfs_fs_ops.open(fs, path, &f), 0);
	assert_int_equal(btrfs_fs_ops.size(f), size);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].off + cases[i].len > size)
			continue;
		assert_int_equal(btrfs_fs_ops.read(f, cases[i].off, buf,
						   cases[i].len), 0);
		assert_memory_equal(buf, want + cases[i].off, cases[i].len);
	}
	/* Backwards, in 7000-byte steps: every extent entered mid-way. */
	for (uint64_t off = size; off > 0;) {
		size_t n = off < 7000 ? (size_t)off : 7000;

		off -= n;
		assert_int_equal(btrfs_fs_ops.read(f, off, buf, n), 0);
		assert_memory_equal(buf, want + off, n);
	}
	assert_int_equal(btrfs_fs_ops.read(f, size, buf, 0), 0);
	assert_int_equal(btrfs_fs_ops.read(f, size - 1, buf, 2), -VQ_ERANGE);
	assert_int_equal(btrfs_fs_ops.read(f, UINT64_MAX, buf, 1), -VQ_ERANGE);
	btrfs_fs_ops.close(f);
	free(buf);
	free(want);
}

static void check_symlinks(struct fs *fs, const char *top)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/vmlinuz", top);
	compare_file(fs, p, src_path("btrfs_src", BIG_PATH));
	snprintf(p, sizeof(p), "%s/abs_link", top);
	assert_file(fs, p, "hello, btrfs\n");
	snprintf(p, sizeof(p), "%s/dirlink/initrd.img-6.1.0-13-amd64", top);
	assert_file(fs, p, "initrd image\n");
	snprintf(p, sizeof(p), "%s/loop1", top);
	assert_int_equal(open_error(fs, p), -VQ_ELOOP);
	snprintf(p, sizeof(p), "%s/loop1/x", top);
	assert_int_equal(open_error(fs, p), -VQ_ELOOP);
	snprintf(p, sizeof(p), "%s/dangling", top);
	assert_int_equal(open_error(fs, p), -VQ_ENOENT);
}

static void check_paths(struct fs *fs)
{
	assert_file(fs, "/hello.txt", "hello, btrfs\n");
	assert_file(fs, "hello.txt", "hello, btrfs\n");
	assert_file(fs, "/empty", "");
	assert_file(fs, "//a/./b/../b/c//d/deep.txt", "deep\n");
	assert_file(fs, "/../../hello.txt", "hello, btrfs\n");
	assert_file(fs, "/a/b/c/d/../../../../hello.txt", "hello, btrfs\n");
	assert_file(fs, "/h_tck9ij2npb", "first of a colliding pair\n");
	assert_file(fs, "/h_xpjuyayzqm", "second of a colliding pair\n");
	assert_int_equal(open_error(fs, "/nope"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/Hello.txt"), -VQ_ENOENT);
	/* Same hash as the colliding pair's, another name. */
	assert_int_equal(open_error(fs, "/h_tck9ij2npc"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/a/b/nope/deep.txt"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/hello.txt/x"), -VQ_ENOTDIR);
	assert_int_equal(open_error(fs, "/boot"), -VQ_EINVAL);
	assert_int_equal(open_error(fs, "/"), -VQ_EINVAL);
}

static int stop_after_one(void *ctx, const struct fs_dirent *ent)
{
	(void)ent;
	++*(unsigned *)ctx;
	return 42;
}

static int check_sizes(void *ctx, const struct fs_dirent *ent)
{
	unsigned n;

	(void)ctx;
	if (!strcmp(ent->name, "hello.txt")) {
		assert_false(ent->is_dir);
		assert_int_equal(ent->size, 13);
	}
	if (!strcmp(ent->name, "boot"))
		assert_true(ent->is_dir);
	if (sscanf(ent->name, "file_%u", &n) == 1)
		assert_int_equal(ent->size, n < 10 ? 7 : n < 100 ? 8 : 9);
	return 0;
}

static void check_list(struct fs *fs)
{
	unsigned calls = 0;

	assert_int_equal(btrfs_fs_ops.list(fs, "/", check_sizes, NULL), 0);
	assert_int_equal(btrfs_fs_ops.list(fs, "/many", check_sizes, NULL), 0);
	assert_int_equal(btrfs_fs_ops.list(fs, "/many", stop_after_one, &calls),
			 42);
	assert_int_equal(calls, 1);
	assert_int_equal(btrfs_fs_ops.list(fs, "/hello.txt", stop_after_one,
					   &calls), -VQ_ENOTDIR);
	assert_int_equal(btrfs_fs_ops.list(fs, "/nope", stop_after_one, &calls),
			 -VQ_ENOENT);
}

/* An image mkfs.btrfs --rootdir made: the tree at its top. */
static void test_mkfs_tree(void **state)
{
	struct mounted *m = mount_image(*state);

	assert_int_equal(m->fs->type, FS_BTRFS);
	assert_ptr_equal(m->fs->ops, &btrfs_fs_ops);
	assert_string_equal(m->fs->label, "vqroot");
	assert_string_equal(fs_type_name(m->fs->type), "btrfs");
	compare_listing(m->fs, "/", src_path("btrfs_src", ""), NULL);
	compare_tree(m->fs, "", src_path("btrfs_src", ""));
	check_paths(m->fs);
	check_symlinks(m->fs, "");
	check_list(m->fs);
	check_pieces(m->fs, "/text.txt", src_path("btrfs_src", "/text.txt"));
	check_pieces(m->fs, BIG_PATH, src_path("btrfs_src", BIG_PATH));
	unmount_image(m);
}

/*
 * An image the kernel wrote with compress-force: the default subvolume is
 * @, /boot inside it a subvolume of its own, @home beside @ at the top.
 */
static void test_kernel_tree(void **state)
{
	static const char *const extras[] = { "boot", "frag_a", "frag_b",
					      "overwrite", "prealloc", "holes",
					      NULL };
	static const char *const ksrc[] = { "frag_a", "frag_b", "overwrite",
					    "prealloc", "holes" };
	struct mounted *m = mount_image(*state);
	char p[256];

	/* The tree from the default subvolume; /boot crosses into another. */
	compare_tree(m->fs, "", src_path("btrfs_src", ""));
	compare_listing(m->fs, "/", src_path("btrfs_src", ""), extras + 1);
	for (size_t i = 0; i < sizeof(ksrc) / sizeof(ksrc[0]); i++) {
		snprintf(p, sizeof(p), "/%s", ksrc[i]);
		compare_file(m->fs, p, src_path("btrfs_ksrc", p));
		check_pieces(m->fs, p, src_path("btrfs_ksrc", p));
	}
	check_pieces(m->fs, "/text.txt", src_path("btrfs_src", "/text.txt"));
	check_pieces(m->fs, BIG_PATH, src_path("btrfs_src", BIG_PATH));
	check_paths(m->fs);
	check_symlinks(m->fs, "");
	check_list(m->fs);
	/* Out of the /boot subvolume by "..", and paths from the top level as
	 * distributions write them for a default that is not the top. */
	assert_file(m->fs, "/boot/../hello.txt", "hello, btrfs\n");
	assert_file(m->fs, "/@/boot/initrd.img-6.1.0-13-amd64",
		    "initrd image\n");
	assert_file(m->fs, "/@/boot/../../@home/user.txt", "at home\n");
	assert_file(m->fs, "/@home/user.txt", "at home\n");
	compare_file(m->fs, "/@/vmlinuz", src_path("btrfs_src", BIG_PATH));
	/* The default subvolume's top is its own parent. */
	assert_file(m->fs, "/../hello.txt", "hello, btrfs\n");
	assert_int_equal(open_error(m->fs, "/@"), -VQ_EINVAL);
	unmount_image(m);
}

/* The 5 MiB file arrives in few device requests: extents are batched and
 * read straight into the caller's buffer. */
static void test_large_requests(void **state)
{
	struct mounted *m = mount_image("btrfs.img");
	struct bdev_counts before, after;
	struct fs_file *f;
	uint8_t *buf = malloc(BIG_SIZE);

	(void)state;
	assert_non_null(buf);
	assert_int_equal(btrfs_fs_ops.open(m->fs, BIG_PATH, &f), 0);
	bdev_counts_get(&m->bd, &before);
	assert_int_equal(btrfs_fs_ops.read(f, 0, buf, BIG_SIZE), 0);
	bdev_counts_get(&m->bd, &after);
	assert_big(buf, 0, BIG_SIZE);
	/* The extent leaf (maybe cached), a handful of extents and the
	 * unaligned tail. */
	assert_in_range(after.calls - before.calls, 1, 12);
	btrfs_fs_ops.close(f);
	free(buf);
	unmount_image(m);
}

static void test_name_hash(void **state)
{
	(void)state;
	/* The root tree's "default" entry, as btrfs inspect-internal shows. */
	assert_int_equal(crc32c_update(~1u, "default", 7), 0x8dbfc2d2u);
	assert_int_equal(crc32c_update(~1u, "h_tck9ij2npb", 12), 0x1f5bf205u);
	assert_int_equal(crc32c_update(~1u, "h_xpjuyayzqm", 12), 0x1f5bf205u);
}

static unsigned read_addr(const char *name)
{
	size_t n;
	char *s = test_slurp(test_image(name), &n);
	unsigned v = (unsigned)strtoul(s, NULL, 16);

	free(s);
	return v;
}

static void test_bad_leaf(void **state)
{
	struct mounted *m;
	char msg[128];
	uint8_t *buf;
	uint64_t size;
	int r;

	(void)state;
	host_log_clear();
	snprintf(msg, sizeof(msg), "btrfs btrfs_bad_leaf.img: leaf 0x%x: "
		 "checksum mismatch", read_addr("btrfs_bad_leaf.addr"));
	/* The leaf may be the one the top directory's inode lives in. */
	r = mount_error("btrfs_bad_leaf.img");
	if (r == 0) {
		m = mount_image("btrfs_bad_leaf.img");
		assert_int_equal(slurp(m->fs, "/hello.txt", &buf, &size),
				 -VQ_ECORRUPT);
		compare_file(m->fs, "/many/file_299",
			     src_path("btrfs_src", "/many/file_299"));
		unmount_image(m);
	} else {
		assert_int_equal(r, -VQ_ECORRUPT);
	}
	if (!host_log_contains(msg))
		fail_msg("no \"%s\" in the log; last: %s", msg, host_log_last());
}

static void test_dup_copy(void **state)
{
	struct mounted *m;
	char msg[128];

	(void)state;
	host_log_clear();
	m = mount_image("btrfs_dup_bad.img");
	assert_file(m->fs, "/hello.txt", "hello, btrfs\n");
	snprintf(msg, sizeof(msg), "leaf 0x%x: checksum mismatch",
		 read_addr("btrfs_dup_bad.addr"));
	assert_true(host_log_contains(msg));
	snprintf(msg, sizeof(msg), "leaf 0x%x: read copy 2 instead",
		 read_addr("btrfs_dup_bad.addr"));
	assert_true(host_log_contains(msg));
	unmount_image(m);
}

static void test_bad_blocks(void **state)
{
	struct blockdev bd;
	struct fs *fs = NULL;
	uint8_t *buf;
	uint64_t size;
	int r;

	(void)state;
	host_log_clear();
	/* Either the mount or the read of the top directory's leaf fails. */
	assert_int_equal(file_bdev_open(test_image("btrfs_bad_gen.img"), 512,
					&bd), 0);
	r = btrfs_fs_ops.mount(&bd, &fs);
	if (r == 0) {
		assert_int_equal(slurp(fs, "/hello.txt", &buf, &size),
				 -VQ_ECORRUPT);
		btrfs_fs_ops.unmount(fs);
	}
	file_bdev_close(&bd);
	assert_true(host_log_contains("generation 153"));

	host_log_clear();
	assert_int_equal(file_bdev_open(test_image("btrfs_bad_item.img"), 512,
					&bd), 0);
	r = btrfs_fs_ops.mount(&bd, &fs);
	if (r == 0) {
		assert_int_equal(slurp(fs, "/hello.txt", &buf, &size),
				 -VQ_ECORRUPT);
		btrfs_fs_ops.unmount(fs);
	}
	file_bdev_close(&bd);
	assert_true(host_log_contains("item 0 at 65535"));
	assert_true(host_log_contains("outside the leaf"));
}

static void test_super_copies(void **state)
{
	struct mounted *m;

	(void)state;
	host_log_clear();
	m = mount_image("btrfs_bad_super.img");
	assert_true(host_log_contains("superblock at 0x10000: checksum mismatch"));
	assert_true(host_log_contains("using the superblock copy at 0x4000000"));
	compare_tree(m->fs, "", src_path("btrfs_src", ""));
	unmount_image(m);
}

static void test_bad_mounts(void **state)
{
	(void)state;
	host_log_clear();
	assert_int_equal(mount_error("btrfs_bad_feature.img"), -VQ_ENOTSUP);
	assert_true(host_log_contains("unsupported incompatible features "
				      "0x10000000000"));
	assert_int_equal(mount_error("btrfs_sha256.img"), -VQ_ENOTSUP);
	assert_true(host_log_contains("checksum type sha256 (2) not "
				      "supported"));
	assert_int_equal(mount_error("btrfs_zero.img"), -VQ_ENOENT);
}

/* One device of two: RAID1 has a whole copy here, RAID0 data does not. */
static void test_multi_device(void **state)
{
	struct mounted *m;

	(void)state;
	m = mount_image("btrfs_raid1.img");
	compare_file(m->fs, "/text.txt", src_path("btrfs_src", "/text.txt"));
	compare_file(m->fs, BIG_PATH, src_path("btrfs_src", BIG_PATH));
	unmount_image(m);
	host_log_clear();
	assert_int_equal(mount_error("btrfs_raid0.img"), -VQ_ENOTSUP);
	assert_true(host_log_contains("file system on 2 devices: RAID0 chunk"));
	assert_true(host_log_contains("has no whole copy on this one"));
}

/* Through the generic layer: fs_mount finds btrfs after FAT and ext. */
static void test_fs_mount(void **state)
{
	struct blockdev bd;
	struct fs *fs;
	void *buf;
	size_t size;

	(void)state;
	assert_int_equal(file_bdev_open(test_image("btrfs_kplain.img"), 4096, &bd),
			 0);
	assert_int_equal(fs_mount(&bd, &fs), 0);
	assert_int_equal(fs->type, FS_BTRFS);
	assert_int_equal(fs_read_all(fs, "/boot/initrd.img-6.1.0-13-amd64",
				     1024, &buf, &size), 0);
	assert_int_equal(size, 13);
	assert_memory_equal(buf, "initrd image\n", 13);
	free(buf);
	fs_unmount(fs);
	file_bdev_close(&bd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_hash),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_dup.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_4k.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_64k.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_s16k.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_mixed.img"),
		cmocka_unit_test_prestate(test_mkfs_tree, "btrfs_xxhash.img"),
		cmocka_unit_test_prestate(test_kernel_tree, "btrfs_kplain.img"),
		cmocka_unit_test_prestate(test_kernel_tree, "btrfs_zlib.img"),
		cmocka_unit_test_prestate(test_kernel_tree, "btrfs_zstd.img"),
		cmocka_unit_test_prestate(test_kernel_tree, "btrfs_lzo.img"),
		cmocka_unit_test(test_large_requests),
		cmocka_unit_test(test_bad_leaf),
		cmocka_unit_test(test_dup_copy),
		cmocka_unit_test(test_bad_blocks),
		cmocka_unit_test(test_super_copies),
		cmocka_unit_test(test_bad_mounts),
		cmocka_unit_test(test_multi_device),
		cmocka_unit_test(test_fs_mount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
