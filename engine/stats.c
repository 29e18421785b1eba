/* SPDX-License-Identifier: GPL-3.0-or-later */
/* stats.c - metrics and the paired bootstrap.
 *
 * The bootstrap resamples sample indices, not per-model results, so both
 * models see the same resample: the interval is on the paired difference,
 * which is much narrower than the difference of two independent intervals
 * when the models agree on most samples.  top1 takes a fast path (the
 * per-sample difference is enough); other metrics are recomputed on each
 * resample.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eng_stats.h"

#define ECE_BINS 15

static const eng_metric_info metrics[ENG_METRIC_COUNT] = {
	{"top1", "top-1 accuracy: the fraction of samples whose highest-scoring class is the label", 1},
	{"macro-f1", "macro-averaged F1: the mean over classes of 2TP / (2TP + FP + FN)", 1},
	{"ece", "expected calibration error: sum over 15 equal-width confidence bins of "
		"|bin| / n * |accuracy(bin) - mean confidence(bin)|", 0},
	{"bpc", "bits per character: the mean over the predicted bytes of -log2 of the probability the model "
		"gives the correct next byte", 0},
};

const eng_metric_info *eng_metric_get(eng_metric m)
{
	return m >= 0 && m < ENG_METRIC_COUNT ? &metrics[m] : NULL;
}

int eng_metric_parse(const char *name, eng_metric *out)
{
	for (int i = 0; i < ENG_METRIC_COUNT; i++)
		if (strcmp(name, metrics[i].name) == 0) {
			*out = (eng_metric)i;
			return 0;
		}
	return -1;
}

uint64_t eng_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint32_t eng_rng_below(uint64_t *s, uint32_t bound)
{
	uint64_t m = (eng_rng_next(s) >> 32) * (uint64_t)bound;
	uint32_t low = (uint32_t)m;
	if (low < bound) {
		uint32_t t = (uint32_t)-bound % bound;
		while (low < t) {
			m = (eng_rng_next(s) >> 32) * (uint64_t)bound;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

/* scratch: 3 * nclasses ints (macro-F1) or 2 * ECE_BINS doubles + ECE_BINS ints */
static double eval_with(eng_metric m, const int *idx, int n, const int *label, const eng_preds *p, int nclasses,
			int *counts, double *sums)
{
	if (n <= 0)
		return NAN;
	switch (m) {
	case ENG_METRIC_TOP1: {
		int c = 0;
		for (int i = 0; i < n; i++)
			c += p->pred[idx[i]] == label[idx[i]];
		return (double)c / n;
	}
	case ENG_METRIC_MACRO_F1: {
		int *tp = counts, *fp = counts + nclasses, *fn = counts + 2 * nclasses;
		memset(counts, 0, 3 * (size_t)nclasses * sizeof *counts);
		for (int i = 0; i < n; i++) {
			int y = label[idx[i]], q = p->pred[idx[i]];
			if (q == y)
				tp[y]++;
			else {
				if (q >= 0 && q < nclasses)
					fp[q]++;
				fn[y]++;
			}
		}
		double sum = 0;
		int k = 0;
		for (int c = 0; c < nclasses; c++)
			if (tp[c] + fp[c] + fn[c] > 0) {
				sum += 2.0 * tp[c] / (2.0 * tp[c] + fp[c] + fn[c]);
				k++;
			}
		return k ? sum / k : NAN;
	}
	case ENG_METRIC_ECE: {
		int *cnt = counts;
		double *acc = sums, *conf = sums + ECE_BINS;
		memset(cnt, 0, ECE_BINS * sizeof *cnt);
		memset(sums, 0, 2 * ECE_BINS * sizeof *sums);
		for (int i = 0; i < n; i++) {
			float c = p->conf[idx[i]];
			int b = c >= 1.0f ? ECE_BINS - 1 : c <= 0.0f ? 0 : (int)(c * ECE_BINS);
			cnt[b]++;
			acc[b] += p->pred[idx[i]] == label[idx[i]];
			conf[b] += c;
		}
		double e = 0;
		for (int b = 0; b < ECE_BINS; b++)
			if (cnt[b])
				e += fabs(acc[b] - conf[b]) / n;
		return e;
	}
	case ENG_METRIC_BPC: {
		if (!p->value)
			return NAN;
		double sum = 0;
		for (int i = 0; i < n; i++)
			sum += p->value[idx[i]];
		return sum / n;
	}
	default:
		return NAN;
	}
}

static size_t scratch_ints(int nclasses)
{
	return (size_t)(3 * nclasses > ECE_BINS ? 3 * nclasses : ECE_BINS);
}

