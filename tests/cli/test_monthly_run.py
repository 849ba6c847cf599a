"""The monthly run in one process (issue 21): ``import --manifest M --link --score --out F``.

It must give what the three commands give (``import --manifest``, ``link``, ``score``), refuse what they would refuse
— before anything is read or written where it can — and say what each step cost."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest
from clirun import run_cli
from conftest import DEMO_PW

NEW_PW = "staff-pass-2026-x"


def cli(*args, user: str | None = None):
    env = dict(os.environ, KODOMO_DB_PASSWORD=DEMO_PW if user is None else NEW_PW, KODOMO_KDF_TARGET_MS="20")
    env.pop("KODOMO_USER", None)
    if user:
        env["KODOMO_USER"] = user
    r = run_cli(args, env=env)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("month")
    demo_town(d / "town.db", residents=300, seed=3, files_out=d / "files")
    return d / "files"


_BLANK: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def blank(tmp_path_factory):
    """One new database made by `init` for the module; each test's `fresh` one is a copy of it (an `init` runs
    Argon2id for its new key slot, ~0.5 CPU-second; a copy opens with the derivation cached in this process)."""
    db = tmp_path_factory.mktemp("blank") / "blank.db"
    rc, _, err = cli("init", "--db", db)
    assert rc == 0, err
    _BLANK[:] = [db]
    yield db
    _BLANK.clear()


def fresh(tmp_path: Path, name: str) -> Path:
    """A new, empty database (a copy of the module's `init`)."""
    db = tmp_path / name
    for suffix in ("", ".keys"):
        shutil.copy2(str(_BLANK[0]) + suffix, str(db) + suffix)
    return db


def batches(db: Path) -> list:
    rc, out, err = cli("batches", "list", "--db", db)
    assert rc == 0, err
    return out["batches"]


def _strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("run_id", "out", "link_run_id", "run")}


def test_one_process_gives_what_three_commands_give(files, tmp_path):
    manifest = files / "sources.csv"
    a, b = fresh(tmp_path, "a.db"), fresh(tmp_path, "b.db")
    rc, imp, err = cli("import", "--db", a, "--manifest", manifest)
    assert rc == 0, err
    rc, link, err = cli("link", "--db", a)
    assert rc == 0, err
    rc, score, err = cli("score", "--db", a, "--out", tmp_path / "a.csv")
    assert rc == 0, err

    rc, one, err = cli("import", "--db", b, "--manifest", manifest, "--link", "--score", "--out", tmp_path / "b.csv")
    assert rc == 0, err
    assert set(one) == {"files", "link", "score", "steps"}
    assert [f["file"] for f in one["files"]] == [f["file"] for f in imp["files"]]
    assert [f["imported"] for f in one["files"]] == [f["imported"] for f in imp["files"]]
    assert _strip(one["link"]) == _strip(link) and one["link"]["persons"] > 250
    assert _strip(one["score"]) == _strip(score) and one["score"]["children"] > 20
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    # what each step cost, for the town and the benchmark
    assert list(one["steps"]) == ["open", "import", "link", "score"]
    for st in one["steps"].values():
        assert st["cpu_s"] >= 0 and st["wall_s"] > 0 and st["peak_rss_mb"] > 10
    assert one["steps"]["import"]["cpu_s"] > 0.05
    # the same database afterwards: a second `link` over it changes nothing, the batches are the same
    assert [(x["source_type"], x["rows"]) for x in batches(b)] == [(x["source_type"], x["rows"]) for x in batches(a)]
    rc, again, err = cli("link", "--db", b)
    assert rc == 0 and again["written"] == 0, (again, err)


def test_link_only_and_full(files, tmp_path):
    db = fresh(tmp_path, "c.db")
    rc, one, err = cli("import", "--db", db, "--manifest", files / "sources.csv", "--link", "--full")
    assert rc == 0, err
    assert set(one) == {"files", "link", "steps"} and one["link"]["persons"] > 250
    assert list(one["steps"]) == ["open", "import", "link"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--score", "--out", "x.csv"], "--link"),
        (["--link", "--score"], "--out"),
        (["--link", "--out", "x.csv"], "--score"),
        (["--full"], "--link"),
    ],
)
def test_wrong_combinations_are_usage_errors(files, tmp_path, extra, message):
    db = fresh(tmp_path, "d.db")
    extra = [str(tmp_path / e) if e.endswith(".csv") else e for e in extra]
    rc, out, err = cli("import", "--db", db, "--manifest", files / "sources.csv", *extra)
    assert rc == 1 and message in err and out is None
    assert batches(db) == []


def test_link_and_score_belong_to_a_manifest(files, tmp_path):
    db = fresh(tmp_path, "e.db")
    reg = next(files.glob("住民基本台帳*"))
    rc, _, err = cli("import", "--db", db, "--source", "resident_registry", reg, "--link")
    assert rc == 1 and "--manifest" in err
    assert batches(db) == []


def test_missing_output_folder_refused_before_anything(files, tmp_path):
    db = fresh(tmp_path, "f.db")
    out = tmp_path / "ない" / "score.csv"
    rc, got, err = cli("import", "--db", db, "--manifest", files / "sources.csv", "--link", "--score", "--out", out)
    assert rc == 2 and "ない" in err and got is None
    assert batches(db) == []
    # and the `score` command itself: refused before it scores (it used to score, save the run, then fail to write)
    rc, got, err = cli("score", "--db", db, "--out", out)
    assert rc == 2 and "ない" in err and "Traceback" not in err


def test_a_refused_file_stops_before_link_and_score(files, tmp_path):
    db = fresh(tmp_path, "g.db")
    month = tmp_path / "12月"
    shutil.copytree(files, month)
    with open(month / "sources.csv", "a", encoding="utf-8") as fh:
        fh.write("ない.csv,tax\n")
    out = tmp_path / "s.csv"
    rc, got, err = cli("import", "--db", db, "--manifest", month / "sources.csv", "--link", "--score", "--out", out)
    assert rc == 2, err
    assert "名寄せとスコアの算出は行っていません" in err
    assert got["stopped_before"] == "link" and "link" not in got and "score" not in got
    by = {f["file"]: f for f in got["files"]}
    assert by["ない.csv"]["refused"] and sum(1 for f in got["files"] if not f.get("refused")) >= 6
    assert not out.exists()
    assert len(batches(db)) == len(got["files"]) - 1  # the others are kept, as `import --manifest` keeps them


def test_a_role_that_may_not_link_is_refused_before_any_file_is_read(files, tmp_path, demo_town):
    db = tmp_path / "h.db"
    demo_town(db, residents=300, seed=3)
    env_new = dict(KODOMO_NEW_PASSWORD=NEW_PW)
    os.environ.update(env_new)
    try:
        rc, _, err = cli("users", "add", "--db", db, "--name", "sato", "--role", "staff")
    finally:
        os.environ.pop("KODOMO_NEW_PASSWORD", None)
    assert rc == 0, err
    before = batches(db)
    rc, got, err = cli(
        "import", "--db", db, "--manifest", files / "sources.csv", "--link", "--score", "--out", tmp_path / "s.csv",
        user="sato",
    )  # fmt: skip
    assert rc == 2 and "権限" in err and got is None
    assert batches(db) == before and not (tmp_path / "s.csv").exists()
    rc, log, err = cli("log", "--db", db, "--out", tmp_path / "log.csv")
    assert rc == 0, err
    with open(tmp_path / "log.csv", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if "permission_denied" in ",".join(r.values())]
    assert rows and "sato" in ",".join(rows[-1].values())
