/* backupcheck.c: depotd --verify and --list-backups, the reading of archives that depotctl's backup verify and backup list exec, printed as JSON for depotctl to show. */
#include "backupdir.h"
#include "backupfmt.h"
#include "config.h"
#include "depotd.h"
#include "jsonutil.h"
#include "paths.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int print_json(cJSON *v);
static void verify_limits(const char *dir_opt, struct backup_limits *lim, unsigned char *key);
static cJSON *chain_json(const struct backup_bases *c);
static cJSON *entry_json(const char *dir, const struct backup_scan *s, size_t i);

/* One line of JSON on standard output and the value freed; -1 when it could not be written. */
static int print_json(cJSON *v)
{
	char *s = v != NULL ? cJSON_PrintUnformatted(v) : NULL;
	int rc = -1;

	if (s != NULL && puts(s) != EOF && fflush(stdout) == 0)
		rc = 0;
	else
		fprintf(stderr, "depotd: cannot print the result: %s\n",
		    s == NULL ? "out of memory" : "write error");
	free(s);
	cJSON_Delete(v);
	return rc;
}

/*
 * The restore limits the daemon on the data directory would apply: from
 * its depot.conf when this user can read it, else the defaults; and its
 * key when this user may read it. A directory that cannot be resolved
 * leaves both at that.
 */
static void verify_limits(const char *dir_opt, struct backup_limits *lim, unsigned char *key)
{
	struct depot_config cfg;
	char dir[4096], conf[4200], err[512];

	config_defaults(&cfg);
	lim->key = NULL;
	if (paths_data_dir(dir_opt, dir, sizeof dir, err, sizeof err) == 0) {
		if (paths_join(conf, sizeof conf, dir, "depot.conf") == 0 && access(conf, R_OK) == 0 &&
		    config_load(conf, &cfg, err, sizeof err) < 0)
			config_defaults(&cfg);
		/* The key tells whether a restore would trust the archive. */
		if (backup_key_read(dir, key) == 0)
			lim->key = key;
	}
	lim->max_members = cfg.restore_max_members;
	lim->free_margin = cfg.restore_free_margin;
}

/* The chain's archives: [{"path", "kind", "created_at", "members", "bytes"}], newest first. */
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

int backupcheck_verify(const char *file, const char *const *bases, size_t nbases,
    const char *dir_opt)
{
	unsigned char key[BACKUP_KEY_LEN];
	struct backup_limits lim;
	struct backup_summary sum;
	struct backup_bases chain = { .files = bases, .nfiles = nbases };
	char err[2048];
	cJSON *o = NULL, *read = NULL;
	int ok;

	verify_limits(dir_opt, &lim, key);
	ok = backup_read_chain(file, NULL, NULL, &chain, &lim, &sum, err, sizeof err) == 0;
	explicit_bzero(key, sizeof key);
	/* What backup list shows as verified, kept beside FILE where this user may write. */
	backup_verified_record(file, ok, ok && sum.authenticated, ok ? NULL : err);
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
	    (!ok && cJSON_AddStringToObject(o, "error", err) == NULL) ||
	    /* Whether a key was there to authenticate with: depotctl says so when it was not. */
	    cJSON_AddBoolToObject(o, "key_read", lim.key != NULL) == NULL) {
		if (read != NULL && (o == NULL || cJSON_GetObjectItemCaseSensitive(o, "chain") == NULL))
			cJSON_Delete(read);
		cJSON_Delete(o);
		backup_bases_free(&chain);
		fprintf(stderr, "depotd: out of memory\n");
		return 2;
	}
	backup_bases_free(&chain);
	if (print_json(o) < 0)
		return 2;
	return ok ? 0 : 1;
}

/* One archive of the directory: {name, path, format, kind, created_at, time_from, size, base, chain, ...}. */
static cJSON *entry_json(const char *dir, const struct backup_scan *s, size_t i)
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

int backupcheck_list(const char *dir)
{
	char err[1024];
	struct backup_scan s;
	cJSON *list;

	if (backup_scan_dir(dir, &s, err, sizeof err) < 0) {
		/* Said as a value, so that depotctl tells it from a depotd that failed. */
		if ((list = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(list, "error", err) == NULL) {
			cJSON_Delete(list);
			fprintf(stderr, "depotd: out of memory\n");
			return 2;
		}
		return print_json(list) < 0 ? 2 : 1;
	}
	if ((list = cJSON_CreateArray()) == NULL)
		goto nomem;
	for (size_t i = 0; i < s.n; i++) {
		cJSON *o = entry_json(dir, &s, i);

		if (o == NULL || !cJSON_AddItemToArray(list, o)) {
			cJSON_Delete(o);
			goto nomem;
		}
	}
	backup_scan_free(&s);
	return print_json(list) < 0 ? 2 : 0;
nomem:
	cJSON_Delete(list);
	backup_scan_free(&s);
	fprintf(stderr, "depotd: out of memory\n");
	return 2;
}
