/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_report.c - the report renderer against golden files, the disclosure
 * rule on hand-built runs, and the atomic file write under failure.
 *
 * Goldens: tests/golden/report_golden.{md,html,json} and report_plain.md
 * are rendered from the fixed runs in tests/golden/report_*.json (made once
 * with `precis eval --json --eval-n 2000 --seed 1` and friends, see
 * doc/reports.md).  After an intended change of the report, regenerate them
 * with
 *     PRECIS_REGEN_GOLDEN=1 tests/test_report     (from the build folder)
 * and review the diff. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "eng.h"
#include "eng_report.h"
#include "tap.h"

static char golden_dir[4096];

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		if (len)
			*len = (size_t)n;
	}
	return b;
}

static cJSON *load(const char *name)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/%s", golden_dir, name);
	char *t = slurp(p, NULL);
	cJSON *j = t ? cJSON_Parse(t) : NULL;
	free(t);
	if (!j)
		diag("cannot read %s", p);
	return j;
}

/* Compares out with golden file `name`, or rewrites it when regenerating.
 * On a mismatch, says where the first difference is. */
static void golden(const char *name, const char *out, size_t len)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/%s", golden_dir, name);
	if (getenv("PRECIS_REGEN_GOLDEN")) {
		FILE *f = fopen(p, "wb");
		ok(f && fwrite(out, 1, len, f) == len && fclose(f) == 0, "regenerated %s", name);
		return;
	}
	size_t glen = 0;
	char *g = slurp(p, &glen);
	size_t i = 0;
	while (g && i < len && i < glen && g[i] == out[i])
		i++;
	int same = g && glen == len && i == len;
	ok(same, "%s matches the golden file byte for byte", name);
	if (!same && g) {
		int line = 1;
		for (size_t k = 0; k < i; k++)
			line += out[k] == '\n';
		diag("first difference at byte %zu (line %d): got \"%.60s\", want \"%.60s\"", i, line, out + i,
		     i < glen ? g + i : "");
	}
	free(g);
}

