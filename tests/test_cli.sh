#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_cli.sh - the command line as a user meets it: help, version, exit
# codes and messages for bad usage, and `bench kernels --json` end to end.
precis=${top_builddir:-.}/src/precis
n=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t() { # t DESCRIPTION COMMAND... : one test point from a command's status
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failed=$((failed + 1)); fi
}

# run EXPECTED-STATUS ARGS... : runs precis, keeps stdout/stderr in $tmp
run() {
	want=$1
	shift
	"$precis" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ] || { echo "# precis $*: exit $got, want $want"; sed 's/^/# /' "$tmp/err"; return 1; }
}

t "--version prints the version" sh -c "'$precis' --version | grep -qx 'precis 0.1.0'"
t "--help exits 0" run 0 --help
for c in tui eval sensitivity sweep search frontier report bench repl models; do
	t "--help lists '$c'" grep -q "precis $c" "$tmp/out"
done
t "--help says which commands are not built yet" grep -q "not built yet" "$tmp/out"
t "unknown command is bad usage (2)" run 2 frobnicate
t "... and names it" grep -q "frobnicate" "$tmp/err"
t "... in one line on stderr" sh -c "[ \$(wc -l < '$tmp/err') -eq 1 ]"
t "unknown bench option is bad usage (2)" run 2 bench kernels --bogus
t "... and names it" grep -q -- "--bogus" "$tmp/err"
t "--threads must be a number (2)" run 2 bench kernels --threads two
t "... message names --threads and the value" grep -q -- "--threads: 'two'" "$tmp/err"
t "--threads 0 is out of range (2)" run 2 bench kernels --threads 0
t "--repeats without a value (2)" run 2 bench kernels --repeats
t "bench without a target (2)" run 2 bench
t "an unbuilt command fails honestly (1)" run 1 eval
t "... saying it is not built yet" grep -q "not built yet" "$tmp/err"
t "PRECIS_ISA=bogus is rejected (2)" sh -c "PRECIS_ISA=bogus '$precis' --version >/dev/null 2>&1; [ \$? -eq 2 ]"

# bench kernels end to end, quick shapes; JSON per SPEC §5.
t "bench kernels --quick --json runs" run 0 bench kernels --quick --json --repeats 3 --threads 2
cp "$tmp/out" "$tmp/bench.json"
t "bench JSON has the SPEC fields and sane values" python3 - "$tmp/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["isa"] in ("ref", "avx2", "avx512vnni"), d["isa"]
assert d["threads"] == 2
rows = d["results"]
kernels = {r["kernel"] for r in rows}
assert {"int8", "int4-w4a32", "int4-w4a8", "fp8-e4m3"} <= kernels, kernels
for r in rows:
    for key in ("kernel", "m", "n", "k", "gops", "ref_kernel", "ref_gops", "ratio", "repeats"):
        assert key in r, key
    assert r["gops"] > 0 and r["ref_gops"] > 0 and r["ratio"] > 0, r
    assert r["repeats"] == 3
    assert abs(r["ratio"] - r["gops"] / r["ref_gops"]) < 1e-6 * r["ratio"], r
    assert r["threads"] in (1, 2)
    if r["m"] == 1:
        assert r["cold"] and r["ref_kernel"] == "openblas-sgemv", r
        assert r["rotated_matrices"] > 1 and r["ref_rotated_matrices"] > 1, r
    assert r["emulated"] == r["kernel"].startswith("fp8"), r
PY
t "PRECIS_ISA=ref runs the reference kernels" sh -c \
	"PRECIS_ISA=ref '$precis' bench kernels --quick --json --repeats 1 --threads 1 | grep -q '\"isa\":[[:space:]]*\"ref\"'"
t "bench kernels text table" run 0 bench kernels --quick --repeats 1 --threads 1
t "... shows ratios against OpenBLAS" grep -q "openblas-sgemm" "$tmp/out"

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
