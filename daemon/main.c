/* main.c: depotd's command line, start-up and shutdown; the daemon's main loop. */
#include "backupfmt.h"
#include "depotd.h"
#include "fsutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct depotd *D;

/* How long closing the sockets may take once everything is recorded. */
#define TEARDOWN_MAX_MS 2000

static void *watch_main(void *arg);
static void teardown_watch(void);
static void teardown_done(void);

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: depotd [-d DIR] [-v]             run the daemon in the foreground\n"
	    "       depotd [-d DIR] --worker NAME    run a worker by hand\n"
	    "       depotd -d DIR --restore FILE [--base FILE]...\n"
	    "                                        restore a backup, daemon stopped\n"
	    "       depotd [-d DIR] --verify FILE [--base FILE]...\n"
	    "                                        check an archive as a restore would\n"
	    "       depotd --list-backups DIR        read the archives in DIR\n"
	    "       depotd --version | --help\n"
	    "\n"
	    "  -d, --dir DIR     data directory (default $DEPOT_HOME, /var/lib/depot as root,\n"
	    "                    else ~/.local/state/depot)\n"
	    "  -v, --verbose     log debug lines too\n"
	    "  --worker NAME     be a worker process named NAME\n"
	    "  --verify FILE     print as JSON what a restore would decide of FILE (depotctl\n"
	    "                    backup verify)\n"
	    "  --list-backups DIR  print as JSON the archives in DIR (depotctl backup list)\n"
	    "  --base FILE       with --restore or --verify: an incremental's base archive,\n"
	    "                    when it is not beside FILE (repeatable)\n"
	    "See depotd(8).\n");
}

/* The umask depotd was started with: exec tasks' commands get it back (DESIGN §5: the submitter's world). */
static mode_t inherited_umask = 022;
/* depotd -v, which a reload's log_level does not turn off. */
static int verbose_opt;

