/* SPDX-License-Identifier: MIT */
/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * XFS v5 metadata and btrfs's default. crc32c_update() takes and returns the
 * raw register, so a checksum over pieces is
 *   ~crc32c_update(crc32c_update(~0u, a, na), b, nb).
 */
#ifndef VQ_CRC32C_H
#define VQ_CRC32C_H

#include "lib/compat.h"

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

/** The usual CRC-32C of @len bytes (initial ~0, final inversion). */
static inline uint32_t crc32c(const void *buf, size_t len)
{
	return ~crc32c_update(~0u, buf, len);
}

#endif
