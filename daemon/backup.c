/* backup.c: the archive work of backup and restore tasks in a worker: writing the tar (MANIFEST.json last), and verifying and extracting one into staging. */
#include "archout.h"
#include "backupfmt.h"
#include "content.h"
#include "depotd.h"
#include "fsutil.h"
#include "hashpipe.h"
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
#include <openssl/crypto.h>
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
	int rootfd;		/* worker_data's: every source is read beneath the data directory */
	int pubfd;		/* [publish] dir when it is outside the data directory, else -1 */
	FILE *manifest;		/* MANIFEST.json as it grows, one member a line, in archive order */
	char manifest_path[4200];
	int64_t nmembers;
	int64_t done, total;
	int canceled;
	char err[1024];
};

/* One line of the manifest; its place is the member's place in the archive, which the reader relies on. */
static int add_member(struct writer *w, const char *path, const char *type, int64_t size,
    const char *sha, const char *target)
{
	cJSON *m = cJSON_CreateObject();
	char *text;
	int rc = -1;

	cJSON_AddStringToObject(m, "path", path);
	cJSON_AddStringToObject(m, "type", type);
	if (sha != NULL) {
		cJSON_AddNumberToObject(m, "size", (double)size);
		cJSON_AddStringToObject(m, "sha256", sha);
	}
	if (target != NULL)
		cJSON_AddStringToObject(m, "target", target);
	if ((text = cJSON_PrintUnformatted(m)) != NULL &&
	    fprintf(w->manifest, "%s\n%s", w->nmembers++ ? "," : "", text) > 0)
		rc = 0;
	else
		snprintf(w->err, sizeof w->err, "writing the manifest %s: %s", w->manifest_path,
		    text ? strerror(errno) : "out of memory");
	free(text);
	cJSON_Delete(m);
	return rc;
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

/*
 * Copies size bytes of fd into the archive, hashing them when sha is not
 * NULL. A file of content/sha256/ is hashed too, though its name is its
 * sha256: the name says what the file held when it was stored, the hash
 * what the archive now gets. A file that rotted on the disk fails the
 * backup here, naming it, instead of making an archive that every restore
 * refuses when it is needed. A large file is hashed by a thread beside the
 * compression (hashpipe.h), so the check costs little time.
 */
static int copy_data(struct writer *w, int fd, const char *path, int64_t size, char *sha)
{
	EVP_MD_CTX *md = sha != NULL ? EVP_MD_CTX_new() : NULL;
	struct hashpipe *pipe = NULL;
	const char *named = sha != NULL ? content_named_sha256(path) : NULL;
	unsigned char small[65536], digest[32], *buf = small;
	size_t cap = sizeof small;
	unsigned int dlen;
	int64_t got = 0;
	ssize_t n = 0;
	int rc = -1;

	if (sha != NULL && (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)) {
		snprintf(w->err, sizeof w->err, "out of memory");
		goto out;
	}
	/* Without a thread (none to be had), it is hashed here, as a small file is. */
	if (md != NULL && size >= HASHPIPE_MIN && (pipe = hashpipe_start(NULL, md)) != NULL) {
		cap = HASHPIPE_CHUNK;
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	for (;;) {
		if (pipe != NULL)
			buf = hashpipe_buffer(pipe);
		if (got >= size || (n = read(fd, buf, cap)) <= 0)
			break;
		if (n > size - got)
			n = (ssize_t)(size - got);	/* the header promised size bytes */
		if (pipe != NULL)
			hashpipe_push(pipe, (size_t)n);
		else if (md != NULL)
			EVP_DigestUpdate(md, buf, (size_t)n);
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			fail_archive(w, "writing the archive");
			goto out;
		}
		got += n;
		w->done += n;
		if (atomic_load(&w->ws->cancel)) {
			w->canceled = 1;
			goto out;
		}
	}
	if (n < 0 || got != size) {
		snprintf(w->err, sizeof w->err, "%s %s while it was backed up", path,
		    n < 0 ? strerror(errno) : "changed size");
		goto out;
	}
	if (pipe != NULL) {
		hashpipe_finish(pipe);	/* it only hashes: no write to fail */
		pipe = NULL;
	}
	if (md != NULL) {
		EVP_DigestFinal_ex(md, digest, &dlen);
		hashpipe_hex(digest, sha);
	}
	if (named != NULL && strcmp(named, sha) != 0) {
		snprintf(w->err, sizeof w->err, "%s is damaged: its sha256 is now %s, not the one "
		    "its name says; the backup stops rather than archive it", path, sha);
		goto out;
	}
	rc = 0;
out:
	if (pipe != NULL)
		hashpipe_finish(pipe);
	EVP_MD_CTX_free(md);
	return rc;
}

/*
 * One file system object, name in the directory open as dirfd, as member
 * path. Never through a link: a link is stored as one, and a file is read
 * only if it is still the one that was looked at.
 */
static int write_one(struct writer *w, int dirfd, const char *name, const char *path,
    struct stat *st)
{
	struct archive_entry *e = archive_entry_new(), *sparse = NULL;
	char target[4096], sha[65];
	struct stat fst;
	ssize_t n;
	int fd = -1, rc = -1;

	/* name "" is dirfd itself: a [publish] dir outside the data directory, archived as publish/. */
	if (fstatat(dirfd, name, st, name[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH) < 0) {
		snprintf(w->err, sizeof w->err, "reading %s: %s", path, strerror(errno));
		archive_entry_free(e);
		return -1;
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) {
		archive_entry_free(e);
		return 0;	/* a stray socket or FIFO is no part of a depot */
	}
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, path);
	if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(dirfd, name, target, sizeof target - 1)) < 0) {
			snprintf(w->err, sizeof w->err, "reading link %s: %s", path, strerror(errno));
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (S_ISREG(st->st_mode)) {
		archive_entry_linkify(w->links, &e, &sparse);
		if (archive_entry_hardlink(e) == NULL &&
		    ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
		    fstat(fd, &fst) < 0 || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)) {
			snprintf(w->err, sizeof w->err, "reading %s: %s", path,
			    fd < 0 ? strerror(errno) : "it was replaced while it was backed up");
			goto out;
		}
	}
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		fail_archive(w, "writing the archive");
		goto out;
	}
	if (S_ISDIR(st->st_mode))
		rc = add_member(w, path, "dir", 0, NULL, NULL);
	else if (S_ISLNK(st->st_mode))
		rc = add_member(w, path, "symlink", 0, NULL, target);
	else if (archive_entry_hardlink(e) != NULL)
		rc = add_member(w, path, "hardlink", 0, NULL, archive_entry_hardlink(e));
	else if (copy_data(w, fd, path, st->st_size, sha) == 0) {
		rc = add_member(w, path, "file", st->st_size, sha, NULL);
		progress(w);
	}
