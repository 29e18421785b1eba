/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tui_draw.c - drawing the explorer's screens from the engine's result
 * objects: the strata table (alone or A vs B), the throughput panel with
 * the session's throughput x accuracy scatter, the layers table and one
 * layer's histograms, the status line and the function-key bar.
 *
 * DESIGN: drawing reads ui_state and the cJSON results and never changes
 * them.  Tables are column tables: a column says what its cell prints,
 * how it sorts and how soon it is dropped when the terminal is narrow
 * (prio 0 always stays).  Every meaning carried by colour is also in the
 * text (the verdict column, the interval bar's characters, plot glyphs),
 * so NO_COLOR and monochrome terminals lose nothing.  UI thread only.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plot.h"
#include "tui.h"

void tui_put(int y, int x, int maxw, attr_t a, const char *s)
{
	if (maxw <= 0 || y < 0 || y >= LINES || x >= COLS)
		return;
	if (x + maxw > COLS)
		maxw = COLS - x;
	attron(a);
	mvaddnstr(y, x, s, maxw);
	attroff(a);
}

/* Like tui_put for UTF-8 text: maxw counts cells, not bytes (multi-byte
 * glyphs of the plots and bars are one cell each). */
static void put_u8(int y, int x, int maxw, attr_t a, const char *s)
{
	size_t bytes = 0;
	for (int cells = 0; s[bytes] && cells < maxw; cells++) {
		bytes++;
		while ((s[bytes] & 0xC0) == 0x80)
			bytes++;
	}
	if (y < 0 || y >= LINES || x >= COLS)
		return;
	attron(a);
	mvaddnstr(y, x, s, (int)bytes);
	attroff(a);
}

static attr_t verdict_attr(const ui_state *u, const char *v)
{
	if (!u->color)
		return strcmp(v, "loss") == 0 ? A_BOLD : A_NORMAL;
	if (strcmp(v, "loss") == 0)
		return COLOR_PAIR(PAIR_LOSS) | A_BOLD;
	if (strcmp(v, "gain") == 0)
		return COLOR_PAIR(PAIR_GAIN) | A_BOLD;
	return A_DIM; /* "within noise", and a language model's "too few windows" (no interval) */
}

/* ------------------------------------------------------------ strata table */

typedef struct {
	const ui_state *u;
	const char *unit; /* "%" for fractions shown as points, "" otherwise */
	double mul;       /* 100: fractions as points; 1: bits per character as they are */
	double scale;     /* half-width of the interval bars, in the metric's units */
} cell_ctx;

/* A cell of stratum st (this run, B) and a (the pinned run's stratum of the
 * same name, A; NULL when none). */
typedef void (*cell_fn)(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l);

typedef struct {
	const char *head;
	int width, prio, right; /* prio 0 always shown; higher dropped first */
} col_head;

typedef struct {
	col_head h;
	cell_fn cell;
	/* sort key; NULL: sort by the cell's text */
	double (*key)(const cJSON *st, const cJSON *a);
	/* the head when the metric is bpc (cells in bits, not points); NULL: h.head */
	const char *bits_head;
} ui_col;


/* Fractions are shown in points; bits per character as they are. */
static double metric_mul(const cJSON *run) { return strcmp(eng_json_str(run, "metric"), "bpc") == 0 ? 1 : 100; }

static void fmt_pts(char *b, size_t l, double v, double mul, const char *fmt)
{
	if (isnan(v))
		snprintf(b, l, "-");
	else
		snprintf(b, l, fmt, v * mul);
}

static double ci_lo(const cJSON *st)
{
	const cJSON *lo = cJSON_GetArrayItem(eng_json_get(st, "ci95"), 0);
	return cJSON_IsNumber(lo) ? lo->valuedouble : NAN;
}

static double ci_hi(const cJSON *st)
{
	const cJSON *hi = cJSON_GetArrayItem(eng_json_get(st, "ci95"), 1);
	return cJSON_IsNumber(hi) ? hi->valuedouble : NAN;
}

static void c_name(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)x, (void)a; snprintf(b, l, "%s", eng_json_str(st, "name")); }
static void c_n(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)x, (void)a; snprintf(b, l, "%.0f", eng_json_num(st, "n")); }
static void value_cell(const cell_ctx *x, double v, char *b, size_t l)
{
	fmt_pts(b, l, v, x->mul, x->mul == 1 ? "%.4f" : "%.2f");
	if (!isnan(v))
		strncat(b, x->unit, l - strlen(b) - 1);
}

static void c_ref(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)a; value_cell(x, eng_json_num(st, "ref"), b, l); }
static void c_quant(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)a; value_cell(x, eng_json_num(st, "quant"), b, l); }
static void c_delta(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)a; fmt_pts(b, l, eng_json_num(st, "delta"), x->mul, x->mul == 1 ? "%+.4f" : "%+.2f"); }
static void c_flips(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)x, (void)a; snprintf(b, l, "%.0f", eng_json_num(st, "flips")); }
static void c_verdict(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)x, (void)a; snprintf(b, l, "%s", eng_json_str(st, "verdict")); }

static void ci_text(const cJSON *st, double mul, char *b, size_t l)
{
	double lo = ci_lo(st), hi = ci_hi(st);
	if (isnan(lo) || isnan(hi))
		snprintf(b, l, "-");
	else if (mul == 1)
		snprintf(b, l, "[%+.4f,%+.4f]", lo, hi);
	else
		snprintf(b, l, "[%+.2f,%+.2f]", lo * mul, hi * mul);
}

static void c_ci(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)a; ci_text(st, x->mul, b, l); }

/* The interval as a bar on a scale shared by every row, centred on zero:
 * '-' the interval, '|' zero, 'o' the delta ('+' where zero falls inside
 * the interval), so the picture survives without colour. */
