/* SPDX-License-Identifier: MIT */
/*
 * virtio-pci functions through EFI_PCI_IO_PROTOCOL: finding them, taking
 * them from the firmware's drivers and giving them back, and the PCI I/O
 * implementation of struct vpci_bus_ops (config, BARs by index, DMA).
 */
#include "efi/vqefi.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

static EFI_GUID pci_io_guid = EFI_PCI_IO_PROTOCOL_GUID;

#define PCI_ENABLE_ATTRS                                                      \
	(EFI_PCI_IO_ATTRIBUTE_MEMORY | EFI_PCI_IO_ATTRIBUTE_IO |              \
	 EFI_PCI_IO_ATTRIBUTE_BUS_MASTER)

static EFI_PCI_IO_PROTOCOL_WIDTH pci_width(unsigned width)
{
	switch (width) {
	case 1: return EfiPciIoWidthUint8;
	case 2: return EfiPciIoWidthUint16;
	case 4: return EfiPciIoWidthUint32;
	default: return EfiPciIoWidthUint64;
	}
}

static int bus_cfg_read(void *ctx, uint32_t off, unsigned width, uint32_t *ret)
{
	struct efi_pci_dev *d = ctx;
	uint32_t v = 0;
	EFI_STATUS st;

	if (width != 1 && width != 2 && width != 4)
		return -VQ_EINVAL;
	st = d->pci->Pci.Read(d->pci, pci_width(width), off, 1, &v);
	if (EFI_ERROR(st))
		return vq_from_efi(st);
	*ret = v;
	return 0;
}

/* GetBarAttributes returns ACPI QWORD address space descriptors (0x8A):
 * resource type at byte 3 (0 memory, 1 I/O), length at byte 38. */
static void lookup_bar(struct efi_pci_dev *d, uint8_t bar)
{
	uint8_t *res = NULL;
	EFI_STATUS st;

	d->bar_known |= 1u << bar;
	st = d->pci->GetBarAttributes(d->pci, bar, NULL, (void **)&res);
	if (EFI_ERROR(st) || !res)
		return;
	if (res[0] == 0x8A && get_le64(res + 38)) {
		d->bar_valid |= 1u << bar;
		if (res[3] == 1)
			d->bar_io |= 1u << bar;
		d->bar_size[bar] = get_le64(res + 38);
	}
	BS->FreePool(res);
}

static int bus_bar_info(void *ctx, uint8_t bar, bool *ret_io, uint64_t *ret_size)
{
	struct efi_pci_dev *d = ctx;

	if (bar > 5)
		return -VQ_ENODEV;
	if (!(d->bar_known & (1u << bar)))
		lookup_bar(d, bar);
	if (!(d->bar_valid & (1u << bar)))
		return -VQ_ENODEV;
	*ret_io = d->bar_io & (1u << bar);
	*ret_size = d->bar_size[bar];
	return 0;
}

static int bar_access(struct efi_pci_dev *d, bool write, uint8_t bar,
		      uint64_t off, unsigned width, uint64_t *val)
{
	bool io;
	uint64_t size;
	EFI_STATUS st;

	if (bar > 5 || (width != 1 && width != 2 && width != 4 && width != 8))
		return -VQ_EINVAL;
	if (bus_bar_info(d, bar, &io, &size) || off > size || width > size - off)
		return -VQ_ERANGE;
	EFI_PCI_IO_PROTOCOL_ACCESS *acc = io ? &d->pci->Io : &d->pci->Mem;
	if (write)
		st = acc->Write(d->pci, pci_width(width), bar, off, 1, val);
	else
		st = acc->Read(d->pci, pci_width(width), bar, off, 1, val);
	return vq_from_efi(st);
}

static int bus_bar_read(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			uint64_t *ret)
{
	uint64_t v = 0;
	int r = bar_access(ctx, false, bar, off, width, &v);

	if (!r)
		*ret = v;
	return r;
}

static int bus_bar_write(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			 uint64_t val)
{
	return bar_access(ctx, true, bar, off, width, &val);
}

