/* SPDX-License-Identifier: GPL-3.0-or-later */
/* xformer.c - the transformer forward passes (encoder and causal decoder),
 * the decoder's KV cache, the fp32 hooks, and per-thread scratch.
 *
 * DESIGN: a batch is packed: the rows of all sequences are stacked, so
 * each linear layer is one call of the backend over every token of the
 * batch, and only attention loops over sequences and heads.  Attention
 * is two separate products (Q K^T through hooks.qk, P V through hooks.pv)
 * with the scale, the causal mask and the softmax in fp32 between them, so
 * each product can be quantized on its own.  With a KV cache the new keys
 * and values are written at positions len .. len + n - 1 of their slot
 * and attention reads the slot; the slot lengths advance only when the
 * whole pass succeeded.  hooks.kv_round sees every new key and value
 * before it is used, with or without a cache, so a quantized cache gives
 * the same numbers either way.  Scratch (eng_seq_ws) belongs to one
 * thread; a model is read-only during a pass and may be shared; a cache
 * belongs to the thread that runs the pass.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_seq.h"
#include "eng_seq_impl.h"

/* ------------------------------------------------------------- scratch */

#define WS_BUFS 12

struct eng_seq_ws {
	float *buf[WS_BUFS];
	size_t cap[WS_BUFS];
	int *ibuf;
	size_t icap;
};

eng_seq_ws *eng_seq_ws_create(void)
{
	return calloc(1, sizeof(eng_seq_ws));
}

void eng_seq_ws_destroy(eng_seq_ws *ws)
{
	if (!ws)
		return;
	for (int i = 0; i < WS_BUFS; i++)
		free(ws->buf[i]);
	free(ws->ibuf);
	free(ws);
}

float *eng_seq_ws_buf(eng_seq_ws *ws, int i, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > ws->cap[i]) {
		free(ws->buf[i]);
		ws->buf[i] = malloc(n * sizeof(float));
		ws->cap[i] = ws->buf[i] ? n : 0;
	}
	return ws->buf[i];
}

int *eng_seq_ws_ibuf(eng_seq_ws *ws, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > ws->icap) {
		free(ws->ibuf);
		ws->ibuf = malloc(n * sizeof(int));
		ws->icap = ws->ibuf ? n : 0;
	}
	return ws->ibuf;
}

/* ------------------------------------------------------ shared pieces */

int eng_seq_linear(const eng_seq_hooks *h, const eng_layer *L, int rows, const float *x, float *y, eng_seq_ws *ws,
		   char *err, size_t errlen)
{
	if (rows == 0)
		return 0;
	/* backends may use ws as im2col scratch: rows x k floats covers a linear layer */
	float *scratch = eng_seq_ws_buf(ws, WS_SCRATCH, (size_t)rows * L->k);
	if (!scratch) {
		snprintf(err, errlen, "layer %s: out of memory for %d rows", L->name, rows);
		return -1;
	}
	if (h->lin.layer(h->lin.user, L, rows, x, y, scratch, err, errlen))
		return -1;
	int32_t zp;
	if (h->lin.out_u8 && h->lin.out_u8(h->lin.user, L, &zp)) {
		/* a uint8 output only works between layers joined by ReLU/pooling */
		snprintf(err, errlen, "layer %s: the backend hands on uint8 codes, which sequence models cannot take "
				      "(LayerNorm, attention or gates follow every linear layer)", L->name);
		return -1;
	}
	return 0;
}

void eng_seq_layernorm(const eng_ln *ln, float eps, int rows, int d, const float *x, float *y)
{
	for (int r = 0; r < rows; r++) {
		const float *a = x + (size_t)r * d;
		float *o = y + (size_t)r * d;
		double s = 0, s2 = 0;
		for (int j = 0; j < d; j++)
			s += a[j];
		double mean = s / d;
		for (int j = 0; j < d; j++)
			s2 += (a[j] - mean) * (a[j] - mean);
		float inv = (float)(1.0 / sqrt(s2 / d + eps)), mu = (float)mean;
		for (int j = 0; j < d; j++)
			o[j] = (a[j] - mu) * inv * ln->g[j] + ln->b[j];
	}
}

/* ---------------------------------------------------------- fp32 hooks */

/* Below this many multiply-adds a product is plain loops: a word's
 * attention (13 x 13 x 16) costs less than the call into OpenBLAS. */
#define SMALL_PRODUCT 16384

