/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fam_lm.c - the language-model families in the session's family table:
 * decoder (decoder-text and its -outliers stress variant, a byte-level
 * GPT with a KV cache) and rnn (rnn-text, a byte-level GRU), both on
 * Debian fortunes, metric bpc (lower is better).
 *
 * DESIGN: a sample is one predicted token position.  The evaluation set is
 * the test split cut into windows of `win` predicted bytes (decoder 256,
 * its context; rnn 2048, so drift along long sequences shows), only full
 * windows, in the corpus's hash order (eng_corpus_windows: fortune groups
 * plus the shifted C headers).  The session's lane chunk is one window
 * (s->chunk = win), so a window is always computed whole, in one forward
 * call, whatever the thread count.  Row i of the sample matrix s->x holds
 * the input byte and its position in the window; the label is the true
 * next byte.  The forward pass cuts its rows into sequences at position 0
 * (and at the start of the call) and runs them from an empty context (the
 * decoder, without a cache: the causal pass gives every position's
 * logits) or a zero GRU state, so the fp32, observing, quantized and
 * fake-quant backends drive the same code.  The session (run.c) turns the
 * logits into pred, conf and value = -log2 p(true next byte) per sample,
 * the language-model extras and window-cluster intervals
 * (sess_family.lm).  `all`, the groups and the position strata are the
 * fortunes (in-domain, as the model cards' test bpc); the C headers form
 * the `shifted` stratum only.
 *
 * Both add (lm_eval_extra) greedy generation from GEN_PROMPTS prompts
 * (the first GEN_PROMPT bytes of the first in-domain test windows) for
 * GEN_TOKENS tokens, so prompt plus generation fill the decoder's context,
 * with the quantized model against the fp32 one (computed once per session):
 * first_divergence is the number of tokens generated before the first
 * difference.  Prompts are dealt to lanes in fixed groups of GEN_GROUP
 * (one batched KV cache each), so the result does not depend on
 * --threads.  They also measure pp128 / tg128 at batch 1 on one thread
 * (bench_model.c's eng_seq_bench_tokens); the decoder reports its KV cache's bytes; --kv rounds
 * every new key and value through fam_seq.c's seq_kv_round_rows, with or
 * without a cache (labelled: the cache is held dequantized in fp32).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fam_seq.h"

#define GEN_PROMPTS 64
#define GEN_PROMPT 32
#define GEN_TOKENS 224 /* GEN_PROMPT + GEN_TOKENS = the decoder's context */
#define GEN_GROUP 32
#define LM_BENCH_REPEATS 3 /* bench model takes 5; eval keeps within its time budget */
#define LM_BENCH_SETTLE_MS 0 /* one thread each: no OpenBLAS pool left spinning */

typedef struct {
	eng_seq_kind kind;
	int win;       /* predicted bytes per evaluation window */
	int default_n; /* evaluated tokens by default */
	int rnn;       /* position buckets: eng_pos_bucket_rnn, else _dec */
} lm_spec;

static const lm_spec dec_spec = {ENG_SEQ_DECODER, 256, 65536, 0};
static const lm_spec rnn_spec = {ENG_SEQ_RNN, 2048, 131072, 1};

typedef struct {
	const lm_spec *spec;
	eng_seq_model *m;
	eng_corpus corpus;
	int have_corpus;
	eng_text_win *win; /* every full test window in evaluation order; the first nwin are evaluated */
	int nwin, nall;
	seq_lane *lane; /* nlane: one per session lane, the last for the session's thread */
	int nlane;
	/* decoder: generation prompts and the fp32 generation (NULL until run) */
	int ngen;
	int32_t *gen_prompt; /* ngen x GEN_PROMPT */
	int *gen_group;
	int32_t *gen_ref; /* ngen x GEN_TOKENS */
} lm_state;

static int npos(const lm_spec *sp)
{
	return sp->rnn ? 4 : 3;
}

static int pos_bucket(const lm_spec *sp, int pos)
{
	return sp->rnn ? eng_pos_bucket_rnn(pos) : eng_pos_bucket_dec(pos);
}

static int lm_open_kind(eng_session *s, const char *path, const lm_spec *sp, char *err, size_t errlen)
{
	lm_state *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fam_data = t;
	t->spec = sp;
	/* one sample = (input byte, position in its window); see DESIGN */
	if (seq_open(s, path, sp->kind, 2, &t->m, err, errlen))
		return -1;
	if (sp->kind == ENG_SEQ_DECODER && t->m->context < sp->win) {
		snprintf(err, errlen, "%s: a context of %d tokens is shorter than the %d-token evaluation window", path,
			 t->m->context, sp->win);
		return -1;
	}
	return 0;
}

static int dec_open(eng_session *s, const char *path, char *err, size_t errlen)
{
	return lm_open_kind(s, path, &dec_spec, err, errlen);
}

static int rnn_open(eng_session *s, const char *path, char *err, size_t errlen)
{
	return lm_open_kind(s, path, &rnn_spec, err, errlen);
}

static void lm_close(eng_session *s)
{
	lm_state *t = s->fam_data;
	s->m = NULL, s->variant = NULL, s->fam_data = NULL;
	if (!t)
		return;
	seq_lanes_destroy(t->lane, t->nlane);
	if (t->have_corpus)
		eng_corpus_done(&t->corpus);
	free(t->win), free(t->gen_prompt), free(t->gen_group), free(t->gen_ref);
	eng_seq_destroy(t->m);
	free(t);
}

static cJSON *lm_model_info_kind(const char *path, const lm_spec *sp, char *err, size_t errlen)
{
	eng_seq_model *m = eng_seq_load(path, err, errlen);
	if (!m)
		return NULL;
	cJSON *o = sess_model_info_base(&m->base, path, m->variant);
	cJSON *arr = cJSON_AddArrayToObject(o, "strata");
	cJSON_AddItemToArray(arr, cJSON_CreateString("all"));
	for (int g = 0; g < ENG_TEXT_GROUPS; g++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(eng_corpus_group_name(g)));
	for (int b = 0; b < npos(sp); b++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(eng_pos_bucket_name(sp->rnn, b)));
	cJSON_AddItemToArray(arr, cJSON_CreateString(eng_corpus_group_name(ENG_TEXT_GROUPS)));
	eng_seq_destroy(m);
	return o;
}

static cJSON *dec_model_info(const char *path, char *err, size_t errlen)
{
	return lm_model_info_kind(path, &dec_spec, err, errlen);
}

static cJSON *rnn_model_info(const char *path, char *err, size_t errlen)
{
	return lm_model_info_kind(path, &rnn_spec, err, errlen);
}

/* Rows of window w (nrows of them) into x (2 floats each), labels into lab
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

static int lm_load(eng_session *s, char *err, size_t errlen)
{
	lm_state *t = s->fam_data;
	const lm_spec *sp = t->spec;
	int W = sp->win;
	if (eng_corpus_load(&t->corpus, NULL, NULL, err, errlen))
		return -1;
	t->have_corpus = 1;
	eng_text_win *all = NULL;
	int nall = eng_corpus_windows(&t->corpus, ENG_SPLIT_TEST, W, 1, &all, err, errlen);
	if (nall < 0)
		return -1;
	int nfull = 0;
	long tokens = 0;
	for (int i = 0; i < nall; i++) {
		tokens += all[i].n;
		if (all[i].n == W)
			all[nfull++] = all[i];
	}
	t->win = all, t->nall = nfull;
	if (nfull == 0) {
		snprintf(err, errlen, "the corpus has no full test window of %d bytes", W);
		return -1;
	}
	/* --eval-n counts tokens; whole windows only (at least one) */
	int want = s->n > 0 ? s->n : sp->default_n, nw = want / W;
	nw = nw < 1 ? 1 : nw > nfull ? nfull : nw;
	t->nwin = nw;
	int n = nw * W;
	s->n = n;
	s->chunk = W;
	s->x = malloc((size_t)n * 2 * sizeof *s->x);
	s->label = malloc((size_t)n * sizeof *s->label);
	if (!s->x || !s->label) {
		snprintf(err, errlen, "out of memory for %d evaluation tokens", n);
		return -1;
	}
	for (int i = 0; i < nw; i++)
		win_rows(&t->corpus, &t->win[i], W, s->x + (size_t)i * W * 2, s->label + (size_t)i * W);
	snprintf(s->eval_desc, sizeof s->eval_desc,
		 "test split of Debian fortunes (10 groups) and libc6-dev C headers (shifted) in windows of %d bytes, "
		 "each from an empty %s (%d of %d full windows in FNV-1a order: %d of %ld tokens), one predicted byte "
		 "per sample",
		 W, sp->kind == ENG_SEQ_DECODER ? "context" : "GRU state", nw, nfull, n, tokens);
	t->nlane = s->threads + 1;
	if (seq_lanes_create(&t->lane, t->nlane, err, errlen))
		return -1;
	/* generation prompts: the first in-domain windows, whatever --eval-n */
	t->gen_prompt = malloc((size_t)GEN_PROMPTS * GEN_PROMPT * sizeof *t->gen_prompt);
	t->gen_group = malloc(GEN_PROMPTS * sizeof *t->gen_group);
	if (!t->gen_prompt || !t->gen_group) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < nfull && t->ngen < GEN_PROMPTS; i++) {
		if (t->win[i].group >= t->corpus.ngroups)
			continue;
		const uint8_t *p = eng_corpus_win_bytes(&t->corpus, &t->win[i]);
		for (int j = 0; j < GEN_PROMPT; j++)
			t->gen_prompt[(size_t)t->ngen * GEN_PROMPT + j] = p[j];
		t->gen_group[t->ngen++] = t->win[i].group;
	}
	return 0;
}

