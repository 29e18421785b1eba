/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tui.c - the explorer's event loop: keys, the recipe panel's rows, pin
 * and compare, per-layer overrides, export, the `:` command line, and the
 * session's history of runs.  Drawing is in tui_draw.c.
 *
 * DESIGN: this file and tui_draw.c run on the UI thread only and are the
 * only ones that touch curses.  Engine work goes to the worker (worker.c):
 * every recipe change submits a run that replaces a pending job and
 * cancels a stale one; the layers screens queue a sensitivity job only when
 * the worker is idle.  The loop poll()s stdin and the worker's self-pipe
 * with a short timeout, takes any finished outcome, reads keys, and redraws
 * the whole screen (curses sends only the differences).  Tables drive the
 * screen: the recipe rows (what a row shows and how it cycles), the key
 * bindings (each names the screens it works on, and generates the help
 * screen and the function-key bar), and in tui_draw.c the table columns.
 * Every path out of ui_run passes through endwin().
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
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "eng_report.h"
#include "tui.h"

/* ------------------------------------------------------------ recipe rows */

typedef struct {
	const char *label;
	const char *const *values; /* the cycle, or NULL: */
	/* the cycle computed from the state (model names, calibration sets) */
	int (*list)(const ui_state *, const char **vals, int max);
	void (*show)(const ui_state *, char *, size_t);
	/* applies value v to a copy of the recipe; 0 or -1 with err */
	int (*apply)(eng_recipe *, const char *v, char *err, size_t errlen);
	const char *opt; /* eng_recipe_set key when apply is NULL */
	/* a row that is not a recipe option (model, seed) steps itself */
	void (*step)(ui_state *, int dir);
	/* NULL: always shown; else shown when it says so (KV: decoders only) */
	int (*visible)(const ui_state *);
} ui_row;

static const char *const v_weights[] = {"fp32", "bf16", "fp16", "fp8-e4m3", "fp8-e5m2", "int8", "int4", NULL};
static const char *const v_acts[] = {"fp32", "int8", "fp8-e4m3", NULL};
static const char *const v_sym[] = {"symmetric", "asymmetric", NULL};
static const char *const v_gran[] = {"tensor", "channel", "group:32", "group:64", "group:128", "group:256", NULL};
static const char *const v_agran[] = {"tensor", "token", NULL};
static const char *const v_calib[] = {"minmax", "percentile:99", "percentile:99.9", "percentile:99.99",
				      "percentile:99.999", "entropy", "mse", NULL};
