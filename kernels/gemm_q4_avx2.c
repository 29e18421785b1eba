/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_q4_avx2.c - int4 weight-only GEMM/GEMV kernels for AVX2 + FMA.
 *
 * DESIGN (layout in q4_impl.h): a 32-column block is four 8-column ymm
 * quarters; tiles of up to two rows so accumulators fit in 16 registers.
 * - W4A8: vpmaddubsw(u, a - 128) then vpmaddwd with ones gives what one
 *   vpdpbusd gives (|u * s| <= 15 * 128, so the int16 pairs never
 *   saturate); the compensation and the float epilogue are those of the
 *   AVX-512 kernel, hence bit-identical results.
 * - W4A32: nibble -> int32 -> float gives u = q + 8; per group the
 *   (8 + zp) * sum a term is subtracted, then one FMA applies the scale.
 */
#include <immintrin.h>
#include <string.h>

#include "kq_impl.h"
#include "q4_impl.h"

#define INLINE static inline __attribute__((always_inline))
#define MR_MAX 2

static __m256i col_mask8(int valid, int quarter)
{
	int v = valid - 8 * quarter;
	v = v < 0 ? 0 : v > 8 ? 8 : v;
	return _mm256_cmpgt_epi32(_mm256_set1_epi32(v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

INLINE void s8_tile(const kq_q4_args *p, int b, int r0, const int MR)
{
	const struct kq_q4w *w = p->w;
	const int ng = w->ngroups, gsteps = w->group / KQ_Q4_KS;
	const uint8_t *qs = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP;
	const size_t meta = (size_t)b * ng * KQ_Q4_NB;
	const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
	const __m256i d = _mm256_set1_epi32(128 - p->a_zp);
	_Alignas(32) float facc[MR_MAX][KQ_Q4_NB] = {{0}};

	for (int g = 0; g < ng; g++) {
		int s0 = g * gsteps, s1 = s0 + gsteps < w->ksteps ? s0 + gsteps : w->ksteps;
		__m256i acc[MR_MAX][4];
		for (int r = 0; r < MR; r++)
			for (int q = 0; q < 4; q++)
				acc[r][q] = _mm256_setzero_si256();
		for (int s = s0; s < s1; s++) {
			__m256i a0[MR_MAX], a1[MR_MAX];
			for (int r = 0; r < MR; r++) {
				int32_t v0, v1;
				const int8_t *ar = p->as + (size_t)(r0 + r) * p->kpad + 8 * s;
				memcpy(&v0, ar, 4);
				memcpy(&v1, ar + 4, 4);
				a0[r] = _mm256_set1_epi32(v0);
				a1[r] = _mm256_set1_epi32(v1);
			}
			for (int q = 0; q < 4; q++) {
				__m256i x = _mm256_load_si256((const __m256i *)(qs + (size_t)s * KQ_Q4_STEP + 32 * q));
				__m256i lo = _mm256_and_si256(x, m4);
				__m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
				for (int r = 0; r < MR; r++) {
					__m256i t = _mm256_add_epi16(_mm256_maddubs_epi16(lo, a0[r]),
								     _mm256_maddubs_epi16(hi, a1[r]));
					acc[r][q] = _mm256_add_epi32(acc[r][q], _mm256_madd_epi16(t, ones));
				}
			}
		}
		size_t mg = meta + (size_t)g * KQ_Q4_NB;
		for (int q = 0; q < 4; q++) {
			__m256 sc = _mm256_load_ps(w->scale + mg + 8 * q);
			__m256i z = _mm256_add_epi32(
				_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w->zp + mg + 8 * q))),
				_mm256_set1_epi32(8));
			__m256i du = _mm256_mullo_epi32(
				d, _mm256_cvtepi16_epi32(_mm_load_si128((const __m128i *)(w->usum + mg + 8 * q))));
			for (int r = 0; r < MR; r++) {
				__m256i sa = _mm256_set1_epi32(p->isum[(size_t)(r0 + r) * ng + g]);
				__m256i is = _mm256_sub_epi32(_mm256_add_epi32(acc[r][q], du), _mm256_mullo_epi32(z, sa));
				__m256 f = _mm256_load_ps(facc[r] + 8 * q);
				f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_cvtepi32_ps(is), sc));
				_mm256_store_ps(facc[r] + 8 * q, f);
			}
		}
	}

	int valid = w->n - b * KQ_Q4_NB;
	const __m256 as_v = _mm256_set1_ps(p->a_scale);
	for (int q = 0; q < 4; q++) {
		__m256i mk = col_mask8(valid, q);
		__m256 bias = _mm256_load_ps(w->bias + b * KQ_Q4_NB + 8 * q);
		for (int r = 0; r < MR; r++) {
			__m256 out = _mm256_add_ps(_mm256_mul_ps(_mm256_load_ps(facc[r] + 8 * q), as_v), bias);
			_mm256_maskstore_ps(p->c + (size_t)(r0 + r) * p->ldc + b * KQ_Q4_NB + 8 * q, mk, out);
		}
	}
}

