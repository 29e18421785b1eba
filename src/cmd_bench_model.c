/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_bench_model.c - `precis bench model [recipe opts] [--json]
 * [--threads N] [--repeats N] [--widths D1,D2,...] [--quick]`: the command
 * line of eng_bench_model, as a table or its JSON object.
 *
 * DESIGN: the command's own options (--repeats, --widths, --quick) are
 * moved out of argv first, skipping the values of the recipe and session
 * options so a value is never taken for an option; the rest goes to
 * parse_run_args, so the recipe options mean what they mean for eval.
 * Exit status: 0 success, 1 the run failed, 2 bad usage or bad input.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "eng.h"
#include "eng_bench.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

#define MAX_WIDTHS 16

typedef struct {
	int repeats, quick, nwidths;
	int widths[MAX_WIDTHS];
} bench_model_args;

static int value_option(const char *key)
{
	static const char *const opts[] = {"recipe", "model", "threads", "seed", "eval-n", "strata", "metric",
					   "tokenizer", "eval-file", "calib-file", NULL};
	for (const char *const *o = opts; *o; o++)
		if (strcmp(key, *o) == 0)
			return 1;
	int takes = 0;
	return eng_recipe_is_option(key, &takes) && takes;
}

static int whole(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int take_widths(bench_model_args *b, const char *s)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof buf, "%s", s);
	b->nwidths = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long v;
		if (b->nwidths == MAX_WIDTHS) {
			fprintf(stderr, "precis bench model: --widths: at most %d widths\n", MAX_WIDTHS);
			return EXIT_USAGE;
		}
		if (whole(tok, 32, 4096, &v) || v % 32) {
			fprintf(stderr, "precis bench model: --widths: '%s' is not a multiple of 32 from 32 to 4096 "
					"(heads are 32 wide; e.g. --widths 128,512,2048)\n", tok);
			return EXIT_USAGE;
		}
		b->widths[b->nwidths++] = (int)v;
	}
	if (!b->nwidths || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,")) {
		fprintf(stderr, "precis bench model: --widths: '%s' is not a comma-separated list of widths\n", s);
		return EXIT_USAGE;
	}
	return 0;
}

