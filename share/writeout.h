/* writeout.h: writing a large file so that the disk gets its bytes while the rest is still being made (sync_file_range), the fsync or syncfs that makes it durable waits for little, and its pages leave the page cache once on the disk. */
#ifndef DEPOT_WRITEOUT_H
#define DEPOT_WRITEOUT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writeback is started every this many bytes written. */
#define WRITEOUT_STEP (8 * 1024 * 1024)

struct writeout {
	int fd;
	int64_t written;	/* bytes written through this since writeout_init */
	int64_t started;	/* of those, the ones whose writeback was started */
	int64_t before;		/* where the step before the last one started */
	int64_t dropped;	/* the bytes before this were advised out of the page cache */
};

void writeout_init(struct writeout *w, int fd);
/* Writes all n bytes (a short write or EINTR is retried): 0, or -1 with errno. */
int writeout_write(struct writeout *w, const void *buf, size_t n);
/*
 * Starts the writeback of what was written and not yet started: the call
 * returns before the disk is done, but waits when the disk is behind, so a
 * writer cannot run far ahead of it. What earlier steps wrote leaves the
 * page cache as it reaches the disk (POSIX_FADV_DONTNEED): the file's last
 * WRITEOUT_STEP or two stay cached.
 */
void writeout_start(struct writeout *w);

#endif
