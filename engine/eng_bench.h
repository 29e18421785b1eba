/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_bench.h - kernel benchmarks: each quantized kernel timed against
 * OpenBLAS fp32 (and oneDNN int8 when built in) on the same shapes, in the
 * same run, reported as a cJSON object in the SPEC §5 `bench kernels` form;
 * and the model benchmark (`bench model`). */
#ifndef PRECIS_ENG_BENCH_H
#define PRECIS_ENG_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "eng_recipe.h"

typedef struct {
	int threads;  /* largest thread count; rows are run with 1 and this many */
	int repeats;  /* timed repeats per row (median reported), >= 1 */
	int quick;    /* 1: small shapes, GEMV not cache-cold: tests and smoke runs */
} eng_bench_opts;

/* Called between rows with a short description of what runs next and the
 * fraction done in [0, 1].  Runs on the calling thread. */
typedef void (*eng_progress_fn)(void *user, const char *what, double done);

/* Runs the kernel benchmark.  Returns a new cJSON object the caller owns
 * (cJSON_Delete), or NULL with a sentence in err when the run failed (out of
 * memory, the requested ISA unavailable).  progress may be NULL. */
cJSON *eng_bench_kernels(const eng_bench_opts *opts, eng_progress_fn progress, void *user,
			 char *err, size_t errlen);

/* `precis bench model` (engine/bench_model.c): a model's throughput at
 * batch 1, fp32 against a quantized recipe, in one run.  Decoders and the
 * rnn: pp128 (one 128-token prefill call) and tg128 (128 greedy decode
 * steps) in tokens/s; encoders and CNNs: samples/s at batch 1 and 64.
 * For a decoder, also synthetic decoders of the given widths (random
 * weights, speed only).  Fields: doc/kernels.md. */
typedef struct {
	const char *model;        /* name or path; NULL: decoder-text */
	const eng_recipe *recipe; /* the quantized side (borrowed) */
	int threads;              /* <= 0: all cores */
	int repeats;              /* > 0: exactly this many; 0: 5 (quick 2), 3 on rows cold by nature */
	int quick;                /* smoke run: fewer repeats, widths 64 and 128, short pauses */
	const int *widths;        /* synthetic decoder widths (multiples of 32); NULL: 128 ... 2048 */
	int nwidths;
	uint64_t seed;            /* synthetic weights and inputs */
} eng_bench_model_opts;

/* Runs the model benchmark.  Returns a new cJSON object the caller owns,
 * or NULL with a sentence in err; *usage (may be NULL) is then 1 when the
 * input was at fault (no such model, a width or recipe option that does
 * not apply) and 0 when the run failed.  progress may be NULL. */
cJSON *eng_bench_model(const eng_bench_model_opts *opts, eng_progress_fn progress, void *user, int *usage,
		       char *err, size_t errlen);

/* oneDNN peer (engine/onednn.c).  eng_onednn_available() is 0 when precis
 * was built without oneDNN; eng_onednn_s8_gops then returns -1. */
int eng_onednn_available(void);
const char *eng_onednn_version(void);
/* GOP/s of oneDNN's u8 x s8 -> s32 matmul on m x n x k with `threads`
 * OpenMP threads: median of `repeats` timed runs after warm-up, weights
 * reordered once before timing.  -1 on failure. */
double eng_onednn_s8_gops(int m, int n, int k, int threads, int repeats);

#endif
