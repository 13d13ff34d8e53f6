/* validate.c: checks of request arguments; every refusal names the field and what was wrong. */
#include "backupfmt.h"
#include "calendar.h"
#include "depotd.h"
#include "envdeny.h"
#include "jsonutil.h"
#include "repeats.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_MAX 1024
#define ARG_MAX_BYTES 65536
#define NAME_MAX_BYTES 200
#define RESOURCES_MAX 64
#define TIMEOUT_MAX_MS (30LL * 86400000)
/* [tasks] env_deny as the daemon was started with (validate_set_env_deny), read once. */
static struct envdeny env_deny;
static int env_deny_set;

static int has_control_chars(const char *s);
static int first_repeat(const cJSON *env, int limit);
static int validate_cwd(const cJSON *args, cJSON *out, char *err, size_t errlen);
static int validate_env(const cJSON *args, cJSON *out, char *err, size_t errlen);

static int has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int validate_resource_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= DEPOT_RESOURCE_MAX && !has_control_chars(s);
}

int validate_worker_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > DEPOT_WORKER_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/*
 * Every key and string of a whole request (cmd and args, at any depth) is
 * UTF-8: JSON is UTF-8 text, and what is refused here can never come back
 * out in a reply, an event or another client's listing as bytes a JSON
 * reader must reject. The message names the first field that is not.
 */
int validate_utf8(const cJSON *req, int64_t *index, char *err, size_t errlen)
{
	static const char batch_entry[] = "args.tasks[";
	char path[256];
	int is_key;

	char *rest;

	*index = -1;
	if (!json_find_bad_utf8(req, path, sizeof path, &is_key))
		return 0;
	/* In a task.submit_batch, which task, as every refusal of one says it: the submitter names its line. */
	if (strncmp(path, batch_entry, sizeof batch_entry - 1) == 0) {
		*index = strtoll(path + sizeof batch_entry - 1, &rest, 10);
		if (strncmp(rest, "].", 2) == 0) {
			snprintf(err, errlen, "tasks[%lld]: %s'%s' is not valid UTF-8%s",
			    (long long)*index, is_key ? "the key " : "", rest + 2,
			    is_key ? " (its bytes that are not are shown as \\xNN)" : " text");
			return -1;
		}
	}
	if (is_key)
		snprintf(err, errlen, "the key '%s' is not valid UTF-8 (its bytes "
		    "that are not are shown as \\xNN)", path);
	else
		snprintf(err, errlen, "'%s' is not valid UTF-8 text", path);
	return -1;
}

int validate_int(const cJSON *args, const char *field, int required,
    int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, field);

	if (v == NULL || cJSON_IsNull(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "missing '%s'", field);
		return -1;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < (double)min || v->valuedouble > (double)max) {
		snprintf(err, errlen, "'%s' must be a whole number from %lld to %lld",
		    field, (long long)min, (long long)max);
		return -1;
	}
	*out = (int64_t)v->valuedouble;
	return 1;
}

int validate_string(const cJSON *args, const char *field, int required,
    size_t maxlen, const char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, field);

	if (v == NULL || cJSON_IsNull(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "missing '%s'", field);
		return -1;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) > maxlen) {
		snprintf(err, errlen, "'%s' must be a string of at most %zu bytes",
		    field, maxlen);
		return -1;
	}
	*out = v->valuestring;
	return 1;
}

