/* SPDX-License-Identifier: GPL-3.0-or-later */
/* qmodel.c - quantizing a model by a recipe, and running it.
 *
 * DESIGN: every quantizable layer gets (a) the weights quantized exactly
 * once, both packed for its kernel and as fake-quantized fp32, and (b) the
 * activation parameters derived from its calibration observer.  The path a
 * layer runs on follows from (weight format, activation format,
 * granularity): native kernels where kq has them, otherwise an emulated
 * path (quantize-dequantize in fp32, then OpenBLAS) that is flagged so
 * every report can say so.  The fake-quant backend runs the same recipe
 * entirely in fp32 and is the reference the kernels are checked against.
 * A qmodel is immutable once built; each thread runs it through its own
 * eng_qrunner, whose scratch buffers grow on demand.
 *
 * SmoothQuant: a smoothed layer keeps W s (column j times the s of its
 * input channel) and quantizes that as the recipe says, and divides its
 * input by s per channel right where the input is quantized (before the
 * static or per-row int8 quantizer, before fp8 rounding, or before the
 * fp32 GEMM when activations stay fp32), so (x / s)(W s)^T = x W^T up to
 * rounding.  Its calibrated range was observed on x / s already (the
 * observer's pass 2 bins the smoothed values).  A smoothed layer never
 * takes its input as codes from the previous layer (plan_u8): the divide
 * is per channel, which a per-tensor requantization cannot express.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_qmodel.h"

struct eng_qmodel {
	const eng_model *m;
	eng_qlayer *q;
	int emulated;
	size_t weight_bytes;
};

struct eng_qrunner {
	eng_qmodel *qm;
	kq_ctx *ctx;
	float *fbuf;
	size_t fcap;
	uint8_t *ubuf, *ucol;
	size_t ucap, ucolcap;
	int32_t *ibuf;
	size_t icap;
	float *rscale;
	int32_t *rzp;
	size_t rcap, rzcap;
};

static int grow(void **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	free(*p);
	*p = malloc(need);
	*cap = *p ? need : 0;
	return *p ? 0 : -1;
}

static int is_int(kq_fmt f)
{
	return f == KQ_FMT_I8 || f == KQ_FMT_I4;
}

static kq_qspec act_spec(int symmetric)
{
	kq_qspec s = {8, symmetric, 1, KQ_GRAN_TENSOR, 0};
	return s;
}

static double sqnr_db(const float *x, const float *y, size_t n)
{
	double s = 0, e = 0;
	for (size_t i = 0; i < n; i++) {
		s += (double)x[i] * x[i];
		e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
	}
	return e > 0 ? 10 * log10(s / e) : INFINITY;
}

/* ------------------------------------------------------------ SmoothQuant */

int eng_smooth_nchan(const eng_layer *L)
{
	return L->op == ENG_CONV2D ? L->in_c : L->k;
}

void eng_smooth_scales(const eng_layer *L, const float *xmax, double alpha, float *s)
{
	int nc = eng_smooth_nchan(L), k = L->k;
	for (int c = 0; c < nc; c++)
		s[c] = 0;
	/* s holds each channel's weight absmax first; NaN weights are ignored */
	for (size_t i = 0; i < (size_t)L->out_c; i++)
		for (int j = 0, c = 0; j < k; j++) {
			float a = fabsf(L->w[i * k + j]);
			s[c] = a > s[c] ? a : s[c];
			if (++c == nc)
				c = 0;
		}
	for (int c = 0; c < nc; c++) {
		double wm = s[c], xm = xmax[c];
		float v = 1;
		if (alpha > 0 && xm > 0 && wm > 0 && isfinite(xm) && isfinite(wm))
			v = (float)(pow(xm, alpha) / pow(wm, 1 - alpha));
		/* x / s and W s must both stay finite */
		s[c] = v > 0 && isfinite(v) && isfinite(1.0f / v) ? v : 1;
	}
}

eng_observer *eng_qmodel_observers_create(const eng_model *m)
{
	size_t floats = 0;
	for (int i = 0; i < m->nq; i++)
		floats += 3 * (size_t)eng_smooth_nchan(eng_model_qlayer(m, i));
	/* one block, so that whoever caches the observers frees them with free() */
	eng_observer *obs = malloc((size_t)m->nq * sizeof *obs + floats * sizeof(float));
	if (!obs)
		return NULL;
	float *store = (float *)(obs + m->nq);
	for (int i = 0; i < m->nq; i++) {
		int nc = eng_smooth_nchan(eng_model_qlayer(m, i));
		eng_obs_init_chan(&obs[i], nc, store);
		store += 3 * (size_t)nc;
	}
	return obs;
}

