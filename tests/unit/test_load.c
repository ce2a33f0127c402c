/* SPDX-License-Identifier: MIT */
/*
 * boot/load.c on its own, over an in-memory file system whose reads can fail
 * at a chosen byte and take a chosen time: the kernel and initrds as read,
 * the initrd padding, the command line and the kernel's limit, the adaptive
 * read size and the progress it reports, and every failure leaving nothing
 * allocated and naming the file (the same cases through real disk images are
 * in test_scan).
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
#include "boot/load.h"
#include "tests/support/host_platform.h"
#include "tests/support/pe_image.h"

/* ---- an in-memory file system ------------------------------------------ */

#define MEM_FILES 8

struct mem_file_def {
	const char *path;
	const uint8_t *data;
	size_t size;
};

static struct {
	struct mem_file_def files[MEM_FILES];
	unsigned nfiles;
	const char *fail_path;   /* reads of this file fail ... */
	uint64_t fail_at;        /* ... once they reach this byte */
	uint64_t us_per_byte_x1000; /* fake read time: 1000 = 1 us a byte */
	unsigned reads;
	size_t max_read;
	unsigned min_chunk_reads; /* reads of exactly LOAD_CHUNK_MIN */
	unsigned open_files;
} mem;

struct fs_file {
	const struct mem_file_def *def;
};

static int mem_open(struct fs *fs, const char *path, struct fs_file **ret)
{
	(void)fs;
	for (unsigned i = 0; i < mem.nfiles; i++) {
		if (strcmp(mem.files[i].path, path))
			continue;
		*ret = calloc(1, sizeof(**ret));
		(*ret)->def = &mem.files[i];
		mem.open_files++;
		return 0;
	}
	return -VQ_ENOENT;
}

static int mem_read(struct fs_file *f, uint64_t off, void *buf, size_t len)
{
	mem.reads++;
	if (len > mem.max_read)
		mem.max_read = len;
	mem.min_chunk_reads += len == LOAD_CHUNK_MIN;
	host_clock_advance(len * mem.us_per_byte_x1000 / 1000);
	if (off > f->def->size || len > f->def->size - off)
		return -VQ_ERANGE;
	if (mem.fail_path && !strcmp(mem.fail_path, f->def->path) &&
	    off + len > mem.fail_at)
		return -VQ_EIO;
	memcpy(buf, f->def->data + off, len);
	return 0;
}

static uint64_t mem_size(const struct fs_file *f) { return f->def->size; }

static void mem_close(struct fs_file *f)
{
	mem.open_files--;
	free(f);
}

static const struct fs_ops mem_ops = {
	.name = "mem", .open = mem_open, .read = mem_read, .size = mem_size,
	.close = mem_close,
};

static struct fs mem_fs = { .ops = &mem_ops };

static void mem_add(const char *path, const void *data, size_t size)
{
	assert_true(mem.nfiles < MEM_FILES);
	mem.files[mem.nfiles++] = (struct mem_file_def){ path, data, size };
}

/* ---- fixture: one volume, the synthetic kernel, an entry ------------------ */

static uint8_t kernel[PE_IMAGE_SIZE];
static struct boot_scan scan;
static struct bls_entry ent;

static int setup(void **state)
{
	(void)state;
	memset(&mem, 0, sizeof(mem));
	memset(&scan, 0, sizeof(scan));
	scan.nvols = 1;
	scan.vols[0].fs = &mem_fs;
	snprintf(scan.vols[0].name, sizeof(scan.vols[0].name), "mem p1");
	pe_image_linux(kernel, sizeof(kernel));
	mem_add("/vmlinuz", kernel, sizeof(kernel));
	memset(&ent, 0, sizeof(ent));
	snprintf(ent.id, sizeof(ent.id), "t");
	snprintf(ent.linux_path, sizeof(ent.linux_path), "/vmlinuz");
	snprintf(ent.options, sizeof(ent.options), "root=/dev/vda1 quiet");
	ent.tries_left = -1;
	host_clock_set_auto_advance(0);
	host_log_clear();
	return 0;
}