int validate_ids(const cJSON *args, const char *field, int64_t **ids,
    size_t *n, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(args, field), *v;
	size_t i = 0, count;

	if (!cJSON_IsArray(arr) || (count = (size_t)cJSON_GetArraySize(arr)) == 0 ||
	    count > 100000) {
		snprintf(err, errlen, "'%s' must be an array of 1 to 100000 task ids", field);
		return -1;
	}
	if ((*ids = calloc(count, sizeof **ids)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(v, arr) {
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		    v->valuedouble < 1 || v->valuedouble > 9e15) {
			snprintf(err, errlen, "'%s' item %zu is not a task id (a positive "
			    "whole number)", field, i + 1);
			free(*ids);
			*ids = NULL;
			return -1;
		}
		(*ids)[i++] = (int64_t)v->valuedouble;
	}
	*n = count;
	return 0;
}

static int parse_resources(struct task *t, const cJSON *arr, char *err, size_t errlen)
{
	const cJSON *r;
	size_t count;

	if (arr == NULL || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr) || (count = (size_t)cJSON_GetArraySize(arr)) > RESOURCES_MAX) {
		snprintf(err, errlen, "'resources' must be an array of at most %d "
		    "{\"name\", \"mode\"} objects", RESOURCES_MAX);
		return -1;
	}
	if ((t->res = calloc(count + 1, sizeof *t->res)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(r, arr) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "name"));
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(r, "mode");
		enum lock_mode m = LOCK_EXCLUSIVE;

		if (name == NULL || !validate_resource_name(name)) {
			snprintf(err, errlen, "resource %zu: 'name' must be 1 to %d bytes "
			    "without control characters", (size_t)t->nres + 1, DEPOT_RESOURCE_MAX);
			return -1;
		}
		if (mode != NULL && !cJSON_IsNull(mode) &&
		    lock_mode_parse(cJSON_GetStringValue(mode), &m) < 0) {
			snprintf(err, errlen, "resource '%s': 'mode' must be "
			    "\"exclusive\", \"shared\" or \"slot\"", name);
			return -1;
		}
		t->res[t->nres].name = strdup(name);
		t->res[t->nres].mode = m;
		if (t->res[t->nres++].name == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static char *default_name(const cJSON *argv)
{
	char buf[NAME_MAX_BYTES + 1] = "";
	const cJSON *a;
	size_t len = 0;

	cJSON_ArrayForEach(a, argv) {
		int n = snprintf(buf + len, sizeof buf - len, "%s%s", len ? " " : "",
		    a->valuestring);
		if (n < 0 || (size_t)n >= sizeof buf - len) {
			len = sizeof buf - 1;
			break;
		}
		len += (size_t)n;
	}
	/* Cut a UTF-8 character the truncation split. */
	if (len == sizeof buf - 1)
		buf[utf8_cut(buf, len)] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return strdup(buf);
}

/* What every task type takes: name, timeout, (DESIGN §11) after and retries, priority and a start time. */
struct common_args {
	const char *name;
	int64_t timeout, after, retries, priority, not_before;
};

static int validate_common(const cJSON *args, struct common_args *c, char *err, size_t errlen)
{
	const char *at = NULL;

	if (validate_string(args, "name", 0, NAME_MAX_BYTES, &c->name, err, errlen) < 0)
		return -1;
	if (c->name != NULL && (c->name[0] == '\0' || has_control_chars(c->name))) {
		snprintf(err, errlen, "'name' must be non-empty, without control characters");
		return -1;
	}
	if (validate_int(args, "timeout_ms", 0, 1, TIMEOUT_MAX_MS, &c->timeout, err, errlen) < 0 ||
	    validate_int(args, "after", 0, 1, INT64_C(9000000000000000), &c->after, err, errlen) < 0 ||
	    validate_int(args, "retries", 0, 0, 100, &c->retries, err, errlen) < 0 ||
	    validate_int(args, "priority", 0, TASK_PRIORITY_MIN, TASK_PRIORITY_MAX, &c->priority,
	    err, errlen) < 0 ||
	    validate_string(args, "at", 0, 64, &at, err, errlen) < 0)
		return -1;
	c->not_before = 0;
	if (at != NULL && time_parse_rfc3339(at, &c->not_before) < 0) {
		snprintf(err, errlen, "'at' = '%s' is not an RFC 3339 time "
		    "(2026-11-25T03:00:00Z, 2026-11-25T04:00:00+01:00)", at);
		return -1;
	}
	/* A time already past starts now; one before 1970 is a mistake, not "now". */
	if (at != NULL && c->not_before < 0) {
		snprintf(err, errlen, "'at' = '%s' is before 1970", at);
		return -1;
	}
	return 0;
}

static void apply_common(struct task *t, const struct common_args *c)
{
	t->d->timeout_ms = c->timeout;
	t->after = c->after;
	t->retries = (int)c->retries;
	t->priority = (int)c->priority;
	t->not_before = c->not_before;
}

/*
 * A task whose reservations (n of them, at most two) come with its type;
 * args starts empty. NULL (out of memory) with err.
 */
static struct task *fixed_task(const char *type, const char *default_name,
    const struct task_res *res, size_t n, const struct common_args *c, char *err,
    size_t errlen)
{
	struct task *t = task_new();
	int short_of_memory = 0;

	if (t == NULL || (t->res = calloc(n, sizeof *t->res)) == NULL) {
		task_free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->type = strdup(type);
	t->d->name = strdup(c->name ? c->name : default_name);
	apply_common(t, c);
	t->d->args = cJSON_CreateObject();
	for (size_t i = 0; i < n; i++) {
		t->res[i].name = strdup(res[i].name);
		t->res[i].mode = res[i].mode;
		short_of_memory |= t->res[i].name == NULL;
	}
	t->nres = n;
	if (t->type == NULL || t->d->name == NULL || t->d->args == NULL || short_of_memory) {
		task_free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return t;
}

/* The repository and snapshot types name no resources and no command: their reservation is fixed. */
static int refuse_argv(const cJSON *args, const char *type, char *err, size_t errlen)
{
	if (cJSON_GetObjectItemCaseSensitive(args, "argv") == NULL &&
	    cJSON_GetObjectItemCaseSensitive(args, "resources") == NULL)
		return 0;
	snprintf(err, errlen, "a %s task takes no 'argv' or 'resources': its "
	    "reservations are fixed", type);
	return -1;
}

/*
 * sync and publish reserve their repository, orphans `content` exclusive,
 * so it never deletes what a running backup's snapshot or a running sync's
 * downloads hold (DESIGN §5): the submitter names no resources and no
 * command.
 */
struct task *validate_repo_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen)
{
	const char *repo = NULL, *type = task_type_name(tt->id);
	struct common_args c = { 0 };
	int64_t version = 0;
	int is_orphans = tt->id == TASKTYPE_ORPHANS;
	char buf[NAME_MAX_BYTES + 1], res[DEPOT_RESOURCE_MAX + 1];
	struct task *t;

	if (refuse_argv(args, type, err, errlen) < 0)
		return NULL;
	if (!is_orphans) {
		if (validate_string(args, "repository", 1, 64, &repo, err, errlen) < 0)
			return NULL;
		if (!repo_name_valid(repo)) {
			snprintf(err, errlen, "bad repository name '%s' (letters, digits, '.', "
			    "'_' and '-', 1 to 64)", repo);
			return NULL;
		}
	}
	if (tt->id == TASKTYPE_PUBLISH &&
	    validate_int(args, "version", 0, 1, INT64_C(9000000000000000), &version,
	    err, errlen) < 0)
		return NULL;
	if (validate_common(args, &c, err, errlen) < 0)
		return NULL;
	snprintf(buf, sizeof buf, is_orphans ? "orphans clean" : "%s %s", type, repo);
	snprintf(res, sizeof res, is_orphans ? CONTENT_RESOURCE : "repository:%s", repo);
	/*
	 * A sync also holds `content` shared: what it downloads is referenced
	 * by no version until its version is recorded, and orphan cleanup
	 * must not take it for an orphan meanwhile.
	 */
	struct task_res fixed[2] = { { res, LOCK_EXCLUSIVE }, { CONTENT_RESOURCE, LOCK_SHARED } };
	if ((t = fixed_task(type, buf, fixed, tt->id == TASKTYPE_SYNC ? 2 : 1, &c, err,
	    errlen)) == NULL)
		return NULL;
	if (repo != NULL)
		cJSON_AddStringToObject(t->d->args, "repository", repo);
	if (version > 0)
		cJSON_AddNumberToObject(t->d->args, "version", (double)version);
	return t;
}

/*
 * A restore's "bases": where the worker may find an incremental's bases
 * besides the archive's directory, absolute (the daemon's working directory
 * is not the submitter's), copied into the task's args.
 */
static int validate_bases(const cJSON *args, cJSON *into, char *err, size_t errlen)
{
	const cJSON *bases = cJSON_GetObjectItemCaseSensitive(args, "bases"), *b;
	cJSON *copy;

	if (bases == NULL || cJSON_IsNull(bases))
		return 0;
	if (!cJSON_IsArray(bases) || cJSON_GetArraySize(bases) > BACKUP_MAX_BASES) {
		snprintf(err, errlen, "'bases' must be an array of at most %d paths", BACKUP_MAX_BASES);
		return -1;
	}
	cJSON_ArrayForEach(b, bases)
		if (!cJSON_IsString(b) || b->valuestring[0] != '/' || strlen(b->valuestring) > 4000 ||
		    has_control_chars(b->valuestring)) {
			snprintf(err, errlen, "'bases' must hold absolute paths of at most 4000 bytes "
			    "(the daemon's working directory is not yours)");
			return -1;
		}
	if (into != NULL && cJSON_GetArraySize(bases) > 0 &&
	    ((copy = cJSON_Duplicate(bases, 1)) == NULL ||
	    !cJSON_AddItemToObject(into, "bases", copy))) {
		cJSON_Delete(copy);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * A restore takes `depot` exclusive: it replaces everything, so it runs
 * alone. A backup takes `content` shared: it copies the database at one
 * instant and then reads immutable content, so everything but orphan
 * cleanup and another backup runs beside it (DESIGN §9).
 */
struct task *validate_snapshot_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen)
{
	int is_restore = tt->id == TASKTYPE_RESTORE;
	const char *path = NULL, *type = task_type_name(tt->id);
	const cJSON *force = cJSON_GetObjectItemCaseSensitive(args, "force");
	const cJSON *incremental = cJSON_GetObjectItemCaseSensitive(args, "incremental");
	struct common_args c = { 0 };
	char buf[NAME_MAX_BYTES + 1];
	struct task *t;

	if (refuse_argv(args, type, err, errlen) < 0)
		return NULL;
	if (validate_string(args, is_restore ? "path" : "output", is_restore, 4000, &path,
	    err, errlen) < 0)
		return NULL;
	if (path != NULL && path[0] != '/') {
		snprintf(err, errlen, "'%s' must be an absolute path (the daemon's working "
		    "directory is not yours)", is_restore ? "path" : "output");
		return NULL;
	}
	if (force != NULL && !cJSON_IsBool(force)) {
		snprintf(err, errlen, "'force' must be true or false");
		return NULL;
	}
	if (incremental != NULL && (!cJSON_IsBool(incremental) || is_restore)) {
		snprintf(err, errlen, is_restore ? "a restore takes no 'incremental'" :
		    "'incremental' must be true or false");
		return NULL;
	}
	if (validate_common(args, &c, err, errlen) < 0 ||
	    (is_restore && validate_bases(args, NULL, err, errlen) < 0))
		return NULL;
	snprintf(buf, sizeof buf, "%s%s%s", is_restore ? "restore " :
	    cJSON_IsTrue(incremental) ? "incremental backup" : "backup",
	    is_restore ? path : path ? " to " : "", is_restore ? "" : path ? path : "");
	/*
	 * Backups exclude one another (`backup` exclusive): two writing one
	 * name, or one made while another's FILE.part looks stale, would
	 * replace each other's archive.
	 */
	struct task_res restore_res = { "depot", LOCK_EXCLUSIVE };
	struct task_res backup_res[2] = { { CONTENT_RESOURCE, LOCK_SHARED },
	    { BACKUP_RESOURCE, LOCK_EXCLUSIVE } };
	if ((t = fixed_task(type, buf, is_restore ? &restore_res : backup_res, is_restore ? 1 : 2,
	    &c, err, errlen)) == NULL)
		return NULL;
	if (cJSON_IsTrue(incremental))
		cJSON_AddBoolToObject(t->d->args, "incremental", 1);
	if (path != NULL)
		cJSON_AddStringToObject(t->d->args, is_restore ? "path" : "output", path);
	if (cJSON_IsTrue(force))
		cJSON_AddBoolToObject(t->d->args, "force", 1);
	if (is_restore && validate_bases(args, t->d->args, err, errlen) < 0) {
		task_free(t);
		return NULL;
	}
	return t;
}

struct task *validate_submit(const cJSON *args, char *err, size_t errlen)
{
	const char *type = NULL;
	const struct task_type *tt;
	char names[128];
	struct task *t;

	if (!cJSON_IsObject(args)) {
		snprintf(err, errlen, "'args' must be an object");
		return NULL;
	}
	if (validate_string(args, "type", 1, 32, &type, err, errlen) < 0)
		return NULL;
	if ((tt = tasktype_find(type)) == NULL) {
		task_types_join(names, sizeof names);
		snprintf(err, errlen, "unknown task type '%s' (this daemon runs: %s)", type, names);
		return NULL;
	}
	if ((t = tt->validate(tt, args, err, errlen)) != NULL)
		t->tt = tt;
	return t;
}

void validate_set_env_deny(const char *patterns)
{
	envdeny_compile(&env_deny, patterns);
	env_deny_set = 1;
}

int validate_env_name(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= TASK_ENV_NAME_MAX && strchr(name, '=') == NULL &&
	    !has_control_chars(name);
}

/* The submitter's working directory (DESIGN §5): absolute, since the daemon's is not theirs. */
static int validate_cwd(const cJSON *args, cJSON *out, char *err, size_t errlen)
{
	const char *cwd = NULL;

	if (validate_string(args, "cwd", 0, TASK_CWD_MAX, &cwd, err, errlen) < 0)
		return -1;
	if (cwd == NULL)
		return 0;
	if (cwd[0] != '/') {
		snprintf(err, errlen, "'cwd' must be an absolute path (the daemon's working "
		    "directory is not yours), not '%.200s'", cwd);
		return -1;
	}
	return cJSON_AddStringToObject(out, "cwd", cwd) == NULL ? -1 : 0;
}

/*
 * The place (from 1) of the first of env's first limit variables whose
 * name an earlier one has, 0 when none, -1 when out of memory: what
 * looking each name up among all would find, in O(n log n) rather than
 * O(n²) (2,048 variables: 2 million comparisons, the loop stalled).
 */
static int first_repeat(const cJSON *env, int limit)
{
	struct name_ref *all;
	unsigned char *repeat;
	const cJSON *v;
	int seen = 0, first = 0;
	size_t named = 0;

	if (limit <= 0)
		return 0;
	all = malloc((size_t)limit * sizeof *all);
	repeat = calloc((size_t)limit, 1);
	if (all == NULL || repeat == NULL) {
		free(all);
		free(repeat);
		return -1;
	}
	cJSON_ArrayForEach(v, env) {
		if (seen == limit)
			break;
		if (v->string != NULL)
			all[named++] = (struct name_ref){ v->string, strlen(v->string), (size_t)seen };
		seen++;
	}
	names_mark_repeats(all, named, repeat);
	for (int i = 0; i < seen && first == 0; i++)
		if (repeat[i])
			first = i + 1;
	free(all);
	free(repeat);
	return first;
}

/*
 * The submitter's environment, {"NAME": "value"}, copied into out without
 * the names [tasks] env_deny matches, which out lists in "env_denied"
 * instead: a secret is never stored, and `task show` says what was left
 * out. The variables the worker sets itself are dropped (exec.c).
 */
static int validate_env(const cJSON *args, cJSON *out, char *err, size_t errlen)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(args, "env"), *v;
	cJSON *kept, *denied = NULL;
	size_t total = 0;
	int n = 0, repeat;

	if (env == NULL || cJSON_IsNull(env))
		return 0;
	if (!cJSON_IsObject(env)) {
		snprintf(err, errlen, "'env' must be an object of \"NAME\": \"value\" strings");
		return -1;
	}
	if ((repeat = first_repeat(env, TASK_ENV_VARS_MAX)) < 0)
		goto nomem;
	cJSON_ArrayForEach(v, env) {
		const char *name = v->string;

		if (++n > TASK_ENV_VARS_MAX) {
			snprintf(err, errlen, "'env' holds more than %d variables", TASK_ENV_VARS_MAX);
			return -1;
		}
		if (name == NULL || !validate_env_name(name)) {
			snprintf(err, errlen, "'env' variable %d: a name is 1 to %d bytes, "
			    "without '=' or control characters", n, TASK_ENV_NAME_MAX);
			return -1;
		}
		if (!cJSON_IsString(v) || strlen(v->valuestring) > TASK_ENV_VALUE_MAX) {
			snprintf(err, errlen, "'env' variable '%.64s': the value must be a "
			    "string of at most %d bytes", name, TASK_ENV_VALUE_MAX);
			return -1;
		}
		if (n == repeat) {
			snprintf(err, errlen, "'env' names '%.64s' twice", name);
			return -1;
		}
		total += strlen(name) + strlen(v->valuestring) + 2;
		if (total > TASK_ENV_TOTAL_MAX) {
			snprintf(err, errlen, "'env' is larger than %d bytes in all",
			    TASK_ENV_TOTAL_MAX);
			return -1;
		}
	}
	if ((kept = cJSON_AddObjectToObject(out, "env")) == NULL)
		goto nomem;
	if (!env_deny_set)
		validate_set_env_deny(ENV_DENY_DEFAULT);
	cJSON_ArrayForEach(v, env) {
		if (exec_env_reserved(v->string))
			continue;
		if (envdeny_matches(&env_deny, v->string)) {
			if ((denied == NULL &&
			    (denied = cJSON_AddArrayToObject(out, "env_denied")) == NULL) ||
			    !cJSON_AddItemToArray(denied, cJSON_CreateString(v->string)))
				goto nomem;
			continue;
		}
		if (cJSON_AddStringToObject(kept, v->string, v->valuestring) == NULL)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* exec runs argv and reserves what the submitter names (DESIGN §5). */
struct task *validate_exec_task(const struct task_type *tt, const cJSON *args,
    char *err, size_t errlen)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(args, "argv"), *a;
	struct common_args c = { 0 };
	struct task *t;
	size_t count;

	if (!cJSON_IsArray(argv) || (count = (size_t)cJSON_GetArraySize(argv)) == 0 ||
	    count > ARGV_MAX) {
		snprintf(err, errlen, "'argv' must be an array of 1 to %d strings", ARGV_MAX);
		return NULL;
	}
	cJSON_ArrayForEach(a, argv) {
		if (!cJSON_IsString(a) || strlen(a->valuestring) > ARG_MAX_BYTES) {
			snprintf(err, errlen, "'argv' items must be strings of at most %d bytes",
			    ARG_MAX_BYTES);
			return NULL;
		}
	}
	if (cJSON_GetStringValue(cJSON_GetArrayItem(argv, 0))[0] == '\0') {
		snprintf(err, errlen, "'argv' first item (the command) is empty");
		return NULL;
	}
	if (validate_common(args, &c, err, errlen) < 0)
		return NULL;
	if ((t = task_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	apply_common(t, &c);
	t->type = strdup(task_type_name(tt->id));
	t->d->name = c.name ? strdup(c.name) : default_name(argv);
	t->d->args = cJSON_CreateObject();
	cJSON_AddItemToObject(t->d->args, "argv", cJSON_Duplicate(argv, 1));
	if (validate_cwd(args, t->d->args, err, errlen) < 0 ||
	    validate_env(args, t->d->args, err, errlen) < 0 ||
	    parse_resources(t, cJSON_GetObjectItemCaseSensitive(args, "resources"),
	    err, errlen) < 0 || t->type == NULL || t->d->name == NULL) {
		if (t->type == NULL || t->d->name == NULL)
			snprintf(err, errlen, "out of memory");
		task_free(t);
		return NULL;
	}
	return t;
}

/* Checks of each command's arguments, filling rq; a command absent from checks takes none. */
typedef int (*request_check)(const cJSON *args, struct request *rq, char *err, size_t errlen);

static int check_name(const cJSON *args, const char *what, struct request *rq,
    char *err, size_t errlen)
{
	if (validate_string(args, "name", 1, 64, &rq->name, err, errlen) < 0)
		return -1;
	if (!repo_name_valid(rq->name)) {
		snprintf(err, errlen, "bad %s name '%s' (letters, digits, '.', '_' and '-', "
		    "1 to 64)", what, rq->name);
		return -1;
	}
	return 0;
}

static int check_id(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	return validate_int(args, "id", 1, 1, INT64_C(9000000000000000), &rq->id,
	    err, errlen) < 0 ? -1 : 0;
}

static int check_task_submit(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	return (rq->task = validate_submit(args, err, errlen)) == NULL ? -1 : 0;
}

/*
 * Gives an exec task that sent no env of its own the batch's, checked
 * once (checked: {"env", "env_denied"}), rather than matching env_deny
 * against the same variables for every task. The env is a reference to
 * checked's, not a copy: 20,000 copies of a shell's environment would be
 * most of the batch's memory. rq->batch_env owns it; storing the tasks
 * takes the references out of them (store_insert_task: one row for all).
 */
static int batch_give_env(struct task *t, cJSON *checked)
{
	const cJSON *f;

	if (t->tt->id != TASKTYPE_EXEC)
		return 0;
	cJSON_ArrayForEach(f, checked) {
		cJSON *given = strcmp(f->string, "env") == 0 ?
		    cJSON_CreateObjectReference(f->child) : cJSON_Duplicate(f, 1);

		if (given == NULL || !cJSON_AddItemToObject(t->d->args, f->string, given)) {
			cJSON_Delete(given);
			return -1;
		}
	}
	return 0;
}

/* Whether a task takes the batch's env: it sent none (null is none). */
static int batch_takes_env(const cJSON *item)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(item, "env");

	return env == NULL || cJSON_IsNull(env);
}

/* item with each field of defaults it leaves out, but env (batch_give_env's). */
static cJSON *batch_merge(const cJSON *item, const cJSON *defaults)
{
	cJSON *merged = cJSON_Duplicate(item, 1);
	const cJSON *fill = merged != NULL ? defaults : NULL, *d;

	cJSON_ArrayForEach(d, fill) {
		cJSON *copy;

		if (strcmp(d->string, "env") == 0 ||
		    cJSON_GetObjectItemCaseSensitive(merged, d->string) != NULL)
			continue;
		if ((copy = cJSON_Duplicate(d, 1)) == NULL ||
		    !cJSON_AddItemToObject(merged, d->string, copy)) {
			cJSON_Delete(copy);
			cJSON_Delete(merged);
			return NULL;
		}
	}
	return merged;
}

/*
 * task.submit_batch: {"tasks": [args of task.submit…], "defaults": {…}}.
 * What defaults holds (the submitter's cwd and env, sent once, not with
 * each task) stands for each field a task leaves out. Every task is
 * checked as task.submit checks one; the first refused refuses the batch,
 * its index in error_index.
 */
static int check_task_submit_batch(const cJSON *args, struct request *rq, char *err,
    size_t errlen)
{
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(args, "tasks");
	const cJSON *defaults = cJSON_GetObjectItemCaseSensitive(args, "defaults"), *item;
	cJSON *env;
	char why[400];
	size_t count;

	if (!cJSON_IsArray(tasks) || (count = (size_t)cJSON_GetArraySize(tasks)) == 0 ||
	    count > TASK_BATCH_MAX) {
		snprintf(err, errlen, "'tasks' must be an array of 1 to %d task.submit args",
		    TASK_BATCH_MAX);
		return -1;
	}
	if (defaults != NULL && !cJSON_IsObject(defaults)) {
		snprintf(err, errlen, "'defaults' must be an object of task.submit fields");
		return -1;
	}
	/* The defaults are no task's: refused as themselves, checked once. */
	if ((env = rq->batch_env = cJSON_CreateObject()) == NULL ||
	    validate_cwd(defaults, env, why, sizeof why) < 0 ||
	    validate_env(defaults, env, why, sizeof why) < 0) {
		snprintf(err, errlen, "defaults: %s", env == NULL ? "out of memory" : why);
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(env, "cwd");
	if ((rq->batch = calloc(count, sizeof *rq->batch)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(item, tasks) {
		cJSON *merged = cJSON_IsObject(item) ? batch_merge(item, defaults) : NULL;
		struct task *t;

		if (cJSON_IsObject(item) && merged == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		t = rq->batch[rq->nbatch] = validate_submit(merged != NULL ? merged : item,
		    why, sizeof why);
		cJSON_Delete(merged);
		if (t == NULL) {
			rq->error_index = (int64_t)rq->nbatch;
			snprintf(err, errlen, "tasks[%zu]: %s", rq->nbatch, why);
			return -1;
		}
		rq->nbatch++;
		if (batch_takes_env(item) && batch_give_env(t, env) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int check_task_list(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	enum task_state s;

	rq->limit = TASK_LIST_DEFAULT;
	rq->cursor = INT64_MAX;
	if (validate_string(args, "state", 0, 16, &rq->state, err, errlen) < 0 ||
	    validate_string(args, "resource", 0, DEPOT_RESOURCE_MAX, &rq->resource,
	    err, errlen) < 0 ||
	    validate_int(args, "limit", 0, 1, TASK_LIST_MAX, &rq->limit, err, errlen) < 0 ||
	    validate_int(args, "cursor", 0, 1, INT64_C(9000000000000000), &rq->cursor,
	    err, errlen) < 0)
		return -1;
	if (rq->state != NULL && strcmp(rq->state, TASK_FILTER_ACTIVE) != 0 &&
	    task_state_parse(rq->state, &s) < 0) {
		char states[256];

		task_states_join(states, sizeof states, -1, "", ", ");
		snprintf(err, errlen, "unknown state '%s' (%s or %s)", rq->state, states,
		    TASK_FILTER_ACTIVE);
		return -1;
	}
	return 0;
}

static int check_task_log(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	rq->max = 65536;
	if (check_id(args, rq, err, errlen) < 0 ||
	    validate_int(args, "offset", 0, 0, INT64_MAX / 2, &rq->offset, err, errlen) < 0 ||
	    validate_int(args, "max", 0, 1, 512 * 1024, &rq->max, err, errlen) < 0)
		return -1;
	return 0;
}

static int check_task_cancel(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	return validate_ids(args, "ids", &rq->ids, &rq->nids, err, errlen);
}

static int check_task_wait(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	/* A timeout_ms given, even null, of 0 asks for an answer at once. */
	rq->timeout_ms = cJSON_GetObjectItemCaseSensitive(args, "timeout_ms") ? 0 : -1;
	if (validate_ids(args, "ids", &rq->ids, &rq->nids, err, errlen) < 0 ||
	    validate_int(args, "timeout_ms", 0, 0, INT64_C(31536000000), &rq->timeout_ms,
	    err, errlen) < 0)
		return -1;
	return 0;
}

/* task.remove is one transaction: a bounded one (task.clean removes any number). */
#define REMOVE_IDS_MAX 10000

static int check_task_remove(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	if (validate_ids(args, "ids", &rq->ids, &rq->nids, err, errlen) < 0)
		return -1;
	if (rq->nids > REMOVE_IDS_MAX) {
		snprintf(err, errlen, "'ids' names %zu tasks: at most %d at once (task.clean "
		    "removes any number)", rq->nids, REMOVE_IDS_MAX);
		return -1;
	}
	return 0;
}

static int check_task_clean(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const char *before = NULL;
	enum task_state s;

	if (validate_string(args, "state", 0, 16, &rq->state, err, errlen) < 0 ||
	    validate_string(args, "before", 0, 64, &before, err, errlen) < 0)
		return -1;
	if (rq->state != NULL && (task_state_parse(rq->state, &s) < 0 || !task_state_final(s))) {
		char states[256];

		task_states_join(states, sizeof states, 1, "", " or ");
		snprintf(err, errlen, "'state' = '%s' is not a final state (%s)", rq->state, states);
		return -1;
	}
	if (before != NULL && (time_parse_rfc3339(before, &rq->before) < 0 || rq->before <= 0)) {
		snprintf(err, errlen, "'before' = '%s' is not an RFC 3339 time "
		    "(2026-11-25T03:00:00Z)", before);
		return -1;
	}
	return 0;
}

static int check_repo_create(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	if (check_name(args, "repository", rq, err, errlen) < 0)
		return -1;
	rq->importer = cJSON_GetObjectItemCaseSensitive(args, "importer");
	return repo_importer_check(rq->importer, err, errlen);
}

static int check_repo_update(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	if (check_name(args, "repository", rq, err, errlen) < 0)
		return -1;
	rq->importer = cJSON_GetObjectItemCaseSensitive(args, "importer");
	if (!cJSON_IsObject(rq->importer)) {
		snprintf(err, errlen, "'importer' must be an object of settings to change");
		return -1;
	}
	return repo_importer_check(rq->importer, err, errlen);
}

static int check_repo_named(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	return check_name(args, "repository", rq, err, errlen);
}

static int check_schedule_named(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	return check_name(args, "schedule", rq, err, errlen);
}

/* schedule.add: exactly one of every_ms and calendar; tz, an IANA zone, only with calendar. */
static int check_schedule_calendar(const cJSON *args, int every, struct request *rq, char *err,
    size_t errlen)
{
	struct calendar *c;
	struct tzone *z;
	char why[400];

	if (validate_string(args, "calendar", 0, 200, &rq->calendar, err, errlen) < 0 ||
	    validate_string(args, "tz", 0, 200, &rq->tz, err, errlen) < 0)
		return -1;
	if ((every > 0) == (rq->calendar != NULL)) {
		snprintf(err, errlen, "give exactly one of 'every_ms' (an interval) and "
		    "'calendar' (an expression such as \"Mon..Fri 02:00\")");
		return -1;
	}
	if (rq->calendar == NULL) {
		if (rq->tz != NULL) {
			snprintf(err, errlen, "'tz' goes with 'calendar', not 'every_ms'");
			return -1;
		}
		return 0;
	}
	if (rq->at != NULL) {
		snprintf(err, errlen, "'at' goes with 'every_ms': a calendar schedule's "
		    "first run is its calendar's next time");
		return -1;
	}
	if ((c = calendar_parse(rq->calendar, why, sizeof why)) == NULL) {
		snprintf(err, errlen, "calendar '%s': %s", rq->calendar, why);
		return -1;
	}
	calendar_free(c);
	/* Only a named zone is checked here: the local one is depotd's own, read when used. */
	if (rq->tz != NULL) {
		if ((z = tzone_load(rq->tz, why, sizeof why)) == NULL) {
			snprintf(err, errlen, "tz: %s", why);
			return -1;
		}
		tzone_free(z);
	}
	return 0;
}

static int check_schedule_add(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(args, "template");
	struct task *t;
	int every;

	if (check_name(args, "schedule", rq, err, errlen) < 0 ||
	    (every = validate_int(args, "every_ms", 0, 1000, INT64_C(3650) * 86400000,
	    &rq->every_ms, err, errlen)) < 0 ||
	    validate_string(args, "at", 0, 64, &rq->at, err, errlen) < 0 ||
	    check_schedule_calendar(args, every, rq, err, errlen) < 0)
		return -1;
	if (rq->at != NULL && time_parse_rfc3339(rq->at, &rq->first_run) < 0) {
		snprintf(err, errlen, "'at' = '%s' is not an RFC 3339 time "
		    "(2026-11-25T03:00:00Z)", rq->at);
		return -1;
	}
	if (!cJSON_IsObject(tmpl)) {
		snprintf(err, errlen, "'template' must be the args of a task.submit");
		return -1;
	}
	/* One start time for every run would hold each to the same instant. */
	if (cJSON_GetObjectItemCaseSensitive(tmpl, "at") != NULL) {
		snprintf(err, errlen, "template: 'at' cannot be scheduled: the schedule says "
		    "when its task starts");
		return -1;
	}
	/* The template is checked now, as a submission would be, so a typo fails here. */
	if ((t = validate_submit(tmpl, err, errlen)) == NULL) {
		char why[512];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "template: %s", why);
		return -1;
	}
	/*
	 * What is stored is the template with the environment the task kept:
	 * a denied variable is no more stored in a schedule than in a task.
	 * Each run checks the template again, against env_deny as it is then.
	 */
	if ((rq->tmpl = cJSON_Duplicate(tmpl, 1)) == NULL ||
	    (cJSON_GetObjectItemCaseSensitive(t->d->args, "env") != NULL &&
	    !cJSON_ReplaceItemInObjectCaseSensitive(rq->tmpl, "env", cJSON_Duplicate(
	    cJSON_GetObjectItemCaseSensitive(t->d->args, "env"), 1)))) {
		task_free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Kept for the handler, which checks what needs the daemon's state (the repository). */
	rq->task = t;
	return 0;
}

/* schedule.list: a name, when given, asks for that schedule alone. */
static int check_schedule_list(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(args, "name");

	if (name == NULL || cJSON_IsNull(name))
		return 0;
	return check_name(args, "schedule", rq, err, errlen);
}

static int check_schedule_set(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const cJSON *enabled = cJSON_GetObjectItemCaseSensitive(args, "enabled");

	if (check_name(args, "schedule", rq, err, errlen) < 0)
		return -1;
	if (!cJSON_IsBool(enabled)) {
		snprintf(err, errlen, "'enabled' must be true or false");
		return -1;
	}
	rq->enabled = cJSON_IsTrue(enabled);
	return 0;
}

/* queue.pause and queue.resume: no resources is the whole queue. */
static int check_queue_pause(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(args, "resources"), *r;
	size_t n;

	if (arr == NULL || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr) || (n = (size_t)cJSON_GetArraySize(arr)) > RESOURCES_MAX) {
		snprintf(err, errlen, "'resources' must be an array of at most %d names",
		    RESOURCES_MAX);
		return -1;
	}
	/* A script's list that came out empty must not pause or resume everything. */
	if (n == 0) {
		snprintf(err, errlen, "'resources' is empty: name at least one, or leave it "
		    "out for the whole queue");
		return -1;
	}
	if ((rq->resources = calloc(n, sizeof *rq->resources)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cJSON_ArrayForEach(r, arr) {
		const char *name = cJSON_GetStringValue(r);

		if (name == NULL || !validate_resource_name(name)) {
			snprintf(err, errlen, "resources[%zu] must be a name of 1 to %d bytes "
			    "without control characters", rq->nresources, DEPOT_RESOURCE_MAX);
			return -1;
		}
		rq->resources[rq->nresources++] = name;
	}
	return 0;
}

static int check_resource_set(const cJSON *args, struct request *rq, char *err, size_t errlen)
{
	const cJSON *cap = cJSON_GetObjectItemCaseSensitive(args, "capacity");

	if (validate_string(args, "name", 1, DEPOT_RESOURCE_MAX, &rq->resource, err, errlen) < 0)
		return -1;
	if (!validate_resource_name(rq->resource)) {
		snprintf(err, errlen, "'name' must be 1 to %d bytes without control characters",
		    DEPOT_RESOURCE_MAX);
		return -1;
	}
	if (cap == NULL) {
		snprintf(err, errlen, "missing 'capacity' (1 to %d, or null for the default)",
		    RESOURCE_CAPACITY_MAX);
		return -1;
	}
	return validate_int(args, "capacity", 0, 1, RESOURCE_CAPACITY_MAX, &rq->capacity, err,
	    errlen) < 0 ? -1 : 0;
}

static const request_check request_checks[CMD_COUNT] = {
	[CMD_task_submit] = check_task_submit,
	[CMD_task_submit_batch] = check_task_submit_batch,
	[CMD_task_list] = check_task_list,
	[CMD_task_show] = check_id,
	[CMD_task_log] = check_task_log,
	[CMD_task_cancel] = check_task_cancel,
	[CMD_task_wait] = check_task_wait,
	[CMD_task_restart] = check_id,
	[CMD_task_remove] = check_task_remove,
	[CMD_task_clean] = check_task_clean,
	[CMD_task_why] = check_id,
	[CMD_queue_pause] = check_queue_pause,
	[CMD_queue_resume] = check_queue_pause,
	[CMD_resource_set] = check_resource_set,
	[CMD_repo_create] = check_repo_create,
	[CMD_repo_update] = check_repo_update,
	[CMD_repo_show] = check_repo_named,
	[CMD_repo_delete] = check_repo_named,
	[CMD_schedule_add] = check_schedule_add,
	[CMD_schedule_delete] = check_schedule_named,
	[CMD_schedule_set] = check_schedule_set,
	[CMD_schedule_run] = check_schedule_named,
	[CMD_schedule_list] = check_schedule_list,
};

int validate_request(const cJSON *req, struct request *rq, char *err, size_t errlen)
{
	const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "cmd"));

	memset(rq, 0, sizeof *rq);
	rq->cmd = CMD_COUNT;
	rq->error_index = -1;
	rq->args = cJSON_GetObjectItemCaseSensitive(req, "args");
	if (cmd == NULL) {
		snprintf(err, errlen, "missing 'cmd' (a string)");
		return -1;
	}
	if (rq->args != NULL && !cJSON_IsObject(rq->args) && !cJSON_IsNull(rq->args)) {
		snprintf(err, errlen, "'args' must be an object");
		return -1;
	}
	if (command_parse(cmd, &rq->cmd) < 0) {
		snprintf(err, errlen, "unknown command '%.64s'", cmd);
		return -1;
	}
	return request_checks[rq->cmd] ? request_checks[rq->cmd](rq->args, rq, err, errlen) : 0;
}

void request_free(struct request *rq)
{
	free(rq->ids);
	rq->ids = NULL;
	free(rq->resources);
	rq->resources = NULL;
	cJSON_Delete(rq->tmpl);
	rq->tmpl = NULL;
	if (rq->task != NULL)
		task_free(rq->task);
	rq->task = NULL;
	for (size_t i = 0; i < rq->nbatch; i++)
		task_free(rq->batch[i]);
	free(rq->batch);
	rq->batch = NULL;
	rq->nbatch = 0;
	/* After the tasks: theirs were references to it. */
	cJSON_Delete(rq->batch_env);
	rq->batch_env = NULL;
}
