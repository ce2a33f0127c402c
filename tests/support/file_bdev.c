/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "tests/support/file_bdev.h"

struct img {
	FILE *f;
	const uint8_t *mem;
	size_t mem_len;      /* bytes of mem; the disk reads zeros after them */
	struct bdev_counts counts;
};

static int img_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count,
			   void *buf)
{
	struct img *im = bd->ctx;
	uint64_t off = lba * bd->block_size, len = count * bd->block_size;

	im->counts.calls++;
	im->counts.blocks += count;
	if (lba > bd->size / bd->block_size ||
	    count > bd->size / bd->block_size - lba) {
		fprintf(stderr, "file_bdev: read past the end: lba %llu count %llu\n",
			(unsigned long long)lba, (unsigned long long)count);
		abort(); /* the caller broke the read_blocks contract */
	}
	if (im->mem) {
		uint64_t have = off < im->mem_len ? im->mem_len - off : 0;

		if (have > len)
			have = len;
		memcpy(buf, im->mem + off, (size_t)have);
		memset((uint8_t *)buf + have, 0, (size_t)(len - have));
		return 0;
	}
	if (fseeko(im->f, (off_t)off, SEEK_SET) || fread(buf, 1, len, im->f) != len)
		return -VQ_EIO;
	return 0;
}

static const struct blockdev_ops img_ops = { .read_blocks = img_read_blocks };

int file_bdev_open(const char *path, uint32_t block_size, struct blockdev *ret)
{
	struct img *im = calloc(1, sizeof(*im));
	long long size;

	if (!im)
		return -VQ_ENOMEM;
	im->f = fopen(path, "rb");
	if (!im->f) {
		fprintf(stderr, "file_bdev: cannot open %s\n", path);
		free(im);
		return -VQ_ENOENT;
	}
	fseeko(im->f, 0, SEEK_END);
	size = ftello(im->f);
	*ret = (struct blockdev){
		.ops = &img_ops,
		.ctx = im,
		.block_size = block_size,
		.size = (uint64_t)size / block_size * block_size,
	};
	snprintf(ret->name, sizeof(ret->name), "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	return 0;
}

void mem_bdev_init(const void *data, size_t len, uint32_t block_size,
		   struct blockdev *ret)
{
	mem_bdev_init_sized(data, len, len, block_size, ret);
}

void mem_bdev_init_sized(const void *data, size_t len, uint64_t size,
			 uint32_t block_size, struct blockdev *ret)
{
	struct img *im = calloc(1, sizeof(*im));

	im->mem = data;
	im->mem_len = len;
	*ret = (struct blockdev){
		.ops = &img_ops,
		.ctx = im,
		.block_size = block_size,
		.size = size / block_size * block_size,
	};
	snprintf(ret->name, sizeof(ret->name), "mem");
}

void file_bdev_close(struct blockdev *bd)
{
	struct img *im = bd->ctx;

	if (!im)
		return;
	if (im->f)
		fclose(im->f);
	free(im);
	bd->ctx = NULL;
}

void bdev_counts_get(const struct blockdev *bd, struct bdev_counts *ret)
{
	const struct blockdev *b = bd;

	while (b->parent)
		b = b->parent;
	*ret = ((struct img *)b->ctx)->counts;
}

void *test_slurp(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	long size = -1;
	uint8_t *buf = NULL;

	if (f && !fseek(f, 0, SEEK_END))
		size = ftell(f);
	if (size >= 0 && !fseek(f, 0, SEEK_SET))
		buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "test_slurp: cannot read %s\n", path);
		abort();
	}
	fclose(f);
	buf[size] = 0;
	*ret_size = (size_t)size;
	return buf;
}

const char *test_image(const char *name)
{
	static char path[4096];
	const char *dir = getenv("VQ_TEST_IMAGES");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/host/images", name);
	return path;
}