int eng_qmodel_observers_smooth(const eng_model *m, double alpha, eng_observer *obs, char *err, size_t errlen)
{
	if (!(alpha > 0))
		return 0;
	int maxc = 1;
	for (int i = 0; i < m->nq; i++) {
		int nc = eng_smooth_nchan(eng_model_qlayer(m, i));
		maxc = nc > maxc ? nc : maxc;
	}
	float *xmax = malloc(2 * (size_t)maxc * sizeof *xmax), *sc = xmax + maxc;
	if (!xmax) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < m->nq; i++) {
		const eng_layer *L = eng_model_qlayer(m, i);
		int nc = eng_smooth_nchan(L);
		if (obs[i].nchan != nc) {
			snprintf(err, errlen, "--smooth %g: layer %s: the calibration kept no per-channel statistics of its input", alpha,
				 L->name);
			free(xmax);
			return -1;
		}
		for (int c = 0; c < nc; c++)
			xmax[c] = eng_obs_chan_absmax(&obs[i], c);
		eng_smooth_scales(L, xmax, alpha, sc);
		if (eng_obs_set_divisors(&obs[i], sc, alpha)) {
			snprintf(err, errlen, "--smooth %g: layer %s: the smoothed calibration range overflows", alpha, L->name);
			free(xmax);
			return -1;
		}
	}
	free(xmax);
	return 0;
}

/* x / s per channel, channels fastest (n a multiple of nchan); out may be x. */
static void smooth_divide(const float *x, float *out, size_t n, const float *s, int nchan)
{
	for (size_t i = 0; i < n; i += (size_t)nchan)
		for (int c = 0; c < nchan; c++)
			out[i + c] = x[i + c] / s[c];
}

/* Takes the layer's divisors from its smoothed observer and builds W s. */
static int smooth_layer(eng_qlayer *ql, const eng_recipe *r, const eng_observer *obs, char *err, size_t errlen)
{
	const eng_layer *L = ql->L;
	int nc = eng_smooth_nchan(L), k = L->k;
	if (!obs || obs->smooth != r->smooth || obs->nchan != nc) {
		snprintf(err, errlen,
			 "--smooth %g: layer %s has no calibration statistics smoothed with this alpha "
			 "(eng_qmodel_observers_create, then eng_qmodel_observers_smooth between the passes)",
			 r->smooth, L->name);
		return -1;
	}
	ql->smooth_s = malloc((size_t)nc * sizeof *ql->smooth_s);
	ql->wsmooth = malloc((size_t)L->out_c * k * sizeof *ql->wsmooth);
	if (!ql->smooth_s || !ql->wsmooth) {
		snprintf(err, errlen, "layer %s: out of memory", L->name);
		return -1;
	}
	memcpy(ql->smooth_s, obs->sdiv, (size_t)nc * sizeof *ql->smooth_s);
	ql->smooth_nchan = nc;
	ql->smooth_alpha = r->smooth;
	ql->smooth_min = ql->smooth_max = ql->smooth_s[0];
	for (int c = 1; c < nc; c++) {
		ql->smooth_min = fminf(ql->smooth_min, ql->smooth_s[c]);
		ql->smooth_max = fmaxf(ql->smooth_max, ql->smooth_s[c]);
	}
	for (size_t i = 0; i < (size_t)L->out_c; i++)
		for (int j = 0, c = 0; j < k; j++) {
			ql->wsmooth[i * k + j] = L->w[i * k + j] * ql->smooth_s[c];
			if (++c == nc)
				c = 0;
		}
	return 0;
}

/* The weights the layer quantizes: W, or W s when smoothed. */
static const float *layer_w(const eng_qlayer *ql)
{
	return ql->wsmooth ? ql->wsmooth : ql->L->w;
}

/* Integer weights: parameters per slice (minmax, or mse-clipped), values,
 * fake-quant copy.  Returns 0 or -1. */
