/* SPDX-License-Identifier: MIT */
#include "lib/json.h"
#include "lib/log.h"
#include "lib/fmt.h"

void json_init(struct json *j, void (*put)(void *ctx, const char *s), void *ctx)
{
	*j = (struct json){ .put = put, .ctx = ctx };
}

static void put_escaped(struct json *j, const char *s)
{
	char buf[8];

	j->put(j->ctx, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[0] = '\\', buf[1] = (char)c, buf[2] = 0;
		} else if (c < 0x20 || c >= 0x7f) {
			vq_snprintf(buf, sizeof(buf), "\\u%04x", c);
		} else {
			buf[0] = (char)c, buf[1] = 0;
		}
		j->put(j->ctx, buf);
	}
	j->put(j->ctx, "\"");
}

/* Comma and key before any value. */
static void prefix(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		j->put(j->ctx, ",");
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
