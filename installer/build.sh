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
# Always from scratch: the work folders go first (PyInstaller's own cache, ~/.cache/pyinstaller, is not used on
# Linux: no strip, no UPX). The desktop app's and the CLI's analyses run at the same time, one per core, each in its
# own work folder (KODOMO_BUNDLE_PART, see the spec); the last run takes both over — the CLI's under the name the
# whole spec gives it — and assembles dist/kodomo-desktop/. Were an analysis not up to date there, that run would
# make it again: slower, never different.
work=build/pyinstaller
rm -rf "$work" "$work-cli" dist/kodomo-desktop
pyinstaller() { "$VENV_PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist "$@" installer/kodomo-desktop.spec; }
analyses() {  # both at once, each one's log shown when both are done
  local gui cli_rc=0 gui_rc=0
  KODOMO_BUNDLE_PART=gui pyinstaller --workpath "$work" > build/pyinstaller-gui.log 2>&1 &
  gui=$!
  KODOMO_BUNDLE_PART=cli pyinstaller --workpath "$work-cli" > build/pyinstaller-cli.log 2>&1 || cli_rc=$?
  wait "$gui" || gui_rc=$?
  cat build/pyinstaller-gui.log build/pyinstaller-cli.log >&2
  if [ "$gui_rc" != 0 ] || [ "$cli_rc" != 0 ]; then
    echo "PyInstaller failed: the desktop app's analysis (exit $gui_rc), the CLI's (exit $cli_rc)" >&2; return 1
  fi
  cp "$work-cli/kodomo-desktop/Analysis-00.toc" "$work/kodomo-desktop/Analysis-01.toc"
}
mkdir -p build
kodomo_timed "PyInstaller: the two analyses at once" analyses
toc_before="$(stat -c %Y "$work"/kodomo-desktop/Analysis-0[01].toc)"
kodomo_timed "PyInstaller: assemble" pyinstaller --workpath "$work"
if [ "$(stat -c %Y "$work"/kodomo-desktop/Analysis-0[01].toc)" != "$toc_before" ]; then
  echo "[bundle] PyInstaller made an analysis again instead of reusing it (same bundle, slower)" >&2
fi
echo "dist/kodomo-desktop/: $(du -sh dist/kodomo-desktop | cut -f1), built in $(( $(date +%s) - start )) s" >&2
