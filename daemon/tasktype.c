/* tasktype.c: the table of task types (share/tasktypes.def), one entry each, and the calls through it. */
#include "depotd.h"
#include "worker.h"

#include <stdio.h>

static int sync_done(struct task *t, cJSON *result, char *err, size_t errlen);
static int publish_done(struct task *t, cJSON *result, char *err, size_t errlen);

/*
 * Indexed by tasktypes.def's ids. The daemon's side of sync, publish and
 * orphans is in repos.c, of backup and restore in restore.c; the workers'
 * in the file named after each.
 */
static const struct task_type task_types[TASKTYPE_COUNT] = {
	[TASKTYPE_EXEC] = {
		.id = TASKTYPE_EXEC,
		.validate = validate_exec_task,
		.with_umask = 1,
		.run = exec_run,
	},
	[TASKTYPE_SYNC] = {
		.id = TASKTYPE_SYNC,
		.validate = validate_repo_task,
		.needs_feed = 1,
		.prepare = repos_prepare_assignment,
		.done = sync_done,
		.ended = repos_task_ended,
		.run = sync_run,
	},
	[TASKTYPE_PUBLISH] = {
		.id = TASKTYPE_PUBLISH,
		.validate = validate_repo_task,
		.prepare = repos_prepare_assignment,
		.done = publish_done,
		.ended = repos_task_ended,
		.run = publish_run,
	},
	[TASKTYPE_ORPHANS] = {
		.id = TASKTYPE_ORPHANS,
		.validate = validate_repo_task,
		.prepare = repos_prepare_assignment,
		.ended = repos_task_ended,
		.run = orphans_run,
	},
	[TASKTYPE_BACKUP] = {
		.id = TASKTYPE_BACKUP,
		.validate = validate_snapshot_task,
		.prepare = snapshot_prepare_assignment,
		.ended = snapshot_task_ended,
		.run = backup_run,
	},
	[TASKTYPE_RESTORE] = {
		.id = TASKTYPE_RESTORE,
		.validate = validate_snapshot_task,
		.force_cancels = 1,
		.prepare = snapshot_prepare_assignment,
		.done = restore_apply_online,
		.ended = snapshot_task_ended,
		.run = restore_run,
	},
};

/* A sync's worker wrote the new version's file list; its result says where, for the daemon only. */
static int sync_done(struct task *t, cJSON *result, char *err, size_t errlen)
{
	if (result == NULL) {
		snprintf(err, errlen, "the worker reported no sync result");
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(result, "list");
	return repos_sync_done(t, result, err, errlen);
}

static int publish_done(struct task *t, cJSON *result, char *err, size_t errlen)
{
	if (repos_publish_done(t, result) < 0) {
		snprintf(err, errlen, "recording the publication: %s", store_errmsg(D->store));
		return -1;
	}
	return 0;
}

const struct task_type *tasktype_get(enum task_type_id id)
{
	return (unsigned)id < TASKTYPE_COUNT ? &task_types[id] : NULL;
}

const struct task_type *tasktype_find(const char *name)
{
	enum task_type_id id;

	return task_type_parse(name, &id) == 0 ? tasktype_get(id) : NULL;
}

int tasktype_prepare(const struct task *t, cJSON *assignment, char *err, size_t errlen)
{
	if (t->tt == NULL)
		return 0;
	if (t->tt->with_umask)
		cJSON_AddNumberToObject(assignment, "umask", D->task_umask);
	return t->tt->prepare != NULL ? t->tt->prepare(t, assignment, err, errlen) : 0;
}

int tasktype_done(struct task *t, cJSON *result, char *err, size_t errlen)
{
	return t->tt != NULL && t->tt->done != NULL ? t->tt->done(t, result, err, errlen) : 0;
}

void tasktype_ended(const struct task *t, int completed)
{
	if (t->tt != NULL && t->tt->ended != NULL)
		t->tt->ended(t, completed);
}
