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

/* One run of recipe r.  Returns the SPEC §3 object (caller owns), or NULL
 * with err (bad recipe for this model, data missing, cancelled). */
cJSON *eng_session_eval(eng_session *s, const eng_recipe *r, eng_stage_fn progress, void *user,
			volatile int *cancel, char *err, size_t errlen);

/* Directory that holds models/ (env PRECIS_DATA_DIR, else the source tree's
 * data/, else the installed one). */
const char *eng_data_dir(void);
/* SPEC §5 `models --json` array (caller owns); NULL with err. */
cJSON *eng_models_json(char *err, size_t errlen);

/* Reading result objects by dotted path ("throughput.speedup"): the item
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

#endif