static char *render(const eng_report_in *in, eng_report_fmt fmt)
{
	char *out = NULL, err[512] = "";
	size_t len = 0;
	if (eng_report_render(in, fmt, &out, &len, err, sizeof err)) {
		diag("render failed: %s", err);
		return NULL;
	}
	if (strlen(out) != len)
		diag("length %zu != strlen %zu", len, strlen(out));
	return out;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* ------------------------------------------------------------- goldens */

static void test_goldens(void)
{
	cJSON *run = load("report_run.json"), *pin = load("report_pinned.json"), *hist = load("report_history.json"),
	      *sens = load("report_sensitivity.json");
	if (!run || !pin || !hist || !sens) {
		ok(0, "fixtures load");
		return;
	}
	eng_report_in in = {run, pin, hist, sens, NULL, NULL, "Test CPU (fixture)", NULL, 0, 0};
	static const struct {
		eng_report_fmt fmt;
		const char *file;
	} f[] = {{ENG_REPORT_MD, "report_golden.md"}, {ENG_REPORT_HTML, "report_golden.html"},
		 {ENG_REPORT_JSON, "report_golden.json"}};
	char *outs[3];
	for (int i = 0; i < 3; i++) {
		outs[i] = render(&in, f[i].fmt);
		ok(outs[i] != NULL, "renders %s", eng_report_format_name(f[i].fmt));
		if (outs[i])
			golden(f[i].file, outs[i], strlen(outs[i]));
		char *again = render(&in, f[i].fmt);
		ok(outs[i] && again && strcmp(outs[i], again) == 0, "%s: the same input renders the same bytes",
		   eng_report_format_name(f[i].fmt));
		free(again);
	}
	eng_report_in plain = {run, NULL, NULL, NULL, NULL, NULL, "Test CPU (fixture)", NULL, 0, 0};
	char *p = render(&plain, ENG_REPORT_MD);
	if (p)
		golden("report_plain.md", p, strlen(p));

	const char *md = outs[0], *html = outs[1], *js = outs[2];
	if (md && html && js && p) {
		/* content a reviewer needs, checked against the fixture itself */
		ok(strstr(md, "| shirt ") && strstr(md, " 197 |") && strstr(md, "84.77%") && strstr(md, "84.26%") &&
			   strstr(md, "-0.51") && strstr(md, "[-1.52, +0.00]"),
		   "md: the shirt row shows n 197, 84.77%% -> 84.26%%, delta -0.51, interval [-1.52, +0.00] (fixture values x 100)");
		ok(strstr(md, "not decision-grade") && strstr(md, "stratum `shirt`"),
		   "md: verdict not decision-grade, naming stratum shirt");
		ok(strstr(md, "2.06x faster") && strstr(md, "3.78x smaller"),
		   "md: speedup 2.057 shown as 2.06x and weights 392768/103976 = 3.78x");
		ok(strstr(md, "CPU Test CPU (fixture) (this machine at report time)"),
		   "md: CPU from the caller, labelled as this machine at report time");
		ok(strstr(md, "| Task ") && strstr(md, "| Model ") && strstr(md, "| Metric ") && strstr(md, "| Reference ") &&
			   strstr(md, "| Calibration ") && strstr(md, "| Per-stratum ") && count(md, "| present ") == 6,
		   "md: the six disclosure items, each present");
		ok(strstr(md, "## Per-layer sensitivity") && strstr(md, "## A/B comparison") && strstr(md, "## Runs this session"),
		   "md: sensitivity, comparison and history sections when given");
		ok(!strstr(p, "## Per-layer sensitivity") && !strstr(p, "## A/B comparison") && !strstr(p, "## Runs this session"),
		   "md: and none of them when not given");
		ok(strstr(md, "weights: \"int4\" -> \"int8\""), "md: A/B names what changed in the recipe");
		ok(strstr(md, "Histograms of layer conv3, the most sensitive"),
		   "md: histogram of the sensitivity's first-ranked layer (conv3)");
		/* tables: every row of the strata table has the header's width */
		const char *h = strstr(md, "| stratum ");
		size_t w = h ? strcspn(h, "\n") : 0;
		int rows = 0, aligned = 1;
		for (const char *l = h; l && *l == '|'; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL, rows++) {
			size_t cw = 0;
			for (const char *c = l; *c && *c != '\n'; c++)
				cw += ((unsigned char)*c & 0xC0) != 0x80;
			aligned &= cw == w;
		}
		ok(h && aligned && rows == 14, "md: strata table aligned (header, rule, 12 rows all %zu columns wide)", w);
		/* HTML: self-contained, four charts */
		ok(count(html, "<svg ") == 4, "html: four inline SVG charts (strata, scatter, layers, histogram): %d",
		   count(html, "<svg "));
		ok(!strstr(html, "src=") && !strstr(html, "href=") && !strstr(html, "url(") && !strstr(html, "@import") &&
			   count(html, "http") == count(html, "http://www.w3.org/2000/svg"),
		   "html: no external resource (no src, href, url(), @import; only the SVG namespace)");
		ok(strstr(html, "@media print"), "html: print styles");
		ok(!strstr(md, "nan") && !strstr(html, "nan") && !strstr(md, "inf ") && !strstr(html, "\"inf"),
		   "no NaN or infinity printed");
		ok(count(html, "<table>") == count(html, "</table>") && count(html, "<p>") + count(html, "<p class=") == count(html, "</p>"),
		   "html: tables and paragraphs closed");
		/* JSON: the SPEC §3 object plus the extras */
		cJSON *j = cJSON_Parse(js);
		ok(j && cJSON_GetObjectItem(j, "sensitivity") && cJSON_GetObjectItem(j, "compare") &&
			   cJSON_GetObjectItem(j, "history") && cJSON_Compare(eng_json_get(j, "eval"), eng_json_get(run, "eval"), 1),
		   "json: the run's eval unchanged, plus sensitivity, compare and history");
		ok(j && cJSON_IsFalse(eng_json_get(j, "disclosure.decision_grade")) &&
			   cJSON_GetArraySize(eng_json_get(j, "disclosure.reasons")) == 1,
		   "json: disclosure assessed, one reason");
		const cJSON *fr = eng_json_get(j, "report.history_on_frontier");
		/* hand: int4 (14414/s, -0.85) is dominated by int8 (29730/s, 0.00);
		 * fp8 (13425/s, +0.05) is the most accurate; int8 the fastest */
		ok(cJSON_GetArraySize(fr) == 3 && cJSON_IsFalse(cJSON_GetArrayItem(fr, 0)) &&
			   cJSON_IsTrue(cJSON_GetArrayItem(fr, 1)) && cJSON_IsTrue(cJSON_GetArrayItem(fr, 2)),
		   "json: Pareto flags of the history [false, true, true]");
		ok(strcmp(eng_json_str(j, "report.command"),
			  "precis eval --model cnn-fashion --weights int8 --acts int8 --symmetric --act-asymmetric "
			  "--granularity channel --act-granularity tensor --calib-method minmax --calib-set representative:512 "
			  "--metric top1 --eval-n 2000 --threads 2 --seed 1") == 0,
		   "json: the reproducing command: %s", eng_json_str(j, "report.command"));
		/* B - A for shirt: int8 -0.005076 minus int4's */
		const cJSON *sa = NULL, *st;
		cJSON_ArrayForEach(st, eng_json_get(pin, "eval.strata")) if (!strcmp(eng_json_str(st, "name"), "shirt")) sa = st;
		const cJSON *cs = NULL;
		cJSON_ArrayForEach(st, eng_json_get(j, "compare.strata")) if (!strcmp(eng_json_str(st, "name"), "shirt")) cs = st;
		ok(sa && cs && fabs(eng_json_num(cs, "b_minus_a") - (-0.005076 - eng_json_num(sa, "delta"))) < 1e-9,
		   "json: compare.strata shirt b_minus_a = -0.005076 - (%g)", eng_json_num(sa, "delta"));
		cJSON_Delete(j);
	}
	for (int i = 0; i < 3; i++)
		free(outs[i]);
	free(p);

	/* a named histogram layer; an unknown one is an error naming it */
	in.layer = "fc2";
	char *md2 = render(&in, ENG_REPORT_MD);
	ok(md2 && strstr(md2, "Histograms of layer fc2 ("), "--hist-layer fc2 shows fc2's histogram");
	free(md2);
	in.layer = "nope";
	char *o = NULL, err[256] = "";
	size_t len;
	ok(eng_report_render(&in, ENG_REPORT_HTML, &o, &len, err, sizeof err) == -1 && !o && strstr(err, "'nope'"),
	   "an unknown layer is refused: %s", err);
	cJSON_Delete(run), cJSON_Delete(pin), cJSON_Delete(hist), cJSON_Delete(sens);
}

/* ----------------------------------------------------------- disclosure */

/* A run with one stratum besides all, enough for the disclosure. */
static cJSON *mk_run(int n, double delta, double lo, double hi, int higher)
{
	char buf[2048];
	snprintf(buf, sizeof buf,
		 "{\"precis\":\"0.1.0\",\"model\":{\"name\":\"m\",\"path\":\"/x/m.safetensors\",\"sha256\":\"ab\",\"params\":10,"
		 "\"task\":\"t\"},\"recipe\":{\"weights\":\"int8\",\"acts\":\"int8\",\"calib_method\":\"minmax\"},"
		 "\"reference\":\"fp32\",\"metric\":\"%s\",\"eval\":{\"n\":%d,\"set\":\"s\",\"metric_definition\":\"d\","
		 "\"higher_is_better\":%s,\"strata\":[{\"name\":\"all\",\"n\":%d,\"ref\":0.5,\"quant\":0.5,\"delta\":0,"
		 "\"ci95\":[-0.001,0.001]},{\"name\":\"shirt\",\"n\":%d,\"ref\":0.8,\"quant\":%.17g,\"delta\":%.17g,"
		 "\"ci95\":[%.17g,%.17g]}]},\"calibration\":{\"set\":\"representative\",\"n\":512,\"seed\":1,"
		 "\"sets\":\"representative: a draw\"}}",
		 higher ? "top1" : "ece", 4 * n, higher ? "true" : "false", 4 * n, n, 0.8 + delta, delta, lo, hi);
	return cJSON_Parse(buf);
}

static int assess(int n, double delta, double lo, double hi, int higher, double crit, const char *want_reason)
{
	cJSON *r = mk_run(n, delta, lo, hi, higher);
	int g = eng_disclosure_assess(r, crit);
	const cJSON *rs = eng_json_get(r, "disclosure.reasons"), *x;
	int found = !want_reason;
	cJSON_ArrayForEach(x, rs) if (want_reason && strstr(x->valuestring, want_reason)) found = 1;
	if (!found)
		cJSON_ArrayForEach(x, rs) diag("reason: %s", x->valuestring);
	int consistent = cJSON_IsBool(eng_json_get(r, "disclosure.decision_grade")) &&
			 cJSON_IsTrue(eng_json_get(r, "disclosure.decision_grade")) == (g == 1) &&
			 (g == 1) == (cJSON_GetArraySize(rs) == 0);
	cJSON_Delete(r);
	return consistent && found ? g : -9;
}

static void test_disclosure(void)
{
	ok(assess(1000, -0.02, -0.03, -0.01, 1, 0, NULL) == 1, "a loss whose interval excludes zero: decision-grade");
	ok(assess(1000, -0.005, -0.012, 0.002, 1, 0, "stratum `shirt`: the 95% interval [-1.20, +0.20] points is wider than the effect (-0.50 points)") == 0,
	   "a loss whose interval includes zero, no criterion: not, naming the stratum and the interval");
	ok(assess(1000, -0.005, -0.012, 0.002, 1, 2, NULL) == 1,
	   "... the same interval (1.4 points wide) under a 2-point criterion: decision-grade");
	ok(assess(1000, -0.005, -0.012, 0.002, 1, 1, "1.40 points wide, wider than the 1.00-point criterion") == 0,
	   "... under a 1-point criterion: not (1.40 > 1.00)");
	ok(assess(1000, 0.005, -0.002, 0.012, 1, 0, NULL) == 1, "a gain within noise is not a loss: decision-grade");
	ok(assess(1000, 0.01, -0.002, 0.02, 0, 0, "stratum `shirt`") == 0,
	   "lower is better (ece): +0.01 is a loss; interval includes zero: not");
	ok(assess(29, 0, 0, 0, 1, 0, "1 stratum has fewer than 30 samples (shirt 29)") == 0,
	   "29 samples in a stratum: too few for any interval");
	ok(assess(30, 0, 0, 0, 1, 0, NULL) == 1, "30 samples: enough without a criterion");
	/* rule of three: 3 / 0.01 = 300 */
	ok(assess(299, 0, 0, 0, 1, 1, "so 1.00 points needs n >= 300") == 0,
	   "299 samples under a 1-point criterion: too small (needs 3/0.01 = 300)");
	ok(assess(300, 0, 0, 0, 1, 1, NULL) == 1, "300 samples under a 1-point criterion: enough");
	ok(assess(150, 0, 0, 0, 1, 2, NULL) == 1, "150 samples under a 2-point criterion: enough (3/0.02 = 150)");

	cJSON *r = mk_run(1000, -0.02, -0.03, -0.01, 1);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(r, "model"), "sha256");
	int g = eng_disclosure_assess(r, 0);
	const cJSON *rs = eng_json_get(r, "disclosure.reasons");
	ok(g == 0 && cJSON_IsFalse(eng_json_get(r, "disclosure.model")) && cJSON_IsTrue(eng_json_get(r, "disclosure.task")) &&
		   cJSON_GetArraySize(rs) == 1 && strstr(cJSON_GetArrayItem(rs, 0)->valuestring, "item 2 (Model") &&
		   strstr(cJSON_GetArrayItem(rs, 0)->valuestring, "model.sha256"),
	   "a run without model.sha256: item 2 missing, named");
	char *a = cJSON_PrintUnformatted(r);
	eng_disclosure_assess(r, 0);
	char *b = cJSON_PrintUnformatted(r);
	ok(a && b && strcmp(a, b) == 0, "assessing twice changes nothing");
	free(a), free(b);
	cJSON_Delete(r);
	ok(eng_disclosure_assess(NULL, 0) == -1, "NULL run: -1");

	/* the shipped fixtures */
	cJSON *big = load("report_run.json"), *small = load("report_small.json");
	if (big && small) {
		ok(cJSON_IsTrue(eng_json_get(small, "disclosure.decision_grade")),
		   "fixture: eval --eval-n 50 said decision-grade under the old rule (no loss at all)");
		ok(eng_disclosure_assess(small, 0) == 0, "... the assessment says not decision-grade");
		const cJSON *x = cJSON_GetArrayItem(eng_json_get(small, "disclosure.reasons"), 0);
		/* hand count from the fixture: the 10 classes (3..7 images each) and
		 * low-contrast (5) are under 30; all (50) is not */
		ok(x && strstr(x->valuestring, "too few samples for any 95% interval: 11 strata have fewer than 30 samples "
					       "(t-shirt 3, trouser 7, pullover 6"),
		   "... because 11 strata have fewer than 30 samples: %s", x ? x->valuestring : "(none)");
		ok(eng_disclosure_assess(big, 0) == 0 && cJSON_GetArraySize(eng_json_get(big, "disclosure.reasons")) == 1,
		   "fixture eval-n 2000: not decision-grade for one reason (shirt -0.51, [-1.52, 0])");
		ok(eng_disclosure_assess(big, 1) == 0 &&
			   strstr(cJSON_GetArrayItem(eng_json_get(big, "disclosure.reasons"), 0)->valuestring,
				  "sample size too small for the 1.00-point criterion: 11 strata"),
		   "... under a 1-point criterion the ~200-image classes are too small (need 300)");
		ok(eng_disclosure_assess(big, 2) == 1, "... under a 2-point criterion it is decision-grade (n >= 150, widths < 2)");
	}
	cJSON_Delete(big), cJSON_Delete(small);
}

