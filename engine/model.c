/* SPDX-License-Identifier: GPL-3.0-or-later */
/* model.c - building a layer graph from a safetensors file, and running it.
 *
 * DESIGN: the file's __metadata__ carries `arch` (a JSON list of ops) and
 * `input` (shape and normalisation); `classes` and `family`, `name`, `task`
 * are optional.  Shapes are propagated through the graph at load time and
 * every weight tensor is checked against them, so the forward pass never
 * meets a mismatch.  The graph owns re-laid-out copies of the weights.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "eng_io.h"
#include "eng_model.h"

typedef struct {
	const char *name;
	eng_opkind op;
} op_name;

static const op_name ops[] = {{"conv2d", ENG_CONV2D}, {"linear", ENG_LINEAR}, {"relu", ENG_RELU},
			      {"maxpool2d", ENG_MAXPOOL2D}, {"flatten", ENG_FLATTEN}};

void eng_model_destroy(eng_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nlayers; i++) {
		free(m->layers[i].w);
		free(m->layers[i].b);
	}
	for (int i = 0; i < m->nclasses; i++)
		free(m->classes[i]);
	free(m->classes);
	free(m->layers);
	free(m->name), free(m->family), free(m->path), free(m->task);
	free(m);
}

eng_layer *eng_model_qlayer(const eng_model *m, int i)
{
	for (int j = 0; j < m->nlayers; j++)
		if (m->layers[j].qindex == i)
			return &m->layers[j];
	return NULL;
}

static int get_int(const cJSON *o, const char *key, int def, int lo, int hi, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v) {
		*out = def;
		return def >= lo;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != (int)v->valuedouble || v->valuedouble < lo || v->valuedouble > hi)
		return 0;
	*out = (int)v->valuedouble;
	return 1;
}

/* Binds and re-lays-out the weights of a conv/linear layer.  `flat_c`,
 * `flat_h`, `flat_w` > 0 when the layer follows a flatten of an NHWC map:
 * PyTorch flattened it as (c, h, w), we hold (h, w, c). */
static int bind_weights(eng_layer *L, const eng_st *st, const char *path, int flat_c, int flat_h, int flat_w,
			char *err, size_t errlen)
{
	char wn[64], bn[64];
	snprintf(wn, sizeof wn, "%s.weight", L->name);
	snprintf(bn, sizeof bn, "%s.bias", L->name);
	const eng_tensor *w = eng_st_get(st, wn), *b = eng_st_get(st, bn);
	int64_t want4[4] = {L->out_c, L->in_c, L->kernel, L->kernel};
	int conv = L->op == ENG_CONV2D, nd = conv ? 4 : 2;
	int64_t want2[2] = {L->out_c, (int64_t)L->k};
	const int64_t *want = conv ? want4 : want2;
	if (!w) {
		snprintf(err, errlen, "%s: tensor '%s' missing", path, wn);
		return -1;
	}
	int okshape = w->ndim == nd;
	for (int i = 0; okshape && i < nd; i++)
		okshape = w->shape[i] == want[i];
	if (!okshape) {
		snprintf(err, errlen, "%s: tensor '%s' has shape [%lld, %lld, ...] but the graph needs [%lld, %lld%s]", path,
			 wn, (long long)w->shape[0], (long long)(w->ndim > 1 ? w->shape[1] : 0), (long long)want[0],
			 (long long)want[1], conv ? ", k, k" : "");
		return -1;
	}
	if (!b || b->ndim != 1 || b->shape[0] != L->out_c) {
		snprintf(err, errlen, "%s: tensor '%s' %s (needs shape [%d])", path, bn, b ? "has the wrong shape" : "missing",
			 L->out_c);
		return -1;
	}
	L->w = malloc((size_t)L->out_c * L->k * sizeof *L->w);
	L->b = malloc((size_t)L->out_c * sizeof *L->b);
	if (!L->w || !L->b) {
		snprintf(err, errlen, "%s: out of memory for layer %s", path, L->name);
		return -1;
	}
	/* the quantizers assume finite weights: a NaN or inf is a corrupt file */
	for (const eng_tensor *t = w; t; t = t == w ? b : NULL)
		for (size_t i = 0; i < t->numel; i++)
			if (!isfinite(t->data[i])) {
				snprintf(err, errlen, "%s: tensor '%s' element %zu is %g (weights must be finite)", path,
					 t->name, i, t->data[i]);
				return -1;
			}
	memcpy(L->b, b->data, (size_t)L->out_c * sizeof *L->b);
	int kk = L->kernel, c = L->in_c;
	for (int o = 0; o < L->out_c; o++)
		for (int j = 0; j < L->k; j++) {
			int src;
			if (conv) { /* ours: (kh, kw, c); file: (c, kh, kw) */
				int ci = j % c, kw = (j / c) % kk, kh = j / (c * kk);
				src = (ci * kk + kh) * kk + kw;
			} else if (flat_c > 0) { /* ours: (h, w, c); file: (c, h, w) */
				int ci = j % flat_c, x = (j / flat_c) % flat_w, y = j / (flat_c * flat_w);
				src = (ci * flat_h + y) * flat_w + x;
			} else
				src = j;
			L->w[(size_t)o * L->k + j] = w->data[(size_t)o * L->k + src];
		}
	return 0;
}

