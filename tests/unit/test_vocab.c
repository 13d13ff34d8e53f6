/*
 * test_vocab.c: the protocol's words, from the .def files of share/ (vocab.h): each
 * name parses back to itself, finality and retries are DESIGN's, the task
 * types are DESIGN's, and the docs that list them list the same names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depotd.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

/* Where the Makefile says the sources are, for the docs. */
#ifndef DEPOT_SRCDIR
#define DEPOT_SRCDIR "."
#endif

/* Most names one list of a doc holds. */
#define DOC_WORDS_MAX 64

struct doc_words {
	char *w[DOC_WORDS_MAX];
	size_t n;
};

static int old_retriable(enum task_state state, const char *reason);
static char *doc_read(const char *name);
static const char *doc_after(const char *doc, const char *marker);
static void words_add(struct doc_words *d, const char *s, size_t len);
static void words_free(struct doc_words *d);
static void doc_sentence_words(const char *doc, const char *marker, struct doc_words *d);
static void doc_table_cells(const char *doc, const char *from, const char *to, size_t col,
    struct doc_words *d);
static void cell_unquote(char *cell);

/* DESIGN §5, the contract: these states, the last three final. */
static const char *const design_states[] = {
	"waiting", "running", "canceling", "completed", "failed", "canceled",
};
/* DESIGN §5: the reasons of a task's error, in its order. */
static const char *const design_reasons[] = {
	"exit-status", "exception", "canceled-by-user", "worker-missing", "worker-restarted",
	"daemon-restarted", "timeout", "daemon-stopped", "restored", "dependency-failed",
};
/* DESIGN §7: the worker protocol. */
static const char *const design_worker_cmds[] = { "hello", "next", "heartbeat", "done" };
/* DESIGN §5: the task types, in the order the daemon names them when it refuses another. */
static const char *const design_task_types[] = {
	"exec", "sync", "publish", "orphans", "backup", "restore",
};

/*
 * daemon/tasks.c's retriable() before reasons.def: task_retriable must
 * answer as it did for every state and reason, known or not.
 */
static int old_retriable(enum task_state state, const char *reason)
{
	if (reason == NULL)
		return 0;
	if (state == TASK_FAILED)
		return strcmp(reason, "exception") == 0;
	return state == TASK_CANCELED && (strcmp(reason, "worker-missing") == 0 ||
	    strcmp(reason, "daemon-restarted") == 0 || strcmp(reason, "daemon-stopped") == 0);
}

