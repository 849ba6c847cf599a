"""Issue 22: the lock closes the engine, drops the key and empties the pages' lists; the unlock fills them again.
A manual lock (Ctrl+L) is logged as 手動ロック, the idle lock as 自動ロック."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pytestqt")

from conftest import DEMO_PW  # noqa: E402
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QTableWidget, QTreeWidget  # noqa: E402
from sqlalchemy import text  # noqa: E402

from kodomo_desktop.core.errors import KodomoError  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("lock") / "demo.db"
    demo_town(path, residents=300, seed=3)  # the town the CLI tests build (conftest.demo_town caches it)
    return path


@pytest.fixture
def ws(town, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(town) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _names(ws) -> set[str]:
    with ws.engine.connect() as c:
        return {r[0] for r in c.execute(text("SELECT name FROM person WHERE name IS NOT NULL"))}


def _shown_text(win) -> list[str]:
    """Every text the window holds in labels, list models and item widgets."""
    out = [lab.text() for lab in win.findChildren(QLabel)]
    for v in win.findChildren(QAbstractItemView):
        if isinstance(v, QTreeWidget):
            stack = [v.topLevelItem(i) for i in range(v.topLevelItemCount())]
            while stack:
                it = stack.pop()
                out += [it.text(c) for c in range(it.columnCount())]
                stack += [it.child(i) for i in range(it.childCount())]
        elif isinstance(v, QListWidget):
            out += [v.item(i).text() for i in range(v.count())]
        elif isinstance(v, QTableWidget):
            out += [v.item(r, c).text() for r in range(v.rowCount()) for c in range(v.columnCount()) if v.item(r, c)]
        else:
            m = v.model()
            if m is None or "ComboBox" in type(v).__name__:
                continue
            out += [
                str(m.data(m.index(r, c)) or "") for r in range(min(m.rowCount(), 400)) for c in range(m.columnCount())
            ]
    return out


def _actions(ws) -> list[str]:
    with ws.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT action FROM access_log ORDER BY seq"))]


def test_manual_lock_forgets_everything_and_unlock_refills(app, qtbot, ws, no_modals):
    from kodomo_desktop.gui.main_window import MainWindow

    names = {n for n in _names(ws) if len(n) >= 3}
    win = MainWindow(ws, lock_minutes=0)
    qtbot.addWidget(win)
    win.resize(1360, 860)
    win.show()
    qtbot.waitExposed(win)
    for key in ("dashboard", "linkage", "scoring", "checklist", "conference"):
        win.show_page(key)
    children = win.show_page("children")
    child = children.model.rows[0]
    children.open_person(child.person_id)
    assert children.child.title.text() == child.name and children.child.timeline.topLevelItemCount()
    printing = win.show_page("print")
    first = child.person_id
    printing.a_child.search.setText(child.name_kana)
    printing.a_child.apply_search()
    assert printing.a_child.select(first) and printing.a_child._rows
    win.show_page("children")
    shown = " ".join(_shown_text(win))
    assert sum(n in shown for n in names) >= 10  # the lists really showed children before the lock
    old_engine = ws.engine

    from PySide6.QtGui import QShortcut

    ctrl_l = next(s for s in win.findChildren(QShortcut) if s.key().toString() == "Ctrl+L")
    ctrl_l.activated.emit()  # the user's Ctrl+L
    assert ws.locked and win.lock_dialog is not None
    assert ws._db_key is None and ws._sessions is None and ws.engine is not old_engine
    with pytest.raises(KodomoError):
        ws.engine.connect()  # no read is possible while locked
    with pytest.raises(KodomoError):
        ws.session().__enter__()
    assert old_engine.pool.checkedout() == 0
    shown = " ".join(_shown_text(win))
    left = sorted(n for n in names if n in shown)
    assert left == []  # no child's name anywhere in the window's lists and labels
    assert children.model.rowCount() == 0 and children.child.page is None
    assert printing.a_child._rows is None and printing.a_child.results.count() == 0

    win.lock_dialog.pw.setText(PW)
    win.lock_dialog.try_open()
    qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
    assert not ws.locked
    assert children.model.rowCount() > 0  # the current page is filled again at once
    assert children.child.title.text() == child.name  # the open child's page too
    linkage = win.show_page("linkage")  # the others when they are shown
    assert linkage.queue_label.text()
    scoring = win.show_page("scoring")
    assert scoring.model.rowCount() > 0
    win.show_page("print")
    assert printing.a_child.selected_id() == first  # the choice comes back with the list
    acts = _actions(ws)
    i = acts.index("db_lock_manual")
    assert "db_lock" not in acts[i - 3 : i + 1] and acts[i + 1] == "db_open"


def test_idle_lock_is_logged_as_auto(app, qtbot, ws, no_modals):
    from kodomo_desktop.gui.main_window import MainWindow

    win = MainWindow(ws, lock_minutes=0.003)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: ws.locked, timeout=5000)
    win.lock_dialog.pw.setText(PW)
    win.lock_dialog.try_open()
    qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
    win.set_lock_minutes(0)
    acts = _actions(ws)
    assert "db_lock" in acts and "db_lock_manual" not in acts


def test_gui_start_removes_leftover_previews(app, tmp_path, monkeypatch):
    """Print previews of a crashed run (children's PDFs) are removed when the app next starts."""
    import os

    from kodomo_desktop.core import outputs as O
    from kodomo_desktop.gui import app as gui_app

    monkeypatch.setenv("KODOMO_TEMP_DIR", str(tmp_path))
    left = O.preview_root() / f"{O.PREVIEW_PREFIX}999999999-x"
    left.mkdir()
    (left / "page-1.png").write_bytes(b"png")
    monkeypatch.setattr(gui_app, "start", lambda args: None)  # no sign-in dialog: stop right after the start-up
    old = os.umask(0o022)
    try:
        assert gui_app.main([]) == 0
    finally:
        os.umask(old)
    assert not left.exists()
