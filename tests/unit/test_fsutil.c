/* test_fsutil.c: the "beneath" calls of fsutil (no path in a directory is followed outside it), each test with a directory and an outside one planted links lead to; and fs_tree_bytes, which such a link must not lead out of. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

/* root: the directory the calls work beneath; out: what a planted link points at. */
struct scratch {
	char base[64], root_path[96], out[96];
	struct fs_root root;
};

static int setup(void **state);
static int teardown(void **state);
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static void make_file(const char *dir, const char *name, const char *data);
static void plant(struct scratch *s, const char *name);
static char *listing(const char *dir);
static int list_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);

static char list_buf[8192];

/* call fails with err; errno is read at once, before cmocka's own calls can change it. */
#define expect_failure(call, err) do { \
	int rc_ = (call), errno_ = errno; \
	assert_int_equal(rc_, -1); \
	assert_int_equal(errno_, (err)); \
} while (0)

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);

	if (s == NULL)
		return -1;
	snprintf(s->base, sizeof s->base, "/tmp/dp-fsutil.XXXXXX");
	if (mkdtemp(s->base) == NULL)
		return -1;
	snprintf(s->root_path, sizeof s->root_path, "%s/root", s->base);
	snprintf(s->out, sizeof s->out, "%s/out", s->base);
	if (mkdir(s->root_path, 0700) < 0 || mkdir(s->out, 0700) < 0 ||
	    fs_root_open(&s->root, s->root_path) < 0)
		return -1;
	make_file(s->out, "secret", "outside\n");
	make_file(s->out, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03", "x");
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;

	fs_root_close(&s->root);
	nftw(s->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

static void make_file(const char *dir, const char *name, const char *data)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(data, f);
	assert_int_equal(fclose(f), 0);
}

/* ROOT/name -> OUT, as a hostile restore might leave it. */
static void plant(struct scratch *s, const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s", s->root_path, name);
	assert_int_equal(symlink(s->out, path), 0);
}

static int list_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(list_buf);

	(void)flag;
	(void)ftw;
	snprintf(list_buf + len, sizeof list_buf - len, "%s %o %lld\n", path,
	    (unsigned)st->st_mode, (long long)st->st_size);
	return 0;
}

/* Every name, mode and size under dir: what "untouched" is checked against. */
static char *listing(const char *dir)
{
	list_buf[0] = '\0';
	nftw(dir, list_one, 16, FTW_PHYS);
	return strdup(list_buf);
}

