/* SPDX-License-Identifier: MIT */
/* vqboot's load options: a small shell-like word splitter and a table. */
#include "boot/opts.h"
#include "lib/log.h"

/* The longest word we take: an --append value plus a little. */
#define WORD_MAX (OPTS_APPEND_MAX + 32)
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 40

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct word_buf {
	char *buf;
	size_t size;
	size_t len;  /* may pass size - 1: then the word was too long */
};

static void put(struct word_buf *w, char c)
{
	if (w->len + 1 < w->size)
		w->buf[w->len] = c;
	w->len++;
}

/* Copies a quoted run starting at the quote *p; false if never closed. */
static bool take_quoted(const char **pp, struct word_buf *w)
{
	const char *p = *pp;
	char q = *p++;

	while (*p && *p != q) {
		/* Inside "...", \" and \\ stand for themselves. */
		if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		put(w, *p++);
	}
	if (!*p)
		return false;
	*pp = p + 1;
	return true;
}

/* The next word into @buf. Returns 1, 0 at the end, or an error. */
static int next_word(const char **pp, char *buf, size_t size)
{
	struct word_buf w = { .buf = buf, .size = size };
	const char *p = *pp, *start;

	while (is_ws(*p))
		p++;
	if (!*p)
		return 0;
	start = p;
	while (*p && !is_ws(*p)) {
		if (*p == '"' || *p == '\'') {
			if (!take_quoted(&p, &w))
				return log_err(-VQ_EINVAL, "opts: unclosed %c in '%.*s'",
					       *p, QUOTE_MAX, start);
		} else {
			put(&w, *p++);
		}
	}
	if (w.len >= size)
		return log_err(-VQ_E2BIG, "opts: word '%.*s...' is %zu bytes, limit %zu",
			       QUOTE_MAX, start, w.len, size - 1);
	buf[w.len] = '\0';
	*pp = p;
	return 1;
}

/* ---- options -------------------------------------------------------------- */

enum opt_id { OPT_ENTRY, OPT_TIMEOUT, OPT_APPEND, OPT_IO_TIMEOUT, OPT_VERBOSE,
	      OPT_BOUNCE, OPT_NO_GPU, OPT_HELP };

struct opt_def {
	const char *name;
	enum opt_id id;
	bool has_value;
};

static const struct opt_def opt_defs[] = {
	{ "--entry", OPT_ENTRY, true },
	{ "--timeout", OPT_TIMEOUT, true },
	{ "--append", OPT_APPEND, true },
	{ "--io-timeout", OPT_IO_TIMEOUT, true },
	{ "--verbose", OPT_VERBOSE, false },
	{ "--bounce", OPT_BOUNCE, false },
	{ "--no-gpu", OPT_NO_GPU, false },
	{ "--help", OPT_HELP, false },
};

static const struct opt_def *find_opt(const char *name, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(opt_defs); i++)
		if (strlen(opt_defs[i].name) == n &&
		    memcmp(opt_defs[i].name, name, n) == 0)
			return &opt_defs[i];
	return NULL;
}

/* A decimal number in @min..@max, for option @name. */
static int parse_number(const char *name, const char *v, uint32_t min,
			uint32_t max, uint32_t *ret)
{
	uint32_t t = 0;
	size_t i;

	for (i = 0; v[i] >= '0' && v[i] <= '9' && t <= max; i++)
		t = t * 10 + (uint32_t)(v[i] - '0');
	if (i == 0 || v[i] || t > max || t < min)
		return log_err(-VQ_EINVAL, "opts: %s value '%.*s' is not a number %u..%u",
			       name, QUOTE_MAX, v, min, max);
	*ret = t;
	return 0;
}

static int set_timeout(struct vq_opts *o, const char *v)
{
	uint32_t t;
	int r = parse_number("--timeout", v, 0, OPTS_TIMEOUT_MAX, &t);

	if (r)
		return r;
	o->timeout_s = (int)t;
	o->timeout_set = true;
	return 0;
}

static int set_entry(struct vq_opts *o, const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return log_err(-VQ_EINVAL, "opts: --entry needs a value");
	if (n >= sizeof(o->entry))
		return log_err(-VQ_E2BIG, "opts: --entry value is %zu bytes, limit %zu",
			       n, sizeof(o->entry) - 1);
	memcpy(o->entry, v, n + 1);
	return 0;
}

