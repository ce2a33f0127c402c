/* SPDX-License-Identifier: MIT */
#include "boot/scan.h"
#include "boot/uki.h"
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
	const char *dir;     /* "/loader/entries" or "/boot/loader/entries" */
	const char *prefix;  /* "" or "/boot": what the entry's paths are under */
	unsigned found;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* ASCII case-insensitive: FAT keeps whatever case the tool wrote. */
static bool ends_with_nocase(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n < m)
		return false;
	for (size_t i = 0; i < m; i++) {
		char a = s[n - m + i], b = suffix[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

static void add_entry(struct boot_scan *s, struct scan_volume *vol,
		      struct bls_entry *e, const char *path)
{
	e->disk_index = vol->disk_index;
	e->part_index = (unsigned)(vol - s->vols);
	if (bls_list_add(&s->entries, e))
		log_warn("%s: too many entries, %s dropped", vol->name, path);
}

/* ---- GRUB environment blocks ------------------------------------------------ */

static struct grubenv *read_grubenv(struct scan_volume *vol, const char *path)
{
	char src[GRUBENV_SOURCE_MAX];
	struct grubenv *env = NULL;
	void *text;
	size_t len;

	if (fs_read_all(vol->fs, path, GRUBENV_FILE_MAX, &text, &len))
		return NULL;
	vq_snprintf(src, sizeof(src), "%s on %s", path, vol->name);
	if (!grubenv_parse(src, text, len, &env))
		log_debug("%s: %u variable%s", src, env->count, env->count == 1 ? "" : "s");
	plat_free(text);
	return env;
}

#define ESP_VENDORS_MAX 16

struct vendor_walk {
	char names[ESP_VENDORS_MAX][64];
	unsigned n;
};

static int vendor_fn(void *ctx, const struct fs_dirent *ent)
{
	struct vendor_walk *w = ctx;

	if (ent->is_dir && w->n < ESP_VENDORS_MAX && strlen(ent->name) < sizeof(w->names[0]))
		vq_snprintf(w->names[w->n++], sizeof(w->names[0]), "%s", ent->name);
	return 0;
}

/* On UEFI, RHEL's /boot/grub2/grubenv is a symlink into the ESP
 * (../efi/EFI/redhat/grubenv), which no file system here can follow:
 * look for /EFI/VENDOR/grubenv on the ESP itself. */
static struct grubenv *esp_grubenv(struct scan_volume *esp)
{
	struct vendor_walk w = { 0 };
	char path[96];

	if (!esp->env_tried[2]) {
		esp->env_tried[2] = true;
		esp->fs->ops->list(esp->fs, "/EFI", vendor_fn, &w);
		for (unsigned i = 0; i < w.n && !esp->env[2]; i++) {
			vq_snprintf(path, sizeof(path), "/EFI/%s/grubenv", w.names[i]);
			esp->env[2] = read_grubenv(esp, path);
		}
	}
	return esp->env[2];
}

/* The entry's own file system first, then the ESPs found so far (this
 * disk's before the others). */
static const struct grubenv *entry_grubenv(struct boot_scan *s,
					   struct scan_volume *vol,
					   const char *prefix)
{
	unsigned slot = prefix[0] ? 1 : 0;
	char path[64];

	if (!vol->env_tried[slot]) {
		vol->env_tried[slot] = true;
		vq_snprintf(path, sizeof(path), "%s/grub2/grubenv", prefix);
		vol->env[slot] = read_grubenv(vol, path);
	}
	if (vol->env[slot])
		return vol->env[slot];
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < s->nvols; i++) {
			struct scan_volume *v = &s->vols[i];

			if (v->kind != PART_KIND_ESP ||
			    (v->disk_index == vol->disk_index) != (pass == 0))
				continue;
			if (esp_grubenv(v))
				return v->env[2];
		}
	}
	return NULL;
}

/* ---- type #1 entries ---------------------------------------------------------- */

static void add_entry_file(struct entry_walk *w, const char *name)
{
	char path[300];
	void *text;
	size_t len;
	struct bls_entry *e;

	vq_snprintf(path, sizeof(path), "%s/%s", w->dir, name);
	if (fs_read_all(w->vol->fs, path, SCAN_ENTRY_MAX_BYTES, &text, &len)) {
		log_warn("%s: skipping entry %s", w->vol->name, path);
		return;
	}
	if (!bls_parse_entry(name, text, len, &e)) {
		if (w->prefix[0])
			bls_entry_prefix_paths(e, w->prefix);
		if (bls_entry_has_vars(e))
			bls_entry_expand(e, entry_grubenv(w->s, w->vol, w->prefix));
		add_entry(w->s, w->vol, e, path);
		w->found++;
	}
	plat_free(text);
}

