/* SPDX-License-Identifier: MIT */
/* A register-level fake virtio-pci function; see fake_pci.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "tests/support/fake_pci.h"
#include "lib/err.h"
#include "virtio/virtio.h"

#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 64
#define ST_FAILED 128

void fake_pci_fail(struct fake_pci *fp, const char *fmt, ...)
{
	va_list ap;

	if (!fp->errors++) {
		va_start(ap, fmt);
		vsnprintf(fp->error, sizeof(fp->error), fmt, ap);
		va_end(ap);
	}
	if (getenv("VQ_TEST_VERBOSE")) {
		va_start(ap, fmt);
		fprintf(stderr, "[fake_pci] ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
}

static void log_add(struct fake_pci *fp, char kind, uint64_t val)
{
	if (fp->nlog < FAKE_LOG_MAX)
		fp->log[fp->nlog++] = (struct fake_log_entry){ kind, val };
}

void fake_pci_log_clear(struct fake_pci *fp)
{
	fp->nlog = 0;
}

void fake_pci_log_str(const struct fake_pci *fp, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < fp->nlog && at + 1 < size; i++) {
		const struct fake_log_entry *e = &fp->log[i];
		int n = snprintf(buf + at, size - at, "%s%c%llx", i ? " " : "",
				 e->kind, (unsigned long long)e->val);
		if (n < 0)
			break;
		at += (size_t)n;
	}
}

/* ---- DMA ----------------------------------------------------------------- */

static struct fake_dma_area *dma_slot(struct fake_pci *fp)
{
	for (unsigned i = 0; i < FAKE_MAX_DMA; i++)
		if (!fp->dma[i].live) {
			if (i >= fp->ndma)
				fp->ndma = i + 1;
			return &fp->dma[i];
		}
	fake_pci_fail(fp, "more than %d DMA areas", FAKE_MAX_DMA);
	return NULL;
}

/*
 * Zeroed, page-aligned memory. Large areas (bounce buffers, framebuffers of
 * any size a fuzz input asks for) come straight from mmap: their pages are
 * zero until touched, so an area costs what the run uses of it, not its
 * size; they are unmapped when freed, so a late access still faults.
 */
static void *dma_mem(size_t len, bool *ret_mmapped)
{
	void *p;

	*ret_mmapped = len >= FAKE_DMA_MMAP_MIN;
	if (*ret_mmapped) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

static void dma_mem_free(struct fake_dma_area *a)
{
	if (a->mmapped)
		munmap(a->alloc, a->len);
	else
		free(a->alloc);
}

/* Device addresses are handed out upwards, page-aligned, never reused. */
static uint64_t dev_range(struct fake_pci *fp, size_t len)
{
	uint64_t dev = fp->next_dev;

	fp->next_dev += (len + 4095) & ~(uint64_t)4095;
	return dev;
}

static int fake_dma_alloc(void *ctx, size_t size, struct vq_dma *ret)
{
	struct fake_pci *fp = ctx;
	struct fake_dma_area *a = dma_slot(fp);
	size_t len = (size + 4095) & ~(size_t)4095;
	bool mmapped;
	void *p;

	if (!a || !size || !(p = dma_mem(len, &mmapped)))
		return -VQ_ENOMEM;
	*a = (struct fake_dma_area){ .host = p, .dev = dev_range(fp, len),
				     .len = len, .live = true, .alloc = p,
				     .mmapped = mmapped };
	*ret = (struct vq_dma){ .host = p, .dev = a->dev, .size = len,
				.mapping = a };
	return 0;
}

static void fake_dma_free(void *ctx, struct vq_dma *dma)
{
	struct fake_pci *fp = ctx;
	struct fake_dma_area *a = dma->mapping;

	if (!a || a < fp->dma || a >= fp->dma + FAKE_MAX_DMA || !a->live ||
	    a->mapped || a->host != dma->host) {
		fake_pci_fail(fp, "dma_free of an unknown area %p", dma->host);
		return;
	}
	dma_mem_free(a);
	a->live = false;
}

static int fake_dma_map(void *ctx, void *host, size_t len, enum vpci_dma_dir dir,
			uint64_t *ret_dev, size_t *ret_len, void **ret_mapping)
{
	struct fake_pci *fp = ctx;
	struct fake_dma_area *a;
	size_t n = len;

	if (fp->map_mode == FAKE_MAP_FAIL)
		return -VQ_ENOMEM;
	a = dma_slot(fp);
	if (!a)
		return -VQ_ENOMEM;
	if (fp->map_mode == FAKE_MAP_PARTIAL && n > fp->map_partial)
		n = fp->map_partial;
	*a = (struct fake_dma_area){
		.host = host, .len = n, .live = true, .mapped = true, .dir = dir,
		.dev = fp->map_mode == FAKE_MAP_OFFSET ? dev_range(fp, n)
						       : (uintptr_t)host,
	};
	fp->maps++;
	*ret_dev = a->dev;
	*ret_len = n;
	*ret_mapping = a;
	return 0;
}

static void fake_dma_unmap(void *ctx, void *mapping)
{
	struct fake_pci *fp = ctx;
	struct fake_dma_area *a = mapping;

	if (!a || a < fp->dma || a >= fp->dma + FAKE_MAX_DMA || !a->live ||
	    !a->mapped) {
		fake_pci_fail(fp, "dma_unmap of an unknown mapping");
		return;
	}
	fp->unmaps++;
	a->live = false;
}

static bool dma_covers(const struct fake_dma_area *a, uint64_t dev, size_t len)
{
	return a->live && dev >= a->dev && dev - a->dev <= a->len &&
	       len <= a->len - (dev - a->dev);
}

/* The area holding [dev, dev + len). The ring and the last buffer are asked
 * for again and again: the last hit is tried first. */
static struct fake_dma_area *dma_find(struct fake_pci *fp, uint64_t dev,
				      size_t len)
{
	if (fp->dma_last < fp->ndma && dma_covers(&fp->dma[fp->dma_last], dev, len))
		return &fp->dma[fp->dma_last];
	for (unsigned i = 0; i < fp->ndma; i++)
		if (dma_covers(&fp->dma[i], dev, len)) {
			fp->dma_last = i;
			return &fp->dma[i];
		}
	return NULL;
}

void *fake_pci_translate(struct fake_pci *fp, uint64_t dev, size_t len)
{
	struct fake_dma_area *a = dma_find(fp, dev, len);

	if (!a) {
		fake_pci_fail(fp, "device address 0x%llx+%zu is not DMA memory",
			      (unsigned long long)dev, len);
		return NULL;
	}
	return a->host + (dev - a->dev);
}

bool fake_pci_dev_writable(struct fake_pci *fp, uint64_t dev, size_t len)
{
	struct fake_dma_area *a = dma_find(fp, dev, len);

	return a && !(a->mapped && a->dir == VPCI_DMA_TO_DEVICE);
}

unsigned fake_pci_live_dma(const struct fake_pci *fp)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fp->ndma; i++)
		n += fp->dma[i].live;
	return n;
}

