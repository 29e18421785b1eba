/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fam_rnn.c - the rnn family in the session's family table: rnn-text, a
 * byte-level GRU language model (2 layers x 256) on Debian fortunes, the
 * first language-model family (metric bpc, lower is better).
 *
 * DESIGN: a sample is one predicted token position.  The evaluation set
 * is the test split cut into windows of RNN_WIN = 128 predicted bytes
 * (eng_corpus_windows, fortune groups plus the shifted C headers; only
 * full windows, in the corpus's hash order), so a lane chunk of
 * SESS_LANE_BATCH = 128 samples is exactly one window.  Row i of the
 * sample matrix s->x holds two floats: the input byte and its position in
 * the window; the label is the true next byte.  The forward pass cuts its
 * rows into sequences at position 0 (and at the start of the call), runs
 * eng_seq_rnn once over them with the GRU state starting at zero, and
 * writes next-byte logits for every row, so the fp32, observing,
 * quantized and fake-quant backends drive the same code.  The state is
 * reset at each window (a chunk carrying the state of the previous one
 * would tie a lane to a whole window's chunks in order, which the
 * round-robin dealing of chunks does not give): positions are therefore
 * within-window positions 0-127 and only the strata pos0-63 and pos64-127
 * exist.  `all`, the groups and the position strata are the fortunes
 * (in-domain, as the model card's test bpc); the C headers form the
 * `shifted` stratum only.  The session (run.c) turns the logits into pred, conf and
 * value = -log2 p(true next byte) per sample, and the KL divergence from
 * the reference's next-byte distribution, because the family is a
 * language model (sess_family.lm).
 *
 * Threads: eng_seq_rnn needs scratch per thread; as in fam_text.c one per
 * lane plus one for the session's thread, found by the float scratch the
 * caller was handed. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_seq.h"
#include "eng_session_impl.h"

#define RNN_WIN SESS_LANE_BATCH /* predicted bytes per evaluation window */
#define RNN_DEFAULT_N 65536     /* default evaluated tokens (512 windows) */

typedef struct {
	eng_seq_ws *ws;
	int32_t *tok, *off;
	size_t tcap, ocap;
} rnn_lane;

typedef struct {
	eng_seq_model *m;
	eng_corpus corpus;
	int have_corpus;
	eng_text_win *win; /* the evaluation windows, s->n / RNN_WIN of them */
	int nwin;
	rnn_lane *lane; /* nlane: one per session lane, the last for the session's thread */
	int nlane;
} rnn_state;

static void lane_done(rnn_lane *l)
{
	eng_seq_ws_destroy(l->ws);
	free(l->tok), free(l->off);
	memset(l, 0, sizeof *l);
}

static int grow_i32(int32_t **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	int32_t *q = realloc(*p, n * sizeof *q);
	if (!q)
		return -1;
	*p = q, *cap = n;
	return 0;
}

static int rnn_open(eng_session *s, const char *path, char *err, size_t errlen)
{
	rnn_state *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fam_data = t;
	if (!(t->m = eng_seq_load(path, err, errlen)))
		return -1;
	if (t->m->kind != ENG_SEQ_RNN) {
		snprintf(err, errlen, "%s: family '%s' is not an rnn", path, t->m->base.family);
		return -1;
	}
	/* one sample = (input byte, position in its window); see DESIGN */
	t->m->base.in_c = 2;
	t->m->base.in_h = t->m->base.in_w = 1;
	s->m = &t->m->base;
	s->variant = t->m->variant;
	return 0;
}

static void rnn_close(eng_session *s)
{
	rnn_state *t = s->fam_data;
	s->m = NULL, s->variant = NULL, s->fam_data = NULL;
	if (!t)
		return;
	for (int i = 0; t->lane && i < t->nlane; i++)
		lane_done(&t->lane[i]);
	free(t->lane);
	if (t->have_corpus)
		eng_corpus_done(&t->corpus);
	free(t->win);
	eng_seq_destroy(t->m);
	free(t);
}

static void add_rnn_strata_names(cJSON *arr)
{
	static const char *const names[] = {"all",	"computing", "cookie", "definitions", "humour",	  "science",
					    "society",	"politics",  "work",   "literature",  "wisdom",	  "pos0-63",
					    "pos64-127", "shifted",   NULL};
	for (const char *const *n = names; *n; n++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(*n));
}

static cJSON *rnn_model_info(const char *path, char *err, size_t errlen)
{
	eng_seq_model *m = eng_seq_load(path, err, errlen);
	if (!m)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", m->base.name);
	cJSON_AddStringToObject(o, "family", m->base.family);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "params", (double)m->base.params);
	cJSON_AddStringToObject(o, "task", m->base.task);
	if (m->variant)
		cJSON_AddStringToObject(o, "variant", m->variant);
	add_rnn_strata_names(cJSON_AddArrayToObject(o, "strata"));
	eng_seq_destroy(m);
	return o;
}

/* Rows of window w (w->n of them) into x (2 floats each), labels into lab
 * (may be NULL). */
static void win_rows(const eng_corpus *c, const eng_text_win *w, int nrows, float *x, int *lab)
{
	const uint8_t *p = eng_corpus_win_bytes(c, w);
	for (int j = 0; j < nrows; j++) {
		x[2 * j] = (float)p[j];
		x[2 * j + 1] = (float)j;
		if (lab)
			lab[j] = p[j + 1];
	}
}

static int rnn_load(eng_session *s, char *err, size_t errlen)
{
	rnn_state *t = s->fam_data;
	if (eng_corpus_load(&t->corpus, NULL, NULL, err, errlen))
		return -1;
	t->have_corpus = 1;
	eng_text_win *all = NULL;
	int nall = eng_corpus_windows(&t->corpus, ENG_SPLIT_TEST, RNN_WIN, 1, &all, err, errlen);
	if (nall < 0)
		return -1;
	int nfull = 0;
	long tokens = 0;
	for (int i = 0; i < nall; i++) {
		tokens += all[i].n;
		if (all[i].n == RNN_WIN)
			all[nfull++] = all[i];
	}
	if (nfull == 0) {
		free(all);
		snprintf(err, errlen, "the corpus has no full test window of %d bytes", RNN_WIN);
		return -1;
	}
	/* --eval-n counts tokens; whole windows only (at least one) */
	int want = s->n > 0 ? s->n : RNN_DEFAULT_N, nw = want / RNN_WIN;
	nw = nw < 1 ? 1 : nw > nfull ? nfull : nw;
	t->win = all, t->nwin = nw;
	int n = nw * RNN_WIN;
	s->n = n;
	s->x = malloc((size_t)n * 2 * sizeof *s->x);
	s->label = malloc((size_t)n * sizeof *s->label);
	if (!s->x || !s->label) {
		snprintf(err, errlen, "out of memory for %d evaluation tokens", n);
		return -1;
	}
	for (int i = 0; i < nw; i++)
		win_rows(&t->corpus, &t->win[i], RNN_WIN, s->x + (size_t)i * RNN_WIN * 2, s->label + (size_t)i * RNN_WIN);
	snprintf(s->eval_desc, sizeof s->eval_desc,
		 "test split of Debian fortunes (10 groups) and libc6-dev C headers (shifted) in windows of %d bytes, "
		 "GRU state zero at each window start (%d of %d full windows in FNV-1a order: %d of %ld tokens), one "
		 "predicted byte per sample",
		 RNN_WIN, nw, nfull, n, tokens);
	t->nlane = s->threads + 1;
	t->lane = calloc((size_t)t->nlane, sizeof *t->lane);
	if (!t->lane) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < t->nlane; i++)
		if (!(t->lane[i].ws = eng_seq_ws_create())) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	return 0;
}

