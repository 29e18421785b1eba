/* SPDX-License-Identifier: GPL-3.0-or-later */
/* onednn.c - oneDNN's int8 matmul as a peer in the kernel benchmark.
 *
 * Optional: compiled to "not available" stubs unless configure found
 * libdnnl.  Weights get format_tag any and are reordered once, outside the
 * timed loop, so oneDNN is measured with its weights pre-packed exactly as
 * precis packs its own.  Debian's oneDNN uses the OpenMP runtime, so the
 * thread count is set with omp_set_num_threads.
 */
#include "config.h"

#include "eng_bench.h"

#ifdef HAVE_ONEDNN
#include <dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int eng_onednn_available(void)
{
	return 1;
}

const char *eng_onednn_version(void)
{
	static char buf[32];
	const dnnl_version_t *v = dnnl_version();
	snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
	return buf;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define CHECK(call)                                                                          \
	do {                                                                                 \
		if ((call) != dnnl_success)                                                  \
			goto out;                                                            \
	} while (0)

double eng_onednn_s8_gops(int m, int n, int k, int threads, int repeats)
{
	double result = -1;
	dnnl_engine_t eng = NULL;
	dnnl_stream_t stream = NULL;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t prim = NULL, reorder = NULL;
	dnnl_memory_t src = NULL, wplain = NULL, wpacked = NULL, dst = NULL;
	dnnl_memory_desc_t src_md, w_any_md, w_plain_md, dst_md;
	dnnl_matmul_desc_t md;
	double *times = calloc((size_t)(repeats > 0 ? repeats : 1), sizeof *times);
	if (!times || m <= 0 || n <= 0 || k <= 0)
		goto out;
	omp_set_num_threads(threads);
	dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n};
	CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
	CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
	CHECK(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_u8, dnnl_ab));
	CHECK(dnnl_memory_desc_init_by_tag(&w_any_md, 2, wd, dnnl_s8, dnnl_format_tag_any));
	CHECK(dnnl_memory_desc_init_by_tag(&w_plain_md, 2, wd, dnnl_s8, dnnl_ab));
	CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_s32, dnnl_ab));
	CHECK(dnnl_matmul_desc_init(&md, &src_md, &w_any_md, NULL, &dst_md));
	CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
	CHECK(dnnl_primitive_create(&prim, pd));
	const dnnl_memory_desc_t *w_packed_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	CHECK(dnnl_memory_create(&src, &src_md, eng, DNNL_MEMORY_ALLOCATE));
	CHECK(dnnl_memory_create(&wplain, &w_plain_md, eng, DNNL_MEMORY_ALLOCATE));
	CHECK(dnnl_memory_create(&wpacked, w_packed_md, eng, DNNL_MEMORY_ALLOCATE));
	CHECK(dnnl_memory_create(&dst, &dst_md, eng, DNNL_MEMORY_ALLOCATE));
	void *p;
	CHECK(dnnl_memory_get_data_handle(src, &p));
	for (size_t i = 0; i < (size_t)m * k; i++)
		((uint8_t *)p)[i] = (uint8_t)(i * 2654435761u >> 24);
	CHECK(dnnl_memory_get_data_handle(wplain, &p));
	for (size_t i = 0; i < (size_t)k * n; i++)
		((int8_t *)p)[i] = (int8_t)(i * 2246822519u >> 24);
	CHECK(dnnl_reorder_primitive_desc_create(&rpd, &w_plain_md, eng, w_packed_md, eng, NULL));
	CHECK(dnnl_primitive_create(&reorder, rpd));
	dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, wplain}, {DNNL_ARG_TO, wpacked}};
	CHECK(dnnl_primitive_execute(reorder, stream, 2, rargs));
	CHECK(dnnl_stream_wait(stream));
	dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wpacked}, {DNNL_ARG_DST, dst}};
	double ops = 2.0 * m * n * k;
	/* Enough calls per timed repeat to last about 20 ms, as for precis's own rows. */
	double t0 = now_s();
	CHECK(dnnl_primitive_execute(prim, stream, 3, args));
	CHECK(dnnl_stream_wait(stream));
	double one = now_s() - t0;
	int inner = one > 0 ? (int)(0.02 / one) + 1 : 1;
	for (int i = 0; i < 2; i++)
		CHECK(dnnl_primitive_execute(prim, stream, 3, args));
	CHECK(dnnl_stream_wait(stream));
	for (int r = 0; r < repeats; r++) {
		t0 = now_s();
		for (int i = 0; i < inner; i++)
			CHECK(dnnl_primitive_execute(prim, stream, 3, args));
		CHECK(dnnl_stream_wait(stream));
		times[r] = (now_s() - t0) / inner;
	}
	qsort(times, (size_t)repeats, sizeof *times, cmp_double);
	result = ops / times[repeats / 2] * 1e-9;
out:
	free(times);
	if (reorder) dnnl_primitive_destroy(reorder);
	if (rpd) dnnl_primitive_desc_destroy(rpd);
	if (prim) dnnl_primitive_destroy(prim);
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (src) dnnl_memory_destroy(src);
	if (wplain) dnnl_memory_destroy(wplain);
	if (wpacked) dnnl_memory_destroy(wpacked);
	if (dst) dnnl_memory_destroy(dst);
	if (stream) dnnl_stream_destroy(stream);
	if (eng) dnnl_engine_destroy(eng);
	return result;
}

#else

int eng_onednn_available(void)
{
	return 0;
}

const char *eng_onednn_version(void)
{
	return "not built in";
}

double eng_onednn_s8_gops(int m, int n, int k, int threads, int repeats)
{
	(void)m, (void)n, (void)k, (void)threads, (void)repeats;
	return -1;
}

#endif
