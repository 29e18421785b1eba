/* SPDX-License-Identifier: GPL-3.0-or-later */
/* eng_report.h - decision-grade reports (SPEC §6) of one run in Markdown,
 * self-contained HTML with inline SVG charts, or JSON; the disclosure
 * assessment that decides "decision-grade"; and the safe file write that
 * every report and recipe export goes through.
 *
 * Everything here is a pure function of its inputs (plus the file system for
 * the writers): a report embeds no clock and no machine name unless the
 * caller passes them, so the same inputs give the same bytes. */
#ifndef PRECIS_ENG_REPORT_H
#define PRECIS_ENG_REPORT_H

#include <stddef.h>

#include <cJSON.h>

typedef enum { ENG_REPORT_MD = 0, ENG_REPORT_HTML, ENG_REPORT_JSON } eng_report_fmt;

/* What a report shows.  Every pointer is borrowed; only `run` is required. */
typedef struct {
	const cJSON *run;         /* SPEC §3 object from eng_session_eval */
	const cJSON *pinned;      /* run pinned as A for an A/B comparison (run is B), or NULL */
	const cJSON *history;     /* array of SPEC §3 objects tried this session, oldest first
				     (may include run and pinned: recognised as them when equal
				     but for a top-level "run" key, the explorer's run number),
				     or NULL */
	const cJSON *sensitivity; /* SPEC §5 sensitivity object, or NULL */
	const char *layer;        /* layer whose histogram is shown; NULL: the most sensitive */
	const char *command;      /* command line that reproduces the run; NULL: built from the
				     run's model, recipe, eval.n, metric, threads and seed */
	const char *cpu;          /* CPU model for the throughput conditions when the run lacks
				     throughput.cpu; NULL: eng_cpu_model() of this machine.  Either
				     way the report labels it "this machine at report time" */
	const char *date;         /* shown as "Generated DATE" when non-NULL; NULL: no date, so
				     the same run renders to the same bytes */
	double criterion;         /* acceptance criterion in the metric's unit: points (hundredths)
				     for fractions, bits for bpc, for the disclosure verdict; <= 0 or NaN: the run's own
				     disclosure.criterion if any, else none */
	int history_skipped;      /* failed points (sweep lines carrying "error") the caller
				     left out of history; the history section says how many */
} eng_report_in;

/* The format from a name ("md", "markdown", "html", "htm", "json") or,
 * when the argument has a '.' or a '/', from the extension of that file
 * name (.md .markdown .html .htm .json, any case).  Returns 0 and sets
 * *fmt, or -1 with err naming what is wrong. */
int eng_report_format_parse(const char *name_or_path, eng_report_fmt *fmt, char *err, size_t errlen);
/* "md", "html", "json". */
const char *eng_report_format_name(eng_report_fmt fmt);

/* Renders the report.  On success returns 0, *out is a NUL-terminated buffer
 * of *len bytes that the caller frees.  -1 with err when the run lacks what
 * a report needs (no eval.strata) or memory runs out; *out is then NULL. */
int eng_report_render(const eng_report_in *in, eng_report_fmt fmt, char **out, size_t *len, char *err,
		      size_t errlen);

/* Renders and writes atomically to `path` (see eng_file_write_atomic).
 * 0, or ENG_WRITE_EXISTS / -1 with err. */
int eng_report_write(const eng_report_in *in, eng_report_fmt fmt, const char *path, int force, char *err,
		     size_t errlen);

/* ----------------------------------------------------------- disclosure */

/* (Re)computes run's "disclosure" object from the run itself, replacing any
 * there: the six SPEC §6 items (task, model, metric, reference, calibration,
 * per_stratum: true when the run carries what the item needs),
 * ci_narrower_than_effect, min_stratum_n, criterion (points; bits for bpc; or null),
 * decision_grade, and "reasons": one sentence per thing that keeps the run
 * from being decision-grade (empty when it is).  The rule (doc/reports.md):
 * all six items present; every stratum has at least min_stratum_n samples
 * (30, or 3 / criterion when a criterion is given: the rule of three); and
 * every stratum whose delta is a loss has a 95% interval that excludes zero
 * or, with a criterion, is narrower than it.  criterion_points <= 0 or NaN:
 * none (a criterion already in run's disclosure is dropped).  Idempotent.
 * Returns 1 decision-grade, 0 not, -1 when run is not an object or memory
 * runs out (run is then unchanged). */
int eng_disclosure_assess(cJSON *run, double criterion_points);

/* ---------------------------------------------------------------- files */

#define ENG_WRITE_EXISTS (-2)

/* Writes buf[0..len) to path so that path either keeps its old content or
 * gets all of the new one: a temporary file in the same folder (mkstemp),
 * write, fsync, then rename over path (force) or move into place only if
 * path does not exist (renameat2 RENAME_NOREPLACE, else link), so a file
 * created meanwhile is not clobbered either; then the folder is fsynced.
 * New files get mode 0666 less the umask; a replaced file keeps its mode.
 * Returns 0; ENG_WRITE_EXISTS when path exists and !force ("FILE already
 * exists (use --force to replace it)"); -1 with err naming path and the
 * reason.  On failure no temporary file is left behind.
 * Test hook: env PRECIS_TEST_FAIL_WRITE=N makes the write fail with ENOSPC
 * after N bytes of the temporary file. */
int eng_file_write_atomic(const char *path, const void *buf, size_t len, int force, char *err, size_t errlen);

/* The CPU model ("model name" in /proc/cpuinfo, blanks collapsed) into buf.
 * 0, or -1 with buf "unknown CPU" when it cannot be read. */
int eng_cpu_model(char *buf, size_t len);

#endif
