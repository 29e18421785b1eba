/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_io.h - file loaders of the engine: safetensors models and IDX
 * (gzip) datasets.  Every failure fills `err` with one sentence that names
 * the file and where in it the problem is. */
#ifndef PRECIS_ENG_IO_H
#define PRECIS_ENG_IO_H

#include <stddef.h>
#include <stdint.h>

/* One tensor, converted to fp32 at load time.  Owned by its eng_st. */
typedef struct {
	char *name;
	int ndim;
	int64_t shape[8];
	size_t numel;
	float *data;
} eng_tensor;

typedef struct eng_st eng_st;

/* Loads a safetensors file (F32, F16 and BF16 tensors; every offset and
 * shape checked against the file size).  Returns NULL and fills err on any
 * problem.  The caller owns the result (eng_st_destroy). */
eng_st *eng_st_load(const char *path, char *err, size_t errlen);
void eng_st_destroy(eng_st *st); /* accepts NULL */
/* Tensor by name, or NULL.  Borrowed from st. */
const eng_tensor *eng_st_get(const eng_st *st, const char *name);
size_t eng_st_count(const eng_st *st);
const eng_tensor *eng_st_at(const eng_st *st, size_t i);
/* A string from the header's __metadata__, or NULL.  Borrowed. */
const char *eng_st_meta(const eng_st *st, const char *key);
/* Lower-case hex sha256 of the whole file (65 bytes with the NUL). */
const char *eng_st_sha256(const eng_st *st);
size_t eng_st_file_bytes(const eng_st *st);

/* An IDX array (the MNIST family's format), gzip-compressed or plain.
 * Only unsigned-byte data (type 0x08) is accepted. */
typedef struct {
	int ndim;
	uint32_t dims[4];
	size_t n;      /* product of dims */
	uint8_t *data; /* n bytes, owned */
} eng_idx;

/* 0 on success; -1 with err filled.  On failure *out is left empty. */
int eng_idx_load(const char *path, eng_idx *out, char *err, size_t errlen);
void eng_idx_done(eng_idx *idx);

/* SHA-256 of a buffer as lower-case hex into out[65]. */
void eng_sha256_hex(const void *data, size_t len, char out[65]);

#endif