static int f32_qk(void *user, int layer, int nq, int nk, int dh, const float *q, int ldq, const float *k, int ldk,
		  float *s, int lds, char *err, size_t errlen)
{
	(void)layer, (void)err, (void)errlen;
	if (nq == 0 || nk == 0)
		return 0;
	if ((long)nq * nk * dh <= SMALL_PRODUCT) {
		for (int i = 0; i < nq; i++)
			for (int j = 0; j < nk; j++) {
				const float *a = q + (size_t)i * ldq, *b = k + (size_t)j * ldk;
				/* eight partial sums so the compiler can use vector lanes */
				float acc[8] = {0}, sum = 0;
				int t = 0;
				for (; t + 8 <= dh; t += 8)
					for (int u = 0; u < 8; u++)
						acc[u] += a[t + u] * b[t + u];
				for (; t < dh; t++)
					sum += a[t] * b[t];
				for (int u = 0; u < 8; u++)
					sum += acc[u];
				s[(size_t)i * lds + j] = sum;
			}
		return 0;
	}
	if (user)
		openblas_set_num_threads(kq_ctx_threads(user));
	if (nq == 1) /* OpenBLAS runs an M = 1 sgemm through the whole GEMM path */
		cblas_sgemv(CblasRowMajor, CblasNoTrans, nk, dh, 1.0f, k, ldk, q, 1, 0.0f, s, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, dh, 1.0f, q, ldq, k, ldk, 0.0f, s, lds);
	return 0;
}

static int f32_pv(void *user, int layer, int nq, int nk, int dh, const float *p, int ldp, const float *v, int ldv,
		  float *o, int ldo, char *err, size_t errlen)
{
	(void)layer, (void)err, (void)errlen;
	if (nq == 0)
		return 0;
	if ((long)nq * nk * dh <= SMALL_PRODUCT) {
		for (int i = 0; i < nq; i++) {
			float *out = o + (size_t)i * ldo;
			const float *pi = p + (size_t)i * ldp;
			for (int t = 0; t < dh; t++)
				out[t] = 0;
			for (int j = 0; j < nk; j++) {
				const float *vj = v + (size_t)j * ldv, w = pi[j];
				for (int t = 0; t < dh; t++)
					out[t] += w * vj[t];
			}
		}
		return 0;
	}
	if (user)
		openblas_set_num_threads(kq_ctx_threads(user));
	if (nq == 1)
		cblas_sgemv(CblasRowMajor, CblasTrans, nk, dh, 1.0f, v, ldv, p, 1, 0.0f, o, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dh, nk, 1.0f, p, ldp, v, ldv, 0.0f, o, ldo);
	return 0;
}

eng_seq_hooks eng_seq_hooks_f32(kq_ctx *ctx)
{
	eng_seq_hooks h = {eng_backend_f32(ctx), f32_qk, f32_pv, NULL, ctx, NULL, NULL};
	return h;
}

/* ------------------------------------------------------------ KV cache */

struct eng_kv {
	int slots, cap, layers, d;
	int *len;
	float *k, *v; /* [layer][slot][cap][d] */
};

eng_kv *eng_kv_create(const eng_seq_model *m, int slots, int capacity, char *err, size_t errlen)
{
	if (m->kind != ENG_SEQ_DECODER) {
		snprintf(err, errlen, "%s: a KV cache needs a decoder model (this one is %s)", m->base.name, m->base.family);
		return NULL;
	}
	if (slots < 1 || capacity < 1 || capacity > m->context) {
		snprintf(err, errlen, "KV cache of %d slot(s) x %d tokens: needs at least one slot and 1..%d tokens (the context)", slots,
			 capacity, m->context);
		return NULL;
	}
	eng_kv *kv = calloc(1, sizeof *kv);
	size_t n = (size_t)m->n_layers * slots * capacity * m->d_model;
	if (kv) {
		kv->slots = slots, kv->cap = capacity, kv->layers = m->n_layers, kv->d = m->d_model;
		kv->len = calloc((size_t)slots, sizeof *kv->len);
		kv->k = malloc(n * sizeof *kv->k);
		kv->v = malloc(n * sizeof *kv->v);
	}
	if (!kv || !kv->len || !kv->k || !kv->v) {
		eng_kv_destroy(kv);
		snprintf(err, errlen, "KV cache: out of memory for %d slots of %d tokens", slots, capacity);
		return NULL;
	}
	return kv;
}

void eng_kv_destroy(eng_kv *kv)
{
	if (!kv)
		return;
	free(kv->len), free(kv->k), free(kv->v);
	free(kv);
}

void eng_kv_clear(eng_kv *kv)
{
	memset(kv->len, 0, (size_t)kv->slots * sizeof *kv->len);
}

