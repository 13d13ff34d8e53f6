/* exec.c: runs an exec task in a worker: its own process group, descriptors 0–2 and an allow-listed environment, output to a capped log, SIGTERM then SIGKILL on cancel, and nothing it started left running after it. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* DESIGN §7 rule 4: SIGKILL follows SIGTERM after this long. */
#define EXEC_KILL_AFTER_MS 5000

struct capped_log {
	int fd;
	int64_t written, max;
	int truncated;
};

static void log_append(struct capped_log *lg, const char *buf, size_t n)
{
	static const char marker[] = "\n[depot: output truncated at log_max]\n";
	size_t room;

	if (lg->fd < 0 || lg->truncated)
		return;
	room = lg->written >= lg->max ? 0 : (size_t)(lg->max - lg->written);
	if (n > room) {
		n = room;
		lg->truncated = 1;
	}
	if (n > 0 && write(lg->fd, buf, n) > 0)
		lg->written += (int64_t)n;
	/* The log is best effort: a failed write must not fail the task. */
	if (lg->truncated && write(lg->fd, marker, sizeof marker - 1) < 0)
		log_debug("writing the truncation marker: %m");
}

static char **argv_from(const cJSON *task)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "argv"), *a;
	int n = cJSON_GetArraySize(argv), i = 0;
	char **out;

	if (!cJSON_IsArray(argv) || n == 0 || (out = calloc((size_t)n + 1, sizeof *out)) == NULL)
		return NULL;
	cJSON_ArrayForEach(a, argv) {
		if (!cJSON_IsString(a)) {
			free(out);
			return NULL;
		}
		out[i++] = a->valuestring;
	}
	return out;
}

/*
 * The task's environment, from an allow-list of the worker's own (which is
 * depotd's) rather than all of it: depotd's environment belongs to the
 * service (what its launcher exported, credentials a unit file set, the
 * supervisor's sockets), and a task is somebody's command that must not
 * read them. It gets what a login session would have. The submitter's
 * own environment, when depotctl sends it (DESIGN §5), is added here.
 * The strings stay environ's; only the array is the caller's to free.
 */
static char **task_environ(const cJSON *task)
{
	static const char *const keep[] = {
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", NULL,
	};
	/* The worker runs one task at a time: these last until the next. */
	static char id_var[64], tag_var[128];
	int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
	size_t n = 0, i = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof *env)) == NULL)
		return NULL;
	/* Its own id, for the command; the tag, for the fence (fence.c). */
	snprintf(id_var, sizeof id_var, "DEPOT_TASK_ID=%lld", (long long)id);
	env[i++] = id_var;
	memcpy(tag_var, FENCE_TAG_VAR "=", sizeof FENCE_TAG_VAR);
	if (fence_tag(worker_data.fd, id, tag_var + sizeof FENCE_TAG_VAR,
	    sizeof tag_var - sizeof FENCE_TAG_VAR) == 0)
		env[i++] = tag_var;
	for (char **e = environ; *e != NULL; e++) {
		size_t len = strcspn(*e, "=");
		int ok = strncmp(*e, "LC_", 3) == 0;

		for (int k = 0; !ok && keep[k] != NULL; k++)
			ok = strlen(keep[k]) == len && strncmp(*e, keep[k], len) == 0;
		if (ok && (*e)[len] == '=')
			env[i++] = *e;
	}
	return env;
}

/*
 * posix_spawn has no umask attribute: the command's is set around the spawn.
 * Only this thread of the worker creates files (the heartbeat thread does
 * not), so depotd's own 077 is back before anything else could use it.
 */
static pid_t spawn_task(char **argv, char **envp, int out_fd, mode_t cmd_umask, int *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	pid_t pid = -1;

	sigemptyset(&none);
	sigfillset(&deflt);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	/*
	 * Only 0–2: a descriptor depotd inherited without close-on-exec (from
	 * its launcher, a shell's 9<file) or one a library opened would let
	 * the command read or hold what it has no business with.
	 */
	if ((*err = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawnattr_init(&attr);
	/* Its own process group, so cancel reaches everything the command started. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	cmd_umask = umask(cmd_umask);
	*err = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	umask(cmd_umask);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return *err == 0 ? pid : -1;
}

static void set_pgid(struct worker_shared *ws, pid_t pgid)
{
	pthread_mutex_lock(&ws->mu);
	ws->pgid = pgid;
	worker_task_pgid = pgid;
	/* Tell the daemon the process group now, not a heartbeat later. */
	ws->urgent = 1;
	pthread_cond_signal(&ws->wake);
	pthread_mutex_unlock(&ws->mu);
}

static void add_progress(struct worker_shared *ws, int64_t n)
{
	pthread_mutex_lock(&ws->mu);
	ws->progress_done += n;
	pthread_mutex_unlock(&ws->mu);
}

/* Reads what is there without blocking; returns 1 at end of file. */
static int pump(int fd, struct capped_log *lg, struct worker_shared *ws)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n > 0) {
			log_append(lg, buf, (size_t)n);
			add_progress(ws, n);
			continue;
		}
		if (n == 0)
			return 1;
		return errno == EAGAIN || errno == EINTR ? 0 : 1;
	}
}

