/* SPDX-License-Identifier: MIT */
/* The one mapping between VQ_E* codes and EFI_STATUS. */
#include "efi/vqefi.h"

static const struct {
	int vq;
	EFI_STATUS efi;
} status_map[] = {
	{ VQ_EINVAL, EFI_INVALID_PARAMETER },
	{ VQ_ENOMEM, EFI_OUT_OF_RESOURCES },
	{ VQ_EIO, EFI_DEVICE_ERROR },
	{ VQ_ETIMEDOUT, EFI_TIMEOUT },
	{ VQ_EBROKEN, EFI_DEVICE_ERROR },
	{ VQ_ENODEV, EFI_NOT_FOUND },
	{ VQ_ENOTSUP, EFI_UNSUPPORTED },
	{ VQ_ENOSPC, EFI_BUFFER_TOO_SMALL },
	{ VQ_EAGAIN, EFI_NOT_READY },
	{ VQ_ENOENT, EFI_NOT_FOUND },
	{ VQ_ECORRUPT, EFI_VOLUME_CORRUPTED },
	{ VQ_ERANGE, EFI_INVALID_PARAMETER },
	{ VQ_EROFS, EFI_WRITE_PROTECTED },
	{ VQ_ENOTDIR, EFI_NOT_FOUND },
	{ VQ_ELOOP, EFI_VOLUME_CORRUPTED },
	{ VQ_ESHORT, EFI_DEVICE_ERROR },
	{ VQ_EUNSUPP, EFI_UNSUPPORTED },
	{ VQ_ENEEDRESET, EFI_DEVICE_ERROR },
	{ VQ_ECANCELED, EFI_ABORTED },
	{ VQ_E2BIG, EFI_BAD_BUFFER_SIZE },
	{ VQ_ESECURITY, EFI_SECURITY_VIOLATION },
	{ VQ_ESECURITY, EFI_ACCESS_DENIED },
};

EFI_STATUS efi_from_vq(int err)
{
	if (err < 0)
		err = -err;
	if (!err)
		return EFI_SUCCESS;
	for (size_t i = 0; i < ARRAY_SIZE(status_map); i++)
		if (status_map[i].vq == err)
			return status_map[i].efi;
	return EFI_DEVICE_ERROR;
}

int vq_from_efi(EFI_STATUS st)
{
	if (st == EFI_SUCCESS)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(status_map); i++)
		if (status_map[i].efi == st)
			return -status_map[i].vq;
	return -VQ_EIO;
}

static const struct {
	EFI_STATUS st;
	const char *name;
} status_names[] = {
	{ EFI_SUCCESS, "success" },
	{ EFI_LOAD_ERROR, "load error" },
	{ EFI_INVALID_PARAMETER, "invalid parameter" },
	{ EFI_UNSUPPORTED, "unsupported" },
	{ EFI_BAD_BUFFER_SIZE, "bad buffer size" },
	{ EFI_BUFFER_TOO_SMALL, "buffer too small" },
	{ EFI_NOT_READY, "not ready" },
	{ EFI_DEVICE_ERROR, "I/O error" },
	{ EFI_WRITE_PROTECTED, "write protected" },
	{ EFI_OUT_OF_RESOURCES, "out of memory" },
	{ EFI_VOLUME_CORRUPTED, "corrupted data" },
	{ EFI_NOT_FOUND, "not found" },
	{ EFI_ACCESS_DENIED, "refused by Secure Boot (access denied)" },
	{ EFI_TIMEOUT, "timed out" },
	{ EFI_ABORTED, "aborted" },
	{ EFI_SECURITY_VIOLATION, "refused by Secure Boot" },
};

const char *efi_status_name(EFI_STATUS st)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_names); i++)
		if (status_names[i].st == st)
			return status_names[i].name;
	return "unknown EFI status";
}
