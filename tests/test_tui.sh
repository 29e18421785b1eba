#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_tui.sh - the explorer as a person sees it, under tmux: the strata
# table appears, changing weights to int4 with the keys re-runs and shows
# the numbers `precis eval --json` gives for that recipe, so does typing
# `:set weights int4` on the `:` command line, an unknown command is a
# one-line error in the status line, a small terminal says what size it
# needs, and q quits.
precis=$(cd "${top_builddir:-.}" && pwd)/src/precis
if ! command -v tmux >/dev/null 2>&1; then
	echo "1..0 # SKIP tmux is not installed"
	exit 0
fi
sock=precis-test-$$
tmp=$(mktemp -d)
. "${top_srcdir:-.}/tests/tuilib.sh"
# quant_of FILE: the `all` row's quantized value as the TUI prints it
all_quant() {
	sed -n 's/.* all  *[0-9][0-9]*  *[0-9.]*%  *\([0-9.]*%\).*/\1/p' "$1" | head -1
}

eval_all_quant() { # eval_all_quant OPTIONS...: precis eval --json's all/quant as the TUI prints it
	"$precis" eval --json --threads 2 "$@" >"$tmp/eval.json" 2>/dev/null
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f%%" % (d["eval"]["strata"][0]["quant"] * 100))' "$tmp/eval.json"
}

echo "1..46"
# the command line's history goes to $XDG_STATE_HOME/precis/history; the
# shell around precis records the terminal modes after it exits
stty -a </dev/null >/dev/null 2>&1
TERM=xterm-256color tm new-session -d -s precis -x 120 -y 40 \
	"stty -a >'$tmp/stty.before'; XDG_STATE_HOME='$tmp' sh -c 'echo \$\$ >$tmp/pid; exec $precis --threads 2'; echo \"exit \$?\" >'$tmp/exit'; stty -a >'$tmp/stty.after'; echo PRECIS-EXITED; sleep 30"
wait_for 'done run #1'
ok "the strata table appears" $?
grep -Eq '^.* all +10000 ' "$tmp/screen"
ok "... with the 'all' row" $?
grep -Eq ' shirt +1000 ' "$tmp/screen"
ok "... and the 'shirt' row" $?

# weights is the first recipe row: int8 -> int4 is one step right
tm send-keys -t precis Right
wait_for 'done run #2' && grep -q 'int4 weights' "$tmp/screen"
ok "Right on 'weights' re-runs with int4 weights" $?
got=$(all_quant "$tmp/screen")
"$precis" eval --json --weights int4 --threads 2 >"$tmp/eval.json" 2>/dev/null
want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.2f%%" % (d["eval"]["strata"][0]["quant"] * 100))' "$tmp/eval.json")
ok_same "the 'all' quantized value equals precis eval --json --weights int4" "$got" "$want" "all/quant: TUI" "precis eval --json"

# the same change through the `:` command line (back to int8 first)
colon_cmd 'set weights int8'
wait_for 'done run #3' && grep -q 'int8 weights' "$tmp/screen"
ok ":set weights int8 re-runs with int8 weights" $?
tm send-keys -t precis ':'
tm send-keys -t precis -l 'set weights int4'
wait_for '^:set weights int4' 5
tm send-keys -t precis Enter
wait_for 'done run #4' && grep -q 'int4 weights' "$tmp/screen"
ok ":set weights int4 Enter re-runs with int4 weights" $?
got=$(all_quant "$tmp/screen")
ok_same "... and the 'all' quantized value equals precis eval --json --weights int4" "$got" "$want" "all/quant after :set: TUI" "precis eval --json"

colon_cmd 'bogus'
wait_for "^error: unknown command 'bogus'" 5 && [ "$(grep -c 'bogus' "$tmp/screen")" -eq 1 ]
ok ":bogus shows a one-line error in the status line" $?
grep -q '^F1Help' "$tmp/screen" && tm has-session -t precis 2>/dev/null
ok "... closes the command line and the explorer keeps running" $?

