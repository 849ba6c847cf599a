"""First start of a real town (the wizard) and the 利用者 page: the coordinator adds a school user with a temporary
password, the teacher must choose their own at first sign-in, then reset and removal. No modal dialog opens."""

from pathlib import Path

from conftest import IMAGES, PNG_QUICK
from sqlalchemy import text

from kodomo_desktop.core import settings as core_settings
from kodomo_desktop.core import users as U
from kodomo_desktop.core.workspace import Workspace

COORD_PW = "みどり町 こども 2026"


def _actions(ws):
    with ws.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT action FROM access_log ORDER BY seq"))]


def test_first_start_wizard_then_a_school_user(app, qtbot, tmp_path, no_modals):
    from kodomo_desktop.gui.dialogs import FirstRunDialog, SignInDialog
    from kodomo_desktop.gui.main_window import MainWindow

    db = tmp_path / "town" / "kodomo.db"
    dlg = FirstRunDialog(path=db, offer_demo=False)
    qtbot.addWidget(dlg)
    dlg.show()
    # step 1: the town's name is required (documents print it)
    assert dlg.step == 0 and not dlg.next_step() and "自治体名" in dlg.msg.text()
    dlg.town.setText("みどり町")
    assert dlg.next_step() and dlg.step == 1
    qtbot.wait(50)
    dlg.grab().save(str(IMAGES / "first_run_coordinator.png"), "PNG", PNG_QUICK)
    # step 2: the password rules (the core's) and the confirmation
    dlg.pw.setText("abc")
    assert not dlg.next_step() and "8文字" in dlg.msg.text() and dlg.step == 1
    dlg.pw.setText("password")
    assert not dlg.next_step() and dlg.step == 1
    dlg.pw.setText(COORD_PW)
    dlg.pw2.setText(COORD_PW + "x")
    assert not dlg.next_step() and "一致しません" in dlg.msg.text()
    dlg.pw2.setText(COORD_PW)
    assert dlg.next_step() and dlg.step == 2
    # step 3: the backup folder must not be the database's own folder
    dlg.backup_dir.setText(str(db.parent))
    assert not dlg.next_step() and "別のフォルダー" in dlg.msg.text()
    backups = tmp_path / "usb" / "backup"
    dlg.backup_dir.setText(str(backups))
    assert dlg.next_step() and dlg.step == 3
    assert "みどり町" in dlg.summary.text() and str(backups) in dlg.summary.text()
    qtbot.wait(50)  # let the summary lay out before the picture
    dlg.grab().save(str(IMAGES / "first_run_summary.png"), "PNG", PNG_QUICK)
    assert dlg.create_button.isVisible()
    dlg.create()
    assert dlg.choice == "created" and dlg.workspace is not None
    ws = dlg.workspace
    try:
        assert db.exists() and not db.read_bytes().startswith(b"SQLite format 3")
        assert core_settings.town_name(ws) == "みどり町"
        assert core_settings.get(ws, core_settings.BACKUP_FOLDER) == str(backups)
        assert ws.user.role == "coordinator"

        # the 利用者 page: add a school user
        win = MainWindow(ws)
        qtbot.addWidget(win)
        win.resize(1366, 728)
        win.show()
        qtbot.waitExposed(win)
        assert "users" in win.keys
        win.show_page("users")
        page = win.page("users")
        # a school user needs its school
        assert page.add("daiichi", "school", "") is None and "学校名" in page.notice.text()
        temp = page.add("daiichi", "school", "第一小学校")
        assert temp and page.issued.isVisibleTo(page) and page.issued_pw.text() == temp
        row = next(r for r in page.model.rows if r["name"] == "daiichi")
        assert row["role"] == "school" and row["school"] == "第一小学校" and row["must_change"]
        assert "仮のパスワード" in page.model.text(page.model.rows.index(row), 4)
        assert win.grab().save(str(IMAGES / "users_page.png"), "PNG", PNG_QUICK)
        # the same name twice is refused on the page
        assert page.add("daiichi", "staff") is None and "すでに登録" in page.notice.text()
        # the coordinator cannot remove or reset themself from here
        page.select("coordinator")
        assert not page.remove_btn.isEnabled() and not page.reset_btn.isEnabled()
        assert "user_added" in _actions(ws)
    finally:
        win.close()

    # the teacher signs in with the temporary password and must choose their own
    sign = SignInDialog(db, user="daiichi")
    qtbot.addWidget(sign)
    sign.pw.setText(temp)
    assert sign.try_open() and sign.must_change and sign.change_box.isVisibleTo(sign)
    assert sign.result() == 0  # not accepted yet
    sign.new_pw.setText(temp)
    sign.new_pw2.setText(temp)
    assert not sign.change_password() and "違うパスワード" in sign.msg.text()
    sign.new_pw.setText("第一小 の 先生 です")
    sign.new_pw2.setText("第一小 の 先生 です")
    assert sign.change_password() and not sign.must_change
    teacher = sign.workspace
    try:
        assert teacher.user.role == "school" and teacher.user.school == "第一小学校"
        assert not U.must_change(teacher)
    finally:
        teacher.close()
    Workspace.open(db, "第一小 の 先生 です", "daiichi").close()

    # reset (forgotten password) and removal, on the coordinator's page again
    page.select("daiichi")
    again = page.reset_selected()
    assert again and again != temp and page.issued_pw.text() == again
    assert next(r for r in page.model.rows if r["name"] == "daiichi")["must_change"]
    page.select("daiichi")
    assert not page.remove_selected() and page.confirm_btn.isVisibleTo(page)  # first press only asks
    assert any(r["name"] == "daiichi" for r in page.model.rows)
    assert page.remove_selected(confirm=True)
    assert not any(r["name"] == "daiichi" for r in page.model.rows)
    assert {"password_reset", "user_removed"} <= set(_actions(ws))
    ws.close()


def test_quitting_the_forced_change_closes_the_database(app, qtbot, new_db, no_modals):
    temp = U.add_user(new_db, "s1", "staff")
    path = Path(new_db.path)
    new_db.close()
    sign = SignInDialog_for(path, "s1", qtbot)
    sign.pw.setText(temp)
    assert sign.try_open() and sign.must_change
    w = sign.workspace
    sign._quit()
    assert sign.workspace is None and w.locked  # nothing stays open with the temporary password


def SignInDialog_for(path, user, qtbot):
    from kodomo_desktop.gui.dialogs import SignInDialog

    d = SignInDialog(path, user=user)
    qtbot.addWidget(d)
    return d
