/*
 * model_repos.c: the repositories the console shows: what repo.list says
 * of each (latest version, files, size, publication), and its last sync
 * and publish, picked from task.list of its `repository:NAME` resource.
 */
#include "model.h"

#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void repo_clear(struct model_repo *r);
static void repo_tasks_clear(struct model_repo *r);
static int64_t jnum(const cJSON *o, const char *key);
static int64_t jtime(const cJSON *o, const char *key);

static int64_t jnum(const cJSON *o, const char *key)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 0;
}

static int64_t jtime(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
	int64_t ms;

	return s != NULL && time_parse_rfc3339(s, &ms) == 0 ? ms : 0;
}

static void repo_tasks_clear(struct model_repo *r)
{
	free(r->sync_reason);
	free(r->sync_message);
	free(r->sync_progress);
	r->sync_reason = r->sync_message = r->sync_progress = NULL;
	r->sync_id = r->publish_id = 0;
	r->tasks_known = 0;
}

static void repo_clear(struct model_repo *r)
{
	repo_tasks_clear(r);
	free(r->name);
	memset(r, 0, sizeof *r);
}

struct model_repo *model_repo(const struct model *m, const char *name)
{
	/* An entry moved over by model_set_repos has no name left. */
	for (size_t i = 0; i < m->nrepos; i++)
		if (m->repos[i].name != NULL && strcmp(m->repos[i].name, name) == 0)
			return &m->repos[i];
	return NULL;
}

/*
 * repo.list's answer. A repository listed before keeps its last sync and
 * publish until its tasks are read again, so the view does not blink.
 */
void model_set_repos(struct model *m, const cJSON *arr)
{
	struct model_repo *rs, *old;
	const cJSON *j;
	size_t n, k = 0;

	if (!cJSON_IsArray(arr))
		return;
	n = (size_t)cJSON_GetArraySize(arr);
	if ((rs = calloc(n + 1, sizeof *rs)) == NULL)
		return;
	cJSON_ArrayForEach(j, arr) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "name"));
		struct model_repo *r = &rs[k];

		if (name == NULL)
			continue;
		if ((old = model_repo(m, name)) != NULL) {
			/* Its task fields move over; the old entry is left without them. */
			*r = *old;
			old->sync_reason = old->sync_message = old->sync_progress = NULL;
			old->name = NULL;
		} else if ((r->name = strdup(name)) == NULL)
			continue;
		r->latest = jnum(j, "latest_version");
		r->files = jnum(j, "files");
		r->size = jnum(j, "size");
		r->published = jnum(j, "published_version");
		r->published_ms = jtime(j, "published_at");
		k++;
	}
	model_repos_free(m);
	m->repos = rs;
	m->nrepos = k;
	m->repos_known = 1;
	m->generation++;
}

/* task.list of repository:NAME, newest first: the first sync and the first publish in it. */
void model_set_repo_tasks(struct model *m, const char *name, const cJSON *tasks)
{
	struct model_repo *r = model_repo(m, name);
	const cJSON *t;

	if (r == NULL || !cJSON_IsArray(tasks))
		return;
	repo_tasks_clear(r);
	r->tasks_known = 1;
	cJSON_ArrayForEach(t, tasks) {
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "type"));
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "state"));
		enum task_type_id k;

		if (type == NULL || task_type_parse(type, &k) < 0 || jnum(t, "id") <= 0)
			continue;
		if (k == TASKTYPE_SYNC && r->sync_id == 0) {
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(t, "error");
			struct model_task *mt;
			char prog[128];

			r->sync_id = jnum(t, "id");
			r->sync_state = model_state_parse(state);
			r->sync_ms = jtime(t, "finished_at");
			if (r->sync_ms == 0)
				r->sync_ms = jtime(t, "started_at");
			if (r->sync_ms == 0)
				r->sync_ms = jtime(t, "created_at");
			if (cJSON_IsObject(e)) {
				const char *reason = cJSON_GetStringValue(
				    cJSON_GetObjectItemCaseSensitive(e, "reason"));
				const char *msg = cJSON_GetStringValue(
				    cJSON_GetObjectItemCaseSensitive(e, "message"));

				r->sync_reason = reason ? strdup(reason) : NULL;
				r->sync_message = msg ? strdup(msg) : NULL;
			}
			/* Its progress as the tasks pane shows it: one parser, one format. */
			if (!task_state_final(r->sync_state)) {
				struct model one;

				model_init(&one);
				if (model_upsert_task(&one, t) == 1 && (mt = model_task(&one, r->sync_id))) {
					model_fmt_progress(mt, prog, sizeof prog);
					r->sync_progress = strdup(prog);
				}
				model_free(&one);
			}
		} else if (k == TASKTYPE_PUBLISH && r->publish_id == 0) {
			r->publish_id = jnum(t, "id");
			r->publish_state = model_state_parse(state);
		}
	}
	m->generation++;
}

void model_repos_free(struct model *m)
{
	for (size_t i = 0; i < m->nrepos; i++)
		repo_clear(&m->repos[i]);
	free(m->repos);
	m->repos = NULL;
	m->nrepos = 0;
}
