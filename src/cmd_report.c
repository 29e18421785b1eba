/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cmd_report.c - `precis report [recipe opts] --format md|html|json -o FILE`:
 * runs the recipe (or reads a saved run) and writes the SPEC §6 report
 * through eng_report_write, so the file is replaced atomically or not at
 * all.  Exit status: 0 written; 1 the run or the write failed; 2 bad usage
 * or bad input, including an output file that exists without --force, an
 * output folder that cannot be written (both checked before the run, by
 * cli_check_output), an -o extension that names another format than
 * --format, and --hist-layer without per-layer results. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"
#include "cmd_report.h"
#include "eng_report.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

int report_take_options(int *argc, char **argv, report_opts *o)
{
	memset(o, 0, sizeof *o);
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
		const char **dst = NULL;
		if (strcmp(a, "--format") == 0)
			dst = &o->format;
		else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
			dst = &o->out;
		else if (strcmp(a, "--from") == 0)
			dst = &o->from;
		else if (strcmp(a, "--compare") == 0)
			dst = &o->pinned;
		else if (strcmp(a, "--history") == 0)
			dst = &o->history;
		else if (strcmp(a, "--sensitivity-file") == 0)
			dst = &o->sensitivity;
		else if (strcmp(a, "--hist-layer") == 0)
			dst = &o->layer;
		else if (strcmp(a, "--date") == 0)
			dst = &o->date;
		if (dst) {
			if (!v) {
				fprintf(stderr, "precis report: %s needs a value\n", a);
				return EXIT_USAGE;
			}
			*dst = v;
			i++;
			continue;
		}
		if (strcmp(a, "--force") == 0) {
			o->force = 1;
			continue;
		}
		if (strcmp(a, "--sensitivity") == 0 || strcmp(a, "--sensitivity-full") == 0) {
			o->layers = a[13] == '-' ? 2 : 1;
			continue;
		}
		if (strcmp(a, "--max-loss") == 0) {
			char *end;
			errno = 0;
			double x = v ? strtod(v, &end) : 0;
			if (!v || !*v || *end || errno || !(x > 0) || x > 100) {
				fprintf(stderr, "precis report: --max-loss: '%s' is not a number of points in (0, 100] (bits for bpc)\n",
					v ? v : "");
				return EXIT_USAGE;
			}
			o->max_loss = x;
			i++;
			continue;
		}
		/* left for the recipe parser, with its value if the next word is one */
		argv[out++] = argv[i];
		o->recipe_opts = 1;
	}
	*argc = out;
	argv[out] = NULL;
	if (!o->out) {
		fprintf(stderr, "precis report: say where to write the report: -o FILE (- for standard output)\n");
		return EXIT_USAGE;
	}
	if (o->sensitivity && o->layers) {
		fprintf(stderr, "precis report: --sensitivity-file and --sensitivity both give the per-layer results; use one\n");
		return EXIT_USAGE;
	}
	if (o->layer && !o->layers && !o->sensitivity) {
		fprintf(stderr, "precis report: --hist-layer %s needs per-layer results: add --sensitivity (or "
				"--sensitivity-file FILE)\n", o->layer);
		return EXIT_USAGE;
	}
	if (o->from && o->layers) {
		fprintf(stderr, "precis report: --sensitivity needs a run; with --from use --sensitivity-file\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Reads a whole file.  NULL with a message naming the file and why. */
static char *slurp(const char *opt, const char *path)
{
	FILE *f = cli_open_input("report", opt, path);
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	int rerr = 0;
	while (buf) {
		errno = 0;
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		rerr = errno;
		len += n;
		if (len + 1 < cap)
			break;
		char *b = realloc(buf, cap *= 2);
		if (!b)
			free(buf);
		buf = b;
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf)
		fprintf(stderr, "precis report: %s %s: out of memory\n", opt, path);
	else if (bad)
		cli_read_error("report", opt, path, rerr);
	if (!buf || bad) {
		free(buf);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

static int line_of(const char *buf, const char *at)
{
	int line = 1;
	for (const char *p = buf; at && p < at && *p; p++)
		line += *p == '\n';
	return line;
}

/* One JSON value from a file; `object` requires an object.  NULL with a
 * message naming file and line. */
static cJSON *read_json(const char *opt, const char *path, int object)
{
	char *buf = slurp(opt, path);
	if (!buf)
		return NULL;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(buf, &end, 1);
	if (!j)
		fprintf(stderr, "precis report: %s %s:%d: not valid JSON\n", opt, path, line_of(buf, end));
	else if (object && !cJSON_IsObject(j)) {
		fprintf(stderr, "precis report: %s %s: expected a JSON object\n", opt, path);
		cJSON_Delete(j);
		j = NULL;
	}
	free(buf);
	return j;
}

/* Is history entry o a point that failed (a sweep line carrying "error")? */
static int failed_point(const cJSON *o)
{
	return cJSON_IsObject(o) && cJSON_GetObjectItemCaseSensitive(o, "error") != NULL;
}

/* A JSON array of runs, or JSON lines (one run per line, as `sweep --jsonl`).
 * Failed points (entries carrying "error": no result to show) are left out
 * and counted in *failed. */
static cJSON *read_history(const char *path, int *failed)
{
	*failed = 0;
	char *buf = slurp("--history", path);
	if (!buf)
		return NULL;
	const char *p = buf + strspn(buf, " \t\r\n");
	cJSON *arr = NULL;
	if (*p == '[') {
		const char *end = NULL;
		arr = cJSON_ParseWithOpts(buf, &end, 1);
		if (!arr)
			fprintf(stderr, "precis report: --history %s:%d: not valid JSON\n", path, line_of(buf, end));
		for (int i = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) - 1 : -1; i >= 0; i--)
			if (failed_point(cJSON_GetArrayItem(arr, i))) {
				cJSON_DeleteItemFromArray(arr, i);
				++*failed;
			}
	} else {
		arr = cJSON_CreateArray();
		int ln = 0;
		for (char *line = buf; arr && line && *line;) {
			char *nl = strchr(line, '\n');
			ln++;
			if (nl)
				*nl = 0;
			if (line[strspn(line, " \t\r")]) {
				cJSON *o = cJSON_Parse(line);
				if (!cJSON_IsObject(o)) {
					fprintf(stderr, "precis report: --history %s:%d: not a JSON object\n", path, ln);
					cJSON_Delete(o);
					cJSON_Delete(arr);
					arr = NULL;
				} else if (failed_point(o)) {
					cJSON_Delete(o);
					++*failed;
				} else
					cJSON_AddItemToArray(arr, o);
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	free(buf);
	if (arr && !cJSON_IsArray(arr)) {
		fprintf(stderr, "precis report: --history %s: expected a JSON array or JSON lines of runs\n", path);
		cJSON_Delete(arr);
		arr = NULL;
	}
	return arr;
}

static void stage_progress(void *user, const char *stage, double done)
{
	(void)user;
	fprintf(stderr, "\r\033[K%-10s %3.0f%%", stage, done * 100);
	fflush(stderr);
}

/* Does a sensitivity object list layer `name`? */
static int sens_has_layer(const cJSON *sens, const char *name)
{
	const cJSON *l;
	cJSON_ArrayForEach(l, eng_json_get(sens, "layers")) if (strcmp(eng_json_str(l, "name"), name) == 0) return 1;
	return 0;
}

int report_run(const report_opts *o, const eng_recipe *r, const eng_session_opts *sess)
{
	char err[1024] = "";
	eng_report_fmt fmt;
	if (!o->format && strcmp(o->out, "-") == 0) {
		fprintf(stderr, "precis report: -o -: say the format of standard output with --format md, html or json\n");
		return EXIT_USAGE;
	}
	/* the place first: "-o FOLDER" is better said than "no extension" */
	int rc = cli_check_output("report", "-o", o->out, o->force);
	if (rc)
		return rc;
	if (eng_report_format_parse(o->format ? o->format : o->out, &fmt, err, sizeof err)) {
		fprintf(stderr, "precis report: %s%s%s\n", o->format ? "--format: " : "-o ", err,
			o->format ? "" : "; or say --format md, html or json");
		return EXIT_USAGE;
	}
	if (o->from && o->recipe_opts) {
		fprintf(stderr, "precis report: --from reports a saved run; recipe options cannot change it\n");
		return EXIT_USAGE;
	}
	if (o->format && strcmp(o->out, "-") != 0) {
		/* -o's extension, when it names a report format, must agree */
		const char *base = strrchr(o->out, '/') ? strrchr(o->out, '/') + 1 : o->out, *dot = strrchr(base, '.');
		eng_report_fmt ext;
		char e2[256];
		if (dot && dot != base && eng_report_format_parse(o->out, &ext, e2, sizeof e2) == 0 && ext != fmt) {
			fprintf(stderr, "precis report: --format %s does not match -o %s (a %s file); change one of them\n",
				o->format, o->out, eng_report_format_name(ext));
			return EXIT_USAGE;
		}
	}
	cJSON *pinned = NULL, *history = NULL, *sens = NULL, *run = NULL;
	eng_session *s = NULL;
	int hist_failed = 0;
	rc = EXIT_USAGE;
	if ((o->pinned && !(pinned = read_json("--compare", o->pinned, 1))) ||
	    (o->history && !(history = read_history(o->history, &hist_failed))) ||
	    (o->sensitivity && !(sens = read_json("--sensitivity-file", o->sensitivity, 1))))
		goto out;
	if (sens && o->layer && !sens_has_layer(sens, o->layer)) {
		fprintf(stderr, "precis report: --hist-layer: layer '%s' is not in %s\n", o->layer, o->sensitivity);
		goto out;
	}
	if (o->from) {
		if (!(run = read_json("--from", o->from, 1)))
			goto out;
	} else {
		s = eng_session_create(sess, err, sizeof err);
		if (!s) {
			fprintf(stderr, "precis report: %s\n", err);
			goto out;
		}
		int tty = isatty(2);
		run = eng_session_eval(s, r, tty ? stage_progress : NULL, NULL, NULL, err, sizeof err);
		if (run && o->layers)
			sens = eng_session_sensitivity(s, r, o->layers == 2, tty ? stage_progress : NULL, NULL, NULL, err,
						       sizeof err);
		if (tty)
			fputs("\r\033[K", stderr);
		if (!run || (o->layers && !sens)) {
			fprintf(stderr, "precis report: %s\n", err);
			rc = strncmp(err, "--", 2) == 0 || strstr(err, "override") ? EXIT_USAGE : EXIT_RUN;
			goto out;
		}
	}
	eng_report_in in = {run, pinned, history, sens, o->layer, NULL, NULL, o->date, o->max_loss, hist_failed};
	if (strcmp(o->out, "-") == 0) {
		char *buf;
		size_t len;
		if (eng_report_render(&in, fmt, &buf, &len, err, sizeof err)) {
			fprintf(stderr, "precis report: %s\n", err);
			rc = strstr(err, "memory") ? EXIT_RUN : EXIT_USAGE;
			goto out;
		}
		int bad = fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0;
		free(buf);
		if (bad) {
			fprintf(stderr, "precis report: writing to standard output: %s\n", strerror(errno));
			rc = EXIT_RUN;
			goto out;
		}
		rc = 0;
		goto out;
	}
	int w = eng_report_write(&in, fmt, o->out, o->force, err, sizeof err);
	if (w) {
		fprintf(stderr, "precis report: %s\n", err);
		/* exists: the user's choice of name (checked early too); a report
		 * the input cannot make: bad input; anything else: the write failed */
		rc = w == ENG_WRITE_EXISTS || strstr(err, "layer '") || strstr(err, "eval.strata") ? EXIT_USAGE : EXIT_RUN;
		goto out;
	}
	/* the verdict the report shows: the same criterion rule as eng_report_render */
	double crit = o->max_loss > 0 ? o->max_loss : eng_json_num(run, "disclosure.criterion");
	cJSON *check = cJSON_Duplicate(run, 1);
	int grade = check ? eng_disclosure_assess(check, crit > 0 ? crit : 0) : -1;
	cJSON_Delete(check);
	fprintf(stderr, "precis report: wrote %s (%s)%s\n", o->out, eng_report_format_name(fmt),
		grade == 1 ? ": decision-grade" : grade == 0 ? ": not decision-grade (reasons in the report)" : "");
	rc = 0;
out:
	cJSON_Delete(run);
	cJSON_Delete(pinned);
	cJSON_Delete(history);
	cJSON_Delete(sens);
	eng_session_destroy(s);
	return rc;
}
