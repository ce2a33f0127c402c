/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu driver (virtio 1.2 §5.7), 2D only, EFI-free, over struct vdev.
 *
 * Scanouts: every enabled scanout shows one shared resource. The resource is
 * as large as the largest chosen mode; scanout i shows the rectangle
 * (0, 0, w_i, h_i) of it at its own mode. The framebuffer offered to the
 * caller is the part every scanout shows (the smallest width and height), so
 * whatever is drawn is visible on all of them; the rest of the resource stays
 * black. One TRANSFER_TO_HOST_2D + RESOURCE_FLUSH per rectangle the caller
 * flushes then updates every scanout, however many there are. The driver
 * knows pixels and rectangles only: drawing and damage tracking are the
 * caller's.
 *
 * Mode per scanout: the EDID preferred timing (first detailed timing
 * descriptor) when EDID was negotiated and the block is valid, else the
 * display-info rectangle, else 1024x768. When no scanout is enabled, scanout
 * 0 is driven at that fallback. A resource above VGPU_MAX_DIM pixels per side
 * or VGPU_MAX_FB_BYTES is refused before anything is created.
 *
 * Commands go through a preallocated DMA area of command/response slots and
 * are kept in flight in batches (for instance a transfer and a flush per
 * damaged rectangle, waiting once for all). Every response is checked: the
 * used length, the type, the fence echo; device errors are reported naming
 * the command and the code.
 */
#ifndef VQ_VIRTIO_GPU_H
#define VQ_VIRTIO_GPU_H

#include "virtio/virtio.h"

/* Feature bits (§5.7.3) */
#define VIRTIO_GPU_F_VIRGL 0
#define VIRTIO_GPU_F_EDID 1

/* Command and response types (§5.7.6.7) */
#define VIRTIO_GPU_CMD_GET_DISPLAY_INFO 0x0100
#define VIRTIO_GPU_CMD_RESOURCE_CREATE_2D 0x0101
#define VIRTIO_GPU_CMD_RESOURCE_UNREF 0x0102
#define VIRTIO_GPU_CMD_SET_SCANOUT 0x0103
#define VIRTIO_GPU_CMD_RESOURCE_FLUSH 0x0104
#define VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D 0x0105
#define VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING 0x0106
#define VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING 0x0107
#define VIRTIO_GPU_CMD_GET_EDID 0x010a
#define VIRTIO_GPU_CMD_UPDATE_CURSOR 0x0300
#define VIRTIO_GPU_CMD_MOVE_CURSOR 0x0301

#define VIRTIO_GPU_RESP_OK_NODATA 0x1100
#define VIRTIO_GPU_RESP_OK_DISPLAY_INFO 0x1101
#define VIRTIO_GPU_RESP_OK_EDID 0x1104
#define VIRTIO_GPU_RESP_ERR_UNSPEC 0x1200
#define VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY 0x1201
#define VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID 0x1202
#define VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID 0x1203
#define VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID 0x1204
#define VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER 0x1205

#define VIRTIO_GPU_FLAG_FENCE 1
#define VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM 2
#define VIRTIO_GPU_MAX_SCANOUTS 16
#define VIRTIO_GPU_EVENT_DISPLAY 1

/* Wire structures (§5.7.6), all little-endian. */
struct virtio_gpu_ctrl_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
};

struct virtio_gpu_rect {
	uint32_t x, y, width, height;
};

struct virtio_gpu_display_one {
	struct virtio_gpu_rect r;
	uint32_t enabled;
	uint32_t flags;
};

struct virtio_gpu_resp_display_info {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_display_one pmodes[VIRTIO_GPU_MAX_SCANOUTS];
};

struct virtio_gpu_get_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t scanout;
	uint32_t padding;
};

struct virtio_gpu_resp_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t size;
	uint32_t padding;
	uint8_t edid[1024];
};

struct virtio_gpu_resource_create_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t format;
	uint32_t width;
	uint32_t height;
};

struct virtio_gpu_resource_unref {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t padding;
};

struct virtio_gpu_set_scanout {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t scanout_id;
	uint32_t resource_id;
};

struct virtio_gpu_resource_flush {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t resource_id;
	uint32_t padding;
};

struct virtio_gpu_transfer_to_host_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint64_t offset;
	uint32_t resource_id;
	uint32_t padding;
};

struct virtio_gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
	uint32_t padding;
};

struct virtio_gpu_resource_attach_backing {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t nr_entries;
	/* followed by nr_entries struct virtio_gpu_mem_entry */
};

struct virtio_gpu_resource_detach_backing {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t padding;
};

/* Device config (§5.7.4); read field by field with vdev_config_get. */
struct virtio_gpu_config {
	uint32_t events_read;
	uint32_t events_clear;
	uint32_t num_scanouts;
	uint32_t num_capsets;
};

/* Resource bounds checked before anything is created. */
#define VGPU_MAX_DIM 8192
#define VGPU_MAX_FB_BYTES (64u * 1024 * 1024)
#define VGPU_FALLBACK_WIDTH 1024
#define VGPU_FALLBACK_HEIGHT 768

/** Default deadline for one batch of commands. */
#define VGPU_DEFAULT_TIMEOUT_US (2ULL * 1000 * 1000)

