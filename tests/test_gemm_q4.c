/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_gemm_q4.c - int4 weight-only GEMM/GEMV.  Every variant the CPU runs:
 * W4A8 against the integer definition computed here (group sums in int64,
 * then kq.h's float epilogue) and against _ref, bit for bit; W4A32 against
 * a double-precision naive product within a stated rounding bound; odd
 * shapes, every group size, K not a multiple of the group, zero points and
 * bias present or not, padded strides, adversarial values, 1-3 threads,
 * big shapes; bad arguments must give KQ_EINVAL / NULL. */
#include "kq.h"
#include "q4_impl.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

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

enum { V_RANDOM, V_MIN, V_MAX };

typedef struct {
	int m, n, k, group;
	int zp_mode;   /* 0: NULL, 1: random, 2: all -8, 3: all 7 */
	int with_bias;
	int q_fill;    /* V_RANDOM, V_MIN (-8), V_MAX (7) */
	int a_fill;    /* V_RANDOM, V_MIN (0), V_MAX (255; W4A32: large) */
	int32_t a_zp;
	int pad;       /* extra columns in lda and ldc */
} qcase;

/* One problem's inputs, generated once and shared by every ISA. */
typedef struct {
	qcase c;
	int ngroups, lda, ldc;
	int8_t *q, *zp;
	float *scale, *bias, *af;
	uint8_t *a8;
} problem;

static void problem_free(problem *p)
{
	free(p->q);
	free(p->zp);
	free(p->scale);
	free(p->bias);
	free(p->af);
	free(p->a8);
}

static int problem_make(problem *p, const qcase *c)
{
	memset(p, 0, sizeof *p);
	p->c = *c;
	p->ngroups = (c->k + c->group - 1) / c->group;
	p->lda = c->k + c->pad;
	p->ldc = c->n + c->pad;
	size_t ng = (size_t)c->n * p->ngroups;
	p->q = malloc((size_t)c->n * c->k);
	p->zp = malloc(ng);
	p->scale = malloc(ng * sizeof(float));
	p->bias = malloc((size_t)c->n * sizeof(float));
	p->af = malloc((size_t)c->m * p->lda * sizeof(float));
	p->a8 = malloc((size_t)c->m * p->lda);
	if (!p->q || !p->zp || !p->scale || !p->bias || !p->af || !p->a8)
		return 0;
	for (size_t i = 0; i < (size_t)c->n * c->k; i++)
		p->q[i] = c->q_fill == V_MIN ? -8 : c->q_fill == V_MAX ? 7 : (int8_t)(rnd() % 16) - 8;
	for (size_t i = 0; i < ng; i++) {
		p->zp[i] = c->zp_mode == 2 ? -8 : c->zp_mode == 3 ? 7 : (int8_t)(rnd() % 16) - 8;
		/* magnitudes over four decades and both signs */
		p->scale[i] = frand(0.5f, 1.0f) * powf(10.0f, -(float)(rnd() % 4)) * (rnd() & 1 ? 1 : -1);
	}
	for (int i = 0; i < c->n; i++)
		p->bias[i] = frand(-2.0f, 2.0f);
	for (size_t i = 0; i < (size_t)c->m * p->lda; i++) {
		p->a8[i] = c->a_fill == V_MIN ? 0 : c->a_fill == V_MAX ? 255 : (uint8_t)rnd();
		p->af[i] = c->a_fill == V_MIN ? 0.0f : c->a_fill == V_MAX ? 1e4f : frand(-1.0f, 1.0f);
	}
	return 1;
}

static kq_q4w *problem_pack(const problem *p, int isa)
{
	return kq_q4w_pack(p->q, p->c.n, p->c.k, p->c.group, p->scale, p->c.zp_mode ? p->zp : NULL,
			   p->c.with_bias ? p->bias : NULL, isa);
}

static int zp_of(const problem *p, int n, int g)
{
	return p->c.zp_mode ? p->zp[(size_t)n * p->ngroups + g] : 0;
}

/* kq.h's W4A8 definition: exact group sums (int64 here), then in group
 * order acc += (float)isum * scale, C = acc * a_scale + bias.  This file
 * is compiled -std=c11, so no multiply-add is contracted. */
static float expect_s8(const problem *p, int i, int n, float a_scale)
{
	const qcase *c = &p->c;
	float acc = 0.0f;
	for (int g = 0; g < p->ngroups; g++) {
		int64_t s = 0;
		for (int k = g * c->group; k < c->k && k < (g + 1) * c->group; k++)
			s += ((int64_t)p->a8[(size_t)i * p->lda + k] - c->a_zp) *
			     ((int64_t)p->q[(size_t)n * c->k + k] - zp_of(p, n, g));
		acc += (float)s * p->scale[(size_t)n * p->ngroups + g];
	}
	return acc * a_scale + (c->with_bias ? p->bias[n] : 0.0f);
}

/* W4A32 in double, and the bound on the float result's error.  Every
 * variant rounds at most once per term of a chain of at most K products
 * (split into partial sums or not), once per group for the scale, once per
 * group sum and once for the bias; the SIMD kernels accumulate a*q or
 * a*(q + 8) and take zp * sum(a) or (8 + zp) * sum(a) out per group, so the
 * terms that are rounded are bounded by |a| |s| (|q| + |zp| + 16), not
 * |a| |s| |q - zp|.  With u = 2^-24 and n = K + groups + 4 roundings in
 * a row, |err| <= n u (sum_k |a_k| |s| (|q_k| + |zp| + 16) + |bias|)
 * (Higham, Accuracy and Stability, 3.1; n u < 0.01 here). */
static double expect_f32(const problem *p, int i, int n, double *bound)
{
	const qcase *c = &p->c;
	double s = 0.0, mag = 0.0;
	for (int k = 0; k < c->k; k++) {
		int g = k / c->group, z = zp_of(p, n, g);
		double sc = p->scale[(size_t)n * p->ngroups + g], a = p->af[(size_t)i * p->lda + k];
		int q = p->q[(size_t)n * c->k + k];
		s += a * sc * (q - z);
		mag += fabs(a) * fabs(sc) * (abs(q) + abs(z) + 16);
	}
	double b = c->with_bias ? p->bias[n] : 0.0;
	*bound = (c->k + p->ngroups + 4) * ldexp(1.0, -24) * (mag + fabs(b));
	return s + b;
}

#define CANARY 12345.0f

static float *new_c(const problem *p)
{
	size_t cn = (size_t)p->c.m * p->ldc;
	float *c = malloc(cn * sizeof *c);
	for (size_t i = 0; c && i < cn; i++)
		c[i] = CANARY;
	return c;
}

/* 1 when every padding cell of C still holds the canary. */
static int pad_intact(const problem *p, const float *c)
{
	for (int i = 0; i < p->c.m; i++)
		for (int j = p->c.n; j < p->ldc; j++)
			if (c[(size_t)i * p->ldc + j] != CANARY)
				return 0;
	return 1;
}

static kq_ctx *ctxs[4];
static const float A_SCALE = 0.0123f;

/* Runs W4A8 and W4A32 for one problem on one ISA; appends the first
 * failure to why.  Returns the number of failed checks. */
static int run_problem(const problem *p, kq_isa isa, int threads, char *why, size_t len)
{
	const qcase *c = &p->c;
	int fails = 0;
	kq_q4w *w = problem_pack(p, isa), *wr = problem_pack(p, KQ_ISA_REF);
	float *c8 = new_c(p), *r8 = new_c(p), *cf = new_c(p);
	if (!w || !wr || !c8 || !r8 || !cf) {
		snprintf(why, len, "pack or alloc failed");
		fails = 1;
		goto out;
	}
	int rc = kq_gemm_q4_s8(ctxs[threads], c->m, p->a8, p->lda, A_SCALE, c->a_zp, w, c8, p->ldc);
	int rr = kq_gemm_q4_s8(ctxs[1], c->m, p->a8, p->lda, A_SCALE, c->a_zp, wr, r8, p->ldc);
	int rf = kq_gemm_q4_f32(ctxs[threads], c->m, p->af, p->lda, w, cf, p->ldc);
	if (rc || rr || rf) {
		snprintf(why, len, "return codes %d %d %d", rc, rr, rf);
		fails = 1;
		goto out;
	}
	if (!pad_intact(p, c8) || !pad_intact(p, cf)) {
		snprintf(why, len, "wrote outside n columns");
		fails++;
	}
	for (int i = 0; i < c->m && !fails; i++)
		for (int n = 0; n < c->n && !fails; n++) {
			size_t at = (size_t)i * p->ldc + n;
			float e = expect_s8(p, i, n, A_SCALE);
			if (memcmp(&c8[at], &r8[at], 4) || memcmp(&c8[at], &e, 4)) {
				snprintf(why, len, "W4A8 [%d][%d] = %.9g, ref %.9g, definition %.9g", i, n,
					 c8[at], r8[at], e);
				fails++;
			}
			double bound, x = expect_f32(p, i, n, &bound);
			if (!(fabs(cf[at] - x) <= bound)) {
				snprintf(why, len, "W4A32 [%d][%d] = %.9g, exact %.12g, bound %.3g", i, n,
					 cf[at], x, bound);
				fails++;
			}
		}
out:
	kq_q4w_destroy(w);
	kq_q4w_destroy(wr);
	free(c8);
	free(r8);
	free(cf);
	return fails;
}

static const int dims[] = {1, 3, 7, 17, 33, 257};
#define NDIMS (int)(sizeof dims / sizeof dims[0])

/* Shapes crossed over N x K with M cycling through the list, K also past a
 * panel (600) so several 256-k chunks and partial groups occur. */
static void test_shapes(kq_isa isa, int group, int zp_mode, int with_bias)
{
	static const int ks[] = {1, 3, 7, 17, 33, 257, 600};
	int nk = (int)(sizeof ks / sizeof ks[0]), count = 0, fails = 0, at = 0;
	char why[512] = "";
	for (int in = 0; in < NDIMS; in++)
		for (int ik = 0; ik < nk; ik++, at++) {
			qcase c = {.m = dims[at % 5], .n = dims[in], .k = ks[ik], .group = group,
				   .zp_mode = zp_mode, .with_bias = with_bias, .a_zp = (int32_t)(rnd() % 256),
				   .pad = at % 3};
			problem p;
			if (!problem_make(&p, &c)) {
				fails++;
				snprintf(why, sizeof why, "out of memory");
			} else {
				char w1[256];
				if (run_problem(&p, isa, 1 + at % 3, w1, sizeof w1)) {
					if (!fails)
						snprintf(why, sizeof why, "%dx%dx%d: %s", c.m, c.n, c.k, w1);
					fails++;
				}
			}
			problem_free(&p);
			count++;
		}
	ok(fails == 0, "%s group %d zp %s bias %s: %d shapes", kq_isa_name(isa), group,
	   zp_mode ? "yes" : "NULL", with_bias ? "yes" : "NULL", count);
	if (fails)
		diag("%d failed; first: %s", fails, why);
}

/* Extreme values: q and zp at both ends, activations all 0 or all 255
 * with the zero point at both ends (W4A8 sums reach +-256*255*15). */
static void test_extremes(kq_isa isa)
{
	static const int qf[] = {V_MIN, V_MAX, V_RANDOM};
	static const int zm[] = {2, 3, 0, 1};
	static const int af[] = {V_MIN, V_MAX};
	static const int32_t azp[] = {0, 255};
	int fails = 0, count = 0;
	char why[512] = "";
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 4; b++)
			for (int d = 0; d < 2; d++)
				for (int e = 0; e < 2; e++) {
					qcase c = {.m = 3, .n = 33, .k = 515, .group = 256, .zp_mode = zm[b],
						   .with_bias = 1, .q_fill = qf[a], .a_fill = af[d], .a_zp = azp[e]};
					problem p;
					char w1[256];
					if (!problem_make(&p, &c) || run_problem(&p, isa, 2, w1, sizeof w1)) {
						if (!fails)
							snprintf(why, sizeof why, "q %d zp %d a %d a_zp %d: %s",
								 qf[a], zm[b], af[d], azp[e], w1);
						fails++;
					}
					problem_free(&p);
					count++;
				}
	ok(fails == 0, "%s extreme q/zp/a/a_zp: %d cases", kq_isa_name(isa), count);
	if (fails)
		diag("%d failed; first: %s", fails, why);
}

