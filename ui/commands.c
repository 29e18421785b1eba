/* SPDX-License-Identifier: GPL-3.0-or-later */
/* commands.c - the explorer's command table: dispatch, help, completion.
 *
 * DESIGN: `commands` below is the only list of commands; help and
 * completion are generated from it.  Option names come from the engine's
 * option table (eng_recipe_option_names); the value lists here are
 * suggestions only, and tests/test_repl.sh checks that eng_recipe_set
 * accepts every one of them.  Nothing here holds global state. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "eng_report.h"

/* ------------------------------------------------------------ values */

static const char *const weight_vals[] = {"fp32", "bf16", "fp16", "fp8-e4m3", "fp8-e5m2", "int8", "int4", NULL};
static const char *const act_vals[] = {"fp32", "int8", "fp8-e4m3", NULL};
static const char *const kv_vals[] = {"fp32", "int8", "int4", "fp8-e4m3", NULL};
static const char *const gran_vals[] = {"tensor", "channel", "group:32", "group:64", "group:128", "group:256", NULL};
static const char *const act_gran_vals[] = {"tensor", "token", NULL};
static const char *const calib_vals[] = {"minmax", "percentile:99.9", "percentile:99.99", "entropy", "mse", NULL};
static const char *const smooth_vals[] = {"0", "0.5", "0.8", "1", NULL};
static const char *const attn_vals[] = {"fp32", "int8", NULL};

static const struct {
	const char *option;
	const char *const *values;
} option_values[] = {
	{"weights", weight_vals},      {"acts", act_vals},
	{"kv", kv_vals},               {"granularity", gran_vals},
	{"act-granularity", act_gran_vals}, {"calib-method", calib_vals},
	{"smooth", smooth_vals},       {"attn", attn_vals},
};

/* ---------------------------------------------------------- handlers */

static int set_opt(ui_cmd_ctx *c, const char *key, const char *val, char *err, size_t errlen)
{
	char e[512];
	if (eng_recipe_set(&c->recipe, key, val, e, sizeof e)) {
		/* The engine's sentences name command-line options (--weights);
		 * here the same option is typed without dashes. */
		snprintf(err, errlen, "%s", strncmp(e, "--", 2) == 0 ? e + 2 : e);
		return -1;
	}
	return 0;
}

/* `set KEY [VALUE]`: the key may be written with or without its dashes. */
static int do_set(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	char key[64];
	size_t kl = strcspn(arg, " \t");
	const char *val = arg + kl;
	while (*val == ' ' || *val == '\t')
		val++;
	int takes = 0;
	if (kl == 0) {
		snprintf(err, errlen, "set: say which option (weights, acts, granularity, ...; try 'help')");
		return -1;
	}
	snprintf(key, sizeof key, "%.*s", (int)kl, arg);
	if (strncmp(key, "--", 2) == 0)
		memmove(key, key + 2, strlen(key + 2) + 1);
	if (!eng_recipe_is_option(key, &takes)) {
		snprintf(err, errlen, "set: '%s' is not a recipe option (press Tab after 'set ' for the list)", key);
		return -1;
	}
	char v[256];
	snprintf(v, sizeof v, "%s", val);
	for (size_t n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
		v[n - 1] = 0;
	if (takes && !*v) {
		snprintf(err, errlen, "set %s: needs a value", key);
		return -1;
	}
	if (!takes && *v) {
		snprintf(err, errlen, "set %s: is a flag and takes no value (got '%s')", key, v);
		return -1;
	}
	return set_opt(c, key, takes ? v : NULL, err, errlen);
}

/* The argument as one word: no blanks inside, trailing blanks dropped. */
static int one_word(const char *cmd, const char *hint, const char *arg, char *out, size_t len, char *err, size_t errlen)
{
	size_t n = strcspn(arg, " \t");
	const char *rest = arg + n;
	while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n')
		rest++;
	if (n == 0 || *rest || n >= len) {
		snprintf(err, errlen, "%s: expects %s%s%s", cmd, hint, n ? ", got " : "", n ? arg : "");
		return -1;
	}
	memcpy(out, arg, n);
	out[n] = 0;
	return 0;
}

static int do_calib(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	char v[128];
	if (one_word("calib", "METHOD (minmax, percentile:P, entropy, mse)", arg, v, sizeof v, err, errlen))
		return -1;
	return set_opt(c, "calib-method", v, err, errlen);
}

static int do_keep(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	char v[256];
	if (one_word("keep", "LAYER[,LAYER...]", arg, v, sizeof v, err, errlen))
		return -1;
	return set_opt(c, "keep", v, err, errlen);
}

static int do_layer(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	char v[128];
	if (one_word("layer", "LAYER=FORMAT", arg, v, sizeof v, err, errlen))
		return -1;
	return set_opt(c, "layer", v, err, errlen);
}

static int no_arg(const char *cmd, const char *arg, char *err, size_t errlen)
{
	while (*arg == ' ' || *arg == '\t' || *arg == '\r' || *arg == '\n')
		arg++;
	if (*arg) {
		snprintf(err, errlen, "%s: takes no argument (got '%s')", cmd, arg);
		return -1;
	}
	return 0;
}

static int do_show(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	if (no_arg("show", arg, err, errlen))
		return -1;
	char desc[512];
	eng_recipe_describe(&c->recipe, desc, sizeof desc);
	cJSON *j = eng_recipe_to_json(&c->recipe);
	char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!txt) {
		snprintf(err, errlen, "show: out of memory");
		return -1;
	}
	fprintf(c->out, "recipe: %s\n%s\n", desc, txt);
	free(txt);
	return 0;
}