static void open_beneath_refuses_a_link_on_the_way_and_at_the_end(void **state)
{
	struct scratch *s = *state;
	char *before = listing(s->out), *after;

	plant(s, "logs");
	expect_failure(fs_open_beneath(s->root.fd, "logs/secret", O_RDONLY, 0), ELOOP);
	expect_failure(fs_open_beneath(s->root.fd, "logs", O_RDONLY | O_DIRECTORY, 0), ELOOP);
	expect_failure(fs_open_beneath(s->root.fd, "logs/7.log", O_WRONLY | O_CREAT | O_TRUNC, 0600), ELOOP);
	after = listing(s->out);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void open_beneath_refuses_dotdot_and_absolute_paths(void **state)
{
	struct scratch *s = *state;

	expect_failure(fs_open_beneath(s->root.fd, "../out/secret", O_RDONLY, 0), EXDEV);
	expect_failure(fs_open_beneath(s->root.fd, "/etc/passwd", O_RDONLY, 0), EXDEV);
}

static void open_beneath_opens_and_creates_what_is_inside(void **state)
{
	struct scratch *s = *state;
	struct stat st;
	int fd;

	fd = fs_open_beneath(s->root.fd, "new.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	close(fd);
}

static void mkdirs_beneath_makes_every_missing_component(void **state)
{
	struct scratch *s = *state;
	char path[256];
	struct stat st;
	int fd = fs_mkdirs_beneath(s->root.fd, "a/b/c", 0700);

	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/a/b/c", s->root_path);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Existing ones are fine. */
	fd = fs_mkdirs_beneath(s->root.fd, "a/b", 0700);
	assert_true(fd >= 0);
	close(fd);
}

static void mkdirs_beneath_through_a_link_makes_nothing_outside(void **state)
{
	struct scratch *s = *state;
	char *before = listing(s->out), *after;

	plant(s, "publish");
	expect_failure(fs_mkdirs_beneath(s->root.fd, "publish/r1/versions", 0755), ELOOP);
	assert_int_equal(fs_mkdirs_beneath_as(s->root.fd, "publish/r1/versions", 0755, (gid_t)-1), -1);
	after = listing(s->out);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void mkdirs_beneath_as_gives_the_exact_mode_whatever_the_umask(void **state)
{
	struct scratch *s = *state;
	mode_t old = umask(077);
	struct stat st;
	int fd = fs_mkdirs_beneath_as(s->root.fd, "pub/r1", 0755, getegid());

	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_gid, getegid());
	close(fd);
	assert_int_equal(fstatat(s->root.fd, "pub", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
}

static void parent_beneath_gives_the_directory_and_the_last_name(void **state)
{
	struct scratch *s = *state;
	char base[64];
	struct stat st;
	int fd = fs_parent_beneath(s->root.fd, "x/y/file", 0700, base, sizeof base);

	assert_true(fd >= 0);
	assert_string_equal(base, "file");
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	close(fd);
	fd = fs_parent_beneath(s->root.fd, "top", 0, base, sizeof base);
	assert_true(fd >= 0);
	assert_string_equal(base, "top");
	close(fd);
	plant(s, "tmp");
	expect_failure(fs_parent_beneath(s->root.fd, "tmp/dl-1-1", 0, base, sizeof base), ELOOP);
}

static void unlink_beneath_removes_a_link_itself_never_its_target(void **state)
{
	struct scratch *s = *state;
	char *before = listing(s->out), *after, path[256];
	struct stat st;

	plant(s, "logs");
	expect_failure(fs_unlink_beneath(s->root.fd, "logs/secret"), ELOOP);
	assert_int_equal(fs_unlink_beneath(s->root.fd, "logs"), 0);
	snprintf(path, sizeof path, "%s/logs", s->root_path);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(fs_unlink_beneath(s->root.fd, "never-there"), 0);
	after = listing(s->out);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void remove_tree_beneath_removes_links_in_the_tree_not_what_they_reach(void **state)
{
	struct scratch *s = *state;
	char *before = listing(s->out), *after, path[256];
	struct stat st;
	int fd = fs_mkdirs_beneath(s->root.fd, "versions/1/sub", 0700);

	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/versions/1", s->root_path);
	make_file(path, "f", "data");
	plant(s, "versions/1/sub/escape");
	plant(s, "versions/2");
	assert_int_equal(fs_remove_tree_beneath(s->root.fd, "versions"), 0);
	snprintf(path, sizeof path, "%s/versions", s->root_path);
	assert_int_equal(lstat(path, &st), -1);
	after = listing(s->out);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void remove_tree_beneath_through_a_link_removes_nothing(void **state)
{
	struct scratch *s = *state;
	char *before = listing(s->out), *after;

	plant(s, "content");
	expect_failure(fs_remove_tree_beneath(s->root.fd, "content/sha256"), ELOOP);
	/* The link itself, named as the tree, goes; its target stays. */
	assert_int_equal(fs_remove_tree_beneath(s->root.fd, "content"), 0);
	after = listing(s->out);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void beneath_error_names_the_link_and_where_it_leads(void **state)
{
	struct scratch *s = *state;
	char msg[1024], want[256];

	plant(s, "logs");
	fs_beneath_error(&s->root, "logs/7.log", ELOOP, msg, sizeof msg);
	snprintf(want, sizeof want, "%s/logs/7.log: %s/logs is a symbolic link (to %s)",
	    s->root_path, s->root_path, s->out);
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("expected '%s…', got '%s'", want, msg);
	assert_non_null(strstr(msg, "depot follows no link"));
	fs_beneath_error(&s->root, "logs", ELOOP, msg, sizeof msg);
	snprintf(want, sizeof want, "%s/logs: a symbolic link (to %s)", s->root_path, s->out);
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("expected '%s…', got '%s'", want, msg);
	fs_beneath_error(&s->root, "../x", EXDEV, msg, sizeof msg);
	assert_non_null(strstr(msg, "leads outside"));
	fs_beneath_error(&s->root, "nope", ENOENT, msg, sizeof msg);
	snprintf(want, sizeof want, "%s/nope: %s", s->root_path, strerror(ENOENT));
	assert_string_equal(msg, want);
}

static void root_refresh_follows_a_directory_swapped_in_under_the_same_name(void **state)
{
	struct scratch *s = *state;
	char aside[128], path[256];
	struct stat st;

	make_file(s->root_path, "old", "1");
	snprintf(aside, sizeof aside, "%s/aside", s->base);
	assert_int_equal(rename(s->root_path, aside), 0);
	assert_int_equal(mkdir(s->root_path, 0700), 0);
	make_file(s->root_path, "new", "2");
	assert_int_equal(fstatat(s->root.fd, "old", &st, 0), 0);
	assert_int_equal(fs_root_refresh(&s->root), 0);
	assert_int_equal(fstatat(s->root.fd, "new", &st, 0), 0);
	assert_int_equal(fstatat(s->root.fd, "old", &st, 0), -1);
	snprintf(path, sizeof path, "%s/old", aside);
	unlink(path);
	rmdir(aside);
}

/*
 * fs_tree_bytes, which counts the content store (status) and pre-restore
 * directories: file bytes or shared disk blocks, never through a link
 * (ROOT/link -> OUT, which holds more), and a walk a stopping daemon ends.
 */
static void tree_bytes_counts_what_is_below_and_stops_when_told(void **state)
{
	struct scratch *s = *state;
	char sub[160], a[200], b[200];
	int stop = 1;
	struct stat st;

	snprintf(sub, sizeof sub, "%s/sub", s->root_path);
	assert_int_equal(mkdir(sub, 0700), 0);
	make_file(s->root_path, "one", "12345");
	make_file(sub, "two", "1234567890");
	make_file(s->out, "big", "outside the tree, reached only through a link");
	plant(s, "link");
	assert_int_equal(fs_tree_bytes(s->root_path, FS_TREE_FILE_BYTES, NULL), 15);

	/* A hard link's blocks count once across its names, as du counts them. */
	snprintf(a, sizeof a, "%s/two", sub);
	snprintf(b, sizeof b, "%s/two-again", s->root_path);
	assert_int_equal(link(a, b), 0);
	assert_int_equal(fs_tree_bytes(s->root_path, FS_TREE_FILE_BYTES, NULL), 25);
	assert_int_equal(lstat(a, &st), 0);
	{
		struct stat r, d, o, l;
		char one[200], lk[200];

		snprintf(one, sizeof one, "%s/one", s->root_path);
		snprintf(lk, sizeof lk, "%s/link", s->root_path);
		assert_int_equal(lstat(s->root_path, &r), 0);
		assert_int_equal(lstat(sub, &d), 0);
		assert_int_equal(lstat(one, &o), 0);
		assert_int_equal(lstat(lk, &l), 0);
		assert_int_equal(fs_tree_bytes(s->root_path, FS_TREE_DISK_BYTES, NULL),
		    (r.st_blocks + d.st_blocks + o.st_blocks + st.st_blocks + l.st_blocks) * 512);
	}

	expect_failure((int)fs_tree_bytes(s->root_path, FS_TREE_FILE_BYTES, &stop), EINTR);
	snprintf(a, sizeof a, "%s/missing", s->root_path);
	expect_failure((int)fs_tree_bytes(a, FS_TREE_FILE_BYTES, NULL), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tree_bytes_counts_what_is_below_and_stops_when_told, setup, teardown),
		cmocka_unit_test_setup_teardown(open_beneath_refuses_a_link_on_the_way_and_at_the_end, setup, teardown),
		cmocka_unit_test_setup_teardown(open_beneath_refuses_dotdot_and_absolute_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(open_beneath_opens_and_creates_what_is_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(mkdirs_beneath_makes_every_missing_component, setup, teardown),
		cmocka_unit_test_setup_teardown(mkdirs_beneath_through_a_link_makes_nothing_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(mkdirs_beneath_as_gives_the_exact_mode_whatever_the_umask,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(parent_beneath_gives_the_directory_and_the_last_name, setup, teardown),
		cmocka_unit_test_setup_teardown(unlink_beneath_removes_a_link_itself_never_its_target, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_tree_beneath_removes_links_in_the_tree_not_what_they_reach,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(remove_tree_beneath_through_a_link_removes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(beneath_error_names_the_link_and_where_it_leads, setup, teardown),
		cmocka_unit_test_setup_teardown(root_refresh_follows_a_directory_swapped_in_under_the_same_name,
		    setup, teardown),
	};

	int failed = cmocka_run_group_tests_name("with openat2", tests, NULL, NULL);

	/* The walk that stands in where openat2 is missing keeps the same rules. */
	fs_beneath_walk_only = 1;
	return failed + cmocka_run_group_tests_name("with the component walk", tests, NULL, NULL);
}
