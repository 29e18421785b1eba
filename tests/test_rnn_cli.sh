#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_rnn_cli.sh - the rnn language-model family end to end on the command
# line: `precis eval --model rnn-text --json` has the family's strata (all,
# the 10 fortune groups, pos0-63, pos64-127, shifted) with counts adding
# up, metric bpc with lower-is-better verdicts (a bpc increase whose
# interval excludes zero is a loss), top1 / ppl_ratio / top1_agree / kld extras,
# throughput in tokens/s; `precis models` lists rnn-text; the family's
# calibration sets are checked.
. "${top_srcdir:-.}/tests/clilib.sh"

if ! [ -r /usr/share/games/fortunes/fortunes ]; then
	skip "rnn family end to end" "fortunes (package fortunes) not installed"
	echo "1..$n"
	finish
	exit $?
fi

t "eval --model rnn-text --json (default: 512 windows): runs" \
	run 0 eval --model rnn-text --threads 2 --json
cp "$tmp/out" "$tmp/int8.json"
t "... strata, counts, metric bpc, extras, tokens/s" python3 - "$tmp/int8.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
names = [s["name"] for s in d["eval"]["strata"]]
groups = ["computing", "cookie", "definitions", "humour", "science", "society", "politics", "work", "literature",
          "wisdom"]
assert names == ["all"] + groups + ["pos0-63", "pos64-127", "shifted"], names
st = {s["name"]: s for s in d["eval"]["strata"]}
assert d["eval"]["n"] == 65536, d["eval"]["n"]
assert d["metric"] == "bpc" and d["eval"]["higher_is_better"] is False
assert d["model"]["family"] == "rnn" and d["model"]["name"] == "rnn-text"
assert st["all"]["n"] + st["shifted"]["n"] == d["eval"]["n"]
assert sum(st[g]["n"] for g in groups) == st["all"]["n"]
assert st["pos0-63"]["n"] == st["pos64-127"]["n"] == st["all"]["n"] // 2
assert 2.0 < st["all"]["ref"] < 2.6 and st["shifted"]["ref"] > st["all"]["ref"] + 1, (st["all"], st["shifted"])
assert st["pos0-63"]["ref"] > st["pos64-127"]["ref"]  # less context, more bits
for s in d["eval"]["strata"]:
    e = s["extra"]
    assert set(["top1", "ppl_ratio", "top1_agree"]) <= set(e), e
    assert abs(e["ppl_ratio"] - 2 ** s["delta"]) < 1e-5 * max(1, e["ppl_ratio"]), s
    assert abs(e["top1_agree"] - (1 - s["flips"] / s["n"])) < 1e-5, s
    k = e["kld"]
    assert 0 < k["mean"] <= k["p999"] and 0 < k["p99"] <= k["p999"] < 1, s
assert abs(st["all"]["delta"]) < 0.02 and st["all"]["extra"]["kernel_agreement"] >= 0.99, st["all"]
assert d["throughput"]["unit"] == "tokens/s" and d["throughput"]["ref"] > 0 and d["throughput"]["quant"] > 0
assert len(d["layers"]) == 5 and d["layers"][0]["name"].startswith("gru"), d["layers"]
assert d["calibration"]["used"] and "128-byte" in d["calibration"]["sets"]
PY

t "eval --weights int4 --acts fp32: runs" \
	run 0 eval --model rnn-text --threads 2 --weights int4 --acts fp32 --eval-n 8192 --json
t "... a bpc increase is a loss, lower is better" python3 -c "
import json
d = json.load(open('$tmp/out'))
assert d['eval']['n'] == 8192, d['eval']['n']
for s in [s for s in d['eval']['strata'] if s['n'] > 0]:  # an empty stratum has no numbers (null)
    lo, hi = s['ci95']
    want = 'loss' if lo > 0 else 'gain' if hi < 0 else 'within noise'
    assert s['verdict'] == want, s
a = [s for s in d['eval']['strata'] if s['name'] == 'all'][0]
assert a['delta'] > 0.02 and a['verdict'] == 'loss', a
"
t "eval --calib-set short: runs" run 0 eval --model rnn-text --threads 2 --calib-set short:256 --eval-n 1024 --json
t "eval --calib-set mismatched: refused" run 2 eval --model rnn-text --calib-set mismatched --eval-n 1024
t "... naming the family's sets" grep -q "representative, short" "$tmp/err"
t "eval --attn int8: refused (no attention)" run 2 eval --model rnn-text --attn int8 --eval-n 1024
t "models --json: rnn-text" run 0 models --json
t "... with bpc, its strata and calibration sets" python3 -c "
import json
m = [e for e in json.load(open('$tmp/out')) if e['name'] == 'rnn-text']
assert len(m) == 1, m
m = m[0]
assert m['family'] == 'rnn' and m['metric'] == 'bpc' and m['metrics'] == ['bpc', 'top1'], m
assert m['calib_sets'] == ['representative', 'short'] and len(m['strata']) == 14, m
"
echo "1..$n"
finish
