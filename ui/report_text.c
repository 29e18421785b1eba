/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report_text.c - the eval result as text: one table per result, the
 * format `precis eval` and `precis repl`'s `run` share (tests compare the
 * `all` row against `precis eval --json`, so change both or neither). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "eng.h"
#include "report_text.h"

void ui_report_text_eval(FILE *f, const cJSON *r, const eng_recipe *rec)
{
	char desc[512];
	eng_recipe_describe(rec, desc, sizeof desc);
	/* fractions (top1, macro-F1, ECE) in points; bits per character as they are */
	int bits = strcmp(eng_json_str(r, "metric"), "bpc") == 0;
	int pct = !bits && strcmp(eng_json_str(r, "metric"), "ece") != 0;
	double mul = bits ? 1 : 100;
	fprintf(f, "%s (%s, %.0f params, sha256 %.12s...)  metric %s (%s is better)\n", eng_json_str(r, "model.name"),
	       eng_json_str(r, "model.family"), eng_json_num(r, "model.params"), eng_json_str(r, "model.sha256"), eng_json_str(r, "metric"),
	       cJSON_IsTrue(eng_json_get(r, "eval.higher_is_better")) ? "higher" : "lower");
	if (*eng_json_str(r, "model.variant"))
		fprintf(f, "VARIANT: %s\n", eng_json_str(r, "model.variant"));
	fprintf(f, "recipe: %s\n", desc);
	fprintf(f, "reference: fp32, same samples, same code; eval: %s\n\n", eng_json_str(r, "eval.set"));
	fprintf(f, "%-14s %6s %8s %8s %10s  %-18s %6s  %s\n", "stratum", "n", "ref", "quant", bits ? "delta" : "delta(pt)",
		bits ? "95% CI" : "95% CI (pt)", "flips", "verdict");
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(r, "eval.strata"))
	{
		char ci[48];
		const cJSON *c = eng_json_get(st, "ci95");
		const cJSON *lo = cJSON_GetArrayItem(c, 0), *hi = cJSON_GetArrayItem(c, 1);
		int dp = bits ? 4 : 2; /* bits per character move in the third decimal */
		if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi))
			snprintf(ci, sizeof ci, "[%+.*f, %+.*f]", dp, lo->valuedouble * mul, dp, hi->valuedouble * mul);
		else
			snprintf(ci, sizeof ci, "-");
		fprintf(f, "%-14s %6.0f %7.*f%s %7.*f%s %+10.*f  %-18s %6.0f  %s\n", eng_json_str(st, "name"), eng_json_num(st, "n"),
			dp, eng_json_num(st, "ref") * mul, pct ? "%" : " ", dp, eng_json_num(st, "quant") * mul, pct ? "%" : " ", dp,
			eng_json_num(st, "delta") * mul, ci, eng_json_num(st, "flips"), eng_json_str(st, "verdict"));
	}
	fprintf(f, "\nthroughput: fp32 %.0f %s, quantized %.0f %s, speedup %.2fx (batch %.0f, %.0f threads, %s, median of %.0f)%s\n",
	       eng_json_num(r, "throughput.ref"), eng_json_str(r, "throughput.unit"), eng_json_num(r, "throughput.quant"), eng_json_str(r, "throughput.unit"),
	       eng_json_num(r, "throughput.speedup"), eng_json_num(r, "throughput.batch"), eng_json_num(r, "throughput.threads"),
	       eng_json_str(r, "throughput.isa"), eng_json_num(r, "throughput.repeats"),
	       cJSON_IsTrue(eng_json_get(r, "throughput.emulated")) ? "  [EMULATED: some layers run through a conversion path]" : "");
	const cJSON *all = cJSON_GetArrayItem(eng_json_get(r, "eval.strata"), 0);
	fprintf(f, "weights: %.0f bytes fp32 -> %.0f bytes; kernels agree with fake-quant on %.1f%% of %.0f samples\n",
	       eng_json_num(r, "memory.weight_bytes_ref"), eng_json_num(r, "memory.weight_bytes_quant"),
	       eng_json_num(all, "extra.kernel_agreement") * 100, eng_json_num(all, "extra.kernel_agreement_n"));
	fprintf(f, "timing: calibrate %.0f ms, quantize %.0f ms, evaluate %.0f ms, benchmark %.0f ms\n",
	       eng_json_num(r, "timing.calib_ms"), eng_json_num(r, "timing.quantize_ms"), eng_json_num(r, "timing.eval_ms"), eng_json_num(r, "timing.bench_ms"));
	fprintf(f, "decision-grade: %s\n", cJSON_IsTrue(eng_json_get(r, "disclosure.decision_grade")) ? "yes" : "no");
	const cJSON *why;
	cJSON_ArrayForEach(why, eng_json_get(r, "disclosure.reasons"))
	fprintf(f, "  - %s\n", cJSON_IsString(why) ? why->valuestring : "?");
}

static void ci_text(const cJSON *st, char *b, size_t l)
{
	const cJSON *c = eng_json_get(st, "ci95");
	if (cJSON_GetArraySize(c) == 2)
		snprintf(b, l, "[%+.2f, %+.2f]", cJSON_GetArrayItem(c, 0)->valuedouble * 100,
			 cJSON_GetArrayItem(c, 1)->valuedouble * 100);
	else
		snprintf(b, l, "-");
}

void ui_report_text_compare(FILE *f, const cJSON *a, const cJSON *b)
{
	fprintf(f, "\nA (pinned) vs B (this run), deltas in points against the same fp32 reference:\n");
	fprintf(f, "%-14s %8s  %-18s %8s  %-18s %8s\n", "stratum", "A delta", "A 95% CI", "B delta", "B 95% CI", "B-A");
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(b, "eval.strata"))
	{
		const char *name = eng_json_str(st, "name");
		const cJSON *sa = NULL, *it;
		cJSON_ArrayForEach(it, eng_json_get(a, "eval.strata"))
		if (strcmp(eng_json_str(it, "name"), name) == 0)
			sa = it;
		char ca[40] = "-", cb[40], da[16] = "-", dd[16] = "-";
		ci_text(st, cb, sizeof cb);
		if (sa) {
			ci_text(sa, ca, sizeof ca);
			snprintf(da, sizeof da, "%+.2f", eng_json_num(sa, "delta") * 100);
			snprintf(dd, sizeof dd, "%+.2f", (eng_json_num(st, "delta") - eng_json_num(sa, "delta")) * 100);
		}
		fprintf(f, "%-14s %8s  %-18s %+8.2f  %-18s %8s\n", name, da, ca, eng_json_num(st, "delta") * 100, cb, dd);
	}
}
