/* SPDX-License-Identifier: MIT */
/*
 * Probing a virtio-pci function (virtio 1.2 §4.1.2, §4.1.4): the ids, the
 * vendor capabilities, and which transport to use.
 */
#include "virtio/vpci_priv.h"
#include "lib/log.h"
#include "lib/fmt.h"

/* ---- probing ------------------------------------------------------------- */

static int cfg_rd(const struct vpci_bus *bus, uint32_t off, unsigned width,
		  uint32_t *ret)
{
	return bus->ops->cfg_read(bus->ctx, off, width, ret);
}

#define cap_get(bus, pos, type, field, ret)                                    \
	cfg_rd((bus), (pos) + offsetof(type, field), FIELD_SIZE(type, field), \
	       (ret))

/* Minimum region lengths: the registers we access must be inside. */
static uint32_t region_min_length(uint8_t cfg_type)
{
	switch (cfg_type) {
	case VIRTIO_PCI_CAP_COMMON_CFG:
		return sizeof(struct virtio_pci_common_cfg);
	case VIRTIO_PCI_CAP_NOTIFY_CFG:
		return 2;
	case VIRTIO_PCI_CAP_ISR_CFG:
		return 1;
	default:
		return 0;
	}
}

/* Checks a capability's BAR window; a bad one is ignored, not fatal
 * (§4.1.4: the driver uses the first instance it can support). */
static bool region_ok(const struct vpci_bus *bus, uint8_t cfg_type,
		      const struct vpci_region *r)
{
	bool io;
	uint64_t size;

	if (r->bar > 5) {
		log_debug("%s: virtio cap type %u names reserved BAR %u; ignored",
			  bus->name, cfg_type, r->bar);
		return false;
	}
	if (bus->ops->bar_info(bus->ctx, r->bar, &io, &size)) {
		log_warn("%s: virtio cap type %u names missing BAR %u; ignored",
			 bus->name, cfg_type, r->bar);
		return false;
	}
	if ((uint64_t)r->offset + r->length > size ||
	    r->length < region_min_length(cfg_type)) {
		log_warn("%s: virtio cap type %u window 0x%x+0x%x does not fit BAR %u (0x%llx bytes); ignored",
			 bus->name, cfg_type, r->offset, r->length, r->bar,
			 (unsigned long long)size);
		return false;
	}
	return true;
}

static struct vpci_region *region_for(struct vdev *d, uint8_t cfg_type)
{
	switch (cfg_type) {
	case VIRTIO_PCI_CAP_COMMON_CFG: return &d->common;
	case VIRTIO_PCI_CAP_NOTIFY_CFG: return &d->notify;
	case VIRTIO_PCI_CAP_ISR_CFG: return &d->isr_cfg;
	case VIRTIO_PCI_CAP_DEVICE_CFG: return &d->device;
	default: return NULL;
	}
}

/* Reads the fields of the vendor capability at @pos into @ret. */
static int read_vendor_cap(const struct vpci_bus *bus, uint32_t pos,
			   uint8_t *ret_type, struct vpci_region *ret)
{
	uint32_t len, type, bar, off, length;
	int r = cap_get(bus, pos, struct virtio_pci_cap, cap_len, &len);

	if (r)
		return r;
	if (len < sizeof(struct virtio_pci_cap) || pos + len > PCI_CFG_SIZE) {
		log_warn("%s: virtio cap at 0x%x has length %u; ignored",
			 bus->name, pos, len);
		return -VQ_ECORRUPT;
	}
	r = cap_get(bus, pos, struct virtio_pci_cap, cfg_type, &type);
	if (!r)
		r = cap_get(bus, pos, struct virtio_pci_cap, bar, &bar);
	if (!r)
		r = cap_get(bus, pos, struct virtio_pci_cap, offset, &off);
	if (!r)
		r = cap_get(bus, pos, struct virtio_pci_cap, length, &length);
	if (r)
		return r;
	*ret = (struct vpci_region){ .present = true, .bar = (uint8_t)bar,
				     .offset = off, .length = length };
	*ret_type = (uint8_t)type;
	return 0;
}

static int read_notify_mult(const struct vpci_bus *bus, uint32_t pos,
			    uint32_t *ret)
{
	uint32_t len;
	int r = cap_get(bus, pos, struct virtio_pci_cap, cap_len, &len);

	if (r)
		return r;
	if (len < sizeof(struct virtio_pci_notify_cap)) {
		log_warn("%s: virtio notify cap at 0x%x too short (%u); ignored",
			 bus->name, pos, len);
		return -VQ_ECORRUPT;
	}
	return cap_get(bus, pos, struct virtio_pci_notify_cap,
		       notify_off_multiplier, ret);
}

static int take_vendor_cap(struct vdev *d, uint32_t pos)
{
	const struct vpci_bus *bus = &d->bus;
	struct vpci_region reg, *slot;
	uint8_t type;
	uint32_t mult = 0;

	if (read_vendor_cap(bus, pos, &type, &reg))
		return 0;
	slot = region_for(d, type);
	if (!slot) {
		log_debug("%s: virtio cap type %u ignored", bus->name, type);
		return 0;
	}
	if (slot->present || !region_ok(bus, type, &reg))
		return 0;
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG &&
	    read_notify_mult(bus, pos, &mult))
		return 0;
	*slot = reg;
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		d->notify_mult = mult;
	return 0;
}