static int bus_dma_alloc(void *ctx, size_t size, struct vq_dma *ret)
{
	struct efi_pci_dev *d = ctx;
	UINTN pages = EFI_SIZE_TO_PAGES(size);
	UINTN bytes = pages * EFI_PAGE_SIZE;
	EFI_PHYSICAL_ADDRESS dev;
	void *host = NULL, *mapping = NULL;
	EFI_STATUS st;

	st = d->pci->AllocateBuffer(d->pci, AllocateAnyPages, EfiBootServicesData,
				    pages, &host, 0);
	if (EFI_ERROR(st))
		return log_err(-VQ_ENOMEM, "pci %s: cannot allocate %llu DMA pages",
			       d->vdev.bus.name, (unsigned long long)pages);
	memset(host, 0, bytes);
	st = d->pci->Map(d->pci, EfiPciIoOperationBusMasterCommonBuffer, host,
			 &bytes, &dev, &mapping);
	if (EFI_ERROR(st) || bytes < pages * EFI_PAGE_SIZE) {
		if (!EFI_ERROR(st))
			d->pci->Unmap(d->pci, mapping);
		d->pci->FreeBuffer(d->pci, pages, host);
		return log_err(-VQ_ENOMEM, "pci %s: cannot map %llu bytes of DMA memory",
			       d->vdev.bus.name, (unsigned long long)size);
	}
	*ret = (struct vq_dma){ .host = host, .dev = dev, .size = pages * EFI_PAGE_SIZE,
				.mapping = mapping };
	return 0;
}

static void bus_dma_free(void *ctx, struct vq_dma *dma)
{
	struct efi_pci_dev *d = ctx;

	if (!dma->host)
		return;
	if (dma->mapping)
		d->pci->Unmap(d->pci, dma->mapping);
	d->pci->FreeBuffer(d->pci, EFI_SIZE_TO_PAGES(dma->size), dma->host);
	*dma = (struct vq_dma){ 0 };
}

static int bus_dma_map(void *ctx, void *host, size_t len, enum vpci_dma_dir dir,
		       uint64_t *ret_dev, size_t *ret_len, void **ret_mapping)
{
	struct efi_pci_dev *d = ctx;
	UINTN bytes = len;
	EFI_PHYSICAL_ADDRESS dev;
	void *mapping;
	EFI_STATUS st;

	st = d->pci->Map(d->pci,
			 dir == VPCI_DMA_FROM_DEVICE ? EfiPciIoOperationBusMasterWrite
						     : EfiPciIoOperationBusMasterRead,
			 host, &bytes, &dev, &mapping);
	if (EFI_ERROR(st))
		return vq_from_efi(st);
	*ret_dev = dev;
	*ret_len = bytes;
	*ret_mapping = mapping;
	return 0;
}

static void bus_dma_unmap(void *ctx, void *mapping)
{
	struct efi_pci_dev *d = ctx;

	d->pci->Unmap(d->pci, mapping);
}

static int bus_set_bus_master(void *ctx, bool on)
{
	struct efi_pci_dev *d = ctx;
	EFI_STATUS st;

	st = d->pci->Attributes(d->pci, on ? EfiPciIoAttributeOperationEnable
					   : EfiPciIoAttributeOperationDisable,
				EFI_PCI_IO_ATTRIBUTE_BUS_MASTER, NULL);
	if (EFI_ERROR(st))
		return log_err(vq_from_efi(st), "pci %s: cannot turn bus mastering %s (status 0x%llx)",
			       d->vdev.bus.name, on ? "on" : "off",
			       (unsigned long long)st);
	return 0;
}

static const struct vpci_bus_ops pciio_bus_ops = {
	.cfg_read = bus_cfg_read,
	.bar_info = bus_bar_info,
	.bar_read = bus_bar_read,
	.bar_write = bus_bar_write,
	.dma_alloc = bus_dma_alloc,
	.dma_free = bus_dma_free,
	.dma_map = bus_dma_map,
	.dma_unmap = bus_dma_unmap,
	.set_bus_master = bus_set_bus_master,
};

void efi_pci_bus_init(struct efi_pci_dev *d, struct vpci_bus *bus)
{
	bus->ops = &pciio_bus_ops;
	bus->ctx = d;
	vq_snprintf(bus->name, sizeof(bus->name), "%02llx:%02llx.%llx",
		    (unsigned long long)d->bus, (unsigned long long)d->dev,
		    (unsigned long long)d->fn);
}

/* Is some driver bound to this function's PciIo right now? */
static bool has_driver(EFI_HANDLE h)
{
	EFI_OPEN_PROTOCOL_INFORMATION_ENTRY *info = NULL;
	UINTN n = 0;
	bool bound = false;

	if (BS->OpenProtocolInformation(h, &pci_io_guid, &info, &n) != EFI_SUCCESS)
		return false;
	for (UINTN i = 0; i < n; i++)
		if (info[i].Attributes & EFI_OPEN_PROTOCOL_BY_DRIVER)
			bound = true;
	BS->FreePool(info);
	return bound;
}