/* --------------------------------------------------------------- files */

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static int file_is(const char *path, const char *want)
{
	size_t len;
	char *t = slurp(path, &len);
	int same = t && len == strlen(want) && memcmp(t, want, len) == 0;
	free(t);
	return same;
}

static void test_files(void)
{
	char dir[] = "/tmp/precis-report-XXXXXX", path[256], err[512];
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	umask(022);
	snprintf(path, sizeof path, "%s/r.md", dir);
	ok(eng_file_write_atomic(path, "first\n", 6, 0, err, sizeof err) == 0 && file_is(path, "first\n"),
	   "writes a new file");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "new file mode 0666 less umask 022 = 0644: %o",
	   st.st_mode & 0777);
	err[0] = 0;
	ok(eng_file_write_atomic(path, "second\n", 7, 0, err, sizeof err) == ENG_WRITE_EXISTS && file_is(path, "first\n") &&
		   strstr(err, "already exists (use --force"),
	   "an existing file is not replaced without force: %s", err);
	chmod(path, 0600);
	ok(eng_file_write_atomic(path, "second\n", 7, 1, err, sizeof err) == 0 && file_is(path, "second\n"),
	   "force replaces it");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "a replaced file keeps its mode (0600): %o",
	   st.st_mode & 0777);
	/* a simulated full disk after 3 bytes */
	setenv("PRECIS_TEST_FAIL_WRITE", "3", 1);
	err[0] = 0;
	int rc = eng_file_write_atomic(path, "third, much longer\n", 19, 1, err, sizeof err);
	unsetenv("PRECIS_TEST_FAIL_WRITE");
	ok(rc == -1 && file_is(path, "second\n"), "a write failing midway leaves the old file intact");
	ok(strstr(err, "after 3 of 19 bytes") && strstr(err, strerror(ENOSPC)) && strstr(err, "not changed") && strstr(err, path),
	   "... and says so in one sentence: %s", err);
	ok(dir_entries(dir) == 1, "... with no temporary file left behind (%d entries)", dir_entries(dir));
	setenv("PRECIS_TEST_FAIL_WRITE", "0", 1);
	snprintf(path, sizeof path, "%s/new.html", dir);
	rc = eng_file_write_atomic(path, "x", 1, 0, err, sizeof err);
	unsetenv("PRECIS_TEST_FAIL_WRITE");
	ok(rc == -1 && access(path, F_OK) != 0 && dir_entries(dir) == 1, "a failed first write creates no file at all");
	snprintf(path, sizeof path, "%s/no/such/dir/r.md", dir);
	ok(eng_file_write_atomic(path, "x", 1, 1, err, sizeof err) == -1 && strstr(err, "cannot create a file in") &&
		   strstr(err, "No such file or directory"),
	   "a missing folder: %s", err);
	ok(eng_file_write_atomic(dir, "x", 1, 1, err, sizeof err) == -1 && strstr(err, "is a folder"),
	   "a folder as the target is refused: %s", err);
	if (geteuid() != 0) {
		char ro[300];
		snprintf(ro, sizeof ro, "%s/ro", dir);
		mkdir(ro, 0555);
		snprintf(path, sizeof path, "%.200s/r.md", ro);
		ok(eng_file_write_atomic(path, "x", 1, 0, err, sizeof err) == -1 && strstr(err, strerror(EACCES)) &&
			   dir_entries(ro) == 0,
		   "an unwritable folder: %s", err);
		rmdir(ro);
	} else
		skip("root ignores folder permissions", "an unwritable folder (tests/test_report.sh checks it as nobody)");
	snprintf(path, sizeof path, "%s/r.md", dir);
	unlink(path);
	rmdir(dir);

	/* formats */
	eng_report_fmt f = ENG_REPORT_MD;
	ok(eng_report_format_parse("html", &f, err, sizeof err) == 0 && f == ENG_REPORT_HTML, "format by name: html");
	ok(eng_report_format_parse("out/Report.JSON", &f, err, sizeof err) == 0 && f == ENG_REPORT_JSON,
	   "format from the extension, any case (.JSON)");
	ok(eng_report_format_parse("a.b/report.md", &f, err, sizeof err) == 0 && f == ENG_REPORT_MD, "format from .md");
	ok(eng_report_format_parse("report.txt", &f, err, sizeof err) == -1 && strstr(err, "'.txt'"),
	   "unknown extension named: %s", err);
	ok(eng_report_format_parse("dir.md/report", &f, err, sizeof err) == -1 && strstr(err, "cannot tell"),
	   "a path without an extension: %s", err);
	ok(eng_report_format_parse("pdf", &f, err, sizeof err) == -1 && strstr(err, "'pdf'"), "format pdf refused: %s",
	   err);
}

