/* SPDX-License-Identifier: GPL-3.0-or-later */
/* kq.h - public interface of the kernels library: number formats,
 * quantization parameters, quantize/dequantize, and quantized matrix kernels.
 *
 * DESIGN
 * - Depends on libc, libm and OpenBLAS only; never prints. Functions that can
 *   fail return 0 (KQ_OK) or a negative KQ_E* code; constructors return NULL.
 * - Weights are "N x K, row-major, one row per output channel" everywhere
 *   (PyTorch's Linear.weight layout): C[m][n] = sum_k A[m][k] * W[n][k].
 * - Every kernel exists as a portable scalar `_ref` variant, the authority;
 *   SIMD variants are chosen at run time.  The integer results of every
 *   variant equal `_ref` bit for bit; float epilogues use the same operation
 *   order so fp32 outputs of integer kernels are bit-identical too.
 * - The ISA a packed weight object runs with is fixed when it is packed
 *   (weights are packed once, at quantization time, into that ISA's layout).
 * - The only mutable global is the active ISA chosen once by kq_init().
 */
#ifndef PRECIS_KQ_H
#define PRECIS_KQ_H

#include <stddef.h>
#include <stdint.h>

enum {
	KQ_OK = 0,
	KQ_EINVAL = -1, /* bad argument (shape, group size, NULL) */
	KQ_ENOMEM = -2, /* allocation failed */
	KQ_EISA = -3,   /* ISA unknown, not built, or not supported by this CPU */
	KQ_ERANGE = -4  /* non-finite input range */
};

/* Short English text for a KQ_E* code; never NULL. */
const char *kq_strerror(int code);

/* ------------------------------------------------------------------ ISA */

typedef enum {
	KQ_ISA_REF = 0,    /* portable scalar C */
	KQ_ISA_AVX2,       /* AVX2 + FMA + F16C */
	KQ_ISA_AVX512VNNI, /* AVX-512 F/BW/VL/DQ + VNNI */
	KQ_ISA_COUNT
} kq_isa;

#define KQ_ISA_AUTO (-1) /* "the active ISA" wherever an isa argument is taken */

/* Static name ("ref", "avx2", "avx512vnni"), or "?" when out of range. */
const char *kq_isa_name(int isa);
/* Parses a name from kq_isa_name(); KQ_EINVAL when unknown. */
int kq_isa_parse(const char *name, kq_isa *out);
/* 1 when this build has the variant and this CPU (and OS) can run it. */
int kq_isa_supported(kq_isa isa);
/* The best supported ISA. */
kq_isa kq_isa_best(void);
/* Chooses the active ISA once: $PRECIS_ISA when set, else the best.
 * Returns KQ_EISA when PRECIS_ISA names an unknown or unsupported ISA (the
 * active ISA then stays "ref" so nothing crashes).  Later calls return the
 * first call's result. */
int kq_init(void);
kq_isa kq_isa_active(void);
/* Resolves KQ_ISA_AUTO to the active ISA; returns other values unchanged. */
kq_isa kq_isa_resolve(int isa);

/* -------------------------------------------------------------- context */

/* A context owns a pool of worker threads.  A context may be used by one
 * calling thread at a time.  threads <= 0 means "all online cores".
 * Returns NULL when out of memory or threads cannot be started. */
typedef struct kq_ctx kq_ctx;
kq_ctx *kq_ctx_create(int threads);
void kq_ctx_destroy(kq_ctx *ctx); /* accepts NULL */
int kq_ctx_threads(const kq_ctx *ctx);

/* Runs fn(arg, i, n) for every i in [0, n) on the pool (the calling thread
 * takes part) and returns when all have finished.  fn must not call
 * kq_parallel on the same context. */
typedef void (*kq_task_fn)(void *arg, int i, int n);
void kq_parallel(kq_ctx *ctx, int n, kq_task_fn fn, void *arg);

/* ---------------------------------------------------------------- formats */

typedef enum {
	KQ_FMT_F32 = 0,
	KQ_FMT_BF16,
	KQ_FMT_F16,
	KQ_FMT_E4M3, /* OCP FP8 E4M3: bias 7, max 448, no inf, NaN = S.1111.111 */
	KQ_FMT_E5M2, /* OCP FP8 E5M2: bias 15, max 57344, inf and NaN as IEEE */
	KQ_FMT_I8,
	KQ_FMT_I4,
	KQ_FMT_COUNT
} kq_fmt;

