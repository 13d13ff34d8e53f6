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
static void dump_fn(void *ctx, const char *resource, const struct lockmgr_entry *e, size_t n);
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

/* "a b:s c:x": names separated by spaces, exclusive unless ":s" follows. */
static int enq(struct lockmgr *lm, int64_t id, const char *spec)
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
			names[n][len - 2] = '\0';
		}
		reqs[n].resource = names[n];
		n++;
		p += len;
	}
	return lockmgr_enqueue(lm, id, reqs, n);
}

/* One "name(H1x W2s)" a resource: H held, W waiting, x exclusive, s shared. */
static void dump_fn(void *ctx, const char *resource, const struct lockmgr_entry *e, size_t n)
{
	struct dump *d = ctx;
	size_t i, held = 0;
	int held_x = 0;

	d->calls++;
	d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "%s(", resource);
	for (i = 0; i < n && d->len < sizeof d->buf; i++) {
		d->len += snprintf(d->buf + d->len, sizeof d->buf - d->len, "%s%c%lld%c",
		    i > 0 ? " " : "", e[i].held ? 'H' : 'W', (long long)e[i].task,
		    e[i].mode == LOCK_EXCLUSIVE ? 'x' : 's');
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
	assert_int_equal(lockmgr_enqueue(lm, 2, &r, 0), -1);
	/* 0 is next_ready's "none", so it cannot name a task. */
	assert_int_equal(lockmgr_enqueue(lm, 0, &r, 1), -1);
	r.resource = "";
	assert_int_equal(lockmgr_enqueue(lm, 2, &r, 1), -1);
	memset(longname, 'n', 256);
	longname[256] = '\0';
	r.resource = longname;
	assert_int_equal(lockmgr_enqueue(lm, 2, &r, 1), -1);
	longname[255] = '\0';
	assert_int_equal(lockmgr_enqueue(lm, 2, &r, 1), 0);
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

/*
 * Model check: a brute-force reference decides, after every operation, which
 * waiting task may legally run (compatible with every holder and with every
 * earlier waiting task on each of its resources), and the lock manager must
 * agree on next_ready, grant, is_held, the counts and the listing.
 */
#define M_NAMES		10
#define M_STEPS		5000
#define M_MAXLIVE	150
#define M_NONE		(-1)

struct mtask {
	int state;		/* 0 gone, 1 waiting, 2 held */
	int mode[M_NAMES];	/* M_NONE or a lock_mode */
	long seq;		/* when granted, for the holders' order */
};

struct model {
	struct mtask t[M_STEPS + 1];	/* by id */
	int64_t live[M_MAXLIVE];	/* ids, increasing */
	size_t nlive;
	int64_t next_id;
	long seq;
	uint64_t rng;
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

static int m_can_grant(const struct model *m, int64_t id)
{
	const struct mtask *t = &m->t[id];
	size_t i;
	int r;

	for (r = 0; r < M_NAMES; r++) {
		if (t->mode[r] == M_NONE)
			continue;
		for (i = 0; i < m->nlive; i++) {
			const struct mtask *u = &m->t[m->live[i]];

			if (m->live[i] == id || u->mode[r] == M_NONE)
				continue;
			/* Holders, and waiting tasks queued ahead (smaller ids). */
			if ((u->state == 2 || m->live[i] < id) &&
			    m_conflict(t->mode[r], u->mode[r]))
				return 0;
		}
	}
	return 1;
}

static int64_t m_next_ready(const struct model *m)
{
	size_t i;

	for (i = 0; i < m->nlive; i++) {
		if (m->t[m->live[i]].state == 1 && m_can_grant(m, m->live[i]))
			return m->live[i];
	}
	return 0;
}

static void m_listing(const struct model *m, char *buf, size_t len)
{
	size_t off = 0, i, j, nh;
	int64_t held[M_MAXLIVE], tmp;
	int r, any;

	buf[0] = '\0';
	for (r = 0; r < M_NAMES; r++) {
		any = 0;
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
		off += snprintf(buf + off, len - off, "r%d(", r);
		any = 0;
		for (i = 0; i < nh; i++, any = 1)
			off += snprintf(buf + off, len - off, "%sH%lld%c",
			    any ? " " : "", (long long)held[i],
			    m->t[held[i]].mode[r] == LOCK_EXCLUSIVE ? 'x' : 's');
		for (i = 0; i < m->nlive; i++) {
			const struct mtask *u = &m->t[m->live[i]];

			if (u->mode[r] == M_NONE || u->state != 1)
				continue;
			off += snprintf(buf + off, len - off, "%sW%lld%c", any ? " " : "",
			    (long long)m->live[i], u->mode[r] == LOCK_EXCLUSIVE ? 'x' : 's');
			any = 1;
		}
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
	struct lock_req reqs[4];
	int64_t id = ++m->next_id;
	struct mtask *t = &m->t[id];
	uint32_t n = 1 + m_rand(m, 3), i;
	int r;

	for (r = 0; r < M_NAMES; r++)
		t->mode[r] = M_NONE;
	for (i = 0; i < n; i++) {
		r = (int)m_rand(m, M_NAMES);
		snprintf(names[i], sizeof names[i], "r%d", r);
		reqs[i].resource = names[i];
		reqs[i].mode = m_rand(m, 3) == 0 ? LOCK_EXCLUSIVE : LOCK_SHARED;
		if (t->mode[r] != LOCK_EXCLUSIVE)
			t->mode[r] = reqs[i].mode;
	}
	assert_int_equal(lockmgr_enqueue(lm, id, reqs, n), 0);
	t->state = 1;
	m->live[m->nlive++] = id;
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
	int step, grants = 0, blocked = 0;

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
	assert_true(grants > M_STEPS / 10);
	assert_true(blocked > M_STEPS / 10);
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
		T(test_random_against_model),
	};

	return cmocka_run_group_tests_name("lockmgr", tests, NULL, NULL);
}
