/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_sensitivity.c - per-layer sensitivity, the acceptance criterion,
 * the mixed-precision search and sweep grids (engine/sensitivity.c,
 * engine/search.c).
 *
 * The model under test is built here: the shipped cnn-fashion with one
 * layer made fragile on purpose.  conv2's first output channel is scaled
 * by 1000 (weights and bias) and conv3's weights reading that channel by
 * 1/1000; ReLU and max-pooling commute with a positive scale, so the fp32
 * function is unchanged, but per-tensor weight quantization of conv2 now
 * has a step a thousand times too coarse for its other 31 channels.  The
 * test computes which layer per-tensor int8 hurts most (the share of its
 * weights that round to zero) instead of assuming it, checks delta_alone
 * against an independent scalar forward pass in PyTorch's layout (NCHW,
 * weights (out, in, kh, kw), flatten as (c, h, w)), and checks every delta
 * against a plain evaluation of the equivalent recipe. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_io.h"
#include "kq.h"
#include "tap.h"

#define FASHION "/usr/share/datasets/fashion-mnist"
#define EVAL_N 300
#define SCALE 1000.0f

static const char *srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* ------------------------------------------------------------ the model */

typedef struct {
	char name[32];
	int64_t shape[4];
	int ndim;
	size_t numel;
	float *data;
} tensor;

typedef struct {
	tensor t[32];
	int n;
	cJSON *meta;
} model_file;

static tensor *find(model_file *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->t[i].name, name) == 0)
			return &m->t[i];
	return NULL;
}

/* Reads the shipped model: tensors through eng_st (fp32), metadata from
 * the raw header. */
static int read_model(const char *path, model_file *m)
{
	char err[256];
	eng_st *st = eng_st_load(path, err, sizeof err);
	if (!st)
		return -1;
	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < eng_st_count(st) && m->n < 32; i++) {
		const eng_tensor *e = eng_st_at(st, i);
		tensor *t = &m->t[m->n++];
		snprintf(t->name, sizeof t->name, "%s", e->name);
		t->ndim = e->ndim;
		for (int d = 0; d < e->ndim; d++)
			t->shape[d] = e->shape[d];
		t->numel = e->numel;
		t->data = malloc(e->numel * sizeof(float));
		memcpy(t->data, e->data, e->numel * sizeof(float));
	}
	eng_st_destroy(st);
	FILE *f = fopen(path, "rb");
	uint8_t len8[8];
	if (!f || fread(len8, 1, 8, f) != 8)
		return -1;
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = hl << 8 | len8[i];
	char *h = malloc(hl + 1);
	if (fread(h, 1, hl, f) != hl)
		return -1;
	h[hl] = 0;
	fclose(f);
	cJSON *j = cJSON_Parse(h);
	free(h);
	m->meta = cJSON_DetachItemFromObject(j, "__metadata__");
	cJSON_Delete(j);
	return m->meta ? 0 : -1;
}

/* Writes a safetensors file: 8-byte little-endian header length, the JSON
 * header (padded with spaces to 8 bytes), then the F32 data in order. */
static int write_model(const char *path, const model_file *m)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddItemToObject(h, "__metadata__", cJSON_Duplicate(m->meta, 1));
	size_t off = 0;
	for (int i = 0; i < m->n; i++) {
		const tensor *t = &m->t[i];
		cJSON *o = cJSON_AddObjectToObject(h, t->name);
		cJSON_AddStringToObject(o, "dtype", "F32");
		cJSON *s = cJSON_AddArrayToObject(o, "shape");
		for (int d = 0; d < t->ndim; d++)
			cJSON_AddItemToArray(s, cJSON_CreateNumber((double)t->shape[d]));
		cJSON *d = cJSON_AddArrayToObject(o, "data_offsets");
		cJSON_AddItemToArray(d, cJSON_CreateNumber((double)off));
		off += t->numel * 4;
		cJSON_AddItemToArray(d, cJSON_CreateNumber((double)off));
	}
	char *txt = cJSON_PrintUnformatted(h);
	cJSON_Delete(h);
	size_t hl = strlen(txt), padded = (hl + 7) / 8 * 8;
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	uint8_t len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (uint8_t)(padded >> (8 * i));
	fwrite(len8, 1, 8, f);
	fwrite(txt, 1, hl, f);
	for (size_t i = hl; i < padded; i++)
		fputc(' ', f);
	for (int i = 0; i < m->n; i++)
		fwrite(m->t[i].data, 4, m->t[i].numel, f);
	free(txt);
	return fclose(f);
}

/* ---------------------------------------------- scalar reference forward */

typedef struct {
	int op; /* 0 conv, 1 relu, 2 maxpool, 3 flatten, 4 linear */
	char name[32];
	int in, out, k, stride, pad;
} ref_op;

typedef struct {
	ref_op ops[32];
	int nops, c, h, w;
	double mean, std;
} ref_net;

