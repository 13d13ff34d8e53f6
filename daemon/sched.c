/* sched.c: the scheduler (DESIGN §13) — schedules stored in SQLite submit their task when due — and pruning of old finished tasks. */
#include "calendar.h"
#include "depotd.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEDULE_MIN_EVERY_MS 1000

static int64_t next_due_cache = -1;	/* -1: unknown, read the table again */

struct due;
static void due_free(struct due *d);

static cJSON *schedule_row_json(const struct schedule_row *r)
{
	cJSON *o = cJSON_CreateObject(), *tmpl, *last;
	int64_t last_id = r->last_task;

	cJSON_AddStringToObject(o, "name", r->name);
	if (r->calendar != NULL) {
		cJSON_AddNullToObject(o, "every_ms");
		cJSON_AddStringToObject(o, "calendar", r->calendar);
	} else {
		cJSON_AddNumberToObject(o, "every_ms", (double)r->every_ms);
		cJSON_AddNullToObject(o, "calendar");
	}
	if (r->tz != NULL)
		cJSON_AddStringToObject(o, "tz", r->tz);
	else
		cJSON_AddNullToObject(o, "tz");
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

int sched_add(const char *name, const cJSON *tmpl, int64_t every_ms, const char *calendar,
    const char *tz, int64_t first_run)
{
	return changed(store_schedule_add(D->store, name, tmpl, every_ms, calendar, tz,
	    first_run, time_now_ms()));
}

int sched_delete(const char *name)
{
	return changed(store_schedule_delete(D->store, name));
}

int sched_set_enabled(const char *name, int enabled)
{
	return changed(store_schedule_enable(D->store, name, enabled));
}

/* A schedule as fire() and schedule.run need it, copied out of the row. */
struct due {
	char *name, *tmpl, *calendar, *tz;
	int64_t every, next, last;
};

/*
 * The first run after now: on an interval schedule's grid, or its
 * calendar's next time; missed runs collapse into one. 0 when a calendar
 * has no time left (a date now past), -1 when it cannot be read any more
 * (its zone was removed): both logged.
 */
static int next_after(const struct due *d, int64_t now, int64_t *next)
{
	char err[512];
	int rc;

	if (d->calendar == NULL) {
		*next = d->next > now ? d->next :
		    d->next + ((now - d->next) / d->every + 1) * d->every;
		return 1;
	}
	if (d->next > now) {
		*next = d->next;
		return 1;
	}
	rc = calendar_next_in(d->calendar, d->tz, now, next, err, sizeof err);
	if (rc < 0)
		log_error("schedule %s: its calendar '%s' cannot be evaluated: %s", d->name,
		    d->calendar, err);
	else if (rc == 0)
		log_info("schedule %s: calendar '%s' has no time after this run", d->name,
		    d->calendar);
	return rc;
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

/* d's template as a task to submit: the task, or NULL with *code and err. */
static struct task *template_task(const struct due *d, int *code, char *err, size_t errlen)
{
	char why[512];
	cJSON *tmpl = cJSON_Parse(d->tmpl);
	struct task *t = tmpl ? validate_submit(tmpl, why, sizeof why) : NULL;

	cJSON_Delete(tmpl);
	if (t == NULL) {
		*code = ERR_BAD_REQUEST;
		snprintf(err, errlen, "its task template is refused (%s)", tmpl ? why : "unreadable");
		return NULL;
	}
	/* The repository may have gone since the schedule was added. */
	if (repo_task_check(t, code, why, sizeof why) < 0) {
		snprintf(err, errlen, "its task template is refused (%s)", why);
		task_free(t);
		return NULL;
	}
	if ((t->d->schedule = strdup(d->name)) == NULL) {
		*code = ERR_INTERNAL;
		snprintf(err, errlen, "out of memory");
		task_free(t);
		return NULL;
	}
	return t;
}

/* A schedule whose calendar has no time left stops: next_run would otherwise stay due. */
static void stop(const char *name)
{
	if (changed(store_schedule_enable(D->store, name, 0)) < 0)
		log_error("schedule %s: disabling it: %s", name, store_errmsg(D->store));
	else
		log_info("schedule %s disabled: it has no further run", name);
}

static void fire(const struct due *d, int64_t now)
{
	int64_t next;
	struct firing f;
	char err[512];
	struct task *t;
	int code, more;

	if ((more = next_after(d, now, &next)) <= 0)
		/* No time left, or none that can be read: this run is the last. */
		next = now;
	if (d->last > 0 && task_find(d->last) != NULL) {
		/* Never a second task while the previous one is unfinished (DESIGN §13). */
		log_info("schedule %s: task %lld still unfinished, skipping this run", d->name,
		    (long long)d->last);
		changed(store_schedule_skipped(D->store, d->name, next, now));
	} else if ((t = template_task(d, &code, err, sizeof err)) == NULL) {
		log_warn("schedule %s: %s; skipping", d->name, err);
		changed(store_schedule_skipped(D->store, d->name, next, now));
	} else {
		f.name = d->name;
		f.next = next;
		f.now = now;
		/* A failure leaves next_run as it was: the next tick tries again. */
		if (task_submit_with(t, record_run, &f, err, sizeof err) < 0) {
			log_error("schedule %s: submitting its task: %s", d->name, err);
			return;
		}
	}
	if (more <= 0)
		stop(d->name);
}

/*
 * Finished tasks past keep_finished go, with their logs, as a task.clean's
 * do (control-tasks.c): sliced, and keeping what task.remove keeps.
 */
static void prune(int64_t now)
{
	static int64_t last_prune;

	if (now - last_prune < 1000)
		return;
	last_prune = now;
	tasks_clean_expired(now - D->cfg.keep_finished_ms);
}

/* A schedule's retried task lives on in its retry: the schedule waits for that one (DESIGN §13). */
int sched_task_retried(int64_t old_id, int64_t new_id)
{
	return changed(store_schedule_retried(D->store, old_id, new_id));
}

/* The schedules due at one tick, at most DUE_MAX of them. */
#define DUE_MAX 64
struct due_list {
	struct due at[DUE_MAX];
	int n;
};

/* r copied into d: 0, or -1 when out of memory (d then holds nothing). */
static int due_copy(const struct schedule_row *r, struct due *d)
{
	memset(d, 0, sizeof *d);
	d->name = strdup(r->name);
	d->tmpl = strdup(r->tmpl);
	d->calendar = r->calendar ? strdup(r->calendar) : NULL;
	d->tz = r->tz ? strdup(r->tz) : NULL;
	d->every = r->every_ms;
	d->next = r->next_run;
	d->last = r->last_task;
	if (d->name == NULL || d->tmpl == NULL || (r->calendar && d->calendar == NULL) ||
	    (r->tz && d->tz == NULL)) {
		due_free(d);
		return -1;
	}
	return 0;
}

static void due_free(struct due *d)
{
	free(d->name);
	free(d->tmpl);
	free(d->calendar);
	free(d->tz);
	memset(d, 0, sizeof *d);
}

static void collect_due(const struct schedule_row *r, void *arg)
{
	struct due_list *l = arg;

	if (l->n < DUE_MAX && due_copy(r, &l->at[l->n]) == 0)
		l->n++;
}

static void collect_one(const struct schedule_row *r, void *arg)
{
	struct due *d = arg;

	/* d->name stays NULL when there is no such schedule, or no memory for it. */
	(void)due_copy(r, d);
}

int64_t sched_run_now(const char *name, int *code, char *err, size_t errlen)
{
	struct due d = { 0 };
	struct firing f;
	struct task *t;
	int64_t id = -1, now = time_now_ms();

	if (store_schedules(D->store, name, collect_one, &d) < 0) {
		*code = ERR_INTERNAL;
		snprintf(err, errlen, "reading schedule '%s': %s", name, store_errmsg(D->store));
		return -1;
	}
	if (d.name == NULL) {
		*code = ERR_NOT_FOUND;
		snprintf(err, errlen, "no schedule '%s'", name);
		return -1;
	}
	if (d.last > 0 && task_find(d.last) != NULL) {
		/* The no-overlap rule holds for a run by hand as for a due one (DESIGN §13). */
		*code = ERR_CONFLICT;
		snprintf(err, errlen, "schedule '%s' has an unfinished task (%lld): wait for it "
		    "or cancel it first", name, (long long)d.last);
	} else if ((t = template_task(&d, code, err, errlen)) != NULL) {
		char why[512];

		/* Recorded as the last task in the task's own transaction; next_run stays. */
		f.name = name;
		f.next = d.next;
		f.now = now;
		if ((id = task_submit_with(t, record_run, &f, why, sizeof why)) < 0) {
			*code = ERR_INTERNAL;
			snprintf(err, errlen, "%s", why);
		} else
			log_info("schedule %s run by hand: task %lld", name, (long long)id);
	}
	due_free(&d);
	return id;
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
			fire(&due.at[i], now);
			due_free(&due.at[i]);
		}
		if (store_schedules_next_due(D->store, &next_due_cache) <= 0)
			next_due_cache = INT64_MAX;
	}
	D->sched_next_due = next_due_cache == INT64_MAX ? 0 : next_due_cache;
	prune(now);
}
