"""Every page fits the screens towns have: a 1366×768 laptop at 100 % (the window gets 1366×728 beside a task bar)
and a 1920×1080 screen at 150 % (1280×690 logical pixels). Each page is shown at both sizes, saved as a screenshot
(IMAGES/fit_*.png; the 150 % one rendered at device-pixel ratio 1.5, as Windows draws it), and its important
controls must lie inside the window, at least as large as their text needs (no clipped button or header)."""

import shutil

import pytest
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,
    PNG_QUICK,
)
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QScrollArea,
    QTabBar,
    QTableView,
    QTabWidget,
    QWidget,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("fit_demo") / "demo.db"
    demo_town(path, residents=600, seed=1)
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    from kodomo_desktop.core.demo.service import database_files
    from kodomo_desktop.core.workspace import Workspace

    for src in database_files(demo_db):
        shutil.copy(src, tmp_path / src.name.replace("demo.db", "d.db"))
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


SCREENS = {"1366x768": (QSize(1366, 728), 1.0), "1920x1080@150": (QSize(1280, 690), 1.5)}
CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QTabBar)


def _in_scroll_area(w, top) -> bool:
    p = w.parentWidget()
    while p is not None and p is not top:
        if isinstance(p, QScrollArea):
            return True
        p = p.parentWidget()
    return False


def _problems(win, page) -> list[str]:
    out = []
    frame = win.rect()
    for w in page.findChildren(QWidget):
        if not isinstance(w, CONTROLS) or isinstance(w, QHeaderView) or not w.isVisibleTo(win):
            continue
        if w.window() is not win or _in_scroll_area(w, page):
            continue
        if isinstance(w, QAbstractButton) and w.parentWidget() is not None and isinstance(w.parentWidget(), QTabBar):
            continue  # the tab bar's own scroll buttons
        r = QRect(w.mapTo(win, QPoint(0, 0)), w.size())
        name = f"{type(w).__name__} {getattr(w, 'text', lambda: '')() if isinstance(w, QAbstractButton) else ''}"
        name += f" [{w.objectName()}]" if w.objectName() else ""
        if not frame.contains(r):
            out.append(f"{name} outside the window: {r.getRect()} not in {frame.getRect()}")
            continue
        if isinstance(w, QAbstractButton) and w.text() and w.width() + 2 < w.minimumSizeHint().width():
            out.append(f"{name} clipped: {w.width()} < {w.minimumSizeHint().width()}")
        if isinstance(w, QAbstractItemView) and w.height() < 60:
            out.append(f"{name} a list squeezed to {w.height()} px")
        if isinstance(w, QTableView) and w.horizontalHeader().isVisible() and w.model() is not None:
            h = w.horizontalHeader()
            fm = h.fontMetrics()
            for c in range(w.model().columnCount()):
                if h.isSectionHidden(c) or h.sectionSize(c) == 0:
                    continue
                label = str(w.model().headerData(c, Qt.Horizontal) or "")
                need = max((fm.horizontalAdvance(line) for line in label.splitlines()), default=0) + 1
                if h.sectionSize(c) < need:
                    out.append(f"{name} header 「{label}」 clipped: {h.sectionSize(c)} < {need}")
    return out


def _tab_widgets(page):
    return [t for t in page.findChildren(QTabWidget) if t.isVisibleTo(page)]


@pytest.mark.parametrize("screen", list(SCREENS))
def test_every_page_fits_the_screen(app, qtbot, ws, screen, no_modals):
    from kodomo_desktop.gui.main_window import MainWindow
    from kodomo_desktop.gui.pages import MessagePage

    size, dpr = SCREENS[screen]
    win = MainWindow(ws)
    qtbot.addWidget(win)
    win.resize(size)
    win.show()
    qtbot.waitExposed(win)
    problems = {}
    shots = 0
    for key in win.keys:
        win.show_page(key)
        page = win.page(key)
        assert not (isinstance(page, MessagePage) and page.kind == "error"), key
        tabs = _tab_widgets(page) or [None]
        for tw in tabs:
            for i in range(tw.count() if tw is not None else 1):
                if tw is not None:
                    tw.setCurrentIndex(i)
                QApplication.processEvents()
                assert win.size() == size, f"{key} grew the window to {win.size().toTuple()}"
                label = key if tw is None else f"{key}_{i + 1}"
                found = _problems(win, page)
                if found:
                    problems[label] = found
                pm = QPixmap(size * dpr)
                pm.setDevicePixelRatio(dpr)
                win.render(pm)
                assert pm.save(str(IMAGES / f"fit_{screen}_{label}.png"), "PNG", PNG_QUICK)
                shots += 1
    # the child page (こども一覧 → a child), with its two tabs
    children = win.page("children")
    pid = children.model.row_at(0).person_id
    children.open_person(pid)
    for i in range(children.child.findChild(QTabWidget).count()):
        children.child.findChild(QTabWidget).setCurrentIndex(i)
        QApplication.processEvents()
        assert win.size() == size, f"the child page grew the window to {win.size().toTuple()}"
        found = _problems(win, children)
        if found:
            problems[f"child_{i + 1}"] = found
        pm = QPixmap(size * dpr)
        pm.setDevicePixelRatio(dpr)
        win.render(pm)
        assert pm.save(str(IMAGES / f"fit_{screen}_child_{i + 1}.png"), "PNG", PNG_QUICK)
        shots += 1
    assert shots >= len(win.keys)
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_default_window_fits_a_1366x768_laptop(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(ws)
    qtbot.addWidget(win)
    assert win.width() <= 1366 and win.height() <= 728 - 30  # the title bar and a task bar
    assert win.minimumSizeHint().width() <= 1280 and win.minimumSizeHint().height() <= 690


def test_help_walks_the_monthly_cycle_with_the_screens(app, qtbot, ws, no_modals):
    from kodomo_desktop.gui.main_window import MainWindow
    from kodomo_desktop.gui.pages.help_page import STEPS

    win = MainWindow(ws)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    qtbot.waitExposed(win)
    help_page = win.page("help")
    assert [s.page for s in STEPS] == ["import", "linkage", "scoring", "conference", "conference", "print"]
    for i, st in enumerate(STEPS):
        help_page.steps.setCurrentRow(i)
        QApplication.processEvents()
        assert win.current_key() == "help"  # drawing the screen does not leave the help page
        pm = help_page.picture.pixmap()
        assert pm is not None and not pm.isNull() and pm.width() > 300, st.title
        assert help_page.step_title.text() == st.title and help_page.text.text()
        assert win.grab().save(str(IMAGES / f"help_step_{i + 1}.png"), "PNG", PNG_QUICK)
    # 「この画面を開く」 goes to the step's page and tab (会議 → 会議・記録)
    help_page.steps.setCurrentRow(4)
    help_page.open_current()
    assert win.current_key() == "conference" and win.page("conference").tabs.currentIndex() == 1
