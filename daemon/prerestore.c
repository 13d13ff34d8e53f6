/* prerestore.c: the DIR.pre-restore-* directories a restore's swap leaves (DESIGN §9) — pruned to [backup] keep_pre_restore, and measured for status — with the walks of whole old data directories done by a thread of their own, never on the loop. */
#include "depotd.h"
#include "log.h"
#include "jsonutil.h"
#include "timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRE_RESTORE ".pre-restore-"
/* A pruned directory's name while it is being removed: outside the pre-restore names, so never listed as one. */
#define PRUNING ".pruning-pre-restore-"
/* "YYYYMMDDTHHMMSSZ", as swap_in names them. */
#define STAMP_LEN 16

/*
 * The thread's work: directories to remove, directories to measure. A
 * measurement is keyed by path, device and inode: a pre-restore directory
 * is never written once made, so its size is measured once.
 */
struct job {
	int remove;
	char path[4300];
	struct job *next;
};

struct measured {
	char path[4300];
	dev_t dev;
	ino_t ino;
	int64_t bytes;			/* -1 until measured */
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t thread;
	int started, stop;
	struct job *head, *tail;
	struct measured *m;
	size_t nm;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };


static void parent_and_base(const char *path, char *parent, size_t n, const char **base);
static int pre_restore_name(const char *base, const char *name, const char *marker,
    char *stamp, long *seq);
static int by_age(const void *a, const void *b);
static int prune_renamed(const char *base, int keep, char (**renamed)[4300], size_t *n);
static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f);
static void *prerestore_thread(void *arg);
static void queue(int remove, const char *path);
static int status_of(const char *base, cJSON *list, struct measured **fresh, size_t *nfresh);

/* "/var/lib/depot" → "/var/lib" and "depot". */
static void parent_and_base(const char *path, char *parent, size_t n, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(parent, n, ".");
		*base = path;
	} else {
		snprintf(parent, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
		*base = slash + 1;
	}
}

/* Whether name is base, marker (PRE_RESTORE or PRUNING), STAMP[-N]: 1 with the stamp and N (0 when absent), else 0. */
static int pre_restore_name(const char *base, const char *name, const char *marker,
    char *stamp, long *seq)
{
	size_t blen = strlen(base), mlen = strlen(marker);
	const char *p;
	char *end;

	if (strncmp(name, base, blen) != 0 || strncmp(name + blen, marker, mlen) != 0)
		return 0;
	p = name + blen + mlen;
	if (strlen(p) < STAMP_LEN)
		return 0;
	for (int i = 0; i < STAMP_LEN; i++) {
		char c = p[i];
		int digit = c >= '0' && c <= '9';

		if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : !digit)
			return 0;
	}
	memcpy(stamp, p, STAMP_LEN);
	stamp[STAMP_LEN] = '\0';
	*seq = 0;
	p += STAMP_LEN;
	if (*p == '\0')
		return 1;
	if (*p != '-' || p[1] < '1' || p[1] > '9')
		return 0;
	errno = 0;
	*seq = strtol(p + 1, &end, 10);
	return *end == '\0' && errno == 0;
}

static int by_age(const void *a, const void *b)
{
	const struct prerestore_dir *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

int prerestore_list(const char *base_path, struct prerestore_dir **out, size_t *n)
{
	char parent[4200], stamp[STAMP_LEN + 1];
	const char *base;
	struct dirent *d;
	size_t cap = 0;
	DIR *dp;
	long seq;

	*out = NULL;
	*n = 0;
	parent_and_base(base_path, parent, sizeof parent, &base);
	if ((dp = opendir(parent)) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		struct prerestore_dir *p;
		struct stat st;
		struct tm tm;

		if (!pre_restore_name(base, d->d_name, PRE_RESTORE, stamp, &seq) ||
		    fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *np = realloc(*out, ncap * sizeof **out);

			if (np == NULL) {
				closedir(dp);
				free(*out);
				*out = NULL;
				*n = 0;
				errno = ENOMEM;
				return -1;
			}
			*out = np;
			cap = ncap;
		}
		p = &(*out)[(*n)++];
		memset(p, 0, sizeof *p);
		snprintf(p->path, sizeof p->path, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent,
		    d->d_name);
		p->mark = strlen(p->path) - strlen(d->d_name) + strlen(base);
		memcpy(p->stamp, stamp, sizeof p->stamp);
		p->seq = seq;
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		memset(&tm, 0, sizeof tm);
		if (strptime(stamp, "%Y%m%dT%H%M%SZ", &tm) != NULL)
			p->made_at = (int64_t)timegm(&tm) * 1000;
	}
	closedir(dp);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, by_age);
	return 0;
}

