/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_recipe.c - recipe options, defaults and the SPEC §4 JSON round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_recipe.h"
#include "tap.h"

static int set_fails(const char *key, const char *val, const char *needle)
{
	eng_recipe r;
	char err[256] = "";
	eng_recipe_default(&r);
	int bad = eng_recipe_set(&r, key, val, err, sizeof err) == -1 && strstr(err, needle);
	if (!bad)
		diag("--%s %s: '%s' (wanted '%s')", key, val ? val : "", err, needle);
	return bad;
}

int main(void)
{
	eng_recipe r, r2;
	char err[256] = "";
	eng_recipe_default(&r);
	ok(r.weights == KQ_FMT_I8 && r.acts == KQ_FMT_I8 && r.kv == KQ_FMT_F32 && r.weight_symmetric && !r.act_symmetric &&
	   r.gran == KQ_GRAN_CHANNEL && !r.act_token && r.calib.kind == ENG_CAL_MINMAX &&
	   !strcmp(r.calib_set, "representative") && r.calib_n == 512 && r.smooth == 0,
	   "SPEC defaults");
	ok(!eng_recipe_set(&r, "weights", "int4", err, sizeof err) && r.weights == KQ_FMT_I4, "--weights int4");
	ok(!eng_recipe_set(&r, "granularity", "group:64", err, sizeof err) && r.gran == KQ_GRAN_GROUP && r.group == 64,
	   "--granularity group:64");
	ok(!eng_recipe_set(&r, "calib-method", "percentile:99.99", err, sizeof err) && r.calib.kind == ENG_CAL_PERCENTILE &&
	   r.calib.pct == 99.99, "--calib-method percentile:99.99");
	ok(!eng_recipe_set(&r, "calib-set", "shifted:128", err, sizeof err) && !strcmp(r.calib_set, "shifted") && r.calib_n == 128,
	   "--calib-set shifted:128");
	ok(!eng_recipe_set(&r, "calib-set", "small", err, sizeof err) && !strcmp(r.calib_set, "small") && r.calib_n == 128,
	   "--calib-set without N keeps N");
	ok(!eng_recipe_set(&r, "asymmetric", NULL, err, sizeof err) && !r.weight_symmetric, "--asymmetric");
	ok(!eng_recipe_set(&r, "act-symmetric", NULL, err, sizeof err) && r.act_symmetric, "--act-symmetric");
	ok(!eng_recipe_set(&r, "act-granularity", "token", err, sizeof err) && r.act_token, "--act-granularity token");
	ok(!eng_recipe_set(&r, "keep", "conv1,fc2", err, sizeof err) && r.noverrides == 2 &&
	   eng_recipe_override(&r, "fc2") && eng_recipe_override(&r, "fc2")->keep, "--keep conv1,fc2");
	ok(!eng_recipe_set(&r, "layer", "fc2=fp8-e4m3", err, sizeof err) && r.noverrides == 2 &&
	   !eng_recipe_override(&r, "fc2")->keep && eng_recipe_override(&r, "fc2")->weights == KQ_FMT_E4M3,
	   "--layer replaces an earlier keep of the same layer");
	ok(!eng_recipe_set(&r, "smooth", "0.5", err, sizeof err) && r.smooth == 0.5, "--smooth 0.5");

	ok(set_fails("weights", "int3", "'int3' is not one of fp32, bf16, fp16, fp8-e4m3, fp8-e5m2, int8, int4"), "bad weight format");
	ok(set_fails("acts", "int4", "--acts: 'int4' is not one of fp32, int8, fp8-e4m3"), "int4 activations are not offered");
	ok(set_fails("kv", "bf16", "--kv"), "bad kv format");
	ok(set_fails("granularity", "group:48", "group:N with N in 32, 64, 128, 256"), "group size 48");
	ok(set_fails("calib-method", "percentile:40", "percentile 40 is outside (50, 100]"), "percentile out of range");
	ok(set_fails("calib-method", "kl", "not one of minmax"), "unknown calibration method");
	ok(set_fails("calib-set", "representative:0", "N from 1"), "calibration size 0");
	ok(set_fails("smooth", "1.5", "[0, 1]"), "smooth out of range");
	ok(set_fails("layer", "fc2", "LAYER=FORMAT"), "--layer without a format");
	ok(set_fails("keep", "a b", "not a layer name"), "--keep with a space");
	ok(set_fails("weights", NULL, "needs a value"), "missing value");
	ok(set_fails("frobnicate", "1", "unknown recipe option --frobnicate"), "unknown option");

	/* JSON round trip */
	cJSON *j = eng_recipe_to_json(&r);
	char *txt = cJSON_PrintUnformatted(j);
	diag("%s", txt);
	eng_recipe_default(&r2);
	ok(!eng_recipe_from_json(&r2, j, "mem", err, sizeof err), "recipe JSON reads back (%s)", err);
	cJSON *j2 = eng_recipe_to_json(&r2);
	char *txt2 = cJSON_PrintUnformatted(j2);
	ok(!strcmp(txt, txt2), "round trip is exact");
	ok(strstr(txt, "\"overrides\":{\"conv1\":\"fp32\",\"fc2\":{\"weights\":\"fp8-e4m3\"}}") != NULL, "overrides per SPEC §4");
	free(txt), free(txt2);
	cJSON_Delete(j), cJSON_Delete(j2);

	/* files */
	char path[64];
	snprintf(path, sizeof path, "/tmp/precis-recipe-%d.json", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs("{\"weights\": \"int4\",\n \"granularity\": \"group:32\",\n \"bogus\": 1}\n", f);
	fclose(f);
	eng_recipe_default(&r2);
	ok(eng_recipe_load(&r2, path, err, sizeof err) == -1 && strstr(err, path) && strstr(err, "unknown recipe key \"bogus\""),
	   "unknown key in a recipe file is named (%s)", err);
	f = fopen(path, "w");
	fputs("{\"weights\": \"int4\",\n \"granularity\": \n", f);
	fclose(f);
	ok(eng_recipe_load(&r2, path, err, sizeof err) == -1 && strstr(err, "not valid JSON"), "truncated file (%s)", err);
	f = fopen(path, "w");
	fputs("{\"weights\": \"int4\", \"calib_n\": 64, \"act_symmetric\": true, \"overrides\": {\"fc1\": \"fp32\"}}", f);
	fclose(f);
	eng_recipe_default(&r2);
	ok(!eng_recipe_load(&r2, path, err, sizeof err) && r2.weights == KQ_FMT_I4 && r2.calib_n == 64 && r2.act_symmetric &&
	   r2.noverrides == 1, "a partial recipe file overrides only its keys");
	f = fopen(path, "w");
	fputs("{\"calib_n\": \"many\"}", f);
	fclose(f);
	ok(eng_recipe_load(&r2, path, err, sizeof err) == -1 && strstr(err, "calib_n"), "wrong type named (%s)", err);
	remove(path);
	ok(eng_recipe_load(&r2, path, err, sizeof err) == -1 && strstr(err, "cannot open"), "missing file");
	return tap_done();
}
