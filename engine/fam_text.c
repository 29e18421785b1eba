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
 * Threads: eng_seq_encode needs scratch of its own per thread.  The
 * family keeps one per lane plus one for the session's thread, and a
 * forward call finds its caller's by the float scratch it was handed
 * (s->lanes[i].ws, or s->ws); a caller with other scratch gets scratch
 * made for the call, so no two threads ever share one.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_seq.h"
#include "eng_session_impl.h"

typedef struct {
	eng_seq_ws *ws;
	int32_t *tok, *off;
	size_t tcap, ocap;
	unsigned char *abuf; /* int8 attention: codes, scales, accumulators */
	size_t acap;
} text_lane;

typedef struct {
	eng_seq_model *m;
	eng_words words;
	int have_words;
	int *word_of;     /* evaluation sample -> word index */
	text_lane *lane;  /* nlane: one per session lane, the last for the session's thread */
	int nlane;
} text_state;

static void lane_done(text_lane *l)
{
	eng_seq_ws_destroy(l->ws);
	free(l->tok), free(l->off), free(l->abuf);
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

/* ------------------------------------------------------------ model file */

static int enc_open(eng_session *s, const char *path, char *err, size_t errlen)
{
	text_state *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->fam_data = t;
	if (!(t->m = eng_seq_load(path, err, errlen)))
		return -1;
	if (t->m->kind != ENG_SEQ_ENCODER) {
		snprintf(err, errlen, "%s: family '%s' is not an encoder", path, t->m->base.family);
		return -1;
	}
	/* one sample = one row of `context` token ids (see DESIGN) */
	t->m->base.in_c = t->m->context;
	t->m->base.in_h = t->m->base.in_w = 1;
	s->m = &t->m->base;
	s->variant = t->m->variant;
	return 0;
}

static void text_close(eng_session *s)
{
	text_state *t = s->fam_data;
	s->m = NULL, s->variant = NULL, s->fam_data = NULL;
	if (!t)
		return;
	for (int i = 0; t->lane && i < t->nlane; i++)
		lane_done(&t->lane[i]);
	free(t->lane);
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
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", m->base.name);
	cJSON_AddStringToObject(o, "family", m->base.family);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "params", (double)m->base.params);
	cJSON_AddStringToObject(o, "task", m->base.task);
	if (m->variant)
		cJSON_AddStringToObject(o, "variant", m->variant);
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

/* ------------------------------------------------- int8 attention (--attn) */

/* The attention products with int8 operands and exact int32 accumulation:
 * Q K^T with Q and K symmetric int8 per token (each row of the head's
 * block has its own scale, absmax / 127), P V with P as uint8 per query
 * row (scale max / 255: probabilities are >= 0) and V symmetric int8 per
 * channel of the head (absmax over the tokens / 127).  Each scale belongs
 * to an index the product does not sum over, so the result is the
 * integer sum times two scales, as an integer kernel computes it.  The
 * scores and outputs are fp32 again before the scale, mask and softmax. */

static void *attn_scratch(text_lane *l, size_t bytes)
{
	if (bytes > l->acap) {
		void *p = realloc(l->abuf, bytes);
		if (!p)
			return NULL;
		l->abuf = p, l->acap = bytes;
	}
	return l->abuf;
}

static inline int clamp_code(float v, int lo, int hi)
{
	int c = (int)nearbyintf(v);
	return c < lo ? lo : c > hi ? hi : c;
}

/* Symmetric int8 codes of `rows` rows of x (stride ld, `cols` used), one
 * scale per row. */
static void s8_rows(const float *x, int rows, int cols, int ld, int8_t *q, float *scale)
{
	for (int i = 0; i < rows; i++) {
		const float *r = x + (size_t)i * ld;
		float m = 0;
		for (int t = 0; t < cols; t++)
			m = fabsf(r[t]) > m ? fabsf(r[t]) : m;
		float sc = m / 127.0f, inv = m > 0 ? 127.0f / m : 0.0f;
		scale[i] = sc;
		for (int t = 0; t < cols; t++)
			q[(size_t)i * cols + t] = (int8_t)clamp_code(r[t] * inv, -127, 127);
	}
}

static int s8_qk(void *user, int layer, int nq, int nk, int dh, const float *q, int ldq, const float *k, int ldk,
		 float *s, int lds, char *err, size_t errlen)
{
	(void)layer;
	text_lane *l = user;
	size_t codes = (size_t)(nq + nk) * dh;
	unsigned char *b = attn_scratch(l, codes + (size_t)(nq + nk) * sizeof(float) + sizeof(float));
	if (!b) {
		snprintf(err, errlen, "out of memory for int8 attention (%d x %d)", nq, nk);
		return -1;
	}
	int8_t *qa = (int8_t *)b, *kb = qa + (size_t)nq * dh;
	float *sa = (float *)(b + ((codes + sizeof(float) - 1) / sizeof(float)) * sizeof(float)), *sb = sa + nq;
	s8_rows(q, nq, dh, ldq, qa, sa);
	s8_rows(k, nk, dh, ldk, kb, sb);
	for (int i = 0; i < nq; i++)
		for (int j = 0; j < nk; j++) {
			const int8_t *x = qa + (size_t)i * dh, *y = kb + (size_t)j * dh;
			int32_t acc = 0;
			for (int t = 0; t < dh; t++)
				acc += (int32_t)x[t] * y[t];
			s[(size_t)i * lds + j] = (float)acc * (sa[i] * sb[j]);
		}
	return 0;
}

static int s8_pv(void *user, int layer, int nq, int nk, int dh, const float *p, int ldp, const float *v, int ldv,
		 float *o, int ldo, char *err, size_t errlen)
{
	(void)layer;
	text_lane *l = user;
	size_t codes = (size_t)nq * nk + (size_t)nk * dh, fl = ((codes + sizeof(float) - 1) / sizeof(float));
	unsigned char *b = attn_scratch(l, (fl + (size_t)nq + 2 * (size_t)dh + 1) * sizeof(float));
	if (!b) {
		snprintf(err, errlen, "out of memory for int8 attention (%d x %d)", nq, nk);
		return -1;
	}
	uint8_t *pu = b;
	int8_t *vb = (int8_t *)(b + (size_t)nq * nk);
	float *sp = (float *)b + fl, *sv = sp + nq;
	int32_t *acc = (int32_t *)(sv + dh);
	for (int i = 0; i < nq; i++) {
		const float *r = p + (size_t)i * ldp;
		float m = 0;
		for (int j = 0; j < nk; j++)
			m = r[j] > m ? r[j] : m;
		float inv = m > 0 ? 255.0f / m : 0.0f;
		sp[i] = m / 255.0f;
		for (int j = 0; j < nk; j++)
			pu[(size_t)i * nk + j] = (uint8_t)clamp_code(r[j] * inv, 0, 255);
	}
	for (int t = 0; t < dh; t++) {
		float m = 0;
		for (int j = 0; j < nk; j++)
			m = fabsf(v[(size_t)j * ldv + t]) > m ? fabsf(v[(size_t)j * ldv + t]) : m;
		float inv = m > 0 ? 127.0f / m : 0.0f;
		sv[t] = m / 127.0f;
		for (int j = 0; j < nk; j++)
			vb[(size_t)j * dh + t] = (int8_t)clamp_code(v[(size_t)j * ldv + t] * inv, -127, 127);
	}
	for (int i = 0; i < nq; i++) {
		for (int t = 0; t < dh; t++)
			acc[t] = 0;
		for (int j = 0; j < nk; j++) {
			int32_t w = pu[(size_t)i * nk + j];
			const int8_t *y = vb + (size_t)j * dh;
			for (int t = 0; t < dh; t++)
				acc[t] += w * y[t];
		}
		for (int t = 0; t < dh; t++)
			o[(size_t)i * ldo + t] = (float)acc[t] * (sp[i] * sv[t]);
	}
	return 0;
}

/* ------------------------------------------------------------- forward */

static int enc_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		       char *err, size_t errlen)
{
	text_state *t = s->fam_data;
	const eng_seq_model *m = t->m;
	text_lane tmp = {0}, *l = NULL;
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
	int C = m->context, st = -1;
	if (grow_i32(&l->tok, &l->tcap, (size_t)batch * C) || grow_i32(&l->off, &l->ocap, (size_t)batch + 1)) {
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
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	h.lin = *be;
	if (s->attn_int8)
		h.qk = s8_qk, h.pv = s8_pv, h.attn_user = l;
	eng_seq_batch b = {batch, l->off, l->tok};
	st = eng_seq_encode(m, &h, l->ws, &b, logits, err, errlen);
out:
	if (l == &tmp)
		lane_done(&tmp);
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
