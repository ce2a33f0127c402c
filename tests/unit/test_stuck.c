/* SPDX-License-Identifier: MIT */
/*
 * A disk that would not stop (-VQ_ESTUCK) may still write every buffer it
 * was given: no parser may free or reuse one. Each file system (FAT, ext4,
 * XFS, btrfs, with compressed and duplicated metadata) and the partition
 * table (GPT with a bad primary header, MBR with logical partitions) are walked
 * (mount, list the tree, read every file, unmount) over a disk that sticks
 * at its 1st, 2nd, ... read, every read of the walk in turn. Each time the
 * error must come back as -VQ_ESTUCK (no other code: callers leak their own
 * buffers on it), no buffer the disk failed may reach plat_free (the host
 * platform counts it), and the disk then writes into them all (ASan would
 * see a freed one). fs_read_all and the initrd's LoadFile2 size answer are
 * covered in test_load/test_initrd; load_entry's own leak in test_scan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sanitizer/lsan_interface.h>

#include "boot/fs.h"
#include "boot/part.h"
#include "lib/err.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "tests/support/stuck_bdev.h"

#define WALK_DEPTH 3
#define WALK_READ_MAX (256 * 1024)
#define WALK_PER_DIR 12    /* entries followed per directory */
#define STICK_ALL 96       /* every read up to here sticks once, then ... */
#define STICK_SPREAD 160   /* ... this many more, spread over the rest */

struct walk {
	struct fs *fs;
	int err;        /* -VQ_ESTUCK once any step returned it, else 0 */
	char path[WALK_DEPTH + 1][512];
	unsigned seen[WALK_DEPTH + 1];
	unsigned depth;
};

/* Other errors are the image's (links, special files): the walk goes on. */
static void note(struct walk *w, int r)
{
	if (r == -VQ_ESTUCK)
		w->err = r;
}

static void read_file(struct walk *w, const char *path)
{
	struct fs_file *f;
	uint64_t size;
	uint8_t *buf;
	int r = w->fs->ops->open(w->fs, path, &f);

	note(w, r);
	if (r)
		return;
	size = w->fs->ops->size(f);
	if (size > WALK_READ_MAX)
		size = WALK_READ_MAX;
	buf = malloc(size + 1);
	assert_non_null(buf);
	r = w->fs->ops->read(f, 0, buf, (size_t)size);
	note(w, r);
	w->fs->ops->close(f);
	/* The test's own buffer: a caller leaks it on -VQ_ESTUCK, and so do we
	 * (the disk may write it); it stays reachable from the stuck disk. */
	if (r != -VQ_ESTUCK)
		free(buf);
}

static int on_entry(void *ctx, const struct fs_dirent *e);

static void walk_dir(struct walk *w, const char *path)
{
	note(w, w->fs->ops->list(w->fs, path, on_entry, w));
}

static int on_entry(void *ctx, const struct fs_dirent *e)
{
	struct walk *w = ctx;
	char *child;

	if (w->depth == WALK_DEPTH || w->seen[w->depth]++ >= WALK_PER_DIR)
		return 0;
	char tmp[sizeof(w->path[0])];

	snprintf(tmp, sizeof(tmp), "%s%s%s", w->path[w->depth],
		 w->depth ? "/" : "", e->name);
	child = w->path[w->depth + 1];
	memcpy(child, tmp, sizeof(tmp));
	w->depth++;
	w->seen[w->depth] = 0;
	if (e->is_dir)
		walk_dir(w, child);
	else
		read_file(w, child);
	w->depth--;
	return w->err == -VQ_ESTUCK; /* a stuck disk ends the walk */
}

/* Mount with @ops, walk, unmount: -VQ_ESTUCK if any step said so, else 0. */
static int walk_fs(const struct fs_ops *ops, struct blockdev *bd)
{
	struct walk w = { 0 };
	int r = ops->mount(bd, &w.fs);

	if (r)
		return r;
	strcpy(w.path[0], "/");
	walk_dir(&w, "/");
	ops->unmount(w.fs);
	return w.err;
}

static int walk_part(const void *ctx, struct blockdev *bd)
{
	struct part_table *t = malloc(sizeof(*t));
	int r;

	(void)ctx;
	assert_non_null(t);
	r = part_read_table(bd, t);
	free(t);
	return r;
}

static int walk_fs_ctx(const void *ctx, struct blockdev *bd)
{
	return walk_fs(ctx, bd);
}

/* Every read of the walk in turn is the one that sticks. */
static void stick_everywhere_fn(const char *image, uint32_t block_size,
				int (*walk)(const void *ctx, struct blockdev *bd),
				const void *ctx)
{
	struct blockdev disk;
	struct stuck_bdev s;
	unsigned reads;

	assert_int_equal(file_bdev_open(test_image(image), block_size, &disk), 0);
	stuck_bdev_init(&s, &disk, 0);
	assert_int_equal(walk(ctx, &s.bd), 0);
	reads = s.reads;
	assert_true(reads > 2);
	for (unsigned at = 1; at <= reads;
	     at += at < STICK_ALL ? 1 : VQ_MAX(1u, (reads - STICK_ALL) / STICK_SPREAD)) {
		int r;

		host_free_watch_clear();
		stuck_bdev_init(&s, &disk, at);
		/* What is kept on purpose is not a leak. */
		__lsan_disable();
		r = walk(ctx, &s.bd);
		__lsan_enable();
		if (r != -VQ_ESTUCK)
			fail_msg("%s, stuck at read %u of %u: walk returned %d (%s), "
				 "not -VQ_ESTUCK", image, at, reads, r, vq_strerror(r));
		if (host_free_watch_hits())
			fail_msg("%s, stuck at read %u of %u: %u buffers the disk "
				 "may still write were freed", image, at, reads,
				 host_free_watch_hits());
		if (s.on_stack)
			fail_msg("%s, stuck at read %u of %u: a stack buffer went to "
				 "the disk", image, at, reads);
		stuck_bdev_scribble(&s);
	}
	host_free_watch_clear();
	file_bdev_close(&disk);
}

static void stick_everywhere(const char *image, uint32_t block_size,
			     const struct fs_ops *ops)
{
	stick_everywhere_fn(image, block_size, walk_fs_ctx, ops);
}

static void test_fat(void **state)
{
	(void)state;
	stick_everywhere("pf_fat32.img", 512, &fat_fs_ops);
	stick_everywhere("pf_fat12.img", 512, &fat_fs_ops);
}

static void test_ext4(void **state)
{
	(void)state;
	stick_everywhere("ext4.img", 512, &ext4_fs_ops);
}

static void test_xfs(void **state)
{
	(void)state;
	stick_everywhere("xfs_v5.img", 512, &xfs_fs_ops);
}

static void test_btrfs(void **state)
{
	(void)state;
	stick_everywhere("btrfs_zstd.img", 512, &btrfs_fs_ops);
	stick_everywhere("btrfs_dup.img", 512, &btrfs_fs_ops);
}

/* The backup GPT header and entries are read after the primary failed. */
static void test_part(void **state)
{
	(void)state;
	stick_everywhere_fn("pf_gpt512.img", 512, walk_part, NULL);
	stick_everywhere_fn("pf_gpt512_badhdr.img", 512, walk_part, NULL);
	stick_everywhere_fn("pf_gpt4k.img", 4096, walk_part, NULL);
	stick_everywhere_fn("pf_mbr.img", 512, walk_part, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fat),
		cmocka_unit_test(test_ext4),
		cmocka_unit_test(test_xfs),
		cmocka_unit_test(test_btrfs),
		cmocka_unit_test(test_part),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
