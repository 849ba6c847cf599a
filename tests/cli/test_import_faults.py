"""Every import-side fault ends with exit 2 and a Japanese message — never a traceback — and leaves the database as
it was (``export-links`` and ``batches list`` identical before and after)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from forkrun import CLI_MAIN, start_code

PW = "fault test pw"
HEAD = "宛名番号,世帯番号,氏名,フリガナ,生年月日,性別,続柄,住所"


def cli(*args, env=None):
    """The CLI in this process (same parser, same main; monkeypatches apply)."""
    from kodomo_desktop.cli import main

    e = dict(KODOMO_DB_PASSWORD=PW, KODOMO_KDF_TARGET_MS="20", **(env or {}))
    saved = {k: os.environ.get(k) for k in [*e, "KODOMO_USER", "KODOMO_FILE_PASSWORD"]}
    os.environ.update(e)
    os.environ.pop("KODOMO_USER", None)
    if "KODOMO_FILE_PASSWORD" not in e:
        os.environ.pop("KODOMO_FILE_PASSWORD", None)
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


def registry_rows(n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        b = dt.date(2012, 4, 1) + dt.timedelta(days=i * 37)
        out.append(
            f"{10000000 + i:010d},{20000000 + i // 3:08d},試験　子{i:03d},シケン　コ{i:03d},{b:%Y/%m/%d},"
            f"{'男' if i % 2 else '女'},子,みどり県ひなた町本町{i}番地"
        )
    return out


def _town(folder: Path) -> Path:
    db = folder / "t.db"
    assert cli("init", "--db", db)[0] == 0
    reg = folder / "住民基本台帳_10月.csv"
    reg.write_text("\r\n".join([HEAD, *registry_rows(60)]) + "\r\n", encoding="cp932")
    rc, _, err = cli("import", "--db", db, "--source", "resident_registry", reg, "--as-of", "2026-10-01")
    assert rc == 0, err
    assert cli("link", "--db", db)[0] == 0
    return db


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    return _town(tmp_path_factory.mktemp("faults_town"))


@pytest.fixture
def db(town, tmp_path):
    """A town of 60 registry rows (built once per module through the CLI, copied for each test)."""
    for f in town.parent.iterdir():
        if f.is_file() and f.name.startswith(("t.db", "住民基本台帳")) and not f.name.endswith((".lock", ".inuse")):
            shutil.copy2(f, tmp_path / f.name)
    return tmp_path / "t.db"


def state(db: Path):
    out = db.parent / "links-state.csv"
    rc, _, err = cli("export-links", "--db", db, "--out", out)
    assert rc == 0, err
    rc, hist, err = cli("batches", "list", "--db", db)
    assert rc == 0, err
    return out.read_text(encoding="utf-8-sig"), json.loads(hist)


def refused(db, *args, env=None):
    before = state(db)
    rc, out, err = cli("import", "--db", db, *args, env=env)
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err and err.startswith("エラー: ")
    assert state(db) == before
    return err


@pytest.mark.parametrize("mojibake", [False, True])
def test_mixed_encodings_refused_with_the_line(db, tmp_path, mojibake):
    rows = registry_rows(30, start=100)
    if mojibake:  # UTF-8 bytes that CP932 would happily decode into 縺ｿ縺ｩ繧…
        rows[2] = "0010000999,,,,,,,みどり県ひなた町本町"
        assert rows[2].encode("utf-8").decode("cp932")
    data = "\r\n".join([HEAD, *rows[:2]]).encode("cp932") + b"\r\n"
    data += rows[2].encode("utf-8") + b"\r\n"  # line 4 saved by another program in UTF-8
    data += "\r\n".join(rows[3:]).encode("cp932") + b"\r\n"
    path = tmp_path / "住民_混在.csv"
    path.write_bytes(data)
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert "文字コードが混在" in err and "4 行目は UTF-8" in err


def test_same_file_by_two_processes_is_committed_once(db, tmp_path):
    path = tmp_path / "住民_11月.csv"
    path.write_text("\r\n".join([HEAD, *registry_rows(61)]) + "\r\n", encoding="cp932")
    env = dict(os.environ, KODOMO_DB_PASSWORD=PW, KODOMO_KDF_TARGET_MS="20")
    env.pop("KODOMO_USER", None)
    args = ["import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01"]
    # two real processes at once (forks of this one: tests/forkrun.py), each with its own connections and locks
    procs = [start_code(CLI_MAIN, *args, env=env, capture_in=tmp_path) for _ in "ab"]
    results = [(p.wait(), p.stdout, p.stderr) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), results
    outs = [json.loads(o) for _, o, _ in results]
    assert sorted(bool(o.get("batch_id")) for o in outs) == [False, True]  # one import, one duplicate
    dup = next(o for o in outs if not o.get("batch_id"))
    assert dup["duplicate_of"] == next(o["batch_id"] for o in outs if o.get("batch_id"))
    _, hist = state(db)
    assert sum(1 for b in hist["batches"] if b["file_name"] == path.name) == 1


def _xlsx(path: Path, rows: list[list], extra=None) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    if extra:
        extra(ws)
    wb.save(path)
    return path


def _reg_rows(n, start=0):
    return [r.split(",") for r in registry_rows(n, start)]


def test_stray_far_right_cell_is_read_without_a_dense_grid(db, tmp_path, monkeypatch):
    from kodomo_desktop.core.importing import readers as R

    def stray(ws):
        ws["XFD5"] = "メモ"

    path = _xlsx(tmp_path / "住民_XFD.xlsx", [HEAD.split(","), *_reg_rows(62)], stray)
    sizes = R._ooxml_sizes(path, path.read_bytes())
    assert sizes == {"Sheet": (63, 16384)}  # found from the XML before any reader builds its grid
    # a real 38,000-row sheet with that cell is 600 million cells: read cell by cell. Same path, smaller sheet:
    monkeypatch.setattr(R, "MAX_GRID_CELLS", 100_000)
    calls = []
    real = R._sparse_sheet
    monkeypatch.setattr(R, "_sparse_sheet", lambda *a, **k: calls.append(1) or real(*a, **k))
    t = R.read_table(path)
    assert calls and t.headers[-1] == "列XFD" and t.rows[3][-1] == "メモ" and len(t.rows) == 62
    rc, out, err = cli("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert rc == 0, err
    assert json.loads(out)["imported"] == 62


@pytest.mark.parametrize("kind", ["cell_csv", "cell_xlsx", "rows", "columns", "sheet_bytes", "declared_bytes"])
def test_input_size_limits_refused_clearly(db, tmp_path, monkeypatch, kind):
    from kodomo_desktop.core.importing import readers as R

    rows = _reg_rows(40, start=60)
    if kind == "cell_csv":
        rows[5][7] = "地" * 40_000  # past Excel's own 32,767 characters per cell
        path = tmp_path / "大きいセル.csv"
        path.write_text("\n".join(",".join(r) for r in [HEAD.split(","), *rows]), encoding="utf-8")
        expect = "7 行目に長すぎるセル"
    elif kind == "cell_xlsx":
        rows[5][7] = "PLACEHOLDER"  # openpyxl itself cuts a cell at 32,767: write the long one into the XML
        path = _xlsx(tmp_path / "大きいセル.xlsx", [HEAD.split(","), *rows])
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        parts = {n: b.replace(b"PLACEHOLDER", ("地" * 40_000).encode()) for n, b in parts.items()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for n, b in parts.items():
                z.writestr(n, b)
        expect = "7 行目・H 列のセルが長すぎます（40,000 文字"
    elif kind == "rows":
        monkeypatch.setattr(R, "MAX_ROWS", 30)
        path = _xlsx(tmp_path / "行が多い.xlsx", [HEAD.split(","), *rows])
        expect = "行が多すぎます"
    elif kind == "columns":
        monkeypatch.setattr(R, "MAX_COLUMNS", 5)
        path = _xlsx(tmp_path / "列が多い.xlsx", [HEAD.split(","), *rows])
        expect = "列が多すぎます（8 列"
    else:
        # a zip bomb: a sheet of a few MB that compresses to almost nothing (a real one: 1 MB → GBs)
        # "sheet_bytes": the archive's total is within bounds, the sheet itself is not (found while streaming it)
        monkeypatch.setattr(R, "MAX_SHEET_BYTES", 4 * 1024 * 1024)
        path = _xlsx(tmp_path / "爆弾.xlsx", [HEAD.split(","), *rows])
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        sheet = parts["xl/worksheets/sheet1.xml"]
        pad = b"<row r='99999'/>" * 400_000  # ~6 MB of XML
        parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"</sheetData>", pad + b"</sheetData>")
        if kind == "declared_bytes":
            monkeypatch.setattr(R, "MAX_SHEET_BYTES", 1024 * 1024)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for n, b in parts.items():
                z.writestr(n, b)
        assert path.stat().st_size < 200_000
        expect = "シート「Sheet」は展開すると大きすぎます" if kind == "sheet_bytes" else "展開すると大きすぎます（"
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert expect in err, err


def test_locked_database_is_exit_2(db, tmp_path, monkeypatch):
    """Another process holds the write lock for longer than the busy timeout: exit 2, Japanese, nothing written."""
    from kodomo_desktop.core.storage import db as storage_db
    from kodomo_desktop.core.storage.db import raw_connect

    monkeypatch.setattr(storage_db, "BUSY_TIMEOUT_MS", 300)  # the refusal is the same after 10 s; the test waits less
    from kodomo_desktop.core.workspace import Workspace

    path = tmp_path / "住民_11月.csv"
    path.write_text("\r\n".join([HEAD, *registry_rows(61)]) + "\r\n", encoding="cp932")
    before = state(db)
    ws = Workspace.open(db, PW)
    key = ws.raw_key()
    ws.close()
    holder = raw_connect(db, key)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        rc, out, err = cli("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    finally:
        holder.rollback() if holder.in_transaction else None
        holder.close()
    assert rc == 2 and "使用中" in err and "Traceback" not in err, err
    assert state(db) == before


@pytest.mark.parametrize(
    "fault,expect",
    [("database or disk is full", "空き容量"), ("attempt to write a readonly database", "読み取り専用")],
)
def test_full_disk_and_read_only_medium_are_exit_2(db, tmp_path, monkeypatch, fault, expect):
    import sqlcipher3

    from kodomo_desktop.core.importing import service

    path = tmp_path / "住民_11月.csv"
    path.write_text("\r\n".join([HEAD, *registry_rows(61)]) + "\r\n", encoding="cp932")

    def fail(*a, **k):
        raise sqlcipher3.OperationalError(fault)  # what SQLite says when the disk fills / the medium is read-only

    monkeypatch.setattr(service, "_insert_records", fail)
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert expect in err


def test_os_errors_of_outputs_are_japanese(db, tmp_path, monkeypatch):
    import errno

    from kodomo_desktop.core.errors import storage_failure

    e = storage_failure(OSError(errno.ENOSPC, "No space left on device", "/media/usb/links.csv"))
    assert e is not None and "空き容量" in e.message_ja and "/media/usb/links.csv" in e.message_ja
    e = storage_failure(OSError(errno.EROFS, "Read-only file system", "/media/cd/links.csv"))
    assert e is not None and "読み取り専用" in e.message_ja
    assert storage_failure(ValueError("x")) is None
    ro = tmp_path / "ro"
    ro.mkdir()
    from kodomo_desktop.core import outputs

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(ro / "l.csv"))

    monkeypatch.setattr(outputs, "write_csv", full)
    rc, _, err = cli("export-links", "--db", db, "--out", ro / "l.csv")
    assert rc == 2 and "空き容量" in err and "Traceback" not in err


def test_warnings_reach_the_json(db, tmp_path):
    rows = registry_rows(61)
    rows[3] = rows[3].replace("試験　子003", "試験　\ue000子")  # 外字 (a private-use character from the vendor)
    path = tmp_path / "住民_11月.csv"
    path.write_text("\r\n".join([HEAD + ",個人番号", *[r + ",123456789012" for r in rows]]) + "\r\n", encoding="cp932")
    rc, out, err = cli("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert rc == 0, err
    w = json.loads(out)["warnings"]
    assert any("外字" in x and "5 行目" in x for x in w), w
    assert any("個人番号" in x for x in w), w


def test_password_protected_workbook_is_not_called_broken(db, tmp_path):
    import msoffcrypto

    plain = _xlsx(tmp_path / "plain.xlsx", [HEAD.split(","), *_reg_rows(61)])
    enc = tmp_path / "住民_保護.xlsx"
    with open(plain, "rb") as src, open(enc, "wb") as dst:
        msoffcrypto.OfficeFile(src).encrypt("ファイルの鍵", dst)
    err = refused(db, "--source", "resident_registry", enc, "--as-of", "2026-11-01")
    assert "パスワード" in err and "KODOMO_FILE_PASSWORD" in err and "壊れ" in err and "壊れてはいません" in err
    err = refused(db, "--source", "resident_registry", enc, "--as-of", "2026-11-01",
                  env={"KODOMO_FILE_PASSWORD": "違う"})  # fmt: skip
    assert "パスワードが違います" in err
    rc, out, err = cli(
        "import", "--db", db, "--source", "resident_registry", enc, "--as-of", "2026-11-01",
        env={"KODOMO_FILE_PASSWORD": "ファイルの鍵"},
    )  # fmt: skip
    assert rc == 0 and json.loads(out)["imported"] == 61, err


def test_html_saved_as_xls_refused_with_a_remedy(db, tmp_path):
    path = tmp_path / "住民_出力.xls"
    body = "".join(f"<tr><td>{'</td><td>'.join(r.split(','))}</td></tr>" for r in [HEAD, *registry_rows(5)])
    path.write_text(f"<html><head><meta charset='utf-8'></head><body><table>{body}</table></body></html>")
    err = refused(db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert "Excelで開いて.xlsxで保存し直してください" in err


def test_excel_serial_zero_is_not_quoted_as_midnight(db, tmp_path):
    rows = [HEAD.split(",") + ["転出日"], *[r + [None] for r in _reg_rows(61)]]

    def zero(ws):
        ws["I5"].value = 0
        ws["I5"].number_format = "yyyy/mm/dd"  # an empty date exported as serial 0

    path = _xlsx(tmp_path / "住民_11月.xlsx", rows, zero)
    rc, out, err = cli("import", "--db", db, "--source", "resident_registry", path, "--as-of", "2026-11-01")
    assert rc == 0, err
    res = json.loads(out)
    assert "00:00:00" not in out and res["imported"] == 61
    assert any("0（Excel の空の日付" in w and "I5" in w for w in res["warnings"]), res["warnings"]
