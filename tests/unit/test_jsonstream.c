/* test_jsonstream.c: the streaming JSON reader of share/jsonstream, fed in chunks of 1–3 bytes so every rule holds across every refill boundary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstream.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/*
 * How the fill callback cuts the text: a cycle of chunk sizes, 0 for as
 * much as the reader asks. Each rule is checked under every one, so a
 * refill lands on every byte of an escape, a \u's hex digits, a surrogate
 * pair's backslash and each byte of a multi-byte character.
 */
static const int schedules[][3] = {
	{ 1, 1, 1 }, { 1, 2, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 2, 2, 2 }, { 3, 3, 3 }, { 0, 0, 0 },
};
#define NSCHED (sizeof schedules / sizeof schedules[0])

struct feed {
	const char *text;
	size_t len, pos;
	const int *sched;
	size_t turn;
	long fail_at;		/* the fill fails once this much was given; -1: never */
	int fills;
};

/* 64 KiB of buffer: one, not one a test, so the tests stay off the stack. */
static struct jstream JS;
static struct feed F;

static long feed_fill(void *ctx, char *buf, size_t cap);
static struct jstream *open_text(const char *text, size_t len, size_t sched);
static struct jstream *open_failing(const char *text, size_t len, size_t sched, long fail_at);
static void string_reads_as(const char *json, size_t jlen, const char *want, size_t wlen);
static void string_refused(const char *json, size_t jlen, size_t cap, const char *why);
static void int_reads_as(const char *json, int64_t want);
static void int_refused(const char *json, const char *why);
static void skip_accepts(const char *json);
static void skip_refused(const char *json, const char *why);
static const char *nested(int depth, const char *open, const char *inner, const char *close);

#define S(lit) lit, sizeof lit - 1

static long feed_fill(void *ctx, char *buf, size_t cap)
{
	struct feed *f = ctx;
	size_t n = (size_t)f->sched[f->turn++ % 3];

	f->fills++;
	if (f->fail_at >= 0 && f->pos >= (size_t)f->fail_at)
		return -1;
	if (n == 0 || n > cap)
		n = cap;
	if (n > f->len - f->pos)
		n = f->len - f->pos;
	if (f->fail_at >= 0 && n > (size_t)f->fail_at - f->pos)
		n = (size_t)f->fail_at - f->pos;
	memcpy(buf, f->text + f->pos, n);
	f->pos += n;
	return (long)n;
}

static struct jstream *open_failing(const char *text, size_t len, size_t sched, long fail_at)
{
	F = (struct feed){ .text = text, .len = len, .sched = schedules[sched], .fail_at = fail_at };
	js_init(&JS, feed_fill, &F);
	return &JS;
}

static struct jstream *open_text(const char *text, size_t len, size_t sched)
{
	return open_failing(text, len, sched, -1);
}

/* json holds one string, unescaped to want[0..wlen), and nothing after it. */
static void string_reads_as(const char *json, size_t jlen, const char *want, size_t wlen)
{
	char out[256];

	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, jlen, s);
		if (js_string(js, out, sizeof out) != 0)
			fail_msg("schedule %zu: %s refused: %s", s, json, js->err);
		assert_int_equal(strlen(out), wlen);
		assert_memory_equal(out, want, wlen);
		assert_int_equal(js_end(js), 0);
	}
}

/*
 * json is refused by js_string(cap) with a message holding why, and the
 * same message under every schedule: where an error is found cannot
 * depend on how the text was cut.
 */
static void string_refused(const char *json, size_t jlen, size_t cap, const char *why)
{
	char out[256], first[sizeof JS.err] = "";

	assert_true(cap <= sizeof out);
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, jlen, s);
		if (js_string(js, out, cap) != -1)
			fail_msg("schedule %zu: accepted %.*s as '%s'", s, (int)jlen, json, out);
		if (strstr(js->err, why) == NULL)
			fail_msg("schedule %zu: '%s' does not say '%s'", s, js->err, why);
		if (s == 0)
			snprintf(first, sizeof first, "%s", js->err);
		else
			assert_string_equal(js->err, first);
	}
}

