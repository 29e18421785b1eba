#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_analysis.sh - `precis sensitivity | sweep | search | frontier` end to
# end on a slice of the evaluation set: JSON shapes, exit codes and
# messages, sweep shards against the unsharded sweep, the frontier's table,
# plot and bad-line messages, the search's recipe file.
. "${top_srcdir:-.}/tests/clilib.sh"
common="--eval-n 200 --threads 2 --calib-set representative:64"

if [ ! -r /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
	echo "1..0 # SKIP Fashion-MNIST is not installed (dataset-fashion-mnist)"
	exit 0
fi

# ------------------------------------------------------------ sensitivity
t "sensitivity --json on 200 images" run 0 sensitivity $common --weights int4 --json
cp "$tmp/out" "$tmp/sens.json"
t "sensitivity JSON follows SPEC §5 with deltas, intervals, flips, histograms" python3 - "$tmp/sens.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"]["name"] == "cnn-fashion" and d["recipe"]["weights"] == "int4" and d["metric"] == "top1"
assert d["full"] is True and d["elapsed_ms"] > 0
names = [l["name"] for l in d["layers"]]
assert names == ["conv1", "conv2", "conv3", "fc1", "fc2"], names
assert sorted(d["ranking"]) == sorted(names) and sorted(l["rank"] for l in d["layers"]) == [1, 2, 3, 4, 5]
for l in d["layers"]:
    for k in ("name", "type", "shape", "weight_absmax", "act_absmax", "act_p999", "outlier_ratio", "weight_sqnr_db",
              "output_sqnr_db", "delta_alone", "ci95", "delta_all_but", "flips_attributed", "fraction_clipped", "hist"):
        assert k in l, (l["name"], k)
    assert l["weights"] == "int4" and l["acts"] == "int8"
    assert l["ci95"][0] <= l["delta_alone"] <= l["ci95"][1], l
    for v in ("alone", "all_but"):
        o = l[v]
        assert o["ci95"][0] <= o["delta"] <= o["ci95"][1] and isinstance(o["flips"], int)
        mm = o["moved_most"]
        assert mm is None or (mm["stratum"] != "all" and mm["ci95"][0] <= mm["delta"] <= mm["ci95"][1]), mm
    assert 0 <= l["flips_attributed"] <= d["full_recipe"]["flips"]
    assert l["act_p999"] <= l["act_absmax"] and abs(l["outlier_ratio"] - l["act_absmax"] / l["act_p999"]) < 0.01
    h = l["hist"]
    assert len(h["weights"]["counts"]) == 64 and len(h["acts"]["counts"]) == 64
    assert sum(h["weights"]["counts"]) == l["shape"][0] * (l["shape"][1] * (l["shape"][2] * l["shape"][3] if len(l["shape"]) == 4 else 1))
    assert h["clip"]["weights"][0] < 0 < h["clip"]["weights"][1] and len(h["clip"]["acts"]) == 2
assert d["layers"][0]["type"] == "conv2d" and d["layers"][0]["shape"] == [16, 1, 3, 3]
assert d["layers"][3]["type"] == "linear" and d["layers"][3]["shape"] == [128, 576]
PY
t "sensitivity --stats is statistics only" run 0 sensitivity $common --stats --json
t "... without deltas" python3 -c "
import json; d=json.load(open('$tmp/out')); assert d['full'] is False and 'delta_alone' not in d['layers'][0] and d['layers'][0]['rank'] >= 1"
t "sensitivity text table" run 0 sensitivity $common --weights int4
t "... has both tables and the timing" sh -c "grep -q '^ *1 ' '$tmp/out' && grep -q 'flips attributed' '$tmp/out' && grep -q 'full sensitivity in' '$tmp/out'"
t "sensitivity with a bad option (2)" run 2 sensitivity --weights int3
t "sensitivity --keep of a missing layer (2)" run 2 sensitivity $common --keep conv9
t "... names the real layers" grep -q "conv1, conv2, conv3, fc1, fc2" "$tmp/err"

