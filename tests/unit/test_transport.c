/* SPDX-License-Identifier: MIT */
/* virtio-pci probing, the modern and legacy transports, and the shared
 * init sequence, against the register-level fake in support/fake_pci.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "virtio/virtio.h"
#include "virtio/virtio_blk.h"
#include "tests/support/fake_pci.h"
#include "tests/support/host_platform.h"
#include "lib/plat.h"

#define F_V1 VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define BLK_BITS (VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | \
		  VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | \
		  VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE))

static struct fake_pci *fp;

static int setup(void **state)
{
	host_clock_set_auto_advance(1);
	host_log_clear();
	fp = NULL;
	return 0;
}

/* The fake's promise: freed with nothing alive, nothing mapped, and no
 * violation (fake_pci_free counts them); @kept is what a test left alive
 * on purpose (a device that would not stop). */
static void free_fake(unsigned kept)
{
	unsigned bad = fake_pci_free(fp);

	fp = NULL;
	if (bad != kept)
		fail_msg("fake device freed with %u leaks and violations, %u expected "
			 "(stderr names them)", bad, kept);
}

static int teardown(void **state)
{
	host_clock_set_auto_advance(0);
	if (fp)
		free_fake(0);
	return 0;
}

static void assert_fake_clean(void)
{
	if (fp->errors)
		fail_msg("fake device saw %u violations, first: %s", fp->errors,
			 fp->error);
}

static void assert_log(const char *want)
{
	char got[1024];

	fake_pci_log_str(fp, got, sizeof(got));
	assert_string_equal(got, want);
}

static uint64_t keep_blk(void *ctx, uint64_t offered)
{
	return offered & BLK_BITS;
}

static uint64_t keep_all(void *ctx, uint64_t offered)
{
	return offered;
}

static void probe_ok(enum fake_pci_mode mode, uint64_t offered, struct vdev *d)
{
	fp = fake_pci_new(mode, VIRTIO_ID_BLOCK, offered);
	assert_int_equal(vpci_probe(&fp->bus, d), 0);
}

/* ---- probing ------------------------------------------------------------- */

static void test_probe_modern(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_string_equal(d.ops->name, "modern");
	assert_int_equal(d.type, VIRTIO_ID_BLOCK);
	assert_int_equal(d.pci_device, 0x1042);
	assert_false(d.transitional);
	assert_false(d.legacy);
	assert_true(d.common.present);
	assert_int_equal(d.common.bar, 4);
	assert_int_equal(d.notify.offset, FAKE_NOTIFY_OFF);
	assert_int_equal(d.notify_mult, 4);
	assert_int_equal(d.isr_cfg.offset, FAKE_ISR_OFF);
	assert_int_equal(d.device.offset, FAKE_DEVICE_OFF);
	assert_string_equal(d.name, "virtio 00:03.0");
	assert_string_equal(d.bus.name, "00:03.0");
	/* Probing does not touch the device. */
	assert_int_equal(fp->nlog, 0);
	assert_fake_clean();
}

static void test_probe_transitional(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_TRANSITIONAL, F_V1, &d);
	assert_string_equal(d.ops->name, "modern");
	assert_int_equal(d.pci_device, 0x1001);
	assert_int_equal(d.type, VIRTIO_ID_BLOCK);
	assert_true(d.transitional);
	assert_false(d.legacy);
	assert_fake_clean();
}

static void test_probe_legacy(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_LEGACY, 0, &d);
	assert_string_equal(d.ops->name, "legacy");
	assert_true(d.transitional);
	assert_true(d.legacy);
	assert_int_equal(d.device.bar, 0);
	assert_int_equal(d.device.offset, 0x14);
	assert_int_equal(d.device.length, FAKE_BAR0_SIZE - 0x14);
	assert_fake_clean();
}

static void test_probe_not_virtio(void **state)
{
	struct vdev d;

	memset(&d, 0x5A, sizeof(d));
	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	fp->cfg[0] = 0x86; /* vendor 0x1A86 */
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	assert_int_equal(d.type, 0x5A5A); /* untouched on failure */
	fp->cfg[0] = 0xF4;
	fp->cfg[2] = 0x40; /* 0x1040: type 0 is reserved */
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	free_fake(0);

	/* A 0x1000-range id with revision 1 is not a virtio device. */
	fp = fake_pci_new(FAKE_PCI_TRANSITIONAL, VIRTIO_ID_BLOCK, F_V1);
	fp->cfg[0x08] = 1;
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	assert_fake_clean();
}