/* ------------------------------------------------------------ escaping */

static void test_escaping(void)
{
	cJSON *r = mk_run(1000, -0.02, -0.03, -0.01, 1);
	cJSON *st = cJSON_GetArrayItem(eng_json_get(r, "eval.strata"), 1);
	cJSON_ReplaceItemInObject(st, "name", cJSON_CreateString("<script>x</script>|`a`&"));
	cJSON_AddItemToObject(cJSON_GetObjectItem(r, "recipe"), "overrides",
			      cJSON_Parse("{\"conv1\":\"fp32\",\"fc2\":{\"weights\":\"int4\"}}"));
	eng_report_in in = {r, NULL, NULL, NULL, NULL, NULL, "cpu", NULL, 0, 0};
	char *h = render(&in, ENG_REPORT_HTML), *m = render(&in, ENG_REPORT_MD), *j = render(&in, ENG_REPORT_JSON);
	ok(h && !strstr(h, "<script>") && strstr(h, "&lt;script&gt;x&lt;/script&gt;|`a`&amp;"),
	   "html: a stratum name is escaped in tables and charts");
	ok(m && !strstr(m, "<script>") && strstr(m, "&lt;script>x&lt;/script>\\|\\`a\\`&"),
	   "md: the same name cannot open HTML or break a table cell");
	cJSON *jj = j ? cJSON_Parse(j) : NULL;
	ok(jj && strstr(eng_json_str(jj, "report.command"), " --keep conv1 --layer fc2=int4 ") &&
		   strstr(eng_json_str(jj, "report.command"), "--model /x/m.safetensors"),
	   "command: overrides as --keep/--layer, a non-shipped model by path: %s", eng_json_str(jj, "report.command"));
	cJSON_Delete(jj);
	free(h), free(m), free(j);
	in.date = "2026-11-24";
	in.command = "precis eval --weights int4";
	m = render(&in, ENG_REPORT_MD);
	ok(m && strstr(m, "Generated 2026-11-24.") && strstr(m, "```sh\nprecis eval --weights int4\n```"),
	   "a date and a command given by the caller are shown");
	free(m);
	/* a run made without the benchmark ("measured": false, no numbers) */
	cJSON *tp = cJSON_GetObjectItem(r, "throughput");
	if (!tp)
		tp = cJSON_AddObjectToObject(r, "throughput");
	cJSON_AddFalseToObject(tp, "measured");
	cJSON_AddNumberToObject(tp, "threads", 2);
	m = render(&in, ENG_REPORT_MD);
	h = render(&in, ENG_REPORT_HTML);
	ok(m && h && strstr(m, "| throughput (samples/s) |") && strstr(m, " not measured |") && strstr(m, "Throughput not measured in this run.") &&
		   !strstr(m, "nan") && !strstr(h, "nan") && strstr(m, "this machine at report time), 2 threads."),
	   "an unmeasured throughput says so, with no NaN anywhere");
	free(m), free(h);
	cJSON_DeleteItemFromObject(r, "eval");
	char *o = NULL, err[256] = "";
	size_t len;
	ok(eng_report_render(&in, ENG_REPORT_MD, &o, &len, err, sizeof err) == -1 && strstr(err, "eval.strata"),
	   "a run without strata is refused: %s", err);
	cJSON_Delete(r);
	char cpu[256];
	int c = eng_cpu_model(cpu, sizeof cpu);
	ok((c == 0 && cpu[0] && cpu[0] != ' ' && cpu[strlen(cpu) - 1] != ' ') || (c == -1 && !strcmp(cpu, "unknown CPU")),
	   "eng_cpu_model: \"%s\"", cpu);
}

