/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_seq.h - the sequence families: a byte-level transformer encoder
 * (encoder-langid), a byte-level GPT with a KV cache (decoder-text) and a
 * GRU language model (rnn-text); their forward passes; and the text data
 * they are evaluated on (Debian word lists and fortunes).
 *
 * Every linear layer of these models is an eng_layer (op ENG_LINEAR, in_c =
 * k = input features, in_h = in_w = out_h = out_w = 1) listed in execution
 * order in `base.layers`, with qindex = its position, and is computed by
 * calling the same eng_backend hook the CNN uses:
 *     lin.layer(lin.user, L, rows, x, y, ws, err, errlen)
 * with x rows x L->k floats and y rows x L->out_c (bias included), so the
 * fp32 backend, the calibration observer, eng_qmodel_create(&m->base, ...)
 * and the quantized and fake-quant backends all apply unchanged.  Attention
 * products (Q K^T and P V), the KV cache entries and the token embedding
 * table have their own hooks so they can be quantized separately.
 * LayerNorm, softmax, GELU and the GRU gates always run in fp32. */
#ifndef PRECIS_ENG_SEQ_H
#define PRECIS_ENG_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "eng_model.h"

/* ------------------------------------------------------------- models */

typedef enum { ENG_SEQ_ENCODER, ENG_SEQ_DECODER, ENG_SEQ_RNN } eng_seq_kind;

typedef struct {
	float *g, *b; /* d_model each */
} eng_ln;

/* One pre-LayerNorm transformer block: x += proj(attn(ln1(x))),
 * x += fc2(gelu(fc1(ln2(x)))).  qkv's output rows are [q | k | v], head h
 * at columns h * d_head within each. */
typedef struct {
	eng_ln ln1, ln2;
	eng_layer *qkv, *proj, *fc1, *fc2; /* point into base.layers */
} eng_xblock;

/* One GRU layer as PyTorch computes it: gi = ih(x), gh = hh(h) (both with
 * their biases), r = s(gi_r + gh_r), z = s(gi_z + gh_z),
 * n = tanh(gi_n + r * gh_n), h' = (1 - z) * n + z * h. */
typedef struct {
	eng_layer *ih, *hh;
} eng_gru;

typedef struct {
	/* name, family ("encoder", "decoder", "rnn"), path, task, sha256,
	 * file_bytes, params; classes/nclasses (encoder: the languages;
	 * others: none); layers/nlayers = nq: the linear layers; out_dim:
	 * logits per output row (classes or vocab). */
	eng_model base;
	eng_seq_kind kind;
	char *variant;   /* __metadata__.variant (the outlier stress variants), or NULL */
	int vocab;       /* token embedding rows */
	int d_model, n_layers, n_heads, d_head, d_ff, context; /* transformers */
	float ln_eps;
	int bos, eos;    /* encoder's word delimiters; -1 when the model has none */
	int emb, hidden; /* rnn: embedding width, GRU state width (n_layers GRU layers) */
	float *tok_emb;  /* vocab x d_model (rnn: vocab x emb), owned */
	float *pos_emb;  /* context x d_model, owned (transformers) */
	eng_xblock *blocks; /* n_layers (transformers) */
	eng_ln ln_f;
	eng_gru *gru;       /* n_layers (rnn) */
	eng_layer *head;    /* the last linear layer */
} eng_seq_model;

/* Loads a sequence model from safetensors whose __metadata__ holds
 * `family`, `name`, `task`, `config` (JSON: kind, vocab, d_model, n_layers,
 * n_heads, d_ff, context, norm "pre", activation "gelu", ln_eps, bos, eos,
 * pool "mean"; for rnn: cell "gru", emb, hidden, n_layers) and, for the
 * encoder, `classes`.  Every tensor is checked by name and shape; failures
 * name the file and the tensor (or field).  NULL with err on failure; the
 * caller owns the result. */
eng_seq_model *eng_seq_load(const char *path, char *err, size_t errlen);
void eng_seq_destroy(eng_seq_model *m); /* accepts NULL */

/* The `family` string of a model file's __metadata__ ("cnn" when absent,
 * as eng_model_load assumes), read from the header only.  0, or -1 with
 * err (file unreadable, not safetensors). */
int eng_seq_file_family(const char *path, char *family, size_t len, char *err, size_t errlen);

