/* repos.c: file repositories (DESIGN §8) — importer settings, versions and their files, and what sync, publish and orphans tasks need from the daemon. */
#include "depotd.h"
#include "jsonutil.h"
#include "fsutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum ikind { IK_FEED, IK_PROXY_URL, IK_PORT, IK_TEXT, IK_PEM, IK_BOOL, IK_SPEED, IK_CONCURRENCY };

static const struct ikey {
	const char *name;
	enum ikind kind;
	int secret;
} importer_keys[] = {
	{ "feed", IK_FEED, 0 },
	{ "proxy_url", IK_PROXY_URL, 0 },
	{ "proxy_port", IK_PORT, 0 },
	{ "proxy_username", IK_TEXT, 0 },
	{ "proxy_password", IK_TEXT, 1 },
	{ "ssl_ca_cert", IK_PEM, 0 },
	{ "ssl_client_cert", IK_PEM, 0 },
	{ "ssl_client_key", IK_PEM, 1 },
	{ "ssl_validation", IK_BOOL, 0 },
	{ "ssl_crl", IK_PEM, 0 },
	{ "max_speed", IK_SPEED, 0 },
	{ "download_concurrency", IK_CONCURRENCY, 0 },
	{ "mirror", IK_BOOL, 0 },
};
#define NKEYS (sizeof importer_keys / sizeof importer_keys[0])
#define PEM_MAX (512 * 1024)

/*
 * The worker-name pattern, [A-Za-z0-9._-]{1,64}; "." and ".." match it but
 * would name publish/ itself or the data directory.
 */
