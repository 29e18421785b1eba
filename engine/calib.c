/* SPDX-License-Identifier: GPL-3.0-or-later */
/* calib.c - observers and the four calibration methods.
 *
 * DESIGN: histograms are exact counts of what was observed, so every
 * method is a pure function of (observer, method, quantizer) and can be
 * re-derived for another weight format without a new calibration pass
 * (the run caches observers per model, calibration set, size and seed).
 * An observer is plain data owned by its caller; nothing here allocates or
 * keeps state between calls, so observers may be filled on any thread as
 * long as one thread at a time touches a given observer.
 *
 * The histograms bin exactly as numpy.histogram does (same double
 * arithmetic and the same one-ulp edge correction), so that the fixtures
 * written by tools/gen_calib_fixtures.py can be compared bin for bin.
 * Non-finite values are skipped and not counted: one stray inf must not
 * stretch the range, and n must count only what the histograms hold, or
 * every quantile would be shifted by the skipped mass.
 *
 * SmoothQuant needs two more things: each input channel's absmax (kept in
 * pass 1 alongside the range, so it costs no extra pass), and histograms
 * of the smoothed activations x / s, whose divisors s depend on alpha and
 * are only known after pass 1.  So pass 2 bins x / s when divisors are
 * set: an observer smoothed that way belongs to one alpha, and callers
 * that cache observers key them by it too.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_calib.h"

static const char *const cal_names[ENG_CAL_COUNT] = {"minmax", "percentile", "entropy", "mse"};

int eng_cal_parse(const char *s, eng_cal_method *out, char *err, size_t errlen)
{
	if (!s || !*s) {
		snprintf(err, errlen, "no calibration method given: use minmax, percentile:P, entropy or mse");
		return -1;
	}
	const char *colon = strchr(s, ':');
	size_t l = colon ? (size_t)(colon - s) : strlen(s);
	int kind = -1;
	for (int i = 0; i < ENG_CAL_COUNT; i++)
		if (strlen(cal_names[i]) == l && strncmp(s, cal_names[i], l) == 0)
			kind = i;
	if (kind < 0) {
		snprintf(err, errlen, "calibration method '%s' is not one of minmax, percentile:P, entropy, mse", s);
		return -1;
	}
	if (kind != ENG_CAL_PERCENTILE) {
		if (colon) {
			snprintf(err, errlen, "calibration method '%s': %s takes no parameter, write just '%s'", s,
				 cal_names[kind], cal_names[kind]);
			return -1;
		}
		out->kind = (eng_cal_kind)kind;
		out->pct = 0;
		return 0;
	}
	if (!colon || !colon[1]) {
		snprintf(err, errlen, "calibration method '%s' needs a percentile P in (50, 100], e.g. percentile:99.99", s);
		return -1;
	}
	/* strtod would also take leading blanks, "inf" and "nan"; a
	 * percentile is spelled with digits. */
	const char *num = colon + 1, *d = num + (*num == '+' || *num == '-');
	char *end = NULL;
	double p = isdigit((unsigned char)*d) || *d == '.' ? strtod(num, &end) : NAN;
	if (!end || end == num || *end) {
		snprintf(err, errlen, "calibration method '%s': '%s' is not a number, e.g. percentile:99.99", s, num);
		return -1;
	}
	if (!(p > 50 && p <= 100)) {
		snprintf(err, errlen, "calibration method '%s': percentile %g is outside (50, 100], e.g. percentile:99.99", s, p);
		return -1;
	}
	out->kind = ENG_CAL_PERCENTILE;
	out->pct = p;
	return 0;
}

void eng_cal_format(const eng_cal_method *m, char *buf, size_t len)
{
	if (!len)
		return;
	if ((unsigned)m->kind >= ENG_CAL_COUNT) {
		snprintf(buf, len, "?");
		return;
	}
	if (m->kind != ENG_CAL_PERCENTILE) {
		snprintf(buf, len, "%s", cal_names[m->kind]);
		return;
	}
	/* The shortest spelling without an exponent that reads back as the
	 * same double: a plain %g rounds 99.999999 to "100", a different
	 * method, and a short %g writes 100 as "1e+02". */
	char tmp[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, m->pct);
		if (!strchr(tmp, 'e') && strtod(tmp, NULL) == m->pct)
			break;
	}
	snprintf(buf, len, "percentile:%s", tmp);
}

void eng_obs_init(eng_observer *o)
{
	memset(o, 0, sizeof *o);
	o->lo = INFINITY;
	o->hi = -INFINITY;
	o->pass = 1;
}

void eng_obs_next_pass(eng_observer *o)
{
	if (!(o->lo <= o->hi))
		o->lo = o->hi = 0;
	o->pass = 2;
	o->cpos = 0;
}

/* The bins of one histogram: ENG_HIST_BINS equal bins over [first, last]. */
typedef struct {
	double first, last, norm, step;
} bins;

