/* SPDX-License-Identifier: GPL-3.0-or-later */
/* forward.c - the forward pass shared by every backend: the graph walk,
 * im2col, ReLU, max-pooling, and the fp32 (OpenBLAS) backend.
 * Backends differ only in how a conv/linear layer is computed. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "eng_model.h"

static size_t act_floats(const eng_layer *L)
{
	size_t in = (size_t)L->in_c * L->in_h * L->in_w, out = (size_t)L->out_c * L->out_h * L->out_w;
	return in > out ? in : out;
}

size_t eng_forward_ws_floats(const eng_model *m, int batch)
{
	size_t act = 0, col = 0;
	for (int i = 0; i < m->nlayers; i++) {
		const eng_layer *L = &m->layers[i];
		size_t a = act_floats(L);
		act = a > act ? a : act;
		if (L->op == ENG_CONV2D) {
			size_t c = (size_t)L->out_h * L->out_w * L->k;
			col = c > col ? c : col;
		}
	}
	return (2 * act + col) * (size_t)batch;
}

/* Copies one receptive-field tap of `c` elements; typed loops because a
 * memcpy call per tap dominates when c is small (conv1 has c = 1). */
static inline void tap_copy(unsigned char *dst, const unsigned char *src, size_t c, size_t es)
{
	if (es == 4) {
		float *d = (float *)dst;
		const float *s = (const float *)src;
		for (size_t i = 0; i < c; i++)
			d[i] = s[i];
	} else if (es == 1) {
		for (size_t i = 0; i < c; i++)
			dst[i] = src[i];
	} else
		memcpy(dst, src, c * es);
}

static inline void tap_fill(unsigned char *dst, const void *pad, size_t c, size_t es)
{
	if (es == 4) {
		float v, *d = (float *)dst;
		memcpy(&v, pad, 4);
		for (size_t i = 0; i < c; i++)
			d[i] = v;
	} else if (es == 1) {
		memset(dst, *(const unsigned char *)pad, c);
	} else
		for (size_t i = 0; i < c; i++)
			memcpy(dst + i * es, pad, es);
}

void eng_im2col(const eng_layer *L, int batch, const void *x, void *col, size_t es, const void *pad)
{
	const unsigned char *src = x;
	unsigned char *dst = col;
	size_t c = (size_t)L->in_c, run = c * es;
	for (int n = 0; n < batch; n++)
		for (int oy = 0; oy < L->out_h; oy++)
			for (int ox = 0; ox < L->out_w; ox++)
				for (int ky = 0; ky < L->kernel; ky++) {
					int iy = oy * L->stride - L->pad + ky;
					for (int kx = 0; kx < L->kernel; kx++, dst += run) {
						int ix = ox * L->stride - L->pad + kx;
						if (iy < 0 || iy >= L->in_h || ix < 0 || ix >= L->in_w)
							tap_fill(dst, pad, c, es);
						else
							tap_copy(dst, src + (((size_t)n * L->in_h + iy) * L->in_w + ix) * run, c, es);
					}
				}
}

static void maxpool(const eng_layer *L, int batch, const float *x, float *y)
{
	int c = L->in_c;
	for (int n = 0; n < batch; n++)
		for (int oy = 0; oy < L->out_h; oy++)
			for (int ox = 0; ox < L->out_w; ox++) {
				float *o = y + (((size_t)n * L->out_h + oy) * L->out_w + ox) * c;
				for (int ch = 0; ch < c; ch++)
					o[ch] = -FLT_MAX;
				for (int ky = 0; ky < L->kernel; ky++)
					for (int kx = 0; kx < L->kernel; kx++) {
						int iy = oy * L->stride + ky, ix = ox * L->stride + kx;
						const float *p = x + (((size_t)n * L->in_h + iy) * L->in_w + ix) * c;
						for (int ch = 0; ch < c; ch++)
							o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
					}
			}
}

int eng_forward(const eng_model *m, const eng_backend *be, int batch, const float *x, float *logits, float *ws,
		char *err, size_t errlen)
{
	size_t act = 0;
	for (int i = 0; i < m->nlayers; i++) {
		size_t a = act_floats(&m->layers[i]);
		act = a > act ? a : act;
	}
	float *buf[2] = {ws, ws + act * batch}, *scratch = ws + 2 * act * batch;
	const float *cur = x;
	int which = 0;
	for (int i = 0; i < m->nlayers; i++) {
		const eng_layer *L = &m->layers[i];
		float *out = i == m->nlayers - 1 ? logits : buf[which];
		size_t n = (size_t)batch * L->out_c * L->out_h * L->out_w;
		switch (L->op) {
		case ENG_CONV2D:
		case ENG_LINEAR:
			if (be->layer(be->user, L, batch, cur, out, scratch, err, errlen))
				return -1;
			break;
		case ENG_RELU:
			for (size_t j = 0; j < n; j++)
				out[j] = cur[j] > 0 ? cur[j] : 0;
			break;
		case ENG_MAXPOOL2D:
			maxpool(L, batch, cur, out);
			break;
		case ENG_FLATTEN: /* NHWC rows are already (h, w, c) flat per sample */
			if (out != cur)
				memcpy(out, cur, n * sizeof *out);
			break;
		}
		cur = out;
		which ^= 1;
	}
	return 0;
}

static int f32_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
		     size_t errlen)
{
	const float *a = x;
	int rows = batch * L->out_h * L->out_w;
	if (L->op == ENG_CONV2D && !(L->kernel == 1 && L->stride == 1 && L->pad == 0)) {
		const float zero = 0;
		eng_im2col(L, batch, x, ws, sizeof(float), &zero);
		a = ws;
	}
	int st = kq_sgemm_f32(user, rows, L->out_c, L->k, a, L->k, L->w, L->k, L->b, y, L->out_c);
	if (st) {
		snprintf(err, errlen, "layer %s: fp32 GEMM failed (%s)", L->name, kq_strerror(st));
		return -1;
	}
	return 0;
}

eng_backend eng_backend_f32(kq_ctx *ctx)
{
	eng_backend be = {f32_layer, ctx};
	return be;
}