static int entry_dir_fn(void *ctx, const struct fs_dirent *ent)
{
	if (!ent->is_dir && ends_with(ent->name, ".conf"))
		add_entry_file(ctx, ent->name);
	return 0;
}

/* -1 when the directory is not there; else the entries found in it. */
static int scan_entry_dir(struct boot_scan *s, struct scan_volume *vol,
			  const char *dir, const char *prefix)
{
	struct entry_walk w = { s, vol, dir, prefix, 0 };

	if (vol->fs->ops->list(vol->fs, dir, entry_dir_fn, &w) < 0)
		return -1;
	return (int)w.found;
}

/* ---- type #2 entries ------------------------------------------------------------ */

static int uki_dir_fn(void *ctx, const struct fs_dirent *ent)
{
	struct entry_walk *w = ctx;
	struct bls_entry *e;

	if (ent->is_dir || !ends_with_nocase(ent->name, ".efi"))
		return 0;
	if (uki_read_entry(w->vol->fs, UKI_DIR, ent->name, w->vol->name, &e) == 0) {
		add_entry(w->s, w->vol, e, ent->name);
		w->found++;
	}
	return 0;
}

static int scan_uki_dir(struct boot_scan *s, struct scan_volume *vol)
{
	struct entry_walk w = { s, vol, UKI_DIR, "", 0 };

	if (vol->fs->ops->list(vol->fs, UKI_DIR, uki_dir_fn, &w) < 0)
		return -1;
	return (int)w.found;
}

/* ---- volumes ------------------------------------------------------------------------ */

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

/* ", 2 entries in /loader/entries" or ", no /loader/entries". */
static void say_found(char *buf, size_t size, int n, const char *dir)
{
	if (n < 0)
		vq_snprintf(buf, size, ", no %s", dir);
	else
		vq_snprintf(buf, size, ", %d entr%s in %s", n, n == 1 ? "y" : "ies", dir);
}

static const char *vol_what(const struct scan_volume *vol)
{
	static const char *const kinds[] = {
		[PART_KIND_OTHER] = "other partition",
		[PART_KIND_ESP] = "esp partition",
		[PART_KIND_XBOOTLDR] = "xbootldr partition",
		[PART_KIND_LINUX] = "linux partition",
	};

	if (vol->part_number == 0)
		return "whole disk";
	return (unsigned)vol->kind < ARRAY_SIZE(kinds) ? kinds[vol->kind] : "partition";
}

static void scan_volume(struct boot_scan *s, struct scan_volume *vol)
{
	bool boot_part = vol->kind == PART_KIND_ESP || vol->kind == PART_KIND_XBOOTLDR;
	char what[2][64];
	int found[2];

	read_loader_conf(s, vol);
	found[0] = scan_entry_dir(s, vol, "/loader/entries", "");
	/* Unified kernel images live on ESP and XBOOTLDR (spec "Type #2");
	 * elsewhere a root file system keeps its entries under /boot. */
	if (boot_part)
		found[1] = scan_uki_dir(s, vol);
	else
		found[1] = scan_entry_dir(s, vol, "/boot/loader/entries", "/boot");
	say_found(what[0], sizeof(what[0]), found[0], "/loader/entries");
	say_found(what[1], sizeof(what[1]), found[1],
		  boot_part ? UKI_DIR : "/boot/loader/entries");
	log_debug("%s: %s, %s%s%s", vol->name, vol_what(vol),
		  fs_type_name(vol->fs->type), what[0], what[1]);
}

/* Where entries may be, an unreadable file system is worth saying. */
static void say_no_fs(const struct scan_volume *vol, int r)
{
	int level = vol->kind == PART_KIND_OTHER ? LOG_DEBUG : LOG_INFO;

	if (r == -VQ_ENOENT)
		log_msg(level, "%s: %s, no file system vqboot knows; skipped", vol->name,
			vol_what(vol));
	else
		log_msg(level, "%s: %s, file system not readable (%s); skipped", vol->name,
			vol_what(vol), vq_strerror(r));
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
	r = fs_mount(&vol->bd, &vol->fs);
	if (r) {
		say_no_fs(vol, r);
		return NULL;
	}
	s->nvols++;
	return vol;
}

/* ESP and XBOOTLDR first, as the specification searches them, then what
 * may be a /boot or a root file system. */
static int kind_rank(enum part_kind k)
{
	switch (k) {
	case PART_KIND_ESP: return 0;
	case PART_KIND_XBOOTLDR: return 1;
	case PART_KIND_LINUX: return 2;
	default: return 3;
	}
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
	for (int rank = 0; rank < 4; rank++) {
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
	for (unsigned i = 0; i < s->nvols; i++) {
		for (unsigned k = 0; k < ARRAY_SIZE(s->vols[i].env); k++)
			grubenv_free(s->vols[i].env[k]);
		fs_unmount(s->vols[i].fs);
	}
	s->nvols = 0;
}
