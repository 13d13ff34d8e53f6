/* log.c: one line an event on stderr, with time and level, as systemd expects. */
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prog = "depot";
static enum log_level log_min = LOG_LVL_INFO;

void log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char when[TIME_RFC3339_LEN], line[2048];
	va_list ap;
	int n;

	if (lvl < log_min)
		return;
	time_format_rfc3339(time_now_ms(), when);
	n = snprintf(line, sizeof line, "%s %s[%s]: ", when, log_prog, names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write a line, so lines from the daemon and its workers never interleave. */
	n = (int)strlen(line);
	if (n < (int)sizeof line - 1)
		line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}

void log_set_level(enum log_level min)
{
	log_min = min;
}

static const char *const log_level_names[] = {
	[LOG_LVL_DEBUG] = "debug", [LOG_LVL_INFO] = "info",
	[LOG_LVL_WARN] = "warning", [LOG_LVL_ERROR] = "error",
};

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = LOG_LVL_DEBUG; i <= LOG_LVL_ERROR; i++) {
		if (strcmp(s, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	/* The word the log lines themselves carry. */
	if (strcmp(s, "warn") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

const char *log_level_name(enum log_level lvl)
{
	return log_level_names[lvl];
}
