#!/usr/bin/env bash
# Installs Kodomo Desktop with its test tools on a fresh Debian/Ubuntu machine and runs the whole test suite.
# System packages: Qt's runtime libraries (offscreen tests), poppler-utils (pdftoppm/pdftotext/pdffonts
# check the PDFs), xvfb (the real-window screenshot test). The Japanese font ships in kodomo_desktop/resources/fonts/.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in poppler-utils xvfb xauth libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
           libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 \
           libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libxcb-xkb1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e ".[test]"
export QT_QPA_PLATFORM=offscreen
python3 -m pytest -q -p no:cacheprovider "$@"
