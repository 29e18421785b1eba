/* SPDX-License-Identifier: GPL-3.0-or-later */
/* q4_impl.h - packed int4 weight layout and kernel prototypes shared by
 * gemm_q4*.c; not part of the API (tests may include it to inspect).
 *
 * DESIGN: one layout serves every ISA.  Output columns are cut into blocks
 * of 32 and K into steps of 8; a (block, step) is 128 bytes.  Byte
 * 64h + 4c + t (h = column half, c < 16, t < 4) holds column 32b + 16h + c
 * with k = 8s + t in its low nibble and k = 8s + 4 + t in its high nibble,
 * each stored as u = q + 8 in [0, 15].  So a 32-bit lane of a 64-byte
 * vector is one column and the lane's bytes are 4 consecutive k: exactly
 * what vpdpbusd (unsigned weights x signed activations) wants after a mask
 * or a shift-and-mask, and a lane shifted right by 4j has the nibble for
 * one k at its bottom, which is all vpermps reads.  Steps past k and
 * columns past n hold u = 8 + zp, i.e. weight 0.  Blocks are contiguous
 * over all of K, so a thread that owns a range of blocks streams one array.
 * Per (block, group) the 32 scales, zero points and sums of u over the real
 * k are stored in three arrays of their own, so a kernel reads only what
 * it needs.
 */
#ifndef PRECIS_Q4_IMPL_H
#define PRECIS_Q4_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "kq.h"

#define KQ_Q4_NB 32     /* output columns per block */
#define KQ_Q4_KS 8      /* k per step */
#define KQ_Q4_STEP 128  /* bytes per (block, step) */

struct kq_q4w {
	int n, k, group, ngroups;
	int nblk;      /* ceil(n / 32) */
	int ksteps;    /* ceil(k / 8) */
	kq_isa isa;
	size_t bytes;
	uint8_t *qs;   /* [nblk][ksteps][128] nibbles, see above */
	float *scale;  /* [nblk][ngroups][32]; 0 in padding columns */
	int8_t *zp;    /* [nblk][ngroups][32]; 0 when packed without zero points */
	int16_t *usum; /* [nblk][ngroups][32]: sum of u over the group's real k */
	float *bias;   /* [nblk * 32]; 0 when packed without bias */
};

/* q (in [-8, 7]) of column n, position k, read back from the packed form. */
static inline int kq_q4_get(const struct kq_q4w *w, int n, int k)
{
	int b = n / KQ_Q4_NB, col = n % KQ_Q4_NB, s = k / KQ_Q4_KS, r = k % KQ_Q4_KS;
	const uint8_t *p = w->qs + ((size_t)b * w->ksteps + s) * KQ_Q4_STEP;
	uint8_t byte = p[64 * (col / 16) + 4 * (col % 16) + (r & 3)];
	return (r < 4 ? byte & 15 : byte >> 4) - 8;
}

/* Everything one call passes to a kernel.  The prepared fields are filled
 * by gemm_q4.c for the SIMD variants only (the _ref kernels read a, a8 and
 * a_zp directly, as the definition says). */
typedef struct {
	const struct kq_q4w *w;
	int m;
	const float *a;      /* W4A32: m x k fp32 (lda) */
	const uint8_t *a8;   /* W4A8: m x k uint8 (lda) */
	int lda;
	float a_scale;
	int32_t a_zp;
	float *c;
	int ldc;
	/* prepared activations (SIMD variants) */
	const float *fsum;   /* W4A32: [m][ngroups] sum of a over the group, k order */
	const int8_t *as;    /* W4A8: [m][kpad] a ^ 0x80 (= a - 128), zero past k */
	const int32_t *isum; /* W4A8: [m][ngroups] sum of (a - a_zp) over the group */
	int kpad;            /* ksteps * 8 */
} kq_q4_args;

/* Kernels compute output blocks [b0, b1) for all m rows. */
typedef void (*kq_q4_kernel)(const kq_q4_args *p, int b0, int b1);

void kq_gemm_q4_f32_ref(const kq_q4_args *p, int b0, int b1);
void kq_gemm_q4_s8_ref(const kq_q4_args *p, int b0, int b1);
void kq_gemm_q4_f32_avx2(const kq_q4_args *p, int b0, int b1);
void kq_gemm_q4_s8_avx2(const kq_q4_args *p, int b0, int b1);
void kq_gemm_q4_f32_avx512vnni(const kq_q4_args *p, int b0, int b1);
void kq_gemm_q4_s8_avx512vnni(const kq_q4_args *p, int b0, int b1);

#endif