static const char *const v_smooth[] = {"0", "0.25", "0.5", "0.75", "1", NULL};
static const char *const v_kv[] = {"fp32", "int8", "int4", "fp8-e4m3", NULL};
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
static void show_model(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", u->model); }
static void show_smooth(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%g", u->recipe.smooth); }
static void show_kv(const ui_state *u, char *b, size_t l) { snprintf(b, l, "%s", kq_fmt_get(u->recipe.kv)->name); }
static int is_decoder(const ui_state *u) { return strcmp(u->family, "decoder") == 0; }

static int list_csets(const ui_state *u, const char **v, int max)
{
	int n = 0;
	for (int i = 0; i < u->cmd.ncalib_sets && n < max; i++)
		v[n++] = u->cmd.calib_sets[i];
	return n;
}

static int list_models(const ui_state *u, const char **v, int max)
{
	int n = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, u->models)
	if (n < max)
		v[n++] = eng_json_str(m, "name");
	return n;
}

static void submit(ui_state *u);

static void step_seed(ui_state *u, int dir)
{
	if (dir < 0 && u->seed == 0)
		return;
	u->seed = dir > 0 ? u->seed + 1 : u->seed - 1;
	if (u->seed > 2147483647u)
		u->seed = 2147483647u;
	submit(u);
}

/* The model's family and calibration sets, from `precis models`. */
static void model_learn(ui_state *u)
{
	const cJSON *m;
	snprintf(u->family, sizeof u->family, "?");
	cJSON_ArrayForEach(m, u->models)
	if (strcmp(eng_json_str(m, "name"), u->model) == 0 || strcmp(eng_json_str(m, "path"), u->model) == 0)
		snprintf(u->family, sizeof u->family, "%s", eng_json_str(m, "family"));
	ui_cmd_set_model(&u->cmd, u->model);
}

/* Another model: a new session on the worker, so the session's history,
 * pin and per-layer overrides (other layer names) start afresh, and a
 * calibration set the new model lacks falls back to representative. */
static void step_model(ui_state *u, int dir)
{
	const char *v[64];
	int n = list_models(u, v, 64), at = -1;
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], u->model) == 0)
			at = i;
	if (n < 2)
		return;
	snprintf(u->model, sizeof u->model, "%s", v[at < 0 ? 0 : ((at + dir) % n + n) % n]);
	model_learn(u);
	u->recipe.noverrides = 0;
	int known = 0;
	for (int i = 0; i < u->cmd.ncalib_sets; i++)
		known |= strcmp(u->cmd.calib_sets[i], u->recipe.calib_set) == 0;
	if (!known)
		snprintf(u->recipe.calib_set, sizeof u->recipe.calib_set, "representative");
	cJSON_Delete(u->pinned);
	u->pinned = NULL;
	cJSON_Delete(u->sens);
	u->sens = NULL;
	while (cJSON_GetArraySize(u->history))
		cJSON_DeleteItemFromArray(u->history, 0);
	u->layer[0] = 0;
	submit(u);
}

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
	{"model", NULL, list_models, show_model, NULL, NULL, step_model, NULL},
	{"weights", v_weights, NULL, show_weights, NULL, "weights", NULL, NULL},
	{"activations", v_acts, NULL, show_acts, NULL, "acts", NULL, NULL},
	{"KV cache", v_kv, NULL, show_kv, NULL, "kv", NULL, is_decoder},
	{"weight sym.", v_sym, NULL, show_wsym, apply_wsym, NULL, NULL, NULL},
	{"act. sym.", v_sym, NULL, show_asym, apply_asym, NULL, NULL, NULL},
	{"granularity", v_gran, NULL, show_gran, NULL, "granularity", NULL, NULL},
	{"act. gran.", v_agran, NULL, show_agran, NULL, "act-granularity", NULL, NULL},
	{"calibration", v_calib, NULL, show_calib, NULL, "calib-method", NULL, NULL},
	{"calib. set", NULL, list_csets, show_cset, NULL, "calib-set", NULL, NULL},
	{"calib. size", v_csize, NULL, show_csize, apply_csize, NULL, NULL, NULL},
	{"smooth", v_smooth, NULL, show_smooth, NULL, "smooth", NULL, NULL},
	{"seed", NULL, NULL, show_seed, NULL, NULL, step_seed, NULL},
};
#define NROWS (int)(sizeof rows / sizeof *rows)

static int row_shown(const ui_state *u, int i) { return !rows[i].visible || rows[i].visible(u); }

static void set_status(ui_state *u, int is_err, const char *fmt, const char *arg)
{
	snprintf(u->status, sizeof u->status, fmt, arg);
	u->status_err = is_err;
}

static void submit(ui_state *u)
{
	ui_worker_submit_kind(u->w, UI_JOB_EVAL, 0, u->model, &u->recipe, u->seed, ++u->gen_sent);
	u->status[0] = 0;
	u->status_err = 0;
}

/* Steps the selected row's value by dir (+1/-1) and schedules a re-run. */
static void cycle(ui_state *u, int dir)
{
	const ui_row *row = &rows[u->sel];
	if (row->step) {
		row->step(u, dir);
		return;
	}
	const char *vals[UI_CMD_MAX_NAMES + 1];
	int n = 0, at = -1;
	if (row->values)
		for (; row->values[n] && n < UI_CMD_MAX_NAMES; n++)
			vals[n] = row->values[n];
	else
		n = row->list(u, vals, UI_CMD_MAX_NAMES);
	if (n < 1)
		return;
	char cur[64], err[512];
	row->show(u, cur, sizeof cur);
	for (int i = 0; i < n; i++)
		if (strcmp(vals[i], cur) == 0)
			at = i;
	int next = at < 0 ? 0 : ((at + dir) % n + n) % n;
	eng_recipe r = u->recipe;
	int rc = row->apply ? row->apply(&r, vals[next], err, sizeof err)
			    : eng_recipe_set(&r, row->opt, vals[next], err, sizeof err);
	if (rc) {
		set_status(u, 1, "%s", err);
		return;
	}
	u->recipe = r;
	submit(u);
}

