/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sensitivity.c - per-layer sensitivity (SPEC §5): what each quantizable
 * layer looks like under a recipe, and what quantizing it costs.
 *
 * DESIGN: one call computes, for every quantizable layer of the session's
 * model under recipe r,
 *  - statistics (level 0): weight and activation ranges, the p99.9 of |x|,
 *    the clipping the recipe's grid causes, weight and output SQNR (whole
 *    and per channel), and 64-bin histograms.  Activations come from the
 *    recipe's calibration draw (the same samples the observers saw); the
 *    output SQNR runs each layer twice on the same fp32 input, fp32 and
 *    fake-quantized, so errors from earlier layers do not mix in;
 *  - deltas (level 1): accuracy with only this layer quantized
 *    (`alone`), with every layer but this one (`all_but`), each with its
 *    paired-bootstrap interval on `all` and the stratum that moved most,
 *    and the flips of the full recipe this layer accounts for.
 * Reuse: calibration observers come from the session cache.  The deltas
 * need 2n + 1 models run over the evaluation set (full recipe, n alone, n
 * all-but); they run in one blocked pass: for each block of samples the
 * fp32 model and the full recipe are run once with every layer's output
 * recorded, then each variant copies the outputs it shares instead of
 * computing them: alone_i the fp32 outputs before layer i (fp32 in it
 * too), all-but_i the full recipe's outputs before layer i - 1 (quantized
 * identically, uint8 hand-offs included).  The fp32 recording also gives
 * the session's reference predictions when none were computed yet.  Work
 * is split across the session's lanes by samples, in globally aligned
 * chunks (results do not depend on the thread count), and the bootstraps
 * of all variants run in parallel.  Replay needs a feed-forward graph
 * (sess_family.replayable); other families run one plain pass per model.
 * Results are cached in the session per (recipe, level); a level-1 result
 * also answers level 0.  Runs on the session's thread; `cancel` is checked
 * between blocks.
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_session_impl.h"

#define HIST_BINS 64
/* Memory the variant qmodels of one replay pass may take; more variants
 * than fit are done in several passes over the evaluation set. */
#define VARIANT_GROUP_BYTES ((size_t)256 << 20)

static double r6(double v)
{
	return round(v * 1e6) / 1e6;
}

static double r2(double v)
{
	return round(v * 100) / 100;
}

/* A JSON number, or null for NaN and infinities (JSON has neither). */
static cJSON *num_or_null(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static size_t out_floats(const eng_layer *L)
{
	return (size_t)L->out_c * L->out_h * L->out_w;
}

static size_t in_floats(const eng_layer *L)
{
	return (size_t)L->in_c * L->in_h * L->in_w;
}

static int layer_quantized(const eng_qlayer *ql)
{
	return !(ql->wfmt == KQ_FMT_F32 && ql->afmt == KQ_FMT_F32);
}

/* ----------------------------------------------------------------- cache */

static char *recipe_key(const eng_recipe *r)
{
	cJSON *j = eng_recipe_to_json(r);
	char *k = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	return k;
}

void sess_sens_cache_clear(eng_session *s)
{
	for (int i = 0; i < s->nsens; i++) {
		free(s->sens[i].key);
		cJSON_Delete(s->sens[i].res);
	}
	s->nsens = 0;
}

static cJSON *cache_get(eng_session *s, const char *key, int full)
{
	for (int i = 0; i < s->nsens; i++) {
		sess_sens_entry *e = &s->sens[i];
		if (e->full >= full && strcmp(e->key, key) == 0) {
			e->used = ++s->sens_clock;
			cJSON *c = cJSON_Duplicate(e->res, 1);
			if (c)
				cJSON_ReplaceItemInObjectCaseSensitive(c, "cached", cJSON_CreateTrue());
			return c;
		}
	}
	return NULL;
}

/* Keeps a copy of res under key (replacing a lower level of the same
 * recipe, else the least recently used entry when full).  Best effort: a
 * failed copy only means no caching. */
static void cache_put(eng_session *s, const char *key, int full, const cJSON *res)
{
	sess_sens_entry *e = NULL;
	for (int i = 0; i < s->nsens && !e; i++)
		if (strcmp(s->sens[i].key, key) == 0)
			e = &s->sens[i];
	if (!e && s->nsens < SESS_MAX_SENS) {
		e = &s->sens[s->nsens++];
		memset(e, 0, sizeof *e);
	}
	if (!e) {
		e = &s->sens[0];
		for (int i = 1; i < s->nsens; i++)
			if (s->sens[i].used < e->used)
				e = &s->sens[i];
	}
	free(e->key);
	cJSON_Delete(e->res);
	e->key = strdup(key);
	e->res = cJSON_Duplicate(res, 1);
	e->full = full;
	e->used = ++s->sens_clock;
	if (!e->key || !e->res) { /* drop the entry rather than keep half of it */
		free(e->key);
		cJSON_Delete(e->res);
		*e = s->sens[--s->nsens];
	}
}

/* ------------------------------------------------------------ histograms */

/* 64 bins over [lo, hi] from an observer's 2048-bin signed histogram
 * (32 of its bins per bin: the same edges, so the counts are exact). */
static cJSON *hist_json(const eng_observer *o)
{
	cJSON *h = cJSON_CreateObject();
	cJSON_AddNumberToObject(h, "lo", o->lo);
	cJSON_AddNumberToObject(h, "hi", o->hi);
	cJSON *c = cJSON_AddArrayToObject(h, "counts");
	const int per = ENG_HIST_BINS / HIST_BINS;
	for (int b = 0; b < HIST_BINS; b++) {
		double sum = 0;
		for (int j = 0; j < per; j++)
			sum += o->hist[b * per + j];
		cJSON_AddItemToArray(c, cJSON_CreateNumber(round(sum)));
	}
	return h;
}

static cJSON *range_json(int have, float lo, float hi)
{
	if (!have)
		return cJSON_CreateNull();
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, cJSON_CreateNumber(lo));
	cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
	return a;
}

/* The p99.9 of |x| an observer saw (its percentile method, symmetric). */
static double p999(const eng_observer *o)
{
	eng_cal_method m = {ENG_CAL_PERCENTILE, 99.9};
	float lo, hi;
	eng_obs_range(o, &m, 255, 1, &lo, &hi);
	return fmax(-(double)lo, (double)hi);
}

/* -------------------------------------------------------- grid ranges */

/* The representable range of a layer's weight grid, widest over its
 * slices (channels, groups): the same parameters qmodel.c derives
 * (minmax, then the mse clip per slice when the recipe calibrates by mse).
 * Returns 0 for fp32 weights (no grid), 1 with [*lo, *hi] set, -1 when out
 * of memory. */
