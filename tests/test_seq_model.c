/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_seq_model.c - the sequence models' fp32 forward passes against
 * PyTorch (tests/golden/seq_logits.txt from tools/gen_seq_fixtures.py, to
 * 1e-4); the outlier variants against their base models; the KV cache
 * (incremental decoding equals full recomputation, also with a rounding
 * hook); the GRU fed in pieces equals one pass; every linear layer goes
 * through the backend hook; loader and batch errors name what is wrong. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "eng_seq.h"
#include "eng_seq_impl.h"
#include "tap.h"

#define MAXSEQ 4
#define MAXROWS 64

static const char *srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

/* ------------------------------------------------------------ fixtures */

typedef struct {
	int seq, pos;
	float *v;
} fix_row;

typedef struct {
	char name[64], sha[65];
	int nwords;
	char *word[32];
	float *wlog[32];
	int nseq;
	uint8_t *seq[MAXSEQ];
	int seqlen[MAXSEQ];
	int nrows;
	fix_row row[MAXROWS];
} fixture;

static fixture fix[8];
static int nfix;

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int unhex(const char *h, uint8_t *out)
{
	int n = 0;
	while (hexval(h[0]) >= 0 && hexval(h[1]) >= 0) {
		out[n++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
		h += 2;
	}
	return n;
}

static float *read_floats(const char *p, int n)
{
	float *v = malloc((size_t)n * sizeof *v);
	int off, k = 0;
	while (k < n && sscanf(p, "%f%n", &v[k], &off) == 1)
		p += off, k++;
	if (k != n) {
		free(v);
		return NULL;
	}
	return v;
}

static int load_fixtures(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/tests/golden/seq_logits.txt", srcdir());
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	static char line[1 << 16];
	fixture *cur = NULL;
	int bad = 0;
	while (fgets(line, sizeof line, f) && !bad) {
		char a[64], b[8192];
		int i, p, off;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "model %63s %64s", a, b) == 2 && nfix < 8) {
			cur = &fix[nfix++];
			snprintf(cur->name, sizeof cur->name, "%s", a);
			snprintf(cur->sha, sizeof cur->sha, "%.64s", b);
		} else if (cur && sscanf(line, "w %8191s%n", b, &off) == 1 && cur->nwords < 32) {
			uint8_t w[64];
			int n = unhex(b, w);
			cur->word[cur->nwords] = calloc((size_t)n + 1, 1);
			memcpy(cur->word[cur->nwords], w, (size_t)n);
			if (!(cur->wlog[cur->nwords++] = read_floats(line + off, 12)))
				bad = 1;
		} else if (cur && sscanf(line, "s %d %8191s", &i, b) == 2 && i == cur->nseq && i < MAXSEQ) {
			cur->seq[i] = malloc(strlen(b) / 2 + 1);
			cur->seqlen[i] = unhex(b, cur->seq[i]);
			cur->nseq++;
		} else if (cur && sscanf(line, "p %d %d%n", &i, &p, &off) == 2 && cur->nrows < MAXROWS) {
			fix_row *r = &cur->row[cur->nrows++];
			r->seq = i, r->pos = p;
			if (!(r->v = read_floats(line + off, 256)))
				bad = 1;
		} else
			bad = 1;
	}
	fclose(f);
	return bad ? -1 : 0;
}

static fixture *fixture_of(const char *name)
{
	for (int i = 0; i < nfix; i++)
		if (!strcmp(fix[i].name, name))
			return &fix[i];
	return NULL;
}

static eng_seq_model *load_model(const char *name, fixture **fx)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof path, "%s/data/models/%s.safetensors", srcdir(), name);
	eng_seq_model *m = eng_seq_load(path, err, sizeof err);
	ok(m != NULL, "%s loads (%s)", name, err);
	*fx = fixture_of(name);
	if (m)
		ok(*fx && !strcmp((*fx)->sha, m->base.sha256), "%s: the fixture was made from this file (sha256 %.12s...)",
		   name, m->base.sha256);
	return m;
}

/* --------------------------------------------------------- batch helper */

typedef struct {
	int32_t off[64], tok[8192];
	eng_seq_batch b;
} batch;

static void batch_add(batch *bt, const uint8_t *p, int n, int is_word, const eng_seq_model *m)
{
	int i = bt->b.n, o = bt->off[i];
	if (is_word)
		n = eng_seq_word_tokens(m, (const char *)p, n, bt->tok + o, 8192 - o);
	else
		for (int j = 0; j < n; j++)
			bt->tok[o + j] = p[j];
	bt->off[i + 1] = o + n;
	bt->b.n = i + 1;
	bt->b.off = bt->off, bt->b.tok = bt->tok;
}

static double maxdiff(const float *a, const float *b, int n)
{
	double d = 0;
	for (int i = 0; i < n; i++)
		d = fmax(d, fabs((double)a[i] - b[i]));
	return d;
}

