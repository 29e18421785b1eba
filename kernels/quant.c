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
 *
 * The per-slice loops of quantize and fake quant are the hot path of
 * evaluation (every layer input of every batch), so they come from an ops
 * table per ISA (quant_impl.h): the scalar loops here are the `_ref`
 * authority, quant_avx2.c and quant_avx512.c must match them bit for bit.
 * Dequantize runs once per weight tensor and stays scalar.
 */
#include "config.h"

#include "kq.h"
#include "quant_impl.h"

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

/* KQ_EINVAL unless scale is a positive normal float with a finite
 * reciprocal and the zero point lies in [qmin, qmax]. */
static int slice_q_of(const kq_qparams *p, int qmin, int qmax, kq_qslice *sq)
{
	sq->scale = p->scale;
	sq->inv = p->scale >= FLT_MIN ? 1.0f / p->scale : 0.0f;
	sq->zp = p->zero_point;
	sq->qmin = qmin;
	sq->qmax = qmax;
	if (!(p->scale >= FLT_MIN) || !isfinite(p->scale) || !isfinite(sq->inv) ||
	    p->zero_point < qmin || p->zero_point > qmax)
		return KQ_EINVAL;
	/* |qmin - zp|, |qmax - zp| <= 255: exact in float. */
	sq->lo = (float)(qmin - p->zero_point);
	sq->hi = (float)(qmax - p->zero_point);
	return KQ_OK;
}

/* Checks the shape, spec and every parameter (before any output is
 * written) and fills *s and the range. */
static int prepare(int rows, int cols, const kq_qspec *spec, const kq_qparams *p,
		   slicing *s, int *qmin, int *qmax)
{
	if (!p || slicing_of(spec, rows, cols, s) != KQ_OK ||
	    kq_qspec_range(spec, qmin, qmax) != KQ_OK)
		return KQ_EINVAL;
	for (size_t i = 0; i < s->nrows * s->ngroups; i++) {
		kq_qslice sq;
		if (slice_q_of(&p[i], *qmin, *qmax, &sq) != KQ_OK)
			return KQ_EINVAL;
	}
	return KQ_OK;
}

/* ------------------------------------------------------------ reference */

/* PyTorch: qval = zp + nearbyint(x * inv) in float, then clamp.  In range,
 * the float sum is a small exact integer; NaN behaves as on x86 PyTorch
 * (the int64 conversion gives INT64_MIN): qmin, counted as clipped. */
static int quantize_one(float x, const kq_qslice *sq, size_t *clipped)
{
	float qf = (float)sq->zp + nearbyintf(x * sq->inv);
	if (qf >= (float)sq->qmin && qf <= (float)sq->qmax)
		return (int)qf;
	++*clipped;
	return qf > (float)sq->qmax ? sq->qmax : sq->qmin;
}

static size_t quant_s8_ref(const float *x, size_t n, const kq_qslice *s, int8_t *q)
{
	size_t clipped = 0;
	for (size_t i = 0; i < n; i++)
		q[i] = (int8_t)quantize_one(x[i], s, &clipped);
	return clipped;
}

static size_t quant_u8_ref(const float *x, size_t n, const kq_qslice *s, uint8_t *q)
{
	size_t clipped = 0;
	for (size_t i = 0; i < n; i++)
		q[i] = (uint8_t)quantize_one(x[i], s, &clipped);
	return clipped;
}

static size_t fake_ref(const float *x, size_t n, const kq_qslice *s, float *y)
{
	size_t clipped = 0;
	for (size_t i = 0; i < n; i++) {
		int q = quantize_one(x[i], s, &clipped);
		y[i] = (float)(q - s->zp) * s->scale; /* exact: |q - zp| < 2^9 */
	}
	return clipped;
}

const kq_quant_ops kq_quant_ops_ref = {quant_s8_ref, quant_u8_ref, fake_ref};

/* ---------------------------------------------------------- entry points */

/* The loops for isa; NULL when not built or not runnable here.  kq_init()
 * checked the active ISA once and ref always runs, so those skip
 * kq_isa_supported(): its cpuid traps to the hypervisor in guests (16 us a
 * call measured on the project's VMs, longer than quantizing 200,000
 * values with AVX-512). */
