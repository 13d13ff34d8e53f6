/* publish.c: a publish task in a worker: links a version's files into PUBLISH/NAME/versions/N, writes its PULP_MANIFEST, switches current atomically, keeps the last two. */
#include "content.h"
#include "depotd.h"
#include "fsutil.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One publish task: where it reads (the data directory) and writes (the publish directory). */
struct publication {
	const struct fs_root *data;
	struct fs_root pub;
	struct pub_modes m;
	const char *repo;
	char staging[128];	/* REPO/versions/.N.tmp-ID, relative to pub */
	int stagingfd;
};

static int give_inode(int dirfd, const char *name, const struct stat *st, mode_t mode, gid_t gid);
static void give_dir(int fd, const struct pub_modes *m);
static int place_file(struct publication *p, const char *sha, const char *rel, char *err,
    size_t errlen);
static void set_progress(struct worker_shared *ws, int64_t done, int64_t total);
static int64_t count_lines(FILE *f);
static int build_tree(struct worker_shared *ws, struct publication *p, FILE *list,
    int64_t *files, char *err, size_t errlen);
static void prune_versions(struct publication *p, int versfd, long keep_a, long keep_b);
static int switch_current(struct publication *p, int repofd, long version, long id,
    long *old_version, char *err, size_t errlen);

void publish_modes(gid_t gid, struct pub_modes *m)
{
	m->gid = gid;
	m->dir = gid == (gid_t)-1 ? 0755 : 0750;
	m->file = gid == (gid_t)-1 ? 0644 : 0640;
}

/* The regular file name in dirfd (st: its stat) gets mode and group, when it has not got them. */
static int give_inode(int dirfd, const char *name, const struct stat *st, mode_t mode, gid_t gid)
{
	if (gid != (gid_t)-1 && st->st_gid != gid &&
	    fchownat(dirfd, name, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if ((st->st_mode & 07777) != mode && fchmodat(dirfd, name, mode, 0) < 0)
		return -1;
	return 0;
}

/* A directory made before [publish] group changed gets the modes of today's, if it is ours to change. */
static void give_dir(int fd, const struct pub_modes *m)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || st.st_uid != geteuid())
		return;
	if (m->gid != (gid_t)-1 && st.st_gid != m->gid && fchown(fd, (uid_t)-1, m->gid) < 0)
		log_warn("cannot give a publication directory to group %u: %m", (unsigned)m->gid);
	if ((st.st_mode & 07777) != m->dir && fchmod(fd, m->dir) < 0)
		log_warn("cannot make a publication directory mode %04o: %m", (unsigned)m->dir);
}

int publish_root_open(struct fs_root *pub, const struct fs_root *data, const char *dir,
    const struct pub_modes *m, char *err, size_t errlen)
{
	size_t n = strlen(data->path);
	char why[1024];
	int e;

	if (snprintf(pub->path, sizeof pub->path, "%s", dir) >= (int)sizeof pub->path) {
		snprintf(err, errlen, "the publish directory %.200s… is too long", dir);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strncmp(dir, data->path, n) == 0 && dir[n] == '/') {
		/* Inside the data directory: a link planted there by a restore must not be followed. */
		if ((pub->fd = fs_mkdirs_beneath_as(data->fd, dir + n + 1, m->dir, m->gid)) < 0) {
			e = errno;
			fs_beneath_error(data, dir + n + 1, e, why, sizeof why);
			snprintf(err, errlen, "cannot open the publish directory %s", why);
			errno = e;
			return -1;
		}
	} else {
		int made = mkdir(dir, 0700) == 0;
		if (fs_root_open(pub, dir) < 0 ||
		    (made && ((m->gid != (gid_t)-1 && fchown(pub->fd, (uid_t)-1, m->gid) < 0) ||
		    fchmod(pub->fd, m->dir) < 0))) {
			e = errno;
			snprintf(err, errlen, "cannot %s the publish directory %s: %s",
			    made ? "set up" : "open", dir, strerror(e));
			fs_root_close(pub);
			errno = e;
			return -1;
		}
	}
	give_dir(pub->fd, m);
	return 0;
}

