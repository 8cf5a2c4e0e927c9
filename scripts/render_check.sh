#!/usr/bin/env bash
# Renders fintag's HTML outputs in headless Chromium and saves screenshots, to check by eye
# that the pages display (eval report: tables, heatmaps, curves; classify: highlighted text).
# Usage: scripts/render_check.sh [page.html ...]   (default: target/eval-test.html target/demo.html)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
pages=("$@"); [ ${#pages[@]} -gt 0 ] || pages=(target/eval-test.html target/demo.html)
for page in "${pages[@]}"; do
  png="${page%.html}.png"
  profile=$(mktemp -d)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1280,2400 --screenshot="$PWD/$png" "file://$PWD/$page" >/dev/null 2>&1
  rm -rf "$profile"
  [ -s "$png" ] && echo "$page -> $png ($(stat -c %s "$png") bytes)" || { echo "$page: no screenshot" >&2; exit 1; }
done