int eng_kv_len(const eng_kv *kv, int slot)
{
	return slot >= 0 && slot < kv->slots ? kv->len[slot] : 0;
}

int eng_kv_slots(const eng_kv *kv)
{
	return kv->slots;
}

size_t eng_kv_bytes(const eng_kv *kv)
{
	return 2 * (size_t)kv->layers * kv->slots * kv->cap * kv->d * sizeof(float);
}

static float *kv_row(const eng_kv *kv, float *base, int layer, int slot, int pos)
{
	return base + (((size_t)layer * kv->slots + slot) * kv->cap + pos) * kv->d;
}

/* ------------------------------------------------------- forward pass */

/* erf as a rational function on [-4, 4] (Eigen's generic_fast_erf_float;
 * beyond 4, erf is 1 in float): max error 4.5e-7 against erf, so GELU is
 * within 1.4e-6 of PyTorch's exact one for |x| <= 6, and no call to libm's
 * erff, which took a fifth of a decoder pass. */
static inline float fast_erf(float x)
{
	x = fminf(fmaxf(x, -4.0f), 4.0f);
	float x2 = x * x;
	float p = -2.72614225801306e-10f;
	p = p * x2 + 2.77068142495902e-08f;
	p = p * x2 - 2.10102402082508e-06f;
	p = p * x2 - 5.69250639462346e-05f;
	p = p * x2 - 7.34990630326855e-04f;
	p = p * x2 - 2.95459980854025e-03f;
	p = p * x2 - 1.60960333262415e-02f;
	float q = -1.45660718464996e-05f;
	q = q * x2 - 2.13374055278905e-04f;
	q = q * x2 - 1.68282697438203e-03f;
	q = q * x2 - 7.37332916720468e-03f;
	q = q * x2 - 1.42647390514189e-02f;
	return x * p / q;
}

float eng_seq_gelu(float x)
{
	return 0.5f * x * (1.0f + fast_erf(x * 0.70710678118654752f));
}

/* Runs the blocks and the final LayerNorm on the packed batch; leaves
 * ln_f(x) in *out (rows x d).  pos0[i]: position of sequence i's first
 * token; kv/slot as in eng_seq_decode (NULL for the encoder). */