/* n calibration tokens: the first n rows of ceil(n / len) drawn windows
 * (representative: the evaluation length; short: 64). */
static int lm_calib_draw(eng_session *s, const char *set, int n, uint64_t seed, float **xout, char *err,
			 size_t errlen)
{
	lm_state *t = s->fam_data;
	int len = strcmp(set, "short") == 0 ? 64 : t->spec->win, nw = (n + len - 1) / len;
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

static int lm_strata_build(eng_session *s, char *err, size_t errlen)
{
	lm_state *t = s->fam_data;
	const eng_corpus *c = &t->corpus;
	int G = c->ngroups, n = s->n, P = npos(t->spec), W = t->spec->win;
	s->nstrata = 1 + G + P + 1;
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
	sess_stratum *shifted = &s->strata[1 + G + P];
	snprintf(s->strata[0].name, sizeof s->strata[0].name, "all");
	for (int g = 0; g < G; g++)
		snprintf(s->strata[1 + g].name, sizeof s->strata[0].name, "%s", c->group[g]);
	for (int b = 0; b < P; b++)
		snprintf(s->strata[1 + G + b].name, sizeof s->strata[0].name, "%s", eng_pos_bucket_name(t->spec->rnn, b));
	snprintf(shifted->name, sizeof shifted->name, "%s", c->group[G]);
	for (int i = 0; i < n; i++) {
		int g = t->win[i / W].group;
		if (g >= G) { /* the shifted domain is its own stratum only */
			shifted->idx[shifted->n++] = i;
			continue;
		}
		sess_stratum *st[] = {&s->strata[0], &s->strata[1 + g], &s->strata[1 + G + pos_bucket(t->spec, i % W)]};
		for (int k = 0; k < 3; k++)
			st[k]->idx[st[k]->n++] = i;
	}
	return 0;
}

static int lm_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		      char *err, size_t errlen)
{
	lm_state *t = s->fam_data;
	seq_lane tmp, *l;
	kq_ctx *ctx;
	if (!(l = seq_lane_get(s, t->lane, t->nlane, ws, &ctx, &tmp, err, errlen)))
		return -1;
	int st = -1, nseq = 0;
	if (seq_grow_i32(&l->tok, &l->tcap, (size_t)batch + 1) || seq_grow_i32(&l->off, &l->ocap, (size_t)batch + 1)) {
		snprintf(err, errlen, "out of memory for a batch of %d tokens", batch);
		goto out;
	}
	for (int i = 0; i < batch; i++) {
		if (i == 0 || x[2 * i + 1] == 0.0f)
			l->off[nseq++] = i;
		l->tok[i] = (int32_t)x[2 * i];
	}
	l->off[nseq] = batch;
	eng_seq_hooks h = seq_hooks(s, t->m, l, ctx, be);
	eng_seq_batch b = {nseq, l->off, l->tok};
	st = t->spec->kind == ENG_SEQ_DECODER
		     ? eng_seq_decode(t->m, &h, l->ws, NULL, NULL, &b, ENG_LOGITS_ALL, logits, err, errlen)
		     : eng_seq_rnn(t->m, &h, l->ws, NULL, &b, ENG_LOGITS_ALL, logits, err, errlen);
out:
	seq_lane_put(l, &tmp);
	return st;
}

