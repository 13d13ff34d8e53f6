/* backup.c: the archive work of backup and restore tasks in a worker: writing the tar (MANIFEST.json last), and verifying and extracting one into staging. */
#include "backupfmt.h"
#include "depotd.h"
#include "fsutil.h"
#include "jsonutil.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The trees a backup holds besides the database and depot.conf; content first, so hard links point at it. */
static const char *const backup_trees[] = { "content", "publish", "logs" };

struct writer {
	struct worker_shared *ws;
	struct archive *a;
	struct archive_entry_linkresolver *links;
	cJSON *members;
	int64_t done, total;
	int canceled;
	char err[1024];
};

static void add_member(struct writer *w, const char *path, const char *type, int64_t size,
    const char *sha, const char *target)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "path", path);
	cJSON_AddStringToObject(m, "type", type);
	if (sha != NULL) {
		cJSON_AddNumberToObject(m, "size", (double)size);
		cJSON_AddStringToObject(m, "sha256", sha);
	}
	if (target != NULL)
		cJSON_AddStringToObject(m, "target", target);
	cJSON_AddItemToArray(w->members, m);
}

static void progress(struct writer *w)
{
	pthread_mutex_lock(&w->ws->mu);
	w->ws->progress_done = w->done;
	w->ws->progress_total = w->total;
	snprintf(w->ws->progress_unit, sizeof w->ws->progress_unit, "bytes");
	pthread_mutex_unlock(&w->ws->mu);
}

/* libarchive's message, and the system's reason when there is one ("No space left on device"). */
static int fail_archive(struct writer *w, const char *what)
{
	const char *msg = archive_error_string(w->a);
	int e = archive_errno(w->a);

	if (msg != NULL && e > 0 && strstr(msg, strerror(e)) == NULL)
		snprintf(w->err, sizeof w->err, "%s: %s: %s", what, msg, strerror(e));
	else
		snprintf(w->err, sizeof w->err, "%s: %s", what, msg ? msg : strerror(e));
	return -1;
}

/* Writes one file's data, hashing it; the manifest gets its sha256. */
static int write_data(struct writer *w, const char *src, const char *path, int64_t size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	char buf[65536], sha[65];
	unsigned int dlen;
	int64_t got = 0;
	ssize_t n;
	int fd = open(src, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		snprintf(w->err, sizeof w->err, "reading %s: %s", src, strerror(errno));
		goto fail;
	}
	while (got < size && (n = read(fd, buf, sizeof buf)) > 0) {
		if (n > size - got)
			n = (ssize_t)(size - got);	/* the header promised size bytes */
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			fail_archive(w, "writing the archive");
			goto fail;
		}
		got += n;
		w->done += n;
		if (atomic_load(&w->ws->cancel)) {
			w->canceled = 1;
			goto fail;
		}
	}
	if (got != size) {
		snprintf(w->err, sizeof w->err, "%s changed size while it was backed up", src);
		goto fail;
	}
	EVP_DigestFinal_ex(md, digest, &dlen);
	for (unsigned int i = 0; i < dlen; i++)
		snprintf(sha + 2 * i, 3, "%02x", digest[i]);
	add_member(w, path, "file", size, sha, NULL);
	EVP_MD_CTX_free(md);
	close(fd);
	progress(w);
	return 0;
fail:
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* One file system object as member path; src is where it is now. */
static int write_one(struct writer *w, const char *src, const char *path)
{
	struct archive_entry *e = archive_entry_new(), *sparse = NULL;
	struct stat st;
	char target[4096];
	ssize_t n;
	int rc = -1;

	if (lstat(src, &st) < 0) {
		snprintf(w->err, sizeof w->err, "reading %s: %s", src, strerror(errno));
		archive_entry_free(e);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
		archive_entry_free(e);
		return 0;	/* a stray socket or FIFO is no part of a depot */
	}
	archive_entry_copy_stat(e, &st);
	archive_entry_set_pathname(e, path);
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(src, target, sizeof target - 1)) < 0) {
			snprintf(w->err, sizeof w->err, "reading link %s: %s", src, strerror(errno));
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (S_ISREG(st.st_mode))
		archive_entry_linkify(w->links, &e, &sparse);
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		fail_archive(w, "writing the archive");
		goto out;
	}
	if (S_ISDIR(st.st_mode))
		add_member(w, path, "dir", 0, NULL, NULL);
	else if (S_ISLNK(st.st_mode))
		add_member(w, path, "symlink", 0, NULL, target);
	else if (archive_entry_hardlink(e) != NULL)
		add_member(w, path, "hardlink", 0, NULL, archive_entry_hardlink(e));
	else if (write_data(w, src, path, st.st_size) < 0)
		goto out;
	rc = 0;
