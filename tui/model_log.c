/*
 * model_log.c: the last lines of one task's log, read with task.log from
 * an offset. A long log is read from its tail only; a reader that falls far
 * behind a chatty task jumps ahead and says how much it skipped.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_push(struct model_log *l, char *line);
static void log_take(struct model_log *l, const char *data, size_t len);
static void log_flush_partial(struct model_log *l);
static void log_jump(struct model_log *l, int64_t to, const char *what);

void model_log_init(struct model_log *l, int64_t task)
{
	memset(l, 0, sizeof *l);
	l->task = task;
	l->offset = -1;
}

void model_log_free(struct model_log *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->lines[(l->first + i) % MODEL_LOG_LINES]);
	free(l->partial);
	model_log_init(l, 0);
}

/* What to ask task.log for next: the tail first, then from where the last read ended. */
void model_log_request(const struct model_log *l, int64_t *offset, int64_t *max)
{
	if (l->offset < 0) {
		*offset = 0;
		*max = MODEL_LOG_TAIL;
	} else {
		*offset = l->offset;
		*max = MODEL_LOG_CHUNK;
	}
}

/* Takes line (malloc'd) as the newest complete line; the oldest goes when full. */
static void log_push(struct model_log *l, char *line)
{
	if (line == NULL)
		return;
	model_text_clean(line);
	if (l->count == MODEL_LOG_LINES) {
		free(l->lines[l->first]);
		l->lines[l->first] = line;
		l->first = (l->first + 1) % MODEL_LOG_LINES;
		return;
	}
	l->lines[(l->first + l->count) % MODEL_LOG_LINES] = line;
	l->count++;
}

/* Appends data, splitting it into lines; the unfinished end stays in partial. */
static void log_take(struct model_log *l, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl != NULL ? (size_t)(nl - data) : len;
		size_t old = l->partial != NULL ? strlen(l->partial) : 0;
		char *p;

		if (l->skip_partial) {
			/* The read started mid-line: the rest of that line is not shown. */
			if (nl == NULL)
				return;
			l->skip_partial = 0;
			data += seg + 1;
			len -= seg + 1;
			continue;
		}
		if ((p = realloc(l->partial, old + seg + 1)) == NULL)
			return;
		memcpy(p + old, data, seg);
		p[old + seg] = '\0';
		l->partial = p;
		if (nl == NULL)
			break;
		if (old + seg > 0 && p[old + seg - 1] == '\r')
			p[old + seg - 1] = '\0';
		log_push(l, l->partial);
		l->partial = NULL;
		data += seg + 1;
		len -= seg + 1;
	}
}

static void log_flush_partial(struct model_log *l)
{
	if (l->partial != NULL && l->partial[0] != '\0') {
		log_push(l, l->partial);
		l->partial = NULL;
	}
}

/* Continues at byte to, noting what was passed over. */
static void log_jump(struct model_log *l, int64_t to, const char *what)
{
	char size[32], *line;

	free(l->partial);
	l->partial = NULL;
	model_fmt_size(to - (l->offset > 0 ? l->offset : 0), size, sizeof size);
	if ((line = malloc(80)) != NULL) {
		snprintf(line, 80, "[... %s of %s not shown ...]", size, what);
		log_push(l, line);
	}
	l->skipped += to - (l->offset > 0 ? l->offset : 0);
	l->offset = to;
	l->skip_partial = to > 0;
}

/*
 * Applies a task.log result {"data", "offset", "size", "final"}. 1 when
 * something changed, 0 when not, -1 when the result is unreadable.
 */
int model_log_apply(struct model_log *l, const cJSON *r)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "data");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(r, "offset");
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(r, "size");
	int first = l->offset < 0, changed = 0;
	int64_t next, sz;

	if (!cJSON_IsString(data) || !cJSON_IsNumber(off) || !cJSON_IsNumber(size))
		return -1;
	next = (int64_t)off->valuedouble;
	sz = (int64_t)size->valuedouble;
	l->size = sz;
	if (first && sz > MODEL_LOG_TAIL && sz > next) {
		/* A long log: only its tail is of interest. */
		l->offset = 0;
		log_jump(l, sz - MODEL_LOG_TAIL, "earlier output");
		l->generation++;
		return 1;
	}
	if (data->valuestring[0] != '\0') {
		log_take(l, data->valuestring, strlen(data->valuestring));
		changed = 1;
	}
	l->offset = next;
	if (sz - next > 2 * MODEL_LOG_CHUNK) {
		/* The task writes faster than it is read: keep up with its end. */
		log_jump(l, sz - MODEL_LOG_TAIL, "output");
		changed = 1;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "final")) && !l->final) {
		l->final = 1;
		log_flush_partial(l);
		changed = 1;
	}
	if (changed)
		l->generation++;
	return changed;
}

/* Lines to show: the complete ones and the line being written. */
size_t model_log_count(const struct model_log *l)
{
	return l->count + (l->partial != NULL && l->partial[0] != '\0');
}

const char *model_log_line(const struct model_log *l, size_t i)
{
	if (i < l->count)
		return l->lines[(l->first + i) % MODEL_LOG_LINES];
	if (i == l->count && l->partial != NULL)
		return l->partial;
	return NULL;
}
