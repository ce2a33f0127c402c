/* SPDX-License-Identifier: MIT */
/*
 * A disk described by records, for fuzz inputs that must reach far into a
 * large device (btrfs puts its chunks beyond 1 MiB): each record is a le32
 * page number (modulo the disk's pages), a le16 length (at most a page) and
 * that many bytes of the page, whose rest reads as zeros; pages no record
 * names read as zeros; the last record for a page wins. The input is
 * indexed once (sparse_disk_index), so each read costs a binary search.
 * Compiled without coverage tracing like the rest of tests/support.
 */
#ifndef VQ_SPARSE_DISK_H
#define VQ_SPARSE_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "lib/blockdev.h"

#define SPARSE_PAGE 4096u
#define SPARSE_RECORD_HEAD 6u

struct sparse_page {
	uint32_t page;
	uint32_t len;
	const uint8_t *data;
};

struct sparse_disk {
	struct sparse_page *pages;
	size_t count;
};

/**
 * Index @size bytes of records at @data into @pages (room for
 * @size / SPARSE_RECORD_HEAD + 1 entries) for a disk of @disk_pages pages.
 * The blockdev's ctx is then @d; its reads abort() outside the device.
 */
void sparse_disk_index(struct sparse_disk *d, const uint8_t *data, size_t size,
		       uint32_t disk_pages, struct sparse_page *pages);

extern const struct blockdev_ops sparse_disk_ops;

#endif
