/* SPDX-License-Identifier: GPL-3.0-or-later */
/* search.c - acceptance criteria, automatic mixed precision, sweep grids.
 *
 * DESIGN: the search is greedy and explainable.  It evaluates the start
 * recipe, ranks the layers once by eng_session_sensitivity (most sensitive
 * first), and then promotes one layer by one notch per step, in rounds:
 * the first round gives every layer in rank order its next notch (int4 ->
 * int8, anything else -> fp32), the next round the one after, and so on.
 * Each step is a full evaluation with the benchmark, checked against the
 * criterion; the search stops at the first step where it holds (earlier
 * steps did not, and each later step only keeps more in high precision).
 * A step that would leave every layer in fp32 is not taken: that model is
 * the reference.  The best recipe so far is kept at every step and handed
 * to the caller's callback, so an interrupted or failed search still says
 * what it found: after step 0, a cancel stops with "cancelled" and an
 * evaluation error with "error" (and its message), both returning the
 * object with the best so far; only a failure before step 0 has finished
 * returns NULL.  Each step's evaluation gets its disclosure judged by
 * eng_disclosure_assess against max_loss, the one rule reports use.
 * Everything runs on the session's thread.
 *
 * Test hook: env PRECIS_TEST_FAIL_SEARCH_STEP=N makes the evaluation of
 * step N fail as an evaluation error would (no real failure can be
 * provoked on demand mid-search).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_report.h"
#include "eng_session_impl.h"

/* ---------------------------------------------------------------- criterion */

static int criterion_names(const eng_criterion *c, const char *name)
{
	if (c->strata_all || strcmp(name, "all") == 0)
		return 1;
	for (int i = 0; i < c->nstrata; i++)
		if (strcmp(c->strata[i], name) == 0)
			return 1;
	return 0;
}

int eng_criterion_check(const eng_criterion *c, const cJSON *eval, double *shortfall, char *err, size_t errlen)
{
	const cJSON *strata = eng_json_get(eval, "eval.strata"), *hb = eng_json_get(eval, "eval.higher_is_better");
	int higher = !cJSON_IsFalse(hb);
	/* the criterion's unit: points (metric x 100), bits for bpc */
	double unit = strcmp(eng_json_str(eval, "metric"), "bpc") == 0 ? 1 : 100;
	double worst = 0;
	if (shortfall)
		*shortfall = 0;
	if (!cJSON_IsArray(strata)) {
		snprintf(err, errlen, "the result has no strata");
		return -1;
	}
	for (int i = 0; i < c->nstrata; i++) {
		int found = 0;
		const cJSON *st;
		cJSON_ArrayForEach(st, strata) found |= strcmp(eng_json_str(st, "name"), c->strata[i]) == 0;
		if (!found) {
			snprintf(err, errlen, "--stratum: '%s' is not a stratum of this result", c->strata[i]);
			return -1;
		}
	}
	const cJSON *st;
	cJSON_ArrayForEach(st, strata)
	{
		const char *name = eng_json_str(st, "name");
		if (!criterion_names(c, name))
			continue;
		const cJSON *ci = cJSON_GetObjectItemCaseSensitive(st, "ci95");
		const cJSON *lo = cJSON_GetArrayItem(ci, 0), *hi = cJSON_GetArrayItem(ci, 1);
		if (!cJSON_IsNumber(lo) || !cJSON_IsNumber(hi)) {
			snprintf(err, errlen, "stratum '%s' has no 95%% interval", name);
			return -1;
		}
		/* the end of the interval on the losing side, as a loss in the unit */
		double end = higher ? lo->valuedouble : -hi->valuedouble;
		double over = -end * unit - c->max_loss;
		if (over > 1e-9 && over > worst)
			worst = over;
	}
	if (shortfall)
		*shortfall = worst;
	return worst > 0 ? 0 : 1;
}

/* -------------------------------------------------------------------- search */

/* The weight format one notch above f on the promotion ladder: int4 ->
 * int8; anything else -> fp32 (the layer kept whole, activations too). */
static kq_fmt next_notch(kq_fmt f)
{
	return f == KQ_FMT_I4 ? KQ_FMT_I8 : KQ_FMT_F32;
}

