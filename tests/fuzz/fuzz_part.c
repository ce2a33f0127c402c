/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/part.c. The input is a whole disk image held in
 * memory, read as a disk of 512-byte and, when long enough, of 4096-byte
 * logical blocks. A second pass re-seals the primary GPT's CRCs, so that
 * mutated header fields and entries get past the CRC checks. Every partition found must lie inside the disk, and
 * part_open must give a view whose first and last blocks read back. Any
 * crash, sanitizer report, leak, hang or broken invariant is a bug.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_part); run: `make fuzz`.
 * Disks of at most 64 KiB (128 sectors, or 16 blocks of 4096: room for both
 * GPTs and a partition): a larger input only costs libFuzzer copying.
 * fuzz-options: -max_len=65536
 *
 * Seeds: small disks with each kind of table (GPT at both block sizes,
 * MBR with logical partitions):
 *   mkdir -p build/fuzz/part_seeds && cd build/fuzz/part_seeds
 *   truncate -s 64K gpt && printf 'label: gpt\nfirst-lba: 34\n,16\n,16\n' |
 *     sfdisk -q gpt
 *   truncate -s 64K mbr && printf 'label: dos\n1,10,ef\n11,80,5\n12,4,83\n20,4,ea\n' |
 *     sfdisk -q mbr
 *   truncate -s 64K gpt4k && printf '%s\n' g n 1 6 +16K w |
 *     fdisk -b 4096 gpt4k >/dev/null
 *   cd -
 * Run:
 *   build/fuzz/fuzz_part -max_len=65536 -timeout=10 build/fuzz/part_seeds
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/part.h"
#include "tests/support/file_bdev.h"

static void check_view(struct blockdev *disk, const struct partition *p)
{
	struct blockdev view;
	uint8_t *buf;

	if (part_open(disk, p, &view))
		abort(); /* the table promised it fits */
	if (view.size != p->num_lba * disk->block_size || view.size == 0)
		abort();
	buf = malloc(view.block_size);
	if (bdev_read(&view, 0, buf, view.block_size) ||
	    bdev_read(&view, view.size - view.block_size, buf, view.block_size))
		abort();
	free(buf);
}

static void run(const uint8_t *data, size_t size, uint32_t block_size)
{
	struct part_table *t = malloc(sizeof(*t));
	struct blockdev disk;
	uint64_t nblocks;

	mem_bdev_init(data, size, block_size, &disk);
	nblocks = disk.size / block_size;
	if (part_read_table(&disk, t) == 0) {
		if (t->count > PART_MAX)
			abort();
		for (unsigned i = 0; i < t->count; i++) {
			const struct partition *p = &t->parts[i];

			if (p->start_lba >= nblocks ||
			    p->num_lba > nblocks - p->start_lba)
				abort();
			if (memchr(p->name, '\0', sizeof(p->name)) == NULL)
				abort();
			check_view(&disk, p);
		}
	}
	file_bdev_close(&disk);
	free(t);
}

/* Recompute the entry-array and header CRCs of the GPT header at byte 512,
 * as a tool writing a (hostile) table would. */
static void reseal_gpt(uint8_t *d, size_t size)
{
	uint8_t *h = d + 512;
	uint32_t hsize = get_le32(h + 12);
	uint64_t entries = get_le64(h + 72);
	uint64_t bytes = (uint64_t)get_le32(h + 80) * get_le32(h + 84);

	if (entries < size / 512 && bytes <= size - entries * 512)
		put_le32(h + 88, crc32_ieee(0, d + entries * 512, bytes));
	if (hsize > 512)
		return;
	put_le32(h + 16, 0);
	put_le32(h + 16, crc32_ieee(0, h, hsize));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 512)
		return 0;
	run(data, size, 512);
	if (size >= 3 * 4096)
		run(data, size, 4096);
	if (size >= 1024 && !memcmp(data + 512, "EFI PART", 8)) {
		uint8_t *copy = malloc(size);

		memcpy(copy, data, size);
		reseal_gpt(copy, size);
		run(copy, size, 512);
		free(copy);
	}
	return 0;
}
