"""スコア: the prioritised list (filters, colour bands, reasons in a side panel, what-if) and the weights editor
(points per difficulty type, windows, thresholds per age band, rules, preview per school and age band, flag rates
by group, adoption with a reason, restoring an earlier version).

The caveat 「スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。」 is on both tabs. Everything
goes through ``core.scoring.service`` (permissions and the access log live there).

One module per tab (``scores``, ``weights``, ``evaluation``), what they share in ``common``."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ....core.errors import Cancelled, KodomoError
from ....core.scoring import listing as LS
from ....core.scoring import service as S
from ... import palette as pal
from ...i18n import tr
from ...widgets import FlowLayout
from .common import ALL, CAVEAT, NO_SCHOOL, SEARCH_DEBOUNCE_MS, caveat_label, guard_off_text
from .evaluation import EvaluationPanel
from .scores import ScoreListModel, WhatIfPanel, reasons_html
from .weights import WeightsEditor

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace

__all__ = [
    "CAVEAT",
    "EvaluationPanel",
    "ScoreListModel",
    "ScoringPage",
    "WeightsEditor",
    "WhatIfPanel",
    "caveat_label",
    "guard_off_text",
    "reasons_html",
]


# --- the page -----------------------------------------------------------------------------------------------------------------
class ScoringPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        ws.require("score.read", what="scoring page")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs)
        # list tab
        lst = QWidget()
        ll = QVBoxLayout(lst)
        top = QHBoxLayout()
        title = QLabel(tr("スコア（支援を検討する候補）"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        top.addWidget(title)
        self.run_info = QLabel()
        self.run_info.setWordWrap(True)  # a long run description wraps instead of widening the page
        self.run_info.setStyleSheet(f"color:{pal.MUTED};")
        top.addWidget(self.run_info, 1)
        self.run_btn = QPushButton(tr("スコアを算出"))
        self.run_btn.setEnabled(ws.can("score.run"))
        self.run_btn.clicked.connect(self.run_scoring)
        top.addWidget(self.run_btn)
        ll.addLayout(top)
        ll.addWidget(caveat_label())
        filters = FlowLayout()  # one row in Japanese; the longer English labels wrap instead of widening the window
        self.f_school, self.f_age, self.f_type, self.f_band = QComboBox(), QComboBox(), QComboBox(), QComboBox()
        for label, combo in (
            (tr("学校・園"), self.f_school),
            (tr("年齢区分"), self.f_age),
            (tr("種別"), self.f_type),
            (tr("帯"), self.f_band),
        ):
            filters.addWidget(QLabel(label))
            combo.setMinimumWidth(110)
            # long school names must not widen the page past a 1366 px screen
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
            filters.addWidget(combo)
            combo.currentIndexChanged.connect(self.apply_filters)
        self.f_new, self.f_yt, self.f_unrev, self.f_flag = (
            QCheckBox(tr("新規")),
            QCheckBox(tr("要対協")),
            QCheckBox(tr("未確認")),
            QCheckBox(tr("抽出のみ")),
        )
        for cb in (self.f_new, self.f_yt, self.f_unrev, self.f_flag):
            filters.addWidget(cb)
            cb.toggled.connect(self.apply_filters)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("氏名・カナで探す"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(180)
        filters.addWidget(self.search)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda *_: self._debounce.start())
        self.search.returnPressed.connect(self.apply_filters)
        self.count = QLabel()
        filters.addWidget(self.count)
        ll.addLayout(filters)
        split = QSplitter(Qt.Horizontal)
        self.model = ScoreListModel(ws, self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)  # in SQL, over the whole run (順位 is the place in the run's list)
        self.view.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        fm = self.view.horizontalHeader().fontMetrics()
        for i, w in enumerate((44, 110, 40, 70, 120, 44, 170, 130, 60, 84, 130, 120, 90)):
            head = str(self.model.headerData(i, Qt.Horizontal) or "")  # never narrower than its header
            self.view.setColumnWidth(i, max(w, fm.horizontalAdvance(head) + 12))
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, prev: self.show_reasons(cur.row()))
        split.addWidget(self.view)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        self.reasons = QTextBrowser()
        self.reasons.setOpenExternalLinks(False)
        sl.addWidget(self.reasons, 3)
        self.whatif = WhatIfPanel(ws)
        sl.addWidget(self.whatif, 2)
        open_btn = QPushButton(tr("こどものページを開く"))
        open_btn.clicked.connect(self.open_child)
        open_btn.setEnabled(main_window is not None and hasattr(main_window, "open_person"))
        sl.addWidget(open_btn)
        split.addWidget(side)
        split.setSizes([820, 460])
        ll.addWidget(split, 1)
        self.tabs.addTab(lst, tr("一覧"))
        self.weights = WeightsEditor(ws)
        self.tabs.addTab(self.weights, tr("重み・しきい値"))
        self.weights.on_rescore = self._rescore_after_adopt
        self.evaluation = EvaluationPanel(ws, self.weights)
        self.tabs.addTab(self.evaluation, tr("振り返り（評価）"))
        self.evaluation.load_btn.clicked.connect(lambda: self.tabs.setCurrentIndex(1))
        QShortcut(QKeySequence(Qt.Key_F5), self, activated=self.reload)
        self.current: dict | None = None
        self.reload()

    # -- data --------------------------------------------------------------------------------------------------------
    def reload(self):
        if self.ws.locked:
            return
        run = S.latest_run(self.ws)
        self._run_id = run["run_id"] if run else None
        self.total = LS.score_count(self.ws, self._run_id, log=False) if run else 0
        if run:
            sm = run["summary"]
            self.run_info.setText(
                tr(
                    "基準日 {d}・重み 第{v}版・{n} 人中 抽出 {f} 人（新規 {x} 人）",
                    d=run["as_of"],
                    v=sm.get("weight_set_version", "?"),
                    n=sm.get("children", self.total),
                    f=sm.get("flagged", 0),
                    x=sm.get("newly_flagged", 0),
                )
                + guard_off_text(sm.get("proxy_guard_off"))
            )
        else:
            self.run_info.setText(tr("まだスコアを算出していません。"))
        schools = LS.score_schools(self.ws, self._run_id) if run else []
        for combo, values in (
            (self.f_school, [(v or NO_SCHOOL, v) for v in schools]),
            (self.f_age, [(b["label"], b["label"]) for b in S.catalogue()["age_bands"]]),
            (self.f_type, [(t, t) for t in S.catalogue()["difficulty_types"]]),
            (self.f_band, [(b["label"], b["label"]) for b in S.active_weights(self.ws)["data"]["bands"]]),
        ):
            keep = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(tr(ALL), None)
            for label, v in values:
                combo.addItem(tr(label), v)  # a school's name or a town's own type or band stays as it is
            i = combo.findText(keep)
            combo.setCurrentIndex(i if i >= 0 else 0)
            combo.blockSignals(False)
        self.apply_filters()

    def filters(self) -> dict:
        """The filters on screen as ``scoring.listing`` takes them (``school=""``: no school or nursery)."""
        school, age, type_, band = (c.currentData() for c in (self.f_school, self.f_age, self.f_type, self.f_band))
        new, yt, unrev, flag = (c.isChecked() for c in (self.f_new, self.f_yt, self.f_unrev, self.f_flag))
        return dict(
            school=school,
            age_band=age,
            type_=type_,
            band=band,
            new=True if new else None,
            yotaikyo=True if yt else None,
            unreviewed=True if unrev else None,
            flagged_only=flag,
            query=self.search.text().strip() or None,
        )

    def apply_filters(self) -> int:
        """Count and fetch the first page in SQL; the view is logged once (the count, never the search text)."""
        if self.ws.locked:
            return self.model.matches
        self._debounce.stop()
        if self._run_id is None:
            self.model.set_rows([])
            n = 0
        else:
            self.model.set_source(
                lambda **f: LS.score_count(self.ws, self._run_id, **f),
                lambda limit, offset, order, desc, **f: LS.score_page(
                    self.ws, limit, offset, order, desc, run_id=self._run_id, **f
                ),
            )
            n = self.model.set_filters(**self.filters())
        self.count.setText(tr("{n} 人 / {total} 人", n=n, total=self.total))
        if n:
            self.view.selectRow(0)
        else:
            self.show_reasons(-1)
        return n

    def show_reasons(self, row: int):
        r = self.model.row_at(row)
        if r is None:
            self.current = None
            self.reasons.setHtml(f"<p>{html.escape(tr('一覧からこどもを選ぶと、理由がここに表示されます。'))}</p>")
            self.whatif.set_child(None, None)
            return
        try:
            ex = S.child_explanation(self.ws, r["person_id"], run_id=r["run_id"])
        except KodomoError as e:
            self.reasons.setPlainText(e.message_ja)
            return
        self.current = ex
        self.reasons.setHtml(reasons_html(ex))
        self.whatif.set_child(r["person_id"], ex["details"])

    def run_scoring(self):
        from ...ops import run_with_progress

        self.run_btn.setEnabled(False)  # one run at a time; the window stays usable meanwhile
        self.op = run_with_progress(
            self,
            tr("スコア算出"),
            lambda progress, cancel: S.run_scoring(self.ws, progress=progress, cancel=cancel),
            on_done=lambda _: self.reload(),
            on_error=self._scoring_failed,
        )
        self.op.finished.connect(lambda: self.run_btn.setEnabled(self.ws.can("score.run")))
        return self.op

    def _scoring_failed(self, e):
        from ...ops import show_error

        if isinstance(e, Cancelled):
            self.run_info.setText(tr(e.message_ja))
            return
        show_error(self, tr("スコア算出"), e)

    def _rescore_after_adopt(self):
        self.tabs.setCurrentIndex(0)
        return self.run_scoring()

    def open_child(self):
        if self.current and self.main is not None and hasattr(self.main, "open_person"):
            self.main.open_person(self.current["person_id"])

    def page_shown(self):
        run = S.latest_run(self.ws) if not self.ws.locked else None
        if run and run["run_id"] != getattr(self, "_run_id", None):  # a run made elsewhere (demo, CLI)
            QTimer.singleShot(0, self.reload)
