/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_qmodel.h - a model quantized by a recipe: packed weights, calibrated
 * activation parameters, and two ways to run it: the real quantized
 * kernels, and a float fake-quant reference of the same recipe. */
#ifndef PRECIS_ENG_QMODEL_H
#define PRECIS_ENG_QMODEL_H

#include "eng_calib.h"
#include "eng_model.h"
#include "eng_recipe.h"

/* How a layer's GEMM runs. */
typedef enum {
	ENG_W_F32,    /* OpenBLAS on the fp32 weights (kept layers, fp32 weights) */
	ENG_W_S8,     /* int8 x int8 kernel */
	ENG_W_Q4_S8,  /* int4 weights x int8 activations kernel */
	ENG_W_Q4_F32, /* int4 weights x fp32 activations kernel */
	ENG_W_FW,     /* fp8/fp16/bf16 weights x fp32 activations kernel */
	ENG_W_DQ      /* emulated: dequantized weights through OpenBLAS */
} eng_wpath;

typedef enum {
	ENG_A_F32,      /* activations stay fp32 */
	ENG_A_S8,       /* quantized to uint8 for an integer kernel */
	ENG_A_FAKE_S8,  /* emulated: int8 quantize-dequantize in fp32 */
	ENG_A_FAKE_FP8  /* emulated: rounded through fp8-e4m3 with a per-tensor scale */
} eng_apath;

typedef struct {
	const eng_layer *L;
	kq_fmt wfmt, afmt;
	int keep, token, act_symmetric;
	eng_wpath wpath;
	eng_apath apath;
	int emulated;
	kq_s8w *w8;
	kq_q4w *w4;
	kq_fw *wf;
	float *wfq;          /* fake-quantized weights, out_c x k */
	float *wscale;       /* per-output-channel weight scale (int8 token path) */
	int32_t *wsum;       /* per-output-channel sum of (q - zp) (int8 token path) */
	float alo, ahi;      /* activation clipping range from calibration */
	kq_qparams act;      /* static int8 activation parameters */
	float fp8_scale;     /* fp8 activations: value = e4m3(x / s) * s */
	int in_u8, out_u8;   /* the int8 pipeline: input arrives as codes / output is requantized */
	kq_qparams out_q;    /* the next layer's activation parameters, when out_u8 */
	size_t weight_bytes; /* bytes of the weights as deployed (packed) */
	double weight_sqnr_db; /* of the weights the layer effectively applies (smoothed: Q(W s) / s) against W */
	size_t weight_clipped;
	/* SmoothQuant: the input is divided by smooth_s[c] per channel where it
	 * is quantized (so alo/ahi and act describe x / s) and the weights
	 * quantized are W with each column multiplied by its channel's s */
	float *smooth_s;     /* smooth_nchan divisors, owned; NULL: the layer is not smoothed */
	int smooth_nchan;
	double smooth_alpha;
	float smooth_min, smooth_max; /* extremes of smooth_s */
	float *wsmooth;      /* out_c x k smoothed fp32 weights, owned; NULL when not smoothed */
} eng_qlayer;

typedef struct eng_qmodel eng_qmodel;

/* Quantizes m by recipe r.  obs: one observer per quantizable layer (its
 * input), after both calibration passes; NULL when no layer needs
 * calibrated activations.  With r->smooth > 0 every layer not kept in fp32
 * (--keep) is smoothed and obs is required: made by
 * eng_qmodel_observers_create and smoothed with the same alpha by
 * eng_qmodel_observers_smooth between the passes.  The model must outlive
 * the result.  Weights are packed for the active ISA.  NULL with err on
 * failure. */
eng_qmodel *eng_qmodel_create(const eng_model *m, const eng_recipe *r, const eng_observer *obs, char *err,
			      size_t errlen);
void eng_qmodel_destroy(eng_qmodel *q);

/* SmoothQuant (Xiao et al. 2023), Y = X W^T = (X / s)(W s)^T.  A layer's
 * input channels are a linear layer's k input features, or a conv's in_c
 * channels: im2col lays the GEMM columns out as (kh, kw, c), so column j
 * belongs to channel j % in_c and all kh * kw columns of a channel share
 * its s.  Cannot fail. */
int eng_smooth_nchan(const eng_layer *L);
/* s[c] = xmax[c]^alpha / wmax[c]^(1 - alpha) for the eng_smooth_nchan(L)
 * channels, with xmax the calibration absmax of the channel's input and
 * wmax the largest |W| in its columns (over every output row); s[c] = 1
 * where either is 0 (a channel never active, an all-zero column) or s[c]
 * would not be finite and positive, and everywhere for alpha <= 0 (off).
 * Computed in double.  Borrows everything; cannot fail. */
void eng_smooth_scales(const eng_layer *L, const float *xmax, double alpha, float *s);
/* Observers for the nq quantizable layers of m, each keeping per-channel
 * statistics of its input (eng_smooth_nchan channels), in one allocation:
 * release with free().  Initialised for pass 1.  NULL when out of memory. */
eng_observer *eng_qmodel_observers_create(const eng_model *m);
/* Between the two calibration passes (after eng_obs_next_pass on each):
 * for alpha > 0 derives every layer's s (eng_smooth_scales from the pass-1
 * channel absmax) and makes its pass 2 observe x / s, so the static ranges
 * are calibrated on the smoothed activations; alpha <= 0 changes nothing.
 * 0, or -1 with err (observers without channel statistics). */
int eng_qmodel_observers_smooth(const eng_model *m, double alpha, eng_observer *obs, char *err, size_t errlen);
const eng_qlayer *eng_qmodel_layer(const eng_qmodel *q, int i);
int eng_qmodel_emulated(const eng_qmodel *q);
size_t eng_qmodel_weight_bytes(const eng_qmodel *q);

/* A runner holds the scratch buffers of one thread running a qmodel, and
 * the kernel context it calls (typically a one-thread context: the engine
 * parallelises over the batch).  NULL when out of memory. */
typedef struct eng_qrunner eng_qrunner;
eng_qrunner *eng_qrunner_create(eng_qmodel *q, kq_ctx *ctx);
void eng_qrunner_destroy(eng_qrunner *r);

/* Backends for eng_forward: the real kernels, and the fake-quant reference. */
eng_backend eng_backend_quant(eng_qrunner *r);
eng_backend eng_backend_fake(eng_qrunner *r);

#endif