void tui_draw_recipe(const ui_state *u, int y, int x)
{
	tui_put(y, x, UI_PANEL_W, A_BOLD, "Recipe");
	int y2 = y + 1;
	for (int i = 0; i < NROWS; i++) {
		if (!row_shown(u, i))
			continue;
		char val[64], line[160];
		rows[i].show(u, val, sizeof val);
		snprintf(line, sizeof line, "%-12s%-*s", rows[i].label, UI_PANEL_W - 13, val);
		tui_put(y2++, x, UI_PANEL_W - 1, i == u->sel ? A_REVERSE : A_NORMAL, line);
	}
	if (u->recipe.noverrides) {
		char line[160];
		snprintf(line, sizeof line, "%-12s%d layer%s", "overrides", u->recipe.noverrides,
			 u->recipe.noverrides == 1 ? "" : "s");
		tui_put(y2++, x, UI_PANEL_W - 1, A_NORMAL, line);
	}
	tui_put(y2 + 1, x, UI_PANEL_W, A_DIM, "Up/Down move; Left/Right/Enter");
	tui_put(y2 + 2, x, UI_PANEL_W - 1, A_DIM, "change a value (re-runs)");
}

/* ---------------------------------------------------------- key bindings */

typedef struct {
	int key;
	const char *name;  /* as shown in help */
	const char *fkey;  /* label in the function-key bar, or NULL */
	const char *help;  /* NULL: an alias not listed in help */
	unsigned views;    /* the screens it works on (bit per ui_view) */
	void (*fn)(ui_state *);
} ui_binding;

#define V_MAIN (1u << UI_VIEW_MAIN)
#define V_LAYERS (1u << UI_VIEW_LAYERS)
#define V_LAYER (1u << UI_VIEW_LAYER)
#define V_ALL (V_MAIN | V_LAYERS | V_LAYER)

static int nlayers(const ui_state *u) { return cJSON_GetArraySize(eng_json_get(u->result, "layers")); }

static void want_sens(ui_state *u);

static void k_up(ui_state *u)
{
	do
		u->sel = (u->sel + NROWS - 1) % NROWS;
	while (!row_shown(u, u->sel));
}

static void k_down(ui_state *u)
{
	do
		u->sel = (u->sel + 1) % NROWS;
	while (!row_shown(u, u->sel));
}
static void k_first(ui_state *u) { u->sel = 0; }

static void k_last(ui_state *u)
{
	u->sel = NROWS - 1;
	while (!row_shown(u, u->sel))
		u->sel--;
}

static void k_prev(ui_state *u) { cycle(u, -1); }
static void k_next(ui_state *u) { cycle(u, +1); }
static void k_rerun(ui_state *u) { submit(u); }
static void k_help(ui_state *u) { u->back = u->view, u->view = UI_VIEW_HELP, u->help_top = 0; }
static void k_quit(ui_state *u) { u->quit = 1; }

/* Moves the layer selection by dir rows of the table as sorted now. */
static void layer_step(ui_state *u, int dir)
{
	const char *names[256];
	int n = tui_layer_names(u, names, 256);
	if (n)
		snprintf(u->layer, sizeof u->layer, "%s", names[((tui_layer_pos(u, names, n) + dir) % n + n) % n]);
}

static void k_lup(ui_state *u) { layer_step(u, -1); }
static void k_ldown(ui_state *u) { layer_step(u, +1); }

static void k_tab(ui_state *u)
{
	u->view = u->view == UI_VIEW_MAIN ? UI_VIEW_LAYERS : UI_VIEW_MAIN;
	if (u->view == UI_VIEW_LAYERS)
		want_sens(u);
}

static void k_open_layer(ui_state *u)
{
	if (nlayers(u))
		u->view = UI_VIEW_LAYER;
}

