/* test_repeats.c: names_mark_repeats against looking each name up among those before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repeats.h"

/* The daemon objects linked in refer to the daemon's global; main.c, which defines it, is not linked. */
struct depotd;
struct depotd *D;

static void a_later_entry_of_a_name_is_marked_and_the_first_is_not(void **state)
{
	/* Names cut out of longer strings, as environ's NAME=value: only len bytes count. */
	const char *src[] = { "PATH=/bin", "HOME=/root", "PATH=/usr/bin", "PAT=x", "PATHS=y",
	    "HOME=/tmp", "PATH=" };
	struct name_ref names[7];
	unsigned char repeat[7] = { 0 };
	const unsigned char want[7] = { 0, 0, 1, 0, 0, 1, 1 };

	(void)state;
	for (size_t i = 0; i < 7; i++)
		names[i] = (struct name_ref){ src[i], (size_t)(strchr(src[i], '=') - src[i]), i };
	names_mark_repeats(names, 7, repeat);
	assert_memory_equal(repeat, want, 7);
}

static void marks_what_a_quadratic_lookup_would(void **state)
{
	enum { N = 2000 };
	static char pool[N][4];
	struct name_ref names[N];
	unsigned char repeat[N] = { 0 }, want[N] = { 0 };

	(void)state;
	srand(7);
	/* Names of 1-3 letters from "ab": many repeats, and many that are prefixes of others. */
	for (size_t i = 0; i < N; i++) {
		size_t len = 1 + (size_t)rand() % 3;

		for (size_t k = 0; k < len; k++)
			pool[i][k] = "ab"[rand() % 2];
		names[i] = (struct name_ref){ pool[i], len, i };
		for (size_t j = 0; j < i && !want[i]; j++)
			want[i] = names[j].len == len && memcmp(pool[j], pool[i], len) == 0;
	}
	names_mark_repeats(names, N, repeat);
	assert_memory_equal(repeat, want, N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_later_entry_of_a_name_is_marked_and_the_first_is_not),
		cmocka_unit_test(marks_what_a_quadratic_lookup_would),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
