#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_smooth_cli.sh - --smooth on the command line: alpha 0 reproduces, bit for
# bit, what precis printed before SmoothQuant existed
# (tests/golden/smooth_alpha0.json: eval.strata and layers of five recipes
# on 500 cnn-fashion images); a non-zero alpha is recorded per layer; bad
# values are bad usage.
. "${top_srcdir:-.}/tests/clilib.sh"
golden=${top_srcdir:-.}/tests/golden/smooth_alpha0.json

# same_as_golden INDEX : the last output's strata and layers equal run INDEX of the golden file
same_as_golden() {
	python3 - "$golden" "$1" "$tmp/out" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))["runs"][int(sys.argv[2])]
d = json.load(open(sys.argv[3]))
ok = d["eval"]["strata"] == g["strata"] and d["layers"] == g["layers"]
if not ok:
    a, b = g["strata"][0], d["eval"]["strata"][0]
    print("# want all-stratum quant %s delta %s, got %s %s" % (a["quant"], a["delta"], b["quant"], b["delta"]))
sys.exit(0 if ok else 1)
PY
}

i=0
for args in "" "--act-granularity token" "--weights int4" "--calib-method entropy" "--acts fp8-e4m3"; do
	# shellcheck disable=SC2086 # ARGS are words
	t "--smooth 0 ${args:-(default recipe)}: runs" run 0 eval --eval-n 500 --threads 2 --json --smooth 0 $args
	t "... strata and layers bit for bit as before SmoothQuant" same_as_golden $i
	i=$((i + 1))
done

t "--smooth 0.5 --keep conv1: runs" run 0 eval --eval-n 500 --threads 2 --json --smooth 0.5 --keep conv1
t "... recipe.smooth is 0.5, conv1 has no smooth object, the other layers have alpha, max_scale, min_scale" \
	python3 - "$tmp/out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["recipe"]["smooth"] == 0.5
ls = {l["name"]: l for l in d["layers"]}
assert "smooth" not in ls["conv1"], ls["conv1"]
for name in ("conv2", "conv3", "fc1", "fc2"):
    s = ls[name]["smooth"]
    assert s["alpha"] == 0.5 and 0 < s["min_scale"] <= s["max_scale"], s
    assert ls[name]["path"] == "int8 x int8 kernel", ls[name]
assert d["eval"]["strata"][0]["extra"]["kernel_agreement"] >= 0.99
PY

for v in -0.1 1.5 abc; do
	t "--smooth $v is bad usage (2)" run 2 eval --eval-n 100 --smooth "$v"
	t "... in one line naming --smooth and the value" sh -c "[ \$(wc -l < '$tmp/err') -eq 1 ] && grep -q -- \"--smooth: '$v'\" '$tmp/err'"
done
t "recipe file with smooth 1.5 is bad input (2)" sh -c "echo '{\"smooth\": 1.5}' > '$tmp/r.json'; '$precis' eval --eval-n 100 --recipe '$tmp/r.json' 2>'$tmp/err'; [ \$? -eq 2 ] && grep -q 'smooth' '$tmp/err'"

echo "1..$n"
finish
