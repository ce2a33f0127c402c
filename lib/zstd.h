/* SPDX-License-Identifier: MIT */
/*
 * Zstandard (RFC 8878) decompression into a flat buffer, for btrfs's
 * zstd-compressed extents. The whole output is the window, so any window
 * size decodes; there is no state between calls.
 */
#ifndef VQ_ZSTD_H
#define VQ_ZSTD_H

#include "lib/compat.h"

/** Zstandard (RFC 8878) decompression of one or more concatenated frames (skippable
 *  frames skipped; zero bytes after the last frame, as btrfs pads an extent to its
 *  sector size, ignored): raw/RLE/compressed blocks, Huffman and FSE tables, repeat modes,
 *  treeless literals, any window size (btrfs writes frames of at most 128 KiB of
 *  content, possibly without a content size and with a checksum flag: the XXH64
 *  content checksum is verified when present). No dictionaries: a frame with a
 *  dictionary id gives -VQ_ENOTSUP. Writes at most @dst_cap bytes; -VQ_ENOSPC if the
 *  output would be larger, -VQ_ECORRUPT on malformed input (logged once, naming the
 *  reason and the input offset). *ret_len = bytes written. */
int vq_zstd_decompress(const void *src, size_t src_len, void *dst, size_t dst_cap, size_t *ret_len);

/** XXH64 of @len bytes with @seed (the zstd content checksum is its low 32 bits, seed 0). */
uint64_t vq_xxh64(const void *buf, size_t len, uint64_t seed);

#endif
