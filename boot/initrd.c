/* SPDX-License-Identifier: MIT */
#include "boot/initrd.h"
#include "lib/err.h"
#include "lib/plat.h"

int initrd_lf2_load(const void *data, size_t size, bool boot_policy,
		    size_t *io_size, void *buf)
{
	if (!io_size)
		return -VQ_EINVAL;
	if (boot_policy)
		return -VQ_ENOTSUP;
	/* UEFI 2.10 §13.2: too small, or a size query (the Linux stub's first
	 * call passes NULL with *BufferSize 0, but any value must do). */
	if (!buf || *io_size < size) {
		*io_size = size;
		return -VQ_ENOSPC;
	}
	if (size)
		plat_copy(buf, data, size);
	*io_size = size;
	return 0;
}