void kq_gemm_q4_s8_avx2(const kq_q4_args *p, int b0, int b1)
{
	for (int b = b0; b < b1; b++)
		for (int r0 = 0; r0 < p->m; r0 += MR_MAX) {
			if (p->m - r0 >= 2)
				s8_tile(p, b, r0, 2);
			else
				s8_tile(p, b, r0, 1);
		}
}

#define KIDX(j) (((j) & 1) ? 4 + ((j) >> 1) : ((j) >> 1))

INLINE void f32_tile(const kq_q4_args *p, int b, int r0, const int MR)
{
	const struct kq_q4w *w = p->w;
	const int ng = w->ngroups, gsteps = w->group / KQ_Q4_KS;
	const int full = w->k / KQ_Q4_KS;
	const uint8_t *qs = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP;
	const size_t meta = (size_t)b * ng * KQ_Q4_NB;
	const __m256i m4 = _mm256_set1_epi32(0x0F);
	float tail[MR_MAX][KQ_Q4_KS] = {{0}};
	for (int r = 0; r < MR; r++)
		for (int t = 0; t < w->k - full * KQ_Q4_KS; t++)
			tail[r][t] = p->a[(size_t)(r0 + r) * p->lda + full * KQ_Q4_KS + t];
	_Alignas(32) float facc[MR_MAX][KQ_Q4_NB] = {{0}};

	for (int g = 0; g < ng; g++) {
		int s0 = g * gsteps, s1 = s0 + gsteps < w->ksteps ? s0 + gsteps : w->ksteps;
		__m256 acc[MR_MAX][4];
		for (int r = 0; r < MR; r++)
			for (int q = 0; q < 4; q++)
				acc[r][q] = _mm256_setzero_ps();
		for (int s = s0; s < s1; s++) {
			const float *ap[MR_MAX];
			for (int r = 0; r < MR; r++)
				ap[r] = s < full ? p->a + (size_t)(r0 + r) * p->lda + (size_t)s * KQ_Q4_KS : tail[r];
			for (int q = 0; q < 4; q++) {
				__m256i x = _mm256_load_si256((const __m256i *)(qs + (size_t)s * KQ_Q4_STEP + 32 * q));
				for (int j = 0; j < 8; j++) {
					__m256 u = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(x, 4 * j), m4));
					for (int r = 0; r < MR; r++)
						acc[r][q] = _mm256_fmadd_ps(_mm256_set1_ps(ap[r][KIDX(j)]), u, acc[r][q]);
				}
			}
		}
		size_t mg = meta + (size_t)g * KQ_Q4_NB;
		for (int q = 0; q < 4; q++) {
			__m256 sc = _mm256_load_ps(w->scale + mg + 8 * q);
			__m256 z = _mm256_cvtepi32_ps(_mm256_add_epi32(
				_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w->zp + mg + 8 * q))),
				_mm256_set1_epi32(8)));
			for (int r = 0; r < MR; r++) {
				__m256 t = _mm256_fnmadd_ps(z, _mm256_set1_ps(p->fsum[(size_t)(r0 + r) * ng + g]),
							    acc[r][q]);
				_mm256_store_ps(facc[r] + 8 * q,
						_mm256_fmadd_ps(t, sc, _mm256_load_ps(facc[r] + 8 * q)));
			}
		}
	}

	int valid = w->n - b * KQ_Q4_NB;
	for (int q = 0; q < 4; q++) {
		__m256i mk = col_mask8(valid, q);
		__m256 bias = _mm256_load_ps(w->bias + b * KQ_Q4_NB + 8 * q);
		for (int r = 0; r < MR; r++)
			_mm256_maskstore_ps(p->c + (size_t)(r0 + r) * p->ldc + b * KQ_Q4_NB + 8 * q, mk,
					    _mm256_add_ps(_mm256_load_ps(facc[r] + 8 * q), bias));
	}
}

void kq_gemm_q4_f32_avx2(const kq_q4_args *p, int b0, int b1)
{
	for (int b = b0; b < b1; b++)
		for (int r0 = 0; r0 < p->m; r0 += MR_MAX) {
			if (p->m - r0 >= 2)
				f32_tile(p, b, r0, 2);
			else
				f32_tile(p, b, r0, 1);
		}
}
