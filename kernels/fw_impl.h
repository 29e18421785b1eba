/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fw_impl.h - packed float-format weight layout, its kernels, and the fp32
 * panel micro-kernel that the fp8/fp16/bf16 and int4 GEMMs share; not part
 * of the API (tests may include it to inspect the codes).
 *
 * DESIGN: output columns are cut into blocks of 32; a block stores its codes
 * k-major, [k][32], 1 byte (fp8) or 2 bytes (fp16, bf16) per code, over all
 * of K.  One k row of a block is thus the 32 weights that one broadcast
 * activation multiplies: a GEMV converts it in registers and FMAs it, a
 * large-M GEMM converts a [kc][32] slice into an fp32 panel that stays in
 * L1 while every row of A passes over it.  Padding columns hold code 0
 * with scale 0.  For fp8-e4m3 the SIMD kernel decodes to fp16 with a
 * shift, which yields the value times 2^-8; `colscale` is therefore
 * scale * 2^8 for e4m3 and scale otherwise, so the 2^8 costs nothing.
 * That shift turns e4m3's NaN code into a finite value; since any NaN
 * weight makes its whole output column NaN (0 * NaN is NaN), pack stores
 * NaN as that column's bias instead, and no kernel tests codes for NaN.
 */
#ifndef PRECIS_FW_IMPL_H
#define PRECIS_FW_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kq.h"

#define KQ_FW_NB 32    /* output columns per block */
#define KQ_PANEL_KC 256 /* k per fp32 panel: [256][32] floats = 32 KiB */

struct kq_fw {
	kq_fmt fmt;
	int n, k, nblk;
	int esize;       /* bytes per code */
	kq_isa isa;
	size_t bytes;
	void *codes;     /* [nblk][k][32] codes of esize bytes */
	float *scale;    /* [nblk * 32] scale[n] (0 in padding) */
	float *colscale; /* [nblk * 32] scale the SIMD kernel multiplies by, see above */
	float *bias;     /* [nblk * 32], 0 when packed without bias; NaN in an
			  * e4m3 column that holds a NaN code (see below) */
};

/* The code of weight (n, k). */
static inline uint32_t kq_fw_code(const struct kq_fw *w, int n, int k)
{
	size_t i = ((size_t)(n / KQ_FW_NB) * w->k + k) * KQ_FW_NB + n % KQ_FW_NB;
	return w->esize == 1 ? ((const uint8_t *)w->codes)[i] : ((const uint16_t *)w->codes)[i];
}

typedef struct {
	const struct kq_fw *w;
	int m;
	const float *a;
	int lda;
	float *c;
	int ldc;
} kq_fw_args;

typedef void (*kq_fw_kernel)(const kq_fw_args *p, int b0, int b1);
void kq_gemm_fw_f32_ref(const kq_fw_args *p, int b0, int b1);
void kq_gemm_fw_f32_avx512vnni(const kq_fw_args *p, int b0, int b1);

/* fp32 micro-kernel over a panel (AVX-512; defined in gemm_fw_avx512.c):
 * for every row i < m, C[i][j] (j < ncols <= 32) = (accumulate ? C[i][j] : 0)
 * + sum_{kk < kc} a[i][kk] * panel[kk * 32 + j], then, when given, times
 * mul[j] and plus add[j] (in that order, each rounded).  panel is 64-byte
 * aligned. */
void kq_f32_panel_avx512(int m, const float *a, int lda, const float *panel, int kc,
			 int accumulate, const float *mul, const float *add, float *c,
			 int ldc, int ncols);

#endif
