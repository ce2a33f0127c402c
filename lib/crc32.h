/* SPDX-License-Identifier: MIT */
/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of GPT
 * headers and entry arrays (UEFI 2.10 §5.3.2) and of gzip. Inversions are
 * inside: start from 0 and chain with the previous return value (zlib's
 * convention).
 */
#ifndef VQ_CRC32_H
#define VQ_CRC32_H

#include "lib/compat.h"

uint32_t crc32_ieee(uint32_t crc, const void *buf, size_t len);

#endif
