/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "lib/err.h"
#include "tests/support/host_platform.h"
#include "tests/support/stuck_bdev.h"

#define STUCK_STACK_SPAN (8u << 20) /* the main thread's stack and more */

static int stuck_read(struct blockdev *bd, uint64_t lba, uint64_t count,
		      void *buf)
{
	struct stuck_bdev *s = bd->ctx;
	size_t len = (size_t)(count * bd->block_size);

	s->reads++;
	if (!s->stick_at || s->reads < s->stick_at)
		return s->lower->ops->read_blocks(s->lower, lba, count, buf);
	if (s->failed < STUCK_BDEV_BUFS) {
		s->buf[s->failed] = buf;
		s->len[s->failed] = len;
	}
	s->failed++;
	/* A buffer on the stack cannot be kept: nobody may hand one over. */
	if ((uintptr_t)buf - (uintptr_t)&len < STUCK_STACK_SPAN ||
	    (uintptr_t)&len - (uintptr_t)buf < STUCK_STACK_SPAN)
		s->on_stack++;
	host_free_watch(buf, len);
	memset(buf, 0x5a, len); /* it wrote some of it already */
	return -VQ_ESTUCK;
}

static const struct blockdev_ops stuck_ops = { .read_blocks = stuck_read };

void stuck_bdev_init(struct stuck_bdev *s, struct blockdev *lower,
		     unsigned stick_at)
{
	memset(s, 0, sizeof(*s));
	s->lower = lower;
	s->stick_at = stick_at;
	s->bd = (struct blockdev){
		.ops = &stuck_ops,
		.ctx = s,
		.block_size = lower->block_size,
		.size = lower->size,
	};
	memcpy(s->bd.name, lower->name, sizeof(s->bd.name));
}

void stuck_bdev_scribble(struct stuck_bdev *s)
{
	for (unsigned i = 0; i < s->failed && i < STUCK_BDEV_BUFS; i++)
		memset(s->buf[i], 0xa5, s->len[i]);
}
