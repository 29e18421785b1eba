/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sgemm.c - the fp32 reference product, C = A * W^T + bias, through OpenBLAS.
 *
 * DESIGN: OpenBLAS owns its own threads; we only tell it how many to use
 * (the context's count) before every call, so one knob controls both our
 * pool and OpenBLAS.  M == 1 goes to sgemv because OpenBLAS 0.3.21 runs an
 * M == 1 sgemm through the full GEMM path (packing and all), which would
 * make every GEMV comparison meaningless.
 */
#include <cblas.h>

#include "kq.h"

int kq_sgemm_f32(kq_ctx *ctx, int m, int n, int k, const float *a, int lda,
		 const float *w, int ldw, const float *bias, float *c, int ldc)
{
	if (m < 0 || n <= 0 || k <= 0 || lda < k || ldw < k || ldc < n || !w || !c ||
	    (m > 0 && !a))
		return KQ_EINVAL;
	if (m == 0)
		return KQ_OK;
	openblas_set_num_threads(kq_ctx_threads(ctx));
	if (m == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, ldw, a, 1, 0.0f, c, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, lda, w,
			    ldw, 0.0f, c, ldc);
	if (bias)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++)
				c[(size_t)i * ldc + j] += bias[j];
	return KQ_OK;
}
