/* SPDX-License-Identifier: MIT */
/*
 * The generic filesystem layer: try each driver in turn, and helpers built
 * only on struct fs_ops.
 */
#include "boot/fs.h"
#include "lib/log.h"
#include "lib/plat.h"

static const struct fs_ops *const fs_drivers[] = {
	&fat_fs_ops,
	&ext4_fs_ops,
	&btrfs_fs_ops,
	&xfs_fs_ops,
};

int fs_mount(struct blockdev *bd, struct fs **ret)
{
	int first_err = 0;

	/* A driver that does not recognise its magic says -VQ_ENOENT quietly;
	 * one that recognises it but finds damage logs and fails, and we still
	 * let the others look before reporting that first damage. */
	for (size_t i = 0; i < ARRAY_SIZE(fs_drivers); i++) {
		struct fs *fs;
		int r = fs_drivers[i]->mount(bd, &fs);

		if (r == 0) {
			log_debug("fs: %s: mounted as %s", bd->name,
				  fs_type_name(fs->type));
			*ret = fs;
			return 0;
		}
		if (r != -VQ_ENOENT && !first_err)
			first_err = r;
	}
	if (first_err)
		return first_err;
	log_debug("fs: %s: no known filesystem", bd->name);
	return -VQ_ENOENT;
}

void fs_unmount(struct fs *fs)
{
	if (fs)
		fs->ops->unmount(fs);
}

const char *fs_type_name(enum fs_type t)
{
	switch (t) {
	case FS_FAT12:
		return "FAT12";
	case FS_FAT16:
		return "FAT16";
	case FS_FAT32:
		return "FAT32";
	case FS_EXT:
		return "ext";
	case FS_BTRFS:
		return "btrfs";
	case FS_XFS:
		return "xfs";
	default:
		return "none";
	}
}

int fs_read_all(struct fs *fs, const char *path, size_t max, void **ret_buf,
		size_t *ret_size)
{
	struct fs_file *f;
	uint64_t size;
	uint8_t *buf;
	int r;

	r = fs->ops->open(fs, path, &f);
	if (r < 0)
		return r;
	size = fs->ops->size(f);
	if (size > max) {
		r = log_err(-VQ_E2BIG, "fs: %s: %llu bytes, more than %zu",
			    path, (unsigned long long)size, max);
		goto out;
	}
	buf = plat_alloc((size_t)size + 1);
	if (!buf) {
		r = log_err(-VQ_ENOMEM, "fs: %s: no memory for %llu bytes", path,
			    (unsigned long long)size);
		goto out;
	}
	r = fs->ops->read(f, 0, buf, (size_t)size);
	if (r < 0) {
		bdev_free(fs->bd, buf); /* kept if the disk would not stop */
		goto out;
	}
	buf[size] = '\0';
	*ret_buf = buf;
	*ret_size = (size_t)size;
out:
	fs->ops->close(f);
	return r;
}

bool fs_next_name(const char **p, const char **ret_name, size_t *ret_len)
{
	const char *s = *p, *name;

	while (*s == '/')
		s++;
	if (*s == '\0')
		return false;
	name = s;
	while (*s && *s != '/')
		s++;
	*ret_name = name;
	*ret_len = (size_t)(s - name);
	while (*s == '/')
		s++;
	*p = s;
	return true;
}

void fs_join_link(char *target, size_t tlen, const char *rest, size_t rlen,
		  char *out)
{
	target[tlen] = '/';
	memmove(target + tlen + 1, rest, rlen + 1);
	memcpy(out, target, tlen + 1 + rlen + 1);
}
