/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rnn.c - the GRU language model's forward pass.
 *
 * DESIGN: layer by layer, as cuDNN does: a layer's input projection (ih)
 * is one linear call over every token of the batch, then the recurrence
 * steps through time with one hh call per step over the sequences still
 * running (gathered into contiguous rows, so sequences of different
 * lengths share the calls); the next layer reads this layer's outputs.
 * The gates run in fp32.  The state array is the caller's: it carries a
 * sequence across calls, so a long text can be fed in pieces with the
 * same result as in one go.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eng_seq.h"
#include "eng_seq_impl.h"

size_t eng_seq_state_floats(const eng_seq_model *m)
{
	return m->kind == ENG_SEQ_RNN ? (size_t)m->n_layers * m->hidden : 0;
}

static float sigm(float x)
{
	return 1.0f / (1.0f + expf(-x));
}

int eng_seq_rnn(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, float *state,
		const eng_seq_batch *b, eng_logits_mode mode, float *logits, char *err, size_t errlen)
{
	if (m->kind != ENG_SEQ_RNN) {
		snprintf(err, errlen, "%s: not an rnn model (family %s)", m->base.name, m->base.family);
		return -1;
	}
	if (b->n < 0 || (b->n > 0 && (!b->off || b->off[0] != 0))) {
		snprintf(err, errlen, "batch: %d sequences with offsets not starting at 0", b->n);
		return -1;
	}
	int H = m->hidden, rows = b->n ? b->off[b->n] : 0, maxlen = 0;
	for (int i = 0; i < b->n; i++) {
		int n = b->off[i + 1] - b->off[i];
		if (n < 1) {
			snprintf(err, errlen, "batch: sequence %d has %d tokens", i, n);
			return -1;
		}
		maxlen = n > maxlen ? n : maxlen;
		for (int r = b->off[i]; r < b->off[i + 1]; r++)
			if (b->tok[r] < 0 || b->tok[r] >= m->vocab) {
				snprintf(err, errlen, "batch: sequence %d token %d is %d, outside the vocabulary of %d", i, r - b->off[i],
					 (int)b->tok[r], m->vocab);
				return -1;
			}
	}
	size_t win = (size_t)(m->emb > H ? m->emb : H);
	float *x = eng_seq_ws_buf(ws, WS_X, (size_t)rows * win), *y = eng_seq_ws_buf(ws, WS_Y, (size_t)rows * H);
	float *gi = eng_seq_ws_buf(ws, WS_GI, (size_t)rows * 3 * H), *gh = eng_seq_ws_buf(ws, WS_GH, (size_t)b->n * 3 * H);
	float *hin = eng_seq_ws_buf(ws, WS_HIN, (size_t)b->n * H);
	float *st = eng_seq_ws_buf(ws, WS_H, (size_t)b->n * m->n_layers * H);
	int *act = eng_seq_ws_ibuf(ws, (size_t)b->n);
	if (!x || !y || !gi || !gh || !hin || !st || !act) {
		snprintf(err, errlen, "out of memory for a batch of %d tokens", rows);
		return -1;
	}
	/* work on a copy of the state: the caller's is only updated on success */
	if (state)
		memcpy(st, state, (size_t)b->n * m->n_layers * H * sizeof *st);
	else
		memset(st, 0, (size_t)b->n * m->n_layers * H * sizeof *st);
	const float *emb = h->tok_emb ? h->tok_emb : m->tok_emb;
	for (int r = 0; r < rows; r++)
		memcpy(x + (size_t)r * m->emb, emb + (size_t)b->tok[r] * m->emb, m->emb * sizeof *x);
	for (int l = 0; l < m->n_layers; l++) {
		const eng_gru *g = &m->gru[l];
		if (eng_seq_linear(h, g->ih, rows, x, gi, ws, err, errlen))
			return -1;
		for (int t = 0; t < maxlen; t++) {
			int na = 0;
			for (int i = 0; i < b->n; i++)
				if (b->off[i + 1] - b->off[i] > t) {
					memcpy(hin + (size_t)na * H, st + ((size_t)i * m->n_layers + l) * H, H * sizeof *hin);
					act[na++] = i;
				}
			if (eng_seq_linear(h, g->hh, na, hin, gh, ws, err, errlen))
				return -1;
			for (int a = 0; a < na; a++) {
				int i = act[a], r = b->off[i] + t;
				const float *xi = gi + (size_t)r * 3 * H, *hh = gh + (size_t)a * 3 * H, *hp = hin + (size_t)a * H;
				float *hs = st + ((size_t)i * m->n_layers + l) * H, *out = y + (size_t)r * H;
				for (int j = 0; j < H; j++) {
					float rg = sigm(xi[j] + hh[j]), z = sigm(xi[H + j] + hh[H + j]);
					float n = tanhf(xi[2 * H + j] + rg * hh[2 * H + j]);
					out[j] = hs[j] = (1.0f - z) * n + z * hp[j];
				}
			}
		}
		memcpy(x, y, (size_t)rows * H * sizeof *x);
	}
	if (mode == ENG_LOGITS_ALL) {
		if (eng_seq_linear(h, m->head, rows, x, logits, ws, err, errlen))
			return -1;
	} else {
		for (int i = 0; i < b->n; i++)
			memcpy(y + (size_t)i * H, x + (size_t)(b->off[i + 1] - 1) * H, H * sizeof *y);
		if (eng_seq_linear(h, m->head, b->n, y, logits, ws, err, errlen))
			return -1;
	}
	if (state)
		memcpy(state, st, (size_t)b->n * m->n_layers * H * sizeof *st);
	return 0;
}