/* Each group sum on its own: scale 1 for group gs and 0 elsewhere, a_scale 1,
 * no bias, so C is the integer sum itself (|sum| < 2^24, exact in float). */
static void test_group_sums(kq_isa isa)
{
	qcase c = {.m = 5, .n = 40, .k = 300, .group = 64, .zp_mode = 1, .a_zp = 131};
	problem p;
	int fails = 0;
	float *out = NULL;
	if (!problem_make(&p, &c) || !(out = malloc((size_t)c.m * c.n * sizeof *out))) {
		ok(0, "%s group sums: out of memory", kq_isa_name(isa));
		goto out;
	}
	for (int gs = 0; gs < p.ngroups; gs++) {
		for (int n = 0; n < c.n; n++)
			for (int g = 0; g < p.ngroups; g++)
				p.scale[(size_t)n * p.ngroups + g] = g == gs ? 1.0f : 0.0f;
		kq_q4w *w = problem_pack(&p, isa);
		if (!w || kq_gemm_q4_s8(ctxs[2], c.m, p.a8, p.lda, 1.0f, c.a_zp, w, out, c.n) != KQ_OK) {
			fails++;
			kq_q4w_destroy(w);
			continue;
		}
		for (int i = 0; i < c.m; i++)
			for (int n = 0; n < c.n; n++) {
				int64_t s = 0;
				for (int k = gs * c.group; k < c.k && k < (gs + 1) * c.group; k++)
					s += ((int64_t)p.a8[(size_t)i * p.lda + k] - c.a_zp) *
					     (p.q[(size_t)n * c.k + k] - p.zp[(size_t)n * p.ngroups + gs]);
				if (out[(size_t)i * c.n + n] != (float)s) {
					if (!fails)
						diag("group %d [%d][%d]: %.9g, naive %lld", gs, i, n,
						     out[(size_t)i * c.n + n], (long long)s);
					fails++;
				}
			}
		kq_q4w_destroy(w);
	}
	ok(fails == 0, "%s each integer group sum equals the naive sum (%d groups)", kq_isa_name(isa),
	   p.ngroups);
out:
	free(out);
	problem_free(&p);
}

