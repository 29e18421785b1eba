/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fam_seq.h - what the sequence families (fam_text.c: the encoder;
 * fam_lm.c: the decoder and the rnn) share: per-thread scratch lanes, the
 * hooks of one forward call (the recipe's linear backend, int8 attention
 * products for --attn int8, KV-cache rounding for --kv), and opening a
 * model file into a session.  Internal to the engine.
 *
 * Threads: eng_seq_* passes need scratch of their own per thread.  A
 * family keeps one lane per session lane plus one for the session's
 * thread; a forward call finds its caller's by the float scratch it was
 * handed (s->lanes[i].ws, or s->ws); a caller with other scratch gets a
 * lane made for the call, so no two threads ever share one. */
#ifndef PRECIS_FAM_SEQ_H
#define PRECIS_FAM_SEQ_H

#include "eng_seq.h"
#include "eng_session_impl.h"

typedef struct {
	eng_seq_ws *ws;
	int32_t *tok, *off;
	size_t tcap, ocap;
	unsigned char *abuf; /* int8 attention: codes, scales, accumulators */
	size_t acap;
	const eng_seq_model *m; /* of the call (seq_hooks) */
	kq_fmt kv;           /* the KV-cache format of the call (kv_round) */
} seq_lane;

/* n lanes with scratch.  0, or -1 with err (memory). */
int seq_lanes_create(seq_lane **lanes, int n, char *err, size_t errlen);
void seq_lanes_destroy(seq_lane *lanes, int n); /* accepts NULL */

/* The lane of the thread that was handed float scratch ws (see above), and
 * that lane's one-thread kernel context in *ctx (NULL for the session's
 * thread).  tmp: filled when a lane is made for the call; seq_lane_put
 * releases it.  NULL with err when out of memory. */
seq_lane *seq_lane_get(const eng_session *s, seq_lane *lanes, int nlane, const float *ws, kq_ctx **ctx,
		       seq_lane *tmp, char *err, size_t errlen);
void seq_lane_put(seq_lane *l, seq_lane *tmp);

/* Grows *p to n entries.  0, or -1 (memory). */
int seq_grow_i32(int32_t **p, size_t *cap, size_t n);

/* The hooks of one forward call of m on lane l: fp32 with ctx, every linear
 * layer through be, int8 attention products when s->attn_int8, the KV
 * cache rounded to s->kv when it is not fp32. */
eng_seq_hooks seq_hooks(const eng_session *s, const eng_seq_model *m, seq_lane *l, kq_ctx *ctx,
			const eng_backend *be);

/* Rounds `rows` new key (or value) rows of d_model floats (stride ld) in
 * place to format f, one scale per token and head: int8/int4 symmetric
 * with scale absmax / qmax over the head's d_head values, fp8-e4m3 with
 * scale absmax / 448 and round-to-nearest-even; fp32 leaves them. */
void seq_kv_round_rows(kq_fmt f, int rows, int d_model, int d_head, float *x, int ld);
/* KV-cache bytes per token of model m stored in f (keys and values of
 * every block, packed codes plus one fp32 scale per token and head). */
size_t seq_kv_bytes_per_token(const eng_seq_model *m, kq_fmt f);

/* Loads the model at path, checks it is of `kind`, and makes it the
 * session's model with samples of in_c floats (*out: the model, owned by
 * the family).  0, or -1 with err. */
int seq_open(eng_session *s, const char *path, eng_seq_kind kind, int in_c, eng_seq_model **out, char *err,
	     size_t errlen);

#endif
