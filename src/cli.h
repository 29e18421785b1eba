/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cli.h - what the command files of src/ share: the recipe and session
 * options as parsed from the command line, and the commands that live
 * outside main.c.  Only src/ includes it. */
#ifndef PRECIS_CLI_H
#define PRECIS_CLI_H

#include <stdio.h>

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

/* cli.c: checks on the files a command names, each printing one line
 * "precis CMD: ..." on stderr when it refuses.  `opt` is the option that
 * named the file ("-o", "--from"), or NULL for an argument. */

/* An output file, checked before any work: not a folder, not an existing
 * file unless force, in a folder that exists and may be written; "-"
 * (standard output) passes.  0, or 2 (bad usage) after the message. */
int cli_check_output(const char *cmd, const char *opt, const char *path, int force);
/* Opens an input file for reading; a folder is refused ("PATH: is a
 * folder, not a file").  The stream (caller closes), or NULL after the
 * message. */
FILE *cli_open_input(const char *cmd, const char *opt, const char *path);
/* The message for a read that failed with errno e on a stream
 * cli_open_input opened ("is a folder" for EISDIR, as from standard input). */
void cli_read_error(const char *cmd, const char *opt, const char *path, int e);

/* cmd_bench_model.c: `precis bench model`; argv[0] is "bench", the target
 * already taken out.  Returns the exit status. */
int cmd_bench_model(int argc, char **argv);
/* The benchmarks' progress on stderr ("[ 42%] what", one line redrawn,
 * cleared at the end); for a terminal only.  src/main.c. */
void cli_bench_progress(void *user, const char *what, double done);

#endif
