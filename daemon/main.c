/* main.c: depotd's command line, start-up and shutdown; the daemon's main loop. */
#include "depotd.h"
#include "fsutil.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct depotd *D;

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: depotd [-d DIR] [-v]             run the daemon in the foreground\n"
	    "       depotd [-d DIR] --worker NAME    run a worker by hand\n"
	    "       depotd -d DIR --restore FILE     restore a backup, daemon stopped\n"
	    "       depotd --version | --help\n"
	    "\n"
	    "  -d, --dir DIR     data directory (default $DEPOT_HOME, /var/lib/depot as root,\n"
	    "                    else ~/.local/state/depot)\n"
	    "  -v, --verbose     log debug lines too\n"
	    "  --worker NAME     be a worker process named NAME\n"
	    "See depotd(8).\n");
}

static int make_dir(const char *dir, const char *sub, mode_t mode, char *err, size_t errlen)
{
	char path[4200];

	if (sub == NULL)
		snprintf(path, sizeof path, "%s", dir);
	else if (paths_join(path, sizeof path, dir, sub) < 0) {
		snprintf(err, errlen, "path too long: %s/%s", dir, sub);
		return -1;
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "creating %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns the pid-file fd, holding a write lock for the daemon's life. */
static int lock_pid_file(const char *dir, char *err, size_t errlen)
{
	char path[4200], buf[32];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, len;

	snprintf(path, sizeof path, "%s/run/%s", dir, DEPOT_PID_FILE);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		snprintf(err, errlen, "opening %s: %s", path, strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "another depotd (pid %s) is using %s",
		    buf[0] ? buf : "?", dir);
		close(fd);
		return -1;
	}
	len = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_sockets(char *err, size_t errlen)
{
	char url[4300], path[4200];
	int mode = D->have_socket_gid ? 0660 : 0600;
	const char *names[] = { DEPOT_CONTROL_SOCK, DEPOT_WORKER_SOCK, DEPOT_EVENTS_SOCK };

	/* Only one daemon holds the pid lock, so any socket file here is stale. */
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/run/%s", D->dir, names[i]);
		unlink(path);
	}
	if (paths_socket_url(D->dir, DEPOT_CONTROL_SOCK, url, sizeof url, err, errlen) < 0 ||
	    (D->control = server_open(url, mode, (size_t)D->cfg.max_message,
	    control_handle, err, errlen)) == NULL)
		return -1;
	if (paths_socket_url(D->dir, DEPOT_WORKER_SOCK, url, sizeof url, err, errlen) < 0 ||
	    (D->workersrv = server_open(url, 0600, (size_t)D->cfg.max_message,
	    workerproto_handle, err, errlen)) == NULL)
		return -1;
	if (paths_socket_url(D->dir, DEPOT_EVENTS_SOCK, url, sizeof url, err, errlen) < 0 ||
	    events_open(url, err, errlen) < 0)
		return -1;
	if (D->have_socket_gid) {
		const char *shared[] = { DEPOT_CONTROL_SOCK, DEPOT_EVENTS_SOCK };
		for (size_t i = 0; i < 2; i++) {
			snprintf(path, sizeof path, "%s/run/%s", D->dir, shared[i]);
			if (chown(path, (uid_t)-1, D->socket_gid) < 0) {
				snprintf(err, errlen, "chown %s to socket_group: %s", path,
				    strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

static int prepare_dir(char *err, size_t errlen)
{
	char path[4200];
	struct group *gr;
	struct stat st;

	if (make_dir(D->dir, NULL, 0700, err, errlen) < 0 ||
	    make_dir(D->dir, "run", D->cfg.socket_group[0] ? 0750 : 0700, err, errlen) < 0 ||
	    make_dir(D->dir, "logs", 0750, err, errlen) < 0 ||
	    make_dir(D->dir, "tmp", 0700, err, errlen) < 0 ||
	    make_dir(D->dir, "content", 0755, err, errlen) < 0 ||
	    make_dir(D->dir, "publish", 0755, err, errlen) < 0)
		return -1;
	if (D->cfg.socket_group[0]) {
		if ((gr = getgrnam(D->cfg.socket_group)) == NULL) {
			snprintf(err, errlen, "socket_group '%s' does not exist", D->cfg.socket_group);
			return -1;
		}
		D->socket_gid = gr->gr_gid;
		D->have_socket_gid = 1;
		/* The group must be able to pass through DIR to reach run/ (but not list it). */
		if (stat(D->dir, &st) == 0 && (st.st_mode & 0011) != 0011)
			chmod(D->dir, (st.st_mode & 07777) | 0011);
		paths_join(path, sizeof path, D->dir, "run");
		if (chown(path, (uid_t)-1, gr->gr_gid) < 0 || chmod(path, 0750) < 0) {
			snprintf(err, errlen, "giving %s to group %s: %s", path,
			    D->cfg.socket_group, strerror(errno));
			return -1;
		}
	} else {
		/* run/ reachable only by us: nng chmods the sockets only after bind. */
		paths_join(path, sizeof path, D->dir, "run");
		chmod(path, 0700);
	}
	/* tmp/ holds only what a killed process left half-written: nothing there survives a start. */
	paths_join(path, sizeof path, D->dir, "tmp");
	if (fs_empty_dir(path) < 0)
		log_warn("cannot empty %s: %m", path);
	return 0;
}

static void stop_task(struct task *t, void *ctx)
{
	(void)ctx;
	if (t->state == TASK_RUNNING)
		task_cancel(t, "daemon-stopped", "depotd stopped while the task ran",
		    TASK_CANCELED);
}

static void end_task(struct task *t, void *ctx)
{
	int *running = ctx;

	if (t->state == TASK_RUNNING || t->state == TASK_CANCELING) {
		if (running != NULL) {
			(*running)++;
			return;
		}
		if (t->pgid > 0)
			kill(-t->pgid, SIGKILL);
		task_finish(t, TASK_CANCELED, NULL, "daemon-stopped",
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

int daemon_main(const char *dir, const struct depot_config *cfg)
{
	char err[1024], path[4200];
	int pidfd = -1, n, rc = 1;
	int64_t *retry = NULL;
	size_t nretry = 0;
	int64_t next_check;

	if ((D = calloc(1, sizeof *D)) == NULL)
		return 1;
	snprintf(D->dir, sizeof D->dir, "%s", dir);
	D->cfg = *cfg;
	D->pid = getpid();
	D->started_at = time_now_ms();
	D->started_mono = time_mono_ms();
	if (readlink("/proc/self/exe", D->self_exe, sizeof D->self_exe - 1) < 0) {
		log_error("cannot find my own executable: %m");
		goto out;
	}
	if (paths_socket_url(dir, DEPOT_CONTROL_SOCK, path, sizeof path, err, sizeof err) < 0 ||
	    prepare_dir(err, sizeof err) < 0 ||
	    (pidfd = lock_pid_file(dir, err, sizeof err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	/* Before any nng call, so nng's threads inherit the blocked signals. */
	if (loop_init() < 0) {
		log_error("setting up signals: %m");
		goto out_pid;
	}
	paths_join(path, sizeof path, dir, "depot.db");
	if (store_open(&D->store, path, cfg->durability_full, err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_pid;
	}
	if ((n = store_recover(D->store, time_now_ms(), &retry, &nretry)) < 0) {
		log_error("recovering tasks from %s: %s", path, store_errmsg(D->store));
		goto out_store;
	}
	if (n > 0)
		log_warn("%d task(s) were running when depotd last stopped: canceled "
		    "(daemon-restarted)", n);
	if ((D->locks = lockmgr_new()) == NULL ||
	    store_load_waiting(D->store, restore_waiting) < 0) {
		log_error("loading waiting tasks: %s", store_errmsg(D->store));
		free(retry);
		goto out_store;
	}
	for (size_t i = 0; i < nretry; i++)
		task_retry_recovered(retry[i]);
	free(retry);
	tasks_admit_restored();
	if (open_sockets(err, sizeof err) < 0) {
		log_error("%s", err);
		goto out_sockets;
	}
	log_info("depotd %s started on %s (pid %d, %zu waiting task(s))", DEPOT_VERSION,
	    dir, (int)D->pid, D->ntasks);
	if (supervisor_start() < 0) {
		log_error("starting workers: out of memory");
		goto out_sockets;
	}
	next_check = time_mono_ms() + D->cfg.check_interval_ms;
	for (;;) {
		int64_t now = time_mono_ms(), wait = next_check - now;

		loop_run_once(wait < 0 ? 0 : wait > 100 ? 100 : (int)wait);
		now = time_mono_ms();
		if (now >= next_check) {
			monitor_tick();
			next_check = now + D->cfg.check_interval_ms;
		}
		workers_expire_polls();
		waiters_tick();
		tasks_tick();
		sched_tick();
		supervisor_tick();
		if (D->stopping && shutdown_step())
			break;
	}
	supervisor_stop_all(D->cfg.cancel_grace_ms > 2000 ? D->cfg.cancel_grace_ms : 2000);
	log_info("depotd stopped");
	rc = 0;
out_sockets:
	waiters_fail_all();
	workers_free_all();
	server_close(D->control);
	server_close(D->workersrv);
	events_close();
	if (rc != 0 && D->slots != NULL)
		supervisor_stop_all(2000);
	tasks_free_all();
	lockmgr_free(D->locks);
out_store:
	store_close(D->store);
out_pid:
	close(pidfd);
	loop_fini();
	/* nng's threads and caches go too, so valgrind sees a clean exit. */
	nng_fini();
out:
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
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL, *worker = NULL, *restore = NULL;
	char dir[4096], err[1024], conf[4200];
	struct depot_config cfg;
	int c, verbose = 0, parent = 0;

	while ((c = getopt_long(argc, argv, "d:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir_opt = optarg; break;
		case 'W': worker = optarg; break;
		case 'S': parent = atoi(optarg); break;
		case 'R': restore = optarg; break;
		case 'v': verbose = 1; break;
		case 'V': printf("depotd %s\n", DEPOT_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "depotd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
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
	if (restore != NULL)
		return restore_offline(restore, dir, &cfg);
	return daemon_main(dir, &cfg);
}
