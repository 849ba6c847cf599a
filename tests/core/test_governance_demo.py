"""Privacy governance on the demo town, through the CLI (issue 11's acceptance points):

* ``optout add`` for a child with strong indicators → after ``link`` and ``score`` the child is absent from the
  score, its rows show ``excluded`` in ``export-links``, and a conference packet naming it is refused;
* ``disclose`` holds every source row of the child that ``export-links`` lists and the family_disclosure audience
  sees, and nothing about another person (no other person's name or resident number in the Excel or the PDF text —
  a guardian's name in the child's own rows is withheld); no 要対協・相談 record, no household member's record;
* ``delete-person`` leaves no trace of the name in any table (raw SQLCipher connection with the key) and
  ``verify`` still passes;
* the file register's person counts equal the database's.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from clirun import run_cli
from conftest import DEMO_PW

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
ROOT = Path(__file__).resolve().parents[2]
LINKED = ("auto", "confirmed", "excluded")


def cli(*args, cwd):
    """The CLI in this process (tests/clirun.py): same parser and main as ``python -m kodomo_desktop``."""
    return run_cli(args, cwd=cwd, env=dict(os.environ, KODOMO_DB_PASSWORD=PW))


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout[-1000:], r.stderr[-2000:])
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("gov_demo")
    demo_town(d / "d.db", residents=600, seed=1)  # what `demo --residents 600 --seed 1` builds, cached
    ok(cli("score", "--db", "d.db", "--out", "score.csv", cwd=d))
    ok(cli("export-links", "--db", "d.db", "--out", "links.csv", cwd=d))
    return d


@pytest.fixture
def db(town, tmp_path):
    """A private copy of the demo town (tests change it)."""
    for f in ("d.db", "d.db.keys", "score.csv", "links.csv"):
        shutil.copy(town / f, tmp_path / f)
    return tmp_path


def rows(path):
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def persons(d):
    from sqlalchemy import text

    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.open(d / "d.db", PW)
    try:
        with ws.session() as s:
            return [
                dict(r._mapping)
                for r in s.execute(text("SELECT id, name, name_kana, resident_no, household_id FROM person"))
            ]
    finally:
        ws.close()


def flagged_child(d, *, need_recipient=False, unique_name=False):
    """The flagged child with the most linked rows (optionally one whose rows name a guardian / recipient, and
    whose name no one else in the town has)."""
    links = rows(d / "links.csv")
    ppl = {p["id"]: p for p in persons(d)}
    names = [p["name"] for p in ppl.values()]
    best = None
    for sc in rows(d / "score.csv"):
        if sc["band"] not in ("高", "中"):
            continue
        pid = sc["person_id"]
        mine = [l for l in links if l["person_id"] == pid]
        if any(l["status"] == "review" for l in mine):
            continue
        if need_recipient and not any(
            l["source_type"] in ("child_rearing_allowance", "school_assistance") for l in mine
        ):
            continue
        if unique_name and names.count(ppl[pid]["name"]) != 1:
            continue
        if best is None or len(mine) > len(best[1]):
            best = (pid, mine)
    assert best is not None, "the demo town has no suitable flagged child"
    return best[0], best[1], ppl


def squash(t: str) -> str:
    return re.sub(r"\s+", "", t or "")


# --- opt-out ----------------------------------------------------------------------------------------------------------
def test_optout_child_is_left_out_of_score_rows_excluded_packet_refused(db):
    pid, mine, _ = flagged_child(db)
    before = rows(db / "score.csv")
    top = next(r for r in before if r["person_id"] == pid)
    assert float(top["total"]) > 0 and top["band"] in ("高", "中")  # strong indicators
    res = ok(cli("optout", "add", "--db", "d.db", "--person", pid, "--reason", "不同意書の提出（受付第3号）", cwd=db))
    assert res["rows_excluded"] == len([l for l in mine if l["status"] in ("auto", "confirmed")])
    ok(cli("link", "--db", "d.db", cwd=db))
    summary = ok(cli("score", "--db", "d.db", "--out", "score2.csv", cwd=db))
    after = rows(db / "score2.csv")
    assert pid not in {r["person_id"] for r in after}
    assert summary["children"] == len(after) == len(before) - 1
    ok(cli("export-links", "--db", "d.db", "--out", "links2.csv", cwd=db))
    theirs = [l for l in rows(db / "links2.csv") if l["person_id"] == pid]
    assert len(theirs) == len(mine) and {l["status"] for l in theirs} == {"excluded"}
    # a packet naming the child is refused (exit 2, nothing written), with or without other children
    other = next(r["person_id"] for r in after if r["band"] == "高")
    r = cli("report", "conference", "--db", "d.db", "--persons", f"{other},{pid}", "--out", "packet.pdf", cwd=db)
    assert r.returncode == 2 and "利用停止" in r.stderr and not (db / "packet.pdf").exists()
    ok(cli("report", "conference", "--db", "d.db", "--persons", other, "--out", "packet.pdf", cwd=db))
    # the register is listed for the auditor; removing needs a reason, and the child comes back
    r = cli("optout", "remove", "--db", "d.db", "--person", pid, "--reason", " ", cwd=db)
    assert r.returncode == 2
    ok(cli("optout", "remove", "--db", "d.db", "--person", pid, "--reason", "本人から撤回の申出", cwd=db))
    ok(cli("link", "--db", "d.db", cwd=db))
    ok(cli("score", "--db", "d.db", "--out", "score3.csv", cwd=db))
    assert pid in {r["person_id"] for r in rows(db / "score3.csv")}
    ok(cli("log", "--db", "d.db", "--out", "log.csv", cwd=db))
    acts = [(l["action"], l["person_id"]) for l in rows(db / "log.csv")]
    assert ("optout_added", pid) in acts or any(a.startswith("optout") and p == pid for a, p in acts)
    assert any(a == "optout_removed" and p == pid for a, p in acts)


def test_household_optout_excludes_every_member(db):
    pid, _, ppl = flagged_child(db)
    hh = ppl[pid]["household_id"]
    members = {p for p, v in ppl.items() if v["household_id"] == hh}
    assert len(members) >= 2
    res = ok(cli("optout", "add", "--db", "d.db", "--person", pid, "--household", "--reason", "世帯で不同意", cwd=db))
    assert res["persons"] == len(members)
    ok(cli("link", "--db", "d.db", cwd=db))
    ok(cli("score", "--db", "d.db", "--out", "score2.csv", cwd=db))
    assert not members & {r["person_id"] for r in rows(db / "score2.csv")}
    ok(cli("export-links", "--db", "d.db", "--out", "links2.csv", cwd=db))
    assert {l["status"] for l in rows(db / "links2.csv") if l["person_id"] in members} == {"excluded"}


# --- disclosure -------------------------------------------------------------------------------------------------------
def test_disclose_holds_every_row_of_the_child_and_nothing_about_anyone_else(db):
    from openpyxl import load_workbook

    pid, mine, ppl = flagged_child(db, need_recipient=True)
    me = ppl[pid]
    from kodomo_desktop.core.audience import get

    fam = get("family_disclosure")
    every = {(l["source_type"], l["file_name"], int(l["row_number"])) for l in mine if l["status"] in LINKED}
    # the family_disclosure audience: 要対協・相談 records (and any source it does not list) are not disclosed
    listed = {r for r in every if fam.sees_source(r[0])}
    assert len(listed) >= 4
    res = ok(cli("disclose", "--db", "d.db", "--person", pid, "--out", "d.xlsx", cwd=db))
    assert res["source_rows"] == len(listed)
    assert res["withheld"].get("source_rows", 0) == len(every - listed)
    wb = load_workbook(db / "d.xlsx", read_only=True)
    sheet = list(wb["取り込んだ記録（原本のまま）"].iter_rows(values_only=True))
    head = list(sheet[1])
    got = {
        (r[head.index("source_type")], r[head.index("file_name")], int(r[head.index("row_number")])) for r in sheet[2:]
    }
    assert got == listed  # every row the audience may see, and only those
    xlsx_text = "\n".join(
        str(c) for sh in wb.worksheets for r in sh.iter_rows(values_only=True) for c in r if c is not None
    )
    wb.close()
    pdf = ok(cli("disclose", "--db", "d.db", "--person", pid, "--out", "d.pdf", cwd=db))
    assert pdf["pages"] >= 1
    pdf_text = subprocess.run(["pdftotext", "-layout", str(db / "d.pdf"), "-"], capture_output=True, text=True).stdout
    assert "保有個人情報の開示" in pdf_text and "取扱注意" in pdf_text
    # the child is there, a guardian named in the child's rows is withheld
    assert squash(me["name"]) in squash(xlsx_text) and squash(me["name"]) in squash(pdf_text)
    assert "第三者の情報のため不開示" in xlsx_text
    own = squash(me["name"])
    for label, blob in (("xlsx", xlsx_text), ("pdf", pdf_text)):
        flat = squash(blob)
        for other in ppl.values():
            if other["id"] == pid:
                continue
            n = squash(other["name"])
            if n and n not in own:  # namesakes share the child's name
                assert n not in flat, (label, other["id"])
            if other["resident_no"] and other["resident_no"] != me["resident_no"]:
                assert not re.search(rf"(?<!\d){other['resident_no']}(?!\d)", blob), (label, other["id"])
            assert not re.search(rf"\b{other['id']}\b", blob), (label, other["id"])


def test_disclosure_leaves_out_household_members_and_yotaikyo_consultation_records(db):
    """Through the family_disclosure audience: the person's own records are in the workbook and the PDF; a household
    member's record, the person's 要対協 / 相談 records and the meeting's 要対協 decision are not."""
    import datetime as dt

    from openpyxl import load_workbook

    from kodomo_desktop.core.casework import service as C
    from kodomo_desktop.core.workspace import Workspace

    links = rows(db / "links.csv")
    ppl = {p["id"]: p for p in persons(db)}
    key = lambda l: (l["source_type"], l["file_name"], int(l["row_number"]))  # noqa: E731
    by_person: dict[str, list] = {}
    for l in links:
        if l["person_id"] and l["status"] in LINKED:
            by_person.setdefault(l["person_id"], []).append(l)
    pick = None
    for pid, mine in sorted(by_person.items(), key=lambda x: -len(x[1])):
        hidden = [l for l in mine if l["source_type"] in ("yotaikyo", "consultation")]
        own = [l for l in mine if l["source_type"] not in ("yotaikyo", "consultation")]
        hh = ppl[pid]["household_id"]
        members = [m for m in ppl if m != pid and hh and ppl[m]["household_id"] == hh and by_person.get(m)]
        if hidden and len(own) >= 3 and members:
            pick = (pid, own, hidden, [key(l) for m in members for l in by_person[m]])
            break
    assert pick, "the demo town has no child with a 要対協/相談 record and a household member with records"
    pid, own, hidden, theirs = pick
    ws = Workspace.open(db / "d.db", PW)
    try:  # the meeting registers the child as 要支援児童: a 要対協 record of the person
        cid = C.create_conference(ws, "個別ケース検討会議", dt.date(2026, 11, 20), person_ids=[pid])
        C.record_minutes(
            ws,
            cid,
            pid,
            support_needed="要",
            direction="C",
            registration="登録する",
            category="要支援児童",
            minutes="開示しない協議メモ",
        )
    finally:
        ws.close()
    res = ok(cli("disclose", "--db", "d.db", "--person", pid, "--out", "d.xlsx", cwd=db))
    wb = load_workbook(db / "d.xlsx", read_only=True)
    assert "会議での決定" not in wb.sheetnames and "経過記録" not in wb.sheetnames
    sheet = list(wb["取り込んだ記録（原本のまま）"].iter_rows(values_only=True))
    head = list(sheet[1])
    got = {
        (r[head.index("source_type")], r[head.index("file_name")], int(r[head.index("row_number")])) for r in sheet[2:]
    }
    xlsx_text = squash(
        "\n".join(str(c) for sh in wb.worksheets for r in sh.iter_rows(values_only=True) for c in r if c is not None)
    )
    wb.close()
    assert got == {key(l) for l in own}  # the person's own records, every one
    assert not got & set(theirs)  # no household member's record
    assert not got & {key(l) for l in hidden}  # no 要対協・相談 record
    ok(cli("disclose", "--db", "d.db", "--person", pid, "--out", "d.pdf", cwd=db))
    pdf_text = squash(subprocess.run(["pdftotext", str(db / "d.pdf"), "-"], capture_output=True, text=True).stdout)
    for label, blob in (("xlsx", xlsx_text), ("pdf", pdf_text)):
        for l in hidden:
            assert squash(l["file_name"]) not in blob, (label, l["file_name"])
        for word in ("要支援児童", "開示しない協議メモ", "minutes_recorded", "きょうだいに抽出", "要対協", "相談記録"):
            assert word not in blob, (label, word)
        for m in ppl.values():
            if m["id"] != pid and m["household_id"] == ppl[pid]["household_id"]:
                assert not re.search(rf"\b{m['id']}\b", blob), (label, m["id"])
    for l in own:  # each own row, named with its file and row in the PDF
        assert f"{squash(l['file_name'])}{l['row_number']}行目" in pdf_text, l
    for st, f, r in theirs:
        if (st, f, r) not in {key(l) for l in own}:
            assert f"{squash(f)}{r}行目" not in pdf_text, (f, r)
    # what was left out is counted for the staff member answering (not printed)
    assert res["withheld"]["source_rows"] == len(hidden) and res["withheld"]["conference_decisions"] == 1


