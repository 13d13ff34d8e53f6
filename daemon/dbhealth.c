/* dbhealth.c: depot.db's quick_check for status, run by a thread of its own on a connection of its own (refresh.c), so that checking a large database never stalls the loop. */
#include "depotd.h"
#include "paths.h"

/*
 * quick_check reads every page: 80 ms for 100,000 tasks (12 MB), seconds
 * for a store that records millions of files, and status (which a
 * console polls every second) ran it on the loop each time.
 */
static int check_database(void *result, const int *stop)
{
	struct db_health *h = result;
	char path[4200];

	paths_join(path, sizeof path, D->dir, "depot.db");
	h->ok = store_check_file(path, stop, h->message, sizeof h->message) == 0;
	/* Cut short by a stopping daemon: no verdict. */
	return *stop ? -1 : 0;
}

static struct db_health last;
/* A check that takes long is not made again sooner than 20 times its length: at most 5% of a core. */
static struct refresh health = REFRESH_INIT("the database's health", check_database, &last, 20);

int64_t dbhealth_get(int64_t max_age_ms, struct db_health *out)
{
	return refresh_get(&health, max_age_ms, out);
}

void dbhealth_stop(void)
{
	refresh_stop(&health);
}
