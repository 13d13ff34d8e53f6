/* test_lockmgr.c: the lock manager's rules (DESIGN §6), one test a rule, plus a model check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockmgr.h"
#include "depotd.h"

/* The daemon objects linked into every unit test refer to the global state. */
struct depotd *D;

#define SPEC_MAX	16
#define DUMP_MAX	8192

struct model;

struct dump {
	char buf[DUMP_MAX];
	size_t len;
	int calls;
	int conflict;		/* a resource with an exclusive holder and another holder */
};

static int setup(void **state);
static int teardown(void **state);
static int enq(struct lockmgr *lm, int64_t id, const char *spec);
static int enq_prio(struct lockmgr *lm, int64_t id, int priority, const char *spec);
static void dump_fn(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n);
static const char *dump(const struct lockmgr *lm, struct dump *d);
static uint32_t m_rand(struct model *m, uint32_t below);
static int m_conflict(int a, int b);
static int m_can_grant(const struct model *m, int64_t id);
static int64_t m_next_ready(const struct model *m);
static void m_listing(const struct model *m, char *buf, size_t len);
static void m_forget(struct model *m, int64_t id);
static void m_check(struct lockmgr *lm, const struct model *m);
static void m_enqueue(struct lockmgr *lm, struct model *m);

static int setup(void **state)
{
	struct lockmgr *lm = lockmgr_new();

	if (lm == NULL)
		return -1;
	*state = lm;
	return 0;
}

static int teardown(void **state)
{
	lockmgr_free(*state);
	return 0;
}

static int enq(struct lockmgr *lm, int64_t id, const char *spec)
{
	return enq_prio(lm, id, 0, spec);
}

static char mode_char(enum lock_mode mode)
{
	return mode == LOCK_EXCLUSIVE ? 'x' : mode == LOCK_SLOT ? 'l' : 's';
}

/* "a b:s c:l": names separated by spaces, exclusive unless ":s" (shared) or ":l" (slot) follows. */
static int enq_prio(struct lockmgr *lm, int64_t id, int priority, const char *spec)
{
	static char names[SPEC_MAX][64];
	struct lock_req reqs[SPEC_MAX];
	const char *p = spec;
	size_t n = 0, len;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		assert_true(n < SPEC_MAX && len < sizeof names[0]);
		memcpy(names[n], p, len);
		names[n][len] = '\0';
		reqs[n].mode = LOCK_EXCLUSIVE;
		if (len > 2 && names[n][len - 2] == ':') {
			if (names[n][len - 1] == 's')
				reqs[n].mode = LOCK_SHARED;
			if (names[n][len - 1] == 'l')
				reqs[n].mode = LOCK_SLOT;
			names[n][len - 2] = '\0';
		}
		reqs[n].resource = names[n];
		n++;
		p += len;
	}
	return lockmgr_enqueue(lm, id, priority, reqs, n);
}

/*
 * One "name(H1x W2s)" a resource: H held, W waiting, x exclusive, s
 * shared, l slot; "name[c2 p](...)" when it has a capacity or a pause.
 */
static void dump_fn(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	struct dump *d = ctx;
	size_t i, held = 0;
	int held_x = 0;

	d->calls++;
	d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "%s", res->name);
	if (res->capacity != 0 || res->paused)
		d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "[%s%.0d%s]",
		    res->capacity ? "c" : "", res->capacity,
		    res->paused ? (res->capacity ? " p" : "p") : "");
	d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "(");
	for (i = 0; i < n && d->len < sizeof d->buf; i++) {
		d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "%s%c%lld%c",
		    i > 0 ? " " : "", e[i].held ? 'H' : 'W', (long long)e[i].task,
		    mode_char(e[i].mode));
		if (e[i].held) {
			held++;
			held_x |= e[i].mode == LOCK_EXCLUSIVE;
		}
	}
	if (held_x && held > 1)
		d->conflict = 1;
	if (d->len < sizeof d->buf)
		d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, ")");
	assert_true(d->len < sizeof d->buf);
}

static const char *dump(const struct lockmgr *lm, struct dump *d)
{
	memset(d, 0, sizeof *d);
	lockmgr_visit(lm, dump_fn, d);
	return d->buf;
}

