/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_analysis.c - `precis sensitivity`, `sweep`, `search` and `frontier`
 * (issue #6): the command-line faces of eng_session_sensitivity,
 * eng_grid, eng_search and eng_pareto, as tables, JSON lines and a text
 * scatter plot.
 *
 * DESIGN: each command first moves its own options out of argv (skipping
 * the values of recipe and session options, so a value is never taken for
 * an option), then hands the rest to parse_run_args, so the recipe options
 * mean exactly what they mean for eval.  Ctrl-C during sensitivity, sweep
 * or search sets a flag the engine checks between batches: a sweep keeps
 * the lines already written, a search still prints and saves its best
 * recipe so far.  Exit status: 0 success, 1 run failed (or criterion not
 * met, or interrupted), 2 bad usage or bad input.
 */
#include "config.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "eng.h"
#include "eng_report.h"
#include "plot.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

#define MAX_NAMED_STRATA 64

/* ------------------------------------------------------------ shared bits */

static volatile sig_atomic_t cancel_flag;
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the engine's cancel flag is an int");

static void on_sigint(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

/* Ctrl-C cancels the running work instead of killing the process. */
static void catch_sigint(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
}

static volatile int *cancel_ptr(void)
{
	return (volatile int *)&cancel_flag;
}

static void progress(void *user, const char *stage, double done)
{
	(void)user;
	fprintf(stderr, "\r\033[K%-12s %3.0f%%", stage, done * 100);
	fflush(stderr);
}

static void progress_clear(int tty)
{
	if (tty)
		fputs("\r\033[K", stderr);
}

/* Session and recipe options that take a value (besides the recipe options). */
static int session_opt_takes_value(const char *key)
{
	static const char *const opts[] = {"recipe", "model", "threads", "seed", "eval-n", "strata", "metric",
					   "tokenizer", "eval-file", "calib-file", NULL};
	for (const char *const *o = opts; *o; o++)
		if (strcmp(key, *o) == 0)
			return 1;
	int takes = 0;
	return eng_recipe_is_option(key, &takes) && takes;
}

typedef struct {
	const char *name; /* as typed: "--vary", "-o" */
	int takes_value;
} own_opt;

/* Moves the options in `own` out of argv, calling take(user, name, value)
 * for each (it returns 0 or an exit status); the rest stay in order for
 * parse_run_args.  Returns 0 or the exit status. */
static int take_options(int *argc, char **argv, const char *cmd, const own_opt *own,
			int (*take)(void *user, const char *name, const char *value), void *user)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const own_opt *o = NULL;
		for (const own_opt *p = own; p->name; p++)
			if (strcmp(argv[i], p->name) == 0)
				o = p;
		if (o) {
			if (o->takes_value && i + 1 >= *argc) {
				fprintf(stderr, "precis %s: %s needs a value\n", cmd, o->name);
				return EXIT_USAGE;
			}
			int rc = take(user, o->name, o->takes_value ? argv[i + 1] : NULL);
			if (rc)
				return rc;
			i += o->takes_value;
			continue;
		}
		argv[out++] = argv[i];
		if (strncmp(argv[i], "--", 2) == 0 && session_opt_takes_value(argv[i] + 2) && i + 1 < *argc)
			argv[out++] = argv[++i];
	}
	*argc = out;
	return 0;
}

/* Opens the session; prints the error.  NULL: exit 2 (the model or its
 * data could not be loaded, as for eval). */
static eng_session *open_session(const run_args *a, const char *cmd)
{
	char err[512] = "";
	eng_session *s = eng_session_create(&a->sess, err, sizeof err);
	if (!s)
		fprintf(stderr, "precis %s: %s\n", cmd, err);
	return s;
}

/* Exit status for an engine error: the user's input (an option, an
 * override) or the run. */
static int engine_exit(const char *err)
{
	return strncmp(err, "--", 2) == 0 || strstr(err, "override") ? EXIT_USAGE : EXIT_RUN;
}

/* Deltas print in points (metric x 100), or in bits for bpc, whose values
 * are bits already; a command sets this from the metric of what it prints
 * (one command runs per process). */
static int unit_bits;

static void set_unit(const char *metric)
{
	unit_bits = strcmp(metric, "bpc") == 0;
}

static const char *unit_name(void)
{
	return unit_bits ? "bits" : "points";
}

static double pt(double frac)
{
	return unit_bits ? frac : frac * 100;
}

/* "+0.12 [-0.08, +0.31]" in points (bits: 4 decimals) from a {"delta",
 * "ci95"} object; "n/a" for a missing interval. */
