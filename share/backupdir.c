/* backupdir.c: a directory of backup archives, their chains and their verified marks (backupdir.h). */
#include "backupdir.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest sidecar read back: it is a few hundred bytes. */
#define VERIFIED_MAX 4096

static int skipped_name(const char *name);
static int looks_like_archive(const char *name);
static void read_verified(int dirfd, struct backup_entry *e, const struct stat *st);
static int scan_entry(int dirfd, const char *dir, const char *name, struct backup_entry *e);
static int by_time(const void *a, const void *b);
static long find_base(const struct backup_scan *s, const struct backup_entry *e);
static int chain_of(struct backup_scan *s, size_t i, char *err, size_t errlen);
static int make_chains(struct backup_scan *s, char *err, size_t errlen);

/* Hidden files (the verified sidecars) and what a writer has not finished. */
static int skipped_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '.' || (len > 5 && strcmp(name + len - 5, ".part") == 0) ||
	    (len > 9 && strcmp(name + len - 9, ".manifest") == 0);
}

static int looks_like_archive(const char *name)
{
	return strstr(name, ".tar") != NULL;
}

/* e's verified mark, when its sidecar describes the file as it is now. */
static void read_verified(int dirfd, struct backup_entry *e, const struct stat *st)
{
	char side[300], text[VERIFIED_MAX + 1], at[64];
	const cJSON *v;
	cJSON *o;
	ssize_t n;
	int fd;
	double size, mtime_s, mtime_ns, dev, ino;

	e->verified = BACKUP_NOT_VERIFIED;
	snprintf(side, sizeof side, "%s%s%s", BACKUP_VERIFIED_PREFIX, e->name,
	    BACKUP_VERIFIED_SUFFIX);
	if ((fd = openat(dirfd, side, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return;
	n = read(fd, text, VERIFIED_MAX);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	if ((o = cJSON_Parse(text)) == NULL)
		return;
	size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "size"));
	mtime_s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "mtime_s"));
	mtime_ns = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "mtime_ns"));
	dev = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "dev"));
	ino = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "ino"));
	/*
	 * Doubles: exact below 2^53, so the time is kept as seconds and
	 * nanoseconds apart (their sum in nanoseconds is not, and would match
	 * or not by rounding).
	 */
	if (size == (double)st->st_size && dev == (double)st->st_dev &&
	    ino == (double)st->st_ino && mtime_s == (double)st->st_mtim.tv_sec &&
	    mtime_ns == (double)st->st_mtim.tv_nsec) {
		e->verified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok")) ?
		    BACKUP_VERIFIED_OK : BACKUP_VERIFIED_FAILED;
		e->authenticated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
		    "authenticated"));
		v = cJSON_GetObjectItemCaseSensitive(o, "verified_at");
		snprintf(at, sizeof at, "%s", cJSON_IsString(v) ? v->valuestring : "");
		if (time_parse_rfc3339(at, &e->verified_ms) < 0)
			e->verified_ms = 0;
		v = cJSON_GetObjectItemCaseSensitive(o, "error");
		if (cJSON_IsString(v))
			snprintf(e->verify_error, sizeof e->verify_error, "%s", v->valuestring);
	}
	cJSON_Delete(o);
}

/*
 * One name of the directory: 1 and e filled when it is an archive to list,
 * 0 when it is not (a link, a directory, another kind of file), -1 on
 * failure to allocate.
 */
