/*
 * test_tasktype.c: the table of task types (daemon/tasktype.c): every type
 * of share/tasktypes.def has its entry, names look up both ways, an
 * unknown name (an old database row's) has none and its hooks do nothing,
 * and each type has the hooks the strcmp chains it replaced gave it.
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
#include "worker.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

static struct task *submit(const char *json, char *err, size_t errlen);

/* validate_submit on the parsed json. */
static struct task *submit(const char *json, char *err, size_t errlen)
{
	cJSON *args = cJSON_Parse(json);
	struct task *t;

	if (args == NULL)
		fail_msg("test JSON does not parse: %s", json);
	err[0] = '\0';
	t = validate_submit(args, err, errlen);
	cJSON_Delete(args);
	return t;
}

static void every_type_of_the_def_has_an_entry_that_validates_and_runs(void **state)
{
	(void)state;
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		const struct task_type *tt = tasktype_get((enum task_type_id)i);

		assert_non_null(tt);
		assert_int_equal(tt->id, i);
		assert_non_null(tt->validate);
		assert_non_null(tt->run);
	}
	assert_int_equal(TASKTYPE_COUNT, 6);
}

static void names_look_up_their_entries_and_back(void **state)
{
	(void)state;
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		const char *name = task_type_name((enum task_type_id)i);
		const struct task_type *tt = tasktype_find(name);

		assert_ptr_equal(tt, tasktype_get((enum task_type_id)i));
		assert_string_equal(task_type_name(tt->id), name);
	}
	assert_int_equal(tasktype_find("exec")->id, TASKTYPE_EXEC);
	assert_int_equal(tasktype_find("restore")->id, TASKTYPE_RESTORE);
}

static void an_unknown_name_has_no_entry(void **state)
{
	(void)state;
	assert_null(tasktype_find("snapshot"));
	assert_null(tasktype_find("EXEC"));
	assert_null(tasktype_find("exec "));
	assert_null(tasktype_find(""));
	assert_null(tasktype_find(NULL));
	assert_null(tasktype_get(TASKTYPE_COUNT));
}

/*
 * What each type did before the table, site by site: the umask only exec
 * got (tasks.c), the feed only sync needs and the force only restore
 * honours (control.c), the records only sync, publish and restore make on
 * completion (workerproto.c), and the daemon-side preparation and release
 * every type but exec has (repos.c, restore.c).
 */
static void each_type_has_the_hooks_its_strcmp_sites_gave_it(void **state)
{
	const struct task_type *exec = tasktype_get(TASKTYPE_EXEC);

	(void)state;
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		const struct task_type *tt = tasktype_get((enum task_type_id)i);

		assert_int_equal(tt->with_umask, i == TASKTYPE_EXEC);
		assert_int_equal(tt->needs_feed, i == TASKTYPE_SYNC);
		assert_int_equal(tt->force_cancels, i == TASKTYPE_RESTORE);
		assert_int_equal(tt->done != NULL, i == TASKTYPE_SYNC ||
		    i == TASKTYPE_PUBLISH || i == TASKTYPE_RESTORE);
		assert_int_equal(tt->prepare != NULL, i != TASKTYPE_EXEC);
		assert_int_equal(tt->ended != NULL, i != TASKTYPE_EXEC);
	}
	assert_ptr_equal(exec->run, exec_run);
	assert_ptr_equal(tasktype_get(TASKTYPE_SYNC)->run, sync_run);
	assert_ptr_equal(tasktype_get(TASKTYPE_PUBLISH)->run, publish_run);
	assert_ptr_equal(tasktype_get(TASKTYPE_ORPHANS)->run, orphans_run);
	assert_ptr_equal(tasktype_get(TASKTYPE_BACKUP)->run, backup_run);
	assert_ptr_equal(tasktype_get(TASKTYPE_RESTORE)->run, restore_run);
}

static void a_submitted_task_holds_its_entry(void **state)
{
	static const char *const ok[TASKTYPE_COUNT] = {
		[TASKTYPE_EXEC] = "{\"type\": \"exec\", \"argv\": [\"true\"]}",
		[TASKTYPE_SYNC] = "{\"type\": \"sync\", \"repository\": \"fedora\"}",
		[TASKTYPE_PUBLISH] = "{\"type\": \"publish\", \"repository\": \"fedora\", \"version\": 2}",
		[TASKTYPE_ORPHANS] = "{\"type\": \"orphans\"}",
		[TASKTYPE_BACKUP] = "{\"type\": \"backup\"}",
		[TASKTYPE_RESTORE] = "{\"type\": \"restore\", \"path\": \"/srv/depot.tar.zst\"}",
	};
	char err[512];

	(void)state;
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		struct task *t = submit(ok[i], err, sizeof err);

		if (t == NULL)
			fail_msg("refused: %s: %s", ok[i], err);
		assert_ptr_equal(t->tt, tasktype_get((enum task_type_id)i));
		assert_string_equal(t->type, task_type_name((enum task_type_id)i));
		task_free(t);
	}
}

