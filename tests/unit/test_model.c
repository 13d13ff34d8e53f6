/* test_model.c: depot-console's model without a screen or a daemon: events applied, re-reads after dropped events, filters, search, sorting, rates, repositories, why a task waits, formats and the log tail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "timeutil.h"

/* The daemon objects linked into every unit test refer to the daemon's global. */
struct depotd *D;

static cJSON *parse(const char *json);
static char *task_json(int64_t id, const char *state, const char *name, const char *extra);
static void event(struct model *m, const char *topic, const char *body);
static void task_event(struct model *m, int64_t id, const char *state, const char *name,
    const char *extra);
static void snapshot(struct model *m, const char *active, const char *recent,
    const char *failed, const char *locks, int64_t now);
static const struct model_lock *lock_of(const struct model *m, const char *res);
static size_t rows(const struct model *m, enum model_filter f, const char *q, int64_t *ids,
    size_t max);
static size_t sorted(const struct model *m, enum model_sort sort, int reverse, int64_t *ids,
    size_t max);
static int64_t at(const char *rfc3339);
static int setup(void **state);
static int teardown(void **state);

static cJSON *parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	if (j == NULL)
		fail_msg("test JSON does not parse: %s", json);
	return j;
}

/*
 * A task as the daemon sends it, as JSON text (valid until the next call);
 * extra holds members that replace or add to the usual ones
 * ("\"stalled\": true").
 */
static char *task_json_text;

static char *task_json(int64_t id, const char *state, const char *name, const char *extra)
{
	char base[2048], more[4096];
	cJSON *t, *x, *item;

	snprintf(base, sizeof base,
	    "{\"id\": %lld, \"type\": \"exec\", \"name\": \"%s\", \"state\": \"%s\","
	    " \"resources\": [{\"name\": \"host:%s\", \"mode\": \"exclusive\"}],"
	    " \"worker\": %s, \"created_at\": \"2026-11-24T20:00:00.000Z\","
	    " \"started_at\": null, \"finished_at\": null, \"timeout\": null,"
	    " \"progress\": {\"done\": 0, \"total\": null, \"unit\": \"bytes\", \"message\": null},"
	    " \"stalled\": false, \"error\": null, \"result\": null}",
	    (long long)id, name, state, name, strcmp(state, "waiting") == 0 ? "null" : "\"w1\"");
	snprintf(more, sizeof more, "{%s}", extra ? extra : "");
	t = parse(base);
	x = parse(more);
	while ((item = x->child) != NULL) {
		cJSON_DetachItemViaPointer(x, item);
		cJSON_DeleteItemFromObjectCaseSensitive(t, item->string);
		cJSON_AddItemToObject(t, item->string, item);
	}
	cJSON_Delete(x);
	free(task_json_text);
	task_json_text = cJSON_PrintUnformatted(t);
	cJSON_Delete(t);
	return task_json_text;
}

/* One message of the events socket, "topic {json}", applied. */
static void event(struct model *m, const char *topic, const char *body)
{
	char msg[8192];
	int n = snprintf(msg, sizeof msg, "%s %s", topic, body);

	assert_true(model_apply_message(m, msg, (size_t)n) >= 0);
}

static void task_event(struct model *m, int64_t id, const char *state, const char *name,
    const char *extra)
{
	char body[8192];

	snprintf(body, sizeof body, "{\"topic\": \"task\", \"event\": \"state\", \"task\": %s}",
	    task_json(id, state, name, extra));
	event(m, "task", body);
}

static void snapshot(struct model *m, const char *active, const char *recent,
    const char *failed, const char *locks, int64_t now)
{
	cJSON *a = parse(active), *r = parse(recent), *f = parse(failed);
	cJSON *l = locks ? parse(locks) : NULL;
	struct model_snapshot s = { .active = a, .recent = r, .failed = f, .locks = l };

	model_apply_snapshot(m, &s, now);
	cJSON_Delete(a);
	cJSON_Delete(r);
	cJSON_Delete(f);
	cJSON_Delete(l);
}

static const struct model_lock *lock_of(const struct model *m, const char *res)
{
	for (size_t i = 0; i < m->nlocks; i++)
		if (strcmp(m->locks[i].resource, res) == 0)
			return &m->locks[i];
	return NULL;
}

/* The ids the tasks pane would list, in order. */
static size_t rows(const struct model *m, enum model_filter f, const char *q, int64_t *ids,
    size_t max)
{
	struct model_rows_spec spec = { .filter = f, .query = q };
	struct model_task **r;
	size_t n = model_task_rows(m, &spec, &r);

	for (size_t i = 0; i < n && i < max; i++)
		ids[i] = r[i]->id;
	free(r);
	return n;
}

/* The ids of every task, in the order of that column. */
static size_t sorted(const struct model *m, enum model_sort sort, int reverse, int64_t *ids,
    size_t max)
{
	struct model_rows_spec spec = { .filter = MODEL_FILTER_ALL, .sort = sort, .reverse = reverse };
	struct model_task **r;
	size_t n = model_task_rows(m, &spec, &r);

	for (size_t i = 0; i < n && i < max; i++)
		ids[i] = r[i]->id;
	free(r);
	return n;
}

static int64_t at(const char *rfc3339)
{
	int64_t ms;

	assert_int_equal(time_parse_rfc3339(rfc3339, &ms), 0);
	return ms;
}

static int setup(void **state)
{
	struct model *m = calloc(1, sizeof *m);

	model_init(m);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	free(task_json_text);
	task_json_text = NULL;
	model_free(*state);
	free(*state);
	return 0;
}

static void test_event_adds_a_task_and_its_state_changes_replace_it(void **state)
{
	struct model *m = *state;
	struct model_task *t;

	task_event(m, 7, "waiting", "db1", NULL);
	assert_int_equal(m->ntasks, 1);
	t = model_task(m, 7);
	assert_non_null(t);
	assert_int_equal(t->state, TASK_WAITING);
	assert_string_equal(t->name, "db1");
	assert_string_equal(t->res_text, "host:db1");
	assert_null(t->worker);

	task_event(m, 7, "running", "db1", "\"started_at\": \"2026-11-24T20:00:01.000Z\"");
	t = model_task(m, 7);
	assert_int_equal(t->state, TASK_RUNNING);
	assert_string_equal(t->worker, "w1");
	assert_true(t->started_ms > t->created_ms);
	assert_int_equal(m->ntasks, 1);
}

