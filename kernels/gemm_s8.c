/* SPDX-License-Identifier: GPL-3.0-or-later */
/* gemm_s8.c - int8 x int8 GEMM: packing, entry points, threading, and the
 * scalar reference kernel.
 *
 * DESIGN
 * - kq_s8w_pack() chooses the ISA's ops table once and packs the weights
 *   into its micro-kernel layout (see gemm_s8_avx512.c / gemm_s8_avx2.c);
 *   the reference layout is the caller's N x K matrix copied as is.  The
 *   packed object is immutable afterwards, so several calls on different
 *   contexts may share it.
 * - A call validates its arguments, computes the per-call column terms
 *   (K * a_zp * zp - a_zp * colsum: where each sum starts), the float
 *   scales a_scale * scale[n] and, only when some weight zero point is
 *   non-zero, the row sums of A; then splits the output columns into one
 *   range of whole panels per thread (kq_split) and runs them with
 *   kq_parallel.  Only when there are fewer panels than threads (N <= 64
 *   on two threads) does it split rows instead.  Each task writes only its
 *   own part of C and its own slice of the scratch buffer.
 * - The reference kernel computes sum_k (a - a_zp)(w - zp) directly in
 *   uint32, the definition in kq.h; the SIMD variants compute sum a*w and
 *   compensate, which is the same value modulo 2^32.
 */
#include "config.h"

#include "kq_impl.h"
#include "s8_impl.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ reference */

#define REF_NR 16 /* only the granularity of the thread split */
/* Rows per part when tasks split M: a multiple of every micro-kernel's
 * row count (6, 8, 12), so no part ends in a partial tile it could avoid. */
#define S8_ROW_ALIGN 48

static size_t ref_packed_bytes(int n, int k)
{
	return (size_t)n * (size_t)k;
}

static void ref_pack(const int8_t *w, int n, int k, void *dst)
{
	memcpy(dst, w, (size_t)n * (size_t)k);
}

static size_t ref_scratch_bytes(const s8_job *job)
{
	(void)job;
	return 0;
}

static void ref_cols(const s8_job *job, int m0, int m1, int n0, int n1, unsigned char *scratch)
{
	const kq_s8w *w = job->w;
	const int8_t *wq = w->packed;
	const int k = job->k;
	const uint32_t azp = (uint32_t)job->a_zp;
	(void)scratch;
	for (int m = m0; m < m1; m++) {
		const uint8_t *a = job->a + (size_t)m * job->lda;
		for (int n = n0; n < n1; n++) {
			const int8_t *wr = wq + (size_t)n * k;
			const uint32_t zp = w->zp ? (uint32_t)w->zp[n] : 0;
			uint32_t s = 0;
			for (int i = 0; i < k; i++)
				s += ((uint32_t)a[i] - azp) * ((uint32_t)(int32_t)wr[i] - zp);
			int32_t v = (int32_t)s; /* modulo 2^32: implementation-defined, so in gcc and clang */
			size_t at = (size_t)m * job->ldc + n;
			if (job->out == S8_OUT_S32) {
				((int32_t *)job->c)[at] = v;
				continue;
			}
			float cf = kq_s8_to_f32(v, job->fscale[n], w->bias[n]);
			if (job->out == S8_OUT_F32)
				((float *)job->c)[at] = cf;
			else
				((uint8_t *)job->c)[at] =
					kq_s8_to_u8(cf, job->inv_out, job->out_zp, job->relu);
		}
	}
}

const s8_ops kq_s8_ops_ref = {
	.nr = REF_NR,
	.packed_bytes = ref_packed_bytes,
	.pack = ref_pack,
	.scratch_bytes = ref_scratch_bytes,
	.cols = ref_cols,
};

/* ---------------------------------------------------------------- packing */

static const s8_ops *ops_for(kq_isa isa)
{
	switch (isa) {
	case KQ_ISA_REF: return &kq_s8_ops_ref;
#ifdef KQ_X86_SIMD
	case KQ_ISA_AVX2: return &kq_s8_ops_avx2;
	case KQ_ISA_AVX512VNNI: return &kq_s8_ops_avx512vnni;
#endif
	default: return NULL;
	}
}

/* The packed form owns copies of everything: the caller keeps w, scale, zp
 * and bias.  NULL on bad arguments, an ISA that is not built or not
 * supported here, or out of memory. */
