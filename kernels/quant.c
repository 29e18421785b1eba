/* SPDX-License-Identifier: GPL-3.0-or-later */
/* quant.c - integer quantization parameters, quantize/dequantize, error stats.
 *
 * DESIGN: the arithmetic reproduces PyTorch 1.13 bit for bit, in float32:
 * MinMaxObserver / PerChannelMinMaxObserver calculate_qparams() for the
 * parameters and fake_quantize_per_{tensor,channel}_affine for the values,
 * which multiply by the float reciprocal 1.0f / scale (not divide) and round
 * half to even with nearbyintf in the default rounding mode.  This file must
 * be compiled without FP contraction (the -std=c11 default in GCC) so that
 * no multiply and add are fused.
 *
 * Every granularity is one loop over "slices": a slice is a run of a row
 * that shares one (scale, zero point).  A tensor is one row of rows * cols
 * with one slice, a channel is a row, a group is up to `group` consecutive
 * values of a row (the trailing one may be shorter).  The parameters of
 * row r, slice g live at p[r * ngroups + g].
 */
#include "kq.h"

#include <float.h>
#include <math.h>

typedef struct {
	size_t nrows, ncols; /* the tensor seen as nrows x ncols */
	size_t width;        /* values per slice (the last one of a row may be short) */
	size_t ngroups;      /* slices per row */
} slicing;

/* Fills *s for a valid spec and shape; KQ_EINVAL otherwise. */
static int slicing_of(const kq_qspec *spec, int rows, int cols, slicing *s)
{
	if (!spec || rows <= 0 || cols <= 0)
		return KQ_EINVAL;
	s->nrows = (size_t)rows;
	s->ncols = (size_t)cols;
	switch (spec->gran) {
	case KQ_GRAN_TENSOR:
		s->ncols *= s->nrows;
		s->nrows = 1;
		s->width = s->ncols;
		break;
	case KQ_GRAN_CHANNEL:
		s->width = s->ncols;
		break;
	case KQ_GRAN_GROUP:
		if (spec->group != 32 && spec->group != 64 && spec->group != 128 &&
		    spec->group != 256)
			return KQ_EINVAL;
		s->width = (size_t)spec->group;
		break;
	default:
		return KQ_EINVAL;
	}
	s->ngroups = (s->ncols + s->width - 1) / s->width;
	return KQ_OK;
}

int kq_qspec_range(const kq_qspec *spec, int *qmin, int *qmax)
{
	if (!spec || (spec->bits != 4 && spec->bits != 8) || !qmin || !qmax)
		return KQ_EINVAL;
	int half = 1 << (spec->bits - 1);
	if (spec->is_unsigned) {
		*qmin = 0;
		*qmax = 2 * half - 1;
	} else {
		/* Symmetric signed drops -2^(b-1) so that scale = amax / qmax. */
		*qmin = spec->symmetric ? -(half - 1) : -half;
		*qmax = half - 1;
	}
	return KQ_OK;
}

/* Returns 0 for an invalid spec or shape (no parameters can be made). */
size_t kq_qspec_nparams(const kq_qspec *spec, int rows, int cols)
{
	slicing s;
	return slicing_of(spec, rows, cols, &s) == KQ_OK ? s.nrows * s.ngroups : 0;
}

/* The zero point of a symmetric range: 0 for a signed range, 2^(b-1) for
 * [0, 2^b - 1] (PyTorch's 128 for quint8): the midpoint, rounded up. */
static int32_t symmetric_zp(int qmin, int qmax)
{
	return (int32_t)((qmin + qmax + 1) >> 1);
}

int kq_qparams_from_range(float lo, float hi, int qmin, int qmax, int symmetric,
			  kq_qparams *out)
{
	if (!out)
		return KQ_EINVAL;
	out->scale = 1.0f;
	out->zero_point = qmin <= 0 && qmax >= 0 ? symmetric_zp(qmin, qmax) : 0;
	if (qmin > 0 || qmax < 0 || qmin >= qmax)
		return KQ_EINVAL;
	if (!isfinite(lo) || !isfinite(hi))
		return KQ_ERANGE;
	if (lo > hi)
		return KQ_EINVAL;

	float lo0 = fminf(lo, 0.0f), hi0 = fmaxf(hi, 0.0f), scale;
	int32_t zp;
	if (symmetric) {
		float amax = fmaxf(-lo0, hi0);
		scale = amax / ((float)(qmax - qmin) / 2.0f);
		zp = symmetric_zp(qmin, qmax);
	} else {
		/* hi0 - lo0 can overflow to inf for finite inputs near FLT_MAX;
		 * PyTorch would then produce inf scales and NaN values. */
		scale = (hi0 - lo0) / (float)(qmax - qmin);
		if (!isfinite(scale))
			return KQ_ERANGE;
		scale = fmaxf(scale, FLT_EPSILON); /* before it divides lo0 */
		/* |lo0 / scale| <= qmax - qmin here, so the conversion is safe. */
		zp = (int32_t)(qmin - (long)nearbyintf(lo0 / scale));
		zp = zp < qmin ? qmin : zp > qmax ? qmax : zp;
	}
	out->scale = fmaxf(scale, FLT_EPSILON);
	out->zero_point = zp;
	return KQ_OK;
}

