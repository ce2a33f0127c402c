/* SPDX-License-Identifier: MIT */
#include "boot/load.h"
#include "boot/uki.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

struct load_ctx {
	const struct load_ops *ops;
	uint64_t done, total;
	uint64_t read_us;
	size_t chunk;
};

static void adapt_chunk(struct load_ctx *c, uint64_t took_us)
{
	if (took_us > LOAD_STEP_US && c->chunk > LOAD_CHUNK_MIN)
		c->chunk /= 2;
	else if (took_us < LOAD_STEP_US / 4 && c->chunk < LOAD_CHUNK_MAX)
		c->chunk *= 2;
}

static int read_file_into(struct load_ctx *c, struct fs_file *f,
			  const struct fs_ops *fo, uint8_t *dst, uint64_t size,
			  const char *path, const char *vol)
{
	for (uint64_t off = 0; off < size;) {
		size_t n = (size_t)VQ_MIN((uint64_t)c->chunk, size - off);
		uint64_t t0 = plat_now_us();
		int r = fo->read(f, off, dst + off, n);
		uint64_t took = plat_now_us() - t0;

		c->read_us += took;
		adapt_chunk(c, took);
		if (r)
			return log_err(r, "%s on %s: read failed at byte %llu: %s", path,
				       vol, (unsigned long long)off, vq_strerror(r));
		off += n;
		c->done += n;
		if (c->ops->progress)
			c->ops->progress(c->ops->ctx, c->done, c->total);
	}
	return 0;
}

static int open_sized(struct scan_volume *vol, const char *path,
		      struct fs_file **ret, uint64_t *ret_size)
{
	struct fs_file *f;
	uint64_t size;
	int r = vol->fs->ops->open(vol->fs, path, &f);

	if (r)
		return log_err(r, "%s on %s: cannot open: %s", path, vol->name,
			       vq_strerror(r));
	size = vol->fs->ops->size(f);
	if (size == 0 || size > LOAD_FILE_MAX) {
		vol->fs->ops->close(f);
		return log_err(size ? -VQ_E2BIG : -VQ_ECORRUPT,
			       "%s on %s: unusable size %llu bytes", path, vol->name,
			       (unsigned long long)size);
	}
	*ret = f;
	*ret_size = size;
	return 0;
}

/* Initrds: total size with each one padded to 4 bytes, overflow-checked. */
static int initrd_sizes(struct scan_volume *vol, const struct bls_entry *e,
			struct fs_file **files, uint64_t *sizes, uint64_t *ret_total)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < e->initrd_count; i++) {
		int r = open_sized(vol, e->initrd[i], &files[i], &sizes[i]);
		if (r)
			return r;
		uint64_t padded = VQ_ALIGN_UP(sizes[i], 4ULL);
		if (padded > LOAD_FILE_MAX - total)
			return log_err(-VQ_E2BIG, "entry %s: initrds total over %llu bytes",
				       e->id, (unsigned long long)LOAD_FILE_MAX);
		total += padded;
	}
	*ret_total = total;
	return 0;
}

static int load_initrds(struct load_ctx *c, struct scan_volume *vol,
			const struct bls_entry *e, struct fs_file **files,
			const uint64_t *sizes, struct loaded_entry *l)
{
	uint8_t *dst = l->initrd;
	uint64_t off = 0;

	for (unsigned i = 0; i < e->initrd_count; i++) {
		int r = read_file_into(c, files[i], vol->fs->ops, dst + off, sizes[i],
				       e->initrd[i], vol->name);
		if (r)
			return r;
		l->initrd_sizes[i] = sizes[i];
		off += sizes[i];
		while (off % 4)
			dst[off++] = 0;
	}
	return 0;
}

/* A unified kernel image: its sections again (the file is read whole
 * now), and the kernel inside for its command line limit. */
