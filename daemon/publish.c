/* publish.c: a publish task in a worker: links a version's files into publish/NAME/versions/N, writes its PULP_MANIFEST, switches current atomically, keeps the last two. */
#include "content.h"
#include "depotd.h"
#include "fsutil.h"
#include "log.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cJSON *error_obj(const char *message)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "reason", "exception");
	cJSON_AddStringToObject(e, "message", message);
	return e;
}

/* Across file systems a hard link is impossible: copy instead (DESIGN §8). */
static int copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;

	if (in < 0)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		goto done;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	rc = n == 0 && fsync(out) == 0 ? 0 : -1;
done:
	if (out >= 0 && close(out) != 0)
		rc = -1;
	close(in);
	return rc;
}

static int place_file(const char *src, const char *dst)
{
	char parent[4200];

	snprintf(parent, sizeof parent, "%s", dst);
	if (fs_mkdirs(dirname(parent), 0755) < 0)
		return -1;
	if (link(src, dst) == 0)
		return 0;
	return errno == EXDEV ? copy_file(src, dst) : -1;
}

static void set_progress(struct worker_shared *ws, int64_t done, int64_t total)
{
	pthread_mutex_lock(&ws->mu);
	ws->progress_done = done;
	ws->progress_total = total;
	snprintf(ws->progress_unit, sizeof ws->progress_unit, "files");
	pthread_mutex_unlock(&ws->mu);
}

static int64_t count_lines(FILE *f)
{
	int64_t n = 0;
	int c;

	while ((c = getc(f)) != EOF)
		n += c == '\n';
	rewind(f);
	return n;
}

/*
 * Builds the version's tree in staging. Lines of the list are
 * "sha256,size,path"; the manifest written is "path,sha256,size".
 */
static int build_tree(struct worker_shared *ws, FILE *list, const char *staging,
    int64_t *files, char *err, size_t errlen)
{
	char src[4200], dst[8400], mpath[4200], *line = NULL;
	int64_t total = count_lines(list);
	size_t cap = 0;
	ssize_t len;
	FILE *manifest;
	int rc = 0;

	snprintf(mpath, sizeof mpath, "%s/PULP_MANIFEST", staging);
	if ((manifest = fopen(mpath, "wx")) == NULL) {
		snprintf(err, errlen, "creating %s: %s", mpath, strerror(errno));
		return -1;
	}
	*files = 0;
	while (rc == 0 && (len = getline(&line, &cap, list)) > 0) {
		char *c1, *c2;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((c1 = strchr(line, ',')) == NULL || (c2 = strchr(c1 + 1, ',')) == NULL) {
			snprintf(err, errlen, "bad line in the version's file list: %.80s", line);
			rc = -1;
			break;
		}
		*c1 = *c2 = '\0';	/* line: sha256, c1 + 1: size, c2 + 1: path */
		if (content_path(worker_dir, line, src, sizeof src) < 0 ||
		    strcmp(c2 + 1, "PULP_MANIFEST") == 0) {
			snprintf(err, errlen, "bad entry in the version's file list: %.80s", c2 + 1);
			rc = -1;
			break;
		}
		snprintf(dst, sizeof dst, "%s/%s", staging, c2 + 1);
		if (place_file(src, dst) < 0) {
			snprintf(err, errlen, errno == ENOENT ? "content of %s (%s) is missing "
			    "from the store: sync the repository again" : "linking %s (%s): %s",
			    c2 + 1, line, strerror(errno));
			rc = -1;
			break;
		}
		if (fprintf(manifest, "%s,%s,%s\n", c2 + 1, line, c1 + 1) < 0) {
			snprintf(err, errlen, "writing %s: %s", mpath, strerror(errno));
			rc = -1;
		}
		if (++*files % 256 == 0) {
			set_progress(ws, *files, total);
			if (atomic_load(&ws->cancel))
				rc = 1;
		}
	}
	free(line);
	if (fflush(manifest) != 0 || fsync(fileno(manifest)) != 0) {
		if (rc == 0)
			snprintf(err, errlen, "writing %s: %s", mpath, strerror(errno));
		rc = rc ? rc : -1;
	}
	fclose(manifest);
	set_progress(ws, *files, total);
	return rc;
}