static void test_exclusive_is_fifo(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(enq(lm, 2, "a"), 0);
	assert_int_equal(enq(lm, 3, "a"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 1);
	/* Asking again without granting answers the same. */
	assert_int_equal(lockmgr_next_ready(lm), 1);
	assert_int_equal(lockmgr_grant(lm, 3), -1);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(lockmgr_grant(lm, 1), -1);
	assert_int_equal(lockmgr_is_held(lm, 1), 1);
	assert_int_equal(lockmgr_is_held(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 3), -1);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_release(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_held_tasks(lm), 0);
	assert_int_equal(lockmgr_waiting_tasks(lm), 0);
}

static void test_shared_run_together(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;
	int64_t id;

	for (id = 1; id <= 3; id++)
		assert_int_equal(enq(lm, id, "a:s"), 0);
	for (id = 1; id <= 3; id++) {
		assert_int_equal(lockmgr_next_ready(lm), id);
		assert_int_equal(lockmgr_grant(lm, id), 0);
	}
	assert_int_equal(lockmgr_held_tasks(lm), 3);
	assert_int_equal(lockmgr_waiting_tasks(lm), 0);
	assert_string_equal(dump(lm, &d), "a(H1s H2s H3s)");
	/* Holders leave in any order. */
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_string_equal(dump(lm, &d), "a(H1s H3s)");
}

static void test_exclusive_behind_shared_is_not_starved(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "a:s"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a"), 0);
	assert_int_equal(enq(lm, 3, "a:s"), 0);
	/* 3 is compatible with the holder, but not with 2 queued ahead of it. */
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 3), -1);
	assert_int_equal(lockmgr_grant(lm, 2), -1);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
}

static void test_all_or_nothing_keeps_fifo(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "b"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a b"), 0);
	/* a is free, but 2 takes nothing until it can take everything. */
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 2), -1);
	assert_int_equal(enq(lm, 3, "a"), 0);
	/* 3 does not jump ahead of 2 on a. */
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 3), -1);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
}

static void test_release_of_waiting_task_unblocks(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a b"), 0);
	assert_int_equal(enq(lm, 3, "b"), 0);
	assert_int_equal(enq(lm, 4, "a:s"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_string_equal(dump(lm, &d), "a(H1x W2x W4s)b(W2x W3x)");
	/* A cancelled waiting task leaves its queues. */
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_is_held(lm, 2), -1);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_string_equal(dump(lm, &d), "a(H1x W4s)b(H3x)");
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 4);
}

static void test_ready_task_released_before_grant_is_skipped(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(enq(lm, 2, "b"), 0);
	assert_int_equal(enq(lm, 3, "c"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 1);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	/* Granted out of order: next_ready must not offer it again. */
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_is_held(lm, 3), 1);
}

static void test_duplicate_names_merge(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_int_equal(enq(lm, 1, "a:s a b:s b:s"), 0);
	assert_string_equal(dump(lm, &d), "a(W1x)b(W1s)");
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a:s"), 0);
	assert_int_equal(enq(lm, 3, "b:s b:s"), 0);
	assert_string_equal(dump(lm, &d), "a(H1x W2s)b(H1s W3s)");
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
}

static void test_visit_sorted_holders_then_queue(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_string_equal(dump(lm, &d), "");
	assert_int_equal(d.calls, 0);
	assert_int_equal(enq(lm, 1, "host:db1 repository:fedora:s"), 0);
	assert_int_equal(enq(lm, 2, "depot:s repository:fedora:s"), 0);
	assert_int_equal(enq(lm, 3, "repository:fedora host:db1"), 0);
	assert_int_equal(enq(lm, 4, "depot:s"), 0);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_string_equal(dump(lm, &d),
	    "depot(H2s W4s)host:db1(H1x W3x)repository:fedora(H2s H1s W3x)");
	assert_int_equal(d.calls, 3);
	/* A resource nobody holds or wants disappears from the listing. */
	assert_int_equal(lockmgr_release(lm, 3), 0);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_string_equal(dump(lm, &d), "depot(H2s W4s)repository:fedora(H2s)");
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_release(lm, 4), 0);
	assert_string_equal(dump(lm, &d), "");
}