static void add_initrd(const char *path)
{
	snprintf(ent.initrd[ent.initrd_count++], BLS_PATH_MAX, "%s", path);
}

/* ---- counting allocator -------------------------------------------------- */

struct counter {
	unsigned allocs, frees, fail_at; /* fail_at: 1-based alloc to refuse */
	size_t live;
};

static int count_alloc(void *ctx, size_t size, void **ret)
{
	struct counter *c = ctx;

	if (c->fail_at && c->allocs + 1 == c->fail_at)
		return -VQ_ENOMEM;
	c->allocs++;
	c->live += size;
	*ret = malloc(size);
	return 0;
}

static void count_free(void *ctx, void *p, size_t size)
{
	struct counter *c = ctx;

	c->frees++;
	c->live -= size;
	free(p);
}

struct progress {
	unsigned calls;
	uint64_t last_done, total;
	bool backwards;
};

static struct progress prog;

static void record_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)ctx;
	if (done < prog.last_done || (prog.calls && total != prog.total))
		prog.backwards = true;
	prog.calls++;
	prog.last_done = done;
	prog.total = total;
}

static struct load_ops ops_for(struct counter *c)
{
	*c = (struct counter){ 0 };
	prog = (struct progress){ 0 };
	return (struct load_ops){ count_alloc, count_free, record_progress, c };
}

/* ---- cases ----------------------------------------------------------------- */

static void test_kernel_and_padded_initrds(void **state)
{
	static const uint8_t a[5] = "abcde", b[1] = "Z", c4[4] = "wxyz";
	static const uint8_t want[16] = "abcde\0\0\0Z\0\0\0wxyz";
	struct counter c;
	struct load_ops ops = ops_for(&c);
	struct loaded_entry *l = malloc(sizeof(*l));

	(void)state;
	mem_add("/a.img", a, sizeof(a));
	mem_add("/b.img", b, sizeof(b));
	mem_add("/c.img", c4, sizeof(c4));
	add_initrd("/a.img");
	add_initrd("/b.img");
	add_initrd("/c.img");
	assert_int_equal(load_entry(&scan, &ent, "console=ttyS0", &ops, l), 0);
	assert_memory_equal(l->image, kernel, sizeof(kernel));
	assert_int_equal(l->initrd_size, sizeof(want));
	assert_memory_equal(l->initrd, want, sizeof(want));
	assert_string_equal(l->cmdline, "root=/dev/vda1 quiet console=ttyS0");
	assert_string_equal(l->image_name, "/vmlinuz on mem p1");
	/* The bytes read, not the padding written. */
	assert_int_equal(l->bytes, sizeof(kernel) + 5 + 1 + 4);
	assert_int_equal(prog.last_done, l->bytes);
	assert_int_equal(prog.total, l->bytes);
	assert_false(prog.backwards);
	assert_int_equal(mem.open_files, 0);
	load_free(l, &ops);
	assert_int_equal(c.allocs, 2);
	assert_int_equal(c.frees, 2);
	assert_int_equal(c.live, 0);
	free(l);
}

static void expect_fails(const char *append, struct counter *c, int want,
			 const char *needle)
{
	unsigned fail_at = c->fail_at;
	struct load_ops ops = ops_for(c);
	struct loaded_entry *l = malloc(sizeof(*l));

	c->fail_at = fail_at;
	host_log_clear();
	assert_int_equal(load_entry(&scan, &ent, append, &ops, l), want);
	assert_null(l->image);
	assert_null(l->initrd);
	assert_int_equal(c->live, 0);
	assert_int_equal(c->frees, c->allocs);
	assert_int_equal(mem.open_files, 0);
	if (!host_log_contains(needle))
		fail_msg("log lacks '%s'; last: %s", needle, host_log_last());
	free(l);
}

