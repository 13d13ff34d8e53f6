/* sched.c: the scheduler (DESIGN §13) — schedules stored in SQLite submit their task when due — and pruning of old finished tasks. */
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEDULE_MIN_EVERY_MS 1000
/* Pruning deletes this many finished tasks a tick, so requests are never held up. */
#define PRUNE_BATCH 500

static int64_t next_due_cache = -1;	/* -1: unknown, read the table again */

static cJSON *schedule_row_json(const struct schedule_row *r)
{
	cJSON *o = cJSON_CreateObject(), *tmpl, *last;
	int64_t last_id = r->last_task;

	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddNumberToObject(o, "every_ms", (double)r->every_ms);
	cJSON_AddBoolToObject(o, "enabled", r->enabled);
	tmpl = cJSON_Parse(r->tmpl);
	cJSON_AddItemToObject(o, "template", tmpl ? tmpl : cJSON_CreateNull());
	json_add_time(o, "created_at", r->created_at);
	json_add_time(o, "next_run", r->next_run);
	json_add_time(o, "last_run", r->last_run);
	if (last_id > 0 && (last = task_json_by_id(last_id)) != NULL) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddNumberToObject(l, "id", (double)last_id);
		cJSON_AddItemToObject(l, "state", cJSON_Duplicate(
		    cJSON_GetObjectItemCaseSensitive(last, "state"), 1));
		cJSON_AddItemToObject(o, "last_task", l);
		cJSON_Delete(last);
	} else
		cJSON_AddNullToObject(o, "last_task");
	cJSON_AddNumberToObject(o, "skipped", (double)r->skipped);
	json_add_time(o, "last_skipped", r->last_skipped);
	return o;
}

static void schedule_found(const struct schedule_row *r, void *arg)
{
	*(cJSON **)arg = schedule_row_json(r);
}

static void schedule_listed(const struct schedule_row *r, void *arg)
{
	cJSON_AddItemToArray(arg, schedule_row_json(r));
}

cJSON *sched_json(const char *name)
{
	cJSON *o = NULL;

	store_schedules(D->store, name, schedule_found, &o);
	return o;
}

cJSON *sched_list_json(void)
{
	cJSON *arr = cJSON_CreateArray();

	store_schedules(D->store, NULL, schedule_listed, arr);
	return arr;
}

/* Every change to the table may change when the next schedule is due. */
static int changed(int rc)
{
	next_due_cache = -1;
	return rc;
}

int sched_add(const char *name, const cJSON *tmpl, int64_t every_ms, int64_t first_run)
{
	return changed(store_schedule_add(D->store, name, tmpl, every_ms, first_run,
	    time_now_ms()));
}

int sched_delete(const char *name)
{
	return changed(store_schedule_delete(D->store, name));
}

int sched_set_enabled(const char *name, int enabled)
{
	return changed(store_schedule_enable(D->store, name, enabled));
}

/* The first run after now on the schedule's grid: missed runs collapse into one. */
static int64_t next_after(int64_t next_run, int64_t every, int64_t now)
{
	if (next_run > now)
		return next_run;
	return next_run + ((now - next_run) / every + 1) * every;
}

struct firing {
	const char *name;
	int64_t next, now;
};

/* In the transaction that stores the task: a crash keeps both or neither (item 9). */
static int record_run(int64_t id, void *ctx)
{
	const struct firing *f = ctx;

	return changed(store_schedule_fired(D->store, f->name, f->next, f->now, id));
}

static void fire(const char *name, const char *tmpl_text, int64_t every, int64_t next_run,
    int64_t last_task, int64_t now)
{
	int64_t next = next_after(next_run, every, now);
	struct firing f;
	char err[512];
	cJSON *tmpl;
	struct task *t;

	if (last_task > 0 && task_find(last_task) != NULL) {
		/* Never a second task while the previous one is unfinished (DESIGN §13). */
		log_info("schedule %s: task %lld still unfinished, skipping this run", name,
		    (long long)last_task);
		changed(store_schedule_skipped(D->store, name, next, now));
		return;
	}
	tmpl = cJSON_Parse(tmpl_text);
	t = tmpl ? validate_submit(tmpl, err, sizeof err) : NULL;
	cJSON_Delete(tmpl);
	if (t == NULL) {
		log_warn("schedule %s: its task template is refused (%s); skipping", name,
		    tmpl ? err : "unreadable");
		changed(store_schedule_skipped(D->store, name, next, now));
		return;
	}
	t->schedule = strdup(name);
	f.name = name;
	f.next = next;
	f.now = now;
	/* A failure leaves next_run as it was: the next tick tries again. */
	if (task_submit_with(t, record_run, &f, err, sizeof err) < 0)
		log_error("schedule %s: submitting its task: %s", name, err);
}

/* Finished tasks past keep_finished go, with their logs, a batch at a time. */
static void prune(int64_t now)
{
	static int64_t last_prune;
	int64_t ids[PRUNE_BATCH];
	char path[4200];
	int n;

	if (now - last_prune < 1000)
		return;
	last_prune = now;
	n = store_tasks_finished_before(D->store, now - D->cfg.keep_finished_ms, ids, PRUNE_BATCH);
	if (n <= 0)
		return;
	if (store_begin(D->store) < 0 || store_delete_tasks(D->store, ids, n) < 0) {
		store_rollback(D->store);
		return;
	}
	if (store_commit(D->store) < 0) {
		log_warn("pruning finished tasks: %s", store_errmsg(D->store));
		return;
	}
	for (int i = 0; i < n; i++) {
		task_log_path(ids[i], path, sizeof path);
		if (fs_unlink_beneath(daemon_data()->fd, path) < 0)
			log_warn("removing %s/%s: %m", D->dir, path);
	}
	log_info("pruned %d finished task(s) older than keep_finished", n);
}

/* A schedule's retried task lives on in its retry: the schedule waits for that one (DESIGN §13). */
int sched_task_retried(int64_t old_id, int64_t new_id)
{
	return changed(store_schedule_retried(D->store, old_id, new_id));
}

/* The schedules due at one tick, at most DUE_MAX of them. */
#define DUE_MAX 64
struct due_list {
	struct due { char *name, *tmpl; int64_t every, next, last; } at[DUE_MAX];
	int n;
};

static void collect_due(const struct schedule_row *r, void *arg)
{
	struct due_list *l = arg;
	struct due *d;

	if (l->n == DUE_MAX)
		return;
	d = &l->at[l->n++];

	d->name = strdup(r->name);
	d->tmpl = strdup(r->tmpl);
	d->every = r->every_ms;
	d->next = r->next_run;
	d->last = r->last_task;
}

void sched_tick(void)
{
	int64_t now = time_now_ms();
	struct due_list due = { .n = 0 };

	D->sched_last_tick = now;
	if (D->stopping)
		return;
	if (next_due_cache < 0 || now >= next_due_cache) {
		/* Collected first: fire() writes to the table being read. */
		store_schedules_due(D->store, now, DUE_MAX, collect_due, &due);
		for (int i = 0; i < due.n; i++) {
			if (due.at[i].name && due.at[i].tmpl)
				fire(due.at[i].name, due.at[i].tmpl, due.at[i].every,
				    due.at[i].next, due.at[i].last, now);
			free(due.at[i].name);
			free(due.at[i].tmpl);
		}
		if (store_schedules_next_due(D->store, &next_due_cache) <= 0)
			next_due_cache = INT64_MAX;
	}
	D->sched_next_due = next_due_cache == INT64_MAX ? 0 : next_due_cache;
	prune(now);
}
