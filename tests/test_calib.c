/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_calib.c - calibration observers against numpy, and by hand.
 *
 * The main oracle is tests/golden/calib_fixtures.txt, written by
 * tools/gen_calib_fixtures.py (definitions and format in its header): seeded
 * tensors and, for each, the ranges that an independent numpy
 * implementation derives from the same 2048-bin histograms, the entropy
 * one transcribed from MXNet/TVM's _get_optimal_threshold.  Tolerances:
 *   minmax      bit for bit;
 *   percentile  1% of a bin width (the histograms are binned identically,
 *               so only float rounding of the result is left), and within
 *               one bin width of numpy.percentile on the raw data;
 *   entropy     the same threshold bin exactly, the range to float rounding;
 *   mse         the same candidate ratio (candidates lie 1% of the range
 *               apart; the tolerance is a thousandth of that).
 * The rest are hand-checked: minmax with non-finite values, percentiles of a
 * ramp, the method parser and formatter, degenerate observers, and
 * eng_mse_clip with and without an outlier.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_calib.h"
#include "tap.h"

static float from_bits(uint32_t b)
{
	float x;
	memcpy(&x, &b, sizeof x);
	return x;
}

static uint32_t bits_of(float x)
{
	uint32_t b;
	memcpy(&b, &x, sizeof b);
	return b;
}

/* Both passes over x, fed in uneven chunks so that accumulation across
 * eng_obs_add calls is exercised too. */
static void observe(eng_observer *o, const float *x, size_t n)
{
	eng_obs_init(o);
	for (int pass = 1; pass <= 2; pass++) {
		size_t at = 0, chunk = 1;
		while (at < n) {
			size_t k = chunk < n - at ? chunk : n - at;
			eng_obs_add(o, x + at, k);
			at += k;
			chunk = chunk * 3 + 1;
		}
		if (pass == 1)
			eng_obs_next_pass(o);
	}
}

static eng_cal_method method(eng_cal_kind kind, double pct)
{
	eng_cal_method m = {kind, pct};
	return m;
}

/* --------------------------------------------------------- fixtures */

#define MAX_LINES 16

typedef struct {
	double a, b, c, d; /* the numbers of one result line, in file order */
	double lo, hi;
} line;

typedef struct {
	char name[64];
	size_t n;
	float *x;
	uint32_t lo_bits, hi_bits;
	int has_minmax;
	line pct[MAX_LINES], nppct[MAX_LINES], ent[MAX_LINES], mse[MAX_LINES];
	int npct, nnppct, nent, nmse;
} fixture;

/* Reads the next tensor; 1 on success, 0 at the end, -1 on a syntax error. */
static int read_tensor(FILE *f, fixture *fx)
{
	char tok[64];

	memset(fx, 0, sizeof *fx);
	for (;;) {
		if (fscanf(f, "%63s", tok) != 1)
			return fx->n ? -1 : 0;
		if (tok[0] == '#') {
			int ch;
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
			continue;
		}
		line *l;
		if (strcmp(tok, "tensor") == 0) {
			if (fscanf(f, "%63s %zu", fx->name, &fx->n) != 2 || !fx->n)
				return -1;
		} else if (strcmp(tok, "x") == 0 && fx->n && !fx->x) {
			fx->x = malloc(fx->n * sizeof *fx->x);
			for (size_t i = 0; i < fx->n; i++) {
				unsigned u;
				if (!fx->x || fscanf(f, "%x", &u) != 1)
					return -1;
				fx->x[i] = from_bits(u);
			}
		} else if (strcmp(tok, "minmax") == 0) {
			if (fscanf(f, "%x %x", &fx->lo_bits, &fx->hi_bits) != 2)
				return -1;
			fx->has_minmax = 1;
		} else if (strcmp(tok, "pct") == 0 && fx->npct < MAX_LINES) {
			l = &fx->pct[fx->npct++];
			if (fscanf(f, "%lf %lf %lf %lf", &l->a, &l->b, &l->lo, &l->hi) != 4)
				return -1;
		} else if (strcmp(tok, "nppct") == 0 && fx->nnppct < MAX_LINES) {
			l = &fx->nppct[fx->nnppct++];
			if (fscanf(f, "%lf %lf %lf", &l->a, &l->lo, &l->hi) != 3)
				return -1;
		} else if (strcmp(tok, "entropy") == 0 && fx->nent < MAX_LINES) {
			l = &fx->ent[fx->nent++];
			if (fscanf(f, "%lf %lf %lf %lf %lf %lf", &l->a, &l->b, &l->c, &l->d, &l->lo, &l->hi) != 6)
				return -1;
		} else if (strcmp(tok, "mse") == 0 && fx->nmse < MAX_LINES) {
			l = &fx->mse[fx->nmse++];
			if (fscanf(f, "%lf %lf %lf %lf %lf", &l->a, &l->b, &l->c, &l->lo, &l->hi) != 5)
				return -1;
		} else if (strcmp(tok, "end") == 0) {
			return fx->x && fx->has_minmax && fx->npct && fx->nent && fx->nmse ? 1 : -1;
		} else {
			return -1;
		}
	}
}