/* Two runs of the same function through different but equivalent paths
 * (one GEMM over 256 rows against 256 GEMVs, BLAS against loops) differ
 * by float rounding, which grows with the logits' size (up to about 23
 * for decoder-text): logits must agree to 2e-6 of the largest |logit| and
 * next-token probabilities to 1e-5.  Returns 1 when they do; *d gets the
 * largest logit difference. */
static int same_logits(const float *a, const float *b, int rows, int vocab, double *d)
{
	double scale = 1, dp = 0;
	*d = 0;
	for (int i = 0; i < rows; i++) {
		const float *x = a + (size_t)i * vocab, *y = b + (size_t)i * vocab;
		double mx = -1e30, my = -1e30, sx = 0, sy = 0;
		for (int j = 0; j < vocab; j++) {
			*d = fmax(*d, fabs((double)x[j] - y[j]));
			scale = fmax(scale, fabs((double)y[j]));
			mx = fmax(mx, x[j]), my = fmax(my, y[j]);
		}
		for (int j = 0; j < vocab; j++)
			sx += exp(x[j] - mx), sy += exp(y[j] - my);
		for (int j = 0; j < vocab; j++)
			dp = fmax(dp, fabs(exp(x[j] - mx) / sx - exp(y[j] - my) / sy));
	}
	return *d <= 2e-6 * scale && dp <= 1e-5;
}

/* -------------------------------------------------------------- encoder */

static void test_encoder(kq_ctx *ctx, eng_seq_ws *ws)
{
	fixture *fx;
	eng_seq_model *m = load_model("encoder-langid", &fx), *mo = load_model("encoder-langid-outliers", &fx);
	char err[512] = "";
	if (!m || !mo || !fx || !fixture_of("encoder-langid")) {
		eng_seq_destroy(m), eng_seq_destroy(mo);
		return;
	}
	ok(m->kind == ENG_SEQ_ENCODER && m->base.nclasses == 12 && !strcmp(m->base.classes[0], "english") &&
		   m->base.nq == 4 * m->n_layers + 1 && m->base.out_dim == 12 && m->context == 32,
	   "encoder: 12 languages, %d blocks, %d linear layers, context 32", m->n_layers, m->base.nq);
	ok(m->variant == NULL && mo->variant && strstr(mo->variant, "not a trained model"), "the outlier variant says what it is");
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	for (int v = 0; v < 2; v++) {
		eng_seq_model *mm = v ? mo : m;
		fixture *f = fixture_of(mm->base.name);
		static batch bt;
		memset(&bt, 0, sizeof bt);
		for (int i = 0; i < f->nwords; i++)
			batch_add(&bt, (const uint8_t *)f->word[i], (int)strlen(f->word[i]), 1, mm);
		float logits[32 * 12];
		int r = eng_seq_encode(mm, &h, ws, &bt.b, logits, err, sizeof err);
		double d = 0;
		for (int i = 0; i < f->nwords; i++)
			d = fmax(d, maxdiff(logits + i * 12, f->wlog[i], 12));
		ok(r == 0 && d <= 1e-4, "%s: logits of %d words (1 to 30 bytes, one packed batch) match PyTorch: %.3g <= 1e-4",
		   mm->base.name, f->nwords, d);
		/* one word alone gives what it gave in the batch */
		batch one = {0};
		batch_add(&one, (const uint8_t *)f->word[5], (int)strlen(f->word[5]), 1, mm);
		float l1[12];
		r = eng_seq_encode(mm, &h, ws, &one.b, l1, err, sizeof err);
		ok(r == 0 && maxdiff(l1, logits + 5 * 12, 12) <= 1e-5, "%s: a word alone = the same word in a batch",
		   mm->base.name);
	}
	/* the variant computes the base model's function */
	fixture *fb = fixture_of("encoder-langid");
	double d = 0;
	for (int i = 0; i < fb->nwords; i++)
		d = fmax(d, maxdiff(fixture_of("encoder-langid-outliers")->wlog[i], fb->wlog[i], 12));
	ok(d <= 1e-4, "encoder-langid-outliers logits equal encoder-langid's: %.3g <= 1e-4", d);
	/* errors */
	batch bad = {0};
	uint8_t toolong[31];
	memset(toolong, 'a', sizeof toolong);
	ok(eng_seq_word_tokens(m, (const char *)toolong, 31, bad.tok, 64) == -1 &&
		   eng_seq_word_tokens(m, (const char *)toolong, 30, bad.tok, 64) == 32,
	   "words of 31 bytes do not fit the 32-token context, 30 do");
	bad.off[1] = 3, bad.tok[0] = 256, bad.tok[1] = 300, bad.tok[2] = 257;
	bad.b = (eng_seq_batch){1, bad.off, bad.tok};
	float lg[12];
	ok(eng_seq_encode(m, &h, ws, &bad.b, lg, err, sizeof err) == -1 && strstr(err, "token 1 is 300, outside the vocabulary of 258"),
	   "a token outside the vocabulary is refused (%s)", err);
	eng_seq_destroy(m), eng_seq_destroy(mo);
}

