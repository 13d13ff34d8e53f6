/* sync.c: a worker's sync task: fetch the feed's PULP_MANIFEST, download what the store lacks (curl multi), verify, store, list. */
#include "content.h"
#include "hashpipe.h"
#include "log.h"
#include "manifest.h"
#include "proto.h"
#include "timeutil.h"
#include "worker.h"
#include "workq.h"
#include "writeout.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A manifest is text held in memory while the sync runs; past this it is refused, not swapped. */
#define SYNC_MANIFEST_MAX ((size_t)256 << 20)
#define SYNC_CONCURRENCY_DEFAULT 8
#define SYNC_CONCURRENCY_MAX 64
/* The first try and three retries of a transient failure. */
#define SYNC_ATTEMPTS 4
#define SYNC_BACKOFF_MS 500
#define SYNC_CONNECT_TIMEOUT_S 15L
/* Under 1 byte/s for this long is a dead transfer: abort it (and retry) rather than hang the task. */
#define SYNC_LOW_SPEED_TIME_S 30L
#define SYNC_MAX_REDIRS 5L
/*
 * libcurl's receive buffer without a speed limit: a fast transfer then takes
 * one read and write callback a pipe's chunk instead of one every 16 KiB
 * (its default). Larger (up to its 512 KiB) measured no faster.
 */
#define SYNC_BUFFER_SIZE ((long)HASHPIPE_CHUNK)
/* How often the loop looks at the cancel flag: DESIGN §7 rule 4 wants a prompt stop. */
#define SYNC_POLL_MS 100
#define SYNC_PROGRESS_MS 250
/*
 * The committer's turns are at least this far apart: a syncfs writes the
 * inode tables the downloads are creating files in, and a turn for every
 * file or two (600 turns for 5,000 small files) slowed them twice as much
 * as it saved at the end. 250 ms left a long last turn to wait for when
 * the downloads ended; 50 ms slowed them again (5,000 small files, medians
 * of four: 426 ms at 250, 383 at 100, 423 at 50).
 */
#define SYNC_COMMIT_GAP_MS 100
/*
 * Small files' bytes held for the writer past which no transfer starts:
 * the downloads wait for the disk rather than fill memory.
 */
#define SYNC_WRITER_BACKLOG ((size_t)16 << 20)
#define SYNC_HELD_POLL_MS 5
/*
 * Writer threads: a file system makes inodes for two at once (a sync's
 * 5,000 small files: one writer ended 50-120 ms after the last download,
 * which the transfers' thread could outrun).
 */
#define SYNC_WRITERS 2
/* Unnamed temps held open at most, whatever the fd limit: each is kernel memory. */
#define SYNC_HELD_MAX 4096
#define SYNC_PATH_MAX 4352
#define SYNC_ERR_MAX 2048

/* What a manifest entry needs, one byte an entry so that 100,000 entries stay cheap. */
enum sync_need {
	SYNC_HAVE,	/* already in the store with that size */
	SYNC_GET,	/* to download */
	SYNC_DUP,	/* same sha256 as an earlier SYNC_GET entry: one download serves both */
};

/* The importer's settings (DESIGN §8), pointing into the task's JSON. */
struct sync_importer {
	const char *feed;
	const char *proxy_url, *proxy_user, *proxy_pass;
	const char *ca_cert, *client_cert, *client_key, *crl;
	int64_t proxy_port;
	int ssl_validation;
	int64_t max_speed;		/* bytes/s for the whole sync; 0: unlimited */
	int64_t concurrency;
};

struct sync;

/*
 * A small file (under HASHPIPE_MIN bytes) downloaded into memory, which the
 * writer hashes and writes to a temp while the next ones download: the
 * transfers' thread then only receives, and the file system's work per
 * file (an inode, a name, a write) runs beside it.
 */
struct sync_small {
	size_t entry;
	unsigned char bytes[];
};

/* One download slot: an easy handle reused for file after file. */
struct sync_xfer {
	struct sync *s;
	CURL *easy;
	size_t entry;			/* manifest index, SIZE_MAX when idle */
	int in_multi;
	int attempt;			/* failed tries of this entry so far */
	int64_t retry_at;		/* monotonic ms; the slot waits until then */
	int fd;
	struct sync_small *small;	/* a small file's bytes as they come; NULL for a large one */
	uint64_t seq;			/* the N of tmp */
	char tmp[64];			/* tmp/dl-ID-N; "" when no named temp exists */
	int unnamed;			/* fd is an unnamed temp in content/, its slot held */
	struct writeout out;		/* fd's writer: starts the writeback of a large file as it comes */
	EVP_MD_CTX *md;
	/*
	 * A file of HASHPIPE_MIN bytes or more is hashed and written by its
	 * pipe's thread while this one receives: NULL for a smaller one (or
	 * when no thread could be had), which is done here, in line. buf is
	 * the pipe's buffer being filled (NULL: none yet), buflen its bytes.
	 */
	struct hashpipe *pipe;
	unsigned char *buf;
	size_t buflen;
	int64_t got;
	char *url;
	char local_err[512];		/* our side failed (disk, digest, too large): not retried */
	char errbuf[CURL_ERROR_SIZE];
};

/* A verified download waiting for the syncfs that lets it into the store. */
struct sync_pending {
	size_t entry;
	uint64_t seq;			/* a named temp's N, or the name an unnamed one takes if it must */
	int fd;				/* an unnamed temp (content_unnamed_temp), held open; -1: named */
};

struct sync {
	struct worker_shared *ws;
	int64_t task;
	const char *repo;
	const char *list_path;
	struct sync_importer imp;
	int is_file;			/* file:// feed: no proxy or TLS settings apply */
	const char *protocols;
	char *base;			/* the feed up to and including its last '/' */
	char *manifest_url;
	char feed_shown[SYNC_PATH_MAX];	/* the manifest URL without credentials, for messages */
	char proxy_shown[512];
	char crl_path[64];		/* tmp/crl-ID.pem, relative to the data directory like every path here */
	char crl_full[SYNC_PATH_MAX];	/* the same for libcurl, which takes only a path */
	_Atomic uint64_t tmp_seq;	/* the writer makes temps too */
	int tmpfd;			/* tmp/, where every temp is made and named */
	int storefd;			/* content/, every syncfs's (content_store_open) */
	/*
	 * A syncfs failed: some bytes written may not be on the disk, and no
	 * later syncfs would say so. Nothing verified is linked in any more.
	 */
	atomic_int sync_broken;
	struct content_fans fans;
	struct sync_pending *pend;	/* verified temps, in the order they were verified; room for to_get */
	size_t npend, ncommitted;
	/*
	 * The committer (sync_committer): a thread that, while the downloads
	 * go on, makes the temps verified so far durable with a syncfs and
	 * moves them into the store, so that little of either is left when
	 * the last download ends. Under cmu: pend's growth (the writer's and
	 * the transfers' thread's), cpend (npend as the committer may see it)
	 * and cstop. ncommitted is the committer's while it runs.
	 */
	pthread_t committer;
	int committer_on;
	pthread_mutex_t cmu;
	pthread_cond_t ccv;
	size_t cpend;
	int cstop, cidle;		/* cidle: the committer waits for a first verified temp */
	/*
	 * Temps are unnamed, in content/, where the file system allows
	 * (sync_temps_plan): no name is made in tmp/ or taken out of it
	 * again (the committer's renames out of tmp/ held its lock against
	 * the next creates), content/ may be a file system of its own, and a
	 * killed worker leaves nothing. Each stays open until the committer
	 * links it: held of them, at most held_max (sync_hold_one); at the
	 * limit a writer urges a turn (curge) and waits on wcv. Under cmu,
	 * with cexited (the committer ended).
	 */
	int unnamed;
	size_t held, held_max;
	int curge, cexited;
	pthread_cond_t wcv;
	atomic_int cfailed;		/* the committer stopped on a failure, told in cerr */
	char cerr[SYNC_ERR_MAX];
	/*
	 * The writers (sync_write_small) and their first failure, told in werr
	 * (under cmu while they run); NULL: small files are written in line.
	 */
	struct workq *writer;
	char werr[SYNC_ERR_MAX];
	/* Where the time went, for the log; ms_join: waiting for the committer's last turn. */
	int64_t ms_download, ms_drain, ms_join, ms_sync_bytes, ms_moves, ms_sync_names;
	int64_t bg_syncs, ms_bg_syncs, bg_moved, ms_bg_moves;	/* the committer's, during the downloads */
	CURLM *multi;
	char *mbuf;
	size_t mlen, mcap;
	int mtoo_big;
	struct manifest m;
	uint8_t *need;
	size_t next;			/* where the search for the next SYNC_GET entry resumes */
	struct sync_xfer *x;
	size_t nx;
	int64_t files_done, to_get, bytes_total, bytes_need, bytes_now, dl_files, dl_bytes;
	int64_t progress_at;
	int canceled;
	char err[SYNC_ERR_MAX];		/* the first failure; "" while none */
	int logfd;
	int64_t log_written, log_max;
};

