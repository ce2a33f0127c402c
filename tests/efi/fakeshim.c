/* SPDX-License-Identifier: MIT */
/*
 * A test double of an older shim, for tests/qemu/test_secureboot.py: it
 * installs SHIM_LOCK, whose Verify accepts any PE image (a real shim checks
 * db, MOK and its vendor certificate), does not hook LoadImage (shim 16
 * does; shim 15 did not), and starts \EFI\BOOT\grubx64.efi from its own
 * volume, as shim does. With it, a kernel that the firmware's db does not
 * trust boots only if vqboot lets the firmware accept the buffer shim
 * verified.
 */
#include <efi.h>
#include <efilib.h>

static EFI_GUID shim_lock_guid = { 0x605dab50, 0xe046, 0x4300,
	{ 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23 } };

/* Plain C, not EFIAPI, like shim's. */
static EFI_STATUS fake_verify(void *buf, UINT32 size)
{
	const UINT8 *b = buf;

	Print(L"fakeshim: Verify(%u bytes)\n", size);
	return size > 2 && b[0] == 'M' && b[1] == 'Z' ? EFI_SUCCESS : EFI_SECURITY_VIOLATION;
}

static struct {
	EFI_STATUS (*verify)(void *buf, UINT32 size);
	void *hash, *context;
} fake_lock = { fake_verify, NULL, NULL };

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	EFI_LOADED_IMAGE *li;
	EFI_HANDLE lock_handle = NULL, next = NULL;
	EFI_STATUS st;

	InitializeLib(image, systab);
	st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li);
	if (EFI_ERROR(st))
		return st;
	st = BS->InstallProtocolInterface(&lock_handle, &shim_lock_guid,
					  EFI_NATIVE_INTERFACE, &fake_lock);
	if (EFI_ERROR(st))
		return st;
	Print(L"fakeshim: SHIM_LOCK installed, starting grubx64.efi\n");
	st = BS->LoadImage(FALSE, image,
			   FileDevicePath(li->DeviceHandle, L"\\EFI\\BOOT\\grubx64.efi"),
			   NULL, 0, &next);
	if (!EFI_ERROR(st))
		st = BS->StartImage(next, NULL, NULL);
	Print(L"fakeshim: second stage returned %r\n", st);
	BS->UninstallProtocolInterface(lock_handle, &shim_lock_guid, &fake_lock);
	return st;
}