/* ------------------------------------------------- backends for the tests */

/* fp32 linear layers that also record |x| of every layer's input, and
 * count the calls per layer. */
typedef struct {
	kq_ctx *ctx;
	int calls[64];
	float *absx[64];
	int k[64];
	size_t n[64], cap[64];
} probe;

static int probe_layer(void *user, const eng_layer *L, int rows, const float *x, float *y, float *ws, char *err,
		       size_t errlen)
{
	probe *p = user;
	int q = L->qindex;
	p->calls[q]++;
	size_t n = (size_t)rows * L->k;
	if (p->n[q] + n > p->cap[q]) {
		p->cap[q] = (p->n[q] + n) * 2;
		p->absx[q] = realloc(p->absx[q], p->cap[q] * sizeof(float));
	}
	for (size_t i = 0; i < n; i++)
		p->absx[q][p->n[q] + i] = fabsf(x[i]);
	p->n[q] += n;
	p->k[q] = L->k;
	eng_backend f = eng_backend_f32(p->ctx);
	return f.layer(f.user, L, rows, x, y, ws, err, errlen);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* absmax / 99.9th percentile of |x|, and max over channels of the channel
 * absmax / the median channel absmax. */
static void probe_stats(probe *p, int q, double *amax, double *ratio, double *chan_ratio)
{
	size_t n = p->n[q];
	int k = p->k[q];
	float *ch = calloc((size_t)k, sizeof *ch);
	for (size_t i = 0; i < n; i++)
		ch[i % (size_t)k] = fmaxf(ch[i % (size_t)k], p->absx[q][i]);
	qsort(p->absx[q], n, sizeof(float), cmp_float);
	qsort(ch, (size_t)k, sizeof *ch, cmp_float);
	double pos = 0.999 * (double)(n - 1), fr = pos - floor(pos);
	size_t i0 = (size_t)floor(pos);
	double p999 = p->absx[q][i0] + (i0 + 1 < n ? fr * (p->absx[q][i0 + 1] - p->absx[q][i0]) : 0);
	*amax = p->absx[q][n - 1];
	*ratio = p999 > 0 ? *amax / p999 : 0;
	double med = 0.5 * (ch[(k - 1) / 2] + ch[k / 2]);
	*chan_ratio = med > 0 ? ch[k - 1] / med : 0;
	free(ch);
}

static void probe_done(probe *p)
{
	for (int i = 0; i < 64; i++)
		free(p->absx[i]);
}

/* A KV hook that changes keys and values smoothly (a rounding hook would
 * turn the paths' float-rounding differences into whole rounding steps):
 * keys x 1.25, values x 0.8. */
static int scale_kv(void *user, int layer, int rows, float *k, float *v, int ld, char *err, size_t errlen)
{
	(void)user, (void)layer, (void)err, (void)errlen;
	int d = ld / 3; /* the qkv rows: q | k | v */
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < d; j++) {
			k[(size_t)r * ld + j] *= 1.25f;
			v[(size_t)r * ld + j] *= 0.8f;
		}
	return 0;
}

/* -------------------------------------------------------------- decoder */

static void check_dec_fixture(eng_seq_model *m, const eng_seq_hooks *h, eng_seq_ws *ws, const fixture *f)
{
	char err[512] = "";
	static float logits[256 * 256];
	double d = 0;
	int r = 0, rows = 0;
	for (int s = 0; s < f->nseq && !r; s++) {
		batch bt = {0};
		batch_add(&bt, f->seq[s], f->seqlen[s], 0, m);
		r = eng_seq_decode(m, h, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, logits, err, sizeof err);
		for (int i = 0; !r && i < f->nrows; i++)
			if (f->row[i].seq == s) {
				d = fmax(d, maxdiff(logits + (size_t)f->row[i].pos * 256, f->row[i].v, 256));
				rows++;
			}
	}
	ok(r == 0 && rows >= 15 && d <= 1e-4, "%s: logits at %d positions of %d sequences (1 to 256 tokens) match PyTorch: %.3g <= 1e-4",
	   m->base.name, rows, f->nseq, d);
}

