#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_report.sh - `precis report` as a user meets it: the three formats from
# a real run, exit codes, no overwrite without --force, a full disk and an
# unwritable folder leave nothing behind, the HTML parses, the reproduction
# command reproduces, and a 50-sample run is not decision-grade.
. "${top_srcdir:-.}/tests/clilib.sh"
golden=${top_srcdir:-.}/tests/golden

one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] || { sed 's/^/# /' "$tmp/err"; return 1; }; }
entries() { ls -A "$1" | wc -l; }

# xmllint's HTML parser knows HTML 4 only: inline SVG elements are reported
# as unknown tags, which is not an error of the document.  Anything else is.
html_ok() {
	xmllint --html --noout "$1" 2>"$tmp/lint" || return 1
	if grep 'error' "$tmp/lint" | grep -vqE 'Tag (svg|g|rect|line|text|path|polyline|circle) invalid'; then
		sed 's/^/# /' "$tmp/lint" | head -20
		return 1
	fi
	# and as XML (the report is written as polyglot XHTML): every tag closed, every entity valid
	xmllint --noout "$1"
}

d=$tmp/out.d
mkdir "$d"

# ------------------------------------------------------------ from a run
t "report -o r.md runs the recipe and writes Markdown (0)" run 0 report --eval-n 300 --weights int4 -o "$d/r.md"
t "... says what it wrote" grep -q "wrote $d/r.md (md)" "$tmp/err"
t "... a report with the stratum table and the disclosure" sh -c \
	"grep -q '^# precis report: cnn-fashion, int4 weights' '$d/r.md' && grep -q '^| stratum ' '$d/r.md' && grep -q '^## Disclosure' '$d/r.md'"
t "... the measured n (300) in the all row" grep -q '^| all  *| *300 |' "$d/r.md"
cp "$d/r.md" "$tmp/r.md.before"
t "the same file without --force is refused (2)" run 2 report --eval-n 300 -o "$d/r.md"
t "... in one line naming the file and --force" sh -c "grep -q '$d/r.md already exists (use --force' '$tmp/err'"
t "... and the file is unchanged" cmp -s "$d/r.md" "$tmp/r.md.before"
t "--force replaces it (0)" run 0 report --eval-n 300 --weights int8 -o "$d/r.md" --force
t "... with the new recipe" grep -q '^# precis report: cnn-fashion, int8 weights' "$d/r.md"
t "... and no temporary file is left in the folder" [ "$(entries "$d")" -eq 1 ]

t "the format follows the extension: .json (0)" run 0 report --eval-n 300 -o "$d/r.json"
t "... the SPEC §3 object plus the report's own fields" python3 - "$d/r.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("precis", "model", "recipe", "eval", "throughput", "memory", "disclosure", "report"):
    assert k in d, k
assert d["eval"]["n"] == 300
assert isinstance(d["disclosure"]["reasons"], list)
assert d["report"]["command"].startswith("precis eval --model cnn-fashion ")
assert d["report"]["cpu_source"] in ("run", "this machine at report time")
PY
t ".html (0)" run 0 report --eval-n 300 -o "$d/r.html"
if command -v xmllint >/dev/null 2>&1; then
	t "... parses with xmllint --html and as XML" html_ok "$d/r.html"
else
	skip "... parses with xmllint" "xmllint not installed (Debian libxml2-utils)"
fi
t "... is self-contained (no src=, href=, url(), external http)" sh -c \
	"! grep -qE 'src=|href=|url\\(|@import' '$d/r.html' && [ \$(grep -o 'http[^\"]*' '$d/r.html' | grep -vc '^http://www.w3.org/2000/svg\$') -eq 0 ]"
t "--format md -o - writes to standard output (0)" run 0 report --eval-n 300 --format md -o -
t "... the Markdown report" grep -q '^## Reproduction' "$tmp/out"

