/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "tests/support/sparse_disk.h"

/* By page, then by place in the input, so the last record of a page is
 * the last of its run. */
static int page_cmp(const void *a, const void *b)
{
	const struct sparse_page *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->data < y->data ? -1 : x->data > y->data;
}

void sparse_disk_index(struct sparse_disk *d, const uint8_t *data, size_t size,
		       uint32_t disk_pages, struct sparse_page *pages)
{
	size_t off = 0, n = 0, k = 0;

	while (size - off > SPARSE_RECORD_HEAD) {
		size_t len = (size_t)(data[off + 4] | data[off + 5] << 8);
		uint32_t p;

		memcpy(&p, data + off, 4);
		off += SPARSE_RECORD_HEAD;
		if (len > SPARSE_PAGE)
			len = SPARSE_PAGE;
		if (len > size - off)
			len = size - off;
		pages[n++] = (struct sparse_page){ p % disk_pages, (uint32_t)len,
						   data + off };
		off += len;
	}
	qsort(pages, n, sizeof(*pages), page_cmp);
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || pages[i + 1].page != pages[i].page)
			pages[k++] = pages[i];
	d->pages = pages;
	d->count = k;
}

static const struct sparse_page *find_page(const struct sparse_disk *d,
					   uint32_t page)
{
	size_t lo = 0, hi = d->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->pages[mid].page == page)
			return &d->pages[mid];
		if (d->pages[mid].page < page)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int sparse_read(struct blockdev *bd, uint64_t lba, uint64_t count,
		       void *buf)
{
	const struct sparse_disk *d = bd->ctx;
	uint64_t off = lba * bd->block_size, end = off + count * bd->block_size;
	uint8_t *out = buf;

	if (end > bd->size || end < off)
		abort(); /* the caller broke the read_blocks contract */
	while (off < end) {
		const struct sparse_page *p = find_page(d, (uint32_t)(off / SPARSE_PAGE));
		size_t in = off % SPARSE_PAGE, n = SPARSE_PAGE - in;

		if (n > end - off)
			n = (size_t)(end - off);
		if (p && p->len > in) {
			size_t have = p->len - in < n ? p->len - in : n;

			memcpy(out, p->data + in, have);
			memset(out + have, 0, n - have);
		} else {
			memset(out, 0, n);
		}
		out += n;
		off += n;
	}
	return 0;
}

const struct blockdev_ops sparse_disk_ops = { .read_blocks = sparse_read };
