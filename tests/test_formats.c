/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_formats.c - the format table and scalar codecs against the specs.
 *
 * Oracles, none of them the code under test:
 * - OCP 8-bit Floating Point Specification (OFP8) rev 1.0, table of E4M3 and
 *   E5M2 special values; IEEE 754 binary16; bfloat16 (fp32 truncated to its
 *   top 16 bits).  The values are spelled out below.
 * - Exhaustive properties over every code: decode then encode is the
 *   identity on non-NaN codes, positive codes decode in increasing order,
 *   NaN/inf counts are the ones the specs imply.
 * - Midpoints between neighbouring codes, built from the decoded values:
 *   the midpoint goes to the even code, a hair either side to the nearer.
 * - A brute-force nearest-code search for FP8, the bfloat16 rounding
 *   formula PyTorch's c10::BFloat16 uses, and the F16C instruction
 *   VCVTPS2PH when the CPU has it.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kq.h"
#include "tap.h"
#include "testutil.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_F16C_ORACLE 1
#endif


/* Same value and same sign (so -0 differs from +0); NaN matches NaN. */
static int same(float a, float b)
{
	return (isnan(a) && isnan(b)) || bits_of(a) == bits_of(b);
}

/* One narrow float format seen through the public API only. */
typedef struct {
	kq_fmt fmt;
	int bits;
	uint32_t max_code; /* largest finite magnitude code (spec) */
	uint32_t inf_code; /* 0: no infinity, saturates */
	int nan_codes;     /* NaN codes, both signs (spec) */
} fmt_case;

static const fmt_case cases[] = {
	{KQ_FMT_E4M3, 8, 0x7E, 0, 2},           /* S.1111.111 only */
	{KQ_FMT_E5M2, 8, 0x7B, 0x7C, 6},        /* S.11111.{01,10,11} */
	{KQ_FMT_F16, 16, 0x7BFF, 0x7C00, 2046}, /* exp 31, mantissa != 0 */
	{KQ_FMT_BF16, 16, 0x7F7F, 0x7F80, 254}, /* exp 255, mantissa != 0 */
};

static uint32_t enc(const fmt_case *c, float x)
{
	return kq_fmt_get(c->fmt)->encode(x);
}

static float dec(const fmt_case *c, uint32_t code)
{
	return kq_fmt_get(c->fmt)->decode(code);
}

static void test_table(void)
{
	static const char *names[KQ_FMT_COUNT] = {"fp32", "bf16", "fp16", "fp8-e4m3",
						  "fp8-e5m2", "int8", "int4"};
	static const int bits[KQ_FMT_COUNT] = {32, 16, 16, 8, 8, 8, 4};
	int good = 1;

	for (int f = 0; f < KQ_FMT_COUNT; f++) {
		const kq_fmt_info *i = kq_fmt_get(f);
		kq_fmt parsed = KQ_FMT_COUNT;
		good &= i && strcmp(i->name, names[f]) == 0 && i->bits == bits[f] &&
			kq_fmt_parse(names[f], &parsed) == KQ_OK && parsed == (kq_fmt)f &&
			i->is_int == (f >= KQ_FMT_I8) && (i->encode == NULL) == i->is_int;
	}
	ok(good, "format table: names, bits, parse round trip, codecs only on floats");
	kq_fmt dummy;
	ok(kq_fmt_get(-1) == NULL && kq_fmt_get(KQ_FMT_COUNT) == NULL &&
		   kq_fmt_parse("fp8", &dummy) == KQ_EINVAL && kq_fmt_parse(NULL, &dummy) == KQ_EINVAL,
	   "kq_fmt_get out of range is NULL, unknown names are KQ_EINVAL");

	const kq_fmt_info *e4 = kq_fmt_get(KQ_FMT_E4M3), *e5 = kq_fmt_get(KQ_FMT_E5M2);
	const kq_fmt_info *h = kq_fmt_get(KQ_FMT_F16), *b = kq_fmt_get(KQ_FMT_BF16);
	ok(e4->max_finite == 448.0f && e4->min_normal == 0x1p-6f &&
		   e4->min_subnormal == 0x1p-9f && e4->saturating == 1,
	   "E4M3 row: max 448, min normal 2^-6, min subnormal 2^-9, saturating");
	ok(e5->max_finite == 57344.0f && e5->min_normal == 0x1p-14f &&
		   e5->min_subnormal == 0x1p-16f && e5->saturating == 0,
	   "E5M2 row: max 57344, min normal 2^-14, min subnormal 2^-16, not saturating");
	ok(h->max_finite == 65504.0f && h->min_normal == 0x1p-14f &&
		   h->min_subnormal == 0x1p-24f && h->saturating == 0,
	   "fp16 row: max 65504, min normal 2^-14, min subnormal 2^-24");
	ok(b->max_finite == 0x1.FEp127f && b->min_normal == FLT_MIN &&
		   b->min_subnormal == 0x1p-133f && b->saturating == 0,
	   "bf16 row: max 0x1.FEp127, min normal 2^-126, min subnormal 2^-133");
	ok(kq_fmt_get(KQ_FMT_I8)->max_finite == 127.0f && kq_fmt_get(KQ_FMT_I4)->max_finite == 7.0f,
	   "int rows: qmax 127 and 7");
}

