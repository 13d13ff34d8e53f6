/* vocab.c: the tables of the protocol's words, made from the .def files of share/, and their lookups. */
#include "vocab.h"

#include <stdio.h>
#include <string.h>

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

static const struct {
	const char *name;
	const char *summary;
} task_types[TASKTYPE_COUNT] = {
#define X(ident, wire, summary) [TASKTYPE_##ident] = { wire, summary },
#include "tasktypes.def"
#undef X
};

static const struct {
	const char *name;
	const char *summary;
} lock_modes[LOCK_MODE_COUNT] = {
#define X(ident, wire, summary) [LOCK_##ident] = { wire, summary },
#include "lockmodes.def"
#undef X
};

#define VOCAB_VALID(v, count) ((unsigned)(v) < (unsigned)(count))

/*
 * PREFIX_name and PREFIX_parse of one table, whose rows begin with their
 * names: "?" for a value past its count; 0 with *out set, or -1 when s
 * (which may be NULL) names no row. The lists are short: a scan will do.
 */
#define VOCAB_NAME_PARSE(type, prefix, table, count) \
	const char *prefix##_name(type v) \
	{ \
		return VOCAB_VALID(v, count) ? table[v].name : "?"; \
	} \
	int prefix##_parse(const char *s, type *out) \
	{ \
		for (int i = 0; s != NULL && i < (count); i++) { \
			if (strcmp(table[i].name, s) == 0) { \
				*out = (type)i; \
				return 0; \
			} \
		} \
		return -1; \
	}

VOCAB_NAME_PARSE(enum command, command, commands, CMD_COUNT)
VOCAB_NAME_PARSE(enum task_state, task_state, states, TASK_STATE_COUNT)
VOCAB_NAME_PARSE(enum task_reason, task_reason, reasons, REASON_COUNT)
VOCAB_NAME_PARSE(enum worker_cmd, worker_cmd, worker_cmds, WCMD_COUNT)
VOCAB_NAME_PARSE(enum task_type_id, task_type, task_types, TASKTYPE_COUNT)
VOCAB_NAME_PARSE(enum lock_mode, lock_mode, lock_modes, LOCK_MODE_COUNT)

/* An unknown command needs everything: nothing is granted by mistake. */
enum access_level command_access(enum command c)
{
	return VOCAB_VALID(c, CMD_COUNT) ? commands[c].access : ACCESS_WRITE;
}

int task_state_final(enum task_state s)
{
	return VOCAB_VALID(s, TASK_STATE_COUNT) && states[s].final;
}

int task_state_move_legal(enum task_state from, enum task_state to)
{
	if (!VOCAB_VALID(from, TASK_STATE_COUNT) || !VOCAB_VALID(to, TASK_STATE_COUNT) ||
	    task_state_final(from))
		return 0;
	switch (to) {
	case TASK_WAITING:
		return from == TASK_RUNNING;
	case TASK_RUNNING:
		return from == TASK_WAITING;
	case TASK_CANCELING:
		return from == TASK_RUNNING;
	case TASK_COMPLETED:
		return from == TASK_RUNNING || from == TASK_CANCELING;
	default:
		return 1;	/* failed or canceled, from any active state */
	}
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

const char *worker_cmd_summary(enum worker_cmd c)
{
	return VOCAB_VALID(c, WCMD_COUNT) ? worker_cmds[c].summary : "?";
}

const char *task_type_summary(enum task_type_id t)
{
	return VOCAB_VALID(t, TASKTYPE_COUNT) ? task_types[t].summary : "?";
}

void task_types_join(char *out, size_t n)
{
	size_t len = 0;

	if (n > 0)
		out[0] = '\0';
	for (int i = 0; i < TASKTYPE_COUNT && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", i > 0 ? ", " : "",
		    task_types[i].name);
}