/* ------------------------------------------------- generation (decoder) */

typedef struct {
	eng_session *s;
	lm_state *t;
	sess_run_kind kind;
	int32_t *out; /* ngen x GEN_TOKENS */
	int failed;
} gen_job;

/* Greedy generation of prompts [b, b + nb) on lane i: the decoder with a
 * batched KV cache, the rnn with the GRU states carried. */
static int gen_group(gen_job *j, int i, int b, int nb, char *err, size_t errlen)
{
	eng_session *s = j->s;
	lm_state *t = j->t;
	const eng_seq_model *m = t->m;
	sess_lane *sl = &s->lanes[i];
	seq_lane *l = &t->lane[i];
	eng_backend be = j->kind == SESS_RUN_F32 ? eng_backend_f32(sl->ctx1) : eng_backend_quant(sl->qr);
	eng_seq_hooks h = seq_hooks(s, m, l, sl->ctx1, &be);
	int dec = m->kind == ENG_SEQ_DECODER, st = -1;
	eng_kv *kv = dec ? eng_kv_create(m, nb, GEN_PROMPT + GEN_TOKENS, err, errlen) : NULL;
	float *state = dec ? NULL : calloc((size_t)nb * eng_seq_state_floats(m), sizeof *state);
	if (dec && !kv)
		return -1;
	if ((!dec && !state) || seq_grow_i32(&l->tok, &l->tcap, (size_t)nb * GEN_PROMPT) ||
	    seq_grow_i32(&l->off, &l->ocap, (size_t)nb + 1)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int q = 0; q <= nb; q++)
		l->off[q] = q * GEN_PROMPT;
	memcpy(l->tok, t->gen_prompt + (size_t)b * GEN_PROMPT, (size_t)nb * GEN_PROMPT * sizeof *l->tok);
	for (int step = 0; step < GEN_TOKENS; step++) {
		eng_seq_batch bt = {nb, l->off, l->tok};
		if (dec ? eng_seq_decode(m, &h, l->ws, kv, NULL, &bt, ENG_LOGITS_LAST, sl->logits, err, errlen)
			: eng_seq_rnn(m, &h, l->ws, state, &bt, ENG_LOGITS_LAST, sl->logits, err, errlen))
			goto out;
		for (int q = 0; q < nb; q++) {
			int next;
			float conf;
			sess_argmax_conf(sl->logits + (size_t)q * m->vocab, m->vocab, &next, &conf);
			j->out[(size_t)(b + q) * GEN_TOKENS + step] = next;
			l->tok[q] = next, l->off[q] = q; /* the next call: one token per sequence */
		}
		l->off[nb] = nb;
	}
	st = 0;
out:
	eng_kv_destroy(kv);
	free(state);
	return st;
}