static void test_bad_calls_fail_and_change_nothing(void **state)
{
	struct lockmgr *lm = *state;
	struct lock_req r = { "a", LOCK_EXCLUSIVE };
	char longname[300];
	struct dump d;

	assert_int_equal(lockmgr_grant(lm, 42), -1);
	assert_int_equal(lockmgr_release(lm, 42), -1);
	assert_int_equal(lockmgr_is_held(lm, 42), -1);
	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(enq(lm, 1, "b"), -1);
	assert_int_equal(lockmgr_enqueue(lm, 2, 0, &r, 0), -1);
	/* 0 is next_ready's "none", so it cannot name a task. */
	assert_int_equal(lockmgr_enqueue(lm, 0, 0, &r, 1), -1);
	r.mode = 7;
	assert_int_equal(lockmgr_enqueue(lm, 2, 0, &r, 1), -1);
	r.mode = LOCK_EXCLUSIVE;
	r.resource = "";
	assert_int_equal(lockmgr_enqueue(lm, 2, 0, &r, 1), -1);
	assert_int_equal(lockmgr_set_capacity(lm, "", 2), -1);
	assert_int_equal(lockmgr_set_capacity(lm, "a", -1), -1);
	memset(longname, 'n', 256);
	longname[256] = '\0';
	r.resource = longname;
	assert_int_equal(lockmgr_enqueue(lm, 2, 0, &r, 1), -1);
	assert_int_equal(lockmgr_set_paused(lm, longname, 1), -1);
	longname[255] = '\0';
	assert_int_equal(lockmgr_enqueue(lm, 2, 0, &r, 1), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_release(lm, 2), -1);
	assert_int_equal(lockmgr_grant(lm, 2), -1);
	assert_int_equal(lockmgr_waiting_tasks(lm), 1);
	assert_int_equal(lockmgr_held_tasks(lm), 0);
	assert_string_equal(dump(lm, &d), "a(W1x)");
	assert_int_equal(lockmgr_next_ready(lm), 1);
}

static void test_next_ready_is_oldest(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a"), 0);
	assert_int_equal(enq(lm, 3, "b"), 0);
	assert_int_equal(enq(lm, 4, "c:s"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	/* 2 became ready after 3 and 4 but is older, so it comes first. */
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 4);
	assert_int_equal(lockmgr_grant(lm, 4), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
}

/* Structure, not timing: a long queue on one resource leaves the others' dispatch alone. */
#define HOT_TASKS	100000
#define COLD_TASKS	50
static void test_hot_queue_does_not_block_others(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;
	char spec[32];
	int64_t id;
	int i;

	for (id = 1; id <= HOT_TASKS; id++)
		assert_int_equal(enq(lm, id, "hot"), 0);
	for (i = 0; i < COLD_TASKS; i++) {
		snprintf(spec, sizeof spec, "cold%d", i);
		assert_int_equal(enq(lm, HOT_TASKS + 1 + i, spec), 0);
	}
	assert_int_equal(lockmgr_waiting_tasks(lm), HOT_TASKS + COLD_TASKS);
	assert_int_equal(lockmgr_next_ready(lm), 1);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	for (i = 0; i < COLD_TASKS; i++) {
		assert_int_equal(lockmgr_next_ready(lm), HOT_TASKS + 1 + i);
		assert_int_equal(lockmgr_grant(lm, HOT_TASKS + 1 + i), 0);
	}
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_held_tasks(lm), COLD_TASKS + 1);
	for (i = 0; i < COLD_TASKS; i++)
		assert_int_equal(lockmgr_release(lm, HOT_TASKS + 1 + i), 0);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	for (id = 2; id <= HOT_TASKS; id++) {
		assert_int_equal(lockmgr_next_ready(lm), id);
		assert_int_equal(lockmgr_grant(lm, id), 0);
		assert_int_equal(lockmgr_release(lm, id), 0);
	}
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_held_tasks(lm), 0);
	assert_int_equal(lockmgr_waiting_tasks(lm), 0);
	assert_string_equal(dump(lm, &d), "");
}

static void test_priority_goes_ahead_fifo_within(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq_prio(lm, 2, 0, "a"), 0);
	assert_int_equal(enq_prio(lm, 3, 5, "a"), 0);
	assert_int_equal(enq_prio(lm, 4, 0, "a"), 0);
	assert_int_equal(enq_prio(lm, 5, 5, "a"), 0);
	assert_int_equal(enq_prio(lm, 6, -1, "a"), 0);
	assert_string_equal(dump(lm, &d), "a(H1x W3x W5x W2x W4x W6x)");
	assert_int_equal(lockmgr_release(lm, 1), 0);
	for (int64_t want[] = { 3, 5, 2, 4, 6 }, *p = want; p < want + 5; p++) {
		assert_int_equal(lockmgr_next_ready(lm), *p);
		assert_int_equal(lockmgr_grant(lm, *p), 0);
		assert_int_equal(lockmgr_release(lm, *p), 0);
	}
	assert_int_equal(lockmgr_next_ready(lm), 0);
}