# --- deletion ---------------------------------------------------------------------------------------------------------
def test_delete_person_leaves_no_trace_and_verify_passes(db):
    from kodomo_desktop.core.storage import keys as K
    from kodomo_desktop.core.storage.db import raw_connect

    pid, mine, ppl = flagged_child(db, need_recipient=True, unique_name=True)
    me = ppl[pid]
    forms = {me["name"], squash(me["name"]), me["name_kana"], squash(me["name_kana"] or ""), me["resident_no"]}
    forms = {f for f in forms if f}
    key, _, _ = K.KeyFile.load(db / "d.db").unwrap(None, PW)

    def traces():
        con = raw_connect(db / "d.db", key)
        try:
            found = []
            for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
                for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                    s = str(row)
                    found += [(table, f) for f in forms if f in s]
            return found
        finally:
            con.close()

    def stored_model() -> int:
        # the stored 名寄せ model (the registry's name frequencies, compressed) and its pair cache (hashes of every
        # row) cannot be searched for the name: they must be gone
        con = raw_connect(db / "d.db", key)
        try:
            return con.execute("SELECT count(*) FROM link_model").fetchone()[0]
        finally:
            con.close()

    assert traces()  # the name is there before
    assert stored_model() == 1
    res = ok(cli("delete-person", "--db", "d.db", "--person", pid, "--reason", "削除請求 第7号（認容）", cwd=db))
    assert res["deleted"]["person"] == 1 and res["deleted"]["source_record"] >= len(mine)
    assert traces() == []
    assert stored_model() == 0
    con = raw_connect(db / "d.db", key)
    try:
        assert (
            con.execute("SELECT count(*) FROM access_log WHERE action='deletion' AND person_id=?", (pid,)).fetchone()[0]
            == 1
        )
    finally:
        con.close()
    assert ok(cli("verify", "--db", "d.db", cwd=db))["ok"] is True
    # the rest of the town still works (a full link run: the model is fitted again, without the person)
    assert ok(cli("link", "--db", "d.db", cwd=db))["mode"] == "full"
    assert stored_model() == 1
    ok(cli("score", "--db", "d.db", "--out", "score2.csv", cwd=db))
    assert pid not in {r["person_id"] for r in rows(db / "score2.csv")}


