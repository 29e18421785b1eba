/* SPDX-License-Identifier: GPL-3.0-or-later */
/* calib.c - observers and the four calibration methods.
 *
 * DESIGN: histograms are exact counts of what was observed, so every
 * method is a pure function of (observer, method, quantizer) and can be
 * re-derived for another weight format without a new calibration pass
 * (the run caches observers per model, calibration set, size and seed).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_calib.h"

static const char *const cal_names[ENG_CAL_COUNT] = {"minmax", "percentile", "entropy", "mse"};

int eng_cal_parse(const char *s, eng_cal_method *out, char *err, size_t errlen)
{
	out->pct = 0;
	for (int i = 0; i < ENG_CAL_COUNT; i++) {
		size_t l = strlen(cal_names[i]);
		if (strncmp(s, cal_names[i], l) != 0)
			continue;
		out->kind = (eng_cal_kind)i;
		if (i == ENG_CAL_PERCENTILE) {
			char *end;
			double p = s[l] == ':' ? strtod(s + l + 1, &end) : -1;
			if (s[l] != ':' || *end || !(p > 50 && p <= 100)) {
				snprintf(err, errlen, "calibration method '%s': percentile needs a value in (50, 100], e.g. percentile:99.99", s);
				return -1;
			}
			out->pct = p;
			return 0;
		}
		if (s[l] == 0)
			return 0;
	}
	snprintf(err, errlen, "calibration method '%s' is not one of minmax, percentile:P, entropy, mse", s);
	return -1;
}

void eng_cal_format(const eng_cal_method *m, char *buf, size_t len)
{
	if (m->kind == ENG_CAL_PERCENTILE)
		snprintf(buf, len, "percentile:%g", m->pct);
	else
		snprintf(buf, len, "%s", cal_names[m->kind]);
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
		return;
	}
	double w = (double)o->hi - o->lo, amax = fmax(fabs(o->lo), fabs(o->hi));
	double s = w > 0 ? ENG_HIST_BINS / w : 0, as = amax > 0 ? ENG_HIST_BINS / amax : 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			continue;
		int b = (int)((x[i] - o->lo) * s), ab = (int)(fabs(x[i]) * as);
		b = b < 0 ? 0 : b >= ENG_HIST_BINS ? ENG_HIST_BINS - 1 : b;
		ab = ab >= ENG_HIST_BINS ? ENG_HIST_BINS - 1 : ab;
		o->hist[b]++;
		o->ahist[ab]++;
	}
	o->n += (double)n;
}

/* Value below which a fraction q of the histogram lies (linear within a bin). */
static double hist_quantile(const double *h, double lo, double width, double total, double q)
{
	double target = q * total, acc = 0;
	for (int b = 0; b < ENG_HIST_BINS; b++) {
		if (acc + h[b] >= target && h[b] > 0)
			return lo + width * (b + (target - acc) / h[b]) / ENG_HIST_BINS;
		acc += h[b];
	}
	return lo + width;
}

/* TensorRT-style entropy calibration on the |x| histogram: for every
 * candidate threshold bin i, P is the histogram clipped at i (outliers
 * added to the last bin), Q is P quantized to `qbins` levels and expanded
 * back over the non-empty bins; the threshold minimising KL(P||Q) wins. */
static double entropy_threshold(const double *h, double amax, int qbins)
{
	static const double eps = 1e-10;
	double *p = malloc(ENG_HIST_BINS * sizeof *p), *q = malloc(ENG_HIST_BINS * sizeof *q);
	double best_kl = INFINITY, total_above = 0;
	int best = ENG_HIST_BINS;
	if (!p || !q) {
		free(p), free(q);
		return amax;
	}
	for (int b = 0; b < ENG_HIST_BINS; b++)
		total_above += h[b];
	for (int b = 0; b < qbins && b < ENG_HIST_BINS; b++)
		total_above -= h[b];
	for (int i = qbins; i <= ENG_HIST_BINS; i++) {
		memcpy(p, h, (size_t)i * sizeof *p);
		if (i < ENG_HIST_BINS) {
			p[i - 1] += total_above;
			total_above -= h[i];
		}
		/* quantize bins [0, i) into qbins groups; expand each group's mass
		 * uniformly over its non-empty source bins */
		double psum = 0, qsum = 0;
		for (int g = 0; g < qbins; g++) {
			int start = (int)((long)g * i / qbins), stop = (int)((long)(g + 1) * i / qbins);
			double mass = 0;
			int nonzero = 0;
			for (int j = start; j < stop; j++) {
				mass += h[j];
				nonzero += h[j] > 0;
			}
			if (g == qbins - 1 && i < ENG_HIST_BINS)
				mass += p[i - 1] - h[i - 1], nonzero += h[i - 1] == 0 && p[i - 1] > 0;
			for (int j = start; j < stop; j++) {
				int has = p[j] > 0;
				q[j] = has && nonzero ? mass / nonzero : 0;
				qsum += q[j];
				psum += p[j];
			}
		}
		if (psum <= 0 || qsum <= 0)
			continue;
		double kl = 0;
		for (int j = 0; j < i; j++) {
			if (p[j] <= 0)
				continue;
			double pj = p[j] / psum, qj = q[j] / qsum;
			kl += pj * log(pj / (qj > 0 ? qj : eps));
		}
		if (kl < best_kl) {
			best_kl = kl;
			best = i;
		}
	}
	free(p), free(q);
	return (best + 0.5) / ENG_HIST_BINS * amax > amax ? amax : (best + 0.5) / ENG_HIST_BINS * amax;
}