static void test_decoder(kq_ctx *ctx, eng_seq_ws *ws)
{
	fixture *fx, *fo;
	eng_seq_model *m = load_model("decoder-text", &fx), *mo = load_model("decoder-text-outliers", &fo);
	char err[512] = "";
	if (!m || !mo || !fx || !fo) {
		eng_seq_destroy(m), eng_seq_destroy(mo);
		return;
	}
	ok(m->kind == ENG_SEQ_DECODER && m->vocab == 256 && m->context >= 128 && m->n_layers >= 4 && m->d_model >= 128 &&
		   m->base.nq == 4 * m->n_layers + 1 && m->base.out_dim == 256,
	   "decoder: %d blocks, d_model %d, context %d, %d linear layers", m->n_layers, m->d_model, m->context, m->base.nq);
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	check_dec_fixture(m, &h, ws, fx);
	check_dec_fixture(mo, &h, ws, fo);

	const uint8_t *text = fx->seq[2];
	int T = fx->seqlen[2];
	static float full[256 * 256], inc[256 * 256], tmp[512 * 256]; /* tmp: up to 333 rows */
	batch bt = {0};
	batch_add(&bt, text, T, 0, m);
	int r = eng_seq_decode(m, &h, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, full, err, sizeof err);
	r |= eng_seq_decode(mo, &h, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, tmp, err, sizeof err);
	ok(r == 0 && maxdiff(full, tmp, T * 256) <= 1e-4, "decoder-text-outliers logits equal decoder-text's at all %d positions: %.3g <= 1e-4",
	   T, maxdiff(full, tmp, T * 256));

	/* three sequences packed in one batch = each alone */
	batch three = {0};
	batch_add(&three, text, 40, 0, m);
	batch_add(&three, fx->seq[1], fx->seqlen[1], 0, m);
	batch_add(&three, text, T, 0, m);
	r = eng_seq_decode(m, &h, ws, NULL, NULL, &three.b, ENG_LOGITS_ALL, tmp, err, sizeof err);
	double d3, d3b;
	int same3 = same_logits(tmp, full, 40, 256, &d3) & same_logits(tmp + (size_t)(40 + fx->seqlen[1]) * 256, full, T, 256, &d3b);
	ok(r == 0 && same3, "decoder: sequences packed in one batch give their own logits (%.3g)", fmax(d3, d3b));

	/* KV cache: prefill 100 tokens, then one token per call */
	eng_kv *kv = eng_kv_create(m, 3, m->context, err, sizeof err);
	ok(kv && eng_kv_bytes(kv) == (size_t)2 * m->n_layers * 3 * m->context * m->d_model * 4, "KV cache of 3 slots: %zu bytes",
	   kv ? eng_kv_bytes(kv) : 0);
	if (kv) {
		batch pre = {0};
		batch_add(&pre, text, 100, 0, m);
		r = eng_seq_decode(m, &h, ws, kv, NULL, &pre.b, ENG_LOGITS_ALL, inc, err, sizeof err);
		for (int t = 100; t < T && !r; t++) {
			batch one = {0};
			batch_add(&one, text + t, 1, 0, m);
			r = eng_seq_decode(m, &h, ws, kv, NULL, &one.b, ENG_LOGITS_LAST, inc + (size_t)t * 256, err, sizeof err);
		}
		double dk;
		int samek = same_logits(inc, full, T, 256, &dk);
		ok(r == 0 && eng_kv_len(kv, 0) == T && samek,
		   "incremental decoding with an fp32 cache = full recomputation at all %d positions: logits to %.3g, "
		   "probabilities to 1e-5 (%s)", T, dk, err);
		/* the cache is full: one more token is refused and leaves it as it was */
		batch one = {0};
		batch_add(&one, text, 1, 0, m);
		r = eng_seq_decode(m, &h, ws, kv, NULL, &one.b, ENG_LOGITS_LAST, tmp, err, sizeof err);
		ok(r == -1 && strstr(err, "position 256") && eng_kv_len(kv, 0) == T, "a token beyond the context is refused (%s)", err);

		/* three slots advancing together from prompts of different lengths */
		eng_kv_clear(kv);
		int plen[3] = {1, 17, 60}, slots[3] = {2, 0, 1};
		batch p3 = {0};
		for (int i = 0; i < 3; i++)
			batch_add(&p3, text, plen[i], 0, m);
		r = eng_seq_decode(m, &h, ws, kv, slots, &p3.b, ENG_LOGITS_LAST, tmp, err, sizeof err);
		double dm = 0, di;
		int samem = 1;
		for (int i = 0; i < 3; i++) {
			samem &= same_logits(tmp + i * 256, full + (size_t)(plen[i] - 1) * 256, 1, 256, &di);
			dm = fmax(dm, di);
		}
		for (int step = 0; step < 40 && !r; step++) {
			batch st = {0};
			for (int i = 0; i < 3; i++)
				batch_add(&st, text + plen[i] + step, 1, 0, m);
			r = eng_seq_decode(m, &h, ws, kv, slots, &st.b, ENG_LOGITS_LAST, tmp, err, sizeof err);
			for (int i = 0; i < 3 && !r; i++) {
				samem &= same_logits(tmp + i * 256, full + (size_t)(plen[i] + step) * 256, 1, 256, &di);
				dm = fmax(dm, di);
			}
		}
		ok(r == 0 && samem && eng_kv_len(kv, 2) == 41 && eng_kv_len(kv, 1) == 100,
		   "three cache slots stepping together from prompts of 1, 17, 60 tokens = full recomputation (%.3g)", dm);

		/* the cache hook sees the keys and values the same way in both modes */
		eng_seq_hooks hr = h;
		hr.kv_round = scale_kv;
		eng_kv_clear(kv);
		r = eng_seq_decode(m, &hr, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, tmp, err, sizeof err);
		double moved = maxdiff(tmp, full, T * 256);
		r |= eng_seq_decode(m, &hr, ws, kv, NULL, &pre.b, ENG_LOGITS_ALL, inc, err, sizeof err);
		for (int t = 100; t < T && !r; t++) {
			batch o = {0};
			batch_add(&o, text + t, 1, 0, m);
			r = eng_seq_decode(m, &hr, ws, kv, NULL, &o.b, ENG_LOGITS_LAST, inc + (size_t)t * 256, err, sizeof err);
		}
		double dr;
		int samer = same_logits(inc, tmp, T, 256, &dr);
		ok(r == 0 && moved > 0.1 && samer,
		   "with keys x 1.25 and values x 0.8 through kv_round (logits move %.3g), incremental = full (%.3g)", moved, dr);

		batch dup = {0};
		batch_add(&dup, text, 1, 0, m);
		batch_add(&dup, text, 1, 0, m);
		int same[2] = {1, 1};
		ok(eng_seq_decode(m, &h, ws, kv, same, &dup.b, ENG_LOGITS_LAST, tmp, err, sizeof err) == -1 &&
			   strstr(err, "share cache slot 1"),
		   "two sequences on one cache slot are refused (%s)", err);
	}
	eng_kv_destroy(kv);

	/* every linear layer goes through the backend hook, once per pass */
	probe pb = {.ctx = ctx}, pbo = {.ctx = ctx};
	eng_seq_hooks hp = h, hpo = h;
	hp.lin = (eng_backend){probe_layer, &pb, NULL};
	hpo.lin = (eng_backend){probe_layer, &pbo, NULL};
	r = eng_seq_decode(m, &hp, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, tmp, err, sizeof err);
	r |= eng_seq_decode(mo, &hpo, ws, NULL, NULL, &bt.b, ENG_LOGITS_ALL, tmp, err, sizeof err);
	int once = 1;
	for (int q = 0; q < m->base.nq; q++)
		once &= pb.calls[q] == 1 && pb.n[q] == (size_t)T * m->base.layers[q].k;
	ok(r == 0 && once, "decoder: each of the %d linear layers is called once per pass through the hook, on all %d rows",
	   m->base.nq, T);
	/* outlier statistics of the LayerNorm outputs (inputs of qkv, fc1, head) */
	double worst_base = 0, least_var = 1e30, ratio_base = 0, ratio_var = 0, amax_b = 0, amax_v = 0;
	for (int q = 0; q < m->base.nq; q++) {
		const char *nm = m->base.layers[q].name;
		if (!strstr(nm, "qkv") && !strstr(nm, "fc1") && strcmp(nm, "head"))
			continue;
		double a, rt, cr, ao, rto, cro;
		probe_stats(&pb, q, &a, &rt, &cr);
		probe_stats(&pbo, q, &ao, &rto, &cro);
		worst_base = fmax(worst_base, cr), least_var = fmin(least_var, cro);
		ratio_base = fmax(ratio_base, rt), ratio_var = fmax(ratio_var, rto);
		amax_b = fmax(amax_b, a), amax_v = fmax(amax_v, ao);
	}
	diag("LayerNorm outputs, base vs outliers: absmax %.2f vs %.1f; absmax/p99.9 up to %.2f vs %.2f; "
	     "max/median channel absmax up to %.2f vs at least %.1f",
	     amax_b, amax_v, ratio_base, ratio_var, worst_base, least_var);
	ok(worst_base < 8 && least_var > 20 && amax_v > 20 * amax_b,
	   "decoder-text-outliers: some LayerNorm channels are %.0fx the median channel (base at most %.1fx)", least_var,
	   worst_base);
	probe_done(&pb), probe_done(&pbo);
	eng_seq_destroy(m), eng_seq_destroy(mo);
}

