/* SPDX-License-Identifier: MIT */
/*
 * The firmware's BlockIo and SimpleFileSystem on a PCI function, found by
 * comparing device paths: the whole disk's path is the function's path
 * (OVMF's virtio-blk driver installs BlockIo on the PCI handle itself); a
 * partition's is the function's path plus one HD node (UEFI 2.10 §10.3.5.1).
 */
#include "apps/vqdiag/blockio_bdev.h"
#include "lib/log.h"
#include "lib/fmt.h"

/* The HD node's packed layout (UEFI 2.10 §10.3.5.1): gnu-efi's struct is
 * not packed, so read the fields by offset. */
#define HD_NODE_LEN 42
#define HD_NODE_NUMBER 4

static EFI_GUID blockio_guid = EFI_BLOCK_IO_PROTOCOL_GUID;
static EFI_GUID sfs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
static EFI_GUID devpath_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;

static EFI_DEVICE_PATH_PROTOCOL *path_of(EFI_HANDLE h)
{
	EFI_DEVICE_PATH_PROTOCOL *dp = NULL;

	if (BS->HandleProtocol(h, &devpath_guid, (void **)&dp) != EFI_SUCCESS)
		return NULL;
	return dp;
}

/* Bytes of @dp before its end node; 0 for a malformed path. The walk is
 * bounded: a node shorter than its header ends it. */
static size_t path_len(EFI_DEVICE_PATH_PROTOCOL *dp)
{
	size_t len = 0;

	for (unsigned i = 0; i < 64 && !IsDevicePathEnd(dp); i++) {
		size_t n = DevicePathNodeLength(dp);

		if (n < sizeof(*dp))
			return 0;
		len += n;
		dp = NextDevicePathNode(dp);
	}
	return IsDevicePathEnd(dp) ? len : 0;
}

/*
 * What follows @prefix in @dp: NULL when @dp does not start with it, else
 * the node after it (an end node for the same device).
 */
static EFI_DEVICE_PATH_PROTOCOL *path_after(EFI_DEVICE_PATH_PROTOCOL *dp,
					    EFI_DEVICE_PATH_PROTOCOL *prefix)
{
	size_t plen = path_len(prefix), dlen = path_len(dp);

	if (!plen || dlen < plen || memcmp(dp, prefix, plen))
		return NULL;
	return (EFI_DEVICE_PATH_PROTOCOL *)((uint8_t *)dp + plen);
}

/* The SCSI node (UEFI 2.10 §10.3.4.2): type 3, subtype 2, Pun and Lun. */
#define SCSI_NODE_LEN 8

static bool is_scsi_node(EFI_DEVICE_PATH_PROTOCOL *n, uint16_t target, uint16_t lun)
{
	return DevicePathType(n) == MESSAGING_DEVICE_PATH &&
	       DevicePathSubType(n) == MSG_SCSI_DP &&
	       DevicePathNodeLength(n) >= SCSI_NODE_LEN &&
	       get_le16((uint8_t *)n + 4) == target && get_le16((uint8_t *)n + 6) == lun;
}

/* The handle carrying @guid whose path is @pci_path, optionally plus the HD
 * node of partition @number (0: none). */
static EFI_HANDLE find_handle(EFI_GUID *guid, EFI_DEVICE_PATH_PROTOCOL *pci_path,
			      unsigned number)
{
	EFI_HANDLE *hs = NULL, found = NULL;
	UINTN n = 0;

	if (BS->LocateHandleBuffer(ByProtocol, guid, NULL, &n, &hs) != EFI_SUCCESS)
		return NULL;
	for (UINTN i = 0; i < n && !found; i++) {
		EFI_DEVICE_PATH_PROTOCOL *dp = path_of(hs[i]);
		EFI_DEVICE_PATH_PROTOCOL *rest = dp ? path_after(dp, pci_path) : NULL;

		if (!rest)
			continue;
		if (!number && IsDevicePathEnd(rest))
			found = hs[i];
		else if (number && DevicePathType(rest) == MEDIA_DEVICE_PATH &&
			 DevicePathSubType(rest) == MEDIA_HARDDRIVE_DP &&
			 DevicePathNodeLength(rest) >= HD_NODE_LEN &&
			 get_le32((uint8_t *)rest + HD_NODE_NUMBER) == number &&
			 IsDevicePathEnd(NextDevicePathNode(rest)))
			found = hs[i];
	}
	BS->FreePool(hs);
	return found;
}

static int blockio_read_blocks(struct blockdev *bd, uint64_t lba,
			       uint64_t count, void *buf)
{
	struct efi_blockio *b = bd->ctx;
	EFI_STATUS st;

	if (count > SIZE_MAX / bd->block_size)
		return log_err(-VQ_ERANGE, "%s: %llu blocks overflow", bd->name,
			       (unsigned long long)count);
	st = b->bio->ReadBlocks(b->bio, b->media_id, lba, count * bd->block_size,
				buf);
	if (EFI_ERROR(st))
		return log_err(vq_from_efi(st),
			       "%s: firmware ReadBlocks at LBA %llu (%llu blocks): status 0x%llx",
			       bd->name, (unsigned long long)lba,
			       (unsigned long long)count, (unsigned long long)st);
	return 0;
}

static const struct blockdev_ops blockio_ops = {
	.read_blocks = blockio_read_blocks,
};

