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
static int backup_abs_archive(const struct ctl_args *a, const char *file, const char *what,
    char *out, size_t n);
static int backup_task(struct ctl_ctx *ctx, struct ctl_args *a, const char *type,
    const char *key, const char *path, const char *flag, cJSON *bases);

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
	    file != NULL ? path : NULL, "incremental", NULL);
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

/* The chain's archives for --json: [{"path", "kind", "created_at", "members", "bytes"}], newest first. */
static cJSON *chain_json(const struct backup_chain *c)
{
	cJSON *arr = cJSON_CreateArray(), *o;

	for (size_t i = 0; arr != NULL && i < c->nread; i++) {
		const struct backup_chained *r = &c->read[i];
		if ((o = cJSON_CreateObject()) != NULL && !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (o == NULL || cJSON_AddStringToObject(o, "path", r->path) == NULL ||
		    cJSON_AddStringToObject(o, "kind", r->kind) == NULL ||
		    cJSON_AddStringToObject(o, "created_at", r->created_at) == NULL ||
		    cJSON_AddNumberToObject(o, "members", (double)r->members) == NULL ||
		    cJSON_AddNumberToObject(o, "bytes", (double)r->bytes) == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/*
 * backup verify: backup_read_chain() reads the whole archive (an
 * incremental with its whole chain) here and makes the decision the daemon
 * makes before a restore (without extracting); no request is sent. With
 * --json, one object: {"path", "ok", "members", "bytes", "created_at",
 * "depot_version", "authenticated", "kind", "chain"} or {"path", "ok":
 * false, "error"}.
 */
int cmd_backup_verify(struct ctl_ctx *ctx, struct ctl_args *a)
{
	const char *file = a->argv[0];
	unsigned char key[BACKUP_KEY_LEN];
	struct backup_limits lim;
	struct backup_summary sum;
	struct backup_chain chain = { 0 };
	char err[2048], clean[2048], **bases;
	cJSON *o = NULL, *read = NULL;
	struct stat st;
	int ok, rc = EXIT_OK;

	/* A file that cannot be read is a wrong name, not a damaged archive. */
	if (access(file, R_OK) < 0 || stat(file, &st) < 0)
		return ctl_usage_error(a->cmd, "cannot read '%s': %s", file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot read '%s': it is a directory", file);
	chain.nbases = args_values(a, "base", &bases);
	chain.bases = (const char *const *)bases;
	for (size_t i = 0; i < chain.nbases; i++) {
		if (access(bases[i], R_OK) < 0 || stat(bases[i], &st) < 0)
			return ctl_usage_error(a->cmd, "cannot read the base '%s': %s", bases[i],
			    strerror(errno));
		if (!S_ISREG(st.st_mode))
			return ctl_usage_error(a->cmd, "cannot read the base '%s': not a regular file",
			    bases[i]);
	}
	verify_limits(ctx, &lim, key);
	ok = backup_read_chain(file, NULL, NULL, &chain, &lim, &sum, err, sizeof err) == 0;
	if (ctx->json) {
		if ((o = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(o, "path", file) == NULL ||
		    cJSON_AddBoolToObject(o, "ok", ok) == NULL ||
		    (ok && (cJSON_AddNumberToObject(o, "members", (double)sum.members) == NULL ||
		    cJSON_AddNumberToObject(o, "bytes", (double)sum.bytes) == NULL ||
		    cJSON_AddBoolToObject(o, "authenticated", sum.authenticated) == NULL ||
		    cJSON_AddStringToObject(o, "created_at", sum.created_at) == NULL ||
		    cJSON_AddStringToObject(o, "depot_version", sum.version) == NULL ||
		    cJSON_AddNumberToObject(o, "format", sum.format) == NULL ||
		    /* A format 1 archive holds everything: a full. */
		    cJSON_AddStringToObject(o, "kind", sum.kind[0] ? sum.kind : "full") == NULL ||
		    (read = chain_json(&chain)) == NULL ||
		    !cJSON_AddItemToObject(o, "chain", read))) ||
		    (!ok && cJSON_AddStringToObject(o, "error", err) == NULL)) {
			if (read != NULL && cJSON_GetObjectItemCaseSensitive(o, "chain") == NULL)
				cJSON_Delete(read);
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
		/* The rest of the chain it checked, down to the full. */
		for (size_t i = 1; i < chain.nread; i++) {
			out_clean(chain.read[i].path, 0, clean, sizeof clean);
			printf("  base %s: %s, %lld members, %lld bytes of files, made %s\n", clean,
			    chain.read[i].kind, (long long)chain.read[i].members,
			    (long long)chain.read[i].bytes, chain.read[i].created_at);
		}
		if (sum.authenticated)
			printf("authenticated by %s/%s\n", ctx->dir, BACKUP_KEY_FILE);
		else
			printf("not authenticated by %s/%s%s: a restore disables its schedules and "
			    "keeps its depot.conf aside\n", ctx->dir, BACKUP_KEY_FILE,
			    lim.key ? "" : " (which this user cannot read, or which is missing)");
	}
	backup_chain_free(&chain);
	return rc;
}
