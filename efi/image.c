/* SPDX-License-Identifier: MIT */
#include "efi/image.h"
#include "efi/secureboot.h"
#include "boot/initrd.h"
#include "lib/log.h"
#include "lib/plat.h"

/* LINUX_EFI_INITRD_MEDIA_GUID: the Linux EFI stub asks the handle carrying
 * this vendor media path for its initrd through LoadFile2. */
static EFI_GUID initrd_media_guid = { 0x5568e427, 0x68fc, 0x4f3d,
	{ 0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68 } };
static EFI_GUID load_file2_guid = { 0x4006c0c1, 0xfcb3, 0x403e,
	{ 0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d } };

struct initrd_dp {
	VENDOR_DEVICE_PATH vendor;
	EFI_DEVICE_PATH end;
} __attribute__((packed));

struct memmap_dp {
	MEMMAP_DEVICE_PATH mem;
	EFI_DEVICE_PATH end;
} __attribute__((packed));

struct initrd_loader {
	EFI_LOAD_FILE_PROTOCOL lf2; /* first: the protocol pointer is ours */
	struct initrd_src src;
	bool from_disk;             /* src reads the disk, not a copy */
	const void *data;           /* the copy, when !from_disk */
};

static void set_end(EFI_DEVICE_PATH *end)
{
	end->Type = END_DEVICE_PATH_TYPE;
	end->SubType = END_ENTIRE_DEVICE_PATH_SUBTYPE;
	end->Length[0] = sizeof(*end);
	end->Length[1] = 0;
}

EFI_STATUS image_alloc(size_t size, void **ret)
{
	EFI_PHYSICAL_ADDRESS addr = 0xffffffffULL;
	UINTN pages = EFI_SIZE_TO_PAGES(size ? size : 1);
	EFI_STATUS st;

	/* Below 4 GiB first: older kernels and 32-bit DMA prefer it. */
	st = BS->AllocatePages(AllocateMaxAddress, EfiLoaderData, pages, &addr);
	if (EFI_ERROR(st))
		st = BS->AllocatePages(AllocateAnyPages, EfiLoaderData, pages, &addr);
	if (EFI_ERROR(st))
		return st;
	*ret = (void *)(uintptr_t)addr;
	return EFI_SUCCESS;
}

void image_free(void *p, size_t size)
{
	if (p)
		BS->FreePages((EFI_PHYSICAL_ADDRESS)(uintptr_t)p,
			      EFI_SIZE_TO_PAGES(size ? size : 1));
}

/* LoadFile2 for the initrd: boot/initrd.c answers, this only converts. */
static EFI_STATUS EFIAPI initrd_load_file(EFI_LOAD_FILE_PROTOCOL *this,
					  EFI_DEVICE_PATH *path, BOOLEAN boot_policy,
					  UINTN *size, VOID *buf)
{
	struct initrd_loader *l = (struct initrd_loader *)this;
	size_t n;
	int r;

	(void)path;
	if (!this || !size)
		return EFI_INVALID_PARAMETER;
	n = *size;
	uint64_t t0 = plat_now_us();
	r = initrd_lf2_read(&l->src, boot_policy, &n, buf);
	*size = n;
	if (!r && !l->from_disk)
		log_info("initrd: %llu bytes into the kernel's LoadFile2 buffer in %llu us",
			 (unsigned long long)n, (unsigned long long)(plat_now_us() - t0));
	else if (r && r != -VQ_ENOSPC)
		log_error("initrd: LoadFile2 for %llu bytes failed: %s",
			  (unsigned long long)n, vq_strerror(r));
	return efi_from_vq(r);
}

static int read_copy(void *ctx, void *buf, size_t size)
{
	plat_copy(buf, ((struct initrd_loader *)ctx)->data, size);
	return 0;
}

static struct initrd_dp initrd_path;
static struct initrd_loader initrd_loader;
static EFI_HANDLE initrd_handle;

