/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_q4_avx512.c - int4 weight-only GEMM/GEMV kernels for AVX-512 VNNI.
 *
 * DESIGN (layout in q4_impl.h; one call handles output blocks [b0, b1) for
 * every row, blocks outermost so a block's nibbles are reused from cache by
 * each tile of rows).
 * - W4A8: weights u = q + 8 are the unsigned operand of vpdpbusd, the
 *   activations a ^ 0x80 = a - 128 the signed one.  With z = 8 + zp and
 *   d = 128 - a_zp, the exact group sum is
 *     sum (a - a_zp)(q - zp) = sum u (a - 128) + d * sum u - z * sum (a - a_zp)
 *   with sum u stored at pack time and sum (a - a_zp) prepared per call.
 *   The float epilogue is kq.h's: acc += (float)isum * scale per group in
 *   order (mul then add, never FMA), C = acc * a_scale + bias.
 * - W4A32, few rows: vpermps looks the low nibble of every lane up in the
 *   table {-8 .. 7}, so a shift and a permute give 16 q values, one FMA
 *   multiplies them by a broadcast activation; per group the zero point is
 *   taken out as zp * sum a, and the scale is one FMA.
 * - W4A32, many rows: a [256][32] slice is converted to fp32 weights
 *   scale * (q - zp) once and the shared fp32 micro-kernel runs every row
 *   over it.
 */
#include <immintrin.h>
#include <string.h>

#include "fw_impl.h"
#include "kq_impl.h"
#include "q4_impl.h"

#define INLINE static inline __attribute__((always_inline))
/* Pins a value to a register: gcc 12 otherwise re-reads the permute table
 * and the weight vector from memory for every use, and the loads, not the
 * ALUs, become the limit of the GEMV loops. */
#define IN_REG(v) __asm__("" : "+v"(v))
/* How far ahead of the weight stream a GEMV prefetches: about a DRAM
 * latency's worth of bytes at one core's share of the bandwidth. */
#define PREFETCH_AHEAD 4096

/* W4A32 converts nibbles in registers for tiles of up to F32_DIRECT_ROWS
 * rows while m <= F32_PANEL_ROWS, and through an fp32 panel beyond, where
 * the conversion is shared by enough rows to vanish. */
#define F32_DIRECT_ROWS 4
#define F32_PANEL_ROWS 8
/* Rows per W4A8 tile: 2 x 8 accumulators, weights unpacked once per tile. */
#define S8_MR 8

static __mmask16 col_mask(int valid, int half)
{
	int v = valid - 16 * half;
	return v >= 16 ? 0xFFFF : v <= 0 ? 0 : (__mmask16)((1u << v) - 1);
}

/* ---------------------------------------------------------------- W4A8 */

