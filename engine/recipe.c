/* SPDX-License-Identifier: GPL-3.0-or-later */
/* recipe.c - recipe defaults, the option table, recipe JSON (SPEC §4). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_recipe.h"

typedef int (*opt_fn)(eng_recipe *r, const char *v, char *err, size_t errlen);

typedef struct {
	const char *name;
	int takes_value;
	opt_fn set;
} recipe_opt;

/* Which formats each slot accepts (SPEC §2). */
static const kq_fmt weight_fmts[] = {KQ_FMT_F32, KQ_FMT_BF16, KQ_FMT_F16, KQ_FMT_E4M3, KQ_FMT_E5M2, KQ_FMT_I8, KQ_FMT_I4};
static const kq_fmt act_fmts[] = {KQ_FMT_F32, KQ_FMT_I8, KQ_FMT_E4M3};
static const kq_fmt kv_fmts[] = {KQ_FMT_F32, KQ_FMT_I8, KQ_FMT_I4, KQ_FMT_E4M3};
static const kq_fmt attn_fmts[] = {KQ_FMT_F32, KQ_FMT_I8};

static int parse_fmt(const char *opt, const char *v, const kq_fmt *allowed, size_t n, kq_fmt *out, char *err,
		     size_t errlen)
{
	kq_fmt f;
	if (v && kq_fmt_parse(v, &f) == KQ_OK)
		for (size_t i = 0; i < n; i++)
			if (allowed[i] == f) {
				*out = f;
				return 0;
			}
	char list[128] = "";
	for (size_t i = 0; i < n; i++) {
		strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
		strncat(list, kq_fmt_get(allowed[i])->name, sizeof list - strlen(list) - 1);
	}
	snprintf(err, errlen, "--%s: '%s' is not one of %s", opt, v ? v : "", list);
	return -1;
}

static int set_weights(eng_recipe *r, const char *v, char *e, size_t l)
{
	return parse_fmt("weights", v, weight_fmts, sizeof weight_fmts / sizeof *weight_fmts, &r->weights, e, l);
}
static int set_acts(eng_recipe *r, const char *v, char *e, size_t l)
{
	return parse_fmt("acts", v, act_fmts, sizeof act_fmts / sizeof *act_fmts, &r->acts, e, l);
}
static int set_kv(eng_recipe *r, const char *v, char *e, size_t l)
{
	return parse_fmt("kv", v, kv_fmts, sizeof kv_fmts / sizeof *kv_fmts, &r->kv, e, l);
}
static int set_attn(eng_recipe *r, const char *v, char *e, size_t l)
{
	return parse_fmt("attn", v, attn_fmts, sizeof attn_fmts / sizeof *attn_fmts, &r->attn, e, l);
}
static int set_sym(eng_recipe *r, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	r->weight_symmetric = 1;
	return 0;
}
static int set_asym(eng_recipe *r, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	r->weight_symmetric = 0;
	return 0;
}
static int set_act_sym(eng_recipe *r, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	r->act_symmetric = 1;
	return 0;
}
static int set_act_asym(eng_recipe *r, const char *v, char *e, size_t l)
{
	(void)v, (void)e, (void)l;
	r->act_symmetric = 0;
	return 0;
}

static int set_gran(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "tensor") == 0)
		r->gran = KQ_GRAN_TENSOR;
	else if (strcmp(v, "channel") == 0)
		r->gran = KQ_GRAN_CHANNEL;
	else if (strncmp(v, "group:", 6) == 0 && (!strcmp(v + 6, "32") || !strcmp(v + 6, "64") || !strcmp(v + 6, "128") ||
						   !strcmp(v + 6, "256"))) {
		r->gran = KQ_GRAN_GROUP;
		r->group = atoi(v + 6);
	} else {
		snprintf(err, errlen, "--granularity: '%s' is not tensor, channel or group:N with N in 32, 64, 128, 256", v);
		return -1;
	}
	return 0;
}

static int set_act_gran(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	if (strcmp(v, "tensor") == 0 || strcmp(v, "token") == 0) {
		r->act_token = v[1] == 'o';
		return 0;
	}
	snprintf(err, errlen, "--act-granularity: '%s' is not tensor (static) or token (dynamic per row)", v);
	return -1;
}

static int set_calib_method(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	char e[200];
	if (eng_cal_parse(v, &r->calib, e, sizeof e) == 0)
		return 0;
	snprintf(err, errlen, "--calib-method: %s", e);
	return -1;
}

