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
 *
 * `:` opens a one-line command window on the bottom row, driven by GNU
 * readline's callback interface (STYLE.md, "Threads and the UI"): the loop
 * reads bytes with wgetch on that window (keypad off, so readline sees the
 * raw escape sequences; a lone Esc closes the line), queues them and calls rl_callback_read_char, whose
 * rl_getc_function takes them from the queue; rl_redisplay_function paints
 * rl_line_buffer into the window, and readline's signal and terminal
 * handling are off.  Enter hands the line to ui/commands.c (the table
 * `precis repl` uses) acting on a copy of the recipe; a changed recipe is
 * submitted like a recipe-panel change, and a command's text or error
 * goes to the status line.  Readline's callbacks take no user pointer, so
 * the open command line's state is reached through the file-scope `cmd_ui`
 * - the kind of global readline imposes.
 */
#include "config.h"

#include <ctype.h>
#include <curses.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "commands.h"
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
	/* the `:` command line */
	ui_cmd_ctx cmd;   /* the command table's context (recipe copied in per line) */
	WINDOW *cmdwin;   /* non-NULL while the command line is open */
	int rl_ready;     /* readline set up (history read) */
	char hist[4096];  /* history file, "" for none */
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

static void cmd_open(ui_state *u);
static void k_cmd(ui_state *u) { cmd_open(u); }

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
	{':', ":", NULL, "command line (as in precis repl; Tab completes, Esc closes)", k_cmd},
	{27, "Esc", NULL, "cancel the running job", k_cancel},
	{KEY_F(10), "F10", "Quit", "quit", k_quit},
	{'q', "q", NULL, "quit", k_quit},
};
#define NBINDINGS (sizeof bindings / sizeof *bindings)

static const char *const not_built[] = {
	"Not built yet (issue #4 continues):",
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
		if (bindings[i].key == ':') {
			size_t n, len = (size_t)snprintf(line, sizeof line, "  %-8s commands:", "");
			const ui_command *t = ui_cmd_table(&n);
			for (size_t k = 0; k < n && len < sizeof line; k++)
				len += (size_t)snprintf(line + len, sizeof line - len, " %s", t[k].name);
			put(y++, 0, COLS, A_NORMAL, line);
		}
	}
	put(y++, 0, COLS, A_NORMAL, "  Ctrl-C   cancel the running job; a second Ctrl-C quits");
	y++;
	for (int i = 0; not_built[i] && y < LINES; i++)
		put(y++, 0, COLS, i ? A_NORMAL : A_BOLD, not_built[i]);
}

/* ------------------------------------------------------- command line */

static ui_state *cmd_ui;        /* the explorer whose readline is set up */
static unsigned char cmd_q[256]; /* bytes read with wgetch, not yet given to readline */
static int cmd_qn, cmd_qhead;
static FILE *cmd_null;          /* readline's own output (meta-key strings, ...) goes here */

static void on_key(ui_state *u, int ch);

static void cmd_push(int ch)
{
	if (cmd_qn < (int)sizeof cmd_q)
		cmd_q[cmd_qn++] = (unsigned char)ch;
}

static int cmd_pop(void)
{
	int c = cmd_q[cmd_qhead++];
	if (cmd_qhead == cmd_qn)
		cmd_qhead = cmd_qn = 0;
	return c;
}

/* rl_getc_function: the queued bytes; should readline want more than was
 * queued (the rest of a sequence it has begun), wait for it. */
static int cmd_getc(FILE *f)
{
	(void)f;
	if (cmd_qhead < cmd_qn)
		return cmd_pop();
	if (cmd_ui && cmd_ui->cmdwin) {
		nodelay(cmd_ui->cmdwin, FALSE);
		int c = wgetch(cmd_ui->cmdwin);
		nodelay(cmd_ui->cmdwin, TRUE);
		if (c != ERR && c < KEY_MIN)
			return c;
	}
	return EOF;
}

static int cmd_avail(void) { return cmd_qhead < cmd_qn; }
static void cmd_noprep(int meta) { (void)meta; } /* curses owns the terminal */
static void cmd_nodeprep(void) {}

