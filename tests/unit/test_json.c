/* SPDX-License-Identifier: MIT */
/*
 * lib/json.c, the writer of vqdiag's --json documents: commas and nesting,
 * every kind of value, escaping (control characters, quotes, UTF-8 kept,
 * invalid bytes replaced), and documents Python's json module accepts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lib/json.h"

static char doc[4096];

static void put(void *ctx, const char *s)
{
	size_t n = strlen(doc);

	(void)ctx;
	assert_true(n + strlen(s) < sizeof(doc));
	memcpy(doc + n, s, strlen(s) + 1);
}

static struct json start(void)
{
	struct json j;

	doc[0] = 0;
	json_init(&j, put, NULL);
	return j;
}

/* Line breaks go after structure only: a string holding ", " "{" or "["
 * (a partition label, a path name) stays on its line and in one piece. */
static void test_line_breaks(void **state)
{
	struct json j = start();

	(void)state;
	j.line_breaks = true;
	json_begin_object(&j, NULL);
	json_string(&j, "path", "vqboot's driver, modern transport");
	json_begin_array(&j, "labels");
	json_string(&j, NULL, ",");
	json_string(&j, NULL, "[{");
	json_end_array(&j);
	json_end_object(&j);
	assert_string_equal(doc, "{\n\"path\":\"vqboot's driver, modern transport\",\n"
				 "\"labels\":[\n\",\",\n\"[{\"]}");
}

static void test_nesting_and_commas(void **state)
{
	struct json j = start();

	(void)state;
	json_begin_object(&j, NULL);
	json_string(&j, "command", "list");
	json_begin_array(&j, "devices");
	json_begin_object(&j, NULL);
	json_uint(&j, "type_id", 2);
	json_bool(&j, "legacy", false);
	json_end_object(&j);
	json_begin_object(&j, NULL);
	json_null(&j, "error");
	json_end_object(&j);
	json_end_array(&j);
	json_begin_array(&j, "empty");
	json_end_array(&j);
	json_int(&j, "delta", -7);
	json_end_object(&j);
	assert_string_equal(doc, "{\"command\":\"list\",\"devices\":[{\"type_id\":2,"
				 "\"legacy\":false},{\"error\":null}],\"empty\":[],"
				 "\"delta\":-7}");
}

static void test_numbers(void **state)
{
	struct json j = start();

	(void)state;
	json_begin_array(&j, NULL);
	json_uint(&j, NULL, UINT64_MAX);
	json_int(&j, NULL, INT64_MIN);
	json_milli(&j, NULL, 0);
	json_milli(&j, NULL, 1005);
	json_milli(&j, NULL, 123456789);
	json_end_array(&j);
	assert_string_equal(doc, "[18446744073709551615,-9223372036854775808,"
				 "0.000,1.005,123456.789]");
}

static void test_escaping(void **state)
{
	struct json j = start();

	(void)state;
	json_begin_object(&j, NULL);
	json_string(&j, "q\"k", "a\"b\\c\nd\te\x01");
	json_string(&j, "null", NULL);
	json_end_object(&j);
	assert_string_equal(doc, "{\"q\\\"k\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001\","
				 "\"null\":\"\"}");
}

/* Titles and labels are UTF-8 (os-release names, volume labels): valid
 * sequences pass as they are; a stray byte becomes U+FFFD, never a code
 * point the text did not have. */
static void test_utf8(void **state)
{
	struct json j = start();

	(void)state;
	json_begin_array(&j, NULL);
	json_string(&j, NULL, "Debian \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7");
	json_string(&j, NULL, "bad \xff end");
	json_string(&j, NULL, "cut \xe2\x82");
	json_string(&j, NULL, "overlong \xc0\xaf surrogate \xed\xa0\x80");
	json_end_array(&j);
	assert_string_equal(doc, "[\"Debian \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\","
				 "\"bad \\ufffd end\",\"cut \\ufffd\\ufffd\","
				 "\"overlong \\ufffd\\ufffd surrogate \\ufffd\\ufffd\\ufffd\"]");
}

/* Deeper than the writer tracks: the brackets still balance. */
static void test_depth_limit(void **state)
{
	struct json j = start();
	int open = 0, close = 0;

	(void)state;
	for (int i = 0; i < JSON_MAX_DEPTH + 4; i++)
		json_begin_array(&j, NULL);
	json_uint(&j, NULL, 1);
	for (int i = 0; i < JSON_MAX_DEPTH + 4; i++)
		json_end_array(&j);
	for (const char *p = doc; *p; p++) {
		open += *p == '[';
		close += *p == ']';
	}
	assert_int_equal(open, JSON_MAX_DEPTH + 4);
	assert_int_equal(close, JSON_MAX_DEPTH + 4);
	assert_int_equal(j.depth, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_line_breaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