static void bar(const cell_ctx *x, const cJSON *st, char *b, size_t l, int w)
{
	double lo = ci_lo(st), hi = ci_hi(st), d = eng_json_num(st, "delta");
	if ((size_t)w >= l)
		w = (int)l - 1;
	if (!st || isnan(lo) || isnan(hi) || isnan(d) || !(x->scale > 0)) {
		snprintf(b, l, "%*s", w, "");
		return;
	}
	int mid = w / 2;
	double per = x->scale / mid;
#define POS(v) (int)fmin(w - 1, fmax(0, lround((v) / per) + mid))
	int plo = POS(lo), phi = POS(hi), pd = POS(d);
#undef POS
	/* rounding must not put a one-sided interval (or a non-zero delta)
	 * on the zero column: the picture has to say what the numbers say */
	if (hi < 0 && phi >= mid)
		phi = mid - 1;
	if (lo > 0 && plo <= mid)
		plo = mid + 1;
	if (plo > phi)
		plo = phi;
	if (d < 0 && pd >= mid)
		pd = mid - 1;
	if (d > 0 && pd <= mid)
		pd = mid + 1;
	for (int i = 0; i < w; i++)
		b[i] = i >= plo && i <= phi ? '-' : ' ';
	b[mid] = lo <= 0 && hi >= 0 ? '+' : '|';
	b[pd] = 'o';
	b[w] = 0;
}

static void c_bar(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)a; bar(x, st, b, l, 11); }
static void c_abar(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)st; bar(x, a, b, l, 11); }

static void c_adelta(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)st; fmt_pts(b, l, a ? eng_json_num(a, "delta") : NAN, x->mul, x->mul == 1 ? "%+.4f" : "%+.2f"); }
static void c_aci(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l) { (void)st; if (a) ci_text(a, x->mul, b, l); else snprintf(b, l, "-"); }

static void c_diff(const cell_ctx *x, const cJSON *st, const cJSON *a, char *b, size_t l)
{
	fmt_pts(b, l, a ? eng_json_num(st, "delta") - eng_json_num(a, "delta") : NAN, x->mul, x->mul == 1 ? "%+.4f" : "%+.2f");
}

static double k_n(const cJSON *st, const cJSON *a) { (void)a; return eng_json_num(st, "n"); }
static double k_ref(const cJSON *st, const cJSON *a) { (void)a; return eng_json_num(st, "ref"); }
static double k_quant(const cJSON *st, const cJSON *a) { (void)a; return eng_json_num(st, "quant"); }
static double k_delta(const cJSON *st, const cJSON *a) { (void)a; return eng_json_num(st, "delta"); }
static double k_lo(const cJSON *st, const cJSON *a) { (void)a; return ci_lo(st); }
static double k_flips(const cJSON *st, const cJSON *a) { (void)a; return eng_json_num(st, "flips"); }
static double k_adelta(const cJSON *st, const cJSON *a) { (void)st; return a ? eng_json_num(a, "delta") : NAN; }
static double k_alo(const cJSON *st, const cJSON *a) { (void)st; return a ? ci_lo(a) : NAN; }
static double k_diff(const cJSON *st, const cJSON *a) { return a ? eng_json_num(st, "delta") - eng_json_num(a, "delta") : NAN; }

static const ui_col cols[] = {
	{{"stratum", 13, 0, 0}, c_name, NULL, NULL},     {{"n", 6, 4, 1}, c_n, k_n, NULL},
	{{"ref", 8, 3, 1}, c_ref, k_ref, NULL},          {{"quant", 8, 0, 1}, c_quant, k_quant, NULL},
	{{"delta pt", 8, 0, 1}, c_delta, k_delta, "delta"}, {{"95% CI (pt)", 15, 1, 0}, c_ci, k_lo, "95% CI (bits)"},
	{{"interval", 11, 2, 0}, c_bar, k_lo, NULL},     {{"flips", 5, 5, 1}, c_flips, k_flips, NULL},
	{{"verdict", 12, 0, 0}, c_verdict, NULL, NULL},
};

/* A vs B: A is the pinned run, B the one on screen. */
static const ui_col ccols[] = {
	{{"stratum", 13, 0, 0}, c_name, NULL, NULL},      {{"n", 6, 5, 1}, c_n, k_n, NULL},
	{{"A delta", 8, 0, 1}, c_adelta, k_adelta, NULL}, {{"A 95% CI", 15, 2, 0}, c_aci, k_alo, NULL},
	{{"A interval", 11, 4, 0}, c_abar, k_alo, NULL},  {{"B delta", 8, 0, 1}, c_delta, k_delta, NULL},
	{{"B 95% CI", 15, 1, 0}, c_ci, k_lo, NULL},       {{"B interval", 11, 3, 0}, c_bar, k_lo, NULL},
	{{"B-A pt", 7, 0, 1}, c_diff, k_diff, "B-A"}, {{"B verdict", 12, 0, 0}, c_verdict, NULL, NULL},
};

#define NELEM(a) (int)(sizeof(a) / sizeof *(a))

static const ui_col *strata_cols(const ui_state *u, int *n)
{
	*n = u->pinned ? NELEM(ccols) : NELEM(cols);
	return u->pinned ? ccols : cols;
}

int tui_strata_ncols(const ui_state *u)
{
	int n;
	strata_cols(u, &n);
	return n;
}

/* Column c's head in the unit of the run on screen. */
static const char *col_head_for(const ui_col *col, const cJSON *run)
{
	return col->bits_head && metric_mul(run) == 1 ? col->bits_head : col->h.head;
}

const char *tui_strata_colname(const ui_state *u, int c)
{
	int n;
	const ui_col *t = strata_cols(u, &n);
	return c >= 0 && c < n ? col_head_for(&t[c], u->result) : "";
}

static const cJSON *stratum_named(const cJSON *run, const char *name)
{
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(run, "eval.strata"))
	if (strcmp(eng_json_str(st, "name"), name) == 0)
		return st;
	return NULL;
}

/* The head of every column table's entry, so one fitter and one header
 * painter serve the strata and the layers tables. */
#define COL_HEAD(t, stride, c) ((const col_head *)((const char *)(t) + (size_t)(c) * (stride)))

