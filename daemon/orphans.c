/* orphans.c: an orphans task in a worker: removes stored content that no repository version references. */
#include "content.h"
#include "depotd.h"
#include "log.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct refs {
	char (*sha)[65];
	size_t n;
};

static int cmp_sha(const void *a, const void *b);
static int load_refs(const char *path, struct refs *r);
static void clean_fan(int algofd, const char *name, int fd, const struct refs *refs,
    int64_t *removed, int64_t *bytes);

static int cmp_sha(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The referenced digests, one a line, sorted by the daemon; path is in the data directory. */
static int load_refs(const char *path, struct refs *r)
{
	int fd = fs_open_beneath(worker_data.fd, path, O_RDONLY, 0);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	char line[128];
	size_t cap = 1024;

	r->n = 0;
	if (f == NULL || (r->sha = malloc(cap * sizeof *r->sha)) == NULL) {
		if (f)
			fclose(f);
		else if (fd >= 0)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (!content_valid_sha256(line))
			continue;
		if (r->n == cap) {
			char (*grown)[65] = realloc(r->sha, (cap *= 2) * sizeof *r->sha);
			if (grown == NULL) {
				fclose(f);
				return -1;
			}
			r->sha = grown;
		}
		memcpy(r->sha[r->n++], line, 65);
	}
	fclose(f);
	/* Sorted again here: a wrong order must never make us delete referenced content. */
	qsort(r->sha, r->n, sizeof *r->sha, cmp_sha);
	return 0;
}

/*
 * Removes the unreferenced regular files of one fan-out directory (open as
 * fd, which this closes), then the directory itself if that left it empty.
 * A link there is left alone: it is not content, and unlinking it is not
 * ours to decide.
 */
static void clean_fan(int algofd, const char *name, int fd, const struct refs *refs,
    int64_t *removed, int64_t *bytes)
{
	DIR *d = fdopendir(fd);
	struct dirent *f;
	struct stat st;

	if (d == NULL) {
		close(fd);
		return;
	}
	while ((f = readdir(d)) != NULL) {
		if (f->d_name[0] == '.')
			continue;
		if (content_valid_sha256(f->d_name) &&
		    bsearch(f->d_name, refs->sha, refs->n, sizeof *refs->sha, cmp_sha))
			continue;
		if (fstatat(fd, f->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    unlinkat(fd, f->d_name, 0) == 0) {
			(*removed)++;
			*bytes += st.st_size;
		}
	}
	closedir(d);
	unlinkat(algofd, name, AT_REMOVEDIR);	/* only succeeds when the fan-out directory is empty */
}

void orphans_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *list_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "list_path"));
	char rel[128], msg[2048], why[1024];
	int64_t removed = 0, bytes = 0;
	struct refs refs = { 0 };
	int algofd, fd, refused = 0;
	DIR *top = NULL;
	struct dirent *e;

	*state = TASK_FAILED;
	*result = *error = NULL;
	msg[0] = '\0';
	if (list_path == NULL || load_refs(list_path, &refs) < 0) {
		fs_beneath_error(&worker_data, list_path ? list_path : "?", errno, why, sizeof why);
		snprintf(msg, sizeof msg, "reading the referenced content list %s", why);
		*error = worker_error(REASON_EXCEPTION, msg);
		free(refs.sha);
		return;
	}
	/* Every directory is opened beneath the data directory: a link planted in the store is reported, never entered. */
	if ((algofd = fs_open_beneath(worker_data.fd, "content/sha256", O_RDONLY | O_DIRECTORY, 0)) < 0) {
		if (errno != ENOENT) {
			fs_beneath_error(&worker_data, "content/sha256", errno, msg, sizeof msg);
			refused++;
		}
	} else if ((fd = dup(algofd)) < 0 || (top = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		snprintf(msg, sizeof msg, "listing %s/content/sha256: %s", worker_data.path,
		    strerror(errno));
		refused++;
	}
	while (top != NULL && (e = readdir(top)) != NULL && !atomic_load(&ws->cancel)) {
		if (e->d_name[0] == '.')
			continue;
		if ((fd = fs_open_beneath(algofd, e->d_name, O_RDONLY | O_DIRECTORY, 0)) < 0) {
			if ((errno == ELOOP || errno == EXDEV) && refused++ == 0) {
				snprintf(rel, sizeof rel, "content/sha256/%s", e->d_name);
				fs_beneath_error(&worker_data, rel, errno, msg, sizeof msg);
			}
			continue;
		}
		clean_fan(algofd, e->d_name, fd, &refs, &removed, &bytes);
		pthread_mutex_lock(&ws->mu);
		ws->progress_done = removed;
		snprintf(ws->progress_unit, sizeof ws->progress_unit, "files");
		pthread_mutex_unlock(&ws->mu);
	}
	if (top != NULL)
		closedir(top);
	if (algofd >= 0)
		close(algofd);
	free(refs.sha);
	log_info("orphans: removed %lld files, %lld bytes", (long long)removed, (long long)bytes);
	if (atomic_load(&ws->cancel)) {
		*state = TASK_CANCELED;
		*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
	} else if (refused) {
		/* What could be cleaned was; the links are the administrator's to look at. */
		*error = worker_error(REASON_EXCEPTION, msg);
	} else
		*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "removed_files", (double)removed);
	cJSON_AddNumberToObject(*result, "removed_bytes", (double)bytes);
	if (refused)
		cJSON_AddNumberToObject(*result, "links_refused", refused);
}