/* ------------------------------------------------------------------ rnn */

static void test_rnn(kq_ctx *ctx, eng_seq_ws *ws)
{
	fixture *fx;
	eng_seq_model *m = load_model("rnn-text", &fx);
	char err[512] = "";
	if (!m || !fx) {
		eng_seq_destroy(m);
		return;
	}
	ok(m->kind == ENG_SEQ_RNN && m->hidden >= 256 && m->base.nq == 2 * m->n_layers + 1 && eng_seq_state_floats(m) == (size_t)m->n_layers * m->hidden,
	   "rnn: %d GRU layers of %d, %d linear layers", m->n_layers, m->hidden, m->base.nq);
	eng_seq_hooks h = eng_seq_hooks_f32(ctx);
	static float logits[2048 * 256], part[2048 * 256];
	double d = 0;
	int r = 0, rows = 0;
	for (int s = 0; s < fx->nseq && !r; s++) {
		batch bt = {0};
		batch_add(&bt, fx->seq[s], fx->seqlen[s], 0, m);
		r = eng_seq_rnn(m, &h, ws, NULL, &bt.b, ENG_LOGITS_ALL, logits, err, sizeof err);
		for (int i = 0; !r && i < fx->nrows; i++)
			if (fx->row[i].seq == s) {
				d = fmax(d, maxdiff(logits + (size_t)fx->row[i].pos * 256, fx->row[i].v, 256));
				rows++;
			}
	}
	ok(r == 0 && rows >= 14 && d <= 1e-4, "rnn-text: logits at %d positions (up to 2000 steps) match PyTorch: %.3g <= 1e-4",
	   rows, d);
	/* the long sequence fed in pieces with its state carried = one pass */
	const uint8_t *text = fx->seq[2];
	int T = fx->seqlen[2];
	float *state = calloc(eng_seq_state_floats(m), sizeof *state);
	int cuts[] = {0, 1, 64, 65, 700, 1500, T};
	for (int c = 0; c + 1 < 7 && !r; c++) {
		batch p = {0};
		batch_add(&p, text + cuts[c], cuts[c + 1] - cuts[c], 0, m);
		r = eng_seq_rnn(m, &h, ws, state, &p.b, ENG_LOGITS_ALL, part + (size_t)cuts[c] * 256, err, sizeof err);
	}
	double di = maxdiff(part, logits, T * 256);
	ok(r == 0 && di <= 1e-5, "rnn: the text in 6 pieces with the state carried = one pass (%.3g)", di);
	/* sequences of different lengths in one batch = each alone */
	batch three = {0};
	batch_add(&three, text, 5, 0, m);
	batch_add(&three, text, T, 0, m);
	batch_add(&three, text, 300, 0, m);
	float *st3 = calloc(3 * eng_seq_state_floats(m), sizeof *st3);
	r = eng_seq_rnn(m, &h, ws, st3, &three.b, ENG_LOGITS_LAST, part, err, sizeof err);
	double db = fmax(fmax(maxdiff(part, logits + 4 * 256, 256), maxdiff(part + 256, logits + (size_t)(T - 1) * 256, 256)),
			 maxdiff(part + 512, logits + 299 * 256, 256));
	db = fmax(db, maxdiff(st3 + eng_seq_state_floats(m), state, (int)eng_seq_state_floats(m)));
	ok(r == 0 && db <= 1e-5, "rnn: sequences of 5, %d and 300 bytes in one batch give their own last logits and states (%.3g)",
	   T, db);
	probe pb = {.ctx = ctx};
	h.lin = (eng_backend){probe_layer, &pb, NULL};
	batch bt = {0};
	batch_add(&bt, text, 100, 0, m);
	r = eng_seq_rnn(m, &h, ws, NULL, &bt.b, ENG_LOGITS_ALL, part, err, sizeof err);
	ok(r == 0 && pb.calls[0] == 1 && pb.calls[1] == 100 && pb.calls[m->base.nq - 1] == 1,
	   "rnn: the input projection and the head run once per pass, the recurrence once per step, through the hook");
	probe_done(&pb);
	free(state), free(st3);
	eng_seq_destroy(m);
}

