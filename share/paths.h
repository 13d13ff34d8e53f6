/* paths.h: where the data directory is and where its sockets live (DESIGN §3). */
#ifndef DEPOT_PATHS_H
#define DEPOT_PATHS_H
#include <stddef.h>

/*
 * The data directory: opt (from -d) if given, else $DEPOT_HOME, else
 * /var/lib/depot as root, else $XDG_STATE_HOME/depot or
 * ~/.local/state/depot. Relative paths are made absolute, so that the
 * daemon, its workers and clients agree whatever their working directory.
 */
int paths_data_dir(const char *opt, char *out, size_t n, char *err, size_t errlen);
/*
 * DIR/run/NAME as an nng "ipc://" URL. Refuses (-1, with a message) a path
 * longer than a Unix socket address holds.
 */
int paths_socket_url(const char *dir, const char *name, char *out, size_t n,
    char *err, size_t errlen);
/* DIR/SUB into out; -1 if it does not fit. */
int paths_join(char *out, size_t n, const char *dir, const char *sub);

#endif
