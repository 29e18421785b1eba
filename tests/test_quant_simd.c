/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_quant_simd.c - every quantize/fake-quant variant against `_ref`.
 *
 * For each ISA this CPU runs (the others are skipped), kq_quantize_isa and
 * kq_fake_quant_isa must equal the reference loops bit for bit: the int8 or
 * uint8 codes, the fake-quant floats (sign of zero included), the clipped
 * counts and the return codes.  The data is built to hit every corner of
 * the vector code: exact .5 ties after the reciprocal multiply and their
 * neighbours, NaN of both signs and payloads, +-inf, +-FLT_MAX, products
 * beyond the int32 range, denormals, -0.0, values clipping at both ends,
 * on odd sizes (partial vectors and masked tails) in all granularities,
 * 8 and 4 bits, signed and unsigned, symmetric and asymmetric.  The ref
 * row itself is checked against the formula of kq.h written out here.
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kq.h"
#include "quant_impl.h"
#include "tap.h"
#include "testutil.h"

static const int sizes[] = {1, 3, 7, 15, 16, 17, 33, 63, 64, 65, 257, 1000};
#define NSIZES (int)(sizeof sizes / sizeof *sizes)
static const int groups[] = {32, 64, 128, 256};

/* ------------------------------------------------------------ helpers */

static uint64_t rng = 1;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static float rndf(void)
{
	return (float)(rnd() & 0xffffff) / 16777216.0f;
}


/* Index of the first differing float (bitwise), or -1. */
static long diff_bits(const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (bits_of(a[i]) != bits_of(b[i]))
			return (long)i;
	return -1;
}

/* ------------------------------------------------------------- cases */

typedef struct {
	kq_qspec spec;
	int rows, cols, qmin, qmax;
	size_t n, np, ngroups;
	kq_qparams *p;
	float *x;
} tcase;

static size_t slice_of(const tcase *t, size_t i)
{
	size_t r = i / (size_t)t->cols, c = i % (size_t)t->cols;
	switch (t->spec.gran) {
	case KQ_GRAN_TENSOR: return 0;
	case KQ_GRAN_CHANNEL: return r;
	default: return r * t->ngroups + c / (size_t)t->spec.group;
	}
}

/* Scales that give exact ties (powers of two), inexact reciprocals, the
 * smallest normal (inv = 2^126) and one whose reciprocal is denormal. */
static float pick_scale(void)
{
	static const float s[] = {0.125f, 0.1f, 0.0375f, 1.0f / 3.0f, 2.5f, 7.0f,
				  1e-3f, FLT_MIN, 3e38f, 0.5f, 0.02f};
	return s[rnd() % (sizeof s / sizeof *s)];
}

static long nties;

/* A value x with x * inv == t exactly when one exists near t / inv. */
static float value_for(float t, float scale, float inv)
{
	float x0 = t * scale, x = x0;
	for (int k = 0; k < 5; k++, x = nextafterf(x, INFINITY))
		if (x * inv == t) {
			nties++;
			return x;
		}
	x = x0;
	for (int k = 0; k < 5; k++, x = nextafterf(x, -INFINITY))
		if (x * inv == t) {
			nties++;
			return x;
		}
	return x0;
}

static float pick_value(const kq_qparams *p, int qmin, int qmax)
{
	static const uint32_t special[] = {
		0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, /* NaNs: quiet, signalling, signs */
		0x7f800000, 0xff800000,                         /* +-inf */
		0x7f7fffff, 0xff7fffff,                         /* +-FLT_MAX */
		0x00000001, 0x80000001, 0x000b3f00, 0x807fffff, /* denormals */
		0x00800000, 0x80800000, 0x00000000, 0x80000000, /* +-FLT_MIN, +-0 */
	};
	float scale = p->scale, inv = 1.0f / scale;
	float lo = (float)(qmin - p->zero_point), hi = (float)(qmax - p->zero_point);
	float k = floorf(lo) - 3.0f + (float)(rnd() % (unsigned)(hi - lo + 7.0f));
	switch (rnd() % 12) {
	case 0:
	case 1: /* an exact tie after scaling, inside or just outside the range */
		return value_for(k + 0.5f, scale, inv);
	case 2: { /* one ulp either side of a tie */
		float x = value_for(k + 0.5f, scale, inv);
		return nextafterf(x, rnd() & 1 ? INFINITY : -INFINITY);
	}
	case 3: /* clips at one end or the other */
		return (rnd() & 1 ? hi + 1.0f + rndf() * 300.0f : lo - 1.0f - rndf() * 300.0f) * scale;
	case 4:
		return from_bits(special[rnd() % (sizeof special / sizeof *special)]);
	case 5: { /* products near 2^24 and beyond the int32 range */
		static const float m[] = {16777215.0f, 16777216.0f, 16777217.0f, 2147483520.0f,
					  2147483648.0f, 3e9f, 1e20f};
		float v = m[rnd() % (sizeof m / sizeof *m)] * scale;
		return rnd() & 1 ? v : -v;
	}
	case 6: /* integers exactly on the range ends and zero */
		return (rnd() % 3 == 0 ? lo : rnd() & 1 ? hi : 0.0f) * scale;
	default: /* ordinary data inside the range */
		return (lo + rndf() * (hi - lo)) * scale;
	}
}