/* Chooses which columns fit in w (lowest prio first). */
static void fit_columns(const void *t, size_t stride, int n, int w, int *show)
{
	int used = 0;
	for (int c = 0; c < n; c++)
		show[c] = 0;
	for (int p = 0; p <= 9; p++)
		for (int c = 0; c < n; c++)
			if (COL_HEAD(t, stride, c)->prio == p && used + COL_HEAD(t, stride, c)->width + 1 <= w) {
				show[c] = 1;
				used += COL_HEAD(t, stride, c)->width + 1;
			}
}

static void header(const void *t, size_t stride, int n, const int *show, int sort, int desc, int y, int x, int ascii)
{
	char line[128];
	for (int c = 0; c < n; c++) {
		if (!show[c])
			continue;
		const col_head *h = COL_HEAD(t, stride, c);
		char s[64];
		snprintf(s, sizeof s, "%s%s", h->head, c == sort ? (desc ? (ascii ? "v" : "\xe2\x96\xbc") : (ascii ? "^" : "\xe2\x96\xb2")) : "");
		int extra = c == sort && !ascii ? 2 : 0; /* the arrow is 3 bytes, 1 cell */
		snprintf(line, sizeof line, h->right ? "%*s" : "%-*s", h->width + extra, s);
		put_u8(y, x, h->width, A_BOLD | A_UNDERLINE, line);
		x += h->width + 1;
	}
}

typedef struct {
	const cJSON *st, *a;
	const ui_col *col;
	const cell_ctx *x;
	int desc;
} sort_row;

static int cmp_rows(const void *pa, const void *pb)
{
	const sort_row *ra = pa, *rb = pb;
	int r;
	if (ra->col->key) {
		double ka = ra->col->key(ra->st, ra->a), kb = rb->col->key(rb->st, rb->a);
		if (isnan(ka) || isnan(kb))
			return isnan(ka) - isnan(kb); /* unknowns last either way */
		r = (ka > kb) - (ka < kb);
	} else {
		char ba[128], bb[128];
		ra->col->cell(ra->x, ra->st, ra->a, ba, sizeof ba);
		rb->col->cell(rb->x, rb->st, rb->a, bb, sizeof bb);
		r = strcmp(ba, bb);
	}
	return ra->desc ? -r : r;
}

/* Returns the next free row. */
static int draw_strata(const ui_state *u, int y, int x, int w, int ymax)
{
	const cJSON *r = u->result;
	char desc[512], now_desc[512], line[1300];
	eng_recipe_describe(&u->shown.recipe, desc, sizeof desc);
	eng_recipe_describe(&u->recipe, now_desc, sizeof now_desc);
	snprintf(line, sizeof line, "%sresult of run #%u (seed %llu, %.1f s)%s", u->pinned ? "B: " : "", u->runs_done,
		 (unsigned long long)u->shown.seed, u->shown.secs,
		 strcmp(desc, now_desc) != 0 || u->shown.seed != u->seed ? "  [recipe changed since]" : "");
	tui_put(y++, x, w, A_BOLD, line);
	tui_put(y++, x, w, A_NORMAL, desc);
	if (u->pinned) {
		eng_recipe ra;
		char da[512] = "?", e[256];
		eng_recipe_default(&ra); /* from_json sets only the keys the run has */
		if (eng_recipe_from_json(&ra, eng_json_get(u->pinned, "recipe"), "pinned run", e, sizeof e) == 0)
			eng_recipe_describe(&ra, da, sizeof da);
		snprintf(line, sizeof line, "A (pinned, run #%u; P unpins): %s", u->pinned_run, da);
		tui_put(y++, x, w, u->color ? COLOR_PAIR(PAIR_PIN) : A_UNDERLINE, line);
	}
	y++;

	int n;
	const ui_col *t0 = strata_cols(u, &n);
	ui_col t[16]; /* the table's columns, widened below to what the cells need */
	memcpy(t, t0, (size_t)n * sizeof *t);
	for (int c = 0; c < n; c++)
		t[c].h.head = col_head_for(&t[c], r);
	int show[16];
	double mul = metric_mul(r);
	cell_ctx cx = {u, mul == 100 && strcmp(eng_json_str(r, "metric"), "ece") != 0 ? "%" : "", mul, 0};
	if (mul == 1)
		tui_put(y - 1, x, w, A_DIM, "bits per character: values and deltas in bits (not points); lower is better");
	const cJSON *strata = eng_json_get(r, "eval.strata");
	int ns = cJSON_GetArraySize(strata);
	sort_row *rows = calloc(ns > 0 ? (size_t)ns : 1, sizeof *rows);
	if (!rows)
		return y;
	int k = 0;
	const cJSON *st;
	cJSON_ArrayForEach(st, strata)
	{
		const cJSON *a = u->pinned ? stratum_named(u->pinned, eng_json_str(st, "name")) : NULL;
		double m = fmax(fmax(fabs(ci_lo(st)), fabs(ci_hi(st))), fabs(eng_json_num(st, "delta")));
		if (a)
			m = fmax(m, fmax(fmax(fabs(ci_lo(a)), fabs(ci_hi(a))), fabs(eng_json_num(a, "delta"))));
		if (!isnan(m) && m > cx.scale)
			cx.scale = m;
		rows[k++] = (sort_row){st, a, &t[u->sort_col >= 0 && u->sort_col < n ? u->sort_col : 0], &cx, u->sort_desc};
	}
	/* `all` stays on top; the rest sort by the chosen column */
	if (u->sort_col >= 0 && k > 1)
		qsort(rows + 1, (size_t)k - 1, sizeof *rows, cmp_rows);
	/* a column is as wide as its widest cell (bits need more digits than
	 * points), at most 6 more than the table says */
	for (int c = 0; c < n; c++)
		for (int i = 0; i < k; i++) {
			char cell[128];
			t[c].cell(&cx, rows[i].st, rows[i].a, cell, sizeof cell);
			int len = (int)strlen(cell);
			if (len > t[c].h.width && t[c].cell != c_bar && t[c].cell != c_abar)
				t[c].h.width = len < t0[c].h.width + 6 ? len : t0[c].h.width + 6;
		}
	fit_columns(t, sizeof *t, n, w, show);

	header(t, sizeof *t, n, show, u->sort_col, u->sort_desc, y++, x, u->ascii);
	for (int i = 0; i < k && y < ymax; i++, y++) {
		attr_t at = verdict_attr(u, eng_json_str(rows[i].st, "verdict"));
		int cxp = x;
		for (int c = 0; c < n; c++) {
			if (!show[c])
				continue;
			char cell[128];
			t[c].cell(&cx, rows[i].st, rows[i].a, cell, sizeof cell);
			snprintf(line, sizeof line, t[c].h.right ? "%*s" : "%-*s", t[c].h.width, cell);
			tui_put(y, cxp, t[c].h.width, at, line);
			cxp += t[c].h.width + 1;
		}
	}
	int bars = 0;
	for (int c = 0; c < n; c++)
		bars |= show[c] && (t[c].cell == c_bar || t[c].cell == c_abar);
	if (bars && k > 0 && cx.scale > 0 && y < ymax) {
		snprintf(line, sizeof line, "interval bars: +-%.*f %s full scale; '|' zero, 'o' delta, '-' 95%% interval",
			 mul == 1 ? 4 : 2, cx.scale * mul, mul == 1 ? "bits" : "pt");
		tui_put(y++, x, w, A_DIM, line);
	}
	free(rows);
	return y;
}

