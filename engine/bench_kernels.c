/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_kernels.c - `precis bench kernels`: every quantized kernel against
 * OpenBLAS fp32 on the same shape, in the same run.
 *
 * DESIGN: a row is (kernel kind, ISA, shape, threads).  Each kind is one
 * entry of `kinds` (make / run / drop one weight matrix).  Rows time the
 * median of `repeats` repeats, each long enough (>= 20 ms) to swamp timer
 * noise, after warm-up.  GEMV-shaped rows (m == 1) model LLM decoding,
 * where weights stream from DRAM: they rotate through enough distinct
 * weight matrices to exceed 4x the last-level cache, for the fp32
 * reference and the quantized kernel alike.  Before each row we sleep
 * 300 ms so the spinning worker threads of the previous runtime (OpenBLAS,
 * OpenMP in oneDNN, our pool) have gone idle and do not steal a core.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eng_bench.h"
#include "eng_report.h"
#include "kq.h"

#define MIN_REPEAT_S 0.02
#define COLD_FACTOR 4   /* rotated weights exceed this many times the LLC */
#define DEFAULT_LLC (32u << 20)

typedef struct {
	int m, n, k, isa, nmat;
	int settle_ms; /* pause before timing, for other runtimes' threads to sleep */
	kq_ctx *ctx;
	float *af, *c, *scale, *wsrc;
	uint8_t *a8;
	void **w;   /* nmat weight objects of the row's kind */
	size_t wbytes;
	uint64_t rng;
} bench_row;

typedef struct {
	const char *name;     /* row "kernel" field */
	const char *what;     /* for the progress line */
	int emulated;
	int (*make)(bench_row *r, int i);
	void (*run)(bench_row *r, int i);
	void (*drop)(bench_row *r, int i);
} kernel_kind;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static uint32_t rnd(bench_row *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return (uint32_t)(r->rng >> 32);
}