static void test_e4m3_spec(void)
{
	ok(kq_e4m3_decode(0x7E) == 448.0f && kq_e4m3_decode(0xFE) == -448.0f,
	   "E4M3 max normal 0x7E = 448 (S.1111.110)");
	ok(kq_e4m3_decode(0x08) == 0x1p-6f, "E4M3 min normal 0x08 = 2^-6");
	ok(kq_e4m3_decode(0x07) == 0.875f * 0x1p-6f, "E4M3 max subnormal 0x07 = 0.875 * 2^-6");
	ok(kq_e4m3_decode(0x01) == 0x1p-9f, "E4M3 min subnormal 0x01 = 2^-9");
	ok(kq_e4m3_decode(0x38) == 1.0f && kq_e4m3_decode(0x78) == 256.0f,
	   "E4M3 0x38 = 1, 0x78 = 256 (exponent 1111 is a normal binade)");
	ok(isnan(kq_e4m3_decode(0x7F)) && isnan(kq_e4m3_decode(0xFF)), "E4M3 NaN at 0x7F and 0xFF");
	ok(same(kq_e4m3_decode(0x80), -0.0f), "E4M3 0x80 is -0");
	ok(kq_e4m3_encode(448.0f) == 0x7E && kq_e4m3_encode(0x1p-6f) == 0x08 &&
		   kq_e4m3_encode(0x1p-9f) == 0x01 && kq_e4m3_encode(1.0f) == 0x38,
	   "E4M3 encodes the spec values to their codes");
	ok(kq_e4m3_encode(449.0f) == 0x7E && kq_e4m3_encode(464.0f) == 0x7E &&
		   kq_e4m3_encode(1e30f) == 0x7E && kq_e4m3_encode(FLT_MAX) == 0x7E &&
		   kq_e4m3_encode(-500.0f) == 0xFE,
	   "E4M3 saturates finite values beyond 448 to +-448");
	ok(kq_e4m3_encode(INFINITY) == 0x7E && kq_e4m3_encode(-INFINITY) == 0xFE,
	   "E4M3 has no infinity: +-inf encode to +-448");
	ok(kq_e4m3_encode(NAN) == 0x7F && kq_e4m3_encode(-NAN) == 0xFF,
	   "E4M3 NaN encodes to 0x7F with the sign kept");
	ok(kq_e4m3_encode(0x1p-10f) == 0x00 && kq_e4m3_encode(0x1.8p-10f) == 0x01 &&
		   kq_e4m3_encode(0x1.8p-9f) == 0x02 && kq_e4m3_encode(0x1p-11f) == 0x00,
	   "E4M3 below the smallest subnormal: half goes to 0 (even), 1.5 ulp to 2 ulp");
	int sub = 1;
	for (int k = 1; k < 8; k++)
		sub &= kq_e4m3_decode((uint8_t)k) == (float)k * 0x1p-9f &&
		       kq_e4m3_encode((float)k * 0x1p-9f) == k;
	ok(sub, "E4M3 subnormals 0x01..0x07 are k * 2^-9 both ways");
}