static int scan_entry(int dirfd, const char *dir, const char *name, struct backup_entry *e)
{
	char shown[4400];
	struct stat st;
	int fd, rc;

	memset(e, 0, sizeof *e);
	e->base = -1;
	if (skipped_name(name) || strlen(name) >= sizeof e->name)
		return 0;
	/* Never through a link: what is listed, and pruned, is this directory's own. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	snprintf(e->name, sizeof e->name, "%s", name);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	e->created_ms = e->mtime_ms;
	snprintf(shown, sizeof shown, "%s/%s", dir, name);
	rc = backup_header_read_fd(fd, shown, -1, &e->hdr, e->error, sizeof e->error);
	close(fd);
	if (rc < 0 && !looks_like_archive(name))
		return 0;
	e->format = rc < 0 ? 0 : rc == 1 ? BACKUP_FORMAT_HEADER : 1;
	if (rc == 1 && time_parse_rfc3339(e->hdr.created_at, &e->created_ms) == 0)
		e->created_known = 1;
	else
		e->created_ms = e->mtime_ms;
	read_verified(dirfd, e, &st);
	return 1;
}

static int by_time(const void *a, const void *b)
{
	const struct backup_entry *x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The archive here that e names as its base: same name and size (the sha256 would need a whole read). */
static long find_base(const struct backup_scan *s, const struct backup_entry *e)
{
	if (e->format != BACKUP_FORMAT_HEADER || !e->hdr.has_base)
		return -1;
	for (size_t j = 0; j < s->n; j++)
		if (s->e[j].format == BACKUP_FORMAT_HEADER &&
		    strcmp(s->e[j].name, e->hdr.base_file) == 0 &&
		    s->e[j].size == e->hdr.base_size)
			return (long)j;
	return -1;
}

/* Puts entry i into its chain, made when it is the first one seen: 0, or -1. */
static int chain_of(struct backup_scan *s, size_t i, char *err, size_t errlen)
{
	char key[300];
	const struct backup_entry *r = &s->e[i];
	struct backup_chain *c;
	size_t steps = 0, k;
	int present;

	/* Down to the full, or to the first archive whose base is gone; at most n steps, so a loop ends. */
	while (r->base >= 0 && steps++ <= s->n)
		r = &s->e[r->base];
	if (r->base >= 0) {
		/* r is on the loop now: the loop is one chain, known by its least name. */
		const struct backup_entry *least = r;

		for (const struct backup_entry *q = &s->e[r->base]; q != r; q = &s->e[q->base])
			if (strcmp(q->name, least->name) < 0)
				least = q;
		snprintf(key, sizeof key, "loop:%s", least->name);
		present = 0;
	} else if (r->hdr.has_base) {
		snprintf(key, sizeof key, "gone:%s", r->hdr.base_sha256);
		present = 0;
	} else {
		snprintf(key, sizeof key, "full:%s", r->name);
		present = 1;
	}
	for (k = 0; k < s->nchains; k++)
		if (strcmp(s->c[k].root, key) == 0)
			break;
	if (k == s->nchains) {
		void *p = realloc(s->c, (s->nchains + 1) * sizeof *s->c);
		if (p == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->c = p;
		c = &s->c[s->nchains++];
		memset(c, 0, sizeof *c);
		snprintf(c->root, sizeof c->root, "%s", key);
		c->root_present = present;
	}
	c = &s->c[k];
	s->e[i].chain = k;
	c->members++;
	if (s->e[i].created_ms > c->newest_ms)
		c->newest_ms = s->e[i].created_ms;
	return 0;
}

static int make_chains(struct backup_scan *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++)
		s->e[i].base = find_base(s, &s->e[i]);
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].format == BACKUP_FORMAT_HEADER && chain_of(s, i, err, errlen) < 0)
			return -1;
	/* The keys were for matching; a chain shows as the file name it starts from. */
	for (size_t k = 0; k < s->nchains; k++) {
		char *colon = strchr(s->c[k].root, ':');
		const char *name = colon + 1;

		if (strncmp(s->c[k].root, "gone:", 5) == 0)
			for (size_t i = 0; i < s->n; i++)
				if (s->e[i].chain == k && s->e[i].format == BACKUP_FORMAT_HEADER &&
				    s->e[i].base < 0 && s->e[i].hdr.has_base) {
					name = s->e[i].hdr.base_file;
					break;
				}
		memmove(s->c[k].root, name, strlen(name) + 1);
	}
	return 0;
}

