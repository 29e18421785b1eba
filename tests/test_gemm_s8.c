/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_gemm_s8.c - int8 x int8 GEMM: every variant against a naive triple
 * loop (int32 output) and against the _ref variant (fp32 and uint8
 * outputs), bit for bit, on odd shapes, narrow and mixed panel widths,
 * padded strides, adversarial values, 1-3 threads; degenerate arguments
 * must return KQ_EINVAL / NULL. */
#define _DEFAULT_SOURCE /* mmap, MAP_ANONYMOUS */
#include "kq.h"
#include "tap.h"

#include <limits.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>
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

/* The definition in kq.h, in int64, wrapped to int32 at the end. */
static void naive_s32(int m, int n, int k, const uint8_t *a, int lda, int32_t a_zp,
		      const int8_t *w, const int32_t *zp, int32_t *c, int ldc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			int64_t s = 0;
			for (int l = 0; l < k; l++)
				s += ((int64_t)a[(size_t)i * lda + l] - a_zp) *
				     ((int64_t)w[(size_t)j * k + l] - (zp ? zp[j] : 0));
			c[(size_t)i * ldc + j] = (int32_t)(uint32_t)(uint64_t)s;
		}
}

enum { FILL_RANDOM, FILL_MAX, FILL_MIN };

typedef struct {
	int m, n, k;
	int lda_pad, ldc_pad;
	int a_fill;      /* FILL_RANDOM, FILL_MAX (255), FILL_MIN (0) */
	int w_fill;      /* FILL_RANDOM, FILL_MAX (127), FILL_MIN (-128) */
	int32_t a_zp;
	int zp_mode;     /* 0: NULL, 1: random, 2: all zp_value */
	int32_t zp_value;
	int with_bias;
	int relu;
	int vs_naive;    /* compare s32 with the naive loop (else with _ref) */
	int out_zp_set;  /* use out_zp below for u8 output, else a random one in 0..255 */
	int32_t out_zp;
} gcase;

static kq_ctx *ctxs[4];

#define CANARY_I32 0x5A5A5A5A
#define CANARY_U8 0xA5

/* Runs one case on one ISA with `threads` threads; returns 1 when all
 * three outputs match and the padding of C is untouched.  *why gets a
 * description of the first mismatch. */