/* -------------------------------------------------------- history, gaps */

/* The explorer's history keeps numbered copies ("run": N) of its runs; the
 * current and pinned runs must still be recognised in it. */
static void test_history_copies(void)
{
	cJSON *run = load("report_run.json"), *pin = load("report_pinned.json");
	if (!run || !pin) {
		ok(0, "fixtures load");
		cJSON_Delete(run), cJSON_Delete(pin);
		return;
	}
	cJSON *hist = cJSON_CreateArray(), *a = cJSON_Duplicate(pin, 1), *b = cJSON_Duplicate(run, 1);
	cJSON_AddNumberToObject(a, "run", 1);
	cJSON_AddNumberToObject(b, "run", 2);
	cJSON_AddItemToArray(hist, a);
	cJSON_AddItemToArray(hist, b);
	eng_report_in in = {run, pin, hist, NULL, NULL, NULL, "cpu", NULL, 0, 0};
	char *md = render(&in, ENG_REPORT_MD), *html = render(&in, ENG_REPORT_HTML);
	ok(md && count(md, "512 (this run) ") == 1 && count(md, "(pinned as A)") == 1 &&
		   strstr(md, "|   2 | W int8 channel, A int8 tensor, minmax representative:512 (this run) "),
	   "md: history copies carrying \"run\" are recognised: row 2 is this run, row 1 the pinned A");
	/* drawn once each: a point of the history, no extra "this run" / "A (pinned)" point */
	ok(html && count(html, "class=\"pt run") == 1 && count(html, "class=\"pt pinned") == 1 &&
		   strstr(html, ">#2 (this run)</text>") && !strstr(html, ">this run</text>") && !strstr(html, ">A (pinned)</text>"),
	   "html: the scatter draws this run and A once each, as history points #2 and #1");
	free(md), free(html);
	/* a copy that differs in anything else is another run */
	cJSON_ReplaceItemInObject(b, "metric", cJSON_CreateString("ece"));
	md = render(&in, ENG_REPORT_MD);
	ok(md && count(md, "512 (this run) ") == 0, "a copy that differs beyond \"run\" is not this run");
	free(md);
	cJSON_DeleteItemFromArray(hist, 1);
	/* failed points the caller left out are counted; a history run without
	 * a measured speedup shows n/a, not nan */
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(a, "throughput"), "speedup");
	in.history_skipped = 2;
	md = render(&in, ENG_REPORT_MD);
	char *js = render(&in, ENG_REPORT_JSON);
	cJSON *j = js ? cJSON_Parse(js) : NULL;
	ok(md && strstr(md, "2 failed points of the history (an error, no result) are left out.") && !strstr(md, "nan"),
	   "md: the history section says 2 failed points were left out; no nan");
	ok(eng_json_num(j, "report.history_failed_skipped") == 2, "json: report.history_failed_skipped = 2");
	cJSON_Delete(j);
	free(md), free(js);
	cJSON_Delete(hist), cJSON_Delete(run), cJSON_Delete(pin);
}

