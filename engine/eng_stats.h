/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_stats.h - classification metrics and the paired bootstrap that puts
 * a 95% interval on every quantized-minus-reference delta. */
#ifndef PRECIS_ENG_STATS_H
#define PRECIS_ENG_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Per-sample predictions of one model on the evaluation set. */
typedef struct {
	const int *pred;   /* predicted class (language models: the greedy next token) */
	const float *conf; /* probability of the predicted class (for ECE) */
	/* a real value per sample, or NULL: for the language-model families,
	 * -log2 of the probability given to the correct next token (for bpc) */
	const float *value;
} eng_preds;

typedef enum {
	ENG_METRIC_TOP1 = 0,
	ENG_METRIC_MACRO_F1,
	ENG_METRIC_ECE,
	ENG_METRIC_BPC, /* mean of eng_preds.value: bits per character */
	ENG_METRIC_COUNT
} eng_metric;

typedef struct {
	const char *name;        /* "top1", "macro-f1", "ece" */
	const char *definition;  /* one sentence for reports */
	int higher_is_better;
} eng_metric_info;

const eng_metric_info *eng_metric_get(eng_metric m);
/* KQ-style parse: 0 and *out set, or -1 for an unknown name. */
int eng_metric_parse(const char *name, eng_metric *out);

/* The metric over the samples idx[0..n) (indices into label/p).  Returns
 * NAN when n == 0, and for bpc when p->value is NULL.  ECE uses 15 equal-width confidence bins; macro-F1
 * averages F1 over the classes that occur among the labels or predictions
 * of the subset. */
double eng_metric_eval(eng_metric m, const int *idx, int n, const int *label, const eng_preds *p, int nclasses);

typedef struct {
	double ref, quant, delta;  /* metric of each, quant - ref */
	double lo, hi;             /* 95% paired-bootstrap percentile interval of delta */
	int flips;                 /* samples whose prediction differs */
} eng_paired;

/* Paired bootstrap: `resamples` resamples of idx (with replacement, same
 * indices for both models), percentile interval (2.5%, 97.5%).  Seeded and
 * deterministic.  Returns 0, or -1 when out of memory (r untouched) */
int eng_paired_bootstrap(eng_metric m, const int *idx, int n, const int *label, const eng_preds *ref,
			 const eng_preds *quant, int nclasses, int resamples, uint64_t seed, eng_paired *r);

/* The mean of v[j] over the samples j = idx[0..n) and its 95% percentile
 * interval from `resamples` bootstrap resamples of whole clusters:
 * cluster[j] >= 0 names sample j's cluster (a language model's evaluation
 * window, whose tokens are not independent), NULL makes every sample its
 * own.  A resample draws as many clusters as occur, with replacement, and
 * takes the ratio of their sums to their sample counts.  Seeded and
 * deterministic.  n == 0 gives NaNs; fewer than ENG_MIN_CLUSTERS clusters
 * give the mean with a NaN interval (a spread of one or two windows
 * estimates nothing).  0, or -1 when out of memory. */
#define ENG_MIN_CLUSTERS 5
int eng_mean_bootstrap(const float *v, const int *idx, int n, const int *cluster, int resamples, uint64_t seed,
		       double *mean, double *lo, double *hi);

/* splitmix64 step, and a uniform integer in [0, bound) (Lemire). */
uint64_t eng_rng_next(uint64_t *state);
uint32_t eng_rng_below(uint64_t *state, uint32_t bound);

#endif