static void test_read_error_names_file_and_byte(void **state)
{
	static uint8_t big[3 << 20];
	struct counter c = { 0 };

	(void)state;
	mem_add("/big.img", big, sizeof(big));
	add_initrd("/big.img");
	mem.fail_path = "/big.img";
	mem.fail_at = 2 << 20;
	expect_fails(NULL, &c, -VQ_EIO, "/big.img on mem p1: read failed at byte");
	/* The kernel was read and freed again. */
	assert_int_equal(c.allocs, 2);

	mem.fail_path = "/vmlinuz";
	mem.fail_at = 100;
	c = (struct counter){ 0 };
	expect_fails(NULL, &c, -VQ_EIO, "/vmlinuz on mem p1: read failed at byte 0");
}

static void test_alloc_failures(void **state)
{
	static const uint8_t a[8] = "initrd!";
	struct counter c = { .fail_at = 1 };

	(void)state;
	mem_add("/a.img", a, sizeof(a));
	add_initrd("/a.img");
	expect_fails(NULL, &c, -VQ_ENOMEM, "cannot allocate");
	c = (struct counter){ .fail_at = 2 };
	expect_fails(NULL, &c, -VQ_ENOMEM, "entry t: cannot allocate 8 bytes for initrds");
	assert_int_equal(c.allocs, 1);
}

static void test_missing_and_empty(void **state)
{
	static const uint8_t none[1];
	struct counter c = { 0 };

	(void)state;
	add_initrd("/nope.img");
	expect_fails(NULL, &c, -VQ_ENOENT, "/nope.img on mem p1: cannot open");
	assert_int_equal(c.allocs, 0);
	ent.initrd_count = 0;
	mem_add("/empty.img", none, 0);
	add_initrd("/empty.img");
	expect_fails(NULL, &c, -VQ_ECORRUPT, "/empty.img on mem p1: unusable size 0");
	ent.initrd_count = 0;
	snprintf(ent.linux_path, sizeof(ent.linux_path), "/missing-kernel");
	expect_fails(NULL, &c, -VQ_ENOENT, "/missing-kernel on mem p1: cannot open");
}

static void test_not_a_kernel(void **state)
{
	static uint8_t junk[4096];
	struct counter c = { 0 };

	(void)state;
	memset(junk, 0x90, sizeof(junk));
	mem_add("/junk", junk, sizeof(junk));
	snprintf(ent.linux_path, sizeof(ent.linux_path), "/junk");
	expect_fails(NULL, &c, -VQ_ECORRUPT, "/junk on mem p1");
	assert_int_equal(c.allocs, 1);

	/* A kernel for another machine is refused by name. */
	static uint8_t arm[PE_IMAGE_SIZE];
	memcpy(arm, kernel, sizeof(arm));
	uint32_t pe_off;
	memcpy(&pe_off, arm + 0x3c, 4);
	arm[pe_off + 4] = 0x64, arm[pe_off + 5] = 0xaa; /* IMAGE_FILE_MACHINE_ARM64 */
	mem_add("/arm", arm, sizeof(arm));
	snprintf(ent.linux_path, sizeof(ent.linux_path), "/arm");
	c = (struct counter){ 0 };
	expect_fails(NULL, &c, -VQ_ENOTSUP, "/arm on mem p1: machine 0xaa64 (arm64) cannot run here");
}

static void test_cmdline_against_kernel_limit(void **state)
{
	struct counter c = { 0 };
	char *append = malloc(LOAD_CMDLINE_MAX + 1);
	size_t base = strlen(ent.options) + 1;

	(void)state;
	memset(append, 'q', PE_IMAGE_CMDLINE_MAX - base + 1);
	append[PE_IMAGE_CMDLINE_MAX - base + 1] = 0;
	expect_fails(append, &c, -VQ_E2BIG, "the kernel accepts 2047");
	memset(append, 'q', LOAD_CMDLINE_MAX);
	append[LOAD_CMDLINE_MAX] = 0;
	c = (struct counter){ 0 };
	mem.reads = 0;
	host_log_clear();
	struct load_ops ops = ops_for(&c);
	struct loaded_entry *l = malloc(sizeof(*l));
	assert_int_equal(load_entry(&scan, &ent, append, &ops, l), -VQ_E2BIG);
	/* Refused before anything was read or allocated. */
	assert_int_equal(c.allocs, 0);
	assert_int_equal(mem.reads, 0);
	free(l);
	free(append);
}

