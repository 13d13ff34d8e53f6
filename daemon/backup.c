/* backup.c: the archive work of backup and restore tasks in a worker: writing the tar of one database snapshot (BACKUP.json first, MANIFEST.json last), and verifying and extracting one into staging. */
#include "archout.h"
#include "backupfmt.h"
#include "backuphdr.h"
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Archives an incremental's chain may reach back through before it is taken for a loop. */
#define BACKUP_MAX_CHAIN 1000

/* A growing text: the header's holds, a publication's PULP_MANIFEST. */
struct text {
	char *p;
	size_t len, cap;
};

struct writer {
	struct worker_shared *ws;
	struct archive *a;
	int rootfd;		/* worker_data's: every source is read beneath the data directory */
	int outfd;		/* FILE.part */
	char archive_sha[65];	/* of the whole archive, as archout hashed it on the way out */
	struct snapshot *snap;
	int64_t task_id;
	/* The chain an incremental builds on: its base first, a full last. */
	struct backup_header *chain;
	size_t nchain;
	char kind[16];
	char base_file[256], base_sha[65], base_header_sha[65];
	char header_sha[65];	/* of this archive's BACKUP.json */
	char made_sha[65];	/* of the last file member write_made made */
	int64_t base_size;
	char promoted[512];	/* why an incremental was asked for and a full written */
	/* The content this archive carries, as sha256 hex, ascending. */
	char (*holds)[65];
	size_t nholds, capholds;
	int64_t referenced;	/* content the snapshot references, held here or by the chain */
	int64_t nmade;		/* publication members made, for how often to look for a cancel */
	struct text pm;		/* the PULP_MANIFEST of the publication being written */
	char pubdir[4200];	/* the publication's directory last entered, relative to it */
	char pubroot[300];	/* publish/NAME/versions/N */
	struct pub_modes pub_modes;	/* of the publications' directories and manifests */
	int tolerant;		/* a file that vanishes is left out (logs) */
	int logsfd;		/* DIR/logs, while the logs are written */
	FILE *manifest;		/* MANIFEST.json as it grows, one member a line, in archive order */
	char manifest_path[4200];
	int64_t nmembers;
	int64_t done, total;
	int canceled;
	char err[1024];
};

static int text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if (t->p != NULL && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return 0;
		}
		size_t cap = t->cap ? t->cap * 2 : 65536;
		while (cap < t->len + (size_t)n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (p == NULL)
			return -1;
		t->p = p;
		t->cap = cap;
	}
}

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

