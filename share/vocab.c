/* vocab.c: the tables of the protocol's words, made from the .def files of share/, and their lookups. */
#include "vocab.h"

#include <stdio.h>
#include <string.h>

static int vocab_find(const void *table, size_t size, int count, const char *s);

static const struct {
	const char *name;
	enum access_level access;
} commands[CMD_COUNT] = {
#define X(ident, wire, access, summary) [CMD_##ident] = { wire, access },
#include "commands.def"
#undef X
};

static const struct {
	const char *name;
	int final;
	const char *summary;
} states[TASK_STATE_COUNT] = {
#define X(ident, wire, final, summary) [TASK_##ident] = { wire, final, summary },
#include "states.def"
#undef X
};

static const struct {
	const char *name;
	enum task_state ends;
	int retriable;
	const char *summary;
} reasons[REASON_COUNT] = {
#define X(ident, wire, ends, retriable, summary) \
	[REASON_##ident] = { wire, TASK_##ends, retriable, summary },
#include "reasons.def"
#undef X
};

static const struct {
	const char *name;
	const char *summary;
} worker_cmds[WCMD_COUNT] = {
#define X(ident, wire, summary) [WCMD_##ident] = { wire, summary },
#include "workermsg.def"
#undef X
};

/*
 * The row of table (count rows of size bytes, each beginning with its
 * name) that s names, or -1. The lists are short: a scan is all it takes.
 */
static int vocab_find(const void *table, size_t size, int count, const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i < count; i++) {
		const char *const *name = (const void *)((const char *)table + (size_t)i * size);

		if (strcmp(*name, s) == 0)
			return i;
	}
	return -1;
}

#define VOCAB_VALID(v, count) ((unsigned)(v) < (unsigned)(count))

const char *command_name(enum command c)
{
	return VOCAB_VALID(c, CMD_COUNT) ? commands[c].name : "?";
}

int command_parse(const char *s, enum command *out)
{
	int i = vocab_find(commands, sizeof commands[0], CMD_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum command)i;
	return 0;
}

/* An unknown command needs everything: nothing is granted by mistake. */
enum access_level command_access(enum command c)
{
	return VOCAB_VALID(c, CMD_COUNT) ? commands[c].access : ACCESS_WRITE;
}

const char *task_state_name(enum task_state s)
{
	return VOCAB_VALID(s, TASK_STATE_COUNT) ? states[s].name : "?";
}

int task_state_parse(const char *s, enum task_state *out)
{
	int i = vocab_find(states, sizeof states[0], TASK_STATE_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum task_state)i;
	return 0;
}

int task_state_final(enum task_state s)
{
	return VOCAB_VALID(s, TASK_STATE_COUNT) && states[s].final;
}

const char *task_state_summary(enum task_state s)
{
	return VOCAB_VALID(s, TASK_STATE_COUNT) ? states[s].summary : "?";
}

void task_states_join(char *out, size_t n, int final, const char *quote, const char *last)
{
	size_t len = 0, left = 0;

	for (int i = 0; i < TASK_STATE_COUNT; i++)
		left += final < 0 || states[i].final == final;
	if (n > 0)
		out[0] = '\0';
	for (int i = 0; i < TASK_STATE_COUNT && len < n; i++) {
		if (final >= 0 && states[i].final != final)
			continue;
		left--;
		len += (size_t)snprintf(out + len, n - len, "%s%s%s%s", quote, states[i].name,
		    quote, left == 0 ? "" : left == 1 ? last : ", ");
	}
}

const char *task_reason_name(enum task_reason r)
{
	return VOCAB_VALID(r, REASON_COUNT) ? reasons[r].name : "?";
}

int task_reason_parse(const char *s, enum task_reason *out)
{
	int i = vocab_find(reasons, sizeof reasons[0], REASON_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum task_reason)i;
	return 0;
}

enum task_state task_reason_ends(enum task_reason r)
{
	return VOCAB_VALID(r, REASON_COUNT) ? reasons[r].ends : TASK_STATE_COUNT;
}

int task_reason_retriable(enum task_reason r)
{
	return VOCAB_VALID(r, REASON_COUNT) && reasons[r].retriable;
}

const char *task_reason_summary(enum task_reason r)
{
	return VOCAB_VALID(r, REASON_COUNT) ? reasons[r].summary : "?";
}

int task_retriable(enum task_state state, const char *reason)
{
	enum task_reason r;

	return task_reason_parse(reason, &r) == 0 && reasons[r].retriable &&
	    reasons[r].ends == state;
}

const char *worker_cmd_name(enum worker_cmd c)
{
	return VOCAB_VALID(c, WCMD_COUNT) ? worker_cmds[c].name : "?";
}

int worker_cmd_parse(const char *s, enum worker_cmd *out)
{
	int i = vocab_find(worker_cmds, sizeof worker_cmds[0], WCMD_COUNT, s);

	if (i < 0)
		return -1;
	*out = (enum worker_cmd)i;
	return 0;
}

const char *worker_cmd_summary(enum worker_cmd c)
{
	return VOCAB_VALID(c, WCMD_COUNT) ? worker_cmds[c].summary : "?";
}