static int check_uki(struct loaded_entry *l)
{
	struct pe_info k;
	int r = uki_check_image(l->image, l->image_size, l->image_name, &k);

	if (r)
		return r;
	l->pe.cmdline_max = k.cmdline_max;
	if (k.linux_version[0])
		log_debug("%s: kernel %s", l->image_name, k.linux_version);
	return 0;
}

static int check_image(struct loaded_entry *l, const struct bls_entry *e)
{
	int r = pe_check(l->image, l->image_size, l->image_name, &l->pe);

	if (!r && e->kind == BLS_KIND_UKI)
		r = check_uki(l);
	if (r)
		return r;
	if (l->pe.machine != PE_MACHINE_NATIVE)
		return log_err(-VQ_ENOTSUP, "%s: built for %s, not %s", l->image_name,
			       pe_machine_name(l->pe.machine),
			       pe_machine_name(PE_MACHINE_NATIVE));
	if (e->initrd_count && e->linux_path[0] && !l->pe.supports_initrd_lf2)
		log_warn("%s: kernel may not ask for its initrd through LoadFile2 "
			 "(PE MajorImageVersion %u)", l->image_name,
			 l->pe.major_image_version);
	if (l->pe.cmdline_max && strlen(l->cmdline) > l->pe.cmdline_max)
		return log_err(-VQ_E2BIG,
			       "entry %s: command line is %zu bytes, the kernel accepts %u",
			       e->id, strlen(l->cmdline), l->pe.cmdline_max);
	return 0;
}

static int load_image(struct load_ctx *c, struct scan_volume *vol,
		      const char *path, struct fs_file *f, uint64_t size,
		      struct loaded_entry *l)
{
	int r = c->ops->alloc(c->ops->ctx, size, &l->image);

	if (r)
		return log_err(r, "%s: cannot allocate %llu bytes", l->image_name,
			       (unsigned long long)size);
	l->image_size = size;
	return read_file_into(c, f, vol->fs->ops, l->image, size, path, vol->name);
}

static void close_all(struct scan_volume *vol, struct fs_file **files, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (files[i])
			vol->fs->ops->close(files[i]);
}

/* Keep the initrd files open in @l for load_initrds_into(). */
static void defer_initrds(struct loaded_entry *l, struct scan_volume *vol,
			  const struct bls_entry *e, struct fs_file **files,
			  const uint64_t *sizes)
{
	l->initrd_deferred = true;
	l->initrd_count = e->initrd_count;
	l->initrd_fs = vol->fs->ops;
	vq_snprintf(l->initrd_vol, sizeof(l->initrd_vol), "%s", vol->name);
	for (unsigned i = 0; i < e->initrd_count; i++) {
		l->initrd_files[i] = files[i];
		files[i] = NULL;
		l->initrd_sizes[i] = sizes[i];
		vq_snprintf(l->initrd_paths[i], BLS_PATH_MAX, "%s", e->initrd[i]);
	}
}

int load_initrds_into(const struct loaded_entry *l, void *dst, size_t size)
{
	/* No progress: the screen is the kernel's by now. */
	struct load_ops quiet = { 0 };
	struct load_ctx c = { .ops = &quiet, .chunk = LOAD_CHUNK_MAX };
	uint8_t *p = dst;
	uint64_t off = 0;

	if (!l->initrd_deferred)
		return log_err(-VQ_EINVAL, "initrd: nothing left to read");
	if (size < l->initrd_size)
		return log_err(-VQ_ENOSPC, "initrd: %zu bytes of room for %zu", size,
			       l->initrd_size);
	for (unsigned i = 0; i < l->initrd_count; i++) {
		/* The sizes were checked to fit when the files were opened. */
		int r = read_file_into(&c, l->initrd_files[i], l->initrd_fs, p + off,
				       l->initrd_sizes[i], l->initrd_paths[i],
				       l->initrd_vol);
		if (r)
			return r;
		off += l->initrd_sizes[i];
		while (off % 4)
			p[off++] = 0;
	}
	return 0;
}

