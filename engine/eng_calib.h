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

/* Parses "minmax", "percentile:P" (P in (50, 100], digits only),
 * "entropy", "mse".  Returns 0 and fills *out, or -1 with a sentence saying
 * what is wrong in err (truncated to errlen, which may be 0) and *out left
 * untouched.  Borrows s, out and err. */
int eng_cal_parse(const char *s, eng_cal_method *out, char *err, size_t errlen);
/* Writes the canonical spelling ("percentile:99.99", the shortest that
 * eng_cal_parse reads back as the same method) into buf, truncated to len.
 * Cannot fail; an out-of-range kind is written as "?". */
void eng_cal_format(const eng_cal_method *m, char *buf, size_t len);

/* Two passes over the calibration data: the first finds the range, the
 * second fills a signed histogram over [lo, hi] and a histogram of |x|
 * over [0, max(|lo|, |hi|)], both with ENG_HIST_BINS bins binned as
 * numpy.histogram bins them.  NaN and +-inf are skipped in both passes.
 * Plain data, owned by the caller (embed it or allocate it); no
 * eng_obs_done is needed.
 *
 * Optionally (eng_obs_init_chan) the observer also keeps each channel's
 * extremes in pass 1, values arriving channel-fastest (NHWC rows, or the
 * rows of a linear layer's input), and may then bin x / s[c] instead of x
 * in pass 2 (SmoothQuant, eng_obs_set_divisors): the histograms then
 * describe the smoothed tensor the quantizer will see.  That storage is
 * lent by the caller. */
typedef struct eng_observer {
	float lo, hi; /* finite range seen in pass 1; [0, 0] if none once in pass 2 */
	double n;     /* finite values in the histograms */
	double hist[ENG_HIST_BINS], ahist[ENG_HIST_BINS];
	int pass; /* 1 while gathering the range, 2 while filling histograms */
	int nchan;          /* channels with statistics; 0: none kept */
	size_t cpos;        /* channel of the next value added */
	float *cmin, *cmax; /* nchan each: finite extremes per channel (pass 1); +-inf when none */
	float *sdiv;        /* nchan: the divisors pass 2 bins with, when smooth > 0 */
	double smooth;      /* SmoothQuant alpha the divisors came from; 0: pass 2 bins x itself */
} eng_observer;

/* Empties an observer and starts pass 1.  Cannot fail. */
void eng_obs_init(eng_observer *o);
/* The same, also keeping per-channel extremes for nchan channels in
 * `store` (3 * nchan floats, lent: it must outlive the observer; nchan <= 0
 * or a NULL store: none kept, as eng_obs_init).  Cannot fail. */
void eng_obs_init_chan(eng_observer *o, int nchan, float *store);
/* max(|min|, |max|) of channel c over pass 1; 0 for a channel that saw no
 * finite value or an observer without channel statistics. */
float eng_obs_chan_absmax(const eng_observer *o, int c);
/* SmoothQuant: right after eng_obs_next_pass, before any pass-2 data,
 * makes pass 2 bin x / s[c] (s: nchan divisors, all finite and > 0, copied)
 * and sets [lo, hi] to the exact range of x / s, derived from the channel
 * extremes; records alpha.  0, or -1 (nothing changed) when called at
 * another time, without channel statistics, or with a bad divisor. */
int eng_obs_set_divisors(eng_observer *o, const float *s, double alpha);
/* Adds n values (x may be NULL when n is 0) to the current pass.  In pass
 * 2, finite values outside the pass-1 range count in the end bins.  Cannot
 * fail. */
void eng_obs_add(eng_observer *o, const float *x, size_t n);
/* Switches an observer from the range pass to the histogram pass; the same
 * data should then be added again.  Cannot fail. */
void eng_obs_next_pass(eng_observer *o);

/* The range [lo, hi] to quantize with, for a method and a quantizer with
 * `levels` steps across the range (qmax - qmin: 255 for 8-bit, 15 for
 * 4-bit; 254 for a restricted symmetric int8) that is symmetric or not.
 * minmax: the observed range.
 * percentile: symmetric, [-a, a] with a the P quantile of |x|; otherwise
 *   the (100 - P) and P quantiles of the signed histogram; quantiles
 *   interpolate linearly inside a bin.
 * entropy: [-t, t] with t TensorRT's threshold minimising KL(P || Q) over
 *   the |x| histogram, as MXNet/TVM's _get_optimal_threshold computes it,
 *   with levels quantized bins for an asymmetric quantizer on a one-signed
 *   tensor and (levels + 1) / 2 otherwise; t lies on a bin edge.
 * mse: the clip range (zero kept inside; [-A r, A r] when symmetric) with
 *   r in {1.00, 0.99, ..., 0.10} that minimises the squared error of
 *   fake-quantizing the histogram's bin centres on that grid.
 * percentile and entropy are clamped to the observed range.  The histogram
 * methods need pass 2 with data; before it, for a constant tensor, with
 * levels < 1, or with no finite value, every method gives the observed
 * range ([0, 0] when nothing finite was seen).  Always lo <= hi, both
 * finite.  Cannot fail; borrows everything. */
void eng_obs_range(const eng_observer *o, const eng_cal_method *m, int levels, int symmetric, float *lo, float *hi);

/* Clipping of one weight slice (a row, a group) for the mse method: the
 * ratio r in {1.00, 0.99, ..., 0.10} of the slice's range (zero kept
 * inside, as for eng_obs_range) that minimises the fake-quant squared error
 * of its finite values with `levels` steps; the widest on ties.  1 for an
 * empty, all-zero or non-finite slice.  The caller loops over slices.
 * Cannot fail; borrows x. */
float eng_mse_clip(const float *x, size_t len, int levels, int symmetric);

#endif
