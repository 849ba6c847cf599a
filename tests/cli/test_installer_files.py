"""The set-up scripts, the PyInstaller spec and the Windows files are well-formed and say what they promise.

The scripts themselves run end to end in .ci/run (README command 2, build.sh, the bundle's self-test); these are
the quick checks that catch a broken script or a lost setting before that."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["installer/run-demo.sh", "installer/setup-and-test.sh", "installer/build.sh", "installer/venv.sh", ".ci/run"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_parse(script):
    bash = shutil.which("bash") or "/bin/bash"
    r = subprocess.run([bash, "-n", str(ROOT / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script", ["installer/run-demo.sh", "installer/setup-and-test.sh", "installer/build.sh"])
def test_set_up_commands_use_the_projects_venv(script):
    text = (ROOT / script).read_text()
    assert ". installer/venv.sh" in text and "kodomo_venv " in text
    assert "pip install" not in text.replace("# ", "")  # only venv.sh installs, and only into .venv
    venv = (ROOT / "installer/venv.sh").read_text()
    assert '-m venv .venv' in venv and "python3-venv" in venv and '.venv/bin/python' in venv


def test_ci_runs_command_2_with_the_system_python_then_the_bundle():
    text = (ROOT / ".ci/run").read_text()
    assert "PYTHON=/usr/bin/python3" in text
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    steps = ("bash installer/setup-and-test.sh", "bash installer/build.sh", "--self-test", "kodomo-desktop-cli\" demo")
    order = [code.index(s) for s in steps]
    assert order == sorted(order)
    assert "env -i PATH=/usr/bin:/bin" in text and "git status --porcelain" in text


def test_readme_names_both_commands():
    readme = (ROOT / "README.md").read_text()
    assert "bash installer/run-demo.sh" in readme and "bash installer/setup-and-test.sh" in readme
    assert ".venv" in readme and "docs/INSTALL.md" in readme


def test_pyinstaller_spec_is_python_naming_both_entry_points():
    spec = (ROOT / "installer/kodomo-desktop.spec").read_text()
    ast.parse(spec)
    for entry in ("entry_gui.py", "entry_cli.py"):
        assert entry in spec and (ROOT / "installer" / entry).exists()
    assert 'name="kodomo-desktop"' in spec and 'name="kodomo-desktop-cli"' in spec
    assert "COLLECT(" in spec  # onedir: one folder, both executables


def test_inno_setup_script_is_per_user_with_start_menu_and_uninstall():
    iss = (ROOT / "installer/windows/kodomo-desktop.iss").read_text(encoding="utf-8")
    setup = dict(
        re.findall(r"^(\w+)=(.*)$", iss.split("[Setup]", 1)[1].split("\n[", 1)[0], flags=re.M),
    )
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["DefaultDirName"].startswith("{userpf}")  # %LOCALAPPDATA%\Programs
    assert "[Icons]" in iss and "{group}" in iss and "{uninstallexe}" in iss and "--self-test" in iss
    assert "{#SourceDir}\\*" in iss and "dist\\kodomo-desktop" in iss
    # the uninstaller never deletes the data folder
    assert "KodomoDesktop\\*" not in iss.split("[UninstallDelete]", 1)[1]


def test_windows_workflow_builds_and_self_tests():
    wf = yaml.safe_load((ROOT / ".github/workflows/windows.yml").read_text(encoding="utf-8"))
    job = next(iter(wf["jobs"].values()))
    assert job["runs-on"].startswith("windows")
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "build.ps1" in runs and "--self-test" in runs and "kodomo-desktop-cli.exe" in runs
    assert (ROOT / "installer/windows/build.ps1").exists()