INLINE void s8_tile(const kq_q4_args *p, int b, int r0, const int MR)
{
	const struct kq_q4w *w = p->w;
	const int ng = w->ngroups, gsteps = w->group / KQ_Q4_KS;
	const uint8_t *qs = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP;
	const size_t meta = (size_t)b * ng * KQ_Q4_NB;
	/* with one or two rows, lo and hi nibbles get separate accumulators so
	 * there are enough independent vpdpbusd chains to keep loads flowing */
	const int SPLIT = MR <= 2;
	const __m512i m4 = _mm512_set1_epi8(0x0F);
	const __m512i d = _mm512_set1_epi32(128 - p->a_zp);
	const int8_t *as[S8_MR];
	for (int r = 0; r < MR; r++)
		as[r] = p->as + (size_t)(r0 + r) * p->kpad;
	__m512 facc[S8_MR][2];
	for (int r = 0; r < MR; r++)
		facc[r][0] = facc[r][1] = _mm512_setzero_ps();

	for (int g = 0; g < ng; g++) {
		int s0 = g * gsteps, s1 = s0 + gsteps < w->ksteps ? s0 + gsteps : w->ksteps;
		__m512i acc[S8_MR][2][2];
		for (int r = 0; r < MR; r++)
			for (int h = 0; h < 2; h++)
				acc[r][h][0] = acc[r][h][1] = _mm512_setzero_si512();
		for (int s = s0; s < s1; s++) {
			const uint8_t *x = qs + (size_t)s * KQ_Q4_STEP;
			_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
			_mm_prefetch((const char *)x + PREFETCH_AHEAD + 64, _MM_HINT_T0);
			__m512i x0 = _mm512_load_si512(x), x1 = _mm512_load_si512(x + 64);
			__m512i lo0 = _mm512_and_si512(x0, m4);
			__m512i hi0 = _mm512_and_si512(_mm512_srli_epi16(x0, 4), m4);
			__m512i lo1 = _mm512_and_si512(x1, m4);
			__m512i hi1 = _mm512_and_si512(_mm512_srli_epi16(x1, 4), m4);
			for (int r = 0; r < MR; r++) {
				int32_t v0, v1;
				memcpy(&v0, as[r] + 8 * s, 4);
				memcpy(&v1, as[r] + 8 * s + 4, 4);
				__m512i a0 = _mm512_set1_epi32(v0), a1 = _mm512_set1_epi32(v1);
				acc[r][0][0] = _mm512_dpbusd_epi32(acc[r][0][0], lo0, a0);
				acc[r][1][0] = _mm512_dpbusd_epi32(acc[r][1][0], lo1, a0);
				acc[r][0][SPLIT] = _mm512_dpbusd_epi32(acc[r][0][SPLIT], hi0, a1);
				acc[r][1][SPLIT] = _mm512_dpbusd_epi32(acc[r][1][SPLIT], hi1, a1);
			}
		}
		size_t mg = meta + (size_t)g * KQ_Q4_NB;
		for (int h = 0; h < 2; h++) {
			__m512 sc = _mm512_load_ps(w->scale + mg + 16 * h);
			__m512i z = _mm512_add_epi32(
				_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(w->zp + mg + 16 * h))),
				_mm512_set1_epi32(8));
			__m512i du = _mm512_mullo_epi32(
				d, _mm512_cvtepi16_epi32(_mm256_load_si256((const __m256i *)(w->usum + mg + 16 * h))));
			for (int r = 0; r < MR; r++) {
				__m512i sa = _mm512_set1_epi32(p->isum[(size_t)(r0 + r) * ng + g]);
				__m512i is = SPLIT ? _mm512_add_epi32(acc[r][h][0], acc[r][h][1]) : acc[r][h][0];
				is = _mm512_sub_epi32(_mm512_add_epi32(is, du), _mm512_mullo_epi32(z, sa));
				facc[r][h] = _mm512_add_ps(facc[r][h], _mm512_mul_ps(_mm512_cvtepi32_ps(is), sc));
			}
		}
	}

	int valid = w->n - b * KQ_Q4_NB;
	const __m512 as_v = _mm512_set1_ps(p->a_scale);
	for (int h = 0; h < 2; h++) {
		__mmask16 mk = col_mask(valid, h);
		__m512 bias = _mm512_load_ps(w->bias + b * KQ_Q4_NB + 16 * h);
		for (int r = 0; r < MR; r++) {
			__m512 out = _mm512_add_ps(_mm512_mul_ps(facc[r][h], as_v), bias);
			_mm512_mask_storeu_ps(p->c + (size_t)(r0 + r) * p->ldc + b * KQ_Q4_NB + 16 * h, mk, out);
		}
	}
}

void kq_gemm_q4_s8_avx512vnni(const kq_q4_args *p, int b0, int b1)
{
	for (int b = b0; b < b1; b++)
		for (int r0 = 0; r0 < p->m; r0 += S8_MR) {
			switch (p->m - r0 < S8_MR ? p->m - r0 : S8_MR) {
			case 1: s8_tile(p, b, r0, 1); break;
			case 2: s8_tile(p, b, r0, 2); break;
			case 3: s8_tile(p, b, r0, 3); break;
			case 4: s8_tile(p, b, r0, 4); break;
			case 5: s8_tile(p, b, r0, 5); break;
			case 6: s8_tile(p, b, r0, 6); break;
			case 7: s8_tile(p, b, r0, 7); break;
			default: s8_tile(p, b, r0, S8_MR); break;
			}
		}
}