static void test_progress_event_updates_progress_and_the_stalled_mark(void **state)
{
	struct model *m = *state;
	struct model_task *t;
	char text[64];

	task_event(m, 3, "running", "sync",
	    "\"progress\": {\"done\": 120, \"total\": 300, \"unit\": \"files\", \"message\": \"1 MiB\"}");
	t = model_task(m, 3);
	model_fmt_progress(t, text, sizeof text);
	assert_string_equal(text, "120/300 files");
	assert_false(t->stalled);

	task_event(m, 3, "running", "sync",
	    "\"progress\": {\"done\": 120, \"total\": 300, \"unit\": \"files\"}, \"stalled\": true");
	t = model_task(m, 3);
	assert_true(t->stalled);
	{
		struct model_counts c;

		model_counts(m, &c);
		assert_int_equal(c.stalled, 1);
		assert_int_equal(c.running, 1);
	}
}

static void test_a_late_event_never_moves_a_task_back(void **state)
{
	struct model *m = *state;

	task_event(m, 4, "running", "x", NULL);
	task_event(m, 4, "completed", "x", "\"finished_at\": \"2026-11-24T20:00:09.000Z\"");
	/* Sent before the completion, received after: stale. */
	task_event(m, 4, "running", "x", NULL);
	assert_int_equal(model_task(m, 4)->state, TASK_COMPLETED);
	task_event(m, 4, "canceling", "x", NULL);
	assert_int_equal(model_task(m, 4)->state, TASK_COMPLETED);
	assert_int_equal(m->ignored, 2);

	/* Nor from canceling back to running. */
	task_event(m, 5, "canceling", "y", NULL);
	task_event(m, 5, "running", "y", NULL);
	assert_int_equal(model_task(m, 5)->state, TASK_CANCELING);
}

static void test_worker_events_update_one_worker_and_keep_the_order_natural(void **state)
{
	struct model *m = *state;
	cJSON *list = parse("[{\"name\": \"w10\", \"pid\": 10, \"state\": \"online\", \"supervised\": true, \"task\": null},"
	    " {\"name\": \"w2\", \"pid\": 2, \"state\": \"online\", \"supervised\": true, \"task\": 5},"
	    " {\"name\": \"hand\", \"pid\": 9, \"state\": \"online\", \"supervised\": false, \"task\": null}]");
	struct model_counts c;

	model_set_workers(m, list);
	cJSON_Delete(list);
	assert_int_equal(m->nworkers, 3);
	assert_string_equal(m->workers[0].name, "w2");
	assert_string_equal(m->workers[1].name, "w10");
	assert_string_equal(m->workers[2].name, "hand");
	assert_int_equal(m->workers[0].task, 5);

	event(m, "worker", "{\"topic\": \"worker\", \"event\": \"state\", \"worker\":"
	    " {\"name\": \"w2\", \"pid\": 2, \"state\": \"missing\", \"supervised\": true, \"task\": null}}");
	assert_string_equal(model_worker(m, "w2")->state, "missing");
	assert_int_equal(model_worker(m, "w2")->task, 0);
	model_counts(m, &c);
	assert_int_equal(c.workers_online, 2);
	assert_int_equal(c.workers_total, 3);
}

/* A slot is neither exclusive nor shared: the console names it as the daemon does. */
static void test_slot_reservations_are_named_slots(void **state)
{
	struct model *m = *state;
	const struct model_task *t;
	const struct model_lock *l;

	task_event(m, 1, "waiting", "x", "\"resources\": [{\"name\": \"gpu\", \"mode\": \"slot\"},"
	    " {\"name\": \"db\", \"mode\": \"shared\"}, {\"name\": \"h\", \"mode\": \"exclusive\"}]");
	event(m, "lock", "{\"topic\": \"lock\", \"event\": \"grant\", \"task\": 1, \"resources\": [\"depot\", \"gpu\", \"db\", \"h\"]}");
	t = model_task(m, 1);
	assert_non_null(t);
	assert_string_equal(t->res_text, "gpu (slot), db (shared), h");
	l = lock_of(m, "gpu");
	assert_non_null(l);
	assert_int_equal(l->holders[0].mode, LOCK_SLOT);
}

static void test_reservations_follow_task_and_lock_events(void **state)
{
	struct model *m = *state;
	const struct model_lock *l;
	struct model_counts c;

	/* A holder and one waiting behind it on host:db1. */
	task_event(m, 1, "waiting", "db1", NULL);
	event(m, "lock", "{\"topic\": \"lock\", \"event\": \"grant\", \"task\": 1, \"resources\": [\"depot\", \"host:db1\"]}");
	task_event(m, 1, "running", "db1", NULL);
	task_event(m, 2, "waiting", "db1", NULL);
	l = lock_of(m, "host:db1");
	assert_non_null(l);
	assert_int_equal(l->nholders, 1);
	assert_int_equal(l->holders[0].task, 1);
	assert_int_equal(l->holders[0].mode, LOCK_EXCLUSIVE);
	assert_int_equal(l->nwaiting, 1);
	assert_int_equal(l->waiting[0].task, 2);
	l = lock_of(m, "depot");
	assert_non_null(l);
	assert_int_equal(l->holders[0].mode, LOCK_SHARED);
	model_counts(m, &c);
	assert_int_equal(c.held, 1);		/* the implicit shared `depot` is not counted */
	assert_int_equal(c.waiters, 1);		/* task 2, once, though it waits on two queues */

	/* 1 ends: released; 2 is granted. */
	event(m, "lock", "{\"topic\": \"lock\", \"event\": \"release\", \"task\": 1, \"resources\": [\"depot\", \"host:db1\"]}");
	task_event(m, 1, "completed", "db1", NULL);
	event(m, "lock", "{\"topic\": \"lock\", \"event\": \"grant\", \"task\": 2, \"resources\": [\"depot\", \"host:db1\"]}");
	l = lock_of(m, "host:db1");
	assert_int_equal(l->nholders, 1);
	assert_int_equal(l->holders[0].task, 2);
	assert_int_equal(l->nwaiting, 0);

	/* 2 ends with its release event lost: its final state releases it anyway. */
	task_event(m, 2, "failed", "db1", NULL);
	assert_null(lock_of(m, "host:db1"));
	assert_null(lock_of(m, "depot"));
}

