"""帳票 preview and printing with poppler's tools gone (Windows has none): PDFium (pypdfium2) renders the pages.

PATH is emptied, shutil.which answers None for every poppler tool and any attempt to start one fails the test.
Printing renders each page at the printer's resolution and paints it into a QPrinter (PDF mode here); the saved
PDF stays vector (text, not a picture of text)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")
pdfium = pytest.importorskip("pypdfium2")

from kodomo_desktop.core import persons as P  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]

from conftest import DEMO_PW  # noqa: E402

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
POPPLER = ("pdftoppm", "pdfinfo", "pdftotext", "pdftocairo", "pdfimages", "pdffonts")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("nopoppler") / "demo.db"
    demo_town(path, residents=300, seed=1)  # the town test_sharing_gui and the self-test use (cached)
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    if not w.locked:
        w.close()


@pytest.fixture
def no_poppler(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name in POPPLER else real_which(name, *a, **k))
    assert shutil.which("pdftoppm") is None

    def guard(real):
        def run(args, *a, **k):
            argv = [args] if isinstance(args, str | Path) else list(args)
            assert Path(str(argv[0])).name not in POPPLER, f"poppler started: {argv}"
            return real(args, *a, **k)

        return run

    monkeypatch.setattr(subprocess, "run", guard(subprocess.run))
    monkeypatch.setattr(subprocess, "Popen", guard(subprocess.Popen))


def _dark_pixels(img) -> int:
    """How many pixels in a sparse grid over the page are clearly not white (text, rules)."""
    n = 0
    for y in range(0, img.height(), 4):
        for x in range(0, img.width(), 4):
            if img.pixelColor(x, y).lightness() < 128:
                n += 1
    return n


def _wait(qtbot, op):
    assert op is not None
    qtbot.waitUntil(lambda: not op.is_running, timeout=120_000)
    assert op.error is None, op.error


def _child(ws):
    return next(r for r in P.list_children(ws, log=False) if r.name_kana and not r.opted_out)


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.print_page import PrintPage

    page = PrintPage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    qtbot.waitExposed(page)
    return page


def test_preview_print_and_save_without_poppler(app, qtbot, ws, tmp_path, no_poppler, monkeypatch):
    from PySide6.QtGui import QImage
    from PySide6.QtPrintSupport import QPrinter

    from kodomo_desktop.gui.pages import print_page as PP

    page = _page(qtbot, ws)
    child = _child(ws)
    page.set_kind("assessment")
    page.a_child.search.setText(child.name_kana)
    assert page.a_child.apply_search() >= 1 and page.a_child.select(child.person_id)
    _wait(qtbot, page.preview())
    n = page.current["pages"]
    assert n >= 1 and page.page_count() == n and page.b_print.isEnabled(), page.notice.text()
    first = QImage(str(page.current["images"][0]))
    # an A4 page at the preview resolution, with something printed on it
    assert abs(first.width() - round(210 / 25.4 * PP.PREVIEW_DPI)) <= 2
    assert abs(first.height() - round(297 / 25.4 * PP.PREVIEW_DPI)) <= 2
    assert _dark_pixels(first) > 200

    # printing: each page rendered at the printer's resolution, painted one at a time, nothing left on disk
    used = []
    real = PP.page_images

    def spy(pdf, dpi, **k):
        used.append((dpi, k.get("grey")))
        return real(pdf, dpi, **k)

    monkeypatch.setattr(PP, "page_images", spy)
    printer = QPrinter(QPrinter.HighResolution)
    printer.setOutputFormat(QPrinter.PdfFormat)
    printer.setResolution(200)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    before = set(Path(page._tmp).iterdir())
    assert page.print_to(printer) == n, page.notice.text()
    assert used == [(200, False)]
    assert set(Path(page._tmp).iterdir()) == before  # no printer-resolution image written
    doc = pdfium.PdfDocument(str(out))
    assert len(doc) == n
    w, h = doc[0].get_size()
    assert abs(w - 595.3) < 2 and abs(h - 841.9) < 2  # A4
    bm = doc[0].render(scale=100 / 72, rev_byteorder=True, prefer_bgrx=True)
    printed = QImage(bm.buffer, bm.width, bm.height, bm.stride, QImage.Format_RGBX8888).copy()
    assert _dark_pixels(printed) > 200  # the page arrived, not a blank sheet
    doc.close()

    # a printer set to grey gets grey pages (a quarter of the memory and of the job)
    grey = QPrinter(QPrinter.HighResolution)
    grey.setOutputFormat(QPrinter.PdfFormat)
    grey.setResolution(150)
    grey.setColorMode(QPrinter.GrayScale)
    grey.setOutputFileName(str(tmp_path / "grey.pdf"))
    assert page.print_to(grey) == n and used[-1] == (150, True)
    # a printer that asks for more than the cap is served at the cap
    big = QPrinter(QPrinter.HighResolution)
    big.setOutputFormat(QPrinter.PdfFormat)
    big.setResolution(2400)
    big.setOutputFileName(str(tmp_path / "big.pdf"))
    big.setPrintRange(QPrinter.PageRange)
    big.setFromTo(1, 1)
    assert page.print_to(big) == 1 and used[-1][0] == PP.PRINT_DPI_MAX

    # the saved PDF is the core's vector document: its text can be read back, the font is embedded
    saved = tmp_path / "saved.pdf"
    assert page.save_pdf(saved)["pages"] == n
    doc = pdfium.PdfDocument(str(saved))
    text = doc[0].get_textpage().get_text_range()
    assert "取扱注意" in text
    assert child.name.replace("　", "").replace(" ", "") in text.replace("　", "").replace(" ", "")
    doc.close()
    assert b"/FontFile2" in saved.read_bytes()
    page.clear_preview()


def test_a_broken_pdf_gives_a_japanese_notice_not_a_crash(app, qtbot, ws, tmp_path, no_poppler):
    from kodomo_desktop.core.errors import InputRefused
    from kodomo_desktop.gui.pages import print_page as PP

    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"not a pdf")
    with pytest.raises(InputRefused) as e:
        PP.rasterise(bad, tmp_path, 50)
    assert "PDF" in e.value.message_ja
