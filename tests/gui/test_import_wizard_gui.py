"""The 取込 wizard with pytest-qt (offscreen) on the demo town's department files (issue #3): a file path passed in
(no file dialog), the source type suggested, one column mapping edited in the preview, the validation report
(counts, rejected rows with reasons, CSV export), the import through ops (progress dialog, off the GUI thread),
the rows in the database under the edited mapping, the mapping profile remembered, the import history and
screenshots of the preview and the report. No modal dialog may open."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from sqlalchemy import select  # noqa: E402

from kodomo_desktop.core.importing import service as S  # noqa: E402
from kodomo_desktop.core.storage.models import SourceRecord  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import IMAGES, PNG_QUICK  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh

PW = "import gui pw"
RENAMED = "主な相談内容"  # the town's new column name for 相談種別: the header dictionary does not know it


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """The demo department files (synthetic) and a database that holds only the resident registry."""
    from kodomo_desktop.core.demo.files import write_department_files
    from kodomo_desktop.core.demo.town import generate_town

    d = tmp_path_factory.mktemp("import_gui")
    files = {f.file_name: f for f in write_department_files(generate_town(residents=300, seed=5), d / "files")}
    reg = next(f for f in files.values() if f.source_type == "resident_registry")
    ws = Workspace.create(d / "base.db", PW)
    S.import_file(ws, Path(reg.path), "resident_registry")
    ws.close()
    # the consultation list as a town sends it after renaming one column
    cons = next(f for f in files.values() if f.source_type == "consultation")
    raw = Path(cons.path).read_bytes()
    enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp932"
    text = raw.decode(enc)
    head, rest = text.split("\n", 1)
    assert "相談種別" in head
    edited = d / "相談記録一覧_新様式.csv"
    edited.write_bytes((head.replace("相談種別", RENAMED) + "\n" + rest).encode(enc))
    return {"db": d / "base.db", "files": files, "consultation": edited}


@pytest.fixture
def ws(town, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(town["db"]) + suffix, str(tmp_path / "d.db") + suffix)
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


def _run(qtbot, wiz):
    op = wiz.run_import()
    assert op is not None
    qtbot.waitUntil(lambda: not op.is_running, timeout=60000)
    return op


def test_wizard_edit_mapping_import_remember_and_screenshots(app, qtbot, ws, town, tmp_path):
    page = _page(qtbot, ws)
    wiz = page.wizard
    path = town["consultation"]
    assert wiz.open_file(path)
    # the file says nowhere when it was extracted: the 時点 stays empty (never today by itself) until typed
    assert wiz.as_of.text() == "" and "見つかりません" in wiz.as_of_note.text()
    assert not wiz.validate() and "時点" in wiz.notice.text()
    wiz.as_of.setText("令和8年11月1日")
    assert "2026-11-01" in wiz.as_of_note.text()
    # ② the source type is suggested from the headers; the preview shows the first rows
    assert wiz.stack.currentIndex() == 1
    assert wiz.source.currentData() == "consultation" and "推定した種類" in wiz.info.text()
    assert wiz.sample.rowCount() > 0 and wiz.sample.columnCount() == len(wiz.headers())
    mapping = wiz.current_mapping()
    assert mapping["相談日"] == "consultation_date" and mapping["宛名番号"] == "resident_no"
    assert mapping[RENAMED] == "-", "an unknown header stays unmapped until the user chooses"
    assert not S.preview(ws, path)["remembered"]
    # edit one mapping: the renamed column is the consultation category
    wiz.set_field(RENAMED, "category")
    assert wiz.current_mapping()[RENAMED] == "category"
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "import_wizard_preview.png"), "PNG", PNG_QUICK)

    # ③ the validation report: counts, the rejected rows with row numbers and Japanese reasons, exportable
    assert wiz.validate() and wiz.stack.currentIndex() == 2
    rejected = wiz.errors.rows
    assert rejected, "the demo files carry one bad row each"
    assert all(e["row"] >= 2 and e["message"] for e in rejected)
    assert "取り込む行" in wiz.report.text() and "除外する行" in wiz.report.text()
    out = wiz.export_errors(tmp_path / "除外行.csv")
    with open(out, encoding="utf-8-sig") as fh:
        exported = list(csv.reader(fh))
    assert exported[0] == ["行", "列", "理由"] and len(exported) == len(rejected) + 1
    assert page.grab().save(str(IMAGES / "import_wizard_report.png"), "PNG", PNG_QUICK)

    # import through ops (worker thread, progress dialog with キャンセル); no message box
    _run(qtbot, wiz)
    res = wiz.last_result
    assert res is not None and res.batch_id and res.imported > 0 and res.rejected == len({e["row"] for e in rejected})
    assert "取り込みました" in wiz.notice.text() and wiz.stack.currentIndex() == 0
    with ws.session() as s:
        recs = s.scalars(select(SourceRecord).where(SourceRecord.batch_id == res.batch_id)).all()
    assert len(recs) == res.imported
    # the edited mapping took effect: the category is a parsed attribute, not a raw leftover
    cats = {r.attributes.get("category") for r in recs}
    assert cats and cats <= {"DV", "育児", "経済", "不登校", "ヤングケアラー"}  # the field's parsed values
    assert all(r.attributes.get("category") for r in recs if r.raw.get(RENAMED))
    # the history tab lists the batch (refreshed after the import)
    hist = page.history.model.rows
    assert hist[0]["batch_id"] == res.batch_id and hist[0]["file_name"] == path.name and hist[0]["current"]
    # the import is in the access log
    from sqlalchemy import text

    with ws.engine.connect() as c:
        actions = [r[0] for r in c.execute(text("SELECT action FROM access_log"))]
    assert "import" in actions

    # the profile is remembered per source and header signature: opening the file again maps the column
    pv = S.preview(ws, path)
    assert pv["remembered"] and pv["mapping"][RENAMED] == "category"
    assert wiz.open_file(path)
    wiz.as_of.setText("令和8年11月1日")
    assert wiz.current_mapping()[RENAMED] == "category" and "前回の列の対応" in wiz.info.text()
    # the same file twice: refused as a duplicate, said in the notice, nothing imported
    assert wiz.validate()
    _run(qtbot, wiz)
    assert wiz.last_result.duplicate_of == res.batch_id and "すでに取り込まれています" in wiz.notice.text()


def test_wizard_refusals_go_to_the_notice(app, qtbot, ws, town, tmp_path):
    page = _page(qtbot, ws)
    wiz = page.wizard
    # a file that cannot be read
    bad = tmp_path / "壊れた.xlsx"
    bad.write_bytes(b"not an excel file")
    assert not wiz.open_file(bad)
    assert "読み込めません" in wiz.notice.text() and wiz.stack.currentIndex() == 0
    # two columns on one field
    att = next(f for f in town["files"].values() if f.source_type == "school_attendance")
    assert wiz.open_file(att.path)
    wiz.as_of.setText("2026/11/01")
    assert wiz.source.currentData() == "school_attendance"
    name_col = next(h for h, f in wiz.current_mapping().items() if f == "name")
    other = next(h for h, f in wiz.current_mapping().items() if f == "name_kana")
    wiz.set_field(other, "name")
    assert not wiz.validate() and "複数の列" in wiz.notice.text() and name_col in wiz.notice.text()
    wiz.set_field(other, "name_kana")
    assert wiz.validate()
    # import without validating again is refused in the notice
    wiz.set_field(other, None)
    assert wiz.run_import() is None and "検証" in wiz.notice.text()


def test_cancel_leaves_the_database_unchanged(app, qtbot, ws, town, monkeypatch):
    """キャンセル in the progress dialog: the importer stops where it is safe to, nothing is written."""
    import threading

    page = _page(qtbot, ws)
    wiz = page.wizard
    att = next(f for f in town["files"].values() if f.source_type == "school_attendance")
    assert wiz.open_file(att.path)
    wiz.as_of.setText("R8.11.1")
    assert wiz.validate()
    before = len(S.batch_history(ws))
    started = threading.Event()
    from kodomo_desktop.core.importing import readers  # import_file reads through readers.read_table

    real = readers.read_table

    def slow_read(*a, **k):  # the worker waits here until the user has pressed キャンセル
        started.set()
        for _ in range(200):
            if wiz.last_op is not None and wiz.last_op.cancel.is_set():
                break
            threading.Event().wait(0.02)
        return real(*a, **k)

    monkeypatch.setattr(readers, "read_table", slow_read)
    op = wiz.run_import()
    qtbot.waitUntil(started.is_set, timeout=10000)
    op.dialog.canceled.emit()  # what the キャンセル button does
    qtbot.waitUntil(lambda: not op.is_running, timeout=30000)
    assert "中止" in wiz.notice.text() and wiz.last_result is None
    assert len(S.batch_history(ws)) == before
    assert wiz.do_import.isEnabled()


def test_history_shows_rejected_rows_and_removes_a_batch_in_two_steps(app, qtbot, ws, town):
    """The history tab: a batch's left-out rows with row, column and reason; 取り消し needs a reason and a second
    press on the page (no dialog); the records leave, the batch stays in history as removed, the log says so."""
    page = _page(qtbot, ws)
    wiz = page.wizard
    assert wiz.open_file(town["consultation"])
    wiz.as_of.setText("令和8年11月1日")
    assert wiz.validate()
    _run(qtbot, wiz)
    res = wiz.last_result
    assert res.batch_id and res.rejected >= 1
    page.tabs.setCurrentIndex(1)
    h = page.history
    h.select_batch(res.batch_id)
    assert h.selected()["batch_id"] == res.batch_id
    rows = h.rejected.rows
    assert len({r["row"] for r in rows}) == res.rejected and all(r["row"] >= 2 and r["message"] for r in rows)
    assert "除外した行" in h.detail_title.text()
    assert page.grab().save(str(IMAGES / "import_history.png"), "PNG", PNG_QUICK)
    # no reason: refused on the page
    assert h.remove_selected() is None and "理由" in h.notice.text()
    h.reason.setText("別の課のファイルを誤って取り込んだ")
    assert h.remove_selected() is None and h.confirm_btn.isVisible()  # first press only asks
    with ws.session() as s:
        assert s.scalars(select(SourceRecord).where(SourceRecord.batch_id == res.batch_id)).first() is not None
    done = h.remove_selected(confirm=True)
    assert done and done["removed_records"] == res.imported and "取り消しました" in h.notice.text()
    with ws.session() as s:
        assert s.scalars(select(SourceRecord).where(SourceRecord.batch_id == res.batch_id)).first() is None
    row = next(r for r in h.model.rows if r["batch_id"] == res.batch_id)
    assert row["removed"] and not row["current"]
    from sqlalchemy import text

    with ws.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM access_log WHERE action='batch_removed'")).scalar() == 1


def test_lock_forgets_the_rejected_rows_and_unlock_brings_them_back(app, qtbot, ws, town):
    """Issue 22: on lock the wizard's rejected rows and the history's lists are emptied; after the unlock the
    validation runs again from the file and the mapping still on screen, so nothing the user chose is lost."""
    page = _page(qtbot, ws)
    wiz = page.wizard
    assert wiz.open_file(town["consultation"])
    wiz.as_of.setText("令和8年11月1日")
    assert wiz.validate() and wiz.stack.currentIndex() == 2
    before = list(wiz.errors.rows)
    assert before
    ws.lock(manual=True)
    page.on_lock()
    assert wiz.errors.rows == []
    ws.unlock(PW)
    page.on_unlock()
    assert wiz.errors.rows == before and wiz.stack.currentIndex() == 2