/* ------------------------------------------------------------- hooks */

/* How the non-linear-layer products run.  `layer` is the block index.
 * qk: s (nq x nk, lds) = q (nq x dh, ldq) * k^T (k: nk x dh, ldk), unscaled.
 * pv: o (nq x dh, ldo) = p (nq x nk, ldp) * v (nk x dh, ldv).
 * kv_round: the new K and V rows of block `layer` (rows x d_model each,
 *   stride ld) just computed, before they are stored in the cache or
 *   used: may change them in place (KV-cache quantization); NULL keeps
 *   them fp32.  Applied with or without a cache, so a full-sequence pass
 *   sees exactly the keys an incremental one reads back.
 * tok_emb: replaces the model's token embedding table (same shape) when
 *   not NULL (weight-only quantized embeddings).
 * Each returns 0 or -1 with err filled. */
typedef struct {
	eng_backend lin; /* every linear layer */
	int (*qk)(void *user, int layer, int nq, int nk, int dh, const float *q, int ldq, const float *k, int ldk,
		  float *s, int lds, char *err, size_t errlen);
	int (*pv)(void *user, int layer, int nq, int nk, int dh, const float *p, int ldp, const float *v, int ldv,
		  float *o, int ldo, char *err, size_t errlen);
	int (*kv_round)(void *user, int layer, int rows, float *k, float *v, int ld, char *err, size_t errlen);
	void *attn_user; /* qk's and pv's */
	const float *tok_emb;
	void *kv_user;   /* kv_round's */
} eng_seq_hooks;

/* fp32 everywhere: eng_backend_f32(ctx) for the linear layers, OpenBLAS
 * (with ctx's thread count) for the attention products, no rounding of
 * the cache, the model's embeddings.  ctx must outlive the hooks. */
eng_seq_hooks eng_seq_hooks_f32(kq_ctx *ctx);

/* --------------------------------------------------------- forward passes */

/* A batch of token sequences: sequence i is tok[off[i] .. off[i + 1]).
 * Sequences are packed, never padded: every linear layer runs once over
 * all the batch's tokens; attention stays inside each sequence. */
typedef struct {
	int n;
	const int32_t *off; /* n + 1 non-decreasing offsets, off[0] = 0 */
	const int32_t *tok;
} eng_seq_batch;

/* Scratch of one thread, grown on demand.  NULL when out of memory. */
typedef struct eng_seq_ws eng_seq_ws;
eng_seq_ws *eng_seq_ws_create(void);
void eng_seq_ws_destroy(eng_seq_ws *ws); /* accepts NULL */

/* Which logits a pass writes: one row per token, or per sequence (its
 * last token; what generation and prefill need). */
typedef enum { ENG_LOGITS_ALL, ENG_LOGITS_LAST } eng_logits_mode;

/* Encoder: logits (b->n x nclasses) of each sequence (BOS, the word's
 * bytes, EOS: see eng_seq_word_tokens), from the mean over its tokens of
 * the final LayerNorm's output.  0, or -1 with err (a sequence empty or
 * longer than the context, a token out of range, a hook failed). */
int eng_seq_encode(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, const eng_seq_batch *b,
		   float *logits, char *err, size_t errlen);

/* The KV cache of the decoder: `slots` independent sequences of up to
 * `capacity` (<= context) tokens, fp32 keys and values of every block.
 * NULL with err when capacity is out of range or memory is short. */
typedef struct eng_kv eng_kv;
eng_kv *eng_kv_create(const eng_seq_model *m, int slots, int capacity, char *err, size_t errlen);
void eng_kv_destroy(eng_kv *kv); /* accepts NULL */
void eng_kv_clear(eng_kv *kv);   /* every slot empty */
int eng_kv_len(const eng_kv *kv, int slot);
int eng_kv_slots(const eng_kv *kv);
size_t eng_kv_bytes(const eng_kv *kv); /* storage held, all slots */

/* Decoder (causal).  kv NULL: every sequence starts at position 0 and
 * nothing is kept.  kv not NULL: sequence i continues cache slot
 * slot[i] (slot NULL: slot i; slots distinct): its tokens take positions
 * len .. len + n - 1, attend to the cached keys and to each other
 * causally, and are appended to the slot.  A prompt is thus one call
 * (prefill) and generation one call per step with one token per sequence.
 * logits: next-token logits (vocab wide) per token or per sequence.
 * 0, or -1 with err (position beyond the context or the cache's capacity,
 * token out of range, a hook failed); on failure the cache lengths are
 * unchanged. */