/* The same call with 1, 2 and 3 threads gives the same bits (columns are
 * split, never the sums). */
static void test_threads(kq_isa isa)
{
	qcase c = {.m = 7, .n = 257, .k = 333, .group = 32, .zp_mode = 1, .with_bias = 1, .a_zp = 7};
	problem p;
	float *o[4] = {0}, *f[4] = {0};
	int same = 1;
	if (!problem_make(&p, &c)) {
		ok(0, "%s threads: out of memory", kq_isa_name(isa));
		problem_free(&p);
		return;
	}
	kq_q4w *w = problem_pack(&p, isa);
	for (int t = 1; t <= 3; t++) {
		o[t] = malloc((size_t)c.m * c.n * sizeof(float));
		f[t] = malloc((size_t)c.m * c.n * sizeof(float));
		if (!w || !o[t] || !f[t] ||
		    kq_gemm_q4_s8(ctxs[t], c.m, p.a8, p.lda, A_SCALE, c.a_zp, w, o[t], c.n) ||
		    kq_gemm_q4_f32(ctxs[t], c.m, p.af, p.lda, w, f[t], c.n))
			same = 0;
	}
	for (int t = 2; t <= 3 && same; t++)
		same = !memcmp(o[1], o[t], (size_t)c.m * c.n * 4) && !memcmp(f[1], f[t], (size_t)c.m * c.n * 4);
	ok(same, "%s 1, 2 and 3 threads give identical bits", kq_isa_name(isa));
	for (int t = 1; t <= 3; t++) {
		free(o[t]);
		free(f[t]);
	}
	kq_q4w_destroy(w);
	problem_free(&p);
}

