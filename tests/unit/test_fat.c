/* SPDX-License-Identifier: MIT */
/*
 * FAT12/16/32: type by cluster count, long and short names, case-insensitive
 * lookup, subdirectories, fragmented files read one run per device request,
 * damaged chains and boot sectors. Images and the host copy of their tree
 * come from tests/unit/images/mk_part_fat.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "boot/fs.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "lib/plat.h"

#define LONG_NAME "A rather long file name, with spaces and more than 13 chars.conf"
#define UNICODE_NAME "Gr\xc3\xbc\xc3\x9f" "e-\xe2\x98\x83.txt" /* Grüße-☃.txt */

struct variant {
	const char *name; /* "fat12" -> pf_fat12.img, pf_fat12.frag, ... */
	enum fs_type type;
	const char *label;
	uint32_t cluster_size;
};

static const struct variant variants[] = {
	{ "fat12", FS_FAT12, "FAT12TEST", 512 },
	{ "fat16", FS_FAT16, "XBOOTLDR", 2048 },
	{ "fat32", FS_FAT32, "ESPTEST", 512 },
};

/* Every regular file of the tree, as the host copy names it. */
static const char *const tree_files[] = {
	"hello.txt",
	"README.TXT",
	"MixedCase.Txt",
	LONG_NAME,
	UNICODE_NAME,
	"ThirteenChars",
	"TwentySixCharacterFileName",
	"EFI/BOOT/BOOTX64.EFI",
	"loader/entries/debian-6.1.0-13-amd64.conf",
	"deep/a/b/c/d/e/f/deep.txt",
	"empty.dat",
	"exact.bin",
	"chain.bin",
	"many/file_000.txt",
	"many/file_057.txt",
	"many/file_099.txt",
	"gap1",
	"gap3",
	"gap5",
	"frag.bin",
};

struct mounted {
	struct blockdev bd;
	struct fs *fs;
	uint8_t *mem;
};

static char *image_path(const char *variant, const char *suffix)
{
	static char name[64];

	snprintf(name, sizeof(name), "pf_%s%s", variant, suffix);
	return (char *)test_image(name);
}

static void mount_file(const char *path, struct mounted *m)
{
	/* A missing image is a failure, not a skip. */
	assert_int_equal(file_bdev_open(path, 512, &m->bd), 0);
	assert_int_equal(fs_mount(&m->bd, &m->fs), 0);
}

static void unmount(struct mounted *m)
{
	fs_unmount(m->fs);
	file_bdev_close(&m->bd);
	free(m->mem);
}

static uint32_t read_number(const char *path, unsigned index)
{
	size_t size;
	char *text = test_slurp(path, &size);
	unsigned long v[2] = { 0, 0 };

	text[size] = '\0';
	assert_true(sscanf(text, "%lu %lu", &v[0], &v[1]) >= 1);
	free(text);
	return (uint32_t)v[index];
}

/* Compare the file at @path of the filesystem with the host copy @rel. */
static void check_path(struct fs *fs, const char *path, const char *rel)
{
	char host[4096];
	size_t want_size, size;
	void *want, *got;

	snprintf(host, sizeof(host), "%s/%s", test_image("pf_tree"), rel);
	want = test_slurp(host, &want_size);
	if (fs_read_all(fs, path, 1 << 20, &got, &size))
		fail_msg("reading %s failed", path);
	assert_int_equal(size, want_size);
	assert_memory_equal(got, want, size);
	assert_int_equal(((char *)got)[size], '\0');
	free(want);
	plat_free(got);
}

static void check_file(struct fs *fs, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "/%s", rel);
	check_path(fs, path, rel);
}

static void test_mount_types(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };

		mount_file(image_path(variants[i].name, ".img"), &m);
		assert_ptr_equal(m.fs->ops, &fat_fs_ops);
		assert_int_equal(m.fs->type, variants[i].type);
		assert_string_equal(m.fs->label, variants[i].label);
		assert_ptr_equal(m.fs->bd, &m.bd);
		unmount(&m);
	}
	assert_string_equal(fs_type_name(FS_FAT12), "FAT12");
	assert_string_equal(fs_type_name(FS_FAT16), "FAT16");
	assert_string_equal(fs_type_name(FS_FAT32), "FAT32");
}

static void test_tree_contents(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };

		mount_file(image_path(variants[i].name, ".img"), &m);
		for (size_t j = 0; j < sizeof(tree_files) / sizeof(*tree_files); j++)
			check_file(m.fs, tree_files[j]);
		/* Paths without the leading slash and with "." are the same. */
		check_path(m.fs, "./hello.txt", "hello.txt");
		check_path(m.fs, "hello.txt", "hello.txt");
		check_path(m.fs, "/deep/./a//b/../b/c/d/e/f/deep.txt",
			   "deep/a/b/c/d/e/f/deep.txt");
		unmount(&m);
	}
}