/* Shared requests ready behind a holder become unready when an exclusive of higher priority goes ahead. */
static void test_priority_exclusive_unreadies_shared(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq(lm, 1, "a:s b"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a:s c"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(enq_prio(lm, 3, 1, "a"), 0);
	/* 2 was ready; 3 is ahead of it now and must wait for holder 1. */
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 2), -1);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
}

/* A task queued late (its start time came) takes the place its id gives it. */
static void test_late_task_takes_its_ids_place(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 3, "a:s"), 0);
	assert_int_equal(enq(lm, 4, "a"), 0);
	assert_int_equal(enq(lm, 2, "a:s"), 0);
	assert_string_equal(dump(lm, &d), "a(H1x W2s W3s W4x)");
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
}

/* Among ready tasks the higher priority starts first, whatever its id. */
static void test_next_ready_by_priority(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(enq_prio(lm, 1, 0, "a"), 0);
	assert_int_equal(enq_prio(lm, 2, 3, "b"), 0);
	assert_int_equal(enq_prio(lm, 3, 3, "c"), 0);
	assert_int_equal(enq_prio(lm, 4, -2, "d"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 1);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 4);
}

static void test_slots_up_to_capacity_fifo(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;
	int64_t id;

	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 3), 0);
	assert_string_equal(dump(lm, &d), "gpu[c3]()");
	for (id = 1; id <= 5; id++)
		assert_int_equal(enq(lm, id, "gpu:l"), 0);
	for (id = 1; id <= 3; id++) {
		assert_int_equal(lockmgr_next_ready(lm), id);
		assert_int_equal(lockmgr_grant(lm, id), 0);
	}
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 5), -1);
	/* Shared holders are not counted, but FIFO keeps them behind waiting slots. */
	assert_int_equal(enq(lm, 6, "gpu:s"), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 4);
	assert_int_equal(lockmgr_grant(lm, 4), 0);
	assert_string_equal(dump(lm, &d), "gpu[c3](H1l H3l H4l W5l W6s)");
	/* Raising the capacity lets the next ones in. */
	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 5), 0);
	assert_int_equal(lockmgr_next_ready(lm), 5);
	assert_int_equal(lockmgr_grant(lm, 5), 0);
	assert_int_equal(lockmgr_next_ready(lm), 6);
	assert_int_equal(lockmgr_grant(lm, 6), 0);
	/* Lowering it takes nothing back; later slots wait until enough are released. */
	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 2), 0);
	assert_int_equal(enq(lm, 7, "gpu:l"), 0);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_release(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 4), 0);
	assert_int_equal(lockmgr_next_ready(lm), 7);
	/* Back to the default of one slot: the resource is forgotten once unused. */
	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 0), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 5), 0);
	assert_int_equal(lockmgr_next_ready(lm), 7);
	assert_int_equal(lockmgr_release(lm, 6), 0);
	assert_int_equal(lockmgr_release(lm, 7), 0);
	assert_string_equal(dump(lm, &d), "");
}

static void test_exclusive_waits_for_every_slot(void **state)
{
	struct lockmgr *lm = *state;

	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 2), 0);
	assert_int_equal(enq(lm, 1, "gpu:l"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "gpu"), 0);
	assert_int_equal(enq(lm, 3, "gpu:l"), 0);
	/* A slot is free, but 3 stays behind the exclusive request. */
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_int_equal(lockmgr_grant(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_release(lm, 2), 0);
	assert_int_equal(lockmgr_next_ready(lm), 3);
}

