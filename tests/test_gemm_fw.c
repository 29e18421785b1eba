/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_gemm_fw.c - GEMM with fp8-e4m3, fp8-e5m2, fp16 and bf16 weights.
 * For every variant the CPU runs: the packed codes are the scalar codec's
 * encode(w / scale); multiplying by the identity gives back exactly
 * scale * decode(code) (so the in-register converters decode every code
 * as the scalar decoder does, NaN included); products on odd shapes,
 * padded strides, 1-3 threads and big shapes stay within a stated
 * rounding bound of a double-precision product; bad arguments give
 * KQ_EINVAL / NULL. */
#include "fw_impl.h"
#include "kq.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static float frand(float lo, float hi)
{
	return lo + (hi - lo) * (float)(rnd() & 0xFFFFFF) / 16777216.0f;
}

static const kq_fmt fmts[] = {KQ_FMT_E4M3, KQ_FMT_E5M2, KQ_FMT_F16, KQ_FMT_BF16};
#define NFMTS 4

static uint32_t enc(kq_fmt f, float x)
{
	switch (f) {
	case KQ_FMT_E4M3: return kq_e4m3_encode(x);
	case KQ_FMT_E5M2: return kq_e5m2_encode(x);
	case KQ_FMT_F16: return kq_f16_encode(x);
	default: return kq_bf16_encode(x);
	}
}

static float dec(kq_fmt f, uint32_t c)
{
	switch (f) {
	case KQ_FMT_E4M3: return kq_e4m3_decode((uint8_t)c);
	case KQ_FMT_E5M2: return kq_e5m2_decode((uint8_t)c);
	case KQ_FMT_F16: return kq_f16_decode((uint16_t)c);
	default: return kq_bf16_decode((uint16_t)c);
	}
}

static float max_finite(kq_fmt f)
{
	return kq_fmt_get(f)->max_finite;
}

/* Weights whose channel n spans several decades below amax_n, with exact
 * zeros and negative zeros, and per-channel scale amax_n / max_finite (as
 * a calibration would choose), so codes cover subnormals through the top
 * of the range. */
static void make_weights(kq_fmt f, int n, int k, float *w, float *scale)
{
	for (int i = 0; i < n; i++) {
		float amax = frand(0.01f, 4.0f);
		for (int j = 0; j < k; j++) {
			uint32_t r = rnd() % 16;
			float v = r == 0 ? 0.0f : r == 1 ? -0.0f
				: amax * frand(-1.0f, 1.0f) * powf(10.0f, -(float)(rnd() % 6));
			w[(size_t)i * k + j] = v;
		}
		w[(size_t)i * k] = amax;
		/* bf16's max (3e38) would make a * decode overflow: cap at fp16's */
		scale[i] = amax / fminf(max_finite(f), 65504.0f);
	}
}

static kq_ctx *ctxs[4];

/* Codes equal encode(w / scale) of the scalar codec, for in-range,
 * saturating/overflowing, tiny, infinite and NaN weights, with and
 * without a scale. */
static void test_codes(kq_isa isa, kq_fmt f)
{
	const int n = 37, k = 45;
	float *w = malloc((size_t)n * k * sizeof *w), scale[37];
	int good = w != NULL;
	for (int i = 0; good && i < n; i++) {
		scale[i] = i == 5 ? 0.0f : frand(0.001f, 2.0f);
		for (int j = 0; j < k; j++) {
			float v = frand(-1.0f, 1.0f) * powf(2.0f, (float)(rnd() % 60) - 40.0f);
			w[(size_t)i * k + j] = v;
		}
	}
	if (good) {
		w[3] = INFINITY;
		w[4] = -INFINITY;
		w[5] = NAN;
		w[6] = 1e30f;
	}
	for (int with_scale = 0; good && with_scale < 2; with_scale++) {
		kq_fw *p = kq_fw_pack(f, w, n, k, with_scale ? scale : NULL, NULL, isa);
		good = p != NULL;
		for (int i = 0; good && i < n; i++)
			for (int j = 0; j < k; j++) {
				float s = with_scale ? scale[i] : 1.0f;
				uint32_t e = s != 0.0f ? enc(f, w[(size_t)i * k + j] / s) : 0;
				if (kq_fw_code(p, i, j) != e) {
					diag("[%d][%d] w %g scale %g: code %#x, codec %#x", i, j,
					     w[(size_t)i * k + j], s, kq_fw_code(p, i, j), e);
					good = 0;
					break;
				}
			}
		kq_fw_destroy(p);
	}
	ok(good, "%s %s codes are the scalar codec's encode(w / scale)", kq_isa_name(isa),
	   kq_fmt_get(f)->name);
	free(w);
}

