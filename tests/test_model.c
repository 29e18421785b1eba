/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_model.c - the fp32 forward pass against PyTorch: logits of the first
 * 64 Fashion-MNIST test images from tools/train_cnn.py must match to 1e-4;
 * and model files whose graph and tensors disagree are refused clearly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_io.h"
#include "eng_model.h"
#include "tap.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

static const char *srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

static void check_logits(void)
{
	char path[512], err[512] = "";
	snprintf(path, sizeof path, "%s/data/models/cnn-fashion.safetensors", srcdir());
	eng_model *m = eng_model_load(path, err, sizeof err);
	if (!ok(m != NULL, "cnn-fashion loads (%s)", err))
		return;
	ok(m->nq == 5 && m->out_dim == 10 && m->in_h == 28 && strcmp(m->classes[6], "shirt") == 0,
	   "graph: 5 quantizable layers, 10 classes, 28x28 input");
	ok(m->params > 90000 && m->params < 110000, "about 100k parameters (%ld)", m->params);

	snprintf(path, sizeof path, "%s/tests/golden/cnn_fashion_logits.txt", srcdir());
	FILE *f = fopen(path, "r");
	if (!ok(f != NULL, "fixture %s opens", path)) {
		eng_model_destroy(m);
		return;
	}
	char line[2048], sha[65] = "";
	int label[64];
	float want[64][10];
	int rows = 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "# model sha256 %64s", sha) == 1 || line[0] == '#')
			continue;
		int idx, n = 0, off;
		char *p = line;
		if (sscanf(p, "%d %d%n", &idx, &label[rows], &off) != 2 || idx != rows || rows >= 64)
			break;
		p += off;
		for (; n < 10 && sscanf(p, "%f%n", &want[rows][n], &off) == 1; n++)
			p += off;
		if (n != 10)
			break;
		rows++;
	}
	fclose(f);
	ok(rows == 64, "fixture has 64 rows of 10 logits");
	ok(strcmp(sha, m->sha256) == 0, "fixture was made from this model file (sha256 %.12s...)", m->sha256);

	eng_idx img;
	if (!ok(eng_idx_load(FASHION "/t10k-images-idx3-ubyte.gz", &img, err, sizeof err) == 0,
		"Fashion-MNIST test images load (%s; Debian package dataset-fashion-mnist)", err)) {
		eng_model_destroy(m);
		return;
	}
	ok(img.ndim == 3 && img.dims[0] == 10000 && img.dims[1] == 28 && img.dims[2] == 28, "10000 images of 28x28");
	float *x = malloc(64 * 784 * sizeof *x), *logits = malloc(64 * 10 * sizeof *logits);
	for (int i = 0; i < 64 * 784; i++)
		x[i] = ((float)img.data[i] / 255.0f - m->mean) / m->std;
	kq_ctx *ctx = kq_ctx_create(2);
	float *ws = malloc(eng_forward_ws_floats(m, 64) * sizeof *ws);
	eng_backend be = eng_backend_f32(ctx);
	int r = eng_forward(m, &be, 64, x, logits, ws, err, sizeof err);
	ok(r == 0, "forward pass runs (%s)", err);
	double maxdiff = 0;
	int agree = 0;
	for (int i = 0; i < 64; i++) {
		int am = 0, bm = 0;
		for (int j = 0; j < 10; j++) {
			double d = fabs((double)logits[i * 10 + j] - want[i][j]);
			maxdiff = d > maxdiff ? d : maxdiff;
			am = logits[i * 10 + j] > logits[i * 10 + am] ? j : am;
			bm = want[i][j] > want[i][bm] ? j : bm;
		}
		agree += am == bm;
	}
	ok(maxdiff <= 1e-4, "logits match PyTorch: max abs diff %.3g <= 1e-4", maxdiff);
	ok(agree == 64, "same argmax on all 64 images");
	/* batch 1 gives the same as batch 64 (im2col and GEMM shapes differ) */
	r = eng_forward(m, &be, 1, x + 7 * 784, logits, ws, err, sizeof err);
	double d1 = 0;
	for (int j = 0; j < 10; j++)
		d1 = fmax(d1, fabs((double)logits[j] - want[7][j]));
	ok(r == 0 && d1 <= 1e-4, "batch of one matches too (%.3g)", d1);
	free(ws), free(x), free(logits);
	kq_ctx_destroy(ctx);
	eng_idx_done(&img);
	eng_model_destroy(m);
}

