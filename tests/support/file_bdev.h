/* SPDX-License-Identifier: MIT */
/* A blockdev over a disk-image file or a memory buffer, for host tests. */
#ifndef VQ_FILE_BDEV_H
#define VQ_FILE_BDEV_H

#include "lib/blockdev.h"

/* Whole file as a disk with @block_size logical blocks. */
int file_bdev_open(const char *path, uint32_t block_size, struct blockdev *ret);
void file_bdev_close(struct blockdev *bd);

/* A disk over @len bytes of memory (not copied; len rounded down). */
void mem_bdev_init(const void *data, size_t len, uint32_t block_size,
		   struct blockdev *ret);

/* A disk of @size bytes (rounded down to blocks) whose first @len bytes are
 * @data and the rest zeros: a fuzz input can be the head of a volume far
 * larger than itself. */
void mem_bdev_init_sized(const void *data, size_t len, uint64_t size,
			 uint32_t block_size, struct blockdev *ret);

/* Number of read_blocks calls and blocks read since open (both kinds). */
struct bdev_counts {
	uint64_t calls;
	uint64_t blocks;
};
void bdev_counts_get(const struct blockdev *bd, struct bdev_counts *ret);

/* A whole file in malloc()ed memory with a NUL after it; aborts the test
 * binary, naming the file, when it cannot be read. */
void *test_slurp(const char *path, size_t *ret_size);

/* Path of a generated test image: $VQ_TEST_IMAGES/name (static buffer). */
const char *test_image(const char *name);

#endif
