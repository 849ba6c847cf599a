"""The import page's second round (issue 23): the 時点 read from the file (never today by itself), the guards'
confirmation step with their figures (the GUI's --force), a folder imported through its sources.csv, a school's
returned checklist imported as a source type, and the rows left unlinked after 名寄せ — linked by hand to a person
or marked "not in our registry". On a small synthetic demo town; no modal dialog may open."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from sqlalchemy import text  # noqa: E402

from kodomo_desktop.core.importing import service as S  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import DEMO_PW, IMAGES, PNG_QUICK  # noqa: E402

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("guard_gui")
    demo_town(d / "town.db", residents=300, seed=3, files_out=d / "files")  # the CLI tests' town (cached)
    return d


@pytest.fixture
def ws(town, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(town / "town.db") + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.import_page import ImportPage

    page = ImportPage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    qtbot.waitExposed(page)
    return page


def _wait(qtbot, op):
    assert op is not None
    qtbot.waitUntil(lambda: not op.is_running, timeout=60000)


def test_as_of_from_the_title_and_the_guards_confirmation(app, qtbot, ws, town, tmp_path):
    page = _page(qtbot, ws)
    wiz = page.wizard
    ledger = next((town / "files").glob("要対協*.xlsx"))
    assert wiz.open_file(ledger)
    assert wiz.as_of.text() == "令和8年10月31日" and "見出し" in wiz.as_of_note.text()
    # a registry extract of 10 rows, dated in its file name, that would replace the 300-resident one
    src = next((town / "files").glob("住民基本台帳_*.csv"))
    lines = src.read_bytes().split(b"\r\n")
    short = tmp_path / "住民基本台帳_20261201.csv"
    short.write_bytes(b"\r\n".join(lines[:11]) + b"\r\n")
    assert wiz.open_file(short) and wiz.source.currentData() == "resident_registry"
    assert wiz.as_of.text() == "令和8年12月1日" and "ファイル名" in wiz.as_of_note.text()
    assert wiz.validate()
    before = S.batch_history(ws)
    _wait(qtbot, wiz.run_import())
    assert wiz.confirm_box.isVisible() and wiz.force_import.isVisible()
    assert "今回 10 行" in wiz.confirm_box.text() and "前回" in wiz.confirm_box.text()
    assert wiz.last_result is None and S.batch_history(ws) == before  # nothing changed yet
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "import_guard_confirm.png"), "PNG", PNG_QUICK)
    _wait(qtbot, wiz.run_import(force=True))  # 「このまま取り込む」
    res = wiz.last_result
    assert res.batch_id and res.imported == 10 and not wiz.force_import.isVisible()
    assert any("確認のうえ取り込みました" in w for w in res.warnings)
    assert "確認のうえ" in wiz.notice.text()


def test_a_folder_with_its_manifest_in_one_go(app, qtbot, tmp_path, town, new_db_at):
    ws = new_db_at(tmp_path / "new.db")  # a new database (a copy of one Workspace.create; PW is its password)
    try:
        page = _page(qtbot, ws)
        wiz = page.wizard
        _wait(qtbot, wiz.import_folder(town / "files"))
        rows = wiz.batch_results.rows
        listed = (town / "files" / "sources.csv").read_text(encoding="utf-8").splitlines()[1:]
        assert len(rows) == len(listed) and wiz.batch_view.isVisible()
        assert all(r["outcome"].startswith("取り込みました") for r in rows), [r["outcome"] for r in rows]
        assert all(r["as_of"] == "令和8年11月1日" for r in rows)
        assert len(S.batch_history(ws)) == len(listed)
        assert page.grab().save(str(IMAGES / "import_folder.png"), "PNG", PNG_QUICK)
    finally:
        ws.close()


def test_a_schools_returned_checklist_is_a_source_type(app, qtbot, ws, tmp_path):
    from openpyxl import load_workbook

    from kodomo_desktop.core.checklists import service as CL

    out = tmp_path / "チェックリスト.xlsx"
    CL.write_template(ws, CL.schools(ws)[0], out)
    wb = load_workbook(out)
    sh = wb["チェックリスト"]
    head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
    sh.cell(head + 1, 6).value = "該当"
    back = tmp_path / "返却_第一小.xlsx"
    wb.save(back)
    page = _page(qtbot, ws)
    wiz = page.wizard
    assert wiz.source.findData("school_checklist") >= 0  # offered in the list
    assert wiz.open_file(back) and wiz.source.currentData() == "school_checklist"
    assert wiz.validate() and "行キー" in wiz.report.text()
    _wait(qtbot, wiz.run_import())
    assert wiz.last_result is not None and wiz.last_result.imported == 1, wiz.notice.text()


def test_rows_left_unlinked_are_linked_by_hand_or_marked_not_ours(app, qtbot, ws, tmp_path):
    page = _page(qtbot, ws)
    page.tabs.setCurrentIndex(2)
    view = page.unlinked
    rows = view.model.rows
    # a row nobody can be matched to: a consultation about a person the registry does not know, by name
    if len(rows) < 2:
        csv = tmp_path / "相談記録_追加.csv"
        csv.write_text(
            "相談番号,氏名,フリガナ,生年月日,相談日,相談種別\n"
            "C9001,見本　花子,ミホン　ハナコ,2015/04/01,2026/10/01,育児\n"
            "C9002,例田　一郎,レイダ　イチロウ,2014/05/02,2026/10/02,経済\n",
            encoding="utf-8",
        )
        S.import_file(ws, csv, "consultation", as_of="2026-11-01")
        from kodomo_desktop.core.linkage.service import run_linkage

        run_linkage(ws)
        view.refresh()
        rows = view.model.rows
    assert len(rows) >= 2 and all(r["birth_text"] for r in rows if r["birth_date"])
    assert page.grab().save(str(IMAGES / "import_unlinked.png"), "PNG", PNG_QUICK)
    first, second = rows[0], rows[1]
    view.select_row(0)
    view.query.setText("")
    view.show_candidates()
    if not view.cands.rows:  # nobody shares name, kana or birth date: search by a name from the registry
        with ws.session() as s:
            name = s.execute(text("SELECT name FROM person WHERE in_registry = 1 LIMIT 1")).scalar()
        view.query.setText(name.split("　")[0])
        view.show_candidates()
    assert view.cands.rows
    target = view.cands.rows[0]["person_id"]
    assert view.link_selected(candidate=0)
    with ws.session() as s:
        st, pid = s.execute(
            text("SELECT status, person_id FROM link WHERE record_id = :r"), {"r": first["record_id"]}
        ).one()
    assert st == "confirmed" and pid == target
    ids = [r["record_id"] for r in view.model.rows]
    assert first["record_id"] not in ids
    view.select_row(ids.index(second["record_id"]))
    assert view.not_in_registry()
    assert second["record_id"] not in [r["record_id"] for r in view.model.rows]
    assert "住民ではない" in view.notice.text()
    # both decisions stick through the next 名寄せ
    from kodomo_desktop.core.linkage.service import run_linkage

    run_linkage(ws)
    view.refresh()
    assert {first["record_id"], second["record_id"]}.isdisjoint(r["record_id"] for r in view.model.rows)
    with ws.session() as s:
        assert (
            s.execute(text("SELECT person_id FROM link WHERE record_id = :r"), {"r": first["record_id"]}).scalar()
            == target
        )
