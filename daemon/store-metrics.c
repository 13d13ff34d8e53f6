/* store-metrics.c: what the metrics (metrics.c) read from the database: final tasks counted, the last backup. */
#include "depotd.h"
#include "store-sql.h"

#include <string.h>

int store_count_final_tasks(struct store *st,
    void (*fn)(const char *type, enum task_state state, int64_t n, void *arg), void *arg)
{
	char sql[256], states[128];
	struct sql s;

	task_states_join(states, sizeof states, 1, "'", ", ");
	snprintf(sql, sizeof sql, "SELECT type, state, count(*) FROM tasks WHERE state IN (%s)"
	    " GROUP BY type, state", states);
	sql_prepare(&s, store_db(st), "counting final tasks", sql);
	while (sql_step(&s) == 1) {
		const char *type = (const char *)sqlite3_column_text(s.q, 0);
		enum task_state state;

		if (type != NULL && task_state_parse((const char *)sqlite3_column_text(s.q, 1),
		    &state) == 0)
			fn(type, state, sqlite3_column_int64(s.q, 2), arg);
	}
	return sql_end(&s);
}

int store_last_good_backup(struct store *st, int64_t *finished_at, int64_t *size)
{
	struct sql s;
	int found = 0;

	/* Any completed backup, full or incremental: "when did one last succeed". */
	sql_prepare(&s, store_db(st), "finding the last backup", "SELECT finished_at,"
	    " CASE WHEN json_valid(result) THEN json_extract(result, '$.size') END"
	    " FROM tasks WHERE type = 'backup' AND state = 'completed'"
	    " ORDER BY id DESC LIMIT 1");
	if (sql_step(&s) == 1) {
		*finished_at = sqlite3_column_int64(s.q, 0);
		*size = sqlite3_column_int64(s.q, 1);
		found = 1;
	}
	return sql_end(&s) < 0 ? -1 : found;
}
