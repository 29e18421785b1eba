/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_fw_avx512.c - fp8/fp16/bf16-weight GEMM for AVX-512, and the fp32
 * panel micro-kernel it shares with the int4 W4A32 GEMM.
 *
 * DESIGN (layout in fw_impl.h).  Codes become fp32 exactly, in registers:
 * e5m2 is the top byte of an fp16, so a byte-to-word widening, a shift by 8
 * and vcvtph2ps; e4m3 sign-extended to a word and shifted by 7 is an fp16
 * of value * 2^-8 once bit 14 is cleared (subnormals included; the 2^8 is
 * in colscale; the NaN code S.1111.111 comes out finite, which the NaN
 * that pack put in such a column's bias makes right); fp16 is vcvtph2ps; bf16 is a shift by 16.  Up to 8 rows multiply the
 * converted k row directly (GEMV is memory-bound: one byte per fp8 weight
 * read once); more rows convert a [256][32] slice to an fp32 panel once
 * and run the micro-kernel over it.  The fp32 multiply is the only
 * arithmetic: this CPU has no fp8 arithmetic, hence kq_fw_emulated().
 */
#include <immintrin.h>

#include "fw_impl.h"
#include "kq_impl.h"

#define INLINE static inline __attribute__((always_inline))
/* Up to PANEL_ROWS rows convert codes in registers, in tiles of DIRECT_ROWS;
 * more rows go through an fp32 panel.  The micro-kernel's tile is PANEL_MR
 * rows by 32 columns: 16 accumulators, 2 weight loads and 8 broadcasts per
 * k for 16 FMAs. */
#define DIRECT_ROWS 4
#define PANEL_ROWS 8
#define PANEL_MR 8

static __mmask16 col_mask(int valid, int half)
{
	int v = valid - 16 * half;
	return v >= 16 ? 0xFFFF : v <= 0 ? 0 : (__mmask16)((1u << v) - 1);
}

/* 16 consecutive codes at p as fp32 (times 2^-8 for e4m3). */
INLINE __m512 cvt16(const void *p, const kq_fmt fmt)
{
	switch (fmt) {
	case KQ_FMT_E5M2:
		return _mm512_cvtph_ps(
			_mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p)), 8));
	case KQ_FMT_E4M3:
		return _mm512_cvtph_ps(_mm256_and_si256(
			_mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)), 7),
			_mm256_set1_epi16((short)0xBFFF)));
	case KQ_FMT_F16:
		return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
	default:
		return _mm512_castsi512_ps(
			_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
	}
}

/* ------------------------------------------------------- panel kernel */

INLINE void panel_tile(const float *a, int lda, const float *panel, int kc, int accumulate,
		       const float *mul, const float *add, float *c, int ldc, __mmask16 m0,
		       __mmask16 m1, const int MR)
{
	__m512 acc[PANEL_MR][2];
	for (int r = 0; r < MR; r++) {
		acc[r][0] = accumulate ? _mm512_maskz_loadu_ps(m0, c + (size_t)r * ldc) : _mm512_setzero_ps();
		acc[r][1] = accumulate ? _mm512_maskz_loadu_ps(m1, c + (size_t)r * ldc + 16)
				       : _mm512_setzero_ps();
	}
	for (int k = 0; k < kc; k++) {
		__m512 w0 = _mm512_load_ps(panel + (size_t)k * KQ_FW_NB);
		__m512 w1 = _mm512_load_ps(panel + (size_t)k * KQ_FW_NB + 16);
		for (int r = 0; r < MR; r++) {
			__m512 av = _mm512_set1_ps(a[(size_t)r * lda + k]);
			acc[r][0] = _mm512_fmadd_ps(av, w0, acc[r][0]);
			acc[r][1] = _mm512_fmadd_ps(av, w1, acc[r][1]);
		}
	}
	for (int r = 0; r < MR; r++) {
		if (mul) {
			acc[r][0] = _mm512_mul_ps(acc[r][0], _mm512_loadu_ps(mul));
			acc[r][1] = _mm512_mul_ps(acc[r][1], _mm512_loadu_ps(mul + 16));
		}
		if (add) {
			acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(add));
			acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(add + 16));
		}
		_mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc[r][0]);
		_mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc[r][1]);
	}
}

void kq_f32_panel_avx512(int m, const float *a, int lda, const float *panel, int kc,
			 int accumulate, const float *mul, const float *add, float *c,
			 int ldc, int ncols)
{
	__mmask16 m0 = col_mask(ncols, 0), m1 = col_mask(ncols, 1);
	for (int r0 = 0; r0 < m; r0 += PANEL_MR) {
		const float *ar = a + (size_t)r0 * lda;
		float *cr = c + (size_t)r0 * ldc;
		switch (m - r0 < PANEL_MR ? m - r0 : PANEL_MR) {
		case 1: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 1); break;
		case 2: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 2); break;
		case 3: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 3); break;
		case 4: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 4); break;
		case 5: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 5); break;
		case 6: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 6); break;
		case 7: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 7); break;
		default: panel_tile(ar, lda, panel, kc, accumulate, mul, add, cr, ldc, m0, m1, 8); break;
		}
	}
}

/* ---------------------------------------------------------- fw GEMM */

