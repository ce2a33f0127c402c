/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/xfs.c. The input is the head of a disk image:
 * XFS refuses filesystems under 300 MB, so the seeds (tests/fuzz/seeds.sh)
 * are the first 56-160 KiB of 320 MiB images that keep everything in
 * their first blocks, and the harness presents the input as a 512 MiB disk
 * reading zeros past its end. It mounts, lists the root, opens and reads
 * each root entry (head, middle and tail of large files) or lists it, and
 * looks up fixed paths in every directory shape and through symlinks. Any
 * crash, sanitizer report, leak or hang is a bug.
 *
 * Run (from the repository root, after make fuzz-build):
 *   sh tests/fuzz/seeds.sh && build/fuzz/fuzz_xfs -timeout=10 \
 *     build/fuzz/seeds/fuzz_xfs
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/fs.h"

#define FUZZ_DISK (512ull << 20)
#define FUZZ_MAX_ENTRIES 16
#define FUZZ_CHUNK (16 * 1024)
#define FUZZ_BLOCK 512

struct zdisk {
	const uint8_t *data;
	size_t len;
};

/* The input, then zeros to FUZZ_DISK. */
static int zdisk_read(struct blockdev *bd, uint64_t lba, uint64_t count,
		      void *buf)
{
	const struct zdisk *z = bd->ctx;
	uint64_t off = lba * FUZZ_BLOCK, len = count * FUZZ_BLOCK;
	uint64_t have = off < z->len ? VQ_MIN(len, z->len - off) : 0;

	if (lba > FUZZ_DISK / FUZZ_BLOCK || count > FUZZ_DISK / FUZZ_BLOCK - lba)
		abort(); /* the caller broke the read_blocks contract */
	memcpy(buf, z->data + off, (size_t)have);
	memset((uint8_t *)buf + have, 0, (size_t)(len - have));
	return 0;
}

static const struct blockdev_ops zdisk_ops = { .read_blocks = zdisk_read };

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

/* Read the head, a byte in the middle and the tail of a file: enough to
 * walk every map level without allocating what a damaged size claims. */
static void read_file(struct fs *fs, const char *path, uint8_t *buf)
{
	struct fs_file *f;
	uint64_t size, n;

	if (xfs_fs_ops.open(fs, path, &f) != 0)
		return;
	size = xfs_fs_ops.size(f);
	n = size < FUZZ_CHUNK ? size : FUZZ_CHUNK;
	xfs_fs_ops.read(f, 0, buf, (size_t)n);
	xfs_fs_ops.read(f, size - n, buf, (size_t)n);
	xfs_fs_ops.read(f, size / 2, buf, 1 < size ? 1 : 0);
	xfs_fs_ops.read(f, size, buf, 1); /* past the end */
	xfs_fs_ops.close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Names in the seeds (tests/unit/images/mk_xfs.sh, mkseed). */
	static const char *const fixed[] = {
		"/a1_sf/f", "/a3_block/file_02", "/a5_leaf/entry_17",
		"/a5_leaf/nope", "/e_link", "/f_long_link", "/../a1_sf/./f",
	};
	static uint8_t buf[FUZZ_CHUNK];
	static char path[512];
	struct root_names *names = calloc(1, sizeof(*names));
	struct zdisk z = { data, size };
	struct blockdev bd = {
		.ops = &zdisk_ops,
		.ctx = &z,
		.name = "fuzz",
		.block_size = FUZZ_BLOCK,
		.size = FUZZ_DISK,
	};
	struct fs *fs;

	if (names && xfs_fs_ops.mount(&bd, &fs) == 0) {
		xfs_fs_ops.list(fs, "/", collect, names);
		for (unsigned i = 0; i < names->count; i++) {
			if (names->is_dir[i])
				xfs_fs_ops.list(fs, names->path[i], ignore, NULL);
			else
				read_file(fs, names->path[i], buf);
		}
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			/* The block and leaf directories' names are long, to
			 * fill their blocks with few inodes. */
			size_t n = strlen(fixed[i]);
			char pad = strstr(fixed[i], "a3_") ? 'b' : 'l';

			memcpy(path, fixed[i], n + 1);
			if (strstr(fixed[i], "file_") || strstr(fixed[i], "entry_")) {
				memset(path + n, pad, pad == 'b' ? 100 : 200);
				path[n + (pad == 'b' ? 100 : 200)] = '\0';
			}
			read_file(fs, path, buf);
		}
		xfs_fs_ops.unmount(fs);
	}
	free(names);
	return 0;
}
