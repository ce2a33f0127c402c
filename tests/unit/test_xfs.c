/* SPDX-License-Identifier: MIT */
/*
 * boot/xfs.c over the images tests/unit/images/mk_xfs.sh builds with
 * mkfs.xfs -p and xfs_db: the same tree on v5 and v4, blocks of 512 bytes
 * to 64 KiB, 4096-byte sectors, inodes of 256 to 2048 bytes, 64 KiB
 * directory blocks, ASCII case-insensitive names and 64-bit extent
 * counters; files remapped into extent lists and B+trees of depth 1 and 2
 * with holes and unwritten extents; then damaged copies that must fail with
 * the block named and never crash. Every file read is compared byte for
 * byte with its source (or with what xfs_db's own block map says it holds).
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

#define BIG_PATH "/boot/vmlinuz-6.1.0-13-amd64"
#define BIG_SIZE (5u * 1024 * 1024 + 1234)
#define LONGEST_LINK_LEN 1020
#define FMT_LOCAL 1
#define FMT_EXTENTS 2
#define FMT_BTREE 3

/* ---- the facts mk_xfs.sh wrote beside each image -------------------------- */

struct fact {
	char key[32];
	unsigned long long ino;
	unsigned format, level;
};

struct facts {
	struct fact v[32];
	unsigned n;
	unsigned many, collide;
	char form[4][2][16]; /* a, blockdir, leafdir, many: name, form */
	unsigned nforms;
};

static void read_facts(const char *image, struct facts *f)
{
	char path[512], line[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s.facts", test_image(image));
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("no %s", path);
	memset(f, 0, sizeof(*f));
	while (fgets(line, sizeof(line), fp)) {
		struct fact *x = &f->v[f->n];

		if (sscanf(line, "many_count %u", &f->many) == 1 ||
		    sscanf(line, "collide_count %u", &f->collide) == 1)
			continue;
		if (!strncmp(line, "form ", 5) && f->nforms < 4) {
			assert_int_equal(sscanf(line, "form %15s %15s",
						f->form[f->nforms][0],
						f->form[f->nforms][1]), 2);
			f->nforms++;
			continue;
		}
		if (f->n < 32 && sscanf(line, "%31s %llu %u %u", x->key, &x->ino,
					&x->format, &x->level) == 4)
			f->n++;
	}
	fclose(fp);
}

static const struct fact *fact(const struct facts *f, const char *key)
{
	for (unsigned i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].key, key))
			return &f->v[i];
	fail_msg("no fact %s", key);
	return NULL;
}

static const char *form(const struct facts *f, const char *dir)
{
	for (unsigned i = 0; i < f->nforms; i++)
		if (!strcmp(f->form[i][0], dir))
			return f->form[i][1];
	return "absent";
}

/* xfs_damage.facts: "name value" lines. */
static unsigned long long damage(const char *key)
{
	char path[512], k[64];
	unsigned long long v;
	FILE *fp;

	snprintf(path, sizeof(path), "%s", test_image("xfs_damage.facts"));
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("no %s", path);
	while (fscanf(fp, "%63s %llu", k, &v) == 2) {
		if (!strcmp(k, key)) {
			fclose(fp);
			return v;
		}
	}
	fclose(fp);
	fail_msg("no damage fact %s", key);
	return 0;
}

/* ---- mounting and reading ---------------------------------------------- */

static uint32_t image_block(const char *name)
{
	return strstr(name, "4kn") ? 4096 : 512;
}

#define FS_OPS xfs_fs_ops
#define FS_IMAGE_BLOCK(name) image_block(name)
#include "tests/support/fs_check.h"