/* The daemon asked the task to stop: checked in every long loop, not only while data is copied. */
static int stop_requested(struct writer *w)
{
	if (atomic_load(&w->ws->cancel))
		w->canceled = 1;
	return w->canceled;
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

static void sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char d[32];
	unsigned int dlen;

	EVP_Digest(data, len, d, &dlen, EVP_sha256(), NULL);
	hashpipe_hex(d, out);
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
		if (stop_requested(w))
			goto out;
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
 * only if it is still the one that was looked at. *st is left zeroed when
 * a tolerant writer finds name gone.
 */
static int write_one(struct writer *w, int dirfd, const char *name, const char *path,
    struct stat *st, char *sha)
{
	struct archive_entry *e = archive_entry_new();
	char target[4096];
	struct stat fst;
	ssize_t n;
	int fd = -1, rc = -1;

	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		archive_entry_free(e);
		if (errno == ENOENT && w->tolerant) {
			memset(st, 0, sizeof *st);
			return 0;
		}
		snprintf(w->err, sizeof w->err, "reading %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) {
		archive_entry_free(e);
		return 0;	/* a stray socket or FIFO is no part of a depot */
	}
	archive_entry_copy_stat(e, st);
	archive_entry_set_nlink(e, 1);	/* no member is a hard link to one this archive lacks */
	archive_entry_set_pathname(e, path);
	if (S_ISLNK(st->st_mode)) {
		if ((n = readlinkat(dirfd, name, target, sizeof target - 1)) < 0) {
			snprintf(w->err, sizeof w->err, "reading link %s: %s", path, strerror(errno));
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (S_ISREG(st->st_mode) &&
	    ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    fstat(fd, &fst) < 0 || fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)) {
		if (fd < 0 && errno == ENOENT && w->tolerant) {
			memset(st, 0, sizeof *st);
			rc = 0;
			goto out;
		}
		snprintf(w->err, sizeof w->err, "reading %s: %s", path,
		    fd < 0 ? strerror(errno) : "it was replaced while it was backed up");
		goto out;
	}
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		fail_archive(w, "writing the archive");
		goto out;
	}
	if (S_ISDIR(st->st_mode))
		rc = add_member(w, path, "dir", 0, NULL, NULL);
	else if (S_ISLNK(st->st_mode))
		rc = add_member(w, path, "symlink", 0, NULL, target);
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

/*
 * A member made from the snapshot rather than read from disk: a directory,
 * a symlink, a hard link to target (in an incremental, perhaps a member of
 * a base archive), or a file holding data.
 */
static int write_made(struct writer *w, const char *path, mode_t type, const char *target,
    const char *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	int64_t now = time_now_ms();
	int rc = -1;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type == AE_IFLNK ? AE_IFLNK : type == AE_IFDIR ? AE_IFDIR :
	    AE_IFREG);
	archive_entry_set_perm(e, type == AE_IFLNK ? 0777 : strncmp(path, "publish", 7) != 0 ?
	    (type == AE_IFDIR ? 0700 : 0600) : type == AE_IFDIR ? w->pub_modes.dir :
	    w->pub_modes.file);
	archive_entry_set_uid(e, getuid());
	archive_entry_set_gid(e, strncmp(path, "publish", 7) == 0 &&
	    w->pub_modes.gid != (gid_t)-1 ? w->pub_modes.gid : getgid());
	archive_entry_set_mtime(e, now / 1000, (now % 1000) * 1000000);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, target);
	else if (target != NULL)
		archive_entry_set_hardlink(e, target);
	else if (type == AE_IFREG)
		archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		fail_archive(w, "writing the archive");
		goto out;
	}
	if (type == AE_IFDIR)
		rc = add_member(w, path, "dir", 0, NULL, NULL);
	else if (type == AE_IFLNK)
		rc = add_member(w, path, "symlink", 0, NULL, target);
	else if (target != NULL)
		rc = add_member(w, path, "hardlink", 0, NULL, target);
	else {
		sha256_hex(data, len, w->made_sha);
		if (len > 0 && archive_write_data(w->a, data, len) != (la_ssize_t)len)
			fail_archive(w, "writing the archive");
		else
			rc = add_member(w, path, "file", (int64_t)len, w->made_sha, NULL);
	}
out:
	archive_entry_free(e);
	return rc;
}

/* The base an incremental names, as BACKUP.json and MANIFEST.json both say it; null for a full. */
static int add_base(const struct writer *w, struct text *t)
{
	cJSON *name;
	char *quoted;
	int rc;

	if (w->base_file[0] == '\0')
		return text_add(t, "null");
	name = cJSON_CreateString(w->base_file);
	quoted = cJSON_PrintUnformatted(name);
	rc = quoted == NULL ? -1 : text_add(t, "{\"file\":%s,\"sha256\":\"%s\",\"size\":%lld,"
	    "\"header_sha256\":\"%s\"}", quoted, w->base_sha, (long long)w->base_size,
	    w->base_header_sha);
	free(quoted);
	cJSON_Delete(name);
	return rc;
}

