/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fam_seq.c - what the sequence families share: lanes, hooks, int8
 * attention, KV-cache rounding, model opening (see fam_seq.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fam_seq.h"

/* ---------------------------------------------------------------- lanes */

static void lane_done(seq_lane *l)
{
	eng_seq_ws_destroy(l->ws);
	free(l->tok), free(l->off), free(l->abuf);
	memset(l, 0, sizeof *l);
}

int seq_lanes_create(seq_lane **lanes, int n, char *err, size_t errlen)
{
	*lanes = calloc((size_t)n, sizeof **lanes);
	for (int i = 0; *lanes && i < n; i++)
		if (!((*lanes)[i].ws = eng_seq_ws_create())) {
			seq_lanes_destroy(*lanes, n);
			*lanes = NULL;
		}
	if (!*lanes) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void seq_lanes_destroy(seq_lane *lanes, int n)
{
	for (int i = 0; lanes && i < n; i++)
		lane_done(&lanes[i]);
	free(lanes);
}

seq_lane *seq_lane_get(const eng_session *s, seq_lane *lanes, int nlane, const float *ws, kq_ctx **ctx,
		       seq_lane *tmp, char *err, size_t errlen)
{
	*ctx = NULL;
	for (int i = 0; ws && i < s->nlanes && i < nlane - 1; i++)
		if (s->lanes[i].ws == ws) {
			*ctx = s->lanes[i].ctx1;
			return &lanes[i];
		}
	if (ws && ws == s->ws && nlane > 0)
		return &lanes[nlane - 1];
	memset(tmp, 0, sizeof *tmp);
	if (!(tmp->ws = eng_seq_ws_create())) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return tmp;
}

void seq_lane_put(seq_lane *l, seq_lane *tmp)
{
	if (l == tmp)
		lane_done(tmp);
}

int seq_grow_i32(int32_t **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	int32_t *q = realloc(*p, n * sizeof *q);
	if (!q)
		return -1;
	*p = q, *cap = n;
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

static void *attn_scratch(seq_lane *l, size_t bytes)
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
	seq_lane *l = user;
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
	seq_lane *l = user;
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

/* ------------------------------------------------------------ KV cache */

void seq_kv_round_rows(kq_fmt f, int rows, int d_model, int d_head, float *x, int ld)
{
	if (f == KQ_FMT_F32)
		return;
	const kq_fmt_info *fi = kq_fmt_get(f);
	float qmax = fi->max_finite;
	for (int i = 0; i < rows; i++)
		for (int h = 0; h < d_model; h += d_head) {
			float *v = x + (size_t)i * ld + h, m = 0;
			for (int t = 0; t < d_head; t++)
				m = fabsf(v[t]) > m ? fabsf(v[t]) : m;
			if (!(m > 0))
				continue;
			float sc = m / qmax, inv = qmax / m;
			for (int t = 0; t < d_head; t++)
				v[t] = fi->is_int ? (float)clamp_code(v[t] * inv, -(int)qmax, (int)qmax) * sc
						  : kq_e4m3_decode(kq_e4m3_encode(v[t] * inv)) * sc;
		}
}

size_t seq_kv_bytes_per_token(const eng_seq_model *m, kq_fmt f)
{
	size_t per = f == KQ_FMT_F32 ? (size_t)m->d_model * 4
				    : ((size_t)m->d_model * kq_fmt_get(f)->bits + 7) / 8 + (size_t)m->n_heads * 4;
	return 2 * per * (size_t)m->n_layers;
}

static int kv_round(void *user, int layer, int rows, float *k, float *v, int ld, char *err, size_t errlen)
{
	(void)layer, (void)err, (void)errlen;
	const seq_lane *l = user;
	seq_kv_round_rows(l->kv, rows, l->m->d_model, l->m->d_head, k, ld);
	seq_kv_round_rows(l->kv, rows, l->m->d_model, l->m->d_head, v, ld);
	return 0;
}

/* ---------------------------------------------------------------- hooks */

eng_seq_hooks seq_hooks(const eng_session *s, const eng_seq_model *m, seq_lane *l, kq_ctx *ctx,
			const eng_backend *be)
{
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	h.lin = *be;
	if (s->attn_int8)
		h.qk = s8_qk, h.pv = s8_pv, h.attn_user = l;
	l->m = m, l->kv = s->kv;
	if (s->kv != KQ_FMT_F32)
		h.kv_round = kv_round, h.kv_user = l;
	return h;
}

/* ---------------------------------------------------------------- model */

int seq_open(eng_session *s, const char *path, eng_seq_kind kind, int in_c, eng_seq_model **out, char *err,
	     size_t errlen)
{
	static const char *const kinds[] = {"an encoder", "a decoder", "an rnn"};
	if (!(*out = eng_seq_load(path, err, errlen)))
		return -1;
	eng_seq_model *m = *out;
	if (m->kind != kind) {
		snprintf(err, errlen, "%s: family '%s' is not %s", path, m->base.family, kinds[kind]);
		return -1;
	}
	m->base.in_c = in_c;
	m->base.in_h = m->base.in_w = 1;
	s->m = &m->base;
	s->variant = m->variant;
	return 0;
}