static int do_run(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	if (no_arg("run", arg, err, errlen))
		return -1;
	if (!c->run) {
		snprintf(err, errlen, "run: this front end cannot evaluate");
		return -1;
	}
	return c->run(c, err, errlen);
}

/* Writes the recipe through eng_file_write_atomic: never half a file, and
 * an existing one is replaced only by `save!`. */
static int save_recipe(ui_cmd_ctx *c, const char *cmd, const char *arg, int replace, char *err, size_t errlen)
{
	char path[4096], e[600];
	if (one_word(cmd, "FILE", arg, path, sizeof path, err, errlen))
		return -1;
	cJSON *j = eng_recipe_to_json(&c->recipe);
	char *txt = j ? cJSON_Print(j) : NULL;
	cJSON_Delete(j);
	if (!txt) {
		snprintf(err, errlen, "%s: out of memory", cmd);
		return -1;
	}
	size_t len = strlen(txt);
	txt[len] = '\n'; /* cJSON_Print's NUL becomes the final newline */
	int rc = eng_file_write_atomic(path, txt, len + 1, replace, e, sizeof e);
	free(txt);
	if (rc == ENG_WRITE_EXISTS) {
		snprintf(err, errlen, "%s: %.1000s exists; use 'save! %.1000s' to replace it", cmd, path, path);
		return -1;
	}
	if (rc) {
		snprintf(err, errlen, "%s: %s", cmd, e);
		return -1;
	}
	fprintf(c->out, "saved %s\n", path);
	return 0;
}

static int do_save(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	return save_recipe(c, "save", arg, 0, err, errlen);
}

static int do_save_force(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	return save_recipe(c, "save!", arg, 1, err, errlen);
}

static int do_load(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	char path[4096], e[512];
	if (one_word("load", "FILE", arg, path, sizeof path, err, errlen))
		return -1;
	/* Loaded onto the defaults, into a copy: a bad file changes nothing. */
	eng_recipe r;
	eng_recipe_default(&r);
	if (eng_recipe_load(&r, path, e, sizeof e)) {
		snprintf(err, errlen, "load: %s", e);
		return -1;
	}
	c->recipe = r;
	char desc[512];
	eng_recipe_describe(&c->recipe, desc, sizeof desc);
	fprintf(c->out, "recipe: %s\n", desc);
	return 0;
}

static int do_help(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	if (no_arg("help", arg, err, errlen))
		return -1;
	ui_cmd_help(c->out);
	return 0;
}

static int do_quit(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	if (no_arg("quit", arg, err, errlen))
		return -1;
	c->quit = 1;
	return 0;
}

static int do_pin(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	if (no_arg("pin", arg, err, errlen))
		return -1;
	if (!c->pin) {
		snprintf(err, errlen, "pin: not available here");
		return -1;
	}
	return c->pin(c, err, errlen);
}

static int export_view(ui_cmd_ctx *c, const char *cmd, const char *arg, int force, char *err, size_t errlen)
{
	char path[4096];
	if (one_word(cmd, "FILE", arg, path, sizeof path, err, errlen))
		return -1;
	if (!c->export) {
		snprintf(err, errlen, "%s: not available here", cmd);
		return -1;
	}
	char e[600];
	if (c->export(c, path, force, e, sizeof e)) {
		snprintf(err, errlen, "%s: %s", cmd, e);
		return -1;
	}
	return 0;
}

static int do_export(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	return export_view(c, "export", arg, 0, err, errlen);
}

static int do_export_force(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	return export_view(c, "export!", arg, 1, err, errlen);
}

static void emit_line(void *user, const char *cand)
{
	fprintf((FILE *)user, "%s\n", cand);
}

