/* SPDX-License-Identifier: GPL-3.0-or-later */
/* seq_model.c - loading the sequence models (transformer encoder and
 * decoder, GRU language model) from safetensors.
 *
 * DESIGN: the architecture is the JSON `config` in the file's
 * __metadata__; the tensor names are PyTorch's state_dict names of the
 * modules in tools/seq_common.py.  Every tensor the config implies is
 * looked up by name and checked against its shape, every value must be
 * finite, and a file with a tensor the config does not use is refused too
 * (a config that disagrees with the weights is the likelier mistake).  The
 * linear layers become eng_layers (one GEMM each) so the CNN's backends,
 * observers and quantizer apply to them unchanged; the model owns copies
 * of all weights and the file is closed on return.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "eng_io.h"
#include "eng_seq.h"

typedef struct {
	const eng_st *st;
	const char *path;
	char *err;
	size_t errlen;
	unsigned char *seen; /* per tensor of the file: consumed */
	long params;
} loader;

/* A copy of tensor `name`, which must have shape [d0] (d1 < 0) or
 * [d0, d1].  NULL with err naming the file and the tensor. */
static float *take(loader *ld, const char *name, int64_t d0, int64_t d1)
{
	const eng_tensor *t = eng_st_get(ld->st, name);
	int nd = d1 < 0 ? 1 : 2;
	if (!t) {
		snprintf(ld->err, ld->errlen, "%s: tensor '%s' missing", ld->path, name);
		return NULL;
	}
	if (t->ndim != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
		char got[96] = "";
		for (int i = 0; i < t->ndim && strlen(got) < sizeof got - 24; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
		if (nd == 1)
			snprintf(ld->err, ld->errlen, "%s: tensor '%s' has shape [%s] but the config needs [%lld]", ld->path, name,
				 got, (long long)d0);
		else
			snprintf(ld->err, ld->errlen, "%s: tensor '%s' has shape [%s] but the config needs [%lld, %lld]", ld->path,
				 name, got, (long long)d0, (long long)d1);
		return NULL;
	}
	for (size_t i = 0; i < t->numel; i++)
		if (!isfinite(t->data[i])) {
			snprintf(ld->err, ld->errlen, "%s: tensor '%s' element %zu is %g (weights must be finite)", ld->path, name, i,
				 t->data[i]);
			return NULL;
		}
	float *p = malloc(t->numel * sizeof *p);
	if (!p) {
		snprintf(ld->err, ld->errlen, "%s: out of memory for tensor '%s'", ld->path, name);
		return NULL;
	}
	memcpy(p, t->data, t->numel * sizeof *p);
	for (size_t i = 0; i < eng_st_count(ld->st); i++)
		if (eng_st_at(ld->st, i) == t)
			ld->seen[i] = 1;
	ld->params += (long)t->numel;
	return p;
}

/* Binds linear layer `L` (display name `lname`) to tensors wname [out, in]
 * and bname [out]. */
static int bind_linear(loader *ld, eng_layer *L, int qindex, const char *lname, const char *wname, const char *bname,
		       int out, int in)
{
	memset(L, 0, sizeof *L);
	snprintf(L->name, sizeof L->name, "%s", lname);
	L->op = ENG_LINEAR;
	L->kernel = L->stride = 1;
	L->in_c = L->k = in;
	L->in_h = L->in_w = L->out_h = L->out_w = 1;
	L->out_c = out;
	L->qindex = qindex;
	if (!(L->w = take(ld, wname, out, in)) || !(L->b = take(ld, bname, out, -1)))
		return -1;
	return 0;
}

static int take_ln(loader *ld, eng_ln *ln, const char *prefix, int d)
{
	char n[96];
	snprintf(n, sizeof n, "%s.weight", prefix);
	if (!(ln->g = take(ld, n, d, -1)))
		return -1;
	snprintf(n, sizeof n, "%s.bias", prefix);
	return (ln->b = take(ld, n, d, -1)) ? 0 : -1;
}

void eng_seq_destroy(eng_seq_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->base.nlayers; i++)
		free(m->base.layers[i].w), free(m->base.layers[i].b);
	free(m->base.layers);
	for (int i = 0; i < m->base.nclasses; i++)
		free(m->base.classes[i]);
	free(m->base.classes);
	free(m->base.name), free(m->base.family), free(m->base.path), free(m->base.task);
	for (int i = 0; m->blocks && i < m->n_layers; i++) {
		eng_xblock *b = &m->blocks[i];
		free(b->ln1.g), free(b->ln1.b), free(b->ln2.g), free(b->ln2.b);
	}
	free(m->blocks), free(m->gru);
	free(m->ln_f.g), free(m->ln_f.b);
	free(m->tok_emb), free(m->pos_emb);
	free(m->variant);
	free(m);
}

