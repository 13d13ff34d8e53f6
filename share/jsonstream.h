/* jsonstream.h: a pull reader for JSON too large to hold (a backup's MANIFEST.json), with every string and nesting depth bounded. */
#ifndef DEPOT_JSONSTREAM_H
#define DEPOT_JSONSTREAM_H
#include <stddef.h>
#include <stdint.h>

/* Fills buf with up to cap bytes: the count, 0 at the end, -1 on error. */
typedef long (*js_fill_fn)(void *ctx, char *buf, size_t cap);

struct jstream {
	js_fill_fn fill;
	void *ctx;
	char buf[65536];
	size_t pos, len;
	int eof;
	int64_t offset;		/* of buf[0] in the whole text, for messages */
	char err[160];		/* the first error; once set, every call fails */
};

void js_init(struct jstream *js, js_fill_fn fill, void *ctx);
/* The next byte after white space, not consumed; -1 at the end or on error. */
int js_peek(struct jstream *js);
/* Consumes c (after white space), or fails naming what was found. */
int js_expect(struct jstream *js, char c);
/*
 * After a value or key inside an object or array: 1 if a ',' (consumed)
 * says another follows, 0 if close (consumed) ends it, -1 otherwise.
 */
int js_more(struct jstream *js, char close);
/* A string, unescaped into UTF-8 in out (cap bytes with the NUL); -1 if longer, malformed or not valid UTF-8. */
int js_string(struct jstream *js, char *out, size_t cap);
/* A whole number without fraction or exponent. */
int js_int64(struct jstream *js, int64_t *v);
/* Any one value, nested at most 64 deep. */
int js_skip(struct jstream *js);
/* Only white space up to the end. */
int js_end(struct jstream *js);
/* Sets the error unless one is set: "at byte N: ...". Returns -1. */
int js_fail(struct jstream *js, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