/* Returns the pid-file fd, holding a write lock for the daemon's life. */
static int lock_pid_file(char *err, size_t errlen)
{
	char path[64], buf[32];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, len;

	snprintf(path, sizeof path, "run/%s", DEPOT_PID_FILE);
	if ((fd = fs_open_beneath(D->data.fd, path, O_RDWR | O_CREAT, 0600)) < 0) {
		fs_beneath_error(&D->data, path, errno, err, errlen);
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "another depotd (pid %s) is using %s",
		    buf[0] ? buf : "?", D->dir);
		close(fd);
		return -1;
	}
	len = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		snprintf(err, errlen, "writing %s/%s: %s", D->dir, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_sockets(char *err, size_t errlen)
{
	char url[4300], path[64];
	int mode = D->have_socket_gid ? 0660 : 0600;
	const char *names[] = { DEPOT_CONTROL_SOCK, DEPOT_WORKER_SOCK, DEPOT_EVENTS_SOCK };

	/* Only one daemon holds the pid lock, so any socket file here is stale. */
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "run/%s", names[i]);
		fs_unlink_beneath(D->data.fd, path);
	}
	if (paths_socket_url(D->dir, DEPOT_CONTROL_SOCK, url, sizeof url, err, errlen) < 0 ||
	    (D->control = server_open(url, mode, (size_t)D->cfg.max_message,
	    D->cfg.parked_requests_per_peer, control_handle, err, errlen)) == NULL)
		return -1;
	if (paths_socket_url(D->dir, DEPOT_WORKER_SOCK, url, sizeof url, err, errlen) < 0 ||
	    /* Only the daemon's uid reaches it, and each worker parks one next at most. */
	    (D->workersrv = server_open(url, 0600, (size_t)D->cfg.max_message, 0,
	    workerproto_handle, err, errlen)) == NULL)
		return -1;
	server_on_pipe_gone(D->workersrv, workers_pipe_gone);
	if (paths_socket_url(D->dir, DEPOT_EVENTS_SOCK, url, sizeof url, err, errlen) < 0 ||
	    events_open(url, err, errlen) < 0)
		return -1;
	if (D->have_socket_gid) {
		const char *shared[] = { DEPOT_CONTROL_SOCK, DEPOT_EVENTS_SOCK };
		for (size_t i = 0; i < 2; i++) {
			snprintf(path, sizeof path, "run/%s", shared[i]);
			if (fchownat(D->data.fd, path, (uid_t)-1, D->socket_gid,
			    AT_SYMLINK_NOFOLLOW) < 0) {
				snprintf(err, errlen, "chown %s/%s to socket_group: %s", D->dir, path,
				    strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Takes every permission from group and others on DIR/name, a file that
 * holds secrets (the importers' passwords and keys are in depot.db). A link
 * there is refused (-1) when refuse_link, else left alone.
 */
static int narrow_file(const char *name, int refuse_link, char *err, size_t errlen)
{
	int fd = fs_open_beneath(D->data.fd, name, O_RDONLY | O_NONBLOCK, 0);
	struct stat st;

	if (fd < 0) {
		if (errno == ENOENT || ((errno == ELOOP || errno == EXDEV) && !refuse_link))
			return 0;
		fs_beneath_error(&D->data, name, errno, err, errlen);
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
	    fchmod(fd, st.st_mode & 07700) < 0)
		log_warn("%s/%s is mode %04o and cannot be made private: %m", D->dir, name,
		    (unsigned)(st.st_mode & 07777));
	close(fd);
	return 0;
}

/*
 * DIR/name as a directory of mode: made if missing, narrowed to mode if
 * narrow. A link in its place is replaced when the directory is renewed
 * at each start anyway (run/, tmp/); elsewhere it is only reported, and the
 * tasks that would write there fail naming it.
 */
static int prepare_subdir(const char *name, mode_t mode, gid_t gid, int renewed, int narrow)
{
	char why[1024], path[4200];
	int fd;

	snprintf(path, sizeof path, "%s/%s", D->dir, name);
	if (mkdirat(D->data.fd, name, 0700) < 0 && errno != EEXIST) {
		log_error("creating %s: %m", path);
		return -1;
	}
	if ((fd = fs_open_beneath(D->data.fd, name, O_RDONLY | O_DIRECTORY, 0)) < 0 &&
	    (errno == ELOOP || errno == EXDEV)) {
		fs_beneath_error(&D->data, name, errno, why, sizeof why);
		if (!renewed) {
			log_warn("%s (the tasks that write there fail until then)", why);
			return 0;
		}
		log_warn("%s; replaced by a directory (the link's target is left as it was)", why);
		if (unlinkat(D->data.fd, name, 0) < 0 || mkdirat(D->data.fd, name, 0700) < 0 ||
		    (fd = fs_open_beneath(D->data.fd, name, O_RDONLY | O_DIRECTORY, 0)) < 0) {
			log_error("replacing %s: %m", path);
			return -1;
		}
	}
	if (fd < 0) {
		log_error("opening %s: %m", path);
		return -1;
	}
	if (narrow)
		datadir_set_mode(fd, path, mode, gid);
	close(fd);
	return 0;
}

/* DIR and what is in it, private to the daemon's user (datadir.c says why), and the publish directory. */
static int prepare_dir(char *err, size_t errlen)
{
	gid_t sgid = D->have_socket_gid ? D->socket_gid : (gid_t)-1;
	mode_t pass = D->have_socket_gid ? 0010 : 0;
	struct pub_modes pm;
	struct fs_root pub;

	if (mkdir(D->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "creating %s: %s", D->dir, strerror(errno));
		return -1;
	}
	if (fs_root_open(&D->data, D->dir) < 0) {
		snprintf(err, errlen, "opening %s: %s", D->dir, strerror(errno));
		return -1;
	}
	datadir_secure();
	if (prepare_subdir("run", 0700 | pass, sgid, 1, 1) < 0 ||
	    prepare_subdir("tmp", 0700, (gid_t)-1, 1, 1) < 0 ||
	    prepare_subdir("logs", 0700, (gid_t)-1, 0, 1) < 0 ||
	    prepare_subdir("content", 0700, (gid_t)-1, 0, 0) < 0) {
		snprintf(err, errlen, "preparing %s failed (see above)", D->dir);
		return -1;
	}
	/* SQLite gives -wal and -shm the database's mode: narrowing depot.db first covers them. */
	if (narrow_file("depot.db", 1, err, errlen) < 0 ||
	    narrow_file("depot.db-wal", 1, err, errlen) < 0 ||
	    narrow_file("depot.db-shm", 1, err, errlen) < 0 ||
	    narrow_file("depot.conf", 0, err, errlen) < 0)
		return -1;
	if (config_publish_dir(&D->cfg, D->dir, D->publish_dir, sizeof D->publish_dir) < 0) {
		snprintf(err, errlen, "[publish] dir is too long");
		return -1;
	}
	publish_modes(D->cfg.publish_gid, &pm);
	if (publish_root_open(&pub, &D->data, D->publish_dir, &pm, err, errlen) < 0) {
		/* A link planted there fails the publishes, naming it; anything else is the administrator's to fix now. */
		if (errno != ELOOP && errno != EXDEV)
			return -1;
		log_warn("%s; publishes will fail until it is removed", err);
	} else
		fs_root_close(&pub);
	return 0;
}

/* The publish dir may be anywhere but where it would hold the data directory. */
static int check_publish_dir(const char *conf, char *err, size_t errlen)
{
	const char *p = D->cfg.publish_dir;
	size_t n = strlen(p);

	if (n == 0)
		return 0;
	if (strcmp(p, "/") == 0 || (strncmp(D->dir, p, n) == 0 &&
	    (D->dir[n] == '\0' || D->dir[n] == '/'))) {
		snprintf(err, errlen, "%s: [publish] dir = %s holds the data directory %s: "
		    "give publications a directory of their own", conf, p, D->dir);
		return -1;
	}
	return 0;
}

static void stop_task(struct task *t, void *ctx)
{
	(void)ctx;
	if (t->state == TASK_RUNNING)
		task_cancel(t, task_reason_name(REASON_DAEMON_STOPPED),
		    "depotd stopped while the task ran", TASK_CANCELED);
}

static void end_task(struct task *t, void *ctx)
{
	int *running = ctx;

	if (t->state == TASK_RUNNING || t->state == TASK_CANCELING) {
		if (running != NULL) {
			(*running)++;
			return;
		}
		/* One still recording its version: its worker is done, its incomplete version goes (task_finish). */
		if (!t->d->recording)
			fence_task(t);
		/* A cancel asked before the stop keeps its own reason: it is not retried. */
		task_end_interrupted(t, task_reason_name(REASON_DAEMON_STOPPED),
		    "depotd stopped while the task ran");
	}
}

/*
 * SIGTERM: dispatch nothing more, ask running tasks to stop, give them
 * cancel_grace, then stop the workers. Waiting tasks stay queued.
 * Returns 1 when the loop may end.
 */
static int shutdown_step(void)
{
	int running = 0;

	if (D->stop_deadline_mono == 0) {
		D->stop_deadline_mono = time_mono_ms() + D->cfg.cancel_grace_ms;
		tasks_foreach(stop_task, NULL);
	}
	tasks_foreach(end_task, &running);
	if (running > 0 && time_mono_ms() < D->stop_deadline_mono)
		return 0;
	tasks_foreach(end_task, NULL);
	return 1;
}

static void restore_waiting(struct task *t) { task_restore_waiting(t); }

/*
 * nng 1.5's nng_close can wait for ever: its reaper blocks in
 * nni_task_wait on an aio of a pipe being destroyed (rep0 pipe_stop), so
 * nni_sock_shutdown never sees the socket's pipes go. We saw it on
 * worker.sock with a hand-started worker connected, one stop in 200 to 300
 * (nanomsg/nng#1543, #1813: nng_close deadlocks up to 1.7.3; Debian 12
 * ships 1.5.2). It takes a pipe closed while a reply is still being
 * written to it (here the null answer to the worker's parked next, sent
 * just before): closing the store first gives that reply time to go, and
 * the hang went from 4 in 800 stops to none in 2,400. Time is no proof,
 * so the teardown runs under a watchdog that ends the process once
 * everything is recorded: the store is closed and no task runs.
 */
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;
static pthread_t watch_thread;
static int watch_armed, watch_over;

static void *watch_main(void *arg)
{
	struct timespec until;
	int rc = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += TEARDOWN_MAX_MS / 1000;
	until.tv_nsec += (long)(TEARDOWN_MAX_MS % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&watch_lock);
	while (!watch_over && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&watch_cond, &watch_lock, &until);
	pthread_mutex_unlock(&watch_lock);
	if (rc == ETIMEDOUT) {
		/* _exit skips LeakSanitizer's check too: acceptable only on this rare path. */
		log_warn("closing the sockets took over %d ms (an nng_close hang, "
		    "nanomsg/nng#1813); exiting anyway: everything is recorded",
		    TEARDOWN_MAX_MS);
		_exit(0);
	}
	return NULL;
}

static void teardown_watch(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&watch_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&watch_thread, NULL, watch_main, NULL) != 0) {
		log_warn("cannot start the teardown watchdog: %m; a hang in nng_close "
		    "would keep depotd from exiting");
		pthread_cond_destroy(&watch_cond);
		return;
	}
	watch_armed = 1;
}

/* Joined before main returns, so it can never cut LeakSanitizer's report short. */
static void teardown_done(void)
{
	if (!watch_armed)
		return;
	pthread_mutex_lock(&watch_lock);
	watch_over = 1;
	pthread_cond_signal(&watch_cond);
	pthread_mutex_unlock(&watch_lock);
	pthread_join(watch_thread, NULL);
	pthread_cond_destroy(&watch_cond);
	watch_armed = 0;
}

int daemon_main(const char *dir, const struct depot_config *cfg)
{
	char err[1024], path[4200];
	int pidfd = -1, n, rc = 1;
	int64_t next_check;

	if ((D = calloc(1, sizeof *D)) == NULL)
		return 1;
	snprintf(D->dir, sizeof D->dir, "%s", dir);
	D->data.fd = -1;
	D->cfg = *cfg;
	validate_set_env_deny(D->cfg.env_deny);
	D->task_umask = inherited_umask;
	D->have_socket_gid = cfg->socket_group[0] != '\0';
	D->socket_gid = cfg->socket_gid;
	D->pid = getpid();
	D->started_at = time_now_ms();
	D->started_mono = time_mono_ms();
	/* Random (48 bits, exact in a JSON number), not a clock that may go back. */
	if (getrandom(&D->env_epoch, 6, 0) != 6)
		D->env_epoch = D->started_at;
	D->env_epoch &= INT64_C(0xffffffffffff);
	notify_init();
	reload_init(verbose_opt);
	if (readlink("/proc/self/exe", D->self_exe, sizeof D->self_exe - 1) < 0) {
		log_error("cannot find my own executable: %m");
		goto out;
	}
	paths_join(path, sizeof path, dir, "depot.conf");
	if (check_publish_dir(path, err, sizeof err) < 0 ||
	    paths_socket_url(dir, DEPOT_CONTROL_SOCK, path, sizeof path, err, sizeof err) < 0 ||
	    prepare_dir(err, sizeof err) < 0 ||
	    (pidfd = lock_pid_file(err, sizeof err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* tmp/ holds only what a killed process left half-written: nothing there survives a start. */
	if (fs_remove_tree_beneath(D->data.fd, "tmp") < 0 || mkdirat(D->data.fd, "tmp", 0700) < 0)
		log_warn("cannot empty %s/tmp: %m", dir);
	/* The secret that authenticates this depot's backups to its restores (backupfmt.h). */
	if (backup_key_create(dir) < 0)
		log_warn("cannot make %s/%s: %m; backups will not be authenticated", dir,
		    BACKUP_KEY_FILE);
	/* Before any nng call, so nng's threads inherit the blocked signals. */
	if (loop_init() < 0) {
		log_error("setting up signals: %m");
		goto out_pid;
	}
	/* After loop_init: the thread that removes them blocks the loop's signals too. */
	prerestore_resume(D->dir);
	paths_join(path, sizeof path, dir, "publish");
	if (strcmp(D->publish_dir, path) != 0)
		prerestore_resume(D->publish_dir);
	paths_join(path, sizeof path, dir, "depot.db");
	if (store_open_daemon(&D->store, path, cfg->durability_full, err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_pid;
	}
	/* Before recovery, which may hold an interrupted task's reservations again. */
	if ((D->locks = lockmgr_new()) == NULL) {
		log_error("out of memory");
		goto out_store;
	}
	if ((n = tasks_recover()) < 0) {
		log_error("recovering tasks from %s: %s", path, store_errmsg(D->store));
		goto out_store;
	}
	if (n > 0)
		log_warn("%d task(s) were running when depotd last stopped: ended "
		    "(daemon-restarted, or as their cancel said)", n);
	/*
	 * After recovery: an interrupted task whose processes outlived it takes
	 * its reservations back whatever the pauses and capacities say (rules
	 * never take a holder's away), and before the waiting tasks queue.
	 */
	if (queue_rules_load(err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_store;
	}
	if (store_load_waiting(D->store, restore_waiting) < 0) {
		log_error("loading waiting tasks: %s", store_errmsg(D->store));
		goto out_store;
	}
	tasks_admit_restored();
	store_release_memory(D->store);
	if (open_sockets(err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_sockets;
	}
	log_info("depotd %s started on %s (pid %d, %zu waiting task(s))", DEPOT_VERSION,
	    dir, (int)D->pid, D->ntasks);
	if (metrics_listen(D->cfg.metrics_listen, err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_sockets;
	}
	if (supervisor_start() < 0) {
		log_error("starting workers: out of memory");
		goto out_sockets;
	}
	notify_ready();
	next_check = time_mono_ms() + D->cfg.check_interval_ms;
	for (;;) {
		int64_t now = time_mono_ms(), wait = next_check - now;
		int record_wait = recorder_wait_ms();
		int clean_wait = tasks_clean_wait_ms();
		int notify_wait = notify_wait_ms();

		/* A version being recorded: its next slice is due now, or when its test pause ends. */
		if (record_wait >= 0 && record_wait < wait)
			wait = record_wait;
		/* A task.clean under way: its next slice. */
		if (clean_wait >= 0 && clean_wait < wait)
			wait = clean_wait;
		/* systemd's watchdog: its next ping. */
		if (notify_wait >= 0 && notify_wait < wait)
			wait = notify_wait;
		loop_run_once(wait < 0 ? 0 : wait > 100 ? 100 : (int)wait);
		server_tick(D->control);
		server_tick(D->workersrv);
		now = time_mono_ms();
		if (now >= next_check) {
			monitor_tick();
			next_check = now + D->cfg.check_interval_ms;
		}
		workers_expire_polls();
		waiters_tick();
		recorder_tick();
		restore_tick();
		tasks_tick();
		tasks_clean_tick();
		sched_tick();
		/* A reload's timers count from now: a shorter check_interval is not left waiting on the old one. */
		if (reload_tick())
			next_check = time_mono_ms();
		supervisor_tick();
		notify_tick();
		metrics_tick();
		if (D->stopping && shutdown_step()) {
			/* The last tasks' ends: their retries recorded, their waiters answered. */
			tasks_tick();
			break;
		}
	}
	supervisor_stop_all(D->cfg.cancel_grace_ms > 2000 ? D->cfg.cancel_grace_ms : 2000);
	log_info("depotd stopped");
	rc = 0;
out_sockets:
	/* Bounded by their own waits, not teardown_watch's, which is nng's alone. */
	contentsize_stop();
	dbhealth_stop();
	waiters_fail_all();
	workers_free_all();
	if (rc != 0 && D->slots != NULL)
		supervisor_stop_all(2000);
	tasks_free_all();
	lockmgr_free(D->locks);
	D->locks = NULL;
	store_close(D->store);
	D->store = NULL;
	/* Only nng's teardown is left: bounded, since it can hang (teardown_watch). */
	teardown_watch();
	server_close(D->control);
	server_close(D->workersrv);
	events_close();
	metrics_stop();
out_store:
	tasks_free_all();
	lockmgr_free(D->locks);
	store_close(D->store);
out_pid:
	prerestore_stop();
	close(pidfd);
	loop_fini();
	/* nng's threads and caches go too, so valgrind sees a clean exit. */
	nng_fini();
	teardown_done();
out:
	fs_root_close(&D->data);
	free(D);
	D = NULL;
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "worker", required_argument, NULL, 'W' },
		{ "supervised-by", required_argument, NULL, 'S' },
		{ "restore", required_argument, NULL, 'R' },
		{ "base", required_argument, NULL, 'B' },
		{ "verify", required_argument, NULL, 'C' },
		{ "list-backups", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *worker = NULL, *restore = NULL, *bases[BACKUP_MAX_BASES];
	const char *verify = NULL, *list = NULL;
	size_t nbases = 0;
	char dir[4096], err[1024], conf[4200];
	struct depot_config cfg;
	int c, verbose = 0, parent = 0;

	/* Everything depotd, its workers and restores create is private unless made otherwise (publications). */
	inherited_umask = umask(077);
	while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'W': worker = optarg; break;
		case 'S': parent = atoi(optarg); break;
		case 'R': restore = optarg; break;
		case 'C': verify = optarg; break;
		case 'L': list = optarg; break;
		case 'B':
			if (nbases == BACKUP_MAX_BASES) {
				fprintf(stderr, "depotd: more than %d --base files\n", BACKUP_MAX_BASES);
				return 2;
			}
			bases[nbases++] = optarg;
			break;
		case 'v': verbose = 1; break;
		case 'V': printf("depotd %s\n", DEPOT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (nbases > 0 && restore == NULL && verify == NULL) {
		fprintf(stderr, "depotd: --base goes with --restore or --verify\n");
		usage(stderr);
		return 2;
	}
	if ((verify != NULL || list != NULL) &&
	    (restore != NULL) + (verify != NULL) + (list != NULL) + (worker != NULL) > 1) {
		fprintf(stderr, "depotd: --verify and --list-backups go alone, without "
		    "--restore or --worker\n");
		usage(stderr);
		return 2;
	}
	if (optind != argc) {
		fprintf(stderr, "depotd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/*
	 * Reading archives for depotctl, as its user and in its locale, as
	 * depotctl itself once did; of a data directory only depot.conf and
	 * the key are read: no lock, no recovery, whether a daemon runs or not.
	 */
	if (verify != NULL || list != NULL) {
		setlocale(LC_CTYPE, "");
		if (list != NULL)
			return backupcheck_list(list);
		return backupcheck_verify(verify, bases, nbases, dir_opt);
	}
	log_init(worker ? "depotd-worker" : "depotd", verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (paths_data_dir(dir_opt, dir, sizeof dir, err, sizeof err) < 0) {
		log_error("%s", err);
		return 1;
	}
	if (worker != NULL) {
		if (!validate_worker_name(worker)) {
			log_error("bad worker name '%s': letters, digits, '.', '_' and '-', "
			    "at most %d", worker, DEPOT_WORKER_NAME_MAX);
			return 2;
		}
		return worker_main(dir, worker, parent);
	}
	/* A restore killed while swapping DIR: finished or undone before DIR (and its depot.conf) is read. */
	if (restore_recover(dir) < 0)
		return 1;
	config_defaults(&cfg);
	paths_join(conf, sizeof conf, dir, "depot.conf");
	if (config_load(conf, &cfg, err, sizeof err) < 0) {
		if (restore == NULL) {
			log_error("%s", err);
			return 1;
		}
		/* A broken depot.conf may be why the data is being restored: its limits fall back to the defaults. */
		log_warn("%s; restoring with the default limits", err);
		config_defaults(&cfg);
	}
	if (!verbose)
		log_set_level((enum log_level)cfg.log_level);
	verbose_opt = verbose;
	if (restore != NULL)
		return restore_offline(restore, bases, nbases, dir, &cfg);
	return daemon_main(dir, &cfg);
}
