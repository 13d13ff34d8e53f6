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
#include <openssl/evp.h>
#include <sqlite3.h>
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

/* A nullable time column as RFC 3339 or null. */
static void add_time(cJSON *o, const char *key, sqlite3_stmt *q, int col)
{
	json_add_time(o, key, sqlite3_column_type(q, col) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(q, col));
}

static sqlite3 *db(void) { return store_db(D->store); }

/* The stored importer settings of name (secrets included), or NULL if no such repository. */
cJSON *repo_importer(const char *name)
{
	sqlite3_stmt *q;
	cJSON *imp = NULL;

	if (sqlite3_prepare_v2(db(), "SELECT importer FROM repositories WHERE name = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		imp = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	return imp;
}

static const char repo_select[] =
	"SELECT r.name, r.importer, r.created_at, r.published_version, r.published_at,"
	" v.number, v.files, v.size FROM repositories r LEFT JOIN versions v"
	" ON v.repo = r.name AND v.number = (SELECT max(number) FROM versions"
	" WHERE repo = r.name)";

static cJSON *repo_row_json(sqlite3_stmt *q)
{
	cJSON *o = cJSON_CreateObject(), *imp;

	cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(q, 0));
	add_time(o, "created_at", q, 2);
	imp = cJSON_Parse((const char *)sqlite3_column_text(q, 1));
	cJSON_AddItemToObject(o, "importer", importer_public(imp));
	cJSON_Delete(imp);
	json_add_id(o, "latest_version", sqlite3_column_int64(q, 5));
	cJSON_AddNumberToObject(o, "files", (double)sqlite3_column_int64(q, 6));
	cJSON_AddNumberToObject(o, "size", (double)sqlite3_column_int64(q, 7));
	json_add_id(o, "published_version", sqlite3_column_int64(q, 3));
	add_time(o, "published_at", q, 4);
	return o;
}

static cJSON *versions_json(const char *name)
{
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(db(), "SELECT number, created_at, files, size, task_id"
	    " FROM versions WHERE repo = ? ORDER BY number DESC", -1, &q, NULL) != SQLITE_OK)
		return arr;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(q) == SQLITE_ROW) {
		cJSON *v = cJSON_CreateObject();
		cJSON_AddNumberToObject(v, "number", (double)sqlite3_column_int64(q, 0));
		add_time(v, "created_at", q, 1);
		cJSON_AddNumberToObject(v, "files", (double)sqlite3_column_int64(q, 2));
		cJSON_AddNumberToObject(v, "size", (double)sqlite3_column_int64(q, 3));
		json_add_id(v, "task", sqlite3_column_int64(q, 4));
		cJSON_AddItemToArray(arr, v);
	}
	sqlite3_finalize(q);
	return arr;
}

