"""名寄せ and scoring started from the GUI run off the GUI thread (issue 21): at a town of 3,000 residents the page
returns at once, the window keeps processing events (a timer keeps ticking, the progress dialog shows the steps),
and キャンセル stops the work where it is safe — nothing changes in the database. No modal dialog opens."""

from __future__ import annotations

import time

import pytest
from conftest import DEMO_PW
from PySide6.QtCore import QObject
from sqlalchemy import text

from kodomo_desktop.core.errors import Cancelled
from kodomo_desktop.core.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def dialog_at_once(monkeypatch):
    """The progress dialog from the first moment: the 3,000 town now scores in well under a second, less than the
    300 ms a dialog waits before it appears plus the steps it would show."""
    from kodomo_desktop.gui import ops

    monkeypatch.setattr(ops, "SHOW_DELAY_MS", 0)


@pytest.fixture
def ws(demo_town, tmp_path):
    demo_town(tmp_path / "t.db", residents=3000, seed=2, score=True)
    w = Workspace.open(tmp_path / "t.db", DEMO_PW)
    yield w
    w.close()


class _Reports(QObject):
    """Receives the progress reports on the GUI thread (queued, like the dialog's slot), after the dialog has them."""

    def __init__(self, op, labels: set):
        super().__init__()
        self.op, self.labels = op, labels

    def seen(self, *_):
        if self.op.is_running:
            self.labels.add(self.op.dialog.labelText())


class Ticks:
    """A 20 ms timer on the GUI thread: how often it fired, the longest gap, the labels it saw on the shown progress
    dialog. ``labels`` also gets the dialog's label each time a progress report reaches the GUI thread: on a loaded
    machine the worker holds the GIL in long C calls and the timer fired only 3 times in a 1.8 s run, seeing only the
    dialog's first label, while every report was still delivered to the dialog (queued signals are not dropped)."""

    def __init__(self, op=None):
        from PySide6.QtCore import QTimer

        self.n, self.during, self.gap, self.labels, self.op = 0, 0, 0.0, set(), op
        self.shown = False  # the progress dialog was on screen while the work ran
        if op is not None:  # a GUI-thread object's slot, connected after the dialog's own: sees the label set
            self._reports = _Reports(op, self.labels)
            op._bridge.progressed.connect(self._reports.seen)
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self):
        now = time.perf_counter()
        self.n += 1
        if self.op is not None and self.op.is_running:
            self.during += 1  # the event loop ran while the work did: impossible if it ran on this thread
        self.gap = max(self.gap, now - self._last)
        self._last = now
        if self.op is not None and self.op.is_running and self.op.dialog.isVisible():
            self.shown = True
            self.labels.add(self.op.dialog.labelText())

    def stop(self):
        self.timer.stop()


def _links(ws):
    with ws.engine.connect() as c:
        return c.execute(text("SELECT record_id, person_id, status FROM link ORDER BY record_id")).all()


def _wait(qtbot, op, timeout=300_000):
    qtbot.waitUntil(lambda: not op.is_running, timeout=timeout)


def test_linkage_from_the_page_runs_off_the_gui_thread_and_cancels(app, qtbot, ws, no_modals):
    from kodomo_desktop.gui.pages.linkage_page import LinkagePage

    page = LinkagePage(ws)
    qtbot.addWidget(page)
    page.show()
    with ws.engine.connect() as c:
        persons = c.execute(text("SELECT count(*) FROM person")).scalar()
    assert persons > 2500
    # a reviewer's decision since the last run: the engine runs again (with nothing new it would not run at all)
    from kodomo_desktop.core.linkage import service as L

    item = L.review_queue(ws, limit=1)[0]
    L.decide(ws, item["record_id"], "not_in_registry")
    t0 = time.perf_counter()
    op = page.run()
    started = time.perf_counter() - t0
    assert op.is_running and not page.run_btn.isEnabled() and started < 0.5  # returned at once
    ticks = Ticks(op)
    _wait(qtbot, op)
    took = time.perf_counter() - t0
    ticks.stop()
    print(f"\n名寄せ {persons} 人: {took:.1f} s, GUI timer fired {ticks.n} times, longest gap {ticks.gap:.2f} s")
    assert op.error is None and page.run_btn.isEnabled()
    assert ticks.n >= 10 and ticks.gap < took  # the event loop ran throughout, not only at the end
    assert ticks.shown and any("名寄せの候補を比較しています" in x for x in ticks.labels), (
        ticks.labels
    )  # progress shown
    assert "名寄せを実行しました" in page.notice.text()
    # キャンセル: the work stops at its next step and the links are as they were
    item = L.review_queue(ws, limit=1)[0]
    L.decide(ws, item["record_id"], "not_in_registry")
    before = _links(ws)
    op = page.run()
    op._on_cancel()  # what the dialog's キャンセル button does
    _wait(qtbot, op)
    assert isinstance(op.error, Cancelled) and _links(ws) == before
    assert "中止しました" in page.notice.text() and page.run_btn.isEnabled()


def test_scoring_from_the_page_runs_off_the_gui_thread_and_cancels(app, qtbot, ws, no_modals):
    from kodomo_desktop.gui.pages.scoring_page import ScoringPage

    def runs():
        with ws.engine.connect() as c:
            return c.execute(text("SELECT count(*), max(id) FROM score_run")).one()

    page = ScoringPage(ws)
    qtbot.addWidget(page)
    page.resize(1360, 860)
    page.show()
    n0, last = runs()
    t0 = time.perf_counter()
    op = page.run_scoring()
    assert op.is_running and not page.run_btn.isEnabled() and time.perf_counter() - t0 < 0.5
    ticks = Ticks(op)
    _wait(qtbot, op)
    took = time.perf_counter() - t0
    ticks.stop()
    print(f"\nスコア算出: {took:.1f} s, GUI timer fired {ticks.n} times, longest gap {ticks.gap:.2f} s")
    assert op.error is None and runs() == (n0 + 1, op.result) and op.result > (last or 0)
    # the event loop ran throughout, not only at the end: the 20 ms timer fired while the work ran (work on the GUI
    # thread lets it fire only after), and no gap was as long as the run. (A floor on the number of ticks per second,
    # asked before, failed on a loaded machine, where the scoring thread holds the GIL for up to 0.7 s at a time.)
    assert ticks.during >= 1 and ticks.gap < took
    assert ticks.shown and any("採点しています" in x or "理由を記録しています" in x for x in ticks.labels), ticks.labels
    assert page.model.matches > 0 and page.model.rows[0]["run_id"] == op.result  # the list shows the new run
    # キャンセル: no run is kept
    kept = runs()
    op = page.run_scoring()
    op._on_cancel()
    _wait(qtbot, op)
    assert isinstance(op.error, Cancelled) and op.result is None and runs() == kept
    assert "中止しました" in page.run_info.text() and page.run_btn.isEnabled()