static const kq_quant_ops *quant_ops_for(int isa)
{
	kq_isa rs = kq_isa_active();
	if (isa != KQ_ISA_AUTO && isa != (int)rs) {
		if (isa != KQ_ISA_REF &&
		    (isa < 0 || isa >= KQ_ISA_COUNT || !kq_isa_supported((kq_isa)isa)))
			return NULL;
		rs = (kq_isa)isa;
	}
	switch (rs) {
	case KQ_ISA_REF: return &kq_quant_ops_ref;
#ifdef KQ_X86_SIMD
	case KQ_ISA_AVX2: return &kq_quant_ops_avx2;
	case KQ_ISA_AVX512VNNI: return &kq_quant_ops_avx512vnni;
#endif
	default: return NULL;
	}
}

/* Quantize (q set) or fake quant (y set) slice by slice. */
static int quant_walk(int isa, const float *x, void *q, float *y, int rows, int cols,
		      const kq_qspec *spec, const kq_qparams *p, size_t *nclipped)
{
	slicing s;
	int qmin, qmax;
	size_t clipped = 0;

	if (prepare(rows, cols, spec, p, &s, &qmin, &qmax) != KQ_OK)
		return KQ_EINVAL;
	const kq_quant_ops *ops = quant_ops_for(isa);
	if (!ops)
		return KQ_EISA;
	for (size_t r = 0; r < s.nrows; r++)
		for (size_t g = 0; g < s.ngroups; g++) {
			kq_qslice sq;
			size_t i0 = r * s.ncols + g * s.width;
			size_t n = s.ncols - g * s.width < s.width ? s.ncols - g * s.width : s.width;
			slice_q_of(&p[r * s.ngroups + g], qmin, qmax, &sq);
			if (y)
				clipped += ops->fake(x + i0, n, &sq, y + i0);
			else if (spec->is_unsigned)
				clipped += ops->quant_u8(x + i0, n, &sq, (uint8_t *)q + i0);
			else
				clipped += ops->quant_s8(x + i0, n, &sq, (int8_t *)q + i0);
		}
	if (nclipped)
		*nclipped = clipped;
	return KQ_OK;
}

int kq_quantize_isa(int isa, const float *x, int rows, int cols, const kq_qspec *spec,
		    const kq_qparams *p, void *q, size_t *nclipped)
{
	if (!x || !q)
		return KQ_EINVAL;
	return quant_walk(isa, x, q, NULL, rows, cols, spec, p, nclipped);
}

int kq_fake_quant_isa(int isa, const float *x, int rows, int cols, const kq_qspec *spec,
		      const kq_qparams *p, float *y, size_t *nclipped)
{
	if (!x || !y)
		return KQ_EINVAL;
	return quant_walk(isa, x, NULL, y, rows, cols, spec, p, nclipped);
}

int kq_quantize(const float *x, int rows, int cols, const kq_qspec *spec,
		const kq_qparams *p, void *q, size_t *nclipped)
{
	return kq_quantize_isa(KQ_ISA_AUTO, x, rows, cols, spec, p, q, nclipped);
}

int kq_fake_quant(const float *x, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *y, size_t *nclipped)
{
	return kq_fake_quant_isa(KQ_ISA_AUTO, x, rows, cols, spec, p, y, nclipped);
}

/* Off the hot path (weights, once per quantization): scalar only. */
int kq_dequantize(const void *q, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *x)
{
	slicing s;
	int qmin, qmax;

	if (!q || !x || prepare(rows, cols, spec, p, &s, &qmin, &qmax) != KQ_OK)
		return KQ_EINVAL;
	for (size_t r = 0; r < s.nrows; r++)
		for (size_t g = 0; g < s.ngroups; g++) {
			const kq_qparams *pp = &p[r * s.ngroups + g];
			size_t i0 = r * s.ncols + g * s.width;
			size_t n = s.ncols - g * s.width < s.width ? s.ncols - g * s.width : s.width;
			for (size_t i = i0; i < i0 + n; i++) {
				int v = spec->is_unsigned ? ((const uint8_t *)q)[i]
							  : ((const int8_t *)q)[i];
				x[i] = (float)(v - pp->zero_point) * pp->scale;
			}
		}
	return KQ_OK;
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