static bins bins_over(double first, double last)
{
	double w = last - first;
	bins b = {first, last, w > 0 ? ENG_HIST_BINS / w : 0, w / ENG_HIST_BINS};
	return b;
}

/* Left edge of bin k, k = ENG_HIST_BINS giving the right end, computed as
 * numpy.linspace does so that both agree on which bin a value is in. */
static double bin_edge(const bins *b, int k)
{
	return k >= ENG_HIST_BINS ? b->last : k * b->step + b->first;
}

/* The bin of v: numpy.histogram's index, including its correction for
 * values within an ulp of an edge; the last bin is closed.  Values outside
 * the range (a second pass that sees data the first did not) go to the end
 * bins rather than being lost, so n stays the histograms' total. */
static int bin_of(const bins *b, double v)
{
	if (!(b->norm > 0))
		return 0;
	double f = (v - b->first) * b->norm;
	int k = f <= 0 ? 0 : f >= ENG_HIST_BINS ? ENG_HIST_BINS - 1 : (int)f;
	if (k > 0 && v < bin_edge(b, k))
		k--;
	else if (k < ENG_HIST_BINS - 1 && v >= bin_edge(b, k + 1))
		k++;
	return k;
}

void eng_obs_init_chan(eng_observer *o, int nchan, float *store)
{
	eng_obs_init(o);
	if (nchan <= 0 || !store)
		return;
	o->nchan = nchan;
	o->cmin = store;
	o->cmax = store + nchan;
	o->sdiv = store + 2 * (size_t)nchan;
	for (int c = 0; c < nchan; c++)
		o->cmin[c] = INFINITY, o->cmax[c] = -INFINITY, o->sdiv[c] = 1;
}

float eng_obs_chan_absmax(const eng_observer *o, int c)
{
	if (c < 0 || c >= o->nchan || !(o->cmin[c] <= o->cmax[c]))
		return 0;
	return fmaxf(fabsf(o->cmin[c]), fabsf(o->cmax[c]));
}

int eng_obs_set_divisors(eng_observer *o, const float *s, double alpha)
{
	if (o->pass != 2 || o->n > 0 || o->nchan <= 0)
		return -1;
	for (int c = 0; c < o->nchan; c++)
		if (!(s[c] > 0 && isfinite(s[c])))
			return -1;
	/* the range of x / s follows exactly from the per-channel extremes
	 * (s > 0 keeps each channel's order), so no extra pass is needed;
	 * the division is the one eng_obs_add does, so the histogram's ends
	 * are the very values it will bin */
	float lo = INFINITY, hi = -INFINITY;
	for (int c = 0; c < o->nchan; c++) {
		if (!(o->cmin[c] <= o->cmax[c]))
			continue;
		lo = fminf(lo, o->cmin[c] / s[c]);
		hi = fmaxf(hi, o->cmax[c] / s[c]);
	}
	if (lo <= hi && !(isfinite(lo) && isfinite(hi)))
		return -1; /* a divisor so small that x / s overflows */
	memcpy(o->sdiv, s, (size_t)o->nchan * sizeof *s);
	o->lo = lo <= hi ? lo : 0;
	o->hi = lo <= hi ? hi : 0;
	o->smooth = alpha;
	o->cpos = 0;
	return 0;
}

void eng_obs_add(eng_observer *o, const float *x, size_t n)
{
	if (o->pass == 1) {
		float lo = o->lo, hi = o->hi;
		for (size_t i = 0; i < n; i++) {
			if (!isfinite(x[i]))
				continue;
			lo = x[i] < lo ? x[i] : lo;
			hi = x[i] > hi ? x[i] : hi;
		}
		o->lo = lo, o->hi = hi;
		if (o->nchan > 0) {
			/* values arrive channel-fastest; a non-finite one still
			 * takes its channel's turn */
			size_t c = o->cpos;
			for (size_t i = 0; i < n; i++) {
				if (isfinite(x[i])) {
					o->cmin[c] = x[i] < o->cmin[c] ? x[i] : o->cmin[c];
					o->cmax[c] = x[i] > o->cmax[c] ? x[i] : o->cmax[c];
				}
				if (++c == (size_t)o->nchan)
					c = 0;
			}
			o->cpos = c;
		}
		return;
	}
	bins sb = bins_over(o->lo, o->hi), ab = bins_over(0, fmax(fabs(o->lo), fabs(o->hi)));
	double seen = 0;
	if (o->smooth > 0) {
		size_t c = o->cpos;
		for (size_t i = 0; i < n; i++) {
			float v = x[i] / o->sdiv[c];
			if (++c == (size_t)o->nchan)
				c = 0;
			if (!isfinite(v))
				continue;
			o->hist[bin_of(&sb, v)]++;
			o->ahist[bin_of(&ab, fabs((double)v))]++;
			seen++;
		}
		o->cpos = c;
		o->n += seen;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			continue;
		o->hist[bin_of(&sb, x[i])]++;
		o->ahist[bin_of(&ab, fabs((double)x[i]))]++;
		seen++;
	}
	o->n += seen;
}