out:
	archive_entry_free(e);
	return rc;
}

static int write_tree(struct writer *w, const char *src, const char *path)
{
	struct dirent **names;
	char csrc[4300], cpath[4300];
	int n, rc = 0;

	struct stat st;

	if (write_one(w, src, path) < 0)
		return -1;
	/* Never through a symlink (publish/NAME/current): it is stored as a link. */
	if (lstat(src, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    (n = scandir(src, &names, NULL, alphasort)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			snprintf(csrc, sizeof csrc, "%s/%s", src, name);
			snprintf(cpath, sizeof cpath, "%s/%s", path, name);
			rc = write_tree(w, csrc, cpath);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int64_t tree_bytes(const char *src)
{
	struct dirent **names;
	char child[4300];
	struct stat st;
	int64_t sum = 0;
	int n;

	if (lstat(src, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? st.st_size : 0;
	if ((n = scandir(src, &names, NULL, NULL)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			snprintf(child, sizeof child, "%s/%s", src, names[i]->d_name);
			sum += tree_bytes(child);
		}
		free(names[i]);
	}
	free(names);
	return sum;
}

static int write_manifest(struct writer *w)
{
	cJSON *root = cJSON_CreateObject();
	struct archive_entry *e = archive_entry_new();
	char when[TIME_RFC3339_LEN], *text;
	int rc = -1;

	time_format_rfc3339(time_now_ms(), when);
	cJSON_AddNumberToObject(root, "format", BACKUP_FORMAT);
	cJSON_AddStringToObject(root, "created_at", when);
	cJSON_AddStringToObject(root, "depot_version", DEPOT_VERSION);
	cJSON_AddItemToObject(root, "members", w->members);
	w->members = NULL;
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL) {
		snprintf(w->err, sizeof w->err, "out of memory writing the manifest");
		archive_entry_free(e);
		return -1;
	}
	archive_entry_set_pathname(e, BACKUP_MANIFEST);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)strlen(text));
	archive_entry_set_mtime(e, time_now_ms() / 1000, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK ||
	    archive_write_data(w->a, text, strlen(text)) != (la_ssize_t)strlen(text))
		fail_archive(w, "writing the manifest");
	else
		rc = 0;
	free(text);
	archive_entry_free(e);
	return rc;
}

static int set_filter(struct archive *a, const char *compression)
{
	if (compression == NULL || strcmp(compression, "zstd") == 0)
		return archive_write_add_filter_zstd(a);
	if (strcmp(compression, "gzip") == 0)
		return archive_write_add_filter_gzip(a);
	return archive_write_add_filter_none(a);
}

/*
 * Writes the archive to output.part, fsyncs and renames it: a reader sees
 * a whole archive or none (DESIGN §9). Returns 0, or -1 with w->err.
 */
static int write_archive(struct writer *w, const char *db_copy, const char *output,
    const char *compression)
{
	char part[4200], conf[4200], src[4200], parent[4200];
	int fd, rc = -1;

	snprintf(part, sizeof part, "%s.part", output);
	snprintf(parent, sizeof parent, "%s", output);
	if (fs_mkdirs(dirname(parent), 0700) < 0 ||
	    (fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		snprintf(w->err, sizeof w->err, "creating %s: %s", part, strerror(errno));
		return -1;
	}
	if ((w->a = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    set_filter(w->a, compression) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(w->a, fd) != ARCHIVE_OK) {
		fail_archive(w, "starting the archive");
		goto out;
	}
	w->links = archive_entry_linkresolver_new();
	archive_entry_linkresolver_set_strategy(w->links, archive_format(w->a));
	snprintf(conf, sizeof conf, "%s/depot.conf", worker_dir);
	if (write_one(w, db_copy, "depot.db") < 0 ||
	    (access(conf, F_OK) == 0 && write_one(w, conf, "depot.conf") < 0))
		goto out;
	for (size_t i = 0; i < sizeof backup_trees / sizeof backup_trees[0]; i++) {
		snprintf(src, sizeof src, "%s/%s", worker_dir, backup_trees[i]);
		if (access(src, F_OK) == 0 && write_tree(w, src, backup_trees[i]) < 0)
			goto out;
	}
	if (write_manifest(w) < 0)
		goto out;
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		fail_archive(w, "finishing the archive");
		goto out;
	}
	if (fsync(fd) < 0) {
		snprintf(w->err, sizeof w->err, "writing %s: %s", part, strerror(errno));
		goto out;
	}
	if (rename(part, output) < 0) {
		snprintf(w->err, sizeof w->err, "renaming %s: %s", part, strerror(errno));
		goto out;
	}
	snprintf(parent, sizeof parent, "%s", output);
	fs_sync_dir(dirname(parent));
	rc = 0;
out:
	if (w->links)
		archive_entry_linkresolver_free(w->links);
	if (w->a)
		archive_write_free(w->a);
	close(fd);
	if (rc < 0)
		unlink(part);	/* a failed or canceled backup leaves nothing behind */
	return rc;
}

void backup_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, const char **state)
{
	const char *db_copy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "db_copy"));
	const char *output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "output"));
	const char *compression = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "compression"));
	struct writer w = { .ws = ws, .members = cJSON_CreateArray() };
	char src[4200];
	struct stat st;

	*result = *error = NULL;
	*state = "failed";
	if (db_copy == NULL || output == NULL) {
		*error = cJSON_CreateObject();
		cJSON_AddStringToObject(*error, "reason", "exception");
		cJSON_AddStringToObject(*error, "message", "the backup assignment lacks its database copy or output");
		cJSON_Delete(w.members);
		return;
	}
	w.total = tree_bytes(db_copy);
	for (size_t i = 0; i < sizeof backup_trees / sizeof backup_trees[0]; i++) {
		snprintf(src, sizeof src, "%s/%s", worker_dir, backup_trees[i]);
		w.total += tree_bytes(src);
	}
	progress(&w);
	if (write_archive(&w, db_copy, output, compression) < 0) {
		*error = cJSON_CreateObject();
		if (w.canceled) {
			*state = "canceled";
			cJSON_AddStringToObject(*error, "reason", "canceled-by-user");
			cJSON_AddStringToObject(*error, "message", "stopped on the daemon's request");
		} else {
			cJSON_AddStringToObject(*error, "reason", "exception");
			cJSON_AddStringToObject(*error, "message", w.err);
			log_error("backup to %s failed: %s", output, w.err);
		}
		cJSON_Delete(w.members);
		return;
	}
	*state = "completed";
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "path", output);
	cJSON_AddNumberToObject(*result, "size", stat(output, &st) == 0 ? (double)st.st_size : 0);
	cJSON_AddNumberToObject(*result, "content_bytes", (double)w.done);
	cJSON_AddStringToObject(*result, "compression", compression ? compression : "zstd");
}

