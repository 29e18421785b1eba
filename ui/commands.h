/* SPDX-License-Identifier: GPL-3.0-or-later */
/* commands.h - the one table of explorer commands (`set`, `calib`, `keep`,
 * `layer`, `show`, `run`, `save`, `load`, `help`, `quit`, ...) shared by
 * `precis repl` and the explorer's `:` line.  The same table
 * dispatches a line, generates the help text and drives completion.
 *
 * DESIGN: a command acts on a ui_cmd_ctx: the recipe being edited plus
 * hooks the front end supplies (how to run a recipe, where text goes).
 * Commands never touch curses or readline; they write text to ctx->out
 * and report failure as one sentence in err, which the front end shows
 * (`precis: SENTENCE` in the repl, the status line in the explorer). */
#ifndef PRECIS_UI_COMMANDS_H
#define PRECIS_UI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "eng.h"

#define UI_CMD_MAX_NAMES 64

typedef struct ui_cmd_ctx ui_cmd_ctx;

/* What a command's argument is, for completion. */
typedef enum {
	UI_ARG_NONE,
	UI_ARG_SET,       /* OPTION [VALUE]: option names, then that option's values */
	UI_ARG_CALIB,     /* a calibration method */
	UI_ARG_LAYERS,    /* LAYER[,LAYER...] */
	UI_ARG_LAYER_FMT, /* LAYER=FORMAT */
	UI_ARG_FILE,      /* a file name (the front end's file completion) */
	UI_ARG_LINE,      /* free text (no completion) */
} ui_arg_kind;

typedef struct {
	const char *name;
	const char *args; /* hint for help, "" when none */
	const char *help; /* one line */
	ui_arg_kind arg;
	/* arg is the rest of the line after the name and one run of blanks
	 * ("" when none; trailing blanks kept).  0, or -1 with err. */
	int (*run)(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen);
} ui_command;

struct ui_cmd_ctx {
	eng_recipe recipe; /* the recipe commands edit */
	FILE *out;         /* where commands write their text (borrowed) */
	int quit;          /* set by `quit` */
	/* Evaluates c->recipe and shows the result; 0, or -1 with err.  The
	 * front end owns the session; it should pass the result to
	 * ui_cmd_learn so layer names complete. */
	int (*run)(ui_cmd_ctx *c, char *err, size_t errlen);
	/* Pins the last run as A (`pin`); writes a report of the last run to
	 * path in the format its extension names, replacing an existing file
	 * only when force (`export`, `export!`).  0, or -1 with err.  NULL:
	 * the command says it is not available. */
	int (*pin)(ui_cmd_ctx *c, char *err, size_t errlen);
	int (*export)(ui_cmd_ctx *c, const char *path, int force, char *err, size_t errlen);
	void *user; /* for the front end's hooks */
	/* Names offered by completion: the model's layers (known after the
	 * first run) and its calibration sets. */
	int nlayers, ncalib_sets;
	char layers[UI_CMD_MAX_NAMES][32];
	char calib_sets[UI_CMD_MAX_NAMES][32];
};

/* The table and its length.  Static; never fails. */
const ui_command *ui_cmd_table(size_t *n);

/* Sets up c: copies recipe r, out = f, run hook and user as given, and
 * looks up the calibration sets of `model` (NULL = cnn-fashion) among the
 * shipped models (none found is not an error: sets still type freely). */
void ui_cmd_init(ui_cmd_ctx *c, const eng_recipe *r, const char *model, FILE *f,
		 int (*run)(ui_cmd_ctx *, char *, size_t), void *user);

/* Forgets the layer names and looks up the calibration sets of `model`
 * (NULL = cnn-fashion) among the shipped models.  Cannot fail. */
void ui_cmd_set_model(ui_cmd_ctx *c, const char *model);

/* Remembers the layer names of a SPEC §3 result (borrowed) for completion. */
void ui_cmd_learn(ui_cmd_ctx *c, const cJSON *result);

/* Executes one line.  Blank lines and lines starting with '#' do nothing.
 * 0, or -1 with one sentence in err (unknown command, bad value, ...). */
int ui_cmd_exec(ui_cmd_ctx *c, const char *line, char *err, size_t errlen);

/* Writes the help text generated from the table. */
void ui_cmd_help(FILE *f);

/* Completion of the word that ends at line[point] (words are separated by
 * blanks only; '=' and ',' stay inside a word).  Calls emit once per
 * candidate that starts with that word, each a whole word.  Returns 1 when
 * the word is a file name (the caller should complete file names
 * instead), else 0. */
int ui_cmd_complete(const ui_cmd_ctx *c, const char *line, size_t point, void (*emit)(void *user, const char *cand),
		    void *user);

/* The readline history file both front ends share:
 * $XDG_STATE_HOME/precis/history (default ~/.local/state/precis/history),
 * creating its folders; buf = "" when there is no home.  Failures are
 * ignored: history is a convenience. */
void ui_cmd_history_path(char *buf, size_t len);

/* Tab completion through ui_cmd_complete for GNU readline (rl_complete.c):
 * installs readline's completion hooks for ctx, which must outlive the
 * line; NULL removes them and frees what they hold. */
void ui_rl_complete_install(const ui_cmd_ctx *ctx);

#endif
