/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_seq_impl.h - what xformer.c and rnn.c share and nobody else needs:
 * the scratch buffers, the one call every linear layer goes through, and
 * LayerNorm. */
#ifndef PRECIS_ENG_SEQ_IMPL_H
#define PRECIS_ENG_SEQ_IMPL_H

#include "eng_seq.h"

/* Scratch buffer roles (indices into eng_seq_ws). */
enum { WS_X, WS_H, WS_QKV, WS_ATT, WS_FF, WS_SCORES, WS_POOL, WS_SCRATCH, WS_GI, WS_GH, WS_HIN, WS_Y };

/* Buffer i of at least n floats (contents not kept across growth); NULL
 * when out of memory. */
float *eng_seq_ws_buf(eng_seq_ws *ws, int i, size_t n);
int *eng_seq_ws_ibuf(eng_seq_ws *ws, size_t n);

/* y (rows x L->out_c) = x (rows x L->k) W^T + b through h->lin.  0 or -1
 * with err (also when the backend would hand on uint8 codes). */
int eng_seq_linear(const eng_seq_hooks *h, const eng_layer *L, int rows, const float *x, float *y, eng_seq_ws *ws,
		   char *err, size_t errlen);

/* GELU with erf (PyTorch's default), within 1.4e-6 of it for |x| <= 6. */
float eng_seq_gelu(float x);

/* y = LayerNorm(x) over rows of d (biased variance, as PyTorch); y != x. */
void eng_seq_layernorm(const eng_ln *ln, float eps, int rows, int d, const float *x, float *y);

#endif
