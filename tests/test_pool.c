/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_pool.c - ISA dispatch and the worker pool of kq_ctx. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kq.h"
#include "kq_impl.h"
#include "tap.h"

typedef struct {
	atomic_int hits[1000];
	atomic_int calls;
	int n_seen;
} count_arg;

static void count_task(void *p, int i, int n)
{
	count_arg *a = p;
	atomic_fetch_add(&a->hits[i], 1);
	atomic_fetch_add(&a->calls, 1);
	a->n_seen = n;
}

int main(void)
{
	/* dispatch */
	kq_isa isa;
	ok(kq_isa_parse("avx512vnni", &isa) == KQ_OK && isa == KQ_ISA_AVX512VNNI, "parse avx512vnni");
	ok(kq_isa_parse("avx2", &isa) == KQ_OK && isa == KQ_ISA_AVX2, "parse avx2");
	ok(kq_isa_parse("sse9", &isa) == KQ_EINVAL, "unknown ISA name is an error");
	ok(strcmp(kq_isa_name(KQ_ISA_REF), "ref") == 0 && strcmp(kq_isa_name(7), "?") == 0, "names");
	ok(kq_isa_supported(KQ_ISA_REF), "ref always supported");
	ok(kq_isa_supported(kq_isa_best()), "best is supported");
	ok(!kq_isa_supported(KQ_ISA_AVX512VNNI) || kq_isa_supported(KQ_ISA_AVX2),
	   "an AVX-512 VNNI CPU also runs the AVX2 variant");
	const char *env = getenv("PRECIS_ISA");
	int st = kq_init();
	if (env && *env)
		ok(st == KQ_OK && strcmp(kq_isa_name(kq_isa_active()), env) == 0,
		   "PRECIS_ISA=%s is the active ISA", env);
	else
		ok(st == KQ_OK && kq_isa_active() == kq_isa_best(), "active ISA is the best by default (%s)",
		   kq_isa_name(kq_isa_active()));
	ok(kq_isa_resolve(KQ_ISA_AUTO) == kq_isa_active() && kq_isa_resolve(KQ_ISA_REF) == KQ_ISA_REF,
	   "resolve AUTO");
	diag("cpu best ISA: %s", kq_isa_name(kq_isa_best()));

	/* pool: every index exactly once, for several sizes and thread counts,
	 * and many jobs in a row on one context (wake-up races show here). */
	for (int threads = 1; threads <= 4; threads++) {
		kq_ctx *ctx = kq_ctx_create(threads);
		ok(ctx && kq_ctx_threads(ctx) == threads, "create a context with %d threads", threads);
		int good = 1;
		for (int round = 0; round < 2000 && ctx; round++) {
			int n = 1 + (round * 7919) % 1000;
			count_arg *a = calloc(1, sizeof *a);
			kq_parallel(ctx, n, count_task, a);
			for (int i = 0; i < 1000; i++)
				good &= atomic_load(&a->hits[i]) == (i < n);
			good &= atomic_load(&a->calls) == n && a->n_seen == n;
			free(a);
		}
		ok(good, "2000 jobs of 1..1000 tasks: each index run exactly once (%d threads)", threads);
		kq_ctx_destroy(ctx);
	}
	kq_ctx_destroy(NULL);
	ok(1, "destroy(NULL) is a no-op");
	kq_ctx *def = kq_ctx_create(0);
	ok(def && kq_ctx_threads(def) >= 1, "threads <= 0 means all cores (%d)", kq_ctx_threads(def));
	kq_ctx_destroy(def);

	/* kq_split partitions exactly, on alignment boundaries */
	int good = 1;
	for (int n = 0; n < 300; n++)
		for (int parts = 1; parts <= 5; parts++) {
			int prev = 0;
			for (int i = 0; i < parts; i++) {
				int lo, hi;
				kq_split(n, 16, i, parts, &lo, &hi);
				good &= lo == prev && hi >= lo && (lo % 16 == 0 || lo == n);
				prev = hi;
			}
			good &= prev == n;
		}
	ok(good, "kq_split covers [0, n) in order with 16-aligned starts");

	void *p = kq_alloc(100);
	ok(p && ((uintptr_t)p & 63) == 0 && ((unsigned char *)p)[99] == 0, "kq_alloc is 64-byte aligned and zeroed");
	kq_free(p);
	return tap_done();
}