/* A run that lacks parts renders what it has: a missing recipe is said, not
 * taken for running out of memory. */
static void test_missing_parts(void)
{
	cJSON *r = cJSON_Parse("{\"eval\":{\"strata\":[{\"name\":\"all\"}]}}");
	eng_report_in in = {r, NULL, NULL, NULL, NULL, NULL, "cpu", NULL, 0, 0};
	static const eng_report_fmt fmts[] = {ENG_REPORT_MD, ENG_REPORT_HTML, ENG_REPORT_JSON};
	for (int i = 0; i < 3; i++) {
		char *o = NULL, err[256] = "";
		size_t len = 0;
		int rc = eng_report_render(&in, fmts[i], &o, &len, err, sizeof err);
		ok(rc == 0 && o && (fmts[i] == ENG_REPORT_JSON || strstr(o, "(the run has no recipe)")),
		   "%s: a run without a recipe renders (%s)", eng_report_format_name(fmts[i]), rc ? err : "ok");
		free(o);
	}
	/* a sensitivity without layers cannot show a named layer */
	cJSON *sens = cJSON_Parse("{\"full\":false}");
	in.sensitivity = sens;
	in.layer = "fc1";
	char *o = NULL, err[256] = "";
	size_t len;
	ok(eng_report_render(&in, ENG_REPORT_MD, &o, &len, err, sizeof err) == -1 && strstr(err, "'fc1'"),
	   "a named layer with a sensitivity that has no layers is refused: %s", err);
	free(o);
	cJSON_Delete(sens), cJSON_Delete(r);
}

/* ------------------------------------------------------ bits per character */

/* A language-model run: metric bpc, lower is better, one stratum besides
 * all; ci95 null when lo or hi is NaN, with ci_note when note is given. */
static cJSON *mk_bpc(int n, double delta, double lo, double hi, const char *note)
{
	char ci[96], nt[160] = "", buf[2048];
	if (isnan(lo) || isnan(hi))
		snprintf(ci, sizeof ci, "[null,null]");
	else
		snprintf(ci, sizeof ci, "[%.17g,%.17g]", lo, hi);
	if (note)
		snprintf(nt, sizeof nt, ",\"ci_note\":\"%s\"", note);
	snprintf(buf, sizeof buf,
		 "{\"precis\":\"0.1.0\",\"model\":{\"name\":\"m\",\"path\":\"/x/m.safetensors\",\"sha256\":\"ab\",\"params\":10,"
		 "\"task\":\"t\"},\"recipe\":{\"weights\":\"int8\",\"acts\":\"int8\",\"calib_method\":\"minmax\"},"
		 "\"reference\":\"fp32\",\"metric\":\"bpc\",\"eval\":{\"n\":%d,\"set\":\"s\",\"metric_definition\":\"d\","
		 "\"higher_is_better\":false,\"strata\":[{\"name\":\"all\",\"n\":%d,\"ref\":2.2,\"quant\":2.2,\"delta\":0,"
		 "\"ci95\":[-0.0001,0.0001]},{\"name\":\"work\",\"n\":%d,\"ref\":2.1698,\"quant\":%.17g,\"delta\":%.17g,"
		 "\"ci95\":%s%s}]},\"calibration\":{\"set\":\"representative\",\"n\":512,\"seed\":1,"
		 "\"sets\":\"representative: a draw\"}}",
		 4 * n, 4 * n, n, 2.1698 + delta, delta, ci, nt);
	return cJSON_Parse(buf);
}

