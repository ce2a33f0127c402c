/* SPDX-License-Identifier: MIT */
#include "boot/measure.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/plat.h"

/* "6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..." -> 6, 1. */
static bool parse_version(const char *s, unsigned *ret_major, unsigned *ret_minor)
{
	unsigned v[2] = { 0, 0 };

	for (int i = 0; i < 2; i++) {
		if (*s < '0' || *s > '9')
			return false;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v[i] > 100000)
				return false;
			v[i] = v[i] * 10 + (unsigned)(*s - '0');
		}
		if (i == 0 && *s++ != '.')
			return false;
	}
	*ret_major = v[0];
	*ret_minor = v[1];
	return true;
}

bool measure_stub_measures_initrd(const struct pe_info *pe)
{
	unsigned major, minor;

	/* Linux 6.1's EFI stub measures the initrd it loads through
	 * LoadFile2 into PCR 9 ("Linux initrd"); older stubs do not, and an
	 * image that is not Linux, or does not say its version, is not
	 * trusted to. */
	if (!pe || !pe->is_linux || !pe->supports_initrd_lf2)
		return false;
	if (!parse_version(pe->linux_version, &major, &minor))
		return false;
	return major > 6 || (major == 6 && minor >= 1);
}

static void add(struct measure_plan *p, uint32_t pcr, uint32_t type, uint32_t tag,
		const void *data, size_t size, const char *desc)
{
	p->ev[p->n++] = (struct measure_event){ pcr, type, tag, data, size, desc };
}

static int add_cmdline(struct measure_plan *p, const struct measure_input *in)
{
	size_t n = strlen(in->cmdline);
	uint16_t *w = plat_alloc((n + 1) * sizeof(*w));

	if (!w)
		return -VQ_ENOMEM;
	/* The very bytes LoadOptions gets: each ASCII byte widened, NUL last. */
	for (size_t i = 0; i < n; i++)
		w[i] = (unsigned char)in->cmdline[i];
	w[n] = 0;
	p->cmdline16 = w;
	if (in->cmdline_edited)
		add(p, MEASURE_PCR_KERNEL_CONFIG, TCG_EV_EVENT_TAG, MEASURE_TAG_CMDLINE_EDITED,
		    MEASURE_EDITED_TEXT, strlen(MEASURE_EDITED_TEXT), MEASURE_EDITED_TEXT);
	add(p, MEASURE_PCR_KERNEL_CONFIG, TCG_EV_IPL, 0, w, (n + 1) * sizeof(*w),
	    in->cmdline);
	return 0;
}

static int add_initrds(struct measure_plan *p, const struct measure_input *in)
{
	uint64_t off = 0;

	for (unsigned i = 0; i < in->initrd_count && i < BLS_INITRD_MAX; i++) {
		add(p, MEASURE_PCR_KERNEL_INITRD, TCG_EV_EVENT_TAG, MEASURE_TAG_INITRD,
		    in->initrd + off, in->initrd_sizes[i], in->initrd_paths[i]);
		off += VQ_ALIGN_UP(in->initrd_sizes[i], 4ULL);
	}
	return 0;
}

static bool initrds_fit(const struct measure_input *in, size_t total)
{
	uint64_t off = 0;

	if (in->initrd_count > BLS_INITRD_MAX)
		return false;
	for (unsigned i = 0; i < in->initrd_count; i++) {
		if (in->initrd_sizes[i] > total - off)
			return false;
		off += VQ_ALIGN_UP(in->initrd_sizes[i], 4ULL);
		if (off > total)
			return false;
	}
	return true;
}

int measure_plan_build(const struct measure_input *in, struct measure_plan *ret)
{
	struct measure_plan *p = ret;
	int r;

	*p = (struct measure_plan){ 0 };
	if (in->initrd && in->initrd_count && !initrds_fit(in, in->initrd_size))
		return log_err(-VQ_ERANGE, "measure: %u initrds do not fit %zu bytes",
			       in->initrd_count, in->initrd_size);
	if (in->conf_path)
		add(p, MEASURE_PCR_BOOT_LOADER_CONFIG, TCG_EV_EVENT_TAG,
		    MEASURE_TAG_LOADER_CONF, in->conf, in->conf_size, "loader.conf");
	if (in->entry_path)
		add(p, MEASURE_PCR_BOOT_LOADER_CONFIG, TCG_EV_EVENT_TAG, MEASURE_TAG_ENTRY,
		    in->entry, in->entry_size, in->entry_path);
	if (in->cmdline && in->cmdline[0]) {
		r = add_cmdline(p, in);
		if (r)
			return r;
	}
	if (in->initrd && in->initrd_count && !measure_stub_measures_initrd(in->pe))
		add_initrds(p, in);
	return 0;
}

void measure_plan_free(struct measure_plan *p)
{
	plat_free(p->cmdline16);
	p->cmdline16 = NULL;
	p->n = 0;
}

/* A missing file is not an error: there is nothing to measure. */
static void read_file(struct scan_volume *vol, const char *path, void **ret,
		      size_t *ret_size)
{
	if (fs_read_all(vol->fs, path, SCAN_ENTRY_MAX_BYTES, ret, ret_size)) {
		*ret = NULL;
		*ret_size = 0;
	}
}

int measure_collect(struct boot_scan *s, const struct bls_entry *e,
		    const struct loaded_entry *l, bool edited,
		    struct measure_bufs *b, struct measure_plan *ret)
{
	struct scan_volume *vol = scan_entry_volume(s, e);
	struct measure_input in = {
		.cmdline = l->cmdline, .cmdline_edited = edited, .pe = &l->pe,
		.initrd = l->initrd, .initrd_size = l->initrd_size,
		.initrd_count = e->initrd_count, .initrd_sizes = l->initrd_sizes,
		.initrd_paths = e->initrd };
	int r;

	*b = (struct measure_bufs){ 0 };
	/* Read again for the measurement: the scan keeps only what it parsed. */
	if (s->conf_found && s->conf_vol < s->nvols) {
		read_file(&s->vols[s->conf_vol], "/loader/loader.conf", &b->conf,
			  &b->conf_size);
		in.conf_path = b->conf ? "/loader/loader.conf" : NULL;
		in.conf = b->conf;
		in.conf_size = b->conf_size;
	}
	/* Automatic entries have no file (and no ".conf" name). */
	size_t nl = strlen(e->name);
	if (vol && nl > 5 && !strcmp(e->name + nl - 5, ".conf")) {
		vq_snprintf(b->entry_path, sizeof(b->entry_path), "/loader/entries/%s", e->name);
		read_file(vol, b->entry_path, &b->entry, &b->entry_size);
		in.entry_path = b->entry ? b->entry_path : NULL;
		in.entry = b->entry;
		in.entry_size = b->entry_size;
	}
	r = measure_plan_build(&in, ret);
	if (r)
		measure_bufs_free(b);
	return r;
}

void measure_bufs_free(struct measure_bufs *b)
{
	plat_free(b->conf);
	plat_free(b->entry);
	*b = (struct measure_bufs){ 0 };
}
