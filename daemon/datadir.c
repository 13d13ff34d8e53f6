/* datadir.c: the daemon's data directory, opened once, kept private, for every path the daemon resolves in it. */
#include "depotd.h"
#include "log.h"

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