/* Removes every published version but keep_a and keep_b. */
static void prune_versions(const char *versions, long keep_a, long keep_b)
{
	char path[4200];
	struct dirent **names;
	int n = scandir(versions, &names, NULL, NULL);

	for (int i = 0; i < n; i++) {
		char *end;
		long v = strtol(names[i]->d_name, &end, 10);
		if (*end == '\0' && end != names[i]->d_name && v != keep_a && v != keep_b) {
			snprintf(path, sizeof path, "%s/%s", versions, names[i]->d_name);
			if (fs_remove_tree(path) < 0)
				log_warn("removing old publication %s: %m", path);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

void publish_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, const char **state)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "repository"));
	const char *list_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "list_path"));
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(task, "version");
	long id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
	char base[4200], versions[4300], staging[4400], final[4400], link_tmp[4400];
	char current[4400], target[64], old[64] = "", err[1024], manifest[4500];
	long version = cJSON_IsNumber(v) ? (long)v->valuedouble : 0, old_version = 0;
	int64_t files = 0;
	struct stat st;
	FILE *list;
	int rc;

	*state = "failed";
	*result = *error = NULL;
	if (repo == NULL || list_path == NULL || version <= 0) {
		*error = error_obj("the publish assignment lacks repository, version or list");
		return;
	}
	snprintf(base, sizeof base, "%s/publish/%s", worker_dir, repo);
	snprintf(versions, sizeof versions, "%s/versions", base);
	snprintf(final, sizeof final, "%s/%ld", versions, version);
	snprintf(staging, sizeof staging, "%s/.%ld.tmp-%ld", versions, version, id);
	snprintf(current, sizeof current, "%s/current", base);
	snprintf(link_tmp, sizeof link_tmp, "%s/.current.tmp-%ld", base, id);
	snprintf(manifest, sizeof manifest, "%s/PULP_MANIFEST", final);
	if (fs_mkdirs(versions, 0755) < 0) {
		snprintf(err, sizeof err, "creating %s: %s", versions, strerror(errno));
		*error = error_obj(err);
		return;
	}
	/* A version is immutable: one already published complete is reused as it is. */
	if (stat(manifest, &st) != 0) {
		fs_remove_tree(staging);
		if (mkdir(staging, 0755) < 0 || (list = fopen(list_path, "r")) == NULL) {
			snprintf(err, sizeof err, "preparing %s: %s", staging, strerror(errno));
			*error = error_obj(err);
			return;
		}
		rc = build_tree(ws, list, staging, &files, err, sizeof err);
		fclose(list);
		if (rc == 0 && (fs_sync_dir(staging) < 0 || rename(staging, final) < 0)) {
			snprintf(err, sizeof err, "moving %s into place: %s", staging, strerror(errno));
			rc = -1;
		}
		if (rc != 0) {
			fs_remove_tree(staging);
			if (rc > 0) {
				*state = "canceled";
				*error = cJSON_CreateObject();
				cJSON_AddStringToObject(*error, "reason", "canceled-by-user");
				cJSON_AddStringToObject(*error, "message", "stopped on the daemon's request");
			} else
				*error = error_obj(err);
			return;
		}
	} else if ((list = fopen(list_path, "r")) != NULL) {
		files = count_lines(list);
		fclose(list);
		set_progress(ws, files, files);
	}
	/* Which version was current, to keep it as the one before (DESIGN §8: keep two). */
	ssize_t n = readlink(current, old, sizeof old - 1);
	if (n > 0) {
		old[n] = '\0';
		old_version = strtol(old + strlen("versions/"), NULL, 10);
	}
	snprintf(target, sizeof target, "versions/%ld", version);
	unlink(link_tmp);
	if (symlink(target, link_tmp) < 0 || rename(link_tmp, current) < 0 ||
	    fs_sync_dir(base) < 0) {
		snprintf(err, sizeof err, "switching %s to %s: %s", current, target, strerror(errno));
		unlink(link_tmp);
		*error = error_obj(err);
		return;
	}
	prune_versions(versions, version, old_version);
	*state = "completed";
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "version", (double)version);
	cJSON_AddNumberToObject(*result, "files", (double)files);
	cJSON_AddStringToObject(*result, "path", final);
}
