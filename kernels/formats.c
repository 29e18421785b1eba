/* SPDX-License-Identifier: GPL-3.0-or-later */
/* formats.c - the number-format table and the scalar float codecs.
 *
 * DESIGN: every narrow float format (bf16, fp16, OCP FP8 E4M3 and E5M2) is
 * one row of `minifloats`, and a single encoder and decoder work from that
 * row with integer bit manipulation only, so the results do not depend on
 * the host's conversion instructions or rounding mode.  Encoding is round to
 * nearest, ties to even, with subnormals; what happens past the largest
 * finite value is a property of the row:
 * - IEEE-like rows (bf16, fp16, E5M2) have infinities: a value that rounds
 *   beyond max_finite becomes +-inf, inf stays inf, NaN stays a quiet NaN
 *   (sign and the top payload bits kept, quiet bit set).
 * - E4M3 has no infinities and a single NaN per sign (S.1111.111): it
 *   saturates, so any finite value beyond 448 and +-inf encode to +-448,
 *   and NaN encodes to 0x7F with the sign kept.
 * The tables are constant; nothing here holds state.
 */
#include "kq.h"

#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* The bit manipulation below assumes float is IEEE 754 binary32. */
static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits");
static_assert(FLT_RADIX == 2 && FLT_MANT_DIG == 24 && FLT_MAX_EXP == 128,
	      "float must be IEEE 754 binary32");
/* int4 storage puts exactly two elements in a byte. */
static_assert(CHAR_BIT == 8, "int4 packing assumes 8-bit bytes");

/* Field widths of the narrow formats; the sum is the storage size. */
enum {
	BF16_E = 8, BF16_M = 7,
	F16_E = 5, F16_M = 10,
	E4M3_E = 4, E4M3_M = 3,
	E5M2_E = 5, E5M2_M = 2
};
static_assert(1 + BF16_E + BF16_M == 16, "bf16 is 16 bits");
static_assert(1 + F16_E + F16_M == 16, "fp16 is 16 bits");
static_assert(1 + E4M3_E + E4M3_M == 8, "fp8-e4m3 is 8 bits");
static_assert(1 + E5M2_E + E5M2_M == 8, "fp8-e5m2 is 8 bits");

/* A narrow binary float.  Codes are sign | magnitude; magnitudes above
 * max_code are inf (== inf_code) or NaN.  inf_code == 0 means the format
 * has no infinity and saturates at max_code instead. */
typedef struct {
	int bits, mbits, bias;
	uint32_t max_code; /* magnitude code of the largest finite value */
	uint32_t inf_code; /* magnitude code of infinity, 0 when none */
	uint32_t nan_code; /* magnitude code encode() gives a NaN (quiet) */
	float sub_ulp;     /* value of the smallest subnormal, 2^(1-bias-mbits) */
} minifloat;

enum { MF_BF16, MF_F16, MF_E4M3, MF_E5M2, MF_COUNT };

static const minifloat minifloats[MF_COUNT] = {
	[MF_BF16] = {16, BF16_M, 127, 0x7F7F, 0x7F80, 0x7FC0, 0x1p-133f},
	[MF_F16] = {16, F16_M, 15, 0x7BFF, 0x7C00, 0x7E00, 0x1p-24f},
	[MF_E4M3] = {8, E4M3_M, 7, 0x7E, 0, 0x7F, 0x1p-9f},
	[MF_E5M2] = {8, E5M2_M, 15, 0x7B, 0x7C, 0x7E, 0x1p-16f},
};

static uint32_t f32_bits(float x)
{
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	return b;
}

static float f32_from_bits(uint32_t b)
{
	float x;
	memcpy(&x, &b, sizeof x);
	return x;
}

static uint32_t mf_encode(const minifloat *f, float x)
{
	uint32_t b = f32_bits(x);
	uint32_t sign = (b >> 31) << (f->bits - 1);
	uint32_t mag = b & 0x7FFFFFFFu;
	uint32_t over = f->inf_code ? f->inf_code : f->max_code;

	if (mag > 0x7F800000u) /* NaN: IEEE-like rows keep the top payload bits */
		return sign | f->nan_code |
		       (f->inf_code ? (mag & 0x7FFFFFu) >> (23 - f->mbits) : 0);
	if (mag == 0x7F800000u)
		return sign | over;

	/* x = m * 2^(e - 150) exactly, m < 2^24. */
	int e = (int)(mag >> 23);
	uint32_t m = mag & 0x7FFFFFu;
	if (e)
		m |= 0x800000u;
	else
		e = 1;
	/* Target exponent, floored at the subnormal exponent; the kept
	 * quantum is 2^(te - mbits), so `shift` low bits of m are dropped.
	 * shift >= 23 - mbits > 0 because every row is narrower than fp32. */
	int te = e - 127 > 1 - f->bias ? e - 127 : 1 - f->bias;
	int shift = te - f->mbits - (e - 150);
	uint32_t q = 0;
	if (shift < 32) { /* else m / 2^shift < 1/2: rounds to zero */
		uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
		q = m >> shift;
		if (rest > half || (rest == half && (q & 1)))
			q++;
	}
	/* The biased-exponent field plus q: a carry out of the mantissa of q
	 * (or out of the subnormal range) bumps the exponent, as it must. */
	uint32_t code = ((uint32_t)(te + f->bias - 1) << f->mbits) + q;
	return sign | (code > f->max_code ? over : code);
}