static void test_e5m2_spec(void)
{
	ok(kq_e5m2_decode(0x7B) == 57344.0f && kq_e5m2_decode(0xFB) == -57344.0f,
	   "E5M2 max normal 0x7B = 57344");
	ok(kq_e5m2_decode(0x04) == 0x1p-14f, "E5M2 min normal 0x04 = 2^-14");
	ok(kq_e5m2_decode(0x03) == 0.75f * 0x1p-14f, "E5M2 max subnormal 0x03 = 0.75 * 2^-14");
	ok(kq_e5m2_decode(0x01) == 0x1p-16f, "E5M2 min subnormal 0x01 = 2^-16");
	ok(kq_e5m2_decode(0x3C) == 1.0f, "E5M2 0x3C = 1");
	ok(kq_e5m2_decode(0x7C) == INFINITY && kq_e5m2_decode(0xFC) == -INFINITY,
	   "E5M2 inf at 0x7C / 0xFC");
	int nan = 1;
	for (int c = 0x7D; c <= 0x7F; c++)
		nan &= isnan(kq_e5m2_decode((uint8_t)c)) && isnan(kq_e5m2_decode((uint8_t)(c | 0x80)));
	ok(nan, "E5M2 NaN at 0x7D-0x7F and 0xFD-0xFF");
	ok(kq_e5m2_encode(57344.0f) == 0x7B && kq_e5m2_encode(0x1p-14f) == 0x04 &&
		   kq_e5m2_encode(0x1p-16f) == 0x01,
	   "E5M2 encodes the spec values to their codes");
	ok(kq_e5m2_encode(nextafterf(61440.0f, 0.0f)) == 0x7B && kq_e5m2_encode(61440.0f) == 0x7C &&
		   kq_e5m2_encode(1e6f) == 0x7C && kq_e5m2_encode(-1e6f) == 0xFC,
	   "E5M2 does not saturate: from the midpoint 61440 up, finite values become inf");
	ok(kq_e5m2_encode(INFINITY) == 0x7C && kq_e5m2_encode(-INFINITY) == 0xFC,
	   "E5M2 +-inf encode to 0x7C / 0xFC");
	uint8_t qn = kq_e5m2_encode(NAN), qm = kq_e5m2_encode(-NAN);
	ok(isnan(kq_e5m2_decode(qn)) && (qn & 0x80) == 0 && (qm & 0x80) && (qn & 0x02),
	   "E5M2 NaN encodes to a quiet NaN (0x%02x), sign kept", qn);
}

static void test_ieee16_spec(void)
{
	ok(kq_f16_decode(0x3C00) == 1.0f && kq_f16_decode(0x7BFF) == 65504.0f &&
		   kq_f16_decode(0x0400) == 0x1p-14f && kq_f16_decode(0x0001) == 0x1p-24f &&
		   kq_f16_decode(0x7C00) == INFINITY && kq_f16_decode(0xC000) == -2.0f,
	   "fp16 decodes 1, 65504, 2^-14, 2^-24, inf, -2");
	ok(kq_f16_encode(65504.0f) == 0x7BFF && kq_f16_encode(65520.0f) == 0x7C00 &&
		   kq_f16_encode(nextafterf(65520.0f, 0.0f)) == 0x7BFF && kq_f16_encode(-1e9f) == 0xFC00,
	   "fp16 overflow: 65520 (midpoint to 2^16) and above round to inf");
	ok(kq_f16_encode(0x1p-25f) == 0x0000 && kq_f16_encode(nextafterf(0x1p-25f, 1.0f)) == 0x0001 &&
		   kq_f16_encode(0x1.8p-24f) == 0x0002,
	   "fp16 underflow rounds half to even around the smallest subnormal");
	uint16_t s = kq_f16_encode(from_bits(0x7F800001u));
	ok((s & 0x7E00) == 0x7E00 && isnan(kq_f16_decode(s)),
	   "fp16 signalling NaN encodes quiet (0x%04x)", s);

	ok(kq_bf16_decode(0x3F80) == 1.0f && kq_bf16_decode(0x7F7F) == 0x1.FEp127f &&
		   kq_bf16_decode(0x0080) == FLT_MIN && kq_bf16_decode(0x0001) == 0x1p-133f &&
		   kq_bf16_decode(0xFF80) == -INFINITY,
	   "bf16 decodes 1, max, 2^-126, 2^-133, -inf");
	ok(kq_bf16_encode(FLT_MAX) == 0x7F80 && kq_bf16_encode(0x1.FEp127f) == 0x7F7F &&
		   kq_bf16_encode(from_bits(0x3F808000u)) == 0x3F80 &&
		   kq_bf16_encode(from_bits(0x3F818000u)) == 0x3F82,
	   "bf16 ties to even (0x3F808000 -> 0x3F80, 0x3F818000 -> 0x3F82), FLT_MAX -> inf");
	uint16_t qn = kq_bf16_encode(from_bits(0x7F800001u)), qm = kq_bf16_encode(from_bits(0xFF800001u));
	ok(qn == 0x7FC0 && qm == 0xFFC0,
	   "bf16 keeps a signalling NaN a NaN (quiet bit set): 0x%04x 0x%04x", qn, qm);
}

