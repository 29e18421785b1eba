/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_fw.c - GEMM with fp8-e4m3, fp8-e5m2, fp16 or bf16 weights and a
 * per-channel fp32 scale: packing, entry point, dispatch, _ref kernel.
 *
 * DESIGN: kq_fw_pack encodes w / scale[n] with the scalar codecs of
 * formats.c into the blocked layout of fw_impl.h (one layout for every
 * ISA), so the codes are exactly what the scalar codec gives whatever ISA
 * runs them.  The GEMM splits the 32-column blocks into one contiguous
 * range per thread (kq_parallel); threads write disjoint columns of C.
 * Only the AVX-512 build has a SIMD variant; an object packed for AVX2
 * runs the _ref kernel (correct, slow) until one is written.  The packed
 * object is immutable after pack.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>

#include "fw_impl.h"
#include "kq_impl.h"

static const kq_fw_kernel fw_variants[KQ_ISA_COUNT] = {
	[KQ_ISA_REF] = kq_gemm_fw_f32_ref,
#ifdef KQ_X86_SIMD
	[KQ_ISA_AVX2] = kq_gemm_fw_f32_ref,
	[KQ_ISA_AVX512VNNI] = kq_gemm_fw_f32_avx512vnni,
#endif
};

/* One code from a value; the codec of each storable format. */
static uint32_t encode(kq_fmt fmt, float x)
{
	switch (fmt) {
	case KQ_FMT_E4M3: return kq_e4m3_encode(x);
	case KQ_FMT_E5M2: return kq_e5m2_encode(x);
	case KQ_FMT_F16: return kq_f16_encode(x);
	default: return kq_bf16_encode(x);
	}
}

static float decode(kq_fmt fmt, uint32_t code)
{
	switch (fmt) {
	case KQ_FMT_E4M3: return kq_e4m3_decode((uint8_t)code);
	case KQ_FMT_E5M2: return kq_e5m2_decode((uint8_t)code);
	case KQ_FMT_F16: return kq_f16_decode((uint16_t)code);
	default: return kq_bf16_decode((uint16_t)code);
	}
}

/* Packs w (n x k fp32) as codes = encode(w / scale[n]) (scale NULL: 1; a
 * zero scale gives zero codes, as the channel is then zero anyway).
 * Copies everything.  NULL on a format that is not fp8/fp16/bf16, bad
 * shapes, a non-finite scale, an ISA not built or not supported, or out of
 * memory. */
kq_fw *kq_fw_pack(kq_fmt fmt, const float *w, int n, int k, const float *scale,
		  const float *bias, int isa_arg)
{
	if (fmt != KQ_FMT_E4M3 && fmt != KQ_FMT_E5M2 && fmt != KQ_FMT_F16 && fmt != KQ_FMT_BF16)
		return NULL;
	if (!w || n <= 0 || k <= 0)
		return NULL;
	if (isa_arg != KQ_ISA_AUTO && (isa_arg < 0 || isa_arg >= KQ_ISA_COUNT))
		return NULL;
	kq_isa isa = kq_isa_resolve(isa_arg);
	if (!fw_variants[isa] || !kq_isa_supported(isa))
		return NULL;
	for (int i = 0; scale && i < n; i++)
		if (!isfinite(scale[i]))
			return NULL;

	kq_fw *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->fmt = fmt;
	p->n = n;
	p->k = k;
	p->nblk = (n + KQ_FW_NB - 1) / KQ_FW_NB;
	p->esize = fmt == KQ_FMT_E4M3 || fmt == KQ_FMT_E5M2 ? 1 : 2;
	p->isa = isa;
	size_t ncols = (size_t)p->nblk * KQ_FW_NB;
	size_t cbytes = ncols * k * p->esize;
	p->codes = kq_alloc(cbytes);
	p->scale = kq_alloc(ncols * sizeof *p->scale);
	p->colscale = kq_alloc(ncols * sizeof *p->colscale);
	p->bias = kq_alloc(ncols * sizeof *p->bias);
	if (!p->codes || !p->scale || !p->colscale || !p->bias) {
		kq_fw_destroy(p);
		return NULL;
	}
	p->bytes = sizeof *p + cbytes + ncols * 3 * sizeof(float);

	for (int col = 0; col < n; col++) {
		float s = scale ? scale[col] : 1.0f;
		size_t base = (size_t)(col / KQ_FW_NB) * k * KQ_FW_NB + col % KQ_FW_NB;
		for (int kk = 0; kk < k; kk++) {
			uint32_t code = s != 0.0f ? encode(fmt, w[(size_t)col * k + kk] / s) : 0;
			size_t i = base + (size_t)kk * KQ_FW_NB;
			if (p->esize == 1)
				((uint8_t *)p->codes)[i] = (uint8_t)code;
			else
				((uint16_t *)p->codes)[i] = (uint16_t)code;
		}
		p->scale[col] = s;
		p->colscale[col] = fmt == KQ_FMT_E4M3 ? s * 256.0f : s;
		p->bias[col] = bias ? bias[col] : 0.0f;
		for (int kk = 0; fmt == KQ_FMT_E4M3 && kk < k; kk++)
			if ((kq_fw_code(p, col, kk) & 0x7F) == 0x7F)
				p->bias[col] = NAN; /* see fw_impl.h */
	}
	return p;
}

