/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors.c - safetensors model loader (F32, F16, BF16 -> fp32).
 *
 * DESIGN: the whole file is read once (models here are megabytes), hashed,
 * and every header field is validated against the file before any tensor
 * byte is read: header length within the file, JSON well formed, each
 * tensor's dtype known, shape non-negative without overflow, data_offsets
 * inside the data section and exactly numel * dtype size long, tensors not
 * overlapping.  Tensors are converted to fp32 at load time so the rest of
 * the engine sees one type.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "eng_io.h"
#include "kq.h"

struct eng_st {
	eng_tensor *t;
	size_t n;
	cJSON *meta;
	char sha[65];
	size_t bytes;
};

typedef struct {
	const char *name;
	int size;
} dtype_info;

static const dtype_info dtypes[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}};

void eng_st_destroy(eng_st *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->t[i].name);
		free(st->t[i].data);
	}
	free(st->t);
	cJSON_Delete(st->meta);
	free(st);
}

static unsigned char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
		return NULL;
	}
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			unsigned char *nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory after %zu bytes", path, n);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error after %zu bytes", path, n);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static int cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return (x[0] > y[0]) - (x[0] < y[0]);
}

eng_st *eng_st_load(const char *path, char *err, size_t errlen)
{
	size_t len = 0;
	unsigned char *buf = read_file(path, &len, err, errlen);
	if (!buf)
		return NULL;
	eng_st *st = calloc(1, sizeof *st);
	cJSON *hdr = NULL;
	uint64_t *ranges = NULL;
	if (!st) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	st->bytes = len;
	eng_sha256_hex(buf, len, st->sha);
	if (len < 8) {
		snprintf(err, errlen, "%s: %zu bytes is too short for a safetensors file (8-byte header length missing)", path, len);
		goto fail;
	}
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | buf[i];
	if (hlen > len - 8) {
		snprintf(err, errlen, "%s: header length %llu at byte 0 exceeds file size %zu", path,
			 (unsigned long long)hlen, len);
		goto fail;
	}
	const char *end = NULL;
	hdr = cJSON_ParseWithLengthOpts((const char *)buf + 8, (size_t)hlen, &end, 0);
	if (!hdr || !cJSON_IsObject(hdr)) {
		long at = end ? (long)(end - (const char *)buf) : 8;
		snprintf(err, errlen, "%s: header is not a JSON object (error near byte %ld)", path, at);
		goto fail;
	}
	size_t data_len = len - 8 - (size_t)hlen;
	const unsigned char *data = buf + 8 + hlen;
	size_t count = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, hdr) if (strcmp(it->string, "__metadata__") != 0) count++;
	st->t = calloc(count ? count : 1, sizeof *st->t);
	ranges = calloc(count ? 2 * count : 1, sizeof *ranges);
	if (!st->t || !ranges) {
		snprintf(err, errlen, "%s: out of memory for %zu tensors", path, count);
		goto fail;
	}
	cJSON_ArrayForEach(it, hdr)
	{
		if (strcmp(it->string, "__metadata__") == 0) {
			if (!cJSON_IsObject(it)) {
				snprintf(err, errlen, "%s: __metadata__ is not an object", path);
				goto fail;
			}
			st->meta = cJSON_Duplicate(it, 1);
			continue;
		}
		const char *tn = it->string;
		const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
		const cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
		const cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
		const dtype_info *d = NULL;
		for (size_t j = 0; cJSON_IsString(dt) && j < sizeof dtypes / sizeof *dtypes; j++)
			if (strcmp(dt->valuestring, dtypes[j].name) == 0)
				d = &dtypes[j];
		if (!d) {
			snprintf(err, errlen, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)", path, tn,
				 cJSON_IsString(dt) ? dt->valuestring : "(missing)");
			goto fail;
		}
		int nd = cJSON_GetArraySize(shape);
		if (!cJSON_IsArray(shape) || nd > 8) {
			snprintf(err, errlen, "%s: tensor '%s': shape missing or of rank above 8", path, tn);
			goto fail;
		}
		eng_tensor *t = &st->t[st->n];
		uint64_t numel = 1;
		for (int j = 0; j < nd; j++) {
			const cJSON *v = cJSON_GetArrayItem(shape, j);
			double dv = cJSON_IsNumber(v) ? v->valuedouble : -1;
			if (dv < 0 || dv != (double)(int64_t)dv || dv > 1e12 || (dv > 0 && numel > UINT64_C(1) << 40)) {
				snprintf(err, errlen, "%s: tensor '%s': shape[%d] is not a valid size", path, tn, j);
				goto fail;
			}
			t->shape[j] = (int64_t)dv;
			numel *= (uint64_t)dv;
		}
		const cJSON *o0 = cJSON_GetArrayItem(offs, 0), *o1 = cJSON_GetArrayItem(offs, 1);
		if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !cJSON_IsNumber(o0) || !cJSON_IsNumber(o1) ||
		    o0->valuedouble < 0 || o1->valuedouble < o0->valuedouble) {
			snprintf(err, errlen, "%s: tensor '%s': data_offsets must be [begin, end] with begin <= end", path, tn);
			goto fail;
		}
		uint64_t b = (uint64_t)o0->valuedouble, e = (uint64_t)o1->valuedouble;
		if (e > data_len) {
			snprintf(err, errlen, "%s: tensor '%s': data_offsets end %llu exceeds the %zu data bytes after the header",
				 path, tn, (unsigned long long)e, data_len);
			goto fail;
		}
		if (e - b != numel * (uint64_t)d->size) {
			snprintf(err, errlen, "%s: tensor '%s': %llu data bytes but shape x %s needs %llu", path, tn,
				 (unsigned long long)(e - b), d->name, (unsigned long long)(numel * (uint64_t)d->size));
			goto fail;
		}
		t->name = strdup(tn);
		t->ndim = nd;
		t->numel = (size_t)numel;
		t->data = malloc(t->numel ? t->numel * sizeof(float) : 1);
		if (!t->name || !t->data) {
			free(t->name), free(t->data);
			snprintf(err, errlen, "%s: out of memory for tensor '%s'", path, tn);
			goto fail;
		}
		st->n++;
		ranges[2 * (st->n - 1)] = b;
		ranges[2 * (st->n - 1) + 1] = e;
		const unsigned char *p = data + b;
		for (size_t j = 0; j < t->numel; j++) {
			if (d->size == 4) {
				uint32_t u = (uint32_t)p[4 * j] | (uint32_t)p[4 * j + 1] << 8 | (uint32_t)p[4 * j + 2] << 16 |
					     (uint32_t)p[4 * j + 3] << 24;
				memcpy(&t->data[j], &u, 4);
			} else {
				uint16_t u = (uint16_t)(p[2 * j] | p[2 * j + 1] << 8);
				t->data[j] = d->name[0] == 'F' ? kq_f16_decode(u) : kq_bf16_decode(u);
			}
		}
	}
	qsort(ranges, st->n, 2 * sizeof *ranges, cmp_range);
	for (size_t i = 1; i < st->n; i++)
		if (ranges[2 * i] < ranges[2 * i - 1]) {
			snprintf(err, errlen, "%s: tensors overlap at data offset %llu", path, (unsigned long long)ranges[2 * i]);
			goto fail;
		}
	free(ranges);
	cJSON_Delete(hdr);
	free(buf);
	return st;
fail:
	free(ranges);
	cJSON_Delete(hdr);
	free(buf);
	eng_st_destroy(st);
	return NULL;
}

const eng_tensor *eng_st_get(const eng_st *st, const char *name)
{
	for (size_t i = 0; st && i < st->n; i++)
		if (strcmp(st->t[i].name, name) == 0)
			return &st->t[i];
	return NULL;
}

size_t eng_st_count(const eng_st *st)
{
	return st ? st->n : 0;
}

const eng_tensor *eng_st_at(const eng_st *st, size_t i)
{
	return st && i < st->n ? &st->t[i] : NULL;
}

const char *eng_st_meta(const eng_st *st, const char *key)
{
	const cJSON *v = st ? cJSON_GetObjectItemCaseSensitive(st->meta, key) : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *eng_st_sha256(const eng_st *st)
{
	return st->sha;
}

size_t eng_st_file_bytes(const eng_st *st)
{
	return st->bytes;
}
