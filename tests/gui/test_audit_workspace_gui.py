"""An auditor's app flow over the audit workspace (issue 22 point 4, "same idea for the auditor"), pytest-qt
offscreen: the same sign-in screen at the same database path opens the audit workspace; the window offers the log
and the governance pages (no dashboard, no child's page), each saying as of when (和暦 date and time) the copy of
the town's log and registers is; the log's chain is verified there; the lock screen opens it again. No modal dialog
may open."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from conftest import DEMO_PW, IMAGES, PNG_QUICK, _copy_town  # noqa: E402

from kodomo_desktop.core.audit import export as E  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
AUDIT_PW = "auditor gui pw 22"


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("auditws_gui")
    demo_town(d / "d.db", residents=600, seed=1)
    return d / "d.db"


def test_auditor_signs_in_and_reads_the_log_and_the_registers_of_the_copy(app, qtbot, built, tmp_path):
    from kodomo_desktop.gui.dialogs import SignInDialog
    from kodomo_desktop.gui.main_window import MainWindow

    db = _copy_town(built, tmp_path, "d.db")
    coord = Workspace.open(db, DEMO_PW)
    coord.add_user("kansa", AUDIT_PW, "auditor")
    coord.close()

    sign = SignInDialog(db, user="kansa")
    qtbot.addWidget(sign)
    sign.pw.setText(AUDIT_PW)
    assert sign.try_open(), sign.msg.text()
    a = sign.workspace
    assert a.is_audit and a.path == db and a.user.role == "auditor"
    win = MainWindow(a)
    qtbot.addWidget(win)
    win.resize(1366, 728)
    win.show()
    qtbot.waitExposed(win)
    try:
        assert win.keys == ["settings", "log", "governance"] and win.current_key() == "log"
        log = win.page("log")
        at = a.copied_at()
        assert at is not None
        text = log.copy_date.text()
        assert "令和" in text and f"{at.hour}:{at.minute:02d}" in text
        assert log.model.rowCount() > 0 and E.log_count(a) == log.model.rowCount()
        qtbot.waitUntil(lambda: log.chain_report is not None, timeout=10000)
        assert log.chain_report.ok and "切れ" not in log.chain.text()
        IMAGES.mkdir(parents=True, exist_ok=True)
        assert win.grab().save(str(IMAGES / "audit_workspace_log.png"), "PNG", PNG_QUICK)
        gov = win.show_page("governance")
        assert "令和" in gov.copy_date.text() and not gov.can_write
        assert gov.register.model.rowCount() > 0 and gov.basis.model.rowCount() > 0
        assert win.grab().save(str(IMAGES / "audit_workspace_governance.png"), "PNG", PNG_QUICK)
        for key in ("dashboard", "children", "scoring", "conference", "print", "checklist"):
            assert key not in win.keys
        # the lock screen: the audit workspace again, with the same password
        assert win.lock(manual=True) and a.locked
        dlg = win.lock_dialog
        dlg.pw.setText(AUDIT_PW)
        assert dlg.try_open() and not a.locked
        qtbot.waitUntil(lambda: win.lock_dialog is None, timeout=3000)
        win.show_page("settings")
    finally:
        win.close()
        a.close()
