/* SPDX-License-Identifier: MIT */
/*
 * The entry scanner and loader on generated disks (mk_scan.sh): entries and
 * loader.conf from an ESP, a kernel (the synthetic PE of support/pe_image)
 * with two initrds loaded through counting allocators, failures that must
 * leave nothing allocated, the kernel's command-line limit, automatic
 * entries on a plain ext4 root, and a blank disk.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/err.h"
#include "boot/load.h"
#include "boot/scan.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "tests/support/pe_image.h"

#define ESP_OFFSET (2048 * 512)  /* mk_scan.sh puts each partition here */

/* ---- fixtures -------------------------------------------------------------- */

static char *image_path(const char *name)
{
	char *path = strdup(test_image(name));

	if (access(path, R_OK))
		fail_msg("test image %s missing: run tests/unit/run.sh", path);
	return path;
}

static void run_or_fail(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static uint8_t kernel[PE_IMAGE_SIZE];

/* scan_esp.img copied, with the synthetic kernel as /vmlinuz. */
struct esp_fixture {
	char disk[64];
	char pe[64];
	struct blockdev bd;
	struct boot_scan s;
};

static void make_temp(char *buf, size_t size, const char *tag)
{
	int fd;

	snprintf(buf, size, "/tmp/vq_scan_%s_XXXXXX", tag);
	fd = mkstemp(buf);
	assert_true(fd >= 0);
	close(fd);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int esp_setup(void **state)
{
	struct esp_fixture *x = calloc(1, sizeof(*x));
	char *src = image_path("scan_esp.img");
	char cmd[512];

	make_temp(x->disk, sizeof(x->disk), "disk");
	make_temp(x->pe, sizeof(x->pe), "pe");
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, x->disk);
	run_or_fail(cmd);
	free(src);
	pe_image_linux(kernel, sizeof(kernel));
	write_file(x->pe, kernel, sizeof(kernel));
	snprintf(cmd, sizeof(cmd), "MTOOLS_SKIP_CHECK=1 mcopy -o -i '%s@@%d' '%s' ::/vmlinuz",
		 x->disk, ESP_OFFSET, x->pe);
	run_or_fail(cmd);
	assert_int_equal(file_bdev_open(x->disk, 512, &x->bd), 0);
	scan_init(&x->s);
	assert_int_equal(scan_disk(&x->s, &x->bd, 0), 0);
	scan_finish(&x->s);
	*state = x;
	return 0;
}

static int esp_teardown(void **state)
{
	struct esp_fixture *x = *state;

	scan_free(&x->s);
	file_bdev_close(&x->bd);
	unlink(x->disk);
	unlink(x->pe);
	free(x);
	return 0;
}

static const struct bls_entry *entry(struct boot_scan *s, const char *id)
{
	int i = bls_list_find(&s->entries, id);

	if (i < 0)
		fail_msg("no entry '%s'", id);
	return s->entries.v[i];
}

/* ---- counting allocator and progress recorder ------------------------------ */

#define MAX_PROGRESS 64

struct recorder {
	unsigned allocs, frees;
	size_t sizes[4];
	void *ptrs[4];
	unsigned nprogress;
	uint64_t done[MAX_PROGRESS], total[MAX_PROGRESS];
};

static int rec_alloc(void *ctx, size_t size, void **ret)
{
	struct recorder *r = ctx;
	void *p = malloc(size);

	if (!p)
		return -VQ_ENOMEM;
	if (r->allocs < 4) {
		r->sizes[r->allocs] = size;
		r->ptrs[r->allocs] = p;
	}
	r->allocs++;
	*ret = p;
	return 0;
}

static void rec_free(void *ctx, void *p, size_t size)
{
	struct recorder *r = ctx;
	bool known = false;

	for (unsigned i = 0; i < r->allocs && i < 4; i++)
		known |= r->sizes[i] == size;
	assert_true(known);
	r->frees++;
	free(p);
}

static void rec_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct recorder *r = ctx;

	if (r->nprogress < MAX_PROGRESS) {
		r->done[r->nprogress] = done;
		r->total[r->nprogress] = total;
	}
	r->nprogress++;
}

