/* SPDX-License-Identifier: MIT */
/*
 * Boot Loader Specification type #1 entries and loader.conf.
 *
 * UAPI.1 Boot Loader Specification, "Type #1 Boot Loader Entry Keys": "The
 * first word of a line is used as key and shall be separated by one or more
 * spaces from its value"; lines beginning with '#' are comments; unknown
 * keys are ignored. Files are UTF-8 with '\n' line ends; we also take CRLF
 * because files edited on other systems end up on the ESP.
 */
#include "boot/bls.h"
#include "boot/grubenv.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

/* ---- small text helpers ------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool eq_nocase(const char *a, const char *b)
{
	while (*a && fold(*a) == fold(*b))
		a++, b++;
	return fold(*a) == fold(*b);
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/* Copy @n bytes and a NUL into @dst of @size; false when it does not fit. */
static bool copy_text(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return true;
}

static void copy_trunc(char *dst, size_t size, const char *src)
{
	size_t n = VQ_MIN(strlen(src), size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Messages quote at most this much of a key or value. */
#define QUOTE_MAX 32

/* A NUL-terminated copy of (the start of) @n bytes of line text, which is
 * not NUL-terminated itself, for a log message. */
static const char *quote(char buf[QUOTE_MAX + 1], const char *s, size_t n)
{
	n = VQ_MIN(n, (size_t)QUOTE_MAX);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* ---- lines ------------------------------------------------------------- */

struct line_reader {
	const char *p;
	size_t len;
	size_t pos;
	unsigned lineno;
};

/* The next line without its "\n" or "\r\n"; false at the end of the text. */
static bool next_line(struct line_reader *r, const char **ret_line,
		      size_t *ret_len)
{
	const char *start = r->p + r->pos;
	size_t rest = r->len - r->pos;
	size_t n = 0;

	if (r->pos >= r->len)
		return false;
	while (n < rest && start[n] != '\n')
		n++;
	r->pos += n + (n < rest ? 1 : 0);
	r->lineno++;
	if (n > 0 && start[n - 1] == '\r')
		n--;
	*ret_line = start;
	*ret_len = n;
	return true;
}

/* Length of the valid UTF-8 sequence at @s (RFC 3629 table), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF)
		need = 2;
	else if (c >= 0xF0 && c <= 0xF4)
		need = 3;
	else
		return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

/*
 * Checks one line for bytes that have no business in a text file: NUL,
 * control bytes other than tab, DEL, malformed UTF-8. Describes the first
 * one found in @why.
 */
static bool line_is_text(const char *line, size_t n, char *why, size_t why_size)
{
	const unsigned char *s = (const unsigned char *)line;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(s + i, n - i);

		if (k == 0) {
			vq_snprintf(why, why_size, "bad UTF-8 byte 0x%02x at column %zu",
				    s[i], i + 1);
			return false;
		}
		if (k == 1 && ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F)) {
			vq_snprintf(why, why_size, "control byte 0x%02x at column %zu",
				    s[i], i + 1);
			return false;
		}
		i += k;
	}
	return true;
}

/* Splits "key   value  " into key and value (either may be empty). */
struct kv {
	const char *key;
	size_t key_len;
	const char *val;
	size_t val_len;
};

static bool split_line(const char *line, size_t n, struct kv *kv)
{
	size_t i = 0, k;

	while (i < n && is_space(line[i]))
		i++;
	if (i == n || line[i] == '#')
		return false;
	k = i;
	while (k < n && !is_space(line[k]))
		k++;
	kv->key = line + i;
	kv->key_len = k - i;
	while (k < n && is_space(line[k]))
		k++;
	while (n > k && is_space(line[n - 1]))
		n--;
	kv->val = line + k;
	kv->val_len = n - k;
	return true;
}

/* Reads a line and returns it checked; on a bad line, @why says why. */
enum line_state { LINE_END, LINE_OK, LINE_SKIP, LINE_BAD };

static enum line_state read_kv(struct line_reader *r, struct kv *kv,
			       char *why, size_t why_size)
{
	const char *line;
	size_t n;

	if (!next_line(r, &line, &n))
		return LINE_END;
	if (n > BLS_LINE_MAX) {
		vq_snprintf(why, why_size, "line is %zu bytes, limit %u", n,
			    BLS_LINE_MAX);
		return LINE_BAD;
	}
	if (!line_is_text(line, n, why, why_size))
		return LINE_BAD;
	return split_line(line, n, kv) ? LINE_OK : LINE_SKIP;
}

/* ---- entries ------------------------------------------------------------ */

static void VQ_PRINTF(3, 4)
mark_broken(struct bls_entry *e, unsigned lineno, const char *fmt, ...)
{
	char msg[BLS_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vq_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The first problem is the one the menu shows and the one worth an
	 * error; a binary file would otherwise log one per line. */
	int level = e->broken ? LOG_DEBUG : LOG_ERR;

	if (lineno)
		log_msg(level, "bls: %s line %u: %s", e->name, lineno, msg);
	else
		log_msg(level, "bls: %s: %s", e->name, msg);
	if (e->broken)
		return;
	e->broken = true;
	if (lineno)
		vq_snprintf(e->reason, sizeof(e->reason), "line %u: %s", lineno, msg);
	else
		copy_trunc(e->reason, sizeof(e->reason), msg);
}

enum key_kind { KEY_ONE, KEY_INITRD, KEY_OPTIONS, KEY_IGNORE };

struct key_def {
	const char *key;
	size_t off;
	size_t size;
	enum key_kind kind;
};

#define BLS_KEY(name, member, kind) \
	{ name, offsetof(struct bls_entry, member), \
	  sizeof(((struct bls_entry *)0)->member), kind }

static const struct key_def bls_keys[] = {
	BLS_KEY("title", title, KEY_ONE),
	BLS_KEY("version", version, KEY_ONE),
	BLS_KEY("machine-id", machine_id, KEY_ONE),
	BLS_KEY("sort-key", sort_key, KEY_ONE),
	BLS_KEY("linux", linux_path, KEY_ONE),
	BLS_KEY("initrd", initrd, KEY_INITRD),
	BLS_KEY("options", options, KEY_OPTIONS),
	BLS_KEY("efi", efi_path, KEY_ONE),
	BLS_KEY("architecture", architecture, KEY_ONE),
	BLS_KEY("devicetree", devicetree, KEY_ONE),
	/* RHEL and Fedora: for GRUB's blscfg, nothing we use. */
	{ "id", 0, 0, KEY_IGNORE },
	{ "grub_users", 0, 0, KEY_IGNORE },
	{ "grub_arg", 0, 0, KEY_IGNORE },
	{ "grub_class", 0, 0, KEY_IGNORE },
};

static void add_one_initrd(struct bls_entry *e, const char *path, size_t n,
			   unsigned lineno)
{
	if (e->initrd_count == BLS_INITRD_MAX) {
		mark_broken(e, lineno, "more than %u initrds", BLS_INITRD_MAX);
		return;
	}
	if (!copy_text(e->initrd[e->initrd_count], BLS_PATH_MAX, path, n)) {
		mark_broken(e, lineno, "initrd is %zu bytes, limit %u", n,
			    BLS_PATH_MAX - 1);
		return;
	}
	e->initrd_count++;
}

/* GRUB's blscfg takes every word of an initrd line as a file; file names
 * in the specification's character set have no spaces, so nothing that
 * worked before changes. */
static void add_initrds(struct bls_entry *e, const char *val, size_t n,
			unsigned lineno)
{
	size_t i = 0, start;

	while (i < n) {
		while (i < n && is_space(val[i]))
			i++;
		start = i;
		while (i < n && !is_space(val[i]))
			i++;
		if (i > start)
			add_one_initrd(e, val + start, i - start, lineno);
	}
}

static void add_initrd(struct bls_entry *e, const struct kv *kv, unsigned lineno)
{
	add_initrds(e, kv->val, kv->val_len, lineno);
}

/* Spec: options "may appear more than once in which case all specified
 * parameters are used in the order they are listed". */
static void add_options(struct bls_entry *e, const struct kv *kv, unsigned lineno)
{
	size_t have = strlen(e->options);
	size_t sep = have ? 1 : 0;

	if (have + sep + kv->val_len >= sizeof(e->options)) {
		mark_broken(e, lineno, "options add up to %zu bytes, limit %zu",
			    have + sep + kv->val_len, sizeof(e->options) - 1);
		return;
	}
	if (sep)
		e->options[have] = ' ';
	copy_text(e->options + have + sep, sizeof(e->options) - have - sep,
		  kv->val, kv->val_len);
}

static void set_key(struct bls_entry *e, const struct kv *kv, unsigned lineno)
{
	char q[QUOTE_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(bls_keys); i++) {
		const struct key_def *d = &bls_keys[i];

		if (!word_is(kv->key, kv->key_len, d->key))
			continue;
		if (d->kind == KEY_IGNORE)
			return;
		if (kv->val_len == 0) {
			log_warn("bls: %s line %u: %s has no value, ignored",
				 e->name, lineno, d->key);
			return;
		}
		if (d->kind == KEY_INITRD)
			add_initrd(e, kv, lineno);
		else if (d->kind == KEY_OPTIONS)
			add_options(e, kv, lineno);
		else if (!copy_text((char *)e + d->off, d->size, kv->val, kv->val_len))
			mark_broken(e, lineno, "%s is %zu bytes, limit %zu", d->key,
				    kv->val_len, d->size - 1);
		return;
	}
	log_debug("bls: %s line %u: unknown key '%s' ignored", e->name, lineno,
		  quote(q, kv->key, kv->key_len));
}

/* Reads up to 9 digits (no overflow in an int); false on anything else. */
static bool parse_small_uint(const char *s, size_t n, int *ret)
{
	int v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* Spec "Boot counting": "+LEFT" or "+LEFT-DONE" right before ".conf". */
static void take_boot_counter(struct bls_entry *e)
{
	char *plus = NULL;
	size_t n, dash;
	int left, done = 0;

	for (char *c = e->id; *c; c++)
		if (*c == '+')
			plus = c;
	if (!plus)
		return;
	n = strlen(plus + 1);
	for (dash = 0; dash < n && plus[1 + dash] != '-'; dash++)
		;
	if (!parse_small_uint(plus + 1, dash, &left))
		return;
	if (dash < n && !parse_small_uint(plus + 2 + dash, n - dash - 1, &done))
		return;
	e->tries_left = left;
	e->tries_done = done;
	*plus = '\0';
}

static void set_names(struct bls_entry *e, const char *file_name,
		      const char *suffix)
{
	size_t n, m = strlen(suffix);

	copy_trunc(e->name, sizeof(e->name), file_name);
	copy_trunc(e->id, sizeof(e->id), file_name);
	n = strlen(e->id);
	if (n > m && eq_nocase(e->id + n - m, suffix))
		e->id[n - m] = '\0';
	take_boot_counter(e);
	if (strlen(file_name) >= sizeof(e->name))
		mark_broken(e, 0, "file name is %zu bytes, limit %zu",
			    strlen(file_name), sizeof(e->name) - 1);
}

static void parse_lines(struct bls_entry *e, const void *text, size_t len)
{
	struct line_reader r = { .p = text, .len = len };
	char why[80];
	struct kv kv;
	enum line_state st;

	while ((st = read_kv(&r, &kv, why, sizeof(why))) != LINE_END) {
		if (st == LINE_BAD)
			mark_broken(e, r.lineno, "%s", why);
		else if (st == LINE_OK)
			set_key(e, &kv, r.lineno);
	}
}

int bls_entry_alloc(const char *file_name, const char *suffix,
		    struct bls_entry **ret)
{
	struct bls_entry *e;

	if (!file_name || !file_name[0])
		return log_err(-VQ_EINVAL, "bls: entry without a file name");
	e = plat_alloc(sizeof(*e));
	if (!e)
		return log_err(-VQ_ENOMEM, "bls: %s: no memory for the entry",
			       file_name);
	e->tries_left = -1;
	set_names(e, file_name, suffix ? suffix : "");
	*ret = e;
	return 0;
}

int bls_parse_entry(const char *file_name, const void *text, size_t len,
		    struct bls_entry **ret)
{
	struct bls_entry *e;
	int r;

	if (!text && len)
		return log_err(-VQ_EINVAL, "bls: entry without text");
	if ((r = bls_entry_alloc(file_name, ".conf", &e)) < 0)
		return r;
	parse_lines(e, text, len);
	/* Spec: "Each boot loader menu entry snippet must include at least a
	 * linux or an efi key and is otherwise not valid". */
	if (!e->linux_path[0] && !e->efi_path[0])
		mark_broken(e, 0, "no linux or efi key");
	*ret = e;
	return 0;
}

void bls_entry_free(struct bls_entry *e)
{
	plat_free(e);
}

/* An unset variable leaves its spaces behind ("$kernelopts $tuned_params"). */
static void copy_trimmed(char *dst, size_t size, const char *src)
{
	size_t n;

	while (is_space(*src))
		src++;
	n = strlen(src);
	while (n && is_space(src[n - 1]))
		n--;
	n = VQ_MIN(n, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool bls_entry_has_vars(const struct bls_entry *e)
{
	bool has = grubenv_has_vars(e->options);

	for (unsigned i = 0; i < e->initrd_count && !has; i++)
		has = grubenv_has_vars(e->initrd[i]);
	return has;
}

void bls_entry_expand(struct bls_entry *e, const struct grubenv *env)
{
	char initrd[BLS_INITRD_MAX][BLS_PATH_MAX];
	char *buf = plat_alloc(BLS_OPTIONS_MAX);
	unsigned n = e->initrd_count;

	if (!buf) {
		mark_broken(e, 0, "no memory to expand variables");
		return;
	}
	if (grubenv_has_vars(e->options)) {
		if (grubenv_expand(env, e->name, e->options, buf, BLS_OPTIONS_MAX))
			mark_broken(e, 0, "options too long once variables are expanded");
		else
			copy_trimmed(e->options, sizeof(e->options), buf);
	}
	/* Each initrd word is expanded, then split again into words. */
	memcpy(initrd, e->initrd, sizeof(initrd));
	e->initrd_count = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!grubenv_has_vars(initrd[i])) {
			add_one_initrd(e, initrd[i], strlen(initrd[i]), 0);
		} else if (grubenv_expand(env, e->name, initrd[i], buf, BLS_OPTIONS_MAX)) {
			mark_broken(e, 0, "initrd too long once variables are expanded");
		} else {
			add_initrds(e, buf, strlen(buf), 0);
		}
	}
	plat_free(buf);
}

static void prefix_path(struct bls_entry *e, char *path, const char *prefix)
{
	char buf[BLS_PATH_MAX];

	if (!path[0])
		return;
	/* Paths "may be prefixed with a /, but this is optional". */
	if (vq_snprintf(buf, sizeof(buf), "%s%s%s", prefix, path[0] == '/' ? "" : "/",
			path) >= (int)sizeof(buf)) {
		mark_broken(e, 0, "%s%s is longer than %u bytes", prefix, path,
			    BLS_PATH_MAX - 1);
		return;
	}
	memcpy(path, buf, sizeof(buf));
}

void bls_entry_prefix_paths(struct bls_entry *e, const char *prefix)
{
	prefix_path(e, e->linux_path, prefix);
	prefix_path(e, e->efi_path, prefix);
	prefix_path(e, e->devicetree, prefix);
	for (unsigned i = 0; i < e->initrd_count; i++)
		prefix_path(e, e->initrd[i], prefix);
}

bool bls_entry_hidden(const struct bls_entry *e)
{
	return e->architecture[0] && !eq_nocase(e->architecture, BLS_LOCAL_ARCH);
}

bool bls_entry_bootable(const struct bls_entry *e)
{
	return !e->broken && (e->linux_path[0] || e->efi_path[0]);
}

bool bls_entry_bad(const struct bls_entry *e)
{
	return e->tries_left == 0;
}

static const char *raw_title(const struct bls_entry *e)
{
	return e->title[0] ? e->title : e->id;
}

const char *bls_entry_title(const struct bls_entry *e)
{
	return e->display_title[0] ? e->display_title : raw_title(e);
}

int bls_entry_cmdline(const struct bls_entry *e, const char *append,
		      char *buf, size_t size)
{
	size_t a = strlen(e->options);
	size_t b = append ? strlen(append) : 0;
	size_t sep = (a && b) ? 1 : 0;

	if (size == 0 || a + sep + b > size - 1)
		return log_err(-VQ_E2BIG,
			       "bls: %s: command line of %zu + %zu bytes exceeds %zu",
			       e->id, a, b, size ? size - 1 : 0);
	memcpy(buf, e->options, a);
	if (sep)
		buf[a] = ' ';
	if (b)
		memcpy(buf + a + sep, append, b);
	buf[a + sep + b] = '\0';
	return 0;
}

/* ---- loader.conf ---------------------------------------------------------- */

void bls_config_init(struct bls_config *c)
{
	*c = (struct bls_config){ .timeout_s = BLS_TIMEOUT_DEFAULT, .editor = true };
}

/* loader.conf(5): "yes"/"y"/"true"/"t"/"on"/"1" or "no"/"n"/"false"/"f"/
 * "off"/"0". */
static bool parse_bool(const char *v, size_t n, bool *ret)
{
	static const char *const yes[] = { "yes", "y", "true", "t", "on", "1" };
	static const char *const no[] = { "no", "n", "false", "f", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (word_is(v, n, yes[i])) {
			*ret = true;
			return true;
		}
		if (word_is(v, n, no[i])) {
			*ret = false;
			return true;
		}
	}
	return false;
}

/* loader.conf(5): seconds; "menu-force" waits for a key, "menu-hidden" (and
 * "menu-disabled") boot at once like "0". */
static bool parse_timeout(const char *v, size_t n, int *ret)
{
	int t;

	if (word_is(v, n, "menu-force")) {
		*ret = BLS_TIMEOUT_FOREVER;
		return true;
	}
	if (word_is(v, n, "menu-hidden") || word_is(v, n, "menu-disabled")) {
		*ret = 0;
		return true;
	}
	if (!parse_small_uint(v, n, &t) || t > BLS_TIMEOUT_MAX)
		return false;
	*ret = t;
	return true;
}

static void conf_set_default(struct bls_config *c, const struct kv *kv,
			     const char *file, unsigned lineno)
{
	char q[QUOTE_MAX + 1];

	/* "@saved" and friends need EFI variables; the loader does not keep
	 * state between boots, so they select nothing. */
	if (kv->val[0] == '@') {
		log_info("bls: %s line %u: default '%s' not supported, ignored",
			 file, lineno, quote(q, kv->val, kv->val_len));
		return;
	}
	if (!copy_text(c->default_pattern, sizeof(c->default_pattern), kv->val,
		       kv->val_len))
		log_warn("bls: %s line %u: default is %zu bytes, limit %zu; ignored",
			 file, lineno, kv->val_len, sizeof(c->default_pattern) - 1);
}

static void conf_set(struct bls_config *c, const struct kv *kv,
		     const char *file, unsigned lineno)
{
	char q[QUOTE_MAX + 1];
	int t;
	bool b;

	if (kv->val_len == 0) {
		log_warn("bls: %s line %u: '%s' has no value, ignored", file,
			 lineno, quote(q, kv->key, kv->key_len));
	} else if (word_is(kv->key, kv->key_len, "timeout")) {
		if (parse_timeout(kv->val, kv->val_len, &t)) {
			c->timeout_s = t;
			c->timeout_set = true;
		} else {
			log_warn("bls: %s line %u: timeout '%s' is not 0..%u or menu-force; ignored",
				 file, lineno, quote(q, kv->val, kv->val_len),
				 BLS_TIMEOUT_MAX);
		}
	} else if (word_is(kv->key, kv->key_len, "default")) {
		conf_set_default(c, kv, file, lineno);
	} else if (word_is(kv->key, kv->key_len, "editor")) {
		if (parse_bool(kv->val, kv->val_len, &b))
			c->editor = b;
		else
			log_warn("bls: %s line %u: editor '%s' is not a boolean; ignored",
				 file, lineno, quote(q, kv->val, kv->val_len));
	} else {
		log_debug("bls: %s line %u: key '%s' ignored", file, lineno,
			  quote(q, kv->key, kv->key_len));
	}
}

int bls_parse_loader_conf(const char *file_name, const void *text, size_t len,
			  struct bls_config *ret)
{
	struct line_reader r = { .p = text, .len = len };
	struct bls_config c;
	char why[80];
	struct kv kv;
	enum line_state st;

	if (!file_name || (!text && len))
		return log_err(-VQ_EINVAL, "bls: loader.conf without name or text");
	bls_config_init(&c);
	while ((st = read_kv(&r, &kv, why, sizeof(why))) != LINE_END) {
		if (st == LINE_BAD)
			log_error("bls: %s line %u: %s; line skipped", file_name,
				  r.lineno, why);
		else if (st == LINE_OK)
			conf_set(&c, &kv, file_name, r.lineno);
	}
	*ret = c;
	return 0;
}

/* ---- version order --------------------------------------------------------- */

static bool ver_char(char c)
{
	return is_digit(c) || is_alpha(c) || c == '~' || c == '-' || c == '^' ||
	       c == '.';
}

/*
 * For one of the separators '-', '^', '.': 0 when neither string has it
 * here, else the result when just one has it (@lower: that one is older),
 * or 2 when both do (skip it and go on).
 */
static int ver_sep(const char **a, const char **b, char sep, bool lower)
{
	if (**a != sep && **b != sep)
		return 0;
	if (**a == sep && **b == sep) {
		(*a)++;
		(*b)++;
		return 2;
	}
	return (**a == sep) == lower ? -1 : 1;
}

static int ver_digits(const char **a, const char **b)
{
	size_t la = 0, lb = 0;
	int r;

	while (**a == '0')
		(*a)++;
	while (**b == '0')
		(*b)++;
	while (is_digit((*a)[la]))
		la++;
	while (is_digit((*b)[lb]))
		lb++;
	if (la != lb)
		return la < lb ? -1 : 1;
	r = memcmp(*a, *b, la);
	*a += la;
	*b += lb;
	return r < 0 ? -1 : r > 0;
}

static int ver_letters(const char **a, const char **b)
{
	while (is_alpha(**a) && is_alpha(**b)) {
		if (**a != **b)
			return **a < **b ? -1 : 1; /* ASCII: 'A' < 'a' */
		(*a)++;
		(*b)++;
	}
	if (is_alpha(**a))
		return 1;
	return is_alpha(**b) ? -1 : 0;
}

/*
 * UAPI Version Format Specification, "Version Comparison". One deviation:
 * like systemd's strverscmp_improved(), '~' is looked at before the
 * end-of-string rule, so "1.0~rc1" < "1.0" (the point of '~'; the spec's
 * step order would make a pre-release newer than its release).
 */
int bls_version_cmp(const char *a, const char *b)
{
	static const struct { char c; bool lower; } seps[] = {
		{ '-', true }, { '^', false }, { '.', true },
	};
	int r;

	a = a ? a : "";
	b = b ? b : "";
	for (;;) {
		while (*a && !ver_char(*a))
			a++;
		while (*b && !ver_char(*b))
			b++;
		if ((r = ver_sep(&a, &b, '~', true)) == 2)
			continue;
		if (r)
			return r;
		if (!*a || !*b)
			return (*a != '\0') - (*b != '\0');
		for (size_t i = 0; i < ARRAY_SIZE(seps) && !r; i++)
			r = ver_sep(&a, &b, seps[i].c, seps[i].lower);
		if (r == 2)
			continue;
		if (r)
			return r;
		if (is_digit(*a) || is_digit(*b))
			r = ver_digits(&a, &b);
		else
			r = ver_letters(&a, &b);
		if (r)
			return r;
	}
}

/* ---- entry order ------------------------------------------------------------- */

static int sign(int v)
{
	return (v > 0) - (v < 0);
}

int bls_entry_cmp(const struct bls_entry *a, const struct bls_entry *b)
{
	bool ka = a->sort_key[0], kb = b->sort_key[0];
	int r;

	/* Spec "Sorting" 1: bad entries after all others. */
	if (bls_entry_bad(a) != bls_entry_bad(b))
		return bls_entry_bad(a) ? 1 : -1;
	/* 3: an entry with sort-key sorts earlier. */
	if (ka != kb)
		return ka ? -1 : 1;
	/* 2: sort-key, machine-id increasing (strcmp; empty is lower),
	 * version decreasing. */
	if (ka) {
		if ((r = sign(strcmp(a->sort_key, b->sort_key))))
			return r;
		if ((r = sign(strcmp(a->machine_id, b->machine_id))))
			return r;
		if ((r = bls_version_cmp(b->version, a->version)))
			return r;
	}
	/* 4: file name without suffix, decreasing version order. */
	if ((r = bls_version_cmp(b->id, a->id)))
		return r;
	/* Same but for the boot counter: fewer failed tries first; the full
	 * name keeps the order total. */
	if (a->tries_done != b->tries_done)
		return a->tries_done < b->tries_done ? -1 : 1;
	return sign(strcmp(a->name, b->name));
}

/* ---- glob ----------------------------------------------------------------------- */

/* Matches "[...]" at @p (just past '[') against @c. Sets *ret_end past the
 * ']' and returns the verdict; false with *ret_end NULL if never closed. */
static bool glob_class(const char *p, char c, const char **ret_end)
{
	bool neg = false, hit = false;
	const char *first;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	first = p;
	for (; *p && (*p != ']' || p == first); p++) {
		char lo = *p, hi = *p;

		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
		}
		if (fold(c) >= fold(lo) && fold(c) <= fold(hi))
			hit = true;
	}
	*ret_end = *p == ']' ? p + 1 : NULL;
	return hit != neg;
}

/* One single-character pattern element at *pp against @c; advances *pp. */
static bool glob_one(const char **pp, char c)
{
	const char *p = *pp, *end;
	bool ok;

	if (*p == '?') {
		*pp = p + 1;
		return true;
	}
	if (*p == '[') {
		ok = glob_class(p + 1, c, &end);
		if (end) {
			*pp = end;
			return ok;
		}
		/* An unclosed '[' is an ordinary character. */
	}
	*pp = p + 1;
	return fold(*p) == fold(c);
}

/* Iterative: every element but '*' eats one character, so retrying from
 * the last '*' is enough (no recursion to blow the stack). */
bool bls_glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL, *np;

	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		np = p;
		if (*p && glob_one(&np, *s)) {
			p = np;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ---- list -------------------------------------------------------------------- */

static int list_grow(struct bls_list *l)
{
	size_t cap = l->cap ? l->cap * 2 : 8;
	struct bls_entry **v;

	cap = VQ_MIN(cap, (size_t)BLS_ENTRIES_MAX);
	v = plat_alloc(cap * sizeof(*v));
	if (!v)
		return log_err(-VQ_ENOMEM, "bls: no memory for %zu entries", cap);
	if (l->count)
		memcpy(v, l->v, l->count * sizeof(*v));
	plat_free(l->v);
	l->v = v;
	l->cap = cap;
	return 0;
}

int bls_list_add(struct bls_list *l, struct bls_entry *e)
{
	int r;

	if (bls_entry_hidden(e)) {
		log_info("bls: %s: architecture %s is not %s, hidden", e->name,
			 e->architecture, BLS_LOCAL_ARCH);
		bls_entry_free(e);
		return 0;
	}
	if (l->count == BLS_ENTRIES_MAX) {
		r = log_err(-VQ_ENOSPC, "bls: more than %u entries; %s dropped",
			    BLS_ENTRIES_MAX, e->name);
		bls_entry_free(e);
		return r;
	}
	if (l->count == l->cap && (r = list_grow(l)) < 0) {
		bls_entry_free(e);
		return r;
	}
	l->v[l->count++] = e;
	return 0;
}

/* Insertion sort: at most BLS_ENTRIES_MAX entries, and it is stable. */
void bls_list_sort(struct bls_list *l)
{
	for (size_t i = 1; i < l->count; i++) {
		struct bls_entry *e = l->v[i];
		size_t j = i;

		while (j > 0 && bls_entry_cmp(l->v[j - 1], e) > 0) {
			l->v[j] = l->v[j - 1];
			j--;
		}
		l->v[j] = e;
	}
}

/* Does another entry than @skip have this raw title / title and version? */
static bool title_repeats(const struct bls_list *l, size_t skip, bool with_version)
{
	const struct bls_entry *e = l->v[skip];

	for (size_t i = 0; i < l->count; i++)
		if (i != skip && strcmp(raw_title(l->v[i]), raw_title(e)) == 0 &&
		    (!with_version || strcmp(l->v[i]->version, e->version) == 0))
			return true;
	return false;
}

void bls_list_make_titles(struct bls_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		struct bls_entry *e = l->v[i];

		e->display_title[0] = '\0';
		if (!title_repeats(l, i, false))
			continue;
		/* Titles are at most BLS_TITLE_MAX - 1 bytes: a long one loses
		 * its tail, which beats showing two identical lines. */
		vq_snprintf(e->display_title, sizeof(e->display_title), "%s (%s)",
			    raw_title(e),
			    e->version[0] && !title_repeats(l, i, true) ?
				    e->version : e->id);
	}
}

void bls_list_free(struct bls_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		bls_entry_free(l->v[i]);
	plat_free(l->v);
	*l = (struct bls_list){ 0 };
}

int bls_list_default(const struct bls_list *l, const char *pattern)
{
	char pat[BLS_PATTERN_MAX];
	size_t n;

	if (l->count == 0)
		return -VQ_ENOENT;
	copy_trunc(pat, sizeof(pat), pattern ? pattern : "");
	/* systemd-boot ids keep ".conf" (".efi" for unified kernel images),
	 * so patterns are often "foo*.conf". */
	n = strlen(pat);
	if (n > 5 && eq_nocase(pat + n - 5, ".conf"))
		pat[n - 5] = '\0';
	else if (n > 4 && eq_nocase(pat + n - 4, ".efi"))
		pat[n - 4] = '\0';
	/* systemd-boot: the first entry, in menu order, that matches. */
	for (size_t i = 0; pat[0] && i < l->count; i++)
		if (bls_entry_bootable(l->v[i]) && bls_glob_match(pat, l->v[i]->id))
			return (int)i;
	for (size_t i = 0; i < l->count; i++)
		if (bls_entry_bootable(l->v[i]))
			return (int)i;
	return 0;
}

int bls_list_find(const struct bls_list *l, const char *id)
{
	char bare[BLS_NAME_MAX];
	size_t n = strlen(id);

	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->v[i]->id, id) == 0)
			return (int)i;
	/* systemd-boot's ids keep the suffix: take "foo.conf" and "foo.efi". */
	copy_trunc(bare, sizeof(bare), id);
	if (n > 5 && eq_nocase(bare + n - 5, ".conf"))
		bare[n - 5] = '\0';
	else if (n > 4 && n < sizeof(bare) && eq_nocase(bare + n - 4, ".efi"))
		bare[n - 4] = '\0';
	else
		return -VQ_ENOENT;
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->v[i]->id, bare) == 0)
			return (int)i;
	return -VQ_ENOENT;
}

