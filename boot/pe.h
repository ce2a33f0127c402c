/* SPDX-License-Identifier: MIT */
/*
 * Checks of a kernel image in memory before it is handed to LoadImage or
 * booted directly: the PE/COFF headers of an EFI application (PE32+ x86-64,
 * subsystem 10, every section inside the file) and, for Linux, the x86 boot
 * protocol setup header (Documentation/arch/x86/boot.rst) for the command
 * line limit and the version string.
 */
#ifndef VQ_PE_H
#define VQ_PE_H

#include "lib/compat.h"

#define PE_MACHINE_X64 0x8664
#define PE_MACHINE_ARM64 0xAA64
#define PE_MACHINE_NATIVE VQ_ARCH_PE_MACHINE
#define PE_SUBSYSTEM_EFI_APPLICATION 10

/* Our own sanity bounds, not format limits. */
#define PE_IMAGE_MAX (512u << 20)   /* SizeOfImage */
#define PE_SECTIONS_MAX 96          /* the PE format's own limit */
#define PE_VERSION_STR_MAX 192

/* boot.rst: before protocol 2.06 "the maximum command line size is 255". */
#define LINUX_CMDLINE_OLD_MAX 255
/* arm64 booting.rst: an Image's header holds "ARM\x64" at 0x38 and no
 * command line limit. The kernel's COMMAND_LINE_SIZE, which its EFI stub
 * cuts the line to, was 2048 before Linux 5.17 and 4096 since; the image
 * does not say which, so vqboot holds every arm64 kernel to the smaller. */
#define LINUX_ARM64_MAGIC 0x644d5241u
#define LINUX_ARM64_MAGIC_OFF 0x38
#define LINUX_ARM64_CMDLINE_MAX 2047

struct pe_info {
	bool is_pe;              /* false: a bzImage without an EFI stub */
	uint16_t machine;        /* PE_MACHINE_*; 0 when !is_pe */
	uint16_t subsystem;
	uint16_t major_image_version;
	uint16_t section_count;
	uint32_t size_of_image;
	uint32_t entry_point;    /* AddressOfEntryPoint, an RVA */
	bool is_linux;           /* "HdrS" setup header or arm64 Image magic */
	uint16_t boot_protocol;  /* setup header version, 0x020f = 2.15 */
	char linux_version[PE_VERSION_STR_MAX]; /* "" when not given */
	uint32_t cmdline_max;    /* bytes without NUL; 0 = no known limit */
	/* Linux EFI stub: MajorImageVersion >= 1 means it asks for the
	 * initrd through the LoadFile2 device path. */
	bool supports_initrd_lf2;
};

/**
 * Check @size bytes of @image (the whole file, named @name in messages).
 * Returns 0 and fills *ret; -VQ_ECORRUPT for a truncated or malformed image
 * (logged naming the file, the field and its value); -VQ_ENOTSUP for a good
 * image we cannot run (other machine, not an EFI application).
 */
int pe_check(const void *image, size_t size, const char *name,
	     struct pe_info *ret);

/** One section header, as pe_check_headers found it inside the file. */
struct pe_section {
	char name[9];           /* printable ASCII, NUL-terminated */
	uint32_t rva;           /* VirtualAddress */
	uint32_t virtual_size;
	uint32_t file_offset;   /* PointerToRawData */
	uint32_t file_size;     /* SizeOfRawData */
};

/**
 * The PE/COFF checks of pe_check on the first @avail bytes of a file of
 * @file_size bytes (the headers and the section table must lie in those
 * bytes; every section must lie inside the file). Fills the PE fields of
 * *ret and, when @ret_sections is not NULL (room for PE_SECTIONS_MAX), the
 * section headers in table order, *ret's section_count of them. Returns
 * what pe_check does, and -VQ_ENOTSUP when the section table lies past
 * @avail.
 */
int pe_check_headers(const void *hdr, size_t avail, uint64_t file_size,
		     const char *name, struct pe_info *ret,
		     struct pe_section *ret_sections);

/** The bytes a section holds in the file: VirtualSize bounded by its raw size. */
uint32_t pe_section_data_size(const struct pe_section *s);

/** "x86-64", "arm64", "i386", ... or "unknown". */
const char *pe_machine_name(uint16_t machine);

#endif
