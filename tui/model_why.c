/*
 * model_why.c: what task.why said holds a waiting task, kept as the
 * reasons' sentences for the details pane and the message line, or the
 * daemon's refusal when it could not say.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void why_clear(struct model_why *w);

void model_why_init(struct model_why *w)
{
	memset(w, 0, sizeof *w);
}

static void why_clear(struct model_why *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->msgs[i]);
	free(w->msgs);
	w->msgs = NULL;
	w->n = 0;
	w->known = 0;
	w->waiting = 0;
	w->err[0] = '\0';
}

/* Nothing asked any more; the generation moves on, so that a view sees the change. */
void model_why_free(struct model_why *w)
{
	unsigned long g = w->generation;

	why_clear(w);
	memset(w, 0, sizeof *w);
	w->generation = g + 1;
}

/*
 * task.why's result for task, asked while it was in state. A reason
 * without a message (a newer daemon's kind) is shown by its kind.
 */
void model_why_apply(struct model_why *w, int64_t task, enum task_state state, const cJSON *result,
    int64_t now)
{
	const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(result, "reasons"), *r;
	size_t n = cJSON_IsArray(reasons) ? (size_t)cJSON_GetArraySize(reasons) : 0;

	why_clear(w);
	w->task = task;
	w->state_at = state;
	w->at = now;
	w->known = 1;
	w->waiting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "waiting"));
	w->generation++;
	if (n == 0 || (w->msgs = calloc(n, sizeof *w->msgs)) == NULL)
		return;
	cJSON_ArrayForEach(r, reasons) {
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "message"));
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
		char *s;

		if (msg == NULL && kind == NULL)
			continue;
		if (msg == NULL) {
			size_t len = strlen(kind) + 3;

			if ((s = malloc(len)) != NULL)
				snprintf(s, len, "(%s)", kind);
		} else
			s = strdup(msg);
		if (s == NULL)
			continue;
		model_text_clean(s);
		w->msgs[w->n++] = s;
	}
}

/* The daemon did not answer task.why for task (an older daemon, say): err says why. */
void model_why_fail(struct model_why *w, int64_t task, enum task_state state, const char *err,
    int64_t now)
{
	why_clear(w);
	w->task = task;
	w->state_at = state;
	w->at = now;
	snprintf(w->err, sizeof w->err, "%s", err);
	w->generation++;
}