/* The manifest's head; members follow a line each as they are written (add_member). */
static int start_manifest(struct writer *w, const char *output)
{
	char when[TIME_RFC3339_LEN];
	struct text base = { 0 };
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
	if (add_base(w, &base) < 0) {
		snprintf(w->err, sizeof w->err, "out of memory");
		return -1;
	}
	fprintf(w->manifest, "{\"format\":%d,\"created_at\":\"%s\",\"depot_version\":\"%s\","
	    "\"kind\":\"%s\",\"base\":%s,\"members\":[", BACKUP_FORMAT_HEADER, when,
	    DEPOT_VERSION, w->kind, base.p);
	free(base.p);
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

/* The database copy, which the worker made in DIR/tmp: read beneath the data directory too. */
static int write_database(struct writer *w, const char *db_copy)
{
	size_t n = strlen(worker_dir);
	char base[256], sha[65];
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
	rc = write_one(w, dfd, base, "depot.db", &st, sha);
	close(dfd);
	return rc;
}

/* BACKUP.json, the first member: a reader learns the archive's kind, base and content from it alone. */
static int write_header(struct writer *w)
{
	char when[TIME_RFC3339_LEN];
	struct text h = { 0 };
	int rc = -1, ok;

	time_format_rfc3339(time_now_ms(), when);
	ok = text_add(&h, "{\"format\":%d,\"kind\":\"%s\",\"created_at\":\"%s\","
	    "\"depot_version\":\"%s\",\"task_id\":%lld,\"base\":", BACKUP_FORMAT_HEADER, w->kind,
	    when, DEPOT_VERSION, (long long)w->task_id) == 0 && add_base(w, &h) == 0;
	ok = ok && text_add(&h, ",\"holds\":[") == 0;
	for (size_t i = 0; ok && i < w->nholds; i++)
		ok = text_add(&h, "%s\"%s\"", i ? "," : "", w->holds[i]) == 0;
	ok = ok && text_add(&h, "]}\n") == 0;
	if (!ok)
		snprintf(w->err, sizeof w->err, "out of memory");
	else if ((rc = write_made(w, BACKUP_HEADER, AE_IFREG, NULL, h.p, h.len)) == 0)
		memcpy(w->header_sha, w->made_sha, sizeof w->header_sha);
	free(h.p);
	return rc;
}

/* The content this archive carries, each checked against its name as it is copied. */
static int write_content(struct writer *w)
{
	char prefix[3] = "", path[300], sha[65];
	struct stat st;
	int dirfd = -1, rc = 0;

	if (write_made(w, "content", AE_IFDIR, NULL, NULL, 0) < 0 ||
	    write_made(w, "content/sha256", AE_IFDIR, NULL, NULL, 0) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < w->nholds; i++) {
		const char *name = w->holds[i];
		if (strncmp(prefix, name, 2) != 0) {
			memcpy(prefix, name, 2);
			snprintf(path, sizeof path, "content/sha256/%s", prefix);
			if (dirfd >= 0)
				close(dirfd);
			if ((dirfd = fs_open_beneath(w->rootfd, path, O_RDONLY | O_DIRECTORY, 0)) < 0) {
				snprintf(w->err, sizeof w->err, "reading %s/%s: %s", worker_dir, path,
				    strerror(errno));
				return -1;
			}
			if ((rc = write_made(w, path, AE_IFDIR, NULL, NULL, 0)) < 0)
				break;
		}
		snprintf(path, sizeof path, "content/sha256/%s/%s", prefix, name);
		if ((rc = write_one(w, dirfd, name, path, &st, sha)) == 0 && !S_ISREG(st.st_mode)) {
			snprintf(w->err, sizeof w->err, "%s/%s was replaced by something not a file "
			    "while it was backed up", worker_dir, path);
			rc = -1;
		}	/* and copy_data fails one whose bytes are not what its name says */
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* One file of a publication: its directories, each once (paths come sorted), and a hard link to its content. */
static int write_pub_file(void *ctx, const char *rel, const char *sha, int64_t size)
{
	struct writer *w = ctx;
	char path[4400], target[300];
	const char *slash = strrchr(rel, '/');
	size_t dirlen = slash ? (size_t)(slash - rel) : 0;

	if ((++w->nmade & 1023) == 0 && stop_requested(w))
		return -1;
	if (!backup_path_safe(rel) || strlen(sha) != 64) {
		snprintf(w->err, sizeof w->err, "the database names a bad file '%s' in %s",
		    rel, w->pubroot);
		return -1;
	}
	/* Every directory of rel not yet written: those beyond what it shares with the last. */
	for (size_t i = 0; i <= dirlen && dirlen > 0; i++) {
		if (i < dirlen && rel[i] != '/')
			continue;
		if (strncmp(w->pubdir, rel, i) == 0 && (w->pubdir[i] == '/' || w->pubdir[i] == '\0'))
			continue;	/* written already */
		snprintf(path, sizeof path, "%s/%.*s", w->pubroot, (int)i, rel);
		if (write_made(w, path, AE_IFDIR, NULL, NULL, 0) < 0)
			return -1;
	}
	snprintf(w->pubdir, sizeof w->pubdir, "%.*s", (int)dirlen, rel);
	snprintf(path, sizeof path, "%s/%s", w->pubroot, rel);
	snprintf(target, sizeof target, "content/sha256/%.2s/%s", sha, sha);
	if (text_add(&w->pm, "%s,%s,%lld\n", rel, sha, (long long)size) < 0) {
		snprintf(w->err, sizeof w->err, "out of memory");
		return -1;
	}
	return write_made(w, path, AE_IFREG, target, NULL, 0);
}

/*
 * A repository's publication as the snapshot has it — made from the
 * database, not read from publish/, which a publish finishing now may be
 * switching or pruning: its tree of hard links to content, its
 * PULP_MANIFEST (as publish.c writes it) and current.
 */
static int write_publication(void *ctx, const char *repo, int64_t version)
{
	struct writer *w = ctx;
	char path[400], target[64];

	if (!repo_name_valid(repo)) {
		snprintf(w->err, sizeof w->err, "the database names a repository '%.80s', which "
		    "is no repository name", repo);
		return -1;
	}
	w->pm.len = 0;
	w->pubdir[0] = '\0';
	snprintf(path, sizeof path, "publish/%s", repo);
	if (write_made(w, path, AE_IFDIR, NULL, NULL, 0) < 0)
		return -1;
	snprintf(path, sizeof path, "publish/%s/versions", repo);
	if (write_made(w, path, AE_IFDIR, NULL, NULL, 0) < 0)
		return -1;
	snprintf(w->pubroot, sizeof w->pubroot, "publish/%s/versions/%lld", repo,
	    (long long)version);
	if (write_made(w, w->pubroot, AE_IFDIR, NULL, NULL, 0) < 0 ||
	    snapshot_version_files(w->snap, repo, version, write_pub_file, w, w->err,
	    sizeof w->err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/PULP_MANIFEST", w->pubroot);
	if (write_made(w, path, AE_IFREG, NULL, w->pm.p ? w->pm.p : "", w->pm.len) < 0)
		return -1;
	snprintf(path, sizeof path, "publish/%s/current", repo);
	snprintf(target, sizeof target, "versions/%lld", (long long)version);
	return write_made(w, path, AE_IFLNK, target, NULL, 0);
}

/*
 * One task's log, if it has one: as long as it was when looked at (a
 * running task's grows), left out if it was pruned meanwhile, and never a
 * link or anything but a file someone put there.
 */
static int write_log(void *ctx, int64_t id)
{
	struct writer *w = ctx;
	char name[32], path[64], sha[65];
	struct stat st;

	snprintf(name, sizeof name, "%lld.log", (long long)id);
	if (fstatat(w->logsfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	snprintf(path, sizeof path, "logs/%s", name);
	return write_one(w, w->logsfd, name, path, &st, sha);
}

/* The logs of the snapshot's tasks only: a task that began after it has no place in its database. */
static int write_logs(struct writer *w)
{
	int rc;

	if ((w->logsfd = fs_open_beneath(w->rootfd, "logs", O_RDONLY | O_DIRECTORY, 0)) < 0)
		return errno == ENOENT ? 0 : (snprintf(w->err, sizeof w->err, "reading %s/logs: %s",
		    worker_dir, strerror(errno)), -1);
	w->tolerant = 1;
	rc = write_made(w, "logs", AE_IFDIR, NULL, NULL, 0) < 0 ||
	    snapshot_tasks(w->snap, write_log, w, w->err, sizeof w->err) < 0 ? -1 : 0;
	w->tolerant = 0;
	close(w->logsfd);
	w->logsfd = -1;
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
	int rc = -1;

	snprintf(part, sizeof part, "%s.part", output);
	snprintf(parent, sizeof parent, "%s", output);
	if (fs_mkdirs(dirname(parent), 0700) < 0) {
		snprintf(w->err, sizeof w->err, "creating the directory of %s: %s", output,
		    strerror(errno));
		return -1;
	}
	if ((w->outfd = create_part(w, part)) < 0)
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
	    archout_open(w->a, w->outfd, &ao) != ARCHIVE_OK) {
		fail_archive(w, "starting the archive");
		goto out;
	}
	if (write_header(w) < 0 || write_database(w, db_copy) < 0)
		goto out;
	if (fstatat(w->rootfd, "depot.conf", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    write_one(w, w->rootfd, "depot.conf", "depot.conf", &st, parent) < 0)
		goto out;
	if (write_content(w) < 0 || write_made(w, "publish", AE_IFDIR, NULL, NULL, 0) < 0 ||
	    snapshot_publications(w->snap, write_publication, w, w->err, sizeof w->err) < 0)
		goto out;
	if (write_logs(w) < 0)
		goto out;
	if (write_manifest(w) < 0)
		goto out;
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		fail_archive(w, "finishing the archive");
		goto out;
	}
	archout_sha256(ao, w->archive_sha);
	if (fsync(w->outfd) < 0) {
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
	if (w->a)
		archive_write_free(w->a);
	if (w->manifest != NULL) {
		fclose(w->manifest);
		unlink(w->manifest_path);
	}
	close(w->outfd);
	if (rc < 0)
		unlink(part);	/* a failed or canceled backup leaves nothing behind */
	return rc;
}

static int in_chain(const struct writer *w, const unsigned char *d)
{
	for (size_t i = 0; i < w->nchain; i++)
		if (backup_header_holds(&w->chain[i], d))
			return 1;
	return 0;
}

/* One content the snapshot references: carried here unless the chain already holds it. */
static int add_hold(void *ctx, const char *sha)
{
	struct writer *w = ctx;
	unsigned char d[32];
	char path[300];
	struct stat st;

	if (backup_sha256_parse(sha, d) < 0) {
		snprintf(w->err, sizeof w->err, "the database references content '%.80s', not a "
		    "sha256", sha);
		return -1;
	}
	if ((++w->referenced & 1023) == 0 && stop_requested(w))
		return -1;
	if (in_chain(w, d))
		return 0;
	snprintf(path, sizeof path, "%s/content/sha256/%.2s/%s", worker_dir, sha, sha);
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(w->err, sizeof w->err, "%s, which the database references, %s", path,
		    errno == ENOENT ? "is missing" : "is not a file");
		return -1;
	}
	if (w->nholds == w->capholds) {
		size_t cap = w->capholds ? w->capholds * 2 : 4096;
		void *p = realloc(w->holds, cap * sizeof *w->holds);
		if (p == NULL) {
			snprintf(w->err, sizeof w->err, "out of memory");
			return -1;
		}
		w->holds = p;
		w->capholds = cap;
	}
	memcpy(w->holds[w->nholds++], sha, 65);
	w->total += st.st_size;
	return 0;
}

/* Why the chain read so far cannot be extended, or NULL: each link must be what the one before it recorded. */
static const char *broken_link(const struct writer *w, const struct backup_header *h,
    int64_t want_size, const char *want_header, const struct stat *out)
{
	if (h->file_size != want_size)
		return "not the archive that was written (its size differs)";
	if (want_header[0] == '\0' || strcmp(h->header_sha256, want_header) != 0)
		return "not the archive that was written (its BACKUP.json differs)";
	if (out != NULL && h->dev == out->st_dev && h->ino == out->st_ino)
		return "the file this backup is to replace";
	for (size_t i = 0; i + 1 < w->nchain; i++)
		if (w->chain[i].dev == h->dev && w->chain[i].ino == h->ino)
			return "already in the chain: its bases loop";
	return NULL;
}

/*
 * The chain an incremental extends: the last backup the snapshot knows,
 * and each base its header names, beside it, down to a full. Each link is
 * checked against what the one before it recorded — its size and its
 * BACKUP.json's sha256 — so a header swapped in cannot make this archive
 * leave content out; the whole archives' sha256 are verify's and
 * restore's to check, which read them anyway. 0 with the chain in w; -1
 * with w->promoted saying why a full is written instead.
 */
static int load_chain(struct writer *w, const cJSON *last, const char *output)
{
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "path"));
	const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "sha256"));
	const char *hsha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last,
	    "header_sha256"));
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(last, "size");
	char file[4200], dir[4200], want_header[65], err[512];
	struct backup_limits lim;
	int64_t want = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : -1, held = 0;
	struct stat out;
	const char *why;
	int got, have_out = stat(output, &out) == 0;

	if (path == NULL || sha == NULL || hsha == NULL || want < 0) {
		snprintf(w->promoted, sizeof w->promoted, "the last backup's record names no "
		    "archive to build on");
		return -1;
	}
	snprintf(file, sizeof file, "%s", path);
	snprintf(dir, sizeof dir, "%s", dirname(file));
	snprintf(file, sizeof file, "%s", path);
	snprintf(want_header, sizeof want_header, "%s", hsha);
	snprintf(w->base_file, sizeof w->base_file, "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 :
	    path);
	snprintf(w->base_sha, sizeof w->base_sha, "%s", sha);
	snprintf(w->base_header_sha, sizeof w->base_header_sha, "%s", hsha);
	w->base_size = want;
	backup_limits_default(&lim);
	for (;;) {
		struct backup_header *h;
		if (w->nchain == BACKUP_MAX_CHAIN) {
			snprintf(w->promoted, sizeof w->promoted, "the chain of %s is longer than %d "
			    "archives", w->base_file, BACKUP_MAX_CHAIN);
			return -1;
		}
		if (stop_requested(w))
			return -1;
		h = realloc(w->chain, (w->nchain + 1) * sizeof *w->chain);
		if (h == NULL) {
			snprintf(w->promoted, sizeof w->promoted, "out of memory");
			return -1;
		}
		w->chain = h;
		h = &w->chain[w->nchain];
		/* The whole chain's holds stay in memory: bounded as a restore bounds its members. */
		if ((got = backup_header_read(file, lim.max_members - held, h, err, sizeof err)) <= 0) {
			if (got == 0)
				snprintf(w->promoted, sizeof w->promoted, "its base %s is of format 1, "
				    "which names no content it holds", file);
			else if (access(file, F_OK) < 0 && errno == ENOENT)
				snprintf(w->promoted, sizeof w->promoted, "its base %s is gone", file);
			else
				snprintf(w->promoted, sizeof w->promoted, "its base %s is not the archive "
				    "that was written (%s)", file, err);
			return -1;
		}
		w->nchain++;
		held += (int64_t)h->nholds;
		if ((why = broken_link(w, h, want, want_header, have_out ? &out : NULL)) != NULL) {
			snprintf(w->promoted, sizeof w->promoted, "its base %s is %s", file, why);
			return -1;
		}
		if (!h->has_base)
			return 0;
		snprintf(file, sizeof file, "%s/%s", dir, h->base_file);
		want = h->base_size;
		snprintf(want_header, sizeof want_header, "%s", h->base_header_sha256);
	}
}