out:
	if (fd >= 0)
		close(fd);
	archive_entry_free(e);
	return rc;
}

/* name in dirfd and everything below it, in name order, never entering a link. */
static int write_tree(struct writer *w, int dirfd, const char *name, const char *path)
{
	struct dirent **names;
	char cpath[4300];
	struct stat st;
	int fd, n, rc = 0;

	if (write_one(w, dirfd, name, path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((fd = openat(dirfd, name[0] ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0 ||
	    (n = scandirat(fd, ".", &names, NULL, alphasort)) < 0) {
		snprintf(w->err, sizeof w->err, "reading %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *child = names[i]->d_name;
		if (rc == 0 && strcmp(child, ".") != 0 && strcmp(child, "..") != 0) {
			snprintf(cpath, sizeof cpath, "%s/%s", path, child);
			rc = write_tree(w, fd, child, cpath);
		}
		free(names[i]);
	}
	free(names);
	close(fd);
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

/* The manifest's head; members follow a line each as they are written (add_member). */
static int start_manifest(struct writer *w, const char *output)
{
	char when[TIME_RFC3339_LEN];
	int fd;

	snprintf(w->manifest_path, sizeof w->manifest_path, "%s.manifest", output);
	unlink(w->manifest_path);
	if ((fd = open(w->manifest_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0 || (w->manifest = fdopen(fd, "w+")) == NULL) {
		snprintf(w->err, sizeof w->err, "creating %s: %s", w->manifest_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	time_format_rfc3339(time_now_ms(), when);
	fprintf(w->manifest, "{\"format\":%d,\"created_at\":\"%s\",\"depot_version\":\"%s\","
	    "\"members\":[", BACKUP_FORMAT, when, DEPOT_VERSION);
	return 0;
}

/*
 * The manifest's HMAC with DIR/backup.key, as a pax attribute of its entry:
 * a restore trusts the archive's schedules and depot.conf only when it
 * finds the MAC its own key makes (backupfmt.h). With no key, none.
 */
static int authenticate_manifest(struct writer *w, struct archive_entry *e)
{
	unsigned char key[BACKUP_KEY_LEN], digest[32];
	EVP_MD_CTX *md;
	char buf[65536], mac[65];
	unsigned int dlen;
	size_t n;

	if (backup_key_read(worker_dir, key) < 0) {
		log_warn("backup: no %s/%s to authenticate the archive with (%s): a restore will "
		    "treat it as made elsewhere", worker_dir, BACKUP_KEY_FILE, strerror(errno));
		return 0;
	}
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		snprintf(w->err, sizeof w->err, "out of memory");
		return -1;
	}
	while ((n = fread(buf, 1, sizeof buf, w->manifest)) > 0)
		EVP_DigestUpdate(md, buf, n);
	EVP_DigestFinal_ex(md, digest, &dlen);
	EVP_MD_CTX_free(md);
	if (ferror(w->manifest) || fseeko(w->manifest, 0, SEEK_SET) < 0) {
		snprintf(w->err, sizeof w->err, "reading the manifest %s: %s", w->manifest_path,
		    strerror(errno));
		return -1;
	}
	backup_mac(key, digest, mac);
	OPENSSL_cleanse(key, sizeof key);
	archive_entry_xattr_add_entry(e, BACKUP_MAC_XATTR, mac, 64);
	return 0;
}

static int write_manifest(struct writer *w)
{
	struct archive_entry *e = archive_entry_new();
	int64_t size;
	int rc = -1;

	if (fprintf(w->manifest, "\n]}\n") < 0 || fflush(w->manifest) != 0 ||
	    (size = ftello(w->manifest)) < 0 || fseeko(w->manifest, 0, SEEK_SET) < 0) {
		snprintf(w->err, sizeof w->err, "writing the manifest %s: %s", w->manifest_path,
		    strerror(errno));
		goto out;
	}
	archive_entry_set_pathname(e, BACKUP_MANIFEST);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, time_now_ms() / 1000, 0);
	if (authenticate_manifest(w, e) < 0)
		goto out;
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		fail_archive(w, "writing the manifest");
	else {
		int64_t done = w->done;	/* progress and content_bytes count the data backed up, not this */
		rc = copy_data(w, fileno(w->manifest), BACKUP_MANIFEST, size, NULL);
		w->done = done;
	}
out:
	archive_entry_free(e);
	return rc;
}

/*
 * zstd at its default level, as `tar --zstd` writes, with a worker thread
 * per CPU: the compression then runs beside the reading, hashing and
 * writing of this thread (a libarchive without the option compresses here).
 */
static int set_filter(struct archive *a, const char *compression)
{
	char threads[16];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	if (compression == NULL || strcmp(compression, "zstd") == 0) {
		if ((rc = archive_write_add_filter_zstd(a)) != ARCHIVE_OK)
			return rc;
		snprintf(threads, sizeof threads, "%ld", ncpu > 0 ? ncpu : 1);
		return archive_write_set_filter_option(a, "zstd", "threads", threads) ==
		    ARCHIVE_FATAL ? ARCHIVE_FATAL : ARCHIVE_OK;
	}
	if (strcmp(compression, "gzip") == 0)
		return archive_write_add_filter_gzip(a);
	return archive_write_add_filter_none(a);
}

/*
 * FILE.part, new and ours: O_EXCL | O_NOFOLLOW, so neither a file someone
 * made there (keeping its owner and mode) nor a link (pointing anywhere) is
 * written through. A stale one — left by a crashed backup, or planted — is
 * unlinked, which removes the name and never what a link points to.
 */
static int create_part(struct writer *w, const char *part)
{
	int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST) {
		if (unlink(part) < 0) {
			snprintf(w->err, sizeof w->err, "%s is in the way and cannot be removed: %s",
			    part, strerror(errno));
			return -1;
		}
		fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		snprintf(w->err, sizeof w->err, "creating %s: %s", part, strerror(errno));
	return fd;
}

/* The database copy, which the daemon made in DIR/tmp: read beneath the data directory too. */
static int write_database(struct writer *w, const char *db_copy)
{
	size_t n = strlen(worker_dir);
	char base[256];
	struct stat st;
	int dfd, rc;

	if (strncmp(db_copy, worker_dir, n) != 0 || db_copy[n] != '/') {
		snprintf(w->err, sizeof w->err, "the database copy %s is not in %s", db_copy,
		    worker_dir);
		return -1;
	}
	if ((dfd = fs_parent_beneath(w->rootfd, db_copy + n + 1, 0, base, sizeof base)) < 0) {
		snprintf(w->err, sizeof w->err, "reading %s: %s", db_copy, strerror(errno));
		return -1;
	}
	rc = write_one(w, dfd, base, "depot.db", &st);
	close(dfd);
	return rc;
}

/*
 * Writes the archive to output.part, fsyncs and renames it: a reader sees
 * a whole archive or none (DESIGN §9). Returns 0, or -1 with w->err.
 */
static int write_archive(struct writer *w, const char *db_copy, const char *output,
    const char *compression)
{
	char part[4200], parent[4200];
	struct archout *ao;	/* the file, and the sha256 of its bytes (archout_sha256) once closed */
	struct stat st;
	int fd, rc = -1;

	snprintf(part, sizeof part, "%s.part", output);
	snprintf(parent, sizeof parent, "%s", output);
	if (fs_mkdirs(dirname(parent), 0700) < 0) {
		snprintf(w->err, sizeof w->err, "creating the directory of %s: %s", output,
		    strerror(errno));
		return -1;
	}
	if ((fd = create_part(w, part)) < 0)
		return -1;
	if (start_manifest(w, output) < 0)
		goto out;
	if ((w->a = archive_write_new()) == NULL ||
	    archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    /* The manifest's MAC as SCHILY.xattr, which GNU tar knows and passes over quietly. */
	    archive_write_set_format_option(w->a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
	    set_filter(w->a, compression) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, ARCHOUT_BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archout_open(w->a, fd, &ao) != ARCHIVE_OK) {
		fail_archive(w, "starting the archive");
		goto out;
	}
	w->links = archive_entry_linkresolver_new();
	archive_entry_linkresolver_set_strategy(w->links, archive_format(w->a));
	if (write_database(w, db_copy) < 0 ||
	    (fstatat(w->rootfd, "depot.conf", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    write_one(w, w->rootfd, "depot.conf", "depot.conf", &st) < 0))
		goto out;
	for (size_t i = 0; i < sizeof backup_trees / sizeof backup_trees[0]; i++) {
		if (strcmp(backup_trees[i], "publish") == 0 && w->pubfd >= 0) {
			if (write_tree(w, w->pubfd, "", "publish") < 0)
				goto out;
		} else if (fstatat(w->rootfd, backup_trees[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    write_tree(w, w->rootfd, backup_trees[i], backup_trees[i]) < 0)
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
	if (w->manifest != NULL) {
		fclose(w->manifest);
		unlink(w->manifest_path);
	}
	close(fd);
	if (rc < 0)
		unlink(part);	/* a failed or canceled backup leaves nothing behind */
	return rc;
}

void backup_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *db_copy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "db_copy"));
	const char *output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "output"));
	const char *compression = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "compression"));
	const char *publish_dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "publish_dir"));
	struct writer w = { .ws = ws, .rootfd = worker_data.fd, .pubfd = -1 };
	char src[4200];
	struct stat st;

	*result = *error = NULL;
	*state = TASK_FAILED;
	if (db_copy == NULL || output == NULL) {
		*error = worker_error(REASON_EXCEPTION, "the backup assignment lacks its database copy or output");
		return;
	}
	snprintf(src, sizeof src, "%s/depot.db", worker_dir);
	if (store_copy_file(src, db_copy, w.err, sizeof w.err) < 0) {
		*error = worker_error(REASON_EXCEPTION, w.err);
		log_error("backup to %s failed: %s", output, w.err);
		return;
	}
	w.total = tree_bytes(db_copy);
	for (size_t i = 0; i < sizeof backup_trees / sizeof backup_trees[0]; i++) {
		if (strcmp(backup_trees[i], "publish") == 0 && publish_dir != NULL)
			snprintf(src, sizeof src, "%s", publish_dir);
		else
			snprintf(src, sizeof src, "%s/%s", worker_dir, backup_trees[i]);
		w.total += tree_bytes(src);
	}
	progress(&w);
	if (w.rootfd < 0)
		snprintf(w.err, sizeof w.err, "%s is not open", worker_dir);
	else if (publish_dir != NULL && (w.pubfd = open(publish_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 && errno != ENOENT)
		snprintf(w.err, sizeof w.err, "opening the publish directory %s: %s", publish_dir,
		    strerror(errno));
	if (w.rootfd < 0 || (w.pubfd < 0 && w.err[0] != '\0') ||
	    write_archive(&w, db_copy, output, compression) < 0) {
		unlink(db_copy);
		if (w.canceled) {
			*state = TASK_CANCELED;
			*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
		} else {
			*error = worker_error(REASON_EXCEPTION, w.err);
			log_error("backup to %s failed: %s", output, w.err);
		}
		if (w.pubfd >= 0)
			close(w.pubfd);
		return;
	}
	/* Here rather than in depotd, whose loop a large file's unlink would hold up. */
	unlink(db_copy);
	if (w.pubfd >= 0)
		close(w.pubfd);
	*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "path", output);
	cJSON_AddNumberToObject(*result, "size", stat(output, &st) == 0 ? (double)st.st_size : 0);
	cJSON_AddNumberToObject(*result, "content_bytes", (double)w.done);
	cJSON_AddStringToObject(*result, "compression", compression ? compression : "zstd");
}

/* A restore task's worker half: verify and extract, in one pass, into the staging directory beside DIR. */
void restore_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *archive = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "path"));
	const char *staging = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "staging"));
	const char *pub_staging = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task,
	    "publish_staging"));
	const cJSON *max_members = cJSON_GetObjectItemCaseSensitive(task, "max_members");
	const cJSON *free_margin = cJSON_GetObjectItemCaseSensitive(task, "free_margin");
	struct backup_limits lim;
	struct backup_summary sum;
	char err[1024];

	*result = *error = NULL;
	*state = TASK_FAILED;
	unsigned char key[BACKUP_KEY_LEN];

	backup_limits_default(&lim);
	if (backup_key_read(worker_dir, key) == 0)
		lim.key = key;
	if (cJSON_IsNumber(max_members))
		lim.max_members = (int64_t)max_members->valuedouble;
	if (cJSON_IsNumber(free_margin))
		lim.free_margin = (int64_t)free_margin->valuedouble;
	pthread_mutex_lock(&ws->mu);
	snprintf(ws->progress_unit, sizeof ws->progress_unit, "steps");
	ws->progress_total = 1;
	snprintf(ws->progress_message, sizeof ws->progress_message, "verifying and extracting %s",
	    archive ? archive : "");
	pthread_mutex_unlock(&ws->mu);
	if (archive == NULL || staging == NULL) {
		snprintf(err, sizeof err, "the restore assignment lacks its archive or staging path");
		goto fail;
	}
	if (restore_extract(archive, staging, pub_staging, &lim, &sum, err, sizeof err) < 0)
		goto fail;
	*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "archive", archive);
	cJSON_AddStringToObject(*result, "backup_created_at", sum.created_at);
	cJSON_AddNumberToObject(*result, "members", (double)sum.members);
	cJSON_AddBoolToObject(*result, "authenticated", sum.authenticated);
	pthread_mutex_lock(&ws->mu);
	ws->progress_done = 1;
	pthread_mutex_unlock(&ws->mu);
	return;
fail:
	*error = worker_error(REASON_EXCEPTION, err);
}
