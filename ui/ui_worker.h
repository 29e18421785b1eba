/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ui_worker.h - the explorer's worker thread: runs the engine off the UI
 * thread and hands results back (see the DESIGN note in worker.c). */
#ifndef PRECIS_UI_WORKER_H
#define PRECIS_UI_WORKER_H

#include <stdint.h>

#include "eng.h"

typedef struct ui_worker ui_worker;

/* Stage indices published by ui_worker_progress ("load" is the session
 * creation, the others are the engine's stage names). */
enum { UI_STAGE_NONE = -1, UI_STAGE_LOAD = 0, UI_STAGE_REFERENCE, UI_STAGE_CALIBRATE, UI_STAGE_QUANTIZE,
       UI_STAGE_EVALUATE, UI_STAGE_BENCHMARK, UI_STAGE_STATISTICS, UI_STAGE_SENSITIVITY, UI_STAGE_COUNT };
extern const char *const ui_stage_names[UI_STAGE_COUNT];

/* What a job computes: a run (eng_session_eval) or the per-layer
 * sensitivity of a recipe (eng_session_sensitivity). */
typedef enum { UI_JOB_EVAL, UI_JOB_SENSITIVITY } ui_job_kind;

/* What one finished (or failed, or cancelled) job produced. */
typedef struct {
	unsigned gen;      /* the number given to ui_worker_submit */
	ui_job_kind kind;
	cJSON *result;     /* SPEC §3 (or §5 sensitivity) object, owned by the taker; NULL on error */
	char err[512];     /* the engine's sentence when result is NULL */
	eng_recipe recipe; /* the recipe that was run */
	uint64_t seed;
	double secs; /* wall time of the job */
} ui_outcome;

/* Starts the thread.  `o` is copied (o->model is borrowed and must outlive
 * the worker); the session is created lazily on the worker by the first
 * job.  NULL with err when no pipe or thread could be made. */
ui_worker *ui_worker_create(const eng_session_opts *o, char *err, size_t errlen);
/* Cancels any job, joins the thread, frees everything.  Accepts NULL. */
void ui_worker_destroy(ui_worker *w);

/* Read end of the self-pipe, for poll(); a byte arrives on progress and
 * when an outcome is ready.  UI thread only, as are all calls below. */
int ui_worker_fd(const ui_worker *w);
/* Empties the self-pipe.  Cannot fail. */
void ui_worker_drain(ui_worker *w);

/* Queues recipe r (copied) as the one job to run next: it replaces a job
 * still pending and cancels the running one.  Cannot fail. */
void ui_worker_submit(ui_worker *w, const eng_recipe *r, uint64_t seed, unsigned gen);
/* The same for any kind of job; `full` asks a sensitivity job for the
 * per-layer deltas as well as the statistics; `model` (copied; NULL or
 * "": the session's current one) switches the session to another model. */
void ui_worker_submit_kind(ui_worker *w, ui_job_kind kind, int full, const char *model, const eng_recipe *r,
			   uint64_t seed, unsigned gen);
/* Drops a pending job and cancels the running one.  Returns 1 when
 * something was cancelled, 0 when the worker was idle. */
int ui_worker_cancel(ui_worker *w);

/* Moves the latest outcome into *out (the caller then owns out->result).
 * Returns 1, or 0 when no outcome is waiting. */
int ui_worker_take(ui_worker *w, ui_outcome *out);

/* Lock-free snapshot: *busy 1 while a job runs or is pending, the stage
 * index (UI_STAGE_NONE when idle) and the fraction done in [0, 1]. */
void ui_worker_progress(const ui_worker *w, int *busy, int *stage, double *done);

#endif
