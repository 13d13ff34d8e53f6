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

/*
 * The "never outside" primitives: path is relative to dirfd and is resolved
 * by the kernel with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (openat2), so no
 * symlink, on the way or at the end, and no ".." or absolute path, can lead
 * outside dirfd — whatever a restored archive or a stray link left there.
 * They fail with ELOOP (a link on the way) or EXDEV (an escape).
 */
int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* mkdir -p of path beneath dirfd, each missing component with mode; an O_DIRECTORY fd of path, or -1. */
int fs_mkdirs_beneath(int dirfd, const char *path, mode_t mode);
/*
 * The directory that holds path, opened beneath dirfd (created with mode
 * when mode is not 0), and path's last component in base: for unlinkat,
 * renameat, linkat, symlinkat and mkdirat, which never follow that component.
 */
int fs_parent_beneath(int dirfd, const char *path, mode_t mode, char *base, size_t baselen);
/* fs_remove_tree for path beneath dirfd, never following a link on the way. */
int fs_remove_tree_beneath(int dirfd, const char *path);

#endif
