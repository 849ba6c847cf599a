"""Start-up (issue 21): a command imports only what it needs, and derives the database key once per process.

``--help`` runs in a fresh interpreter under ``python -X importtime``; the modules it imported are read from that
trace. The commands that open a database run in a fork of one fresh interpreter that has imported the CLI and the
workspace — what each of them imports first — and nothing else (:class:`Zygote`); a command's modules are every
module its process holds when it ends, the zygote's own included, so a heavy import by the workspace would show as
well. (Where the OS has no fork, each is a fresh interpreter under ``-X importtime``.) pandas/numpy/openpyxl
(department files), reportlab (PDFs) and PySide6 (the GUI) cost 0.5–2 s each on an office PC and belong only to the
commands that read a file, write a PDF or open a window; Alembic only to a command that has to migrate the
database."""

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


def _imported(*argv: str, env: dict | None = None) -> tuple[int, set[str], str]:
    p = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        env=env or _env(),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    mods = {m.group(2) for line in p.stderr.splitlines() if (m := _TRACE.match(line))}
    return p.returncode, {m.split(".")[0] for m in mods}, p.stdout + p.stderr[-2000:]


# What a job runs, as `python -c PROGRAM ARGS` would: the command as `python -m kodomo_desktop.cli ARGS` runs it, or
# the same with the Argon2id runs counted (said on stderr at exit, after the command's own output).
_RUN_CLI = """
import runpy, sys
sys.argv = ["kodomo-desktop-cli"] + sys.argv[1:]
runpy.run_module("kodomo_desktop.cli", run_name="__main__")
"""

_COUNT_KDF = (
    """
import atexit, sys
from kodomo_desktop.core.storage import keys as K
runs = []
real = K.hash_secret_raw
def counted(*a, **k):
    runs.append(1)
    return real(*a, **k)
K.hash_secret_raw = counted
atexit.register(lambda: print("ARGON2_RUNS", len(runs), file=sys.stderr))
"""
    + _RUN_CLI
)

# The zygote: imports the CLI and the workspace, then for each job (a JSON line on stdin) forks a child that runs the
# job's program (its exit code, its atexit functions) with stdout and stderr in files and writes the names of the
# modules it holds at its end.
_ZYGOTE = """
import atexit, json, os, sys, traceback
import kodomo_desktop.cli, kodomo_desktop.core.workspace
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for n, path in ((1, job["out"]), (2, job["err"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), n)
            os.environ.clear()
            os.environ.update(job["env"])
            sys.argv = ["-c", *job["argv"]]
            try:
                exec(compile(job["program"], "<string>", "exec"), {"__name__": "__main__"})
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            atexit._run_exitfuncs()
            with open(job["mods"], "w", encoding="utf-8") as fh:
                fh.write("\\n".join(sorted(sys.modules)))
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
"""


class Zygote:
    """One fresh interpreter (:data:`_ZYGOTE`) whose forks run the commands: each a new process, without each paying
    the interpreter's start-up and the CLI's and workspace's imports again."""

    def __init__(self, folder: Path):
        self.folder, self.n = folder, 0
        self.p = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )

    def run(self, *argv: str, env: dict | None = None, count_kdf: bool = False) -> tuple[int, set[str], str]:
        """(exit code, top-level names of the modules the process held, its stdout then the end of its stderr)."""
        self.n += 1
        out, err, mods = (self.folder / f"job{self.n}.{x}" for x in ("out", "err", "mods"))
        job = {"program": _COUNT_KDF if count_kdf else _RUN_CLI, "argv": list(argv), "env": env or _env()}
        job |= {"out": str(out), "err": str(err), "mods": str(mods)}
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(json.dumps(job) + "\n")
        self.p.stdin.flush()
        rc = int(self.p.stdout.readline())
        names = {m.split(".")[0] for m in mods.read_text(encoding="utf-8").split()} if mods.exists() else set()
        text = out.read_text(encoding="utf-8", errors="replace")
        return rc, names, text + err.read_text(encoding="utf-8", errors="replace")[-2000:]

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=60)


