/* paths.c: where the data directory is and where its sockets live (DESIGN §3). */
#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

int paths_join(char *out, size_t n, const char *dir, const char *sub)
{
	int len = snprintf(out, n, "%s/%s", dir, sub);

	return len < 0 || (size_t)len >= n ? -1 : 0;
}

int paths_data_dir(const char *opt, char *out, size_t n, char *err, size_t errlen)
{
	const char *env, *home;
	char buf[4096], cwd[4096];
	int len;

	if (opt != NULL && *opt != '\0')
		len = snprintf(buf, sizeof buf, "%s", opt);
	else if ((env = getenv("DEPOT_HOME")) != NULL && *env != '\0')
		len = snprintf(buf, sizeof buf, "%s", env);
	else if (geteuid() == 0)
		len = snprintf(buf, sizeof buf, "/var/lib/depot");
	else if ((env = getenv("XDG_STATE_HOME")) != NULL && *env != '\0')
		len = snprintf(buf, sizeof buf, "%s/depot", env);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		len = snprintf(buf, sizeof buf, "%s/.local/state/depot", home);
	else {
		snprintf(err, errlen, "no data directory: give -d DIR or set DEPOT_HOME");
		return -1;
	}
	if (len < 0 || (size_t)len >= sizeof buf) {
		snprintf(err, errlen, "data directory path is too long");
		return -1;
	}
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (buf[0] == '/')
		len = snprintf(out, n, "%s", buf);
	else if (getcwd(cwd, sizeof cwd) == NULL) {
		snprintf(err, errlen, "cannot resolve relative data directory '%s'", buf);
		return -1;
	} else
		len = snprintf(out, n, "%s/%s", cwd, buf);
	if (len < 0 || (size_t)len >= n) {
		snprintf(err, errlen, "data directory path is too long");
		return -1;
	}
	return 0;
}

int paths_socket_url(const char *dir, const char *name, char *out, size_t n,
    char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char path[4096];
	int len = snprintf(path, sizeof path, "%s/run/%s", dir, name);

	if (len < 0 || (size_t)len >= sizeof sun.sun_path) {
		snprintf(err, errlen,
		    "socket path '%s/run/%s' is longer than the %zu bytes a Unix "
		    "socket allows: use a shorter data directory",
		    dir, name, sizeof sun.sun_path - 1);
		return -1;
	}
	len = snprintf(out, n, "ipc://%s", path);
	if (len < 0 || (size_t)len >= n) {
		snprintf(err, errlen, "socket URL too long");
		return -1;
	}
	return 0;
}
