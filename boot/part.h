/* SPDX-License-Identifier: MIT */
/*
 * Partition tables: GPT (primary, then backup when the primary is damaged),
 * MBR (including the protective MBR), or none (a filesystem on the whole
 * disk).
 */
#ifndef VQ_PART_H
#define VQ_PART_H

#include "lib/blockdev.h"
#include "lib/crc32.h" /* crc32_ieee, for GPT's checksums */

#define PART_MAX 32

enum part_scheme {
	PART_SCHEME_NONE = 0, /* whole disk, no table */
	PART_SCHEME_MBR = 1,
	PART_SCHEME_GPT = 2,
};

enum part_kind {
	PART_KIND_OTHER = 0,
	PART_KIND_ESP = 1,      /* GPT C12A7328-..., MBR 0xEF */
	PART_KIND_XBOOTLDR = 2, /* GPT BC13C2FF-..., MBR 0xEA */
	PART_KIND_LINUX = 3,    /* GPT 0FC63DAF-..., MBR 0x83 */
};

struct part_guid {
	uint8_t b[16]; /* on-disk (mixed-endian) byte order */
};

struct partition {
	unsigned number;        /* 1-based, as Linux numbers them */
	uint64_t start_lba;     /* in logical blocks of the disk */
	uint64_t num_lba;
	enum part_kind kind;
	uint8_t mbr_type;       /* MBR only */
	struct part_guid type_guid; /* GPT only */
	struct part_guid part_guid; /* GPT only */
	char name[72];          /* GPT name as UTF-8 (ASCII subset), or "" */
};

struct part_table {
	enum part_scheme scheme;
	bool used_backup;       /* GPT: the primary was damaged */
	struct part_guid disk_guid;
	unsigned count;
	struct partition parts[PART_MAX];
};

/**
 * Read the partition table of @bd. A disk with no recognisable table gives
 * PART_SCHEME_NONE and count 0 (not an error). Damaged GPT headers/arrays are
 * logged naming the LBA and the CRC values; the backup is used if it is good.
 * Returns 0, or -VQ_ECORRUPT when every copy is damaged, or an I/O error.
 */
int part_read_table(struct blockdev *bd, struct part_table *ret);

/** A blockdev view of partition @p of @disk. */
int part_open(struct blockdev *disk, const struct partition *p,
	      struct blockdev *ret);

/** "esp", "xbootldr", "linux", "other". */
const char *part_kind_name(enum part_kind kind);

/** Format a GUID as 36 lower-case characters plus NUL. */
void part_guid_str(const struct part_guid *g, char out[37]);

#endif