/* A tensor of n values (n = sizes[si]) for spec, reproducible from seed. */
static int make_case(tcase *t, const kq_qspec *spec, int si, uint64_t seed)
{
	int n = sizes[si];
	memset(t, 0, sizeof *t);
	t->spec = *spec;
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	switch (spec->gran) {
	case KQ_GRAN_TENSOR: t->rows = si % 2 ? 1 : 2, t->cols = n; break;
	case KQ_GRAN_CHANNEL: t->rows = 3, t->cols = n; break;
	default:
		t->rows = 2, t->cols = n;
		t->spec.group = groups[si % 4];
	}
	kq_qspec_range(&t->spec, &t->qmin, &t->qmax);
	t->n = (size_t)t->rows * (size_t)t->cols;
	t->np = kq_qspec_nparams(&t->spec, t->rows, t->cols);
	t->ngroups = t->np / (t->spec.gran == KQ_GRAN_TENSOR ? 1 : (size_t)t->rows);
	t->p = malloc(t->np * sizeof *t->p);
	t->x = malloc(t->n * sizeof *t->x);
	if (!t->p || !t->x)
		return -1;
	for (size_t g = 0; g < t->np; g++) {
		t->p[g].scale = pick_scale();
		t->p[g].zero_point = spec->symmetric ? (spec->is_unsigned ? 1 << (spec->bits - 1) : 0)
					: t->qmin + (int32_t)(rnd() % (unsigned)(t->qmax - t->qmin + 1));
	}
	for (size_t i = 0; i < t->n; i++)
		t->x[i] = pick_value(&t->p[slice_of(t, i)], t->qmin, t->qmax);
	return 0;
}

static void free_case(tcase *t)
{
	free(t->p);
	free(t->x);
}

/* kq.h's definition, element by element, for checking the ref row. */
static size_t oracle(const tcase *t, uint8_t *q, float *y)
{
	size_t clipped = 0;
	for (size_t i = 0; i < t->n; i++) {
		const kq_qparams *p = &t->p[slice_of(t, i)];
		float qf = (float)p->zero_point + nearbyintf(t->x[i] * (1.0f / p->scale));
		int v;
		if (qf >= (float)t->qmin && qf <= (float)t->qmax) {
			v = (int)qf;
		} else {
			clipped++;
			v = qf > (float)t->qmax ? t->qmax : t->qmin; /* NaN: qmin */
		}
		q[i] = t->spec.is_unsigned ? (uint8_t)v : (uint8_t)(int8_t)v;
		y[i] = (float)(v - p->zero_point) * p->scale;
	}
	return clipped;
}

/* ------------------------------------------------------------ checks */

typedef struct {
	uint8_t *q0, *q1;
	float *y0, *y1;
} bufs;

/* Compares variant `isa` with the expected results on one case; reports
 * the first difference.  Returns 1 when everything matched. */
