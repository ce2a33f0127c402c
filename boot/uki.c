/* SPDX-License-Identifier: MIT */
/*
 * Unified kernel images (see uki.h). Section names and their meaning follow
 * UAPI.5 "UKI Components"; titles, versions and sort keys follow what
 * systemd-boot picks from os-release(5) fields; the command line rule is
 * systemd-stub(7)'s.
 */
#include "boot/uki.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

static const char *const section_names[UKI_SEC_COUNT] = {
	[UKI_SEC_LINUX] = ".linux",
	[UKI_SEC_OSREL] = ".osrel",
	[UKI_SEC_CMDLINE] = ".cmdline",
	[UKI_SEC_INITRD] = ".initrd",
	[UKI_SEC_UNAME] = ".uname",
	[UKI_SEC_SPLASH] = ".splash",
	[UKI_SEC_DTB] = ".dtb",
};

const char *uki_section_name(enum uki_section s)
{
	return (unsigned)s < UKI_SEC_COUNT ? section_names[s] + 1 : "?";
}

static int find_section(const char *name)
{
	for (int i = 0; i < UKI_SEC_COUNT; i++)
		if (strcmp(name, section_names[i]) == 0)
			return i;
	return -1;
}

static bool is_text_section(int k)
{
	return k == UKI_SEC_OSREL || k == UKI_SEC_CMDLINE || k == UKI_SEC_UNAME;
}

/* UAPI.5: "all of the sections defined above are singletons ... except for
 * the .dtb section"; in a multi-profile image the sections before the first
 * .profile are the base, which is what the stub boots by default. */
static int take_section(struct uki_layout *l, const struct pe_section *s,
			const char *name)
{
	int k;

	if (strcmp(s->name, ".profile") == 0) {
		l->profiles++;
		return 0;
	}
	if (l->profiles || (k = find_section(s->name)) < 0)
		return 0;
	if (l->sec[k].present) {
		if (k == UKI_SEC_DTB)
			return 0;
		return log_err(-VQ_ECORRUPT, "uki: %s: section %s appears twice",
			       name, s->name);
	}
	l->sec[k] = (struct uki_span){ .present = true, .offset = s->file_offset,
				       .size = pe_section_data_size(s) };
	if (is_text_section(k) && l->sec[k].size > UKI_TEXT_MAX)
		return log_err(-VQ_ECORRUPT, "uki: %s: section %s is %u bytes, limit %u",
			       name, s->name, l->sec[k].size, UKI_TEXT_MAX);
	return 0;
}

int uki_layout(const void *hdr, size_t avail, uint64_t file_size,
	       const char *name, struct uki_layout *ret)
{
	struct pe_section *secs = plat_alloc(PE_SECTIONS_MAX * sizeof(*secs));
	struct uki_layout l = { 0 };
	int r;

	if (!secs)
		return log_err(-VQ_ENOMEM, "uki: %s: no memory for the section table", name);
	r = pe_check_headers(hdr, avail, file_size, name, &l.pe, secs);
	for (unsigned i = 0; r == 0 && i < l.pe.section_count; i++)
		r = take_section(&l, &secs[i], name);
	plat_free(secs);
	if (r)
		return r;
	if (!l.sec[UKI_SEC_LINUX].present)
		return log_err(-VQ_ENOTSUP, "uki: %s: no .linux section, so not a unified kernel image",
			       name);
	if (l.sec[UKI_SEC_LINUX].size == 0)
		return log_err(-VQ_ECORRUPT, "uki: %s: the .linux section is empty", name);
	if (l.profiles)
		log_info("uki: %s: %u profiles; vqboot offers the default one", name,
			 l.profiles);
	*ret = l;
	return 0;
}

/* ---- os-release ---------------------------------------------------------- */

struct osrel_key {
	const char *key;
	size_t off;
	size_t size;
};

#define OSREL_KEY(k, member) \
	{ k, offsetof(struct uki_osrel, member), sizeof(((struct uki_osrel *)0)->member) }

