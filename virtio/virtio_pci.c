/* SPDX-License-Identifier: MIT */
/*
 * virtio over PCI (virtio 1.2 §4.1): probing a function, and the two
 * transports over it: modern (vendor capabilities, §4.1.4) and legacy (the
 * register block in I/O BAR0, §4.1.4.8).
 *
 * Register offsets come from offsetof() on the spec structs below, never from
 * hand-counted numbers; every field is accessed with exactly its own width.
 */
#include "lib/log.h"
#include "virtio/virtio.h"
#include "lib/fmt.h"

/* PCI configuration space (PCI Local Bus 3.0 §6.1, §6.7) */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_SUBSYSTEM_ID 0x2E
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CFG_SIZE 0x100
#define PCI_CAP_FIRST 0x40

/* A function has at most (256 - 64) / 4 capabilities: more means a loop. */
#define VPCI_MAX_CAPS 48

#define VIRTIO_PCI_VENDOR 0x1AF4
#define VIRTIO_PCI_LEGACY_FIRST 0x1000
#define VIRTIO_PCI_LEGACY_LAST 0x103F
#define VIRTIO_PCI_MODERN_FIRST 0x1040
#define VIRTIO_PCI_MODERN_LAST 0x107F

/* cfg_type values (§4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/* How often to re-read device config while config_generation moves. */
#define VPCI_CONFIG_TRIES 16

/* §4.1.4: the vendor capability, as laid out in config space. */
struct virtio_pci_cap {
	uint8_t cap_vndr;
	uint8_t cap_next;
	uint8_t cap_len;
	uint8_t cfg_type;
	uint8_t bar;
	uint8_t id;
	uint8_t padding[2];
	uint32_t offset;
	uint32_t length;
};

/* §4.1.4.4 */
struct virtio_pci_notify_cap {
	struct virtio_pci_cap cap;
	uint32_t notify_off_multiplier;
};

/* §4.1.4.3: the common configuration structure. */
struct virtio_pci_common_cfg {
	uint32_t device_feature_select;
	uint32_t device_feature;
	uint32_t driver_feature_select;
	uint32_t driver_feature;
	uint16_t config_msix_vector;
	uint16_t num_queues;
	uint8_t device_status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint16_t queue_size;
	uint16_t queue_msix_vector;
	uint16_t queue_enable;
	uint16_t queue_notify_off;
	uint64_t queue_desc;
	uint64_t queue_driver;
	uint64_t queue_device;
};

/* §4.1.4.8: the legacy register block at the start of I/O BAR0; the
 * device-specific config follows it when MSI-X is off (we never enable it). */
struct virtio_pci_legacy_regs {
	uint32_t device_features;
	uint32_t driver_features;
	uint32_t queue_pfn;
	uint16_t queue_size;
	uint16_t queue_select;
	uint16_t queue_notify;
	uint8_t device_status;
	uint8_t isr_status;
} __attribute__((packed));

#define LEGACY_BAR 0
#define LEGACY_PFN_SHIFT 12
#define LEGACY_ALIGN 4096

_Static_assert(sizeof(struct virtio_pci_cap) == 16, "virtio_pci_cap");
_Static_assert(sizeof(struct virtio_pci_notify_cap) == 20, "notify cap");
_Static_assert(sizeof(struct virtio_pci_common_cfg) == 56, "common cfg");
_Static_assert(sizeof(struct virtio_pci_legacy_regs) == 0x14, "legacy regs");

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* ---- BAR access ---------------------------------------------------------- */

static int bar_rd(struct vdev *d, uint8_t bar, uint64_t off, unsigned width,
		  uint64_t *ret)
{
	return d->bus.ops->bar_read(d->bus.ctx, bar, off, width, ret);
}

static int bar_wr(struct vdev *d, uint8_t bar, uint64_t off, unsigned width,
		  uint64_t val)
{
	return d->bus.ops->bar_write(d->bus.ctx, bar, off, width, val);
}

/* Typed access to the modern common config: the field picks offset and width. */
#define common_get(d, field, ret)                                              \
	bar_rd((d), (d)->common.bar,                                           \
	       (d)->common.offset +                                            \
		       offsetof(struct virtio_pci_common_cfg, field),          \
	       FIELD_SIZE(struct virtio_pci_common_cfg, field), (ret))
