/* SPDX-License-Identifier: MIT */
/*
 * Secure Boot: the platform's state (the SecureBoot and SetupMode
 * variables, shim's SHIM_LOCK protocol) and loading an image so that only
 * what the platform trusts can start. vqboot reads kernels with its own
 * driver; the trust decision stays with the firmware's LoadImage, and with
 * shim's verifier when shim started us.
 */
#ifndef VQ_SECUREBOOT_H
#define VQ_SECUREBOOT_H

#include "efi/vqefi.h"

struct sb_state {
	bool secure_boot;   /* SecureBoot == 1: the firmware enforces db/dbx */
	bool setup_mode;    /* SetupMode == 1: no PK, nothing is enforced */
	bool shim;          /* shim's SHIM_LOCK protocol is installed */
};

/** Read the state (cached after the first call). */
const struct sb_state *sb_state(void);

/** "on, setup mode off, shim present" (for logs). */
const char *sb_state_text(const struct sb_state *s);

/**
 * LoadImage of @size bytes at @buf (named @name in messages) from the
 * memory-mapped device path @dp. With shim present and Secure Boot on, the
 * buffer is first verified with shim (db, MOK and shim's vendor
 * certificate), and a shim-verified buffer is accepted by the firmware's
 * own check for this one call, for shims that do not hook LoadImage.
 * A refusal is logged as "NAME: refused by Secure Boot (not signed by a
 * trusted key)", any image handle the firmware made is unloaded, and
 * EFI_SECURITY_VIOLATION is returned.
 */
EFI_STATUS sb_load_image(EFI_DEVICE_PATH *dp, const void *buf, size_t size,
			 const char *name, EFI_HANDLE *ret);

#endif