static void delta_ci(const cJSON *o, char *buf, size_t len)
{
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(o, "ci95");
	double d = eng_json_num(o, "delta"), lo = eng_json_num(cJSON_GetArrayItem(ci, 0), ""),
	       hi = eng_json_num(cJSON_GetArrayItem(ci, 1), "");
	int dp = unit_bits ? 4 : 2;
	if (isnan(d))
		snprintf(buf, len, "-");
	else if (isnan(lo) || isnan(hi))
		snprintf(buf, len, "%+.*f [n/a]", dp, pt(d));
	else
		snprintf(buf, len, "%+.*f [%+.*f, %+.*f]", dp, pt(d), dp, pt(lo), dp, pt(hi));
}

static void print_json(const cJSON *o)
{
	char *t = cJSON_Print(o);
	if (t)
		puts(t);
	free(t);
}

/* "conv2=int8, fc1=fp32" from a recipe object's overrides, or "none". */
static void overrides_text(const cJSON *recipe, char *buf, size_t len)
{
	buf[0] = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(recipe, "overrides"))
	{
		char one[96];
		snprintf(one, sizeof one, "%s%s=%s", buf[0] ? ", " : "", o->string,
			 cJSON_IsString(o) ? o->valuestring : eng_json_str(o, "weights"));
		strncat(buf, one, len - strlen(buf) - 1);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* ------------------------------------------------------------ sensitivity */

static void print_sensitivity(const cJSON *res, const eng_recipe *r)
{
	char desc[512];
	eng_recipe_describe(r, desc, sizeof desc);
	int full = cJSON_IsTrue(eng_json_get(res, "full"));
	set_unit(eng_json_str(res, "metric"));
	printf("%s (%s)  recipe: %s\n", eng_json_str(res, "model.name"), eng_json_str(res, "model.family"), desc);
	printf("statistics on the calibration set (%s:%.0f, seed %.0f); activations are each layer's input;\n"
	       "outlier = |a| max / p99.9, chan max = the largest input channel's |a| max / the median channel's\n",
	       eng_json_str(res, "calibration.set"), eng_json_num(res, "calibration.n"), eng_json_num(res, "calibration.seed"));
	printf("ranking: %s\n\n", eng_json_str(res, "rank_rule"));
	const cJSON *layers = eng_json_get(res, "layers"), *name;
	printf("%4s %-10s %-7s %-12s %-15s %9s %9s %9s %7s %8s %9s %9s %9s  %s\n", "rank", "layer", "type", "shape",
	       "W / A", "|w| max", "|a| max", "a p99.9", "outlier", "chan max", "W SQNR", "out SQNR", "per chan",
	       "clipped W / A");
	cJSON_ArrayForEach(name, eng_json_get(res, "ranking"))
	{
		const cJSON *l = NULL, *it;
		cJSON_ArrayForEach(it, layers) if (strcmp(eng_json_str(it, "name"), name->valuestring) == 0) l = it;
		if (!l)
			continue;
		char shape[48] = "", fmts[40], wsq[16], osq[16], csq[16], clip[40], ow[16], oa[16];
		const cJSON *d;
		cJSON_ArrayForEach(d, eng_json_get(l, "shape"))
		{
			char one[16];
			snprintf(one, sizeof one, "%s%d", shape[0] ? "x" : "", d->valueint);
			strncat(shape, one, sizeof shape - strlen(shape) - 1);
		}
		snprintf(fmts, sizeof fmts, "%s / %s", eng_json_str(l, "weights"), eng_json_str(l, "acts"));
		double v = eng_json_num(l, "weight_sqnr_db");
		snprintf(wsq, sizeof wsq, isnan(v) ? "exact" : "%.1f dB", v);
		v = eng_json_num(l, "output_sqnr_db");
		snprintf(osq, sizeof osq, isnan(v) ? "exact" : "%.1f dB", v);
		v = eng_json_num(l, "output_channel_sqnr_db");
		snprintf(csq, sizeof csq, isnan(v) ? "exact" : "%.1f dB", v);
		v = eng_json_num(l, "fraction_clipped.weights");
		snprintf(ow, sizeof ow, isnan(v) ? "-" : "%.2f%%", v * 100);
		v = eng_json_num(l, "fraction_clipped.acts");
		snprintf(oa, sizeof oa, isnan(v) ? "-" : "%.2f%%", v * 100);
		snprintf(clip, sizeof clip, "%s / %s", ow, oa);
		printf("%4.0f %-10s %-7s %-12s %-15s %9.4f %9.4f %9.4f %7.2f %8.1f %9s %9s %9s  %s\n",
		       eng_json_num(l, "rank"), eng_json_str(l, "name"), eng_json_str(l, "type"), shape, fmts,
		       eng_json_num(l, "weight_absmax"), eng_json_num(l, "act_absmax"), eng_json_num(l, "act_p999"),
		       eng_json_num(l, "outlier_ratio"), eng_json_num(l, "channel_outlier_ratio"), wsq, osq, csq, clip);
	}
	if (full) {
		char all[64];
		delta_ci(eng_json_get(res, "full_recipe"), all, sizeof all);
		printf("\naccuracy deltas (%s, %s) on %.0f evaluation samples, %s;\nfull recipe: all %s, %.0f flips\n",
		       eng_json_str(res, "metric"), unit_name(), eng_json_num(res, "eval.n"), eng_json_str(res, "eval.ci_method"), all,
		       eng_json_num(res, "full_recipe.flips"));
		printf("%4s %-10s %-22s %-34s %-22s %-34s %s\n", "rank", "layer", "only this quantized", "  moved most",
		       "all but this quantized", "  moved most", "flips attributed");
		cJSON_ArrayForEach(name, eng_json_get(res, "ranking"))
		{
			const cJSON *l = NULL, *it;
			cJSON_ArrayForEach(it, layers) if (strcmp(eng_json_str(it, "name"), name->valuestring) == 0) l = it;
			if (!l)
				continue;
			char al[64], ab[64], am[80] = "  -", bm[80] = "  -", mm[64];
			delta_ci(eng_json_get(l, "alone"), al, sizeof al);
			delta_ci(eng_json_get(l, "all_but"), ab, sizeof ab);
			const cJSON *m = eng_json_get(l, "alone.moved_most");
			if (cJSON_IsObject(m)) {
				delta_ci(m, mm, sizeof mm);
				snprintf(am, sizeof am, "  %s %s", eng_json_str(m, "stratum"), mm);
			}
			m = eng_json_get(l, "all_but.moved_most");
			if (cJSON_IsObject(m)) {
				delta_ci(m, mm, sizeof mm);
				snprintf(bm, sizeof bm, "  %s %s", eng_json_str(m, "stratum"), mm);
			}
			printf("%4.0f %-10s %-22s %-34s %-22s %-34s %.0f of %.0f\n", eng_json_num(l, "rank"), eng_json_str(l, "name"),
			       al, am, ab, bm, eng_json_num(l, "flips_attributed"), eng_json_num(res, "full_recipe.flips"));
		}
	}
	printf("\n%s in %.2f s%s\n", full ? "full sensitivity" : "statistics", eng_json_num(res, "elapsed_ms") / 1000,
	       cJSON_IsTrue(eng_json_get(res, "cached")) ? " (cached)" : "");
}

static int take_sens(void *user, const char *name, const char *value)
{
	(void)name, (void)value;
	*(int *)user = 1; /* --stats */
	return 0;
}

int cmd_sensitivity(int argc, char **argv)
{
	static const own_opt own[] = {{"--stats", 0}, {NULL, 0}};
	int stats_only = 0, rc = take_options(&argc, argv, "sensitivity", own, take_sens, &stats_only);
	run_args a = {0};
	if (rc || (rc = parse_run_args(argc, argv, &a, "sensitivity")))
		return rc;
	eng_session *s = open_session(&a, "sensitivity");
	if (!s)
		return EXIT_USAGE;
	catch_sigint();
	int tty = isatty(2);
	char err[512] = "";
	cJSON *res = eng_session_sensitivity(s, &a.recipe, !stats_only, tty ? progress : NULL, NULL, cancel_ptr(), err,
					     sizeof err);
	progress_clear(tty);
	if (!res) {
		fprintf(stderr, "precis sensitivity: %s\n", err);
		eng_session_destroy(s);
		return engine_exit(err);
	}
	if (a.json)
		print_json(res);
	else
		print_sensitivity(res, &a.recipe);
	cJSON_Delete(res);
	eng_session_destroy(s);
	return 0;
}

/* ------------------------------------------------------------------ sweep */

typedef struct {
	eng_grid *grid;
	int shard_i, shard_n, jsonl, nvary;
	char err[512];
} sweep_opts;

static int take_sweep(void *user, const char *name, const char *value)
{
	sweep_opts *o = user;
	if (strcmp(name, "--jsonl") == 0) {
		o->jsonl = 1;
	} else if (strcmp(name, "--vary") == 0) {
		if (eng_grid_add(o->grid, value, o->err, sizeof o->err)) {
			fprintf(stderr, "precis sweep: %s\n", o->err);
			return EXIT_USAGE;
		}
		o->nvary++;
	} else { /* --shard I/N */
		char *end;
		errno = 0;
		long i = strtol(value, &end, 10), n = -1;
		if (end != value && *end == '/' && end[1])
			n = strtol(end + 1, &end, 10);
		if (errno || *end || n < 1 || n > 1000000 || i < 0 || i >= n || !(value[0] >= '0' && value[0] <= '9')) {
			fprintf(stderr, "precis sweep: --shard: '%s' is not I/N with 0 <= I < N (shard I runs points I, I+N, I+2N, ...)\n",
				value);
			return EXIT_USAGE;
		}
		o->shard_i = (int)i, o->shard_n = (int)n;
	}
	return 0;
}

/* One sweep line: {"grid": {"index", "size", "values"}, ...the eval object}. */
static cJSON *sweep_line(cJSON *res, long index, long size, cJSON *values)
{
	cJSON *g = cJSON_CreateObject();
	cJSON_AddNumberToObject(g, "index", (double)index);
	cJSON_AddNumberToObject(g, "size", (double)size);
	cJSON_AddItemToObject(g, "values", values);
	cJSON_AddItemToObject(res, "grid", g);
	/* first, so lines sort by index with `sort -t: -k3,3n` */
	g = cJSON_DetachItemFromObjectCaseSensitive(res, "grid");
	cJSON_InsertItemInArray(res, 0, g);
	return res;
}

static void values_text(const cJSON *values, char *buf, size_t len)
{
	buf[0] = 0;
	const cJSON *v;
	cJSON_ArrayForEach(v, values)
	{
		char one[128];
		snprintf(one, sizeof one, "%s%s=%s", buf[0] ? " " : "", v->string, cJSON_IsString(v) ? v->valuestring : "?");
		strncat(buf, one, len - strlen(buf) - 1);
	}
}

int cmd_sweep(int argc, char **argv)
{
	static const own_opt own[] = {{"--vary", 1}, {"--shard", 1}, {"--jsonl", 0}, {NULL, 0}};
	sweep_opts o = {eng_grid_create(), 0, 1, 0, 0, ""};
	run_args a = {0};
	int rc = 0, failed = 0;
	if (!o.grid) {
		fprintf(stderr, "precis sweep: out of memory\n");
		return EXIT_RUN;
	}
	if ((rc = take_options(&argc, argv, "sweep", own, take_sweep, &o)) ||
	    (rc = parse_run_args(argc, argv, &a, "sweep")))
		goto out;
	if (a.json) {
		fprintf(stderr, "precis sweep: --json is not an option here (use --jsonl: one JSON object per line)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!o.nvary) {
		fprintf(stderr, "precis sweep: give at least one --vary KEY=V1,V2,... (for one recipe, use precis eval)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	long size = eng_grid_size(o.grid);
	eng_session *s = open_session(&a, "sweep");
	if (!s) {
		rc = EXIT_USAGE;
		goto out;
	}
	catch_sigint();
	int tty = isatty(2);
	if (!o.jsonl) {
		char desc[512];
		eng_recipe_describe(&a.recipe, desc, sizeof desc);
		printf("sweep of %ld point%s from: %s\n", size, size == 1 ? "" : "s", desc);
		if (o.shard_n > 1)
			printf("shard %d/%d: points %d, %d, ...\n", o.shard_i, o.shard_n, o.shard_i, o.shard_i + o.shard_n);
		set_unit(eng_session_metric(s));
		printf("%5s  %-44s %-28s %10s %8s\n", "point", "values",
		       unit_bits ? "delta all (bits) [95% CI]" : "delta all (pt) [95% CI]", unit_bits ? "tokens/s" : "samples/s",
		       "speedup");
	}
	for (long i = o.shard_i; i < size; i += o.shard_n) {
		eng_recipe r = a.recipe;
		cJSON *values = NULL, *res = NULL;
		char err[512] = "";
		if (eng_grid_apply(o.grid, i, &r, &values, err, sizeof err) == 0)
			res = eng_session_eval(s, &r, tty ? progress : NULL, NULL, cancel_ptr(), err, sizeof err);
		progress_clear(tty);
		if (!res && cancel_flag) {
			cJSON_Delete(values);
			fprintf(stderr, "precis sweep: interrupted at point %ld; the lines above are complete\n", i);
			failed = 1;
			break;
		}
		if (!res) {
			/* a point the engine refuses (say, a format without a path)
			 * still gets its line, so shards stay comparable */
			failed = 1;
			fprintf(stderr, "precis sweep: point %ld: %s\n", i, err);
			res = cJSON_CreateObject();
			cJSON_AddStringToObject(res, "error", err);
		}
		if (o.jsonl) {
			sweep_line(res, i, size, values ? values : cJSON_CreateObject());
			char *t = cJSON_PrintUnformatted(res);
			if (t)
				puts(t);
			free(t);
		} else {
			char vt[256], dc[64] = "failed: see stderr", tq[32], sp[32];
			values_text(values, vt, sizeof vt);
			if (!cJSON_GetObjectItemCaseSensitive(res, "error"))
				set_unit(eng_json_str(res, "metric")), delta_ci(cJSON_GetArrayItem(eng_json_get(res, "eval.strata"), 0), dc, sizeof dc);
			/* a failed point has no throughput: n/a, never "nan" */
			double q = eng_json_num(res, "throughput.quant"), x = eng_json_num(res, "throughput.speedup");
			snprintf(tq, sizeof tq, isnan(q) ? "n/a" : "%.0f", q);
			snprintf(sp, sizeof sp, isnan(x) ? "n/a" : "%.2fx", x);
			printf("%5ld  %-44s %-28s %10s %8s%s\n", i, vt, dc, tq, sp,
			       cJSON_IsTrue(eng_json_get(res, "throughput.emulated")) ? "  emulated" : "");
			cJSON_Delete(values);
		}
		fflush(stdout);
		cJSON_Delete(res);
	}
	eng_session_destroy(s);
	rc = failed ? EXIT_RUN : 0;
out:
	eng_grid_destroy(o.grid);
	return rc;
}

/* ----------------------------------------------------------------- search */

typedef struct {
	double max_loss;
	int have_loss, strata_all, nstrata, max_steps, force;
	const char *strata[MAX_NAMED_STRATA];
	const char *out;
} search_opts;

static int take_search(void *user, const char *name, const char *value)
{
	search_opts *o = user;
	char *end;
	if (strcmp(name, "--max-loss") == 0) {
		errno = 0;
		o->max_loss = strtod(value, &end);
		if (!*value || *end || errno || !(o->max_loss >= 0) || !isfinite(o->max_loss)) {
			fprintf(stderr, "precis search: --max-loss: '%s' is not a number of points >= 0 (0.5 = half a point)\n",
				value);
			return EXIT_USAGE;
		}
		o->have_loss = 1;
	} else if (strcmp(name, "--strata-all") == 0) {
		o->strata_all = 1;
	} else if (strcmp(name, "--stratum") == 0) {
		if (o->nstrata == MAX_NAMED_STRATA) {
			fprintf(stderr, "precis search: --stratum: at most %d strata\n", MAX_NAMED_STRATA);
			return EXIT_USAGE;
		}
		o->strata[o->nstrata++] = value;
	} else if (strcmp(name, "--max-steps") == 0) {
		errno = 0;
		long v = strtol(value, &end, 10);
		if (!*value || *end || errno || v < 0 || v > 100000) {
			fprintf(stderr, "precis search: --max-steps: '%s' is not a whole number from 0 to 100000\n", value);
			return EXIT_USAGE;
		}
		o->max_steps = (int)v;
	} else if (strcmp(name, "--force") == 0) {
		o->force = 1;
	} else { /* -o */
		o->out = value;
	}
	return 0;
}

static void print_step(void *user, const cJSON *step, const cJSON *best)
{
	(void)best;
	int tty = *(int *)user;
	char ov[512], line[512] = "";
	progress_clear(tty);
	double short_pt = eng_json_num(step, "shortfall_pt");
	printf("step %-3.0f %-34s %8.0f samples/s %6.2fx  criterion %s", eng_json_num(step, "step"),
	       eng_json_str(step, "change"), eng_json_num(step, "throughput.quant"), eng_json_num(step, "throughput.speedup"),
	       cJSON_IsTrue(eng_json_get(step, "holds")) ? "holds" : "fails");
	if (short_pt > 0)
		printf(" (short by %.2f pt)", short_pt);
	printf("\n");
	overrides_text(eng_json_get(step, "recipe"), ov, sizeof ov);
	printf("         weights %s, acts %s, %s, overrides: %s\n", eng_json_str(step, "recipe.weights"),
	       eng_json_str(step, "recipe.acts"), eng_json_str(step, "recipe.granularity"), ov);
	/* per-stratum deltas, checked strata marked with '*' */
	const cJSON *st;
	int col = 0;
	cJSON_ArrayForEach(st, eng_json_get(step, "strata"))
	{
		char dc[64], cell[112];
		delta_ci(st, dc, sizeof dc);
		snprintf(cell, sizeof cell, "%s%s %s", eng_json_str(st, "name"),
			 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "checked")) ? "*" : "", dc);
		if (col == 0)
			snprintf(line, sizeof line, "         ");
		size_t used = strlen(line);
		snprintf(line + used, sizeof line - used, "%-*s", unit_bits ? 46 : 38, cell);
		if (++col == 3) {
			printf("%s\n", line);
			col = 0;
		}
	}
	if (col)
		printf("%s\n", line);
	fflush(stdout);
}

int cmd_search(int argc, char **argv)
{
	static const own_opt own[] = {{"--max-loss", 1}, {"--strata-all", 0}, {"--stratum", 1}, {"--max-steps", 1},
				      {"-o", 1},         {"--force", 0},      {NULL, 0}};
	search_opts o = {0};
	o.max_steps = -1;
	run_args a = {0};
	int rc = take_options(&argc, argv, "search", own, take_search, &o);
	if (rc || (rc = parse_run_args(argc, argv, &a, "search")))
		return rc;
	if (!o.have_loss) {
		fprintf(stderr, "precis search: --max-loss POINTS is required (the loss allowed on 'all', in points)\n");
		return EXIT_USAGE;
	}
	if (o.out && strcmp(o.out, "-") == 0) {
		fprintf(stderr, "precis search: -o names the recipe file to write; standard output gets the search itself\n");
		return EXIT_USAGE;
	}
	if (o.out && (rc = cli_check_output("search", "-o", o.out, o.force)))
		return rc;
	eng_session *s = open_session(&a, "search");
	if (!s)
		return EXIT_USAGE;
	catch_sigint();
	int tty = isatty(2);
	eng_criterion c = {o.max_loss, o.strata_all, o.nstrata, o.strata, o.max_steps};
	set_unit(eng_session_metric(s));
	if (!a.json) {
		char desc[512];
		eng_recipe_describe(&a.recipe, desc, sizeof desc);
		printf("search from: %s\ncriterion: lose at most %.*f %s on all%s, judged on the 95%% interval "
		       "(its losing end must be no worse than %.*f); '*' marks the strata checked\n\n",
		       desc, unit_bits ? 4 : 2, o.max_loss, unit_name(),
		       o.strata_all ? " and on every stratum" : o.nstrata ? " and on the named strata" : "",
		       unit_bits ? 4 : 2, o.max_loss);
	}
	char err[512] = "";
	cJSON *res = eng_search(s, &a.recipe, &c, a.json ? NULL : print_step, &tty, tty ? progress : NULL, NULL,
				cancel_ptr(), err, sizeof err);
	progress_clear(tty);
	if (!res) {
		fprintf(stderr, "precis search: %s\n", err);
		eng_session_destroy(s);
		return engine_exit(err);
	}
	const cJSON *best = eng_json_get(res, "best");
	int met = cJSON_IsTrue(eng_json_get(res, "met"));
	const char *stopped = eng_json_str(res, "stopped");
	if (a.json)
		print_json(res);
	else {
		char ov[512], dc[64];
		overrides_text(eng_json_get(best, "recipe"), ov, sizeof ov);
		delta_ci(cJSON_GetArrayItem(eng_json_get(best, "strata"), 0), dc, sizeof dc);
		printf("\n%s: step %.0f, %.0f samples/s (%.2fx fp32), all %s\n  weights %s, acts %s, %s, overrides: %s\n",
		       met ? "found" : "criterion NOT met; best so far (closest to it)", eng_json_num(best, "step"),
		       eng_json_num(best, "throughput.quant"), eng_json_num(best, "throughput.speedup"), dc,
		       eng_json_str(best, "recipe.weights"), eng_json_str(best, "recipe.acts"),
		       eng_json_str(best, "recipe.granularity"), ov);
		if (!met)
			printf("  short of the criterion by %.4g %s (stopped: %s)\n", eng_json_num(best, "shortfall_pt"), unit_name(),
			       eng_json_str(res, "stopped"));
	}
	rc = met ? 0 : EXIT_RUN;
	if (o.out) {
		/* SPEC §4: the recipe object, one trailing newline as text files have */
		char *txt = cJSON_Print(eng_json_get(best, "recipe")), werr[512] = "out of memory";
		size_t len = txt ? strlen(txt) : 0;
		char *buf = txt ? malloc(len + 2) : NULL;
		if (buf)
			memcpy(buf, txt, len), buf[len] = '\n', buf[len + 1] = 0;
		if (!buf || eng_file_write_atomic(o.out, buf, len + 1, o.force, werr, sizeof werr) != 0) {
			fprintf(stderr, "precis search: %s\n", werr);
			rc = EXIT_RUN;
		} else if (!a.json)
			printf("  recipe saved to %s (precis eval --recipe %s)\n", o.out, o.out);
		free(buf), free(txt);
	}
	if (strcmp(stopped, "cancelled") == 0)
		fprintf(stderr, "precis search: interrupted; the best recipe so far is above\n");
	else if (strcmp(stopped, "error") == 0)
		fprintf(stderr, "precis search: stopped by an error: %s; the best recipe so far is above%s\n",
			eng_json_str(res, "error"), o.out ? " and saved" : "");
	cJSON_Delete(res);
	eng_session_destroy(s);
	return rc;
}

/* --------------------------------------------------------------- frontier */

typedef struct {
	double x, y, lo, hi, speedup;
	long index; /* grid index, or the line number when the line has none */
	char label[512];
	int front;
} fpoint;

static int cmp_fpoint(const void *a, const void *b)
{
	const fpoint *p = a, *q = b;
	return (p->x < q->x) - (p->x > q->x); /* fastest first */
}

/* A short recipe label for a line without grid values. */
static void recipe_label(const cJSON *r, char *buf, size_t len)
{
	char ov[256];
	overrides_text(r, ov, sizeof ov);
	snprintf(buf, len, "weights=%s acts=%s granularity=%s calib-method=%s%s%s", eng_json_str(r, "weights"),
		 eng_json_str(r, "acts"), eng_json_str(r, "granularity"), eng_json_str(r, "calib_method"),
		 strcmp(ov, "none") ? " overrides: " : "", strcmp(ov, "none") ? ov : "");
}

int cmd_frontier(int argc, char **argv)
{
	const char *file = NULL, *stratum = "all";
	int ascii = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--stratum") == 0 && i + 1 < argc)
			stratum = argv[++i];
		else if (strcmp(argv[i], "--ascii") == 0)
			ascii = 1;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "precis frontier: unknown option or missing value: '%s' (see precis --help)\n", argv[i]);
			return EXIT_USAGE;
		} else if (!file)
			file = argv[i];
		else {
			fprintf(stderr, "precis frontier: unexpected argument '%s' (one FILE.jsonl)\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!file) {
		fprintf(stderr, "precis frontier: name the FILE.jsonl a sweep wrote (precis sweep ... --jsonl > FILE.jsonl)\n");
		return EXIT_USAGE;
	}
	FILE *f = strcmp(file, "-") == 0 ? stdin : cli_open_input("frontier", NULL, file);
	if (!f)
		return EXIT_USAGE;
	fpoint *pts = NULL;
	int n = 0, cap = 0, skipped = 0, rc = 0, higher = 1;
	char *line = NULL;
	size_t lcap = 0;
	long lineno = 0;
	ssize_t got;
	errno = 0;
	while ((got = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r' || line[got - 1] == ' '))
			line[--got] = 0;
		if (got == 0)
			continue;
		cJSON *o = cJSON_Parse(line);
		const char *why = NULL;
		char whybuf[256];
		const cJSON *st = NULL, *it;
		if (!o || !cJSON_IsObject(o))
			why = "not a JSON object";
		else if (cJSON_GetObjectItemCaseSensitive(o, "error")) {
			skipped++; /* a point the sweep could not run: no position to plot */
			cJSON_Delete(o);
			continue;
		} else if (!isfinite(eng_json_num(o, "throughput.quant")))
			why = "no throughput.quant (was the sweep run with the benchmark?)";
		else {
			cJSON_ArrayForEach(it, eng_json_get(o, "eval.strata")) if (strcmp(eng_json_str(it, "name"), stratum) == 0) st = it;
			if (!st) {
				snprintf(whybuf, sizeof whybuf, "no stratum '%s' in eval.strata", stratum);
				why = whybuf;
			} else if (!isfinite(eng_json_num(st, "delta")))
				why = "the stratum has no delta";
		}
		if (why) {
			fprintf(stderr, "precis frontier: %s:%ld: %s\n", file, lineno, why);
			cJSON_Delete(o);
			rc = EXIT_USAGE;
			break;
		}
		if (n == cap) {
			fpoint *np = realloc(pts, (size_t)(cap = cap ? cap * 2 : 64) * sizeof *np);
			if (!np) {
				cJSON_Delete(o);
				fprintf(stderr, "precis frontier: out of memory\n");
				rc = EXIT_RUN;
				break;
			}
			pts = np;
		}
		fpoint *p = &pts[n++];
		memset(p, 0, sizeof *p);
		higher = !cJSON_IsFalse(eng_json_get(o, "eval.higher_is_better"));
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(st, "ci95");
		p->x = eng_json_num(o, "throughput.quant");
		p->speedup = eng_json_num(o, "throughput.speedup");
		/* y: the delta in points, in the metric's better direction */
		double sign = higher ? 1 : -1;
		set_unit(eng_json_str(o, "metric"));
		p->y = sign * pt(eng_json_num(st, "delta"));
		p->lo = pt(eng_json_num(cJSON_GetArrayItem(ci, 0), ""));
		p->hi = pt(eng_json_num(cJSON_GetArrayItem(ci, 1), ""));
		double gi = eng_json_num(o, "grid.index");
		p->index = isnan(gi) ? lineno : (long)gi;
		if (cJSON_IsObject(eng_json_get(o, "grid.values")) && cJSON_GetArraySize(eng_json_get(o, "grid.values")))
			values_text(eng_json_get(o, "grid.values"), p->label, sizeof p->label);
		else
			recipe_label(eng_json_get(o, "recipe"), p->label, sizeof p->label);
		cJSON_Delete(o);
	}
	/* a read error is not the end of the file: say so, not "no points" */
	int rerr = errno;
	if (!rc && ferror(f)) {
		cli_read_error("frontier", NULL, file, rerr);
		rc = EXIT_USAGE;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (!rc && n == 0) {
		fprintf(stderr, "precis frontier: %s: no evaluated points (%d failed points skipped)\n", file, skipped);
		rc = EXIT_USAGE;
	}
	if (rc) {
		free(pts);
		return rc;
	}
	double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
	int *front = malloc((size_t)n * sizeof *front);
	ui_plot_pt *pp = malloc((size_t)n * sizeof *pp);
	if (!x || !y || !front || !pp) {
		free(x), free(y), free(front), free(pp), free(pts);
		fprintf(stderr, "precis frontier: out of memory\n");
		return EXIT_RUN;
	}
	for (int i = 0; i < n; i++)
		x[i] = pts[i].x, y[i] = pts[i].y;
	int nf = eng_pareto(x, y, n, front);
	for (int i = 0; i < n; i++) {
		pts[i].front = front[i];
		pp[i] = (ui_plot_pt){pts[i].x, pts[i].y, front[i] ? UI_PLOT_FRONTIER : UI_PLOT_NORMAL};
	}
	qsort(pts, (size_t)n, sizeof *pts, cmp_fpoint);
	printf("Pareto frontier of %s: %d of %d point%s (throughput vs delta on '%s'%s)\n", file, nf, n, n == 1 ? "" : "s",
	       stratum, higher ? "" : "; plotted with its sign flipped, lower is better for this metric");
	if (skipped)
		printf("%d failed point%s skipped\n", skipped, skipped == 1 ? "" : "s");
	printf("\n%6s %12s %8s  %-26s %s\n", "point", "samples/s", "speedup", "delta (pt) [95% CI]", "recipe");
	for (int i = 0; i < n; i++) {
		if (!pts[i].front)
			continue;
		char dc[64];
		snprintf(dc, sizeof dc, "%+.2f [%+.2f, %+.2f]", higher ? pts[i].y : -pts[i].y, pts[i].lo, pts[i].hi);
		printf("%6ld %12.0f %7.2fx  %-26s %s\n", pts[i].index, pts[i].x, pts[i].speedup, dc, pts[i].label);
	}
	/* the scatter plot */
	setlocale(LC_CTYPE, "");
	int unicode = !ascii && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	ui_plot plot;
	const int lw = 9;
	if (ui_plot_render(&plot, pp, n, 64, 16, !unicode) == 0) {
		printf("\ndelta on '%s' (pt) vs samples/s; %s frontier, %s other points\n", stratum,
		       unicode ? "\xe2\x97\x86" : "*", unicode ? "\xe2\xa0\x81 (braille dots)" : "o");
		for (int r = 0; r < plot.h; r++) {
			char lab[32] = "";
			if (r == 0)
				snprintf(lab, sizeof lab, "%+8.2f", plot.ymax);
			else if (r == plot.h - 1)
				snprintf(lab, sizeof lab, "%+8.2f", plot.ymin);
			printf("%*s |", lw - 1, lab);
			for (int c = 0; c < plot.w; c++)
				fputs(plot.cells[r * plot.w + c].glyph, stdout);
			putchar('\n');
		}
		printf("%*s +", lw - 1, "");
		for (int c = 0; c < plot.w; c++)
			putchar('-');
		char lo[32], hi[32];
		snprintf(lo, sizeof lo, "%.0f", plot.xmin);
		snprintf(hi, sizeof hi, "%.0f samples/s", plot.xmax);
		printf("\n%*s  %-*s%s\n", lw - 1, "", plot.w - (int)strlen(hi), lo, hi);
		ui_plot_free(&plot);
	}
	free(x), free(y), free(front), free(pp), free(pts);
	return 0;
}