/* ------------------------------------------------------ throughput, scatter */

static int draw_throughput(const ui_state *u, int y, int x, int w)
{
	const cJSON *r = u->result;
	char line[512];
	const char *unit = eng_json_str(r, "throughput.unit");
	snprintf(line, sizeof line, "throughput: fp32 %.0f %s, quantized %.0f %s, speedup %.2fx",
		 eng_json_num(r, "throughput.ref"), unit, eng_json_num(r, "throughput.quant"), unit,
		 eng_json_num(r, "throughput.speedup"));
	tui_put(y++, x, w, A_BOLD, line);
	snprintf(line, sizeof line, "weights %.0f -> %.0f bytes, isa %s, %.0f threads, batch %.0f",
		 eng_json_num(r, "memory.weight_bytes_ref"), eng_json_num(r, "memory.weight_bytes_quant"),
		 eng_json_str(r, "throughput.isa"), eng_json_num(r, "throughput.threads"), eng_json_num(r, "throughput.batch"));
	tui_put(y++, x, w, A_NORMAL, line);
	if (eng_json_get(r, "throughput.pp128")) {
		snprintf(line, sizeof line, "batch 1: pp128 %.0f -> %.0f tokens/s (%.2fx), tg128 %.0f -> %.0f (%.2fx)",
			 eng_json_num(r, "throughput.pp128.ref"), eng_json_num(r, "throughput.pp128.quant"),
			 eng_json_num(r, "throughput.pp128.speedup"), eng_json_num(r, "throughput.tg128.ref"),
			 eng_json_num(r, "throughput.tg128.quant"), eng_json_num(r, "throughput.tg128.speedup"));
		tui_put(y++, x, w, A_NORMAL, line);
	}
	if (eng_json_get(r, "memory.kv_bytes_per_token_ref")) {
		snprintf(line, sizeof line, "KV cache %.0f -> %.0f bytes/token%s", eng_json_num(r, "memory.kv_bytes_per_token_ref"),
			 eng_json_num(r, "memory.kv_bytes_per_token_quant"),
			 strcmp(eng_json_str(r, "memory.kv_storage"), "fp32") ? " (rounded, held in fp32: bytes of packed storage)" : "");
		tui_put(y++, x, w, A_NORMAL, line);
	}
	const cJSON *all = cJSON_GetArrayItem(eng_json_get(r, "eval.strata"), 0);
	if (eng_json_get(all, "extra.kld")) {
		snprintf(line, sizeof line, "all: ppl ratio %.4f [%.4f, %.4f], KLD %.5f bits/token (p99.9 %.4f), top-1 agree %.4f",
			 eng_json_num(all, "extra.ppl_ratio.value"), eng_json_num(all, "extra.ppl_ratio.ci95.0"),
			 eng_json_num(all, "extra.ppl_ratio.ci95.1"), eng_json_num(all, "extra.kld.value"),
			 eng_json_num(all, "extra.kld.p999"), eng_json_num(all, "extra.top1_agree.value"));
		tui_put(y++, x, w, A_NORMAL, line);
	}
	if (eng_json_get(all, "extra.first_divergence")) {
		snprintf(line, sizeof line, "greedy generation: first differs after %.1f [%.1f, %.1f] of %.0f tokens (%.0f prompts, %.0f identical)",
			 eng_json_num(all, "extra.first_divergence.value"), eng_json_num(all, "extra.first_divergence.ci95.0"),
			 eng_json_num(all, "extra.first_divergence.ci95.1"), eng_json_num(all, "extra.first_divergence.of"),
			 eng_json_num(all, "extra.first_divergence.prompts"), eng_json_num(all, "extra.first_divergence.identical"));
		tui_put(y++, x, w, A_NORMAL, line);
	}
	if (cJSON_IsTrue(eng_json_get(r, "throughput.emulated")))
		tui_put(y++, x, w, u->color ? COLOR_PAIR(PAIR_LOSS) | A_BOLD : A_BOLD,
			"EMULATED: some layers run through a conversion path, not native kernels");
	return y;
}

/* The session's runs: x = quantized throughput, y = delta on `all` in
 * points; the fp32 reference is the point (ref throughput, 0). */
