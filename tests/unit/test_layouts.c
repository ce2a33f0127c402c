/* SPDX-License-Identifier: MIT */
/*
 * Where entries live, on the disks of mk_layouts.sh: unified kernel images
 * on an ESP and an XBOOTLDR partition sorted with type #1 entries (and a
 * real one loaded), a root file system with /boot/loader/entries, RHEL 8's
 * plain Linux /boot with $kernelopts from grubenv (its own, or the ESP's),
 * an MBR Linux partition, and what verbose mode says about each volume.
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

#include "boot/load.h"
#include "boot/scan.h"
#include "boot/uki.h"
#include "lib/err.h"
#include "lib/log.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "tests/support/pe_image.h"

#define P1 (2048 * 512) /* mk_layouts.sh starts the first partition here */

struct disk {
	char path[64];  /* a copy when the test changes it, else "" */
	struct blockdev bd;
	struct boot_scan s;
};

static void run_or_fail(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Scan @image (a copy of it when @patch is given: a shell command run
 * with the copy's path as $1), verbose, and sort. */
static struct disk *scan(const char *image, const char *patch)
{
	struct disk *d = calloc(1, sizeof(*d));
	const char *src = test_image(image);
	char cmd[1024];
	int fd;

	if (access(src, R_OK))
		fail_msg("test image %s missing: run tests/unit/run.sh", src);
	if (patch) {
		snprintf(d->path, sizeof(d->path), "/tmp/vq_layout_XXXXXX");
		fd = mkstemp(d->path);
		assert_true(fd >= 0);
		close(fd);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && set -- '%s' && %s", src, d->path,
			 d->path, patch);
		run_or_fail(cmd);
		src = d->path;
	}
	assert_int_equal(file_bdev_open(src, 512, &d->bd), 0);
	snprintf(d->bd.name, sizeof(d->bd.name), "disk"); /* copies too */
	log_max_level = LOG_DEBUG;
	host_log_clear();
	scan_init(&d->s);
	assert_int_equal(scan_disk(&d->s, &d->bd, 0), 0);
	scan_finish(&d->s);
	log_max_level = LOG_INFO;
	return d;
}

static void done(struct disk *d)
{
	scan_free(&d->s);
	file_bdev_close(&d->bd);
	if (d->path[0])
		unlink(d->path);
	free(d);
}

static const struct bls_entry *entry(struct boot_scan *s, const char *id)
{
	int i = bls_list_find(&s->entries, id);

	if (i < 0)
		fail_msg("no entry '%s'", id);
	return s->entries.v[i];
}

static void expect_log(const char *needle)
{
	if (!host_log_contains(needle))
		fail_msg("log lacks '%s'", needle);
}

/* ---- unified kernel images --------------------------------------------------- */

static void test_uki_esp(void **state)
{
	struct disk *d = scan("uki_esp.img", NULL);
	struct boot_scan *s = &d->s;
	const struct bls_entry *e;
	static const char *const order[] = {
		"debian-6.1", "debian-6.1.0-1", "fedora", "xbl", "xbl", "cut", "NOLINUX",
	};

	assert_int_equal(s->nvols, 2);
	assert_int_equal(s->entries.count, 7);
	e = entry(s, "debian-6.1");
	assert_int_equal(e->kind, BLS_KIND_UKI);
	assert_string_equal(e->efi_path, "/EFI/Linux/debian-6.1.efi");
	assert_string_equal(e->title, "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(e->version, "12 (bookworm)"); /* VERSION before VERSION_ID */
	assert_string_equal(e->sort_key, "debian");
	assert_string_equal(e->uname, "6.1.0-1-amd64");
	/* The newline between words is a space, the NUL padding gone. */
	assert_string_equal(e->options, "console=ttyS0 quiet vq.uki=debian");
	assert_true(e->has_cmdline);
	assert_true(bls_entry_bootable(e));
	e = entry(s, "fedora");
	assert_string_equal(e->title, "Fedora Linux 39 (Cloud Edition)");
	assert_string_equal(e->version, "39.20231101");
	assert_string_equal(e->sort_key, "fedora-cloud");
	assert_false(e->has_cmdline);
	assert_string_equal(e->options, "");
	/* Not usable, and the menu says why. */
	e = entry(s, "NOLINUX");
	assert_true(e->broken);
	assert_string_equal(e->reason, "no .linux section, so not a unified kernel image");
	e = entry(s, "cut");
	assert_true(e->broken);
	assert_non_null(strstr(e->reason, "raw data"));
	assert_non_null(strstr(e->reason, "beyond the file (0x9c40 bytes)"));
	expect_log("pe: /EFI/Linux/cut.efi on disk p1: section");
	/* notes.txt is no entry; the XBOOTLDR's UKI and .conf both are. */
	assert_int_equal(bls_list_find(&s->entries, "notes"), -VQ_ENOENT);
	assert_int_equal(s->entries.v[3]->kind, BLS_KIND_UKI);
	assert_int_equal(s->entries.v[4]->kind, BLS_KIND_TYPE1);
	assert_ptr_equal(scan_entry_volume(s, s->entries.v[3]), &s->vols[1]);
	/* Spec order: sort-key debian (UKI version 12 newer than 6.1), then
	 * fedora-cloud, xbl; then without sort-key by id, decreasing. */
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		assert_string_equal(s->entries.v[i]->id, order[i]);
	assert_int_equal(bls_list_default(&s->entries, ""), 0);
	assert_int_equal(bls_list_default(&s->entries, "fedora.efi"), 2);
	expect_log("disk p1: esp partition, FAT16, 1 entry in /loader/entries, 4 entries in /EFI/Linux");
	expect_log("disk p2: xbootldr partition, ext, 1 entry in /loader/entries, 1 entry in /EFI/Linux");
	done(d);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int rec_alloc(void *ctx, size_t size, void **ret)
{
	(*(unsigned *)ctx)++;
	*ret = malloc(size);
	return *ret ? 0 : -VQ_ENOMEM;
}

static void rec_free(void *ctx, void *p, size_t size)
{
	(*(unsigned *)ctx)--;
	free(p);
}

/* A real UKI (the synthetic kernel inside) copied onto the ESP loads as an
 * EFI image with no initrd of ours and the kernel's command line limit. */
static void test_uki_load(void **state)
{
	static uint8_t kernel[PE_IMAGE_SIZE];
	char cmd[1024];
	struct disk *d;
	struct loaded_entry *l = malloc(sizeof(*l));
	unsigned live = 0;
	struct load_ops ops = { rec_alloc, rec_free, NULL, &live };
	const struct bls_entry *e;

	pe_image_linux(kernel, sizeof(kernel));
	write_file("/tmp/vq_layout_linux", kernel, sizeof(kernel));
	write_file("/tmp/vq_layout_osrel", "ID=real\nVERSION_ID=3\n", 21);
	snprintf(cmd, sizeof(cmd),
		 "objcopy --add-section .osrel=/tmp/vq_layout_osrel --change-section-vma .osrel=0x20000"
		 " --add-section .linux=/tmp/vq_layout_linux --change-section-vma .linux=0x2000000"
		 " /usr/lib/systemd/boot/efi/linuxx64.efi.stub /tmp/vq_layout_real.efi && "
		 "MTOOLS_SKIP_CHECK=1 mcopy -i \"$1@@%d\" /tmp/vq_layout_real.efi ::/EFI/Linux/real.efi",
		 P1);
	d = scan("uki_esp.img", cmd);
	e = entry(&d->s, "real");
	assert_string_equal(e->title, "real");
	assert_string_equal(e->version, "3");
	assert_int_equal(load_entry(&d->s, e, NULL, &ops, l), 0);
	assert_int_equal(live, 1);
	assert_null(l->initrd);
	assert_true(l->pe.is_pe);
	assert_false(l->pe.is_linux);   /* the stub */
	assert_int_equal(l->pe.cmdline_max, PE_IMAGE_CMDLINE_MAX); /* the kernel inside */
	assert_string_equal(l->cmdline, "");
	assert_true(strstr(l->image_name, "/EFI/Linux/real.efi on disk p1") == l->image_name);
	load_free(l, &ops);
	assert_int_equal(live, 0);
	/* One that is broken is not loaded. */
	host_log_clear();
	assert_int_equal(load_entry(&d->s, entry(&d->s, "NOLINUX"), NULL, &ops, l), -VQ_EINVAL);
	expect_log("entry NOLINUX: not bootable: no .linux section");
	assert_int_equal(live, 0);
	done(d);
	free(l);
	unlink("/tmp/vq_layout_linux");
	unlink("/tmp/vq_layout_osrel");
	unlink("/tmp/vq_layout_real.efi");
}

/* ---- /boot on a root file system ------------------------------------------------- */

static void read_back(struct scan_volume *vol, const char *path, const char *want)
{
	struct fs_file *f;
	char buf[64] = { 0 };

	assert_int_equal(vol->fs->ops->open(vol->fs, path, &f), 0);
	assert_int_equal(vol->fs->ops->size(f), strlen(want));
	assert_int_equal(vol->fs->ops->read(f, 0, buf, strlen(want)), 0);
	assert_string_equal(buf, want);
	vol->fs->ops->close(f);
}

static void test_root_boot(void **state)
{
	struct disk *d = scan("root_boot.img", NULL);
	const struct bls_entry *e;

	assert_int_equal(d->s.entries.count, 1);
	e = entry(&d->s, "root");
	assert_string_equal(e->linux_path, "/boot/vmlinuz-1.0");
	assert_string_equal(e->initrd[0], "/boot/initrd-1.0.img");
	assert_string_equal(e->options, "root=/dev/vda1");
	/* The files under /boot, not the decoy at the top. */
	read_back(scan_entry_volume(&d->s, e), e->linux_path, "kernel under /boot\n");
	read_back(scan_entry_volume(&d->s, e), e->initrd[0], "initrd under /boot\n");
	expect_log("disk p1: linux partition, ext, no /loader/entries, 1 entry in /boot/loader/entries");
	done(d);
}

/* A Linux partition whose file system nobody here reads: said, not silent. */
static void test_unknown_fs(void **state)
{
	struct disk *d = scan("root_boot.img",
			      "dd if=/dev/zero of=\"$1\" bs=1024 seek=1025 count=2 conv=notrunc status=none");

	assert_int_equal(d->s.nvols, 0);
	assert_int_equal(d->s.entries.count, 0);
	expect_log("disk p1: linux partition, no file system vqboot knows; skipped");
	done(d);
}

/* ---- RHEL ---------------------------------------------------------------------- */

static const char rhel_id[] = "0123456789abcdef-4.18.0-80.el8.x86_64";

static void test_rhel_grubenv(void **state)
{
	struct disk *d = scan("rhel.img", NULL);
	const struct bls_entry *e = entry(&d->s, rhel_id);

	assert_false(e->broken);
	assert_string_equal(e->title, "Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)");
	assert_string_equal(e->options,
			    "root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root console=ttyS0");
	assert_int_equal(e->initrd_count, 2);
	assert_string_equal(e->initrd[0], "/initramfs-4.18.img");
	assert_string_equal(e->initrd[1], "/tuned.img");
	assert_ptr_equal(scan_entry_volume(&d->s, e), &d->s.vols[1]);
	expect_log("$tuned_params is not set in /grub2/grubenv on disk p2; it expands to nothing");
	expect_log("disk p2: linux partition, ext, 1 entry in /loader/entries, no /boot/loader/entries");
	done(d);
}

/* RHEL on UEFI: /boot/grub2/grubenv links into the ESP; the ESP's is read. */
static void test_rhel_esp_grubenv(void **state)
{
	struct disk *d = scan("rhel_esp.img", NULL);
	const struct bls_entry *e = entry(&d->s, rhel_id);

	assert_string_equal(e->options, "root=/dev/vda3 ro from=esp");
	assert_int_equal(e->initrd_count, 1);
	expect_log("$tuned_initrd is not set in /EFI/redhat/grubenv on disk p1");
	done(d);
}

/* ---- MBR ------------------------------------------------------------------------ */

static void test_mbr_linux(void **state)
{
	struct disk *d = scan("mbr_linux.img", NULL);
	const struct bls_entry *e = entry(&d->s, "plain");

	assert_int_equal(d->s.vols[0].kind, PART_KIND_LINUX);
	assert_string_equal(e->options, "vq.plain=1");
	assert_string_equal(e->linux_path, "/vmlinuz");
	done(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uki_esp),
		cmocka_unit_test(test_uki_load),
		cmocka_unit_test(test_root_boot),
		cmocka_unit_test(test_unknown_fs),
		cmocka_unit_test(test_rhel_grubenv),
		cmocka_unit_test(test_rhel_esp_grubenv),
		cmocka_unit_test(test_mbr_linux),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