static int parse_arch(const cJSON *meta, ref_net *n)
{
	cJSON *arch = cJSON_Parse(cJSON_GetObjectItem(meta, "arch")->valuestring);
	cJSON *in = cJSON_Parse(cJSON_GetObjectItem(meta, "input")->valuestring);
	memset(n, 0, sizeof *n);
	n->c = cJSON_GetObjectItem(in, "channels")->valueint;
	n->h = cJSON_GetObjectItem(in, "height")->valueint;
	n->w = cJSON_GetObjectItem(in, "width")->valueint;
	n->mean = cJSON_GetObjectItem(in, "mean")->valuedouble;
	n->std = cJSON_GetObjectItem(in, "std")->valuedouble;
	const cJSON *o;
	cJSON_ArrayForEach(o, arch)
	{
		ref_op *r = &n->ops[n->nops++];
		const char *op = cJSON_GetObjectItem(o, "op")->valuestring;
		const cJSON *v;
		r->op = !strcmp(op, "conv2d") ? 0 : !strcmp(op, "relu") ? 1 : !strcmp(op, "maxpool2d") ? 2 : !strcmp(op, "flatten") ? 3 : 4;
		if ((v = cJSON_GetObjectItem(o, "name")))
			snprintf(r->name, sizeof r->name, "%s", v->valuestring);
		if ((v = cJSON_GetObjectItem(o, "in")))
			r->in = v->valueint;
		if ((v = cJSON_GetObjectItem(o, "out")))
			r->out = v->valueint;
		if ((v = cJSON_GetObjectItem(o, "kernel")))
			r->k = v->valueint;
		r->stride = (v = cJSON_GetObjectItem(o, "stride")) ? v->valueint : 1;
		if ((v = cJSON_GetObjectItem(o, "pad")))
			r->pad = v->valueint;
	}
	cJSON_Delete(arch);
	cJSON_Delete(in);
	return 0;
}

/* Class predicted for one image (NCHW, PyTorch semantics); weights are
 * looked up as NAME.weight / NAME.bias in m. */
static int ref_predict(const ref_net *n, model_file *m, const uint8_t *px)
{
	static float a[2][64 * 28 * 28];
	int c = n->c, h = n->h, w = n->w, cur = 0;
	for (int i = 0; i < c * h * w; i++)
		a[0][i] = (float)((px[i] / 255.0 - n->mean) / n->std);
	for (int i = 0; i < n->nops; i++) {
		const ref_op *o = &n->ops[i];
		float *x = a[cur], *y = a[cur ^ 1];
		if (o->op == 0) {
			char wn[64], bn[64];
			snprintf(wn, sizeof wn, "%s.weight", o->name);
			snprintf(bn, sizeof bn, "%s.bias", o->name);
			const float *W = find(m, wn)->data, *B = find(m, bn)->data;
			int oh = (h + 2 * o->pad - o->k) / o->stride + 1, ow = (w + 2 * o->pad - o->k) / o->stride + 1;
			for (int oc = 0; oc < o->out; oc++)
				for (int yy = 0; yy < oh; yy++)
					for (int xx = 0; xx < ow; xx++) {
						double s = B[oc];
						for (int ic = 0; ic < c; ic++)
							for (int ky = 0; ky < o->k; ky++)
								for (int kx = 0; kx < o->k; kx++) {
									int iy = yy * o->stride - o->pad + ky, ix = xx * o->stride - o->pad + kx;
									if (iy >= 0 && iy < h && ix >= 0 && ix < w)
										s += (double)W[((oc * c + ic) * o->k + ky) * o->k + kx] *
										     x[(ic * h + iy) * w + ix];
								}
						y[(oc * oh + yy) * ow + xx] = (float)s;
					}
			c = o->out, h = oh, w = ow;
		} else if (o->op == 1) {
			for (int j = 0; j < c * h * w; j++)
				y[j] = x[j] > 0 ? x[j] : 0;
		} else if (o->op == 2) {
			int oh = (h - o->k) / o->stride + 1, ow = (w - o->k) / o->stride + 1;
			for (int ch = 0; ch < c; ch++)
				for (int yy = 0; yy < oh; yy++)
					for (int xx = 0; xx < ow; xx++) {
						float mx = -INFINITY;
						for (int ky = 0; ky < o->k; ky++)
							for (int kx = 0; kx < o->k; kx++) {
								float v = x[(ch * h + yy * o->stride + ky) * w + xx * o->stride + kx];
								mx = v > mx ? v : mx;
							}
						y[(ch * oh + yy) * ow + xx] = mx;
					}
			h = oh, w = ow;
		} else if (o->op == 3) {
			memcpy(y, x, (size_t)c * h * w * sizeof *x); /* NCHW is already (c, h, w) */
			c = c * h * w, h = w = 1;
		} else {
			char wn[64], bn[64];
			snprintf(wn, sizeof wn, "%s.weight", o->name);
			snprintf(bn, sizeof bn, "%s.bias", o->name);
			const float *W = find(m, wn)->data, *B = find(m, bn)->data;
			for (int oc = 0; oc < o->out; oc++) {
				double s = B[oc];
				for (int j = 0; j < c; j++)
					s += (double)W[(size_t)oc * c + j] * x[j];
				y[oc] = (float)s;
			}
			c = o->out;
		}
		cur ^= 1;
	}
	int best = 0;
	for (int j = 1; j < c; j++)
		best = a[cur][j] > a[cur][best] ? j : best;
	return best;
}

/* Per-tensor symmetric int8 fake quantization, as PyTorch's observer with
 * quant_min = -127 computes it: scale = amax / 127 in float, q =
 * round-half-even(w * (1 / scale)), clamped. */
