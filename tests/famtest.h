/* SPDX-License-Identifier: GPL-3.0-or-later */
/* famtest.h - what the family tests through the session share
 * (test_fam_text, test_fam_dec, test_fam_rnn): running a recipe, finding a
 * stratum in a result, and for the language models a direct pass over
 * evaluation windows and the strata recomputed from it.
 *
 * The functions in famtest.c compute and never emit a test point (tap.h
 * keeps its counters per program unit); the checks that do are the static
 * inline ones at the end, compiled into the test that calls them.  Every
 * reference is computed here from the corpus and the model run directly,
 * never taken from the session. */
#ifndef PRECIS_FAMTEST_H
#define PRECIS_FAMTEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_seq.h"
#include "tap.h"

/* $top_srcdir, or "." */
const char *ft_srcdir(void);

/* eng_session_eval_ex without the benchmark for the default recipe with
 * opts (NULL-terminated name, value pairs) set; NULL with err on failure. */
cJSON *ft_eval(eng_session *s, const char *const *opts, char *err, size_t errlen);

/* The stratum called name in a result's eval.strata, or NULL. */
const cJSON *ft_stratum(const cJSON *res, const char *name);

/* ---------------------------------------------------- language models */

/* What differs between the language-model families' layouts: the window
 * length, the position buckets (count, names, and the test's own bucket
 * function with the boundaries written out).  Strata are numbered in the
 * session's order: -1 all, 0..ENG_TEXT_GROUPS-1 the groups, then the
 * buckets, last shifted. */
typedef struct {
	int win, nbuckets;
	const char *const *bucket_name;
	int (*bucket)(int pos);
} ft_lm_layout;

#define FT_LM_NSTRATA(nbuckets) (1 + ENG_TEXT_GROUPS + (nbuckets) + 1)

const char *ft_lm_stratum_name(const ft_lm_layout *L, const eng_corpus *c, int k);
int ft_lm_in_stratum(const ft_lm_layout *L, int k, int group, int pos);

/* Runs windows w[0..nw) through hooks h without a cache or state
 * (eng_seq_decode or eng_seq_rnn after m->kind), `per` windows per call,
 * each from position 0, and stores per token -log2 p(next), computed in
 * double from the logits, the argmax and, when logits_out is not NULL,
 * the 256 logits.  Tokens are laid out window after window.  0 or -1. */
int ft_lm_run(const eng_seq_model *m, const eng_seq_hooks *h, const eng_corpus *c, const eng_text_win *w, int nw,
	      int per, double *val, int *pred, float *logits_out);

/* The test split in win-byte windows (partial ones too) run through h, per
 * windows a call: the predicted bytes, the windows and the mean bpc
 * (NaN when the run fails).  The run's status. */
int ft_lm_corpus_bpc(const eng_seq_model *m, const eng_seq_hooks *h, const eng_corpus *c, int win, int per,
		     long *nbytes, int *nwin, double *bpc);

/* The full win-byte test windows in the corpus order into *all (freed by
 * the caller); their count. */
int ft_lm_full_windows(const eng_corpus *c, int win, eng_text_win **all, char *err, size_t errlen);

/* Strata of a result whose n, ref (fp32 bpc) and extra.top1.ref differ
 * from the ones recomputed from the direct pass vref/pref over all[0..nw)
 * (each named in a diagnostic). */
int ft_lm_strata_mismatches(const ft_lm_layout *L, const cJSON *res, const eng_corpus *c, const eng_text_win *all,
			    int nw, const double *vref, const int *pref);

/* Mean of v over the in-domain tokens of windows of win tokens. */
double ft_lm_in_domain_mean(const double *v, const eng_text_win *all, int n, int win);

/* The per-token int8 recipe's quantized model and runner on m (NULL with
 * err on failure; *qm is set either way, for eng_qmodel_destroy). */
eng_qrunner *ft_token_qrunner(const eng_seq_model *m, kq_ctx *ctx, eng_qmodel **qm, char *err, size_t errlen);

/* KL(p || q) in bits of the softmaxes of two rows of 256 logits, in double. */
double ft_kld_bits(const float *p, const float *q);

/* ------------------------------------------- checks (test points) */

