/* jsonstream.c: a pull reader for JSON too large to hold (a backup's MANIFEST.json), with every string and nesting depth bounded. */
#include "jsonstream.h"
#include "jsonutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define JS_MAX_DEPTH 64

void js_init(struct jstream *js, js_fill_fn fill, void *ctx)
{
	memset(js, 0, sizeof *js);
	js->fill = fill;
	js->ctx = ctx;
}

int js_fail(struct jstream *js, const char *fmt, ...)
{
	char what[120];
	va_list ap;

	if (js->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(js->err, sizeof js->err, "at byte %lld: %s",
	    (long long)(js->offset + (int64_t)js->pos), what);
	return -1;
}

/* The next byte, consumed, or -1. */
static int next(struct jstream *js)
{
	if (js->err[0] != '\0')
		return -1;
	if (js->pos == js->len) {
		long n;
		if (js->eof)
			return -1;
		js->offset += (int64_t)js->len;
		js->pos = js->len = 0;
		n = js->fill(js->ctx, js->buf, sizeof js->buf);
		if (n < 0) {
			snprintf(js->err, sizeof js->err, "at byte %lld: the text could not be read",
			    (long long)js->offset);
			return -1;
		}
		if (n == 0) {
			js->eof = 1;
			return -1;
		}
		js->len = (size_t)n;
	}
	return (unsigned char)js->buf[js->pos++];
}

int js_peek(struct jstream *js)
{
	int c;

	while ((c = next(js)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		;
	if (c >= 0)
		js->pos--;	/* next() just read it from buf, so it is still there */
	return c;
}

static const char *shown(int c, char *buf)
{
	if (c < 0)
		return "the end";
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 8, "'%c'", c);
	else
		snprintf(buf, 8, "0x%02x", c);
	return buf;
}

int js_expect(struct jstream *js, char c)
{
	char b[8];
	int got = js_peek(js);

	if (got != (unsigned char)c)
		return js_fail(js, "expected '%c', found %s", c, shown(got, b));
	js->pos++;
	return 0;
}

int js_more(struct jstream *js, char close)
{
	char b[8];
	int c = js_peek(js);

	if (c == ',' || c == (unsigned char)close) {
		js->pos++;
		return c == ',';
	}
	return js_fail(js, "expected ',' or '%c', found %s", close, shown(c, b));
}

static int hex4(struct jstream *js, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		int c = next(js);
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return js_fail(js, "a \\u escape needs four hex digits");
	}
	return 0;
}

int js_string(struct jstream *js, char *out, size_t cap)
{
	size_t n = 0;
	int c;

	if (js_expect(js, '"') < 0)
		return -1;
	for (;;) {
		char u[4];
		size_t ulen = 0;

		if ((c = next(js)) < 0)
			return js_fail(js, "a string is not closed");
		if (c == '"')
			break;
		if (c < 0x20)
			return js_fail(js, "a string holds a control character");
		if (c == '\\') {
			unsigned cp, lo;
			switch (c = next(js)) {
			case '"': case '\\': case '/': u[ulen++] = (char)c; break;
			case 'b': u[ulen++] = '\b'; break;
			case 'f': u[ulen++] = '\f'; break;
			case 'n': u[ulen++] = '\n'; break;
			case 'r': u[ulen++] = '\r'; break;
			case 't': u[ulen++] = '\t'; break;
			case 'u':
				if (hex4(js, &cp) < 0)
					return -1;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return js_fail(js, "a lone low surrogate in a \\u escape");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (next(js) != '\\' || next(js) != 'u' || hex4(js, &lo) < 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return js_fail(js, "a high surrogate without its low half");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0)
					return js_fail(js, "a string holds NUL");
				if (cp < 0x80) {
					u[ulen++] = (char)cp;
				} else if (cp < 0x800) {
					u[ulen++] = (char)(0xc0 | cp >> 6);
					u[ulen++] = (char)(0x80 | (cp & 0x3f));
				} else if (cp < 0x10000) {
					u[ulen++] = (char)(0xe0 | cp >> 12);
					u[ulen++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[ulen++] = (char)(0x80 | (cp & 0x3f));
				} else {
					u[ulen++] = (char)(0xf0 | cp >> 18);
					u[ulen++] = (char)(0x80 | ((cp >> 12) & 0x3f));
					u[ulen++] = (char)(0x80 | ((cp >> 6) & 0x3f));
					u[ulen++] = (char)(0x80 | (cp & 0x3f));
				}
				break;
			default:
				return js_fail(js, "an unknown escape in a string");
			}
		} else {
			u[ulen++] = (char)c;	/* checked whole at the end */
		}
		if (n + ulen >= cap)
			return js_fail(js, "a string is longer than %zu bytes", cap - 1);
		memcpy(out + n, u, ulen);
		n += ulen;
	}
	out[n] = '\0';
	if (!utf8_valid(out, n))
		return js_fail(js, "a string is not valid UTF-8");
	return 0;
}

int js_int64(struct jstream *js, int64_t *v)
{
	char b[8];
	int c = js_peek(js), neg = 0, digits = 0;
	uint64_t u = 0;

	if (c == '-') {
		neg = 1;
		js->pos++;
	}
	c = next(js);
	while (c >= '0' && c <= '9') {
		if (digits > 0 && u == 0)
			return js_fail(js, "a number with a leading zero");
		if (u > (uint64_t)INT64_MAX / 10)
			return js_fail(js, "a number too large");
		u = u * 10 + (uint64_t)(c - '0');
		if (u > (uint64_t)INT64_MAX)
			return js_fail(js, "a number too large");
		digits++;
		c = next(js);
	}
	if (digits == 0)
		return js_fail(js, "expected a whole number, found %s", shown(c, b));
	if (c == '.' || c == 'e' || c == 'E')
		return js_fail(js, "expected a whole number, found a fraction or exponent");
	if (c >= 0)
		js->pos--;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return 0;
}

static int skip_literal(struct jstream *js, const char *word)
{
	for (const char *p = word; *p; p++)
		if (next(js) != (unsigned char)*p)
			return js_fail(js, "expected %s", word);
	return 0;
}

static int skip_value(struct jstream *js, int depth)
{
	char b[8], s[4096];
	int c = js_peek(js), more;

	if ((c == '{' || c == '[') && depth >= JS_MAX_DEPTH)
		return js_fail(js, "nested more than %d deep", JS_MAX_DEPTH);
	switch (c) {
	case '"':
		return js_string(js, s, sizeof s);
	case '{':
	case '[':
		js->pos++;
		if (js_peek(js) == (c == '{' ? '}' : ']')) {
			js->pos++;
			return 0;
		}
		do {
			if (c == '{' && (js_string(js, s, sizeof s) < 0 || js_expect(js, ':') < 0))
				return -1;
			if (skip_value(js, depth + 1) < 0)
				return -1;
		} while ((more = js_more(js, c == '{' ? '}' : ']')) == 1);
		return more;
	case 't':
		return skip_literal(js, "true");
	case 'f':
		return skip_literal(js, "false");
	case 'n':
		return skip_literal(js, "null");
	default:
		if (c == '-' || (c >= '0' && c <= '9')) {
			/* Any JSON number: the digits, sign, point and exponent characters. */
			while ((c = next(js)) > 0 && strchr("0123456789+-.eE", c) != NULL)
				;
			if (c >= 0)
				js->pos--;
			return 0;
		}
		return js_fail(js, "expected a value, found %s", shown(c, b));
	}
}

int js_skip(struct jstream *js)
{
	return skip_value(js, 0);
}

int js_end(struct jstream *js)
{
	char b[8];
	int c = js_peek(js);

	if (js->err[0] != '\0')
		return -1;
	return c < 0 ? 0 : js_fail(js, "text after the end: %s", shown(c, b));
}
