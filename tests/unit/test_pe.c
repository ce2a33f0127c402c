/* SPDX-License-Identifier: MIT */
/*
 * Kernel header checks on synthetic images built here (offsets counted by
 * hand from the PE/COFF spec and boot.rst, as an independent check of the
 * structs in pe.c), and on a real kernel when the host has one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>
#include <cmocka.h>

#include "boot/pe.h"
#include "lib/err.h"
#include "tests/support/host_platform.h"
#include "tests/support/file_bdev.h"
#include "tests/support/pe_image.h"

#define IMG_SIZE PE_IMAGE_SIZE
#define LFANEW 0x80
#define OPT (LFANEW + 24)          /* optional header */
#define SOH (112 + 16 * 8)         /* PE32+ with 16 data directories */
#define SECT (OPT + SOH)           /* section table */
#define SEC(i, off) (SECT + (i) * 40 + (off))
#define VERSION_STR PE_IMAGE_VERSION_STR

static uint8_t img[IMG_SIZE];

static void set16(size_t off, uint16_t v) { put_le16(img + off, v); }
static void set32(size_t off, uint32_t v) { put_le32(img + off, v); }

/* A small image shaped like an x86-64 Linux EFI-stub bzImage. */
static void build_linux_pe(void)
{
	pe_image_linux(img, sizeof(img));
}

static int check(size_t size, struct pe_info *info)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	uint8_t *copy = malloc(size ? size : 1);
	int r;

	memcpy(copy, img, size);
	r = pe_check(copy, size, "vmlinuz", info);
	free(copy);
	return r;
}

static void expect(int want, const char *log_needle)
{
	struct pe_info info;

	host_log_clear();
	assert_int_equal(check(IMG_SIZE, &info), want);
	if (log_needle && !host_log_contains(log_needle))
		fail_msg("log lacks '%s'; last: %s", log_needle, host_log_last());
}

static int setup(void **state)
{
	build_linux_pe();
	return 0;
}

static void test_valid(void **state)
{
	struct pe_info info;

	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_true(info.is_pe);
	assert_int_equal(info.machine, PE_MACHINE_X64);
	assert_int_equal(info.subsystem, 10);
	assert_int_equal(info.section_count, 2);
	assert_int_equal(info.size_of_image, 0x3000);
	assert_int_equal(info.entry_point, 0x1000);
	assert_true(info.is_linux);
	assert_int_equal(info.boot_protocol, 0x020f);
	assert_int_equal(info.cmdline_max, 2047);
	assert_string_equal(info.linux_version, VERSION_STR);
	assert_true(info.supports_initrd_lf2);
	assert_string_equal(pe_machine_name(info.machine), "x86-64");
}

static void test_truncated_everywhere(void **state)
{
	struct pe_info info;

	host_log_echo(0);
	/* The last section's raw data ends at the end of the file, so every
	 * shorter file is damaged somewhere, and each must say so. */
	for (size_t n = 0; n < IMG_SIZE; n += (n < 0x400 ? 1 : 61)) {
		int r = check(n, &info);

		if (r != -VQ_ECORRUPT)
			fail_msg("truncated at %zu: got %d", n, r);
	}
	host_log_clear();
	assert_int_equal(check(0x2400, &info), -VQ_ECORRUPT);
	assert_true(host_log_contains("vmlinuz: section '.data' raw data 0x2000 + 0x800"));
	assert_int_equal(check(0x100, &info), -VQ_ECORRUPT);
	assert_true(host_log_contains("vmlinuz: optional header"));
	assert_int_equal(check(40, &info), -VQ_ECORRUPT);
	assert_true(host_log_contains("too short"));
}

static void test_bad_lfanew(void **state)
{
	set32(0x3c, 0x10);
	expect(-VQ_ECORRUPT, "e_lfanew 0x10");
	set32(0x3c, 0xfffffff0);
	expect(-VQ_ECORRUPT, "e_lfanew 0xfffffff0");
	set32(0x3c, IMG_SIZE - 10);
	expect(-VQ_ECORRUPT, "e_lfanew 0x27f6");
	set32(0x3c, LFANEW + 8);
	expect(-VQ_ECORRUPT, "signature at 0x88");
}

static void test_bad_signature(void **state)
{
	img[LFANEW + 2] = 'X';
	expect(-VQ_ECORRUPT, "50 45 58 00, not PE");
}

