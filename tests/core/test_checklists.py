"""Observation checklists (core, no Qt): definitions, school scoping with logged refusals, draft / submit /
reopen, the per-school workbook (row keys survive sorting, partial returns, a second return supersedes the first).

Data: the demo town (synthetic names only), built once for the module."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DEMO_PW, _copy_town  # noqa: E402
from sqlalchemy import select, text

from kodomo_desktop.core.checklists import service as CL
from kodomo_desktop.core.errors import InputRefused, PermissionDenied
from kodomo_desktop.core.importing.checklist_answers import import_checklist_workbook
from kodomo_desktop.core.storage.models import ChecklistEntry, SourceBatch, SourceRecord
from kodomo_desktop.core.workspace import Workspace

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
SCHOOL_PW = "school pw"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("checklists") / "demo.db"
    demo_town(path, residents=600, seed=1)
    ws = Workspace.open(path, PW)
    schools = CL.schools(ws)
    ws.add_user("teacher1", SCHOOL_PW, "school", schools[0])
    ws.close()
    return path


@pytest.fixture
def db(demo_db, tmp_path):
    return _copy_town(demo_db, tmp_path, "d.db")  # the town's files and its schools' workspaces


@pytest.fixture
def ws(db):
    w = Workspace.open(db, PW)
    yield w
    w.close()


@pytest.fixture
def school_ws(db, ws):
    w = Workspace.open(db, SCHOOL_PW, "teacher1")
    yield w
    w.close()


def _log(ws, action="permission_denied"):
    with ws.engine.connect() as c:
        return [
            (u, json.loads(d) if d else {})
            for u, d in c.execute(
                text("SELECT user, detail FROM access_log WHERE action=:a ORDER BY seq"), {"a": action}
            )
        ]


def _strong(definition: dict, group_prefix: str) -> dict:
    return {i["id"]: "1" for i in definition["items"] if i["group"].startswith(group_prefix)}


# --- definitions ---------------------------------------------------------------------------------------------------
def test_definitions_have_ids_groups_scales_and_indicator_points():
    from kodomo_desktop.resources import resource_path

    catalogue = json.loads((resource_path("indicators.json")).read_text(encoding="utf-8"))
    indicators = {i["id"]: i for i in catalogue["indicators"]}
    defs = CL.load_default_definitions()
    assert {"abuse_observation", "school_adjustment", "young_carer"} <= set(defs)
    assert 45 <= len(defs["abuse_observation"]["items"]) <= 60  # about the MEXT checklist's 54 items
    for key, d in defs.items():
        assert d["title_ja"] and d["version"] >= 1
        assert {s["label"] for s in d["scale"]} == {"該当", "非該当", "不明"}
        assert {s["value"] for s in d["scale"]} == set(CL.ANSWER_CODES)
        groups = {g["id"]: g for g in d["groups"]}
        ids = [i["id"] for i in d["items"]]
        assert len(ids) == len(set(ids)), key
        for it in d["items"]:
            assert it["text_ja"] and it["text_en"] and it["group"] in groups, it
        for g in groups.values():
            assert g["label_ja"] and g["part"]
            ind = indicators[g["indicator"]]  # the indicator it feeds, with its points
            assert ind["source_type"] == "school_checklist" and ind["points"]
            prefix = ind["rule"]["group_count"].get("prefix")
            assert prefix is None or g["id"].startswith(prefix)
    parts = {g["part"] for g in defs["abuse_observation"]["groups"]}
    assert len(parts) >= 2  # the child's state / parents and home


def test_definitions_are_stored_and_versioned(ws):
    defs = {d["key"]: d for d in CL.definitions(ws)}
    assert defs["abuse_observation"]["items"] == len(CL.load_default_definitions()["abuse_observation"]["items"])
    data = dict(CL.load_default_definitions()["young_carer"])
    data["items"] = data["items"][:-1]
    CL.save_definition(ws, data)
    after = {d["key"]: d for d in CL.definitions(ws)}
    assert after["young_carer"]["version"] == defs["young_carer"]["version"] + 1
    assert after["young_carer"]["items"] == defs["young_carer"]["items"] - 1


# --- school scoping ---------------------------------------------------------------------------------------------------
def test_school_user_sees_only_its_own_pupils_and_is_refused_the_rest(ws, school_ws, tmp_path):
    mine = school_ws.user.school
    other = next(s for s in CL.schools(ws) if s != mine)
    assert CL.pupils(school_ws, mine) == []  # no round open: the school's workspace holds no pupil
    r = CL.open_round(ws, "夏休み明け")  # opening a round fills the school's workspace
    own = CL.pupils(school_ws, mine)
    assert own and {p["person_id"] for p in own} == {p["person_id"] for p in CL.pupils(ws, mine)}
    others = {p["person_id"] for p in CL.pupils(ws, other)}
    assert others and not others & {p["person_id"] for p in own}
    st = CL.status(school_ws)
    assert [s["school"] for s in st["schools"]] == [mine]
    before = len(_log(ws))
    with pytest.raises(PermissionDenied):
        CL.pupils(school_ws, other)
    with pytest.raises(PermissionDenied):
        CL.write_template(school_ws, other, tmp_path / "other.xlsx")
    assert not (tmp_path / "other.xlsx").exists()
    from kodomo_desktop.core.scoring import service as S

    with pytest.raises(PermissionDenied):
        S.run_scoring(school_ws)
    with pytest.raises(PermissionDenied):
        S.latest_scores(school_ws)
    from kodomo_desktop.core.linkage.service import export_links

    with pytest.raises(PermissionDenied):
        school_ws.require("data.export", what="export-links")
        export_links(school_ws, tmp_path / "links.csv")
    assert not (tmp_path / "links.csv").exists()
    # a pupil of another school cannot be written either
    with pytest.raises(PermissionDenied):
        CL.save_entry(school_ws, r, next(iter(others)), {"ab01": "1"})
    # the refusals are in the school's own log, and in the town's after the coordinator's next read-back
    assert {d.get("permission") for _, d in _log(school_ws)} >= {"score.run", "score.read", "data.export"}
    assert not [u for u, _ in _log(ws)[before:] if u == "teacher1"]
    CL.status(ws)
    refused = [x for x in _log(ws)[before:] if x[1].get("school_workspace")]
    assert len(refused) >= 6 and all(u == "teacher1" for u, _ in refused)
    whats = {d.get("what") for _, d in refused}
    assert "other_school" in whats and {d.get("permission") for _, d in refused} >= {
        "score.run",
        "score.read",
        "data.export",
    }


def test_coordinator_only_manages(school_ws):
    with pytest.raises(PermissionDenied):
        CL.open_round(school_ws, "勝手なラウンド")


# --- entry: draft, submit, reopen ----------------------------------------------------------------------------------
def test_draft_submit_reopen(ws, school_ws):
    school = school_ws.user.school
    rid = CL.open_round(ws, "夏休み明け", schools_=[school])
    with ws.session() as s:
        d = CL.round_definition(s, s.get(CL.ChecklistRound, rid))
    a, b, c = CL.pupils(school_ws, school)[:3]
    with pytest.raises(InputRefused):  # nothing entered: nothing to submit
        CL.submit_school(school_ws, rid, school)
    CL.save_entry(school_ws, rid, a["person_id"], {**_strong(d, "child."), "ab02": "非該当"}, "朝食をとっていない様子")
    CL.save_entry(school_ws, rid, b["person_id"], {"ab01": "2", "ab02": "0"})
    with pytest.raises(InputRefused):
        CL.save_entry(school_ws, rid, c["person_id"], {"ab01": "はい"})
    with pytest.raises(InputRefused):
        CL.save_entry(school_ws, rid, c["person_id"], {"zz99": "1"})
    e = CL.entries(school_ws, rid, school)
    assert set(e) == {a["person_id"], b["person_id"]}
    assert e[a["person_id"]]["status"] == "draft" and e[a["person_id"]]["answers"]["ab02"] == "2"
    assert e[a["person_id"]]["remark"] == "朝食をとっていない様子"
    st = next(x for x in CL.status(ws)["schools"] if x["school"] == school)
    assert (st["entered"], st["draft"], st["submitted"]) == (2, 2, 0)
    assert st["not_yet"] == st["pupils"] - 2 and sum(k["pupils"] for k in st["classes"]) == st["pupils"]
    # nothing reaches the score before it is submitted
    with ws.session() as s:
        assert not s.scalar(select(SourceBatch.id).where(SourceBatch.source_type == "school_checklist"))
    assert CL.submit_school(school_ws, rid, school) == 2
    st = next(x for x in CL.status(ws)["schools"] if x["school"] == school)
    assert (st["submitted"], st["draft"]) == (2, 0)
    with ws.session() as s:
        recs = s.scalars(select(SourceRecord).where(SourceRecord.source_type == "school_checklist")).all()
        assert {r.source_key for r in recs} == {a["person_id"], b["person_id"]}
        ra = next(r for r in recs if r.source_key == a["person_id"])
        assert ra.attributes["round"] == "夏休み明け" and ra.school == school
        assert sum(v for k, v in ra.attributes["group_counts"].items() if k.startswith("child.")) >= 10
        batch = s.get(SourceBatch, ra.batch_id)
        assert school in batch.file_name and "夏休み明け" in batch.file_name
    # submitted: the school cannot change it; the coordinator reopens, then it can
    with pytest.raises(InputRefused):
        CL.save_entry(school_ws, rid, a["person_id"], {"ab01": "2"})
    with pytest.raises(PermissionDenied):
        CL.reopen(school_ws, rid, a["person_id"])
    CL.reopen(ws, rid, a["person_id"])
    CL.save_entry(school_ws, rid, a["person_id"], {"ab01": "2"})
    assert CL.entries(school_ws, rid, school)[a["person_id"]]["status"] == "draft"
    assert [d for _, d in _log(ws, "checklist_reopened")]


# --- the workbook -----------------------------------------------------------------------------------------------------
def _template(ws, school, tmp_path, name="t.xlsx"):
    out = tmp_path / name
    res = CL.write_template(ws, school, out)
    return out, res


def _rows(path):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    sh = wb["チェックリスト"]
    head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
    return wb, sh, head


def test_template_rows_keys_dropdowns_and_logged_export(ws, tmp_path):
    school = CL.schools(ws)[1]
    out, res = _template(ws, school, tmp_path)
    wb, sh, head = _rows(out)
    assert wb.sheetnames[0] == "記入のしかた" and "チェックリスト" in wb.sheetnames
    keys = [sh.cell(r, 1).value for r in range(head + 1, sh.max_row + 1) if sh.cell(r, 1).value]
    pupils = CL.pupils(ws, school)
    assert res["pupils"] == len(keys) == len(pupils)
    assert {CL.parse_row_key(k)[1] for k in keys} == {p["person_id"] for p in pupils}
    assert CL.parse_row_key(keys[0][:-1] + ("0" if keys[0][-1] != "0" else "1")) is None  # a mistyped key
    assert sh.data_validations.dataValidation and '"該当,非該当,不明"' in sh.data_validations.dataValidation[0].formula1
    assert sh.protection.sheet and sh.page_setup.orientation == "landscape"
    assert sh.sheet_properties.pageSetUpPr.fitToPage and int(sh.page_setup.fitToHeight) == 0  # fit to width
    assert (
        int(sh.page_setup.fitToWidth) >= 1 and sh.print_title_rows.replace("$", "") == "1:3" and sh.freeze_panes == "F4"
    )
    assert "取扱注意" in sh.oddHeader.right.text
    assert all(sh.column_dimensions[c].width >= 7 for c in ("F", "G", "H"))  # 非該当 fits
    n_items = len(CL.load_default_definitions()["abuse_observation"]["items"])
    assert sh.cell(head, 6 + n_items).value.startswith("所見")
    exports = [d for _, d in _log(ws, "export") if d.get("what") == "checklist_template"]
    assert exports and exports[-1]["pupils"] == len(pupils)


def test_row_keys_survive_sorting_and_partial_returns(ws, tmp_path):
    school = CL.schools(ws)[1]
    out, _ = _template(ws, school, tmp_path)
    wb, sh, head = _rows(out)
    first = head + 1
    rows = [[c.value for c in sh[r]] for r in range(first, sh.max_row + 1)]
    rows.reverse()  # the teacher sorted the sheet (here: reversed it)
    for n, vals in enumerate(rows):
        for col, v in enumerate(vals, 1):
            sh.cell(first + n, col).value = v
    # only two pupils filled in: the first row now and the last row now
    n_items = len(CL.load_default_definitions()["abuse_observation"]["items"])
    for col in range(6, 6 + n_items):
        sh.cell(first, col).value = "該当"
    sh.cell(first, 6 + n_items).value = "保護者と連絡がとれない"
    sh.cell(sh.max_row, 6).value = "非該当"
    sh.cell(sh.max_row, 7).value = "不明"
    wb.save(tmp_path / "back.xlsx")
    strong_pid = CL.parse_row_key(sh.cell(first, 1).value)[1]
    weak_pid = CL.parse_row_key(sh.cell(sh.max_row, 1).value)[1]
    res = import_checklist_workbook(ws, tmp_path / "back.xlsx")
    assert res.imported == 2 and res.rejected == 0 and not res.errors
    with ws.session() as s:
        es = {e.person_id: e for e in s.scalars(select(ChecklistEntry).where(ChecklistEntry.superseded.is_(False)))}
    assert set(es) == {strong_pid, weak_pid}  # matched by key, whatever the order of the rows
    assert len(es[strong_pid].answers) == n_items and set(es[strong_pid].answers.values()) == {"1"}
    assert es[strong_pid].remark == "保護者と連絡がとれない" and es[strong_pid].via == "excel"
    assert es[weak_pid].answers == {"ab01": "2", "ab02": "0"}
    st = next(x for x in CL.status(ws)["schools"] if x["school"] == school)
    assert st["submitted"] == 2 and st["not_yet"] == st["pupils"] - 2


def test_wrong_answer_is_refused_by_row_and_column_and_nothing_changes(ws, tmp_path):
    school = CL.schools(ws)[1]
    out, _ = _template(ws, school, tmp_path)
    wb, sh, head = _rows(out)
    sh.cell(head + 1, 6).value = "該当"
    sh.cell(head + 2, 8).value = "はい"
    wb.save(tmp_path / "bad.xlsx")
    with ws.session() as s:
        n_batches = s.scalar(text("SELECT count(*) FROM source_batch"))
    with pytest.raises(CL.ChecklistRefused) as e:
        import_checklist_workbook(ws, tmp_path / "bad.xlsx")
    err = e.value.errors
    assert len(err) == 1 and err[0]["row"] == head + 2 and err[0]["column"] == sh.cell(head, 8).value
    assert f"{head + 2}行目" in e.value.message_ja and "はい" in e.value.message_ja and e.value.exit_code == 2
    with ws.session() as s:
        assert s.scalar(text("SELECT count(*) FROM source_batch")) == n_batches
        assert not s.scalars(select(ChecklistEntry)).all()
    # an untouched template imports nothing and says so
    with pytest.raises(InputRefused):
        import_checklist_workbook(ws, out)


def test_second_return_supersedes_the_first_which_stays_in_history(ws, tmp_path):
    school = CL.schools(ws)[1]
    out, _ = _template(ws, school, tmp_path)
    wb, sh, head = _rows(out)
    pid = CL.parse_row_key(sh.cell(head + 1, 1).value)[1]
    sh.cell(head + 1, 6).value = "該当"
    wb.save(tmp_path / "first.xlsx")
    first = import_checklist_workbook(ws, tmp_path / "first.xlsx")
    sh.cell(head + 1, 6).value = "非該当"
    sh.cell(head + 1, 7).value = "該当"
    wb.save(tmp_path / "second.xlsx")
    second = import_checklist_workbook(ws, tmp_path / "second.xlsx")
    assert second.batch_id != first.batch_id
    with ws.session() as s:
        b1, b2 = s.get(SourceBatch, first.batch_id), s.get(SourceBatch, second.batch_id)
        assert b1.superseded_by == b2.id and b2.superseded_by is None and b1.removed_at is None
        assert b1.scope == b2.scope and b1.scope.startswith(school)
        hist = s.scalars(
            select(ChecklistEntry).where(ChecklistEntry.person_id == pid).order_by(ChecklistEntry.id)
        ).all()
        assert [e.superseded for e in hist] == [True, False]
        assert hist[0].answers == {"ab01": "1"} and hist[1].answers == {"ab01": "2", "ab02": "1"}
        assert s.scalars(select(SourceRecord.id).where(SourceRecord.batch_id == b1.id)).all()  # kept in history


def test_school_user_imports_only_its_own_school(ws, school_ws, tmp_path):
    mine = school_ws.user.school
    other = next(s for s in CL.schools(ws) if s != mine)
    out, _ = _template(ws, other, tmp_path, "other.xlsx")
    wb, sh, head = _rows(out)
    sh.cell(head + 1, 6).value = "該当"
    wb.save(tmp_path / "other_back.xlsx")
    with pytest.raises(PermissionDenied):
        import_checklist_workbook(school_ws, tmp_path / "other_back.xlsx")
    out, res = _template(school_ws, mine, tmp_path, "mine.xlsx")
    wb, sh, head = _rows(out)
    sh.cell(head + 1, 6).value = "該当"
    wb.save(tmp_path / "mine_back.xlsx")
    assert import_checklist_workbook(school_ws, tmp_path / "mine_back.xlsx").imported == 1


# --- printing ---------------------------------------------------------------------------------------------------------
def _pdftext(path):
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_blank_checklist_per_class_for_paper(ws, tmp_path):
    from kodomo_desktop.core.reports import service as R

    school = CL.schools(ws)[2]
    pupils = CL.pupils(ws, school)
    klass = f"{pupils[-1]['grade']}年{pupils[-1]['class']}組"
    mine = [p for p in pupils if f"{p['grade']}年{p['class']}組" == klass]
    res = R.blank_checklist_pdf(ws, school, klass, None, tmp_path / "blank.pdf")
    txt = _pdftext(tmp_path / "blank.pdf")
    flat = txt.replace(" ", "").replace("\u3000", "")
    assert res["pages"] >= 2 and f"1/{res['pages']}ページ" in flat
    assert "観察チェックリスト（記入用）" in flat and "取扱注意" in flat and school in flat and klass in flat
    for p in mine:  # this class's pupils, and nobody else
        assert p["name"].replace("\u3000", "") in flat
    for p in pupils:
        if p not in mine and p["name"] not in {m["name"] for m in mine}:
            assert p["name"].replace("\u3000", "") not in flat
    d = CL.load_default_definitions()["abuse_observation"]
    for it in (d["items"][0], d["items"][-1]):
        assert it["text_ja"].replace(" ", "")[:12] in flat
    assert "○該当" in flat and "所見" in flat
    prints = [x for _, x in _log(ws, "print") if x.get("document") == "blank_checklist"]
    assert prints and set(prints[-1]["persons"]) == {p["person_id"] for p in mine}
    # every class of the school, one after another
    res_all = R.blank_checklist_pdf(ws, school, None, None, tmp_path / "all.pdf")
    flat_all = _pdftext(tmp_path / "all.pdf").replace(" ", "").replace("\u3000", "")
    assert res_all["pages"] > res["pages"] and all(p["name"].replace("\u3000", "") in flat_all for p in pupils)
    from kodomo_desktop.core.errors import NotFound

    with pytest.raises(NotFound):
        R.blank_checklist_pdf(ws, school, "9年9組", None, tmp_path / "none.pdf")


def test_assessment_sheet_shows_one_pupils_answers(ws, tmp_path):
    from kodomo_desktop.core.reports import service as R

    school = CL.schools(ws)[1]
    out, _ = _template(ws, school, tmp_path)
    wb, sh, head = _rows(out)
    pid = CL.parse_row_key(sh.cell(head + 1, 1).value)[1]
    for col in range(6, 9):
        sh.cell(head + 1, col).value = "該当"
    sh.cell(head + 1, 9).value = "不明"
    sh.cell(head + 1, 10).value = "非該当"
    remark_col = next(c for c in range(1, sh.max_column + 1) if str(sh.cell(head, c).value or "").startswith("所見"))
    sh.cell(head + 1, remark_col).value = "月曜日に元気がない"
    wb.save(tmp_path / "back.xlsx")
    import_checklist_workbook(ws, tmp_path / "back.xlsx")
    R.assessment_pdf(ws, pid, tmp_path / "a.pdf")
    flat = _pdftext(tmp_path / "a.pdf").replace(" ", "").replace("\u3000", "").replace("\n", "")
    d = CL.load_default_definitions()["abuse_observation"]
    sec = flat.split("観察チェックリストの結果")[-1].split("抽出の履歴")[0]
    assert "観察チェックリストの結果" in flat and school in sec and "提出済み" in sec and "該当3項目" in sec
    for it in d["items"][:3]:
        assert "・" + it["text_ja"].replace(" ", "")[:10] in flat
    assert d["items"][4]["text_ja"][:10] not in sec  # 非該当 is not listed as a hit
    assert "3／5" in sec and "（不明1）" in sec and "月曜日に元気がない" in sec


def test_workbook_with_a_file_password_round_trips(ws, tmp_path):
    """The file carries names: it can be written as encrypted OOXML and read back only with its password."""
    import io

    import msoffcrypto
    from openpyxl import load_workbook

    from kodomo_desktop.core.errors import InputRefused
    from kodomo_desktop.core.importing.service import import_file

    school = CL.schools(ws)[1]
    out = tmp_path / "locked.xlsx"
    res = CL.write_template(ws, school, out, password="学校の鍵 2026")
    raw = out.read_bytes()
    assert raw[:4] == b"\xd0\xcf\x11\xe0"  # an OLE container, not a zip
    first = CL.pupils(ws, school)[0]["name"]
    assert first.encode() not in raw and first.encode("utf-16-le") not in raw
    with pytest.raises(Exception):
        load_workbook(out)
    assert [d for _, d in _log(ws, "export") if d.get("what") == "checklist_template"][-1]["encrypted"] is True
    # the teacher opens it with the password, fills one pupil in and saves it encrypted again
    f = msoffcrypto.OfficeFile(io.BytesIO(raw))
    f.load_key(password="学校の鍵 2026")
    plain = io.BytesIO()
    f.decrypt(plain)
    wb = load_workbook(plain)
    sh = wb["チェックリスト"]
    head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
    assert res["pupils"] == sum(1 for r in range(head + 1, sh.max_row + 1) if sh.cell(r, 1).value)
    sh.cell(head + 1, 6).value = "該当"
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    back = tmp_path / "back_locked.xlsx"
    with open(back, "wb") as fh:
        msoffcrypto.OfficeFile(buf).encrypt("学校の鍵 2026", fh)
    with pytest.raises(InputRefused, match="パスワード"):
        import_file(ws, back, "school_checklist")
    with pytest.raises(InputRefused, match="パスワードが違う"):
        import_file(ws, back, "school_checklist", file_password="違う")
    got = import_file(ws, back, "school_checklist", file_password="学校の鍵 2026")
    assert got.imported == 1 and not got.errors