static void expect_same(struct fs *fs, const char *path, const char *canon)
{
	struct fs_file *a, *b;
	uint8_t x[64], y[64];
	size_t n;

	if (fs->ops->open(fs, path, &a))
		fail_msg("cannot open %s", path);
	assert_int_equal(fs->ops->open(fs, canon, &b), 0);
	assert_int_equal(fs->ops->size(a), fs->ops->size(b));
	n = fs->ops->size(a) < sizeof(x) ? fs->ops->size(a) : sizeof(x);
	assert_int_equal(fs->ops->read(a, 0, x, n), 0);
	assert_int_equal(fs->ops->read(b, 0, y, n), 0);
	assert_memory_equal(x, y, n);
	fs->ops->close(a);
	fs->ops->close(b);
}

static void test_case_and_short_names(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct fs_file *f;

		mount_file(image_path(variants[i].name, ".img"), &m);
		expect_same(m.fs, "/efi/boot/bootx64.efi", "/EFI/BOOT/BOOTX64.EFI");
		expect_same(m.fs, "/MIXEDCASE.TXT", "/MixedCase.Txt");
		expect_same(m.fs, "/mixedc~1.txt", "/MixedCase.Txt");
		expect_same(m.fs, "/HELLO.TXT", "/hello.txt");
		expect_same(m.fs, "/readme.txt", "/README.TXT");
		expect_same(m.fs, "/a RATHER long FILE name, WITH spaces and more than 13 chars.CONF",
			    "/" LONG_NAME);
		expect_same(m.fs, "/ARATHE~1.CON", "/" LONG_NAME);
		expect_same(m.fs, "/thirteenCHARS", "/ThirteenChars");
		expect_same(m.fs, "/twentysixcharacterfilename",
			    "/TwentySixCharacterFileName");
		/* Only ASCII folds: Ü is not ü. */
		expect_same(m.fs, "/GR\xc3\xbc\xc3\x9f" "E-\xe2\x98\x83.TXT",
			    "/" UNICODE_NAME);
		assert_int_equal(m.fs->ops->open(m.fs, "/GR\xc3\x9c\xc3\x9f" "E-\xe2\x98\x83.TXT", &f),
				 -VQ_ENOENT);
		unmount(&m);
	}
}

static void test_errors(void **state)
{
	struct mounted m = { 0 };
	struct fs_file *f = (struct fs_file *)0x1;
	void *buf = NULL;
	size_t size = 7;
	char name[300];

	mount_file(image_path("fat16", ".img"), &m);
	assert_int_equal(m.fs->ops->open(m.fs, "/nope", &f), -VQ_ENOENT);
	assert_int_equal(m.fs->ops->open(m.fs, "/EFI/nope.efi", &f), -VQ_ENOENT);
	assert_int_equal(m.fs->ops->open(m.fs, "/hello.txt/x", &f), -VQ_ENOTDIR);
	assert_int_equal(m.fs->ops->open(m.fs, "/EFI", &f), -VQ_EINVAL);
	assert_int_equal(m.fs->ops->open(m.fs, "/", &f), -VQ_EINVAL);
	assert_int_equal(m.fs->ops->open(m.fs, "/..", &f), -VQ_ENOENT);
	/* Prefixes and extensions of a real name do not match. */
	assert_int_equal(m.fs->ops->open(m.fs, "/hello.tx", &f), -VQ_ENOENT);
	assert_int_equal(m.fs->ops->open(m.fs, "/hello.txtx", &f), -VQ_ENOENT);
	assert_int_equal(m.fs->ops->open(m.fs, "/hello", &f), -VQ_ENOENT);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(m.fs->ops->open(m.fs, name, &f), -VQ_ENOENT);
	assert_ptr_equal(f, (struct fs_file *)0x1);
	assert_int_equal(fs_read_all(m.fs, "/exact.bin", 2047, &buf, &size),
			 -VQ_E2BIG);
	assert_null(buf);
	assert_int_equal(size, 7);
	assert_true(host_log_contains("/exact.bin: 2048 bytes, more than 2047"));
	assert_int_equal(fs_read_all(m.fs, "/exact.bin", 2048, &buf, &size), 0);
	assert_int_equal(size, 2048);
	plat_free(buf);
	unmount(&m);
}

static void test_read_ranges(void **state)
{
	struct mounted m = { 0 };
	struct fs_file *f;
	char buf[16];

	mount_file(image_path("fat32", ".img"), &m);
	assert_int_equal(m.fs->ops->open(m.fs, "/hello.txt", &f), 0);
	assert_int_equal(m.fs->ops->size(f), 11);
	assert_int_equal(m.fs->ops->read(f, 7, buf, 4), 0);
	assert_memory_equal(buf, "fat\n", 4);
	assert_int_equal(m.fs->ops->read(f, 11, buf, 0), 0);
	assert_int_equal(m.fs->ops->read(f, 10, buf, 2), -VQ_ERANGE);
	assert_int_equal(m.fs->ops->read(f, 12, buf, 0), -VQ_ERANGE);
	assert_int_equal(m.fs->ops->read(f, UINT64_MAX, buf, 2), -VQ_ERANGE);
	m.fs->ops->close(f);
	assert_int_equal(m.fs->ops->open(m.fs, "/empty.dat", &f), 0);
	assert_int_equal(m.fs->ops->size(f), 0);
	assert_int_equal(m.fs->ops->read(f, 0, buf, 0), 0);
	assert_int_equal(m.fs->ops->read(f, 0, buf, 1), -VQ_ERANGE);
	m.fs->ops->close(f);
	unmount(&m);
}

