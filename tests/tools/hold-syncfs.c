/*
 * hold-syncfs.c: test shim, loaded into depotd with LD_PRELOAD. While the
 * file DEPOT_TEST_SYNCFS_GATE names exists, a syncfs waits for it to go
 * before it runs, having made GATE.held, so that a test can hold a sync's
 * files between their verification and the syncfs that lets them into
 * the store, and know when one is held there.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int syncfs(int fd)
{
	static int (*real)(int);
	const char *gate = getenv("DEPOT_TEST_SYNCFS_GATE");
	char held[4096];
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	if (gate != NULL && access(gate, F_OK) == 0) {
		int f;

		snprintf(held, sizeof held, "%s.held", gate);
		if ((f = open(held, O_WRONLY | O_CREAT, 0644)) >= 0)
			close(f);
		while (access(gate, F_OK) == 0)
			nanosleep(&tick, NULL);
	}
	return real(fd);
}
