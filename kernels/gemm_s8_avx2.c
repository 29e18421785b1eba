/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_s8_avx2.c - int8 GEMM for AVX2 CPUs without VNNI (vpmaddwd).
 *
 * DESIGN
 * - AVX2 has no u8 x s8 -> s32 dot product that cannot saturate
 *   (vpmaddubsw saturates pairs at int16), so both operands are widened to
 *   int16 and multiplied with vpmaddwd: exact, 16 MACs per instruction.
 * - Packed weights, widened once at packing time: panels of 16 output
 *   columns; inside a panel, K pairs, each stored as 16 columns x 2 int16
 *   (64 bytes = two ymm).  K is padded to even and N to a multiple of 16
 *   with zeros.  Panel p, pair g starts at int16 index (p * kpairs + g) * 32.
 * - A is widened per call, one MC x KC block at a time, into the task's
 *   scratch: row-major int16, each row padded to whole 32-byte words, the
 *   odd K tail given a zero partner, so the kernel reads dword pairs and
 *   never touches memory past the caller's rows.
 * - Micro-kernel: 6 rows x 16 columns = 12 ymm accumulators, two weight
 *   vectors and one broadcast pair per K pair (vpmaddwd + vpaddd).
 * - Blocking: for MC rows, for KC-element blocks of K (A block widened
 *   once, kept in L2), for every 16-column panel of the task (its KC x 16
 *   int16 micro-panel, up to 64 KiB, stays in L1/L2 while the row blocks
 *   pass over it).  Partial sums between K blocks live in C (s32, f32) or
 *   the scratch (u8).
 * - vpmaddwd + vpaddd sustain about 28 MAC per cycle on the project's Zen
 *   machine (1.75 pairs per cycle), against 16 for fp32 FMA on ymm; this
 *   kernel gets about 27, so the ratio to an AVX2 sgemm is bounded near
 *   1.8.  vpmaddubsw would double the rate but saturates u8 x s8 pairs;
 *   the exact splits of it (a = 2 * (a >> 1) + (a & 1), or w in halves)
 *   need 5 vector ops per 32 MACs where vpmaddwd needs 4.  The price is
 *   weights held as int16: twice the int8 size (see kq_s8w_bytes).
 * - Runs inside one task of kq_parallel: touches only its rows [m0, m1) and
 *   columns [n0, n1) of C, and its own scratch.
 */
#include "s8_impl.h"

#include <immintrin.h>
#include <string.h>

#define NR 16
#define MR 6
/* Block sizes; overridable with -D for tuning. */
#ifndef S8_KC2
#define S8_KC2 2048 /* K elements per block (even); beat 512 and 1024 by 2-15% */
#endif
#ifndef S8_MC2
#define S8_MC2 96 /* rows per block of A (multiple of MR) */
#endif

static size_t round_up_64(size_t x)
{
	return (x + 63) & ~(size_t)63;
}

static size_t packed_bytes(int n, int k)
{
	size_t np = ((size_t)n + NR - 1) / NR * NR, kp = ((size_t)k + 1) / 2 * 2;
	return np * kp * sizeof(int16_t);
}

static void pack(const int8_t *w, int n, int k, void *dst)
{
	int16_t *d = dst;
	size_t kg = ((size_t)k + 1) / 2;
	for (int col = 0; col < n; col++) {
		const int8_t *row = w + (size_t)col * k;
		int16_t *panel = d + (size_t)(col / NR) * kg * 32 + (size_t)(col % NR) * 2;
		for (int kk = 0; kk < k; kk++)
			panel[(size_t)(kk / 2) * 32 + kk % 2] = row[kk];
	}
}

/* K pairs per block and the number of blocks. */
static int kblocks(int k, int *pairs_per_block)
{
	int kg = (k + 1) / 2, per = S8_KC2 / 2;
	int nb = (kg + per - 1) / per;
	*pairs_per_block = (kg + nb - 1) / nb;
	return nb;
}

/* int32 words of one packed row of A: the block's pairs, rounded up to 8
 * pairs so every row starts 32-byte aligned. */
static size_t apack_ld(int k)
{
	int per;
	kblocks(k, &per);
	return ((size_t)per + 7) / 8 * 8;
}

static size_t apack_bytes(int k)
{
	return round_up_64((size_t)S8_MC2 * apack_ld(k) * 4);
}

/* Partial sums between K blocks live in C for s32 and f32 output (a float
 * slot holds the int32 bits until the last block); u8 output needs an
 * int32 scratch of MC rows x the task's columns. */
static size_t scratch_bytes(const s8_job *job)
{
	int per;
	size_t acc = 0;
	if (job->out == S8_OUT_U8 && kblocks(job->k, &per) > 1) {
		size_t cols = job->split_rows ? (size_t)job->n
					      : ((size_t)job->n + (size_t)job->tasks * NR - 1) / job->tasks;
		acc = (size_t)S8_MC2 * (cols + 2 * NR) * sizeof(int32_t);
	}
	return apack_bytes(job->k) + acc;
}

