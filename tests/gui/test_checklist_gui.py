"""The チェックリスト page with pytest-qt (offscreen) on the demo town: a school user enters the checklist for three
pupils with the keyboard (arrow keys, 1/2/0, a remark), saves a draft and submits; the coordinator then sees the
school's progress per school and class. Screenshots to docs/images. No modal dialog may open (they would hang)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.checklists import service as CL  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
TEACHER_PW = "teacher gui pw"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("checklist_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)
    return path


@pytest.fixture
def db(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    return tmp_path / "d.db"


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.checklist_page import ChecklistPage

    page = ChecklistPage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 760)
    page.show()
    qtbot.waitExposed(page)
    return page


def _type_remark(qtbot, view, text):
    """F2 opens the remark cell's editor; the text is typed; Enter commits it."""
    from PySide6.QtWidgets import QLineEdit

    qtbot.keyClick(view, Qt.Key_F2)
    editors = [w for w in view.viewport().findChildren(QLineEdit) if w.isVisible()]
    assert len(editors) == 1, "F2 did not open the remark editor"
    editor = editors[0]
    editor.insert(text)  # (an input method would deliver Japanese text in one piece)
    qtbot.keyClick(editor, Qt.Key_Return)


def test_school_user_enters_three_pupils_by_keyboard_then_coordinator_sees_progress(app, qtbot, db, tmp_path):
    coord = Workspace.open(db, PW)
    school = CL.schools(coord)[1]
    coord.add_user("teacher1", TEACHER_PW, "school", school)
    # the coordinator opens the round from the page (the name passed in: no input dialog)
    cpage = _page(qtbot, coord)
    rid = cpage.coordinator.open_round("夏休み明け")
    assert rid and "夏休み明け" in cpage.coordinator.title.text()
    cpage.close()

    teacher = Workspace.open(db, TEACHER_PW, "teacher1")
    try:
        page = _page(qtbot, teacher)
        assert not hasattr(page, "coordinator")  # a school account sees only its entry grid
        entry = page.entry
        view, model = entry.view, entry.model
        assert school in entry.head.text() and "夏休み明け" in entry.head.text()
        pupils = CL.pupils(coord, school)
        assert [p["person_id"] for p in model.pupils] == [p["person_id"] for p in pupils]
        n_items = len(model.items)
        view.setFocus()
        assert view.currentIndex().row() == 0 and view.currentIndex().column() == 0
        # pupil 1: strong answers on the first six items, then a remark at the end of the row
        for key in "111111":
            qtbot.keyClick(view, key)
        assert view.currentIndex().column() == 6
        qtbot.keyClick(view, Qt.Key_End)
        assert view.currentIndex().column() == n_items  # the remark column
        _type_remark(qtbot, view, "朝食をとらずに登校する日が続く")
        # pupil 2: down, home, answers 2 2 0; a mistake corrected with Left + 1
        qtbot.keyClick(view, Qt.Key_Down)
        qtbot.keyClick(view, Qt.Key_Home)
        assert (view.currentIndex().row(), view.currentIndex().column()) == (1, 0)
        for key in "220":
            qtbot.keyClick(view, key)
        qtbot.keyClick(view, Qt.Key_Left)
        qtbot.keyClick(view, "1")
        # pupil 3: all answered 非該当 for the first ten items, then Delete clears the second
        qtbot.keyClick(view, Qt.Key_Down)
        qtbot.keyClick(view, Qt.Key_Home)
        for _ in range(10):
            qtbot.keyClick(view, "2")
        qtbot.keyClick(view, Qt.Key_Home)
        qtbot.keyClick(view, Qt.Key_Right)
        qtbot.keyClick(view, Qt.Key_Delete)
        p1, p2, p3 = (p["person_id"] for p in model.pupils[:3])
        assert model.answers[p1] == {it["id"]: "1" for it in model.items[:6]}
        assert model.remarks[p1] == "朝食をとらずに登校する日が続く"
        assert model.answers[p2] == {model.items[0]["id"]: "2", model.items[1]["id"]: "2", model.items[2]["id"]: "1"}
        assert len(model.answers[p3]) == 9 and model.items[1]["id"] not in model.answers[p3]
        assert model.dirty == {p1, p2, p3}
        assert model.headerData(0, Qt.Vertical).startswith("＊")
        # a draft first: nothing submitted yet
        assert entry.save(False)
        assert "下書き" in entry.notice.text()
        assert entry.counts()["draft"] == 3 and entry.counts()["submitted"] == 0
        drafts = CL.entries(teacher, rid, school)
        assert {e["status"] for e in drafts.values()} == {"draft"} and set(drafts) == {p1, p2, p3}
        # Ctrl+S is the save shortcut; submit with the button
        model = entry.model  # reloaded from the database
        view.setCurrentIndex(model.index(3, 0))
        qtbot.keyClick(view, "0")
        qtbot.mouseClick(entry.submit_btn, Qt.LeftButton)
        # two rows are half filled: the page asks first (on the page, no box) and nothing is submitted yet
        assert "途中まで" in entry.notice.text() and entry.submit_anyway_btn.isVisible(), entry.notice.text()
        assert CL.entries(teacher, rid, school)[p1]["status"] == "draft"
        qtbot.mouseClick(entry.submit_anyway_btn, Qt.LeftButton)
        assert "提出しました" in entry.notice.text(), entry.notice.text()
        assert not entry.submit_anyway_btn.isVisible()
        c = entry.counts()
        assert c["submitted"] == 4 and c["draft"] == 0 and c["not_yet"] == len(pupils) - 4
        model = entry.model
        view.setCurrentIndex(model.index(0, 0))
        assert model.headerData(0, Qt.Vertical).startswith("✔")
        IMAGES.mkdir(parents=True, exist_ok=True)
        assert page.grab().save(str(IMAGES / "checklist_entry.png"), "PNG", PNG_QUICK)
        # a submitted sheet is locked for the school: an edit is refused on the notice line, not in a box
        qtbot.keyClick(view, "2")
        assert "提出済み" in entry.notice.text() and not model.dirty
        got = CL.entries(teacher, rid, school)
        assert got[p1]["status"] == "submitted" and got[p1]["answers"] == {it["id"]: "1" for it in model.items[:6]}
        assert got[p1]["remark"] == "朝食をとらずに登校する日が続く"
    finally:
        teacher.close()

    # the coordinator's progress view: per school and class, submitted / draft / not yet
    try:
        third = next(s for s in CL.schools(coord) if s != school)
        for p in CL.pupils(coord, third)[:2]:  # another school has two drafts
            CL.save_entry(coord, rid, p["person_id"], {"ab01": "2"})
        cpage = _page(qtbot, coord)
        cv = cpage.coordinator
        rows = cv.model.rows
        head = next(r for r in rows if r.get("is_school") and r["school"] == school)
        assert head["submitted"] == 4 and head["draft"] == 0 and head["not_yet"] == head["pupils"] - 4
        i = rows.index(head)
        classes = []
        for r in rows[i + 1 :]:
            if r.get("is_school"):
                break
            classes.append(r)
        assert classes and sum(r["pupils"] for r in classes) == head["pupils"]
        assert sum(r["submitted"] for r in classes) == 4
        others = [r for r in rows if r.get("is_school") and r["school"] != school]
        assert others and all(r["submitted"] == 0 for r in others)
        t = next(r for r in others if r["school"] == third)
        assert t["draft"] == 2 and t["not_yet"] == t["pupils"] - 2
        assert all(r["not_yet"] == r["pupils"] for r in others if r is not t)
        assert f"提出完了 0 校・入力中 2 校・未着手 {len(others) - 1} 校" in cv.summary.text()
        # a workbook for another school, path passed in (no file dialog)
        res = cv.template(others[0]["school"], str(tmp_path / "wb.xlsx"))
        assert res and (tmp_path / "wb.xlsx").exists() and "作成しました" in cv.notice.text()
        # a blank paper form for one class of that school (path passed in)
        p0 = CL.pupils(coord, others[0]["school"])[0]
        res = cv.blank_sheet(others[0]["school"], f"{p0['grade']}年{p0['class']}組", str(tmp_path / "blank.pdf"))
        assert res and res["pages"] >= 2 and (tmp_path / "blank.pdf").read_bytes()[:5] == b"%PDF-"
        assert "記入用紙" in cv.notice.text()
        cv.template(others[0]["school"], str(tmp_path / "wb.xlsx"))
        assert cpage.grab().save(str(IMAGES / "checklist_progress.png"), "PNG", PNG_QUICK)
        # the dashboard shows the same round's progress per school
        from kodomo_desktop.gui.pages.dashboard_page import DashboardPage

        dash = DashboardPage(coord)
        qtbot.addWidget(dash)
        drow = next(r for r in dash.cl.rows if r["school"] == school)
        assert drow["submitted"] == 4 and "回収状況" in dash.cl_title.text()
        assert next(r for r in dash.cl.rows if r["school"] == third)["draft"] == 2
    finally:
        coord.close()