# ------------------------------------------------------------ bad usage
t "no -o (2)" run 2 report --eval-n 300
t "... says -o FILE" grep -q -- "-o FILE" "$tmp/err"
t "an unknown extension (2)" run 2 report --eval-n 300 -o "$d/r.txt"
t "... names it" grep -q "'.txt'" "$tmp/err"
t "--format pdf (2)" run 2 report --eval-n 300 --format pdf -o "$d/x"
t "... names it" grep -q "'pdf'" "$tmp/err"
t "-o - needs --format (2)" run 2 report --eval-n 300 -o -
t "a bad recipe option is still bad usage (2)" run 2 report --weights int3 -o "$d/x.md"
t "... named" grep -q -- "--weights" "$tmp/err"
t "--from with recipe options (2)" run 2 report --from "$golden/report_run.json" --weights int4 -o "$d/x.md"
t "--from a file that is not JSON (2)" run 2 report --from "${top_srcdir:-.}/tests/test_report.sh" -o "$d/x.md"
t "... names the file and line" grep -q "test_report.sh:[0-9]*: not valid JSON" "$tmp/err"
t "--max-loss 0 (2)" run 2 report --eval-n 300 --max-loss 0 -o "$d/x.md"
t "--format html -o x.md: the extension names another format (2)" run 2 report --from "$golden/report_run.json" \
	--format html -o "$d/x.md"
t "... naming both" grep -q -- "--format html does not match -o $d/x.md (a md file)" "$tmp/err"
t "... in one line" one_line
t "--format json -o x.HTM (2)" run 2 report --from "$golden/report_run.json" --format json -o "$d/x.HTM"
t "--format md -o x.md agrees (0)" run 0 report --from "$golden/report_run.json" --format md -o "$d/agree.md"
t "--format html -o x.txt: not a report extension, --format decides (0)" \
	run 0 report --from "$golden/report_run.json" --format html -o "$d/x.txt"
t "... HTML in it" grep -q '^<!DOCTYPE html>' "$d/x.txt"
rm -f "$d/agree.md" "$d/x.txt"
t "--hist-layer without per-layer results (2)" run 2 report --from "$golden/report_run.json" --hist-layer fc1 -o "$d/x.md"
t "... says what it needs" grep -q -- "--hist-layer fc1 needs per-layer results" "$tmp/err"
t "... in one line" one_line
printf '{"full": false}\n' >"$tmp/nolayers.json"
t "--hist-layer with a sensitivity file that has no such layer (2)" run 2 report --from "$golden/report_run.json" \
	--sensitivity-file "$tmp/nolayers.json" --hist-layer fc1 -o "$d/x.md"
t "... named" grep -q "layer 'fc1' is not in $tmp/nolayers.json" "$tmp/err"
t "--from a folder (2)" run 2 report --from "$d" -o "$d/x.md"
t "... says it is a folder" grep -q -- "--from $d: is a folder, not a file" "$tmp/err"
t "... in one line" one_line
t "-o a folder (2)" run 2 report --from "$golden/report_run.json" -o "$d"
t "... says so" grep -q -- "-o $d is a folder; name a file to write" "$tmp/err"
t "nothing was written by the failed commands" [ ! -e "$d/x.md" ] && [ ! -e "$d/r.txt" ] && [ ! -e "$d/x" ]
printf '{"eval":{"strata":[{"name":"all"}]}}\n' >"$tmp/bare.json"
t "a run without a recipe is reported, not taken for out of memory (0)" \
	run 0 report --from "$tmp/bare.json" -o - --format md
t "... saying it has none" grep -q '^(the run has no recipe)$' "$tmp/out"

# ------------------------------------------------------------ safety
printf 'old report\n' >"$d/keep.md"
PRECIS_TEST_FAIL_WRITE=100 "$precis" report --from "$golden/report_run.json" -o "$d/keep.md" --force \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
t "a write failing after 100 bytes (simulated full disk) is a run failure (1)" [ "$rc" -eq 1 ]
t "... one clear line: where it stopped and why" sh -c \
	"grep -q 'keep.md: write failed after 100 of [0-9]* bytes: No space left on device; the file was not changed' '$tmp/err'"
t "... one line only" one_line
t "... the old file is intact" sh -c "[ \"\$(cat '$d/keep.md')\" = 'old report' ]"
t "... and no temporary file is left" [ "$(ls -A "$d" | grep -c '^\.')" -eq 0 ]

# an unwritable folder: root ignores permissions, so run as nobody when root
chmod 755 "$tmp"
mkdir "$tmp/ro"
chmod 555 "$tmp/ro"
as_user=""
if [ "$(id -u)" -eq 0 ]; then
	if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
		# nobody must be able to run the build (not so under a 0700 home)
		$as_user "$precis" --version >/dev/null 2>&1 || as_user=none
	else
		as_user=none
	fi
fi
if [ "$as_user" = none ]; then
	skip "an unwritable folder is bad input (2)" "root, and nobody cannot run the build"