static int weight_grid(const eng_qlayer *ql, const eng_recipe *r, float *lo, float *hi)
{
	const eng_layer *L = ql->L;
	int n = L->out_c, k = L->k;
	if (ql->wfmt == KQ_FMT_F32)
		return 0;
	const kq_fmt_info *fi = kq_fmt_get(ql->wfmt);
	if (!fi->is_int) {
		/* fp8 maps each slice's absmax to the largest finite value, so the
		 * widest slice reaches the tensor's absmax; fp16/bf16 have no scale */
		int fp8 = ql->wfmt == KQ_FMT_E4M3 || ql->wfmt == KQ_FMT_E5M2;
		float amax = 0;
		for (size_t i = 0; i < (size_t)n * k; i++)
			amax = fmaxf(amax, fabsf(L->w[i]));
		float top = fp8 ? amax : fi->max_finite;
		*lo = -top, *hi = top;
		return 1;
	}
	kq_qspec spec = {ql->wfmt == KQ_FMT_I8 ? 8 : 4, r->weight_symmetric, 0, r->gran, r->group};
	size_t np = kq_qspec_nparams(&spec, n, k);
	kq_qparams *p = malloc(np * sizeof *p);
	int qmin, qmax;
	if (!p || kq_qspec_range(&spec, &qmin, &qmax) || kq_qparams_minmax(L->w, n, k, &spec, p)) {
		free(p);
		return -1;
	}
	if (r->calib.kind == ENG_CAL_MSE) {
		int slice_len = spec.gran == KQ_GRAN_TENSOR ? n * k : spec.gran == KQ_GRAN_CHANNEL ? k : spec.group;
		int per_row = spec.gran == KQ_GRAN_GROUP ? (k + spec.group - 1) / spec.group : 1;
		for (size_t i = 0; i < np; i++) {
			int row = spec.gran == KQ_GRAN_TENSOR ? 0 : (int)(i / per_row), g = (int)(i % per_row);
			const float *x = L->w + (size_t)row * k + (size_t)g * (spec.gran == KQ_GRAN_GROUP ? spec.group : 0);
			int len = spec.gran == KQ_GRAN_GROUP && (g + 1) * spec.group > k ? k - g * spec.group : slice_len;
			float a = 0, b = 0;
			for (int j = 0; j < len; j++)
				a = fminf(a, x[j]), b = fmaxf(b, x[j]);
			float ratio = eng_mse_clip(x, (size_t)len, qmax - qmin, spec.symmetric);
			kq_qparams_from_range(a * ratio, b * ratio, qmin, qmax, spec.symmetric, &p[i]);
		}
	}
	*lo = FLT_MAX, *hi = -FLT_MAX;
	for (size_t i = 0; i < np; i++) {
		*lo = fminf(*lo, (float)(qmin - p[i].zero_point) * p[i].scale);
		*hi = fmaxf(*hi, (float)(qmax - p[i].zero_point) * p[i].scale);
	}
	free(p);
	return 1;
}

/* The representable range of a layer's static activation grid: 0 when
 * activations are fp32 or dynamic per row (no fixed grid). */
static int act_grid(const eng_qlayer *ql, float *lo, float *hi)
{
	if (ql->afmt == KQ_FMT_F32 || ql->token)
		return 0;
	if (ql->afmt == KQ_FMT_E4M3) {
		float top = ql->fp8_scale * kq_fmt_get(KQ_FMT_E4M3)->max_finite;
		*lo = -top, *hi = top;
		return 1;
	}
	/* activations are uint8 codes [0, 255] with the calibrated zero point */
	*lo = (float)(0 - ql->act.zero_point) * ql->act.scale;
	*hi = (float)(255 - ql->act.zero_point) * ql->act.scale;
	return 1;
}

/* ------------------------------------------------- statistics on calibration */

typedef struct {
	double sig, noise;   /* sums of y^2 and (y - yq)^2 for the output SQNR */
	double aclip, aseen; /* activation values outside the grid / seen */
	double *csig, *cnoise; /* the same sums per output channel (out_c each) */
} layer_acc;

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Largest over median per-channel absmax of an observer's pass 1 (upper
 * median for an even count); NaN when it kept no channels or the median is
 * 0. */
static double channel_outlier_ratio(const eng_observer *o)
{
	if (o->nchan < 1)
		return NAN;
	float *a = malloc((size_t)o->nchan * sizeof *a);
	if (!a)
		return NAN;
	for (int c = 0; c < o->nchan; c++)
		a[c] = eng_obs_chan_absmax(o, c);
	qsort(a, (size_t)o->nchan, sizeof *a, cmp_float);
	double med = a[o->nchan / 2], mx = a[o->nchan - 1];
	free(a);
	return med > 0 ? mx / med : NAN;
}

/* Scale-invariant SQNR over channels: 10 log10 of 1 / the mean over
 * channels (those with signal) of noise_c / signal_c.  Every channel counts
 * the same however large its values: a layer whose big channel survives
 * and whose small ones are wiped out scores badly here, while the
 * whole-tensor SQNR, dominated by the big channel, looks fine.  +inf when
 * nothing is lost, NaN when no channel has signal. */
static double channel_sqnr_db(const double *sig, const double *noise, int n)
{
	double ratio = 0;
	int used = 0;
	for (int c = 0; c < n; c++)
		if (sig[c] > 0)
			ratio += noise[c] / sig[c], used++;
	if (!used)
		return NAN;
	return ratio > 0 ? 10 * log10(used / ratio) : INFINITY;
}

typedef struct {
	eng_session *s;
	const eng_qmodel *qm;
	const float *x;
	int n;
	layer_acc *acc; /* nlanes x nq */
	float **yq;     /* per lane: the fake-quantized output of one layer */
	size_t *yqcap;  /* its capacity in floats (grown on demand: a family may
			   pass more rows than samples, one per token) */
	int failed;
} stats_job;

typedef struct {
	stats_job *j;
	int lane;
} stats_user;