static void sync_global_init(void);
static void sync_fail(struct sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sync_log(struct sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sync_redact(const char *url, char *out, size_t n);
static void sync_human(int64_t bytes, char *out, size_t n);
static int sync_imp_str(struct sync *s, const cJSON *imp, const char *key, const char **out);
static int sync_imp_int(struct sync *s, const cJSON *imp, const char *key, int64_t def,
    int64_t min, int64_t max, int64_t *out);
static int sync_imp_bool(struct sync *s, const cJSON *imp, const char *key, int def, int *out);
static int sync_read_task(struct sync *s, const cJSON *task);
static int sync_prepare(struct sync *s);
static int sync_write_crl(struct sync *s);
static int sync_easy_setup(struct sync *s, CURL *h, char *errbuf);
static void sync_describe(struct sync *s, CURL *h, CURLcode rc, const char *errbuf,
    const char *url, char *out, size_t n);
static int sync_transient(CURL *h, CURLcode rc);
static int sync_cancel_requested(struct sync *s);
static int sync_wait(struct sync *s, int64_t ms);
static size_t sync_manifest_write(char *p, size_t size, size_t nmemb, void *arg);
static int sync_perform_one(struct sync *s, CURL *h, CURLcode *rc);
static int sync_fetch_manifest(struct sync *s);
static size_t sync_sha_slot(const char *sha, size_t mask);
static int sync_plan(struct sync *s);
static void sync_progress(struct sync *s, int force);
static char *sync_entry_url(struct sync *s, CURL *h, const struct manifest_entry *e);
static size_t sync_file_write(char *p, size_t size, size_t nmemb, void *arg);
static int sync_pipe_end(struct sync_xfer *x);
static int sync_new_temp(struct sync *s, int wait, uint64_t *seq, char *name, size_t namelen,
    int *unnamed, char *why, size_t whylen);
static const char *sync_temp_shown(int unnamed, const char *name, char *out, size_t n);
static int sync_start(struct sync *s, struct sync_xfer *x, size_t entry);
static void sync_drop(struct sync *s, struct sync_xfer *x);
static void sync_finish(struct sync *s, struct sync_xfer *x, CURLcode rc);
static int sync_check_digest(struct sync *s, const struct manifest_entry *e, EVP_MD_CTX *md,
    const char *url, char *why, size_t whylen);
static void sync_verified(struct sync *s, size_t entry, uint64_t seq, int fd);
static int sync_hold_one(struct sync *s, int wait);
static int sync_finish_large(struct sync *s, struct sync_xfer *x);
static int sync_write_small(void *ctx, void *arg);
static void sync_drop_small(void *ctx, void *job);
static void sync_temps_plan(struct sync *s);
static void sync_writer_start(struct sync *s);
static void sync_writer_stop(struct sync *s, int drain);
static int sync_download(struct sync *s);
static void sync_tmp_name(const struct sync *s, uint64_t seq, char *out, size_t n);
static void sync_unnamed_name(const struct sync *s, uint64_t seq, char *out, size_t n);
static int sync_store_verified(struct sync *s, size_t upto, int64_t *ms_sync, int64_t *ms_moves,
    char *why, size_t whylen);
static void sync_release_held(struct sync *s, size_t n);
static void *sync_committer(void *arg);
static void sync_committer_start(struct sync *s);
static void sync_committer_stop(struct sync *s);
static int sync_commit(struct sync *s);
static void sync_keep_verified(struct sync *s);
static int sync_write_list(struct sync *s);
static int sync_make_durable(struct sync *s);
static void sync_cleanup(struct sync *s);

static pthread_once_t sync_once = PTHREAD_ONCE_INIT;
static CURLcode sync_init_rc = CURLE_FAILED_INIT;

/* Once per process and never undone: curl_global_cleanup would tear OpenSSL down under a later sync. */
static void sync_global_init(void)
{
	sync_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Keeps the first failure: what follows it is usually its consequence. */
static void sync_fail(struct sync *s, const char *fmt, ...)
{
	va_list ap;

	if (s->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
	if (s->err[0] == '\0')
		snprintf(s->err, sizeof s->err, "sync failed");
}

/* A line in the task's log (`depotctl task log`), capped at log_max like an exec task's output. */
static void sync_log(struct sync *s, const char *fmt, ...)
{
	char line[SYNC_ERR_MAX + 64], ts[TIME_RFC3339_LEN];
	va_list ap;
	int n, m;

	if (s->logfd < 0 || s->log_written >= s->log_max)
		return;
	time_format_rfc3339(time_now_ms(), ts);
	n = snprintf(line, sizeof line, "%s ", ts);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m < (int)(sizeof line - (size_t)n - 1) ? m : (int)(sizeof line - (size_t)n - 2);
	line[n++] = '\n';
	if (s->log_written + n > s->log_max)
		n = (int)(s->log_max - s->log_written);
	/* The log is best effort: a full disk must not fail the sync on its account. */
	if (write(s->logfd, line, (size_t)n) > 0)
		s->log_written += n;
}

/* The URL without "user:password@": feeds and proxies may carry credentials, messages must not. */
static void sync_redact(const char *url, char *out, size_t n)
{
	const char *host = strstr(url, "://"), *at;
	size_t hostlen;

	if (host == NULL) {
		snprintf(out, n, "%s", url);
		return;
	}
	host += 3;
	hostlen = strcspn(host, "/?#");
	at = memrchr(host, '@', hostlen);
	if (at == NULL)
		snprintf(out, n, "%s", url);
	else
		snprintf(out, n, "%.*s%s", (int)(host - url), url, at + 1);
}

static void sync_human(int64_t bytes, char *out, size_t n)
{
	if (bytes < 1024)
		snprintf(out, n, "%lld B", (long long)bytes);
	else if (bytes < 1024 * 1024)
		snprintf(out, n, "%.1f KiB", bytes / 1024.0);
	else if (bytes < (int64_t)1024 * 1024 * 1024)
		snprintf(out, n, "%.1f MiB", bytes / (1024.0 * 1024));
	else
		snprintf(out, n, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
}

/* An importer string; absent, null and "" all mean unset. */
static int sync_imp_str(struct sync *s, const cJSON *imp, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(imp, key);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v)) {
		sync_fail(s, "importer setting %s must be a string", key);
		return -1;
	}
	if (v->valuestring[0] != '\0')
		*out = v->valuestring;
	return 0;
}

/* An integer setting, given as a JSON number or as the digits `repo create --KEY VALUE` stores. */
static int sync_imp_int(struct sync *s, const cJSON *imp, const char *key, int64_t def,
    int64_t min, int64_t max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(imp, key);
	double d;
	char *end;

	*out = def;
	if (v == NULL || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		return 0;
	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v)) {
		errno = 0;
		d = strtod(v->valuestring, &end);
		if (errno != 0 || *end != '\0')
			d = -1e300;
	} else
		d = -1e300;
	if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d) {
		sync_fail(s, "importer setting %s must be an integer from %lld to %lld", key,
		    (long long)min, (long long)max);
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

static int sync_imp_bool(struct sync *s, const cJSON *imp, const char *key, int def, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(imp, key);
	size_t i;

	*out = def;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsBool(v)) {
		*out = cJSON_IsTrue(v);
		return 0;
	}
	if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
		*out = v->valuedouble == 1;
		return 0;
	}
	for (i = 0; cJSON_IsString(v) && i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(v->valuestring, yes[i]) == 0 || strcasecmp(v->valuestring, no[i]) == 0) {
			*out = strcasecmp(v->valuestring, yes[i]) == 0;
			return 0;
		}
	}
	sync_fail(s, "importer setting %s must be true or false", key);
	return -1;
}