/* DEPOT_SRCDIR/name, whole; fails the test when it cannot be read. */
static char *doc_read(const char *name)
{
	char path[4096];
	FILE *f;
	long len;
	char *buf;

	snprintf(path, sizeof path, "%s/%s", DEPOT_SRCDIR, name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	assert_non_null(buf = malloc((size_t)len + 1));
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Just past marker in doc; fails the test when marker is not there. */
static const char *doc_after(const char *doc, const char *marker)
{
	const char *p = strstr(doc, marker);

	if (p == NULL)
		fail_msg("the doc no longer says \"%s\"", marker);
	return p + strlen(marker);
}

static void words_add(struct doc_words *d, const char *s, size_t len)
{
	assert_true(d->n < DOC_WORDS_MAX);
	assert_non_null(d->w[d->n] = strndup(s, len));
	d->n++;
}

static void words_free(struct doc_words *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->w[i]);
	d->n = 0;
}

/* The `quoted` words of the sentence that follows marker, up to its full stop. */
static void doc_sentence_words(const char *doc, const char *marker, struct doc_words *d)
{
	const char *p = doc_after(doc, marker), *end;

	for (; *p != '\0' && *p != '.' && *p != ';'; p++) {
		if (*p != '`')
			continue;
		assert_non_null(end = strchr(p + 1, '`'));
		words_add(d, p + 1, (size_t)(end - p - 1));
		p = end;
	}
}

/* A table cell without its blanks and its `quotes`. */
static void cell_unquote(char *cell)
{
	size_t len;

	while (*cell == ' ')
		memmove(cell, cell + 1, strlen(cell));
	len = strlen(cell);
	while (len > 0 && cell[len - 1] == ' ')
		cell[--len] = '\0';
	if (len >= 2 && cell[0] == '`' && cell[len - 1] == '`') {
		memmove(cell, cell + 1, len - 2);
		cell[len - 2] = '\0';
	}
}

/* Column col (0: the first) of each table row "| `…` | …" between from and to. */
static void doc_table_cells(const char *doc, const char *from, const char *to, size_t col,
    struct doc_words *d)
{
	const char *p = doc_after(doc, from), *stop = strstr(p, to);

	assert_non_null(stop);
	for (; p != NULL && p < stop; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *cell = p + 1;
		char buf[512];

		if (strncmp(p, "| `", 3) != 0)
			continue;
		for (size_t i = 0; i < col; i++) {
			assert_non_null(cell = strchr(cell, '|'));
			cell++;
		}
		snprintf(buf, sizeof buf, "%.*s", (int)strcspn(cell, "|\n"), cell);
		cell_unquote(buf);
		words_add(d, buf, strlen(buf));
	}
}

static void every_state_name_parses_back_to_its_state(void **state)
{
	(void)state;
	assert_int_equal(TASK_STATE_COUNT, sizeof design_states / sizeof design_states[0]);
	for (int i = 0; i < TASK_STATE_COUNT; i++) {
		enum task_state s;

		assert_string_equal(task_state_name((enum task_state)i), design_states[i]);
		assert_int_equal(task_state_parse(design_states[i], &s), 0);
		assert_int_equal(s, i);
		assert_true(strlen(task_state_summary(s)) > 0);
	}
}

static void unknown_and_null_names_parse_to_nothing(void **state)
{
	enum task_state s = TASK_RUNNING;
	enum task_reason r = REASON_TIMEOUT;
	enum worker_cmd w = WCMD_DONE;
	enum command c = CMD_ping;
	enum task_type_id k = TASKTYPE_SYNC;

	(void)state;
	assert_int_equal(task_state_parse("active", &s), -1);
	assert_int_equal(task_state_parse("Waiting", &s), -1);
	assert_int_equal(task_state_parse("", &s), -1);
	assert_int_equal(task_state_parse(NULL, &s), -1);
	assert_int_equal(s, TASK_RUNNING);
	assert_int_equal(task_reason_parse("canceled", &r), -1);
	assert_int_equal(task_reason_parse(NULL, &r), -1);
	assert_int_equal(r, REASON_TIMEOUT);
	assert_int_equal(worker_cmd_parse("ping", &w), -1);
	assert_int_equal(worker_cmd_parse(NULL, &w), -1);
	assert_int_equal(w, WCMD_DONE);
	assert_int_equal(command_parse("hello", &c), -1);
	assert_int_equal(command_parse("task", &c), -1);
	assert_int_equal(command_parse(NULL, &c), -1);
	assert_int_equal(c, CMD_ping);
	assert_int_equal(task_type_parse("EXEC", &k), -1);
	assert_int_equal(task_type_parse("", &k), -1);
	assert_int_equal(task_type_parse(NULL, &k), -1);
	assert_int_equal(k, TASKTYPE_SYNC);
}

static void a_value_outside_a_list_is_named_and_judged_safely(void **state)
{
	(void)state;
	assert_string_equal(task_state_name(TASK_STATE_COUNT), "?");
	assert_false(task_state_final(TASK_STATE_COUNT));
	assert_string_equal(task_reason_name(REASON_COUNT), "?");
	assert_false(task_reason_retriable(REASON_COUNT));
	assert_string_equal(worker_cmd_name(WCMD_COUNT), "?");
	assert_string_equal(command_name(CMD_COUNT), "?");
	assert_string_equal(task_type_name(TASKTYPE_COUNT), "?");
	assert_string_equal(task_type_summary(TASKTYPE_COUNT), "?");
	/* An unknown command is granted nothing below everything. */
	assert_int_equal(command_access(CMD_COUNT), ACCESS_WRITE);
}

static void completed_failed_and_canceled_are_the_final_states(void **state)
{
	(void)state;
	assert_false(task_state_final(TASK_WAITING));
	assert_false(task_state_final(TASK_RUNNING));
	assert_false(task_state_final(TASK_CANCELING));
	assert_true(task_state_final(TASK_COMPLETED));
	assert_true(task_state_final(TASK_FAILED));
	assert_true(task_state_final(TASK_CANCELED));
}

static void every_reason_name_parses_back_and_ends_a_task_failed_or_canceled(void **state)
{
	(void)state;
	assert_int_equal(REASON_COUNT, sizeof design_reasons / sizeof design_reasons[0]);
	for (int i = 0; i < REASON_COUNT; i++) {
		enum task_reason r;

		assert_string_equal(task_reason_name((enum task_reason)i), design_reasons[i]);
		assert_int_equal(task_reason_parse(design_reasons[i], &r), 0);
		assert_int_equal(r, i);
		assert_true(task_reason_ends(r) == TASK_FAILED || task_reason_ends(r) == TASK_CANCELED);
		assert_true(strlen(task_reason_summary(r)) > 0);
	}
	/* DESIGN §7 and §11: a timeout fails the task; a user's cancel cancels it. */
	assert_int_equal(task_reason_ends(REASON_TIMEOUT), TASK_FAILED);
	assert_int_equal(task_reason_ends(REASON_EXIT_STATUS), TASK_FAILED);
	assert_int_equal(task_reason_ends(REASON_CANCELED_BY_USER), TASK_CANCELED);
	assert_int_equal(task_reason_ends(REASON_DEPENDENCY_FAILED), TASK_CANCELED);
}

static void retries_follow_exception_worker_missing_daemon_restarted_and_stopped(void **state)
{
	(void)state;
	for (int i = 0; i < REASON_COUNT; i++)
		assert_int_equal(task_reason_retriable((enum task_reason)i),
		    i == REASON_EXCEPTION || i == REASON_WORKER_MISSING ||
		    i == REASON_DAEMON_RESTARTED || i == REASON_DAEMON_STOPPED);
	/* DESIGN §11: never a user's cancel or a timeout. */
	assert_false(task_retriable(TASK_CANCELED, "canceled-by-user"));
	assert_false(task_retriable(TASK_FAILED, "timeout"));
	assert_true(task_retriable(TASK_FAILED, "exception"));
	assert_true(task_retriable(TASK_CANCELED, "daemon-stopped"));
}

static void task_retriable_answers_as_tasks_c_did_for_every_state_and_reason(void **state)
{
	const char *extra[] = { NULL, "", "bogus", "EXCEPTION", "canceled" };

	(void)state;
	for (int s = 0; s <= TASK_STATE_COUNT; s++) {
		for (int r = 0; r < REASON_COUNT; r++)
			assert_int_equal(task_retriable((enum task_state)s, design_reasons[r]),
			    old_retriable((enum task_state)s, design_reasons[r]));
		for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++)
			assert_int_equal(task_retriable((enum task_state)s, extra[k]),
			    old_retriable((enum task_state)s, extra[k]));
	}
}