static void test_probe_caps_first_valid_wins(void **state)
{
	struct fake_cap caps[FAKE_MAX_CAPS];
	unsigned n = 0;
	struct vdev d;

	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	/* Reserved BAR, unknown type, then the real ones, then duplicates
	 * pointing elsewhere: the first usable of each type must win. */
	caps[n++] = (struct fake_cap){ .cfg_type = 1, .bar = 7, .offset = 0, .length = 0x38 };
	caps[n++] = (struct fake_cap){ .cfg_type = 9, .bar = 4, .offset = 0, .length = 0x38 };
	caps[n++] = (struct fake_cap){ .id = 0x11, .cfg_type = 1, .bar = 4, .offset = 0x100, .length = 0x38 };
	caps[n++] = (struct fake_cap){ .cfg_type = 1, .bar = 4, .offset = FAKE_COMMON_OFF, .length = FAKE_COMMON_LEN };
	caps[n++] = (struct fake_cap){ .cfg_type = 2, .bar = 4, .offset = FAKE_NOTIFY_OFF, .length = FAKE_NOTIFY_LEN, .mult = 2 };
	caps[n++] = (struct fake_cap){ .cfg_type = 3, .bar = 4, .offset = FAKE_ISR_OFF, .length = 1 };
	caps[n++] = (struct fake_cap){ .cfg_type = 4, .bar = 4, .offset = FAKE_DEVICE_OFF, .length = FAKE_DEVICE_LEN };
	caps[n++] = (struct fake_cap){ .cfg_type = 1, .bar = 4, .offset = 0x800, .length = 0x38 };
	caps[n++] = (struct fake_cap){ .cfg_type = 2, .bar = 4, .offset = 0x3800, .length = 0x10, .mult = 8 };
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_int_equal(d.common.offset, FAKE_COMMON_OFF);
	assert_int_equal(d.notify.offset, FAKE_NOTIFY_OFF);
	assert_int_equal(d.notify_mult, 2);
	assert_int_equal(fp->notify_mult, 2);
	assert_fake_clean();
}

static void test_probe_caps_window_outside_bar(void **state)
{
	struct fake_cap caps[FAKE_MAX_CAPS];
	unsigned n = fake_pci_default_caps(caps);
	struct vdev d;

	/* The device window would run past the end of BAR4. */
	caps[3].offset = FAKE_BAR4_SIZE - 0x10;
	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	assert_true(host_log_contains("lacks a usable device capability"));
	free_fake(0);

	/* The same on a transitional device falls back to legacy. */
	fp = fake_pci_new(FAKE_PCI_TRANSITIONAL, VIRTIO_ID_BLOCK, F_V1);
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_true(d.legacy);
	assert_int_equal(d.device.offset, 0x14);
	/* An offset + length that wraps 32 bits is caught too. */
	caps[3].offset = FAKE_DEVICE_OFF;
	caps[0].offset = 0xFFFFFFF0u;
	caps[0].length = 0x38;
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_true(d.legacy);
	assert_fake_clean();
}

static void test_probe_caps_loop(void **state)
{
	struct vdev d;

	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	fake_pci_loop_caps(fp);
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_string_equal(d.ops->name, "modern");
	assert_true(host_log_contains("capability list loops"));

	/* A pointer into the header stops the walk too. */
	fp->cfg[0x41] = 0x10;
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	/* No capability list at all: status bit 4 clear. */
	fp->cfg[0x06] = 0;
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	assert_fake_clean();
}

static void test_probe_cap_too_short(void **state)
{
	struct fake_cap caps[FAKE_MAX_CAPS];
	unsigned n = fake_pci_default_caps(caps);
	struct vdev d;

	caps[1].len = 16; /* notify cap without the multiplier */
	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	caps[1].len = 20;
	caps[0].length = 0x20; /* common cfg window too small */
	fake_pci_set_caps(fp, caps, n);
	assert_int_equal(vpci_probe(&fp->bus, &d), -VQ_ENODEV);
	assert_fake_clean();
}

