/* hashpipe.c: the SHA-256 of a member's bytes, and their writing to a file, done by threads beside the caller, who meanwhile reads, compresses or decompresses the next bytes (backup, restore, and a sync's downloads). */
#include "hashpipe.h"
#include "writeout.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * A few small buffers: the caller fills one while the threads work through
 * the others. Small, so that a chunk is still in the CPU's cache when the
 * threads read it after the caller wrote it (1 MiB buffers made a restore
 * slower than none).
 */
#define HASHPIPE_BUFS 6

enum { HASHER, WRITER, NWORKERS };

/*
 * The buffers are a ring used in order, counted from the start: chunk k is
 * buffer k % HASHPIPE_BUFS. The caller has pushed `pushed` chunks; each
 * worker has finished done[w] of them. The caller's next buffer is free
 * once every worker is done with the chunk that last used it.
 */
struct hashpipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[HASHPIPE_BUFS];
	size_t len[HASHPIPE_BUFS];
	uint64_t pushed, done[NWORKERS];
	int closing;		/* the caller has handed over everything */
	struct worker {
		struct hashpipe *p;
		int id;
		int running;
		pthread_t thread;
	} w[NWORKERS];
	EVP_MD_CTX *md;		/* NULL: not hashing */
	struct writeout *out;	/* NULL: not writing */
	int joined;		/* the writer hashes each chunk before it writes it; no hasher thread */
	int err;		/* errno of the first failed write; later chunks are not written */
};

/* 0, or errno of a failed write; only the writer sets p->err (under the lock: hashpipe_error reads it). */
static int work(struct hashpipe *p, int id, const unsigned char *buf, size_t n)
{
	if (id == HASHER || (p->joined && p->md != NULL))
		EVP_DigestUpdate(p->md, buf, n);
	if (id == WRITER && p->err == 0 && writeout_write(p->out, buf, n) < 0)
		return errno;
	return 0;
}

static void *hashpipe_main(void *arg)
{
	struct worker *w = arg;
	struct hashpipe *p = w->p;
	int err;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		uint64_t k = p->done[w->id];
		if (k == p->pushed) {
			if (p->closing)
				break;
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		err = work(p, w->id, p->buf[k % HASHPIPE_BUFS], p->len[k % HASHPIPE_BUFS]);
		pthread_mutex_lock(&p->mu);
		if (err != 0)
			p->err = err;
		p->done[w->id]++;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stops the threads once they have done what they were handed. */
static void hashpipe_stop(struct hashpipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < NWORKERS; i++)
		if (p->w[i].running)
			pthread_join(p->w[i].thread, NULL);
	for (int i = 0; i < NWORKERS; i++)
		p->w[i].running = 0;
}

static void hashpipe_free(struct hashpipe *p)
{
	hashpipe_stop(p);
	for (int i = 0; i < HASHPIPE_BUFS; i++)
		free(p->buf[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static struct hashpipe *start(struct writeout *out, EVP_MD_CTX *md, int joined)
{
	struct hashpipe *p = calloc(1, sizeof *p);
	int e = ENOMEM;

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->out = out;
	p->md = md;
	p->joined = joined && out != NULL;
	for (int i = 0; i < HASHPIPE_BUFS; i++)
		if ((p->buf[i] = malloc(HASHPIPE_CHUNK)) == NULL)
			goto fail;
	for (int i = 0; i < NWORKERS; i++) {
		struct worker *w = &p->w[i];
		int run = i == HASHER ? md != NULL && !p->joined : out != NULL;

		w->p = p;
		w->id = i;
		if (run && (e = pthread_create(&w->thread, NULL, hashpipe_main, w)) != 0)
			goto fail;
		w->running = run;
	}
	return p;
fail:
	hashpipe_free(p);
	errno = e;
	return NULL;
}

struct hashpipe *hashpipe_start(struct writeout *out, EVP_MD_CTX *md)
{
	return start(out, md, 0);
}

struct hashpipe *hashpipe_start_joined(struct writeout *out, EVP_MD_CTX *md)
{
	return start(out, md, 1);
}

/* How many chunks every running worker is done with. */
static uint64_t slowest(const struct hashpipe *p)
{
	uint64_t k = p->pushed;

	for (int i = 0; i < NWORKERS; i++)
		if (p->w[i].running && p->done[i] < k)
			k = p->done[i];
	return k;
}

unsigned char *hashpipe_buffer(struct hashpipe *p)
{
	unsigned char *buf;

	pthread_mutex_lock(&p->mu);
	while (p->pushed - slowest(p) == HASHPIPE_BUFS)
		pthread_cond_wait(&p->cv, &p->mu);
	buf = p->buf[p->pushed % HASHPIPE_BUFS];
	pthread_mutex_unlock(&p->mu);
	return buf;
}

void hashpipe_push(struct hashpipe *p, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->len[p->pushed % HASHPIPE_BUFS] = n;
	p->pushed++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int hashpipe_error(struct hashpipe *p)
{
	int err;

	pthread_mutex_lock(&p->mu);
	err = p->err;
	pthread_mutex_unlock(&p->mu);
	return err;
}

int hashpipe_finish(struct hashpipe *p)
{
	int err;

	hashpipe_stop(p);
	err = p->err;
	hashpipe_free(p);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void hashpipe_hex(const unsigned char *digest, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}