static void free_chain(struct writer *w)
{
	for (size_t i = 0; i < w->nchain; i++)
		backup_header_free(&w->chain[i]);
	free(w->chain);
	w->chain = NULL;
	w->nchain = 0;
}

/*
 * What this archive is: a full, or an incremental on the last backup's
 * chain. An incremental with no chain to extend (none yet, its archives
 * moved or changed) is written full and says why, as Bacula and
 * Borg-style tools do, rather than failing the routine that asked for it.
 */
static int choose_kind(struct writer *w, int incremental, const char *output)
{
	cJSON *last = NULL;
	int got;

	snprintf(w->kind, sizeof w->kind, BACKUP_KIND_FULL);
	if (!incremental)
		return 0;
	if ((got = snapshot_last_backup(w->snap, w->task_id, &last, w->err, sizeof w->err)) < 0)
		return -1;
	if (got == 0)
		snprintf(w->promoted, sizeof w->promoted, "there is no earlier backup to build on");
	else if (load_chain(w, last, output) == 0)
		snprintf(w->kind, sizeof w->kind, BACKUP_KIND_INCREMENTAL);
	else if (w->canceled) {
		cJSON_Delete(last);
		return -1;
	}
	if (strcmp(w->kind, BACKUP_KIND_FULL) == 0) {
		free_chain(w);
		w->base_file[0] = '\0';
		log_info("backup: an incremental was asked for and a full is written: %s", w->promoted);
	}
	cJSON_Delete(last);
	return 0;
}