static void fake_quant_tensor(float *w, size_t n, size_t *zeros)
{
	float amax = 0;
	for (size_t i = 0; i < n; i++)
		amax = fmaxf(amax, fabsf(w[i]));
	float s = amax / 127.0f, inv = 1.0f / s;
	*zeros = 0;
	for (size_t i = 0; i < n; i++) {
		float q = nearbyintf(w[i] * inv);
		q = q > 127 ? 127 : q < -127 ? -127 : q;
		*zeros += q == 0;
		w[i] = q * s;
	}
}

static double ref_accuracy(const ref_net *n, model_file *m, const eng_idx *img, const eng_idx *lab, int count)
{
	int pix = n->c * n->h * n->w, right = 0;
	for (int i = 0; i < count; i++)
		right += ref_predict(n, m, img->data + (size_t)i * pix) == lab->data[i];
	return (double)right / count;
}

/* --------------------------------------------------------------- helpers */

static const cJSON *layer_named(const cJSON *res, const char *name)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, eng_json_get(res, "layers")) if (strcmp(eng_json_str(l, "name"), name) == 0) return l;
	return NULL;
}

/* ci95[k] of an object with a "ci95" array. */
static double ci(const cJSON *o, int k)
{
	return eng_json_num(cJSON_GetArrayItem(eng_json_get(o, "ci95"), k), "");
}

static double all_delta(const cJSON *ev)
{
	return eng_json_num(cJSON_GetArrayItem(eng_json_get(ev, "eval.strata"), 0), "delta");
}

static cJSON *eval_keep(eng_session *s, const eng_recipe *base, const char *keep)
{
	eng_recipe r = *base;
	char err[256];
	if (keep && eng_recipe_set(&r, "keep", keep, err, sizeof err))
		return NULL;
	return eng_session_eval_ex(s, &r, ENG_EVAL_NO_BENCH, NULL, NULL, NULL, err, sizeof err);
}

static const char *const layer_names[] = {"conv1", "conv2", "conv3", "fc1", "fc2"};
#define NL 5

static void criterion_tests(void)
{
	const char *js = "{\"eval\":{\"higher_is_better\":true,\"strata\":["
			 "{\"name\":\"all\",\"delta\":-0.002,\"ci95\":[-0.004,0.001]},"
			 "{\"name\":\"shirt\",\"delta\":-0.01,\"ci95\":[-0.021,-0.002]}]}}";
	cJSON *ev = cJSON_Parse(js);
	char err[256] = "";
	double sf = -1;
	eng_criterion c = {0.5, 0, 0, NULL, -1};
	int rc = eng_criterion_check(&c, ev, &sf, err, sizeof err);
	ok(rc == 1 && sf == 0, "criterion: all's interval end -0.4 pt holds against 0.5 pt (shortfall %g)", sf);
	c.max_loss = 0.3;
	rc = eng_criterion_check(&c, ev, &sf, err, sizeof err);
	ok(rc == 0 && fabs(sf - 0.1) < 1e-9, "... fails against 0.3 pt, short by 0.1 pt (%g)", sf);
	c.max_loss = 1.0, c.strata_all = 1;
	rc = eng_criterion_check(&c, ev, &sf, err, sizeof err);
	ok(rc == 0 && fabs(sf - 1.1) < 1e-9, "--strata-all: shirt's end -2.1 pt fails 1 pt by 1.1 (%g)", sf);
	const char *named[] = {"shirt"};
	eng_criterion c2 = {2.1, 0, 1, named, -1};
	ok(eng_criterion_check(&c2, ev, &sf, err, sizeof err) == 1, "a named stratum exactly at the limit holds");
	const char *missing[] = {"sock"};
	eng_criterion c3 = {1, 0, 1, missing, -1};
	ok(eng_criterion_check(&c3, ev, &sf, err, sizeof err) == -1 && strstr(err, "sock"),
	   "a named stratum the result lacks is an error naming it (%s)", err);
	cJSON_Delete(ev);
	/* lower is better (ece): the losing end is the upper one */
	ev = cJSON_Parse("{\"eval\":{\"higher_is_better\":false,\"strata\":[{\"name\":\"all\",\"delta\":0.001,"
			 "\"ci95\":[-0.002,0.006]}]}}");
	eng_criterion c4 = {0.5, 0, 0, NULL, -1};
	rc = eng_criterion_check(&c4, ev, &sf, err, sizeof err);
	ok(rc == 0 && fabs(sf - 0.1) < 1e-9, "lower-is-better metric: upper end +0.6 pt fails 0.5 pt by 0.1 (%g)", sf);
	cJSON_Delete(ev);
}

