/* SPDX-License-Identifier: MIT */
/*
 * virtio device and transport (virtio 1.2 §3.1, §4.1).
 *
 * A struct vdev is one virtio device on some transport. The transport (modern
 * or legacy virtio-pci) implements struct vtransport_ops over a struct
 * vpci_bus. The init sequence every device shares (vdev_init, queue setup,
 * vdev_driver_ok) lives in virtio.c; device drivers supply only a feature
 * filter.
 */
#ifndef VQ_TRANSPORT_H
#define VQ_TRANSPORT_H

#include "lib/compat.h"
#include "virtio/virtqueue.h"
#include "virtio/vpci_bus.h"

/* Device status bits (§2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Device-independent feature bits (§6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35
#define VIRTIO_F_ORDER_PLATFORM 36
#define VIRTIO_F_SR_IOV 37
#define VIRTIO_F_NOTIFICATION_DATA 38
#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_F_NOTIFY_ON_EMPTY 24

#define VIRTIO_BIT(b) (1ULL << (b))

/* Device types (§5) */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_SCSI 8
#define VIRTIO_ID_9P 9
#define VIRTIO_ID_GPU 16
#define VIRTIO_ID_INPUT 18
#define VIRTIO_ID_VSOCK 19

#define VDEV_MAX_QUEUES 8

/* Reset must read back 0 within this (§4.1.4.3.2 lets the device take time). */
#define VDEV_RESET_TIMEOUT_US 1000000

struct vdev;

/*
 * Transport operations. Each returns 0 if OK, or a negative VQ_E* value.
 */
struct vtransport_ops {
	/** "modern" or "legacy". */
	const char *name;

	/** Read the device status byte. */
	int (*get_status)(struct vdev *d, uint8_t *ret);

	/** Write the device status byte (0 starts a reset). */
	int (*set_status)(struct vdev *d, uint8_t status);

	/** Read the 64 offered feature bits (legacy: only the low 32). */
	int (*get_features)(struct vdev *d, uint64_t *ret);

	/** Write the accepted feature bits. */
	int (*set_features)(struct vdev *d, uint64_t features);

	/**
	 * Read @len bytes of device-specific config at @off, in accesses of at
	 * most 4 bytes, retrying while config_generation changes.
	 */
	int (*config_read)(struct vdev *d, uint32_t off, void *buf, uint32_t len);

	/** Write device-specific config (1, 2 or 4 bytes at @off). */
	int (*config_write)(struct vdev *d, uint32_t off, const void *buf,
			    uint32_t len);

	/** Number of queues the device has (legacy: probes queue sizes). */
	int (*num_queues)(struct vdev *d, uint16_t *ret);

	/** Maximum size of queue @idx; 0 means the queue does not exist. */
	int (*queue_max)(struct vdev *d, uint16_t idx, uint16_t *ret);

	/**
	 * Tell the device where queue @idx lives and enable it. Legacy
	 * requires the legacy layout and a 4096-aligned descriptor table
	 * below 16 TiB, and @size equal to the device's size.
	 */
	int (*queue_enable)(struct vdev *d, uint16_t idx, struct virtqueue *vq);

	/** Notify the device about queue @idx (cached notify address). */
	void (*notify)(struct vdev *d, uint16_t idx);

	/** Read and clear the ISR status byte (for diagnostics). */
	int (*isr)(struct vdev *d, uint8_t *ret);
};

/** Where a modern capability points: BAR, offset, length. */
struct vpci_region {
	bool present;
	uint8_t bar;
	uint32_t offset;
	uint32_t length;
};

struct vdev_queue {
	struct virtqueue *vq;
	struct vq_dma mem;
	uint16_t notify_off; /* modern: cached queue_notify_off */
};

struct vdev {
	const struct vtransport_ops *ops;
	struct vpci_bus bus;
	char name[24];            /* "vblk 00:03.0" style prefix for messages */

	uint16_t pci_vendor, pci_device, pci_subsys;
	uint8_t pci_revision;
	uint16_t type;            /* VIRTIO_ID_* */
	bool transitional;        /* also has the legacy interface */
	bool legacy;              /* driven through the legacy interface */

	uint64_t features_offered;
	uint64_t features;        /* negotiated */

	/* modern transport */
	struct vpci_region common, notify, isr_cfg, device;
	uint32_t notify_mult;

	/* config-space offset of the MSI-X capability, 0 when there is none
	 * (legacy: it moves the device config, §4.1.4.8) */
	uint8_t msix_cap;

	struct vdev_queue queues[VDEV_MAX_QUEUES];
	uint16_t nqueues;         /* set up by vdev_setup_queue */

	/*
	 * Set when the device was reset behind the driver's back (a timeout,
	 * a broken queue, DEVICE_NEEDS_RESET): its queues are gone on the
	 * device side and it must go through vdev_init again. Cleared by a
	 * successful vdev_init.
	 */
	bool broken;

	/*
	 * Set when a reset did not complete. The driver then turns bus
	 * mastering off (dma_off); until a reset completes, the device may
	 * still write any buffer it was given unless that worked: see
	 * vdev_may_dma(). Cleared by a reset that completes (which also turns
	 * bus mastering back on).
	 */
	bool stuck;
	bool dma_off;
};

