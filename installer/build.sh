#!/usr/bin/env bash
# Builds the standalone bundle dist/kodomo-desktop/ (PyInstaller onedir, installer/kodomo-desktop.spec): the
# executables kodomo-desktop and kodomo-desktop-cli with their own Python, Qt and libraries, for a PC with no
# Python and no network. Check it with:
#   env -i PATH=/usr/bin:/bin HOME=$(mktemp -d) QT_QPA_PLATFORM=offscreen dist/kodomo-desktop/kodomo-desktop --self-test
# Uses ./.venv like the other set-up commands (PYTHON=… picks the Python that makes it). On Windows:
# installer/windows/build.ps1 (the same spec, then the Inno Setup installer).
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/venv.sh
kodomo_timed "system packages" kodomo_system_packages binutils "${KODOMO_QT_LIBS[@]}"  # PyInstaller reads binaries with objdump
kodomo_venv bundle
start=$(date +%s)
kodomo_timed PyInstaller "$VENV_PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installer/kodomo-desktop.spec
echo "dist/kodomo-desktop/: $(du -sh dist/kodomo-desktop | cut -f1), built in $(( $(date +%s) - start )) s" >&2
