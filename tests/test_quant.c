/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_quant.c - quantization parameters and fake quant against PyTorch.
 *
 * The main oracle is tests/golden/quant_fixtures.txt, written by
 * tools/gen_quant_fixtures.py from PyTorch's MinMaxObserver /
 * PerChannelMinMaxObserver and torch.fake_quantize_per_{tensor,channel}_affine
 * (format in that script's header).  Scales, zero points and outputs must
 * match bit for bit.  The rest are hand-checked cases: degenerate and
 * non-finite ranges, groups with a trailing partial group, clip counts,
 * error statistics, and dequantize(quantize(x)) == fake_quant(x).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kq.h"
#include "tap.h"
#include "testutil.h"


static int same_bits(const float *a, const float *b, size_t n, size_t *at)
{
	for (size_t i = 0; i < n; i++)
		if (bits_of(a[i]) != bits_of(b[i])) {
			*at = i;
			return 0;
		}
	return 1;
}

/* --------------------------------------------------------- fixtures */

typedef struct {
	char name[64], gran[16];
	int sym, uns, bits, qmin, qmax, rows, cols, group;
	float *c, *x, *y;
	kq_qparams p[256];
	size_t np, clipped;
} fixture;

static int read_floats(FILE *f, float **out, size_t n)
{
	*out = malloc(n * sizeof **out);
	for (size_t i = 0; *out && i < n; i++) {
		unsigned u;
		if (fscanf(f, "%x", &u) != 1)
			return -1;
		(*out)[i] = from_bits(u);
	}
	return *out ? 0 : -1;
}

/* Reads the next case; 1 on success, 0 at the end, -1 on a syntax error. */
static int read_case(FILE *f, fixture *fx)
{
	char tok[64];

	memset(fx, 0, sizeof *fx);
	for (;;) {
		if (fscanf(f, "%63s", tok) != 1)
			return fx->rows ? -1 : 0;
		if (tok[0] == '#') {
			int ch;
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		size_t n = (size_t)fx->rows * (size_t)fx->cols;
		if (strcmp(tok, "case") == 0) {
			if (fscanf(f, "%63s %15s %d %d %d %d %d %d %d %d", fx->name, fx->gran, &fx->sym,
				   &fx->uns, &fx->bits, &fx->qmin, &fx->qmax, &fx->rows, &fx->cols,
				   &fx->group) != 10 || fx->rows <= 0 || fx->cols <= 0)
				return -1;
		} else if (strcmp(tok, "c") == 0 && n) {
			if (read_floats(f, &fx->c, n))
				return -1;
		} else if (strcmp(tok, "x") == 0 && n) {
			if (read_floats(f, &fx->x, n))
				return -1;
		} else if (strcmp(tok, "y") == 0 && n) {
			if (read_floats(f, &fx->y, n))
				return -1;
		} else if (strcmp(tok, "p") == 0 && fx->np < 256) {
			unsigned u;
			int zp;
			if (fscanf(f, "%x %d", &u, &zp) != 2)
				return -1;
			fx->p[fx->np].scale = from_bits(u);
			fx->p[fx->np++].zero_point = zp;
		} else if (strcmp(tok, "clipped") == 0) {
			if (fscanf(f, "%zu", &fx->clipped) != 1)
				return -1;
		} else if (strcmp(tok, "end") == 0) {
			return fx->x && fx->y && fx->np ? 1 : -1;
		} else {
			return -1;
		}
	}
}

static void fixture_free(fixture *fx)
{
	free(fx->c);
	free(fx->x);
	free(fx->y);
}

static void check_fixture(const fixture *fx)
{
	kq_qspec spec = {fx->bits, fx->sym, fx->uns, KQ_GRAN_TENSOR, 0};
	const char *n = fx->name, *g = fx->gran;
	size_t len = (size_t)fx->rows * (size_t)fx->cols, at = 0;
	int qmin, qmax;

	if (strcmp(g, "channel") == 0)
		spec.gran = KQ_GRAN_CHANNEL;
	else if (strcmp(g, "group") == 0) {
		spec.gran = KQ_GRAN_GROUP;
		spec.group = fx->group;
	}
	ok(kq_qspec_range(&spec, &qmin, &qmax) == KQ_OK && qmin == fx->qmin && qmax == fx->qmax &&
		   kq_qspec_nparams(&spec, fx->rows, fx->cols) == fx->np,
	   "%s %s: range [%d, %d] and %zu parameters", n, g, fx->qmin, fx->qmax, fx->np);

	kq_qparams p[256];
	int rc = kq_qparams_minmax(fx->c ? fx->c : fx->x, fx->rows, fx->cols, &spec, p);
	int good = rc == KQ_OK;
	size_t bad = 0;
	for (size_t i = 0; good && i < fx->np; i++)
		if (bits_of(p[i].scale) != bits_of(fx->p[i].scale) ||
		    p[i].zero_point != fx->p[i].zero_point) {
			good = 0;
			bad = i;
		}
	ok(good, "%s %s: scale and zero point bit-exact with PyTorch", n, g);
	if (!good)
		diag("param %zu: got %a/%d, PyTorch %a/%d (rc %d)", bad, p[bad].scale,
		     p[bad].zero_point, fx->p[bad].scale, fx->p[bad].zero_point, rc);

	/* Fake quant with PyTorch's own parameters, so this point does not
	 * depend on the one above. */
	float *y = malloc(len * sizeof *y), *d = malloc(len * sizeof *d);
	void *q = malloc(len);
	size_t clipped = SIZE_MAX, qclipped = SIZE_MAX;
	rc = kq_fake_quant(fx->x, fx->rows, fx->cols, &spec, fx->p, y, &clipped);
	good = rc == KQ_OK && same_bits(y, fx->y, len, &at);
	ok(good, "%s %s: fake quant bit-exact with PyTorch (%zu values)", n, g, len);
	if (!good)
		diag("value %zu: x %a, got %a, PyTorch %a (rc %d)", at, fx->x[at], y[at], fx->y[at], rc);
	ok(clipped == fx->clipped, "%s %s: %zu clipped, PyTorch %zu", n, g, clipped, fx->clipped);

	good = kq_quantize(fx->x, fx->rows, fx->cols, &spec, fx->p, q, &qclipped) == KQ_OK &&
	       kq_dequantize(q, fx->rows, fx->cols, &spec, fx->p, d) == KQ_OK &&
	       same_bits(d, fx->y, len, &at) && qclipped == fx->clipped;
	ok(good, "%s %s: dequantize(quantize(x)) equals PyTorch's fake quant", n, g);
	free(y);
	free(d);
	free(q);
}

static void test_fixtures(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/golden/quant_fixtures.txt", top && *top ? top : ".");
	FILE *f = fopen(path, "r");
	if (!f) {
		ok(0, "open %s (set top_srcdir to the source tree)", path);
		return;
	}
	fixture fx;
	int rc, ncases = 0;
	while ((rc = read_case(f, &fx)) == 1) {
		check_fixture(&fx);
		fixture_free(&fx);
		ncases++;
	}
	fixture_free(&fx);
	fclose(f);
	ok(rc == 0 && ncases >= 100, "fixture file parsed to the end: %d cases", ncases);
}

/* ----------------------------------------------------- hand-checked */

static const kq_qspec S8 = {8, 1, 0, KQ_GRAN_TENSOR, 0};  /* [-127, 127] */
static const kq_qspec A8 = {8, 0, 0, KQ_GRAN_TENSOR, 0};  /* [-128, 127] */
static const kq_qspec U8 = {8, 0, 1, KQ_GRAN_TENSOR, 0};  /* [0, 255] */

static void test_ranges(void)
{
	static const struct {
		int bits, sym, uns, qmin, qmax;
	} r[] = {
		{8, 1, 0, -127, 127}, {8, 0, 0, -128, 127}, {8, 0, 1, 0, 255}, {8, 1, 1, 0, 255},
		{4, 1, 0, -7, 7},     {4, 0, 0, -8, 7},     {4, 0, 1, 0, 15},  {4, 1, 1, 0, 15},
	};
	int good = 1, lo, hi;
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		kq_qspec s = {r[i].bits, r[i].sym, r[i].uns, KQ_GRAN_TENSOR, 0};
		good &= kq_qspec_range(&s, &lo, &hi) == KQ_OK && lo == r[i].qmin && hi == r[i].qmax;
	}
	ok(good, "kq_qspec_range: the eight (bits, symmetric, unsigned) ranges of kq.h");
	kq_qspec b5 = {5, 1, 0, KQ_GRAN_TENSOR, 0}, g48 = {8, 1, 0, KQ_GRAN_GROUP, 48};
	ok(kq_qspec_range(&b5, &lo, &hi) == KQ_EINVAL && kq_qspec_nparams(&g48, 4, 64) == 0 &&
		   kq_qspec_nparams(&S8, 0, 4) == 0,
	   "5 bits, group 48 and an empty shape are rejected");
	kq_qspec t = S8, c = S8, g = S8;
	c.gran = KQ_GRAN_CHANNEL;
	g.gran = KQ_GRAN_GROUP;
	g.group = 32;
	ok(kq_qspec_nparams(&t, 3, 70) == 1 && kq_qspec_nparams(&c, 3, 70) == 3 &&
		   kq_qspec_nparams(&g, 3, 70) == 9 && kq_qspec_nparams(&g, 3, 64) == 6,
	   "nparams: tensor 1, channel rows, group rows * ceil(cols / group)");
}

static void test_degenerate_ranges(void)
{
	kq_qparams p;

	ok(kq_qparams_from_range(0.0f, 0.0f, -127, 127, 1, &p) == KQ_OK && p.scale == FLT_EPSILON &&
		   p.zero_point == 0,
	   "zero range, symmetric int8: scale = FLT_EPSILON, zero point 0");
	ok(kq_qparams_from_range(0.0f, 0.0f, 0, 255, 0, &p) == KQ_OK && p.scale == FLT_EPSILON &&
		   p.zero_point == 0,
	   "zero range, asymmetric uint8: scale = FLT_EPSILON, zero point 0");
	ok(kq_qparams_from_range(0.0f, 0.0f, -128, 127, 0, &p) == KQ_OK && p.scale == FLT_EPSILON &&
		   p.zero_point == -128,
	   "zero range, asymmetric int8: zero point qmin (-128), as PyTorch");
	ok(kq_qparams_from_range(2.0f, 2.0f, 0, 255, 0, &p) == KQ_OK && p.scale == 2.0f / 255.0f &&
		   p.zero_point == 0,
	   "constant 2: the range widens to [0, 2], scale 2/255, zero point 0");
	ok(kq_qparams_from_range(-1.0f, 1.0f, 0, 255, 1, &p) == KQ_OK && p.scale == 1.0f / 127.5f &&
		   p.zero_point == 128,
	   "unsigned symmetric: scale amax / 127.5, zero point 128");

	static const float bad[][2] = {{NAN, 1.0f}, {0.0f, NAN}, {-INFINITY, 1.0f}, {0.0f, INFINITY}};
	int good = 1;
	for (int i = 0; i < 4; i++) {
		good &= kq_qparams_from_range(bad[i][0], bad[i][1], -128, 127, 0, &p) == KQ_ERANGE &&
			p.scale == 1.0f && p.zero_point == 0;
		good &= kq_qparams_from_range(bad[i][0], bad[i][1], 0, 255, 0, &p) == KQ_ERANGE &&
			p.scale == 1.0f && p.zero_point == 128;
	}
	ok(good, "NaN/inf ranges: KQ_ERANGE, scale 1, symmetric zero point (0 signed, 128 unsigned)");
	ok(kq_qparams_from_range(-3e38f, 3e38f, 0, 255, 0, &p) == KQ_ERANGE && p.scale == 1.0f,
	   "a finite range whose width overflows float: KQ_ERANGE, not an inf scale");
	ok(kq_qparams_from_range(1.0f, -1.0f, 0, 255, 0, &p) == KQ_EINVAL &&
		   kq_qparams_from_range(0.0f, 1.0f, 1, 255, 0, &p) == KQ_EINVAL && p.scale == 1.0f,
	   "lo > hi and a range without 0 are KQ_EINVAL, output still defined");

	/* One channel holds NaN, one inf: the others are still computed and
	 * fake quant produces no NaN for the finite values. */
	float x[4][4] = {{1, -2, 3, 0}, {NAN, 1, 2, 3}, {0, INFINITY, 1, 1}, {0, 0, 0, 0}}, y[16];
	kq_qparams pc[4];
	kq_qspec c = A8;
	c.gran = KQ_GRAN_CHANNEL;
	ok(kq_qparams_minmax(&x[0][0], 4, 4, &c, pc) == KQ_ERANGE && pc[0].scale == 5.0f / 255.0f &&
		   pc[1].scale == 1.0f && pc[2].scale == 1.0f && pc[3].scale == FLT_EPSILON,
	   "per-channel minmax with NaN and inf rows: KQ_ERANGE, those rows scale 1, others normal");
	/* NaN quantizes to qmin and inf to qmax (as PyTorch on x86), so even
	 * those rows come out finite. */
	size_t clipped = 0;
	int finite = kq_fake_quant(&x[0][0], 4, 4, &c, pc, y, &clipped) == KQ_OK;
	for (int i = 0; i < 16; i++)
		finite &= isfinite(y[i]);
	ok(finite && y[15] == 0.0f && fabsf(y[2] - 3.0f) <= pc[0].scale / 2 && y[4] == -128.0f &&
		   y[9] == 127.0f && clipped == 2,
	   "fake quant after bad ranges: every output finite (NaN -> qmin, inf -> qmax, 2 clipped)");

	float z[5] = {0, 0, 0, 0, 0}, zy[5];
	ok(kq_qparams_minmax(z, 1, 5, &U8, &p) == KQ_OK &&
		   kq_fake_quant(z, 1, 5, &U8, &p, zy, NULL) == KQ_OK &&
		   zy[0] == 0.0f && zy[4] == 0.0f,
	   "all-zero tensor: minmax and fake quant give zeros, no division by zero");
}

static void test_params_guard(void)
{
	float x[2] = {1, 2}, y[2];
	int8_t q[2];
	kq_qparams zero = {0.0f, 0}, neg = {-1.0f, 0}, inf = {INFINITY, 0}, sub = {1e-40f, 0};
	kq_qparams zp = {1.0f, 200}, nan = {NAN, 0};
	ok(kq_fake_quant(x, 1, 2, &S8, &zero, y, NULL) == KQ_EINVAL &&
		   kq_fake_quant(x, 1, 2, &S8, &neg, y, NULL) == KQ_EINVAL &&
		   kq_fake_quant(x, 1, 2, &S8, &inf, y, NULL) == KQ_EINVAL &&
		   kq_fake_quant(x, 1, 2, &S8, &nan, y, NULL) == KQ_EINVAL &&
		   kq_fake_quant(x, 1, 2, &S8, &sub, y, NULL) == KQ_EINVAL &&
		   kq_quantize(x, 1, 2, &S8, &zp, q, NULL) == KQ_EINVAL,
	   "scales 0, -1, inf, NaN, subnormal and an out-of-range zero point are KQ_EINVAL");
	ok(kq_quantize(NULL, 1, 2, &S8, &zp, q, NULL) == KQ_EINVAL &&
		   kq_quantize(x, 1, 2, NULL, &zp, q, NULL) == KQ_EINVAL &&
		   kq_quantize(x, -1, 2, &S8, &zp, q, NULL) == KQ_EINVAL,
	   "NULL pointers and negative shapes are KQ_EINVAL");
}

static void test_clip_counts(void)
{
	/* scale 1, zero point 0 on [-127, 127]: -127.5 rounds (half to even)
	 * to -128 and 127.5 to 128, both outside; 126.5 rounds to 126. */
	const float x[8] = {-200.0f, -127.4f, -127.5f, 126.5f, 127.5f, 300.0f, -0.5f, 1.5f};
	const int8_t want[8] = {-127, -127, -127, 126, 127, 127, 0, 2};
	kq_qparams p = {1.0f, 0};
	int8_t q[8];
	size_t clipped = 0;
	ok(kq_quantize(x, 2, 4, &S8, &p, q, &clipped) == KQ_OK && memcmp(q, want, sizeof q) == 0 &&
		   clipped == 4,
	   "quantize clamps and counts 4 clipped of 8 (ties -127.5 and 127.5 included)");

	/* uint8, scale 0.5, zero point 10: x = -5.25 -> -10.5 -> -10 + 10 = 0 in
	 * range; -5.5 -> -11 + 10 = -1 clipped; 122.75 -> 245.5 -> 246 -> 256
	 * clipped; 122.25 -> 244.5 -> 244 -> 254. */
	const float u[4] = {-5.25f, -5.5f, 122.75f, 122.25f};
	const uint8_t uw[4] = {0, 0, 255, 254};
	uint8_t uq[4];
	kq_qparams pu = {0.5f, 10};
	ok(kq_quantize(u, 1, 4, &U8, &pu, uq, &clipped) == KQ_OK && memcmp(uq, uw, sizeof uq) == 0 &&
		   clipped == 2,
	   "uint8 with zero point 10: half-even ties at both ends, 2 clipped");
}

static void test_groups(void)
{
	/* 2 rows x 70 cols, groups of 32: per row groups [0,32) [32,64) and
	 * the partial [64,70).  Group (r, g) holds amax 127 * 2^-(r*3+g+1) at
	 * one position, so its symmetric int8 scale is exactly 2^-(r*3+g+1);
	 * the other values are 5 * that scale (quantize to 5 exactly). */
	enum { R = 2, C = 70, G = 32, NG = 3 };
	float x[R * C], y[R * C];
	kq_qparams p[R * NG];
	kq_qspec spec = {8, 1, 0, KQ_GRAN_GROUP, G};

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			int g = c / G;
			float s = ldexpf(1.0f, -(r * 3 + g + 1));
			x[r * C + c] = c % G == 3 ? -127.0f * s : 5.0f * s;
		}
	x[1 * C + 66] = 1000.0f; /* a large value in the second row's partial group */
	int good = kq_qspec_nparams(&spec, R, C) == R * NG &&
		   kq_qparams_minmax(x, R, C, &spec, p) == KQ_OK;
	for (int r = 0; r < R; r++)
		for (int g = 0; g < NG; g++) {
			float s = ldexpf(1.0f, -(r * 3 + g + 1));
			if (r == 1 && g == 2)
				s = 1000.0f / 127.0f;
			good &= p[r * NG + g].scale == s && p[r * NG + g].zero_point == 0;
		}
	ok(good, "group 32 over 70 columns: 3 groups per row, the partial one its own scale");

	size_t clipped = 1;
	good = kq_fake_quant(x, R, C, &spec, p, y, &clipped) == KQ_OK && clipped == 0;
	for (int i = 0; i < R * C; i++)
		if (i != 1 * C + 66 && !(i >= C + 64 && i < 2 * C))
			good &= y[i] == x[i];
	good &= y[1 * C + 66] == 127.0f * (1000.0f / 127.0f);
	ok(good, "group fake quant reproduces values that sit on each group's grid");

	/* The trailing partial group of row 0 uses scale 2^-3: 0.3 -> 2.4 -> 2
	 * -> 0.25.  With row 0's first-group scale (2^-1) it would be 0.5. */
	x[66] = 0.3f;
	kq_fake_quant(x, R, C, &spec, p, y, NULL);
	ok(y[66] == 0.25f, "a value in the partial group is rounded on that group's scale");
	spec.group = 48;
	ok(kq_qparams_minmax(x, R, C, &spec, p) == KQ_EINVAL, "group 48 is rejected");
}

