/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_recipe.h - everything that defines one quantized variant (SPEC §4),
 * with one option table shared by the command line, recipe files and, later,
 * the explorer's `set` command and completions. */
#ifndef PRECIS_ENG_RECIPE_H
#define PRECIS_ENG_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "eng_calib.h"
#include "kq.h"

#define ENG_MAX_OVERRIDES 64

typedef struct {
	char layer[32];
	kq_fmt weights; /* KQ_FMT_F32 with keep = 1: the whole layer stays fp32 */
	int keep;
} eng_override;

typedef struct {
	kq_fmt weights, acts, kv;
	kq_fmt attn;      /* attention products Q K^T and P V: KQ_FMT_F32 or KQ_FMT_I8 (transformers) */
	int weight_symmetric, act_symmetric;
	kq_gran gran;
	int group;        /* for KQ_GRAN_GROUP */
	int act_token;    /* 1: dynamic per-row activation ranges */
	eng_cal_method calib;
	char calib_set[32];
	int calib_n;
	double smooth;
	int noverrides;
	eng_override overrides[ENG_MAX_OVERRIDES];
} eng_recipe;

/* SPEC defaults: int8 weights and activations, symmetric per-channel
 * weights, asymmetric per-tensor activations, minmax on representative:512. */
void eng_recipe_default(eng_recipe *r);

/* Applies one recipe option by its command-line name without dashes
 * ("weights", "granularity", "keep", "layer", "calib-set", "symmetric", …);
 * flags take value NULL.  0, or -1 with a sentence naming option and value. */
int eng_recipe_set(eng_recipe *r, const char *key, const char *value, char *err, size_t errlen);
/* 1 when `key` is a recipe option; *takes_value says whether it needs one. */
int eng_recipe_is_option(const char *key, int *takes_value);
/* Names of the recipe options, NULL-terminated (for help and completion). */
const char *const *eng_recipe_option_names(void);

/* The override for a layer, or NULL. */
const eng_override *eng_recipe_override(const eng_recipe *r, const char *layer);

/* SPEC §3 `recipe` object.  Caller owns it. */
cJSON *eng_recipe_to_json(const eng_recipe *r);
/* Reads a recipe object (unknown keys are an error).  `where` names the
 * source for messages (a file name). */
int eng_recipe_from_json(eng_recipe *r, const cJSON *j, const char *where, char *err, size_t errlen);
int eng_recipe_load(eng_recipe *r, const char *path, char *err, size_t errlen);

/* "int8 W, int8 A (asymmetric, per tensor), per-channel symmetric weights,
 * minmax on representative:512" — one line for tables and reports. */
void eng_recipe_describe(const eng_recipe *r, char *buf, size_t len);

#endif
