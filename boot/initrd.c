/* SPDX-License-Identifier: MIT */
#include "boot/initrd.h"
#include "lib/err.h"
#include "lib/plat.h"

int initrd_lf2_read(const struct initrd_src *src, bool boot_policy,
		    size_t *io_size, void *buf)
{
	int r;

	if (!io_size)
		return -VQ_EINVAL;
	if (boot_policy)
		return -VQ_ENOTSUP;
	/* UEFI 2.10 §13.2: too small, or a size query (the Linux stub's first
	 * call passes NULL with *BufferSize 0, but any value must do). */
	if (!buf || *io_size < src->size) {
		*io_size = src->size;
		return -VQ_ENOSPC;
	}
	*io_size = src->size;
	if (!src->size)
		return 0;
	r = src->read(src->ctx, buf, src->size);
	return r > 0 ? -VQ_EIO : r;
}

struct mem_src {
	const void *data;
};

static int read_mem(void *ctx, void *buf, size_t size)
{
	const struct mem_src *m = ctx;

	plat_copy(buf, m->data, size);
	return 0;
}

int initrd_lf2_load(const void *data, size_t size, bool boot_policy,
		    size_t *io_size, void *buf)
{
	struct mem_src m = { data };
	struct initrd_src src = { size, read_mem, &m };

	return initrd_lf2_read(&src, boot_policy, io_size, buf);
}
