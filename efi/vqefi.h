/* SPDX-License-Identifier: MIT */
/*
 * The EFI side of vqboot: platform services, PCI I/O back end of the virtio
 * transport, device ownership, console. Everything here returns EFI_STATUS
 * except where it implements an EFI-free interface.
 */
#ifndef VQ_EFI_H
#define VQ_EFI_H

#include <efi.h>
#include <efilib.h>

#include "lib/compat.h"
#include "lib/err.h"
#include "virtio/virtio.h"
#include "lib/plat.h"
#include "lib/fmt.h"

/** The entry point of each application in apps/. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

/* ---- platform.c ---------------------------------------------------------- */

/** Initialise gnu-efi, calibrate the TSC against the firmware's Stall. */
void efi_platform_init(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

/** What the clock is ("TSC, calibrated against the firmware's Stall", or
 * AArch64's generic timer), for logs and reports. */
const char *efi_clock_name(void);

/** TSC ticks per microsecond found by the calibration. */
uint64_t efi_tsc_per_us(void);

/**
 * The raw cycle counter, readable before efi_platform_init (the entry time
 * is taken before the calibration it needs), and its conversion once the
 * rate is known: microseconds since the counter started (reset).
 */
uint64_t efi_counter(void);
uint64_t efi_counter_to_us(uint64_t ticks);

/** The image handle of the running application. */
extern EFI_HANDLE efi_image;

/** Optional second sink for log lines (the graphical console). */
extern void (*efi_log_hook)(int level, const char *line);

/* ---- status.c ------------------------------------------------------------ */

/** The one place where the two error currencies meet. */
EFI_STATUS efi_from_vq(int err);
int vq_from_efi(EFI_STATUS st);

/** A short lower-case name of @st for messages ("access denied"), with the
 * VQ_E* meaning where the status came from one. */
const char *efi_status_name(EFI_STATUS st);

/* ---- console.c ----------------------------------------------------------- */

/** Formatted output (vq_snprintf formats) to the firmware console. */
void con_printf(const char *fmt, ...) VQ_PRINTF(1, 2);
void con_puts(const char *s);

/**
 * Wait for a key until @timeout_us passes (0: do not wait). Returns
 * EFI_TIMEOUT when none came.
 */
EFI_STATUS con_read_key(uint64_t timeout_us, EFI_INPUT_KEY *ret);

/** The load options as a NUL-terminated ASCII string (caller frees). */
char *efi_load_options_ascii(EFI_HANDLE image);

/* ---- pci.c: finding and owning virtio-pci functions ------------------------ */

struct efi_pci_dev {
	EFI_HANDLE handle;
	EFI_PCI_IO_PROTOCOL *pci;
	UINTN seg, bus, dev, fn;
	uint64_t orig_attrs;
	bool owned;          /* we hold PciIo BY_DRIVER|EXCLUSIVE */
	bool had_driver;     /* a firmware driver was bound before we took it */
	bool attrs_changed;
	/* give_back leaves the firmware's drivers unbound (the device reset)
	 * until efi_pci_reconnect_deferred: binding them costs a boot time
	 * that a kernel which never uses them would pay. */
	bool defer_reconnect;
	/* BAR kinds and sizes, looked up once: GetBarAttributes allocates,
	 * which is too slow for every register access (every notify). */
	uint8_t bar_known;   /* bit per BAR: looked up */
	uint8_t bar_valid;   /* bit per BAR: implemented */
	uint8_t bar_io;      /* bit per BAR: I/O space */
	uint64_t bar_size[6];
	struct vdev vdev;    /* probed transport */
};

/**
 * Find every virtio-pci function and probe its transport (without touching
 * the device). Returns a plat_alloc()ed array.
 */
EFI_STATUS efi_pci_find_virtio(struct efi_pci_dev **ret_devs, unsigned *ret_n);
void efi_pci_free_list(struct efi_pci_dev *devs, unsigned n);

/**
 * Take the device from the firmware's drivers (exclusive open, which stops
 * them and resets the device), and enable memory, I/O decoding and bus
 * mastering.
 */
EFI_STATUS efi_pci_take(struct efi_pci_dev *d);

/**
 * Reset the device (vdev_teardown must already have freed its queues), put
 * the PCI attributes back, release it and reconnect the firmware's drivers if
 * one was bound before. Safe on a device that was never taken.
 */
void efi_pci_give_back(struct efi_pci_dev *d);

/** Reconnect the firmware's drivers to every device given back with
 * defer_reconnect set (when the started image returned). Idempotent. */
void efi_pci_reconnect_deferred(void);

/** Fill @bus with the PCI I/O implementation of struct vpci_bus_ops. */
void efi_pci_bus_init(struct efi_pci_dev *d, struct vpci_bus *bus);

#endif
