/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/uki.c: the input is a unified kernel image.
 * It goes through uki_layout as the scan sees it (the first 64 KiB and the
 * file size) and whole, through uki_read_entry over a one-file stand-in
 * file system, and, as text, through the os-release parser. Besides
 * crashes, sanitizer reports and leaks, it aborts when an accepted layout
 * names bytes outside the input, the two views disagree, or an entry
 * breaks its own bounds.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_uki). Seeds: tests/fuzz/seeds.sh
 * (small images made with objcopy from systemd's stub, os-release files).
 * Run: build/fuzz/fuzz_uki -max_len=131072 build/fuzz/seeds/fuzz_uki
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/uki.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- a file system holding the input as every file ------------------------ */

struct one_fs {
	struct fs fs;
	const uint8_t *data;
	size_t size;
};

struct one_file {
	struct one_fs *ofs;
};

static struct one_file the_file;

static int one_open(struct fs *fs, const char *path, struct fs_file **ret)
{
	the_file.ofs = (struct one_fs *)fs;
	*ret = (struct fs_file *)&the_file;
	return 0;
}

static int one_read(struct fs_file *f, uint64_t off, void *buf, size_t len)
{
	struct one_file *o = (struct one_file *)f;

	if (off > o->ofs->size || len > o->ofs->size - off)
		return -VQ_ERANGE;
	memcpy(buf, o->ofs->data + off, len);
	return 0;
}

static uint64_t one_size(const struct fs_file *f)
{
	return ((const struct one_file *)f)->ofs->size;
}

static void one_close(struct fs_file *f)
{
}

static const struct fs_ops one_ops = {
	.name = "one", .open = one_open, .read = one_read, .size = one_size,
	.close = one_close,
};

/* ---- checks -------------------------------------------------------------- */

static void check_layout(const struct uki_layout *l, size_t size)
{
	if (!l->sec[UKI_SEC_LINUX].present || l->sec[UKI_SEC_LINUX].size == 0)
		abort();
	for (int k = 0; k < UKI_SEC_COUNT; k++) {
		const struct uki_span *s = &l->sec[k];

		if (s->present && ((uint64_t)s->offset + s->size > size))
			abort();
	}
	if (l->sec[UKI_SEC_OSREL].size > UKI_TEXT_MAX ||
	    l->sec[UKI_SEC_CMDLINE].size > UKI_TEXT_MAX ||
	    l->sec[UKI_SEC_UNAME].size > UKI_TEXT_MAX)
		abort();
}

static void check_entry(const struct bls_entry *e)
{
	if (e->kind != BLS_KIND_UKI || strlen(e->options) >= BLS_OPTIONS_MAX ||
	    strlen(e->title) >= BLS_TITLE_MAX || strlen(e->uname) >= BLS_SHORT_MAX ||
	    (e->broken && !e->reason[0]) || (!e->broken && !e->efi_path[0]))
		abort();
	for (const char *p = e->options; *p; p++)
		if ((unsigned char)*p < 0x20)
			abort();
}

static void fuzz_image(const uint8_t *data, size_t size)
{
	struct uki_layout part, whole;
	struct pe_info k;
	size_t avail = size < UKI_HEADER_READ ? size : UKI_HEADER_READ;
	int r = uki_layout(data, avail, size, "fuzz", &part);

	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOTSUP)
		abort();
	if (r)
		return;
	check_layout(&part, size);
	/* The whole file has the same headers: the same answer. */
	if (uki_layout(data, size, size, "fuzz", &whole) != 0 ||
	    memcmp(part.sec, whole.sec, sizeof(part.sec)) != 0)
		abort();
	r = uki_check_image(data, size, "fuzz", &k);
	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOTSUP)
		abort();
}

static void fuzz_entry(const uint8_t *data, size_t size)
{
	struct one_fs ofs = { .fs = { .ops = &one_ops }, .data = data, .size = size };
	struct bls_entry *e;

	if (uki_read_entry(&ofs.fs, UKI_DIR, "fuzz+3-1.efi", "fuzzvol", &e) != 0)
		abort();
	check_entry(e);
	bls_entry_free(e);
}

static void fuzz_osrel(const uint8_t *data, size_t size)
{
	struct uki_osrel os;
	const char *t, *v, *k;

	uki_osrel_parse("fuzz", data, size, &os);
	uki_osrel_pick(&os, &t, &v, &k);
	if (strlen(t) >= BLS_TITLE_MAX || strlen(v) >= BLS_SHORT_MAX ||
	    strlen(k) >= BLS_SHORT_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image(data, size);
	fuzz_entry(data, size);
	fuzz_osrel(data, size < 65536 ? size : 65536);
	return 0;
}
