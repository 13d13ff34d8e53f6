/* fsutil.c: file-system helpers the daemon, its workers and tools share. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int empty_dirfd(int fd, int depth);
static int remove_at(int parent, const char *base);

/* A walk's state: nftw's callback takes no argument, and two threads may walk at once. */
static __thread struct {
	enum fs_tree_measure measure;
	const int *stop;
	double bytes;
} tree_walk;

static int tree_add(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path;
	(void)f;
	if (tree_walk.stop != NULL && __atomic_load_n(tree_walk.stop, __ATOMIC_RELAXED))
		return FTW_STOP;
	if (tree_walk.measure == FS_TREE_FILE_BYTES) {
		if (type == FTW_F)
			tree_walk.bytes += (double)st->st_size;
	} else if (type != FTW_NS)
		tree_walk.bytes += (double)st->st_blocks * 512 /
		    (S_ISDIR(st->st_mode) || st->st_nlink < 1 ? 1 : (double)st->st_nlink);
	return FTW_CONTINUE;
}

long long fs_tree_bytes(const char *path, enum fs_tree_measure measure, const int *stop)
{
	int rc;

	tree_walk.measure = measure;
	tree_walk.stop = stop;
	tree_walk.bytes = 0;
	rc = nftw(path, tree_add, 16, FTW_PHYS | FTW_ACTIONRETVAL);
	if (rc == FTW_STOP)
		errno = EINTR;
	return rc == 0 ? (long long)tree_walk.bytes : -1;
}

/*
 * Both walk by file descriptor, not by path (nftw): no path length limit,
 * so a tree as deep as a restore can make is removed whole, and a link is
 * removed, never entered.
 */
int fs_remove_tree(const char *path)
{
	const char *slash = strrchr(path, '/');
	char parent[4096];
	int fd, rc;

	if (slash == NULL)
		snprintf(parent, sizeof parent, ".");
	else if (slash == path)
		snprintf(parent, sizeof parent, "/");
	else if (snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path) >=
	    (int)sizeof parent) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	rc = remove_at(fd, slash ? slash + 1 : path);
	close(fd);
	return rc;
}

int fs_empty_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	return empty_dirfd(fd, 0);
}

int fs_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or, where the call is
 * missing (Linux before 5.6, or valgrind 3.19, which does not know it), the
 * same walk by hand: one component at a time through the fd of the one
 * before, each opened O_NOFOLLOW (ELOOP on a link), ".." and absolute paths
 * refused (EXDEV).
 */
int fs_beneath_walk_only;

static int openat2_beneath(int dirfd, const char *path, struct open_how *how)
{
	char buf[4096], *p, *next;
	int cur = dirfd, fd = -1;

	if (!fs_beneath_walk_only &&
	    ((fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof *how)) >= 0 || errno != ENOSYS))
		return fd;
	if (path[0] == '/') {
		errno = EXDEV;
		return -1;
	}
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf;; p = next) {
		int last;
		next = p + strcspn(p, "/");
		if (*next == '/')
			*next++ = '\0';
		while (*next == '/')
			next++;
		last = *next == '\0';
		if (strcmp(p, "..") == 0) {
			errno = EXDEV;
			fd = -1;
		} else if (!last && (*p == '\0' || strcmp(p, ".") == 0)) {
			continue;
		} else {
			struct stat st;
			fd = openat(cur, *p ? p : ".", last ? (int)how->flags :
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, (mode_t)how->mode);
			/* A link on the way reads as ENOTDIR with O_DIRECTORY: say it is a link, as openat2 does. */
			if (fd < 0 && errno == ENOTDIR && !last &&
			    fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				errno = ELOOP;
		}
		if (cur != dirfd) {
			int e = errno;
			close(cur);
			errno = e;
		}
		if (fd < 0 || last)
			return fd;
		cur = fd;
	}
}

