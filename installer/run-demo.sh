#!/usr/bin/env bash
# Installs Kodomo Desktop into ./.venv and opens it on a synthetic demo town (password: demo).
# Works with Debian's/Ubuntu's own Python (PEP 668) as with a pyenv or python.org one; PYTHON=… picks another.
# Extra arguments go to the app, e.g. `bash installer/run-demo.sh --self-test` (offscreen check, exits 0/1).
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/venv.sh
kodomo_system_packages "${KODOMO_QT_LIBS[@]}"
kodomo_venv gui
exec .venv/bin/kodomo-desktop --demo "$@"