static void test_a_reread_replaces_what_lost_events_left_wrong(void **state)
{
	struct model *m = *state;
	int64_t ids[8];

	model_set_up(m, 1000);
	snapshot(m, "[]", "[]", "[]", "[]", 1000);
	task_event(m, 5, "running", "five", NULL);
	task_event(m, 7, "running", "seven", NULL);
	assert_false(model_resync_due(m, 1100));

	/* The connection drops: whatever happened meanwhile was not heard. */
	model_set_down(m, "cannot connect", 2000);
	assert_false(m->up);
	assert_false(model_resync_due(m, 2100));	/* nobody to ask */
	model_set_up(m, 2200);
	assert_true(model_resync_due(m, 2200));		/* at once, however recent the last */

	/* Meanwhile 5 completed, 7 failed and 6 was submitted. */
	{
		char active[4096], recent[8192], failed[4096];

		snprintf(active, sizeof active, "[%s]", task_json(6, "waiting", "six", NULL));
		snprintf(recent, sizeof recent, "[%s,", task_json(7, "failed", "seven",
		    "\"error\": {\"reason\": \"exit-status\", \"message\": \"exited with status 3\"}"));
		snprintf(recent + strlen(recent), sizeof recent - strlen(recent), "%s,",
		    task_json(6, "waiting", "six", NULL));
		snprintf(recent + strlen(recent), sizeof recent - strlen(recent), "%s]",
		    task_json(5, "completed", "five", NULL));
		snprintf(failed, sizeof failed, "[%s]", task_json(7, "failed", "seven",
		    "\"error\": {\"reason\": \"exit-status\", \"message\": \"exited with status 3\"}"));
		snapshot(m, active, recent, failed, "[]", 2200);
	}
	assert_false(model_resync_due(m, 2201));
	assert_int_equal(model_task(m, 5)->state, TASK_COMPLETED);
	assert_int_equal(model_task(m, 7)->state, TASK_FAILED);
	assert_string_equal(model_task(m, 7)->err_reason, "exit-status");
	assert_int_equal(rows(m, MODEL_FILTER_ACTIVE, NULL, ids, 8), 1);
	assert_int_equal(ids[0], 6);
	assert_int_equal(rows(m, MODEL_FILTER_FAILED, NULL, ids, 8), 1);
	assert_int_equal(ids[0], 7);
}

static void test_a_reread_drops_a_task_the_daemon_no_longer_lists(void **state)
{
	struct model *m = *state;

	task_event(m, 9, "running", "ghost", NULL);
	snapshot(m, "[]", "[]", "[]", "[]", 10);
	assert_null(model_task(m, 9));
	assert_int_equal(m->ntasks, 0);
}

static void test_lists_read_one_after_the_other_keep_the_newest_state(void **state)
{
	struct model *m = *state;
	char active[4096], recent[4096];

	/* active was read while 3 ran; recent a moment later, after it completed. */
	snprintf(active, sizeof active, "[%s]", task_json(3, "running", "t", NULL));
	snprintf(recent, sizeof recent, "[%s]", task_json(3, "completed", "t", NULL));
	snapshot(m, active, recent, "[]", NULL, 10);
	assert_int_equal(model_task(m, 3)->state, TASK_COMPLETED);
	assert_int_equal(m->ntasks, 1);
}

static void test_a_burst_of_events_may_have_overflowed_pub_and_asks_for_a_reread(void **state)
{
	struct model *m = *state;

	model_set_up(m, 0);
	snapshot(m, "[]", "[]", "[]", "[]", 1000);
	model_note_drain(m, MODEL_BURST_EVENTS - 1);
	assert_false(model_resync_due(m, 1001));
	model_note_drain(m, MODEL_BURST_EVENTS);
	/* Soon, but not at once after the last one: a steady flood must not mean a re-read a tick. */
	assert_false(model_resync_due(m, 1001));
	assert_true(model_resync_due(m, 1000 + MODEL_RESYNC_MIN_MS));
}

static void test_a_reread_is_due_every_few_seconds_as_a_safety_net(void **state)
{
	struct model *m = *state;

	model_set_up(m, 0);
	snapshot(m, "[]", "[]", "[]", "[]", 1000);
	assert_false(model_resync_due(m, 1000 + MODEL_RESYNC_MS - 1));
	assert_true(model_resync_due(m, 1000 + MODEL_RESYNC_MS));
}

static void test_down_keeps_the_time_it_went_down_and_the_latest_reason(void **state)
{
	struct model *m = *state;

	model_set_up(m, 0);
	model_set_down(m, "no reply", 500);
	model_set_down(m, "cannot connect: Connection refused", 1500);
	assert_int_equal(m->down_since, 500);
	assert_string_equal(m->down_reason, "cannot connect: Connection refused");
	assert_true(m->ever_up);
}

static void test_filters_and_search_narrow_the_rows_running_first_then_the_queue(void **state)
{
	struct model *m = *state;
	int64_t ids[16];

	task_event(m, 1, "completed", "alpha", NULL);
	task_event(m, 2, "failed", "beta", NULL);
	task_event(m, 3, "waiting", "gamma", NULL);
	task_event(m, 4, "running", "delta", NULL);
	task_event(m, 5, "waiting", "epsilon", NULL);
	task_event(m, 6, "canceled", "zeta", NULL);
	task_event(m, 12, "running", "sleep 5", NULL);

	assert_int_equal(rows(m, MODEL_FILTER_ACTIVE, NULL, ids, 16), 4);
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[1], 12);
	assert_int_equal(ids[2], 3);	/* the queue in order */
	assert_int_equal(ids[3], 5);
	assert_int_equal(rows(m, MODEL_FILTER_FAILED, NULL, ids, 16), 1);
	assert_int_equal(ids[0], 2);
	assert_int_equal(rows(m, MODEL_FILTER_ALL, NULL, ids, 16), 7);
	assert_int_equal(ids[4], 6);	/* finished ones newest first */
	assert_int_equal(ids[6], 1);

	/* By name, case-insensitive. */
	assert_int_equal(rows(m, MODEL_FILTER_ALL, "GAM", ids, 16), 1);
	assert_int_equal(ids[0], 3);
	/* By resource. */
	assert_int_equal(rows(m, MODEL_FILTER_ALL, "host:delta", ids, 16), 1);
	assert_int_equal(ids[0], 4);
	/* By id: "#5" is that id only; "5" also finds names holding it. */
	assert_int_equal(rows(m, MODEL_FILTER_ALL, "#5", ids, 16), 1);
	assert_int_equal(ids[0], 5);
	assert_int_equal(rows(m, MODEL_FILTER_ALL, "5", ids, 16), 2);
	/* Search and filter together. */
	assert_int_equal(rows(m, MODEL_FILTER_ACTIVE, "alpha", ids, 16), 0);
	assert_int_equal(rows(m, MODEL_FILTER_ALL, "  ", ids, 16), 7);
}