int repo_name_valid(const char *s)
{
	return validate_worker_name(s) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Parses with libcurl's URL parser, so what we accept is what sync can fetch. */
static int check_url(const char *key, const char *url, const char *const *schemes,
    int need_path_only_host, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *path = NULL, *host = NULL;
	CURLUcode rc;
	int ok = 0;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc != CURLUE_OK) {
		snprintf(err, errlen, "%s '%s' is not a URL: %s", key, url, curl_url_strerror(rc));
		curl_url_cleanup(u);
		return -1;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	for (const char *const *s = schemes; *s; s++)
		if (scheme && strcmp(scheme, *s) == 0)
			ok = 1;
	if (!ok)
		snprintf(err, errlen, "%s '%s': the scheme must be %s", key, url,
		    schemes[2] ? "file, http or https" : "http or https");
	else if (need_path_only_host && (path == NULL || strcmp(path, "/") != 0)) {
		snprintf(err, errlen, "%s '%s' must be scheme://host (the port goes in "
		    "proxy_port)", key, url);
		ok = 0;
	} else if (!need_path_only_host && (path == NULL || path[strlen(path) - 1] == '/')) {
		snprintf(err, errlen, "%s '%s' must name the PULP_MANIFEST file, not a "
		    "directory", key, url);
		ok = 0;
	}
	curl_free(scheme);
	curl_free(path);
	curl_free(host);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

static int check_value(const struct ikey *k, const cJSON *v, char *err, size_t errlen)
{
	static const char *const feed_schemes[] = { "file", "http", "https", NULL };
	static const char *const proxy_schemes[] = { "http", "https", NULL };
	const char *s = cJSON_GetStringValue(v);
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;

	switch (k->kind) {
	case IK_FEED:
	case IK_PROXY_URL:
		if (s == NULL || strlen(s) > 4096) {
			snprintf(err, errlen, "%s must be a URL string", k->name);
			return -1;
		}
		return check_url(k->name, s, k->kind == IK_FEED ? feed_schemes :
		    proxy_schemes, k->kind == IK_PROXY_URL, err, errlen);
	case IK_TEXT:
		if (s == NULL || strlen(s) > 255 || strpbrk(s, "\r\n") != NULL) {
			snprintf(err, errlen, "%s must be a string of at most 255 bytes "
			    "on one line", k->name);
			return -1;
		}
		return 0;
	case IK_PEM:
		if (s == NULL || strlen(s) > PEM_MAX || strstr(s, "-----BEGIN ") == NULL) {
			snprintf(err, errlen, "%s must be PEM text (-----BEGIN …), at most "
			    "%d bytes", k->name, PEM_MAX);
			return -1;
		}
		return 0;
	case IK_BOOL:
		if (!cJSON_IsBool(v)) {
			snprintf(err, errlen, "%s must be true or false", k->name);
			return -1;
		}
		return 0;
	case IK_PORT:
		if (d < 1 || d > 65535 || d != (double)(int64_t)d) {
			snprintf(err, errlen, "%s must be a port number from 1 to 65535", k->name);
			return -1;
		}
		return 0;
	case IK_SPEED:
		if (d < 0 || d > 1e15 || d != (double)(int64_t)d) {
			snprintf(err, errlen, "%s must be a whole number of bytes per "
			    "second (0: no limit)", k->name);
			return -1;
		}
		return 0;
	case IK_CONCURRENCY:
		if (d < 1 || d > 64 || d != (double)(int64_t)d) {
			snprintf(err, errlen, "%s must be from 1 to 64", k->name);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct ikey *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(importer_keys[i].name, name) == 0)
			return &importer_keys[i];
	return NULL;
}

int repo_importer_check(const cJSON *changes, char *err, size_t errlen)
{
	const cJSON *c;

	if (changes == NULL || cJSON_IsNull(changes))
		return 0;
	if (!cJSON_IsObject(changes)) {
		snprintf(err, errlen, "'importer' must be an object of settings");
		return -1;
	}
	cJSON_ArrayForEach(c, changes) {
		const struct ikey *k = find_key(c->string);
		if (k == NULL) {
			snprintf(err, errlen, "unknown importer setting '%.64s' (feed, proxy_url, "
			    "proxy_port, proxy_username, proxy_password, ssl_ca_cert, "
			    "ssl_client_cert, ssl_client_key, ssl_validation, ssl_crl, "
			    "max_speed, download_concurrency, mirror)", c->string);
			return -1;
		}
		if (!cJSON_IsNull(c) && check_value(k, c, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/*
 * Applies changes (an object of settings; null removes one) to importer,
 * checking every key and value first so a refusal changes nothing.
 */
int repo_importer_apply(cJSON *importer, const cJSON *changes, char *err, size_t errlen)
{
	const cJSON *c;

	if (repo_importer_check(changes, err, errlen) < 0)
		return -1;
	cJSON_ArrayForEach(c, changes) {
		cJSON_DeleteItemFromObjectCaseSensitive(importer, c->string);
		if (!cJSON_IsNull(c))
			cJSON_AddItemToObject(importer, c->string, cJSON_Duplicate(c, 1));
	}
	return 0;
}

/* What clients see: secrets masked, PEM blobs summarised (DESIGN §8). */
static cJSON *importer_public(const cJSON *importer)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *c;
	char buf[64];

	cJSON_ArrayForEach(c, importer) {
		const struct ikey *k = find_key(c->string);
		if (k != NULL && k->secret)
			cJSON_AddStringToObject(out, c->string, "********");
		else if (k != NULL && k->kind == IK_PEM) {
			snprintf(buf, sizeof buf, "PEM, %zu bytes", strlen(c->valuestring));
			cJSON_AddStringToObject(out, c->string, buf);
		} else
			cJSON_AddItemToObject(out, c->string, cJSON_Duplicate(c, 1));
	}
	return out;
}

/* The stored importer settings of name (secrets included), or NULL if no such repository. */
cJSON *repo_importer(const char *name)
{
	return store_repo_importer(D->store, name);
}

int repo_task_check(const struct task *t, int *code, char *err, size_t errlen)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "repository"));
	cJSON *imp;
	int rc = 0;

	if (repo == NULL)
		return 0;
	if ((imp = repo_importer(repo)) == NULL) {
		snprintf(err, errlen, "no repository '%s'", repo);
		*code = ERR_NOT_FOUND;
		return -1;
	}
	if (t->tt->needs_feed &&
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(imp, "feed"))) {
		snprintf(err, errlen, "repository '%s' has no feed to sync from: set one with "
		    "repo update %s --feed URL", repo, repo);
		*code = ERR_BAD_REQUEST;
		rc = -1;
	}
	cJSON_Delete(imp);
	return rc;
}

static cJSON *repo_row_json(const struct repo_row *r)
{
	cJSON *o = cJSON_CreateObject(), *imp;

	cJSON_AddStringToObject(o, "name", r->name);
	json_add_time(o, "created_at", r->created_at);
	imp = cJSON_Parse(r->importer);
	cJSON_AddItemToObject(o, "importer", importer_public(imp));
	cJSON_Delete(imp);
	json_add_id(o, "latest_version", r->latest_version);
	cJSON_AddNumberToObject(o, "files", (double)r->files);
	cJSON_AddNumberToObject(o, "size", (double)r->size);
	json_add_id(o, "published_version", r->published_version);
	json_add_time(o, "published_at", r->published_at);
	return o;
}

static void repo_found(const struct repo_row *r, void *arg)
{
	*(cJSON **)arg = repo_row_json(r);
}

static void repo_listed(const struct repo_row *r, void *arg)
{
	cJSON_AddItemToArray(arg, repo_row_json(r));
}

static void version_json(const struct version_row *v, void *arg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "number", (double)v->number);
	json_add_time(o, "created_at", v->created_at);
	cJSON_AddNumberToObject(o, "files", (double)v->files);
	cJSON_AddNumberToObject(o, "size", (double)v->size);
	json_add_id(o, "task", v->task);
	cJSON_AddItemToArray(arg, o);
}

/* One repository as clients see it; with_versions adds its version list. NULL if none. */
cJSON *repo_json(const char *name, int with_versions)
{
	cJSON *o = NULL, *versions;

	store_repos(D->store, name, repo_found, &o);
	if (o != NULL && with_versions) {
		versions = cJSON_CreateArray();
		store_repo_versions(D->store, name, version_json, versions);
		cJSON_AddItemToObject(o, "versions", versions);
	}
	return o;
}

cJSON *repo_list_json(void)
{
	cJSON *arr = cJSON_CreateArray();

	store_repos(D->store, NULL, repo_listed, arr);
	return arr;
}

int repo_create(const char *name, const cJSON *importer)
{
	return store_repo_create(D->store, name, importer, time_now_ms());
}

int repo_update(const char *name, const cJSON *importer)
{
	return store_repo_update(D->store, name, importer);
}

int repo_delete(const char *name)
{
	struct pub_modes pm;
	char err[1024];

	if (store_begin(D->store) < 0)
		return -1;
	if (store_repo_delete(D->store, name) < 0 || store_commit(D->store) < 0) {
		store_rollback(D->store);
		return -1;
	}
	/* A deleted repository's publication disappears at once. */
	publish_modes(D->cfg.publish_gid, &pm);
	if (publish_remove(daemon_data(), D->publish_dir, &pm, name, err, sizeof err) < 0)
		log_warn("%s", err);
	return 0;
}

/* tmp/TYPE-ID.list, relative to the data directory as every path handed to a worker. */
void repos_list_path(const struct task *t, char *out, size_t n)
{
	snprintf(out, n, "tmp/%s-%lld.list", t->type, (long long)t->id);
}

/* Opens the task list path beneath the data directory, as fopen would with mode "r" or "wx". */
FILE *repos_list_open(const char *path, int write, char *err, size_t errlen)
{
	int fd = fs_open_beneath(daemon_data()->fd, path, write ? O_WRONLY | O_CREAT | O_EXCL :
	    O_RDONLY, 0600);
	FILE *f = fd < 0 ? NULL : fdopen(fd, write ? "w" : "r");

	if (f == NULL) {
		fs_beneath_error(daemon_data(), path, errno, err, errlen);
		if (fd >= 0)
			close(fd);
	}
	return f;
}

/* A file list being written for a worker: "sha256,size,path" a line (path last: it may hold commas), or "sha256". */
struct list_out {
	FILE *f;
	int columns, bad;
	int64_t count;
};

static void list_put(const struct version_file *vf, void *arg)
{
	struct list_out *l = arg;

	if (l->columns == 1)
		l->bad |= fprintf(l->f, "%s\n", vf->sha256) < 0;
	else
		l->bad |= fprintf(l->f, "%s,%lld,%s\n", vf->sha256, (long long)vf->size,
		    vf->path) < 0;
	l->count++;
}

struct version_ref {
	const char *repo;
	int64_t number;
};

/* Writes the list at path: the files of version v, or (v NULL) the content any version holds. */
static int write_rows(const char *path, const struct version_ref *v, int64_t *count,
    char *err, size_t errlen)
{
	struct list_out l = { .f = repos_list_open(path, 1, err, errlen), .columns = v ? 3 : 1 };
	int db_failed;

	*count = 0;
	if (l.f == NULL)
		return -1;
	db_failed = (v ? store_version_files(D->store, v->repo, v->number, list_put, &l) :
	    store_content_referenced(D->store, list_put, &l)) < 0;
	l.bad |= db_failed;
	l.bad |= fclose(l.f) != 0;
	*count = l.count;
	if (l.bad) {
		snprintf(err, errlen, "writing %s/%s: %s", D->dir, path,
		    db_failed ? store_errmsg(D->store) : strerror(errno));
		fs_unlink_beneath(daemon_data()->fd, path);
	}
	return l.bad ? -1 : 0;
}

/*
 * Adds to a task's assignment what its worker needs and may not find
 * itself (it has no database): the importer for sync, the version's file
 * list for publish, the referenced content for orphans.
 */
int repos_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "repository"));
	char path[128];
	int64_t version, count;

	repos_list_path(t, path, sizeof path);
	if (t->tt->id == TASKTYPE_SYNC) {
		cJSON *imp = repo_importer(repo);
		if (imp == NULL) {
			snprintf(err, errlen, "repository '%s' no longer exists", repo);
			return -1;
		}
		cJSON_AddItemToObject(assignment, "importer", imp);
		cJSON_AddStringToObject(assignment, "list_path", path);
		return 0;
	}
	if (t->tt->id == TASKTYPE_PUBLISH) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(t->d->args, "version");
		struct version_ref ref = { .repo = repo };

		version = cJSON_IsNumber(v) ? (int64_t)v->valuedouble :
		    store_repo_latest(D->store, repo, NULL, 0);
		if (version <= 0) {
			snprintf(err, errlen, "repository '%s' has no version to publish: sync it first", repo);
			return -1;
		}
		ref.number = version;
		if (write_rows(path, &ref, &count, err, errlen) < 0)
			return -1;
		if (count == 0 && store_repo_latest(D->store, repo, NULL, 0) < version) {
			fs_unlink_beneath(daemon_data()->fd, path);
			snprintf(err, errlen, "repository '%s' has no version %lld", repo,
			    (long long)version);
			return -1;
		}
		cJSON_AddNumberToObject(assignment, "version", (double)version);
		cJSON_AddStringToObject(assignment, "list_path", path);
		cJSON_AddStringToObject(assignment, "publish_dir", D->publish_dir);
		if (D->cfg.publish_gid != (gid_t)-1)
			cJSON_AddNumberToObject(assignment, "publish_gid", D->cfg.publish_gid);
		return 0;
	}
	if (t->tt->id == TASKTYPE_ORPHANS) {
		if (write_rows(path, NULL, &count, err, errlen) < 0)
			return -1;
		cJSON_AddStringToObject(assignment, "list_path", path);
		return 0;
	}
	return 0;
}

/* A sync's worker finished: its version is recorded in slices by recorder.c, which ends t. */
int repos_sync_done(struct task *t, cJSON *result, char *err, size_t errlen)
{
	return recorder_start(t, result, err, errlen) < 0 ? -1 : 1;
}

int repos_publish_done(const struct task *t, const cJSON *result)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "repository"));
	int64_t version;
	char err[128];

	/* The worker's number: converting one beyond int64_t would be undefined. */
	if (validate_int(result, "version", 1, 1, INT64_C(9000000000000000), &version,
	    err, sizeof err) < 0)
		return -1;
	return store_repo_published(D->store, repo, version, time_now_ms());
}

/* The daemon's half of the file lists handed to workers goes when the task ends. */
void repos_task_ended(const struct task *t, int completed)
{
	char path[128];

	(void)completed;
	/* A waiting task without its detail never ran: it has no list. */
	if (t->d == NULL)
		return;
	repos_list_path(t, path, sizeof path);
	fs_unlink_beneath(daemon_data()->fd, path);
}