typedef struct {
	int idx;     /* quantizable layer index */
	kq_fmt fmt;  /* current weight format; KQ_FMT_F32 with kept = 1 at the top */
	int kept;
} ladder;

static cJSON *step_json(int step, const char *change, const eng_recipe *r, const cJSON *ev, const eng_criterion *c,
			int holds, double shortfall)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "step", step);
	cJSON_AddStringToObject(o, "change", change);
	cJSON_AddItemToObject(o, "recipe", eng_recipe_to_json(r));
	cJSON *tp = cJSON_AddObjectToObject(o, "throughput");
	cJSON_AddNumberToObject(tp, "quant", eng_json_num(ev, "throughput.quant"));
	cJSON_AddNumberToObject(tp, "ref", eng_json_num(ev, "throughput.ref"));
	cJSON_AddNumberToObject(tp, "speedup", eng_json_num(ev, "throughput.speedup"));
	cJSON_AddBoolToObject(tp, "emulated", cJSON_IsTrue(eng_json_get(ev, "throughput.emulated")));
	cJSON *sa = cJSON_AddArrayToObject(o, "strata");
	const cJSON *st;
	cJSON_ArrayForEach(st, eng_json_get(ev, "eval.strata"))
	{
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "name", eng_json_str(st, "name"));
		cJSON_AddNumberToObject(x, "delta", eng_json_num(st, "delta"));
		cJSON_AddItemToObject(x, "ci95", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(st, "ci95"), 1));
		cJSON_AddNumberToObject(x, "flips", eng_json_num(st, "flips"));
		cJSON_AddBoolToObject(x, "checked", criterion_names(c, eng_json_str(st, "name")));
		cJSON_AddItemToArray(sa, x);
	}
	cJSON_AddBoolToObject(o, "holds", holds);
	cJSON_AddNumberToObject(o, "shortfall_pt", round(shortfall * 1e4) / 1e4);
	return o;
}

/* Is candidate (holds, shortfall, throughput) better than the best so far? */
static int better(int holds, double shortfall, double tput, const cJSON *best)
{
	if (!best)
		return 1;
	int bholds = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(best, "met"));
	double bshort = eng_json_num(best, "shortfall_pt"), btput = eng_json_num(best, "throughput.quant");
	if (holds != bholds)
		return holds;
	if (!holds && shortfall != bshort)
		return shortfall < bshort;
	return tput > btput;
}

static cJSON *criterion_json(const eng_criterion *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "max_loss_pt", c->max_loss);
	cJSON_AddBoolToObject(o, "strata_all", c->strata_all);
	cJSON *n = cJSON_AddArrayToObject(o, "strata");
	cJSON_AddItemToArray(n, cJSON_CreateString("all"));
	for (int i = 0; i < c->nstrata; i++)
		if (strcmp(c->strata[i], "all") != 0)
			cJSON_AddItemToArray(n, cJSON_CreateString(c->strata[i]));
	cJSON_AddStringToObject(o, "rule",
				"holds when, on every checked stratum, the end of the 95% interval on the losing side "
				"is no worse than -max_loss points (higher is better: ci95[0] >= -max_loss/100); for bpc "
				"max_loss is in bits (ci95[1] <= max_loss)");
	if (c->max_steps >= 0)
		cJSON_AddNumberToObject(o, "max_steps", c->max_steps);
	return o;
}

