/* SPDX-License-Identifier: MIT */
/*
 * Measured boot through the firmware's EFI_TCG2_PROTOCOL (TCG EFI Protocol
 * Specification): what vqboot read and decided is extended into the PCRs
 * and logged in the firmware's event log before the kernel starts. Which
 * data goes where is boot/measure.h's plan. Without a TPM nothing happens.
 */
#ifndef VQ_TPM_H
#define VQ_TPM_H

#include "efi/vqefi.h"
#include "boot/measure.h"

/** True when the firmware offers EFI_TCG2_PROTOCOL with a TPM present. */
bool tpm_present(void);

struct tpm_boot {
	struct measure_bufs bufs;
	struct measure_plan plan;
	bool ready;
};

/**
 * Read and plan the measurements for booting @e as loaded in @l (while the
 * disks are still ours). A no-op without a TPM.
 */
void tpm_boot_prepare(struct tpm_boot *t, struct boot_scan *s,
		      const struct bls_entry *e, const struct loaded_entry *l,
		      bool cmdline_edited);

/** Measure the plan: after LoadImage accepted the image, before StartImage. */
void tpm_boot_measure(struct tpm_boot *t);

/**
 * Measure the initrd events of @l's plan (deferred initrds, now read into
 * @data): the same events tpm_boot_measure() would have measured had they
 * been read before StartImage, none when the kernel's stub measures them
 * itself. No memory is allocated for them but the events' own. A no-op
 * without a TPM.
 */
void tpm_measure_initrds(const struct loaded_entry *l, const void *data);

void tpm_boot_free(struct tpm_boot *t);

#endif
