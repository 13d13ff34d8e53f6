/* repeats.c: which entries of a list of names repeat an earlier entry's name, by sorting. */
#include "repeats.h"

#include <stdlib.h>
#include <string.h>

/* By name, then by place: each repeat comes after the first of its name. */
static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	if (c == 0)
		c = (x->len > y->len) - (x->len < y->len);
	return c != 0 ? c : (x->at > y->at) - (x->at < y->at);
}

void names_mark_repeats(struct name_ref *names, size_t n, unsigned char *repeat)
{
	qsort(names, n, sizeof *names, name_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (names[i].len == names[i - 1].len &&
		    memcmp(names[i].name, names[i - 1].name, names[i].len) == 0)
			repeat[names[i].at] = 1;
}