static void int_reads_as(const char *json, int64_t want)
{
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, strlen(json), s);
		int64_t v = 12345;
		if (js_int64(js, &v) != 0)
			fail_msg("schedule %zu: %s refused: %s", s, json, js->err);
		assert_true(v == want);
		assert_int_equal(js_end(js), 0);
	}
}

static void int_refused(const char *json, const char *why)
{
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, strlen(json), s);
		int64_t v = 12345;
		if (js_int64(js, &v) != -1)
			fail_msg("schedule %zu: accepted %s as %lld", s, json, (long long)v);
		if (strstr(js->err, why) == NULL)
			fail_msg("schedule %zu: '%s' does not say '%s'", s, js->err, why);
	}
}

static void skip_accepts(const char *json)
{
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, strlen(json), s);
		if (js_skip(js) != 0 || js_end(js) != 0)
			fail_msg("schedule %zu: %.60s refused: %s", s, json, js->err);
	}
}

static void skip_refused(const char *json, const char *why)
{
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(json, strlen(json), s);
		if (js_skip(js) == 0 && js_end(js) == 0)
			fail_msg("schedule %zu: accepted %.60s", s, json);
		if (strstr(js->err, why) == NULL)
			fail_msg("schedule %zu: '%s' does not say '%s'", s, js->err, why);
	}
}

/*
 * open repeated depth times, inner, close repeated depth times, in a
 * static buffer: nothing to free when a check fails half way.
 */
static const char *nested(int depth, const char *open, const char *inner, const char *close)
{
	static char buf[2 * 200000 + 64];
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *p = buf;

	assert_true((size_t)depth * (lo + lc) + li < sizeof buf);
	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return buf;
}

/* --- strings ------------------------------------------------------------------- */

static void every_simple_escape_is_unescaped(void **state)
{
	(void)state;
	string_reads_as(S("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), S("\"\\/\b\f\n\r\t"));
	string_reads_as(S("\"a\\nb\\tc\""), S("a\nb\tc"));
	string_reads_as(S("\"\""), S(""));
	string_reads_as(S("  \t\r\n\"x\"  \n"), S("x"));
}

static void unknown_escapes_are_refused(void **state)
{
	(void)state;
	string_refused(S("\"\\x41\""), 64, "an unknown escape");
	string_refused(S("\"\\U0041\""), 64, "an unknown escape");
	string_refused(S("\"\\'\""), 64, "an unknown escape");
	string_refused(S("\"\\0\""), 64, "an unknown escape");
	/* A backslash that ends the text. */
	string_refused(S("\"ab\\"), 64, "an unknown escape");
}

static void u_escapes_become_utf8_of_every_length(void **state)
{
	(void)state;
	string_reads_as(S("\"\\u0041\""), S("A"));
	string_reads_as(S("\"\\u0001\\u001f\\u007f\""), S("\x01\x1f\x7f"));
	string_reads_as(S("\"\\u00e9\\u00E9\""), S("\xc3\xa9\xc3\xa9"));
	string_reads_as(S("\"\\u07ff\""), S("\xdf\xbf"));
	string_reads_as(S("\"\\u0800\\u20ac\\uffff\""), S("\xe0\xa0\x80\xe2\x82\xac\xef\xbf\xbf"));
	string_reads_as(S("\"x\\u20ACy\""), S("x\xe2\x82\xacy"));
}

static void surrogate_pairs_join_into_one_character(void **state)
{
	(void)state;
	string_reads_as(S("\"\\ud83d\\ude00\""), S("\xf0\x9f\x98\x80"));
	string_reads_as(S("\"\\uD83D\\uDE00!\""), S("\xf0\x9f\x98\x80!"));
	string_reads_as(S("\"\\ud800\\udc00\""), S("\xf0\x90\x80\x80"));
	string_reads_as(S("\"\\udbff\\udfff\""), S("\xf4\x8f\xbf\xbf"));
}

