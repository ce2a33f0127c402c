/* SPDX-License-Identifier: MIT */
/*
 * A simulated virtio device side of one split virtqueue (virtio 1.2 §2.7),
 * for host tests. It sees the ring only the way a device does: through device
 * addresses, which it turns into host pointers with a translation function
 * the test supplies. Make device addresses differ from host addresses
 * (e.g. host + 0x100000000) and let the translation fail for anything outside
 * the registered DMA areas: a host pointer written into a descriptor is then
 * caught.
 *
 * Usage, as a device:
 *   ring_sim_init(&sim, vq_desc_addr(vq), vq_avail_addr(vq), vq_used_addr(vq),
 *                 vq_size(vq), event_idx, my_translate, my_ctx);
 *   while (ring_sim_pop(&sim, &chain) == 1) {
 *       ring_sim_chain_read(&chain, 0, &hdr, sizeof(hdr));   // readable part
 *       ...                                                    // do the work
 *       ring_sim_chain_write(&chain, 0, data, n);             // writable part
 *       ring_sim_push(&sim, chain.head, n);                   // any order
 *   }
 *
 * The simulator checks the driver: a chain that loops, is longer than the
 * queue, mixes readable after writable, uses INDIRECT with NEXT, nests
 * indirect tables, has a zero-length buffer, points outside DMA memory,
 * or uses a descriptor of a chain still in flight (every descriptor is
 * tracked from pop to push, not only the heads) makes ring_sim_pop() return
 * -1 with sim->error saying why. Tests should fail on that.
 *
 * Misbehaviour on request: ring_sim_push_raw() publishes any id/len,
 * ring_sim_set_used_idx() moves used->idx anywhere; the suppression fields
 * are set with ring_sim_set_no_notify() and ring_sim_set_avail_event().
 *
 * The simulator is host-only test code; it is robust against garbage in the
 * ring (a fuzzer drives it too) and never touches memory the translation
 * function did not hand out.
 */
#ifndef VQ_RING_SIM_H
#define VQ_RING_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A chain holds at most this many buffers (virtio-blk with seg_max 254 needs
 * 256). Longer chains are reported as an error. */
#define RING_SIM_MAX_SEGS 512

/**
 * Map @len bytes at device address @dev_addr to a host pointer, or return
 * NULL when that range is not DMA memory the device may touch.
 */
typedef void *(*ring_sim_translate_fn)(void *ctx, uint64_t dev_addr, size_t len);

struct ring_sim_seg {
	uint64_t addr;  /* device address from the descriptor */
	void *host;     /* translated */
	uint32_t len;
	bool writable;  /* VIRTQ_DESC_F_WRITE */
};

/** One chain taken from the avail ring. */
struct ring_sim_chain {
	uint16_t head;        /* the id to complete it with */
	bool indirect;        /* came through an indirect table */
	unsigned n_segs;
	unsigned n_readable;  /* the first n_readable segs are readable */
	uint64_t readable_bytes;
	uint64_t writable_bytes;
	struct ring_sim_seg seg[RING_SIM_MAX_SEGS];
};

struct ring_sim {
	ring_sim_translate_fn translate;
	void *ctx;
	uint16_t size;
	bool event_idx;
	/* With event_idx: after each pop, write avail_event = the next avail
	 * index we will read, asking for a kick on every new chain (QEMU's
	 * behaviour). On by default; turn off to test suppression. */
	bool auto_avail_event;

	volatile void *desc;   /* host views of the three parts */
	volatile void *avail;
	volatile void *used;

	uint16_t last_avail;   /* next avail ring index to read */
	uint16_t used_idx;     /* next used->idx to publish */
	uint64_t popped;
	uint64_t pushed;

	char error[160];       /* why the last call failed */
	unsigned n_walk;       /* scratch: the table indices of the chain popped */
	uint16_t walk[RING_SIM_MAX_SEGS + 1];

	/* Last, three arrays of which ring_sim_init clears only the @size
	 * entries a queue uses: a device re-inits its queues on every reset,
	 * and the fuzz targets make a device each run. */
	/* Chains popped and not yet pushed, one bit per head, for
	 * ring_sim_push(). */
	uint64_t outstanding[32768 / 64];
	/* Every descriptor of the table in flight, one bit each, and for each
	 * the next one of its chain (0xffff: the last), as popped: a chain
	 * that uses one still in flight makes ring_sim_pop() fail; a push
	 * frees exactly the descriptors its chain had. */
	uint64_t desc_busy[32768 / 64];
	uint16_t desc_link[32768];
};

/**
 * Attach to a queue by its device addresses, as a device does when the queue
 * is enabled (both indices start at 0; call again after a reset). Several
 * simulators may coexist (one per queue). Returns 0, or -1 (sim->error
 * set) when @size is not a power of 2 or a part does not translate.
 */
int ring_sim_init(struct ring_sim *sim, uint64_t desc_dev, uint64_t avail_dev,
		  uint64_t used_dev, uint16_t size, bool event_idx,
		  ring_sim_translate_fn translate, void *ctx);

/** Chains the driver has published and the simulator not yet popped. */
uint16_t ring_sim_avail_pending(const struct ring_sim *sim);

/**
 * Take the next published chain into @chain. Returns 1 when one was taken,
 * 0 when the avail ring is empty, -1 when the driver broke the protocol
 * (sim->error says how; the avail entry is consumed).
 */
int ring_sim_pop(struct ring_sim *sim, struct ring_sim_chain *chain);

/**
 * Complete chain @head (popped and not yet pushed) with @len bytes written,
 * publishing used->idx at once. Returns 0, or -1 when @head is not
 * outstanding (use ring_sim_push_raw() to misbehave on purpose).
 */
int ring_sim_push(struct ring_sim *sim, uint16_t head, uint32_t len);

/** Publish a used element with any @id and @len, unchecked. */
void ring_sim_push_raw(struct ring_sim *sim, uint32_t id, uint32_t len);

/** Write used->idx (the simulator continues from @idx). */
void ring_sim_set_used_idx(struct ring_sim *sim, uint16_t idx);

/** Set or clear VIRTQ_USED_F_NO_NOTIFY in used->flags. */
void ring_sim_set_no_notify(struct ring_sim *sim, bool on);

/** Write avail_event (only meaningful with event_idx). */
void ring_sim_set_avail_event(struct ring_sim *sim, uint16_t idx);

/** The driver's avail->flags and used_event, as the device would read them. */
uint16_t ring_sim_avail_flags(const struct ring_sim *sim);
uint16_t ring_sim_used_event(const struct ring_sim *sim);

/**
 * Copy @len bytes at offset @off of the chain's readable part (the readable
 * segments concatenated) into @buf. Returns the bytes copied (short at the
 * end of the readable part).
 */
size_t ring_sim_chain_read(const struct ring_sim_chain *chain, uint64_t off,
			   void *buf, size_t len);

/** Copy into the writable part at @off; returns the bytes copied. */
size_t ring_sim_chain_write(const struct ring_sim_chain *chain, uint64_t off,
			    const void *buf, size_t len);

#endif
