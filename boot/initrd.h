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

/**
 * One LoadFile2 call on an initrd of @size bytes at @data. @io_size is the
 * caller's buffer size in, and the initrd's size out, always (also on
 * failure: that is how the size query is answered). @buf may be NULL.
 * Returns 0 when @buf got all @size bytes (nothing past them is written),
 * -VQ_ENOSPC when @buf is NULL or too small (@buf untouched), -VQ_ENOTSUP
 * for @boot_policy (an initrd is no boot file), -VQ_EINVAL when @io_size is
 * NULL.
 */
int initrd_lf2_load(const void *data, size_t size, bool boot_policy,
		    size_t *io_size, void *buf);

#endif