/* ------------------------------------------------------- loader errors */

typedef struct {
	const char *name;
	int d0, d1; /* d1 < 0: rank 1 */
} tspec;

/* A tiny decoder (vocab 5, d 4, 1 block, 2 heads, d_ff 8, context 6)
 * with tensors as listed; values are a fixed pseudo-random sequence. */
static const char *write_tiny(const char *tag, const char *family, const char *config, const tspec *ts, int nt)
{
	static char path[256];
	snprintf(path, sizeof path, "/tmp/precis-seq-%d-%s.safetensors", (int)getpid(), tag);
	cJSON *hdr = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(hdr, "__metadata__");
	cJSON_AddStringToObject(meta, "family", family);
	cJSON_AddStringToObject(meta, "name", "tiny");
	cJSON_AddStringToObject(meta, "config", config);
	size_t off = 0;
	for (int i = 0; i < nt; i++) {
		cJSON *t = cJSON_AddObjectToObject(hdr, ts[i].name);
		cJSON_AddStringToObject(t, "dtype", "F32");
		size_t n = (size_t)ts[i].d0 * (ts[i].d1 < 0 ? 1 : ts[i].d1);
		int sh[2] = {ts[i].d0, ts[i].d1};
		cJSON_AddItemToObject(t, "shape", cJSON_CreateIntArray(sh, ts[i].d1 < 0 ? 1 : 2));
		int o[2] = {(int)off, (int)(off + 4 * n)};
		cJSON_AddItemToObject(t, "data_offsets", cJSON_CreateIntArray(o, 2));
		off += 4 * n;
	}
	char *js = cJSON_PrintUnformatted(hdr);
	FILE *f = fopen(path, "wb");
	unsigned long long hl = strlen(js);
	for (int i = 0; i < 8; i++)
		fputc((int)(hl >> (8 * i)) & 0xff, f);
	fputs(js, f);
	uint32_t s = 12345;
	for (size_t i = 0; i < off / 4; i++) {
		s = s * 1103515245u + 12345u;
		float v = ((float)(s >> 8) / (1 << 24) - 0.5f) * 0.5f;
		fwrite(&v, 4, 1, f);
	}
	fclose(f);
	free(js);
	cJSON_Delete(hdr);
	return path;
}