static void k_close_layer(ui_state *u) { u->view = UI_VIEW_LAYERS; }
static void k_main(ui_state *u) { u->view = UI_VIEW_MAIN; }

static void k_full_sens(ui_state *u)
{
	u->sens_full = 1;
	want_sens(u);
}

/* Esc cancels on the strata screen and goes back one screen elsewhere
 * (there Ctrl-C cancels), so one key never means both. */
static void k_esc(ui_state *u)
{
	if (u->view == UI_VIEW_LAYER) {
		u->view = UI_VIEW_LAYERS;
	} else if (u->view == UI_VIEW_LAYERS) {
		u->view = UI_VIEW_MAIN;
	} else if (ui_worker_cancel(u->w)) {
		u->sens_busy = 0;
		set_status(u, 0, "%s", "cancelling...");
	}
}

/* F6 steps the sort column of the table on screen, I reverses it. */
static void k_sort(ui_state *u)
{
	if (u->view == UI_VIEW_MAIN) {
		/* -1 is the model's own order */
		u->sort_col = (u->sort_col + 2) % (tui_strata_ncols(u) + 1) - 1;
		if (u->sort_col < 0)
			set_status(u, 0, "%s", "strata in the model's order");
		else
			set_status(u, 0, "strata sorted by %s ('all' stays first; I reverses)", tui_strata_colname(u, u->sort_col));
	} else {
		u->lsort_col = (u->lsort_col + 2) % (tui_layers_ncols() + 1) - 1;
		u->layer[0] = 0;
		if (u->lsort_col < 0)
			set_status(u, 0, "%s", "layers in the model's order");
		else
			set_status(u, 0, "layers sorted by %s (I reverses)", tui_layers_colname(u->lsort_col));
	}
}

static void k_invert(ui_state *u)
{
	if (u->view == UI_VIEW_MAIN)
		u->sort_desc = !u->sort_desc;
	else
		u->lsort_desc = !u->lsort_desc;
}

static void pin(ui_state *u)
{
	if (!u->result) {
		set_status(u, 1, "%s", "pin: no run to pin yet");
		return;
	}
	cJSON_Delete(u->pinned);
	u->pinned = cJSON_Duplicate(u->result, 1);
	u->pinned_run = u->runs_done;
	u->sort_col = -1;
	u->status_err = 0;
	snprintf(u->status, sizeof u->status, "pinned run #%u as A: later runs show A vs B per stratum (P unpins)",
		 u->runs_done);
}

static void k_pin(ui_state *u) { pin(u); }

static void k_unpin(ui_state *u)
{
	cJSON_Delete(u->pinned);
	u->pinned = NULL;
	u->sort_col = -1;
	set_status(u, 0, "%s", "unpinned");
}

/* The selected layer's weight format in the detail view: follow the
 * recipe, or one of these. */
static const char *const layer_fmts[] = {"recipe", "fp32", "int8", "int4", "fp8-e4m3", NULL};

static void layer_override(ui_state *u, int dir)
{
	const char *names[256];
	int n = tui_layer_names(u, names, 256);
	if (n < 1)
		return;
	char name[32];
	snprintf(name, sizeof name, "%s", names[tui_layer_pos(u, names, n)]);
	const eng_override *ov = eng_recipe_override(&u->recipe, name);
	const char *cur = !ov ? "recipe" : ov->keep ? "fp32" : kq_fmt_get(ov->weights)->name;
	int k = 0, at = 0;
	for (; layer_fmts[k]; k++)
		if (strcmp(layer_fmts[k], cur) == 0)
			at = k;
	const char *next = layer_fmts[((at + dir) % k + k) % k];
	eng_recipe r = u->recipe;
	/* drop the layer's override, then add the new one */
	int j = 0;
	for (int i = 0; i < r.noverrides; i++)
		if (strcmp(r.overrides[i].layer, name) != 0)
			r.overrides[j++] = r.overrides[i];
	r.noverrides = j;
	char err[512] = "", arg[64];
	int rc = 0;
	if (strcmp(next, "fp32") == 0) {
		rc = eng_recipe_set(&r, "keep", name, err, sizeof err);
	} else if (strcmp(next, "recipe") != 0) {
		snprintf(arg, sizeof arg, "%s=%s", name, next);
		rc = eng_recipe_set(&r, "layer", arg, err, sizeof err);
	}
	if (rc) {
		set_status(u, 1, "%s", err);
		return;
	}
	u->recipe = r;
	submit(u);
}

