/* SPDX-License-Identifier: MIT */
/*
 * A streaming JSON writer for the diagnostic output scripts read. It keeps
 * track of commas and nesting; strings are escaped.
 */
#ifndef VQ_JSON_H
#define VQ_JSON_H

#include "lib/compat.h"

#define JSON_MAX_DEPTH 16

struct json {
	void (*put)(void *ctx, const char *s);
	void *ctx;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	/* A line break after every structural ',', '{' and '[' (never inside
	 * a string), so that a console that wraps long lines cannot. */
	bool line_breaks;
};

void json_init(struct json *j, void (*put)(void *ctx, const char *s), void *ctx);

/* Containers: pass @key inside an object, NULL inside an array/top level. */
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);

void json_string(struct json *j, const char *key, const char *val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_int(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* A fixed-point number: @milli / 1000 with three decimals. */
void json_milli(struct json *j, const char *key, uint64_t milli);

#endif