/*
 * All but the newest keep beside base renamed to their pruning names (a
 * rename in one directory: at once), which go in renamed, to be removed.
 */
static int prune_renamed(const char *base, int keep, char (**renamed)[4300], size_t *n)
{
	struct prerestore_dir *dirs;
	size_t ndirs, skip;
	int rc = 0;

	*renamed = NULL;
	*n = 0;
	if (prerestore_list(base, &dirs, &ndirs) < 0) {
		log_warn("restore: listing the directories beside %s: %s", base, strerror(errno));
		return -1;
	}
	skip = keep < 0 ? 0 : (size_t)keep;
	if (ndirs > skip && (*renamed = calloc(ndirs - skip, sizeof **renamed)) == NULL) {
		free(dirs);
		return -1;
	}
	for (size_t i = 0; ndirs > skip && i < ndirs - skip; i++) {
		char *to = (*renamed)[*n];

		snprintf(to, sizeof **renamed, "%.*s%s%s", (int)dirs[i].mark, dirs[i].path, PRUNING,
		    dirs[i].path + dirs[i].mark + strlen(PRE_RESTORE));
		if (rename(dirs[i].path, to) < 0) {
			log_warn("restore: moving %s to %s: %s", dirs[i].path, to, strerror(errno));
			rc = -1;
			continue;
		}
		log_info("restore: removing %s ([backup] keep_pre_restore = %d)", dirs[i].path, keep);
		(*n)++;
	}
	free(dirs);
	return rc;
}

/* Removes each thing of a tree, deepest first; stops when depotd stops. */
static int remove_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (__atomic_load_n(&P.stop, __ATOMIC_RELAXED))
		return FTW_STOP;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		log_warn("restore: removing %s: %s", path, strerror(errno));
	return FTW_CONTINUE;
}

int prerestore_prune(const char *base, int keep)
{
	char (*renamed)[4300];
	size_t n;
	int rc = prune_renamed(base, keep, &renamed, &n);

	for (size_t i = 0; i < n; i++)
		if (nftw(renamed[i], remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_ACTIONRETVAL) != 0)
			rc = -1;
	free(renamed);
	return rc;
}

static void *prerestore_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&P.mu);
	for (;;) {
		struct job *j;
		struct stat st = { 0 };
		int64_t bytes = -1;

		while (P.head == NULL && !P.stop)
			pthread_cond_wait(&P.wake, &P.mu);
		if (P.stop)
			break;
		j = P.head;
		if ((P.head = j->next) == NULL)
			P.tail = NULL;
		pthread_mutex_unlock(&P.mu);
		if (j->remove) {
			if (nftw(j->path, remove_one, 16, FTW_DEPTH | FTW_PHYS |
			    FTW_ACTIONRETVAL) == 0)
				log_info("restore: removed %s", j->path);
		} else if (lstat(j->path, &st) == 0)
			bytes = fs_tree_bytes(j->path, FS_TREE_DISK_BYTES, &P.stop);
		pthread_mutex_lock(&P.mu);
		/* Into the entry status made for it, if it is still there (and still that directory). */
		for (size_t i = 0; bytes >= 0 && i < P.nm; i++)
			if (strcmp(P.m[i].path, j->path) == 0 && P.m[i].dev == st.st_dev &&
			    P.m[i].ino == st.st_ino)
				P.m[i].bytes = bytes;
		free(j);
	}
	pthread_mutex_unlock(&P.mu);
	return NULL;
}

/* Queues work for the thread, started the first time (after loop_init: it blocks the signals the loop takes). Under P.mu. */
static void queue(int remove, const char *path)
{
	struct job *j = calloc(1, sizeof *j);

	if (j == NULL)
		return;
	if (!P.started) {
		if (pthread_create(&P.thread, NULL, prerestore_thread, NULL) != 0) {
			log_warn("restore: starting the pre-restore thread: %s", strerror(errno));
			free(j);
			return;
		}
		P.started = 1;
	}
	j->remove = remove;
	snprintf(j->path, sizeof j->path, "%s", path);
	if (P.tail != NULL)
		P.tail->next = j;
	else
		P.head = j;
	P.tail = j;
	pthread_cond_signal(&P.wake);
}