def test_school_workbook_has_a_file_password_by_default_and_comes_back(app, qtbot, db, tmp_path):
    """Issue 22: the GUI's 学校用 Excel is written with a file password (default on); the returned workbook is read
    back in the same view with that password; without the option the file is plain."""
    import io

    import msoffcrypto
    from openpyxl import load_workbook

    from kodomo_desktop.core.workspace import Workspace

    coord = Workspace.open(db, PW)
    try:
        cv = _page(qtbot, coord).coordinator
        assert cv.use_password.isChecked() and len(cv.file_password.text()) >= 12
        school = CL.schools(coord)[0]
        out = tmp_path / "school.xlsx"
        res = cv.template(school, str(out))
        pw = cv.file_password.text()
        assert res and pw in cv.notice.text() and "別の方法" in cv.notice.text()
        f = msoffcrypto.OfficeFile(out.open("rb"))
        assert f.is_encrypted()
        with pytest.raises(Exception):
            load_workbook(out)
        f.load_key(password=pw)
        plain = io.BytesIO()
        f.decrypt(plain)
        wb = load_workbook(plain)
        sh = wb["チェックリスト"]
        head = next(r for r in range(1, 10) if sh.cell(r, 1).value == "行キー")
        sh.cell(head + 1, 6, "該当")
        sh.cell(head + 1, sh.max_column, "=1+1")  # a teacher's remark typed as a formula
        buf = io.BytesIO()
        wb.save(buf)
        buf.seek(0)
        back = tmp_path / "back.xlsx"
        with back.open("wb") as fh:
            msoffcrypto.OfficeFile(buf).encrypt(pw, fh)
        assert cv.import_returned(str(back), "違うパスワード") is None and cv.notice.text()
        got = cv.import_returned(str(back))
        assert got is not None and got.imported == 1 and "取り込みました" in cv.notice.text()
        assert "数式" in cv.notice.text()  # the formula was read as its cached value and flagged
        cv.use_password.setChecked(False)
        assert not cv.file_password.isEnabled()
        cv.template(school, str(tmp_path / "plain.xlsx"))
        assert load_workbook(tmp_path / "plain.xlsx")["チェックリスト"]
        cv.use_password.setChecked(True)
        cv.file_password.setText("short")
        assert cv.template(school, str(tmp_path / "x.xlsx")) is None and "8文字" in cv.notice.text()
        assert not (tmp_path / "x.xlsx").exists()
    finally:
        coord.close()
