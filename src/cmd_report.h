/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_report.h - `precis report`: its own options, taken out of argv before
 * main.c's recipe-option parser sees the rest, and the command itself. */
#ifndef PRECIS_CMD_REPORT_H
#define PRECIS_CMD_REPORT_H

#include "eng.h"
#include "eng_recipe.h"

typedef struct {
	const char *format;      /* --format, or NULL: from -o's extension */
	const char *out;         /* -o FILE ("-": stdout) */
	int force;               /* --force */
	const char *from;        /* --from RUN.json: report a saved `eval --json` instead of running */
	const char *pinned;      /* --compare A.json */
	const char *history;     /* --history FILE (JSON array or JSON lines) */
	const char *sensitivity; /* --sensitivity-file FILE.json */
	int layers;              /* --sensitivity: compute it (0 none, 1 statistics, 2 full) */
	const char *layer;       /* --hist-layer NAME */
	const char *date;        /* --date TEXT */
	double max_loss;         /* --max-loss POINTS; 0: none */
	int recipe_opts;         /* argv had options left for the recipe parser */
} report_opts;

/* Removes the report's own options from argv (argv[0] is the command name
 * and stays), compacting it and updating *argc.  0, or 2 (bad usage, one
 * line printed on stderr). */
int report_take_options(int *argc, char **argv, report_opts *o);

/* Runs the command with the recipe and session main.c parsed (ignored with
 * --from).  Returns the exit status (SPEC §2). */
int report_run(const report_opts *o, const eng_recipe *r, const eng_session_opts *sess);

#endif