static int run_case(kq_isa isa, int threads, const gcase *g, char *why, size_t whylen)
{
	const int m = g->m, n = g->n, k = g->k, lda = k + g->lda_pad, ldc = n + g->ldc_pad;
	int pass = 0;
	uint8_t *a = malloc((size_t)m * lda);
	int8_t *w = malloc((size_t)n * k);
	float *scale = malloc((size_t)n * sizeof *scale), *bias = malloc((size_t)n * sizeof *bias);
	int32_t *zp = malloc((size_t)n * sizeof *zp);
	size_t cn = (size_t)m * ldc;
	int32_t *c32 = malloc(cn * 4), *r32 = malloc(cn * 4);
	float *cf = malloc(cn * 4), *rf = malloc(cn * 4);
	uint8_t *cu = malloc(cn), *ru = malloc(cn);
	kq_s8w *pw = NULL, *pr = NULL;
	if (!a || !w || !scale || !bias || !zp || !c32 || !r32 || !cf || !rf || !cu || !ru) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < (size_t)m * lda; i++)
		a[i] = g->a_fill == FILL_MAX ? 255 : g->a_fill == FILL_MIN ? 0 : (uint8_t)rnd();
	for (size_t i = 0; i < (size_t)n * k; i++)
		w[i] = g->w_fill == FILL_MAX ? 127 : g->w_fill == FILL_MIN ? -128 : (int8_t)rnd();
	for (int j = 0; j < n; j++) {
		scale[j] = (float)(1 + rnd() % 1000) * 1e-5f;
		bias[j] = ((float)(rnd() % 2001) - 1000.0f) * 0.37f;
		zp[j] = g->zp_mode == 2 ? g->zp_value : (int32_t)(rnd() % 256) - 128;
	}
	const int32_t *zpp = g->zp_mode ? zp : NULL;
	const float *biasp = g->with_bias ? bias : NULL;
	pw = kq_s8w_pack(w, n, k, scale, zpp, biasp, (int)isa);
	pr = kq_s8w_pack(w, n, k, scale, zpp, biasp, KQ_ISA_REF);
	if (!pw || !pr) {
		snprintf(why, whylen, "pack failed");
		goto out;
	}
	kq_ctx *ctx = ctxs[threads];

	/* int32 */
	for (size_t i = 0; i < cn; i++)
		c32[i] = r32[i] = CANARY_I32;
	if (g->vs_naive)
		naive_s32(m, n, k, a, lda, g->a_zp, w, zpp, r32, ldc);
	else if (kq_gemm_s8_s32(ctx, m, a, lda, g->a_zp, pr, r32, ldc) != KQ_OK) {
		snprintf(why, whylen, "ref s32 call failed");
		goto out;
	}
	int rc = kq_gemm_s8_s32(ctx, m, a, lda, g->a_zp, pw, c32, ldc);
	if (rc != KQ_OK) {
		snprintf(why, whylen, "s32 returned %d", rc);
		goto out;
	}
	for (size_t i = 0; i < cn; i++)
		if (c32[i] != r32[i]) {
			snprintf(why, whylen, "s32 differs at row %zu col %zu: %ld vs %ld%s", i / ldc,
				 i % ldc, (long)c32[i], (long)r32[i],
				 (int)(i % ldc) >= n ? " (padding written)" : "");
			goto out;
		}

	/* fp32 */
	float a_scale = 0.02f + (float)(rnd() % 100) * 1e-3f;
	for (size_t i = 0; i < cn; i++)
		cf[i] = rf[i] = -1234.5f;
	rc = kq_gemm_s8_f32(ctx, m, a, lda, a_scale, g->a_zp, pr, rf, ldc);
	rc = rc ? rc : kq_gemm_s8_f32(ctx, m, a, lda, a_scale, g->a_zp, pw, cf, ldc);
	if (rc != KQ_OK) {
		snprintf(why, whylen, "f32 returned %d", rc);
		goto out;
	}
	if (memcmp(cf, rf, cn * 4) != 0) {
		for (size_t i = 0; i < cn; i++)
			if (memcmp(&cf[i], &rf[i], 4) != 0) {
				snprintf(why, whylen, "f32 differs at row %zu col %zu: %.9g vs %.9g",
					 i / ldc, i % ldc, cf[i], rf[i]);
				break;
			}
		goto out;
	}

	/* uint8: an output scale that puts typical values across the range */
	float out_scale = 0.05f + (float)(rnd() % 100) * 0.01f;
	int32_t out_zp = (int32_t)(rnd() % 256);
	if (g->out_zp_set)
		out_zp = g->out_zp;
	memset(cu, CANARY_U8, cn);
	memset(ru, CANARY_U8, cn);
	rc = kq_gemm_s8_u8(ctx, m, a, lda, a_scale, g->a_zp, pr, out_scale, out_zp, g->relu, ru, ldc);
	rc = rc ? rc : kq_gemm_s8_u8(ctx, m, a, lda, a_scale, g->a_zp, pw, out_scale, out_zp, g->relu,
				     cu, ldc);
	if (rc != KQ_OK) {
		snprintf(why, whylen, "u8 returned %d", rc);
		goto out;
	}
	for (size_t i = 0; i < cn; i++)
		if (cu[i] != ru[i]) {
			snprintf(why, whylen, "u8 differs at row %zu col %zu: %d vs %d", i / ldc,
				 i % ldc, cu[i], ru[i]);
			goto out;
		}
	for (size_t i = 0; i < cn; i++)
		if ((int)(i % ldc) >= n && (ru[i] != CANARY_U8 || c32[i] != CANARY_I32)) {
			snprintf(why, whylen, "padding of C written at row %zu col %zu", i / ldc, i % ldc);
			goto out;
		}
	pass = 1;
