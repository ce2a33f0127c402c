/* SPDX-License-Identifier: MIT */
/*
 * Unified kernel images: uki_layout on a real image made here with objcopy
 * from systemd's stub (the synthetic kernel of support/pe_image as .linux),
 * read whole and through its first 64 KiB, then damaged in each way the
 * checks name; os-release parsing and systemd-boot's pick of title, version
 * and sort key; the command line rule of systemd-stub(7).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "boot/uki.h"
#include "lib/err.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "tests/support/pe_image.h"

#define STUB "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

static const char osrel[] =
	"# comment\n"
	"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
	"NAME=\"Debian GNU/Linux\"\n"
	"VERSION_ID=\"12\"\n"
	"ID=debian\n";
static const char cmdline[] = "console=ttyS0 vq.uki=1\n";

static uint8_t *uki;     /* the image, read back */
static size_t uki_size;

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* systemd-stub(7)'s objcopy recipe, with .uname after .cmdline. */
static int build_uki(void **state)
{
	char dir[] = "/tmp/vq_uki_XXXXXX", cmd[2048], path[64];
	static uint8_t kernel[PE_IMAGE_SIZE];

	if (access(STUB, R_OK))
		fail_msg("%s missing: install systemd-boot-efi (scripts/deps.sh)", STUB);
	assert_non_null(mkdtemp(dir));
	pe_image_linux(kernel, sizeof(kernel));
	snprintf(path, sizeof(path), "%s/linux", dir);
	write_file(path, kernel, sizeof(kernel));
	snprintf(path, sizeof(path), "%s/osrel", dir);
	write_file(path, osrel, strlen(osrel));
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	write_file(path, cmdline, strlen(cmdline));
	snprintf(path, sizeof(path), "%s/uname", dir);
	write_file(path, "6.1.0-test\n", 11);
	snprintf(path, sizeof(path), "%s/initrd", dir);
	write_file(path, "INITRD", 6);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && objcopy --add-section .osrel=osrel --change-section-vma .osrel=0x20000"
		 " --add-section .cmdline=cmdline --change-section-vma .cmdline=0x30000"
		 " --add-section .uname=uname --change-section-vma .uname=0x50000"
		 " --add-section .linux=linux --change-section-vma .linux=0x2000000"
		 " --add-section .initrd=initrd --change-section-vma .initrd=0x3000000"
		 " %s uki.efi", dir, STUB);
	if (system(cmd) != 0)
		fail_msg("objcopy failed: %s", cmd);
	snprintf(path, sizeof(path), "%s/uki.efi", dir);
	uki = test_slurp(path, &uki_size);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int free_uki(void **state)
{
	free(uki);
	return 0;
}

/* Section header @name in @img, found by hand (PE/COFF "Section Table"),
 * independently of pe.c. */
static uint8_t *section(uint8_t *img, const char *name)
{
	uint32_t lfanew = get_le32(img + 0x3c);
	uint16_t n = get_le16(img + lfanew + 6);
	uint16_t soh = get_le16(img + lfanew + 20);
	uint8_t *t = img + lfanew + 24 + soh;

	for (uint16_t i = 0; i < n; i++)
		if (strncmp((char *)t + 40 * i, name, 8) == 0)
			return t + 40 * i;
	fail_msg("no section %s", name);
	return NULL;
}

/* uki_layout of a damaged copy (exact size, so ASan sees overreads). */
static int layout_of(const uint8_t *img, size_t size, uint64_t file_size,
		     struct uki_layout *l)
{
	uint8_t *copy = malloc(size ? size : 1);
	int r;

	memcpy(copy, img, size);
	host_log_clear();
	r = uki_layout(copy, size, file_size, "uki.efi", l);
	free(copy);
	return r;
}

static void expect_damage(uint8_t *img, int want, const char *needle)
{
	struct uki_layout l;

	assert_int_equal(layout_of(img, uki_size, uki_size, &l), want);
	if (!host_log_contains(needle))
		fail_msg("log lacks '%s'; last: %s", needle, host_log_last());
}

/* ---- layout ------------------------------------------------------------------ */

