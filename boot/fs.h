/* SPDX-License-Identifier: MIT */
/*
 * Read-only filesystems over a blockdev: FAT12/16/32, ext2/3/4, btrfs and
 * XFS.
 * Paths are '/'-separated and absolute within the filesystem. FAT lookups
 * are case-insensitive; ext and XFS lookups are exact (XFS made with
 * ASCII case-insensitive names excepted).
 */
#ifndef VQ_FS_H
#define VQ_FS_H

#include "lib/blockdev.h"

enum fs_type {
	FS_NONE = 0,
	FS_FAT12,
	FS_FAT16,
	FS_FAT32,
	FS_EXT, /* ext2, ext3 or ext4 */
	FS_BTRFS,
	FS_XFS, /* v4 or v5 */
};

struct fs;
struct fs_file;

struct fs_dirent {
	char name[256];
	bool is_dir;
	uint64_t size;
};

/** Called per directory entry; return non-zero to stop (returned as is). */
typedef int (*fs_dir_fn)(void *ctx, const struct fs_dirent *ent);

struct fs_ops {
	const char *name; /* "fat", "ext4" */
	/** Recognise and mount; -VQ_ENOENT when the magic does not match. */
	int (*mount)(struct blockdev *bd, struct fs **ret);
	void (*unmount)(struct fs *fs);
	/** Open a regular file (following symlinks). */
	int (*open)(struct fs *fs, const char *path, struct fs_file **ret);
	/**
	 * Read @len bytes at @offset of the file; fails with -VQ_ERANGE past
	 * the end. Contiguous runs go to the device in one bdev_read each.
	 */
	int (*read)(struct fs_file *f, uint64_t offset, void *buf, size_t len);
	uint64_t (*size)(const struct fs_file *f);
	void (*close)(struct fs_file *f);
	/** List the directory at @path ("." and ".." skipped). */
	int (*list)(struct fs *fs, const char *path, fs_dir_fn fn, void *ctx);
};

extern const struct fs_ops fat_fs_ops;
extern const struct fs_ops ext4_fs_ops;
extern const struct fs_ops btrfs_fs_ops;
extern const struct fs_ops xfs_fs_ops;

/** Every struct fs starts with this. */
struct fs {
	const struct fs_ops *ops;
	struct blockdev *bd;
	enum fs_type type;
	char label[24];
};

/** Try each filesystem on @bd; -VQ_ENOENT when none matches. */
int fs_mount(struct blockdev *bd, struct fs **ret);
void fs_unmount(struct fs *fs);
const char *fs_type_name(enum fs_type t);

/**
 * Read a whole file into a plat_alloc()ed buffer with a NUL after it.
 * Refuses files over @max bytes with -VQ_E2BIG naming the path and size.
 */
int fs_read_all(struct fs *fs, const char *path, size_t max, void **ret_buf,
		size_t *ret_size);

/* ---- path walking, for the drivers that follow symlinks ---------------- */

/**
 * The next component of *@p: its start and length, with *@p moved past it
 * and the slashes after it. False at the end of the path.
 */
bool fs_next_name(const char **p, const char **ret_name, size_t *ret_len);

/**
 * "<target>/<rest>" into @out, where @rest (@rlen bytes and its NUL) may lie
 * in @out: built in @target first, after its @tlen bytes. The caller has
 * checked that tlen + 1 + rlen + 1 bytes fit in both.
 */
void fs_join_link(char *target, size_t tlen, const char *rest, size_t rlen,
		  char *out);

#endif