/* ---- the tree ------------------------------------------------------------- */

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
		{ 0, 1 }, { 511, 2 }, { 4095, 3 }, { 1000, 100000 },
		{ 65535, 65538 }, { BIG_SIZE - 7, 7 }, { BIG_SIZE, 0 },
		{ 3 * 1024 * 1024 + 17, 1024 * 1024 },
	};
	struct fs_file *f;
	uint8_t *buf = malloc(2 * 1024 * 1024);

	assert_non_null(buf);
	assert_int_equal(xfs_fs_ops.open(fs, "/vmlinuz", &f), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(xfs_fs_ops.read(f, cases[i].off, buf,
						 cases[i].len), 0);
		assert_big(buf, cases[i].off, cases[i].len);
	}
	assert_int_equal(xfs_fs_ops.read(f, BIG_SIZE - 1, buf, 2), -VQ_ERANGE);
	assert_int_equal(xfs_fs_ops.read(f, BIG_SIZE + 1, buf, 0), -VQ_ERANGE);
	assert_int_equal(xfs_fs_ops.read(f, UINT64_MAX, buf, 1), -VQ_ERANGE);
	xfs_fs_ops.close(f);
	free(buf);
}

static void check_paths(struct fs *fs)
{
	assert_file(fs, "/hello.txt", "hello, xfs\n");
	assert_file(fs, "hello.txt", "hello, xfs\n");
	assert_file(fs, "/empty", "");
	assert_file(fs, "/a/b/c/d/deep.txt", "deep\n");
	assert_file(fs, "//a/./b/../b/c//d/deep.txt", "deep\n");
	assert_file(fs, "/../../hello.txt", "hello, xfs\n");
	assert_file(fs, "/blockdir/file_17", "file 17\n");
	assert_file(fs, "/leafdir/file_000", "file 0\n");
	assert_file(fs, "/leafdir/file_299", "file 299\n");
	assert_int_equal(open_error(fs, "/nope"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/leafdir/file_300"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/blockdir/file_3"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/a/b/nope/deep.txt"), -VQ_ENOENT);
	assert_int_equal(open_error(fs, "/hello.txt/x"), -VQ_ENOTDIR);
	assert_int_equal(open_error(fs, "/boot"), -VQ_EINVAL);
	assert_int_equal(open_error(fs, "/"), -VQ_EINVAL);
}

/* Every name of the big directory, each to its own inode. */
static void check_many(struct fs *fs, unsigned many)
{
	char path[64], want[32];

	for (unsigned i = 0; i < many; i += (i % 97 == 0) ? 1 : 13) {
		snprintf(path, sizeof(path), "/many/file_%05u", i);
		snprintf(want, sizeof(want), "file %u\n", i);
		assert_file(fs, path, want);
	}
	if (many) {
		snprintf(path, sizeof(path), "/many/file_%05u", many - 1);
		snprintf(want, sizeof(want), "file %u\n", many - 1);
		assert_file(fs, path, want);
		snprintf(path, sizeof(path), "/many/file_%05u", many);
		assert_int_equal(open_error(fs, path), -VQ_ENOENT);
	}
	assert_int_equal(open_error(fs, "/many/file_"), -VQ_ENOENT);
}

static int count_entries(void *ctx, const struct fs_dirent *ent)
{
	(void)ent;
	++*(unsigned *)ctx;
	return 0;
}

/* Names that share one hash over several hash leaves: each found (the
 * walk goes on to the next leaf while the hash lasts), a further one with
 * the same hash not. */
static void check_collide(struct fs *fs, const char *image, unsigned n)
{
	char path[512], name[64], want[80];
	unsigned found = 0, listed = 0;
	FILE *fp;

	if (!n)
		return;
	snprintf(path, sizeof(path), "%s.collide", test_image(image));
	fp = fopen(path, "r");
	if (!fp)
		fail_msg("no %s", path);
	while (fscanf(fp, "%63s", name) == 1) {
		snprintf(path, sizeof(path), "/collide/%s", name);
		if (found == n) {
			assert_int_equal(open_error(fs, path), -VQ_ENOENT);
			break;
		}
		snprintf(want, sizeof(want), "%s\n", name);
		assert_file(fs, path, want);
		found++;
	}
	fclose(fp);
	assert_int_equal(found, n);
	assert_int_equal(xfs_fs_ops.list(fs, "/collide", count_entries, &listed), 0);
	assert_int_equal(listed, n + 600);
	assert_file(fs, "/collide/n00321", "");
}

static void check_symlinks(struct fs *fs)
{
	uint8_t *buf;
	uint64_t size;

	assert_int_equal(slurp(fs, "/vmlinuz", &buf, &size), 0);
	assert_int_equal(size, BIG_SIZE);
	free(buf);
	assert_file(fs, "/initrd.img", "initrd image\n");
	assert_file(fs, "/abs_link", "hello, xfs\n");
	assert_file(fs, "/chain1", "hello, xfs\n");
	assert_file(fs, "/long_link", "hello, xfs\n");
	assert_file(fs, "/longest_link", "hello, xfs\n");
	assert_file(fs, "/dirlink/initrd.img-6.1.0-13-amd64", "initrd image\n");
	assert_int_equal(open_error(fs, "/loop1"), -VQ_ELOOP);
	assert_int_equal(open_error(fs, "/loop1/x"), -VQ_ELOOP);
	assert_int_equal(open_error(fs, "/dangling"), -VQ_ENOENT);
}

/* A remapped file against what xfs_db's block map says it holds, whole
 * and in pieces that start and end inside blocks. */
static void check_remapped(struct fs *fs, const char *image, const char *name)
{
	char path[512];
	uint8_t *buf, *want;
	uint64_t size;
	size_t want_size;
	struct fs_file *f;

	snprintf(path, sizeof(path), "%s.%s.expect", test_image(image), name);
	want = test_slurp(path, &want_size);
	snprintf(path, sizeof(path), "/%s", name);
	assert_int_equal(slurp(fs, path, &buf, &size), 0);
	assert_int_equal(size, want_size);
	assert_memory_equal(buf, want, size);
	assert_int_equal(xfs_fs_ops.open(fs, path, &f), 0);
	for (uint64_t off = 0; off < size; off += size / 7 + 333) {
		size_t len = (size_t)VQ_MIN(size - off, (uint64_t)5000);

		memset(buf, 0xa5, len);
		assert_int_equal(xfs_fs_ops.read(f, off, buf, len), 0);
		assert_memory_equal(buf, want + off, len);
	}
	xfs_fs_ops.close(f);
	free(buf);
	free(want);
}

struct listing {
	unsigned count, dirs;
	bool saw_hello, saw_dot;
	uint8_t seen[5000];
	unsigned digits;
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
		assert_int_equal(ent->size, 11);
	}
	if (sscanf(ent->name, "file_%u", &n) == 1 && n < 5000) {
		l->seen[n]++;
		snprintf(want, sizeof(want), "file %u\n", n);
		assert_int_equal(ent->size, strlen(want));
		assert_false(ent->is_dir);
	}
	return 0;
}

static int ignore(void *ctx, const struct fs_dirent *ent)
{
	(void)ctx;
	(void)ent;
	return 0;
}

static int stop_after_one(void *ctx, const struct fs_dirent *ent)
{
	(void)ent;
	++*(unsigned *)ctx;
	return 42;
}

/* List @path: @n entries, file_0..file_<n-1> each once when @numbered. */
static void check_dir(struct fs *fs, const char *path, unsigned n,
		      bool numbered)
{
	struct listing *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	assert_int_equal(xfs_fs_ops.list(fs, path, collect, l), 0);
	assert_int_equal(l->count, n);
	assert_false(l->saw_dot);
	for (unsigned i = 0; numbered && i < n; i++)
		assert_int_equal(l->seen[i], 1);
	free(l);
}

static void check_list(struct fs *fs, const struct facts *f, bool deep)
{
	unsigned many = f->many, extra = (many ? 1 : 0) + (f->collide ? 1 : 0);
	struct listing *l = calloc(1, sizeof(*l));
	unsigned calls = 0;

	assert_non_null(l);
	assert_int_equal(xfs_fs_ops.list(fs, "/", collect, l), 0);
	assert_true(l->saw_hello);
	assert_false(l->saw_dot);
	/* hello.txt empty boot a blockdir leafdir [many] [collide] frag_ext
	 * frag [frag_deep] spare sub, and 11 symlinks. */
	assert_int_equal(l->count, 10 + extra + (deep ? 1 : 0) + 11);
	assert_int_equal(l->dirs, 5 + extra);
	free(l);
	check_dir(fs, "/blockdir", 30, true);
	check_dir(fs, "/leafdir", 300, true);
	if (many)
		check_dir(fs, "/many", many, true);
	check_dir(fs, "/dirlink", 2, false);
	assert_int_equal(xfs_fs_ops.list(fs, "/leafdir", stop_after_one, &calls),
			 42);
	assert_int_equal(calls, 1);
	assert_int_equal(xfs_fs_ops.list(fs, "/hello.txt", ignore, NULL),
			 -VQ_ENOTDIR);
	assert_int_equal(xfs_fs_ops.list(fs, "/nope", ignore, NULL),
			 -VQ_ENOENT);
}

/* The image really has the shapes the test claims to cover (as xfs_db saw
 * them), read back here from the raw inodes too. */
static void check_shapes(const char *image, const struct facts *f)
{
	struct blockdev bd;
	uint8_t sb[512], inode[16];
	const char *const remapped[] = { "frag_ext", "frag", "frag_deep" };
	const unsigned want_fmt[] = { FMT_EXTENTS, FMT_BTREE, FMT_BTREE };
	const unsigned want_level[] = { 0, 1, 2 };

	assert_int_equal(file_bdev_open(test_image(image), image_block(image),
					&bd), 0);
	assert_int_equal(bdev_read(&bd, 0, sb, sizeof(sb)), 0);
	for (unsigned i = 0; i < 3; i++) {
		const struct fact *x;
		uint64_t ino, agno, agino, off;
		unsigned agblklog = sb[124], inopblog = sb[123];
		uint32_t agblocks = (uint32_t)sb[84] << 24 | sb[85] << 16 |
				    sb[86] << 8 | sb[87];

		if (i == 2 && !strstr(image, "1k") && !strstr(image, "512"))
			continue;
		x = fact(f, remapped[i]);
		assert_int_equal(x->format, want_fmt[i]);
		assert_int_equal(x->level, want_level[i]);
		/* di_format is byte 5 of the inode. */
		ino = x->ino;
		agno = ino >> (agblklog + inopblog);
		agino = ino & ((1ull << (agblklog + inopblog)) - 1);
		off = ((agno * agblocks + (agino >> inopblog)) << sb[120]) +
		      ((agino & ((1u << inopblog) - 1)) << sb[122]);
		assert_int_equal(bdev_read(&bd, off, inode, sizeof(inode)), 0);
		assert_memory_equal(inode, "IN", 2);
		assert_int_equal(inode[5], want_fmt[i]);
	}
	file_bdev_close(&bd);
	assert_string_equal(form(f, "a"), "sf");
	assert_int_equal(fact(f, "a")->format, FMT_LOCAL);
}

/* The whole tree, on the image named by the test's initial state. */
static void test_tree(void **state)
{
	const char *image = *state;
	struct mounted *m = mount_image(image);
	bool deep = strstr(image, "1k") || strstr(image, "512");
	struct facts f;

	read_facts(image, &f);
	check_shapes(image, &f);
	assert_int_equal(m->fs->type, FS_XFS);
	assert_ptr_equal(m->fs->ops, &xfs_fs_ops);
	assert_string_equal(m->fs->label, "vqxfs");
	check_paths(m->fs);
	check_symlinks(m->fs);
	check_big(m->fs);
	check_big_pieces(m->fs);
	check_remapped(m->fs, image, "frag_ext");
	check_remapped(m->fs, image, "frag");
	if (deep)
		check_remapped(m->fs, image, "frag_deep");
	check_many(m->fs, f.many);
	check_collide(m->fs, image, f.collide);
	check_list(m->fs, &f, deep);
	unmount_image(m);
}

/* Across the images, every directory shape and fork format is covered. */
static void test_shapes_covered(void **state)
{
	static const char *const images[] = {
		"xfs_v5.img", "xfs_v4.img", "xfs_dir64k.img", "xfs_i2048.img",
		"xfs_512.img",
	};
	bool sf = false, block = false, leaf = false, node = false;
	bool node_btree = false, remote_link = false, local_link = false;
	struct facts f;

	(void)state;
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		read_facts(images[i], &f);
		sf |= !strcmp(form(&f, "a"), "sf") || !strcmp(form(&f, "blockdir"), "sf");
		block |= !strcmp(form(&f, "blockdir"), "block");
		leaf |= !strcmp(form(&f, "leafdir"), "leaf") ||
			!strcmp(form(&f, "many"), "leaf");
		node |= !strcmp(form(&f, "many"), "node");
		node_btree |= !strcmp(form(&f, "many"), "node") &&
			      fact(&f, "many")->format == FMT_BTREE;
		remote_link |= fact(&f, "longest_link")->format == FMT_EXTENTS;
		local_link |= fact(&f, "longest_link")->format == FMT_LOCAL;
	}
	assert_true(sf && block && leaf && node && node_btree);
	assert_true(remote_link && local_link);
	read_facts("xfs_v5.img", &f);
	assert_string_equal(form(&f, "blockdir"), "block");
	assert_string_equal(form(&f, "leafdir"), "leaf");
	assert_string_equal(form(&f, "many"), "node");
	assert_int_equal(fact(&f, "many")->format, FMT_BTREE);
}

