/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report.c - the decision-grade report (SPEC §6) in Markdown, HTML with
 * inline SVG charts, or JSON, and the disclosure assessment.
 *
 * DESIGN: the Markdown and HTML reports are one document walked once; what
 * differs between the two formats (escaping, headings, tables, code blocks,
 * lists) is a small ops table, so sections are written once.  Every string
 * that comes from the input goes through the format's escape function: the
 * sections only pass raw text, or markup through the ops.  The charts are
 * SVG drawn here, HTML only.  The report is a pure function of its input:
 * no clock, no machine name unless eng_report_in carries them. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eng.h"
#include "eng_recipe.h"
#include "eng_report.h"

/* ---------------------------------------------------------- text buffer */

typedef struct {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_vprintf(sbuf *b, const char *fmt, va_list ap)
{
	char small[512];
	va_list aq;
	va_copy(aq, ap);
	int n = vsnprintf(small, sizeof small, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		sb_put(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->oom = 1;
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	sb_put(b, big, (size_t)n);
	free(big);
}

static void sb_printf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Formats into a fresh string (caller frees); NULL when out of memory. */
static char *xprintf(const char *fmt, ...)
{
	sbuf b = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.oom || !b.p) {
		free(b.p);
		return b.oom ? NULL : calloc(1, 1);
	}
	return b.p;
}

/* --------------------------------------------------------------- escapes */

static void esc_html(sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sb_puts(b, "&amp;"); break;
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		case '\'': sb_puts(b, "&#39;"); break;
		default:
			/* control characters are not allowed in XML; show them as a space */
			if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
				sb_put(b, " ", 1);
			else
				sb_put(b, s, 1);
		}
	}
}

/* Markdown text: characters that would start markup or break a table
 * become escapes; raw HTML is neutralised (review pages render it).  `[`
 * and `>` stay readable: a link needs "](" or "][" and a quote needs `>`
 * at the start of a line, which text here never has. */
static void esc_md(sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '|': sb_puts(b, "\\|"); break;
		case '<': sb_puts(b, "&lt;"); break;
		case '&': /* only where it could start an entity */
			sb_puts(b, s[1] == '#' || (unsigned)((s[1] | 0x20) - 'a') < 26u ? "&amp;" : "&");
			break;
		case ']':
			if (s[1] == '(' || s[1] == '[' || s[1] == ':')
				sb_put(b, "\\", 1);
			sb_put(b, s, 1);
			break;
		case '*': case '_': case '`': case '\\':
			sb_put(b, "\\", 1);
			sb_put(b, s, 1);
			break;
		case '\n': case '\r': case '\t': sb_put(b, " ", 1); break;
		default:
			if ((unsigned char)*s < 0x20)
				sb_put(b, " ", 1);
			else
				sb_put(b, s, 1);
		}
	}
}

/* Display width in a monospace table: code points, not bytes (the report's
 * own symbols are all one column wide). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* ---------------------------------------------------- document and tables */

enum { AL_LEFT = 0, AL_RIGHT };

#define TBL_MAXCOL 16

typedef struct {
	int ncol, nrow, cap;
	const char *head[TBL_MAXCOL];
	int align[TBL_MAXCOL];
	char **cell;       /* nrow * ncol, owned (escaped on output) */
	const char **cls;  /* per row: HTML class or NULL */
	int oom;
} table;

static void tbl_init(table *t, int ncol)
{
	memset(t, 0, sizeof *t);
	t->ncol = ncol < TBL_MAXCOL ? ncol : TBL_MAXCOL;
}

static void tbl_col(table *t, int c, const char *head, int align)
{
	if (c < t->ncol)
		t->head[c] = head, t->align[c] = align;
}

/* Appends a row of raw (unescaped) strings, copied; `cls` is a static
 * string or NULL. */
static void tbl_row(table *t, const char *cls, const char *const *cells)
{
	if (t->oom)
		return;
	if (t->nrow == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cell, (size_t)cap * t->ncol * sizeof *c);
		if (!c) {
			t->oom = 1;
			return;
		}
		t->cell = c;
		const char **k = realloc(t->cls, (size_t)cap * sizeof *k);
		if (!k) {
			t->oom = 1;
			return;
		}
		t->cls = k, t->cap = cap;
	}
	for (int i = 0; i < t->ncol; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");
		if (!s)
			t->oom = 1;
		t->cell[t->nrow * t->ncol + i] = s;
	}
	t->cls[t->nrow++] = cls;
}

static void tbl_done(table *t)
{
	for (int i = 0; i < t->nrow * t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	free(t->cls);
}

typedef struct doc doc;

/* What differs between Markdown and HTML.  Text arguments are raw: the ops
 * escape them. */
typedef struct {
	void (*esc)(sbuf *b, const char *s);
	void (*heading)(doc *d, int level, const char *id, const char *text);
	void (*par_begin)(doc *d, const char *cls);
	void (*par_end)(doc *d);
	void (*strong)(doc *d, const char *text);
	void (*code)(doc *d, const char *text);
	void (*code_block)(doc *d, const char *lang, const char *text);
	void (*table)(doc *d, const table *t);
	void (*list_begin)(doc *d);
	void (*item_begin)(doc *d);
	void (*item_end)(doc *d);
	void (*list_end)(doc *d);
} doc_ops;

struct doc {
	sbuf b;
	const doc_ops *ops;
	int html;
};

static void d_text(doc *d, const char *s)
{
	d->ops->esc(&d->b, s);
}

static void d_textf(doc *d, const char *fmt, ...)
{
	sbuf t = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&t, fmt, ap);
	va_end(ap);
	if (t.oom)
		d->b.oom = 1;
	else if (t.p)
		d_text(d, t.p);
	free(t.p);
}

/* Text in which `name` spans are code (the disclosure's reasons). */
static void d_rich(doc *d, const char *s)
{
	while (*s) {
		const char *o = strchr(s, '`');
		const char *c = o ? strchr(o + 1, '`') : NULL;
		if (!c) {
			d_text(d, s);
			return;
		}
		char *plain = strndup(s, (size_t)(o - s)), *code = strndup(o + 1, (size_t)(c - o - 1));
		if (!plain || !code)
			d->b.oom = 1;
		else {
			d_text(d, plain);
			d->ops->code(d, code);
		}
		free(plain), free(code);
		s = c + 1;
	}
}

/* ----- Markdown */

static void md_heading(doc *d, int level, const char *id, const char *text)
{
	(void)id;
	sb_printf(&d->b, "%.*s ", level, "######");
	d_text(d, text);
	sb_puts(&d->b, "\n\n");
}

static void md_par_begin(doc *d, const char *cls)
{
	(void)d, (void)cls;
}

static void md_par_end(doc *d)
{
	sb_puts(&d->b, "\n\n");
}

static void md_strong(doc *d, const char *text)
{
	sb_puts(&d->b, "**");
	d_text(d, text);
	sb_puts(&d->b, "**");
}