static void an_unknown_type_is_refused_naming_every_type(void **state)
{
	char err[512];

	(void)state;
	assert_null(submit("{\"type\": \"snapshot\"}", err, sizeof err));
	assert_string_equal(err, "unknown task type 'snapshot' (this daemon runs: exec, "
	    "sync, publish, orphans, backup, restore)");
}

/* A task read back with a type this daemon does not know: no field added, nothing recorded. */
static void the_hooks_of_an_unknown_type_do_nothing(void **state)
{
	struct task t = { .id = 7, .type = "snapshot" };
	cJSON *assignment = cJSON_CreateObject(), *result = cJSON_CreateObject();
	char err[64] = "";

	(void)state;
	assert_int_equal(tasktype_prepare(&t, assignment, err, sizeof err), 0);
	assert_null(assignment->child);
	assert_int_equal(tasktype_done(&t, result, err, sizeof err), 0);
	assert_null(result->child);
	tasktype_ended(&t, 1);
	tasktype_ended(&t, 0);
	assert_string_equal(err, "");
	cJSON_Delete(assignment);
	cJSON_Delete(result);
}

/* exec's assignment carries depotd's umask at start, and nothing else of its type's. */
static void an_exec_assignment_carries_the_umask(void **state)
{
	struct depotd d = { .task_umask = 027 };
	struct task t = { .id = 7, .type = "exec", .tt = tasktype_get(TASKTYPE_EXEC) };
	cJSON *assignment = cJSON_CreateObject();
	char err[64] = "";

	(void)state;
	D = &d;
	assert_int_equal(tasktype_prepare(&t, assignment, err, sizeof err), 0);
	assert_int_equal(cJSON_GetArraySize(assignment), 1);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(assignment, "umask")), 027);
	D = NULL;
	cJSON_Delete(assignment);
}

/* A restore's --base files: absolute paths, a bounded number, kept in its args for the worker. */
static void a_restore_takes_absolute_bases_only(void **state)
{
	char err[512], many[8192] = "{\"type\": \"restore\", \"path\": \"/a.tar\", \"bases\": [";
	struct task *t;
	const cJSON *bases;

	(void)state;
	t = submit("{\"type\": \"restore\", \"path\": \"/srv/a.tar\", \"bases\": [\"/b/full.tar\", "
	    "\"/c/i1.tar\"]}", err, sizeof err);
	if (t == NULL)
		fail_msg("refused: %s", err);
	bases = cJSON_GetObjectItemCaseSensitive(t->d->args, "bases");
	assert_int_equal(cJSON_GetArraySize(bases), 2);
	assert_string_equal(cJSON_GetArrayItem(bases, 1)->valuestring, "/c/i1.tar");
	task_free(t);
	t = submit("{\"type\": \"restore\", \"path\": \"/srv/a.tar\", \"bases\": []}", err, sizeof err);
	assert_non_null(t);
	assert_null(cJSON_GetObjectItemCaseSensitive(t->d->args, "bases"));
	task_free(t);
	assert_null(submit("{\"type\": \"restore\", \"path\": \"/a.tar\", \"bases\": [\"b.tar\"]}",
	    err, sizeof err));
	assert_non_null(strstr(err, "'bases' must hold absolute paths"));
	assert_null(submit("{\"type\": \"restore\", \"path\": \"/a.tar\", \"bases\": [1]}", err,
	    sizeof err));
	assert_non_null(strstr(err, "'bases' must hold absolute paths"));
	assert_null(submit("{\"type\": \"restore\", \"path\": \"/a.tar\", \"bases\": \"/b.tar\"}",
	    err, sizeof err));
	assert_non_null(strstr(err, "'bases' must be an array of at most 64 paths"));
	for (int i = 0; i < 65; i++)
		strcat(many, i ? ", \"/b.tar\"" : "\"/b.tar\"");
	strcat(many, "]}");
	assert_null(submit(many, err, sizeof err));
	assert_non_null(strstr(err, "'bases' must be an array of at most 64 paths"));
	/* Only a restore has bases: a backup's are not kept. */
	t = submit("{\"type\": \"backup\", \"bases\": [\"/b.tar\"]}", err, sizeof err);
	assert_non_null(t);
	assert_null(cJSON_GetObjectItemCaseSensitive(t->d->args, "bases"));
	task_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_of_the_def_has_an_entry_that_validates_and_runs),
		cmocka_unit_test(names_look_up_their_entries_and_back),
		cmocka_unit_test(an_unknown_name_has_no_entry),
		cmocka_unit_test(each_type_has_the_hooks_its_strcmp_sites_gave_it),
		cmocka_unit_test(a_submitted_task_holds_its_entry),
		cmocka_unit_test(an_unknown_type_is_refused_naming_every_type),
		cmocka_unit_test(the_hooks_of_an_unknown_type_do_nothing),
		cmocka_unit_test(an_exec_assignment_carries_the_umask),
		cmocka_unit_test(a_restore_takes_absolute_bases_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