#define common_set(d, field, val)                                              \
	bar_wr((d), (d)->common.bar,                                           \
	       (d)->common.offset +                                            \
		       offsetof(struct virtio_pci_common_cfg, field),          \
	       FIELD_SIZE(struct virtio_pci_common_cfg, field), (val))

/* The 64-bit queue address fields go as two 32-bit writes (§4.1.3.1: a
 * driver may not assume 64-bit accesses work). */
#define common_set64(d, field, val)                                            \
	common_set_halves((d), offsetof(struct virtio_pci_common_cfg, field), \
			  (val))

static int common_set_halves(struct vdev *d, uint32_t off, uint64_t val)
{
	int ret = bar_wr(d, d->common.bar, d->common.offset + off, 4,
			 (uint32_t)val);
	if (ret)
		return ret;
	return bar_wr(d, d->common.bar, d->common.offset + off + 4, 4,
		      val >> 32);
}

#define legacy_get(d, field, ret)                                              \
	bar_rd((d), LEGACY_BAR,                                                \
	       offsetof(struct virtio_pci_legacy_regs, field),                 \
	       FIELD_SIZE(struct virtio_pci_legacy_regs, field), (ret))
#define legacy_set(d, field, val)                                              \
	bar_wr((d), LEGACY_BAR,                                                \
	       offsetof(struct virtio_pci_legacy_regs, field),                 \
	       FIELD_SIZE(struct virtio_pci_legacy_regs, field), (val))

/* ---- device config (shared by both transports) -------------------------- */

static int cfg_range_ok(struct vdev *d, uint32_t off, uint32_t len)
{
	if (!d->device.present)
		return log_err(-VQ_ENOTSUP, "%s: device has no config space",
			       d->name);
	if (off > d->device.length || len > d->device.length - off)
		return log_err(-VQ_ERANGE,
			       "%s: config read %u+%u beyond its %u bytes",
			       d->name, off, len, d->device.length);
	return 0;
}

/* Naturally aligned accesses of at most 4 bytes (§4.1.3.1). */
static int cfg_read_span(struct vdev *d, uint32_t off, uint8_t *buf,
			 uint32_t len)
{
	uint32_t pos = 0;

	while (pos < len) {
		uint64_t at = (uint64_t)d->device.offset + off + pos;
		unsigned w = 4;
		uint64_t v;
		int ret;

		while (w > 1 && (at % w || w > len - pos))
			w /= 2;
		ret = bar_rd(d, d->device.bar, at, w, &v);
		if (ret)
			return ret;
		for (unsigned i = 0; i < w; i++)
			buf[pos + i] = (uint8_t)(v >> (8 * i));
		pos += w;
	}
	return 0;
}

static int cfg_write(struct vdev *d, uint32_t off, const void *buf,
		     uint32_t len)
{
	const uint8_t *p = buf;
	uint64_t v = 0;
	int ret = cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	if ((len != 1 && len != 2 && len != 4) || off % len)
		return log_err(-VQ_EINVAL, "%s: config write of %u bytes at %u",
			       d->name, len, off);
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return bar_wr(d, d->device.bar, (uint64_t)d->device.offset + off, len,
		      v);
}

/* ---- modern transport ---------------------------------------------------- */

