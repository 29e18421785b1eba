#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_dec_cli.sh - the decoder language-model family end to end on the
# command line: `precis eval --model decoder-text --json` evaluates 256
# windows of 256 bytes with the family's strata (all, the 10 fortune
# groups, pos0-31, pos32-127, pos128+, shifted) and counts adding up,
# window-cluster intervals, the LM extras, first_divergence from 64 prompts,
# batch-1 pp128 / tg128 and the KV cache's bytes; --kv int4 packs the
# cache to 640 bytes per token; --attn int8 runs; the -outliers variant is
# labelled; `precis models` lists both; the text report shows the batch-1,
# KV-cache and first_divergence lines.
. "${top_srcdir:-.}/tests/clilib.sh"

if ! [ -r /usr/share/games/fortunes/fortunes ]; then
	skip "decoder family end to end" "fortunes (package fortunes) not installed"
	echo "1..$n"
	finish
	exit $?
fi

t "eval --model decoder-text --json (default: 256 windows of 256 bytes): runs" \
	run 0 eval --model decoder-text --threads 2 --json
cp "$tmp/out" "$tmp/int8.json"
t "... strata, counts, intervals, extras, first_divergence, pp128/tg128, KV bytes" python3 - "$tmp/int8.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
groups = ["computing", "cookie", "definitions", "humour", "science", "society", "politics", "work", "literature",
          "wisdom"]
pos = ["pos0-31", "pos32-127", "pos128+"]
names = [s["name"] for s in d["eval"]["strata"]]
assert names == ["all"] + groups + pos + ["shifted"], names
st = {s["name"]: s for s in d["eval"]["strata"]}
assert d["model"]["family"] == "decoder" and d["model"]["name"] == "decoder-text" and "variant" not in d["model"]
assert d["metric"] == "bpc" and d["eval"]["higher_is_better"] is False
assert d["eval"]["n"] == 65536, d["eval"]["n"]
assert "cluster bootstrap over the 256 evaluation windows of 256 tokens" in d["eval"]["ci_method"], d["eval"]
assert st["all"]["n"] + st["shifted"]["n"] == d["eval"]["n"] and st["shifted"]["n"] % 256 == 0
assert sum(st[g]["n"] for g in groups) == st["all"]["n"]
nw = st["all"]["n"] // 256  # each in-domain window: 32, 96, 128 tokens in the position buckets
assert [st[p]["n"] for p in pos] == [32 * nw, 96 * nw, 128 * nw], [st[p]["n"] for p in pos]
assert 2.0 < st["all"]["ref"] < 2.4 and st["shifted"]["ref"] > st["all"]["ref"] + 1, (st["all"], st["shifted"])
assert st["pos0-31"]["ref"] > st["pos128+"]["ref"]  # less context, more bits
for s in d["eval"]["strata"]:
    e = s["extra"]
    lo, hi = s["ci95"]
    windows = nw if s["name"] in pos else s["n"] // 256
    if windows < 5:
        assert lo is None and s["verdict"] == "too few windows", s
        continue
    assert lo <= s["delta"] <= hi, s
    assert s["verdict"] == ("loss" if lo > 0 else "gain" if hi < 0 else "within noise"), s
    assert abs(e["ppl_ratio"]["value"] - 2 ** s["delta"]) < 2e-5, s
    assert abs(e["top1_agree"]["value"] - (1 - s["flips"] / s["n"])) < 2e-6, s
    for k in ("ppl_ratio", "top1_agree", "dp_true", "kld"):
        a, b = e[k]["ci95"]
        assert a <= e[k]["value"] <= b, (k, s)
    assert 0 < e["kld"]["value"] <= e["kld"]["p999"] and e["kld"]["p99"] <= e["kld"]["p999"], s
fd = st["all"]["extra"]["first_divergence"]
assert fd["prompts"] == 64 and fd["of"] == 224 and 0 <= fd["identical"] <= 64, fd
assert 0 <= fd["value"] <= 224 and fd["ci95"][0] <= fd["value"] <= fd["ci95"][1], fd
assert (fd["identical"] == 64) == (fd["value"] == 224), fd
gp = [st[g]["extra"]["first_divergence"]["prompts"] for g in groups if "first_divergence" in st[g]["extra"]]
assert sum(gp) == 64 and len(gp) > 1, gp  # every prompt belongs to one group
assert all("first_divergence" not in st[p]["extra"] for p in pos + ["shifted"])
tp = d["throughput"]
assert tp["unit"] == "tokens/s" and tp["pp_tg_batch"] == 1, tp
for k in ("pp128", "tg128"):
    assert tp[k]["ref"] > 0 and tp[k]["quant"] > 0, tp
    assert abs(tp[k]["speedup"] - tp[k]["quant"] / tp[k]["ref"]) < 2e-3 * max(1, tp[k]["speedup"]), tp
