/* cmd-lock.c: lock list: per resource, who holds it and who waits for it. */
#include "ctl.h"

#include "proto.h"

#include <string.h>

/* A resource may have 100,000 waiters: the table shows how many and who is next. */
#define LOCK_HOLDERS_WIDTH 40

static void lock_holders(const cJSON *holders, char *buf, size_t n, const char **mode);

/* "42 43" and the holders' mode (one exclusive holder, or any number of shared ones). */
static void lock_holders(const cJSON *holders, char *buf, size_t n, const char **mode)
{
	const cJSON *h;
	size_t l = 0;

	buf[0] = '\0';
	*mode = NULL;
	cJSON_ArrayForEach(h, holders) {
		int64_t id = 0;

		(void)json_int(h, "task", &id);
		if (*mode == NULL)
			*mode = json_str(h, "mode");
		if (l < n)
			snprintf(buf + l, n - l, "%s%lld", l > 0 ? " " : "", (long long)id);
		l = strlen(buf);
	}
}

int cmd_lock_list(struct ctl_ctx *ctx, struct ctl_args *args)
{
	static const char *const headers[] = {
		"RESOURCE", "HELD", "HOLDERS", "WAITING", "NEXT",
	};
	struct out_table *t;
	const cJSON *res;
	cJSON *list;
	int rc;

	(void)args;
	if ((rc = call_for_people(ctx, CMD_lock_list, NULL, &list)) != EXIT_OK ||
	    list == NULL)
		return rc;
	if ((t = out_table_new(5, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 0, 48);
	out_table_limit(t, 2, LOCK_HOLDERS_WIDTH);
	cJSON_ArrayForEach(res, list) {
		const cJSON *waiting = cJSON_GetObjectItemCaseSensitive(res, "waiting");
		const cJSON *first = cJSON_GetArrayItem(waiting, 0);
		char holders[LOCK_HOLDERS_WIDTH * 4], nwait[24], next[64] = "-", name[320];
		const char *mode;
		int64_t capacity;

		lock_holders(cJSON_GetObjectItemCaseSensitive(res, "holders"),
		    holders, sizeof holders, &mode);
		snprintf(nwait, sizeof nwait, "%d", cJSON_GetArraySize(waiting));
		if (first != NULL) {
			int64_t id = 0;
			const char *m = json_str(first, "mode");

			(void)json_int(first, "task", &id);
			snprintf(next, sizeof next, "%lld (%s)", (long long)id,
			    m != NULL ? m : "?");
		}
		snprintf(name, sizeof name, "%s", json_str(res, "resource"));
		if (json_int(res, "capacity", &capacity) == 0)
			snprintf(name + strlen(name), sizeof name - strlen(name), " [%lld slots]",
			    (long long)capacity);
		if (json_true(res, "paused"))
			snprintf(name + strlen(name), sizeof name - strlen(name), " (paused)");
		if (out_table_add(t, (const char *const[]){ name,
		    mode, holders[0] != '\0' ? holders : "-", nwait, next }) != 0)
			goto nomem;
	}
	out_table_print(t, stdout);
	out_table_free(t);
	cJSON_Delete(list);
	return EXIT_OK;
nomem:
	out_table_free(t);
	cJSON_Delete(list);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}