static void test_negative_zero(void)
{
	ok(kq_e4m3_encode(-0.0f) == 0x80 && kq_e5m2_encode(-0.0f) == 0x80 &&
		   kq_f16_encode(-0.0f) == 0x8000 && kq_bf16_encode(-0.0f) == 0x8000,
	   "-0 encodes to the sign-only code in every format");
	ok(kq_e4m3_encode(-1e-30f) == 0x80 && kq_e5m2_encode(-1e-30f) == 0x80 &&
		   kq_f16_encode(-1e-30f) == 0x8000 && kq_bf16_encode(-1e-45f) == 0x8000,
	   "a tiny negative value underflows to -0");
	ok(signbit(kq_e4m3_decode(0x80)) && signbit(kq_e5m2_decode(0x80)) &&
		   signbit(kq_f16_decode(0x8000)) && signbit(kq_bf16_decode(0x8000)),
	   "the sign-only code decodes to -0");
}

/* Every code: decode then encode; ordering; NaN and inf counts. */
static void test_exhaustive(const fmt_case *c)
{
	const char *name = kq_fmt_get(c->fmt)->name;
	uint32_t ncodes = 1u << c->bits, sign = 1u << (c->bits - 1), bad = UINT32_MAX;
	int nans = 0, infs = 0, nan_stays = 1;

	for (uint32_t code = 0; code < ncodes; code++) {
		float v = dec(c, code);
		if (isnan(v)) {
			nans++;
			nan_stays &= isnan(dec(c, enc(c, v)));
			continue;
		}
		infs += isinf(v) != 0; /* glibc isinf(-inf) is -1 */
		if (enc(c, v) != code && bad == UINT32_MAX)
			bad = code;
	}
	ok(bad == UINT32_MAX, "%s: encode(decode(c)) == c for every non-NaN code%s", name,
	   bad == UINT32_MAX ? "" : " (fails)");
	if (bad != UINT32_MAX)
		diag("first failing code 0x%x", bad);
	ok(nan_stays, "%s: NaN codes stay NaN through encode", name);
	ok(nans == c->nan_codes && infs == (c->inf_code ? 2 : 0),
	   "%s: %d NaN codes (spec %d), %d inf codes", name, nans, c->nan_codes, infs);

	int order = 1;
	for (uint32_t code = 1; code <= c->max_code; code++)
		order &= dec(c, code) > dec(c, code - 1) && dec(c, code | sign) == -dec(c, code);
	ok(order, "%s: positive codes increase, negative codes mirror them", name);
	ok(dec(c, c->max_code) == kq_fmt_get(c->fmt)->max_finite &&
		   dec(c, 1) == kq_fmt_get(c->fmt)->min_subnormal,
	   "%s: table max/min_subnormal agree with the codes", name);
}

/* Midpoints between neighbours go to the even code; a hair off, to the
 * nearer one; the same mirrored for negative values.  The last midpoint,
 * past max_finite, is the overflow threshold. */
static void test_ties(const fmt_case *c)
{
	const char *name = kq_fmt_get(c->fmt)->name;
	uint32_t sign = 1u << (c->bits - 1);
	int good = 1;
	uint32_t bad = UINT32_MAX;

	for (uint32_t lo = 0; lo < c->max_code; lo++) {
		double a = dec(c, lo), b = dec(c, lo + 1);
		float mid = (float)((a + b) / 2); /* exact: one more bit than the format */
		uint32_t even = (lo & 1) ? lo + 1 : lo;
		int g = (double)mid == (a + b) / 2 && enc(c, mid) == even &&
			enc(c, -mid) == (even | sign) && enc(c, nextafterf(mid, 0.0f)) == lo &&
			enc(c, nextafterf(mid, INFINITY)) == lo + 1 &&
			enc(c, -nextafterf(mid, INFINITY)) == ((lo + 1) | sign);
		if (!g && bad == UINT32_MAX)
			bad = lo;
		good &= g;
	}
	ok(good, "%s: every midpoint between neighbouring codes rounds to even, both signs", name);
	if (!good)
		diag("first failing pair 0x%x/0x%x", bad, bad + 1);

	/* Past the largest finite value: the next binade step would be
	 * max + ulp(max) = max + (max - previous). */
	double m = dec(c, c->max_code), ulp = m - dec(c, c->max_code - 1);
	float over_mid = (float)(m + ulp / 2);
	uint32_t over = c->inf_code ? c->inf_code : c->max_code;
	ok(enc(c, nextafterf(over_mid, 0.0f)) == c->max_code && enc(c, over_mid) == over &&
		   enc(c, -over_mid) == (over | sign),
	   "%s: half an ulp past max_finite goes to %s", name, c->inf_code ? "inf" : "max (saturates)");
}