# --- file register ----------------------------------------------------------------------------------------------------
def test_file_register_person_counts_equal_the_database(db):
    from openpyxl import load_workbook
    from sqlalchemy import text

    from kodomo_desktop.core.governance.register import file_register
    from kodomo_desktop.core.workspace import Workspace

    links = rows(db / "links.csv")
    ws = Workspace.open(db / "d.db", PW)
    try:
        reg = file_register(ws)
        with ws.session() as s:
            n_persons = s.execute(text("SELECT count(*) FROM person")).scalar()
    finally:
        ws.close()
    assert reg["persons_total"] == n_persons == len(persons(db))
    by_type = {}
    for l in links:
        if l["status"] in ("auto", "confirmed") and l["person_id"]:
            by_type.setdefault(l["source_type"], set()).add(l["person_id"])
    assert {i["source_type"]: i["persons"] for i in reg["items"]} == {k: len(v) for k, v in by_type.items()}
    assert {i["source_type"]: i["rows"] for i in reg["items"]} == {
        k: sum(1 for l in links if l["source_type"] == k and l["status"] != "rejected") for k in by_type
    }
    ok(cli("file-register", "--db", "d.db", "--out", "reg.xlsx", cwd=db))
    sh = load_workbook(db / "reg.xlsx", read_only=True).active
    cells = list(sh.iter_rows(values_only=True))
    assert next(r[1] for r in cells if r and r[0] == "登録人数") == n_persons
    table_head = next(i for i, r in enumerate(cells) if r and r[0] == "取込元")
    assert sorted(r[5] for r in cells[table_head + 1 :] if r and r[0]) == sorted(len(v) for v in by_type.values())
    res = ok(cli("file-register", "--db", "d.db", "--out", "reg.pdf", cwd=db))
    assert res["persons_total"] == n_persons and res["pages"] >= 1
    txt = squash(subprocess.run(["pdftotext", str(db / "reg.pdf"), "-"], capture_output=True, text=True).stdout)
    assert f"登録人数{n_persons}人" in txt and "個人情報ファイル簿" in txt


