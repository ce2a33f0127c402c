/* SPDX-License-Identifier: MIT */
#include "lib/json.h"
#include "lib/log.h"
#include "lib/fmt.h"

void json_init(struct json *j, void (*put)(void *ctx, const char *s), void *ctx)
{
	*j = (struct json){ .put = put, .ctx = ctx };
}

/*
 * Length of the well-formed UTF-8 sequence at @p (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
 */
static unsigned utf8_len(const unsigned char *p)
{
	unsigned n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	for (i = 1; i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80, hi = 0xbf;
	}
	return n;
}

/* Quotes, backslashes and control characters escaped; UTF-8 kept as it is,
 * and a byte that is not part of a well-formed sequence becomes U+FFFD. */
static void put_escaped(struct json *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char buf[8];

	j->put(j->ctx, "\"");
	while (*p) {
		unsigned n = 1;

		if (*p == '"' || *p == '\\') {
			buf[0] = '\\', buf[1] = (char)*p, buf[2] = 0;
		} else if (*p < 0x20 || *p == 0x7f) {
			vq_snprintf(buf, sizeof(buf), "\\u%04x", *p);
		} else if (*p < 0x80) {
			buf[0] = (char)*p, buf[1] = 0;
		} else if ((n = utf8_len(p)) != 0) {
			memcpy(buf, p, n);
			buf[n] = 0;
		} else {
			n = 1;
			vq_snprintf(buf, sizeof(buf), "\\ufffd");
		}
		j->put(j->ctx, buf);
		p += n;
	}
	j->put(j->ctx, "\"");
}

/* Comma and key before any value. */
static void prefix(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		j->put(j->ctx, j->line_breaks ? ",\n" : ",");
	j->need_comma[j->depth] = true;
	if (key) {
		put_escaped(j, key);
		j->put(j->ctx, ":");
	}
}

static void enter(struct json *j, const char *key, const char *bracket)
{
	prefix(j, key);
	j->put(j->ctx, bracket);
	if (j->line_breaks)
		j->put(j->ctx, "\n");
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void leave(struct json *j, const char *bracket)
{
	if (j->depth > 0)
		j->depth--;
	j->put(j->ctx, bracket);
}

void json_begin_object(struct json *j, const char *key) { enter(j, key, "{"); }
void json_end_object(struct json *j) { leave(j, "}"); }
void json_begin_array(struct json *j, const char *key) { enter(j, key, "["); }
void json_end_array(struct json *j) { leave(j, "]"); }

void json_string(struct json *j, const char *key, const char *val)
{
	prefix(j, key);
	put_escaped(j, val ? val : "");
}

void json_uint(struct json *j, const char *key, uint64_t val)
{
	char buf[24];

	prefix(j, key);
	vq_snprintf(buf, sizeof(buf), "%llu", (unsigned long long)val);
	j->put(j->ctx, buf);
}

void json_int(struct json *j, const char *key, int64_t val)
{
	char buf[24];

	prefix(j, key);
	vq_snprintf(buf, sizeof(buf), "%lld", (long long)val);
	j->put(j->ctx, buf);
}

void json_bool(struct json *j, const char *key, bool val)
{
	prefix(j, key);
	j->put(j->ctx, val ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
	prefix(j, key);
	j->put(j->ctx, "null");
}

void json_milli(struct json *j, const char *key, uint64_t milli)
{
	char buf[32];

	prefix(j, key);
	vq_snprintf(buf, sizeof(buf), "%llu.%03llu",
		    (unsigned long long)(milli / 1000),
		    (unsigned long long)(milli % 1000));
	j->put(j->ctx, buf);
}