static void grid_tests(void)
{
	char err[256] = "";
	eng_grid *g = eng_grid_create();
	ok(eng_grid_size(g) == 1, "an empty grid has one point");
	ok(eng_grid_add(g, "weights=int8,int4", err, sizeof err) == 0 &&
	       eng_grid_add(g, "granularity=channel,tensor,group:32", err, sizeof err) == 0,
	   "two dimensions added (%s)", err);
	ok(eng_grid_size(g) == 6, "2 x 3 = 6 points");
	/* the first dimension changes slowest: point 4 = (int4, tensor) */
	eng_recipe r, d;
	eng_recipe_default(&r);
	eng_recipe_default(&d);
	cJSON *v = NULL;
	ok(eng_grid_apply(g, 4, &r, &v, err, sizeof err) == 0 && r.weights == KQ_FMT_I4 && r.gran == KQ_GRAN_TENSOR,
	   "point 4 is weights=int4 granularity=tensor");
	ok(v && !strcmp(eng_json_str(v, "weights"), "int4") && !strcmp(eng_json_str(v, "granularity"), "tensor") &&
		   !strcmp(v->child->string, "weights"),
	   "... and its values object says so, in dimension order");
	cJSON_Delete(v);
	r = d;
	ok(eng_grid_apply(g, 2, &r, NULL, err, sizeof err) == 0 && r.weights == KQ_FMT_I8 && r.gran == KQ_GRAN_GROUP &&
		   r.group == 32,
	   "point 2 is int8 group:32");
	ok(eng_grid_apply(g, 6, &r, NULL, err, sizeof err) == -1, "point 6 is outside");
	ok(eng_grid_add(g, "wieghts=int8", err, sizeof err) == -1 && strstr(err, "wieghts") && strstr(err, "weights"),
	   "an unknown key is named, with the real ones (%s)", err);
	ok(eng_grid_add(g, "symmetric=1", err, sizeof err) == -1 && strstr(err, "flag"), "a flag cannot be varied (%s)", err);
	ok(eng_grid_add(g, "acts=int8,int3", err, sizeof err) == -1 && strstr(err, "int3"), "a bad value is named (%s)", err);
	ok(eng_grid_add(g, "acts=int8,,fp32", err, sizeof err) == -1 && strstr(err, "empty"), "an empty value is refused");
	ok(eng_grid_add(g, "weights=fp32", err, sizeof err) == -1 && strstr(err, "twice"), "a key varied twice is refused");
	ok(eng_grid_size(g) == 6, "failed additions leave the grid as it was");
	eng_grid_destroy(g);
}

