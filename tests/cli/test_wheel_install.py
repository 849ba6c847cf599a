"""The built wheel, installed (not editable) into a fresh venv, runs the CLI from another folder — without Qt.

The sources are copied out first so building leaves nothing in the checkout. The venv is new (`python -m venv`);
so that the test does not download pandas & co. again, a .pth file lends it the running environment's installed
dependencies — as links, leaving out Qt (PySide6, shiboken6, pypdfium2) and any kodomo_desktop (editable or
not), so the kodomo package can only come from the wheel and the CLI is proved to run with no Qt installed.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = ("pyside6", "shiboken6", "pypdfium2", "kodomo_desktop", "kodomo-desktop", "__editable__", "_kodomo")

pytestmark = pytest.mark.slow


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "kodomo_desktop", dest / "kodomo_desktop", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)


def _setuptools_builds_wheels() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1)


def _pip_has_python_option() -> bool:
    from importlib.metadata import version

    major, minor = (int(x) for x in version("pip").split(".")[:2])
    return (major, minor) >= (22, 3)


def _lend_dependencies(venv_python: Path, into: Path) -> None:
    """Links to the running environment's packages, except Qt and kodomo, listed in a .pth of the new venv."""
    into.mkdir()
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    for d in map(Path, dirs):
        if not d.is_dir() or d.resolve() == into.resolve():
            continue
        for entry in d.iterdir():
            name = entry.name.lower()
            if name.startswith(HIDDEN) or entry.suffix == ".pth" or (into / entry.name).exists():
                continue
            (into / entry.name).symlink_to(entry)
    purelib = subprocess.run(
        [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "zz_lent_dependencies.pth").write_text(str(into) + "\n")


def test_wheel_installs_and_runs_the_cli_from_anywhere(tmp_path):
    src = tmp_path / "src"
    _copy_sources(src)
    wheels = tmp_path / "wheels"
    if _setuptools_builds_wheels():  # the build backend's PEP 517 hook itself, as `python -m build` calls it
        wheels.mkdir()
        hook = f"from setuptools import build_meta; build_meta.build_wheel({str(wheels)!r})"
        subprocess.run([sys.executable, "-c", hook], check=True, cwd=src, capture_output=True)
    else:  # an older setuptools: pip's isolated build (from PyPI)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)], check=True
        )
    (wheel,) = wheels.glob("kodomo_desktop-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for must in (
        "kodomo_desktop/resources/indicators.json",
        "kodomo_desktop/resources/fonts/ipaexg.ttf",
        "kodomo_desktop/resources/fonts/ipaexm.ttf",
        "kodomo_desktop/i18n/en.json",
        "kodomo_desktop/i18n/ja.json",
        "kodomo_desktop/core/storage/migrations/script.py.mako",
        "kodomo_desktop/core/storage/migrations/versions/0001_first_schema.py",
        "kodomo_desktop/core/platform.py",
    ):
        assert must in names, must
    assert any(n.startswith("kodomo_desktop/resources/checklists/") and n.endswith(".json") for n in names)
    meta = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    qt = [r for r in requires if "pyside6" in r.lower()]
    assert qt and all("extra ==" in r for r in qt), qt  # Qt only through the gui extra

    venv = tmp_path / "venv"
    # with pip ≥ 22.3 a venv without its own pip (ensurepip takes longer than the rest of the install) and this
    # environment's pip installing the wheel into it (`pip --python`); an older pip: the venv's own
    lend_pip = _pip_has_python_option()
    subprocess.run([sys.executable, "-m", "venv", *(["--without-pip"] if lend_pip else []), str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / ("python.exe" if os.name == "nt" else "python")
    pip = [sys.executable, "-m", "pip", "--python", str(py)] if lend_pip else [str(py), "-m", "pip"]
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)], check=True
    )
    _lend_dependencies(py, tmp_path / "lent")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path / "home")
    env["KODOMO_DB_PASSWORD"] = "demo"
    where = subprocess.run(
        [
            str(py),
            "-c",
            "import kodomo_desktop, importlib.util as u; print(kodomo_desktop.__file__);"
            "print(u.find_spec('PySide6') is None)",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert Path(where[0]).resolve().is_relative_to(venv.resolve()), where[0]
    assert where[1] == "True"  # no Qt reachable in this venv

    cli = bindir / "kodomo-desktop-cli"
    r = subprocess.run(
        [str(cli), "demo", "--residents", "200", "--db", "x.db"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary, r.stdout
    assert (elsewhere / "x.db").stat().st_size > 0
    assert not list(src.glob("*.db"))  # nothing written beside the sources

    # the CLI never imports Qt (it is not even installed here); python -X importtime lists every module loaded
    r = subprocess.run(
        [str(py), "-X", "importtime", "-m", "kodomo_desktop.cli", "verify", "--db", "x.db"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    assert len(imported) > 50 and not [m for m in imported if m.startswith(("PySide6", "shiboken6"))]

    # the GUI command says what is missing instead of a traceback
    r = subprocess.run([str(bindir / "kodomo-desktop")], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "kodomo-desktop[gui]" in r.stderr and "Traceback" not in r.stderr