# --- the documents' first pages, for docs/images ---------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler) not installed")
def test_file_register_and_self_inspection_pages_to_docs_images(db):
    from conftest import IMAGES as images

    from kodomo_desktop.core.governance.register import save_self_inspection
    from kodomo_desktop.core.workspace import Workspace

    images.mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(db / "d.db", PW)
    try:
        save_self_inspection(
            ws,
            2026,
            {
                "policy": True,
                "training": False,
                "training_note": "来年度の研修を6月に予定",
                "room": True,
                "notice": True,
                "notice_note": "広報誌10月号に掲載",
            },
        )
    finally:
        ws.close()
    assert ok(cli("file-register", "--db", "d.db", "--out", "reg.pdf", cwd=db))["pages"] >= 1
    assert ok(cli("self-inspection", "--db", "d.db", "--year", "2026", "--out", "si.pdf", cwd=db))["pages"] == 1
    for pdf, png in (("reg.pdf", "file_register"), ("si.pdf", "self_inspection")):
        fonts = subprocess.run(["pdffonts", str(db / pdf)], capture_output=True, text=True).stdout.splitlines()[2:]
        assert fonts and all("IPAex" in l and l.split()[-5] == "yes" for l in fonts if l.strip())  # embedded
        r = subprocess.run(
            ["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", str(db / pdf), str(images / png)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        assert (images / f"{png}.png").stat().st_size > 10_000
    txt = squash(subprocess.run(["pdftotext", str(db / "si.pdf"), "-"], capture_output=True, text=True).stdout)
    assert "自己点検報告書（令和8年度）" in txt and "来年度の研修を6月に予定" in txt and "確認欄" in txt
