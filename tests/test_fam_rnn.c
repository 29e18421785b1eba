/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_fam_rnn.c - the rnn language-model family through the session
 * (engine/fam_lm.c).
 *
 * Checked against the model driven directly (eng_seq_rnn) with bpc, top1
 * and strata computed here, in double, from the corpus:
 *  - the model itself: fp32 bpc over the test fortunes in 2048-byte
 *    segments (state zero at each) equals the model card's measured test
 *    bpc and byte count (data/models/rnn-text.json, from PyTorch);
 *  - the session's evaluation windows are the first full 2048-byte test
 *    windows in the corpus order; per stratum (all, 10 groups, pos0-63,
 *    pos64-255, pos256-1023, pos1024+, shifted) its n, fp32 bpc and top1
 *    equal the direct pass's;
 *  - int8 weights with per-token int8 activations: the session's quantized
 *    bpc equals the int8 kernels run directly, its kernel agreement equals
 *    the direct kernels-vs-fake-quant agreement, the logits agree, and the
 *    extras (kld value and p99, dp_true, ppl_ratio, top1_agree) equal the
 *    same quantities computed here from the direct logits; the primary
 *    interval is the bootstrap over whole windows of the direct per-token
 *    differences (not over tokens);
 *  - static int8 (the default recipe): calibrated, kernels agree, a small
 *    bpc change whose verdict follows the lower-is-better rule, or "too
 *    few windows" for a stratum of fewer than ENG_MIN_CLUSTERS windows;
 *    ppl_ratio = 2^delta and top1_agree = 1 - flips / n.
 * Skipped when the fortunes (fortunes, fortunes-min, ...) are not
 * installed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_qmodel.h"
#include "eng_seq.h"
#include "eng_stats.h"
#include "famtest.h"
#include "tap.h"

#define WIN 2048
#define NWIN 8 /* evaluated windows: 16384 tokens (6 in-domain) */
#define SEED 1
#define RESAMPLES 200
#define CARD_BPC 2.1754
#define CARD_BYTES 272951

/* The strata, in the session's order: -1 all, 0..9 the groups, 10..13 the
 * position buckets (boundaries 64, 256, 1024, written out here), 14
 * shifted. */
#define NSTRATA FT_LM_NSTRATA(4)
static int pos_bucket(int pos)
{
	return pos < 64 ? 0 : pos < 256 ? 1 : pos < 1024 ? 2 : 3;
}

static const char *const pos_names[] = {"pos0-63", "pos64-255", "pos256-1023", "pos1024+"};
static const ft_lm_layout layout = {WIN, 4, pos_names, pos_bucket};

/* Whether x (a JSON number, NaN when null) equals want to tol. */
static int near(double x, double want, double tol)
{
	return fabs(x - want) <= tol;
}

