/* SPDX-License-Identifier: GPL-3.0-or-later */
/* s8_impl.h - internals of the int8 x int8 GEMM shared by gemm_s8*.c.
 *
 * DESIGN
 * - A kq_s8w holds the weights packed for one ISA (`ops`), plus per-column
 *   arrays padded with zeros to `np` entries so SIMD epilogues may load
 *   whole vectors past n: colsum (sum_k w[n][k]), scale, zp, bias.
 * - One call of kq_gemm_s8_* fills an s8_job (read-only once the workers
 *   start) and runs ops->cols() once per task; each task owns a range of
 *   whole panels of output columns (or, when there are fewer panels than
 *   threads, a range of rows) and writes only its own part of C, so tasks
 *   never share writable memory; each has its own slice of the scratch.
 * - Integer sums wrap modulo 2^32 everywhere; the compensation
 *   C = S - a_zp*colsum[n] - zp[n]*rowsum[m] + K*a_zp*zp[n] is applied in
 *   uint32 arithmetic, so every variant matches the direct definition.
 *   The column part starts each sum (colinit), so it costs nothing in the
 *   micro-kernels; the row part runs only when some zp[n] != 0.
 */
#ifndef PRECIS_S8_IMPL_H
#define PRECIS_S8_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kq.h"

enum { S8_OUT_S32 = 0, S8_OUT_F32, S8_OUT_U8 };

typedef struct s8_ops s8_ops;

struct kq_s8w {
	int n, k;
	int np;              /* n rounded up to the panel width */
	kq_isa isa;
	const s8_ops *ops;
	void *packed;        /* ops->packed_bytes(n, k) bytes, 64-byte aligned */
	int32_t *colsum;     /* np: sum_k w[n][k] (wrapping), 0 past n */
	float *scale;        /* np */
	float *bias;         /* np: zeros when the caller gave none */
	int32_t *zp;         /* np, or NULL when every zero point is 0 */
	size_t bytes;
};

/* Everything one GEMM call needs; filled by gemm_s8.c, read by the tasks. */
typedef struct {
	int m, n, k;
	const uint8_t *a;
	size_t lda;
	int32_t a_zp;
	const kq_s8w *w;
	int out;             /* S8_OUT_* */
	void *c;             /* int32_t, float or uint8_t according to out */
	size_t ldc;          /* in elements */
	const int32_t *colinit; /* np: K*a_zp*zp[n] - a_zp*colsum[n] (wrapping): where
				 * every sum of column n starts */
	int32_t *rowsum;        /* m: sum_k a[m][k] (wrapping), NULL when w->zp is NULL */
	const float *fscale;    /* np: a_scale * scale[n], rounded to float */
	float inv_out;          /* 1 / out_scale */
	float out_zp;           /* (float)out_zp */
	int relu;
	int tasks;
	int split_rows;         /* 1: tasks split M (too few panels), else N */
	size_t scratch_bytes;   /* per task, 64-byte multiple */
	unsigned char *scratch; /* tasks * scratch_bytes, or NULL */
} s8_job;

/* One ISA's implementation.  `nr` is the panel width: tasks receive column
 * ranges starting at multiples of nr.  A layout may narrow its last panel
 * (AVX-512: to the 16-column vectors N needs); per-column arrays are
 * still padded to np, a multiple of nr. */
struct s8_ops {
	int nr;
	/* Bytes of the packed form of an n x k weight matrix. */
	size_t (*packed_bytes)(int n, int k);
	/* Packs w (n x k) into dst (zero-filled, packed_bytes long). */
	void (*pack)(const int8_t *w, int n, int k, void *dst);
	/* Per-task scratch the call needs (0 when none). */
	size_t (*scratch_bytes)(const s8_job *job);
	/* Computes and stores rows [m0, m1) x columns [n0, n1) of C. */
	void (*cols)(const s8_job *job, int m0, int m1, int n0, int n1, unsigned char *scratch);
};

extern const s8_ops kq_s8_ops_ref;
#ifdef KQ_X86_SIMD
extern const s8_ops kq_s8_ops_avx2;
extern const s8_ops kq_s8_ops_avx512vnni;
#endif

/* Shared scalar epilogues, so every variant rounds the same way. */
static inline float kq_s8_to_f32(int32_t v, float fscale, float bias)
{
	float x = (float)v * fscale;
	return x + bias;
}

static inline uint8_t kq_s8_to_u8(float cf, float inv_out, float out_zp, int relu)
{
	if (relu)
		cf = cf > 0.0f ? cf : 0.0f;
	float t = __builtin_nearbyintf(cf * inv_out) + out_zp;
	/* NaN falls to 0, as the SIMD max(t, 0) does. */
	t = t > 0.0f ? t : 0.0f;
	t = t < 255.0f ? t : 255.0f;
	return (uint8_t)t;
}

#endif