/* --------------------------------------------------------------- W4A32 */

/* The 8 k of one step, in nibble order: nibble j of a lane is k = kidx(j). */
#define KIDX(j) (((j) & 1) ? 4 + ((j) >> 1) : ((j) >> 1))

INLINE void f32_direct_tile(const kq_q4_args *p, int b, int r0, const int MR)
{
	const struct kq_q4w *w = p->w;
	const int ng = w->ngroups, gsteps = w->group / KQ_Q4_KS;
	const int full = w->k / KQ_Q4_KS; /* steps whose 8 activations all exist */
	const uint8_t *qs = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP;
	const size_t meta = (size_t)b * ng * KQ_Q4_NB;
	/* with one or two rows each (row, half) gets 4 FMA chains, else 2 */
	const int NCH = MR <= 2 ? 4 : 2;
	__m512 tab = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
	IN_REG(tab);
	_Alignas(64) float tail[F32_DIRECT_ROWS][KQ_Q4_KS] = {{0}};
	for (int r = 0; r < MR; r++)
		for (int t = 0; t < w->k - full * KQ_Q4_KS; t++)
			tail[r][t] = p->a[(size_t)(r0 + r) * p->lda + full * KQ_Q4_KS + t];
	__m512 facc[F32_DIRECT_ROWS][2];
	for (int r = 0; r < MR; r++)
		facc[r][0] = facc[r][1] = _mm512_setzero_ps();

	for (int g = 0; g < ng; g++) {
		int s0 = g * gsteps, s1 = s0 + gsteps < w->ksteps ? s0 + gsteps : w->ksteps;
		__m512 acc[F32_DIRECT_ROWS][2][4];
		for (int r = 0; r < MR; r++)
			for (int h = 0; h < 2; h++)
				for (int c = 0; c < NCH; c++)
					acc[r][h][c] = _mm512_setzero_ps();
		for (int s = s0; s < s1; s++) {
			const float *ap[F32_DIRECT_ROWS];
			for (int r = 0; r < MR; r++)
				ap[r] = s < full ? p->a + (size_t)(r0 + r) * p->lda + (size_t)s * KQ_Q4_KS : tail[r];
			const uint8_t *x = qs + (size_t)s * KQ_Q4_STEP;
			_mm_prefetch((const char *)x + PREFETCH_AHEAD, _MM_HINT_T0);
			_mm_prefetch((const char *)x + PREFETCH_AHEAD + 64, _MM_HINT_T0);
			for (int h = 0; h < 2; h++) {
				__m512i xv = _mm512_load_si512(x + 64 * h);
				IN_REG(xv);
				for (int j = 0; j < 8; j++) {
					__m512 wv = _mm512_permutexvar_ps(j ? _mm512_srli_epi32(xv, 4 * j) : xv, tab);
					int c = NCH == 4 ? j & 3 : j & 1;
					for (int r = 0; r < MR; r++)
						acc[r][h][c] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r][KIDX(j)]), wv, acc[r][h][c]);
				}
			}
		}
		size_t mg = meta + (size_t)g * KQ_Q4_NB;
		for (int h = 0; h < 2; h++) {
			__m512 sc = _mm512_load_ps(w->scale + mg + 16 * h);
			__m512 zf = _mm512_cvtepi32_ps(
				_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(w->zp + mg + 16 * h))));
			for (int r = 0; r < MR; r++) {
				__m512 t = _mm512_add_ps(acc[r][h][0], acc[r][h][1]);
				if (NCH == 4)
					t = _mm512_add_ps(t, _mm512_add_ps(acc[r][h][2], acc[r][h][3]));
				t = _mm512_fnmadd_ps(zf, _mm512_set1_ps(p->fsum[(size_t)(r0 + r) * ng + g]), t);
				facc[r][h] = _mm512_fmadd_ps(t, sc, facc[r][h]);
			}
		}
	}

	int valid = w->n - b * KQ_Q4_NB;
	for (int h = 0; h < 2; h++) {
		__mmask16 mk = col_mask(valid, h);
		__m512 bias = _mm512_load_ps(w->bias + b * KQ_Q4_NB + 16 * h);
		for (int r = 0; r < MR; r++)
			_mm512_mask_storeu_ps(p->c + (size_t)(r0 + r) * p->ldc + b * KQ_Q4_NB + 16 * h, mk,
					      _mm512_add_ps(facc[r][h], bias));
	}
}

