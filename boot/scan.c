/* SPDX-License-Identifier: MIT */
#include "boot/scan.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

void scan_init(struct boot_scan *s)
{
	*s = (struct boot_scan){ 0 };
	bls_config_init(&s->conf);
}

struct entry_walk {
	struct boot_scan *s;
	struct scan_volume *vol;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void add_entry_file(struct entry_walk *w, const char *name)
{
	char path[300];
	void *text;
	size_t len;
	struct bls_entry *e;

	vq_snprintf(path, sizeof(path), "/loader/entries/%s", name);
	if (fs_read_all(w->vol->fs, path, SCAN_ENTRY_MAX_BYTES, &text, &len)) {
		log_warn("%s: skipping entry %s", w->vol->name, path);
		return;
	}
	if (!bls_parse_entry(name, text, len, &e)) {
		e->disk_index = w->vol->disk_index;
		e->part_index = (unsigned)(w->vol - w->s->vols);
		if (bls_list_add(&w->s->entries, e))
			log_warn("%s: too many entries, %s dropped", w->vol->name, path);
	}
	plat_free(text);
}

static int entry_dir_fn(void *ctx, const struct fs_dirent *ent)
{
	if (!ent->is_dir && ends_with(ent->name, ".conf"))
		add_entry_file(ctx, ent->name);
	return 0;
}

static void read_loader_conf(struct boot_scan *s, struct scan_volume *vol)
{
	void *text;
	size_t len;
	bool esp = vol->kind == PART_KIND_ESP;

	/* loader.conf from an ESP wins over one found elsewhere. */
	if (s->conf_found && (s->conf_from_esp || !esp))
		return;
	if (fs_read_all(vol->fs, "/loader/loader.conf", SCAN_ENTRY_MAX_BYTES,
			&text, &len))
		return;
	bls_config_init(&s->conf);
	bls_parse_loader_conf("/loader/loader.conf", text, len, &s->conf);
	s->conf_found = true;
	s->conf_from_esp = esp;
	s->conf_vol = (unsigned)(vol - s->vols);
	log_debug("%s: read /loader/loader.conf", vol->name);
	plat_free(text);
}

static void scan_volume(struct boot_scan *s, struct scan_volume *vol)
{
	struct entry_walk w = { s, vol };

	/* Volumes without /loader are skipped quietly: a missing file is not
	 * an error to fs_read_all or list. */
	read_loader_conf(s, vol);
	vol->fs->ops->list(vol->fs, "/loader/entries", entry_dir_fn, &w);
}

static struct scan_volume *add_volume(struct boot_scan *s, struct blockdev *disk,
				      unsigned disk_index,
				      const struct partition *p)
{
	struct scan_volume *vol;
	int r;

	if (s->nvols >= SCAN_MAX_VOLUMES) {
		log_warn("%s: more than %u volumes, the rest are ignored", disk->name,
			 SCAN_MAX_VOLUMES);
		return NULL;
	}
	vol = &s->vols[s->nvols];
	*vol = (struct scan_volume){ .disk_index = disk_index };
	if (p) {
		vol->part_number = p->number;
		vol->kind = p->kind;
		vq_snprintf(vol->name, sizeof(vol->name), "%s p%u", disk->name, p->number);
		r = part_open(disk, p, &vol->bd);
	} else {
		vq_snprintf(vol->name, sizeof(vol->name), "%s", disk->name);
		r = bdev_sub(disk, 0, disk->size, disk->name, &vol->bd);
	}
	if (r)
		return NULL;
	vq_snprintf(vol->bd.name, sizeof(vol->bd.name), "%s", vol->name);
	if (fs_mount(&vol->bd, &vol->fs)) {
		log_debug("%s: no filesystem vqboot reads", vol->name);
		return NULL;
	}
	s->nvols++;
	return vol;
}

/* ESP and XBOOTLDR first, as the specification searches them. */
static int kind_rank(enum part_kind k)
{
	return k == PART_KIND_ESP ? 0 : k == PART_KIND_XBOOTLDR ? 1 : 2;
}

int scan_disk(struct boot_scan *s, struct blockdev *disk, unsigned disk_index)
{
	struct part_table *t = plat_alloc(sizeof(*t));
	int r;

	if (!t)
		return -VQ_ENOMEM;
	r = part_read_table(disk, t);
	if (r) {
		log_error("%s: cannot read the partition table: %s", disk->name,
			  vq_strerror(r));
		plat_free(t);
		return r;
	}
	s->disks++;
	if (t->scheme == PART_SCHEME_NONE) {
		struct scan_volume *vol = add_volume(s, disk, disk_index, NULL);
		if (vol)
			scan_volume(s, vol);
	}
	for (int rank = 0; rank < 3; rank++) {
		for (unsigned i = 0; i < t->count; i++) {
			if (kind_rank(t->parts[i].kind) != rank)
				continue;
			struct scan_volume *vol = add_volume(s, disk, disk_index,
							     &t->parts[i]);
			if (!vol)
				continue;
			if (t->scheme == PART_SCHEME_GPT)
				part_guid_str(&t->parts[i].part_guid, vol->guid);
			scan_volume(s, vol);
		}
	}
	plat_free(t);
	return 0;
}

/* ---- automatic entries ---------------------------------------------------- */

#define AUTO_MAX_PATHS 64

struct path_walk {
	const char *dir;
	char *paths[AUTO_MAX_PATHS];
	size_t n;
};

static int auto_dir_fn(void *ctx, const struct fs_dirent *ent)
{
	struct path_walk *w = ctx;
	size_t len;

	if (ent->is_dir || w->n >= AUTO_MAX_PATHS)
		return 0;
	if (strncmp(ent->name, "vmlinuz", 7) && strncmp(ent->name, "initrd.img", 10))
		return 0;
	len = strlen(w->dir) + strlen(ent->name) + 2;
	w->paths[w->n] = plat_alloc(len);
	if (!w->paths[w->n])
		return 0;
	vq_snprintf(w->paths[w->n], len, "%s/%s", w->dir, ent->name);
	w->n++;
	return 0;
}

/* Symlinks such as /vmlinuz list as non-directories with the fs's own
 * notion of size; opening them (which follows links) is the real test. */
static void auto_volume(struct boot_scan *s, struct scan_volume *vol)
{
	struct path_walk w = { 0 };
	size_t before = s->entries.count;

	w.dir = "";
	vol->fs->ops->list(vol->fs, "/", auto_dir_fn, &w);
	w.dir = "/boot";
	vol->fs->ops->list(vol->fs, "/boot", auto_dir_fn, &w);
	if (w.n)
		bls_auto_entries((const char *const *)w.paths, w.n, vol->disk_index,
				 (unsigned)(vol - s->vols), &s->entries);
	for (size_t i = before; i < s->entries.count; i++) {
		struct bls_entry *e = s->entries.v[i];
		/* The root is this partition: name it by PARTUUID on GPT. */
		if (vol->guid[0])
			vq_snprintf(e->options, sizeof(e->options),
				    "root=PARTUUID=%s ro", vol->guid);
	}
	for (size_t i = 0; i < w.n; i++)
		plat_free(w.paths[i]);
}

void scan_finish(struct boot_scan *s)
{
	if (!s->entries.count) {
		for (unsigned i = 0; i < s->nvols; i++)
			if (s->vols[i].fs->type == FS_EXT)
				auto_volume(s, &s->vols[i]);
		if (s->entries.count)
			log_info("no boot loader entries: offering %zu automatic entr%s",
				 s->entries.count, s->entries.count == 1 ? "y" : "ies");
	}
	bls_list_sort(&s->entries);
	bls_list_make_titles(&s->entries);
}

struct scan_volume *scan_entry_volume(struct boot_scan *s,
				      const struct bls_entry *e)
{
	return e->part_index < s->nvols ? &s->vols[e->part_index] : NULL;
}

void scan_free(struct boot_scan *s)
{
	bls_list_free(&s->entries);
	for (unsigned i = 0; i < s->nvols; i++)
		fs_unmount(s->vols[i].fs);
	s->nvols = 0;
}