/* Reads at odd offsets and lengths across cluster and run boundaries. */
static void test_unaligned_reads(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		char host[4096];
		size_t want_size;
		uint8_t *want, got[5000];
		struct fs_file *f;

		snprintf(host, sizeof(host), "%s/frag.bin", test_image("pf_tree"));
		want = test_slurp(host, &want_size);
		mount_file(image_path(variants[i].name, ".img"), &m);
		assert_int_equal(m.fs->ops->open(m.fs, "/frag.bin", &f), 0);
		/* Backwards, so the run hint has to be left behind. */
		for (uint64_t off = want_size - 1; off > 0 && off < want_size;
		     off -= 2999) {
			size_t n = want_size - off < 4099 ? want_size - off : 4099;

			assert_int_equal(m.fs->ops->read(f, off, got, n), 0);
			assert_memory_equal(got, want + off, n);
		}
		m.fs->ops->close(f);
		unmount(&m);
		free(want);
	}
}

/*
 * frag.bin fills three holes. Read whole, it costs one device request per
 * run, plus one for the partial last block; read in 4 KiB pieces it costs
 * exactly its own blocks: the FAT is not walked again.
 */
static void test_fragmented_coalesced(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct bdev_counts before, after;
		uint32_t runs = read_number(image_path(variants[i].name, ".frag"), 0);
		uint8_t *buf = malloc(60000);
		struct fs_file *f;

		assert_true(runs >= 3);
		mount_file(image_path(variants[i].name, ".img"), &m);
		assert_int_equal(m.fs->ops->open(m.fs, "/frag.bin", &f), 0);
		bdev_counts_get(&m.bd, &before);
		assert_int_equal(m.fs->ops->read(f, 0, buf, 60000), 0);
		bdev_counts_get(&m.bd, &after);
		assert_int_equal(after.calls - before.calls, runs + 1);
		assert_int_equal(after.blocks - before.blocks, (60000 + 511) / 512);
		for (uint32_t off = 0; off < 60000; off += 4096) {
			uint32_t n = 60000 - off < 4096 ? 60000 - off : 4096;

			assert_int_equal(m.fs->ops->read(f, off, buf + off, n), 0);
		}
		bdev_counts_get(&m.bd, &before);
		assert_int_equal(before.blocks - after.blocks, (60000 + 511) / 512);
		m.fs->ops->close(f);
		unmount(&m);
		free(buf);
	}
}

struct listing {
	char names[128][256];
	bool is_dir[128];
	uint64_t size[128];
	unsigned n;
	unsigned stop_after;
};

static int collect(void *ctx, const struct fs_dirent *e)
{
	struct listing *l = ctx;

	assert_true(l->n < 128);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", e->name);
	l->is_dir[l->n] = e->is_dir;
	l->size[l->n] = e->size;
	l->n++;
	return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

static int find_name(const struct listing *l, const char *name)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return (int)i;
	return -1;
}

static void test_list_root(void **state)
{
	static const char *const want[] = {
		"hello.txt", "README.TXT", "MixedCase.Txt", LONG_NAME,
		"empty.dat", "exact.bin", "chain.bin", "EFI", "loader",
		"deep", "many", "gap1", "gap3", "gap5", "frag.bin",
		UNICODE_NAME, "ThirteenChars", "TwentySixCharacterFileName",
	};

	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct listing *l = calloc(1, sizeof(*l));

		mount_file(image_path(variants[i].name, ".img"), &m);
		assert_int_equal(m.fs->ops->list(m.fs, "/", collect, l), 0);
		assert_int_equal(l->n, sizeof(want) / sizeof(*want));
		for (size_t j = 0; j < l->n; j++) {
			int k = find_name(l, want[j]);

			if (k < 0)
				fail_msg("%s: no %s in /", variants[i].name, want[j]);
		}
		assert_true(l->is_dir[find_name(l, "EFI")]);
		assert_false(l->is_dir[find_name(l, "exact.bin")]);
		assert_int_equal(l->size[find_name(l, "exact.bin")], 2048);
		assert_int_equal(l->size[find_name(l, "frag.bin")], 60000);
		unmount(&m);
		free(l);
	}
}

static void test_list_subdirs(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct listing *l = calloc(1, sizeof(*l));
		char name[32];

		mount_file(image_path(variants[i].name, ".img"), &m);
		/* 100 entries: a directory over several (fragmented) clusters. */
		assert_int_equal(m.fs->ops->list(m.fs, "/MANY/", collect, l), 0);
		assert_int_equal(l->n, 100);
		for (unsigned j = 0; j < 100; j++) {
			snprintf(name, sizeof(name), "file_%03u.txt", j);
			assert_true(find_name(l, name) >= 0);
		}
		memset(l, 0, sizeof(*l));
		assert_int_equal(m.fs->ops->list(m.fs, "/deep/a/b/c/d/e/f", collect, l), 0);
		assert_int_equal(l->n, 1);
		assert_string_equal(l->names[0], "deep.txt");
		assert_int_equal(l->size[0], 5);
		/* The callback's non-zero return stops the walk and comes back. */
		memset(l, 0, sizeof(*l));
		l->stop_after = 3;
		assert_int_equal(m.fs->ops->list(m.fs, "/many", collect, l), 42);
		assert_int_equal(l->n, 3);
		assert_int_equal(m.fs->ops->list(m.fs, "/hello.txt", collect, l),
				 -VQ_ENOTDIR);
		assert_int_equal(m.fs->ops->list(m.fs, "/none", collect, l),
				 -VQ_ENOENT);
		unmount(&m);
		free(l);
	}
}