eng_model *eng_model_load(const char *path, char *err, size_t errlen)
{
	eng_st *st = eng_st_load(path, err, errlen);
	if (!st)
		return NULL;
	eng_model *m = calloc(1, sizeof *m);
	cJSON *arch = NULL, *input = NULL, *classes = NULL;
	if (!m) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	const char *a = eng_st_meta(st, "arch"), *in = eng_st_meta(st, "input"), *cl = eng_st_meta(st, "classes");
	const char *fam = eng_st_meta(st, "family"), *name = eng_st_meta(st, "name"), *task = eng_st_meta(st, "task");
	if (!a || !(arch = cJSON_Parse(a)) || !cJSON_IsArray(arch) || cJSON_GetArraySize(arch) == 0) {
		snprintf(err, errlen, "%s: __metadata__.arch is missing or not a JSON list of layers", path);
		goto fail;
	}
	if (!in || !(input = cJSON_Parse(in)) || !cJSON_IsObject(input)) {
		snprintf(err, errlen, "%s: __metadata__.input is missing or not a JSON object", path);
		goto fail;
	}
	const cJSON *mean = cJSON_GetObjectItemCaseSensitive(input, "mean"), *sd = cJSON_GetObjectItemCaseSensitive(input, "std");
	if (!get_int(input, "channels", -1, 1, 4096, &m->in_c) || !get_int(input, "height", -1, 1, 4096, &m->in_h) ||
	    !get_int(input, "width", -1, 1, 4096, &m->in_w) || !cJSON_IsNumber(mean) || !cJSON_IsNumber(sd) ||
	    !(sd->valuedouble > 0)) {
		snprintf(err, errlen, "%s: __metadata__.input needs channels, height, width (1..4096), mean and std > 0", path);
		goto fail;
	}
	m->mean = (float)mean->valuedouble;
	m->std = (float)sd->valuedouble;
	m->path = strdup(path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	m->name = strdup(name ? name : base);
	m->family = strdup(fam ? fam : "cnn");
	m->task = strdup(task ? task : "image classification");
	snprintf(m->sha256, sizeof m->sha256, "%s", eng_st_sha256(st));
	m->file_bytes = eng_st_file_bytes(st);
	m->nlayers = cJSON_GetArraySize(arch);
	m->layers = calloc((size_t)m->nlayers, sizeof *m->layers);
	if (!m->path || !m->name || !m->family || !m->task || !m->layers) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	int c = m->in_c, h = m->in_h, w = m->in_w, flat = 0, fc = 0, fh = 0, fw = 0;
	for (int i = 0; i < m->nlayers; i++) {
		const cJSON *o = cJSON_GetArrayItem(arch, i), *opv = cJSON_GetObjectItemCaseSensitive(o, "op");
		eng_layer *L = &m->layers[i];
		L->qindex = -1;
		size_t j = 0;
		while (cJSON_IsString(opv) && j < sizeof ops / sizeof *ops && strcmp(ops[j].name, opv->valuestring) != 0)
			j++;
		if (!cJSON_IsString(opv) || j == sizeof ops / sizeof *ops) {
			snprintf(err, errlen, "%s: arch[%d]: unknown op %s", path, i, cJSON_IsString(opv) ? opv->valuestring : "(missing)");
			goto fail;
		}
		L->op = ops[j].op;
		L->in_c = c, L->in_h = h, L->in_w = w;
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
		int bad = 0, cin = 0;
		switch (L->op) {
		case ENG_CONV2D:
		case ENG_LINEAR:
			if (!cJSON_IsString(nm) || strlen(nm->valuestring) >= sizeof L->name) {
				snprintf(err, errlen, "%s: arch[%d]: %s layer needs a name under 32 characters", path, i, ops[j].name);
				goto fail;
			}
			snprintf(L->name, sizeof L->name, "%s", nm->valuestring);
			bad = !get_int(o, "in", -1, 1, 1 << 20, &cin) || !get_int(o, "out", -1, 1, 1 << 20, &L->out_c);
			if (L->op == ENG_CONV2D) {
				bad = bad || !get_int(o, "kernel", -1, 1, 15, &L->kernel) || !get_int(o, "stride", 1, 1, 15, &L->stride) ||
				      !get_int(o, "pad", 0, 0, 15, &L->pad) || flat;
				if (!bad && cin != c) {
					snprintf(err, errlen, "%s: arch[%d] %s: in = %d but the previous layer gives %d channels", path, i, L->name, cin, c);
					goto fail;
				}
				L->out_h = (h + 2 * L->pad - L->kernel) / L->stride + 1;
				L->out_w = (w + 2 * L->pad - L->kernel) / L->stride + 1;
				L->k = L->kernel * L->kernel * c;
			} else {
				if (!bad && cin != c * h * w) {
					snprintf(err, errlen, "%s: arch[%d] %s: in = %d but the previous layer gives %d values", path, i, L->name, cin, c * h * w);
					goto fail;
				}
				L->kernel = 1, L->stride = 1;
				L->out_h = L->out_w = 1;
				L->k = cin;
				if (!flat && h * w != 1)
					bad = 1; /* linear needs a flattened input */
			}
			if (bad || L->out_h < 1 || L->out_w < 1) {
				snprintf(err, errlen, "%s: arch[%d] %s: bad or missing in/out/kernel/stride/pad for its input %dx%dx%d", path, i,
					 L->name, c, h, w);
				goto fail;
			}
			L->qindex = m->nq++;
			if (bind_weights(L, st, path, L->op == ENG_LINEAR && flat == 1 ? fc : 0, fh, fw, err, errlen))
				goto fail;
			if (flat)
				flat++; /* the permutation applies to the first linear after flatten only */
			c = L->out_c, h = L->out_h, w = L->out_w;
			m->params += (long)L->out_c * L->k + L->out_c;
			break;
		case ENG_MAXPOOL2D:
			if (!get_int(o, "kernel", -1, 1, 15, &L->kernel) || !get_int(o, "stride", L->kernel, 1, 15, &L->stride) || flat) {
				snprintf(err, errlen, "%s: arch[%d]: maxpool2d needs kernel (and stride) 1..15 before any flatten", path, i);
				goto fail;
			}
			h = (h - L->kernel) / L->stride + 1, w = (w - L->kernel) / L->stride + 1;
			if (h < 1 || w < 1) {
				snprintf(err, errlen, "%s: arch[%d]: maxpool2d kernel %d is larger than its %dx%d input", path, i, L->kernel, L->in_h, L->in_w);
				goto fail;
			}
			break;
		case ENG_FLATTEN:
			fc = c, fh = h, fw = w;
			flat = 1;
			c = c * h * w, h = w = 1;
			break;
		case ENG_RELU:
			break;
		}
		L->out_c = c, L->out_h = h, L->out_w = w;
	}
	if (m->nq == 0 || h != 1 || w != 1) {
		snprintf(err, errlen, "%s: arch must contain a conv2d or linear layer and end in a flat vector", path);
		goto fail;
	}
	m->out_dim = c;
	m->nclasses = c;
	if (cl && (classes = cJSON_Parse(cl)) && cJSON_IsArray(classes) && cJSON_GetArraySize(classes) != c) {
		snprintf(err, errlen, "%s: __metadata__.classes has %d names for %d outputs", path, cJSON_GetArraySize(classes), c);
		goto fail;
	}
	m->classes = calloc((size_t)c, sizeof *m->classes);
	for (int i = 0; m->classes && i < c; i++) {
		const cJSON *v = classes ? cJSON_GetArrayItem(classes, i) : NULL;
		char buf[32];
		snprintf(buf, sizeof buf, "class%d", i);
		m->classes[i] = strdup(cJSON_IsString(v) ? v->valuestring : buf);
		if (!m->classes[i])
			break;
	}
	if (!m->classes || !m->classes[c - 1]) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	cJSON_Delete(arch), cJSON_Delete(input), cJSON_Delete(classes);
	eng_st_destroy(st);
	return m;
fail:
	cJSON_Delete(arch), cJSON_Delete(input), cJSON_Delete(classes);
	eng_st_destroy(st);
	eng_model_destroy(m);
	return NULL;
}