static int near(double got, double want, double tol)
{
	return fabs(got - want) <= tol;
}

static void check_fixture(const fixture *fx)
{
	const char *nm = fx->name;
	eng_observer *o = malloc(sizeof *o);
	eng_cal_method mm = method(ENG_CAL_MINMAX, 0);
	float lo, hi;
	size_t finite = 0;

	if (!o) {
		ok(0, "%s: allocate an observer", nm);
		return;
	}
	for (size_t i = 0; i < fx->n; i++)
		finite += isfinite(fx->x[i]) != 0;
	observe(o, fx->x, fx->n);

	eng_obs_range(o, &mm, 255, 0, &lo, &hi);
	ok(bits_of(lo) == fx->lo_bits && bits_of(hi) == fx->hi_bits, "%s: minmax [%a, %a] bit-exact", nm,
	   from_bits(fx->lo_bits), from_bits(fx->hi_bits));
	double hs = 0, as = 0;
	for (int k = 0; k < ENG_HIST_BINS; k++)
		hs += o->hist[k], as += o->ahist[k];
	ok(o->n == (double)finite && hs == o->n && as == o->n, "%s: %zu finite values counted once in each histogram", nm,
	   finite);

	double dlo = from_bits(fx->lo_bits), dhi = from_bits(fx->hi_bits);
	double amax = fmax(fabs(dlo), fabs(dhi));
	double sbw = (dhi - dlo) / ENG_HIST_BINS, abw = amax / ENG_HIST_BINS;
	int constant = !(dhi > dlo);

	for (int i = 0; i < fx->npct; i++) {
		const line *l = &fx->pct[i];
		eng_cal_method m = method(ENG_CAL_PERCENTILE, l->a);
		int sym = (int)l->b;
		double tol = 0.01 * (sym ? abw : sbw);
		eng_obs_range(o, &m, 255, sym, &lo, &hi);
		int good = near(lo, l->lo, tol) && near(hi, l->hi, tol);
		ok(good, "%s: percentile:%g %s = [%.9g, %.9g] (numpy, to 1%% of a bin)", nm, l->a,
		   sym ? "symmetric" : "asymmetric", l->lo, l->hi);
		if (!good)
			diag("got [%.9g, %.9g], off by %.3g / %.3g bin widths", lo, hi, (lo - l->lo) / (tol * 100),
			     (hi - l->hi) / (tol * 100));
	}
	for (int i = 0; i < fx->nnppct && !constant; i++) {
		const line *l = &fx->nppct[i];
		eng_cal_method m = method(ENG_CAL_PERCENTILE, l->a);
		eng_obs_range(o, &m, 255, 0, &lo, &hi);
		int good = near(lo, l->lo, sbw) && near(hi, l->hi, sbw);
		ok(good, "%s: percentile:%g within a bin width (%.3g) of numpy.percentile on the raw data", nm, l->a, sbw);
		if (!good)
			diag("got [%.9g, %.9g], numpy [%.9g, %.9g]", lo, hi, l->lo, l->hi);
	}
	for (int i = 0; i < fx->nent; i++) {
		const line *l = &fx->ent[i];
		eng_cal_method m = method(ENG_CAL_ENTROPY, 0);
		int levels = (int)l->a, sym = (int)l->b;
		eng_obs_range(o, &m, levels, sym, &lo, &hi);
		/* the threshold is on the side that reaches amax, the other side
		 * may be clamped to the observed range */
		double t = fmax(-(double)lo, hi);
		long bin = amax > 0 ? lround(t * ENG_HIST_BINS / amax) : 0;
		int good = bin == (long)l->d && near(lo, l->lo, 1e-6 * amax) && near(hi, l->hi, 1e-6 * amax);
		ok(good, "%s: entropy, %d levels %s (%g bins): threshold bin %g, [%.9g, %.9g]", nm, levels,
		   sym ? "symmetric" : "asymmetric", l->c, l->d, l->lo, l->hi);
		if (!good)
			diag("got bin %ld, [%.9g, %.9g]", bin, lo, hi);
	}
	for (int i = 0; i < fx->nmse; i++) {
		const line *l = &fx->mse[i];
		eng_cal_method m = method(ENG_CAL_MSE, 0);
		int levels = (int)l->a, sym = (int)l->b;
		double tol = 1e-5 * fmax(amax, fmax(-dlo, dhi));
		eng_obs_range(o, &m, levels, sym, &lo, &hi);
		int good = near(lo, l->lo, tol) && near(hi, l->hi, tol);
		ok(good, "%s: mse, %d levels %s: clip %g%% = [%.9g, %.9g]", nm, levels, sym ? "symmetric" : "asymmetric",
		   l->c, l->lo, l->hi);
		if (!good)
			diag("got [%.9g, %.9g]", lo, hi);
	}
	free(o);
}