out:
	kq_s8w_destroy(pw);
	kq_s8w_destroy(pr);
	free(a), free(w), free(scale), free(bias), free(zp);
	free(c32), free(r32), free(cf), free(rf), free(cu), free(ru);
	return pass;
}

static void check(kq_isa isa, int threads, const gcase *g, const char *what)
{
	char why[200] = "";
	int pass = run_case(isa, threads, g, why, sizeof why);
	ok(pass, "%s %s %dx%dx%d lda+%d ldc+%d a_zp=%ld zp=%s bias=%d relu=%d threads=%d",
	   kq_isa_name(isa), what, g->m, g->n, g->k, g->lda_pad, g->ldc_pad, (long)g->a_zp,
	   g->zp_mode == 0 ? "NULL" : g->zp_mode == 1 ? "random" : "const", g->with_bias, g->relu,
	   threads);
	if (!pass)
		diag("%s", why);
}

static void test_shapes(kq_isa isa)
{
	static const int sizes[] = {1, 3, 7, 17, 33, 257};
	static const int32_t azps[] = {0, 128, 255, -128, 127, 3};
	int idx = 0;
	for (int mi = 0; mi < 6; mi++)
		for (int ni = 0; ni < 6; ni++)
			for (int ki = 0; ki < 6; ki++, idx++) {
				gcase g = {0};
				g.m = sizes[mi];
				g.n = sizes[ni];
				g.k = sizes[ki];
				g.lda_pad = idx % 3 == 0 ? 0 : 5 + idx % 7;
				g.ldc_pad = idx % 4 == 0 ? 0 : 3 + idx % 5;
				g.a_zp = azps[idx % 6];
				g.zp_mode = idx % 3 == 2 ? 0 : idx % 3;
				g.with_bias = idx % 2;
				g.relu = (idx / 2) % 2;
				g.vs_naive = 1;
				check(isa, 1 + idx % 3, &g, "shape");
			}
}

/* Blocks of the SIMD kernels: several K blocks, M and N blocks, tails;
 * narrow outputs (fewer column panels than threads) split rows. */
static void test_blocking(kq_isa isa)
{
	static const int shapes[][4] = {
		{257, 300, 1100, 1}, {130, 70, 2049, 2}, {12, 513, 1027, 3}, {250, 64, 4099, 2},
		{6, 1000, 17, 3},    {127, 129, 515, 2}, {300, 40, 100, 3},  {200, 17, 1030, 2},
		{97, 64, 600, 3},
	};
	for (int s = 0; s < 9; s++) {
		gcase g = {0};
		g.m = shapes[s][0];
		g.n = shapes[s][1];
		g.k = shapes[s][2];
		g.lda_pad = s % 2 ? 9 : 0;
		g.ldc_pad = s % 3 ? 0 : 11;
		g.a_zp = s % 2 ? 0 : 101;
		g.zp_mode = s % 3;
		g.zp_value = -7;
		g.with_bias = 1;
		g.relu = s % 2;
		g.vs_naive = 1;
		check(isa, shapes[s][3], &g, "blocks");
	}
}

/* Narrow outputs: every N up to 32 (one panel of 16 or 32 columns) and
 * mixed widths (full 64-column panels followed by a narrower last one),
 * with tile-row tails (tiles of 6, 8 and 12 rows), K tails read in place
 * or copied, several K blocks, and zero points (the epilogue after the
 * row term). */
