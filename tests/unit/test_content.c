/* test_content.c: content-store paths and the atomic insert (DESIGN §3, §8), each test in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "depotd.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd *D;

/* sha256("hello\n") and sha256("") */
#define SHA_HELLO "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A data directory, as the worker holds it: its path and its fd. */
struct scratch {
	char dir[64];
	struct fs_root root;
};

static int setup_dir(void **state);
static int remove_dir(void **state);
static void write_file(const char *path, const char *data);
static char *read_file(const char *path);
static void tmp_path(char *out, size_t n, const char *dir, const char *name);
static void store_path(char *out, size_t n, const char *dir, const char *sha);
static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw);

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh data directory with its tmp/, as the worker sees it. */
static int setup_dir(void **state)
{
	struct scratch *s = calloc(1, sizeof *s);
	char sub[256];

	if (s == NULL)
		return -1;
	snprintf(s->dir, sizeof s->dir, "/tmp/dp-content.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(sub, sizeof sub, "%s/tmp", s->dir);
	if (mkdir(sub, 0700) < 0 || fs_root_open(&s->root, s->dir) < 0)
		return -1;
	*state = s;
	return 0;
}

static int remove_dir(void **state)
{
	struct scratch *s = *state;

	fs_root_close(&s->root);
	nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(close(fd), 0);
}

static char *read_file(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* tmp/NAME, as content_commit_at takes it, and its whole path in dir. */
static void tmp_path(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/tmp/%s", dir, name);
}

static void store_path(char *out, size_t n, const char *dir, const char *sha)
{
	char rel[128];

	assert_int_equal(content_path(sha, rel, sizeof rel), 0);
	snprintf(out, n, "%s/%s", dir, rel);
}

static void path_fans_out_by_the_first_two_digits(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(content_path(SHA_HELLO, out, sizeof out), 0);
	assert_string_equal(out, "content/sha256/58/" SHA_HELLO);
	assert_int_equal(content_path(SHA_EMPTY, out, sizeof out), 0);
	assert_string_equal(out, "content/sha256/e3/" SHA_EMPTY);
}

static void path_refuses_what_is_not_a_lowercase_sha256(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(content_path("5891b5b5", out, sizeof out), -1);
	assert_int_equal(content_path("5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03",
	    out, sizeof out), -1);
	assert_int_equal(content_path("../../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    out, sizeof out), -1);
	assert_int_equal(content_path(SHA_HELLO "0", out, sizeof out), -1);
	assert_int_equal(content_valid_sha256(SHA_HELLO), 1);
}

static void path_that_does_not_fit_is_refused(void **state)
{
	char out[80];

	(void)state;
	assert_int_equal(content_path(SHA_HELLO, out, sizeof out), -1);
}

/* What a backup checks a content file's bytes against: only a path content_path would make names a digest. */
static void only_a_store_path_names_a_digest(void **state)
{
	(void)state;
	assert_string_equal(content_named_sha256("content/sha256/58/" SHA_HELLO), SHA_HELLO);
	assert_null(content_named_sha256("content/sha256/59/" SHA_HELLO));	/* the wrong fan-out */
	assert_null(content_named_sha256("content/sha256/" SHA_HELLO));
	assert_null(content_named_sha256("publish/r/versions/1/" SHA_HELLO));
	assert_null(content_named_sha256("content/sha256/58/" SHA_HELLO ".tmp"));
	assert_null(content_named_sha256("content/sha256/58/5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"));
	assert_null(content_named_sha256("depot.db"));
	assert_null(content_named_sha256(""));
}

/* content_commit_at as a sync calls it: tmp/ open once, fan-out directories opened once through fans. */
struct batch {
	struct content_fans fans;
	int tmpdir;
};

static void batch_open(struct scratch *sc, struct batch *b)
{
	char tmp[512];

	content_fans_init(&b->fans);
	snprintf(tmp, sizeof tmp, "%s/tmp", sc->dir);
	b->tmpdir = open(tmp, O_RDONLY | O_DIRECTORY);
	assert_true(b->tmpdir >= 0);
}

static void batch_close(struct batch *b)
{
	content_fans_close(&b->fans);
	for (int i = 0; i < 256; i++)
		assert_int_equal(b->fans.fd[i], -1);
	close(b->tmpdir);
}

/* One file committed as a sync commits many: tmp is relative to the data directory. */
static int commit(struct scratch *sc, const char *tmp, const char *sha256, char *err, size_t n)
{
	char path[512];
	struct batch b;
	struct stat st;
	int rc;

	snprintf(path, sizeof path, "%s/%s", sc->dir, tmp);
	batch_open(sc, &b);
	rc = content_commit_at(&sc->root, &b.fans, b.tmpdir, tmp, sha256,
	    stat(path, &st) == 0 ? (int64_t)st.st_size : -1, err, n);
	batch_close(&b);
	return rc;
}

static void commit_moves_the_file_into_the_store(void **state)
{
	struct scratch *sc = *state;
	const char *dir = sc->dir;
	char tmp[512], dst[512], err[512] = "";

	tmp_path(tmp, sizeof tmp, dir, "dl-1-1");
	write_file(tmp, "hello\n");
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 6), 0);
	if (commit(sc, tmp + strlen(dir) + 1, SHA_HELLO, err, sizeof err) != 0)
		fail_msg("commit: %s", err);
	store_path(dst, sizeof dst, dir, SHA_HELLO);
	assert_string_equal(read_file(dst), "hello\n");
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 6), 1);
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 7), 0);
	assert_int_equal(content_has(&sc->root, SHA_EMPTY, 0), 0);
}