static int set_calib_set(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	size_t len = colon ? (size_t)(colon - v) : strlen(v);
	int good = len > 0 && len < sizeof r->calib_set;
	for (size_t i = 0; good && i < len; i++)
		good = islower((unsigned char)v[i]) || v[i] == '-';
	long n = r->calib_n;
	if (good && colon) {
		char *end;
		errno = 0;
		n = strtol(colon + 1, &end, 10);
		good = *end == 0 && colon[1] && !errno && n >= 1 && n <= 1000000;
	}
	if (!good) {
		snprintf(err, errlen, "--calib-set: '%s' is not NAME or NAME:N (N from 1 to 1000000)", v);
		return -1;
	}
	memcpy(r->calib_set, v, len);
	r->calib_set[len] = 0;
	r->calib_n = (int)n;
	return 0;
}

static int set_smooth(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	/* strtod alone would also take leading blanks, hex, "inf" and "nan" */
	char *end = NULL;
	double a = isdigit((unsigned char)*v) || (*v == '.' && isdigit((unsigned char)v[1])) ? strtod(v, &end) : NAN;
	if (!end || *end || strpbrk(v, "xX") || !(a >= 0 && a <= 1)) {
		snprintf(err, errlen, "--smooth: '%s' is not a number in [0, 1]", v);
		return -1;
	}
	r->smooth = a;
	return 0;
}

static int valid_layer_name(const char *s, size_t len)
{
	if (len == 0 || len >= sizeof(((eng_override *)0)->layer))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

static eng_override *override_slot(eng_recipe *r, const char *layer, size_t len)
{
	for (int i = 0; i < r->noverrides; i++)
		if (strlen(r->overrides[i].layer) == len && strncmp(r->overrides[i].layer, layer, len) == 0)
			return &r->overrides[i];
	if (r->noverrides == ENG_MAX_OVERRIDES)
		return NULL;
	eng_override *o = &r->overrides[r->noverrides++];
	memset(o, 0, sizeof *o);
	memcpy(o->layer, layer, len);
	return o;
}

static int set_keep(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	const char *p = v;
	do {
		size_t len = strcspn(p, ",");
		eng_override *o = valid_layer_name(p, len) ? override_slot(r, p, len) : NULL;
		if (!o) {
			snprintf(err, errlen, "--keep: '%.*s' is not a layer name (letters, digits, _ . -; under 32 characters)%s",
				 (int)len, p, r->noverrides == ENG_MAX_OVERRIDES ? " or too many overrides" : "");
			return -1;
		}
		o->keep = 1;
		o->weights = KQ_FMT_F32;
		p += len;
	} while (*p++ == ',');
	return 0;
}

static int set_layer(eng_recipe *r, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	kq_fmt f = KQ_FMT_F32;
	char e[200];
	if (!eq || !valid_layer_name(v, (size_t)(eq - v))) {
		snprintf(err, errlen, "--layer: '%s' is not LAYER=FORMAT", v);
		return -1;
	}
	if (parse_fmt("layer", eq + 1, weight_fmts, sizeof weight_fmts / sizeof *weight_fmts, &f, e, sizeof e)) {
		snprintf(err, errlen, "%s", e);
		return -1;
	}
	eng_override *o = override_slot(r, v, (size_t)(eq - v));
	if (!o) {
		snprintf(err, errlen, "--layer: too many per-layer overrides (%d at most)", ENG_MAX_OVERRIDES);
		return -1;
	}
	o->keep = 0;
	o->weights = f;
	return 0;
}

static const recipe_opt options[] = {
	{"weights", 1, set_weights},
	{"acts", 1, set_acts},
	{"kv", 1, set_kv},
	{"attn", 1, set_attn},
	{"symmetric", 0, set_sym},
	{"asymmetric", 0, set_asym},
	{"act-symmetric", 0, set_act_sym},
	{"act-asymmetric", 0, set_act_asym},
	{"granularity", 1, set_gran},
	{"act-granularity", 1, set_act_gran},
	{"calib-method", 1, set_calib_method},
	{"calib-set", 1, set_calib_set},
	{"smooth", 1, set_smooth},
	{"keep", 1, set_keep},
	{"layer", 1, set_layer},
};
#define NOPTIONS (sizeof options / sizeof *options)

void eng_recipe_default(eng_recipe *r)
{
	memset(r, 0, sizeof *r);
	r->weights = KQ_FMT_I8;
	r->acts = KQ_FMT_I8;
	r->kv = KQ_FMT_F32;
	r->attn = KQ_FMT_F32;
	r->weight_symmetric = 1;
	r->act_symmetric = 0;
	r->gran = KQ_GRAN_CHANNEL;
	r->group = 0;
	r->calib.kind = ENG_CAL_MINMAX;
	snprintf(r->calib_set, sizeof r->calib_set, "representative");
	r->calib_n = 512;
}

int eng_recipe_is_option(const char *key, int *takes_value)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(key, options[i].name) == 0) {
			if (takes_value)
				*takes_value = options[i].takes_value;
			return 1;
		}
	return 0;
}

