/* archout.h: where a backup's archive goes as libarchive makes it: to its file, whose writeback starts as it grows, and through SHA-256, by a thread beside the compression, so the whole file's digest is known when it is closed. */
#ifndef DEPOT_ARCHOUT_H
#define DEPOT_ARCHOUT_H

struct archive;
struct archout;

/*
 * What the archive hands write(2) at a time (archive_write_set_bytes_per_block):
 * far fewer calls than tar's 10 KiB records, and small enough that a block
 * is still in the CPU's cache when the hashing thread reads its copy.
 */
#define ARCHOUT_BLOCK (128 * 1024)

/*
 * archive_write_open2 over fd: ARCHIVE_OK and *ao, or libarchive's status
 * and error on a (and *ao NULL). The archive owns *ao: it is valid until
 * archive_write_free, which frees it. Writes are made in the caller's
 * thread, so that a failed one fails the archive_write_* call that made it.
 */
int archout_open(struct archive *a, int fd, struct archout **ao);
/*
 * After archive_write_close returned ARCHIVE_OK: the SHA-256 of every byte
 * written to fd, as 64 hex digits and a NUL in hex (what a later archive
 * names its base by, without reading this one again). 0, or -1 when it is
 * not known (the archive was not closed).
 */
int archout_sha256(const struct archout *ao, char *hex);

#endif