static void draw_scatter(const ui_state *u, int y, int x, int w, int h)
{
	int n = cJSON_GetArraySize(u->history);
	if (h < 6 || w < 30 || n < 1)
		return;
	ui_plot_pt *p = calloc((size_t)n + 1, sizeof *p);
	double *px = calloc((size_t)n + 1, sizeof *px), *py = calloc((size_t)n + 1, sizeof *py);
	int *front = calloc((size_t)n + 1, sizeof *front);
	if (!p || !px || !py || !front)
		goto out;
	int k = 0;
	const cJSON *run;
	cJSON_ArrayForEach(run, u->history)
	{
		px[k] = eng_json_num(run, "throughput.quant");
		py[k] = metric_mul(u->result) * eng_json_num(cJSON_GetArrayItem(eng_json_get(run, "eval.strata"), 0), "delta");
		k++;
	}
	/* the frontier is over the runs (as in the reports), with "better"
	 * meaning a smaller delta when the metric is lower-is-better */
	int up = !cJSON_IsFalse(eng_json_get(u->result, "eval.higher_is_better"));
	for (int i = 0; i < k; i++)
		py[i] = up ? py[i] : -py[i];
	eng_pareto(px, py, k, front);
	for (int i = 0; i < k; i++)
		py[i] = up ? py[i] : -py[i];
	px[k] = eng_json_num(u->result, "throughput.ref");
	py[k] = 0;
	front[k] = 0;
	for (int i = 0; i <= k; i++) {
		const cJSON *ri = i < k ? cJSON_GetArrayItem(u->history, i) : NULL;
		int mark = front[i] ? UI_PLOT_FRONTIER : UI_PLOT_NORMAL;
		if (ri && u->pinned && eng_json_num(ri, "run") == u->pinned_run)
			mark = UI_PLOT_PINNED;
		if (i == k - 1)
			mark = UI_PLOT_CURRENT;
		p[i] = (ui_plot_pt){px[i], py[i], mark};
	}
	char title[256];
	snprintf(title, sizeof title, "session: %d run%s + fp32 (delta 0); delta 'all' %s vs %s; %s frontier, @ this, P pinned",
		 k, k == 1 ? "" : "s", metric_mul(u->result) == 1 ? "bits" : "pt", eng_json_str(u->result, "throughput.unit"),
		 u->ascii ? "*" : "\xe2\x97\x86");
	tui_put(y++, x, w, A_BOLD, title);
	h--;
	int lw = 9; /* y-axis labels */
	ui_plot plot;
	if (ui_plot_render(&plot, p, k + 1, w - lw, h - 1, u->ascii) == 0) {
		for (int row = 0; row < plot.h; row++) {
			char lab[32] = "";
			if (row == 0)
				snprintf(lab, sizeof lab, "%+8.2f", plot.ymax);
			else if (row == plot.h - 1)
				snprintf(lab, sizeof lab, "%+8.2f", plot.ymin);
			tui_put(y + row, x, lw, A_DIM, lab);
			for (int c = 0; c < plot.w; c++) {
				const ui_plot_cell *cell = &plot.cells[row * plot.w + c];
				attr_t a = A_NORMAL;
				if (u->color && cell->mark == UI_PLOT_FRONTIER)
					a = COLOR_PAIR(PAIR_GAIN) | A_BOLD;
				else if (cell->mark == UI_PLOT_CURRENT)
					a = A_BOLD | A_REVERSE;
				else if (u->color && cell->mark == UI_PLOT_PINNED)
					a = COLOR_PAIR(PAIR_PIN) | A_BOLD;
				put_u8(y + row, x + lw + c, 1, a, cell->glyph);
			}
		}
		char axis[128];
		snprintf(axis, sizeof axis, "%.0f", plot.xmin);
		tui_put(y + plot.h, x + lw, w - lw, A_DIM, axis);
		snprintf(axis, sizeof axis, "%.0f %s", plot.xmax, eng_json_str(u->result, "throughput.unit"));
		int ax = x + w - (int)strlen(axis);
		tui_put(y + plot.h, ax > x + lw + 8 ? ax : x + lw + 8, w, A_DIM, axis);
		ui_plot_free(&plot);
	}
out:
	free(p);
	free(px);
	free(py);
	free(front);
}

/* ------------------------------------------------------------- layers */

/* One row of the layers table: the result's layer object merged with the
 * sensitivity's (NULL until computed for this recipe). */
typedef struct {
	const cJSON *l, *s;
	double mul; /* deltas: 100 (points) or 1 (bits, for bpc) */
} layer_row;

typedef void (*lcell_fn)(const layer_row *r, char *b, size_t l);

typedef struct {
	col_head h;
	lcell_fn cell;
	double (*key)(const layer_row *r);
} ui_lcol;

static double lnum(const layer_row *r, const char *k)
{
	double v = r->s ? eng_json_num(r->s, k) : NAN;
	return isnan(v) ? eng_json_num(r->l, k) : v;
}

static void num_cell(char *b, size_t l, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(b, l, "-");
	else
		snprintf(b, l, fmt, v);
}

static void lc_name(const layer_row *r, char *b, size_t l) { snprintf(b, l, "%s", eng_json_str(r->l, "name")); }
static void lc_type(const layer_row *r, char *b, size_t l) { snprintf(b, l, "%s", r->s ? eng_json_str(r->s, "type") : "-"); }
static void lc_prec(const layer_row *r, char *b, size_t l) { snprintf(b, l, "%s/%s", eng_json_str(r->l, "weights"), eng_json_str(r->l, "acts")); }
static void lc_wsqnr(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "weight_sqnr_db"), "%.1f"); }
static void lc_osqnr(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "output_sqnr_db"), "%.1f"); }
static void lc_wmax(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "weight_absmax"), "%.3g"); }
static void lc_outl(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "outlier_ratio"), "%.2f"); }
static void lc_alone(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "delta_alone") * r->mul, r->mul == 1 ? "%+.4f" : "%+.2f"); }
static void lc_allbut(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "delta_all_but") * r->mul, r->mul == 1 ? "%+.4f" : "%+.2f"); }
static void lc_flips(const layer_row *r, char *b, size_t l) { num_cell(b, l, lnum(r, "flips_attributed"), "%.0f"); }

static void lc_shape(const layer_row *r, char *b, size_t l)
{
	const cJSON *d, *shape = r->s ? eng_json_get(r->s, "shape") : NULL;
	size_t n = 0;
	b[0] = 0;
	cJSON_ArrayForEach(d, shape)
	n += (size_t)snprintf(b + n, n < l ? l - n : 0, "%s%d", n ? "x" : "", d->valueint);
	if (!b[0])
		snprintf(b, l, "-");
}

static void lc_arange(const layer_row *r, char *b, size_t l)
{
	const cJSON *a = eng_json_get(r->l, "act_range");
	const cJSON *lo = cJSON_GetArrayItem(a, 0), *hi = cJSON_GetArrayItem(a, 1);
	if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
		snprintf(b, l, "[%.3g, %.3g]", lo->valuedouble, hi->valuedouble);
	else
		snprintf(b, l, "-");
}