/* One row of the format table.  For float formats `encode`/`decode` convert
 * one value (round to nearest, ties to even; see kq_fmt_saturating for what
 * happens beyond the largest finite value).  Integer formats have NULL
 * encode/decode and use the quantization functions below. */
typedef struct {
	const char *name;   /* as in SPEC: "fp32" "bf16" "fp16" "fp8-e4m3" "fp8-e5m2" "int8" "int4" */
	int bits;           /* storage bits per element */
	int is_int;         /* 1 for int8/int4 */
	int saturating;     /* 1: out-of-range finite values clamp to +-max_finite */
	float max_finite;   /* largest finite value (int: qmax) */
	float min_normal;   /* smallest positive normal (int: 1) */
	float min_subnormal;/* smallest positive subnormal (int: 1) */
	uint32_t (*encode)(float x);
	float (*decode)(uint32_t code);
} kq_fmt_info;

/* Table entry for fmt; NULL when out of range. */
const kq_fmt_info *kq_fmt_get(int fmt);
/* Parses a SPEC name; KQ_EINVAL when unknown. */
int kq_fmt_parse(const char *name, kq_fmt *out);

/* Scalar codecs.  E4M3 saturates: |x| > 448 (and +-inf) encode to +-448;
 * NaN encodes to 0x7F (sign kept).  E5M2 does not saturate (IEEE behaviour:
 * overflow rounds to inf); NaN encodes to a quiet NaN.  fp16 and bf16 are
 * IEEE/bfloat16 with inf and NaN. */
uint8_t kq_e4m3_encode(float x);
float kq_e4m3_decode(uint8_t code);
uint8_t kq_e5m2_encode(float x);
float kq_e5m2_decode(uint8_t code);
uint16_t kq_f16_encode(float x);
float kq_f16_decode(uint16_t code);
uint16_t kq_bf16_encode(float x);
float kq_bf16_decode(uint16_t code);

/* Rounds n values through a float format (encode then decode), in place
 * allowed (y == x).  KQ_EINVAL for integer formats. */
int kq_fmt_round(kq_fmt fmt, const float *x, float *y, size_t n);

/* int4 storage: element 2i in the LOW nibble of byte i, element 2i+1 in the
 * HIGH nibble, each a two's-complement value in [-8, 7].  An odd count
 * leaves the last high nibble 0.  out holds (n + 1) / 2 bytes. */
void kq_i4_pack(const int8_t *q, size_t n, uint8_t *out);
void kq_i4_unpack(const uint8_t *p, size_t n, int8_t *out);

/* ------------------------------------------------------- quantization */

typedef struct {
	float scale;
	int32_t zero_point;
} kq_qparams;

typedef enum { KQ_GRAN_TENSOR = 0, KQ_GRAN_CHANNEL, KQ_GRAN_GROUP } kq_gran;

/* How a tensor of `rows x cols` (row = output channel) is quantized.
 * Integer range: symmetric signed uses the restricted range [-(2^(b-1)-1),
 * 2^(b-1)-1] (so scale = amax / qmax exactly, PyTorch's observer with
 * quant_min = -qmax); asymmetric signed uses [-2^(b-1), 2^(b-1)-1];
 * unsigned (activations) uses [0, 2^b-1]. */
typedef struct {
	int bits;        /* 8 or 4 */
	int symmetric;   /* 1: zero point fixed (0 signed, 2^(b-1) unsigned) */
	int is_unsigned; /* 1: quint range [0, 2^b-1] */
	kq_gran gran;
	int group;       /* group size along cols for KQ_GRAN_GROUP: 32/64/128/256 */
} kq_qspec;

/* The integer range of a spec.  KQ_EINVAL for bits other than 4 or 8. */
int kq_qspec_range(const kq_qspec *spec, int *qmin, int *qmax);
/* Number of (scale, zero point) pairs a spec needs for rows x cols. */
size_t kq_qspec_nparams(const kq_qspec *spec, int rows, int cols);

