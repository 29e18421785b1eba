/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng.h - the engine's public interface for src/ and ui/: sessions (one
 * model, its data and caches) and runs (one recipe: calibration,
 * quantization, accuracy per stratum with intervals, throughput), reported
 * as the SPEC §3 JSON object.  The engine never prints.
 *
 * Threads: a session is used by one thread at a time (the UI's worker);
 * progress callbacks run on that thread; `cancel` may be set from any
 * thread and is checked between batches. */
#ifndef PRECIS_ENG_H
#define PRECIS_ENG_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "eng_recipe.h"

typedef struct {
	const char *model;     /* name (data/models/NAME.safetensors) or path; NULL = cnn-fashion */
	int threads;           /* <= 0: all cores */
	uint64_t seed;         /* calibration draw and bootstrap */
	int eval_n;            /* first N samples of the evaluation order; 0 = all */
	const char *strata;    /* NULL = the family's default */
	const char *metric;    /* NULL = the family's default */
	int resamples;         /* bootstrap resamples; 0 = 1000 */
} eng_session_opts;

typedef struct eng_session eng_session;

/* Stage names passed to progress: "reference", "calibrate", "quantize",
 * "evaluate", "benchmark". */
typedef void (*eng_stage_fn)(void *user, const char *stage, double done);

/* Loads the model and its evaluation data.  NULL with err on failure. */
eng_session *eng_session_create(const eng_session_opts *o, char *err, size_t errlen);
void eng_session_destroy(eng_session *s);
/* The session's metric name ("top1", "bpc", ...). */
const char *eng_session_metric(const eng_session *s);

/* One run of recipe r.  Returns the SPEC §3 object (caller owns), or NULL
 * with err (bad recipe for this model, data missing, cancelled). */
cJSON *eng_session_eval(eng_session *s, const eng_recipe *r, eng_stage_fn progress, void *user,
			volatile int *cancel, char *err, size_t errlen);

/* Directory that holds models/ (env PRECIS_DATA_DIR, else the source tree's
 * data/, else the installed one). */
const char *eng_data_dir(void);
/* SPEC §5 `models --json` array (caller owns); NULL with err. */
cJSON *eng_models_json(char *err, size_t errlen);

/* Reading result objects by dotted path ("throughput.speedup"; a number
 * indexes an array: "ci95.0"): the item
 * (borrowed, NULL when absent), a number (NAN when absent or not a number),
 * a string ("" when absent or not a string). */
const cJSON *eng_json_get(const cJSON *o, const char *path);
double eng_json_num(const cJSON *o, const char *path);
const char *eng_json_str(const cJSON *o, const char *path);

/* Pareto frontier of n points (x: throughput, higher is better; y: delta,
 * higher is better).  Sets front[i] = 1 when no other point is at least as
 * good on both axes and better on one; points with a NaN coordinate are
 * never on it.  Returns how many are.  Cannot fail. */
int eng_pareto(const double *x, const double *y, int n, int *front);

/* ------------------------------------------ analysis (issue #6, doc/analysis.md) */

/* eng_session_eval_ex flags.  ENG_EVAL_NO_BENCH skips the throughput
 * benchmark: "throughput" then says "measured": false and has no ref,
 * quant or speedup (never made-up numbers), and timing.bench_ms is 0.
 * Every other field is as eng_session_eval gives it. */
#define ENG_EVAL_NO_BENCH 1u
cJSON *eng_session_eval_ex(eng_session *s, const eng_recipe *r, unsigned flags, eng_stage_fn progress, void *user,
			   volatile int *cancel, char *err, size_t errlen);

/* Per-layer sensitivity of recipe r: the SPEC §5 object (caller owns), or
 * NULL with err.  full = 0: statistics and histograms only (calibration
 * set; fast once the set is calibrated); full = 1: also each layer's
 * delta_alone, delta_all_but (each with ci95 and moved_most) and
 * flips_attributed, plus the full recipe's own delta.  Results are cached
 * in the session per (recipe, level), a full one also serving level 0; a
 * cached answer is a copy with "cached": true.  Progress stages:
 * "reference", "calibrate", "statistics", "sensitivity".  The fields are
 * described in doc/analysis.md. */
cJSON *eng_session_sensitivity(eng_session *s, const eng_recipe *r, int full, eng_stage_fn progress, void *user,
			       volatile int *cancel, char *err, size_t errlen);

/* An acceptance criterion: at most max_loss points (metric x 100; bits
 * for bpc, whose values are bits already) lost on
 * `all` and on the strata named (or on every stratum with strata_all).  It
 * HOLDS for a result when, for each of those strata, the end of the 95%
 * interval on the losing side is no worse than -max_loss: for a metric
 * where higher is better, ci95[0] >= -max_loss / 100; for one where lower
 * is better, ci95[1] <= max_loss / 100.  So a criterion holds only when the
 * data rule out a loss larger than allowed, not merely when the point
 * estimate is within it. */
typedef struct {
	double max_loss;           /* points, >= 0 */
	int strata_all;            /* every stratum must hold */
	int nstrata;
	const char *const *strata; /* named strata (borrowed); `all` is always checked */
	int max_steps;             /* search: promotions at most; < 0 for no limit */
} eng_criterion;

/* Checks criterion c against an eval result (SPEC §3 object).  Returns 1
 * when it holds, 0 when it does not, -1 when a named stratum is missing or
 * the result has no interval (err says which).  *shortfall (may be NULL)
 * receives the largest amount, in points, by which a checked stratum's
 * interval end passes the allowed loss (0 when it holds). */
int eng_criterion_check(const eng_criterion *c, const cJSON *eval, double *shortfall, char *err, size_t errlen);

/* Called after each search step with the step object and the best recipe
 * found so far (both borrowed, valid during the call). */
typedef void (*eng_search_step_fn)(void *user, const cJSON *step, const cJSON *best);

/* Automatic mixed precision: starting from recipe `start` (the most
 * aggressive uniform recipe the caller wants), ranks the layers by
 * eng_session_sensitivity (full) and promotes the most sensitive one notch
 * at a time (int4 -> int8 -> fp32; other formats -> fp32), evaluating each
 * step (with the benchmark), until criterion c holds.  The all-fp32 model
 * is the reference, not a candidate, so the search can fail.  Returns
 * {"criterion", "start", "ranking", "steps": [...], "met", "best":
 * {"step", "recipe", "met", "throughput", "strata", "shortfall_pt", "eval"},
 * "stopped"} (caller owns): the best is the fastest step that meets the
 * criterion or, when none does, the one closest to it.  best.eval is that
 * step's full result, its disclosure judged by eng_disclosure_assess(eval,
 * max_loss) and carrying the search's criterion as "search_criterion";
 * each step has "decision_grade".  On cancel after at least one step, the
 * partial result with "stopped": "cancelled" is returned and err says
 * "cancelled"; on an evaluation error after step 0, the result with
 * "stopped": "error" and "error" (the message, also in err).  NULL with
 * err when nothing could be evaluated.  Progress stages: those of
 * sensitivity and eval, and "search". */
cJSON *eng_search(eng_session *s, const eng_recipe *start, const eng_criterion *c, eng_search_step_fn on_step,
		  void *step_user, eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen);

/* A sweep grid: recipe options varied over values, points in a fixed
 * order (the first varied option changes slowest, like nested loops in the
 * order given; values in the order given).  Point i of shard I/N is run
 * when i % N == I. */
typedef struct eng_grid eng_grid;
eng_grid *eng_grid_create(void); /* NULL when out of memory */
void eng_grid_destroy(eng_grid *g); /* accepts NULL */
/* Adds one "KEY=V1,V2,..." dimension: KEY is a recipe option that takes a
 * value (eng_recipe_set's names, no dashes), each value is checked by
 * applying it.  0, or -1 with a sentence naming KEY or the value. */
int eng_grid_add(eng_grid *g, const char *spec, char *err, size_t errlen);
long eng_grid_size(const eng_grid *g); /* number of points (1 with no dimension) */
/* Applies point `index` to *r (the base recipe) and, when values is not
 * NULL, gives {"KEY": "VALUE", ...} of that point (caller owns).  0, or -1
 * with err (index out of range, or a value the recipe rejects). */
int eng_grid_apply(const eng_grid *g, long index, eng_recipe *r, cJSON **values, char *err, size_t errlen);

#endif
