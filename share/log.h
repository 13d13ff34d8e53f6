/* log.h: one line an event on stderr: time and level for a terminal or a file, a priority prefix for journald. */
#ifndef DEPOT_LOG_H
#define DEPOT_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *prog, enum log_level min);
/* Changes the least level written (a reload of [daemon] log_level). */
void log_set_level(enum log_level min);
/* debug, info, warning (or warn), error: 0, or -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
