/* writeout.c: writing a large file so that the disk gets its bytes while the rest is still being made (sync_file_range), and the fsync or syncfs that makes it durable waits for little. */
#include "writeout.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

void writeout_init(struct writeout *w, int fd)
{
	w->fd = fd;
	w->written = w->started = 0;
}

int writeout_write(struct writeout *w, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		w->written += k;
	}
	if (w->written - w->started >= WRITEOUT_STEP)
		writeout_start(w);
	return 0;
}

void writeout_start(struct writeout *w)
{
	if (w->written == w->started)
		return;
	/*
	 * Only a hint: where the file system does not take it (EINVAL, ESPIPE
	 * on a pipe), the later fsync or syncfs does all the work, as before.
	 */
	(void)sync_file_range(w->fd, w->started, w->written - w->started, SYNC_FILE_RANGE_WRITE);
	w->started = w->written;
}