static double lk_wsqnr(const layer_row *r) { return lnum(r, "weight_sqnr_db"); }
static double lk_osqnr(const layer_row *r) { return lnum(r, "output_sqnr_db"); }
static double lk_wmax(const layer_row *r) { return lnum(r, "weight_absmax"); }
static double lk_outl(const layer_row *r) { return lnum(r, "outlier_ratio"); }
static double lk_alone(const layer_row *r) { return lnum(r, "delta_alone"); }
static double lk_allbut(const layer_row *r) { return lnum(r, "delta_all_but"); }
static double lk_flips(const layer_row *r) { return lnum(r, "flips_attributed"); }
static double lk_amax(const layer_row *r) { return lnum(r, "act_absmax"); }

static const ui_lcol lcols[] = {
	{{"layer", 12, 0, 0}, lc_name, NULL},        {{"type", 8, 3, 0}, lc_type, NULL},
	{{"shape", 14, 6, 0}, lc_shape, NULL},       {{"W/A", 13, 0, 0}, lc_prec, NULL},
	{{"W absmax", 9, 7, 1}, lc_wmax, lk_wmax},   {{"act range", 18, 5, 0}, lc_arange, lk_amax},
	{{"outlier", 8, 4, 1}, lc_outl, lk_outl},    {{"W SQNR", 7, 1, 1}, lc_wsqnr, lk_wsqnr},
	{{"out SQNR", 8, 2, 1}, lc_osqnr, lk_osqnr}, {{"alone", 9, 1, 1}, lc_alone, lk_alone},
	{{"all-but", 10, 1, 1}, lc_allbut, lk_allbut}, {{"flips", 6, 6, 1}, lc_flips, lk_flips},
};

int tui_layers_ncols(void) { return NELEM(lcols); }
const char *tui_layers_colname(int c) { return c >= 0 && c < NELEM(lcols) ? lcols[c].h.head : ""; }

static const cJSON *sens_layer(const ui_state *u, const char *name)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, eng_json_get(u->sens, "layers"))
	if (strcmp(eng_json_str(l, "name"), name) == 0)
		return l;
	return NULL;
}

typedef struct {
	layer_row r;
	const ui_lcol *col;
	int desc;
} lsort_row;

static int cmp_lrows(const void *pa, const void *pb)
{
	const lsort_row *a = pa, *b = pb;
	int r;
	if (a->col->key) {
		double ka = a->col->key(&a->r), kb = b->col->key(&b->r);
		if (isnan(ka) || isnan(kb))
			return isnan(ka) - isnan(kb);
		r = (ka > kb) - (ka < kb);
	} else {
		char ba[128], bb[128];
		a->col->cell(&a->r, ba, sizeof ba);
		b->col->cell(&b->r, bb, sizeof bb);
		r = strcmp(ba, bb);
	}
	return a->desc ? -r : r;
}

/* The layer rows in display order; caller frees.  *n gets the count. */
static lsort_row *layer_rows(const ui_state *u, int *n)
{
	const cJSON *layers = eng_json_get(u->result, "layers");
	int k = cJSON_GetArraySize(layers);
	lsort_row *rows = calloc(k > 0 ? (size_t)k : 1, sizeof *rows);
	*n = 0;
	if (!rows)
		return NULL;
	const cJSON *l;
	cJSON_ArrayForEach(l, layers)
	rows[(*n)++] = (lsort_row){{l, sens_layer(u, eng_json_str(l, "name")), metric_mul(u->result)}, &lcols[u->lsort_col >= 0 ? u->lsort_col : 0], u->lsort_desc};
	if (u->lsort_col >= 0 && *n > 1)
		qsort(rows, (size_t)*n, sizeof *rows, cmp_lrows);
	return rows;
}

int tui_layer_pos(const ui_state *u, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], u->layer) == 0)
			return i;
	return 0;
}

int tui_layer_names(const ui_state *u, const char **names, int max)
{
	int n;
	lsort_row *rows = layer_rows(u, &n);
	if (!rows)
		return 0;
	if (n > max)
		n = max;
	for (int i = 0; i < n; i++)
		names[i] = eng_json_str(rows[i].r.l, "name");
	free(rows);
	return n;
}

static const char *sens_state(const ui_state *u)
{
	if (u->sens_busy)
		return u->sens_full ? "computing delta_alone / delta_all_but ..." : "computing layer statistics ...";
	if (!u->sens)
		return "statistics not computed for this recipe";
	return cJSON_GetArraySize(eng_json_get(u->sens, "layers")) &&
			       eng_json_get(cJSON_GetArrayItem(eng_json_get(u->sens, "layers"), 0), "delta_alone")
		       ? "sensitivity computed (alone: only this layer quantized; all-but: all others quantized)"
		       : "s computes delta_alone / delta_all_but / flips for every layer";
}

static void draw_layers(const ui_state *u, int y, int x, int w, int ymax)
{
	char line[512];
	snprintf(line, sizeof line, "Layers of %s under run #%u: Up/Down select, Enter details, F6 sort, Tab back",
		 eng_json_str(u->result, "model.name"), u->runs_done);
	tui_put(y++, x, w, A_BOLD, line);
	tui_put(y++, x, w, A_DIM, sens_state(u));
	y++;
	/* the name column as wide as the longest name (sequence models have
	 * names like blocks.3.mlp.fc2), within bounds */
	ui_lcol cols_[NELEM(lcols)];
	memcpy(cols_, lcols, sizeof cols_);
	const cJSON *it;
	cJSON_ArrayForEach(it, eng_json_get(u->result, "layers"))
	{
		int len = (int)strlen(eng_json_str(it, "name"));
		if (len > cols_[0].h.width)
			cols_[0].h.width = len < 24 ? len : 24;
	}
	int show[16], n = NELEM(lcols);
	fit_columns(cols_, sizeof *cols_, n, w, show);
	header(cols_, sizeof *cols_, n, show, u->lsort_col, u->lsort_desc, y, x, u->ascii);
	y++;
	lsort_row *rows = layer_rows(u, &n);
	const char *names[256];
	int sel = tui_layer_pos(u, names, tui_layer_names(u, names, 256));
	for (int i = 0; rows && i < n && y < ymax; i++, y++) {
		int cx = x;
		attr_t at = i == sel ? A_REVERSE : A_NORMAL;
		for (int c = 0; c < NELEM(lcols); c++) {
			if (!show[c])
				continue;
			char cell[128];
			cols_[c].cell(&rows[i].r, cell, sizeof cell);
			/* cut to the column, always a blank after it */
			int cw = cols_[c].h.width;
			snprintf(line, sizeof line, cols_[c].h.right ? "%*.*s " : "%-*.*s ", cw, cw, cell);
			tui_put(y, cx, cw + 1, at, line);
			cx += lcols[c].h.width + 1;
		}
	}
	free(rows);
}

