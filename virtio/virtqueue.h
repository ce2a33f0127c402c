/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueue (virtio 1.2 §2.7), driver side.
 *
 * EFI-free: depends only on compat.h, barrier.h and a notify callback. The
 * caller provides the ring memory as one DMA area (host pointer + device
 * address) of vq_dma_size() bytes; the ring never maps anything itself and
 * only ever writes device addresses into descriptors.
 *
 * The device is not trusted. The driver keeps its own copy of every
 * descriptor it posted and never follows a chain through shared memory. A used
 * element naming an id out of range or not an in-flight head, a len above the
 * device-writable bytes posted, or a used->idx that runs ahead of what is in
 * flight marks the queue broken: every later call returns -VQ_EBROKEN until
 * vq_reset() (which the caller does only after resetting the device).
 */
#ifndef VQ_VIRTQUEUE_H
#define VQ_VIRTQUEUE_H

#include "lib/compat.h"

#define VQ_MAX_SIZE 32768

/* Descriptor flags (§2.7.5) */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
/* avail->flags / used->flags (§2.7.6, §2.7.8) */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Wire layout (§2.7.5), little-endian. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/** A DMA area: what the CPU uses and what the device is told. */
struct vq_dma {
	void *host;
	uint64_t dev;
	size_t size;
	void *mapping; /* the bus's handle for unmapping; opaque here */
};

/** One buffer of a chain, by device address. */
struct vq_buf {
	uint64_t addr;
	uint32_t len;
};

struct vq_config {
	uint16_t index;        /* queue number, passed to notify */
	uint16_t size;         /* power of 2, 1..VQ_MAX_SIZE */
	bool legacy_layout;    /* used ring 4096-aligned (§2.7, legacy) */
	bool event_idx;        /* VIRTIO_F_EVENT_IDX negotiated */
	uint16_t indirect_max; /* entries per indirect table; 0 = no indirect.
				* Capped at size: §2.7.5.3.1 forbids chains
				* longer than the queue, indirect ones too. */
};

/** Called to notify ("kick") the device that queue @index has new buffers. */
typedef void (*vq_notify_fn)(void *ctx, uint16_t index);

/**
 * Called once per completed chain with the token given to vq_add() and the
 * bytes the device wrote (already checked against what was posted). A done
 * callback may vq_add() and vq_kick() (vq_collect() from it returns 0);
 * neither callback may vq_reset() or vq_destroy() the queue it is called
 * from.
 */
typedef void (*vq_done_fn)(void *ctx, void *token, uint32_t len);

struct virtqueue;

/** Bytes of DMA memory the queue needs (rings + indirect tables), 4096-aligned. */
size_t vq_dma_size(const struct vq_config *cfg);

/**
 * Create a queue over @mem (at least vq_dma_size() bytes, host and device
 * addresses 4096-aligned; the rings are zeroed by this call, the indirect
 * tables are written before each use). Layout: descriptor table at
 * offset 0, avail ring right after it, used ring 4-aligned (legacy_layout:
 * 4096-aligned), then one indirect table per descriptor, 16-aligned.
 * Returns 0 or -VQ_EINVAL / -VQ_ENOMEM.
 */
int vq_create(const struct vq_config *cfg, const struct vq_dma *mem,
	      vq_notify_fn notify, void *notify_ctx, struct virtqueue **ret_vq);

/** Free the driver-side state. The DMA area stays the caller's. */
void vq_destroy(struct virtqueue *vq);

/** Device addresses of the three parts, for the transport's queue setup. */
uint64_t vq_desc_addr(const struct virtqueue *vq);
uint64_t vq_avail_addr(const struct virtqueue *vq);
uint64_t vq_used_addr(const struct virtqueue *vq);
uint16_t vq_size(const struct virtqueue *vq);
uint16_t vq_index(const struct virtqueue *vq);

/**
 * Post a chain: @n_out device-readable buffers then @n_in device-writable
 * ones, at most vq_size() in all. Uses an indirect table (one descriptor)
 * when negotiated and the chain has more than one buffer and fits; else a
 * direct chain. @token (non-NULL) comes back on completion.
 * Does not publish or notify; call vq_kick().
 * Returns 0, -VQ_ENOSPC (not enough free descriptors; retry after
 * completions), -VQ_EINVAL (no buffers, a zero length, a buffer whose
 * address range wraps, total over 4 GiB, more buffers than vq_size(), NULL
 * token) or -VQ_EBROKEN.
 */
int vq_add(struct virtqueue *vq, const struct vq_buf *out, unsigned n_out,
	   const struct vq_buf *in, unsigned n_in, void *token);

/**
 * Publish everything added since the last kick and notify the device unless
 * it suppressed notifications (NO_NOTIFY, or EVENT_IDX avail_event).
 * Returns true when it notified; false when it had nothing new to publish,
 * the device suppressed the notification, or the queue is broken.
 */
bool vq_kick(struct virtqueue *vq);

/**
 * Collect completed chains, calling @done for each, freeing their
 * descriptors first. Returns the number collected (0 when none), or
 * -VQ_EBROKEN when the device broke the protocol (the queue is then dead and
 * the caller must reset the device).
 */
int vq_collect(struct virtqueue *vq, vq_done_fn done, void *ctx);

/** Chains posted and not yet collected. */
unsigned vq_inflight(const struct virtqueue *vq);

/** Free descriptors in the direct table. */
unsigned vq_num_free(const struct virtqueue *vq);

/** Whether the queue is broken, and why (a static string, or NULL). */
bool vq_is_broken(const struct virtqueue *vq);
const char *vq_broken_reason(const struct virtqueue *vq);

/**
 * Forget everything in flight and return the rings to their initial state
 * (zeroed, indices 0, not broken). Only after the device has been reset (it
 * must no longer touch the rings). @dropped, if non-NULL, is called for each
 * chain that was in flight (kicked or not), with len 0.
 */
void vq_reset(struct virtqueue *vq, vq_done_fn dropped, void *ctx);

/**
 * Where the two sides of the ring stand, for a stall report: what we
 * published (avail->idx) and the device published (used->idx, read now), how
 * far we have collected, and both suppression fields as they are in memory.
 */
struct vq_ring_state {
	uint16_t avail_idx;   /* published to the device */
	uint16_t pending_idx; /* added, published or not */
	uint16_t used_idx;    /* the device's used->idx */
	uint16_t last_used;   /* collected up to here */
	uint16_t used_event;  /* ours (EVENT_IDX) */
	uint16_t avail_event; /* the device's (EVENT_IDX) */
	uint16_t used_flags;  /* the device's NO_NOTIFY */
	unsigned inflight;
};
void vq_get_ring_state(struct virtqueue *vq, struct vq_ring_state *ret);

/** Counters for diagnostics. */
struct vq_stats {
	uint64_t added;
	uint64_t completed;
	uint64_t kicks;
	uint64_t kicks_suppressed;
	uint64_t indirect;
};
void vq_get_stats(const struct virtqueue *vq, struct vq_stats *ret);

#endif
