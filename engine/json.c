/* SPDX-License-Identifier: GPL-3.0-or-later */
/* json.c - reading the engine's result objects by dotted path, for the
 * command line and the explorer alike. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"

const cJSON *eng_json_get(const cJSON *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t l = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)l, path);
		/* a number steps into an array ("ci95.0") */
		o = cJSON_IsArray(o) && l > 0 && strspn(key, "0123456789") == l ? cJSON_GetArrayItem(o, atoi(key))
										 : cJSON_GetObjectItemCaseSensitive(o, key);
		path += l + (path[l] == '.');
	}
	return o;
}

double eng_json_num(const cJSON *o, const char *path)
{
	const cJSON *v = eng_json_get(o, path);
	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *eng_json_str(const cJSON *o, const char *path)
{
	const cJSON *v = eng_json_get(o, path);
	return cJSON_IsString(v) ? v->valuestring : "";
}
