/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tui.c - the explorer's screen: recipe panel, strata table, throughput,
 * status line with progress, function-key bar and help, and its event loop.
 *
 * DESIGN: this file runs on the UI thread only and is the only one that
 * touches curses.  Engine work goes to the worker (worker.c): every recipe
 * change submits a job that replaces a pending one and cancels a stale run.
 * The loop poll()s stdin and the worker's self-pipe with a short timeout,
 * takes any finished outcome, reads keys, and redraws the whole screen
 * (curses sends only the differences).  Three tables drive the screen: the
 * recipe rows (what a row shows and how it cycles), the strata columns (what
 * a column prints and how soon it is dropped on a narrow terminal) and the
 * key bindings (which also generate the help screen and the function-key
 * bar).  Every path out of ui_run passes through endwin().
 */
#include "config.h"

#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui.h"
#include "ui_worker.h"

#define MIN_COLS 80
#define MIN_ROWS 24
#define PANEL_W 30

enum { PAIR_LOSS = 1, PAIR_GAIN, PAIR_BAR, PAIR_ERR };

typedef struct {
	eng_recipe recipe; /* being edited: what the next job runs */
	uint64_t seed;
	int sel; /* selected recipe row */
	unsigned gen_sent;
	cJSON *result; /* the result on screen (owned) */
	ui_outcome shown;
	unsigned runs_done;
	char status[600];
	int status_err;
	int help;
	int quit;
	int color;
	int ctrlc_armed;
	sig_atomic_t sigint_seen;
	const ui_opts *opts;
	ui_worker *w;
} ui_state;

/* ------------------------------------------------------------ recipe rows */

typedef struct {
	const char *label;
	const char *const *values; /* the cycle; NULL: numeric (seed) */
	void (*show)(const ui_state *, char *, size_t);
	/* applies value v to a copy of the recipe; 0 or -1 with err */
	int (*apply)(eng_recipe *, const char *v, char *err, size_t errlen);
	const char *opt; /* eng_recipe_set key when apply is NULL */
} ui_row;

static const char *const v_weights[] = {"fp32", "bf16", "fp16", "fp8-e4m3", "fp8-e5m2", "int8", "int4", NULL};
static const char *const v_acts[] = {"fp32", "int8", "fp8-e4m3", NULL};
static const char *const v_sym[] = {"symmetric", "asymmetric", NULL};
static const char *const v_gran[] = {"tensor", "channel", "group:32", "group:64", "group:128", "group:256", NULL};
static const char *const v_agran[] = {"tensor", "token", NULL};
static const char *const v_calib[] = {"minmax", "percentile:99", "percentile:99.9", "percentile:99.99",
				      "percentile:99.999", "entropy", "mse", NULL};
static const char *const v_cset[] = {"representative", "small", "mismatched", "shifted", NULL};
static const char *const v_csize[] = {"16", "64", "128", "256", "512", "1024", "2048", NULL};