static struct load_ops rec_ops(struct recorder *r)
{
	*r = (struct recorder){ 0 };
	return (struct load_ops){ .alloc = rec_alloc, .free = rec_free,
				  .progress = rec_progress, .ctx = r };
}

/* ---- the ESP ------------------------------------------------------------------ */

static void test_esp_entries(void **state)
{
	struct esp_fixture *x = *state;
	struct boot_scan *s = &x->s;
	const struct bls_entry *g;
	int def;

	assert_int_equal(s->nvols, 1);
	assert_int_equal(s->vols[0].kind, PART_KIND_ESP);
	assert_int_equal(s->entries.count, 5);
	g = entry(s, "garbage");
	assert_true(g->broken);
	assert_false(bls_entry_bootable(g));
	assert_true(bls_entry_bootable(entry(s, "a")));
	assert_true(bls_entry_bootable(entry(s, "b")));
	assert_int_equal(entry(s, "b")->initrd_count, 2);

	assert_true(s->conf_found);
	assert_true(s->conf_from_esp);
	assert_int_equal(s->conf.timeout_s, 3);
	assert_string_equal(s->conf.default_pattern, "b*");
	def = bls_list_default(&s->entries, s->conf.default_pattern);
	assert_true(def >= 0);
	assert_string_equal(s->entries.v[def]->id, "b");
	/* sort-key a before b, both before the entries without one. */
	assert_true(bls_list_find(&s->entries, "a") < bls_list_find(&s->entries, "b"));
	assert_int_equal(bls_list_find(&s->entries, "a"), 0);
	assert_int_equal(bls_list_find(&s->entries, "b"), 1);
	assert_ptr_equal(scan_entry_volume(s, entry(s, "b")), &s->vols[0]);
}

static void test_load_b(void **state)
{
	struct esp_fixture *x = *state;
	static const char want_initrd[12] = "hello\0\0\0abc";
	struct recorder r;
	struct load_ops ops = rec_ops(&r);
	struct loaded_entry *l = malloc(sizeof(*l));

	assert_int_equal(load_entry(&x->s, entry(&x->s, "b"), "x=1", &ops, l), 0);
	assert_int_equal(l->image_size, PE_IMAGE_SIZE);
	assert_memory_equal(l->image, kernel, PE_IMAGE_SIZE);
	assert_true(l->pe.is_linux);
	assert_int_equal(l->pe.cmdline_max, PE_IMAGE_CMDLINE_MAX);
	assert_non_null(l->initrd);
	assert_int_equal(l->initrd_size, 12);
	assert_memory_equal(l->initrd, want_initrd, 12);
	assert_string_equal(l->cmdline, "opt=b x=1");
	assert_int_equal(l->bytes, PE_IMAGE_SIZE + 8);
	assert_true(strstr(l->image_name, "/vmlinuz on ") == l->image_name);
	assert_int_equal(r.allocs, 2);
	assert_int_equal(r.sizes[0], PE_IMAGE_SIZE);
	assert_int_equal(r.sizes[1], 12);

	/* One call per file at least, never backwards, ending complete. */
	assert_true(r.nprogress >= 3 && r.nprogress <= MAX_PROGRESS);
	for (unsigned i = 0; i < r.nprogress; i++) {
		assert_int_equal(r.total[i], r.total[0]);
		assert_true(r.done[i] <= r.total[i]);
		if (i)
			assert_true(r.done[i] > r.done[i - 1]);
	}
	assert_int_equal(r.done[r.nprogress - 1], r.total[r.nprogress - 1]);
	assert_int_equal(r.done[r.nprogress - 1], l->bytes);

	load_free(l, &ops);
	assert_null(l->image);
	assert_null(l->initrd);
	assert_int_equal(r.frees, 2);
	free(l);
}