static void test_unreadable_messages_are_refused_and_a_topic_can_come_from_the_prefix(void **state)
{
	struct model *m = *state;
	char msg[4096];
	int n;

	assert_int_equal(model_apply_message(m, "task", 4), -1);
	assert_int_equal(model_apply_message(m, "task {not json", 14), -1);
	assert_int_equal(model_apply_message(m, "task {}", 7), 1);
	n = snprintf(msg, sizeof msg, "task {\"event\": \"state\", \"task\": %s}",
	    task_json(8, "waiting", "q", NULL));
	assert_int_equal(model_apply_message(m, msg, (size_t)n), 0);
	assert_non_null(model_task(m, 8));
}

static void test_finished_tasks_beyond_the_limit_go_oldest_first(void **state)
{
	struct model *m = *state;

	task_event(m, 1, "running", "keep", NULL);
	for (int64_t id = 2; id < 2 + MODEL_KEEP_FINAL + 10; id++)
		task_event(m, id, "completed", "done", NULL);
	assert_int_equal(m->nfinal, MODEL_KEEP_FINAL);
	assert_non_null(model_task(m, 1));	/* active ones always stay */
	assert_null(model_task(m, 2));
	assert_null(model_task(m, 11));
	assert_non_null(model_task(m, 12));
}

static void test_status_schedules_and_uptime(void **state)
{
	struct model *m = *state;
	cJSON *st = parse("{\"healthy\": false, \"problems\": [\"worker w1 is missing\", \"x\"],"
	    " \"daemon\": {\"version\": \"0.1.0\", \"pid\": 42, \"uptime_ms\": 5000, \"data_dir\": \"/d\"},"
	    " \"locks\": {\"held\": 1, \"waiting\": 2, \"running\": 1}}");
	cJSON *sc = parse("[{\"name\": \"nightly\", \"every_ms\": 86400000, \"enabled\": true,"
	    " \"template\": {\"type\": \"sync\", \"repository\": \"fedora\"},"
	    " \"next_run\": \"2026-11-25T00:00:00.000Z\", \"last_run\": null,"
	    " \"last_task\": {\"id\": 42, \"state\": \"completed\"}, \"skipped\": 1},"
	    " {\"name\": \"tick\", \"every_ms\": 1000, \"enabled\": false,"
	    " \"template\": {\"type\": \"exec\", \"argv\": [\"echo\", \"hi\"]}, \"last_task\": null},"
	    " {\"name\": \"weekdays\", \"every_ms\": null, \"calendar\": \"Mon..Fri 02:00\","
	    " \"tz\": \"Europe/Berlin\", \"template\": {\"type\": \"backup\"}},"
	    " {\"name\": \"daily\", \"every_ms\": null, \"calendar\": \"daily\", \"tz\": null,"
	    " \"template\": {\"type\": \"orphans\"}}]");

	model_set_up(m, 0);
	model_set_status(m, st, 1000);
	assert_false(m->status.healthy);
	assert_string_equal(m->status.problems, "worker w1 is missing; x");
	assert_int_equal(model_uptime(m, 3000), 7000);
	model_set_down(m, "gone", 4000);
	assert_int_equal(model_uptime(m, 9000), 5000);	/* frozen while down */

	model_set_schedules(m, sc);
	assert_int_equal(m->nscheds, 4);
	assert_null(m->scheds[0].calendar);
	/* A calendar schedule: its expression and zone, as schedule add takes them; any task type. */
	assert_string_equal(m->scheds[2].calendar, "Mon..Fri 02:00 Europe/Berlin");
	assert_string_equal(m->scheds[2].what, "backup");
	assert_string_equal(m->scheds[3].calendar, "daily");
	assert_string_equal(m->scheds[3].what, "orphans");
	assert_string_equal(m->scheds[0].what, "sync fedora");
	assert_int_equal(m->scheds[0].last_task, 42);
	assert_string_equal(m->scheds[0].last_state, "completed");
	assert_string_equal(m->scheds[1].what, "run: echo hi");
	assert_false(m->scheds[1].enabled);
	cJSON_Delete(st);
	cJSON_Delete(sc);
}

static void test_progress_and_age_formats(void **state)
{
	struct model_task t = { 0 };
	char buf[64];

	(void)state;
	model_fmt_progress(&t, buf, sizeof buf);
	assert_string_equal(buf, "-");
	t.has_done = 1;
	t.done = 1536;
	t.unit = "bytes";
	model_fmt_progress(&t, buf, sizeof buf);
	assert_string_equal(buf, "1.5KiB");
	t.has_total = 1;
	t.total = 3072;
	model_fmt_progress(&t, buf, sizeof buf);
	assert_string_equal(buf, "1.5KiB/3.0KiB");
	t.unit = NULL;
	t.done = 3;
	t.total = 0;
	model_fmt_progress(&t, buf, sizeof buf);
	assert_string_equal(buf, "3/0");

	model_fmt_age(0, buf, sizeof buf);
	assert_string_equal(buf, "0s");
	model_fmt_age(59999, buf, sizeof buf);
	assert_string_equal(buf, "59s");
	model_fmt_age(182000, buf, sizeof buf);
	assert_string_equal(buf, "3m02");
	model_fmt_age(2 * 3600000 + 5 * 60000, buf, sizeof buf);
	assert_string_equal(buf, "2h05");
	model_fmt_age(3 * 86400000LL + 4 * 3600000, buf, sizeof buf);
	assert_string_equal(buf, "3d04");
}

