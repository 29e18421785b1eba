/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_fam_text.c - the encoder family through the session (engine/fam_text.c).
 *
 * The session's numbers are checked against the model driven directly
 * (eng_seq_encode on the same words, in the same 128-word batches the
 * session's lanes use), with predictions and strata computed here from
 * the word list:
 *  - the fp32 reference per stratum (language, length bucket, rare);
 *  - int8 weights with dynamic per-token int8 activations: the session's
 *    quantized top1 equals the int8 kernels run directly, and its kernel
 *    agreement equals the direct agreement of kernels and fake-quant;
 *  - the static int8 default recipe: kernels agree with fake-quant;
 *  - sensitivity runs on the family (not replayable): every linear layer
 *    listed, and its full-recipe delta equals the plain evaluation's;
 *  - the -outliers variant's fp32 predictions equal the base model's, and
 *    only the variant carries the stress-variant label.
 * Skipped when the word lists (wamerican and the other w* packages) are
 * not installed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_qmodel.h"
#include "eng_seq.h"
#include "famtest.h"
#include "tap.h"

#define EVAL_N 1500
#define BATCH 128 /* SESS_LANE_BATCH: the session computes each word in the same batch */

static const char *srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

static eng_seq_model *load_model(const char *name)
{
	char path[1024], err[256];
	snprintf(path, sizeof path, "%s/data/models/%s.safetensors", srcdir(), name);
	eng_seq_model *m = eng_seq_load(path, err, sizeof err);
	if (!m)
		diag("%s", err);
	return m;
}

/* Argmax predictions of the first n test words through hooks h, BATCH
 * words per call; logits optional (n x nclasses). */
static int predict(const eng_seq_model *m, const eng_seq_hooks *h, const eng_words *w, const int *idx, int n, int *pred,
		   float *logits_out)
{
	eng_seq_ws *ws = eng_seq_ws_create();
	int nc = m->base.nclasses, C = m->context, st = 0;
	int32_t *tok = malloc((size_t)BATCH * C * sizeof *tok), off[BATCH + 1];
	float *logits = malloc((size_t)BATCH * nc * sizeof *logits);
	char err[256];
	for (int b = 0; !st && b < n; b += BATCH) {
		int nb = n - b < BATCH ? n - b : BATCH, nt = 0;
		off[0] = 0;
		for (int i = 0; i < nb; i++) {
			int wi = idx[b + i];
			nt += eng_seq_word_tokens(m, w->bytes + w->off[wi], w->len[wi], tok + nt, C);
			off[i + 1] = nt;
		}
		eng_seq_batch bt = {nb, off, tok};
		if ((st = eng_seq_encode(m, h, ws, &bt, logits, err, sizeof err)))
			diag("%s", err);
		for (int i = 0; !st && i < nb; i++) {
			const float *l = logits + (size_t)i * nc;
			int best = 0;
			for (int c = 1; c < nc; c++)
				best = l[c] > l[best] ? c : best;
			pred[b + i] = best;
			if (logits_out)
				memcpy(logits_out + (size_t)(b + i) * nc, l, nc * sizeof *l);
		}
	}
	free(tok), free(logits);
	eng_seq_ws_destroy(ws);
	return st;
}

/* --attn int8 as doc/engine.md defines it, in double: Q and K int8 per
 * token, P uint8 per query row, V int8 per channel, products summed
 * exactly and scaled back. */
static double q8(double v, double inv, int lo, int hi)
{
	double c = nearbyint(v * inv);
	return c < lo ? lo : c > hi ? hi : c;
}

static int ref_qk(void *user, int layer, int nq, int nk, int dh, const float *q, int ldq, const float *k, int ldk,
		  float *s, int lds, char *err, size_t errlen)
{
	(void)user, (void)layer, (void)err, (void)errlen;
	for (int i = 0; i < nq; i++)
		for (int j = 0; j < nk; j++) {
			double mq = 0, mk = 0, acc = 0;
			for (int t = 0; t < dh; t++)
				mq = fmax(mq, fabs(q[(size_t)i * ldq + t])), mk = fmax(mk, fabs(k[(size_t)j * ldk + t]));
			for (int t = 0; t < dh; t++)
				acc += q8(q[(size_t)i * ldq + t], mq > 0 ? 127 / (double)(float)mq : 0, -127, 127) *
				       q8(k[(size_t)j * ldk + t], mk > 0 ? 127 / (double)(float)mk : 0, -127, 127);
			s[(size_t)i * lds + j] = (float)(acc * ((float)(mq / 127) * (float)(mk / 127)));
		}
	return 0;
}

static int ref_pv(void *user, int layer, int nq, int nk, int dh, const float *p, int ldp, const float *v, int ldv,
		  float *o, int ldo, char *err, size_t errlen)
{
	(void)user, (void)layer, (void)err, (void)errlen;
	for (int i = 0; i < nq; i++)
		for (int t = 0; t < dh; t++) {
			double mp = 0, mv = 0, acc = 0;
			for (int j = 0; j < nk; j++)
				mp = fmax(mp, p[(size_t)i * ldp + j]), mv = fmax(mv, fabs(v[(size_t)j * ldv + t]));
			for (int j = 0; j < nk; j++)
				acc += q8(p[(size_t)i * ldp + j], mp > 0 ? 255 / (double)(float)mp : 0, 0, 255) *
				       q8(v[(size_t)j * ldv + t], mv > 0 ? 127 / (double)(float)mv : 0, -127, 127);
			o[(size_t)i * ldo + t] = (float)(acc * ((float)(mp / 255) * (float)(mv / 127)));
		}
	return 0;
}

static const cJSON *stratum(const cJSON *res, const char *name)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, eng_json_get(res, "eval.strata")) if (!strcmp(eng_json_str(s, "name"), name)) return s;
	return NULL;
}

