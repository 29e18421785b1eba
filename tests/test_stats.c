/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_stats.c - metrics on hand-computed examples, and the paired
 * bootstrap on synthetic data whose difference and spread are known. */
#include <math.h>
#include <stdlib.h>

#include "eng.h"
#include "eng_stats.h"
#include "tap.h"

int main(void)
{
	/* hand example: 3 classes, 6 samples */
	int label[6] = {0, 0, 1, 1, 2, 2}, pred[6] = {0, 1, 1, 1, 2, 0}, idx[6] = {0, 1, 2, 3, 4, 5};
	float conf[6] = {0.9f, 0.6f, 0.8f, 0.95f, 0.7f, 0.55f};
	eng_preds p = {pred, conf, NULL};
	ok(fabs(eng_metric_eval(ENG_METRIC_TOP1, idx, 6, label, &p, 3) - 4.0 / 6) < 1e-12, "top1 = 4/6");
	/* class0: tp1 fp1 fn1 -> 2/4; class1: tp2 fp1 fn0 -> 4/5; class2: tp1 fp0 fn1 -> 2/3 */
	double f1 = (0.5 + 0.8 + 2.0 / 3) / 3;
	ok(fabs(eng_metric_eval(ENG_METRIC_MACRO_F1, idx, 6, label, &p, 3) - f1) < 1e-12, "macro-F1 = %.6f", f1);
	/* bins of width 1/15: 0.9->13, 0.6->9, 0.8->12, 0.95->14, 0.7->10, 0.55->8
	 * each bin holds one sample: ECE = mean |correct - conf| */
	double ece = (0.1 + 0.6 + 0.2 + 0.05 + 0.3 + 0.55) / 6;
	ok(fabs(eng_metric_eval(ENG_METRIC_ECE, idx, 6, label, &p, 3) - ece) < 1e-6, "ECE = %.6f", ece);
	int sub[2] = {2, 3};
	ok(eng_metric_eval(ENG_METRIC_TOP1, sub, 2, label, &p, 3) == 1.0, "metric on a subset");
	ok(isnan(eng_metric_eval(ENG_METRIC_TOP1, sub, 0, label, &p, 3)), "empty subset gives NaN");
	/* Pareto: (1,5) (2,4) (3,1) are optimal; (1,4) is dominated by (1,5),
	 * (2,1) by (3,1) and (2,4); a duplicate of an optimal point stays; NaN never */
	double px[8] = {1, 2, 3, 1, 2, 3, NAN, 0}, py[8] = {5, 4, 1, 4, 1, 1, 9, NAN};
	int fr[8], want[8] = {1, 1, 1, 0, 0, 1, 0, 0};
	int nf = eng_pareto(px, py, 8, fr), same = 1;
	for (int i = 0; i < 8; i++)
		same &= fr[i] == want[i];
	ok(nf == 4 && same, "Pareto frontier of 8 points has 4 (duplicates kept, NaN excluded)");
	eng_metric m;
	ok(eng_metric_parse("macro-f1", &m) == 0 && m == ENG_METRIC_MACRO_F1 && eng_metric_parse("f2", &m) == -1,
	   "metric names");

	/* synthetic paired data: n = 10000, 300 samples only the reference gets
	 * right, 100 only the quantized one: delta = -0.02 exactly;
	 * var(d) = 400/n - 0.02^2, so the normal 95% interval is
	 * -0.02 +- 1.96 * sqrt(0.0396 / 10000) = [-0.02390, -0.01610]. */
	enum { N = 10000 };
	int *lab = calloc(N, sizeof *lab), *pr = calloc(N, sizeof *pr), *pq = calloc(N, sizeof *pq),
	    *all = calloc(N, sizeof *all);
	float *cf = calloc(N, sizeof *cf);
	uint64_t s = 42;
	for (int i = 0; i < N; i++) {
		all[i] = i;
		lab[i] = (int)eng_rng_below(&s, 10);
		cf[i] = 0.9f;
		int wrong = (lab[i] + 1) % 10;
		int pos = (i * 7919) % N; /* scatter the special samples */
		pr[i] = pq[i] = pos < 9000 ? lab[i] : wrong;
		if (pos >= 9000 && pos < 9300)
			pr[i] = lab[i]; /* only the reference is right */
		else if (pos >= 9300 && pos < 9400)
			pq[i] = lab[i]; /* only the quantized model is right */
	}
	eng_preds ref = {pr, cf, NULL}, qu = {pq, cf, NULL};
	eng_paired r;
	ok(eng_paired_bootstrap(ENG_METRIC_TOP1, all, N, lab, &ref, &qu, 10, 2000, 7, &r) == 0, "bootstrap runs");
	ok(fabs(r.ref - 0.93) < 1e-12 && fabs(r.quant - 0.91) < 1e-12 && fabs(r.delta + 0.02) < 1e-12,
	   "ref 0.93, quant 0.91, delta -0.02");
	ok(r.flips == 400, "400 flips (%d)", r.flips);
	double half = 1.96 * sqrt(0.0396 / N);
	ok(fabs(r.lo - (-0.02 - half)) < 6e-4 && fabs(r.hi - (-0.02 + half)) < 6e-4,
	   "interval [%.5f, %.5f] matches the normal approximation [%.5f, %.5f]", r.lo, r.hi, -0.02 - half,
	   -0.02 + half);
	eng_paired r2;
	eng_paired_bootstrap(ENG_METRIC_TOP1, all, N, lab, &ref, &qu, 10, 2000, 7, &r2);
	ok(r2.lo == r.lo && r2.hi == r.hi, "same seed, same interval");
	eng_paired_bootstrap(ENG_METRIC_TOP1, all, N, lab, &ref, &qu, 10, 2000, 8, &r2);
	ok(r2.lo != r.lo || r2.hi != r.hi, "another seed, another draw");
	/* the general path (recompute the metric per resample) agrees with the
	 * top1 fast path in distribution: macro-F1 interval contains its delta */
	eng_paired_bootstrap(ENG_METRIC_MACRO_F1, all, N, lab, &ref, &qu, 10, 300, 7, &r2);
	ok(r2.lo < r2.delta && r2.delta < r2.hi && r2.delta < 0, "macro-F1: delta %.4f inside [%.4f, %.4f]", r2.delta,
	   r2.lo, r2.hi);
	/* identical models: zero delta, zero-width interval, no flips */
	eng_paired_bootstrap(ENG_METRIC_TOP1, all, N, lab, &ref, &ref, 10, 200, 7, &r2);
	ok(r2.delta == 0 && r2.lo == 0 && r2.hi == 0 && r2.flips == 0, "identical predictions");
	/* a stratum of 100 with 2 net losses: interval much wider than at n = 10000 */
	eng_paired_bootstrap(ENG_METRIC_TOP1, all, 100, lab, &ref, &qu, 10, 2000, 7, &r2);
	ok(r2.hi - r2.lo > 3 * (r.hi - r.lo), "small strata get wide intervals (%.4f vs %.4f)", r2.hi - r2.lo,
	   r.hi - r.lo);
	/* bpc: the mean of the per-sample values; the interval is on the paired
	 * per-sample difference.  Reference values 1 + u, quantized = reference
	 * + 0.05 + e with u, e uniform in [-0.5, 0.5): the difference has mean
	 * 0.05 and standard deviation sqrt(1/12), so the normal 95% interval is
	 * mean(d) +- 1.96 * sqrt(1/12 / n) (computed on the sample's own mean
	 * and variance here). */
	float *vr = malloc(N * sizeof *vr), *vq = malloc(N * sizeof *vq);
	double sr = 0, sq = 0, sd = 0, sd2 = 0;
	for (int i = 0; i < N; i++) {
		vr[i] = 1.0f + (float)(eng_rng_below(&s, 1000) / 1000.0 - 0.5);
		vq[i] = vr[i] + 0.05f + (float)(eng_rng_below(&s, 1000) / 1000.0 - 0.5);
		double d = (double)vq[i] - vr[i];
		sr += vr[i], sq += vq[i], sd += d, sd2 += d * d;
	}
	eng_preds br = {pr, cf, vr}, bq = {pq, cf, vq};
	double md = sd / N, sdev = sqrt(fmax(sd2 / N - md * md, 0));
	ok(fabs(eng_metric_eval(ENG_METRIC_BPC, all, N, lab, &br, 10) - sr / N) < 1e-9, "bpc is the mean value (%.4f)",
	   sr / N);
	ok(isnan(eng_metric_eval(ENG_METRIC_BPC, all, N, lab, &ref, 10)), "bpc without values is NaN");
	ok(eng_metric_parse("bpc", &m) == 0 && m == ENG_METRIC_BPC && !eng_metric_get(m)->higher_is_better,
	   "bpc parses; lower is better");
	ok(eng_paired_bootstrap(ENG_METRIC_BPC, all, N, lab, &br, &bq, 10, 2000, 7, &r2) == 0 &&
		   fabs(r2.delta - (sq - sr) / N) < 1e-9 && r2.flips == 400,
	   "bpc bootstrap: delta %.5f is the mean difference, flips from the predictions", r2.delta);
	half = 1.96 * sdev / sqrt(N);
	ok(fabs(r2.lo - (md - half)) < 1e-3 && fabs(r2.hi - (md + half)) < 1e-3,
	   "bpc interval [%.5f, %.5f] matches the normal approximation [%.5f, %.5f]", r2.lo, r2.hi, md - half,
	   md + half);
	free(vr), free(vq);

	/* cluster bootstrap: 200 clusters of 50 samples, each sample its
	 * cluster's level c_k (uniform in [-0.5, 0.5)) plus small noise, so the
	 * samples of a cluster are strongly correlated.  The interval must
	 * follow the spread of the 200 cluster means (normal approximation
	 * 1.96 sd / sqrt(200)), not of the 10,000 samples: resampling samples
	 * one by one would be about sqrt(50) = 7x too narrow. */
	enum { NC = 200, PER = 50 };
	float *cv = malloc(NC * PER * sizeof *cv);
	int *cid = malloc(NC * PER * sizeof *cid), *cidx = malloc(NC * PER * sizeof *cidx);
	double cm[NC], tot = 0, sm = 0, sm2 = 0;
	for (int k = 0; k < NC; k++) {
		double lev = eng_rng_below(&s, 1000) / 1000.0 - 0.5, msum = 0;
		for (int j = 0; j < PER; j++) {
			int i = k * PER + j;
			cv[i] = (float)(lev + (eng_rng_below(&s, 1000) / 1000.0 - 0.5) * 0.02);
			cid[i] = k, cidx[i] = i;
			msum += cv[i], tot += cv[i];
		}
		cm[k] = msum / PER;
		sm += cm[k], sm2 += cm[k] * cm[k];
	}
	double cmean = sm / NC, csd = sqrt(fmax(sm2 / NC - cmean * cmean, 0)), chalf = 1.96 * csd / sqrt(NC);
	double bm, blo, bhi, im, ilo, ihi;
	ok(eng_mean_bootstrap(cv, cidx, NC * PER, cid, 2000, 3, &bm, &blo, &bhi) == 0 &&
		   fabs(bm - tot / (NC * PER)) < 1e-9,
	   "cluster bootstrap: the mean %.5f is the plain mean", bm);
	ok(fabs((bhi - blo) / 2 - chalf) < 0.15 * chalf && fabs((blo + bhi) / 2 - cmean) < 0.2 * chalf,
	   "cluster interval [%.4f, %.4f] matches the cluster means' normal approximation [%.4f, %.4f]", blo, bhi,
	   cmean - chalf, cmean + chalf);
	eng_mean_bootstrap(cv, cidx, NC * PER, NULL, 2000, 3, &im, &ilo, &ihi);
	ok(ihi - ilo < (bhi - blo) / 4, "resampling samples one by one gives an interval %.1fx narrower",
	   (bhi - blo) / (ihi - ilo));
	/* 4 clusters are too few for an interval: the mean, NaN ends */
	int few[8] = {0, 1, 50, 51, 100, 101, 150, 151};
	ok(eng_mean_bootstrap(cv, few, 8, cid, 500, 3, &bm, &blo, &bhi) == 0 && isnan(blo) && isnan(bhi) &&
		   fabs(bm - (cv[0] + cv[1] + cv[50] + cv[51] + cv[100] + cv[101] + cv[150] + cv[151]) / 8) < 1e-6,
	   "4 clusters (fewer than %d): mean %.4f with no interval", ENG_MIN_CLUSTERS, bm);
	/* hand example, 5 clusters of unequal size: the mean is per sample */
	float hv[6] = {1, 2, 3, 4, 5, 9};
	int hc[6] = {0, 0, 1, 2, 3, 4}, hi6[6] = {0, 1, 2, 3, 4, 5};
	ok(eng_mean_bootstrap(hv, hi6, 6, hc, 1000, 3, &bm, &blo, &bhi) == 0 && fabs(bm - 4.0) < 1e-12 && blo >= 1.5 &&
		   bhi <= 9 && blo < bm && bm < bhi,
	   "5 unequal clusters: mean 4 = 24 / 6, interval [%.3f, %.3f] inside the range of cluster means", blo, bhi);
	ok(eng_mean_bootstrap(hv, hi6, 0, hc, 1000, 3, &bm, &blo, &bhi) == 0 && isnan(bm), "no samples: NaN");
	free(cv), free(cid), free(cidx);
	free(lab), free(pr), free(pq), free(all), free(cf);
	return tap_done();
}
