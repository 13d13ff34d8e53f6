/* datadir.c: the daemon's data directory, opened once, kept private, for every path the daemon resolves in it. */
#include "depotd.h"
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void datadir_set_mode(int fd, const char *path, mode_t mode, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	if (gid != (gid_t)-1 && st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0)
		log_warn("cannot give %s to group %u: %m", path, (unsigned)gid);
	if ((st.st_mode & 07777) == mode)
		return;
	if (fchmod(fd, mode) < 0)
		log_warn("cannot make %s mode %04o (it is %04o): %m", path, (unsigned)mode,
		    (unsigned)(st.st_mode & 07777));
	else
		log_info("%s: mode %04o, was %04o", path, (unsigned)mode, (unsigned)(st.st_mode & 07777));
}

/*
 * The data directory holds the importers' secrets (depot.db), task output
 * and downloads: only the daemon's user may read anything there, and depotd
 * never widens it beyond this. With socket_group its members may pass
 * through DIR (mode 0710, group socket_group) on their way to run/ and its
 * sockets, and list nothing. Publications are the only thing meant for
 * others, from [publish] dir.
 */
void datadir_secure(void)
{
	struct stat st;

	if (fstat(D->data.fd, &st) == 0)
		datadir_set_mode(D->data.fd, D->dir, (st.st_mode & 0700) |
		    (D->have_socket_gid ? 0010 : 0), D->have_socket_gid ? D->socket_gid : (gid_t)-1);
}

const struct fs_root *daemon_data(void)
{
	struct stat before;
	int had = D->data.fd >= 0 && fstat(D->data.fd, &before) == 0;

	/* An online restore renames another directory into place under the same name. */
	if (fs_root_refresh(&D->data) < 0)
		log_warn("opening %s again: %m", D->dir);
	else {
		struct stat now;
		if (had && fstat(D->data.fd, &now) == 0 && (now.st_ino != before.st_ino || now.st_dev != before.st_dev))
			datadir_secure();
	}
	return &D->data;
}

/*
 * Whether a name in tmp/ is one of task id's: every temp there is named
 * KIND-ID followed by nothing, "-" or "." (dl-ID-N, crl-ID.pem,
 * TYPE-ID.list, backup-ID.db).
 */
static int temp_of_task(const char *name, const char *id)
{
	const char *dash = strchr(name, '-');
	size_t len = strlen(id);

	return dash != NULL && strncmp(dash + 1, id, len) == 0 &&
	    (dash[1 + len] == '\0' || dash[1 + len] == '-' || dash[1 + len] == '.');
}

/* Removes task id's temps from dir (beneath the data directory) whose names begin with prefix; logs how many. */
static void remove_temps_in(const char *dir, const char *prefix, const char *id)
{
	struct dirent *e;
	int fd, removed = 0;
	DIR *dp;

	if ((fd = fs_open_beneath(daemon_data()->fd, dir, O_RDONLY | O_DIRECTORY, 0)) < 0)
		return;
	if ((dp = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(dp)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && temp_of_task(e->d_name, id) &&
		    unlinkat(dirfd(dp), e->d_name, 0) == 0)
			removed++;
	closedir(dp);
	if (removed > 0)
		log_info("task %s: removed %d temporary file(s) its worker left in %s/", id, removed,
		    dir);
}

void datadir_remove_task_temps(int64_t task)
{
	char id[24];

	snprintf(id, sizeof id, "%lld", (long long)task);
	remove_temps_in("tmp", "", id);
	/* A sync names a download in content/ for the moment it replaces a damaged stored file (sync.c). */
	remove_temps_in("content", "dl-", id);
}
