/* cmd-backup.c: backup, backup verify, backup list and restore (DESIGN §9): the two tasks, and checking and listing archives here, without the daemon. */
#include "ctl.h"

#include "backupdir.h"
#include "backupfmt.h"
#include "config.h"
#include "jsonutil.h"
#include "proto.h"
#include "timeutil.h"

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
static cJSON *backup_entry_json(const char *dir, const struct backup_scan *s, size_t i);
static int backup_entry_row(struct out_table *t, const struct backup_scan *s, size_t i);

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
static cJSON *chain_json(const struct backup_bases *c)
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
	struct backup_bases chain = { 0 };
	char err[2048], clean[2048], **bases;
	cJSON *o = NULL, *read = NULL;
	struct stat st;
	int ok, rc = EXIT_OK;

	/* A file that cannot be read is a wrong name, not a damaged archive. */
	if (access(file, R_OK) < 0 || stat(file, &st) < 0)
		return ctl_usage_error(a->cmd, "cannot read '%s': %s", file, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ctl_usage_error(a->cmd, "cannot read '%s': it is a directory", file);
	chain.nfiles = args_values(a, "base", &bases);
	chain.files = (const char *const *)bases;
	for (size_t i = 0; i < chain.nfiles; i++) {
		if (access(bases[i], R_OK) < 0 || stat(bases[i], &st) < 0)
			return ctl_usage_error(a->cmd, "cannot read the base '%s': %s", bases[i],
			    strerror(errno));
		if (!S_ISREG(st.st_mode))
			return ctl_usage_error(a->cmd, "cannot read the base '%s': not a regular file",
			    bases[i]);
	}
	verify_limits(ctx, &lim, key);
	ok = backup_read_chain(file, NULL, NULL, &chain, &lim, &sum, err, sizeof err) == 0;
	/* What backup list shows as verified, kept beside FILE where this user may write. */
	backup_verified_record(file, ok, ok && sum.authenticated, ok ? NULL : err);
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
	backup_bases_free(&chain);
	return rc;
}

/* One archive of backup list, as --json gives it. */
static cJSON *backup_entry_json(const char *dir, const struct backup_scan *s, size_t i)
{
	const struct backup_entry *e = &s->e[i];
	char path[4400], when[TIME_RFC3339_LEN];
	cJSON *o = cJSON_CreateObject(), *base;

	if (o == NULL)
		return NULL;
	snprintf(path, sizeof path, "%s/%s", dir, e->name);
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddStringToObject(o, "path", path);
	if (e->format > 0)
		cJSON_AddNumberToObject(o, "format", e->format);
	else
		cJSON_AddNullToObject(o, "format");
	/* A format 1 archive is always a full one. */
	json_add_string_or_null(o, "kind", e->format == BACKUP_FORMAT_HEADER ? e->hdr.kind :
	    e->format == 1 ? BACKUP_KIND_FULL : NULL);
	time_format_rfc3339(e->created_ms, when);
	cJSON_AddStringToObject(o, "created_at", when);
	cJSON_AddStringToObject(o, "time_from", e->created_known ? "header" : "mtime");
	cJSON_AddNumberToObject(o, "size", (double)e->size);
	if (e->format == BACKUP_FORMAT_HEADER && e->hdr.has_base) {
		base = cJSON_AddObjectToObject(o, "base");
		cJSON_AddStringToObject(base, "file", e->hdr.base_file);
		cJSON_AddStringToObject(base, "sha256", e->hdr.base_sha256);
		cJSON_AddNumberToObject(base, "size", (double)e->hdr.base_size);
		cJSON_AddBoolToObject(base, "present", e->base >= 0);
	} else
		cJSON_AddNullToObject(o, "base");
	json_add_string_or_null(o, "chain", e->format == BACKUP_FORMAT_HEADER ?
	    s->c[e->chain].root : NULL);
	if (e->format == BACKUP_FORMAT_HEADER) {
		json_add_id(o, "task_id", e->hdr.task_id);
		json_add_string_or_null(o, "depot_version", e->hdr.depot_version[0] ?
		    e->hdr.depot_version : NULL);
	}
	if (e->verified == BACKUP_NOT_VERIFIED) {
		cJSON_AddNullToObject(o, "verified");
		cJSON_AddNullToObject(o, "verified_at");
	} else {
		cJSON_AddBoolToObject(o, "verified", e->verified == BACKUP_VERIFIED_OK);
		json_add_time(o, "verified_at", e->verified_ms);
		cJSON_AddBoolToObject(o, "authenticated", e->authenticated);
		if (e->verify_error[0] != '\0')
			cJSON_AddStringToObject(o, "verify_error", e->verify_error);
	}
	if (e->format == 0)
		cJSON_AddStringToObject(o, "error", e->error);
	return o;
}

