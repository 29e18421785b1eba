/* SPDX-License-Identifier: GPL-3.0-or-later */
/* famtest.c - what the family tests through the session share; see
 * famtest.h.  No test points here: the callers' ok() keeps the count. */
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

const char *ft_srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

cJSON *ft_eval(eng_session *s, const char *const *opts, char *err, size_t errlen)
{
	eng_recipe r;
	eng_recipe_default(&r);
	for (int i = 0; opts && opts[i]; i += 2)
		if (eng_recipe_set(&r, opts[i], opts[i + 1], err, errlen))
			return NULL;
	return eng_session_eval_ex(s, &r, ENG_EVAL_NO_BENCH, NULL, NULL, NULL, err, errlen);
}

const cJSON *ft_stratum(const cJSON *res, const char *name)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, eng_json_get(res, "eval.strata")) if (!strcmp(eng_json_str(s, "name"), name)) return s;
	return NULL;
}

const char *ft_lm_stratum_name(const ft_lm_layout *L, const eng_corpus *c, int k)
{
	return k < 0			      ? "all"
	       : k < ENG_TEXT_GROUPS	      ? c->group[k]
	       : k < ENG_TEXT_GROUPS + L->nbuckets ? L->bucket_name[k - ENG_TEXT_GROUPS]
						    : "shifted";
}

int ft_lm_in_stratum(const ft_lm_layout *L, int k, int group, int pos)
{
	if (k < 0)
		return group < ENG_TEXT_GROUPS;
	if (k < ENG_TEXT_GROUPS)
		return group == k;
	if (k < ENG_TEXT_GROUPS + L->nbuckets)
		return group < ENG_TEXT_GROUPS && L->bucket(pos) == k - ENG_TEXT_GROUPS;
	return group == ENG_TEXT_GROUPS;
}

int ft_lm_run(const eng_seq_model *m, const eng_seq_hooks *h, const eng_corpus *c, const eng_text_win *w, int nw,
	      int per, double *val, int *pred, float *logits_out)
{
	if (m->kind != ENG_SEQ_DECODER && m->kind != ENG_SEQ_RNN) {
		diag("ft_lm_run: %s is not a language model", m->base.name);
		return -1;
	}
	eng_seq_ws *ws = eng_seq_ws_create();
	int maxn = 0, st = 0;
	for (int i = 0; i < nw; i++)
		maxn = w[i].n > maxn ? w[i].n : maxn;
	int32_t *tok = malloc((size_t)per * maxn * sizeof *tok + 1), *off = malloc((size_t)(per + 1) * sizeof *off);
	float *lg = malloc((size_t)per * maxn * 256 * sizeof *lg + 1);
	char err[256];
	size_t out = 0;
	for (int b = 0; !st && b < nw; b += per) {
		int nb = nw - b < per ? nw - b : per, nt = 0;
		off[0] = 0;
		for (int i = 0; i < nb; i++) {
			const uint8_t *p = eng_corpus_win_bytes(c, &w[b + i]);
			for (int j = 0; j < w[b + i].n; j++)
				tok[nt++] = p[j];
			off[i + 1] = nt;
		}
		eng_seq_batch bt = {nb, off, tok};
		st = m->kind == ENG_SEQ_DECODER
			     ? eng_seq_decode(m, h, ws, NULL, NULL, &bt, ENG_LOGITS_ALL, lg, err, sizeof err)
			     : eng_seq_rnn(m, h, ws, NULL, &bt, ENG_LOGITS_ALL, lg, err, sizeof err);
		if (st)
			diag("%s", err);
		for (int i = 0; !st && i < nb; i++) {
			const uint8_t *p = eng_corpus_win_bytes(c, &w[b + i]);
			for (int j = 0; j < w[b + i].n; j++, out++) {
				const float *z = lg + (size_t)(off[i] + j) * 256;
				int best = 0;
				double sum = 0;
				for (int k = 1; k < 256; k++)
					best = z[k] > z[best] ? k : best;
				for (int k = 0; k < 256; k++)
					sum += exp((double)z[k] - z[best]);
				val[out] = (log(sum) + z[best] - z[p[j + 1]]) / log(2.0);
				pred[out] = best;
				if (logits_out)
					memcpy(logits_out + out * 256, z, 256 * sizeof *z);
			}
		}
	}
	free(tok), free(off), free(lg);
	eng_seq_ws_destroy(ws);
	return st;
}