static void test_narrow(kq_isa isa)
{
	static const int ks[] = {1, 2, 3, 4, 5, 9, 13, 67, 144, 291, 7, 288};
	static const int ms[] = {1, 11, 12, 13, 25, 121, 7, 24, 50, 143, 9};
	static const int wide[][3] = {
		{30, 33, 9},    {41, 47, 144}, {26, 48, 5},    {19, 49, 13},   {61, 63, 288},
		{13, 65, 9},    {50, 79, 3},   {12, 80, 144},  {37, 81, 67},   {25, 96, 1},
		{121, 100, 21}, {9, 112, 36},  {26, 144, 9},   {17, 160, 291}, {43, 176, 4},
		{24, 200, 11},  {130, 16, 4099}, {37, 30, 8195}, {25, 80, 5001}, {64, 10, 128},
	};
	int idx = 0;
	for (int n = 1; n <= 32; n++)
		for (int rep = 0; rep < 2; rep++, idx++) {
			gcase g = {0};
			g.m = ms[idx % 11];
			g.n = n;
			g.k = ks[idx % 12];
			g.lda_pad = idx % 3 == 0 ? 0 : 1 + idx % 5;
			g.ldc_pad = idx % 4 == 1 ? 5 : 0;
			g.a_zp = idx % 5 == 0 ? 0 : 128 + idx;
			g.zp_mode = idx % 4 == 3 ? 1 : 0;
			g.with_bias = idx % 2;
			g.relu = (idx / 2) % 2;
			g.vs_naive = 1;
			check(isa, 1 + idx % 3, &g, "narrow");
		}
	for (int s = 0; s < 20; s++, idx++) {
		gcase g = {0};
		g.m = wide[s][0];
		g.n = wide[s][1];
		g.k = wide[s][2];
		g.lda_pad = s % 3 == 1 ? 3 : 0;
		g.ldc_pad = s % 2 ? 7 : 0;
		g.a_zp = s % 4 == 0 ? 0 : 77;
		g.zp_mode = s % 3;
		g.zp_value = 5;
		g.with_bias = s % 2 == 0;
		g.relu = s % 3 == 0;
		g.vs_naive = 1;
		check(isa, 1 + s % 3, &g, "mixed panels");
	}
	/* output zero points outside 0..255, up to where the SIMD epilogue
	 * hands over to another path (|out_zp| > 2^24 - 256) and past it */
	static const int32_t ozps[] = {-300, -5, 256, 300, 16776960, 16776961, -16776960,
				       -16776961, 1 << 25, INT32_MIN, INT32_MAX};
	for (int s = 0; s < 22; s++, idx++) {
		gcase g = {0};
		g.m = ms[s % 11];
		g.n = 1 + s * 7 % 80;
		g.k = ks[s % 12];
		g.a_zp = 128;
		g.with_bias = 1;
		g.relu = s / 11;
		g.vs_naive = 1;
		g.out_zp_set = 1;
		g.out_zp = ozps[s % 11];
		char what[40];
		snprintf(what, sizeof what, "out_zp=%ld", (long)g.out_zp);
		check(isa, 1, &g, what);
	}
}

/* Extremes: products and sums near and past the int32 limits. */
static void test_adversarial(kq_isa isa)
{
	static const int32_t azps[] = {0, 255, -128, 127};
	static const int32_t zps[] = {0, -128, 127};
	int idx = 0;
	for (int af = FILL_MAX; af <= FILL_MIN; af++)
		for (int wf = FILL_MAX; wf <= FILL_MIN; wf++)
			for (int zi = 0; zi < 4; zi++)
				for (int wi = 0; wi < 3; wi++, idx++) {
					gcase g = {0};
					g.m = 3 + idx % 5;
					g.n = 17 + idx % 50;
					/* 255 * 128 * 65793 > 2^31: the plain sum wraps */
					g.k = idx % 2 ? 65793 : 70001;
					g.a_fill = af;
					g.w_fill = wf;
					g.a_zp = azps[zi];
					g.zp_mode = 2;
					g.zp_value = zps[wi];
					g.with_bias = idx % 2;
					g.relu = idx % 3 == 0;
					g.ldc_pad = idx % 2 ? 2 : 0;
					g.vs_naive = 1;
					check(isa, 1 + idx % 3, &g, "extreme");
				}
}

