/* content.h: the content store DIR/content/sha256/ab/<sha256> (DESIGN §3): where a file lives and how it gets in. */
#ifndef DEPOT_CONTENT_H
#define DEPOT_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "fsutil.h"

/* 1 if s is 64 lowercase hex digits (how the store names files), else 0. */
int content_valid_sha256(const char *s);

/*
 * content/sha256/ab/<sha256>, relative to the data directory, into out,
 * where ab are the digest's first two digits (a fan-out, so no directory
 * holds more than 1/256 of the store). Returns 0, or -1 if the digest is not
 * 64 lowercase hex digits or the path does not fit in n bytes.
 */
int content_path(const char *sha256, char *out, size_t n);

/*
 * The digest a store path names: path is content/sha256/ab/<sha256> as
 * content_path makes it, relative to the data directory; its last
 * component, or NULL for any other path.
 */
const char *content_named_sha256(const char *path);

/*
 * 1 if the store in data holds sha256 as a regular file of exactly size
 * bytes, else 0. Like every call here it resolves nothing through a link
 * (the *_beneath calls of fsutil.h).
 */
int content_has(const struct fs_root *data, const char *sha256, int64_t size);

/* The fan-out directories a run of commits has open, by the digest's first byte; -1: not yet. */
struct content_fans {
	int fd[256];
};

void content_fans_init(struct content_fans *f);
void content_fans_close(struct content_fans *f);

/*
 * Moves the complete, verified file tmp (relative to data, for messages;
 * named by its last component in the directory open as tmpdir) into the
 * store under sha256, atomically: readers see the whole file or none. The
 * caller has made it a regular file of size bytes and mode 0644 (publish
 * hard-links it where a web server reads it). Each fan-out directory is
 * made and opened once through fans. It moves in with one
 * rename(RENAME_NOREPLACE), which like a link never replaces: a file
 * already stored under that digest with the same size is kept and tmp
 * removed; one with another size (damaged) is replaced. Its bytes and name
 * are durable once content_sync_store has run; a sync runs that before it
 * commits (so the store never names bytes a crash could lose) and after
 * (before its version is recorded). Returns 0 (tmp no longer exists), or
 * -1 with a message naming the path in err (tmp is left for the caller to
 * remove).
 */
int content_commit_at(const struct fs_root *data, struct content_fans *fans, int tmpdir,
    const char *tmp, const char *sha256, int64_t size, char *err, size_t errlen);

/*
 * Whether unnamed temps can be had in the directory open as tmpdir: one is
 * made and linked (content_commit_fd's way), and unlinked again. 0, or -1
 * with errno (EOPNOTSUPP, EISDIR, …) where the file system or kernel has
 * none, or where the link fails: the caller then names its temps. Not
 * for two threads at once (the probe has one name a process).
 */
int content_unnamed_check(int tmpdir);

/*
 * An unnamed temp: a file opened O_TMPFILE in the directory open as
 * tmpdir, which no one can see or must remove, and which vanishes with its
 * last fd (a killed worker's too). -1 with errno.
 */
int content_unnamed_temp(int tmpdir);

/*
 * content_commit_at for an unnamed temp open as fd (content_unnamed_temp's,
 * written, verified, 0644): linked into the store under sha256, never
 * replacing, as content_commit_at moves. Only for one with another size
 * under that name (damaged) is it linked into tmpdir as tmp first (a
 * directory on the store's file system: a sync gives content/), to
 * replace that one by content_commit_at. The caller still closes fd.
 */
int content_commit_fd(const struct fs_root *data, struct content_fans *fans, int fd, int tmpdir,
    const char *tmp, const char *sha256, int64_t size, char *err, size_t errlen);

/*
 * The store's directory, for content_sync_store: opened once, before the
 * first byte it is to make durable is written. A write-back error is told
 * once to each open file, and only to one opened before it happened: a new
 * open for each syncfs would miss the error a failed syncfs of ours, or
 * another process's, already took, and the next syncfs would say all is
 * well over lost blocks. -1 with err.
 */
int content_store_open(const struct fs_root *data, char *err, size_t errlen);

/* Flushes the store (the whole file system, tmp/ with it) to disk: content_commit_at leaves durability to this. */
int content_sync_store(const struct fs_root *data, int storefd, char *err, size_t errlen);

#endif
