# SPDX-License-Identifier: GPL-3.0-or-later
# clilib.sh - what the command-line tests share, sourced by each: $precis,
# a scratch folder $tmp removed at exit, and TAP points.
#   t DESCRIPTION COMMAND...   one point from a command's status
#   skip DESCRIPTION REASON    one skipped point
#   run STATUS ARGS...         runs precis, stdout/stderr in $tmp/out, $tmp/err;
#                              fails (with the message) unless it exits STATUS
#   finish                     the summary line; the script's status
precis=${top_builddir:-.}/src/precis
n=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

t() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failed=$((failed + 1)); fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

run() {
	want=$1
	shift
	"$precis" "$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	[ "$got" -eq "$want" ] || { echo "# precis $*: exit $got, want $want"; sed 's/^/# /' "$tmp/err"; return 1; }
}

finish() {
	echo "# $((n - failed)) passed, $failed failed"
	[ "$failed" -eq 0 ]
}
