/* metrics.c: the daemon's numbers in Prometheus' text format, for the metrics command and [metrics] listen's GET /metrics. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"

#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

/*
 * The exposition format, version 0.0.4: what every Prometheus reads. The
 * OpenMetrics format would add a "# EOF" line and another content type;
 * one format, served the same by the command and the endpoint, is simpler
 * to check (promtool check metrics reads this one).
 */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Resources shown by name; the rest are summed as resource="_other", so a queue of many names stays small. */
#define METRICS_TOP_RESOURCES 20
/* The content store's walk blocks the loop: a render reuses one this recent. */
#define METRICS_CONTENT_WALK_MS 60000
/* How often the main loop renders the text the endpoint serves. */
#define METRICS_RENDER_MS 1000

struct text {
	char *p;
	size_t len, cap;
	int failed;
};

/* Final tasks by type, from the database once and counted as tasks end (metrics_task_finished). */
struct type_counts {
	char *type;
	int64_t n[TASK_STATE_COUNT];
};

/* Upper bounds, in seconds, of a histogram's buckets; +Inf follows. */
static const double latency_bounds[] = { 0.01, 0.1, 1, 10, 60, 600, 3600 };
static const double duration_bounds[] = { 0.1, 1, 10, 60, 600, 3600, 21600 };
#define NBOUNDS (sizeof latency_bounds / sizeof latency_bounds[0])
_Static_assert(sizeof duration_bounds == sizeof latency_bounds, "one bucket count");

struct histogram {
	uint64_t bucket[NBOUNDS + 1];	/* not cumulative; the last is above every bound */
	uint64_t count;
	double sum;
};

struct queue_row {
	const char *name;		/* lives as long as the lock manager's resource */
	int64_t depth, oldest_ms;
};

