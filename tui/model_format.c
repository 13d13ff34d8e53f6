/*
 * model_format.c: the model's values as short text for table cells (ages,
 * sizes, progress, clocks) and text fitted to a number of terminal cells.
 * No curses here: the views print what these return.
 */
#include "model.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

static size_t utf8_decode(const unsigned char *s, wchar_t *wc);
static int text_char(const unsigned char *p, int utf8, size_t *len, char *one, size_t *olen);

/* "0s", "45s", "3m02s", "2h05m", "3d04h": at most 6 cells. */
void model_fmt_age(int64_t ms, char *out, size_t n)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02lld", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, n, "%lldh%02lld", (long long)(s / 3600), (long long)(s / 60 % 60));
	else
		snprintf(out, n, "%lldd%02lld", (long long)(s / 86400), (long long)(s / 3600 % 24));
}

/* "512B", "1.2KiB", "3.4MiB". */
void model_fmt_size(int64_t bytes, char *out, size_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(out, n, "%lldB", (long long)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, "%.1f%s", v, units[u]);
}

/* "120/300 files", "1.2KiB", "4 files"; "-" before anything moved. */
void model_fmt_progress(const struct model_task *t, char *out, size_t n)
{
	char d[32], tot[32];
	const char *unit = t->unit;

	if ((!t->has_done || t->done == 0) && !t->has_total) {
		snprintf(out, n, "-");
		return;
	}
	if (unit != NULL && strcmp(unit, "bytes") == 0) {
		model_fmt_size(t->done, d, sizeof d);
		model_fmt_size(t->total, tot, sizeof tot);
		if (t->has_total)
			snprintf(out, n, "%s/%s", d, tot);
		else
			snprintf(out, n, "%s", d);
	} else if (t->has_total)
		snprintf(out, n, "%lld/%lld%s%s", (long long)t->done, (long long)t->total,
		    unit ? " " : "", unit ? unit : "");
	else
		snprintf(out, n, "%lld%s%s", (long long)t->done, unit ? " " : "", unit ? unit : "");
}

/* done/total in [0, 1] when the task has a total; -1 otherwise. */
int model_progress_fraction(const struct model_task *t, double *f)
{
	if (!t->has_total || t->total <= 0)
		return -1;
	*f = (double)t->done / (double)t->total;
	if (*f < 0)
		*f = 0;
	if (*f > 1)
		*f = 1;
	return 0;
}

/* How long a task has been in its state: running for, waiting for, ended ago. */
int64_t model_task_age(const struct model_task *t, int64_t now_ms)
{
	int64_t since = t->created_ms;

	if (task_state_final(t->state) && t->finished_ms > 0)
		since = t->finished_ms;
	else if ((t->state == TASK_RUNNING || t->state == TASK_CANCELING) && t->started_ms > 0)
		since = t->started_ms;
	if (since <= 0)
		return -1;
	return now_ms > since ? now_ms - since : 0;
}

/* Local time "20:01:02", or with_date "2026-11-24 20:01:02"; "-" for none. */
void model_fmt_clock(int64_t ms, int with_date, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&t, &tm) == NULL) {
		snprintf(out, n, "-");
		return;
	}
	strftime(out, n, with_date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
}

/*
 * One UTF-8 character at s into *wc; its length in bytes, or 0 when s does
 * not start a valid one (then one byte is to be shown as '?').
 */
static size_t utf8_decode(const unsigned char *s, wchar_t *wc)
{
	size_t len, i;
	unsigned long c;

	if (s[0] < 0x80) {
		*wc = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past Unicode. */
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*wc = (wchar_t)c;
	return len;
}

/*
 * The character at p as it is shown: its bytes in the source (*len), the
 * bytes to print into one (*olen, at most 4) and its cells. Control
 * characters and, outside UTF-8 locales, non-ASCII bytes show as '?'.
 */
static int text_char(const unsigned char *p, int utf8, size_t *len, char *one, size_t *olen)
{
	wchar_t wc;
	int w;

	*len = 1;
	*olen = 1;
	if (*p < 0x20 || *p == 0x7f) {
		one[0] = *p == '\t' ? ' ' : '?';
		return 1;
	}
	if (*p < 0x80) {
		one[0] = (char)*p;
		return 1;
	}
	if (utf8 && (*len = utf8_decode(p, &wc)) > 0 && (w = wcwidth(wc)) >= 0) {
		memcpy(one, p, *len);
		*olen = *len;
		return w;
	}
	*len = *len > 0 ? *len : 1;
	one[0] = '?';
	return 1;
}

/* The cells s takes once fitted: control characters and bad bytes count as '?'. */
int model_text_width(const char *s, int utf8)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	char one[8];
	size_t len, olen;
	int used = 0;

	while (*p != '\0') {
		used += text_char(p, utf8, &len, one, &olen);
		p += len;
	}
	return used;
}

/* How many bytes of s fit in width cells, cut on a character boundary. */
size_t model_text_prefix(const char *s, int width, int utf8)
{
	const unsigned char *p = (const unsigned char *)s, *start = p;
	char one[8];
	size_t len, olen;
	int used = 0, w;

	while (*p != '\0') {
		w = text_char(p, utf8, &len, one, &olen);
		if (used + w > width)
			break;
		used += w;
		p += len;
	}
	return (size_t)(p - start);
}

/*
 * s fitted into at most width cells in out (n bytes), characters shown as
 * text_char says; a text too long ends with an ellipsis ("…", or "~"
 * without UTF-8). Returns the cells used.
 */
int model_text_fit(const char *s, int width, int utf8, char *out, size_t n)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	const char *ell = utf8 ? "\xe2\x80\xa6" : "~";
	size_t l = 0, mark = 0, len, olen, el = strlen(ell);
	int used = 0, mark_used = 0, w;
	char one[8];

	if (n == 0)
		return 0;
	out[0] = '\0';
	if (width <= 0)
		return 0;
	while (*p != '\0') {
		w = text_char(p, utf8, &len, one, &olen);
		/* Where the ellipsis goes if what follows does not fit (in cells and bytes). */
		if (used + 1 <= width && l + el + 1 <= n) {
			mark = l;
			mark_used = used;
		}
		if (used + w > width || l + olen + 1 > n) {
			if (mark + el + 1 <= n) {
				memcpy(out + mark, ell, el);
				out[mark + el] = '\0';
				return mark_used + 1;
			}
			out[mark] = '\0';
			return mark_used;
		}
		memcpy(out + l, one, olen);
		l += olen;
		used += w;
		p += len;
	}
	out[l] = '\0';
	return used;
}

/* In place: tabs become spaces, other control characters '?' (a log line for the screen). */
void model_text_clean(char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\t')
			*s = ' ';
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}
