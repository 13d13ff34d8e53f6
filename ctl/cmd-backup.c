/* cmd-backup.c: backup, backup verify and restore (DESIGN §9): the two tasks, and checking an archive here, without the daemon. */
#include "ctl.h"

#include "backupfmt.h"
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
static int backup_abs_archive(const struct ctl_args *a, const char *file, char *out,
    size_t n);
static int backup_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *key, const char *path, int force);

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

/* restore's FILE as the daemon must see it: the real path of an existing file. */
static int backup_abs_archive(const struct ctl_args *a, const char *file, char *out,
    size_t n)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(file, real) == NULL)
		return ctl_usage_error(a->cmd, "cannot restore from '%s': %s", file,
		    strerror(errno));
	if (stat(real, &st) == 0 && !S_ISREG(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot restore from '%s': "
		    "not a regular file", file);
	if ((size_t)snprintf(out, n, "%s", real) >= n || strlen(out) > BACKUP_PATH_MAX)
		return ctl_usage_error(a->cmd, "cannot restore from '%s': "
		    "the path is longer than %d bytes", file, BACKUP_PATH_MAX);
	return EXIT_OK;
}

/* A backup or restore task: task.submit, then as run does (task_submit). */
static int backup_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *key, const char *path, int force)
{
	cJSON *req;

	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "type", type) == NULL ||
	    (path != NULL && cJSON_AddStringToObject(req, key, path) == NULL) ||
	    (force && cJSON_AddTrueToObject(req, "force") == NULL)) {
		cJSON_Delete(req);
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	return task_submit(ctx, req, args_has(a, "wait"));
}

int cmd_backup(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = args_get(a, "output");
	char path[PATH_MAX + 256];
	int rc;

	if (file != NULL && (rc = backup_abs_output(a, file, path, sizeof path)) != EXIT_OK)
		return rc;
	return backup_task(ctx, a, "backup", "output", file != NULL ? path : NULL, 0);
}

int cmd_restore(struct ctl_ctx *ctx, struct ctl_args *a)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = backup_abs_archive(a, a->argv[0], path, sizeof path)) != EXIT_OK)
		return rc;
	return backup_task(ctx, a, "restore", "path", path, args_has(a, "force"));
}

/*
 * backup verify: backup_verify() reads the whole archive here, as the
 * daemon would before a restore; no request is sent. With --json, one
 * object: {"path", "ok", "members", "created_at", "depot_version"} or
 * {"path", "ok": false, "error"}.
 */
int cmd_backup_verify(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = a->argv[0];
	struct backup_manifest mf;
	char err[2048], clean[2048];
	cJSON *o = NULL;
	struct stat st;
	int ok, rc = EXIT_OK;

	/* A file that cannot be read is a wrong name, not a damaged archive. */
	if (access(file, R_OK) < 0 || stat(file, &st) < 0)
		return ctl_usage_error(a->cmd, "cannot read '%s': %s", file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot read '%s': it is a directory", file);
	ok = backup_verify(file, &mf, err, sizeof err) == 0;
	if (ctx->json) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(o, "path", file) == NULL ||
		    cJSON_AddBoolToObject(o, "ok", ok) == NULL ||
		    (ok && (cJSON_AddNumberToObject(o, "members", (double)mf.n) == NULL ||
		    cJSON_AddStringToObject(o, "created_at", mf.created_at) == NULL ||
		    cJSON_AddStringToObject(o, "depot_version", mf.version) == NULL)) ||
		    (!ok && cJSON_AddStringToObject(o, "error", err) == NULL)) {
			ctl_error("out of memory");
			rc = EXIT_REFUSED;
		} else
			rc = json_print(o);
		cJSON_Delete(o);
	}
	if (!ok) {
		/* A member's name comes from the archive: no control characters on a terminal. */
		out_clean(err, 0, clean, sizeof clean);
		fflush(stdout);
		fprintf(stderr, "%s: damaged: %s\n", file, clean);
		return EXIT_REFUSED;
	}
	if (!ctx->json)
		printf("%s: ok, %zu members, made %s by depot %s\n", file, mf.n,
		    mf.created_at[0] != '\0' ? mf.created_at : "at an unknown time",
		    mf.version[0] != '\0' ? mf.version : "(unknown version)");
	backup_manifest_free(&mf);
	return rc;
}
