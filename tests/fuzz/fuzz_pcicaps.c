/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-pci probing (the capability walk, BAR windows,
 * transport choice) and then the init sequence and queue setup against a
 * device whose every register read comes from the fuzz input. After
 * teardown the driver must hold no DMA area, except the rings of a device
 * that never finished its reset (kept from it on purpose: vdev_teardown).
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_pcicaps); run: `make fuzz`.
 *
 * Input: byte 0 picks the id family (modern / transitional / legacy-only
 * looking) and the type; bytes 1..6 describe BARs 0..5 (bit 7 present, bit 6
 * I/O, low 5 bits log2 of the size); the next 192 bytes are config space
 * from 0x40 (the capability area); the capability pointer is byte 7. The
 * rest answers BAR reads in order (zeros once it runs out, so the reset
 * completes and runs get past it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "virtio/virtio.h"
#include "tests/support/host_platform.h"

#define FUZZ_DMA_OFFSET 0x1000000000ULL
#define FUZZ_DMA_MAX 16

struct fuzz_dev {
	uint8_t cfg[256];
	uint8_t bar_desc[6];
	const uint8_t *p;
	size_t left;
	void *dma[FUZZ_DMA_MAX]; /* DMA areas the driver holds */
	unsigned ndma;
};

static int f_cfg_read(void *ctx, uint32_t off, unsigned width, uint32_t *ret)
{
	struct fuzz_dev *f = ctx;
	uint32_t v = 0;

	if (off > sizeof(f->cfg) || width > sizeof(f->cfg) - off || width > 4)
		abort(); /* the driver must never read outside config space */
	memcpy(&v, f->cfg + off, width);
	*ret = v;
	return 0;
}

static int f_bar_info(void *ctx, uint8_t bar, bool *ret_io, uint64_t *ret_size)
{
	struct fuzz_dev *f = ctx;

	if (bar > 5)
		abort(); /* reserved BARs must be filtered by the driver */
	if (!(f->bar_desc[bar] & 0x80))
		return -VQ_ENODEV;
	*ret_io = f->bar_desc[bar] & 0x40;
	*ret_size = 1ULL << (f->bar_desc[bar] & 0x1F);
	return 0;
}

static void check_bar(struct fuzz_dev *f, uint8_t bar, uint64_t off, unsigned width)
{
	bool io;
	uint64_t size;

	/* Every access must be inside a BAR the driver was told about. */
	if (width < 1 || width > 8 || f_bar_info(f, bar, &io, &size) ||
	    off >= size || width > size - off)
		abort();
}

static int f_bar_read(void *ctx, uint8_t bar, uint64_t off, unsigned width,
		      uint64_t *ret)
{
	struct fuzz_dev *f = ctx;
	uint64_t v = 0;
	unsigned n;

	check_bar(f, bar, off, width);
	n = width < f->left ? width : (unsigned)f->left;
	memcpy(&v, f->p, n);
	f->p += n;
	f->left -= n;
	*ret = v;
	return 0;
}

static int f_bar_write(void *ctx, uint8_t bar, uint64_t off, unsigned width,
		       uint64_t val)
{
	check_bar(ctx, bar, off, width);
	return 0;
}

static int f_dma_alloc(void *ctx, size_t size, struct vq_dma *ret)
{
	struct fuzz_dev *f = ctx;
	void *p = NULL;
	size_t len = (size + 4095) & ~(size_t)4095;

	if (!size || size > (64u << 20) || f->ndma == FUZZ_DMA_MAX ||
	    posix_memalign(&p, 4096, len))
		return -VQ_ENOMEM;
	memset(p, 0, len);
	f->dma[f->ndma++] = p;
	*ret = (struct vq_dma){ .host = p, .size = len,
				.dev = FUZZ_DMA_OFFSET + ((uintptr_t)p & 0xFFFFFFF000ULL) };
	return 0;
}

static void f_dma_free(void *ctx, struct vq_dma *dma)
{
	struct fuzz_dev *f = ctx;
	unsigned i = 0;

	while (i < f->ndma && f->dma[i] != dma->host)
		i++;
	if (i == f->ndma)
		abort(); /* not an area we handed out, or freed twice */
	f->dma[i] = f->dma[--f->ndma];
	free(dma->host);
}

/* After teardown the driver must hold no DMA memory, except when the device
 * never finished its reset: then vdev_teardown leaves the rings to it on
 * purpose (virtio/virtio.h), and the harness takes them back. */
static void check_dma_returned(struct fuzz_dev *f, const struct vdev *d)
{
	if (f->ndma && !d->stuck)
		abort();
	while (f->ndma)
		free(f->dma[--f->ndma]);
}

static int f_dma_map(void *ctx, void *host, size_t len, enum vpci_dma_dir dir,
		     uint64_t *ret_dev, size_t *ret_len, void **ret_mapping)
{
	*ret_dev = (uintptr_t)host;
	*ret_len = len;
	*ret_mapping = host;
	return 0;
}

static void f_dma_unmap(void *ctx, void *mapping)
{
}

static const struct vpci_bus_ops fuzz_ops = {
	.cfg_read = f_cfg_read,
	.bar_info = f_bar_info,
	.bar_read = f_bar_read,
	.bar_write = f_bar_write,
	.dma_alloc = f_dma_alloc,
	.dma_free = f_dma_free,
	.dma_map = f_dma_map,
	.dma_unmap = f_dma_unmap,
};

static uint64_t keep_all(void *ctx, uint64_t offered)
{
	return offered;
}

static void set_ids(struct fuzz_dev *f, uint8_t sel)
{
	uint16_t type = 1 + (sel & 0x1F);
	uint16_t dev = (sel & 0x40) ? 0x1000 + (sel & 0x3F) : 0x1040 + type;

	f->cfg[0] = 0xF4;
	f->cfg[1] = 0x1A;
	memcpy(f->cfg + 2, &dev, 2);
	f->cfg[6] = (sel & 0x80) ? 0 : 0x10;  /* capability list present */
	f->cfg[8] = (sel & 0x20) && (sel & 0x40) ? 1 : 0;
	memcpy(f->cfg + 0x2E, &type, 2);
}

static void exercise(struct vdev *d)
{
	struct virtqueue *vq;
	uint8_t buf[64];
	uint16_t n = 0;

	if (vdev_init(d, keep_all, NULL) == 0) {
		d->ops->config_read(d, 0, buf, sizeof(buf));
		d->ops->config_read(d, 3, buf, 9);
		d->ops->num_queues(d, &n);
		if (vdev_setup_queue(d, 0, 0, 8, &vq) == 0 && vdev_driver_ok(d) == 0)
			d->ops->notify(d, 0);
	}
	vdev_teardown(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_dev f;
	struct vpci_bus bus = { .ops = &fuzz_ops, .ctx = &f, .name = "00:04.0" };
	struct vdev d;

	if (size < 8)
		return 0;
	memset(&f, 0, sizeof(f));
	set_ids(&f, data[0]);
	memcpy(f.bar_desc, data + 1, 6);
	f.cfg[0x34] = data[7];
	data += 8;
	size -= 8;
	memcpy(f.cfg + 0x40, data, size < 192 ? size : 192);
	f.p = data + (size < 192 ? size : 192);
	f.left = size - (size < 192 ? size : 192);
	host_clock_set_auto_advance(5000);
	if (vpci_probe(&bus, &d) == 0) {
		exercise(&d);
		check_dma_returned(&f, &d);
	}
	return 0;
}