double eng_metric_eval(eng_metric m, const int *idx, int n, const int *label, const eng_preds *p, int nclasses)
{
	int *counts = malloc(scratch_ints(nclasses) * sizeof *counts);
	double sums[2 * ECE_BINS];
	double v = counts ? eval_with(m, idx, n, label, p, nclasses, counts, sums) : NAN;
	free(counts);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (numpy's default). */
static double quantile(const double *sorted, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)floor(pos);
	if (i >= n - 1)
		return sorted[n - 1];
	return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

int eng_paired_bootstrap(eng_metric m, const int *idx, int n, const int *label, const eng_preds *ref,
			 const eng_preds *quant, int nclasses, int resamples, uint64_t seed, eng_paired *r)
{
	int *counts = malloc(scratch_ints(nclasses) * sizeof *counts);
	int *sample = malloc((size_t)(n > 0 ? n : 1) * sizeof *sample);
	double *deltas = malloc((size_t)(resamples > 0 ? resamples : 1) * sizeof *deltas);
	signed char *d = malloc((size_t)(n > 0 ? n : 1));
	/* bpc: the per-sample difference, resampled like top1's */
	double *dv = m == ENG_METRIC_BPC && ref->value && quant->value ? malloc((size_t)(n > 0 ? n : 1) * sizeof *dv) : NULL;
	double sums[2 * ECE_BINS];
	if (!counts || !sample || !deltas || !d || (m == ENG_METRIC_BPC && ref->value && quant->value && !dv)) {
		free(counts), free(sample), free(deltas), free(d), free(dv);
		return -1;
	}
	r->ref = eval_with(m, idx, n, label, ref, nclasses, counts, sums);
	r->quant = eval_with(m, idx, n, label, quant, nclasses, counts, sums);
	r->delta = r->quant - r->ref;
	r->flips = 0;
	for (int i = 0; i < n; i++) {
		int j = idx[i];
		r->flips += ref->pred[j] != quant->pred[j];
		d[i] = (signed char)((quant->pred[j] == label[j]) - (ref->pred[j] == label[j]));
		if (dv)
			dv[i] = (double)quant->value[j] - ref->value[j];
	}
	uint64_t st = seed;
	for (int b = 0; b < resamples && n > 0; b++) {
		if (m == ENG_METRIC_TOP1) {
			long s = 0;
			for (int i = 0; i < n; i++)
				s += d[eng_rng_below(&st, (uint32_t)n)];
			deltas[b] = (double)s / n;
		} else if (dv) {
			double s = 0;
			for (int i = 0; i < n; i++)
				s += dv[eng_rng_below(&st, (uint32_t)n)];
			deltas[b] = s / n;
		} else {
			for (int i = 0; i < n; i++)
				sample[i] = idx[eng_rng_below(&st, (uint32_t)n)];
			deltas[b] = eval_with(m, sample, n, label, quant, nclasses, counts, sums) -
				    eval_with(m, sample, n, label, ref, nclasses, counts, sums);
		}
	}
	if (n > 0 && resamples > 0) {
		qsort(deltas, (size_t)resamples, sizeof *deltas, cmp_double);
		r->lo = quantile(deltas, resamples, 0.025);
		r->hi = quantile(deltas, resamples, 0.975);
	} else
		r->lo = r->hi = NAN;
	free(counts), free(sample), free(deltas), free(d), free(dv);
	return 0;
}

int eng_mean_bootstrap(const float *v, const int *idx, int n, const int *cluster, int resamples, uint64_t seed,
		       double *mean, double *lo, double *hi)
{
	*mean = *lo = *hi = NAN;
	if (n <= 0)
		return 0;
	int maxc = 0;
	for (int i = 0; cluster && i < n; i++)
		maxc = cluster[idx[i]] > maxc ? cluster[idx[i]] : maxc;
	int slots = cluster ? maxc + 1 : n, ncl = 0;
	double *sum = calloc((size_t)slots, sizeof *sum), *est = malloc((size_t)(resamples > 0 ? resamples : 1) * sizeof *est);
	int *cnt = calloc((size_t)slots, sizeof *cnt), *present = malloc((size_t)slots * sizeof *present);
	if (!sum || !est || !cnt || !present) {
		free(sum), free(est), free(cnt), free(present);
		return -1;
	}
	double total = 0;
	for (int i = 0; i < n; i++) {
		int c = cluster ? cluster[idx[i]] : i;
		sum[c] += v[idx[i]], cnt[c]++;
		total += v[idx[i]];
	}
	for (int c = 0; c < slots; c++)
		if (cnt[c])
			present[ncl++] = c;
	*mean = total / n;
	uint64_t st = seed;
	for (int b = 0; b < resamples; b++) {
		double s = 0;
		long k = 0;
		for (int i = 0; i < ncl; i++) {
			int c = present[eng_rng_below(&st, (uint32_t)ncl)];
			s += sum[c], k += cnt[c];
		}
		est[b] = s / k;
	}
	if (resamples > 0 && ncl >= ENG_MIN_CLUSTERS) {
		qsort(est, (size_t)resamples, sizeof *est, cmp_double);
		*lo = quantile(est, resamples, 0.025);
		*hi = quantile(est, resamples, 0.975);
	}
	free(sum), free(est), free(cnt), free(present);
	return 0;
}

int eng_pareto(const double *x, const double *y, int n, int *front)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		front[i] = !isnan(x[i]) && !isnan(y[i]);
		for (int j = 0; j < n && front[i]; j++)
			if (j != i && !isnan(x[j]) && !isnan(y[j]) && x[j] >= x[i] && y[j] >= y[i] &&
			    (x[j] > x[i] || y[j] > y[i]))
				front[i] = 0;
		count += front[i];
	}
	return count;
}