/* top1 of pred over the words of idx[0..n) that sel() keeps */
typedef struct {
	const eng_words *w;
	const int *idx;
	const int *pred;
	int n;
} set;

static double top1_where(const set *s, int lang, int bucket, const int *rare, int *count)
{
	int hit = 0, k = 0;
	for (int i = 0; i < s->n; i++) {
		int wi = s->idx[i], l = s->w->lang_of[wi];
		if ((lang >= 0 && l != lang) || (bucket >= 0 && eng_len_bucket(s->w->nchars[wi]) != bucket) ||
		    (rare && !rare[l]))
			continue;
		k++, hit += s->pred[i] == l;
	}
	*count = k;
	return k ? (double)hit / k : NAN;
}

int main(void)
{
	char err[512];
	eng_words w;
	if (eng_words_load(&w, NULL, 0, err, sizeof err)) {
		skip(err, "encoder family (word lists not installed)");
		return tap_done();
	}
	eng_seq_model *m = load_model("encoder-langid"), *mo = load_model("encoder-langid-outliers");
	if (!ok(m && mo, "both encoder models load"))
		return tap_done();
	int *idx = malloc((size_t)w.n * sizeof *idx), n = eng_words_split(&w, ENG_SPLIT_TEST, idx), ntest = n;
	/* the evaluation order (doc/engine.md): low 32 bits of the hash, then
	 * the hash, then canonical order; a stable insertion of each word
	 * after every word with a smaller or equal key does it */
	for (int i = 1; i < ntest; i++) {
		int v = idx[i], j = i;
		uint64_t h = w.hash[v];
		while (j > 0 && ((uint32_t)w.hash[idx[j - 1]] > (uint32_t)h ||
				 ((uint32_t)w.hash[idx[j - 1]] == (uint32_t)h && w.hash[idx[j - 1]] > h)))
			idx[j] = idx[j - 1], j--;
		idx[j] = v;
	}
	if (n > EVAL_N)
		n = EVAL_N;
	int per_lang[ENG_WORD_LANGS] = {0}, fair = 1;
	for (int i = 0; i < n; i++)
		per_lang[w.lang_of[idx[i]]]++;
	for (int l = 0; l < ENG_WORD_LANGS; l++)
		fair &= fabs(per_lang[l] - (double)n * w.count[ENG_SPLIT_TEST][l] / ntest) <
			4 * sqrt((double)n * w.count[ENG_SPLIT_TEST][l] / ntest) + 1;
	ok(fair, "the first %d words hold each language about in its share of the test split", n);
	int nc = m->base.nclasses, *pref = malloc((size_t)n * sizeof(int)), *pq = malloc((size_t)n * sizeof(int)),
	    *pf = malloc((size_t)n * sizeof(int)), *po = malloc((size_t)n * sizeof(int));
	float *lq = malloc((size_t)n * nc * sizeof *lq), *lf = malloc((size_t)n * nc * sizeof *lf);
	kq_ctx *ctx = kq_ctx_create(1);
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	ok(predict(m, &h, &w, idx, n, pref, NULL) == 0, "direct fp32 pass over %d test words", n);

	/* ---- the session: strata and the fp32 reference */
	eng_session_opts so = {.model = "encoder-langid", .threads = 2, .seed = 1, .eval_n = n, .resamples = 200};
	eng_session *s;
	cJSON *rt = ft_token_session(&so, &s, err, sizeof err);
	if (!rt)
		return tap_done();
	set ref = {&w, idx, pref, n};
	int rare[ENG_WORD_LANGS], bad = 0, cnt, nstrata = cJSON_GetArraySize(eng_json_get(rt, "eval.strata"));
	eng_words_rare(&w, rare);
	ok(nstrata == 1 + nc + 3 + 1, "%d strata: all, 12 languages, 3 length buckets, rare", nstrata);
	for (int k = -1; k < nc + 4; k++) {
		const char *name = k < 0 ? "all" : k < nc ? m->base.classes[k] : k < nc + 3 ? eng_len_bucket_name(k - nc) : "rare";
		double want = top1_where(&ref, k >= 0 && k < nc ? k : -1, k >= nc && k < nc + 3 ? k - nc : -1,
					 k == nc + 3 ? rare : NULL, &cnt);
		const cJSON *st = stratum(rt, name);
		if (!st || (int)eng_json_num(st, "n") != cnt || fabs(eng_json_num(st, "ref") - want) > 1e-6) {
			diag("stratum %s: session n %g ref %g, direct n %d top1 %g", name, st ? eng_json_num(st, "n") : -1,
			     st ? eng_json_num(st, "ref") : -1, cnt, want);
			bad++;
		}
	}
	ok(bad == 0, "every stratum's n and fp32 top1 equal the direct pass's");
	ok(!strcmp(eng_json_str(rt, "model.family"), "encoder") && !eng_json_get(rt, "model.variant"),
	   "model object: family encoder, no variant label on the base model");

	/* ---- per-token int8: session == kernels run directly; agreement == direct */
	eng_recipe r;
	eng_recipe_default(&r);
	eng_recipe_set(&r, "act-granularity", "token", err, sizeof err);
	eng_qmodel *qm = eng_qmodel_create(&m->base, &r, NULL, err, sizeof err);
	eng_qrunner *qr = qm ? eng_qrunner_create(qm, ctx) : NULL;
	if (ok(qr != NULL, "direct qmodel for the token recipe")) {
		eng_seq_hooks hq = h, hf = h;
		hq.lin = eng_backend_quant(qr), hf.lin = eng_backend_fake(qr);
		ok(predict(m, &hq, &w, idx, n, pq, lq) == 0 && predict(m, &hf, &w, idx, n, pf, lf) == 0,
		   "direct int8 kernel and fake-quant passes");
		set q = {&w, idx, pq, n};
		double want = top1_where(&q, -1, -1, NULL, &cnt), got = eng_json_num(stratum(rt, "all"), "quant");
		ok(fabs(got - want) < 1e-6, "session quantized top1 %.4f equals the int8 kernels run directly %.4f", got, want);
		int an = n < 1000 ? n : 1000, agree = 0;
		double maxd = 0;
		for (int i = 0; i < an; i++)
			agree += pq[i] == pf[i];
		for (size_t i = 0; i < (size_t)n * nc; i++)
			maxd = fmax(maxd, fabs(lq[i] - lf[i]));
		double ka = eng_json_num(stratum(rt, "all"), "extra.kernel_agreement");
		ok(fabs(ka - (double)agree / an) < 1e-6 && ka >= 0.99,
		   "kernel agreement %.4f equals direct kernels vs fake-quant %.4f (max |logit diff| %.2g)", ka,
		   (double)agree / an, maxd);
		ok(maxd < 0.05, "int8 kernels and fake-quant logits agree to %.2g (< 0.05)", maxd);
	}
	eng_qrunner_destroy(qr);
	eng_qmodel_destroy(qm);

	/* ---- static int8 (the default recipe) */
	cJSON *rs = ft_eval(s, NULL, err, sizeof err);
	if (ok(rs != NULL, "eval default int8 recipe (%s)", rs ? "ok" : err)) {
		double ka = eng_json_num(stratum(rs, "all"), "extra.kernel_agreement");
		double d = eng_json_num(stratum(rs, "all"), "delta");
		ok(ka >= 0.99, "static int8: kernels agree with fake-quant on %.4f", ka);
		ok(fabs(d) < 0.01, "static int8 on all: delta %.4f within 1 point", d);
		ok(eng_json_num(rs, "calibration.n") == 512 && cJSON_IsTrue(eng_json_get(rs, "calibration.used")),
		   "calibrated on representative:512");
	}

	/* ---- sensitivity (replayable 0: plain passes) */
	eng_recipe_default(&r);
	cJSON *sens = eng_session_sensitivity(s, &r, 1, NULL, NULL, NULL, err, sizeof err);
	if (ok(sens != NULL, "sensitivity runs on the encoder (%s)", sens ? "ok" : err)) {
		const cJSON *layers = eng_json_get(sens, "layers"), *l;
		int nl = cJSON_GetArraySize(layers), named = 0, finite = 0;
		cJSON_ArrayForEach(l, layers)
		{
			int i = named;
			named += i < m->base.nq && !strcmp(eng_json_str(l, "name"), m->base.layers[i].name);
			finite += isfinite(eng_json_num(l, "delta_alone")) && isfinite(eng_json_num(l, "weight_sqnr_db"));
		}
		ok(nl == m->base.nq && named == nl && finite == nl, "%d layers in execution order, with finite deltas", nl);
		double full = eng_json_num(sens, "full_recipe.delta"), plain = eng_json_num(stratum(rs, "all"), "delta");
		ok(rs && fabs(full - plain) < 1e-9, "its full-recipe delta %.4f equals the plain evaluation's %.4f", full, plain);
	}
	/* ---- --attn int8 alone (fp32 linear layers) against the double reference */
	const char *attn_opts[] = {"attn", "int8", "weights", "fp32", "acts", "fp32", NULL};
	cJSON *ra = ft_eval(s, attn_opts, err, sizeof err);
	if (ok(ra != NULL, "eval --attn int8 --weights fp32 --acts fp32 (%s)", ra ? "ok" : err)) {
		eng_seq_hooks ha = h;
		ha.qk = ref_qk, ha.pv = ref_pv;
		float *lr = malloc((size_t)n * nc * sizeof *lr), *la = malloc((size_t)n * nc * sizeof *la);
		predict(m, &h, &w, idx, n, pref, lr);
		predict(m, &ha, &w, idx, n, pq, la);
		double maxd = 0;
		for (size_t i = 0; i < (size_t)n * nc; i++)
			maxd = fmax(maxd, fabs(lr[i] - la[i]));
		set a = {&w, idx, pq, n};
		double want = top1_where(&a, -1, -1, NULL, &cnt), got = eng_json_num(stratum(ra, "all"), "quant");
		ok(fabs(got - want) < 1e-6, "int8 attention top1 %.4f equals the double-precision reference %.4f", got, want);
		ok(maxd > 1e-3, "int8 attention moves the logits (max |diff| %.3g vs fp32)", maxd);
		int flips = 0;
		for (int i = 0; i < n; i++)
			flips += pq[i] != pref[i];
		ok(flips > 0 && eng_json_num(stratum(ra, "all"), "flips") == flips,
		   "the session's flips equal the reference's: %d words change their prediction", flips);
		ok(!strcmp(eng_json_str(ra, "recipe.attn"), "int8"), "recipe.attn is int8");
		free(lr), free(la);
	}
	eng_recipe_default(&r);
	eng_recipe_set(&r, "attn", "int8", err, sizeof err);
	cJSON *sa = eng_session_sensitivity(s, &r, 0, NULL, NULL, NULL, err, sizeof err);
	ok(!sa && strstr(err, "--attn int8"), "sensitivity refuses --attn int8 with a sentence (%s)", err);
	cJSON_Delete(sa), cJSON_Delete(ra);
	cJSON_Delete(sens), cJSON_Delete(rt), cJSON_Delete(rs);
	eng_session_destroy(s);

	/* ---- the outliers variant */
	ok(predict(mo, &h, &w, idx, n, po, NULL) == 0, "direct fp32 pass of the variant");
	int same = 0;
	for (int i = 0; i < n; i++)
		same += po[i] == pref[i];
	ok(same == n, "variant's fp32 predictions equal the base model's on %d of %d words", same, n);
	so.model = "encoder-langid-outliers";
	s = eng_session_create(&so, err, sizeof err);
	const char *tok_opts[] = {"act-granularity", "token", NULL};
	cJSON *rv = s ? ft_eval(s, tok_opts, err, sizeof err) : NULL;
	if (ok(rv != NULL, "eval on the variant (%s)", rv ? "ok" : err)) {
		set v = {&w, idx, po, n};
		double want = top1_where(&v, -1, -1, NULL, &cnt);
		ok(fabs(eng_json_num(stratum(rv, "all"), "ref") - want) < 1e-6, "variant session's fp32 reference %.4f",
		   want);
		ok(strstr(eng_json_str(rv, "model.variant"), "stress variant") != NULL,
		   "model.variant labels it: \"%s\"", eng_json_str(rv, "model.variant"));
	}
	cJSON_Delete(rv);
	eng_session_destroy(s);

	/* ---- models list */
	cJSON *ml = eng_models_json(err, sizeof err);
	const cJSON *e;
	int base = 0, var = 0;
	cJSON_ArrayForEach(e, ml)
	{
		if (!strcmp(eng_json_str(e, "name"), "encoder-langid"))
			base = !eng_json_get(e, "variant") && cJSON_GetArraySize(eng_json_get(e, "strata")) == 17;
		if (!strcmp(eng_json_str(e, "name"), "encoder-langid-outliers"))
			var = strstr(eng_json_str(e, "variant"), "not a trained model") != NULL;
	}
	ok(base && var, "models lists encoder-langid (17 strata) and the labelled -outliers variant");
	cJSON_Delete(ml);

	free(idx), free(pref), free(pq), free(pf), free(po), free(lq), free(lf);
	kq_ctx_destroy(ctx);
	eng_seq_destroy(m), eng_seq_destroy(mo);
	eng_words_done(&w);
	return tap_done();
}