int eng_seq_decode(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, eng_kv *kv, const int *slot,
		   const eng_seq_batch *b, eng_logits_mode mode, float *logits, char *err, size_t errlen);

/* RNN.  state: b->n x eng_seq_state_floats(m) floats, the GRU states of
 * each sequence (layer-major), read as the initial state and overwritten
 * with the final one; NULL starts from zeros and keeps nothing.  Sequences
 * may differ in length (shorter ones simply stop).  logits as above.
 * 0, or -1 with err. */
int eng_seq_rnn(const eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, float *state,
		const eng_seq_batch *b, eng_logits_mode mode, float *logits, char *err, size_t errlen);
size_t eng_seq_state_floats(const eng_seq_model *m);

/* Encoder input of one word (UTF-8 bytes): BOS, the bytes, EOS into tok
 * (cap entries).  Returns the token count, or -1 when the word is empty or
 * does not fit the context or cap. */
int eng_seq_word_tokens(const eng_seq_model *m, const char *word, int len, int32_t *tok, int cap);

/* pp128 and tg128 at batch 1 (engine/bench_model.c): tokens/s of one
 * 128-token prefill call and of 128 greedy single-token decode steps after
 * an untimed 8-token prompt, through the hooks href (out[0] pp, out[2] tg)
 * and hq (out[1], out[3]); their repeats interleaved, each the median of
 * `repeats` (cold: the warm-up run counts as the first), with settle_ms of sleep before each workload; printable-ASCII
 * tokens drawn from seed.  A decoder needs a context of >= 136 tokens.
 * 0, or -1 with err. */
int eng_seq_bench_tokens(const eng_seq_model *m, const eng_seq_hooks *href, const eng_seq_hooks *hq, int repeats,
			 int cold, int settle_ms, uint64_t seed, double out[4], char *err, size_t errlen);

/* ------------------------------------------------------------ text data */

enum { ENG_SPLIT_TRAIN, ENG_SPLIT_VALID, ENG_SPLIT_TEST, ENG_NSPLITS };

/* FNV-1a 64 of n bytes; the split of a sample is h % 100: 0-79 train,
 * 80-89 valid, 90-99 test (tools/seq_common.py does the same). */
uint64_t eng_fnv1a64(const void *p, size_t n);
int eng_split_of(uint64_t h);

#define ENG_WORD_LANGS 12
#define ENG_WORD_MAX_BYTES 30
#define ENG_WORD_CAP 20000

/* The encoder's words.  Per language (fixed order, the model's class
 * order) each line of /usr/share/dict/FILE is taken as UTF-8 when valid,
 * else as Latin-1 converted to UTF-8; it is eligible when it has 1..30
 * bytes, only ASCII letters and non-ASCII bytes, and no ASCII capital
 * after the first byte.  With n eligible lines in the list, a word of hash
 * h is drawn when (h >> 32) * n < cap << 32 (about `cap` words), once; a
 * drawn word that is eligible in another language's list is dropped.
 * Words are held in canonical order: hash ascending, then bytes. */
typedef struct {
	int nlang;
	const char *const *lang;    /* names: "english", ... */
	const char *const *file;    /* under /usr/share/dict */
	const char *const *package; /* Debian package */
	int n;
	char *bytes;                /* all words, each NUL-terminated */
	int32_t *off;               /* word i = bytes + off[i] */
	uint8_t *len, *nchars;      /* bytes, UTF-8 characters */
	uint8_t *lang_of, *split;
	uint64_t *hash;
	int eligible[ENG_WORD_LANGS];            /* eligible lines per list */
	int count[ENG_NSPLITS][ENG_WORD_LANGS];  /* kept words per split and language */
} eng_words;

/* dict_dir NULL: /usr/share/dict; cap <= 0: ENG_WORD_CAP.  0, or -1 with
 * err naming the missing file and its package.  eng_words_done frees. */
int eng_words_load(eng_words *w, const char *dict_dir, int cap, char *err, size_t errlen);
void eng_words_done(eng_words *w);
/* Indices of one split's words in canonical order (the fixed evaluation
 * order) into idx (w->n entries suffice); returns how many. */
