/* output.c: human output: aligned tables, ages, sizes, progress, wrapped text. */
#include "ctl.h"

#include "timeutil.h"

#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* Key column of `status`-style "key  value" lines. */
#define OUT_KEY_WIDTH 22

struct out_table {
	size_t ncols;
	size_t nrows;
	char **cells;		/* nrows + 1 rows (headers first) of ncols cells */
	size_t *limit;		/* 0: no limit */
	size_t *width;
};

static size_t out_char(const char *s, size_t len, mbstate_t *st, int *w);

/*
 * One character of s at a time: its length in bytes and its display width.
 * A byte that is not valid in the locale's encoding counts as one column,
 * so a C locale still lines up ASCII and never loops.
 */
static size_t out_char(const char *s, size_t len, mbstate_t *st, int *w)
{
	static int locale_read;
	wchar_t wc;
	size_t k;

	/*
	 * Only the character type, for table widths of UTF-8 names (numbers
	 * stay "C" for cJSON); read the first time a width is measured, not at
	 * every start: loading it is a good part of a ping's time.
	 */
	if (!locale_read) {
		setlocale(LC_CTYPE, "");
		locale_read = 1;
	}
	k = mbrtowc(&wc, s, len, st);

	if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
		memset(st, 0, sizeof *st);
		*w = 1;
		return 1;
	}
	*w = wcwidth(wc);
	if (*w < 0)
		*w = 1;
	return k;
}

size_t out_width(const char *s)
{
	mbstate_t st;
	size_t len = strlen(s), width = 0;
	int w;

	memset(&st, 0, sizeof st);
	while (len > 0) {
		size_t k = out_char(s, len, &st, &w);

		s += k;
		len -= k;
		width += (size_t)w;
	}
	return width;
}

/*
 * Copies s into out for a terminal: control characters (a task name may
 * hold a newline) become '?', and text wider than width (0: any) is cut
 * on a character boundary and ends in "...".
 */
void out_clean(const char *s, size_t width, char *out, size_t n)
{
	mbstate_t st;
	size_t len = strlen(s), used = 0, o = 0;
	int w;

	if (n == 0)
		return;
	if (width > 0 && width < 4)
		width = 4;
	memset(&st, 0, sizeof st);
	while (len > 0) {
		size_t k = out_char(s, len, &st, &w);

		if (width > 0 && used + (size_t)w > width - 3 &&
		    out_width(s) + used > width) {
			if (o + 4 <= n) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (o + k >= n)
			break;
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			out[o++] = '?';
			k = 1;
			w = 1;
		} else {
			memcpy(out + o, s, k);
			o += k;
		}
		s += k;
		len -= k;
		used += (size_t)w;
	}
	out[o] = '\0';
}

struct out_table *out_table_new(size_t ncols, const char *const *headers)
{
	struct out_table *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->limit = calloc(ncols, sizeof *t->limit);
	t->width = calloc(ncols, sizeof *t->width);
	if (t->limit == NULL || t->width == NULL) {
		out_table_free(t);
		return NULL;
	}
	t->nrows = (size_t)-1;	/* the headers are row "-1": added like any row */
	if (out_table_add(t, headers) != 0) {
		out_table_free(t);
		return NULL;
	}
	return t;
}

/* Cells of column col are cut to width columns when added. */
void out_table_limit(struct out_table *t, size_t col, size_t width)
{
	t->limit[col] = width;
}

int out_table_add(struct out_table *t, const char *const *cells)
{
	size_t row = t->nrows + 1;
	char **grown = realloc(t->cells, (row + 1) * t->ncols * sizeof *grown);

	if (grown == NULL)
		return -1;
	t->cells = grown;
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = cells[c] != NULL ? cells[c] : "-";
		size_t n = strlen(s) * 3 + 4;	/* '?' for a control byte never grows it */
		char *cell = malloc(n);
		size_t w;

		if (cell == NULL) {
			while (c-- > 0)
				free(t->cells[row * t->ncols + c]);
			return -1;
		}
		out_clean(s, t->limit[c], cell, n);
		t->cells[row * t->ncols + c] = cell;
		if ((w = out_width(cell)) > t->width[c])
			t->width[c] = w;
	}
	t->nrows = row;
	return 0;
}

/* Two spaces between columns; the last column is not padded. */
void out_table_print(const struct out_table *t, FILE *f)
{
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			fputs(cell, f);
			if (c + 1 < t->ncols)
				fprintf(f, "%*s", (int)(t->width[c] - out_width(cell) + 2), "");
		}
		fputc('\n', f);
	}
}

void out_table_free(struct out_table *t)
{
	if (t == NULL)
		return;
	if (t->cells != NULL)
		for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
			free(t->cells[i]);
	free(t->cells);
	free(t->limit);
	free(t->width);
	free(t);
}

/* "2026-11-24T20:01:02.345Z" (fraction optional) to epoch milliseconds; -1 if unreadable. */
int64_t out_parse_time(const char *s)
{
	int64_t ms;

	return s != NULL && time_parse_rfc3339(s, &ms) == 0 ? ms : -1;
}

