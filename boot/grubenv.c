/* SPDX-License-Identifier: MIT */
/* GRUB environment blocks and $variable expansion (see grubenv.h). */
#include "boot/grubenv.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

struct env_reader {
	const char *p;
	size_t len;
	size_t pos;
	unsigned lineno;
	struct grubenv *env;
	size_t used; /* bytes of env->store taken */
};

static void skip_line(struct env_reader *r)
{
	while (r->pos < r->len && r->p[r->pos] != '\n')
		r->pos++;
	if (r->pos < r->len)
		r->pos++;
}

static bool check_name(struct env_reader *r, const char *name, size_t n)
{
	bool ok = n > 0 && n < GRUBENV_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = name_char(name[i]);
	if (!ok)
		log_warn("grubenv: %s line %u: variable name of %zu bytes is empty, too long or not [A-Za-z0-9_]; skipped",
			 r->env->source, r->lineno, n);
	return ok;
}

/* The value from r->pos to the first unescaped newline, unescaped into the
 * store after the name. The store has room: every escape shrinks. */
static void take_value(struct env_reader *r, char *dst)
{
	size_t n = 0;

	while (r->pos < r->len && r->p[r->pos] != '\n') {
		char c = r->p[r->pos++];

		if (c == '\\' && r->pos < r->len)
			c = r->p[r->pos++];
		dst[n++] = c;
	}
	if (r->pos < r->len)
		r->pos++;
	dst[n] = '\0';
	r->used += n + 1;
}

static void set_var(struct grubenv *env, const char *name, const char *value)
{
	for (unsigned i = 0; i < env->count; i++) {
		if (strcmp(env->names[i], name) == 0) {
			env->values[i] = value; /* the last one wins, as in GRUB */
			return;
		}
	}
	env->names[env->count] = name;
	env->values[env->count] = value;
	env->count++;
}

/* One NAME=VALUE line at r->pos. */
static void read_var(struct env_reader *r)
{
	const char *line = r->p + r->pos;
	size_t rest = r->len - r->pos, eq = 0;
	char *name;

	while (eq < rest && line[eq] != '=' && line[eq] != '\n')
		eq++;
	if (eq == rest || line[eq] != '=') {
		log_warn("grubenv: %s line %u: no '='; skipped", r->env->source, r->lineno);
		skip_line(r);
		return;
	}
	if (!check_name(r, line, eq)) {
		skip_line(r);
		return;
	}
	name = r->env->store + r->used;
	memcpy(name, line, eq);
	name[eq] = '\0';
	if (r->env->count == GRUBENV_VARS_MAX && !grubenv_get(r->env, name)) {
		log_warn("grubenv: %s line %u: more than %u variables; %s skipped",
			 r->env->source, r->lineno, GRUBENV_VARS_MAX, name);
		skip_line(r);
		return;
	}
	r->used += eq + 1;
	r->pos += eq + 1;
	take_value(r, name + eq + 1);
	set_var(r->env, name, name + eq + 1);
}

/* A NUL byte means the block was damaged (grub-editenv pads with '#'):
 * what comes before it is still read. */
static void cut_at_nul(struct env_reader *r)
{
	for (size_t i = 0; i < r->len; i++) {
		if (r->p[i] == '\0') {
			log_warn("grubenv: %s: NUL byte at offset %zu; the rest is ignored",
				 r->env->source, i);
			r->len = i;
			return;
		}
	}
}

static void read_lines(struct env_reader *r)
{
	cut_at_nul(r);
	while (r->pos < r->len) {
		char c = r->p[r->pos];

		r->lineno++;
		if (c == '#' || c == '\n')
			skip_line(r);
		else
			read_var(r);
	}
}

int grubenv_parse(const char *source, const void *text, size_t len,
		  struct grubenv **ret)
{
	size_t sig = strlen(GRUBENV_SIGNATURE);
	struct env_reader r = { .p = text, .len = len, .lineno = 1 };
	struct grubenv *env;

