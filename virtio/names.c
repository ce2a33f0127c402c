/* SPDX-License-Identifier: MIT */
/* Names of virtio device types and feature bits, for diagnostics. */
#include "virtio/virtio.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_scsi.h"

/* virtio-gpu feature bits (§5.7.3) */
#define VIRTIO_GPU_F_VIRGL 0
#define VIRTIO_GPU_F_EDID 1
#define VIRTIO_GPU_F_RESOURCE_UUID 2
#define VIRTIO_GPU_F_RESOURCE_BLOB 3
#define VIRTIO_GPU_F_CONTEXT_INIT 4

struct bit_name {
	unsigned bit;
	const char *name;
};

static const struct bit_name common_bits[] = {
	{ VIRTIO_F_NOTIFY_ON_EMPTY, "NOTIFY_ON_EMPTY" },
	{ VIRTIO_F_ANY_LAYOUT, "ANY_LAYOUT" },
	{ VIRTIO_F_INDIRECT_DESC, "RING_INDIRECT_DESC" },
	{ VIRTIO_F_EVENT_IDX, "RING_EVENT_IDX" },
	{ VIRTIO_F_VERSION_1, "VERSION_1" },
	{ VIRTIO_F_ACCESS_PLATFORM, "ACCESS_PLATFORM" },
	{ VIRTIO_F_RING_PACKED, "RING_PACKED" },
	{ VIRTIO_F_IN_ORDER, "IN_ORDER" },
	{ VIRTIO_F_ORDER_PLATFORM, "ORDER_PLATFORM" },
	{ VIRTIO_F_SR_IOV, "SR_IOV" },
	{ VIRTIO_F_NOTIFICATION_DATA, "NOTIFICATION_DATA" },
};

static const struct bit_name blk_bits[] = {
	{ VIRTIO_BLK_F_SIZE_MAX, "SIZE_MAX" },
	{ VIRTIO_BLK_F_SEG_MAX, "SEG_MAX" },
	{ VIRTIO_BLK_F_GEOMETRY, "GEOMETRY" },
	{ VIRTIO_BLK_F_RO, "RO" },
	{ VIRTIO_BLK_F_BLK_SIZE, "BLK_SIZE" },
	{ VIRTIO_BLK_F_FLUSH, "FLUSH" },
	{ VIRTIO_BLK_F_TOPOLOGY, "TOPOLOGY" },
	{ VIRTIO_BLK_F_CONFIG_WCE, "CONFIG_WCE" },
	{ VIRTIO_BLK_F_MQ, "MQ" },
	{ VIRTIO_BLK_F_DISCARD, "DISCARD" },
	{ VIRTIO_BLK_F_WRITE_ZEROES, "WRITE_ZEROES" },
};

static const struct bit_name scsi_bits[] = {
	{ VIRTIO_SCSI_F_INOUT, "INOUT" },
	{ VIRTIO_SCSI_F_HOTPLUG, "HOTPLUG" },
	{ VIRTIO_SCSI_F_CHANGE, "CHANGE" },
	{ VIRTIO_SCSI_F_T10_PI, "T10_PI" },
};

static const struct bit_name gpu_bits[] = {
	{ VIRTIO_GPU_F_VIRGL, "VIRGL" },
	{ VIRTIO_GPU_F_EDID, "EDID" },
	{ VIRTIO_GPU_F_RESOURCE_UUID, "RESOURCE_UUID" },
	{ VIRTIO_GPU_F_RESOURCE_BLOB, "RESOURCE_BLOB" },
	{ VIRTIO_GPU_F_CONTEXT_INIT, "CONTEXT_INIT" },
};

static const char *find_bit(const struct bit_name *tab, size_t n, unsigned bit)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].bit == bit)
			return tab[i].name;
	return NULL;
}

const char *virtio_type_name(uint16_t type)
{
	switch (type) {
	case VIRTIO_ID_NET: return "net";
	case VIRTIO_ID_BLOCK: return "block";
	case VIRTIO_ID_CONSOLE: return "console";
	case VIRTIO_ID_RNG: return "entropy";
	case VIRTIO_ID_BALLOON: return "balloon";
	case VIRTIO_ID_SCSI: return "scsi";
	case VIRTIO_ID_9P: return "9p";
	case VIRTIO_ID_GPU: return "gpu";
	case VIRTIO_ID_INPUT: return "input";
	case VIRTIO_ID_VSOCK: return "vsock";
	default: return "unknown";
	}
}

const char *virtio_feature_name(uint16_t type, unsigned bit)
{
	/* §6: 0..23 are device-specific, 24..41 transport, 50+ device again. */
	if (bit >= 24 && bit <= 41)
		return find_bit(common_bits, ARRAY_SIZE(common_bits), bit);
	switch (type) {
	case VIRTIO_ID_BLOCK:
		return find_bit(blk_bits, ARRAY_SIZE(blk_bits), bit);
	case VIRTIO_ID_SCSI:
		return find_bit(scsi_bits, ARRAY_SIZE(scsi_bits), bit);
	case VIRTIO_ID_GPU:
		return find_bit(gpu_bits, ARRAY_SIZE(gpu_bits), bit);
	default:
		return NULL;
	}
}