static void test_chain_loop(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct fs_file *f;
		char want[128];
		uint32_t first = read_number(image_path(variants[i].name, ".chain"), 0);
		uint32_t last = read_number(image_path(variants[i].name, ".chain"), 1);

		host_log_clear();
		mount_file(image_path(variants[i].name, "_loop.img"), &m);
		assert_int_equal(m.fs->ops->open(m.fs, "/chain.bin", &f),
				 -VQ_ECORRUPT);
		snprintf(want, sizeof(want),
			 "/chain.bin: cluster chain loops: cluster %u links back to %u",
			 last, first);
		if (!host_log_contains(want))
			fail_msg("no \"%s\"; last: %s", want, host_log_last());
		/* The rest of the volume is still readable. */
		check_file(m.fs, "hello.txt");
		check_file(m.fs, "frag.bin");
		unmount(&m);
	}
}

static void test_chain_short(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct fs_file *f;
		char want[160];
		uint32_t first = read_number(image_path(variants[i].name, ".chain"), 0);
		uint32_t need = (10000 + variants[i].cluster_size - 1) /
				variants[i].cluster_size;

		host_log_clear();
		mount_file(image_path(variants[i].name, "_short.img"), &m);
		assert_int_equal(m.fs->ops->open(m.fs, "/CHAIN.BIN", &f),
				 -VQ_ECORRUPT);
		snprintf(want, sizeof(want),
			 "/CHAIN.BIN: cluster chain ends at cluster %u after 1 of %u clusters (size 10000)",
			 first, need);
		if (!host_log_contains(want))
			fail_msg("no \"%s\"; last: %s", want, host_log_last());
		check_file(m.fs, "EFI/BOOT/BOOTX64.EFI");
		unmount(&m);
	}
}

/* ---- damaged boot sectors, on a copy in memory -------------------------- */

static void load_mem(const char *variant, struct mounted *m)
{
	size_t size;

	m->mem = test_slurp(image_path(variant, ".img"), &size);
	mem_bdev_init(m->mem, size, 512, &m->bd);
}

static int mount_patched(const char *variant, unsigned off, unsigned width,
			 uint32_t value)
{
	struct mounted m = { 0 };
	int r;

	load_mem(variant, &m);
	if (width == 1)
		m.mem[off] = (uint8_t)value;
	else if (width == 2)
		put_le16(m.mem + off, (uint16_t)value);
	else
		put_le32(m.mem + off, value);
	r = fs_mount(&m.bd, &m.fs);
	if (r == 0)
		fs_unmount(m.fs);
	file_bdev_close(&m.bd);
	free(m.mem);
	return r;
}

static void test_bad_bpb(void **state)
{
	host_log_clear();
	assert_int_equal(mount_patched("fat16", 11, 2, 1000), -VQ_ECORRUPT);
	assert_true(host_log_contains("bytes per sector 1000 not a power of 2"));
	assert_int_equal(mount_patched("fat16", 11, 2, 256), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 11, 2, 8192), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 13, 1, 3), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 13, 1, 0), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 14, 2, 0), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 16, 1, 0), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat16", 16, 1, 5), -VQ_ECORRUPT);
	assert_true(host_log_contains("4 reserved sectors, 5 FATs"));
	assert_int_equal(mount_patched("fat16", 22, 2, 0), -VQ_ECORRUPT);
	/* More sectors than the 16 MiB device holds. */
	assert_int_equal(mount_patched("fat16", 19, 2, 32769), -VQ_ECORRUPT);
	assert_true(host_log_contains("32769 sectors of 512 bytes exceed device of 16777216 bytes"));
	assert_int_equal(mount_patched("fat16", 19, 2, 0), -VQ_ECORRUPT);
	/* FATs so big there is no data area left. */
	assert_int_equal(mount_patched("fat16", 22, 2, 20000), -VQ_ECORRUPT);
	/* A FAT too small for the clusters. */
	assert_int_equal(mount_patched("fat16", 22, 2, 1), -VQ_ECORRUPT);
	assert_true(host_log_contains("too small for"));
	/* FAT32 specifics: root cluster, version, root entries. */
	assert_int_equal(mount_patched("fat32", 44, 4, 1), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat32", 44, 4, 0x0fffffff), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat32", 42, 2, 1), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat32", 17, 2, 16), -VQ_ECORRUPT);
	assert_int_equal(mount_patched("fat32", 40, 2, 0x85), -VQ_ECORRUPT);
	/* No jump instruction or another filesystem: not FAT at all. */
	assert_int_equal(mount_patched("fat16", 0, 1, 0), -VQ_ENOENT);
	assert_int_equal(mount_patched("fat16", 11, 2, 0), -VQ_ENOENT);
}

