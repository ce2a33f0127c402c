/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/btrfs.c. A btrfs image spreads its metadata
 * over tens of MiB (superblock at 64 KiB, chunks at 1 MiB and beyond), so
 * the input is a sparse disk: records of a le32 page number, a le16 length
 * (at most 4096) and that many bytes of the page, the rest of which reads
 * as zeros; pages no record names read as zeros, and the last record for a
 * page wins (tests/support/sparse_disk.c, indexed once per input).
 * tests/fuzz/seeds.sh turns real images into this form (the
 * superblock, the blocks of the trees vqboot reads, and file data). The harness
 * mounts the disk, lists the top directory, reads each file there (16 KiB
 * of head and of tail, one byte in the middle) or lists it, and follows a few fixed paths through
 * symlinks and subvolumes. Any crash, sanitizer report, leak or hang is a
 * bug. The decompressors are linked untraced here (they have their own
 * targets), so cov counts btrfs's own edges.
 *
 * Run: build/fuzz/fuzz_btrfs -max_len=131072 -timeout=10 build/fuzz/seeds/fuzz_btrfs
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/fs.h"
#include "lib/err.h"
#include "tests/support/sparse_disk.h"

#define FUZZ_DISK_PAGES (80u * 1024 * 1024 / SPARSE_PAGE)
#define FUZZ_MAX_ENTRIES 16
#define FUZZ_CHUNK (16 * 1024)
#define FUZZ_MAX_LEN (128 * 1024) /* -max_len: longer inputs are cut */

struct root_names {
	unsigned count;
	char path[FUZZ_MAX_ENTRIES][258];
	bool is_dir[FUZZ_MAX_ENTRIES];
};

static int collect(void *ctx, const struct fs_dirent *ent)
{
	struct root_names *n = ctx;

	if (n->count == FUZZ_MAX_ENTRIES)
		return 1;
	snprintf(n->path[n->count], sizeof(n->path[0]), "/%s", ent->name);
	n->is_dir[n->count] = ent->is_dir;
	n->count++;
	return 0;
}

static int ignore(void *ctx, const struct fs_dirent *ent)
{
	(void)ctx;
	(void)ent;
	return 0;
}

/* Head, tail and middle of a file: every extent kind, without allocating
 * what a damaged i_size claims. */
static void read_file(struct fs *fs, const char *path, uint8_t *buf)
{
	struct fs_file *f;
	uint64_t size, n;

	if (btrfs_fs_ops.open(fs, path, &f) != 0)
		return;
	size = btrfs_fs_ops.size(f);
	n = size < FUZZ_CHUNK ? size : FUZZ_CHUNK;
	btrfs_fs_ops.read(f, 0, buf, (size_t)n);
	if (size > n) /* else the tail was the head */
		btrfs_fs_ops.read(f, size - n, buf, (size_t)n);
	btrfs_fs_ops.read(f, size / 2, buf, 1 < size ? 1 : 0);
	btrfs_fs_ops.read(f, size, buf, 1); /* past the end */
	btrfs_fs_ops.close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
		"/f", "/l", "/d/g", "/sub/f", "/@/boot/k", "/boot/k",
		"/../d/./g", "/d/../l",
	};
	static uint8_t buf[FUZZ_CHUNK];
	static struct sparse_page pages[FUZZ_MAX_LEN / SPARSE_RECORD_HEAD + 1];
	struct sparse_disk disk;
	struct root_names *names = calloc(1, sizeof(*names));
	struct blockdev bd = {
		.ops = &sparse_disk_ops,
		.ctx = &disk,
		.name = "fuzz",
		.block_size = 512,
		.size = (uint64_t)FUZZ_DISK_PAGES * SPARSE_PAGE,
	};
	struct fs *fs;

	if (size > FUZZ_MAX_LEN)
		size = FUZZ_MAX_LEN;
	sparse_disk_index(&disk, data, size, FUZZ_DISK_PAGES, pages);
	if (names && btrfs_fs_ops.mount(&bd, &fs) == 0) {
		btrfs_fs_ops.list(fs, "/", collect, names);
		for (unsigned i = 0; i < names->count; i++) {
			if (names->is_dir[i])
				btrfs_fs_ops.list(fs, names->path[i], ignore, NULL);
			else
				read_file(fs, names->path[i], buf);
		}
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			read_file(fs, fixed[i], buf);
		btrfs_fs_ops.unmount(fs);
	}
	free(names);
	return 0;
}
