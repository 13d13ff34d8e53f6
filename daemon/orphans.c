/* orphans.c: an orphans task in a worker: removes stored content that no repository version references. */
#include "content.h"
#include "depotd.h"
#include "log.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct refs {
	char (*sha)[65];
	size_t n;
};

static int cmp_sha(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The referenced digests, one a line, sorted by the daemon. */
static int load_refs(const char *path, struct refs *r)
{
	FILE *f = fopen(path, "r");
	char line[128];
	size_t cap = 1024;

	r->n = 0;
	if (f == NULL || (r->sha = malloc(cap * sizeof *r->sha)) == NULL) {
		if (f)
			fclose(f);
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

void orphans_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, const char **state)
{
	const char *list_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "list_path"));
	char root[4200], sub[4300], path[4400], msg[512];
	int64_t removed = 0, bytes = 0;
	struct refs refs = { 0 };
	DIR *top, *d;
	struct dirent *e, *f;
	struct stat st;

	*state = "failed";
	*result = *error = NULL;
	if (list_path == NULL || load_refs(list_path, &refs) < 0) {
		snprintf(msg, sizeof msg, "reading the referenced content list: %s", strerror(errno));
		*error = cJSON_CreateObject();
		cJSON_AddStringToObject(*error, "reason", "exception");
		cJSON_AddStringToObject(*error, "message", msg);
		free(refs.sha);
		return;
	}
	snprintf(root, sizeof root, "%s/content/sha256", worker_dir);
	if ((top = opendir(root)) != NULL) {
		while ((e = readdir(top)) != NULL && !atomic_load(&ws->cancel)) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof sub, "%s/%s", root, e->d_name);
			if ((d = opendir(sub)) == NULL)
				continue;
			while ((f = readdir(d)) != NULL) {
				if (f->d_name[0] == '.')
					continue;
				if (content_valid_sha256(f->d_name) &&
				    bsearch(f->d_name, refs.sha, refs.n, sizeof *refs.sha, cmp_sha))
					continue;
				snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
				if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) {
					removed++;
					bytes += st.st_size;
				}
			}
			closedir(d);
			rmdir(sub);	/* only succeeds when the fan-out directory is empty */
			pthread_mutex_lock(&ws->mu);
			ws->progress_done = removed;
			snprintf(ws->progress_unit, sizeof ws->progress_unit, "files");
			pthread_mutex_unlock(&ws->mu);
		}
		closedir(top);
	}
	free(refs.sha);
	log_info("orphans: removed %lld files, %lld bytes", (long long)removed, (long long)bytes);
	if (atomic_load(&ws->cancel)) {
		*state = "canceled";
		*error = cJSON_CreateObject();
		cJSON_AddStringToObject(*error, "reason", "canceled-by-user");
		cJSON_AddStringToObject(*error, "message", "stopped on the daemon's request");
	} else
		*state = "completed";
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "removed_files", (double)removed);
	cJSON_AddNumberToObject(*result, "removed_bytes", (double)bytes);
}