static int quantize_int_weights(eng_qlayer *ql, const eng_recipe *r, int8_t *q, kq_qparams **pout, kq_qspec *sp,
				char *err, size_t errlen)
{
	const eng_layer *L = ql->L;
	const float *W = layer_w(ql);
	int n = L->out_c, k = L->k;
	kq_qspec spec = {ql->wfmt == KQ_FMT_I8 ? 8 : 4, r->weight_symmetric, 0, r->gran, r->group};
	size_t np = kq_qspec_nparams(&spec, n, k);
	kq_qparams *p = malloc(np * sizeof *p);
	int qmin, qmax, st;
	if (!p || kq_qspec_range(&spec, &qmin, &qmax)) {
		free(p);
		snprintf(err, errlen, "layer %s: out of memory", L->name);
		return -1;
	}
	st = kq_qparams_minmax(W, n, k, &spec, p);
	if (!st && r->calib.kind == ENG_CAL_MSE) {
		/* mse applies to weights too: clip each slice where that lowers its error */
		int slice_len = spec.gran == KQ_GRAN_TENSOR ? n * k : spec.gran == KQ_GRAN_CHANNEL ? k : spec.group;
		int per_row = spec.gran == KQ_GRAN_TENSOR ? 1 : spec.gran == KQ_GRAN_CHANNEL ? 1 : (k + spec.group - 1) / spec.group;
		for (size_t i = 0; i < np && !st; i++) {
			int row = spec.gran == KQ_GRAN_TENSOR ? 0 : (int)(i / per_row), g = (int)(i % per_row);
			const float *x = W + (size_t)row * k + (size_t)g * (spec.gran == KQ_GRAN_GROUP ? spec.group : 0);
			int len = spec.gran == KQ_GRAN_GROUP && (g + 1) * spec.group > k ? k - g * spec.group : slice_len;
			float lo = 0, hi = 0;
			for (int j = 0; j < len; j++)
				lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
			float ratio = eng_mse_clip(x, (size_t)len, qmax - qmin, spec.symmetric);
			st = kq_qparams_from_range(lo * ratio, hi * ratio, qmin, qmax, spec.symmetric, &p[i]);
		}
	}
	if (!st)
		st = kq_quantize(W, n, k, &spec, p, q, &ql->weight_clipped);
	if (!st)
		st = kq_dequantize(q, n, k, &spec, p, ql->wfq);
	if (st) {
		free(p);
		snprintf(err, errlen, "layer %s: weight quantization failed (%s)", L->name, kq_strerror(st));
		return -1;
	}
	*pout = p;
	*sp = spec;
	return 0;
}

/* The per-row value of a per-slice parameter array. */
static kq_qparams row_param(const kq_qparams *p, const kq_qspec *s, int row, int k)
{
	return s->gran == KQ_GRAN_TENSOR ? p[0] : s->gran == KQ_GRAN_CHANNEL ? p[row] : p[(size_t)row * ((k + s->group - 1) / s->group)];
}

