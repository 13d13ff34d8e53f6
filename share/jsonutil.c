/* jsonutil.c: what every JSON message shares: times as RFC 3339 or null, ids or null, and text that is valid UTF-8. */
#include "jsonutil.h"
#include "timeutil.h"

#include <stdio.h>
#include <string.h>

/* utf8_seq's answer for bytes that are a good start but stop too soon. */
#define UTF8_SHORT (-1)

static int utf8_seq(const unsigned char *s, size_t n);
static size_t path_add(char *path, size_t pathlen, size_t at, const cJSON *item,
    int index);
static int find_bad(const cJSON *v, char *path, size_t pathlen, size_t at,
    int *is_key);
static int any_bad(const cJSON *v);
static char *utf8_repaired(const char *s);
static int repair_string(char **s, int owned);

void json_add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[TIME_RFC3339_LEN];

	if (ms <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	time_format_rfc3339(ms, buf);
	cJSON_AddStringToObject(o, key, buf);
}

void json_add_id(cJSON *o, const char *key, int64_t n)
{
	if (n > 0)
		cJSON_AddNumberToObject(o, key, (double)n);
	else
		cJSON_AddNullToObject(o, key);
}

void json_add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

/*
 * The length of the character at s[0..n): 1 to 4; 0 when s starts none
 * (RFC 3629's table: the second byte's range is what shuts out overlongs,
 * surrogates and code points past U+10FFFF); UTF8_SHORT when the bytes
 * there are a good start that n cuts off.
 */
static int utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return UTF8_SHORT;
		if (i == 1 ? s[i] < lo || s[i] > hi : (s[i] & 0xc0) != 0x80)
			return 0;
	}
	return len;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int k;

	while (i < n) {
		/* Most of what is checked (names, paths, an environment) is ASCII: 8 bytes a step. */
		uint64_t w;

		if (n - i >= sizeof w && (memcpy(&w, p + i, sizeof w),
		    (w & UINT64_C(0x8080808080808080)) == 0)) {
			i += sizeof w;
			continue;
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

size_t utf8_cut(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	/* A character is at most 4 bytes: its start is among the last 3. */
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		if ((p[n - back] & 0xc0) == 0x80)
			continue;
		return utf8_seq(p + n - back, back) == UTF8_SHORT ? n - back : n;
	}
	return n;
}

/* Appends item's place (".key", "key" at the top, "[index]") to path[0..at); its new length. */
static size_t path_add(char *path, size_t pathlen, size_t at, const cJSON *item,
    int index)
{
	const unsigned char *k = (const unsigned char *)item->string;
	size_t len, i = 0;
	int c;

	if (index >= 0)
		at += (size_t)snprintf(path + at, pathlen - at, "[%d]", index);
	else {
		if (at > 0)
			at += (size_t)snprintf(path + at, pathlen - at, ".");
		len = strlen(item->string);
		/* A key that is not UTF-8 is named in bytes: the name must itself be text. */
		while (i < len && at < pathlen) {
			if ((c = utf8_seq(k + i, len - i)) > 0) {
				at += (size_t)snprintf(path + at, pathlen - at, "%.*s", c,
				    item->string + i);
				i += (size_t)c;
			} else
				at += (size_t)snprintf(path + at, pathlen - at, "\\x%02x",
				    k[i++]);
		}
	}
	/* A path too long for the buffer is cut, not overrun. */
	return at < pathlen ? at : pathlen - 1;
}

static int find_bad(const cJSON *v, char *path, size_t pathlen, size_t at,
    int *is_key)
{
	const cJSON *item;
	int index = 0;

	if (cJSON_IsString(v) && !utf8_valid(v->valuestring, strlen(v->valuestring))) {
		*is_key = 0;
		return 1;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 0;
	cJSON_ArrayForEach(item, v) {
		int in_array = cJSON_IsArray(v);
		size_t end = path_add(path, pathlen, at, item, in_array ? index++ : -1);

		if (!in_array && !utf8_valid(item->string, strlen(item->string))) {
			*is_key = 1;
			return 1;
		}
		if (find_bad(item, path, pathlen, end, is_key))
			return 1;
		path[at] = '\0';
	}
	return 0;
}

/* Whether any key or string of v is not UTF-8: find_bad's walk without the path it writes. */
static int any_bad(const cJSON *v)
{
	const cJSON *item;

	if (cJSON_IsString(v))
		return !utf8_valid(v->valuestring, strlen(v->valuestring));
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 0;
	cJSON_ArrayForEach(item, v) {
		if (!cJSON_IsArray(v) && !utf8_valid(item->string, strlen(item->string)))
			return 1;
		if (any_bad(item))
			return 1;
	}
	return 0;
}

int json_find_bad_utf8(const cJSON *v, char *path, size_t pathlen, int *is_key)
{
	if (pathlen == 0)
		return 0;
	path[0] = '\0';
	*is_key = 0;
	/*
	 * Every request passes here and nearly all are good: the place is
	 * written out (a snprintf a character) only once one is known bad.
	 */
	if (!any_bad(v))
		return 0;
	return find_bad(v, path, pathlen, 0, is_key);
}

/* s with U+FFFD for each byte that starts no character (cJSON's allocator); NULL when out of memory. */
static char *utf8_repaired(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0;
	char *out = cJSON_malloc(n * 3 + 1);
	int k;

	if (out == NULL)
		return NULL;
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) > 0) {
			memcpy(out + o, s + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* *s repaired when not valid UTF-8 (1: it was); owned: the old string is cJSON's to free. */
static int repair_string(char **s, int owned)
{
	char *fixed;

	if (*s == NULL || utf8_valid(*s, strlen(*s)))
		return 0;
	if ((fixed = utf8_repaired(*s)) == NULL) {
		/* Out of memory: '?' in place keeps the promise, less kindly. */
		if (owned)
			for (unsigned char *p = (unsigned char *)*s; *p != '\0'; p++)
				if (*p >= 0x80)
					*p = '?';
		return 0;
	}
	if (owned)
		cJSON_free(*s);
	*s = fixed;
	return 1;
}

void json_repair_utf8(cJSON *v)
{
	cJSON *item;

	if (v == NULL)
		return;
	/* A repaired string is the item's own now, whatever it pointed at before. */
	if (v->string != NULL && repair_string(&v->string, !(v->type & cJSON_StringIsConst)))
		v->type &= ~cJSON_StringIsConst;
	if (cJSON_IsString(v)) {
		if (repair_string(&v->valuestring, !(v->type & cJSON_IsReference)))
			v->type &= ~cJSON_IsReference;
		return;
	}
	cJSON_ArrayForEach(item, v)
		json_repair_utf8(item);
}