int publish_remove(const struct fs_root *data, const char *dir, const struct pub_modes *m,
    const char *name, char *err, size_t errlen)
{
	struct fs_root pub;
	char gone[128];
	int rc = 0;

	if (publish_root_open(&pub, data, dir, m, err, errlen) < 0)
		return -1;
	/* Renamed first, so the publication disappears at once however long the removal takes. */
	snprintf(gone, sizeof gone, ".deleted-%s-%lld", name, (long long)time_now_ms());
	if (renameat(pub.fd, name, pub.fd, gone) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "removing %s/%s: %s", pub.path, name, strerror(errno));
			rc = -1;
		}
	} else if (fs_remove_tree_beneath(pub.fd, gone) < 0) {
		snprintf(err, errlen, "removing %s/%s: %s", pub.path, gone, strerror(errno));
		rc = -1;
	}
	fs_root_close(&pub);
	return rc;
}

/*
 * Links content sha into the staging tree as rel. The store's file is found
 * and the tree's directories made without resolving any link, so neither a
 * link planted in the store nor one in the publish tree reaches outside.
 */
static int place_file(struct publication *p, const char *sha, const char *rel, char *err,
    size_t errlen)
{
	char src[128], sbase[128], dbase[256], why[1024], where[4400];
	int srcdir = -1, dstdir = -1, rc = -1;
	struct stat st;

	snprintf(where, sizeof where, "%s/%s", p->staging, rel);
	if (content_path(sha, src, sizeof src) < 0) {
		snprintf(err, errlen, "bad entry in the version's file list: %.80s", rel);
		return -1;
	}
	if ((srcdir = fs_parent_beneath(p->data->fd, src, 0, sbase, sizeof sbase)) < 0 ||
	    fstatat(srcdir, sbase, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "content of %s (%s) is missing from the store: sync the "
			    "repository again", rel, sha);
		else {
			fs_beneath_error(p->data, src, errno, why, sizeof why);
			snprintf(err, errlen, "reading the content of %s: %s", rel, why);
		}
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/%s is not a regular file (a link?): not published", p->data->path,
		    src);
		goto out;
	}
	if ((dstdir = fs_parent_beneath_as(p->stagingfd, rel, p->m.dir, p->m.gid, dbase,
	    sizeof dbase)) < 0) {
		fs_beneath_error(&p->pub, where, errno, why, sizeof why);
		snprintf(err, errlen, "creating %s", why);
		goto out;
	}
	if (linkat(srcdir, sbase, dstdir, dbase, 0) == 0) {
		/* The store's inode is what the web server reads: it gets the publication's mode and group. */
		if (give_inode(dstdir, dbase, &st, p->m.file, p->m.gid) < 0) {
			snprintf(err, errlen, "giving %s/%s mode %04o: %s", p->pub.path, where,
			    (unsigned)p->m.file, strerror(errno));
			goto out;
		}
	} else if (errno != EXDEV ||
	    /* Across file systems a hard link is impossible: copy instead (DESIGN §8). */
	    fs_copy_at(srcdir, sbase, dstdir, dbase, p->m.file, p->m.gid, 1) < 0) {
		snprintf(err, errlen, "linking %s (%s) into %s: %s", rel, sha, p->pub.path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (srcdir >= 0)
		close(srcdir);
	if (dstdir >= 0)
		close(dstdir);
	return rc;
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
static int build_tree(struct worker_shared *ws, struct publication *p, FILE *list,
    int64_t *files, char *err, size_t errlen)
{
	int64_t total = count_lines(list);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *manifest = NULL;
	int rc = 0, fd;

	fd = openat(p->stagingfd, "PULP_MANIFEST", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0 || (p->m.gid != (gid_t)-1 && fchown(fd, (uid_t)-1, p->m.gid) < 0) ||
	    fchmod(fd, p->m.file) < 0 || (manifest = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "creating %s/%s/PULP_MANIFEST: %s", p->pub.path, p->staging,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
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
		if (strcmp(c2 + 1, "PULP_MANIFEST") == 0) {
			snprintf(err, errlen, "bad entry in the version's file list: %.80s", c2 + 1);
			rc = -1;
			break;
		}
		if (place_file(p, line, c2 + 1, err, errlen) < 0) {
			rc = -1;
			break;
		}
		if (fprintf(manifest, "%s,%s,%s\n", c2 + 1, line, c1 + 1) < 0) {
			snprintf(err, errlen, "writing %s/%s/PULP_MANIFEST: %s", p->pub.path, p->staging,
			    strerror(errno));
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
			snprintf(err, errlen, "writing %s/%s/PULP_MANIFEST: %s", p->pub.path, p->staging,
			    strerror(errno));
		rc = rc ? rc : -1;
	}
	fclose(manifest);
	set_progress(ws, *files, total);
	return rc;
}

/* Removes every published version but keep_a and keep_b. */
static void prune_versions(struct publication *p, int versfd, long keep_a, long keep_b)
{
	int fd = dup(versfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		log_warn("listing %s/%s/versions: %m", p->pub.path, p->repo);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *end;
		long v = strtol(e->d_name, &end, 10);
		if (*end == '\0' && end != e->d_name && v != keep_a && v != keep_b &&
		    fs_remove_tree_beneath(versfd, e->d_name) < 0)
			log_warn("removing old publication %s/%s/versions/%s: %m", p->pub.path, p->repo,
			    e->d_name);
	}
	closedir(d);
}

/*
 * Points REPO/current at versions/N: a new link renamed over the old one in
 * the repository's directory, so readers see one or the other, and the old
 * link is read, never resolved. Reports which version it named.
 */
static int switch_current(struct publication *p, int repofd, long version, long id,
    long *old_version, char *err, size_t errlen)
{
	char target[64], old[64], tmp[64];
	ssize_t n = readlinkat(repofd, "current", old, sizeof old - 1);

	*old_version = 0;
	if (n > 0) {
		old[n] = '\0';
		if (strncmp(old, "versions/", 9) == 0)
			*old_version = strtol(old + 9, NULL, 10);
	}
	snprintf(target, sizeof target, "versions/%ld", version);
	snprintf(tmp, sizeof tmp, ".current.tmp-%ld", id);
	unlinkat(repofd, tmp, 0);
	if (symlinkat(target, repofd, tmp) < 0 || renameat(repofd, tmp, repofd, "current") < 0 ||
	    fsync(repofd) < 0) {
		snprintf(err, errlen, "switching %s/%s/current to %s: %s", p->pub.path, p->repo, target,
		    strerror(errno));
		unlinkat(repofd, tmp, 0);
		return -1;
	}
	return 0;
}

void publish_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "repository"));
	const char *list_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "list_path"));
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "publish_dir"));
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(task, "version");
	const cJSON *gid = cJSON_GetObjectItemCaseSensitive(task, "publish_gid");
	long id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
	long version = cJSON_IsNumber(v) ? (long)v->valuedouble : 0, old_version = 0;
	struct publication p = { .data = &worker_data, .pub = { .fd = -1 }, .stagingfd = -1 };
	char err[2048], why[1024], rel[128], final[32], path[4400];
	int repofd = -1, versfd = -1, fd, rc;
	int64_t files = 0;
	FILE *list;

	*state = TASK_FAILED;
	*result = *error = NULL;
	if (repo == NULL || list_path == NULL || dir == NULL || version <= 0) {
		*error = worker_error(REASON_EXCEPTION, "the publish assignment lacks repository, version, list or publish_dir");
		return;
	}
	p.repo = repo;
	publish_modes(cJSON_IsNumber(gid) ? (gid_t)gid->valuedouble : (gid_t)-1, &p.m);
	if (publish_root_open(&p.pub, p.data, dir, &p.m, err, sizeof err) < 0)
		goto fail;
	snprintf(rel, sizeof rel, "%s/versions", repo);
	if ((repofd = fs_mkdirs_beneath_as(p.pub.fd, repo, p.m.dir, p.m.gid)) < 0 ||
	    (versfd = fs_mkdirs_beneath_as(repofd, "versions", p.m.dir, p.m.gid)) < 0) {
		fs_beneath_error(&p.pub, rel, errno, why, sizeof why);
		snprintf(err, sizeof err, "creating %s", why);
		goto fail;
	}
	give_dir(repofd, &p.m);
	give_dir(versfd, &p.m);
	snprintf(final, sizeof final, "%ld", version);
	snprintf(p.staging, sizeof p.staging, "%s/versions/.%ld.tmp-%ld", repo, version, id);
	/* A version is immutable: one already published complete is reused as it is. */
	snprintf(rel, sizeof rel, "%ld/PULP_MANIFEST", version);
	if ((fd = fs_open_beneath(versfd, rel, O_RDONLY, 0)) >= 0) {
		close(fd);
		if ((fd = fs_open_beneath(p.data->fd, list_path, O_RDONLY, 0)) >= 0 &&
		    (list = fdopen(fd, "r")) != NULL) {
			files = count_lines(list);
			fclose(list);
			set_progress(ws, files, files);
		} else if (fd >= 0)
			close(fd);
	} else if (errno != ENOENT) {
		snprintf(rel, sizeof rel, "%s/versions/%ld", repo, version);
		fs_beneath_error(&p.pub, rel, errno, why, sizeof why);
		snprintf(err, sizeof err, "reading %s", why);
		goto fail;
	} else {
		const char *base = strrchr(p.staging, '/') + 1;
		fs_remove_tree_beneath(versfd, base);
		if (mkdirat(versfd, base, 0700) < 0 ||
		    (p.stagingfd = fs_open_beneath(versfd, base, O_RDONLY | O_DIRECTORY, 0)) < 0 ||
		    (p.m.gid != (gid_t)-1 && fchown(p.stagingfd, (uid_t)-1, p.m.gid) < 0) ||
		    fchmod(p.stagingfd, p.m.dir) < 0) {
			snprintf(err, sizeof err, "preparing %s/%s: %s", p.pub.path, p.staging,
			    strerror(errno));
			goto fail;
		}
		if ((fd = fs_open_beneath(p.data->fd, list_path, O_RDONLY, 0)) < 0 ||
		    (list = fdopen(fd, "r")) == NULL) {
			fs_beneath_error(p.data, list_path, errno, why, sizeof why);
			snprintf(err, sizeof err, "reading the version's file list %s", why);
			if (fd >= 0)
				close(fd);
			fs_remove_tree_beneath(versfd, base);
			goto fail;
		}
		rc = build_tree(ws, &p, list, &files, err, sizeof err);
		fclose(list);
		/* A version directory without its manifest is a broken leftover: the complete one replaces it. */
		if (rc == 0 && (fsync(p.stagingfd) < 0 || fs_remove_tree_beneath(versfd, final) < 0 ||
		    renameat(versfd, base, versfd, final) < 0)) {
			snprintf(err, sizeof err, "moving %s/%s into place: %s", p.pub.path, p.staging,
			    strerror(errno));
			rc = -1;
		}
		if (rc != 0) {
			fs_remove_tree_beneath(versfd, base);
			if (rc > 0) {
				*state = TASK_CANCELED;
				*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
				goto out;
			}
			goto fail;
		}
	}
	if (switch_current(&p, repofd, version, id, &old_version, err, sizeof err) < 0)
		goto fail;
	/* DESIGN §8: keep two, the new one and the one it replaced. */
	prune_versions(&p, versfd, version, old_version);
	*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "version", (double)version);
	cJSON_AddNumberToObject(*result, "files", (double)files);
	snprintf(path, sizeof path, "%s/%s/versions/%ld", p.pub.path, repo, version);
	cJSON_AddStringToObject(*result, "path", path);
	goto out;
fail:
	*error = worker_error(REASON_EXCEPTION, err);
out:
	if (p.stagingfd >= 0)
		close(p.stagingfd);
	if (versfd >= 0)
		close(versfd);
	if (repofd >= 0)
		close(repofd);
	fs_root_close(&p.pub);
}