static void test_stats(void)
{
	const float x[4] = {1, 2, 3, 4}, y[4] = {1, 2, 3, 5};
	kq_qstats st;

	/* sum x^2 = 30, sum err^2 = 1: mse 1/4, sqnr 10 log10 30 = 14.7712125472 dB. */
	kq_qstats_compute(x, y, 4, 1, &st);
	ok(st.mse == 0.25 && fabs(st.sqnr_db - 14.771212547196624) < 1e-12 && st.clipped == 0.25,
	   "stats: mse 0.25, sqnr 14.7712 dB, clipped 1/4 (got %.17g)", st.sqnr_db);
	kq_qstats_compute(x, x, 4, 0, &st);
	ok(st.mse == 0.0 && isinf(st.sqnr_db) && st.sqnr_db > 0, "stats: exact gives +inf dB");
	const float z[2] = {0, 0}, e[2] = {0, 0.5f};
	kq_qstats_compute(z, e, 2, 0, &st);
	ok(st.mse == 0.125 && isinf(st.sqnr_db) && st.sqnr_db < 0,
	   "stats: zero signal with error gives -inf dB");
	kq_qstats_compute(z, z, 0, 0, &st);
	ok(st.mse == 0.0 && !isnan(st.sqnr_db) && st.clipped == 0.0, "stats: n = 0 gives no NaN");
}

