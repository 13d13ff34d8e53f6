/* exec.c: runs an exec task in a worker: its own process group, descriptors 0–2, the submitter's working directory and environment, output to a capped log, SIGTERM then SIGKILL on cancel, and nothing it started left running after it. */
#include "depotd.h"
#include "log.h"
#include "timeutil.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char **task_environ(const cJSON *task, const cJSON *env);
static const cJSON *assigned_env(const cJSON *task, char *why, size_t n);
static void environ_free(char **env);
static const char *environ_get(char **env, const char *name);
static int find_command(const char *argv0, char **env, int dirfd, char **path);
static int open_cwd(const cJSON *task, const char **cwd, char *why, size_t n);
static pid_t spawn_task(const char *path, char **argv, char **envp, int dirfd, int out_fd,
    mode_t cmd_umask, int *err);

/* DESIGN §7 rule 4: SIGKILL follows SIGTERM after this long. */
#define EXEC_KILL_AFTER_MS 5000
/*
 * On a supervised worker, a command still running this long has its
 * process group reported at once, not at the next heartbeat (set_pgid);
 * one that ends sooner is not: done follows at once. Reporting every
 * `true` cost a tenth of the rate of short tasks (issue 14): the heartbeat
 * thread's wake, and depotd's /proc read and commit. Until the report,
 * what finds the command's processes is depotd, their subreaper, when the
 * worker dies alone; the worker's SIGTERM when depotd does; and when both
 * are SIGKILLed at once, the tag in their environment (fence.c,
 * kill_tagged), which a process that drops it escapes. A hand-started
 * worker reports at once: its death alone leaves its orphans to init.
 */
#define EXEC_REPORT_AFTER_MS 5
/* A pipe read this often in one go: a command that writes without end must not keep us from its exit, a cancel or the report. */
#define EXEC_PUMP_READS 16
/* What a shell exits with for a command it cannot execute, and one it cannot find. */
#define EXEC_STATUS_NOEXEC 126
#define EXEC_STATUS_NOTFOUND 127

/*
 * A task's log is made at its first byte of output: a task that writes
 * nothing has none (task.log reads it as empty), since making a file is
 * most of what running `true` would cost a worker (ext4's inode search).
 * Where it will go is checked before the command starts (log_prepare).
 */
struct capped_log {
	int fd;
	int dirfd;		/* logs/, while the file is still to be made; else -1 */
	char base[64];		/* its name in dirfd */
	int64_t written, max;
	int truncated;
};

/*
 * The log's directory, opened beneath the data directory (a link there,
 * or none, fails the task before it starts, as it always did), and a file
 * already there is truncated now, as it was: a stale one must not pass for
 * this task's output. -1 with errno.
 */
static int log_prepare(struct capped_log *lg, const char *path)
{
	if ((lg->dirfd = fs_parent_beneath(worker_data.fd, path, 0, lg->base,
	    sizeof lg->base)) < 0)
		return -1;
	if ((lg->fd = openat(lg->dirfd, lg->base, O_WRONLY | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC)) >= 0 || errno != ENOENT) {
		close(lg->dirfd);
		lg->dirfd = -1;
		return lg->fd >= 0 ? 0 : -1;
	}
	return 0;
}