static EFI_STATUS blockio_wrap(EFI_HANDLE h, struct efi_blockio *ret)
{
	EFI_BLOCK_IO *bio;
	EFI_BLOCK_IO_MEDIA *m;

	if (BS->HandleProtocol(h, &blockio_guid, (void **)&bio) != EFI_SUCCESS)
		return EFI_NOT_FOUND;
	m = bio->Media;
	if (!m || !m->MediaPresent || m->BlockSize < 512 ||
	    (m->BlockSize & (m->BlockSize - 1)) ||
	    m->LastBlock >= UINT64_MAX / m->BlockSize)
		return EFI_NOT_FOUND;
	*ret = (struct efi_blockio){ .handle = h, .bio = bio,
				     .media_id = m->MediaId };
	ret->bdev = (struct blockdev){ .ops = &blockio_ops, .ctx = NULL,
				       .block_size = m->BlockSize,
				       .size = (m->LastBlock + 1) * m->BlockSize };
	vq_snprintf(ret->bdev.name, sizeof(ret->bdev.name), "firmware BlockIo");
	return EFI_SUCCESS;
}

EFI_STATUS efi_blockio_find(EFI_HANDLE pci_handle, struct efi_blockio *ret)
{
	EFI_DEVICE_PATH_PROTOCOL *pci_path;
	EFI_HANDLE h;
	EFI_STATUS st;

	BS->ConnectController(pci_handle, NULL, NULL, TRUE);
	pci_path = path_of(pci_handle);
	if (!pci_path)
		return EFI_NOT_FOUND;
	h = find_handle(&blockio_guid, pci_path, 0);
	if (!h)
		return EFI_NOT_FOUND;
	st = blockio_wrap(h, ret);
	/* The caller keeps @ret where it is: point the blockdev at it then. */
	if (!EFI_ERROR(st))
		ret->bdev.ctx = ret;
	return st;
}

EFI_STATUS efi_blockio_find_scsi(EFI_HANDLE pci_handle, uint16_t target, uint16_t lun,
				 struct efi_blockio *ret)
{
	EFI_DEVICE_PATH_PROTOCOL *pci_path;
	EFI_HANDLE *hs = NULL, found = NULL;
	UINTN n = 0;
	EFI_STATUS st;

	BS->ConnectController(pci_handle, NULL, NULL, TRUE);
	pci_path = path_of(pci_handle);
	if (!pci_path ||
	    BS->LocateHandleBuffer(ByProtocol, &blockio_guid, NULL, &n, &hs) != EFI_SUCCESS)
		return EFI_NOT_FOUND;
	for (UINTN i = 0; i < n && !found; i++) {
		EFI_DEVICE_PATH_PROTOCOL *dp = path_of(hs[i]);
		EFI_DEVICE_PATH_PROTOCOL *rest = dp ? path_after(dp, pci_path) : NULL;

		if (rest && !IsDevicePathEnd(rest) && is_scsi_node(rest, target, lun) &&
		    IsDevicePathEnd(NextDevicePathNode(rest)))
			found = hs[i];
	}
	BS->FreePool(hs);
	if (!found)
		return EFI_NOT_FOUND;
	st = blockio_wrap(found, ret);
	if (!EFI_ERROR(st))
		ret->bdev.ctx = ret;
	return st;
}

unsigned efi_blockio_scsi_luns(EFI_HANDLE pci_handle, struct efi_scsi_addr *ret,
			       unsigned max)
{
	EFI_DEVICE_PATH_PROTOCOL *pci_path;
	EFI_HANDLE *hs = NULL;
	UINTN n = 0;
	unsigned found = 0;

	BS->ConnectController(pci_handle, NULL, NULL, TRUE);
	pci_path = path_of(pci_handle);
	if (!pci_path ||
	    BS->LocateHandleBuffer(ByProtocol, &blockio_guid, NULL, &n, &hs) != EFI_SUCCESS)
		return 0;
	for (UINTN i = 0; i < n && found < max; i++) {
		EFI_DEVICE_PATH_PROTOCOL *dp = path_of(hs[i]);
		EFI_DEVICE_PATH_PROTOCOL *rest = dp ? path_after(dp, pci_path) : NULL;

		if (!rest || IsDevicePathEnd(rest) ||
		    DevicePathType(rest) != MESSAGING_DEVICE_PATH ||
		    DevicePathSubType(rest) != MSG_SCSI_DP ||
		    DevicePathNodeLength(rest) < SCSI_NODE_LEN ||
		    !IsDevicePathEnd(NextDevicePathNode(rest)))
			continue;
		ret[found++] = (struct efi_scsi_addr){ get_le16((uint8_t *)rest + 4),
						       get_le16((uint8_t *)rest + 6) };
	}
	BS->FreePool(hs);
	return found;
}

EFI_STATUS efi_blockio_find_fs(EFI_HANDLE disk_handle, unsigned number,
			       EFI_FILE_IO_INTERFACE **ret)
{
	EFI_DEVICE_PATH_PROTOCOL *disk_path = path_of(disk_handle);
	EFI_HANDLE h = disk_path && number ? find_handle(&sfs_guid, disk_path, number)
					   : NULL;

	if (!h)
		return EFI_NOT_FOUND;
	return BS->HandleProtocol(h, &sfs_guid, (void **)ret);
}

void *efi_pages_alloc(size_t size)
{
	EFI_PHYSICAL_ADDRESS a = 0;

	if (BS->AllocatePages(AllocateAnyPages, EfiLoaderData,
			      EFI_SIZE_TO_PAGES(size), &a) != EFI_SUCCESS)
		return NULL;
	return (void *)(uintptr_t)a;
}

void efi_pages_free(void *p, size_t size)
{
	if (p)
		BS->FreePages((EFI_PHYSICAL_ADDRESS)(uintptr_t)p, EFI_SIZE_TO_PAGES(size));
}
