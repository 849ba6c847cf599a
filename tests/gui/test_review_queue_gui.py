"""The 名寄せ review queue with pytest-qt (offscreen) on the demo town (issue #4): work through the queue with the
keyboard — A accepts, R rejects, S skips, Ctrl+Z undoes — check the core state (review_queue, export_links, the
links' decided_by) and the access log, check the keys do nothing while the user types elsewhere, and save
screenshots of the queue and of the comparison view with the waterfall. No modal dialog may open."""

from __future__ import annotations

import csv
import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from kodomo_desktop.core.linkage import service as L  # noqa: E402
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

    path = tmp_path_factory.mktemp("review_gui") / "demo.db"
    summary = demo_town(path, residents=600, seed=1)  # the run's most used town (cached)
    assert summary["link"]["review"] >= 3, "the demo town leaves namesakes and typos for review"
    return path


@pytest.fixture
def ws(demo_db, tmp_path):
    for suffix in ("", ".keys"):
        shutil.copy(str(demo_db) + suffix, str(tmp_path / "d.db") + suffix)
    w = Workspace.open(tmp_path / "d.db", PW)
    yield w
    w.close()


def _page(qtbot, ws, parent=None):
    from kodomo_desktop.gui.pages.linkage_page import LinkagePage

    page = LinkagePage(ws, None)
    if parent is None:
        qtbot.addWidget(page)
        page.resize(1360, 900)
        page.show()
        qtbot.waitExposed(page)
    return page


def _statuses(ws, tmp_path) -> dict[tuple[str, int], dict]:
    out = tmp_path / "links.csv"
    L.export_links(ws, out)
    with open(out, encoding="utf-8") as fh:
        return {(r["source_type"], int(r["row_number"])): r for r in csv.DictReader(fh) if r["status"] != "rejected"}


def _log(ws):
    from sqlalchemy import text

    with ws.engine.connect() as c:
        return [(r[0], r[1] or "") for r in c.execute(text("SELECT action, detail FROM access_log ORDER BY seq"))]


def _queued(ws) -> set[int]:
    return {q["record_id"] for q in L.review_queue(ws)}


