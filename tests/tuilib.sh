# SPDX-License-Identifier: GPL-3.0-or-later
# tuilib.sh - what the tests under tmux share, sourced by each after it has
# set $sock (its own tmux server) and $tmp (a scratch folder): TAP counters
# n and failed, an EXIT trap that kills the server and removes $tmp, and
#   tm ARGS...                 tmux on the test's own server
#   ok DESCRIPTION STATUS      one point from a status
#   screen                     the pane $tui_pane (default precis) into $tmp/screen
#   wait_for PATTERN [SECONDS] polls the screen until grep -E matches, for
#                              SECONDS (default $tui_wait, else 20); on a
#                              timeout prints the screen as TAP comments
#   colon_cmd LINE             types :LINE and Enter into the pane
#   ok_same DESCRIPTION GOT WANT GOT-NAME WANT-NAME
#                              one point: GOT is not empty and equals WANT;
#                              else first "# GOT-NAME 'GOT', WANT-NAME 'WANT'"
n=0
failed=0
tm() { tmux -L "$sock" "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
ok() {
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); fi
}
screen() { tm capture-pane -p -t "${tui_pane:-precis}" >"$tmp/screen" 2>/dev/null; }
wait_for() {
	i=0
	while [ $i -lt $((${2:-${tui_wait:-20}} * 10)) ]; do
		screen
		grep -Eq -- "$1" "$tmp/screen" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "# timed out waiting for '$1'; the screen was:"
	sed 's/^/# | /' "$tmp/screen"
	return 1
}
colon_cmd() {
	tm send-keys -t "${tui_pane:-precis}" ':'
	tm send-keys -t "${tui_pane:-precis}" -l "$1"
	tm send-keys -t "${tui_pane:-precis}" Enter
}
ok_same() {
	[ -n "$2" ] && [ "$2" = "$3" ]
	st=$?
	[ $st -eq 0 ] || echo "# $4 '$2', $5 '$3'"
	ok "$1" $st
}