static void lone_surrogates_are_refused(void **state)
{
	(void)state;
	string_refused(S("\"\\udc00\""), 64, "a lone low surrogate");
	string_refused(S("\"\\ude00\\ud83d\""), 64, "a lone low surrogate");
	string_refused(S("\"\\ud83d\""), 64, "a high surrogate without its low half");
	string_refused(S("\"\\ud83dx\""), 64, "a high surrogate without its low half");
	string_refused(S("\"\\ud83d\\n\""), 64, "a high surrogate without its low half");
	string_refused(S("\"\\ud83d\\u0041\""), 64, "a high surrogate without its low half");
	string_refused(S("\"\\ud83d\\ud83d\""), 64, "a high surrogate without its low half");
	string_refused(S("\"\\ud83d"), 64, "a high surrogate without its low half");
}

static void short_u_escapes_are_refused(void **state)
{
	(void)state;
	string_refused(S("\"\\u12\""), 64, "four hex digits");
	string_refused(S("\"\\u12g4\""), 64, "four hex digits");
	string_refused(S("\"\\u"), 64, "four hex digits");
	string_refused(S("\"\\ud83d\\udeX0\""), 64, "four hex digits");
}

static void raw_utf8_passes_through(void **state)
{
	(void)state;
	string_reads_as(S("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\""),
	    S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
	string_reads_as(S("\"\x7f\""), S("\x7f"));
}

static void invalid_utf8_is_refused(void **state)
{
	(void)state;
	/* Overlong forms: '/' in two bytes, in three, and NUL in two. */
	string_refused(S("\"\xc0\xaf\""), 64, "not valid UTF-8");
	string_refused(S("\"\xe0\x80\xaf\""), 64, "not valid UTF-8");
	string_refused(S("\"\xc0\x80\""), 64, "not valid UTF-8");
	string_refused(S("\"\xf0\x80\x80\xaf\""), 64, "not valid UTF-8");
	/* A surrogate encoded directly (U+D800, U+DFFF). */
	string_refused(S("\"\xed\xa0\x80\""), 64, "not valid UTF-8");
	string_refused(S("\"\xed\xbf\xbf\""), 64, "not valid UTF-8");
	/* Past U+10FFFF. */
	string_refused(S("\"\xf4\x90\x80\x80\""), 64, "not valid UTF-8");
	string_refused(S("\"\xf5\x80\x80\x80\""), 64, "not valid UTF-8");
	/* Truncated: at the closing quote, and before an ASCII byte. */
	string_refused(S("\"\xe2\x82\""), 64, "not valid UTF-8");
	string_refused(S("\"\xf0\x9f\x98\""), 64, "not valid UTF-8");
	string_refused(S("\"\xe2\x82x\""), 64, "not valid UTF-8");
	/* A stray continuation byte, and bytes that start nothing. */
	string_refused(S("\"\x80\""), 64, "not valid UTF-8");
	string_refused(S("\"\xfe\xff\""), 64, "not valid UTF-8");
	/* A raw lead byte an escape would have to complete. */
	string_refused(S("\"\xe2\\u0082\\u00ac\""), 64, "not valid UTF-8");
}

static void control_characters_are_refused(void **state)
{
	(void)state;
	string_refused(S("\"a\x01z\""), 64, "a control character");
	string_refused(S("\"a\x1fz\""), 64, "a control character");
	string_refused(S("\"a\nz\""), 64, "a control character");
	string_refused(S("\"a\tz\""), 64, "a control character");
	string_refused(S("\"a\0z\""), 64, "a control character");
}

static void nul_is_refused_even_escaped(void **state)
{
	(void)state;
	string_refused(S("\"a\\u0000z\""), 64, "a string holds NUL");
	string_refused(S("\"\\u0000\""), 64, "a string holds NUL");
}

static void a_string_longer_than_cap_is_refused(void **state)
{
	(void)state;
	char out[8];
	struct jstream *js;

	/* cap counts the NUL: 7 bytes fit in 8. */
	for (size_t s = 0; s < NSCHED; s++) {
		js = open_text(S("\"1234567\""), s);
		assert_int_equal(js_string(js, out, sizeof out), 0);
		assert_string_equal(out, "1234567");
		js = open_text(S("\"12345\xc3\xa9\""), s);
		assert_int_equal(js_string(js, out, sizeof out), 0);
		js = open_text(S("\"\\u20ac\\u00e9\""), s);
		assert_int_equal(js_string(js, out, sizeof out), 0);
		assert_string_equal(out, "\xe2\x82\xac\xc3\xa9");
	}
	string_refused(S("\"12345678\""), 8, "a string is longer than 7 bytes");
	/* The character that would not fit is multi-byte, raw or escaped. */
	string_refused(S("\"123456\xc3\xa9\""), 8, "a string is longer than 7 bytes");
	string_refused(S("\"12345\\u20ac\""), 8, "a string is longer than 7 bytes");
	string_refused(S("\"1234\\ud83d\\ude00\""), 8, "a string is longer than 7 bytes");
	string_refused(S("\"1234567\\n\""), 8, "a string is longer than 7 bytes");
	/* Refused as soon as it is too long, not after reading the rest. */
	string_refused(S("\"123456789 and never closed"), 8,
	    "at byte 9: a string is longer than 7 bytes");
}

static void an_unclosed_or_missing_string_is_refused(void **state)
{
	(void)state;
	string_refused(S("\"abc"), 64, "at byte 4: a string is not closed");
	string_refused(S(""), 64, "at byte 0: expected '\"', found the end");
	string_refused(S("  12"), 64, "at byte 2: expected '\"', found '1'");
	string_refused(S("\x01"), 64, "at byte 0: expected '\"', found 0x01");
}

/* --- numbers -------------------------------------------------------------------- */

static void whole_numbers_are_read(void **state)
{
	(void)state;
	int_reads_as("0", 0);
	int_reads_as("-0", 0);
	int_reads_as("7", 7);
	int_reads_as("  42 \n", 42);
	int_reads_as("-42", -42);
	int_reads_as("1000000", 1000000);
	int_reads_as("9223372036854775807", INT64_MAX);
	int_reads_as("-9223372036854775807", -INT64_MAX);
}

static void a_number_ends_before_what_follows_it(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("[12,-3 ,40]"), s);
		int64_t a, b, c;
		assert_int_equal(js_expect(js, '['), 0);
		assert_int_equal(js_int64(js, &a), 0);
		assert_int_equal(js_more(js, ']'), 1);
		assert_int_equal(js_int64(js, &b), 0);
		assert_int_equal(js_more(js, ']'), 1);
		assert_int_equal(js_int64(js, &c), 0);
		assert_int_equal(js_more(js, ']'), 0);
		assert_int_equal(js_end(js), 0);
		assert_true(a == 12 && b == -3 && c == 40);
	}
}