/* C = I * W^T returns scale * decode(code) exactly: one product by 1 plus
 * exact zeros, then the scale (the e4m3 kernel's 2^-8 and 2^8 are exact).
 * k = 7 exercises the register path, k = 33 the panel path.  Every code
 * value occurs (codes swept over all 256 for fp8, random for 16-bit). */
static void test_decode(kq_isa isa, kq_fmt f, int k)
{
	const int n = 40;
	int es = kq_fmt_get(f)->bits / 8, bad = 0;
	float *w = malloc((size_t)n * k * sizeof *w), *a = calloc((size_t)k * k, sizeof *a);
	float *c = malloc((size_t)k * n * sizeof *c), scale[40];
	if (!w || !a || !c) {
		ok(0, "out of memory");
		goto out;
	}
	for (int i = 0; i < k; i++)
		a[(size_t)i * k + i] = 1.0f;
	for (int i = 0; i < n; i++) {
		scale[i] = frand(0.5f, 2.0f);
		for (int j = 0; j < k; j++) {
			uint32_t code = es == 1 ? (uint32_t)(i * k + j) % 256 : rnd() % 65536;
			float v = dec(f, code);
			/* finite weights only: 0 * inf in the identity product is NaN */
			w[(size_t)i * k + j] = isfinite(v * scale[i]) ? v * scale[i] : 1.0f;
		}
	}
	kq_fw *p = kq_fw_pack(f, w, n, k, scale, NULL, isa);
	if (!p || kq_gemm_fw_f32(ctxs[2], k, a, k, p, c, n) != KQ_OK) {
		ok(0, "%s %s k=%d: pack or GEMM failed", kq_isa_name(isa), kq_fmt_get(f)->name, k);
		kq_fw_destroy(p);
		goto out;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < k; j++) {
			float e = dec(f, kq_fw_code(p, i, j)) * scale[i], got = c[(size_t)j * n + i];
			if (got != e && !(isnan(got) && isnan(e))) {
				if (!bad)
					diag("code %#x: %.9g, expected %.9g", kq_fw_code(p, i, j), got, e);
				bad++;
			}
		}
	ok(!bad, "%s %s identity product decodes every code as the scalar codec (k=%d)",
	   kq_isa_name(isa), kq_fmt_get(f)->name, k);
	kq_fw_destroy(p);
out:
	free(w);
	free(a);
	free(c);
}

/* A NaN weight (e4m3's S.1111.111 among them) makes its column NaN. */
static void test_nan(kq_isa isa, kq_fmt f)
{
	const int n = 33, k = 20, m = 9;
	float w[33 * 20], a[9 * 20], c[9 * 33];
	for (int i = 0; i < n * k; i++)
		w[i] = frand(-1.0f, 1.0f);
	for (int i = 0; i < m * k; i++)
		a[i] = frand(-1.0f, 1.0f);
	w[17 * k + 3] = NAN;
	w[32 * k + 19] = -NAN;
	int good = 1;
	for (int rows = 1; rows <= m; rows += m - 1) {
		kq_fw *p = kq_fw_pack(f, w, n, k, NULL, NULL, isa);
		good = good && p && kq_gemm_fw_f32(ctxs[1], rows, a, k, p, c, n) == KQ_OK;
		for (int i = 0; good && i < rows; i++)
			for (int j = 0; j < n; j++)
				if (!!isnan(c[i * n + j]) != (j == 17 || j == 32))
					good = 0;
		kq_fw_destroy(p);
	}
	ok(good, "%s %s NaN weights give NaN columns, others stay finite", kq_isa_name(isa),
	   kq_fmt_get(f)->name);
}