/* ---- the init handshake -------------------------------------------------- */

static void test_handshake_modern(void **state)
{
	struct virtqueue *vq;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1 | BLK_BITS | VIRTIO_BIT(VIRTIO_BLK_F_MQ) |
		 VIRTIO_BIT(VIRTIO_F_RING_PACKED), &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_log("W0 R0 W1 W3 F100000046 Wb Rb");
	assert_int_equal(d.features, F_V1 | BLK_BITS);
	assert_int_equal(fp->driver_features, F_V1 | BLK_BITS);
	fake_pci_log_clear(fp);
	assert_int_equal(vdev_setup_queue(&d, 0, 0, 0, &vq), 0);
	assert_int_equal(vq_size(vq), 256);
	assert_true(fp->q[0].enabled);
	assert_int_equal(vdev_driver_ok(&d), 0);
	assert_log("Rb Wf Rf");
	vdev_teardown(&d);
	assert_int_equal(fp->status, 0);
	assert_int_equal(fake_pci_live_dma(fp), 0);
	assert_fake_clean();
}

static void test_handshake_legacy(void **state)
{
	struct virtqueue *vq;
	struct vdev d;

	probe_ok(FAKE_PCI_LEGACY, 0x46 | VIRTIO_BIT(VIRTIO_F_ANY_LAYOUT), &d);
	fp->q[0].max = 128;
	assert_int_equal(vdev_init(&d, keep_all, NULL), 0);
	/* §3.1.2: legacy has no FEATURES_OK. ANY_LAYOUT is not ours. */
	assert_log("W0 R0 W1 W3 F46");
	fake_pci_log_clear(fp);
	/* Legacy queues have exactly the device's size. */
	assert_int_equal(vdev_setup_queue(&d, 0, 16, 0, &vq), 0);
	assert_int_equal(vq_size(vq), 128);
	assert_true(fp->q[0].enabled);
	assert_int_equal(fp->q[0].desc % 4096, 0);
	assert_int_equal(vdev_driver_ok(&d), 0);
	assert_log("R3 W7 R7");
	vdev_teardown(&d);
	vdev_teardown(&d);
	assert_int_equal(fake_pci_live_dma(fp), 0);
	assert_fake_clean();
}

static void test_handshake_transport_bits(void **state)
{
	uint64_t offered = F_V1 | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) |
			   VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
			   VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
			   VIRTIO_BIT(VIRTIO_F_IN_ORDER) | 0x46;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, offered, &d);
	/* A filter that keeps nothing still gets VERSION_1/ACCESS_PLATFORM. */
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(d.features, F_V1 | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM) | 0x46);
	/* A filter keeping everything loses IN_ORDER (not implemented). */
	assert_int_equal(vdev_init(&d, keep_all, NULL), 0);
	assert_int_equal(d.features, offered & ~VIRTIO_BIT(VIRTIO_F_IN_ORDER));
	assert_int_equal(d.features_offered, offered);
	assert_fake_clean();
}

static void test_features_ok_rejected(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1 | BLK_BITS, &d);
	fp->reject_features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), -VQ_ENOTSUP);
	/* FAILED added to what the device shows, nothing cleared. */
	assert_log("W0 R0 W1 W3 F100000046 Wb R3 R3 W83");
	assert_int_equal(fp->status, 0x83);
	assert_true(host_log_contains("device cleared status bits 0x8"));
	assert_fake_clean();
}

static void test_version1_missing(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, BLK_BITS, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), -VQ_ENOTSUP);
	assert_true(host_log_contains("does not offer VERSION_1"));
	assert_int_equal(fp->status, 0x83);
	assert_fake_clean();
}

static void test_reset_slow_and_never(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	fp->reset_delay_reads = 2;
	fake_pci_log_clear(fp);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(fp->resets, 2);
	/* Polled until the status reads 0. */
	assert_log("W0 Rb Rb R0 W1 W3 F100000000 Wb Rb");

	fp->reset_never = true;
	host_clock_set_auto_advance(1000);
	assert_int_equal(vdev_reset(&d), -VQ_ETIMEDOUT);
	assert_true(d.broken);
	assert_true(host_log_contains("reset not done"));
	/* No write but the reset itself reaches a device stuck in reset
	 * (the fake counts anything else as a violation). */
	assert_int_equal(vdev_init(&d, keep_blk, NULL), -VQ_ETIMEDOUT);
	fp->reset_never = false;
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_false(d.broken);
	assert_fake_clean();
}

