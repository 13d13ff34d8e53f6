/* cmd-backup.c: backup, backup verify and restore (DESIGN §9): the two tasks, and checking an archive here, without the daemon. */
#include "ctl.h"

#include "backupfmt.h"
#include "config.h"
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
    const char *key, const char *path, const char *flag);

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
    const char *key, const char *path, const char *flag)
{
	cJSON *req;

	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "type", type) == NULL ||
	    (path != NULL && cJSON_AddStringToObject(req, key, path) == NULL) ||
	    (args_has(a, flag) && cJSON_AddTrueToObject(req, flag) == NULL)) {
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
	return backup_task(ctx, a, task_type_name(TASKTYPE_BACKUP), "output",
	    file != NULL ? path : NULL, "incremental");
}

int cmd_restore(struct ctl_ctx *ctx, struct ctl_args *a)
{
	char path[PATH_MAX];
	int rc;

	if ((rc = backup_abs_archive(a, a->argv[0], path, sizeof path)) != EXIT_OK)
		return rc;
	return backup_task(ctx, a, task_type_name(TASKTYPE_RESTORE), "path", path, "force");
}

/*
 * The restore limits the daemon on this data directory would apply: from
 * its depot.conf when this user can read it, else the defaults.
 */
static void verify_limits(struct ctl_ctx *ctx, struct backup_limits *lim, unsigned char *key)
{
	struct depot_config cfg;
	char conf[4200], err[512];

	config_defaults(&cfg);
	lim->key = NULL;
	if (ctl_resolve(ctx) == EXIT_OK) {
		snprintf(conf, sizeof conf, "%s/depot.conf", ctx->dir);
		if (access(conf, R_OK) == 0 && config_load(conf, &cfg, err, sizeof err) < 0)
			config_defaults(&cfg);
		/* Its key, when this user may read it, tells whether a restore would trust the archive. */
		if (backup_key_read(ctx->dir, key) == 0)
			lim->key = key;
	}
	lim->max_members = cfg.restore_max_members;
	lim->free_margin = cfg.restore_free_margin;
}

/*
 * backup verify: backup_read() reads the whole archive here and makes the
 * decision the daemon makes before a restore (without extracting); no
 * request is sent. With --json, one object: {"path", "ok", "members",
 * "bytes", "created_at", "depot_version"} or {"path", "ok": false, "error"}.
 */
int cmd_backup_verify(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = a->argv[0];
	unsigned char key[BACKUP_KEY_LEN];
	struct backup_limits lim;
	struct backup_summary sum;
	char err[2048], clean[2048];
	cJSON *o = NULL;
	struct stat st;
	int ok, rc = EXIT_OK;

	/* A file that cannot be read is a wrong name, not a damaged archive. */
	if (access(file, R_OK) < 0 || stat(file, &st) < 0)
		return ctl_usage_error(a->cmd, "cannot read '%s': %s", file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot read '%s': it is a directory", file);
	verify_limits(ctx, &lim, key);
	ok = backup_read(file, NULL, &lim, &sum, err, sizeof err) == 0;
	if (ctx->json) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(o, "path", file) == NULL ||
		    cJSON_AddBoolToObject(o, "ok", ok) == NULL ||
		    (ok && (cJSON_AddNumberToObject(o, "members", (double)sum.members) == NULL ||
		    cJSON_AddNumberToObject(o, "bytes", (double)sum.bytes) == NULL ||
		    cJSON_AddBoolToObject(o, "authenticated", sum.authenticated) == NULL ||
		    cJSON_AddStringToObject(o, "created_at", sum.created_at) == NULL ||
		    cJSON_AddStringToObject(o, "depot_version", sum.version) == NULL)) ||
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
		fprintf(stderr, "%s: refused: %s\n", file, clean);
		return EXIT_REFUSED;
	}
	if (!ctx->json) {
		printf("%s: ok, %lld members, %lld bytes of files, made %s by depot %s\n", file,
		    (long long)sum.members, (long long)sum.bytes,
		    sum.created_at[0] != '\0' ? sum.created_at : "at an unknown time",
		    sum.version[0] != '\0' ? sum.version : "(unknown version)");
		if (sum.authenticated)
			printf("authenticated by %s/%s\n", ctx->dir, BACKUP_KEY_FILE);
		else
			printf("not authenticated by %s/%s%s: a restore disables its schedules and "
			    "keeps its depot.conf aside\n", ctx->dir, BACKUP_KEY_FILE,
			    lim.key ? "" : " (which this user cannot read, or which is missing)");
	}
	return rc;
}