static int prepare_layer(eng_qlayer *ql, const eng_recipe *r, const eng_observer *obs, char *err,
			 size_t errlen)
{
	const eng_layer *L = ql->L;
	int n = L->out_c, k = L->k;
	const eng_override *ov = eng_recipe_override(r, L->name);
	ql->keep = ov && ov->keep;
	ql->wfmt = ql->keep ? KQ_FMT_F32 : ov ? ov->weights : r->weights;
	ql->afmt = ql->keep ? KQ_FMT_F32 : r->acts;
	ql->token = r->act_token;
	ql->act_symmetric = r->act_symmetric;
	/* kept layers stay exactly fp32; every other layer is smoothed, also one
	 * whose weights an override leaves fp32 (they absorb s for free) */
	if (r->smooth > 0 && !ql->keep && smooth_layer(ql, r, obs, err, errlen))
		return -1;
	const float *W = layer_w(ql);
	ql->wfq = malloc((size_t)n * k * sizeof *ql->wfq);
	if (!ql->wfq) {
		snprintf(err, errlen, "layer %s: out of memory", L->name);
		return -1;
	}
	int group_gran = r->gran == KQ_GRAN_GROUP;

	/* activations */
	if (ql->afmt != KQ_FMT_F32 && !ql->token) {
		if (!obs) {
			snprintf(err, errlen, "layer %s: activations need calibration", L->name);
			return -1;
		}
		/* fp8 ranges use the same clipping search as 8-bit integers */
		eng_obs_range(obs, &r->calib, 255, r->act_symmetric || ql->afmt == KQ_FMT_E4M3, &ql->alo, &ql->ahi);
	}
	if (ql->afmt == KQ_FMT_I8 && !ql->token) {
		int qmin, qmax;
		kq_qspec as = act_spec(r->act_symmetric);
		kq_qspec_range(&as, &qmin, &qmax);
		if (kq_qparams_from_range(ql->alo, ql->ahi, qmin, qmax, r->act_symmetric, &ql->act) != KQ_OK) {
			snprintf(err, errlen, "layer %s: calibrated activation range [%g, %g] is not usable", L->name, ql->alo, ql->ahi);
			return -1;
		}
	}
	if (ql->afmt == KQ_FMT_E4M3) {
		float amax = fmaxf(fabsf(ql->alo), fabsf(ql->ahi));
		ql->fp8_scale = amax > 0 ? amax / kq_fmt_get(KQ_FMT_E4M3)->max_finite : 1.0f;
	}

	/* weights */
	int st = 0;
	if (ql->wfmt == KQ_FMT_F32) {
		memcpy(ql->wfq, W, (size_t)n * k * sizeof *ql->wfq);
		ql->wpath = ENG_W_F32;
		ql->weight_bytes = (size_t)n * k * 4;
	} else if (is_int(ql->wfmt)) {
		int8_t *q = malloc((size_t)n * k);
		kq_qparams *p = NULL;
		kq_qspec spec;
		if (!q || quantize_int_weights(ql, r, q, &p, &spec, err, errlen)) {
			free(q);
			if (!q)
				snprintf(err, errlen, "layer %s: out of memory", L->name);
			return -1;
		}
		float *scale = malloc((size_t)n * sizeof *scale);
		int32_t *zp = malloc((size_t)n * sizeof *zp);
		if (ql->wfmt == KQ_FMT_I8 && !group_gran && scale && zp) {
			for (int i = 0; i < n; i++) {
				kq_qparams rp = row_param(p, &spec, i, k);
				scale[i] = rp.scale;
				zp[i] = rp.zero_point;
			}
			ql->w8 = kq_s8w_pack(q, n, k, scale, r->weight_symmetric ? NULL : zp, L->b, KQ_ISA_AUTO);
			ql->wpath = ENG_W_S8;
			st = ql->w8 ? 0 : -1;
			if (!st) {
				ql->weight_bytes = kq_s8w_bytes(ql->w8);
				ql->wscale = scale, scale = NULL;
				ql->wsum = malloc((size_t)n * sizeof *ql->wsum);
				for (int i = 0; ql->wsum && i < n; i++) {
					int64_t s = 0;
					for (int j = 0; j < k; j++)
						s += q[(size_t)i * k + j] - zp[i];
					ql->wsum[i] = (int32_t)s;
				}
				st = ql->wsum ? 0 : -1;
			}
		} else if (ql->wfmt == KQ_FMT_I4 && scale && zp) {
			int g = group_gran ? r->group : 32, ng = (k + g - 1) / g;
			float *gs = malloc((size_t)n * ng * sizeof *gs);
			int8_t *gz = malloc((size_t)n * ng);
			for (int i = 0; gs && gz && i < n; i++)
				for (int j = 0; j < ng; j++) {
					kq_qparams rp = group_gran ? p[(size_t)i * ng + j] : row_param(p, &spec, i, k);
					gs[(size_t)i * ng + j] = rp.scale;
					gz[(size_t)i * ng + j] = (int8_t)rp.zero_point;
				}
			ql->w4 = gs && gz ? kq_q4w_pack(q, n, k, g, gs, r->weight_symmetric ? NULL : gz, L->b, KQ_ISA_AUTO) : NULL;
			free(gs), free(gz);
			ql->wpath = ql->afmt == KQ_FMT_I8 && !ql->token ? ENG_W_Q4_S8 : ENG_W_Q4_F32;
			st = ql->w4 ? 0 : -1;
			if (!st)
				ql->weight_bytes = kq_q4w_bytes(ql->w4);
		} else {
			ql->wpath = ENG_W_DQ; /* int8 per-group: no kernel with group scales */
			ql->weight_bytes = (size_t)n * k + kq_qspec_nparams(&spec, n, k) * 8;
		}
		free(scale), free(zp), free(q), free(p);
		if (st) {
			snprintf(err, errlen, "layer %s: packing %s weights failed", L->name, kq_fmt_get(ql->wfmt)->name);
			return -1;
		}
	} else {
		/* float formats: fp16/bf16 need no scale; fp8 maps each channel's
		 * (or the tensor's) absmax to the format's largest value */
		const kq_fmt_info *fi = kq_fmt_get(ql->wfmt);
		int fp8 = ql->wfmt == KQ_FMT_E4M3 || ql->wfmt == KQ_FMT_E5M2;
		int ng = group_gran ? (k + r->group - 1) / r->group : 1;
		float *scale = malloc((size_t)n * ng * sizeof *scale);
		if (!scale) {
			snprintf(err, errlen, "layer %s: out of memory", L->name);
			return -1;
		}
		float tmax = 0;
		for (size_t i = 0; i < (size_t)n * k; i++)
			tmax = fmaxf(tmax, fabsf(W[i]));
		for (int i = 0; i < n; i++)
			for (int g = 0; g < ng; g++) {
				int j0 = group_gran ? g * r->group : 0, j1 = group_gran && j0 + r->group < k ? j0 + r->group : k;
				float amax = 0;
				for (int j = j0; j < j1; j++)
					amax = fmaxf(amax, fabsf(W[(size_t)i * k + j]));
				if (r->gran == KQ_GRAN_TENSOR)
					amax = tmax;
				float s = fp8 && amax > 0 ? amax / fi->max_finite : 1.0f;
				scale[(size_t)i * ng + g] = s;
				for (int j = j0; j < j1; j++)
					ql->wfq[(size_t)i * k + j] = fi->decode(fi->encode(W[(size_t)i * k + j] / s)) * s;
			}
		if (!group_gran) {
			ql->wf = kq_fw_pack(ql->wfmt, W, n, k, scale, L->b, KQ_ISA_AUTO);
			ql->wpath = ENG_W_FW;
			if (!ql->wf) {
				free(scale);
				snprintf(err, errlen, "layer %s: packing %s weights failed", L->name, fi->name);
				return -1;
			}
			ql->weight_bytes = kq_fw_bytes(ql->wf);
		} else {
			ql->wpath = ENG_W_DQ;
			ql->weight_bytes = (size_t)n * k * (size_t)fi->bits / 8 + (size_t)n * ng * 4;
		}
		free(scale);
	}
	if (ql->smooth_s) {
		/* the layer applies Q(W s) / s to x: that is what to compare with W */
		float *eff = malloc((size_t)n * k * sizeof *eff);
		if (!eff) {
			snprintf(err, errlen, "layer %s: out of memory", L->name);
			return -1;
		}
		for (size_t i = 0; i < (size_t)n; i++)
			for (int j = 0, c = 0; j < k; j++) {
				eff[i * k + j] = ql->wfq[i * k + j] / ql->smooth_s[c];
				if (++c == ql->smooth_nchan)
					c = 0;
			}
		ql->weight_sqnr_db = sqnr_db(L->w, eff, (size_t)n * k);
		free(eff);
	} else
		ql->weight_sqnr_db = sqnr_db(L->w, ql->wfq, (size_t)n * k);

	/* activation path, given the weight path */
	if (ql->afmt == KQ_FMT_F32)
		ql->apath = ENG_A_F32;
	else if (ql->afmt == KQ_FMT_E4M3)
		ql->apath = ENG_A_FAKE_FP8;
	else if ((ql->wpath == ENG_W_S8) || (ql->wpath == ENG_W_Q4_S8))
		ql->apath = ENG_A_S8;
	else
		ql->apath = ENG_A_FAKE_S8;
	if (ql->wpath == ENG_W_S8 && ql->apath != ENG_A_S8) {
		/* int8 weights under fp activations: no such kernel, dequantize */
		kq_s8w_destroy(ql->w8);
		ql->w8 = NULL;
		ql->wpath = ENG_W_DQ;
	}
	ql->emulated = ql->apath == ENG_A_FAKE_FP8 || ql->apath == ENG_A_FAKE_S8 || ql->wpath == ENG_W_DQ ||
		       (ql->wpath == ENG_W_FW && kq_fw_emulated(ql->wf));
	return 0;
}