/* An integer config field in [lo, hi]; -1 with err when absent or not. */
static int cfg_int(const cJSON *cfg, const char *key, int lo, int hi, int *out, const char *path, char *err,
		   size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
		snprintf(err, errlen, "%s: __metadata__.config.%s must be an integer in [%d, %d]", path, key, lo, hi);
		return -1;
	}
	*out = (int)v->valuedouble;
	return 0;
}

static int cfg_str(const cJSON *cfg, const char *key, const char *want, const char *path, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	if (!cJSON_IsString(v) || strcmp(v->valuestring, want) != 0) {
		snprintf(err, errlen, "%s: __metadata__.config.%s is %s%s%s; only \"%s\" is supported", path, key,
			 cJSON_IsString(v) ? "\"" : "", cJSON_IsString(v) ? v->valuestring : "missing",
			 cJSON_IsString(v) ? "\"" : "", want);
		return -1;
	}
	return 0;
}

static int load_transformer(eng_seq_model *m, loader *ld, const cJSON *cfg)
{
	const char *path = ld->path;
	char *err = ld->err;
	size_t errlen = ld->errlen;
	int enc = m->kind == ENG_SEQ_ENCODER;
	if (cfg_int(cfg, "vocab", 1, 1 << 20, &m->vocab, path, err, errlen) ||
	    cfg_int(cfg, "d_model", 1, 8192, &m->d_model, path, err, errlen) ||
	    cfg_int(cfg, "n_layers", 1, 256, &m->n_layers, path, err, errlen) ||
	    cfg_int(cfg, "n_heads", 1, 256, &m->n_heads, path, err, errlen) ||
	    cfg_int(cfg, "d_ff", 1, 65536, &m->d_ff, path, err, errlen) ||
	    cfg_int(cfg, "context", 1, 65536, &m->context, path, err, errlen) ||
	    cfg_str(cfg, "norm", "pre", path, err, errlen) || cfg_str(cfg, "activation", "gelu", path, err, errlen))
		return -1;
	if (m->d_model % m->n_heads) {
		snprintf(err, errlen, "%s: __metadata__.config: d_model %d is not a multiple of n_heads %d", path, m->d_model,
			 m->n_heads);
		return -1;
	}
	m->d_head = m->d_model / m->n_heads;
	const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "ln_eps");
	if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0) || eps->valuedouble > 1) {
		snprintf(err, errlen, "%s: __metadata__.config.ln_eps must be a number in (0, 1]", path);
		return -1;
	}
	m->ln_eps = (float)eps->valuedouble;
	m->bos = m->eos = -1;
	if (enc && (cfg_int(cfg, "bos", 0, m->vocab - 1, &m->bos, path, err, errlen) ||
		    cfg_int(cfg, "eos", 0, m->vocab - 1, &m->eos, path, err, errlen) ||
		    cfg_str(cfg, "pool", "mean", path, err, errlen)))
		return -1;
	int d = m->d_model, out = enc ? m->base.nclasses : m->vocab;
	m->base.nlayers = m->base.nq = 4 * m->n_layers + 1;
	m->base.layers = calloc((size_t)m->base.nlayers, sizeof *m->base.layers);
	m->blocks = calloc((size_t)m->n_layers, sizeof *m->blocks);
	if (!m->base.layers || !m->blocks) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (!(m->tok_emb = take(ld, "tok_emb.weight", m->vocab, d)) ||
	    !(m->pos_emb = take(ld, "pos_emb.weight", m->context, d)))
		return -1;
	for (int l = 0; l < m->n_layers; l++) {
		eng_xblock *b = &m->blocks[l];
		eng_layer *L = &m->base.layers[4 * l];
		char p[24], ln[32], w[64], bn[64];
		snprintf(p, sizeof p, "blocks.%d", l);
		static const char *const sub[] = {"attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"};
		const int outs[] = {3 * d, d, m->d_ff, d}, ins[] = {d, d, d, m->d_ff};
		snprintf(ln, sizeof ln, "%s.ln1", p);
		if (take_ln(ld, &b->ln1, ln, d))
			return -1;
		snprintf(ln, sizeof ln, "%s.ln2", p);
		if (take_ln(ld, &b->ln2, ln, d))
			return -1;
		for (int j = 0; j < 4; j++) {
			char lname[48];
			snprintf(lname, sizeof lname, "%s.%s", p, sub[j]);
			snprintf(w, sizeof w, "%s.weight", lname);
			snprintf(bn, sizeof bn, "%s.bias", lname);
			if (strlen(lname) >= sizeof L->name) {
				snprintf(err, errlen, "%s: layer name %s is too long", path, lname);
				return -1;
			}
			if (bind_linear(ld, &L[j], 4 * l + j, lname, w, bn, outs[j], ins[j]))
				return -1;
		}
		b->qkv = &L[0], b->proj = &L[1], b->fc1 = &L[2], b->fc2 = &L[3];
	}
	if (take_ln(ld, &m->ln_f, "ln_f", d))
		return -1;
	m->head = &m->base.layers[4 * m->n_layers];
	return bind_linear(ld, m->head, 4 * m->n_layers, "head", "head.weight", "head.bias", out, d);
}

