#!/usr/bin/env bash
# Installs Kodomo Desktop with its test tools into ./.venv on a fresh Debian/Ubuntu machine and runs the whole
# test suite. Works with Debian's/Ubuntu's own Python (PEP 668) as with a pyenv or python.org one; PYTHON=… picks
# another. System packages: Qt's runtime libraries (offscreen tests), poppler-utils (pdftotext/pdffonts check the
# PDFs' text in tests; the app itself renders with pypdfium2), xvfb (the real-window screenshot test).
# The Japanese font ships in kodomo_desktop/resources/fonts/.
set -euo pipefail
cd "$(dirname "$0")/.."
. installer/venv.sh
# Bytecode: pip compiles nothing at install; each module is compiled once, when first imported, into the git-ignored
# __pycache__ folders (so PYTHONDONTWRITEBYTECODE, set on some CI machines, is lifted for this script's programs)
unset PYTHONDONTWRITEBYTECODE
export KODOMO_PIP_NO_COMPILE=1
kodomo_timed "system packages" kodomo_system_packages poppler-utils xvfb xauth "${KODOMO_QT_LIBS[@]}"
kodomo_venv test
# The tooling gate (configs in pyproject.toml; docs/DEVELOPING.md): lint, format, import layers, types of the core.
kodomo_timed "ruff check" "$VENV_PY" -m ruff check .
kodomo_timed "ruff format" "$VENV_PY" -m ruff format --check .
kodomo_timed lint-imports "$(dirname "$VENV_PY")/lint-imports" --no-cache
# mypy's incremental cache lives outside the checkout, shared by this user's checkouts and clones (a fresh clone —
# .ci/run — then checks again only what differs: mypy compares each file's hash with the cache's)
kodomo_timed mypy "$VENV_PY" -m mypy --cache-dir "${MYPY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kodomo-desktop-dev/mypy}"
export QT_QPA_PLATFORM=offscreen
kodomo_timed pytest "$VENV_PY" -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder "$@"  # 2 workers, a file per worker, heaviest files first (tests/conftest.py)