def test_keyboard_accept_reject_skip_undo_and_screenshots(app, qtbot, ws, tmp_path):
    from PySide6.QtTest import QTest

    page = _page(qtbot, ws)
    n = len(page.queue)
    assert n >= 3 and page.list.count() == n
    assert page.queue == sorted(page.queue, key=lambda q: -(q["score"] or -1e9)), "ranked by match weight"
    assert f"確認待ち {n} 件" in page.queue_label.text()

    # the comparison view of the first record: fields side by side, levels, the waterfall ending at the weight
    first = page.current()
    cand = page.candidate()
    assert cand and cand["person_id"]
    assert page.compare.item(0, 0).text() == "氏名" and page.compare.item(0, 1).text() == (first["name"] or "")
    parts = cand["explanation"]
    assert page.levels.rowCount() == len(parts) > 3
    levels = [page.levels.item(r, 1).text() for r in range(page.levels.rowCount())]
    assert levels == [p["level_ja"] for p in parts] and any("一致" in x for x in levels)
    assert page.waterfall.parts == parts
    assert page.waterfall.total() == pytest.approx(float(cand["match_weight"]), abs=0.05)
    IMAGES.mkdir(parents=True, exist_ok=True)
    assert page.grab().save(str(IMAGES / "review_queue.png"), "PNG", PNG_QUICK)
    assert page.comparison.grab().save(str(IMAGES / "linkage_compare.png"), "PNG", PNG_QUICK)

    page.list.setFocus()

    # A: accept the first record with its top candidate
    QTest.keyClick(page.list, Qt.Key_A)
    assert first["record_id"] not in _queued(ws)
    assert page.list.count() == n - 1
    st = _statuses(ws, tmp_path)
    row = st[(first["source_type"], first["row_number"])]
    assert row["status"] == "confirmed" and row["person_id"] == cand["person_id"]
    # the decision list shows who decided
    assert page.decision_list.rowCount() == 1
    assert page.decision_list.item(0, 1).text() == "同一人物"
    assert page.decision_list.item(0, 3).text() == ws.user.name and page.decision_list.item(0, 4).text() == "有効"

    # S: skip moves on without deciding
    before = page.list.currentRow()
    QTest.keyClick(page.list, Qt.Key_S)
    assert page.list.currentRow() == (before + 1) % page.list.count()
    assert len(_queued(ws)) == n - 1

    # R: reject the current record's candidate
    second = page.current()
    assert second["record_id"] != first["record_id"]
    QTest.keyClick(page.list, Qt.Key_R)
    assert second["record_id"] not in _queued(ws)
    assert _statuses(ws, tmp_path)[(second["source_type"], second["row_number"])]["status"] == "unlinked"
    assert page.list.count() == n - 2

    # Ctrl+Z: undo the latest decision (the rejection): the record is back in the queue and selected
    QTest.keyClick(page.list, Qt.Key_Z, Qt.ControlModifier)
    assert second["record_id"] in _queued(ws) and first["record_id"] not in _queued(ws)
    assert page.list.count() == n - 1 and page.current()["record_id"] == second["record_id"]
    assert _statuses(ws, tmp_path)[(second["source_type"], second["row_number"])]["status"] == "review"
    assert (
        page.decision_list.item(0, 4).text().startswith("取消") and ws.user.name in page.decision_list.item(0, 4).text()
    )
    assert page.decision_list.item(1, 4).text() == "有効"
    assert "取り消しました" in page.notice.text()

    # the access log holds both decisions and the undo (ids only, no names)
    log = _log(ws)
    decisions = [d for a, d in log if a == "link_decision"]
    assert len(decisions) == 2 and '"accept"' in decisions[0] and '"reject"' in decisions[1]
    assert [a for a, _ in log].count("link_undo") == 1
    assert (first["name"] or "@@").split("\u3000")[0] not in " ".join(d for _, d in log)

    # decisions stick across a re-run (through ops, off the GUI thread), and the confirmed link says who decided
    op = page.run()
    qtbot.waitUntil(lambda: not op.is_running, timeout=60000)
    assert "名寄せを実行しました" in page.notice.text()
    st = _statuses(ws, tmp_path)
    assert st[(first["source_type"], first["row_number"])]["status"] == "confirmed"
    # the undone rejection does not stick: the engine decides that record again (review, or auto once the
    # accepted record no longer competes for the same person)
    assert st[(second["source_type"], second["row_number"])]["status"] in ("review", "auto")
    from kodomo_desktop.core.storage.models import Link

    with ws.session() as s:
        assert s.get(Link, first["record_id"]).decided_by == ws.user.name

    # the screenshot of the comparison view with the waterfall, on the record now selected
    page.list.setCurrentRow(0)
    assert page.waterfall.parts
    assert page.comparison.grab().save(str(IMAGES / "linkage_compare.png"), "PNG", PNG_QUICK)


def test_keys_do_nothing_while_typing_elsewhere(app, qtbot, ws):
    """A / R / N / S belong to the review list and the comparison, not to the window: typing a name into a field
    elsewhere in the same window decides nothing."""
    from PySide6.QtGui import QShortcut
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    win = QWidget()
    qtbot.addWidget(win)
    lay = QVBoxLayout(win)
    field = QLineEdit()
    lay.addWidget(field)
    page = _page(qtbot, ws, parent=win)
    lay.addWidget(page)
    win.resize(1360, 900)
    win.show()
    qtbot.waitExposed(win)
    assert not [s for s in page.findChildren(QShortcut) if s.key().toString() in ("A", "R", "N", "S")]
    n = len(_queued(ws))
    field.setFocus()
    for key in (Qt.Key_A, Qt.Key_R, Qt.Key_N, Qt.Key_S):
        QTest.keyClick(field, key)
    assert field.text() == "arns"  # the letters went to the field
    QTest.keyClick(field, Qt.Key_Z, Qt.ControlModifier)  # the field's own undo, not the queue's
    assert len(_queued(ws)) == n and L.recent_decisions(ws) == []
    # and N on the comparison's candidate list does decide: not in the registry
    rec = page.current()
    QTest.keyClick(page.cands, Qt.Key_N)
    assert rec["record_id"] not in _queued(ws)
    d = L.recent_decisions(ws)[0]
    assert d["decision"] == "not_in_registry" and d["decided_by"] == ws.user.name and d["person_id"] is None
    # the undo button (nothing selected in the list of decisions) reverts it
    page.undo_btn.click()
    assert rec["record_id"] in _queued(ws)
    assert L.recent_decisions(ws)[0]["undone_by"] == ws.user.name