/* Set FAT16 entry @cluster in the first FAT of an in-memory image. */
static void fat16_set(struct mounted *m, uint32_t cluster, uint16_t value)
{
	put_le16(m->mem + get_le16(m->mem + 14) * 512 + cluster * 2, value);
}

static void expect_chain_error(uint32_t cluster, uint16_t value,
			       const char *fmt, uint32_t a, uint32_t b)
{
	struct mounted m = { 0 };
	struct fs_file *f;
	char want[160];

	load_mem("fat16", &m);
	fat16_set(&m, cluster, value);
	assert_int_equal(fs_mount(&m.bd, &m.fs), 0);
	host_log_clear();
	assert_int_equal(m.fs->ops->open(m.fs, "/chain.bin", &f), -VQ_ECORRUPT);
	snprintf(want, sizeof(want), fmt, a, b);
	if (!host_log_contains(want))
		fail_msg("no \"%s\"; last: %s", want, host_log_last());
	unmount(&m);
}

/* chain.bin is 5 clusters of FAT16: first..last. */
static void test_chain_errors(void **state)
{
	uint32_t first = read_number(image_path("fat16", ".chain"), 0);
	uint32_t last = read_number(image_path("fat16", ".chain"), 1);

	assert_int_equal(last - first, 4);
	/* Past the size into a cluster outside the file (not a loop). */
	expect_chain_error(last, 7000, "cluster chain runs past 5 clusters (size 10000): cluster %u links to %u",
			   last, 7000);
	/* Free, bad and out-of-range links in the middle. */
	expect_chain_error(first, 0, "cluster %u links to %u (free, bad or outside 2..",
			   first, 0);
	expect_chain_error(first + 1, 0xfff7, "cluster %u links to %u (free, bad",
			   first + 1, 0xfff7);
	expect_chain_error(first + 2, 1, "cluster %u links to %u", first + 2, 1);
	expect_chain_error(first + 2, 60000, "cluster %u links to %u",
			   first + 2, 60000);
	/* A loop inside the chain, not back to the start. */
	expect_chain_error(first + 3, (uint16_t)(first + 1),
			   "cluster chain loops: cluster %u links back to %u",
			   first + 3, first + 1);
}

/*
 * FAT32 with mirroring off reads the active FAT (BPB_ExtFlags). The two
 * copies are made to differ, FAT 0 wiped, so a driver that ignored the bits
 * (and read FAT 0) would fail on the file, and one that always took the
 * last copy would pass the mirrored case it must fail.
 */
static bool frag_readable(struct mounted *m, uint8_t *buf)
{
	struct fs_file *f;
	bool ok;

	assert_int_equal(fs_mount(&m->bd, &m->fs), 0);
	ok = m->fs->ops->open(m->fs, "/frag.bin", &f) == 0;
	if (ok) {
		ok = m->fs->ops->read(f, 0, buf, m->fs->ops->size(f)) == 0;
		m->fs->ops->close(f);
	}
	fs_unmount(m->fs);
	m->fs = NULL;
	return ok;
}

static void test_fat32_active_fat(void **state)
{
	struct mounted m = { 0 };
	uint8_t *got = malloc(1 << 20);
	uint32_t rsvd, fat_sz;

	load_mem("fat32", &m);
	rsvd = get_le16(m.mem + 14);
	fat_sz = get_le32(m.mem + 36);
	assert_int_equal(m.mem[16], 2); /* two FATs */
	/* Wipe FAT 0 past its two reserved entries and the root's cluster. */
	memset(m.mem + rsvd * 512 + 12, 0, fat_sz * 512 - 12);

	put_le16(m.mem + 40, 0x81);     /* mirroring off, FAT 1 active */
	assert_int_equal(fs_mount(&m.bd, &m.fs), 0);
	check_file(m.fs, "frag.bin");
	fs_unmount(m.fs);
	m.fs = NULL;

	put_le16(m.mem + 40, 0x80);     /* mirroring off, FAT 0 active */
	assert_false(frag_readable(&m, got));
	put_le16(m.mem + 40, 0x01);     /* mirrored: FAT 0, whatever bits 0-3 say */
	assert_false(frag_readable(&m, got));
	put_le16(m.mem + 40, 0x81);
	assert_true(frag_readable(&m, got));

	m.fs = NULL;
	file_bdev_close(&m.bd);
	free(m.mem);
	free(got);
}

/* A FAT32 root directory whose chain loops. */
static void test_fat32_root_loop(void **state)
{
	struct mounted m = { 0 };
	struct fs_file *f;
	uint32_t rsvd, root;
	struct listing *l = calloc(1, sizeof(*l));

	load_mem("fat32", &m);
	rsvd = get_le16(m.mem + 14);
	root = get_le32(m.mem + 44);
	/* root -> root */
	put_le32(m.mem + rsvd * 512 + root * 4, root);
	assert_int_equal(fs_mount(&m.bd, &m.fs), 0);
	assert_int_equal(m.fs->ops->open(m.fs, "/hello.txt", &f), -VQ_ECORRUPT);
	assert_int_equal(m.fs->ops->list(m.fs, "/", collect, l), -VQ_ECORRUPT);
	assert_true(host_log_contains("loops"));
	unmount(&m);
	free(l);
}