int backup_scan_at(int dirfd, const char *dir, struct backup_scan *s, char *err,
    size_t errlen)
{
	struct dirent *d;
	size_t cap = 0;
	DIR *dp;
	int fd, rc;

	memset(s, 0, sizeof *s);
	/* A descriptor of its own: closedir closes it, the caller's stays open. */
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (dp = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, d = readdir(dp)) != NULL) {
		if (s->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = realloc(s->e, ncap * sizeof *s->e);
			if (p == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			s->e = p;
			cap = ncap;
		}
		if ((rc = scan_entry(dirfd, dir, d->d_name, &s->e[s->n])) == 1)
			s->n++;
	}
	if (errno != 0) {
		snprintf(err, errlen, "reading %s: %s", dir, strerror(errno));
		goto fail;
	}
	closedir(dp);
	if (s->n > 0)
		qsort(s->e, s->n, sizeof *s->e, by_time);
	if (make_chains(s, err, errlen) < 0) {
		backup_scan_free(s);
		return -1;
	}
	return 0;
fail:
	closedir(dp);
	backup_scan_free(s);
	return -1;
}

int backup_scan_dir(const char *dir, struct backup_scan *s, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0) {
		memset(s, 0, sizeof *s);
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	rc = backup_scan_at(fd, dir, s, err, errlen);
	close(fd);
	return rc;
}

void backup_scan_free(struct backup_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		backup_header_free(&s->e[i].hdr);
	free(s->e);
	free(s->c);
	memset(s, 0, sizeof *s);
}

int backup_verified_record(const char *file, int ok, int authenticated, const char *error)
{
	char dir[4200], side[300], tmp[320], at[TIME_RFC3339_LEN];
	const char *slash = strrchr(file, '/'), *name = slash ? slash + 1 : file;
	struct stat st;
	cJSON *o;
	char *text;
	int dirfd, fd, rc = -1, saved;
	size_t len;

	if (strlen(name) + 20 > sizeof side) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(dir, sizeof dir, "%.*s", slash == NULL ? 1 : slash == file ? 1 :
	    (int)(slash - file), slash == NULL ? "." : file);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
		close(dirfd);
		errno = EINVAL;
		return -1;
	}
	snprintf(side, sizeof side, "%s%s%s", BACKUP_VERIFIED_PREFIX, name,
	    BACKUP_VERIFIED_SUFFIX);
	snprintf(tmp, sizeof tmp, "%s.%d", side, (int)getpid());
	time_format_rfc3339(time_now_ms(), at);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddBoolToObject(o, "ok", ok) == NULL ||
	    cJSON_AddBoolToObject(o, "authenticated", authenticated) == NULL ||
	    cJSON_AddStringToObject(o, "verified_at", at) == NULL ||
	    (error != NULL && cJSON_AddStringToObject(o, "error", error) == NULL) ||
	    cJSON_AddNumberToObject(o, "size", (double)st.st_size) == NULL ||
	    cJSON_AddNumberToObject(o, "mtime_s", (double)st.st_mtim.tv_sec) == NULL ||
	    cJSON_AddNumberToObject(o, "mtime_ns", (double)st.st_mtim.tv_nsec) == NULL ||
	    cJSON_AddNumberToObject(o, "dev", (double)st.st_dev) == NULL ||
	    cJSON_AddNumberToObject(o, "ino", (double)st.st_ino) == NULL ||
	    (text = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		close(dirfd);
		errno = ENOMEM;
		return -1;
	}
	cJSON_Delete(o);
	len = strlen(text);
	/* A name of our own, made new: nothing someone put there is written through. */
	unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600)) >= 0) {
		ssize_t w = len < VERIFIED_MAX ? write(fd, text, len) : -1;
		int closed = close(fd);

		if (w == (ssize_t)len && closed == 0 && renameat(dirfd, tmp, dirfd, side) == 0)
			rc = 0;
		else {
			saved = errno;
			unlinkat(dirfd, tmp, 0);
			errno = saved;
		}
	}
	saved = errno;
	free(text);
	close(dirfd);
	errno = saved;
	return rc;
}
