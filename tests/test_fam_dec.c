/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_fam_dec.c - the decoder language-model family (decoder-text)
 * through the session (engine/fam_lm.c).
 *
 * Checked against the model driven directly (eng_seq_decode) with bpc,
 * top1, strata, KV-cache rounding and greedy generation computed here:
 *  - the model itself: fp32 bpc over the test fortunes in 256-byte windows
 *    equals the model card's (data/models/decoder-text.json, PyTorch);
 *  - the session's evaluation windows are the first full 256-byte test
 *    windows in the corpus order; per stratum (all, 10 groups, pos0-31,
 *    pos32-127, pos128+, shifted) its n, fp32 bpc and top1 equal the
 *    direct pass's;
 *  - int8 weights with per-token int8 activations: the session's quantized
 *    bpc equals the int8 kernels (eng_qmodel) run directly;
 *  - --kv int8 / int4: the session's quantized bpc equals a direct pass
 *    whose kv_round hook is the scalar rounding written here (one scale
 *    absmax / qmax per token and head, round half to even); with that
 *    hook incremental decoding with a cache equals the full pass; the KV
 *    bytes per token are the hand-computed ones for d_model 128, 4 heads,
 *    4 blocks (fp32 4096, int8 1152, int4 640, fp8 1152);
 *  - first_divergence: greedy generation of 224 tokens from the same 64
 *    prompts, one prompt at a time with its own cache, fp32 against the
 *    int8 kernels, gives the session's mean, prompt count and identical
 *    count on `all` and on each group;
 *  - --kv on rnn-text is refused with a sentence.
 * (--attn int8 is run end to end by test_dec_cli.sh.)
 * Skipped when the fortunes are not installed. */
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

#define WIN 256
#define NWIN 16 /* evaluated windows: 4096 tokens */
#define NSTRATA FT_LM_NSTRATA(3)
#define CARD_BPC 2.1713
#define CARD_BYTES 272951
#define PROMPTS 64
#define PROMPT 32
#define GEN 224

/* ------------------------------------------------- KV rounding (scalar) */

typedef struct {
	int qmax, d_model, d_head;
	long calls;
} kv_ref;

/* Each row's heads: code = round-half-even(x / (absmax / qmax)), clamped to
 * +-qmax, back to code * scale; a head of zeros stays. */
static void round_rows(const kv_ref *r, int rows, float *x, int ld)
{
	for (int i = 0; i < rows; i++)
		for (int h = 0; h < r->d_model / r->d_head; h++) {
			float *v = x + (size_t)i * ld + (size_t)h * r->d_head, amax = 0;
			for (int t = 0; t < r->d_head; t++)
				amax = fabsf(v[t]) > amax ? fabsf(v[t]) : amax;
			if (amax == 0)
				continue;
			float scale = amax / (float)r->qmax;
			for (int t = 0; t < r->d_head; t++) {
				float code = nearbyintf(v[t] / scale);
				code = code > r->qmax ? (float)r->qmax : code < -r->qmax ? (float)-r->qmax : code;
				v[t] = code * scale;
			}
		}
}

/* Records what kv_hook gives for each block and position (rec = 1), or
 * hands the recorded rows back in place of the new ones (rec = 0), so a
 * second pass reads exactly the first pass's rounded keys and values;
 * `flips` counts values the scalar rounding would have coded differently
 * there (float noise of the two paths across a code boundary). */
typedef struct {
	kv_ref r;
	int rec, d, pos[8];
	float *k, *v; /* layer x context x d */
	long flips;
} kv_replay;

static int replay_hook(void *user, int layer, int rows, float *k, float *v, int ld, char *err, size_t errlen)
{
	kv_replay *p = user;
	if (layer < 0 || layer >= 8 || p->pos[layer] + rows > WIN) {
		snprintf(err, errlen, "replay: block %d, %d rows past position %d", layer, rows, layer < 8 ? p->pos[layer] : -1);
		return -1;
	}
	round_rows(&p->r, rows, k, ld);
	round_rows(&p->r, rows, v, ld);
	for (int i = 0; i < rows; i++) {
		float *ks = p->k + ((size_t)layer * WIN + p->pos[layer] + i) * p->d;
		float *vs = p->v + ((size_t)layer * WIN + p->pos[layer] + i) * p->d;
		for (int j = 0; j < p->d; j++) {
			float *kr = k + (size_t)i * ld + j, *vr = v + (size_t)i * ld + j;
			if (p->rec) {
				ks[j] = *kr, vs[j] = *vr;
				continue;
			}
			/* float noise moves a value by ulps; a code, by a step */
			p->flips += (fabsf(*kr - ks[j]) > 1e-4f * (1 + fabsf(ks[j]))) +
				    (fabsf(*vr - vs[j]) > 1e-4f * (1 + fabsf(vs[j])));
			*kr = ks[j], *vr = vs[j];
		}
	}
	p->pos[layer] += rows;
	return 0;
}

