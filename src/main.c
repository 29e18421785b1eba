/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c - precis command line: subcommand table, option parsing, exits.
 *
 * DESIGN: one table (`commands`) lists every subcommand of SPEC §2; it
 * drives dispatch and --help, and says honestly which are not built yet.
 * Only this file exits.  Exit status: 0 success, 1 the run failed, 2 bad
 * usage or bad input (one line on stderr naming the option).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_bench.h"
#include "kq.h"
#include "report_text.h"
#include "ui.h"
#include "cli.h"
#include "cmd_report.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

typedef struct {
	const char *name;
	const char *args;
	const char *summary;
	int (*run)(int argc, char **argv);
	const char *issue; /* non-NULL: not built yet, names the issue that builds it */
} command;

static int cmd_bench(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_eval(int argc, char **argv);
static int cmd_models(int argc, char **argv);
static int cmd_tui(int argc, char **argv);
static int cmd_repl(int argc, char **argv);
static int cmd_report(int argc, char **argv);

static const command commands[] = {
	{"tui", "[recipe opts]", "the explorer (ncurses), starting from a recipe", cmd_tui, NULL},
	{"eval", "[recipe opts] [--json]", "accuracy delta per stratum with 95% intervals, and throughput", cmd_eval, NULL},
	{"sensitivity", "[recipe opts] [--stats] [--json]", "per-layer sensitivity: statistics, delta alone / all but, flips", cmd_sensitivity, NULL},
	{"sweep", "[recipe opts] --vary KEY=V1,V2 ... [--shard I/N] [--jsonl]", "evaluate a grid of recipes", cmd_sweep, NULL},
	{"search", "[recipe opts] --max-loss PT [--stratum S] [-o F]", "fastest mixed-precision recipe meeting a per-stratum criterion", cmd_search, NULL},
	{"frontier", "FILE.jsonl [--stratum NAME] [--ascii]", "Pareto frontier of a sweep: table and scatter plot", cmd_frontier, NULL},
	{"report", "[recipe opts] -o FILE [--format md|html|json] [--force]", "decision-grade report (Markdown, HTML, JSON)", cmd_report, NULL},
	{"bench", "kernels|model [recipe opts] [--json] [--repeats N] [--widths D,..] [--quick]",
	 "kernels against OpenBLAS (and oneDNN); a model's pp128/tg128 fp32 vs quantized", cmd_bench, NULL},
	{"repl", "[recipe opts]", "line-oriented shell with the explorer's commands (set, run, save, ...)", cmd_repl, NULL},
	{"models", "[--json]", "list the shipped models", cmd_models, NULL},
	{"help", "", "this text", cmd_help, NULL},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
	fprintf(f, "usage: precis [COMMAND] [OPTIONS]\n"
		   "precis %s - a terminal explorer for quantization trade-offs\n\n"
		   "commands:\n",
		PACKAGE_VERSION);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char head[96];
		snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
		fprintf(f, "  precis %-58s %s%s%s%s\n", head, commands[i].summary,
			commands[i].issue ? " [not built yet: issue " : "",
			commands[i].issue ? commands[i].issue : "", commands[i].issue ? "]" : "");
	}
	fprintf(f, "\n  precis --help | --version\n\n"
		   "With no command precis opens the explorer (precis tui) on cnn-fashion.\n"
		   "PRECIS_ISA=ref|avx2|avx512vnni forces a kernel variant.\n"
		   "Exit status: 0 success, 1 the run failed, 2 bad usage or bad input.\n"
		   "See precis(1).\n");
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return 0;
}