struct queue_rows {
	struct queue_row *rows;
	size_t n, cap;
	int64_t now;
	int failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_label(struct text *t, const char *value);
static void text_family(struct text *t, const char *name, const char *type, const char *help);
static int final_counts_load(void);
static struct type_counts *final_counts_of(const char *type, int create);
static void observe(struct histogram *h, const double *bounds, double v);
static int64_t task_ready_since(const struct task *t);
static int last_backup(int64_t *at, int64_t *size);
static void render_tasks(struct text *t);
static void render_histograms(struct text *t, const char *name, const char *help,
    const double *bounds, const struct histogram *h);
static void render_queues(struct text *t);
static void render_workers(struct text *t);
static void render_storage(struct text *t);
static void http_serve(nng_aio *aio);

static struct type_counts *finals;
static size_t nfinals;
static int finals_loaded;
static struct histogram latency[TASKTYPE_COUNT], duration[TASKTYPE_COUNT];
static uint64_t sync_files, sync_bytes;
static int backup_loaded, backup_found;
static int64_t backup_at, backup_size;

/*
 * The endpoint's text. The handler runs on an nng thread and the daemon's
 * state belongs to the main thread, so the main loop renders the text here
 * each second and the handler only copies it under the lock: a scrape,
 * however slow or hostile its client, never waits for the loop nor
 * touches its state, and the loop is never woken by one. The price is a
 * render a second while listen is set, and numbers up to a second old.
 */
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static char *http_text;
static size_t http_len;
static nng_http_server *http_srv;
static int64_t http_rendered_mono;

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 > t->len + (size_t)n + 1 ? t->cap * 2 : t->len + (size_t)n + 1;
		char *p = realloc(t->p, cap);
		if (p == NULL) {
			t->failed = 1;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

/* A label's value, quoted as the format wants: names come from users (resources, workers, task types). */
static void text_label(struct text *t, const char *value)
{
	text_add(t, "\"");
	for (const char *s = value; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			text_add(t, "\\%c", *s);
		else if (*s == '\n')
			text_add(t, "\\n");
		else
			text_add(t, "%c", *s);
	}
	text_add(t, "\"");
}

static void text_family(struct text *t, const char *name, const char *type, const char *help)
{
	text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static struct type_counts *final_counts_of(const char *type, int create)
{
	struct type_counts *grown;

	for (size_t i = 0; i < nfinals; i++)
		if (strcmp(finals[i].type, type) == 0)
			return &finals[i];
	if (!create || (grown = realloc(finals, (nfinals + 1) * sizeof *grown)) == NULL)
		return NULL;
	finals = grown;
	memset(&finals[nfinals], 0, sizeof finals[nfinals]);
	if ((finals[nfinals].type = strdup(type)) == NULL)
		return NULL;
	return &finals[nfinals++];
}

static void final_count_add(const char *type, enum task_state state, int64_t n, void *arg)
{
	struct type_counts *c = final_counts_of(type, 1);

	(void)arg;
	if (c != NULL)
		c->n[state] += n;
	else
		finals_loaded = 0;
}

static void final_counts_reset(void)
{
	for (size_t i = 0; i < nfinals; i++)
		free(finals[i].type);
	free(finals);
	finals = NULL;
	nfinals = 0;
	finals_loaded = 0;
}

/*
 * Counting the final tasks is a scan of the tasks table: done once, then
 * kept up as tasks end, and again only after rows went (metrics_tasks_forgotten).
 */
static int final_counts_load(void)
{
	if (finals_loaded)
		return 0;
	final_counts_reset();
	finals_loaded = 1;
	for (int i = 0; i < TASKTYPE_COUNT; i++)
		if (final_counts_of(task_type_name((enum task_type_id)i), 1) == NULL)
			finals_loaded = 0;
	if (store_count_final_tasks(D->store, final_count_add, NULL) < 0)
		finals_loaded = 0;
	return finals_loaded ? 0 : -1;
}

void metrics_tasks_forgotten(void)
{
	finals_loaded = 0;
	backup_loaded = 0;
}

/*
 * The newest completed backup: read once (finding it walks back over every
 * task since it), then kept up as backups complete. 1 with its end and
 * size, 0 when there is none, -1.
 */
static int last_backup(int64_t *at, int64_t *size)
{
	if (!backup_loaded) {
		if ((backup_found = store_last_good_backup(D->store, &backup_at, &backup_size)) < 0)
			return -1;
		backup_loaded = 1;
	}
	*at = backup_at;
	*size = backup_size;
	return backup_found;
}

static void observe(struct histogram *h, const double *bounds, double v)
{
	size_t i = 0;

	while (i < NBOUNDS && v > bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* When t could first start: submitted, or its --at or back-off passed. */
static int64_t task_ready_since(const struct task *t)
{
	return t->not_before > t->created_at ? t->not_before : t->created_at;
}

void metrics_task_started(const struct task *t)
{
	int64_t since = task_ready_since(t);

	if (t->tt != NULL && since > 0 && t->d->started_at >= since)
		observe(&latency[t->tt->id], latency_bounds, (double)(t->d->started_at - since) / 1000);
}

void metrics_task_finished(const struct task *t, enum task_state state, const cJSON *result)
{
	struct type_counts *c;

	if (finals_loaded && (c = final_counts_of(t->type, 1)) != NULL)
		c->n[state]++;
	else
		finals_loaded = 0;
	if (t->tt == NULL)
		return;
	/* started_mono is 0 for a task that never ran, or ran before this depotd started. */
	if (t->d != NULL && t->d->started_mono > 0)
		observe(&duration[t->tt->id], duration_bounds,
		    (double)(time_mono_ms() - t->d->started_mono) / 1000);
	if (t->tt->id == TASKTYPE_BACKUP && state == TASK_COMPLETED && backup_loaded) {
		const cJSON *size = result != NULL ?
		    cJSON_GetObjectItemCaseSensitive(result, "size") : NULL;
		backup_found = 1;
		backup_at = time_now_ms();
		backup_size = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : 0;
	}
	if (t->tt->id == TASKTYPE_SYNC && state == TASK_COMPLETED && result != NULL) {
		const cJSON *files = cJSON_GetObjectItemCaseSensitive(result, "downloaded_files");
		const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(result, "downloaded_bytes");
		if (cJSON_IsNumber(files) && files->valuedouble > 0)
			sync_files += (uint64_t)files->valuedouble;
		if (cJSON_IsNumber(bytes) && bytes->valuedouble > 0)
			sync_bytes += (uint64_t)bytes->valuedouble;
	}
}

static void count_active(struct task *task, void *ctx)
{
	struct type_counts *c;

	(void)ctx;
	/* The type is known (counts made for every one of tasktypes.def) or an old database's. */
	if ((c = final_counts_of(task->type, 1)) != NULL)
		c->n[task->state]++;
}

static void uncount_active(struct task *task, void *ctx)
{
	struct type_counts *c;

	(void)ctx;
	if ((c = final_counts_of(task->type, 0)) != NULL)
		c->n[task->state]--;
}

static void render_tasks(struct text *t)
{
	static int warned;

	/* Once a failure, not once a second. */
	if (final_counts_load() < 0 && !warned++)
		log_warn("metrics: counting the final tasks failed; depot_tasks shows active ones only");
	else if (finals_loaded)
		warned = 0;
	/* The active tasks live in memory: added for this render, taken out after it. */
	tasks_foreach(count_active, NULL);
	text_family(t, "depot_tasks", "gauge", "Tasks the daemon knows, by state and type "
	    "(final ones until task remove, task clean or keep_finished forgets them).");
	for (size_t i = 0; i < nfinals; i++)
		for (int s = 0; s < TASK_STATE_COUNT; s++) {
			text_add(t, "depot_tasks{state=\"%s\",type=", task_state_name((enum task_state)s));
			text_label(t, finals[i].type);
			text_add(t, "} %lld\n", (long long)finals[i].n[s]);
		}
	tasks_foreach(uncount_active, NULL);
}

static void render_histograms(struct text *t, const char *name, const char *help,
    const double *bounds, const struct histogram *h)
{
	text_family(t, name, "histogram", help);
	for (int i = 0; i < TASKTYPE_COUNT; i++) {
		const char *type = task_type_name((enum task_type_id)i);
		uint64_t cum = 0;

		for (size_t b = 0; b <= NBOUNDS; b++) {
			cum += h[i].bucket[b];
			if (b < NBOUNDS)
				text_add(t, "%s_bucket{type=\"%s\",le=\"%g\"} %llu\n", name, type,
				    bounds[b], (unsigned long long)cum);
			else
				text_add(t, "%s_bucket{type=\"%s\",le=\"+Inf\"} %llu\n", name, type,
				    (unsigned long long)cum);
		}
		text_add(t, "%s_sum{type=\"%s\"} %.3f\n", name, type, h[i].sum);
		text_add(t, "%s_count{type=\"%s\"} %llu\n", name, type,
		    (unsigned long long)h[i].count);
	}
}

static void collect_queue(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	struct queue_rows *q = ctx;
	struct queue_row row = { res->name, 0, 0 };

	for (size_t i = 0; i < n; i++) {
		const struct task *task;
		int64_t since;
		if (e[i].held)
			continue;
		row.depth++;
		if ((task = task_find(e[i].task)) != NULL && (since = task_ready_since(task)) > 0 &&
		    q->now - since > row.oldest_ms)
			row.oldest_ms = q->now - since;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 32;
		struct queue_row *grown = realloc(q->rows, cap * sizeof *grown);
		if (grown == NULL) {
			q->failed = 1;
			return;
		}
		q->rows = grown;
		q->cap = cap;
	}
	q->rows[q->n++] = row;
}

static int deeper_first(const void *a, const void *b)
{
	const struct queue_row *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void collect_paused(void *ctx, const struct lockmgr_resource *res,
    const struct lockmgr_entry *e, size_t n)
{
	struct text *t = ctx;

	(void)e;
	(void)n;
	if (res->paused) {
		text_add(t, "depot_resource_paused{resource=");
		text_label(t, res->name);
		text_add(t, "} 1\n");
	}
}

static void render_queues(struct text *t)
{
	struct queue_rows q = { .now = time_now_ms() };
	struct queue_row other = { "_other", 0, 0 };
	size_t shown;

	lockmgr_visit(D->locks, collect_queue, &q);
	if (q.failed)
		log_warn("metrics: out of memory listing the queues; some are left out");
	if (q.n > 1)
		qsort(q.rows, q.n, sizeof *q.rows, deeper_first);
	shown = q.n > METRICS_TOP_RESOURCES ? METRICS_TOP_RESOURCES : q.n;
	for (size_t i = shown; i < q.n; i++) {
		other.depth += q.rows[i].depth;
		if (q.rows[i].oldest_ms > other.oldest_ms)
			other.oldest_ms = q.rows[i].oldest_ms;
	}
	text_family(t, "depot_queue_depth", "gauge", "Tasks waiting for a resource, per "
	    "resource: the 20 deepest queues, the rest summed as resource=\"_other\".");
	for (size_t i = 0; i < shown; i++) {
		text_add(t, "depot_queue_depth{resource=");
		text_label(t, q.rows[i].name);
		text_add(t, "} %lld\n", (long long)q.rows[i].depth);
	}
	if (q.n > shown)
		text_add(t, "depot_queue_depth{resource=\"_other\"} %lld\n", (long long)other.depth);
	text_family(t, "depot_queue_oldest_wait_seconds", "gauge", "How long the task "
	    "waiting longest for a resource has waited (since it could start), per resource as depot_queue_depth; 0 when none waits.");
	for (size_t i = 0; i < shown; i++) {
		text_add(t, "depot_queue_oldest_wait_seconds{resource=");
		text_label(t, q.rows[i].name);
		text_add(t, "} %.3f\n", (double)q.rows[i].oldest_ms / 1000);
	}
	if (q.n > shown)
		text_add(t, "depot_queue_oldest_wait_seconds{resource=\"_other\"} %.3f\n",
		    (double)other.oldest_ms / 1000);
	free(q.rows);

	text_family(t, "depot_queue_paused", "gauge", "1 while depotctl pause (queue.pause) stops every new start.");
	text_add(t, "depot_queue_paused %d\n", D->queue_paused ? 1 : 0);
	text_family(t, "depot_resource_paused", "gauge", "1 for each resource depotctl pause R (queue.pause) paused.");
	lockmgr_visit(D->locks, collect_paused, t);
}

static void render_workers(struct text *t)
{
	int64_t now = time_mono_ms();

	text_family(t, "depot_worker_heartbeat_age_seconds", "gauge", "Time since each "
	    "worker's last heartbeat.");
	for (struct worker *w = D->workers; w; w = w->next) {
		text_add(t, "depot_worker_heartbeat_age_seconds{worker=");
		text_label(t, w->name);
		text_add(t, "} %.3f\n", (double)(now - w->last_heartbeat_mono) / 1000);
	}
	text_family(t, "depot_worker_state", "gauge", "1 for each worker's state "
	    "(online, missing, stopped), 0 for the others.");
	for (struct worker *w = D->workers; w; w = w->next)
		for (int s = WORKER_ONLINE; s <= WORKER_STOPPED; s++) {
			text_add(t, "depot_worker_state{worker=");
			text_label(t, w->name);
			text_add(t, ",state=\"%s\"} %d\n", worker_state_name((enum worker_state)s),
			    w->state == (enum worker_state)s);
		}
	text_family(t, "depot_workers_configured", "gauge", "Workers depotd starts and "
	    "supervises ([daemon] workers).");
	text_add(t, "depot_workers_configured %d\n", supervisor_configured());
}

static void render_storage(struct text *t)
{
	int64_t at = 0, size = 0, content;
	struct statvfs vfs;
	int found;

	text_family(t, "depot_sync_downloaded_files_total", "counter", "Files completed syncs "
	    "downloaded since depotd started.");
	text_add(t, "depot_sync_downloaded_files_total %llu\n", (unsigned long long)sync_files);
	text_family(t, "depot_sync_downloaded_bytes_total", "counter", "Bytes completed syncs "
	    "downloaded since depotd started.");
	text_add(t, "depot_sync_downloaded_bytes_total %llu\n", (unsigned long long)sync_bytes);

	if ((found = last_backup(&at, &size)) < 0)
		log_warn("metrics: finding the last backup failed");
	text_family(t, "depot_backup_last_success_timestamp_seconds", "gauge", "When the last "
	    "completed backup finished, seconds since the epoch; 0 when none did.");
	text_add(t, "depot_backup_last_success_timestamp_seconds %.3f\n",
	    found == 1 ? (double)at / 1000 : 0.0);
	text_family(t, "depot_backup_last_success_size_bytes", "gauge", "The size of the last "
	    "completed backup's archive; 0 when none did.");
	text_add(t, "depot_backup_last_success_size_bytes %lld\n", found == 1 ? (long long)size : 0LL);

	text_family(t, "depot_database_size_bytes", "gauge", "depot.db and its write-ahead log.");
	text_add(t, "depot_database_size_bytes %lld\n", (long long)control_db_bytes());
	text_family(t, "depot_content_size_bytes", "gauge", "Bytes in the content store "
	    "(counted by a thread at most once a minute; no sample before its first count).");
	/* No sample until the first count has ended (contentsize.c). */
	if ((content = contentsize_bytes(METRICS_CONTENT_WALK_MS)) >= 0)
		text_add(t, "depot_content_size_bytes %lld\n", (long long)content);
	if (statvfs(D->dir, &vfs) == 0) {
		text_family(t, "depot_filesystem_free_bytes", "gauge", "Bytes free to depotd on "
		    "the data directory's file system.");
		text_add(t, "depot_filesystem_free_bytes %.0f\n",
		    (double)vfs.f_bavail * (double)vfs.f_frsize);
	}
}

char *metrics_render(size_t *len)
{
	struct text t = { .p = malloc(16384), .cap = 16384 };

	if (t.p == NULL)
		return NULL;
	t.p[0] = '\0';
	text_family(&t, "depot_build_info", "gauge", "The running depotd's version; always 1.");
	text_add(&t, "depot_build_info{version=\"%s\",protocol=\"%d\"} 1\n", DEPOT_VERSION,
	    DEPOT_PROTO_VERSION);
	text_family(&t, "depot_start_time_seconds", "gauge", "When depotd started, seconds "
	    "since the epoch.");
	text_add(&t, "depot_start_time_seconds %.3f\n", (double)D->started_at / 1000);
	render_tasks(&t);
	render_queues(&t);
	render_histograms(&t, "depot_task_dispatch_latency_seconds", "Time from when a task "
	    "could first start (its submission, --at or retry back-off) to its start on a "
	    "worker, by type.", latency_bounds, latency);
	render_histograms(&t, "depot_task_duration_seconds", "Time from a task's start on a "
	    "worker to its end, by type.", duration_bounds, duration);
	render_workers(&t);
	render_storage(&t);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}

void cmd_metrics(struct conn *conn, struct request *rq)
{
	cJSON *r;
	size_t len;
	char *text = metrics_render(&len);

	(void)rq;
	if (text == NULL) {
		server_reply_err(conn, ERR_INTERNAL, "out of memory rendering the metrics");
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "content_type", METRICS_CONTENT_TYPE);
	cJSON_AddStringToObject(r, "text", text);
	free(text);
	server_reply_ok(conn, r);
}

/* On an nng thread: reads nothing but the text the loop rendered. */
static void http_serve(nng_aio *aio)
{
	nng_http_res *res;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) != 0) {
		nng_aio_finish(aio, rv);
		return;
	}
	pthread_mutex_lock(&http_lock);
	rv = http_text != NULL ? nng_http_res_copy_data(res, http_text, http_len) :
	    nng_http_res_set_status(res, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE);
	pthread_mutex_unlock(&http_lock);
	if (rv == 0)
		rv = nng_http_res_set_header(res, "Content-Type", METRICS_CONTENT_TYPE);
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

void metrics_tick(void)
{
	int64_t now = time_mono_ms();
	size_t len;
	char *text, *old;

	if (http_srv == NULL || now - http_rendered_mono < METRICS_RENDER_MS)
		return;
	http_rendered_mono = now;
	if ((text = metrics_render(&len)) == NULL) {
		log_warn("metrics: out of memory rendering; /metrics serves the last text");
		return;
	}
	pthread_mutex_lock(&http_lock);
	old = http_text;
	http_text = text;
	http_len = len;
	pthread_mutex_unlock(&http_lock);
	free(old);
}

int metrics_listen(const char *addr, char *err, size_t errlen)
{
	char url[300];
	nng_url *u = NULL;
	nng_http_handler *h = NULL;
	int rv;

	if (addr[0] == '\0')
		return 0;
	snprintf(url, sizeof url, "http://%s", addr);
	if ((rv = nng_url_parse(&u, url)) != 0 || (rv = nng_http_server_hold(&http_srv, u)) != 0) {
		snprintf(err, errlen, "[metrics] listen = %s: %s", addr, nng_strerror(rv));
		nng_url_free(u);
		http_srv = NULL;
		return -1;
	}
	nng_url_free(u);
	if ((rv = nng_http_handler_alloc(&h, "/metrics", http_serve)) != 0 ||
	    (rv = nng_http_handler_set_method(h, "GET")) != 0 ||
	    (rv = nng_http_server_add_handler(http_srv, h)) != 0) {
		if (h != NULL)
			nng_http_handler_free(h);
		goto fail;
	}
	/* The first scrape finds numbers already. */
	http_rendered_mono = 0;
	metrics_tick();
	if ((rv = nng_http_server_start(http_srv)) != 0)
		goto fail;
	log_info("serving metrics on http://%s/metrics", addr);
	return 0;
fail:
	snprintf(err, errlen, "[metrics] listen = %s: %s", addr, nng_strerror(rv));
	nng_http_server_release(http_srv);
	http_srv = NULL;
	return -1;
}

void metrics_stop(void)
{
	if (http_srv != NULL) {
		nng_http_server_stop(http_srv);
		nng_http_server_release(http_srv);
		http_srv = NULL;
	}
	pthread_mutex_lock(&http_lock);
	free(http_text);
	http_text = NULL;
	pthread_mutex_unlock(&http_lock);
	final_counts_reset();
}
