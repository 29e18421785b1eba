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
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { # ok DESCRIPTION STATUS
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); fi
}
screen() { tm capture-pane -p -t precis >"$tmp/screen" 2>/dev/null; }
# wait_for PATTERN [SECONDS]: polls the screen until grep -E matches
wait_for() {
	i=0
	while [ $i -lt $((${2:-20} * 10)) ]; do
		screen
		grep -Eq -- "$1" "$tmp/screen" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "# timed out waiting for '$1'; the screen was:"
	sed 's/^/# | /' "$tmp/screen"
	return 1
}
# quant_of FILE: the `all` row's quantized value as the TUI prints it
all_quant() {
	sed -n 's/.* all  *[0-9][0-9]*  *[0-9.]*%  *\([0-9.]*%\).*/\1/p' "$1" | head -1
}

echo "1..14"
# the command line's history goes to $XDG_STATE_HOME/precis/history
TERM=xterm-256color tm new-session -d -s precis -x 120 -y 40 "XDG_STATE_HOME='$tmp' exec '$precis' --threads 2"
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
[ -n "$got" ] && [ "$got" = "$want" ]
st=$?
[ $st -eq 0 ] || echo "# all/quant: TUI '$got', precis eval --json '$want'"
ok "the 'all' quantized value equals precis eval --json --weights int4" $st

# the same change through the `:` command line (back to int8 first)
tm send-keys -t precis ':'
tm send-keys -t precis -l 'set weights int8'
tm send-keys -t precis Enter
wait_for 'done run #3' && grep -q 'int8 weights' "$tmp/screen"
ok ":set weights int8 re-runs with int8 weights" $?
tm send-keys -t precis ':'
tm send-keys -t precis -l 'set weights int4'
wait_for '^:set weights int4' 5
tm send-keys -t precis Enter
wait_for 'done run #4' && grep -q 'int4 weights' "$tmp/screen"
ok ":set weights int4 Enter re-runs with int4 weights" $?
got=$(all_quant "$tmp/screen")
[ -n "$got" ] && [ "$got" = "$want" ]
st=$?
[ $st -eq 0 ] || echo "# all/quant after :set: TUI '$got', precis eval --json '$want'"
ok "... and the 'all' quantized value equals precis eval --json --weights int4" $st

tm send-keys -t precis ':'
tm send-keys -t precis -l 'bogus'
tm send-keys -t precis Enter
wait_for "^error: unknown command 'bogus'" 5 && [ "$(grep -c 'bogus' "$tmp/screen")" -eq 1 ]
ok ":bogus shows a one-line error in the status line" $?
grep -q '^F1Help' "$tmp/screen" && tm has-session -t precis 2>/dev/null
ok "... closes the command line and the explorer keeps running" $?

tm resize-window -t precis -x 60 -y 20
wait_for 'needs 80x24' 5
ok "at 60x20 the screen says it needs 80x24" $?
tm resize-window -t precis -x 120 -y 40
wait_for ' all +10000 ' 5
ok "back at 120x40 the table returns" $?

tm send-keys -t precis q
i=0
while [ $i -lt 50 ] && tm has-session -t precis 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
! tm has-session -t precis 2>/dev/null
ok "q quits (the process exits)" $?
! pgrep -f "^$precis --threads 2\$" >/dev/null 2>&1
ok "... and no precis process is left" $?
[ $failed -eq 0 ]