static void k_lprev(ui_state *u) { layer_override(u, -1); }
static void k_lnext(ui_state *u) { layer_override(u, +1); }

static void cmd_open(ui_state *u, const char *text);
static void k_cmd(ui_state *u) { cmd_open(u, NULL); }
static void k_export(ui_state *u) { cmd_open(u, "export "); }

static const ui_binding bindings[] = {
	{KEY_F(1), "F1", "Help", "this help", V_ALL, k_help},
	{'?', "?", NULL, "this help", V_ALL, k_help},
	{KEY_UP, "Up", NULL, "previous recipe row", V_MAIN, k_up},
	{'k', "k", NULL, NULL, V_MAIN, k_up},
	{KEY_DOWN, "Down", NULL, "next recipe row", V_MAIN, k_down},
	{'j', "j", NULL, NULL, V_MAIN, k_down},
	{KEY_HOME, "Home", NULL, "first recipe row (the model)", V_MAIN, k_first},
	{'g', "g", NULL, NULL, V_MAIN, k_first},
	{KEY_END, "End", NULL, "last recipe row (the seed)", V_MAIN, k_last},
	{'G', "G", NULL, NULL, V_MAIN, k_last},
	{KEY_LEFT, "Left", NULL, "previous value of the row (re-runs)", V_MAIN, k_prev},
	{'h', "h", NULL, NULL, V_MAIN, k_prev},
	{KEY_RIGHT, "Right", NULL, "next value of the row (re-runs)", V_MAIN, k_next},
	{'l', "l", NULL, NULL, V_MAIN, k_next},
	{'\n', "Enter", NULL, "next value of the row (re-runs)", V_MAIN, k_next},
	{KEY_ENTER, "Enter", NULL, NULL, V_MAIN, k_next},
	{KEY_UP, "Up", NULL, "previous layer", V_LAYERS | V_LAYER, k_lup},
	{'k', "k", NULL, NULL, V_LAYERS | V_LAYER, k_lup},
	{KEY_DOWN, "Down", NULL, "next layer", V_LAYERS | V_LAYER, k_ldown},
	{'j', "j", NULL, NULL, V_LAYERS | V_LAYER, k_ldown},
	{'\n', "Enter", NULL, "open the layer: histograms, precision override", V_LAYERS, k_open_layer},
	{KEY_ENTER, "Enter", NULL, NULL, V_LAYERS, k_open_layer},
	{KEY_LEFT, "Left", NULL, "the layer's previous precision: recipe/fp32/int8/int4/fp8 (re-runs)", V_LAYER, k_lprev},
	{'h', "h", NULL, NULL, V_LAYER, k_lprev},
	{KEY_RIGHT, "Right", NULL, "the layer's next precision (re-runs)", V_LAYER, k_lnext},
	{'l', "l", NULL, NULL, V_LAYER, k_lnext},
	{'\n', "Enter", NULL, "back to the layers table", V_LAYER, k_close_layer},
	{KEY_BACKSPACE, "Bksp", NULL, "back to the layers table", V_LAYER, k_close_layer},
	{'s', "s", NULL, "compute delta_alone / delta_all_but / flips per layer", V_LAYERS | V_LAYER, k_full_sens},
	{'\t', "Tab", NULL, "switch between the strata and the layers screens", V_ALL, k_tab},
	{KEY_F(2), "F2", "Recipe", "the strata screen with the recipe panel", V_ALL, k_main},
	{KEY_F(5), "F5", "Re-run", "run the current recipe again", V_ALL, k_rerun},
	{'r', "r", NULL, "run the current recipe again", V_ALL, k_rerun},
	{KEY_F(6), "F6", "Sort", "sort the table by the next column", V_ALL, k_sort},
	{'I', "I", NULL, "reverse the sort order", V_ALL, k_invert},
	{'p', "p", NULL, "pin the run on screen as A; later runs show A vs B", V_ALL, k_pin},
	{'P', "P", NULL, "unpin A", V_ALL, k_unpin},
	{KEY_F(9), "F9", "Export", "export the view: :export FILE.md|.html|.json", V_ALL, k_export},
	{':', ":", NULL, "command line (as in precis repl; Tab completes, Esc closes)", V_ALL, k_cmd},
	{27, "Esc", NULL, "cancel the running job (strata screen); back one screen (layers)", V_ALL, k_esc},
	{KEY_F(10), "F10", "Quit", "quit", V_ALL, k_quit},
	{'q', "q", NULL, "quit", V_ALL, k_quit},
};
#define NBINDINGS (sizeof bindings / sizeof *bindings)

