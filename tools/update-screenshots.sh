#!/usr/bin/env bash
# Regenerates the README's screenshots and rendered pages: the GUI and report tests write them to build/screenshots/
# (never into the tracked tree); this copies them into docs/images/. Run it when a screen or document changed on
# purpose, look at the pictures, then commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen KODOMO_SCREENSHOTS="$PWD/build/screenshots"
rm -rf "$KODOMO_SCREENSHOTS"; mkdir -p "$KODOMO_SCREENSHOTS"
python3 -m pytest -q -p no:cacheprovider tests/gui tests/core/test_governance_demo.py tests/core/test_reports_demo.py tests/core/test_documents_demo.py "$@"
for f in "$KODOMO_SCREENSHOTS"/*.png; do
  name=$(basename "$f")
  [ -e "docs/images/$name" ] || [ "${ALL:-}" = 1 ] && cp "$f" "docs/images/$name"
done
git status --short docs/images