/* One repository as clients see it; with_versions adds its version list. NULL if none. */
cJSON *repo_json(const char *name, int with_versions)
{
	char sql[sizeof repo_select + 32];
	sqlite3_stmt *q;
	cJSON *o = NULL;

	snprintf(sql, sizeof sql, "%s WHERE r.name = ?", repo_select);
	if (sqlite3_prepare_v2(db(), sql, -1, &q, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		o = repo_row_json(q);
		if (with_versions)
			cJSON_AddItemToObject(o, "versions", versions_json(name));
	}
	sqlite3_finalize(q);
	return o;
}

cJSON *repo_list_json(void)
{
	char sql[sizeof repo_select + 32];
	cJSON *arr = cJSON_CreateArray();
	sqlite3_stmt *q;

	snprintf(sql, sizeof sql, "%s ORDER BY r.name", repo_select);
	if (sqlite3_prepare_v2(db(), sql, -1, &q, NULL) != SQLITE_OK)
		return arr;
	while (sqlite3_step(q) == SQLITE_ROW)
		cJSON_AddItemToArray(arr, repo_row_json(q));
	sqlite3_finalize(q);
	return arr;
}

static int write_importer(const char *sql, const char *name, const cJSON *importer,
    int with_time)
{
	char *text = cJSON_PrintUnformatted(importer);
	sqlite3_stmt *q;
	int rc = -1;

	if (text == NULL)
		return -1;
	if (sqlite3_prepare_v2(db(), sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
		if (with_time)
			sqlite3_bind_int64(q, 3, time_now_ms());
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(q);
	}
	free(text);
	return rc;
}

int repo_create(const char *name, const cJSON *importer)
{
	return write_importer("INSERT INTO repositories (importer, name, created_at)"
	    " VALUES (?, ?, ?)", name, importer, 1);
}

int repo_update(const char *name, const cJSON *importer)
{
	return write_importer("UPDATE repositories SET importer = ? WHERE name = ?",
	    name, importer, 0);
}

int repo_delete(const char *name)
{
	struct pub_modes pm;
	sqlite3_stmt *q;
	char err[1024];
	int rc = -1;

	if (store_begin(D->store) < 0)
		return -1;
	if (sqlite3_prepare_v2(db(), "DELETE FROM repositories WHERE name = ?", -1, &q,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
		sqlite3_finalize(q);
	}
	if (rc < 0 || store_commit(D->store) < 0) {
		store_rollback(D->store);
		return -1;
	}
	/* A deleted repository's publication disappears at once. */
	publish_modes(D->cfg.publish_gid, &pm);
	if (publish_remove(daemon_data(), D->publish_dir, &pm, name, err, sizeof err) < 0)
		log_warn("%s", err);
	return 0;
}

static int64_t latest_version(const char *name, char *digest, size_t digestlen)
{
	sqlite3_stmt *q;
	int64_t n = 0;

	if (digest)
		digest[0] = '\0';
	if (sqlite3_prepare_v2(db(), "SELECT number, digest FROM versions WHERE repo = ?"
	    " ORDER BY number DESC LIMIT 1", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		n = sqlite3_column_int64(q, 0);
		if (digest)
			snprintf(digest, digestlen, "%s", sqlite3_column_text(q, 1));
	}
	sqlite3_finalize(q);
	return n;
}

/* tmp/TYPE-ID.list, relative to the data directory as every path handed to a worker. */
static void list_path(const struct task *t, char *out, size_t n)
{
	snprintf(out, n, "tmp/%s-%lld.list", t->type, (long long)t->id);
}

/* Opens the task list path beneath the data directory, as fopen would with mode "r" or "wx". */
static FILE *list_open(const char *path, int write, char *err, size_t errlen)
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

/* Writes the rows of a query, "sha256,size,path" a line (path last: it may hold commas). */
static int write_rows(const char *path, sqlite3_stmt *q, int columns, int64_t *count,
    char *err, size_t errlen)
{
	FILE *f = list_open(path, 1, err, errlen);
	int rc, bad = 0;

	*count = 0;
	if (f == NULL)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (columns == 1)
			bad |= fprintf(f, "%s\n", sqlite3_column_text(q, 0)) < 0;
		else
			bad |= fprintf(f, "%s,%lld,%s\n", sqlite3_column_text(q, 0),
			    (long long)sqlite3_column_int64(q, 1), sqlite3_column_text(q, 2)) < 0;
		(*count)++;
	}
	bad |= rc != SQLITE_DONE;
	bad |= fclose(f) != 0;
	if (bad) {
		snprintf(err, errlen, "writing %s/%s: %s", D->dir, path,
		    rc != SQLITE_DONE ? sqlite3_errmsg(db()) : strerror(errno));
		fs_unlink_beneath(daemon_data()->fd, path);
	}
	return bad ? -1 : 0;
}

/*
 * Adds to a task's assignment what its worker needs and may not find
 * itself (it has no database): the importer for sync, the version's file
 * list for publish, the referenced content for orphans.
 */
int repos_prepare_assignment(const struct task *t, cJSON *assignment, char *err, size_t errlen)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->args, "repository"));
	char path[128];
	sqlite3_stmt *q;
	int64_t version, count;
	int rc;

	list_path(t, path, sizeof path);
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
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(t->args, "version");
		version = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : latest_version(repo, NULL, 0);
		if (version <= 0) {
			snprintf(err, errlen, "repository '%s' has no version to publish: sync it first", repo);
			return -1;
		}
		if (sqlite3_prepare_v2(db(), "SELECT sha256, size, path FROM version_files"
		    " WHERE repo = ? AND number = ? ORDER BY path", -1, &q, NULL) != SQLITE_OK)
			goto db_error;
		sqlite3_bind_text(q, 1, repo, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, version);
		rc = write_rows(path, q, 3, &count, err, errlen);
		sqlite3_finalize(q);
		if (rc < 0)
			return -1;
		if (count == 0 && latest_version(repo, NULL, 0) < version) {
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
		if (sqlite3_prepare_v2(db(), "SELECT DISTINCT sha256 FROM version_files"
		    " ORDER BY sha256", -1, &q, NULL) != SQLITE_OK)
			goto db_error;
		rc = write_rows(path, q, 1, &count, err, errlen);
		sqlite3_finalize(q);
		if (rc < 0)
			return -1;
		cJSON_AddStringToObject(assignment, "list_path", path);
		return 0;
	}
	return 0;
db_error:
	snprintf(err, errlen, "reading the database: %s", sqlite3_errmsg(db()));
	return -1;
}

