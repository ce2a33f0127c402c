/* SPDX-License-Identifier: MIT */
#include "lib/blockdev.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

bool bdev_stuck(const struct blockdev *bd)
{
	for (; bd; bd = bd->parent)
		if (bd->stuck)
			return true;
	return false;
}

void bdev_free(const struct blockdev *bd, void *p)
{
	if (!bdev_stuck(bd))
		plat_free(p);
}

/* Passes @r on; a -VQ_ESTUCK marks @bd and everything under it. */
static int bdev_note(struct blockdev *bd, int r)
{
	if (r == -VQ_ESTUCK) {
		if (!bdev_stuck(bd))
			log_error("%s: the device would not stop: no more reads, "
				  "and what was read through it is kept", bd->name);
		for (; bd; bd = bd->parent)
			bd->stuck = true;
	}
	return r;
}

/* No buffer goes to a device that would not stop. */
static int bdev_refuse(const struct blockdev *bd)
{
	return bdev_stuck(bd) ? -VQ_ESTUCK : 0;
}

/* Partition views add their base and hand the read to the parent; both
 * have the same block size (bdev_sub copies it). */
static int sub_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count,
			   void *buf)
{
	struct blockdev *p = bd->parent;

	return p->ops->read_blocks(p, bd->base / p->block_size + lba, count, buf);
}

static const struct blockdev_ops sub_ops = {
	.read_blocks = sub_read_blocks,
};

int bdev_sub(struct blockdev *parent, uint64_t offset, uint64_t size,
	     const char *name, struct blockdev *ret)
{
	if (offset > parent->size || size > parent->size - offset ||
	    offset % parent->block_size || size % parent->block_size)
		return log_err(-VQ_ERANGE,
			       "%s: partition %s at byte %llu size %llu does not fit in %llu bytes",
			       parent->name, name, (unsigned long long)offset,
			       (unsigned long long)size,
			       (unsigned long long)parent->size);
	*ret = (struct blockdev){
		.ops = &sub_ops,
		.block_size = parent->block_size,
		.size = size,
		.parent = parent,
		.base = offset,
	};
	vq_snprintf(ret->name, sizeof(ret->name), "%s", name);
	return 0;
}

/* Reads a partial block through a small heap bounce. */
static int read_partial(struct blockdev *bd, uint64_t lba, uint32_t skip,
			void *buf, size_t len)
{
	uint8_t *tmp = plat_alloc(bd->block_size);
	int r;

	if (!tmp)
		return -VQ_ENOMEM;
	r = bdev_note(bd, bd->ops->read_blocks(bd, lba, 1, tmp));
	if (!r)
		memcpy(buf, tmp + skip, len);
	bdev_free(bd, tmp); /* a device that would not stop may still write it */
	return r;
}

int bdev_read(struct blockdev *bd, uint64_t offset, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint32_t bs = bd->block_size;
	int r;

	if (offset > bd->size || len > bd->size - offset)
		return log_err(-VQ_ERANGE,
			       "%s: read of %zu bytes at %llu beyond the end (%llu bytes)",
			       bd->name, len, (unsigned long long)offset,
			       (unsigned long long)bd->size);
	if ((r = bdev_refuse(bd)))
		return r;
	if (offset % bs) {
		uint32_t skip = offset % bs;
		size_t n = VQ_MIN(len, (size_t)(bs - skip));

		r = read_partial(bd, offset / bs, skip, p, n);
		if (r)
			return r;
		p += n, offset += n, len -= n;
	}
	if (len >= bs) {
		uint64_t count = len / bs;

		r = bdev_note(bd, bd->ops->read_blocks(bd, offset / bs, count, p));
		if (r)
			return r;
		p += count * bs, offset += count * bs, len -= count * bs;
	}
	if (len)
		return read_partial(bd, offset / bs, 0, p, len);
	return 0;
}

static int check_iov(const struct blockdev *bd, const struct bdev_iov *iov,
		     unsigned n)
{
	uint64_t blocks = bd->size / bd->block_size;

	for (unsigned i = 0; i < n; i++)
		if (iov[i].lba > blocks || iov[i].count > blocks - iov[i].lba)
			return log_err(-VQ_ERANGE,
				       "%s: piece %u: block %llu + %llu beyond %llu blocks",
				       bd->name, i, (unsigned long long)iov[i].lba,
				       (unsigned long long)iov[i].count,
				       (unsigned long long)blocks);
	return 0;
}

int bdev_read_vec(struct blockdev *bd, struct bdev_iov *iov, unsigned n)
{
	struct blockdev *top = bd;
	int r = check_iov(bd, iov, n);

	if (!r)
		r = bdev_refuse(bd);
	if (r)
		return r;
	/* A view fits inside its parent (bdev_sub checked): no overflow. */
	while (bd->parent && bd->ops == &sub_ops) {
		struct blockdev *p = bd->parent;
		uint64_t per = bd->block_size / p->block_size;
		uint64_t base = bd->base / p->block_size;

		for (unsigned i = 0; i < n; i++) {
			iov[i].lba = base + iov[i].lba * per;
			iov[i].count *= per;
		}
		bd = p;
	}
	if (bd->ops->read_blocks_vec)
		return bdev_note(top, bd->ops->read_blocks_vec(bd, iov, n));
	for (unsigned i = 0; i < n && !r; i++)
		r = bd->ops->read_blocks(bd, iov[i].lba, iov[i].count, iov[i].buf);
	return bdev_note(top, r);
}

void bdev_batch_init(struct bdev_batch *b, struct blockdev *bd)
{
	b->bd = bd;
	b->n = 0;
}

int bdev_batch_flush(struct bdev_batch *b)
{
	int r = b->n ? bdev_read_vec(b->bd, b->iov, b->n) : 0;

	b->n = 0;
	return r;
}

int bdev_batch_add(struct bdev_batch *b, uint64_t offset, void *buf, size_t len)
{
	uint32_t bs = b->bd->block_size;
	uint32_t head = offset % bs ? (uint32_t)VQ_MIN((uint64_t)len, bs - offset % bs) : 0;
	uint8_t *p = buf;
	size_t whole;
	int r;

	if (offset > b->bd->size || len > b->bd->size - offset)
		return bdev_read(b->bd, offset, buf, len); /* logs the range */
	if (head && (r = bdev_read(b->bd, offset, p, head)))
		return r;
	offset += head, p += head, len -= head;
	whole = len - len % bs;
	if (whole) {
		if (b->n == BDEV_BATCH_MAX && (r = bdev_batch_flush(b)))
			return r;
		b->iov[b->n++] = (struct bdev_iov){ .lba = offset / bs,
						    .count = whole / bs, .buf = p };
	}
	if (len > whole)
		return bdev_read(b->bd, offset + whole, p + whole, len - whole);
	return 0;
}