/* The fortunes into *c and the model called `model` from data/models: a
 * skipped point naming `family` when the fortunes are not installed (NULL),
 * else a point for the model's loading (NULL with err when it fails). */
static inline eng_seq_model *ft_lm_load(eng_corpus *c, const char *model, const char *family, char *err,
					size_t errlen)
{
	char path[1024];
	if (eng_corpus_load(c, NULL, NULL, err, errlen)) {
		skip(err, "%s family (fortunes not installed)", family);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/data/models/%s.safetensors", ft_srcdir(), model);
	eng_seq_model *m = eng_seq_load(path, err, errlen);
	ok(m != NULL, "%s loads (%s)", model, m ? "ok" : err);
	return m;
}

/* A session with options so into *sp and its result for int8 weights with
 * per-token int8 activations: a point each; NULL when either fails. */
static inline cJSON *ft_token_session(const eng_session_opts *so, eng_session **sp, char *err, size_t errlen)
{
	*sp = eng_session_create(so, err, errlen);
	if (!ok(*sp != NULL, "session on %s (%s)", so->model, *sp ? "ok" : err))
		return NULL;
	const char *tok_opts[] = {"act-granularity", "token", NULL};
	cJSON *rt = ft_eval(*sp, tok_opts, err, errlen);
	ok(rt != NULL, "eval int8 weights, per-token int8 activations (%s)", rt ? "ok" : err);
	return rt;
}

/* The model against its card: bytes and fp32 bpc over the test split in
 * win-byte pieces (`what`: "windows", "segments"); 2 or 3 points. */
static inline void ft_lm_check_card(const eng_seq_model *m, const eng_seq_hooks *h, const eng_corpus *c, int win,
				    int per, const char *what, long card_bytes, double card_bpc)
{
	long nbytes = 0;
	int nseg = 0;
	double bpc = NAN;
	int st = ft_lm_corpus_bpc(m, h, c, win, per, &nbytes, &nseg, &bpc);
	ok(nbytes == card_bytes, "test fortunes: %ld predicted bytes in %d %s (card: %ld)", nbytes, nseg, what,
	   card_bytes);
	if (ok(nseg > 0 && st == 0, "direct fp32 pass over the %s", what))
		ok(fabs(bpc - card_bpc) < 2e-4, "fp32 test bpc %.5f equals the model card's %.4f", bpc, card_bpc);
}

/* A session's result against the direct pass over its windows: tokens,
 * metric and family, the cluster interval's wording, the strata and each
 * stratum's n, fp32 bpc and top1; 5 points. */
static inline void ft_lm_check_result(const ft_lm_layout *L, const cJSON *rt, const char *family, int eval_n,
				      const eng_corpus *c, const eng_text_win *all, int nw, const double *vref,
				      const int *pref)
{
	int n = nw * L->win, nstrata = FT_LM_NSTRATA(L->nbuckets);
	ok(eng_json_num(rt, "eval.n") == n, "--eval-n %d is cut to whole windows: %g tokens", eval_n,
	   eng_json_num(rt, "eval.n"));
	ok(!strcmp(eng_json_str(rt, "metric"), "bpc") && !cJSON_IsTrue(eng_json_get(rt, "eval.higher_is_better")) &&
		   !strcmp(eng_json_str(rt, "model.family"), family),
	   "metric bpc, lower is better, family %s", family);
	const char *cim = eng_json_str(rt, "eval.ci_method");
	char want_cim[96], names[256] = "";
	snprintf(want_cim, sizeof want_cim, "%d evaluation windows of %d tokens", nw, L->win);
	ok(strstr(cim, "cluster") && strstr(cim, want_cim), "ci_method names the window clusters: %s", cim);
	for (int b = 0; b < L->nbuckets; b++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s, ", L->bucket_name[b]);
	ok(cJSON_GetArraySize(eng_json_get(rt, "eval.strata")) == nstrata, "%d strata: all, %d groups, %sshifted",
	   cJSON_GetArraySize(eng_json_get(rt, "eval.strata")), ENG_TEXT_GROUPS, names);
	ok(ft_lm_strata_mismatches(L, rt, c, all, nw, vref, pref) == 0,
	   "every stratum's n, fp32 bpc and top1 equal the direct pass's");
}

#endif