static void test_needs_reset_at_features_ok(void **state)
{
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	fake_pci_set_needs_reset(fp);
	assert_int_equal(vdev_driver_ok(&d), -VQ_ENEEDRESET);
	assert_int_equal(fp->status & VIRTIO_STATUS_FAILED, VIRTIO_STATUS_FAILED);
	assert_fake_clean();
}

/* ---- config and queues --------------------------------------------------- */

static void test_config_read_generation(void **state)
{
	uint64_t cap = 0x123456789ABull;
	uint64_t got = 0;
	uint32_t seg = 0;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	memcpy(fp->devcfg, &cap, 8);
	seg = 77;
	memcpy(fp->devcfg + 12, &seg, 4);
	fp->gen_changes = 3;
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, capacity, &got), 0);
	assert_int_equal(got, cap);
	assert_int_equal(fp->gen_changes, 0);
	/* Generation reads 1,2 (retry) then 3,3: two passes of two 32-bit
	 * accesses each. */
	assert_int_equal(fp->devcfg_reads, 4);
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, seg_max, &seg), 0);
	assert_int_equal(seg, 77);

	fp->gen_changes = 1000;
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, capacity, &got),
			 -VQ_EAGAIN);
	/* Out of the region: refused before any access. */
	assert_int_equal(d.ops->config_read(&d, FAKE_DEVICE_LEN - 2, &got, 4), -VQ_ERANGE);
	assert_fake_clean();
}

static void test_config_read_legacy(void **state)
{
	uint64_t cap = 0xABCDEF01ull, got = 0;
	struct vdev d;

	probe_ok(FAKE_PCI_LEGACY, 0, &d);
	memcpy(fp->devcfg, &cap, 8);
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, capacity, &got), 0);
	assert_int_equal(got, cap);
	assert_fake_clean();
}

/* §4.1.4.8: with MSI-X enabled the legacy device config starts at 0x18,
 * after the two vector registers; with it present but off, at 0x14. */
static void check_legacy_msix(enum fake_pci_mode mode, bool present, bool enabled)
{
	uint64_t cap = 0x0123456789ABCDEFull, got = 0;
	uint32_t seg_max = 0;
	struct fake_cap bad = { .cfg_type = 1, .bar = 4, .offset = 0x3FF0,
				.length = FAKE_COMMON_LEN };
	struct vdev d;

	fp = fake_pci_new(mode, VIRTIO_ID_BLOCK, 0);
	if (mode == FAKE_PCI_TRANSITIONAL)
		fake_pci_set_caps(fp, &bad, 1); /* unusable: legacy it is */
	fake_pci_set_msix(fp, present, enabled);
	memcpy(fp->devcfg, &cap, 8);
	put_le32(fp->devcfg + 12, 126);
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_true(d.legacy);
	assert_int_equal(d.msix_cap, present ? FAKE_MSIX_POS : 0);
	assert_int_equal(d.device.offset, enabled ? 0x18 : 0x14);
	assert_int_equal(d.device.length, FAKE_BAR0_SIZE - d.device.offset);
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, capacity, &got), 0);
	assert_int_equal(got, cap);
	assert_int_equal(vdev_config_get(&d, struct virtio_blk_config, seg_max, &seg_max), 0);
	assert_int_equal(seg_max, 126);
	assert_fake_clean();
	free_fake(0);
}

static void test_config_read_legacy_msix(void **state)
{
	check_legacy_msix(FAKE_PCI_LEGACY, false, false);
	check_legacy_msix(FAKE_PCI_LEGACY, true, false);
	check_legacy_msix(FAKE_PCI_LEGACY, true, true);
	check_legacy_msix(FAKE_PCI_TRANSITIONAL, true, false);
	check_legacy_msix(FAKE_PCI_TRANSITIONAL, true, true);
}