static bool probe_one(EFI_HANDLE h, struct efi_pci_dev *d)
{
	EFI_PCI_IO_PROTOCOL *pci;
	uint32_t id;

	if (BS->HandleProtocol(h, &pci_io_guid, (void **)&pci) != EFI_SUCCESS)
		return false;
	if (pci->Pci.Read(pci, EfiPciIoWidthUint32, 0, 1, &id) != EFI_SUCCESS ||
	    (id & 0xffff) != 0x1af4)
		return false;
	*d = (struct efi_pci_dev){ .handle = h, .pci = pci };
	pci->GetLocation(pci, &d->seg, &d->bus, &d->dev, &d->fn);
	struct vpci_bus bus;
	efi_pci_bus_init(d, &bus);
	d->vdev.bus = bus;
	return vpci_probe(&bus, &d->vdev) == 0;
}

EFI_STATUS efi_pci_find_virtio(struct efi_pci_dev **ret_devs, unsigned *ret_n)
{
	EFI_HANDLE *handles = NULL;
	UINTN n = 0;
	EFI_STATUS st;
	struct efi_pci_dev *devs;
	unsigned found = 0;

	st = BS->LocateHandleBuffer(ByProtocol, &pci_io_guid, NULL, &n, &handles);
	if (st == EFI_NOT_FOUND)
		n = 0;
	else if (EFI_ERROR(st))
		return st;
	devs = plat_alloc((n ? n : 1) * sizeof(*devs));
	if (!devs) {
		BS->FreePool(handles);
		return EFI_OUT_OF_RESOURCES;
	}
	for (UINTN i = 0; i < n; i++)
		if (probe_one(handles[i], &devs[found]))
			found++;
	if (handles)
		BS->FreePool(handles);
	/* The bus context points into the array: fix it up after filling. */
	for (unsigned i = 0; i < found; i++)
		devs[i].vdev.bus.ctx = &devs[i];
	*ret_devs = devs;
	*ret_n = found;
	return EFI_SUCCESS;
}

void efi_pci_free_list(struct efi_pci_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		efi_pci_give_back(&devs[i]);
	plat_free(devs);
}

static EFI_GUID devpath_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;

/* Bytes of @dp before its end node; 0 for a malformed path (bounded walk). */
static size_t path_bytes(EFI_DEVICE_PATH_PROTOCOL *dp)
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

/* How deep below the function at @prefix (@plen bytes) handle @h sits:
 * the bytes its device path adds, 0 when it is not below it. */
static size_t depth_below(EFI_HANDLE h, EFI_DEVICE_PATH_PROTOCOL *prefix, size_t plen)
{
	EFI_DEVICE_PATH_PROTOCOL *dp;
	size_t len;

	if (BS->HandleProtocol(h, &devpath_guid, (void **)&dp) != EFI_SUCCESS)
		return 0;
	len = path_bytes(dp);
	return len > plen && !memcmp(dp, prefix, plen) ? len - plen : 0;
}

/* Disconnects every handle below the function, the deepest first
 * (partitions, then disks). */
static void stop_children(struct efi_pci_dev *d, EFI_DEVICE_PATH_PROTOCOL *path)
{
	size_t plen = path_bytes(path), deepest = SIZE_MAX;
	EFI_HANDLE *hs = NULL;
	UINTN n = 0;

	if (!plen || BS->LocateHandleBuffer(AllHandles, NULL, NULL, &n, &hs) != EFI_SUCCESS)
		return;
	for (;;) {
		size_t level = 0;

		for (UINTN i = 0; i < n; i++) {
			size_t k = depth_below(hs[i], path, plen);

			if (k < deepest)
				level = VQ_MAX(level, k);
		}
		if (!level)
			break;
		for (UINTN i = 0; i < n; i++)
			if (depth_below(hs[i], path, plen) == level &&
			    EFI_ERROR(BS->DisconnectController(hs[i], NULL, NULL)))
				log_warn("pci %s: a firmware driver below the device did not stop",
					 d->vdev.bus.name);
		deepest = level;
	}
	BS->FreePool(hs);
}

/* The bus drivers on the function itself: agents holding a protocol of it
 * BY_CHILD_CONTROLLER. Their children have no drivers left: stop them. */
static void stop_bus_drivers(struct efi_pci_dev *d)
{
	EFI_GUID **guids = NULL;
	UINTN n = 0;

	if (BS->ProtocolsPerHandle(d->handle, &guids, &n) != EFI_SUCCESS)
		return;
	for (UINTN i = 0; i < n; i++) {
		EFI_OPEN_PROTOCOL_INFORMATION_ENTRY *info = NULL;
		EFI_HANDLE agent = NULL;
		UINTN m = 0;

		if (BS->OpenProtocolInformation(d->handle, guids[i], &info, &m) != EFI_SUCCESS)
			continue;
		for (UINTN j = 0; j < m && !agent; j++)
			if (info[j].Attributes & EFI_OPEN_PROTOCOL_BY_CHILD_CONTROLLER)
				agent = info[j].AgentHandle;
		BS->FreePool(info);
		if (agent && EFI_ERROR(BS->DisconnectController(d->handle, agent, NULL)))
			log_warn("pci %s: a firmware bus driver did not stop", d->vdev.bus.name);
	}
	BS->FreePool(guids);
}

