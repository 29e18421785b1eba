/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_calib.h - observers: what a calibration pass learns about one tensor,
 * and the clipping range each calibration method derives from it. */
#ifndef PRECIS_ENG_CALIB_H
#define PRECIS_ENG_CALIB_H

#include <stddef.h>

#define ENG_HIST_BINS 2048

typedef enum { ENG_CAL_MINMAX = 0, ENG_CAL_PERCENTILE, ENG_CAL_ENTROPY, ENG_CAL_MSE, ENG_CAL_COUNT } eng_cal_kind;

typedef struct {
	eng_cal_kind kind;
	double pct; /* percentile in (50, 100] for ENG_CAL_PERCENTILE */
} eng_cal_method;

/* Parses "minmax", "percentile:99.99", "entropy", "mse".  0, or -1 with err. */
int eng_cal_parse(const char *s, eng_cal_method *out, char *err, size_t errlen);
/* Writes the canonical spelling ("percentile:99.99"). */
void eng_cal_format(const eng_cal_method *m, char *buf, size_t len);

/* Two passes over the calibration data: the first finds the range, the
 * second fills a signed histogram over [lo, hi] and a histogram of |x|
 * over [0, max(|lo|, |hi|)], both with ENG_HIST_BINS bins. */
typedef struct {
	float lo, hi;
	double n;
	double hist[ENG_HIST_BINS], ahist[ENG_HIST_BINS];
	int pass; /* 1 while gathering the range, 2 while filling histograms */
} eng_observer;

void eng_obs_init(eng_observer *o);
void eng_obs_add(eng_observer *o, const float *x, size_t n);
/* Switches an observer from the range pass to the histogram pass. */
void eng_obs_next_pass(eng_observer *o);

/* The range [lo, hi] to quantize with, for a method and a quantizer with
 * `levels` steps across the range (255 for 8-bit, 15 for 4-bit) that is
 * symmetric or not.  minmax: the observed range; percentile: the P and
 * (100 - P) quantiles of the histogram; entropy: TensorRT's threshold that
 * minimises KL(P || Q) over the |x| histogram; mse: the threshold that
 * minimises the expected squared quantization error of the histogram.
 * Histogram methods need the second pass. */
void eng_obs_range(const eng_observer *o, const eng_cal_method *m, int levels, int symmetric, float *lo, float *hi);

/* Per-row clipping of a weight matrix for the mse method: for each of the
 * `nslices` slices of `len` values, the clip ratio in (0, 1] of the slice's
 * absmax that minimises the fake-quant MSE with `levels` steps. */
float eng_mse_clip(const float *x, size_t len, int levels, int symmetric);

#endif