static void leading_zeros_are_refused(void **state)
{
	(void)state;
	int_refused("01", "a leading zero");
	int_refused("00", "a leading zero");
	int_refused("-01", "a leading zero");
	int_refused("007", "a leading zero");
}

static void fractions_and_exponents_are_refused(void **state)
{
	(void)state;
	int_refused("1.0", "a fraction or exponent");
	int_refused("1.5", "a fraction or exponent");
	int_refused("0.1", "a fraction or exponent");
	int_refused("1e3", "a fraction or exponent");
	int_refused("1E3", "a fraction or exponent");
	int_refused("-2e-1", "a fraction or exponent");
}

static void overflow_is_refused(void **state)
{
	(void)state;
	int_refused("9223372036854775808", "a number too large");
	int_refused("-9223372036854775809", "a number too large");
	int_refused("10000000000000000000", "a number too large");
	int_refused("18446744073709551616", "a number too large");
	int_refused("99999999999999999999999999999", "a number too large");
}

static void what_is_not_a_number_is_refused(void **state)
{
	(void)state;
	int_refused("", "expected a whole number, found the end");
	int_refused("-", "expected a whole number, found the end");
	int_refused("- 1", "expected a whole number, found ' '");
	int_refused("+1", "expected a whole number, found '+'");
	int_refused("\"1\"", "expected a whole number, found '\"'");
	int_refused("true", "expected a whole number, found 't'");
	int_refused(".5", "expected a whole number, found '.'");
}

/* --- skipping --------------------------------------------------------------------- */

