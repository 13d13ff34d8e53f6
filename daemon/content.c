/* content.c: content-store paths and the atomic, durable insert of a verified file. */
#include "content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int content_mkdir(const char *path, int *created, char *err, size_t errlen);
static int content_sync_file(const char *path, off_t *size, char *err, size_t errlen);

int content_valid_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

int content_path(const char *dir, const char *sha256, char *out, size_t n)
{
	int r;

	if (!content_valid_sha256(sha256))
		return -1;
	r = snprintf(out, n, "%s/content/sha256/%.2s/%s", dir, sha256, sha256);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

int content_has(const char *dir, const char *sha256, int64_t size)
{
	char path[4352];
	struct stat st;

	if (content_path(dir, sha256, path, sizeof path) < 0 || stat(path, &st) < 0)
		return 0;
	return S_ISREG(st.st_mode) && (int64_t)st.st_size == size;
}

/* mkdir that accepts an existing directory; *created says whether this call made it. */
static int content_mkdir(const char *path, int *created, char *err, size_t errlen)
{
	struct stat st;

	*created = 0;
	if (mkdir(path, 0755) == 0) {
		*created = 1;
		return 0;
	}
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(err, errlen, "cannot create %s: %s", path,
	    errno == EEXIST ? "it exists and is not a directory" : strerror(errno));
	return -1;
}

/*
 * The temp file's data reaches the disk before its name enters the store,
 * so the store never names a file with missing blocks. 0644: publish
 * hard-links the same inode where a web server reads it.
 */
static int content_sync_file(const char *path, off_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || fchmod(fd, 0644) < 0) {
		snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot store %s: not a regular file", path);
		close(fd);
		return -1;
	}
	*size = st.st_size;
	if (close(fd) < 0) {
		snprintf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int content_commit(const char *dir, const char *tmp_path, const char *sha256,
    char *err, size_t errlen)
{
	char top[4352], algo[4352], fan[4352], dst[4352];
	int made_top, made_algo, made_fan, link_errno;
	struct stat st;
	off_t size;

	if (content_path(dir, sha256, dst, sizeof dst) < 0) {
		snprintf(err, errlen, "cannot store '%.80s' under %s: not a sha256 or the path is too long",
		    sha256, dir);
		return -1;
	}
	snprintf(top, sizeof top, "%s/content", dir);
	snprintf(algo, sizeof algo, "%s/content/sha256", dir);
	snprintf(fan, sizeof fan, "%s/content/sha256/%.2s", dir, sha256);
	if (content_sync_file(tmp_path, &size, err, errlen) < 0 ||
	    content_mkdir(top, &made_top, err, errlen) < 0 ||
	    content_mkdir(algo, &made_algo, err, errlen) < 0 ||
	    content_mkdir(fan, &made_fan, err, errlen) < 0)
		return -1;
	/* link, unlike rename, never replaces: a file another task stored meanwhile stays as it is. */
	link_errno = link(tmp_path, dst) == 0 ? 0 : errno;
	if (link_errno == 0) {
		/* The content is stored; a temp left behind is only clutter that tmp/ loses at start. */
		(void)unlink(tmp_path);
	} else if (link_errno == EEXIST && stat(dst, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == size) {
		(void)unlink(tmp_path);
		return 0;
	} else if (link_errno == EEXIST || link_errno == EPERM || link_errno == EOPNOTSUPP ||
	    link_errno == EMLINK || link_errno == ENOSYS) {
		/*
		 * A damaged file (wrong size) under that name, or a file system
		 * without hard links: rename is as atomic, and replacing is right.
		 */
		if (rename(tmp_path, dst) < 0) {
			snprintf(err, errlen, "cannot move %s to %s: %s", tmp_path, dst, strerror(errno));
			return -1;
		}
	} else {
		snprintf(err, errlen, "cannot link %s to %s: %s", tmp_path, dst, strerror(link_errno));
		return -1;
	}
	(void)made_top;
	(void)made_algo;
	(void)made_fan;
	return 0;
}

/*
 * One syncfs for a whole sync instead of an fsync per file and directory
 * (3-4 ms each here: a 5,000-file sync spent most of its time in them).
 * Called before the version that references the files is recorded, so a
 * version never names content a crash could lose.
 */
int content_sync_store(const char *dir, char *err, size_t errlen)
{
	char top[4352];
	int fd, rc;

	snprintf(top, sizeof top, "%s/content", dir);
	if ((fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", top, strerror(errno));
		return -1;
	}
	rc = syncfs(fd);
	if (rc < 0)
		snprintf(err, errlen, "cannot sync %s: %s", top, strerror(errno));
	close(fd);
	return rc;
}