/* Moves --repeats, --widths and --quick out of argv (argv[0] stays). */
static int take_own(int *argc, char **argv, bench_model_args *b)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		int rep = strcmp(a, "--repeats") == 0, wid = strcmp(a, "--widths") == 0;
		if (rep || wid) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "precis bench model: %s needs a value\n", a);
				return EXIT_USAGE;
			}
			long v;
			if (rep && whole(argv[i + 1], 1, 1000, &v)) {
				fprintf(stderr, "precis bench model: --repeats: '%s' is not a whole number from 1 to 1000\n",
					argv[i + 1]);
				return EXIT_USAGE;
			}
			if (rep)
				b->repeats = (int)v;
			else if (take_widths(b, argv[i + 1]))
				return EXIT_USAGE;
			i++;
			continue;
		}
		if (strcmp(a, "--quick") == 0) {
			b->quick = 1;
			continue;
		}
		argv[out++] = argv[i];
		if (strncmp(a, "--", 2) == 0 && value_option(a + 2) && i + 1 < *argc)
			argv[out++] = argv[++i];
	}
	*argc = out;
	return 0;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void print_table(const cJSON *root)
{
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results"), *row;
	printf("precis %s model benchmark  model: %s (%s)  cpu: %s  isa: %s  threads: %.0f\n",
	       eng_json_str(root, "precis"), eng_json_str(root, "model"), eng_json_str(root, "family"),
	       eng_json_str(root, "cpu"), eng_json_str(root, "isa"), num(root, "threads"));
	printf("recipe: %s\n", eng_json_str(root, "recipe_text"));
	int tokens = !isnan(num(root, "pp_tokens"));
	if (tokens)
		printf("batch 1; pp128 = one 128-token prefill, tg128 = 128 greedy decode steps after an 8-token prompt;\n"
		       "tokens/s, median of the row's repeats; x = quantized / fp32.\n\n");
	else
		printf("samples/s, median of the row's repeats; x = quantized / fp32.\n\n");
	int synth = 0, cold = 0, emul = 0;
	if (tokens)
		printf("%-18s %6s %11s %9s %9s %11s %11s %6s %11s %11s %6s %4s %7s\n", "model", "width", "params", "fp32 MB",
		       "quant MB", "pp128 fp32", "pp128 quant", "x", "tg128 fp32", "tg128 quant", "x", "reps", "preempt");
	else
		printf("%-18s %6s %11s %9s %9s %12s %12s %6s %4s %7s\n", "model", "batch", "params", "fp32 MB", "quant MB",
		       "fp32 /s", "quant /s", "x", "reps", "preempt");
	cJSON_ArrayForEach(row, results)
	{
		char name[40];
		int s = flag(row, "synthetic"), c = flag(row, "cold"), e = flag(row, "emulated");
		synth |= s, cold |= c, emul |= e;
		snprintf(name, sizeof name, "%s%s%s%s", eng_json_str(row, "model"), s ? " *" : "", c ? " c" : "",
			 e ? " e" : "");
		double mb_ref = num(row, "weight_bytes_ref") / 1e6, mb_q = num(row, "weight_bytes_quant") / 1e6;
		if (tokens)
			printf("%-18s %6.0f %11.0f %9.1f %9.1f %11.1f %11.1f %5.2fx %11.1f %11.1f %5.2fx %4.0f %7.0f\n", name,
			       num(row, "width"), num(row, "params"), mb_ref, mb_q, num(row, "pp128_ref"),
			       num(row, "pp128_quant"), num(row, "pp_ratio"), num(row, "tg128_ref"), num(row, "tg128_quant"),
			       num(row, "tg_ratio"), num(row, "repeats"), num(row, "preemptions"));
		else
			printf("%-18s %6.0f %11.0f %9.1f %9.1f %12.1f %12.1f %5.2fx %4.0f %7.0f\n", name, num(row, "batch"),
			       num(row, "params"), mb_ref, mb_q, num(row, "ref"), num(row, "quant"), num(row, "ratio"),
			       num(row, "repeats"), num(row, "preemptions"));
	}
	if (synth || cold || emul)
		printf("\n");
	if (synth)
		printf("* synthetic, random weights: speed only (decoder-text's architecture at that width).\n");
	if (cold)
		printf("c cold: fp32 weights exceed 4x the %.0f MiB last-level cache (warm-up counted as a repeat).\n",
		       num(root, "llc_bytes") / (1 << 20));
	if (emul)
		printf("e emulated: some layer has no native kernel for this recipe and runs dequantized in fp32.\n");
	if (flag(root, "calibrated"))
		printf("Activation ranges calibrated on random seeded inputs (they fix ranges only, not speed).\n");
	double l0 = num(root, "load_avg_start"), l1 = num(root, "load_avg_end");
	printf("Load average %.2f at the start, %.2f at the end, on %.0f CPUs%s\n"
	       "preempt: time slices this process lost to other work during the row; a kernel pool waiting for\n"
	       "all its threads at every layer suffers first.\n", l0, l1, num(root, "online_cpus"),
	       l0 >= 0.5 ? ": other work was running" : "");
	const cJSON *x3 = cJSON_GetObjectItemCaseSensitive(root, "tg_3x_width");
	if (x3 && cJSON_IsNumber(x3))
		printf("Quantized decode (tg128) reaches >= 3x fp32 from width %.0f (the smallest width measured with "
		       "tg ratio >= 3).\n", x3->valuedouble);
	else if (x3)
		printf("Quantized decode (tg128) reaches 3x fp32 at no width measured.\n");
}

/* argv[0] is "bench" (the target "model" already taken out). */
int cmd_bench_model(int argc, char **argv)
{
	bench_model_args b = {0};
	int rc = take_own(&argc, argv, &b);
	if (rc)
		return rc;
	run_args a = {0};
	if ((rc = parse_run_args(argc, argv, &a, "bench model")))
		return rc;
	const char *na = a.sess.eval_n ? "--eval-n" : a.sess.strata ? "--strata" : a.sess.metric ? "--metric" : NULL;
	if (na) {
		fprintf(stderr, "precis bench model: %s does not apply (bench model times random inputs, not the "
				"evaluation set)\n", na);
		return EXIT_USAGE;
	}
	eng_bench_model_opts o = {a.sess.model, &a.recipe, a.sess.threads, b.repeats, b.quick,
				  b.nwidths ? b.widths : NULL, b.nwidths, a.sess.seed};
	char err[512] = "";
	int usage = 0;
	cJSON *res = eng_bench_model(&o, isatty(2) ? cli_bench_progress : NULL, NULL, &usage, err, sizeof err);
	if (!res) {
		if (isatty(2))
			fputs("\r\033[K", stderr);
		fprintf(stderr, "precis bench model: %s\n", err);
		return usage ? EXIT_USAGE : EXIT_RUN;
	}
	if (a.json) {
		char *s = cJSON_Print(res);
		puts(s);
		free(s);
	} else
		print_table(res);
	cJSON_Delete(res);
	return 0;
}