static int kv_hook(void *user, int layer, int rows, float *k, float *v, int ld, char *err, size_t errlen)
{
	(void)layer, (void)err, (void)errlen;
	kv_ref *r = user;
	round_rows(r, rows, k, ld);
	round_rows(r, rows, v, ld);
	r->calls++;
	return 0;
}

/* Greedy generation of GEN tokens after a PROMPT-token prompt, one token
 * per call after the prefill, in a cache of its own. */
static int generate(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, const int32_t *prompt, int *out)
{
	char err[256];
	eng_kv *kv = eng_kv_create(m, 1, PROMPT + GEN, err, sizeof err);
	float z[256];
	int32_t off[2] = {0, PROMPT}, tok[1];
	eng_seq_batch b = {1, off, prompt};
	int st = kv ? 0 : -1;
	for (int step = 0; !st && step < GEN; step++) {
		if ((st = eng_seq_decode(m, h, ws, kv, NULL, &b, ENG_LOGITS_LAST, z, err, sizeof err))) {
			diag("%s", err);
			break;
		}
		int best = 0;
		for (int k = 1; k < 256; k++)
			best = z[k] > z[best] ? k : best;
		out[step] = best;
		tok[0] = best, off[1] = 1;
		b.off = off, b.tok = tok;
	}
	eng_kv_destroy(kv);
	return st;
}

/* The strata: -1 all, 0..9 the groups, 10..12 the position buckets
 * (boundaries 32 and 128, written out here), 13 shifted. */
static int pos_bucket(int pos)
{
	return pos < 32 ? 0 : pos < 128 ? 1 : 2;
}

static const char *const pos_names[] = {"pos0-31", "pos32-127", "pos128+"};
static const ft_lm_layout layout = {WIN, 3, pos_names, pos_bucket};