/* The reasons of r joined by " | ". */
static void reasons_of(const cJSON *r, char *buf, size_t len)
{
	const cJSON *x;
	size_t o = 0;
	buf[0] = 0;
	cJSON_ArrayForEach(x, eng_json_get(r, "disclosure.reasons")) if (o < len)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " | " : "", x->valuestring);
}

static void test_bpc_disclosure(void)
{
	const char *note = "1 evaluation window of 2048 tokens: an interval needs at least 5";
	char why[2048];
	/* values from the brief's own example, read by hand: deltas of
	 * 0.0002 bits are four decimals, never points (x 100) */
	cJSON *r = mk_bpc(1000, 0.0002, -0.0005, 0.0009, NULL);
	int g = eng_disclosure_assess(r, 0);
	reasons_of(r, why, sizeof why);
	ok(g == 0 && !strcmp(why, "stratum `work`: the 95% interval [-0.0005, +0.0009] bits is wider than the effect "
				 "(+0.0002 bits), so the loss cannot be told from noise"),
	   "bpc: a loss of +0.0002 bits within noise, said in bits: %s", why);
	/* the criterion is in bits for bpc: 0.0014 wide > 0.0010 */
	g = eng_disclosure_assess(r, 0.001);
	reasons_of(r, why, sizeof why);
	ok(g == 0 && strstr(why, "[-0.0005, +0.0009] bits includes zero and is 0.0014 bits wide, wider than the "
				 "0.0010-bit criterion") && eng_json_num(r, "disclosure.criterion") == 0.001,
	   "bpc: under a 0.001-bit criterion not (0.0014 bits wide): %s", why);
	cJSON_Delete(r);
	/* 40 tokens: a 0.002 criterion read as points would need 3/0.00002
	 * samples by the rule of three; for bits the minimum stays 30 */
	r = mk_bpc(40, 0.0002, -0.0005, 0.0009, NULL);
	g = eng_disclosure_assess(r, 0.002);
	ok(g == 1 && eng_json_num(r, "disclosure.min_stratum_n") == 30,
	   "bpc: 0.0014 bits wide under a 0.002-bit criterion: decision-grade, minimum n stays 30 (%g)",
	   eng_json_num(r, "disclosure.min_stratum_n"));
	cJSON_Delete(r);
	r = mk_bpc(1000, -0.0002, -0.0009, 0.0005, NULL);
	ok(eng_disclosure_assess(r, 0) == 1, "bpc: lower is better, so -0.0002 bits within noise is no loss");
	cJSON_Delete(r);
	/* too few windows: disclosed (item 6 present), not decision-grade, the
	 * note itself as the one reason */
	r = mk_bpc(2048, 0.0003, NAN, NAN, note);
	g = eng_disclosure_assess(r, 0);
	reasons_of(r, why, sizeof why);
	ok(g == 0 && cJSON_IsTrue(eng_json_get(r, "disclosure.per_stratum")) &&
		   cJSON_IsFalse(eng_json_get(r, "disclosure.ci_narrower_than_effect")) &&
		   !strcmp(why, "stratum `work`: 1 evaluation window of 2048 tokens: an interval needs at least 5"),
	   "ci_note: item 6 present, not decision-grade, one reason per such stratum: %s", why);
	cJSON_Delete(r);
	r = mk_bpc(2048, 0.0003, NAN, NAN, NULL);
	g = eng_disclosure_assess(r, 0);
	reasons_of(r, why, sizeof why);
	ok(g == 0 && cJSON_IsFalse(eng_json_get(r, "disclosure.per_stratum")) && strstr(why, "`eval.strata[].ci95`"),
	   "no interval and no ci_note: item 6 missing, as before: %s", why);
	cJSON_Delete(r);
	/* an empty stratum carries no numbers: not "missing", but too small */
	r = cJSON_Parse("{\"reference\":\"fp32\",\"metric\":\"bpc\",\"eval\":{\"higher_is_better\":false,\"strata\":["
			"{\"name\":\"all\",\"n\":100,\"ref\":2.2,\"quant\":2.2,\"delta\":0,\"ci95\":[-0.0001,0.0001]},"
			"{\"name\":\"wisdom\",\"n\":0,\"ci95\":[null,null]}]}}");
	eng_disclosure_assess(r, 0);
	reasons_of(r, why, sizeof why);
	ok(cJSON_IsTrue(eng_json_get(r, "disclosure.reference")) && cJSON_IsTrue(eng_json_get(r, "disclosure.per_stratum")) &&
		   strstr(why, "1 stratum has fewer than 30 samples (wisdom 0)") && !strstr(why, "eval.strata[]"),
	   "an empty stratum: items 4 and 6 present, flagged by sample size: %s", why);
	cJSON_Delete(r);
}

