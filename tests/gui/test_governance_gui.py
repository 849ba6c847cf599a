"""The 個人情報保護 page with pytest-qt (offscreen) on the demo town: edit a legal basis (and see a source without one
highlighted), preview and save the file register, add and remove opt-outs, view the purge list and delete after the
in-page two-step confirmation, fill, save and print the self-inspection; read-only for the auditor. Screenshots
to docs/images/governance_*.png. No modal dialog may open (they would hang offscreen Qt)."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QDate, Qt  # noqa: E402
from sqlalchemy import text  # noqa: E402

from kodomo_desktop.core.governance import register as R  # noqa: E402
from kodomo_desktop.core.governance.optout import register as optout_register  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
    _copy_town,  # noqa: E402
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("gov_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)
    ws = Workspace.open(path, PW)
    try:
        ws.add_user("kansa", "auditor pw", "auditor")
    finally:
        ws.close()
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    _copy_town(demo_db, tmp_path, "d.db")  # (with the auditor's workspace)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _page(qtbot, ws):
    from kodomo_desktop.gui.pages.governance_page import GovernancePage

    page = GovernancePage(ws, None)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    qtbot.waitExposed(page)
    return page


def _shot(page, name):
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / name), "PNG", PNG_QUICK)


def _wait(op):
    assert op is not None
    assert op.wait(60000), "operation did not finish"


def test_legal_basis_table_edit_and_missing_highlight(app, qtbot, ws):
    from kodomo_desktop.gui.pages.governance_page import MISSING_BG

    page = _page(qtbot, ws)
    b = page.basis
    kinds = [r["kind"] for r in b.model.rows]
    assert kinds.count("source") >= 12 and kinds.count("indicator") >= 19  # every source and indicator
    assert "すべての項目に根拠があります" in b.summary.text()
    # edit tax: 「その他」 needs a note, refused on the page (no modal)
    assert b.select("source", "tax")
    assert b.purpose.isEnabled() and b.save_btn.isEnabled()
    b.basis.setCurrentIndex(b.basis.findData("other"))
    b.note.setText("")
    assert b.save() is False and page.notice.text()
    b.basis.setCurrentIndex(b.basis.findData("69-2-3"))
    b.note.setText("税務課との協定（令和8年4月）による")
    b.purpose.setText("世帯の経済状況（非課税等）を把握し、支援につなぐため")
    b.shown.setCurrentIndex(1)
    assert b.save() is True
    row = next(r for r in R.legal_bases(ws) if r["key"] == "tax")
    assert row["basis"] == "69-2-3" and row["note"].startswith("税務課との協定") and row["shown_on_sheets"] is False
    assert b.current["key"] == "tax" and "69条2項3号" in b.model.text(_row(b.model, "source", "tax"), 3)
    # an indicator keeps its own basis
    ind = next(r for r in b.model.rows if r["kind"] == "indicator")
    assert b.select("indicator", ind["key"])
    b.basis.setCurrentIndex(b.basis.findData("61-1"))
    assert b.save() is True
    assert any(r["kind"] == "indicator" and r["key"] == ind["key"] and r["basis"] == "61-1" for r in R.legal_bases(ws))
    # a source without a recorded basis is highlighted and counted
    with ws.session() as s:
        s.execute(text("UPDATE legal_basis SET basis=NULL WHERE kind='source' AND key='consultation'"))
    b.refresh()
    i = _row(b.model, "source", "consultation")
    assert b.model.data(b.model.index(i, 0), Qt.BackgroundRole) == MISSING_BG
    assert b.model.text(i, 3) == "未設定" and "1 件" in b.summary.text()
    b.only_missing.setChecked(True)
    assert [r["key"] for r in b.model.rows] == ["consultation"]
    b.only_missing.setChecked(False)
    b.select("source", "tax")
    _shot(page, "governance_basis.png")
    b.select("source", "consultation")
    b.basis.setCurrentIndex(b.basis.findData("61-1"))
    assert b.save() and "すべての項目に根拠があります" in b.summary.text()


def _row(model, kind, key):
    return next(i for i, r in enumerate(model.rows) if r["kind"] == kind and r["key"] == key)


def test_file_register_preview_and_save(app, qtbot, ws, tmp_path):
    page = _page(qtbot, ws)
    page.tabs.setCurrentWidget(page.register)
    reg = page.register
    with ws.session() as s:
        n = s.execute(text("SELECT count(*) FROM person")).scalar()
        types = s.execute(
            text("SELECT count(DISTINCT source_type) FROM source_batch WHERE removed_at IS NULL")
        ).scalar()
    assert reg.model.rowCount() == types and f"<b>{n}</b>" in reg.facts.text()
    assert {r["source_type"]: r["persons"] for r in reg.model.rows} == {
        i["source_type"]: i["persons"] for i in R.file_register(ws)["items"]
    }
    assert "利用停止" in reg.notice_text.toPlainText() and "こども家庭センター" in reg.notice_text.toPlainText()
    _shot(page, "governance_register.png")
    _wait(reg.save_pdf(tmp_path / "reg.pdf"))
    assert (tmp_path / "reg.pdf").stat().st_size > 0 and reg.saved["pages"] >= 1 and reg.saved["persons_total"] == n
    assert "保存しました" in page.notice.text()
    _wait(reg.save_xlsx(tmp_path / "reg.xlsx"))
    assert (tmp_path / "reg.xlsx").exists()


def test_optout_add_and_remove(app, qtbot, ws):
    from kodomo_desktop.core.scoring import service as S

    page = _page(qtbot, ws)
    page.tabs.setCurrentWidget(page.optout)
    o = page.optout
    scores = S.latest_scores(ws)
    pid, other = scores[0]["person_id"], scores[1]["person_id"]
    assert o.model.rowCount() == 0 and "登録中 0 件" in o.count.text()
    o.person.setText(pid)
    d = o.lookup()
    assert d and d["person_id"] == pid and d["name"] in o.who.text()
    assert o.add() is None and "理由" in page.notice.text()  # a reason is required
    o.reason.setText("不同意書の提出（受付第3号）")
    o.from_date.setDate(QDate(2026, 12, 1))
    res = o.add()
    assert res and res["rows_excluded"] >= 1
    assert o.model.rowCount() == 1 and o.model.rows[0]["person_id"] == pid
    assert o.model.rows[0]["from_date"] == "2026-12-01"
    with ws.session() as s:
        assert {st for (st,) in s.execute(text("SELECT status FROM link WHERE person_id=:p"), {"p": pid})} == {
            "excluded"
        }
    # a whole household
    o.person.setText(other)
    o.household.setChecked(True)
    o.reason.setText("世帯で不同意")
    res2 = o.add()
    assert res2 and res2["household"] and res2["persons"] >= 2
    assert o.model.rowCount() == 2 and o.model.text(1, 1).startswith("世帯 ")
    _shot(page, "governance_optout.png")
    # remove the person's entry: a reason is required
    assert o.select_entry(res["optout_id"])
    assert o.remove() is None
    o.remove_reason.setText("本人から撤回の申出")
    assert o.remove()["removed"] == 1
    assert o.model.rowCount() == 1  # removed entries are hidden …
    o.show_removed.setChecked(True)
    assert o.model.rowCount() == 2  # … until asked for
    reg = {r["id"]: r for r in optout_register(ws)}
    assert reg[res["optout_id"]]["removed_reason"] == "本人から撤回の申出"
    assert reg[res2["optout_id"]]["removed_at"] is None
    # the household entry (no person id of its own) can be removed too
    assert o.select_entry(res2["optout_id"])
    o.remove_reason.setText("世帯から撤回")
    assert o.remove()
    assert all(r["removed_at"] for r in optout_register(ws))


def test_retention_purge_list_and_two_step_delete(app, qtbot, ws):
    page = _page(qtbot, ws)
    page.tabs.setCurrentWidget(page.retention)
    t = page.retention
    assert {r["subject"] for r in t.model.rows} >= {"tax", "casework", "resident_registry"}
    assert t.expired == [] and t.expired_cases == [] and not t.purge_btn.isEnabled()
    # a support case closed long ago (casework is kept 120 months after closing), and one closed recently
    from kodomo_desktop.core.storage.models import ProgressRecord, SupportCase

    with ws.session() as s:
        pid = s.execute(text("SELECT id FROM person ORDER BY id LIMIT 1")).scalar()
        old = SupportCase(
            person_id=pid,
            opened_on=dt.date(2010, 5, 1),
            closed_on=dt.date(2012, 3, 31),
            close_reason="終結",
            plan="試験",
        )
        new = SupportCase(
            person_id=pid,
            opened_on=dt.date(2024, 5, 1),
            closed_on=dt.date(2025, 3, 31),
            close_reason="終結",
            plan="試験",
        )
        s.add_all([old, new])
        s.flush()
        s.add_all(
            [
                ProgressRecord(person_id=pid, case_id=old.id, on=dt.date(2011, 1, 5), kind="家庭訪問"),
                ProgressRecord(person_id=pid, case_id=old.id, on=dt.date(2011, 6, 5), kind="面談"),
                ProgressRecord(person_id=pid, case_id=new.id, on=dt.date(2024, 6, 5), kind="面談"),
            ]
        )
        old_id, new_id = old.id, new.id
    t.refresh_expired()
    assert [c["case_id"] for c in t.expired_cases] == [old_id] and t.case_model.rowCount() == 1
    assert t.expired_cases[0]["progress_records"] == 2 and t.purge_btn.isEnabled()
    # tax kept for 1 month only; three months on, its file has expired
    assert t.select("tax")
    t.months.setValue(1)
    t.note.setText("試験: 短縮")
    assert t.save()
    assert next(r for r in R.retention(ws) if r["subject"] == "tax")["months"] == 1
    t.on.setDate(QDate.fromString((dt.date.today() + dt.timedelta(days=92)).isoformat(), "yyyy-MM-dd"))
    assert [r["source_type"] for r in t.expired] == ["tax"]
    n = t.expired[0]["records"]
    assert n > 0 and t.exp_model.rowCount() == 1 and f"{n} 件" in t.summary.text() and t.purge_btn.isEnabled()
    # step one shows the confirmation; やめる deletes nothing
    assert t.ask_purge() and t.confirm.isVisible() and f"{n} 件" in t.confirm_text.text()
    assert "ケース記録 1 件（経過記録 2 件）" in t.confirm_text.text()
    _shot(page, "governance_retention.png")
    t.cancel_purge()
    assert not t.confirm.isVisible() and len(R.expired(ws, t.on_date())) == 1
    assert t.confirm_purge() is None  # not armed: nothing happens
    assert len(R.expired(ws, t.on_date())) == 1 and len(R.expired_casework(ws, t.on_date())) == 1
    # step two deletes, logged
    assert t.ask_purge()
    _wait(t.confirm_purge())
    assert t.purged == {"batches": 1, "records": n, "cases": 1, "progress_records": 2}
    assert R.expired(ws, t.on_date()) == [] and t.exp_model.rowCount() == 0
    assert R.expired_casework(ws, t.on_date()) == [] and t.case_model.rowCount() == 0
    with ws.session() as s:
        assert s.execute(text("SELECT count(*) FROM access_log WHERE action='purge'")).scalar() == 1
        assert [r for (r,) in s.execute(text("SELECT id FROM support_case"))] == [new_id]  # the recent one stays
        assert s.execute(text("SELECT count(*) FROM progress_record")).scalar() == 1
    assert ws.verify()["ok"]
    assert "ケース記録 0 件" in next(
        r["result"] for r in page.inspection.auto_model.rows if r["item"] == "保存期間を過ぎた未削除のデータ"
    )


def test_self_inspection_fill_save_and_print(app, qtbot, ws, tmp_path):
    page = _page(qtbot, ws)
    page.tabs.setCurrentWidget(page.inspection)
    si = page.inspection
    assert si.auto_model.rowCount() == 6
    assert any(r["item"] == "操作ログの連鎖" and r["ok"] for r in si.auto_model.rows)
    assert any(r["item"] == "最後のバックアップ" and not r["ok"] for r in si.auto_model.rows)  # none in a new town
    assert "まだ保存されていません" in si.state.text()
    si.year.setValue(2026)
    si.set_answer("policy", True)
    si.set_answer("training", False, "来年度の研修を6月に予定")
    si.set_answer("notice", True, "広報誌10月号に掲載")
    assert si.save()
    saved = R.load_self_inspection(ws, 2026)
    assert saved["manual"] == {
        "policy": True,
        "training": False,
        "training_note": "来年度の研修を6月に予定",
        "notice": True,
        "notice_note": "広報誌10月号に掲載",
    }
    assert saved["auto"]["log_chain_ok"] is True and "保存済み" in si.state.text()
    # another year is empty; coming back loads what was saved
    si.year.setValue(2025)
    assert si.answers() == {}
    si.year.setValue(2026)
    assert si.answers() == saved["manual"]
    _shot(page, "governance_inspection.png")
    _wait(si.print_pdf(tmp_path / "si.pdf"))
    assert si.printed["pages"] >= 1
    txt = subprocess.run(["pdftotext", str(tmp_path / "si.pdf"), "-"], capture_output=True, text=True).stdout
    assert "自己点検報告書（令和8年度）" in txt and "来年度の研修を6月に予定" in txt
    assert R.self_inspection_years(ws) == [2026]


def test_auditor_reads_but_cannot_change(app, qtbot, demo_db, tmp_path):
    _copy_town(demo_db, tmp_path, "a.db")  # (with the auditor's workspace)
    aw = Workspace.open(tmp_path / "a.db", "auditor pw", user_name="kansa")
    try:
        assert aw.can("governance.read") and not aw.can("governance.write")
        page = _page(qtbot, aw)
        assert not page.can_write and page.mode.isVisible()
        assert page.basis.model.rowCount() > 0 and page.register.model.rowCount() > 0
        assert page.basis.select("source", "tax") and not page.basis.save_btn.isEnabled()
        page.tabs.setCurrentWidget(page.optout)
        assert not page.optout.add_btn.isVisible() and not page.optout.remove_btn.isVisible()
        page.optout.person.setText("P000001")
        page.optout.reason.setText("x")
        assert page.optout.add() is None and page.notice.text()  # refused by the core
        assert optout_register(aw) == []
        page.tabs.setCurrentWidget(page.retention)
        assert not page.retention.purge_btn.isEnabled() and page.retention.ask_purge() is False
        # the privacy officer answers the self-inspection
        page.tabs.setCurrentWidget(page.inspection)
        page.inspection.set_answer("room", True)
        assert page.inspection.save()
    finally:
        aw.close()


def test_page_in_the_main_window(app, qtbot, ws):
    from kodomo_desktop.gui.main_window import MainWindow
    from kodomo_desktop.gui.pages.governance_page import GovernancePage

    win = MainWindow(ws)
    qtbot.addWidget(win)
    win.resize(1360, 860)
    win.show()
    assert isinstance(win.show_page("governance"), GovernancePage)