/* n calibration tokens: the first n rows of ceil(n / len) drawn windows
 * (representative: 128 bytes, the evaluation length; short: 64). */
static int rnn_calib_draw(eng_session *s, const char *set, int n, uint64_t seed, float **xout, char *err, size_t errlen)
{
	rnn_state *t = s->fam_data;
	int len = strcmp(set, "short") == 0 ? 64 : RNN_WIN, nw = (n + len - 1) / len;
	eng_text_win *w = NULL;
	if (n < 1) {
		snprintf(err, errlen, "--calib-set %s:%d: at least one token", set, n);
		return -1;
	}
	if (eng_corpus_calib(&t->corpus, set, nw, len, seed, &w, err, errlen))
		return -1;
	float *x = malloc((size_t)nw * len * 2 * sizeof *x);
	if (!x) {
		free(w);
		snprintf(err, errlen, "out of memory drawing %d calibration tokens", n);
		return -1;
	}
	for (int i = 0; i < nw; i++)
		win_rows(&t->corpus, &w[i], w[i].n < len ? w[i].n : len, x + (size_t)i * len * 2, NULL);
	free(w);
	*xout = x;
	return 0;
}

static int rnn_strata_build(eng_session *s, char *err, size_t errlen)
{
	rnn_state *t = s->fam_data;
	const eng_corpus *c = &t->corpus;
	int G = c->ngroups, n = s->n;
	s->nstrata = 1 + G + 2 + 1;
	s->strata = calloc((size_t)s->nstrata, sizeof *s->strata);
	if (!s->strata) {
		s->nstrata = 0;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < s->nstrata; i++)
		if (!(s->strata[i].idx = malloc((size_t)n * sizeof(int)))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	snprintf(s->strata[0].name, sizeof s->strata[0].name, "all");
	for (int g = 0; g < G; g++)
		snprintf(s->strata[1 + g].name, sizeof s->strata[0].name, "%s", c->group[g]);
	snprintf(s->strata[1 + G].name, sizeof s->strata[0].name, "pos0-63");
	snprintf(s->strata[2 + G].name, sizeof s->strata[0].name, "pos64-127");
	snprintf(s->strata[3 + G].name, sizeof s->strata[0].name, "%s", c->group[G]);
	for (int i = 0; i < n; i++) {
		int g = t->win[i / RNN_WIN].group, pos = i % RNN_WIN;
		if (g >= G) { /* the shifted domain is its own stratum only */
			s->strata[3 + G].idx[s->strata[3 + G].n++] = i;
			continue;
		}
		sess_stratum *st[] = {&s->strata[0], &s->strata[1 + g], &s->strata[1 + G + (pos >= 64)]};
		for (int k = 0; k < 3; k++)
			st[k]->idx[st[k]->n++] = i;
	}
	return 0;
}

static int rnn_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		       char *err, size_t errlen)
{
	rnn_state *t = s->fam_data;
	rnn_lane tmp = {0}, *l = NULL;
	kq_ctx *ctx = NULL;
	for (int i = 0; ws && i < s->nlanes && i < t->nlane - 1; i++)
		if (s->lanes[i].ws == ws)
			l = &t->lane[i], ctx = s->lanes[i].ctx1;
	if (!l && ws && ws == s->ws)
		l = &t->lane[t->nlane - 1];
	if (!l) {
		l = &tmp;
		if (!(tmp.ws = eng_seq_ws_create())) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	int st = -1, nseq = 0;
	if (grow_i32(&l->tok, &l->tcap, (size_t)batch + 1) || grow_i32(&l->off, &l->ocap, (size_t)batch + 1)) {
		snprintf(err, errlen, "out of memory for a batch of %d tokens", batch);
		goto out;
	}
	for (int i = 0; i < batch; i++) {
		if (i == 0 || x[2 * i + 1] == 0.0f)
			l->off[nseq++] = i;
		l->tok[i] = (int32_t)x[2 * i];
	}
	l->off[nseq] = batch;
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	h.lin = *be;
	eng_seq_batch b = {nseq, l->off, l->tok};
	st = eng_seq_rnn(t->m, &h, l->ws, NULL, &b, ENG_LOGITS_ALL, logits, err, errlen);
out:
	if (l == &tmp)
		lane_done(&tmp);
	return st;
}

static const char *const rnn_calib_sets[] = {"representative", "short", NULL};
static const char *const rnn_strata[] = {"group", NULL};
static const char *const rnn_metrics[] = {"bpc", "top1", NULL};
static const char *const rnn_models[] = {"rnn-text", NULL};

const sess_family sess_family_rnn = {
	.name = "rnn",
	.default_model = "rnn-text",
	.calib_sets = rnn_calib_sets,
	.calib_desc = "representative: N train-split tokens, the first N bytes of a seeded partial Fisher-Yates draw of "
		      "full 128-byte train windows (the evaluation length), state zero at each; short: the same with "
		      "64-byte windows",
	.strata_kinds = rnn_strata,
	.default_metric = ENG_METRIC_BPC,
	.metrics = rnn_metrics,
	.load = rnn_load,
	.calib_draw = rnn_calib_draw,
	.build_strata = rnn_strata_build,
	.forward = rnn_forward,
	.replayable = 0,
	.models = rnn_models,
	.open = rnn_open,
	.close = rnn_close,
	.model_info = rnn_model_info,
	.attention = 0,
	.lm = 1,
};
