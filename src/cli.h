/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cli.h - what the command files of src/ share: the recipe and session
 * options as parsed from the command line, and the commands that live
 * outside main.c.  Only src/ includes it. */
#ifndef PRECIS_CLI_H
#define PRECIS_CLI_H

#include "eng.h"

typedef struct {
	eng_recipe recipe;
	eng_session_opts sess;
	int json;
	char model[1024];
} run_args;

/* Parses recipe and session options (SPEC §2) in order, so later options
 * override a --recipe file given earlier; prints a one-line usage error.
 * Returns 0, or the exit status (2) to leave with.  a->sess.model may
 * point into a->model. */
int parse_run_args(int argc, char **argv, run_args *a, const char *cmd);

/* cmd_analysis.c: `precis sensitivity | sweep | search | frontier`.  Each
 * takes argv from its command name on and returns the exit status. */
int cmd_sensitivity(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_frontier(int argc, char **argv);

#endif