int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	struct open_how link = { .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC, .resolve = how.resolve };
	struct stat st;
	int fd, l;

	/* glibc 2.36 has no wrapper; Linux has had the call since 5.6. */
	if ((fd = openat2_beneath(dirfd, path, &how)) >= 0 ||
	    errno != ENOTDIR || !(flags & O_DIRECTORY))
		return fd;
	/* O_DIRECTORY with O_NOFOLLOW says ENOTDIR for a link at the end: say it is a link. */
	if ((l = openat2_beneath(dirfd, path, &link)) >= 0) {
		int is_link = fstat(l, &st) == 0 && S_ISLNK(st.st_mode);
		close(l);
		errno = is_link ? ELOOP : ENOTDIR;
	} else
		errno = ENOTDIR;
	return -1;
}

/*
 * mkdir -p beneath dirfd, one component at a time through the fd of the one
 * before it, so that mkdirat never resolves a link planted on the way. With
 * exact, each component made here gets exactly mode and group gid, whatever
 * the umask (made 0700 first, so it is never wider than meant meanwhile).
 */
static int mkdirs_beneath(int dirfd, const char *path, mode_t mode, gid_t gid, int exact)
{
	char buf[4096], *comp, *save = NULL;
	size_t len = strlen(path);
	int fd, next;

	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (len == 0)
		path = ".";
	if ((fd = fs_open_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0)) >= 0 || errno != ENOENT)
		return fd;
	memcpy(buf, path, len + 1);
	if ((fd = fs_open_beneath(dirfd, ".", O_RDONLY | O_DIRECTORY, 0)) < 0)
		return -1;
	for (comp = strtok_r(buf, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
		int made = mkdirat(fd, comp, exact ? 0700 : mode) == 0;
		if (!made && errno != EEXIST)
			goto fail;
		next = fs_open_beneath(fd, comp, O_RDONLY | O_DIRECTORY, 0);
		close(fd);
		if ((fd = next) < 0)
			return -1;
		if (made && exact && ((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0) ||
		    fchmod(fd, mode) < 0))
			goto fail;
	}
	return fd;
fail:
	{
		int e = errno;
		close(fd);
		errno = e;
	}
	return -1;
}

int fs_mkdirs_beneath(int dirfd, const char *path, mode_t mode)
{
	return mkdirs_beneath(dirfd, path, mode, (gid_t)-1, 0);
}

int fs_mkdirs_beneath_as(int dirfd, const char *path, mode_t mode, gid_t gid)
{
	return mkdirs_beneath(dirfd, path, mode, gid, 1);
}

