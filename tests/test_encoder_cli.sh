#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_encoder_cli.sh - the encoder family end to end on the command line:
# `precis eval --model encoder-langid --json` over the whole test split has
# the family's strata with the counts of the model card
# (data/models/encoder-langid.json: per language, per length bucket), an
# fp32 top1 equal to the card's measured test top1 (PyTorch, at the card's
# 4 decimals), and a small int8 delta; `precis models` lists the encoder
# and labels its -outliers variant; family-specific options are checked.
. "${top_srcdir:-.}/tests/clilib.sh"
card=${top_srcdir:-.}/data/models/encoder-langid.json

if ! [ -r /usr/share/dict/american-english ] || ! [ -r /usr/share/dict/polish ]; then
	skip "encoder family end to end" "word lists (wamerican ... wpolish) not installed"
	echo "1..$n"
	finish
	exit $?
fi

t "eval --model encoder-langid --json (whole test split): runs" \
	run 0 eval --model encoder-langid --threads 2 --json
cp "$tmp/out" "$tmp/int8.json"
t "... strata, counts and fp32 top1 as the model card says; int8 delta small" \
	python3 - "$card" "$tmp/int8.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))
d = json.load(open(sys.argv[2]))
st = {s["name"]: s for s in d["eval"]["strata"]}
names = [s["name"] for s in d["eval"]["strata"]]
assert names == card["strata"], names
assert d["model"]["family"] == "encoder" and "variant" not in d["model"], d["model"]
sc = card["split_counts"]["per_language"]
assert st["all"]["n"] == card["fp32"]["n"] == d["eval"]["n"]
for lang, counts in sc.items():
    assert st[lang]["n"] == counts[2], (lang, st[lang]["n"], counts)
for b, v in card["fp32"]["top1_per_length"].items():
    assert st[b]["n"] == v["n"], (b, st[b]["n"], v)
    assert round(st[b]["ref"], 4) == v["top1"], (b, st[b]["ref"], v)
assert st["rare"]["n"] == sc["english"][2] + sc["spanish"][2], st["rare"]["n"]
assert round(st["all"]["ref"], 4) == card["fp32"]["top1"], (st["all"]["ref"], card["fp32"]["top1"])
for lang, v in card["fp32"]["top1_per_language"].items():
    assert round(st[lang]["ref"], 4) == v, (lang, st[lang]["ref"], v)
assert round(st["all"]["extra"]["macro-f1"]["ref"], 4) == card["fp32"]["macro_f1"], st["all"]["extra"]
assert abs(st["all"]["delta"]) < 0.01, st["all"]
assert st["all"]["extra"]["kernel_agreement"] >= 0.99, st["all"]["extra"]
assert d["throughput"]["unit"] == "samples/s" and d["throughput"]["ref"] > 0
assert len(d["layers"]) == 13 and d["layers"][0]["name"] == "blocks.0.attn.qkv", d["layers"][0]
assert all(l["path"] == "int8 x int8 kernel" for l in d["layers"]), d["layers"]
assert d["calibration"]["used"] and "words" in d["calibration"]["sets"]
PY

t "eval on encoder-langid-outliers: runs" run 0 eval --model encoder-langid-outliers --eval-n 2000 --threads 2 \
	--json --act-granularity token
t "... model.variant labels the stress variant" python3 -c "
import json, sys
d = json.load(open('$tmp/out'))
assert 'not a trained model' in d['model']['variant'], d['model']
"
t "models --json: encoder-langid and the labelled variant" run 0 models --json
t "... with the encoder's strata and calibration sets" python3 -c "
import json
m = {o['name']: o for o in json.load(open('$tmp/out'))}
e, v = m['encoder-langid'], m['encoder-langid-outliers']
assert e['family'] == 'encoder' and e['metric'] == 'top1' and 'variant' not in e
assert e['strata'][-4:] == ['len1-4', 'len5-8', 'len9+', 'rare'] and len(e['strata']) == 17
assert e['calib_sets'] == ['representative', 'short', 'mismatched']
assert 'stress variant' in v['variant']
"
t "models: the variant's line says so" sh -c "'$precis' models | grep encoder-langid-outliers | grep -q 'stress variant'"
t "--calib-set small is not an encoder set (2)" run 2 eval --model encoder-langid --eval-n 100 --calib-set small
t "... the message lists the family's sets" grep -q "representative, short, mismatched" "$tmp/err"
t "--calib-set short:2000 is more than the set has (2)" run 2 eval --model encoder-langid --eval-n 100 \
	--calib-set short:2000
t "... the message says how many it has" grep -q "short:2000: the set has 1210 train words" "$tmp/err"
t "--kv int8 on the encoder is refused" sh -c "'$precis' eval --model encoder-langid --eval-n 100 --kv int8 \
	>/dev/null 2>'$tmp/err'; [ \$? -ne 0 ] && grep -q 'no KV cache' '$tmp/err'"
t "--attn int8 on the encoder: runs, recipe.attn says so" sh -c "'$precis' eval --model encoder-langid --eval-n 300 \
	--threads 2 --json --attn int8 > '$tmp/a.json' && python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"recipe\"][\"attn\"] == \"int8\"' '$tmp/a.json'"
t "the default recipe has attn fp32" python3 -c "import json; assert json.load(open('$tmp/int8.json'))['recipe']['attn'] == 'fp32'"
t "a recipe file with attn int8 is read" sh -c "echo '{\"attn\": \"int8\"}' > '$tmp/r.json' && '$precis' eval \
	--model encoder-langid --eval-n 200 --threads 2 --json --recipe '$tmp/r.json' > '$tmp/b.json' && \
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"recipe\"][\"attn\"] == \"int8\"' '$tmp/b.json'"
t "--attn fp16 is bad usage (2)" run 2 eval --model encoder-langid --eval-n 100 --attn fp16
t "... naming --attn and its values" grep -q -- "--attn: 'fp16' is not one of fp32, int8" "$tmp/err"
t "--metric bpc is not an encoder metric (2)" run 2 eval --model encoder-langid --eval-n 100 --metric bpc
t "... the message lists the family's metrics" grep -q "'bpc' is not one of top1, macro-f1, ece" "$tmp/err"
t "--attn int8 on the cnn is refused (2)" run 2 eval --eval-n 100 --attn int8
t "... saying it has no attention" grep -q "no attention products" "$tmp/err"

echo "1..$n"
finish