# Tab completion and history on the `:` line
tm send-keys -t precis ':'
tm send-keys -t precis -l 'set granu'
tm send-keys -t precis Tab
wait_for '^:set granularity ?$' 5
ok "Tab completes 'set granu' to 'set granularity '" $?
tm send-keys -t precis -l 'ten'
tm send-keys -t precis Tab
wait_for '^:set granularity tensor ?$' 5
ok "... and the value 'ten' to 'tensor'" $?
tm send-keys -t precis Enter
wait_for 'done run #5' && grep -q 'weights (symmetric, per tensor)' "$tmp/screen"
ok "Enter runs int4 weights with per-tensor granularity" $?
got=$(all_quant "$tmp/screen")
want=$(eval_all_quant --weights int4 --granularity tensor)
ok_same "... and the 'all' quantized value equals precis eval --json --weights int4 --granularity tensor" "$got" "$want" "all/quant: TUI" "precis eval --json"
tm send-keys -t precis ':'
tm send-keys -t precis Up
wait_for '^:set granularity tensor' 5
ok "Up on the ':' line recalls the last command" $?
tm send-keys -t precis Up
wait_for '^:bogus' 5
ok "... and Up again the one before" $?
tm send-keys -t precis Escape
wait_for '^F1Help' 5
ok "Esc closes the ':' line" $?

# the recipe panel: granularity is row 5; Left from tensor wraps to group:256
tm send-keys -t precis Down Down Down Down Right
wait_for 'done run #6' && grep -q 'weights (symmetric, per channel)' "$tmp/screen"
ok "Right on 'granularity' moves tensor -> channel and re-runs" $?
tp6=$(grep '^.*throughput: fp32' "$tmp/screen" | sed 's/.*quantized //')
[ -n "$tp6" ]
ok "the throughput panel shows the run's throughput" $?

# Esc cancels a slow run (fp8 activations go through the emulated path)
colon_cmd 'set acts fp8-e4m3'
wait_for 'Esc cancels' 10
tm send-keys -t precis Escape
wait_for 'cancelled; F5 re-runs' 10
ok "Esc cancels a running job and the status line says so" $?
colon_cmd 'set acts int8'
wait_for 'done run #8' 30
ok "the next change runs again" $?

# sorting
tm send-keys -t precis F6 F6 F6 F6 F6
wait_for 'strata sorted by delta pt' 5 && python3 - "$tmp/screen" <<'PY'
import re, sys
rows = [m.groups() for m in map(re.compile(r"^.{31}(\S+) +\d+ +[\d.]+% +[\d.]+% +([+-][\d.]+) ").match, open(sys.argv[1])) if m]
assert rows[0][0] == "all" and len(rows) == 12, rows
d = [float(x) for _, x in rows[1:]]
assert d == sorted(d), d
PY
ok "F6 five times sorts the strata by delta, 'all' first" $?

# compare: p pins the run as A, the next run shows A vs B
tm send-keys -t precis p
wait_for 'pinned run #8 as A' 5
ok "p pins the run on screen as A" $?
colon_cmd 'set weights int8'
wait_for 'done run #9' 30 && grep -q 'A (pinned, run #8' "$tmp/screen" && grep -q 'B-A pt' "$tmp/screen"
ok "the next run shows A (pinned) vs B with B-A per stratum" $?
grep -Eq 'session: [0-9]+ runs' "$tmp/screen"
ok "the throughput x accuracy scatter of the session's runs is drawn" $?
tm send-keys -t precis P
wait_for 'unpinned' 5 && ! grep -q 'B-A pt' "$tmp/screen"
ok "P unpins" $?