void prerestore_prune_later(const char *base, int keep)
{
	char (*renamed)[4300];
	size_t n;

	prune_renamed(base, keep, &renamed, &n);
	pthread_mutex_lock(&P.mu);
	for (size_t i = 0; i < n; i++)
		queue(1, renamed[i]);
	pthread_mutex_unlock(&P.mu);
	free(renamed);
}

void prerestore_resume(const char *base_path)
{
	char parent[4200], stamp[STAMP_LEN + 1], path[4300];
	const char *base;
	struct dirent *d;
	DIR *dp;
	long seq;

	parent_and_base(base_path, parent, sizeof parent, &base);
	if ((dp = opendir(parent)) == NULL)
		return;
	pthread_mutex_lock(&P.mu);
	while ((d = readdir(dp)) != NULL)
		if (pre_restore_name(base, d->d_name, PRUNING, stamp, &seq)) {
			snprintf(path, sizeof path, "%s/%s", strcmp(parent, "/") == 0 ? "" : parent,
			    d->d_name);
			log_info("restore: removing %s, which a stopped prune left", path);
			queue(1, path);
		}
	pthread_mutex_unlock(&P.mu);
	closedir(dp);
}

/*
 * Appends base's pre-restore directories to list, each with its size when
 * the thread has measured it, and their measurements to *fresh (what the
 * cache keeps: only what is listed now); asks the thread to measure those
 * not asked for yet. Under P.mu. 0, or -1 when out of memory.
 */
static int status_of(const char *base, cJSON *list, struct measured **fresh, size_t *nfresh)
{
	struct prerestore_dir *dirs;
	size_t n;

	if (prerestore_list(base, &dirs, &n) < 0)
		return 0;	/* nothing beside it to show */
	for (size_t i = 0; i < n; i++) {
		struct measured *m = NULL, *nm;
		cJSON *o;

		if ((nm = realloc(*fresh, (*nfresh + 1) * sizeof *nm)) == NULL) {
			free(dirs);
			return -1;
		}
		*fresh = nm;
		for (size_t k = 0; k < P.nm && m == NULL; k++)
			if (strcmp(P.m[k].path, dirs[i].path) == 0 && P.m[k].dev == dirs[i].dev &&
			    P.m[k].ino == dirs[i].ino)
				m = &P.m[k];
		if (m != NULL)
			nm[*nfresh] = *m;
		else {
			snprintf(nm[*nfresh].path, sizeof nm->path, "%s", dirs[i].path);
			nm[*nfresh].dev = dirs[i].dev;
			nm[*nfresh].ino = dirs[i].ino;
			nm[*nfresh].bytes = -1;
			queue(0, dirs[i].path);
		}
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "path", dirs[i].path);
		json_add_time(o, "made_at", dirs[i].made_at);
		if (nm[*nfresh].bytes >= 0)
			cJSON_AddNumberToObject(o, "bytes", (double)nm[*nfresh].bytes);
		else
			cJSON_AddNullToObject(o, "bytes");
		cJSON_AddItemToArray(list, o);
		(*nfresh)++;
	}
	free(dirs);
	return 0;
}

cJSON *prerestore_status_json(void)
{
	cJSON *list = cJSON_CreateArray();
	struct measured *fresh = NULL;
	size_t nfresh = 0;
	char own[4200];

	snprintf(own, sizeof own, "%s/publish", D->dir);
	pthread_mutex_lock(&P.mu);
	if (status_of(D->dir, list, &fresh, &nfresh) == 0 &&
	    (strcmp(own, D->publish_dir) == 0 ||
	    status_of(D->publish_dir, list, &fresh, &nfresh) == 0)) {
		free(P.m);
		P.m = fresh;
		P.nm = nfresh;
	} else
		free(fresh);
	pthread_mutex_unlock(&P.mu);
	return list;
}

void prerestore_stop(void)
{
	pthread_mutex_lock(&P.mu);
	P.stop = 1;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.mu);
	if (P.started)
		pthread_join(P.thread, NULL);
	while (P.head != NULL) {
		struct job *j = P.head;
		P.head = j->next;
		free(j);
	}
	P.tail = NULL;
	free(P.m);
	P.m = NULL;
	P.nm = 0;
	P.started = 0;
	P.stop = 0;
}
