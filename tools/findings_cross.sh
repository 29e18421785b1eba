#!/bin/sh
# findings_cross.sh BUILDDIR [OUTDIR] - the cross-family findings table of
# doc/findings.md: the same recipes on every shipped model, each one
# `precis eval --json` with the defaults (seed 1, the family's default
# evaluation set, all cores), tabulated by tools/findings_cross.py.
# Takes about 5 minutes on 2 cores.
set -eu
build=${1:?usage: tools/findings_cross.sh BUILDDIR [OUTDIR]}
out=${2:-findings-cross}
precis="$build/src/precis"
mkdir -p "$out"
models="cnn-fashion encoder-langid encoder-langid-outliers decoder-text decoder-text-outliers rnn-text"
run() { # name model args...
	name=$1 model=$2
	shift 2
	if [ ! -s "$out/$model.$name.json" ]; then
		echo "$model: $name" >&2
		"$precis" eval --model "$model" "$@" --json >"$out/$model.$name.json.tmp"
		mv "$out/$model.$name.json.tmp" "$out/$model.$name.json"
	fi
}
for m in $models; do
	run w8a8-tensor-minmax "$m" --weights int8 --acts int8 --granularity tensor --calib-method minmax
	run w8a8-channel-p9999 "$m" --weights int8 --acts int8 --granularity channel --calib-method percentile:99.99
	run w4-g32-weight-only "$m" --weights int4 --acts fp32 --granularity group:32
	run fp8-e4m3 "$m" --weights fp8-e4m3 --acts fp8-e4m3
	case $m in decoder-*)
		run kv-int4 "$m" --weights fp32 --acts fp32 --kv int4
		run kv-int8 "$m" --weights fp32 --acts fp32 --kv int8 ;;
	esac
done
python3 "$(dirname "$0")/findings_cross.py" "$out" $models
