/* repeats.h: which entries of a list of names repeat an earlier entry's name (environment variables given twice), by sorting. */
#ifndef DEPOT_REPEATS_H
#define DEPOT_REPEATS_H

#include <stddef.h>

/* A name: its bytes (len of them, not NUL-terminated) and its place in the list. */
struct name_ref {
	const char *name;
	size_t len;
	size_t at;
};

/*
 * Sets repeat[names[i].at] to 1 for each entry whose name an entry at an
 * earlier place has, leaving the others as they are; sorts names. In
 * O(n log n): looking each name up among all before it is O(n²), which a
 * shell's or a task's thousands of variables made seconds.
 */
void names_mark_repeats(struct name_ref *names, size_t n, unsigned char *repeat);

#endif
