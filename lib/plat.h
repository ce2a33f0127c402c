/* SPDX-License-Identifier: MIT */
#ifndef VQ_PLAT_H
#define VQ_PLAT_H

#include "lib/compat.h"

/*
 * Services the platform gives the EFI-free code. efi/platform.c implements
 * them on UEFI; tests/support/host_platform.c on the host.
 */

/** Monotonic microseconds since an arbitrary start. */
uint64_t plat_now_us(void);

/** Busy-wait for about @us microseconds (used between polls of a register). */
void plat_delay_us(uint32_t us);

/** Zeroed heap memory; NULL when out of memory. Not DMA-able. */
void *plat_alloc(size_t size);
void plat_free(void *p);

/** Write one already formatted, NUL-terminated log line (no newline). */
void plat_log_write(int level, const char *line);

#endif
