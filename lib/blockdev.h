/* SPDX-License-Identifier: MIT */
/*
 * The small block-device interface every partition and filesystem parser
 * reads through. Implemented by virtio-blk (efi/vblk_bdev.c), by the
 * firmware's BlockIo (efi/), and by a disk-image file in host tests.
 */
#ifndef VQ_BLOCKDEV_H
#define VQ_BLOCKDEV_H

#include "lib/compat.h"

struct blockdev;

/** One piece of a vectored read: @count logical blocks at @lba into @buf. */
struct bdev_iov {
	uint64_t lba;
	uint64_t count;
	void *buf;
};

struct blockdev_ops {
	/**
	 * Read @count whole logical blocks starting at logical block @lba into
	 * @buf. The caller guarantees the range is inside the device. Large
	 * reads should go to the device as large requests.
	 * Returns 0 or a negative VQ_E* value. -VQ_ESTUCK says that a device
	 * that would not stop may still write @buf: whoever owns @buf must
	 * then leak it rather than free or reuse it.
	 */
	int (*read_blocks)(struct blockdev *bd, uint64_t lba, uint64_t count,
			   void *buf);

	/**
	 * Optional. Read all @n pieces of @iov (each inside the device),
	 * possibly several at once and in any order; returns when all are
	 * done, or with the first error once none is still in progress.
	 * NULL: bdev_read_vec() calls read_blocks once per piece.
	 */
	int (*read_blocks_vec)(struct blockdev *bd, const struct bdev_iov *iov,
			       unsigned n);
};

struct blockdev {
	const struct blockdev_ops *ops;
	void *ctx;
	char name[32];        /* for messages: "vblk 00:03.0", "disk.img" */
	uint32_t block_size;  /* logical block size: 512, 4096, ... */
	uint64_t size;        /* bytes; a multiple of block_size */

	/* A partition view: reads add @base (bytes) and go to @parent. */
	struct blockdev *parent;
	uint64_t base;

	/* Set (on the view and every device under it) when a read returned
	 * -VQ_ESTUCK: the device gets no more reads (each fails with
	 * -VQ_ESTUCK at once), and bdev_free leaks instead of freeing. */
	bool stuck;
};

/** True when @bd or a device under it would not stop (see @stuck). */
bool bdev_stuck(const struct blockdev *bd);

/**
 * Free @p, a buffer of a layer that reads through @bd, unless @bd is stuck:
 * then a request still in flight may write into it, so it is leaked. Every
 * parser frees what it read into with this (a stuck read may have been any
 * of them), never with plat_free.
 */
void bdev_free(const struct blockdev *bd, void *p);

/**
 * Read @len bytes at byte @offset. Any alignment; aligned middles go straight
 * to read_blocks in one call. Returns -VQ_ERANGE (naming the device, offset and
 * size) when the range passes the end.
 */
int bdev_read(struct blockdev *bd, uint64_t offset, void *buf, size_t len);

/**
 * Read @n pieces of whole blocks of @bd, letting a device that can keep
 * several requests in flight do so (fragmented files, read-ahead). Each piece
 * is checked against the size of @bd (-VQ_ERANGE). Partition views rewrite
 * @iov in place into blocks of the device underneath, which gets the whole
 * list at once.
 */
int bdev_read_vec(struct blockdev *bd, struct bdev_iov *iov, unsigned n);

#define BDEV_BATCH_MAX 64

/**
 * Byte ranges of one device gathered into bdev_read_vec calls: a file's
 * extents or cluster runs reach the driver together. Whole blocks join the
 * list; a range's unaligned start or end is read at once through bdev_read.
 * ~1.6 KiB: fine on the stack.
 */
struct bdev_batch {
	struct blockdev *bd;
	unsigned n;
	struct bdev_iov iov[BDEV_BATCH_MAX];
};

void bdev_batch_init(struct bdev_batch *b, struct blockdev *bd);

/** Add @len bytes at byte @offset of the device into @buf (read by flush at
 * the latest; a full list is flushed first). */
int bdev_batch_add(struct bdev_batch *b, uint64_t offset, void *buf, size_t len);

/** Read everything gathered; the batch is empty afterwards. */
int bdev_batch_flush(struct bdev_batch *b);

/**
 * Make @ret a view of @parent from byte @offset for @size bytes (a
 * partition). Fails with -VQ_ERANGE when it does not fit.
 */
int bdev_sub(struct blockdev *parent, uint64_t offset, uint64_t size,
	     const char *name, struct blockdev *ret);

#endif
