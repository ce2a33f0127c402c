/* SPDX-License-Identifier: MIT */
/*
 * virtio-scsi driver (virtio 1.2 §5.6), EFI-free, over struct vdev.
 *
 * Opening a controller scans it: targets 0..max_target on channel 0, the
 * LUNs each target reports, and of those the disks (peripheral type 0) that
 * become ready and report a capacity. Each such disk is a struct blockdev,
 * read with READ(10) or READ(16), several requests in flight on the first
 * request queue, like virtio-blk. Only commands that read are ever sent:
 * TEST UNIT READY, INQUIRY, REPORT LUNS, READ CAPACITY(10)/(16) and
 * READ(10)/(16); anything else is refused before it reaches the device.
 *
 * Every response is untrusted: the response code, the status, sense_len
 * (within sense_size), resid (within the transfer) and the used length are
 * checked before anything is taken from it.
 */
#ifndef VQ_VIRTIO_SCSI_H
#define VQ_VIRTIO_SCSI_H

#include "virtio/virtio.h"
#include "lib/blockdev.h"

/* Feature bits (§5.6.3) */
#define VIRTIO_SCSI_F_INOUT 0
#define VIRTIO_SCSI_F_HOTPLUG 1
#define VIRTIO_SCSI_F_CHANGE 2
#define VIRTIO_SCSI_F_T10_PI 3

/* Queues (§5.6.2) */
#define VIRTIO_SCSI_CONTROLQ 0
#define VIRTIO_SCSI_EVENTQ 1
#define VIRTIO_SCSI_REQUESTQ 2

/* Response codes of a command request (§5.6.6.1) */
#define VIRTIO_SCSI_S_OK 0
#define VIRTIO_SCSI_S_OVERRUN 1
#define VIRTIO_SCSI_S_ABORTED 2
#define VIRTIO_SCSI_S_BAD_TARGET 3
#define VIRTIO_SCSI_S_RESET 4
#define VIRTIO_SCSI_S_BUSY 5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE 6
#define VIRTIO_SCSI_S_TARGET_FAILURE 7
#define VIRTIO_SCSI_S_NEXUS_FAILURE 8
#define VIRTIO_SCSI_S_FAILURE 9

/* Wire layout of the request and response headers (§5.6.6.1); the CDB and
 * the sense data that follow are cdb_size and sense_size bytes long. */
#define VIRTIO_SCSI_REQ_HDR 19  /* lun[8], id le64, task_attr, prio, crn */
#define VIRTIO_SCSI_RESP_HDR 12 /* sense_len, resid, status_qualifier, status, response */

/* Device config layout (§5.6.4); read field by field with vdev_config_get. */
struct virtio_scsi_config {
	uint32_t num_queues;
	uint32_t seg_max;
	uint32_t max_sectors;
	uint32_t cmd_per_lun;
	uint32_t event_info_size;
	uint32_t sense_size;
	uint32_t cdb_size;
	uint16_t max_channel;
	uint16_t max_target;
	uint32_t max_lun;
} __attribute__((packed));

/* SCSI operation codes (SPC-4, SBC-3). Only these are ever sent. */
#define SCSI_TEST_UNIT_READY 0x00
#define SCSI_INQUIRY 0x12
#define SCSI_READ_CAPACITY_10 0x25
#define SCSI_READ_10 0x28
#define SCSI_READ_16 0x88
#define SCSI_SERVICE_ACTION_IN_16 0x9E
#define SCSI_SA_READ_CAPACITY_16 0x10
#define SCSI_REPORT_LUNS 0xA0

/* Status codes (SAM-5) */
#define SCSI_STATUS_GOOD 0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02
#define SCSI_STATUS_BUSY 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL 0x28
#define SCSI_STATUS_TASK_ABORTED 0x40

/* Sense keys (SPC-4 §4.5.6) */
#define SCSI_SENSE_NO_SENSE 0x0
#define SCSI_SENSE_RECOVERED_ERROR 0x1
#define SCSI_SENSE_NOT_READY 0x2
#define SCSI_SENSE_MEDIUM_ERROR 0x3
#define SCSI_SENSE_HARDWARE_ERROR 0x4
#define SCSI_SENSE_ILLEGAL_REQUEST 0x5
#define SCSI_SENSE_UNIT_ATTENTION 0x6
#define SCSI_SENSE_DATA_PROTECT 0x7
#define SCSI_SENSE_ABORTED_COMMAND 0xB

#define VSCSI_MAX_TARGETS 256   /* lun[1] is one byte: targets 0..255 */
#define VSCSI_MAX_LUNS 32       /* LUNs kept per controller */
#define VSCSI_LUNS_PER_TARGET 126 /* REPORT LUNS entries read per target */

/** Default deadline for one request (a stalled device is reset after it). */
#define VSCSI_DEFAULT_TIMEOUT_US (10ULL * 1000 * 1000)

struct vscsi_info {
	uint32_t num_queues;
	uint32_t seg_max;
	uint32_t max_sectors;     /* 512-byte sectors per command (0: none given) */
	uint32_t cmd_per_lun;
	uint32_t event_info_size;
	uint32_t sense_size;      /* in use (maybe written by us) */
	uint32_t cdb_size;        /* in use (maybe written by us) */
	uint16_t max_channel;
	uint16_t max_target;
	uint32_t max_lun;
	uint16_t queue_size;
	uint32_t max_request;     /* bytes per READ we send at most */
	uint32_t targets_scanned;
	uint64_t scan_us;         /* time the scan took */
};