/* Value below which a fraction q of the histogram lies, the mass of each
 * bin spread evenly across it: the bin where the running count reaches
 * q * total, entered in proportion to the part of it that is needed. */
static double hist_quantile(const double *h, const bins *b, double total, double q)
{
	double target = q * total, acc = 0;
	for (int k = 0; k < ENG_HIST_BINS; k++) {
		if (h[k] > 0 && acc + h[k] >= target) {
			double e0 = bin_edge(b, k), e1 = bin_edge(b, k + 1);
			return e0 + (target - acc) / h[k] * (e1 - e0);
		}
		acc += h[k];
	}
	return b->last;
}

/* KL(P || Q) for the candidate that keeps the first i bins of the |x|
 * histogram h, quantized to n bins: MXNet's _get_optimal_threshold body
 * (the reference implementation of the TensorRT slides), on a one-sided
 * histogram.  P is h[0, i) with everything beyond folded into bin i-1.  Q
 * merges the *unfolded* h[0, i) in groups of i / n bins, the remainder
 * joining the last group, and spreads each group's count evenly over the
 * group's bins where P is non-zero; so the outliers weigh in P only, which
 * is what makes clipping them cost something.  Both are smoothed as in
 * _smooth_distribution (zeros get eps, the non-zeros give that mass back
 * evenly), which keeps the divergence finite.  INFINITY when Q is empty
 * (all the mass beyond the candidate), as in MXNet. */
static double candidate_kl(const double *h, double outliers, int i, int n, double *p, double *q)
{
	static const double eps = 0.0001;
	int merged = i / n, pzeros = 0, qzeros = 0;

	memcpy(p, h, (size_t)i * sizeof *p);
	p[i - 1] += outliers;
	for (int g = 0; g < n; g++) {
		int start = g * merged, stop = g == n - 1 ? i : start + merged, norm = 0;
		double mass = 0;
		for (int j = start; j < stop; j++) {
			mass += h[j];
			norm += p[j] != 0;
		}
		for (int j = start; j < stop; j++)
			q[j] = p[j] != 0 && norm ? mass / norm : 0;
	}
	for (int j = 0; j < i; j++) {
		pzeros += p[j] == 0;
		qzeros += q[j] == 0;
	}
	if (pzeros == i || qzeros == i)
		return INFINITY;
	double peps = eps * pzeros / (i - pzeros), qeps = eps * qzeros / (i - qzeros);
	double psum = 0, qsum = 0;
	for (int j = 0; j < i; j++) {
		p[j] = p[j] == 0 ? eps : p[j] - peps;
		q[j] = q[j] == 0 ? eps : q[j] - qeps;
		if (!(p[j] > 0 && q[j] > 0)) /* MXNet asserts; counts below eps cannot occur */
			return INFINITY;
		psum += p[j];
		qsum += q[j];
	}
	double kl = 0;
	for (int j = 0; j < i; j++) {
		double pj = p[j] / psum, qj = q[j] / qsum;
		kl += pj * log(pj / qj);
	}
	return kl;
}

/* TensorRT entropy calibration: the candidate i in [n, ENG_HIST_BINS]
 * with the least KL(P || Q), the first on ties (numpy.argmin), and its
 * threshold at the right edge of the last kept bin, i * width (MXNet's
 * hist_edges[p_bin_idx_stop]; the slides' "(m + 0.5) * width" would put it
 * half a bin into the first clipped bin).  With more levels than bins
 * nothing is worth clipping. */
static double entropy_threshold(const double *h, double amax, int n)
{
	double p[ENG_HIST_BINS], q[ENG_HIST_BINS], outliers = 0, best_kl = INFINITY;
	int best = ENG_HIST_BINS;

	if (n < 1 || n > ENG_HIST_BINS)
		return amax;
	for (int k = n; k < ENG_HIST_BINS; k++)
		outliers += h[k];
	for (int i = n; i <= ENG_HIST_BINS; i++) {
		double kl = candidate_kl(h, outliers, i, n, p, q);
		if (kl < best_kl) {
			best_kl = kl;
			best = i;
		}
		if (i < ENG_HIST_BINS)
			outliers -= h[i];
	}
	return (double)best * amax / ENG_HIST_BINS;
}

/* Squared error of fake-quantizing v on the grid of `levels` steps over
 * [lo, hi] whose zero point is rounded to an integer (so 0 is exact), with
 * rounding half to even and clamping to [0, levels]: kq's affine grid when
 * levels = qmax - qmin. */
