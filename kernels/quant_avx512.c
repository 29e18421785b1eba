/* SPDX-License-Identifier: GPL-3.0-or-later */
/* quant_avx512.c - AVX-512 quantize and fake-quant loops for one slice.
 *
 * DESIGN: 16 values per vector; the last partial vector uses masked loads
 * and stores, so every value takes the same path and there is no scalar
 * tail to keep in step with the reference.  The arithmetic is the identity
 * in quant_impl.h: r = vrndscaleps(x * inv) in the current rounding mode
 * (what nearbyintf does), c = min(max(r, lo), hi) = q - zp, clipped when
 * c != r (unordered, so NaN counts).  Converting c (|c| <= 255) can never
 * hit the 0x80000000 "integer indefinite" that huge or NaN inputs would
 * give.  Clipped counts accumulate per lane and are reduced per chunk.
 */
#include "config.h"

#include "quant_impl.h"

#include <immintrin.h>

/* Values per accumulation chunk: a uint32 lane then counts at most
 * CHUNK / 16 clips, far below 2^32. */
#define CHUNK ((size_t)1 << 30)

typedef struct {
	__m512 inv, lo, hi, scale;
	__m512i zp;
} consts;

static inline consts consts_of(const kq_qslice *s)
{
	consts k = {_mm512_set1_ps(s->inv), _mm512_set1_ps(s->lo), _mm512_set1_ps(s->hi),
		    _mm512_set1_ps(s->scale), _mm512_set1_epi32(s->zp)};
	return k;
}

/* q - zp for 16 values; the lanes of `live` that clipped add 1 to *acc.
 * max(r, lo) returns lo for a NaN r (the second operand), so NaN gives
 * qmin as in the reference; the operand order matters. */
static inline __m512 clamp16(__m512 x, const consts *k, __mmask16 live, __m512i *acc)
{
	__m512 r = _mm512_roundscale_ps(_mm512_mul_ps(x, k->inv),
					_MM_FROUND_CUR_DIRECTION | _MM_FROUND_NO_EXC);
	__m512 c = _mm512_min_ps(_mm512_max_ps(r, k->lo), k->hi);
	__mmask16 clip = _mm512_mask_cmp_ps_mask(live, c, r, _CMP_NEQ_UQ);
	*acc = _mm512_mask_add_epi32(*acc, clip, *acc, _mm512_set1_epi32(1));
	return c;
}

/* q as int32; vpmovdb keeps the low byte, which is the int8 or uint8 value
 * alike, so one loop serves both signs. */
static inline __m512i q16(__m512 c, const consts *k)
{
	return _mm512_add_epi32(_mm512_cvttps_epi32(c), k->zp);
}

static size_t quant_chunk(const float *x, size_t n, const consts *k, uint8_t *q)
{
	__m512i acc = _mm512_setzero_si512();
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		__m512i a = q16(clamp16(_mm512_loadu_ps(x + i), k, 0xffff, &acc), k);
		__m512i b = q16(clamp16(_mm512_loadu_ps(x + i + 16), k, 0xffff, &acc), k);
		__m512i c = q16(clamp16(_mm512_loadu_ps(x + i + 32), k, 0xffff, &acc), k);
		__m512i d = q16(clamp16(_mm512_loadu_ps(x + i + 48), k, 0xffff, &acc), k);
		_mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(a));
		_mm_storeu_si128((__m128i *)(q + i + 16), _mm512_cvtepi32_epi8(b));
		_mm_storeu_si128((__m128i *)(q + i + 32), _mm512_cvtepi32_epi8(c));
		_mm_storeu_si128((__m128i *)(q + i + 48), _mm512_cvtepi32_epi8(d));
	}
	for (; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512i v = q16(clamp16(_mm512_maskz_loadu_ps(m, x + i), k, m, &acc), k);
		_mm512_mask_cvtepi32_storeu_epi8(q + i, m, v);
	}
	return (uint32_t)_mm512_reduce_add_epi32(acc);
}

static size_t quant_bytes(const float *x, size_t n, const kq_qslice *s, uint8_t *q)
{
	consts k = consts_of(s);
	size_t clipped = 0;
	for (size_t i = 0; i < n; i += CHUNK)
		clipped += quant_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, &k, q + i);
	return clipped;
}

static size_t quant_s8(const float *x, size_t n, const kq_qslice *s, int8_t *q)
{
	return quant_bytes(x, n, s, (uint8_t *)q);
}

static size_t quant_u8(const float *x, size_t n, const kq_qslice *s, uint8_t *q)
{
	return quant_bytes(x, n, s, q);
}

/* (float)(q - zp) * scale as the reference computes it: going through
 * int32 turns a -0.0 clamp result (from r = -0.0) into +0.0, as the
 * integer subtraction does. */
static inline __m512 deq16(__m512 c, const consts *k)
{
	return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvttps_epi32(c)), k->scale);
}

static size_t fake_chunk(const float *x, size_t n, const consts *k, float *y)
{
	__m512i acc = _mm512_setzero_si512();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
		_mm512_storeu_ps(y + i, deq16(clamp16(a, k, 0xffff, &acc), k));
		_mm512_storeu_ps(y + i + 16, deq16(clamp16(b, k, 0xffff, &acc), k));
	}
	for (; i < n; i += 16) {
		__mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
		__m512 v = deq16(clamp16(_mm512_maskz_loadu_ps(m, x + i), k, m, &acc), k);
		_mm512_mask_storeu_ps(y + i, m, v);
	}
	return (uint32_t)_mm512_reduce_add_epi32(acc);
}

static size_t fake(const float *x, size_t n, const kq_qslice *s, float *y)
{
	consts k = consts_of(s);
	size_t clipped = 0;
	for (size_t i = 0; i < n; i += CHUNK)
		clipped += fake_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, &k, y + i);
	return clipped;
}

const kq_quant_ops kq_quant_ops_avx512vnni = {quant_s8, quant_u8, fake};