const char *const *eng_recipe_option_names(void)
{
	static const char *names[NOPTIONS + 1];
	for (size_t i = 0; i < NOPTIONS; i++)
		names[i] = options[i].name;
	return names;
}

int eng_recipe_set(eng_recipe *r, const char *key, const char *value, char *err, size_t errlen)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(key, options[i].name) == 0) {
			if (options[i].takes_value && !value) {
				snprintf(err, errlen, "--%s needs a value", key);
				return -1;
			}
			return options[i].set(r, value, err, errlen);
		}
	snprintf(err, errlen, "unknown recipe option --%s", key);
	return -1;
}

const eng_override *eng_recipe_override(const eng_recipe *r, const char *layer)
{
	for (int i = 0; i < r->noverrides; i++)
		if (strcmp(r->overrides[i].layer, layer) == 0)
			return &r->overrides[i];
	return NULL;
}

static void gran_name(const eng_recipe *r, char *buf, size_t len)
{
	if (r->gran == KQ_GRAN_GROUP)
		snprintf(buf, len, "group:%d", r->group);
	else
		snprintf(buf, len, "%s", r->gran == KQ_GRAN_TENSOR ? "tensor" : "channel");
}

cJSON *eng_recipe_to_json(const eng_recipe *r)
{
	char buf[64];
	cJSON *o = cJSON_CreateObject(), *ov = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "weights", kq_fmt_get(r->weights)->name);
	cJSON_AddStringToObject(o, "acts", kq_fmt_get(r->acts)->name);
	cJSON_AddStringToObject(o, "kv", kq_fmt_get(r->kv)->name);
	cJSON_AddStringToObject(o, "attn", kq_fmt_get(r->attn)->name);
	cJSON_AddBoolToObject(o, "weight_symmetric", r->weight_symmetric);
	cJSON_AddBoolToObject(o, "act_symmetric", r->act_symmetric);
	gran_name(r, buf, sizeof buf);
	cJSON_AddStringToObject(o, "granularity", buf);
	cJSON_AddStringToObject(o, "act_granularity", r->act_token ? "token" : "tensor");
	eng_cal_format(&r->calib, buf, sizeof buf);
	cJSON_AddStringToObject(o, "calib_method", buf);
	cJSON_AddStringToObject(o, "calib_set", r->calib_set);
	cJSON_AddNumberToObject(o, "calib_n", r->calib_n);
	cJSON_AddNumberToObject(o, "smooth", r->smooth);
	for (int i = 0; i < r->noverrides; i++) {
		const eng_override *x = &r->overrides[i];
		if (x->keep)
			cJSON_AddStringToObject(ov, x->layer, "fp32");
		else {
			cJSON *w = cJSON_AddObjectToObject(ov, x->layer);
			cJSON_AddStringToObject(w, "weights", kq_fmt_get(x->weights)->name);
		}
	}
	cJSON_AddItemToObject(o, "overrides", ov);
	return o;
}

static int json_str(const cJSON *v, const char *where, const char *key, char *err, size_t errlen)
{
	if (cJSON_IsString(v))
		return 0;
	snprintf(err, errlen, "%s: recipe key \"%s\" must be a string", where, key);
	return -1;
}