/* The assignment: {"id", "args": {"repository"}, "importer": {…}, "list_path", "log_path", "log_max"}. */
static int sync_read_task(struct sync *s, const cJSON *task)
{
	const cJSON *imp = cJSON_GetObjectItemCaseSensitive(task, "importer");
	const cJSON *log_max = cJSON_GetObjectItemCaseSensitive(task, "log_max");
	const char *log_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "log_path"));
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(task, "id");
	struct sync_importer *p = &s->imp;

	s->task = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0;
	s->repo = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "repository"));
	s->list_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "list_path"));
	if (cJSON_IsNumber(log_max) && log_max->valuedouble > 0)
		s->log_max = (int64_t)log_max->valuedouble;
	if (s->repo == NULL)
		s->repo = "?";
	if (s->list_path == NULL || s->list_path[0] == '/') {
		/* Nothing to remove on the way out either: any other path would name the wrong file. */
		s->list_path = NULL;
		sync_fail(s, "the sync task has no list_path in the data directory");
		return -1;
	}
	if (log_path != NULL && (s->logfd = fs_open_beneath(worker_data.fd, log_path,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) {
		char why[1024];
		fs_beneath_error(&worker_data, log_path, errno, why, sizeof why);
		sync_fail(s, "cannot open the task's log %s", why);
		return -1;
	}
	if (imp != NULL && !cJSON_IsObject(imp)) {
		sync_fail(s, "the sync task's importer is not an object");
		return -1;
	}
	if (sync_imp_str(s, imp, "feed", &p->feed) < 0 ||
	    sync_imp_str(s, imp, "proxy_url", &p->proxy_url) < 0 ||
	    sync_imp_str(s, imp, "proxy_username", &p->proxy_user) < 0 ||
	    sync_imp_str(s, imp, "proxy_password", &p->proxy_pass) < 0 ||
	    sync_imp_str(s, imp, "ssl_ca_cert", &p->ca_cert) < 0 ||
	    sync_imp_str(s, imp, "ssl_client_cert", &p->client_cert) < 0 ||
	    sync_imp_str(s, imp, "ssl_client_key", &p->client_key) < 0 ||
	    sync_imp_str(s, imp, "ssl_crl", &p->crl) < 0 ||
	    sync_imp_int(s, imp, "proxy_port", 0, 0, 65535, &p->proxy_port) < 0 ||
	    sync_imp_int(s, imp, "max_speed", 0, 0, INT64_C(1) << 50, &p->max_speed) < 0 ||
	    sync_imp_int(s, imp, "download_concurrency", SYNC_CONCURRENCY_DEFAULT, 1,
	    SYNC_CONCURRENCY_MAX, &p->concurrency) < 0 ||
	    sync_imp_bool(s, imp, "ssl_validation", 1, &p->ssl_validation) < 0)
		return -1;
	if (p->feed == NULL) {
		sync_fail(s, "repository %s has no feed: set one with `depotctl repo update %s --feed URL`",
		    s->repo, s->repo);
		return -1;
	}
	return 0;
}

/* Where files come from and go to: base URL, allowed protocols, tmp/, the CRL file. */
static int sync_prepare(struct sync *s)
{
	const char *feed = s->imp.feed, *scheme_end = strstr(feed, "://"), *slash = NULL;
	size_t end = strcspn(feed, "?#"), i, baselen;
	char why[1024];
	int fd;

	if (strncasecmp(feed, "file://", 7) == 0) {
		s->is_file = 1;
		s->protocols = "file";
	} else if (strncasecmp(feed, "http://", 7) == 0 || strncasecmp(feed, "https://", 8) == 0)
		s->protocols = "http,https";
	else {
		sync_redact(feed, s->feed_shown, sizeof s->feed_shown);
		sync_fail(s, "feed %s is not a file://, http:// or https:// URL", s->feed_shown);
		return -1;
	}
	for (i = (size_t)(scheme_end - feed) + 3; i < end; i++)
		if (feed[i] == '/')
			slash = feed + i;
	/* A feed ending in '/' names the directory (as Pulp's ISO importer took it); PULP_MANIFEST is in it. */
	baselen = slash ? (size_t)(slash - feed) + 1 : 0;
	if (baselen == 0 || (s->base = strndup(feed, baselen)) == NULL ||
	    (s->manifest_url = baselen == strlen(feed) ? malloc(baselen + sizeof "PULP_MANIFEST")
	    : strdup(feed)) == NULL) {
		sync_redact(feed, s->feed_shown, sizeof s->feed_shown);
		sync_fail(s, baselen == 0 ? "feed %s names no file or directory" :
		    "out of memory for feed %s", s->feed_shown);
		return -1;
	}
	if (baselen == strlen(feed))
		snprintf(s->manifest_url, baselen + sizeof "PULP_MANIFEST", "%sPULP_MANIFEST", feed);
	sync_redact(s->manifest_url, s->feed_shown, sizeof s->feed_shown);
	if (s->imp.proxy_url != NULL) {
		sync_redact(s->imp.proxy_url, s->proxy_shown, sizeof s->proxy_shown);
		if (s->imp.proxy_port > 0) {
			size_t len = strlen(s->proxy_shown);

			snprintf(s->proxy_shown + len, sizeof s->proxy_shown - len, " port %lld",
			    (long long)s->imp.proxy_port);
		}
		if (strncasecmp(s->imp.proxy_url, "http://", 7) != 0 &&
		    strncasecmp(s->imp.proxy_url, "https://", 8) != 0) {
			sync_fail(s, "proxy_url %s must start with http:// or https://", s->proxy_shown);
			return -1;
		}
	}
	if ((fd = fs_mkdirs_beneath(worker_data.fd, "tmp", 0700)) < 0) {
		fs_beneath_error(&worker_data, "tmp", errno, why, sizeof why);
		sync_fail(s, "cannot create %s", why);
		return -1;
	}
	s->tmpfd = fd;
	if ((s->storefd = content_store_open(&worker_data, why, sizeof why)) < 0) {
		sync_fail(s, "%s", why);
		return -1;
	}
	return s->imp.crl && !s->is_file ? sync_write_crl(s) : 0;
}

/* libcurl reads a CRL only from a file: a private one in tmp/, removed when the sync ends. */
static int sync_write_crl(struct sync *s)
{
	size_t len = strlen(s->imp.crl), off = 0;
	char why[1024];
	int fd, tries;

	snprintf(s->crl_path, sizeof s->crl_path, "tmp/crl-%lld.pem", (long long)s->task);
	snprintf(s->crl_full, sizeof s->crl_full, "%s/%s", worker_data.path, s->crl_path);
	for (tries = 0; ; tries++) {
		fd = fs_open_beneath(worker_data.fd, s->crl_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		/* One left by a worker that died running this task is ours to replace. */
		if (fd >= 0 || errno != EEXIST || tries > 0 ||
		    fs_unlink_beneath(worker_data.fd, s->crl_path) < 0)
			break;
	}
	if (fd < 0) {
		fs_beneath_error(&worker_data, s->crl_path, errno, why, sizeof why);
		sync_fail(s, "cannot create %s", why);
		s->crl_path[0] = '\0';
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, s->imp.crl + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			sync_fail(s, "cannot write %s: %s", s->crl_full, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		sync_fail(s, "cannot write %s: %s", s->crl_full, strerror(errno));
		return -1;
	}
	return 0;
}

/* The options every transfer of this sync shares: protocols, proxy, TLS, timeouts. */
static int sync_easy_setup(struct sync *s, CURL *h, char *errbuf)
{
	const struct sync_importer *p = &s->imp;
	const char *failed = NULL;
	CURLcode rc = CURLE_OK;
	struct curl_blob ca = { 0 }, cert = { 0 }, key = { 0 };

	/* The first option libcurl refuses is named: a libcurl built without a feature says which. */
#define SYNC_SET(opt, val) \
	do { \
		if (rc == CURLE_OK && (rc = curl_easy_setopt(h, opt, val)) != CURLE_OK) \
			failed = #opt; \
	} while (0)

	/* The worker is threaded: no SIGALRM-based DNS timeouts. */
	SYNC_SET(CURLOPT_NOSIGNAL, 1L);
	SYNC_SET(CURLOPT_ERRORBUFFER, errbuf);
	SYNC_SET(CURLOPT_PROTOCOLS_STR, s->protocols);
	SYNC_SET(CURLOPT_REDIR_PROTOCOLS_STR, s->protocols);
	SYNC_SET(CURLOPT_FOLLOWLOCATION, 1L);
	SYNC_SET(CURLOPT_MAXREDIRS, SYNC_MAX_REDIRS);
	SYNC_SET(CURLOPT_CONNECTTIMEOUT, SYNC_CONNECT_TIMEOUT_S);
	SYNC_SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SYNC_SET(CURLOPT_LOW_SPEED_TIME, SYNC_LOW_SPEED_TIME_S);
	/* An error page must never be taken for the file. */
	SYNC_SET(CURLOPT_FAILONERROR, 1L);
	SYNC_SET(CURLOPT_USERAGENT, "depot/" DEPOT_VERSION);
	/* DESIGN §15: an empty proxy and no-proxy list keep http_proxy and no_proxy of our environment out. */
	SYNC_SET(CURLOPT_PROXY, p->proxy_url && !s->is_file ? p->proxy_url : "");
	SYNC_SET(CURLOPT_NOPROXY, "");
	if (p->proxy_url && !s->is_file) {
		if (p->proxy_port > 0)
			SYNC_SET(CURLOPT_PROXYPORT, (long)p->proxy_port);
		if (p->proxy_user || p->proxy_pass) {
			SYNC_SET(CURLOPT_PROXYAUTH, CURLAUTH_BASIC);
			SYNC_SET(CURLOPT_PROXYUSERNAME, p->proxy_user ? p->proxy_user : "");
			SYNC_SET(CURLOPT_PROXYPASSWORD, p->proxy_pass ? p->proxy_pass : "");
		}
		SYNC_SET(CURLOPT_PROXY_SSL_VERIFYPEER, p->ssl_validation ? 1L : 0L);
		SYNC_SET(CURLOPT_PROXY_SSL_VERIFYHOST, p->ssl_validation ? 2L : 0L);
	}
	if (!s->is_file) {
		SYNC_SET(CURLOPT_SSL_VERIFYPEER, p->ssl_validation ? 1L : 0L);
		SYNC_SET(CURLOPT_SSL_VERIFYHOST, p->ssl_validation ? 2L : 0L);
		if (p->ca_cert) {
			ca = (struct curl_blob){ (void *)p->ca_cert, strlen(p->ca_cert), CURL_BLOB_COPY };
			SYNC_SET(CURLOPT_CAINFO_BLOB, &ca);
			/*
			 * The blob replaces the CA bundle but not the CA directory
			 * (/etc/ssl/certs on Debian): drop it, so that ssl_ca_cert
			 * is the only authority trusted, as Pulp's was.
			 */
			SYNC_SET(CURLOPT_CAPATH, (char *)NULL);
		}
		if (p->client_cert) {
			cert = (struct curl_blob){ (void *)p->client_cert, strlen(p->client_cert),
			    CURL_BLOB_COPY };
			SYNC_SET(CURLOPT_SSLCERT_BLOB, &cert);
			SYNC_SET(CURLOPT_SSLCERTTYPE, "PEM");
		}
		if (p->client_key) {
			key = (struct curl_blob){ (void *)p->client_key, strlen(p->client_key),
			    CURL_BLOB_COPY };
			SYNC_SET(CURLOPT_SSLKEY_BLOB, &key);
			SYNC_SET(CURLOPT_SSLKEYTYPE, "PEM");
		}
		/* DESIGN §15: OpenSSL then checks every certificate of the chain against the CRLs. */
		if (s->crl_path[0])
			SYNC_SET(CURLOPT_CRLFILE, s->crl_full);
	}
#undef SYNC_SET
	if (rc != CURLE_OK) {
		sync_fail(s, "libcurl refused %s: %s", failed, curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Why a transfer failed, naming the URL and, for a proxy's refusal, the
 * proxy. Proxies answer bad credentials with 407, but tinyproxy answers a
 * forwarded request with 401: with proxy credentials set and none in the
 * feed's URL, the proxy is the likely one to blame, and the message says
 * both.
 */
static void sync_describe(struct sync *s, CURL *h, CURLcode rc, const char *errbuf,
    const char *url, char *out, size_t n)
{
	const struct sync_importer *p = &s->imp;
	int proxied = p->proxy_url != NULL && !s->is_file, creds = p->proxy_user || p->proxy_pass;
	long http = 0, connect = 0;
	char shown[SYNC_PATH_MAX];

	sync_redact(url, shown, sizeof shown);
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http) != CURLE_OK)
		http = 0;
	if (curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect) != CURLE_OK)
		connect = 0;
	if (proxied && (connect == 407 || http == 407 || connect == 401)) {
		long code = connect ? connect : http;

		if (creds)
			snprintf(out, n, "proxy refused the credentials (HTTP %ld) for proxy_url %s "
			    "(proxy_username %s) while fetching %s", code, s->proxy_shown,
			    p->proxy_user ? p->proxy_user : "(none)", shown);
		else
			snprintf(out, n, "proxy requires credentials (HTTP %ld) for proxy_url %s: set "
			    "proxy_username and proxy_password (while fetching %s)", code,
			    s->proxy_shown, shown);
	} else if (proxied && creds && rc == CURLE_HTTP_RETURNED_ERROR && http == 401 &&
	    strcmp(shown, url) == 0)
		snprintf(out, n, "proxy refused the credentials (HTTP 401) for proxy_url %s "
		    "(proxy_username %s), or the server wants a login, while fetching %s",
		    s->proxy_shown, p->proxy_user ? p->proxy_user : "(none)", shown);
	else if (connect >= 300)
		snprintf(out, n, "proxy %s answered HTTP %ld to the request to connect for %s",
		    s->proxy_shown, connect, shown);
	else if (rc == CURLE_HTTP_RETURNED_ERROR)
		snprintf(out, n, "HTTP %ld from %s", http, shown);
	else if (proxied)
		snprintf(out, n, "%s (through proxy_url %s): %s", shown, s->proxy_shown,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
	else
		snprintf(out, n, "%s: %s", shown, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* Worth another try: the network or the server may recover; a 404 or bad credentials will not. */
static int sync_transient(CURL *h, CURLcode rc)
{
	long http = 0, connect = 0;

	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http) != CURLE_OK)
		http = 0;
	if (curl_easy_getinfo(h, CURLINFO_HTTP_CONNECTCODE, &connect) != CURLE_OK)
		connect = 0;
	if (connect >= 300 && connect < 500)
		return 0;
	switch (rc) {
	case CURLE_HTTP_RETURNED_ERROR:
		return http >= 500 || http == 429 || http == 408;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_PROXY:
		return 1;
	default:
		return 0;
	}
}

static int sync_cancel_requested(struct sync *s)
{
	if (atomic_load(&s->ws->cancel))
		s->canceled = 1;
	return s->canceled;
}

/* A back-off that still notices a cancel. Returns -1 if canceled. */
static int sync_wait(struct sync *s, int64_t ms)
{
	int64_t until = time_mono_ms() + ms;

	while (!sync_cancel_requested(s)) {
		int64_t left = until - time_mono_ms();
		struct timespec ts;

		if (left <= 0)
			return 0;
		if (left > SYNC_POLL_MS)
			left = SYNC_POLL_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static size_t sync_manifest_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sync *s = arg;
	size_t n = size * nmemb;

	if (n > SYNC_MANIFEST_MAX - s->mlen) {
		s->mtoo_big = 1;
		return 0;
	}
	/* One byte more than the data: manifest_parse NUL-terminates the last line in place. */
	if (s->mlen + n + 1 > s->mcap) {
		size_t cap = s->mcap ? s->mcap : 65536;
		char *b;

		while (cap < s->mlen + n + 1)
			cap *= 2;
		if ((b = realloc(s->mbuf, cap)) == NULL)
			return 0;
		s->mbuf = b;
		s->mcap = cap;
	}
	memcpy(s->mbuf + s->mlen, p, n);
	s->mlen += n;
	return n;
}

/*
 * Runs the one transfer h through the multi handle, looking at the cancel
 * flag every SYNC_POLL_MS. Returns 0 with *rc its result, or -1 if
 * canceled or libcurl's multi layer failed (s->err says which).
 */
static int sync_perform_one(struct sync *s, CURL *h, CURLcode *rc)
{
	CURLMcode mc;
	int running, done = 0;

	if ((mc = curl_multi_add_handle(s->multi, h)) != CURLM_OK) {
		sync_fail(s, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -1;
	}
	while (!done && !sync_cancel_requested(s)) {
		CURLMsg *msg;
		int q;

		if ((mc = curl_multi_perform(s->multi, &running)) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(s->multi, &q)) != NULL) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
				*rc = msg->data.result;
				done = 1;
			}
		}
		if (!done && (mc = curl_multi_poll(s->multi, NULL, 0, SYNC_POLL_MS, NULL)) != CURLM_OK)
			break;
	}
	if (mc == CURLM_OK)
		mc = curl_multi_remove_handle(s->multi, h);
	else
		(void)curl_multi_remove_handle(s->multi, h);
	if (mc != CURLM_OK) {
		sync_fail(s, "libcurl: %s", curl_multi_strerror(mc));
		return -1;
	}
	return done ? 0 : -1;
}

/* The manifest into s->mbuf, retrying transient failures. */
static int sync_fetch_manifest(struct sync *s)
{
	char errbuf[CURL_ERROR_SIZE], why[SYNC_ERR_MAX];
	CURL *h = curl_easy_init();
	const char *failed = NULL;
	CURLcode rc = CURLE_OK;
	int attempt, ret = -1;

	if (h == NULL) {
		sync_fail(s, "curl_easy_init failed");
		return -1;
	}
	if (sync_easy_setup(s, h, errbuf) < 0)
		goto out;
#define SYNC_SET(opt, val) \
	do { \
		if (rc == CURLE_OK && (rc = curl_easy_setopt(h, opt, val)) != CURLE_OK) \
			failed = #opt; \
	} while (0)
	SYNC_SET(CURLOPT_URL, s->manifest_url);
	SYNC_SET(CURLOPT_WRITEFUNCTION, sync_manifest_write);
	SYNC_SET(CURLOPT_WRITEDATA, s);
	/* A manifest is text and compresses well; files are never decoded (their digest is of the bytes served). */
	SYNC_SET(CURLOPT_ACCEPT_ENCODING, "");
	SYNC_SET(CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)s->imp.max_speed);
#undef SYNC_SET
	if (rc != CURLE_OK) {
		sync_fail(s, "libcurl refused %s: %s", failed, curl_easy_strerror(rc));
		goto out;
	}
	for (attempt = 1; ; attempt++) {
		s->mlen = 0;
		s->mtoo_big = 0;
		errbuf[0] = '\0';
		if (sync_perform_one(s, h, &rc) < 0)
			goto out;
		if (rc == CURLE_OK)
			break;
		if (s->mtoo_big) {
			sync_fail(s, "the manifest %s is larger than %zu MiB", s->feed_shown,
			    SYNC_MANIFEST_MAX >> 20);
			goto out;
		}
		if (rc == CURLE_WRITE_ERROR) {
			sync_fail(s, "out of memory reading the manifest %s", s->feed_shown);
			goto out;
		}
		sync_describe(s, h, rc, errbuf, s->manifest_url, why, sizeof why);
		if (!sync_transient(h, rc) || attempt >= SYNC_ATTEMPTS) {
			if (attempt > 1)
				sync_fail(s, "cannot fetch the manifest: %s (after %d attempts)", why, attempt);
			else
				sync_fail(s, "cannot fetch the manifest: %s", why);
			goto out;
		}
		sync_log(s, "retrying the manifest (attempt %d of %d): %s", attempt + 1,
		    SYNC_ATTEMPTS, why);
		if (sync_wait(s, (int64_t)SYNC_BACKOFF_MS << (attempt - 1)) < 0)
			goto out;
	}
	if (s->mbuf == NULL && (s->mbuf = malloc(1)) == NULL) {
		sync_fail(s, "out of memory");
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(h);
	return ret;
}

/* sha256 digits to a table slot; they are uniformly spread already. */
static size_t sync_sha_slot(const char *sha, size_t mask)
{
	size_t v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = v << 4 | (size_t)(sha[i] <= '9' ? sha[i] - '0' : sha[i] - 'a' + 10);
	return v & mask;
}

/*
 * What each entry needs: present in the store, to download, or served by
 * an earlier entry with the same digest (two paths, one file: one
 * download). Two entries that give one digest two sizes are refused.
 */
static int sync_plan(struct sync *s)
{
	size_t i, cap = 16, mask;
	uint32_t *tab;

	if ((s->need = malloc(s->m.n ? s->m.n : 1)) == NULL) {
		sync_fail(s, "out of memory for %zu manifest entries", s->m.n);
		return -1;
	}
	while (cap < s->m.n * 2)
		cap *= 2;
	mask = cap - 1;
	if ((tab = calloc(cap, sizeof *tab)) == NULL) {
		sync_fail(s, "out of memory for %zu manifest entries", s->m.n);
		return -1;
	}
	for (i = 0; i < s->m.n; i++) {
		const struct manifest_entry *e = &s->m.entries[i];
		size_t slot;

		s->bytes_total += e->size;
		if (content_has(&worker_data, e->sha256, e->size)) {
			s->need[i] = SYNC_HAVE;
			s->files_done++;
			continue;
		}
		for (slot = sync_sha_slot(e->sha256, mask); tab[slot] != 0; slot = (slot + 1) & mask)
			if (strcmp(s->m.entries[tab[slot] - 1].sha256, e->sha256) == 0)
				break;
		if (tab[slot] == 0) {
			tab[slot] = (uint32_t)(i + 1);
			s->need[i] = SYNC_GET;
			s->to_get++;
			s->bytes_need += e->size;
			continue;
		}
		if (s->m.entries[tab[slot] - 1].size != e->size) {
			sync_fail(s, "the manifest %s gives sha256 %s the size %lld on line %u and %lld on line %u",
			    s->feed_shown, e->sha256, (long long)s->m.entries[tab[slot] - 1].size,
			    s->m.entries[tab[slot] - 1].line, (long long)e->size, e->line);
			free(tab);
			return -1;
		}
		/* Counted done now: its file arrives with the first entry's, or the sync fails. */
		s->need[i] = SYNC_DUP;
		s->files_done++;
	}
	free(tab);
	return 0;
}

/* Progress for the heartbeat thread (DESIGN §5): files done of the manifest's, and bytes. */
static void sync_progress(struct sync *s, int force)
{
	int64_t now = time_mono_ms();
	char got[32], need[32];

	if (!force && now - s->progress_at < SYNC_PROGRESS_MS)
		return;
	s->progress_at = now;
	sync_human(s->bytes_now, got, sizeof got);
	sync_human(s->bytes_need, need, sizeof need);
	pthread_mutex_lock(&s->ws->mu);
	s->ws->progress_done = s->files_done;
	s->ws->progress_total = (int64_t)s->m.n;
	if (s->to_get == 0)
		snprintf(s->ws->progress_message, sizeof s->ws->progress_message,
		    "all %zu files already stored", s->m.n);
	else
		snprintf(s->ws->progress_message, sizeof s->ws->progress_message,
		    "%s of %s downloaded", got, need);
	pthread_mutex_unlock(&s->ws->mu);
}

/* base + the path with each segment percent-encoded ('/' kept): a path is data, not URL syntax. */
static char *sync_entry_url(struct sync *s, CURL *h, const struct manifest_entry *e)
{
	size_t blen = strlen(s->base), cap = blen + (size_t)e->path_len * 3 + 1, len = blen;
	const char *seg = e->path, *end = e->path + e->path_len;
	char *url = malloc(cap);

	if (url == NULL)
		return NULL;
	memcpy(url, s->base, blen);
	while (seg < end) {
		const char *slash = memchr(seg, '/', (size_t)(end - seg));
		size_t seglen = slash ? (size_t)(slash - seg) : (size_t)(end - seg);
		char *esc = curl_easy_escape(h, seg, (int)seglen);
		size_t elen;

		if (esc == NULL || len + (elen = strlen(esc)) + 2 > cap) {
			curl_free(esc);
			free(url);
			return NULL;
		}
		memcpy(url + len, esc, elen);
		len += elen;
		curl_free(esc);
		if (slash != NULL)
			url[len++] = '/';
		seg += seglen + (slash != NULL);
	}
	url[len] = '\0';
	return url;
}

/*
 * Streams a file to its temp, hashing as it comes, never taking more than
 * the manifest promised. With a pipe, the bytes are only copied here: its
 * thread hashes and writes them while this one receives the next ones.
 */
static size_t sync_file_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sync_xfer *x = arg;
	const struct manifest_entry *e = &x->s->m.entries[x->entry];
	size_t n = size * nmemb, off = 0;
	int err = 0;

	if ((int64_t)n > e->size - x->got) {
		snprintf(x->local_err, sizeof x->local_err,
		    "%s is larger than the %lld bytes the manifest says", e->path, (long long)e->size);
		return 0;
	}
	if (x->small != NULL) {
		memcpy(x->small->bytes + x->got, p, n);
		x->got += (int64_t)n;
		x->s->bytes_now += (int64_t)n;
		return n;
	}
	while (x->pipe != NULL && off < n && err == 0) {
		size_t k = n - off < HASHPIPE_CHUNK - x->buflen ? n - off : HASHPIPE_CHUNK - x->buflen;

		if (x->buf == NULL) {
			/* A failed write stops the transfer here rather than at its end. */
			if ((err = hashpipe_error(x->pipe)) != 0)
				break;
			x->buf = hashpipe_buffer(x->pipe);
			x->buflen = 0;
		}
		memcpy(x->buf + x->buflen, p + off, k);
		x->buflen += k;
		off += k;
		if (x->buflen == HASHPIPE_CHUNK) {
			hashpipe_push(x->pipe, x->buflen);
			x->buf = NULL;
		}
	}
	if (x->pipe == NULL && EVP_DigestUpdate(x->md, p, n) != 1) {
		snprintf(x->local_err, sizeof x->local_err, "sha256 of %s failed", e->path);
		return 0;
	}
	if (x->pipe == NULL && writeout_write(&x->out, p, n) < 0)
		err = errno;
	if (err != 0) {
		char where[SYNC_PATH_MAX];

		snprintf(x->local_err, sizeof x->local_err, "cannot write %s for %s: %s",
		    sync_temp_shown(x->unnamed, x->tmp, where, sizeof where), e->path, strerror(err));
		return 0;
	}
	x->got += (int64_t)n;
	x->s->bytes_now += (int64_t)n;
	return n;
}

/*
 * Hands the pipe its last bytes and waits for its threads: the digest and
 * the temp file are then complete. 0, or -1 with errno of a failed write.
 */
static int sync_pipe_end(struct sync_xfer *x)
{
	int rc;

	if (x->pipe == NULL)
		return 0;
	if (x->buf != NULL && x->buflen > 0)
		hashpipe_push(x->pipe, x->buflen);
	x->buf = NULL;
	x->buflen = 0;
	rc = hashpipe_finish(x->pipe);
	x->pipe = NULL;
	return rc;
}

/*
 * A new private temp for a download: an unnamed one in content/ where it
 * can be had (a slot among those held taken first, waited for with wait),
 * whose name, "content/dl-ID-N", is only ever made to replace a damaged
 * stored file (content_commit_fd); else a named one, tmp/dl-ID-N. Its fd,
 * with *seq its N, name, and *unnamed; -1 with why ("canceled" at a
 * cancel).
 */
static int sync_new_temp(struct sync *s, int wait, uint64_t *seq, char *name, size_t namelen,
    int *unnamed, char *why, size_t whylen)
{
	int fd = -1, held = s->unnamed ? sync_hold_one(s, wait) : 0, tries;

	if (held < 0) {
		snprintf(why, whylen, "canceled");
		return -1;
	}
	if (held > 0 && (fd = content_unnamed_temp(s->storefd)) < 0)
		sync_release_held(s, 1);
	if ((*unnamed = fd >= 0)) {
		*seq = atomic_fetch_add(&s->tmp_seq, 1) + 1;
		sync_unnamed_name(s, *seq, name, namelen);
		return fd;
	}
	for (tries = 0; ; tries++) {
		*seq = atomic_fetch_add(&s->tmp_seq, 1) + 1;
		sync_tmp_name(s, *seq, name, namelen);
		/* O_EXCL: never write through a name someone else put there. */
		fd = fs_open_beneath(s->tmpfd, name + strlen("tmp/"), O_WRONLY | O_CREAT | O_EXCL,
		    0600);
		if (fd >= 0 || errno != EEXIST || tries >= 3)
			break;
	}
	if (fd < 0) {
		char path[1024];

		fs_beneath_error(&worker_data, name, errno, path, sizeof path);
		snprintf(why, whylen, "cannot create %s", path);
	}
	return fd;
}

/* A temp as messages name it: unnamed ones by where they are. */
static const char *sync_temp_shown(int unnamed, const char *name, char *out, size_t n)
{
	if (unnamed)
		snprintf(out, n, "a temp in %s/content", worker_data.path);
	else
		snprintf(out, n, "%s/%s", worker_data.path, name);
	return out;
}

/*
 * Starts (or restarts) entry on slot x: a small file into memory for the
 * writer, a large one into a fresh private temp file and digest.
 */
static int sync_start(struct sync *s, struct sync_xfer *x, size_t entry)
{
	const struct manifest_entry *e = &s->m.entries[entry];
	char why[SYNC_ERR_MAX];
	CURLMcode mc;
	CURLcode rc;

	x->entry = entry;
	x->got = 0;
	x->local_err[0] = x->errbuf[0] = '\0';
	free(x->url);
	if ((x->url = sync_entry_url(s, x->easy, e)) == NULL) {
		sync_fail(s, "out of memory for the URL of %s", e->path);
		return -1;
	}
	if (e->size < HASHPIPE_MIN) {
		if ((x->small = malloc(sizeof *x->small + (size_t)e->size)) == NULL) {
			sync_fail(s, "out of memory for %s", e->path);
			return -1;
		}
		x->small->entry = entry;
	} else {
		/* The transfers' thread never waits for a slot: without one the temp is named. */
		if ((x->fd = sync_new_temp(s, 0, &x->seq, x->tmp, sizeof x->tmp, &x->unnamed, why,
		    sizeof why)) < 0) {
			sync_fail(s, "%s", why);
			x->tmp[0] = '\0';
			return -1;
		}
		writeout_init(&x->out, x->fd);
		if (EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1) {
			sync_fail(s, "cannot start a sha256 digest for %s", e->path);
			return -1;
		}
		/* Without a thread to be had, the file is done in line: slower, and as right. */
		x->pipe = hashpipe_start_joined(&x->out, x->md);
	}
	if ((rc = curl_easy_setopt(x->easy, CURLOPT_URL, x->url)) != CURLE_OK) {
		sync_fail(s, "libcurl refused the URL for %s: %s", e->path, curl_easy_strerror(rc));
		return -1;
	}
	if ((mc = curl_multi_add_handle(s->multi, x->easy)) != CURLM_OK) {
		sync_fail(s, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -1;
	}
	x->in_multi = 1;
	return 0;
}

/* Stops whatever slot x is doing and removes its temp file: nothing partial is left. */
/* tmp ("tmp/NAME") removed; a failure is only logged: tmp/ loses what is left at depotd's next start. */
static void sync_remove_temp(struct sync *s, const char *tmp)
{
	if (unlinkat(s->tmpfd, tmp + strlen("tmp/"), 0) < 0)
		log_warn("task %lld: cannot remove %s/%s: %s", (long long)s->task,
		    worker_data.path, tmp, strerror(errno));
}

static void sync_drop(struct sync *s, struct sync_xfer *x)
{
	CURLMcode mc;

	if (x->in_multi) {
		/* Failing here leaves the handle to curl_multi_cleanup; the temp goes either way. */
		if ((mc = curl_multi_remove_handle(s->multi, x->easy)) != CURLM_OK)
			log_warn("task %lld: curl_multi_remove_handle: %s", (long long)s->task,
			    curl_multi_strerror(mc));
		x->in_multi = 0;
	}
	/* The pipe's thread writes to fd: it stops before fd closes. What it wrote goes with the temp. */
	sync_pipe_end(x);
	free(x->small);
	x->small = NULL;
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	if (x->unnamed) {
		/* Its bytes went with the fd, and its slot is free. */
		sync_release_held(s, 1);
		x->unnamed = 0;
	} else if (x->tmp[0] != '\0')
		sync_remove_temp(s, x->tmp);
	x->tmp[0] = '\0';
}

/* A transfer ended: verify and store it, schedule a retry, or fail the sync. */
static void sync_finish(struct sync *s, struct sync_xfer *x, CURLcode rc)
{
	const struct manifest_entry *e = &s->m.entries[x->entry];
	char why[SYNC_ERR_MAX], shown[SYNC_PATH_MAX];
	CURLMcode mc;

	/* A handle still in the multi could not be reused for the next file. */
	if ((mc = curl_multi_remove_handle(s->multi, x->easy)) != CURLM_OK) {
		sync_fail(s, "libcurl: %s", curl_multi_strerror(mc));
		return;
	}
	x->in_multi = 0;
	sync_redact(x->url, shown, sizeof shown);
	if (rc != CURLE_OK) {
		if (x->local_err[0] != '\0') {
			sync_fail(s, "%s (from %s)", x->local_err, shown);
			return;
		}
		sync_describe(s, x->easy, rc, x->errbuf, x->url, why, sizeof why);
		s->bytes_now -= x->got;
		sync_drop(s, x);
		if (!sync_transient(x->easy, rc) || ++x->attempt >= SYNC_ATTEMPTS) {
			if (x->attempt > 0)
				sync_fail(s, "cannot download %s: %s (after %d attempts)", e->path, why,
				    x->attempt);
			else
				sync_fail(s, "cannot download %s: %s", e->path, why);
			return;
		}
		x->retry_at = time_mono_ms() + ((int64_t)SYNC_BACKOFF_MS << (x->attempt - 1));
		sync_log(s, "retrying %s (attempt %d of %d): %s", e->path, x->attempt + 1,
		    SYNC_ATTEMPTS, why);
		return;
	}
	if (x->got != e->size) {
		sync_fail(s, "size mismatch for %s from %s: expected %lld bytes, got %lld", e->path,
		    shown, (long long)e->size, (long long)x->got);
		return;
	}
	if (x->small != NULL) {
		struct sync_small *job = x->small;

		x->small = NULL;
		/* The writer's failure is the sync's (werr); without a writer the file is done here. */
		if (s->writer != NULL ? workq_push(s->writer, job, (size_t)e->size) < 0 :
		    sync_write_small(s, job) != 0) {
			/* A writer's failure is told in werr, which it wrote before the queue stopped. */
			if (s->writer != NULL && errno == ENOMEM)
				sync_fail(s, "out of memory for %s", e->path);
			else
				sync_fail(s, "%s", s->werr);
			return;
		}
	} else if (sync_finish_large(s, x) < 0)
		return;
	x->entry = SIZE_MAX;
	x->attempt = 0;
	s->files_done++;
	s->dl_files++;
	s->dl_bytes += e->size;
}

/*
 * The digest md holds against entry e's: 0, or -1 with why, which names
 * url (without credentials), where the file came from: NULL makes it again.
 */
static int sync_check_digest(struct sync *s, const struct manifest_entry *e, EVP_MD_CTX *md,
    const char *url, char *why, size_t whylen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char got[65], shown[SYNC_PATH_MAX];
	char *made = NULL;

	if (EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != 32) {
		snprintf(why, whylen, "cannot finish the sha256 digest of %s", e->path);
		return -1;
	}
	hashpipe_hex(d, got);
	if (strcmp(got, e->sha256) == 0)
		return 0;
	if (url == NULL)
		url = made = sync_entry_url(s, NULL, e);
	sync_redact(url != NULL ? url : e->path, shown, sizeof shown);
	free(made);
	snprintf(why, whylen, "sha256 mismatch for %s from %s: expected %s, got %s", e->path, shown,
	    e->sha256, got);
	return -1;
}

/* A verified temp (fd: an unnamed one; -1: named by seq) joins those waiting for the committer. */
static void sync_verified(struct sync *s, size_t entry, uint64_t seq, int fd)
{
	pthread_mutex_lock(&s->cmu);
	s->pend[s->npend++] = (struct sync_pending){ entry, seq, fd };
	/*
	 * Only a committer with nothing to do waits for this: one between
	 * turns wakes at its time (a wake-up a file was 5,000 futile ones).
	 */
	if (s->cidle)
		pthread_cond_signal(&s->ccv);
	s->cpend = s->npend;
	pthread_mutex_unlock(&s->cmu);
}

/* A large file's end: its pipe drained, its temp closed and checked. 0, or -1 with the sync failed. */
static int sync_finish_large(struct sync *s, struct sync_xfer *x)
{
	const struct manifest_entry *e = &s->m.entries[x->entry];
	char why[SYNC_ERR_MAX], where[SYNC_PATH_MAX];
	int bad;

	if (sync_pipe_end(x) < 0) {
		sync_fail(s, "cannot write %s for %s: %s", sync_temp_shown(x->unnamed, x->tmp, where,
		    sizeof where), e->path, strerror(errno));
		return -1;
	}
	/* Its last bytes go to the disk now too, so the syncfs before the version waits for little. */
	writeout_start(&x->out);
	/*
	 * 0644 now, on the fd at hand: publish hard-links the stored inode
	 * where a web server reads it. A named temp is closed now; an unnamed
	 * one stays open until the committer links it.
	 */
	bad = fchmod(x->fd, 0644) < 0 ? errno : 0;
	if (!x->unnamed) {
		if (close(x->fd) < 0 && bad == 0)
			bad = errno;
		x->fd = -1;
	}
	if (bad != 0) {
		sync_fail(s, "cannot write %s for %s: %s", sync_temp_shown(x->unnamed, x->tmp, where,
		    sizeof where), e->path, strerror(bad));
		return -1;
	}
	if (sync_check_digest(s, e, x->md, x->url, why, sizeof why) < 0) {
		sync_fail(s, "%s", why);
		return -1;
	}
	/* The fd and its slot are the committer's now. */
	sync_verified(s, x->entry, x->seq, x->unnamed ? x->fd : -1);
	x->fd = -1;
	x->unnamed = 0;
	x->tmp[0] = '\0';
	return 0;
}

/*
 * The writer's job (or the transfers' thread's, without a writer): a small
 * file's bytes checked against the manifest's digest and written to a new
 * temp, 0644 (as sync_finish_large's). 0, or -1 with werr; the temp goes
 * with a failure. Frees job either way.
 */
static int sync_write_small(void *ctx, void *arg)
{
	struct sync *s = ctx;
	struct sync_small *job = arg;
	const struct manifest_entry *e = &s->m.entries[job->entry];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct writeout out;
	char tmp[64], why[SYNC_ERR_MAX], where[SYNC_PATH_MAX];
	uint64_t seq;
	int fd = -1, bad = 0, unnamed;

	/* A cancel stops the writers too: the queue goes, unwritten (the sync ends canceled, not failed). */
	if (atomic_load(&s->ws->cancel)) {
		snprintf(why, sizeof why, "canceled");
		goto fail;
	}
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, job->bytes, (size_t)e->size) != 1) {
		snprintf(why, sizeof why, "sha256 of %s failed", e->path);
		goto fail;
	}
	/* Only a mismatch pays for making the URL its message names. */
	if (sync_check_digest(s, e, md, NULL, why, sizeof why) < 0)
		goto fail;
	/* A name is made only where an unnamed temp cannot be had, or held. */
	if ((fd = sync_new_temp(s, 1, &seq, tmp, sizeof tmp, &unnamed, why, sizeof why)) < 0)
		goto fail;
	writeout_init(&out, fd);
	if (writeout_write(&out, job->bytes, (size_t)e->size) < 0 || fchmod(fd, 0644) < 0)
		bad = errno;
	/* A named temp is closed now; an unnamed one stays open until the committer links it. */
	if ((bad != 0 || !unnamed) && close(fd) < 0 && bad == 0)
		bad = errno;
	if (bad != 0) {
		snprintf(why, sizeof why, "cannot write %s for %s: %s",
		    sync_temp_shown(unnamed, tmp, where, sizeof where), e->path, strerror(bad));
		if (unnamed)
			sync_release_held(s, 1);
		else
			sync_remove_temp(s, tmp);
		goto fail;
	}
	sync_verified(s, job->entry, seq, unnamed ? fd : -1);
	EVP_MD_CTX_free(md);
	free(job);
	return 0;
fail:
	/* The first failure is the sync's; another thread's meanwhile is its consequence. */
	pthread_mutex_lock(&s->cmu);
	if (s->werr[0] == '\0')
		snprintf(s->werr, sizeof s->werr, "%s", why);
	pthread_mutex_unlock(&s->cmu);
	EVP_MD_CTX_free(md);
	free(job);
	return -1;
}

/*
 * Takes room for one more unnamed temp held open: 1. At held_max, with
 * wait, it urges the committer's turn, which closes what it links, and
 * waits for it. 0 (the caller names its temp instead) without room, or
 * when the committer ended or never ran; -1 at a cancel.
 */
static int sync_hold_one(struct sync *s, int wait)
{
	int rc;

	pthread_mutex_lock(&s->cmu);
	while (wait && s->held >= s->held_max && s->committer_on && !s->cexited &&
	    !atomic_load(&s->ws->cancel)) {
		int64_t until = time_mono_ms() + SYNC_POLL_MS;
		struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000 };

		s->curge = 1;
		pthread_cond_signal(&s->ccv);
		pthread_cond_timedwait(&s->wcv, &s->cmu, &ts);
	}
	rc = atomic_load(&s->ws->cancel) ? -1 : s->held < s->held_max && !s->cexited;
	if (rc > 0)
		s->held++;
	pthread_mutex_unlock(&s->cmu);
	return rc;
}