static int check_case(int isa, const tcase *t, const char *label, const bufs *b, int *qgood,
		      int *fgood)
{
	size_t c0 = 0, c1 = 0, f0 = 0, f1 = 0;
	int r0, r1, s0, s1;
	const char *name = kq_isa_name(isa);

	memset(b->q1, 0xa5, t->n);
	if (isa == KQ_ISA_REF) {
		c0 = f0 = oracle(t, b->q0, b->y0);
		r0 = s0 = KQ_OK;
	} else {
		r0 = kq_quantize_isa(KQ_ISA_REF, t->x, t->rows, t->cols, &t->spec, t->p, b->q0, &c0);
		s0 = kq_fake_quant_isa(KQ_ISA_REF, t->x, t->rows, t->cols, &t->spec, t->p, b->y0, &f0);
	}
	r1 = kq_quantize_isa(isa, t->x, t->rows, t->cols, &t->spec, t->p, b->q1, &c1);
	s1 = kq_fake_quant_isa(isa, t->x, t->rows, t->cols, &t->spec, t->p, b->y1, &f1);

	if (*qgood && (r0 != r1 || c0 != c1 || memcmp(b->q0, b->q1, t->n) != 0)) {
		size_t i = 0;
		while (i < t->n && b->q0[i] == b->q1[i])
			i++;
		diag("%s quantize %s %dx%d: rc %d/%d clipped %zu/%zu, first diff at %zu "
		     "(x %a: %d vs %d)", name, label, t->rows, t->cols, r0, r1, c0, c1, i,
		     i < t->n ? t->x[i] : 0.0f, i < t->n ? b->q0[i] : 0, i < t->n ? b->q1[i] : 0);
		*qgood = 0;
	}
	long at = diff_bits(b->y0, b->y1, t->n);
	if (*fgood && (s0 != s1 || f0 != f1 || at >= 0)) {
		diag("%s fake quant %s %dx%d: rc %d/%d clipped %zu/%zu, first diff at %ld "
		     "(x %a: %a vs %a)", name, label, t->rows, t->cols, s0, s1, f0, f1, at,
		     at >= 0 ? t->x[at] : 0.0f, at >= 0 ? b->y0[at] : 0.0f, at >= 0 ? b->y1[at] : 0.0f);
		*fgood = 0;
	}
	/* in place (y == x), as the engine calls it */
	memcpy(b->y1, t->x, t->n * sizeof *b->y1);
	f1 = 0;
	s1 = kq_fake_quant_isa(isa, b->y1, t->rows, t->cols, &t->spec, t->p, b->y1, &f1);
	at = diff_bits(b->y0, b->y1, t->n);
	if (*fgood && (s1 != s0 || f1 != f0 || at >= 0)) {
		diag("%s fake quant in place %s %dx%d: first diff at %ld", name, label, t->rows,
		     t->cols, at);
		*fgood = 0;
	}
	return *qgood && *fgood;
}

static void spec_label(const kq_qspec *s, char *buf, size_t len)
{
	static const char *const gran[] = {"tensor", "channel", "group"};
	snprintf(buf, len, "%s %s%d %s", gran[s->gran], s->is_unsigned ? "u" : "s", s->bits,
		 s->symmetric ? "sym" : "asym");
}

/* Every spec and size for one ISA: two points per spec. */
static void check_isa(int isa, const bufs *b)
{
	int specno = 0;
	for (int gran = 0; gran < 3; gran++)
		for (int uns = 0; uns < 2; uns++)
			for (int bits = 8; bits >= 4; bits -= 4)
				for (int sym = 0; sym < 2; sym++, specno++) {
					kq_qspec spec = {bits, sym, uns, (kq_gran)gran, 32};
					char label[64];
					int qgood = 1, fgood = 1;
					spec_label(&spec, label, sizeof label);
					for (int si = 0; si < NSIZES; si++) {
						tcase t;
						if (make_case(&t, &spec, si, (uint64_t)(specno * 100 + si)) == 0)
							check_case(isa, &t, label, b, &qgood, &fgood);
						else
							qgood = fgood = 0;
						free_case(&t);
					}
					ok(qgood, "%s: quantize %s equals %s on 12 sizes", kq_isa_name(isa),
					   label, isa == KQ_ISA_REF ? "kq.h's formula" : "ref");
					ok(fgood, "%s: fake quant %s equals %s on 12 sizes (also in place)",
					   kq_isa_name(isa), label, isa == KQ_ISA_REF ? "kq.h's formula" : "ref");
				}
}

/* The vector rounding follows MXCSR as nearbyintf follows the C rounding
 * mode (both are the same register on x86-64), so variants agree in every
 * mode, not only the default. */
