/* SPDX-License-Identifier: MIT */
/*
 * Loading a boot entry into memory: the kernel (or EFI application) checked
 * as a PE image, the initrds concatenated (each padded to 4 bytes, as the
 * Linux initrd handoff expects), and the command line checked against the
 * kernel's limit. EFI-free: memory comes from the caller's allocator.
 */
#ifndef VQ_LOAD_H
#define VQ_LOAD_H

#include "boot/scan.h"
#include "boot/pe.h"

#define LOAD_CMDLINE_MAX 4096
#define LOAD_FILE_MAX (1024ULL << 20) /* refuse single files over 1 GiB */
/* Bytes per read between progress calls: starts at LOAD_CHUNK and adapts so
 * that a slow disk still moves the progress bar about every LOAD_STEP_US,
 * and a fast one gets few, large reads. */
#define LOAD_CHUNK (4u << 20)
#define LOAD_CHUNK_MIN (256u << 10)
#define LOAD_CHUNK_MAX (16u << 20)
#define LOAD_STEP_US 100000

struct load_ops {
	/** Memory for an image or the initrds (page-aligned). */
	int (*alloc)(void *ctx, size_t size, void **ret);
	void (*free)(void *ctx, void *p, size_t size);
	/** Called after each chunk; @done of @total bytes of the entry. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/*
 * load_entry_flags(): leave a Linux kernel's initrds on the disk, opened
 * and sized, for load_initrds_into() to read straight into the buffer the
 * kernel's EFI stub passes to LoadFile2 (one copy through guest memory
 * instead of two). Only for a kernel that asks through LoadFile2; other
 * images get their initrds read at once.
 */
#define LOAD_DEFER_INITRDS 1u

struct loaded_entry {
	void *image;
	size_t image_size;
	char image_name[300];   /* "/vmlinuz-6.1 on vblk 00:03.0 p2" */
	struct pe_info pe;
	void *initrd;           /* NULL when the entry has none */
	size_t initrd_size;
	uint64_t initrd_sizes[BLS_INITRD_MAX]; /* each one, unpadded */
	char cmdline[LOAD_CMDLINE_MAX];
	uint64_t bytes;         /* read from disk */
	uint64_t read_us;       /* spent reading */
	/* Deferred initrds (initrd NULL, initrd_size their padded total):
	 * the open files, the volume's file system and name, their paths. */
	bool initrd_deferred;
	unsigned initrd_count;
	struct fs_file *initrd_files[BLS_INITRD_MAX];
	const struct fs_ops *initrd_fs;
	char initrd_vol[48];
	char initrd_paths[BLS_INITRD_MAX][BLS_PATH_MAX];
};

/**
 * Load entry @e found by @s, appending @append (may be NULL) to its
 * options. Every failure is logged naming the entry and the file.
 */
int load_entry(struct boot_scan *s, const struct bls_entry *e,
	       const char *append, const struct load_ops *ops,
	       struct loaded_entry *ret);

/** load_entry() with LOAD_* @flags. */
int load_entry_flags(struct boot_scan *s, const struct bls_entry *e,
		     const char *append, const struct load_ops *ops,
		     unsigned flags, struct loaded_entry *ret);

/**
 * Read a deferred entry's initrds into @dst, which has room for @size
 * bytes: each in turn, zeros padding each to 4 bytes, nothing written past
 * l->initrd_size. May be called again (it reads again). Returns 0,
 * -VQ_ENOSPC when @size is below l->initrd_size, -VQ_EINVAL when nothing
 * was deferred, or the read's error, logged naming the file, its volume
 * and the byte (the disk's driver names the sector).
 */
int load_initrds_into(const struct loaded_entry *l, void *dst, size_t size);

/** Free the image and initrds and close deferred initrd files. Idempotent. */
void load_free(struct loaded_entry *l, const struct load_ops *ops);

#endif