static void commit_of_an_empty_file_works(void **state)
{
	struct scratch *sc = *state;
	const char *dir = sc->dir;
	char tmp[512], err[512];

	tmp_path(tmp, sizeof tmp, dir, "dl-1-1");
	write_file(tmp, "");
	assert_int_equal(commit(sc, tmp + strlen(dir) + 1, SHA_EMPTY, err, sizeof err), 0);
	assert_int_equal(content_has(&sc->root, SHA_EMPTY, 0), 1);
}

static void commit_fails_when_the_store_is_not_a_directory(void **state)
{
	struct scratch *sc = *state;
	const char *dir = sc->dir;
	char tmp[512], top[512], err[512] = "";

	snprintf(top, sizeof top, "%s/content", dir);
	write_file(top, "not a directory");
	tmp_path(tmp, sizeof tmp, dir, "dl-1-1");
	write_file(tmp, "hello\n");
	assert_int_equal(commit(sc, tmp + strlen(dir) + 1, SHA_HELLO, err, sizeof err), -1);
	assert_non_null(strstr(err, top));
	/* The temp stays for the caller, which removes its own temps on failure. */
	assert_int_equal(access(tmp, F_OK), 0);
}

static void commit_refuses_a_bad_digest(void **state)
{
	struct scratch *sc = *state;
	const char *dir = sc->dir;
	char tmp[512], err[512] = "";

	tmp_path(tmp, sizeof tmp, dir, "dl-1-1");
	write_file(tmp, "hello\n");
	assert_int_equal(commit(sc, tmp + strlen(dir) + 1, "../../x", err, sizeof err), -1);
	assert_non_null(strstr(err, "not a sha256"));
}

/* tmp/NAME holding data, mode 0644 as a sync leaves it. */
static void write_temp(const char *dir, const char *name, const char *data)
{
	char tmp[512];

	tmp_path(tmp, sizeof tmp, dir, name);
	write_file(tmp, data);
	assert_int_equal(chmod(tmp, 0644), 0);
}

/* A made-up digest in the same fan-out as SHA_HELLO (a commit does not hash). */
#define SHA_HELLO_58 "58b1c5bc2cc0ddc08f0ac7bb3e2ab49e4f3b0c3ab1b4e2e2b0d2b8b5c8e2e1a1"

