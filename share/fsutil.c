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

static int failures;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		failures++;
	return 0;
}

int fs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	failures = 0;
	/* FTW_PHYS: a symlink in the tree is removed, never followed. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -1;
	return failures ? -1 : 0;
}

static int empty_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (ftw->level == 0)
		return 0;
	return remove_entry(path, st, type, ftw);
}

int fs_empty_dir(const char *dir)
{
	failures = 0;
	if (nftw(dir, empty_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return errno == ENOENT ? 0 : -1;
	return failures ? -1 : 0;
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

int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	/* glibc 2.36 has no wrapper; Linux has had the call since 5.6. */
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int fs_mkdirs_beneath(int dirfd, const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);
	int fd = -1;

	if (len == 0)
		path = ".";
	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = fs_open_beneath(dirfd, path, O_RDONLY | O_DIRECTORY, 0)) >= 0 || errno != ENOENT)
		return fd;
	memcpy(buf, path, len + 1);
	/* Each component through the one before it, so a link planted on the way is never followed. */
	for (char *p = buf;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (p > buf && mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
			return -1;
		if (p > buf && (fd = fs_open_beneath(dirfd, buf, O_RDONLY | O_DIRECTORY, 0)) < 0)
			return -1;
		if (c == '\0')
			return fd;
		close(fd);
		*p = c;
	}
}

int fs_parent_beneath(int dirfd, const char *path, mode_t mode, char *base, size_t baselen)
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
	return mode ? fs_mkdirs_beneath(dirfd, parent, mode) :
	    fs_open_beneath(dirfd, parent, O_RDONLY | O_DIRECTORY, 0);
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

int fs_remove_tree_beneath(int dirfd, const char *path)
{
	char base[256];
	int parent = fs_parent_beneath(dirfd, path, 0, base, sizeof base), fd, rc;

	if (parent < 0)
		return errno == ENOENT ? 0 : -1;
	if (unlinkat(parent, base, 0) == 0 || errno == ENOENT) {
		close(parent);
		return 0;
	}
	if ((fd = openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		close(parent);
		return -1;
	}
	rc = empty_dirfd(fd, 0);
	if (rc == 0 && unlinkat(parent, base, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	close(parent);
	return rc;
}