/* PyTorch MinMaxObserver.calculate_qparams() semantics, float32 arithmetic:
 * the range is widened to include 0; symmetric: scale = max(-lo, hi) /
 * ((qmax - qmin) / 2); asymmetric: scale = (hi - lo) / (qmax - qmin),
 * zero_point = qmin - round_half_even(lo / scale) clamped to [qmin, qmax];
 * scale is at least FLT_EPSILON, so a zero range gives a usable scale.
 * A non-finite lo or hi returns KQ_ERANGE and fills scale 1, zero point as
 * for a symmetric range. */
int kq_qparams_from_range(float lo, float hi, int qmin, int qmax, int symmetric,
			  kq_qparams *out);

/* MinMax parameters for every tensor/channel/group of x (rows x cols,
 * row-major).  out holds kq_qspec_nparams() entries, groups of a row
 * consecutive (row r, group g at r * ngroups + g).  A trailing partial
 * group is its own group. */
int kq_qparams_minmax(const float *x, int rows, int cols, const kq_qspec *spec,
		      kq_qparams *out);

/* q = clamp(round_half_even(x * (1 / scale)) + zp, qmin, qmax), as
 * torch.fake_quantize_*_affine computes it.  `p` as from kq_qparams_minmax.
 * q is int8_t for signed specs and uint8_t for unsigned ones (pass the
 * matching pointer as void *).  *nclipped (may be NULL) receives the number
 * of values whose unclamped q fell outside [qmin, qmax]. */
int kq_quantize(const float *x, int rows, int cols, const kq_qspec *spec,
		const kq_qparams *p, void *q, size_t *nclipped);
/* All three take parameters as computed above: a scale that is not a
 * positive normal float, or a zero point outside [qmin, qmax], gives
 * KQ_EINVAL before anything is written.  A NaN input quantizes to qmin and
 * +-inf to the nearest end of the range (as PyTorch does on x86); both
 * count as clipped. */
/* x = (q - zp) * scale. */
int kq_dequantize(const void *q, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *x);
/* quantize + dequantize in one pass (y may equal x). */
int kq_fake_quant(const float *x, int rows, int cols, const kq_qspec *spec,
		  const kq_qparams *p, float *y, size_t *nclipped);

typedef struct {
	double mse;      /* mean of (x - y)^2 */
	double sqnr_db;  /* 10 log10(sum x^2 / sum (x - y)^2); +inf when exact, 0 signal gives -inf unless exact */
	double clipped;  /* fraction clipped, from the caller's count */
} kq_qstats;

/* Error statistics of an approximation y of x.  nclipped may be 0. */
void kq_qstats_compute(const float *x, const float *y, size_t n, size_t nclipped,
		       kq_qstats *out);

/* ------------------------------------------------ fp32 reference (OpenBLAS) */

/* C (m x n, ldc) = A (m x k, lda) * W^T, W n x k (ldw) ; + bias[n] if bias.
 * Uses cblas_sgemm (cblas_sgemv when m == 1) with the context's thread
 * count set in OpenBLAS first. */
int kq_sgemm_f32(kq_ctx *ctx, int m, int n, int k, const float *a, int lda,
		 const float *w, int ldw, const float *bias, float *c, int ldc);

/* --------------------------------------------------- int8 x int8 GEMM */

/* Packed int8 weights with their per-output-channel scale, optional zero
 * point and bias, in the layout of one ISA's micro-kernel; per-column sums
 * for the zero-point compensation are computed at packing time.
 * pack copies everything it needs; the caller keeps its arrays.
 * w: n x k int8, row-major.  scale: n floats (required).  zp: n int32 in
 * [-128, 127] or NULL (symmetric).  bias: n floats or NULL.
 * Returns NULL on bad arguments, unsupported isa, or out of memory. */
typedef struct kq_s8w kq_s8w;
kq_s8w *kq_s8w_pack(const int8_t *w, int n, int k, const float *scale,
		    const int32_t *zp, const float *bias, int isa);
void kq_s8w_destroy(kq_s8w *w); /* accepts NULL */
int kq_s8w_n(const kq_s8w *w);
int kq_s8w_k(const kq_s8w *w);
kq_isa kq_s8w_isa(const kq_s8w *w);
size_t kq_s8w_bytes(const kq_s8w *w); /* memory held by the packed form */

/* Integer core: C32[m][n] = sum_k (A[m][k] - a_zp) * (W[n][k] - zp[n]),
 * computed with int32 wrap-around arithmetic (any int32 a_zp is accepted).
 * A is m x k uint8 (lda).  A NULL ctx runs on the calling thread.  The
 * AVX2 variant stores weights as int16, so kq_s8w_bytes() is twice the
 * int8 size there. */
