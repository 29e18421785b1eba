/* SPDX-License-Identifier: GPL-3.0-or-later */
/* run.c - sessions and runs: the (throughput, accuracy delta) pair per
 * stratum for one recipe, as the SPEC §3 object.
 *
 * DESIGN: a session loads one model and its family's data once and caches
 * what does not depend on the recipe: the fp32 reference predictions on the
 * evaluation set, and calibration observers per (set, size, seed).  The
 * observers keep full histograms, so any calibration method and any weight
 * format reuse them; only the quantization, the quantized evaluation and
 * the benchmark run for a new recipe.  Families plug in through
 * `sess_family` (data, calibration sets, strata, forward pass): `cnn` here,
 * the sequence families in fam_text.c (`encoder`) and fam_lm.c (`decoder`
 * and `rnn`, language models: per-token samples with a real value each,
 * see sess_family.lm).
 * The session's insides are in eng_session_impl.h, shared with
 * sensitivity.c and search.c, which build on the functions marked sess_
 * here (reference, calibration, parallel prediction over the lanes).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eng_report.h"
#include "eng_seq.h"
#include "eng_session_impl.h"

#define BENCH_BATCH 64
#define BENCH_REPEATS 5
#define AGREE_N 1000 /* samples on which the kernels are checked against fake-quant */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

int sess_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws, char *err,
		 size_t errlen)
{
	return s->fam->forward(s, be, batch, x, logits, ws, err, errlen);
}

int sess_lane_chunk(int chunk, int start, int count, int lane, int nlanes, int k, int *b, int *nb)
{
	long c = lane + (long)k * nlanes, first = start + c * chunk;
	if (first >= (long)start + count)
		return -1;
	*b = (int)first;
	*nb = start + count - *b < chunk ? start + count - *b : chunk;
	return 0;
}

int sess_sample_floats(const eng_session *s)
{
	return s->m->in_c * s->m->in_h * s->m->in_w;
}

double sess_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* ------------------------------------------------------------- cnn family */

static const char *const cnn_calib_sets[] = {"representative", "small", "mismatched", "shifted", NULL};
static const char *const cnn_strata[] = {"class", NULL};
static const char *const cnn_metrics[] = {"top1", "macro-f1", "ece", NULL};
/* Classes of the `mismatched` set: trouser, sandal and bag look nothing
 * like the tops, so activation ranges learned on them miss most of the
 * test distribution. */
static const int mismatched_classes[] = {1, 5, 8};

static float *normalise(const eng_model *m, const uint8_t *px, size_t count, float *out)
{
	for (size_t i = 0; i < count; i++)
		out[i] = ((float)px[i] / 255.0f - m->mean) / m->std;
	return out;
}

static int cnn_load(eng_session *s, char *err, size_t errlen)
{
	eng_idx img, lab, timg, tlab;
	int pix = s->m->in_c * s->m->in_h * s->m->in_w;
	if (eng_idx_load(FASHION_DIR "/t10k-images-idx3-ubyte.gz", &img, err, errlen))
		return -1;
	if (eng_idx_load(FASHION_DIR "/t10k-labels-idx1-ubyte.gz", &lab, err, errlen)) {
		eng_idx_done(&img);
		return -1;
	}
	if (img.ndim != 3 || (int)(img.dims[1] * img.dims[2]) != pix || lab.ndim != 1 || lab.dims[0] != img.dims[0]) {
		snprintf(err, errlen, FASHION_DIR ": test images (%u) and labels (%u) do not fit the model's %dx%d input",
			 img.dims[0], lab.dims[0], s->m->in_h, s->m->in_w);
		eng_idx_done(&img), eng_idx_done(&lab);
		return -1;
	}
	if (eng_idx_load(FASHION_DIR "/train-images-idx3-ubyte.gz", &timg, err, errlen)) {
		eng_idx_done(&img), eng_idx_done(&lab);
		return -1;
	}
	if (eng_idx_load(FASHION_DIR "/train-labels-idx1-ubyte.gz", &tlab, err, errlen) || timg.ndim != 3 ||
	    (int)(timg.dims[1] * timg.dims[2]) != pix || tlab.dims[0] != timg.dims[0]) {
		if (!*err)
			snprintf(err, errlen, FASHION_DIR ": train images and labels do not match");
		eng_idx_done(&img), eng_idx_done(&lab), eng_idx_done(&timg), eng_idx_done(&tlab);
		return -1;
	}
	int n = (int)img.dims[0];
	if (s->n > 0 && s->n < n)
		n = s->n;
	s->n = n;
	s->x = malloc((size_t)n * pix * sizeof *s->x);
	s->label = malloc((size_t)n * sizeof *s->label);
	if (!s->x || !s->label) {
		snprintf(err, errlen, "out of memory for %d evaluation images", n);
		eng_idx_done(&img), eng_idx_done(&lab), eng_idx_done(&timg), eng_idx_done(&tlab);
		return -1;
	}
	normalise(s->m, img.data, (size_t)n * pix, s->x);
	for (int i = 0; i < n; i++)
		s->label[i] = lab.data[i] < s->m->nclasses ? lab.data[i] : 0;
	/* low-contrast stratum needs the raw pixels: computed here */
	double *sd = malloc((size_t)n * sizeof *sd);
	if (!sd) {
		snprintf(err, errlen, "out of memory");
		eng_idx_done(&img), eng_idx_done(&lab), eng_idx_done(&timg), eng_idx_done(&tlab);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		double a = 0, a2 = 0;
		for (int j = 0; j < pix; j++) {
			double v = img.data[(size_t)i * pix + j];
			a += v, a2 += v * v;
		}
		a /= pix;
		sd[i] = sqrt(fmax(a2 / pix - a * a, 0));
	}
	s->pixel_sd = sd;
	snprintf(s->eval_desc, sizeof s->eval_desc,
		 "Fashion-MNIST test split (%d of 10000 images, file order), Debian dataset-fashion-mnist", n);
	s->train_img = timg;
	s->train_lab = tlab;
	eng_idx_done(&img), eng_idx_done(&lab);
	return 0;
}

static int cmp_sd(const void *a, const void *b)
{
	double x = **(const double *const *)a, y = **(const double *const *)b;
	return (x > y) - (x < y);
}