static void test_text_is_fitted_to_cells_never_past_the_width(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(model_text_fit("hello", 10, 0, out, sizeof out), 5);
	assert_string_equal(out, "hello");
	assert_int_equal(model_text_fit("hello world", 5, 0, out, sizeof out), 5);
	assert_string_equal(out, "hell~");
	assert_int_equal(model_text_fit("hello world", 5, 1, out, sizeof out), 5);
	assert_string_equal(out, "hell\xe2\x80\xa6");
	/* Control characters show as '?', a tab as a space. */
	assert_int_equal(model_text_fit("a\x1b[2Jb\tc", 20, 1, out, sizeof out), 8);
	assert_string_equal(out, "a?[2Jb c");
	/* Outside UTF-8, each non-ASCII byte is one '?'. */
	assert_int_equal(model_text_fit("\xc3\xa9t\xc3\xa9", 10, 0, out, sizeof out), 5);
	/* In UTF-8, "été" is three cells; a wide character takes two. */
	assert_int_equal(model_text_width("\xc3\xa9t\xc3\xa9", 1), 3);
	assert_int_equal(model_text_width("\xe6\x97\xa5\xe6\x9c\xac", 1), 4);
	assert_int_equal(model_text_fit("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, 1, out, sizeof out), 3);
	assert_string_equal(out, "\xe6\x97\xa5\xe2\x80\xa6");
	/* A broken sequence is one '?' a byte, never a crash. */
	assert_int_equal(model_text_fit("\xe6\x97", 10, 1, out, sizeof out), 2);
	assert_string_equal(out, "??");
	/* Nothing at all for no room; the buffer's size is respected too. */
	assert_int_equal(model_text_fit("abc", 0, 1, out, sizeof out), 0);
	assert_int_equal(model_text_fit("abcdef", 10, 0, out, 4), 3);
	assert_string_equal(out, "ab~");
	assert_int_equal(model_text_prefix("abc def", 4, 0), 4);
	assert_int_equal(model_text_prefix("\xc3\xa9\xc3\xa9", 1, 1), 2);
}

static void test_log_keeps_the_last_lines_and_the_line_being_written(void **state)
{
	struct model_log l;
	cJSON *r;
	int64_t off, max;

	(void)state;
	model_log_init(&l, 3);
	model_log_request(&l, &off, &max);
	assert_int_equal(off, 0);
	r = parse("{\"data\": \"one\\ntwo\\r\\nthr\", \"offset\": 12, \"size\": 12, \"final\": false}");
	assert_int_equal(model_log_apply(&l, r), 1);
	cJSON_Delete(r);
	assert_int_equal(model_log_count(&l), 3);
	assert_string_equal(model_log_line(&l, 0), "one");
	assert_string_equal(model_log_line(&l, 1), "two");
	assert_string_equal(model_log_line(&l, 2), "thr");
	model_log_request(&l, &off, &max);
	assert_int_equal(off, 12);

	r = parse("{\"data\": \"ee\\n\", \"offset\": 15, \"size\": 15, \"final\": true}");
	model_log_apply(&l, r);
	cJSON_Delete(r);
	assert_true(l.final);
	assert_int_equal(model_log_count(&l), 3);
	assert_string_equal(model_log_line(&l, 2), "three");
	model_log_free(&l);
}

static void test_log_of_a_long_task_is_read_from_its_tail_and_the_ring_keeps_the_newest(void **state)
{
	struct model_log l;
	cJSON *r;
	char *data;
	int64_t off, max;
	size_t n = 0;

	(void)state;
	model_log_init(&l, 3);
	/* The first read finds a log longer than the tail: it jumps there, mid-line. */
	r = parse("{\"data\": \"head\\n\", \"offset\": 16384, \"size\": 1000000, \"final\": false}");
	model_log_apply(&l, r);
	cJSON_Delete(r);
	model_log_request(&l, &off, &max);
	assert_int_equal(off, 1000000 - MODEL_LOG_TAIL);
	assert_int_equal(model_log_count(&l), 1);	/* the note of what was skipped */
	assert_non_null(strstr(model_log_line(&l, 0), "not shown"));
	r = parse("{\"data\": \"rest of a line\\nfull line\\n\", \"offset\": 983642, \"size\": 983642, \"final\": false}");
	model_log_apply(&l, r);
	cJSON_Delete(r);
	assert_int_equal(model_log_count(&l), 2);
	assert_string_equal(model_log_line(&l, 1), "full line");

	/* More lines than the ring holds: the oldest go. */
	data = malloc(20 * (MODEL_LOG_LINES + 10) + 1);
	for (int i = 0; i < MODEL_LOG_LINES + 10; i++)
		n += (size_t)sprintf(data + n, "line %d\n", i);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "data", data);
	cJSON_AddNumberToObject(r, "offset", 983642 + (double)n);
	cJSON_AddNumberToObject(r, "size", 983642 + (double)n);
	cJSON_AddBoolToObject(r, "final", 0);
	model_log_apply(&l, r);
	cJSON_Delete(r);
	free(data);
	assert_int_equal(model_log_count(&l), MODEL_LOG_LINES);
	{
		char last[32];

		snprintf(last, sizeof last, "line %d", MODEL_LOG_LINES + 9);
		assert_string_equal(model_log_line(&l, MODEL_LOG_LINES - 1), last);
	}
	model_log_free(&l);
}

static void test_the_default_filter_keeps_tasks_that_ended_in_the_last_minutes(void **state)
{
	struct model *m = *state;
	int64_t now = at("2026-11-24T21:00:00.000Z"), ids[8];
	struct model_rows_spec spec = { .filter = MODEL_FILTER_ACTIVE, .recent_ms = MODEL_RECENT_MS,
		.now = now };
	struct model_task **r;
	size_t n;
	char label[32];

	task_event(m, 1, "completed", "synced long ago", "\"finished_at\": \"2026-11-24T20:50:00.000Z\"");
	task_event(m, 2, "completed", "sync", "\"finished_at\": \"2026-11-24T20:59:00.000Z\"");
	task_event(m, 3, "failed", "publish", "\"finished_at\": \"2026-11-24T20:55:00.000Z\"");
	task_event(m, 4, "running", "tick", NULL);
	/* A final task without an end time is not counted as recent. */
	task_event(m, 5, "canceled", "no end", NULL);

	n = model_task_rows(m, &spec, &r);
	assert_int_equal(n, 3);
	assert_int_equal(r[0]->id, 4);	/* running first */
	assert_int_equal(r[1]->id, 3);	/* then ended ones, newest id first */
	assert_int_equal(r[2]->id, 2);
	free(r);
	/* Exactly 5 minutes ago is still in; a moment more is out. */
	assert_true(model_filter_task(MODEL_FILTER_ACTIVE, model_task(m, 3), MODEL_RECENT_MS, now));
	assert_false(model_filter_task(MODEL_FILTER_ACTIVE, model_task(m, 3), MODEL_RECENT_MS,
	    now + 1));
	/* Without the window (--recent 0) the active filter is active tasks alone. */
	assert_int_equal(rows(m, MODEL_FILTER_ACTIVE, NULL, ids, 8), 1);
	/* Other filters do not look at the window. */
	assert_false(model_filter_task(MODEL_FILTER_FAILED, model_task(m, 2), MODEL_RECENT_MS, now));

	model_filter_label(MODEL_FILTER_ACTIVE, MODEL_RECENT_MS, label, sizeof label);
	assert_string_equal(label, "active+5m");
	model_filter_label(MODEL_FILTER_ACTIVE, 90000, label, sizeof label);
	assert_string_equal(label, "active+1m30");
	model_filter_label(MODEL_FILTER_ACTIVE, 0, label, sizeof label);
	assert_string_equal(label, "active");
	model_filter_label(MODEL_FILTER_ALL, MODEL_RECENT_MS, label, sizeof label);
	assert_string_equal(label, "all");
}

static void test_sorting_by_a_column_ties_in_queue_order_and_reversed(void **state)
{
	struct model *m = *state;
	int64_t ids[8];

	task_event(m, 1, "completed", "bravo", "\"type\": \"sync\", \"started_at\": "
	    "\"2026-11-24T20:00:01.000Z\", \"finished_at\": \"2026-11-24T20:05:00.000Z\","
	    " \"progress\": {\"done\": 3, \"total\": 3, \"unit\": \"files\"}");
	task_event(m, 2, "running", "alpha", "\"worker\": \"w10\", \"started_at\": "
	    "\"2026-11-24T20:01:00.000Z\", \"progress\": {\"done\": 1, \"total\": 4}");
	task_event(m, 3, "running", "Charlie", "\"worker\": \"w2\", \"started_at\": "
	    "\"2026-11-24T20:02:00.000Z\", \"progress\": {\"done\": 3, \"total\": 4}");
	task_event(m, 4, "waiting", "alpha", "\"resources\": []");

	/* The queue's order: running, waiting, ended. */
	assert_int_equal(sorted(m, MODEL_SORT_QUEUE, 0, ids, 8), 4);
	assert_int_equal(ids[0], 2);
	assert_int_equal(ids[2], 4);
	assert_int_equal(ids[3], 1);
	/* Reversed, the queue's order turns round. */
	sorted(m, MODEL_SORT_QUEUE, 1, ids, 8);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[3], 2);

	sorted(m, MODEL_SORT_ID, 0, ids, 8);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[3], 4);
	sorted(m, MODEL_SORT_ID, 1, ids, 8);
	assert_int_equal(ids[0], 4);

	/* Names without regard to case; equal names in the queue's order (running 2 before waiting 4). */
	sorted(m, MODEL_SORT_NAME, 0, ids, 8);
	assert_int_equal(ids[0], 2);
	assert_int_equal(ids[1], 4);
	assert_int_equal(ids[2], 1);
	assert_int_equal(ids[3], 3);
	/* Reversed: the column turns round, ties keep the queue's order. */
	sorted(m, MODEL_SORT_NAME, 1, ids, 8);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[2], 2);
	assert_int_equal(ids[3], 4);

	/* Workers as versions (w2 before w10); a task without one last, reversed or not. */
	sorted(m, MODEL_SORT_WORKER, 0, ids, 8);
	assert_int_equal(ids[0], 1);	/* w1 */
	assert_int_equal(ids[1], 3);	/* w2 */
	assert_int_equal(ids[2], 2);	/* w10 */
	assert_int_equal(ids[3], 4);
	sorted(m, MODEL_SORT_WORKER, 1, ids, 8);
	assert_int_equal(ids[0], 2);
	assert_int_equal(ids[3], 4);

	/* Resources: a task reserving none last. */
	sorted(m, MODEL_SORT_RES, 0, ids, 8);
	assert_int_equal(ids[3], 4);

	/* Progress: furthest along first, none last. */
	sorted(m, MODEL_SORT_PROGRESS, 0, ids, 8);
	assert_int_equal(ids[0], 1);	/* 3/3 */
	assert_int_equal(ids[1], 3);	/* 3/4 */
	assert_int_equal(ids[2], 2);	/* 1/4 */
	assert_int_equal(ids[3], 4);

	/*
	 * Age: the longest first. 4 waits since 20:00:00, 2 runs since 20:01,
	 * 3 since 20:02, 1 ended at 20:05.
	 */
	sorted(m, MODEL_SORT_AGE, 0, ids, 8);
	assert_int_equal(ids[0], 4);
	assert_int_equal(ids[1], 2);
	assert_int_equal(ids[2], 3);
	assert_int_equal(ids[3], 1);

	sorted(m, MODEL_SORT_TYPE, 0, ids, 8);
	assert_int_equal(ids[0], 2);	/* exec, exec, exec, sync */
	assert_int_equal(ids[3], 1);
	sorted(m, MODEL_SORT_STATE, 0, ids, 8);
	assert_int_equal(ids[0], 4);	/* waiting, running, running, completed */
	assert_int_equal(ids[3], 1);
	assert_string_equal(model_sort_name(MODEL_SORT_PROGRESS), "progress");
}

