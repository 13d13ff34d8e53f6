/* recorder.c: records a finished sync's version a slice per loop turn (DESIGN §8), so that the main loop never stalls on 100,000 rows. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A record goes through its phases in order, each a slice of at most
 * [limits] record_slice_rows rows a turn: LOAD reads the worker's list
 * into the gathering, KEEP adds the latest version's other files (mirror
 * false), DIGEST hashes the gathering by path — and when the digest is
 * the latest version's, the record ends there with no new version and
 * nothing written — then COPY inserts the version incomplete and its
 * files slice by slice, and its last slice's transaction completes it.
 * The task stays running, its reservations held, until then.
 */
enum phase { PHASE_LOAD, PHASE_KEEP, PHASE_DIGEST, PHASE_COPY };

struct record {
	struct record *next;
	int64_t task;
	char *repo;
	int mirror;
	enum phase phase;
	FILE *list;
	char *line;
	size_t cap;
	char *cursor;			/* the last path done in KEEP, DIGEST or COPY */
	EVP_MD_CTX *md;
	int64_t latest, done;
	char latest_digest[80], digest[80];
	struct version_row v;
	cJSON *result;
	int started;			/* its version's row is in, incomplete */
	char err[512];
};

static struct record *head, **tail = &head;
static int64_t next_slice_mono;

static void record_free(struct record *r);
static int list_next(struct version_file *vf, void *arg);
static void digest_put(const struct version_file *vf, void *arg);
static int slice(struct record *r);
static int slice_load(struct record *r);
static int slice_digest(struct record *r);
static int slice_copy(struct record *r);
static void record_end(struct record *r, int rc);

static void record_free(struct record *r)
{
	if (r->list != NULL)
		fclose(r->list);
	free(r->line);
	free(r->cursor);
	free(r->repo);
	EVP_MD_CTX_free(r->md);
	cJSON_Delete(r->result);
	free(r);
}

int recorder_start(struct task *t, cJSON *result, char *err, size_t errlen)
{
	const char *repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->d->args, "repository"));
	struct record *r = calloc(1, sizeof *r);
	cJSON *imp = repo_importer(repo);
	char path[128], why[1024];

	if (r == NULL || (r->repo = strdup(repo)) == NULL || (r->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) {
		snprintf(err, errlen, "recording the version: out of memory");
		goto fail;
	}
	r->mirror = imp == NULL || !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(imp, "mirror"));
	repos_list_path(t, path, sizeof path);
	if ((r->list = repos_list_open(path, 0, why, sizeof why)) == NULL) {
		snprintf(err, errlen, "reading the sync's file list %s", why);
		goto fail;
	}
	r->task = t->id;
	r->v.task = t->id;
	r->result = result;
	cJSON_Delete(imp);
	*tail = r;
	tail = &r->next;
	t->d->recording = 1;
	return 0;
fail:
	cJSON_Delete(imp);
	if (r != NULL) {
		r->result = NULL;	/* still the caller's */
		record_free(r);
	}
	return -1;
}

/* The worker's list, a line at a time: "sha256,size,path". */
static int list_next(struct version_file *vf, void *arg)
{
	struct record *r = arg;
	ssize_t len = getline(&r->line, &r->cap, r->list);
	char *c1, *c2;

	if (len <= 0)
		return 0;
	if (r->line[len - 1] == '\n')
		r->line[--len] = '\0';
	if ((c1 = strchr(r->line, ',')) == NULL || (c2 = strchr(c1 + 1, ',')) == NULL ||
	    c1 - r->line != 64) {
		snprintf(r->err, sizeof r->err, "the sync's file list has a bad line: %.80s",
		    r->line);
		return -1;
	}
	vf->sha256 = r->line;
	vf->size = strtoll(c1 + 1, NULL, 10);
	vf->path = c2 + 1;
	return 1;
}

