/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report_text.h - plain-text renderings of engine results, shared by
 * `precis eval` and `precis repl` so both print the same table. */
#ifndef PRECIS_REPORT_TEXT_H
#define PRECIS_REPORT_TEXT_H

#include <stdio.h>

#include <cJSON.h>

#include "eng_recipe.h"

/* Writes the per-stratum table and the throughput, memory, timing and
 * disclosure lines of one SPEC §3 result `r` (borrowed) for recipe `rec`
 * (borrowed) to f.  Cannot fail (write errors are the stream's). */
void ui_report_text_eval(FILE *f, const cJSON *r, const eng_recipe *rec);

/* Writes A (pinned, borrowed) vs B (borrowed) per stratum of B: each
 * delta with its interval and B - A in points.  Cannot fail. */
void ui_report_text_compare(FILE *f, const cJSON *a, const cJSON *b);

#endif