static void test_fixtures(void)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/golden/calib_fixtures.txt", top && *top ? top : ".");
	FILE *f = fopen(path, "r");
	if (!f) {
		ok(0, "open %s (set top_srcdir to the source tree)", path);
		return;
	}
	fixture fx;
	int rc, ntensors = 0;
	while ((rc = read_tensor(f, &fx)) == 1) {
		check_fixture(&fx);
		free(fx.x);
		ntensors++;
	}
	free(fx.x);
	fclose(f);
	ok(rc == 0 && ntensors >= 8, "fixture file parsed to the end: %d tensors", ntensors);
}

/* ----------------------------------------------------- hand-checked */

static void test_minmax(void)
{
	const float x[] = {0.5f, NAN, -3.25f, INFINITY, 7.0f, -INFINITY, 1e-30f, -0.0f};
	eng_observer *o = malloc(sizeof *o);
	eng_cal_method mm = method(ENG_CAL_MINMAX, 0);
	float lo, hi;

	observe(o, x, sizeof x / sizeof *x);
	eng_obs_range(o, &mm, 255, 1, &lo, &hi);
	ok(lo == -3.25f && hi == 7.0f, "minmax skips NaN and +-inf: [%g, %g]", lo, hi);
	ok(o->n == 5, "only the 5 finite values are counted (n = %g)", o->n);

	/* pass 1 alone already gives the range */
	eng_obs_init(o);
	eng_obs_add(o, x, 3);
	eng_obs_range(o, &mm, 255, 0, &lo, &hi);
	ok(lo == -3.25f && hi == 0.5f, "minmax is known after pass 1: [%g, %g]", lo, hi);
	free(o);
}

/* 0, 1, ..., 2047: bin width 2047/2048 puts value k alone in bin k, so the
 * interpolated quantile at q is exactly q * 2047 (the running count reaches
 * q * 2048 a fraction of the way into bin floor(q * 2048)). */