/* A one-layer model file with the given arch and a linear weight shape. */
static const char *tiny_model_fill(const char *name, const char *arch, int wout, int win, int fill)
{
	static char path[256];
	snprintf(path, sizeof path, "/tmp/precis-model-%d-%s.safetensors", (int)getpid(), name);
	char json[1024];
	size_t wb = (size_t)wout * win * 4, bb = (size_t)wout * 4;
	snprintf(json, sizeof json,
		 "{\"__metadata__\":{\"arch\":\"%s\",\"input\":\"{\\\"channels\\\":1,\\\"height\\\":2,\\\"width\\\":2,"
		 "\\\"mean\\\":0,\\\"std\\\":1}\"},"
		 "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[0,%zu]},"
		 "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}}",
		 arch, wout, win, wb, wout, wb, wb + bb);
	FILE *f = fopen(path, "wb");
	unsigned long long hl = strlen(json);
	for (int i = 0; i < 8; i++)
		fputc((int)(hl >> (8 * i)) & 0xff, f);
	fputs(json, f);
	for (size_t i = 0; i < wb + bb; i++)
		fputc(fill, f);
	fclose(f);
	return path;
}

static const char *tiny_model(const char *name, const char *arch, int wout, int win)
{
	return tiny_model_fill(name, arch, wout, win, 0);
}

static int model_fails_with(const char *path, const char *needle)
{
	char err[512] = "";
	eng_model *m = eng_model_load(path, err, sizeof err);
	int good = !m && strstr(err, needle) != NULL;
	if (!good)
		diag("error was '%s', wanted '%s'", err, needle);
	eng_model_destroy(m);
	remove(path);
	return good;
}

int main(void)
{
	kq_init();
	check_logits();
	const char *flat_fc = "[{\\\"op\\\":\\\"flatten\\\"},{\\\"op\\\":\\\"linear\\\",\\\"name\\\":\\\"fc\\\",\\\"in\\\":4,\\\"out\\\":3}]";
	char err[512] = "";
	const char *p = tiny_model("good", flat_fc, 3, 4);
	eng_model *m = eng_model_load(p, err, sizeof err);
	ok(m && m->nq == 1 && m->out_dim == 3, "a minimal flatten+linear model loads (%s)", err);
	eng_model_destroy(m);
	remove(p);
	ok(model_fails_with(tiny_model("shape", flat_fc, 3, 5), "tensor 'fc.weight' has shape [3, 5"),
	   "weight shape disagreeing with the graph");
	ok(model_fails_with(tiny_model("in", "[{\\\"op\\\":\\\"flatten\\\"},{\\\"op\\\":\\\"linear\\\",\\\"name\\\":\\\"fc\\\",\\\"in\\\":9,\\\"out\\\":3}]", 3, 9),
			    "in = 9 but the previous layer gives 4"), "layer input size disagreeing with the graph");
	ok(model_fails_with(tiny_model("op", "[{\\\"op\\\":\\\"softplus\\\"}]", 3, 4), "arch[0]: unknown op softplus"),
	   "unknown op");
	ok(model_fails_with(tiny_model("arch", "not json", 3, 4), "arch is missing or not a JSON list"), "arch not JSON");
	ok(model_fails_with(tiny_model("missing", "[{\\\"op\\\":\\\"flatten\\\"},{\\\"op\\\":\\\"linear\\\",\\\"name\\\":\\\"fc2\\\",\\\"in\\\":4,\\\"out\\\":3}]", 3, 4),
			    "tensor 'fc2.weight' missing"), "weight tensor missing");
	ok(model_fails_with(tiny_model_fill("nan", flat_fc, 3, 4, 0xff), "tensor 'fc.weight' element 0 is -nan"),
	   "NaN weights are refused");
	return tap_done();
}