/* Paints ":" and rl_line_buffer, scrolled so the cursor stays visible. */
static void cmd_paint(void)
{
	if (!cmd_ui || !cmd_ui->cmdwin)
		return;
	WINDOW *w = cmd_ui->cmdwin;
	int avail = getmaxx(w) - 2, start = 0;
	if (avail < 1)
		avail = 1;
	if (rl_point > avail)
		start = rl_point - avail;
	werase(w);
	mvwaddch(w, 0, 0, ':');
	if (rl_end > start)
		waddnstr(w, rl_line_buffer + start, rl_end - start < avail ? rl_end - start : avail);
	wmove(w, 0, 1 + rl_point - start);
}

static void cmd_redisplay(void) { cmd_paint(); } /* the loop's next draw shows it */

/* A second Tab lists the candidates in the status line. */
static void cmd_show_matches(char **m, int n, int maxlen)
{
	(void)maxlen;
	char line[600];
	size_t len = (size_t)snprintf(line, sizeof line, "%d candidates:", n);
	for (int i = 1; i <= n && len < sizeof line; i++)
		len += (size_t)snprintf(line + len, sizeof line - len, " %s", m[i]);
	set_status(cmd_ui, 0, "%s", line);
}

static int recipe_differs(const eng_recipe *a, const eng_recipe *b)
{
	cJSON *ja = eng_recipe_to_json(a), *jb = eng_recipe_to_json(b);
	int d = !ja || !jb || !cJSON_Compare(ja, jb, 1);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	return d;
}

/* The `run` hook: evaluate the command's recipe on the worker. */
static int cmd_run(ui_cmd_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	ui_state *u = c->user;
	u->recipe = c->recipe;
	submit(u);
	return 0;
}

/* Executes one line against a copy of the recipe: a change is submitted
 * as a recipe-panel change is; text or error goes to the status line. */
static void cmd_exec(ui_state *u, const char *line)
{
	char err[600] = "", *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out) {
		set_status(u, 1, "%s", "out of memory");
		return;
	}
	u->cmd.out = out;
	u->cmd.recipe = u->recipe;
	u->cmd.quit = 0;
	int rc = ui_cmd_exec(&u->cmd, line, err, sizeof err);
	fclose(out);
	u->cmd.out = NULL;
	const char *w = line + strspn(line, " \t");
	if (rc) {
		set_status(u, 1, "%s", err);
	} else if (u->cmd.quit) {
		u->quit = 1;
	} else if (strncmp(w, "help", 4) == 0 && (w[4] == 0 || w[4] == ' ' || w[4] == '\t')) {
		u->help = 1;
	} else {
		if (recipe_differs(&u->cmd.recipe, &u->recipe)) {
			u->recipe = u->cmd.recipe;
			submit(u);
		}
		if (text && *text) { /* one line: the text's lines joined */
			char st[600];
			size_t k = 0;
			for (const char *p = text; *p && k + 3 < sizeof st; p++)
				if (*p != '\n')
					st[k++] = *p;
				else if (p[1])
					st[k++] = ' ', st[k++] = ' ';
			st[k] = 0;
			set_status(u, 0, "%s", st);
		}
	}
	free(text);
}

static void cmd_close(ui_state *u)
{
	if (!u->cmdwin)
		return;
	rl_callback_handler_remove();
	delwin(u->cmdwin);
	u->cmdwin = NULL;
	curs_set(0);
}

/* readline's line handler: Enter (line) or Ctrl-D on an empty line (NULL). */
static void cmd_line(char *line)
{
	ui_state *u = cmd_ui;
	cmd_close(u);
	if (line && *line) {
		add_history(line);
		cmd_exec(u, line);
	}
	free(line);
}

static void cmd_setup(ui_state *u)
{
	cmd_ui = u;
	if (u->rl_ready)
		return;
	u->rl_ready = 1;
	cmd_null = fopen("/dev/null", "w");
	rl_readline_name = "precis";
	rl_instream = stdin;
	rl_outstream = cmd_null ? cmd_null : stdout;
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_prep_term_function = cmd_noprep;
	rl_deprep_term_function = cmd_nodeprep;
	rl_getc_function = cmd_getc;
	rl_input_available_hook = cmd_avail;
	rl_redisplay_function = cmd_redisplay;
	rl_completion_display_matches_hook = cmd_show_matches;
	ui_rl_complete_install(&u->cmd);
	rl_variable_bind("bell-style", "none");
	rl_variable_bind("enable-meta-key", "off");
	rl_variable_bind("enable-bracketed-paste", "off");
	ui_cmd_history_path(u->hist, sizeof u->hist);
	if (*u->hist)
		read_history(u->hist);
}