static void check_notify_addr(uint32_t mult)
{
	struct fake_cap caps[FAKE_MAX_CAPS];
	unsigned n = fake_pci_default_caps(caps);
	struct virtqueue *vq0, *vq1;
	struct vdev d;

	fp = fake_pci_new(FAKE_PCI_MODERN, VIRTIO_ID_BLOCK, F_V1);
	caps[1].mult = mult;
	fake_pci_set_caps(fp, caps, n);
	fp->num_queues = 2;
	fp->q[1].notify_off = 5;
	assert_int_equal(vpci_probe(&fp->bus, &d), 0);
	assert_int_equal(d.notify_mult, mult);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(&d, 0, 64, 0, &vq0), 0);
	assert_int_equal(vdev_setup_queue(&d, 1, 100, 0, &vq1), 0);
	assert_int_equal(vq_size(vq1), 64);
	assert_int_equal(d.queues[1].notify_off, 5);
	assert_int_equal(vdev_driver_ok(&d), 0);
	d.ops->notify(&d, 1);
	assert_int_equal(fp->last_notify_addr, FAKE_NOTIFY_OFF + 5 * mult);
	d.ops->notify(&d, 0);
	assert_int_equal(fp->last_notify_addr, FAKE_NOTIFY_OFF);
	assert_int_equal(fp->q[0].notifies, 1);
	assert_int_equal(fp->q[1].notifies, 1);
	vdev_teardown(&d);
	assert_fake_clean();
	free_fake(0);
}

static void test_notify_multiplier(void **state)
{
	check_notify_addr(0);
	check_notify_addr(4);
	check_notify_addr(0x100);
}

static void test_notify_off_outside_region(void **state)
{
	struct virtqueue *vq;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	fp->q[0].notify_off = FAKE_NOTIFY_LEN / 4; /* x4 = the region's end */
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(&d, 0, 0, 0, &vq), -VQ_EBROKEN);
	assert_true(host_log_contains("outside the 4096-byte notify region"));
	assert_int_equal(fp->status & VIRTIO_STATUS_FAILED, VIRTIO_STATUS_FAILED);
	assert_int_equal(fake_pci_live_dma(fp), 0);
	assert_fake_clean();
}

static void test_queue_missing(void **state)
{
	struct virtqueue *vq;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(&d, 1, 0, 0, &vq), -VQ_ENOENT);
	assert_int_equal(vdev_setup_queue(&d, VDEV_MAX_QUEUES, 0, 0, &vq), -VQ_EINVAL);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(&d, 0, 0, 0, &vq), 0);
	assert_int_equal(vdev_setup_queue(&d, 0, 0, 0, &vq), -VQ_EINVAL);
	vdev_teardown(&d);
	assert_fake_clean();
}

static void test_host_pointer_caught(void **state)
{
	struct vq_config cfg = { .index = 0, .size = 16 };
	struct vq_dma mem;
	struct virtqueue *vq;
	struct vdev d;
	void *p = NULL;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	/* A ring whose "device address" is really a host pointer. */
	assert_int_equal(posix_memalign(&p, 4096, vq_dma_size(&cfg)), 0);
	mem = (struct vq_dma){ .host = p, .dev = (uintptr_t)p,
			       .size = vq_dma_size(&cfg) };
	assert_int_equal(vq_create(&cfg, &mem, NULL, NULL, &vq), 0);
	d.ops->queue_enable(&d, 0, vq);
	assert_true(fp->errors >= 1);
	assert_non_null(strstr(fp->error, "is not DMA memory"));
	vq_destroy(vq);
	free(p);
	fp->errors = 0;
}

/* ---- waiting -------------------------------------------------------------- */

struct echo {
	unsigned done, dropped;
	bool hold;
	bool lose_first;        /* ignore the first notification */
	unsigned notified;
	struct ring_sim_chain chain;

	/* clock hook (host_clock_on_read): at complete_at push the held
	 * chain; at freeze_at jump the clock by freeze_us, once */
	uint64_t complete_at, freeze_at, freeze_us;
	bool pushed, frozen;
};

static struct echo echo;

static void echo_notify(struct fake_pci *f, uint16_t q)
{
	if (echo.lose_first && !echo.notified++)
		return;
	while (ring_sim_pop(f->q[q].sim, &echo.chain) == 1)
		if (!echo.hold)
			ring_sim_push(f->q[q].sim, echo.chain.head, 0);
}

