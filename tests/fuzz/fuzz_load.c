/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the loader's command line and initrd assembly
 * (boot/load.c, bls_entry_cmdline in boot/bls.c) and the LoadFile2 answer
 * the kernel then gets for the initrd (boot/initrd.c). The input:
 *
 *   byte 0      the file whose reads fail (0: none; 1..9: the n-th opened)
 *   byte 1      bits 0-6: where it fails (in 64-byte steps); bit 7: the
 *               failure is -VQ_ESTUCK (a disk that would not stop), not EIO
 *   byte 2      bits 0-6: allocation to refuse (0: none; 1: the image, 2:
 *               the initrds); bit 7: LOAD_DEFER_INITRDS (the initrds are
 *               then read by load_initrds_into into the harness's buffer)
 *   bytes 3-4   le16 length of the --append text, then the text
 *   bytes 5-6   le16 length of the entry file, then its text (a BLS entry;
 *               its `linux` file is a valid synthetic kernel, so loading
 *               goes on to the initrds)
 *   the rest    the initrds' contents: each opened initrd takes a le16 size
 *               (0 is an empty file; bit 15: the file is missing) and that
 *               many bytes, zeros once the input runs out
 *
 * After a load the harness checks: the command line is the entry's options,
 * a space and the appended text (or one of them); the initrds sit one after
 * the other, each padded with zeros to 4 bytes, the sizes add up; the image
 * is the kernel as read; nothing is left open or allocated on failure, and
 * on -VQ_ESTUCK nothing was freed. Then it asks for the initrd as the Linux
 * stub does (size query with a NULL buffer and a stale size, a buffer one
 * byte short, the right buffer) and checks each answer and that no byte past
 * the buffer was written. Deferred initrds stay open until load_free; a
 * buffer one byte short is refused unread; a failing read returns the
 * disk's error; otherwise the buffer holds what a load would have held and
 * nothing past it. Any mismatch aborts.
 *
 * Run: build/fuzz/fuzz_load -max_len=16384 build/fuzz/seeds/fuzz_load
 * fuzz-options: -max_len=16384
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/initrd.h"
#include "boot/load.h"
#include "lib/err.h"
#include "tests/support/pe_image.h"

#define FUZZ_FILES (BLS_INITRD_MAX + 1)
#define FUZZ_FILE_MAX 8192
#define FUZZ_APPEND_MAX 4096
#define FUZZ_CANARY 0xa5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned next16(struct input *in)
{
	unsigned v = 0;

	for (unsigned i = 0; i < 2 && in->left; i++, in->left--)
		v |= (unsigned)*in->p++ << (8 * i);
	return v;
}

/* Up to @n bytes of the input (fewer when it runs out). */
static size_t take(struct input *in, size_t n, const uint8_t **ret)
{
	n = n < in->left ? n : in->left;
	*ret = in->p;
	in->p += n;
	in->left -= n;
	return n;
}

/* ---- a file system of the kernel and files made from the input ---------- */

struct mem_def {
	char path[BLS_PATH_MAX];
	uint8_t *data;
	size_t size;
};

static struct {
	struct input in;
	struct mem_def files[FUZZ_FILES];
	unsigned nfiles, open_files, opened, reads;
	unsigned fail_file;   /* 1-based order of opening; 0: none */
	uint64_t fail_at;
	int fail_err;
	const char *kernel_path;
} mem;

static uint8_t kernel[PE_IMAGE_SIZE];

struct fs_file {
	struct mem_def *def;
	unsigned order;
};

static struct mem_def *mem_lookup(const char *path)
{
	struct mem_def *d;
	unsigned n;
	const uint8_t *bytes;

	for (unsigned i = 0; i < mem.nfiles; i++)
		if (!strcmp(mem.files[i].path, path))
			return &mem.files[i];
	if (mem.nfiles == FUZZ_FILES)
		return NULL;
	d = &mem.files[mem.nfiles++];
	strncpy(d->path, path, sizeof(d->path) - 1);
	if (!strcmp(path, mem.kernel_path)) {
		d->data = kernel;
		d->size = sizeof(kernel);
		return d;
	}
	n = next16(&mem.in);
	if (n & 0x8000) {
		mem.nfiles--;
		return NULL;
	}
	n %= FUZZ_FILE_MAX;
	d->data = calloc(1, n ? n : 1);
	d->size = n;
	n = (unsigned)take(&mem.in, n, &bytes);
	if (n)
		memcpy(d->data, bytes, n);
	return d;
}

static int mem_open(struct fs *fs, const char *path, struct fs_file **ret)
{
	struct mem_def *d = mem_lookup(path);

	(void)fs;
	if (!d)
		return -VQ_ENOENT;
	*ret = calloc(1, sizeof(**ret));
	if (!*ret)
		abort();
	(*ret)->def = d;
	(*ret)->order = ++mem.opened;
	mem.open_files++;
	return 0;
}

static int mem_read(struct fs_file *f, uint64_t off, void *buf, size_t len)
{
	mem.reads++;
	if (off > f->def->size || len > f->def->size - off)
		abort(); /* load.c reads inside the size it was told */
	if (f->order == mem.fail_file && off + len > mem.fail_at) {
		/* A stuck disk keeps writing into what it was given. */
		if (mem.fail_err == -VQ_ESTUCK)
			memset(buf, 0x5a, len);
		return mem.fail_err;
	}
	memcpy(buf, f->def->data + off, len);
	return 0;
}

static uint64_t mem_size(const struct fs_file *f) { return f->def->size; }

static void mem_close(struct fs_file *f)
{
	if (!mem.open_files)
		abort();
	mem.open_files--;
	free(f);
}

static const struct fs_ops mem_ops = {
	.name = "mem", .open = mem_open, .read = mem_read, .size = mem_size,
	.close = mem_close,
};

static struct fs mem_fs = { .ops = &mem_ops };

/* ---- an allocator that counts, and refuses on request --------------------- */

struct counter {
	unsigned allocs, fail_at;
	void *live[2];
	size_t live_size[2];
	unsigned nlive;
};

static int count_alloc(void *ctx, size_t size, void **ret)
{
	struct counter *c = ctx;

	if (++c->allocs == c->fail_at || c->nlive == 2)
		return -VQ_ENOMEM;
	*ret = malloc(size ? size : 1);
	if (!*ret)
		abort();
	c->live[c->nlive] = *ret;
	c->live_size[c->nlive++] = size;
	return 0;
}

static void count_free(void *ctx, void *p, size_t size)
{
	struct counter *c = ctx;

	for (unsigned i = 0; i < c->nlive; i++) {
		if (c->live[i] != p)
			continue;
		if (c->live_size[i] != size)
			abort();
		free(p);
		c->nlive--;
		c->live[i] = c->live[c->nlive];
		c->live_size[i] = c->live_size[c->nlive];
		return;
	}
	abort(); /* not ours, or freed twice */
}

/* ---- the checks ----------------------------------------------------------- */

static void check_cmdline(const struct bls_entry *e, const char *append,
			  const char *got)
{
	size_t a = strlen(e->options), b = strlen(append);

	if (strncmp(got, e->options, a))
		abort();
	got += a;
	if (a && b && *got++ != ' ')
		abort();
	if (strcmp(got, append))
		abort();
}

static void check_initrds(const struct bls_entry *e, const struct loaded_entry *l)
{
	const uint8_t *p = l->initrd;
	size_t off = 0;

	for (unsigned i = 0; i < e->initrd_count; i++) {
		struct mem_def *d = NULL;

		for (unsigned k = 0; k < mem.nfiles; k++)
			if (!strcmp(mem.files[k].path, e->initrd[i]))
				d = &mem.files[k];
		if (!d || l->initrd_sizes[i] != d->size ||
		    d->size > l->initrd_size - off ||
		    memcmp(p + off, d->data, d->size))
			abort();
		off += d->size;
		for (; off % 4; off++)
			if (off >= l->initrd_size || p[off])
				abort();
	}
	if (off != l->initrd_size || (!off) != !l->initrd)
		abort();
}

/* The Linux stub's questions, and a few it does not ask. */
static void check_lf2(const void *initrd, size_t size, unsigned stale)
{
	uint8_t *buf = malloc(size + 8);
	size_t n = stale;

	if (!buf)
		abort();
	if (initrd_lf2_load(initrd, size, false, &n, NULL) != -VQ_ENOSPC || n != size)
		abort();
	n = size;
	if (initrd_lf2_load(initrd, size, true, &n, buf) != -VQ_ENOTSUP)
		abort();
	if (initrd_lf2_load(initrd, size, false, NULL, buf) != -VQ_EINVAL)
		abort();
	memset(buf, FUZZ_CANARY, size + 8);
	if (size) {
		n = size - 1;
		if (initrd_lf2_load(initrd, size, false, &n, buf) != -VQ_ENOSPC ||
		    n != size)
			abort();
		for (size_t i = 0; i < size + 8; i++)
			if (buf[i] != FUZZ_CANARY)
				abort();
	}
	n = size + (stale & 7);
	if (initrd_lf2_load(initrd, size, false, &n, buf) != 0 || n != size ||
	    (size && memcmp(buf, initrd, size)))
		abort();
	for (size_t i = size; i < size + 8; i++)
		if (buf[i] != FUZZ_CANARY)
			abort();
	free(buf);
}

static void check_result(int r, const struct bls_entry *e, const char *append,
			 struct loaded_entry *l, struct counter *c,
			 const struct load_ops *ops)
{
	if (mem.open_files)
		abort(); /* every file closed, whatever happened */
	if (r == -VQ_ESTUCK) {
		/* Both buffers kept: the stuck disk may still write them. */
		if (l->image || l->initrd || c->nlive != c->allocs)
			abort();
		while (c->nlive)
			count_free(c, c->live[0], c->live_size[0]);
		return;
	}
	if (r) {
		if (c->nlive || l->image || l->initrd)
			abort();
		return;
	}
	check_cmdline(e, append, l->cmdline);
	if (l->image_size != sizeof(kernel) || memcmp(l->image, kernel, sizeof(kernel)))
		abort();
	check_initrds(e, l);
	check_lf2(l->initrd, l->initrd_size, (unsigned)l->bytes);
	load_free(l, ops);
	if (c->nlive)
		abort();
}

/* Deferred initrds: read into a buffer of ours, as LoadFile2 would. */
static void check_deferred(const struct bls_entry *e, const char *append,
			   struct loaded_entry *l, struct counter *c,
			   const struct load_ops *ops)
{
	size_t size = l->initrd_size;
	uint8_t *buf = malloc(size + 8);
	unsigned reads;
	int r;

	if (!buf || l->initrd || !size || mem.open_files != l->initrd_count ||
	    l->initrd_count != e->initrd_count)
		abort();
	check_cmdline(e, append, l->cmdline);
	if (l->image_size != sizeof(kernel) || memcmp(l->image, kernel, sizeof(kernel)))
		abort();
	memset(buf, FUZZ_CANARY, size + 8);
	reads = mem.reads;
	if (load_initrds_into(l, buf, size - 1) != -VQ_ENOSPC || mem.reads != reads)
		abort();
	r = load_initrds_into(l, buf, size);
	if (r) {
		if (r != mem.fail_err)
			abort();
	} else {
		l->initrd = buf;
		check_initrds(e, l);
		l->initrd = NULL;
	}
	for (size_t i = size; i < size + 8; i++)
		if (buf[i] != FUZZ_CANARY)
			abort();
	free(buf);
	load_free(l, ops);
	if (c->nlive || mem.open_files)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_scan scan;
	static struct loaded_entry loaded;
	static char append[FUZZ_APPEND_MAX + 1];
	struct input in = { data, size };
	struct counter c = { 0 };
	const struct load_ops ops = { .alloc = count_alloc, .free = count_free, .ctx = &c };
	struct bls_entry *e = NULL;
	const uint8_t *text;
	unsigned fail_file, fail_at;
	size_t n;
	int r;

	if (!kernel[0])
		pe_image_linux(kernel, sizeof(kernel));
	if (size < 7)
		return 0;
	fail_file = data[0] % (FUZZ_FILES + 1);
	fail_at = data[1];
	c.fail_at = (data[2] & 0x7f) % 3;
	in.p += 3, in.left -= 3;
	n = take(&in, next16(&in) % (FUZZ_APPEND_MAX + 1), &text);
	memcpy(append, text, n);
	append[n] = '\0';
	n = take(&in, next16(&in), &text);
	if (bls_parse_entry("fuzz.conf", text, n, &e) != 0)
		return 0;

	memset(&mem, 0, sizeof(mem));
	mem.in = in;
	mem.kernel_path = e->linux_path[0] ? e->linux_path : e->efi_path;
	mem.fail_file = fail_file;
	mem.fail_at = (uint64_t)(fail_at & 0x7f) * 64;
	mem.fail_err = fail_at & 0x80 ? -VQ_ESTUCK : -VQ_EIO;
	memset(&scan, 0, sizeof(scan));
	scan.nvols = 1;
	scan.vols[0].fs = &mem_fs;
	strcpy(scan.vols[0].name, "mem p1");
	e->part_index = 0;

	r = load_entry_flags(&scan, e, append[0] || (fail_at & 1) ? append : NULL, &ops,
			     data[2] & 0x80 ? LOAD_DEFER_INITRDS : 0, &loaded);
	if (!r && loaded.initrd_deferred)
		check_deferred(e, append, &loaded, &c, &ops);
	else
		check_result(r, e, append, &loaded, &c, &ops);
	for (unsigned i = 0; i < mem.nfiles; i++)
		if (mem.files[i].data != kernel)
			free(mem.files[i].data);
	bls_entry_free(e);
	return 0;
}