static int exec_sql(const char *sql)
{
	return sqlite3_exec(db(), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Loads the worker's list into the temp table sync_new. */
static int load_list(const char *path, char *err, size_t errlen)
{
	char why[1024];
	FILE *f = list_open(path, 0, why, sizeof why);
	sqlite3_stmt *q;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "reading the sync's file list %s", why);
		return -1;
	}
	if (sqlite3_prepare_v2(db(), "INSERT OR REPLACE INTO sync_new (sha256, size, path)"
	    " VALUES (?, ?, ?)", -1, &q, NULL) != SQLITE_OK) {
		fclose(f);
		snprintf(err, errlen, "%s", sqlite3_errmsg(db()));
		return -1;
	}
	while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
		char *c1, *c2;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((c1 = strchr(line, ',')) == NULL || (c2 = strchr(c1 + 1, ',')) == NULL ||
		    c1 - line != 64) {
			snprintf(err, errlen, "the sync's file list has a bad line: %.80s", line);
			rc = -1;
			break;
		}
		sqlite3_bind_text(q, 1, line, 64, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, strtoll(c1 + 1, NULL, 10));
		sqlite3_bind_text(q, 3, c2 + 1, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(db()));
			rc = -1;
		}
		sqlite3_reset(q);
	}
	free(line);
	sqlite3_finalize(q);
	fclose(f);
	return rc;
}

/* A version's identity: sha256 over its sorted (path, sha256) pairs. */
static int digest_new(char *hex, int64_t *files, int64_t *size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[32];
	sqlite3_stmt *q;
	unsigned int n;
	int rc;

	*files = *size = 0;
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    sqlite3_prepare_v2(db(), "SELECT path, sha256, size FROM sync_new ORDER BY path",
	    -1, &q, NULL) != SQLITE_OK) {
		EVP_MD_CTX_free(md);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		EVP_DigestUpdate(md, sqlite3_column_text(q, 0), (size_t)sqlite3_column_bytes(q, 0) + 1);
		EVP_DigestUpdate(md, sqlite3_column_text(q, 1), 64);
		(*files)++;
		*size += sqlite3_column_int64(q, 2);
	}
	sqlite3_finalize(q);
	EVP_DigestFinal_ex(md, out, &n);
	EVP_MD_CTX_free(md);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * A sync's worker finished: make the new version from its file list in one
 * transaction, unless the files are those of the latest version already.
 * Adds "version" and "new_version" to result. -1 with err on failure.
 */
