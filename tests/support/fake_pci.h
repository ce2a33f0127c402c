/* SPDX-License-Identifier: MIT */
/*
 * A register-level model of one virtio-pci function, for host tests of the
 * transport and the device drivers. It implements struct vpci_bus_ops:
 *
 * - PCI config space with a capability list (modern-only, transitional with a
 *   legacy I/O BAR0, or legacy-only), rewritable by tests to add oddities;
 * - BAR4 (memory) with the modern common/ISR/device/notify regions at fixed
 *   offsets, and BAR0 (I/O) with the legacy register block;
 * - the status state machine, feature registers, queue registers, config
 *   generation, with knobs to misbehave;
 * - DMA where device addresses come from their own range starting at
 *   FAKE_DMA_BASE (64 GiB), far from any host heap or stack address, so a
 *   host pointer handed to the device does not translate and is recorded as
 *   an error. (Not host + a big offset: a legacy queue PFN must fit 32
 *   bits, so device addresses must stay below 16 TiB.) dma_map is an
 *   identity by default and can be made non-identity, partial, or failing.
 *
 * The register offsets here are written from the spec by hand on purpose:
 * they check the driver's offsetof-based structs independently.
 *
 * A protocol violation by the driver (wrong access width, clearing a status
 * bit, a notify before DRIVER_OK, a bad address, ...) increments fp->errors
 * and keeps the first message in fp->error. Tests assert errors == 0.
 *
 * On a notify the device backend runs; fake_blk is a virtio-blk backend over
 * an in-memory disk (built on ring_sim).
 */
#ifndef VQ_FAKE_PCI_H
#define VQ_FAKE_PCI_H

#include "virtio/vpci_bus.h"
#include "tests/support/ring_sim.h"

#define FAKE_DMA_BASE 0x1000000000ULL
/* Older name: every device address the fake hands out is >= this. */
#define FAKE_DMA_OFFSET FAKE_DMA_BASE
#define FAKE_MAX_QUEUES 4
#define FAKE_MAX_CAPS 9 /* 0x14 apart from 0x40 */
#define FAKE_LOG_MAX 128
#define FAKE_MAX_DMA 256
#define FAKE_DMA_MMAP_MIN (64u << 10) /* areas this large are mmap'ed */

/* Where the modern regions are inside BAR4. */
#define FAKE_BAR_MODERN 4
#define FAKE_BAR4_SIZE 0x4000
#define FAKE_COMMON_OFF 0x0000
#define FAKE_COMMON_LEN 0x38
#define FAKE_ISR_OFF 0x1000
#define FAKE_DEVICE_OFF 0x2000
#define FAKE_DEVICE_LEN 0x100
#define FAKE_NOTIFY_OFF 0x3000
#define FAKE_NOTIFY_LEN 0x1000
#define FAKE_BAR0_SIZE 0x40
/* An MSI-X capability, when asked for, sits after the others. */
#define FAKE_MSIX_POS 0xF4

enum fake_pci_mode {
	FAKE_PCI_MODERN,       /* 0x1040 + type, capabilities only */
	FAKE_PCI_TRANSITIONAL, /* 0x1000-range id, revision 0, caps + BAR0 */
	FAKE_PCI_LEGACY,       /* 0x1000-range id, revision 0, BAR0 only */
};

enum fake_map_mode {
	FAKE_MAP_IDENTITY,     /* dev == host (OVMF below 4 GiB) */
	FAKE_MAP_OFFSET,       /* dev from the device range (an IOMMU) */
	FAKE_MAP_PARTIAL,      /* identity, but at most map_partial bytes */
	FAKE_MAP_FAIL,         /* dma_map returns -VQ_ENOMEM */
};

/* One capability to place in config space (fake_pci_set_caps). */
struct fake_cap {
	uint8_t id;        /* 0 means 0x09 (vendor) */
	uint8_t cfg_type;
	uint8_t bar;
	uint8_t len;       /* cap_len; 0 means 16, or 20 for notify */
	uint32_t offset;
	uint32_t length;
	uint32_t mult;     /* notify_off_multiplier */
};

/* The handshake log: status writes and reads, driver feature writes. */
struct fake_log_entry {
	char kind;         /* 'W' status write, 'R' status read, 'F' features */
	uint64_t val;
};

struct fake_queue {
	uint16_t max;          /* what queue_size reads before setup */
	uint16_t size;
	uint16_t notify_off;   /* what queue_notify_off reads */
	bool enabled;
	uint64_t desc, driver, device;
	struct ring_sim *sim;
	uint32_t notifies;
};

