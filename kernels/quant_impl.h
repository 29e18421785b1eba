/* SPDX-License-Identifier: GPL-3.0-or-later */
/* quant_impl.h - per-slice quantization loops shared by quant*.c, and the
 * entry points that force one ISA; not part of the API (tests include it).
 *
 * DESIGN
 * - quant.c validates the arguments, cuts the tensor into slices (a run of
 *   values sharing one scale and zero point, see quant.c) and runs one ops
 *   table's loop per slice.  The loops never fail and never read the spec:
 *   everything they need is in a kq_qslice, filled once per slice.
 * - Every variant must equal the `_ref` loops bit for bit, including the
 *   clipped count and NaN/inf handling.  The SIMD loops rely on this
 *   identity: with r = round_half_even(x * inv) (nearbyintf, current
 *   rounding mode), the reference tests zp + r against [qmin, qmax] in
 *   float; zp + r is exact whenever |r| < 2^24 and far outside the range
 *   otherwise, so that equals testing r against [lo, hi] = [qmin - zp,
 *   qmax - zp].  Clamping r to [lo, hi] with max/min (which give the bound
 *   for a NaN r) yields q - zp for every input, and "clipped" is exactly
 *   "the clamped r differs from r or r is NaN".
 */
#ifndef PRECIS_QUANT_IMPL_H
#define PRECIS_QUANT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kq.h"

/* The constants of one slice, from validated parameters. */
typedef struct {
	float scale;      /* positive normal */
	float inv;        /* 1.0f / scale, finite: PyTorch multiplies by it */
	float lo, hi;     /* qmin - zp and qmax - zp, exact in float */
	int32_t zp;       /* in [qmin, qmax] */
	int32_t qmin, qmax;
} kq_qslice;

/* One ISA's loops over n > 0 values of a slice; they cannot fail.  Each
 * returns the number of values that clipped (see kq_quantize).  quant_s8
 * and quant_u8 write n int8 or uint8 codes; fake writes y[i] = (float)(q -
 * zp) * scale, never fused (y may equal x, but must not overlap it
 * otherwise).  Pointers are the caller's; nothing is kept. */
typedef struct {
	size_t (*quant_s8)(const float *x, size_t n, const kq_qslice *s, int8_t *q);
	size_t (*quant_u8)(const float *x, size_t n, const kq_qslice *s, uint8_t *q);
	size_t (*fake)(const float *x, size_t n, const kq_qslice *s, float *y);
} kq_quant_ops;

extern const kq_quant_ops kq_quant_ops_ref;
#ifdef KQ_X86_SIMD
extern const kq_quant_ops kq_quant_ops_avx2;
extern const kq_quant_ops kq_quant_ops_avx512vnni;
#endif

/* kq_quantize and kq_fake_quant with the loops of one ISA (KQ_ISA_AUTO:
 * the active one, which is what the public functions use).  KQ_EISA when
 * that ISA is not built or this CPU cannot run it; otherwise exactly the
 * public functions' results. */
int kq_quantize_isa(int isa, const float *x, int rows, int cols, const kq_qspec *spec,
		    const kq_qparams *p, void *q, size_t *nclipped);
int kq_fake_quant_isa(int isa, const float *x, int rows, int cols, const kq_qspec *spec,
		      const kq_qparams *p, float *y, size_t *nclipped);

#endif
