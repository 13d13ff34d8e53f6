/* fsutil.h: file-system helpers the daemon, its workers and tools share. */
#ifndef DEPOT_FSUTIL_H
#define DEPOT_FSUTIL_H
#include <sys/types.h>

/* Removes path and everything below it, never following links. -1 if any of it stayed. */
int fs_remove_tree(const char *path);
/* Removes what is inside dir, keeping dir. */
int fs_empty_dir(const char *dir);
/* mkdir -p, each missing component with mode. */
int fs_mkdirs(const char *path, mode_t mode);
/* fsync a directory, so a rename or link in it survives a crash. */
int fs_sync_dir(const char *dir);

#endif
