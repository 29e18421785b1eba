/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rl_complete.c - Tab completion through the command table for GNU
 * readline, shared by `precis repl` and the explorer's `:` line.
 *
 * readline's completion callbacks take no user pointer, so the context
 * being completed and the pending matches are file-scope; only one
 * readline line is ever active in the process (UI thread only). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include "commands.h"

static const ui_cmd_ctx *completing;
static char word_breaks[] = " \t";

static struct {
	char **v;
	size_t n, cap, next;
} matches;

static void collect(void *user, const char *cand)
{
	(void)user;
	if (matches.n + 1 >= matches.cap) {
		size_t cap = matches.cap ? matches.cap * 2 : 16;
		char **v = realloc(matches.v, cap * sizeof *v);
		if (!v)
			return;
		matches.v = v, matches.cap = cap;
	}
	char *d = strdup(cand);
	if (d)
		matches.v[matches.n++] = d;
}

static void matches_clear(void)
{
	for (size_t i = 0; i < matches.n; i++)
		free(matches.v[i]);
	matches.n = 0;
}

static char *next_match(const char *text, int state)
{
	(void)text; /* already filtered by ui_cmd_complete */
	if (state == 0)
		matches.next = 0;
	if (matches.next < matches.n) {
		char *m = matches.v[matches.next];
		matches.v[matches.next++] = NULL;
		return m;
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	matches_clear();
	rl_attempted_completion_over = 1;
	if (!completing || ui_cmd_complete(completing, rl_line_buffer, (size_t)end, collect, NULL)) {
		rl_attempted_completion_over = 0; /* readline's own file names */
		return NULL;
	}
	/* "conv1=" and "conv1,..." continue the same word: no space after. */
	if (matches.n == 1) {
		size_t l = strlen(matches.v[0]);
		if (l && matches.v[0][l - 1] == '=')
			rl_completion_suppress_append = 1;
	}
	char **m = matches.n ? rl_completion_matches(text, next_match) : NULL;
	matches_clear();
	return m;
}

void ui_rl_complete_install(const ui_cmd_ctx *ctx)
{
	completing = ctx;
	if (ctx) {
		rl_attempted_completion_function = complete;
		rl_completer_word_break_characters = word_breaks;
		return;
	}
	rl_attempted_completion_function = NULL;
	matches_clear();
	free(matches.v);
	matches.v = NULL, matches.cap = 0;
}