static int blocks_forward(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, eng_kv *kv,
			  const int *slot, const eng_seq_batch *b, const int *pos0, int causal, float **out, char *err,
			  size_t errlen)
{
	int d = m->d_model, dh = m->d_head, rows = b->off[b->n];
	int maxn = 0, maxk = 0;
	for (int i = 0; i < b->n; i++) {
		int n = b->off[i + 1] - b->off[i];
		maxn = n > maxn ? n : maxn;
		maxk = pos0[i] + n > maxk ? pos0[i] + n : maxk;
	}
	float *x = eng_seq_ws_buf(ws, WS_X, (size_t)rows * d), *hb = eng_seq_ws_buf(ws, WS_H, (size_t)rows * d);
	float *qkv = eng_seq_ws_buf(ws, WS_QKV, (size_t)rows * 3 * d), *att = eng_seq_ws_buf(ws, WS_ATT, (size_t)rows * d);
	float *ff = eng_seq_ws_buf(ws, WS_FF, (size_t)rows * (m->d_ff > d ? m->d_ff : d));
	float *sc = eng_seq_ws_buf(ws, WS_SCORES, (size_t)maxn * maxk);
	if (!x || !hb || !qkv || !att || !ff || !sc) {
		snprintf(err, errlen, "out of memory for a batch of %d tokens", rows);
		return -1;
	}
	const float *emb = h->tok_emb ? h->tok_emb : m->tok_emb;
	for (int i = 0; i < b->n; i++)
		for (int r = b->off[i]; r < b->off[i + 1]; r++) {
			const float *e = emb + (size_t)b->tok[r] * d, *p = m->pos_emb + (size_t)(pos0[i] + r - b->off[i]) * d;
			float *o = x + (size_t)r * d;
			for (int j = 0; j < d; j++)
				o[j] = e[j] + p[j];
		}
	const float scale = 1.0f / sqrtf((float)dh);
	for (int l = 0; l < m->n_layers; l++) {
		const eng_xblock *blk = &m->blocks[l];
		eng_seq_layernorm(&blk->ln1, m->ln_eps, rows, d, x, hb);
		if (eng_seq_linear(h, blk->qkv, rows, hb, qkv, ws, err, errlen))
			return -1;
		if (h->kv_round && h->kv_round(h->kv_user, l, rows, qkv + d, qkv + 2 * d, 3 * d, err, errlen))
			return -1;
		for (int i = 0; i < b->n; i++) {
			int r0 = b->off[i], n = b->off[i + 1] - r0, nk = pos0[i] + n, s = kv ? (slot ? slot[i] : i) : -1;
			const float *K = qkv + (size_t)r0 * 3 * d + d, *V = qkv + (size_t)r0 * 3 * d + 2 * d;
			int ldk = 3 * d;
			if (kv) {
				for (int j = 0; j < n; j++) {
					memcpy(kv_row(kv, kv->k, l, s, pos0[i] + j), qkv + (size_t)(r0 + j) * 3 * d + d, d * sizeof(float));
					memcpy(kv_row(kv, kv->v, l, s, pos0[i] + j), qkv + (size_t)(r0 + j) * 3 * d + 2 * d, d * sizeof(float));
				}
				K = kv_row(kv, kv->k, l, s, 0), V = kv_row(kv, kv->v, l, s, 0), ldk = d;
			}
			for (int hd = 0; hd < m->n_heads; hd++) {
				const float *q = qkv + (size_t)r0 * 3 * d + hd * dh;
				if (h->qk(h->attn_user, l, n, nk, dh, q, 3 * d, K + hd * dh, ldk, sc, nk, err, errlen))
					return -1;
				for (int j = 0; j < n; j++) {
					float *srow = sc + (size_t)j * nk;
					/* causal: query at position pos0 + j sees keys 0 .. pos0 + j */
					int lim = causal ? pos0[i] + j + 1 : nk;
					float mx = -INFINITY, sum = 0;
					for (int t = 0; t < lim; t++) {
						srow[t] *= scale;
						mx = srow[t] > mx ? srow[t] : mx;
					}
					for (int t = 0; t < lim; t++)
						sum += srow[t] = expf(srow[t] - mx);
					float inv = sum > 0 ? 1.0f / sum : 0.0f;
					for (int t = 0; t < lim; t++)
						srow[t] *= inv;
					for (int t = lim; t < nk; t++)
						srow[t] = 0;
				}
				if (h->pv(h->attn_user, l, n, nk, dh, sc, nk, V + hd * dh, ldk, att + (size_t)r0 * d + hd * dh, d, err,
					  errlen))
					return -1;
			}
		}
		if (eng_seq_linear(h, blk->proj, rows, att, hb, ws, err, errlen))
			return -1;
		for (size_t j = 0; j < (size_t)rows * d; j++)
			x[j] += hb[j];
		eng_seq_layernorm(&blk->ln2, m->ln_eps, rows, d, x, hb);
		if (eng_seq_linear(h, blk->fc1, rows, hb, ff, ws, err, errlen))
			return -1;
		for (size_t j = 0; j < (size_t)rows * m->d_ff; j++)
			ff[j] = eng_seq_gelu(ff[j]);
		if (eng_seq_linear(h, blk->fc2, rows, ff, hb, ws, err, errlen))
			return -1;
		for (size_t j = 0; j < (size_t)rows * d; j++)
			x[j] += hb[j];
	}
	eng_seq_layernorm(&m->ln_f, m->ln_eps, rows, d, x, hb);
	*out = hb;
	return 0;
}

/* Checks offsets, token ids and lengths; fills pos0 (from the cache).
 * Returns 0 or -1 with err. */
static int check_batch(const eng_seq_model *m, const eng_kv *kv, const int *slot, const eng_seq_batch *b, int *pos0,
		       int allow_empty, char *err, size_t errlen)
{
	if (b->n < 0 || (b->n > 0 && (!b->off || b->off[0] != 0))) {
		snprintf(err, errlen, "batch: %d sequences with offsets not starting at 0", b->n);
		return -1;
	}
	for (int i = 0; i < b->n; i++) {
		int n = b->off[i + 1] - b->off[i], s = kv ? (slot ? slot[i] : i) : -1;
		int p = 0, cap = m->context;
		if (n < 0 || (n == 0 && !allow_empty)) {
			snprintf(err, errlen, "batch: sequence %d has %d tokens", i, n);
			return -1;
		}
		if (kv) {
			if (s < 0 || s >= kv->slots) {
				snprintf(err, errlen, "batch: sequence %d uses cache slot %d of %d", i, s, kv->slots);
				return -1;
			}
			for (int j = 0; j < i; j++)
				if ((slot ? slot[j] : j) == s) {
					snprintf(err, errlen, "batch: sequences %d and %d share cache slot %d", j, i, s);
					return -1;
				}
			p = kv->len[s];
			cap = kv->cap;
		}
		if (p + n > cap) {
			snprintf(err, errlen, "batch: sequence %d reaches position %d, beyond the %s of %d tokens", i, p + n - 1,
				 kv && kv->cap < m->context ? "cache capacity" : "model's context", cap);
			return -1;
		}
		for (int r = b->off[i]; r < b->off[i + 1]; r++)
			if (b->tok[r] < 0 || b->tok[r] >= m->vocab) {
				snprintf(err, errlen, "batch: sequence %d token %d is %d, outside the vocabulary of %d", i, r - b->off[i],
					 (int)b->tok[r], m->vocab);
				return -1;
			}
		pos0[i] = p;
	}
	return 0;
}

