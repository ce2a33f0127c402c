/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "lib/compat.h"
#include "tests/support/pe_image.h"

#define LFANEW 0x80
#define OPT (LFANEW + 24)          /* optional header */
#define SOH (112 + 16 * 8)         /* PE32+ with 16 data directories */
#define SECT (OPT + SOH)           /* section table */
#define SEC(i, off) (SECT + (i) * 40 + (off))

static void add_section(uint8_t *img, int i, const char *name, uint32_t va,
			uint32_t vsize, uint32_t raw, uint32_t raw_size)
{
	memcpy(img + SEC(i, 0), name, strlen(name));
	put_le32(img + SEC(i, 8), vsize);
	put_le32(img + SEC(i, 12), va);
	put_le32(img + SEC(i, 16), raw_size);
	put_le32(img + SEC(i, 20), raw);
}

/* Shaped like an x86-64 Linux EFI-stub bzImage. */
void pe_image_linux(uint8_t *img, size_t size)
{
	memset(img, 0, size);
	img[0] = 'M';
	img[1] = 'Z';
	put_le32(img + 0x3c, LFANEW);
	memcpy(img + LFANEW, "PE\0\0", 4);
	put_le16(img + LFANEW + 4, 0x8664);   /* Machine */
	put_le16(img + LFANEW + 6, 2);        /* NumberOfSections */
	put_le16(img + LFANEW + 20, SOH);     /* SizeOfOptionalHeader */
	put_le16(img + OPT + 0, 0x20b);       /* Magic */
	put_le32(img + OPT + 16, 0x1000);     /* AddressOfEntryPoint */
	put_le32(img + OPT + 32, 0x1000);     /* SectionAlignment */
	put_le32(img + OPT + 36, 0x200);      /* FileAlignment */
	put_le16(img + OPT + 44, 1);          /* MajorImageVersion */
	put_le32(img + OPT + 56, 0x3000);     /* SizeOfImage */
	put_le32(img + OPT + 60, 0x400);      /* SizeOfHeaders */
	put_le16(img + OPT + 68, 10);         /* Subsystem */
	put_le32(img + OPT + 108, 16);        /* NumberOfRvaAndSizes */
	add_section(img, 0, ".text", 0x1000, 0x1000, 0x1000, 0x1000);
	add_section(img, 1, ".data", 0x2000, 0x1000, 0x2000, 0x800);
	/* boot.rst real-mode header */
	img[0x1f1] = 1;                       /* setup_sects: setup is 0x400 */
	put_le16(img + 0x1fe, 0xaa55);
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, 0x020f);
	put_le16(img + 0x20e, 0x100);         /* kernel_version, less 0x200 */
	memcpy(img + 0x300, PE_IMAGE_VERSION_STR, sizeof(PE_IMAGE_VERSION_STR));
	put_le32(img + 0x238, PE_IMAGE_CMDLINE_MAX);
}
