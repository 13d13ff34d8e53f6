/* jsonutil.h: what every JSON message shares: times as RFC 3339 or null, ids or null, and text that is valid UTF-8. */
#ifndef DEPOT_JSONUTIL_H
#define DEPOT_JSONUTIL_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* key: ms as RFC 3339, or null when ms <= 0 (not set). */
void json_add_time(cJSON *o, const char *key, int64_t ms);
/* key: n, or null when n <= 0 (no such id). */
void json_add_id(cJSON *o, const char *key, int64_t n);
/* key: s, or null. */
void json_add_string_or_null(cJSON *o, const char *key, const char *s);

/*
 * Whether s[0..n) is UTF-8 as RFC 3629 defines it: no overlong forms, no
 * surrogates (U+D800–U+DFFF), nothing past U+10FFFF, no cut sequence.
 */
int utf8_valid(const char *s, size_t n);
/*
 * How much of s[0..n) to take so as not to end inside a character that
 * more bytes could complete: n, or less by the 1–3 bytes of such a start.
 */
size_t utf8_cut(const char *s, size_t n);
/*
 * The first string of v (a key or a value, at any depth) that is not
 * valid UTF-8: 1, its place in path ("args.argv[2]"; a key's bytes that
 * are not UTF-8 as \xNN) and *is_key; 0 when all are valid.
 */
int json_find_bad_utf8(const cJSON *v, char *path, size_t pathlen, int *is_key);
/*
 * Replaces, in every key and string value of v, each byte that begins no
 * valid UTF-8 character with U+FFFD, so that what reads text from
 * elsewhere (a file name, a command's output) never sends bytes a JSON
 * reader must refuse.
 */
void json_repair_utf8(cJSON *v);

#endif
