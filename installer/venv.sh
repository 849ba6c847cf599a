# Sourced by run-demo.sh and setup-and-test.sh: the project's own virtual environment, ./.venv.
#
# Debian's and Ubuntu's own Python refuses `pip install` outside a virtual environment (PEP 668,
# "externally-managed-environment"), and a stock Debian has no `venv` until python3-venv is installed; a pyenv or
# python.org Python has both. So: make .venv with $PYTHON (default: python3 on PATH), installing python3-venv
# through apt when venv is missing, then install the project into it (editable) with the extras asked for.

# kodomo_timed LABEL CMD...: runs CMD (a program or one of these functions, in this shell), then writes
# "[time] LABEL: 12.3 s (CPU 10.1 s user + 1.2 s sys)" on stderr — the CPU of CMD and the programs it waited for.
# CMD's exit status is kept (under `set -e` a failure still stops the script, after the line).
kodomo_timed() {
  local label="$1" TIMEFORMAT; shift
  TIMEFORMAT="[time] $label: %1R s (CPU %1U s user + %1S s sys)"
  time "$@"
}

kodomo_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "管理者権限が必要です（sudo がありません）: $*" >&2; return 1
  fi
}

kodomo_apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get がありません。次のパッケージを入れてください: $*" >&2; return 1; }
  kodomo_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive kodomo_sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

kodomo_make_venv() {  # kodomo_make_venv PYTHON → ./.venv, with python3-venv from apt if PYTHON has no venv
  local py="$1" ver
  if ! "$py" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    echo "venv がないので python3-venv を入れます…" >&2
    kodomo_apt_install python3-venv "python${ver}-venv" || kodomo_apt_install python3-venv
    "$py" -m venv .venv
  fi
}

# kodomo_venv EXTRAS → sets VENV_PY. KODOMO_EXTRAS=a,b adds extras to the same pip run (.ci/run: bundle, so that
# build.sh finds PyInstaller installed). After a successful install .venv/.kodomo-installed records pyproject.toml's
# hash and the extras; a later call whose extras are all there and whose pyproject.toml is the same skips pip —
# it would only resolve what is installed and build the same editable wheel again (the code itself is editable).
kodomo_venv() {
  local extras="$1${KODOMO_EXTRAS:+,$KODOMO_EXTRAS}" py="${PYTHON:-python3}" have before="" want e
  local stamp=.venv/.kodomo-installed
  if ! command -v "$py" >/dev/null; then
    echo "Python 3.11 以上が見つかりません（$py）。" >&2; return 1
  fi
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Python 3.11 以上が必要です（$py は $("$py" -V 2>&1)）。" >&2; return 1
  fi
  if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    rm -rf .venv  # left by an older Python, or broken
  fi
  if [ ! -x .venv/bin/python ]; then kodomo_timed "python -m venv .venv" kodomo_make_venv "$py"; fi
  VENV_PY="$PWD/.venv/bin/python"
  want="$("$VENV_PY" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
  if [ -f "$stamp" ] && [ "$(head -n1 "$stamp")" = "$want" ]; then before="$(tail -n +2 "$stamp")"; fi
  have="$before"
  for e in ${extras//,/ }; do
    if ! grep -qxF "$e" <<<"$have"; then have=""; break; fi
  done
  if [ -n "$have" ]; then
    echo "[venv] .venv has .[$extras] for this pyproject.toml already: no pip install" >&2
  else
    rm -f "$stamp"
    # KODOMO_PIP_NO_COMPILE=1 (setup-and-test.sh): no byte-compiling of every installed module (54 → 32 s of pip in
    # .ci/run); the test run writes the bytecode of what it imports, once, as Python does by default
    kodomo_timed "pip install -e .[$extras]" "$VENV_PY" -m pip install -q --disable-pip-version-check \
      ${KODOMO_PIP_NO_COMPILE:+--no-compile} -e ".[$extras]" || return
    { echo "$want"; tr , '\n' <<<"$extras"; echo "$before"; } | awk 'NF && !seen[$0]++' > "$stamp"  # pip removed none
  fi
  export PATH="$PWD/.venv/bin:$PATH" VIRTUAL_ENV="$PWD/.venv"
}

# Qt's runtime libraries (the xcb platform for a real window; offscreen needs only the first few).
KODOMO_QT_LIBS=(libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0
  libxcb-xinerama0 libxcb-xkb1)

kodomo_system_packages() {  # kodomo_system_packages PKG... → installs those not yet installed (Debian/Ubuntu)
  local need=() pkg
  command -v dpkg >/dev/null || return 0
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
  if [ ${#need[@]} -gt 0 ]; then kodomo_apt_install "${need[@]}"; fi
}
