/* json.c: reading fields of the daemon's replies, and printing them for --json. */
#include "ctl.h"

#include "proto.h"

#include <stdlib.h>
#include <unistd.h>

/* The string at key, or NULL when it is missing, null or not a string. */
const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The integer at key: 0, or -1 when it is missing, null or not a whole number. */
int json_int(const cJSON *o, const char *key, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	/* Range first, so the cast below is defined; then wholeness. */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.0e15 && v->valuedouble <= 9.0e15) ||
	    (double)(int64_t)v->valuedouble != v->valuedouble)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

int json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/*
 * What --json prints: the value as the daemon sent it, one document;
 * indented for a terminal, and a single object on one line for a pipe,
 * so line-minded tools take it whole.
 */
int json_print(const cJSON *v)
{
	char *text = cJSON_IsObject(v) && !isatty(STDOUT_FILENO) ?
	    cJSON_PrintUnformatted(v) : cJSON_Print(v);

	if (text == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	ctl_json_out = 1;
	return EXIT_OK;
}

/* One compact document on one line, flushed: for streams a reader acts on as they come. */
int json_print_line(const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);

	if (text == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	printf("%s\n", text);
	free(text);
	fflush(stdout);
	ctl_json_out = 1;
	return EXIT_OK;
}

/* An "ids" array for task.cancel and task.wait; NULL when out of memory. */
cJSON *json_ids(int64_t *ids, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr != NULL && i < n; i++) {
		cJSON *id = cJSON_CreateNumber((double)ids[i]);

		if (id == NULL || !cJSON_AddItemToArray(arr, id)) {
			cJSON_Delete(id);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}