/* A restore task's worker half: verify, then extract into the staging directory beside DIR. */
void restore_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, const char **state)
{
	const char *archive = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "path"));
	const char *staging = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "staging"));
	struct backup_manifest mf;
	char err[1024];

	*result = *error = NULL;
	*state = "failed";
	pthread_mutex_lock(&ws->mu);
	snprintf(ws->progress_unit, sizeof ws->progress_unit, "steps");
	ws->progress_total = 2;
	snprintf(ws->progress_message, sizeof ws->progress_message, "verifying %s", archive ? archive : "");
	pthread_mutex_unlock(&ws->mu);
	if (archive == NULL || staging == NULL) {
		snprintf(err, sizeof err, "the restore assignment lacks its archive or staging path");
		goto fail;
	}
	if (backup_verify(archive, &mf, err, sizeof err) < 0)
		goto fail;
	pthread_mutex_lock(&ws->mu);
	ws->progress_done = 1;
	snprintf(ws->progress_message, sizeof ws->progress_message, "extracting %zu members", mf.n);
	pthread_mutex_unlock(&ws->mu);
	fs_remove_tree(staging);
	if (mkdir(staging, 0700) < 0) {
		snprintf(err, sizeof err, "creating %s: %s", staging, strerror(errno));
		backup_manifest_free(&mf);
		goto fail;
	}
	if (backup_extract(archive, &mf, staging, err, sizeof err) < 0) {
		backup_manifest_free(&mf);
		fs_remove_tree(staging);
		goto fail;
	}
	*state = "completed";
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "archive", archive);
	cJSON_AddStringToObject(*result, "backup_created_at", mf.created_at);
	cJSON_AddNumberToObject(*result, "members", (double)mf.n);
	backup_manifest_free(&mf);
	pthread_mutex_lock(&ws->mu);
	ws->progress_done = 2;
	pthread_mutex_unlock(&ws->mu);
	return;
fail:
	*error = cJSON_CreateObject();
	cJSON_AddStringToObject(*error, "reason", "exception");
	cJSON_AddStringToObject(*error, "message", err);
}
