/* SPDX-License-Identifier: MIT */
/*
 * A synthetic x86-64 Linux EFI-stub image for host tests (test_pe checks
 * pe.c against it; test_scan loads it as a kernel). Offsets are counted by
 * hand from the PE/COFF spec and boot.rst, independently of pe.c.
 */
#ifndef VQ_PE_IMAGE_H
#define VQ_PE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define PE_IMAGE_SIZE 0x2800  /* the last section's raw data ends here */
#define PE_IMAGE_VERSION_STR "6.1.0-test (builder@host) #1 SMP"
#define PE_IMAGE_CMDLINE_MAX 2047

/* Zero @img (@size >= PE_IMAGE_SIZE bytes) and write the image into it. */
void pe_image_linux(uint8_t *img, size_t size);

#endif
