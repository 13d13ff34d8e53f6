/* fuzz_backup.c: libFuzzer target for backup_read, the one check restore and verify share, fed whole archives; odd first bytes are extracted too. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backupfmt.h"

struct depotd;
struct depotd *D;

static int unlock_dir(const char *path, const struct stat *st, int type, struct FTW *ftw);
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw);
static int only_child(const char *dir, const char *name);
static void extract(const char *archive, const struct backup_limits *lim);

/* An archive may make a directory read-only; its owner can always open it again. */
static int unlock_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D && (st->st_mode & 0700) != 0700)
		chmod(path, 0700);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* 1 if dir holds name and nothing else. */
static int only_child(const char *dir, const char *name)
{
	char path[4200];
	struct dirent **names;
	struct stat st;
	int count, n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (lstat(path, &st) != 0)
		return 0;
	count = scandir(dir, &names, NULL, NULL);
	for (int i = 0; i < count; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
			n++;
		free(names[i]);
	}
	if (count >= 0)
		free(names);
	return n == 1;
}

/*
 * Extracts into sandbox/a/stage, then checks that nothing landed beside
 * stage or a: a member that escaped by a ".." or a link would be there.
 */
static void extract(const char *archive, const struct backup_limits *lim)
{
	const char *tmp = getenv("TMPDIR");
	char sandbox[4096], a[4200], stage[4300], err[1024];
	struct backup_summary sum;

	snprintf(sandbox, sizeof sandbox, "%s/fuzz_backup.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(sandbox) == NULL)
		return;
	snprintf(a, sizeof a, "%s/a", sandbox);
	snprintf(stage, sizeof stage, "%s/stage", a);
	if (mkdir(a, 0700) == 0 && mkdir(stage, 0700) == 0)
		backup_read(archive, stage, lim, &sum, err, sizeof err);
	if (!only_child(sandbox, "a") || !only_child(a, "stage")) {
		fprintf(stderr, "fuzz_backup: extraction wrote outside %s (kept in %s)\n", stage, sandbox);
		abort();
	}
	nftw(sandbox, unlock_dir, 16, FTW_PHYS);
	if (nftw(sandbox, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "fuzz_backup: cannot remove %s: %s\n", sandbox, strerror(errno));
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_backup", MFD_CLOEXEC);
	struct backup_limits lim;
	struct backup_summary sum;
	char path[64], err[1024];
	size_t off = 0;

	if (fd < 0)
		return 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	backup_limits_default(&lim);
	/* A few bytes of zstd can expand to millions of members: bounded, not slow. */
	lim.max_members = 1000;
	if (off == size) {
		if (size > 0 && (data[0] & 1))
			extract(path, &lim);
		else
			backup_read(path, NULL, &lim, &sum, err, sizeof err);
	}
	close(fd);
	return 0;
}