/* At the first output: O_EXCL, so that nothing put there meanwhile is written through. */
static void log_make(struct capped_log *lg)
{
	lg->fd = openat(lg->dirfd, lg->base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	/* Best effort, as a failed write is: the task runs on without its output. */
	if (lg->fd < 0)
		log_warn("making the task's log %s/logs/%s: %m; its output is dropped",
		    worker_dir, lg->base);
	close(lg->dirfd);
	lg->dirfd = -1;
}

static void log_append(struct capped_log *lg, const char *buf, size_t n)
{
	static const char marker[] = "\n[depot: output truncated at log_max]\n";
	size_t room;

	if (lg->dirfd >= 0 && n > 0)
		log_make(lg);
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

int exec_env_reserved(const char *name)
{
	return strcmp(name, TASK_ID_VAR) == 0 || strcmp(name, FENCE_TAG_VAR) == 0;
}

/*
 * The task's environment: exactly what was submitted with it (args.env,
 * DESIGN §5, already without what [tasks] env_deny names), never the
 * worker's own, which is depotd's and belongs to the service (what its
 * launcher exported, credentials a unit file set). The worker adds only
 * the task's id, for the command, and its tag, for the fence (fence.c),
 * over any of the same name. One allocation, the array with its strings
 * behind it, not one per variable: this runs for every task. Free with
 * environ_free.
 */
static char **task_environ(const cJSON *task, const cJSON *env)
{
	const cJSON *v;
	int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
	char idvar[64], tagvar[160], **out, *at;
	size_t n = 2, bytes, i = 0;
	int idlen, taglen = 0;

	idlen = snprintf(idvar, sizeof idvar, TASK_ID_VAR "=%lld", (long long)id);
	memcpy(tagvar, FENCE_TAG_VAR "=", sizeof FENCE_TAG_VAR);
	if (fence_tag(worker_data.fd, id, tagvar + sizeof FENCE_TAG_VAR,
	    sizeof tagvar - sizeof FENCE_TAG_VAR) == 0)
		taglen = (int)strlen(tagvar);
	bytes = (size_t)idlen + 1 + (size_t)taglen + 1;
	cJSON_ArrayForEach(v, env) {
		if (!cJSON_IsString(v) || v->string == NULL || exec_env_reserved(v->string))
			continue;
		n++;
		bytes += strlen(v->string) + 1 + strlen(v->valuestring) + 1;
	}
	if ((out = malloc((n + 1) * sizeof *out + bytes)) == NULL)
		return NULL;
	at = (char *)(out + n + 1);
	out[i++] = memcpy(at, idvar, (size_t)idlen + 1);
	at += idlen + 1;
	if (taglen > 0) {
		out[i++] = memcpy(at, tagvar, (size_t)taglen + 1);
		at += taglen + 1;
	}
	cJSON_ArrayForEach(v, env) {
		size_t klen, vlen;

		if (!cJSON_IsString(v) || v->string == NULL || exec_env_reserved(v->string))
			continue;
		klen = strlen(v->string);
		vlen = strlen(v->valuestring);
		out[i++] = at;
		memcpy(at, v->string, klen);
		at[klen] = '=';
		memcpy(at + klen + 1, v->valuestring, vlen + 1);
		at += klen + 1 + vlen + 1;
	}
	out[i] = NULL;
	return out;
}

static void environ_free(char **env)
{
	free(env);
}

/*
 * The environment of the last assignment that carried one: depotd sends a
 * task's (env_id, env) only when it is not the one this worker was sent
 * last (tasks.c), so a batch's tasks do not each bring the same variables
 * to read, parse and free. Ids are never reused (store.c, migration 8).
 */
static struct {
	int64_t id, epoch;	/* the epoch: which depotd, database, numbered it (D->env_epoch) */
	cJSON *env;
} env_kept;

int64_t exec_env_kept(int64_t *epoch)
{
	*epoch = env_kept.epoch;
	return env_kept.env != NULL ? env_kept.id : 0;
}

/*
 * task's environment: args.env (a task stored before environments had
 * rows of their own), the env it carries (kept for the next), or the one
 * kept for its env_id; NULL with why when it names one this worker does
 * not have, and an empty object's worth (NULL, *why empty) when it has none.
 */
static const cJSON *assigned_env(const cJSON *task, char *why, size_t n)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "env");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(task, "env_id");
	const cJSON *sent = cJSON_GetObjectItemCaseSensitive(task, "env");
	int64_t epoch = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task,
	    "env_epoch"));
	cJSON *copy;

	*why = '\0';
	if (env != NULL || !cJSON_IsNumber(id))
		return env;
	if (cJSON_IsObject(sent) && (copy = cJSON_Duplicate(sent, 1)) != NULL) {
		cJSON_Delete(env_kept.env);
		env_kept.env = copy;
		env_kept.id = (int64_t)id->valuedouble;
		env_kept.epoch = epoch;
	}
	if (env_kept.env != NULL && env_kept.id == (int64_t)id->valuedouble &&
	    env_kept.epoch == epoch)
		return env_kept.env;
	snprintf(why, n, "the assignment names environment %.0f, which this worker was not sent",
	    id->valuedouble);
	return NULL;
}