/* How long ago an RFC 3339 time was: "3.2s", "5m02s"; "-" for none. */
void out_age(const char *rfc3339, char *buf, size_t n)
{
	int64_t t;

	if (rfc3339 == NULL) {
		snprintf(buf, n, "-");
		return;
	}
	if ((t = out_parse_time(rfc3339)) < 0) {
		snprintf(buf, n, "?");
		return;
	}
	/* time_format_duration shows a clock running behind ours as 0.0s. */
	time_format_duration(time_now_ms() - t, buf, n);
}

/*
 * How far an RFC 3339 time is from now, either way: "in 5m02s", "3.2s ago";
 * "-" for none. What every time relative to now is shown with, so that a
 * time ahead never reads as "0.0s ago".
 */
void out_when(const char *rfc3339, char *buf, size_t n)
{
	int64_t t, now = time_now_ms();
	char d[32];

	if (rfc3339 == NULL) {
		snprintf(buf, n, "-");
		return;
	}
	if ((t = out_parse_time(rfc3339)) < 0) {
		snprintf(buf, n, "?");
		return;
	}
	time_format_duration(t >= now ? t - now : now - t, d, sizeof d);
	snprintf(buf, n, t >= now ? "in %s" : "%s ago", d);
}

void out_size(int64_t bytes, char *buf, size_t n)
{
	static const char *units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, n, "%lldB", (long long)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, "%.1f%s", v, units[u]);
}

/*
 * A task's progress for a table cell: "1.2KiB" for bytes, "120/300 files",
 * "-" before anything moved, and " STALLED" when the daemon says so.
 */
void out_progress(const cJSON *task, char *buf, size_t n)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(task, "progress");
	const char *unit = json_str(p, "unit");
	int64_t done = 0, total = 0;
	int has_done = json_int(p, "done", &done) == 0;
	int has_total = json_int(p, "total", &total) == 0;
	char d[32], t[32];

	/* Nothing counted yet (a waiting task, a silent command): nothing to show. */
	if ((!has_done || done == 0) && !has_total)
		snprintf(buf, n, "-");
	else if (unit != NULL && strcmp(unit, "bytes") == 0) {
		out_size(done, d, sizeof d);
		out_size(total, t, sizeof t);
		if (has_total)
			snprintf(buf, n, "%s/%s", d, t);
		else
			snprintf(buf, n, "%s", d);
	} else if (has_total)
		snprintf(buf, n, "%lld/%lld%s%s", (long long)done, (long long)total,
		    unit != NULL ? " " : "", unit != NULL ? unit : "");
	else
		snprintf(buf, n, "%lld%s%s", (long long)done,
		    unit != NULL ? " " : "", unit != NULL ? unit : "");
	if (json_true(task, "stalled")) {
		size_t l = strlen(buf);

		snprintf(buf + l, n - l, " STALLED");
	}
}

/* "repository:fedora, host:db1 (shared), gpu (slot)"; "-" for none. */
void out_resources(const cJSON *resources, char *buf, size_t n)
{
	const cJSON *r;
	size_t l = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(r, resources) {
		const char *name = json_str(r, "name"), *mode = json_str(r, "mode");

		if (name == NULL || l >= n)
			continue;
		snprintf(buf + l, n - l, "%s%s%s%s%s", l > 0 ? ", " : "", name,
		    mode != NULL && strcmp(mode, "exclusive") != 0 ? " (" : "",
		    mode != NULL && strcmp(mode, "exclusive") != 0 ? mode : "",
		    mode != NULL && strcmp(mode, "exclusive") != 0 ? ")" : "");
		l = strlen(buf);
	}
	if (l == 0)
		snprintf(buf, n, "-");
}

/* Text wrapped at width columns, each line indented. */
void out_wrap(FILE *f, const char *text, int indent, int width)
{
	int col = 0;

	while (*text != '\0') {
		size_t wl;

		while (*text == ' ')
			text++;
		wl = strcspn(text, " ");
		if (wl == 0)
			break;
		if (col > 0 && col + 1 + (int)wl > width) {
			fputc('\n', f);
			col = 0;
		}
		if (col == 0)
			col = fprintf(f, "%*s", indent, "");
		else
			col += fprintf(f, " ");
		col += fprintf(f, "%.*s", (int)wl, text);
		text += wl;
	}
	if (col > 0)
		fputc('\n', f);
}

/* "  key   value": the lines of `status` and `task show`; a bare key heads a section. */
void out_kv(FILE *f, int indent, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value = NULL;
	int pad = OUT_KEY_WIDTH - indent - (int)out_width(key), n;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fprintf(f, "%*s%s (out of memory)\n", indent, "", key);
		return;
	}
	if (value[0] == '\0')
		fprintf(f, "%*s%s\n", indent, "", key);
	else
		fprintf(f, "%*s%s%*s %s\n", indent, "", key, pad > 0 ? pad : 0, "", value);
	free(value);
}

/* "key  2026-11-24T20:01:02.345Z (3.2s ago)" or "(in 59m00s)", or "-" when the field is null. */
void out_kv_time(const char *key, const cJSON *obj, const char *field)
{
	const char *t = json_str(obj, field);
	char when[48];

	if (t == NULL) {
		out_kv(stdout, 0, key, "-");
		return;
	}
	out_when(t, when, sizeof when);
	out_kv(stdout, 0, key, "%s (%s)", t, when);
}
