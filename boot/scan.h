/* SPDX-License-Identifier: MIT */
/*
 * Finding boot entries on every partition of every disk (a file system on
 * the whole disk too), ESP and XBOOTLDR first, then Linux partitions (GPT
 * 0FC63DAF-8483-4772-8E79-3D69D8477DE4, MBR 0x83), then the rest:
 *   - /loader/entries/ *.conf everywhere (type #1; a RHEL /boot partition
 *     is a plain Linux partition);
 *   - /EFI/Linux/ *.efi on ESP and XBOOTLDR (type #2, boot/uki.h);
 *   - /boot/loader/entries/ *.conf on the others (a root file system
 *     without a separate /boot; the paths in those entries are relative to
 *     /boot);
 *   - /loader/loader.conf (the ESP's wins).
 * `$variables` in entries are expanded from GRUB's environment block: the
 * entry's own file system's /grub2/grubenv (/boot/grub2/grubenv for an
 * entry under /boot), else an ESP's /EFI/VENDOR/grubenv. With no entries
 * anywhere, ext volumes offer automatic entries for /vmlinuz and
 * /boot/vmlinuz-*. In verbose mode every volume says what was found on it
 * or why it was skipped. EFI-free: disks are struct blockdev.
 */
#ifndef VQ_SCAN_H
#define VQ_SCAN_H

#include "boot/bls.h"
#include "boot/fs.h"
#include "boot/grubenv.h"
#include "boot/part.h"

#define SCAN_MAX_VOLUMES 32
#define SCAN_ENTRY_MAX_BYTES (64 * 1024)   /* a .conf larger is refused */

struct scan_volume {
	struct blockdev bd;       /* the partition view */
	struct fs *fs;
	unsigned disk_index;
	unsigned part_number;     /* 0: the whole disk */
	enum part_kind kind;
	char guid[37];            /* GPT partition GUID, "" otherwise */
	char name[48];            /* "vblk 00:03.0 p2" */
	/* GRUB environment blocks, read when an entry first needs one:
	 * [0] for /loader/entries, [1] for /boot/loader/entries, [2] an ESP's
	 * /EFI/VENDOR/grubenv. */
	struct grubenv *env[3];
	bool env_tried[3];
};

struct boot_scan {
	struct scan_volume vols[SCAN_MAX_VOLUMES];
	unsigned nvols;
	struct bls_list entries;
	struct bls_config conf;
	bool conf_found;
	bool conf_from_esp;
	unsigned conf_vol;        /* the volume loader.conf came from */
	unsigned disks;
};

void scan_init(struct boot_scan *s);

/**
 * Read @disk's partition table and search each partition. Problems with one
 * partition or one entry are logged and skipped; only I/O errors on the
 * table itself are returned. @disk must outlive @s.
 */
int scan_disk(struct boot_scan *s, struct blockdev *disk, unsigned disk_index);

/** Automatic entries when none were found, then sort. */
void scan_finish(struct boot_scan *s);

/** The volume an entry came from, or NULL. */
struct scan_volume *scan_entry_volume(struct boot_scan *s,
				      const struct bls_entry *e);

void scan_free(struct boot_scan *s);

#endif