static void test_real_layout(void **state)
{
	struct uki_layout l;
	const struct uki_span *s;

	assert_int_equal(layout_of(uki, uki_size, uki_size, &l), 0);
	assert_true(l.pe.is_pe);
	assert_int_equal(l.pe.machine, PE_MACHINE_X64);
	for (int k = 0; k < UKI_SEC_COUNT; k++) {
		bool want = k != UKI_SEC_SPLASH && k != UKI_SEC_DTB;
		assert_int_equal(l.sec[k].present, want);
	}
	s = &l.sec[UKI_SEC_OSREL];
	assert_int_equal(s->size, strlen(osrel));
	assert_memory_equal(uki + s->offset, osrel, strlen(osrel));
	s = &l.sec[UKI_SEC_CMDLINE];
	assert_memory_equal(uki + s->offset, cmdline, strlen(cmdline));
	assert_int_equal(l.sec[UKI_SEC_LINUX].size, PE_IMAGE_SIZE);
	assert_int_equal(l.sec[UKI_SEC_INITRD].size, 6);
	assert_int_equal(l.profiles, 0);
	assert_string_equal(uki_section_name(UKI_SEC_CMDLINE), "cmdline");
}

/* The scan reads only the first UKI_HEADER_READ bytes: same answer. */
static void test_headers_only(void **state)
{
	struct uki_layout whole, part;

	assert_true(uki_size > UKI_HEADER_READ);
	assert_int_equal(layout_of(uki, uki_size, uki_size, &whole), 0);
	assert_int_equal(layout_of(uki, UKI_HEADER_READ, uki_size, &part), 0);
	assert_memory_equal(whole.sec, part.sec, sizeof(whole.sec));
	/* Fewer bytes than the section table needs: said as such. */
	assert_int_equal(layout_of(uki, 0x200, uki_size, &part), -VQ_ENOTSUP);
	assert_true(host_log_contains("past the first 512 bytes"));
}

static void test_check_image(void **state)
{
	struct pe_info k;

	assert_int_equal(uki_check_image(uki, uki_size, "uki.efi", &k), 0);
	assert_true(k.is_linux);
	assert_string_equal(k.linux_version, PE_IMAGE_VERSION_STR);
	assert_int_equal(k.cmdline_max, PE_IMAGE_CMDLINE_MAX);
}

static void test_damaged(void **state)
{
	uint8_t *img = malloc(uki_size);
	uint32_t lfanew = get_le32(uki + 0x3c);
	struct uki_layout l;
	struct pe_info k;

	/* .linux's raw data past the end of the file. */
	memcpy(img, uki, uki_size);
	put_le32(section(img, ".linux") + 20, (uint32_t)uki_size - 0x100);
	expect_damage(img, -VQ_ECORRUPT, "section '.linux' raw data");
	/* Cut short: the sections are no longer inside it. (The last 12 KiB
	 * are the stub's COFF symbols, in no section.) */
	assert_int_equal(layout_of(uki, uki_size / 2, uki_size / 2, &l), -VQ_ECORRUPT);
	assert_true(host_log_contains("beyond the file"));
	/* Built for arm64. */
	memcpy(img, uki, uki_size);
	put_le16(img + lfanew + 4, PE_MACHINE_ARM64);
	expect_damage(img, -VQ_ENOTSUP, "machine 0xaa64 (arm64) cannot run here");
	/* Not an EFI application. */
	memcpy(img, uki, uki_size);
	put_le16(img + lfanew + 24 + 68, 3);
	expect_damage(img, -VQ_ENOTSUP, "is not an EFI application");
	/* No .linux: the plain stub, or an EFI program that is not a UKI. */
	memcpy(img, uki, uki_size);
	memcpy(section(img, ".linux"), ".linuy", 6);
	expect_damage(img, -VQ_ENOTSUP, "no .linux section, so not a unified kernel image");
	/* A singleton twice. */
	memcpy(img, uki, uki_size);
	memcpy(section(img, ".uname"), ".osrel\0", 7);
	expect_damage(img, -VQ_ECORRUPT, "section .osrel appears twice");
	/* An empty kernel. */
	memcpy(img, uki, uki_size);
	put_le32(section(img, ".linux") + 8, 0);
	put_le32(section(img, ".linux") + 16, 0);
	expect_damage(img, -VQ_ECORRUPT, "the .linux section is empty");
	/* A huge .cmdline is refused rather than read. */
	memcpy(img, uki, uki_size);
	put_le32(section(img, ".cmdline") + 8, UKI_TEXT_MAX + 1);
	put_le32(section(img, ".cmdline") + 16, UKI_TEXT_MAX + 1);
	expect_damage(img, -VQ_ECORRUPT, "section .cmdline is 16385 bytes, limit 16384");
	/* Not a PE at all. */
	memcpy(img, uki, uki_size);
	img[0] = 'X';
	expect_damage(img, -VQ_ECORRUPT, "signature");
	/* A Linux header that lies about its setup size: caught at boot. */
	memcpy(img, uki, uki_size);
	{
		uint8_t *lin = img + get_le32(section(img, ".linux") + 20);
		lin[0x1f1] = 0xff;
	}
	host_log_clear();
	assert_int_equal(uki_check_image(img, uki_size, "uki.efi", &k), -VQ_ECORRUPT);
	assert_true(host_log_contains("uki.efi .linux: setup_sects 255"));
	/* Something else in .linux is the stub's business: a warning. */
	memcpy(img, uki, uki_size);
	memset(img + get_le32(section(img, ".linux") + 20), 0x11, 0x400);
	host_log_clear();
	assert_int_equal(uki_check_image(img, uki_size, "uki.efi", &k), 0);
	assert_true(host_log_contains(".linux is not a Linux kernel"));
	free(img);
}