static void test_fs_mount(void **state)
{
	struct blockdev bd;
	struct fs *fs;

	(void)state;
	assert_int_equal(file_bdev_open(test_image("xfs_v5.img"), 512, &bd), 0);
	assert_int_equal(fs_mount(&bd, &fs), 0);
	assert_int_equal(fs->type, FS_XFS);
	assert_string_equal(fs_type_name(fs->type), "xfs");
	fs_unmount(fs);
	file_bdev_close(&bd);
}

/* ASCII case-insensitive names match in any case there, and only there. */
static void test_ascii_ci(void **state)
{
	struct mounted *m = mount_image("xfs_ci.img");

	(void)state;
	assert_file(m->fs, "/HELLO.TXT", "hello, xfs\n");
	assert_file(m->fs, "/LeafDir/FILE_123", "file 123\n");
	assert_file(m->fs, "/Many/File_01234", "file 1234\n");
	assert_file(m->fs, "/A/B/c/D/Deep.TXT", "deep\n");
	unmount_image(m);
	m = mount_image("xfs_v5.img");
	assert_int_equal(open_error(m->fs, "/HELLO.TXT"), -VQ_ENOENT);
	assert_int_equal(open_error(m->fs, "/LeafDir/file_123"), -VQ_ENOENT);
	unmount_image(m);
}