static void commit_at_moves_many_files_opening_each_fan_once(void **state)
{
	struct scratch *sc = *state;
	char dst[512], err[512] = "", tmp[512];
	struct batch b;
	struct stat st;
	int fan;

	batch_open(sc, &b);
	write_temp(sc->dir, "dl-1-1", "hello\n");
	write_temp(sc->dir, "dl-1-2", "");
	write_temp(sc->dir, "dl-1-3", "other\n");
	if (content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-1-1", SHA_HELLO, 6, err,
	    sizeof err) != 0)
		fail_msg("commit: %s", err);
	fan = b.fans.fd[0x58];
	assert_true(fan >= 0);
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-1-2", SHA_EMPTY, 0,
	    err, sizeof err), 0);
	assert_true(b.fans.fd[0xe3] >= 0);
	/* Another file of fan-out 58 goes through the directory already open. */
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-1-3", SHA_HELLO_58, 6,
	    err, sizeof err), 0);
	assert_int_equal(b.fans.fd[0x58], fan);
	store_path(dst, sizeof dst, sc->dir, SHA_HELLO);
	assert_string_equal(read_file(dst), "hello\n");
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	store_path(dst, sizeof dst, sc->dir, SHA_HELLO_58);
	assert_string_equal(read_file(dst), "other\n");
	assert_int_equal(content_has(&sc->root, SHA_EMPTY, 0), 1);
	for (int i = 1; i <= 3; i++) {
		char name[32];

		snprintf(name, sizeof name, "dl-1-%d", i);
		tmp_path(tmp, sizeof tmp, sc->dir, name);
		assert_int_equal(access(tmp, F_OK), -1);
	}
	batch_close(&b);
}

static void commit_at_keeps_an_equal_stored_file_and_replaces_a_damaged_one(void **state)
{
	struct scratch *sc = *state;
	char dst[512], tmp[512], err[512] = "";
	struct stat before, after;
	struct batch b;

	batch_open(sc, &b);
	write_temp(sc->dir, "dl-1-1", "hello\n");
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-1-1", SHA_HELLO, 6,
	    err, sizeof err), 0);
	store_path(dst, sizeof dst, sc->dir, SHA_HELLO);
	assert_int_equal(stat(dst, &before), 0);
	/* The same digest again (another task stored it meanwhile): the stored inode stays, the temp goes. */
	write_temp(sc->dir, "dl-2-1", "hello\n");
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-2-1", SHA_HELLO, 6,
	    err, sizeof err), 0);
	assert_int_equal(stat(dst, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	tmp_path(tmp, sizeof tmp, sc->dir, "dl-2-1");
	assert_int_equal(access(tmp, F_OK), -1);
	/* A stored file of another size is damaged: replaced. */
	assert_int_equal(truncate(dst, 3), 0);
	write_temp(sc->dir, "dl-3-1", "hello\n");
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-3-1", SHA_HELLO, 6,
	    err, sizeof err), 0);
	assert_string_equal(read_file(dst), "hello\n");
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 6), 1);
	batch_close(&b);
}

static void commit_at_of_a_missing_temp_fails_naming_it(void **state)
{
	struct scratch *sc = *state;
	char err[512] = "";
	struct batch b;

	batch_open(sc, &b);
	assert_int_equal(content_commit_at(&sc->root, &b.fans, b.tmpdir, "tmp/dl-9-9", SHA_HELLO, 6,
	    err, sizeof err), -1);
	assert_non_null(strstr(err, "tmp/dl-9-9"));
	assert_non_null(strstr(err, sc->dir));
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 6), 0);
	batch_close(&b);
}

/* An unnamed temp holding text, 0644, as a sync's writer leaves it for the committer. */
static int unnamed_with(struct batch *b, const char *text)
{
	int fd;

	assert_int_equal(content_unnamed_check(b->tmpdir), 0);
	fd = content_unnamed_temp(b->tmpdir);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, 0644), 0);
	return fd;
}