static int add_append(struct vq_opts *o, const char *v)
{
	size_t have = strlen(o->append), n = strlen(v);
	size_t sep = (have && n) ? 1 : 0;

	if (have + sep + n >= sizeof(o->append))
		return log_err(-VQ_E2BIG, "opts: --append text adds up to %zu bytes, limit %zu",
			       have + sep + n, sizeof(o->append) - 1);
	if (sep)
		o->append[have] = ' ';
	memcpy(o->append + have + sep, v, n + 1);
	return 0;
}

static int apply(struct vq_opts *o, enum opt_id id, const char *v)
{
	switch (id) {
	case OPT_ENTRY: return set_entry(o, v);
	case OPT_TIMEOUT: return set_timeout(o, v);
	case OPT_APPEND: return add_append(o, v);
	case OPT_IO_TIMEOUT:
		return parse_number("--io-timeout", v, 1, OPTS_IO_TIMEOUT_MAX,
				    &o->io_timeout_ms);
	case OPT_VERBOSE: o->verbose = true; return 0;
	case OPT_BOUNCE: o->bounce = true; return 0;
	case OPT_NO_GPU: o->no_gpu = true; return 0;
	case OPT_HELP: o->help = true; return 0;
	}
	return -VQ_EINVAL;
}

/* Handles the option in @word (and its value, the next word, if it takes
 * one: read into @word too, which is done with once the option is known). */
static int take_option(const char **pp, char *word, size_t size,
		       struct vq_opts *o)
{
	const char *eq = strchr(word, '=');
	size_t n = eq ? (size_t)(eq - word) : strlen(word);
	const struct opt_def *d = find_opt(word, n);
	int r;

	if (word[0] != '-')
		return log_err(-VQ_EINVAL, "opts: unexpected argument '%.*s'",
			       QUOTE_MAX, word);
	if (!d)
		return log_err(-VQ_EINVAL, "opts: unknown option '%.*s' (see --help)",
			       (int)VQ_MIN(n, (size_t)QUOTE_MAX), word);
	if (!d->has_value) {
		if (eq)
			return log_err(-VQ_EINVAL, "opts: %s takes no value", d->name);
		return apply(o, d->id, "");
	}
	if (eq)
		return apply(o, d->id, eq + 1);
	if ((r = next_word(pp, word, size)) < 0)
		return r;
	if (r == 0)
		return log_err(-VQ_EINVAL, "opts: %s needs a value", d->name);
	return apply(o, d->id, word);
}

int opts_parse(const char *cmdline, struct vq_opts *ret)
{
	struct vq_opts o = { 0 };
	const char *p = cmdline ? cmdline : "";
	char word[WORD_MAX];
	bool first = true;
	size_t n = strlen(p);
	int r;

	if (n > OPTS_CMDLINE_MAX)
		return log_err(-VQ_E2BIG, "opts: load options are %zu bytes, limit %u",
			       n, OPTS_CMDLINE_MAX);
	while ((r = next_word(&p, word, sizeof(word))) > 0) {
		/* The shell puts the program name first; skip it. */
		if (first && word[0] != '-') {
			first = false;
			continue;
		}
		first = false;
		if ((r = take_option(&p, word, sizeof(word), &o)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

const char *opts_help_text(void)
{
	return "usage: vqboot [--entry ID] [--timeout N] [--append TEXT]\n"
	       "              [--io-timeout MS] [--verbose] [--bounce] [--no-gpu] [--help]\n"
	       "  --entry ID     boot the entry with this id (file name without .conf)\n"
	       "  --timeout N    menu timeout in seconds (0 boots the default at once)\n"
	       "  --append TEXT  add TEXT to the kernel command line; quote spaces\n"
	       "  --io-timeout MS  give up on a disk request after MS milliseconds\n"
	       "  --verbose      log debug messages\n"
	       "  --bounce       copy all DMA through bounce buffers\n"
	       "  --no-gpu       do not drive virtio-gpu; text console only\n"
	       "  --help         show this text\n";
}
