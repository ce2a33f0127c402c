/* SPDX-License-Identifier: MIT */
/*
 * Boot Loader Interface: EFI variables under vendor GUID
 * 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f that systemd-analyze and bootctl read
 * in the booted system. Times are UTF-16 decimal microseconds.
 */
#ifndef VQ_BLI_H
#define VQ_BLI_H

#include "efi/vqefi.h"

/** LoaderTimeInitUSec (now) and LoaderInfo; call first thing. */
void bli_set_init(void);

/** LoaderEntrySelected (@id) and LoaderTimeExecUSec (now); before handoff. */
void bli_set_exec(const char *entry_id);

/** Microseconds since the machine started, as the firmware's TSC reads it. */
uint64_t bli_now_us(void);

#endif