static void test_rate_and_eta_come_from_progress_samples(void **state)
{
	struct model *m = *state;
	struct model_task *t;
	char buf[64];

	/* The model samples every running task as the loop turns (share/rate.c does the sums). */
	task_event(m, 7, "running", "sync fedora", "\"progress\": {\"done\": 100, \"total\": 1000,"
	    " \"unit\": \"files\"}");
	task_event(m, 8, "waiting", "queued", NULL);
	model_rate_sample(m, 1000);
	assert_true(model_task_rate(m, 7) < 0);	/* one sample tells nothing */
	task_event(m, 7, "running", "sync fedora", "\"progress\": {\"done\": 150, \"total\": 1000,"
	    " \"unit\": \"files\"}");
	model_rate_sample(m, 2000);
	/* Between progress reports the count stands still: samples of it do not bend the rate much. */
	model_rate_sample(m, 2500);
	task_event(m, 7, "running", "sync fedora", "\"progress\": {\"done\": 200, \"total\": 1000,"
	    " \"unit\": \"files\"}");
	model_rate_sample(m, 3000);
	assert_int_equal(m->nrates, 1);	/* the running task only */
	assert_true(model_task_rate(m, 7) > 49.99 && model_task_rate(m, 7) < 50.01);
	assert_true(model_task_rate(m, 8) < 0);
	t = model_task(m, 7);
	assert_int_equal(model_task_eta(m, t), 16000);	/* 800 files left at 50/s */
	model_fmt_rate_eta(m, t, buf, sizeof buf);
	assert_string_equal(buf, "50 files/s, ETA 16s");
	/* Without a total: the rate alone. */
	t->has_total = 0;
	assert_int_equal(model_task_eta(m, t), -1);
	model_fmt_rate_eta(m, t, buf, sizeof buf);
	assert_string_equal(buf, "50 files/s");
	t->has_total = 1;

	/* A re-read replaces the task: its samples stay, as they are the console's, not the daemon's. */
	snapshot(m, "[]", "[]", "[]", NULL, 3500);
	task_event(m, 7, "running", "sync fedora", "\"progress\": {\"done\": 250, \"total\": 1000,"
	    " \"unit\": \"files\"}");
	model_rate_sample(m, 4000);
	assert_true(model_task_rate(m, 7) > 49.99 && model_task_rate(m, 7) < 50.01);

	/* Ended: its samples go, and no rate is shown. */
	task_event(m, 7, "completed", "sync fedora", NULL);
	model_rate_sample(m, 5000);
	assert_int_equal(m->nrates, 0);
	model_fmt_rate_eta(m, model_task(m, 7), buf, sizeof buf);
	assert_string_equal(buf, "");
	/* A running task that has not moved yet shows no rate (its progress is "-"). */
	task_event(m, 9, "running", "quiet", "\"progress\": {\"done\": 0, \"total\": null}");
	model_rate_sample(m, 5000);
	model_rate_sample(m, 8000);
	model_fmt_rate_eta(m, model_task(m, 9), buf, sizeof buf);
	assert_string_equal(buf, "");

	model_fmt_rate(1536, "bytes", buf, sizeof buf);
	assert_string_equal(buf, "1.5KiB/s");
	model_fmt_rate(0.25, "files", buf, sizeof buf);
	assert_string_equal(buf, "0.2 files/s");
	model_fmt_rate(12.4, NULL, buf, sizeof buf);
	assert_string_equal(buf, "12/s");
}