/** What a sense buffer said (fixed or descriptor format). */
struct vscsi_sense {
	bool valid;               /* a sense buffer we could parse */
	uint8_t key, asc, ascq;
	bool info_valid;
	uint64_t info;            /* the INFORMATION field: for reads, the LBA */
};

/** One logical unit found by the scan. */
struct vscsi_lun {
	struct vscsi *c;
	uint16_t target;
	uint16_t lun;
	uint8_t type;             /* peripheral device type (0: disk) */
	bool disk;                /* a ready disk with a capacity: has a bdev */
	const char *why;          /* why not a disk (static text) */
	char vendor[9];
	char product[17];
	char revision[5];
	uint64_t blocks;
	uint32_t block_size;
	uint8_t phys_exp;         /* logical blocks per physical block, log2 */
	char name[32];            /* "vscsi 00:04.0 t3 l0" */
	struct blockdev bdev;
};

struct vscsi_stats {
	uint64_t commands;        /* every command completed, scan included */
	uint64_t reads;           /* READ(10)/(16) completed */
	uint64_t bytes;
	uint64_t bounced_bytes;
	uint64_t retries;
	uint32_t max_inflight;
};

struct vscsi;

/**
 * The feature filter: INDIRECT_DESC and EVENT_IDX; none of the device's own
 * (no INOUT, HOTPLUG, CHANGE or T10_PI: a boot loader reads, and scans once).
 */
uint64_t vscsi_features(uint64_t offered);

/**
 * Initialise the controller behind @d (a probed virtio-scsi device):
 * negotiate, set up the first request queue, read (and if need be fix) the
 * config. On failure the device is reset. Renames d->name to
 * "vscsi <bus name>". Then set the timeout and bounce mode, and scan.
 */
int vscsi_open(struct vdev *d, struct vscsi **ret);

/**
 * Scan the controller: REPORT LUNS on every target 0..max_target (at most
 * 255; a target answering BAD_TARGET gets nothing more), LUN 0 where REPORT
 * LUNS fails, INQUIRY on every LUN reported, then for the disks (peripheral
 * type 0) TEST UNIT READY (UNIT ATTENTION retried at once, "becoming
 * ready" for up to 2 s) and READ CAPACITY(16), or (10) where (16) is not
 * supported. Each phase has every command in flight at once. A controller
 * without disks scans fine (no LUNs). Errors: a failure of the controller
 * itself (timeout, broken queue), which resets it.
 */
int vscsi_scan(struct vscsi *c);

/** Reset the device and free everything. */
void vscsi_close(struct vscsi *c);

const struct vscsi_info *vscsi_get_info(const struct vscsi *c);
/** "vscsi 00:04.0": the controller, for messages. */
const char *vscsi_name(const struct vscsi *c);
void vscsi_get_stats(const struct vscsi *c, struct vscsi_stats *ret);
/** Start the counts afresh (vqdiag bench: the scan's commands are not a test's). */
void vscsi_reset_stats(struct vscsi *c);

/** Every LUN the scan found (disks and others), in target, LUN order. */
unsigned vscsi_lun_count(const struct vscsi *c);
struct vscsi_lun *vscsi_lun_at(struct vscsi *c, unsigned i);

/** Always bounce through DMA buffers, even when Map gives an identity. */
void vscsi_set_force_bounce(struct vscsi *c, bool force);

/** Per-request deadline in microseconds. */
void vscsi_set_timeout(struct vscsi *c, uint64_t us);

/**
 * Read @count blocks at @lba of disk @l into @buf. Ranges beyond the
 * capacity are refused before they reach the device. Errors: -VQ_EIO (the
 * target said CHECK CONDITION or a failure response; logged with the sense
 * in words), -VQ_ESHORT (short transfer or used length), -VQ_ECORRUPT (a
 * response that contradicts itself), -VQ_ETIMEDOUT / -VQ_EBROKEN /
 * -VQ_ENEEDRESET (device reset; the next call re-initialises it),
 * -VQ_ERANGE, -VQ_ENODEV. UNIT ATTENTION, BUSY and RESET are retried.
 * Returns only when the device no longer owns any of @buf, except with
 * -VQ_ESTUCK: the device would not stop (its reset did not complete and bus
 * mastering could not be turned off) and may still write @buf, which the
 * caller must then never free or reuse.
 */
int vscsi_read(struct vscsi_lun *l, uint64_t lba, uint64_t count, void *buf);

/** The blockdev of disk @l (NULL when @l is not a disk). */
struct blockdev *vscsi_lun_bdev(struct vscsi_lun *l);

/** "MEDIUM ERROR" etc. for a sense key. */
const char *vscsi_sense_key_name(uint8_t key);

/** Words for an ASC/ASCQ pair ("unrecovered read error"), or NULL. */
const char *vscsi_asc_name(uint8_t asc, uint8_t ascq);

/** Parse @len bytes of sense data (fixed 0x70/0x71 or descriptor 0x72/0x73). */
void vscsi_parse_sense(const uint8_t *sense, uint32_t len, struct vscsi_sense *ret);

/** "disk", "CD/DVD", ... for a peripheral device type. */
const char *vscsi_type_name(uint8_t type);

#endif