static const char *const view_names[UI_VIEW_COUNT] = {"strata screen", "layers screen", "layer detail", "help"};

/* ---------------------------------------------------------------- drawing */

/* Help line i of the generated text into b; returns 0 past the end. */
static int help_line(int i, char *b, size_t l, attr_t *a)
{
	int k = 0;
	*a = A_NORMAL;
	for (int v = 0; v < UI_VIEW_HELP; v++) {
		if (k++ == i) {
			snprintf(b, l, "%s", view_names[v]);
			*a = A_BOLD;
			return 1;
		}
		for (size_t j = 0; j < NBINDINGS; j++) {
			const ui_binding *bd = &bindings[j];
			/* keys that work everywhere are listed once, under the first screen */
			if (!bd->help || !(bd->views & (1u << v)) || (bd->views == V_ALL && v != UI_VIEW_MAIN))
				continue;
			if (k++ == i) {
				snprintf(b, l, "  %-6s %s", bd->name, bd->help);
				return 1;
			}
			if (bd->key == ':' && k++ == i) {
				size_t n, len = (size_t)snprintf(b, l, "  %-6s commands:", "");
				const ui_command *t = ui_cmd_table(&n);
				for (size_t c = 0; c < n && len < l; c++)
					len += (size_t)snprintf(b + len, l - len, " %s", t[c].name);
				return 1;
			}
		}
	}
	if (k++ == i) {
		snprintf(b, l, "  Ctrl-C cancel the running job; a second Ctrl-C quits");
		return 1;
	}
	return 0;
}

int tui_help_lines(ui_state *u, int y)
{
	int total = 0;
	char line[400];
	attr_t a;
	while (help_line(total, line, sizeof line, &a))
		total++;
	int shown = LINES - y - 1;
	if (u->help_top > total - shown)
		u->help_top = total - shown > 0 ? total - shown : 0;
	snprintf(line, sizeof line, "precis explorer - keys (%s; any other key closes this help)",
		 total > shown ? "Up/Down/PgUp/PgDn scroll" : "from the key table");
	tui_put(y++, 0, COLS, A_BOLD, line);
	for (int i = u->help_top; i < total && y < LINES; i++) {
		help_line(i, line, sizeof line, &a);
		tui_put(y++, 0, COLS, a, line);
	}
	return y;
}