/* Widens rows [i0, i1) x pairs [g0, g1) of A to int16 pairs, row-major with
 * ld words per row; the odd K tail gets a zero partner. */
static void pack_a(const s8_job *job, int i0, int i1, int g0, int g1, int32_t *dst, size_t ld)
{
	const int k = job->k;
	const int c0 = 2 * g0, c1 = 2 * g1 < k ? 2 * g1 : k; /* columns of A */
	for (int i = i0; i < i1; i++) {
		const uint8_t *a = job->a + (size_t)i * job->lda + c0;
		int16_t *d = (int16_t *)(void *)(dst + (size_t)(i - i0) * ld);
		int c = 0, n = c1 - c0;
		for (; c + 16 <= n; c += 16) {
			__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(a + c));
			_mm256_store_si256((__m256i *)(void *)(d + c), _mm256_cvtepu8_epi16(b));
		}
		for (; c < n; c++)
			d[c] = a[c];
		for (; c < 2 * (g1 - g0); c++)
			d[c] = 0;
	}
}

typedef struct {
	const s8_job *job;
	int first, last;
	int32_t *acc;
	size_t ldacc;
	int row, col;
	int nvalid; /* valid columns of the tile, 1..16 */
} tile;

static inline void store_i32(int32_t *p, __m256i v0, __m256i v1, int nv)
{
	if (nv == 16) {
		_mm256_storeu_si256((__m256i *)(void *)p, v0);
		_mm256_storeu_si256((__m256i *)(void *)(p + 8), v1);
		return;
	}
	int32_t tmp[16];
	_mm256_storeu_si256((__m256i *)(void *)tmp, v0);
	_mm256_storeu_si256((__m256i *)(void *)(tmp + 8), v1);
	memcpy(p, tmp, (size_t)nv * sizeof *p);
}

static inline void load_i32(const int32_t *p, __m256i *v0, __m256i *v1, int nv)
{
	if (nv == 16) {
		*v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
		*v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 8));
		return;
	}
	int32_t tmp[16] = {0};
	memcpy(tmp, p, (size_t)nv * sizeof *p);
	*v0 = _mm256_loadu_si256((const __m256i *)(const void *)tmp);
	*v1 = _mm256_loadu_si256((const __m256i *)(const void *)(tmp + 8));
}

static void store_row(const tile *t, int i, __m256i c0, __m256i c1)
{
	const s8_job *job = t->job;
	const int nv = t->nvalid;
	if (!t->last) {
		store_i32(t->acc + (size_t)i * t->ldacc, c0, c1, nv);
		return;
	}
	const int n = t->col, m = t->row + i;
	if (job->rowsum) {
		__m256i rs = _mm256_set1_epi32(job->rowsum[m]);
		const __m256i *zp = (const __m256i *)(const void *)(job->w->zp + n);
		c0 = _mm256_sub_epi32(c0, _mm256_mullo_epi32(rs, _mm256_loadu_si256(zp)));
		c1 = _mm256_sub_epi32(c1, _mm256_mullo_epi32(rs, _mm256_loadu_si256(zp + 1)));
	}
	if (job->out == S8_OUT_S32) {
		store_i32((int32_t *)job->c + (size_t)m * job->ldc + n, c0, c1, nv);
		return;
	}
	/* mul then add, never fused: bit-identical to the scalar epilogue */
	__m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(c0), _mm256_loadu_ps(job->fscale + n));
	__m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(c1), _mm256_loadu_ps(job->fscale + n + 8));
	f0 = _mm256_add_ps(f0, _mm256_loadu_ps(job->w->bias + n));
	f1 = _mm256_add_ps(f1, _mm256_loadu_ps(job->w->bias + n + 8));
	if (job->out == S8_OUT_F32) {
		float *p = (float *)job->c + (size_t)m * job->ldc + n;
		store_i32((int32_t *)(void *)p, _mm256_castps_si256(f0), _mm256_castps_si256(f1), nv);
		return;
	}
	const __m256 zero = _mm256_setzero_ps(), top = _mm256_set1_ps(255.0f);
	const __m256 inv = _mm256_set1_ps(job->inv_out), zp = _mm256_set1_ps(job->out_zp);
	if (job->relu) {
		f0 = _mm256_max_ps(f0, zero);
		f1 = _mm256_max_ps(f1, zero);
	}
	f0 = _mm256_round_ps(_mm256_mul_ps(f0, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	f1 = _mm256_round_ps(_mm256_mul_ps(f1, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	f0 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(f0, zp), zero), top); /* NaN -> 0 */
	f1 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(f1, zp), zero), top);
	__m256i w16 = _mm256_packus_epi32(_mm256_cvttps_epi32(f0), _mm256_cvttps_epi32(f1));
	w16 = _mm256_permute4x64_epi64(w16, 0xD8);
	__m256i b8 = _mm256_permute4x64_epi64(_mm256_packus_epi16(w16, w16), 0x08);
	uint8_t *p = (uint8_t *)job->c + (size_t)m * job->ldc + n;
	if (nv == 16) {
		_mm_storeu_si128((__m128i *)(void *)p, _mm256_castsi256_si128(b8));
	} else {
		uint8_t tmp[16];
		_mm_storeu_si128((__m128i *)(void *)tmp, _mm256_castsi256_si128(b8));
		memcpy(p, tmp, (size_t)nv);
	}
}

