"""Guards on a replacing extract, batch undo and the manifest import, through the CLI, on a small demo town.

Every refusal is checked three ways: exit 2, a Japanese message naming the figures, and an unchanged database
(``export-links`` identical before and after)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import DEMO_PW
from forkrun import CLI_MAIN, start_code

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


def cli(*args, env=None, subprocess_=False):
    """Run the CLI in this process (fast; same parser, same main) — or as a real process with ``subprocess_`` (a fork
    of this one, tests/forkrun.py: its own connections, exit code and output)."""
    e = dict(KODOMO_DB_PASSWORD=PW, KODOMO_KDF_TARGET_MS="20", **(env or {}))
    if subprocess_:
        full = dict(os.environ, **e)
        full.pop("KODOMO_USER", None)
        with tempfile.TemporaryDirectory() as out:
            p = start_code(CLI_MAIN, *args, env=full, capture_in=out)
            rc = p.wait()
        return rc, p.stdout, p.stderr
    from kodomo_desktop.cli import main

    saved = {k: os.environ.get(k) for k in [*e, "KODOMO_USER"]}
    os.environ.update(e)
    os.environ.pop("KODOMO_USER", None)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in args])
            except SystemExit as x:
                rc = x.code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return rc, out.getvalue(), err.getvalue()


def cli_json(*args, **kw):
    rc, out, err = cli(*args, **kw)
    return rc, (json.loads(out) if out.strip() else None), err


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("town")
    demo_town(d / "town.db", residents=300, seed=3, files_out=d / "files")  # `demo --residents 300 --seed 3`, cached
    return d


@pytest.fixture
def db(town, tmp_path):
    for f in town.iterdir():
        if f.is_file() and f.name.startswith("town.db"):
            shutil.copy(f, tmp_path / f.name)
    return tmp_path / "town.db"


def links(db: Path) -> str:
    out = db.parent / "links.csv"
    rc, _, err = cli("export-links", "--db", db, "--out", out)
    assert rc == 0, err
    return out.read_text(encoding="utf-8-sig")


def history(db: Path) -> list[dict]:
    rc, out, err = cli_json("batches", "list", "--db", db)
    assert rc == 0, err
    return out["batches"]


def registry_lines(town: Path) -> tuple[str, list[str]]:
    src = next((town / "files").glob("住民基本台帳_*.csv"))
    lines = src.read_text(encoding="cp932").splitlines()
    return lines[0], lines[1:]


def write(path: Path, head: str, rows: list[str]) -> Path:
    path.write_text("\r\n".join([head, *rows]) + "\r\n", encoding="cp932")
    return path


def refused(db, *args):
    """Import and expect a refusal that changes nothing; returns stderr."""
    before, batches = links(db), history(db)
    rc, out, err = cli("import", "--db", db, *args)
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and err.startswith("エラー: ")
    assert links(db) == before and history(db) == batches
    return err


def test_far_shorter_registry_is_refused_unless_forced(town, db, tmp_path):
    head, rows = registry_lines(town)
    short = write(tmp_path / "住民基本台帳_10行.csv", head, rows[:10])
    err = refused(db, "--source", "resident_registry", short, "--as-of", "2026-12-01")
    n_now = sum(1 for b in history(db) if b["source_type"] == "resident_registry" and b["current"])
    assert n_now == 1
    prev = next(b for b in history(db) if b["source_type"] == "resident_registry")["imported"]
    assert f"前回 {prev:,} 行 → 今回 10 行" in err and "--force" in err
    rc, out, err = cli_json(
        "import", "--db", db, "--source", "resident_registry", short, "--as-of", "2026-12-01", "--force"
    )
    assert rc == 0, err
    assert out["imported"] == 10 and out["superseded"]
    assert any("確認のうえ取り込みました" in w and "今回 10 行" in w for w in out["warnings"])


def test_all_rejected_registry_is_refused(town, db, tmp_path):
    head, rows = registry_lines(town)
    bad = [",".join(c if i != 4 else "2026/13/45" for i, c in enumerate(r.split(","))) for r in rows]
    path = write(tmp_path / "住民基本台帳_壊れ.csv", head, bad)
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-12-01")
    assert f"{len(rows):,} 行はどれも取り込めません" in err and "生年月日" in err
    # not even with --force: a batch without a single row would empty the registry
    rc, _, err = cli("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-12-01", "--force")
    assert rc == 2


def test_duplicate_resident_numbers_rejected_by_row(town, db, tmp_path):
    head, rows = registry_lines(town)
    rows = list(rows)
    a, b = rows[10].split(","), rows[43].split(",")
    b[0] = a[0]  # file rows 12 and 45 (the header is row 1) share one 宛名番号
    rows[43] = ",".join(b)
    path = write(tmp_path / "住民基本台帳_重複.csv", head, rows)
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-12-01")
    assert "宛名番号が重複: 行 12 と 45" in err
    rc, out, err = cli_json(
        "import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-12-01", "--force"
    )
    assert rc == 0, err
    dup_errors = {e["row"] for e in out["errors"] if "重複" in e["message"]}
    assert dup_errors == {12, 45}  # both rows left out: which of the two is the person is for a person to decide


def test_registry_resaved_through_excel_is_the_same_registry(town, db, tmp_path):
    head, rows = registry_lines(town)
    stripped = []
    for r in rows:
        c = r.split(",")
        c[0], c[1] = c[0].lstrip("0"), c[1].lstrip("0")
        stripped.append(",".join(c))
    assert stripped[0] != rows[0]
    path = write(tmp_path / "住民基本台帳_Excel.csv", head, stripped)
    rc, before, _ = cli_json("link", "--db", db)
    assert cli("score", "--db", db, "--out", tmp_path / "before.csv")[0] == 0
    rc, out, err = cli_json("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert rc == 0 and out["superseded"], err
    rc, after, err = cli_json("link", "--db", db)
    assert rc == 0, err
    assert after["persons"] == before["persons"]  # not 300 new people
    assert cli("score", "--db", db, "--out", tmp_path / "after.csv")[0] == 0
    # the same children with the same scores and reasons
    import csv as _csv

    def flagged(p):
        with open(p, encoding="utf-8-sig") as fh:
            return sorted((r["person_id"], r["total"], r["reasons"]) for r in _csv.DictReader(fh) if r["band"])

    assert flagged(tmp_path / "after.csv") == flagged(tmp_path / "before.csv") and flagged(tmp_path / "before.csv")
    # and a registry of other numbers altogether (another town, or 世帯番号 read as 宛名番号) is refused
    other = [("9" + r if r[0].isdigit() else r) for r in rows]
    path = write(tmp_path / "住民基本台帳_他.csv", head, other)
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-12-02")
    assert "宛名番号が現在の住民基本台帳と一致するのは" in err and "件中 0 件" in err


def test_checkup_workbook_as_allowance_is_refused(town, db):
    wb = next((town / "files").glob("乳幼児健診*.xlsx"))
    err = refused(db, "--source", "child_rearing_allowance", wb)
    assert "児童扶養手当の形式に合いません" in err and "母子保健" in err


def test_two_columns_to_one_field_refused(town, db):
    vac = next((town / "files").glob("予防接種*.csv"))
    err = refused(db, "--source", "maternal_child_health", vac, "--map", "氏名=name", "--map", "カナ氏名=name")
    assert "「氏名」と「カナ氏名」" in err
    err = refused(db, "--source", "maternal_child_health", vac, "--map", "氏名=name", "--map", "氏名=name_kana")
    assert "列「氏名」に2つの項目" in err


def test_batches_remove_undoes_a_batch(town, db, tmp_path):
    cli("link", "--db", db)
    rc, _, err = cli("score", "--db", db, "--out", tmp_path / "before.csv")
    assert rc == 0, err
    head, rows = registry_lines(town)
    short = write(tmp_path / "住民基本台帳_10行.csv", head, rows[:10])
    rc, out, err = cli_json(
        "import", "--db", db, "--source", "resident_registry", short, "--as-of", "2026-12-01", "--force"
    )
    assert rc == 0, err
    bad_batch, previous = out["batch_id"], out["superseded"]
    cli("link", "--db", db)
    cli("score", "--db", db, "--out", tmp_path / "during.csv")
    assert (tmp_path / "during.csv").read_text() != (tmp_path / "before.csv").read_text()
    rc, _, _ = cli("batches", "remove", "--db", db, "--batch", bad_batch)
    assert rc == 1  # --reason is required
    rc, out, err = cli_json("batches", "remove", "--db", db, "--batch", bad_batch, "--reason", "10行だけの抽出だった")
    assert rc == 0, err
    assert out["current_again"] == previous
    h = {b["batch_id"]: b for b in history(db)}
    assert h[bad_batch]["removed"] and all(h[p]["current"] for p in previous)
    cli("link", "--db", db)
    rc, _, err = cli("score", "--db", db, "--out", tmp_path / "after.csv")
    assert rc == 0, err
    assert (tmp_path / "after.csv").read_text() == (tmp_path / "before.csv").read_text()
    rc, _, err = cli("batches", "remove", "--db", db, "--batch", bad_batch, "--reason", "again")
    assert rc == 2 and "ありません" in err
    rc, _, err = cli("log", "--db", db, "--out", tmp_path / "log.csv")
    assert rc == 0, err
    log = (tmp_path / "log.csv").read_text(encoding="utf-8-sig")
    assert "batch_removed" in log and "10行だけの抽出だった" in log


def test_duplicate_check_keys_on_file_and_mapping(town, db):
    tax = next((town / "files").glob("住民税*.csv"))
    rc, out, err = cli_json("import", "--db", db, "--source", "tax", tax)
    assert rc == 0 and out["duplicate_of"], err  # the demo imported this very file with this mapping
    # the same file under another mapping is not a duplicate; once that wrong batch is removed, it can come again
    rc, out, err = cli_json("import", "--db", db, "--source", "tax", tax, "--map", "性別=-", "--force")
    assert rc == 0 and out["batch_id"], err
    rc, _, err = cli("batches", "remove", "--db", db, "--batch", out["batch_id"], "--reason", "対応づけの誤り")
    assert rc == 0, err
    rc, again, err = cli_json("import", "--db", db, "--source", "tax", tax, "--map", "性別=-", "--force")
    assert rc == 0 and again["batch_id"] and again["batch_id"] != out["batch_id"], err


def test_manifest_imports_the_month_in_one_call(town, tmp_path):
    db = tmp_path / "m.db"
    assert cli("init", "--db", db)[0] == 0
    manifest = town / "files" / "sources.csv"
    rc, out, err = cli_json("import", "--db", db, "--manifest", manifest, subprocess_=True)  # the real thing
    assert rc == 0, err
    files = out["files"]
    with open(manifest, encoding="utf-8") as fh:
        listed = [r["file_name"] for r in csv.DictReader(fh)]
    assert sorted(f["file"] for f in files) == sorted(listed)
    assert all(f["batch_id"] and not f.get("refused") and isinstance(f["warnings"], list) for f in files)
    assert sum(f["imported"] for f in files) > 300
    assert files[0]["source_type"] == "resident_registry" and {f["as_of"] for f in files} == {"2026-11-01"}
    assert all(b["as_of"] == "2026-11-01" for b in history(db))
    # a second month's manifest with one missing and one wrong file: those two refused, the rest kept, exit 2
    d = tmp_path / "12月"
    d.mkdir()
    shutil.copy(town / "files" / "生活保護受給者一覧.csv", d / "生活保護.csv")
    shutil.copy(next((town / "files").glob("乳幼児健診*.xlsx")), d / "手当.xlsx")
    (d / "sources.csv").write_text(
        "file_name,source_type,as_of\n生活保護.csv,public_assistance,2026-12-01\nない.csv,tax,2026-12-01\n"
        "手当.xlsx,child_rearing_allowance,2026-12-01\n",
        encoding="utf-8",
    )
    n_before = len(history(db))
    rc, out, err = cli_json("import", "--db", db, "--manifest", d / "sources.csv")
    assert rc == 2 and "3 ファイルのうち 2 ファイル" in err
    by = {f["file"]: f for f in out["files"]}
    assert by["生活保護.csv"].get("duplicate_of") and not by["生活保護.csv"].get("refused")
    assert by["ない.csv"]["refused"] and "見つかりません" in by["ない.csv"]["message"]
    assert by["手当.xlsx"]["refused"] and by["手当.xlsx"]["findings"]
    assert len(history(db)) == n_before
    # a manifest that cannot be read is refused whole
    (d / "bad.csv").write_text("file_name,source_type\n生活保護.csv,生活補助\n", encoding="utf-8")
    rc, _, err = cli("import", "--db", db, "--manifest", d / "bad.csv")
    assert rc == 2 and "2 行目" in err and "生活補助" in err
    rc, _, err = cli("import", "--db", db, "--manifest", d / "bad.csv", "--source", "tax")
    assert rc == 1
