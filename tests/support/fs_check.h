/* SPDX-License-Identifier: MIT */
/*
 * What the unit tests of every file system driver do alike: mount an image
 * from build/host/images, read a file whole, compare it, and the bytes of
 * the generated "big" file. Define FS_OPS (the driver's struct fs_ops)
 * before including; FS_IMAGE_BLOCK(name) gives an image's logical block
 * size (512 unless defined). Needs cmocka.h included first.
 */
#ifndef VQ_TESTS_FS_CHECK_H
#define VQ_TESTS_FS_CHECK_H

#include "boot/fs.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"

#ifndef FS_OPS
#error "define FS_OPS before including tests/support/fs_check.h"
#endif
#ifndef FS_IMAGE_BLOCK
#define FS_IMAGE_BLOCK(name) 512u
#endif

struct mounted {
	struct blockdev bd;
	struct fs *fs;
};

static inline struct mounted *mount_image(const char *name)
{
	struct mounted *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	/* A missing image is a failure, not a skip. */
	assert_int_equal(file_bdev_open(test_image(name), FS_IMAGE_BLOCK(name),
					&m->bd), 0);
	assert_int_equal(FS_OPS.mount(&m->bd, &m->fs), 0);
	return m;
}

static inline void unmount_image(struct mounted *m)
{
	FS_OPS.unmount(m->fs);
	file_bdev_close(&m->bd);
	free(m);
}

/* The error mounting @name gives (0 if it mounts), on 512-byte blocks. */
static inline int mount_error(const char *name)
{
	struct blockdev bd;
	struct fs *fs = NULL;
	int r;

	assert_int_equal(file_bdev_open(test_image(name), 512, &bd), 0);
	r = FS_OPS.mount(&bd, &fs);
	if (r == 0)
		FS_OPS.unmount(fs);
	file_bdev_close(&bd);
	return r;
}

/* Open @path and read it whole; returns the error of open or read. */
static inline int slurp(struct fs *fs, const char *path, uint8_t **ret_buf,
			uint64_t *ret_size)
{
	struct fs_file *f;
	uint64_t size;
	uint8_t *buf;
	int r;

	r = FS_OPS.open(fs, path, &f);
	if (r < 0)
		return r;
	size = FS_OPS.size(f);
	buf = malloc(size + 1);
	assert_non_null(buf);
	r = FS_OPS.read(f, 0, buf, size);
	FS_OPS.close(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret_buf = buf;
	*ret_size = size;
	return 0;
}

static inline void assert_file(struct fs *fs, const char *path,
			       const char *want)
{
	uint8_t *buf;
	uint64_t size;

	assert_int_equal(slurp(fs, path, &buf, &size), 0);
	assert_int_equal(size, strlen(want));
	assert_memory_equal(buf, want, size);
	free(buf);
}

static inline int open_error(struct fs *fs, const char *path)
{
	struct fs_file *f;
	int r = FS_OPS.open(fs, path, &f);

	if (r == 0)
		FS_OPS.close(f);
	return r;
}

/* Byte @off of the big file the image scripts write (mk_*.sh). */
static inline uint8_t big_byte(uint64_t off)
{
	uint32_t word = (uint32_t)((off / 4) * 2654435761u + 12345u);

	return (uint8_t)(word >> (8 * (off % 4)));
}

static inline void assert_big(const uint8_t *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != big_byte(off + i))
			fail_msg("big file byte %llu is 0x%02x, want 0x%02x",
				 (unsigned long long)(off + i), buf[i],
				 big_byte(off + i));
}

#endif