cJSON *eng_search(eng_session *s, const eng_recipe *start, const eng_criterion *c, eng_search_step_fn on_step,
		  void *step_user, eng_stage_fn progress, void *user, volatile int *cancel, char *err, size_t errlen)
{
	double t_start = sess_now_ms();
	int nq = s->m->nq;
	if (errlen)
		err[0] = 0;
	if (!(c->max_loss >= 0) || !isfinite(c->max_loss)) {
		snprintf(err, errlen, "--max-loss: %g is not a number of points >= 0", c->max_loss);
		return NULL;
	}
	for (int i = 0; i < c->nstrata; i++) {
		int found = 0;
		char names[512] = "";
		for (int k = 0; k < s->nstrata; k++) {
			found |= strcmp(s->strata[k].name, c->strata[i]) == 0;
			strncat(names, k ? ", " : "", sizeof names - strlen(names) - 1);
			strncat(names, s->strata[k].name, sizeof names - strlen(names) - 1);
		}
		if (!found) {
			snprintf(err, errlen, "--stratum: '%s' is not a stratum of %s (%s)", c->strata[i], s->m->name, names);
			return NULL;
		}
	}
	cJSON *sens = eng_session_sensitivity(s, start, 1, progress, user, cancel, err, errlen);
	if (!sens)
		return NULL;
	/* the ladder: quantized layers in rank order, at their start notch */
	ladder *lad = calloc((size_t)nq, sizeof *lad);
	int nl = 0;
	cJSON *root = NULL, *best = NULL, *steps = NULL;
	if (!lad) {
		cJSON_Delete(sens);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	const cJSON *name;
	cJSON_ArrayForEach(name, eng_json_get(sens, "ranking"))
	{
		for (int i = 0; i < nq; i++) {
			const eng_layer *L = eng_model_qlayer(s->m, i);
			if (strcmp(L->name, name->valuestring) != 0)
				continue;
			const cJSON *lj = cJSON_GetArrayItem(eng_json_get(sens, "layers"), i);
			if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lj, "quantized")))
				break;
			const eng_override *ov = eng_recipe_override(start, L->name);
			lad[nl].idx = i;
			lad[nl].fmt = ov ? ov->weights : start->weights;
			lad[nl].kept = 0;
			nl++;
		}
	}
	root = cJSON_CreateObject();
	cJSON_AddItemToObject(root, "criterion", criterion_json(c));
	cJSON_AddItemToObject(root, "start", eng_recipe_to_json(start));
	cJSON_AddItemToObject(root, "ranking", cJSON_Duplicate(eng_json_get(sens, "ranking"), 1));
	cJSON_AddStringToObject(root, "rank_rule", eng_json_str(sens, "rank_rule"));
	steps = cJSON_AddArrayToObject(root, "steps");
	cJSON_Delete(sens);

	eng_recipe cur = *start;
	char change[128] = "start";
	const char *stopped = "exhausted";
	int step = 0, met = 0, fp32_layers = nq - nl, fail_step = -1;
	const char *hook = getenv("PRECIS_TEST_FAIL_SEARCH_STEP");
	if (hook && *hook)
		fail_step = atoi(hook);
	for (;;) {
		if (progress)
			progress(user, "search", nl ? (double)step / (2.0 * nl + 1) : 1);
		cJSON *ev = NULL;
		if (step == fail_step)
			snprintf(err, errlen, "step %d: evaluation failed (test hook PRECIS_TEST_FAIL_SEARCH_STEP)", step);
		else
			ev = eng_session_eval_ex(s, &cur, 0, progress, user, cancel, err, errlen);
		if (!ev) {
			if (cancel && *cancel)
				stopped = "cancelled";
			else
				stopped = "error";
			break;
		}
		double shortfall = 0;
		int holds = eng_criterion_check(c, ev, &shortfall, err, errlen);
		/* the run's disclosure judged against the criterion (SPEC §3), by
		 * the rule every report uses; the criterion itself beside it */
		int grade = holds < 0 ? 0 : eng_disclosure_assess(ev, c->max_loss);
		cJSON *disc = cJSON_GetObjectItemCaseSensitive(ev, "disclosure");
		if (holds < 0 || grade < 0 || !disc) {
			if (holds >= 0)
				snprintf(err, errlen, "out of memory");
			cJSON_Delete(ev);
			stopped = "error";
			break;
		}
		cJSON_AddItemToObject(disc, "search_criterion", criterion_json(c));
		cJSON *so = step_json(step, change, &cur, ev, c, holds, shortfall);
		cJSON_AddBoolToObject(so, "decision_grade", grade == 1);
		cJSON_AddItemToArray(steps, so);
		if (better(holds, shortfall, eng_json_num(ev, "throughput.quant"), best)) {
			cJSON_Delete(best);
			best = cJSON_CreateObject();
			cJSON_AddNumberToObject(best, "step", step);
			cJSON_AddItemToObject(best, "recipe", eng_recipe_to_json(&cur));
			cJSON_AddBoolToObject(best, "met", holds);
			cJSON_AddItemToObject(best, "throughput", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(so, "throughput"), 1));
			cJSON_AddItemToObject(best, "strata", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(so, "strata"), 1));
			cJSON_AddNumberToObject(best, "shortfall_pt", round(shortfall * 1e4) / 1e4);
			cJSON_AddItemToObject(best, "eval", ev); /* the best run in full */
			ev = NULL;
		}
		cJSON_Delete(ev);
		if (on_step)
			on_step(step_user, so, best);
		if (holds) {
			met = 1;
			stopped = "met";
			break;
		}
		if (cancel && *cancel) {
			stopped = "cancelled";
			snprintf(err, errlen, "cancelled");
			break;
		}
		if (c->max_steps >= 0 && step >= c->max_steps) {
			stopped = "max-steps";
			break;
		}
		/* next promotion: the most sensitive layer at the lowest notch */
		int pick = -1;
		for (int round = 0; round < 3 && pick < 0; round++)
			for (int k = 0; k < nl && pick < 0; k++) {
				int notch = lad[k].kept ? 2 : lad[k].fmt == KQ_FMT_I4 ? 0 : 1;
				if (!lad[k].kept && notch <= round)
					pick = k;
			}
		if (pick < 0)
			break;
		ladder *l = &lad[pick];
		const char *lname = eng_model_qlayer(s->m, l->idx)->name;
		kq_fmt to = next_notch(l->fmt);
		if (to == KQ_FMT_F32 && fp32_layers + 1 == nq) {
			stopped = "exhausted"; /* the next step is the fp32 reference itself */
			break;
		}
		char spec[64];
		int rc;
		if (to == KQ_FMT_F32)
			rc = eng_recipe_set(&cur, "keep", lname, err, errlen);
		else {
			snprintf(spec, sizeof spec, "%s=%s", lname, kq_fmt_get(to)->name);
			rc = eng_recipe_set(&cur, "layer", spec, err, errlen);
		}
		if (rc) {
			stopped = "error";
			break;
		}
		snprintf(change, sizeof change, "%s: %s -> %s", lname, kq_fmt_get(l->fmt)->name,
			 to == KQ_FMT_F32 ? "fp32 (kept)" : kq_fmt_get(to)->name);
		l->fmt = to;
		if (to == KQ_FMT_F32)
			l->kept = 1, fp32_layers++;
		step++;
	}
	if (!best) { /* nothing evaluated: cancelled or failed at step 0 */
		if (strcmp(stopped, "cancelled") == 0)
			snprintf(err, errlen, "cancelled");
		goto fail;
	}
	int failed = strcmp(stopped, "error") == 0;
	if (failed && errlen && !*err)
		snprintf(err, errlen, "step %d: evaluation failed", step);
	cJSON_AddBoolToObject(root, "met", met);
	cJSON_AddStringToObject(root, "stopped", stopped);
	if (failed)
		cJSON_AddStringToObject(root, "error", err);
	cJSON_AddItemToObject(root, "best", best);
	cJSON_AddNumberToObject(root, "elapsed_ms", round((sess_now_ms() - t_start) * 10) / 10);
	if (progress)
		progress(user, "search", 1);
	free(lad);
	if (!failed && strcmp(stopped, "cancelled") != 0 && errlen)
		err[0] = 0;
	return root;
