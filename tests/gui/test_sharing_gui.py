"""個人情報保護 → 外部提供 with pytest-qt (offscreen) on a small demo town: a pseudonymised dataset and a school's
watch list are made through the tab, the analyst's notes come back through the key table, (paths typed into the line edits, no file dialog), the files exist, the key
table is beside the folder and not in it, the watch list is encrypted, and the access log has both exports. A
handover package goes out and comes back into the same town's review queue. The auditor (who reads the page) sees no such tab.
Screenshot: IMAGES/governance_sharing.png."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from conftest import DEMO_PW, IMAGES, PNG_QUICK, _copy_town  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from kodomo_desktop.core.sharing import sheets as SH  # noqa: E402
from kodomo_desktop.core.storage.models import AccessLogEntry, Note  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):
    path = tmp_path_factory.mktemp("share_gui") / "demo.db"
    demo_town(path, residents=300, seed=1)  # cached
    ws = Workspace.open(path, PW)
    try:
        ws.add_user("kansa", "auditor pw 1234", "auditor")
    finally:
        ws.close()
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    _copy_town(demo_db, tmp_path, "d.db")  # (with the auditor's workspace)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.governance import GovernancePage

    page = GovernancePage(ws, None)
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    qtbot.waitExposed(page)
    return page


def _wait(qtbot, op):
    assert op is not None, "the operation did not start"
    assert op.wait(120000), "operation did not finish"
    qtbot.wait(50)


def _log(ws, what):
    with ws.session() as s:
        rows = s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "export")).all()
    return [json.loads(r.detail) for r in rows if r.detail and json.loads(r.detail).get("what") == what]


def test_export_pseudonymised_and_watch_list_through_the_tab(app, qtbot, ws, tmp_path):
    page = _page(qtbot, ws)
    tab = page.sharing
    assert tab is not None and page.tabs.indexOf(tab) >= 0
    page.tabs.setCurrentWidget(tab)

    # the purpose is required: refused on the notice line, nothing written
    out = tmp_path / "share" / "ex"
    tab.out_dir.setText(str(out))
    tab.purpose.setText("")
    assert tab.export_pseudonymised() is None
    assert not page.notice.ok and "目的" in page.notice.text() and not out.exists()

    tab.purpose.setText("県の分析（テスト）")
    tab.table_checks["cases"].setChecked(False)
    tab.min_cell.setValue(3)
    _wait(qtbot, tab.export_pseudonymised())
    res = tab.last
    assert page.notice.ok, page.notice.text()
    assert (out / "persons.parquet").exists() and (out / "scores.csv").exists()
    assert not (out / "cases.parquet").exists()  # unticked
    key = out.with_name("ex.keytable")
    assert key.exists() and res["key_table"] == str(key) and not any(p.suffix == ".keytable" for p in out.iterdir())
    assert res["export_id"] in tab.result.text() and str(key) in tab.result.text() and "この PC" in tab.result.text()
    assert [r["export_id"] for r in tab.exports_model.rows] == [res["export_id"]]
    assert [e["export_id"] for e in _log(ws, "pseudonymised")] == [res["export_id"]]
    # the SSW's notes come back keyed by pseudonym and go to the children through the key table
    assert tab.key_in.text() == str(key)
    with open(out / "persons.csv", encoding="utf-8-sig") as fh:
        pseudonyms = [r["pseudonym"] for r in csv.DictReader(fh)][:2]
    results = tmp_path / "share" / "ssw.csv"
    results.write_text("pseudonym,note\nXUNKNOWN00,うその行\n", encoding="utf-8")
    tab.results_in.setText(str(results))
    with ws.session() as s:
        before = s.scalar(select(func.count()).select_from(Note))
    _wait(qtbot, tab.attach_results())
    assert not page.notice.ok and page.notice.text()  # refused, nothing attached
    results.write_text("pseudonym,note\n" + "".join(f"{p},家庭訪問で確認\n" for p in pseudonyms), encoding="utf-8")
    _wait(qtbot, tab.attach_results())
    assert page.notice.ok, page.notice.text()
    assert tab.last["attached"] == 2 and res["export_id"] in page.notice.text()
    with ws.session() as s:
        texts = [n.text for n in s.scalars(select(Note).order_by(Note.id.desc()).limit(2))]
        assert s.scalar(select(func.count()).select_from(Note)) == before + 2
    assert all(res["export_id"] in t and "家庭訪問で確認" in t for t in texts)
    # no internal code on screen: the table checkboxes are Japanese
    assert all(not cb.text().isascii() for cb in tab.table_checks.values())

    # the watch list of a school that has children to watch, with the generated file password
    schools = [tab.school.itemText(i) for i in range(tab.school.count())]
    assert schools
    with ws.session() as s:
        counts = {sc: len(SH.watch_list_ids(s, {p["person_id"] for p in SH._pupils(ws, sc, s)})) for sc in schools}
    school = max(counts, key=lambda k: counts[k])
    assert counts[school] > 0
    tab.school.setCurrentText(school)
    assert tab.sheet.currentData() == "watch_list" and tab.sheet.currentText() == "見守りをお願いしたいこどもの一覧"
    assert tab.use_password.isChecked() and len(tab.sheet_password.text()) >= 8
    xlsx = tmp_path / "share" / "watch.xlsx"
    tab.sheet_out.setText(str(xlsx))
    _wait(qtbot, tab.write_sheet())
    assert page.notice.ok, page.notice.text()
    assert xlsx.exists() and tab.last["children"] == counts[school]
    assert xlsx.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1")  # an encrypted (OLE) workbook, not a plain zip
    assert tab.sheet_password.text() in page.notice.text()
    assert [e["sheet"] for e in _log(ws, "information_sheet")] == ["watch_list"]

    # it comes back: a wrong password is refused on the notice line, the right one reads it
    tab.sheet_in.setText(str(xlsx))
    tab.sheet_in_password.setText("wrong password 1")
    _wait(qtbot, tab.import_sheet())
    assert not page.notice.ok and page.notice.text()
    tab.sheet_in_password.setText(tab.sheet_password.text())
    _wait(qtbot, tab.import_sheet())
    assert page.notice.ok, page.notice.text()
    assert tab.last["school"] == school and tab.last["rows"] == counts[school]

    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "governance_sharing.png"), "PNG", PNG_QUICK)


def test_handover_out_and_into_the_review_queue(app, qtbot, ws, tmp_path, demo_town):
    page = _page(qtbot, ws)
    tab = page.sharing
    page.tabs.setCurrentWidget(tab)
    tab.child.search.setText("1")
    n = tab.child.apply_search()
    assert n > 0
    tab.child.results.setCurrentRow(0)
    pid = tab.child.selected_ids()[0]
    tab.to_town.setText("架空市")
    pkg = tmp_path / "h.kodomo"
    tab.handover_out.setText(str(pkg))
    tab.handover_password.setText("short")
    assert tab.export_handover() is None and not page.notice.ok and not pkg.exists()
    tab.handover_password.setText("read out by phone 1")
    _wait(qtbot, tab.export_handover())
    assert page.notice.ok, page.notice.text()
    assert pkg.exists()
    assert "read out by phone 1" in page.notice.text()
    assert tab.last["person_id"] == pid
    # into a second town: the child waits in 名寄せ's review queue
    other = tmp_path / "other.db"
    demo_town(other, residents=300, seed=3)  # another town: the one test_lock_forgets and the CLI tests use (cached)
    ws2 = Workspace.open(other, PW)
    try:
        page2 = _page(qtbot, ws2)
        t2 = page2.sharing
        t2.handover_in.setText(str(pkg))
        t2.handover_in_password.setText("not the password")
        _wait(qtbot, t2.import_handover())
        assert not page2.notice.ok and page2.notice.text()
        t2.handover_in_password.setText("read out by phone 1")
        _wait(qtbot, t2.import_handover())
        assert page2.notice.ok, page2.notice.text()
        assert t2.last["status"] == "review" and "名寄せ" in page2.notice.text()
    finally:
        page2.close()
        ws2.close()


def test_the_auditor_sees_no_sharing_tab(app, qtbot, demo_db, tmp_path):
    _copy_town(demo_db, tmp_path, "s.db")  # (with the auditor's workspace)
    w = Workspace.open(tmp_path / "s.db", "auditor pw 1234", user_name="kansa")
    try:
        if not w.can("governance.read"):
            pytest.skip("the auditor does not see the governance page")
        page = _page(qtbot, w)
        assert page.sharing is None
        assert "外部提供" not in [page.tabs.tabText(i) for i in range(page.tabs.count())]
    finally:
        w.close()