/* The nearest finite FP8 code by exhaustive search; ties to the even code.
 * Beyond the range: E4M3 saturates (the nearest finite is the max anyway),
 * E5M2 goes to inf from the overflow midpoint 61440 on. */
static uint32_t fp8_nearest(const fmt_case *c, float x)
{
	uint32_t sign = signbit(x) ? 0x80 : 0, best = 0;
	double ax = fabs((double)x), bestd = INFINITY;
	if (c->inf_code && ax >= 61440.0)
		return sign | c->inf_code;
	for (uint32_t code = 0; code <= c->max_code; code++) {
		double d = fabs(dec(c, code) - ax);
		if (d < bestd || (d == bestd && !(code & 1))) {
			bestd = d;
			best = code;
		}
	}
	return sign | best;
}

static void test_fp8_brute(const fmt_case *c)
{
	const char *name = kq_fmt_get(c->fmt)->name;
	uint32_t seed = 12345, n = 0;
	int good = 1;

	/* Every fp32 exponent of the FP8 range and beyond, with structured
	 * and pseudo-random mantissas. */
	for (int e = -30; e <= 20; e++)
		for (int j = 0; j < 200; j++) {
			seed = seed * 1664525u + 1013904223u;
			uint32_t mant = j < 8 ? (uint32_t)j << 19 : j < 16 ? 0x7FFFFFu >> (j - 8) : seed >> 9;
			float x = ldexpf(1.0f + (float)mant * 0x1p-23f, e);
			for (int s = 0; s < 2; s++, x = -x, n++)
				if (enc(c, x) != fp8_nearest(c, x)) {
					if (good)
						diag("%s: %a -> 0x%02x, nearest 0x%02x", name, x, enc(c, x),
						     fp8_nearest(c, x));
					good = 0;
				}
		}
	ok(good, "%s: encode matches a brute-force nearest-code search on %u values", name, n);
}

/* PyTorch c10::BFloat16 round_to_nearest_even, for non-NaN input. */
static uint16_t bf16_c10(float x)
{
	uint32_t u = bits_of(x);
	return (uint16_t)((u + ((u >> 16) & 1) + 0x7FFFu) >> 16);
}

static const uint32_t low_patterns[] = {0, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x7FFF,
					0x8000, 0x8001, 0xFFFF};
#define NPAT (sizeof low_patterns / sizeof low_patterns[0])

static void test_bf16_oracle(void)
{
	uint32_t bad = 0, n = 0;
	int good = 1;
	for (uint32_t hi = 0; hi < 0x10000u; hi++)
		for (size_t j = 0; j < NPAT; j++) {
			uint32_t u = hi << 16 | (low_patterns[j] & 0xFFFF);
			float x = from_bits(u);
			n++;
			if (isnan(x) ? !isnan(kq_bf16_decode(kq_bf16_encode(x)))
				     : kq_bf16_encode(x) != bf16_c10(x)) {
				if (good)
					bad = u;
				good = 0;
			}
		}
	ok(good, "bf16 encode equals c10::BFloat16 rounding on %u inputs (all exponents)", n);
	if (!good)
		diag("first mismatch at input bits 0x%08x", bad);
}

#ifdef HAVE_F16C_ORACLE
/* F16C is VEX-encoded: the CPU must have it (CPUID.1:ECX bit 29) and the
 * OS must save the AVX state (OSXSAVE, bit 27, and XCR0 bits 1-2). */
static int have_f16c(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29)) || !(c & (1u << 27)))
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