static double qerr2(double v, double lo, double hi, int levels)
{
	double scale = (hi - lo) / levels;
	if (!(scale > 0))
		return v * v;
	double zp = nearbyint(-lo / scale);
	double q = nearbyint(v / scale) + zp;
	q = q < 0 ? 0 : q > levels ? levels : q;
	double d = (q - zp) * scale - v;
	return d * d;
}

/* Range clipped to `ratio` of the observed one, zero kept inside. */
static void clip_range(double lo, double hi, int symmetric, double ratio, double *clo, double *chi)
{
	double l = fmin(lo, 0), h = fmax(hi, 0);
	if (symmetric) {
		double a = fmax(-l, h) * ratio;
		*clo = -a, *chi = a;
	} else
		*clo = l * ratio, *chi = h * ratio;
}

/* Candidates are ratio s / MSE_STEPS of the range for s from MSE_STEPS
 * down to MSE_STEPS / 10: clipping more than 90% away is never useful. */
#define MSE_STEPS 100

static void mse_range(const eng_observer *o, int levels, int symmetric, float *lo, float *hi)
{
	bins sb = bins_over(o->lo, o->hi);
	double best = INFINITY, bl = o->lo, bh = o->hi;
	for (int s = MSE_STEPS; s >= MSE_STEPS / 10; s--) {
		double clo, chi, err = 0;
		clip_range(o->lo, o->hi, symmetric, (double)s / MSE_STEPS, &clo, &chi);
		/* each bin's count sits at its centre */
		for (int k = 0; k < ENG_HIST_BINS; k++)
			if (o->hist[k] > 0)
				err += o->hist[k] *
				       qerr2((bin_edge(&sb, k) + bin_edge(&sb, k + 1)) / 2, clo, chi, levels);
		if (err < best) {
			best = err;
			bl = clo, bh = chi;
		}
	}
	*lo = (float)bl, *hi = (float)bh;
}

float eng_mse_clip(const float *x, size_t len, int levels, int symmetric)
{
	float lo = 0, hi = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isfinite(x[i]))
			continue;
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	if (levels < 1 || !(hi > lo))
		return 1;
	double best = INFINITY, ratio = 1;
	for (int s = MSE_STEPS; s >= MSE_STEPS / 10; s--) {
		double clo, chi, err = 0;
		clip_range(lo, hi, symmetric, (double)s / MSE_STEPS, &clo, &chi);
		for (size_t i = 0; i < len; i++)
			if (isfinite(x[i]))
				err += qerr2(x[i], clo, chi, levels);
		if (err < best) {
			best = err;
			ratio = (double)s / MSE_STEPS;
		}
	}
	return (float)ratio;
}

void eng_obs_range(const eng_observer *o, const eng_cal_method *m, int levels, int symmetric, float *lo, float *hi)
{
	*lo = o->lo <= o->hi ? o->lo : 0;
	*hi = o->lo <= o->hi ? o->hi : 0;
	if (m->kind == ENG_CAL_MINMAX || o->pass != 2 || !(o->n > 0) || !(o->hi > o->lo) || levels < 1)
		return;
	double amax = fmax(fabs(o->lo), fabs(o->hi));
	bins sb = bins_over(o->lo, o->hi), ab = bins_over(0, amax);
	switch (m->kind) {
	case ENG_CAL_PERCENTILE: {
		/* the parser keeps pct in (50, 100]; a hand-made method outside
		 * it must still give lo <= hi */
		double q = m->pct / 100;
		q = q >= 0.5 && q <= 1 ? q : q < 0.5 ? 0.5 : 1;
		if (symmetric) {
			double a = hist_quantile(o->ahist, &ab, o->n, q);
			*lo = (float)fmax(o->lo, -a), *hi = (float)fmin(o->hi, a);
		} else {
			*lo = (float)fmax(o->lo, hist_quantile(o->hist, &sb, o->n, 1 - q));
			*hi = (float)fmin(o->hi, hist_quantile(o->hist, &sb, o->n, q));
		}
		break;
	}
	case ENG_CAL_ENTROPY: {
		/* An asymmetric quantizer spends every level on a one-signed
		 * tensor (MXNet's uint8 case); otherwise half of them lie on each
		 * side of zero (128 bins for 255 steps, as in TensorRT). */
		int one_signed = o->lo >= 0 || o->hi <= 0;
		int n = one_signed && !symmetric ? levels : (levels + 1) / 2;
		double t = entropy_threshold(o->ahist, amax, n);
		*lo = (float)fmax(o->lo, -t), *hi = (float)fmin(o->hi, t);
		break;
	}
	case ENG_CAL_MSE:
		mse_range(o, levels, symmetric, lo, hi);
		break;
	default:
		break;
	}
	if (!(*lo <= *hi)) /* cannot happen for the methods above; keep the contract */
		*lo = o->lo, *hi = o->hi;
}