static void every_worker_message_name_parses_back_to_its_message(void **state)
{
	(void)state;
	/* A message added to workermsg.def (the lead's ack) extends DESIGN's four. */
	assert_true(WCMD_COUNT >= sizeof design_worker_cmds / sizeof design_worker_cmds[0]);
	for (size_t i = 0; i < sizeof design_worker_cmds / sizeof design_worker_cmds[0]; i++) {
		enum worker_cmd w;

		assert_int_equal(worker_cmd_parse(design_worker_cmds[i], &w), 0);
		assert_string_equal(worker_cmd_name(w), design_worker_cmds[i]);
	}
	for (int i = 0; i < WCMD_COUNT; i++) {
		enum worker_cmd w;

		assert_int_equal(worker_cmd_parse(worker_cmd_name((enum worker_cmd)i), &w), 0);
		assert_int_equal(w, i);
		assert_true(strlen(worker_cmd_summary(w)) > 0);
	}
}

static void every_task_type_name_parses_back_to_its_type(void **state)
{
	char buf[128];

	(void)state;
	assert_int_equal(TASKTYPE_COUNT, sizeof design_task_types / sizeof design_task_types[0]);
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		enum task_type_id k;

		assert_string_equal(task_type_name((enum task_type_id)i), design_task_types[i]);
		assert_int_equal(task_type_parse(design_task_types[i], &k), 0);
		assert_int_equal(k, i);
		assert_true(strlen(task_type_summary(k)) > 0);
	}
	task_types_join(buf, sizeof buf);
	assert_string_equal(buf, "exec, sync, publish, orphans, backup, restore");
	/* Cut short, still a string. */
	task_types_join(buf, 8);
	assert_string_equal(buf, "exec, s");
}