/* A failing load returns @want and leaves nothing allocated. */
static void expect_load_fails(struct boot_scan *s, const char *id,
			      const char *append, int want, unsigned want_allocs,
			      const char *log_needle)
{
	struct recorder r;
	struct load_ops ops = rec_ops(&r);
	struct loaded_entry *l = malloc(sizeof(*l));

	host_log_clear();
	assert_int_equal(load_entry(s, entry(s, id), append, &ops, l), want);
	assert_int_equal(r.allocs, want_allocs);
	assert_int_equal(r.frees, r.allocs);
	assert_null(l->image);
	assert_null(l->initrd);
	if (log_needle && !host_log_contains(log_needle))
		fail_msg("log lacks '%s'; last: %s", log_needle, host_log_last());
	free(l);
}

static void test_load_failures(void **state)
{
	struct esp_fixture *x = *state;

	/* A zero-length initrd is refused before anything is allocated. */
	expect_load_fails(&x->s, "c", NULL, -VQ_ECORRUPT, 0, "/empty.img");
	expect_load_fails(&x->s, "d", NULL, -VQ_ENOENT, 0, "/missing.img");
	expect_load_fails(&x->s, "garbage", NULL, -VQ_EINVAL, 0, "not bootable");
}

/* A disk whose reads into the loaded image fail with -VQ_ESTUCK (the
 * driver says the device would not stop and may still write the buffer);
 * reads of the file system's own metadata go through. */
static const struct blockdev_ops *stuck_real;
static struct recorder *stuck_rec;

static int stuck_read_blocks(struct blockdev *bd, uint64_t lba, uint64_t count,
			     void *buf)
{
	uint8_t *p = buf, *img = stuck_rec->allocs ? stuck_rec->ptrs[0] : NULL;

	if (img && p >= img && p < img + stuck_rec->sizes[0])
		return -VQ_ESTUCK;
	return stuck_real->read_blocks(bd, lba, count, buf);
}

static const struct blockdev_ops stuck_ops = { .read_blocks = stuck_read_blocks };

/* Such a failure leaks the buffers on purpose instead of freeing them. */
static void test_load_stuck_disk_keeps_buffers(void **state)
{
	struct esp_fixture *x = *state;
	const struct blockdev_ops *ops_before = x->bd.ops;
	struct recorder r;
	struct load_ops ops = rec_ops(&r);
	struct loaded_entry *l = malloc(sizeof(*l));

	host_log_clear();
	stuck_real = ops_before;
	stuck_rec = &r;
	x->bd.ops = &stuck_ops;
	assert_int_equal(load_entry(&x->s, entry(&x->s, "b"), NULL, &ops, l), -VQ_ESTUCK);
	x->bd.ops = ops_before;
	assert_int_equal(r.allocs, 1);
	assert_int_equal(r.frees, 0);
	assert_null(l->image);
	assert_null(l->initrd);
	assert_true(host_log_contains("leaking"));
	assert_true(bdev_stuck(&x->bd));
	free(r.ptrs[0]); /* the test's own "device" is gone */
	free(l);
	/* ... and a good one is back: the fixture unmounts as usual. */
	x->bd.stuck = false;
	for (unsigned i = 0; i < x->s.nvols; i++)
		x->s.vols[i].bd.stuck = false;
}

/* "opt=a " + @n bytes of append. */
static char *append_of(size_t n)
{
	char *a = malloc(n + 1);

	memset(a, 'y', n);
	a[n] = '\0';
	return a;
}