/* A job the writer will not run: its bytes go, and nothing else was made for it. */
static void sync_drop_small(void *ctx, void *job)
{
	(void)ctx;
	free(job);
}

/* Every SYNC_GET entry, download_concurrency at a time, until done, failed or canceled. */
static int sync_download(struct sync *s)
{
	size_t i;
	CURLMcode mc;

	s->nx = (size_t)s->imp.concurrency < (size_t)s->to_get ? (size_t)s->imp.concurrency
	    : (size_t)s->to_get;
	if (s->nx == 0)
		return 0;
	/* Each entry to get is verified at most once: the list never grows under the committer. */
	if ((s->x = calloc(s->nx, sizeof *s->x)) == NULL ||
	    (s->pend = calloc((size_t)s->to_get, sizeof *s->pend)) == NULL) {
		sync_fail(s, "out of memory");
		return -1;
	}
	for (i = 0; i < s->nx; i++) {
		struct sync_xfer *x = &s->x[i];
		/* max_speed is for the whole sync: each of the transfers at once gets its share. */
		curl_off_t share = (curl_off_t)(s->imp.max_speed / (int64_t)s->nx);
		const char *failed = NULL;
		CURLcode rc = CURLE_OK;

		x->s = s;
		x->entry = SIZE_MAX;
		x->fd = -1;
		if ((x->easy = curl_easy_init()) == NULL || (x->md = EVP_MD_CTX_new()) == NULL) {
			sync_fail(s, "out of memory for download slots");
			return -1;
		}
		if (sync_easy_setup(s, x->easy, x->errbuf) < 0)
			return -1;
		if (s->imp.max_speed > 0 && share < 1)
			share = 1;
#define SYNC_SET(opt, val) \
	do { \
		if (rc == CURLE_OK && (rc = curl_easy_setopt(x->easy, opt, val)) != CURLE_OK) \
			failed = #opt; \
	} while (0)
		SYNC_SET(CURLOPT_WRITEFUNCTION, sync_file_write);
		SYNC_SET(CURLOPT_WRITEDATA, x);
		SYNC_SET(CURLOPT_PRIVATE, x);
		SYNC_SET(CURLOPT_MAX_RECV_SPEED_LARGE, share);
		/*
		 * libcurl 7.88 reads up to 100 buffers before it applies the limit
		 * (curl PR #7631): on a fast link a whole file came in that burst.
		 * Small buffers keep the burst to a fraction of a second's share.
		 */
		if (share > 0)
			SYNC_SET(CURLOPT_BUFFERSIZE, (long)(share / 100 < 1024 ? 1024 :
			    share / 100 > 16384 ? 16384 : share / 100));
		else
			SYNC_SET(CURLOPT_BUFFERSIZE, SYNC_BUFFER_SIZE);
#undef SYNC_SET
		if (rc != CURLE_OK) {
			sync_fail(s, "libcurl refused %s: %s", failed, curl_easy_strerror(rc));
			return -1;
		}
	}
	sync_committer_start(s);
	sync_temps_plan(s);
	sync_writer_start(s);
	for (;;) {
		int64_t now = time_mono_ms();
		int busy = 0, running, finished = 0, held, writer_failed = 0;
		CURLMsg *msg;
		int q;

		if (sync_cancel_requested(s) || atomic_load(&s->cfailed))
			return -1;
		/* The disk is behind: downloads under way go on, no new one starts. */
		held = s->writer != NULL &&
		    workq_backlog(s->writer, &writer_failed) > SYNC_WRITER_BACKLOG;
		if (writer_failed) {
			sync_fail(s, "%s", s->werr);
			return -1;
		}
		for (i = 0; i < s->nx && s->err[0] == '\0'; i++) {
			struct sync_xfer *x = &s->x[i];

			if (x->in_multi) {
				busy = 1;
				continue;
			}
			if (x->entry != SIZE_MAX) {
				busy = 1;
				if (now >= x->retry_at)
					sync_start(s, x, x->entry);
				continue;
			}
			while (s->next < s->m.n && s->need[s->next] != SYNC_GET)
				s->next++;
			if (s->next < s->m.n && held)
				busy = 1;
			else if (s->next < s->m.n) {
				busy = 1;
				sync_start(s, x, s->next++);
			}
		}
		if (s->err[0] != '\0')
			return -1;
		if (!busy)
			return 0;
		if ((mc = curl_multi_perform(s->multi, &running)) != CURLM_OK) {
			sync_fail(s, "libcurl: %s", curl_multi_strerror(mc));
			return -1;
		}
		while ((msg = curl_multi_info_read(s->multi, &q)) != NULL && s->err[0] == '\0') {
			struct sync_xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			finished++;
			if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x) != CURLE_OK ||
			    x == NULL) {
				sync_fail(s, "libcurl lost track of a transfer");
				return -1;
			}
			sync_finish(s, x, msg->data.result);
		}
		if (s->err[0] != '\0')
			return -1;
		sync_progress(s, 0);
		/*
		 * A finished transfer frees its slot: start the next one at once.
		 * (file:// transfers complete inside curl_multi_perform and have
		 * no socket to wake the poll.)
		 */
		if (finished > 0)
			continue;
		/* Held with nothing under way, no socket wakes the poll when the writer catches up. */
		if ((mc = curl_multi_poll(s->multi, NULL, 0, held ? SYNC_HELD_POLL_MS : SYNC_POLL_MS,
		    NULL)) != CURLM_OK) {
			sync_fail(s, "libcurl: %s", curl_multi_strerror(mc));
			return -1;
		}
	}
}