static int cnn_strata_build(eng_session *s, char *err, size_t errlen)
{
	int nc = s->m->nclasses, n = s->n;
	double *sd = s->pixel_sd; /* only the low-contrast stratum needs it */
	s->pixel_sd = NULL;
	s->strata = calloc((size_t)nc + 2, sizeof *s->strata);
	const double **order = malloc((size_t)n * sizeof *order);
	if (!s->strata || !order) {
		free(order), free(sd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->nstrata = nc + 2;
	for (int i = 0; i < s->nstrata; i++) {
		s->strata[i].idx = malloc((size_t)n * sizeof(int));
		if (!s->strata[i].idx) {
			free(order), free(sd);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	snprintf(s->strata[0].name, sizeof s->strata[0].name, "all");
	for (int c = 0; c < nc; c++)
		snprintf(s->strata[1 + c].name, sizeof s->strata[1 + c].name, "%s", s->m->classes[c]);
	snprintf(s->strata[nc + 1].name, sizeof s->strata[nc + 1].name, "low-contrast");
	for (int i = 0; i < n; i++) {
		s->strata[0].idx[s->strata[0].n++] = i;
		sess_stratum *c = &s->strata[1 + s->label[i]];
		c->idx[c->n++] = i;
		order[i] = &sd[i];
	}
	/* lowest decile of per-image pixel standard deviation */
	qsort(order, (size_t)n, sizeof *order, cmp_sd);
	sess_stratum *lc = &s->strata[nc + 1];
	for (int i = 0; i < (n + 9) / 10; i++)
		lc->idx[lc->n++] = (int)(order[i] - sd);
	free(order), free(sd);
	return 0;
}

/* Partial Fisher-Yates: the first `n` of a seeded permutation of `pool`. */
static void draw(int *pool, int npool, int n, uint64_t seed)
{
	uint64_t st = seed;
	for (int i = 0; i < n && i < npool; i++) {
		int j = i + (int)eng_rng_below(&st, (uint32_t)(npool - i));
		int t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
}

static int cnn_calib_draw(eng_session *s, const char *set, int n, uint64_t seed, float **xout, char *err, size_t errlen)
{
	int total = (int)s->train_img.dims[0], pix = s->m->in_c * s->m->in_h * s->m->in_w, npool = 0;
	int *pool = malloc((size_t)total * sizeof *pool);
	float *x = NULL;
	if (!pool)
		goto oom;
	int mism = strcmp(set, "mismatched") == 0, shifted = strcmp(set, "shifted") == 0;
	for (int i = 0; i < total; i++) {
		int c = s->train_lab.data[i], keep = 1;
		if (mism)
			keep = c == mismatched_classes[0] || c == mismatched_classes[1] || c == mismatched_classes[2];
		if (keep)
			pool[npool++] = i;
	}
	if (n > npool) {
		snprintf(err, errlen, "--calib-set %s:%d: the set has only %d images", set, n, npool);
		free(pool);
		return -1;
	}
	draw(pool, npool, n, seed);
	x = malloc((size_t)n * pix * sizeof *x);
	uint8_t *px = malloc((size_t)pix);
	if (!x || !px) {
		free(px);
		goto oom;
	}
	for (int i = 0; i < n; i++) {
		const uint8_t *src = s->train_img.data + (size_t)pool[i] * pix;
		for (int j = 0; j < pix; j++) {
			/* shifted: contrast halved and brightness raised (x' = 0.5 x + 96) */
			px[j] = shifted ? (uint8_t)(0.5 * src[j] + 96.5) : src[j];
		}
		normalise(s->m, px, (size_t)pix, x + (size_t)i * pix);
	}
	free(px);
	free(pool);
	*xout = x;
	return 0;
oom:
	free(pool), free(x);
	snprintf(err, errlen, "out of memory drawing %d calibration images", n);
	return -1;
}

static int cnn_forward(eng_session *s, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		       char *err, size_t errlen)
{
	return eng_forward(s->m, be, batch, x, logits, ws, err, errlen);
}

cJSON *sess_model_info_base(const eng_model *m, const char *path, const char *variant)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", m->name);
	cJSON_AddStringToObject(o, "family", m->family);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "params", (double)m->params);
	cJSON_AddStringToObject(o, "task", m->task);
	if (variant)
		cJSON_AddStringToObject(o, "variant", variant);
	return o;
}

static cJSON *cnn_model_info(const char *path, char *err, size_t errlen)
{
	eng_model *m = eng_model_load(path, err, errlen);
	if (!m)
		return NULL;
	cJSON *o = sess_model_info_base(m, path, NULL);
	cJSON *st = cJSON_AddArrayToObject(o, "strata");
	cJSON_AddItemToArray(st, cJSON_CreateString("all"));
	for (int c = 0; c < m->nclasses; c++)
		cJSON_AddItemToArray(st, cJSON_CreateString(m->classes[c]));
	cJSON_AddItemToArray(st, cJSON_CreateString("low-contrast"));
	eng_model_destroy(m);
	return o;
}

static const char *const cnn_models[] = {"cnn-fashion", NULL};

static const sess_family cnn_family = {
	.name = "cnn",
	.default_model = "cnn-fashion",
	.calib_sets = cnn_calib_sets,
	.calib_desc = "representative: a uniform random draw (seeded, without replacement) of N train-split images; "
		      "small: the same with N = 16; mismatched: a draw from the train images of only three classes "
		      "(trouser, sandal, bag); shifted: a representative draw with contrast halved and brightness raised "
		      "(x' = 0.5 x + 96)",
	.strata_kinds = cnn_strata,
	.default_metric = ENG_METRIC_TOP1,
	.metrics = cnn_metrics,
	.load = cnn_load,
	.calib_draw = cnn_calib_draw,
	.build_strata = cnn_strata_build,
	.forward = cnn_forward,
	.replayable = 1,
	.models = cnn_models,
	.model_info = cnn_model_info,
};

/* The one family table: every path from a model file to its data, strata,
 * calibration and forward pass goes through it.  A model file's family is
 * its __metadata__.family (eng_seq_file_family; "cnn" when absent). */
static const sess_family *const families[] = {&cnn_family, &sess_family_encoder, &sess_family_decoder,
					       &sess_family_rnn};
#define NFAMILIES (sizeof families / sizeof *families)

static const sess_family *family_get(const char *name)
{
	for (size_t i = 0; i < NFAMILIES; i++)
		if (strcmp(families[i]->name, name) == 0)
			return families[i];
	return NULL;
}

/* ------------------------------------------------------------ data dir */

const char *eng_data_dir(void)
{
	const char *env = getenv("PRECIS_DATA_DIR");
	if (env && *env)
		return env;
	if (access(PRECIS_SRCDIR "/data/models", R_OK) == 0)
		return PRECIS_SRCDIR "/data";
	return PRECIS_DATADIR;
}

static int resolve_model(const char *model, char *path, size_t len)
{
	if (strchr(model, '/') || strstr(model, ".safetensors")) {
		snprintf(path, len, "%s", model);
		return 0;
	}
	snprintf(path, len, "%s/models/%s.safetensors", eng_data_dir(), model);
	return access(path, R_OK) == 0 ? 0 : -1;
}

/* --------------------------------------------------------------- session */

void eng_session_destroy(eng_session *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nstrata; i++)
		free(s->strata[i].idx);
	free(s->strata);
	for (int i = 0; i < s->ncalib; i++)
		free(s->calib[i].obs);
	eng_idx_done(&s->train_img);
	eng_idx_done(&s->train_lab);
	free(s->x), free(s->label), free(s->pred_ref), free(s->conf_ref), free(s->value_ref), free(s->lp_ref), free(s->ws), free(s->pixel_sd), free(s->cluster);
	sess_sens_cache_clear(s);
	for (int i = 0; s->lanes && i < s->nlanes; i++) {
		eng_qrunner_destroy(s->lanes[i].qr);
		kq_ctx_destroy(s->lanes[i].ctx1);
		free(s->lanes[i].ws), free(s->lanes[i].logits);
	}
	free(s->lanes);
	kq_ctx_destroy(s->ctx);
	if (s->fam && s->fam->close)
		s->fam->close(s);
	else
		eng_model_destroy(s->m);
	free(s);
}

static int ensure_ws(eng_session *s, int batch)
{
	size_t need = eng_forward_ws_floats(s->m, batch);
	if (need <= s->wscap)
		return 0;
	free(s->ws);
	s->ws = malloc(need * sizeof *s->ws);
	s->wscap = s->ws ? need : 0;
	return s->ws ? 0 : -1;
}

void sess_argmax_conf(const float *logits, int nc, int *pred, float *conf)
{
	int best = 0;
	for (int j = 1; j < nc; j++)
		best = logits[j] > logits[best] ? j : best;
	double sum = 0;
	for (int j = 0; j < nc; j++)
		sum += exp((double)logits[j] - logits[best]);
	*pred = best;
	*conf = (float)(1.0 / sum);
}

typedef struct {
	eng_session *s;
	sess_run_kind kind;
	int start, count; /* the block: samples [start, start + count) */
	int *pred;
	float *conf;
	float *value; /* language models: -log2 p(label) per sample, or NULL */
	float *kld;   /* with value: KL(reference || this run) in bits per sample, from s->lp_ref, or NULL */
	int failed;
} lane_job;

static eng_backend lane_backend(sess_lane *l, sess_run_kind kind)
{
	return kind == SESS_RUN_F32 ? eng_backend_f32(l->ctx1) : kind == SESS_RUN_QUANT ? eng_backend_quant(l->qr) : eng_backend_fake(l->qr);
}

static void lane_task(void *arg, int i, int n)
{
	lane_job *j = arg;
	eng_session *s = j->s;
	sess_lane *l = &s->lanes[i];
	int pix = s->m->in_c * s->m->in_h * s->m->in_w, nc = s->m->out_dim;
	eng_backend be = lane_backend(l, j->kind);
	int b, nb;
	for (int k = 0; !j->failed; k++) {
		if (j->pred) {
			if (sess_lane_chunk(s->chunk, j->start, j->count, i, n, k, &b, &nb))
				break;
		} else { /* timing runs: the batch split evenly, so every lane is busy */
			b = j->start + (int)((long)j->count * i / n);
			nb = j->start + (int)((long)j->count * (i + 1) / n) - b;
			if (k > 0 || nb <= 0)
				break;
		}
		if (sess_forward(s, &be, nb, s->x + (size_t)b * pix, l->logits, l->ws, l->err, sizeof l->err)) {
			j->failed = 1;
			return;
		}
		for (int t = 0; j->pred && t < nb; t++) {
			float dummy;
			sess_argmax_conf(l->logits + (size_t)t * nc, nc, &j->pred[b + t], j->conf ? &j->conf[b + t] : &dummy);
			if (j->value) { /* log-sum-exp from the largest logit */
				const float *z = l->logits + (size_t)t * nc;
				double sum = 0, top = z[j->pred[b + t]];
				for (int c = 0; c < nc; c++)
					sum += exp((double)z[c] - top);
				double lse = log(sum) + top;
				j->value[b + t] = (float)((lse - z[s->label[b + t]]) / log(2.0));
				float *lr = s->lp_ref ? s->lp_ref + (size_t)(b + t) * nc : NULL;
				if (lr && j->kind == SESS_RUN_F32 && !j->kld) { /* the reference: keep its log-probs */
					for (int c = 0; c < nc; c++)
						lr[c] = (float)(z[c] - lse);
				} else if (lr && j->kld) {
					double kl = 0;
					for (int c = 0; c < nc; c++)
						kl += exp((double)lr[c]) * ((double)lr[c] - (z[c] - lse));
					j->kld[b + t] = (float)(kl > 0 ? kl / log(2.0) : 0.0);
				}
			}
		}
	}
}

/* Runs samples [0, count) through every lane, writing predictions (pred
 * may be NULL for timing runs) and, when value is not NULL, -log2 of the
 * probability of each sample's label (language models). */
static int predict_v(eng_session *s, sess_run_kind kind, int count, int *pred, float *conf, float *value, float *kld,
		     eng_stage_fn progress, void *user, const char *stage, volatile int *cancel, char *err, size_t errlen)
{
	int block = s->chunk * s->nlanes;
	for (int b = 0; b < count; b += block) {
		if (cancel && *cancel) {
			snprintf(err, errlen, "cancelled");
			return -1;
		}
		lane_job j = {s, kind, b, count - b < block ? count - b : block, pred, conf, pred ? value : NULL,
			      pred && value ? kld : NULL, 0};
		kq_parallel(s->ctx, s->nlanes, lane_task, &j);
		if (j.failed) {
			for (int i = 0; i < s->nlanes; i++)
				if (s->lanes[i].err[0]) {
					snprintf(err, errlen, "%s", s->lanes[i].err);
					break;
				}
			return -1;
		}
		if (progress)
			progress(user, stage, (double)(b + j.count) / count);
	}
	return 0;
}

int sess_predict_values(eng_session *s, sess_run_kind kind, int count, int *pred, float *conf, float *value,
			eng_stage_fn progress, void *user, const char *stage, volatile int *cancel, char *err, size_t errlen)
{
	return predict_v(s, kind, count, pred, conf, value, NULL, progress, user, stage, cancel, err, errlen);
}

int sess_paired(const eng_session *s, const sess_stratum *st, const eng_preds *q, eng_paired *pr)
{
	eng_preds ref = {s->pred_ref, s->conf_ref, s->value_ref};
	int nc = s->m->out_dim;
	if (!s->fam->lm)
		return eng_paired_bootstrap(s->metric, st->idx, st->n, s->label, &ref, q, nc, s->resamples, s->seed, pr);
	if (eng_paired_bootstrap(s->metric, st->idx, st->n, s->label, &ref, q, nc, 0, s->seed, pr))
		return -1;
	float *d = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *d);
	if (!d)
		return -1;
	for (int k = 0; k < st->n; k++) {
		int j = st->idx[k];
		d[j] = s->metric == ENG_METRIC_BPC && q->value ? q->value[j] - s->value_ref[j]
							       : (float)((q->pred[j] == s->label[j]) - (ref.pred[j] == s->label[j]));
	}
	double m;
	int rc = eng_mean_bootstrap(d, st->idx, st->n, s->cluster, s->resamples, s->seed, &m, &pr->lo, &pr->hi);
	free(d);
	return rc;
}

int sess_predict(eng_session *s, sess_run_kind kind, int count, int *pred, float *conf, eng_stage_fn progress,
		 void *user, const char *stage, volatile int *cancel, char *err, size_t errlen)
{
	return predict_v(s, kind, count, pred, conf, NULL, NULL, progress, user, stage, cancel, err, errlen);
}

static int lanes_create(eng_session *s)
{
	s->nlanes = s->threads;
	s->lanes = calloc((size_t)s->nlanes, sizeof *s->lanes);
	if (!s->lanes)
		return -1;
	size_t ws = eng_forward_ws_floats(s->m, s->chunk);
	for (int i = 0; i < s->nlanes; i++) {
		sess_lane *l = &s->lanes[i];
		l->ctx1 = kq_ctx_create(1);
		l->ws = malloc(ws * sizeof *l->ws);
		l->logits = malloc((size_t)s->chunk * s->m->out_dim * sizeof *l->logits);
		if (!l->ctx1 || !l->ws || !l->logits)
			return -1;
	}
	return 0;
}

/* Gives every lane a runner for qm (NULL: drops them). */
int sess_lanes_bind(eng_session *s, eng_qmodel *qm)
{
	int st = 0;
	for (int i = 0; i < s->nlanes; i++) {
		eng_qrunner_destroy(s->lanes[i].qr);
		s->lanes[i].qr = qm ? eng_qrunner_create(qm, s->lanes[i].ctx1) : NULL;
		s->lanes[i].err[0] = 0;
		st |= qm && !s->lanes[i].qr;
	}
	return st ? -1 : 0;
}

eng_session *eng_session_create(const eng_session_opts *o, char *err, size_t errlen)
{
	char path[1024];
	const char *model = o->model ? o->model : "cnn-fashion";
	if (resolve_model(model, path, sizeof path)) {
		snprintf(err, errlen, "--model: '%s' is not a shipped model (see precis models) nor a file path", model);
		return NULL;
	}
	eng_session *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->seed = o->seed;
	s->resamples = o->resamples > 0 ? o->resamples : 1000;
	s->n = o->eval_n;
	char famname[64];
	if (eng_seq_file_family(path, famname, sizeof famname, err, errlen))
		goto fail;
	if (!(s->fam = family_get(famname))) {
		snprintf(err, errlen, "%s: family '%s' is not supported yet", path, famname);
		goto fail;
	}
	if (s->fam->open ? s->fam->open(s, path, err, errlen) : !(s->m = eng_model_load(path, err, errlen)))
		goto fail;
	s->metric = s->fam->default_metric;
	if (o->metric) {
		int found = 0;
		char names[128] = "";
		for (const char *const *c = s->fam->metrics; *c; c++) {
			found |= strcmp(*c, o->metric) == 0;
			strncat(names, c == s->fam->metrics ? "" : ", ", sizeof names - strlen(names) - 1);
			strncat(names, *c, sizeof names - strlen(names) - 1);
		}
		if (!found || eng_metric_parse(o->metric, &s->metric)) {
			snprintf(err, errlen, "--metric: '%s' is not one of %s", o->metric, names);
			goto fail;
		}
	}
	snprintf(s->strata_kind, sizeof s->strata_kind, "%s", s->fam->strata_kinds[0]);
	if (o->strata) {
		int found = 0;
		for (const char *const *k = s->fam->strata_kinds; *k; k++)
			found |= strcmp(*k, o->strata) == 0;
		if (!found) {
			snprintf(err, errlen, "--strata: '%s' is not a stratification of the %s family (%s)", o->strata,
				 s->fam->name, s->fam->strata_kinds[0]);
			goto fail;
		}
		snprintf(s->strata_kind, sizeof s->strata_kind, "%s", o->strata);
	}
	if (!(s->ctx = kq_ctx_create(o->threads))) {
		snprintf(err, errlen, "cannot start worker threads");
		goto fail;
	}
	s->threads = kq_ctx_threads(s->ctx);
	s->chunk = SESS_LANE_BATCH;
	if (s->fam->load(s, err, errlen) || s->fam->build_strata(s, err, errlen))
		goto fail;
	if (s->fam->lm) {
		if (!(s->cluster = malloc((size_t)s->n * sizeof *s->cluster))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (int i = 0; i < s->n; i++)
			s->cluster[i] = i / s->chunk;
	}
	if (lanes_create(s)) {
		snprintf(err, errlen, "out of memory for %d worker lanes", s->threads);
		goto fail;
	}
	return s;
fail:
	eng_session_destroy(s);
	return NULL;
}

const char *eng_session_metric(const eng_session *s)
{
	return eng_metric_get(s->metric)->name;
}

/* ------------------------------------------------------------ calibration */

int sess_needs_calibration(const eng_recipe *r)
{
	return (r->acts != KQ_FMT_F32 && !(r->acts == KQ_FMT_I8 && r->act_token)) || r->smooth > 0;
}

int sess_calib_spec(const eng_session *s, const eng_recipe *r, char set[32], int *n, char *err, size_t errlen)
{
	int found = 0;
	char names[256] = "";
	for (const char *const *c = s->fam->calib_sets; *c; c++) {
		found |= strcmp(*c, r->calib_set) == 0;
		strncat(names, c == s->fam->calib_sets ? "" : ", ", sizeof names - strlen(names) - 1);
		strncat(names, *c, sizeof names - strlen(names) - 1);
	}
	if (!found) {
		snprintf(err, errlen, "--calib-set: '%s' is not a calibration set of the %s family (%s)", r->calib_set,
			 s->fam->name, names);
		return -1;
	}
	snprintf(set, 32, "%s", r->calib_set);
	*n = strcmp(set, "small") == 0 ? 16 : r->calib_n;
	return 0;
}

int sess_calib_draw(eng_session *s, const eng_recipe *r, float **x, int *n, char *err, size_t errlen)
{
	char set[32];
	if (sess_calib_spec(s, r, set, n, err, errlen))
		return -1;
	return s->fam->calib_draw(s, set, *n, s->seed, x, err, errlen);
}

const eng_observer *sess_calibrate(eng_session *s, const eng_recipe *r, volatile int *cancel, eng_stage_fn progress,
				   void *user, int *fresh, char *err, size_t errlen)
{
	char set[32];
	int n;
	if (fresh)
		*fresh = 0;
	if (sess_calib_spec(s, r, set, &n, err, errlen))
		return NULL;
	for (int i = 0; i < s->ncalib; i++)
		if (!strcmp(s->calib[i].set, set) && s->calib[i].n == n && s->calib[i].seed == s->seed &&
		    s->calib[i].obs[0].smooth == (r->smooth > 0 ? r->smooth : 0))
			return s->calib[i].obs;
	float *x = NULL;
	if (s->fam->calib_draw(s, set, n, s->seed, &x, err, errlen))
		return NULL;
	if (fresh)
		*fresh = 1;
	eng_observer *obs = eng_qmodel_observers_create(s->m); /* one block: free() */
	int pix = s->m->in_c * s->m->in_h * s->m->in_w, nc = s->m->out_dim;
	/* whole windows per call: a language model's state starts at each call */
	int cb = s->chunk > SESS_BATCH ? s->chunk : SESS_BATCH;
	float *logits = malloc((size_t)cb * nc * sizeof *logits);
	if (!obs || !logits || ensure_ws(s, cb)) {
		free(obs), free(logits), free(x);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* one thread: a multi-threaded OpenBLAS call here would leave its workers
	 * spinning (sched_yield) through the parallel passes that follow */
	eng_observe_state os = {obs, s->lanes[0].ctx1};
	eng_backend be = eng_backend_observe(&os);
	for (int pass = 1; pass <= 2; pass++) {
		for (int b = 0; b < n; b += cb) {
			int nb = n - b < cb ? n - b : cb;
			if ((cancel && *cancel) || sess_forward(s, &be, nb, x + (size_t)b * pix, logits, s->ws, err, errlen)) {
				if (cancel && *cancel)
					snprintf(err, errlen, "cancelled");
				free(obs), free(logits), free(x);
				return NULL;
			}
			if (progress)
				progress(user, "calibrate", ((pass - 1) * n + b + nb) / (2.0 * n));
		}
		for (int i = 0; pass == 1 && i < s->m->nq; i++)
			eng_obs_next_pass(&obs[i]);
		if (pass == 1 && eng_qmodel_observers_smooth(s->m, r->smooth, obs, err, errlen)) {
			free(obs), free(logits), free(x);
			return NULL;
		}
	}
	free(logits), free(x);
	if (s->ncalib == SESS_MAX_CALIB) {
		free(s->calib[0].obs);
		memmove(s->calib, s->calib + 1, (SESS_MAX_CALIB - 1) * sizeof *s->calib);
		s->ncalib--;
	}
	sess_calib_entry *e = &s->calib[s->ncalib++];
	snprintf(e->set, sizeof e->set, "%s", set);
	e->n = n;
	e->seed = s->seed;
	e->obs = obs;
	return obs;
}

/* ------------------------------------------------------------- benchmark */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median samples/s of one kind of forward pass on the first BENCH_BATCH
 * samples, split across the lanes as in evaluation. */
static double bench(eng_session *s, sess_run_kind kind, char *err, size_t errlen)
{
	int batch = s->n < BENCH_BATCH ? s->n : BENCH_BATCH;
	double t[BENCH_REPEATS];
	if (sess_predict(s, kind, batch, NULL, NULL, NULL, NULL, "benchmark", NULL, err, errlen))
		return -1;
	double t0 = sess_now_ms();
	sess_predict(s, kind, batch, NULL, NULL, NULL, NULL, "benchmark", NULL, err, errlen);
	double one = sess_now_ms() - t0;
	int iters = one > 0 ? (int)(10.0 / one) + 1 : 1;
	for (int r = 0; r < BENCH_REPEATS; r++) {
		t0 = sess_now_ms();
		for (int i = 0; i < iters; i++)
			if (sess_predict(s, kind, batch, NULL, NULL, NULL, NULL, "benchmark", NULL, err, errlen))
				return -1;
		t[r] = (sess_now_ms() - t0) / iters;
	}
	qsort(t, BENCH_REPEATS, sizeof *t, cmp_double);
	return batch / (t[BENCH_REPEATS / 2] * 1e-3);
}

/* ------------------------------------------------------------------ eval */

const char *sess_wpath_name(eng_wpath p)
{
	static const char *const names[] = {"fp32 (OpenBLAS)", "int8 x int8 kernel", "int4 x int8 kernel",
					    "int4 x fp32 kernel", "float-format weight kernel", "dequantized fp32 (emulated)"};
	return p >= 0 && p < (int)(sizeof names / sizeof *names) ? names[p] : "?";
}

static cJSON *point(double ref, double quant)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "ref", ref);
	cJSON_AddNumberToObject(o, "quant", quant);
	cJSON_AddNumberToObject(o, "delta", quant - ref);
	return o;
}

static double r4(double v)
{
	return round(v * 1e6) / 1e6;
}

int sess_reference(eng_session *s, eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen)
{
	if (s->pred_ref)
		return 0;
	s->pred_ref = malloc((size_t)s->n * sizeof *s->pred_ref);
	s->conf_ref = malloc((size_t)s->n * sizeof *s->conf_ref);
	s->value_ref = s->fam->lm ? malloc((size_t)s->n * sizeof *s->value_ref) : NULL;
	s->lp_ref = s->fam->lm ? malloc((size_t)s->n * s->m->out_dim * sizeof *s->lp_ref) : NULL;
	double t0 = sess_now_ms();
	if (!s->pred_ref || !s->conf_ref || (s->fam->lm && (!s->value_ref || !s->lp_ref)) ||
	    predict_v(s, SESS_RUN_F32, s->n, s->pred_ref, s->conf_ref, s->value_ref, NULL, progress, user, "reference",
		      cancel, err, errlen)) {
		free(s->pred_ref), free(s->conf_ref), free(s->value_ref), free(s->lp_ref);
		s->pred_ref = NULL, s->conf_ref = NULL, s->value_ref = NULL, s->lp_ref = NULL;
		if (errlen && !*err)
			snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->ref_ms = sess_now_ms() - t0;
	return 0;
}

cJSON *sess_model_json(const eng_session *s)
{
	cJSON *mo = cJSON_CreateObject();
	cJSON_AddStringToObject(mo, "name", s->m->name);
	cJSON_AddStringToObject(mo, "family", s->m->family);
	cJSON_AddStringToObject(mo, "path", s->m->path);
	cJSON_AddStringToObject(mo, "sha256", s->m->sha256);
	cJSON_AddNumberToObject(mo, "params", (double)s->m->params);
	cJSON_AddStringToObject(mo, "task", s->m->task);
	if (s->variant)
		cJSON_AddStringToObject(mo, "variant", s->variant);
	return mo;
}

/* Mean of per-sample v over stratum st and its interval from resampling
 * whole evaluation windows (s->cluster).  0 or -1 (memory). */
static int lm_interval(const eng_session *s, const float *v, const sess_stratum *st, double *mean, double *lo,
		       double *hi)
{
	double m;
	return eng_mean_bootstrap(v, st->idx, st->n, s->cluster, s->resamples, s->seed, mean ? mean : &m, lo, hi);
}

/* The number of evaluation windows stratum st draws on (its samples are
 * in ascending order). */
static int lm_windows(const eng_session *s, const sess_stratum *st)
{
	int n = 0, last = -1;
	for (int k = 0; k < st->n; k++)
		if (st->idx[k] / s->chunk != last)
			last = st->idx[k] / s->chunk, n++;
	return n;
}

cJSON *sess_add_interval(cJSON *extra, const char *name, double v, double lo, double hi)
{
	cJSON *o = cJSON_AddObjectToObject(extra, name), *ci;
	if (!o || !cJSON_AddNumberToObject(o, "value", r4(v)) || !(ci = cJSON_AddArrayToObject(o, "ci95")))
		return NULL;
	cJSON_AddItemToArray(ci, cJSON_CreateNumber(r4(lo)));
	cJSON_AddItemToArray(ci, cJSON_CreateNumber(r4(hi)));
	return o;
}

cJSON *eng_session_eval(eng_session *s, const eng_recipe *r, eng_stage_fn progress, void *user, volatile int *cancel,
			char *err, size_t errlen)
{
	return eng_session_eval_ex(s, r, 0, progress, user, cancel, err, errlen);
}

cJSON *eng_session_eval_ex(eng_session *s, const eng_recipe *r, unsigned flags, eng_stage_fn progress, void *user,
			   volatile int *cancel, char *err, size_t errlen)
{
	double t_start = sess_now_ms(), t_calib = 0, t_quant = 0, t_eval = 0, t_bench = 0;
	int nc = s->m->out_dim;
	if (errlen)
		err[0] = 0; /* the fallback messages below test for an empty err */
	if (r->kv != KQ_FMT_F32 && !s->fam->kv_cache) {
		snprintf(err, errlen, "--kv %s: the %s family has no KV cache (decoder models only)", kq_fmt_get(r->kv)->name,
			 s->fam->name);
		return NULL;
	}
	if (r->attn != KQ_FMT_F32 && !s->fam->attention) {
		snprintf(err, errlen, "--attn %s: the %s family has no attention products (transformer models only)",
			 kq_fmt_get(r->attn)->name, s->fam->name);
		return NULL;
	}
	if (sess_reference(s, progress, user, cancel, err, errlen))
		return NULL;
	/* calibration (cached) */
	double t0 = sess_now_ms();
	const eng_observer *obs = NULL;
	if (sess_needs_calibration(r) && !(obs = sess_calibrate(s, r, cancel, progress, user, NULL, err, errlen)))
		return NULL;
	t_calib = sess_now_ms() - t0;
	t0 = sess_now_ms();
	if (progress)
		progress(user, "quantize", 0);
	eng_qmodel *qm = eng_qmodel_create(s->m, r, obs, err, errlen);
	if (!qm)
		return NULL;
	if (sess_lanes_bind(s, qm)) {
		eng_qmodel_destroy(qm);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t_quant = sess_now_ms() - t0;
	t0 = sess_now_ms();
	int *pq = malloc((size_t)s->n * sizeof *pq), *pf = malloc((size_t)s->n * sizeof *pf);
	float *cq = malloc((size_t)s->n * sizeof *cq), *vq = s->fam->lm ? malloc((size_t)s->n * sizeof *vq) : NULL;
	float *kq = s->fam->lm ? malloc((size_t)s->n * sizeof *kq) : NULL;
	double *ks = s->fam->lm ? malloc((size_t)s->n * sizeof *ks) : NULL;
	/* language models: per-sample differences (bpc, agreement,
	 * probability of the true token) */
	float *lmv = s->fam->lm ? malloc((size_t)s->n * 3 * sizeof *lmv) : NULL;
	cJSON *root = NULL;
	int agree_n = s->n < AGREE_N ? s->n : AGREE_N;
	if (!pq || !pf || !cq || (s->fam->lm && (!vq || !kq || !ks || !lmv))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->attn_int8 = r->attn == KQ_FMT_I8, s->kv = r->kv;
	if (sess_predict(s, SESS_RUN_FAKE, agree_n, pf, NULL, NULL, NULL, "evaluate", cancel, err, errlen) ||
	    predict_v(s, SESS_RUN_QUANT, s->n, pq, cq, vq, kq, progress, user, "evaluate", cancel, err, errlen))
		goto out;
	s->attn_int8 = 0, s->kv = KQ_FMT_F32;
	int agree = 0;
	for (int i = 0; i < agree_n; i++)
		agree += pq[i] == pf[i];
	eng_preds ref = {s->pred_ref, s->conf_ref, s->value_ref}, qu = {pq, cq, vq};
	float *dbpc = lmv, *same = lmv + s->n, *dp = lmv + 2 * (size_t)s->n;
	for (int i = 0; s->fam->lm && i < s->n; i++) {
		dbpc[i] = vq[i] - s->value_ref[i];
		same[i] = pq[i] == s->pred_ref[i];
		dp[i] = (float)(exp2(-(double)vq[i]) - exp2(-(double)s->value_ref[i]));
	}
	cJSON *strata = cJSON_CreateArray();
	const eng_metric_info *mi = eng_metric_get(s->metric);
	for (int i = 0; i < s->nstrata; i++) {
		const sess_stratum *st = &s->strata[i];
		eng_paired pr;
		if (sess_paired(s, st, &qu, &pr)) {
			cJSON_Delete(strata);
			snprintf(err, errlen, "out of memory in the bootstrap");
			goto out;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", st->name);
		cJSON_AddNumberToObject(o, "n", st->n);
		cJSON_AddNumberToObject(o, "ref", r4(pr.ref));
		cJSON_AddNumberToObject(o, "quant", r4(pr.quant));
		cJSON_AddNumberToObject(o, "delta", r4(pr.delta));
		cJSON *ci = cJSON_AddArrayToObject(o, "ci95");
		cJSON_AddItemToArray(ci, cJSON_CreateNumber(r4(pr.lo)));
		cJSON_AddItemToArray(ci, cJSON_CreateNumber(r4(pr.hi)));
		cJSON_AddNumberToObject(o, "flips", pr.flips);
		int loss = mi->higher_is_better ? pr.delta < 0 : pr.delta > 0;
		int excl = pr.lo > 0 || pr.hi < 0;
		int nowin = s->fam->lm && (isnan(pr.lo) || isnan(pr.hi)) && st->n > 0;
		cJSON_AddStringToObject(o, "verdict", st->n == 0 ? "no samples" : nowin ? "too few windows"
						  : !excl ? "within noise" : loss ? "loss" : "gain");
		if (nowin) {
			char note[160];
			int nw = lm_windows(s, st);
			snprintf(note, sizeof note, "%d evaluation window%s of %d tokens: an interval needs at least %d", nw,
				 nw == 1 ? "" : "s", s->chunk, ENG_MIN_CLUSTERS);
			cJSON_AddStringToObject(o, "ci_note", note);
		}
		cJSON *extra = cJSON_AddObjectToObject(o, "extra");
		/* the family's other metrics, in its order */
		for (const char *const *mn = s->fam->metrics; *mn; mn++) {
			eng_metric m;
			if (eng_metric_parse(*mn, &m) || m == s->metric)
				continue;
			cJSON_AddItemToObject(extra, *mn, point(eng_metric_eval(m, st->idx, st->n, s->label, &ref, nc),
								 eng_metric_eval(m, st->idx, st->n, s->label, &qu, nc)));
		}
		if (s->fam->lm && st->n > 0) {
			/* each with its window-cluster interval: perplexity ratio
			 * 2^(bpc_q - bpc_ref); the fraction of tokens whose greedy next
			 * token is the reference's; the change in the probability of
			 * the true token; KL(fp32 || quantized) of the next-byte
			 * distributions in bits per token, with its upper tail */
			double v, lo, hi;
			cJSON *it;
			if (lm_interval(s, dbpc, st, &v, &lo, &hi) ||
			    !(it = sess_add_interval(extra, "ppl_ratio", exp2(v), exp2(lo), exp2(hi))) ||
			    lm_interval(s, same, st, &v, &lo, &hi) || !(it = sess_add_interval(extra, "top1_agree", v, lo, hi)) ||
			    lm_interval(s, dp, st, &v, &lo, &hi) || !(it = sess_add_interval(extra, "dp_true", v, lo, hi)) ||
			    lm_interval(s, kq, st, &v, &lo, &hi) || !(it = sess_add_interval(extra, "kld", v, lo, hi))) {
				cJSON_Delete(strata);
				snprintf(err, errlen, "out of memory in the bootstrap");
				goto out;
			}
			for (int k = 0; k < st->n; k++)
				ks[k] = kq[st->idx[k]];
			qsort(ks, (size_t)st->n, sizeof *ks, cmp_double);
			cJSON_AddNumberToObject(it, "p99", r4(ks[(int)ceil(0.99 * st->n) - 1]));
			cJSON_AddNumberToObject(it, "p999", r4(ks[(int)ceil(0.999 * st->n) - 1]));
		}
		if (i == 0) {
			cJSON_AddNumberToObject(extra, "kernel_agreement", r4((double)agree / agree_n));
			cJSON_AddNumberToObject(extra, "kernel_agreement_n", agree_n);
		}
		cJSON_AddItemToArray(strata, o);
	}
	t_eval = sess_now_ms() - t0;
	t0 = sess_now_ms();
	int benched = !(flags & ENG_EVAL_NO_BENCH);
	double q_sps = 0, ref_sps = 0;
	if (benched && progress)
		progress(user, "benchmark", 0);
	if (benched) {
		s->attn_int8 = r->attn == KQ_FMT_I8, s->kv = r->kv;
		q_sps = bench(s, SESS_RUN_QUANT, err, errlen);
		s->attn_int8 = 0, s->kv = KQ_FMT_F32;
		ref_sps = bench(s, SESS_RUN_F32, err, errlen);
	}
	if (benched && (ref_sps <= 0 || q_sps <= 0)) {
		cJSON_Delete(strata);
		if (!*err)
			snprintf(err, errlen, "benchmark failed");
		goto out;
	}
	t_bench = sess_now_ms() - t0;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "precis", PACKAGE_VERSION);
	cJSON_AddItemToObject(root, "model", sess_model_json(s));
	cJSON_AddItemToObject(root, "recipe", eng_recipe_to_json(r));
	cJSON_AddStringToObject(root, "reference", "fp32");
	cJSON_AddStringToObject(root, "metric", mi->name);
	cJSON *ev = cJSON_AddObjectToObject(root, "eval");
	cJSON_AddNumberToObject(ev, "n", s->n);
	char ci_method[160];
	if (s->fam->lm)
		snprintf(ci_method, sizeof ci_method,
			 "paired cluster bootstrap over the %d evaluation windows of %d tokens, %d resamples", s->n / s->chunk,
			 s->chunk, s->resamples);
	else
		snprintf(ci_method, sizeof ci_method, "paired bootstrap, %d resamples", s->resamples);
	cJSON_AddStringToObject(ev, "ci_method", ci_method);
	cJSON_AddStringToObject(ev, "set", s->eval_desc);
	cJSON_AddStringToObject(ev, "metric_definition", mi->definition);
	cJSON_AddBoolToObject(ev, "higher_is_better", mi->higher_is_better);
	cJSON_AddItemToObject(ev, "strata", strata);
	cJSON *tp = cJSON_AddObjectToObject(root, "throughput");
	cJSON_AddStringToObject(tp, "unit", s->fam->lm ? "tokens/s" : "samples/s");
	/* ENG_EVAL_NO_BENCH: no numbers rather than made-up ones */
	cJSON_AddBoolToObject(tp, "measured", benched);
	if (benched) {
		cJSON_AddNumberToObject(tp, "ref", round(ref_sps));
		cJSON_AddNumberToObject(tp, "quant", round(q_sps));
		cJSON_AddNumberToObject(tp, "speedup", round(q_sps / ref_sps * 1000) / 1000);
	}
	cJSON_AddNumberToObject(tp, "batch", s->n < BENCH_BATCH ? s->n : BENCH_BATCH);
	cJSON_AddNumberToObject(tp, "threads", s->threads);
	cJSON_AddStringToObject(tp, "isa", kq_isa_name(kq_isa_active()));
	char cpu[128];
	eng_cpu_model(cpu, sizeof cpu);
	cJSON_AddStringToObject(tp, "cpu", cpu);
	cJSON_AddNumberToObject(tp, "repeats", BENCH_REPEATS);
	cJSON_AddBoolToObject(tp, "emulated", eng_qmodel_emulated(qm));
	cJSON *mem = cJSON_AddObjectToObject(root, "memory");
	size_t ref_bytes = 0;
	for (int i = 0; i < s->m->nq; i++) {
		const eng_layer *L = eng_model_qlayer(s->m, i);
		ref_bytes += (size_t)L->out_c * L->k * 4;
	}
	cJSON_AddNumberToObject(mem, "weight_bytes_ref", (double)ref_bytes);
	cJSON_AddNumberToObject(mem, "weight_bytes_quant", (double)eng_qmodel_weight_bytes(qm));
	cJSON_AddNumberToObject(mem, "kv_bytes_ref", 0);
	cJSON_AddNumberToObject(mem, "kv_bytes_quant", 0);
	cJSON *layers = cJSON_AddArrayToObject(root, "layers");
	for (int i = 0; i < s->m->nq; i++) {
		const eng_qlayer *ql = eng_qmodel_layer(qm, i);
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "name", ql->L->name);
		cJSON_AddStringToObject(l, "weights", kq_fmt_get(ql->wfmt)->name);
		cJSON_AddStringToObject(l, "acts", kq_fmt_get(ql->afmt)->name);
		cJSON_AddStringToObject(l, "path", sess_wpath_name(ql->wpath));
		cJSON_AddBoolToObject(l, "emulated", ql->emulated);
		cJSON_AddNumberToObject(l, "weight_sqnr_db", isfinite(ql->weight_sqnr_db) ? round(ql->weight_sqnr_db * 100) / 100 : 999);
		if (ql->afmt != KQ_FMT_F32 && !ql->token) {
			cJSON *ar = cJSON_AddArrayToObject(l, "act_range");
			cJSON_AddItemToArray(ar, cJSON_CreateNumber(ql->alo));
			cJSON_AddItemToArray(ar, cJSON_CreateNumber(ql->ahi));
		}
		if (ql->smooth_s) {
			cJSON *sm = cJSON_AddObjectToObject(l, "smooth");
			cJSON_AddNumberToObject(sm, "alpha", ql->smooth_alpha);
			cJSON_AddNumberToObject(sm, "max_scale", ql->smooth_max);
			cJSON_AddNumberToObject(sm, "min_scale", ql->smooth_min);
		}
		cJSON_AddItemToArray(layers, l);
	}
	cJSON *tm = cJSON_AddObjectToObject(root, "timing");
	cJSON_AddNumberToObject(tm, "calib_ms", round(t_calib * 10) / 10);
	cJSON_AddNumberToObject(tm, "quantize_ms", round(t_quant * 10) / 10);
	cJSON_AddNumberToObject(tm, "eval_ms", round(t_eval * 10) / 10);
	cJSON_AddNumberToObject(tm, "bench_ms", round(t_bench * 10) / 10);
	cJSON_AddNumberToObject(tm, "reference_ms", round(s->ref_ms * 10) / 10);
	cJSON_AddNumberToObject(tm, "total_ms", round((sess_now_ms() - t_start) * 10) / 10);
	if (s->fam->eval_extra) {
		s->attn_int8 = r->attn == KQ_FMT_I8, s->kv = r->kv;
		double te = sess_now_ms();
		int rc = s->fam->eval_extra(s, r, qm, root, benched, progress, user, cancel, err, errlen);
		s->attn_int8 = 0, s->kv = KQ_FMT_F32;
		if (rc) {
			cJSON_Delete(root);
			root = NULL;
			goto out;
		}
		cJSON_AddNumberToObject(tm, "extra_ms", round((sess_now_ms() - te) * 10) / 10);
		cJSON_ReplaceItemInObject(tm, "total_ms", cJSON_CreateNumber(round((sess_now_ms() - t_start) * 10) / 10));
	}
	cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
	cJSON_AddStringToObject(cal, "set", r->calib_set);
	cJSON_AddNumberToObject(cal, "n", strcmp(r->calib_set, "small") == 0 ? 16 : r->calib_n);
	cJSON_AddNumberToObject(cal, "seed", (double)s->seed);
	cJSON_AddStringToObject(cal, "sets", s->fam->calib_desc);
	cJSON_AddBoolToObject(cal, "used", obs != NULL);
	/* the disclosure is read back from the object itself, by the same
	 * rule the reports apply (engine/report.c) */
	if (eng_disclosure_assess(root, 0) < 0) {
		snprintf(err, errlen, "out of memory");
		cJSON_Delete(root);
		root = NULL;
	}
out:
	s->attn_int8 = 0, s->kv = KQ_FMT_F32;
	free(pq), free(pf), free(cq), free(vq), free(kq), free(ks), free(lmv);
	sess_lanes_bind(s, NULL);
	eng_qmodel_destroy(qm);
	return root;
}

/* ---------------------------------------------------------------- models */

cJSON *eng_models_json(char *err, size_t errlen)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < NFAMILIES; i++)
		for (const char *const *name = families[i]->models; *name; name++) {
			const sess_family *f = families[i];
			char path[1024];
			if (resolve_model(*name, path, sizeof path))
				continue; /* not installed */
			cJSON *o = f->model_info(path, err, errlen);
			if (!o) {
				cJSON_Delete(arr);
				return NULL;
			}
			cJSON_AddStringToObject(o, "metric", eng_metric_get(f->default_metric)->name);
			cJSON *cs = cJSON_AddArrayToObject(o, "calib_sets");
			for (const char *const *c = f->calib_sets; *c; c++)
				cJSON_AddItemToArray(cs, cJSON_CreateString(*c));
			cJSON *ms = cJSON_AddArrayToObject(o, "metrics");
			for (const char *const *c = f->metrics; *c; c++)
				cJSON_AddItemToArray(ms, cJSON_CreateString(*c));
			cJSON_AddItemToArray(arr, o);
		}
	return arr;
}
