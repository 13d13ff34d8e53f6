/* store-checkpoint.c: checkpoints depotd's write-ahead log from a thread of its own, so that no commit on the loop waits for one. */
#include "depotd.h"
#include "log.h"
#include "store-sql.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * SQLite's automatic checkpoint runs inside the commit that crosses
 * wal_autocheckpoint pages, on the committing thread: depotd's loop, which
 * then copies the log into the database and syncs both (130 ms measured
 * under a large sync's commit, tests/bench/stalls.sh). Here the loop's
 * connection only notes the log's size after each commit (sqlite3_wal_hook)
 * and this thread, on a connection of its own, checkpoints PASSIVE: it
 * never blocks the loop's writes or anyone's reads, and what it cannot
 * copy yet (a reader still on old pages) waits for its next turn.
 */
#define CHECKPOINT_PAGES 1000	/* SQLite's own wal_autocheckpoint default */

struct checkpointer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int due, stop;
	uint64_t done;		/* checkpoints run, for tests */
	sqlite3 *db;		/* this thread's connection */
};

static void *checkpoint_thread(void *arg)
{
	struct checkpointer *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->wake, &c->mu);
		if (c->stop)
			break;
		c->due = 0;
		pthread_mutex_unlock(&c->mu);
		if (sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL,
		    NULL) != SQLITE_OK)
			log_warn("database: checkpointing the write-ahead log: %s",
			    sqlite3_errmsg(c->db));
		pthread_mutex_lock(&c->mu);
		c->done++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* After each commit on the loop's connection: only a note and a wake-up. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *c = arg;

	(void)db;
	(void)name;
	if (pages >= CHECKPOINT_PAGES) {
		pthread_mutex_lock(&c->mu);
		c->due = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

struct checkpointer *checkpointer_start(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	struct checkpointer *c = calloc(1, sizeof *c);

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->wake, NULL);
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: a connection for checkpoints: %s", path,
		    c->db ? sqlite3_errmsg(c->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, 5000);
	if (pthread_create(&c->thread, NULL, checkpoint_thread, c) != 0) {
		snprintf(err, errlen, "starting the checkpoint thread: out of resources");
		goto fail;
	}
	/* From now on the loop's commits never checkpoint themselves. */
	sql_exec(db, "handing checkpoints to their thread", "PRAGMA wal_autocheckpoint = 0");
	sqlite3_wal_hook(db, on_commit, c);
	return c;
fail:
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return NULL;
}

void checkpointer_stop(struct checkpointer *c, sqlite3 *db)
{
	if (c == NULL)
		return;
	sqlite3_wal_hook(db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

uint64_t checkpointer_done(struct checkpointer *c)
{
	uint64_t n;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	n = c->done;
	pthread_mutex_unlock(&c->mu);
	return n;
}