int main(void)
{
	char err[512];
	eng_corpus c;
	eng_seq_model *m = ft_lm_load(&c, "rnn-text", "rnn", err, sizeof err);
	if (!m)
		return tap_done();
	kq_ctx *ctx = kq_ctx_create(1);
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);

	/* ---- the model against its card: 2048-byte segments of the test fortunes */
	ft_lm_check_card(m, &h, &c, 2048, 32, "segments", CARD_BYTES, CARD_BPC);

	/* ---- the session's windows: the first NWIN full 2048-byte test windows */
	eng_text_win *all = NULL;
	int nw = ft_lm_full_windows(&c, WIN, &all, err, sizeof err);
	nw = nw < NWIN ? nw : NWIN;
	int n = nw * WIN, *pref = malloc((size_t)n * sizeof(int)), *pq = malloc((size_t)n * sizeof(int)),
	    *pf = malloc((size_t)n * sizeof(int));
	double *vref = malloc((size_t)n * sizeof *vref), *vq = malloc((size_t)n * sizeof *vq),
	       *vf = malloc((size_t)n * sizeof *vf);
	float *lq = malloc((size_t)n * 256 * sizeof *lq), *lf = malloc((size_t)n * 256 * sizeof *lf),
	      *lr = malloc((size_t)n * 256 * sizeof *lr);
	ok(nw == NWIN && ft_lm_run(m, &h, &c, all, nw, 1, vref, pref, lr) == 0, "direct fp32 pass over %d windows", nw);
	/* windows per stratum: an interval needs ENG_MIN_CLUSTERS of them */
	int wins[NSTRATA] = {0};
	for (int k = -1; k < NSTRATA - 1; k++)
		for (int w = 0; w < nw; w++) {
			int any = 0;
			for (int j = 0; j < WIN && !any; j++)
				any = ft_lm_in_stratum(&layout, k, all[w].group, j);
			wins[k + 1] += any;
		}

	eng_session_opts so = {.model = "rnn-text", .threads = 2, .seed = SEED, .eval_n = n + 100, .resamples = RESAMPLES};
	eng_session *s;
	cJSON *rt = ft_token_session(&so, &s, err, sizeof err);
	if (!rt)
		return tap_done();
	ft_lm_check_result(&layout, rt, "rnn", n + 100, &c, all, nw, vref, pref);
	ok(!strcmp(eng_json_str(rt, "throughput.unit"), "tokens/s"), "throughput in tokens/s");

	/* ---- per-token int8: session == kernels run directly; agreement == direct */
	eng_qmodel *qm;
	eng_qrunner *qr = ft_token_qrunner(m, ctx, &qm, err, sizeof err);
	if (ok(qr != NULL, "direct qmodel for the token recipe")) {
		eng_seq_hooks hq = h, hf = h;
		hq.lin = eng_backend_quant(qr), hf.lin = eng_backend_fake(qr);
		ok(ft_lm_run(m, &hq, &c, all, nw, 1, vq, pq, lq) == 0 && ft_lm_run(m, &hf, &c, all, nw, 1, vf, pf, lf) == 0,
		   "direct int8 kernel and fake-quant passes");
		const cJSON *a = ft_stratum(rt, "all");
		double sum = 0, sref = 0, sdp = 0;
		int cnt = 0, same = 0;
		for (int i = 0; i < n; i++)
			if (all[i / WIN].group < ENG_TEXT_GROUPS) {
				sum += vq[i], sref += vref[i], cnt++;
				sdp += exp2(-vq[i]) - exp2(-vref[i]);
				same += pq[i] == pref[i];
			}
		double got = eng_json_num(a, "quant");
		ok(cnt && fabs(got - sum / cnt) < 2e-5, "session quantized bpc %.5f equals the int8 kernels run directly %.5f",
		   got, cnt ? sum / cnt : NAN);
		double dbpc = cnt ? (sum - sref) / cnt : NAN, agree1 = cnt ? (double)same / cnt : NAN,
		       dpt = cnt ? sdp / cnt : NAN;
		ok(near(eng_json_num(a, "extra.ppl_ratio.value"), exp2(dbpc), 2e-5) &&
			   near(eng_json_num(a, "extra.top1_agree.value"), agree1, 2e-6) &&
			   near(eng_json_num(a, "extra.dp_true.value"), dpt, 2e-6),
		   "all: ppl_ratio %.6f, top1_agree %.6f, dp_true %.6f equal the direct passes' %.6f, %.6f, %.6f",
		   eng_json_num(a, "extra.ppl_ratio.value"), eng_json_num(a, "extra.top1_agree.value"),
		   eng_json_num(a, "extra.dp_true.value"), exp2(dbpc), agree1, dpt);
		/* the primary interval: whole windows resampled, from the direct
		 * per-token differences (in-domain windows only) */
		float *d = malloc((size_t)n * sizeof *d);
		int *idx = malloc((size_t)n * sizeof *idx), *cl = malloc((size_t)n * sizeof *cl), ni = 0;
		for (int i = 0; i < n; i++) {
			d[i] = (float)(vq[i] - vref[i]), cl[i] = i / WIN;
			if (all[i / WIN].group < ENG_TEXT_GROUPS)
				idx[ni++] = i;
		}
		double mc, lc, hc, mt, lt, ht;
		eng_mean_bootstrap(d, idx, ni, cl, RESAMPLES, SEED, &mc, &lc, &hc);
		eng_mean_bootstrap(d, idx, ni, NULL, RESAMPLES, SEED, &mt, &lt, &ht);
		double slo = eng_json_num(a, "ci95.0"), shi = eng_json_num(a, "ci95.1");
		ok(wins[0] >= ENG_MIN_CLUSTERS && near(slo, lc, 5e-6) && near(shi, hc, 5e-6) &&
			   (fabs(lc - lt) > 2e-5 || fabs(hc - ht) > 2e-5),
		   "all (%d windows): delta interval [%.6f, %.6f] = window-cluster bootstrap [%.6f, %.6f], not the per-token "
		   "one [%.6f, %.6f]",
		   wins[0], slo, shi, lc, hc, lt, ht);
		free(d), free(idx), free(cl);
		int an = n < 1000 ? n : 1000, agree = 0;
		double maxd = 0;
		for (int i = 0; i < an; i++)
			agree += pq[i] == pf[i];
		for (size_t i = 0; i < (size_t)n * 256; i++)
			maxd = fmax(maxd, fabs(lq[i] - lf[i]));
		double ka = eng_json_num(a, "extra.kernel_agreement");
		ok(fabs(ka - (double)agree / an) < 1e-6 && ka >= 0.99,
		   "kernel agreement %.4f equals direct kernels vs fake-quant %.4f", ka, (double)agree / an);
		/* the state carries 2048 steps, so an activation code that rounds
		 * the other way early in a window moves later logits: the logits
		 * are held to 0.25, the bpc of the two paths to 1e-3 */
		double bq = 0, bf = 0;
		for (int i = 0; i < n; i++)
			bq += vq[i], bf += vf[i];
		/* KL(fp32 || int8) per token in bits, in double from the logits */
		double *kl = malloc((size_t)n * sizeof *kl), ksum = 0;
		int nk = 0;
		for (int i = 0; i < n; i++) {
			if (all[i / WIN].group >= ENG_TEXT_GROUPS)
				continue;
			kl[nk] = ft_kld_bits(lr + (size_t)i * 256, lq + (size_t)i * 256);
			ksum += kl[nk++];
		}
		for (int i = 1; i < nk; i++) /* insertion sort for the percentile */
			for (int j = i; j > 0 && kl[j - 1] > kl[j]; j--) {
				double tmp = kl[j];
				kl[j] = kl[j - 1], kl[j - 1] = tmp;
			}
		double km = eng_json_num(a, "extra.kld.value"), k99 = eng_json_num(a, "extra.kld.p99"),
		       k999 = eng_json_num(a, "extra.kld.p999");
		double w99 = nk ? kl[(int)ceil(0.99 * nk) - 1] : NAN, w999 = nk ? kl[(int)ceil(0.999 * nk) - 1] : NAN;
		ok(nk && km > 0 && fabs(km - ksum / nk) < 2e-6 + 1e-3 * km && fabs(k99 - w99) < 2e-6 + 1e-3 * w99 &&
			   fabs(k999 - w999) < 2e-6 + 1e-3 * w999,
		   "KLD vs fp32 on all: value %.6f, p99 %.6f, p999 %.6f bits; direct %.6f, %.6f, %.6f", km, k99, k999,
		   nk ? ksum / nk : NAN, w99, w999);
		const cJSON *kc = eng_json_get(a, "extra.kld.ci95");
		ok(cJSON_GetArraySize(kc) == 2 && eng_json_num(a, "extra.kld.ci95.0") <= km &&
			   km <= eng_json_num(a, "extra.kld.ci95.1"),
		   "kld interval [%.6f, %.6f] holds its value", eng_json_num(a, "extra.kld.ci95.0"),
		   eng_json_num(a, "extra.kld.ci95.1"));
		free(kl);
		ok(maxd < 0.25 && fabs(bq - bf) / n < 1e-3,
		   "int8 kernels and fake-quant: logits agree to %.2g (< 0.25), bpc %.5f vs %.5f", maxd, bq / n, bf / n);
	}
	eng_qrunner_destroy(qr);
	eng_qmodel_destroy(qm);

	/* ---- static int8 (the default recipe) */
	cJSON *rs = ft_eval(s, NULL, err, sizeof err);
	if (ok(rs != NULL, "eval default int8 recipe (%s)", rs ? "ok" : err)) {
		const cJSON *a = ft_stratum(rs, "all");
		double ka = eng_json_num(a, "extra.kernel_agreement"), d = eng_json_num(a, "delta");
		ok(ka >= 0.99, "static int8: kernels agree with fake-quant on %.4f", ka);
		ok(fabs(d) < 0.05, "static int8 on all: bpc delta %.4f within 0.05", d);
		int vbad = 0, xbad = 0;
		for (int k = -1; k < NSTRATA - 1; k++) {
			const cJSON *st = ft_stratum(rs, ft_lm_stratum_name(&layout, &c, k));
			double lo = eng_json_num(st, "ci95.0"), hi = eng_json_num(st, "ci95.1"), sd = eng_json_num(st, "delta");
			const char *want = eng_json_num(st, "n") == 0	  ? "no samples"
					   : wins[k + 1] < ENG_MIN_CLUSTERS ? "too few windows"
					   : lo > 0			  ? "loss"
					   : hi < 0			  ? "gain"
									  : "within noise";
			if (strcmp(eng_json_str(st, "verdict"), want) ||
			    (wins[k + 1] < ENG_MIN_CLUSTERS) != (isnan(lo) && isnan(hi))) {
				diag("%s (%d windows): verdict '%s' for [%g, %g], want '%s'", ft_lm_stratum_name(&layout, &c, k), wins[k + 1],
				     eng_json_str(st, "verdict"), lo, hi, want);
				vbad++;
			}
			if (eng_json_num(st, "n") > 0 &&
			    (!near(eng_json_num(st, "extra.ppl_ratio.value"), exp2(sd), 2e-5 * exp2(sd)) ||
			     !near(eng_json_num(st, "extra.top1_agree.value"),
				   1 - eng_json_num(st, "flips") / eng_json_num(st, "n"), 2e-6))) {
				diag("%s: ppl_ratio %g vs 2^%g, top1_agree %g vs flips %g of %g", ft_lm_stratum_name(&layout, &c, k),
				     eng_json_num(st, "extra.ppl_ratio.value"), sd, eng_json_num(st, "extra.top1_agree.value"),
				     eng_json_num(st, "flips"), eng_json_num(st, "n"));
				xbad++;
			}
		}
		ok(vbad == 0, "every verdict: lower is better, an interval needs %d windows (all has %d)", ENG_MIN_CLUSTERS,
		   wins[0]);
		ok(xbad == 0, "every stratum: ppl_ratio = 2^delta, top1_agree = 1 - flips / n");
		ok(eng_json_num(rs, "calibration.n") == 512 && cJSON_IsTrue(eng_json_get(rs, "calibration.used")),
		   "calibrated on representative:512");
	}
	const char *short_opts[] = {"calib-set", "short", NULL};
	cJSON *rsh = ft_eval(s, short_opts, err, sizeof err);
	ok(rsh && !strcmp(eng_json_str(rsh, "calibration.set"), "short"), "calibration set short runs (%s)",
	   rsh ? "ok" : err);
	const char *bad_opts[] = {"calib-set", "mismatched", NULL};
	cJSON *rb = ft_eval(s, bad_opts, err, sizeof err);
	ok(!rb && strstr(err, "representative, short"), "calibration set mismatched is refused (%s)", err);
	const char *kv_opts[] = {"kv", "int8", NULL};
	cJSON *rk = ft_eval(s, kv_opts, err, sizeof err);
	ok(!rk && strstr(err, "--kv int8") && strstr(err, "no KV cache"), "--kv int8 is refused (%s)", err);
	cJSON_Delete(rt), cJSON_Delete(rs), cJSON_Delete(rsh), cJSON_Delete(rb), cJSON_Delete(rk);
	eng_session_destroy(s);

	/* ---- models list */
	cJSON *ml = eng_models_json(err, sizeof err);
	const cJSON *e;
	int listed = 0;
	cJSON_ArrayForEach(e, ml) if (!strcmp(eng_json_str(e, "name"), "rnn-text")) listed =
		!strcmp(eng_json_str(e, "metric"), "bpc") && cJSON_GetArraySize(eng_json_get(e, "strata")) == NSTRATA &&
		!strcmp(eng_json_str(e, "strata.14"), "pos1024+");
	ok(listed, "models lists rnn-text (metric bpc, %d strata)", NSTRATA);
	cJSON_Delete(ml);

	free(all), free(pref), free(pq), free(pf), free(vref), free(vq), free(vf), free(lq), free(lf), free(lr);
	kq_ctx_destroy(ctx);
	eng_seq_destroy(m);
	eng_corpus_done(&c);
	return tap_done();
}