int main(void)
{
	char err[512];
	eng_corpus c;
	eng_seq_model *m = ft_lm_load(&c, "decoder-text", "decoder", err, sizeof err);
	if (!m)
		return tap_done();
	ok(m->d_model == 128 && m->n_heads == 4 && m->n_layers == 4 && m->context == WIN,
	   "d_model %d, %d heads, %d blocks, context %d", m->d_model, m->n_heads, m->n_layers, m->context);
	kq_ctx *ctx = kq_ctx_create(1);
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);

	/* ---- the model against its card: 256-byte windows of the test fortunes */
	ft_lm_check_card(m, &h, &c, WIN, 1, "windows", CARD_BYTES, CARD_BPC);

	/* ---- the session's windows: the first NWIN full test windows */
	eng_text_win *all = NULL;
	int nfull = ft_lm_full_windows(&c, WIN, &all, err, sizeof err);
	int nw = nfull < NWIN ? nfull : NWIN, n = nw * WIN;
	int *pref = malloc((size_t)n * sizeof(int)), *pq = malloc((size_t)n * sizeof(int));
	double *vref = malloc((size_t)n * sizeof *vref), *vq = malloc((size_t)n * sizeof *vq);
	ok(nw == NWIN && ft_lm_run(m, &h, &c, all, nw, 1, vref, pref, NULL) == 0, "direct fp32 pass over %d windows", nw);

	eng_session_opts so = {.model = "decoder-text", .threads = 2, .seed = 1, .eval_n = n + 100, .resamples = 200};
	eng_session *s;
	cJSON *rt = ft_token_session(&so, &s, err, sizeof err);
	if (!rt)
		return tap_done();
	ft_lm_check_result(&layout, rt, "decoder", n + 100, &c, all, nw, vref, pref);

	/* ---- per-token int8: the session == the kernels run directly */
	eng_qmodel *qm;
	eng_qrunner *qr = ft_token_qrunner(m, ctx, &qm, err, sizeof err);
	if (!ok(qr != NULL, "direct qmodel for the token recipe (%s)", qr ? "ok" : err))
		return tap_done();
	eng_seq_hooks hq = h;
	hq.lin = eng_backend_quant(qr);
	ok(ft_lm_run(m, &hq, &c, all, nw, 1, vq, pq, NULL) == 0, "direct int8 kernel pass");
	double bq_tok = ft_lm_in_domain_mean(vq, all, n, WIN), got = eng_json_num(ft_stratum(rt, "all"), "quant");
	ok(fabs(got - bq_tok) < 2e-5, "session quantized bpc %.5f equals the int8 kernels run directly %.5f", got, bq_tok);
	ok(eng_json_num(rt, "memory.kv_bytes_per_token_ref") == 4096 &&
		   eng_json_num(rt, "memory.kv_bytes_per_token_quant") == 4096 &&
		   eng_json_num(rt, "memory.kv_bytes_quant") == 4096.0 * 256 && eng_json_num(rt, "memory.kv_context") == 256 &&
		   !strcmp(eng_json_str(rt, "memory.kv_storage"), "fp32"),
	   "fp32 KV cache: 2 x 4 blocks x 128 x 4 bytes = 4096 per token, %g for the 256-token context",
	   eng_json_num(rt, "memory.kv_bytes_quant"));

	/* ---- first_divergence, recomputed one prompt at a time */
	int32_t *prompt = malloc((size_t)PROMPTS * PROMPT * sizeof *prompt);
	int *pgroup = malloc(PROMPTS * sizeof *pgroup), np = 0;
	for (int i = 0; i < nfull && np < PROMPTS; i++) {
		if (all[i].group >= ENG_TEXT_GROUPS)
			continue;
		const uint8_t *p = eng_corpus_win_bytes(&c, &all[i]);
		for (int j = 0; j < PROMPT; j++)
			prompt[(size_t)np * PROMPT + j] = p[j];
		pgroup[np++] = all[i].group;
	}
	int *gr = malloc(GEN * sizeof *gr), *gq = malloc(GEN * sizeof *gq), fd[PROMPTS], gen_ok = np == PROMPTS;
	eng_seq_ws *ws = eng_seq_ws_create();
	for (int p = 0; gen_ok && p < np; p++) {
		gen_ok = generate(m, &h, ws, prompt + (size_t)p * PROMPT, gr) == 0 &&
			 generate(m, &hq, ws, prompt + (size_t)p * PROMPT, gq) == 0;
		fd[p] = 0;
		while (gen_ok && fd[p] < GEN && gr[fd[p]] == gq[fd[p]])
			fd[p]++;
	}
	if (ok(gen_ok, "greedy generation of %d tokens from %d prompts, fp32 and int8, directly", GEN, np)) {
		int gbad = 0, groups_seen = 0;
		for (int k = -1; k < ENG_TEXT_GROUPS; k++) {
			double sum = 0;
			int cnt = 0, same = 0;
			for (int p = 0; p < np; p++)
				if (k < 0 || pgroup[p] == k)
					sum += fd[p], cnt++, same += fd[p] == GEN;
			const char *name = ft_lm_stratum_name(&layout, &c, k);
			const cJSON *st = ft_stratum(rt, name), *o = eng_json_get(st, "extra.first_divergence");
			if (!cnt) {
				gbad += o != NULL;
				continue;
			}
			groups_seen += k >= 0;
			double mean = sum / cnt, v = eng_json_num(o, "value");
			if (!o || fabs(v - mean) > 1e-4 || eng_json_num(o, "prompts") != cnt ||
			    eng_json_num(o, "identical") != same || eng_json_num(o, "of") != GEN) {
				diag("%s: session %g over %g prompts (%g identical), direct %g over %d (%d)", name, v,
				     eng_json_num(o, "prompts"), eng_json_num(o, "identical"), mean, cnt, same);
				gbad++;
			}
			if (k < 0)
				ok(o && fabs(v - mean) <= 1e-4 && eng_json_num(o, "prompts") == cnt &&
					   eng_json_num(o, "identical") == same,
				   "first_divergence on all: %g tokens over %g prompts, %g identical; direct %.4f over %d, %d", v,
				   eng_json_num(o, "prompts"), eng_json_num(o, "identical"), mean, cnt, same);
		}
		ok(gbad == 0 && groups_seen > 1, "first_divergence of each of the %d groups with prompts equals the direct one",
		   groups_seen);
	}
	int diverged = 0;
	for (int p = 0; gen_ok && p < np; p++)
		diverged += fd[p] < GEN;
	diag("direct generation: %d of %d prompts diverge", diverged, np);

	/* ---- --kv int8 / int4: the session's bpc == the scalar rounding here */
	static const struct {
		const char *name;
		int qmax;
		double bytes;
	} kvs[] = {{"int8", 127, 1152}, {"int4", 7, 640}};
	double bkv[2] = {NAN, NAN};
	for (int f = 0; f < 2; f++) {
		const char *opts[] = {"act-granularity", "token", "kv", kvs[f].name, NULL};
		cJSON *rk = ft_eval(s, opts, err, sizeof err);
		if (!ok(rk != NULL, "eval --kv %s (%s)", kvs[f].name, rk ? "ok" : err))
			continue;
		kv_ref kr = {kvs[f].qmax, m->d_model, m->d_head, 0};
		eng_seq_hooks hk = hq;
		hk.kv_round = kv_hook, hk.kv_user = &kr;
		double *vk = malloc((size_t)n * sizeof *vk);
		int *pk = malloc((size_t)n * sizeof *pk);
		int rc = ft_lm_run(m, &hk, &c, all, nw, 1, vk, pk, NULL);
		bkv[f] = ft_lm_in_domain_mean(vk, all, n, WIN);
		double sq = eng_json_num(ft_stratum(rk, "all"), "quant");
		ok(rc == 0 && kr.calls == (long)nw * m->n_layers && fabs(sq - bkv[f]) < 2e-5,
		   "--kv %s: session bpc %.5f equals int8 kernels with the scalar KV rounding %.5f (without: %.5f)",
		   kvs[f].name, sq, bkv[f], bq_tok);
		ok(eng_json_num(rk, "memory.kv_bytes_per_token_quant") == kvs[f].bytes &&
			   eng_json_num(rk, "memory.kv_bytes_quant") == kvs[f].bytes * 256 &&
			   eng_json_num(rk, "memory.kv_bytes_ref") == 4096.0 * 256 &&
			   strstr(eng_json_str(rk, "memory.kv_storage"), "per token and head") &&
			   !strcmp(eng_json_str(rk, "recipe.kv"), kvs[f].name),
		   "--kv %s: %g bytes per token (2 x 4 x (128 x %d / 8 + 4 x 4)), %g per context", kvs[f].name,
		   eng_json_num(rk, "memory.kv_bytes_per_token_quant"), f ? 4 : 8, eng_json_num(rk, "memory.kv_bytes_quant"));
		free(vk), free(pk);
		cJSON_Delete(rk);
	}
	ok(bkv[1] - bq_tok > 5 * fabs(bkv[0] - bq_tok) && bkv[1] - bq_tok > 1e-3,
	   "int4 keys and values cost bits (%+.5f), int8 ones much less (%+.5f)", bkv[1] - bq_tok, bkv[0] - bq_tok);
	const char *fp8_opts[] = {"act-granularity", "token", "kv", "fp8-e4m3", NULL};
	cJSON *r8 = ft_eval(s, fp8_opts, err, sizeof err);
	ok(r8 && eng_json_num(r8, "memory.kv_bytes_per_token_quant") == 1152 &&
		   fabs(eng_json_num(ft_stratum(r8, "all"), "quant") - bq_tok) < 0.05,
	   "--kv fp8-e4m3: 1152 bytes per token, bpc %.5f (%s)", r8 ? eng_json_num(ft_stratum(r8, "all"), "quant") : NAN,
	   r8 ? "ok" : err);
	cJSON_Delete(r8);

	/* ---- a rounded cache: incremental decoding == the full pass.  The
	 * full pass records its int4-rounded keys and values; the incremental
	 * one (prefill 100, then one token per call) gets those back from the
	 * hook, so the cache must hold what the hook returned, in both modes. */
	{
		kv_replay rp = {{7, m->d_model, m->d_head, 0}, 1, m->d_model, {0}, NULL, NULL, 0};
		rp.k = malloc((size_t)m->n_layers * WIN * m->d_model * sizeof *rp.k);
		rp.v = malloc((size_t)m->n_layers * WIN * m->d_model * sizeof *rp.v);
		eng_seq_hooks hk = h;
		hk.kv_round = replay_hook, hk.kv_user = &rp;
		const uint8_t *p = eng_corpus_win_bytes(&c, &all[0]);
		int32_t tok[WIN], off[2] = {0, WIN};
		for (int j = 0; j < WIN; j++)
			tok[j] = p[j];
		float *full = malloc((size_t)WIN * 256 * sizeof *full), *inc = malloc((size_t)WIN * 256 * sizeof *inc),
		      *f32 = malloc((size_t)WIN * 256 * sizeof *f32);
		eng_seq_batch b = {1, off, tok};
		int rc = m->n_layers > 8 || eng_seq_decode(m, &hk, ws, NULL, NULL, &b, ENG_LOGITS_ALL, full, err, sizeof err);
		rc |= eng_seq_decode(m, &h, ws, NULL, NULL, &b, ENG_LOGITS_ALL, f32, err, sizeof err);
		eng_kv *kv = eng_kv_create(m, 1, WIN, err, sizeof err);
		rp.rec = 0;
		memset(rp.pos, 0, sizeof rp.pos);
		off[1] = 100;
		rc |= !kv || eng_seq_decode(m, &hk, ws, kv, NULL, &b, ENG_LOGITS_ALL, inc, err, sizeof err);
		for (int t = 100; t < WIN && !rc; t++) {
			int32_t o1[2] = {0, 1};
			eng_seq_batch one = {1, o1, tok + t};
			rc = eng_seq_decode(m, &hk, ws, kv, NULL, &one, ENG_LOGITS_LAST, inc + (size_t)t * 256, err, sizeof err);
		}
		double moved = 0, d = 0, scale = 1, dp = 0;
		for (int t = 0; t < WIN; t++) {
			const float *x = full + (size_t)t * 256, *y = inc + (size_t)t * 256;
			double mx = -1e30, my = -1e30, sx = 0, sy = 0;
			for (int k = 0; k < 256; k++) {
				d = fmax(d, fabs((double)x[k] - y[k]));
				moved = fmax(moved, fabs((double)x[k] - f32[(size_t)t * 256 + k]));
				scale = fmax(scale, fabs((double)x[k]));
				mx = fmax(mx, x[k]), my = fmax(my, y[k]);
			}
			for (int k = 0; k < 256; k++)
				sx += exp(x[k] - mx), sy += exp(y[k] - my);
			for (int k = 0; k < 256; k++)
				dp = fmax(dp, fabs(exp(x[k] - mx) / sx - exp(y[k] - my) / sy));
		}
		long nvals = 2L * m->n_layers * WIN * m->d_model;
		/* the paths' float rounding, as for an fp32 cache (test_seq_model) */
		ok(rc == 0 && rp.pos[0] == WIN && moved > 0.1 && d <= 2e-6 * scale && dp <= 1e-5 && rp.flips * 1000 < nvals,
		   "int4 KV cache: prefill 100 + 156 single steps = the full pass (logits to %.3g, probabilities to %.3g; "
		   "rounding moved logits %.3g; %ld of %ld codes at a boundary)",
		   d, dp, moved, rp.flips, nvals);
		eng_kv_destroy(kv);
		free(full), free(inc), free(f32), free(rp.k), free(rp.v);
	}

	/* ---- --kv is refused on the rnn */
	cJSON_Delete(rt);
	eng_session_destroy(s);
	eng_session_opts ro = {.model = "rnn-text", .threads = 1, .seed = 1, .eval_n = 2048, .resamples = 100};
	eng_session *rs = eng_session_create(&ro, err, sizeof err);
	const char *kv_opts[] = {"kv", "int4", NULL};
	cJSON *rk = rs ? ft_eval(rs, kv_opts, err, sizeof err) : NULL;
	ok(rs && !rk && strstr(err, "--kv int4: the rnn family has no KV cache"), "--kv int4 on rnn-text is refused: %s",
	   err);
	cJSON_Delete(rk);
	eng_session_destroy(rs);

	/* ---- models list */
	cJSON *ml = eng_models_json(err, sizeof err);
	const cJSON *e;
	int listed = 0;
	cJSON_ArrayForEach(e, ml)
	{
		const char *nm = eng_json_str(e, "name");
		if ((!strcmp(nm, "decoder-text") || !strcmp(nm, "decoder-text-outliers")) &&
		    !strcmp(eng_json_str(e, "family"), "decoder") && !strcmp(eng_json_str(e, "metric"), "bpc") &&
		    cJSON_GetArraySize(eng_json_get(e, "strata")) == NSTRATA &&
		    !strcmp(eng_json_str(e, "strata.13"), "pos128+"))
			listed++;
	}
	ok(listed == 2, "models lists decoder-text and decoder-text-outliers (decoder, bpc, %d strata)", NSTRATA);
	cJSON_Delete(ml);

	eng_seq_ws_destroy(ws);
	free(prompt), free(pgroup), free(gr), free(gq);
	eng_qrunner_destroy(qr);
	eng_qmodel_destroy(qm);
	free(all), free(pref), free(pq), free(vref), free(vq);
	kq_ctx_destroy(ctx);
	eng_seq_destroy(m);
	eng_corpus_done(&c);
	return tap_done();
}