static int static_s8_input(const eng_qlayer *ql)
{
	return ql->apath == ENG_A_S8 && !ql->token;
}

/* Where an int8 layer feeds another int8 layer through only ReLU, max-pool
 * and flatten, the first requantizes its output straight to the second's
 * activation codes (kq_gemm_s8_u8) and the codes flow through the pooling:
 * the same values as quantizing the fp32 tensor later, since quantization
 * is monotonic, without the fp32 round trip.  Two quantizable layers back
 * to back in `layers` are not taken as such an edge: the sequence families
 * list their linear layers that way, with LayerNorm, attention or gates
 * between them that the list does not show (eng_seq.h), and those need
 * fp32 outputs. */
static void plan_u8(eng_qmodel *qm)
{
	const eng_model *m = qm->m;
	for (int i = 0; i < m->nlayers; i++) {
		const eng_layer *L = &m->layers[i];
		if (L->qindex < 0)
			continue;
		eng_qlayer *a = &qm->q[L->qindex];
		int j = i + 1;
		while (j < m->nlayers && (m->layers[j].op == ENG_RELU || m->layers[j].op == ENG_MAXPOOL2D ||
					  m->layers[j].op == ENG_FLATTEN))
			j++;
		if (j == i + 1 || j == m->nlayers || m->layers[j].qindex < 0 || a->wpath != ENG_W_S8 || !static_s8_input(a))
			continue;
		eng_qlayer *b = &qm->q[m->layers[j].qindex];
		if (!static_s8_input(b) || b->smooth_s)
			continue;
		a->out_u8 = 1;
		a->out_q = b->act;
		b->in_u8 = 1;
	}
}