/* Big shapes against _ref: W4A8 bit for bit, W4A32 within the bound. */
static void test_big(kq_isa isa, int m, int n, int k, int group)
{
	qcase c = {.m = m, .n = n, .k = k, .group = group, .zp_mode = 1, .with_bias = 1, .a_zp = 128};
	problem p;
	float *c8 = NULL, *r8 = NULL, *cf = NULL;
	if (!problem_make(&p, &c) || !(c8 = new_c(&p)) || !(r8 = new_c(&p)) || !(cf = new_c(&p))) {
		ok(0, "%s %dx%dx%d: out of memory", kq_isa_name(isa), m, n, k);
		goto out;
	}
	kq_q4w *w = problem_pack(&p, isa), *wr = problem_pack(&p, KQ_ISA_REF);
	int rc = !w || !wr || kq_gemm_q4_s8(ctxs[2], m, p.a8, p.lda, A_SCALE, c.a_zp, w, c8, p.ldc) ||
		 kq_gemm_q4_s8(ctxs[2], m, p.a8, p.lda, A_SCALE, c.a_zp, wr, r8, p.ldc) ||
		 kq_gemm_q4_f32(ctxs[2], m, p.af, p.lda, w, cf, p.ldc);
	ok(!rc && !memcmp(c8, r8, (size_t)m * n * sizeof(float)), "%s W4A8 %dx%dx%d g%d equals _ref",
	   kq_isa_name(isa), m, n, k, group);
	int bad = 0;
	double worst = 0.0;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double bound, x = expect_f32(&p, i, j, &bound), e = fabs(cf[(size_t)i * n + j] - x);
			if (!(e <= bound))
				bad++;
			if (bound > 0 && e / bound > worst)
				worst = e / bound;
		}
	ok(!rc && !bad, "%s W4A32 %dx%dx%d g%d within the rounding bound (worst error %.2g of it)",
	   kq_isa_name(isa), m, n, k, group, worst);
	kq_q4w_destroy(w);
	kq_q4w_destroy(wr);