/* Parses a whole number in [lo, hi]; prints the one-line usage error. */
static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < lo || v > hi) {
		fprintf(stderr, "precis: %s: '%s' is not a whole number from %d to %d\n", opt,
			s ? s : "", lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

void cli_bench_progress(void *user, const char *what, double done)
{
	(void)user;
	fprintf(stderr, "\r\033[K[%3.0f%%] %s", done * 100, what);
	if (done >= 1.0)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void print_bench_table(const cJSON *root)
{
	printf("precis %s kernel benchmark  cpu: %s  isa: %s  oneDNN: %s\n", str(root, "precis"),
	       str(root, "cpu"), str(root, "isa"), str(root, "onednn"));
	printf("median of %d repeats; ratio = reference time / kernel time, same shape, same run;\n"
	       "m=1 rows are cache-cold (weights rotated through > 4x the %.0f MiB last-level cache).\n\n",
	       (int)num(root, "repeats"), num(root, "llc_bytes") / (1 << 20));
	printf("%-11s %-10s %-16s %3s %9s %9s %-14s %7s %9s %7s\n", "kernel", "isa", "m x n x k", "thr",
	       "GOP/s", "ref GOP/s", "reference", "ratio", "oneDNN", "vs 1DNN");
	const cJSON *row;
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(root, "results"))
	{
		char shape[32], dn[16] = "-", dr[16] = "-";
		snprintf(shape, sizeof shape, "%dx%dx%d", (int)num(row, "m"), (int)num(row, "n"), (int)num(row, "k"));
		if (num(row, "onednn_gops") > 0) {
			snprintf(dn, sizeof dn, "%.1f", num(row, "onednn_gops"));
			snprintf(dr, sizeof dr, "%.2fx", num(row, "ratio_onednn"));
		}
		printf("%-11s %-10s %-16s %3d %9.1f %9.1f %-14s %6.2fx %9s %7s%s\n", str(row, "kernel"),
		       str(row, "isa"), shape, (int)num(row, "threads"), num(row, "gops"), num(row, "ref_gops"),
		       str(row, "ref_kernel"), num(row, "ratio"), dn, dr,
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "emulated")) ? "  emulated" : "");
	}
}

static int cmd_bench(int argc, char **argv)
{
	eng_bench_opts o = {0, 7, 0};
	int json = 0;
	const char *what = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "--quick") == 0)
			o.quick = 1;
		else if (strcmp(a, "--threads") == 0 || strcmp(a, "--repeats") == 0) {
			int *dst = a[2] == 't' ? &o.threads : &o.repeats;
			if (parse_int(a, i + 1 < argc ? argv[i + 1] : NULL, 1, a[2] == 't' ? 1024 : 1000, dst))
				return EXIT_USAGE;
			i++;
		} else if (a[0] == '-') {
			fprintf(stderr, "precis bench: unknown option '%s' (see precis --help)\n", a);
			return EXIT_USAGE;
		} else if (!what && strcmp(a, "model") == 0) {
			/* the rest are recipe options: cmd_bench_model.c parses all of it */
			memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
			return cmd_bench_model(argc - 1, argv);
		} else if (!what)
			what = a;
		else {
			fprintf(stderr, "precis bench: unexpected argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!what) {
		fprintf(stderr, "precis bench: say what to benchmark: 'kernels' or 'model'\n");
		return EXIT_USAGE;
	}
	if (strcmp(what, "kernels") != 0) {
		fprintf(stderr, "precis bench: unknown target '%s' (expected 'kernels' or 'model')\n", what);
		return EXIT_USAGE;
	}
	char err[256] = "";
	cJSON *res = eng_bench_kernels(&o, isatty(2) ? cli_bench_progress : NULL, NULL, err, sizeof err);
	if (!res) {
		fprintf(stderr, "precis bench kernels: %s\n", err);
		return EXIT_RUN;
	}
	if (json) {
		char *s = cJSON_Print(res);
		puts(s);
		free(s);
	} else
		print_bench_table(res);
	cJSON_Delete(res);
	return 0;
}

