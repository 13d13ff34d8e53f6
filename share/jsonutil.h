/* jsonutil.h: the JSON shapes every reply shares: times as RFC 3339 or null, ids or null. */
#ifndef DEPOT_JSONUTIL_H
#define DEPOT_JSONUTIL_H
#include <cjson/cJSON.h>
#include <stdint.h>

/* key: ms as RFC 3339, or null when ms <= 0 (not set). */
void json_add_time(cJSON *o, const char *key, int64_t ms);
/* key: n, or null when n <= 0 (no such id). */
void json_add_id(cJSON *o, const char *key, int64_t n);
/* key: s, or null. */
void json_add_string_or_null(cJSON *o, const char *key, const char *s);

#endif