static EFI_STATUS initrd_install(const struct image_start *s)
{
	EFI_DEVICE_PATH *dp;
	EFI_HANDLE existing;
	EFI_STATUS st;

	initrd_path.vendor.Header.Type = MEDIA_DEVICE_PATH;
	initrd_path.vendor.Header.SubType = MEDIA_VENDOR_DP;
	initrd_path.vendor.Header.Length[0] = sizeof(initrd_path.vendor);
	initrd_path.vendor.Header.Length[1] = 0;
	initrd_path.vendor.Guid = initrd_media_guid;
	set_end(&initrd_path.end);

	/* Another loader's initrd handle would shadow ours. */
	dp = (EFI_DEVICE_PATH *)&initrd_path;
	if (BS->LocateDevicePath(&load_file2_guid, &dp, &existing) == EFI_SUCCESS &&
	    IsDevicePathEnd(dp)) {
		log_error("initrd: a LoadFile2 initrd handle is already installed");
		return EFI_ALREADY_STARTED;
	}
	initrd_loader = (struct initrd_loader){ .lf2.LoadFile = initrd_load_file };
	if (s->initrd) {
		initrd_loader.data = s->initrd;
		initrd_loader.src = (struct initrd_src){ s->initrd_size, read_copy,
							 &initrd_loader };
	} else {
		initrd_loader.src = *s->initrd_src;
		initrd_loader.from_disk = true;
	}
	initrd_handle = NULL;
	st = BS->InstallMultipleProtocolInterfaces(&initrd_handle,
						   &DevicePathProtocol, &initrd_path,
						   &load_file2_guid, &initrd_loader,
						   NULL);
	if (EFI_ERROR(st))
		log_error("initrd: cannot install the LoadFile2 handle (status 0x%llx)",
			  (unsigned long long)st);
	return st;
}

static void initrd_uninstall(void)
{
	if (!initrd_handle)
		return;
	BS->UninstallMultipleProtocolInterfaces(initrd_handle, &DevicePathProtocol,
						&initrd_path, &load_file2_guid,
						&initrd_loader, NULL);
	initrd_handle = NULL;
}

/* UTF-16 copy of the command line for LoadOptions (NUL included). */
static CHAR16 *cmdline_utf16(const char *s, UINT32 *ret_bytes)
{
	size_t n = strlen(s);
	CHAR16 *w = plat_alloc((n + 1) * sizeof(CHAR16));

	if (!w)
		return NULL;
	for (size_t i = 0; i < n; i++)
		w[i] = (unsigned char)s[i];
	*ret_bytes = (UINT32)((n + 1) * sizeof(CHAR16));
	return w;
}

static EFI_STATUS load_from_memory(const struct image_start *s, EFI_HANDLE *ret)
{
	struct memmap_dp dp = { 0 };

	dp.mem.Header.Type = HARDWARE_DEVICE_PATH;
	dp.mem.Header.SubType = HW_MEMMAP_DP;
	dp.mem.Header.Length[0] = sizeof(dp.mem);
	dp.mem.MemoryType = EfiLoaderData;
	dp.mem.StartingAddress = (uintptr_t)s->image;
	dp.mem.EndingAddress = (uintptr_t)s->image + s->image_size - 1;
	set_end(&dp.end);
	/* Only through the firmware's LoadImage (and shim's verifier): the
	 * platform decides what may run. */
	return sb_load_image((EFI_DEVICE_PATH *)&dp, s->image, s->image_size,
			     s->name, ret);
}

EFI_STATUS image_start(const struct image_start *s)
{
	EFI_LOADED_IMAGE *li;
	EFI_HANDLE h = NULL;
	CHAR16 *opts = NULL;
	UINT32 opts_bytes = 0;
	EFI_STATUS st;

	st = load_from_memory(s, &h);
	if (EFI_ERROR(st))
		return st;
	if (s->cmdline && s->cmdline[0]) {
		opts = cmdline_utf16(s->cmdline, &opts_bytes);
		if (!opts) {
			st = EFI_OUT_OF_RESOURCES;
			goto out_unload;
		}
		BS->HandleProtocol(h, &LoadedImageProtocol, (void **)&li);
		li->LoadOptions = opts;
		li->LoadOptionsSize = opts_bytes;
	}
	if (s->initrd || s->initrd_src) {
		st = initrd_install(s);
		if (EFI_ERROR(st))
			goto out_free_opts;
	}
	if (s->before_start)
		s->before_start(s->ctx);
	st = BS->StartImage(h, NULL, NULL);
	log_error("%s: returned from StartImage (status 0x%llx)", s->name,
		  (unsigned long long)st);
	initrd_uninstall();
	plat_free(opts);
	return EFI_ERROR(st) ? st : EFI_ABORTED;

out_free_opts:
	plat_free(opts);
out_unload:
	BS->UnloadImage(h);
	return st;
}