static void *sim_translate(void *ctx, uint64_t dev, size_t len)
{
	return fake_pci_translate(ctx, dev, len);
}

/* ---- device state machine ------------------------------------------------ */

static void queues_reset(struct fake_pci *fp)
{
	for (unsigned i = 0; i < FAKE_MAX_QUEUES; i++) {
		struct fake_queue *q = &fp->q[i];

		free(q->sim);
		q->sim = NULL;
		q->enabled = false;
		q->size = q->max;
		q->desc = q->driver = q->device = 0;
	}
}

static void device_reset(struct fake_pci *fp)
{
	if (fp->backend && fp->backend->reset)
		fp->backend->reset(fp);
	queues_reset(fp);
	fp->driver_features = 0;
	fp->dfsel = fp->gfsel = 0;
	fp->qsel = 0;
	fp->isr = 0;
	fp->resets++;
	/* A device that shows 0 already has nothing to finish. */
	fp->resetting = fp->status != 0;
	fp->reset_reads_left = fp->reset_delay_reads;
}

static uint8_t status_read(struct fake_pci *fp)
{
	if (fp->resetting && !fp->reset_never) {
		if (fp->reset_reads_left)
			fp->reset_reads_left--;
		else {
			fp->resetting = false;
			fp->status = 0;
		}
	}
	log_add(fp, 'R', fp->status);
	if (fp->backend && fp->backend->poll && !fp->resetting)
		fp->backend->poll(fp);
	if (fp->backend && fp->backend->stuck && fp->resetting && fp->reset_never)
		fp->backend->stuck(fp);
	return fp->status;
}