struct fake_pci;

struct fake_backend {
	/** The driver notified @queue (after DRIVER_OK). */
	void (*notify)(struct fake_pci *fp, uint16_t queue);
	/** The device is being reset: forget in-flight work, write nothing. */
	void (*reset)(struct fake_pci *fp);
	/** Called on each status read: a chance to complete delayed work. */
	void (*poll)(struct fake_pci *fp);
	/** Called on each status read while a reset never completes
	 * (reset_never): a stuck device may go on writing (NULL: it does not). */
	void (*stuck)(struct fake_pci *fp);
};

struct fake_dma_area {
	uint8_t *host;
	uint64_t dev;
	size_t len;
	bool live;
	bool mapped;           /* dma_map (else dma_alloc) */
	enum vpci_dma_dir dir;
	uint8_t *alloc;        /* what to free (dma_alloc) */
	bool mmapped;          /* alloc came from mmap (FAKE_DMA_MMAP_MIN) */
};

struct fake_pci {
	struct vpci_bus bus;   /* hand this to vpci_probe */
	enum fake_pci_mode mode;
	uint16_t type;

	uint8_t cfg[256];
	bool bar_present[6];
	bool bar_io[6];
	uint64_t bar_size[6];

	/* device state */
	uint8_t status;
	bool resetting;
	unsigned reset_reads_left;
	uint64_t offered;
	uint64_t driver_features;
	uint32_t dfsel, gfsel;
	uint16_t num_queues;
	uint16_t qsel;
	struct fake_queue q[FAKE_MAX_QUEUES];
	uint8_t isr;
	uint8_t generation;
	uint8_t devcfg[FAKE_DEVICE_LEN];
	uint32_t notify_mult;
	bool msix;                   /* an MSI-X capability at FAKE_MSIX_POS */
	uint16_t msix_vector[2];     /* legacy config and queue 0 vectors */

	/* knobs */
	unsigned reset_delay_reads;  /* status reads before reset shows 0 */
	bool reset_never;            /* reset never completes */
	uint64_t reject_features;    /* FEATURES_OK refused if any is accepted */
	unsigned gen_changes;        /* generation moves on the next N reads */
	enum fake_map_mode map_mode;
	size_t map_partial;
	bool bus_master_fail;        /* set_bus_master returns -VQ_EIO */

	/* observations */
	struct fake_log_entry log[FAKE_LOG_MAX];
	unsigned nlog;
	unsigned resets;
	unsigned devcfg_reads;
	uint64_t last_notify_addr;   /* BAR offset of the last notify write */
	unsigned maps, unmaps;
	bool bus_master;             /* Bus Master Enable (on from the start) */
	unsigned bus_master_offs;    /* times the driver turned it off */

	struct fake_dma_area dma[FAKE_MAX_DMA];
	unsigned ndma;               /* slots ever used: dma[ndma..] are free */
	unsigned dma_last;           /* the slot dma_find found last */
	uint64_t next_dev;           /* next device address handed out */

	const struct fake_backend *backend;
	void *backend_ctx;

	unsigned errors;
	char error[256];
};

/** Build a device of @type in @mode, with the default capabilities. */
struct fake_pci *fake_pci_new(enum fake_pci_mode mode, uint16_t type,
			      uint64_t offered);
/**
 * Free it, with every DMA area still alive. Returns what a teardown must
 * find 0: the DMA areas that were still alive (each a leak, unless the test
 * kept them on purpose for a device that would not stop), plus the
 * mappings never undone, plus the violations seen; each is named on stderr.
 */
unsigned fake_pci_free(struct fake_pci *fp);

/** Replace the capability list (placed from 0x40 on, 0x14 apart). */
void fake_pci_set_caps(struct fake_pci *fp, const struct fake_cap *caps,
		       unsigned n);
/** The default caps for the modern regions (common, notify, isr, device). */
unsigned fake_pci_default_caps(struct fake_cap ret[FAKE_MAX_CAPS]);
/** Point the last capability's next back at the first. */
void fake_pci_loop_caps(struct fake_pci *fp);

/**
 * Give the function an MSI-X capability (at FAKE_MSIX_POS, last in the
 * list), with MSI-X Enable set or clear as someone driving it before us left
 * it; @present false removes it. With MSI-X enabled the legacy registers grow
 * by the two vector registers and the device config moves to 0x18 (virtio
 * 1.2 §4.1.4.8). The bit is read from config space on every access, so a
 * test may flip it in fp->cfg.
 */
