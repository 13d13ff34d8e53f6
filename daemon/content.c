/* content.c: content-store paths and the atomic, durable insert of a verified file. */
#include "content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int content_valid_sha256(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

int content_path(const char *sha256, char *out, size_t n)
{
	int r;

	if (!content_valid_sha256(sha256))
		return -1;
	r = snprintf(out, n, "content/sha256/%.2s/%s", sha256, sha256);
	return r < 0 || (size_t)r >= n ? -1 : 0;
}

const char *content_named_sha256(const char *path)
{
	const char *base = strrchr(path, '/');
	char want[128];

	if (base == NULL || content_path(base + 1, want, sizeof want) < 0 || strcmp(want, path) != 0)
		return NULL;
	return base + 1;
}

int content_has(const struct fs_root *data, const char *sha256, int64_t size)
{
	char path[128];
	struct stat st;
	int fd, rc;

	if (content_path(sha256, path, sizeof path) < 0 ||
	    (fd = fs_open_beneath(data->fd, path, O_PATH, 0)) < 0)
		return 0;
	rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (int64_t)st.st_size == size;
	close(fd);
	return rc;
}

void content_fans_init(struct content_fans *f)
{
	for (size_t i = 0; i < sizeof f->fd / sizeof f->fd[0]; i++)
		f->fd[i] = -1;
}

