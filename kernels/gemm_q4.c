/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_q4.c - int4 weight-only GEMM/GEMV: packing, entry points, dispatch
 * and the scalar _ref kernels.
 *
 * DESIGN: kq_q4w_pack turns n x k int8 values into the blocked nibble layout
 * described in q4_impl.h, chosen once for every ISA so the _ref kernels read
 * the same bytes as the SIMD ones.  An entry point validates, prepares the
 * per-call activation data the SIMD variants need (O(m k), single-threaded:
 * fp32 group sums for W4A32; a ^ 0x80 zero-padded plus integer group sums
 * for W4A8), then splits the 32-column blocks into one contiguous range per
 * thread of the context with kq_parallel.  Threads write disjoint columns
 * of C and read everything else, so no locking.  The packed object is
 * immutable after pack and may be shared by concurrent calls.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "kq_impl.h"
#include "q4_impl.h"

typedef struct {
	kq_q4_kernel f32, s8;
} q4_ops;

/* The kernels each ISA runs; an empty row means "not built". */
static const q4_ops q4_variants[KQ_ISA_COUNT] = {
	[KQ_ISA_REF] = {kq_gemm_q4_f32_ref, kq_gemm_q4_s8_ref},
#ifdef KQ_X86_SIMD
	[KQ_ISA_AVX2] = {kq_gemm_q4_f32_avx2, kq_gemm_q4_s8_avx2},
	[KQ_ISA_AVX512VNNI] = {kq_gemm_q4_f32_avx512vnni, kq_gemm_q4_s8_avx512vnni},
#endif
};

static int valid_group(int g)
{
	return g == 32 || g == 64 || g == 128 || g == 256;
}

/* Packs q (n x k, values in [-8, 7]) with per-(n, group) scale and optional
 * zero point; see kq.h.  Copies everything; returns NULL on bad arguments,
 * an ISA that is not built or not supported here, or out of memory. */
kq_q4w *kq_q4w_pack(const int8_t *q, int n, int k, int group, const float *scale,
		    const int8_t *zp, const float *bias, int isa_arg)
{
	if (!q || !scale || n <= 0 || k <= 0 || !valid_group(group))
		return NULL;
	if (isa_arg != KQ_ISA_AUTO && (isa_arg < 0 || isa_arg >= KQ_ISA_COUNT))
		return NULL;
	kq_isa isa = kq_isa_resolve(isa_arg);
	if (!q4_variants[isa].f32 || !kq_isa_supported(isa))
		return NULL;
	int ngroups = (k + group - 1) / group;
	for (size_t i = 0; i < (size_t)n * k; i++)
		if (q[i] < -8 || q[i] > 7)
			return NULL;
	for (size_t i = 0; zp && i < (size_t)n * ngroups; i++)
		if (zp[i] < -8 || zp[i] > 7)
			return NULL;

	kq_q4w *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->n = n;
	w->k = k;
	w->group = group;
	w->ngroups = ngroups;
	w->nblk = (n + KQ_Q4_NB - 1) / KQ_Q4_NB;
	w->ksteps = (k + KQ_Q4_KS - 1) / KQ_Q4_KS;
	w->isa = isa;
	size_t qbytes = (size_t)w->nblk * w->ksteps * KQ_Q4_STEP;
	size_t nmeta = (size_t)w->nblk * ngroups * KQ_Q4_NB;
	size_t ncols = (size_t)w->nblk * KQ_Q4_NB;
	w->qs = kq_alloc(qbytes);
	w->scale = kq_alloc(nmeta * sizeof *w->scale);
	w->zp = kq_alloc(nmeta * sizeof *w->zp);
	w->usum = kq_alloc(nmeta * sizeof *w->usum);
	w->bias = kq_alloc(ncols * sizeof *w->bias);
	if (!w->qs || !w->scale || !w->zp || !w->usum || !w->bias) {
		kq_q4w_destroy(w);
		return NULL;
	}
	w->bytes = sizeof *w + qbytes + nmeta * (sizeof *w->scale + sizeof *w->zp +
						 sizeof *w->usum) + ncols * sizeof *w->bias;

	for (int col = 0; col < w->nblk * KQ_Q4_NB; col++) {
		int b = col / KQ_Q4_NB, c = col % KQ_Q4_NB;
		uint8_t *blk = w->qs + (size_t)b * w->ksteps * KQ_Q4_STEP + 64 * (c / 16) + 4 * (c % 16);
		for (int g = 0; g < ngroups; g++) {
			size_t meta = ((size_t)b * ngroups + g) * KQ_Q4_NB + c;
			size_t src = (size_t)col * ngroups + g;
			int z = col < n && zp ? zp[src] : 0;
			int usum = 0;
			w->scale[meta] = col < n ? scale[src] : 0.0f;
			w->zp[meta] = (int8_t)z;
			int k1 = (g + 1) * group < w->ksteps * KQ_Q4_KS ? (g + 1) * group
									  : w->ksteps * KQ_Q4_KS;
			for (int kk = g * group; kk < k1; kk++) {
				/* padding holds q = zp, i.e. weight 0 */
				int u = (col < n && kk < k ? q[(size_t)col * k + kk] : z) + 8;
				if (kk < k)
					usum += u;
				uint8_t *p = blk + (size_t)(kk / KQ_Q4_KS) * KQ_Q4_STEP + (kk & 3);
				*p |= (uint8_t)((kk & 4) ? u << 4 : u);
			}
			w->usum[meta] = (int16_t)usum;
		}
		w->bias[col] = col < n && bias ? bias[col] : 0.0f;
	}
	return w;
}

