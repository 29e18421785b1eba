/* SPDX-License-Identifier: GPL-3.0-or-later */
/* worker.c - the explorer's worker thread and its one-slot job queue.
 *
 * DESIGN: one worker thread owns the eng_session (created on the worker by
 * the first job, ~0.3 s of loading, then reused so re-runs hit the engine's
 * caches; recreated only when the seed or the model changes, since both are
 * session options).  A job is a run (eng_session_eval) or a sensitivity job
 * (eng_session_sensitivity) for the layers screens; the UI queues the
 * latter only when the worker is idle, so it never cancels a run.  The UI
 * thread and the worker share `mu`-protected state: the
 * pending job (at most one: a newer recipe replaces it, because only the
 * latest matters), the quit flag, and the outcome slot (the latest finished
 * job; an outcome not yet taken is replaced and freed).  `cancel` is the
 * engine's flag for the running job: written by the UI thread under `mu`,
 * read by the engine between batches without the lock (eng.h allows this),
 * and reset by the worker under `mu` when it takes a new job, so a cancel
 * can never leak into the next job.  Progress goes through atomics (stage,
 * permille, busy) so the UI reads it without locking, and every publication
 * writes one byte to a non-blocking self-pipe the UI poll()s; a full pipe
 * is fine (the UI is already due to wake).  Only ui_worker_destroy joins;
 * the worker never touches curses.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ui_worker.h"

const char *const ui_stage_names[UI_STAGE_COUNT] = {"load",     "reference", "calibrate",  "quantize",
						    "evaluate", "benchmark", "statistics", "sensitivity"};

struct ui_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pipe_fd[2];
	eng_session_opts opts;

	/* under mu */
	int quit;
	int have_job;
	ui_job_kind job_kind;
	int job_full;
	char job_model[4096]; /* "" keeps the session's model */
	eng_recipe job;
	uint64_t job_seed;
	unsigned job_gen;
	int running; /* the worker is inside a job */
	int have_outcome;
	ui_outcome outcome;
	volatile int cancel;

	/* lock-free progress */
	atomic_int busy, stage, permille;

	/* worker thread only */
	eng_session *s;
	uint64_t s_seed;
	char s_model[4096]; /* the session's model ("" = opts.model) */
};

static void wake(ui_worker *w)
{
	ssize_t r = write(w->pipe_fd[1], "", 1);
	(void)r; /* EAGAIN: the pipe is full, the UI will wake anyway */
}