static void sync_tmp_name(const struct sync *s, uint64_t seq, char *out, size_t n)
{
	snprintf(out, n, "tmp/dl-%lld-%llu", (long long)s->task, (unsigned long long)seq);
}

/* The name an unnamed temp takes only to replace a damaged stored file: in content/, its file system. */
static void sync_unnamed_name(const struct sync *s, uint64_t seq, char *out, size_t n)
{
	snprintf(out, n, "content/dl-%lld-%llu", (long long)s->task, (unsigned long long)seq);
}

/*
 * A syncfs, then the verified temps from ncommitted up to upto into the
 * store: the store never names a file a crash could leave with missing
 * blocks (a later sync trusts a stored file of the right size). One
 * syncfs for all of them, not an fsync each: every temp up to upto was
 * closed before it began. 0; -1 with why at the first that cannot be
 * stored; 1 at a cancel. Those not moved stay temps, which sync_cleanup
 * removes. Either thread's: it sets nothing but ncommitted and the times.
 */
static int sync_store_verified(struct sync *s, size_t upto, int64_t *ms_sync, int64_t *ms_moves,
    char *why, size_t whylen)
{
	char tmp[64], err[SYNC_ERR_MAX];
	int64_t t0 = time_mono_ms();
	size_t closed = 0;
	int rc = 0;

	/* After a failed syncfs, one that succeeds proves nothing about the bytes before it. */
	if (atomic_load(&s->sync_broken)) {
		snprintf(why, whylen, "a syncfs failed: the %zu files verified and not yet stored are "
		    "dropped, their bytes perhaps not on the disk", upto - s->ncommitted);
		return -1;
	}
	if (content_sync_store(&worker_data, s->storefd, why, whylen) < 0) {
		atomic_store(&s->sync_broken, 1);
		return -1;
	}
	*ms_sync += time_mono_ms() - t0;
	t0 = time_mono_ms();
	for (; s->ncommitted < upto; s->ncommitted++) {
		struct sync_pending *p = &s->pend[s->ncommitted];
		const struct manifest_entry *e = &s->m.entries[p->entry];

		if ((s->ncommitted & 1023) == 0 && atomic_load(&s->ws->cancel)) {
			rc = 1;
			break;
		}
		if (p->fd >= 0)
			sync_unnamed_name(s, p->seq, tmp, sizeof tmp);
		else
			sync_tmp_name(s, p->seq, tmp, sizeof tmp);
		if ((p->fd >= 0 ? content_commit_fd(&worker_data, &s->fans, p->fd, s->storefd, tmp,
		    e->sha256, e->size, err, sizeof err) : content_commit_at(&worker_data, &s->fans,
		    s->tmpfd, tmp, e->sha256, e->size, err, sizeof err)) < 0) {
			snprintf(why, whylen, "cannot store %s: %s", e->path, err);
			rc = -1;
			break;
		}
		if (p->fd >= 0) {
			close(p->fd);
			p->fd = -1;
			/* A writer waiting for room goes on before the whole turn is done. */
			if (++closed == 64) {
				sync_release_held(s, closed);
				closed = 0;
			}
		}
	}
	sync_release_held(s, closed);
	*ms_moves += time_mono_ms() - t0;
	return rc;
}