/* Walks the capability list. Bounded: at most VPCI_MAX_CAPS entries, each
 * pointer inside the device-specific part of config space. Fails only when
 * config space cannot be read. */
static int walk_caps(struct vdev *d)
{
	const struct vpci_bus *bus = &d->bus;
	uint32_t status, pos;
	unsigned n;
	int r = cfg_rd(bus, PCI_STATUS, 2, &status);

	if (r || !(status & PCI_STATUS_CAP_LIST))
		return r;
	r = cfg_rd(bus, PCI_CAP_PTR, 1, &pos);
	for (n = 0; !r && pos; n++) {
		uint32_t id, next;

		/* PCI 3.0 §6.7: the low two bits are reserved; mask them. */
		pos &= ~3u;
		if (n == VPCI_MAX_CAPS || pos < PCI_CAP_FIRST) {
			/* Keep what was found before the bad link. */
			log_warn("%s: capability list loops or points at 0x%x (entry %u); walk stopped",
				 bus->name, pos, n);
			break;
		}
		r = cfg_rd(bus, pos, 1, &id);
		if (!r)
			r = cfg_rd(bus, pos + 1, 1, &next);
		if (!r && id == PCI_CAP_ID_VNDR)
			r = take_vendor_cap(d, pos);
		if (!r && id == PCI_CAP_ID_MSIX && !d->msix_cap)
			d->msix_cap = (uint8_t)pos;
		if (r)
			break;
		pos = next;
	}
	return r;
}

/* Every device type we know except the entropy device has a config space. */
static bool needs_device_cfg(uint16_t type)
{
	return type != VIRTIO_ID_RNG;
}

static bool modern_usable(const struct vdev *d)
{
	return d->common.present && d->notify.present && d->isr_cfg.present &&
	       (d->device.present || !needs_device_cfg(d->type));
}

static int pick_transport(struct vdev *d)
{
	int r = walk_caps(d);

	if (r)
		return r;
	if (modern_usable(d)) {
		d->ops = &vpci_modern_ops;
		return 0;
	}
	if (d->transitional) {
		/* Forget half-found modern regions: legacy fills its own. */
		d->common = d->notify = d->isr_cfg = d->device =
			(struct vpci_region){ 0 };
		return vpci_legacy_setup(d);
	}
	return log_err(-VQ_ENODEV,
		       "%s: modern virtio device lacks a usable%s%s%s%s capability",
		       d->bus.name, d->common.present ? "" : " common",
		       d->notify.present ? "" : " notify",
		       d->isr_cfg.present ? "" : " isr",
		       d->device.present ? "" : " device");
}

/* Matches the ids (§4.1.2) and fills type and the PCI identity. */
static int match_ids(struct vdev *d)
{
	const struct vpci_bus *bus = &d->bus;
	uint32_t vendor, device, rev = 0, subsys = 0;
	int r = cfg_rd(bus, PCI_VENDOR_ID, 2, &vendor);

	if (!r)
		r = cfg_rd(bus, PCI_DEVICE_ID, 2, &device);
	if (!r)
		r = cfg_rd(bus, PCI_REVISION_ID, 1, &rev);
	if (!r)
		r = cfg_rd(bus, PCI_SUBSYSTEM_ID, 2, &subsys);
	if (r)
		return r;
	if (vendor != VIRTIO_PCI_VENDOR)
		return -VQ_ENODEV;
	d->pci_vendor = (uint16_t)vendor;
	d->pci_device = (uint16_t)device;
	d->pci_revision = (uint8_t)rev;
	d->pci_subsys = (uint16_t)subsys;
	if (device > VIRTIO_PCI_MODERN_FIRST && device <= VIRTIO_PCI_MODERN_LAST) {
		d->type = (uint16_t)(device - VIRTIO_PCI_MODERN_FIRST);
		return 0;
	}
	/* Transitional devices have revision 0 and name the type in the
	 * subsystem device id (§4.1.2.3). */
	if (device >= VIRTIO_PCI_LEGACY_FIRST &&
	    device <= VIRTIO_PCI_LEGACY_LAST && rev == 0 && subsys != 0) {
		d->type = (uint16_t)subsys;
		d->transitional = true;
		return 0;
	}
	log_debug("%s: virtio vendor id with device 0x%x revision %u: not ours",
		  bus->name, device, rev);
	return -VQ_ENODEV;
}

int vpci_probe(const struct vpci_bus *bus, struct vdev *ret)
{
	struct vdev d;
	int r;

	if (!bus || !bus->ops || !ret)
		return -VQ_EINVAL;
	memset(&d, 0, sizeof(d));
	d.bus = *bus;
	d.bus.name[sizeof(d.bus.name) - 1] = '\0';
	r = match_ids(&d);
	if (!r)
		r = pick_transport(&d);
	if (r)
		return r;
	vq_snprintf(d.name, sizeof(d.name), "virtio %s", d.bus.name);
	log_debug("%s: %s device, %s transport", d.name,
		  virtio_type_name(d.type), d.ops->name);
	*ret = d;
	return 0;
}
