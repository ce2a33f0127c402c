/* SPDX-License-Identifier: MIT */
/*
 * Starting a kernel or an EFI application from memory: pages for the image
 * and the initrd, LoadImage from a memory-mapped device path, the command
 * line in LoadOptions, the initrd through a LoadFile2 handle on the Linux
 * initrd media device path, StartImage.
 */
#ifndef VQ_IMAGE_H
#define VQ_IMAGE_H

#include "efi/vqefi.h"
#include "boot/initrd.h"

/** Pages for @size bytes, below 4 GiB when possible, above otherwise. */
EFI_STATUS image_alloc(size_t size, void **ret);
void image_free(void *p, size_t size);

struct image_start {
	const void *image;   /* PE image in memory */
	size_t image_size;
	const char *name;    /* for messages: "/vmlinuz-6.1 on vblk 00:03.0 p2" */
	const char *cmdline; /* ASCII, may be NULL */
	const void *initrd;  /* concatenated initrds, or NULL */
	size_t initrd_size;
	/* Or, with initrd NULL: the initrds read when the kernel asks,
	 * straight into its LoadFile2 buffer. */
	const struct initrd_src *initrd_src;
	/* Called after LoadImage succeeded, just before StartImage: the point
	 * where vqboot gives every device back to the firmware. */
	void (*before_start)(void *ctx);
	void *ctx;
};

/**
 * Load and start the image. Returns only if loading failed or the image
 * returned; the initrd handle is uninstalled and the image unloaded then.
 */
EFI_STATUS image_start(const struct image_start *s);

#endif
