/* cmd-queue.c: pause, resume, resource set and list, task why: steering the queue and asking why a task waits. */
#include "ctl.h"

#include "proto.h"

#include <string.h>

/* "the queue is paused; paused resources: a, b" or "the queue runs". */
static void print_pause(const cJSON *r)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(r, "paused_resources"), *n;
	int first = 1;

	printf("%s", json_true(r, "paused") ? "the queue is paused: no new task starts" :
	    "the queue runs");
	cJSON_ArrayForEach(n, list) {
		char name[1024];

		out_clean(cJSON_GetStringValue(n) ? cJSON_GetStringValue(n) : "?", 0, name,
		    sizeof name);
		printf("%s%s", first ? "; paused resources: " : ", ", name);
		first = 0;
	}
	printf("\n");
}

static int pause_or_resume(struct ctl_ctx *ctx, struct ctl_args *a, enum command cmd)
{
	cJSON *req = cJSON_CreateObject(), *names = NULL, *r;
	int rc;

	if (req == NULL || (a->argc > 0 && (names = cJSON_AddArrayToObject(req, "resources")) == NULL))
		goto nomem;
	for (int i = 0; i < a->argc; i++) {
		if (!cJSON_AddItemToArray(names, cJSON_CreateString(a->argv[i])))
			goto nomem;
	}
	if ((rc = call_for_people(ctx, cmd, req, &r)) != EXIT_OK || r == NULL)
		return rc;
	print_pause(r);
	cJSON_Delete(r);
	return EXIT_OK;
nomem:
	cJSON_Delete(req);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

int cmd_pause(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return pause_or_resume(ctx, a, CMD_queue_pause);
}

int cmd_resume(struct ctl_ctx *ctx, struct ctl_args *a)
{
	return pause_or_resume(ctx, a, CMD_queue_resume);
}

static int print_resources(const cJSON *list)
{
	static const char *const headers[] = {
		"RESOURCE", "CAPACITY", "SLOTS", "HOLDERS", "WAITING", "PAUSED",
	};
	struct out_table *t;
	const cJSON *r;

	if ((t = out_table_new(6, headers)) == NULL)
		goto nomem;
	out_table_limit(t, 0, 48);
	cJSON_ArrayForEach(r, list) {
		char cap[24] = "1 (default)", slots[24], holders[24], waiting[24];
		int64_t v;

		if (json_int(r, "capacity", &v) == 0)
			snprintf(cap, sizeof cap, "%lld", (long long)v);
		snprintf(slots, sizeof slots, "%lld", json_int(r, "slots_held", &v) == 0 ?
		    (long long)v : 0LL);
		snprintf(holders, sizeof holders, "%lld", json_int(r, "holders", &v) == 0 ?
		    (long long)v : 0LL);
		snprintf(waiting, sizeof waiting, "%lld", json_int(r, "waiting", &v) == 0 ?
		    (long long)v : 0LL);
		if (out_table_add(t, (const char *const[]){ json_str(r, "name"), cap, slots,
		    holders, waiting, json_true(r, "paused") ? "yes" : "no" }) != 0)
			goto nomem;
	}
	out_table_print(t, stdout);
	out_table_free(t);
	return EXIT_OK;
nomem:
	out_table_free(t);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

int cmd_resource_list(struct ctl_ctx *ctx, struct ctl_args *a)
{
	cJSON *list;
	int rc;

	(void)a;
	if ((rc = call_for_people(ctx, CMD_resource_list, NULL, &list)) != EXIT_OK || list == NULL)
		return rc;
	rc = print_resources(list);
	cJSON_Delete(list);
	return rc;
}

int cmd_resource_set(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *capacity = args_get(a, "capacity");
	cJSON *req, *r, *one;
	long long n = 0;
	int rc;

	if (capacity == NULL)
		return ctl_usage_error(a->cmd, "--capacity N (or 'default') is required");
	if (strcmp(capacity, "default") != 0 &&
	    (rc = args_int(a, "capacity", capacity, 1, RESOURCE_CAPACITY_MAX, &n)) != EXIT_OK)
		return rc;
	if ((req = cJSON_CreateObject()) == NULL || cJSON_AddStringToObject(req, "name", a->argv[0]) == NULL ||
	    (n > 0 ? cJSON_AddNumberToObject(req, "capacity", (double)n) :
	    cJSON_AddNullToObject(req, "capacity")) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_resource_set, req, &r)) != EXIT_OK || r == NULL)
		return rc;
	if ((one = cJSON_CreateArray()) == NULL || !cJSON_AddItemToArray(one, r)) {
		cJSON_Delete(one);
		cJSON_Delete(r);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	rc = print_resources(one);
	cJSON_Delete(one);
	return rc;
}

int cmd_task_why(struct ctl_ctx *ctx, struct ctl_args *a)
{
	cJSON *req = cJSON_CreateObject(), *r;
	const cJSON *reasons, *x;
	int64_t id;
	int rc;

	if ((rc = args_task_id(a, a->argv[0], &id)) != EXIT_OK) {
		cJSON_Delete(req);
		return rc;
	}
	if (req == NULL || cJSON_AddNumberToObject(req, "id", (double)id) == NULL) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = call_for_people(ctx, CMD_task_why, req, &r)) != EXIT_OK || r == NULL)
		return rc;
	reasons = cJSON_GetObjectItemCaseSensitive(r, "reasons");
	if (!json_true(r, "waiting"))
		printf("task %lld is %s, not waiting\n", (long long)id,
		    json_str(r, "state") != NULL ? json_str(r, "state") : "?");
	else if (cJSON_GetArraySize(reasons) == 0)
		printf("task %lld waits for nothing: it starts at the next dispatch\n",
		    (long long)id);
	else
		printf("task %lld waits:\n", (long long)id);
	cJSON_ArrayForEach(x, reasons) {
		char clean[2048];

		out_clean(json_str(x, "message") != NULL ? json_str(x, "message") : "?", 0,
		    clean, sizeof clean);
		printf("  %s\n", clean);
	}
	cJSON_Delete(r);
	return EXIT_OK;
}
