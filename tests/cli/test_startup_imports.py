"""Start-up (issue 21): a command imports only what it needs, and derives the database key once per process.

Each command runs in a fresh interpreter under ``python -X importtime``; the modules it imported are read from that
trace. pandas/numpy/openpyxl (department files), reportlab (PDFs) and PySide6 (the GUI) cost 0.5–2 s each on an
office PC and belong only to the commands that read a file, write a PDF or open a window; Alembic only to a command
that has to migrate the database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "numpy", "openpyxl", "reportlab", "PySide6")
_TRACE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|( *)(\S+)$")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(KODOMO_DB_PASSWORD=PASSWORD, PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def _imported(*argv: str) -> tuple[int, set[str], str]:
    p = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=_env(),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    mods = {m.group(2) for line in p.stderr.splitlines() if (m := _TRACE.match(line))}
    return p.returncode, {m.split(".")[0] for m in mods}, p.stdout + p.stderr[-2000:]


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    from kodomo_desktop.core.workspace import Workspace

    db = tmp_path_factory.mktemp("startup") / "town.db"
    Workspace.create(db, PASSWORD).close()
    return db


@pytest.mark.parametrize(
    "command",
    [
        ["verify"],
        ["batches", "list"],
        ["users", "list"],
        ["retention"],
        ["self-inspection"],
        ["log", "--out", "{tmp}/log.csv"],
    ],
)
def test_light_commands_do_not_import_files_pdfs_or_qt(town, tmp_path, command):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    rc, mods, output = _imported("-m", "kodomo_desktop.cli", *args, "--db", str(town))
    assert rc == 0, output
    assert "sqlalchemy" in mods and "kodomo_desktop" in mods  # the trace was read
    assert sorted(set(HEAVY) & mods) == [], (command, output)
    assert "alembic" not in mods  # a database at the schema head is opened without the migration machinery


def test_help_imports_no_command_module_dependencies():
    rc, mods, output = _imported("-m", "kodomo_desktop.cli", "--help")
    assert rc == 0 and "import" in output
    assert sorted((set(HEAVY) | {"sqlalchemy", "argon2"}) & mods) == []


def test_a_pdf_command_still_gets_reportlab(town, tmp_path):
    """The lazy import is real: the PDF variant of the same command loads reportlab and writes the PDF."""
    out = tmp_path / "self.pdf"
    rc, mods, output = _imported("-m", "kodomo_desktop.cli", "self-inspection", "--out", str(out), "--db", str(town))
    assert rc == 0, output
    assert "reportlab" in mods and out.read_bytes().startswith(b"%PDF")


_COUNT_KDF = """
import runpy, sys
import argon2.low_level as L
from kodomo_desktop.core.storage import keys as K
runs = []
real = K.hash_secret_raw
def counted(*a, **k):
    runs.append(1)
    return real(*a, **k)
K.hash_secret_raw = counted
sys.argv = ["kodomo-desktop-cli"] + sys.argv[1:]
try:
    runpy.run_module("kodomo_desktop.cli", run_name="__main__")
except SystemExit as e:
    code = e.code
else:
    code = 0
print("ARGON2_RUNS", len(runs), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("command", [["verify"], ["users", "list"], ["batches", "list"]])
def test_key_derived_once_per_process(town, command):
    p = subprocess.run(
        [sys.executable, "-c", _COUNT_KDF, *command, "--db", str(town)],
        capture_output=True,
        text=True,
        env=_env(),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "ARGON2_RUNS 1" in p.stderr, p.stderr[-1000:]


def test_scripted_head_is_alembics_head():
    """The head read from the scripts' revision lines (no Alembic import on open) is the one Alembic computes."""
    from alembic.script import ScriptDirectory

    from kodomo_desktop.core.storage import migrate as W

    assert W._scripted_head() == ScriptDirectory.from_config(W.alembic_config()).get_current_head()
    assert W.head_revision() == W._scripted_head()


def test_monthly_run_in_one_process_derives_the_key_once(tmp_path, demo_town):
    """``import --manifest --link --score``: three steps, one unlock — one Argon2id run for the whole month."""
    from conftest import DEMO_PW

    demo_town(tmp_path / "src.db", residents=300, seed=3, files_out=tmp_path / "files")
    db = tmp_path / "m.db"
    from kodomo_desktop.core.workspace import Workspace

    Workspace.create(db, DEMO_PW).close()
    args = ["import", "--manifest", str(tmp_path / "files" / "sources.csv"), "--link", "--score"]
    p = subprocess.run(
        [sys.executable, "-c", _COUNT_KDF, *args, "--out", str(tmp_path / "s.csv"), "--db", str(db)],
        capture_output=True,
        text=True,
        env=dict(_env(), KODOMO_DB_PASSWORD=DEMO_PW),
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert "ARGON2_RUNS 1" in p.stderr, p.stderr[-1000:]
    steps = json.loads(p.stdout)["steps"]
    assert list(steps) == ["open", "import", "link", "score"] and (tmp_path / "s.csv").stat().st_size > 100