/* One histogram as columns of block characters (log scale of counts),
 * with the recipe's clipping thresholds drawn as '|' columns. */
static int draw_hist(const ui_state *u, const cJSON *h, const cJSON *clip, const char *title, int y, int x, int w,
		     int rows)
{
	char line[512];
	const cJSON *counts = eng_json_get(h, "counts");
	int nb = cJSON_GetArraySize(counts);
	double lo = eng_json_num(h, "lo"), hi = eng_json_num(h, "hi");
	const cJSON *c0 = cJSON_GetArrayItem(clip, 0), *c1 = cJSON_GetArrayItem(clip, 1);
	if (cJSON_IsNumber(c0) && cJSON_IsNumber(c1))
		snprintf(line, sizeof line, "%s: [%.4g, %.4g], clipping at %.4g and %.4g ('|'), log counts", title, lo, hi,
			 c0->valuedouble, c1->valuedouble);
	else
		snprintf(line, sizeof line, "%s: [%.4g, %.4g], not quantized (no clipping), log counts", title, lo, hi);
	tui_put(y++, x, w, A_BOLD, line);
	if (nb < 1 || !(hi > lo) || w < 16) {
		tui_put(y, x, w, A_DIM, "(no histogram)");
		return y + 1;
	}
	int cw = w < 64 ? w : 64;
	double *col = calloc((size_t)cw, sizeof *col), top = 0;
	if (!col)
		return y;
	for (int b = 0; b < nb; b++)
		col[(long)b * cw / nb] += cJSON_GetArrayItem(counts, b)->valuedouble;
	for (int c = 0; c < cw; c++) {
		col[c] = log1p(col[c]);
		top = fmax(top, col[c]);
	}
	int clip_c[2] = {-1, -1};
	for (int k = 0; k < 2; k++) {
		const cJSON *cv = k ? c1 : c0;
		if (cJSON_IsNumber(cv) && cv->valuedouble >= lo && cv->valuedouble <= hi)
			clip_c[k] = (int)fmin(cw - 1, floor((cv->valuedouble - lo) / (hi - lo) * cw));
	}
	static const char *const blocks[] = {" ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
					     "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cw; c++) {
			double fill = top > 0 ? col[c] / top * rows - (rows - 1 - r) : 0; /* eighths of this cell */
			int e = (int)fmin(8, fmax(0, floor(fill * 8)));
			const char *g = u->ascii ? (e >= 4 ? "#" : " ") : blocks[e];
			attr_t a = A_NORMAL;
			if (c == clip_c[0] || c == clip_c[1]) {
				if (e == 0)
					g = "|";
				a = u->color ? COLOR_PAIR(PAIR_LOSS) | A_BOLD : A_BOLD;
			}
			put_u8(y, x + c, 1, a, g);
		}
		y++;
	}
	snprintf(line, sizeof line, "%-*.4g%*.4g", cw / 2, lo, cw - cw / 2, hi);
	tui_put(y++, x, w, A_DIM, line);
	free(col);
	return y;
}

static void draw_layer(const ui_state *u, int y, int x, int w, int ymax)
{
	const char *names[256];
	int n = tui_layer_names(u, names, 256);
	if (n < 1) {
		tui_put(y, x, w, A_DIM, "no layer selected");
		return;
	}
	const char *name = names[tui_layer_pos(u, names, n)];
	const cJSON *l = NULL, *it;
	cJSON_ArrayForEach(it, eng_json_get(u->result, "layers"))
	if (strcmp(eng_json_str(it, "name"), name) == 0)
		l = it;
	const cJSON *s = sens_layer(u, name);
	layer_row r = {l, s, metric_mul(u->result)};
	char line[512], a[64], b[64], c[64], d[64];
	lc_prec(&r, a, sizeof a);
	lc_shape(&r, b, sizeof b);
	snprintf(line, sizeof line, "Layer %s (%s, %s): %s via %s; Left/Right sets its precision, Esc back", name,
		 s ? eng_json_str(s, "type") : "-", b, a, eng_json_str(l, "path"));
	tui_put(y++, x, w, A_BOLD, line);
	const eng_override *ov = eng_recipe_override(&u->recipe, name);
	snprintf(line, sizeof line, "precision override in the recipe: %s",
		 !ov ? "none (follows the recipe)" : ov->keep ? "fp32 (kept)" : kq_fmt_get(ov->weights)->name);
	tui_put(y++, x, w, A_NORMAL, line);
	lc_wsqnr(&r, a, sizeof a);
	lc_osqnr(&r, b, sizeof b);
	lc_outl(&r, c, sizeof c);
	num_cell(d, sizeof d, lnum(&r, "act_p999"), "%.4g");
	snprintf(line, sizeof line, "weight SQNR %s dB, output SQNR %s dB, outlier ratio %s (act p99.9 %s)", a, b, c, d);
	tui_put(y++, x, w, A_NORMAL, line);
	lc_alone(&r, a, sizeof a);
	lc_allbut(&r, b, sizeof b);
	lc_flips(&r, c, sizeof c);
	snprintf(line, sizeof line, "delta alone %s pt, all-but %s pt, flips attributed %s; clipped: weights %.4g%%, acts %.4g%%",
		 a, b, c, 100 * lnum(&r, "fraction_clipped.weights"), 100 * lnum(&r, "fraction_clipped.acts"));
	tui_put(y++, x, w, A_NORMAL, line);
	y++;
	if (!s) {
		tui_put(y, x, w, A_DIM, sens_state(u));
		return;
	}
	int rows = (ymax - y - 6) / 2;
	if (rows > 8)
		rows = 8;
	if (rows < 1)
		rows = 1;
	y = draw_hist(u, eng_json_get(s, "hist.weights"), eng_json_get(s, "hist.clip.weights"), "weights", y, x, w, rows);
	y++;
	draw_hist(u, eng_json_get(s, "hist.acts"), eng_json_get(s, "hist.clip.acts"), "input activations", y, x, w, rows);
}