else
	$as_user "$precis" report --from "$golden/report_run.json" -o "$tmp/ro/r.md" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	t "an unwritable folder is bad input (2), found before any work" [ "$rc" -eq 2 ]
	t "... one line naming the folder and the reason" sh -c \
		"grep -q 'cannot write in $tmp/ro: Permission denied' '$tmp/err' && [ \$(wc -l <'$tmp/err') -eq 1 ]"
	t "... nothing left in it" [ "$(entries "$tmp/ro")" -eq 0 ]
fi

# ------------------------------------------------------------ disclosure
t "a 50-sample run (0)" run 0 report --eval-n 50 --format json -o "$d/small.json"
t "... is not decision-grade: too few samples per stratum" python3 - "$d/small.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["disclosure"]
assert d["decision_grade"] is False, d
small = [s for s in json.load(open(sys.argv[1]))["eval"]["strata"] if s["n"] < 30]
assert len(small) >= 10, small
assert any("too few samples for any 95%% interval: %d strata" % len(small) in r for r in d["reasons"]), d["reasons"]
PY
t "... and the Markdown says so at the top" sh -c \
	"'$precis' report --from '$d/small.json' -o - --format md | sed -n 3p | grep -q 'Verdict: not decision-grade'"
t "--max-loss 1 on 500 samples: the sample is too small for the criterion" sh -c \
	"'$precis' report --eval-n 500 --max-loss 1 --format json -o - | grep -q 'sample size too small for the 1.00-point criterion'"

# ------------------------------------------------------------ reproduction
t "the report's command reproduces the run's accuracy exactly" python3 - "$precis" "$d/r.json" <<'PY'
import json, shlex, subprocess, sys
precis, path = sys.argv[1], sys.argv[2]
rep = json.load(open(path))
argv = shlex.split(rep["report"]["command"])
assert argv[:2] == ["precis", "eval"], argv
again = json.loads(subprocess.run([precis] + argv[1:] + ["--json"], check=True, capture_output=True).stdout)
assert again["recipe"] == rep["recipe"], (again["recipe"], rep["recipe"])
key = lambda s: (s["name"], s["n"], s["ref"], s["quant"], s["delta"], s["ci95"], s["flips"])
assert [key(s) for s in again["eval"]["strata"]] == [key(s) for s in rep["eval"]["strata"]]
PY

# ------------------------------------------------------------ all sections from files
t "--from, --compare, --history, --sensitivity-file (0)" run 0 report --from "$golden/report_run.json" \
	--compare "$golden/report_pinned.json" --history "$golden/report_history.json" \
	--sensitivity-file "$golden/report_sensitivity.json" --hist-layer fc1 --date 2026-11-24 -o "$d/all.html"
t "... four charts, fc1's histogram, the date" sh -c \
	"[ \$(grep -c '<svg ' '$d/all.html') -eq 4 ] && grep -q 'Histograms of layer fc1' '$d/all.html' && grep -q 'Generated 2026-11-24' '$d/all.html'"
if command -v xmllint >/dev/null 2>&1; then
	t "... parses with xmllint" html_ok "$d/all.html"
else
	skip "... parses with xmllint" "xmllint not installed"
fi
python3 -c "
import json; h=json.load(open('$golden/report_history.json'))
print('\n'.join(json.dumps(r) for r in h))" >"$tmp/h.jsonl"
t "--history as JSON lines (sweep --jsonl) (0)" run 0 report --from "$golden/report_run.json" --history "$tmp/h.jsonl" \
	--format json -o -
t "... three runs, Pareto flags [false, true, true]" python3 -c "
import json; d=json.load(open('$tmp/out')); assert len(d['history'])==3; assert d['report']['history_on_frontier']==[False,True,True]"
t "an unknown --hist-layer (2)" run 2 report --from "$golden/report_run.json" \
	--sensitivity-file "$golden/report_sensitivity.json" --hist-layer nope -o "$d/n.md"
t "... named" grep -q "'nope'" "$tmp/err"
t "--sensitivity computes the per-layer section (0)" run 0 report --eval-n 300 --sensitivity -o "$d/s.md"
t "... per-layer statistics and a histogram" sh -c "grep -q '^## Per-layer sensitivity' '$d/s.md' && grep -q '^- weights, ' '$d/s.md'"

echo "1..$n"
finish