static void skip_passes_over_any_value(void **state)
{
	(void)state;
	skip_accepts("0");
	skip_accepts("-12.5e+3");
	skip_accepts("true");
	skip_accepts("false");
	skip_accepts("null");
	skip_accepts("\"s\\u00e9\\n\"");
	skip_accepts("[]");
	skip_accepts("{}");
	skip_accepts(" [ ] ");
	skip_accepts("{\"a\":[1,-2.5E-3,true,false,null,{\"b\":{}},[],\"s\\ud83d\\ude00\"],"
	    "\"c\":{\"d\":[[[]]],\"e\":\"\"}}");
	skip_accepts(" { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { \"c\" : null } } ");
}

static void skip_leaves_the_reader_after_the_value(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("{\"x\":{\"deep\":[1,[2,{\"y\":\"]}\"}]]},\"n\":7}"), s);
		char key[16];
		int64_t n;
		assert_int_equal(js_expect(js, '{'), 0);
		assert_int_equal(js_string(js, key, sizeof key), 0);
		assert_string_equal(key, "x");
		assert_int_equal(js_expect(js, ':'), 0);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_more(js, '}'), 1);
		assert_int_equal(js_string(js, key, sizeof key), 0);
		assert_string_equal(key, "n");
		assert_int_equal(js_expect(js, ':'), 0);
		assert_int_equal(js_int64(js, &n), 0);
		assert_true(n == 7);
		assert_int_equal(js_more(js, '}'), 0);
		assert_int_equal(js_end(js), 0);
	}
}

static void skip_refuses_malformed_values(void **state)
{
	(void)state;
	skip_refused("", "expected a value, found the end");
	skip_refused("]", "expected a value, found ']'");
	skip_refused("[1,]", "expected a value, found ']'");
	skip_refused("[1 2]", "expected ',' or ']', found '2'");
	skip_refused("{\"a\" 1}", "expected ':', found '1'");
	skip_refused("{1:2}", "expected '\"', found '1'");
	skip_refused("{\"a\":1,}", "expected '\"', found '}'");
	skip_refused("[1", "expected ',' or ']', found the end");
	skip_refused("tru", "expected true");
	skip_refused("nul", "expected null");
	skip_refused("fals", "expected false");
	skip_refused("[\"\\ud800\"]", "a high surrogate without its low half");
	skip_refused("{\"\xc0\xaf\":1}", "not valid UTF-8");
}

/* A NUL byte is no character of a number, so it ends one and is then refused. */
static void a_nul_byte_is_never_part_of_a_skipped_number(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("1\0"), s);
		if (js_skip(js) == 0 && js_end(js) == 0)
			fail_msg("schedule %zu: accepted the number 1 followed by a NUL byte", s);
		js = open_text(S("[1\0]"), s);
		if (js_skip(js) == 0)
			fail_msg("schedule %zu: skipped [1<NUL>] as one value", s);
		js = open_text(S("{\"size\":7\0\0\0}"), s);
		if (js_skip(js) == 0)
			fail_msg("schedule %zu: skipped {\"size\":7<NUL><NUL><NUL>} as one value", s);
	}
}

static void sixty_four_levels_are_skipped(void **state)
{
	(void)state;
	skip_accepts(nested(64, "[", "", "]"));
	skip_accepts(nested(64, "[", "1", "]"));
	skip_accepts(nested(64, "{\"k\":", "1", "}"));
	skip_accepts(nested(32, "{\"k\":[", "", "]}"));
}

static void sixty_five_levels_are_refused(void **state)
{
	(void)state;
	skip_refused(nested(65, "[", "1", "]"), "nested more than 64 deep");
	skip_refused(nested(65, "{\"k\":", "1", "}"), "nested more than 64 deep");
	/* The innermost level counts whether or not it holds anything. */
	skip_refused(nested(65, "[", "", "]"), "nested more than 64 deep");
	skip_refused(nested(64, "{\"k\":", "{}", "}"), "nested more than 64 deep");
}

static void very_deep_nesting_is_refused_without_exhausting_the_stack(void **state)
{
	(void)state;
	skip_refused(nested(200000, "[", "", "]"), "nested more than 64 deep");
}

/* --- structure and errors ----------------------------------------------------------- */