/* ---- entries for partitions without loader/entries ----------------------- */

static bool has_path(const char *const *paths, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (paths[i] && strcmp(paths[i], want) == 0)
			return true;
	return false;
}

static int auto_add(struct bls_list *l, const char *id, const char *version,
		    const char *kernel, const char *initrd, unsigned disk,
		    unsigned part)
{
	struct bls_entry *e = plat_alloc(sizeof(*e));

	if (!e)
		return log_err(-VQ_ENOMEM, "bls: no memory for entry %s", id);
	e->kind = BLS_KIND_AUTO;
	e->tries_left = -1;
	e->disk_index = disk;
	e->part_index = part;
	copy_trunc(e->name, sizeof(e->name), id);
	copy_trunc(e->id, sizeof(e->id), id);
	copy_trunc(e->version, sizeof(e->version), version);
	vq_snprintf(e->title, sizeof(e->title), "Linux %s",
		    version[0] ? version : "(/vmlinuz)");
	copy_trunc(e->linux_path, sizeof(e->linux_path), kernel);
	if (initrd) {
		copy_trunc(e->initrd[0], sizeof(e->initrd[0]), initrd);
		e->initrd_count = 1;
	}
	return bls_list_add(l, e);
}

#define BOOT_KERNEL_PREFIX "/boot/vmlinuz-"
#define BOOT_INITRD_PREFIX "/boot/initrd.img-"

