/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pool.c - the worker threads of a kq_ctx and kq_parallel().
 *
 * DESIGN: a context owns threads-1 workers; the caller of kq_parallel is the
 * last worker.  A job is published under `mu` by bumping `gen`; workers
 * take task indices from the atomic `next` until it passes `n`, and the
 * last one to finish (counted by `left`) signals `done_cv`.  Workers spin
 * about 100 us on `gen` before sleeping, and the caller spins as long on
 * `left` before waiting: a condvar wake-up costs ~20 us in these VMs, as
 * much as a whole 512^3 int8 GEMM, and both halves were needed to bring the
 * per-call overhead to ~0.5 us.  Only one thread may call kq_parallel on a
 * context at a time (documented in kq.h).
 */
#include "kq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_ROUNDS 4000 /* x ~24 ns per pause: ~100 us */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

struct kq_ctx {
	int threads;
	pthread_t *tid;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	atomic_uint gen;
	atomic_int next, left;
	int n, quit;
	kq_task_fn fn;
	void *arg;
};

static void run_tasks(kq_ctx *ctx)
{
	int i;
	while ((i = atomic_fetch_add(&ctx->next, 1)) < ctx->n)
		ctx->fn(ctx->arg, i, ctx->n);
	if (atomic_fetch_sub(&ctx->left, 1) == 1) {
		pthread_mutex_lock(&ctx->mu);
		pthread_cond_signal(&ctx->done_cv);
		pthread_mutex_unlock(&ctx->mu);
	}
}

static void *worker(void *p)
{
	kq_ctx *ctx = p;
	unsigned seen = 0;
	for (;;) {
		for (int s = 0; s < SPIN_ROUNDS && atomic_load(&ctx->gen) == seen; s++)
			cpu_relax();
		pthread_mutex_lock(&ctx->mu);
		while (atomic_load(&ctx->gen) == seen && !ctx->quit)
			pthread_cond_wait(&ctx->work_cv, &ctx->mu);
		int quit = ctx->quit;
		seen = atomic_load(&ctx->gen);
		pthread_mutex_unlock(&ctx->mu);
		if (quit)
			return NULL;
		run_tasks(ctx);
	}
}

kq_ctx *kq_ctx_create(int threads)
{
	if (threads <= 0) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);
		threads = online > 0 ? (int)online : 1;
	}
	kq_ctx *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return NULL;
	ctx->threads = threads;
	ctx->tid = calloc((size_t)threads, sizeof *ctx->tid);
	if (!ctx->tid) {
		free(ctx);
		return NULL;
	}
	pthread_mutex_init(&ctx->mu, NULL);
	pthread_cond_init(&ctx->work_cv, NULL);
	pthread_cond_init(&ctx->done_cv, NULL);
	for (int i = 1; i < threads; i++)
		if (pthread_create(&ctx->tid[i], NULL, worker, ctx) != 0) {
			ctx->threads = i;
			kq_ctx_destroy(ctx);
			return NULL;
		}
	return ctx;
}

void kq_ctx_destroy(kq_ctx *ctx)
{
	if (!ctx)
		return;
	pthread_mutex_lock(&ctx->mu);
	ctx->quit = 1;
	atomic_fetch_add(&ctx->gen, 1);
	pthread_cond_broadcast(&ctx->work_cv);
	pthread_mutex_unlock(&ctx->mu);
	for (int i = 1; i < ctx->threads; i++)
		pthread_join(ctx->tid[i], NULL);
	pthread_cond_destroy(&ctx->work_cv);
	pthread_cond_destroy(&ctx->done_cv);
	pthread_mutex_destroy(&ctx->mu);
	free(ctx->tid);
	free(ctx);
}

int kq_ctx_threads(const kq_ctx *ctx)
{
	return ctx ? ctx->threads : 1;
}

void kq_parallel(kq_ctx *ctx, int n, kq_task_fn fn, void *arg)
{
	if (n <= 0)
		return;
	if (!ctx || ctx->threads == 1 || n == 1) {
		for (int i = 0; i < n; i++)
			fn(arg, i, n);
		return;
	}
	pthread_mutex_lock(&ctx->mu);
	ctx->fn = fn;
	ctx->arg = arg;
	ctx->n = n;
	atomic_store(&ctx->next, 0);
	atomic_store(&ctx->left, ctx->threads);
	atomic_fetch_add(&ctx->gen, 1);
	pthread_cond_broadcast(&ctx->work_cv);
	pthread_mutex_unlock(&ctx->mu);
	run_tasks(ctx);
	for (int s = 0; s < SPIN_ROUNDS && atomic_load(&ctx->left) > 0; s++)
		cpu_relax();
	pthread_mutex_lock(&ctx->mu);
	while (atomic_load(&ctx->left) > 0)
		pthread_cond_wait(&ctx->done_cv, &ctx->mu);
	pthread_mutex_unlock(&ctx->mu);
}