void content_fans_close(struct content_fans *f)
{
	for (size_t i = 0; i < sizeof f->fd / sizeof f->fd[0]; i++) {
		if (f->fd[i] >= 0)
			close(f->fd[i]);
		f->fd[i] = -1;
	}
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* The fan-out directory of sha256 (a valid digest), made if missing, opened once per fans. */
static int fan_fd(const struct fs_root *data, struct content_fans *fans, const char *sha256,
    char *err, size_t errlen)
{
	int i = hexval(sha256[0]) << 4 | hexval(sha256[1]);
	char fan[64], why[1024];

	if (fans->fd[i] >= 0)
		return fans->fd[i];
	snprintf(fan, sizeof fan, "content/sha256/%.2s", sha256);
	/* The store's directories hold nothing a web server reads (publications link the files): the umask decides. */
	if ((fans->fd[i] = fs_mkdirs_beneath(data->fd, fan, 0755)) < 0) {
		fs_beneath_error(data, fan, errno, why, sizeof why);
		snprintf(err, errlen, "cannot create %s", why);
	}
	return fans->fd[i];
}

/*
 * Without RENAME_NOREPLACE (a file system that refuses the flag), as
 * before it: link, unlike rename, never replaces either.
 */
static int place_by_link(int tmpdir, const char *tbase, int fanfd, const char *sha256)
{
	if (linkat(tmpdir, tbase, fanfd, sha256, 0) < 0)
		return -1;
	/* The content is stored; a temp left behind is only clutter that tmp/ loses at start. */
	(void)unlinkat(tmpdir, tbase, 0);
	return 0;
}

/* The fan-out directory sha256 goes in, and its path in dst (for messages): -1 with err. */
static int fan_for(const struct fs_root *data, struct content_fans *fans, const char *sha256,
    char *dst, size_t dstlen, char *err, size_t errlen)
{
	if (content_path(sha256, dst, dstlen) < 0) {
		snprintf(err, errlen, "cannot store '%.80s' under %s: not a sha256", sha256, data->path);
		return -1;
	}
	return fan_fd(data, fans, sha256, err, errlen);
}

/* A regular file of size bytes is stored under sha256 already: another task's, as good as ours. */
static int stored_already(int fanfd, const char *sha256, int64_t size)
{
	struct stat st;

	return fstatat(fanfd, sha256, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (int64_t)st.st_size == size;
}

int content_commit_at(const struct fs_root *data, struct content_fans *fans, int tmpdir,
    const char *tmp, const char *sha256, int64_t size, char *err, size_t errlen)
{
	const char *tbase = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
	char dst[128];
	int fanfd, e;

	if ((fanfd = fan_for(data, fans, sha256, dst, sizeof dst, err, errlen)) < 0)
		return -1;
	/* One atomic step that, like link, never replaces: a file another task stored meanwhile stays as it is. */
	if (renameat2(tmpdir, tbase, fanfd, sha256, RENAME_NOREPLACE) == 0)
		return 0;
	e = errno;
	if ((e == EINVAL || e == ENOSYS) && place_by_link(tmpdir, tbase, fanfd, sha256) == 0)
		return 0;
	if (e == EINVAL || e == ENOSYS)
		e = errno;
	if (e == EEXIST && stored_already(fanfd, sha256, size)) {
		(void)unlinkat(tmpdir, tbase, 0);
		return 0;
	}
	if (e == EEXIST || e == EPERM || e == EOPNOTSUPP || e == EMLINK) {
		/*
		 * A damaged file (wrong size) under that name, or (from the
		 * link) a file system without hard links: rename is as atomic,
		 * and replacing is right.
		 */
		if (renameat(tmpdir, tbase, fanfd, sha256) < 0) {
			snprintf(err, errlen, "cannot move %s/%s to %s/%s: %s", data->path, tmp,
			    data->path, dst, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "cannot move %s/%s to %s/%s: %s", data->path, tmp, data->path, dst,
	    strerror(e));
	return -1;
}

/*
 * linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH before Linux 6.10, and
 * says ENOENT without it; the /proc link works for any owner of the fd
 * (open(2), O_TMPFILE), at the price of a /proc lookup (a third of a
 * link's time in a sync of small files).
 */
static int link_fd(int fd, int dirfd, const char *name)
{
	static _Atomic int empty_path = 1;
	char proc[64];

	if (empty_path) {
		if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		empty_path = 0;
	}
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

int content_unnamed_check(int tmpdir)
{
	char probe[64];
	int fd, e = 0;

	if ((fd = content_unnamed_temp(tmpdir)) < 0)
		return -1;
	snprintf(probe, sizeof probe, "probe-%ld", (long)getpid());
	(void)unlinkat(tmpdir, probe, 0);
	if (link_fd(fd, tmpdir, probe) < 0)
		e = errno;
	else
		(void)unlinkat(tmpdir, probe, 0);
	close(fd);
	errno = e;
	return e == 0 ? 0 : -1;
}

int content_unnamed_temp(int tmpdir)
{
	return openat(tmpdir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
}

int content_commit_fd(const struct fs_root *data, struct content_fans *fans, int fd, int tmpdir,
    const char *tmp, const char *sha256, int64_t size, char *err, size_t errlen)
{
	const char *tbase;
	char dst[128];
	int fanfd;

	if ((fanfd = fan_for(data, fans, sha256, dst, sizeof dst, err, errlen)) < 0)
		return -1;
	if (link_fd(fd, fanfd, sha256) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "cannot link a downloaded temp to %s/%s: %s", data->path, dst,
		    strerror(errno));
		return -1;
	}
	if (stored_already(fanfd, sha256, size))
		return 0;
	/* Another size under that name (damaged): named in tmpdir for the moment it replaces it. */
	tbase = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
	if (link_fd(fd, tmpdir, tbase) < 0) {
		snprintf(err, errlen, "cannot link a temp to %s/%s: %s", data->path, tmp,
		    strerror(errno));
		return -1;
	}
	if (content_commit_at(data, fans, tmpdir, tmp, sha256, size, err, errlen) < 0) {
		(void)unlinkat(tmpdir, tbase, 0);
		return -1;
	}
	return 0;
}

int content_store_open(const struct fs_root *data, char *err, size_t errlen)
{
	char why[1024];
	int fd;

	if ((fd = fs_open_beneath(data->fd, "content", O_RDONLY | O_DIRECTORY, 0)) < 0) {
		fs_beneath_error(data, "content", errno, why, sizeof why);
		snprintf(err, errlen, "cannot open %s", why);
	}
	return fd;
}

/*
 * One syncfs for a whole sync instead of an fsync per file and directory
 * (3-4 ms each here: a 5,000-file sync spent most of its time in them).
 * A sync calls it before its files enter the store (at each turn of its
 * committer, and once after the downloads), so that the store never names
 * a file whose bytes a crash could lose, and once after, so that the
 * version it then records never names a file whose name could.
 */
int content_sync_store(const struct fs_root *data, int storefd, char *err, size_t errlen)
{
	if (syncfs(storefd) == 0)
		return 0;
	snprintf(err, errlen, "cannot sync %s/content: %s", data->path, strerror(errno));
	return -1;
}
