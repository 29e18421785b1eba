#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_rnn_cli.sh - the rnn language-model family end to end on the command
# line: `precis eval --model rnn-text --json` evaluates 64 windows of 2048
# bytes and has the family's strata (all, the 10 fortune groups, pos0-63,
# pos64-255, pos256-1023, pos1024+, shifted) with counts adding up, metric
# bpc with lower-is-better verdicts (a bpc increase whose window-cluster
# interval excludes zero is a loss; no interval from fewer than 5 windows),
# top1 / ppl_ratio / top1_agree / dp_true / kld extras with intervals,
# throughput in tokens/s; `precis models` lists rnn-text; the family's
# calibration sets are checked; --attn and --kv are refused.
. "${top_srcdir:-.}/tests/clilib.sh"

if ! [ -r /usr/share/games/fortunes/fortunes ]; then
	skip "rnn family end to end" "fortunes (package fortunes) not installed"
	echo "1..$n"
	finish
	exit $?
fi

t "eval --model rnn-text --json (default: 64 windows of 2048 bytes): runs" \
	run 0 eval --model rnn-text --threads 2 --json
cp "$tmp/out" "$tmp/int8.json"
t "... strata, counts, metric bpc, extras, tokens/s" python3 - "$tmp/int8.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
names = [s["name"] for s in d["eval"]["strata"]]
groups = ["computing", "cookie", "definitions", "humour", "science", "society", "politics", "work", "literature",
          "wisdom"]
pos = ["pos0-63", "pos64-255", "pos256-1023", "pos1024+"]
assert names == ["all"] + groups + pos + ["shifted"], names
st = {s["name"]: s for s in d["eval"]["strata"]}
assert d["eval"]["n"] == 131072, d["eval"]["n"]
assert "cluster bootstrap over the 64 evaluation windows of 2048 tokens" in d["eval"]["ci_method"], d["eval"]
assert d["metric"] == "bpc" and d["eval"]["higher_is_better"] is False
assert d["model"]["family"] == "rnn" and d["model"]["name"] == "rnn-text"
assert st["all"]["n"] + st["shifted"]["n"] == d["eval"]["n"]
assert st["all"]["n"] % 2048 == 0 and st["shifted"]["n"] % 2048 == 0
assert sum(st[g]["n"] for g in groups) == st["all"]["n"]
assert sum(st[p]["n"] for p in pos) == st["all"]["n"]
nw = st["all"]["n"] // 2048  # in-domain windows: each has 64, 192, 768, 1024 tokens in the buckets
assert [st[p]["n"] for p in pos] == [64 * nw, 192 * nw, 768 * nw, 1024 * nw], [st[p]["n"] for p in pos]
assert 2.0 < st["all"]["ref"] < 2.6 and st["shifted"]["ref"] > st["all"]["ref"] + 1, (st["all"], st["shifted"])
assert st["pos0-63"]["ref"] > st["pos1024+"]["ref"]  # less context, more bits
for s in d["eval"]["strata"]:
    e = s["extra"]
    lo, hi = s["ci95"]
    windows = nw if s["name"] in pos else s["n"] // 2048  # a group holds whole windows
    if windows < 5:
        assert lo is None and hi is None and s["verdict"] == "too few windows" and "ci_note" in s, s
    else:
        assert lo <= s["delta"] <= hi, s
        want = "loss" if lo > 0 else "gain" if hi < 0 else "within noise"
        assert s["verdict"] == want, s
    assert abs(e["ppl_ratio"]["value"] - 2 ** s["delta"]) < 2e-5, s
    assert abs(e["top1_agree"]["value"] - (1 - s["flips"] / s["n"])) < 2e-6, s
    assert -0.01 < e["dp_true"]["value"] < 0.01, s
    k = e["kld"]
    assert 0 < k["value"] <= k["p999"] and 0 < k["p99"] <= k["p999"] < 1, s
    if lo is not None:
        for name in ("ppl_ratio", "top1_agree", "dp_true", "kld"):
            a, b = e[name]["ci95"]
            assert a <= e[name]["value"] <= b, (name, s)
assert abs(st["all"]["delta"]) < 0.02 and st["all"]["extra"]["kernel_agreement"] >= 0.99, st["all"]
assert d["throughput"]["unit"] == "tokens/s" and d["throughput"]["ref"] > 0 and d["throughput"]["quant"] > 0
assert d["memory"]["kv_bytes_ref"] == d["memory"]["kv_bytes_quant"] == 0  # no KV cache
for k in ("pp128", "tg128"):  # batch-1 prompt and generation speed, when reported
    if k in d["throughput"]:
        assert d["throughput"][k]["ref"] > 0 and d["throughput"][k]["quant"] > 0, d["throughput"]
fd = st["all"]["extra"].get("first_divergence")
if fd is not None:
    assert fd["prompts"] == 64 and fd["of"] == 224 and 0 <= fd["value"] <= 224, fd
    assert 0 <= fd["identical"] <= 64 and (fd["identical"] == 64) == (fd["value"] == 224), fd
assert len(d["layers"]) == 5 and d["layers"][0]["name"].startswith("gru"), d["layers"]
assert d["calibration"]["used"] and "2048-byte" in d["calibration"]["sets"]
PY

t "eval --weights int4 --acts fp32 --eval-n 16384: runs" \
	run 0 eval --model rnn-text --threads 2 --weights int4 --acts fp32 --eval-n 16384 --json
t "... a bpc increase is a loss, lower is better" python3 -c "
import json
d = json.load(open('$tmp/out'))
assert d['eval']['n'] == 16384, d['eval']['n']
for s in [s for s in d['eval']['strata'] if s['n'] > 0]:  # an empty stratum has no numbers (null)
    lo, hi = s['ci95']
    want = 'too few windows' if lo is None else 'loss' if lo > 0 else 'gain' if hi < 0 else 'within noise'
    assert s['verdict'] == want, s
a = [s for s in d['eval']['strata'] if s['name'] == 'all'][0]
assert a['n'] >= 5 * 2048 and a['delta'] > 0.02 and a['verdict'] == 'loss', a
"
t "eval --calib-set short: runs" run 0 eval --model rnn-text --threads 2 --calib-set short:256 --eval-n 1024 --json
t "eval --calib-set mismatched: refused" run 2 eval --model rnn-text --calib-set mismatched --eval-n 1024
t "... naming the family's sets" grep -q "representative, short" "$tmp/err"
t "eval --attn int8: refused (no attention)" run 2 eval --model rnn-text --attn int8 --eval-n 1024
t "eval --kv int8: refused (no KV cache)" run 2 eval --model rnn-text --kv int8 --eval-n 1024
t "... in a sentence naming the family" grep -q "the rnn family has no KV cache" "$tmp/err"
t "models --json: rnn-text" run 0 models --json
t "... with bpc, its strata and calibration sets" python3 -c "
import json
m = [e for e in json.load(open('$tmp/out')) if e['name'] == 'rnn-text']
assert len(m) == 1, m
m = m[0]
assert m['family'] == 'rnn' and m['metric'] == 'bpc' and m['metrics'] == ['bpc', 'top1'], m
assert m['calib_sets'] == ['representative', 'short'] and len(m['strata']) == 16 and m['strata'][11:15] == ['pos0-63', 'pos64-255', 'pos256-1023', 'pos1024+'], m
"
echo "1..$n"
finish
