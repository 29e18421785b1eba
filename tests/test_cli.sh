#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_cli.sh - the command line as a user meets it: help, version, exit
# codes and messages for bad usage, and `bench kernels --json` end to end.
. "${top_srcdir:-.}/tests/clilib.sh"

t "--version prints the version" sh -c "'$precis' --version | grep -qx 'precis 0.1.0'"
t "--help exits 0" run 0 --help
for c in tui eval sensitivity sweep search frontier report bench repl models; do
	t "--help lists '$c'" grep -q "precis $c" "$tmp/out"
done
t "--help marks no command as not built yet (all of SPEC §2 is built)" sh -c "! grep -q 'not built yet' '$tmp/out'"
t "tui --model with no such model is bad usage (2), before the screen is taken" run 2 tui --model no-such-model
t "... and names the model" grep -q "no-such-model" "$tmp/err"
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
t "bench model with a bad width is bad usage (2)" run 2 bench model --widths 100
t "... naming --widths in one line" sh -c "grep -q -- '--widths' '$tmp/err' && [ \$(wc -l < '$tmp/err') -eq 1 ]"
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
assert {"int8", "int8-f32", "int4-w4a32", "int4-w4a8", "fp8-e4m3"} <= kernels, kernels
for r in rows:
    for key in ("kernel", "m", "n", "k", "gops", "ref_kernel", "ref_gops", "ratio", "repeats"):
        assert key in r, key
    assert r["gops"] > 0 and r["ref_gops"] > 0 and r["ratio"] > 0, r
    assert r["repeats"] == 3
    assert abs(r["ratio"] - r["gops"] / r["ref_gops"]) < 1e-6 * r["ratio"], r
    assert r["threads"] in (1, 2)
    if r["m"] == 1:
        # --quick rotates two matrices: a smoke test, honestly not cache-cold
        assert not r["cold"] and r["ref_kernel"] == "openblas-sgemv", r
        assert r["rotated_matrices"] == 2 and r["ref_rotated_matrices"] == 2, r
    assert r["emulated"] == r["kernel"].startswith("fp8"), r
PY
t "PRECIS_ISA=ref runs the reference kernels" sh -c \
	"PRECIS_ISA=ref '$precis' bench kernels --quick --json --repeats 1 --threads 1 | grep -q '\"isa\":[[:space:]]*\"ref\"'"
t "bench kernels text table" run 0 bench kernels --quick --repeats 1 --threads 1
t "... shows ratios against OpenBLAS" grep -q "openblas-sgemm" "$tmp/out"


# models and eval end to end (a 500-image slice keeps this quick)
t "models --json" run 0 models --json
t "... lists cnn-fashion with its parameter count" python3 -c "
import json,sys; m=json.load(open('$tmp/out'))
c=[x for x in m if x['name']=='cnn-fashion'][0]
assert c['family']=='cnn' and c['params']==98442 and 'representative' in c['calib_sets'] and c['strata'][0]=='all', c"
t "eval --json on 500 images" run 0 eval --eval-n 500 --json --threads 2
cp "$tmp/out" "$tmp/eval1.json"
t "eval JSON follows SPEC §3" python3 - "$tmp/eval1.json" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
assert re.fullmatch(r"[0-9a-f]{64}", d["model"]["sha256"]), d["model"]
assert d["model"]["name"] == "cnn-fashion" and d["model"]["family"] == "cnn" and d["model"]["params"] == 98442
r = d["recipe"]
assert (r["weights"], r["acts"], r["kv"], r["granularity"], r["act_granularity"], r["calib_method"],
        r["calib_set"], r["calib_n"], r["weight_symmetric"], r["act_symmetric"]) == \
       ("int8", "int8", "fp32", "channel", "tensor", "minmax", "representative", 512, True, False), r
assert d["reference"] == "fp32" and d["metric"] == "top1"
ev = d["eval"]
assert ev["n"] == 500 and "bootstrap" in ev["ci_method"]
names = [s["name"] for s in ev["strata"]]
assert names[0] == "all" and "shirt" in names and "low-contrast" in names, names
for s in ev["strata"]:
    lo, hi = s["ci95"]
    assert lo <= hi and -1 <= lo and hi <= 1, s
    assert abs(s["delta"] - (s["quant"] - s["ref"])) < 1e-5, s
    assert isinstance(s["flips"], int) and 0 <= s["flips"] <= s["n"]
assert ev["strata"][0]["n"] == 500 and sum(s["n"] for s in ev["strata"][1:11]) == 500
assert ev["strata"][0]["extra"]["kernel_agreement"] >= 0.99, ev["strata"][0]["extra"]
assert ev["strata"][0]["ref"] > 0.85
t = d["throughput"]
assert t["unit"] == "samples/s" and t["ref"] > 0 and t["quant"] > 0 and t["threads"] == 2 and t["emulated"] is False
assert d["memory"]["weight_bytes_quant"] < d["memory"]["weight_bytes_ref"] / 3
assert all(k in d["timing"] for k in ("calib_ms", "quantize_ms", "eval_ms", "bench_ms"))
for k in ("task", "model", "metric", "reference", "calibration", "per_stratum", "ci_narrower_than_effect", "decision_grade"):
    assert isinstance(d["disclosure"][k], bool), k
PY
t "same seed, same strata" sh -c "'$precis' eval --eval-n 500 --json --threads 2 > '$tmp/eval2.json'"
t "... identical intervals and flips" python3 -c "
import json; a=json.load(open('$tmp/eval1.json'))['eval']; b=json.load(open('$tmp/eval2.json'))['eval']
assert a==b, 'runs differ'"
t "int4 per-tensor is labelled and runs" run 0 eval --eval-n 300 --weights int4 --granularity tensor --json
t "fp8 weights are marked emulated" run 0 eval --eval-n 300 --weights fp8-e4m3 --acts fp32 --json
t "... emulated: true" python3 -c "import json; assert json.load(open('$tmp/out'))['throughput']['emulated'] is True"
t "eval text table" run 0 eval --eval-n 300
t "... has the stratum table and throughput line" sh -c "grep -q '^all ' '$tmp/out' && grep -q 'speedup' '$tmp/out' && grep -q 'decision-grade' '$tmp/out'"
t "bad format is bad usage (2)" run 2 eval --weights int3
t "... naming the option" grep -q -- "--weights: 'int3'" "$tmp/err"
t "unknown model (2)" run 2 eval --model nope
t "... naming it" grep -q "'nope'" "$tmp/err"
t "kv cache on a CNN (2)" run 2 eval --eval-n 100 --kv int8
t "unknown layer in --keep (2)" run 2 eval --eval-n 100 --keep conv9
t "... listing the real layers" grep -q "conv1, conv2, conv3, fc1, fc2" "$tmp/err"
t "unknown calibration set (2)" run 2 eval --eval-n 100 --calib-set holiday
printf 'not a model' > "$tmp/bad.safetensors"
t "corrupt model file (2)" run 2 eval --model "$tmp/bad.safetensors"
t "... names the file and the problem" grep -q "bad.safetensors: header length" "$tmp/err"
t "recipe file with a bad key (2)" sh -c "echo '{\"weights\": \"int4\", \"wieghts\": 1}' > '$tmp/r.json'; '$precis' eval --recipe '$tmp/r.json' 2>'$tmp/err'; [ \$? -eq 2 ] && grep -q 'wieghts' '$tmp/err'"

echo "1..$n"
finish