/* What the task's result says, in the archive's database and in the live one. */
static cJSON *backup_result(const struct writer *w, const char *output, const char *compression)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "path", output);
	cJSON_AddStringToObject(r, "kind", w->kind);
	if (w->base_file[0] != '\0')
		cJSON_AddStringToObject(r, "base", w->base_file);
	if (w->promoted[0] != '\0' && strcmp(w->kind, BACKUP_KIND_FULL) == 0)
		cJSON_AddStringToObject(r, "promoted", w->promoted);
	cJSON_AddStringToObject(r, "compression", compression ? compression : "zstd");
	cJSON_AddNumberToObject(r, "content_files", (double)w->nholds);
	return r;
}

/* Takes the snapshot: the database copy, what the archive will hold, and the task completed in it. */
static int take_snapshot(struct writer *w, const char *db_copy, const char *output,
    const char *compression, int incremental)
{
	char src[4200];
	cJSON *r;
	int rc;

	snprintf(src, sizeof src, "%s/depot.db", worker_dir);
	if (store_copy_file(src, db_copy, w->err, sizeof w->err) < 0 ||
	    snapshot_open(&w->snap, db_copy, w->err, sizeof w->err) < 0 ||
	    choose_kind(w, incremental, output) < 0 ||
	    snapshot_content(w->snap, add_hold, w, w->err, sizeof w->err) < 0)
		return -1;
	r = backup_result(w, output, compression);
	rc = snapshot_complete_task(w->snap, w->task_id, time_now_ms(), r, w->err, sizeof w->err);
	cJSON_Delete(r);
	return rc;
}