/* Squared error of quantizing value v with `levels` steps over [lo, hi]. */
static double qerr2(double v, double lo, double hi, int levels)
{
	double scale = (hi - lo) / levels;
	if (scale <= 0)
		return v * v;
	double zp = nearbyint(-lo / scale);
	double q = nearbyint(v / scale) + zp;
	q = q < 0 ? 0 : q > levels ? levels : q;
	double d = (q - zp) * scale - v;
	return d * d;
}

/* Range clipped to `ratio` of the observed one, zero kept inside. */
static void clip_range(float lo, float hi, int symmetric, double ratio, double *clo, double *chi)
{
	double l = fmin(lo, 0), h = fmax(hi, 0);
	if (symmetric) {
		double a = fmax(-l, h) * ratio;
		*clo = -a, *chi = a;
	} else
		*clo = l * ratio, *chi = h * ratio;
}

#define MSE_STEPS 100

static void mse_range(const eng_observer *o, int levels, int symmetric, float *lo, float *hi)
{
	double best = INFINITY, bl = o->lo, bh = o->hi, w = (double)o->hi - o->lo;
	for (int s = MSE_STEPS; s >= MSE_STEPS / 10; s--) {
		double clo, chi, err = 0;
		clip_range(o->lo, o->hi, symmetric, (double)s / MSE_STEPS, &clo, &chi);
		for (int b = 0; b < ENG_HIST_BINS; b++)
			if (o->hist[b] > 0)
				err += o->hist[b] * qerr2(o->lo + w * (b + 0.5) / ENG_HIST_BINS, clo, chi, levels);
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
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	double best = INFINITY, ratio = 1;
	for (int s = MSE_STEPS; s >= MSE_STEPS / 10; s--) {
		double clo, chi, err = 0;
		clip_range(lo, hi, symmetric, (double)s / MSE_STEPS, &clo, &chi);
		for (size_t i = 0; i < len; i++)
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
	if (m->kind == ENG_CAL_MINMAX || o->pass != 2 || o->n <= 0 || !(o->hi > o->lo))
		return;
	double w = (double)o->hi - o->lo, amax = fmax(fabs(o->lo), fabs(o->hi));
	switch (m->kind) {
	case ENG_CAL_PERCENTILE: {
		double q = m->pct / 100;
		if (symmetric) {
			double a = hist_quantile(o->ahist, 0, amax, o->n, q);
			*lo = (float)fmax(o->lo, -a), *hi = (float)fmin(o->hi, a);
		} else {
			*lo = (float)fmax(o->lo, hist_quantile(o->hist, o->lo, w, o->n, 1 - q));
			*hi = (float)fmin(o->hi, hist_quantile(o->hist, o->lo, w, o->n, q));
		}
		break;
	}
	case ENG_CAL_ENTROPY: {
		/* a one-signed tensor uses every level on its side */
		int qbins = o->lo >= 0 || o->hi <= 0 ? levels : (levels + 1) / 2;
		double t = entropy_threshold(o->ahist, amax, qbins < 2 ? 2 : qbins);
		*lo = (float)fmax(o->lo, -t), *hi = (float)fmin(o->hi, t);
		break;
	}
	case ENG_CAL_MSE:
		mse_range(o, levels, symmetric, lo, hi);
		break;
	default:
		break;
	}
}
