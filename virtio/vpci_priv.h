/* SPDX-License-Identifier: MIT */
/*
 * Inside virtio over PCI (virtio 1.2 §4.1), shared by the three parts of it:
 * vpci_probe.c (ids, capabilities, picking a transport), vpci_config.c
 * (device config access), vpci_modern.c (§4.1.4) and vpci_legacy.c
 * (§4.1.4.8). Nothing
 * outside virtio/vpci_*.c includes this.
 *
 * Register offsets come from offsetof() on the spec structs below, never from
 * hand-counted numbers; every field is accessed with exactly its own width.
 */
#ifndef VQ_VPCI_PRIV_H
#define VQ_VPCI_PRIV_H

#include "virtio/virtio.h"

/* PCI configuration space (PCI Local Bus 3.0 §6.1, §6.7) */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_SUBSYSTEM_ID 0x2E
#define PCI_CAP_PTR 0x34
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
/* MSI-X capability: Message Control at +2, its bit 15 is MSI-X Enable
 * (PCI 3.0 §6.8.2.3). */
#define PCI_MSIX_FLAGS 2
#define PCI_MSIX_FLAGS_ENABLE 0x8000
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

/* §4.1.4.8: the legacy register block at the start of I/O BAR0. When MSI-X
 * is enabled on the function, struct virtio_pci_legacy_msix follows it, and
 * the device-specific config comes after that (0x18 instead of 0x14). */
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

struct virtio_pci_legacy_msix {
	uint16_t config_msix_vector;
	uint16_t queue_msix_vector;
};

#define LEGACY_BAR 0
#define LEGACY_PFN_SHIFT 12
#define LEGACY_ALIGN 4096

_Static_assert(sizeof(struct virtio_pci_cap) == 16, "virtio_pci_cap");
_Static_assert(sizeof(struct virtio_pci_notify_cap) == 20, "notify cap");
_Static_assert(sizeof(struct virtio_pci_common_cfg) == 56, "common cfg");
_Static_assert(sizeof(struct virtio_pci_legacy_regs) == 0x14, "legacy regs");
_Static_assert(sizeof(struct virtio_pci_legacy_regs) +
		       sizeof(struct virtio_pci_legacy_msix) == 0x18,
	       "legacy config offset with MSI-X");

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* ---- BAR access ---------------------------------------------------------- */

static inline int bar_rd(struct vdev *d, uint8_t bar, uint64_t off, unsigned width,
		  uint64_t *ret)
{
	return d->bus.ops->bar_read(d->bus.ctx, bar, off, width, ret);
}

static inline int bar_wr(struct vdev *d, uint8_t bar, uint64_t off, unsigned width,
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

#define legacy_get(d, field, ret)                                              \
	bar_rd((d), LEGACY_BAR,                                                \
	       offsetof(struct virtio_pci_legacy_regs, field),                 \
	       FIELD_SIZE(struct virtio_pci_legacy_regs, field), (ret))
#define legacy_set(d, field, val)                                              \
	bar_wr((d), LEGACY_BAR,                                                \
	       offsetof(struct virtio_pci_legacy_regs, field),                 \
	       FIELD_SIZE(struct virtio_pci_legacy_regs, field), (val))

/* Device-specific config, shared by both transports (vpci_config.c). */
int vpci_cfg_range_ok(struct vdev *d, uint32_t off, uint32_t len);
/* Naturally aligned accesses of at most 4 bytes (§4.1.3.1). */
int vpci_cfg_read_span(struct vdev *d, uint32_t off, uint8_t *buf,
		       uint32_t len);
int vpci_cfg_write(struct vdev *d, uint32_t off, const void *buf,
		   uint32_t len);

extern const struct vtransport_ops vpci_modern_ops;
extern const struct vtransport_ops vpci_legacy_ops;

/** Switch @d to the legacy transport (I/O BAR0), with its config region. */
int vpci_legacy_setup(struct vdev *d);

#endif
