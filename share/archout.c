/* archout.c: where a backup's archive goes as libarchive makes it: to its file, whose writeback starts as it grows, and through SHA-256, by a thread beside the compression, so the whole file's digest is known when it is closed. */
#include "archout.h"
#include "hashpipe.h"
#include "writeout.h"

#include <archive.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct archout {
	struct writeout out;
	EVP_MD_CTX *md;
	struct hashpipe *pipe;	/* hashes a copy of each block; NULL: hashed in line */
	int closed;
	char sha[65];
};

static void archout_stop(struct archout *ao)
{
	if (ao->pipe != NULL)
		hashpipe_finish(ao->pipe);	/* it only hashes: no write to fail */
	ao->pipe = NULL;
}

static la_ssize_t archout_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct archout *ao = ctx;

	/* libarchive reuses buf once this returns: the thread hashes a copy. */
	for (size_t at = 0; at < n;) {
		size_t k = n - at < HASHPIPE_CHUNK ? n - at : HASHPIPE_CHUNK;
		if (ao->pipe != NULL) {
			memcpy(hashpipe_buffer(ao->pipe), (const char *)buf + at, k);
			hashpipe_push(ao->pipe, k);
		} else
			EVP_DigestUpdate(ao->md, (const char *)buf + at, k);
		at += k;
	}
	if (writeout_write(&ao->out, buf, n) < 0) {
		archive_set_error(a, errno, "Write error");
		return -1;
	}
	return (la_ssize_t)n;
}

/* Called by archive_write_close once the last block is written. */
static int archout_close(struct archive *a, void *ctx)
{
	struct archout *ao = ctx;
	unsigned char digest[32];
	unsigned int dlen;

	(void)a;
	archout_stop(ao);
	EVP_DigestFinal_ex(ao->md, digest, &dlen);
	hashpipe_hex(digest, ao->sha);
	ao->closed = 1;
	writeout_start(&ao->out);
	return ARCHIVE_OK;
}

static int archout_free(struct archive *a, void *ctx)
{
	struct archout *ao = ctx;

	(void)a;
	archout_stop(ao);
	EVP_MD_CTX_free(ao->md);
	free(ao);
	return ARCHIVE_OK;
}

int archout_open(struct archive *a, int fd, struct archout **out)
{
	struct archout *ao = calloc(1, sizeof *ao);
	int rc;

	if (ao == NULL || (ao->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ao->md, EVP_sha256(), NULL) != 1) {
		if (ao != NULL)
			EVP_MD_CTX_free(ao->md);
		free(ao);
		archive_set_error(a, ENOMEM, "out of memory");
		return ARCHIVE_FATAL;
	}
	writeout_init(&ao->out, fd);
	/* Without a thread (none to be had), the blocks are hashed in line. */
	ao->pipe = hashpipe_start(NULL, ao->md);
	/* From here libarchive owns ao and frees it (archout_free), even when the open fails. */
	rc = archive_write_open2(a, ao, NULL, archout_write, archout_close, archout_free);
	*out = rc == ARCHIVE_OK ? ao : NULL;
	return rc;
}

int archout_sha256(const struct archout *ao, char *hex)
{
	if (!ao->closed)
		return -1;
	memcpy(hex, ao->sha, sizeof ao->sha);
	return 0;
}
