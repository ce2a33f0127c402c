/* SPDX-License-Identifier: MIT */
/*
 * Deflate (RFC 1951) and zlib (RFC 1950) decompression into a flat buffer,
 * for btrfs's zlib-compressed extents. The whole output is the window, so
 * there is no state between calls and no size limit beyond @dst_cap.
 */
#ifndef VQ_INFLATE_H
#define VQ_INFLATE_H

#include "lib/compat.h"

/** Decompress a zlib stream (RFC 1950 header + RFC 1951 deflate + Adler-32, checked)
 *  from @src into @dst. Stops at the end of the stream. Writes at most @dst_cap bytes;
 *  -VQ_ENOSPC if the output would be larger, -VQ_ECORRUPT on malformed input
 *  (logged once, naming the reason and the input offset). *ret_len = bytes written.
 *  A stream that needs a preset dictionary (FDICT) gives -VQ_ENOTSUP. */
int vq_inflate_zlib(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len);

/** The same for a raw deflate stream (no header, no checksum). */
int vq_inflate_raw(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len);

/** Adler-32 (RFC 1950 §8.2) of @len bytes, continuing from @adler (start with 1). */
uint32_t vq_adler32(uint32_t adler, const void *buf, size_t len);

#endif
