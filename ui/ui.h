/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ui.h - the ncurses explorer (issue #4), as seen from src/: one call that
 * owns the terminal until the user quits.  The UI reads engine results
 * through eng.h only and never includes engine internals. */
#ifndef PRECIS_UI_H
#define PRECIS_UI_H

#include <signal.h>
#include <stddef.h>

#include "eng.h"

typedef struct {
	eng_recipe recipe;     /* the recipe the explorer starts from (copied) */
	eng_session_opts sess; /* model, threads, seed, ... (copied; sess.model is
				  borrowed and must outlive ui_run) */
	/* Incremented by the caller's SIGINT handler (src/ owns signals).  The
	 * first Ctrl-C cancels the running job, a second one quits.  May be NULL. */
	volatile sig_atomic_t *sigint;
} ui_opts;

/* Runs the explorer on the controlling terminal until q/F10 (or a second
 * Ctrl-C).  The terminal is restored (endwin) before it returns, on every
 * path.  Returns 0, or -1 with a sentence in err when it could not start
 * (stdin/stdout not a terminal, no terminfo entry, no thread or pipe).
 * Engine errors during the session are shown in the status line, never
 * returned. */
int ui_run(const ui_opts *o, char *err, size_t errlen);

/* `precis repl`: the explorer's commands (ui/commands.h) as a line shell on
 * stdin/stdout, no curses.  On a terminal it reads lines with GNU readline
 * (history in $XDG_STATE_HOME/precis/history, completion) and errors never
 * end it; otherwise it reads lines without prompts.  One session, created
 * at start, serves every `run`.  o->sigint (may be NULL) cancels a run in
 * progress.  Returns 0 at quit or end of input, 1 when stdin is not a
 * terminal and some command failed, or -1 with a sentence in err when it
 * could not start (the model or its data could not be loaded). */
int ui_repl(const ui_opts *o, char *err, size_t errlen);

#endif