static void check_rounding_modes(int isa, const bufs *b)
{
	static const int modes[] = {FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
	static const char *const names[] = {"downward", "upward", "toward zero"};
	kq_qspec specs[] = {{8, 0, 1, KQ_GRAN_TENSOR, 0}, {4, 1, 0, KQ_GRAN_GROUP, 32}};
	for (int m = 0; m < 3; m++) {
		int good = 1;
		for (int s = 0; s < 2; s++) {
			tcase t;
			int qgood = 1, fgood = 1;
			if (make_case(&t, &specs[s], NSIZES - 1, 7000u + (unsigned)s) != 0) {
				good = 0;
				free_case(&t);
				continue;
			}
			if (fesetround(modes[m]) != 0) {
				good = 0;
			} else {
				check_case(isa, &t, names[m], b, &qgood, &fgood);
				fesetround(FE_TONEAREST);
				good &= qgood && fgood;
			}
			free_case(&t);
		}
		ok(good, "%s: equals ref with rounding %s", kq_isa_name(isa), names[m]);
	}
}

/* Bad parameters fail the same way before anything is written. */
static void check_errors(int isa)
{
	kq_qspec spec = {8, 0, 1, KQ_GRAN_GROUP, 32};
	float x[64], y[64];
	uint8_t q[64];
	size_t c = 77;
	int good = 1;
	for (int i = 0; i < 64; i++)
		x[i] = (float)i, y[i] = -1.0f, q[i] = 0xa5;
	const kq_qparams bad[][2] = {
		{{0.1f, 3}, {0.0f, 3}},             /* zero scale */
		{{0.1f, 3}, {NAN, 3}},              /* NaN scale */
		{{0.1f, 3}, {1e-40f, 3}},           /* denormal scale: inv would be inf */
		{{0.1f, 3}, {-0.5f, 3}},            /* negative scale */
		{{0.1f, 3}, {0.1f, 256}},           /* zero point above qmax */
		{{0.1f, -1}, {0.1f, 3}},            /* zero point below qmin */
	};
	for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
		good &= kq_quantize_isa(isa, x, 1, 64, &spec, bad[k], q, &c) == KQ_EINVAL;
		good &= kq_fake_quant_isa(isa, x, 1, 64, &spec, bad[k], y, &c) == KQ_EINVAL;
	}
	const kq_qparams fine[2] = {{0.1f, 3}, {0.2f, 4}};
	good &= kq_quantize_isa(isa, NULL, 1, 64, &spec, fine, q, &c) == KQ_EINVAL;
	good &= kq_fake_quant_isa(isa, x, 1, 64, &spec, fine, NULL, &c) == KQ_EINVAL;
	good &= kq_quantize_isa(isa, x, 0, 64, &spec, fine, q, &c) == KQ_EINVAL;
	for (int i = 0; i < 64; i++)
		good &= q[i] == 0xa5 && y[i] == -1.0f;
	good &= c == 77;
	ok(good, "%s: invalid arguments give KQ_EINVAL and write nothing", kq_isa_name(isa));
}

int main(void)
{
	size_t cap = 3000;
	bufs b = {malloc(cap), malloc(cap), malloc(cap * sizeof(float)), malloc(cap * sizeof(float))};
	if (!b.q0 || !b.q1 || !b.y0 || !b.y1) {
		ok(0, "allocate buffers");
		return tap_done();
	}

	for (int isa = 0; isa < KQ_ISA_COUNT; isa++) {
		if (!kq_isa_supported((kq_isa)isa)) {
			skip("CPU or build lacks it", "%s: quantize and fake quant variants",
			     kq_isa_name(isa));
			continue;
		}
		nties = 0;
		check_isa(isa, &b);
		if (isa != KQ_ISA_REF)
			check_rounding_modes(isa, &b);
		check_errors(isa);
	}
	/* the data really contains what the header promises */
	ok(nties > 1000, "adversarial data holds exact ties after scaling (%ld)", nties);

	/* an ISA that does not exist is refused, not run as ref */
	kq_qspec spec = {8, 0, 1, KQ_GRAN_TENSOR, 0};
	kq_qparams p = {0.1f, 3};
	float x[4] = {0}, y[4];
	uint8_t q[4];
	ok(kq_quantize_isa(KQ_ISA_COUNT, x, 1, 4, &spec, &p, q, NULL) == KQ_EISA &&
		   kq_fake_quant_isa(-7, x, 1, 4, &spec, &p, y, NULL) == KQ_EISA,
	   "unknown ISA gives KQ_EISA");

	/* the public functions run the active variant */
	tcase t;
	kq_qspec as = {8, 0, 1, KQ_GRAN_TENSOR, 0};
	int good = make_case(&t, &as, NSIZES - 1, 4242) == 0;
	if (good) {
		size_t c0 = 1, c1 = 2, f0 = 3, f1 = 4;
		kq_isa act = kq_isa_active();
		good &= kq_quantize(t.x, t.rows, t.cols, &as, t.p, b.q0, &c0) == KQ_OK;
		good &= kq_quantize_isa(act, t.x, t.rows, t.cols, &as, t.p, b.q1, &c1) == KQ_OK;
		good &= kq_fake_quant(t.x, t.rows, t.cols, &as, t.p, b.y0, &f0) == KQ_OK;
		good &= kq_fake_quant_isa(act, t.x, t.rows, t.cols, &as, t.p, b.y1, &f1) == KQ_OK;
		good &= c0 == c1 && f0 == f1 && c0 == f0 && c0 > 0 && memcmp(b.q0, b.q1, t.n) == 0 &&
			diff_bits(b.y0, b.y1, t.n) < 0;
	}
	free_case(&t);
	ok(good, "kq_quantize and kq_fake_quant run the active ISA (%s)", kq_isa_name(kq_isa_active()));

	free(b.q0);
	free(b.q1);
	free(b.y0);
	free(b.y1);
	return tap_done();
}