/* The value of name in env ("NAME=value" strings), or NULL. */
static const char *environ_get(char **env, const char *name)
{
	size_t len = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/*
 * What to execve for argv0, found as a shell finds it: a name with a
 * slash as it is, else the first executable regular file in the task's
 * own PATH (not the worker's: the command runs with the submitter's
 * environment), or confstr's default when it has none. A relative
 * entry, like a relative name, is taken from the task's working
 * directory dirfd, which the command starts in. Returns 0 with *path
 * (the caller frees it), or an errno: ENOENT when nothing by that name
 * exists (a shell's 127), EACCES when only what cannot be run does (126).
 */
static int find_command(const char *argv0, char **env, int dirfd, char **path)
{
	const char *search = environ_get(env, "PATH"), *p;
	char deflt[256];
	int err = ENOENT;

	*path = NULL;
	if (strchr(argv0, '/') != NULL)
		return (*path = strdup(argv0)) == NULL ? ENOMEM : 0;
	if (search == NULL) {
		size_t n = confstr(_CS_PATH, deflt, sizeof deflt);

		search = n > 0 && n <= sizeof deflt ? deflt : "/bin:/usr/bin";
	}
	for (p = search;; p++) {
		size_t len = strcspn(p, ":");
		struct stat st;
		char cand[PATH_MAX];

		/* An empty entry is the working directory, as execvp has it; one too long for a path is no match. */
		if (snprintf(cand, sizeof cand, "%.*s%s%s", (int)len, p, len > 0 ? "/" : "",
		    argv0) < (int)sizeof cand && fstatat(dirfd, cand, &st, 0) == 0) {
			if (S_ISREG(st.st_mode) && faccessat(dirfd, cand, X_OK, AT_EACCESS) == 0)
				return (*path = strdup(cand)) == NULL ? ENOMEM : 0;
			err = EACCES;
		}
		p += len;
		if (*p == '\0')
			break;
	}
	return err;
}

/*
 * The task's working directory (args.cwd, "/" when it names none), opened
 * here so that one that is gone, or that the worker may not enter, fails
 * the task with its name rather than as an execve error. -1 with why.
 */
static int open_cwd(const cJSON *task, const char **cwd, char *why, size_t n)
{
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(task, "args"), "cwd"));
	int fd;

	*cwd = dir != NULL ? dir : "/";
	if ((fd = open(*cwd, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    faccessat(AT_FDCWD, *cwd, X_OK, AT_EACCESS) < 0) {
		snprintf(why, n, "cannot enter the working directory %s: %s", *cwd,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * posix_spawn has no umask attribute: the command's is set around the spawn.
 * Only this thread of the worker creates files (the heartbeat thread does
 * not), so depotd's own 077 is back before anything else could use it.
 */
static pid_t spawn_task(const char *path, char **argv, char **envp, int dirfd, int out_fd,
    mode_t cmd_umask, int *err)
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
	/* Before closefrom: dirfd is one of the descriptors it closes. */
	if ((*err = posix_spawn_file_actions_addfchdir_np(&fa, dirfd)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
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
	*err = posix_spawn(&pid, path, &fa, &attr, argv, envp);
	umask(cmd_umask);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return *err == 0 ? pid : -1;
}

/* Every heartbeat from now on names the group (0: none); with report, one goes now. */
static void set_pgid(struct worker_shared *ws, pid_t pgid, int report)
{
	pthread_mutex_lock(&ws->mu);
	ws->pgid = pgid;
	worker_task_pgid = pgid;
	if (report) {
		ws->urgent = 1;
		pthread_cond_signal(&ws->wake);
	}
	pthread_mutex_unlock(&ws->mu);
}

static void add_progress(struct worker_shared *ws, int64_t n)
{
	pthread_mutex_lock(&ws->mu);
	ws->progress_done += n;
	pthread_mutex_unlock(&ws->mu);
}

/*
 * Reads what is there without blocking, EXEC_PUMP_READS reads at most:
 * 1 at end of file, 0 when the pipe is empty, 2 when more may be there.
 */
static int pump(int fd, struct capped_log *lg, struct worker_shared *ws)
{
	char buf[65536];
	ssize_t n;

	for (int reads = 0; reads < EXEC_PUMP_READS; reads++) {
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
	return 2;
}

/* When a command spawned now has its group reported: 0 for at once. */
static int64_t report_time(void)
{
	static int64_t after_ms = -1;

	/* Test only: DEPOT_TEST_REPORT_AFTER_MS holds it off, to kill at the moment before it. */
	if (after_ms < 0) {
		const char *t = getenv("DEPOT_TEST_REPORT_AFTER_MS");

		after_ms = t != NULL ? strtoll(t, NULL, 10) : EXEC_REPORT_AFTER_MS;
	}
	return worker_is_supervised() && after_ms > 0 ? time_mono_ms() + after_ms : 0;
}

void exec_run(struct worker_shared *ws, const cJSON *task, cJSON **result,
    cJSON **error, enum task_state *state)
{
	const char *log_path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "log_path"));
	const cJSON *log_max = cJSON_GetObjectItemCaseSensitive(task, "log_max");
	const cJSON *cmd_umask = cJSON_GetObjectItemCaseSensitive(task, "umask");
	struct capped_log lg = { .fd = -1, .dirfd = -1, .max = 1024 * 1024 };
	char **argv = argv_from(task), **envp, *path = NULL, msg[1536], why[1024];
	const cJSON *env;
	const char *cwd;
	int pipefd[2] = { -1, -1 }, status = 0, spawn_err, eof = 0, exited = 0, dirfd;
	int64_t term_at = 0, report_at;
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
	if (log_path == NULL || log_prepare(&lg, log_path) < 0) {
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
	if ((dirfd = open_cwd(task, &cwd, why, sizeof why)) < 0) {
		close(pipefd[1]);
		log_append(&lg, why, strlen(why));
		log_append(&lg, "\n", 1);
		*error = worker_error(REASON_EXCEPTION, why);
		goto out;
	}
	env = assigned_env(task, why, sizeof why);
	if (env == NULL && why[0] != '\0') {
		close(dirfd);
		close(pipefd[1]);
		log_append(&lg, why, strlen(why));
		log_append(&lg, "\n", 1);
		*error = worker_error(REASON_EXCEPTION, why);
		goto out;
	}
	if ((envp = task_environ(task, env)) == NULL) {
		close(dirfd);
		close(pipefd[1]);
		*error = worker_error(REASON_EXCEPTION, "out of memory");
		goto out;
	}
	pid = -1;
	if ((spawn_err = find_command(argv[0], envp, dirfd, &path)) == 0)
		pid = spawn_task(path, argv, envp, dirfd, pipefd[1], cJSON_IsNumber(cmd_umask) ?
		    (mode_t)cmd_umask->valuedouble & 0777 : 022, &spawn_err);
	free(path);
	environ_free(envp);
	close(dirfd);
	close(pipefd[1]);
	if (pid < 0) {
		/* A command that cannot be run ends as it would in a shell: 127 or 126. */
		int shell_status = spawn_err == ENOENT ? EXEC_STATUS_NOTFOUND :
		    spawn_err == ENOMEM || spawn_err == EAGAIN ? 0 : EXEC_STATUS_NOEXEC;

		if (spawn_err == ENOENT && strchr(argv[0], '/') == NULL)
			snprintf(msg, sizeof msg, "cannot run '%s': command not found in PATH "
			    "(working directory %s)", argv[0], cwd);
		else
			snprintf(msg, sizeof msg, "cannot run '%s': %s (working directory %s)",
			    argv[0], strerror(spawn_err), cwd);
		log_append(&lg, msg, strlen(msg));
		log_append(&lg, "\n", 1);
		/* Still exception, not exit-status: it may pass (a mount back), so --retries follows it. */
		*error = worker_error(REASON_EXCEPTION, msg);
		if (shell_status != 0 && (*result = cJSON_CreateObject()) != NULL)
			cJSON_AddNumberToObject(*result, "exit_status", shell_status);
		goto out;
	}
	report_at = report_time();
	set_pgid(ws, pid, report_at == 0);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	/* A pidfd wakes us the moment the command exits, output or not. */
	pidfd = pidfd_open(pid, 0);
	while (!exited) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		int wait_ms = 100;

		if (report_at != 0) {
			int64_t left = report_at - time_mono_ms();

			wait_ms = left < 0 ? 0 : left < wait_ms ? (int)left : wait_ms;
		}
		if (!eof)
			pfd[n++] = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
		if (pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (n > 0)
			poll(pfd, n, wait_ms);
		else	/* no pidfd (old kernel) and output closed */
			usleep(wait_ms < 10 ? (useconds_t)wait_ms * 1000 : 10000);
		if (!eof && pfd[0].revents != 0)
			eof = pump(pipefd[0], &lg, ws) == 1;
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
		if (!exited && report_at != 0 && time_mono_ms() >= report_at) {
			set_pgid(ws, pid, 1);
			report_at = 0;
		}
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
	/* What it wrote before it exited; not what its children write on without end. */
	for (int i = 0; i < 64 && !eof; i++) {
		int r = pump(pipefd[0], &lg, ws);

		eof = r == 1;
		if (r != 2)
			break;
	}
	/*
	 * What the command left running ends with it, before done releases
	 * its reservations: its group, then whatever escaped the group and,
	 * orphaned, came back to us.
	 */
	kill(-pid, SIGKILL);
	fence_kill_children(NULL);
	set_pgid(ws, 0, 0);
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
	if (lg.fd >= 0)
		close(lg.fd);
	if (lg.dirfd >= 0)
		close(lg.dirfd);
	free(argv);
}