static void show_weights(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", kq_fmt_get(u->recipe.weights)->name); }
static void show_acts(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", kq_fmt_get(u->recipe.acts)->name); }
static void show_wsym(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", u->recipe.weight_symmetric ? "symmetric" : "asymmetric"); }
static void show_asym(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", u->recipe.act_symmetric ? "symmetric" : "asymmetric"); }
static void show_agran(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", u->recipe.act_token ? "token" : "tensor"); }
static void show_calib(const ui_state *u, char *b, size_t l) { eng_cal_format(&u->recipe.calib, b, l); }
static void show_cset(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", u->recipe.calib_set); }
static void show_csize(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%d", u->recipe.calib_n); }
static void show_seed(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%llu", (unsigned long long)u->seed); }

static void show_gran(const ui_state *u, char *b, size_t l)
{
	if (u->recipe.gran == KQ_GRAN_GROUP)
		snprintf(b, l, "group:%d", u->recipe.group);
	else
		snprintf(b, l, "%s", u->recipe.gran == KQ_GRAN_TENSOR ? "tensor" : "channel");
}

static int apply_wsym(eng_recipe *r, const char *v, char *e, size_t l) { return eng_recipe_set(r, v, NULL, e, l); }

static int apply_asym(eng_recipe *r, const char *v, char *e, size_t l)
{
	return eng_recipe_set(r, v[0] == 's' ? "act-symmetric" : "act-asymmetric", NULL, e, l);
}

static int apply_csize(eng_recipe *r, const char *v, char *e, size_t l)
{
	char set[64];
	snprintf(set, sizeof set, "%s:%s", r->calib_set, v);
	return eng_recipe_set(r, "calib-set", set, e, l);
}

static const ui_row rows[] = {
	{"weights", v_weights, show_weights, NULL, "weights"},
	{"activations", v_acts, show_acts, NULL, "acts"},
	{"weight sym.", v_sym, show_wsym, apply_wsym, NULL},
	{"act. sym.", v_sym, show_asym, apply_asym, NULL},
	{"granularity", v_gran, show_gran, NULL, "granularity"},
	{"act. gran.", v_agran, show_agran, NULL, "act-granularity"},
	{"calibration", v_calib, show_calib, NULL, "calib-method"},
	{"calib. set", v_cset, show_cset, NULL, "calib-set"},
	{"calib. size", v_csize, show_csize, apply_csize, NULL},
	{"seed", NULL, show_seed, NULL, NULL},
};
#define NROWS (int)(sizeof rows / sizeof *rows)

static void set_status(ui_state *u, int is_err, const char *fmt, const char *arg)
{
	snprintf(u->status, sizeof u->status, fmt, arg);
	u->status_err = is_err;
}

static void submit(ui_state *u)
{
	ui_worker_submit(u->w, &u->recipe, u->seed, ++u->gen_sent);
	u->status[0] = 0;
	u->status_err = 0;
}

/* Steps the selected row's value by dir (+1/-1) and schedules a re-run. */
static void cycle(ui_state *u, int dir)
{
	const ui_row *row = &rows[u->sel];
	if (!row->values) { /* seed */
		if (dir < 0 && u->seed == 0)
			return;
		u->seed = dir > 0 ? u->seed + 1 : u->seed - 1;
		if (u->seed > 2147483647u)
			u->seed = 2147483647u;
		submit(u);
		return;
	}
	char cur[64], err[512];
	row->show(u, cur, sizeof cur);
	int n = 0, at = -1;
	for (; row->values[n]; n++)
		if (strcmp(row->values[n], cur) == 0)
			at = n;
	int next = at < 0 ? 0 : ((at + dir) % n + n) % n;
	eng_recipe r = u->recipe;
	int rc = row->apply ? row->apply(&r, row->values[next], err, sizeof err)
			    : eng_recipe_set(&r, row->opt, row->values[next], err, sizeof err);
	if (rc) {
		set_status(u, 1, "%s", err);
		return;
	}
	u->recipe = r;
	submit(u);
}

/* ---------------------------------------------------------- key bindings */

typedef struct {
	int key;
	const char *name;  /* as shown in help */
	const char *fkey;  /* label in the function-key bar, or NULL */
	const char *help;
	void (*fn)(ui_state *);
} ui_binding;

static void k_up(ui_state *u) { u->sel = (u->sel + NROWS - 1) % NROWS; }
static void k_down(ui_state *u) { u->sel = (u->sel + 1) % NROWS; }
static void k_prev(ui_state *u) { cycle(u, -1); }
static void k_next(ui_state *u) { cycle(u, +1); }
static void k_rerun(ui_state *u) { submit(u); }
static void k_help(ui_state *u) { u->help = 1; }
static void k_quit(ui_state *u) { u->quit = 1; }

static void k_cancel(ui_state *u)
{
	if (ui_worker_cancel(u->w))
		set_status(u, 0, "%s", "cancelling...");
}

static const ui_binding bindings[] = {
	{KEY_F(1), "F1", "Help", "this help", k_help},
	{'?', "?", NULL, "this help", k_help},
	{KEY_UP, "Up", NULL, "previous recipe row", k_up},
	{'k', "k", NULL, "previous recipe row", k_up},
	{KEY_DOWN, "Down", NULL, "next recipe row", k_down},
	{'j', "j", NULL, "next recipe row", k_down},
	{KEY_LEFT, "Left", NULL, "previous value of the row (re-runs)", k_prev},
	{'h', "h", NULL, "previous value of the row (re-runs)", k_prev},
	{KEY_RIGHT, "Right", NULL, "next value of the row (re-runs)", k_next},
	{'l', "l", NULL, "next value of the row (re-runs)", k_next},
	{'\n', "Enter", NULL, "next value of the row (re-runs)", k_next},
	{KEY_ENTER, "Enter", NULL, NULL, k_next},
	{KEY_F(5), "F5", "Re-run", "run the current recipe again", k_rerun},
	{'r', "r", NULL, "run the current recipe again", k_rerun},
	{27, "Esc", NULL, "cancel the running job", k_cancel},
	{KEY_F(10), "F10", "Quit", "quit", k_quit},
	{'q', "q", NULL, "quit", k_quit},
};
#define NBINDINGS (sizeof bindings / sizeof *bindings)

static const char *const not_built[] = {
	"Not built yet (issue #4 continues):",
	"  :        readline command line (set, calib, keep, pin, export, ...)",
	"  Tab      Layers screen",
	"  p        compare: pin a run as A",
	"  F6, F9   sort, export; throughput x accuracy scatter plot",
	NULL,
};

/* ---------------------------------------------------------------- drawing */

static void put(int y, int x, int maxw, attr_t a, const char *s)
{
	if (maxw <= 0 || y < 0 || y >= LINES)
		return;
	attron(a);
	mvaddnstr(y, x, s, maxw);
	attroff(a);
}


/* strata columns: printed as `eval` prints them (points, two decimals) */
typedef struct {
	const char *head;
	int width, prio, right; /* prio 0 always shown; higher dropped first */
	void (*cell)(const cJSON *st, const char *unit, char *b, size_t l);
} ui_col;

static void c_name(const cJSON *st, const char *u, char *b, size_t l) { (void)u; snprintf(b, l, "%s", eng_json_str(st, "name")); }
static void c_n(const cJSON *st, const char *u, char *b, size_t l) { (void)u; snprintf(b, l, "%.0f", eng_json_num(st, "n")); }
static void c_ref(const cJSON *st, const char *u, char *b, size_t l) { snprintf(b, l, "%.2f%s", eng_json_num(st, "ref") * 100, u); }
static void c_quant(const cJSON *st, const char *u, char *b, size_t l) { snprintf(b, l, "%.2f%s", eng_json_num(st, "quant") * 100, u); }
static void c_delta(const cJSON *st, const char *u, char *b, size_t l) { (void)u; snprintf(b, l, "%+.2f", eng_json_num(st, "delta") * 100); }
static void c_flips(const cJSON *st, const char *u, char *b, size_t l) { (void)u; snprintf(b, l, "%.0f", eng_json_num(st, "flips")); }
static void c_verdict(const cJSON *st, const char *u, char *b, size_t l) { (void)u; snprintf(b, l, "%s", eng_json_str(st, "verdict")); }

static void c_ci(const cJSON *st, const char *u, char *b, size_t l)
{
	(void)u;
	const cJSON *c = eng_json_get(st, "ci95");
	const cJSON *lo = cJSON_GetArrayItem(c, 0), *hi = cJSON_GetArrayItem(c, 1);
	if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
		snprintf(b, l, "[%+.2f, %+.2f]", lo->valuedouble * 100, hi->valuedouble * 100);
	else
		snprintf(b, l, "-");
}

static const ui_col cols[] = {
	{"stratum", 14, 0, 0, c_name},  {"n", 6, 3, 1, c_n},
	{"ref", 8, 2, 1, c_ref},        {"quant", 8, 0, 1, c_quant},
	{"delta pt", 9, 0, 1, c_delta}, {"95% CI (pt)", 17, 1, 0, c_ci},
	{"flips", 6, 4, 1, c_flips},    {"verdict", 12, 0, 0, c_verdict},
};
#define NCOLS (int)(sizeof cols / sizeof *cols)

static void draw_recipe(const ui_state *u, int y, int x)
{
	put(y, x, PANEL_W, A_BOLD, "Recipe");
	for (int i = 0; i < NROWS; i++) {
		char val[64], line[160];
		rows[i].show(u, val, sizeof val);
		snprintf(line, sizeof line, "%-12s%-*s", rows[i].label, PANEL_W - 13, val);
		put(y + 1 + i, x, PANEL_W - 1, i == u->sel ? A_REVERSE : A_NORMAL, line);
	}
	put(y + 2 + NROWS, x, PANEL_W, A_DIM, "Up/Down move; Left/Right/Enter");
	put(y + 3 + NROWS, x, PANEL_W - 1, A_DIM, "change a value (re-runs)");
}

static attr_t verdict_attr(const ui_state *u, const char *v)
{
	if (!u->color)
		return A_NORMAL;
	if (strcmp(v, "loss") == 0)
		return COLOR_PAIR(PAIR_LOSS) | A_BOLD;
	if (strcmp(v, "gain") == 0)
		return COLOR_PAIR(PAIR_GAIN) | A_BOLD;
	return A_DIM;
}

/* Returns the next free row. */
static int draw_strata(const ui_state *u, int y, int x, int w, int ymax)
{
	const cJSON *r = u->result;
	char desc[512], now_desc[512], line[1300];
	eng_recipe_describe(&u->shown.recipe, desc, sizeof desc);
	eng_recipe_describe(&u->recipe, now_desc, sizeof now_desc);
	snprintf(line, sizeof line, "result of run #%u (seed %llu, %.1f s)%s", u->runs_done,
		 (unsigned long long)u->shown.seed, u->shown.secs,
		 strcmp(desc, now_desc) != 0 || u->shown.seed != u->seed ? "  [recipe changed since]" : "");
	put(y++, x, w, A_BOLD, line);
	put(y++, x, w, A_NORMAL, desc);
	y++;
	int show[NCOLS], used = 0;
	for (int c = 0; c < NCOLS; c++)
		show[c] = 0;
	for (int p = 0; p <= 4; p++)
		for (int c = 0; c < NCOLS; c++)
			if (cols[c].prio == p && used + cols[c].width + 1 <= w) {
				show[c] = 1;
				used += cols[c].width + 1;
			}
	const char *unit = strcmp(eng_json_str(r, "metric"), "ece") != 0 ? "%" : "";
	int cx = x;
	for (int c = 0; c < NCOLS; c++)
		if (show[c]) {
			snprintf(line, sizeof line, cols[c].right ? "%*s" : "%-*s", cols[c].width, cols[c].head);
			put(y, cx, cols[c].width, A_BOLD | A_UNDERLINE, line);
			cx += cols[c].width + 1;
		}
	y++;
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(r, "eval.strata"))
	{
		if (y >= ymax)
			break;
		attr_t a = verdict_attr(u, eng_json_str(st, "verdict"));
		cx = x;
		for (int c = 0; c < NCOLS; c++)
			if (show[c]) {
				char cell[64];
				cols[c].cell(st, unit, cell, sizeof cell);
				snprintf(line, sizeof line, cols[c].right ? "%*s" : "%-*s", cols[c].width, cell);
				put(y, cx, cols[c].width, a, line);
				cx += cols[c].width + 1;
			}
		y++;
	}
	return y;
}

static void draw_throughput(const ui_state *u, int y, int x, int w)
{
	const cJSON *r = u->result;
	char line[512];
	const char *unit = eng_json_str(r, "throughput.unit");
	snprintf(line, sizeof line, "throughput: fp32 %.0f %s, quantized %.0f %s, speedup %.2fx",
		 eng_json_num(r, "throughput.ref"), unit, eng_json_num(r, "throughput.quant"), unit, eng_json_num(r, "throughput.speedup"));
	put(y, x, w, A_BOLD, line);
	snprintf(line, sizeof line, "weights %.0f -> %.0f bytes, isa %s, %.0f threads, batch %.0f",
		 eng_json_num(r, "memory.weight_bytes_ref"), eng_json_num(r, "memory.weight_bytes_quant"), eng_json_str(r, "throughput.isa"),
		 eng_json_num(r, "throughput.threads"), eng_json_num(r, "throughput.batch"));
	put(y + 1, x, w, A_NORMAL, line);
	if (cJSON_IsTrue(eng_json_get(r, "throughput.emulated")))
		put(y + 2, x, w, u->color ? COLOR_PAIR(PAIR_LOSS) | A_BOLD : A_BOLD,
		    "EMULATED: some layers run through a conversion path, not native kernels");
}

static void draw_status(const ui_state *u, int y)
{
	int busy, stage;
	double done;
	ui_worker_progress(u->w, &busy, &stage, &done);
	char line[700];
	move(y, 0);
	clrtoeol();
	if (busy) {
		char bar[32];
		int n = (int)(done * 20 + 0.5);
		for (int i = 0; i < 20; i++)
			bar[i] = i < n ? '#' : '.';
		bar[20] = 0;
		snprintf(line, sizeof line, "[%s] %3.0f%% %-10s  Esc cancels", bar, done * 100,
			 stage >= 0 ? ui_stage_names[stage] : "queued");
		put(y, 0, COLS, A_NORMAL, line);
	} else if (u->status[0]) {
		snprintf(line, sizeof line, "%s%s", u->status_err ? "error: " : "", u->status);
		put(y, 0, COLS, u->status_err ? (u->color ? COLOR_PAIR(PAIR_ERR) | A_BOLD : A_BOLD) : A_NORMAL, line);
	} else if (u->result) {
		snprintf(line, sizeof line, "done run #%u in %.1f s", u->runs_done, u->shown.secs);
		put(y, 0, COLS, A_NORMAL, line);
	}
}

static void draw_fkeys(const ui_state *u, int y)
{
	int x = 0;
	move(y, 0);
	clrtoeol();
	for (size_t i = 0; i < NBINDINGS; i++) {
		if (!bindings[i].fkey)
			continue;
		put(y, x, COLS - x, A_BOLD, bindings[i].name);
		x += (int)strlen(bindings[i].name);
		put(y, x, COLS - x, u->color ? COLOR_PAIR(PAIR_BAR) : A_REVERSE, bindings[i].fkey);
		x += (int)strlen(bindings[i].fkey) + 1;
	}
	put(y, x + 1, COLS - x - 1, A_DIM, "q quit  ? help");
}

static void draw_help(void)
{
	int y = 0;
	put(y++, 0, COLS, A_BOLD, "precis explorer - keys (any key closes this help)");
	y++;
	for (size_t i = 0; i < NBINDINGS && y < LINES - 1; i++) {
		if (!bindings[i].help)
			continue;
		char line[160];
		snprintf(line, sizeof line, "  %-8s %s", bindings[i].name, bindings[i].help);
		put(y++, 0, COLS, A_NORMAL, line);
	}
	put(y++, 0, COLS, A_NORMAL, "  Ctrl-C   cancel the running job; a second Ctrl-C quits");
	y++;
	for (int i = 0; not_built[i] && y < LINES; i++)
		put(y++, 0, COLS, i ? A_NORMAL : A_BOLD, not_built[i]);
}

static void draw(ui_state *u)
{
	erase();
	if (COLS < MIN_COLS || LINES < MIN_ROWS) {
		char line[128];
		snprintf(line, sizeof line, "precis needs %dx%d; this terminal is %dx%d.", MIN_COLS, MIN_ROWS, COLS, LINES);
		put(0, 0, COLS, A_BOLD, line);
		put(1, 0, COLS, A_NORMAL, "Enlarge the window, or press q to quit.");
		refresh();
		return;
	}
	if (u->help) {
		draw_help();
		refresh();
		return;
	}
	char title[256];
	snprintf(title, sizeof title, "precis %s  model %s (%s)  metric %s", PACKAGE_VERSION,
		 u->result ? eng_json_str(u->result, "model.name") : (u->opts->sess.model ? u->opts->sess.model : "cnn-fashion"),
		 u->result ? eng_json_str(u->result, "model.family") : "loading",
		 u->result ? eng_json_str(u->result, "metric") : "-");
	put(0, 0, COLS, A_BOLD, title);
	draw_recipe(u, 2, 0);
	int x = PANEL_W + 1, w = COLS - x;
	if (u->result) {
		int y = draw_strata(u, 2, x, w, LINES - 6);
		draw_throughput(u, y + 1, x, w);
	} else
		put(2, x, w, A_DIM, "no result yet: the first run is on its way");
	draw_status(u, LINES - 2);
	draw_fkeys(u, LINES - 1);
	refresh();
}

/* ------------------------------------------------------------------- loop */

static void take_outcome(ui_state *u)
{
	ui_outcome o;
	if (!ui_worker_take(u->w, &o))
		return;
	if (o.result) {
		cJSON_Delete(u->result);
		u->result = o.result;
		u->shown = o;
		u->shown.result = NULL;
		u->runs_done = o.gen;
		if (o.gen == u->gen_sent)
			u->status[0] = 0;
	} else if (o.gen == u->gen_sent) {
		/* errors of superseded jobs ("cancelled" by a newer change) are noise */
		if (strcmp(o.err, "cancelled") == 0)
			set_status(u, 0, "%s", u->ctrlc_armed ? "cancelled; Ctrl-C again quits, F5 re-runs" : "cancelled; F5 re-runs");
		else
			set_status(u, 1, "%s", o.err);
	}
}

static void on_key(ui_state *u, int ch)
{
	if (u->help) {
		u->help = 0;
		if (ch != 'q' && ch != KEY_F(10))
			return;
	}
	if (ch == KEY_RESIZE)
		return; /* the next draw uses the new LINES/COLS */
	u->ctrlc_armed = 0;
	for (size_t i = 0; i < NBINDINGS; i++)
		if (bindings[i].key == ch) {
			bindings[i].fn(u);
			return;
		}
}

static void on_sigint(ui_state *u)
{
	if (!u->opts->sigint || *u->opts->sigint == u->sigint_seen)
		return;
	u->sigint_seen = *u->opts->sigint;
	if (u->ctrlc_armed) {
		u->quit = 1;
		return;
	}
	u->ctrlc_armed = 1;
	ui_worker_cancel(u->w);
	set_status(u, 0, "%s", "cancelled; press Ctrl-C again to quit");
}

int ui_run(const ui_opts *o, char *err, size_t errlen)
{
	if (!isatty(0) || !isatty(1)) {
		snprintf(err, errlen, "the explorer needs a terminal on stdin and stdout ('precis eval' works without one)");
		return -1;
	}
	ui_state u;
	memset(&u, 0, sizeof u);
	u.opts = o;
	u.recipe = o->recipe;
	u.seed = o->sess.seed;
	u.shown.recipe = o->recipe;
	u.sigint_seen = o->sigint ? *o->sigint : 0;
	u.w = ui_worker_create(&o->sess, err, errlen);
	if (!u.w)
		return -1;

	setlocale(LC_CTYPE, ""); /* wide characters only; numbers stay in the C locale */
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		snprintf(err, errlen, "cannot use terminal type '%s'", getenv("TERM") ? getenv("TERM") : "(unset)");
		ui_worker_destroy(u.w);
		return -1;
	}
	cbreak(); /* not raw(): Ctrl-C stays a signal, handled by src/ */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	const char *nc = getenv("NO_COLOR");
	u.color = has_colors() && !(nc && *nc);
	if (u.color) {
		start_color();
		use_default_colors();
		init_pair(PAIR_LOSS, COLOR_RED, -1);
		init_pair(PAIR_GAIN, COLOR_GREEN, -1);
		init_pair(PAIR_BAR, COLOR_BLACK, COLOR_CYAN);
		init_pair(PAIR_ERR, COLOR_RED, -1);
	}

	submit(&u);
	while (!u.quit) {
		on_sigint(&u);
		if (u.quit)
			break;
		draw(&u);
		struct pollfd p[2] = {{0, POLLIN, 0}, {ui_worker_fd(u.w), POLLIN, 0}};
		int n = poll(p, 2, 100);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p[1].revents & POLLIN))
			ui_worker_drain(u.w);
		take_outcome(&u);
		int ch;
		/* also after EINTR: a SIGWINCH leaves KEY_RESIZE in the queue */
		while (!u.quit && (ch = getch()) != ERR)
			on_key(&u, ch == '\r' ? '\n' : ch);
	}

	endwin();
	delscreen(scr);
	ui_worker_destroy(u.w);
	cJSON_Delete(u.result);
	return 0;
}