__attribute__((target("f16c"))) static uint16_t f16c_encode(float x)
{
	return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float f16c_decode(uint16_t h)
{
	return _cvtsh_ss(h);
}
#endif

static void test_f16c_oracle(void)
{
#ifdef HAVE_F16C_ORACLE
	if (have_f16c()) {
		uint32_t bad = 0, n = 0;
		int good = 1;
		/* Every sign/exponent/top-10-mantissa prefix times the low 13 bits
		 * that decide rounding (0, ties, just off ties, all ones). */
		for (uint32_t hi = 0; hi < 0x80000u; hi++)
			for (size_t j = 0; j < NPAT; j++) {
				uint32_t u = hi << 13 | (low_patterns[j] & 0x1FFF);
				n++;
				if (kq_f16_encode(from_bits(u)) != f16c_encode(from_bits(u))) {
					if (good)
						bad = u;
					good = 0;
				}
			}
		ok(good, "fp16 encode equals F16C VCVTPS2PH on %u inputs, NaNs included", n);
		if (!good)
			diag("first mismatch at input bits 0x%08x", bad);
		int dgood = 1;
		for (uint32_t h = 0; h < 0x10000u; h++)
			dgood &= same(kq_f16_decode((uint16_t)h), f16c_decode((uint16_t)h));
		ok(dgood, "fp16 decode equals F16C VCVTPH2PS on all 65536 codes");
		return;
	}
#endif
	skip("no F16C on this CPU or compiler", "fp16 encode against F16C");
	skip("no F16C on this CPU or compiler", "fp16 decode against F16C");
}

static void test_round(void)
{
	float x[6] = {1.0f, 0.1f, 500.0f, -3.3f, 0x1p-12f, NAN}, y[6], z[6];
	int good = 1;

	ok(kq_fmt_round(KQ_FMT_E4M3, x, y, 6) == KQ_OK, "kq_fmt_round E4M3 succeeds");
	for (int i = 0; i < 6; i++)
		good &= same(y[i], kq_e4m3_decode(kq_e4m3_encode(x[i])));
	ok(good && y[2] == 448.0f && y[1] == 0.1015625f && y[4] == 0.0f,
	   "kq_fmt_round E4M3 = decode(encode(x)): 500 -> 448, 0.1 -> 0.1015625, 2^-12 -> 0");
	memcpy(z, x, sizeof z);
	ok(kq_fmt_round(KQ_FMT_BF16, z, z, 6) == KQ_OK && z[1] == from_bits(0x3DCD0000u) &&
		   isnan(z[5]),
	   "kq_fmt_round bf16 in place: 0.1 -> 0x3DCD0000, NaN stays NaN");
	ok(kq_fmt_round(KQ_FMT_F32, x, z, 6) == KQ_OK && memcmp(x, z, sizeof z) == 0,
	   "kq_fmt_round fp32 is the identity");
	ok(kq_fmt_round(KQ_FMT_I8, x, y, 6) == KQ_EINVAL &&
		   kq_fmt_round(KQ_FMT_I4, x, y, 6) == KQ_EINVAL &&
		   kq_fmt_round((kq_fmt)99, x, y, 6) == KQ_EINVAL,
	   "kq_fmt_round rejects integer and unknown formats");
}

static void test_i4(void)
{
	const int8_t q[5] = {1, -2, 7, -8, -1};
	uint8_t p[3] = {0xAA, 0xAA, 0xAA};
	int8_t back[5];

	kq_i4_pack(q, 5, p);
	ok(p[0] == 0xE1 && p[1] == 0x87 && p[2] == 0x0F,
	   "int4 pack: element 2i in the low nibble, 2i+1 high, odd tail high nibble 0 "
	   "(%02x %02x %02x)", p[0], p[1], p[2]);
	kq_i4_unpack(p, 5, back);
	ok(memcmp(q, back, sizeof q) == 0, "int4 unpack inverts pack on an odd length");

	int8_t all[17], all2[17];
	uint8_t packed[9];
	for (int i = 0; i < 17; i++)
		all[i] = (int8_t)(i % 16 - 8);
	kq_i4_pack(all, 17, packed);
	kq_i4_unpack(packed, 17, all2);
	ok(memcmp(all, all2, sizeof all) == 0 && packed[0] == 0x98 && packed[8] == 0x08,
	   "int4 round trip of every value -8..7 over 17 elements");
	const uint8_t raw[1] = {0x7F};
	int8_t two[2];
	kq_i4_unpack(raw, 2, two);
	ok(two[0] == -1 && two[1] == 7, "int4 unpack sign-extends the nibbles of 0x7F to -1, 7");
}

int main(void)
{
	test_table();
	test_e4m3_spec();
	test_e5m2_spec();
	test_ieee16_spec();
	test_negative_zero();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_exhaustive(&cases[i]);
		test_ties(&cases[i]);
	}
	test_fp8_brute(&cases[0]);
	test_fp8_brute(&cases[1]);
	test_bf16_oracle();
	test_f16c_oracle();
	test_round();
	test_i4();
	return tap_done();
}
