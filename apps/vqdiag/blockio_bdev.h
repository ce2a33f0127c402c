/* SPDX-License-Identifier: MIT */
/*
 * The firmware's own disk path, for comparisons with vqboot's: the
 * EFI_BLOCK_IO (and the EFI_SIMPLE_FILE_SYSTEM of a partition) that a
 * firmware driver installed for a PCI function, found by device path, and
 * the BlockIo wrapped as a struct blockdev so that the EFI-free parsers run
 * on it too. Everything found here goes away when the device is taken from
 * the firmware (efi_pci_take): use it before, or after efi_pci_give_back.
 */
#ifndef VQ_BLOCKIO_BDEV_H
#define VQ_BLOCKIO_BDEV_H

#include "efi/vqefi.h"
#include "lib/blockdev.h"

struct efi_blockio {
	EFI_HANDLE handle;
	EFI_BLOCK_IO *bio;
	uint32_t media_id;
	struct blockdev bdev;
};

/**
 * Connect the firmware's drivers to PCI function @pci_handle (recursively,
 * so partitions and filesystems appear) and find the BlockIo of the whole
 * disk: the handle whose device path is exactly the function's. Returns
 * EFI_NOT_FOUND when the firmware has no driver on it or no media present.
 */
EFI_STATUS efi_blockio_find(EFI_HANDLE pci_handle, struct efi_blockio *ret);

/**
 * The BlockIo of SCSI target @target, LUN @lun behind the virtio-scsi
 * controller @pci_handle: the handle whose path is the function's plus one
 * SCSI node (what OVMF's VirtioScsiDxe and ScsiBusDxe build).
 */
EFI_STATUS efi_blockio_find_scsi(EFI_HANDLE pci_handle, uint16_t target, uint16_t lun,
				 struct efi_blockio *ret);

struct efi_scsi_addr {
	uint16_t target, lun;
};

/** The SCSI LUNs behind @pci_handle the firmware has a disk BlockIo for. */
unsigned efi_blockio_scsi_luns(EFI_HANDLE pci_handle, struct efi_scsi_addr *ret,
			       unsigned max);

/**
 * The firmware's filesystem on partition @number (the HD node's
 * PartitionNumber, 1-based as in the partition table) of the disk whose
 * BlockIo handle is @disk_handle (for virtio-blk the PCI function itself);
 * EFI_NOT_FOUND when the firmware did not mount one.
 */
EFI_STATUS efi_blockio_find_fs(EFI_HANDLE disk_handle, unsigned number,
			       EFI_FILE_IO_INTERFACE **ret);

/** Page-aligned memory (for buffers both the firmware and vqboot fill). */
void *efi_pages_alloc(size_t size);
void efi_pages_free(void *p, size_t size);

#endif