static void expect_and_more_name_the_byte_offset(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("[1 2]"), s);
		int64_t v;
		assert_int_equal(js_expect(js, '['), 0);
		assert_int_equal(js_int64(js, &v), 0);
		assert_int_equal(js_more(js, ']'), -1);
		assert_string_equal(js->err, "at byte 3: expected ',' or ']', found '2'");

		js = open_text(S("   x"), s);
		assert_int_equal(js_expect(js, '{'), -1);
		assert_string_equal(js->err, "at byte 3: expected '{', found 'x'");

		js = open_text(S(" \n "), s);
		assert_int_equal(js_expect(js, '{'), -1);
		assert_string_equal(js->err, "at byte 3: expected '{', found the end");

		js = open_text(S("{\"a\":1;"), s);
		assert_int_equal(js_expect(js, '{'), 0);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_expect(js, ':'), 0);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_more(js, '}'), -1);
		assert_string_equal(js->err, "at byte 6: expected ',' or '}', found ';'");

		js = open_text(S("[\xff"), s);
		assert_int_equal(js_expect(js, '['), 0);
		assert_int_equal(js_more(js, ']'), -1);
		assert_string_equal(js->err, "at byte 1: expected ',' or ']', found 0xff");
	}
}

/* Past the first buffer's worth, the offset counts every byte before it. */
static void offsets_count_across_many_refills(void **state)
{
	(void)state;
	size_t n = 70001;
	char *text = malloc(n + 1);

	assert_non_null(text);
	memset(text, ' ', n);
	text[70000] = 'x';
	text[n] = '\0';
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(text, n, s);
		assert_int_equal(js_expect(js, '{'), -1);
		assert_string_equal(js->err, "at byte 70000: expected '{', found 'x'");
	}
	free(text);
}

static void only_json_white_space_is_skipped(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S(" \t\r\n{"), s);
		assert_int_equal(js_peek(js), '{');
		assert_int_equal(js_peek(js), '{');
		assert_int_equal(js_expect(js, '{'), 0);
		js = open_text(S("\f{"), s);
		assert_int_equal(js_expect(js, '{'), -1);
		assert_string_equal(js->err, "at byte 0: expected '{', found 0x0c");
		js = open_text(S("\v{"), s);
		assert_int_equal(js_expect(js, '{'), -1);
	}
}

static void end_accepts_white_space_and_refuses_anything_else(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("{} \n\t\r "), s);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_end(js), 0);

		js = open_text(S("{}"), s);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_end(js), 0);

		js = open_text(S("{} x"), s);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_end(js), -1);
		assert_string_equal(js->err, "at byte 3: text after the end: 'x'");

		js = open_text(S("{}{}"), s);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_end(js), -1);
		assert_string_equal(js->err, "at byte 2: text after the end: '{'");

		js = open_text(S("{}\0"), s);
		assert_int_equal(js_skip(js), 0);
		assert_int_equal(js_end(js), -1);
		assert_string_equal(js->err, "at byte 2: text after the end: 0x00");
	}
}

static void a_failing_fill_is_an_error_not_the_end(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_failing(S("[1,2]"), s, 0);
		int64_t v;

		/* Nothing read: the end is not reported as a clean end. */
		assert_int_equal(js_peek(js), -1);
		assert_int_equal(js_end(js), -1);
		assert_string_equal(js->err, "at byte 0: the text could not be read");

		js = open_failing(S("[1,2]"), s, 3);
		assert_int_equal(js_expect(js, '['), 0);
		assert_int_equal(js_int64(js, &v), 0);
		assert_int_equal(js_more(js, ']'), 1);
		assert_int_equal(js_int64(js, &v), -1);
		assert_string_equal(js->err, "at byte 3: the text could not be read");

		/* Inside a string, and inside a \u escape. */
		js = open_failing(S("\"abcdef\""), s, 4);
		char out[16];
		assert_int_equal(js_string(js, out, sizeof out), -1);
		assert_string_equal(js->err, "at byte 4: the text could not be read");
		js = open_failing(S("\"\\u20ac\""), s, 4);
		assert_int_equal(js_string(js, out, sizeof out), -1);
		assert_string_equal(js->err, "at byte 4: the text could not be read");
	}
}