# layers screen and a layer's detail
tm send-keys -t precis Tab
wait_for 'Layers of cnn-fashion' 5 && grep -q 'conv1' "$tmp/screen" && grep -q 'fc2' "$tmp/screen"
ok "Tab opens the layers screen with every layer" $?
wait_for 'conv1 +conv2d' 10
ok "... and the layer statistics arrive (type column)" $?
tm send-keys -t precis Enter
wait_for 'clipping at' 10 && grep -q 'Layer conv1' "$tmp/screen"
ok "Enter shows the layer's histograms with the clipping thresholds" $?
tm send-keys -t precis Right
wait_for 'done run #10' 30
ok "Right sets conv1's precision to fp32 and re-runs" $?
wait_for 'precision override in the recipe: fp32' 10
ok "... and the detail shows the override" $?
tm send-keys -t precis Escape
wait_for '^Layers of cnn-fashion' 5 && tm send-keys -t precis Escape
wait_for '^Recipe ' 5 && grep -q 'overrides   1 layer' "$tmp/screen"
ok "Esc twice returns to the strata screen; the recipe panel counts the override" $?

# export, and no replacing without asking
colon_cmd "export $tmp/view.json"
wait_for "wrote $tmp/view.json" 10
ok ":export FILE.json writes the view" $?
python3 - "$tmp/view.json" "$(all_quant "$tmp/screen")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert "%.2f%%" % (d["eval"]["strata"][0]["quant"] * 100) == sys.argv[2], sys.argv[2]
assert d["recipe"]["overrides"] == {"conv1": "fp32"}, d["recipe"]["overrides"]
assert len(d["history"]) >= 9
PY
ok "... with the run on screen, its override and the session history" $?
cp "$tmp/view.json" "$tmp/view.orig"
tm send-keys -t precis F9
wait_for '^:export ?$' 5
tm send-keys -t precis -l "$tmp/view.json"
tm send-keys -t precis Enter
wait_for 'exists: replace it' 5
ok "F9 to an existing file asks before replacing it" $?
tm send-keys -t precis n
wait_for 'nothing written' 5 && cmp -s "$tmp/view.json" "$tmp/view.orig"
ok "... and n keeps the file as it was" $?
colon_cmd "export $tmp/view.md"
wait_for "wrote $tmp/view.md" 10 && grep -q 'decision-grade' "$tmp/view.md"
ok ":export FILE.md writes a Markdown report" $?

tm resize-window -t precis -x 60 -y 20
wait_for 'needs 80x24' 5
ok "at 60x20 the screen says it needs 80x24" $?
tm resize-window -t precis -x 120 -y 40
wait_for ' all +10000 ' 5
ok "back at 120x40 the table returns" $?

# the model row switches family (the next model in `precis models`)
next_model=$("$precis" models --json | python3 -c 'import json,sys; m=[x["name"] for x in json.load(sys.stdin)]; print(m[(m.index("cnn-fashion")+1) % len(m)] if len(m) > 1 else "")')
if [ -n "$next_model" ]; then
	tm send-keys -t precis Home Right
	wait_for "model $next_model" 60 && wait_for 'done run #1[0-9]' 120
	ok "the model row switches to $next_model and runs it" $?
	tm send-keys -t precis Left
	wait_for 'model cnn-fashion \(cnn\)' 60 && wait_for ' shirt +1000 ' 120
	ok "... and back to cnn-fashion" $?
else
	echo "ok $((n + 1)) # SKIP only one model is listed"
	echo "ok $((n + 2)) # SKIP only one model is listed"
	n=$((n + 2))
fi

tm send-keys -t precis F1
wait_for 'layers screen' 5 && grep -q 'pin the run' "$tmp/screen"
ok "F1 shows the help generated from the key table" $?
tm send-keys -t precis Escape

tm send-keys -t precis q
wait_for 'PRECIS-EXITED' 10
ok "q quits" $?
[ "$(cat "$tmp/exit" 2>/dev/null)" = "exit 0" ]
ok "... with exit status 0" $?
cmp -s "$tmp/stty.before" "$tmp/stty.after" && grep -q ' icanon' "$tmp/stty.after" && grep -q ' echo' "$tmp/stty.after"
ok "... and the terminal modes are restored (stty -a before = after)" $?
pid=$(cat "$tmp/pid" 2>/dev/null)
[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null
ok "... and no precis process is left" $?
[ $failed -eq 0 ]