void kq_fw_destroy(kq_fw *w)
{
	if (!w)
		return;
	kq_free(w->codes);
	kq_free(w->scale);
	kq_free(w->colscale);
	kq_free(w->bias);
	free(w);
}

size_t kq_fw_bytes(const kq_fw *w)
{
	return w ? w->bytes : 0;
}

/* fp8 has no arithmetic on this CPU family; fp16 and bf16 convert to fp32
 * in one native instruction (or a shift). */
int kq_fw_emulated(const kq_fw *w)
{
	return w && (w->fmt == KQ_FMT_E4M3 || w->fmt == KQ_FMT_E5M2);
}

typedef struct {
	const kq_fw_args *args;
	kq_fw_kernel fn;
} fw_job;

static void fw_task(void *arg, int i, int n)
{
	const fw_job *job = arg;
	int b0, b1;
	kq_split(job->args->w->nblk, 1, i, n, &b0, &b1);
	if (b0 < b1)
		job->fn(job->args, b0, b1);
}

int kq_gemm_fw_f32(kq_ctx *ctx, int m, const float *a, int lda, const kq_fw *w,
		   float *c, int ldc)
{
	if (!w || m < 0 || (m > 0 && (!a || !c)) || lda < w->k || ldc < w->n)
		return KQ_EINVAL;
	if (m == 0)
		return KQ_OK;
	kq_fw_args args = {.w = w, .m = m, .a = a, .lda = lda, .c = c, .ldc = ldc};
	fw_job job = {&args, fw_variants[w->isa]};
	int parts = kq_ctx_threads(ctx);
	if (parts > w->nblk)
		parts = w->nblk;
	kq_parallel(ctx, parts, fw_task, &job);
	return KQ_OK;
}

/* C = (sum_k a * decode(code)) * scale[n] + bias[n], in k order, with the
 * scalar decoder. */
void kq_gemm_fw_f32_ref(const kq_fw_args *p, int b0, int b1)
{
	const struct kq_fw *w = p->w;
	int n1 = b1 * KQ_FW_NB < w->n ? b1 * KQ_FW_NB : w->n;
	for (int n = b0 * KQ_FW_NB; n < n1; n++)
		for (int i = 0; i < p->m; i++) {
			const float *a = p->a + (size_t)i * p->lda;
			float acc = 0.0f;
			for (int k = 0; k < w->k; k++)
				acc += a[k] * decode(w->fmt, kq_fw_code(w, n, k));
			p->c[(size_t)i * p->ldc + n] = acc * w->scale[n] + w->bias[n];
		}
}