static void test_large(kq_isa isa)
{
	static const int shapes[][3] = {{64, 1024, 1024}, {1024, 1024, 512}};
	for (int s = 0; s < 2; s++) {
		gcase g = {0};
		g.m = shapes[s][0];
		g.n = shapes[s][1];
		g.k = shapes[s][2];
		g.a_zp = 128;
		g.zp_mode = s;
		g.with_bias = 1;
		g.relu = 1;
		g.vs_naive = 0;
		check(isa, 2 + s, &g, "large vs ref");
	}
}

/* bytes placed so that they end exactly where an inaccessible page
 * begins: reading or writing one byte past them faults.  ASan cannot see
 * the loads of the asm micro-kernel, this can.  NULL when mmap fails. */
static void *guarded(size_t bytes, void **map, size_t *maplen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (bytes + page - 1) / page * page + page;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + len - page, page, PROT_NONE) != 0) {
		munmap(p, len);
		return NULL;
	}
	*map = p;
	*maplen = len;
	return p + len - page - bytes;
}

static void test_guard(kq_isa isa)
{
	int fails = 0, cases = 0;
	for (int k = 1; k <= 9; k++)
		for (int m = 1; m <= 7; m++) {
			const int n = 3 + k;
			void *amap = NULL, *cmap = NULL, *umap = NULL;
			size_t alen = 0, clen = 0, ulen = 0;
			uint8_t *a = guarded((size_t)m * k, &amap, &alen);
			int32_t *c = guarded((size_t)m * n * 4, &cmap, &clen);
			uint8_t *u = guarded((size_t)m * n, &umap, &ulen);
			int8_t w[12 * 9];
			float scale[12], bias[12];
			int32_t want[7 * 12];
			if (!a || !c || !u) {
				if (amap)
					munmap(amap, alen);
				if (cmap)
					munmap(cmap, clen);
				if (umap)
					munmap(umap, ulen);
				fails++;
				continue;
			}
			for (int i = 0; i < m * k; i++)
				a[i] = (uint8_t)rnd();
			for (int i = 0; i < n * k; i++)
				w[i] = (int8_t)rnd();
			for (int j = 0; j < n; j++)
				scale[j] = 0.5f, bias[j] = 1.0f;
			kq_s8w *p = kq_s8w_pack(w, n, k, scale, NULL, bias, (int)isa);
			naive_s32(m, n, k, a, k, 7, w, NULL, want, n);
			int good = p && kq_gemm_s8_s32(ctxs[1], m, a, k, 7, p, c, n) == KQ_OK &&
				   memcmp(c, want, (size_t)m * n * 4) == 0 &&
				   kq_gemm_s8_f32(ctxs[1], m, a, k, 0.25f, 7, p, (float *)(void *)c, n) == KQ_OK &&
				   kq_gemm_s8_u8(ctxs[1], m, a, k, 0.25f, 7, p, 0.5f, 9, 1, u, n) == KQ_OK;
			fails += !good;
			cases++;
			kq_s8w_destroy(p);
			munmap(amap, alen);
			munmap(cmap, clen);
			munmap(umap, ulen);
		}
	ok(fails == 0 && cases == 63, "%s A and C end at an inaccessible page (K 1..9, M 1..7)",
	   kq_isa_name(isa));
}

/* The same with several tiles of rows and panels of every width, so K
 * tails are read in place in all but the last rows of A (which must not
 * read past the end) and output tiles end at the page in every layout. */