int load_entry(struct boot_scan *s, const struct bls_entry *e,
	       const char *append, const struct load_ops *ops,
	       struct loaded_entry *ret)
{
	return load_entry_flags(s, e, append, ops, 0, ret);
}

int load_entry_flags(struct boot_scan *s, const struct bls_entry *e,
		     const char *append, const struct load_ops *ops,
		     unsigned flags, struct loaded_entry *ret)
{
	struct scan_volume *vol = scan_entry_volume(s, e);
	const char *path = e->linux_path[0] ? e->linux_path : e->efi_path;
	struct fs_file *files[BLS_INITRD_MAX + 1] = { 0 };
	uint64_t sizes[BLS_INITRD_MAX + 1] = { 0 };
	struct load_ctx c = { .ops = ops, .chunk = LOAD_CHUNK };
	struct loaded_entry *l = ret;
	int r;

	*l = (struct loaded_entry){ 0 };
	if (!vol || !bls_entry_bootable(e) || !path[0])
		return log_err(-VQ_EINVAL, "entry %s: not bootable%s%s", e->id,
			       e->broken ? ": " : "", e->broken ? e->reason : "");
	vq_snprintf(l->image_name, sizeof(l->image_name), "%s on %s", path, vol->name);
	r = bls_entry_cmdline(e, append, l->cmdline, sizeof(l->cmdline));
	if (r)
		return r;
	r = open_sized(vol, path, &files[BLS_INITRD_MAX], &sizes[BLS_INITRD_MAX]);
	if (!r)
		r = initrd_sizes(vol, e, files, sizes, &l->initrd_size);
	/* The bytes read: the padding between initrds is written, not read. */
	for (unsigned i = 0; i <= BLS_INITRD_MAX; i++)
		c.total += sizes[i];
	if (!r)
		r = load_image(&c, vol, path, files[BLS_INITRD_MAX],
			       sizes[BLS_INITRD_MAX], l);
	if (!r)
		r = check_image(l, e);
	if (!r && l->initrd_size && (flags & LOAD_DEFER_INITRDS) &&
	    e->kind != BLS_KIND_UKI && e->linux_path[0] && l->pe.is_linux &&
	    l->pe.supports_initrd_lf2) {
		defer_initrds(l, vol, e, files, sizes);
		/* What is left to read now is read: the bar ends full. */
		c.total = c.done;
		if (ops->progress)
			ops->progress(ops->ctx, c.done, c.total);
	} else if (!r && l->initrd_size) {
		r = ops->alloc(ops->ctx, l->initrd_size, &l->initrd);
		if (r)
			log_error("entry %s: cannot allocate %zu bytes for initrds", e->id,
				  l->initrd_size);
		else
			r = load_initrds(&c, vol, e, files, sizes, l);
	}
	close_all(vol, files, BLS_INITRD_MAX + 1);
	l->bytes = c.done;
	l->read_us = c.read_us;
	/* A disk that would not stop may still write into them: leaked. */
	if (r == -VQ_ESTUCK) {
		log_error("entry %s: leaking %zu + %zu bytes a stuck disk may still write",
			  e->id, l->image_size, l->initrd_size);
		l->image = l->initrd = NULL;
	} else if (r) {
		load_free(l, ops);
	}
	return r;
}

void load_free(struct loaded_entry *l, const struct load_ops *ops)
{
	for (unsigned i = 0; i < l->initrd_count && l->initrd_deferred; i++)
		if (l->initrd_files[i])
			l->initrd_fs->close(l->initrd_files[i]);
	l->initrd_deferred = false;
	l->initrd_count = 0;
	if (l->image)
		ops->free(ops->ctx, l->image, l->image_size);
	if (l->initrd)
		ops->free(ops->ctx, l->initrd, l->initrd_size);
	l->image = l->initrd = NULL;
}