kq_s8w *kq_s8w_pack(const int8_t *w, int n, int k, const float *scale, const int32_t *zp,
		    const float *bias, int isa)
{
	int rs = kq_isa_resolve(isa);
	if (!w || !scale || n <= 0 || k <= 0 || n > INT_MAX - 256 || k > INT_MAX - 256)
		return NULL;
	if (rs < 0 || rs >= KQ_ISA_COUNT || !kq_isa_supported((kq_isa)rs))
		return NULL;
	const s8_ops *ops = ops_for((kq_isa)rs);
	if (!ops)
		return NULL;
	if ((size_t)n > SIZE_MAX / 4 / (size_t)k)
		return NULL;
	int any_zp = 0;
	for (int i = 0; zp && i < n; i++) {
		if (zp[i] < -128 || zp[i] > 127)
			return NULL;
		any_zp |= zp[i] != 0;
	}
	kq_s8w *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->n = n;
	p->k = k;
	p->np = (n + ops->nr - 1) / ops->nr * ops->nr;
	p->isa = (kq_isa)rs;
	p->ops = ops;
	size_t pb = ops->packed_bytes(n, k), np = (size_t)p->np;
	p->packed = kq_alloc(pb);
	p->colsum = kq_alloc(np * sizeof *p->colsum);
	p->scale = kq_alloc(np * sizeof *p->scale);
	p->bias = kq_alloc(np * sizeof *p->bias);
	if (any_zp)
		p->zp = kq_alloc(np * sizeof *p->zp);
	if (!p->packed || !p->colsum || !p->scale || !p->bias || (any_zp && !p->zp)) {
		kq_s8w_destroy(p);
		return NULL;
	}
	ops->pack(w, n, k, p->packed);
	for (int i = 0; i < n; i++) {
		uint32_t s = 0;
		for (int j = 0; j < k; j++)
			s += (uint32_t)(int32_t)w[(size_t)i * k + j];
		p->colsum[i] = (int32_t)s;
		p->scale[i] = scale[i];
		p->bias[i] = bias ? bias[i] : 0.0f;
		if (p->zp)
			p->zp[i] = zp[i];
	}
	p->bytes = sizeof *p + ((pb + 63) & ~(size_t)63) +
		   (any_zp ? 4 : 3) * ((np * 4 + 63) & ~(size_t)63);
	return p;
}

void kq_s8w_destroy(kq_s8w *w)
{
	if (!w)
		return;
	kq_free(w->packed);
	kq_free(w->colsum);
	kq_free(w->scale);
	kq_free(w->bias);
	kq_free(w->zp);
	free(w);
}

int kq_s8w_n(const kq_s8w *w)
{
	return w ? w->n : 0;
}

int kq_s8w_k(const kq_s8w *w)
{
	return w ? w->k : 0;
}

kq_isa kq_s8w_isa(const kq_s8w *w)
{
	return w ? w->isa : KQ_ISA_REF;
}

size_t kq_s8w_bytes(const kq_s8w *w)
{
	return w ? w->bytes : 0;
}

/* ------------------------------------------------------------------ calls */

static void rowsum_task(void *arg, int i, int parts)
{
	s8_job *job = arg;
	int lo, hi;
	kq_split(job->m, 1, i, parts, &lo, &hi);
	int32_t *out = job->rowsum;
	for (int m = lo; m < hi; m++) {
		const uint8_t *a = job->a + (size_t)m * job->lda;
		uint32_t s = 0;
		for (int j = 0; j < job->k; j++)
			s += a[j];
		out[m] = (int32_t)s;
	}
}

static void gemm_task(void *arg, int i, int parts)
{
	const s8_job *job = arg;
	int m0 = 0, m1 = job->m, n0 = 0, n1 = job->n;
	if (job->split_rows)
		kq_split(job->m, S8_ROW_ALIGN, i, parts, &m0, &m1);
	else
		kq_split(job->n, job->w->ops->nr, i, parts, &n0, &n1);
	if (m0 < m1 && n0 < n1)
		job->w->ops->cols(job, m0, m1, n0, n1,
				  job->scratch ? job->scratch + (size_t)i * job->scratch_bytes : NULL);
}

static size_t round64(size_t x)
{
	return (x + 63) & ~(size_t)63;
}