/* ---- the lookup's caches -------------------------------------------------- */

static uint64_t calls_reading(struct mounted *m, const char *rel)
{
	struct bdev_counts a, b;

	bdev_counts_get(&m->bd, &a);
	check_file(m->fs, rel);
	bdev_counts_get(&m->bd, &b);
	return b.calls - a.calls;
}

/* The lookup keeps the directory path it resolved last and the directories
 * it searched: a second file of a directory costs the search of that
 * directory alone, and paths that look alike but are not stay apart. */
static void test_lookup_cache(void **state)
{
	static const char deep[] = "deep/a/b/c/d/e/f/deep.txt";

	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct fs_file *f;
		uint64_t first, again, sibling, other;
		char path[400];

		mount_file(image_path(variants[i].name, ".img"), &m);
		first = calls_reading(&m, deep);
		again = calls_reading(&m, deep);
		/* Eight directories, then one: f's search and the file. */
		assert_true(again * 3 <= first);
		first = calls_reading(&m, "many/file_000.txt");
		sibling = calls_reading(&m, "many/file_099.txt");
		assert_true(sibling < first);
		/* The same directory by other bytes: found again, same file. */
		other = calls_reading(&m, "many/./file_057.txt");
		check_path(m.fs, "/MANY/file_057.txt", "many/file_057.txt");
		check_path(m.fs, "/many/../many/file_057.txt", "many/file_057.txt");
		assert_true(other >= sibling);
		/* ".." of a top-level directory is the root, fixed or not. */
		check_path(m.fs, "/EFI/../hello.txt", "hello.txt");
		check_path(m.fs, "/EFI/BOOT/../../hello.txt", "hello.txt");
		check_path(m.fs, "/EFI/BOOT/../BOOT/BOOTX64.EFI", "EFI/BOOT/BOOTX64.EFI");
		check_path(m.fs, "/deep/a/b/c/../../../../loader/entries/debian-6.1.0-13-amd64.conf",
			   "loader/entries/debian-6.1.0-13-amd64.conf");
		/* A failure keeps nothing; a file is no directory, twice. */
		for (int k = 0; k < 2; k++) {
			assert_int_equal(m.fs->ops->open(m.fs, "/none/x", &f), -VQ_ENOENT);
			assert_int_equal(m.fs->ops->open(m.fs, "/hello.txt/x", &f),
					 -VQ_ENOTDIR);
			assert_int_equal(m.fs->ops->open(m.fs, "/EFI/BOOT/nope", &f),
					 -VQ_ENOENT);
			assert_int_equal(m.fs->ops->open(m.fs, "/EFI/BOOT", &f),
					 -VQ_EINVAL);
		}
		check_file(m.fs, "EFI/BOOT/BOOTX64.EFI");
		/* "/many" and "/many/" name the same directory; "/man" none. */
		assert_int_equal(m.fs->ops->open(m.fs, "/man/file_000.txt", &f),
				 -VQ_ENOENT);
		check_path(m.fs, "/many//file_000.txt", "many/file_000.txt");
		/* A directory path longer than the cache keeps is still found. */
		snprintf(path, sizeof(path), "/");
		for (int k = 0; k < 150; k++)
			strcat(path, "./");
		strcat(path, "deep/a/b/c/d/e/f/deep.txt");
		check_path(m.fs, path, deep);
		check_path(m.fs, path, deep);
		unmount(&m);
	}
}

struct nested {
	struct fs *fs;
	const char *skip; /* tree files under this are not read */
	unsigned seen;
};

/* Files of the tree read from inside a listing's callback: more
 * directories than the lookup keeps, and (when @skip is the listed one)
 * none of them the directory being listed, which then is the least
 * recently used and must stay. */
static int read_tree_fn(void *ctx, const struct fs_dirent *e)
{
	struct nested *n = ctx;

	(void)e;
	for (size_t j = 0; j < sizeof(tree_files) / sizeof(*tree_files); j++)
		if (!n->skip || strncmp(tree_files[j], n->skip, strlen(n->skip)))
			check_file(n->fs, tree_files[j]);
	check_path(n->fs, "/deep/a/b/c/d/e/../../../../../../hello.txt",
		   "hello.txt");
	n->seen++;
	return 0;
}

static void test_lookup_in_listing(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		struct mounted m = { 0 };
		struct nested n = { 0 };
		struct listing *l = calloc(1, sizeof(*l));

		mount_file(image_path(variants[i].name, ".img"), &m);
		n.fs = m.fs;
		n.skip = "deep/a/b/c/d/e/f/";
		assert_int_equal(m.fs->ops->list(m.fs, "/deep/a/b/c/d/e/f",
						 read_tree_fn, &n), 0);
		assert_int_equal(n.seen, 1);
		n.seen = 0;
		n.skip = NULL;
		assert_int_equal(m.fs->ops->list(m.fs, "/", read_tree_fn, &n), 0);
		assert_int_equal(n.seen, 18);
		assert_int_equal(m.fs->ops->list(m.fs, "/MANY", collect, l), 0);
		assert_int_equal(l->n, 100);
		unmount(&m);
		free(l);
	}
}