static void echo_clock(void *ctx, uint64_t now)
{
	if (echo.freeze_at && !echo.frozen && now >= echo.freeze_at) {
		echo.frozen = true;
		host_clock_advance(echo.freeze_us);
		now += echo.freeze_us;
	}
	if (echo.complete_at && !echo.pushed && now >= echo.complete_at) {
		echo.pushed = true;
		assert_int_equal(ring_sim_push(fp->q[0].sim, echo.chain.head, 0), 0);
	}
}

static const struct fake_backend echo_backend = { .notify = echo_notify };

static void count_done(void *ctx, void *token, uint32_t len)
{
	echo.done++;
}

static void count_dropped(void *ctx, void *token, uint32_t len)
{
	assert_int_equal(len, 0);
	echo.dropped++;
}

static struct virtqueue *ready_device(struct vdev *d)
{
	struct virtqueue *vq;

	memset(&echo, 0, sizeof(echo));
	probe_ok(FAKE_PCI_MODERN, F_V1, d);
	fp->backend = &echo_backend;
	assert_int_equal(vdev_init(d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(d, 0, 8, 0, &vq), 0);
	assert_int_equal(vdev_driver_ok(d), 0);
	return vq;
}

static void post_one(struct virtqueue *vq, struct vq_dma *buf)
{
	struct vq_buf b = { .addr = buf->dev, .len = 16 };

	assert_int_equal(vq_add(vq, &b, 1, NULL, 0, &echo), 0);
	vq_kick(vq);
}

static void test_wait_completes(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;

	vq = ready_device(&d);
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 1000, count_done,
				   count_dropped, NULL), 1);
	assert_int_equal(echo.done, 1);
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

static void test_wait_timeout_resets(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;
	unsigned resets;

	vq = ready_device(&d);
	echo.hold = true;
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	resets = fp->resets;
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 1000, count_done,
				   count_dropped, NULL), -VQ_ETIMEDOUT);
	/* The log says where both sides of the ring stood. */
	if (!host_log_contains("avail idx 1 (added 1), used idx 0, last seen used idx 0, avail_event 0, used_event 65535, used flags 0x0; 1 kicks, 0 suppressed"))
		fail_msg("timeout log lacks the ring state: %s", host_log_last());
	assert_int_equal(echo.dropped, 1);
	assert_int_equal(fp->resets, resets + 1);
	assert_int_equal(fp->status, 0);
	assert_true(d.broken);
	assert_int_equal(vq_inflight(vq), 0);
	/* The device must be re-initialised before the next wait. */
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 1000, count_done,
				   count_dropped, NULL), -VQ_EBROKEN);
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

/* The device answers just as the deadline passes (while the driver reads
 * the clock): the last look after the deadline finds it, no reset. */
static void test_wait_last_look(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;
	uint64_t deadline;
	unsigned resets;

	vq = ready_device(&d);
	echo.hold = true;
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	resets = fp->resets;
	deadline = plat_now_us() + 1000;
	echo.complete_at = deadline;
	host_clock_on_read(echo_clock, NULL);
	assert_int_equal(vdev_wait(&d, vq, deadline, count_done, count_dropped,
				   NULL), 1);
	host_clock_on_read(NULL, NULL);
	assert_int_equal(echo.done, 1);
	assert_int_equal(fp->resets, resets);
	assert_false(d.broken);
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

/* The VM is frozen for 5 s (the clock jumps) in the middle of a 20 ms wait;
 * the device answers 2 ms after the thaw. That is no timeout. */
static void test_wait_vm_frozen(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;
	uint64_t start;
	unsigned resets;

	vq = ready_device(&d);
	echo.hold = true;
	host_clock_set_auto_advance(10);
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	resets = fp->resets;
	start = plat_now_us();
	echo.freeze_at = start + 5000;
	echo.freeze_us = 5000000;
	echo.complete_at = start + 5000 + 5000000 + 2000;
	host_clock_on_read(echo_clock, NULL);
	assert_int_equal(vdev_wait(&d, vq, start + 20000, count_done,
				   count_dropped, NULL), 1);
	host_clock_on_read(NULL, NULL);
	assert_true(echo.frozen);
	assert_int_equal(echo.done, 1);
	assert_int_equal(fp->resets, resets);
	assert_true(host_log_contains("the VM was not running"));
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

/* A notification gets lost: after 100 ms without a completion the driver
 * notifies again, and the device then does the work. */
static void test_wait_renotifies(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;

	vq = ready_device(&d);
	echo.lose_first = true;
	host_clock_set_auto_advance(100);
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	assert_int_equal(fp->q[0].notifies, 1);
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 1000000, count_done,
				   count_dropped, NULL), 1);
	assert_int_equal(echo.done, 1);
	assert_int_equal(fp->q[0].notifies, 2);
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

/* A frozen VM in the middle of a reset is no stuck device either. */
static void test_reset_vm_frozen(void **state)
{
	struct virtqueue *vq;
	struct vdev d;

	vq = ready_device(&d);
	(void)vq;
	fp->reset_delay_reads = 20;
	echo.freeze_at = plat_now_us() + 50;
	echo.freeze_us = 5000000;
	host_clock_on_read(echo_clock, NULL);
	assert_int_equal(vdev_reset(&d), 0);
	host_clock_on_read(NULL, NULL);
	assert_true(echo.frozen);
	assert_false(d.stuck);
	assert_int_equal(fp->status, 0);
	vdev_teardown(&d);
	assert_fake_clean();
}

static void test_wait_needs_reset(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;

	vq = ready_device(&d);
	echo.hold = true;
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	fake_pci_set_needs_reset(fp);
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 100000000, count_done,
				   count_dropped, NULL), -VQ_ENEEDRESET);
	assert_int_equal(echo.dropped, 1);
	assert_int_equal(fp->status, 0);
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