int kq_gemm_s8_s32(kq_ctx *ctx, int m, const uint8_t *a, int lda, int32_t a_zp,
		   const kq_s8w *w, int32_t *c, int ldc);
/* fp32 epilogue: C[m][n] = (float)C32 * (a_scale * scale[n]) + bias[n]
 * (the product a_scale * scale[n] rounded to float first, then one multiply
 * and one add, never fused). */
int kq_gemm_s8_f32(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale,
		   int32_t a_zp, const kq_s8w *w, float *c, int ldc);
/* Requantized output: C = clamp(round_half_even(Cf * (1 / out_scale)) +
 * out_zp, 0, 255) with Cf the fp32 epilogue above; relu != 0 clamps Cf at 0
 * first.  out_scale must be finite and > 0 (else KQ_EINVAL); NaN outputs
 * become 0.  A NULL bias adds +0.0f, so a -0.0 result reads +0.0 in every
 * variant. */
int kq_gemm_s8_u8(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale,
		  int32_t a_zp, const kq_s8w *w, float out_scale, int32_t out_zp,
		  int relu, uint8_t *c, int ldc);

/* ------------------------------------------- int4 weight-only GEMM/GEMV */

/* Packed int4 weights, group-wise along K.  q: n x k int8 values in [-8, 7]
 * (one per byte, unpacked); group in {32, 64, 128, 256}; scale: n * ngroups
 * floats (row-major, ngroups = ceil(k / group)); zp: n * ngroups values in
 * [-8, 7] or NULL; bias: n floats or NULL.  W[n][k] = scale * (q - zp). */
typedef struct kq_q4w kq_q4w;
kq_q4w *kq_q4w_pack(const int8_t *q, int n, int k, int group, const float *scale,
		    const int8_t *zp, const float *bias, int isa);
/* (A NULL bias adds +0.0f in every q4 and fw kernel, so -0 reads +0 alike.) */
void kq_q4w_destroy(kq_q4w *w);
size_t kq_q4w_bytes(const kq_q4w *w);
kq_isa kq_q4w_isa(const kq_q4w *w);

/* W4A32: fp32 activations, C = A * W^T + bias.  Float accumulation, so
 * variants agree with _ref to rounding, not bit for bit. */
int kq_gemm_q4_f32(kq_ctx *ctx, int m, const float *a, int lda, const kq_q4w *w,
		   float *c, int ldc);
/* W4A8: uint8 activations with scale and a zero point in [0, 255] (else
 * KQ_EINVAL).  Per (row, group) the
 * integer dot product is exact; then, in group order,
 * acc += (float)isum_g * scale[n][g]; C = acc * a_scale + bias[n].
 * Bit-identical across variants. */
int kq_gemm_q4_s8(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale,
		  int32_t a_zp, const kq_q4w *w, float *c, int ldc);

/* ------------------------------- float-format weights (fp8, fp16, bf16) */

/* Weights stored in a float format with a per-output-channel fp32 scale:
 * W[n][k] = scale[n] * decode(code).  The codes are produced here from fp32
 * weights w (n x k): code = encode(w / scale[n]).  scale NULL means 1.
 * This CPU family has no fp8 arithmetic: the GEMM converts blocks of
 * weights to fp32 on the fly and multiplies in fp32, which is why
 * kq_fw_emulated() returns 1 for the fp8 formats (0 for fp16 and bf16).
 * Only fp8-e4m3, fp8-e5m2, fp16 and bf16 are accepted; a non-finite scale
 * gives NULL, a zero scale zero codes.  Objects packed for AVX2 run the
 * scalar kernel (there is no AVX2 variant yet). */
typedef struct kq_fw kq_fw;
kq_fw *kq_fw_pack(kq_fmt fmt, const float *w, int n, int k, const float *scale,
		  const float *bias, int isa);
void kq_fw_destroy(kq_fw *w);
size_t kq_fw_bytes(const kq_fw *w);
int kq_fw_emulated(const kq_fw *w);
int kq_gemm_fw_f32(kq_ctx *ctx, int m, const float *a, int lda, const kq_fw *w,
		   float *c, int ldc);

#endif