/* ---- long-name entries crafted into the FAT16 root --------------------- */

struct crafted {
	struct mounted m;
	uint8_t *next;      /* next free root slot */
	uint16_t cluster;   /* hello.txt's data, reused by every entry */
	uint32_t size;
};

static uint8_t sfn_checksum(const char *sfn)
{
	uint8_t sum = 0;

	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + (uint8_t)sfn[i]);
	return sum;
}

static void put_lfn(struct crafted *c, unsigned ord, uint8_t sum,
		    const uint16_t *name, size_t len, unsigned seq)
{
	static const uint8_t offs[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22,
					  24, 28, 30 };
	uint8_t *e = c->next;

	memset(e, 0, 32);
	e[0] = (uint8_t)ord;
	e[11] = 0x0f;
	e[13] = sum;
	for (size_t i = 0; i < 13; i++) {
		size_t k = (seq - 1) * 13 + i;

		put_le16(e + offs[i], k < len ? name[k] : k == len ? 0 : 0xffff);
	}
	c->next += 32;
}

static void put_sfn(struct crafted *c, const char *sfn)
{
	uint8_t *e = c->next;

	memset(e, 0, 32);
	memcpy(e, sfn, 11);
	e[11] = 0x20;
	put_le16(e + 26, c->cluster);
	put_le32(e + 28, c->size);
	c->next += 32;
}

/* A whole long name (ASCII @text, or @units when given) before @sfn. */
static void put_named(struct crafted *c, const char *text,
		      const uint16_t *units, size_t len, const char *sfn)
{
	uint16_t buf[260];
	unsigned n;

	if (!units) {
		len = strlen(text);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)text[i];
		units = buf;
	}
	n = (unsigned)((len + 12) / 13);
	for (unsigned seq = n; seq >= 1; seq--)
		put_lfn(c, seq | (seq == n ? 0x40 : 0), sfn_checksum(sfn),
			units, len, seq);
	put_sfn(c, sfn);
}

static void crafted_open(struct crafted *c)
{
	uint8_t *mem, *root;
	uint32_t root_off;

	memset(c, 0, sizeof(*c));
	load_mem("fat16", &c->m);
	mem = c->m.mem;
	root_off = (get_le16(mem + 14) + mem[16] * get_le16(mem + 22)) * 512;
	root = mem + root_off;
	for (uint8_t *e = root; e[0]; e += 32)
		if (!memcmp(e, "HELLO   TXT", 11)) {
			c->cluster = get_le16(e + 26);
			c->size = get_le32(e + 28);
		}
	assert_int_not_equal(c->cluster, 0);
	for (c->next = root; c->next[0]; c->next += 32)
		;
}

