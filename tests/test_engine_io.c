/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_engine_io.c - the engine's loaders on good and on broken files:
 * SHA-256 against FIPS 180-4 test vectors, safetensors validation, IDX. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "eng_io.h"
#include "tap.h"

static char tmpdir[] = "/tmp/precis-io-XXXXXX";

static const char *tmp_path(const char *name)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
	return buf;
}

/* Writes a safetensors file: header JSON then `data` bytes. */
static const char *write_st(const char *name, const char *json, const void *data, size_t dlen, long long force_hlen)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "wb");
	uint64_t hl = force_hlen >= 0 ? (uint64_t)force_hlen : strlen(json);
	for (int i = 0; i < 8; i++)
		fputc((int)(hl >> (8 * i)) & 0xff, f);
	fwrite(json, 1, strlen(json), f);
	fwrite(data, 1, dlen, f);
	fclose(f);
	return p;
}

static int load_fails_with(const char *path, const char *needle)
{
	char err[512] = "";
	eng_st *st = eng_st_load(path, err, sizeof err);
	int good = !st && strstr(err, needle) && strstr(err, path);
	if (!good)
		diag("error was: '%s' (wanted '%s')", err, needle);
	eng_st_destroy(st);
	return good;
}

static const char *write_idx(const char *name, const uint8_t *bytes, size_t n, int gz)
{
	const char *p = tmp_path(name);
	if (gz) {
		gzFile f = gzopen(p, "wb");
		gzwrite(f, bytes, (unsigned)n);
		gzclose(f);
	} else {
		FILE *f = fopen(p, "wb");
		fwrite(bytes, 1, n, f);
		fclose(f);
	}
	return p;
}