static const struct osrel_key osrel_keys[] = {
	OSREL_KEY("PRETTY_NAME", pretty_name),
	OSREL_KEY("NAME", name),
	OSREL_KEY("ID", id),
	OSREL_KEY("IMAGE_ID", image_id),
	OSREL_KEY("VERSION", version),
	OSREL_KEY("VERSION_ID", version_id),
	OSREL_KEY("IMAGE_VERSION", image_version),
	OSREL_KEY("BUILD_ID", build_id),
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

struct osrel_value {
	char *out;
	size_t size;
	size_t len;
	const char *why; /* set when the value is refused */
};

static void value_put(struct osrel_value *v, char c)
{
	if ((unsigned char)c < 0x20 || c == 0x7f)
		v->why = v->why ? v->why : "control byte";
	else if (v->len + 1 >= v->size)
		v->why = v->why ? v->why : "too long";
	else
		v->out[v->len++] = c;
}

/* Shell-like quoting, as os-release(5) allows it: "..." with \" \\ \$ \`
 * escapes, '...' taken literally, a backslash outside quotes takes the next
 * byte; an unquoted blank ends the value. */
static void parse_value(const char *s, size_t n, struct osrel_value *v)
{
	char quote = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (quote == '\'' && c != '\'') {
			value_put(v, c);
		} else if (quote == '"' && c == '\\' && i + 1 < n &&
			   strchr("\"\\$`", s[i + 1])) {
			value_put(v, s[++i]);
		} else if (quote && c == quote) {
			quote = 0;
		} else if (quote) {
			value_put(v, c);
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '\\' && i + 1 < n) {
			value_put(v, s[++i]);
		} else if (is_blank(c)) {
			break;
		} else {
			value_put(v, c);
		}
	}
	if (quote && !v->why)
		v->why = "unclosed quote";
	v->out[v->len] = '\0';
}

static void osrel_line(const char *name, const char *line, size_t n,
		       unsigned lineno, struct uki_osrel *os)
{
	char buf[BLS_TITLE_MAX];
	struct osrel_value v = { .out = buf, .size = sizeof(buf) };
	size_t i = 0, k;

	while (i < n && is_blank(line[i]))
		i++;
	if (i == n || line[i] == '#')
		return;
	for (k = i; k < n && key_char(line[k]); k++)
		;
	if (k == i || k == n || line[k] != '=') {
		log_warn("uki: %s .osrel line %u: not KEY=VALUE; skipped", name, lineno);
		return;
	}
	for (size_t j = 0; j < ARRAY_SIZE(osrel_keys); j++) {
		const struct osrel_key *d = &osrel_keys[j];

		if (strlen(d->key) != k - i || memcmp(d->key, line + i, k - i))
			continue;
		v.size = d->size;
		parse_value(line + k + 1, n - k - 1, &v);
		if (v.why)
			log_warn("uki: %s .osrel line %u: %s: %s; ignored", name, lineno,
				 d->key, v.why);
		else
			memcpy((char *)os + d->off, buf, v.len + 1);
		return;
	}
}

int uki_osrel_parse(const char *name, const void *text, size_t len,
		    struct uki_osrel *ret)
{
	const char *p = text;
	unsigned lineno = 0;
	size_t pos = 0;

	*ret = (struct uki_osrel){ 0 };
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\0') {
			len = i; /* section padding */
			break;
		}
	}
	while (pos < len) {
		size_t n = 0;

		while (pos + n < len && p[pos + n] != '\n')
			n++;
		lineno++;
		osrel_line(name, p + pos, n > 0 && p[pos + n - 1] == '\r' ? n - 1 : n,
			   lineno, ret);
		pos += n + 1;
	}
	return 0;
}

static const char *first_set(const char *a, const char *b, const char *c,
			     const char *d)
{
	return a[0] ? a : b[0] ? b : c[0] ? c : d;
}

void uki_osrel_pick(const struct uki_osrel *os, const char **ret_title,
		    const char **ret_version, const char **ret_sort_key)
{
	*ret_title = first_set(os->pretty_name, os->image_id, os->name, os->id);
	*ret_version = first_set(os->image_version, os->version, os->version_id,
				 os->build_id);
	*ret_sort_key = first_set(os->image_id, os->id, "", "");
}

/* ---- entries ------------------------------------------------------------------ */

struct uki_file {
	struct fs *fs;
	struct fs_file *f;
	uint64_t size;
	const char *label; /* "/EFI/Linux/x.efi on vblk 00:03.0 p1" */
};

