/* SPDX-License-Identifier: MIT */
/*
 * What the virtio-pci transport needs from the platform: PCI config space,
 * BAR access by BAR index, DMA memory, bus mastering. efi/pci.c implements
 * it with EFI_PCI_IO_PROTOCOL; tests/support/fake_pci.c with a simulated device
 * whose device addresses differ from host addresses.
 *
 * Every op returns 0 if OK, or a negative VQ_E* value.
 */
#ifndef VQ_VPCI_BUS_H
#define VQ_VPCI_BUS_H

#include "lib/compat.h"
#include "virtio/virtqueue.h"

enum vpci_dma_dir {
	VPCI_DMA_TO_DEVICE = 1,   /* device reads the buffer */
	VPCI_DMA_FROM_DEVICE = 2, /* device writes the buffer */
};

struct vpci_bus_ops {
	/** Read @width (1, 2 or 4) bytes of PCI config space at @off. */
	int (*cfg_read)(void *ctx, uint32_t off, unsigned width, uint32_t *ret);

	/**
	 * Describe BAR @bar (0..5): whether it is implemented, I/O or memory,
	 * and its size. Unimplemented BARs return -VQ_ENODEV.
	 */
	int (*bar_info)(void *ctx, uint8_t bar, bool *ret_io, uint64_t *ret_size);

	/** Read/write @width (1, 2, 4; 8 only for memory BARs) at @off in @bar. */
	int (*bar_read)(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			uint64_t *ret);
	int (*bar_write)(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			 uint64_t val);

	/**
	 * Allocate @size bytes (page granular) of zeroed memory that both the
	 * CPU and the device use at once (a common buffer), and map it.
	 * @ret->dev is what the device must be given.
	 */
	int (*dma_alloc)(void *ctx, size_t size, struct vq_dma *ret);
	void (*dma_free)(void *ctx, struct vq_dma *dma);

	/**
	 * Map a caller buffer for one transfer. *@ret_len may come back
	 * smaller than @len (map the rest separately, or bounce). After a
	 * FROM_DEVICE transfer, dma_unmap makes the data visible to the CPU.
	 */
	int (*dma_map)(void *ctx, void *host, size_t len, enum vpci_dma_dir dir,
		       uint64_t *ret_dev, size_t *ret_len, void **ret_mapping);
	void (*dma_unmap)(void *ctx, void *mapping);

	/**
	 * Turn bus mastering (the PCI command register's Bus Master Enable)
	 * off or back on. Off, the function can no longer read or write
	 * memory: what the driver does when a reset does not complete, before
	 * any buffer the device was given is unmapped, freed or handed back.
	 * NULL, or an error, means the device may still write.
	 */
	int (*set_bus_master)(void *ctx, bool on);
};

/** A bus instance: the ops and their context. */
struct vpci_bus {
	const struct vpci_bus_ops *ops;
	void *ctx;
	/* "00:03.0", for messages */
	char name[16];
};

#endif
