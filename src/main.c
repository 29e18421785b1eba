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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "eng_bench.h"
#include "kq.h"

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

static const command commands[] = {
	{"tui", "[recipe opts]", "the explorer (ncurses), starting from a recipe", NULL, "#4"},
	{"eval", "[recipe opts] [--json]", "accuracy delta per stratum with 95% intervals, and throughput", NULL, "#3"},
	{"sensitivity", "[recipe opts] [--json]", "per-layer sensitivity", NULL, "#6"},
	{"sweep", "[recipe opts] --vary KEY=V1,V2 ... [--shard I/N] [--jsonl]", "evaluate a grid of recipes", NULL, "#6"},
	{"search", "[recipe opts] --max-loss POINTS ... [-o RECIPE.json]", "fastest recipe meeting a per-stratum criterion", NULL, "#6"},
	{"frontier", "FILE.jsonl [--stratum NAME]", "Pareto frontier of a sweep", NULL, "#6"},
	{"report", "[recipe opts] --format md|html|json -o FILE", "decision-grade report", NULL, "#5"},
	{"bench", "kernels [--json] [--threads N] [--repeats N] [--quick]", "time the quantized kernels against OpenBLAS (and oneDNN)", cmd_bench, NULL},
	{"repl", "", "line-oriented shell with the TUI's commands", NULL, "#4"},
	{"models", "[--json]", "list the shipped models", NULL, "#3"},
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
		   "With no command precis opens the explorer on cnn-fashion [not built yet: issue #4].\n"
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

static void bench_progress(void *user, const char *what, double done)
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
		} else if (!what)
			what = a;
		else {
			fprintf(stderr, "precis bench: unexpected argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!what || strcmp(what, "model") == 0) {
		if (!what) {
			fprintf(stderr, "precis bench: say what to benchmark: 'kernels' (or 'model', not built yet)\n");
			return EXIT_USAGE;
		}
		fprintf(stderr, "precis bench model: not built yet (needs the engine, issue #3)\n");
		return EXIT_RUN;
	}
	if (strcmp(what, "kernels") != 0) {
		fprintf(stderr, "precis bench: unknown target '%s' (expected 'kernels' or 'model')\n", what);
		return EXIT_USAGE;
	}
	char err[256] = "";
	cJSON *res = eng_bench_kernels(&o, isatty(2) ? bench_progress : NULL, NULL, err, sizeof err);
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
	if (argc < 2) {
		fprintf(stderr, "precis: the explorer (TUI) is not built yet (issue #4); try 'precis --help' or 'precis bench kernels'\n");
		return EXIT_RUN;
	}
	const char *c = argv[1];
	if (strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0)
		return cmd_help(argc, argv);
	if (strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0) {
		printf("precis %s\n", PACKAGE_VERSION);
		return 0;
	}
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