# ------------------------------------------------------------------ sweep
vary="--vary weights=int8,int4 --vary granularity=channel,tensor --vary calib-method=minmax,percentile:99.9"
t "sweep --jsonl, 8 points" run 0 sweep $common $vary --jsonl
cp "$tmp/out" "$tmp/all.jsonl"
t "... one line per point, in grid order, with its values" python3 - "$tmp/all.jsonl" <<'PY'
import json, sys
lines = [json.loads(x) for x in open(sys.argv[1])]
assert [l["grid"]["index"] for l in lines] == list(range(8)), [l["grid"]["index"] for l in lines]
assert all(l["grid"]["size"] == 8 for l in lines)
# the first --vary changes slowest
assert [l["grid"]["values"]["weights"] for l in lines] == ["int8"] * 4 + ["int4"] * 4
assert [l["grid"]["values"]["calib-method"] for l in lines[:2]] == ["minmax", "percentile:99.9"]
for l in lines:
    assert l["recipe"]["weights"] == l["grid"]["values"]["weights"]
    assert l["recipe"]["granularity"] == l["grid"]["values"]["granularity"]
    assert l["recipe"]["calib_method"] == l["grid"]["values"]["calib-method"]
    assert l["throughput"]["quant"] > 0 and l["eval"]["n"] == 200
PY
for i in 0 1 2; do
	# one thread here, two for the unsharded sweep: results must not depend on it
	t "sweep shard $i/3" run 0 sweep $common --threads 1 $vary --jsonl --shard $i/3
	cp "$tmp/out" "$tmp/shard$i.jsonl"
done
t "shard I/N runs points I, I+N, ..." python3 -c "
import json
for i in range(3):
    idx = [json.loads(x)['grid']['index'] for x in open('$tmp/shard%d.jsonl' % i)]
    assert idx == list(range(i, 8, 3)), idx"
cat "$tmp/shard0.jsonl" "$tmp/shard1.jsonl" "$tmp/shard2.jsonl" | sort -t: -k3,3n > "$tmp/merged.jsonl"
t "shards (1 thread) concatenated and sorted by index (sort -t: -k3,3n) equal the unsharded sweep (2) but for timing" \
	python3 - "$tmp/all.jsonl" "$tmp/merged.jsonl" <<'PY'
import json, sys
def strip(o):
    o = json.loads(o)
    o.pop("timing")
    for k in ("ref", "quant", "speedup", "threads"):
        o["throughput"].pop(k)
    return o
a = [strip(x) for x in open(sys.argv[1])]
b = [strip(x) for x in open(sys.argv[2])]
assert len(a) == len(b) == 8
for x, y in zip(a, b):
    assert x == y, (x["grid"], [k for k in x if x[k] != y.get(k)])
PY
t "sweep text table" run 0 sweep $common --vary weights=int8,int4
t "... one row per point" sh -c "[ \$(grep -c 'weights=int' '$tmp/out') -eq 2 ]"
t "sweep without --vary (2)" run 2 sweep $common
t "sweep --vary of an unknown key (2)" run 2 sweep --vary wieghts=int8
t "... names it in one line" sh -c "grep -q wieghts '$tmp/err' && [ \$(wc -l < '$tmp/err') -eq 1 ]"
t "sweep --shard 3/3 (2)" run 2 sweep --vary weights=int8 --shard 3/3
t "sweep --shard x (2)" run 2 sweep --vary weights=int8 --shard x
t "sweep --json (2: the option is --jsonl)" run 2 sweep --vary weights=int8 --json
# a point the model cannot run: cnn-fashion has no KV cache
t "sweep with a failing point (1)" run 1 sweep $common --vary kv=fp32,int8
t "... its row says n/a for throughput and speedup, never nan" sh -c \
	"grep -q '^ *1  kv=int8  *failed: see stderr  *n/a  *n/a\$' '$tmp/out' && ! grep -qi nan '$tmp/out'"
t "sweep --jsonl with a failing point (1)" run 1 sweep $common --vary kv=fp32,int8 --jsonl
cp "$tmp/out" "$tmp/failing.jsonl"
head -n 1 "$tmp/all.jsonl" >"$tmp/point0.json"
t "report --history of it leaves the failed line out, and says so (0)" \
	run 0 report --from "$tmp/point0.json" --history "$tmp/failing.jsonl" --format md -o -