/*
 * The read size adapts: a disk that takes 1 us a byte (1 MB/s) gets reads
 * of LOAD_CHUNK_MIN so the bar moves; a fast one grows to LOAD_CHUNK_MAX.
 */
static void test_read_size_adapts(void **state)
{
	static uint8_t big[40 << 20];
	struct counter c;
	struct load_ops ops;
	struct loaded_entry *l = malloc(sizeof(*l));

	(void)state;
	mem_add("/big.img", big, sizeof(big));
	add_initrd("/big.img");
	mem.us_per_byte_x1000 = 1000;
	ops = ops_for(&c);
	assert_int_equal(load_entry(&scan, &ent, NULL, &ops, l), 0);
	/* Each read takes far over LOAD_STEP_US: the size halves to the floor
	 * and stays there, and the bar gets a call every read. */
	assert_true(mem.min_chunk_reads > 80);
	assert_true(prog.calls > (40u << 20) / LOAD_CHUNK_MIN / 2);
	load_free(l, &ops);
	unsigned slow_calls = prog.calls;

	mem.us_per_byte_x1000 = 0;
	mem.max_read = 0;
	ops = ops_for(&c);
	assert_int_equal(load_entry(&scan, &ent, NULL, &ops, l), 0);
	assert_int_equal(mem.max_read, LOAD_CHUNK_MAX);
	assert_true(prog.calls < slow_calls);
	load_free(l, &ops);
	free(l);
}

/* Initrds left on the disk: opened and sized, read later into a buffer
 * the caller passes, as often as asked, padding and all. */
static void test_deferred_initrds(void **state)
{
	static const uint8_t a[5] = "abcde", b[1] = "Z", c4[4] = "wxyz";
	static const uint8_t want[16] = "abcde\0\0\0Z\0\0\0wxyz";
	struct counter c;
	struct load_ops ops = ops_for(&c);
	struct loaded_entry *l = malloc(sizeof(*l));
	uint8_t buf[sizeof(want) + 8];
	unsigned reads;

	(void)state;
	mem_add("/a.img", a, sizeof(a));
	mem_add("/b.img", b, sizeof(b));
	mem_add("/c.img", c4, sizeof(c4));
	add_initrd("/a.img");
	add_initrd("/b.img");
	add_initrd("/c.img");
	assert_int_equal(load_entry_flags(&scan, &ent, NULL, &ops, LOAD_DEFER_INITRDS, l), 0);
	assert_true(l->initrd_deferred);
	assert_null(l->initrd);
	assert_int_equal(l->initrd_size, sizeof(want));
	assert_int_equal(l->initrd_count, 3);
	assert_int_equal(l->initrd_sizes[0], 5);
	assert_string_equal(l->initrd_paths[2], "/c.img");
	assert_string_equal(l->initrd_vol, "mem p1");
	/* Only the kernel read and allocated; the bar ends full all the same. */
	assert_int_equal(l->bytes, sizeof(kernel));
	assert_int_equal(c.allocs, 1);
	assert_int_equal(prog.last_done, prog.total);
	assert_int_equal(mem.open_files, 3);
	reads = mem.reads;

	/* Too small: refused, nothing read, nothing written. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(load_initrds_into(l, buf, sizeof(want) - 1), -VQ_ENOSPC);
	assert_int_equal(mem.reads, reads);
	assert_int_equal(buf[0], 0xee);

	for (int round = 0; round < 2; round++) {
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(load_initrds_into(l, buf, sizeof(buf)), 0);
		assert_memory_equal(buf, want, sizeof(want));
		for (size_t i = sizeof(want); i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xee);
		assert_true(mem.reads >= reads + 3);
		reads = mem.reads;
	}
	load_free(l, &ops);
	assert_int_equal(mem.open_files, 0);
	assert_int_equal(c.live, 0);
	assert_int_equal(c.frees, c.allocs);
	load_free(l, &ops);
	assert_int_equal(mem.open_files, 0);
	free(l);
}

static void test_deferred_read_error_names_file(void **state)
{
	static uint8_t big[3 << 20];
	static uint8_t buf[3 << 20];
	struct counter c;
	struct load_ops ops = ops_for(&c);
	struct loaded_entry *l = malloc(sizeof(*l));

	(void)state;
	mem_add("/big.img", big, sizeof(big));
	add_initrd("/big.img");
	assert_int_equal(load_entry_flags(&scan, &ent, NULL, &ops, LOAD_DEFER_INITRDS, l), 0);
	mem.fail_path = "/big.img";
	mem.fail_at = 2 << 20;
	host_log_clear();
	assert_int_equal(load_initrds_into(l, buf, sizeof(buf)), -VQ_EIO);
	if (!host_log_contains("/big.img on mem p1: read failed at byte"))
		fail_msg("log lacks the file; last: %s", host_log_last());
	/* The disk recovers: a second call reads it all. */
	mem.fail_path = NULL;
	assert_int_equal(load_initrds_into(l, buf, sizeof(buf)), 0);
	load_free(l, &ops);
	assert_int_equal(mem.open_files, 0);
	assert_int_equal(c.live, 0);
	free(l);
}

