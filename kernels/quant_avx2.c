/* SPDX-License-Identifier: GPL-3.0-or-later */
/* quant_avx2.c - AVX2 quantize and fake-quant loops for one slice.
 *
 * DESIGN: the arithmetic of quant_avx512.c (see quant_impl.h for why it
 * equals the reference) on 8 values per vector.  Quantize stores 32 bytes
 * at a time (two signed packs, one pack to bytes, one lane fix-up); the
 * remainder goes 8 at a time, the last partial vector through vmaskmovps
 * loads (masked-off lanes read 0, which never clips, and are masked out of
 * the count anyway) and a byte copy, so no value takes a scalar path.
 * Clipped lanes accumulate as -1 compare results per uint32 lane and are
 * reduced per chunk.
 */
#include "config.h"

#include "quant_impl.h"

#include <immintrin.h>
#include <string.h>

/* Values per accumulation chunk: a lane counts at most CHUNK / 8 clips. */
#define CHUNK ((size_t)1 << 30)

typedef struct {
	__m256 inv, lo, hi, scale;
	__m256i zp;
} consts;

static inline consts consts_of(const kq_qslice *s)
{
	consts k = {_mm256_set1_ps(s->inv), _mm256_set1_ps(s->lo), _mm256_set1_ps(s->hi),
		    _mm256_set1_ps(s->scale), _mm256_set1_epi32(s->zp)};
	return k;
}

/* q - zp for 8 values; the lanes of `live` (all ones or zero per lane) that
 * clipped add 1 to *acc.  max(r, lo) returns lo for a NaN r (the second
 * operand), so NaN gives qmin as in the reference. */
static inline __m256 clamp8(__m256 x, const consts *k, __m256i live, __m256i *acc)
{
	__m256 r = _mm256_round_ps(_mm256_mul_ps(x, k->inv),
				   _MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC);
	__m256 c = _mm256_min_ps(_mm256_max_ps(r, k->lo), k->hi);
	__m256i clip = _mm256_castps_si256(_mm256_cmp_ps(c, r, _CMP_NEQ_UQ));
	*acc = _mm256_sub_epi32(*acc, _mm256_and_si256(clip, live));
	return c;
}

static inline __m256i q8(__m256 c, const consts *k)
{
	return _mm256_add_epi32(_mm256_cvttps_epi32(c), k->zp);
}

/* int16 to bytes: signed saturation keeps [-128, 127], unsigned [0, 255];
 * the values are in range, so either is exact for its own sign. */
static inline __m256i pack_bytes(__m256i a, __m256i b, int is_unsigned)
{
	return is_unsigned ? _mm256_packus_epi16(a, b) : _mm256_packs_epi16(a, b);
}

/* Lanes for n - i < 8 remaining values: all ones below n - i. */
static inline __m256i live_lanes(size_t rem)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline size_t reduce(__m256i acc)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return (uint32_t)_mm_cvtsi128_si32(s);
}

/* is_unsigned is a constant at each call, so each sign gets its own loop. */
static inline size_t quant_chunk(const float *x, size_t n, const consts *k, uint8_t *q,
				 int is_unsigned)
{
	const __m256i all = _mm256_set1_epi32(-1);
	/* packs interleave 128-bit lanes: dword j of the packed vector holds
	 * values 4j.. of input (j % 4) half (j / 4); this restores the order */
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m256i acc = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i a = q8(clamp8(_mm256_loadu_ps(x + i), k, all, &acc), k);
		__m256i b = q8(clamp8(_mm256_loadu_ps(x + i + 8), k, all, &acc), k);
		__m256i c = q8(clamp8(_mm256_loadu_ps(x + i + 16), k, all, &acc), k);
		__m256i d = q8(clamp8(_mm256_loadu_ps(x + i + 24), k, all, &acc), k);
		__m256i v = pack_bytes(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d), is_unsigned);
		_mm256_storeu_si256((__m256i *)(q + i), _mm256_permutevar8x32_epi32(v, order));
	}
	for (; i < n; i += 8) {
		size_t rem = n - i < 8 ? n - i : 8;
		__m256i live = rem == 8 ? all : live_lanes(rem);
		__m256i a = q8(clamp8(_mm256_maskload_ps(x + i, live), k, live, &acc), k);
		__m256i v = pack_bytes(_mm256_packs_epi32(a, a), _mm256_setzero_si256(), is_unsigned);
		/* bytes 0-3 of each 128-bit lane now hold values 0-3 and 4-7 */
		__m128i b = _mm_unpacklo_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
		if (rem == 8) {
			_mm_storel_epi64((__m128i *)(q + i), b);
		} else {
			uint8_t tmp[16];
			_mm_storeu_si128((__m128i *)tmp, b);
			memcpy(q + i, tmp, rem);
		}
	}
	return reduce(acc);
}

static size_t quant_s8(const float *x, size_t n, const kq_qslice *s, int8_t *q)
{
	consts k = consts_of(s);
	size_t clipped = 0;
	for (size_t i = 0; i < n; i += CHUNK)
		clipped += quant_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, &k, (uint8_t *)q + i, 0);
	return clipped;
}

static size_t quant_u8(const float *x, size_t n, const kq_qslice *s, uint8_t *q)
{
	consts k = consts_of(s);
	size_t clipped = 0;
	for (size_t i = 0; i < n; i += CHUNK)
		clipped += quant_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, &k, q + i, 1);
	return clipped;
}

/* (float)(q - zp) * scale as the reference computes it: going through
 * int32 turns a -0.0 clamp result (from r = -0.0) into +0.0, as the
 * integer subtraction does. */
static inline __m256 deq8(__m256 c, const consts *k)
{
	return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvttps_epi32(c)), k->scale);
}

static size_t fake_chunk(const float *x, size_t n, const consts *k, float *y)
{
	const __m256i all = _mm256_set1_epi32(-1);
	__m256i acc = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
		_mm256_storeu_ps(y + i, deq8(clamp8(a, k, all, &acc), k));
		_mm256_storeu_ps(y + i + 8, deq8(clamp8(b, k, all, &acc), k));
	}
	for (; i < n; i += 8) {
		__m256i live = n - i >= 8 ? all : live_lanes(n - i);
		__m256 v = deq8(clamp8(_mm256_maskload_ps(x + i, live), k, live, &acc), k);
		_mm256_maskstore_ps(y + i, live, v);
	}
	return reduce(acc);
}

static size_t fake(const float *x, size_t n, const kq_qslice *s, float *y)
{
	consts k = consts_of(s);
	size_t clipped = 0;
	for (size_t i = 0; i < n; i += CHUNK)
		clipped += fake_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, &k, y + i);
	return clipped;
}

const kq_quant_ops kq_quant_ops_avx2 = {quant_s8, quant_u8, fake};