/* ---- requests reaching the device ------------------------------------------ */

/* A blockdev over an image that counts vectored reads and their pieces. */
struct counting {
	struct blockdev inner;
	unsigned vec_calls, pieces, single_calls;
};

static int count_read(struct blockdev *bd, uint64_t lba, uint64_t count,
		      void *buf)
{
	struct counting *c = bd->ctx;

	c->single_calls++;
	return c->inner.ops->read_blocks(&c->inner, lba, count, buf);
}

static int count_read_vec(struct blockdev *bd, const struct bdev_iov *iov,
			  unsigned n)
{
	struct counting *c = bd->ctx;

	c->vec_calls++;
	c->pieces += n;
	for (unsigned i = 0; i < n; i++) {
		int r = c->inner.ops->read_blocks(&c->inner, iov[i].lba,
						  iov[i].count, iov[i].buf);
		if (r)
			return r;
	}
	return 0;
}

static const struct blockdev_ops count_ops = {
	.read_blocks = count_read,
	.read_blocks_vec = count_read_vec,
};

static void read_counted(const char *image, const char *path,
			 struct counting *c, uint64_t *ret_size)
{
	struct blockdev bd;
	struct fs *fs;
	struct fs_file *f;
	uint8_t *buf;
	uint64_t size;

	memset(c, 0, sizeof(*c));
	assert_int_equal(file_bdev_open(test_image(image), 512, &c->inner), 0);
	bd = c->inner;
	bd.ops = &count_ops;
	bd.ctx = c;
	assert_int_equal(xfs_fs_ops.mount(&bd, &fs), 0);
	assert_int_equal(xfs_fs_ops.open(fs, path, &f), 0);
	size = xfs_fs_ops.size(f);
	buf = malloc(size);
	assert_non_null(buf);
	c->vec_calls = c->pieces = c->single_calls = 0;
	assert_int_equal(xfs_fs_ops.read(f, 0, buf, size), 0);
	xfs_fs_ops.close(f);
	free(buf);
	xfs_fs_ops.unmount(fs);
	file_bdev_close(&c->inner);
	*ret_size = size;
}

