/*
 * vocab.h: the words of the protocol, each list declared once in a .def
 * file beside this one and used by depotd, its workers, depotctl and
 * depot-console alike: control commands (commands.def) with their access
 * levels, task states (states.def) and which are final, error reasons
 * (reasons.def) and which are retried, the worker protocol's messages
 * (workermsg.def), the types of task (tasktypes.def) and the modes of a
 * reservation (lockmodes.def). Each enum counts its members in *_COUNT, which the
 * parse functions never return and the name functions show as "?" (each
 * pair of them is made by VOCAB_NAME_PARSE in share/vocab.c).
 */
#ifndef DEPOT_VOCAB_H
#define DEPOT_VOCAB_H

#include <stddef.h>

#include "proto.h"

/* The control commands of share/commands.def, in its order: an index into tables. */
enum command {
#define X(ident, wire, access, summary) CMD_##ident,
#include "commands.def"
#undef X
	CMD_COUNT
};

const char *command_name(enum command c);
/* 0 with *out set, or -1 when s (which may be NULL) names no command. */
int command_parse(const char *s, enum command *out);
enum access_level command_access(enum command c);

enum task_state {
#define X(ident, wire, final, summary) TASK_##ident,
#include "states.def"
#undef X
	TASK_STATE_COUNT
};

/* task.list's filter for every state that is not final. */
#define TASK_FILTER_ACTIVE "active"

const char *task_state_name(enum task_state s);
int task_state_parse(const char *s, enum task_state *out);
int task_state_final(enum task_state s);
const char *task_state_summary(enum task_state s);
/*
 * The lifecycle (DESIGN §5): whether a task may go from one state to the
 * other. waiting → running (dispatched) → canceling → a final state;
 * running → waiting only for an assignment no worker acknowledged; waiting
 * → canceled or failed, never completed; nothing leaves a final state.
 */
int task_state_move_legal(enum task_state from, enum task_state to);
/*
 * The names of the states, into out: every one when final is -1, else
 * those whose finality is final; each within quote ("" or "'" for SQL),
 * separated by ", " and the last by last (" or ", or ", " for SQL).
 */
void task_states_join(char *out, size_t n, int final, const char *quote, const char *last);

enum task_reason {
#define X(ident, wire, ends, retriable, summary) REASON_##ident,
#include "reasons.def"
#undef X
	REASON_COUNT
};

const char *task_reason_name(enum task_reason r);
int task_reason_parse(const char *s, enum task_reason *out);
/* The final state a task ends in with reason r. */
enum task_state task_reason_ends(enum task_reason r);
/* Whether reasons.def marks r retried (when a task ends as task_reason_ends says). */
int task_reason_retriable(enum task_reason r);
const char *task_reason_summary(enum task_reason r);
/*
 * Whether --retries submits again a task that ended in state with reason
 * (as sent: NULL or an unknown name is never retried).
 */
int task_retriable(enum task_state state, const char *reason);

enum worker_cmd {
#define X(ident, wire, summary) WCMD_##ident,
#include "workermsg.def"
#undef X
	WCMD_COUNT
};

const char *worker_cmd_name(enum worker_cmd c);
int worker_cmd_parse(const char *s, enum worker_cmd *out);
const char *worker_cmd_summary(enum worker_cmd c);

/* LOCK_SHARED is 0: a reservation that says no mode is given one explicitly. */
enum lock_mode {
#define X(ident, wire, summary) LOCK_##ident,
#include "lockmodes.def"
#undef X
	LOCK_MODE_COUNT
};

const char *lock_mode_name(enum lock_mode m);
int lock_mode_parse(const char *s, enum lock_mode *out);

/* Named _id: struct task_type is the daemon's entry for each (daemon/tasktype.c). */
enum task_type_id {
#define X(ident, wire, summary) TASKTYPE_##ident,
#include "tasktypes.def"
#undef X
	TASKTYPE_COUNT
};

const char *task_type_name(enum task_type_id t);
int task_type_parse(const char *s, enum task_type_id *out);
const char *task_type_summary(enum task_type_id t);
/* The names of every type, in tasktypes.def's order, separated by ", ". */
void task_types_join(char *out, size_t n);

#endif