int kq_qparams_minmax(const float *x, int rows, int cols, const kq_qspec *spec,
		      kq_qparams *out)
{
	slicing s;
	int qmin, qmax, rc = KQ_OK;

	if (!x || !out || slicing_of(spec, rows, cols, &s) != KQ_OK ||
	    kq_qspec_range(spec, &qmin, &qmax) != KQ_OK)
		return KQ_EINVAL;
	for (size_t r = 0; r < s.nrows; r++)
		for (size_t g = 0; g < s.ngroups; g++) {
			const float *v = x + r * s.ncols + g * s.width;
			size_t n = s.ncols - g * s.width < s.width ? s.ncols - g * s.width : s.width;
			float lo = v[0], hi = v[0];
			int nan = 0;
			for (size_t i = 0; i < n; i++) {
				nan |= isnan(v[i]);
				lo = fminf(lo, v[i]);
				hi = fmaxf(hi, v[i]);
			}
			if (nan) /* fminf/fmaxf skip NaN; the range must not */
				lo = NAN;
			int e = kq_qparams_from_range(lo, hi, qmin, qmax, spec->symmetric,
						      &out[r * s.ngroups + g]);
			if (e != KQ_OK)
				rc = e;
		}
	return rc;
}

/* The per-slice constants of the quantizer, validated. */
typedef struct {
	float scale, inv;
	int32_t zp;
} slice_q;

/* KQ_EINVAL unless scale is a positive normal float with a finite
 * reciprocal and the zero point lies in [qmin, qmax]. */
static int slice_q_of(const kq_qparams *p, int qmin, int qmax, slice_q *sq)
{
	sq->scale = p->scale;
	sq->inv = p->scale >= FLT_MIN ? 1.0f / p->scale : 0.0f;
	sq->zp = p->zero_point;
	if (!(p->scale >= FLT_MIN) || !isfinite(p->scale) || !isfinite(sq->inv) ||
	    p->zero_point < qmin || p->zero_point > qmax)
		return KQ_EINVAL;
	return KQ_OK;
}

/* PyTorch: qval = zp + nearbyint(x * inv) in float, then clamp.  In range,
 * the float sum is a small exact integer; NaN behaves as on x86 PyTorch
 * (the int64 conversion gives INT64_MIN): qmin, counted as clipped. */
static int quantize_one(float x, const slice_q *sq, int qmin, int qmax, size_t *clipped)
{
	float qf = (float)sq->zp + nearbyintf(x * sq->inv);
	if (qf >= (float)qmin && qf <= (float)qmax)
		return (int)qf;
	++*clipped;
	return qf > (float)qmax ? qmax : qmin;
}

/* The common walk of quantize, dequantize and fake quant.  Exactly one of
 * (x -> q), (q -> y), (x -> y) is requested by which pointers are set. */
static int walk(const float *x, const void *qin, void *qout, float *y, int rows, int cols,
		const kq_qspec *spec, const kq_qparams *p, size_t *nclipped)
{
	slicing s;
	int qmin, qmax;
	size_t clipped = 0;

	if (!p || slicing_of(spec, rows, cols, &s) != KQ_OK ||
	    kq_qspec_range(spec, &qmin, &qmax) != KQ_OK)
		return KQ_EINVAL;
	/* Validate every parameter before writing any output. */
	for (size_t i = 0; i < s.nrows * s.ngroups; i++) {
		slice_q sq;
		if (slice_q_of(&p[i], qmin, qmax, &sq) != KQ_OK)
			return KQ_EINVAL;
	}
	for (size_t r = 0; r < s.nrows; r++)
		for (size_t g = 0; g < s.ngroups; g++) {
			slice_q sq;
			size_t i0 = r * s.ncols + g * s.width;
			size_t n = s.ncols - g * s.width < s.width ? s.ncols - g * s.width : s.width;
			slice_q_of(&p[r * s.ngroups + g], qmin, qmax, &sq);
			for (size_t i = i0; i < i0 + n; i++) {
				int q;
				if (x)
					q = quantize_one(x[i], &sq, qmin, qmax, &clipped);
				else
					q = spec->is_unsigned ? ((const uint8_t *)qin)[i]
							      : ((const int8_t *)qin)[i];
				if (qout && spec->is_unsigned)
					((uint8_t *)qout)[i] = (uint8_t)q;
				else if (qout)
					((int8_t *)qout)[i] = (int8_t)q;
				if (y) /* exact in float: |q - zp| < 2^9 */
					y[i] = (float)(q - sq.zp) * sq.scale;
			}
		}
	if (nclipped)
		*nclipped = clipped;
	return KQ_OK;
}

int kq_quantize(const float *x, int rows, int cols, const kq_qspec *spec,
		const kq_qparams *p, void *q, size_t *nclipped)
{
	if (!x || !q)
		return KQ_EINVAL;
	return walk(x, NULL, q, NULL, rows, cols, spec, p, nclipped);
}

int kq_dequantize(const void *q, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *x)
{
	if (!q || !x)
		return KQ_EINVAL;
	return walk(NULL, q, NULL, x, rows, cols, spec, p, NULL);
}

int kq_fake_quant(const float *x, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *y, size_t *nclipped)
{
	if (!x || !y)
		return KQ_EINVAL;
	return walk(x, NULL, NULL, y, rows, cols, spec, p, nclipped);
}

void kq_qstats_compute(const float *x, const float *y, size_t n, size_t nclipped,
		       kq_qstats *out)
{
	double sig = 0.0, err = 0.0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - (double)y[i];
		sig += (double)x[i] * x[i];
		err += d * d;
	}
	out->mse = n ? err / (double)n : 0.0;
	/* Exact (err == 0) is +inf even for a zero signal; a zero signal with
	 * error is -inf; the division is guarded either way. */
	if (err == 0.0)
		out->sqnr_db = INFINITY;
	else if (sig == 0.0)
		out->sqnr_db = -INFINITY;
	else
		out->sqnr_db = 10.0 * log10(sig / err);
	out->clipped = n ? (double)nclipped / (double)n : 0.0;
}
