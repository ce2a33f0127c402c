/* SPDX-License-Identifier: MIT */
/*
 * LZO1X decompression into a flat buffer, for btrfs's lzo-compressed
 * extents (btrfs frames each segment with its own length; this decodes one
 * segment's stream).
 */
#ifndef VQ_LZO_H
#define VQ_LZO_H

#include "lib/compat.h"

/** LZO1X decompression (the format of the Linux kernel's lzo1x_decompress_safe,
 *  including the bitstream-version-1 RLE extension the kernel added), bounds-checked on
 *  input and output. The stream must end with its end marker and nothing after it.
 *  Writes at most @dst_cap bytes; -VQ_ENOSPC if the output would be larger,
 *  -VQ_ECORRUPT on malformed input (logged once, naming the reason and the input
 *  offset). *ret_len = bytes written. */
int vq_lzo1x_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len);

#endif