@pytest.fixture(scope="module")
def command(tmp_path_factory):
    """``command(*argv, env=None, count_kdf=False) -> (exit code, modules, output)``: a database command in a
    process of its own (a zygote's fork; a fresh interpreter under ``-X importtime`` where there is no fork)."""
    if not hasattr(os, "fork"):

        def fresh(*argv, env=None, count_kdf=False):
            return _imported("-c", _COUNT_KDF if count_kdf else _RUN_CLI, *argv, env=env)

        yield fresh
        return
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z.run
    z.close()


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    from kodomo_desktop.core.workspace import Workspace

    db = tmp_path_factory.mktemp("startup") / "town.db"
    Workspace.create(db, PASSWORD).close()
    return db


@pytest.mark.parametrize(
    "argv",
    [
        ["verify"],
        ["batches", "list"],
        ["users", "list"],
        ["retention"],
        ["self-inspection"],
        ["log", "--out", "{tmp}/log.csv"],
    ],
)
def test_light_commands_do_not_import_files_pdfs_or_qt(town, tmp_path, command, argv):
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc, mods, output = command(*args, "--db", str(town))
    assert rc == 0, output
    assert "sqlalchemy" in mods and "kodomo_desktop" in mods  # the trace was read
    assert sorted(set(HEAVY) & mods) == [], (argv, output)
    assert "alembic" not in mods  # a database at the schema head is opened without the migration machinery


def test_help_imports_no_command_module_dependencies():
    rc, mods, output = _imported("-m", "kodomo_desktop.cli", "--help")
    assert rc == 0 and "import" in output
    assert sorted((set(HEAVY) | {"sqlalchemy", "argon2"}) & mods) == []


def test_a_pdf_command_still_gets_reportlab(town, tmp_path, command):
    """The lazy import is real: the PDF variant of the same command loads reportlab and writes the PDF."""
    out = tmp_path / "self.pdf"
    rc, mods, output = command("self-inspection", "--out", str(out), "--db", str(town))
    assert rc == 0, output
    assert "reportlab" in mods and out.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("argv", [["verify"], ["users", "list"], ["batches", "list"]])
def test_key_derived_once_per_process(town, command, argv):
    rc, _, output = command(*argv, "--db", str(town), count_kdf=True)
    assert rc == 0, output
    assert "ARGON2_RUNS 1" in output, output[-1000:]


def test_scripted_head_is_alembics_head():
    """The head read from the scripts' revision lines (no Alembic import on open) is the one Alembic computes."""
    from alembic.script import ScriptDirectory

    from kodomo_desktop.core.storage import migrate as W

    assert W._scripted_head() == ScriptDirectory.from_config(W.alembic_config()).get_current_head()
    assert W.head_revision() == W._scripted_head()


def test_monthly_run_in_one_process_derives_the_key_once(tmp_path, demo_town, command):
    """``import --manifest --link --score``: three steps, one unlock — one Argon2id run for the whole month."""
    from conftest import DEMO_PW

    demo_town(tmp_path / "src.db", residents=300, seed=3, files_out=tmp_path / "files")
    db = tmp_path / "m.db"
    from kodomo_desktop.core.workspace import Workspace

    Workspace.create(db, DEMO_PW).close()
    args = ["import", "--manifest", str(tmp_path / "files" / "sources.csv"), "--link", "--score"]
    rc, _, output = command(
        *args, "--out", str(tmp_path / "s.csv"), "--db", str(db), env=dict(_env(), KODOMO_DB_PASSWORD=DEMO_PW),
        count_kdf=True,
    )  # fmt: skip
    assert rc == 0, output[-2000:]
    assert "ARGON2_RUNS 1" in output, output[-1000:]
    steps = json.JSONDecoder().raw_decode(output)[0]["steps"]  # (stdout first, then stderr)
    assert list(steps) == ["open", "import", "link", "score"] and (tmp_path / "s.csv").stat().st_size > 100
