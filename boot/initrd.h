/* SPDX-License-Identifier: MIT */
/*
 * The answer the initrd's LoadFile2 handle gives, without EFI: the Linux
 * EFI stub first asks for the size (Buffer NULL, whatever *BufferSize
 * holds; the reply is "buffer too small" and the size), then passes a
 * buffer and expects the bytes. efi/image.c wraps this in the protocol.
 */
#ifndef VQ_INITRD_H
#define VQ_INITRD_H

#include "lib/compat.h"

/*
 * Where the bytes come from: @read fills @buf with all @size bytes of the
 * initrd (from memory, or from the disk straight into the caller's buffer)
 * and returns 0 or a negative VQ_E* code, having logged what failed.
 */
struct initrd_src {
	size_t size;
	int (*read)(void *ctx, void *buf, size_t size);
	void *ctx;
};

/**
 * One LoadFile2 call on the initrd @src. @io_size is the caller's buffer
 * size in, and the initrd's size out, always (also on failure: that is how
 * the size query is answered). @buf may be NULL.
 * Returns 0 when @buf got all the initrd's bytes (nothing past them is
 * written), -VQ_ENOSPC when @buf is NULL or too small (@buf untouched and
 * nothing read), -VQ_ENOTSUP for @boot_policy (an initrd is no boot file),
 * -VQ_EINVAL when @io_size is NULL; else what @read returned (@buf may
 * then hold part of the initrd). Each call with room reads again.
 */
int initrd_lf2_read(const struct initrd_src *src, bool boot_policy,
		    size_t *io_size, void *buf);

/** initrd_lf2_read() on @size bytes at @data, copied. */
int initrd_lf2_load(const void *data, size_t size, bool boot_policy,
		    size_t *io_size, void *buf);

#endif