int ft_lm_corpus_bpc(const eng_seq_model *m, const eng_seq_hooks *h, const eng_corpus *c, int win, int per,
		     long *nbytes, int *nwin, double *bpc)
{
	eng_text_win *seg = NULL;
	char err[256];
	int nseg = eng_corpus_windows(c, ENG_SPLIT_TEST, win, 0, &seg, err, sizeof err), st = -1;
	long nb = 0;
	for (int i = 0; i < nseg; i++)
		nb += seg[i].n;
	*nbytes = nb, *nwin = nseg, *bpc = NAN;
	double *sv = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *sv);
	int *sp = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *sp);
	if (nseg > 0 && (st = ft_lm_run(m, h, c, seg, nseg, per, sv, sp, NULL)) == 0 && nb > 0) {
		double sum = 0;
		for (long i = 0; i < nb; i++)
			sum += sv[i];
		*bpc = sum / nb;
	}
	free(sv), free(sp), free(seg);
	return st;
}

int ft_lm_full_windows(const eng_corpus *c, int win, eng_text_win **all, char *err, size_t errlen)
{
	int nall = eng_corpus_windows(c, ENG_SPLIT_TEST, win, 1, all, err, errlen), nfull = 0;
	for (int i = 0; i < nall; i++)
		if ((*all)[i].n == win)
			(*all)[nfull++] = (*all)[i];
	return nfull;
}

int ft_lm_strata_mismatches(const ft_lm_layout *L, const cJSON *res, const eng_corpus *c, const eng_text_win *all,
			    int nw, const double *vref, const int *pref)
{
	int n = nw * L->win, bad = 0;
	for (int k = -1; k < FT_LM_NSTRATA(L->nbuckets) - 1; k++) {
		const char *name = ft_lm_stratum_name(L, c, k);
		double sum = 0;
		int cnt = 0, hit = 0;
		for (int i = 0; i < n; i++) {
			int pos = i % L->win;
			if (!ft_lm_in_stratum(L, k, all[i / L->win].group, pos))
				continue;
			cnt++, sum += vref[i];
			hit += pref[i] == eng_corpus_win_bytes(c, &all[i / L->win])[pos + 1];
		}
		const cJSON *st = ft_stratum(res, name);
		double bpc = cnt ? sum / cnt : NAN, top1 = cnt ? (double)hit / cnt : NAN;
		if (!st || (int)eng_json_num(st, "n") != cnt || (cnt && fabs(eng_json_num(st, "ref") - bpc) > 2e-5) ||
		    (cnt && fabs(eng_json_num(st, "extra.top1.ref") - top1) > 1e-9)) {
			diag("stratum %s: session n %g bpc %g top1 %g, direct n %d bpc %g top1 %g", name,
			     st ? eng_json_num(st, "n") : -1, st ? eng_json_num(st, "ref") : -1,
			     st ? eng_json_num(st, "extra.top1.ref") : -1, cnt, bpc, top1);
			bad++;
		}
	}
	return bad;
}

double ft_lm_in_domain_mean(const double *v, const eng_text_win *all, int n, int win)
{
	double sum = 0;
	int cnt = 0;
	for (int i = 0; i < n; i++)
		if (all[i / win].group < ENG_TEXT_GROUPS)
			sum += v[i], cnt++;
	return cnt ? sum / cnt : NAN;
}

eng_qrunner *ft_token_qrunner(const eng_seq_model *m, kq_ctx *ctx, eng_qmodel **qm, char *err, size_t errlen)
{
	eng_recipe r;
	eng_recipe_default(&r);
	*qm = NULL;
	if (eng_recipe_set(&r, "act-granularity", "token", err, errlen))
		return NULL;
	*qm = eng_qmodel_create(&m->base, &r, NULL, err, errlen);
	return *qm ? eng_qrunner_create(*qm, ctx) : NULL;
}

double ft_kld_bits(const float *x, const float *y)
{
	double ma = x[0], mb = y[0], sa = 0, sb = 0, dk = 0;
	for (int k = 1; k < 256; k++)
		ma = fmax(ma, x[k]), mb = fmax(mb, y[k]);
	for (int k = 0; k < 256; k++)
		sa += exp(x[k] - ma), sb += exp(y[k] - mb);
	for (int k = 0; k < 256; k++) {
		double la = x[k] - ma - log(sa), lb = y[k] - mb - log(sb);
		dk += exp(la) * (la - lb);
	}
	return dk / log(2.0);
}
