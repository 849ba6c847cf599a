"""Working with others safely (issue 20): pseudonymised exports with a separate encrypted key table, results coming
back through it, handover packages between two towns, information sheets and the risk-only watch list that come back
electronically, pooled statistics with no person rows. Driven through the CLI in-process."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from conftest import DEMO_PW, PASSWORD
from openpyxl import load_workbook

from kodomo_desktop.cli import main

duckdb = pytest.importorskip("duckdb")
FILE_PW = "denwa-de-tsutaeru-2026"


def cli(*args, env=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    return rc, (json.loads(out.getvalue()) if out.getvalue().strip() else None), err.getvalue()


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    """A 600-resident demo town (what `demo --residents 600 --seed 1` builds with this password), from the run's cache
    (conftest.demo_town: the same build_demo the command calls; test_end_to_end runs the command itself); tests copy
    it."""
    assert PASSWORD == DEMO_PW
    d = tmp_path_factory.mktemp("town")
    mp = pytest.MonkeyPatch()
    mp.setenv("KODOMO_DB_PASSWORD", PASSWORD)
    mp.delenv("KODOMO_USER", raising=False)
    demo_town(d / "a.db", residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    yield d
    mp.undo()


@pytest.fixture
def db(town, tmp_path, monkeypatch):
    monkeypatch.setenv("KODOMO_DB_PASSWORD", PASSWORD)
    monkeypatch.delenv("KODOMO_USER", raising=False)
    for f in town.glob("a.db*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "a.db"


def _ws(db):
    from kodomo_desktop.core.workspace import Workspace

    return Workspace.open(db, PASSWORD)


def _persons(db) -> list:
    from sqlalchemy import select

    from kodomo_desktop.core.storage.models import Person

    with _ws(db) as ws, ws.session() as s:
        return [
            (p.id, p.name, p.name_kana, p.resident_no, p.address, p.birth_date, p.sex)
            for p in s.scalars(select(Person))
        ]


def _links(db, tmp_path) -> str:
    out = tmp_path / f"links-{len(list(tmp_path.glob('links-*')))}.csv"
    assert cli("export-links", "--db", db, "--out", out)[0] == 0
    return out.read_text(encoding="utf-8")


# --- pseudonymised export ------------------------------------------------------------------------------------------
def test_pseudonymised_export_opens_in_duckdb_with_nothing_identifying(db, tmp_path):
    rc, res, err = cli("export", "pseudonymised", "--db", db, "--out", tmp_path / "ex", "--purpose", "県の研究")
    assert rc == 0, err
    ex, key_table = tmp_path / "ex", Path(res["key_table"])
    assert key_table.parent == ex.parent and not (ex / key_table.name).exists()  # the key table does not go out
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*), count(DISTINCT pseudonym) FROM '{ex}/persons.parquet'").fetchone()
    assert n[0] == res["persons"] > 50 and n[1] == n[0]
    assert con.execute(f"SELECT count(*) FROM '{ex}/indicators.parquet'").fetchone()[0] == res["tables"]["indicators"]
    # every value of every table, Parquet and CSV, against every person's identifying fields
    text = "\n".join(p.read_text(encoding="utf-8") for p in ex.glob("*.csv"))
    for f in ex.glob("*.parquet"):
        text += "\n" + "\n".join(map(str, con.execute(f"SELECT * FROM '{f}'").fetchall()))
    people = _persons(db)
    for pid, name, kana, rno, address, birth, _ in people:
        for v in (name, kana, rno, address):
            if v and len(str(v)) >= 3:
                assert str(v) not in text, f"{pid}: {v!r} leaked"
        if birth:
            assert birth.isoformat() not in text
        assert pid not in text
    assert "birth_month" in text
    # the key table is encrypted: no person id, no JSON in the clear. (Whole ids and quoted keys: a two- or three-byte
    # pattern turns up in a few kilobytes of ciphertext by chance — b"P0" in about one run in ten.)
    raw = key_table.read_bytes()
    assert not [pid for pid, *_ in people if pid.encode() in raw]
    assert b'"map"' not in raw and b'"export_id"' not in raw and key_table.stat().st_mode & 0o077 == 0
    # pseudonyms are made for this export only
    rc, res2, _ = cli("export", "pseudonymised", "--db", db, "--out", tmp_path / "ex2", "--purpose", "二回目")
    p1 = {r[0] for r in con.execute(f"SELECT pseudonym FROM '{ex}/persons.parquet'").fetchall()}
    p2 = {r[0] for r in con.execute(f"SELECT pseudonym FROM '{tmp_path}/ex2/persons.parquet'").fetchall()}
    assert rc == 0 and not (p1 & p2)


def test_pseudonymised_results_come_back_to_the_right_children(db, tmp_path):
    from sqlalchemy import select

    from kodomo_desktop.core.sharing.pseudonymised import _key_table
    from kodomo_desktop.core.storage.models import Note, Person

    rc, res, err = cli("export", "pseudonymised", "--db", db, "--out", tmp_path / "ex", "--purpose", "SSW 訪問")
    assert rc == 0, err
    con = duckdb.connect()
    rows = con.execute(f"SELECT pseudonym, sex, birth_month FROM '{tmp_path}/ex/persons.parquet' LIMIT 3").fetchall()
    with _ws(db) as ws, ws.session() as s:
        _, table = _key_table(s, Path(res["key_table"]))
        for ps, sex, month in rows:  # the key table points at the very child the row describes
            p = s.get(Person, table[ps])
            assert p.sex == sex and p.birth_date.isoformat()[:7] == month
    results = tmp_path / "ssw.csv"
    with open(results, "w", encoding="cp932", newline="") as fh:  # an SSW's spreadsheet, saved from Excel
        w = csv.writer(fh)
        w.writerow(["pseudonym", "note", "date"])
        for ps, _, _ in rows:
            w.writerow([ps, "家庭訪問。母と面談、登校の約束。", "2026-11-20"])
    before = _links(db, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(results.read_text(encoding="cp932") + "XUNKNOWN000,うその行,\n", encoding="utf-8")
    rc, _, err = cli("export", "results", "--db", db, "--key-table", res["key_table"], bad)
    assert rc == 2 and "5行目" in err and "何も取り込みませんでした" in err
    with _ws(db) as ws, ws.session() as s:
        assert not s.scalars(select(Note)).all()
    rc, out, err = cli("export", "results", "--db", db, "--key-table", res["key_table"], results)
    assert rc == 0 and out["attached"] == 3, err
    with _ws(db) as ws, ws.session() as s:
        got = {n.person_id: n.text for n in s.scalars(select(Note))}
    assert set(got) == {table[ps] for ps, _, _ in rows} and all("家庭訪問" in t for t in got.values())
    assert _links(db, tmp_path) == before
    # a key table that was changed by one byte, or belongs to no export of this database, opens nothing
    kt = Path(res["key_table"])
    data = bytearray(kt.read_bytes())
    data[-5] ^= 1
    kt.write_bytes(bytes(data))
    assert cli("export", "results", "--db", db, "--key-table", kt, results)[0] == 2


def test_pseudonymised_export_is_logged_and_in_the_file_register(db, tmp_path):
    rc, res, _ = cli("export", "pseudonymised", "--db", db, "--out", tmp_path / "ex", "--purpose", "大学との共同研究")
    assert rc == 0
    assert cli("log", "--db", db, "--out", tmp_path / "log.csv")[0] == 0
    log = (tmp_path / "log.csv").read_text(encoding="utf-8")
    assert "pseudonymised" in log and res["export_id"] in log
    from kodomo_desktop.core.governance.register import file_register

    with _ws(db) as ws:
        reg = file_register(ws)
    assert any(e["export_id"] == res["export_id"] and e["purpose"] == "大学との共同研究" for e in reg["provisions"])
    assert "仮名加工" in reg["recipients"]
    # staff may read and export, but not hand data to an outside body
    from kodomo_desktop.core.workspace import Workspace

    with Workspace.open(db, PASSWORD) as ws:
        ws.add_user("tanto", "staff-pass-2026", "staff")
    import os

    os.environ["KODOMO_USER"], os.environ["KODOMO_DB_PASSWORD"] = "tanto", "staff-pass-2026"
    try:
        rc, _, err = cli("export", "pseudonymised", "--db", db, "--out", tmp_path / "ex3", "--purpose", "x")
    finally:
        os.environ.pop("KODOMO_USER")
        os.environ["KODOMO_DB_PASSWORD"] = PASSWORD
    assert rc == 2 and not (tmp_path / "ex3").exists()


# --- handover package --------------------------------------------------------------------------------------------------
def _child_with_case(db) -> str:
    import datetime as dt

    from sqlalchemy import select

    from kodomo_desktop.core.storage.models import Person, ProgressRecord, SupportCase

    with _ws(db) as ws, ws.session() as s:
        p = s.scalars(
            select(Person).where(Person.birth_date > dt.date(2014, 1, 1), Person.household_id.is_not(None))
        ).first()
        c = SupportCase(
            person_id=p.id,
            opened_on=dt.date(2026, 6, 1),
            plan="週1回の家庭訪問と登校支援",
            lead_organisation="こども家庭センター",
            next_action_on=dt.date(2026, 12, 10),
        )
        s.add(c)
        s.flush()
        s.add(
            ProgressRecord(
                person_id=p.id,
                case_id=c.id,
                on=dt.date(2026, 11, 2),
                kind="家庭訪問",
                who="保健師",
                what="母と面談",
                outcome="登校の約束",
            )
        )
        return p.id


def test_handover_package_moves_a_case_to_the_receiving_town(db, tmp_path, monkeypatch):
    from sqlalchemy import select

    from kodomo_desktop.core.storage.models import Person, ProgressRecord, SupportCase

    pid = _child_with_case(db)
    from kodomo_desktop.core.storage.models import Setting

    with _ws(db) as ws, ws.session() as s:
        s.merge(Setting(key="town_name", value="ひなた町"))
    monkeypatch.setenv("KODOMO_FILE_PASSWORD", FILE_PW)
    rc, res, err = cli(
        "handover", "export", "--db", db, "--person", pid, "--to", "みなと市", "--out", tmp_path / "h.kdx"
    )
    assert rc == 0 and res["cases"] == 1, err
    pkg = (tmp_path / "h.kdx").read_bytes()
    with _ws(db) as ws, ws.session() as s:
        child = s.get(Person, pid)
        assert child.name.encode() not in pkg and "週1回".encode() not in pkg  # encrypted
    # the receiving town: its own database (here a second town whose registry already holds the family)
    other = tmp_path / "b"
    other.mkdir()
    for f in db.parent.glob("a.db*"):
        shutil.copy(f, other / f.name.replace("a.db", "b.db"))
    b = other / "b.db"
    with _ws(b) as ws, ws.session() as s:  # the receiving town has no case for the child yet
        for c in s.scalars(select(SupportCase)):
            s.delete(c)
    before = _links(b, tmp_path)
    # wrong password, one changed byte: refused, nothing changed
    monkeypatch.setenv("KODOMO_FILE_PASSWORD", "wrong-password-99")
    rc, _, err = cli("handover", "import", "--db", b, "--from", tmp_path / "h.kdx")
    assert rc == 2 and "パスワードが違うか" in err
    monkeypatch.setenv("KODOMO_FILE_PASSWORD", FILE_PW)
    changed = bytearray(pkg)
    changed[len(changed) // 2] ^= 0x01
    (tmp_path / "x.kdx").write_bytes(bytes(changed))
    assert cli("handover", "import", "--db", b, "--from", tmp_path / "x.kdx")[0] == 2
    assert _links(b, tmp_path) == before
    rc, got, err = cli("handover", "import", "--db", b, "--from", tmp_path / "h.kdx")
    assert rc == 0 and got["status"] == "review" and got["candidate"] == pid, err
    assert cli("handover", "import", "--db", b, "--from", tmp_path / "h.kdx")[0] == 2  # once only
    # it waits in the review queue, with the case, and a new 名寄せ run does not link it by itself
    assert cli("link", "--db", b)[0] == 0
    from kodomo_desktop.core.linkage.service import decide, review_queue

    with _ws(b) as ws:
        queue = [q for q in review_queue(ws) if q["source_type"] == "handover"]
        assert len(queue) == 1 and queue[0]["person_id"] == pid
        decide(ws, queue[0]["record_id"], "accept", pid)
        with ws.session() as s:
            cases = s.scalars(select(SupportCase).where(SupportCase.person_id == pid)).all()
            assert len(cases) == 1 and "週1回の家庭訪問" in cases[0].plan and "ひなた町" in cases[0].plan
            prog = s.scalars(select(ProgressRecord).where(ProgressRecord.case_id == cases[0].id)).all()
            assert [p.what for p in prog] == ["母と面談"]
    assert cli("log", "--db", b, "--out", tmp_path / "log.csv")[0] == 0
    assert "handover" in (tmp_path / "log.csv").read_text(encoding="utf-8")
    assert cli("log", "--db", db, "--out", tmp_path / "loga.csv")[0] == 0
    assert "handover" in (tmp_path / "loga.csv").read_text(encoding="utf-8")


def test_handover_needs_a_file_password_of_eight_characters(db, tmp_path, monkeypatch):
    pid = _child_with_case(db)
    monkeypatch.setenv("KODOMO_FILE_PASSWORD", "short")
    rc, _, err = cli("handover", "export", "--db", db, "--person", pid, "--to", "みなと市", "--out", tmp_path / "h")
    assert rc == 2 and "8 文字以上" in err and not (tmp_path / "h").exists()


# --- information sheets and the risk-only watch list -------------------------------------------------------------
SHEET = {
    "key": "kodomo_info",
    "title": "こども情報管理シート",
    "prefill": ["name", "name_kana", "grade", "class"],
    "fields": [
        {"key": "attendance", "label": "登校の様子", "type": "choice", "choices": ["良好", "遅刻が多い", "欠席が多い"]},
        {"key": "visits", "label": "保健室来室（回）", "type": "number"},
        {"key": "seen_on", "label": "記入日", "type": "date"},
        {"key": "worry", "label": "気になることがある", "type": "yesno"},
        {"key": "remark", "label": "担任の所見", "type": "text"},
    ],
}


def _a_school(db) -> str:
    from kodomo_desktop.core.checklists.service import schools

    with _ws(db) as ws:
        return next(s for s in schools(ws) if "小学校" in s)


def test_an_information_sheet_goes_out_and_comes_back(db, tmp_path, monkeypatch):
    from sqlalchemy import select

    from kodomo_desktop.core.storage.models import Link, SourceRecord

    (tmp_path / "sheet.json").write_text(json.dumps(SHEET, ensure_ascii=False), encoding="utf-8")
    assert cli("sheet", "define", "--db", db, tmp_path / "sheet.json")[0] == 0
    school = _a_school(db)
    monkeypatch.setenv("KODOMO_FILE_PASSWORD", FILE_PW)
    rc, res, err = cli(
        "sheet", "template", "--db", db, "--sheet", "kodomo_info", "--school", school, "--out", tmp_path / "s.xlsx"
    )
    assert rc == 0 and res["rows"] > 5 and res["encrypted"], err
    import msoffcrypto

    f = msoffcrypto.OfficeFile(open(tmp_path / "s.xlsx", "rb"))
    f.load_key(password=FILE_PW)
    plain = io.BytesIO()
    f.decrypt(plain)
    wb = load_workbook(plain)
    sh = wb["シート"]
    assert sh.cell(5, 1).value == "行キー" and sh.data_validations.dataValidation  # drop-downs
    # the teacher fills three rows (one with a formula-looking remark), saves, returns without a password
    filled = {}
    for r in (6, 7, 8):
        sh.cell(r, 6).value = "遅刻が多い"
        sh.cell(r, 7).value = 3
        sh.cell(r, 8).value = "2026-11-25"
        sh.cell(r, 9).value = "はい"
        sh.cell(r, 10).value = "=HYPERLINK(\"http://x\",\"y\") 朝食なし" if r == 6 else "朝食をとっていない様子"
        filled[sh.cell(r, 1).value] = r
    sh.cell(9, 6).value = "元気"  # not one of the choices
    wb.save(tmp_path / "back_bad.xlsx")
    rc, _, err = cli("sheet", "import", "--db", db, tmp_path / "back_bad.xlsx")
    assert rc == 2 and "9行目「登校の様子」" in err
    sh.cell(9, 6).value = None
    wb.save(tmp_path / "back.xlsx")
    rc, got, err = cli("sheet", "import", "--db", db, tmp_path / "back.xlsx")
    assert rc == 0 and got["filled"] == 3, err
    from kodomo_desktop.core.sharing.sheets import parse_row_key

    want = {parse_row_key("kodomo_info", k) for k in filled}
    with _ws(db) as ws, ws.session() as s:
        recs = s.execute(
            select(SourceRecord, Link)
            .join(Link, Link.record_id == SourceRecord.id)
            .where(SourceRecord.source_type == "information_sheet")
        ).all()
    assert {link.person_id for _, link in recs} == want and all(link.status == "auto" for _, link in recs)
    assert all(r.attributes["attendance"] == "遅刻が多い" and r.attributes["worry"] is True for r, _ in recs)
    assert any(r.attributes["remark"].startswith("=HYPERLINK") for r, _ in recs)  # kept as text, as written
    assert any("数式" in w for w in got["warnings"])
    # a re-link keeps them on their child (row key, never name matching)
    assert cli("link", "--db", db)[0] == 0
    assert cli("export-links", "--db", db, "--out", tmp_path / "l.csv")[0] == 0
    rows = [
        r for r in csv.DictReader(open(tmp_path / "l.csv", encoding="utf-8")) if r["source_type"] == "information_sheet"
    ]
    assert {r["person_id"] for r in rows} == want


def test_a_broken_sheet_definition_is_refused(db, tmp_path):
    bad = {
        **SHEET,
        "fields": [{"key": "x", "label": "x", "type": "choice"}, {"key": "x", "label": "", "type": "colour"}],
    }
    (tmp_path / "bad.json").write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    rc, _, err = cli("sheet", "define", "--db", db, tmp_path / "bad.json")
    assert rc == 2 and "choices" in err and "重複" in err and "type" in err


def test_the_watch_list_carries_no_points_no_department_no_welfare_fact(db, tmp_path):
    from sqlalchemy import select

    from kodomo_desktop.core.audience import WELFARE_WORDS
    from kodomo_desktop.core.checklists.service import schools
    from kodomo_desktop.core.storage.models import ChildScore

    with _ws(db) as ws:
        with ws.session() as s:
            flagged = set(s.scalars(select(ChildScore.person_id).where(ChildScore.flagged.is_(True))))
        school = None
        from kodomo_desktop.core.checklists.service import pupils

        for sch in schools(ws):
            if {p["person_id"] for p in pupils(ws, sch)} & flagged:
                school = sch
                break
    assert school, "the demo town has a flagged pupil"
    rc, _, err = cli("sheet", "watch-list", "--db", db, "--school", school, "--out", tmp_path / "w.xlsx")
    assert rc == 2 and "KODOMO_FILE_PASSWORD" in err and not (tmp_path / "w.xlsx").exists()  # names: encrypted
    rc, res, err = cli(
        "sheet", "watch-list", "--db", db, "--school", school, "--out", tmp_path / "w.xlsx", "--no-password"
    )
    assert rc == 0 and res["children"] >= 1, err
    wb = load_workbook(tmp_path / "w.xlsx")
    cells = [str(v) for row in wb["シート"].iter_rows(values_only=True) for v in row if v is not None]
    text = "\n".join(cells)
    assert not [w for w in WELFARE_WORDS if w in text]
    for word in ("点", "課", "高", "中", "要対協", "スコア"):
        assert not any(word == c or c.endswith(word + ")") for c in cells)
    assert "見守り" in text
    # it comes back with the teacher's notes
    sh = wb["シート"]
    sh.cell(6, 6).value = "最近元気がない。給食を残す。"
    sh.cell(6, 7).value = "はい"
    wb.save(tmp_path / "w_back.xlsx")
    rc, got, err = cli("sheet", "import", "--db", db, tmp_path / "w_back.xlsx")
    assert rc == 0 and got["filled"] == 1 and got["sheet"] == "watch_list", err


# --- pooled statistics ---------------------------------------------------------------------------------------------
def test_pooled_statistics_have_no_person_rows_and_add_up_across_towns(db, tmp_path):
    from sqlalchemy import select

    from kodomo_desktop.core.casework import service as C
    from kodomo_desktop.core.storage.models import RoundCandidate

    with _ws(db) as ws:
        rid = C.create_round(ws, "夏休み明け")
        with ws.session() as s:
            cands = [c.person_id for c in s.scalars(select(RoundCandidate).where(RoundCandidate.round_id == rid))]
        for pid in cands[:6]:
            C.classify(ws, rid, pid, "a", "学校と確認済み")
    rc, res, err = cli("stats", "--db", db, "--round", rid, "--out", tmp_path / "town_a.csv", "--min-cell", 3)
    assert rc == 0 and res["indicators"] > 3, err
    text = (tmp_path / "town_a.csv").read_text(encoding="utf-8")
    assert "P0" not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert all(r["suppressed"] == "1" or int(r["with_item"]) >= 3 for r in rows)
    assert all(r["with_item"] == "" or 0 <= int(r["flagged"] or 0) <= int(r["with_item"]) for r in rows)
    # the prefecture's script: two towns' files added up with DuckDB
    shutil.copy(tmp_path / "town_a.csv", tmp_path / "town_b.csv")
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "docs" / "pooled_stats.py"
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "town_*.csv")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    pooled = {r["indicator"]: r for r in csv.DictReader(p.stdout.splitlines())}
    one = next(r for r in rows if r["suppressed"] == "0")
    assert int(pooled[one["indicator"]]["with_item"]) == 2 * int(one["with_item"])
    assert pooled[one["indicator"]]["towns"] == "2"


def test_a_returned_sheet_shows_on_the_childs_page_with_its_own_label(db, tmp_path):
    (tmp_path / "sheet.json").write_text(json.dumps(SHEET, ensure_ascii=False), encoding="utf-8")
    assert cli("sheet", "define", "--db", db, tmp_path / "sheet.json")[0] == 0
    school = _a_school(db)
    rc, res, err = cli(
        "sheet",
        "template",
        "--db",
        db,
        "--sheet",
        "kodomo_info",
        "--school",
        school,
        "--out",
        tmp_path / "s.xlsx",
        "--no-password",
    )
    assert rc == 0, err
    wb = load_workbook(tmp_path / "s.xlsx")
    sh = wb["シート"]
    sh.cell(6, 6).value = "欠席が多い"
    sh.cell(6, 10).value = "朝から眠そうにしている"
    wb.save(tmp_path / "back.xlsx")
    assert cli("sheet", "import", "--db", db, tmp_path / "back.xlsx")[0] == 0
    from kodomo_desktop.core.persons import child_page
    from kodomo_desktop.core.sharing.sheets import parse_row_key

    pid = parse_row_key("kodomo_info", sh.cell(6, 1).value)
    with _ws(db) as ws:
        page = child_page(ws, pid)
    items = [t for t in page.records if t.source_type == "information_sheet"]
    assert items and items[0].source_label.startswith("情報シート")