/* Entries in dir other than . and .. */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void commit_fd_links_an_unnamed_temp_that_tmp_never_names(void **state)
{
	struct scratch *sc = *state;
	char dst[512], tmpdir[512], err[512] = "";
	struct batch b;
	struct stat st;
	int fd;

	batch_open(sc, &b);
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", sc->dir);
	fd = unnamed_with(&b, "hello\n");
	/* Nothing in tmp/ names it, the probe's name gone too: a killed worker leaves nothing. */
	assert_int_equal(entries(tmpdir), 0);
	if (content_commit_fd(&sc->root, &b.fans, fd, b.tmpdir, "tmp/dl-1-1", SHA_HELLO, 6, err,
	    sizeof err) != 0)
		fail_msg("commit: %s", err);
	close(fd);
	store_path(dst, sizeof dst, sc->dir, SHA_HELLO);
	assert_string_equal(read_file(dst), "hello\n");
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(entries(tmpdir), 0);
	batch_close(&b);
}

static void commit_fd_keeps_an_equal_stored_file_and_replaces_a_damaged_one(void **state)
{
	struct scratch *sc = *state;
	char dst[512], tmpdir[512], err[512] = "";
	struct stat before, after;
	struct batch b;
	int fd;

	batch_open(sc, &b);
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", sc->dir);
	fd = unnamed_with(&b, "hello\n");
	assert_int_equal(content_commit_fd(&sc->root, &b.fans, fd, b.tmpdir, "tmp/dl-1-1", SHA_HELLO,
	    6, err, sizeof err), 0);
	close(fd);
	store_path(dst, sizeof dst, sc->dir, SHA_HELLO);
	assert_int_equal(stat(dst, &before), 0);
	/* Stored meanwhile by another task: that inode stays, and this one goes with its fd. */
	fd = unnamed_with(&b, "hello\n");
	assert_int_equal(content_commit_fd(&sc->root, &b.fans, fd, b.tmpdir, "tmp/dl-2-1", SHA_HELLO,
	    6, err, sizeof err), 0);
	close(fd);
	assert_int_equal(stat(dst, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(after.st_nlink, 1);
	assert_int_equal(entries(tmpdir), 0);
	/* A stored file of another size is damaged: replaced, through a name in tmp/ that goes again. */
	assert_int_equal(truncate(dst, 3), 0);
	fd = unnamed_with(&b, "hello\n");
	assert_int_equal(content_commit_fd(&sc->root, &b.fans, fd, b.tmpdir, "tmp/dl-3-1", SHA_HELLO,
	    6, err, sizeof err), 0);
	close(fd);
	assert_string_equal(read_file(dst), "hello\n");
	assert_int_equal(content_has(&sc->root, SHA_HELLO, 6), 1);
	assert_int_equal(entries(tmpdir), 0);
	batch_close(&b);
}

static void commit_fd_refuses_a_bad_digest_and_stores_nothing(void **state)
{
	struct scratch *sc = *state;
	char err[512] = "";
	struct batch b;
	int fd;

	batch_open(sc, &b);
	fd = unnamed_with(&b, "hello\n");
	assert_int_equal(content_commit_fd(&sc->root, &b.fans, fd, b.tmpdir, "tmp/dl-1-1",
	    "../../etc/passwd", 6, err, sizeof err), -1);
	assert_non_null(strstr(err, "not a sha256"));
	close(fd);
	batch_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(path_fans_out_by_the_first_two_digits),
		cmocka_unit_test(path_refuses_what_is_not_a_lowercase_sha256),
		cmocka_unit_test(path_that_does_not_fit_is_refused),
		cmocka_unit_test(only_a_store_path_names_a_digest),
		cmocka_unit_test_setup_teardown(commit_moves_the_file_into_the_store, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_of_an_empty_file_works, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_fails_when_the_store_is_not_a_directory,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_refuses_a_bad_digest, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_at_moves_many_files_opening_each_fan_once,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_at_keeps_an_equal_stored_file_and_replaces_a_damaged_one,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_fd_links_an_unnamed_temp_that_tmp_never_names,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_fd_keeps_an_equal_stored_file_and_replaces_a_damaged_one,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_fd_refuses_a_bad_digest_and_stores_nothing,
		    setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(commit_at_of_a_missing_temp_fails_naming_it,
		    setup_dir, remove_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