/* Converts steps [s0, s1) of block b to fp32 weights scale * (q - zp),
 * panel[(8 (s - s0) + t) * 32 + col]. */
static void f32_panel(const struct kq_q4w *w, int b, int s0, int s1, float *panel)
{
	const __m512 tab = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
	const uint8_t *qs = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP;
	const size_t meta = (size_t)b * w->ngroups * KQ_Q4_NB;
	const int gsteps = w->group / KQ_Q4_KS;
	for (int g = s0 / gsteps; g * gsteps < s1; g++) {
		size_t mg = meta + (size_t)g * KQ_Q4_NB;
		int e = (g + 1) * gsteps < s1 ? (g + 1) * gsteps : s1;
		for (int h = 0; h < 2; h++) {
			__m512 sc = _mm512_load_ps(w->scale + mg + 16 * h);
			__m512 zf = _mm512_cvtepi32_ps(
				_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(w->zp + mg + 16 * h))));
			for (int s = g * gsteps > s0 ? g * gsteps : s0; s < e; s++) {
				__m512i xv = _mm512_load_si512(qs + (size_t)s * KQ_Q4_STEP + 64 * h);
				float *dst = panel + (size_t)(s - s0) * KQ_Q4_KS * KQ_Q4_NB + 16 * h;
				for (int j = 0; j < 8; j++) {
					__m512 q = _mm512_permutexvar_ps(j ? _mm512_srli_epi32(xv, 4 * j) : xv, tab);
					_mm512_store_ps(dst + KIDX(j) * KQ_Q4_NB, _mm512_mul_ps(_mm512_sub_ps(q, zf), sc));
				}
			}
		}
	}
}

static void f32_panel_blocks(const kq_q4_args *p, int b0, int b1)
{
	const struct kq_q4w *w = p->w;
	_Alignas(64) float panel[KQ_PANEL_KC * KQ_Q4_NB];
	for (int b = b0; b < b1; b++) {
		int ncols = w->n - b * KQ_Q4_NB < KQ_Q4_NB ? w->n - b * KQ_Q4_NB : KQ_Q4_NB;
		for (int k0 = 0; k0 < w->k; k0 += KQ_PANEL_KC) {
			int kc = w->k - k0 < KQ_PANEL_KC ? w->k - k0 : KQ_PANEL_KC;
			f32_panel(w, b, k0 / KQ_Q4_KS, (k0 + kc + KQ_Q4_KS - 1) / KQ_Q4_KS, panel);
			kq_f32_panel_avx512(p->m, p->a + k0, p->lda, panel, kc, k0 > 0, NULL,
					    k0 + kc == w->k ? w->bias + b * KQ_Q4_NB : NULL,
					    p->c + b * KQ_Q4_NB, p->ldc, ncols);
		}
	}
}

void kq_gemm_q4_f32_avx512vnni(const kq_q4_args *p, int b0, int b1)
{
	if (p->m > F32_PANEL_ROWS) {
		f32_panel_blocks(p, b0, b1);
		return;
	}
	for (int b = b0; b < b1; b++)
		for (int r0 = 0; r0 < p->m; r0 += F32_DIRECT_ROWS) {
			switch (p->m - r0 < F32_DIRECT_ROWS ? p->m - r0 : F32_DIRECT_ROWS) {
			case 1: f32_direct_tile(p, b, r0, 1); break;
			case 2: f32_direct_tile(p, b, r0, 2); break;
			case 3: f32_direct_tile(p, b, r0, 3); break;
			default: f32_direct_tile(p, b, r0, 4); break;
			}
		}
}
