"""A teacher's app flow over the school's own workspace (issue 22 point 4), with pytest-qt offscreen: the same
sign-in screen at the same database path lands on the checklist entry page of the school's pupils (no opted-out
child); answers typed and submitted there reach the coordinator's page; the lock screen opens the school's
workspace again; nothing of the town's key is held. No modal dialog may open."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from conftest import DEMO_PW, IMAGES, PNG_QUICK, _copy_town  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.checklists import service as CL  # noqa: E402
from kodomo_desktop.core.storage.models import OptOut  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
TEACHER_PW = "teacher gui pw 22"


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("schoolws_gui")
    demo_town(d / "d.db", residents=600, seed=1)
    return d / "d.db"


def test_teacher_signs_in_at_the_same_path_and_enters_in_the_schools_workspace(app, qtbot, built, tmp_path):
    from kodomo_desktop.gui.dialogs import SignInDialog
    from kodomo_desktop.gui.main_window import MainWindow

    db = _copy_town(built, tmp_path, "d.db")
    coord = Workspace.open(db, DEMO_PW)
    school = CL.schools(coord)[1]
    everyone = CL.pupils(coord, school)
    opted = everyone[1]["person_id"]
    with coord.session() as s:
        s.add(OptOut(person_id=opted, from_date=dt.date(2020, 4, 1), reason="不同意書"))
    coord.add_user("teacher1", TEACHER_PW, "school", school)
    rid = CL.open_round(coord, "夏休み明け", schools_=[school])
    coord.close()

    sign = SignInDialog(db, user="teacher1")
    qtbot.addWidget(sign)
    sign.pw.setText(TEACHER_PW)
    assert sign.try_open(), sign.msg.text()
    teacher = sign.workspace
    assert teacher.is_school and teacher.path == db and teacher.user.school == school
    win = MainWindow(teacher)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.keys == ["checklist", "settings"] and win.nav.currentRow() == 0
        page = win.page("checklist")
        entry = page.entry
        assert school in entry.head.text() and "夏休み明け" in entry.head.text()
        shown = [p["person_id"] for p in entry.model.pupils]
        assert shown == [p["person_id"] for p in everyone if p["person_id"] != opted] and opted not in shown
        view = entry.view
        view.setFocus()
        view.setCurrentIndex(entry.model.index(0, 0))
        for key in "112":
            qtbot.keyClick(view, key)
        assert entry.save(False) and "下書き" in entry.notice.text()
        IMAGES.mkdir(parents=True, exist_ok=True)
        assert win.grab().save(str(IMAGES / "school_workspace_entry.png"), "PNG", PNG_QUICK)
        # the lock screen: the school's workspace again, with the same password
        assert win.lock(manual=True) and teacher.locked
        dlg = win.lock_dialog
        dlg.pw.setText("wrong wrong")
        assert not dlg.try_open() and teacher.locked
        dlg.pw.setText(TEACHER_PW)
        assert dlg.try_open() and not teacher.locked
        qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
        first = shown[0]
        assert CL.entries(teacher, rid, school)[first]["status"] == "draft"
        # settings opens for the teacher (the town's auto-lock copied to the school's workspace)
        win.show_page("settings")
    finally:
        win.close()
        teacher.close()
    # the coordinator's page reads it back
    coord = Workspace.open(db, DEMO_PW)
    try:
        from kodomo_desktop.gui.pages.checklist_page import ChecklistPage

        cpage = ChecklistPage(coord, None)
        qtbot.addWidget(cpage)
        st = next(s for s in CL.status(coord)["schools"] if s["school"] == school)
        assert st["entered"] == 1 and st["draft"] == 1
        entries = CL.entries(coord, rid, school)
        first = shown[0]
        items = [i["id"] for i in CL.school_round(coord, school)["definition"]["items"][:3]]
        assert entries[first]["answers"] == dict(zip(items, ["1", "1", "2"], strict=True))
        assert entries[first]["status"] == "draft"
        cpage.close()
    finally:
        coord.close()
    assert Qt  # (imported for key names)
