/* helper.c: running depotd in one of its offline modes for the commands that read archives, so that only depotd links the libraries reading them takes. */
#include "ctl.h"

#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* More than any directory of archives lists: a bound on what is read from the helper. */
#define HELPER_OUTPUT_MAX (64 * 1024 * 1024)

extern char **environ;

static int executable(const char *path);
static int helper_find(char *out, size_t n);
static int helper_read(int fd, char **buf, size_t *len);

static int executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * depotd beside this depotctl (the pair a build or a package installs
 * together, so that the two agree on the format), else the first on PATH.
 * 0, or -1 with the error said, naming both places.
 */
static int helper_find(char *out, size_t n)
{
	char self[PATH_MAX], beside[PATH_MAX + 16], *slash;
	const char *path = getenv("PATH"), *p, *end;
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);

	beside[0] = '\0';
	if (len > 0) {
		self[len] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			snprintf(beside, sizeof beside, "%s/depotd", self);
			if (executable(beside) && (size_t)snprintf(out, n, "%s", beside) < n)
				return 0;
		}
	}
	for (p = path; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		/* An empty element is the current directory, as for execvp. */
		if ((size_t)snprintf(out, n, "%.*s%sdepotd", (int)(end - p), p,
		    end == p ? "" : "/") < n && executable(out))
			return 0;
	}
	ctl_error("cannot find depotd, which reads archives for depotctl: not at %s, "
	    "nor on PATH (%s)", beside[0] ? beside : "(depotctl's own path is unknown)",
	    path != NULL ? path : "unset");
	return -1;
}

/* All of fd into *buf (NUL-terminated): 0, or -1 with errno. */
static int helper_read(int fd, char **buf, size_t *len)
{
	size_t cap = 0;
	char *b = NULL, *nb;
	ssize_t r;

	*len = 0;
	for (;;) {
		if (cap - *len < 4096) {
			if (cap >= HELPER_OUTPUT_MAX) {
				free(b);
				errno = EFBIG;
				return -1;
			}
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				free(b);
				return -1;
			}
			b = nb;
		}
		if ((r = read(fd, b + *len, cap - *len)) < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	b[*len] = '\0';
	*buf = b;
	return 0;
}

int helper_json(const char *const *args, cJSON **out, int *status)
{
	char exe[PATH_MAX + 16], *text = NULL, **argv;
	posix_spawn_file_actions_t fa;
	int fds[2], err, wst, saved;
	size_t len = 0, n = 0;
	pid_t pid;

	*out = NULL;
	if (helper_find(exe, sizeof exe) < 0)
		return EXIT_UNREACHABLE;
	while (args[n] != NULL)
		n++;
	if ((argv = calloc(n + 2, sizeof *argv)) == NULL) {
		ctl_error("out of memory");
		return EXIT_REFUSED;
	}
	argv[0] = exe;
	memcpy(argv + 1, args, n * sizeof *argv);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		ctl_error("cannot run %s: %s", exe, strerror(errno));
		free(argv);
		return EXIT_UNREACHABLE;
	}
	/* Its standard output is the answer; its errors are the user's to see. */
	if ((err = posix_spawn_file_actions_init(&fa)) == 0) {
		if ((err = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO)) == 0 &&
		    (err = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
		    O_RDONLY, 0)) == 0)
			err = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(argv);
	close(fds[1]);
	if (err != 0) {
		close(fds[0]);
		ctl_error("cannot run %s: %s", exe, strerror(err));
		return EXIT_UNREACHABLE;
	}
	saved = helper_read(fds[0], &text, &len) < 0 ? errno : 0;
	close(fds[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (saved != 0) {
		ctl_error("cannot read what %s %s answered: %s", exe, args[0], strerror(saved));
		return EXIT_UNREACHABLE;
	}
	if (WIFEXITED(wst) && WEXITSTATUS(wst) <= 1)
		*out = cJSON_ParseWithLength(text, len);
	free(text);
	if (*out == NULL) {
		if (WIFSIGNALED(wst))
			ctl_error("%s %s gave no answer: killed by signal %d", exe, args[0],
			    WTERMSIG(wst));
		else
			ctl_error("%s %s gave no answer (exit status %d)", exe, args[0],
			    WEXITSTATUS(wst));
		return EXIT_UNREACHABLE;
	}
	*status = WEXITSTATUS(wst);
	return EXIT_OK;
}