/*
 * Stops the firmware's drivers from the top of the stack down before the
 * exclusive open stops the rest. The open alone relies on each Stop()
 * cascading upwards through protocol uninstalls, and OVMF's SCSI stack
 * breaks that: ScsiBusDxe ends up holding ExtScsiPassThru only
 * BY_CHILD_CONTROLLER (no BY_DRIVER), so uninstalling it is refused and the
 * open fails with ACCESS_DENIED; disconnecting the whole handle at once then
 * stops VirtioScsiDxe under a live bus and crashes the firmware. Leaves up
 * works: partitions, disks, the bus driver, then the exclusive open.
 */
static void stop_firmware_stack(struct efi_pci_dev *d)
{
	EFI_DEVICE_PATH_PROTOCOL *path;

	if (BS->HandleProtocol(d->handle, &devpath_guid, (void **)&path) != EFI_SUCCESS)
		return;
	stop_children(d, path);
	stop_bus_drivers(d);
}

EFI_STATUS efi_pci_take(struct efi_pci_dev *d)
{
	EFI_PCI_IO_PROTOCOL *pci;
	uint64_t supported = 0;
	EFI_STATUS st;

	if (d->owned)
		return EFI_SUCCESS;
	d->had_driver = has_driver(d->handle);
	/* Only where the cascade is known to break: for virtio-blk and
	 * virtio-gpu the exclusive open alone is tested and works. */
	if (d->had_driver && d->vdev.type == VIRTIO_ID_SCSI)
		stop_firmware_stack(d);
	/* Exclusive open stops any bound driver (its Stop() resets the device). */
	st = BS->OpenProtocol(d->handle, &pci_io_guid, (void **)&pci, efi_image,
			      d->handle,
			      EFI_OPEN_PROTOCOL_BY_DRIVER | EFI_OPEN_PROTOCOL_EXCLUSIVE);
	if (EFI_ERROR(st)) {
		log_error("pci %s: cannot take the device from the firmware (status 0x%llx)",
			  d->vdev.bus.name, (unsigned long long)st);
		return st;
	}
	d->owned = true;
	d->pci = pci;
	d->pci->Attributes(d->pci, EfiPciIoAttributeOperationGet, 0, &d->orig_attrs);
	d->pci->Attributes(d->pci, EfiPciIoAttributeOperationSupported, 0, &supported);
	st = d->pci->Attributes(d->pci, EfiPciIoAttributeOperationEnable,
				supported & PCI_ENABLE_ATTRS, NULL);
	if (EFI_ERROR(st)) {
		log_error("pci %s: cannot enable decoding and bus mastering (status 0x%llx)",
			  d->vdev.bus.name, (unsigned long long)st);
		efi_pci_give_back(d);
		return st;
	}
	d->attrs_changed = true;
	log_info("pci %s: taken from the firmware (%s)", d->vdev.bus.name,
		 d->had_driver ? "its driver stopped" : "no firmware driver was bound");
	return EFI_SUCCESS;
}

#define DEFERRED_MAX 64
static EFI_HANDLE deferred[DEFERRED_MAX];
static unsigned ndeferred;

static void reconnect(struct efi_pci_dev *d)
{
	if (d->defer_reconnect && ndeferred < DEFERRED_MAX)
		deferred[ndeferred++] = d->handle;
	else
		BS->ConnectController(d->handle, NULL, NULL, TRUE);
}

void efi_pci_reconnect_deferred(void)
{
	for (unsigned i = 0; i < ndeferred; i++)
		BS->ConnectController(deferred[i], NULL, NULL, TRUE);
	if (ndeferred)
		log_info("pci: firmware drivers reconnected to %u device%s", ndeferred,
			 ndeferred == 1 ? "" : "s");
	ndeferred = 0;
}

void efi_pci_give_back(struct efi_pci_dev *d)
{
	if (!d->owned)
		return;
	vdev_teardown(&d->vdev);
	/* A device that never finished its reset keeps bus mastering off:
	 * neither the old attributes nor a firmware driver get it back. */
	if (d->vdev.stuck)
		log_error("pci %s: device did not reset; not given back to the firmware",
			  d->vdev.bus.name);
	else if (d->attrs_changed)
		d->pci->Attributes(d->pci, EfiPciIoAttributeOperationSet,
				   d->orig_attrs, NULL);
	d->attrs_changed = false;
	BS->CloseProtocol(d->handle, &pci_io_guid, efi_image, d->handle);
	d->owned = false;
	if (d->had_driver && !d->vdev.stuck)
		reconnect(d);
}