m = d["memory"]
assert m["kv_bytes_per_token_ref"] == m["kv_bytes_per_token_quant"] == 4096, m  # 2 x 4 blocks x 128 x 4 bytes
assert m["kv_context"] == 256 and m["kv_bytes_ref"] == m["kv_bytes_quant"] == 4096 * 256 and m["kv_storage"] == "fp32", m
assert d["recipe"]["kv"] == "fp32" and d["recipe"]["attn"] == "fp32"
assert len(d["layers"]) == 17 and d["layers"][-1]["name"] == "head", [l["name"] for l in d["layers"]]
assert d["calibration"]["used"] and "256-byte" in d["calibration"]["sets"]
PY

t "eval --kv int4 --eval-n 2048: runs" run 0 eval --model decoder-text --threads 2 --kv int4 --eval-n 2048 --json
t "... packs the cache to 640 bytes per token, costs bits" python3 - "$tmp/out" "$tmp/int8.json" <<'PY'
import json, sys
d, base = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
m = d["memory"]
assert d["recipe"]["kv"] == "int4" and d["eval"]["n"] == 2048
assert m["kv_bytes_per_token_quant"] == 640 and m["kv_bytes_quant"] == 640 * 256, m  # 2 x 4 x (64 + 16)
assert m["kv_bytes_ref"] == 4096 * 256 and "per token and head" in m["kv_storage"], m
a = [s for s in d["eval"]["strata"] if s["name"] == "all"][0]
assert a["delta"] > 0 and a["extra"]["kld"]["value"] > 0, a
fd = a["extra"]["first_divergence"]
assert fd["prompts"] == 64 and fd["value"] < 224, fd  # int4 keys and values change some generation
PY
t "eval --kv int8 on rnn-text: refused" run 2 eval --model rnn-text --kv int8 --eval-n 2048
t "... with a sentence" grep -q "no KV cache (decoder models only)" "$tmp/err"
t "eval --kv int2: refused" run 2 eval --model decoder-text --kv int2 --eval-n 256

t "eval --attn int8 --eval-n 2048: runs" run 0 eval --model decoder-text --threads 2 --attn int8 --eval-n 2048 --json
t "... int8 attention products in the recipe" python3 -c "
import json
d = json.load(open('$tmp/out'))
assert d['recipe']['attn'] == 'int8' and d['model']['family'] == 'decoder', d['recipe']
a = [s for s in d['eval']['strata'] if s['name'] == 'all'][0]
assert abs(a['delta']) < 0.1 and 'first_divergence' in a['extra'], a
"

t "eval --model decoder-text-outliers: runs" \
	run 0 eval --model decoder-text-outliers --threads 2 --eval-n 2048 --json
t "... labelled as the stress variant" python3 -c "
import json
d = json.load(open('$tmp/out'))
assert d['model']['name'] == 'decoder-text-outliers' and d['model']['family'] == 'decoder', d['model']
assert 'outliers' in d['model']['variant'] and 'not a trained model' in d['model']['variant'], d['model']
assert len(d['eval']['strata']) == 15
"

t "models --json: decoder-text and its variant" run 0 models --json
t "... with bpc, 15 strata and calibration sets" python3 -c "
import json
ms = {e['name']: e for e in json.load(open('$tmp/out'))}
for name in ('decoder-text', 'decoder-text-outliers'):
    m = ms[name]
    assert m['family'] == 'decoder' and m['metric'] == 'bpc' and m['metrics'] == ['bpc', 'top1'], m
    assert len(m['strata']) == 15 and m['strata'][11:14] == ['pos0-31', 'pos32-127', 'pos128+'], m
    assert m['calib_sets'] == ['representative', 'short'], m
assert 'variant' in ms['decoder-text-outliers'] and 'variant' not in ms['decoder-text']
"

t "eval --model decoder-text (text report): runs" \
	run 0 eval --model decoder-text --threads 2 --kv int8 --eval-n 2048
t "... with the batch-1, KV-cache and first_divergence lines" sh -c "
grep -q '^batch 1: pp128 fp32 [0-9]*, quantized [0-9]* tokens/s' '$tmp/out' &&
grep -q 'tg128 fp32 [0-9]*, quantized [0-9]* tokens/s' '$tmp/out' &&
grep -q '^KV cache: 4096 -> 1152 bytes per token (1048576 -> 294912 bytes for a 256-token context)' '$tmp/out' &&
grep -q 'first_divergence' '$tmp/out' &&
grep -q '^all .* of 224, 64 prompts' '$tmp/out'"
echo "1..$n"
finish