static float mf_decode(const minifloat *f, uint32_t code)
{
	uint32_t sign = (code >> (f->bits - 1)) & 1;
	uint32_t mag = code & ((1u << (f->bits - 1)) - 1);
	uint32_t e = mag >> f->mbits, m = mag & ((1u << f->mbits) - 1);
	float v;

	if (mag > f->max_code)
		v = f->inf_code && mag == f->inf_code ? INFINITY : NAN;
	else if (e == 0)
		v = (float)m * f->sub_ulp; /* exact: a power-of-two product */
	else
		v = f32_from_bits((e - f->bias + 127) << 23 | m << (23 - f->mbits));
	return sign ? -v : v;
}

uint8_t kq_e4m3_encode(float x)
{
	return (uint8_t)mf_encode(&minifloats[MF_E4M3], x);
}

float kq_e4m3_decode(uint8_t code)
{
	return mf_decode(&minifloats[MF_E4M3], code);
}

uint8_t kq_e5m2_encode(float x)
{
	return (uint8_t)mf_encode(&minifloats[MF_E5M2], x);
}

float kq_e5m2_decode(uint8_t code)
{
	return mf_decode(&minifloats[MF_E5M2], code);
}

uint16_t kq_f16_encode(float x)
{
	return (uint16_t)mf_encode(&minifloats[MF_F16], x);
}

float kq_f16_decode(uint16_t code)
{
	return mf_decode(&minifloats[MF_F16], code);
}

uint16_t kq_bf16_encode(float x)
{
	return (uint16_t)mf_encode(&minifloats[MF_BF16], x);
}

float kq_bf16_decode(uint16_t code)
{
	return mf_decode(&minifloats[MF_BF16], code);
}

/* Table adapters: the table's codec signature is uint32_t <-> float. */
static uint32_t f32_enc(float x) { return f32_bits(x); }
static float f32_dec(uint32_t c) { return f32_from_bits(c); }
static uint32_t bf16_enc(float x) { return kq_bf16_encode(x); }
static float bf16_dec(uint32_t c) { return kq_bf16_decode((uint16_t)c); }
static uint32_t f16_enc(float x) { return kq_f16_encode(x); }
static float f16_dec(uint32_t c) { return kq_f16_decode((uint16_t)c); }
static uint32_t e4m3_enc(float x) { return kq_e4m3_encode(x); }
static float e4m3_dec(uint32_t c) { return kq_e4m3_decode((uint8_t)c); }
static uint32_t e5m2_enc(float x) { return kq_e5m2_encode(x); }
static float e5m2_dec(uint32_t c) { return kq_e5m2_decode((uint8_t)c); }

static const kq_fmt_info fmt_table[] = {
	[KQ_FMT_F32] = {"fp32", 32, 0, 0, FLT_MAX, FLT_MIN, 0x1p-149f, f32_enc, f32_dec},
	[KQ_FMT_BF16] = {"bf16", 16, 0, 0, 0x1.FEp127f, 0x1p-126f, 0x1p-133f, bf16_enc, bf16_dec},
	[KQ_FMT_F16] = {"fp16", 16, 0, 0, 65504.0f, 0x1p-14f, 0x1p-24f, f16_enc, f16_dec},
	[KQ_FMT_E4M3] = {"fp8-e4m3", 8, 0, 1, 448.0f, 0x1p-6f, 0x1p-9f, e4m3_enc, e4m3_dec},
	[KQ_FMT_E5M2] = {"fp8-e5m2", 8, 0, 0, 57344.0f, 0x1p-14f, 0x1p-16f, e5m2_enc, e5m2_dec},
	[KQ_FMT_I8] = {"int8", 8, 1, 1, 127.0f, 1.0f, 1.0f, NULL, NULL},
	[KQ_FMT_I4] = {"int4", 4, 1, 1, 7.0f, 1.0f, 1.0f, NULL, NULL},
};
static_assert(sizeof fmt_table / sizeof fmt_table[0] == KQ_FMT_COUNT,
	      "one format table row per kq_fmt");

const kq_fmt_info *kq_fmt_get(int fmt)
{
	return fmt >= 0 && fmt < KQ_FMT_COUNT ? &fmt_table[fmt] : NULL;
}

int kq_fmt_parse(const char *name, kq_fmt *out)
{
	for (int i = 0; name && i < KQ_FMT_COUNT; i++)
		if (strcmp(name, fmt_table[i].name) == 0) {
			*out = (kq_fmt)i;
			return KQ_OK;
		}
	return KQ_EINVAL;
}

int kq_fmt_round(kq_fmt fmt, const float *x, float *y, size_t n)
{
	const kq_fmt_info *f = kq_fmt_get(fmt);

	if (!f || f->is_int || (n && (!x || !y)))
		return KQ_EINVAL;
	for (size_t i = 0; i < n; i++)
		y[i] = f->decode(f->encode(x[i]));
	return KQ_OK;
}

void kq_i4_pack(const int8_t *q, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n / 2; i++)
		out[i] = (uint8_t)((q[2 * i] & 0xF) | (q[2 * i + 1] & 0xF) << 4);
	if (n & 1)
		out[n / 2] = (uint8_t)(q[n - 1] & 0xF);
}

void kq_i4_unpack(const uint8_t *p, size_t n, int8_t *out)
{
	/* Sign-extend a nibble: (v ^ 8) - 8 maps 0..15 to 0..7, -8..-1. */
	for (size_t i = 0; i < n; i++) {
		int v = (p[i / 2] >> (4 * (i & 1))) & 0xF;
		out[i] = (int8_t)((v ^ 8) - 8);
	}
}
