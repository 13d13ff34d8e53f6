/*
 * hang-nng-close.c: test shim, loaded into depotd with LD_PRELOAD. Its
 * nng_close never returns, as nng 1.5's sometimes does
 * (nanomsg/nng#1813), so a test can show that SIGTERM still ends depotd
 * within its bound instead of waiting for a one-in-300 race.
 */
#include <nng/nng.h>
#include <unistd.h>

int nng_close(nng_socket s)
{
	(void)s;
	for (;;)
		pause();
}