/* The row of backup list for people. */
static int backup_entry_row(struct out_table *t, const struct backup_scan *s, size_t i)
{
	const struct backup_entry *e = &s->e[i];
	char when[TIME_RFC3339_LEN], shown[40], size[32], base[300], name[300], kind[32];
	const char *verified = e->verified == BACKUP_VERIFIED_OK ? "yes" :
	    e->verified == BACKUP_VERIFIED_FAILED ? "FAILED" : "no";

	time_format_rfc3339(e->created_ms, when);
	/* To the second; a time only the file's mtime gives is marked so. */
	snprintf(shown, sizeof shown, "%.19sZ%s", when, e->created_known ? "" : " (mtime)");
	out_size(e->size, size, sizeof size);
	out_clean(e->name, 0, name, sizeof name);
	snprintf(kind, sizeof kind, "%s", e->format == BACKUP_FORMAT_HEADER ? e->hdr.kind :
	    e->format == 1 ? "full (format 1)" : "unreadable");
	if (e->format == BACKUP_FORMAT_HEADER && e->hdr.has_base) {
		char clean[300];

		out_clean(e->hdr.base_file, 0, clean, sizeof clean);
		snprintf(base, sizeof base, "%s%s", clean, e->base >= 0 ? "" : " (missing)");
	} else
		snprintf(base, sizeof base, "-");
	return out_table_add(t, (const char *const[]){ name, shown, kind, base, size,
	    verified });
}

/*
 * backup list: the archives in DIR/backups (or --dir), read here without
 * the daemon, each from its first member alone (backupdir.h), oldest first.
 */
int cmd_backup_list(struct ctl_ctx *ctx, struct ctl_args *a)
{
	static const char *const headers[] = {
		"NAME", "TIME", "KIND", "BASE", "SIZE", "VERIFIED",
	};
	const char *dir = args_get(a, "dir");
	char path[4200], err[1024], clean[1100];
	struct backup_scan s;
	struct out_table *t = NULL;
	cJSON *list = NULL;
	int rc;

	if (dir == NULL) {
		if ((rc = ctl_resolve(ctx)) != EXIT_OK)
			return rc;
		snprintf(path, sizeof path, "%s/backups", ctx->dir);
	} else
		snprintf(path, sizeof path, "%s", dir);
	if (backup_scan_dir(path, &s, err, sizeof err) < 0) {
		/* No backup made yet: the daemon makes DIR/backups with the first. */
		if (dir != NULL || access(path, F_OK) == 0) {
			out_clean(err, 0, clean, sizeof clean);
			ctl_error("cannot list the backups: %s", clean);
			return dir != NULL ? EXIT_USAGE : EXIT_REFUSED;
		}
		memset(&s, 0, sizeof s);
	}
	if (ctx->json) {
		if ((list = cJSON_CreateArray()) == NULL)
			goto nomem;
		for (size_t i = 0; i < s.n; i++) {
			cJSON *o = backup_entry_json(path, &s, i);

			if (o == NULL || !cJSON_AddItemToArray(list, o))
				goto nomem;
		}
		/* File names, and the reasons a verify gave, are anyone's bytes: JSON takes UTF-8 only. */
		json_repair_utf8(list);
		rc = json_print(list);
		cJSON_Delete(list);
		backup_scan_free(&s);
		return rc;
	}
	if (s.n == 0) {
		out_clean(path, 0, clean, sizeof clean);
		printf("no backups in %s\n", clean);
		backup_scan_free(&s);
		return EXIT_OK;
	}
	if ((t = out_table_new(6, headers)) == NULL)
		goto nomem;
	for (size_t i = 0; i < s.n; i++)
		if (backup_entry_row(t, &s, i) != 0)
			goto nomem;
	out_table_print(t, stdout);
	out_table_free(t);
	backup_scan_free(&s);
	return EXIT_OK;
nomem:
	cJSON_Delete(list);
	out_table_free(t);
	backup_scan_free(&s);
	ctl_error("out of memory");
	return EXIT_REFUSED;
}