static void test_section_outside(void **state)
{
	set32(SEC(1, 20), 0x2400);           /* raw data past the end */
	expect(-VQ_ECORRUPT, "section '.data' raw data 0x2400 + 0x800 beyond the file");
	build_linux_pe();
	set32(SEC(1, 20), 0xfffff000);       /* ptr + size wraps */
	set32(SEC(1, 16), 0x2000);
	expect(-VQ_ECORRUPT, "raw data 0xfffff000 + 0x2000");
	build_linux_pe();
	set32(SEC(1, 8), 0x1001);            /* one byte past SizeOfImage */
	expect(-VQ_ECORRUPT, "section '.data' at RVA 0x2000 + 0x1001 beyond SizeOfImage 0x3000");
	build_linux_pe();
	set32(SEC(1, 12), 0xffffff00);       /* RVA + size wraps */
	expect(-VQ_ECORRUPT, "at RVA 0xffffff00");
	build_linux_pe();
	/* A long optional header pushes the table past the end. */
	set16(LFANEW + 20, 0x27d0 - OPT);
	expect(-VQ_ECORRUPT, "section table (2 entries at 0x27d0)");
	build_linux_pe();
	/* An unprintable section name is shown sanitised. */
	img[SEC(1, 1)] = 0x01;
	set32(SEC(1, 20), 0x2400);
	expect(-VQ_ECORRUPT, "section '.?ata'");
}

static void test_section_count(void **state)
{
	set16(LFANEW + 6, 0);
	expect(-VQ_ECORRUPT, "NumberOfSections 0");
	set16(LFANEW + 6, 97);
	expect(-VQ_ECORRUPT, "NumberOfSections 97");
}

static void test_wrong_machine(void **state)
{
	set16(LFANEW + 4, 0xaa64);
	expect(-VQ_ENOTSUP, "machine 0xaa64 (arm64) cannot run here");
	set16(LFANEW + 4, 0x14c);
	expect(-VQ_ENOTSUP, "(i386)");
	set16(LFANEW + 4, 0x1234);
	expect(-VQ_ENOTSUP, "(unknown)");
}

static void test_subsystem(void **state)
{
	set16(OPT + 68, 3);
	expect(-VQ_ENOTSUP, "subsystem 3 is not an EFI application");
}

static void test_optional_header(void **state)
{
	set16(OPT, 0x10b);
	expect(-VQ_ENOTSUP, "PE32 (32-bit)");
	set16(OPT, 0x1234);
	expect(-VQ_ECORRUPT, "magic 0x1234");
	build_linux_pe();
	set16(LFANEW + 20, 100);
	expect(-VQ_ECORRUPT, "SizeOfOptionalHeader 100");
	build_linux_pe();
	set16(LFANEW + 20, 1);
	expect(-VQ_ECORRUPT, "optional header of 1 bytes");
	build_linux_pe();
	set32(OPT + 108, 17);
	expect(-VQ_ECORRUPT, "NumberOfRvaAndSizes 17");
	build_linux_pe();
	set32(OPT + 56, 0);
	expect(-VQ_ECORRUPT, "SizeOfImage 0x0");
	set32(OPT + 56, 0x40000000);
	expect(-VQ_ECORRUPT, "SizeOfImage 0x40000000");
	build_linux_pe();
	set32(OPT + 16, 0x3000);
	expect(-VQ_ECORRUPT, "AddressOfEntryPoint 0x3000");
	build_linux_pe();
	set32(OPT + 32, 0x1800);
	expect(-VQ_ECORRUPT, "SectionAlignment 0x1800");
	build_linux_pe();
	set32(OPT + 60, 0x4000);
	expect(-VQ_ECORRUPT, "SizeOfHeaders 0x4000");
}

static void test_linux_header(void **state)
{
	struct pe_info info;

	set16(0x206, 0x0205);                /* before cmdline_size existed */
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_int_equal(info.cmdline_max, 255);
	build_linux_pe();
	set32(0x238, 0);
	expect(-VQ_ECORRUPT, "cmdline_size 0");
	build_linux_pe();
	img[0x1f1] = 60;                     /* 61 * 512 bytes of setup */
	expect(-VQ_ECORRUPT, "setup_sects 60");
	build_linux_pe();
	/* A bad version pointer costs only the string. */
	set16(0x20e, 0x300);
	host_log_clear();
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_string_equal(info.linux_version, "");
	assert_true(host_log_contains("kernel_version 0x300"));
	build_linux_pe();
	img[0x305] = 0x07;
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_string_equal(info.linux_version, "");
	build_linux_pe();
	/* No terminating NUL before the end of the setup area. */
	memset(img + 0x300, 'v', 0x100);
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_int_equal(strlen(info.linux_version), PE_VERSION_STR_MAX - 1);
	build_linux_pe();
	set16(OPT + 44, 0);                  /* stub without LoadFile2 initrd */
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_false(info.supports_initrd_lf2);
	assert_true(info.is_linux);
}

static void test_bzimage_without_stub(void **state)
{
	struct pe_info info;

	img[0] = 0xea;                       /* the old boot sector's ljmp */
	img[1] = 0x05;
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_false(info.is_pe);
	assert_true(info.is_linux);
	assert_int_equal(info.machine, 0);
	assert_false(info.supports_initrd_lf2);
	assert_int_equal(info.cmdline_max, 2047);
}