static int modern_get_status(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = common_get(d, device_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static int modern_set_status(struct vdev *d, uint8_t status)
{
	return common_set(d, device_status, status);
}

static int modern_get_features(struct vdev *d, uint64_t *ret)
{
	uint64_t f = 0;

	for (unsigned sel = 0; sel < 2; sel++) {
		uint64_t half;
		int r = common_set(d, device_feature_select, sel);

		if (!r)
			r = common_get(d, device_feature, &half);
		if (r)
			return r;
		f |= (half & 0xFFFFFFFFu) << (32 * sel);
	}
	*ret = f;
	return 0;
}

static int modern_set_features(struct vdev *d, uint64_t features)
{
	for (unsigned sel = 0; sel < 2; sel++) {
		int r = common_set(d, driver_feature_select, sel);

		if (!r)
			r = common_set(d, driver_feature,
				       (uint32_t)(features >> (32 * sel)));
		if (r)
			return r;
	}
	return 0;
}

/* virtio 1.2 §4.1.4.3.1: re-read while config_generation changes, so a
 * multi-field read is never torn by a concurrent device update. */
static int modern_config_read(struct vdev *d, uint32_t off, void *buf,
			      uint32_t len)
{
	int ret = cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	for (unsigned tries = 0; tries < VPCI_CONFIG_TRIES; tries++) {
		uint64_t before, after;

		ret = common_get(d, config_generation, &before);
		if (!ret)
			ret = cfg_read_span(d, off, buf, len);
		if (!ret)
			ret = common_get(d, config_generation, &after);
		if (ret)
			return ret;
		if (before == after)
			return 0;
	}
	return log_err(-VQ_EAGAIN,
		       "%s: config generation still changing after %u reads",
		       d->name, VPCI_CONFIG_TRIES);
}

static int modern_num_queues(struct vdev *d, uint16_t *ret)
{
	uint64_t v;
	int r = common_get(d, num_queues, &v);

	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

static int modern_queue_max(struct vdev *d, uint16_t idx, uint16_t *ret)
{
	uint16_t n;
	uint64_t v;
	int r = modern_num_queues(d, &n);

	if (r)
		return r;
	if (idx >= n) {
		*ret = 0;
		return 0;
	}
	r = common_set(d, queue_select, idx);
	if (!r)
		r = common_get(d, queue_size, &v);
	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

/* §4.1.4.4: the device promises cap.length >= notify_off * mult + 2; a
 * device that breaks it would have us write outside the region. */
static int modern_check_notify(struct vdev *d, uint16_t idx, uint16_t noff)
{
	uint64_t at = (uint64_t)noff * d->notify_mult;

	if (at + 2 > d->notify.length)
		return log_err(-VQ_EBROKEN,
			       "%s: queue %u notify offset %u x %u outside the %u-byte notify region",
			       d->name, idx, noff, d->notify_mult,
			       d->notify.length);
	return 0;
}

static int modern_queue_enable(struct vdev *d, uint16_t idx,
			       struct virtqueue *vq)
{
	uint64_t noff;
	int r;

	if (idx >= VDEV_MAX_QUEUES)
		return log_err(-VQ_EINVAL, "%s: queue %u", d->name, idx);
	r = common_set(d, queue_select, idx);
	if (!r)
		r = common_set(d, queue_size, vq_size(vq));
	if (!r)
		r = common_set64(d, queue_desc, vq_desc_addr(vq));
	if (!r)
		r = common_set64(d, queue_driver, vq_avail_addr(vq));
	if (!r)
		r = common_set64(d, queue_device, vq_used_addr(vq));
	if (!r)
		r = common_get(d, queue_notify_off, &noff);
	if (!r)
		r = modern_check_notify(d, idx, (uint16_t)noff);
	if (r)
		return r;
	/* Read once and cached: notify is on the hot path (§4.1.4.4). */
	d->queues[idx].notify_off = (uint16_t)noff;
	return common_set(d, queue_enable, 1);
}

static void modern_notify(struct vdev *d, uint16_t idx)
{
	uint64_t at;

	if (idx >= VDEV_MAX_QUEUES)
		return;
	at = d->notify.offset +
	     (uint64_t)d->queues[idx].notify_off * d->notify_mult;
	if (bar_wr(d, d->notify.bar, at, 2, idx))
		log_warn("%s: notify of queue %u failed", d->name, idx);
}

static int modern_isr(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = bar_rd(d, d->isr_cfg.bar, d->isr_cfg.offset, 1, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static const struct vtransport_ops vpci_modern_ops = {
	.name = "modern",
	.get_status = modern_get_status,
	.set_status = modern_set_status,
	.get_features = modern_get_features,
	.set_features = modern_set_features,
	.config_read = modern_config_read,
	.config_write = cfg_write,
	.num_queues = modern_num_queues,
	.queue_max = modern_queue_max,
	.queue_enable = modern_queue_enable,
	.notify = modern_notify,
	.isr = modern_isr,
};

/* ---- legacy transport ---------------------------------------------------- */

static int legacy_get_status(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, device_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static int legacy_set_status(struct vdev *d, uint8_t status)
{
	return legacy_set(d, device_status, status);
}

static int legacy_get_features(struct vdev *d, uint64_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, device_features, &v);

	if (r)
		return r;
	*ret = v & 0xFFFFFFFFu;
	return 0;
}

static int legacy_set_features(struct vdev *d, uint64_t features)
{
	if (features >> 32)
		return log_err(-VQ_EINVAL,
			       "%s: legacy device cannot take features 0x%llx",
			       d->name, (unsigned long long)features);
	return legacy_set(d, driver_features, features);
}

/* Legacy has no generation counter; one pass is all we can do. */
static int legacy_config_read(struct vdev *d, uint32_t off, void *buf,
			      uint32_t len)
{
	int ret = cfg_range_ok(d, off, len);

	if (ret)
		return ret;
	return cfg_read_span(d, off, buf, len);
}

static int legacy_queue_max(struct vdev *d, uint16_t idx, uint16_t *ret)
{
	uint64_t v;
	int r = legacy_set(d, queue_select, idx);

	if (!r)
		r = legacy_get(d, queue_size, &v);
	if (r)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

/* Legacy has no queue count: the queues are those with a non-zero size. */
static int legacy_num_queues(struct vdev *d, uint16_t *ret)
{
	uint16_t n;

	for (n = 0; n < VDEV_MAX_QUEUES; n++) {
		uint16_t max;
		int r = legacy_queue_max(d, n, &max);

		if (r)
			return r;
		if (!max)
			break;
	}
	*ret = n;
	return 0;
}

/* §2.7.2 legacy layout: the device derives avail and used from the PFN and
 * its own queue size, so the ring must sit exactly where it will look. */
static int legacy_check_layout(struct vdev *d, struct virtqueue *vq,
			       uint16_t max)
{
	uint64_t desc = vq_desc_addr(vq);
	uint64_t q = vq_size(vq);
	uint64_t avail = desc + 16 * q;
	uint64_t used = VQ_ALIGN_UP(avail + 6 + 2 * q, (uint64_t)LEGACY_ALIGN);

	if (q != max)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u must have the device's size %u, not %llu",
			       d->name, vq_index(vq), max,
			       (unsigned long long)q);
	if (desc % LEGACY_ALIGN || (desc >> LEGACY_PFN_SHIFT) > 0xFFFFFFFFu)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u at 0x%llx: not 4096-aligned below 16 TiB",
			       d->name, vq_index(vq),
			       (unsigned long long)desc);
	if (vq_avail_addr(vq) != avail || vq_used_addr(vq) != used)
		return log_err(-VQ_EINVAL,
			       "%s: legacy queue %u not in the legacy layout",
			       d->name, vq_index(vq));
	return 0;
}

static int legacy_queue_enable(struct vdev *d, uint16_t idx,
			       struct virtqueue *vq)
{
	uint16_t max;
	int r = legacy_queue_max(d, idx, &max);

	if (!r)
		r = legacy_check_layout(d, vq, max);
	if (!r)
		r = legacy_set(d, queue_select, idx);
	if (r)
		return r;
	/* Writing the PFN is what activates a legacy queue. */
	return legacy_set(d, queue_pfn, vq_desc_addr(vq) >> LEGACY_PFN_SHIFT);
}

static void legacy_notify(struct vdev *d, uint16_t idx)
{
	if (legacy_set(d, queue_notify, idx))
		log_warn("%s: notify of queue %u failed", d->name, idx);
}

static int legacy_isr(struct vdev *d, uint8_t *ret)
{
	uint64_t v;
	int r = legacy_get(d, isr_status, &v);

	if (r)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

static const struct vtransport_ops vpci_legacy_ops = {
	.name = "legacy",
	.get_status = legacy_get_status,
	.set_status = legacy_set_status,
	.get_features = legacy_get_features,
	.set_features = legacy_set_features,
	.config_read = legacy_config_read,
	.config_write = cfg_write,
	.num_queues = legacy_num_queues,
	.queue_max = legacy_queue_max,
	.queue_enable = legacy_queue_enable,
	.notify = legacy_notify,
	.isr = legacy_isr,
};

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

static int use_legacy(struct vdev *d)
{
	bool io;
	uint64_t size;
	int r = d->bus.ops->bar_info(d->bus.ctx, LEGACY_BAR, &io, &size);

	if (r || !io || size < sizeof(struct virtio_pci_legacy_regs))
		return log_err(-VQ_ENODEV,
			       "%s: transitional virtio device without usable capabilities or legacy I/O BAR0",
			       d->bus.name);
	d->ops = &vpci_legacy_ops;
	d->legacy = true;
	/* The legacy config follows the registers (no MSI-X: §4.1.4.8). */
	d->device = (struct vpci_region){
		.present = true, .bar = LEGACY_BAR,
		.offset = sizeof(struct virtio_pci_legacy_regs),
		.length = (uint32_t)VQ_MIN(size, 0x100u) -
			  sizeof(struct virtio_pci_legacy_regs),
	};
	return 0;
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
		return use_legacy(d);
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
