/* backupdir.h: a directory of backup archives — each known from its first member alone, the chains they form, and whether each was verified since it last changed — as backup list shows it and the pruning of old chains (daemon/backupprune.c) decides from it. */
#ifndef DEPOT_BACKUPDIR_H
#define DEPOT_BACKUPDIR_H
#include "backuphdr.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What `backup verify` found, kept beside the archive as ".NAME.verified"
 * (hidden, mode 0600): {"ok", "authenticated", "verified_at", "error",
 * "size", "mtime_ns", "dev", "ino"}. It counts only while the archive is
 * the same file with the same size and modification time; a sidecar that
 * no longer matches reads as never verified.
 */
#define BACKUP_VERIFIED_PREFIX "."
#define BACKUP_VERIFIED_SUFFIX ".verified"

enum backup_verified { BACKUP_NOT_VERIFIED, BACKUP_VERIFIED_OK, BACKUP_VERIFIED_FAILED };

/* A regular file of the directory that is, or is named like, an archive. */
struct backup_entry {
	char name[256];
	dev_t dev;
	ino_t ino;
	int64_t size;
	int64_t mtime_ms;
	int format;			/* 2: it starts with BACKUP.json; 1: a tar without; 0: unreadable */
	char error[256];		/* format 0: why */
	struct backup_header hdr;	/* format 2, without its holds */
	int64_t created_ms;		/* the header's created_at; else the file's mtime */
	int created_known;		/* 1: from the header */
	long base;			/* format 2 incremental: its base's index here, or -1 when gone */
	size_t chain;			/* format 2: its chain's index */
	enum backup_verified verified;
	int64_t verified_ms;
	int authenticated;		/* as that verify found */
	char verify_error[256];
};

/*
 * A full and the incrementals that name it, transitively. An incremental
 * whose base is not here (or is here with another size: then not its base)
 * belongs to the chain of that missing base, one chain for each missing
 * sha256; base names that loop make a chain of their own.
 */
struct backup_chain {
	char root[256];			/* the full's file name, or the missing base's */
	int root_present;
	int64_t newest_ms;		/* its newest archive's creation time */
	size_t members;
};

struct backup_scan {
	struct backup_entry *e;		/* by creation time, then name */
	size_t n;
	struct backup_chain *c;
	size_t nchains;
};

/*
 * Reads the directory open as dirfd (dir names it in err): every regular
 * file (links are never followed, hidden and .part files skipped) whose
 * first member says what it is, and files named *.tar* that cannot be read
 * (format 0). 0, or -1 with err.
 */
int backup_scan_at(int dirfd, const char *dir, struct backup_scan *s, char *err,
    size_t errlen);
/* The same on the directory named dir. */
int backup_scan_dir(const char *dir, struct backup_scan *s, char *err, size_t errlen);
void backup_scan_free(struct backup_scan *s);

/*
 * Records beside file what verifying it found, for the file as it is now.
 * Best effort, for a directory this user may write: 0, or -1 with errno.
 */
int backup_verified_record(const char *file, int ok, int authenticated, const char *error);

#endif
