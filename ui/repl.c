/* SPDX-License-Identifier: GPL-3.0-or-later */
/* repl.c - `precis repl`: the explorer's commands as a line shell.
 *
 * DESIGN: everything runs on the calling thread (no worker, no curses).
 * One eng_session is created at start and serves every `run`, so a second
 * run of the same recipe hits the engine's caches.  Commands come from
 * ui/commands.c; this file only reads lines, prints errors and supplies
 * the `run` hook.  On a terminal, GNU readline reads lines, with Tab
 * completion through the table (rl_complete.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "commands.h"
#include "eng_report.h"
#include "report_text.h"
#include "ui.h"

typedef struct {
	eng_session *s;
	volatile sig_atomic_t *sigint;
	sig_atomic_t sig0; /* *sigint when the run started */
	volatile int cancel;
	int progress; /* stderr is a terminal: show the stage */
	cJSON *last;    /* the last run's result (owned), for pin and export */
	cJSON *pinned;  /* A (owned), or NULL */
	cJSON *history; /* every run of this shell, oldest first (owned) */
} repl;

static void on_stage(void *user, const char *stage, double done)
{
	repl *r = user;
	if (r->sigint && *r->sigint != r->sig0)
		r->cancel = 1;
	if (r->progress) {
		fprintf(stderr, "\r\033[K%-10s %3.0f%%", stage, done * 100);
		fflush(stderr);
	}
}

static int repl_run(ui_cmd_ctx *c, char *err, size_t errlen)
{
	repl *r = c->user;
	r->cancel = 0;
	r->sig0 = r->sigint ? *r->sigint : 0;
	char e[512] = "";
	cJSON *res = eng_session_eval(r->s, &c->recipe, on_stage, r, &r->cancel, e, sizeof e);
	if (r->progress)
		fputs("\r\033[K", stderr);
	if (!res) {
		snprintf(err, errlen, "run: %s", e);
		return -1;
	}
	ui_report_text_eval(c->out, res, &c->recipe);
	if (r->pinned)
		ui_report_text_compare(c->out, r->pinned, res);
	fflush(c->out);
	ui_cmd_learn(c, res);
	cJSON *h = cJSON_Duplicate(res, 1);
	if (h)
		cJSON_AddItemToArray(r->history, h);
	cJSON_Delete(r->last);
	r->last = res;
	return 0;
}

static int repl_pin(ui_cmd_ctx *c, char *err, size_t errlen)
{
	repl *r = c->user;
	if (!r->last) {
		snprintf(err, errlen, "pin: no run yet ('run' first)");
		return -1;
	}
	cJSON_Delete(r->pinned);
	r->pinned = cJSON_Duplicate(r->last, 1);
	fprintf(c->out, "pinned the last run as A; later runs are compared with it\n");
	return 0;
}

static int repl_export(ui_cmd_ctx *c, const char *path, int force, char *err, size_t errlen)
{
	repl *r = c->user;
	eng_report_fmt fmt;
	if (!r->last) {
		snprintf(err, errlen, "no run yet ('run' first)");
		return -1;
	}
	if (eng_report_format_parse(path, &fmt, err, errlen))
		return -1;
	eng_report_in in = {.run = r->last, .pinned = r->pinned, .history = r->history};
	if (eng_report_write(&in, fmt, path, force, err, errlen))
		return -1;
	fprintf(c->out, "wrote %s\n", path);
	return 0;
}

/* ------------------------------------------------------- readline glue */


/* ----------------------------------------------------------------- loop */

int ui_repl(const ui_opts *o, char *err, size_t errlen)
{
	repl r = {0};
	r.sigint = o->sigint;
	r.progress = isatty(2);
	r.history = cJSON_CreateArray();
	r.s = r.history ? eng_session_create(&o->sess, err, errlen) : NULL;
	if (!r.s) {
		cJSON_Delete(r.history);
		return -1;
	}
	ui_cmd_ctx c;
	ui_cmd_init(&c, &o->recipe, o->sess.model, stdout, repl_run, &r);
	c.pin = repl_pin;
	c.export = repl_export;
	int tty = isatty(0), failed = 0;
	char e[1024], hist[4096] = "";

	if (tty) {
		rl_readline_name = "precis";
		ui_rl_complete_install(&c);
		ui_cmd_history_path(hist, sizeof hist);
		if (*hist)
			read_history(hist);
		printf("precis repl - 'help' lists the commands, Tab completes, 'quit' or Ctrl-D leaves\n");
	}
	while (!c.quit) {
		char *line = NULL;
		if (tty) {
			line = readline("precis> ");
			if (!line) {
				putchar('\n');
				break;
			}
			if (*line)
				add_history(line);
		} else {
			size_t cap = 0;
			ssize_t n = getline(&line, &cap, stdin);
			if (n < 0) { /* end of input, or Ctrl-C while waiting for it */
				free(line);
				break;
			}
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = 0;
		}
		if (ui_cmd_exec(&c, line, e, sizeof e)) {
			fflush(stdout);
			fprintf(stderr, "precis: %s\n", e);
			failed = 1;
		}
		fflush(stdout);
		free(line);
	}
	if (tty) {
		if (*hist && write_history(hist) == 0)
			history_truncate_file(hist, 1000);
		ui_rl_complete_install(NULL);
	}
	eng_session_destroy(r.s);
	cJSON_Delete(r.last);
	cJSON_Delete(r.pinned);
	cJSON_Delete(r.history);
	return !tty && failed ? 1 : 0;
}