void tui_draw_fkeys(const ui_state *u, int y)
{
	int x = 0;
	move(y, 0);
	clrtoeol();
	for (size_t i = 0; i < NBINDINGS; i++) {
		if (!bindings[i].fkey)
			continue;
		tui_put(y, x, COLS - x, A_BOLD, bindings[i].name);
		x += (int)strlen(bindings[i].name);
		tui_put(y, x, COLS - x, u->color ? COLOR_PAIR(PAIR_BAR) : A_REVERSE, bindings[i].fkey);
		x += (int)strlen(bindings[i].fkey) + 1;
	}
	tui_put(y, x + 1, COLS - x - 1, A_DIM, "Tab layers  p pin  : cmd  q quit");
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
		k_help(u);
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

/* Opens the command line, with `text` already typed when not NULL. */
static void cmd_open(ui_state *u, const char *text)
{
	cmd_setup(u);
	u->cmdwin = newwin(1, COLS, LINES - 1, 0);
	if (!u->cmdwin)
		return;
	keypad(u->cmdwin, FALSE); /* readline decodes the escape sequences */
	nodelay(u->cmdwin, TRUE);
	curs_set(1);
	rl_callback_handler_install(":", cmd_line);
	if (text)
		rl_insert_text(text);
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
	tui_draw(u);
	cmd_flush(u);
}

/* ------------------------------------------------------------------- loop */

/* Statistics (and, once asked for, the full sensitivity) of the shown
 * recipe, for the layers screens: queued only when the worker is idle and
 * the screen shows the latest recipe, so it never cancels a run. */
static int sens_is_full(const cJSON *sens)
{
	return eng_json_get(cJSON_GetArrayItem(eng_json_get(sens, "layers"), 0), "delta_alone") != NULL;
}

static void want_sens(ui_state *u)
{
	int busy, stage;
	double done;
	ui_worker_progress(u->w, &busy, &stage, &done);
	int have = u->sens && (!u->sens_full || sens_is_full(u->sens));
	if (busy || have || !u->result || u->view == UI_VIEW_MAIN || u->runs_done != u->gen_sent)
		return;
	ui_worker_submit_kind(u->w, UI_JOB_SENSITIVITY, u->sens_full, u->model, &u->shown.recipe, u->shown.seed,
			      u->gen_sent);
	u->sens_busy = 1;
}

static void take_outcome(ui_state *u)
{
	ui_outcome o;
	if (!ui_worker_take(u->w, &o))
		return;
	if (o.kind == UI_JOB_SENSITIVITY) {
		u->sens_busy = 0;
		if (o.result && o.gen == u->runs_done) {
			cJSON_Delete(u->sens);
			u->sens = o.result;
			want_sens(u); /* the full sensitivity, when asked for while this ran */
		} else {
			cJSON_Delete(o.result);
			if (o.gen == u->gen_sent && strcmp(o.err, "cancelled") != 0)
				set_status(u, 1, "%s", o.err);
		}
		return;
	}
	if (o.result) {
		cJSON_Delete(u->result);
		u->result = o.result;
		u->shown = o;
		u->shown.result = NULL;
		u->runs_done = o.gen;
		cJSON_Delete(u->sens);
		u->sens = NULL;
		ui_cmd_learn(&u->cmd, o.result); /* layer names for completion */
		cJSON *h = cJSON_Duplicate(o.result, 1);
		if (h) {
			cJSON_AddNumberToObject(h, "run", o.gen);
			if (cJSON_GetArraySize(u->history) >= UI_HISTORY_MAX)
				cJSON_DeleteItemFromArray(u->history, 0);
			cJSON_AddItemToArray(u->history, h);
		}
		if (o.gen == u->gen_sent && !u->status_err)
			u->status[0] = 0;
		want_sens(u);
	} else if (o.gen == u->gen_sent) {
		/* errors of superseded jobs ("cancelled" by a newer change) are noise */
		if (strcmp(o.err, "cancelled") == 0)
			set_status(u, 0, "%s", u->ctrlc_armed ? "cancelled; Ctrl-C again quits, F5 re-runs" : "cancelled; F5 re-runs");
		else
			set_status(u, 1, "%s", o.err);
	}
}

/* Writes the view to path in the format its extension names; an existing
 * file waits for the user's y unless force. */
static int export_view(ui_state *u, const char *path, int force, char *err, size_t errlen)
{
	if (!u->result) {
		snprintf(err, errlen, "export: no run to export yet");
		return -1;
	}
	eng_report_fmt fmt;
	if (eng_report_format_parse(path, &fmt, err, errlen))
		return -1;
	struct stat st;
	if (!force && stat(path, &st) == 0) {
		snprintf(u->confirm, sizeof u->confirm, "%s", path);
		return 0;
	}
	const char *all[256];
	char layer[64] = "";
	int n = tui_layer_names(u, all, 256);
	if (n && u->view != UI_VIEW_MAIN)
		snprintf(layer, sizeof layer, "%s", all[tui_layer_pos(u, all, n)]);
	eng_report_in in = {.run = u->result, .pinned = u->pinned, .history = u->history, .sensitivity = u->sens,
			     .layer = layer[0] ? layer : NULL};
	if (eng_report_write(&in, fmt, path, force, err, errlen))
		return -1;
	snprintf(u->status, sizeof u->status, "wrote %s", path);
	u->status_err = 0;
	return 0;
}

static int cmd_export(ui_cmd_ctx *c, const char *path, int force, char *err, size_t errlen)
{
	return export_view(c->user, path, force, err, errlen);
}

static int cmd_pin(ui_cmd_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	pin(c->user);
	return 0;
}

static void on_key(ui_state *u, int ch)
{
	if (ch == KEY_RESIZE)
		return; /* the next draw uses the new LINES/COLS; not an answer */
	if (u->confirm[0]) {
		char err[600], path[4096];
		snprintf(path, sizeof path, "%s", u->confirm);
		u->confirm[0] = 0;
		if (ch == 'y' || ch == 'Y') {
			if (export_view(u, path, 1, err, sizeof err))
				set_status(u, 1, "%s", err);
		} else {
			set_status(u, 0, "kept %.400s; nothing written", path);
		}
		return;
	}
	if (u->view == UI_VIEW_HELP) { /* arrows and pages scroll; any other key closes */
		int page = LINES > 4 ? LINES - 3 : 1;
		int d = ch == KEY_DOWN || ch == 'j' ? 1 : ch == KEY_UP || ch == 'k' ? -1 : ch == KEY_NPAGE || ch == ' ' ? page
		      : ch == KEY_PPAGE ? -page : 0;
		if (d) {
			u->help_top = u->help_top + d < 0 ? 0 : u->help_top + d;
			return;
		}
		u->view = u->back;
		if (ch != 'q' && ch != KEY_F(10))
			return;
	}
	u->ctrlc_armed = 0;
	for (size_t i = 0; i < NBINDINGS; i++)
		if (bindings[i].key == ch && (bindings[i].views & (1u << u->view))) {
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
	u.stage_last = UI_STAGE_NONE;
	u.sort_col = u.lsort_col = -1;
	u.history = cJSON_CreateArray();
	u.w = u.history ? ui_worker_create(&o->sess, err, errlen) : NULL;
	if (!u.w) {
		cJSON_Delete(u.history);
		return -1;
	}
	ui_cmd_init(&u.cmd, &u.recipe, o->sess.model, NULL, cmd_run, &u);
	snprintf(u.model, sizeof u.model, "%s", o->sess.model ? o->sess.model : "cnn-fashion");
	u.models = eng_models_json(err, errlen);
	if (!u.models)
		u.models = cJSON_CreateArray();
	model_learn(&u);
	u.sel = 1; /* weights */
	u.cmd.pin = cmd_pin;
	u.cmd.export = cmd_export;

	setlocale(LC_CTYPE, ""); /* wide characters only; numbers stay in the C locale */
	u.ascii = strcmp(nl_langinfo(CODESET), "UTF-8") != 0;
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		snprintf(err, errlen, "cannot use terminal type '%s'", getenv("TERM") ? getenv("TERM") : "(unset)");
		ui_worker_destroy(u.w);
		cJSON_Delete(u.history);
		cJSON_Delete(u.models);
		return -1;
	}
	cbreak(); /* not raw(): Ctrl-C stays a signal, handled by src/ */
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	/* The command line's window runs with keypad off, which takes the
	 * terminal out of keypad-transmit mode until the next getch on
	 * stdscr; arrows typed in between arrive in normal-mode form, so
	 * both forms are keys. */
	static const struct {
		const char *seq;
		int key;
	} normal_mode[] = {{"\033[A", KEY_UP},    {"\033[B", KEY_DOWN}, {"\033[C", KEY_RIGHT},
			   {"\033[D", KEY_LEFT},  {"\033[H", KEY_HOME}, {"\033[F", KEY_END}};
	for (size_t i = 0; i < sizeof normal_mode / sizeof *normal_mode; i++)
		define_key(normal_mode[i].seq, normal_mode[i].key);
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
		init_pair(PAIR_PIN, COLOR_CYAN, -1);
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
	cJSON_Delete(u.history);
	cJSON_Delete(u.pinned);
	cJSON_Delete(u.sens);
	cJSON_Delete(u.models);
	return 0;
}