int main(void)
{
	char path[1024], err[512] = "";
	criterion_tests();
	grid_tests();

	snprintf(path, sizeof path, "%s/data/models/cnn-fashion.safetensors", srcdir());
	model_file mf;
	eng_idx img, lab;
	if (read_model(path, &mf) || eng_idx_load(FASHION "/t10k-images-idx3-ubyte.gz", &img, err, sizeof err) ||
	    eng_idx_load(FASHION "/t10k-labels-idx1-ubyte.gz", &lab, err, sizeof err)) {
		skip("model or Fashion-MNIST missing (dataset-fashion-mnist)", "sensitivity on the fragile model");
		return tap_done();
	}
	/* make conv2 fragile: channel 0 x SCALE, conv3's input channel 0 / SCALE */
	tensor *w2 = find(&mf, "conv2.weight"), *b2 = find(&mf, "conv2.bias"), *w3 = find(&mf, "conv3.weight");
	size_t per_out = w2->numel / (size_t)w2->shape[0];
	for (size_t i = 0; i < per_out; i++)
		w2->data[i] *= SCALE;
	b2->data[0] *= SCALE;
	for (int64_t o = 0; o < w3->shape[0]; o++)
		for (int64_t k = 0; k < w3->shape[2] * w3->shape[3]; k++)
			w3->data[(o * w3->shape[1] + 0) * w3->shape[2] * w3->shape[3] + k] /= SCALE;
	cJSON_ReplaceItemInObject(mf.meta, "name", cJSON_CreateString("cnn-fragile"));
	char tmpl[] = "/tmp/precis-fragile-XXXXXX";
	int fd = mkstemp(tmpl);
	char model_path[64];
	snprintf(model_path, sizeof model_path, "%s.safetensors", tmpl);
	close(fd);
	unlink(tmpl);
	ok(write_model(model_path, &mf) == 0, "fragile model written to %s", model_path);

	/* which layer per-tensor int8 hurts most, from the weights alone */
	ref_net net;
	parse_arch(mf.meta, &net);
	int expect = -1;
	double most = -1;
	for (int i = 0; i < NL; i++) {
		char wn[64];
		snprintf(wn, sizeof wn, "%s.weight", layer_names[i]);
		tensor *t = find(&mf, wn);
		float *copy = malloc(t->numel * sizeof *copy);
		memcpy(copy, t->data, t->numel * sizeof *copy);
		size_t zeros;
		fake_quant_tensor(copy, t->numel, &zeros);
		double frac = (double)zeros / t->numel;
		diag("%s: %.1f%% of weights round to zero per tensor", layer_names[i], frac * 100);
		if (frac > most)
			most = frac, expect = i;
		free(copy);
	}
	ok(expect == 1, "the weights say %s is the fragile layer (built so: conv2)", layer_names[expect]);

	eng_session_opts so = {0};
	so.model = model_path;
	so.threads = 2;
	so.seed = 1;
	so.eval_n = EVAL_N;
	eng_session *s = eng_session_create(&so, err, sizeof err);
	if (!ok(s != NULL, "session on the fragile model (%s)", err))
		return tap_done();
	eng_recipe r;
	eng_recipe_default(&r);
	eng_recipe_set(&r, "granularity", "tensor", err, sizeof err);
	eng_recipe_set(&r, "acts", "fp32", err, sizeof err);
	eng_recipe_set(&r, "calib-set", "representative:64", err, sizeof err);

	/* ------------------------------------------------ level 0: statistics */
	double t0 = now_ms();
	cJSON *st = eng_session_sensitivity(s, &r, 0, NULL, NULL, NULL, err, sizeof err);
	if (!ok(st != NULL, "statistics computed (%s)", err))
		return tap_done();
	diag("statistics in %.0f ms (with calibration)", now_ms() - t0);
	ok(cJSON_GetArraySize(eng_json_get(st, "layers")) == NL, "five layers");
	ok(!strcmp(eng_json_str(cJSON_GetArrayItem(eng_json_get(st, "ranking"), 0), ""), layer_names[expect]),
	   "statistics rank %s first (lowest output channel SQNR)", layer_names[expect]);
	int in_sizes[NL] = {1 * 28 * 28, 16 * 14 * 14, 32 * 7 * 7, 576, 128};
	int stats_ok = 1, hist_ok = 1, clip_ok = 1;
	for (int i = 0; i < NL; i++) {
		const cJSON *l = layer_named(st, layer_names[i]);
		char wn[64];
		snprintf(wn, sizeof wn, "%s.weight", layer_names[i]);
		tensor *t = find(&mf, wn);
		float amax = 0;
		for (size_t k = 0; k < t->numel; k++)
			amax = fmaxf(amax, fabsf(t->data[k]));
		if (eng_json_num(l, "weight_absmax") != amax) {
			stats_ok = 0;
			diag("%s: weight_absmax %g, max |w| %g", layer_names[i], eng_json_num(l, "weight_absmax"), amax);
		}
		double wsum = 0, asum = 0;
		const cJSON *c;
		cJSON_ArrayForEach(c, eng_json_get(l, "hist.weights.counts")) wsum += c->valuedouble;
		cJSON_ArrayForEach(c, eng_json_get(l, "hist.acts.counts")) asum += c->valuedouble;
		if (wsum != (double)t->numel || asum != 64.0 * in_sizes[i] ||
		    cJSON_GetArraySize(eng_json_get(l, "hist.weights.counts")) != 64) {
			hist_ok = 0;
			diag("%s: histogram sums %g (want %zu), %g (want %d)", layer_names[i], wsum, t->numel, asum, 64 * in_sizes[i]);
		}
		/* per-tensor symmetric int8: the grid is [-127 s, 127 s] = [-amax, amax] */
		const cJSON *cw = eng_json_get(l, "hist.clip.weights");
		double lo = eng_json_num(cJSON_GetArrayItem(cw, 0), ""), hi = eng_json_num(cJSON_GetArrayItem(cw, 1), "");
		if (fabs(hi - amax) > 1e-6 * amax || fabs(lo + amax) > 1e-6 * amax || !cJSON_IsNull(eng_json_get(l, "hist.clip.acts")) ||
		    eng_json_num(l, "fraction_clipped.weights") != 0 || !cJSON_IsNull(eng_json_get(l, "fraction_clipped.acts"))) {
			clip_ok = 0;
			diag("%s: clip [%g, %g] vs amax %g", layer_names[i], lo, hi, amax);
		}
		const cJSON *fl = layer_named(st, layer_names[expect]);
		if (i != expect && !(eng_json_num(l, "output_channel_sqnr_db") > eng_json_num(fl, "output_channel_sqnr_db") &&
				     eng_json_num(l, "weight_channel_sqnr_db") > eng_json_num(fl, "weight_channel_sqnr_db")))
			stats_ok = 0;
	}
	ok(stats_ok, "weight_absmax is max |w| of each tensor; the fragile layer has the lowest per-channel SQNRs");
	diag("%s: whole-tensor output SQNR %.1f dB, per channel %.1f dB (its big channel hides the others)", layer_names[expect],
	     eng_json_num(layer_named(st, layer_names[expect]), "output_sqnr_db"),
	     eng_json_num(layer_named(st, layer_names[expect]), "output_channel_sqnr_db"));
	ok(hist_ok, "64-bin histograms count every weight and every calibration activation (64 images)");
	ok(clip_ok, "per-tensor int8 weight grid spans [-amax, amax]; minmax clips nothing; fp32 activations have no grid");
	ok(eng_json_num(layer_named(st, "conv1"), "act_absmax") <= (1 - 0.286) / 0.353 + 1e-5 &&
		   eng_json_num(layer_named(st, "conv1"), "act_p999") <= eng_json_num(layer_named(st, "conv1"), "act_absmax"),
	   "conv1's input stays within the normalised pixel range; p99.9 <= absmax");
	t0 = now_ms();
	cJSON *st2 = eng_session_sensitivity(s, &r, 0, NULL, NULL, NULL, err, sizeof err);
	double cached_ms = now_ms() - t0;
	ok(st2 && cJSON_IsTrue(eng_json_get(st2, "cached")) && cached_ms < 100, "a repeat is served from the cache (%.2f ms)",
	   cached_ms);
	cJSON_ReplaceItemInObject(st2, "cached", cJSON_CreateFalse());
	ok(cJSON_Compare(st, st2, 1), "... with the same content");
	cJSON_Delete(st2);

	/* activations quantized with minmax on the same draw: nothing clipped */
	eng_recipe ra = r;
	eng_recipe_set(&ra, "acts", "int8", err, sizeof err);
	cJSON *sa = eng_session_sensitivity(s, &ra, 0, NULL, NULL, NULL, err, sizeof err);
	int zero_clip = sa != NULL;
	for (int i = 0; sa && i < NL; i++) {
		/* the uint8 grid [(0 - zp) s, (255 - zp) s] ends within half a step
		 * of the observed range (the zero point is rounded) */
		const cJSON *l = layer_named(sa, layer_names[i]), *ca = eng_json_get(l, "hist.clip.acts");
		double glo = eng_json_num(cJSON_GetArrayItem(ca, 0), ""), ghi = eng_json_num(cJSON_GetArrayItem(ca, 1), "");
		double half = (ghi - glo) / 255 / 2 * (1 + 1e-5);
		int fine = eng_json_num(l, "fraction_clipped.acts") == 0 && cJSON_GetArraySize(ca) == 2 &&
			   ghi >= eng_json_num(l, "hist.acts.hi") - half && glo <= eng_json_num(l, "hist.acts.lo") + half;
		if (!fine)
			diag("%s: clipped %g, grid [%g, %g], observed [%g, %g]", layer_names[i],
			     eng_json_num(l, "fraction_clipped.acts"), glo, ghi, eng_json_num(l, "hist.acts.lo"),
			     eng_json_num(l, "hist.acts.hi"));
		zero_clip &= fine;
	}
	ok(zero_clip, "int8 activations calibrated by minmax clip none of the calibration data; the grid spans its range");
	eng_recipe_set(&ra, "calib-method", "percentile:99", err, sizeof err);
	cJSON *sp = eng_session_sensitivity(s, &ra, 0, NULL, NULL, NULL, err, sizeof err);
	double fc = sp ? eng_json_num(layer_named(sp, "fc1"), "fraction_clipped.acts") : NAN;
	ok(fc > 0 && fc < 0.05, "percentile:99 clips some of fc1's input, under 5%% (%.4f)", fc);
	cJSON_Delete(sa);
	cJSON_Delete(sp);

	/* ------------------------------------------------------ level 1: deltas */
	t0 = now_ms();
	cJSON *full = eng_session_sensitivity(s, &r, 1, NULL, NULL, NULL, err, sizeof err);
	if (!ok(full != NULL, "full sensitivity computed (%s)", err))
		return tap_done();
	diag("full sensitivity on %d images in %.0f ms", EVAL_N, now_ms() - t0);
	ok(!cJSON_IsTrue(eng_json_get(full, "cached")), "level 1 is computed, not taken from the level-0 cache");
	ok(!strcmp(eng_json_str(cJSON_GetArrayItem(eng_json_get(full, "ranking"), 0), ""), layer_names[expect]) &&
		   eng_json_num(layer_named(full, layer_names[expect]), "rank") == 1,
	   "the fragile layer ranks first (ranking: %s, %s, ...)",
	   eng_json_str(cJSON_GetArrayItem(eng_json_get(full, "ranking"), 0), ""),
	   eng_json_str(cJSON_GetArrayItem(eng_json_get(full, "ranking"), 1), ""));

	/* independent reference: scalar forward passes in PyTorch's layout */
	double acc_ref = ref_accuracy(&net, &mf, &img, &lab, EVAL_N);
	const char *check[] = {layer_names[expect], "fc1"};
	for (int k = 0; k < 2; k++) {
		char wn[64];
		snprintf(wn, sizeof wn, "%s.weight", check[k]);
		tensor *t = find(&mf, wn);
		float *keep = malloc(t->numel * sizeof *keep);
		memcpy(keep, t->data, t->numel * sizeof *keep);
		size_t zeros;
		fake_quant_tensor(t->data, t->numel, &zeros);
		double d_ref = ref_accuracy(&net, &mf, &img, &lab, EVAL_N) - acc_ref;
		memcpy(t->data, keep, t->numel * sizeof *keep);
		free(keep);
		double d = eng_json_num(layer_named(full, check[k]), "delta_alone");
		ok(fabs(d - d_ref) <= 2.0 / EVAL_N + 1e-9, "delta_alone(%s) %+.4f matches the scalar reference %+.4f (2 samples)",
		   check[k], d, d_ref);
	}
	ok(eng_json_num(layer_named(full, layer_names[expect]), "delta_alone") < -0.2,
	   "quantizing the fragile layer alone costs over 20 points (%+.1f)",
	   100 * eng_json_num(layer_named(full, layer_names[expect]), "delta_alone"));

	/* every delta against a plain evaluation of the equivalent recipe */
	cJSON *ev_full = eval_keep(s, &r, NULL);
	ok(ev_full && !cJSON_IsTrue(eng_json_get(ev_full, "throughput.measured")) &&
		   !eng_json_get(ev_full, "throughput.quant"),
	   "ENG_EVAL_NO_BENCH: throughput not measured, no numbers");
	ok(fabs(eng_json_num(full, "full_recipe.delta") - all_delta(ev_full)) < 1e-9 &&
		   eng_json_num(full, "full_recipe.flips") == eng_json_num(cJSON_GetArrayItem(eng_json_get(ev_full, "eval.strata"), 0), "flips"),
	   "full_recipe matches eval of the recipe");
	int alone_eq = 1, allbut_eq = 1, moved_ok = 1, attr_ok = 1;
	double full_flips = eng_json_num(full, "full_recipe.flips"), attr_fragile = 0, attr_other = 0;
	for (int i = 0; i < NL; i++) {
		const cJSON *l = layer_named(full, layer_names[i]);
		char others[128] = "";
		for (int j = 0; j < NL; j++)
			if (j != i) {
				strcat(others, others[0] ? "," : "");
				strcat(others, layer_names[j]);
			}
		cJSON *ea = eval_keep(s, &r, others), *eb = eval_keep(s, &r, layer_names[i]);
		if (!ea || fabs(eng_json_num(l, "delta_alone") - all_delta(ea)) > 1e-9 ||
		    fabs(ci(eng_json_get(l, "alone"), 0) - ci(cJSON_GetArrayItem(eng_json_get(ea, "eval.strata"), 0), 0)) > 1e-9 ||
		    fabs(ci(l, 1) - ci(cJSON_GetArrayItem(eng_json_get(ea, "eval.strata"), 0), 1)) > 1e-9) {
			alone_eq = 0;
			diag("%s: delta_alone %g, eval keeping the others %g", layer_names[i], eng_json_num(l, "delta_alone"), all_delta(ea));
		}
		if (!eb || fabs(eng_json_num(l, "delta_all_but") - all_delta(eb)) > 1e-9) {
			allbut_eq = 0;
			diag("%s: delta_all_but %g, eval keeping it %g", layer_names[i], eng_json_num(l, "delta_all_but"), all_delta(eb));
		}
		/* moved_most: the stratum (not all) with the largest |delta| in eval's table */
		double biggest = 0;
		const cJSON *sj;
		cJSON_ArrayForEach(sj, eng_json_get(ea, "eval.strata")) if (strcmp(eng_json_str(sj, "name"), "all") != 0 &&
									     fabs(eng_json_num(sj, "delta")) > biggest) biggest =
			fabs(eng_json_num(sj, "delta"));
		const cJSON *mm = eng_json_get(l, "alone.moved_most");
		if (biggest > 0 ? fabs(fabs(eng_json_num(mm, "delta")) - biggest) > 1e-6 : !cJSON_IsNull(mm))
			moved_ok = 0;
		double a = eng_json_num(l, "flips_attributed");
		if (!(a >= 0 && a <= full_flips))
			attr_ok = 0;
		if (i == expect)
			attr_fragile = a;
		else
			attr_other = a > attr_other ? a : attr_other;
		cJSON_Delete(ea);
		cJSON_Delete(eb);
	}
	ok(alone_eq, "delta_alone and its interval equal eval with every other layer kept in fp32 (replayed prefixes are exact)");
	ok(allbut_eq, "delta_all_but equals eval with the layer kept in fp32");
	ok(moved_ok, "moved_most is the stratum with the largest |delta|");
	ok(attr_ok && attr_fragile > attr_other, "flips_attributed within [0, full flips %.0f]; the fragile layer's %.0f is the largest",
	   full_flips, attr_fragile);
	cJSON_Delete(ev_full);
	/* the reference a cold session took from the replay's recording pass
	 * against one computed by a pass of its own, in a fresh session */
	eng_session *s2 = eng_session_create(&so, err, sizeof err);
	cJSON *ev2 = s2 ? eval_keep(s2, &r, NULL) : NULL;
	ok(ev2 && fabs(all_delta(ev2) - eng_json_num(full, "full_recipe.delta")) < 1e-9 &&
		   fabs(eng_json_num(cJSON_GetArrayItem(eng_json_get(ev2, "eval.strata"), 0), "ref") - acc_ref) <= 2.0 / EVAL_N,
	   "the reference sensitivity recorded equals a fresh session's (and the scalar one's accuracy %.4f)", acc_ref);
	cJSON_Delete(ev2);
	eng_session_destroy(s2);
	t0 = now_ms();
	cJSON *lvl0 = eng_session_sensitivity(s, &r, 0, NULL, NULL, NULL, err, sizeof err);
	ok(lvl0 && cJSON_IsTrue(eng_json_get(lvl0, "cached")) && cJSON_IsTrue(eng_json_get(lvl0, "full")),
	   "after level 1, level 0 is answered from the cache (%.2f ms)", now_ms() - t0);
	cJSON_Delete(lvl0);

	/* ------------------------------------------------------------ search */
	eng_criterion c = {3.0, 0, 0, NULL, -1};
	cJSON *sr = eng_search(s, &r, &c, NULL, NULL, NULL, NULL, NULL, err, sizeof err);
	if (ok(sr != NULL, "search runs (%s)", err)) {
		const cJSON *best = eng_json_get(sr, "best"), *step;
		int bstep = (int)eng_json_num(best, "step"), rule_ok = 1, n = 0;
		cJSON_ArrayForEach(step, eng_json_get(sr, "steps"))
		{
			/* the rule, recomputed: the losing end of all's interval >= -3 pt */
			double lo = ci(cJSON_GetArrayItem(eng_json_get(step, "strata"), 0), 0);
			int holds = lo * 100 >= -3.0 - 1e-9;
			rule_ok &= holds == cJSON_IsTrue(eng_json_get(step, "holds"));
			rule_ok &= !holds || (int)eng_json_num(step, "step") == bstep; /* stops at the first that holds */
			n++;
		}
		ok(cJSON_IsTrue(eng_json_get(sr, "met")) && cJSON_IsTrue(eng_json_get(best, "met")) &&
			   !strcmp(eng_json_str(sr, "stopped"), "met"),
		   "an achievable criterion (3 pt on all) is met after %d steps", n - 1);
		ok(rule_ok && bstep == n - 1, "each step's verdict follows the documented rule; the last step is the best");
		ok(!strcmp(eng_json_str(best, "recipe.overrides.conv2"), "fp32"), "the best recipe keeps the fragile conv2 in fp32");
		ok(!strcmp(eng_json_str(cJSON_GetArrayItem(eng_json_get(sr, "ranking"), 0), ""), "conv2") &&
			   strstr(eng_json_str(cJSON_GetArrayItem(eng_json_get(sr, "steps"), 1), "change"), "conv2"),
		   "the first promotion is the most sensitive layer (%s)",
		   eng_json_str(cJSON_GetArrayItem(eng_json_get(sr, "steps"), 1), "change"));
		ok(eng_json_num(best, "throughput.quant") > 0 && cJSON_IsObject(eng_json_get(best, "eval")),
		   "the best carries its measured throughput and its full evaluation");
	}
	cJSON_Delete(sr);
	eng_criterion c0 = {3.0, 0, 0, NULL, 0};
	sr = eng_search(s, &r, &c0, NULL, NULL, NULL, NULL, NULL, err, sizeof err);
	double lo0 = sr ? ci(cJSON_GetArrayItem(eng_json_get(sr, "best.strata"), 0), 0) : NAN;
	ok(sr && !cJSON_IsTrue(eng_json_get(sr, "met")) && !strcmp(eng_json_str(sr, "stopped"), "max-steps") &&
		   eng_json_num(sr, "best.step") == 0 && fabs(eng_json_num(sr, "best.shortfall_pt") - (-lo0 * 100 - 3)) < 1e-3 &&
		   eng_json_num(sr, "best.shortfall_pt") > 0,
	   "an unachievable one (no promotion allowed) fails and reports the best so far: step 0, short by %.2f pt",
	   eng_json_num(sr, "best.shortfall_pt"));
	cJSON_Delete(sr);
	const char *bogus[] = {"sock"};
	eng_criterion cb = {1, 0, 1, bogus, -1};
	ok(eng_search(s, &r, &cb, NULL, NULL, NULL, NULL, NULL, err, sizeof err) == NULL && !strncmp(err, "--stratum", 9),
	   "an unknown --stratum is refused before any work (%s)", err);

	/* W8A8 (the default recipe): int8 layers hand uint8 codes to the next,
	 * so the all-but replay copies codes; still exact */
	eng_recipe r8;
	eng_recipe_default(&r8);
	eng_recipe_set(&r8, "calib-set", "representative:64", err, sizeof err);
	cJSON *f8 = eng_session_sensitivity(s, &r8, 1, NULL, NULL, NULL, err, sizeof err);
	int eq8 = f8 != NULL;
	for (int i = 0; f8 && i < NL; i++) {
		char others[128] = "";
		for (int j = 0; j < NL; j++)
			if (j != i) {
				strcat(others, others[0] ? "," : "");
				strcat(others, layer_names[j]);
			}
		cJSON *ea = eval_keep(s, &r8, others), *eb = eval_keep(s, &r8, layer_names[i]);
		const cJSON *l = layer_named(f8, layer_names[i]);
		double da = eng_json_num(l, "delta_alone"), db = eng_json_num(l, "delta_all_but");
		if (!ea || !eb || fabs(da - all_delta(ea)) > 1e-9 || fabs(db - all_delta(eb)) > 1e-9 ||
		    eng_json_num(l, "all_but.flips") != eng_json_num(cJSON_GetArrayItem(eng_json_get(eb, "eval.strata"), 0), "flips")) {
			eq8 = 0;
			diag("W8A8 %s: alone %g vs %g, all-but %g vs %g", layer_names[i], da, all_delta(ea), db, all_delta(eb));
		}
		cJSON_Delete(ea);
		cJSON_Delete(eb);
	}
	ok(eq8, "W8A8: alone and all-but deltas and flips equal plain evaluations (uint8 hand-offs replayed exactly)");
	cJSON_Delete(f8);

	volatile int cancel = 1;
	ok(eng_session_sensitivity(s, &ra, 1, NULL, NULL, &cancel, err, sizeof err) == NULL && strstr(err, "cancelled"),
	   "a cancelled sensitivity returns NULL with 'cancelled'");
	cJSON_Delete(st);
	cJSON_Delete(full);
	eng_session_destroy(s);
	unlink(model_path);
	eng_idx_done(&img);
	eng_idx_done(&lab);
	for (int i = 0; i < mf.n; i++)
		free(mf.t[i].data);
	cJSON_Delete(mf.meta);
	return tap_done();
}