/* Product in double from the decoded codes, and its error bound: each
 * variant rounds every product-sum of a chain of at most K terms once
 * (FMA chains, possibly split into partial sums that are added at the
 * end), then the scale multiply, then the bias add: n = K + 4 roundings
 * bound |err| <= n u (sum |a| |d| |s| + |bias|), u = 2^-24 (Higham 3.1). */
static double expect(const kq_fw *p, kq_fmt f, const float *a, const float *scale,
		     const float *bias, int k, int i_row, int n, double *bound)
{
	double s = 0, mag = 0, sc = scale ? scale[n] : 1.0;
	for (int j = 0; j < k; j++) {
		double d = dec(f, kq_fw_code(p, n, j));
		s += a[j] * d * sc;
		mag += fabs(a[j] * d * sc);
	}
	(void)i_row;
	double b = bias ? bias[n] : 0.0;
	*bound = (k + 4) * ldexp(1.0, -24) * (mag + fabs(b));
	return s + b;
}

typedef struct {
	int m, n, k, pad, threads, with_scale, with_bias;
} fcase;

/* One shape: the ISA's product and _ref's, both within the bound. */
static int run_case(kq_isa isa, kq_fmt f, const fcase *fc, char *why, size_t len)
{
	int lda = fc->k + fc->pad, ldc = fc->n + fc->pad, fails = 0;
	float *w = malloc((size_t)fc->n * fc->k * sizeof *w), *scale = malloc((size_t)fc->n * 4);
	float *bias = malloc((size_t)fc->n * 4), *a = malloc((size_t)fc->m * lda * 4);
	float *c = malloc((size_t)fc->m * ldc * 4), *r = malloc((size_t)fc->m * ldc * 4);
	kq_fw *p = NULL, *pr = NULL;
	if (!w || !scale || !bias || !a || !c || !r) {
		snprintf(why, len, "out of memory");
		fails = 1;
		goto out;
	}
	make_weights(f, fc->n, fc->k, w, scale);
	for (int i = 0; i < fc->n; i++)
		bias[i] = frand(-1.0f, 1.0f);
	for (size_t i = 0; i < (size_t)fc->m * lda; i++)
		a[i] = frand(-2.0f, 2.0f);
	for (size_t i = 0; i < (size_t)fc->m * ldc; i++)
		c[i] = r[i] = 777.0f;
	const float *sc = fc->with_scale ? scale : NULL, *bi = fc->with_bias ? bias : NULL;
	p = kq_fw_pack(f, w, fc->n, fc->k, sc, bi, isa);
	pr = kq_fw_pack(f, w, fc->n, fc->k, sc, bi, KQ_ISA_REF);
	if (!p || !pr || kq_gemm_fw_f32(ctxs[fc->threads], fc->m, a, lda, p, c, ldc) ||
	    kq_gemm_fw_f32(ctxs[1], fc->m, a, lda, pr, r, ldc)) {
		snprintf(why, len, "pack or GEMM failed");
		fails = 1;
		goto out;
	}
	for (int i = 0; i < fc->m && !fails; i++) {
		for (int j = 0; j < fc->n && !fails; j++) {
			double bound, x = expect(p, f, a + (size_t)i * lda, sc, bi, fc->k, i, j, &bound);
			float got = c[(size_t)i * ldc + j], ref = r[(size_t)i * ldc + j];
			if (!(fabs(got - x) <= bound) || !(fabs(ref - x) <= bound)) {
				snprintf(why, len, "[%d][%d] %.9g, _ref %.9g, exact %.12g, bound %.3g", i, j,
					 got, ref, x, bound);
				fails++;
			}
		}
		for (int j = fc->n; j < ldc; j++)
			if (c[(size_t)i * ldc + j] != 777.0f) {
				snprintf(why, len, "wrote past column n");
				fails++;
			}
	}
out:
	kq_fw_destroy(p);
	kq_fw_destroy(pr);
	free(w);
	free(scale);
	free(bias);
	free(a);
	free(c);
	free(r);
	return fails;
}