static void every_command_name_parses_back_with_its_access_level(void **state)
{
	(void)state;
	for (int i = 0; i < CMD_COUNT; i++) {
		enum command c;

		assert_int_equal(command_parse(command_name((enum command)i), &c), 0);
		assert_int_equal(c, i);
	}
	/* DESIGN §10: socket_group reads and cancels, nothing else. */
	assert_int_equal(command_access(CMD_task_list), ACCESS_READ);
	assert_int_equal(command_access(CMD_task_cancel), ACCESS_CANCEL);
	assert_int_equal(command_access(CMD_task_submit), ACCESS_WRITE);
	assert_string_equal(command_name(CMD_task_submit), "task.submit");
}

static void states_join_into_lists_for_messages(void **state)
{
	char buf[256];

	(void)state;
	task_states_join(buf, sizeof buf, -1, "", ", ");
	assert_string_equal(buf, "waiting, running, canceling, completed, failed, canceled");
	task_states_join(buf, sizeof buf, 1, "", " or ");
	assert_string_equal(buf, "completed, failed or canceled");
	task_states_join(buf, sizeof buf, 0, "'", ", ");
	assert_string_equal(buf, "'waiting', 'running', 'canceling'");
	/* Cut short, still a string. */
	task_states_join(buf, 10, -1, "", ", ");
	assert_string_equal(buf, "waiting, ");
}

static void protocol_doc_lists_the_states_reasons_and_types_of_the_def_files(void **state)
{
	char *doc = doc_read("doc/protocol.md");
	struct doc_words d = { 0 };

	(void)state;
	doc_sentence_words(doc, "\n`state` is ", &d);
	assert_int_equal(d.n, TASK_STATE_COUNT);
	for (int i = 0; i < TASK_STATE_COUNT; i++)
		assert_string_equal(d.w[i], task_state_name((enum task_state)i));
	words_free(&d);
	doc_sentence_words(doc, "with R one of ", &d);
	assert_int_equal(d.n, REASON_COUNT);
	for (int i = 0; i < REASON_COUNT; i++)
		assert_string_equal(d.w[i], task_reason_name((enum task_reason)i));
	words_free(&d);
	doc_sentence_words(doc, "\n`type` is ", &d);
	assert_int_equal(d.n, TASKTYPE_COUNT);
	for (int i = 0; i < TASKTYPE_COUNT; i++)
		assert_string_equal(d.w[i], task_type_name((enum task_type_id)i));
	words_free(&d);
	free(doc);
}

static void protocol_doc_tables_list_the_commands_and_worker_messages(void **state)
{
	static const char *const levels[] = {
		[ACCESS_READ] = "read", [ACCESS_CANCEL] = "cancel", [ACCESS_WRITE] = "write",
	};
	char *doc = doc_read("doc/protocol.md");
	struct doc_words d = { 0 };

	(void)state;
	doc_table_cells(doc, "| cmd | access | args | result |", "### Pages", 0, &d);
	assert_int_equal(d.n, CMD_COUNT);
	for (int i = 0; i < CMD_COUNT; i++)
		assert_string_equal(d.w[i], command_name((enum command)i));
	words_free(&d);
	doc_table_cells(doc, "| cmd | access | args | result |", "### Pages", 1, &d);
	for (int i = 0; i < CMD_COUNT; i++)
		assert_string_equal(d.w[i], levels[command_access((enum command)i)]);
	words_free(&d);
	doc_table_cells(doc, "| cmd | args | result |", "\n\n", 0, &d);
	assert_int_equal(d.n, WCMD_COUNT);
	for (int i = 0; i < WCMD_COUNT; i++)
		assert_string_equal(d.w[i], worker_cmd_name((enum worker_cmd)i));
	words_free(&d);
	free(doc);
}