static int do_complete(ui_cmd_ctx *c, const char *arg, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	if (ui_cmd_complete(c, arg, strlen(arg), emit_line, c->out))
		fprintf(c->out, "(file name)\n");
	return 0;
}

static const ui_command commands[] = {
	{"set", "OPTION [VALUE]", "set a recipe option by its command-line name (set weights int4, set asymmetric)",
	 UI_ARG_SET, do_set},
	{"calib", "METHOD", "calibration method: minmax, percentile:P, entropy, mse", UI_ARG_CALIB, do_calib},
	{"keep", "LAYER[,LAYER]", "keep these layers in fp32", UI_ARG_LAYERS, do_keep},
	{"layer", "LAYER=FORMAT", "weight format for one layer", UI_ARG_LAYER_FMT, do_layer},
	{"show", "", "the current recipe, as one line and as JSON", UI_ARG_NONE, do_show},
	{"run", "", "evaluate the current recipe: strata table and throughput", UI_ARG_NONE, do_run},
	{"save", "FILE", "write the recipe as JSON (never replaces an existing FILE)", UI_ARG_FILE, do_save},
	{"save!", "FILE", "write the recipe as JSON, replacing FILE", UI_ARG_FILE, do_save_force},
	{"load", "FILE", "read a recipe JSON file (as --recipe does)", UI_ARG_FILE, do_load},
	{"pin", "", "pin the last run as A: later runs are compared with it per stratum", UI_ARG_NONE, do_pin},
	{"export", "FILE", "write a report of the last run: FILE.md, .html or .json (never replaces FILE)",
	 UI_ARG_FILE, do_export},
	{"export!", "FILE", "the same, replacing FILE", UI_ARG_FILE, do_export_force},
	{"complete", "TEXT", "list the completions of a partial command line", UI_ARG_LINE, do_complete},
	{"help", "", "this text", UI_ARG_NONE, do_help},
	{"quit", "", "leave (end of input does the same)", UI_ARG_NONE, do_quit},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

/* ------------------------------------------------------------- public */

const ui_command *ui_cmd_table(size_t *n)
{
	*n = NCOMMANDS;
	return commands;
}

void ui_cmd_init(ui_cmd_ctx *c, const eng_recipe *r, const char *model, FILE *f,
		 int (*run)(ui_cmd_ctx *, char *, size_t), void *user)
{
	memset(c, 0, sizeof *c);
	c->recipe = *r;
	c->out = f;
	c->run = run;
	c->user = user;
	ui_cmd_set_model(c, model);
}

void ui_cmd_set_model(ui_cmd_ctx *c, const char *model)
{
	char e[256];
	cJSON *models = eng_models_json(e, sizeof e);
	const cJSON *m;
	c->ncalib_sets = c->nlayers = 0;
	if (!model)
		model = "cnn-fashion";
	cJSON_ArrayForEach(m, models)
	{
		if (strcmp(eng_json_str(m, "name"), model) != 0 && strcmp(eng_json_str(m, "path"), model) != 0)
			continue;
		const cJSON *s;
		cJSON_ArrayForEach(s, eng_json_get(m, "calib_sets"))
		{
			if (cJSON_IsString(s) && c->ncalib_sets < UI_CMD_MAX_NAMES)
				snprintf(c->calib_sets[c->ncalib_sets++], sizeof c->calib_sets[0], "%s", s->valuestring);
		}
		break;
	}
	cJSON_Delete(models);
}

void ui_cmd_learn(ui_cmd_ctx *c, const cJSON *result)
{
	const cJSON *l;
	int n = 0;
	cJSON_ArrayForEach(l, eng_json_get(result, "layers"))
	{
		const char *name = eng_json_str(l, "name");
		if (*name && n < UI_CMD_MAX_NAMES)
			snprintf(c->layers[n++], sizeof c->layers[0], "%s", name);
	}
	if (n)
		c->nlayers = n;
}

int ui_cmd_exec(ui_cmd_ctx *c, const char *line, char *err, size_t errlen)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '#' || *line == '\n' || *line == '\r')
		return 0;
	size_t n = strcspn(line, " \t\r\n");
	const char *arg = line + n;
	while (*arg == ' ' || *arg == '\t')
		arg++;
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strlen(commands[i].name) == n && strncmp(line, commands[i].name, n) == 0)
			return commands[i].run(c, arg, err, errlen);
	snprintf(err, errlen, "unknown command '%.*s' (try 'help')", (int)(n < 64 ? n : 64), line);
	return -1;
}

void ui_cmd_help(FILE *f)
{
	fprintf(f, "commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char head[64];
		snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  %-24s %s\n", head, commands[i].help);
	}
	fprintf(f, "recipe options for set:");
	for (const char *const *o = eng_recipe_option_names(); *o; o++)
		fprintf(f, " %s", *o);
	fprintf(f, "\nTab completes commands, options and values; lines starting with # are comments.\n");
}