static const tspec tiny_tensors[] = {
	{"tok_emb.weight", 5, 4},       {"pos_emb.weight", 6, 4},        {"blocks.0.ln1.weight", 4, -1},
	{"blocks.0.ln1.bias", 4, -1},   {"blocks.0.attn.qkv.weight", 12, 4}, {"blocks.0.attn.qkv.bias", 12, -1},
	{"blocks.0.attn.proj.weight", 4, 4}, {"blocks.0.attn.proj.bias", 4, -1}, {"blocks.0.ln2.weight", 4, -1},
	{"blocks.0.ln2.bias", 4, -1},   {"blocks.0.mlp.fc1.weight", 8, 4}, {"blocks.0.mlp.fc1.bias", 8, -1},
	{"blocks.0.mlp.fc2.weight", 4, 8}, {"blocks.0.mlp.fc2.bias", 4, -1}, {"ln_f.weight", 4, -1},
	{"ln_f.bias", 4, -1},           {"head.weight", 5, 4},           {"head.bias", 5, -1},
};
#define NTINY ((int)(sizeof tiny_tensors / sizeof *tiny_tensors))
static const char *tiny_cfg = "{\"kind\":\"decoder\",\"vocab\":5,\"d_model\":4,\"n_layers\":1,\"n_heads\":2,"
			      "\"d_ff\":8,\"context\":6,\"norm\":\"pre\",\"activation\":\"gelu\",\"ln_eps\":1e-5}";

static int fails_with(const char *path, const char *needle)
{
	char err[512] = "";
	eng_seq_model *m = eng_seq_load(path, err, sizeof err);
	int good = !m && strstr(err, needle) && strstr(err, path);
	if (!good)
		diag("error was '%s', wanted '%s' and the path", err, needle);
	eng_seq_destroy(m);
	remove(path);
	return good;
}

