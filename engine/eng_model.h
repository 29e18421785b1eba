/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_model.h - a model as a small graph of layers, and its forward pass.
 *
 * Activations are NHWC, one row per spatial position (rows = batch * h * w,
 * cols = channels), so a conv is im2col + one GEMM against weights of shape
 * cout x K with K in (kh, kw, cin) order, and a linear layer is the same
 * GEMM with h = w = 1.  Weights are re-laid out once at load time (PyTorch
 * stores conv weights (cout, cin, kh, kw) and flattens NCHW). */
#ifndef PRECIS_ENG_MODEL_H
#define PRECIS_ENG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kq.h"

typedef enum { ENG_CONV2D, ENG_LINEAR, ENG_RELU, ENG_MAXPOOL2D, ENG_FLATTEN } eng_opkind;

typedef struct {
	eng_opkind op;
	char name[32];     /* conv2d/linear: the weight prefix in the file */
	int kernel, stride, pad;
	int in_c, in_h, in_w, out_c, out_h, out_w; /* per-sample shapes */
	int k;             /* GEMM depth: kernel * kernel * in_c */
	float *w;          /* out_c x k, owned */
	float *b;          /* out_c, owned */
	int qindex;        /* index among quantizable layers, -1 for others */
} eng_layer;

typedef struct {
	char *name, *family, *path, *task;
	char sha256[65];
	size_t file_bytes;
	long params;
	int in_c, in_h, in_w;
	float mean, std;   /* input normalisation: (x / 255 - mean) / std */
	int nclasses;
	char **classes;
	eng_layer *layers;
	int nlayers, nq;   /* all layers, quantizable (conv/linear) layers */
	int out_dim;       /* logits per sample */
} eng_model;

/* Loads a model file (safetensors with an `arch` graph in its metadata).
 * NULL with err filled (file, tensor and field named) on any problem. */
eng_model *eng_model_load(const char *path, char *err, size_t errlen);
void eng_model_destroy(eng_model *m); /* accepts NULL */
/* The i-th quantizable layer (0 <= i < nq). */
eng_layer *eng_model_qlayer(const eng_model *m, int i);

/* How a conv/linear layer is computed.  `x` is the layer input for the
 * batch (batch * in_h * in_w * in_c values, NHWC), `y` receives
 * batch * out_h * out_w rows of out_c values including the bias.  Values
 * are floats, except that a backend may pass uint8 tensors between two of
 * its own layers: `out_u8`, when not NULL, says for a layer whether its
 * output is uint8 (and with which zero point, so ReLU and max-pooling can
 * run on the codes); the backend then knows its next layer's input is uint8
 * too.  `ws` is scratch the backend may use (eng_forward_ws_floats()
 * floats).  Returns 0, or -1 with err filled. */
typedef struct {
	int (*layer)(void *user, const eng_layer *L, int batch, const float *x, float *y, float *ws, char *err,
		     size_t errlen);
	void *user;
	int (*out_u8)(void *user, const eng_layer *L, int32_t *zero_point);
} eng_backend;

/* Floats of scratch the forward pass needs for `batch` samples (two
 * activation buffers plus the largest fp32 im2col). */
size_t eng_forward_ws_floats(const eng_model *m, int batch);
/* Runs the graph on `batch` normalised inputs (NHWC), writing batch x
 * out_dim logits.  ws as sized above.  Returns 0 or -1 with err. */
int eng_forward(const eng_model *m, const eng_backend *be, int batch, const float *x, float *logits,
		float *ws, char *err, size_t errlen);

/* im2col for element size `es` (4 for fp32, 1 for uint8): rows are
 * (n, oh, ow), columns (kh, kw, c); out-of-image taps get `pad` (es bytes). */
void eng_im2col(const eng_layer *L, int batch, const void *x, void *col, size_t es, const void *pad);

/* The fp32 backend: OpenBLAS through kq_sgemm_f32.  user = kq_ctx *. */
eng_backend eng_backend_f32(kq_ctx *ctx);

/* The calibration backend: shows each layer's input to obs[L->qindex]
 * (eng_calib.h), then runs the layer in fp32 on ctx.  st (borrowed) must
 * outlive the backend.  Cannot fail. */
struct eng_observer;
typedef struct {
	struct eng_observer *obs;
	kq_ctx *ctx;
} eng_observe_state;
eng_backend eng_backend_observe(eng_observe_state *st);

#endif
