/* SPDX-License-Identifier: MIT */
/*
 * Services the platform gives the EFI-free layers: a clock, a delay, heap
 * memory and the log's output. The layers call plat_*(); the platform
 * installs its implementation once, before anything else runs
 * (efi/platform.c on UEFI, tests/support/host_platform.c on the host), so
 * that no call runs from the ground floor up to the code that implements it.
 */
#ifndef VQ_PLAT_H
#define VQ_PLAT_H

#include "lib/compat.h"

struct plat_ops {
	uint64_t (*now_us)(void);
	void (*delay_us)(uint32_t us);
	void *(*alloc)(size_t size);
	void (*free)(void *p);
	void (*log_write)(int level, const char *line);
	void (*copy)(void *dst, const void *src, size_t n);
};

/** Install @ops (every member set); until then the services do nothing. */
void plat_set_ops(const struct plat_ops *ops);

/** Monotonic microseconds since an arbitrary start. */
uint64_t plat_now_us(void);

/** Busy-wait for about @us microseconds (used between polls of a register). */
void plat_delay_us(uint32_t us);

/** Zeroed heap memory; NULL when out of memory. Not DMA-able. */
void *plat_alloc(size_t size);
void plat_free(void *p);

/**
 * Copy @n bytes between buffers that do not overlap, at the platform's best
 * speed: for the large copies (an initrd, bounce buffers). gnu-efi's memcpy
 * moves one byte at a time; the firmware's CopyMem moves words.
 */
void plat_copy(void *dst, const void *src, size_t n);

/** Write one already formatted, NUL-terminated log line (no newline). */
void plat_log_write(int level, const char *line);

#endif