int repos_sync_done(const struct task *t, cJSON *result, char *err, size_t errlen)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->args, "repository"));
	cJSON *imp = repo_importer(repo);
	int mirror = imp == NULL || !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(imp, "mirror"));
	char path[128], latest_digest[80], digest[80], sql[256];
	int64_t latest, files, size, number;
	sqlite3_stmt *q;

	cJSON_Delete(imp);
	list_path(t, path, sizeof path);
	if (store_begin(D->store) < 0 ||
	    exec_sql("CREATE TEMP TABLE IF NOT EXISTS sync_new (path TEXT PRIMARY KEY,"
	    " sha256 TEXT NOT NULL, size INTEGER NOT NULL); DELETE FROM sync_new;") < 0) {
		snprintf(err, errlen, "recording the version: %s", sqlite3_errmsg(db()));
		store_rollback(D->store);
		return -1;
	}
	if ((latest = latest_version(repo, latest_digest, sizeof latest_digest)) < 0 ||
	    load_list(path, err, errlen) < 0)
		goto fail;
	if (!mirror && latest > 0) {
		snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO sync_new (path, sha256, size)"
		    " SELECT path, sha256, size FROM version_files WHERE repo = ?1 AND number = %lld",
		    (long long)latest);
		if (sqlite3_prepare_v2(db(), sql, -1, &q, NULL) != SQLITE_OK)
			goto fail_db;
		sqlite3_bind_text(q, 1, repo, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE) {
			sqlite3_finalize(q);
			goto fail_db;
		}
		sqlite3_finalize(q);
	}
	if (digest_new(digest, &files, &size) < 0)
		goto fail_db;
	/* What the version holds, which with mirror false is more than the feed lists. */
	cJSON_DeleteItemFromObjectCaseSensitive(result, "files");
	cJSON_DeleteItemFromObjectCaseSensitive(result, "bytes");
	cJSON_AddNumberToObject(result, "files", (double)files);
	cJSON_AddNumberToObject(result, "bytes", (double)size);
	if (latest > 0 && strcmp(digest, latest_digest) == 0) {
		/* Nothing changed: no new version (DESIGN §8). */
		store_rollback(D->store);
		cJSON_AddNumberToObject(result, "version", (double)latest);
		cJSON_AddBoolToObject(result, "new_version", 0);
		return 0;
	}
	number = latest + 1;
	if (sqlite3_prepare_v2(db(), "INSERT INTO versions (repo, number, created_at, task_id,"
	    " files, size, digest) VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &q, NULL) != SQLITE_OK)
		goto fail_db;
	sqlite3_bind_text(q, 1, repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, number);
	sqlite3_bind_int64(q, 3, time_now_ms());
	sqlite3_bind_int64(q, 4, t->id);
	sqlite3_bind_int64(q, 5, files);
	sqlite3_bind_int64(q, 6, size);
	sqlite3_bind_text(q, 7, digest, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE) {
		sqlite3_finalize(q);
		goto fail_db;
	}
	sqlite3_finalize(q);
	if (sqlite3_prepare_v2(db(), "INSERT INTO version_files (repo, number, path, sha256, size)"
	    " SELECT ?, ?, path, sha256, size FROM sync_new", -1, &q, NULL) != SQLITE_OK)
		goto fail_db;
	sqlite3_bind_text(q, 1, repo, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, number);
	if (sqlite3_step(q) != SQLITE_DONE) {
		sqlite3_finalize(q);
		goto fail_db;
	}
	sqlite3_finalize(q);
	if (exec_sql("DELETE FROM sync_new") < 0 || store_commit(D->store) < 0)
		goto fail_db;
	log_info("repository %s: version %lld (%lld files)", repo, (long long)number,
	    (long long)files);
	cJSON_AddNumberToObject(result, "version", (double)number);
	cJSON_AddBoolToObject(result, "new_version", 1);
	return 0;
fail_db:
	snprintf(err, errlen, "recording the version: %s", sqlite3_errmsg(db()));
fail:
	store_rollback(D->store);
	return -1;
}

int repos_publish_done(const struct task *t, const cJSON *result)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->args, "repository"));
	int64_t version;
	char err[128];
	sqlite3_stmt *q;
	int rc = -1;

	/* The worker's number: converting one beyond int64_t would be undefined. */
	if (validate_int(result, "version", 1, 1, INT64_C(9000000000000000), &version,
	    err, sizeof err) < 0)
		return -1;
	if (sqlite3_prepare_v2(db(), "UPDATE repositories SET published_version = ?,"
	    " published_at = ? WHERE name = ?", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, version);
	sqlite3_bind_int64(q, 2, time_now_ms());
	sqlite3_bind_text(q, 3, repo, -1, SQLITE_STATIC);
	rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(q);
	return rc;
}

/* The daemon's half of the file lists handed to workers goes when the task ends. */
void repos_task_ended(const struct task *t, int completed)
{
	char path[128];

	(void)completed;
	list_path(t, path, sizeof path);
	fs_unlink_beneath(daemon_data()->fd, path);
}
