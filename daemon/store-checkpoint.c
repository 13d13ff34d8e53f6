/* store-checkpoint.c: checkpoints depotd's write-ahead log from a thread of its own, so that no commit on the loop waits for one. */
#include "depotd.h"
#include "log.h"
#include "store-sql.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/*
 * SQLite's automatic checkpoint runs inside the commit that crosses
 * wal_autocheckpoint pages, on the committing thread: depotd's loop, which
 * then copies the log into the database and syncs both (130 ms measured
 * under a large sync's commit, 50-100 ms a slice of a version's record:
 * tests/bench/stalls.sh). Here the loop's connection only notes the log's
 * size after each commit (sqlite3_wal_hook) and this thread, on a
 * connection of its own, checkpoints PASSIVE: it never blocks the loop's
 * writes or anyone's reads, and what it cannot copy yet (a reader still on
 * old pages, a backup's copy) waits for its next turn, 10 ms later.
 *
 * A commit wakes it once the log holds CHECKPOINT_PAGES, and again each
 * time the log has grown by as much since (checkpoint_due), not at every
 * commit past the mark as SQLite's own would: under a steady stream of
 * commits (tasks ending and starting) a PASSIVE checkpoint never quite
 * catches the writer, so the log does not restart, and one at every commit was
 * ~130 a second, each syncing the log and the database and copying pages
 * the next commits write again (issue 14). That costs no durability: with
 * synchronous NORMAL a commit is the log's write alone, which a killed
 * daemon keeps ([daemon] durability = full syncs each commit).
 */
#define CHECKPOINT_PAGES 1000	/* SQLite's own wal_autocheckpoint default */
/*
 * Past CHECKPOINT_RESTART_PAGES a checkpoint that caught up with what it
 * saw goes on in RESTART mode, which makes the next commit write the log
 * from its start again. A PASSIVE one alone never gets there while tasks
 * end and start: the loop commits while it copies, so the log kept growing
 * (250 MB after 10,000 tasks, measured), and each commit wrote pages the
 * file system had to allocate anew. RESTART takes the write lock for the
 * few pages the passive pass left and the two syncs, and with no wait at
 * all (busy timeout 0): a commit in progress, or a reader on old pages
 * such as a backup's copy, makes it give up until the next turn rather
 * than hold the loop's writes back. A commit that comes meanwhile waits
 * for the lock: 9-15 ms a turn under 10,000 tasks (once 94 ms), once per
 * 32 MiB of log, a stall the loop takes for a log that stays that size.
 */
/* A writer that commits slice after slice (recorder.c) waits while this much is not yet copied: 32 MiB. */
#define BEHIND_PAGES 8192

struct checkpointer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int due, stop;
	uint64_t done;		/* checkpoints run, for tests */
	int log_pages;		/* in the log after the loop's last commit (loop's thread only) */
	int woke_at;		/* log_pages when a commit last woke the thread (loop's thread only) */
	int copied_pages;	/* how far the last complete checkpoint saw it (atomic) */
	sqlite3 *db;		/* this thread's connection */
};

static void *checkpoint_thread(void *arg)
{
	struct checkpointer *c = arg;
	int log = 0, copied = 0;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct timespec at;

		/* One that could not copy everything tries again soon; else it waits for a commit. */
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += 10 * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		while (!c->due && !c->stop) {
			if (copied < log) {
				if (pthread_cond_timedwait(&c->wake, &c->mu, &at) != 0)
					break;
			} else
				pthread_cond_wait(&c->wake, &c->mu);
		}
		if (c->stop)
			break;
		c->due = 0;
		pthread_mutex_unlock(&c->mu);
		if (sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log,
		    &copied) == SQLITE_OK) {
			if (log >= 0 && copied == log)
				__atomic_store_n(&c->copied_pages, log, __ATOMIC_RELEASE);
			if (log >= CHECKPOINT_RESTART_PAGES && copied == log &&
			    sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_RESTART,
			    &log, &copied) == SQLITE_OK)
				__atomic_store_n(&c->copied_pages, log, __ATOMIC_RELEASE);
		} else {
			/* SQLITE_BUSY: a reader holds old pages; the next turn goes on. */
			log = 1;
			copied = 0;
		}
		pthread_mutex_lock(&c->mu);
		c->done++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int checkpoint_due(int pages, int *last_pages, int *woke_at)
{
	/*
	 * The log restarted (it holds fewer pages than after the commit
	 * before): due again once it has grown past CHECKPOINT_PAGES.
	 */
	if (pages < *last_pages)
		*woke_at = 0;
	*last_pages = pages;
	if (pages < CHECKPOINT_PAGES || pages - *woke_at < CHECKPOINT_PAGES)
		return 0;
	*woke_at = pages;
	return 1;
}

static void wake(struct checkpointer *c)
{
	pthread_mutex_lock(&c->mu);
	c->due = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->mu);
}

/* After each commit on the loop's connection: only a note and, now and then, a wake-up. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *c = arg;

	(void)db;
	(void)name;
	if (checkpoint_due(pages, &c->log_pages, &c->woke_at))
		wake(c);
	return SQLITE_OK;
}

/*
 * The log restarts only once a checkpoint has caught up with it: a writer
 * that outruns the thread would grow it without end, so it waits a turn
 * while more than BEHIND_PAGES are not yet copied.
 */
int checkpointer_behind(struct checkpointer *c)
{
	if (c == NULL || c->log_pages <= BEHIND_PAGES ||
	    __atomic_load_n(&c->copied_pages, __ATOMIC_ACQUIRE) >= c->log_pages)
		return 0;
	/* The writer that asks waits for the copy: no commit of its may come to wake the thread. */
	wake(c);
	return 1;
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
	/* A connection that never read the database has not opened its log: its checkpoints would do nothing. */
	if (sql_exec(c->db, "opening the log for checkpoints", "SELECT count(*) FROM sqlite_master") < 0) {
		snprintf(err, errlen, "%s: reading from the connection for checkpoints: %s", path,
		    sqlite3_errmsg(c->db));
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, checkpoint_thread, c) != 0) {
		snprintf(err, errlen, "starting the checkpoint thread: out of resources");
		goto fail;
	}
	/* The RESTART turn must never wait: see CHECKPOINT_RESTART_PAGES. PASSIVE ones never call it. */
	sqlite3_busy_timeout(c->db, 0);
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