/* A section's bytes and a NUL, in a plat_alloc()ed buffer. */
static int read_span(struct uki_file *u, const struct uki_span *s, char **ret)
{
	char *buf = plat_alloc((size_t)s->size + 1);
	int r;

	if (!buf)
		return log_err(-VQ_ENOMEM, "uki: %s: no memory for %u bytes", u->label,
			       s->size);
	r = u->fs->ops->read(u->f, s->offset, buf, s->size);
	if (r) {
		bdev_free(u->fs->bd, buf); /* kept if the disk would not stop */
		return log_err(r, "uki: %s: cannot read %u bytes at %u: %s", u->label,
			       s->size, s->offset, vq_strerror(r));
	}
	*ret = buf;
	return 0;
}

/* Text sections end in NULs or a newline more often than not. */
static size_t trim_end(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\0' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
		     is_blank(s[n - 1])))
		n--;
	return n;
}

/* .cmdline as the menu shows and edits it: control bytes (a newline
 * between words, say) become spaces. */
static int take_cmdline(struct bls_entry *e, const char *text, size_t n,
			const char *label)
{
	n = trim_end(text, n);
	if (n >= sizeof(e->options))
		return log_err(-VQ_E2BIG, "uki: %s: .cmdline is %zu bytes, limit %zu",
			       label, n, sizeof(e->options) - 1);
	for (size_t i = 0; i < n; i++)
		e->options[i] = ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) ?
			' ' : text[i];
	e->options[n] = '\0';
	e->has_cmdline = true;
	return 0;
}

static void take_uname(struct bls_entry *e, const char *text, size_t n,
		       const char *label)
{
	n = trim_end(text, n);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)text[i] <= 0x20 || text[i] == 0x7f) {
			log_warn("uki: %s: .uname has byte 0x%02x; ignored", label,
				 (unsigned char)text[i]);
			return;
		}
	}
	if (n >= sizeof(e->uname)) {
		log_warn("uki: %s: .uname is %zu bytes, limit %zu; ignored", label, n,
			 sizeof(e->uname) - 1);
		return;
	}
	memcpy(e->uname, text, n);
	e->uname[n] = '\0';
}

static void copy_str(char *dst, size_t size, const char *src)
{
	vq_snprintf(dst, size, "%s", src);
}

static int take_osrel(struct bls_entry *e, const char *text, size_t n,
		      const char *label)
{
	struct uki_osrel *os = plat_alloc(sizeof(*os));
	const char *title, *version, *sort_key;

	if (!os)
		return log_err(-VQ_ENOMEM, "uki: %s: no memory for .osrel", label);
	uki_osrel_parse(label, text, n, os);
	uki_osrel_pick(os, &title, &version, &sort_key);
	copy_str(e->title, sizeof(e->title), title);
	copy_str(e->version, sizeof(e->version), version);
	copy_str(e->sort_key, sizeof(e->sort_key), sort_key);
	if (!title[0])
		log_warn("uki: %s: .osrel names no PRETTY_NAME, IMAGE_ID, NAME or ID", label);
	plat_free(os);
	return 0;
}

/* Read one text section and hand it to @take. */
static int text_section(struct uki_file *u, const struct uki_layout *l,
			enum uki_section k, struct bls_entry *e,
			int (*take)(struct bls_entry *, const char *, size_t, const char *))
{
	char *text = NULL;
	int r;

	if (!l->sec[k].present)
		return 0;
	if ((r = read_span(u, &l->sec[k], &text)) != 0)
		return r;
	r = take(e, text, l->sec[k].size, u->label);
	plat_free(text);
	return r;
}

static int take_uname_fn(struct bls_entry *e, const char *t, size_t n, const char *label)
{
	take_uname(e, t, n, label);
	return 0;
}

static int read_sections(struct uki_file *u, struct bls_entry *e)
{
	size_t avail = (size_t)VQ_MIN(u->size, (uint64_t)UKI_HEADER_READ);
	uint8_t *hdr = plat_alloc(avail ? avail : 1);
	struct uki_layout l;
	int r;

	if (!hdr)
		return log_err(-VQ_ENOMEM, "uki: %s: no memory for the headers", u->label);
	r = u->fs->ops->read(u->f, 0, hdr, avail);
	if (r)
		log_error("uki: %s: cannot read the first %zu bytes: %s", u->label,
			  avail, vq_strerror(r));
	else
		r = uki_layout(hdr, avail, u->size, u->label, &l);
	bdev_free(u->fs->bd, hdr); /* kept if the disk would not stop */
	if (!r)
		r = text_section(u, &l, UKI_SEC_OSREL, e, take_osrel);
	if (!r)
		r = text_section(u, &l, UKI_SEC_CMDLINE, e, take_cmdline);
	if (!r)
		r = text_section(u, &l, UKI_SEC_UNAME, e, take_uname_fn);
	if (!r && !l.sec[UKI_SEC_OSREL].present)
		log_warn("uki: %s: no .osrel section; shown by its file name", u->label);
	return r;
}