void kq_q4w_destroy(kq_q4w *w)
{
	if (!w)
		return;
	kq_free(w->qs);
	kq_free(w->scale);
	kq_free(w->zp);
	kq_free(w->usum);
	kq_free(w->bias);
	free(w);
}

size_t kq_q4w_bytes(const kq_q4w *w)
{
	return w ? w->bytes : 0;
}

kq_isa kq_q4w_isa(const kq_q4w *w)
{
	return w ? w->isa : KQ_ISA_REF;
}

/* ------------------------------------------------------------ dispatch */

typedef struct {
	const kq_q4_args *args;
	kq_q4_kernel fn;
} q4_job;

static void q4_task(void *arg, int i, int n)
{
	const q4_job *job = arg;
	int b0, b1;
	kq_split(job->args->w->nblk, 1, i, n, &b0, &b1);
	if (b0 < b1)
		job->fn(job->args, b0, b1);
}

static void q4_run(kq_ctx *ctx, const kq_q4_args *args, kq_q4_kernel fn)
{
	q4_job job = {args, fn};
	int parts = kq_ctx_threads(ctx);
	if (parts > args->w->nblk)
		parts = args->w->nblk;
	kq_parallel(ctx, parts, q4_task, &job);
}

int kq_gemm_q4_f32(kq_ctx *ctx, int m, const float *a, int lda, const kq_q4w *w,
		   float *c, int ldc)
{
	if (!w || m < 0 || (m > 0 && (!a || !c)) || lda < w->k || ldc < w->n)
		return KQ_EINVAL;
	if (m == 0)
		return KQ_OK;
	kq_q4_args args = {.w = w, .m = m, .a = a, .lda = lda, .c = c, .ldc = ldc};
	float *fsum = NULL;
	if (w->isa != KQ_ISA_REF) {
		fsum = kq_alloc((size_t)m * w->ngroups * sizeof *fsum);
		if (!fsum)
			return KQ_ENOMEM;
		for (int i = 0; i < m; i++)
			for (int g = 0; g < w->ngroups; g++) {
				int k0 = g * w->group, k1 = k0 + w->group < w->k ? k0 + w->group : w->k;
				/* eight partial sums: one chain of k dependent adds would
				 * cost a GEMV a few percent; groups are multiples of 8 */
				const float *ar = a + (size_t)i * lda;
				float s8[8] = {0};
				int kk = k0;
				for (; kk + 8 <= k1; kk += 8)
					for (int j = 0; j < 8; j++)
						s8[j] += ar[kk + j];
				for (; kk < k1; kk++)
					s8[kk & 7] += ar[kk];
				fsum[(size_t)i * w->ngroups + g] = ((s8[0] + s8[1]) + (s8[2] + s8[3])) +
								   ((s8[4] + s8[5]) + (s8[6] + s8[7]));
			}
		args.fsum = fsum;
	}
	q4_run(ctx, &args, q4_variants[w->isa].f32);
	kq_free(fsum);
	return KQ_OK;
}