out:
	free(c8);
	free(r8);
	free(cf);
	problem_free(&p);
}

/* The packed nibbles read back as the values given. */
static void test_roundtrip(kq_isa isa)
{
	qcase c = {.m = 1, .n = 45, .k = 77, .group = 32, .zp_mode = 1};
	problem p;
	int good = problem_make(&p, &c);
	kq_q4w *w = good ? problem_pack(&p, isa) : NULL;
	good = good && w && kq_q4w_isa(w) == isa && kq_q4w_bytes(w) >= (size_t)c.n * c.k / 2;
	for (int n = 0; good && n < c.n; n++)
		for (int k = 0; k < c.k; k++)
			if (kq_q4_get(w, n, k) != p.q[(size_t)n * c.k + k])
				good = 0;
	ok(good, "%s packed nibbles read back, isa and size reported", kq_isa_name(isa));
	kq_q4w_destroy(w);
	problem_free(&p);
}

static void test_bad_args(void)
{
	int8_t q[64] = {0}, zp[2] = {0}, qbad[64] = {0}, zbad[2] = {8, 0};
	float s[2] = {1, 1}, a[64] = {0}, c[4];
	uint8_t a8[64] = {0};
	qbad[5] = 8;
	int nulls = !kq_q4w_pack(NULL, 1, 64, 32, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 0, 64, 32, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 0, 32, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 16, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 48, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 512, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 32, NULL, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(qbad, 1, 64, 32, s, NULL, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 32, s, zbad, NULL, KQ_ISA_REF) &&
		    !kq_q4w_pack(q, 1, 64, 32, s, zp, NULL, KQ_ISA_COUNT) &&
		    !kq_q4w_pack(q, 1, 64, 32, s, zp, NULL, -2);
	ok(nulls, "pack rejects NULL, empty shapes, bad group, q/zp out of [-8, 7], bad isa");
	kq_q4w *w = kq_q4w_pack(q, 1, 64, 32, s, zp, NULL, KQ_ISA_AUTO);
	ok(w && kq_q4w_isa(w) == kq_isa_active(), "KQ_ISA_AUTO packs for the active ISA");
	int inval = kq_gemm_q4_f32(ctxs[1], 1, a, 64, NULL, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_f32(ctxs[1], -1, a, 64, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_f32(ctxs[1], 1, NULL, 64, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_f32(ctxs[1], 1, a, 64, w, NULL, 1) == KQ_EINVAL &&
		    kq_gemm_q4_f32(ctxs[1], 1, a, 63, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_f32(ctxs[1], 1, a, 64, w, c, 0) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, a8, 64, 1.0f, 0, NULL, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], -1, a8, 64, 1.0f, 0, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, NULL, 64, 1.0f, 0, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, a8, 64, 1.0f, 0, w, NULL, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, a8, 63, 1.0f, 0, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, a8, 64, 1.0f, -1, w, c, 1) == KQ_EINVAL &&
		    kq_gemm_q4_s8(ctxs[1], 1, a8, 64, 1.0f, 256, w, c, 1) == KQ_EINVAL;
	ok(inval, "GEMM rejects NULL, negative m, short lda/ldc, a_zp outside [0, 255]");
	ok(kq_gemm_q4_f32(ctxs[1], 0, NULL, 64, w, NULL, 1) == KQ_OK &&
	   kq_gemm_q4_s8(ctxs[2], 0, NULL, 64, 1.0f, 0, w, NULL, 1) == KQ_OK,
	   "m = 0 is an empty product");
	ok(kq_gemm_q4_f32(NULL, 1, a, 64, w, c, 1) == KQ_OK, "a NULL context runs on the caller");
	kq_q4w_destroy(w);
	kq_q4w_destroy(NULL);
	ok(kq_q4w_bytes(NULL) == 0, "destroy and bytes accept NULL");
}

int main(void)
{
	static const int groups[] = {32, 64, 128, 256};
	kq_init();
	for (int t = 1; t <= 3; t++)
		ctxs[t] = kq_ctx_create(t);
	test_bad_args();
	for (int isa = 0; isa < KQ_ISA_COUNT; isa++) {
		if (!kq_isa_supported((kq_isa)isa)) {
			skip("CPU lacks it", "%s int4 kernels", kq_isa_name(isa));
			continue;
		}
		test_roundtrip((kq_isa)isa);
		for (int g = 0; g < 4; g++)
			for (int v = 0; v < 4; v++)
				test_shapes((kq_isa)isa, groups[g], v & 1 ? 1 : 0, v >> 1);
		test_extremes((kq_isa)isa);
		test_group_sums((kq_isa)isa);
		test_threads((kq_isa)isa);
		if (isa != KQ_ISA_REF) {
			test_big((kq_isa)isa, 1, 4096, 4096, 128);
			test_big((kq_isa)isa, 64, 1024, 1024, 32);
		}
	}
	for (int t = 1; t <= 3; t++)
		kq_ctx_destroy(ctxs[t]);
	return tap_done();
}