static void test_shapes(kq_isa isa, kq_fmt f)
{
	static const int dims[] = {1, 3, 7, 17, 33, 257}, ks[] = {1, 3, 7, 17, 33, 257, 600};
	int fails = 0, count = 0;
	char why[512] = "", w1[256];
	for (int in = 0; in < 6; in++)
		for (int ik = 0; ik < 7; ik++, count++) {
			fcase fc = {.m = dims[count % 5], .n = dims[in], .k = ks[ik], .pad = count % 3,
				    .threads = 1 + count % 3, .with_scale = count % 4 != 1,
				    .with_bias = count % 2};
			if (run_case(isa, f, &fc, w1, sizeof w1)) {
				if (!fails)
					snprintf(why, sizeof why, "%dx%dx%d: %s", fc.m, fc.n, fc.k, w1);
				fails++;
			}
		}
	/* both sides of the register/panel switch */
	for (int m = 4; m <= 10; m++, count++) {
		fcase fc = {.m = m, .n = 70, .k = 99, .threads = 2, .with_scale = 1, .with_bias = 1};
		if (run_case(isa, f, &fc, w1, sizeof w1)) {
			if (!fails)
				snprintf(why, sizeof why, "%dx%dx%d: %s", fc.m, fc.n, fc.k, w1);
			fails++;
		}
	}
	ok(!fails, "%s %s: %d shapes within the rounding bound", kq_isa_name(isa),
	   kq_fmt_get(f)->name, count);
	if (fails)
		diag("%d failed; first: %s", fails, why);
}

static void test_threads(kq_isa isa, kq_fmt f)
{
	const int m = 9, n = 300, k = 130;
	float *w = malloc((size_t)n * k * 4), *a = malloc((size_t)m * k * 4), scale[300];
	float *c[4] = {0};
	int same = w && a;
	if (same) {
		make_weights(f, n, k, w, scale);
		for (int i = 0; i < m * k; i++)
			a[i] = frand(-1.0f, 1.0f);
	}
	kq_fw *p = same ? kq_fw_pack(f, w, n, k, scale, NULL, isa) : NULL;
	for (int t = 1; t <= 3; t++) {
		c[t] = malloc((size_t)m * n * 4);
		for (int rows = 1; rows <= m; rows += m - 1)
			if (!p || !c[t] || kq_gemm_fw_f32(ctxs[t], rows, a, k, p, c[t], n))
				same = 0;
	}
	for (int t = 2; t <= 3 && same; t++)
		same = !memcmp(c[1], c[t], (size_t)m * n * 4);
	ok(same, "%s %s 1, 2 and 3 threads give identical bits", kq_isa_name(isa), kq_fmt_get(f)->name);
	for (int t = 1; t <= 3; t++)
		free(c[t]);
	kq_fw_destroy(p);
	free(w);
	free(a);
}

static void test_big(kq_isa isa, kq_fmt f, int m, int n, int k)
{
	char why[256];
	fcase fc = {.m = m, .n = n, .k = k, .threads = 2, .with_scale = 1, .with_bias = 1};
	int fails = run_case(isa, f, &fc, why, sizeof why);
	ok(!fails, "%s %s %dx%dx%d and _ref within the rounding bound", kq_isa_name(isa),
	   kq_fmt_get(f)->name, m, n, k);
	if (fails)
		diag("%s", why);
}