int kq_gemm_q4_s8(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale,
		  int32_t a_zp, const kq_q4w *w, float *c, int ldc)
{
	if (!w || m < 0 || (m > 0 && (!a || !c)) || lda < w->k || ldc < w->n ||
	    a_zp < 0 || a_zp > 255)
		return KQ_EINVAL;
	if (m == 0)
		return KQ_OK;
	kq_q4_args args = {.w = w, .m = m, .a8 = a, .lda = lda, .a_scale = a_scale,
			   .a_zp = a_zp, .c = c, .ldc = ldc};
	int8_t *as = NULL;
	int32_t *isum = NULL;
	if (w->isa != KQ_ISA_REF) {
		int kpad = w->ksteps * KQ_Q4_KS;
		as = kq_alloc((size_t)m * kpad);
		isum = kq_alloc((size_t)m * w->ngroups * sizeof *isum);
		if (!as || !isum) {
			kq_free(as);
			kq_free(isum);
			return KQ_ENOMEM;
		}
		for (int i = 0; i < m; i++) {
			const uint8_t *ar = a + (size_t)i * lda;
			int8_t *dst = as + (size_t)i * kpad;
			for (int kk = 0; kk < w->k; kk++)
				dst[kk] = (int8_t)(ar[kk] ^ 0x80);
			for (int g = 0; g < w->ngroups; g++) {
				int k1 = (g + 1) * w->group < w->k ? (g + 1) * w->group : w->k;
				int32_t s = 0;
				for (int kk = g * w->group; kk < k1; kk++)
					s += ar[kk];
				isum[(size_t)i * w->ngroups + g] = s - a_zp * (k1 - g * w->group);
			}
		}
		args.as = as;
		args.isum = isum;
		args.kpad = kpad;
	}
	q4_run(ctx, &args, q4_variants[w->isa].s8);
	kq_free(as);
	kq_free(isum);
	return KQ_OK;
}

/* --------------------------------------------------------- _ref kernels */

/* The definition, in kq.h's operation order: per group a float dot product
 * with (q - zp), scaled, summed over groups in order, then the bias. */
void kq_gemm_q4_f32_ref(const kq_q4_args *p, int b0, int b1)
{
	const struct kq_q4w *w = p->w;
	int n1 = b1 * KQ_Q4_NB < w->n ? b1 * KQ_Q4_NB : w->n;
	for (int n = b0 * KQ_Q4_NB; n < n1; n++) {
		const float *sc = w->scale + (size_t)(n / KQ_Q4_NB) * w->ngroups * KQ_Q4_NB + n % KQ_Q4_NB;
		const int8_t *zp = w->zp + (sc - w->scale);
		for (int i = 0; i < p->m; i++) {
			const float *a = p->a + (size_t)i * p->lda;
			float acc = 0.0f;
			for (int g = 0; g < w->ngroups; g++) {
				int k1 = (g + 1) * w->group < w->k ? (g + 1) * w->group : w->k;
				float ag = 0.0f;
				for (int k = g * w->group; k < k1; k++)
					ag += a[k] * (float)(kq_q4_get(w, n, k) - zp[g * KQ_Q4_NB]);
				acc += ag * sc[g * KQ_Q4_NB];
			}
			p->c[(size_t)i * p->ldc + n] = acc + w->bias[n];
		}
	}
}

/* Exact integer dot product per group, then acc += (float)isum * scale in
 * group order; C = acc * a_scale + bias, each operation rounded on its own
 * (-std=c11 keeps the compiler from contracting them). */
void kq_gemm_q4_s8_ref(const kq_q4_args *p, int b0, int b1)
{
	const struct kq_q4w *w = p->w;
	int n1 = b1 * KQ_Q4_NB < w->n ? b1 * KQ_Q4_NB : w->n;
	for (int n = b0 * KQ_Q4_NB; n < n1; n++) {
		const float *sc = w->scale + (size_t)(n / KQ_Q4_NB) * w->ngroups * KQ_Q4_NB + n % KQ_Q4_NB;
		const int8_t *zp = w->zp + (sc - w->scale);
		for (int i = 0; i < p->m; i++) {
			const uint8_t *a = p->a8 + (size_t)i * p->lda;
			float acc = 0.0f;
			for (int g = 0; g < w->ngroups; g++) {
				int k1 = (g + 1) * w->group < w->k ? (g + 1) * w->group : w->k;
				int32_t isum = 0;
				for (int k = g * w->group; k < k1; k++)
					isum += (a[k] - p->a_zp) * (kq_q4_get(w, n, k) - zp[g * KQ_Q4_NB]);
				acc += (float)isum * sc[g * KQ_Q4_NB];
			}
			p->c[(size_t)i * p->ldc + n] = acc * p->a_scale + w->bias[n];
		}
	}
}
