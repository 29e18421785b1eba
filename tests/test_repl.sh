#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# test_repl.sh - `precis repl` as scripts meet it (piped commands, exit
# status, one-line errors, save/load, help from the command table, every
# completion value accepted by the engine) and, under tmux, as a person
# meets it (Tab completion, history file).
precis=$(cd "${top_builddir:-.}" && pwd)/src/precis
srcdir=${top_srcdir:-.}
tmp=$(mktemp -d)
sock=precis-repl-$$
tui_pane=repl tui_wait=10
. "${top_srcdir:-.}/tests/tuilib.sh"
EV="--eval-n 500 --threads 2"

t() { # t DESCRIPTION COMMAND... : one test point from a command's status
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failed=$((failed + 1)); fi
}

# repl WANT-STATUS SCRIPT [ARGS...]: pipes SCRIPT (printf format) into the repl
repl() {
	rwant=$1 rscript=$2
	shift 2
	# shellcheck disable=SC2059
	printf "$rscript" | "$precis" repl $EV "$@" >"$tmp/out" 2>"$tmp/err"
	rgot=$?
	[ "$rgot" -eq "$rwant" ] || { echo "# repl: exit $rgot, want $rwant"; sed 's/^/# err: /' "$tmp/err"; return 1; }
}
one_err() { # exactly one line on stderr, a precis: line
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q '^precis: ' "$tmp/err" || { sed 's/^/# err: /' "$tmp/err"; return 1; }
}
err_names() { grep -q -- "$1" "$tmp/err" && one_err; } # one precis: line naming $1
all_quant() { sed -n 's/^all  *[0-9][0-9]*  *[0-9.]*%  *\([0-9.]*%\).*/\1/p' "$1" | sort -u; }

# ------------------------------------------------------------- run vs eval
"$precis" eval $EV --weights int4 --json >"$tmp/eval.json" 2>/dev/null
want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=[x for x in d["eval"]["strata"] if x["name"]=="all"][0]; print("%.2f%%" % (s["quant"]*100))' "$tmp/eval.json")
t "set weights int4 + run succeeds" repl 0 'set weights int4\nrun\nrun\n'
cp "$tmp/out" "$tmp/run.txt"
t "the all row equals eval --json ($want)" test "$(all_quant "$tmp/run.txt")" = "$want"
t "two runs print two tables with the throughput lines" sh -c "[ \$(grep -c '^throughput: fp32' '$tmp/run.txt') -eq 2 ] && [ \$(grep -c '^stratum ' '$tmp/run.txt') -eq 2 ]"
t "the second run reuses the session (calibration cached)" sh -c "grep '^timing:' '$tmp/run.txt' | tail -1 | grep -q 'calibrate 0 ms'"
t "the table is eval's printer" sh -c "'$precis' eval $EV --weights int4 2>/dev/null | grep '^all ' | cut -c1-60 >'$tmp/e'; grep '^all ' '$tmp/run.txt' | head -1 | cut -c1-60 | cmp -s - '$tmp/e'"
t "recipe options on the command line are the starting recipe" repl 0 'show\n' --weights int4 --granularity group:64
t "... show prints the recipe line and its JSON" sh -c "sed -n 2p '$tmp/out' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"weights\"]==\"int4\" and d[\"granularity\"]==\"group:64\", d' && head -1 '$tmp/out' | grep -q '^recipe: int4 weights'"

# -------------------------------------------------------------- save, load
t "save writes the recipe" repl 0 "set weights int4\nset asymmetric\ncalib percentile:99.9\nkeep conv1\nlayer fc2=int8\nsave $tmp/r.json\n"
t "... as valid JSON" python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$tmp/r.json"
t "... that eval --recipe accepts" sh -c "'$precis' eval $EV --recipe '$tmp/r.json' --json >'$tmp/re.json' 2>'$tmp/err'"
t "... and reproduces (same recipe object)" python3 - "$tmp/r.json" "$tmp/re.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2]))
assert e["recipe"] == r, (e["recipe"], r)
assert r["weights"] == "int4" and r["weight_symmetric"] is False and r["calib_method"] == "percentile:99.9", r
assert r["overrides"]["conv1"] == "fp32", r
PY
t "load of the saved file gives the same recipe back" repl 0 "load $tmp/r.json\nshow\n"
t "... show after load matches the file" sh -c "tail -1 '$tmp/out' | python3 -c 'import json,sys; assert json.load(sys.stdin)==json.load(open(sys.argv[1]))' '$tmp/r.json'"
cp "$tmp/r.json" "$tmp/keep.json"
t "save refuses to overwrite an existing file (exit 1)" repl 1 "set weights fp16\nsave $tmp/r.json\n"
t "... with one precis: line naming save!" err_names 'save!' 
t "... and the file is intact" cmp -s "$tmp/r.json" "$tmp/keep.json"
t "... and no temporary file is left" sh -c "[ \$(ls '$tmp' | grep -c 'tmp') -eq 0 ]"
t "save! replaces it" repl 0 "set weights fp16\nsave! $tmp/r.json\n"
t "... with the new recipe" python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['weights']=='fp16'" "$tmp/r.json"
echo '{"weights": "int3"' >"$tmp/bad.json"
t "load of a bad file fails at EOF (exit 1)" repl 1 "load $tmp/bad.json\nshow\n"
t "... with one precis: line" one_err
t "... and the shell continued (show ran, recipe unchanged)" sh -c "tail -1 '$tmp/out' | grep -q '\"weights\":\"int8\"'"
t "load of a missing file is one error too" repl 1 "load $tmp/none.json\n"

