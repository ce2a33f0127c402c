/* SPDX-License-Identifier: MIT */
/*
 * Boot Loader Interface: EFI variables under vendor GUID
 * 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f that systemd-analyze and bootctl read
 * in the booted system. Times are UTF-16 decimal microseconds.
 */
#ifndef VQ_BLI_H
#define VQ_BLI_H

#include "efi/vqefi.h"
#include "boot/bls.h"

/**
 * LoaderTimeInitUSec and LoaderInfo. @entry_counter is efi_counter() as
 * read first thing at entry, converted here, after the calibration.
 */
void bli_set_init(uint64_t entry_counter);

/**
 * LoaderEntrySelected: @e's id, with ".conf" or ".efi" for an entry file,
 * as systemd's bootctl names entries.
 */
void bli_set_entry(const struct bls_entry *e);

/** LoaderTimeExecUSec (now): call last, just before StartImage. */
void bli_set_exec(void);

/** Microseconds since the machine started, as the firmware's TSC reads it. */
uint64_t bli_now_us(void);

#endif
