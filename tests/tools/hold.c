/*
 * hold.c: test shim, loaded into depotd with LD_PRELOAD, that holds a
 * call at a gate. While the file DEPOT_TEST_SYNCFS_GATE names exists, a
 * syncfs waits for it to go before it runs; while DEPOT_TEST_NFTW_GATE's
 * exists, so does a walk of a directory named "content" (the count of the
 * content store's bytes); while DEPOT_TEST_DBCHECK_GATE's exists, so does
 * a read-only open of a file named depot.db (status's database check).
 * Each held call first makes GATE.held, so that a test knows when one is
 * waiting: a sync's files held between their verification and the syncfs
 * that lets them into the store, a count or a check held to show that
 * nothing else waits for it. While the file DEPOT_TEST_SYNCFS_FAIL names
 * exists, the next syncfs removes it and fails with EIO, as a disk's
 * write-back error is told once. With DEPOT_TEST_NO_TMPFILE set, an openat of
 * O_TMPFILE fails with EOPNOTSUPP, as on a file system without unnamed
 * temps. While DEPOT_TEST_TMPFILE_GATE's exists, an openat of O_TMPFILE by
 * any thread but the process's first waits: a sync's writer threads, as
 * behind as a slow disk's, while its probe on the main thread goes on.
 * While DEPOT_TEST_LINK_GATE's exists, a linkat that has just made a name
 * beginning with "dl-" waits: a sync's download named in content/ for the
 * moment it replaces a damaged stored file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Waits while the file the environment variable var names exists. */
static void gate_wait(const char *var)
{
	const char *gate = getenv(var);
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char held[4096];
	int f;

	if (gate == NULL || access(gate, F_OK) != 0)
		return;
	snprintf(held, sizeof held, "%s.held", gate);
	if ((f = open(held, O_WRONLY | O_CREAT, 0644)) >= 0)
		close(f);
	while (access(gate, F_OK) == 0)
		nanosleep(&tick, NULL);
}

int syncfs(int fd)
{
	static int (*real)(int);

	const char *fail = getenv("DEPOT_TEST_SYNCFS_FAIL");

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	gate_wait("DEPOT_TEST_SYNCFS_GATE");
	/* unlink decides which one call fails, whichever process or thread makes it. */
	if (fail != NULL && unlink(fail) == 0) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

typedef int (*nftw_fn)(const char *, const struct stat *, int, struct FTW *);

int nftw(const char *dir, nftw_fn fn, int fds, int flags)
{
	static int (*real)(const char *, nftw_fn, int, int);
	size_t len = strlen(dir);

	if (real == NULL)
		real = (int (*)(const char *, nftw_fn, int, int))dlsym(RTLD_NEXT, "nftw");
	if (len >= 8 && strcmp(dir + len - 8, "/content") == 0)
		gate_wait("DEPOT_TEST_NFTW_GATE");
	return real(dir, fn, fds, flags);
}

/* SQLite's, declared here so that the shim needs no sqlite3.h: SQLITE_OPEN_READONLY is 1. */
int sqlite3_open_v2(const char *path, void **db, int flags, const char *vfs)
{
	static int (*real)(const char *, void **, int, const char *);
	size_t len = strlen(path);

	if (real == NULL)
		real = (int (*)(const char *, void **, int, const char *))dlsym(RTLD_NEXT,
		    "sqlite3_open_v2");
	if ((flags & 1) != 0 && len >= 9 && strcmp(path + len - 9, "/depot.db") == 0)
		gate_wait("DEPOT_TEST_DBCHECK_GATE");
	return real(path, db, flags, vfs);
}

/* openat; openat64, which depotd's calls may name instead, is the same function in glibc. */
int openat(int dirfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	mode_t mode = 0;
	va_list ap;

	if (real == NULL)
		real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	va_start(ap, flags);
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		mode = (mode_t)va_arg(ap, int);
	va_end(ap);
	if ((flags & O_TMPFILE) == O_TMPFILE && getenv("DEPOT_TEST_NO_TMPFILE") != NULL) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if ((flags & O_TMPFILE) == O_TMPFILE && syscall(SYS_gettid) != getpid())
		gate_wait("DEPOT_TEST_TMPFILE_GATE");
	return real(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	static int (*real)(int, const char *, int, const char *, int);
	const char *base = strrchr(newpath, '/') ? strrchr(newpath, '/') + 1 : newpath;
	int rc;

	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
	rc = real(olddirfd, oldpath, newdirfd, newpath, flags);
	if (rc == 0 && strncmp(base, "dl-", 3) == 0)
		gate_wait("DEPOT_TEST_LINK_GATE");
	return rc;
}