/* The line of md that starts with `start`, copied into buf ("" if none). */
static const char *md_line(const char *md, const char *start, char *buf, size_t len)
{
	const char *p = md ? strstr(md, start) : NULL;
	while (p && p != md && p[-1] != '\n')
		p = strstr(p + 1, start);
	buf[0] = 0;
	if (p)
		snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

/* A real language-model run (tests/golden/report_bpc.json: `precis eval
 * --model rnn-text --eval-n 16384 --json`, 8 windows of 2048 tokens) as a
 * report: the expected strings are its JSON values rounded by hand. */
static void test_bpc_report(void)
{
	cJSON *run = load("report_bpc.json");
	if (!run) {
		ok(0, "report_bpc.json loads");
		return;
	}
	cJSON *pin = cJSON_Duplicate(run, 1), *hist = cJSON_CreateArray();
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(pin, "recipe"), "weights", cJSON_CreateString("int4"));
	cJSON_AddItemToArray(hist, cJSON_Duplicate(pin, 1));
	cJSON_AddItemToArray(hist, cJSON_Duplicate(run, 1));
	cJSON *sens = cJSON_Parse("{\"metric\":\"bpc\",\"layers\":[{\"name\":\"gru.0\",\"delta_alone\":0.00123,"
				  "\"ci95\":[0.00031,0.00215],\"delta_all_but\":-0.0004}]}");
	eng_report_in in = {run, NULL, NULL, NULL, NULL, NULL, "cpu", NULL, 0, 0};
	char *md = render(&in, ENG_REPORT_MD), line[512];
	/* all: ref 2.334422, quant 2.334272, delta -0.000149, ci [-0.000636, 0.000307] */
	ok(md && strstr(md, "bpc goes from 2.3344 to 2.3343: delta -0.0001 bits, 95% interval [-0.0006, +0.0003], "
			    "within noise."),
	   "bpc md: the headline in bits, four decimals");
	ok(md && strstr(md, "| delta (bits) | 95% interval (bits) |") && !strstr(md, "delta (pt)") &&
		   !strstr(md, "interval (pt)") && strstr(md, "delta and intervals in bits"),
	   "bpc md: the strata table heads and the unit sentence say bits");
	md_line(md, "| all ", line, sizeof line);
	ok(strstr(line, " 2.3344 |") && strstr(line, " 2.3343 |") && strstr(line, " -0.0001 |") &&
		   strstr(line, " [-0.0006, +0.0003] |") && !strchr(line, '%'),
	   "bpc md: the all row in bits, no percent: %s", line);
	/* computing: delta -0.000555, 1 window */
	md_line(md, "| computing ", line, sizeof line);
	ok(strstr(line, " -0.0006 |") && strstr(line, " n/a (see note) |") && strstr(line, "| too few windows |"),
	   "bpc md: a stratum of one window: n/a (see note), verdict too few windows: %s", line);
	ok(md && strstr(md, "Note: no interval for these strata: stratum `computing`: 1 evaluation window of 2048 tokens: "
			    "an interval needs at least 5; stratum `cookie`: 2 evaluation windows"),
	   "bpc md: the note under the table says why, per stratum");
	ok(md && strstr(md, "\n- stratum `shifted`: 1 evaluation window of 2048 tokens: an interval needs at least 5.\n") &&
		   !strstr(md, "is missing"),
	   "bpc md: one reason per stratum without an interval; no item missing");
	md_line(md, "|   6 | Per-stratum | present ", line, sizeof line);
	ok(strstr(line, "16 strata with n, reference, quantized, delta, 95% interval (table above); 5 without an "
			"interval, each saying why"),
	   "bpc md: disclosure item 6 present, counting the 5 strata without an interval");
	free(md);
	/* compare, history and sensitivity in bits too */
	in.pinned = pin, in.history = hist, in.sensitivity = sens;
	md = render(&in, ENG_REPORT_MD);
	ok(md && strstr(md, "| A delta (bits) |") && strstr(md, "| B - A (bits) |") && strstr(md, "| delta all (bits) |") &&
		   strstr(md, "| delta alone (bits) | 95% interval (bits) | delta all-but (bits) |"),
	   "bpc md: compare, history and sensitivity heads in bits");
	md_line(md, "| gru.0 ", line, sizeof line);
	ok(strstr(line, " +0.0012 |") && strstr(line, " [+0.0003, +0.0022] |") && strstr(line, " -0.0004 |"),
	   "bpc md: sensitivity deltas 0.00123, [0.00031, 0.00215], -0.0004 in bits: %s", line);
	ok(md && count(md, "(pt)") == 1 && strstr(md, "| Δp true (pt) "),
	   "bpc md: the only \"(pt)\" is the probability change of the language-model table");
	free(md);
	/* html: charts scaled and labelled in bits; the criterion in bits */
	in.criterion = 0.001;
	char *html = render(&in, ENG_REPORT_HTML);
	ok(html && strstr(html, ">delta, quantized minus reference (bits)</text>") &&
		   strstr(html, ">delta on all (bits, lower is better)</text>") &&
		   strstr(html, ">delta with only this layer quantized (bits)</text>") && !strstr(html, "points)</text>") && !strstr(html, "(points,"),
	   "bpc html: the three delta axes say bits");
	ok(html && strstr(html, "Dashed: the 0.0010-bit criterion.") && strstr(html, "class=\"tick\">0.0010<"),
	   "bpc html: the 0.001-bit criterion drawn on a bits scale");
	ok(html && strstr(html, "<tr class=\"noise\"><td>computing</td>") && strstr(html, "<td>too few windows</td>"),
	   "bpc html: too few windows in the noise (dim) style");
	free(html);
	cJSON_Delete(sens), cJSON_Delete(hist), cJSON_Delete(pin), cJSON_Delete(run);
}

int main(void)
{
	const char *src = getenv("top_srcdir");
	snprintf(golden_dir, sizeof golden_dir, "%s/tests/golden", src ? src : ".");
	test_goldens();
	test_disclosure();
	test_files();
	test_escaping();
	test_history_copies();
	test_missing_parts();
	test_bpc_disclosure();
	test_bpc_report();
	return tap_done();
}
