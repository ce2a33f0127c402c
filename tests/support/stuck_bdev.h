/* SPDX-License-Identifier: MIT */
/*
 * A disk that stops answering: it passes reads to another blockdev until
 * its @stick_at-th read (1-based), which fails with -VQ_ESTUCK as a
 * virtio-blk device that would not reset does; from then on it fails every
 * read the same way (it never gets better). Every buffer it failed is
 * watched (host_free_watch), so a parser that frees one is counted, and
 * stuck_bdev_scribble() then writes into all of them, as the device still
 * may: ASan sees a write into anything freed after all.
 */
#ifndef VQ_STUCK_BDEV_H
#define VQ_STUCK_BDEV_H

#include "lib/blockdev.h"

#define STUCK_BDEV_BUFS 16

struct stuck_bdev {
	struct blockdev bd;     /* hand this one to the parser */
	struct blockdev *lower;
	unsigned stick_at;      /* 0: never */
	unsigned reads;         /* read_blocks calls so far, failed ones too */
	unsigned failed;
	unsigned on_stack;      /* failed reads into a stack buffer */
	void *buf[STUCK_BDEV_BUFS];
	size_t len[STUCK_BDEV_BUFS];
};

/** Wrap @lower (same name, block size and size). */
void stuck_bdev_init(struct stuck_bdev *s, struct blockdev *lower,
		     unsigned stick_at);

/** Write a pattern into every buffer a failed read was given. */
void stuck_bdev_scribble(struct stuck_bdev *s);

#endif
