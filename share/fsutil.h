/* fsutil.h: file-system helpers the daemon, its workers and tools share. */
#ifndef DEPOT_FSUTIL_H
#define DEPOT_FSUTIL_H
#include <sys/types.h>

/* What fs_tree_bytes counts of each thing in a tree. */
enum fs_tree_measure {
	FS_TREE_FILE_BYTES,	/* the regular files' sizes */
	FS_TREE_DISK_BYTES,	/* the blocks of everything, each file's shared among its hard links (as du) */
};
/*
 * The size of the tree at path, without following links; -1 when it cannot
 * be walked (errno) or when *stop (read atomically; NULL: never) turned
 * non-zero meanwhile, which ends the walk at its next entry. Any thread.
 */
long long fs_tree_bytes(const char *path, enum fs_tree_measure measure, const int *stop);
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
/*
 * Where the kernel (before 5.6) or valgrind lacks openat2, the same rules
 * are kept by a walk, one component at a time, each opened O_NOFOLLOW.
 * Set, the walk is used always: the unit tests run both ways.
 */
extern int fs_beneath_walk_only;
/* mkdir -p of path beneath dirfd, each missing component with mode; an O_DIRECTORY fd of path, or -1. */
int fs_mkdirs_beneath(int dirfd, const char *path, mode_t mode);
/*
 * The directory that holds path, opened beneath dirfd (created with mode
 * when mode is not 0), and path's last component in base: for unlinkat,
 * renameat, linkat, symlinkat and mkdirat, which never follow that component.
 */
int fs_parent_beneath(int dirfd, const char *path, mode_t mode, char *base, size_t baselen);
/*
 * Copies the file src in srcdir to a new file dst in dstdir, for when a
 * hard link cannot cross file systems: neither name is followed if it is a
 * link, dst must not exist, and it gets mode (the source's when
 * (mode_t)-1) and group gid (unless (gid_t)-1); fsynced when sync.
 */
int fs_copy_at(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode, gid_t gid,
    int sync);
/* fs_remove_tree for path beneath dirfd, never following a link on the way. */
int fs_remove_tree_beneath(int dirfd, const char *path);
/* fs_mkdirs_beneath, each component it makes given exactly mode (whatever the umask) and group gid ((gid_t)-1: left as made). */
int fs_mkdirs_beneath_as(int dirfd, const char *path, mode_t mode, gid_t gid);
/* fs_parent_beneath, each directory it makes given exactly mode and group gid. */
int fs_parent_beneath_as(int dirfd, const char *path, mode_t mode, gid_t gid, char *base,
    size_t baselen);
/* unlink of path beneath dirfd (a link at the end is removed, not followed); 0 if it was not there. */
int fs_unlink_beneath(int dirfd, const char *path);

/* A directory the "beneath" calls work in, opened once, and its path for messages. */
struct fs_root {
	int fd;
	char path[4096];
};
/* Opens path (links in path itself are the administrator's choice and followed). -1 with errno. */
int fs_root_open(struct fs_root *r, const char *path);
/* Opens r again if its path now names another directory (a restore swapped one in). */
int fs_root_refresh(struct fs_root *r);
void fs_root_close(struct fs_root *r);
/*
 * Why an operation on path beneath r failed, for a message: "ROOT/PATH:
 * reason", where for ELOOP and EXDEV the reason names the link met on the
 * way and where it points, rather than a bare errno.
 */
void fs_beneath_error(const struct fs_root *r, const char *path, int errnum, char *out, size_t n);

#endif
