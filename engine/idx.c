/* SPDX-License-Identifier: GPL-3.0-or-later */
/* idx.c - IDX array loader (MNIST-style datasets), gzip or plain, via zlib.
 * The header is validated before the payload is trusted: magic, type,
 * rank, and that the file holds exactly the bytes the dims promise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eng_io.h"

#define MAX_BYTES ((size_t)1 << 31)

void eng_idx_done(eng_idx *idx)
{
	if (!idx)
		return;
	free(idx->data);
	memset(idx, 0, sizeof *idx);
}

int eng_idx_load(const char *path, eng_idx *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	gzFile f = gzopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: cannot open (%s)", path, strerror(errno ? errno : ENOENT));
		return -1;
	}
	uint8_t head[4 + 4 * 4];
	int got = gzread(f, head, 4);
	if (got != 4) {
		snprintf(err, errlen, "%s: truncated: %d of 4 header bytes (not an IDX file?)", path, got < 0 ? 0 : got);
		goto fail;
	}
	if (head[0] != 0 || head[1] != 0) {
		snprintf(err, errlen, "%s: bad IDX magic %02x%02x%02x%02x at byte 0 (expected 0000 then type and rank)",
			 path, head[0], head[1], head[2], head[3]);
		goto fail;
	}
	if (head[2] != 0x08) {
		snprintf(err, errlen, "%s: IDX data type 0x%02x at byte 2 is not unsigned byte (0x08)", path, head[2]);
		goto fail;
	}
	int ndim = head[3];
	if (ndim < 1 || ndim > 4) {
		snprintf(err, errlen, "%s: IDX rank %d at byte 3 is not 1 to 4", path, ndim);
		goto fail;
	}
	got = gzread(f, head + 4, (unsigned)(4 * ndim));
	if (got != 4 * ndim) {
		snprintf(err, errlen, "%s: truncated header: %d of %d dimension bytes", path, got < 0 ? 0 : got, 4 * ndim);
		goto fail;
	}
	size_t n = 1;
	for (int i = 0; i < ndim; i++) {
		const uint8_t *d = head + 4 + 4 * i;
		out->dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
		if (out->dims[i] == 0 || n > MAX_BYTES / out->dims[i]) {
			snprintf(err, errlen, "%s: dimension %d = %u at byte %d is zero or makes the array larger than 2 GiB",
				 path, i, out->dims[i], 4 + 4 * i);
			goto fail;
		}
		n *= out->dims[i];
	}
	out->ndim = ndim;
	out->n = n;
	if (!(out->data = malloc(n))) {
		snprintf(err, errlen, "%s: out of memory for %zu bytes", path, n);
		goto fail;
	}
	size_t have = 0;
	while (have < n) {
		size_t chunk = n - have > (1u << 30) ? (1u << 30) : n - have;
		int r = gzread(f, out->data + have, (unsigned)chunk);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	int errnum;
	const char *zmsg = gzerror(f, &errnum);
	if (errnum != Z_OK && errnum != Z_STREAM_END) {
		snprintf(err, errlen, "%s: corrupt compressed data after %zu payload bytes (%s)", path, have, zmsg);
		goto fail;
	}
	if (have < n) {
		snprintf(err, errlen, "%s: truncated: %zu of %zu payload bytes", path, have, n);
		goto fail;
	}
	uint8_t extra;
	if (gzread(f, &extra, 1) > 0) {
		snprintf(err, errlen, "%s: trailing data after the %zu payload bytes the header declares", path, n);
		goto fail;
	}
	gzclose(f);
	return 0;
fail:
	gzclose(f);
	eng_idx_done(out);
	return -1;
}
