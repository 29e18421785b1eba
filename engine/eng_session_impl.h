/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_session_impl.h - the session's insides, shared by run.c (sessions,
 * evaluation), sensitivity.c (per-layer sensitivity) and search.c (search
 * and sweep grids).  Internal to the engine: ui/ and src/ use eng.h only.
 *
 * Threads: as eng.h says, one thread uses a session at a time; the lanes
 * below are that thread's kq_parallel workers, each with its own one-thread
 * kernel context and scratch. */
#ifndef PRECIS_ENG_SESSION_IMPL_H
#define PRECIS_ENG_SESSION_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "eng.h"
#include "eng_calib.h"
#include "eng_io.h"
#include "eng_model.h"
#include "eng_qmodel.h"
#include "eng_stats.h"

#define SESS_BATCH 256      /* samples per forward call when one thread runs */
#define SESS_LANE_BATCH 128 /* samples per forward call in each lane */
#define SESS_MAX_CALIB 8    /* calibration observers kept per session */
#define SESS_MAX_SENS 16    /* sensitivity results kept per session */

typedef struct {
	char name[32];
	int n;
	int *idx;
} sess_stratum;

typedef struct {
	char set[32];
	int n;
	uint64_t seed;
	eng_observer *obs; /* one per quantizable layer */
} sess_calib_entry;

/* One cached sensitivity result: the recipe as compact JSON text, the
 * level it was computed at, the object (owned). */
typedef struct {
	char *key;
	int full;
	cJSON *res;
	unsigned long used; /* for least-recently-used eviction */
} sess_sens_entry;

typedef struct sess_family sess_family;

/* One thread's share of a parallel forward pass: the engine splits batches
 * across lanes, each calling the kernels with a one-thread context, so
 * every layer (im2col, quantize, GEMM, pooling) runs in parallel and no
 * runtime's spinning worker threads (OpenBLAS's) compete with ours. */
typedef struct {
	kq_ctx *ctx1;
	float *ws, *logits; /* eng_forward scratch and logits for SESS_LANE_BATCH samples */
	size_t wscap;
	eng_qrunner *qr;
	char err[256];
} sess_lane;

struct eng_session {
	const sess_family *fam;
	eng_model *m;
	kq_ctx *ctx;
	int threads;
	uint64_t seed;
	int resamples;
	eng_metric metric;
	char strata_kind[32];
	/* evaluation set */
	int n;
	/* samples per lane chunk: a language model's evaluation window (each
	 * chunk one whole window, so state or context never crosses chunks),
	 * SESS_LANE_BATCH otherwise; set by the family's load */
	int chunk;
	int *cluster; /* language models: each sample's evaluation window (i / chunk), else NULL */
	float *x; /* n x in_c*in_h*in_w, normalised, NHWC */
	int *label;
	char eval_desc[256];
	/* calibration source */
	eng_idx train_img, train_lab;
	double *pixel_sd; /* per-image pixel std-dev, between loading and strata */
	/* caches */
	int *pred_ref;
	float *conf_ref;
	float *value_ref; /* language models: -log2 p(true next token) per sample, else NULL */
	float *lp_ref;    /* language models: the reference's log-probabilities, n x out_dim, else NULL */
	double ref_ms;
	sess_stratum *strata;
	int nstrata;
	sess_calib_entry calib[SESS_MAX_CALIB];
	int ncalib;
	sess_sens_entry sens[SESS_MAX_SENS];
	int nsens;
	unsigned long sens_clock;
	float *ws;
	size_t wscap;
	sess_lane *lanes;
	int nlanes;
	/* the family's own state (the sequence families: model, text data,
	 * per-lane scratch), owned through sess_family.close */
	void *fam_data;
	const char *variant; /* the model's stress-variant label, or NULL (borrowed from fam_data) */
	/* 1 while eval runs the quantized model of a recipe with --attn int8:
	 * the family's forward then quantizes the attention products (the
	 * reference, calibration and fp32 benchmark run with it 0) */
	int attn_int8;
	/* likewise the KV-cache format of --kv while eval runs the quantized
	 * model (KQ_FMT_F32 otherwise; the decoder family's forward rounds
	 * every new key and value to it) */
	kq_fmt kv;
};