int eng_words_split(const eng_words *w, int split, int *idx);
/* Word-length bucket of a word of c characters: 0 "len1-4", 1 "len5-8",
 * 2 "len9+"; names from eng_len_bucket_name. */
int eng_len_bucket(int nchars);
const char *eng_len_bucket_name(int bucket);
/* The `rare` stratum's languages: rare[l] = 1 when language l has fewer
 * than 80% of the median language's training words.  Returns how many. */
int eng_words_rare(const eng_words *w, int *rare);
/* Calibration draw of n train words: "representative" (any), "short" (1-4
 * characters), "mismatched" (english only); a seeded partial Fisher-Yates
 * over the set's words in canonical order (eng_rng_below).  Fills idx
 * (n entries); 0, or -1 with err (unknown set, n larger than the set). */
int eng_words_calib(const eng_words *w, const char *set, int n, uint64_t seed, int *idx, char *err, size_t errlen);

#define ENG_TEXT_GROUPS 10 /* fortune groups; index ENG_TEXT_GROUPS is the shifted domain */

/* The decoder's and the rnn's text: English fortunes in 10 named groups
 * of category files.  A file's records are the lines between lines that
 * are exactly "%", each with its newline; records of only whitespace are
 * skipped; a record goes to the split of its FNV-1a 64.  The stream of
 * (group, split) is its records in file order, each followed by "%\n".
 * The shifted domain (test split only) is C headers of libc6-dev
 * concatenated.  Tokens are bytes. */
typedef struct {
	const uint8_t *p;
	size_t n;
} eng_bytes;

typedef struct {
	int ngroups;             /* ENG_TEXT_GROUPS */
	const char *const *group; /* ngroups + 1 names, the last "shifted" */
	eng_bytes stream[ENG_TEXT_GROUPS + 1][ENG_NSPLITS]; /* shifted: test only */
	int records[ENG_NSPLITS]; /* fortunes per split */
	uint8_t *mem[ENG_TEXT_GROUPS + 1][ENG_NSPLITS];
} eng_corpus;

/* fortune_dir NULL: /usr/share/games/fortunes; include_dir NULL:
 * /usr/include.  0, or -1 with err naming a missing file and its package. */
int eng_corpus_load(eng_corpus *c, const char *fortune_dir, const char *include_dir, char *err, size_t errlen);
void eng_corpus_done(eng_corpus *c);
const char *eng_corpus_file_group(const char *file); /* group of a category file, or NULL */
const char *eng_corpus_group_name(int g);            /* 0 .. ngroups (the last "shifted"), else "?" */

/* A window of a stream: inputs s[start .. start + n), targets s[start + 1
 * .. start + n]; positions 0 .. n - 1. */
typedef struct {
	int group; /* 0 .. ngroups (shifted) */
	int split;
	int64_t start;
	int n;
} eng_text_win;

/* Windows of `len` predicted tokens (stride len, the last of a stream
 * shorter) over every group's stream of `split` (and, with
 * with_shifted and the test split, the shifted stream), in the fixed
 * evaluation order: FNV-1a 64 of the window's n + 1 bytes ascending, then
 * group and start.  *out is malloc'd (caller frees); returns the count, or
 * -1 with err. */
int eng_corpus_windows(const eng_corpus *c, int split, int len, int with_shifted, eng_text_win **out, char *err,
		       size_t errlen);
/* Calibration draw of n train windows: "representative" windows of `len`
 * tokens (deployment length), "short" of 64; only full-length windows,
 * drawn as eng_words_calib does.  *out malloc'd; 0 or -1 with err. */
int eng_corpus_calib(const eng_corpus *c, const char *set, int n, int len, uint64_t seed, eng_text_win **out,
		     char *err, size_t errlen);
/* The bytes of a window (n + 1 of them from w->start) as token ids. */
const uint8_t *eng_corpus_win_bytes(const eng_corpus *c, const eng_text_win *w);

/* Position strata: decoder 0 "pos0-31", 1 "pos32-127", 2 "pos128+";
 * rnn 0 "pos0-63", 1 "pos64-255", 2 "pos256-1023", 3 "pos1024+". */
int eng_pos_bucket_dec(int pos);
int eng_pos_bucket_rnn(int pos);
const char *eng_pos_bucket_name(int rnn, int bucket);

#endif