static void guide_reason_table_is_reasons_def(void **state)
{
	char *doc = doc_read("doc/guide.md");
	const char *table = "| reason | ends | retried | what happened |";
	struct doc_words name = { 0 }, ends = { 0 }, retried = { 0 }, what = { 0 };

	(void)state;
	doc_table_cells(doc, table, "\n\n", 0, &name);
	doc_table_cells(doc, table, "\n\n", 1, &ends);
	doc_table_cells(doc, table, "\n\n", 2, &retried);
	doc_table_cells(doc, table, "\n\n", 3, &what);
	assert_int_equal(name.n, REASON_COUNT);
	for (int i = 0; i < REASON_COUNT; i++) {
		enum task_reason r = (enum task_reason)i;

		assert_string_equal(name.w[i], task_reason_name(r));
		assert_string_equal(ends.w[i], task_state_name(task_reason_ends(r)));
		assert_string_equal(retried.w[i], task_reason_retriable(r) ? "yes" : "no");
		assert_string_equal(what.w[i], task_reason_summary(r));
	}
	words_free(&name);
	words_free(&ends);
	words_free(&retried);
	words_free(&what);
	free(doc);
}

/* DESIGN §5's lifecycle, move by move: the one table task_move checks every change against. */
static void the_lifecycle_allows_only_designs_moves(void **state)
{
	static const char *const legal[] = {
		"waiting>running", "waiting>failed", "waiting>canceled",
		"running>waiting", "running>canceling", "running>completed",
		"running>failed", "running>canceled",
		"canceling>completed", "canceling>failed", "canceling>canceled",
	};
	(void)state;
	for (int from = 0; from < TASK_STATE_COUNT; from++)
		for (int to = 0; to < TASK_STATE_COUNT; to++) {
			char move[64];
			int want = 0;

			snprintf(move, sizeof move, "%s>%s", task_state_name(from),
			    task_state_name(to));
			for (size_t i = 0; i < sizeof legal / sizeof *legal; i++)
				want |= strcmp(legal[i], move) == 0;
			if (task_state_move_legal(from, to) != want)
				fail_msg("%s: legal is %d, want %d", move,
				    task_state_move_legal(from, to), want);
		}
	assert_false(task_state_move_legal(TASK_STATE_COUNT, TASK_WAITING));
	assert_false(task_state_move_legal(TASK_RUNNING, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_state_name_parses_back_to_its_state),
		cmocka_unit_test(unknown_and_null_names_parse_to_nothing),
		cmocka_unit_test(a_value_outside_a_list_is_named_and_judged_safely),
		cmocka_unit_test(completed_failed_and_canceled_are_the_final_states),
		cmocka_unit_test(the_lifecycle_allows_only_designs_moves),
		cmocka_unit_test(every_reason_name_parses_back_and_ends_a_task_failed_or_canceled),
		cmocka_unit_test(retries_follow_exception_worker_missing_daemon_restarted_and_stopped),
		cmocka_unit_test(task_retriable_answers_as_tasks_c_did_for_every_state_and_reason),
		cmocka_unit_test(every_worker_message_name_parses_back_to_its_message),
		cmocka_unit_test(every_task_type_name_parses_back_to_its_type),
		cmocka_unit_test(every_command_name_parses_back_with_its_access_level),
		cmocka_unit_test(states_join_into_lists_for_messages),
		cmocka_unit_test(protocol_doc_lists_the_states_reasons_and_types_of_the_def_files),
		cmocka_unit_test(protocol_doc_tables_list_the_commands_and_worker_messages),
		cmocka_unit_test(guide_reason_table_is_reasons_def),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
