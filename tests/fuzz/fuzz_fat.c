/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/fat.c. The input is the head of a FAT volume
 * (at most 128 KiB: -max_len below) on a 64 MiB disk that reads zeros past
 * it, so that small inputs describe volumes of any FAT type, FAT32 too, and
 * libFuzzer need not copy megabytes per run. The harness mounts it, lists
 * the root and, two levels deep, lists
 * each directory and opens and reads each file (head, tail and a piece
 * across the middle; 40 files and listings at most), plus a few fixed paths. A file that opens must read
 * in full range and refuse a read past its end. Any crash, sanitizer
 * report, leak, hang or broken invariant is a bug.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_fat); run: `make fuzz`.
 * fuzz-options: -max_len=131072
 *
 * Seeds: small volumes of each FAT type with long names, a subdirectory
 * and a file of a few clusters:
 *   mkdir -p build/fuzz/fat_seeds build/fuzz/ft/Sub && cd build/fuzz
 *   echo hi > ft/hello.txt && seq 1 900 > ft/Sub/Numbers.Long.Name
 *   mkfs.fat -C -F 12 -s 1 -r 32 fat_seeds/f12 128 >/dev/null
 *   mkfs.fat -C -F 16 -s 1 -r 32 fat_seeds/f16 2100 >/dev/null
 *   for f in f12 f16; do
 *     MTOOLS_SKIP_CHECK=1 mcopy -s -i fat_seeds/$f ft/hello.txt ft/Sub ::
 *   done
 *   cd -
 * (FAT32 needs 65525 clusters, 33 MiB at 512-byte clusters: too big for a
 * useful seed; the FAT32 paths are reached by mutating BPB fields.)
 * Run:
 *   build/fuzz/fuzz_fat -max_len=131072 -timeout=10 build/fuzz/fat_seeds
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/fs.h"
#include "tests/support/file_bdev.h"
#include "lib/plat.h"

/* fs.c refers to the ext4 driver; this harness is about FAT only, mounts
 * through fat_fs_ops directly and never calls fs_mount. */
#ifdef FUZZ_NO_EXT4
const struct fs_ops ext4_fs_ops = { .name = "ext4" };
#endif

#define LIST_MAX 8
#define PIECE 4096
#define DISK_SIZE (64u << 20)
/* Files read and directories listed per input: a directory that holds
 * itself (or its parent) would otherwise make 8 + 64 + 512 opens, each
 * searching a directory again, and the run slow, not more thorough. */
#define FUZZ_BUDGET 40

static unsigned budget;

struct names {
	char name[LIST_MAX][256];
	bool is_dir[LIST_MAX];
	unsigned n;
};

static int collect(void *ctx, const struct fs_dirent *e)
{
	struct names *l = ctx;

	if (strlen(e->name) >= sizeof(e->name))
		abort();
	memcpy(l->name[l->n], e->name, sizeof(e->name));
	l->is_dir[l->n] = e->is_dir;
	return ++l->n == LIST_MAX;
}

static void read_file(struct fs *fs, const char *path)
{
	static uint8_t buf[PIECE];
	struct fs_file *f;
	uint64_t size;

	if (!budget || (budget--, fs->ops->open(fs, path, &f)))
		return;
	size = fs->ops->size(f);
	if (fs->ops->read(f, 0, buf, size < PIECE ? size : PIECE))
		abort();
	if (size > PIECE &&
	    (fs->ops->read(f, size - PIECE, buf, PIECE) ||
	     fs->ops->read(f, size / 2 - PIECE / 2, buf, PIECE)))
		abort();
	if (fs->ops->read(f, size, buf, 1) == 0)
		abort();
	fs->ops->close(f);
}

static void walk(struct fs *fs, const char *dir, int depth)
{
	struct names *l = calloc(1, sizeof(*l));
	/* The walk goes 3 levels deep (depth 2, then 1, then 0) under "", each
	 * adding '/' and a name of up to 255 bytes, plus the NUL. */
	char path[3 * (1 + 255) + 1];

	if (budget) {
		budget--;
		fs->ops->list(fs, dir, collect, l);
	}
	for (unsigned i = 0; i < l->n; i++) {
		size_t dl = strlen(dir);

		memcpy(path, dir, dl);
		path[dl] = '/';
		memcpy(path + dl + 1, l->name[i], strlen(l->name[i]) + 1);
		if (!l->is_dir[i])
			read_file(fs, path);
		else if (depth > 0)
			walk(fs, path, depth - 1);
	}
	free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blockdev bd;
	struct fs *fs;
	void *buf;
	size_t n;

	mem_bdev_init_sized(data, size, size > DISK_SIZE ? size : DISK_SIZE, 512,
			    &bd);
	budget = FUZZ_BUDGET;
	if (fat_fs_ops.mount(&bd, &fs) == 0) {
		walk(fs, "", 2);
		budget = 3; /* the fixed paths always */
		read_file(fs, "/EFI/BOOT/BOOTX64.EFI");
		read_file(fs, "/sub/../SUB/./numbers.long.name");
		if (fs_read_all(fs, "/hello.txt", 64 << 10, &buf, &n) == 0)
			plat_free(buf);
		fs->ops->unmount(fs);
	}
	file_bdev_close(&bd);
	return 0;
}