static void test_loader(void)
{
	char err[512] = "", fam[32] = "";
	tspec ts[NTINY + 1];
	memcpy(ts, tiny_tensors, sizeof tiny_tensors);
	const char *p = write_tiny("good", "decoder", tiny_cfg, ts, NTINY);
	eng_seq_model *m = eng_seq_load(p, err, sizeof err);
	long want = 0;
	for (int i = 0; i < NTINY; i++)
		want += (long)ts[i].d0 * (ts[i].d1 < 0 ? 1 : ts[i].d1);
	ok(m && m->base.nq == 5 && m->base.params == want && m->d_head == 2 && !strcmp(m->base.layers[0].name, "blocks.0.attn.qkv"),
	   "a tiny decoder loads: 5 linear layers, %ld parameters (%s)", want, err);
	ok(eng_seq_file_family(p, fam, sizeof fam, err, sizeof err) == 0 && !strcmp(fam, "decoder"),
	   "its family is read from the header: %s", fam);
	if (m) {
		/* positions beyond the context are refused */
		kq_ctx *ctx = kq_ctx_create(1);
		eng_seq_hooks h = eng_seq_hooks_f32(ctx);
		eng_seq_ws *ws = eng_seq_ws_create();
		int32_t off[2] = {0, 7}, tok[7] = {0, 1, 2, 3, 4, 0, 1};
		eng_seq_batch b = {1, off, tok};
		float lg[7 * 5];
		ok(eng_seq_decode(m, &h, ws, NULL, NULL, &b, ENG_LOGITS_ALL, lg, err, sizeof err) == -1 &&
			   strstr(err, "beyond the model's context of 6"),
		   "7 tokens through a context of 6 are refused (%s)", err);
		off[1] = 6;
		ok(eng_seq_decode(m, &h, ws, NULL, NULL, &b, ENG_LOGITS_ALL, lg, err, sizeof err) == 0, "6 tokens run");
		eng_kv *kv = eng_kv_create(m, 1, 7, err, sizeof err);
		ok(!kv && strstr(err, "1..6 tokens"), "a cache longer than the context is refused (%s)", err);
		eng_seq_ws_destroy(ws);
		kq_ctx_destroy(ctx);
	}
	eng_seq_destroy(m);
	remove(p);

	memcpy(ts, tiny_tensors, sizeof tiny_tensors);
	ts[11] = ts[NTINY - 1]; /* drop blocks.0.mlp.fc1.bias */
	ok(fails_with(write_tiny("missing", "decoder", tiny_cfg, ts, NTINY - 1), "tensor 'blocks.0.mlp.fc1.bias' missing"),
	   "a missing tensor is named");
	memcpy(ts, tiny_tensors, sizeof tiny_tensors);
	ts[4].d1 = 5;
	ok(fails_with(write_tiny("shape", "decoder", tiny_cfg, ts, NTINY),
		      "tensor 'blocks.0.attn.qkv.weight' has shape [12, 5] but the config needs [12, 4]"),
	   "a tensor of the wrong shape is named with both shapes");
	memcpy(ts, tiny_tensors, sizeof tiny_tensors);
	ts[NTINY] = (tspec){"blocks.1.ln1.weight", 4, -1};
	ok(fails_with(write_tiny("extra", "decoder", tiny_cfg, ts, NTINY + 1),
		      "tensor 'blocks.1.ln1.weight' is not part of the decoder model"),
	   "a tensor the config does not use is named");
	memcpy(ts, tiny_tensors, sizeof tiny_tensors);
	ok(fails_with(write_tiny("heads", "decoder",
				 "{\"kind\":\"decoder\",\"vocab\":5,\"d_model\":4,\"n_layers\":1,\"n_heads\":3,\"d_ff\":8,"
				 "\"context\":6,\"norm\":\"pre\",\"activation\":\"gelu\",\"ln_eps\":1e-5}",
				 ts, NTINY),
		      "d_model 4 is not a multiple of n_heads 3"),
	   "heads that do not divide d_model");
	ok(fails_with(write_tiny("post", "decoder",
				 "{\"kind\":\"decoder\",\"vocab\":5,\"d_model\":4,\"n_layers\":1,\"n_heads\":2,\"d_ff\":8,"
				 "\"context\":6,\"norm\":\"post\",\"activation\":\"gelu\",\"ln_eps\":1e-5}",
				 ts, NTINY),
		      "config.norm is \"post\"; only \"pre\" is supported"),
	   "post-LayerNorm is refused, not misread");
	ok(fails_with(write_tiny("fam", "cnn", tiny_cfg, ts, NTINY), "not a sequence family"), "a cnn file is not a sequence model");
	ok(fails_with(write_tiny("kind", "encoder", tiny_cfg, ts, NTINY), "config.kind must be \"encoder\""),
	   "config kind disagreeing with the family");
}

/* The engine's GELU against the exact one (double erf) on a fine grid. */
static void test_gelu(void)
{
	double worst = 0;
	for (int i = -800000; i <= 800000; i++) {
		float x = (float)i * 1e-5f;
		double exact = 0.5 * x * (1 + erf(x / sqrt(2.0)));
		worst = fmax(worst, fabs(eng_seq_gelu(x) - exact) / fmax(1.0, fabs((double)x) / 4));
	}
	ok(worst < 2e-6 && eng_seq_gelu(30) == 30 && eng_seq_gelu(-30) == 0,
	   "GELU within %.2g of 0.5 x (1 + erf(x / sqrt 2)) on [-8, 8] (scaled by max(1, |x| / 4)); exact far out", worst);
}

int main(void)
{
	kq_init();
	test_gelu();
	test_loader();
	if (load_fixtures()) {
		ok(0, "tests/golden/seq_logits.txt reads (regenerate with tools/gen_seq_fixtures.py)");
		return tap_done();
	}
	kq_ctx *ctx = kq_ctx_create(2);
	eng_seq_ws *ws = eng_seq_ws_create();
	test_encoder(ctx, ws);
	test_decoder(ctx, ws);
	test_rnn(ctx, ws);
	eng_seq_ws_destroy(ws);
	kq_ctx_destroy(ctx);
	for (int i = 0; i < nfix; i++) {
		for (int j = 0; j < fix[i].nwords; j++)
			free(fix[i].word[j]), free(fix[i].wlog[j]);
		for (int j = 0; j < fix[i].nseq; j++)
			free(fix[i].seq[j]);
		for (int j = 0; j < fix[i].nrows; j++)
			free(fix[i].row[j].v);
	}
	return tap_done();
}