/**
 * Whether the device may still write memory it was given: its reset did not
 * complete and bus mastering could not be turned off. Then no buffer it was
 * given may be unmapped, freed or handed back as usable: drivers leak them
 * on purpose (and return -VQ_ESTUCK for a caller's buffer).
 */
static inline bool vdev_may_dma(const struct vdev *d)
{
	return d->stuck && !d->dma_off;
}

/**
 * A driver's feature filter: offered bits in, accepted bits out. Pure: it
 * decides from @offered and its own @ctx (what vdev_init was given) alone.
 */
typedef uint64_t (*vdev_feature_filter)(void *ctx, uint64_t offered);

/**
 * Probe the PCI function behind @bus: match virtio (vendor 0x1AF4, modern and
 * transitional ids), read the type, pick the transport (modern when it has the
 * capabilities, legacy for legacy-only devices) and fill @ret.
 * Returns -VQ_ENODEV for non-virtio functions. Does not touch the device.
 * The capability walk is bounded (48 entries, pointers >= 0x40 with the
 * reserved low bits masked); capabilities naming BAR > 5, an unknown type, or
 * a window outside its BAR are skipped, and the first usable one of each
 * type wins. @ret->name is "virtio <bus name>"; drivers may rename it.
 */
int vpci_probe(const struct vpci_bus *bus, struct vdev *ret);

/** Name of a device type ("block", "gpu", ...). */
const char *virtio_type_name(uint16_t type);

/** Name of feature bit @bit for device @type, or NULL when unknown. */
const char *virtio_feature_name(uint16_t type, unsigned bit);

/**
 * Reset: write 0 and wait until the status reads back 0. On timeout the
 * device is marked broken and stuck, bus mastering is turned off (logged,
 * and if that fails too, vdev_may_dma() says so) and -VQ_ETIMEDOUT is
 * returned. A reset that completes turns bus mastering back on if it was off.
 */
int vdev_reset(struct vdev *d);

/**
 * The first half of §3.1.1: reset, ACKNOWLEDGE, DRIVER, negotiate features
 * through @filter (called with @ctx; VERSION_1 is required on modern, ACCESS_PLATFORM accepted,
 * transport bits we support kept), FEATURES_OK and its re-read. On failure the
 * device is left with FAILED set and the first error returned (except when
 * the reset itself does not complete: -VQ_ETIMEDOUT, nothing else written).
 * Of the transport feature bits (24..41) only INDIRECT_DESC and EVENT_IDX
 * survive, and only if @filter keeps them; VERSION_1 and ACCESS_PLATFORM are
 * added when offered. Legacy devices skip FEATURES_OK (§3.1.2).
 * Clears d->broken on success.
 */
int vdev_init(struct vdev *d, vdev_feature_filter filter, void *ctx);

/**
 * Allocate and enable queue @idx with at most @want entries (0 = device
 * maximum), rounded down to a power of 2. @indirect_max > 0 asks for
 * indirect tables of that many entries when INDIRECT_DESC was negotiated.
 */
int vdev_setup_queue(struct vdev *d, uint16_t idx, uint16_t want,
		     uint16_t indirect_max, struct virtqueue **ret_vq);

/** Set DRIVER_OK; re-read status and fail if the device gave up. */
int vdev_driver_ok(struct vdev *d);

/** Set FAILED, keeping the other bits (never clears status bits). */
void vdev_fail(struct vdev *d);

/**
 * Poll @vq until at least one chain completes or @deadline_us (plat_now_us()
 * time) passes. Completed chains go to @done. On timeout or a broken queue the
 * device is reset (so it no longer DMAs into any buffer) and every queue's
 * in-flight chains are dropped through @dropped (len 0, the same @ctx for
 * every queue, so tokens must say which request they are); returns
 * -VQ_ETIMEDOUT or -VQ_EBROKEN. Otherwise returns the number completed.
 * The status byte is polled about once a millisecond: DEVICE_NEEDS_RESET,
 * FAILED or a lost DRIVER_OK give -VQ_ENEEDRESET, with the same reset and
 * drop. After any failure d->broken is set: the device must go through
 * vdev_init (and queue setup) again; until then vdev_wait returns
 * -VQ_EBROKEN at once. When that reset does not complete, bus mastering is
 * turned off before @dropped is called; if vdev_may_dma() is then true,
 * the dropped chains' buffers must be kept from reuse (leaked).
 */
int vdev_wait(struct vdev *d, struct virtqueue *vq, uint64_t deadline_us,
	      vq_done_fn done, vq_done_fn dropped, void *ctx);

/**
 * Reset the device and free all its queues and their DMA memory. Safe to call
 * on a half-initialised device and more than once. When the device may still
 * write (vdev_may_dma()), the rings' DMA memory is deliberately not freed.
 */
void vdev_teardown(struct vdev *d);

/** Read a device config field by its struct offset and size. */
#define vdev_config_get(d, type, field, ptr)                                  \
	((d)->ops->config_read((d), offsetof(type, field), (ptr),              \
			       sizeof(((type *)0)->field)))

#endif