/* n unnamed temps the committer linked and closed: room for the writer to hold as many. */
static void sync_release_held(struct sync *s, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&s->cmu);
	s->held -= n;
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->cmu);
}

/*
 * The committer's thread: whenever temps were verified since its last
 * turn, stores them (sync_store_verified). Its syncfs also has the disk
 * write what the downloads wrote so far, not all of it at the end. Until
 * sync_committer_stop, a failure (cerr) or a cancel.
 */
static void *sync_committer(void *arg)
{
	struct sync *s = arg;
	int64_t next = 0;

	pthread_mutex_lock(&s->cmu);
	for (;;) {
		size_t upto;
		int rc;

		while (!s->cstop && (s->cpend == s->ncommitted || (time_mono_ms() < next && !s->curge))) {
			if (s->cpend == s->ncommitted) {
				s->cidle = 1;
				pthread_cond_wait(&s->ccv, &s->cmu);
				s->cidle = 0;
			} else {
				struct timespec ts = { .tv_sec = next / 1000,
				    .tv_nsec = (long)(next % 1000) * 1000000 };
				pthread_cond_timedwait(&s->ccv, &s->cmu, &ts);
			}
		}
		if (s->cstop)
			break;
		next = time_mono_ms() + SYNC_COMMIT_GAP_MS;
		s->curge = 0;
		upto = s->cpend;
		pthread_mutex_unlock(&s->cmu);
		s->bg_moved -= (int64_t)s->ncommitted;
		rc = sync_store_verified(s, upto, &s->ms_bg_syncs, &s->ms_bg_moves, s->cerr,
		    sizeof s->cerr);
		s->bg_moved += (int64_t)s->ncommitted;
		s->bg_syncs++;
		pthread_mutex_lock(&s->cmu);
		if (rc < 0)
			atomic_store(&s->cfailed, 1);
		if (rc != 0)
			break;
	}
	s->cexited = 1;
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->cmu);
	return NULL;
}