static void cmd_open(ui_state *u)
{
	cmd_setup(u);
	u->cmdwin = newwin(1, COLS, LINES - 1, 0);
	if (!u->cmdwin)
		return;
	keypad(u->cmdwin, FALSE); /* readline decodes the escape sequences */
	nodelay(u->cmdwin, TRUE);
	curs_set(1);
	rl_callback_handler_install(":", cmd_line);
}

/* Gives the queued bytes to readline; those after a closing Enter go to
 * the key bindings (typing ahead). */
static void cmd_feed(ui_state *u)
{
	while (!u->quit && cmd_qhead < cmd_qn) {
		if (u->cmdwin) {
			rl_callback_read_char();
		} else {
			int c = cmd_pop();
			on_key(u, c == '\r' ? '\n' : c);
		}
	}
	if (!u->cmdwin)
		cmd_qhead = cmd_qn = 0;
}

/* Reads what is typed into the open command line.  Keypad is off there,
 * so a lone Esc (nothing follows within 25 ms) closes the line and an
 * escape sequence (arrows, Home, ...) goes to readline. */
static void cmd_input(ui_state *u)
{
	int ch;
	while (!u->quit && u->cmdwin && (ch = wgetch(u->cmdwin)) != ERR) {
		if (ch >= KEY_MIN)
			continue; /* KEY_RESIZE: the next draw moves the window */
		if (ch == 27) {
			wtimeout(u->cmdwin, 25);
			int next = wgetch(u->cmdwin);
			nodelay(u->cmdwin, TRUE);
			/* ESC [ and ESC O start cursor-key sequences, ESC + a letter
			 * is Alt (M-b, M-f, ...); anything else after Esc is a key
			 * for the main screen, typed after closing the line. */
			if (next == ERR || next >= KEY_MIN ||
			    !(next == '[' || next == 'O' || (next < 128 && isalnum(next)) || next == 127 || next == 8)) {
				if (next != ERR)
					ungetch(next);
				rl_free_line_state();
				cmd_close(u);
				continue;
			}
			cmd_push(27);
			ch = next;
		}
		cmd_push(ch);
		cmd_feed(u);
	}
}

/* Ends a drawing pass: the screen, then the command line (if open) on the
 * bottom row with the cursor in it. */
static void cmd_flush(ui_state *u)
{
	if (!u->cmdwin) {
		refresh();
		return;
	}
	if (getbegy(u->cmdwin) != LINES - 1 || getmaxx(u->cmdwin) != COLS) {
		WINDOW *w = newwin(1, COLS, LINES - 1, 0);
		if (w) {
			delwin(u->cmdwin);
			u->cmdwin = w;
			keypad(w, FALSE);
			nodelay(w, TRUE);
		}
	}
	wnoutrefresh(stdscr);
	cmd_paint();
	touchwin(u->cmdwin);
	wnoutrefresh(u->cmdwin);
	doupdate();
}

static void cmd_finish(ui_state *u)
{
	cmd_close(u);
	if (u->rl_ready) {
		if (*u->hist && write_history(u->hist) == 0)
			history_truncate_file(u->hist, 1000);
		rl_outstream = stdout;
		if (cmd_null)
			fclose(cmd_null);
		cmd_null = NULL;
	}
	ui_rl_complete_install(NULL);
	cmd_ui = NULL;
}

static void draw(ui_state *u)
{
	erase();
	if (COLS < MIN_COLS || LINES < MIN_ROWS) {
		char line[128];
		snprintf(line, sizeof line, "precis needs %dx%d; this terminal is %dx%d.", MIN_COLS, MIN_ROWS, COLS, LINES);
		put(0, 0, COLS, A_BOLD, line);
		put(1, 0, COLS, A_NORMAL, "Enlarge the window, or press q to quit.");
		cmd_flush(u);
		return;
	}
	if (u->help) {
		draw_help();
		cmd_flush(u);
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
	cmd_flush(u);
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
		ui_cmd_learn(&u->cmd, o.result); /* layer names for completion */
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
	ui_cmd_init(&u.cmd, &u.recipe, o->sess.model, NULL, cmd_run, &u);

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
		while (!u.quit && !u.cmdwin && (ch = getch()) != ERR)
			on_key(&u, ch == '\r' ? '\n' : ch);
		if (u.cmdwin)
			cmd_input(&u);
	}

	cmd_finish(&u);
	endwin();
	delscreen(scr);
	ui_worker_destroy(u.w);
	cJSON_Delete(u.result);
	return 0;
}