static int load_rnn(eng_seq_model *m, loader *ld, const cJSON *cfg)
{
	const char *path = ld->path;
	char *err = ld->err;
	size_t errlen = ld->errlen;
	if (cfg_int(cfg, "vocab", 1, 1 << 20, &m->vocab, path, err, errlen) ||
	    cfg_int(cfg, "emb", 1, 8192, &m->emb, path, err, errlen) ||
	    cfg_int(cfg, "hidden", 1, 8192, &m->hidden, path, err, errlen) ||
	    cfg_int(cfg, "n_layers", 1, 16, &m->n_layers, path, err, errlen) || cfg_str(cfg, "cell", "gru", path, err, errlen))
		return -1;
	m->bos = m->eos = -1;
	int H = m->hidden;
	m->base.nlayers = m->base.nq = 2 * m->n_layers + 1;
	m->base.layers = calloc((size_t)m->base.nlayers, sizeof *m->base.layers);
	m->gru = calloc((size_t)m->n_layers, sizeof *m->gru);
	if (!m->base.layers || !m->gru) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (!(m->tok_emb = take(ld, "tok_emb.weight", m->vocab, m->emb)))
		return -1;
	for (int l = 0; l < m->n_layers; l++) {
		char ln[32], w[48], b[48];
		eng_layer *L = &m->base.layers[2 * l];
		snprintf(ln, sizeof ln, "gru.ih_l%d", l);
		snprintf(w, sizeof w, "gru.weight_ih_l%d", l);
		snprintf(b, sizeof b, "gru.bias_ih_l%d", l);
		if (bind_linear(ld, &L[0], 2 * l, ln, w, b, 3 * H, l ? H : m->emb))
			return -1;
		snprintf(ln, sizeof ln, "gru.hh_l%d", l);
		snprintf(w, sizeof w, "gru.weight_hh_l%d", l);
		snprintf(b, sizeof b, "gru.bias_hh_l%d", l);
		if (bind_linear(ld, &L[1], 2 * l + 1, ln, w, b, 3 * H, H))
			return -1;
		m->gru[l].ih = &L[0], m->gru[l].hh = &L[1];
	}
	m->head = &m->base.layers[2 * m->n_layers];
	return bind_linear(ld, m->head, 2 * m->n_layers, "head", "head.weight", "head.bias", m->vocab, H);
}

static const struct {
	const char *family;
	eng_seq_kind kind;
} kinds[] = {{"encoder", ENG_SEQ_ENCODER}, {"decoder", ENG_SEQ_DECODER}, {"rnn", ENG_SEQ_RNN}};