static int auto_boot_kernel(const char *const *paths, size_t n, const char *path,
			    unsigned disk, unsigned part, struct bls_list *l)
{
	const char *ver = path + strlen(BOOT_KERNEL_PREFIX);
	char id[BLS_NAME_MAX], initrd[BLS_PATH_MAX];

	if (!ver[0] || strchr(ver, '/'))
		return 0;
	if (strlen(path) >= BLS_PATH_MAX || strlen(ver) >= BLS_SHORT_MAX ||
	    strlen(BOOT_INITRD_PREFIX) + strlen(ver) >= sizeof(initrd)) {
		log_warn("bls: %s: name too long for an entry, skipped", path);
		return 0;
	}
	vq_snprintf(id, sizeof(id), "vmlinuz-%s", ver);
	vq_snprintf(initrd, sizeof(initrd), BOOT_INITRD_PREFIX "%s", ver);
	return auto_add(l, id, ver, path,
			has_path(paths, n, initrd) ? initrd : NULL, disk, part);
}

int bls_auto_entries(const char *const *paths, size_t n, unsigned disk_index,
		     unsigned part_index, struct bls_list *l)
{
	size_t plen = strlen(BOOT_KERNEL_PREFIX);
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *p = paths[i];

		if (!p)
			continue;
		if (strcmp(p, "/vmlinuz") == 0)
			r = auto_add(l, "vmlinuz", "", p,
				     has_path(paths, n, "/initrd.img") ?
					     "/initrd.img" : NULL,
				     disk_index, part_index);
		else if (strncmp(p, BOOT_KERNEL_PREFIX, plen) == 0)
			r = auto_boot_kernel(paths, n, p, disk_index, part_index, l);
	}
	return r;
}
