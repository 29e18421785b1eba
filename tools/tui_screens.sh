#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# tui_screens.sh - doc step: drives the explorer under tmux and writes a
# text capture of each screen to doc/screens/ (strata, A vs B compare,
# layers, one layer's histograms, help, the encoder family after the
# model row switched to it, a too-small terminal, the decoder with an
# int4 KV cache).
# Usage: tools/tui_screens.sh BUILDDIR   (run from the source tree)
set -e
build=$(cd "${1:?usage: tools/tui_screens.sh BUILDDIR}" && pwd)
out=doc/screens
mkdir -p "$out"
sock=precis-screens-$$
tm() { tmux -L "$sock" "$@"; }
tmp=$(mktemp -d)
trap 'tm kill-server 2>/dev/null; rm -rf "$tmp"' EXIT
wait_for() {
	i=0
	while [ $i -lt 600 ]; do
		tm capture-pane -p -t s >"$tmp/screen"
		grep -Eq -- "$1" "$tmp/screen" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "timed out waiting for '$1'" >&2
	cat "$tmp/screen" >&2
	exit 1
}
shot() { sleep 0.3; tm capture-pane -p -t s >"$out/$1.txt"; echo "wrote $out/$1.txt"; }

TERM=xterm-256color tm new-session -d -s s -x 120 -y 40 "XDG_STATE_HOME='$tmp' '$build/src/precis' --threads 2"
wait_for 'done run #1'
tm send-keys -t s Right
wait_for 'done run #2'
tm send-keys -t s ':'
tm send-keys -t s -l 'set granularity group:64'
tm send-keys -t s Enter
wait_for 'done run #3'
shot strata
tm send-keys -t s p
tm send-keys -t s ':'
tm send-keys -t s -l 'calib percentile:99.99'
tm send-keys -t s Enter
wait_for 'done run #4'
shot compare
tm send-keys -t s P Tab s
wait_for 'sensitivity computed'
shot layers
tm send-keys -t s Down Down Enter
wait_for 'clipping at'
shot layer
tm send-keys -t s Escape Escape
tm send-keys -t s F1
wait_for 'precis explorer - keys'
shot help
tm send-keys -t s Escape
sleep 0.3 # a lone Esc, not the start of the next key's sequence
tm send-keys -t s F2 Home Right
wait_for 'model encoder-langid \(encoder\)'
wait_for ' english +1314 '
shot encoder
tm resize-window -t s -x 60 -y 20
wait_for 'needs 80x24'
shot small
tm send-keys -t s q
tm kill-session -t s

# a language model: the decoder with an int4 KV cache
TERM=xterm-256color tm new-session -d -s s -x 150 -y 45 "XDG_STATE_HOME='$tmp' '$build/src/precis' --model decoder-text --kv int4 --threads 2"
wait_for 'done run #1'
shot decoder
tm send-keys -t s q
