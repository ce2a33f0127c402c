/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/ext4.c. The input is the head of a 256 KiB disk
 * (the size of the seed images) that reads zeros past it. A small image keeps
 * its metadata in its first few dozen KiB, and libFuzzer copies, mutates and
 * hashes every byte of an input on every run: when the zeros behind were
 * part of the input (256 KiB each), that work took nine tenths of a run and
 * the harness one tenth. The harness mounts the disk, lists the root, and
 * for each root entry opens and reads it (16 KiB of head and tail) or lists
 * it, plus a few fixed paths through symlinks. Any crash, sanitizer report,
 * leak or hang is a bug.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_ext4); run: `make fuzz`.
 *
 * Seeds: small images, so that mutations reach past the superblock:
 *   mkdir -p build/fuzz/ext4_seeds build/fuzz/t/d && echo hi > build/fuzz/t/f
 *   ln -sf f build/fuzz/t/l && echo deep > build/fuzz/t/d/g
 *   for o in "-t ext4" "-t ext2" "-t ext4 -O inline_data" \
 *            "-t ext4 -O ^extent,^64bit"; do
 *     n=build/fuzz/ext4_seeds/$(echo "$o" | tr -dc a-z0-9); rm -f "$n"
 *     truncate -s 256K "$n"; mke2fs -q -F -b 1024 -N 32 -O ^has_journal \
 *       $o -d build/fuzz/t "$n"
 *   done
 * Run:
 *   build/fuzz/fuzz_ext4 -max_len=262144 -timeout=10 build/fuzz/ext4_seeds
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/fs.h"
#include "tests/support/file_bdev.h"

#define FUZZ_MAX_ENTRIES 16
#define FUZZ_DISK_SIZE (256u * 1024)
/* 16 KiB of head and of tail reach every extent tree level and indirect
 * block kind of a small image; 64 KiB only cost copying. */
#define FUZZ_CHUNK (16 * 1024)

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

/* Read the head and the tail of a file: enough to walk every map level
 * without allocating what a damaged i_size claims. */
static void read_file(struct fs *fs, const char *path, uint8_t *buf)
{
	struct fs_file *f;
	uint64_t size, n;

	if (ext4_fs_ops.open(fs, path, &f) != 0)
		return;
	size = ext4_fs_ops.size(f);
	n = size < FUZZ_CHUNK ? size : FUZZ_CHUNK;
	ext4_fs_ops.read(f, 0, buf, (size_t)n);
	if (size > n) /* else the tail was the head */
		ext4_fs_ops.read(f, size - n, buf, (size_t)n);
	ext4_fs_ops.read(f, size / 2, buf, 1 < size ? 1 : 0);
	ext4_fs_ops.read(f, size, buf, 1); /* past the end */
	ext4_fs_ops.close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
		"/f", "/l", "/d/g", "/vmlinuz", "/boot/vmlinuz", "/../d/./g",
	};
	static uint8_t buf[FUZZ_CHUNK];
	struct root_names *names = calloc(1, sizeof(*names));
	struct blockdev bd;
	struct fs *fs;

	mem_bdev_init_sized(data, size,
			    size > FUZZ_DISK_SIZE ? size : FUZZ_DISK_SIZE, 512, &bd);
	if (names && ext4_fs_ops.mount(&bd, &fs) == 0) {
		ext4_fs_ops.list(fs, "/", collect, names);
		for (unsigned i = 0; i < names->count; i++) {
			if (names->is_dir[i])
				ext4_fs_ops.list(fs, names->path[i], ignore, NULL);
			else
				read_file(fs, names->path[i], buf);
		}
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			read_file(fs, fixed[i], buf);
		ext4_fs_ops.unmount(fs);
	}
	free(names);
	file_bdev_close(&bd);
	return 0;
}