static void test_plain_efi_app(void **state)
{
	struct pe_info info;

	memset(img + 0x1f1, 0, 0x400 - 0x1f1);
	assert_int_equal(check(IMG_SIZE, &info), 0);
	assert_true(info.is_pe);
	assert_false(info.is_linux);
	assert_int_equal(info.cmdline_max, 0);
	assert_false(info.supports_initrd_lf2);
}

static void test_neither(void **state)
{
	struct pe_info info;

	memset(img, 0x5a, sizeof(img));
	expect(-VQ_ECORRUPT, "neither a PE image");
	assert_int_equal(pe_check(NULL, 10, "x", &info), -VQ_EINVAL);
}

static void test_mutations(void **state)
{
	uint8_t *copy = malloc(IMG_SIZE);
	struct pe_info info;
	uint32_t x = 7;

	host_log_echo(0);
	for (int round = 0; round < 3000; round++) {
		memcpy(copy, img, IMG_SIZE);
		for (int k = 0; k < 1 + round % 4; k++) {
			x = x * 1103515245u + 12345u;
			/* Aim at the headers, where the parsing happens. */
			copy[(x >> 8) % 0x400] = (uint8_t)(x >> 20);
		}
		int r = pe_check(copy, IMG_SIZE, "mutant", &info);
		assert_true(r == 0 || r == -VQ_ECORRUPT || r == -VQ_ENOTSUP);
		if (r == 0)
			assert_true(strlen(info.linux_version) < PE_VERSION_STR_MAX);
	}
	free(copy);
}

/* The first match of @pattern, or NULL. */
static const char *first_glob(glob_t *g, const char *pattern)
{
	globfree(g);
	memset(g, 0, sizeof(*g));
	if (glob(pattern, 0, NULL, g) == 0 && g->gl_pathc > 0)
		return g->gl_pathv[0];
	return NULL;
}

/* A real kernel: $VQ_TEST_KERNEL, else the host's /boot/vmlinuz-*, else the
 * one scripts/kernel.sh caches (under $VQ_CACHE, or cache/ at the top of
 * the tree, which run.sh's VQ_TEST_IMAGES=<top>/build/host/images gives). */
static const char *find_kernel(glob_t *g)
{
	const char *path = getenv("VQ_TEST_KERNEL");
	const char *cache = getenv("VQ_CACHE");
	const char *images = getenv("VQ_TEST_IMAGES");
	char pattern[4096];

	if (path && *path)
		return path;
	if ((path = first_glob(g, "/boot/vmlinuz-*")))
		return path;
	if (cache && *cache)
		snprintf(pattern, sizeof(pattern), "%s/kernel/root/boot/vmlinuz-*", cache);
	else if (images && *images)
		snprintf(pattern, sizeof(pattern),
			 "%s/../../../cache/kernel/root/boot/vmlinuz-*", images);
	else
		return NULL;
	return first_glob(g, pattern);
}

static void test_real_kernel(void **state)
{
	glob_t g = { 0 };
	const char *path = find_kernel(&g);
	struct pe_info info;
	uint8_t *buf;
	size_t size;

	if (!path) {
		globfree(&g);
		print_message("no real kernel (set VQ_TEST_KERNEL, or run scripts/kernel.sh): skipped\n");
		skip();
		return;
	}
	buf = test_slurp(path, &size);
	assert_int_equal(pe_check(buf, size, path, &info), 0);
	assert_true(info.is_pe);
	assert_true(info.is_linux);
	assert_int_equal(info.machine, PE_MACHINE_X64);
	assert_true(info.cmdline_max >= 255);
	assert_true(info.linux_version[0] != '\0');
	print_message("%s: protocol %x, cmdline_max %u, lf2 %d, version %s\n", path,
		      info.boot_protocol, info.cmdline_max, info.supports_initrd_lf2,
		      info.linux_version);
	/* The same kernel cut short anywhere in its sections is refused. */
	assert_int_equal(pe_check(buf, size / 2, path, &info), -VQ_ECORRUPT);
	free(buf);
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_valid, setup),
		cmocka_unit_test_setup(test_truncated_everywhere, setup),
		cmocka_unit_test_setup(test_bad_lfanew, setup),
		cmocka_unit_test_setup(test_bad_signature, setup),
		cmocka_unit_test_setup(test_section_outside, setup),
		cmocka_unit_test_setup(test_section_count, setup),
		cmocka_unit_test_setup(test_wrong_machine, setup),
		cmocka_unit_test_setup(test_subsystem, setup),
		cmocka_unit_test_setup(test_optional_header, setup),
		cmocka_unit_test_setup(test_linux_header, setup),
		cmocka_unit_test_setup(test_bzimage_without_stub, setup),
		cmocka_unit_test_setup(test_plain_efi_app, setup),
		cmocka_unit_test_setup(test_neither, setup),
		cmocka_unit_test_setup(test_mutations, setup),
		cmocka_unit_test_setup(test_real_kernel, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