static int stats_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
		       size_t errlen)
{
	stats_user *u = user;
	eng_session *s = u->j->s;
	sess_lane *ln = &s->lanes[u->lane];
	const eng_qlayer *ql = eng_qmodel_layer(u->j->qm, L->qindex);
	layer_acc *a = &u->j->acc[(size_t)u->lane * s->m->nq + L->qindex];
	eng_backend f = eng_backend_f32(ln->ctx1);
	if (f.layer(f.user, L, batch, x, y, ws, err, errlen))
		return -1;
	if (!layer_quantized(ql))
		return 0;
	size_t nin = (size_t)batch * in_floats(L), nout = (size_t)batch * out_floats(L);
	/* the same fp32 input through the layer's fake-quant twin (the recipe's
	 * grid; kernels agree with it, see kernel_agreement in eval) */
	eng_backend fq = eng_backend_fake(ln->qr);
	if (nout > u->j->yqcap[u->lane]) {
		float *grown = realloc(u->j->yq[u->lane], nout * sizeof *grown);
		if (!grown) {
			snprintf(err, errlen, "layer %s: out of memory for its statistics", L->name);
			return -1;
		}
		u->j->yq[u->lane] = grown, u->j->yqcap[u->lane] = nout;
	}
	float *yq = u->j->yq[u->lane];
	if (fq.layer(fq.user, L, batch, x, yq, ws, err, errlen))
		return -1;
	double sig = 0, noise = 0;
	int oc = L->out_c;
	for (size_t i = 0; i < nout; i++) {
		double d = (double)y[i] - yq[i], y2 = (double)y[i] * y[i];
		sig += y2;
		noise += d * d;
		a->csig[i % oc] += y2; /* NHWC: the channel is the fastest index */
		a->cnoise[i % oc] += d * d;
	}
	a->sig += sig, a->noise += noise;
	/* clipping as kq_quantize counts it: the unclamped code outside the range */
	size_t clipped = 0;
	if (ql->afmt == KQ_FMT_E4M3) {
		float inv = ql->fp8_scale > 0 ? 1.0f / ql->fp8_scale : 0.0f, top = kq_fmt_get(KQ_FMT_E4M3)->max_finite;
		for (size_t i = 0; i < nin; i++)
			clipped += fabsf(x[i] * inv) > top;
	} else if (ql->afmt == KQ_FMT_I8 && !ql->token) {
		float inv = ql->act.scale > 0 ? 1.0f / ql->act.scale : 0.0f;
		for (size_t i = 0; i < nin; i++) {
			float q = nearbyintf(x[i] * inv) + (float)ql->act.zero_point;
			clipped += !(q >= 0 && q <= 255);
		}
	}
	a->aclip += (double)clipped, a->aseen += (double)nin;
	return 0;
}

static void stats_task(void *arg, int i, int n)
{
	stats_job *j = arg;
	eng_session *s = j->s;
	sess_lane *ln = &s->lanes[i];
	int pix = sess_sample_floats(s);
	stats_user u = {j, i};
	eng_backend be = {stats_layer, &u, NULL};
	int b, nb;
	for (int k = 0; !j->failed && sess_lane_chunk(s->chunk, 0, j->n, i, n, k, &b, &nb) == 0; k++) {
		if (sess_forward(s, &be, nb, j->x + (size_t)b * pix, ln->logits, ln->ws, ln->err, sizeof ln->err)) {
			j->failed = 1;
			return;
		}
	}
}

/* Runs the calibration draw through the fp32 model on every lane,
 * accumulating per layer (summed over lanes into out[0..nq), whose csig and
 * cnoise arrays the caller provides, zeroed).  Lanes must be bound to qm.
 * 0 or -1 with err. */
static int calib_stats(eng_session *s, const eng_qmodel *qm, const float *x, int n, layer_acc *out, char *err,
		       size_t errlen)
{
	int nq = s->m->nq, st = 0;
	size_t chans = 0;
	for (int i = 0; i < nq; i++)
		chans += (size_t)eng_model_qlayer(s->m, i)->out_c;
	stats_job j = {s, qm, x, n, calloc((size_t)s->nlanes * nq, sizeof(layer_acc)), calloc((size_t)s->nlanes, sizeof(float *)),
		       calloc((size_t)s->nlanes, sizeof(size_t)), 0};
	double *cbuf = calloc((size_t)s->nlanes * chans * 2, sizeof *cbuf);
	for (int l = 0, off = 0; j.acc && cbuf && l < s->nlanes; l++)
		for (int i = 0; i < nq; i++) {
			int oc = eng_model_qlayer(s->m, i)->out_c;
			j.acc[(size_t)l * nq + i].csig = cbuf + off;
			j.acc[(size_t)l * nq + i].cnoise = cbuf + off + oc;
			off += 2 * oc;
		}
	if (!j.acc || !j.yq || !j.yqcap || !cbuf) {
		snprintf(err, errlen, "out of memory for the layer statistics");
		st = -1;
		goto out;
	}
	for (int i = 0; i < s->nlanes; i++)
		s->lanes[i].err[0] = 0;
	kq_parallel(s->ctx, s->nlanes, stats_task, &j);
	if (j.failed) {
		for (int i = 0; i < s->nlanes; i++)
			if (s->lanes[i].err[0]) {
				snprintf(err, errlen, "%s", s->lanes[i].err);
				break;
			}
		st = -1;
		goto out;
	}
	for (int l = 0; l < s->nlanes; l++)
		for (int i = 0; i < nq; i++) {
			const layer_acc *a = &j.acc[(size_t)l * nq + i];
			out[i].sig += a->sig, out[i].noise += a->noise, out[i].aclip += a->aclip, out[i].aseen += a->aseen;
			for (int c = 0; c < eng_model_qlayer(s->m, i)->out_c; c++)
				out[i].csig[c] += a->csig[c], out[i].cnoise[c] += a->cnoise[c];
		}
out:
	for (int i = 0; j.yq && i < s->nlanes; i++)
		free(j.yq[i]);
	free(j.yq), free(j.yqcap), free(j.acc), free(cbuf);
	return st;
}

/* ------------------------------------------------------- variant predictions */

/* Predictions of one variant (a recipe differing from r in overrides) on
 * the whole evaluation set, and their comparison with the reference. */
typedef struct {
	int *pred;
	float *conf;
	float *value;     /* language models: -log2 p(label) per sample, else NULL */
	eng_paired all;   /* on the `all` stratum */
	int moved;        /* stratum (other than all) with the largest |delta|; -1 if none moved */
	eng_paired moved_pr;
	int failed;
} variant;

static int variant_alloc(variant *v, int n, int lm)
{
	v->pred = malloc((size_t)n * sizeof *v->pred);
	v->conf = malloc((size_t)n * sizeof *v->conf);
	v->value = lm ? malloc((size_t)n * sizeof *v->value) : NULL;
	v->moved = -1;
	return v->pred && v->conf && (!lm || v->value) ? 0 : -1;
}

static void variant_free(variant *v)
{
	free(v->pred), free(v->conf), free(v->value);
	v->pred = NULL, v->conf = NULL, v->value = NULL;
}

typedef struct {
	eng_session *s;
	variant **v;
	int nv;
} boot_job;

static void boot_task(void *arg, int t, int nt)
{
	boot_job *j = arg;
	eng_session *s = j->s;
	int nc = s->m->out_dim;
	eng_preds ref = {s->pred_ref, s->conf_ref, s->value_ref};
	for (int k = t; k < j->nv; k += nt) {
		variant *v = j->v[k];
		eng_preds q = {v->pred, v->conf, v->value};
		if (sess_paired(s, &s->strata[0], &q, &v->all)) {
			v->failed = 1;
			continue;
		}
		double best = 0;
		v->moved = -1;
		for (int i = 1; i < s->nstrata; i++) {
			const sess_stratum *st = &s->strata[i];
			double d = eng_metric_eval(s->metric, st->idx, st->n, s->label, &q, nc) -
				   eng_metric_eval(s->metric, st->idx, st->n, s->label, &ref, nc);
			if (isfinite(d) && fabs(d) > best)
				best = fabs(d), v->moved = i;
		}
		if (v->moved >= 0) {
			const sess_stratum *st = &s->strata[v->moved];
			if (sess_paired(s, st, &q, &v->moved_pr))
				v->failed = 1;
		}
	}
}