static void test_guard_tiles(kq_isa isa)
{
	static const int ms[] = {13, 25, 37};
	static const int ns[] = {5, 20, 40, 70};
	int fails = 0, cases = 0;
	for (int k = 1; k <= 9; k++)
		for (int mi = 0; mi < 3; mi++)
			for (int ni = 0; ni < 4; ni++) {
				const int m = ms[mi], n = ns[ni];
				void *amap = NULL, *cmap = NULL, *umap = NULL;
				size_t alen = 0, clen = 0, ulen = 0;
				uint8_t *a = guarded((size_t)m * k, &amap, &alen);
				int32_t *c = guarded((size_t)m * n * 4, &cmap, &clen);
				uint8_t *u = guarded((size_t)m * n, &umap, &ulen);
				int8_t w[70 * 9];
				float scale[70], bias[70];
				int32_t want[37 * 70];
				cases++;
				if (!a || !c || !u) {
					fails++;
				} else {
					for (int i = 0; i < m * k; i++)
						a[i] = (uint8_t)rnd();
					for (int i = 0; i < n * k; i++)
						w[i] = (int8_t)rnd();
					for (int j = 0; j < n; j++)
						scale[j] = 0.5f, bias[j] = 1.0f;
					kq_s8w *p = kq_s8w_pack(w, n, k, scale, NULL, bias, (int)isa);
					naive_s32(m, n, k, a, k, 7, w, NULL, want, n);
					int good = p && kq_gemm_s8_s32(ctxs[1], m, a, k, 7, p, c, n) == KQ_OK &&
						   memcmp(c, want, (size_t)m * n * 4) == 0 &&
						   kq_gemm_s8_f32(ctxs[1], m, a, k, 0.25f, 7, p, (float *)(void *)c, n) == KQ_OK &&
						   kq_gemm_s8_u8(ctxs[1], m, a, k, 0.25f, 7, p, 0.5f, 9, 1, u, n) == KQ_OK;
					fails += !good;
					kq_s8w_destroy(p);
				}
				if (amap)
					munmap(amap, alen);
				if (cmap)
					munmap(cmap, clen);
				if (umap)
					munmap(umap, ulen);
			}
	ok(fails == 0 && cases == 108,
	   "%s A and C end at an inaccessible page (K 1..9, M 13..37, N 5..70)", kq_isa_name(isa));
}

