/* control-queue.c: the handlers that steer the queue: pause, resume, resource capacity, why a task waits. */
#include "depotd.h"
#include "jsonutil.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void reply_pause(struct conn *conn, struct request *rq, int paused)
{
	char err[512];

	if (queue_set_paused(rq->resources, rq->nresources, paused, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "%s", err);
		return;
	}
	server_reply_ok(conn, queue_pause_json());
}

void cmd_queue_pause(struct conn *conn, struct request *rq)
{
	reply_pause(conn, rq, 1);
}

void cmd_queue_resume(struct conn *conn, struct request *rq)
{
	reply_pause(conn, rq, 0);
}

void cmd_resource_set(struct conn *conn, struct request *rq)
{
	cJSON *all, *r;
	char err[512];

	if (queue_set_capacity(rq->resource, (int)rq->capacity, err, sizeof err) < 0) {
		server_reply_err(conn, ERR_INTERNAL, "%s", err);
		return;
	}
	all = queue_resources_json();
	cJSON_ArrayForEach(r, all) {
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "name")), rq->resource) == 0)
			break;
	}
	/* Back to the default and unused: the lock manager forgot it, as resource.list would. */
	if (r == NULL) {
		r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "name", rq->resource);
		cJSON_AddNullToObject(r, "capacity");
		cJSON_AddBoolToObject(r, "paused", 0);
		cJSON_AddNumberToObject(r, "slots_held", 0);
		cJSON_AddNumberToObject(r, "holders", 0);
		cJSON_AddNumberToObject(r, "waiting", 0);
	} else {
		cJSON_DetachItemViaPointer(all, r);
	}
	cJSON_Delete(all);
	server_reply_ok(conn, r);
}

void cmd_resource_list(struct conn *conn, struct request *rq)
{
	(void)rq;
	server_reply_ok(conn, queue_resources_json());
}

static cJSON *reason(cJSON *reasons, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cJSON *reason(cJSON *reasons, const char *kind, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddItemToArray(reasons, o);
	return o;
}

/* "task 12 (exclusive, holding), task 15 (slot)": at most a few named, then a count. */
static void describe_entries(char *out, size_t n, const struct lockmgr_entry *e, size_t ne)
{
	size_t len = 0, i, shown = ne < 5 ? ne : 5;

	out[0] = '\0';
	for (i = 0; i < shown && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%stask %lld (%s%s)", i ? ", " : "",
		    (long long)e[i].task, lock_mode_name(e[i].mode), e[i].held ? ", holding" : "");
	if (ne > shown && len < n)
		snprintf(out + len, n - len, " and %zu more", ne - shown);
}

static void why_resource(void *ctx, const char *resource, enum lockmgr_hold why,
    const struct lockmgr_entry *e, size_t n)
{
	cJSON *o, *ids;
	char who[512];

	describe_entries(who, sizeof who, e, n);
	switch (why) {
	case LOCKMGR_PAUSED:
		o = reason(ctx, "resource-paused", "resource %s is paused (depotctl resume %s)",
		    resource, resource);
		break;
	case LOCKMGR_CAPACITY:
		o = reason(ctx, "capacity", "every slot of resource %s is taken: %s", resource, who);
		break;
	default:
		o = reason(ctx, "blocked", "resource %s: %s %s", resource,
		    n == 1 ? "in the way is" : "in the way are", who);
		break;
	}
	cJSON_AddStringToObject(o, "resource", resource);
	ids = cJSON_AddArrayToObject(o, "tasks");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)e[i].task));
}

void cmd_task_why(struct conn *conn, struct request *rq)
{
	struct task *t = task_find(rq->id);
	cJSON *r, *reasons, *shown;
	char at[40];

	if (t == NULL) {
		if ((shown = store_task_json(D->store, rq->id)) == NULL) {
			server_reply_err(conn, ERR_NOT_FOUND, "no task %lld", (long long)rq->id);
			return;
		}
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "id", (double)rq->id);
		cJSON_AddItemToObject(r, "state", cJSON_Duplicate(cJSON_GetObjectItem(shown,
		    "state"), 1));
		cJSON_Delete(shown);
		cJSON_AddBoolToObject(r, "waiting", 0);
		cJSON_AddArrayToObject(r, "reasons");
		server_reply_ok(conn, r);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddNumberToObject(r, "id", (double)t->id);
	cJSON_AddStringToObject(r, "state", task_state_name(t->state));
	cJSON_AddBoolToObject(r, "waiting", t->state == TASK_WAITING);
	reasons = cJSON_AddArrayToObject(r, "reasons");
	if (t->state != TASK_WAITING) {
		server_reply_ok(conn, r);
		return;
	}
	if (D->queue_paused)
		reason(reasons, "queue-paused", "the queue is paused (depotctl resume)");
	if (t->held) {
		cJSON_AddNumberToObject(reason(reasons, "after", "it runs after task %lld, "
		    "which has not completed", (long long)t->after), "task", (double)t->after);
	}
	if (t->in_backoff) {
		const struct task_detail *d = task_detail(t);
		int retry = d != NULL && d->retry_of != 0;

		task_shed(t);
		time_format_rfc3339(t->not_before, at);
		cJSON_AddStringToObject(reason(reasons, "not-before", retry ?
		    "it is a retry, backing off until %s" : "it starts no earlier than %s", at),
		    "at", at);
	}
	if (t->queued && !t->requeued)
		lockmgr_why(D->locks, t->id, why_resource, reasons);
	if (cJSON_GetArraySize(reasons) == 0 && !tasks_worker_idle())
		reason(reasons, "no-idle-worker", "its reservations are free, and it starts "
		    "when a worker is idle");
	server_reply_ok(conn, r);
}