fail:
	if (errlen && !*err)
		snprintf(err, errlen, "search failed");
	cJSON_Delete(root);
	cJSON_Delete(best);
	free(lad);
	return NULL;
}

/* ---------------------------------------------------------------------- grid */

#define GRID_DIMS 16
#define GRID_VALUES 256
#define GRID_MAX_POINTS 1000000L

typedef struct {
	char key[32];
	int n;
	char *values[GRID_VALUES];
} grid_dim;

struct eng_grid {
	int ndim;
	grid_dim dims[GRID_DIMS];
};

eng_grid *eng_grid_create(void)
{
	return calloc(1, sizeof(eng_grid));
}

void eng_grid_destroy(eng_grid *g)
{
	if (!g)
		return;
	for (int d = 0; d < g->ndim; d++)
		for (int i = 0; i < g->dims[d].n; i++)
			free(g->dims[d].values[i]);
	free(g);
}

long eng_grid_size(const eng_grid *g)
{
	long n = 1;
	for (int d = 0; d < g->ndim; d++)
		n *= g->dims[d].n;
	return n;
}

int eng_grid_add(eng_grid *g, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	int takes = 0;
	char key[32];
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof key) {
		snprintf(err, errlen, "--vary: '%s' is not KEY=V1,V2,...", spec);
		return -1;
	}
	memcpy(key, spec, (size_t)(eq - spec));
	key[eq - spec] = 0;
	if (!eng_recipe_is_option(key, &takes)) {
		char names[512] = "";
		for (const char *const *o = eng_recipe_option_names(); *o; o++)
			if (eng_recipe_is_option(*o, &takes) && takes) {
				strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
				strncat(names, *o, sizeof names - strlen(names) - 1);
			}
		snprintf(err, errlen, "--vary: '%s' is not a recipe option (%s)", key, names);
		return -1;
	}
	if (!takes) {
		snprintf(err, errlen, "--vary: '%s' is a flag without a value; run one sweep with it and one without", key);
		return -1;
	}
	for (int d = 0; d < g->ndim; d++)
		if (strcmp(g->dims[d].key, key) == 0) {
			snprintf(err, errlen, "--vary: '%s' is varied twice", key);
			return -1;
		}
	if (g->ndim == GRID_DIMS) {
		snprintf(err, errlen, "--vary: at most %d options can be varied", GRID_DIMS);
		return -1;
	}
	grid_dim *dim = &g->dims[g->ndim];
	memset(dim, 0, sizeof *dim);
	snprintf(dim->key, sizeof dim->key, "%s", key);
	const char *p = eq + 1;
	for (;;) {
		size_t len = strcspn(p, ",");
		char e[256];
		eng_recipe probe;
		eng_recipe_default(&probe);
		char *v = len ? strndup(p, len) : NULL;
		if (!len || !v || dim->n == GRID_VALUES || eng_recipe_set(&probe, key, v, e, sizeof e)) {
			if (!len)
				snprintf(err, errlen, "--vary %s: empty value in '%s'", key, eq + 1);
			else if (!v)
				snprintf(err, errlen, "out of memory");
			else if (dim->n == GRID_VALUES)
				snprintf(err, errlen, "--vary %s: more than %d values", key, GRID_VALUES);
			else
				snprintf(err, errlen, "--vary %s: %s", key, e);
			free(v);
			for (int i = 0; i < dim->n; i++)
				free(dim->values[i]);
			return -1;
		}
		dim->values[dim->n++] = v;
		p += len;
		if (*p++ != ',')
			break;
	}
	if (eng_grid_size(g) * dim->n > GRID_MAX_POINTS) {
		for (int i = 0; i < dim->n; i++)
			free(dim->values[i]);
		snprintf(err, errlen, "--vary: the grid would have more than %ld points", GRID_MAX_POINTS);
		return -1;
	}
	g->ndim++;
	return 0;
}

int eng_grid_apply(const eng_grid *g, long index, eng_recipe *r, cJSON **values, char *err, size_t errlen)
{
	long size = eng_grid_size(g), rest = index;
	int pick[GRID_DIMS];
	if (values)
		*values = NULL;
	if (index < 0 || index >= size) {
		snprintf(err, errlen, "grid point %ld is outside the grid (0 to %ld)", index, size - 1);
		return -1;
	}
	/* the last dimension changes fastest */
	for (int d = g->ndim - 1; d >= 0; d--) {
		pick[d] = (int)(rest % g->dims[d].n);
		rest /= g->dims[d].n;
	}
	cJSON *v = values ? cJSON_CreateObject() : NULL;
	for (int d = 0; d < g->ndim; d++) {
		const char *val = g->dims[d].values[pick[d]];
		char e[256];
		if (eng_recipe_set(r, g->dims[d].key, val, e, sizeof e)) {
			snprintf(err, errlen, "grid point %ld: %s", index, e);
			cJSON_Delete(v);
			return -1;
		}
		if (v)
			cJSON_AddStringToObject(v, g->dims[d].key, val);
	}
	if (values)
		*values = v;
	return 0;
}