/* A family: its data, calibration sets, strata and metrics.  The engine
 * reaches a family only through this table. */
struct sess_family {
	const char *name;
	const char *default_model;
	const char *const *calib_sets;
	const char *calib_desc; /* how each set is drawn, for the disclosure */
	const char *const *strata_kinds;
	eng_metric default_metric;
	const char *const *metrics;
	int (*load)(eng_session *s, char *err, size_t errlen);
	/* n normalised samples of calibration set `set` into *x (malloc'd) */
	int (*calib_draw)(eng_session *s, const char *set, int n, uint64_t seed, float **x, char *err, size_t errlen);
	int (*build_strata)(eng_session *s, char *err, size_t errlen);
	/* One forward pass of `batch` samples (x: batch x sess_sample_floats)
	 * through backend be, logits out; ws as eng_forward_ws_floats sizes it
	 * for that batch.  Every quantizable layer goes through be. */
	int (*forward)(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		       char *err, size_t errlen);
	/* 1 when each quantizable layer runs exactly once per forward call, in
	 * qindex order, on `batch` rows of one sample each (its output is
	 * batch x out_c x out_h x out_w values), and reaches later layers only
	 * through that output (a feed-forward graph): sensitivity may then
	 * replay a layer's recorded output instead of recomputing it.  0 for
	 * anything else (a sequence model calling a layer per token). */
	int replayable;
	/* The shipped models of the family by name, the default first. */
	const char *const *models;
	/* Loads the model file into s->m (and s->fam_data, s->variant);
	 * NULL: eng_model_load.  0 or -1 with err. */
	int (*open)(eng_session *s, const char *path, char *err, size_t errlen);
	/* Frees what open made (s->m included); NULL: eng_model_destroy. */
	void (*close)(eng_session *s);
	/* The `models --json` entry of a model file: name, family, path,
	 * params, task, strata (and variant); the caller adds the family's
	 * metric, calibration sets and metrics.  NULL with err. */
	cJSON *(*model_info)(const char *path, char *err, size_t errlen);
	/* 1 when the models have attention products --attn can quantize */
	int attention;
	/* 1 for a language model: a sample is one predicted token whose label
	 * is the true next token, the session keeps value = -log2 p(label) per
	 * sample (eng_preds.value) and the reference's log-probabilities,
	 * reports top1_agree, ppl_ratio and KLD vs fp32 per stratum and
	 * throughput in tokens/s */
	int lm;
	/* 1 when the models keep a KV cache (--kv applies) */
	int kv_cache;
	/* NULL, or the family's results beyond the per-sample metrics, added
	 * to the run object `root` (strata extras, throughput, memory) after
	 * the strata are in: called with the lanes bound to the recipe's
	 * quantized model qm and s->attn_int8 / s->kv set for it; `bench` is 0
	 * when eval runs without timing (ENG_EVAL_NO_BENCH).  0 or -1 with err. */
	int (*eval_extra)(eng_session *s, const eng_recipe *r, eng_qmodel *qm, cJSON *root, int bench,
			  eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen);
};

/* The sequence families (engine/fam_text.c). */
extern const sess_family sess_family_encoder;
extern const sess_family sess_family_rnn;     /* engine/fam_lm.c */
extern const sess_family sess_family_decoder; /* engine/fam_lm.c */

typedef enum { SESS_RUN_F32, SESS_RUN_QUANT, SESS_RUN_FAKE } sess_run_kind;

double sess_now_ms(void);
/* The family's forward pass (see sess_family.forward). */
int sess_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws, char *err,
		 size_t errlen);
