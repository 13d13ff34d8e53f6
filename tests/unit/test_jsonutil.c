/* test_jsonutil.c: the UTF-8 rules of share/jsonutil (RFC 3629) that requests are checked and replies repaired by, one test a rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

static int valid(const char *s);
static void expect_invalid(const char *s, const char *what);
static cJSON *parse(const char *json);
static void expect_bad_at(const char *json, const char *path, int is_key);

static int valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static void expect_invalid(const char *s, const char *what)
{
	if (valid(s))
		fail_msg("accepted %s", what);
}

static cJSON *parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s", json);
	return j;
}

/* json has a string that is not UTF-8 at path (a key when is_key). */
static void expect_bad_at(const char *json, const char *path, int is_key)
{
	char found[256];
	cJSON *j = parse(json);
	int key = -1, bad = json_find_bad_utf8(j, found, sizeof found, &key);

	cJSON_Delete(j);
	if (!bad)
		fail_msg("nothing found in %s", json);
	if (strcmp(found, path) != 0 || key != is_key)
		fail_msg("found '%s' (key %d), expected '%s' (key %d)", found, key,
		    path, is_key);
}

static void ascii_and_every_length_of_character_are_valid(void **state)
{
	(void)state;
	assert_true(valid(""));
	assert_true(valid("plain ASCII, \t\n\x7f too"));
	assert_true(valid("caf\xc3\xa9"));			/* é, 2 bytes */
	assert_true(valid("\xe2\x82\xac"));			/* €, 3 bytes */
	assert_true(valid("\xf0\x9f\x98\x80"));			/* 😀, 4 bytes */
	/* The edges of each length and of the ranges next to the gaps. */
	assert_true(valid("\xc2\x80\xdf\xbf"));			/* U+0080, U+07FF */
	assert_true(valid("\xe0\xa0\x80\xef\xbf\xbf"));		/* U+0800, U+FFFF */
	assert_true(valid("\xed\x9f\xbf\xee\x80\x80"));		/* U+D7FF, U+E000 */
	assert_true(valid("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));	/* U+10000, U+10FFFF */
	assert_true(valid("\xef\xbf\xbd"));			/* U+FFFD itself */
}

static void overlong_forms_are_invalid(void **state)
{
	(void)state;
	expect_invalid("\xc0\xaf", "overlong '/' in 2 bytes");
	expect_invalid("\xc1\xbf", "overlong U+007F in 2 bytes");
	expect_invalid("\xc0\x80", "overlong NUL (modified UTF-8)");
	expect_invalid("\xe0\x80\xaf", "overlong '/' in 3 bytes");
	expect_invalid("\xe0\x9f\xbf", "overlong U+07FF in 3 bytes");
	expect_invalid("\xf0\x80\x80\xaf", "overlong '/' in 4 bytes");
	expect_invalid("\xf0\x8f\xbf\xbf", "overlong U+FFFF in 4 bytes");
}

static void surrogates_are_invalid(void **state)
{
	(void)state;
	expect_invalid("\xed\xa0\x80", "U+D800");
	expect_invalid("\xed\xbf\xbf", "U+DFFF");
	expect_invalid("\xed\xa0\xbd\xed\xb8\x80", "a surrogate pair in CESU-8");
}

static void code_points_past_10ffff_are_invalid(void **state)
{
	(void)state;
	expect_invalid("\xf4\x90\x80\x80", "U+110000");
	expect_invalid("\xf5\x80\x80\x80", "a lead byte F5");
	expect_invalid("\xf7\xbf\xbf\xbf", "U+1FFFFF");
	expect_invalid("\xf8\x88\x80\x80\x80", "a 5-byte form");
	expect_invalid("\xfc\x84\x80\x80\x80\x80", "a 6-byte form");
	expect_invalid("\xfe", "FE");
	expect_invalid("\xff", "FF");
}

static void truncated_and_stray_bytes_are_invalid(void **state)
{
	(void)state;
	expect_invalid("\xc3", "a 2-byte lead at the end");
	expect_invalid("\xe2\x82", "a 3-byte character cut after 2");
	expect_invalid("\xf0\x9f\x98", "a 4-byte character cut after 3");
	expect_invalid("\xe2\x82x", "a 3-byte character cut by ASCII");
	expect_invalid("\x80", "a lone continuation byte");
	expect_invalid("a\xbfz", "a continuation byte between letters");
	expect_invalid("caf\xe9", "Latin-1");
	/* The length given counts: a cut in the middle is not valid. */
	assert_false(utf8_valid("\xe2\x82\xac", 2));
	assert_true(utf8_valid("\xe2\x82\xac", 3));
}

/*
 * ASCII is passed 8 bytes at a time: a bad byte, a character and a cut
 * one are found wherever they fall, before, inside or after such a run,
 * and the length given still ends the text.
 */
static void long_ascii_runs_hide_nothing(void **state)
{
	static const char *const bad[] = { "\xe9", "\x80", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80" };
	char s[64];

	(void)state;
	for (size_t at = 0; at < 40; at++) {
		memset(s, 'a', sizeof s);
		s[sizeof s - 1] = '\0';
		memcpy(s + at, "\xe2\x82\xac", 3);
		if (!valid(s))
			fail_msg("a euro sign at %zu is refused", at);
		for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
			memset(s, 'a', sizeof s);
			s[sizeof s - 1] = '\0';
			memcpy(s + at, bad[b], strlen(bad[b]));
			if (valid(s))
				fail_msg("bad bytes %zu at %zu pass", b, at);
			/* What lies past the length given is not looked at. */
			assert_true(utf8_valid(s, at));
		}
		/* A character the length cuts, at the end of a run. */
		memset(s, 'a', sizeof s);
		memcpy(s + at, "\xe2\x82\xac", 3);
		assert_false(utf8_valid(s, at + 2));
	}
}

static void utf8_cut_drops_only_a_character_more_bytes_could_complete(void **state)
{
	(void)state;
	assert_int_equal(utf8_cut("ab", 2), 2);
	assert_int_equal(utf8_cut("a\xe2\x82\xac", 4), 4);
	assert_int_equal(utf8_cut("a\xe2\x82\xac", 3), 1);
	assert_int_equal(utf8_cut("a\xe2\x82\xac", 2), 1);
	assert_int_equal(utf8_cut("a\xf0\x9f\x98\x80", 4), 1);
	assert_int_equal(utf8_cut("a\xc3\xa9", 2), 1);
	/* Invalid bytes are not a start to wait for: they stay, to be repaired. */
	assert_int_equal(utf8_cut("a\xff", 2), 2);
	assert_int_equal(utf8_cut("a\xed\xa0", 3), 3);
	assert_int_equal(utf8_cut("", 0), 0);
}

static void the_first_bad_string_is_named_by_its_path(void **state)
{
	char path[64];
	int is_key;
	cJSON *j = parse("{\"cmd\": \"task.list\", \"args\": {\"state\": \"r\xc3\xa9\"}}");

	(void)state;
	assert_int_equal(json_find_bad_utf8(j, path, sizeof path, &is_key), 0);
	cJSON_Delete(j);
	expect_bad_at("{\"cmd\": \"x\xff\"}", "cmd", 0);
	expect_bad_at("{\"cmd\": \"a\", \"args\": {\"name\": \"\xc0\xaf\"}}", "args.name", 0);
	expect_bad_at("{\"args\": {\"argv\": [\"ls\", \"\xed\xa0\x80\"]}}", "args.argv[1]", 0);
	expect_bad_at("{\"args\": {\"importer\": {\"feed\": \"ok\", \"proxy_password\": "
	    "\"\xf4\x90\x80\x80\"}}}", "args.importer.proxy_password", 0);
	expect_bad_at("{\"args\": {\"resources\": [{\"name\": \"a\"}, {\"name\": \"\xe2\x82\"}]}}",
	    "args.resources[1].name", 0);
}

static void a_bad_key_is_named_with_its_bytes_escaped(void **state)
{
	(void)state;
	expect_bad_at("{\"args\": {\"na\xffme\": 1}}", "args.na\\xffme", 1);
	expect_bad_at("{\"\xc3\": {}}", "\\xc3", 1);
}

static void a_long_path_is_cut_not_overrun(void **state)
{
	char path[8];
	int is_key;
	cJSON *j = parse("{\"aaaaaaaaaaaa\": {\"bbbbbbbbbbbb\": \"\xff\"}}");

	(void)state;
	assert_int_equal(json_find_bad_utf8(j, path, sizeof path, &is_key), 1);
	assert_int_equal(strlen(path), sizeof path - 1);
	cJSON_Delete(j);
}

static void repair_replaces_each_bad_byte_with_u_fffd_in_keys_and_values(void **state)
{
	cJSON *j = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(j, "list");
	char path[64];
	int is_key;

	(void)state;
	cJSON_AddStringToObject(j, "message", "no file caf\xe9.txt");
	cJSON_AddStringToObject(j, "ok", "caf\xc3\xa9");
	cJSON_AddNumberToObject(j, "k\xff", 1);
	cJSON_AddItemToArray(arr, cJSON_CreateString("\xe2\x82"));
	json_repair_utf8(j);
	assert_int_equal(json_find_bad_utf8(j, path, sizeof path, &is_key), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "message")->valuestring,
	    "no file caf\xef\xbf\xbd.txt");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "ok")->valuestring,
	    "caf\xc3\xa9");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "k\xef\xbf\xbd"));
	assert_string_equal(cJSON_GetArrayItem(arr, 0)->valuestring,
	    "\xef\xbf\xbd\xef\xbf\xbd");
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ascii_and_every_length_of_character_are_valid),
		cmocka_unit_test(overlong_forms_are_invalid),
		cmocka_unit_test(surrogates_are_invalid),
		cmocka_unit_test(code_points_past_10ffff_are_invalid),
		cmocka_unit_test(truncated_and_stray_bytes_are_invalid),
		cmocka_unit_test(long_ascii_runs_hide_nothing),
		cmocka_unit_test(utf8_cut_drops_only_a_character_more_bytes_could_complete),
		cmocka_unit_test(the_first_bad_string_is_named_by_its_path),
		cmocka_unit_test(a_bad_key_is_named_with_its_bytes_escaped),
		cmocka_unit_test(a_long_path_is_cut_not_overrun),
		cmocka_unit_test(repair_replaces_each_bad_byte_with_u_fffd_in_keys_and_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