eng_seq_model *eng_seq_load(const char *path, char *err, size_t errlen)
{
	eng_st *st = eng_st_load(path, err, errlen);
	if (!st)
		return NULL;
	eng_seq_model *m = calloc(1, sizeof *m);
	cJSON *cfg = NULL, *classes = NULL;
	if (!m) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	const char *fam = eng_st_meta(st, "family"), *name = eng_st_meta(st, "name"), *task = eng_st_meta(st, "task");
	const char *c = eng_st_meta(st, "config"), *cl = eng_st_meta(st, "classes"), *var = eng_st_meta(st, "variant");
	size_t k = 0;
	while (fam && k < sizeof kinds / sizeof *kinds && strcmp(kinds[k].family, fam) != 0)
		k++;
	if (!fam || k == sizeof kinds / sizeof *kinds) {
		snprintf(err, errlen, "%s: __metadata__.family is %s%s%s, not a sequence family (encoder, decoder, rnn)", path,
			 fam ? "'" : "", fam ? fam : "missing", fam ? "'" : "");
		goto fail;
	}
	m->kind = kinds[k].kind;
	if (!c || !(cfg = cJSON_Parse(c)) || !cJSON_IsObject(cfg)) {
		snprintf(err, errlen, "%s: __metadata__.config is missing or not a JSON object", path);
		goto fail;
	}
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(cfg, "kind");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, fam) != 0) {
		snprintf(err, errlen, "%s: __metadata__.config.kind must be \"%s\" (the file's family)", path, fam);
		goto fail;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	m->base.path = strdup(path);
	m->base.name = strdup(name ? name : base);
	m->base.family = strdup(fam);
	m->base.task = strdup(task ? task : m->kind == ENG_SEQ_ENCODER ? "sequence classification" : "next-byte prediction");
	m->variant = var ? strdup(var) : NULL;
	if (!m->base.path || !m->base.name || !m->base.family || !m->base.task || (var && !m->variant)) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	snprintf(m->base.sha256, sizeof m->base.sha256, "%s", eng_st_sha256(st));
	m->base.file_bytes = eng_st_file_bytes(st);
	if (m->kind == ENG_SEQ_ENCODER) {
		int nc = cl && (classes = cJSON_Parse(cl)) && cJSON_IsArray(classes) ? cJSON_GetArraySize(classes) : 0;
		if (nc < 2) {
			snprintf(err, errlen, "%s: __metadata__.classes must list at least two class names (an encoder classifies)", path);
			goto fail;
		}
		m->base.classes = calloc((size_t)nc, sizeof *m->base.classes);
		if (!m->base.classes) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		m->base.nclasses = nc;
		for (int i = 0; i < nc; i++) {
			const cJSON *v = cJSON_GetArrayItem(classes, i);
			if (!cJSON_IsString(v) || !(m->base.classes[i] = strdup(v->valuestring))) {
				snprintf(err, errlen, "%s: __metadata__.classes[%d] is not a string", path, i);
				goto fail;
			}
		}
	}
	loader ld = {st, path, err, errlen, calloc(eng_st_count(st) + 1, 1), 0};
	if (!ld.seen) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	int bad = m->kind == ENG_SEQ_RNN ? load_rnn(m, &ld, cfg) : load_transformer(m, &ld, cfg);
	for (size_t i = 0; !bad && i < eng_st_count(st); i++)
		if (!ld.seen[i]) {
			snprintf(err, errlen, "%s: tensor '%s' is not part of the %s model its config describes", path,
				 eng_st_at(st, i)->name, fam);
			bad = 1;
		}
	free(ld.seen);
	if (bad)
		goto fail;
	m->base.params = ld.params;
	m->base.out_dim = m->kind == ENG_SEQ_ENCODER ? m->base.nclasses : m->vocab;
	cJSON_Delete(cfg), cJSON_Delete(classes);
	eng_st_destroy(st);
	return m;
fail:
	cJSON_Delete(cfg), cJSON_Delete(classes);
	eng_st_destroy(st);
	eng_seq_destroy(m);
	return NULL;
}

int eng_seq_file_family(const char *path, char *family, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		return -1;
	}
	unsigned char h8[8];
	uint64_t hlen = 0;
	int st = -1;
	char *hdr = NULL;
	cJSON *j = NULL;
	if (fread(h8, 1, 8, f) != 8) {
		snprintf(err, errlen, "%s: too short for a safetensors file (8-byte header length missing)", path);
		goto out;
	}
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | h8[i];
	if (hlen > (UINT64_C(1) << 26) || !(hdr = malloc((size_t)hlen + 1)) || fread(hdr, 1, (size_t)hlen, f) != hlen) {
		snprintf(err, errlen, "%s: header length %llu at byte 0 is not readable", path, (unsigned long long)hlen);
		goto out;
	}
	hdr[hlen] = 0;
	if (!(j = cJSON_Parse(hdr)) || !cJSON_IsObject(j)) {
		snprintf(err, errlen, "%s: header is not a JSON object", path);
		goto out;
	}
	const cJSON *fam = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "__metadata__"), "family");
	snprintf(family, len, "%s", cJSON_IsString(fam) ? fam->valuestring : "cnn");
	st = 0;
out:
	cJSON_Delete(j);
	free(hdr);
	fclose(f);
	return st;
}