static void test_percentile_ramp(void)
{
	enum { N = 2048 };
	float *x = malloc(N * sizeof *x);
	eng_observer *o = malloc(sizeof *o);
	float lo, hi;

	for (int k = 0; k < N; k++)
		x[k] = (float)k;
	observe(o, x, N);
	int one_each = 1;
	for (int k = 0; k < ENG_HIST_BINS; k++)
		one_each &= o->hist[k] == 1;
	ok(one_each, "ramp: one value in each of the %d bins", ENG_HIST_BINS);

	static const double pcts[] = {99.9, 99.99, 90, 75.5, 100};
	for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
		eng_cal_method m = method(ENG_CAL_PERCENTILE, pcts[i]);
		double q = pcts[i] / 100, want_hi = q * 2047, want_lo = (1 - q) * 2047;
		eng_obs_range(o, &m, 255, 0, &lo, &hi);
		ok(near(lo, want_lo, 1e-3) && near(hi, want_hi, 1e-3),
		   "ramp: percentile:%g asymmetric = [%.4f, %.4f], got [%.4f, %.4f]", pcts[i], want_lo, want_hi, lo, hi);
		eng_obs_range(o, &m, 255, 1, &lo, &hi);
		ok(lo == 0 && near(hi, want_hi, 1e-3), "ramp: percentile:%g symmetric = [0, %.4f] (|x| = x), got [%g, %.4f]",
		   pcts[i], want_hi, lo, hi);
	}

	/* A ramp centred on zero: the signed quantiles are -1 + 2q. */
	for (int k = 0; k < N; k++)
		x[k] = (float)((k - 1023.5) / 1023.5);
	observe(o, x, N);
	eng_cal_method m = method(ENG_CAL_PERCENTILE, 99);
	eng_obs_range(o, &m, 255, 0, &lo, &hi);
	ok(near(lo, -0.98, 1e-5) && near(hi, 0.98, 1e-5), "centred ramp: percentile:99 = [-0.98, 0.98], got [%.6f, %.6f]",
	   lo, hi);
	free(x);
	free(o);
}