INLINE void direct_tile(const kq_fw_args *p, int b, int r0, const kq_fmt fmt, const int MR)
{
	const struct kq_fw *w = p->w;
	const int es = fmt == KQ_FMT_E4M3 || fmt == KQ_FMT_E5M2 ? 1 : 2;
	const char *codes = (const char *)w->codes + (size_t)b * w->k * KQ_FW_NB * es;
	const float *ar = p->a + (size_t)r0 * p->lda;
	__m512 acc[DIRECT_ROWS][2][2];
	for (int r = 0; r < MR; r++)
		acc[r][0][0] = acc[r][0][1] = acc[r][1][0] = acc[r][1][1] = _mm512_setzero_ps();
	/* two k rows per iteration: k parity picks the accumulator, so there
	 * are four FMA chains per row */
	int k = 0;
	for (; k + 1 < w->k; k += 2)
		for (int e = 0; e < 2; e++) {
			const char *row = codes + (size_t)(k + e) * KQ_FW_NB * es;
			__m512 w0 = cvt16(row, fmt), w1 = cvt16(row + 16 * es, fmt);
			for (int r = 0; r < MR; r++) {
				__m512 av = _mm512_set1_ps(ar[(size_t)r * p->lda + k + e]);
				acc[r][0][e] = _mm512_fmadd_ps(av, w0, acc[r][0][e]);
				acc[r][1][e] = _mm512_fmadd_ps(av, w1, acc[r][1][e]);
			}
		}
	if (k < w->k) {
		const char *row = codes + (size_t)k * KQ_FW_NB * es;
		__m512 w0 = cvt16(row, fmt), w1 = cvt16(row + 16 * es, fmt);
		for (int r = 0; r < MR; r++) {
			__m512 av = _mm512_set1_ps(ar[(size_t)r * p->lda + k]);
			acc[r][0][0] = _mm512_fmadd_ps(av, w0, acc[r][0][0]);
			acc[r][1][0] = _mm512_fmadd_ps(av, w1, acc[r][1][0]);
		}
	}
	int valid = w->n - b * KQ_FW_NB;
	for (int h = 0; h < 2; h++) {
		__m512 sc = _mm512_load_ps(w->colscale + b * KQ_FW_NB + 16 * h);
		__m512 bias = _mm512_load_ps(w->bias + b * KQ_FW_NB + 16 * h);
		for (int r = 0; r < MR; r++) {
			__m512 t = _mm512_add_ps(acc[r][h][0], acc[r][h][1]);
			_mm512_mask_storeu_ps(p->c + (size_t)(r0 + r) * p->ldc + b * KQ_FW_NB + 16 * h,
					      col_mask(valid, h), _mm512_add_ps(_mm512_mul_ps(t, sc), bias));
		}
	}
}

INLINE void direct_blocks(const kq_fw_args *p, int b0, int b1, const kq_fmt fmt)
{
	for (int b = b0; b < b1; b++)
		for (int r0 = 0; r0 < p->m; r0 += DIRECT_ROWS) {
			switch (p->m - r0 < DIRECT_ROWS ? p->m - r0 : DIRECT_ROWS) {
			case 1: direct_tile(p, b, r0, fmt, 1); break;
			case 2: direct_tile(p, b, r0, fmt, 2); break;
			case 3: direct_tile(p, b, r0, fmt, 3); break;
			default: direct_tile(p, b, r0, fmt, 4); break;
			}
		}
}

INLINE void panel_blocks(const kq_fw_args *p, int b0, int b1, const kq_fmt fmt)
{
	const struct kq_fw *w = p->w;
	const int es = fmt == KQ_FMT_E4M3 || fmt == KQ_FMT_E5M2 ? 1 : 2;
	_Alignas(64) float panel[KQ_PANEL_KC * KQ_FW_NB];
	for (int b = b0; b < b1; b++) {
		const char *codes = (const char *)w->codes + (size_t)b * w->k * KQ_FW_NB * es;
		int ncols = w->n - b * KQ_FW_NB < KQ_FW_NB ? w->n - b * KQ_FW_NB : KQ_FW_NB;
		for (int k0 = 0; k0 < w->k; k0 += KQ_PANEL_KC) {
			int kc = w->k - k0 < KQ_PANEL_KC ? w->k - k0 : KQ_PANEL_KC;
			for (int kk = 0; kk < kc; kk++) {
				const char *row = codes + (size_t)(k0 + kk) * KQ_FW_NB * es;
				_mm512_store_ps(panel + kk * KQ_FW_NB, cvt16(row, fmt));
				_mm512_store_ps(panel + kk * KQ_FW_NB + 16, cvt16(row + 16 * es, fmt));
			}
			int last = k0 + kc == w->k;
			kq_f32_panel_avx512(p->m, p->a + k0, p->lda, panel, kc, k0 > 0,
					    last ? w->colscale + b * KQ_FW_NB : NULL,
					    last ? w->bias + b * KQ_FW_NB : NULL, p->c + b * KQ_FW_NB,
					    p->ldc, ncols);
		}
	}
}

INLINE void fw_blocks(const kq_fw_args *p, int b0, int b1, const kq_fmt fmt)
{
	if (p->m > PANEL_ROWS)
		panel_blocks(p, b0, b1, fmt);
	else
		direct_blocks(p, b0, b1, fmt);
}

void kq_gemm_fw_f32_avx512vnni(const kq_fw_args *p, int b0, int b1)
{
	switch (p->w->fmt) {
	case KQ_FMT_E4M3: fw_blocks(p, b0, b1, KQ_FMT_E4M3); break;
	case KQ_FMT_E5M2: fw_blocks(p, b0, b1, KQ_FMT_E5M2); break;
	case KQ_FMT_F16: fw_blocks(p, b0, b1, KQ_FMT_F16); break;
	default: fw_blocks(p, b0, b1, KQ_FMT_BF16); break;
	}
}