void ui_cmd_history_path(char *buf, size_t len)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	buf[0] = 0;
	if (state && *state == '/')
		snprintf(buf, len, "%s/precis", state);
	else if (home && *home)
		snprintf(buf, len, "%s/.local/state/precis", home);
	else
		return;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(buf, 0777);
			*p = '/';
		}
	mkdir(buf, 0777);
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "/history");
}

/* Emits `prefix + cand` when it starts with `word`. */
static void offer(const char *word, const char *prefix, size_t plen, const char *cand,
		  void (*emit)(void *, const char *), void *user)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%.*s%s", (int)plen, prefix, cand);
	if (strncmp(buf, word, strlen(word)) == 0)
		emit(user, buf);
}

static void offer_list(const char *word, const char *prefix, size_t plen, const char *const *list,
		       void (*emit)(void *, const char *), void *user)
{
	for (; list && *list; list++)
		offer(word, prefix, plen, *list, emit, user);
}

static void offer_names(const char *word, const char *prefix, size_t plen, const char (*names)[32], int n,
			const char *suffix, void (*emit)(void *, const char *), void *user)
{
	for (int i = 0; i < n; i++) {
		char cand[64];
		snprintf(cand, sizeof cand, "%s%s", names[i], suffix);
		offer(word, prefix, plen, cand, emit, user);
	}
}

static void offer_values(const ui_cmd_ctx *c, const char *opt, const char *word, void (*emit)(void *, const char *),
			 void *user)
{
	for (size_t i = 0; i < sizeof option_values / sizeof *option_values; i++)
		if (strcmp(opt, option_values[i].option) == 0)
			offer_list(word, "", 0, option_values[i].values, emit, user);
	if (strcmp(opt, "calib-set") == 0)
		offer_names(word, "", 0, c->calib_sets, c->ncalib_sets, "", emit, user);
	if (strcmp(opt, "keep") == 0) {
		const char *comma = strrchr(word, ',');
		size_t plen = comma ? (size_t)(comma - word + 1) : 0;
		offer_names(word, word, plen, c->layers, c->nlayers, "", emit, user);
	}
	if (strcmp(opt, "layer") == 0) {
		const char *eq = strchr(word, '=');
		if (eq)
			offer_list(word, word, (size_t)(eq - word + 1), weight_vals, emit, user);
		else
			offer_names(word, "", 0, c->layers, c->nlayers, "=", emit, user);
	}
}

int ui_cmd_complete(const ui_cmd_ctx *c, const char *line, size_t point, void (*emit)(void *user, const char *cand),
		    void *user)
{
	/* Split line[0, point) into blank-separated words; the last one (maybe
	 * empty) is the one being completed. */
	enum { MAXW = 4 };
	char words[MAXW][256];
	int nw = 0;
	size_t i = 0;
	for (;;) {
		while (i < point && (line[i] == ' ' || line[i] == '\t'))
			i++;
		size_t s = i;
		while (i < point && line[i] != ' ' && line[i] != '\t')
			i++;
		if (nw == MAXW)
			return 0; /* past the last argument anything can follow */
		snprintf(words[nw++], sizeof words[0], "%.*s", (int)(i - s), line + s);
		if (i >= point)
			break;
	}
	const char *word = words[nw - 1];
	if (nw == 1) {
		for (size_t k = 0; k < NCOMMANDS; k++)
			offer(word, "", 0, commands[k].name, emit, user);
		return 0;
	}
	const ui_command *cmd = NULL;
	for (size_t k = 0; k < NCOMMANDS; k++)
		if (strcmp(words[0], commands[k].name) == 0)
			cmd = &commands[k];
	if (!cmd)
		return 0;
	switch (cmd->arg) {
	case UI_ARG_SET:
		if (nw == 2)
			offer_list(word, "", 0, eng_recipe_option_names(), emit, user);
		else if (nw == 3)
			offer_values(c, words[1], word, emit, user);
		return 0;
	case UI_ARG_CALIB:
		if (nw == 2)
			offer_values(c, "calib-method", word, emit, user);
		return 0;
	case UI_ARG_LAYERS:
		if (nw == 2)
			offer_values(c, "keep", word, emit, user);
		return 0;
	case UI_ARG_LAYER_FMT:
		if (nw == 2)
			offer_values(c, "layer", word, emit, user);
		return 0;
	case UI_ARG_FILE:
		return nw == 2;
	case UI_ARG_LINE:
	case UI_ARG_NONE:
		return 0;
	}
	return 0;
}