/* One `kq_parallel` task per lane over all variants' bootstraps. */
static int bootstrap_all(eng_session *s, variant **v, int nv, char *err, size_t errlen)
{
	boot_job j = {s, v, nv};
	kq_parallel(s->ctx, s->nlanes, boot_task, &j);
	for (int i = 0; i < nv; i++)
		if (v[i]->failed) {
			snprintf(err, errlen, "out of memory in the bootstrap");
			return -1;
		}
	return 0;
}

/* {"stratum"?, "delta", "ci95", "flips"} of one paired comparison. */
static cJSON *paired_json(const char *stratum, const eng_paired *p)
{
	cJSON *o = cJSON_CreateObject();
	if (stratum)
		cJSON_AddStringToObject(o, "stratum", stratum);
	cJSON_AddNumberToObject(o, "delta", r6(p->delta));
	cJSON *ci = cJSON_AddArrayToObject(o, "ci95");
	cJSON_AddItemToArray(ci, num_or_null(r6(p->lo)));
	cJSON_AddItemToArray(ci, num_or_null(r6(p->hi)));
	cJSON_AddNumberToObject(o, "flips", p->flips);
	return o;
}

static cJSON *variant_json(const eng_session *s, const variant *v)
{
	cJSON *o = paired_json(NULL, &v->all);
	cJSON_AddItemToObject(o, "moved_most",
			      v->moved < 0 ? cJSON_CreateNull() : paired_json(s->strata[v->moved].name, &v->moved_pr));
	return o;
}

/* ------------------------------------------------------------ replay */

/* One model run over the evaluation set in a replay pass.  Layers with
 * qindex < limit are not computed but copied from a recording (`src`),
 * the fp32 model's (alone variants: those layers are fp32 in them too) or
 * the full recipe's (all-but variants: layers before i - 1 are quantized
 * exactly as in the full recipe, including whether they hand uint8 codes
 * on, which depends only on a layer and the next one). */
enum { SRC_NONE = -1, SRC_F32 = 0, SRC_FULL = 1 };

typedef struct {
	eng_qmodel *qm; /* NULL: the fp32 model */
	int src, limit; /* replay layers below limit from recording src */
	int record;     /* record this run's layer outputs as recording `record` (SRC_NONE: no) */
	int *pred;      /* predictions (NULL: not kept) */
	float *conf;
} prun;

typedef struct {
	eng_session *s;
	prun *runs;
	int nr;
	eng_qrunner **qr;  /* [lane * nr + run] */
	float **rec;       /* [lane * 2 + src]: every quantizable layer's output for one block */
	int32_t *u8;       /* [(lane * 2 + src) * nq + layer]: -1 floats, else the zero point of uint8 codes */
	const size_t *off; /* per layer: offset in floats-per-sample of its output in a recording */
	int start, count;
	double rec_ms; /* lane 0's time in run 0 */
	int failed;
} replay_job;

typedef struct {
	replay_job *j;
	int lane, run;
} replay_user;

static eng_backend run_backend(const replay_user *u)
{
	const prun *p = &u->j->runs[u->run];
	return p->qm ? eng_backend_quant(u->j->qr[(size_t)u->lane * u->j->nr + u->run])
		     : eng_backend_f32(u->j->s->lanes[u->lane].ctx1);
}

static int replay_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
			size_t errlen)
{
	replay_user *u = user;
	replay_job *j = u->j;
	const prun *p = &j->runs[u->run];
	int nq = j->s->m->nq;
	size_t n = (size_t)batch * out_floats(L);
	if (p->src != SRC_NONE && L->qindex < p->limit) {
		int32_t code = j->u8[((size_t)u->lane * 2 + p->src) * nq + L->qindex];
		memcpy(y, j->rec[u->lane * 2 + p->src] + j->off[L->qindex] * j->s->chunk, n * (code < 0 ? 4 : 1));
		return 0;
	}
	eng_backend be = run_backend(u);
	if (be.layer(be.user, L, batch, x, y, ws, err, errlen))
		return -1;
	if (p->record != SRC_NONE) {
		int32_t zp = 0;
		int u8 = be.out_u8 && be.out_u8(be.user, L, &zp);
		j->u8[((size_t)u->lane * 2 + p->record) * nq + L->qindex] = u8 ? zp : -1;
		memcpy(j->rec[u->lane * 2 + p->record] + j->off[L->qindex] * j->s->chunk, y, n * (u8 ? 1 : 4));
	}
	return 0;
}

static int replay_out_u8(void *user, const eng_layer *L, int32_t *zp)
{
	replay_user *u = user;
	const prun *p = &u->j->runs[u->run];
	if (p->src != SRC_NONE && L->qindex < p->limit) {
		int32_t code = u->j->u8[((size_t)u->lane * 2 + p->src) * u->j->s->m->nq + L->qindex];
		*zp = code < 0 ? 0 : code;
		return code >= 0;
	}
	eng_backend be = run_backend(u);
	return be.out_u8 && be.out_u8(be.user, L, zp);
}

static void replay_task(void *arg, int i, int n)
{
	replay_job *j = arg;
	eng_session *s = j->s;
	sess_lane *ln = &s->lanes[i];
	int pix = sess_sample_floats(s), nc = s->m->out_dim;
	int b, nb;
	for (int k = 0; !j->failed && sess_lane_chunk(s->chunk, j->start, j->count, i, n, k, &b, &nb) == 0; k++) {
		/* in order: recordings come before the runs that replay them */
		for (int r = 0; r < j->nr; r++) {
			replay_user u = {j, i, r};
			eng_backend be = {replay_layer, &u, replay_out_u8};
			double t0 = i == 0 && r == 0 ? sess_now_ms() : 0;
			if (sess_forward(s, &be, nb, s->x + (size_t)b * pix, ln->logits, ln->ws, ln->err, sizeof ln->err)) {
				j->failed = 1;
				return;
			}
			if (i == 0 && r == 0)
				j->rec_ms += sess_now_ms() - t0;
			const prun *p = &j->runs[r];
			for (int t = 0; p->pred && t < nb; t++)
				sess_argmax_conf(ln->logits + (size_t)t * nc, nc, &p->pred[b + t], &p->conf[b + t]);
		}
	}
}