/* ---------------------------------------------------- status, keys bar */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ETA: the current stage from its own pace, the stages after it from how
 * long they took in the last run (its `timing`). */
static double eta(ui_state *u, int stage, double done)
{
	double t = now_s();
	if (stage != u->stage_last) {
		u->stage_last = stage;
		u->stage_t0 = t;
	}
	double el = t - u->stage_t0, left = done > 0.02 ? el * (1 - done) / done : NAN;
	static const struct {
		int stage;
		const char *key;
	} later[] = {{UI_STAGE_CALIBRATE, "timing.calib_ms"},
		     {UI_STAGE_QUANTIZE, "timing.quantize_ms"},
		     {UI_STAGE_EVALUATE, "timing.eval_ms"},
		     {UI_STAGE_BENCHMARK, "timing.bench_ms"}};
	if (!u->result || u->sens_busy)
		return left;
	for (size_t i = 0; i < sizeof later / sizeof *later; i++)
		if (later[i].stage > stage) {
			double ms = eng_json_num(u->result, later[i].key);
			if (!isnan(ms))
				left += ms / 1000;
		}
	return left;
}

static void draw_status(ui_state *u, int y)
{
	int busy, stage;
	double done;
	ui_worker_progress(u->w, &busy, &stage, &done);
	if (!busy)
		u->stage_last = UI_STAGE_NONE; /* the next job's first stage starts its clock */
	char line[700];
	move(y, 0);
	clrtoeol();
	if (u->confirm[0]) {
		snprintf(line, sizeof line, "%.500s exists: replace it? y replaces, any other key keeps it", u->confirm);
		tui_put(y, 0, COLS, A_BOLD | A_REVERSE, line);
	} else if (busy) {
		char bar_[32], etas[32] = "";
		int k = (int)(done * 20 + 0.5);
		for (int i = 0; i < 20; i++)
			bar_[i] = i < k ? '#' : '.';
		bar_[20] = 0;
		double e = stage >= 0 ? eta(u, stage, done) : NAN;
		if (!isnan(e))
			snprintf(etas, sizeof etas, "ETA %.1f s", e);
		snprintf(line, sizeof line, "[%s] %3.0f%% %-11s %-12s %s cancels", bar_, done * 100,
			 stage >= 0 ? ui_stage_names[stage] : "queued", etas, u->view == UI_VIEW_MAIN ? "Esc" : "Ctrl-C");
		tui_put(y, 0, COLS, A_NORMAL, line);
	} else if (u->status[0]) {
		snprintf(line, sizeof line, "%s%s", u->status_err ? "error: " : "", u->status);
		tui_put(y, 0, COLS, u->status_err ? (u->color ? COLOR_PAIR(PAIR_ERR) | A_BOLD : A_BOLD) : A_NORMAL, line);
	} else if (u->result) {
		snprintf(line, sizeof line, "done run #%u in %.1f s", u->runs_done, u->shown.secs);
		tui_put(y, 0, COLS, A_NORMAL, line);
	}
}

void tui_draw_recipe(const ui_state *u, int y, int x);
void tui_draw_fkeys(const ui_state *u, int y);

void tui_draw(ui_state *u)
{
	erase();
	if (COLS < UI_MIN_COLS || LINES < UI_MIN_ROWS) {
		char line[128];
		snprintf(line, sizeof line, "precis needs %dx%d; this terminal is %dx%d.", UI_MIN_COLS, UI_MIN_ROWS, COLS, LINES);
		tui_put(0, 0, COLS, A_BOLD, line);
		tui_put(1, 0, COLS, A_NORMAL, "Enlarge the window, or press q to quit.");
		return;
	}
	if (u->view == UI_VIEW_HELP) {
		tui_help_lines(u, 0);
		return;
	}
	char title[256];
	snprintf(title, sizeof title, "precis %s  model %s (%s)  metric %s  [%s]", PACKAGE_VERSION,
		 u->result ? eng_json_str(u->result, "model.name") : (u->opts->sess.model ? u->opts->sess.model : "cnn-fashion"),
		 u->result ? eng_json_str(u->result, "model.family") : "loading",
		 u->result ? eng_json_str(u->result, "metric") : "-",
		 u->view == UI_VIEW_MAIN ? "Tab: layers" : "Tab: strata");
	tui_put(0, 0, COLS, A_BOLD, title);
	int ymax = LINES - 2;
	if (!u->result) {
		tui_draw_recipe(u, 2, 0);
		tui_put(2, UI_PANEL_W + 1, COLS - UI_PANEL_W - 1, A_DIM,
			u->status_err ? "no result: the run failed (the status line says why); change the recipe or the model"
				      : "no result yet: the first run is on its way");
	} else if (u->view == UI_VIEW_MAIN) {
		tui_draw_recipe(u, 2, 0);
		int x = UI_PANEL_W + 1, w = COLS - x;
		int y = draw_strata(u, 2, x, w, ymax - 3);
		y = draw_throughput(u, y + 1, x, w);
		draw_scatter(u, y + 1, x, w, ymax - y - 1);
	} else if (u->view == UI_VIEW_LAYERS) {
		draw_layers(u, 2, 0, COLS, ymax);
	} else {
		draw_layer(u, 2, 0, COLS, ymax);
	}
	draw_status(u, LINES - 2);
	tui_draw_fkeys(u, LINES - 1);
}