static void test_wait_broken_queue(void **state)
{
	struct virtqueue *vq;
	struct vq_dma buf;
	struct vdev d;

	vq = ready_device(&d);
	echo.hold = true;
	assert_int_equal(fp->bus.ops->dma_alloc(fp, 4096, &buf), 0);
	post_one(vq, &buf);
	/* The device completes an id that was never posted. */
	ring_sim_push_raw(fp->q[0].sim, 7, 0);
	assert_int_equal(vdev_wait(&d, vq, plat_now_us() + 1000, count_done,
				   count_dropped, NULL), -VQ_EBROKEN);
	assert_int_equal(echo.done, 0);
	assert_int_equal(echo.dropped, 1);
	assert_false(vq_is_broken(vq));
	fp->bus.ops->dma_free(fp, &buf);
	vdev_teardown(&d);
	assert_fake_clean();
}

static void test_host_pointer_in_descriptor_caught(void **state)
{
	struct virtqueue *vq;
	struct vdev d;
	static uint8_t host_buf[64];
	struct vq_buf b = { .addr = (uintptr_t)host_buf, .len = sizeof(host_buf) };

	vq = ready_device(&d);
	assert_int_equal(vq_add(vq, &b, 1, NULL, 0, &echo), 0);
	vq_kick(vq);
	assert_int_equal(fp->errors, 1);
	assert_non_null(strstr(fp->error, "is not DMA memory"));
	fp->errors = 0;
	vdev_teardown(&d);
}

static void test_legacy_queue_checks(void **state)
{
	struct vq_config cfg = { .index = 0, .size = 64, .legacy_layout = true };
	struct virtqueue *vq;
	struct vq_dma mem;
	struct vdev d;

	probe_ok(FAKE_PCI_LEGACY, 0, &d);
	assert_int_equal(vdev_init(&d, keep_all, NULL), 0);
	assert_int_equal(fp->bus.ops->dma_alloc(fp, vq_dma_size(&cfg), &mem), 0);
	assert_int_equal(vq_create(&cfg, &mem, NULL, NULL, &vq), 0);
	/* The device's size is 256: a 64-entry ring would be misread. */
	assert_int_equal(d.ops->queue_enable(&d, 0, vq), -VQ_EINVAL);
	assert_true(host_log_contains("must have the device's size 256"));
	assert_false(fp->q[0].enabled);
	vq_destroy(vq);
	fp->bus.ops->dma_free(fp, &mem);
	assert_fake_clean();
}

