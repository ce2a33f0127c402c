/* SPDX-License-Identifier: MIT */
/*
 * Measured boot, the EFI-free half: which data goes into which PCR as which
 * event, decided once before the kernel starts. The PCRs and event types are
 * the ones systemd-boot documents for the same data (systemd's
 * docs/TPM2_PCR_MEASUREMENTS.md, the UAPI Linux TPM PCR Registry), so that
 * tools that read systemd-boot's event log read ours the same way:
 *
 *   PCR 12 EV_IPL        the command line as passed in LoadOptions (UTF-16
 *                        with its NUL, as systemd-boot 252 measures it);
 *                        the event data is the same UTF-16 string
 *   PCR 12 EV_EVENT_TAG  "command line edited" (vqboot's tag) before it,
 *                        when the user changed the entry's options
 *   PCR 5  EV_EVENT_TAG  loader.conf (systemd-boot's tag 0xf5bc582a)
 *   PCR 5  EV_EVENT_TAG  the chosen entry file (vqboot's tag)
 *   PCR 9  EV_EVENT_TAG  each initrd (vqboot's tag), only when the kernel's
 *                        EFI stub does not measure its LoadFile2 initrd
 *                        itself (Linux 6.1 and later do, into PCR 9)
 *
 * Tagged events carry EFI_TCG2_TAGGED_EVENT {EventId, EventSize, Event}
 * with a UTF-16 description, NUL included, as Event.
 */
#ifndef VQ_MEASURE_H
#define VQ_MEASURE_H

#include "boot/load.h"

/* TCG PC Client Platform Firmware Profile, event types. */
#define TCG_EV_EVENT_TAG 0x00000006u
#define TCG_EV_IPL 0x0000000du

#define MEASURE_PCR_BOOT_LOADER_CONFIG 5
#define MEASURE_PCR_KERNEL_INITRD 9
#define MEASURE_PCR_KERNEL_CONFIG 12

#define MEASURE_TAG_LOADER_CONF 0xf5bc582au  /* systemd-boot's */
#define MEASURE_TAG_ENTRY 0x76716201u        /* "vqb" 1: an entry file */
#define MEASURE_TAG_CMDLINE_EDITED 0x76716202u
#define MEASURE_TAG_INITRD 0x76716203u
#define MEASURE_EDITED_TEXT "command line edited"

#define MEASURE_MAX (4 + BLS_INITRD_MAX)

struct measure_event {
	uint32_t pcr;
	uint32_t type;           /* TCG_EV_IPL or TCG_EV_EVENT_TAG */
	uint32_t tag;            /* TCG_EV_EVENT_TAG only */
	const void *data;        /* what is hashed */
	size_t size;
	const char *desc;        /* ASCII; logged as UTF-16 with its NUL */
};

struct measure_plan {
	struct measure_event ev[MEASURE_MAX];
	unsigned n;
	uint16_t *cmdline16;     /* owned: the UTF-16 command line */
};

struct measure_input {
	const char *cmdline;     /* as passed; "" or NULL: none is passed */
	bool cmdline_edited;
	const char *conf_path;   /* loader.conf; NULL when none was read */
	const void *conf;
	size_t conf_size;
	const char *entry_path;  /* the entry file; NULL for automatic ones */
	const void *entry;
	size_t entry_size;
	const struct pe_info *pe;
	const uint8_t *initrd;   /* the concatenation handed over, or NULL */
	size_t initrd_size;      /* its length, padding included */
	unsigned initrd_count;
	const uint64_t *initrd_sizes;               /* each one unpadded */
	const char (*initrd_paths)[BLS_PATH_MAX];
};

/** True when the kernel's EFI stub measures a LoadFile2 initrd itself. */
bool measure_stub_measures_initrd(const struct pe_info *pe);

/**
 * Build the events for @in (the order they are to be measured in).
 * Returns 0, or -VQ_ENOMEM; -VQ_ERANGE when the initrd sizes do not fit
 * the concatenation.
 */
int measure_plan_build(const struct measure_input *in, struct measure_plan *ret);

void measure_plan_free(struct measure_plan *p);

/**
 * Read what the plan for @e needs from @s's volumes (loader.conf and the
 * entry file, *ret_bufs to be freed with measure_bufs_free) and build it.
 */
struct measure_bufs {
	void *conf;
	size_t conf_size;
	void *entry;
	size_t entry_size;
	char entry_path[300];
};
int measure_collect(struct boot_scan *s, const struct bls_entry *e,
		    const struct loaded_entry *l, bool edited,
		    struct measure_bufs *bufs, struct measure_plan *ret);
void measure_bufs_free(struct measure_bufs *bufs);

#endif
