/* SPDX-License-Identifier: MIT */
/*
 * The virtio devices vqboot drives: every virtio-blk disk through its own
 * driver, and the first virtio-gpu. Opening takes them from the firmware;
 * closing resets each one and gives it back, so that the firmware (and a
 * kernel's EFI stub) finds them as before.
 */
#ifndef VQ_VDEVS_H
#define VQ_VDEVS_H

#include "efi/vqefi.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_gpu.h"

#define VDEVS_MAX_DISKS 16

struct vdevs {
	struct efi_pci_dev *pci;
	unsigned npci;
	struct vblk *blk[VDEVS_MAX_DISKS];
	struct efi_pci_dev *blk_pci[VDEVS_MAX_DISKS];
	unsigned nblk;
	struct vgpu *gpu;
	struct efi_pci_dev *gpu_pci;
};

struct vdevs_opts {
	bool want_blk;
	bool want_gpu;
	bool force_bounce;
	uint64_t timeout_us; /* per request; 0: the driver's default */
};

/** Find and open the devices. Devices that fail are logged and skipped. */
EFI_STATUS vdevs_open(struct vdevs *v, const struct vdevs_opts *o);

/** Reset every device, free everything and give each back. Idempotent. */
void vdevs_close(struct vdevs *v);

/** Close only the GPU (before handing the display back). */
void vdevs_close_gpu(struct vdevs *v);

#endif