/* fs_parent_beneath, the missing directories made by mkdirs_beneath (exact: with exactly mode and gid). */
static int parent_beneath(int dirfd, const char *path, mode_t mode, gid_t gid, int exact,
    char *base, size_t baselen)
{
	const char *slash = strrchr(path, '/');
	char parent[4096];
	size_t plen;

	if (slash == NULL) {
		if (snprintf(base, baselen, "%s", path) >= (int)baselen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return fs_open_beneath(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);
	}
	plen = (size_t)(slash - path);
	if (plen >= sizeof parent || snprintf(base, baselen, "%s", slash + 1) >= (int)baselen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, path, plen);
	parent[plen] = '\0';
	return mode ? mkdirs_beneath(dirfd, parent, mode, gid, exact) :
	    fs_open_beneath(dirfd, parent, O_RDONLY | O_DIRECTORY, 0);
}

int fs_parent_beneath(int dirfd, const char *path, mode_t mode, char *base, size_t baselen)
{
	return parent_beneath(dirfd, path, mode, (gid_t)-1, 0, base, baselen);
}

int fs_parent_beneath_as(int dirfd, const char *path, mode_t mode, gid_t gid, char *base,
    size_t baselen)
{
	return parent_beneath(dirfd, path, mode, gid, 1, base, baselen);
}

/* Empties the directory open as fd, and closes fd. */
static int empty_dirfd(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		int child;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if ((errno != EISDIR && errno != EPERM) || depth > 256) {
			rc = -1;
			continue;
		}
		/* A directory: O_NOFOLLOW, so a link swapped in meanwhile is not entered. */
		child = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0 || empty_dirfd(child, depth + 1) < 0 ||
		    (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT))
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* Removes base in the directory parent, and all below it. */
static int remove_at(int parent, const char *base)
{
	int fd, rc;

	if (unlinkat(parent, base, 0) == 0 || errno == ENOENT)
		return 0;
	if ((fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	rc = empty_dirfd(fd, 0);
	if (rc == 0 && unlinkat(parent, base, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

int fs_remove_tree_beneath(int dirfd, const char *path)
{
	char base[256];
	int parent = fs_parent_beneath(dirfd, path, 0, base, sizeof base), rc;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;
	rc = remove_at(parent, base);
	close(parent);
	return rc;
}

int fs_unlink_beneath(int dirfd, const char *path)
{
	char base[256];
	int parent = fs_parent_beneath(dirfd, path, 0, base, sizeof base), rc;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;
	rc = unlinkat(parent, base, 0) == 0 || errno == ENOENT ? 0 : -1;
	if (rc < 0) {
		int e = errno;
		close(parent);
		errno = e;
		return -1;
	}
	close(parent);
	return 0;
}

int fs_root_open(struct fs_root *r, const char *path)
{
	if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path) {
		r->fd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	r->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return r->fd < 0 ? -1 : 0;
}

int fs_root_refresh(struct fs_root *r)
{
	struct stat now, held;
	int fd;

	if (r->fd >= 0 && stat(r->path, &now) == 0 && fstat(r->fd, &held) == 0 &&
	    now.st_dev == held.st_dev && now.st_ino == held.st_ino)
		return 0;
	if ((fd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	return 0;
}

void fs_root_close(struct fs_root *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

void fs_beneath_error(const struct fs_root *r, const char *path, int errnum, char *out, size_t n)
{
	char prefix[4096], target[4096];
	struct stat st;
	size_t len = strlen(path);

	if (errnum != ELOOP && errnum != EXDEV) {
		snprintf(out, n, "%s/%s: %s", r->path, path, strerror(errnum));
		return;
	}
	/* Which component is the link: the first one that lstat says is one. */
	for (size_t i = 1; i <= len && i < sizeof prefix; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		if (fstatat(r->fd, prefix, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
			continue;
		ssize_t t = readlinkat(r->fd, prefix, target, sizeof target - 1);
		target[t > 0 ? t : 0] = '\0';
		if (i == len)
			snprintf(out, n, "%s/%s: a symbolic link (to %s) that could lead outside %s; "
			    "depot follows no link there: remove it", r->path, path, target, r->path);
		else
			snprintf(out, n, "%s/%s: %s/%s is a symbolic link (to %s) that could lead outside "
			    "%s; depot follows no link there: remove it", r->path, path, r->path, prefix,
			    target, r->path);
		return;
	}
	snprintf(out, n, "%s/%s: the path leads outside %s, and depot follows no link there",
	    r->path, path, r->path);
}

int fs_copy_at(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode, gid_t gid,
    int sync)
{
	char buf[65536];
	int in = openat(srcdir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = -1;
	struct stat st;
	ssize_t n;

	if (in < 0)
		return -1;
	if (fstat(in, &st) < 0 ||
	    (out = openat(dstdir, dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		goto done;
	if ((gid != (gid_t)-1 && fchown(out, (uid_t)-1, gid) < 0) ||
	    fchmod(out, mode == (mode_t)-1 ? st.st_mode & 07777 : mode) < 0)
		goto done;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto done;
	rc = n == 0 && (!sync || fsync(out) == 0) ? 0 : -1;
done:
	if (out >= 0 && close(out) != 0)
		rc = -1;
	close(in);
	return rc;
}