static void on_progress(void *user, const char *stage, double done)
{
	ui_worker *w = user;
	int st = UI_STAGE_NONE;
	for (int i = 0; i < UI_STAGE_COUNT; i++)
		if (strcmp(stage, ui_stage_names[i]) == 0)
			st = i;
	int pm = done <= 0 ? 0 : done >= 1 ? 1000 : (int)(done * 1000);
	int old_st = atomic_exchange(&w->stage, st);
	int old_pm = atomic_exchange(&w->permille, pm);
	/* about a hundred wake-ups per stage at most */
	if (old_st != st || pm / 10 != old_pm / 10)
		wake(w);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void *worker_main(void *arg)
{
	ui_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->quit && !w->have_job)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		eng_recipe r = w->job;
		ui_job_kind kind = w->job_kind;
		int full = w->job_full;
		char model[4096];
		snprintf(model, sizeof model, "%s", w->job_model);
		uint64_t seed = w->job_seed;
		unsigned gen = w->job_gen;
		w->have_job = 0;
		w->cancel = 0;
		w->running = 1;
		pthread_mutex_unlock(&w->mu);

		double t0 = now();
		char err[512] = "";
		cJSON *res = NULL;
		if (w->s && (w->s_seed != seed || (*model && strcmp(model, w->s_model) != 0))) {
			eng_session_destroy(w->s);
			w->s = NULL;
		}
		if (!w->s) {
			on_progress(w, "load", 0);
			eng_session_opts o = w->opts;
			o.seed = seed;
			if (*model)
				snprintf(w->s_model, sizeof w->s_model, "%s", model);
			if (*w->s_model)
				o.model = w->s_model;
			w->s = eng_session_create(&o, err, sizeof err);
			w->s_seed = seed;
		}
		if (w->s && kind == UI_JOB_EVAL)
			res = eng_session_eval(w->s, &r, on_progress, w, &w->cancel, err, sizeof err);
		else if (w->s)
			res = eng_session_sensitivity(w->s, &r, full, on_progress, w, &w->cancel, err, sizeof err);
		if (!res && !err[0])
			snprintf(err, sizeof err, "the engine failed without saying why");

		pthread_mutex_lock(&w->mu);
		w->running = 0;
		if (w->have_outcome)
			cJSON_Delete(w->outcome.result);
		w->have_outcome = 1;
		w->outcome.gen = gen;
		w->outcome.kind = kind;
		w->outcome.result = res;
		snprintf(w->outcome.err, sizeof w->outcome.err, "%s", res ? "" : err);
		w->outcome.recipe = r;
		w->outcome.seed = seed;
		w->outcome.secs = now() - t0;
		atomic_store(&w->stage, UI_STAGE_NONE);
		atomic_store(&w->busy, w->have_job);
		wake(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

ui_worker *ui_worker_create(const eng_session_opts *o, char *err, size_t errlen)
{
	ui_worker *w = calloc(1, sizeof *w);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->opts = *o;
	atomic_init(&w->busy, 0);
	atomic_init(&w->stage, UI_STAGE_NONE);
	atomic_init(&w->permille, 0);
	if (pipe2(w->pipe_fd, O_NONBLOCK | O_CLOEXEC)) {
		snprintf(err, errlen, "cannot create the worker's pipe: %s", strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		snprintf(err, errlen, "cannot start the worker thread: %s", strerror(rc));
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		close(w->pipe_fd[0]);
		close(w->pipe_fd[1]);
		free(w);
		return NULL;
	}
	return w;
}

void ui_worker_destroy(ui_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	w->cancel = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	if (w->have_outcome)
		cJSON_Delete(w->outcome.result);
	eng_session_destroy(w->s);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->pipe_fd[0]);
	close(w->pipe_fd[1]);
	free(w);
}

int ui_worker_fd(const ui_worker *w)
{
	return w->pipe_fd[0];
}

void ui_worker_drain(ui_worker *w)
{
	char buf[256];
	while (read(w->pipe_fd[0], buf, sizeof buf) > 0)
		;
}

void ui_worker_submit(ui_worker *w, const eng_recipe *r, uint64_t seed, unsigned gen)
{
	ui_worker_submit_kind(w, UI_JOB_EVAL, 0, NULL, r, seed, gen);
}

void ui_worker_submit_kind(ui_worker *w, ui_job_kind kind, int full, const char *model, const eng_recipe *r,
			   uint64_t seed, unsigned gen)
{
	pthread_mutex_lock(&w->mu);
	w->job_kind = kind;
	w->job_full = full;
	snprintf(w->job_model, sizeof w->job_model, "%s", model ? model : "");
	w->job = *r;
	w->job_seed = seed;
	w->job_gen = gen;
	w->have_job = 1;
	w->cancel = 1; /* the running job, if any, is stale now */
	atomic_store(&w->busy, 1);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int ui_worker_cancel(ui_worker *w)
{
	pthread_mutex_lock(&w->mu);
	int any = w->have_job || w->running;
	w->have_job = 0;
	w->cancel = 1;
	if (!w->running) /* a job dropped before the worker took it ends nothing */
		atomic_store(&w->busy, 0);
	pthread_mutex_unlock(&w->mu);
	return any;
}

int ui_worker_take(ui_worker *w, ui_outcome *out)
{
	pthread_mutex_lock(&w->mu);
	int got = w->have_outcome;
	if (got) {
		*out = w->outcome;
		w->have_outcome = 0;
		w->outcome.result = NULL;
	}
	pthread_mutex_unlock(&w->mu);
	return got;
}

void ui_worker_progress(const ui_worker *w, int *busy, int *stage, double *done)
{
	/* the atomics are only read here; the casts drop const for C11's
	 * atomic_load on non-const-qualified objects */
	ui_worker *m = (ui_worker *)w;
	*busy = atomic_load(&m->busy);
	*stage = atomic_load(&m->stage);
	*done = atomic_load(&m->permille) / 1000.0;
}