static void test_large_requests(void **state)
{
	struct counting c;
	uint64_t size;

	(void)state;
	/* One extent: one request of 5 MiB, and the partial last block. */
	read_counted("xfs_v5.img", BIG_PATH, &c, &size);
	assert_int_equal(size, BIG_SIZE);
	assert_in_range(c.pieces + c.single_calls, 1, 3);
	/* 1800 one-block extents in reverse disk order under a depth-2 tree:
	 * each a piece, 64 to a vectored call, no block read alone beyond the
	 * tree's own. */
	read_counted("xfs_1k.img", "/frag_deep", &c, &size);
	assert_in_range(c.pieces, 1700, 1800);
	assert_in_range(c.vec_calls, c.pieces / 64, c.pieces / 64 + 2);
	assert_in_range(c.single_calls, 0, 70);
}

/* ---- damage ----------------------------------------------------------------- */

static void expect_log(const char *fmt, ...) VQ_PRINTF(1, 2);

static void expect_log(const char *fmt, ...)
{
	char want[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (!host_log_contains(want))
		fail_msg("no log line containing \"%s\" (last: \"%s\")", want,
			 host_log_last());
}

static void test_bad_inode(void **state)
{
	struct mounted *m = mount_image("xfs_bad_inode.img");

	(void)state;
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/hello.txt"), -VQ_ECORRUPT);
	expect_log("xfs xfs_bad_inode.img: inode %llu (block 0x%llx): CRC "
		   "mismatch",
		   damage("bad_inode.ino"), damage("bad_inode.daddr"));
	/* Listing the root reads every inode in it: the bad one stops it. */
	assert_int_equal(xfs_fs_ops.list(m->fs, "/", ignore, NULL), -VQ_ECORRUPT);
	check_big(m->fs);
	unmount_image(m);

	m = mount_image("xfs_v4_bad_inode.img");
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/hello.txt"), -VQ_ECORRUPT);
	expect_log("inode %llu (block 0x", damage("v4_bad_inode.ino"));
	expect_log("): bad magic");
	check_big(m->fs);
	unmount_image(m);
}

static void test_bad_dir_blocks(void **state)
{
	struct mounted *m = mount_image("xfs_bad_dirblock.img");

	(void)state;
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/leafdir/file_010"), -VQ_ECORRUPT);
	expect_log("xfs xfs_bad_dirblock.img: directory block 0x%llx of inode "
		   "%llu: CRC mismatch",
		   damage("bad_dirblock.daddr"), damage("bad_dirblock.ino"));
	assert_int_equal(xfs_fs_ops.list(m->fs, "/leafdir", ignore, NULL),
			 -VQ_ECORRUPT);
	assert_file(m->fs, "/blockdir/file_17", "file 17\n");
	unmount_image(m);

	/* The hash leaf is bad: lookups fail, listing (data blocks only) and
	 * other directories work. */
	m = mount_image("xfs_bad_leaf.img");
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/leafdir/file_250"), -VQ_ECORRUPT);
	expect_log("directory leaf block 0x%llx of inode %llu: CRC mismatch",
		   damage("bad_leaf.daddr"), damage("bad_leaf.ino"));
	check_dir(m->fs, "/leafdir", 300, true);
	assert_file(m->fs, "/many/file_00042", "file 42\n");
	unmount_image(m);

	/* A good block in the wrong place. */
	m = mount_image("xfs_misplaced.img");
	host_log_clear();
	assert_int_equal(xfs_fs_ops.list(m->fs, "/leafdir", ignore, NULL),
			 -VQ_ECORRUPT);
	expect_log("directory block 0x%llx of inode %llu claims to be block "
		   "0x%llx",
		   damage("misplaced.daddr"), damage("misplaced.ino"),
		   damage("misplaced.claims"));
	unmount_image(m);

	m = mount_image("xfs_v4_bad_magic.img");
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/leafdir/file_010"), -VQ_ECORRUPT);
	expect_log("directory block 0x%llx of inode %llu: bad magic for a data "
		   "block",
		   damage("v4_bad_magic.daddr"), damage("v4_bad_magic.ino"));
	unmount_image(m);

	m = mount_image("xfs_v4_bad_sf.img");
	host_log_clear();
	/* "b" is the first entry and intact, but the directory is not. */
	assert_int_equal(open_error(m->fs, "/a/b/c/d/deep.txt"), -VQ_ECORRUPT);
	expect_log("short form directory inode %llu entry 1",
		   damage("v4_bad_sf.ino"));
	assert_file(m->fs, "/hello.txt", "hello, xfs\n");
	unmount_image(m);
}

static void test_bad_maps(void **state)
{
	struct mounted *m = mount_image("xfs_bad_bmbt.img");
	uint8_t *buf;
	uint64_t size;

	(void)state;
	host_log_clear();
	assert_int_equal(slurp(m->fs, "/frag", &buf, &size), -VQ_ECORRUPT);
	expect_log("extent btree block 0x%llx of inode %llu: CRC mismatch",
		   damage("bad_bmbt.daddr"), damage("bad_bmbt.ino"));
	check_big(m->fs);
	unmount_image(m);

	m = mount_image("xfs_v4_bad_extent.img");
	host_log_clear();
	assert_int_equal(slurp(m->fs, "/hello.txt", &buf, &size), -VQ_ECORRUPT);
	expect_log("inode %llu extent at block 0x", damage("v4_bad_extent.ino"));
	expect_log("outside the filesystem (4 AGs of");
	check_big(m->fs);
	unmount_image(m);
}

static void test_bad_symlink(void **state)
{
	struct mounted *m = mount_image("xfs_bad_symlink.img");

	(void)state;
	host_log_clear();
	assert_int_equal(open_error(m->fs, "/long_link"), -VQ_ECORRUPT);
	expect_log("symlink block 0x%llx of inode %llu: CRC mismatch",
		   damage("bad_symlink.daddr"), damage("bad_symlink.ino"));
	assert_file(m->fs, "/longest_link", "hello, xfs\n");
	unmount_image(m);
}

static void test_bad_mounts(void **state)
{
	(void)state;
	host_log_clear();
	assert_int_equal(mount_error("xfs_bad_sb.img"), -VQ_ECORRUPT);
	expect_log("xfs xfs_bad_sb.img: superblock: CRC mismatch");
	assert_int_equal(mount_error("xfs_bad_feature.img"), -VQ_ENOTSUP);
	expect_log("unsupported incompatible features 0x80000100 (metadir "
		   "0x80000000)");
	assert_int_equal(mount_error("xfs_needsrepair.img"), -VQ_ENOTSUP);
	expect_log("unsupported incompatible features 0x10 (needsrepair)");
	assert_int_equal(mount_error("xfs_truncated.img"), -VQ_ECORRUPT);
	expect_log("exceed the device");
	assert_int_equal(mount_error("xfs_zero.img"), -VQ_ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_tree, "xfs_v5.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_v4.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_v4_ftype.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_1k.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_512.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_4kn.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_dir64k.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_i2048.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_64k.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_ci.img"),
		cmocka_unit_test_prestate(test_tree, "xfs_nrext64.img"),
		cmocka_unit_test(test_shapes_covered),
		cmocka_unit_test(test_fs_mount),
		cmocka_unit_test(test_ascii_ci),
		cmocka_unit_test(test_large_requests),
		cmocka_unit_test(test_bad_inode),
		cmocka_unit_test(test_bad_dir_blocks),
		cmocka_unit_test(test_bad_maps),
		cmocka_unit_test(test_bad_symlink),
		cmocka_unit_test(test_bad_mounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