/* The longest run of backticks in s. */
static int backtick_run(const char *s)
{
	int best = 0, run = 0;
	for (; *s; s++) {
		run = *s == '`' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

static void md_code(doc *d, const char *text)
{
	int n = backtick_run(text) + 1;
	for (int i = 0; i < n; i++)
		sb_put(&d->b, "`", 1);
	if (n > 1)
		sb_put(&d->b, " ", 1);
	for (const char *p = text; *p; p++)
		sb_put(&d->b, *p == '\n' ? " " : p, 1);
	if (n > 1)
		sb_put(&d->b, " ", 1);
	for (int i = 0; i < n; i++)
		sb_put(&d->b, "`", 1);
}

static void md_code_block(doc *d, const char *lang, const char *text)
{
	int n = backtick_run(text) + 1;
	n = n < 3 ? 3 : n;
	for (int i = 0; i < n; i++)
		sb_put(&d->b, "`", 1);
	sb_printf(&d->b, "%s\n%s%s", lang ? lang : "", text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
	for (int i = 0; i < n; i++)
		sb_put(&d->b, "`", 1);
	sb_puts(&d->b, "\n\n");
}

static void md_table(doc *d, const table *t)
{
	size_t w[TBL_MAXCOL];
	sbuf e = {0};
	/* widths of the escaped cells: what the reader sees in the source */
	char **esc = calloc((size_t)(t->nrow + 1) * t->ncol, sizeof *esc);
	if (!esc) {
		d->b.oom = 1;
		return;
	}
	for (int r = -1; r < t->nrow; r++)
		for (int c = 0; c < t->ncol; c++) {
			e.len = 0;
			sb_puts(&e, "");
			esc_md(&e, r < 0 ? t->head[c] : t->cell[r * t->ncol + c]);
			esc[(r + 1) * t->ncol + c] = strdup(e.p ? e.p : "");
		}
	free(e.p);
	for (int c = 0; c < t->ncol; c++) {
		w[c] = 3;
		for (int r = 0; r <= t->nrow; r++) {
			const char *s = esc[r * t->ncol + c];
			size_t x = s ? text_width(s) : 0;
			if (x > w[c])
				w[c] = x;
		}
	}
	for (int r = 0; r <= t->nrow; r++) {
		for (int c = 0; c < t->ncol; c++) {
			const char *s = esc[r * t->ncol + c] ? esc[r * t->ncol + c] : "";
			size_t pad = w[c] - text_width(s);
			sb_puts(&d->b, "| ");
			if (t->align[c] == AL_RIGHT && r > 0)
				for (size_t i = 0; i < pad; i++)
					sb_put(&d->b, " ", 1);
			sb_puts(&d->b, s);
			if (t->align[c] != AL_RIGHT || r == 0)
				for (size_t i = 0; i < pad; i++)
					sb_put(&d->b, " ", 1);
			sb_put(&d->b, " ", 1);
		}
		sb_puts(&d->b, "|\n");
		if (r == 0) {
			for (int c = 0; c < t->ncol; c++) {
				sb_puts(&d->b, t->align[c] == AL_RIGHT ? "| " : "| :");
				for (size_t i = 0; i + 1 < w[c]; i++)
					sb_put(&d->b, "-", 1);
				sb_puts(&d->b, t->align[c] == AL_RIGHT ? ": " : " ");
			}
			sb_puts(&d->b, "|\n");
		}
	}
	sb_puts(&d->b, "\n");
	for (int i = 0; i < (t->nrow + 1) * t->ncol; i++)
		free(esc[i]);
	free(esc);
}

static void md_list_begin(doc *d)
{
	(void)d;
}

static void md_item_begin(doc *d)
{
	sb_puts(&d->b, "- ");
}

static void md_item_end(doc *d)
{
	sb_puts(&d->b, "\n");
}

static void md_list_end(doc *d)
{
	sb_puts(&d->b, "\n");
}

static const doc_ops md_ops = {esc_md,	  md_heading, md_par_begin,  md_par_end,  md_strong,    md_code,
			       md_code_block, md_table,   md_list_begin, md_item_begin, md_item_end, md_list_end};

/* ----- HTML */

static void html_heading(doc *d, int level, const char *id, const char *text)
{
	if (id)
		sb_printf(&d->b, "<h%d id=\"%s\">", level, id);
	else
		sb_printf(&d->b, "<h%d>", level);
	d_text(d, text);
	sb_printf(&d->b, "</h%d>\n", level);
}

static void html_par_begin(doc *d, const char *cls)
{
	if (cls)
		sb_printf(&d->b, "<p class=\"%s\">", cls);
	else
		sb_puts(&d->b, "<p>");
}

static void html_par_end(doc *d)
{
	sb_puts(&d->b, "</p>\n");
}

static void html_strong(doc *d, const char *text)
{
	sb_puts(&d->b, "<strong>");
	d_text(d, text);
	sb_puts(&d->b, "</strong>");
}

static void html_code(doc *d, const char *text)
{
	sb_puts(&d->b, "<code>");
	d_text(d, text);
	sb_puts(&d->b, "</code>");
}

static void html_code_block(doc *d, const char *lang, const char *text)
{
	(void)lang;
	sb_puts(&d->b, "<pre><code>");
	d_text(d, text);
	sb_puts(&d->b, "</code></pre>\n");
}

static void html_table(doc *d, const table *t)
{
	sb_puts(&d->b, "<table>\n<thead><tr>");
	for (int c = 0; c < t->ncol; c++) {
		sb_puts(&d->b, t->align[c] == AL_RIGHT ? "<th class=\"num\">" : "<th>");
		d_text(d, t->head[c]);
		sb_puts(&d->b, "</th>");
	}
	sb_puts(&d->b, "</tr></thead>\n<tbody>\n");
	for (int r = 0; r < t->nrow; r++) {
		if (t->cls[r])
			sb_printf(&d->b, "<tr class=\"%s\">", t->cls[r]);
		else
			sb_puts(&d->b, "<tr>");
		for (int c = 0; c < t->ncol; c++) {
			sb_puts(&d->b, t->align[c] == AL_RIGHT ? "<td class=\"num\">" : "<td>");
			d_text(d, t->cell[r * t->ncol + c]);
			sb_puts(&d->b, "</td>");
		}
		sb_puts(&d->b, "</tr>\n");
	}
	sb_puts(&d->b, "</tbody>\n</table>\n");
}

static void html_list_begin(doc *d)
{
	sb_puts(&d->b, "<ul>\n");
}

static void html_item_begin(doc *d)
{
	sb_puts(&d->b, "<li>");
}

static void html_item_end(doc *d)
{
	sb_puts(&d->b, "</li>\n");
}

static void html_list_end(doc *d)
{
	sb_puts(&d->b, "</ul>\n");
}

static const doc_ops html_ops = {esc_html,	   html_heading, html_par_begin,  html_par_end,
				 html_strong,	   html_code,	 html_code_block, html_table,
				 html_list_begin, html_item_begin, html_item_end,  html_list_end};

static void d_table(doc *d, table *t)
{
	if (t->oom)
		d->b.oom = 1;
	else
		d->ops->table(d, t);
	tbl_done(t);
}

/* ------------------------------------------------------------- numbers */

static const cJSON *jget(const cJSON *o, const char *path)
{
	return eng_json_get(o, path);
}

static double jnum(const cJSON *o, const char *path)
{
	return eng_json_num(o, path);
}

static const char *jstr(const cJSON *o, const char *path)
{
	return eng_json_str(o, path);
}

static double ci_at(const cJSON *st, int i)
{
	const cJSON *v = cJSON_GetArrayItem(jget(st, "ci95"), i);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Adding 0.0 turns -0.0 into +0.0 so "-0.00" never appears for zero. */
static double unneg(double v)
{
	return v == 0 ? 0.0 : v;
}

/* How a metric's values, deltas and intervals read, derived from the
 * metric's name and passed down to every formatter (never a global: the
 * disclosure assessment runs on a worker thread while the UI may render).
 * Fractions (top1, macro-f1, ece) read in points, hundredths of the metric,
 * as `precis eval` prints them; bits per character as they are, to four
 * decimals, since quantization moves bpc (about 2.2) in the third. */
typedef struct {
	double mul;         /* shown = value * mul */
	int dp;             /* decimals of values, deltas, intervals, criteria */
	const char *plural; /* "points" / "bits": "delta +0.07 points" */
	const char *one;    /* "point" / "bit": "the 0.50-point criterion" */
	const char *abbr;   /* "pt" / "bits": table heads "delta (pt)" */
	const char *desc;   /* the unit explained once, in the strata section */
	const char *pct;    /* after a value: "%" for accuracy-like metrics */
	int frac;           /* 1: a fraction of samples, so the rule of three applies */
} munit;

static munit metric_unit(const char *metric)
{
	static const munit points = {100, 2, "points", "point", "pt", "points (hundredths of the metric)", "%", 1},
			   bits = {1, 4, "bits", "bit", "bits", "bits (the metric's own unit)", "", 0};
	if (metric && strcmp(metric, "bpc") == 0)
		return bits;
	munit u = points;
	if (metric && strcmp(metric, "ece") == 0)
		u.pct = ""; /* an error, not a share of samples */
	return u;
}

/* A metric value for a table in unit u ("n/a" when missing). */
static void fmt_val(char *buf, size_t len, double v, const munit *u)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.*f%s", u->dp, unneg(v * u->mul), u->pct);
}

/* A whole number, or "n/a" when the run lacks it. */
typedef struct {
	char s[32];
} numtxt;

static numtxt n0(double v)
{
	numtxt t;
	snprintf(t.s, sizeof t.s, isnan(v) ? "n/a" : "%.0f", v);
	return t;
}

/* A delta in unit u, signed.  Rounded to 1e-8 of the metric first so that
 * binary noise in a stored value never flips the last shown digit. */
static void fmt_pt(char *buf, size_t len, double v, const munit *u)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%+.*f", u->dp, unneg(round(v * 1e8) / (1e8 / u->mul)));
}

static void fmt_ci(char *buf, size_t len, double lo, double hi, const munit *u)
{
	char a[28], b[28];
	if (isnan(lo) || isnan(hi)) {
		snprintf(buf, len, "n/a");
		return;
	}
	fmt_pt(a, sizeof a, lo, u);
	fmt_pt(b, sizeof b, hi, u);
	snprintf(buf, len, "[%s, %s]", a, b);
}

/* Bytes with a binary-prefixed figure beside them. */
static void fmt_bytes(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "n/a");
	else if (v >= 1 << 20)
		snprintf(buf, len, "%.0f (%.2f MiB)", v, v / (1 << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.0f (%.1f KiB)", v, v / 1024);
	else
		snprintf(buf, len, "%.0f", v);
}

/* ----------------------------------------------------------- disclosure */

typedef struct {
	const char *key, *title, *what;
} disc_item;

static const disc_item disc_items[6] = {
	{"task", "Task", "what the model does and the evaluation set"},
	{"model", "Model", "name, file, sha256, parameter count"},
	{"metric", "Metric", "definition and direction"},
	{"reference", "Reference", "the fp32 run, same samples, same code"},
	{"calibration", "Calibration", "set, size, method, how samples were drawn"},
	{"per_stratum", "Per-stratum", "every stratum with n, reference, quantized, delta, 95% interval"},
};

static int has_str(const cJSON *o, const char *path)
{
	return *jstr(o, path) != 0;
}

static int has_num(const cJSON *o, const char *path)
{
	return !isnan(jnum(o, path));
}

/* The first field item i needs that the run lacks, or NULL when present. */
static const char *disc_missing(const cJSON *run, int i)
{
	static const char *const need[6][5] = {
		{"model.task", "eval.set"},
		{"model.name", "model.path", "model.sha256", "model.params"},
		{"metric", "eval.metric_definition", "eval.higher_is_better"},
		{"reference"},
		{"recipe.calib_method", "calibration.set", "calibration.n", "calibration.seed", "calibration.sets"},
		{"eval.strata"},
	};
	for (int k = 0; k < 5 && need[i][k]; k++) {
		const char *p = need[i][k];
		const cJSON *v = jget(run, p);
		int present;
		if (strcmp(p, "eval.higher_is_better") == 0)
			present = cJSON_IsBool(v);
		else if (strcmp(p, "eval.strata") == 0)
			present = cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;
		else
			present = cJSON_IsNumber(v) || has_str(run, p);
		if (!present)
			return p;
	}
	if (i == 3 || i == 5) { /* every stratum carries its own numbers */
		const cJSON *st;
		cJSON_ArrayForEach(st, jget(run, "eval.strata"))
		{
			if (!has_str(st, "name"))
				return "eval.strata[].name";
			/* an empty stratum (a short language-model evaluation) has
			 * nothing to carry; the sample-size rule flags it */
			if (jnum(st, "n") == 0)
				continue;
			if (i == 3 && !has_num(st, "ref"))
				return "eval.strata[].ref";
			if (i == 5) {
				static const char *const f[] = {"n", "ref", "quant", "delta"};
				for (int k = 0; k < 4; k++)
					if (!has_num(st, f[k]))
						return k == 0 ? "eval.strata[].n" : k == 1 ? "eval.strata[].ref"
								  : k == 2 ? "eval.strata[].quant" : "eval.strata[].delta";
				/* a stratum without an interval says why (a language
				 * model's too few windows): disclosed, though not
				 * decision-grade (eng_disclosure_assess) */
				if ((isnan(ci_at(st, 0)) || isnan(ci_at(st, 1))) && !has_str(st, "ci_note"))
					return "eval.strata[].ci95";
			}
		}
	}
	return NULL;
}

/* Minimum stratum size.  Without a criterion 30: the percentile bootstrap
 * on fewer samples takes few distinct values and under-covers, and a
 * stratum with no flips gets the interval [0, 0] although a flip rate of
 * 3/n (the rule of three: 10 points at n = 30) is still plausible at 95%.
 * With a criterion c (a fraction) on a fraction metric, the same rule asks
 * 3/n <= c; it says nothing about bits per character, which stay at 30. */
static int min_stratum_n(double crit, const munit *u)
{
	int n = 30;
	if (crit > 0 && u->frac) {
		double need = ceil(3.0 / crit - 1e-9);
		if (need > n)
			n = need > 1e9 ? 1000000000 : (int)need;
	}
	return n;
}

/* criterion_points is in the unit the report shows the metric in: points
 * for fractions, bits for bpc (as engine/search.c's max_loss and `precis
 * report --max-loss` give it); every sentence reads in that unit too. */
int eng_disclosure_assess(cJSON *run, double criterion_points)
{
	if (!cJSON_IsObject(run))
		return -1;
	const munit u = metric_unit(jstr(run, "metric"));
	int crit_on = criterion_points > 0 && isfinite(criterion_points);
	double crit = crit_on ? criterion_points / u.mul : 0;
	int nmin = min_stratum_n(crit, &u);
	cJSON *d = cJSON_CreateObject(), *reasons = cJSON_CreateArray();
	if (!d || !reasons) {
		cJSON_Delete(d), cJSON_Delete(reasons);
		return -1;
	}
	int ok_items = 1, ci_ok = 1, n_ok = 1;
	char s[1024];
	for (int i = 0; i < 6; i++) {
		const char *miss = disc_missing(run, i);
		cJSON_AddBoolToObject(d, disc_items[i].key, !miss);
		if (miss) {
			ok_items = 0;
			snprintf(s, sizeof s, "disclosure item %d (%s: %s) is missing: the run has no `%s`", i + 1,
				 disc_items[i].title, disc_items[i].what, miss);
			cJSON_AddItemToArray(reasons, cJSON_CreateString(s));
		}
	}
	/* sample sizes, as one sentence listing the small strata */
	const cJSON *strata = jget(run, "eval.strata"), *st;
	int small = 0;
	sbuf list = {0};
	cJSON_ArrayForEach(st, strata)
	{
		double n = jnum(st, "n");
		if (!isnan(n) && n < nmin) {
			sb_printf(&list, "%s%s %.0f", small ? ", " : "", jstr(st, "name"), n);
			small++;
		}
	}
	if (small) {
		n_ok = 0;
		if (crit_on && u.frac)
			snprintf(s, sizeof s,
				 "sample size too small for the %.2f-point criterion: %d strat%s fewer than %d samples (%s); "
				 "a stratum of n samples with no flips cannot rule out a loss of 3/n (the rule of three), "
				 "so %.2f points needs n >= %d",
				 criterion_points, small, small == 1 ? "um has" : "a have", nmin, list.p ? list.p : "",
				 criterion_points, nmin);
		else
			snprintf(s, sizeof s,
				 "too few samples for any 95%% interval: %d strat%s fewer than %d samples (%s); below %d the "
				 "bootstrap interval is unreliable, and a stratum with no flips cannot rule out a loss of 3/n "
				 "(the rule of three)",
				 small, small == 1 ? "um has" : "a have", nmin, list.p ? list.p : "", nmin);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(s));
	}
	free(list.p);
	/* intervals of losses (SPEC §3): exclude zero, or narrower than the
	 * criterion; a stratum whose interval could not be computed (ci_note
	 * says why) cannot show either */
	const cJSON *hib = jget(run, "eval.higher_is_better");
	int higher = !cJSON_IsFalse(hib);
	cJSON_ArrayForEach(st, strata)
	{
		double delta = jnum(st, "delta"), lo = ci_at(st, 0), hi = ci_at(st, 1);
		if ((isnan(lo) || isnan(hi)) && has_str(st, "ci_note")) {
			ci_ok = 0;
			snprintf(s, sizeof s, "stratum `%s`: %s", jstr(st, "name"), jstr(st, "ci_note"));
			cJSON_AddItemToArray(reasons, cJSON_CreateString(s));
			continue;
		}
		if (isnan(delta) || isnan(lo) || isnan(hi))
			continue;
		int loss = higher ? delta < 0 : delta > 0;
		int excl = lo > 0 || hi < 0;
		if (!loss || excl || (crit_on && hi - lo < crit))
			continue;
		ci_ok = 0;
		char a[32], b[32], c[32];
		fmt_pt(a, sizeof a, lo, &u), fmt_pt(b, sizeof b, hi, &u), fmt_pt(c, sizeof c, delta, &u);
		if (crit_on)
			snprintf(s, sizeof s,
				 "stratum `%s`: the 95%% interval [%s, %s] %s includes zero and is %.*f %s wide, "
				 "wider than the %.*f-%s criterion",
				 jstr(st, "name"), a, b, u.plural, u.dp, (hi - lo) * u.mul, u.plural, u.dp, criterion_points,
				 u.one);
		else
			snprintf(s, sizeof s,
				 "stratum `%s`: the 95%% interval [%s, %s] %s is wider than the effect (%s %s), so "
				 "the loss cannot be told from noise",
				 jstr(st, "name"), a, b, u.plural, c, u.plural);
		cJSON_AddItemToArray(reasons, cJSON_CreateString(s));
	}
	int grade = ok_items && ci_ok && n_ok;
	cJSON_AddBoolToObject(d, "ci_narrower_than_effect", ci_ok);
	cJSON_AddBoolToObject(d, "decision_grade", grade);
	cJSON_AddNumberToObject(d, "min_stratum_n", nmin);
	if (crit_on)
		cJSON_AddNumberToObject(d, "criterion", criterion_points);
	else
		cJSON_AddNullToObject(d, "criterion");
	cJSON_AddItemToObject(d, "reasons", reasons);
	if (cJSON_GetObjectItemCaseSensitive(run, "disclosure"))
		cJSON_ReplaceItemInObjectCaseSensitive(run, "disclosure", d);
	else
		cJSON_AddItemToObject(run, "disclosure", d);
	return grade;
}

/* -------------------------------------------------------------- context */

typedef struct {
	double x, y;        /* throughput (samples/s), all-stratum delta (in the run's unit, as measured) */
	const cJSON *run;
	char label[24];
	int kind;           /* 0 history, 1 this run, 2 pinned, 3 the fp32 reference */
	int front;
} point;

typedef struct {
	const eng_report_in *in;
	cJSON *run;               /* copy with the disclosure assessed (owned) */
	double criterion;         /* in u (points, or bits for bpc); 0: none */
	int higher;
	munit u;                  /* the run's metric's unit */
	munit su;                 /* the sensitivity's metric's unit */
	char cpu[256];
	int cpu_from_run;
	char *command;            /* owned */
	char words[1024];         /* the recipe in words */
	const cJSON *hlayer;      /* sensitivity layer whose histogram is shown */
	int hlayer_auto;
	point *pts;               /* scatter points (owned) */
	int npts;
	int *hist_front;          /* per history entry: on the frontier (owned) */
	int run_front;
} rctx;

/* The recipe in words: eng_recipe_describe, plus what it summarises. */
static void recipe_words(const cJSON *recipe, char *buf, size_t len)
{
	eng_recipe r;
	char err[256];
	eng_recipe_default(&r); /* from_json sets only the keys the run has (older runs lack "kv") */
	if (!recipe || eng_recipe_from_json(&r, recipe, "run", err, sizeof err) != 0) {
		snprintf(buf, len, "(recipe not readable: %s)", recipe ? err : "the run has no recipe");
		return;
	}
	char desc[512];
	eng_recipe_describe(&r, desc, sizeof desc);
	char *cut = strstr(desc, ", with per-layer overrides");
	if (cut)
		*cut = 0;
	size_t o = (size_t)snprintf(buf, len, "%s", desc);
	if (r.smooth > 0 && o < len)
		o += (size_t)snprintf(buf + o, len - o, ", SmoothQuant alpha %g", r.smooth);
	for (int i = 0; i < r.noverrides && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s %s%s", i == 0 ? "; " : ", ", r.overrides[i].layer,
				      r.overrides[i].keep ? "kept in fp32" : "weights ",
				      r.overrides[i].keep ? "" : kq_fmt_get(r.overrides[i].weights)->name);
}

/* The recipe in a few words, for tables of runs: "W int4 channel, A int8
 * tensor, minmax representative:512". */
static void recipe_label(const cJSON *r, char *buf, size_t len)
{
	if (!cJSON_IsObject(r)) {
		snprintf(buf, len, "(no recipe)");
		return;
	}
	int nov = cJSON_GetArraySize(jget(r, "overrides"));
	double sm = jnum(r, "smooth");
	char extra[64] = "";
	if (sm > 0)
		snprintf(extra, sizeof extra, ", smooth %g", sm);
	if (nov)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", %d override%s", nov, nov == 1 ? "" : "s");
	int afp = strcmp(jstr(r, "acts"), "fp32") == 0;
	snprintf(buf, len, "W %s %s%s, A %s%s%s%s, %s %s:%s%s", jstr(r, "weights"), jstr(r, "granularity"),
		 cJSON_IsFalse(jget(r, "weight_symmetric")) ? " asym" : "", jstr(r, "acts"), afp ? "" : " ",
		 afp ? "" : jstr(r, "act_granularity"),
		 cJSON_IsTrue(jget(r, "act_symmetric")) && !afp ? " sym" : "",
		 jstr(r, "calib_method"), jstr(r, "calib_set"), n0(jnum(r, "calib_n")).s, extra);
}

/* Appends one shell word, quoted when it needs to be. */
static void sh_word(sbuf *b, const char *w)
{
	int plain = *w != 0;
	for (const char *p = w; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:=/+@%", *p))
			plain = 0;
	sb_put(b, " ", 1);
	if (plain) {
		sb_puts(b, w);
		return;
	}
	sb_put(b, "'", 1);
	for (const char *p = w; *p; p++)
		if (*p == '\'')
			sb_puts(b, "'\\''");
		else
			sb_put(b, p, 1);
	sb_put(b, "'", 1);
}

static void sh_opt(sbuf *b, const char *opt, const char *val)
{
	sh_word(b, opt);
	if (val)
		sh_word(b, val);
}

/* `precis eval …` that reproduces the run: every recipe option written out
 * (so a change of defaults cannot change what it means), the model by name
 * when it is the shipped file of that name, else by path. */
static char *build_command(const cJSON *run)
{
	sbuf b = {0};
	char v[64];
	sb_puts(&b, "precis eval");
	const char *name = jstr(run, "model.name"), *path = jstr(run, "model.path");
	size_t pl = strlen(path), nl = strlen(name);
	int shipped = nl && pl > nl + 20 && strcmp(path + pl - 12, ".safetensors") == 0 &&
		      strncmp(path + pl - 12 - nl, name, nl) == 0 && strncmp(path + pl - 12 - nl - 8, "/models/", 8) == 0;
	sh_opt(&b, "--model", shipped || !*path ? name : path);
	const cJSON *r = jget(run, "recipe");
	sh_opt(&b, "--weights", jstr(r, "weights"));
	sh_opt(&b, "--acts", jstr(r, "acts"));
	if (*jstr(r, "kv") && strcmp(jstr(r, "kv"), "fp32") != 0)
		sh_opt(&b, "--kv", jstr(r, "kv"));
	if (*jstr(r, "attn") && strcmp(jstr(r, "attn"), "fp32") != 0)
		sh_opt(&b, "--attn", jstr(r, "attn"));
	sh_opt(&b, cJSON_IsFalse(jget(r, "weight_symmetric")) ? "--asymmetric" : "--symmetric", NULL);
	sh_opt(&b, cJSON_IsTrue(jget(r, "act_symmetric")) ? "--act-symmetric" : "--act-asymmetric", NULL);
	sh_opt(&b, "--granularity", jstr(r, "granularity"));
	sh_opt(&b, "--act-granularity", jstr(r, "act_granularity"));
	sh_opt(&b, "--calib-method", jstr(r, "calib_method"));
	if (has_num(r, "calib_n"))
		snprintf(v, sizeof v, "%s:%.0f", jstr(r, "calib_set"), jnum(r, "calib_n"));
	else
		snprintf(v, sizeof v, "%s", jstr(r, "calib_set"));
	sh_opt(&b, "--calib-set", v);
	double sm = jnum(r, "smooth");
	if (sm > 0) {
		snprintf(v, sizeof v, "%g", sm);
		sh_opt(&b, "--smooth", v);
	}
	const cJSON *ov;
	sbuf keep = {0};
	cJSON_ArrayForEach(ov, jget(r, "overrides"))
	{
		if (cJSON_IsString(ov)) {
			if (keep.len)
				sb_put(&keep, ",", 1);
			sb_puts(&keep, ov->string);
		}
	}
	if (keep.len)
		sh_opt(&b, "--keep", keep.p);
	free(keep.p);
	cJSON_ArrayForEach(ov, jget(r, "overrides"))
	{
		if (cJSON_IsObject(ov)) {
			char *lv = xprintf("%s=%s", ov->string, jstr(ov, "weights"));
			if (!lv)
				b.oom = 1;
			else
				sh_opt(&b, "--layer", lv);
			free(lv);
		}
	}
	if (*jstr(run, "metric"))
		sh_opt(&b, "--metric", jstr(run, "metric"));
	if (has_num(run, "eval.n")) {
		snprintf(v, sizeof v, "%.0f", jnum(run, "eval.n"));
		sh_opt(&b, "--eval-n", v);
	}
	if (has_num(run, "throughput.threads")) {
		snprintf(v, sizeof v, "%.0f", jnum(run, "throughput.threads"));
		sh_opt(&b, "--threads", v);
	}
	if (has_num(run, "calibration.seed")) {
		snprintf(v, sizeof v, "%.0f", jnum(run, "calibration.seed"));
		sh_opt(&b, "--seed", v);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* The all stratum (the first), or NULL. */
static const cJSON *stratum_all(const cJSON *run)
{
	return cJSON_GetArrayItem(jget(run, "eval.strata"), 0);
}

static const cJSON *stratum_named(const cJSON *run, const char *name)
{
	const cJSON *st;
	cJSON_ArrayForEach(st, jget(run, "eval.strata")) if (strcmp(jstr(st, "name"), name) == 0) return st;
	return NULL;
}

/* How bad a layer is alone, for picking the histogram by default: the
 * loss when quantized alone, else the lack of output SQNR. */
static double layer_badness(const cJSON *l, int higher)
{
	double d = jnum(l, "delta_alone");
	if (!isnan(d))
		return higher ? -d : d;
	double q = jnum(l, "output_sqnr_db");
	if (!isnan(q))
		return -q;
	q = jnum(l, "weight_sqnr_db");
	return isnan(q) ? -INFINITY : -q;
}

/* Are a and b the same run?  A top-level "run" key is left out of the
 * comparison: the explorer numbers the copies it keeps in its history. */
static int same_run(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return 0;
	if (a == b)
		return 1;
	if (!cJSON_IsObject(a) || !cJSON_IsObject(b))
		return cJSON_Compare(a, b, 1);
	int na = 0, nb = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, a)
	{
		if (strcmp(x->string, "run") == 0)
			continue;
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (!y || !cJSON_Compare(x, y, 1))
			return 0;
		na++;
	}
	cJSON_ArrayForEach(x, b) nb += strcmp(x->string, "run") != 0;
	return na == nb;
}

static int ctx_init(rctx *c, const eng_report_in *in, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->in = in;
	if (!in || !cJSON_IsObject(in->run)) {
		snprintf(err, errlen, "no run to report");
		return -1;
	}
	const cJSON *strata = jget(in->run, "eval.strata");
	if (!cJSON_IsArray(strata) || cJSON_GetArraySize(strata) == 0) {
		snprintf(err, errlen, "the run has no eval.strata: not a precis eval result");
		return -1;
	}
	c->run = cJSON_Duplicate(in->run, 1);
	if (!c->run)
		goto oom;
	double crit = in->criterion;
	if (!(crit > 0))
		crit = jnum(in->run, "disclosure.criterion");
	c->criterion = crit > 0 && isfinite(crit) ? crit : 0;
	if (eng_disclosure_assess(c->run, c->criterion) < 0)
		goto oom;
	c->higher = !cJSON_IsFalse(jget(c->run, "eval.higher_is_better"));
	c->u = metric_unit(jstr(c->run, "metric"));
	c->su = metric_unit(*jstr(in->sensitivity, "metric") ? jstr(in->sensitivity, "metric") : jstr(c->run, "metric"));
	if (has_str(c->run, "throughput.cpu")) {
		snprintf(c->cpu, sizeof c->cpu, "%s", jstr(c->run, "throughput.cpu"));
		c->cpu_from_run = 1;
	} else if (in->cpu)
		snprintf(c->cpu, sizeof c->cpu, "%s", in->cpu);
	else
		eng_cpu_model(c->cpu, sizeof c->cpu);
	c->command = in->command ? strdup(in->command) : build_command(c->run);
	if (!c->command)
		goto oom;
	recipe_words(jget(c->run, "recipe"), c->words, sizeof c->words);
	/* the histogram's layer */
	const cJSON *l, *layers = jget(in->sensitivity, "layers");
	if (in->layer) {
		cJSON_ArrayForEach(l, layers) if (strcmp(jstr(l, "name"), in->layer) == 0) c->hlayer = l;
		if (!c->hlayer && in->sensitivity) {
			snprintf(err, errlen, "layer '%s' is not in the sensitivity results", in->layer);
			cJSON_Delete(c->run), free(c->command);
			return -1;
		}
	} else {
		/* the sensitivity's own ranking when it has one, else the worst alone */
		const char *first = cJSON_IsString(cJSON_GetArrayItem(jget(in->sensitivity, "ranking"), 0))
					    ? cJSON_GetArrayItem(jget(in->sensitivity, "ranking"), 0)->valuestring
					    : NULL;
		cJSON_ArrayForEach(l, layers) if (first && jget(l, "hist") && strcmp(jstr(l, "name"), first) == 0) c->hlayer = l;
		double worst = -INFINITY;
		int ranked = c->hlayer != NULL;
		cJSON_ArrayForEach(l, layers)
		{
			double bad = layer_badness(l, c->higher);
			if (!ranked && jget(l, "hist") && (!c->hlayer || bad > worst))
				c->hlayer = l, worst = bad;
		}
		c->hlayer_auto = 1;
	}
	/* scatter points: history, then this run and the pinned one when not in it */
	int nh = cJSON_IsArray(in->history) ? cJSON_GetArraySize(in->history) : 0;
	c->pts = calloc((size_t)nh + 3, sizeof *c->pts);
	c->hist_front = calloc((size_t)nh + 1, sizeof *c->hist_front);
	if (!c->pts || !c->hist_front)
		goto oom;
	int run_in_hist = -1, pin_in_hist = -1, i = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, in->history)
	{
		point *p = &c->pts[c->npts++];
		p->run = h, p->kind = 0;
		p->x = jnum(h, "throughput.quant");
		p->y = jnum(stratum_all(h), "delta") * c->u.mul;
		snprintf(p->label, sizeof p->label, "#%d", i + 1);
		if (run_in_hist < 0 && same_run(h, in->run))
			run_in_hist = i, p->kind = 1;
		else if (pin_in_hist < 0 && same_run(h, in->pinned))
			pin_in_hist = i, p->kind = 2;
		i++;
	}
	if (run_in_hist < 0) {
		point *p = &c->pts[c->npts++];
		p->run = in->run, p->kind = 1;
		p->x = jnum(in->run, "throughput.quant");
		p->y = jnum(stratum_all(in->run), "delta") * c->u.mul;
		snprintf(p->label, sizeof p->label, "this run");
	}
	if (in->pinned && pin_in_hist < 0) {
		point *p = &c->pts[c->npts++];
		p->run = in->pinned, p->kind = 2;
		p->x = jnum(in->pinned, "throughput.quant");
		p->y = jnum(stratum_all(in->pinned), "delta") * c->u.mul;
		snprintf(p->label, sizeof p->label, "A (pinned)");
	}
	{
		double *x = malloc((size_t)c->npts * sizeof *x), *y = malloc((size_t)c->npts * sizeof *y);
		int *f = malloc((size_t)c->npts * sizeof *f);
		if (!x || !y || !f) {
			free(x), free(y), free(f);
			goto oom;
		}
		for (int k = 0; k < c->npts; k++)
			x[k] = c->pts[k].x, y[k] = c->higher ? c->pts[k].y : -c->pts[k].y;
		eng_pareto(x, y, c->npts, f);
		for (int k = 0; k < c->npts; k++) {
			c->pts[k].front = f[k];
			if (k < nh)
				c->hist_front[k] = f[k];
			if (c->pts[k].kind == 1)
				c->run_front = f[k];
		}
		free(x), free(y), free(f);
	}
	/* the fp32 reference, drawn for scale, not part of the frontier */
	double rx = jnum(in->run, "throughput.ref");
	if (!isnan(rx)) {
		point *p = &c->pts[c->npts++];
		p->run = NULL, p->kind = 3, p->x = rx, p->y = 0;
		snprintf(p->label, sizeof p->label, "fp32");
	}
	return 0;
oom:
	cJSON_Delete(c->run), free(c->command), free(c->pts), free(c->hist_front);
	memset(c, 0, sizeof *c);
	snprintf(err, errlen, "out of memory while rendering the report");
	return -1;
}

static void ctx_done(rctx *c)
{
	cJSON_Delete(c->run);
	free(c->command);
	free(c->pts);
	free(c->hist_front);
}

/* ---------------------------------------------------------------- SVG */

typedef struct {
	double lo, hi, step;
	int n, dec;
} ticks;

/* Round numbers covering [lo, hi]: steps of 1, 2 or 5 times a power of
 * ten, about `want` of them. */
static ticks nice_ticks(double lo, double hi, int want)
{
	ticks t;
	if (!(hi > lo)) {
		double m = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
		lo -= m, hi += m;
	}
	double raw = (hi - lo) / (want > 1 ? want : 1), mag = pow(10, floor(log10(raw))), f = raw / mag;
	t.step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
	t.lo = floor(lo / t.step + 1e-9) * t.step;
	t.hi = ceil(hi / t.step - 1e-9) * t.step;
	t.n = (int)floor((t.hi - t.lo) / t.step + 0.5) + 1;
	double l = -floor(log10(t.step) + 1e-9);
	t.dec = l > 0 ? (int)l : 0;
	return t;
}

static double tick_at(const ticks *t, int i)
{
	return unneg(t->lo + i * t->step);
}

static const char *verdict_class(const char *v)
{
	return strcmp(v, "loss") == 0 ? "loss" : strcmp(v, "gain") == 0 ? "gain" : "noise";
}

static void svg_text(doc *d, double x, double y, const char *anchor, const char *cls, const char *text)
{
	sb_printf(&d->b, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
	if (anchor)
		sb_printf(&d->b, " text-anchor=\"%s\"", anchor);
	if (cls)
		sb_printf(&d->b, " class=\"%s\"", cls);
	sb_puts(&d->b, ">");
	esc_html(&d->b, text);
	sb_puts(&d->b, "</text>\n");
}

static void svg_begin(doc *d, int w, int h, const char *title)
{
	sb_printf(&d->b,
		  "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
		  "height=\"%d\" role=\"img\"><title>",
		  w, h, w, h);
	esc_html(&d->b, title);
	sb_puts(&d->b, "</title>\n");
}

static void svg_end(doc *d, const char *caption)
{
	sb_puts(&d->b, "</svg>\n<p class=\"caption\">");
	esc_html(&d->b, caption);
	sb_puts(&d->b, "</p></div>\n");
}

/* Vertical grid lines and labels of a horizontal axis. */
static void svg_xaxis(doc *d, const ticks *t, double x0, double x1, double ytop, double ybot, const char *label)
{
	for (int i = 0; i < t->n; i++) {
		double v = tick_at(t, i), x = x0 + (v - t->lo) / (t->hi - t->lo) * (x1 - x0);
		char s[32];
		snprintf(s, sizeof s, "%.*f", t->dec, v);
		sb_printf(&d->b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, ytop, x, ybot);
		svg_text(d, x, ybot + 14, "middle", "tick", s);
	}
	svg_text(d, (x0 + x1) / 2, ybot + 32, "middle", "axis", label);
}

static void svg_yaxis(doc *d, const ticks *t, double y0, double y1, double xl, double xr, const char *label)
{
	for (int i = 0; i < t->n; i++) {
		double v = tick_at(t, i), y = y0 - (v - t->lo) / (t->hi - t->lo) * (y0 - y1);
		char s[32];
		snprintf(s, sizeof s, "%.*f", t->dec, v);
		sb_printf(&d->b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", xl, y, xr, y);
		svg_text(d, xl - 6, y + 4, "end", "tick", s);
	}
	sb_printf(&d->b, "<text class=\"axis\" transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\">",
		  xl - 48, (y0 + y1) / 2);
	esc_html(&d->b, label);
	sb_puts(&d->b, "</text>\n");
}

/* One row per stratum: the delta as a dot, its 95% interval as a bar,
 * zero and the criterion as lines. */
static void chart_strata(doc *d, rctx *c)
{
	const cJSON *strata = jget(c->run, "eval.strata"), *st;
	int n = cJSON_GetArraySize(strata);
	double lo = 0, hi = 0, crit = c->criterion;
	cJSON_ArrayForEach(st, strata)
	{
		double v[3] = {jnum(st, "delta"), ci_at(st, 0), ci_at(st, 1)};
		for (int k = 0; k < 3; k++)
			if (!isnan(v[k])) {
				lo = fmin(lo, v[k] * c->u.mul);
				hi = fmax(hi, v[k] * c->u.mul);
			}
	}
	if (crit > 0) {
		if (c->higher)
			lo = fmin(lo, -crit);
		else
			hi = fmax(hi, crit);
	}
	ticks t = nice_ticks(lo, hi, 6);
	const int W = 720, L = 130, R = 20, T = 12, RH = 22;
	int H = T + n * RH + 44;
	double x0 = L, x1 = W - R, yb = T + n * RH;
#define XS(v) (x0 + ((v) - t.lo) / (t.hi - t.lo) * (x1 - x0))
	svg_begin(d, W, H, "Delta per stratum with 95% intervals");
	char axis[96];
	snprintf(axis, sizeof axis, "delta, quantized minus reference (%s)", c->u.plural);
	svg_xaxis(d, &t, x0, x1, T, yb, axis);
	sb_printf(&d->b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", XS(0), T, XS(0), yb);
	if (crit > 0) {
		double cx = XS(c->higher ? -crit : crit);
		sb_printf(&d->b, "<line class=\"crit\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cx, T, cx, yb);
	}
	int i = 0;
	cJSON_ArrayForEach(st, strata)
	{
		double y = T + i * RH + RH / 2.0, dl = jnum(st, "delta") * c->u.mul, a = ci_at(st, 0) * c->u.mul,
		       b = ci_at(st, 1) * c->u.mul;
		const char *cls = verdict_class(jstr(st, "verdict"));
		if (i % 2 == 0)
			sb_printf(&d->b, "<rect class=\"band\" x=\"0\" y=\"%.1f\" width=\"%d\" height=\"%d\"/>\n", y - RH / 2.0, W, RH);
		svg_text(d, L - 8, y + 4, "end", "label", jstr(st, "name"));
		if (!isnan(a) && !isnan(b)) {
			sb_printf(&d->b, "<line class=\"ci %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls, XS(a), y,
				  XS(b), y);
			sb_printf(&d->b, "<line class=\"ci %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls, XS(a),
				  y - 5, XS(a), y + 5);
			sb_printf(&d->b, "<line class=\"ci %s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", cls, XS(b),
				  y - 5, XS(b), y + 5);
		}
		if (!isnan(dl))
			sb_printf(&d->b, "<circle class=\"dot %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/>\n", cls, XS(dl), y);
		i++;
	}
#undef XS
	char cap[256];
	if (crit > 0)
		snprintf(cap, sizeof cap,
			 "Delta per stratum (dot) with its 95%% paired-bootstrap interval (bar); red: loss, green: gain, "
			 "grey: within noise. Dashed: the %.*f-%s criterion.", c->u.dp, crit, c->u.one);
	else
		snprintf(cap, sizeof cap,
			 "Delta per stratum (dot) with its 95%% paired-bootstrap interval (bar); red: loss, green: gain, "
			 "grey: within noise.");
	svg_end(d, cap);
}

static int cmp_px(const void *a, const void *b)
{
	const point *p = *(const point *const *)a, *q = *(const point *const *)b;
	return (p->x > q->x) - (p->x < q->x);
}

/* Throughput x accuracy: every run of the session, the fp32 reference, and
 * the Pareto frontier through the runs on it. */
static void chart_scatter(doc *d, rctx *c)
{
	double xmax = 0, ylo = 0, yhi = 0;
	int n = 0;
	for (int i = 0; i < c->npts; i++) {
		const point *p = &c->pts[i];
		if (isnan(p->x) || isnan(p->y))
			continue;
		xmax = fmax(xmax, p->x);
		ylo = fmin(ylo, p->y), yhi = fmax(yhi, p->y);
		n++;
	}
	if (n < 2)
		return;
	ticks tx = nice_ticks(0, xmax * 1.05, 6), ty = nice_ticks(ylo, yhi, 5);
	const int W = 720, H = 340, L = 80, R = 30, T = 16, B = 52;
	double x0 = L, x1 = W - R, y0 = H - B, y1 = T;
#define XS(v) (x0 + ((v) - tx.lo) / (tx.hi - tx.lo) * (x1 - x0))
#define YS(v) (y0 - ((v) - ty.lo) / (ty.hi - ty.lo) * (y0 - y1))
	svg_begin(d, W, H, "Throughput and accuracy of this session's runs, with the Pareto frontier");
	svg_xaxis(d, &tx, x0, x1, y1, y0, "quantized throughput (samples/s)");
	char yl[96];
	snprintf(yl, sizeof yl, "delta on all (%s, %s is better)", c->u.plural, c->higher ? "higher" : "lower");
	svg_yaxis(d, &ty, y0, y1, x0, x1, yl);
	sb_printf(&d->b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, YS(0), x1, YS(0));
	/* the frontier, left to right */
	const point **f = malloc((size_t)c->npts * sizeof *f);
	int nf = 0;
	if (!f) {
		d->b.oom = 1;
		return;
	}
	for (int i = 0; i < c->npts; i++)
		if (c->pts[i].front)
			f[nf++] = &c->pts[i];
	qsort(f, (size_t)nf, sizeof *f, cmp_px);
	if (nf > 1) {
		sb_puts(&d->b, "<polyline class=\"front\" points=\"");
		for (int i = 0; i < nf; i++)
			sb_printf(&d->b, "%s%.1f,%.1f", i ? " " : "", XS(f[i]->x), YS(f[i]->y));
		sb_puts(&d->b, "\"/>\n");
	}
	free(f);
	for (int i = 0; i < c->npts; i++) {
		const point *p = &c->pts[i];
		if (isnan(p->x) || isnan(p->y))
			continue;
		double x = XS(p->x), y = YS(p->y);
		const char *cls = p->kind == 1 ? "pt run" : p->kind == 2 ? "pt pinned" : p->kind == 3 ? "pt ref" : "pt";
		if (p->kind == 3)
			sb_printf(&d->b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\"/>\n", cls, x - 4.5,
				  y - 4.5);
		else if (p->kind == 2)
			sb_printf(&d->b, "<path class=\"%s\" d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\"/>\n", cls, x, y - 6);
		else
			sb_printf(&d->b, "<circle class=\"%s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"/>\n", cls, p->front ? " onfront" : "",
				  x, y, p->kind == 1 ? "6" : "4.5");
		char lab[48];
		snprintf(lab, sizeof lab, "%s%s", p->label, p->kind == 1 && p->label[0] == '#' ? " (this run)" : "");
		svg_text(d, x + 8, y - 7, NULL, "label", lab);
	}
#undef XS
#undef YS
	svg_end(d, "Each run of the session at its quantized throughput and its delta on all; the line joins the "
		   "Pareto frontier (no other run is both faster and more accurate). Large dot: this run; diamond: the "
		   "pinned run A; square: the fp32 reference (not part of the frontier).");
}

/* Per-layer bars: the delta when only that layer is quantized (with its
 * interval), or the output / weight SQNR when deltas were not computed. */
static void chart_layers(doc *d, rctx *c)
{
	const cJSON *layers = jget(c->in->sensitivity, "layers"), *l;
	int n = cJSON_GetArraySize(layers), have_delta = 0, have_out = 0;
	cJSON_ArrayForEach(l, layers)
	{
		have_delta |= has_num(l, "delta_alone");
		have_out |= has_num(l, "output_sqnr_db");
	}
	const char *key = have_delta ? "delta_alone" : have_out ? "output_sqnr_db" : "weight_sqnr_db";
	double mul = have_delta ? c->su.mul : 1, lo = 0, hi = 0;
	int any = 0;
	cJSON_ArrayForEach(l, layers)
	{
		double v = jnum(l, key) * mul;
		if (isnan(v))
			continue;
		any = 1;
		lo = fmin(lo, v), hi = fmax(hi, v);
		if (have_delta && !isnan(ci_at(l, 0)) && !isnan(ci_at(l, 1))) {
			lo = fmin(lo, ci_at(l, 0) * mul);
			hi = fmax(hi, ci_at(l, 1) * mul);
		}
	}
	if (!any || n == 0)
		return;
	ticks t = nice_ticks(lo, hi, 6);
	const int W = 720, L = 130, R = 20, T = 12, RH = 24;
	int H = T + n * RH + 44;
	double x0 = L, x1 = W - R, yb = T + n * RH;
#define XS(v) (x0 + ((v) - t.lo) / (t.hi - t.lo) * (x1 - x0))
	svg_begin(d, W, H, have_delta ? "Delta when only this layer is quantized" : "Per-layer SQNR");
	char axis[96];
	snprintf(axis, sizeof axis, "delta with only this layer quantized (%s)", c->su.plural);
	svg_xaxis(d, &t, x0, x1, T, yb,
		  have_delta ? axis : have_out ? "output SQNR (dB, higher is better)" : "weight SQNR (dB, higher is better)");
	int i = 0;
	cJSON_ArrayForEach(l, layers)
	{
		double y = T + i * RH + RH / 2.0, v = jnum(l, key) * mul;
		int sel = l == c->hlayer;
		svg_text(d, L - 8, y + 4, "end", sel ? "label sel" : "label", jstr(l, "name"));
		if (!isnan(v)) {
			int bad = have_delta && (c->higher ? v < 0 : v > 0);
			double a = XS(fmin(0, v)), b = XS(fmax(0, v));
			sb_printf(&d->b, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\"/>\n",
				  bad ? " lossbar" : "", a, y - 7, fmax(b - a, 1.0));
			if (have_delta && !isnan(ci_at(l, 0)) && !isnan(ci_at(l, 1)))
				sb_printf(&d->b, "<line class=\"ci noise\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
					  XS(ci_at(l, 0) * mul), y, XS(ci_at(l, 1) * mul), y);
		}
		i++;
	}
	sb_printf(&d->b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", XS(0), T, XS(0), yb);
#undef XS
	svg_end(d, have_delta ? "Delta on all when only this layer is quantized (bar) with its 95% interval (line); "
				"red bars lose accuracy. Bold: the layer whose histogram follows."
			      : "Per-layer SQNR (deltas were not computed). Bold: the layer whose histogram follows.");
}

/* One histogram panel: 64 bins on a log scale, clip range dashed. */
static void hist_panel(doc *d, const cJSON *h, const cJSON *clip, double px, double py, double pw, double ph,
		       const char *title)
{
	const cJSON *counts = jget(h, "counts");
	int nb = cJSON_GetArraySize(counts);
	double lo = jnum(h, "lo"), hi = jnum(h, "hi"), mx = 0;
	svg_text(d, px, py - 6, NULL, "axis", title);
	if (nb == 0 || isnan(lo) || isnan(hi) || !(hi > lo)) {
		svg_text(d, px + pw / 2, py + ph / 2, "middle", "tick", "no histogram");
		return;
	}
	const cJSON *v;
	cJSON_ArrayForEach(v, counts) if (cJSON_IsNumber(v)) mx = fmax(mx, v->valuedouble);
	double lmx = log10(1 + mx), bw = pw / nb;
	sb_printf(&d->b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", px, py, pw, ph);
	int i = 0;
	cJSON_ArrayForEach(v, counts)
	{
		double cnt = cJSON_IsNumber(v) ? v->valuedouble : 0, bh = lmx > 0 ? log10(1 + fmax(cnt, 0)) / lmx * ph : 0;
		if (bh > 0)
			sb_printf(&d->b, "<rect class=\"hbar\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>\n",
				  px + i * bw, py + ph - bh, bw * 0.9, bh);
		i++;
	}
	char s[48];
	snprintf(s, sizeof s, "%.4g", lo);
	svg_text(d, px, py + ph + 14, "start", "tick", s);
	snprintf(s, sizeof s, "%.4g", hi);
	svg_text(d, px + pw, py + ph + 14, "end", "tick", s);
	if (lo < 0 && hi > 0) {
		double zx = px + (0 - lo) / (hi - lo) * pw;
		sb_printf(&d->b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", zx, py, zx, py + ph);
		svg_text(d, zx, py + ph + 14, "middle", "tick", "0");
	}
	for (int k = 0; k < 2; k++) {
		const cJSON *cv = cJSON_GetArrayItem(clip, k);
		if (!cJSON_IsNumber(cv))
			continue;
		double x = px + (fmin(fmax(cv->valuedouble, lo), hi) - lo) / (hi - lo) * pw;
		sb_printf(&d->b, "<line class=\"crit\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, py - 2, x,
			  py + ph + 2);
	}
}

static void chart_hist(doc *d, rctx *c)
{
	const cJSON *h = jget(c->hlayer, "hist");
	if (!h)
		return;
	char title[160];
	snprintf(title, sizeof title, "Histograms of layer %s", jstr(c->hlayer, "name"));
	svg_begin(d, 720, 230, title);
	hist_panel(d, jget(h, "weights"), jget(h, "clip.weights"), 40, 30, 300, 150, "weights");
	hist_panel(d, jget(h, "acts"), jget(h, "clip.acts"), 400, 30, 300, 150, "input activations");
	char cap[320];
	snprintf(cap, sizeof cap,
		 "Layer %s%s: 64 bins from the smallest to the largest value, counts on a log scale; dashed lines: "
		 "the clipping range the recipe chose.",
		 jstr(c->hlayer, "name"), c->hlayer_auto ? " (the most sensitive)" : "");
	svg_end(d, cap);
}

/* The verdict and every reason, as sentences (a list when several). */
static void verdict_block(doc *d, rctx *c, int top)
{
	const cJSON *disc = jget(c->run, "disclosure");
	int grade = cJSON_IsTrue(jget(disc, "decision_grade"));
	d->ops->par_begin(d, grade ? "verdict good" : "verdict bad");
	d->ops->strong(d, grade ? (top ? "Verdict: decision-grade:" : "Decision-grade:")
				: (top ? "Verdict: not decision-grade:" : "Not decision-grade:"));
	const cJSON *reasons = jget(disc, "reasons"), *x;
	int nr = cJSON_GetArraySize(reasons);
	if (grade) {
		if (c->criterion > 0)
			d_textf(d, " all six items present; every stratum has at least %.0f samples; every loss has a 95%% "
				   "interval that excludes zero or is narrower than the %.*f-%s criterion.",
				jnum(disc, "min_stratum_n"), c->u.dp, c->criterion, c->u.one);
		else
			d_textf(d, " all six items present; every stratum has at least %.0f samples; every loss has a 95%% "
				   "interval that excludes zero. No acceptance criterion was given.",
				jnum(disc, "min_stratum_n"));
	} else if (nr == 1) {
		d_text(d, " ");
		d_rich(d, cJSON_GetArrayItem(reasons, 0)->valuestring);
		d_text(d, ".");
	}
	d->ops->par_end(d);
	if (!grade && nr > 1) {
		d->ops->list_begin(d);
		cJSON_ArrayForEach(x, reasons) if (cJSON_IsString(x))
		{
			d->ops->item_begin(d);
			d_rich(d, x->valuestring);
			d_text(d, ".");
			d->ops->item_end(d);
		}
		d->ops->list_end(d);
	}
}

/* Markdown stand-in for a histogram: 64 bins as block characters. */
static void md_spark(doc *d, const cJSON *h, const cJSON *clip, const char *what)
{
	static const char *const blocks[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
	const cJSON *counts = jget(h, "counts"), *v;
	double mx = 0, lo = jnum(h, "lo"), hi = jnum(h, "hi");
	if (cJSON_GetArraySize(counts) == 0)
		return;
	cJSON_ArrayForEach(v, counts) if (cJSON_IsNumber(v)) mx = fmax(mx, v->valuedouble);
	sbuf s = {0};
	double lmx = log10(1 + mx);
	cJSON_ArrayForEach(v, counts)
	{
		double cnt = cJSON_IsNumber(v) ? fmax(v->valuedouble, 0) : 0;
		int k = lmx > 0 && cnt > 0 ? 1 + (int)floor(log10(1 + cnt) / lmx * 7.999) : 0;
		sb_puts(&s, blocks[k > 8 ? 8 : k]);
	}
	d->ops->item_begin(d);
	d_textf(d, "%s, [%.4g, %.4g]", what, lo, hi);
	const cJSON *a = cJSON_GetArrayItem(clip, 0), *b = cJSON_GetArrayItem(clip, 1);
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		d_textf(d, ", clipped to [%.4g, %.4g]", a->valuedouble, b->valuedouble);
	d_text(d, ": ");
	d->ops->code(d, s.p ? s.p : "");
	d->ops->item_end(d);
	if (s.oom)
		d->b.oom = 1;
	free(s.p);
}

/* ------------------------------------------------------------- sections */

static void sec_title(doc *d, rctx *c)
{
	char t[512];
	snprintf(t, sizeof t, "precis report: %s, %s weights / %s activations", jstr(c->run, "model.name"),
		 jstr(c->run, "recipe.weights"), jstr(c->run, "recipe.acts"));
	d->ops->heading(d, 1, NULL, t);
	if (*jstr(c->run, "model.variant")) { /* a stress variant is never mistaken for a trained model */
		d->ops->par_begin(d, NULL);
		d_textf(d, "Model variant: %s.", jstr(c->run, "model.variant"));
		d->ops->par_end(d);
	}
	if (c->in->date) {
		d->ops->par_begin(d, "meta");
		d_textf(d, "Generated %s.", c->in->date);
		d->ops->par_end(d);
	}
}

/* The answer first: verdict and the headline numbers. */
static void sec_summary(doc *d, rctx *c)
{
	const cJSON *all = stratum_all(c->run);
	char a[32], b[32], dl[32], ci[64];
	verdict_block(d, c, 1);
	fmt_val(a, sizeof a, jnum(all, "ref"), &c->u);
	fmt_val(b, sizeof b, jnum(all, "quant"), &c->u);
	fmt_pt(dl, sizeof dl, jnum(all, "delta"), &c->u);
	fmt_ci(ci, sizeof ci, ci_at(all, 0), ci_at(all, 1), &c->u);
	d->ops->par_begin(d, NULL);
	d_textf(d, "Recipe: %s. ", c->words);
	d_textf(d, "On %s (%s samples) %s goes from %s to %s: delta %s %s, 95%% interval %s, %s. ", jstr(all, "name"),
		n0(jnum(all, "n")).s, jstr(c->run, "metric"), a, b, dl, c->u.plural, ci, jstr(all, "verdict"));
	double sp = jnum(c->run, "throughput.speedup"), wr = jnum(c->run, "memory.weight_bytes_ref"),
	       wq = jnum(c->run, "memory.weight_bytes_quant");
	if (!isnan(sp))
		d_textf(d, "Throughput %.0f to %.0f %s (%.2fx)%s. ", jnum(c->run, "throughput.ref"),
			jnum(c->run, "throughput.quant"), jstr(c->run, "throughput.unit"), sp,
			cJSON_IsTrue(jget(c->run, "throughput.emulated")) ? ", emulated" : "");
	else
		d_text(d, "Throughput not measured in this run. ");
	if (!isnan(wr) && wq > 0)
		d_textf(d, "Weights %.0f to %.0f bytes (%.2fx smaller).", wr, wq, wr / wq);
	d->ops->par_end(d);
	/* strata whose loss is outside noise: what a reviewer must look at */
	const cJSON *st;
	sbuf l = {0};
	int nl = 0;
	cJSON_ArrayForEach(st, jget(c->run, "eval.strata")) if (strcmp(jstr(st, "verdict"), "loss") == 0)
	{
		fmt_pt(dl, sizeof dl, jnum(st, "delta"), &c->u);
		fmt_ci(ci, sizeof ci, ci_at(st, 0), ci_at(st, 1), &c->u);
		sb_printf(&l, "%s%s %s %s", nl++ ? "; " : "", jstr(st, "name"), dl, ci);
	}
	d->ops->par_begin(d, NULL);
	if (l.oom)
		d->b.oom = 1;
	else if (nl)
		d_textf(d, "Losses outside noise (%s, 95%% interval): %s.", c->u.plural, l.p);
	else
		d_text(d, "No stratum shows a loss outside noise.");
	d->ops->par_end(d);
	free(l.p);
}

static void sec_recipe(doc *d, rctx *c)
{
	const cJSON *recipe = jget(c->run, "recipe");
	d->ops->heading(d, 2, "recipe", "Recipe");
	d->ops->par_begin(d, NULL);
	if (!recipe || cJSON_IsNull(recipe)) {
		/* a saved run cut down by hand, say: say so rather than fail */
		d_text(d, "(the run has no recipe)");
		d->ops->par_end(d);
		return;
	}
	d_text(d, c->words);
	d_text(d, ". As a recipe file (");
	d->ops->code(d, "precis eval --recipe FILE");
	d_text(d, "):");
	d->ops->par_end(d);
	char *j = cJSON_Print(recipe);
	if (!j) {
		d->b.oom = 1;
		return;
	}
	/* cJSON indents with tabs and puts a tab after each colon; a tab
	 * inside a string is always escaped, so every raw tab is layout */
	sbuf t = {0};
	for (const char *p = j; *p; p++)
		if (*p != '\t')
			sb_put(&t, p, 1);
		else
			sb_puts(&t, p > j && p[-1] == ':' ? " " : "  ");
	free(j);
	if (t.oom || !t.p) {
		d->b.oom = 1;
		free(t.p);
		return;
	}
	d->ops->code_block(d, "json", t.p);
	free(t.p);
}


/* "v [lo, hi]" of a language model's extra {value, ci95}, times mul. */
static void fmt_vci(char *buf, size_t len, const cJSON *o, int dp, double mul)
{
	if (!o) {
		snprintf(buf, len, "-");
		return;
	}
	double lo = ci_at(o, 0), hi = ci_at(o, 1);
	if (isnan(lo) || isnan(hi)) /* too few windows or prompts to resample */
		snprintf(buf, len, "%.*f (no interval)", dp, jnum(o, "value") * mul);
	else
		snprintf(buf, len, "%.*f [%.*f, %.*f]", dp, jnum(o, "value") * mul, dp, lo * mul, dp, hi * mul);
}

/* A language model's metrics beside bits per character, llama.cpp's
 * perplexity/KLD set, each with its window-cluster interval. */
static void lm_metrics_table(doc *d, rctx *c)
{
	const cJSON *st;
	int gen = 0;
	cJSON_ArrayForEach(st, jget(c->run, "eval.strata")) gen |= jget(jget(st, "extra"), "first_divergence") != NULL;
	d->ops->heading(d, 3, NULL, "Language-model metrics");
	d->ops->par_begin(d, NULL);
	d_text(d, "Quantized against fp32 on the same tokens, with 95% intervals from resampling whole evaluation "
		  "windows: perplexity ratio 2^(bpc delta); top-1 agreement (same greedy next token); the mean change of "
		  "the probability of the true next token (points); KL(fp32 || quantized) of the next-token "
		  "distributions in bits per token with its 99th and 99.9th percentiles");
	if (gen)
		d_text(d, "; and the mean number of greedily generated tokens before the quantized model's text first "
			  "differs from fp32's (prompts of the stratum; the interval resamples prompts)");
	d_text(d, ".");
	d->ops->par_end(d);
	table t;
	tbl_init(&t, gen ? 8 : 7);
	static const char *const heads[] = {"stratum", "ppl ratio", "top-1 agree", "Δp true (pt)", "KLD (bits)", "KLD p99",
					    "KLD p99.9", "first divergence (tokens)"};
	for (int k = 0; k < (gen ? 8 : 7); k++)
		tbl_col(&t, k, heads[k], k ? AL_RIGHT : AL_LEFT);
	cJSON_ArrayForEach(st, jget(c->run, "eval.strata"))
	{
		const cJSON *e = jget(st, "extra"), *fd = jget(e, "first_divergence");
		char v[7][96];
		fmt_vci(v[0], 96, jget(e, "ppl_ratio"), 4, 1);
		fmt_vci(v[1], 96, jget(e, "top1_agree"), 4, 1);
		fmt_vci(v[2], 96, jget(e, "dp_true"), 3, 100);
		fmt_vci(v[3], 96, jget(e, "kld"), 5, 1);
		snprintf(v[4], 96, "%.4f", jnum(e, "kld.p99"));
		snprintf(v[5], 96, "%.4f", jnum(e, "kld.p999"));
		if (fd) {
			char b[64];
			fmt_vci(b, sizeof b, fd, 1, 1);
			snprintf(v[6], 96, "%s of %.0f, %.0f prompts", b, jnum(fd, "of"), jnum(fd, "prompts"));
		} else
			snprintf(v[6], 96, "-");
		const char *cells[] = {jstr(st, "name"), v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
		tbl_row(&t, NULL, cells);
	}
	d_table(d, &t);
}

static void sec_strata(doc *d, rctx *c)
{
	d->ops->heading(d, 2, "strata", "Accuracy by stratum");
	d->ops->par_begin(d, NULL);
	d_textf(d, "Metric %s: %s (%s is better). Reference: %s, same samples, same code. Evaluation: %s. Intervals: %s; "
		   "delta and intervals in %s.",
		jstr(c->run, "metric"), jstr(c->run, "eval.metric_definition"), c->higher ? "higher" : "lower",
		jstr(c->run, "reference"), jstr(c->run, "eval.set"), jstr(c->run, "eval.ci_method"), c->u.desc);
	d->ops->par_end(d);
	table t;
	tbl_init(&t, 8);
	tbl_col(&t, 0, "stratum", AL_LEFT);
	tbl_col(&t, 1, "n", AL_RIGHT);
	tbl_col(&t, 2, "reference", AL_RIGHT);
	tbl_col(&t, 3, "quantized", AL_RIGHT);
	char hd[32], hc[48];
	snprintf(hd, sizeof hd, "delta (%s)", c->u.abbr);
	snprintf(hc, sizeof hc, "95%% interval (%s)", c->u.abbr);
	tbl_col(&t, 4, hd, AL_RIGHT);
	tbl_col(&t, 5, hc, AL_RIGHT);
	tbl_col(&t, 6, "flips", AL_RIGHT);
	tbl_col(&t, 7, "verdict", AL_LEFT);
	const cJSON *st;
	int notes = 0;
	cJSON_ArrayForEach(st, jget(c->run, "eval.strata"))
	{
		char n[32], r[32], q[32], dl[32], ci[64], f[32];
		snprintf(n, sizeof n, "%s", n0(jnum(st, "n")).s);
		fmt_val(r, sizeof r, jnum(st, "ref"), &c->u);
		fmt_val(q, sizeof q, jnum(st, "quant"), &c->u);
		fmt_pt(dl, sizeof dl, jnum(st, "delta"), &c->u);
		fmt_ci(ci, sizeof ci, ci_at(st, 0), ci_at(st, 1), &c->u);
		if (strcmp(ci, "n/a") == 0 && has_str(st, "ci_note")) {
			snprintf(ci, sizeof ci, "n/a (see note)");
			notes++;
		}
		snprintf(f, sizeof f, "%s", n0(jnum(st, "flips")).s);
		const char *cells[] = {jstr(st, "name"), n, r, q, dl, ci, f, jstr(st, "verdict")};
		tbl_row(&t, verdict_class(jstr(st, "verdict")), cells);
	}
	d_table(d, &t);
	if (notes) { /* why a stratum has no interval (a language model's too few windows) */
		d->ops->par_begin(d, "meta");
		d_text(d, notes == 1 ? "Note: no interval for" : "Note: no interval for these strata:");
		int k = 0;
		cJSON_ArrayForEach(st, jget(c->run, "eval.strata")) if ((isnan(ci_at(st, 0)) || isnan(ci_at(st, 1))) &&
									 has_str(st, "ci_note"))
		{
			d_textf(d, "%s stratum ", k++ ? ";" : "");
			d->ops->code(d, jstr(st, "name"));
			d_textf(d, ": %s", jstr(st, "ci_note"));
		}
		d_text(d, ".");
		d->ops->par_end(d);
	}
	if (d->html)
		chart_strata(d, c);
	/* secondary metrics: every {ref, quant, delta} object in extra */
	const cJSON *first = jget(stratum_all(c->run), "extra"), *m;
	const char *names[5];
	int nm = 0;
	cJSON_ArrayForEach(m, first) if (cJSON_IsObject(m) && jget(m, "ref") && nm < 5) names[nm++] = m->string;
	if (nm) {
		d->ops->heading(d, 3, NULL, "Secondary metrics");
		d->ops->par_begin(d, NULL);
		d_text(d, "Point values per stratum (no intervals), reference to quantized; delta in points");
		for (int k = 0; k < nm; k++)
			if (!metric_unit(names[k]).frac)
				d_textf(d, ", %s in %s", names[k], metric_unit(names[k]).plural);
		d_text(d, ".");
		d->ops->par_end(d);
		tbl_init(&t, 1 + 3 * nm);
		tbl_col(&t, 0, "stratum", AL_LEFT);
		char *heads[15] = {0};
		for (int k = 0; k < nm; k++) {
			heads[3 * k] = xprintf("%s ref", names[k]);
			heads[3 * k + 1] = xprintf("%s quant", names[k]);
			heads[3 * k + 2] = xprintf("%s delta", names[k]);
			for (int j = 0; j < 3; j++)
				tbl_col(&t, 1 + 3 * k + j, heads[3 * k + j] ? heads[3 * k + j] : "", AL_RIGHT);
		}
		cJSON_ArrayForEach(st, jget(c->run, "eval.strata"))
		{
			char v[15][32];
			const char *cells[16] = {jstr(st, "name")};
			for (int k = 0; k < nm; k++) {
				const cJSON *o = jget(jget(st, "extra"), names[k]);
				munit su = metric_unit(names[k]);
				su.pct = ""; /* the heads name the metric; no "%" in these cells */
				fmt_val(v[3 * k], 32, jnum(o, "ref"), &su);
				fmt_val(v[3 * k + 1], 32, jnum(o, "quant"), &su);
				fmt_pt(v[3 * k + 2], 32, jnum(o, "delta"), &su);
				for (int j = 0; j < 3; j++)
					cells[1 + 3 * k + j] = v[3 * k + j];
			}
			tbl_row(&t, NULL, cells);
		}
		d_table(d, &t);
		for (int k = 0; k < 15; k++)
			free(heads[k]);
	}
	if (jget(first, "ppl_ratio"))
		lm_metrics_table(d, c);
	double ka = jnum(first, "kernel_agreement"), kn = jnum(first, "kernel_agreement_n");
	if (!isnan(ka)) {
		d->ops->par_begin(d, NULL);
		d_textf(d, "Kernel check: the quantized kernels and the float fake-quant model of the same recipe predict the "
			   "same class on %.1f%% of the first %s samples.",
			ka * 100, n0(kn).s);
		d->ops->par_end(d);
	}
}

static void sec_throughput(doc *d, rctx *c)
{
	const cJSON *r = c->run;
	d->ops->heading(d, 2, "throughput", "Throughput and memory");
	table t;
	tbl_init(&t, 4);
	tbl_col(&t, 0, "", AL_LEFT);
	tbl_col(&t, 1, "fp32 reference", AL_RIGHT);
	tbl_col(&t, 2, "quantized", AL_RIGHT);
	tbl_col(&t, 3, "ratio", AL_RIGHT);
	char a[64], b[64], x[64], unit[64];
	snprintf(unit, sizeof unit, "throughput (%s)", *jstr(r, "throughput.unit") ? jstr(r, "throughput.unit") : "samples/s");
	/* a run made without the benchmark says "measured": false and has no numbers */
	double tr = jnum(r, "throughput.ref"), tq = jnum(r, "throughput.quant"), sp = jnum(r, "throughput.speedup");
	snprintf(a, sizeof a, isnan(tr) ? "not measured" : "%.0f", tr);
	snprintf(b, sizeof b, isnan(tq) ? "not measured" : "%.0f", tq);
	snprintf(x, sizeof x, isnan(sp) ? "n/a" : "%.2fx faster", sp);
	const char *row1[] = {unit, a, b, x};
	tbl_row(&t, NULL, row1);
	double wr = jnum(r, "memory.weight_bytes_ref"), wq = jnum(r, "memory.weight_bytes_quant");
	fmt_bytes(a, sizeof a, wr);
	fmt_bytes(b, sizeof b, wq);
	if (wq > 0)
		snprintf(x, sizeof x, "%.2fx smaller", wr / wq);
	else
		snprintf(x, sizeof x, "n/a");
	const char *row2[] = {"weight bytes", a, b, x};
	tbl_row(&t, NULL, row2);
	double kr = jnum(r, "memory.kv_bytes_ref"), kq = jnum(r, "memory.kv_bytes_quant");
	if (kr > 0 || kq > 0) {
		fmt_bytes(a, sizeof a, kr);
		fmt_bytes(b, sizeof b, kq);
		snprintf(x, sizeof x, kq > 0 ? "%.2fx smaller" : "n/a", kq > 0 ? kr / kq : 0);
		const char *row3[] = {"KV-cache bytes", a, b, x};
		tbl_row(&t, NULL, row3);
	}
	static const char *const tok[] = {"pp128", "tg128"};
	for (int k = 0; k < 2; k++) {
		const cJSON *o = jget(jget(r, "throughput"), tok[k]);
		if (!o)
			continue;
		char lab[64];
		snprintf(lab, sizeof lab, "%s at batch 1 (tokens/s)", tok[k]);
		snprintf(a, sizeof a, "%.0f", jnum(o, "ref"));
		snprintf(b, sizeof b, "%.0f", jnum(o, "quant"));
		snprintf(x, sizeof x, "%.2fx", jnum(o, "speedup"));
		const char *row[] = {lab, a, b, x};
		tbl_row(&t, NULL, row);
	}
	d_table(d, &t);
	d->ops->par_begin(d, NULL);
	{
		sbuf k = {0};
		sb_printf(&k, "Conditions: CPU %s (%s)", c->cpu, c->cpu_from_run ? "from the run" : "this machine at report time");
		if (has_str(r, "throughput.isa"))
			sb_printf(&k, ", ISA %s", jstr(r, "throughput.isa"));
		if (has_num(r, "throughput.threads"))
			sb_printf(&k, ", %.0f threads", jnum(r, "throughput.threads"));
		if (has_num(r, "throughput.batch"))
			sb_printf(&k, ", batch %.0f", jnum(r, "throughput.batch"));
		if (has_num(r, "throughput.repeats"))
			sb_printf(&k, ", median of %.0f repeats", jnum(r, "throughput.repeats"));
		sb_puts(&k, isnan(tq) ? "." : "; both paths on the same batch with the same thread count.");
		if (has_str(r, "memory.kv_storage"))
			sb_printf(&k, " KV cache (%.0f-token context): %s.", jnum(r, "memory.kv_context"), jstr(r, "memory.kv_storage"));
		if (k.oom)
			d->b.oom = 1;
		else
			d_text(d, k.p);
		free(k.p);
	}
	d->ops->par_end(d);
	if (cJSON_IsTrue(jget(r, "throughput.emulated"))) {
		d->ops->par_begin(d, "warn");
		d->ops->strong(d, "Emulated:");
		d_text(d, " some layers have no native kernel on this CPU and run through a conversion path (marked below); "
			  "their speed is not what native hardware would give.");
		d->ops->par_end(d);
	}
	const cJSON *layers = jget(r, "layers"), *l;
	if (cJSON_GetArraySize(layers) > 0) {
		d->ops->heading(d, 3, NULL, "Layers as run");
		tbl_init(&t, 6);
		tbl_col(&t, 0, "layer", AL_LEFT);
		tbl_col(&t, 1, "weights", AL_LEFT);
		tbl_col(&t, 2, "activations", AL_LEFT);
		tbl_col(&t, 3, "path", AL_LEFT);
		tbl_col(&t, 4, "emulated", AL_LEFT);
		tbl_col(&t, 5, "weight SQNR (dB)", AL_RIGHT);
		cJSON_ArrayForEach(l, layers)
		{
			char q[32];
			double s = jnum(l, "weight_sqnr_db");
			if (isnan(s))
				snprintf(q, sizeof q, "n/a");
			else if (s >= 999)
				snprintf(q, sizeof q, "exact");
			else
				snprintf(q, sizeof q, "%.2f", s);
			const char *cells[] = {jstr(l, "name"), jstr(l, "weights"), jstr(l, "acts"), jstr(l, "path"),
					       cJSON_IsTrue(jget(l, "emulated")) ? "yes" : "no", q};
			tbl_row(&t, cJSON_IsTrue(jget(l, "emulated")) ? "emul" : NULL, cells);
		}
		d_table(d, &t);
	}
	if (jget(r, "timing")) {
		d->ops->par_begin(d, NULL);
		d_textf(d, "Timing of this run: calibrate %s ms, quantize %s ms, evaluate %s ms, benchmark %s ms.",
			n0(jnum(r, "timing.calib_ms")).s, n0(jnum(r, "timing.quantize_ms")).s, n0(jnum(r, "timing.eval_ms")).s,
			n0(jnum(r, "timing.bench_ms")).s);
		d->ops->par_end(d);
	}
}

static void sec_sensitivity(doc *d, rctx *c)
{
	const cJSON *s = c->in->sensitivity, *layers = jget(s, "layers"), *l;
	if (!s)
		return;
	d->ops->heading(d, 2, "sensitivity", "Per-layer sensitivity");
	d->ops->par_begin(d, NULL);
	d_textf(d, "Each layer measured under this recipe (metric %s). ",
		*jstr(s, "metric") ? jstr(s, "metric") : jstr(c->run, "metric"));
	d_textf(d, "Delta alone: only this layer quantized; delta all-but: every layer quantized but this one (%s).",
		c->su.plural);
	if (has_num(s, "elapsed_ms"))
		d_textf(d, " Computed in %s ms.", n0(jnum(s, "elapsed_ms")).s);
	d->ops->par_end(d);
	/* only the columns some layer has */
	static const struct {
		const char *key, *head;
		int kind; /* 0 text, 1 number %.4g, 2 dB, 3 points, 4 interval, 5 ratio, 6 count */
	} cols[] = {
		{"name", "layer", 0},		 {"type", "type", 0},		  {"shape", "shape", 0},
		{"weight_absmax", "w absmax", 1},	 {"act_absmax", "act absmax", 1}, {"act_p999", "act p99.9", 1},
		{"outlier_ratio", "absmax/p99.9", 5}, {"weight_sqnr_db", "w SQNR dB", 2}, {"output_sqnr_db", "out SQNR dB", 2},
		{"delta_alone", "delta alone", 3}, {"ci95", "95% interval", 4},
		{"delta_all_but", "delta all-but", 3}, {"flips_attributed", "flips attributed", 6},
	};
	/* cols[FIRST_EFFECT..] are effects on accuracy (delta_alone onwards) */
	enum { NC = sizeof cols / sizeof *cols, FIRST_EFFECT = 9 };
	char heads[NC][48]; /* deltas and intervals name their unit */
	for (int k = 0; k < NC; k++)
		snprintf(heads[k], sizeof heads[k], cols[k].kind == 3 || cols[k].kind == 4 ? "%s (%s)" : "%s", cols[k].head,
			 c->su.abbr);
	int use[NC];
	for (int k = 0; k < NC; k++) {
		use[k] = k == 0;
		cJSON_ArrayForEach(l, layers) use[k] |= jget(l, cols[k].key) != NULL;
	}
	/* two tables, so each fits a page: what the layer holds, then what
	 * quantizing it does to accuracy */
	for (int part = 0; part < 2; part++) {
		int nuse = 0;
		for (int k = 0; k < NC; k++)
			nuse += use[k] && (k == 0 || (k >= FIRST_EFFECT) == part);
		if (nuse < 2)
			continue;
		if (part == 1)
			d->ops->heading(d, 3, NULL, "Effect on accuracy");
		else
			d->ops->heading(d, 3, NULL, "Statistics");
		table t;
		tbl_init(&t, nuse);
		for (int k = 0, j = 0; k < NC; k++)
			if (use[k] && (k == 0 || (k >= FIRST_EFFECT) == part))
				tbl_col(&t, j++, heads[k], cols[k].kind == 0 ? AL_LEFT : AL_RIGHT);
		cJSON_ArrayForEach(l, layers)
		{
			char v[NC][64];
			const char *cells[NC];
			for (int k = 0, j = 0; k < NC; k++) {
				if (!use[k] || !(k == 0 || (k >= FIRST_EFFECT) == part))
					continue;
				const cJSON *x = jget(l, cols[k].key);
				double n = cJSON_IsNumber(x) ? x->valuedouble : NAN;
				v[k][0] = 0;
				switch (cols[k].kind) {
				case 0:
					if (cJSON_IsString(x))
						snprintf(v[k], 64, "%s", x->valuestring);
					else if (cJSON_IsArray(x)) { /* a shape */
						const cJSON *e;
						size_t o = 0;
						cJSON_ArrayForEach(e, x) if (o < 64) o += (size_t)snprintf(v[k] + o, 64 - o, "%s%.0f",
													    o ? "x" : "", e->valuedouble);
					}
					break;
				case 1: snprintf(v[k], 64, isnan(n) ? "n/a" : "%.4g", n); break;
				case 2: snprintf(v[k], 64, isnan(n) ? "n/a" : n >= 999 ? "exact" : "%.2f", n); break;
				case 3: fmt_pt(v[k], 64, n, &c->su); break;
				case 4: fmt_ci(v[k], 64, ci_at(l, 0), ci_at(l, 1), &c->su); break;
				case 5: snprintf(v[k], 64, isnan(n) ? "n/a" : "%.2f", n); break;
				case 6: snprintf(v[k], 64, isnan(n) ? "n/a" : "%.0f", n); break;
				}
				cells[j++] = v[k];
			}
			tbl_row(&t, l == c->hlayer ? "sel" : NULL, cells);
		}
		d_table(d, &t);
	}
	if (d->html) {
		chart_layers(d, c);
		chart_hist(d, c);
	} else if (jget(c->hlayer, "hist")) {
		d->ops->par_begin(d, NULL);
		d_textf(d, "Histograms of layer %s%s (64 bins, log-scaled heights):", jstr(c->hlayer, "name"),
			c->hlayer_auto ? ", the most sensitive" : "");
		d->ops->par_end(d);
		d->ops->list_begin(d);
		const cJSON *h = jget(c->hlayer, "hist");
		md_spark(d, jget(h, "weights"), jget(h, "clip.weights"), "weights");
		md_spark(d, jget(h, "acts"), jget(h, "clip.acts"), "input activations");
		d->ops->list_end(d);
	}
}

/* What differs between two recipes, as "key: a -> b" strings. */
static int recipe_changes(const cJSON *a, const cJSON *b, sbuf *out)
{
	int n = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, a)
	{
		const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
		if (y && cJSON_Compare(x, y, 1))
			continue;
		char *sa = cJSON_PrintUnformatted(x), *sb2 = y ? cJSON_PrintUnformatted(y) : NULL;
		sb_printf(out, "%s%s: %s -> %s", n++ ? "; " : "", x->string, sa ? sa : "?", sb2 ? sb2 : "(absent)");
		free(sa), free(sb2);
	}
	cJSON_ArrayForEach(x, b) if (!cJSON_GetObjectItemCaseSensitive(a, x->string))
	{
		char *s = cJSON_PrintUnformatted(x);
		sb_printf(out, "%s%s: (absent) -> %s", n++ ? "; " : "", x->string, s ? s : "?");
		free(s);
	}
	return n;
}

/* Why two runs' deltas are not directly comparable, as sentences. */
static int compare_caveats(const cJSON *a, const cJSON *b, sbuf *out)
{
	static const struct {
		const char *path, *what;
	} keys[] = {{"model.sha256", "different model files"},
		    {"metric", "different metrics"},
		    {"eval.n", "different evaluation samples (eval.n)"},
		    {"eval.set", "different evaluation sets"},
		    {"calibration.seed", "different seeds"},
		    {"throughput.threads", "throughput measured with different thread counts"},
		    {"throughput.isa", "throughput measured with different kernels (ISA)"}};
	int n = 0;
	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		const cJSON *x = jget(a, keys[k].path), *y = jget(b, keys[k].path);
		if (x && y && !cJSON_Compare(x, y, 1))
			sb_printf(out, "%s%s", n++ ? "; " : "", keys[k].what);
	}
	return n;
}

static void sec_compare(doc *d, rctx *c)
{
	const cJSON *A = c->in->pinned, *B = c->run;
	if (!A)
		return;
	char wa[1024];
	recipe_words(jget(A, "recipe"), wa, sizeof wa);
	d->ops->heading(d, 2, "compare", "A/B comparison");
	d->ops->list_begin(d);
	d->ops->item_begin(d);
	d->ops->strong(d, "A (pinned):");
	d_textf(d, " %s", wa);
	d->ops->item_end(d);
	d->ops->item_begin(d);
	d->ops->strong(d, "B (this run):");
	d_textf(d, " %s", c->words);
	d->ops->item_end(d);
	sbuf s = {0};
	d->ops->item_begin(d);
	d->ops->strong(d, "Changed:");
	if (recipe_changes(jget(A, "recipe"), jget(B, "recipe"), &s) && s.p)
		d_textf(d, " %s", s.p);
	else
		d_text(d, " nothing in the recipe");
	d->ops->item_end(d);
	s.len = 0;
	if (s.p)
		s.p[0] = 0;
	if (compare_caveats(A, B, &s) && s.p) {
		d->ops->item_begin(d);
		d->ops->strong(d, "Not like for like:");
		d_textf(d, " %s.", s.p);
		d->ops->item_end(d);
	}
	if (s.oom)
		d->b.oom = 1;
	free(s.p);
	d->ops->list_end(d);
	table t;
	tbl_init(&t, 6);
	tbl_col(&t, 0, "stratum", AL_LEFT);
	/* in B's unit: A's is the same unless the metrics differ, which the
	 * caveats above say */
	char ha[32], hb[32], hx[32];
	snprintf(ha, sizeof ha, "A delta (%s)", c->u.abbr);
	snprintf(hb, sizeof hb, "B delta (%s)", c->u.abbr);
	snprintf(hx, sizeof hx, "B - A (%s)", c->u.abbr);
	tbl_col(&t, 1, ha, AL_RIGHT);
	tbl_col(&t, 2, "A 95% interval", AL_RIGHT);
	tbl_col(&t, 3, hb, AL_RIGHT);
	tbl_col(&t, 4, "B 95% interval", AL_RIGHT);
	tbl_col(&t, 5, hx, AL_RIGHT);
	const cJSON *sb_;
	cJSON_ArrayForEach(sb_, jget(B, "eval.strata"))
	{
		const cJSON *sa = stratum_named(A, jstr(sb_, "name"));
		char ad[32], ac[64], bd[32], bc[64], df[32];
		fmt_pt(ad, sizeof ad, jnum(sa, "delta"), &c->u);
		fmt_ci(ac, sizeof ac, ci_at(sa, 0), ci_at(sa, 1), &c->u);
		fmt_pt(bd, sizeof bd, jnum(sb_, "delta"), &c->u);
		fmt_ci(bc, sizeof bc, ci_at(sb_, 0), ci_at(sb_, 1), &c->u);
		fmt_pt(df, sizeof df, jnum(sb_, "delta") - jnum(sa, "delta"), &c->u);
		const char *cells[] = {jstr(sb_, "name"), ad, ac, bd, bc, df};
		tbl_row(&t, NULL, cells);
	}
	d_table(d, &t);
	tbl_init(&t, 4);
	tbl_col(&t, 0, "", AL_LEFT);
	tbl_col(&t, 1, "A", AL_RIGHT);
	tbl_col(&t, 2, "B", AL_RIGHT);
	tbl_col(&t, 3, "B / A", AL_RIGHT);
	char a[64], b[64], r[32];
	double ta = jnum(A, "throughput.quant"), tb = jnum(B, "throughput.quant");
	snprintf(a, sizeof a, "%s", n0(ta).s);
	snprintf(b, sizeof b, "%s", n0(tb).s);
	snprintf(r, sizeof r, ta > 0 && !isnan(tb) ? "%.2fx" : "n/a", ta > 0 ? tb / ta : 0);
	const char *r1[] = {"quantized throughput (samples/s)", a, b, r};
	tbl_row(&t, NULL, r1);
	ta = jnum(A, "memory.weight_bytes_quant"), tb = jnum(B, "memory.weight_bytes_quant");
	fmt_bytes(a, sizeof a, ta);
	fmt_bytes(b, sizeof b, tb);
	snprintf(r, sizeof r, ta > 0 && !isnan(tb) ? "%.2fx" : "n/a", ta > 0 ? tb / ta : 0);
	const char *r2[] = {"weight bytes", a, b, r};
	tbl_row(&t, NULL, r2);
	d_table(d, &t);
	d->ops->par_begin(d, NULL);
	d_text(d, "B - A is the difference of the two point deltas; it has no interval of its own, so read it against "
		  "each run's interval.");
	d->ops->par_end(d);
}

static void sec_history(doc *d, rctx *c)
{
	int nh = cJSON_IsArray(c->in->history) ? cJSON_GetArraySize(c->in->history) : 0, skipped = c->in->history_skipped;
	if (nh == 0 && skipped <= 0)
		return;
	d->ops->heading(d, 2, "history", "Runs this session");
	if (skipped > 0) {
		d->ops->par_begin(d, NULL);
		d_textf(d, "%d failed point%s of the history (an error, no result) %s left out.", skipped,
			skipped == 1 ? "" : "s", skipped == 1 ? "is" : "are");
		d->ops->par_end(d);
	}
	if (nh == 0)
		return;
	table t;
	tbl_init(&t, 7);
	tbl_col(&t, 0, "#", AL_RIGHT);
	tbl_col(&t, 1, "recipe", AL_LEFT);
	tbl_col(&t, 2, "samples/s", AL_RIGHT);
	tbl_col(&t, 3, "speedup", AL_RIGHT);
	char hd[32];
	snprintf(hd, sizeof hd, "delta all (%s)", c->u.abbr);
	tbl_col(&t, 4, hd, AL_RIGHT);
	tbl_col(&t, 5, "95% interval", AL_RIGHT);
	tbl_col(&t, 6, "Pareto", AL_LEFT);
	for (int i = 0; i < nh; i++) {
		const point *p = &c->pts[i];
		const cJSON *h = p->run, *all = stratum_all(h);
		char num[32], words[1024], x[32], sp[32], dl[32], ci[64];
		snprintf(num, sizeof num, "%d", i + 1);
		recipe_label(jget(h, "recipe"), words, sizeof words);
		if (p->kind == 1 || p->kind == 2) {
			size_t o = strlen(words);
			snprintf(words + o, sizeof words - o, p->kind == 1 ? " (this run)" : " (pinned as A)");
		}
		snprintf(x, sizeof x, isnan(p->x) ? "n/a" : "%.0f", p->x);
		double spv = jnum(h, "throughput.speedup");
		snprintf(sp, sizeof sp, isnan(spv) ? "n/a" : "%.2fx", spv);
		fmt_pt(dl, sizeof dl, jnum(all, "delta"), &c->u);
		fmt_ci(ci, sizeof ci, ci_at(all, 0), ci_at(all, 1), &c->u);
		const char *cells[] = {num, words, x, sp, dl, ci, p->front ? "on frontier" : ""};
		tbl_row(&t, p->kind == 1 ? "sel" : NULL, cells);
	}
	d_table(d, &t);
	if (d->html)
		chart_scatter(d, c);
	d->ops->par_begin(d, NULL);
	d_text(d, "Pareto: no other run of the session is both faster and at least as accurate on all.");
	d->ops->par_end(d);
}

static void sec_disclosure(doc *d, rctx *c)
{
	const cJSON *disc = jget(c->run, "disclosure"), *r = c->run;
	d->ops->heading(d, 2, "disclosure", "Disclosure");
	table t;
	tbl_init(&t, 4);
	tbl_col(&t, 0, "#", AL_RIGHT);
	tbl_col(&t, 1, "item", AL_LEFT);
	tbl_col(&t, 2, "status", AL_LEFT);
	tbl_col(&t, 3, "as disclosed by the run", AL_LEFT);
	/* the calibration set's own description out of the family's list */
	char calset[512] = "";
	const char *sets = jstr(r, "calibration.sets"), *name = jstr(r, "calibration.set");
	size_t nl = strlen(name);
	for (const char *p = sets; nl && *p; p++)
		if ((p == sets || (p[-1] == ' ' && p - sets >= 2 && p[-2] == ';')) && strncmp(p, name, nl) == 0 && p[nl] == ':') {
			size_t l = strcspn(p, ";");
			snprintf(calset, sizeof calset, "%.*s", (int)l, p);
			break;
		}
	for (int i = 0; i < 6; i++) {
		int present = cJSON_IsTrue(jget(disc, disc_items[i].key));
		char num[16], *v = NULL;
		snprintf(num, sizeof num, "%d", i + 1);
		switch (i) {
		case 0: v = xprintf("%s; %s", jstr(r, "model.task"), jstr(r, "eval.set")); break;
		case 1:
			v = xprintf("%s, %s, sha256 %s, %s parameters%s%s", jstr(r, "model.name"), jstr(r, "model.path"),
				    jstr(r, "model.sha256"), n0(jnum(r, "model.params")).s,
				    *jstr(r, "model.variant") ? "; variant: " : "", jstr(r, "model.variant"));
			break;
		case 2:
			v = xprintf("%s: %s; %s is better", jstr(r, "metric"), jstr(r, "eval.metric_definition"),
				    c->higher ? "higher" : "lower");
			break;
		case 3: v = xprintf("%s, same samples, same code", jstr(r, "reference")); break;
		case 4:
			v = xprintf("%s on %s, %s samples, seed %s%s%s%s", jstr(r, "recipe.calib_method"), name,
				    n0(jnum(r, "calibration.n")).s, n0(jnum(r, "calibration.seed")).s, *calset ? " (" : "", calset,
				    *calset ? ")" : "");
			if (v && cJSON_IsFalse(jget(r, "calibration.used"))) {
				char *w = xprintf("%s; not used by this recipe (no static activation ranges)", v);
				free(v);
				v = w;
			}
			break;
		case 5:
		{
			int nn = 0;
			const cJSON *st;
			cJSON_ArrayForEach(st, jget(r, "eval.strata")) nn += (isnan(ci_at(st, 0)) || isnan(ci_at(st, 1))) &&
									     has_str(st, "ci_note");
			char why[96] = "";
			if (nn)
				snprintf(why, sizeof why, "; %d without an interval, %s why (ci_note)", nn,
					 nn == 1 ? "saying" : "each saying");
			v = xprintf("%d strata with n, reference, quantized, delta, 95%% interval (table above)%s",
				    cJSON_GetArraySize(jget(r, "eval.strata")), why);
		}
			break;
		}
		const char *cells[] = {num, disc_items[i].title, present ? "present" : "MISSING", v ? v : ""};
		tbl_row(&t, present ? NULL : "loss", cells);
		if (!v)
			d->b.oom = 1;
		free(v);
	}
	d_table(d, &t);
	verdict_block(d, c, 0);
}

static void sec_reproduce(doc *d, rctx *c)
{
	d->ops->heading(d, 2, "reproduce", "Reproduction");
	d->ops->par_begin(d, NULL);
	d_textf(d, "precis %s; model sha256 %s; seed %s. This command reproduces the run (throughput depends on the "
		   "machine):",
		jstr(c->run, "precis"), jstr(c->run, "model.sha256"), n0(jnum(c->run, "calibration.seed")).s);
	d->ops->par_end(d);
	d->ops->code_block(d, "sh", c->command);
}

/* ----------------------------------------------------------------- HTML */

static const char html_css[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1d2329;"
	"max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;font-size:15px}\n"
	"h1{font-size:1.5rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccd;"
	"padding-bottom:.2rem}h3{font-size:1rem}\n"
	"table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}\n"
	"th,td{padding:.2rem .6rem;border-bottom:1px solid #dde;text-align:left;vertical-align:top;white-space:nowrap}\n"
	"td:last-child{white-space:normal}\n"
	"th{background:#f1f3f6}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.loss td{color:#b03020}tr.gain td{color:#1b7a3d}tr.noise td{color:#555}tr.sel td{font-weight:bold}"
	"tr.emul td{background:#fff6e0}\n"
	"pre{background:#f5f6f8;padding:.6rem;font-size:.85rem;white-space:pre-wrap;overflow-wrap:anywhere;"
	"tab-size:2}\n"
	"code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}\n"
	".verdict{padding:.5rem .8rem;border-left:5px solid}.verdict.good{border-color:#1b7a3d;background:#eef8f1}"
	".verdict.bad{border-color:#b03020;background:#fbefed}\n"
	".warn{border-left:5px solid #c68a00;background:#fff6e0;padding:.4rem .8rem}.meta{color:#555}\n"
	".chart{margin:.8rem 0}.chart svg{max-width:100%;height:auto}.caption{font-size:.85rem;color:#444;margin-top:.2rem}\n"
	"svg text{font-family:inherit;font-size:11px;fill:#1d2329}svg .tick{fill:#555}svg .axis{font-size:12px}"
	"svg .sel{font-weight:bold}\n"
	"svg .grid{stroke:#e3e6ea}svg .zero{stroke:#333;stroke-width:1}svg .crit{stroke:#b03020;stroke-dasharray:4 3}"
	"svg .band{fill:#f7f8fa}svg .frame{fill:none;stroke:#ccd}\n"
	"svg .ci{stroke-width:2}svg .loss{stroke:#b03020;fill:#b03020}svg .gain{stroke:#1b7a3d;fill:#1b7a3d}"
	"svg .noise{stroke:#8a939c;fill:#8a939c}\n"
	"svg .bar{fill:#7d9cc0}svg .lossbar{fill:#d0806f}svg .hbar{fill:#5d7ea8}\n"
	"svg .front{fill:none;stroke:#1b7a3d;stroke-width:1.5}svg .pt{fill:#7d9cc0;stroke:#334}"
	"svg .pt.onfront{fill:#1b7a3d}svg .pt.run{stroke:#000;stroke-width:2}svg .pt.pinned{fill:#c68a00}"
	"svg .pt.ref{fill:#fff;stroke:#333}\n"
	"@page{margin:15mm}\n"
	"@media print{body{max-width:none;margin:0;font-size:10pt;color:#000}h2{break-after:avoid}"
	"table,.chart,pre,.verdict{break-inside:avoid}th{background:none}"
	".verdict.good,.verdict.bad,.warn,tr.emul td,pre{background:none}}\n";

static void html_head(doc *d, rctx *c)
{
	sb_puts(&d->b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>");
	char t[512];
	snprintf(t, sizeof t, "precis report: %s, %s weights / %s activations", jstr(c->run, "model.name"),
		 jstr(c->run, "recipe.weights"), jstr(c->run, "recipe.acts"));
	esc_html(&d->b, t);
	sb_puts(&d->b, "</title>\n<style>\n");
	sb_puts(&d->b, html_css);
	sb_puts(&d->b, "</style>\n</head>\n<body>\n");
}

/* ----------------------------------------------------------------- JSON */

static char *render_json(rctx *c)
{
	cJSON *o = cJSON_Duplicate(c->run, 1);
	if (!o)
		return NULL;
	const eng_report_in *in = c->in;
	if (in->sensitivity)
		cJSON_AddItemToObject(o, "sensitivity", cJSON_Duplicate(in->sensitivity, 1));
	if (in->pinned) {
		cJSON *cmp = cJSON_AddObjectToObject(o, "compare");
		cJSON_AddItemToObject(cmp, "a", cJSON_Duplicate(in->pinned, 1));
		sbuf s = {0};
		recipe_changes(jget(in->pinned, "recipe"), jget(c->run, "recipe"), &s);
		cJSON_AddStringToObject(cmp, "recipe_changes", s.p ? s.p : "");
		s.len = 0;
		if (s.p)
			s.p[0] = 0;
		compare_caveats(in->pinned, c->run, &s);
		cJSON_AddStringToObject(cmp, "not_like_for_like", s.p ? s.p : "");
		free(s.p);
		cJSON *arr = cJSON_AddArrayToObject(cmp, "strata");
		const cJSON *st;
		cJSON_ArrayForEach(st, jget(c->run, "eval.strata"))
		{
			const cJSON *sa = stratum_named(in->pinned, jstr(st, "name"));
			double da = jnum(sa, "delta"), db = jnum(st, "delta");
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", jstr(st, "name"));
			if (isnan(da))
				cJSON_AddNullToObject(e, "a_delta");
			else
				cJSON_AddNumberToObject(e, "a_delta", da);
			cJSON_AddNumberToObject(e, "b_delta", db);
			if (isnan(da))
				cJSON_AddNullToObject(e, "b_minus_a");
			else
				cJSON_AddNumberToObject(e, "b_minus_a", round((db - da) * 1e6) / 1e6);
			cJSON_AddItemToArray(arr, e);
		}
		double ta = jnum(in->pinned, "throughput.quant"), tb = jnum(c->run, "throughput.quant");
		if (ta > 0 && !isnan(tb))
			cJSON_AddNumberToObject(cmp, "throughput_b_over_a", round(tb / ta * 1000) / 1000);
	}
	if (cJSON_IsArray(in->history)) {
		cJSON_AddItemToObject(o, "history", cJSON_Duplicate(in->history, 1));
	}
	cJSON *rep = cJSON_AddObjectToObject(o, "report");
	cJSON_AddStringToObject(rep, "command", c->command);
	cJSON_AddStringToObject(rep, "cpu", c->cpu);
	cJSON_AddStringToObject(rep, "cpu_source", c->cpu_from_run ? "run" : "this machine at report time");
	if (in->date)
		cJSON_AddStringToObject(rep, "date", in->date);
	if (c->hlayer)
		cJSON_AddStringToObject(rep, "histogram_layer", jstr(c->hlayer, "name"));
	if (cJSON_IsArray(in->history)) {
		cJSON *f = cJSON_AddArrayToObject(rep, "history_on_frontier");
		int nh = cJSON_GetArraySize(in->history);
		for (int i = 0; i < nh; i++)
			cJSON_AddItemToArray(f, cJSON_CreateBool(c->hist_front[i]));
	}
	if (in->history_skipped > 0)
		cJSON_AddNumberToObject(rep, "history_failed_skipped", in->history_skipped);
	cJSON_AddBoolToObject(rep, "run_on_frontier", c->run_front);
	char *txt = cJSON_Print(o);
	cJSON_Delete(o);
	if (!txt)
		return NULL;
	size_t l = strlen(txt);
	char *t2 = realloc(txt, l + 2);
	if (!t2) {
		free(txt);
		return NULL;
	}
	t2[l] = '\n', t2[l + 1] = 0;
	return t2;
}

/* --------------------------------------------------------------- public */

int eng_report_format_parse(const char *name_or_path, eng_report_fmt *fmt, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		eng_report_fmt fmt;
	} names[] = {{"md", ENG_REPORT_MD},	{"markdown", ENG_REPORT_MD}, {"html", ENG_REPORT_HTML},
		     {"htm", ENG_REPORT_HTML}, {"json", ENG_REPORT_JSON}};
	const char *s = name_or_path ? name_or_path : "";
	if (!strchr(s, '.') && !strchr(s, '/')) {
		for (size_t i = 0; i < sizeof names / sizeof *names; i++)
			if (strcmp(s, names[i].name) == 0) {
				*fmt = names[i].fmt;
				return 0;
			}
		snprintf(err, errlen, "'%s' is not a report format (md, html, json) nor a file name with an extension "
			 "(.md, .html, .json)", s);
		return -1;
	}
	const char *slash = strrchr(s, '/'), *base = slash ? slash + 1 : s, *dot = strrchr(base, '.');
	if (!dot || dot == base) {
		snprintf(err, errlen, "%s: cannot tell the report format from the file name (use .md, .html or .json)", s);
		return -1;
	}
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcasecmp(dot + 1, names[i].name) == 0) {
			*fmt = names[i].fmt;
			return 0;
		}
	snprintf(err, errlen, "%s: extension '%s' is not .md, .html or .json", s, dot);
	return -1;
}

const char *eng_report_format_name(eng_report_fmt fmt)
{
	return fmt == ENG_REPORT_HTML ? "html" : fmt == ENG_REPORT_JSON ? "json" : "md";
}

int eng_report_render(const eng_report_in *in, eng_report_fmt fmt, char **out, size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	rctx c;
	if (ctx_init(&c, in, err, errlen))
		return -1;
	if (fmt == ENG_REPORT_JSON) {
		*out = render_json(&c);
		ctx_done(&c);
		if (!*out) {
			snprintf(err, errlen, "out of memory while rendering the report");
			return -1;
		}
		*len = strlen(*out);
		return 0;
	}
	doc d = {{0}, fmt == ENG_REPORT_HTML ? &html_ops : &md_ops, fmt == ENG_REPORT_HTML};
	if (d.html)
		html_head(&d, &c);
	sec_title(&d, &c);
	sec_summary(&d, &c);
	sec_recipe(&d, &c);
	sec_strata(&d, &c);
	sec_throughput(&d, &c);
	sec_sensitivity(&d, &c);
	sec_compare(&d, &c);
	sec_history(&d, &c);
	sec_disclosure(&d, &c);
	sec_reproduce(&d, &c);
	if (d.html)
		sb_puts(&d.b, "</body>\n</html>\n");
	ctx_done(&c);
	if (d.b.oom || !d.b.p) {
		free(d.b.p);
		snprintf(err, errlen, "out of memory while rendering the report");
		return -1;
	}
	/* Markdown ends with exactly one newline */
	while (!d.html && d.b.len > 1 && d.b.p[d.b.len - 1] == '\n' && d.b.p[d.b.len - 2] == '\n')
		d.b.p[--d.b.len] = 0;
	*out = d.b.p;
	*len = d.b.len;
	return 0;
}

int eng_report_write(const eng_report_in *in, eng_report_fmt fmt, const char *path, int force, char *err,
		     size_t errlen)
{
	char *buf;
	size_t len;
	if (eng_report_render(in, fmt, &buf, &len, err, errlen))
		return -1;
	int rc = eng_file_write_atomic(path, buf, len, force, err, errlen);
	free(buf);
	return rc;
}
