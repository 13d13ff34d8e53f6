/* nng-send.c: test tool; sends stdin's bytes as one raw REQ message to URL and prints the reply. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Sends len bytes of buf and prints the reply; 0, or 3 when no reply came.
 */
static int send_one(nng_socket s, const char *buf, size_t len)
{
	char *reply = NULL;
	size_t n;
	int rv;

	if ((rv = nng_send(s, (void *)buf, len, 0)) != 0)
		fprintf(stderr, "nng-send: %s\n", nng_strerror(rv));
	else if ((rv = nng_recv(s, &reply, &n, NNG_FLAG_ALLOC)) != 0)
		fprintf(stderr, "nng-send: no reply: %s\n", nng_strerror(rv));
	else {
		fwrite(reply, 1, n, stdout);
		putchar('\n');
		fflush(stdout);
		nng_free(reply, n);
	}
	return rv == 0 ? 0 : 3;
}

/*
 * depotctl only sends well-formed requests; the e2e tests use this to send
 * the daemon what a broken or hostile client would. Exit 0 with the reply
 * on stdout, 3 when no reply came within the timeout (default 3000 ms).
 * With --lines, each line of stdin is a message, sent in turn from this one
 * process and connection, as a rogue worker would (replies one a line).
 */
int main(int argc, char **argv)
{
	size_t cap = 1 << 16, len = 0, n;
	char *buf = malloc(cap);
	int lines = argc > 1 && strcmp(argv[1], "--lines") == 0, rv;
	int timeout;
	nng_socket s;

	argv += lines;
	argc -= lines;
	timeout = argc > 2 ? atoi(argv[2]) : 3000;
	if (argc < 2 || buf == NULL) {
		fprintf(stderr, "usage: nng-send [--lines] URL [TIMEOUT_MS] < MESSAGE\n");
		free(buf);
		return 2;
	}
	while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap && (buf = realloc(buf, cap *= 2)) == NULL)
			return 2;
	}
	if ((rv = nng_req0_open(&s)) != 0) {
		fprintf(stderr, "nng-send: %s\n", nng_strerror(rv));
		free(buf);
		return 3;
	}
	if ((rv = nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout)) != 0 ||
	    (rv = nng_dial(s, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "nng-send: %s\n", nng_strerror(rv));
		rv = 3;
	} else if (!lines)
		rv = send_one(s, buf, len);
	else {
		for (size_t at = 0, end; at < len && rv == 0; at = end + 1) {
			for (end = at; end < len && buf[end] != '\n'; end++)
				;
			if (end > at)
				rv = send_one(s, buf + at, end - at);
		}
	}
	/* Everything freed on every path: under LeakSanitizer a leak would change the exit code. */
	nng_close(s);
	free(buf);
	nng_fini();
	return rv;
}