/* An `efi` entry's image is no Linux kernel asking through LoadFile2: its
 * initrds are read at once, flag or not; without initrds nothing is left
 * open; and without the flag nothing is deferred. */
static void test_deferred_only_for_linux(void **state)
{
	static const uint8_t a[5] = "abcde";
	struct counter c;
	struct load_ops ops = ops_for(&c);
	struct loaded_entry *l = malloc(sizeof(*l));
	uint8_t buf[8];

	(void)state;
	assert_int_equal(load_entry_flags(&scan, &ent, NULL, &ops, LOAD_DEFER_INITRDS, l), 0);
	assert_false(l->initrd_deferred);
	assert_int_equal(l->initrd_size, 0);
	assert_int_equal(load_initrds_into(l, buf, sizeof(buf)), -VQ_EINVAL);
	load_free(l, &ops);

	mem_add("/a.img", a, sizeof(a));
	add_initrd("/a.img");
	assert_int_equal(load_entry(&scan, &ent, NULL, &ops, l), 0);
	assert_false(l->initrd_deferred);
	assert_non_null(l->initrd);
	load_free(l, &ops);

	snprintf(ent.efi_path, sizeof(ent.efi_path), "/vmlinuz");
	ent.linux_path[0] = 0;
	assert_int_equal(load_entry_flags(&scan, &ent, NULL, &ops, LOAD_DEFER_INITRDS, l), 0);
	assert_false(l->initrd_deferred);
	assert_non_null(l->initrd);
	assert_memory_equal(l->initrd, a, sizeof(a));
	load_free(l, &ops);
	assert_int_equal(mem.open_files, 0);
	assert_int_equal(c.live, 0);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_kernel_and_padded_initrds, setup),
		cmocka_unit_test_setup(test_read_error_names_file_and_byte, setup),
		cmocka_unit_test_setup(test_alloc_failures, setup),
		cmocka_unit_test_setup(test_missing_and_empty, setup),
		cmocka_unit_test_setup(test_not_a_kernel, setup),
		cmocka_unit_test_setup(test_cmdline_against_kernel_limit, setup),
		cmocka_unit_test_setup(test_read_size_adapts, setup),
		cmocka_unit_test_setup(test_deferred_initrds, setup),
		cmocka_unit_test_setup(test_deferred_read_error_names_file, setup),
		cmocka_unit_test_setup(test_deferred_only_for_linux, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