static void test_pause_holds_waiters_not_holders(void **state)
{
	struct lockmgr *lm = *state;
	struct dump d;

	assert_int_equal(enq(lm, 1, "a:s"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a:s"), 0);
	assert_int_equal(enq(lm, 3, "b"), 0);
	assert_int_equal(lockmgr_set_paused(lm, "a", 1), 0);
	assert_int_equal(lockmgr_set_paused(lm, "idle", 1), 0);
	/* 2 was ready; paused, it waits; b is not paused. */
	assert_int_equal(lockmgr_next_ready(lm), 3);
	assert_int_equal(lockmgr_grant(lm, 3), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_grant(lm, 2), -1);
	assert_int_equal(lockmgr_is_held(lm, 1), 1);
	assert_string_equal(dump(lm, &d), "a[p](H1s W2s)b(H3x)idle[p]()");
	assert_int_equal(lockmgr_release(lm, 1), 0);
	assert_int_equal(lockmgr_next_ready(lm), 0);
	assert_int_equal(lockmgr_set_paused(lm, "a", 0), 0);
	assert_int_equal(lockmgr_set_paused(lm, "idle", 0), 0);
	assert_int_equal(lockmgr_next_ready(lm), 2);
	assert_string_equal(dump(lm, &d), "a(W2s)b(H3x)");
}

struct why_log {
	char buf[512];
	size_t len;
};

static void why_fn(void *ctx, const char *resource, enum lockmgr_hold why,
    const struct lockmgr_entry *e, size_t n)
{
	struct why_log *w = ctx;
	static const char *const kinds[] = { "paused", "capacity", "blocked" };

	w->len += snprintf(w->buf + w->len, sizeof w->buf - w->len, "%s:%s(", resource, kinds[why]);
	for (size_t i = 0; i < n; i++)
		w->len += snprintf(w->buf + w->len, sizeof w->buf - w->len, "%s%c%lld",
		    i ? " " : "", e[i].held ? 'H' : 'W', (long long)e[i].task);
	w->len += snprintf(w->buf + w->len, sizeof w->buf - w->len, ")");
}

static const char *why(struct lockmgr *lm, int64_t id, struct why_log *w)
{
	memset(w, 0, sizeof *w);
	assert_true(lockmgr_why(lm, id, why_fn, w) >= 0);
	return w->buf;
}

static void test_why_names_what_holds_a_task(void **state)
{
	struct lockmgr *lm = *state;
	struct why_log w;

	assert_int_equal(enq(lm, 1, "a"), 0);
	assert_int_equal(lockmgr_grant(lm, 1), 0);
	assert_int_equal(enq(lm, 2, "a:s"), 0);
	assert_int_equal(enq(lm, 3, "a:s b"), 0);
	assert_string_equal(why(lm, 3, &w), "a:blocked(H1 W2)");
	assert_int_equal(lockmgr_set_capacity(lm, "gpu", 1), 0);
	assert_int_equal(enq(lm, 4, "gpu:l"), 0);
	assert_int_equal(lockmgr_grant(lm, 4), 0);
	assert_int_equal(enq(lm, 5, "gpu:l c"), 0);
	assert_string_equal(why(lm, 5, &w), "gpu:capacity(H4)");
	assert_int_equal(lockmgr_set_paused(lm, "c", 1), 0);
	assert_string_equal(why(lm, 5, &w), "c:paused()gpu:capacity(H4)");
	/* Held or unknown tasks wait for nothing. */
	assert_int_equal(lockmgr_why(lm, 1, why_fn, &w), -1);
	assert_int_equal(lockmgr_why(lm, 99, why_fn, &w), -1);
	assert_int_equal(lockmgr_set_paused(lm, "c", 0), 0);
	assert_int_equal(lockmgr_release(lm, 4), 0);
	assert_int_equal(lockmgr_why(lm, 5, why_fn, &w), 0);
}

/*
 * Model check: a brute-force reference decides, after every operation, which
 * waiting task may legally run, and the lock manager must agree on
 * next_ready, grant, is_held, the counts and the listing. The reference
 * sorts each resource's queue by priority, then id, and walks it: a request
 * is ready when the resource is not paused, every request ahead is ready,
 * it is compatible with the holders and the request just ahead, and (a slot)
 * the slots held and ready ahead leave one free.
 */
#define M_NAMES		10
#define M_STEPS		5000
#define M_MAXLIVE	150
#define M_NONE		(-1)

struct mtask {
	int state;		/* 0 gone, 1 waiting, 2 held */
	int mode[M_NAMES];	/* M_NONE or a lock_mode */
	int priority;
	long seq;		/* when granted, for the holders' order */
};

struct model {
	struct mtask t[M_STEPS + 1];	/* by id */
	int64_t live[M_MAXLIVE];	/* ids, increasing */
	size_t nlive;
	int64_t next_id;
	long seq;
	uint64_t rng;
	int capacity[M_NAMES];		/* 0: the default */
	int paused[M_NAMES];
	/* Ids given out but queued later, as a task held by --at or --after is. */
	int64_t deferred[8];
	size_t ndeferred;
};

static uint32_t m_rand(struct model *m, uint32_t below)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return (uint32_t)(m->rng % below);
}

static int m_conflict(int a, int b)
{
	return a == LOCK_EXCLUSIVE || b == LOCK_EXCLUSIVE;
}

/* r's waiting ids in queue order: priority, then id. Returns the count. */
static size_t m_queue(const struct model *m, int r, int64_t *q)
{
	size_t i, j, n = 0;

	for (i = 0; i < m->nlive; i++) {
		int64_t id = m->live[i];
		const struct mtask *u = &m->t[id];

		if (u->state != 1 || u->mode[r] == M_NONE)
			continue;
		for (j = n; j > 0 && m->t[q[j - 1]].priority < u->priority; j--)
			q[j] = q[j - 1];
		q[j] = id;
		n++;
	}
	return n;
}

static int m_ready_on(const struct model *m, int r, int64_t id)
{
	int64_t q[M_MAXLIVE];
	size_t n = m_queue(m, r, q), i, slots = 0, holders = 0;
	int excl_held = 0;

	if (m->paused[r])
		return 0;
	for (i = 0; i < m->nlive; i++) {
		const struct mtask *u = &m->t[m->live[i]];

		if (u->state != 2 || u->mode[r] == M_NONE)
			continue;
		holders++;
		slots += u->mode[r] == LOCK_SLOT;
		excl_held |= u->mode[r] == LOCK_EXCLUSIVE;
	}
	for (i = 0; i < n; i++) {
		int mode = m->t[q[i]].mode[r];
		int ok;

		if (mode == LOCK_EXCLUSIVE)
			ok = holders == 0 && i == 0;
		else
			ok = !excl_held && (i == 0 || !m_conflict(m->t[q[i - 1]].mode[r], mode)) &&
			    (mode != LOCK_SLOT || slots <
			    (size_t)(m->capacity[r] ? m->capacity[r] : LOCK_CAPACITY_DEFAULT));
		if (!ok)
			return 0;
		if (q[i] == id)
			return 1;
		slots += mode == LOCK_SLOT;
	}
	return 0;
}

static int m_can_grant(const struct model *m, int64_t id)
{
	int r;

	for (r = 0; r < M_NAMES; r++) {
		if (m->t[id].mode[r] != M_NONE && !m_ready_on(m, r, id))
			return 0;
	}
	return 1;
}

static int64_t m_next_ready(const struct model *m)
{
	int64_t best = 0;
	size_t i;

	for (i = 0; i < m->nlive; i++) {
		int64_t id = m->live[i];

		if (m->t[id].state == 1 && m_can_grant(m, id) &&
		    (best == 0 || m->t[id].priority > m->t[best].priority))
			best = id;
	}
	return best;
}

static void m_listing(const struct model *m, char *buf, size_t len)
{
	size_t off = 0, i, j, nh, nq;
	int64_t held[M_MAXLIVE], q[M_MAXLIVE], tmp;
	int r, any;

	buf[0] = '\0';
	for (r = 0; r < M_NAMES; r++) {
		any = m->capacity[r] != 0 || m->paused[r];
		nh = 0;
		for (i = 0; i < m->nlive; i++) {
			if (m->t[m->live[i]].mode[r] != M_NONE)
				any = 1;
			if (m->t[m->live[i]].mode[r] != M_NONE && m->t[m->live[i]].state == 2)
				held[nh++] = m->live[i];
		}
		if (!any)
			continue;
		for (i = 1; i < nh; i++) {
			for (j = i; j > 0 && m->t[held[j - 1]].seq > m->t[held[j]].seq; j--) {
				tmp = held[j];
				held[j] = held[j - 1];
				held[j - 1] = tmp;
			}
		}
		off += snprintf(buf + off, len - off, "r%d", r);
		if (m->capacity[r] != 0 || m->paused[r])
			off += snprintf(buf + off, len - off, "[%s%.0d%s]",
			    m->capacity[r] ? "c" : "", m->capacity[r],
			    m->paused[r] ? (m->capacity[r] ? " p" : "p") : "");
		off += snprintf(buf + off, len - off, "(");
		any = 0;
		for (i = 0; i < nh; i++, any = 1)
			off += snprintf(buf + off, len - off, "%sH%lld%c",
			    any ? " " : "", (long long)held[i], mode_char(m->t[held[i]].mode[r]));
		nq = m_queue(m, r, q);
		for (i = 0; i < nq; i++, any = 1)
			off += snprintf(buf + off, len - off, "%sW%lld%c", any ? " " : "",
			    (long long)q[i], mode_char(m->t[q[i]].mode[r]));
		off += snprintf(buf + off, len - off, ")");
		assert_true(off < len);
	}
}

static void m_forget(struct model *m, int64_t id)
{
	size_t i;

	for (i = 0; m->live[i] != id; i++)
		;
	memmove(&m->live[i], &m->live[i + 1], (m->nlive - i - 1) * sizeof m->live[0]);
	m->nlive--;
	m->t[id].state = 0;
}

static void m_check(struct lockmgr *lm, const struct model *m)
{
	static char want[DUMP_MAX];
	static struct dump d;
	size_t i, held = 0;

	for (i = 0; i < m->nlive; i++) {
		assert_int_equal(lockmgr_is_held(lm, m->live[i]), m->t[m->live[i]].state == 2);
		held += m->t[m->live[i]].state == 2;
	}
	assert_int_equal(lockmgr_held_tasks(lm), held);
	assert_int_equal(lockmgr_waiting_tasks(lm), m->nlive - held);
	assert_int_equal(lockmgr_next_ready(lm), m_next_ready(m));
	m_listing(m, want, sizeof want);
	assert_string_equal(dump(lm, &d), want);
	assert_false(d.conflict);
}

static void m_enqueue(struct lockmgr *lm, struct model *m)
{
	static char names[4][8];
	static const int priorities[] = { 0, 0, 0, 0, 0, 1, -1, 5 };
	struct lock_req reqs[4];
	int64_t id;
	struct mtask *t;
	uint32_t n = 1 + m_rand(m, 3), i;
	size_t at;
	int r;

	if (m->ndeferred > 0 && m_rand(m, 3) == 0) {
		at = m_rand(m, (uint32_t)m->ndeferred);
		id = m->deferred[at];
		m->deferred[at] = m->deferred[--m->ndeferred];
	} else {
		id = ++m->next_id;
		if (m->ndeferred < 8 && m_rand(m, 6) == 0) {
			m->deferred[m->ndeferred++] = id;
			return;
		}
	}
	t = &m->t[id];
	for (r = 0; r < M_NAMES; r++)
		t->mode[r] = M_NONE;
	t->priority = priorities[m_rand(m, 8)];
	for (i = 0; i < n; i++) {
		uint32_t kind = m_rand(m, 6);

		r = (int)m_rand(m, M_NAMES);
		snprintf(names[i], sizeof names[i], "r%d", r);
		reqs[i].resource = names[i];
		reqs[i].mode = kind < 2 ? LOCK_EXCLUSIVE : kind < 4 ? LOCK_SLOT : LOCK_SHARED;
		if (t->mode[r] == M_NONE || reqs[i].mode == LOCK_EXCLUSIVE ||
		    (reqs[i].mode == LOCK_SLOT && t->mode[r] == LOCK_SHARED))
			t->mode[r] = reqs[i].mode;
	}
	assert_int_equal(lockmgr_enqueue(lm, id, t->priority, reqs, n), 0);
	t->state = 1;
	/* live stays in id order, which m_queue's stable sort by priority relies on. */
	for (at = m->nlive; at > 0 && m->live[at - 1] > id; at--)
		m->live[at] = m->live[at - 1];
	m->live[at] = id;
	m->nlive++;
}

/* An administrator changing a resource's rules: its capacity, or its pause. */
static void m_rule(struct lockmgr *lm, struct model *m)
{
	int r = (int)m_rand(m, M_NAMES);
	char name[8];

	/* One resource paused at a time, so the walk still grants often. */
	for (int p = 0; p < M_NAMES; p++) {
		if (m->paused[p])
			r = p;
	}
	snprintf(name, sizeof name, "r%d", r);
	if (m->paused[r] || m_rand(m, 3) == 0) {
		m->paused[r] = !m->paused[r];
		assert_int_equal(lockmgr_set_paused(lm, name, m->paused[r]), 0);
	} else {
		m->capacity[r] = (int)m_rand(m, 4);
		assert_int_equal(lockmgr_set_capacity(lm, name, m->capacity[r]), 0);
	}
}

static void test_random_against_model(void **state)
{
	struct lockmgr *lm = *state;
	static struct model model;
	struct model *m = &model;
	int64_t id;
	uint32_t op;
	int64_t held[M_MAXLIVE];
	size_t i, nheld;
	int step, grants = 0, blocked = 0, r;

	memset(m, 0, sizeof *m);
	m->rng = 0x9e3779b97f4a7c15ULL;
	for (step = 0; step < M_STEPS; step++) {
		op = m_rand(m, 100);
		if (op < 35 && m->nlive < M_MAXLIVE) {
			m_enqueue(lm, m);
		} else if (op < 60) {
			if ((id = lockmgr_next_ready(lm)) != 0) {
				assert_int_equal(lockmgr_grant(lm, id), 0);
				m->t[id].state = 2;
				m->t[id].seq = ++m->seq;
				grants++;
			}
		} else if (op < 68 && m->nlive > 0) {
			/* Any waiting task, ready or not: grant must say which. */
			id = m->live[m_rand(m, (uint32_t)m->nlive)];
			if (m->t[id].state == 1 && m_can_grant(m, id)) {
				assert_int_equal(lockmgr_grant(lm, id), 0);
				m->t[id].state = 2;
				m->t[id].seq = ++m->seq;
				grants++;
			} else {
				assert_int_equal(lockmgr_grant(lm, id), -1);
			}
		} else if (op < 71) {
			m_rule(lm, m);
		} else if (m->nlive > 0) {
			/* Mostly holders finishing, sometimes a waiting task cancelled. */
			id = m->live[m_rand(m, (uint32_t)m->nlive)];
			if (m_rand(m, 4) != 0) {
				for (i = 0, nheld = 0; i < m->nlive; i++) {
					if (m->t[m->live[i]].state == 2)
						held[nheld++] = m->live[i];
				}
				if (nheld > 0)
					id = held[m_rand(m, (uint32_t)nheld)];
			}
			assert_int_equal(lockmgr_release(lm, id), 0);
			m_forget(m, id);
			assert_int_equal(lockmgr_release(lm, id), -1);
		}
		m_check(lm, m);
		if (lockmgr_waiting_tasks(lm) > 0 && m_next_ready(m) == 0)
			blocked++;
	}
	/* The walk must have granted often and also met queues that must wait. */
	print_message("%d grants, %d steps with nothing ready\n", grants, blocked);
	assert_true(grants > M_STEPS / 10);
	assert_true(blocked > M_STEPS / 10);
	for (r = 0; r < M_NAMES; r++) {
		char name[8];

		snprintf(name, sizeof name, "r%d", r);
		m->paused[r] = 0;
		assert_int_equal(lockmgr_set_paused(lm, name, 0), 0);
	}
	while (m->nlive > 0) {
		id = m->live[m_rand(m, (uint32_t)m->nlive)];
		assert_int_equal(lockmgr_release(lm, id), 0);
		m_forget(m, id);
		m_check(lm, m);
	}
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_exclusive_is_fifo),
		T(test_shared_run_together),
		T(test_exclusive_behind_shared_is_not_starved),
		T(test_all_or_nothing_keeps_fifo),
		T(test_release_of_waiting_task_unblocks),
		T(test_ready_task_released_before_grant_is_skipped),
		T(test_duplicate_names_merge),
		T(test_visit_sorted_holders_then_queue),
		T(test_bad_calls_fail_and_change_nothing),
		T(test_next_ready_is_oldest),
		T(test_hot_queue_does_not_block_others),
		T(test_priority_goes_ahead_fifo_within),
		T(test_priority_exclusive_unreadies_shared),
		T(test_next_ready_by_priority),
		T(test_late_task_takes_its_ids_place),
		T(test_slots_up_to_capacity_fifo),
		T(test_exclusive_waits_for_every_slot),
		T(test_pause_holds_waiters_not_holders),
		T(test_why_names_what_holds_a_task),
		T(test_random_against_model),
	};

	return cmocka_run_group_tests_name("lockmgr", tests, NULL, NULL);
}