/** What the base EDID block says (EDID 1.3/1.4, 128 bytes). */
struct vgpu_edid {
	char manufacturer[4];   /* three-letter PNP id, "RHT" */
	uint16_t product;
	char name[14];          /* monitor name descriptor (0xFC), or "" */
	bool has_preferred;
	uint32_t pref_width;    /* first detailed timing descriptor */
	uint32_t pref_height;
	uint32_t pref_refresh_mhz; /* millihertz; 0 when not computable */
};

/**
 * Parse an EDID base block. Checks the 8-byte header and the checksum of the
 * first 128 bytes. Returns -VQ_ESHORT (< 128 bytes) or -VQ_ECORRUPT.
 */
int vgpu_edid_parse(const uint8_t *edid, size_t len, struct vgpu_edid *ret);

enum vgpu_mode_source {
	VGPU_MODE_NONE = 0,     /* scanout not driven */
	VGPU_MODE_EDID,
	VGPU_MODE_DISPLAY_INFO,
	VGPU_MODE_FALLBACK,
};

struct vgpu_scanout_info {
	bool enabled;           /* display info said enabled */
	bool used;              /* we drive it */
	uint32_t width, height; /* the chosen mode */
	enum vgpu_mode_source source;
	struct virtio_gpu_rect info_rect; /* what GET_DISPLAY_INFO reported */
	bool has_edid;
	struct vgpu_edid edid;
};

/** Pick the mode for one scanout from what the device reported. */
void vgpu_choose_mode(bool enabled, const struct virtio_gpu_rect *info_rect,
		      const struct vgpu_edid *edid_or_null,
		      uint32_t *ret_width, uint32_t *ret_height,
		      enum vgpu_mode_source *ret_source);

/** Whether a @width x @height B8G8R8X8 resource is within our bounds. */
bool vgpu_mode_ok(uint32_t width, uint32_t height);

/** Name of a command or response type ("RESOURCE_CREATE_2D", "ERR_UNSPEC"). */
const char *vgpu_type_name(uint32_t type);

/**
 * The framebuffer: pixels 0x00RRGGBB (B8G8R8X8_UNORM in memory), @stride
 * pixels per row, of which the first @width of @height rows are visible.
 */
struct vgpu_fb {
	uint32_t *px;
	uint32_t width;
	uint32_t height;
	uint32_t stride;
};

/** A rectangle of the framebuffer, in pixels. */
struct vgpu_rect {
	uint32_t x, y, w, h;
};

struct vgpu_stats {
	uint64_t commands;      /* sent */
	uint64_t batches;       /* waits for a batch of commands */
	uint64_t flushes;       /* vgpu_flush calls that sent something */
	uint64_t rects;         /* rectangles transferred */
	uint64_t pixels;        /* pixels transferred */
	uint64_t open_us;       /* vgpu_open: init, display info, EDID */
	uint64_t start_us;      /* vgpu_start: create, attach, scanouts */
	uint64_t last_flush_us;
	uint64_t max_flush_us;
	uint64_t total_flush_us;
};

struct vgpu;

/** The feature filter: which offered bits this driver accepts. */
uint64_t vgpu_features(uint64_t offered);

/**
 * Initialise the device behind @d (a probed gpu device): negotiate features
 * (EDID, INDIRECT_DESC and EVENT_IDX when offered; never VIRGL), set up
 * controlq and cursorq, read the config, GET_DISPLAY_INFO and GET_EDID, and
 * choose a mode per scanout. Nothing is created on the device yet.
 * On failure the device is reset and everything freed.
 */
int vgpu_open(struct vdev *d, struct vgpu **ret);

/** Number of scanouts the device has (1..16). */
uint32_t vgpu_num_scanouts(const struct vgpu *g);

/** What scanout @i reported and the mode chosen; -VQ_EINVAL when out of range. */
int vgpu_scanout_info(const struct vgpu *g, uint32_t i,
		      struct vgpu_scanout_info *ret);

/**
 * Override the mode of scanout @i before vgpu_start (0x0 disables it).
 * -VQ_ERANGE for modes outside the bounds.
 */
int vgpu_set_mode(struct vgpu *g, uint32_t i, uint32_t width, uint32_t height);

/**
 * Create the resource, attach the framebuffer (DMA memory), point every used
 * scanout at it and show it cleared to black. -VQ_ERANGE, before anything is
 * created, when the resource would exceed the bounds.
 */
int vgpu_start(struct vgpu *g);

/** The framebuffer to draw into; -VQ_EINVAL before vgpu_start. */
int vgpu_framebuffer(const struct vgpu *g, struct vgpu_fb *ret);

/**
 * Transfer and flush @n rectangles of the framebuffer (all in one batch).
 * -VQ_ERANGE, before anything is sent, for a rectangle outside it.
 * Returns 0 with nothing to do.
 */
int vgpu_flush(struct vgpu *g, const struct vgpu_rect *r, unsigned n);

/** Per-batch deadline in microseconds. */
void vgpu_set_timeout(struct vgpu *g, uint64_t us);

void vgpu_get_stats(const struct vgpu *g, struct vgpu_stats *ret);

/**
 * Turn the scanouts off, detach and unref the resource (best effort, when
 * the device still works), reset the device and free everything.
 */
void vgpu_close(struct vgpu *g);

#endif