static void test_repositories_show_their_newest_sync_and_publish(void **state)
{
	struct model *m = *state;
	cJSON *list = parse("[{\"name\": \"fedora\", \"latest_version\": 3, \"files\": 1200,"
	    " \"size\": 52428800, \"published_version\": 2, \"published_at\": \"2026-11-24T20:00:00.000Z\"},"
	    " {\"name\": \"empty\", \"latest_version\": null, \"files\": 0, \"size\": 0,"
	    " \"published_version\": null, \"published_at\": null}]");
	/* task.list of repository:fedora, newest first: a publish, a failed sync, older ones. */
	cJSON *tasks = parse("[{\"id\": 9, \"type\": \"publish\", \"state\": \"running\", \"name\": \"p\"},"
	    " {\"id\": 8, \"type\": \"sync\", \"state\": \"failed\", \"name\": \"s\","
	    "  \"created_at\": \"2026-11-24T20:10:00.000Z\", \"started_at\": \"2026-11-24T20:10:01.000Z\","
	    "  \"finished_at\": \"2026-11-24T20:11:00.000Z\","
	    "  \"error\": {\"reason\": \"exception\", \"message\": \"no such host\"}},"
	    " {\"id\": 5, \"type\": \"sync\", \"state\": \"completed\", \"name\": \"s\"},"
	    " {\"id\": 4, \"type\": \"publish\", \"state\": \"completed\", \"name\": \"p\"}]");
	cJSON *running = parse("[{\"id\": 10, \"type\": \"sync\", \"state\": \"running\", \"name\": \"s\","
	    " \"created_at\": \"2026-11-24T20:12:00.000Z\", \"started_at\": \"2026-11-24T20:12:01.000Z\","
	    " \"progress\": {\"done\": 120, \"total\": 300, \"unit\": \"files\"}}]");
	const struct model_repo *r;

	model_set_repos(m, list);
	assert_true(m->repos_known);
	assert_int_equal(m->nrepos, 2);
	r = model_repo(m, "fedora");
	assert_non_null(r);
	assert_int_equal(r->latest, 3);
	assert_int_equal(r->files, 1200);
	assert_int_equal(r->published, 2);
	assert_int_equal(r->published_ms, at("2026-11-24T20:00:00.000Z"));
	assert_false(r->tasks_known);
	r = model_repo(m, "empty");
	assert_int_equal(r->latest, 0);
	assert_int_equal(r->published, 0);

	model_set_repo_tasks(m, "fedora", tasks);
	r = model_repo(m, "fedora");
	assert_true(r->tasks_known);
	assert_int_equal(r->sync_id, 8);
	assert_int_equal(r->sync_state, TASK_FAILED);
	assert_int_equal(r->sync_ms, at("2026-11-24T20:11:00.000Z"));	/* when it ended */
	assert_string_equal(r->sync_reason, "exception");
	assert_string_equal(r->sync_message, "no such host");
	assert_null(r->sync_progress);
	assert_int_equal(r->publish_id, 9);
	assert_int_equal(r->publish_state, TASK_RUNNING);

	/* Listed again, a repository keeps its last sync until its tasks are read again. */
	model_set_repos(m, list);
	r = model_repo(m, "fedora");
	assert_int_equal(r->sync_id, 8);
	assert_string_equal(r->sync_message, "no such host");

	/* A sync under way: since it started, with its progress. */
	model_set_repo_tasks(m, "fedora", running);
	r = model_repo(m, "fedora");
	assert_int_equal(r->sync_id, 10);
	assert_int_equal(r->sync_ms, at("2026-11-24T20:12:01.000Z"));
	assert_string_equal(r->sync_progress, "120/300 files");
	assert_null(r->sync_reason);
	assert_int_equal(r->publish_id, 0);

	/* An empty list: never synced; an unknown name changes nothing. */
	cJSON_Delete(running);
	running = parse("[]");
	model_set_repo_tasks(m, "empty", running);
	model_set_repo_tasks(m, "gone", tasks);
	r = model_repo(m, "empty");
	assert_true(r->tasks_known);
	assert_int_equal(r->sync_id, 0);
	assert_null(model_repo(m, "gone"));
	cJSON_Delete(list);
	cJSON_Delete(tasks);
	cJSON_Delete(running);
}