static void gen_task(void *arg, int i, int n)
{
	gen_job *j = arg;
	int b, nb;
	for (int k = 0; !j->failed && sess_lane_chunk(GEN_GROUP, 0, j->t->ngen, i, n, k, &b, &nb) == 0; k++)
		if (gen_group(j, i, b, nb, j->s->lanes[i].err, sizeof j->s->lanes[i].err))
			j->failed = 1;
}

static int generate(eng_session *s, sess_run_kind kind, int32_t *out, char *err, size_t errlen)
{
	gen_job j = {s, s->fam_data, kind, out, 0};
	kq_parallel(s->ctx, s->nlanes, gen_task, &j);
	for (int i = 0; j.failed && i < s->nlanes; i++)
		if (s->lanes[i].err[0]) {
			snprintf(err, errlen, "generation: %s", s->lanes[i].err);
			return -1;
		}
	return j.failed ? -1 : 0;
}

/* first_divergence on `all` and each group stratum with prompts. */
static int add_divergence(eng_session *s, lm_state *t, const int32_t *q, cJSON *root, char *err, size_t errlen)
{
	float *fd = malloc((size_t)t->ngen * sizeof *fd);
	int *idx = malloc((size_t)t->ngen * sizeof *idx);
	if (!fd || !idx) {
		free(fd), free(idx);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int p = 0; p < t->ngen; p++) {
		int k = 0;
		while (k < GEN_TOKENS && q[(size_t)p * GEN_TOKENS + k] == t->gen_ref[(size_t)p * GEN_TOKENS + k])
			k++;
		fd[p] = (float)k;
	}
	const cJSON *st;
	cJSON_ArrayForEach(st, cJSON_GetObjectItem(cJSON_GetObjectItem(root, "eval"), "strata"))
	{
		const char *name = cJSON_GetObjectItem(st, "name")->valuestring;
		int n = 0, g = -1;
		for (int k = 0; k < t->corpus.ngroups; k++)
			if (!strcmp(name, t->corpus.group[k]))
				g = k;
		if (g < 0 && strcmp(name, "all"))
			continue;
		int same = 0;
		for (int p = 0; p < t->ngen; p++)
			if (g < 0 || t->gen_group[p] == g) {
				idx[n++] = p;
				same += fd[p] == GEN_TOKENS;
			}
		if (n == 0)
			continue;
		double mean, lo, hi;
		if (eng_mean_bootstrap(fd, idx, n, NULL, s->resamples, s->seed, &mean, &lo, &hi)) {
			free(fd), free(idx);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		cJSON *o = sess_add_interval(cJSON_GetObjectItem(st, "extra"), "first_divergence", mean, lo, hi);
		if (!o) {
			free(fd), free(idx);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		cJSON_AddNumberToObject(o, "prompts", n);
		cJSON_AddNumberToObject(o, "identical", same);
		cJSON_AddNumberToObject(o, "of", GEN_TOKENS);
	}
	free(fd), free(idx);
	return 0;
}

static void add_speed(cJSON *tp, const char *name, double ref, double q)
{
	cJSON *o = cJSON_AddObjectToObject(tp, name);
	cJSON_AddNumberToObject(o, "ref", round(ref));
	cJSON_AddNumberToObject(o, "quant", round(q));
	cJSON_AddNumberToObject(o, "speedup", round(q / ref * 1000) / 1000);
}

static int lm_eval_extra(eng_session *s, const eng_recipe *r, eng_qmodel *qm, cJSON *root, int bench,
			 eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen)
{
	lm_state *t = s->fam_data;
	const eng_seq_model *m = t->m;
	int st = -1, attn = s->attn_int8;
	kq_fmt kv = s->kv;
	int32_t *q = malloc((size_t)t->ngen * GEN_TOKENS * sizeof *q);
	eng_qrunner *qr = NULL;
	seq_lane *bl = NULL;
	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	double t0 = sess_now_ms();
	if (progress)
		progress(user, "generate", 0);
	if (!t->gen_ref) { /* the fp32 generation, once per session */
		s->attn_int8 = 0, s->kv = KQ_FMT_F32;
		t->gen_ref = malloc((size_t)t->ngen * GEN_TOKENS * sizeof *t->gen_ref);
		if (!t->gen_ref || generate(s, SESS_RUN_F32, t->gen_ref, err, errlen)) {
			free(t->gen_ref), t->gen_ref = NULL;
			if (!*err)
				snprintf(err, errlen, "out of memory");
			goto out;
		}
		s->attn_int8 = attn, s->kv = kv;
	}
	if ((cancel && *cancel) || generate(s, SESS_RUN_QUANT, q, err, errlen) ||
	    add_divergence(s, t, q, root, err, errlen)) {
		if (cancel && *cancel)
			snprintf(err, errlen, "cancelled");
		goto out;
	}
	cJSON *tm = cJSON_GetObjectItem(root, "timing");
	cJSON_AddNumberToObject(tm, "generation_ms", round((sess_now_ms() - t0) * 10) / 10);
	t0 = sess_now_ms();
	cJSON *mem = cJSON_GetObjectItem(root, "memory");
	if (t->spec->kind == ENG_SEQ_DECODER) { /* the KV cache */
		size_t kref = seq_kv_bytes_per_token(m, KQ_FMT_F32), kq = seq_kv_bytes_per_token(m, r->kv);
		cJSON_ReplaceItemInObject(mem, "kv_bytes_ref", cJSON_CreateNumber((double)kref * m->context));
		cJSON_ReplaceItemInObject(mem, "kv_bytes_quant", cJSON_CreateNumber((double)kq * m->context));
		cJSON_AddNumberToObject(mem, "kv_bytes_per_token_ref", (double)kref);
		cJSON_AddNumberToObject(mem, "kv_bytes_per_token_quant", (double)kq);
		cJSON_AddNumberToObject(mem, "kv_context", m->context);
		cJSON_AddStringToObject(mem, "kv_storage",
					r->kv == KQ_FMT_F32 ? "fp32"
							    : "each key and value rounded to the format with one fp32 scale per token "
							      "and head, held dequantized in fp32 (the accuracy is the format's; the "
							      "bytes are those of packed storage; the speed is not)");
	}
	if (bench) {
		if (progress)
			progress(user, "pp128/tg128", 0);
		/* batch 1 on one thread: a one-row layer split across a pool
		 * waits for every thread at every layer, which on a shared
		 * machine collapsed the quantized side to 0.04x; OpenBLAS runs
		 * such calls on one thread anyway, so one thread each compares
		 * like with like (precis bench model measures with the pool) */
		kq_ctx *c1 = s->lanes[0].ctx1;
		eng_backend bref = eng_backend_f32(c1), bq;
		if (!(qr = eng_qrunner_create(qm, c1)) || seq_lanes_create(&bl, 2, err, errlen)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		bq = eng_backend_quant(qr);
		s->attn_int8 = 0, s->kv = KQ_FMT_F32;
		eng_seq_hooks href = seq_hooks(s, m, &bl[0], c1, &bref);
		s->attn_int8 = attn, s->kv = kv;
		eng_seq_hooks hq = seq_hooks(s, m, &bl[1], c1, &bq);
		double v[4];
		if (eng_seq_bench_tokens(m, &href, &hq, LM_BENCH_REPEATS, 0, LM_BENCH_SETTLE_MS, s->seed, v, err, errlen))
			goto out;
		cJSON *tp = cJSON_GetObjectItem(root, "throughput");
		add_speed(tp, "pp128", v[0], v[1]);
		add_speed(tp, "tg128", v[2], v[3]);
		cJSON_AddNumberToObject(tp, "pp_tg_batch", 1);
		cJSON_AddNumberToObject(tp, "pp_tg_threads", 1);
		cJSON_AddNumberToObject(tp, "pp_tg_repeats", LM_BENCH_REPEATS);
		cJSON_AddNumberToObject(tm, "batch1_bench_ms", round((sess_now_ms() - t0) * 10) / 10);
	}
	st = 0;
out:
	s->attn_int8 = attn, s->kv = kv;
	eng_qrunner_destroy(qr);
	seq_lanes_destroy(bl, 2);
	free(q);
	return st;
}

/* ---------------------------------------------------------------- family */

static const char *const lm_calib_sets[] = {"representative", "short", NULL};
static const char *const lm_strata[] = {"group", NULL};
static const char *const lm_metrics[] = {"bpc", "top1", NULL};
static const char *const rnn_models[] = {"rnn-text", NULL};
static const char *const dec_models[] = {"decoder-text", "decoder-text-outliers", NULL};

const sess_family sess_family_rnn = {
	.name = "rnn",
	.default_model = "rnn-text",
	.calib_sets = lm_calib_sets,
	.calib_desc = "representative: N train-split tokens, the first N bytes of a seeded partial Fisher-Yates draw of "
		      "full 2048-byte train windows (the evaluation length), state zero at each; short: the same with "
		      "64-byte windows",
	.strata_kinds = lm_strata,
	.default_metric = ENG_METRIC_BPC,
	.metrics = lm_metrics,
	.load = lm_load,
	.calib_draw = lm_calib_draw,
	.build_strata = lm_strata_build,
	.forward = lm_forward,
	.replayable = 0,
	.models = rnn_models,
	.open = rnn_open,
	.close = lm_close,
	.model_info = rnn_model_info,
	.attention = 0,
	.lm = 1,
	.kv_cache = 0,
	.eval_extra = lm_eval_extra,
};

const sess_family sess_family_decoder = {
	.name = "decoder",
	.default_model = "decoder-text",
	.calib_sets = lm_calib_sets,
	.calib_desc = "representative: N train-split tokens, the first N bytes of a seeded partial Fisher-Yates draw of "
		      "full 256-byte train windows (the evaluation length, the context), each from an empty context; "
		      "short: the same with 64-byte windows",
	.strata_kinds = lm_strata,
	.default_metric = ENG_METRIC_BPC,
	.metrics = lm_metrics,
	.load = lm_load,
	.calib_draw = lm_calib_draw,
	.build_strata = lm_strata_build,
	.forward = lm_forward,
	.replayable = 0,
	.models = dec_models,
	.open = dec_open,
	.close = lm_close,
	.model_info = dec_model_info,
	.attention = 1,
	.lm = 1,
	.kv_cache = 1,
	.eval_extra = lm_eval_extra,
};