/* Profiles: what follows the first .profile is not the default's. */
static void test_profiles(void **state)
{
	uint8_t *img = malloc(uki_size);
	struct uki_layout l;

	/* .initrd comes last: as a .profile, it starts profile @0. */
	memcpy(img, uki, uki_size);
	memcpy(section(img, ".initrd"), ".profile", 8);
	assert_int_equal(layout_of(img, uki_size, uki_size, &l), 0);
	assert_int_equal(l.profiles, 1);
	assert_true(l.sec[UKI_SEC_LINUX].present);
	assert_false(l.sec[UKI_SEC_INITRD].present);
	/* A .linux only inside a profile is not the default's kernel. */
	memcpy(img, uki, uki_size);
	memcpy(section(img, ".uname"), ".profile", 8);
	assert_int_equal(layout_of(img, uki_size, uki_size, &l), -VQ_ENOTSUP);
	free(img);
}

/* Random damage to the headers never crashes and is always named. */
static void test_mutations(void **state)
{
	uint8_t *copy = malloc(uki_size);
	struct uki_layout l;
	uint32_t x = 11;

	host_log_echo(0);
	for (int round = 0; round < 2000; round++) {
		memcpy(copy, uki, uki_size);
		for (int k = 0; k < 1 + round % 4; k++) {
			x = x * 1103515245u + 12345u;
			copy[(x >> 8) % 0x400] = (uint8_t)(x >> 20);
		}
		int r = uki_layout(copy, UKI_HEADER_READ, uki_size, "mutant", &l);
		assert_true(r == 0 || r == -VQ_ECORRUPT || r == -VQ_ENOTSUP);
		if (r == 0) {
			assert_true(l.sec[UKI_SEC_LINUX].present);
			assert_true((uint64_t)l.sec[UKI_SEC_LINUX].offset +
				    l.sec[UKI_SEC_LINUX].size <= uki_size);
		}
	}
	free(copy);
}

/* ---- os-release ---------------------------------------------------------------- */

static void test_osrel_parse(void **state)
{
	static const char text[] =
		"# comment\r\n"
		"\n"
		"  NAME=Fedora\\ Linux\r\n"
		"ID=fedora # trailing comment\n"
		"VERSION=\"39 (Cloud \\\"Edition\\\") \\$x \\q\"\n"
		"IMAGE_ID='fedora-'\"cloud\"\n"
		"BUILD_ID=\"unclosed\n"
		"VERSION_ID=39\n"
		"not a line\n"
		"PRETTY_NAME=\"tab\there\"\n"
		"IMAGE_VERSION=1\0IMAGE_ID=after-nul\n";
	struct uki_osrel os;

	host_log_clear();
	assert_int_equal(uki_osrel_parse("t", text, sizeof(text) - 1, &os), 0);
	assert_string_equal(os.name, "Fedora Linux");
	assert_string_equal(os.id, "fedora");
	assert_string_equal(os.version, "39 (Cloud \"Edition\") $x \\q");
	assert_string_equal(os.image_id, "fedora-cloud");
	assert_string_equal(os.build_id, "");
	assert_true(host_log_contains("t .osrel line 7: BUILD_ID: unclosed quote"));
	assert_string_equal(os.version_id, "39");
	assert_true(host_log_contains("line 9: not KEY=VALUE"));
	assert_string_equal(os.pretty_name, "");
	assert_true(host_log_contains("PRETTY_NAME: control byte"));
	assert_string_equal(os.image_version, "1");
}