# ------------------------------------------------------------------ errors
t "an unknown command: exit 1 at EOF" repl 1 'frobnicate\nshow\n'
t "... one precis: line naming it" err_names frobnicate
t "... and the shell continued" grep -q '^recipe: ' "$tmp/out"
t "a bad value: exit 1 at EOF" repl 1 'set weights int3\n'
t "... one precis: line naming the value" err_names int3
t "an unknown option is one error" repl 1 'set wieghts int4\n'
t "a flag given a value is one error" repl 1 'set asymmetric yes\n'
t "quit ends the script early (exit 0)" repl 0 'quit\nfrobnicate\n'
t "empty input, blank lines and comments exit 0" repl 0 '\n# a comment\n   \n'

# -------------------------------------------------------------------- help
t "help runs" repl 0 'help\n'
cp "$tmp/out" "$tmp/help"
names=$(sed -n '/^static const ui_command commands\[\]/,/^};/s/^[[:space:]]*{"\([^"]*\)".*/\1/p' "$srcdir/ui/commands.c")
t "the command table was found" test -n "$names"
for c in $names; do
	t "help lists '$c'" grep -q "^  $c " "$tmp/help"
done

# -------------------------------------- completion values the engine accepts
t "complete lists the commands" repl 0 'complete s\n'
t "... set, show, save, save!" sh -c "[ \"\$(tr '\n' ' ' <'$tmp/out')\" = 'set show save save! ' ]"
repl 0 'complete set \n' && cp "$tmp/out" "$tmp/opts"
t "complete set offers every recipe option" sh -c "grep -qx weights '$tmp/opts' && grep -qx calib-set '$tmp/opts' && grep -qx asymmetric '$tmp/opts' && [ \$(wc -l <'$tmp/opts') -ge 14 ]"
script=""
count=0
for opt in $(cat "$tmp/opts"); do
	repl 0 "complete set $opt \n" || continue
	for v in $(cat "$tmp/out"); do
		script="${script}set $opt $v\n"
		count=$((count + 1))
	done
done
t "completion offers values ($count)" test "$count" -ge 25
t "eng_recipe_set accepts every completed value" repl 0 "$script"
repl 0 'complete calib \n' && cp "$tmp/out" "$tmp/cal"
t "calib completes the same methods, all accepted" repl 0 "$(sed 's/^/calib /; s/$/\\n/' "$tmp/cal" | tr -d '\n')"
t "layer names complete after a run" repl 0 'run\ncomplete layer \ncomplete keep conv1,c\n'
t "... LAYER= for each layer, and conv1,conv2 for keep" sh -c "grep -qx 'conv1=' '$tmp/out' && grep -qx 'fc2=' '$tmp/out' && grep -qx 'conv1,conv2' '$tmp/out'"
printf 'run\n' >"$tmp/lscript"
for l in $(grep '=$' "$tmp/out"); do
	printf 'complete layer %s\n' "$l" >>"$tmp/lscript"
done
"$precis" repl $EV <"$tmp/lscript" 2>/dev/null | grep '=.' | sed 's/^/layer /' >"$tmp/lset"
t "every completed LAYER=FORMAT is accepted ($(wc -l <"$tmp/lset"))" sh -c "[ \$(wc -l <'$tmp/lset') -ge 10 ] && '$precis' repl $EV <'$tmp/lset' >/dev/null"

# -------------------------------------------------- a terminal, under tmux
if ! command -v tmux >/dev/null 2>&1; then
	n=$((n + 1))
	echo "ok $n # SKIP tmux is not installed"
else
	mkdir -p "$tmp/state"
	tm new-session -d -s repl -x 100 -y 30 "env XDG_STATE_HOME='$tmp/state' '$precis' repl $EV"
	# capture-pane drops trailing blanks: the cursor column shows them.
	at_col() { [ "$(tm display -p -t repl '#{cursor_x}')" -eq "$1" ]; }
	t "on a terminal the repl prompts" wait_for '^precis>'
	tm send-keys -t repl 'set wei' Tab
	weights_completed() { wait_for '^precis> set weights$' && at_col 20; }
	t "set wei<Tab> completes to 'set weights ' (with the space)" weights_completed
	tm send-keys -t repl 'int' Tab Tab
	t "... and in<Tab><Tab> lists int8 and int4" wait_for 'int8 +int4|int4 +int8'
	tm send-keys -t repl '4' Enter 'show' Enter
	t "... the completed command ran" wait_for '^recipe: int4 weights'
	tm send-keys -t repl 'bogus' Enter
	t "an error prints one line and the prompt returns" wait_for "unknown command 'bogus'"
	tm send-keys -t repl 'quit' Enter
	i=0
	while [ $i -lt 50 ] && tm has-session -t repl 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	t "quit leaves" sh -c "! tmux -L '$sock' has-session -t repl 2>/dev/null"
	t "history is kept in \$XDG_STATE_HOME/precis/history" grep -qx 'set weights int4' "$tmp/state/precis/history"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
