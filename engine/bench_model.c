/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_model.c - `precis bench model`: a whole model's throughput, fp32
 * reference against a quantized recipe, at batch 1 as llama-bench reports
 * it (prefill pp128, decode tg128), and on synthetic decoders of larger
 * width, to show where weight-only quantization starts to pay.
 *
 * DESIGN: a workload is (prep, run): prep resets state and is not timed
 * (clearing the KV cache, prefilling the prompt), run is what a row
 * reports.  time_pair warms up the fp32 and the quantized workload once
 * each, then interleaves their repeats (each repeating run until it has
 * taken >= 20 ms), so a change in machine load hits both alike, and
 * reports each one's median.  A row whose fp32 weights exceed 4x the
 * last-level cache is cold by nature (every decode step streams them from
 * memory, as bench kernels' GEMV rows are made to), so there the warm-up
 * run is also the first repeat and, unless --repeats was given, 3 repeats
 * are taken instead of 5: one tg128 run of the 2048-wide decoder takes
 * seconds.  The reference and the quantized model share one kq_ctx (the
 * pool the kernels run on; OpenBLAS gets the same thread count); before a
 * quantized repeat we sleep so OpenBLAS's spinning threads have gone idle.
 * Synthetic decoders are built in memory (synth_decoder), one at a time,
 * and freed after their row.  Calibration, when the recipe quantizes
 * activations statically, runs on random seeded inputs: it only fixes
 * activation ranges, which do not change the speed.  Single-threaded
 * apart from the kernels' pool; the engine never prints.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "eng.h"
#include "eng_bench.h"
#include "eng_qmodel.h"
#include "eng_report.h"
#include "eng_seq.h"
#include "kq.h"

#define MIN_REPEAT_S 0.02
#define SETTLE_MS 150    /* OpenBLAS's threads spin ~2^28 cycles after a call */
#define COLD_FACTOR 4      /* weights beyond this many times the LLC are cold by nature */
#define DEFAULT_LLC (32u << 20)
#define PP_TOKENS 128      /* pp128: one prefill call of this many tokens */
#define TG_TOKENS 128      /* tg128: this many single-token decode steps */
#define TG_PROMPT 8        /* prefilled (untimed) before the tg steps */
#define ENC_LEN 12         /* encoder sample: BOS, 10 bytes, EOS (a long word) */
#define BIG_BATCH 64
#define SYN_LAYERS 4
#define SYN_HEAD_DIM 32
#define SYN_VOCAB 256
#define SYN_CONTEXT 256

static const int default_widths[] = {128, 256, 512, 1024, 2048};
static const int quick_widths[] = {64, 128};

/* ------------------------------------------------------------- helpers */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Uniform in [-1, 1). */
static float rng_unit(uint64_t *s)
{
	return (float)(rng_next(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

static int rng_below(uint64_t *s, int n)
{
	return (int)((rng_next(s) >> 33) % (uint64_t)n);
}

/* The last-level cache this CPU's cores share: sysfs's highest cache
 * index first, since in these VMs glibc's sysconf reports the host's
 * total L3 (384 MiB) where the guest's cores share 32 MiB. */
static size_t llc_bytes(void)
{
	size_t best = 0;
	for (int i = 0; i < 8; i++) {
		char p[96];
		snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		unsigned long v = 0;
		char unit = 0;
		if (fscanf(f, "%lu%c", &v, &unit) >= 1) {
			size_t b = unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : v;
			best = b > best ? b : best;
		}
		fclose(f);
	}
	if (best)
		return best;
	long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
	return v > 0 ? (size_t)v : DEFAULT_LLC;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ------------------------------------------------------------- timing */

/* One timed workload: prep (not timed, may be NULL) then run (timed). */
typedef struct {
	int (*prep)(void *u, char *err, size_t errlen);
	int (*run)(void *u, char *err, size_t errlen);
	void *u;
} workload;

typedef struct {
	int repeats;   /* timed repeats */
	int cold;      /* the warm-up run is the first repeat */
	int settle_ms; /* sleep before the workload */
} timing_plan;

/* One warm-up run; then the number of runs that make one repeat (>= 20
 * ms).  Returns the run's seconds, or -1 with err. */
static double warm_up(const workload *w, int *calls, char *err, size_t errlen)
{
	if (w->prep && w->prep(w->u, err, errlen))
		return -1;
	double t0 = now_s();
	if (w->run(w->u, err, errlen))
		return -1;
	double one = now_s() - t0;
	*calls = one > 0 && one < MIN_REPEAT_S ? (int)ceil(MIN_REPEAT_S / one) : 1;
	return one;
}

/* Seconds of one run, averaged over `calls` runs (prep not timed). */
static double one_repeat(const workload *w, int calls, char *err, size_t errlen)
{
	double sum = 0;
	for (int c = 0; c < calls; c++) {
		if (w->prep && w->prep(w->u, err, errlen))
			return -1;
		double t0 = now_s();
		if (w->run(w->u, err, errlen))
			return -1;
		sum += now_s() - t0;
	}
	return sum / calls;
}

/* Times w[0] (fp32) and w[1] (quantized) with their repeats interleaved,
 * so a change of machine load between repeats hits both alike; before
 * each quantized repeat we sleep so OpenBLAS's threads, which spin after
 * a call, have gone idle and leave the cores to our pool.  med[q]: the
 * median seconds of one run.  0, or -1 with err. */
static int time_pair(const workload w[2], const timing_plan *p, double med[2], char *err, size_t errlen)
{
	double *t = calloc(2 * (size_t)p->repeats, sizeof *t);
	int calls[2], st = -1, rep = 0;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int q = 0; q < 2; q++) {
		pause_ms(p->settle_ms);
		double one = warm_up(&w[q], &calls[q], err, errlen);
		if (one < 0)
			goto out;
		if (p->cold)
			t[q * p->repeats] = one;
	}
	for (rep = p->cold; rep < p->repeats; rep++)
		for (int q = 0; q < 2; q++) {
			if (q)
				pause_ms(p->settle_ms);
			if ((t[q * p->repeats + rep] = one_repeat(&w[q], calls[q], err, errlen)) < 0)
				goto out;
		}
	for (int q = 0; q < 2; q++) {
		qsort(t + q * p->repeats, (size_t)p->repeats, sizeof *t, cmp_double);
		const double *v = t + q * p->repeats;
		int h = p->repeats / 2;
		med[q] = p->repeats % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
		if (!(med[q] > 0)) {
			snprintf(err, errlen, "the timer measured nothing");
			goto out;
		}
	}
	st = 0;
out:
	free(t);
	return st;
}

/* ------------------------------------------------------- the models */

/* A model under test: a sequence model or a CNN, and its quantized twin. */
typedef struct {
	eng_seq_model *seq; /* owned; NULL for a CNN */
	eng_model *cnn;     /* owned; NULL for a sequence model */
	const eng_model *base;
	int synthetic;
	eng_qmodel *qm;
	eng_qrunner *qr;
	eng_seq_hooks href, hq;
	eng_backend bref, bq;
} bm_model;

static void bm_done(bm_model *m)
{
	eng_qrunner_destroy(m->qr);
	eng_qmodel_destroy(m->qm);
	eng_seq_destroy(m->seq);
	eng_model_destroy(m->cnn);
	memset(m, 0, sizeof *m);
}

/* Fills a linear layer of a synthetic model: PyTorch's nn.Linear init,
 * weights and bias uniform in +-1/sqrt(in). */
static int synth_linear(eng_layer *L, int qindex, const char *name, int out, int in, uint64_t *rng)
{
	snprintf(L->name, sizeof L->name, "%.31s", name); /* names here are short: blocks.N.mlp.fc1 */
	L->op = ENG_LINEAR;
	L->kernel = L->stride = 1;
	L->in_c = L->k = in;
	L->in_h = L->in_w = L->out_h = L->out_w = 1;
	L->out_c = out;
	L->qindex = qindex;
	L->w = malloc((size_t)out * in * sizeof *L->w);
	L->b = malloc((size_t)out * sizeof *L->b);
	if (!L->w || !L->b)
		return -1;
	float bound = 1.0f / sqrtf((float)in);
	for (size_t i = 0; i < (size_t)out * in; i++)
		L->w[i] = bound * rng_unit(rng);
	for (int i = 0; i < out; i++)
		L->b[i] = bound * rng_unit(rng);
	return 0;
}

static int synth_ln(eng_ln *ln, int d)
{
	ln->g = malloc((size_t)d * sizeof *ln->g);
	ln->b = calloc((size_t)d, sizeof *ln->b);
	if (!ln->g || !ln->b)
		return -1;
	for (int i = 0; i < d; i++)
		ln->g[i] = 1.0f;
	return 0;
}

/* A decoder of width d with the shipped decoder-text's architecture (4
 * pre-LN blocks, heads of 32, d_ff = 4d, byte vocabulary, context 256)
 * and random weights (seeded; linear layers as PyTorch initialises them,
 * embeddings N-ish(0, 0.02) as GPT-2 does, LayerNorm 1 and 0): for timing
 * only.  Layer names match decoder-text's, so a recipe's overrides apply.
 * Freed by eng_seq_destroy.  NULL with err when out of memory. */
static eng_seq_model *synth_decoder(int d, uint64_t seed, char *err, size_t errlen)
{
	eng_seq_model *m = calloc(1, sizeof *m);
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)d;
	char name[48];
	snprintf(name, sizeof name, "synthetic-d%d", d);
	if (!m)
		goto oom;
	m->kind = ENG_SEQ_DECODER;
	m->vocab = SYN_VOCAB, m->d_model = d, m->n_layers = SYN_LAYERS, m->n_heads = d / SYN_HEAD_DIM;
	m->d_head = SYN_HEAD_DIM, m->d_ff = 4 * d, m->context = SYN_CONTEXT, m->ln_eps = 1e-5f;
	m->bos = m->eos = -1;
	m->base.name = strdup(name);
	m->base.family = strdup("decoder");
	m->base.path = strdup("(built in memory)");
	m->base.task = strdup("synthetic decoder, random weights: speed only");
	/* nlayers only once the array exists: eng_seq_destroy walks it */
	if ((m->base.layers = calloc(4 * SYN_LAYERS + 1, sizeof *m->base.layers)))
		m->base.nlayers = m->base.nq = 4 * SYN_LAYERS + 1;
	m->blocks = calloc(SYN_LAYERS, sizeof *m->blocks);
	m->tok_emb = malloc((size_t)SYN_VOCAB * d * sizeof *m->tok_emb);
	m->pos_emb = malloc((size_t)SYN_CONTEXT * d * sizeof *m->pos_emb);
	if (!m->base.name || !m->base.family || !m->base.path || !m->base.task || !m->base.layers || !m->blocks ||
	    !m->tok_emb || !m->pos_emb)
		goto oom;
	/* a sum of three uniforms has sd 1: close enough to normal for speed */
	for (size_t i = 0; i < (size_t)SYN_VOCAB * d; i++)
		m->tok_emb[i] = 0.02f * (rng_unit(&rng) + rng_unit(&rng) + rng_unit(&rng));
	for (size_t i = 0; i < (size_t)SYN_CONTEXT * d; i++)
		m->pos_emb[i] = 0.02f * (rng_unit(&rng) + rng_unit(&rng) + rng_unit(&rng));
	long params = (long)(SYN_VOCAB + SYN_CONTEXT) * d;
	for (int l = 0; l < SYN_LAYERS; l++) {
		eng_xblock *b = &m->blocks[l];
		eng_layer *L = &m->base.layers[4 * l];
		static const char *const sub[] = {"attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"};
		const int outs[] = {3 * d, d, 4 * d, d}, ins[] = {d, d, d, 4 * d};
		if (synth_ln(&b->ln1, d) || synth_ln(&b->ln2, d))
			goto oom;
		params += 4L * d;
		for (int j = 0; j < 4; j++) {
			char lname[48];
			snprintf(lname, sizeof lname, "blocks.%d.%s", l, sub[j]);
			if (synth_linear(&L[j], 4 * l + j, lname, outs[j], ins[j], &rng))
				goto oom;
			params += (long)outs[j] * ins[j] + outs[j];
		}
		b->qkv = &L[0], b->proj = &L[1], b->fc1 = &L[2], b->fc2 = &L[3];
	}
	if (synth_ln(&m->ln_f, d))
		goto oom;
	m->head = &m->base.layers[4 * SYN_LAYERS];
	if (synth_linear(m->head, 4 * SYN_LAYERS, "head", SYN_VOCAB, d, &rng))
		goto oom;
	m->base.params = params + 2L * d + (long)SYN_VOCAB * d + SYN_VOCAB;
	m->base.out_dim = SYN_VOCAB;
	return m;
oom:
	eng_seq_destroy(m);
	snprintf(err, errlen, "%s: out of memory building the synthetic model", name);
	return NULL;
}

/* data/models/NAME.safetensors, or a path as given (as eng_session_create
 * resolves --model). */
static int resolve_model(const char *model, char *path, size_t len)
{
	if (strchr(model, '/') || strstr(model, ".safetensors"))
		snprintf(path, len, "%s", model);
	else
		snprintf(path, len, "%s/models/%s.safetensors", eng_data_dir(), model);
	return access(path, R_OK) == 0 ? 0 : -1;
}

/* ------------------------------------------------------- calibration */


/* The same rule eval uses: static activation ranges, or SmoothQuant's
 * per-channel statistics, need calibration; weight-only and dynamic
 * per-token int8 do not. */
static int needs_calibration(const eng_recipe *r)
{
	return (r->acts != KQ_FMT_F32 && !(r->acts == KQ_FMT_I8 && r->act_token)) || r->smooth > 0;
}

#define CAL_SEQS 2
#define CAL_LEN 64
#define CAL_IMAGES 16

/* One fp32 pass over the calibration inputs through backend be. */
static int calib_pass(bm_model *m, const eng_backend *be, kq_ctx *ctx, uint64_t seed, char *err, size_t errlen)
{
	uint64_t rng = seed * 0xD1B54A32D192ED03ull + 7;
	int st = -1;
	if (m->cnn) {
		const eng_model *c = m->cnn;
		size_t in = (size_t)c->in_c * c->in_h * c->in_w;
		float *x = malloc(CAL_IMAGES * in * sizeof *x), *lg = malloc((size_t)CAL_IMAGES * c->out_dim * sizeof *lg);
		float *ws = malloc(eng_forward_ws_floats(c, CAL_IMAGES) * sizeof *ws);
		if (x && lg && ws) {
			float inv = c->std > 0 ? 1.0f / c->std : 1.0f;
			for (size_t i = 0; i < CAL_IMAGES * in; i++)
				x[i] = ((float)rng_below(&rng, 256) / 255.0f - c->mean) * inv;
			st = eng_forward(c, be, CAL_IMAGES, x, lg, ws, err, errlen);
		} else
			snprintf(err, errlen, "out of memory");
		free(x), free(lg), free(ws);
		return st;
	}
	const eng_seq_model *s = m->seq;
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	h.lin = *be;
	int enc = s->kind == ENG_SEQ_ENCODER, len = enc ? ENC_LEN : CAL_LEN, nseq = enc ? CAL_IMAGES : CAL_SEQS;
	if (len > s->context && s->kind != ENG_SEQ_RNN)
		len = s->context;
	int32_t *tok = malloc((size_t)nseq * len * sizeof *tok), *off = malloc((size_t)(nseq + 1) * sizeof *off);
	float *lg = malloc((size_t)nseq * s->base.out_dim * sizeof *lg);
	eng_seq_ws *ws = eng_seq_ws_create();
	if (!tok || !off || !lg || !ws) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < nseq; i++) {
		off[i] = i * len;
		for (int j = 0; j < len; j++)
			tok[i * len + j] = enc && (j == 0 || j == len - 1) ? (j ? s->eos : s->bos) : 'a' + rng_below(&rng, 26);
	}
	off[nseq] = nseq * len;
	eng_seq_batch b = {nseq, off, tok};
	st = enc ? eng_seq_encode(s, &h, ws, &b, lg, err, errlen)
	     : s->kind == ENG_SEQ_DECODER ? eng_seq_decode(s, &h, ws, NULL, NULL, &b, ENG_LOGITS_LAST, lg, err, errlen)
					  : eng_seq_rnn(s, &h, ws, NULL, &b, ENG_LOGITS_LAST, lg, err, errlen);
out:
	free(tok), free(off), free(lg);
	eng_seq_ws_destroy(ws);
	return st;
}

/* Quantizes m by r (calibrating first when r needs it) and sets up the
 * reference and quantized backends and hooks.  0 or -1 with err. */
static int bm_quantize(bm_model *m, const eng_recipe *r, kq_ctx *ctx, uint64_t seed, char *err, size_t errlen)
{
	eng_observer *obs = NULL;
	if (needs_calibration(r)) {
		if (!(obs = eng_qmodel_observers_create(m->base))) {
			snprintf(err, errlen, "out of memory for calibration");
			return -1;
		}
		eng_observe_state os = {obs, ctx};
		eng_backend be = eng_backend_observe(&os);
		for (int pass = 1; pass <= 2; pass++) {
			if (calib_pass(m, &be, ctx, seed, err, errlen)) {
				free(obs);
				return -1;
			}
			if (pass == 2)
				break;
			for (int i = 0; i < m->base->nq; i++)
				eng_obs_next_pass(&obs[i]);
			if (eng_qmodel_observers_smooth(m->base, r->smooth, obs, err, errlen)) {
				free(obs);
				return -1;
			}
		}
	}
	m->qm = eng_qmodel_create(m->base, r, obs, err, errlen);
	free(obs);
	if (!m->qm)
		return -1;
	if (!(m->qr = eng_qrunner_create(m->qm, ctx))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->bref = eng_backend_f32(ctx);
	m->bq = eng_backend_quant(m->qr);
	m->href = m->hq = eng_seq_hooks_f32(ctx);
	m->hq.lin = m->bq;
	return 0;
}

/* --------------------------------------------------------- workloads */

typedef struct {
	const eng_seq_model *m;
	const eng_seq_hooks *h;
	eng_seq_ws *ws;
	eng_kv *kv;
	float *state;  /* rnn: the GRU state carried between steps */
	int32_t *tok;  /* prompt / prefill tokens */
	int32_t off[2];
	float *logits;
	int32_t next;
} seq_job;

static int argmax(const float *x, int n)
{
	int best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

/* One call on tokens tok[0 .. n) continuing the cache or the state. */
static int seq_call(seq_job *j, const int32_t *tok, int n, char *err, size_t errlen)
{
	int32_t off[2] = {0, n};
	eng_seq_batch b = {1, off, tok};
	if (j->m->kind == ENG_SEQ_DECODER)
		return eng_seq_decode(j->m, j->h, j->ws, j->kv, NULL, &b, ENG_LOGITS_LAST, j->logits, err, errlen);
	return eng_seq_rnn(j->m, j->h, j->ws, j->state, &b, ENG_LOGITS_LAST, j->logits, err, errlen);
}

static int seq_reset(seq_job *j)
{
	if (j->kv)
		eng_kv_clear(j->kv);
	if (j->state)
		memset(j->state, 0, eng_seq_state_floats(j->m) * sizeof *j->state);
	return 0;
}

static int pp_prep(void *u, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	return seq_reset(u);
}

static int pp_run(void *u, char *err, size_t errlen)
{
	seq_job *j = u;
	return seq_call(j, j->tok, PP_TOKENS, err, errlen);
}

static int tg_prep(void *u, char *err, size_t errlen)
{
	seq_job *j = u;
	seq_reset(j);
	if (seq_call(j, j->tok, TG_PROMPT, err, errlen))
		return -1;
	j->next = argmax(j->logits, j->m->vocab);
	return 0;
}

/* Greedy generation: each step feeds the previous step's argmax. */
static int tg_run(void *u, char *err, size_t errlen)
{
	seq_job *j = u;
	for (int s = 0; s < TG_TOKENS; s++) {
		if (seq_call(j, &j->next, 1, err, errlen))
			return -1;
		j->next = argmax(j->logits, j->m->vocab);
	}
	return 0;
}

typedef struct {
	const eng_seq_model *seq;
	const eng_model *cnn;
	const eng_seq_hooks *h;
	const eng_backend *be;
	eng_seq_ws *sws;
	int batch;
	int32_t *tok, *off;
	float *x, *fws, *logits;
} batch_job;

static int batch_run(void *u, char *err, size_t errlen)
{
	batch_job *j = u;
	if (j->cnn)
		return eng_forward(j->cnn, j->be, j->batch, j->x, j->logits, j->fws, err, errlen);
	eng_seq_batch b = {j->batch, j->off, j->tok};
	return eng_seq_encode(j->seq, j->h, j->sws, &b, j->logits, err, errlen);
}

/* ------------------------------------------------------------ rows */

typedef struct {
	const eng_bench_model_opts *o;
	kq_ctx *ctx;
	size_t llc;
	eng_progress_fn progress;
	void *user;
	int step, steps;
	int explicit_repeats, repeats;
	int settle_ms;
	uint64_t seed;
} bench_run;

static void say(bench_run *br, const char *model, const char *what)
{
	if (!br->progress)
		return;
	char line[160];
	snprintf(line, sizeof line, "%s: %s", model, what);
	br->progress(br->user, line, br->steps > 0 ? (double)br->step / br->steps : 0);
	br->step++;
}

/* Involuntary context switches of this process so far: each is a time
 * slice one of our threads lost to other work, which a kernel pool
 * waiting for all its workers feels at every layer. */
static long preemptions(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_nivcsw : 0;
}

static size_t ref_weight_bytes(const eng_model *m)
{
	size_t n = 0;
	for (int i = 0; i < m->nq; i++) {
		const eng_layer *L = eng_model_qlayer(m, i);
		n += (size_t)L->out_c * L->k * sizeof(float);
	}
	return n;
}

static timing_plan plan_for(const bench_run *br, size_t wbytes)
{
	timing_plan p = {br->repeats, 0, br->settle_ms};
	p.cold = wbytes > COLD_FACTOR * br->llc;
	if (p.cold && !br->explicit_repeats && p.repeats > 3)
		p.repeats = 3;
	return p;
}

static double ratio(double q, double ref)
{
	return ref > 0 ? q / ref : 0;
}

static cJSON *row_common(const bench_run *br, const bm_model *m, const timing_plan *p, long pre0)
{
	cJSON *o = cJSON_CreateObject();
	size_t wref = ref_weight_bytes(m->base), wq = eng_qmodel_weight_bytes(m->qm);
	cJSON_AddStringToObject(o, "model", m->base->name);
	cJSON_AddStringToObject(o, "family", m->base->family);
	cJSON_AddNumberToObject(o, "params", (double)m->base->params);
	cJSON_AddNumberToObject(o, "weight_bytes_ref", (double)wref);
	cJSON_AddNumberToObject(o, "weight_bytes_quant", (double)wq);
	cJSON_AddBoolToObject(o, "ref_weights_fit_llc", wref <= br->llc);
	cJSON_AddBoolToObject(o, "quant_weights_fit_llc", wq <= br->llc);
	cJSON_AddNumberToObject(o, "repeats", p->repeats);
	cJSON_AddBoolToObject(o, "cold", p->cold);
	cJSON_AddBoolToObject(o, "emulated", eng_qmodel_emulated(m->qm));
	cJSON_AddBoolToObject(o, "synthetic", m->synthetic);
	cJSON_AddNumberToObject(o, "preemptions", (double)(preemptions() - pre0));
	return o;
}

int eng_seq_bench_tokens(const eng_seq_model *s, const eng_seq_hooks *href, const eng_seq_hooks *hq, int repeats,
			 int cold, int settle_ms, uint64_t seed, double out[4], char *err, size_t errlen)
{
	int dec = s->kind == ENG_SEQ_DECODER, st = -1;
	timing_plan p = {repeats, cold, settle_ms};
	seq_job j = {.m = s};
	double t[2][2] = {{0}}; /* [pp, tg][ref, quant] */
	uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 3;
	j.tok = malloc(PP_TOKENS * sizeof *j.tok);
	j.logits = malloc((size_t)s->vocab * sizeof *j.logits);
	j.ws = eng_seq_ws_create();
	int need = TG_PROMPT + TG_TOKENS > PP_TOKENS ? TG_PROMPT + TG_TOKENS : PP_TOKENS;
	if (dec && s->context < need) {
		snprintf(err, errlen, "%s: a context of %d tokens is shorter than the %d that pp128 and tg128 need", s->base.name,
			 s->context, need);
		goto out;
	}
	if (dec)
		j.kv = eng_kv_create(s, 1, need, err, errlen);
	else
		j.state = malloc(eng_seq_state_floats(s) * sizeof *j.state);
	if (dec && !j.kv)
		goto out;
	if (!j.tok || !j.logits || !j.ws || (!dec && !j.state)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < PP_TOKENS; i++)
		j.tok[i] = 32 + rng_below(&rng, 95); /* printable ASCII: text-like bytes */
	/* the reference and the quantized run differ only in their hooks */
	seq_job jq = j;
	j.h = href, jq.h = hq;
	workload w[2][2] = {{{pp_prep, pp_run, &j}, {pp_prep, pp_run, &jq}}, {{tg_prep, tg_run, &j}, {tg_prep, tg_run, &jq}}};
	static const char *const what[2] = {"pp128", "tg128"};
	for (int k = 0; k < 2; k++)
		if (time_pair(w[k], &p, t[k], err, errlen)) {
			char e[256];
			snprintf(e, sizeof e, "%s", err);
			snprintf(err, errlen, "%s: %s: %s", s->base.name, what[k], e);
			goto out;
		}
	out[0] = PP_TOKENS / t[0][0], out[1] = PP_TOKENS / t[0][1];
	out[2] = TG_TOKENS / t[1][0], out[3] = TG_TOKENS / t[1][1];
	st = 0;
out:
	free(j.tok), free(j.logits), free(j.state);
	eng_seq_ws_destroy(j.ws);
	eng_kv_destroy(j.kv);
	return st;
}

/* pp128 and tg128 of a decoder or an rnn, fp32 and quantized. */
static cJSON *seq_token_row(bench_run *br, bm_model *m, char *err, size_t errlen)
{
	const eng_seq_model *s = m->seq;
	timing_plan p = plan_for(br, ref_weight_bytes(m->base));
	long pre0 = preemptions();
	double v[4];
	say(br, s->base.name, "pp128 and tg128, fp32 and quantized");
	if (eng_seq_bench_tokens(s, &m->href, &m->hq, p.repeats, p.cold, p.settle_ms, br->seed, v, err, errlen))
		return NULL;
	cJSON *row = row_common(br, m, &p, pre0);
	cJSON_AddNumberToObject(row, "width", s->kind == ENG_SEQ_DECODER ? s->d_model : s->hidden);
	cJSON_AddStringToObject(row, "unit", "tokens/s");
	cJSON_AddNumberToObject(row, "pp128_ref", round(v[0] * 10) / 10);
	cJSON_AddNumberToObject(row, "pp128_quant", round(v[1] * 10) / 10);
	cJSON_AddNumberToObject(row, "pp_ratio", round(ratio(v[1], v[0]) * 1000) / 1000);
	cJSON_AddNumberToObject(row, "tg128_ref", round(v[2] * 10) / 10);
	cJSON_AddNumberToObject(row, "tg128_quant", round(v[3] * 10) / 10);
	cJSON_AddNumberToObject(row, "tg_ratio", round(ratio(v[3], v[2]) * 1000) / 1000);
	return row;
}

/* samples/s of an encoder or a CNN at one batch size, fp32 and quantized. */
static cJSON *batch_row(bench_run *br, bm_model *m, int batch, char *err, size_t errlen)
{
	timing_plan p = plan_for(br, ref_weight_bytes(m->base));
	long pre0 = preemptions();
	batch_job j = {.seq = m->seq, .cnn = m->cnn, .batch = batch};
	uint64_t rng = br->seed * 0x2545F4914F6CDD1Dull + 5 + (uint64_t)batch;
	cJSON *row = NULL;
	double t[2] = {0, 0};
	int len = 0;
	j.logits = malloc((size_t)batch * m->base->out_dim * sizeof *j.logits);
	if (!j.logits)
		goto oom;
	if (m->cnn) {
		const eng_model *c = m->cnn;
		size_t in = (size_t)c->in_c * c->in_h * c->in_w;
		j.x = malloc((size_t)batch * in * sizeof *j.x);
		j.fws = malloc(eng_forward_ws_floats(c, batch) * sizeof *j.fws);
		if (!j.x || !j.fws)
			goto oom;
		float inv = c->std > 0 ? 1.0f / c->std : 1.0f;
		for (size_t i = 0; i < (size_t)batch * in; i++)
			j.x[i] = ((float)rng_below(&rng, 256) / 255.0f - c->mean) * inv;
	} else {
		const eng_seq_model *s = m->seq;
		len = ENC_LEN <= s->context ? ENC_LEN : s->context;
		j.tok = malloc((size_t)batch * len * sizeof *j.tok);
		j.off = malloc((size_t)(batch + 1) * sizeof *j.off);
		j.sws = eng_seq_ws_create();
		if (!j.tok || !j.off || !j.sws)
			goto oom;
		for (int i = 0; i < batch; i++) {
			j.off[i] = i * len;
			for (int k = 0; k < len; k++)
				j.tok[i * len + k] = k == 0 ? s->bos : k == len - 1 ? s->eos : 'a' + rng_below(&rng, 26);
		}
		j.off[batch] = batch * len;
	}
	batch_job jq = j;
	j.h = &m->href, j.be = &m->bref, jq.h = &m->hq, jq.be = &m->bq;
	workload w[2] = {{NULL, batch_run, &j}, {NULL, batch_run, &jq}};
	char what[64];
	snprintf(what, sizeof what, "batch %d, fp32 and quantized", batch);
	say(br, m->base->name, what);
	if (time_pair(w, &p, t, err, errlen)) {
		char e[256];
		snprintf(e, sizeof e, "%s", err);
		snprintf(err, errlen, "%s: %s: %s", m->base->name, what, e);
		goto out;
	}
	row = row_common(br, m, &p, pre0);
	cJSON_AddNumberToObject(row, "batch", batch);
	if (len)
		cJSON_AddNumberToObject(row, "seq_len", len);
	cJSON_AddStringToObject(row, "unit", "samples/s");
	double ref = batch / t[0], q = batch / t[1];
	cJSON_AddNumberToObject(row, "ref", round(ref * 10) / 10);
	cJSON_AddNumberToObject(row, "quant", round(q * 10) / 10);
	cJSON_AddNumberToObject(row, "ratio", round(ratio(q, ref) * 1000) / 1000);
	goto out;
oom:
	snprintf(err, errlen, "out of memory for a batch of %d", batch);
out:
	free(j.logits), free(j.x), free(j.fws), free(j.tok), free(j.off);
	eng_seq_ws_destroy(j.sws);
	return row;
}

/* -------------------------------------------------------------- entry */

static void set_err(int *usage, int u, char *err, size_t errlen, const char *msg)
{
	if (usage)
		*usage = u;
	if (msg)
		snprintf(err, errlen, "%s", msg);
}

cJSON *eng_bench_model(const eng_bench_model_opts *o, eng_progress_fn progress, void *user, int *usage, char *err,
		       size_t errlen)
{
	if (usage)
		*usage = 0;
	if (errlen)
		err[0] = 0;
	if (kq_init() != KQ_OK) {
		snprintf(err, errlen, "PRECIS_ISA=%s: unknown or not supported by this CPU (use ref, avx2 or avx512vnni)",
			 getenv("PRECIS_ISA") ? getenv("PRECIS_ISA") : "");
		set_err(usage, 1, err, errlen, NULL);
		return NULL;
	}
	const eng_recipe *r = o->recipe;
	const char *name = o->model ? o->model : "decoder-text";
	char path[1024], fam[32];
	if (resolve_model(name, path, sizeof path)) {
		snprintf(err, errlen, "--model %s: no such model (looked for %s; 'precis models' lists them)", name, path);
		set_err(usage, 1, err, errlen, NULL);
		return NULL;
	}
	for (int i = 0; i < o->nwidths; i++)
		if (o->widths[i] < SYN_HEAD_DIM || o->widths[i] > 4096 || o->widths[i] % SYN_HEAD_DIM) {
			snprintf(err, errlen, "--widths: %d is not a multiple of %d from %d to 4096 (heads are %d wide)",
				 o->widths[i], SYN_HEAD_DIM, SYN_HEAD_DIM, SYN_HEAD_DIM);
			set_err(usage, 1, err, errlen, NULL);
			return NULL;
		}
	if (eng_seq_file_family(path, fam, sizeof fam, err, errlen)) {
		set_err(usage, 1, err, errlen, NULL);
		return NULL;
	}
	int dec = strcmp(fam, "decoder") == 0;
	if (r->kv != KQ_FMT_F32) {
		snprintf(err, errlen, "--kv %s: bench model times the fp32 KV cache only (a quantized cache is "
				      "rounded in fp32 storage here, which says nothing about speed)",
			 kq_fmt_get(r->kv)->name);
		set_err(usage, 1, err, errlen, NULL);
		return NULL;
	}
	if (o->widths && !dec) {
		snprintf(err, errlen, "--widths: synthetic widths are decoders; %s is a %s model", name, fam);
		set_err(usage, 1, err, errlen, NULL);
		return NULL;
	}

	bench_run br = {.o = o, .llc = llc_bytes(), .progress = progress, .user = user, .seed = o->seed};
	br.explicit_repeats = o->repeats > 0;
	br.repeats = o->repeats > 0 ? o->repeats : o->quick ? 2 : 5;
	br.settle_ms = o->quick ? 20 : SETTLE_MS;
	const int *widths = o->widths;
	int nw = o->nwidths;
	if (!widths && dec) {
		widths = o->quick ? quick_widths : default_widths;
		nw = o->quick ? (int)(sizeof quick_widths / sizeof *quick_widths)
			      : (int)(sizeof default_widths / sizeof *default_widths);
	}
	if (!dec)
		nw = 0;
	int batch_rows = strcmp(fam, "encoder") == 0 || strcmp(fam, "cnn") == 0;
	br.steps = (1 + nw) * 3; /* load or build, then two timed pairs */
	if (!(br.ctx = kq_ctx_create(o->threads))) {
		snprintf(err, errlen, "cannot start %d worker threads", o->threads);
		return NULL;
	}
	int threads = kq_ctx_threads(br.ctx);
	/* other work on the machine: a kernel pool that must wait for a core
	 * shows it first, so the result says how busy the machine was */
	double load0[1] = {-1}, load1[1] = {-1};
	getloadavg(load0, 1);

	cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateArray();
	bm_model m = {0};
	char desc[256];
	cJSON_AddStringToObject(root, "precis", PACKAGE_VERSION);
	cJSON_AddStringToObject(root, "model", name);
	cJSON_AddStringToObject(root, "family", fam);
	cJSON_AddItemToObject(root, "recipe", eng_recipe_to_json(r));
	eng_recipe_describe(r, desc, sizeof desc);
	cJSON_AddStringToObject(root, "recipe_text", desc);
	cJSON_AddStringToObject(root, "reference", "fp32");
	cJSON_AddNumberToObject(root, "threads", threads);
	cJSON_AddStringToObject(root, "isa", kq_isa_name(kq_isa_active()));
	char cpu[128];
	eng_cpu_model(cpu, sizeof cpu);
	cJSON_AddStringToObject(root, "cpu", cpu);
	cJSON_AddNumberToObject(root, "llc_bytes", (double)br.llc);
	cJSON_AddNumberToObject(root, "repeats", br.repeats);
	cJSON_AddBoolToObject(root, "quick", o->quick != 0);
	if (dec || !batch_rows) {
		cJSON_AddNumberToObject(root, "pp_tokens", PP_TOKENS);
		cJSON_AddNumberToObject(root, "tg_tokens", TG_TOKENS);
		cJSON_AddNumberToObject(root, "tg_prompt", TG_PROMPT);
	}
	cJSON_AddStringToObject(root, "method",
				"batch 1 unless a row says otherwise; pp128 = one prefill call of 128 tokens into an empty "
				"KV cache (rnn: from a zero state), logits of the last token; tg128 = 128 greedy single-token "
				"steps after an untimed 8-token prompt; tokens/s = tokens / seconds; each figure is the "
				"median over the row's repeats, each repeat running the workload until >= 20 ms, after one "
				"warm-up run; fp32 and quantized repeats alternate, with a 150 ms pause before each quantized "
				"one; preemptions = involuntary context switches of this process during the row (time slices "
				"lost to other work); rows whose fp32 weights exceed 4x the last-level cache are cold by nature: "
				"there the warm-up run counts as the first repeat and, unless --repeats is given, 3 "
				"repeats are taken; ratio = quantized / fp32 tokens/s (samples/s), same run, same threads");
	cJSON_AddBoolToObject(root, "calibrated", needs_calibration(r));
	cJSON_AddStringToObject(root, "calibration",
				needs_calibration(r)
					? "activation ranges from random seeded inputs (2 windows of 64 tokens, 16 words or 16 "
					  "images): they fix ranges only, which do not change the speed"
					: "none: the recipe quantizes no activation statically");
	cJSON_AddItemToObject(root, "results", results);

	int fail = 0;
	for (int wi = -1; wi < nw && !fail; wi++) {
		memset(&m, 0, sizeof m);
		if (wi < 0) {
			say(&br, name, "load and quantize");
			if (strcmp(fam, "cnn") == 0) {
				if (!(m.cnn = eng_model_load(path, err, errlen))) {
					set_err(usage, 1, err, errlen, NULL);
					fail = 1;
					break;
				}
				m.base = m.cnn;
			} else {
				if (!(m.seq = eng_seq_load(path, err, errlen))) {
					set_err(usage, 1, err, errlen, NULL);
					fail = 1;
					break;
				}
				m.base = &m.seq->base;
			}
		} else {
			char what[64];
			snprintf(what, sizeof what, "build width %d and quantize", widths[wi]);
			say(&br, "synthetic", what);
			if (!(m.seq = synth_decoder(widths[wi], o->seed, err, errlen))) {
				fail = 1;
				break;
			}
			m.base = &m.seq->base;
			m.synthetic = 1;
		}
		if (bm_quantize(&m, r, br.ctx, o->seed, err, errlen)) {
			if (usage && strncmp(err, "override", 8) == 0)
				*usage = 1;
			fail = 1;
			break;
		}
		if (batch_rows) {
			for (int bi = 0; bi < 2 && !fail; bi++) {
				cJSON *row = batch_row(&br, &m, bi ? BIG_BATCH : 1, err, errlen);
				if (row)
					cJSON_AddItemToArray(results, row);
				fail = !row;
			}
		} else {
			cJSON *row = seq_token_row(&br, &m, err, errlen);
			if (row)
				cJSON_AddItemToArray(results, row);
			fail = !row;
		}
		bm_done(&m);
	}
	bm_done(&m);
	kq_ctx_destroy(br.ctx);
	if (fail) {
		cJSON_Delete(root);
		return NULL;
	}
	/* the smallest width at which quantized decode runs >= 3x fp32 */
	cJSON *row;
	double cross = -1;
	cJSON_ArrayForEach(row, results)
	{
		const cJSON *tg = cJSON_GetObjectItemCaseSensitive(row, "tg_ratio");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(row, "width");
		if (cJSON_IsNumber(tg) && tg->valuedouble >= 3.0 && cJSON_IsNumber(w) && (cross < 0 || w->valuedouble < cross))
			cross = w->valuedouble;
	}
	getloadavg(load1, 1);
	cJSON_AddNumberToObject(root, "online_cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
	cJSON_AddNumberToObject(root, "load_avg_start", round(load0[0] * 100) / 100);
	cJSON_AddNumberToObject(root, "load_avg_end", round(load1[0] * 100) / 100);
	if (dec)
		cJSON_AddItemToObject(root, "tg_3x_width", cross > 0 ? cJSON_CreateNumber(cross) : cJSON_CreateNull());
	if (progress)
		progress(user, "done", 1.0);
	return root;
}