static void test_osrel_limits(void **state)
{
	char text[600];
	struct uki_osrel os;

	memset(text, 'x', sizeof(text));
	memcpy(text, "VERSION_ID=", 11);
	host_log_clear();
	assert_int_equal(uki_osrel_parse("t", text, sizeof(text), &os), 0);
	assert_string_equal(os.version_id, "");
	assert_true(host_log_contains("VERSION_ID: too long"));
	assert_int_equal(uki_osrel_parse("t", "", 0, &os), 0);
	assert_int_equal(uki_osrel_parse("t", "ID=", 3, &os), 0);
	assert_string_equal(os.id, "");
}

/* systemd-boot: name PRETTY_NAME > IMAGE_ID > NAME > ID; version
 * IMAGE_VERSION > VERSION > VERSION_ID > BUILD_ID; sort key IMAGE_ID > ID. */
static void test_osrel_pick(void **state)
{
	struct uki_osrel os = { 0 };
	const char *t, *v, *k;

	uki_osrel_pick(&os, &t, &v, &k);
	assert_string_equal(t, "");
	assert_string_equal(v, "");
	assert_string_equal(k, "");
	strcpy(os.id, "debian");
	strcpy(os.build_id, "b7");
	uki_osrel_pick(&os, &t, &v, &k);
	assert_string_equal(t, "debian");
	assert_string_equal(v, "b7");
	assert_string_equal(k, "debian");
	strcpy(os.name, "Debian GNU/Linux");
	strcpy(os.version_id, "12");
	uki_osrel_pick(&os, &t, &v, &k);
	assert_string_equal(t, "Debian GNU/Linux");
	assert_string_equal(v, "12");
	strcpy(os.image_id, "debian-cloud");
	strcpy(os.version, "12 (bookworm)");
	uki_osrel_pick(&os, &t, &v, &k);
	assert_string_equal(t, "debian-cloud");
	assert_string_equal(v, "12 (bookworm)");
	assert_string_equal(k, "debian-cloud");
	strcpy(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
	strcpy(os.image_version, "2023.11");
	uki_osrel_pick(&os, &t, &v, &k);
	assert_string_equal(t, "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(v, "2023.11");
}

/* ---- the command line ------------------------------------------------------------ */

static void test_pass_cmdline(void **state)
{
	struct bls_entry *e;

	assert_int_equal(bls_entry_alloc("a.efi", ".efi", &e), 0);
	assert_string_equal(e->id, "a");
	e->kind = BLS_KIND_UKI;
	strcpy(e->options, "console=ttyS0");
	e->has_cmdline = true;
	/* Unedited: nothing, the stub uses its own. */
	assert_false(uki_pass_cmdline(e, "console=ttyS0", NULL, false));
	assert_false(uki_pass_cmdline(e, "console=ttyS0", "", true));
	/* Edited or appended, no Secure Boot: passed. */
	assert_true(uki_pass_cmdline(e, "console=ttyS0 single", NULL, false));
	assert_true(uki_pass_cmdline(e, "console=ttyS0", "vq.x=1", false));
	/* Secure Boot and an embedded .cmdline: that wins, and we say so. */
	host_log_clear();
	assert_false(uki_pass_cmdline(e, "console=ttyS0 single", NULL, true));
	assert_true(host_log_contains("Secure Boot is on and the image has its own .cmdline"));
	assert_true(host_log_contains("the edited command line is not passed"));
	/* Secure Boot without one: the stub takes ours. */
	e->has_cmdline = false;
	e->options[0] = '\0';
	assert_true(uki_pass_cmdline(e, "root=/dev/vda2", NULL, true));
	assert_false(uki_pass_cmdline(e, "", NULL, true));
	assert_false(uki_pass_cmdline(e, NULL, NULL, false));
	bls_entry_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_layout),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_check_image),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_profiles),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_osrel_parse),
		cmocka_unit_test(test_osrel_limits),
		cmocka_unit_test(test_osrel_pick),
		cmocka_unit_test(test_pass_cmdline),
	};

	return cmocka_run_group_tests(tests, build_uki, free_uki);
}