static bool features_ok(struct fake_pci *fp)
{
	uint64_t f = fp->driver_features;

	if (f & ~fp->offered) {
		fake_pci_fail(fp, "driver accepted 0x%llx, not offered (0x%llx)",
			      (unsigned long long)f,
			      (unsigned long long)fp->offered);
		return false;
	}
	if (fp->mode != FAKE_PCI_LEGACY && !(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return false;
	return !(f & fp->reject_features);
}

static void status_write(struct fake_pci *fp, uint8_t val)
{
	log_add(fp, 'W', val);
	if (!val) {
		device_reset(fp);
		return;
	}
	if (fp->resetting)
		fake_pci_fail(fp, "status 0x%x written before reset completed", val);
	if (fp->status & ~val)
		fake_pci_fail(fp, "driver cleared status bits: 0x%x -> 0x%x",
			      fp->status, val);
	if ((val & ST_FEATURES_OK) && !(fp->status & ST_FEATURES_OK) &&
	    !features_ok(fp))
		val &= (uint8_t)~ST_FEATURES_OK;
	fp->status = val;
}

void fake_pci_set_needs_reset(struct fake_pci *fp)
{
	fp->status |= ST_NEEDS_RESET;
}

static void queue_activate(struct fake_pci *fp, struct fake_queue *q)
{
	bool event_idx = fp->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);

	if (!q->size || (q->size & (q->size - 1)) || q->size > q->max) {
		fake_pci_fail(fp, "queue enabled with size %u (max %u)",
			      q->size, q->max);
		return;
	}
	/* Not calloc: ring_sim_init clears what a queue of this size uses,
	 * and the rest of its 72 KiB would cost every run of a fuzz target. */
	q->sim = malloc(sizeof(*q->sim));
	if (!q->sim)
		abort();
	if (ring_sim_init(q->sim, q->desc, q->driver, q->device, q->size,
			  event_idx, sim_translate, fp)) {
		fake_pci_fail(fp, "queue rings do not translate: %s", q->sim->error);
		free(q->sim);
		q->sim = NULL;
		return;
	}
	q->enabled = true;
}

static void notify(struct fake_pci *fp, uint16_t idx, uint64_t at)
{
	fp->last_notify_addr = at;
	if (idx >= fp->num_queues || !fp->q[idx].enabled) {
		fake_pci_fail(fp, "notify of queue %u, not enabled", idx);
		return;
	}
	if (!(fp->status & ST_DRIVER_OK)) {
		fake_pci_fail(fp, "notify of queue %u before DRIVER_OK", idx);
		return;
	}
	if (!fp->bus_master) {
		fake_pci_fail(fp, "notify of queue %u with bus mastering off", idx);
		return;
	}
	fp->q[idx].notifies++;
	if (fp->backend && fp->backend->notify)
		fp->backend->notify(fp, idx);
}

/* ---- modern registers (offsets from virtio 1.2 §4.1.4.3, by hand) -------- */

/* The width of the common config register at @off; 0 when none starts
 * there. A table by offset: every register access asks. */
static unsigned common_width(uint32_t off)
{
	static const uint8_t width[FAKE_COMMON_LEN] = {
		[0] = 4, [4] = 4, [8] = 4, [12] = 4, [16] = 2, [18] = 2,
		[20] = 1, [21] = 1, [22] = 2, [24] = 2, [26] = 2, [28] = 2,
		[30] = 2, [32] = 4, [36] = 4, [40] = 4, [44] = 4, [48] = 4,
		[52] = 4,
	};

	return off < FAKE_COMMON_LEN ? width[off] : 0;
}

static struct fake_queue *cur_queue(struct fake_pci *fp)
{
	return fp->qsel < FAKE_MAX_QUEUES && fp->qsel < fp->num_queues
		       ? &fp->q[fp->qsel] : NULL;
}

static uint64_t common_read(struct fake_pci *fp, uint32_t off)
{
	struct fake_queue *q = cur_queue(fp);

	switch (off) {
	case 0: return fp->dfsel;
	case 4: return fp->dfsel < 2 ? (uint32_t)(fp->offered >> (32 * fp->dfsel)) : 0;
	case 8: return fp->gfsel;
	case 12: return fp->gfsel < 2 ? (uint32_t)(fp->driver_features >> (32 * fp->gfsel)) : 0;
	case 16: return 0xFFFF;
	case 18: return fp->num_queues;
	case 20: return status_read(fp);
	case 21:
		if (fp->gen_changes) {
			fp->gen_changes--;
			fp->generation++;
		}
		return fp->generation;
	case 22: return fp->qsel;
	case 24: return q ? q->size : 0;
	case 26: return 0xFFFF;
	case 28: return q ? q->enabled : 0;
	case 30: return q ? q->notify_off : 0;
	case 32: return q ? (uint32_t)q->desc : 0;
	case 36: return q ? q->desc >> 32 : 0;
	case 40: return q ? (uint32_t)q->driver : 0;
	case 44: return q ? q->driver >> 32 : 0;
	case 48: return q ? (uint32_t)q->device : 0;
	case 52: return q ? q->device >> 32 : 0;
	}
	return 0;
}

static void set_half(uint64_t *field, bool high, uint64_t val)
{
	if (high)
		*field = (*field & 0xFFFFFFFFu) | (val << 32);
	else
		*field = (*field & ~0xFFFFFFFFull) | (uint32_t)val;
}

static void features_write(struct fake_pci *fp, uint64_t val)
{
	if (fp->gfsel >= 2)
		return;
	set_half(&fp->driver_features, fp->gfsel, val);
	if (fp->gfsel == 1)
		log_add(fp, 'F', fp->driver_features);
}

static void queue_reg_write(struct fake_pci *fp, uint32_t off, uint64_t val)
{
	struct fake_queue *q = cur_queue(fp);

	if (!q) {
		fake_pci_fail(fp, "queue register 0x%x written for queue %u",
			      off, fp->qsel);
		return;
	}
	if (q->enabled && off != 28) {
		fake_pci_fail(fp, "queue %u register 0x%x written while enabled",
			      fp->qsel, off);
		return;
	}
	switch (off) {
	case 24: q->size = (uint16_t)val; break;
	case 28:
		if (val == 1 && !q->enabled)
			queue_activate(fp, q);
		else
			fake_pci_fail(fp, "queue_enable write %llu",
				      (unsigned long long)val);
		break;
	case 32: case 36: set_half(&q->desc, off == 36, val); break;
	case 40: case 44: set_half(&q->driver, off == 44, val); break;
	case 48: case 52: set_half(&q->device, off == 52, val); break;
	default: break;
	}
}

static void common_write(struct fake_pci *fp, uint32_t off, uint64_t val)
{
	switch (off) {
	case 0: fp->dfsel = (uint32_t)val; break;
	case 8: fp->gfsel = (uint32_t)val; break;
	case 12: features_write(fp, val); break;
	case 16: case 26: break;
	case 20: status_write(fp, (uint8_t)val); break;
	case 22: fp->qsel = (uint16_t)val; break;
	case 24: case 28: case 32: case 36: case 40: case 44: case 48: case 52:
		queue_reg_write(fp, off, val);
		break;
	default:
		fake_pci_fail(fp, "write to read-only common register 0x%x", off);
	}
}

static int bar4_access(struct fake_pci *fp, uint64_t off, unsigned width,
		       uint64_t *val, bool write)
{
	if (off - FAKE_COMMON_OFF < FAKE_COMMON_LEN) {
		uint32_t r = (uint32_t)(off - FAKE_COMMON_OFF);

		if (common_width(r) != width) {
			fake_pci_fail(fp, "common config 0x%x accessed with width %u",
				      r, width);
			return -VQ_EINVAL;
		}
		if (write)
			common_write(fp, r, *val);
		else
			*val = common_read(fp, r);
		return 0;
	}
	if (off == FAKE_ISR_OFF && width == 1 && !write) {
		*val = fp->isr;
		fp->isr = 0;
		return 0;
	}
	if (off >= FAKE_DEVICE_OFF && off + width <= FAKE_DEVICE_OFF + FAKE_DEVICE_LEN &&
	    width <= 4 && off % width == 0) {
		uint32_t r = (uint32_t)(off - FAKE_DEVICE_OFF);

		if (write) {
			memcpy(fp->devcfg + r, val, width);
		} else {
			*val = 0;
			memcpy(val, fp->devcfg + r, width);
			fp->devcfg_reads++;
		}
		return 0;
	}
	if (off >= FAKE_NOTIFY_OFF && off + 2 <= FAKE_NOTIFY_OFF + FAKE_NOTIFY_LEN &&
	    width == 2 && write) {
		uint16_t idx = (uint16_t)*val;
		uint64_t want = FAKE_NOTIFY_OFF +
				(idx < FAKE_MAX_QUEUES ? (uint64_t)fp->q[idx].notify_off * fp->notify_mult : 0);

		if (off != want)
			fake_pci_fail(fp, "notify of queue %u at 0x%llx, expected 0x%llx",
				      idx, (unsigned long long)off,
				      (unsigned long long)want);
		notify(fp, idx, off);
		return 0;
	}
	fake_pci_fail(fp, "BAR4 %s of width %u at 0x%llx", write ? "write" : "read",
		      width, (unsigned long long)off);
	return -VQ_EINVAL;
}

/* ---- legacy registers (virtio 1.2 §4.1.4.8, by hand) --------------------- */

static void legacy_pfn_write(struct fake_pci *fp, uint64_t pfn)
{
	struct fake_queue *q = cur_queue(fp);
	uint64_t avail;

	if (!q) {
		fake_pci_fail(fp, "PFN written for queue %u", fp->qsel);
		return;
	}
	if (!pfn) {
		q->enabled = false;
		return;
	}
	q->size = q->max;
	q->desc = pfn << 12;
	avail = q->desc + 16ull * q->size;
	q->driver = avail;
	q->device = (avail + 6 + 2ull * q->size + 4095) & ~4095ull;
	queue_activate(fp, q);
}

static bool msix_enabled(const struct fake_pci *fp)
{
	return fp->msix && (fp->cfg[FAKE_MSIX_POS + 3] & 0x80);
}

/* With MSI-X enabled: config_msix_vector at 0x14, queue_msix_vector at 0x16
 * (the selected queue's; one vector register is kept per kind here). */
static int legacy_msix_access(struct fake_pci *fp, uint64_t off, unsigned width,
			      uint64_t *val, bool write)
{
	uint16_t *v = &fp->msix_vector[off == 0x16];

	if (width != 2 || off % 2) {
		fake_pci_fail(fp, "legacy MSI-X register 0x%llx accessed with width %u",
			      (unsigned long long)off, width);
		return -VQ_EINVAL;
	}
	if (write)
		*v = (uint16_t)*val;
	else
		*val = *v;
	return 0;
}

static int legacy_access(struct fake_pci *fp, uint64_t off, unsigned width,
			 uint64_t *val, bool write)
{
	static const uint8_t widths[0x14] = { [0] = 4, [4] = 4, [8] = 4, [12] = 2,
					      [14] = 2, [16] = 2, [18] = 1, [19] = 1 };
	struct fake_queue *q = cur_queue(fp);
	uint64_t cfg_at = msix_enabled(fp) ? 0x18 : 0x14;

	if (off >= 0x14 && off < cfg_at)
		return legacy_msix_access(fp, off, width, val, write);
	if (off >= cfg_at) {
		uint64_t r = off - cfg_at;

		if (r + width > FAKE_DEVICE_LEN || r + width > FAKE_BAR0_SIZE - cfg_at || write) {
			fake_pci_fail(fp, "legacy config access at 0x%llx", (unsigned long long)off);
			return -VQ_EINVAL;
		}
		*val = 0;
		memcpy(val, fp->devcfg + r, width);
		fp->devcfg_reads++;
		return 0;
	}
	if (widths[off] != width) {
		fake_pci_fail(fp, "legacy register 0x%llx accessed with width %u",
			      (unsigned long long)off, width);
		return -VQ_EINVAL;
	}
	if (!write) {
		switch (off) {
		case 0: *val = (uint32_t)fp->offered; break;
		case 4: *val = (uint32_t)fp->driver_features; break;
		case 8: *val = q && q->enabled ? q->desc >> 12 : 0; break;
		case 12: *val = q ? q->max : 0; break;
		case 14: *val = fp->qsel; break;
		case 18: *val = status_read(fp); break;
		case 19: *val = fp->isr; fp->isr = 0; break;
		default: *val = 0;
		}
		return 0;
	}
	switch (off) {
	case 4:
		fp->driver_features = (uint32_t)*val;
		log_add(fp, 'F', fp->driver_features);
		break;
	case 8: legacy_pfn_write(fp, *val); break;
	case 14: fp->qsel = (uint16_t)*val; break;
	case 16: notify(fp, (uint16_t)*val, off); break;
	case 18: status_write(fp, (uint8_t)*val); break;
	default:
		fake_pci_fail(fp, "write to read-only legacy register 0x%llx",
			      (unsigned long long)off);
	}
	return 0;
}

/* ---- bus ops ------------------------------------------------------------- */

static int fake_cfg_read(void *ctx, uint32_t off, unsigned width, uint32_t *ret)
{
	struct fake_pci *fp = ctx;
	uint32_t v = 0;

	if ((width != 1 && width != 2 && width != 4) || off % width ||
	    off + width > sizeof(fp->cfg)) {
		fake_pci_fail(fp, "config space read of %u at 0x%x", width, off);
		return -VQ_EINVAL;
	}
	memcpy(&v, fp->cfg + off, width);
	*ret = v;
	return 0;
}

static int fake_bar_info(void *ctx, uint8_t bar, bool *ret_io, uint64_t *ret_size)
{
	struct fake_pci *fp = ctx;

	if (bar > 5 || !fp->bar_present[bar])
		return -VQ_ENODEV;
	*ret_io = fp->bar_io[bar];
	*ret_size = fp->bar_size[bar];
	return 0;
}

static int bar_access(struct fake_pci *fp, uint8_t bar, uint64_t off,
		      unsigned width, uint64_t *val, bool write)
{
	if (bar > 5 || !fp->bar_present[bar] || off >= fp->bar_size[bar] ||
	    width > fp->bar_size[bar] - off) {
		fake_pci_fail(fp, "BAR%u access at 0x%llx outside the BAR", bar,
			      (unsigned long long)off);
		return -VQ_EINVAL;
	}
	if (bar == FAKE_BAR_MODERN && fp->mode != FAKE_PCI_LEGACY)
		return bar4_access(fp, off, width, val, write);
	if (bar == 0 && fp->mode != FAKE_PCI_MODERN)
		return legacy_access(fp, off, width, val, write);
	fake_pci_fail(fp, "access to unused BAR%u", bar);
	return -VQ_EINVAL;
}

static int fake_bar_read(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			 uint64_t *ret)
{
	uint64_t v = 0;
	int r = bar_access(ctx, bar, off, width, &v, false);

	if (!r)
		*ret = v;
	return r;
}

static int fake_bar_write(void *ctx, uint8_t bar, uint64_t off, unsigned width,
			  uint64_t val)
{
	return bar_access(ctx, bar, off, width, &val, true);
}

static int fake_set_bus_master(void *ctx, bool on)
{
	struct fake_pci *fp = ctx;

	if (fp->bus_master_fail)
		return -VQ_EIO;
	if (fp->bus_master && !on)
		fp->bus_master_offs++;
	fp->bus_master = on;
	return 0;
}

static const struct vpci_bus_ops fake_bus_ops = {
	.cfg_read = fake_cfg_read,
	.bar_info = fake_bar_info,
	.bar_read = fake_bar_read,
	.bar_write = fake_bar_write,
	.dma_alloc = fake_dma_alloc,
	.dma_free = fake_dma_free,
	.dma_map = fake_dma_map,
	.dma_unmap = fake_dma_unmap,
	.set_bus_master = fake_set_bus_master,
};

/* ---- construction ------------------------------------------------------- */

unsigned fake_pci_default_caps(struct fake_cap ret[FAKE_MAX_CAPS])
{
	const struct fake_cap caps[] = {
		{ .cfg_type = 1, .bar = 4, .offset = FAKE_COMMON_OFF, .length = FAKE_COMMON_LEN },
		{ .cfg_type = 2, .bar = 4, .offset = FAKE_NOTIFY_OFF, .length = FAKE_NOTIFY_LEN, .mult = 4 },
		{ .cfg_type = 3, .bar = 4, .offset = FAKE_ISR_OFF, .length = 4 },
		{ .cfg_type = 4, .bar = 4, .offset = FAKE_DEVICE_OFF, .length = FAKE_DEVICE_LEN },
		{ .cfg_type = 5, .bar = 0, .offset = 0, .length = 0, .len = 20 },
	};

	memcpy(ret, caps, sizeof(caps));
	return sizeof(caps) / sizeof(caps[0]);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void msix_link(struct fake_pci *fp);

void fake_pci_set_caps(struct fake_pci *fp, const struct fake_cap *caps,
		       unsigned n)
{
	bool notify_seen = false;

	memset(fp->cfg + 0x40, 0, sizeof(fp->cfg) - 0x40);
	fp->notify_mult = 0;
	fp->cfg[0x34] = n ? 0x40 : 0;
	put16(fp->cfg + 0x06, n ? 0x10 : 0);
	for (unsigned i = 0; i < n && i < FAKE_MAX_CAPS; i++) {
		uint8_t *c = fp->cfg + 0x40 + 0x14 * i;
		const struct fake_cap *k = &caps[i];

		c[0] = k->id ? k->id : 0x09;
		c[1] = i + 1 < n ? (uint8_t)(0x40 + 0x14 * (i + 1)) : 0;
		c[2] = k->len ? k->len : (k->cfg_type == 2 ? 20 : 16);
		c[3] = k->cfg_type;
		c[4] = k->bar;
		put32(c + 8, k->offset);
		put32(c + 12, k->length);
		if (k->cfg_type == 2 && c[2] >= 20) {
			put32(c + 16, k->mult);
			/* The device uses the multiplier the driver will pick. */
			if (!notify_seen && k->bar == FAKE_BAR_MODERN && !k->id) {
				fp->notify_mult = k->mult;
				notify_seen = true;
			}
		}
	}
	msix_link(fp);
}

/* Appends the MSI-X capability to the list (fake_pci_set_msix). */
static void msix_link(struct fake_pci *fp)
{
	uint8_t *c = fp->cfg + FAKE_MSIX_POS;
	uint8_t pos = fp->cfg[0x34];

	memset(c, 0, 12);
	if (!fp->msix)
		return;
	c[0] = 0x11;
	put16(c + 2, 1);    /* table size 2 (N - 1); Enable set by the caller */
	put32(c + 4, 0x1000 | 1); /* table in BAR1: never used here */
	put32(c + 8, 0x1800 | 1);
	put16(fp->cfg + 0x06, 0x10);
	if (!pos) {
		fp->cfg[0x34] = FAKE_MSIX_POS;
		return;
	}
	for (unsigned i = 0; fp->cfg[pos + 1] && i < FAKE_MAX_CAPS; i++)
		pos = fp->cfg[pos + 1];
	fp->cfg[pos + 1] = FAKE_MSIX_POS;
}

void fake_pci_set_msix(struct fake_pci *fp, bool present, bool enabled)
{
	uint8_t *link = &fp->cfg[0x34];

	/* Unlink it first, wherever it is in the list. */
	for (unsigned i = 0; *link && i <= FAKE_MAX_CAPS; i++) {
		if (*link == FAKE_MSIX_POS) {
			*link = 0;
			break;
		}
		link = &fp->cfg[*link + 1];
	}
	if (!fp->cfg[0x34])
		put16(fp->cfg + 0x06, 0);
	fp->msix = present;
	msix_link(fp);
	if (present && enabled)
		fp->cfg[FAKE_MSIX_POS + 3] |= 0x80;
}

void fake_pci_loop_caps(struct fake_pci *fp)
{
	uint8_t pos = fp->cfg[0x34];

	for (unsigned i = 0; pos && i < 64; i++) {
		if (!fp->cfg[pos + 1]) {
			fp->cfg[pos + 1] = fp->cfg[0x34];
			return;
		}
		pos = fp->cfg[pos + 1];
	}
}

static void set_ids(struct fake_pci *fp, enum fake_pci_mode mode, uint16_t type)
{
	bool modern = mode == FAKE_PCI_MODERN;

	put16(fp->cfg + 0x00, 0x1AF4);
	/* Transitional ids: 0x1000 + type - 1 for the classic devices. */
	put16(fp->cfg + 0x02, modern ? 0x1040 + type : 0x1000 + type - 1);
	fp->cfg[0x08] = modern ? 1 : 0;
	put16(fp->cfg + 0x2C, 0x1AF4);
	put16(fp->cfg + 0x2E, type);
}

struct fake_pci *fake_pci_new(enum fake_pci_mode mode, uint16_t type,
			      uint64_t offered)
{
	struct fake_pci *fp = calloc(1, sizeof(*fp));
	struct fake_cap caps[FAKE_MAX_CAPS];

	if (!fp)
		abort();
	fp->bus = (struct vpci_bus){ .ops = &fake_bus_ops, .ctx = fp,
				     .name = "00:03.0" };
	fp->mode = mode;
	fp->type = type;
	fp->next_dev = FAKE_DMA_BASE;
	fp->bus_master = true;
	fp->offered = offered;
	fp->num_queues = 1;
	for (unsigned i = 0; i < FAKE_MAX_QUEUES; i++)
		fp->q[i] = (struct fake_queue){ .max = 256, .size = 256,
						.notify_off = (uint16_t)i };
	set_ids(fp, mode, type);
	if (mode != FAKE_PCI_LEGACY) {
		fp->bar_present[4] = true;
		fp->bar_size[4] = FAKE_BAR4_SIZE;
		fake_pci_set_caps(fp, caps, fake_pci_default_caps(caps));
	}
	if (mode != FAKE_PCI_MODERN) {
		fp->bar_present[0] = true;
		fp->bar_io[0] = true;
		fp->bar_size[0] = FAKE_BAR0_SIZE;
	}
	return fp;
}

unsigned fake_pci_free(struct fake_pci *fp)
{
	unsigned live, unmapped, bad;

	if (!fp)
		return 0;
	live = fake_pci_live_dma(fp);
	unmapped = fp->maps > fp->unmaps ? (unsigned)(fp->maps - fp->unmaps) : 0;
	bad = live + unmapped + fp->errors;
	if (bad)
		fprintf(stderr, "fake_pci: freed with %u DMA areas alive, %u mappings "
			"not undone, %u violations%s%s\n", live, unmapped, fp->errors,
			fp->errors ? "; first: " : "", fp->errors ? fp->error : "");
	queues_reset(fp);
	for (unsigned i = 0; i < FAKE_MAX_DMA; i++) {
		struct fake_dma_area *a = &fp->dma[i];

		if (a->live && !a->mapped)
			dma_mem_free(a);
	}
	free(fp);
	return bad;
}

/* ---- virtio-blk backend (virtio 1.2 §5.2) --------------------------------- */

#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2

uint8_t fake_blk_pattern(uint64_t offset)
{
	uint64_t s = offset >> 9;

	return (uint8_t)(s * 131 + (s >> 8) * 17 + (offset & 511) * 7 + 1);
}

static uint32_t cfg32(const struct fake_pci *fp, unsigned off)
{
	uint32_t v;

	memcpy(&v, fp->devcfg + off, 4);
	return v;
}

/* Checks the data segments against SEG_MAX / SIZE_MAX, as negotiated. */
static void blk_check_segs(struct fake_blk *fb, const struct ring_sim_chain *c,
			   unsigned first, unsigned n)
{
	struct fake_pci *fp = fb->fp;

	if (n > fb->max_segs)
		fb->max_segs = n;
	/* seg_max 0 makes no sense; a driver can only send one (as Linux). */
	if ((fp->driver_features & VIRTIO_BIT(BLK_F_SEG_MAX)) && n > 1 &&
	    n > cfg32(fp, 12))
		fake_pci_fail(fp, "request with %u data segments, seg_max %u", n,
			      cfg32(fp, 12));
	for (unsigned i = first; i < first + n; i++) {
		if (c->seg[i].len > fb->max_seg_len)
			fb->max_seg_len = c->seg[i].len;
		if ((fp->driver_features & VIRTIO_BIT(BLK_F_SIZE_MAX)) &&
		    c->seg[i].len > cfg32(fp, 8))
			fake_pci_fail(fp, "segment of %u bytes, size_max %u",
				      c->seg[i].len, cfg32(fp, 8));
		if (c->seg[i].writable &&
		    !fake_pci_dev_writable(fp, c->seg[i].addr, c->seg[i].len))
			fake_pci_fail(fp, "device asked to write a TO_DEVICE buffer");
	}
}

/* Returns the status for a data request and does the transfer. */
static uint8_t blk_rw(struct fake_blk *fb, const struct ring_sim_chain *c,
		      uint32_t type, uint64_t sector, uint64_t len)
{
	uint64_t nsec = len / 512;

	if (len % 512 || !len)
		fake_pci_fail(fb->fp, "request of %llu bytes", (unsigned long long)len);
	if (sector > fb->capacity || nsec > fb->capacity - sector) {
		fb->beyond_capacity++;
		return BLK_S_IOERR;
	}
	if (fb->ioerr_sector >= sector && fb->ioerr_sector < sector + nsec)
		return BLK_S_IOERR;
	fb->bytes += len;
	if (type == 0) {
		fb->reads++;
		ring_sim_chain_write(c, 0, fb->disk + sector * 512, len);
		return BLK_S_OK;
	}
	fb->writes++;
	if (fb->read_only)
		return BLK_S_IOERR;
	ring_sim_chain_read(c, 16, fb->disk + sector * 512, len);
	return BLK_S_OK;
}

/* Processes one request chain; returns the used length to report. */
static uint32_t blk_request(struct fake_blk *fb, const struct ring_sim_chain *c)
{
	struct fake_pci *fp = fb->fp;
	uint8_t hdr[16], st = BLK_S_UNSUPP;
	uint32_t type, written = 0;
	uint64_t sector, data;

	if (c->n_segs < 2 || c->n_readable < 1 || c->seg[0].len != 16 ||
	    !c->seg[c->n_segs - 1].writable || c->seg[c->n_segs - 1].len != 1) {
		fake_pci_fail(fp, "malformed blk request (%u segs)", c->n_segs);
		return 0;
	}
	ring_sim_chain_read(c, 0, hdr, sizeof(hdr));
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	fb->requests++;
	if (type == 0) {
		data = c->writable_bytes - 1;
		blk_check_segs(fb, c, c->n_readable, c->n_segs - c->n_readable - 1);
		if (!fb->unsupp)
			st = blk_rw(fb, c, type, sector, data);
		written = st == BLK_S_OK ? (uint32_t)data : 0;
	} else if (type == 1) {
		data = c->readable_bytes - 16;
		blk_check_segs(fb, c, 1, c->n_readable - 1);
		if (!fb->unsupp)
			st = blk_rw(fb, c, type, sector, data);
	} else if (type == 4 && !fb->unsupp) {
		fb->flushes++;
		st = BLK_S_OK;
	} else if (type == 8 && !fb->unsupp) {
		fb->get_ids++;
		data = c->writable_bytes - 1;
		written = (uint32_t)(data < 20 ? data : 20);
		ring_sim_chain_write(c, 0, fb->id, written);
		st = BLK_S_OK;
	}
	ring_sim_chain_write(c, c->writable_bytes - 1, &st, 1);
	written += 1;
	return written > fb->short_by ? written - fb->short_by : 0;
}

/* Remembers the writable buffers of a popped chain (fake_blk_scribble). */
static void blk_remember(struct fake_blk *fb, const struct ring_sim_chain *c)
{
	for (unsigned i = c->n_readable; i < c->n_segs; i++) {
		fb->recent[fb->recent_next].host = c->seg[i].host;
		fb->recent[fb->recent_next].len = c->seg[i].len;
		fb->recent_next = (fb->recent_next + 1) % FAKE_BLK_RECENT;
		if (fb->nrecent < FAKE_BLK_RECENT)
			fb->nrecent++;
	}
}

uint64_t fake_blk_scribble(struct fake_blk *fb, uint8_t val)
{
	uint64_t n = 0;

	if (!fb->fp->bus_master)
		return 0;
	for (unsigned i = 0; i < fb->nrecent; i++) {
		memset(fb->recent[i].host, val, fb->recent[i].len);
		n += fb->recent[i].len;
	}
	fb->scribbled += n;
	return n;
}

static void blk_stuck(struct fake_pci *fp)
{
	struct fake_blk *fb = fp->backend_ctx;

	if (fb->write_after_reset)
		fake_blk_scribble(fb, 0);
}

static void blk_complete_all(struct fake_blk *fb)
{
	struct fake_queue *q = &fb->fp->q[0];

	fb->nrecent = fb->recent_next = 0;

	if (fb->bad_id && fb->nheld) {
		ring_sim_push_raw(q->sim, q->size + 5u, 0);
		fb->nheld = 0;
		return;
	}
	for (unsigned i = 0; i < fb->nheld; i++)
		if (ring_sim_push(q->sim, fb->held[i].head, fb->held[i].len))
			fake_pci_fail(fb->fp, "push: %s", q->sim->error);
	if (fb->nheld)
		fb->fp->isr |= 1;
	fb->nheld = 0;
}

static void blk_reverse(struct fake_blk *fb, unsigned from)
{
	for (unsigned a = from, b = fb->nheld; a + 1 < b; a++, b--) {
		__typeof__(fb->held[0]) t = fb->held[a];

		fb->held[a] = fb->held[b - 1];
		fb->held[b - 1] = t;
	}
}

static void blk_notify(struct fake_pci *fp, uint16_t qi)
{
	struct fake_blk *fb = fp->backend_ctx;
	struct ring_sim *sim = fp->q[qi].sim;
	unsigned first = fb->nheld;
	int r = 0;

	if (qi != 0) {
		fake_pci_fail(fp, "blk notify of queue %u", qi);
		return;
	}
	while (fb->nheld < sizeof(fb->held) / sizeof(fb->held[0]) &&
	       (r = ring_sim_pop(sim, fb->chain)) == 1) {
		uint32_t len = blk_request(fb, fb->chain);

		blk_remember(fb, fb->chain);
		fb->held[fb->nheld].head = fb->chain->head;
		fb->held[fb->nheld++].len = len;
	}
	if (r < 0)
		fake_pci_fail(fp, "ring: %s", sim->error);
	if (fb->nheld > fb->max_held)
		fb->max_held = fb->nheld;
	if (fb->reverse)
		blk_reverse(fb, first);
	if (fb->never_complete)
		return;
	if (fb->delay_polls)
		fb->polls_left = fb->delay_polls;
	else
		blk_complete_all(fb);
}

static void blk_poll(struct fake_pci *fp)
{
	struct fake_blk *fb = fp->backend_ctx;

	if (!fb->nheld || fb->never_complete || !fp->q[0].sim)
		return;
	if (fb->polls_left)
		fb->polls_left--;
	else
		blk_complete_all(fb);
}

static void blk_reset(struct fake_pci *fp)
{
	struct fake_blk *fb = fp->backend_ctx;

	fb->nheld = 0;
	/* A device that keeps writing keeps the buffers it writes. */
	if (!(fb->write_after_reset && fp->reset_never))
		fb->nrecent = fb->recent_next = 0;
}

static const struct fake_backend blk_backend = {
	.notify = blk_notify,
	.reset = blk_reset,
	.poll = blk_poll,
	.stuck = blk_stuck,
};

void fake_blk_config(struct fake_blk *fb, uint32_t seg_max, uint32_t size_max,
		     uint32_t blk_size)
{
	put32(fb->fp->devcfg + 8, size_max);
	put32(fb->fp->devcfg + 12, seg_max);
	put32(fb->fp->devcfg + 20, blk_size);
}

void fake_blk_fill_pattern(uint8_t *disk, uint64_t sectors)
{
	for (uint64_t i = 0; i < sectors * 512; i++)
		disk[i] = fake_blk_pattern(i);
}

struct fake_blk *fake_blk_attach(struct fake_pci *fp, uint64_t sectors)
{
	uint8_t *disk = malloc(sectors * 512);
	struct fake_blk *fb;

	if (!disk)
		abort();
	fake_blk_fill_pattern(disk, sectors);
	fb = fake_blk_attach_disk(fp, disk, sectors);
	fb->own_disk = true;
	return fb;
}

struct fake_blk *fake_blk_attach_disk(struct fake_pci *fp, uint8_t *disk,
				      uint64_t sectors)
{
	struct fake_blk *fb = calloc(1, sizeof(*fb));

	if (!fb)
		abort();
	fb->fp = fp;
	fb->capacity = sectors;
	fb->disk = disk;
	fb->chain = malloc(sizeof(*fb->chain));
	if (!fb->chain)
		abort();
	fb->ioerr_sector = ~0ull;
	memcpy(fb->id, "VQFAKE-SERIAL-123456", 20);
	memcpy(fp->devcfg, &sectors, 8);
	fp->backend = &blk_backend;
	fp->backend_ctx = fb;
	return fb;
}

void fake_blk_detach(struct fake_blk *fb)
{
	if (!fb)
		return;
	fb->fp->backend = NULL;
	if (fb->own_disk)
		free(fb->disk);
	free(fb->chain);
	free(fb);
}