int main(int argc, char **argv)
{
	if (kq_init() != KQ_OK) {
		fprintf(stderr, "precis: PRECIS_ISA=%s: unknown or not supported by this CPU (ref, avx2, avx512vnni; best here: %s)\n",
			getenv("PRECIS_ISA"), kq_isa_name(kq_isa_best()));
		return EXIT_USAGE;
	}
	if (argc < 2)
		return cmd_tui(argc, argv);
	const char *c = argv[1];
	if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0)
		return cmd_help(argc, argv);
	if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0) {
		printf("precis %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strncmp(c, "--", 2) == 0) /* `precis --weights int4`: the explorer with recipe options */
		return cmd_tui(argc, argv);
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(c, commands[i].name) != 0)
			continue;
		if (!commands[i].run) {
			fprintf(stderr, "precis %s: not built yet (issue %s)\n", c, commands[i].issue);
			return EXIT_RUN;
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "precis: unknown command '%s' (see precis --help)\n", c);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------ eval, models */

/* run_args and parse_run_args are declared in cli.h. */
int parse_run_args(int argc, char **argv, run_args *a, const char *cmd)
{
	char err[512];
	eng_recipe_default(&a->recipe);
	memset(&a->sess, 0, sizeof a->sess);
	a->sess.seed = 1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "precis %s: unexpected argument '%s' (see precis --help)\n", cmd, arg);
			return EXIT_USAGE;
		}
		const char *key = arg + 2, *val = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 0, n;
		if (strcmp(key, "json") == 0) {
			a->json = 1;
		} else if (eng_recipe_is_option(key, &takes)) {
			if (eng_recipe_set(&a->recipe, key, takes ? val : NULL, err, sizeof err)) {
				fprintf(stderr, "precis %s: %s\n", cmd, err);
				return EXIT_USAGE;
			}
			i += takes;
		} else if (strcmp(key, "recipe") == 0 && val) {
			if (eng_recipe_load(&a->recipe, val, err, sizeof err)) {
				fprintf(stderr, "precis %s: --recipe %s\n", cmd, err);
				return EXIT_USAGE;
			}
			i++;
		} else if (strcmp(key, "model") == 0 && val) {
			snprintf(a->model, sizeof a->model, "%s", val);
			a->sess.model = a->model;
			i++;
		} else if (strcmp(key, "threads") == 0) {
			if (parse_int("--threads", val, 1, 1024, &a->sess.threads))
				return EXIT_USAGE;
			i++;
		} else if (strcmp(key, "seed") == 0) {
			if (parse_int("--seed", val, 0, 2147483647, &n))
				return EXIT_USAGE;
			a->sess.seed = (uint64_t)n;
			i++;
		} else if (strcmp(key, "eval-n") == 0) {
			if (parse_int("--eval-n", val, 1, 100000000, &a->sess.eval_n))
				return EXIT_USAGE;
			i++;
		} else if ((strcmp(key, "strata") == 0 || strcmp(key, "metric") == 0) && val) {
			*(key[0] == 's' ? &a->sess.strata : &a->sess.metric) = val;
			i++;
		} else if (strcmp(key, "tokenizer") == 0 || strcmp(key, "eval-file") == 0 || strcmp(key, "calib-file") == 0) {
			fprintf(stderr, "precis %s: --%s is not built yet (the shipped datasets are used)\n", cmd, key);
			return EXIT_USAGE;
		} else {
			fprintf(stderr, "precis %s: unknown option or missing value: '%s' (see precis --help)\n", cmd, arg);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static void stage_progress(void *user, const char *stage, double done)
{
	(void)user;
	fprintf(stderr, "\r\033[K%-10s %3.0f%%", stage, done * 100);
	fflush(stderr);
}


static int cmd_eval(int argc, char **argv)
{
	run_args a = {0};
	int rc = parse_run_args(argc, argv, &a, "eval");
	if (rc)
		return rc;
	char err[512] = "";
	eng_session *s = eng_session_create(&a.sess, err, sizeof err);
	if (!s) {
		fprintf(stderr, "precis eval: %s\n", err);
		return EXIT_USAGE;
	}
	int tty = isatty(2);
	cJSON *res = eng_session_eval(s, &a.recipe, tty ? stage_progress : NULL, NULL, NULL, err, sizeof err);
	if (tty)
		fputs("\r\033[K", stderr);
	if (!res) {
		fprintf(stderr, "precis eval: %s\n", err);
		eng_session_destroy(s);
		return strncmp(err, "--", 2) == 0 || strstr(err, "override") ? EXIT_USAGE : EXIT_RUN;
	}
	if (a.json) {
		char *txt = cJSON_Print(res);
		puts(txt);
		free(txt);
	} else
		ui_report_text_eval(stdout, res, &a.recipe);
	cJSON_Delete(res);
	eng_session_destroy(s);
	return 0;
}

/* The report's own options (cmd_report.c) come out of argv first; the
 * rest are recipe options, parsed as for eval. */
static int cmd_report(int argc, char **argv)
{
	report_opts o;
	int rc = report_take_options(&argc, argv, &o);
	if (rc)
		return rc;
	run_args a = {0};
	if ((rc = parse_run_args(argc, argv, &a, "report")))
		return rc;
	if (a.json) {
		fprintf(stderr, "precis report: --json is not an option here (use --format json)\n");
		return EXIT_USAGE;
	}
	return report_run(&o, &a.recipe, &a.sess);
}

static int cmd_models(int argc, char **argv)
{
	int json = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0) {
			fprintf(stderr, "precis models: unknown option '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
		json = 1;
	}
	char err[512] = "";
	cJSON *m = eng_models_json(err, sizeof err);
	if (!m) {
		fprintf(stderr, "precis models: %s\n", err);
		return EXIT_RUN;
	}
	if (json) {
		char *txt = cJSON_Print(m);
		puts(txt);
		free(txt);
	} else {
		printf("%-24s %-8s %8s  %-8s %s\n", "model", "family", "params", "metric", "task");
		const cJSON *o;
		/* a stress variant says so on its own line */
		cJSON_ArrayForEach(o, m) printf("%-24s %-8s %8.0f  %-8s %s%s%s%s\n", eng_json_str(o, "name"),
						eng_json_str(o, "family"), eng_json_num(o, "params"), eng_json_str(o, "metric"),
						eng_json_str(o, "task"), *eng_json_str(o, "variant") ? " [" : "",
						eng_json_str(o, "variant"), *eng_json_str(o, "variant") ? "]" : "");
	}
	cJSON_Delete(m);
	return 0;
}

/* ------------------------------------------------------------------- tui */

/* The only signal state: counted here, read by the UI loop (ui.h). */
static volatile sig_atomic_t sigint_count;

static void on_sigint(int sig)
{
	(void)sig;
	sigint_count++;
}

/* The explorer and the shell: same options, same Ctrl-C handling.  entry
 * returns 0, 1 (some command failed) or -1 with err (could not start:
 * setup_exit says whether that is the user's input or the run). */
static int interactive(int argc, char **argv, const char *cmd, int (*entry)(const ui_opts *, char *, size_t),
		       int setup_exit)
{
	run_args a = {0};
	int rc = parse_run_args(argc, argv, &a, cmd);
	if (rc)
		return rc;
	if (a.json) {
		fprintf(stderr, "precis %s: --json is not an option here (try 'precis eval --json')\n", cmd);
		return EXIT_USAGE;
	}
	/* A model that is neither shipped nor a readable file is bad usage,
	 * said before the screen is taken (the explorer loads lazily). */
	if (a.sess.model && access(a.sess.model, R_OK) != 0) {
		char e[256];
		cJSON *models = eng_models_json(e, sizeof e);
		const cJSON *m;
		int known = 0;
		cJSON_ArrayForEach(m, models)
		known |= strcmp(eng_json_str(m, "name"), a.sess.model) == 0;
		cJSON_Delete(models);
		if (!known) {
			fprintf(stderr, "precis %s: --model %s: no such shipped model ('precis models' lists them) and no readable file\n",
				cmd, a.sess.model);
			return EXIT_USAGE;
		}
	}
	/* Installed before curses or readline start, so they leave SIGINT to
	 * us; no SA_RESTART, so a poll() or a blocked read returns at once. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	ui_opts o = {a.recipe, a.sess, &sigint_count};
	char err[512] = "";
	rc = entry(&o, err, sizeof err);
	signal(SIGINT, SIG_DFL);
	if (rc < 0) {
		fprintf(stderr, "precis %s: %s\n", cmd, err);
		return setup_exit;
	}
	return rc ? EXIT_RUN : 0;
}

static int cmd_tui(int argc, char **argv)
{
	return interactive(argc, argv, "tui", ui_run, EXIT_RUN);
}

static int cmd_repl(int argc, char **argv)
{
	return interactive(argc, argv, "repl", ui_repl, EXIT_USAGE);
}