static int gemm_run(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale, int32_t a_zp,
		    const kq_s8w *w, int out, void *c, int ldc, float out_scale, int32_t out_zp,
		    int relu)
{
	if (!w || !a || !c || m <= 0 || lda < w->k || ldc < w->n)
		return KQ_EINVAL;
	if (out == S8_OUT_U8 && !(out_scale > 0.0f && isfinite(out_scale)))
		return KQ_EINVAL;
	s8_job job = {0};
	job.m = m;
	job.n = w->n;
	job.k = w->k;
	job.a = a;
	job.lda = (size_t)lda;
	job.a_zp = a_zp;
	job.w = w;
	job.out = out;
	job.c = c;
	job.ldc = (size_t)ldc;
	job.inv_out = out == S8_OUT_U8 ? 1.0f / out_scale : 0.0f;
	job.out_zp = (float)out_zp;
	job.relu = relu != 0;

	/* By columns: each thread streams only its own share of the weights.
	 * By rows only when there are fewer panels than threads. */
	int panels = (w->n + w->ops->nr - 1) / w->ops->nr, threads = kq_ctx_threads(ctx);
	int row_parts = (m + S8_ROW_ALIGN - 1) / S8_ROW_ALIGN;
	job.split_rows = panels < threads && row_parts > panels;
	job.tasks = job.split_rows ? (threads < row_parts ? threads : row_parts)
				   : (threads < panels ? threads : panels);

	/* One zeroed block for the per-call arrays (zero past n, where SIMD
	 * epilogues read whole vectors); the scratch is not zeroed: the
	 * kernels write before they read it. */
	size_t np = (size_t)w->np;
	size_t o_colinit = 0, o_fscale = o_colinit + round64(np * 4);
	size_t o_rowsum = o_fscale + round64(np * 4);
	size_t total = o_rowsum + (w->zp ? round64((size_t)m * 4) : 0);
	job.scratch_bytes = round64(w->ops->scratch_bytes(&job));
	unsigned char *mem = kq_alloc(total);
	void *scratch = NULL;
	if (job.scratch_bytes &&
	    posix_memalign(&scratch, 64, job.scratch_bytes * (size_t)job.tasks) != 0)
		scratch = NULL;
	if (!mem || (job.scratch_bytes && !scratch)) {
		kq_free(mem);
		free(scratch);
		return KQ_ENOMEM;
	}
	int32_t *colinit = (int32_t *)(void *)(mem + o_colinit);
	float *fscale = (float *)(void *)(mem + o_fscale);
	const uint32_t uazp = (uint32_t)a_zp, kazp = (uint32_t)w->k * uazp;
	for (int n = 0; n < w->n; n++) {
		uint32_t t = 0u - uazp * (uint32_t)w->colsum[n];
		if (w->zp)
			t += kazp * (uint32_t)w->zp[n];
		colinit[n] = (int32_t)t;
		fscale[n] = a_scale * w->scale[n];
	}
	job.colinit = colinit;
	job.fscale = fscale;
	job.scratch = scratch;
	if (w->zp && w->isa != KQ_ISA_REF) {
		job.rowsum = (int32_t *)(void *)(mem + o_rowsum);
		int parts = (size_t)m * (size_t)w->k >= (1u << 16) ? threads : 1;
		kq_parallel(ctx, parts < m ? parts : m, rowsum_task, &job);
	}
	kq_parallel(ctx, job.tasks, gemm_task, &job);
	kq_free(mem);
	free(scratch);
	return KQ_OK;
}

int kq_gemm_s8_s32(kq_ctx *ctx, int m, const uint8_t *a, int lda, int32_t a_zp, const kq_s8w *w,
		   int32_t *c, int ldc)
{
	return gemm_run(ctx, m, a, lda, 1.0f, a_zp, w, S8_OUT_S32, c, ldc, 1.0f, 0, 0);
}

int kq_gemm_s8_f32(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale, int32_t a_zp,
		   const kq_s8w *w, float *c, int ldc)
{
	return gemm_run(ctx, m, a, lda, a_scale, a_zp, w, S8_OUT_F32, c, ldc, 1.0f, 0, 0);
}

int kq_gemm_s8_u8(kq_ctx *ctx, int m, const uint8_t *a, int lda, float a_scale, int32_t a_zp,
		  const kq_s8w *w, float out_scale, int32_t out_zp, int relu, uint8_t *c, int ldc)
{
	return gemm_run(ctx, m, a, lda, a_scale, a_zp, w, S8_OUT_U8, c, ldc, out_scale, out_zp,
			relu);
}
