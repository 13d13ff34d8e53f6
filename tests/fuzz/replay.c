/* replay.c: a harness's seeds and regression inputs run as cmocka tests, so make check exercises every fuzz target without clang. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replay_one(void **state);
static size_t add_dir(struct CMUnitTest **tests, size_t n, const char *dir);

/* Exactly the file's bytes in a buffer of that size, so the sanitizers see any read past the end. */
static void replay_one(void **state)
{
	const char *path = *state;
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size = -1;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fail_msg("cannot read %s", path);
		return;
	}
	buf = malloc(size > 0 ? (size_t)size : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	free(buf);
}

/* Appends a test for each file of dir, in name order; a missing dir adds none. */
static size_t add_dir(struct CMUnitTest **tests, size_t n, const char *dir)
{
	struct dirent **names;
	int count = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < count; i++) {
		char *path;
		if (names[i]->d_name[0] != '.' &&
		    asprintf(&path, "%s/%s", dir, names[i]->d_name) >= 0) {
			*tests = realloc(*tests, (n + 1) * sizeof **tests);
			if (*tests == NULL)
				abort();
			(*tests)[n++] = (struct CMUnitTest){ .name = path,
			    .test_func = replay_one, .initial_state = path };
		}
		free(names[i]);
	}
	if (count >= 0)
		free(names);
	return n;
}

/*
 * With no arguments, replays tests/fuzz/seeds/NAME and tests/fuzz/regress/NAME
 * (NAME is the binary's own name; make check runs from the top directory);
 * otherwise the files given, as a libFuzzer binary would.
 */
int main(int argc, char **argv)
{
	struct CMUnitTest *tests = NULL;
	char *name = basename(argv[0]), dir[4096];
	size_t n = 0;
	int rc;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			tests = realloc(tests, (n + 1) * sizeof *tests);
			if (tests == NULL)
				abort();
			tests[n++] = (struct CMUnitTest){ .name = argv[i],
			    .test_func = replay_one, .initial_state = argv[i] };
		}
	} else {
		snprintf(dir, sizeof dir, "tests/fuzz/seeds/%s", name);
		n = add_dir(&tests, n, dir);
		snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", name);
		n = add_dir(&tests, n, dir);
	}
	rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	if (argc == 1)
		for (size_t i = 0; i < n; i++)
			free(tests[i].initial_state);
	free(tests);
	return rc;
}