/*
 * What a backup killed mid-way left in DIR/backups under a name of the
 * daemon's: its FILE.part and FILE.manifest. Backups run one at a time
 * (`backup` exclusive), so none is being written now. Names only: a link
 * there is removed, never followed.
 */
static void remove_stale_parts(const cJSON *task)
{
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "backups_dir"));
	struct dirent *d;
	DIR *dp;

	if (dir == NULL || (dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		size_t n = strlen(d->d_name);
		int part = n > 5 && strcmp(d->d_name + n - 5, ".part") == 0;
		int manifest = n > 9 && strcmp(d->d_name + n - 9, ".manifest") == 0;
		if (strncmp(d->d_name, BACKUP_DEFAULT_PREFIX, strlen(BACKUP_DEFAULT_PREFIX)) != 0 ||
		    (!part && !manifest))
			continue;
		if (unlinkat(dirfd(dp), d->d_name, 0) == 0)
			log_info("backup: removed %s/%s, left by a backup that was stopped", dir,
			    d->d_name);
	}
	closedir(dp);
}

/* [backup] keep: the oldest chains in DIR/backups go once this archive is safely written. */
static void prune_chains(const cJSON *task, const char *output, cJSON *result)
{
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "backups_dir"));
	const cJSON *keep = cJSON_GetObjectItemCaseSensitive(task, "keep");
	char err[1024];

	if (dir != NULL && cJSON_IsNumber(keep) && backup_prune(dir, (int)keep->valuedouble,
	    output, cJSON_AddArrayToObject(result, "pruned"), err, sizeof err) < 0)
		log_warn("backup: pruning %s: %s", dir, err);
}

