/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/btrfs.c. A btrfs image spreads its metadata
 * over tens of MiB (superblock at 64 KiB, chunks at 1 MiB and beyond), so
 * the input is a sparse disk: records of a le32 page number, a le16 length
 * (at most 4096) and that many bytes of the page, the rest of which reads
 * as zeros; pages no record names read as zeros, and the last record for a
 * page wins. tests/fuzz/seeds.sh turns real images into this form (the
 * superblock, the blocks of the trees vqboot reads, and file data). The harness
 * mounts the disk, lists the top directory, reads each file there (head,
 * tail, middle) or lists it, and follows a few fixed paths through
 * symlinks and subvolumes. Any crash, sanitizer report, leak or hang is a
 * bug.
 *
 * Run: build/fuzz/fuzz_btrfs -max_len=131072 -timeout=10 build/fuzz/seeds/fuzz_btrfs
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/fs.h"
#include "lib/err.h"

#define FUZZ_PAGE 4096u
#define FUZZ_RECORD_HEAD 6u
#define FUZZ_DISK_PAGES (80u * 1024 * 1024 / FUZZ_PAGE)
#define FUZZ_MAX_ENTRIES 16
#define FUZZ_CHUNK (64 * 1024)

struct sparse_disk {
	const uint8_t *data;
	size_t size;
};

/* The record for page @page, or NULL; *@len gets its data length. */
static const uint8_t *find_page(const struct sparse_disk *d, uint32_t page,
				size_t *len)
{
	const uint8_t *found = NULL;
	size_t off = 0;

	while (d->size - off > FUZZ_RECORD_HEAD) {
		size_t n = (size_t)(d->data[off + 4] | d->data[off + 5] << 8);
		uint32_t p;

		memcpy(&p, d->data + off, 4);
		off += FUZZ_RECORD_HEAD;
		if (n > FUZZ_PAGE)
			n = FUZZ_PAGE;
		if (n > d->size - off)
			n = d->size - off;
		if (p % FUZZ_DISK_PAGES == page) {
			found = d->data + off;
			*len = n;
		}
		off += n;
	}
	return found;
}

static int sparse_read(struct blockdev *bd, uint64_t lba, uint64_t count,
		       void *buf)
{
	const struct sparse_disk *d = bd->ctx;
	uint64_t off = lba * bd->block_size, end = off + count * bd->block_size;
	uint8_t *out = buf;

	if (end > bd->size || end < off)
		abort(); /* the caller broke the read_blocks contract */
	while (off < end) {
		uint32_t page = (uint32_t)(off / FUZZ_PAGE);
		size_t in = off % FUZZ_PAGE, n = FUZZ_PAGE - in, len = 0;
		const uint8_t *src = find_page(d, page, &len);

		if (n > end - off)
			n = (size_t)(end - off);
		memset(out, 0, n);
		if (src && len > in)
			memcpy(out, src + in, len - in < n ? len - in : n);
		out += n;
		off += n;
	}
	return 0;
}

static const struct blockdev_ops sparse_ops = { .read_blocks = sparse_read };

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
	struct sparse_disk disk = { data, size };
	struct root_names *names = calloc(1, sizeof(*names));
	struct blockdev bd = {
		.ops = &sparse_ops,
		.ctx = &disk,
		.name = "fuzz",
		.block_size = 512,
		.size = (uint64_t)FUZZ_DISK_PAGES * FUZZ_PAGE,
	};
	struct fs *fs;

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
