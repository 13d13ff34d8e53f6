/* jsonutil.c: the JSON shapes every reply shares: times as RFC 3339 or null, ids or null. */
#include "jsonutil.h"
#include "timeutil.h"

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