/* A version's identity: sha256 over its sorted (path, sha256) pairs. */
static void digest_put(const struct version_file *vf, void *arg)
{
	struct record *r = arg;

	EVP_DigestUpdate(r->md, vf->path, strlen(vf->path) + 1);
	EVP_DigestUpdate(r->md, vf->sha256, 64);
	r->v.files++;
	r->v.size += vf->size;
}

/* LOAD, then KEEP: the gathering, which with mirror false holds more than the feed lists. */
static int slice_load(struct record *r)
{
	int64_t max = D->cfg.record_slice_rows;
	int more;

	if (r->phase == PHASE_LOAD) {
		if (r->done == 0 && (store_newversion_begin(D->store) < 0 ||
		    (r->latest = store_repo_latest(D->store, r->repo, r->latest_digest,
		    sizeof r->latest_digest)) < 0))
			return -1;
		if ((more = store_newversion_fill(D->store, list_next, r, max)) < 0)
			return -1;
		r->done += max;
		if (more)
			return 1;
		r->phase = r->mirror || r->latest == 0 ? PHASE_DIGEST : PHASE_KEEP;
		return 1;
	}
	if ((more = store_newversion_keep(D->store, r->repo, r->latest, &r->cursor, max)) < 0)
		return -1;
	if (!more) {
		free(r->cursor);
		r->cursor = NULL;
		r->phase = PHASE_DIGEST;
	}
	return 1;
}

static int slice_digest(struct record *r)
{
	unsigned char out[32];
	unsigned int n;
	int more;

	if ((more = store_newversion_files(D->store, &r->cursor, D->cfg.record_slice_rows,
	    digest_put, r)) < 0)
		return -1;
	if (more)
		return 1;
	free(r->cursor);
	r->cursor = NULL;
	EVP_DigestFinal_ex(r->md, out, &n);
	for (unsigned int i = 0; i < n; i++)
		snprintf(r->digest + 2 * i, 3, "%02x", out[i]);
	/* What the version holds, which with mirror false is more than the feed lists. */
	cJSON_DeleteItemFromObjectCaseSensitive(r->result, "files");
	cJSON_DeleteItemFromObjectCaseSensitive(r->result, "bytes");
	cJSON_AddNumberToObject(r->result, "files", (double)r->v.files);
	cJSON_AddNumberToObject(r->result, "bytes", (double)r->v.size);
	if (r->latest > 0 && strcmp(r->digest, r->latest_digest) == 0) {
		/* Nothing changed: no new version (DESIGN §8), and nothing was written. */
		cJSON_AddNumberToObject(r->result, "version", (double)r->latest);
		cJSON_AddBoolToObject(r->result, "new_version", 0);
		return 0;
	}
	r->v.number = r->latest + 1;
	r->v.created_at = time_now_ms();
	if (store_newversion_start(D->store, &r->v, r->repo, r->digest) < 0)
		return -1;
	r->started = 1;
	r->done = 0;
	r->phase = PHASE_COPY;
	return 1;
}

/* One slice of the version's files, in a transaction that, with the last, completes it. */
static int slice_copy(struct record *r)
{
	int64_t max = D->cfg.record_slice_rows, prev;
	int more;

	if (store_begin(D->store) < 0)
		return -1;
	if ((more = store_newversion_copy(D->store, r->repo, r->v.number, &r->cursor, max)) < 0 ||
	    (!more && store_newversion_complete(D->store, r->repo, r->v.number) < 0) ||
	    store_commit(D->store) < 0) {
		store_rollback(D->store);
		return -1;
	}
	prev = r->done;
	r->done = more ? r->done + max : r->v.files;
	if (r->done != prev)
		log_info("repository %s: version %lld: %lld of %lld files recorded", r->repo,
	    (long long)r->v.number, (long long)r->done, (long long)r->v.files);
	if (more)
		return 1;
	r->started = 0;
	cJSON_AddNumberToObject(r->result, "version", (double)r->v.number);
	cJSON_AddBoolToObject(r->result, "new_version", 1);
	return 0;
}