int eng_seq_encode(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, const eng_seq_batch *b,
		   float *logits, char *err, size_t errlen)
{
	if (m->kind != ENG_SEQ_ENCODER) {
		snprintf(err, errlen, "%s: not an encoder model (family %s)", m->base.name, m->base.family);
		return -1;
	}
	int *pos0 = eng_seq_ws_ibuf(ws, (size_t)b->n);
	float *hb;
	if (!pos0) {
		snprintf(err, errlen, "out of memory for a batch of %d sequences", b->n);
		return -1;
	}
	if (check_batch(m, NULL, NULL, b, pos0, 0, err, errlen) ||
	    blocks_forward(m, h, ws, NULL, NULL, b, pos0, 0, &hb, err, errlen))
		return -1;
	int d = m->d_model;
	float *pool = eng_seq_ws_buf(ws, WS_POOL, (size_t)b->n * d);
	if (!pool) {
		snprintf(err, errlen, "out of memory for a batch of %d sequences", b->n);
		return -1;
	}
	for (int i = 0; i < b->n; i++) {
		float *p = pool + (size_t)i * d;
		int n = b->off[i + 1] - b->off[i];
		memset(p, 0, d * sizeof *p);
		for (int r = b->off[i]; r < b->off[i + 1]; r++)
			for (int j = 0; j < d; j++)
				p[j] += hb[(size_t)r * d + j];
		for (int j = 0; j < d; j++)
			p[j] /= (float)n; /* n >= 1: check_batch refuses empty sequences */
	}
	return eng_seq_linear(h, m->head, b->n, pool, logits, ws, err, errlen);
}

int eng_seq_decode(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, eng_kv *kv, const int *slot,
		   const eng_seq_batch *b, eng_logits_mode mode, float *logits, char *err, size_t errlen)
{
	if (m->kind != ENG_SEQ_DECODER) {
		snprintf(err, errlen, "%s: not a decoder model (family %s)", m->base.name, m->base.family);
		return -1;
	}
	if (kv && (kv->layers != m->n_layers || kv->d != m->d_model)) {
		snprintf(err, errlen, "KV cache was made for another model (%d blocks of width %d)", kv->layers, kv->d);
		return -1;
	}
	int *pos0 = eng_seq_ws_ibuf(ws, (size_t)b->n);
	float *hb;
	if (!pos0) {
		snprintf(err, errlen, "out of memory for a batch of %d sequences", b->n);
		return -1;
	}
	if (check_batch(m, kv, slot, b, pos0, 0, err, errlen) || blocks_forward(m, h, ws, kv, slot, b, pos0, 1, &hb, err, errlen))
		return -1;
	int d = m->d_model;
	if (mode == ENG_LOGITS_ALL) {
		if (eng_seq_linear(h, m->head, b->off[b->n], hb, logits, ws, err, errlen))
			return -1;
	} else {
		float *last = eng_seq_ws_buf(ws, WS_POOL, (size_t)b->n * d);
		if (!last) {
			snprintf(err, errlen, "out of memory for a batch of %d sequences", b->n);
			return -1;
		}
		for (int i = 0; i < b->n; i++)
			memcpy(last + (size_t)i * d, hb + (size_t)(b->off[i + 1] - 1) * d, d * sizeof *last);
		if (eng_seq_linear(h, m->head, b->n, last, logits, ws, err, errlen))
			return -1;
	}
	for (int i = 0; kv && i < b->n; i++)
		kv->len[slot ? slot[i] : i] += b->off[i + 1] - b->off[i];
	return 0;
}

int eng_seq_word_tokens(const eng_seq_model *m, const char *word, int len, int32_t *tok, int cap)
{
	if (len < 1 || m->bos < 0 || m->eos < 0 || len + 2 > m->context || len + 2 > cap)
		return -1;
	tok[0] = m->bos;
	for (int i = 0; i < len; i++)
		tok[1 + i] = (unsigned char)word[i];
	tok[len + 1] = m->eos;
	return len + 2;
}