eng_qmodel *eng_qmodel_create(const eng_model *m, const eng_recipe *r, const eng_observer *obs, char *err,
			      size_t errlen)
{
	for (int i = 0; i < r->noverrides; i++) {
		int found = 0;
		for (int j = 0; j < m->nq; j++)
			found |= strcmp(eng_model_qlayer(m, j)->name, r->overrides[i].layer) == 0;
		if (!found) {
			char names[256] = "";
			for (int j = 0; j < m->nq; j++) {
				strncat(names, j ? ", " : "", sizeof names - strlen(names) - 1);
				strncat(names, eng_model_qlayer(m, j)->name, sizeof names - strlen(names) - 1);
			}
			snprintf(err, errlen, "override '%s': %s has no such layer (layers: %s)", r->overrides[i].layer, m->name,
				 names);
			return NULL;
		}
	}
	eng_qmodel *qm = calloc(1, sizeof *qm);
	if (!qm || !(qm->q = calloc((size_t)m->nq, sizeof *qm->q))) {
		free(qm);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	qm->m = m;
	for (int i = 0; i < m->nq; i++) {
		eng_qlayer *ql = &qm->q[i];
		ql->L = eng_model_qlayer(m, i);
		if (prepare_layer(ql, r, obs ? &obs[i] : NULL, err, errlen)) {
			eng_qmodel_destroy(qm);
			return NULL;
		}
		qm->emulated |= ql->emulated;
		qm->weight_bytes += ql->weight_bytes;
	}
	plan_u8(qm);
	return qm;
}

void eng_qmodel_destroy(eng_qmodel *qm)
{
	if (!qm)
		return;
	for (int i = 0; qm->q && i < qm->m->nq; i++) {
		eng_qlayer *ql = &qm->q[i];
		kq_s8w_destroy(ql->w8);
		kq_q4w_destroy(ql->w4);
		kq_fw_destroy(ql->wf);
		free(ql->wfq), free(ql->wscale), free(ql->wsum), free(ql->smooth_s), free(ql->wsmooth);
	}
	free(qm->q);
	free(qm);
}

eng_qrunner *eng_qrunner_create(eng_qmodel *q, kq_ctx *ctx)
{
	eng_qrunner *r = calloc(1, sizeof *r);
	if (r)
		r->qm = q, r->ctx = ctx;
	return r;
}

void eng_qrunner_destroy(eng_qrunner *r)
{
	if (!r)
		return;
	free(r->fbuf), free(r->ubuf), free(r->ucol), free(r->ibuf), free(r->rscale), free(r->rzp);
	free(r);
}

const eng_qlayer *eng_qmodel_layer(const eng_qmodel *q, int i)
{
	return i >= 0 && i < q->m->nq ? &q->q[i] : NULL;
}

int eng_qmodel_emulated(const eng_qmodel *q)
{
	return q->emulated;
}

size_t eng_qmodel_weight_bytes(const eng_qmodel *q)
{
	return q->weight_bytes;
}

/* ----------------------------------------------------------- execution */

static int needs_col(const eng_layer *L)
{
	return L->op == ENG_CONV2D && !(L->kernel == 1 && L->stride == 1 && L->pad == 0);
}

/* Per-row dynamic int8 parameters and uint8 values of an fp32 matrix. */
static int token_quantize(const float *a, int rows, int k, int symmetric, uint8_t *q, float *rscale, int32_t *rzp,
			  float *fq)
{
	kq_qspec as = act_spec(symmetric);
	int qmin, qmax;
	kq_qspec_range(&as, &qmin, &qmax);
	for (int i = 0; i < rows; i++) {
		const float *x = a + (size_t)i * k;
		float lo = 0, hi = 0;
		for (int j = 0; j < k; j++)
			lo = fminf(lo, x[j]), hi = fmaxf(hi, x[j]);
		kq_qparams p;
		kq_qparams_from_range(lo, hi, qmin, qmax, symmetric, &p);
		as.symmetric = 0;
		int st = q ? kq_quantize(x, 1, k, &as, &p, q + (size_t)i * k, NULL) : kq_fake_quant(x, 1, k, &as, &p, fq + (size_t)i * k, NULL);
		as.symmetric = symmetric;
		if (st)
			return st;
		if (rscale)
			rscale[i] = p.scale, rzp[i] = p.zero_point;
	}
	return 0;
}

/* Activations made fp32-with-quantization-error (the emulated paths and the
 * fake-quant reference): static int8, per-row int8 (on the GEMM rows) or
 * fp8.  `x` has `rows` x `cols` values; out may equal x. */
static int fake_acts(const eng_qlayer *ql, const float *x, float *out, int rows, int cols)
{
	size_t n = (size_t)rows * cols;
	if (ql->afmt == KQ_FMT_E4M3) {
		float s = ql->fp8_scale, inv = 1.0f / s;
		for (size_t i = 0; i < n; i++)
			out[i] = kq_e4m3_decode(kq_e4m3_encode(x[i] * inv)) * s;
		return 0;
	}
	if (ql->token)
		return token_quantize(x, rows, cols, ql->act_symmetric, NULL, NULL, NULL, out);
	/* the parameters are fixed already; symmetry only shaped how they were derived */
	kq_qspec as = act_spec(0);
	return kq_fake_quant(x, 1, (int)n, &as, &ql->act, out, NULL);
}

static int run_layer(eng_qrunner *qm, int fake, const eng_layer *L, int batch, const float *x, float *y, float *ws,
		     char *err, size_t errlen)
{
	eng_qlayer *ql = &qm->qm->q[L->qindex];
	int rows = batch * L->out_h * L->out_w, k = L->k, n = L->out_c, st = 0;
	size_t in_n = (size_t)batch * L->in_h * L->in_w * L->in_c, col_n = (size_t)rows * k;

	if (!fake && ql->apath == ENG_A_S8) {
		/* real int8 activations: quantize the input once, then uint8 im2col */
		if (!ql->token) {
			kq_qspec as = act_spec(0);
			const uint8_t *a = (const uint8_t *)x;
			if ((!ql->in_u8 && grow((void **)&qm->ubuf, &qm->ucap, in_n)) ||
			    (needs_col(L) && grow((void **)&qm->ucol, &qm->ucolcap, col_n)))
				goto oom;
			if (!ql->in_u8) {
				const float *src = x;
				if (ql->smooth_s) {
					if (grow((void **)&qm->fbuf, &qm->fcap, in_n * 4))
						goto oom;
					smooth_divide(x, qm->fbuf, in_n, ql->smooth_s, ql->smooth_nchan);
					src = qm->fbuf;
				}
				st = kq_quantize(src, 1, (int)in_n, &as, &ql->act, qm->ubuf, NULL);
				a = qm->ubuf;
			}
			if (!st && needs_col(L)) {
				uint8_t pad = (uint8_t)ql->act.zero_point;
				eng_im2col(L, batch, a, qm->ucol, 1, &pad);
				a = qm->ucol;
			}
			if (!st && ql->out_u8)
				st = kq_gemm_s8_u8(qm->ctx, rows, a, k, ql->act.scale, ql->act.zero_point, ql->w8, ql->out_q.scale,
						   ql->out_q.zero_point, 0, (uint8_t *)y, n);
			else if (!st)
				st = ql->wpath == ENG_W_S8 ? kq_gemm_s8_f32(qm->ctx, rows, a, k, ql->act.scale, ql->act.zero_point, ql->w8, y, n)
							   : kq_gemm_q4_s8(qm->ctx, rows, a, k, ql->act.scale, ql->act.zero_point, ql->w4, y, n);
		} else {
			/* dynamic per row: int32 GEMM, then the per-row epilogue here */
			const float *a = x;
			if (needs_col(L)) {
				const float zero = 0;
				eng_im2col(L, batch, x, ws, sizeof(float), &zero);
				a = ws;
			}
			if (ql->smooth_s) {
				/* the im2col scratch is ours to overwrite; the input is not */
				float *d = ws;
				if (a == x && grow((void **)&qm->fbuf, &qm->fcap, col_n * 4))
					goto oom;
				if (a == x)
					d = qm->fbuf;
				smooth_divide(a, d, col_n, ql->smooth_s, ql->smooth_nchan);
				a = d;
			}
			if (grow((void **)&qm->ucol, &qm->ucolcap, col_n) || grow((void **)&qm->ibuf, &qm->icap, (size_t)rows * n * 4) ||
			    grow((void **)&qm->rscale, &qm->rcap, (size_t)rows * 4) || grow((void **)&qm->rzp, &qm->rzcap, (size_t)rows * 4))
				goto oom;
			st = token_quantize(a, rows, k, ql->act_symmetric, qm->ucol, qm->rscale, qm->rzp, NULL);
			if (!st)
				st = kq_gemm_s8_s32(qm->ctx, rows, qm->ucol, k, 0, ql->w8, qm->ibuf, n);
			for (int i = 0; !st && i < rows; i++)
				for (int j = 0; j < n; j++) {
					int32_t c = qm->ibuf[(size_t)i * n + j] - qm->rzp[i] * ql->wsum[j];
					y[(size_t)i * n + j] = (float)c * (qm->rscale[i] * ql->wscale[j]) + L->b[j];
				}
		}
		if (st) {
			snprintf(err, errlen, "layer %s: integer kernel failed (%s)", L->name, kq_strerror(st));
			return -1;
		}
		return 0;
	}

	/* fp32 activations, possibly carrying quantization error */
	const float *a = x;
	if (needs_col(L)) {
		const float zero = 0;
		eng_im2col(L, batch, x, ws, sizeof(float), &zero);
		a = ws;
	}
	int fq_acts = fake ? ql->afmt != KQ_FMT_F32 : ql->apath == ENG_A_FAKE_S8 || ql->apath == ENG_A_FAKE_FP8;
	if (ql->smooth_s) {
		if (grow((void **)&qm->fbuf, &qm->fcap, col_n * 4))
			goto oom;
		smooth_divide(a, qm->fbuf, col_n, ql->smooth_s, ql->smooth_nchan);
		a = qm->fbuf;
	}
	if (fq_acts) {
		if (grow((void **)&qm->fbuf, &qm->fcap, col_n * 4))
			goto oom;
		st = fake_acts(ql, a, qm->fbuf, rows, k);
		a = qm->fbuf;
	}
	if (!st) {
		eng_wpath wp = fake ? (ql->wpath == ENG_W_F32 ? ENG_W_F32 : ENG_W_DQ) : ql->wpath;
		switch (wp) {
		case ENG_W_Q4_F32:
		case ENG_W_Q4_S8:
			st = kq_gemm_q4_f32(qm->ctx, rows, a, k, ql->w4, y, n);
			break;
		case ENG_W_FW:
			st = kq_gemm_fw_f32(qm->ctx, rows, a, k, ql->wf, y, n);
			break;
		case ENG_W_F32:
			st = kq_sgemm_f32(qm->ctx, rows, n, k, a, k, layer_w(ql), k, L->b, y, n);
			break;
		default: /* ENG_W_DQ and int8 weights under fp activations */
			st = kq_sgemm_f32(qm->ctx, rows, n, k, a, k, ql->wfq, k, L->b, y, n);
			break;
		}
	}
	if (st) {
		snprintf(err, errlen, "layer %s: GEMM failed (%s)", L->name, kq_strerror(st));
		return -1;
	}
	return 0;
oom:
	snprintf(err, errlen, "layer %s: out of memory for a batch of %d", L->name, batch);
	return -1;
}

static int quant_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
		       size_t errlen)
{
	return run_layer(user, 0, L, batch, x, y, ws, err, errlen);
}

static int fake_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
		      size_t errlen)
{
	return run_layer(user, 1, L, batch, x, y, ws, err, errlen);
}

static int quant_out_u8(void *user, const eng_layer *L, int32_t *zp)
{
	const eng_qlayer *ql = &((eng_qrunner *)user)->qm->q[L->qindex];
	*zp = ql->out_q.zero_point;
	return ql->out_u8;
}

eng_backend eng_backend_quant(eng_qrunner *q)
{
	eng_backend be = {quant_layer, q, quant_out_u8};
	return be;
}

eng_backend eng_backend_fake(eng_qrunner *q)
{
	eng_backend be = {fake_layer, q, NULL};
	return be;
}
