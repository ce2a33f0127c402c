/* SPDX-License-Identifier: MIT */
/*
 * The virtio devices vqboot drives: every virtio-blk disk and every disk
 * behind a virtio-scsi controller through its own drivers, and the first
 * virtio-gpu. Opening takes them from the firmware;
 * closing resets each one and gives it back, so that the firmware (and a
 * kernel's EFI stub) finds them as before.
 */
#ifndef VQ_VDEVS_H
#define VQ_VDEVS_H

#include "efi/vqefi.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_gpu.h"
#include "virtio/virtio_scsi.h"

#define VDEVS_MAX_DISKS 16
#define VDEVS_MAX_SCSI 8

struct vdevs {
	struct efi_pci_dev *pci;
	unsigned npci;
	struct vblk *blk[VDEVS_MAX_DISKS];
	struct efi_pci_dev *blk_pci[VDEVS_MAX_DISKS];
	unsigned nblk;
	struct vscsi *scsi[VDEVS_MAX_SCSI];
	struct efi_pci_dev *scsi_pci[VDEVS_MAX_SCSI];
	unsigned nscsi;
	struct vgpu *gpu;
	struct efi_pci_dev *gpu_pci;
	EFI_EVENT exit_event;    /* vdevs_reset_at_exit() */
};

struct vdevs_opts {
	bool want_blk;
	bool want_scsi;
	bool want_gpu;
	bool force_bounce;
	uint64_t timeout_us; /* per request; 0: the driver's default */
};

/*
 * One pair per device kind, used by every caller: take the function from the
 * firmware's drivers and open it with vqboot's driver; close the driver
 * (which resets the device) and give the function back, reconnecting the
 * firmware's drivers. A take that fails leaves the function given back.
 */
EFI_STATUS vdevs_take_blk(struct efi_pci_dev *d, bool force_bounce,
			  uint64_t timeout_us, struct vblk **ret);
void vdevs_release_blk(struct efi_pci_dev *d, struct vblk *b);

/**
 * @before_start, if set, runs with @ctx between open and vgpu_start (to
 * choose modes); with @start false the GPU is opened but not started.
 */
EFI_STATUS vdevs_take_gpu(struct efi_pci_dev *d,
			  void (*before_start)(void *ctx, struct vgpu *g),
			  void *ctx, bool start, struct vgpu **ret);
void vdevs_release_gpu(struct efi_pci_dev *d, struct vgpu *g);

/** The virtio-scsi pair: the take also scans the controller. */
EFI_STATUS vdevs_take_scsi(struct efi_pci_dev *d, bool force_bounce,
			   uint64_t timeout_us, struct vscsi **ret);
void vdevs_release_scsi(struct efi_pci_dev *d, struct vscsi *c);

/**
 * Every disk opened, virtio-blk first, then each controller's SCSI disks
 * in target and LUN order: up to @max blockdevs into @ret; returns the count.
 */
unsigned vdevs_disks(struct vdevs *v, struct blockdev **ret, unsigned max);

/** Bytes bounced by every disk driver so far. */
uint64_t vdevs_bounced_bytes(const struct vdevs *v);

/** Find and open the devices. Devices that fail are logged and skipped. */
EFI_STATUS vdevs_open(struct vdevs *v, const struct vdevs_opts *o);

/**
 * Let the next vdevs_close give the disks back reset but leave the
 * firmware's drivers unbound until efi_pci_reconnect_deferred(): for a
 * Linux kernel, which takes its initrd through LoadFile2 and reads no disk
 * through the firmware. The GPU is always reconnected (the kernel's EFI
 * stub takes the firmware's GOP for its early console).
 */
void vdevs_defer_disk_reconnect(struct vdevs *v);

/**
 * Keep the disks while a kernel runs its EFI stub (it reads its initrds
 * through vqboot's drivers): an EVT_SIGNAL_EXIT_BOOT_SERVICES event resets
 * each disk's device, as the firmware's own drivers do theirs, so that
 * nothing DMAs into memory the kernel then owns. The event only writes the
 * device status (UEFI forbids allocating or changing the memory map
 * there). vdevs_close (after a StartImage that returned) closes the event.
 */
EFI_STATUS vdevs_reset_at_exit(struct vdevs *v);

/** Reset every device, free everything and give each back. Idempotent. */
void vdevs_close(struct vdevs *v);

/**
 * Take the first virtio-gpu that works, after a vdevs_open that left it
 * (want_gpu false) with the firmware: vqboot takes it only once it has
 * something to show. EFI_NOT_FOUND without one; already open is success.
 */
EFI_STATUS vdevs_open_gpu(struct vdevs *v);

/** Close only the GPU (before handing the display back). */
void vdevs_close_gpu(struct vdevs *v);

#endif