static void test_config_write_and_isr(void **state)
{
	uint8_t wce = 1, isr = 0xAA;
	uint32_t v = 0x12345678;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(d.ops->config_write(&d, 32, &wce, 1), 0);
	assert_int_equal(fp->devcfg[32], 1);
	assert_int_equal(d.ops->config_write(&d, 8, &v, 4), 0);
	assert_memory_equal(fp->devcfg + 8, &v, 4);
	/* Unaligned or odd-sized writes are refused before the device. */
	assert_int_equal(d.ops->config_write(&d, 9, &v, 4), -VQ_EINVAL);
	assert_int_equal(d.ops->config_write(&d, 8, &v, 3), -VQ_EINVAL);
	fp->isr = 1;
	assert_int_equal(d.ops->isr(&d, &isr), 0);
	assert_int_equal(isr, 1);
	assert_int_equal(fp->isr, 0);
	assert_fake_clean();
}

static void stuck_teardown(bool bus_master_fails)
{
	struct virtqueue *vq;
	struct vdev d;

	probe_ok(FAKE_PCI_MODERN, F_V1, &d);
	assert_int_equal(vdev_init(&d, keep_blk, NULL), 0);
	assert_int_equal(vdev_setup_queue(&d, 0, 0, 0, &vq), 0);
	assert_int_equal(vdev_driver_ok(&d), 0);
	fp->reset_never = true;
	fp->bus_master_fail = bus_master_fails;
	host_clock_set_auto_advance(1000);
	vdev_teardown(&d);
	assert_true(d.stuck);
	assert_int_equal(vdev_may_dma(&d), bus_master_fails);
	assert_int_equal(fp->bus_master, bus_master_fails);
	/* The ring stays allocated only if the device may still write it. */
	assert_int_equal(fake_pci_live_dma(fp), bus_master_fails ? 1 : 0);
	assert_null(d.queues[0].vq);
	/* A reset that completes at last gives the device the bus back. */
	fp->reset_never = false;
	fp->bus_master_fail = false;
	assert_int_equal(vdev_reset(&d), 0);
	assert_false(d.stuck);
	assert_false(d.dma_off);
	assert_true(fp->bus_master);
	assert_fake_clean();
	/* The ring it could not take back stays leaked, and is declared. */
	free_fake(bus_master_fails ? 1 : 0);
}

static void test_teardown_stuck_device(void **state)
{
	stuck_teardown(false);
	stuck_teardown(true);
}

static void test_names(void **state)
{
	assert_string_equal(virtio_type_name(VIRTIO_ID_BLOCK), "block");
	assert_string_equal(virtio_type_name(VIRTIO_ID_GPU), "gpu");
	assert_string_equal(virtio_type_name(999), "unknown");
	assert_string_equal(virtio_feature_name(VIRTIO_ID_BLOCK, 2), "SEG_MAX");
	assert_string_equal(virtio_feature_name(VIRTIO_ID_GPU, 1), "EDID");
	assert_string_equal(virtio_feature_name(VIRTIO_ID_GPU, 32), "VERSION_1");
	assert_null(virtio_feature_name(VIRTIO_ID_NET, 3));
	assert_null(virtio_feature_name(VIRTIO_ID_BLOCK, 40));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_probe_modern),
		T(test_probe_transitional),
		T(test_probe_legacy),
		T(test_probe_not_virtio),
		T(test_probe_caps_first_valid_wins),
		T(test_probe_caps_window_outside_bar),
		T(test_probe_caps_loop),
		T(test_probe_cap_too_short),
		T(test_handshake_modern),
		T(test_handshake_legacy),
		T(test_handshake_transport_bits),
		T(test_features_ok_rejected),
		T(test_version1_missing),
		T(test_reset_slow_and_never),
		T(test_needs_reset_at_features_ok),
		T(test_config_read_generation),
		T(test_config_read_legacy),
		T(test_config_read_legacy_msix),
		T(test_notify_multiplier),
		T(test_notify_off_outside_region),
		T(test_queue_missing),
		T(test_host_pointer_caught),
		T(test_wait_completes),
		T(test_wait_timeout_resets),
		T(test_wait_last_look),
		T(test_wait_vm_frozen),
		T(test_wait_renotifies),
		T(test_reset_vm_frozen),
		T(test_wait_needs_reset),
		T(test_wait_broken_queue),
		T(test_host_pointer_in_descriptor_caught),
		T(test_legacy_queue_checks),
		T(test_config_write_and_isr),
		T(test_teardown_stuck_device),
		T(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