void backup_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *db_copy = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "db_copy"));
	const char *output = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "output"));
	const char *compression = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "compression"));
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(task, "id");
	const cJSON *gid = cJSON_GetObjectItemCaseSensitive(task, "publish_gid");
	int incremental = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "incremental"));
	struct writer w = { .ws = ws, .rootfd = worker_data.fd, .outfd = -1, .logsfd = -1 };
	struct backup_utf8 utf8;
	char logs[4200];
	struct stat st;
	int rc = -1, in_utf8 = 0;

	*result = *error = NULL;
	*state = TASK_FAILED;
	if (db_copy == NULL || output == NULL || !cJSON_IsNumber(id)) {
		*error = worker_error(REASON_EXCEPTION, "the backup assignment lacks its database copy, output or id");
		return;
	}
	w.task_id = (int64_t)id->valuedouble;
	remove_stale_parts(task);
	publish_modes(cJSON_IsNumber(gid) ? (gid_t)gid->valuedouble : (gid_t)-1, &w.pub_modes);
	if (w.rootfd < 0)
		snprintf(w.err, sizeof w.err, "%s is not open", worker_dir);
	else if (backup_utf8_begin(&utf8) < 0)
		snprintf(w.err, sizeof w.err, "out of memory");
	else if ((in_utf8 = 1) && take_snapshot(&w, db_copy, output, compression,
	    incremental) == 0) {
		w.total += tree_bytes(db_copy);
		snprintf(logs, sizeof logs, "%s/logs", worker_dir);
		w.total += tree_bytes(logs);
		progress(&w);
		rc = write_archive(&w, db_copy, output, compression);
	}
	if (in_utf8)
		backup_utf8_end(&utf8);
	snapshot_close(w.snap);
	/* Here rather than in depotd, whose loop a large file's unlink would hold up. */
	unlink(db_copy);
	if (rc < 0) {
		if (w.canceled) {
			*state = TASK_CANCELED;
			*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
		} else {
			*error = worker_error(REASON_EXCEPTION, w.err);
			log_error("backup to %s failed: %s", output, w.err);
		}
		goto out;
	}
	*state = TASK_COMPLETED;
	*result = backup_result(&w, output, compression);
	cJSON_AddStringToObject(*result, "sha256", w.archive_sha);
	cJSON_AddStringToObject(*result, "header_sha256", w.header_sha);
	cJSON_AddNumberToObject(*result, "size", stat(output, &st) == 0 ? (double)st.st_size : 0);
	cJSON_AddNumberToObject(*result, "content_bytes", (double)w.done);
	cJSON_AddNumberToObject(*result, "content_referenced", (double)w.referenced);
	prune_chains(task, output, *result);