	if (!source || (!text && len))
		return log_err(-VQ_EINVAL, "grubenv: no source or text");
	if (len > GRUBENV_FILE_MAX)
		return log_err(-VQ_E2BIG, "grubenv: %s: %zu bytes, more than %u",
			       source, len, GRUBENV_FILE_MAX);
	if (len < sig || memcmp(text, GRUBENV_SIGNATURE, sig) != 0)
		return log_err(-VQ_ECORRUPT, "grubenv: %s: not a GRUB environment block (no \"# GRUB Environment Block\" line)",
			       source);
	env = plat_alloc(sizeof(*env) + len + 1);
	if (!env)
		return log_err(-VQ_ENOMEM, "grubenv: %s: no memory for %zu bytes",
			       source, len);
	memset(env, 0, sizeof(*env));
	env->store = (char *)(env + 1);
	vq_snprintf(env->source, sizeof(env->source), "%s", source);
	r.env = env;
	r.pos = sig;
	read_lines(&r);
	*ret = env;
	return 0;
}

void grubenv_free(struct grubenv *env)
{
	plat_free(env);
}

const char *grubenv_get(const struct grubenv *env, const char *name)
{
	if (!env)
		return NULL;
	for (unsigned i = 0; i < env->count; i++)
		if (strcmp(env->names[i], name) == 0)
			return env->values[i];
	return NULL;
}

/* ---- expansion ---------------------------------------------------------- */

/* At @s (just past a '$'): the variable's name, as [start, start + n), and
 * the bytes the reference takes; 0 when this is no reference. */
static size_t var_ref(const char *s, const char **ret_name, size_t *ret_n)
{
	size_t n = 0;

	if (s[0] == '{') {
		while (name_char(s[1 + n]))
			n++;
		if (n == 0 || s[1 + n] != '}')
			return 0;
		*ret_name = s + 1;
		*ret_n = n;
		return n + 2;
	}
	while (name_char(s[n]))
		n++;
	*ret_name = s;
	*ret_n = n;
	return n;
}

bool grubenv_has_vars(const char *s)
{
	const char *name;
	size_t n;

	for (; *s; s++)
		if (*s == '$' && var_ref(s + 1, &name, &n))
			return true;
	return false;
}

struct out_buf {
	char *p;
	size_t size;
	size_t len;
	bool full;
};

static void put(struct out_buf *o, char c)
{
	if (o->len + 1 >= o->size) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
	o->p[o->len] = '\0';
}

static void put_value(struct out_buf *o, const char *v)
{
	for (; *v && !o->full; v++)
		put(o, (unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v);
}

static void expand_one(const struct grubenv *env, const char *what,
		       const char *name, size_t n, struct out_buf *o)
{
	char key[GRUBENV_NAME_MAX];
	const char *v = NULL;

	if (n < sizeof(key)) {
		memcpy(key, name, n);
		key[n] = '\0';
		v = grubenv_get(env, key);
	}
	if (v) {
		put_value(o, v);
		return;
	}
	log_warn("%s: $%.*s is not set %s%s; it expands to nothing", what,
		 (int)VQ_MIN(n, (size_t)GRUBENV_NAME_MAX), name,
		 env ? "in " : "(no GRUB environment block found)",
		 env ? env->source : "");
}

int grubenv_expand(const struct grubenv *env, const char *what, const char *in,
		   char *out, size_t size)
{
	struct out_buf o = { .p = out, .size = size };
	const char *name;
	size_t n, take;

	if (!out || size == 0)
		return log_err(-VQ_EINVAL, "grubenv: no room to expand into");
	out[0] = '\0';
	for (const char *s = in; *s && !o.full; s++) {
		if (*s != '$' || !(take = var_ref(s + 1, &name, &n))) {
			put(&o, *s);
			continue;
		}
		expand_one(env, what, name, n, &o);
		s += take;
	}
	if (o.full)
		return log_err(-VQ_E2BIG, "%s: \"%s\" expands to more than %zu bytes",
			       what, in, size - 1);
	return 0;
}