t "... one history row, the skip counted, no nan" sh -c \
	"grep -q '^1 failed point of the history (an error, no result) is left out.' '$tmp/out' &&
	 grep -q '^|   1 | W int8 channel' '$tmp/out' && [ \$(grep -c '^| *[0-9]* | W ' '$tmp/out') -eq 1 ] &&
	 ! grep -q 'nan' '$tmp/out'"

# --------------------------------------------------------------- frontier
t "frontier on the sweep" run 0 frontier "$tmp/all.jsonl" --ascii
t "... a table of frontier points and an ASCII plot with '*' marks" sh -c \
	"grep -q 'Pareto frontier' '$tmp/out' && grep -q 'samples/s' '$tmp/out' && grep -q '|.*\*' '$tmp/out'"
t "... the frontier rows are exactly eng_pareto's (checked in Python)" python3 - "$tmp/all.jsonl" "$tmp/out" <<'PY'
import json, re, sys
pts = [json.loads(x) for x in open(sys.argv[1])]
xy = [(p["throughput"]["quant"], p["eval"]["strata"][0]["delta"], p["grid"]["index"]) for p in pts]
front = {i for (x, y, i) in xy if not any((x2 >= x and y2 >= y and (x2 > x or y2 > y)) for (x2, y2, _) in xy)}
out = open(sys.argv[2]).read()
rows = {int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s+\d+\s+[\d.]+x", out, re.M)}
assert rows == front, (rows, front)
PY
t "frontier --stratum shirt" run 0 frontier "$tmp/all.jsonl" --stratum shirt --ascii
t "frontier --stratum sock (2)" run 2 frontier "$tmp/all.jsonl" --stratum sock
t "... names the file, line 1 and the stratum" grep -q "all.jsonl:1: no stratum 'sock'" "$tmp/err"
{ head -n 2 "$tmp/all.jsonl"; echo '{"broken": '; tail -n 1 "$tmp/all.jsonl"; } > "$tmp/bad.jsonl"
t "a bad line (2)" run 2 frontier "$tmp/bad.jsonl"
t "... one message naming file and line 3" sh -c "grep -q 'bad.jsonl:3:' '$tmp/err' && [ \$(wc -l < '$tmp/err') -eq 1 ]"
t "frontier of a missing file (2)" run 2 frontier "$tmp/nope.jsonl"
t "frontier without a file (2)" run 2 frontier
t "frontier of a folder (2)" run 2 frontier "$tmp"
t "... says it is a folder, in one line" sh -c "grep -q '$tmp: is a folder, not a file' '$tmp/err' && [ \$(wc -l < '$tmp/err') -eq 1 ]"
"$precis" frontier - <"$tmp" >"$tmp/out" 2>"$tmp/err"
rc=$?
t "frontier - reading a folder on standard input (2), a read error not 'no points'" sh -c \
	"[ $rc -eq 2 ] && grep -q -- '-: is a folder' '$tmp/err' && ! grep -q 'no evaluated points' '$tmp/err'"
t "frontier draws braille in a UTF-8 locale" sh -c \
	"LC_ALL=C.UTF-8 '$precis' frontier '$tmp/all.jsonl' | grep -q \"\$(printf '\342\227\206')\""

# ----------------------------------------------------------------- search
t "search, a criterion met at the start (exit 0)" run 0 search $common --max-loss 100 -o "$tmp/best.json"
t "... saves the best recipe, which eval reads back" sh -c \
	"'$precis' eval $common --recipe '$tmp/best.json' --json > '$tmp/ev.json' && grep -q '\"weights\"' '$tmp/best.json'"
t "... prints the path and the result" sh -c "grep -q '^step 0' '$tmp/out' && grep -q '^found' '$tmp/out'"
t "search -o onto an existing file without --force (2)" run 2 search $common --max-loss 1 -o "$tmp/best.json"
t "search --json, no promotion allowed on int4 per-tensor: not met (1)" \
	run 1 search $common --weights int4 --granularity tensor --max-loss 0 --strata-all --max-steps 0 --json -o "$tmp/b2.json" --force
t "... reports the best so far, and still saves it" python3 - "$tmp/out" "$tmp/b2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["met"] is False and d["stopped"] == "max-steps" and d["best"]["step"] == 0 and d["best"]["shortfall_pt"] > 0
assert json.load(open(sys.argv[2])) == d["best"]["recipe"]
PY
t "search -o onto a folder (2)" run 2 search $common --max-loss 1 -o "$tmp"
t "... says it is a folder" grep -q -- "-o $tmp is a folder; name a file to write" "$tmp/err"
t "search -o into a missing folder (2), found before any work" run 2 search $common --max-loss 1 -o "$tmp/no/such/b.json"
t "... naming the folder and the reason, with nothing searched" sh -c \
	"grep -q 'cannot write in $tmp/no/such: No such file or directory' '$tmp/err' && [ ! -s '$tmp/out' ]"

# the best run's disclosure is judged by the report's rule, with the criterion
t "search --max-loss 7 --json (0)" run 0 search $common --max-loss 7 --json
cp "$tmp/out" "$tmp/s7.json"
t "... best.eval.disclosure by eng_disclosure_assess: one criterion key, verdict agrees with its reasons" \
	python3 - "$tmp/s7.json" "$tmp/best7.json" <<'PY'
import json, sys
def unique(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys: %s" % keys
    return dict(pairs)
d = json.load(open(sys.argv[1]), object_pairs_hook=unique)
ev = d["best"]["eval"]
ds = ev["disclosure"]
assert ds["criterion"] == 7 and ds["search_criterion"]["max_loss_pt"] == 7, ds
# 200 images: the classes have about 20 each, under the rule of three's ceil(3/0.07) = 43
small = [s["name"] for s in ev["eval"]["strata"] if s["n"] < 43]
assert small and ds["min_stratum_n"] == 43, (small, ds["min_stratum_n"])
assert ds["decision_grade"] is False and ds["reasons"], ds
assert any("sample size too small for the 7.00-point criterion" in r for r in ds["reasons"]), ds["reasons"]
assert all(s["decision_grade"] is False for s in d["steps"]), d["steps"]
json.dump(ev, open(sys.argv[2], "w"))
PY
t "report --from the best run keeps its 7-point criterion (0)" run 0 report --from "$tmp/best7.json" --format json -o -
t "... disclosure.criterion 7, not decision-grade" python3 -c "
import json; d=json.load(open('$tmp/out'))['disclosure']; assert d['criterion'] == 7 and d['decision_grade'] is False, d"

# an evaluation failing mid-search (test hook): the best so far is kept
PRECIS_TEST_FAIL_SEARCH_STEP=1 "$precis" search $common --weights int4 --max-loss 0 --max-steps 3 --json \
	-o "$tmp/b3.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
t "an evaluation error at step 1 is a run failure (1)" [ "$rc" -eq 1 ]
t "... the search object says stopped: error, with the message and the best (step 0)" python3 - "$tmp/out" "$tmp/b3.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["stopped"] == "error" and "step 1: evaluation failed" in d["error"], (d["stopped"], d.get("error"))
assert d["met"] is False and len(d["steps"]) == 1 and d["best"]["step"] == 0
assert json.load(open(sys.argv[2])) == d["best"]["recipe"]
PY
t "... and stderr says why and that the best was saved" grep -q "stopped by an error: step 1: evaluation failed.*saved" "$tmp/err"
PRECIS_TEST_FAIL_SEARCH_STEP=0 "$precis" search $common --max-loss 0 -o "$tmp/b4.json" >"$tmp/out" 2>"$tmp/err"
rc=$?
t "an error at step 0 leaves nothing to save (1)" sh -c "[ $rc -eq 1 ] && [ ! -e '$tmp/b4.json' ] && grep -q 'step 0: evaluation failed' '$tmp/err'"
t "search without --max-loss (2)" run 2 search $common
t "search --max-loss -1 (2)" run 2 search --max-loss -1
t "search --stratum sock (2)" run 2 search $common --max-loss 1 --stratum sock
t "... naming the real strata" grep -q "low-contrast" "$tmp/err"

echo "1..$n"
finish