void fake_pci_set_msix(struct fake_pci *fp, bool present, bool enabled);

/** The device sets DEVICE_NEEDS_RESET. */
void fake_pci_set_needs_reset(struct fake_pci *fp);

/** Record a violation (used by backends). */
void fake_pci_fail(struct fake_pci *fp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Host pointer for @len bytes at device address @dev, or NULL (error). */
void *fake_pci_translate(struct fake_pci *fp, uint64_t dev, size_t len);

/** Whether [dev, dev+len) may be written by the device (not TO_DEVICE). */
bool fake_pci_dev_writable(struct fake_pci *fp, uint64_t dev, size_t len);

/** Live DMA areas (allocations + mappings). */
unsigned fake_pci_live_dma(const struct fake_pci *fp);

/** Render the log as "W0 R0 W1 W3 F100000046 W11 R11" for assertions. */
void fake_pci_log_str(const struct fake_pci *fp, char *buf, size_t size);
void fake_pci_log_clear(struct fake_pci *fp);

/* ---- virtio-blk backend ---------------------------------------------------- */

struct fake_blk {
	struct fake_pci *fp;
	uint8_t *disk;
	bool own_disk;            /* freed by fake_blk_detach */
	uint64_t capacity;        /* 512-byte sectors */
	bool read_only;
	char id[20];

	/* misbehaviour */
	uint64_t ioerr_sector;    /* a request covering it fails; ~0 = none */
	bool unsupp;              /* answer UNSUPP to everything */
	uint32_t short_by;        /* report used len this much shorter */
	bool never_complete;      /* hold every request */
	unsigned delay_polls;     /* complete only after N status polls */
	bool reverse;             /* complete each notify's batch reversed */
	bool bad_id;              /* complete with an id never posted */
	/* With the fake's reset_never: go on writing the buffers of the chains
	 * not completed (fake_blk_scribble) on every status read. */
	bool write_after_reset;

	/* observations */
	unsigned requests;        /* chains popped */
	unsigned reads, writes, flushes, get_ids;
	unsigned beyond_capacity; /* requests past the end (should be 0) */
	unsigned max_segs;        /* data segments in the largest request */
	uint32_t max_seg_len;
	unsigned max_held;
	uint64_t bytes;

	/* requests popped and not yet completed */
	unsigned nheld;
	unsigned polls_left;
	struct { uint16_t head; uint32_t len; } held[1024];
	struct ring_sim_chain *chain;

	/* The writable buffers (host side) of chains popped since the last
	 * completion, the most recent FAKE_BLK_RECENT: what a stuck device
	 * would still write. */
	struct { uint8_t *host; uint32_t len; } recent[64];
	unsigned nrecent, recent_next;
	uint64_t scribbled;       /* bytes written by fake_blk_scribble */
};

#define FAKE_BLK_RECENT 64

/**
 * Make @fp a virtio-blk device over a fresh disk of @sectors 512-byte
 * sectors filled with a pattern (byte i of sector s depends on s and i).
 * Config: capacity, and seg_max/size_max/blk_size set with fake_blk_config.
 */
struct fake_blk *fake_blk_attach(struct fake_pci *fp, uint64_t sectors);
/** The same over @disk (@sectors of them), which stays the caller's. */
struct fake_blk *fake_blk_attach_disk(struct fake_pci *fp, uint8_t *disk,
				      uint64_t sectors);
void fake_blk_detach(struct fake_blk *fb);
/** Fill @sectors of @disk with the pattern fake_blk_pattern describes. */
void fake_blk_fill_pattern(uint8_t *disk, uint64_t sectors);

/** Write the config fields (0 leaves a field 0). */
void fake_blk_config(struct fake_blk *fb, uint32_t seg_max, uint32_t size_max,
		     uint32_t blk_size);

/**
 * A device that does not stop: write @val over every buffer it was given
 * and has not completed (status bytes included), through its host pointers,
 * whether or not the driver still has them mapped; nothing when bus
 * mastering is off. Returns the bytes written.
 */
uint64_t fake_blk_scribble(struct fake_blk *fb, uint8_t val);

/** The byte the initial pattern puts at @offset of the disk. */
uint8_t fake_blk_pattern(uint64_t offset);

#endif
