/* cmd-backup.c: backup, backup verify, backup list and restore (DESIGN §9): the two tasks, and checking and listing archives without the daemon, through depotd --verify and --list-backups. */
#include "ctl.h"

#include "backuphdr.h"
#include "backupfmt.h"
#include "jsonutil.h"
#include "proto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* task.submit's limit on output and path (doc/protocol.md). */
#define BACKUP_PATH_MAX 4000

static int backup_abs_output(const struct ctl_args *a, const char *file, char *out,
    size_t n);
static int backup_abs_archive(const struct ctl_args *a, const char *file, const char *what,
    char *out, size_t n);
static int backup_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *key, const char *path, const char *flag, cJSON *bases);
static void backup_print_path(const cJSON *task);
static long long answer_int(const cJSON *o, const char *key);
static const char *answer_str(const cJSON *o, const char *key);
static int backup_entry_row(struct out_table *t, const cJSON *e);

/*
 * -o FILE as the daemon must see it: the real path of FILE's directory
 * (which must exist: the daemon's working directory is not ours) and
 * FILE's last component, which must name a file.
 */
static int backup_abs_output(const struct ctl_args *a, const char *file, char *out,
    size_t n)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base, *slash = strrchr(file, '/');
	struct stat st;

	if (file[0] == '\0')
		return ctl_usage_error(a->cmd, "invalid value '' for --output: "
		    "expected a file name");
	if (slash == NULL) {
		snprintf(dir, sizeof dir, ".");
		base = file;
	} else {
		snprintf(dir, sizeof dir, "%.*s", slash == file ? 1 : (int)(slash - file), file);
		base = slash + 1;
	}
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return ctl_usage_error(a->cmd, "invalid value '%s' for --output: "
		    "expected a file name, not a directory", file);
	if (realpath(dir, real) == NULL)
		return ctl_usage_error(a->cmd, "cannot write the backup to '%s': "
		    "directory '%s': %s", file, dir, strerror(errno));
	if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot write the backup to '%s': "
		    "'%s' is not a directory", file, dir);
	if ((size_t)snprintf(out, n, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/",
	    base) >= n || strlen(out) > BACKUP_PATH_MAX)
		return ctl_usage_error(a->cmd, "invalid value '%s' for --output: "
		    "the path is longer than %d bytes", file, BACKUP_PATH_MAX);
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot write the backup to '%s': "
		    "it is a directory; name a file in it", file);
	return EXIT_OK;
}

/* restore's FILE, or a --base FILE, as the daemon must see it: the real path of an existing file. */
static int backup_abs_archive(const struct ctl_args *a, const char *file, const char *what,
    char *out, size_t n)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(file, real) == NULL)
		return ctl_usage_error(a->cmd, "cannot %s '%s': %s", what, file,
		    strerror(errno));
	if (stat(real, &st) == 0 && !S_ISREG(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot %s '%s': "
		    "not a regular file", what, file);
	if ((size_t)snprintf(out, n, "%s", real) >= n || strlen(out) > BACKUP_PATH_MAX)
		return ctl_usage_error(a->cmd, "cannot %s '%s': "
		    "the path is longer than %d bytes", what, file, BACKUP_PATH_MAX);
	return EXIT_OK;
}

/* A backup or restore task: task.submit, then as run does (task_submit). Takes bases (NULL: none). */
static int backup_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *key, const char *path, const char *flag, cJSON *bases)
{
	cJSON *req;
	int rc;

	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "type", type) == NULL ||
	    (path != NULL && cJSON_AddStringToObject(req, key, path) == NULL) ||
	    (args_has(a, flag) && cJSON_AddTrueToObject(req, flag) == NULL) ||
	    (bases != NULL && !cJSON_AddItemToObject(req, "bases", bases))) {
		if (bases != NULL && cJSON_GetObjectItemCaseSensitive(req, "bases") == NULL)
			cJSON_Delete(bases);
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = task_chain_args(a, req)) != EXIT_OK) {
		cJSON_Delete(req);
		return rc;
	}
	return task_submit(ctx, req, args_has(a, "wait"));
}