/* The k-th chunk lane `lane` of `nlanes` works on in the block [start,
 * start + count), start a multiple of `chunk` (s->chunk): chunks are
 * `chunk` samples aligned on the whole set and dealt round-robin
 * (chunk lane + k * nlanes), so every sample is computed in the same batch
 * whatever the number of lanes, and results do not depend on --threads.
 * 0 with [*b, *b + *nb), or -1 when the lane has no k-th chunk. */
int sess_lane_chunk(int chunk, int start, int count, int lane, int nlanes, int k, int *b, int *nb);
/* Floats per sample of the model input. */
int sess_sample_floats(const eng_session *s);

/* The fp32 reference predictions on the evaluation set, once per session.
 * 0, or -1 with err (cancelled, out of memory). */
int sess_reference(eng_session *s, eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen);

/* The calibration set and size recipe r asks for, checked against the
 * family ("small" is always 16).  0, or -1 with err naming --calib-set. */
int sess_calib_spec(const eng_session *s, const eng_recipe *r, char set[32], int *n, char *err, size_t errlen);
/* Draws recipe r's calibration samples (the same draw calibration uses):
 * *x (caller frees) holds *n samples.  0 or -1 with err. */
int sess_calib_draw(eng_session *s, const eng_recipe *r, float **x, int *n, char *err, size_t errlen);
/* Observers of recipe r's calibration set, one per quantizable layer, both
 * passes done; cached per (set, n, seed, smooth alpha), owned by the session (valid until
 * the session is destroyed or SESS_MAX_CALIB other sets were calibrated).
 * NULL with err on failure.  *fresh (may be NULL) says whether it ran. */
const eng_observer *sess_calibrate(eng_session *s, const eng_recipe *r, volatile int *cancel, eng_stage_fn progress,
				   void *user, int *fresh, char *err, size_t errlen);
/* Whether recipe r needs calibrated activation ranges. */
int sess_needs_calibration(const eng_recipe *r);

/* Gives every lane a runner for qm (NULL: drops them).  0 or -1 (memory). */
int sess_lanes_bind(eng_session *s, eng_qmodel *qm);
/* Runs samples [0, count) through every lane with the runners bound (for
 * SESS_RUN_QUANT/FAKE), writing predictions (pred and conf may be NULL).
 * Reports `stage` to progress after each block.  0 or -1 with err. */
int sess_predict(eng_session *s, sess_run_kind kind, int count, int *pred, float *conf, eng_stage_fn progress,
		 void *user, const char *stage, volatile int *cancel, char *err, size_t errlen);
/* sess_predict that also writes value = -log2 p(label) per sample
 * (language models; value may be NULL). */
int sess_predict_values(eng_session *s, sess_run_kind kind, int count, int *pred, float *conf, float *value,
			eng_stage_fn progress, void *user, const char *stage, volatile int *cancel, char *err, size_t errlen);
/* The paired comparison of predictions q (value too for a language model)
 * with the session's reference on stratum st, as eng_paired_bootstrap
 * gives it; a language model's interval resamples whole evaluation
 * windows (eng_mean_bootstrap over s->cluster).  0 or -1 (memory). */
int sess_paired(const eng_session *s, const sess_stratum *st, const eng_preds *q, eng_paired *pr);
/* parent[name] = {"value": v, "ci95": [lo, hi]} (NaN ends: null), rounded
 * to 6 decimals; the object, or NULL (memory). */
cJSON *sess_add_interval(cJSON *parent, const char *name, double v, double lo, double hi);
/* Index and probability of the largest logit. */
void sess_argmax_conf(const float *logits, int nc, int *pred, float *conf);

/* How a layer's GEMM runs, in words ("int8 x int8 kernel"). */
const char *sess_wpath_name(eng_wpath p);
/* The common part of a `models --json` entry (name, family, path,
 * params, task, and variant when not NULL); the family adds its strata. */
cJSON *sess_model_info_base(const eng_model *m, const char *path, const char *variant);
/* SPEC §3 `model` object (caller owns). */
cJSON *sess_model_json(const eng_session *s);
/* Frees the sensitivity cache (called by eng_session_destroy). */
void sess_sens_cache_clear(eng_session *s);

#endif