#define MADD(i)                                                                             \
	if (R > i) {                                                                        \
		__m256i b = _mm256_set1_epi32(ap[i * ld + g]);                              \
		c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(b, w0));             \
		c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(b, w1));             \
	}
#define LOADACC(i)                                                                          \
	if (R > i)                                                                          \
		load_i32(t->acc + i * t->ldacc, &c##i##0, &c##i##1, t->nvalid);
#define STORE(i)                                                                            \
	if (R > i)                                                                          \
		store_row(t, i, c##i##0, c##i##1);

/* R x 16 tile over ng K pairs: ap the first of R packed rows of A (ld
 * words apart), w the panel at the first pair of the block. */
static inline __attribute__((always_inline)) void
kernel(const int R, const int32_t *ap, size_t ld, const int16_t *w, int ng, const tile *t)
{
	__m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
	/* every sum starts from its column term, so the compensation is free */
	c00 = _mm256_load_si256((const __m256i *)(const void *)(t->job->colinit + t->col));
	c01 = _mm256_load_si256((const __m256i *)(const void *)(t->job->colinit + t->col + 8));
	c10 = c20 = c30 = c40 = c50 = c00;
	c11 = c21 = c31 = c41 = c51 = c01;
	if (!t->first) {
		LOADACC(0) LOADACC(1) LOADACC(2) LOADACC(3) LOADACC(4) LOADACC(5)
	}
	for (int g = 0; g < ng; g++, w += 32) {
		__m256i w0 = _mm256_load_si256((const __m256i *)(const void *)w);
		__m256i w1 = _mm256_load_si256((const __m256i *)(const void *)(w + 16));
		MADD(0) MADD(1) MADD(2) MADD(3) MADD(4) MADD(5)
	}
	STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
}

static void kernel_any(int r, const int32_t *ap, size_t ld, const int16_t *w, int ng,
		       const tile *t)
{
	switch (r) {
	case 6: kernel(6, ap, ld, w, ng, t); break;
	case 5: kernel(5, ap, ld, w, ng, t); break;
	case 4: kernel(4, ap, ld, w, ng, t); break;
	case 3: kernel(3, ap, ld, w, ng, t); break;
	case 2: kernel(2, ap, ld, w, ng, t); break;
	default: kernel(1, ap, ld, w, ng, t); break;
	}
}

static void cols(const s8_job *job, int m0, int m1, int n0, int n1, unsigned char *scratch)
{
	const int k = job->k, kg = (k + 1) / 2;
	int per;
	const int nb = kblocks(k, &per);
	const int16_t *packed = job->w->packed;
	const size_t ld = apack_ld(k);
	int32_t *apack = (int32_t *)(void *)scratch;
	int32_t *accbuf = (int32_t *)(void *)(scratch + apack_bytes(k));
	const size_t ldacc = (size_t)(n1 - n0 + NR - 1) / NR * NR;
	tile t;
	t.job = job;
	for (int ic = m0; ic < m1; ic += S8_MC2) {
		int iend = ic + S8_MC2 < m1 ? ic + S8_MC2 : m1;
		for (int pb = 0; pb < nb; pb++) {
			int g0 = pb * per, g1 = g0 + per < kg ? g0 + per : kg;
			t.first = pb == 0;
			t.last = pb == nb - 1;
			pack_a(job, ic, iend, g0, g1, apack, ld);
			for (int jr = n0; jr < n1; jr += NR) {
				const int16_t *wp = packed + ((size_t)(jr / NR) * kg + g0) * 32;
				t.nvalid = n1 - jr < NR ? n1 - jr : NR;
				t.col = jr;
				for (int ir = ic; ir < iend; ir += MR) {
					int r = iend - ir < MR ? iend - ir : MR;
					t.row = ir;
					if (job->out != S8_OUT_U8) { /* int32 bits in C's own slots */
						t.acc = (int32_t *)job->c + (size_t)ir * job->ldc + jr;
						t.ldacc = job->ldc;
					} else if (nb > 1) {
						t.acc = accbuf + (size_t)(ir - ic) * ldacc + (jr - n0);
						t.ldacc = ldacc;
					} else {
						t.acc = NULL; /* one K block: never read */
						t.ldacc = 0;
					}
					kernel_any(r, apack + (size_t)(ir - ic) * ld, ld, wp, g1 - g0, &t);
				}
			}
		}
	}
}

const s8_ops kq_s8_ops_avx2 = {
	.nr = NR,
	.packed_bytes = packed_bytes,
	.pack = pack,
	.scratch_bytes = scratch_bytes,
	.cols = cols,
};
