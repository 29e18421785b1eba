/* SPDX-License-Identifier: GPL-3.0-or-later */
/* forward.c - the forward pass shared by every backend: the graph walk,
 * im2col, ReLU, max-pooling, and the fp32 (OpenBLAS) backend.
 * Backends differ only in how a conv/linear layer is computed. */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "eng_calib.h"
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
	int kk = L->kernel;
	for (int n = 0; n < batch; n++)
		for (int oy = 0; oy < L->out_h; oy++)
			for (int ox = 0; ox < L->out_w; ox++) {
				int iy0 = oy * L->stride - L->pad, ix0 = ox * L->stride - L->pad;
				int inside_x = ix0 >= 0 && ix0 + kk <= L->in_w;
				for (int ky = 0; ky < kk; ky++, dst += kk * run) {
					int iy = iy0 + ky;
					const unsigned char *row = src + ((size_t)n * L->in_h + iy) * L->in_w * run;
					if (iy < 0 || iy >= L->in_h)
						tap_fill(dst, pad, c * kk, es);
					else if (inside_x) /* NHWC: the kernel's row is one contiguous run */
						tap_copy(dst, row + (size_t)ix0 * run, c * kk, es);
					else
						for (int kx = 0; kx < kk; kx++) {
							int ix = ix0 + kx;
							if (ix < 0 || ix >= L->in_w)
								tap_fill(dst + kx * run, pad, c, es);
							else
								tap_copy(dst + kx * run, row + (size_t)ix * run, c, es);
						}
				}
			}
}

/* `floor` is the smallest value for a plain max-pool and zero (the zero
 * point for codes) for ReLU followed by max-pool: max(0, max(window)) =
 * maxpool(relu(x)), one pass instead of two.  Quantized codes pool the same
 * way because quantization is monotonic. */
#define DEFINE_MAXPOOL(NAME, T)                                                                              \
	static void NAME(const eng_layer *L, int batch, const T *x, T *y, T floor)                           \
	{                                                                                                    \
		int c = L->in_c;                                                                             \
		for (int n = 0; n < batch; n++)                                                              \
			for (int oy = 0; oy < L->out_h; oy++)                                                \
				for (int ox = 0; ox < L->out_w; ox++) {                                      \
					T *o = y + (((size_t)n * L->out_h + oy) * L->out_w + ox) * c;        \
					for (int ch = 0; ch < c; ch++)                                       \
						o[ch] = floor;                                               \
					for (int ky = 0; ky < L->kernel; ky++)                               \
						for (int kx = 0; kx < L->kernel; kx++) {                     \
							int iy = oy * L->stride + ky, ix = ox * L->stride + kx; \
							const T *p = x + (((size_t)n * L->in_h + iy) * L->in_w + ix) * c; \
							for (int ch = 0; ch < c; ch++)                       \
								o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];       \
						}                                                            \
				}                                                                            \
	}
DEFINE_MAXPOOL(maxpool_f32, float)
DEFINE_MAXPOOL(maxpool_u8, uint8_t)

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
	int which = 0, u8 = 0;
	int32_t zp = 0;
	for (int i = 0; i < m->nlayers; i++) {
		const eng_layer *L = &m->layers[i];
		float *out = i == m->nlayers - 1 ? logits : buf[which];
		size_t n = (size_t)batch * L->out_c * L->out_h * L->out_w;
		int fuse = L->op == ENG_RELU && i + 1 < m->nlayers && m->layers[i + 1].op == ENG_MAXPOOL2D;
		switch (L->op) {
		case ENG_CONV2D:
		case ENG_LINEAR:
			if (be->layer(be->user, L, batch, cur, out, scratch, err, errlen))
				return -1;
			u8 = be->out_u8 && be->out_u8(be->user, L, &zp);
			break;
		case ENG_RELU:
			if (fuse) {
				/* fused into the max-pool that follows */
				L = &m->layers[++i];
				out = i == m->nlayers - 1 ? logits : out;
			} else if (u8) {
				const uint8_t *c8 = (const uint8_t *)cur;
				uint8_t *o8 = (uint8_t *)out, z = (uint8_t)zp;
				for (size_t j = 0; j < n; j++)
					o8[j] = c8[j] > z ? c8[j] : z;
				break;
			} else {
				for (size_t j = 0; j < n; j++)
					out[j] = cur[j] > 0 ? cur[j] : 0;
				break;
			}
			/* fall through */
		case ENG_MAXPOOL2D:
			if (u8)
				maxpool_u8(L, batch, (const uint8_t *)cur, (uint8_t *)out, fuse ? (uint8_t)zp : 0);
			else
				maxpool_f32(L, batch, cur, out, fuse ? 0.0f : -FLT_MAX);
			break;
		case ENG_FLATTEN: /* NHWC rows are already (h, w, c) flat per sample */
			if (out != cur)
				memcpy(out, cur, n * (u8 ? 1 : sizeof *out));
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
	eng_backend be = {f32_layer, ctx, NULL};
	return be;
}

static int observe_layer(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
			 size_t errlen)
{
	eng_observe_state *st = user;
	eng_obs_add(&st->obs[L->qindex], x, (size_t)batch * L->in_h * L->in_w * L->in_c);
	eng_backend f = eng_backend_f32(st->ctx);
	return f.layer(f.user, L, batch, x, y, ws, err, errlen);
}

eng_backend eng_backend_observe(eng_observe_state *st)
{
	eng_backend b = {observe_layer, st, NULL};
	return b;
}