static void test_parse(void)
{
	static const struct {
		const char *s;
		eng_cal_kind kind;
		double pct;
	} good[] = {
		{"minmax", ENG_CAL_MINMAX, 0},
		{"entropy", ENG_CAL_ENTROPY, 0},
		{"mse", ENG_CAL_MSE, 0},
		{"percentile:99.99", ENG_CAL_PERCENTILE, 99.99},
		{"percentile:100", ENG_CAL_PERCENTILE, 100},
		{"percentile:50.5", ENG_CAL_PERCENTILE, 50.5},
		{"percentile:.9999e2", ENG_CAL_PERCENTILE, 99.99},
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		eng_cal_method m = {ENG_CAL_COUNT, -1};
		char err[256] = "";
		int rc = eng_cal_parse(good[i].s, &m, err, sizeof err);
		ok(rc == 0 && m.kind == good[i].kind && m.pct == good[i].pct, "parse '%s'", good[i].s);
		if (rc)
			diag("%s", err);
	}

	/* Each bad spelling, with a word its message must contain. */
	static const struct {
		const char *s, *says;
	} bad[] = {
		{"", "no calibration method"},
		{"minmaxx", "not one of minmax, percentile:P, entropy, mse"},
		{"min", "not one of"},
		{"MSE", "not one of"},
		{"kl", "not one of"},
		{"percentile", "needs a percentile P in (50, 100]"},
		{"percentile:", "needs a percentile"},
		{"percentile:50", "outside (50, 100]"},
		{"percentile:100.5", "outside (50, 100]"},
		{"percentile:abc", "'abc' is not a number"},
		{"percentile: 99", "is not a number"},
		{"percentile:99.9x", "is not a number"},
		{"percentile:nan", "is not a number"},
		{"percentile:inf", "is not a number"},
		{"percentile:-99", "outside (50, 100]"},
		{"percentile:-inf", "is not a number"},
		{"entropy:128", "entropy takes no parameter"},
		{"minmax:", "minmax takes no parameter"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		eng_cal_method m = {ENG_CAL_MSE, 42};
		char err[256] = "";
		int rc = eng_cal_parse(bad[i].s, &m, err, sizeof err);
		ok(rc == -1 && strstr(err, bad[i].says) && m.kind == ENG_CAL_MSE && m.pct == 42,
		   "reject '%s': \"%s\"", bad[i].s, err);
	}
	eng_cal_method m;
	ok(eng_cal_parse(NULL, &m, NULL, 0) == -1 && eng_cal_parse("bogus", &m, NULL, 0) == -1,
	   "parse NULL, and with no room for a message");
	char small[16];
	ok(eng_cal_parse("percentile:20", &m, small, sizeof small) == -1 && strlen(small) == sizeof small - 1,
	   "a long message is truncated to the buffer");

	/* eng_cal_format writes what eng_cal_parse reads back */
	static const double pcts[] = {99.99, 99.9, 100, 99.999999, 50.000000000001, 99.123456789012345};
	for (size_t i = 0; i < sizeof pcts / sizeof *pcts; i++) {
		eng_cal_method in = method(ENG_CAL_PERCENTILE, pcts[i]), back = {ENG_CAL_COUNT, 0};
		char buf[64];
		eng_cal_format(&in, buf, sizeof buf);
		ok(eng_cal_parse(buf, &back, NULL, 0) == 0 && back.kind == in.kind && back.pct == in.pct,
		   "format percentile %.17g as '%s' and parse it back", pcts[i], buf);
	}
	char buf[64];
	eng_cal_method p = method(ENG_CAL_PERCENTILE, 99.99), e = method(ENG_CAL_ENTROPY, 0), x = method(ENG_CAL_COUNT, 0);
	eng_cal_format(&p, buf, sizeof buf);
	ok(strcmp(buf, "percentile:99.99") == 0, "format percentile:99.99 canonically: '%s'", buf);
	p.pct = 100;
	eng_cal_format(&p, buf, sizeof buf);
	ok(strcmp(buf, "percentile:100") == 0, "format percentile:100 without an exponent: '%s'", buf);
	eng_cal_format(&e, buf, sizeof buf);
	ok(strcmp(buf, "entropy") == 0, "format entropy: '%s'", buf);
	eng_cal_format(&x, buf, sizeof buf);
	ok(strcmp(buf, "?") == 0, "format an out-of-range kind as '?'");
}

/* Every method on a degenerate observer gives a finite lo <= hi: `want`
 * when the range is known exactly, else just sane. */
static void check_all_methods(const eng_observer *o, const char *what, int exact, float want_lo, float want_hi)
{
	static const eng_cal_method ms[] = {
		{ENG_CAL_MINMAX, 0}, {ENG_CAL_PERCENTILE, 99.9}, {ENG_CAL_PERCENTILE, 100},
		{ENG_CAL_ENTROPY, 0}, {ENG_CAL_MSE, 0},
	};
	static const int levels[] = {255, 15, 1, 0};
	int good = 1;
	char bad[160] = "";
	for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
		for (size_t j = 0; j < sizeof levels / sizeof *levels; j++)
			for (int sym = 0; sym <= 1; sym++) {
				float lo = NAN, hi = NAN;
				eng_obs_range(o, &ms[i], levels[j], sym, &lo, &hi);
				int g = isfinite(lo) && isfinite(hi) && lo <= hi &&
					(!exact || (lo == want_lo && hi == want_hi));
				if (!g && good) {
					char name[32];
					eng_cal_format(&ms[i], name, sizeof name);
					snprintf(bad, sizeof bad, "%s, %d levels, sym %d: [%g, %g]", name, levels[j], sym, lo, hi);
				}
				good &= g;
			}
	if (exact)
		ok(good, "%s: every method gives [%g, %g]", what, want_lo, want_hi);
	else
		ok(good, "%s: every method gives a finite lo <= hi", what);
	if (!good)
		diag("%s", bad);
}

static void test_degenerate(void)
{
	eng_observer *o = malloc(sizeof *o);
	float v[1024];

	eng_obs_init(o);
	check_all_methods(o, "a fresh observer (pass 1, nothing seen)", 1, 0, 0);
	eng_obs_next_pass(o);
	check_all_methods(o, "an empty observer in pass 2", 1, 0, 0);
	ok(o->n == 0, "empty observer: n = 0");

	eng_obs_add(o, NULL, 0);
	ok(o->n == 0, "adding zero values (NULL) changes nothing");

	for (int i = 0; i < 1024; i++)
		v[i] = 0;
	observe(o, v, 1024);
	check_all_methods(o, "all zeros", 1, 0, 0);

	for (int i = 0; i < 1024; i++)
		v[i] = 3.5f;
	observe(o, v, 1024);
	check_all_methods(o, "constant 3.5", 1, 3.5f, 3.5f);
	for (int i = 0; i < 1024; i++)
		v[i] = -0.25f;
	observe(o, v, 1024);
	check_all_methods(o, "constant -0.25", 1, -0.25f, -0.25f);

	v[0] = -2;
	observe(o, v, 1);
	check_all_methods(o, "one value", 1, -2, -2);

	for (int i = 0; i < 1024; i++)
		v[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
	observe(o, v, 1024);
	check_all_methods(o, "only NaN and inf", 1, 0, 0);
	ok(o->n == 0, "only NaN and inf: nothing counted");

	for (int i = 0; i < 1024; i++)
		v[i] = i % 2 ? NAN : i % 4 ? INFINITY : (float)(i % 7) - 2.0f;
	observe(o, v, 1024);
	check_all_methods(o, "half NaN, a quarter inf, the rest in [-2, 4]", 0, 0, 0);
	ok(o->n == 256, "mixed: the 256 finite values counted (n = %g)", o->n);

	v[0] = -3e38f, v[1] = 3e38f, v[2] = 1e-38f, v[3] = -1e-45f;
	observe(o, v, 4);
	check_all_methods(o, "values near FLT_MAX and denormals", 0, 0, 0);

	v[0] = 0, v[1] = 1;
	observe(o, v, 2);
	check_all_methods(o, "two values {0, 1}", 0, 0, 0);

	/* pass 2 without data: the histogram methods fall back to minmax */
	eng_obs_init(o);
	v[0] = -1, v[1] = 2;
	eng_obs_add(o, v, 2);
	eng_obs_next_pass(o);
	check_all_methods(o, "pass 2 without data", 1, -1, 2);

	/* a hand-made method with a percentile outside (50, 100] */
	for (int i = 0; i < 1024; i++)
		v[i] = (float)i;
	observe(o, v, 1024);
	eng_cal_method odd[] = {{ENG_CAL_PERCENTILE, 10}, {ENG_CAL_PERCENTILE, NAN}, {ENG_CAL_PERCENTILE, 250},
				{(eng_cal_kind)77, 0}};
	int good = 1;
	for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
		for (int sym = 0; sym <= 1; sym++) {
			float lo, hi;
			eng_obs_range(o, &odd[i], 255, sym, &lo, &hi);
			good &= isfinite(lo) && isfinite(hi) && lo <= hi && lo >= 0 && hi <= 1023;
		}
	ok(good, "out-of-range percentiles and kinds still give a sane range");

	/* Values exactly on a bin's left edge belong to that bin, as in
	 * numpy.histogram, even where (v - lo) * 2048 / (hi - lo) rounds to
	 * just below the edge's index (0.9999999999999999 and
	 * 15.999999999999998 here; found by search, checked with numpy). */
	v[0] = 0, v[1] = 0.104766845703125f, v[2] = 214.5625f;
	observe(o, v, 3);
	ok(o->hist[1] == 1 && o->ahist[1] == 1, "a value on the left edge of bin 1 is in bin 1");
	v[0] = -4.875f, v[1] = -3.082226514816284f, v[2] = 224.60000610351562f;
	observe(o, v, 3);
	ok(o->hist[16] == 1, "a value on the left edge of bin 16 is in bin 16");
	/* -2^-30 - (-1) is 1 - 2^-30 in double but rounds to 1 in float, the
	 * edge of bin 1024: binning must subtract in double. */
	v[0] = -1, v[1] = -0x1p-30f, v[2] = 1;
	observe(o, v, 3);
	ok(o->hist[1023] == 1 && o->hist[1024] == 0, "-2^-30 on [-1, 1] is in bin 1023, below the edge at 0");

	/* Values outside the pass-1 range land in the end bins, not lost. */
	eng_obs_init(o);
	v[0] = 0, v[1] = 1;
	eng_obs_add(o, v, 2);
	eng_obs_next_pass(o);
	v[2] = -5, v[3] = 9, v[4] = 0.5f;
	eng_obs_add(o, v, 5);
	ok(o->n == 5 && o->hist[0] == 2 && o->hist[ENG_HIST_BINS - 1] == 2 && o->ahist[ENG_HIST_BINS - 1] == 3,
	   "pass-2 values outside the pass-1 range count in the end bins");
	free(o);
}

/* A bell on [-2, 2] (sum of four uniforms) from a fixed LCG. */
static void bell(float *x, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		double a = 0;
		for (int k = 0; k < 4; k++) {
			seed = seed * 1664525u + 1013904223u;
			a += (seed >> 8) / 16777216.0 - 0.5;
		}
		x[i] = (float)a;
	}
}

/* Entropy on a tensor whose bulk is far below one outlier: the threshold
 * must clip the outlier (TensorRT's point), and lies on a bin edge.  The
 * bulk spans 41 of the 2048 bins and 128 quantized bins is the least a
 * candidate keeps, so the threshold cannot go below 128/2048 of 100; the
 * candidates up to 255 bins all reproduce the bulk exactly and differ only
 * through the smoothing, where the reference picks 255 (numpy, run on
 * this same data: bin 255, runner-up 3e-6 relative behind). */
static void test_entropy_clips_outlier(void)
{
	enum { N = 4000 };
	float *x = malloc(N * sizeof *x);
	eng_observer *o = malloc(sizeof *o);
	eng_cal_method m = method(ENG_CAL_ENTROPY, 0);
	float lo, hi;

	bell(x, N, 12345);
	x[17] = 100;
	observe(o, x, N);
	eng_obs_range(o, &m, 255, 1, &lo, &hi);
	double bin = hi * ENG_HIST_BINS / 100.0;
	ok(lo == o->lo && hi < 25 && hi >= 6.25, "entropy clips a lone outlier at 100: [%g, %g]", lo, hi);
	ok(fabs(bin - nearbyint(bin)) < 1e-3 && nearbyint(bin) == 255, "entropy threshold on the edge of bin 255 (%.4f)",
	   bin);
	free(x);
	free(o);
}

static void test_mse_clip(void)
{
	enum { N = 4096 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	uint32_t s = 777;

	/* Uniform on [-1, 1]: with 255 steps the rounding error saved by
	 * clipping to 0.99 (2% of 5.1e-6) is less than the clipping error it
	 * adds (3.3e-7), so no clipping; with 15 steps the continuous optimum
	 * is about 0.95. */
	for (int i = 0; i < N; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)((s >> 8) / 16777216.0 * 2 - 1);
	}
	float r8 = eng_mse_clip(x, N, 255, 1), r4 = eng_mse_clip(x, N, 15, 0);
	ok(r8 == 1, "mse clip of a uniform tensor, 8-bit: %g (no clipping)", r8);
	ok(r4 >= 0.9f && r4 <= 1, "mse clip of a uniform tensor, 4-bit: %g (little)", r4);

	/* A bell with one outlier 15x its reach. */
	bell(x, N, s);
	x[100] = 30;
	r8 = eng_mse_clip(x, N, 255, 1);
	r4 = eng_mse_clip(x, N, 15, 1);
	ok(r8 < 1, "mse clip with one outlier, 8-bit symmetric: %g < 1", r8);
	ok(r4 < 0.5f && r4 >= 0.1f, "mse clip with one outlier, 4-bit symmetric: %g, deep", r4);
	/* Asymmetric candidates scale both ends by the same ratio, so on this
	 * two-signed bulk clipping the outlier would clip the bulk's negative
	 * side as hard: no ratio below 1 pays.  A one-signed bulk clips. */
	float ra = eng_mse_clip(x, N, 255, 0);
	ok(ra == 1, "mse clip asymmetric, outlier on a two-signed bulk: %g", ra);
	for (int i = 0; i < N; i++)
		y[i] = fabsf(x[i]);
	ra = eng_mse_clip(y, N, 255, 0);
	ok(ra < 1, "mse clip asymmetric, outlier on a one-signed bulk: %g < 1", ra);

	/* Non-finite values are left out, as if they were not there. */
	size_t m = 0;
	for (int i = 0; i < N; i++)
		if (i != 200 && i != 300 && i != 400)
			y[m++] = x[i];
	float want = eng_mse_clip(y, m, 15, 1);
	x[200] = NAN, x[300] = INFINITY, x[400] = -INFINITY;
	float rn = eng_mse_clip(x, N, 15, 1);
	ok(rn == want, "mse clip ignores NaN and inf: %g (without them %g)", rn, want);

	float z[8] = {0};
	float nf[3] = {NAN, INFINITY, -INFINITY};
	ok(eng_mse_clip(z, 8, 255, 1) == 1 && eng_mse_clip(NULL, 0, 255, 1) == 1 && eng_mse_clip(nf, 3, 255, 0) == 1 &&
		   eng_mse_clip(x, N, 0, 1) == 1,
	   "mse clip of zeros, nothing, only non-finite, or 0 levels is 1");
	free(x);
	free(y);
}

int main(void)
{
	test_fixtures();
	test_minmax();
	test_percentile_ramp();
	test_parse();
	test_degenerate();
	test_entropy_clips_outlier();
	test_mse_clip();
	return tap_done();
}