static void test_cmdline_limit(void **state)
{
	struct esp_fixture *x = *state;
	struct recorder r;
	struct load_ops ops = rec_ops(&r);
	struct loaded_entry *l = malloc(sizeof(*l));
	size_t base = strlen("opt=a ");
	char *a;

	/* Exactly the kernel's cmdline_size fits. */
	a = append_of(PE_IMAGE_CMDLINE_MAX - base);
	assert_int_equal(load_entry(&x->s, entry(&x->s, "a"), a, &ops, l), 0);
	assert_int_equal(strlen(l->cmdline), PE_IMAGE_CMDLINE_MAX);
	load_free(l, &ops);
	assert_int_equal(r.frees, r.allocs);
	free(a);

	/* One byte more fits vqboot's buffer but not the kernel: refused once
	 * the image is read and its limit known, and the image freed. */
	a = append_of(PE_IMAGE_CMDLINE_MAX - base + 1);
	expect_load_fails(&x->s, "a", a, -VQ_E2BIG, 1, "the kernel accepts 2047");
	free(a);

	/* Past LOAD_CMDLINE_MAX: refused before any read. */
	a = append_of(LOAD_CMDLINE_MAX);
	expect_load_fails(&x->s, "a", a, -VQ_E2BIG, 0, NULL);
	free(a);
	free(l);
}

/* ---- automatic entries on ext4 ---------------------------------------------- */

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static void part_uuid(const char *img, char out[64])
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sfdisk --part-uuid '%s' 1", img);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, 64, p))
		out[0] = '\0';
	assert_int_equal(pclose(p), 0);
	out[strcspn(out, "\r\n")] = '\0';
	lower(out);
	assert_int_equal(strlen(out), 36);
}

static void test_auto_entries(void **state)
{
	char *path = image_path("scan_auto.img");
	char guid[64], want[128];
	struct blockdev bd;
	struct boot_scan *s = malloc(sizeof(*s));
	const struct bls_entry *e;

	part_uuid(path, guid);
	snprintf(want, sizeof(want), "root=PARTUUID=%s ro", guid);
	assert_int_equal(file_bdev_open(path, 512, &bd), 0);
	scan_init(s);
	assert_int_equal(scan_disk(s, &bd, 0), 0);
	assert_int_equal(s->entries.count, 0);
	assert_false(s->conf_found);
	scan_finish(s);
	assert_true(s->entries.count >= 1);

	e = entry(s, "vmlinuz-1.0");
	assert_string_equal(e->linux_path, "/boot/vmlinuz-1.0");
	assert_int_equal(e->initrd_count, 1);
	assert_string_equal(e->initrd[0], "/boot/initrd.img-1.0");
	for (size_t i = 0; i < s->entries.count; i++) {
		char opts[BLS_OPTIONS_MAX];

		/* Only the GUID's hex digits may differ in case. */
		snprintf(opts, sizeof(opts), "%s", s->entries.v[i]->options);
		lower(opts + strlen("root=PARTUUID="));
		assert_string_equal(opts, want);
		assert_ptr_equal(scan_entry_volume(s, s->entries.v[i]), &s->vols[0]);
	}
	scan_free(s);
	file_bdev_close(&bd);
	free(s);
	free(path);
}

/* ---- a blank disk ------------------------------------------------------------ */

static void test_blank_disk(void **state)
{
	char path[64];
	struct blockdev bd;
	struct boot_scan *s = malloc(sizeof(*s));

	make_temp(path, sizeof(path), "zero");
	assert_int_equal(truncate(path, 1 << 20), 0);
	assert_int_equal(file_bdev_open(path, 512, &bd), 0);
	scan_init(s);
	assert_int_equal(scan_disk(s, &bd, 0), 0);
	scan_finish(s);
	assert_int_equal(s->entries.count, 0);
	assert_int_equal(s->nvols, 0);
	assert_false(s->conf_found);
	scan_free(s);
	file_bdev_close(&bd);
	unlink(path);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_esp_entries, esp_setup, esp_teardown),
		cmocka_unit_test_setup_teardown(test_load_b, esp_setup, esp_teardown),
		cmocka_unit_test_setup_teardown(test_load_failures, esp_setup, esp_teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limit, esp_setup, esp_teardown),
		cmocka_unit_test_setup_teardown(test_load_stuck_disk_keeps_buffers,
						esp_setup, esp_teardown),
		cmocka_unit_test(test_auto_entries),
		cmocka_unit_test(test_blank_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