static void test_a_paused_or_counted_resource_stays_listed_when_nobody_uses_it(void **state)
{
	struct model *m = *state;
	cJSON *locks = parse("[{\"resource\": \"backup\", \"paused\": true, \"capacity\": null,"
	    " \"holders\": [], \"waiting\": []},"
	    " {\"resource\": \"host:db1\", \"paused\": false, \"capacity\": null,"
	    " \"holders\": [{\"task\": 1, \"mode\": \"exclusive\"}], \"waiting\": []},"
	    " {\"resource\": \"host:x\", \"paused\": false, \"capacity\": 3,"
	    " \"holders\": [{\"task\": 1, \"mode\": \"slot\"}], \"waiting\": []}]");

	task_event(m, 1, "running", "db1", NULL);
	model_set_locks(m, locks);
	assert_int_equal(m->nlocks, 3);
	assert_true(lock_of(m, "backup")->paused);
	assert_int_equal(lock_of(m, "host:x")->capacity, 3);
	assert_int_equal(lock_of(m, "host:db1")->capacity, 0);
	/* Task 1 ends: host:db1 goes, the paused and the counted resources stay. */
	task_event(m, 1, "completed", "db1", NULL);
	assert_int_equal(m->nlocks, 2);
	assert_null(lock_of(m, "host:db1"));
	assert_non_null(lock_of(m, "backup"));
	assert_int_equal(lock_of(m, "host:x")->nholders, 0);
	cJSON_Delete(locks);
}

static void test_why_keeps_each_reasons_message_and_a_refusal(void **state)
{
	struct model_why w;
	cJSON *res = parse("{\"id\": 12, \"state\": \"waiting\", \"waiting\": true, \"reasons\": ["
	    "{\"kind\": \"blocked\", \"resource\": \"host:db1\", \"tasks\": [7],"
	    " \"message\": \"host:db1 is held by task 7\"},"
	    "{\"kind\": \"queue-paused\", \"message\": \"the queue is paused\\n(depotctl resume)\"},"
	    "{\"kind\": \"something-new\"}]}");
	struct model *m = *state;
	cJSON *st = parse("{\"daemon\": {\"version\": \"0.1.0\"},"
	    " \"queue\": {\"paused\": false, \"paused_resources\": [\"host:db1\", \"backup\"]}}");

	model_why_init(&w);
	model_why_apply(&w, 12, TASK_WAITING, res, 500);
	assert_int_equal(w.task, 12);
	assert_true(w.known);
	assert_true(w.waiting);
	assert_int_equal(w.at, 500);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.msgs[0], "host:db1 is held by task 7");
	assert_string_equal(w.msgs[1], "the queue is paused?(depotctl resume)");	/* one line */
	assert_string_equal(w.msgs[2], "(something-new)");
	model_why_fail(&w, 13, TASK_WAITING, "bad_request: task.why is not built yet", 900);
	assert_int_equal(w.task, 13);
	assert_false(w.known);
	assert_int_equal(w.n, 0);
	assert_string_equal(w.err, "bad_request: task.why is not built yet");
	model_why_free(&w);
	assert_int_equal(w.task, 0);
	cJSON_Delete(res);

	/* The queue's pause from status; a daemon without it says nothing. */
	model_set_status(m, st, 0);
	assert_true(m->status.queue_known);
	assert_false(m->status.queue_paused);
	assert_string_equal(m->status.paused_resources, "host:db1, backup");
	cJSON_Delete(st);
	st = parse("{\"daemon\": {\"version\": \"0.1.0\"}, \"queue\": {\"paused\": true}}");
	model_set_status(m, st, 0);
	assert_true(m->status.queue_paused);
	assert_string_equal(m->status.paused_resources, "");
	cJSON_Delete(st);
	st = parse("{\"daemon\": {\"version\": \"0.1.0\"}}");
	model_set_status(m, st, 0);
	assert_false(m->status.queue_known);
	cJSON_Delete(st);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_event_adds_a_task_and_its_state_changes_replace_it),
		T(test_progress_event_updates_progress_and_the_stalled_mark),
		T(test_a_late_event_never_moves_a_task_back),
		T(test_worker_events_update_one_worker_and_keep_the_order_natural),
		T(test_reservations_follow_task_and_lock_events),
		T(test_slot_reservations_are_named_slots),
		T(test_a_reread_replaces_what_lost_events_left_wrong),
		T(test_a_reread_drops_a_task_the_daemon_no_longer_lists),
		T(test_lists_read_one_after_the_other_keep_the_newest_state),
		T(test_a_burst_of_events_may_have_overflowed_pub_and_asks_for_a_reread),
		T(test_a_reread_is_due_every_few_seconds_as_a_safety_net),
		T(test_down_keeps_the_time_it_went_down_and_the_latest_reason),
		T(test_filters_and_search_narrow_the_rows_running_first_then_the_queue),
		T(test_the_default_filter_keeps_tasks_that_ended_in_the_last_minutes),
		T(test_sorting_by_a_column_ties_in_queue_order_and_reversed),
		T(test_rate_and_eta_come_from_progress_samples),
		T(test_repositories_show_their_newest_sync_and_publish),
		T(test_why_keeps_each_reasons_message_and_a_refusal),
		T(test_a_paused_or_counted_resource_stays_listed_when_nobody_uses_it),
		T(test_unreadable_messages_are_refused_and_a_topic_can_come_from_the_prefix),
		T(test_finished_tasks_beyond_the_limit_go_oldest_first),
		T(test_status_schedules_and_uptime),
		T(test_progress_and_age_formats),
		T(test_text_is_fitted_to_cells_never_past_the_width),
		T(test_log_keeps_the_last_lines_and_the_line_being_written),
		T(test_log_of_a_long_task_is_read_from_its_tail_and_the_ring_keeps_the_newest),
	};

	/* wcwidth needs a UTF-8 locale for the cell widths tested. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		setlocale(LC_CTYPE, "");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