out:
	free_chain(&w);
	free(w.holds);
	free(w.pm.p);
}

/* A restore task's worker half: verify and extract, in one pass, into the staging directory beside DIR. */
void restore_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(task, "args"), *b;
	const char *archive = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, "path"));
	const char *bases[BACKUP_MAX_BASES];
	struct backup_bases chain = { .files = bases };
	cJSON *read;
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
	/* --base files, as the daemon validated them (validate_snapshot_task). */
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(args, "bases"))
		if (cJSON_IsString(b) && chain.nfiles < BACKUP_MAX_BASES)
			bases[chain.nfiles++] = b->valuestring;
	if (restore_extract(archive, staging, pub_staging, &chain, &lim, &sum, err, sizeof err) < 0)
		goto fail;
	*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "archive", archive);
	cJSON_AddStringToObject(*result, "backup_created_at", sum.created_at);
	cJSON_AddNumberToObject(*result, "members", (double)sum.members);
	cJSON_AddBoolToObject(*result, "authenticated", sum.authenticated);
	if (sum.kind[0] != '\0')
		cJSON_AddStringToObject(*result, "kind", sum.kind);
	/* The archives restored from, newest first: an incremental's whole chain. */
	if ((read = cJSON_AddArrayToObject(*result, "chain")) != NULL)
		for (size_t i = 0; i < chain.nread; i++)
			cJSON_AddItemToArray(read, cJSON_CreateString(chain.read[i].path));
	backup_bases_free(&chain);
	pthread_mutex_lock(&ws->mu);
	ws->progress_done = 1;
	pthread_mutex_unlock(&ws->mu);
	return;
fail:
	*error = worker_error(REASON_EXCEPTION, err);
}