int backup_task_args(const struct ctl_args *a, cJSON **out)
{
	const char *file = args_get(a, "output");
	char path[PATH_MAX + 256];
	int rc;

	*out = NULL;
	if (file != NULL && (rc = backup_abs_output(a, file, path, sizeof path)) != EXIT_OK)
		return rc;
	if ((*out = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(*out, "type", task_type_name(TASKTYPE_BACKUP)) == NULL ||
	    (file != NULL && cJSON_AddStringToObject(*out, "output", path) == NULL) ||
	    (args_takes(a->cmd, "incremental") && args_has(a, "incremental") &&
	    cJSON_AddTrueToObject(*out, "incremental") == NULL)) {
		cJSON_Delete(*out);
		*out = NULL;
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	if ((rc = task_chain_args(a, *out)) != EXIT_OK) {
		cJSON_Delete(*out);
		*out = NULL;
		return rc;
	}
	return EXIT_OK;
}

/* backup --wait: the archive's path, alone on the last line, for a script to take. */
static void backup_print_path(const cJSON *task)
{
	const char *path = json_str(cJSON_GetObjectItemCaseSensitive(task, "result"), "path");
	char clean[PATH_MAX + 256];

	if (path == NULL)
		return;
	out_clean(path, 0, clean, sizeof clean);
	printf("%s\n", clean);
}

int cmd_backup(struct ctl_ctx *ctx, struct ctl_args *a)
{
	cJSON *req;
	int rc;

	if ((rc = backup_task_args(a, &req)) != EXIT_OK)
		return rc;
	return task_submit_then(ctx, req, args_has(a, "wait"), backup_print_path);
}

/* --base FILE...: at most BACKUP_MAX_BASES, each an existing file, absolute (restore's "bases"). */
static int backup_bases(const struct ctl_args *a, cJSON **out)
{
	char path[PATH_MAX], **files;
	size_t n = args_values(a, "base", &files);
	int rc;

	*out = NULL;
	if (n > BACKUP_MAX_BASES)
		return ctl_usage_error(a->cmd, "more than %d --base files", BACKUP_MAX_BASES);
	if (n > 0 && (*out = cJSON_CreateArray()) == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		if ((rc = backup_abs_archive(a, files[i], "use the base", path, sizeof path)) !=
		    EXIT_OK) {
			cJSON_Delete(*out);
			*out = NULL;
			return rc;
		}
		if (!cJSON_AddItemToArray(*out, cJSON_CreateString(path)))
			goto nomem;
	}
	return EXIT_OK;
nomem:
	cJSON_Delete(*out);
	*out = NULL;
	ctl_error("out of memory");
	return EXIT_REFUSED;
}

int cmd_restore(struct ctl_ctx *ctx, struct ctl_args *a)
{
	char path[PATH_MAX];
	cJSON *bases;
	int rc;

	if ((rc = backup_abs_archive(a, a->argv[0], "restore from", path, sizeof path)) != EXIT_OK ||
	    (rc = backup_bases(a, &bases)) != EXIT_OK)
		return rc;
	return backup_task(ctx, a, task_type_name(TASKTYPE_RESTORE), "path", path, "force", bases);
}

/* A number of depotd's answer, 0 when it has none. */
static long long answer_int(const cJSON *o, const char *key)
{
	int64_t v;

	return json_int(o, key, &v) == 0 ? (long long)v : 0;
}

/* A string of depotd's answer, "" when it has none. */
static const char *answer_str(const cJSON *o, const char *key)
{
	const char *v = json_str(o, key);

	return v != NULL ? v : "";
}

/*
 * backup verify: depotd --verify reads the whole archive (an incremental
 * with its whole chain) and makes the decision the daemon makes before a
 * restore (without extracting); no request is sent, and no daemon need
 * run. depotd does it, not this process, so that depotctl does not load
 * libarchive, libcrypto and SQLite for every other command. With --json,
 * depotd's object: {"path", "ok", "members", "bytes", "created_at",
 * "depot_version", "authenticated", "kind", "chain"} or {"path", "ok":
 * false, "error"}.
 */
int cmd_backup_verify(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = a->argv[0], **args;
	char clean[2048], **bases;
	const cJSON *chain, *r;
	cJSON *o = NULL;
	struct stat st;
	size_t nbases, n = 0;
	int ok, key_read, status, rc = EXIT_OK;

	/* A file that cannot be read is a wrong name, not a damaged archive. */
	if (access(file, R_OK) < 0 || stat(file, &st) < 0)
		return ctl_usage_error(a->cmd, "cannot read '%s': %s", file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot read '%s': it is a directory", file);
	nbases = args_values(a, "base", &bases);
	/* As many as a restore takes. */
	if (nbases > BACKUP_MAX_BASES)
		return ctl_usage_error(a->cmd, "more than %d --base files", BACKUP_MAX_BASES);
	for (size_t i = 0; i < nbases; i++) {
		if (access(bases[i], R_OK) < 0 || stat(bases[i], &st) < 0)
			return ctl_usage_error(a->cmd, "cannot read the base '%s': %s", bases[i],
			    strerror(errno));
		if (!S_ISREG(st.st_mode))
			return ctl_usage_error(a->cmd, "cannot read the base '%s': not a regular file",
			    bases[i]);
	}
	if ((args = calloc(2 * nbases + 5, sizeof *args)) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	args[n++] = "--verify";
	args[n++] = file;
	for (size_t i = 0; i < nbases; i++) {
		args[n++] = "--base";
		args[n++] = bases[i];
	}
	/* The limits and key of this data directory: depotd resolves -d as depotctl does. */
	if (ctl_resolve(ctx) == EXIT_OK || ctx->dir_opt != NULL) {
		args[n++] = "--dir";
		args[n++] = ctx->resolved ? ctx->dir : ctx->dir_opt;
	}
	rc = helper_json(args, &o, &status);
	free(args);
	if (rc != EXIT_OK)
		return rc;
	if (!cJSON_IsObject(o) || !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(o, "ok")) ||
	    (ok = json_true(o, "ok")) != (status == 0)) {
		cJSON_Delete(o);
		ctl_error("depotd --verify gave an answer depotctl does not understand");
		return EXIT_UNREACHABLE;
	}
	key_read = json_true(o, "key_read");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "key_read");
	if (ctx->json)
		rc = json_print(o);
	if (!ok) {
		/* A member's name comes from the archive: no control characters on a terminal. */
		out_clean(answer_str(o, "error"), 0, clean, sizeof clean);
		fflush(stdout);
		fprintf(stderr, "%s: refused: %s\n", file, clean);
		cJSON_Delete(o);
		return EXIT_REFUSED;
	}
	if (!ctx->json) {
		printf("%s: ok, %lld members, %lld bytes of files, made %s by depot %s\n", file,
		    answer_int(o, "members"), answer_int(o, "bytes"),
		    answer_str(o, "created_at")[0] != '\0' ? answer_str(o, "created_at") :
		    "at an unknown time",
		    answer_str(o, "depot_version")[0] != '\0' ? answer_str(o, "depot_version") :
		    "(unknown version)");
		/* The rest of the chain it checked, down to the full. */
		chain = cJSON_GetObjectItemCaseSensitive(o, "chain");
		for (int i = 1; i < cJSON_GetArraySize(chain); i++) {
			r = cJSON_GetArrayItem(chain, i);
			out_clean(answer_str(r, "path"), 0, clean, sizeof clean);
			printf("  base %s: %s, %lld members, %lld bytes of files, made %s\n", clean,
			    answer_str(r, "kind"), answer_int(r, "members"), answer_int(r, "bytes"),
			    answer_str(r, "created_at"));
		}
		if (json_true(o, "authenticated"))
			printf("authenticated by %s/%s\n", ctx->dir, BACKUP_KEY_FILE);
		else
			printf("not authenticated by %s/%s%s: a restore disables its schedules and "
			    "keeps its depot.conf aside\n", ctx->dir, BACKUP_KEY_FILE,
			    key_read ? "" : " (which this user cannot read, or which is missing)");
	}
	cJSON_Delete(o);
	return rc;
}

/* The row of backup list for people, from one archive of depotd --list-backups. */
static int backup_entry_row(struct out_table *t, const cJSON *e)
{
	char shown[40], size[32], base[300], name[300], kind[32];
	const cJSON *verified = cJSON_GetObjectItemCaseSensitive(e, "verified");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "base");
	int64_t format = 0;

	/* To the second; a time only the file's mtime gives is marked so. */
	snprintf(shown, sizeof shown, "%.19sZ%s", answer_str(e, "created_at"),
	    strcmp(answer_str(e, "time_from"), "header") == 0 ? "" : " (mtime)");
	out_size(answer_int(e, "size"), size, sizeof size);
	out_clean(answer_str(e, "name"), 0, name, sizeof name);
	json_int(e, "format", &format);
	snprintf(kind, sizeof kind, "%s", format == BACKUP_FORMAT_HEADER ? answer_str(e, "kind") :
	    format == 1 ? "full (format 1)" : "unreadable");
	if (cJSON_IsObject(b)) {
		char clean[300];

		out_clean(answer_str(b, "file"), 0, clean, sizeof clean);
		snprintf(base, sizeof base, "%s%s", clean, json_true(b, "present") ? "" :
		    " (missing)");
	} else
		snprintf(base, sizeof base, "-");
	return out_table_add(t, (const char *const[]){ name, shown, kind, base, size,
	    cJSON_IsTrue(verified) ? "yes" : cJSON_IsFalse(verified) ? "FAILED" : "no" });
}

/*
 * backup list: the archives in DIR/backups (or --dir), each read from its
 * first member alone (backupdir.h) by depotd --list-backups, oldest first;
 * no daemon need run.
 */
int cmd_backup_list(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const headers[] = {
		"NAME", "TIME", "KIND", "BASE", "SIZE", "VERIFIED",
	};
	const char *dir = args_get(a, "dir");
	char path[4200], clean[1100];
	struct out_table *t = NULL;
	cJSON *list = NULL;
	int rc, status;

	if (dir == NULL) {
		if ((rc = ctl_resolve(ctx)) != EXIT_OK)
			return rc;
		snprintf(path, sizeof path, "%s/backups", ctx->dir);
	} else
		snprintf(path, sizeof path, "%s", dir);
	/* No backup made yet: the daemon makes DIR/backups with the first. */
	if (dir == NULL && access(path, F_OK) != 0) {
		if ((list = cJSON_CreateArray()) == NULL)
			goto nomem;
	} else if ((rc = helper_json((const char *const[]){ "--list-backups", path, NULL },
	    &list, &status)) != EXIT_OK)
		return rc;
	if (cJSON_IsObject(list) && json_str(list, "error") != NULL) {
		out_clean(json_str(list, "error"), 0, clean, sizeof clean);
		ctl_error("cannot list the backups: %s", clean);
		cJSON_Delete(list);
		return dir != NULL ? EXIT_USAGE : EXIT_REFUSED;
	}
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		ctl_error("depotd --list-backups gave an answer depotctl does not understand");
		return EXIT_UNREACHABLE;
	}
	if (ctx->json) {
		/* File names, and the reasons a verify gave, are anyone's bytes: JSON takes UTF-8 only. */
		json_repair_utf8(list);
		rc = json_print(list);
		cJSON_Delete(list);
		return rc;
	}
	if (cJSON_GetArraySize(list) == 0) {
		out_clean(path, 0, clean, sizeof clean);
		printf("no backups in %s\n", clean);
		cJSON_Delete(list);
		return EXIT_OK;
	}
	if ((t = out_table_new(6, headers)) == NULL)
		goto nomem;
	for (const cJSON *e = list->child; e != NULL; e = e->next)
		if (backup_entry_row(t, e) != 0)
			goto nomem;
	out_table_print(t, stdout);
	out_table_free(t);
	cJSON_Delete(list);
	return EXIT_OK;
nomem:
	cJSON_Delete(list);
	out_table_free(t);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}