static void the_first_error_sticks(void **state)
{
	(void)state;
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(S("x{}"), s);
		int64_t v;
		char out[8];
		int fills;

		assert_int_equal(js_expect(js, '{'), -1);
		assert_string_equal(js->err, "at byte 0: expected '{', found 'x'");
		fills = F.fills;
		/* Every later call fails without reading and keeps the first message. */
		assert_int_equal(js_peek(js), -1);
		assert_int_equal(js_expect(js, 'x'), -1);
		assert_int_equal(js_more(js, '}'), -1);
		assert_int_equal(js_string(js, out, sizeof out), -1);
		assert_int_equal(js_int64(js, &v), -1);
		assert_int_equal(js_skip(js), -1);
		assert_int_equal(js_end(js), -1);
		assert_int_equal(js_fail(js, "another"), -1);
		assert_string_equal(js->err, "at byte 0: expected '{', found 'x'");
		assert_int_equal(F.fills, fills);
	}
}

/* A text many buffers long, read whole under every schedule. */
static void a_long_text_is_read_whole(void **state)
{
	(void)state;
	size_t count = 20000, cap = count * 24 + 16, len = 0;
	char *text = malloc(cap);

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "[");
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"\\u00e9%zu\"", i ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, "]");
	for (size_t s = 0; s < NSCHED; s++) {
		struct jstream *js = open_text(text, len, s);
		char out[32], want[32];
		size_t i = 0;
		int more;

		assert_int_equal(js_expect(js, '['), 0);
		do {
			assert_int_equal(js_string(js, out, sizeof out), 0);
			snprintf(want, sizeof want, "\xc3\xa9%zu", i++);
			assert_string_equal(out, want);
		} while ((more = js_more(js, ']')) == 1);
		assert_int_equal(more, 0);
		assert_int_equal(js_end(js), 0);
		assert_int_equal(i, count);
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_simple_escape_is_unescaped),
		cmocka_unit_test(unknown_escapes_are_refused),
		cmocka_unit_test(u_escapes_become_utf8_of_every_length),
		cmocka_unit_test(surrogate_pairs_join_into_one_character),
		cmocka_unit_test(lone_surrogates_are_refused),
		cmocka_unit_test(short_u_escapes_are_refused),
		cmocka_unit_test(raw_utf8_passes_through),
		cmocka_unit_test(invalid_utf8_is_refused),
		cmocka_unit_test(control_characters_are_refused),
		cmocka_unit_test(nul_is_refused_even_escaped),
		cmocka_unit_test(a_string_longer_than_cap_is_refused),
		cmocka_unit_test(an_unclosed_or_missing_string_is_refused),
		cmocka_unit_test(whole_numbers_are_read),
		cmocka_unit_test(a_number_ends_before_what_follows_it),
		cmocka_unit_test(leading_zeros_are_refused),
		cmocka_unit_test(fractions_and_exponents_are_refused),
		cmocka_unit_test(overflow_is_refused),
		cmocka_unit_test(what_is_not_a_number_is_refused),
		cmocka_unit_test(skip_passes_over_any_value),
		cmocka_unit_test(skip_leaves_the_reader_after_the_value),
		cmocka_unit_test(skip_refuses_malformed_values),
		cmocka_unit_test(a_nul_byte_is_never_part_of_a_skipped_number),
		cmocka_unit_test(sixty_four_levels_are_skipped),
		cmocka_unit_test(sixty_five_levels_are_refused),
		cmocka_unit_test(very_deep_nesting_is_refused_without_exhausting_the_stack),
		cmocka_unit_test(expect_and_more_name_the_byte_offset),
		cmocka_unit_test(offsets_count_across_many_refills),
		cmocka_unit_test(only_json_white_space_is_skipped),
		cmocka_unit_test(end_accepts_white_space_and_refuses_anything_else),
		cmocka_unit_test(a_failing_fill_is_an_error_not_the_end),
		cmocka_unit_test(the_first_error_sticks),
		cmocka_unit_test(a_long_text_is_read_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
