/* log.c: one line an event on stderr: time and level for a terminal or a file, a priority prefix for journald. */
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_prog = "depot";
static enum log_level log_min = LOG_LVL_INFO;
static int log_journal;

/*
 * Whether stderr is journald's stream: JOURNAL_STREAM names the device and
 * inode systemd connected it to, and a child whose stderr was redirected
 * elsewhere still inherits the variable, so only a match counts
 * (sd-daemon(3), systemd.exec(5)).
 */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (js == NULL || sscanf(js, "%llu:%llu%n", &dev, &ino, &end) != 2 || js[end] != '\0')
		return 0;
	return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
	log_journal = stderr_is_journal();
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	/* syslog(3)'s LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR, as journald reads them. */
	static const int prio[] = { 7, 6, 4, 3 };
	char when[TIME_RFC3339_LEN], line[2048];
	va_list ap;
	int n;

	if (lvl < log_min)
		return;
	if (log_journal) {
		/* journald stamps each line itself: a time of ours would be a second one. */
		n = snprintf(line, sizeof line, "<%d>%s: ", prio[lvl], log_prog);
	} else {
		time_format_rfc3339(time_now_ms(), when);
		n = snprintf(line, sizeof line, "%s %s[%s]: ", when, log_prog, names[lvl]);
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	/* journald splits at a newline and would give the rest no priority. */
	if (log_journal)
		for (char *p = line; (p = strchr(p, '\n')) != NULL; )
			*p = ' ';
	/* One write a line, so lines from the daemon and its workers never interleave. */
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