static void test_roundtrip(void)
{
	static const kq_qspec specs[] = {
		{8, 1, 0, KQ_GRAN_TENSOR, 0},  {8, 0, 1, KQ_GRAN_CHANNEL, 0}, {8, 0, 0, KQ_GRAN_GROUP, 64},
		{4, 1, 0, KQ_GRAN_GROUP, 32},  {4, 0, 1, KQ_GRAN_CHANNEL, 0}, {4, 1, 1, KQ_GRAN_TENSOR, 0},
		{8, 1, 1, KQ_GRAN_GROUP, 128}, {4, 0, 0, KQ_GRAN_GROUP, 256},
	};
	enum { R = 5, C = 301 };
	static float x[R * C], y[R * C], d[R * C];
	static uint8_t q[R * C];
	kq_qparams p[R * 10];
	uint32_t seed = 7;
	for (int i = 0; i < R * C; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = ((float)(seed >> 8) * 0x1p-24f - 0.3f) * (float)(1 + i % 7);
	}
	int good = 1;
	for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
		size_t c1 = 0, c2 = 0, at;
		good &= kq_qparams_minmax(x, R, C, &specs[k], p) == KQ_OK &&
			kq_quantize(x, R, C, &specs[k], p, q, &c1) == KQ_OK &&
			kq_dequantize(q, R, C, &specs[k], p, d) == KQ_OK &&
			kq_fake_quant(x, R, C, &specs[k], p, y, &c2) == KQ_OK &&
			same_bits(d, y, R * C, &at) && c1 == c2;
	}
	ok(good, "dequantize(quantize(x)) == fake_quant(x) bit for bit on 8 specs, %d x %d", R, C);

	memcpy(y, x, sizeof y);
	kq_qparams_minmax(x, R, C, &specs[2], p);
	kq_fake_quant(x, R, C, &specs[2], p, d, NULL);
	size_t at;
	ok(kq_fake_quant(y, R, C, &specs[2], p, y, NULL) == KQ_OK && same_bits(y, d, R * C, &at),
	   "fake quant in place (y == x) equals out of place");

	/* The 4-bit unsigned values stay in [0, 15], signed in [-8, 7]. */
	int inrange = 1;
	kq_qparams_minmax(x, R, C, &specs[4], p);
	kq_quantize(x, R, C, &specs[4], p, q, NULL);
	for (int i = 0; i < R * C; i++)
		inrange &= q[i] <= 15;
	kq_qparams_minmax(x, R, C, &specs[7], p);
	kq_quantize(x, R, C, &specs[7], p, q, NULL);
	for (int i = 0; i < R * C; i++)
		inrange &= (int8_t)q[i] >= -8 && (int8_t)q[i] <= 7;
	ok(inrange, "4-bit codes stay within their ranges");
}

int main(void)
{
	test_fixtures();
	test_ranges();
	test_degenerate_ranges();
	test_params_guard();
	test_clip_counts();
	test_groups();
	test_stats();
	test_roundtrip();
	return tap_done();
}