/* Runs `nr` runs over the evaluation set in one blocked pass (recording
 * runs first); *rec_ms (may be NULL) receives the time lane 0 spent in run
 * 0.  Progress covers [done0, done0 + share]. */
static int run_replay(eng_session *s, prun *runs, int nr, double *rec_ms, eng_stage_fn progress, void *user,
		      double done0, double share, volatile int *cancel, char *err, size_t errlen)
{
	int nq = s->m->nq, st = 0, nl = s->nlanes;
	size_t *off = malloc((size_t)(nq + 1) * sizeof *off);
	eng_qrunner **qr = calloc((size_t)nl * nr, sizeof *qr);
	float **rec = calloc((size_t)nl * 2, sizeof *rec);
	int32_t *u8 = malloc((size_t)nl * 2 * nq * sizeof *u8);
	if (!off || !qr || !rec || !u8)
		goto oom;
	off[0] = 0;
	for (int i = 0; i < nq; i++)
		off[i + 1] = off[i] + out_floats(eng_model_qlayer(s->m, i));
	for (int l = 0; l < nl; l++) {
		for (int k = 0; k < 2; k++)
			if (!(rec[l * 2 + k] = malloc(off[nq] * s->chunk * sizeof **rec)))
				goto oom;
		for (int r = 0; r < nr; r++)
			if (runs[r].qm && !(qr[(size_t)l * nr + r] = eng_qrunner_create(runs[r].qm, s->lanes[l].ctx1)))
				goto oom;
	}
	int block = s->chunk * nl;
	for (int b = 0; b < s->n && !st; b += block) {
		if (cancel && *cancel) {
			snprintf(err, errlen, "cancelled");
			st = -1;
			break;
		}
		replay_job j = {s, runs, nr, qr, rec, u8, off, b, s->n - b < block ? s->n - b : block, 0, 0};
		for (int l = 0; l < nl; l++)
			s->lanes[l].err[0] = 0;
		kq_parallel(s->ctx, nl, replay_task, &j);
		if (j.failed) {
			for (int l = 0; l < nl; l++)
				if (s->lanes[l].err[0]) {
					snprintf(err, errlen, "%s", s->lanes[l].err);
					break;
				}
			st = -1;
		}
		if (rec_ms)
			*rec_ms += j.rec_ms;
		if (progress)
			progress(user, "sensitivity", done0 + share * (b + j.count) / s->n);
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory for the per-layer variants");
	st = -1;
out:
	for (size_t i = 0; qr && i < (size_t)nl * nr; i++)
		eng_qrunner_destroy(qr[i]);
	for (int l = 0; rec && l < nl * 2; l++)
		free(rec[l]);
	free(off), free(qr), free(rec), free(u8);
	return st;
}

/* Recipe r with layers kept in fp32: every layer but `only` (only >= 0),
 * or just `except` (except >= 0). */
static int variant_recipe(const eng_session *s, const eng_recipe *r, int only, int except, eng_recipe *out, char *err,
			  size_t errlen)
{
	*out = *r;
	for (int i = 0; i < s->m->nq; i++) {
		if ((only >= 0 && i == only) || (except >= 0 && i != except))
			continue;
		if (eng_recipe_set(out, "keep", eng_model_qlayer(s->m, i)->name, err, errlen))
			return -1;
	}
	return 0;
}

/* Predictions of the full recipe (qm), and of the alone and all-but
 * variants of every quantized layer (quantized[i]) into val[i] and vab[i].
 * Replayable families: blocked passes, each recording the fp32 model and
 * the full recipe once and replaying their prefixes into a group of
 * variants whose models fit VARIANT_GROUP_BYTES; the fp32 recording also
 * gives the reference when ref_pred is not NULL.  Other families: one
 * plain pass per model.  Progress covers [done0, done0 + share]. */
static int run_variants(eng_session *s, const eng_recipe *r, const eng_observer *obs, eng_qmodel *qm,
			const int *quantized, variant *vfull, variant *val, variant *vab, int *ref_pred, float *ref_conf,
			double *ref_ms, eng_stage_fn progress, void *user, double done0, double share, volatile int *cancel,
			char *err, size_t errlen)
{
	int nq = s->m->nq, st = 0, todo = 0;
	size_t model_bytes = 0;
	for (int i = 0; i < nq; i++) {
		/* a qmodel holds a fake-quant fp32 copy of every layer plus packed weights */
		model_bytes += (size_t)eng_model_qlayer(s->m, i)->out_c * eng_model_qlayer(s->m, i)->k * 8;
		todo += 2 * quantized[i];
	}
	if (!s->fam->replayable) { /* the caller computed the reference (ref_pred is NULL) */
		int runs = todo + 1, done = 0;
		eng_qmodel *vq = qm;
		for (int k = -1; !st && k < 2 * nq; k++) {
			int i = k / 2, alone = k % 2 == 0;
			variant *v = k < 0 ? vfull : alone ? &val[i] : &vab[i];
			eng_recipe vr;
			if (k >= 0 && !quantized[i])
				continue;
			if (k >= 0 && (variant_recipe(s, r, alone ? i : -1, alone ? -1 : i, &vr, err, errlen) ||
				       !(vq = eng_qmodel_create(s->m, &vr, obs, err, errlen)))) {
				st = -1;
				break;
			}
			st = sess_lanes_bind(s, vq);
			if (st)
				snprintf(err, errlen, "out of memory");
			else
				st = sess_predict_values(s, SESS_RUN_QUANT, s->n, v->pred, v->conf, v->value, NULL, NULL,
							 "sensitivity", cancel, err, errlen);
			sess_lanes_bind(s, NULL);
			if (vq != qm)
				eng_qmodel_destroy(vq);
			if (progress)
				progress(user, "sensitivity", done0 + share * ++done / runs);
		}
		return st;
	}
	int per_group = model_bytes ? (int)(VARIANT_GROUP_BYTES / model_bytes) : todo;
	per_group = per_group > todo ? todo : per_group;
	per_group = per_group < 1 ? 1 : per_group;
	int ngroups = todo ? (todo + per_group - 1) / per_group : 1, g = 0;
	prun *runs = calloc((size_t)per_group + 2, sizeof *runs);
	if (!runs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* the variants in order: alone of each layer, then all-but of each */
	int k = 0;
	do {
		while (k < 2 * nq && !quantized[k % nq])
			k++;
		if (todo > 0 && k == 2 * nq)
			break;
		int nr = 0;
		runs[nr++] = (prun){NULL, SRC_NONE, 0, SRC_F32, g == 0 ? ref_pred : NULL, ref_conf};
		runs[nr++] = (prun){qm, SRC_NONE, 0, SRC_FULL, vfull->pred, vfull->conf};
		for (; k < 2 * nq && nr < per_group + 2; k++) {
			int i = k % nq, alone = k < nq;
			eng_recipe vr;
			if (!quantized[i])
				continue;
			prun *p = &runs[nr];
			if (variant_recipe(s, r, alone ? i : -1, alone ? -1 : i, &vr, err, errlen) ||
			    !(p->qm = eng_qmodel_create(s->m, &vr, obs, err, errlen))) {
				st = -1;
				break;
			}
			nr++;
			p->src = alone ? SRC_F32 : SRC_FULL;
			p->limit = alone ? i : i - 1;
			p->record = SRC_NONE;
			p->pred = alone ? val[i].pred : vab[i].pred;
			p->conf = alone ? val[i].conf : vab[i].conf;
		}
		if (!st)
			st = run_replay(s, runs, nr, g == 0 ? ref_ms : NULL, progress, user, done0 + share * g / ngroups,
					share / ngroups, cancel, err, errlen);
		for (int q = 2; q < nr; q++)
			eng_qmodel_destroy(runs[q].qm);
		g++;
	} while (!st && k < 2 * nq);
	free(runs);
	return st;
}

/* ----------------------------------------------------------------- ranking */

typedef struct {
	int idx, quantized;
	double recovery, alone, sqnr; /* oriented so that larger recovery and smaller alone, sqnr = more sensitive */
} rank_key;

static int rank_full_cmp(const void *a, const void *b)
{
	const rank_key *x = a, *y = b;
	if (x->quantized != y->quantized)
		return y->quantized - x->quantized;
	if (x->recovery != y->recovery)
		return x->recovery > y->recovery ? -1 : 1;
	if (x->alone != y->alone)
		return x->alone < y->alone ? -1 : 1;
	if (x->sqnr != y->sqnr)
		return x->sqnr < y->sqnr ? -1 : 1;
	return x->idx - y->idx;
}

static int rank_stats_cmp(const void *a, const void *b)
{
	const rank_key *x = a, *y = b;
	if (x->quantized != y->quantized)
		return y->quantized - x->quantized;
	if (x->sqnr != y->sqnr)
		return x->sqnr < y->sqnr ? -1 : 1;
	return x->idx - y->idx;
}

/* ------------------------------------------------------------------- main */

/* One layer's statistics object; *out_sqnr receives the output channel
 * SQNR the fast ranking uses. */
static cJSON *layer_stats_json(const eng_qlayer *ql, const eng_recipe *r,
			       const eng_observer *aobs, const layer_acc *acc, double *out_sqnr, char *err, size_t errlen)
{
	const eng_layer *L = ql->L;
	size_t nw = (size_t)L->out_c * L->k;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", L->name);
	cJSON_AddStringToObject(o, "type", L->op == ENG_CONV2D ? "conv2d" : "linear");
	cJSON *shape = cJSON_AddArrayToObject(o, "shape");
	/* PyTorch's weight shape: (out, in, kh, kw) or (out, in) */
	cJSON_AddItemToArray(shape, cJSON_CreateNumber(L->out_c));
	cJSON_AddItemToArray(shape, cJSON_CreateNumber(L->op == ENG_CONV2D ? L->in_c : L->k));
	if (L->op == ENG_CONV2D) {
		cJSON_AddItemToArray(shape, cJSON_CreateNumber(L->kernel));
		cJSON_AddItemToArray(shape, cJSON_CreateNumber(L->kernel));
	}
	cJSON_AddNumberToObject(o, "index", L->qindex);
	cJSON_AddStringToObject(o, "weights", kq_fmt_get(ql->wfmt)->name);
	cJSON_AddStringToObject(o, "acts", kq_fmt_get(ql->afmt)->name);
	cJSON_AddStringToObject(o, "act_granularity", ql->afmt == KQ_FMT_F32 ? "none" : ql->token ? "token" : "tensor");
	cJSON_AddStringToObject(o, "path", sess_wpath_name(ql->wpath));
	cJSON_AddBoolToObject(o, "emulated", ql->emulated);
	cJSON_AddBoolToObject(o, "quantized", layer_quantized(ql));

	/* weights: an observer gives range, p99.9 and histogram by the same code as activations */
	eng_observer *wo = malloc(sizeof *wo);
	if (!wo) {
		cJSON_Delete(o);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	eng_obs_init(wo);
	eng_obs_add(wo, L->w, nw);
	eng_obs_next_pass(wo);
	eng_obs_add(wo, L->w, nw);
	double wabs = fmax(-(double)wo->lo, (double)wo->hi), wp = p999(wo);
	cJSON_AddNumberToObject(o, "weight_absmax", wabs);
	cJSON_AddNumberToObject(o, "weight_p999", wp);
	cJSON_AddItemToObject(o, "weight_outlier_ratio", num_or_null(wp > 0 ? r2(wabs / wp) : NAN));
	double aabs = fmax(-(double)aobs->lo, (double)aobs->hi), ap = p999(aobs);
	cJSON_AddNumberToObject(o, "act_absmax", aabs);
	cJSON_AddNumberToObject(o, "act_p999", ap);
	cJSON_AddItemToObject(o, "outlier_ratio", num_or_null(ap > 0 ? r2(aabs / ap) : NAN));
	/* LLM-style outliers live in a few channels holding a few % of all
	 * values, where absmax / p99.9 cannot see them: the largest channel's
	 * absmax over the median channel's does */
	cJSON_AddItemToObject(o, "channel_outlier_ratio", num_or_null(r2(channel_outlier_ratio(aobs))));
	cJSON_AddItemToObject(o, "weight_sqnr_db", num_or_null(r2(ql->weight_sqnr_db)));
	double osqnr = !layer_quantized(ql) ? INFINITY : acc->noise > 0 ? 10 * log10(acc->sig / acc->noise) : INFINITY;
	double csqnr = !layer_quantized(ql) ? INFINITY : channel_sqnr_db(acc->csig, acc->cnoise, L->out_c);
	*out_sqnr = csqnr;
	cJSON_AddItemToObject(o, "output_sqnr_db", num_or_null(r2(osqnr)));
	cJSON_AddItemToObject(o, "output_channel_sqnr_db", num_or_null(r2(csqnr)));
	/* the weights' per-channel SQNR, for the same reason */
	double *ws2 = calloc((size_t)L->out_c * 2, sizeof *ws2);
	if (!ws2) {
		free(wo);
		cJSON_Delete(o);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int c = 0; c < L->out_c; c++)
		for (int k = 0; k < L->k; k++) {
			double w = L->w[(size_t)c * L->k + k], d = w - ql->wfq[(size_t)c * L->k + k];
			ws2[c] += w * w, ws2[L->out_c + c] += d * d;
		}
	cJSON_AddItemToObject(o, "weight_channel_sqnr_db", num_or_null(r2(channel_sqnr_db(ws2, ws2 + L->out_c, L->out_c))));
	free(ws2);

	float wlo = 0, whi = 0, alo = 0, ahi = 0;
	int wg = weight_grid(ql, r, &wlo, &whi), ag = act_grid(ql, &alo, &ahi);
	if (wg < 0) {
		free(wo);
		cJSON_Delete(o);
		snprintf(err, errlen, "layer %s: out of memory", L->name);
		return NULL;
	}
	cJSON *fc = cJSON_AddObjectToObject(o, "fraction_clipped");
	cJSON_AddItemToObject(fc, "weights", wg ? cJSON_CreateNumber(r6((double)ql->weight_clipped / (double)nw)) : cJSON_CreateNull());
	cJSON_AddItemToObject(fc, "acts", ag ? cJSON_CreateNumber(acc->aseen > 0 ? r6(acc->aclip / acc->aseen) : 0)
					     : cJSON_CreateNull());
	cJSON *h = cJSON_AddObjectToObject(o, "hist");
	cJSON_AddItemToObject(h, "weights", hist_json(wo));
	cJSON_AddItemToObject(h, "acts", hist_json(aobs));
	cJSON *clip = cJSON_AddObjectToObject(h, "clip");
	cJSON_AddItemToObject(clip, "weights", range_json(wg, wlo, whi));
	cJSON_AddItemToObject(clip, "acts", range_json(ag, alo, ahi));
	free(wo);
	return o;
}

cJSON *eng_session_sensitivity(eng_session *s, const eng_recipe *r, int full, eng_stage_fn progress, void *user,
			       volatile int *cancel, char *err, size_t errlen)
{
	double t_start = sess_now_ms(), t_stats = 0, t_deltas = 0;
	int nq = s->m->nq, n = s->n;
	full = full != 0;
	if (errlen)
		err[0] = 0;
	if (nq < 1 || n < 1) {
		snprintf(err, errlen, "%s: no quantizable layer or no evaluation sample", s->m->name);
		return NULL;
	}
	if (r->kv != KQ_FMT_F32) {
		if (s->fam->kv_cache)
			snprintf(err, errlen, "--kv %s: per-layer sensitivity covers the linear layers only; use --kv fp32 "
					      "(precis eval measures the KV cache)", kq_fmt_get(r->kv)->name);
		else
			snprintf(err, errlen, "--kv %s: the %s family has no KV cache (decoder models only)",
				 kq_fmt_get(r->kv)->name, s->fam->name);
		return NULL;
	}
	if (r->attn != KQ_FMT_F32) { /* per-layer deltas are of the linear layers; eval measures --attn */
		snprintf(err, errlen, "--attn %s: per-layer sensitivity covers the linear layers only; use --attn fp32 "
				      "(precis eval measures the attention products)", kq_fmt_get(r->attn)->name);
		return NULL;
	}
	char *key = recipe_key(r);
	if (!key) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cJSON *root = cache_get(s, key, full);
	if (root) {
		free(key);
		return root;
	}

	eng_qmodel *qm = NULL;
	float *cx = NULL;
	layer_acc *acc = NULL;
	variant vfull = {0}, *vab = NULL, *val = NULL, **vlist = NULL;
	double *sqnr = NULL, *accbuf = NULL;
	rank_key *rk = NULL;
	int *quantized = NULL, ncx = 0;
	cJSON *layers = NULL;

	/* activation statistics are defined on the calibration set, so it is
	 * calibrated even when the recipe's activations are fp32 or dynamic */
	int fresh = 0;
	const eng_observer *obs = sess_calibrate(s, r, cancel, progress, user, &fresh, err, errlen);
	if (!obs)
		goto fail;
	double t0 = sess_now_ms();
	if (!(qm = eng_qmodel_create(s->m, r, obs, err, errlen)))
		goto fail;
	if (sess_lanes_bind(s, qm) || sess_calib_draw(s, r, &cx, &ncx, err, errlen)) {
		if (errlen && !*err)
			snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (progress)
		progress(user, "statistics", 0);
	size_t chans = 0;
	for (int i = 0; i < nq; i++)
		chans += (size_t)eng_model_qlayer(s->m, i)->out_c;
	acc = calloc((size_t)nq, sizeof *acc);
	sqnr = calloc((size_t)nq, sizeof *sqnr);
	accbuf = calloc(chans * 2, sizeof *accbuf);
	for (int i = 0, off = 0; acc && accbuf && i < nq; i++) {
		acc[i].csig = accbuf + off;
		acc[i].cnoise = accbuf + off + eng_model_qlayer(s->m, i)->out_c;
		off += 2 * eng_model_qlayer(s->m, i)->out_c;
	}
	if (!acc || !sqnr || !accbuf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (calib_stats(s, qm, cx, ncx, acc, err, errlen))
		goto fail;
	free(cx), cx = NULL;
	layers = cJSON_CreateArray();
	for (int i = 0; i < nq; i++) {
		cJSON *l = layer_stats_json(eng_qmodel_layer(qm, i), r, &obs[i], &acc[i], &sqnr[i], err, errlen);
		if (!l)
			goto fail;
		cJSON_AddItemToArray(layers, l);
	}
	if (progress)
		progress(user, "statistics", 1);
	t_stats = sess_now_ms() - t0;

	rk = calloc((size_t)nq, sizeof *rk);
	if (!rk) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < nq; i++) {
		rk[i].idx = i;
		rk[i].quantized = layer_quantized(eng_qmodel_layer(qm, i));
		rk[i].sqnr = isnan(sqnr[i]) ? INFINITY : sqnr[i]; /* no signal: nothing to rank by */
	}
	t0 = sess_now_ms();
	if (full) {
		const eng_metric_info *mi = eng_metric_get(s->metric);
		double sign = mi->higher_is_better ? 1 : -1;
		int nquant = 0, nv = 0;
		vab = calloc((size_t)nq, sizeof *vab);
		val = calloc((size_t)nq, sizeof *val);
		vlist = calloc((size_t)2 * nq + 1, sizeof *vlist);
		quantized = calloc((size_t)nq, sizeof *quantized);
		if (!vab || !val || !vlist || !quantized || variant_alloc(&vfull, n, s->fam->lm)) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		vlist[nv++] = &vfull;
		for (int i = 0; i < nq; i++) {
			nquant += quantized[i] = rk[i].quantized;
			if (variant_alloc(&vab[i], n, s->fam->lm) || variant_alloc(&val[i], n, s->fam->lm)) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			vlist[nv++] = &vab[i];
			vlist[nv++] = &val[i];
		}
		/* a cold session's fp32 reference comes from the replay's recording
		 * of the same fp32 forward, instead of a pass of its own */
		int adopt_ref = !s->pred_ref && s->fam->replayable;
		if (!adopt_ref && sess_reference(s, progress, user, cancel, err, errlen))
			goto fail;
		if (adopt_ref) {
			s->pred_ref = malloc((size_t)n * sizeof *s->pred_ref);
			s->conf_ref = malloc((size_t)n * sizeof *s->conf_ref);
			s->ref_ms = 0;
		}
		if ((adopt_ref && (!s->pred_ref || !s->conf_ref)) ||
		    run_variants(s, r, obs, qm, quantized, &vfull, val, vab, adopt_ref ? s->pred_ref : NULL, s->conf_ref,
				 &s->ref_ms, progress, user, 0, 1, cancel, err, errlen)) {
			if (adopt_ref) { /* no half-made reference stays in the session */
				free(s->pred_ref), free(s->conf_ref);
				s->pred_ref = NULL, s->conf_ref = NULL;
			}
			if (errlen && !*err)
				snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (int i = 0; i < nq; i++)
			if (!quantized[i]) {
				/* fp32 under r: alone is the reference, all-but the full recipe */
				memcpy(val[i].pred, s->pred_ref, (size_t)n * sizeof *val[i].pred);
				memcpy(val[i].conf, s->conf_ref, (size_t)n * sizeof *val[i].conf);
				memcpy(vab[i].pred, vfull.pred, (size_t)n * sizeof *vab[i].pred);
				memcpy(vab[i].conf, vfull.conf, (size_t)n * sizeof *vab[i].conf);
				if (s->fam->lm) {
					memcpy(val[i].value, s->value_ref, (size_t)n * sizeof *val[i].value);
					memcpy(vab[i].value, vfull.value, (size_t)n * sizeof *vab[i].value);
				}
			}
		if (bootstrap_all(s, vlist, nv, err, errlen))
			goto fail;
		if (progress)
			progress(user, "sensitivity", 1);
		for (int i = 0; i < nq; i++) {
			cJSON *l = cJSON_GetArrayItem(layers, i);
			int attributed = 0;
			for (int k = 0; k < n; k++)
				attributed += vfull.pred[k] != s->pred_ref[k] && vab[i].pred[k] == s->pred_ref[k];
			/* SPEC §5's flat fields, then the full picture of each variant */
			cJSON_AddNumberToObject(l, "delta_alone", r6(val[i].all.delta));
			cJSON *ci = cJSON_AddArrayToObject(l, "ci95");
			cJSON_AddItemToArray(ci, num_or_null(r6(val[i].all.lo)));
			cJSON_AddItemToArray(ci, num_or_null(r6(val[i].all.hi)));
			cJSON_AddNumberToObject(l, "delta_all_but", r6(vab[i].all.delta));
			ci = cJSON_AddArrayToObject(l, "ci95_all_but");
			cJSON_AddItemToArray(ci, num_or_null(r6(vab[i].all.lo)));
			cJSON_AddItemToArray(ci, num_or_null(r6(vab[i].all.hi)));
			cJSON_AddItemToObject(l, "alone", variant_json(s, &val[i]));
			cJSON_AddItemToObject(l, "all_but", variant_json(s, &vab[i]));
			cJSON_AddNumberToObject(l, "flips_attributed", attributed);
			rk[i].recovery = sign * (vab[i].all.delta - vfull.all.delta);
			rk[i].alone = sign * val[i].all.delta;
		}
		qsort(rk, (size_t)nq, sizeof *rk, rank_full_cmp);
	} else
		qsort(rk, (size_t)nq, sizeof *rk, rank_stats_cmp);
	t_deltas = sess_now_ms() - t0;

	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "precis", PACKAGE_VERSION);
	cJSON_AddItemToObject(root, "model", sess_model_json(s));
	cJSON_AddItemToObject(root, "recipe", eng_recipe_to_json(r));
	const eng_metric_info *mi = eng_metric_get(s->metric);
	cJSON_AddStringToObject(root, "metric", mi->name);
	cJSON_AddBoolToObject(root, "higher_is_better", mi->higher_is_better);
	cJSON_AddBoolToObject(root, "full", full);
	cJSON_AddBoolToObject(root, "cached", 0);
	cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
	char set[32];
	int cn = 0;
	sess_calib_spec(s, r, set, &cn, err, errlen);
	cJSON_AddStringToObject(cal, "set", set);
	cJSON_AddNumberToObject(cal, "n", cn);
	cJSON_AddNumberToObject(cal, "seed", (double)s->seed);
	if (full) {
		cJSON *ev = cJSON_AddObjectToObject(root, "eval");
		cJSON_AddNumberToObject(ev, "n", n);
		char ci_method[160];
		if (s->fam->lm)
			snprintf(ci_method, sizeof ci_method,
				 "paired cluster bootstrap over the %d evaluation windows of %d tokens, %d resamples",
				 n / s->chunk, s->chunk, s->resamples);
		else
			snprintf(ci_method, sizeof ci_method, "paired bootstrap, %d resamples", s->resamples);
		cJSON_AddStringToObject(ev, "ci_method", ci_method);
		cJSON_AddStringToObject(ev, "set", s->eval_desc);
		cJSON_AddItemToObject(root, "full_recipe", variant_json(s, &vfull));
	}
	cJSON_AddStringToObject(root, "rank_rule",
				full ? "most sensitive first: largest recovery (delta_all_but - the full recipe's delta, "
				       "in the metric's better direction), then worst delta_alone, then lowest output channel SQNR"
				     : "most sensitive first: lowest output channel SQNR on the calibration set");
	cJSON *ranking = cJSON_AddArrayToObject(root, "ranking");
	for (int k = 0; k < nq; k++) {
		cJSON_AddItemToArray(ranking, cJSON_CreateString(eng_model_qlayer(s->m, rk[k].idx)->name));
		cJSON_AddNumberToObject(cJSON_GetArrayItem(layers, rk[k].idx), "rank", k + 1);
	}
	cJSON_AddItemToObject(root, "layers", layers);
	layers = NULL;
	cJSON *tm = cJSON_AddObjectToObject(root, "timing");
	cJSON_AddBoolToObject(tm, "calibrated", fresh);
	cJSON_AddNumberToObject(tm, "statistics_ms", r2(t_stats));
	cJSON_AddNumberToObject(tm, "deltas_ms", r2(t_deltas));
	cJSON_AddNumberToObject(root, "elapsed_ms", r2(sess_now_ms() - t_start));
	cache_put(s, key, full, root);
	goto out;
fail:
	root = NULL;
	if (errlen && !*err)
		snprintf(err, errlen, "sensitivity failed");
out:
	sess_lanes_bind(s, NULL);
	eng_qmodel_destroy(qm);
	for (int i = 0; i < nq && vab; i++)
		variant_free(&vab[i]);
	for (int i = 0; i < nq && val; i++)
		variant_free(&val[i]);
	variant_free(&vfull);
	cJSON_Delete(layers);
	free(vab), free(val), free(vlist), free(quantized), free(rk), free(sqnr), free(acc), free(accbuf), free(cx), free(key);
	return root;
}
