#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# report_screenshot.sh - doc step: renders doc/report-example.{md,html,json}
# from the report fixtures in tests/golden with the built precis, and takes a
# screenshot of the HTML with headless Chromium (doc/report-example.png).
#
#   tools/report_screenshot.sh [BUILD_DIR]     BUILD_DIR defaults to _build
#   REPORT_PDF=1 tools/report_screenshot.sh    also print the HTML to
#                                              doc/report-example.pdf (not
#                                              committed) to check the print styles
#
# Needs Debian's chromium (apt-get install chromium; a developer tool, not
# needed by the build or CI).  The CPU line of the examples is this machine's
# (the fixture run carries none), labelled "this machine at report time".
set -eu
cd "$(dirname "$0")/.."
build=${1:-_build}
precis=$build/src/precis
g=tests/golden
[ -x "$precis" ] || { echo "report_screenshot: $precis not built (make first)" >&2; exit 2; }
for fmt in md html json; do
	"$precis" report --from $g/report_run.json --compare $g/report_pinned.json \
		--history $g/report_history.json --sensitivity-file $g/report_sensitivity.json \
		--format $fmt -o doc/report-example.$fmt --force
done
command -v chromium >/dev/null 2>&1 || {
	echo "report_screenshot: chromium not installed (apt-get install chromium); skipped the screenshot" >&2
	exit 0
}
url="file://$PWD/doc/report-example.html"
# A tall window holds the whole page; the blank below it is trimmed (and
# the PNG made smaller) when Pillow is there.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
	--window-size=1000,7000 --screenshot="$PWD/doc/report-example.png" "$url" >/dev/null 2>&1
/usr/bin/python3 - doc/report-example.png <<'PY' || true
import sys
from PIL import Image, ImageChops
im = Image.open(sys.argv[1]).convert("RGB")
box = ImageChops.difference(im, Image.new("RGB", im.size, (255, 255, 255))).getbbox()
if box:
    im = im.crop((0, 0, im.size[0], min(im.size[1], box[3] + 30)))
# a report is flat colours: a 128-colour palette keeps it sharp at a third of the size
im.quantize(colors=128).save(sys.argv[1], optimize=True)
PY
if [ "${REPORT_PDF:-}" = 1 ]; then
	chromium --headless --no-sandbox --disable-gpu --print-to-pdf="$PWD/doc/report-example.pdf" \
		--no-pdf-header-footer "$url" >/dev/null 2>&1
	echo "report_screenshot: doc/report-example.pdf (look at it with pdftoppm -png)"
fi
echo "report_screenshot: doc/report-example.{md,html,json,png}"