static void test_degenerate(kq_isa isa)
{
	const char *name = kq_isa_name(isa);
	int8_t w[12] = {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12};
	float scale[3] = {1, 1, 1};
	int32_t bad_zp[3] = {0, 255, 0};
	uint8_t a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	int32_t c32[6];
	float cf[6];
	uint8_t cu[6];
	kq_ctx *ctx = ctxs[2];

	ok(!kq_s8w_pack(NULL, 3, 4, scale, NULL, NULL, isa), "%s pack NULL w", name);
	ok(!kq_s8w_pack(w, 3, 4, NULL, NULL, NULL, isa), "%s pack NULL scale", name);
	ok(!kq_s8w_pack(w, 0, 4, scale, NULL, NULL, isa), "%s pack n = 0", name);
	ok(!kq_s8w_pack(w, 3, 0, scale, NULL, NULL, isa), "%s pack k = 0", name);
	ok(!kq_s8w_pack(w, 3, 4, scale, bad_zp, NULL, isa), "%s pack zp = 255", name);
	ok(!kq_s8w_pack(w, 3, 4, scale, NULL, NULL, 17), "%s pack unknown isa", name);

	kq_s8w *p = kq_s8w_pack(w, 3, 4, scale, NULL, NULL, isa);
	if (!ok(p != NULL, "%s pack 3x4", name))
		return;
	ok(kq_s8w_n(p) == 3 && kq_s8w_k(p) == 4 && kq_s8w_isa(p) == isa &&
		   kq_s8w_bytes(p) >= 12,
	   "%s accessors", name);
	ok(kq_gemm_s8_s32(ctx, 0, a, 4, 0, p, c32, 3) == KQ_EINVAL, "%s m = 0", name);
	ok(kq_gemm_s8_s32(ctx, -1, a, 4, 0, p, c32, 3) == KQ_EINVAL, "%s m < 0", name);
	ok(kq_gemm_s8_s32(ctx, 2, NULL, 4, 0, p, c32, 3) == KQ_EINVAL, "%s a NULL", name);
	ok(kq_gemm_s8_s32(ctx, 2, a, 4, 0, NULL, c32, 3) == KQ_EINVAL, "%s w NULL", name);
	ok(kq_gemm_s8_s32(ctx, 2, a, 4, 0, p, NULL, 3) == KQ_EINVAL, "%s c NULL", name);
	ok(kq_gemm_s8_s32(ctx, 2, a, 3, 0, p, c32, 3) == KQ_EINVAL, "%s lda < k", name);
	ok(kq_gemm_s8_s32(ctx, 2, a, 4, 0, p, c32, 2) == KQ_EINVAL, "%s ldc < n", name);
	ok(kq_gemm_s8_f32(ctx, 0, a, 4, 1.0f, 0, p, cf, 3) == KQ_EINVAL, "%s f32 m = 0", name);
	ok(kq_gemm_s8_f32(ctx, 2, a, 4, 1.0f, 0, p, NULL, 3) == KQ_EINVAL, "%s f32 c NULL", name);
	ok(kq_gemm_s8_u8(ctx, 0, a, 4, 1.0f, 0, p, 1.0f, 0, 0, cu, 3) == KQ_EINVAL, "%s u8 m = 0",
	   name);
	ok(kq_gemm_s8_u8(ctx, 2, a, 4, 1.0f, 0, p, 0.0f, 0, 0, cu, 3) == KQ_EINVAL,
	   "%s u8 out_scale = 0", name);
	ok(kq_gemm_s8_u8(ctx, 2, a, 4, 1.0f, 0, p, -1.0f, 0, 0, cu, 3) == KQ_EINVAL,
	   "%s u8 out_scale < 0", name);
	ok(kq_gemm_s8_u8(ctx, 2, a, 4, 1.0f, 0, p, NAN, 0, 0, cu, 3) == KQ_EINVAL,
	   "%s u8 out_scale NaN", name);
	ok(kq_gemm_s8_s32(NULL, 2, a, 4, 0, p, c32, 3) == KQ_OK && c32[0] == 1 - 4 + 9 - 16 &&
		   c32[5] == 5 * 9 - 6 * 10 + 7 * 11 - 8 * 12,
	   "%s NULL context runs on the caller", name);
	kq_s8w_destroy(p);
}

int main(void)
{
	kq_init();
	for (int t = 1; t <= 3; t++) {
		ctxs[t] = kq_ctx_create(t);
		if (!ctxs[t]) {
			ok(0, "kq_ctx_create(%d)", t);
			return tap_done();
		}
	}
	kq_s8w_destroy(NULL);
	for (int isa = 0; isa < KQ_ISA_COUNT; isa++) {
		const char *name = kq_isa_name(isa);
		if (!kq_isa_supported((kq_isa)isa)) {
			skip("CPU or build lacks it", "%s: int8 GEMM variant", name);
			ok(!kq_s8w_pack((const int8_t[]){1}, 1, 1, (const float[]){1}, NULL, NULL, isa),
			   "%s: pack refuses an unsupported ISA", name);
			continue;
		}
		test_degenerate((kq_isa)isa);
		test_guard((kq_isa)isa);
		test_guard_tiles((kq_isa)isa);
		test_shapes((kq_isa)isa);
		test_blocking((kq_isa)isa);
		test_narrow((kq_isa)isa);
		test_adversarial((kq_isa)isa);
		test_large((kq_isa)isa);
	}
	for (int t = 1; t <= 3; t++)
		kq_ctx_destroy(ctxs[t]);
	return tap_done();
}