void exec_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *log_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "log_path"));
	const cJSON *log_max = cJSON_GetObjectItemCaseSensitive(task, "log_max");
	const cJSON *cmd_umask = cJSON_GetObjectItemCaseSensitive(task, "umask");
	struct capped_log lg = { .fd = -1, .max = 1024 * 1024 };
	char **argv = argv_from(task), **envp, msg[1536], why[1024];
	int pipefd[2] = { -1, -1 }, status = 0, spawn_err, eof = 0, exited = 0;
	int64_t term_at = 0;
	int killed = 0, pidfd = -1;
	pid_t pid;

	*result = *error = NULL;
	*state = TASK_FAILED;
	if (cJSON_IsNumber(log_max) && log_max->valuedouble > 0)
		lg.max = (int64_t)log_max->valuedouble;
	if (argv == NULL) {
		*error = worker_error(REASON_EXCEPTION, "the task has no argv");
		return;
	}
	if (log_path == NULL ||
	    (lg.fd = fs_open_beneath(worker_data.fd, log_path, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) < 0) {
		if (log_path != NULL)
			fs_beneath_error(&worker_data, log_path, errno, why, sizeof why);
		snprintf(msg, sizeof msg, "cannot open the task's log %s",
		    log_path ? why : "(none given)");
		*error = worker_error(REASON_EXCEPTION, msg);
		free(argv);
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(msg, sizeof msg, "pipe: %s", strerror(errno));
		*error = worker_error(REASON_EXCEPTION, msg);
		goto out;
	}
	if ((envp = task_environ(task)) == NULL) {
		close(pipefd[1]);
		*error = worker_error(REASON_EXCEPTION, "out of memory");
		goto out;
	}
	pid = spawn_task(argv, envp, pipefd[1], cJSON_IsNumber(cmd_umask) ?
	    (mode_t)cmd_umask->valuedouble & 0777 : 022, &spawn_err);
	free(envp);
	close(pipefd[1]);
	if (pid < 0) {
		snprintf(msg, sizeof msg, "cannot run '%s': %s", argv[0], strerror(spawn_err));
		log_append(&lg, msg, strlen(msg));
		log_append(&lg, "\n", 1);
		*error = worker_error(REASON_EXCEPTION, msg);
		goto out;
	}
	set_pgid(ws, pid);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	/* A pidfd wakes us the moment the command exits, output or not. */
	pidfd = pidfd_open(pid, 0);
	while (!exited) {
		struct pollfd pfd[2];
		nfds_t n = 0;

		if (!eof)
			pfd[n++] = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
		if (pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (n > 0)
			poll(pfd, n, 100);
		else
			usleep(10000);	/* no pidfd (old kernel) and output closed */
		if (!eof && pfd[0].revents != 0)
			eof = pump(pipefd[0], &lg, ws);
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
		if (atomic_load(&ws->cancel) && term_at == 0) {
			kill(-pid, SIGTERM);
			term_at = time_mono_ms();
		}
		if (term_at && !killed && time_mono_ms() - term_at > EXEC_KILL_AFTER_MS) {
			kill(-pid, SIGKILL);
			killed = 1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!eof)
		pump(pipefd[0], &lg, ws);
	/*
	 * What the command left running ends with it, before done releases
	 * its reservations: its group, then whatever escaped the group and,
	 * orphaned, came back to us.
	 */
	kill(-pid, SIGKILL);
	fence_kill_children(NULL);
	set_pgid(ws, 0);
	if (term_at != 0) {
		*state = TASK_CANCELED;
		*error = worker_error(REASON_CANCELED_BY_USER, "stopped on the daemon's request");
	} else if (WIFEXITED(status)) {
		*result = cJSON_CreateObject();
		cJSON_AddNumberToObject(*result, "exit_status", WEXITSTATUS(status));
		if (WEXITSTATUS(status) == 0)
			*state = TASK_COMPLETED;
		else {
			snprintf(msg, sizeof msg, "'%s' exited with status %d", argv[0],
			    WEXITSTATUS(status));
			*error = worker_error(REASON_EXIT_STATUS, msg);
		}
	} else {
		int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		*result = cJSON_CreateObject();
		cJSON_AddNumberToObject(*result, "signal", sig);
		snprintf(msg, sizeof msg, "'%s' was killed by signal %d (%s)", argv[0], sig,
		    strsignal(sig));
		*error = worker_error(REASON_EXIT_STATUS, msg);
	}
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	close(lg.fd);
	free(argv);
}