/* 1: more to do; 0: recorded; -1: failed, r->err or the store's message says why. */
static int slice(struct record *r)
{
	switch (r->phase) {
	case PHASE_LOAD:
	case PHASE_KEEP:
		return slice_load(r);
	case PHASE_DIGEST:
		return slice_digest(r);
	case PHASE_COPY:
		return slice_copy(r);
	}
	return -1;
}

/* Out of the queue: the gathering emptied, a version left incomplete removed, the task ended. */
static void record_end(struct record *r, int rc)
{
	struct task *t = task_find(r->task);
	char msg[640];

	head = r->next;
	if (head == NULL)
		tail = &head;
	if (rc < 0) {
		if (r->err[0] == '\0')
			snprintf(r->err, sizeof r->err, "%s", store_errmsg(D->store));
		snprintf(msg, sizeof msg, "recording the version: %s", r->err);
	}
	if (r->started && store_newversion_discard(D->store, r->repo, r->v.number) < 0)
		log_error("repository %s: removing incomplete version %lld: %s (the next start "
		    "removes it)", r->repo, (long long)r->v.number, store_errmsg(D->store));
	if (store_newversion_end(D->store) < 0)
		log_warn("%s", store_errmsg(D->store));
	if (rc == 0 && r->phase == PHASE_COPY)
		log_info("repository %s: version %lld (%lld files)", r->repo,
		    (long long)r->v.number, (long long)r->v.files);
	if (t != NULL) {
		t->d->recording = 0;
		if (rc == 0) {
			task_finish(t, TASK_COMPLETED, r->result, NULL, NULL);
			r->result = NULL;
		} else
			task_finish(t, TASK_FAILED, NULL, task_reason_name(REASON_EXCEPTION), msg);
	}
	record_free(r);
}

void recorder_tick(void)
{
	struct record *r = head;
	int64_t start, id = r != NULL ? r->task : 0;
	/* DEPOT_TEST_RECORD_PAUSE_MS: slices spaced out, so that a test can kill depotd mid-record. */
	const char *pause = getenv("DEPOT_TEST_RECORD_PAUSE_MS");
	enum phase phase;
	int rc;

	if (r == NULL || (start = time_mono_ms()) < next_slice_mono)
		return;
	if (store_wal_behind(D->store)) {
		next_slice_mono = start + 10;
		return;
	}
	phase = r->phase;
	rc = slice(r);
	if (rc <= 0)
		record_end(r, rc);
	if (time_mono_ms() - start > 20)
		log_info("task %lld: a slice of its record (phase %d%s) took %lld ms", (long long)id,
		    (int)phase, rc <= 0 ? ", the last" : "", (long long)(time_mono_ms() - start));
	next_slice_mono = pause != NULL ? time_mono_ms() + atoi(pause) : 0;
}

int recorder_wait_ms(void)
{
	int64_t now = time_mono_ms();

	if (head == NULL)
		return -1;
	return next_slice_mono > now ? (int)(next_slice_mono - now) : 0;
}

void recorder_drop(struct task *t)
{
	struct record **p = &head, *r;

	t->d->recording = 0;
	while ((r = *p) != NULL && r->task != t->id)
		p = &r->next;
	if (r == NULL)
		return;
	if (r == head && (r->phase != PHASE_LOAD || r->done > 0)) {
		/* Only the first record has begun: its gathering and its incomplete version go. */
		if (r->started && store_newversion_discard(D->store, r->repo, r->v.number) < 0)
			log_error("repository %s: removing incomplete version %lld: %s", r->repo,
			    (long long)r->v.number, store_errmsg(D->store));
		if (store_newversion_end(D->store) < 0)
			log_warn("%s", store_errmsg(D->store));
	}
	*p = r->next;
	if (tail == &r->next)
		tail = p;
	log_info("task %lld: ended before its version was recorded; the record is dropped",
	    (long long)t->id);
	record_free(r);
}