static float rnd_unit(bench_row *r)
{
	return (float)(rnd(r) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* ---------------------------------------------------------------- kinds */

static int make_f32(bench_row *r, int i)
{
	size_t nk = (size_t)r->n * r->k;
	float *w = malloc(nk * sizeof *w);
	if (!w)
		return -1;
	for (size_t j = 0; j < nk; j++)
		w[j] = rnd_unit(r);
	r->w[i] = w;
	r->wbytes = nk * sizeof *w;
	return 0;
}
static void run_f32(bench_row *r, int i)
{
	kq_sgemm_f32(r->ctx, r->m, r->n, r->k, r->af, r->k, r->w[i], r->k, NULL, r->c, r->n);
}
static void drop_free(bench_row *r, int i)
{
	free(r->w[i]);
}

static int make_s8(bench_row *r, int i)
{
	size_t nk = (size_t)r->n * r->k;
	int8_t *q = malloc(nk);
	if (!q)
		return -1;
	for (size_t j = 0; j < nk; j++)
		q[j] = (int8_t)(rnd(r) >> 24);
	r->w[i] = kq_s8w_pack(q, r->n, r->k, r->scale, NULL, NULL, r->isa);
	free(q);
	if (!r->w[i])
		return -1;
	r->wbytes = kq_s8w_bytes(r->w[i]);
	return 0;
}
/* The int8 row times the integer GEMM with int32 output, what oneDNN's
 * u8s8s32 matmul computes; the int8-f32 row adds the fused fp32 epilogue
 * (scales, bias) that the engine uses. */
static void run_s8(bench_row *r, int i)
{
	kq_gemm_s8_s32(r->ctx, r->m, r->a8, r->k, 128, r->w[i], (int32_t *)r->c, r->n);
}
static void run_s8f(bench_row *r, int i)
{
	kq_gemm_s8_f32(r->ctx, r->m, r->a8, r->k, 0.01f, 128, r->w[i], r->c, r->n);
}
static void drop_s8(bench_row *r, int i)
{
	kq_s8w_destroy(r->w[i]);
}

static int make_q4(bench_row *r, int i)
{
	const int group = 128;
	size_t nk = (size_t)r->n * r->k, ng = (size_t)r->n * ((r->k + group - 1) / group);
	int8_t *q = malloc(nk);
	float *s = malloc(ng * sizeof *s);
	if (!q || !s) {
		free(q);
		free(s);
		return -1;
	}
	for (size_t j = 0; j < nk; j++)
		q[j] = (int8_t)((int)(rnd(r) >> 28) - 8);
	for (size_t j = 0; j < ng; j++)
		s[j] = 0.01f + 0.001f * (float)(j % 7);
	r->w[i] = kq_q4w_pack(q, r->n, r->k, group, s, NULL, NULL, r->isa);
	free(q);
	free(s);
	if (!r->w[i])
		return -1;
	r->wbytes = kq_q4w_bytes(r->w[i]);
	return 0;
}
static void run_q4f(bench_row *r, int i)
{
	kq_gemm_q4_f32(r->ctx, r->m, r->af, r->k, r->w[i], r->c, r->n);
}
static void run_q4s8(bench_row *r, int i)
{
	kq_gemm_q4_s8(r->ctx, r->m, r->a8, r->k, 0.01f, 128, r->w[i], r->c, r->n);
}
static void drop_q4(bench_row *r, int i)
{
	kq_q4w_destroy(r->w[i]);
}

static int make_fp8(bench_row *r, int i)
{
	/* Every rotated matrix may share one fp32 source: distinct copies in
	 * memory are what makes the row cache-cold. */
	if (!r->wsrc) {
		size_t nk = (size_t)r->n * r->k;
		if (!(r->wsrc = malloc(nk * sizeof *r->wsrc)))
			return -1;
		for (size_t j = 0; j < nk; j++)
			r->wsrc[j] = rnd_unit(r) * 300.0f;
	}
	r->w[i] = kq_fw_pack(KQ_FMT_E4M3, r->wsrc, r->n, r->k, NULL, NULL, r->isa);
	if (!r->w[i])
		return -1;
	r->wbytes = kq_fw_bytes(r->w[i]);
	return 0;
}
static void run_fw(bench_row *r, int i)
{
	kq_gemm_fw_f32(r->ctx, r->m, r->af, r->k, r->w[i], r->c, r->n);
}
static void drop_fw(bench_row *r, int i)
{
	kq_fw_destroy(r->w[i]);
}

enum { K_F32, K_S8, K_S8F, K_Q4F, K_Q4S8, K_FP8 };
static const kernel_kind kinds[] = {
	[K_F32] = {"fp32", "OpenBLAS fp32", 0, make_f32, run_f32, drop_free},
	[K_S8] = {"int8", "int8 GEMM (u8 x s8 -> s32)", 0, make_s8, run_s8, drop_s8},
	[K_S8F] = {"int8-f32", "int8 GEMM with fused fp32 epilogue", 0, make_s8, run_s8f, drop_s8},
	[K_Q4F] = {"int4-w4a32", "int4 weights, fp32 activations", 0, make_q4, run_q4f, drop_q4},
	[K_Q4S8] = {"int4-w4a8", "int4 weights, int8 activations", 0, make_q4, run_q4s8, drop_q4},
	[K_FP8] = {"fp8-e4m3", "fp8 e4m3 weights, fp32 activations", 1, make_fp8, run_fw, drop_fw},
};

/* ---------------------------------------------------------------- shapes */

typedef struct {
	int m, n, k;
	unsigned kinds; /* bit per kind beside fp32 and int8, which run everywhere */
} shape;

#define BIT(k) (1u << (k))
static const shape full_shapes[] = {
	{256, 256, 256, 0},
	{512, 512, 512, 0},
	{1024, 1024, 1024, BIT(K_S8F) | BIT(K_Q4F) | BIT(K_Q4S8) | BIT(K_FP8)},
	{2048, 2048, 2048, 0},
	{64, 4096, 4096, BIT(K_S8F) | BIT(K_Q4F) | BIT(K_Q4S8) | BIT(K_FP8)},
	{1, 4096, 4096, BIT(K_S8F) | BIT(K_Q4F) | BIT(K_Q4S8) | BIT(K_FP8)},
};
static const shape quick_shapes[] = {
	{64, 64, 64, BIT(K_S8F) | BIT(K_Q4F) | BIT(K_Q4S8) | BIT(K_FP8)},
	{1, 512, 512, BIT(K_S8F) | BIT(K_Q4F) | BIT(K_Q4S8) | BIT(K_FP8)},
};

static size_t llc_bytes(void)
{
	long v = sysconf(_SC_LEVEL3_CACHE_SIZE);
	return v > 0 ? (size_t)v : DEFAULT_LLC;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median seconds per call, rotating through r->nmat weight matrices. */
static double time_row(bench_row *r, const kernel_kind *kk, int repeats)
{
	double *t = calloc((size_t)repeats, sizeof *t);
	if (!t)
		return -1;
	pause_ms(r->settle_ms);
	for (int i = 0; i < r->nmat; i++)
		kk->run(r, i);
	double t0 = now_s();
	for (int i = 0; i < r->nmat; i++)
		kk->run(r, i);
	double one = (now_s() - t0) / r->nmat;
	int calls = r->nmat;
	while (calls * one < MIN_REPEAT_S)
		calls += r->nmat;
	for (int rep = 0; rep < repeats; rep++) {
		t0 = now_s();
		for (int i = 0; i < calls; i++)
			kk->run(r, i % r->nmat);
		t[rep] = (now_s() - t0) / calls;
	}
	qsort(t, (size_t)repeats, sizeof *t, cmp_double);
	double med = t[repeats / 2];
	free(t);
	return med;
}

typedef struct {
	double sec;  /* median seconds per call, < 0 on failure */
	int nmat;
	size_t wbytes;
} timing;

/* Makes the row's weights, times it, frees them. */
/* cold: rotate through > COLD_FACTOR x LLC of weights; quick (smoke
 * tests): rotate through two matrices only, which is not cache-cold. */
static timing measure(bench_row *r, int kind, int cold, int quick, int repeats)
{
	const kernel_kind *kk = &kinds[kind];
	timing res = {-1, 0, 0};
	r->nmat = 1;
	r->wsrc = NULL;
	r->w = calloc(1, sizeof *r->w);
	if (!r->w || kk->make(r, 0) != 0)
		goto out;
	if (cold || quick) {
		size_t want = COLD_FACTOR * llc_bytes();
		int nmat = quick ? 2 : (int)((want + r->wbytes - 1) / r->wbytes) + 1;
		void **w = realloc(r->w, (size_t)nmat * sizeof *w);
		if (!w)
			goto out;
		r->w = w;
		for (; r->nmat < nmat; r->nmat++)
			if (kk->make(r, r->nmat) != 0)
				goto out;
	}
	res.sec = time_row(r, kk, repeats);
	res.nmat = r->nmat;
	res.wbytes = r->wbytes;
out:
	for (int i = 0; r->w && i < r->nmat; i++)
		kk->drop(r, i);
	free(r->w);
	free(r->wsrc);
	r->w = NULL;
	r->wsrc = NULL;
	return res;
}

static void add_row(cJSON *results, const char *kernel, int isa, const bench_row *r, int threads,
		    timing q, const char *ref_kernel, timing ref, int repeats, int cold, int emulated,
		    double onednn)
{
	double ops = 2.0 * r->m * r->n * r->k;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kernel", kernel);
	cJSON_AddStringToObject(o, "isa", kq_isa_name(isa));
	cJSON_AddNumberToObject(o, "m", r->m);
	cJSON_AddNumberToObject(o, "n", r->n);
	cJSON_AddNumberToObject(o, "k", r->k);
	cJSON_AddNumberToObject(o, "threads", threads);
	cJSON_AddNumberToObject(o, "gops", ops / q.sec * 1e-9);
	cJSON_AddNumberToObject(o, "calls_per_s", 1.0 / q.sec);
	cJSON_AddStringToObject(o, "ref_kernel", ref_kernel);
	cJSON_AddNumberToObject(o, "ref_gops", ops / ref.sec * 1e-9);
	cJSON_AddNumberToObject(o, "ratio", ref.sec / q.sec);
	cJSON_AddNumberToObject(o, "repeats", repeats);
	cJSON_AddBoolToObject(o, "cold", cold);
	cJSON_AddNumberToObject(o, "weight_bytes", (double)q.wbytes);
	cJSON_AddNumberToObject(o, "rotated_matrices", q.nmat);
	cJSON_AddNumberToObject(o, "ref_rotated_matrices", ref.nmat);
	cJSON_AddBoolToObject(o, "emulated", emulated);
	if (onednn > 0) {
		cJSON_AddNumberToObject(o, "onednn_gops", onednn);
		cJSON_AddNumberToObject(o, "ratio_onednn", ops / q.sec * 1e-9 / onednn);
	}
	cJSON_AddItemToArray(results, o);
}

cJSON *eng_bench_kernels(const eng_bench_opts *o, eng_progress_fn progress, void *user,
			 char *err, size_t errlen)
{
	if (kq_init() != KQ_OK) {
		snprintf(err, errlen, "PRECIS_ISA=%s: unknown or not supported by this CPU (use ref, avx2 or avx512vnni)",
			 getenv("PRECIS_ISA") ? getenv("PRECIS_ISA") : "");
		return NULL;
	}
	int isa = kq_isa_active(), repeats = o->repeats > 0 ? o->repeats : 7;
	int maxt = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (maxt < 1)
		maxt = 1;
	const shape *shapes = o->quick ? quick_shapes : full_shapes;
	int nshapes = o->quick ? 2 : (int)(sizeof full_shapes / sizeof *full_shapes);
	int nthr = maxt > 1 ? 2 : 1, tlist[2] = {1, maxt};
	/* The AVX2 int8 path is benchmarked too when it is not the active one,
	 * so its ratio is known on AVX-512 machines. */
	int extra_avx2 = isa == KQ_ISA_AVX512VNNI && kq_isa_supported(KQ_ISA_AVX2);

	cJSON *root = cJSON_CreateObject(), *results = cJSON_CreateArray();
	cJSON_AddStringToObject(root, "precis", PACKAGE_VERSION);
	cJSON_AddStringToObject(root, "isa", kq_isa_name(isa));
	cJSON_AddNumberToObject(root, "threads", maxt);
	char cpu[128];
	eng_cpu_model(cpu, sizeof cpu);
	cJSON_AddStringToObject(root, "cpu", cpu);
	cJSON_AddNumberToObject(root, "llc_bytes", (double)llc_bytes());
	cJSON_AddStringToObject(root, "onednn", eng_onednn_available() ? eng_onednn_version() : "not built in");
	cJSON_AddNumberToObject(root, "repeats", repeats);
	cJSON_AddStringToObject(root, "method",
				"median seconds per call over the repeats, each repeat >= 20 ms after warm-up; the int8 rows are the "
				"u8 x s8 -> s32 GEMM (as oneDNN's u8s8s32), int8-f32 adds the fused fp32 epilogue; "
				"GOP/s = 2*m*n*k/s; ratio = reference time / kernel time on the same shape and "
				"thread count in this run; m == 1 rows are cache-cold: they rotate through distinct "
				"weight matrices totalling more than 4x the last-level cache, reference and kernel alike");
	cJSON_AddItemToObject(root, "results", results);

	int total = 0, done = 0;
	for (int s = 0; s < nshapes; s++)
		total += nthr * (2 + extra_avx2 + __builtin_popcount(shapes[s].kinds));
	for (int ti = 0; ti < nthr; ti++) {
		int threads = tlist[ti];
		kq_ctx *ctx = kq_ctx_create(threads);
		if (!ctx) {
			snprintf(err, errlen, "cannot start %d worker threads", threads);
			cJSON_Delete(root);
			return NULL;
		}
		for (int s = 0; s < nshapes; s++) {
			bench_row r = {.m = shapes[s].m, .n = shapes[s].n, .k = shapes[s].k,
				       .ctx = ctx, .rng = 0x9E3779B97F4A7C15ull, .settle_ms = o->quick ? 30 : 300};
			int gemv = r.m == 1, cold = gemv && !o->quick;
			size_t mk = (size_t)r.m * r.k;
			r.af = malloc(mk * sizeof *r.af);
			r.a8 = malloc(mk);
			r.c = malloc((size_t)r.m * r.n * sizeof *r.c);
			r.scale = malloc((size_t)r.n * sizeof *r.scale);
			if (!r.af || !r.a8 || !r.c || !r.scale)
				goto oom;
			for (size_t j = 0; j < mk; j++) {
				r.af[j] = rnd_unit(&r);
				r.a8[j] = (uint8_t)(rnd(&r) >> 24);
			}
			for (int j = 0; j < r.n; j++)
				r.scale[j] = 0.001f * (1 + j % 13);

			char what[160];
			snprintf(what, sizeof what, "OpenBLAS fp32 %dx%dx%d, %d thread%s", r.m, r.n, r.k,
				 threads, threads > 1 ? "s" : "");
			if (progress)
				progress(user, what, (double)done / total);
			timing ref = measure(&r, K_F32, cold, gemv && o->quick, repeats);
			done++;
			if (ref.sec <= 0)
				goto oom;
			const char *ref_name = gemv ? "openblas-sgemv" : "openblas-sgemm";
			for (int kind = K_S8; kind <= K_FP8; kind++) {
				if (kind != K_S8 && !(shapes[s].kinds & BIT(kind)))
					continue;
				for (int pass = 0; pass < (kind == K_S8 ? 1 + extra_avx2 : 1); pass++) {
					r.isa = pass ? KQ_ISA_AVX2 : isa;
					snprintf(what, sizeof what, "%s [%s] %dx%dx%d, %d thread%s",
						 kinds[kind].what, kq_isa_name(r.isa), r.m, r.n, r.k, threads,
						 threads > 1 ? "s" : "");
					if (progress)
						progress(user, what, (double)done / total);
					timing q = measure(&r, kind, cold, gemv && o->quick, repeats);
					done++;
					if (q.sec <= 0)
						goto oom;
					double dn = -1;
					if (kind == K_S8 && !pass && !gemv && eng_onednn_available()) {
						pause_ms(r.settle_ms);
						dn = eng_onednn_s8_gops(r.m, r.n, r.k, threads, repeats);
					}
					add_row(results, kinds[kind].name, r.isa, &r, threads, q, ref_name, ref,
						repeats, cold, kinds[kind].emulated, dn);
				}
			}
			free(r.af), free(r.a8), free(r.c), free(r.scale);
			continue;
		oom:
			free(r.af), free(r.a8), free(r.c), free(r.scale);
			kq_ctx_destroy(ctx);
			cJSON_Delete(root);
			snprintf(err, errlen, "benchmark %dx%dx%d: out of memory or kernel refused the shape",
				 shapes[s].m, shapes[s].n, shapes[s].k);
			return NULL;
		}
		kq_ctx_destroy(ctx);
	}
	if (progress)
		progress(user, "done", 1.0);
	return root;
}
