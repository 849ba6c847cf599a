"""End to end through the CLI on a demo town: files written, no plaintext names on disk, tamper detected."""

import csv
import json
import os

import pytest
from clirun import run_cli

PW = "e2e pass"


def cli(*args, cwd, env=None):
    """The CLI in this process (tests/clirun.py)."""
    e = dict(os.environ, KODOMO_DB_PASSWORD=PW)
    e.update(env or {})
    return run_cli(args, cwd=cwd, env=e)


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    # in this process: `python -m kodomo_desktop` as a real process is test_store's init (and the wheel's CLI)
    r = cli("demo", "--db", "d.db", "--residents", "800", "--seed", "3", "--files-out", "files", cwd=d)
    assert r.returncode == 0, r.stderr[-2000:]
    return d, json.loads(r.stdout)


def test_demo_writes_department_files_with_manifest(town):
    d, summary = town
    files = sorted(os.listdir(d / "files"))
    assert "sources.csv" in files and len(files) - 1 >= 6
    manifest = list(csv.DictReader(open(d / "files" / "sources.csv", encoding="utf-8")))
    assert {m["file_name"] for m in manifest} == set(files) - {"sources.csv"}
    kinds = {m["source_type"] for m in manifest}
    assert {
        "resident_registry",
        "maternal_child_health",
        "school_attendance",
        "child_rearing_allowance",
        "yotaikyo",
        "disability",
    } <= kinds
    assert any(f.endswith(".csv") and f != "sources.csv" for f in files) and any(f.endswith(".xlsx") for f in files)


def test_no_demo_name_in_plaintext_on_disk(town):
    d, _ = town
    reg = next(f for f in os.listdir(d / "files") if f.startswith("住民基本台帳"))
    rows = list(csv.reader(open(d / "files" / reg, encoding="cp932")))
    names = {r[2].replace("　", "") for r in rows[1:60]} | {r[2] for r in rows[1:60]}
    r = cli("backup", "--db", "d.db", "--out", "d.bak", cwd=d)
    assert r.returncode == 0, r.stderr
    r = cli("export-links", "--db", "d.db", "--out", "links.csv", cwd=d)
    for f in ("d.db", "d.db.keys", "d.bak"):
        blob = (d / f).read_bytes()
        for n in names:
            for enc in ("utf-8", "cp932", "utf-16-le"):
                try:
                    assert n.encode(enc) not in blob, (f, n, enc)
                except UnicodeEncodeError:
                    pass
    leftovers = [p for p in d.iterdir() if p.name.endswith(("-journal", "-wal", ".tmp", ".part", ".restoring"))]
    assert not leftovers


def test_cli_tamper_with_access_log_gives_exit_3(town, tmp_path):
    import shutil

    d, _ = town
    for s in ("", ".keys"):
        shutil.copy(str(d / "d.db") + s, str(tmp_path / "x.db") + s)
    r = cli("verify", "--db", "x.db", cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    from kodomo_desktop.core.storage import keys as K
    from kodomo_desktop.core.storage.db import raw_connect

    key, _, _ = K.KeyFile.load(tmp_path / "x.db").unwrap(None, PW)
    con = raw_connect(tmp_path / "x.db", key)
    con.execute("UPDATE access_log SET user = 'someone else' WHERE seq = 3")
    con.close()
    r = cli("verify", "--db", "x.db", cwd=tmp_path)
    assert r.returncode == 3 and json.loads(r.stdout)["first_broken_entry"] == 3


def test_roles_through_the_cli(town, tmp_path):
    import shutil

    d, _ = town
    for s in ("", ".keys"):
        shutil.copy(str(d / "d.db") + s, str(tmp_path / "x.db") + s)
    assert (
        cli(
            "users",
            "add",
            "--db",
            "x.db",
            "--name",
            "s1",
            "--role",
            "staff",
            cwd=tmp_path,
            env={"KODOMO_NEW_PASSWORD": "staff pw"},
        ).returncode
        == 0
    )
    assert (
        cli(
            "users",
            "add",
            "--db",
            "x.db",
            "--name",
            "t1",
            "--role",
            "school",
            "--school",
            "第一小学校",
            cwd=tmp_path,
            env={"KODOMO_NEW_PASSWORD": "t pw 12"},
        ).returncode
        == 0
    )
    school = {"KODOMO_USER": "t1", "KODOMO_DB_PASSWORD": "t pw 12"}
    assert cli("score", "--db", "x.db", "--out", "s.csv", cwd=tmp_path, env=school).returncode == 2
    assert not (tmp_path / "s.csv").exists()
    assert cli("export-links", "--db", "x.db", "--out", "l.csv", cwd=tmp_path, env=school).returncode == 2
    staff = {"KODOMO_USER": "s1", "KODOMO_DB_PASSWORD": "staff pw"}
    assert cli("export-links", "--db", "x.db", "--out", "l.csv", cwd=tmp_path, env=staff).returncode == 0
    reg = next(f for f in os.listdir(d / "files") if f.startswith("住民基本台帳"))
    assert (
        cli(
            "import", "--db", "x.db", "--source", "resident_registry", str(d / "files" / reg), cwd=tmp_path, env=staff
        ).returncode
        == 2
    )
    before = (tmp_path / "x.db").read_bytes()
    assert (
        cli("passwd", "--db", "x.db", cwd=tmp_path, env={**staff, "KODOMO_NEW_PASSWORD": "new staff pw"}).returncode
        == 0
    )
    assert (tmp_path / "x.db").read_bytes()[16:4096] != before[16:4096]  # passwd re-keys the database
    assert cli("users", "remove", "--db", "x.db", "--name", "s1", cwd=tmp_path).returncode == 0
    assert (
        cli(
            "verify", "--db", "x.db", cwd=tmp_path, env={"KODOMO_USER": "s1", "KODOMO_DB_PASSWORD": "new staff pw"}
        ).returncode
        == 2
    )
    r = cli("log", "--db", "x.db", "--out", "log.csv", cwd=tmp_path)
    log = open(tmp_path / "log.csv", encoding="utf-8").read()
    assert r.returncode == 0 and "permission_denied" in log and "t1" in log
