/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fam_text.c - the sequence families in the session's family table:
 * encoder-langid (and its -outliers stress variant), a byte-level
 * transformer encoder naming the language of a single word.
 *
 * DESIGN: a sample of the encoder is one word, held in the session's
 * sample matrix s->x as a row of `context` floats: its token ids (BOS,
 * the word's UTF-8 bytes, EOS; exact in a float) followed by -1.  So the
 * classification path of run.c applies unchanged: predictions and
 * confidences per sample, strata as index lists, the paired bootstrap,
 * top1 / macro-F1 / ECE, calibration observers through the backend, the
 * lanes and the kernel-agreement check.  The forward pass turns a block of
 * rows into a packed eng_seq_batch (no padding reaches the model) and calls
 * eng_seq_encode with the backend it was given as the hook of every linear
 * layer, so the fp32, observing, quantized and fake-quant backends all
 * drive the same code.  Attention products run in fp32 (the plain loops
 * of eng_seq_hooks_f32: a word's products are too small for OpenBLAS).
 *
 * Threads: one scratch lane per thread (fam_seq.h).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fam_seq.h"

typedef struct {
	eng_seq_model *m;
	eng_words words;
	int have_words;
	int *word_of;     /* evaluation sample -> word index */
	seq_lane *lane;   /* nlane: one per session lane, the last for the session's thread */
	int nlane;
} text_state;

/* ------------------------------------------------------------ model file */

static int enc_open(eng_session *s, const char *path, char *err, size_t errlen)
{
	text_state *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fam_data = t;
	/* one sample = one row of `context` token ids (see DESIGN); in_c is
	 * fixed once the context is known */
	if (seq_open(s, path, ENG_SEQ_ENCODER, 1, &t->m, err, errlen))
		return -1;
	t->m->base.in_c = t->m->context;
	return 0;
}

static void text_close(eng_session *s)
{
	text_state *t = s->fam_data;
	s->m = NULL, s->variant = NULL, s->fam_data = NULL;
	if (!t)
		return;
	seq_lanes_destroy(t->lane, t->nlane);
	if (t->have_words)
		eng_words_done(&t->words);
	free(t->word_of);
	eng_seq_destroy(t->m);
	free(t);
}

static void add_enc_strata_names(cJSON *arr, const eng_model *m)
{
	cJSON_AddItemToArray(arr, cJSON_CreateString("all"));
	for (int c = 0; c < m->nclasses; c++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(m->classes[c]));
	for (int b = 0; b < 3; b++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(eng_len_bucket_name(b)));
	cJSON_AddItemToArray(arr, cJSON_CreateString("rare"));
}

static cJSON *enc_model_info(const char *path, char *err, size_t errlen)
{
	eng_seq_model *m = eng_seq_load(path, err, errlen);
	if (!m)
		return NULL;
	cJSON *o = sess_model_info_base(&m->base, path, m->variant);
	add_enc_strata_names(cJSON_AddArrayToObject(o, "strata"), &m->base);
	eng_seq_destroy(m);
	return o;
}

/* ------------------------------------------------------------------ data */

/* Row i of x (context floats) from word w: its tokens, then -1. */
static int word_row(const eng_seq_model *m, const eng_words *w, int word, float *row, int32_t *tok)
{
	int C = m->context, n = eng_seq_word_tokens(m, w->bytes + w->off[word], w->len[word], tok, C);
	if (n < 0)
		return -1;
	for (int j = 0; j < C; j++)
		row[j] = j < n ? (float)tok[j] : -1.0f;
	return 0;
}

/* The evaluation order: the test words by the low 32 bits of their hash
 * (then the whole hash, then canonical position).  Canonical order is hash
 * ascending, but a word is drawn when the high half of its hash is below a
 * bound that shrinks with the size of its language's list, so in that
 * order the long lists' words come first (the first 2,000 test words are
 * 58% polish, 0.7% english).  The low half plays no part in the draw, so
 * any prefix of this order (--eval-n) is a fair sample of the languages;
 * the whole set is the same either way. */
typedef struct {
	uint64_t hash;
	int pos, word; /* canonical position, word index */
} order_key;

static int cmp_eval_order(const void *a, const void *b)
{
	const order_key *x = a, *y = b;
	uint32_t lx = (uint32_t)x->hash, ly = (uint32_t)y->hash;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int eval_order(const eng_words *w, int *idx, int n)
{
	order_key *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
	if (!k)
		return -1;
	for (int i = 0; i < n; i++)
		k[i] = (order_key){w->hash[idx[i]], i, idx[i]};
	qsort(k, (size_t)n, sizeof *k, cmp_eval_order);
	for (int i = 0; i < n; i++)
		idx[i] = k[i].word;
	free(k);
	return 0;
}

static int enc_load(eng_session *s, char *err, size_t errlen)
{
	text_state *t = s->fam_data;
	eng_seq_model *m = t->m;
	eng_words *w = &t->words;
	if (eng_words_load(w, NULL, 0, err, errlen))
		return -1;
	t->have_words = 1;
	if (m->base.nclasses != w->nlang) {
		snprintf(err, errlen, "%s: the model has %d classes but the word lists give %d languages", m->base.path,
			 m->base.nclasses, w->nlang);
		return -1;
	}
	for (int c = 0; c < w->nlang; c++)
		if (strcmp(m->base.classes[c], w->lang[c]) != 0) {
			snprintf(err, errlen, "%s: class %d is '%s' but word list %d is %s (the class order must be the lists')",
				 m->base.path, c, m->base.classes[c], c, w->lang[c]);
			return -1;
		}
	int C = m->context;
	int32_t *tok = malloc((size_t)C * sizeof *tok);
	t->word_of = malloc(((size_t)w->n + 1) * sizeof *t->word_of);
	if (!tok || !t->word_of) {
		free(tok);
		snprintf(err, errlen, "out of memory for %d words", w->n);
		return -1;
	}
	int n = eng_words_split(w, ENG_SPLIT_TEST, t->word_of), total = n;
	if (n == 0) {
		free(tok);
		snprintf(err, errlen, "the word lists have no test-split word");
		return -1;
	}
	if (eval_order(w, t->word_of, n)) {
		free(tok);
		snprintf(err, errlen, "out of memory for %d words", n);
		return -1;
	}
	if (s->n > 0 && s->n < n)
		n = s->n;
	s->n = n;
	s->x = malloc((size_t)n * C * sizeof *s->x);
	s->label = malloc((size_t)n * sizeof *s->label);
	if (!s->x || !s->label) {
		free(tok);
		snprintf(err, errlen, "out of memory for %d evaluation words", n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int wi = t->word_of[i];
		if (word_row(m, w, wi, s->x + (size_t)i * C, tok)) {
			free(tok);
			snprintf(err, errlen, "word '%s' (%d bytes) does not fit the model's context of %d tokens",
				 w->bytes + w->off[wi], w->len[wi], C);
			return -1;
		}
		s->label[i] = w->lang_of[wi];
	}
	free(tok);
	snprintf(s->eval_desc, sizeof s->eval_desc,
		 "test split of 12 Debian word lists (%d of %d words, ordered by the low 32 bits of their FNV-1a hash), "
		 "one word per sample", n,
		 total);
	t->nlane = s->threads + 1;
	return seq_lanes_create(&t->lane, t->nlane, err, errlen);
}

static int enc_calib_draw(eng_session *s, const char *set, int n, uint64_t seed, float **xout, char *err,
			  size_t errlen)
{
	text_state *t = s->fam_data;
	int C = t->m->context;
	int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
	int32_t *tok = malloc((size_t)C * sizeof *tok);
	float *x = malloc((size_t)(n > 0 ? n : 1) * C * sizeof *x);
	if (!idx || !tok || !x) {
		free(idx), free(tok), free(x);
		snprintf(err, errlen, "out of memory drawing %d calibration words", n);
		return -1;
	}
	if (eng_words_calib(&t->words, set, n, seed, idx, err, errlen)) {
		free(idx), free(tok), free(x);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (word_row(t->m, &t->words, idx[i], x + (size_t)i * C, tok)) {
			snprintf(err, errlen, "calibration word %d does not fit the model's context", idx[i]);
			free(idx), free(tok), free(x);
			return -1;
		}
	free(idx), free(tok);
	*xout = x;
	return 0;
}

static int enc_strata_build(eng_session *s, char *err, size_t errlen)
{
	text_state *t = s->fam_data;
	const eng_words *w = &t->words;
	int nc = s->m->nclasses, n = s->n, rare[ENG_WORD_LANGS];
	eng_words_rare(w, rare);
	s->nstrata = 1 + nc + 3 + 1;
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
	for (int c = 0; c < nc; c++)
		snprintf(s->strata[1 + c].name, sizeof s->strata[1 + c].name, "%s", s->m->classes[c]);
	for (int b = 0; b < 3; b++)
		snprintf(s->strata[1 + nc + b].name, sizeof s->strata[0].name, "%s", eng_len_bucket_name(b));
	sess_stratum *rs = &s->strata[nc + 4];
	snprintf(rs->name, sizeof rs->name, "rare");
	for (int i = 0; i < n; i++) {
		int wi = t->word_of[i], l = s->label[i];
		sess_stratum *st[] = {&s->strata[0], &s->strata[1 + l], &s->strata[1 + nc + eng_len_bucket(w->nchars[wi])]};
		for (int k = 0; k < 3; k++)
			st[k]->idx[st[k]->n++] = i;
		if (rare[l])
			rs->idx[rs->n++] = i;
	}
	return 0;
}

/* ------------------------------------------------------------- forward */

static int enc_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		       char *err, size_t errlen)
{
	text_state *t = s->fam_data;
	const eng_seq_model *m = t->m;
	seq_lane tmp, *l;
	kq_ctx *ctx;
	if (!(l = seq_lane_get(s, t->lane, t->nlane, ws, &ctx, &tmp, err, errlen)))
		return -1;
	int C = m->context, st = -1;
	if (seq_grow_i32(&l->tok, &l->tcap, (size_t)batch * C) || seq_grow_i32(&l->off, &l->ocap, (size_t)batch + 1)) {
		snprintf(err, errlen, "out of memory for a batch of %d words", batch);
		goto out;
	}
	int ntok = 0;
	l->off[0] = 0;
	for (int i = 0; i < batch; i++) {
		const float *row = x + (size_t)i * C;
		for (int j = 0; j < C && row[j] >= 0; j++)
			l->tok[ntok++] = (int32_t)row[j];
		l->off[i + 1] = ntok;
	}
	eng_seq_hooks h = seq_hooks(s, m, l, ctx, be);
	eng_seq_batch b = {batch, l->off, l->tok};
	st = eng_seq_encode(m, &h, l->ws, &b, logits, err, errlen);
out:
	seq_lane_put(l, &tmp);
	return st;
}

/* ---------------------------------------------------------------- family */

static const char *const enc_calib_sets[] = {"representative", "short", "mismatched", NULL};
static const char *const enc_strata[] = {"language", NULL};
static const char *const enc_metrics[] = {"top1", "macro-f1", "ece", NULL};
static const char *const enc_models[] = {"encoder-langid", "encoder-langid-outliers", NULL};

const sess_family sess_family_encoder = {
	.name = "encoder",
	.default_model = "encoder-langid",
	.calib_sets = enc_calib_sets,
	.calib_desc = "representative: a seeded partial Fisher-Yates draw of N train-split words of all 12 languages "
		      "(canonical hash order); short: the same over the train words of 1-4 characters; mismatched: "
		      "the same over English train words only",
	.strata_kinds = enc_strata,
	.default_metric = ENG_METRIC_TOP1,
	.metrics = enc_metrics,
	.load = enc_load,
	.calib_draw = enc_calib_draw,
	.build_strata = enc_strata_build,
	.forward = enc_forward,
	.replayable = 0,
	.models = enc_models,
	.open = enc_open,
	.close = text_close,
	.model_info = enc_model_info,
	.attention = 1,
};
