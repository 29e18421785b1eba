#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_tui_lm.sh - the explorer on a language model, under tmux, as a
# person uses it: decoder-text's strata in bits equal `precis eval --json`,
# the batch-1 speed, KV-cache and generation lines are shown, the KV cache
# row changes the cache's format (its bytes per token follow), and the
# layers screen computes per-layer deltas in bits.
precis=$(cd "${top_builddir:-.}" && pwd)/src/precis
if ! command -v tmux >/dev/null 2>&1; then
	echo "1..0 # SKIP tmux is not installed"
	exit 0
fi
sock=precis-test-lm-$$
tmp=$(mktemp -d)
tui_wait=60
. "${top_srcdir:-.}/tests/tuilib.sh"
# the `all` row as the explorer prints it: "n ref quant" (bits, 4 decimals)
all_row() { sed -n 's/.* all  *\([0-9][0-9]*\)  *\([0-9.]*\)  *\([0-9.]*\) .*/\1 \2 \3/p' "$1" | head -1; }
eval_all_row() { # eval_all_row OPTIONS...
	"$precis" eval --json --threads 2 --model decoder-text --eval-n 4096 "$@" >"$tmp/eval.json" 2>/dev/null
	python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["eval"]["strata"][0]; print("%d %.4f %.4f" % (a["n"], a["ref"], a["quant"]))' "$tmp/eval.json"
}

echo "1..12"
TERM=xterm-256color tm new-session -d -s precis -x 150 -y 45 \
	"XDG_STATE_HOME='$tmp' $precis --model decoder-text --eval-n 4096 --threads 2; echo \"exit \$?\" >'$tmp/exit'; sleep 30"
wait_for 'done run #1' 120
ok "decoder-text: the strata table appears" $?
got=$(all_row "$tmp/screen")
want=$(eval_all_row)
ok_same "the 'all' row (n, fp32 and quantized bpc) equals precis eval --json" "$got" "$want" "all row: explorer" "precis eval --json"
grep -q '95% CI (bits)' "$tmp/screen"
ok "... the interval column is headed in bits" $?
grep -Eq 'batch 1: pp128 [0-9]+ -> [0-9]+ tokens/s \([0-9.]+x\), tg128 [0-9]+ -> [0-9]+' "$tmp/screen"
ok "the batch-1 pp128 / tg128 line is shown" $?
grep -q 'KV cache 4096 -> 4096 bytes/token' "$tmp/screen"
ok "the KV cache line: fp32, 4096 bytes per token" $?
grep -Eq 'greedy generation: first differs after [0-9.]+ \[[0-9.]+, [0-9.]+\] of 224 tokens \(64 prompts' "$tmp/screen"
ok "the generation line: first divergence of 224 tokens over 64 prompts" $?
grep -q 'KV cache    fp32' "$tmp/screen"
ok "the recipe panel has the KV cache row (decoder only)" $?

colon_cmd 'set kv int4'
wait_for 'done run #2' 120 && grep -q 'KV cache 4096 -> 640 bytes/token (rounded' "$tmp/screen"
ok ":set kv int4 re-runs; the cache is 640 bytes per token, labelled as rounded" $?
grep -q 'KV cache    int4' "$tmp/screen"
ok "... the KV cache row says int4" $?
got=$(all_row "$tmp/screen")
want=$(eval_all_row --kv int4)
ok_same "... and the 'all' row equals precis eval --json --kv int4" "$got" "$want" "all row: explorer" "precis eval --json --kv int4"

# per-layer deltas: the cache back to fp32 (sensitivity covers the linear layers)
colon_cmd 'set kv fp32'
wait_for 'done run #3' 120
tm send-keys -t precis Tab
sleep 0.2
tm send-keys -t precis s
wait_for 'head .* [+-]0\.[0-9]{4} +[+-]0\.[0-9]{4}' 240
ok "the layers screen computes per-layer deltas, in bits (4 decimals)" $?

tm send-keys -t precis Escape
sleep 0.2
tm send-keys -t precis q
i=0
while [ ! -s "$tmp/exit" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q 'exit 0' "$tmp/exit" 2>/dev/null
ok "q quits with status 0" $?