int eng_recipe_from_json(eng_recipe *r, const cJSON *j, const char *where, char *err, size_t errlen)
{
	char e[256];
	if (!cJSON_IsObject(j)) {
		snprintf(err, errlen, "%s: a recipe must be a JSON object", where);
		return -1;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		const char *k = it->string;
		int rc = 0;
		if (!strcmp(k, "weights") || !strcmp(k, "acts") || !strcmp(k, "kv") || !strcmp(k, "attn") || !strcmp(k, "granularity") ||
		    !strcmp(k, "act_granularity") || !strcmp(k, "calib_method") || !strcmp(k, "calib_set")) {
			if (json_str(it, where, k, err, errlen))
				return -1;
			char opt[32];
			snprintf(opt, sizeof opt, "%s", k);
			for (char *p = opt; *p; p++)
				*p = *p == '_' ? '-' : *p;
			rc = eng_recipe_set(r, opt, it->valuestring, e, sizeof e);
		} else if (!strcmp(k, "weight_symmetric") || !strcmp(k, "act_symmetric")) {
			if (!cJSON_IsBool(it)) {
				snprintf(err, errlen, "%s: recipe key \"%s\" must be true or false", where, k);
				return -1;
			}
			*(k[0] == 'w' ? &r->weight_symmetric : &r->act_symmetric) = cJSON_IsTrue(it);
		} else if (!strcmp(k, "calib_n")) {
			if (!cJSON_IsNumber(it) || it->valuedouble != (int)it->valuedouble || it->valuedouble < 1 ||
			    it->valuedouble > 1000000) {
				snprintf(err, errlen, "%s: recipe key \"calib_n\" must be a whole number from 1 to 1000000", where);
				return -1;
			}
			r->calib_n = (int)it->valuedouble;
		} else if (!strcmp(k, "smooth")) {
			if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= 1)) {
				snprintf(err, errlen, "%s: recipe key \"smooth\" must be a number in [0, 1]", where);
				return -1;
			}
			r->smooth = it->valuedouble;
		} else if (!strcmp(k, "overrides")) {
			if (!cJSON_IsObject(it)) {
				snprintf(err, errlen, "%s: recipe key \"overrides\" must be an object", where);
				return -1;
			}
			r->noverrides = 0;
			const cJSON *o;
			cJSON_ArrayForEach(o, it)
			{
				char spec[96];
				const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
				if (cJSON_IsString(o) && !strcmp(o->valuestring, "fp32"))
					rc = eng_recipe_set(r, "keep", o->string, e, sizeof e);
				else if (cJSON_IsObject(o) && cJSON_IsString(w) && cJSON_GetArraySize(o) == 1) {
					snprintf(spec, sizeof spec, "%s=%s", o->string, w->valuestring);
					rc = eng_recipe_set(r, "layer", spec, e, sizeof e);
				} else {
					snprintf(err, errlen, "%s: override \"%s\" must be \"fp32\" or {\"weights\": FORMAT}", where,
						 o->string);
					return -1;
				}
				if (rc)
					break;
			}
		} else {
			snprintf(err, errlen, "%s: unknown recipe key \"%s\"", where, k);
			return -1;
		}
		if (rc) {
			snprintf(err, errlen, "%s: %s", where, e);
			return -1;
		}
	}
	return 0;
}

int eng_recipe_load(eng_recipe *r, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		return -1;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -1;
			}
			buf = nb;
		}
		size_t got = fread(buf + len, 1, 4096, f);
		len += got;
		if (got == 0 || len > (1u << 20))
			break;
	}
	fclose(f);
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!j) {
		int line = 1;
		for (const char *p = buf; end && p < end && p < buf + len; p++)
			line += *p == '\n';
		snprintf(err, errlen, "%s:%d: not valid JSON", path, line);
		free(buf);
		return -1;
	}
	int rc = eng_recipe_from_json(r, j, path, err, errlen);
	cJSON_Delete(j);
	free(buf);
	return rc;
}

void eng_recipe_describe(const eng_recipe *r, char *buf, size_t len)
{
	char g[32], c[32];
	gran_name(r, g, sizeof g);
	eng_cal_format(&r->calib, c, sizeof c);
	char kv[48] = "";
	if (r->kv != KQ_FMT_F32)
		snprintf(kv, sizeof kv, ", %s KV cache", kq_fmt_get(r->kv)->name);
	snprintf(buf, len, "%s weights (%s, per %s), %s activations (%s, %s), %s on %s:%d%s%s%s", kq_fmt_get(r->weights)->name,
		 r->weight_symmetric ? "symmetric" : "asymmetric", g, kq_fmt_get(r->acts)->name,
		 r->act_symmetric ? "symmetric" : "asymmetric", r->act_token ? "dynamic per row" : "static per tensor", c,
		 r->calib_set, r->calib_n, r->noverrides ? ", with per-layer overrides" : "",
		 r->attn == KQ_FMT_I8 ? ", int8 attention products" : "", kv);
}
