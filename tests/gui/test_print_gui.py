"""The 帳票 page with pytest-qt (offscreen) on the demo town: pick a child, preview an assessment sheet, save it as
PDF, print a 5-child conference packet to a QPrinter in PDF mode, check the access log and take a screenshot.
No modal dialog may open (each one would hang offscreen Qt): they are patched to fail the test at once."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from kodomo_desktop.core import persons as P  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("pdftotext") and shutil.which("pdfinfo")),
    reason="poppler-utils not installed",
)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("print_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    if not w.locked:
        w.close()


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.print_page import PrintPage

    page = PrintPage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    qtbot.waitExposed(page)
    return page


def _log(ws, action="print"):
    from sqlalchemy import text

    with ws.engine.connect() as c:
        return [
            (r[0], json.loads(r[1] or "{}"))
            for r in c.execute(
                text("SELECT person_id, detail FROM access_log WHERE action = :a ORDER BY seq"), {"a": action}
            )
        ]


def _children(ws, n):
    rows = [r for r in P.list_children(ws, log=False) if r.school and r.name and r.name_kana and not r.opted_out]
    assert len(rows) >= n
    return rows[:n]


def _wait(qtbot, op):
    assert op is not None
    qtbot.waitUntil(lambda: not op.is_running, timeout=120_000)
    assert op.error is None, op.error


def _pdftotext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _pdfpages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(l for l in out.splitlines() if l.startswith("Pages:")).split()[1])


@needs_poppler
def test_preview_save_and_screenshot(app, qtbot, ws, tmp_path):
    page = _page(qtbot, ws)
    child = _children(ws, 1)[0]
    assert not page.b_print.isEnabled()  # nothing to print before a preview
    # nothing chosen: the reason goes to the notice, no dialog
    assert page.preview() is None and "こども" in page.notice.text()
    # pick the child by kana search
    page.set_kind("assessment")
    page.a_child.search.setText(child.name_kana)
    assert page.a_child.apply_search() >= 1
    assert page.a_child.select(child.person_id)
    _wait(qtbot, page.preview())
    assert page.current is not None and page.page_count() == page.current["pages"] > 0
    assert page.b_print.isEnabled() and "ページ" in page.info.text()
    tmp = Path(page._tmp)
    assert tmp.is_dir() and (tmp.stat().st_mode & 0o077) == 0  # private temp folder
    # save as PDF (no dialog: the path is passed)
    out = tmp_path / "assessment.pdf"
    res = page.save_pdf(out)
    assert res and res["pages"] == page.current["pages"]
    text = _pdftotext(out)
    assert "取扱注意" in text
    assert child.name.replace("　", "").replace(" ", "") in text.replace(" ", "").replace("　", "")
    # the log: a preview and a file, both for this child
    entries = [(pid, d) for pid, d in _log(ws) if d.get("document") == "assessment"]
    assert [d.get("output") for _, d in entries] == ["preview", "pdf_file"]
    assert all(pid == child.person_id and d["persons"] == [child.person_id] for pid, d in entries)
    assert all(child.name not in json.dumps(d, ensure_ascii=False) for _, d in entries)
    # screenshot with the preview showing
    page.zoom.setCurrentIndex(page.zoom.findData(75))
    qtbot.wait(50)
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "print_preview.png"), "PNG", PNG_QUICK)
    # the temp files go with the preview
    page.clear_preview()
    assert not tmp.exists() and page.page_count() == 0 and not page.b_print.isEnabled()


@needs_poppler
def test_conference_packet_to_printer_and_log(app, qtbot, ws, tmp_path, monkeypatch):
    from PySide6.QtPrintSupport import QPrinter

    page = _page(qtbot, ws)
    page.set_kind("conference")
    kids = _children(ws, 5)
    for r in kids:
        page.add_conference_child(r.person_id, r.name)
    seen = []
    from kodomo_desktop.core.reports import service as R

    orig = R.conference_pdf

    def spy(*a, progress=None, **k):  # the core reports per-child progress to the progress dialog
        def p(*args, **kw):
            seen.append(args)
            progress(*args, **kw)

        return orig(*a, progress=p, **k)

    monkeypatch.setattr(R, "conference_pdf", spy)
    _wait(qtbot, page.preview())
    monkeypatch.setattr(R, "conference_pdf", orig)
    assert (0, 5) in seen and (5, 5) in seen
    n = page.current["pages"]
    assert n >= 6 and page.page_count() == n
    page.zoom.setCurrentIndex(page.zoom.findData(75))
    qtbot.wait(50)
    assert page.grab().save(str(IMAGES / "print_conference.png"), "PNG", PNG_QUICK)
    printer = QPrinter(QPrinter.HighResolution)
    printer.setOutputFormat(QPrinter.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    assert page.print_to(printer, dpi=60) == n
    assert out.exists() and _pdfpages(out) == n >= 6
    if KEEP := __import__("os").environ.get("KODOMO_KEEP_PRINTED"):
        shutil.copy(out, KEEP)
    printed = [(pid, d) for pid, d in _log(ws) if d.get("output") == "printer"]
    assert len(printed) == 1
    pid, d = printed[0]
    assert pid is None and d["document"] == "conference" and d["pages"] == n
    assert d["persons"] == [r.person_id for r in kids]
    prev = [d for _, d in _log(ws) if d.get("document") == "conference" and d.get("output") == "preview"]
    assert len(prev) == 1 and prev[0]["persons"] == [r.person_id for r in kids]
    assert not list(Path(page._tmp).glob("print-*.png"))  # printer-resolution images are not kept
    # a page range chosen in the print dialog
    part = QPrinter(QPrinter.HighResolution)
    part.setOutputFormat(QPrinter.PdfFormat)
    part.setOutputFileName(str(tmp_path / "part.pdf"))
    part.setPrintRange(QPrinter.PageRange)
    part.setFromTo(2, 3)
    assert page.print_to(part, dpi=60) == 2 and _pdfpages(tmp_path / "part.pdf") == 2
    assert [d["pages"] for _, d in _log(ws) if d.get("output") == "printer"] == [n, 2]
    # the dialog step: cancelled in the system dialog, nothing printed or logged
    from PySide6.QtPrintSupport import QPrintDialog

    monkeypatch.setattr(QPrintDialog, "exec", lambda self: QPrintDialog.Rejected)
    page.print_dialog()
    assert len([1 for _, d in _log(ws) if d.get("output") == "printer"]) == 2


@needs_poppler
def test_lock_deletes_preview_files(app, qtbot, ws):
    from PySide6.QtCore import QObject, Signal

    class FakeMain(QObject):
        locked = Signal()

        def status(self, text, ms=0):
            pass

    main = FakeMain()
    from kodomo_desktop.gui.pages.print_page import PrintPage

    page = PrintPage(ws, main)  # not given to qtbot: this test deletes it
    page.set_kind("handover")
    child = _children(ws, 1)[0]
    page.h_child.search.setText(child.name_kana)
    page.h_child.apply_search()
    page.h_child.select(child.person_id)
    _wait(qtbot, page.preview())
    tmp = Path(page._tmp)
    assert page.page_count() > 0 and any(tmp.iterdir())
    main.locked.emit()
    assert not tmp.exists() and page.current is None and page.page_count() == 0
    # and when the page itself goes away
    _wait(qtbot, page.preview())
    tmp = Path(page._tmp)
    assert tmp.exists()
    from PySide6.QtCore import QCoreApplication, QEvent

    page.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    assert not tmp.exists()


def test_round_stats_without_rounds_notice(app, qtbot, ws):
    page = _page(qtbot, ws)
    page.set_kind("round_stats")
    if page.r_round.count() == 0:
        assert page.preview() is None and "ラウンド" in page.notice.text()
    page.set_kind("conference")
    assert page.preview() is None and "会議" in page.notice.text()


@needs_poppler
def test_school_sheet_round_stats_and_blank_checklist(app, qtbot, ws):
    from kodomo_desktop.core.casework import service as C

    page = _page(qtbot, ws)
    # 学校用情報収集シート: the first school with children, school-facing mask by default
    page.set_kind("school_sheet")
    assert page.s_school.count() > 0 and page.s_mask.currentData() == "school"
    shown = False
    for i in range(page.s_school.count()):
        page.s_school.setCurrentIndex(i)
        op = page.preview()
        qtbot.waitUntil(lambda: not op.is_running, timeout=120_000)
        if op.error is None:
            shown = True
            break
        assert page.notice.text()  # e.g. a school without records: a notice, never a dialog
    assert shown and page.page_count() > 0
    # ラウンド統計 after a round is created (the list is refreshed when the page is shown)
    rid = C.create_round(ws, "印刷テスト")
    page.page_shown()
    page.set_kind("round_stats")
    assert page.r_round.findData(rid) >= 0
    page.r_round.setCurrentIndex(page.r_round.findData(rid))
    _wait(qtbot, page.preview())
    assert page.page_count() > 0
    assert [d for _, d in _log(ws) if d.get("document") == "round_stats" and d.get("round_id") == rid]
    # 白紙チェックリスト: pages when the checklist form exists, else its Japanese notice
    page.set_kind("blank_checklist")
    assert page.b_school.count() > 0 and page.b_def.count() > 0
    op = page.preview()
    qtbot.waitUntil(lambda: not op.is_running, timeout=120_000)
    assert (op.error is None and page.page_count() > 0) or (op.error is not None and page.notice.text())


@needs_poppler
def test_in_main_window_lock_clears_preview(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(ws, lock_minutes=0)
    qtbot.addWidget(win)
    win.resize(1360, 860)
    win.show()
    qtbot.waitExposed(win)
    page = win.show_page("print")
    assert type(page).__name__ == "PrintPage"
    child = _children(ws, 1)[0]
    page.a_child.search.setText(child.name_kana)
    page.a_child.apply_search()
    page.a_child.select(child.person_id)
    _wait(qtbot, page.preview())
    tmp = Path(page._tmp)
    assert page.page_count() > 0 and tmp.exists()
    assert win.lock() and ws.locked
    assert not tmp.exists() and page.page_count() == 0  # nothing of the child stays on screen or on disk
    dlg = win.lock_dialog
    dlg.pw.setText(PW)
    dlg.try_open()
    qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
    assert not ws.locked
    assert page.a_child.selected_id() == child.person_id  # the choice is kept; preview again
    _wait(qtbot, page.preview())
    assert page.page_count() > 0


@needs_poppler
def test_intake_and_no_school_sheet(app, qtbot, ws, tmp_path):
    """受理会議録 and the sheet for children without a school, previewed and saved from the page."""
    page = _page(qtbot, ws)
    child = _children(ws, 1)[0]
    page.set_kind("intake")
    page.i_child.search.setText(child.name_kana)
    assert page.i_child.apply_search() >= 1 and page.i_child.select(child.person_id)
    _wait(qtbot, page.preview())
    assert page.current is not None and page.page_count() > 0
    out = tmp_path / "intake.pdf"
    assert page.save_pdf(out)
    assert "受理会議録" in _pdftotext(out)
    page.set_kind("no_school")
    page.n_contact.setCurrentIndex(page.n_contact.findData("public_health_nurse"))
    _wait(qtbot, page.preview())
    out = tmp_path / "no_school.pdf"
    assert page.save_pdf(out)
    text = _pdftotext(out)
    assert "学校・園に在籍していないこども" in text and "保健師" in text
    docs = [d.get("document") for _, d in _log(ws)]
    assert "intake" in docs and "no_school_sheet" in docs