/* Without a thread to be had, everything waits for sync_commit at the end: slower, and as right. */
static void sync_committer_start(struct sync *s)
{
	s->committer_on = pthread_create(&s->committer, NULL, sync_committer, s) == 0;
}

/* Whether temps are unnamed, and how many may be held open (struct sync: unnamed). */
static void sync_temps_plan(struct sync *s)
{
	size_t other = sizeof s->fans.fd / sizeof s->fans.fd[0] + 2 * s->nx;
	struct rlimit rl;

	/*
	 * Half the fds this process may open beyond the store's fan-out
	 * directories (the committer keeps each open once used) and a socket
	 * and a large file's temp a transfer; the other half for the rest.
	 * None without the committer to close them, or where that half is
	 * too few to matter.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > other))
		s->held_max = rl.rlim_cur == RLIM_INFINITY || (rl.rlim_cur - other) / 2 > SYNC_HELD_MAX ?
		    SYNC_HELD_MAX : (size_t)(rl.rlim_cur - other) / 2;
	s->unnamed = s->committer_on && s->held_max >= 64 && content_unnamed_check(s->storefd) == 0;
}

/* Without a thread or memory to be had, small files are written in line: slower, and as right. */
static void sync_writer_start(struct sync *s)
{
	s->writer = workq_start(sync_write_small, sync_drop_small, s, SYNC_WRITERS);
}

/*
 * Stops the writer: with drain, once it wrote every file it was handed;
 * without, once the file it is writing is done (the rest are dropped).
 * Its failure becomes the sync's.
 */
static void sync_writer_stop(struct sync *s, int drain)
{
	if (s->writer == NULL)
		return;
	if (workq_stop(s->writer, drain))
		sync_fail(s, "%s", s->werr);
	s->writer = NULL;
}

/* Stops the committer once its turn is done; its failure becomes the sync's. */
static void sync_committer_stop(struct sync *s)
{
	if (!s->committer_on)
		return;
	pthread_mutex_lock(&s->cmu);
	s->cstop = 1;
	pthread_cond_signal(&s->ccv);
	pthread_mutex_unlock(&s->cmu);
	pthread_join(s->committer, NULL);
	s->committer_on = 0;
	if (atomic_load(&s->cfailed))
		sync_fail(s, "%s", s->cerr);
}

/* What the committer left: the main thread stores it, the committer stopped. -1 failed or canceled. */
static int sync_commit(struct sync *s)
{
	char why[SYNC_ERR_MAX];
	int rc;

	if (s->ncommitted == s->npend)
		return 0;
	rc = sync_store_verified(s, s->npend, &s->ms_sync_bytes, &s->ms_moves, why, sizeof why);
	if (rc < 0)
		sync_fail(s, "%s", why);
	if (rc > 0)
		sync_cancel_requested(s);
	return rc == 0 ? 0 : -1;
}

/*
 * A failed sync keeps what it verified, the committer's and the rest:
 * a retry need not download it again. (A canceled one does not wait for
 * a syncfs: its temps go; what the committer stored stays, for the next
 * sync or orphans.)
 */
static void sync_keep_verified(struct sync *s)
{
	char first[SYNC_ERR_MAX];

	if (s->canceled)
		return;
	if (s->ncommitted < s->npend) {
		/* sync_fail keeps the first failure, which is the sync's: this one only goes to the logs. */
		snprintf(first, sizeof first, "%s", s->err);
		s->err[0] = '\0';
		if (sync_commit(s) < 0 && s->err[0] != '\0') {
			sync_log(s, "could not keep the files verified before the failure: %s", s->err);
			log_warn("task %lld: could not keep the files verified before the failure: %s",
			    (long long)s->task, s->err);
		}
		snprintf(s->err, sizeof s->err, "%s", first);
	}
	if (s->ncommitted > 0)
		sync_log(s, "kept %zu verified files in the store", s->ncommitted);
}

/* Everything this sync stored, names too, reaches the disk before the daemon may record a version of it. */
static int sync_make_durable(struct sync *s)
{
	char why[512];
	int64_t t0 = time_mono_ms();

	if (content_sync_store(&worker_data, s->storefd, why, sizeof why) < 0) {
		atomic_store(&s->sync_broken, 1);
		sync_fail(s, "%s", why);
		return -1;
	}
	s->ms_sync_names = time_mono_ms() - t0;
	return 0;
}

/*
 * The new version's files for the daemon, one `sha256,size,relative_path`
 * a line (the path last: it may hold commas), in manifest order. A file
 * rather than the done message, which a 100,000-entry list would overflow.
 */
static int sync_write_list(struct sync *s)
{
	int fd = fs_open_beneath(worker_data.fd, s->list_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char why[1024];
	FILE *f;
	size_t i;

	if (fd < 0 || fchmod(fd, 0600) < 0 || (f = fdopen(fd, "w")) == NULL) {
		fs_beneath_error(&worker_data, s->list_path, errno, why, sizeof why);
		sync_fail(s, "cannot create %s", why);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (i = 0; i < s->m.n; i++) {
		const struct manifest_entry *e = &s->m.entries[i];

		if (fprintf(f, "%s,%lld,%s\n", e->sha256, (long long)e->size, e->path) < 0)
			break;
	}
	if (i < s->m.n || fflush(f) != 0 || fsync(fileno(f)) < 0) {
		sync_fail(s, "cannot write %s/%s: %s", worker_data.path, s->list_path, strerror(errno));
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0) {
		sync_fail(s, "cannot write %s/%s: %s", worker_data.path, s->list_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Releases everything; temp files of unfinished transfers and the CRL copy are removed. */
static void sync_cleanup(struct sync *s)
{
	size_t i;

	sync_writer_stop(s, 0);
	sync_committer_stop(s);
	for (i = 0; i < s->nx; i++) {
		sync_drop(s, &s->x[i]);
		curl_easy_cleanup(s->x[i].easy);
		EVP_MD_CTX_free(s->x[i].md);
		free(s->x[i].url);
	}
	free(s->x);
	/* Verified temps that never made it into the store: an unnamed one goes with its fd. */
	for (; s->ncommitted < s->npend; s->ncommitted++) {
		const struct sync_pending *p = &s->pend[s->ncommitted];
		char tmp[64];

		if (p->fd >= 0)
			close(p->fd);
		else {
			sync_tmp_name(s, p->seq, tmp, sizeof tmp);
			sync_remove_temp(s, tmp);
		}
	}
	free(s->pend);
	content_fans_close(&s->fans);
	if (s->tmpfd >= 0)
		close(s->tmpfd);
	if (s->storefd >= 0)
		close(s->storefd);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	if (s->crl_path[0] != '\0' && fs_unlink_beneath(worker_data.fd, s->crl_path) < 0)
		log_warn("task %lld: cannot remove %s: %s", (long long)s->task, s->crl_full,
		    strerror(errno));
	manifest_free(&s->m);
	free(s->need);
	free(s->mbuf);
	free(s->base);
	free(s->manifest_url);
	if (s->logfd >= 0)
		close(s->logfd);
	/* Last: dropping a transfer above gives its slot back under cmu. */
	pthread_cond_destroy(&s->ccv);
	pthread_cond_destroy(&s->wcv);
	pthread_mutex_destroy(&s->cmu);
}

void sync_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	struct sync *s = calloc(1, sizeof *s);
	char why[SYNC_ERR_MAX], need[32];
	pthread_condattr_t ca;
	int rc;

	*result = *error = NULL;
	*state = TASK_FAILED;
	if (s == NULL) {
		*error = worker_error(REASON_EXCEPTION, "out of memory");
		return;
	}
	s->ws = ws;
	s->logfd = -1;
	s->tmpfd = -1;
	s->storefd = -1;
	/* time_mono_ms's clock, which the committer's turns are timed by. */
	pthread_mutex_init(&s->cmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->ccv, &ca);
	pthread_cond_init(&s->wcv, &ca);
	pthread_condattr_destroy(&ca);
	content_fans_init(&s->fans);
	s->log_max = 1024 * 1024;
	pthread_mutex_lock(&ws->mu);
	snprintf(ws->progress_unit, sizeof ws->progress_unit, "files");
	ws->progress_done = 0;
	ws->progress_total = -1;
	snprintf(ws->progress_message, sizeof ws->progress_message, "fetching PULP_MANIFEST");
	pthread_mutex_unlock(&ws->mu);
	pthread_once(&sync_once, sync_global_init);
	if (sync_init_rc != CURLE_OK) {
		sync_fail(s, "libcurl cannot start: %s", curl_easy_strerror(sync_init_rc));
		goto out;
	}
	if (sync_read_task(s, task) < 0 || sync_prepare(s) < 0)
		goto out;
	if ((s->multi = curl_multi_init()) == NULL) {
		sync_fail(s, "curl_multi_init failed");
		goto out;
	}
	log_info("task %lld: sync %s from %s", (long long)s->task, s->repo, s->feed_shown);
	sync_log(s, "sync %s: fetching %s%s%s", s->repo, s->feed_shown,
	    s->imp.proxy_url && !s->is_file ? " through proxy " : "",
	    s->imp.proxy_url && !s->is_file ? s->proxy_shown : "");
	if (sync_fetch_manifest(s) < 0)
		goto out;
	if (manifest_parse(s->mbuf, s->mlen, &s->m, why, sizeof why) < 0) {
		sync_fail(s, "the manifest %s is invalid: %s", s->feed_shown, why);
		goto out;
	}
	if (sync_plan(s) < 0)
		goto out;
	sync_human(s->bytes_need, need, sizeof need);
	sync_log(s, "%zu files in the manifest; %lld to download (%s)", s->m.n,
	    (long long)s->to_get, need);
	sync_progress(s, 1);
	s->ms_download = time_mono_ms();
	rc = sync_download(s);
	s->ms_download = time_mono_ms() - s->ms_download;
	/* Every file is downloaded: the writers and the committer may still take a while. */
	sync_progress(s, 1);
	s->ms_drain = time_mono_ms();
	sync_writer_stop(s, rc == 0 && s->err[0] == '\0' && !sync_cancel_requested(s));
	s->ms_drain = time_mono_ms() - s->ms_drain;
	s->ms_join = time_mono_ms();
	sync_committer_stop(s);
	s->ms_join = time_mono_ms() - s->ms_join;
	/* A cancel while the writers drained is the sync's end, not their failure ("canceled"). */
	if (sync_cancel_requested(s) || rc < 0 || s->err[0] != '\0')
		goto out;
	if (sync_commit(s) < 0 || sync_make_durable(s) < 0 || sync_write_list(s) < 0)
		goto out;
	sync_log(s, "stored: downloads %lld ms, the writers' last files %lld ms; meanwhile %lld "
	    "syncfs in %lld ms and %lld files moved into the store in %lld ms; after them the "
	    "last of those turns %lld ms, "
	    "syncfs before the last files enter the store %lld ms, moving %lld files in %lld ms, "
	    "syncfs after %lld ms",
	    (long long)s->ms_download, (long long)s->ms_drain, (long long)s->bg_syncs,
	    (long long)s->ms_bg_syncs, (long long)s->bg_moved, (long long)s->ms_bg_moves, (long long)s->ms_join,
	    (long long)s->ms_sync_bytes,
	    (long long)s->npend - s->bg_moved, (long long)s->ms_moves,
	    (long long)s->ms_sync_names);
	s->files_done = (int64_t)s->m.n;
	sync_progress(s, 1);
	*state = TASK_COMPLETED;
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "files", (double)s->m.n);
	cJSON_AddNumberToObject(*result, "bytes", (double)s->bytes_total);
	cJSON_AddNumberToObject(*result, "downloaded_files", (double)s->dl_files);
	cJSON_AddNumberToObject(*result, "downloaded_bytes", (double)s->dl_bytes);
	cJSON_AddStringToObject(*result, "list", s->list_path);
	sync_log(s, "completed: %zu files, %lld downloaded (%lld bytes)", s->m.n,
	    (long long)s->dl_files, (long long)s->dl_bytes);
out:
	if (*result == NULL) {
		sync_keep_verified(s);
		/* No list means no version: the daemon must not find a stale one. */
		if (s->list_path != NULL && fs_unlink_beneath(worker_data.fd, s->list_path) < 0)
			log_warn("task %lld: cannot remove %s/%s: %s", (long long)s->task,
			    worker_data.path, s->list_path,
			    strerror(errno));
		if (s->canceled) {
			*state = TASK_CANCELED;
			*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
			sync_log(s, "canceled on the daemon's request");
		} else {
			*error = worker_error(REASON_EXCEPTION, s->err[0] ? s->err : "sync failed");
			sync_log(s, "failed: %s", s->err);
			log_warn("task %lld: sync %s failed: %s", (long long)s->task, s->repo, s->err);
		}
	}
	sync_cleanup(s);
	free(s);
}
