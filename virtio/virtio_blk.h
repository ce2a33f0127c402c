/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk driver (virtio 1.2 §5.2), EFI-free, over struct vdev.
 *
 * Sector numbers on the wire are always 512-byte units, whatever BLK_SIZE
 * says. Reads are split to honour SEG_MAX and SIZE_MAX and kept several in
 * flight. Data goes straight into the caller's buffer when the bus maps it
 * as an identity, through DMA bounce buffers otherwise (or always, when
 * forced), allocated the first time one is needed.
 */
#ifndef VQ_VIRTIO_BLK_H
#define VQ_VIRTIO_BLK_H

#include "virtio/virtio.h"
#include "lib/blockdev.h"

/* Feature bits (§5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (§5.2.6) */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Device config layout (§5.2.4); read field by field with vdev_config_get. */
struct virtio_blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		uint16_t min_io_size;
		uint32_t opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
} __attribute__((packed));

struct vblk_info {
	uint64_t capacity;      /* 512-byte sectors */
	uint32_t blk_size;      /* logical block size (512 when not offered) */
	uint32_t seg_max;       /* max data segments per request (0: not offered) */
	uint32_t size_max;      /* max bytes per segment (0: not offered) */
	bool read_only;
	bool flush;             /* FLUSH negotiated and writable */
	bool topology;
	uint8_t physical_block_exp;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint16_t queue_size;
	uint32_t max_request;   /* bytes per request we send */
};

struct vblk_stats {
	uint64_t requests;
	uint64_t bytes;
	uint64_t bounced_bytes;
	uint32_t max_inflight;
};

struct vblk;

/** Default deadline for one request (a stalled device is reset after it). */
#define VBLK_DEFAULT_TIMEOUT_US (10ULL * 1000 * 1000)

/**
 * The feature filter: which offered bits this driver accepts (SIZE_MAX,
 * SEG_MAX, RO, BLK_SIZE, FLUSH, TOPOLOGY, INDIRECT_DESC, EVENT_IDX; not MQ).
 */
uint64_t vblk_features(uint64_t offered);

/**
 * Initialise the device behind @d (a probed block device): negotiate
 * features, set up the request queue, preallocate request headers, read the
 * config. Bounce buffers are allocated when a request first needs one. On failure the device is reset. Renames
 * d->name to "vblk <bus name>".
 */
int vblk_open(struct vdev *d, struct vblk **ret);

/** Reset the device and free everything. */
void vblk_close(struct vblk *b);

const struct vblk_info *vblk_get_info(const struct vblk *b);
void vblk_get_stats(const struct vblk *b, struct vblk_stats *ret);

/** Always bounce through DMA buffers, even when Map gives an identity. */
void vblk_set_force_bounce(struct vblk *b, bool force);

/** Per-request deadline in microseconds. */
void vblk_set_timeout(struct vblk *b, uint64_t us);

/**
 * Read @len bytes (a multiple of 512) at 512-byte sector @sector. Ranges
 * beyond the capacity are refused before they reach the device. Errors:
 * -VQ_EIO (IOERR, naming the sector), -VQ_EUNSUPP, -VQ_ESHORT (short used
 * length), -VQ_ETIMEDOUT (device reset), -VQ_EBROKEN, -VQ_ERANGE.
 * With 4096-byte logical blocks, @sector and @len must be block-aligned
 * (-VQ_EINVAL otherwise).
 *
 * Every call returns only when the device no longer owns any of @buf: all
 * requests completed, or the device was reset (or, when its reset did not
 * complete, bus mastering was turned off). The one exception is -VQ_ESTUCK:
 * the device would not stop and may still write @buf, which the caller must
 * then never free or reuse (the driver is dead from then on). After -VQ_ETIMEDOUT,
 * -VQ_EBROKEN or -VQ_ENEEDRESET (all of which reset the device) the next
 * call re-initialises the device first; if that fails the driver is dead and
 * every later call returns -VQ_ENODEV.
 */
int vblk_read(struct vblk *b, uint64_t sector, void *buf, size_t len);

/** Write (tests and diagnostics only); -VQ_EROFS on a read-only device. */
int vblk_write(struct vblk *b, uint64_t sector, const void *buf, size_t len);

/** Flush; -VQ_ENOTSUP when FLUSH was not negotiated or the device is RO. */
int vblk_flush(struct vblk *b);

/** The device serial (GET_ID): up to 20 bytes, NUL-terminated here. */
int vblk_get_id(struct vblk *b, char ret[21]);

/** A blockdev over the whole disk (block_size = the logical block size). */
struct blockdev *vblk_bdev(struct vblk *b);

#endif