static void test_crafted_long_names(void **state)
{
	static const uint16_t surrogate[] = { 'x', 0xd83d, 0xde00, 'y', '.',
					      't', 'x', 't' };
	static const uint16_t unpaired[] = { 'a', 0xdc00, 'b' };
	static const uint16_t lone_high[] = { 'c', 0xd800 };
	struct listing *l = calloc(1, sizeof(*l));
	struct crafted c;
	uint16_t units[40];
	struct fs_file *f;

	crafted_open(&c);
	put_named(&c, NULL, surrogate, 8, "SURR    TXT");
	put_named(&c, NULL, unpaired, 3, "UNPAIR     ");
	put_named(&c, NULL, lone_high, 2, "LONEHI     ");
	/* Checksum of another short name. */
	put_named(&c, "checksum-mismatch.txt", NULL, 0, "CHECKS~1TXT");
	c.next[-32 * 2 + 13] ^= 1;
	/* Consistent long entries, but for another short name. */
	put_named(&c, "short-name-changed.txt", NULL, 0, "SHORTN~1TXT");
	c.next[-32 + 7] = '9';
	/* Sequence 2 then 2 again instead of 1. */
	for (size_t i = 0; i < 23; i++)
		units[i] = (uint16_t)"ordering-test-long-name"[i];
	put_lfn(&c, 0x42, sfn_checksum("ORDERI~1   "), units, 23, 2);
	put_lfn(&c, 0x02, sfn_checksum("ORDERI~1   "), units, 23, 2);
	put_sfn(&c, "ORDERI~1   ");
	/* A middle entry with no LAST entry before it. */
	put_lfn(&c, 0x01, sfn_checksum("ORPHAN  TXT"), units, 23, 1);
	put_sfn(&c, "ORPHAN  TXT");
	/* A deleted entry interrupts the sequence. */
	put_lfn(&c, 0x42, sfn_checksum("DELETE~1TXT"), units, 23, 2);
	put_sfn(&c, "\xe5" "ELETE~1TXT");
	put_lfn(&c, 0x01, sfn_checksum("DELETE~1TXT"), units, 23, 1);
	put_sfn(&c, "DELETE~1TXT");
	/* The cluster field of a long entry must be 0. */
	put_named(&c, "cluster-field.txt", NULL, 0, "CLUSTE~1TXT");
	put_le16(c.next - 64 + 26, 5);
	/* After all that, a good two-entry name still works. */
	put_named(&c, "Valid Two Entry Name.txt", NULL, 0, "VALIDT~1TXT");
	assert_int_equal(fs_mount(&c.m.bd, &c.m.fs), 0);

	assert_int_equal(c.m.fs->ops->list(c.m.fs, "/", collect, l), 0);
	static const char *const want[] = {
		"x\xf0\x9f\x98\x80y.txt", "a?b", "c?", "CHECKS~1.TXT", "ORDERI~1",
		"ORPHAN.TXT", "DELETE~1.TXT", "CLUSTE~1.TXT", "SHORTN~9.TXT",
		"Valid Two Entry Name.txt",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (find_name(l, want[i]) < 0)
			fail_msg("no \"%s\" in the crafted root", want[i]);
	check_path(c.m.fs, "/x\xf0\x9f\x98\x80Y.TXT", "hello.txt");
	check_path(c.m.fs, "/surr.txt", "hello.txt");
	check_path(c.m.fs, "/valid two entry name.txt", "hello.txt");
	check_path(c.m.fs, "/CHECKS~1.TXT", "hello.txt");
	assert_int_equal(c.m.fs->ops->open(c.m.fs, "/checksum-mismatch.txt", &f),
			 -VQ_ENOENT);
	assert_int_equal(c.m.fs->ops->open(c.m.fs, "/ordering-test-long-name", &f),
			 -VQ_ENOENT);
	unmount(&c.m);
	free(l);
}

/* Short names as listed: trailing spaces go, the NT flags lower-case the
 * base or the extension, bytes outside printable ASCII (0x05, which stands
 * for a leading 0xE5, too) become '?'; and a lookup finds each by its
 * listed name in any case. */
static void test_crafted_short_names(void **state)
{
	static const struct {
		const char *sfn;
		uint8_t nt;
		const char *want;
	} cases[] = {
		{ "PLAIN   TXT", 0x00, "PLAIN.TXT" },
		{ "LOWBASE TXT", 0x08, "lowbase.TXT" },
		{ "LOWEXT  TXT", 0x10, "LOWEXT.txt" },
		{ "BOTH1@Z C_Z", 0x18, "both1@z.c_z" },
		{ "NOEXT      ", 0x00, "NOEXT" },
		{ "A B     X Y", 0x00, "A B.X Y" },
		{ "\x05LEAD   TXT", 0x00, "?LEAD.TXT" },
		{ "HI\x80\xff\x1f   B\x7f ", 0x08, "hi???.B\x7f" },
		{ "        EXT", 0x00, ".EXT" },
		{ "[\\]^_`{|}~!", 0x18, "[\\]^_`{|.}~!" },
	};
	struct listing *l = calloc(1, sizeof(*l));
	struct crafted c;
	char path[32];

	crafted_open(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		put_sfn(&c, cases[i].sfn);
		c.next[-32 + 12] = cases[i].nt;
	}
	assert_int_equal(fs_mount(&c.m.bd, &c.m.fs), 0);
	assert_int_equal(c.m.fs->ops->list(c.m.fs, "/", collect, l), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (find_name(l, cases[i].want) < 0)
			fail_msg("no \"%s\" in the crafted root", cases[i].want);
		snprintf(path, sizeof(path), "/%s", cases[i].want);
		check_path(c.m.fs, path, "hello.txt");
	}
	check_path(c.m.fs, "/Both1@Z.C_z", "hello.txt");
	unmount(&c.m);
	free(l);
}

static void test_no_fs(void **state)
{
	struct blockdev bd;
	struct fs *fs = (struct fs *)0x1;

	assert_int_equal(file_bdev_open(test_image("pf_zero.img"), 512, &bd), 0);
	assert_int_equal(fs_mount(&bd, &fs), -VQ_ENOENT);
	assert_ptr_equal(fs, (struct fs *)0x1);
	file_bdev_close(&bd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mount_types),
		cmocka_unit_test(test_tree_contents),
		cmocka_unit_test(test_case_and_short_names),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_read_ranges),
		cmocka_unit_test(test_unaligned_reads),
		cmocka_unit_test(test_fragmented_coalesced),
		cmocka_unit_test(test_list_root),
		cmocka_unit_test(test_list_subdirs),
		cmocka_unit_test(test_lookup_cache),
		cmocka_unit_test(test_lookup_in_listing),
		cmocka_unit_test(test_chain_loop),
		cmocka_unit_test(test_chain_short),
		cmocka_unit_test(test_chain_errors),
		cmocka_unit_test(test_bad_bpb),
		cmocka_unit_test(test_fat32_active_fat),
		cmocka_unit_test(test_fat32_root_loop),
		cmocka_unit_test(test_crafted_long_names),
		cmocka_unit_test(test_crafted_short_names),
		cmocka_unit_test(test_no_fs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