/* The menu line says why: the last error without its "x: NAME: " head. */
static void mark_unusable(struct bls_entry *e, const char *label, int r)
{
	const char *msg = log_last_error(), *at = NULL;
	size_t n = strlen(label);

	for (const char *p = msg; *p && !at; p++)
		if (strncmp(p, label, n) == 0 && p[n] == ':' && p[n + 1] == ' ')
			at = p + n + 2;
	e->broken = true;
	if (at)
		vq_snprintf(e->reason, sizeof(e->reason), "%s", at);
	else
		vq_snprintf(e->reason, sizeof(e->reason), "not a usable unified kernel image: %s",
			    vq_strerror(r));
}

int uki_read_entry(struct fs *fs, const char *dir, const char *file_name,
		   const char *vol, struct bls_entry **ret)
{
	char label[BLS_PATH_MAX + 64];
	struct uki_file u = { .fs = fs, .label = label };
	struct bls_entry *e;
	int r;

	if ((r = bls_entry_alloc(file_name, ".efi", &e)) != 0)
		return r;
	e->kind = BLS_KIND_UKI;
	if (vq_snprintf(e->efi_path, sizeof(e->efi_path), "%s/%s", dir, file_name) >=
	    (int)sizeof(e->efi_path)) {
		e->broken = true;
		vq_snprintf(e->reason, sizeof(e->reason), "path longer than %u bytes",
			    BLS_PATH_MAX - 1);
		*ret = e;
		return 0;
	}
	vq_snprintf(label, sizeof(label), "%s on %s", e->efi_path, vol);
	r = fs->ops->open(fs, e->efi_path, &u.f);
	if (r) {
		log_error("uki: %s: cannot open: %s", label, vq_strerror(r));
	} else {
		u.size = fs->ops->size(u.f);
		r = read_sections(&u, e);
		fs->ops->close(u.f);
	}
	if (r == -VQ_ENOMEM) {
		bls_entry_free(e);
		return r;
	}
	if (r)
		mark_unusable(e, label, r);
	if (!e->version[0])
		copy_str(e->version, sizeof(e->version), e->uname);
	*ret = e;
	return 0;
}

/* ---- before the start ---------------------------------------------------------- */

static bool looks_like_linux(const uint8_t *k, uint32_t size)
{
	/* Documentation/arch/x86/boot.rst: "HdrS" at 0x202. */
	return size >= 0x206 && get_le32(k + 0x202) == 0x53726448;
}

int uki_check_image(const void *image, size_t size, const char *name,
		    struct pe_info *ret_kernel)
{
	char kname[BLS_PATH_MAX + 80];
	struct uki_layout l;
	const uint8_t *k;
	int r;

	*ret_kernel = (struct pe_info){ 0 };
	if ((r = uki_layout(image, size, size, name, &l)) != 0)
		return r;
	k = (const uint8_t *)image + l.sec[UKI_SEC_LINUX].offset;
	if (!looks_like_linux(k, l.sec[UKI_SEC_LINUX].size)) {
		log_warn("uki: %s: .linux is not a Linux kernel; the stub may still know it",
			 name);
		return 0;
	}
	vq_snprintf(kname, sizeof(kname), "%s .linux", name);
	return pe_check(k, l.sec[UKI_SEC_LINUX].size, kname, ret_kernel);
}

bool uki_pass_cmdline(const struct bls_entry *e, const char *line,
		      const char *append, bool secure_boot)
{
	bool edited = strcmp(line ? line : "", e->options) != 0;
	bool appended = append && append[0];

	if (!edited && !appended)
		return false;
	if (secure_boot && e->has_cmdline) {
		log_warn("uki: %s: Secure Boot is on and the image has its own .cmdline, which the stub uses: the %s command line is not passed",
			 e->id, edited ? "edited" : "appended");
		return false;
	}
	return true;
}