static void test_bad_args(void)
{
	float w[64] = {0}, s[2] = {1, INFINITY}, a[64] = {0}, c[2];
	int nulls = !kq_fw_pack(KQ_FMT_F32, w, 1, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_I8, w, 1, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_I4, w, 1, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_COUNT, w, 1, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_E4M3, NULL, 1, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_E4M3, w, 0, 64, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_E4M3, w, 1, 0, NULL, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_E4M3, w, 2, 32, s, NULL, KQ_ISA_REF) &&
		    !kq_fw_pack(KQ_FMT_E4M3, w, 1, 64, NULL, NULL, KQ_ISA_COUNT) &&
		    !kq_fw_pack(KQ_FMT_E4M3, w, 1, 64, NULL, NULL, -2);
	ok(nulls, "pack rejects non-float formats, NULL, empty shapes, non-finite scale, bad isa");
	kq_fw *p = kq_fw_pack(KQ_FMT_E5M2, w, 2, 32, NULL, NULL, KQ_ISA_AUTO);
	int inval = p && kq_gemm_fw_f32(ctxs[1], 1, a, 32, NULL, c, 2) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], -1, a, 32, p, c, 2) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], 1, NULL, 32, p, c, 2) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], 1, a, 32, p, NULL, 2) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], 1, a, 31, p, c, 2) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], 1, a, 32, p, c, 1) == KQ_EINVAL &&
		    kq_gemm_fw_f32(ctxs[1], 0, NULL, 32, p, NULL, 2) == KQ_OK &&
		    kq_gemm_fw_f32(NULL, 1, a, 32, p, c, 2) == KQ_OK;
	ok(inval, "GEMM rejects NULL, negative m, short lda/ldc; m = 0 and a NULL context work");
	int emu = 1;
	for (int i = 0; i < NFMTS; i++) {
		kq_fw *q = kq_fw_pack(fmts[i], w, 2, 32, NULL, NULL, KQ_ISA_REF);
		emu = emu && q && kq_fw_emulated(q) == (i < 2) && kq_fw_bytes(q) >= 64u * (i < 2 ? 1 : 2);
		kq_fw_destroy(q);
	}
	ok(emu && !kq_fw_emulated(NULL) && !kq_fw_bytes(NULL),
	   "fp8 is reported emulated, fp16/bf16 not; sizes count 1 or 2 bytes a weight");
	kq_fw_destroy(p);
	kq_fw_destroy(NULL);
}

int main(void)
{
	kq_init();
	for (int t = 1; t <= 3; t++)
		ctxs[t] = kq_ctx_create(t);
	test_bad_args();
	for (int isa = 0; isa < KQ_ISA_COUNT; isa++) {
		if (!kq_isa_supported((kq_isa)isa)) {
			skip("CPU lacks it", "%s float-format kernels", kq_isa_name(isa));
			continue;
		}
		for (int i = 0; i < NFMTS; i++) {
			test_codes((kq_isa)isa, fmts[i]);
			test_decode((kq_isa)isa, fmts[i], 7);
			test_decode((kq_isa)isa, fmts[i], 33);
			test_nan((kq_isa)isa, fmts[i]);
			test_shapes((kq_isa)isa, fmts[i]);
			test_threads((kq_isa)isa, fmts[i]);
		}
		if (isa == KQ_ISA_AVX512VNNI)
			for (int i = 0; i < NFMTS; i++) {
				test_big((kq_isa)isa, fmts[i], 1, 4096, 4096);
				test_big((kq_isa)isa, fmts[i], 64, 1024, 1024);
			}
	}
	for (int t = 1; t <= 3; t++)
		kq_ctx_destroy(ctxs[t]);
	return tap_done();
}
