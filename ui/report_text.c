/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report_text.c - the eval result as text: one table per result, the
 * format `precis eval` and `precis repl`'s `run` share (tests compare the
 * `all` row against `precis eval --json`, so change both or neither). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eng.h"
#include "report_text.h"

static const cJSON *all_of(const cJSON *r)
{
	return cJSON_GetArrayItem(eng_json_get(r, "eval.strata"), 0);
}

/* "v [lo, hi]" of an extra {value, ci95} */
static const char *vci(char *b, size_t l, const cJSON *o, int dp, double mul)
{
	const cJSON *c = eng_json_get(o, "ci95");
	const cJSON *c0 = cJSON_GetArrayItem(c, 0), *c1 = cJSON_GetArrayItem(c, 1);
	if (!o || isnan(eng_json_num(o, "value")))
		snprintf(b, l, "-");
	else if (!cJSON_IsNumber(c0) || !cJSON_IsNumber(c1) || isnan(c0->valuedouble) || isnan(c1->valuedouble))
		snprintf(b, l, "%.*f (no interval)", dp, eng_json_num(o, "value") * mul);
	else
		snprintf(b, l, "%.*f [%.*f, %.*f]", dp, eng_json_num(o, "value") * mul, dp, c0->valuedouble * mul, dp,
			 c1->valuedouble * mul);
	return b;
}

/* A language model's other metrics per stratum, each with its interval. */
static void lm_table(FILE *f, const cJSON *r)
{
	fprintf(f, "\n%-14s %-27s %-27s %-27s %-30s %8s %8s  %s\n", "stratum", "ppl_ratio [95% CI]",
		"top1_agree [95% CI]", "dp true token (pt) [CI]", "KLD bits/token [95% CI]", "KLD p99", "p99.9",
		"first_divergence (tokens) [CI]");
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(r, "eval.strata"))
	{
		char a[64], b[64], c[64], d[64], e[96] = "-";
		const cJSON *fd = eng_json_get(st, "extra.first_divergence");
		if (fd) {
			char v[64];
			snprintf(e, sizeof e, "%s of %.0f, %.0f prompts", vci(v, sizeof v, fd, 1, 1), eng_json_num(fd, "of"),
				 eng_json_num(fd, "prompts"));
		}
		char p99[16] = "-", p999[16] = "-";
		if (!isnan(eng_json_num(st, "extra.kld.p99")))
			snprintf(p99, sizeof p99, "%.5f", eng_json_num(st, "extra.kld.p99"));
		if (!isnan(eng_json_num(st, "extra.kld.p999")))
			snprintf(p999, sizeof p999, "%.5f", eng_json_num(st, "extra.kld.p999"));
		fprintf(f, "%-14s %-27s %-27s %-27s %-30s %8s %8s  %s\n", eng_json_str(st, "name"),
			vci(a, sizeof a, eng_json_get(st, "extra.ppl_ratio"), 5, 1),
			vci(b, sizeof b, eng_json_get(st, "extra.top1_agree"), 4, 1),
			vci(c, sizeof c, eng_json_get(st, "extra.dp_true"), 3, 100),
			vci(d, sizeof d, eng_json_get(st, "extra.kld"), 5, 1), p99, p999, e);
	}
}

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
		if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi) && !isnan(lo->valuedouble) && !isnan(hi->valuedouble))
			snprintf(ci, sizeof ci, "[%+.*f, %+.*f]", dp, lo->valuedouble * mul, dp, hi->valuedouble * mul);
		else
			snprintf(ci, sizeof ci, "-");
		if (!(eng_json_num(st, "n") > 0)) { /* a short --eval-n leaves some strata empty */
			fprintf(f, "%-14s %6.0f %8s %8s %10s  %-18s %6s  %s\n", eng_json_str(st, "name"), 0.0, "-", "-", "-", "-",
				"-", eng_json_str(st, "verdict"));
			continue;
		}
		fprintf(f, "%-14s %6.0f %7.*f%s %7.*f%s %+10.*f  %-18s %6.0f  %s\n", eng_json_str(st, "name"), eng_json_num(st, "n"),
			dp, eng_json_num(st, "ref") * mul, pct ? "%" : " ", dp, eng_json_num(st, "quant") * mul, pct ? "%" : " ", dp,
			eng_json_num(st, "delta") * mul, ci, eng_json_num(st, "flips"), eng_json_str(st, "verdict"));
	}
	if (eng_json_get(all_of(r), "extra.ppl_ratio"))
		lm_table(f, r);
	fprintf(f, "\nthroughput: fp32 %.0f %s, quantized %.0f %s, speedup %.2fx (batch %.0f, %.0f threads, %s, median of %.0f)%s\n",
	       eng_json_num(r, "throughput.ref"), eng_json_str(r, "throughput.unit"), eng_json_num(r, "throughput.quant"), eng_json_str(r, "throughput.unit"),
	       eng_json_num(r, "throughput.speedup"), eng_json_num(r, "throughput.batch"), eng_json_num(r, "throughput.threads"),
	       eng_json_str(r, "throughput.isa"), eng_json_num(r, "throughput.repeats"),
	       cJSON_IsTrue(eng_json_get(r, "throughput.emulated")) ? "  [EMULATED: some layers run through a conversion path]" : "");
	if (eng_json_get(r, "throughput.pp128"))
		fprintf(f, "batch 1: pp128 fp32 %.0f, quantized %.0f tokens/s (%.2fx); tg128 fp32 %.0f, quantized %.0f tokens/s "
			   "(%.2fx)\n",
			eng_json_num(r, "throughput.pp128.ref"), eng_json_num(r, "throughput.pp128.quant"),
			eng_json_num(r, "throughput.pp128.speedup"), eng_json_num(r, "throughput.tg128.ref"),
			eng_json_num(r, "throughput.tg128.quant"), eng_json_num(r, "throughput.tg128.speedup"));
	const cJSON *all = all_of(r);
	if (eng_json_get(r, "memory.kv_bytes_per_token_ref"))
		fprintf(f, "KV cache: %.0f -> %.0f bytes per token (%.0f -> %.0f bytes for a %.0f-token context); storage: %s\n",
			eng_json_num(r, "memory.kv_bytes_per_token_ref"), eng_json_num(r, "memory.kv_bytes_per_token_quant"),
			eng_json_num(r, "memory.kv_bytes_ref"), eng_json_num(r, "memory.kv_bytes_quant"),
			eng_json_num(r, "memory.kv_context"), eng_json_str(r, "memory.kv_storage"));
	fprintf(f, "weights: %.0f bytes fp32 -> %.0f bytes; kernels agree with fake-quant on %.1f%% of %.0f samples\n",
	       eng_json_num(r, "memory.weight_bytes_ref"), eng_json_num(r, "memory.weight_bytes_quant"),
	       eng_json_num(all, "extra.kernel_agreement") * 100, eng_json_num(all, "extra.kernel_agreement_n"));
	fprintf(f, "timing: calibrate %.0f ms, quantize %.0f ms, evaluate %.0f ms, benchmark %.0f ms",
	       eng_json_num(r, "timing.calib_ms"), eng_json_num(r, "timing.quantize_ms"), eng_json_num(r, "timing.eval_ms"), eng_json_num(r, "timing.bench_ms"));
	if (eng_json_get(r, "timing.extra_ms"))
		fprintf(f, ", generation and batch-1 benchmark %.0f ms", eng_json_num(r, "timing.extra_ms"));
	fprintf(f, "; total %.0f ms\n", eng_json_num(r, "timing.total_ms"));
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