static int idx_fails_with(const char *path, const char *needle)
{
	char err[512] = "";
	eng_idx idx;
	int r = eng_idx_load(path, &idx, err, sizeof err);
	int good = r == -1 && strstr(err, needle) && idx.data == NULL;
	if (!good)
		diag("error was: '%s' (wanted '%s')", err, needle);
	return good;
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	char hex[65];
	eng_sha256_hex("abc", 3, hex);
	ok(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256('abc')");
	eng_sha256_hex("", 0, hex);
	ok(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "sha256('')");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	eng_sha256_hex(two, strlen(two), hex);
	ok(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "sha256 (448-bit message)");

	/* a good file: F32 [2,2], F16 [3] (1, -2, 0.5), BF16 [1] (3.0) */
	unsigned char data[16 + 6 + 2];
	float f[4] = {1.5f, -2.0f, 0.25f, 1e6f};
	memcpy(data, f, 16);
	uint16_t h[3] = {0x3c00, 0xc000, 0x3800}, bf = 0x4040;
	memcpy(data + 16, h, 6);
	memcpy(data + 22, &bf, 2);
	const char *good_json = "{\"__metadata__\":{\"arch\":\"x\"},"
				"\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
				"\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
				"\"c\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[22,24]}}";
	char err[512];
	eng_st *st = eng_st_load(write_st("good.safetensors", good_json, data, sizeof data, -1), err, sizeof err);
	ok(st != NULL, "a valid file loads");
	if (st) {
		const eng_tensor *a = eng_st_get(st, "a"), *b = eng_st_get(st, "b"), *c = eng_st_get(st, "c");
		ok(a && a->ndim == 2 && a->shape[1] == 2 && a->data[0] == 1.5f && a->data[3] == 1e6f, "F32 tensor values");
		ok(b && b->numel == 3 && b->data[0] == 1.0f && b->data[1] == -2.0f && b->data[2] == 0.5f, "F16 converted to fp32");
		ok(c && c->data[0] == 3.0f, "BF16 converted to fp32");
		ok(eng_st_count(st) == 3 && eng_st_meta(st, "arch") && strcmp(eng_st_meta(st, "arch"), "x") == 0, "metadata");
		ok(strlen(eng_st_sha256(st)) == 64 && eng_st_file_bytes(st) == 8 + strlen(good_json) + sizeof data, "sha and size");
		eng_st_destroy(st);
	}
	ok(load_fails_with(tmp_path("missing.safetensors"), "cannot open"), "missing file");
	ok(load_fails_with(write_st("short.safetensors", "", "", 0, -1) , "header is not a JSON object"), "empty header");
	{
		const char *p = tmp_path("tiny.safetensors");
		FILE *fp = fopen(p, "wb");
		fputs("abc", fp);
		fclose(fp);
		ok(load_fails_with(p, "too short"), "3-byte file");
	}
	ok(load_fails_with(write_st("huge.safetensors", good_json, data, sizeof data, 9000000000000000000LL),
			   "exceeds file size"), "header length larger than the file");
	ok(load_fails_with(write_st("json.safetensors", "{\"a\":{\"dtype\":", "", 0, -1), "not a JSON object"),
	   "truncated JSON header");
	ok(load_fails_with(write_st("dtype.safetensors", "{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
				    data, 8, -1), "dtype I64 is not supported"), "unsupported dtype");
	ok(load_fails_with(write_st("oob.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
				    data, 8, -1), "exceeds the 8 data bytes"), "offsets past the end (truncated data)");
	ok(load_fails_with(write_st("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}",
				    data, 16, -1), "needs 12"), "byte count does not match the shape");
	ok(load_fails_with(write_st("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
				    data, 4, -1), "shape[0] is not a valid size"), "negative dimension");
	ok(load_fails_with(write_st("order.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}",
				    data, 8, -1), "begin <= end"), "reversed offsets");
	ok(load_fails_with(write_st("overlap.safetensors",
				    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
				    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
				    data, 12, -1), "overlap"), "overlapping tensors");

	/* IDX */
	uint8_t idx3[4 + 12 + 2 * 2 * 3];
	memcpy(idx3, "\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x03", 16);
	for (int i = 0; i < 12; i++)
		idx3[16 + i] = (uint8_t)(i * 20);
	eng_idx idx;
	ok(eng_idx_load(write_idx("ok.gz", idx3, sizeof idx3, 1), &idx, err, sizeof err) == 0 && idx.ndim == 3 &&
	   idx.dims[2] == 3 && idx.n == 12 && idx.data[11] == 220, "gzip IDX loads");
	eng_idx_done(&idx);
	ok(eng_idx_load(write_idx("ok.raw", idx3, sizeof idx3, 0), &idx, err, sizeof err) == 0 && idx.n == 12,
	   "uncompressed IDX loads");
	eng_idx_done(&idx);
	ok(idx_fails_with(write_idx("trunc.gz", idx3, sizeof idx3 - 1, 1), "truncated: 11 of 12 payload bytes"),
	   "truncated payload");
	ok(idx_fails_with(write_idx("hdr.gz", idx3, 10, 1), "truncated header"), "truncated header");
	uint8_t bad[sizeof idx3];
	memcpy(bad, idx3, sizeof bad);
	bad[0] = 0x1f;
	ok(idx_fails_with(write_idx("magic.raw", bad, sizeof bad, 0), "bad IDX magic"), "bad magic");
	memcpy(bad, idx3, sizeof bad);
	bad[2] = 0x0d;
	ok(idx_fails_with(write_idx("type.gz", bad, sizeof bad, 1), "is not unsigned byte"), "float IDX rejected");
	uint8_t longer[sizeof idx3 + 1];
	memcpy(longer, idx3, sizeof idx3);
	longer[sizeof idx3] = 7;
	ok(idx_fails_with(write_idx("trail.gz", longer, sizeof longer, 1), "trailing data"), "trailing bytes");
	{
		/* corrupt the deflate stream in the middle of a real gzip file */
		const char *p = write_idx("corrupt.gz", idx3, sizeof idx3, 1);
		FILE *fp = fopen(p, "r+b");
		fseek(fp, 12, SEEK_SET);
		fputc(0xff, fp);
		fputc(0xff, fp);
		fputc(0xff, fp);
		fclose(fp);
		char e2[512] = "";
		eng_idx i2;
		int r = eng_idx_load(p, &i2, e2, sizeof e2);
		ok(r == -1 && strstr(e2, p), "corrupt gzip stream is an error naming the file (%s)", e2);
	}
	ok(idx_fails_with(tmp_path("nope.gz"), "cannot open"), "missing file");

	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
	return tap_done();
}
