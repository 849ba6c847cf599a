"""The full casework cycle in the GUI (pytest-qt, offscreen) on the scored demo town: create a round, classify ten
children with reasons (an empty reason is refused on a notice label), build a conference of five households across
at least two schools, record minutes, add progress records, see the due list and the funnel on the dashboard, the
child's timeline; everything is in the access log and survives closing and reopening the database.
Screenshots: round list, conference minutes, child's timeline, funnel (docs/images). No modal dialog may open."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from sqlalchemy import text  # noqa: E402

from kodomo_desktop.core.casework import service as C  # noqa: E402
from kodomo_desktop.core.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("no_modals")]
from conftest import (
    DEMO_PW,  # noqa: E402
    IMAGES,  # noqa: E402  build/screenshots; copied to docs/images by tools/update-screenshots.sh
    PNG_QUICK,
)

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_town):

    path = tmp_path_factory.mktemp("casework_gui") / "demo.db"
    demo_town(path, residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    return path


@pytest.fixture
def db_path(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    return tmp_path / "d.db"


def _show(qtbot, w, size=(1500, 900)):
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w


def _click(qtbot, button):
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.LeftButton)


def _snap(qtbot, w, name: str):
    qtbot.wait(60)  # let pending layout requests run before the widget is painted
    assert w.grab().save(str(IMAGES / name), "PNG", PNG_QUICK)


def _actions(ws) -> list[tuple[str, str | None, dict]]:
    with ws.engine.connect() as c:
        return [
            (a, p, json.loads(d) if d else {})
            for a, p, d in c.execute(text("SELECT action, person_id, detail FROM access_log ORDER BY seq"))
        ]


def test_full_casework_cycle_in_the_gui(app, qtbot, db_path, tmp_path):
    from kodomo_desktop.gui.pages.casework_page import CaseworkPage
    from kodomo_desktop.gui.pages.child_view import ChildView
    from kodomo_desktop.gui.pages.dashboard_page import DashboardPage

    IMAGES.mkdir(parents=True, exist_ok=True)
    ws = Workspace.open(db_path, PW)
    page = _show(qtbot, CaseworkPage(ws, None))
    rt = page.rounds

    # --- a round from the latest score; the name is required -------------------------------------------------------
    assert rt.model.rowCount() == 0
    _click(qtbot, rt.create_btn)
    assert not rt.notice.ok and "ラウンド名" in rt.notice.text()
    rt.new_name.setText("令和8年度 夏休み明け")
    _click(qtbot, rt.create_btn)
    assert rt.notice.ok, rt.notice.text()
    rid = rt.round_id()
    n_cands = rt.model.rowCount()
    assert n_cands >= 10
    assert "重みセット 第1版" in rt.round_info.text()
    assert [l["key"] for l in rt.labels] == ["a", "b", "c", "d"]
    assert rt.label.count() == 4 and rt.label.itemText(0) == "a. 受理相当"

    # --- an empty reason is refused on the notice label; nothing is stored -------------------------------------------
    rt.select_rows([0])
    rt.reason.setPlainText("   ")
    _click(qtbot, rt.save_btn)
    assert not rt.notice.ok and "理由は必須" in rt.notice.text() and rt.notice.isVisible()
    assert all(c["classification"] is None for c in C.round_candidates(ws, rid))

    # --- ten classifications with reasons ---------------------------------------------------------------------------
    reasons = [
        "欠席が増えている。学校での様子を確認する",
        "乳幼児健診が未受診。保健師が状況を確認する",
        "非課税世帯で就学援助あり。生活状況を確認する",
        "保健室来室が多い。担任と情報共有する",
        "きょうだいにも記録あり。世帯として検討する",
    ]
    for i in range(10):
        rt.select_rows([i])
        rt.label.setCurrentIndex([0, 1, 1, 2, 1, 3, 0, 1, 2, 1][i])
        rt.reason.setPlainText(reasons[i % len(reasons)])
        _click(qtbot, rt.save_btn)
        assert rt.notice.ok, rt.notice.text()
    cands = C.round_candidates(ws, rid)
    done = [c for c in cands if c["classification"]]
    assert len(done) == 10 and all(c["reason"] and c["decided_by"] and c["decided_at"] for c in done)
    assert rt.model.rows[0]["classification"] == "a. 受理相当" and rt.model.rows[0]["reason"]
    rt.select_rows([0])
    assert rt.label.currentData() == "a" and rt.reason.toPlainText() == reasons[0]
    _snap(qtbot, page, "casework_rounds.png")

    # a round cannot close while candidates are unclassified (notice, not a box)
    if n_cands > 10:
        _click(qtbot, rt.close_btn)
        assert not rt.notice.ok and "未分類" in rt.notice.text()

    # --- a conference of five households across at least two schools ---------------------------------------------------
    page.tabs.setCurrentWidget(page.conferences)
    ct = page.conferences
    assert ct.new_box.isVisible()  # no conference yet: the form is open
    _click(qtbot, ct.create_btn)  # nothing proposed yet
    assert not ct.notice.ok
    ct.kind.setCurrentText("ケース会議")
    ct.title_edit.setText("9月 ケース会議")
    ct.place.setText("役場 2階 会議室")
    ct.batch_size.setValue(5)
    qtbot.mouseClick(
        [b for b in ct.findChildren(type(ct.create_btn)) if b.text().startswith("学校・園に分散")][0], Qt.LeftButton
    )
    proposed = ct.proposed()
    assert len(proposed) == 5
    _click(qtbot, ct.create_btn)
    assert ct.notice.ok, ct.notice.text()
    cid = ct.conference_id()
    d = C.conference_detail(ws, cid)
    assert [i["person_id"] for i in d["items"]] == proposed
    assert len({i["household_id"] for i in d["items"]}) == 5
    assert len({i["school"] or "-" for i in d["items"]}) >= 2
    assert d["round_id"] == rid and d["kind"] == "ケース会議"
    assert {a["organisation"] for a in d["attendees"]} >= {"こども家庭センター", "保健センター"}
    assert "5 世帯" in ct.head.text() and not ct.new_box.isVisible()

    # agenda order
    ct.view.selectRow(4)
    qtbot.mouseClick([b for b in ct.findChildren(type(ct.create_btn)) if b.text() == "▲ 上へ"][0], Qt.LeftButton)
    order = [i["person_id"] for i in C.conference_detail(ws, cid)["items"]]
    assert order[3] == proposed[4] and order[4] == proposed[3]

    # minutes: 「要」 needs a direction — refused on the notice label
    ct.view.selectRow(0)
    ct.need.setCurrentText("要")
    ct.direction.setCurrentIndex(0)
    _click(qtbot, ct.save_btn)
    assert not ct.notice.ok and "方向性" in ct.notice.text()
    plans = [
        ("要", "B", "子ども食堂", "子ども食堂：週1回の食事と居場所\n学校：登校の見守り", "週1回、子ども食堂につなぐ"),
        (
            "要",
            "A",
            "スクールソーシャルワーカー",
            "学校：担任と養護教諭で様子を見る\nスクールソーシャルワーカー：家庭との調整",
            "校内ケース会議で支援計画を作る",
        ),
        ("要", "C", "児童相談所", "児童相談所：主担当\n保健センター：保健師の家庭訪問", "専門機関につなぐ"),
        ("継続検討", None, "", "", "次回の実務者会議で再検討"),
        ("不要", None, "", "", ""),
    ]
    minuted = []
    for row, (need, direction, lead, roles, actions) in enumerate(plans):
        ct.view.selectRow(row)
        ct.need.setCurrentText(need)
        ct.direction.setCurrentIndex(ct.direction.findData(direction) if direction else 0)
        if lead:
            assert ct.lead.findText(lead) >= 0  # chosen from the 接続先リスト
        ct.lead.setCurrentText(lead)
        ct.roles.setPlainText(roles)
        ct.actions.setPlainText(actions)
        ct.minutes.setPlainText("欠席状況と家庭の状況を共有した。")
        _click(qtbot, ct.save_btn)
        assert ct.notice.ok, ct.notice.text()
        minuted.append(ct.model.rows[row]["person_id"])
    items = {i["person_id"]: i for i in C.conference_detail(ws, cid)["items"]}
    first = items[minuted[0]]
    assert first["support_needed"] == "要" and first["direction"] == "B" and first["lead_organisation"] == "子ども食堂"
    assert first["roles"][0] == {"organisation": "子ども食堂", "role": "週1回の食事と居場所"}
    assert all(items[p]["support_needed"] for p in minuted)
    ct.view.selectRow(0)
    _snap(qtbot, page, "casework_conference_minutes.png")

    # --- progress records; the due list ----------------------------------------------------------------------------
    page.tabs.setCurrentWidget(page.progress)
    pt = page.progress
    child = minuted[0]
    assert any(r["person_id"] == child for r in pt.cases.rows)  # support started by the 「要」 minutes
    pt.set_person(child)
    pt.kind.setCurrentText("家庭訪問")
    pt.what.setPlainText("")
    _click(qtbot, pt.add_btn)
    assert not pt.notice.ok and "内容" in pt.notice.text()
    soon = dt.date.today() + dt.timedelta(days=3)
    for kind, who, what, outcome in (
        ("家庭訪問", "保健師（保健センター）", "母と面談。朝食をとれていない日がある。", "子ども食堂の利用を提案"),
        ("関係機関連絡", "コーディネーター", "子ども食堂に受け入れを依頼", "来週から利用開始"),
        ("電話", "担任", "登校状況を確認", "週3日登校"),
    ):
        pt.kind.setCurrentText(kind)
        pt.who.setText(who)
        pt.what.setPlainText(what)
        pt.outcome.setText(outcome)
        pt.next_action.setDate(soon)
        _click(qtbot, pt.add_btn)
        assert pt.notice.ok, pt.notice.text()
    pt.set_person(minuted[1])
    pt.kind.setCurrentText("面談")
    pt.what.setPlainText("本人と面談。学校の相談室を利用する。")
    _click(qtbot, pt.add_btn)
    assert pt.notice.ok
    due = C.due_list(ws)
    assert any(x["person_id"] == child and x["due_on"] == soon for x in due)
    assert any(r["person_id"] == child for r in pt.model.rows)
    # 終結 needs a reason and says whether the child is still flagged
    pt.set_person(minuted[2])
    pt.close_reason.setText("")
    _click(qtbot, pt.close_btn)
    assert not pt.notice.ok and "理由" in pt.notice.text()
    pt.close_reason.setText("児童相談所の支援に移行")
    _click(qtbot, pt.close_btn)
    assert "終結しました" in pt.notice.text() and "抽出対象" in pt.notice.text()  # still flagged: a warning

    # --- the funnel on the page and its Excel export (through gui.ops) ------------------------------------------------
    page.tabs.setCurrentWidget(page.funnel)
    ft = page.funnel
    counts = {s["key"]: s["count"] for s in ft.last["stages"]}
    assert counts["classified"] == 10 and counts["discussed"] == 5 and counts["supported"] == 3
    assert counts["in_scope"] > counts["flagged"] >= counts["classified"]
    _snap(qtbot, page, "casework_funnel.png")
    xlsx = ft.export(str(tmp_path / "funnel.xlsx"))
    assert xlsx and Path(xlsx).stat().st_size > 0
    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet["A4"].value == "全体" and sheet["D4"].value == 10

    # --- the child's page: timeline with every kind of event, score chart, a note ----------------------------------
    view = _show(qtbot, ChildView(ws), (1400, 950))
    assert view.show_person(child)
    kinds = {view.karte.topLevelItem(i).data(0, Qt.UserRole) for i in range(view.karte.topLevelItemCount())}
    assert {"record", "score", "classification", "conference", "progress", "case"} <= kinds
    assert view.score_chart.isVisible() and view.score_chart.points
    assert view.add_note("") is False and view.note_notice.text()
    assert view.add_note("祖母が送迎を手伝っている。")
    assert any(e["kind"] == "note" for e in view.karte_events)
    assert "進行中" in view.case_status.text()
    view.karte_records.setChecked(False)
    view.tl_tabs.setCurrentIndex(1)
    _snap(qtbot, view, "child_timeline.png")

    # --- the dashboard: due list and funnel with chart -------------------------------------------------------------
    dash = _show(qtbot, DashboardPage(ws, None), (1500, 950))
    assert dash.due_view.isVisible() and any(r["person_id"] == child for r in dash.due.rows)
    assert dash.funnel_box.isVisible() and dash.funnel_round.currentData() == rid
    assert {s["key"]: s["count"] for s in dash.funnel["stages"]}["discussed"] == 5
    assert dash.funnel_model.rowCount() >= 2
    _snap(qtbot, dash, "funnel.png")
    out = dash.export_funnel(str(tmp_path / "dash_funnel.xlsx"))
    assert out and Path(out).exists() and dash.funnel_notice.ok

    # --- the access log holds every decision (ids and counts, no names) ---------------------------------------------
    log = _actions(ws)
    acts = [a for a, _, _ in log]
    assert acts.count("round_created") == 1 and acts.count("classified") == 10
    assert acts.count("conference_created") == 1 and acts.count("conference_item_added") == 5
    assert acts.count("minutes_recorded") == 5 and acts.count("progress_recorded") == 4
    assert acts.count("case_closed") == 1 and acts.count("note_added") == 1
    assert sum(1 for a, _, d in log if a == "export" and d.get("what") == "funnel") == 2
    classified_ids = {p for a, p, _ in log if a == "classified"}
    assert classified_ids == {c["person_id"] for c in done}
    names = {c["name"] for c in cands if c["name"]}
    with ws.engine.connect() as c:
        details = " ".join(d or "" for (d,) in c.execute(text("SELECT detail FROM access_log")))
    assert not any(n in details for n in names)
    page.close()
    view.close()
    dash.close()
    ws.close()

    # --- close and reopen: everything is still there -------------------------------------------------------------------
    ws2 = Workspace.open(db_path, PW)
    try:
        assert ws2.verify()["ok"]
        again = C.round_candidates(ws2, rid)
        assert sum(1 for c in again if c["classification"]) == 10
        assert {c["person_id"]: c["reason"] for c in again if c["classification"]} == {
            c["person_id"]: c["reason"] for c in done
        }
        d2 = C.conference_detail(ws2, cid)
        assert len(d2["items"]) == 5 and all(i["support_needed"] for i in d2["items"])
        tl = C.timeline(ws2, child)
        assert sum(1 for e in tl if e["kind"] == "progress") == 3 and any(e["kind"] == "note" for e in tl)
        assert any(x["person_id"] == child for x in C.due_list(ws2))
        f2 = {s["key"]: s["count"] for s in C.funnel(ws2, rid)["stages"]}
        assert f2 == counts
        page2 = _show(qtbot, CaseworkPage(ws2, None))
        assert page2.rounds.round_id() == rid and "10/" in page2.rounds.rounds.currentText()
        assert sum(1 for r in page2.rounds.model.rows if r["classification"]) == 10
        page2.tabs.setCurrentWidget(page2.conferences)
        assert page2.conferences.model.rowCount() == 5
        # a later round marks the children decided in this one
        page2.tabs.setCurrentWidget(page2.rounds)
        page2.rounds.new_name.setText("令和8年度 年度末")
        _click(qtbot, page2.rounds.create_btn)
        assert page2.rounds.round_id() != rid
        marked = {r["person_id"]: r["earlier_text"] for r in page2.rounds.model.rows if r["earlier_text"]}
        assert set(marked) == {c["person_id"] for c in done} and all(t.startswith("前回 ") for t in marked.values())
        page2.close()
    finally:
        ws2.close()
