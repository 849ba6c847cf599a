"""名寄せ page: run linkage, then work through the review queue with the keyboard.

Candidates ranked; the record and the candidate side by side with each field's agreement level and its
contribution to the match weight (a waterfall, as Splink draws it). Keys — only while the queue or the comparison
has focus, never while the user types elsewhere: A accept, R reject, N not in the registry, S skip, Ctrl+Z undo,
↑/↓ records, ←/→ candidates. Every decision is logged; the decision list shows who decided and can undo any of them.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import persons
from ...core.errors import Cancelled, KodomoError
from ...core.linkage import service as L
from ...core.vocab import SEX_LABELS, LinkStatus, source_label
from .. import palette as pal
from ..format import wide_kana
from ..i18n import label_of, tr
from ..models import PAGE_ROWS, LazyRowsModel
from ..widgets import LazyListView, Notice

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

SEARCH_DEBOUNCE_MS = 250


def _queue_text(q: dict) -> str:
    """A record of the queue in two lines: the name and birth date, then the source, row and match weight."""
    return f"{wide_kana(q['name']) or tr('（氏名なし）')}　{q['birth_date'] or ''}\n　" + tr(
        "{source} {row}行　重み {weight}",
        source=_source_label(q["source_type"]),
        row=q["row_number"],
        weight=f"{float(q['score'] or 0):.1f}",
    )


DECISION_JA = {"accept": "同一人物", "reject": "別人", "not_in_registry": "台帳にいない", "split": "切り離し"}


def _source_label(st: str | None) -> str:
    """The source's label in the current language."""
    return tr(source_label(st))


class Waterfall(QWidget):
    """Bars per field, as Splink draws them: each starts where the running total stands; green adds evidence,
    red takes it away, grey adds nothing (missing); the last bar is the match weight."""

    def __init__(self):
        super().__init__()
        self.parts: list[dict] = []
        self.probability = None
        self.setMinimumHeight(240)
        self.setFocusPolicy(Qt.ClickFocus)

    def set_parts(self, parts, probability=None):
        self.parts = list(parts or [])
        self.probability = probability
        self.update()

    def total(self) -> float:
        return sum(float(x.get("weight") or 0) for x in self.parts)

    def paintEvent(self, _):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        if not self.parts:
            p.drawText(10, 20, tr("（比較の内訳はありません：宛名番号などで決まった連結です）"))
            return
        fm = p.fontMetrics()
        ws = [float(x.get("weight") or 0) for x in self.parts]
        run, lo, hi = 0.0, 0.0, 0.0
        for w in ws:
            run += w
            lo, hi = min(lo, run), max(hi, run)
        span = (hi - lo) or 1.0
        labels = [f"{label_of(x, 'label', x.get('field', ''))}（{label_of(x, 'level')}）" for x in self.parts]
        left = min(max(fm.horizontalAdvance(t) for t in labels + [tr("合計（一致の重み）")]) + 12, self.width() // 2)
        right = 64
        width = max(40, self.width() - left - right - 8)
        x_of = lambda v: left + int((v - lo) / span * width)  # noqa: E731
        n = len(ws) + 1
        h = max(fm.height() + 2, min(26, (self.height() - 24) // n))
        p.setPen(QPen(QColor(pal.GUIDE), 1, Qt.DashLine))
        p.drawLine(x_of(0), 2, x_of(0), 4 + n * h)
        p.setPen(QColor("black"))
        run = 0.0
        for i, (label, w) in enumerate(zip(labels, ws)):
            y = 4 + i * h
            a, b = x_of(run), x_of(run + w)
            col = pal.POSITIVE if w > 0 else (pal.DANGER if w < 0 else pal.LINE)
            p.fillRect(min(a, b), y + 3, max(2, abs(b - a)), h - 6, QColor(col))
            p.drawText(4, y + h - 6, p.fontMetrics().elidedText(label, Qt.ElideRight, left - 8))
            p.drawText(self.width() - right, y + h - 6, f"{w:+.2f}")
            run += w
        y = 4 + len(ws) * h
        a, b = x_of(0), x_of(run)
        p.fillRect(min(a, b), y + 3, max(2, abs(b - a)), h - 6, QColor(pal.BAR_BLUE))
        p.drawText(4, y + h - 6, tr("合計（一致の重み）"))
        p.drawText(self.width() - right, y + h - 6, f"{run:.2f}")
        if self.probability is not None:
            p.drawText(
                4, y + 2 * h - 4, tr("同一人物である確率（推定）: {p}%", p=f"{float(self.probability) * 100:.1f}")
            )


FIELDS = [
    ("name", "氏名"),
    ("name_kana", "カナ"),
    ("birth_date", "生年月日"),
    ("sex", "性別"),
    ("address", "住所"),
    ("resident_no", "宛名番号"),
    ("school", "学校"),
]
SEX_JA = SEX_LABELS


def _same(a, b) -> bool:
    """Equal as the eye reads them: full/half width and spaces do not count (ﾏｴﾀﾞ ﾕｲ = マエダ　ユイ)."""
    f = lambda v: "".join(unicodedata.normalize("NFKC", str(v)).split())  # noqa: E731
    return f(a) == f(b)


class _ReviewKeys(QObject):
    """A, R, N, S, Ctrl+Z and ←/→ for the review widgets only (an event filter, not window-wide shortcuts)."""

    def __init__(self, page: LinkagePage):
        super().__init__(page)
        self.page = page

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.ShortcutOverride:
            if self.page._action_for(ev) is not None:
                ev.accept()  # the key is ours while the review has focus: no window shortcut steals it
                return True
        elif ev.type() == QEvent.KeyPress:
            fn = self.page._action_for(ev)
            if fn is not None:
                fn()
                return True
        return False


class LinkagePage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        self.decisions: list[dict] = []
        self.last_op = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.run_btn = QPushButton(tr("名寄せを実行"))
        self.run_btn.clicked.connect(self.run)
        self.summary = QLabel()
        bar.addWidget(self.run_btn)
        bar.addWidget(self.summary, 1)
        lay.addLayout(bar)
        self.notice = Notice("linkageNotice")
        lay.addWidget(self.notice)
        self.help = QLabel(
            tr(
                "確認待ちの候補 — 一覧か比較欄を選んでいるときだけ:  A: 同一人物（確定）　R: 別人　"
                "N: 台帳にいない　S: 保留して次へ　Ctrl+Z: 直前の判断を取り消す　↑↓: 記録　←→: 候補"
            )
        )
        self.help.setWordWrap(True)
        lay.addWidget(self.help)
        split = QSplitter()
        # left: the queue, then the decisions (who decided; undo)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        self.queue_label = QLabel(tr("確認待ち（一致の重みの高い順）"))
        ll.addWidget(self.queue_label)
        self.search = QLineEdit()
        self.search.setObjectName("reviewSearch")
        self.search.setPlaceholderText(tr("氏名・カナで探す"))
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(lambda: self.refresh())
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.refresh())
        self.search.textChanged.connect(lambda *_: self._debounce.start())
        ll.addWidget(self.search)
        # the queue, a page at a time (20,000 records in review at city scale): counted, searched, ordered in SQL
        self.queue_model = LazyRowsModel(
            [("record_id", tr("記録"), lambda v, q: _queue_text(q))],
            lambda **f: L.review_count(self.ws, **f),
            lambda limit, offset, order, desc, **f: L.review_page(self.ws, limit, offset, order, desc, **f),
            self,
            order="score",
        )
        self.list = LazyListView()
        self.list.setObjectName("reviewList")
        self.list.setModel(self.queue_model)
        self.list.setUniformItemSizes(True)
        self.list.currentRowChanged.connect(self.show_record)
        ll.addWidget(self.list, 3)
        ll.addWidget(QLabel(tr("判断の記録（新しい順・判断者つき）")))
        self.decision_list = QTableWidget(0, 5)
        self.decision_list.setObjectName("decisionList")
        self.decision_list.setHorizontalHeaderLabels([tr("日時"), tr("判断"), tr("記録"), tr("判断者"), tr("状態")])
        self.decision_list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.decision_list.horizontalHeader().setStretchLastSection(True)
        self.decision_list.verticalHeader().setVisible(False)
        self.decision_list.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.decision_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.decision_list.setEditTriggers(QAbstractItemView.NoEditTriggers)
        ll.addWidget(self.decision_list, 2)
        self.undo_btn = QPushButton(tr("選んだ判断を取り消す（未選択なら直前の判断）"))
        self.undo_btn.clicked.connect(lambda: self.undo(selected=True))
        ll.addWidget(self.undo_btn)
        split.addWidget(left)
        # right: the comparison
        right = QWidget()
        self.comparison = right
        right.setObjectName("comparison")
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.record_title = QLabel()
        rl.addWidget(self.record_title)
        self.compare = QTableWidget(len(FIELDS), 3)
        self.compare.setHorizontalHeaderLabels([tr("項目"), tr("取り込んだ記録"), tr("候補（住民基本台帳）")])
        self.compare.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.compare.verticalHeader().setVisible(False)
        self.compare.verticalHeader().setDefaultSectionSize(self.compare.fontMetrics().height() + 8)
        self.compare.setEditTriggers(QAbstractItemView.NoEditTriggers)
        # every field row shows without scrolling (at 1366×768 the table used to show four of them)
        rows_h = len(FIELDS) * self.compare.verticalHeader().defaultSectionSize()
        self.compare.setMinimumHeight(rows_h + self.compare.horizontalHeader().sizeHint().height() + 4)
        top = QHBoxLayout()
        top.addWidget(self.compare, 3)
        cl = QVBoxLayout()
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(QLabel(tr("候補（一致の重みの順）")))
        self.cands = QListWidget()
        self.cands.currentRowChanged.connect(self.show_candidate)
        cl.addWidget(self.cands, 1)
        top.addLayout(cl, 1)
        rl.addLayout(top)
        # the evidence: the waterfall, and the same parts as a table, in tabs (each gets the full height)
        self.detail_tabs = QTabWidget()
        self.waterfall = Waterfall()
        self.detail_tabs.addTab(self.waterfall, tr("一致の重みの内訳（ウォーターフォール）"))
        self.levels = QTableWidget(0, 3)
        self.levels.setHorizontalHeaderLabels([tr("項目"), tr("一致の程度"), tr("重み")])
        self.levels.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.levels.verticalHeader().setVisible(False)
        self.levels.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.detail_tabs.addTab(self.levels, tr("項目ごとの一致の程度と重み"))
        rl.addWidget(self.detail_tabs, 1)
        btns = QHBoxLayout()
        for text, fn in (
            ("同一人物 (A)", lambda: self.decide("accept")),
            ("別人 (R)", lambda: self.decide("reject")),
            ("台帳にいない (N)", lambda: self.decide("not_in_registry")),
            ("保留 (S)", self.skip),
        ):
            b = QPushButton(tr(text))
            b.setFocusPolicy(Qt.NoFocus)  # clicking keeps the keyboard focus in the queue
            b.clicked.connect(fn)
            btns.addWidget(b)
        rl.addLayout(btns)
        split.addWidget(right)
        split.setSizes([360, 900])
        lay.addWidget(split, 1)
        self.keys = _ReviewKeys(self)
        for w in (self.list, self.cands, self.compare, self.levels, self.waterfall, self.decision_list):
            w.installEventFilter(self.keys)
        self.refresh()

    # -- keys -------------------------------------------------------------------------------------------------------
    def _action_for(self, ev):
        mods = ev.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier)
        key = ev.key()
        if mods == Qt.ControlModifier and key == Qt.Key_Z:
            return self.undo
        if mods:
            return None
        return {
            Qt.Key_A: lambda: self.decide("accept"),
            Qt.Key_R: lambda: self.decide("reject"),
            Qt.Key_N: lambda: self.decide("not_in_registry"),
            Qt.Key_S: self.skip,
            Qt.Key_Right: lambda: self._move_cand(1),
            Qt.Key_Left: lambda: self._move_cand(-1),
        }.get(key)

    def _move_cand(self, d):
        if self.cands.count():
            self.cands.setCurrentRow(max(0, min(self.cands.count() - 1, self.cands.currentRow() + d)))

    def say(self, text: str = "", error: bool = True):
        self.notice.say(text, error)

    # -- run --------------------------------------------------------------------------------------------------------
    def run(self):
        from ..ops import run_with_progress

        self.say("")
        self.run_btn.setEnabled(False)
        self.last_op = run_with_progress(
            self,
            tr("名寄せ"),
            lambda progress, cancel: L.run_linkage(self.ws, progress=progress, cancel=cancel),
            on_done=self._ran,
            on_error=self._failed,
        )
        self.last_op.finished.connect(lambda: self.run_btn.setEnabled(True))
        return self.last_op

    def _ran(self, res):
        self.refresh()
        self.say(
            tr(
                "名寄せを実行しました。人 {persons}・自動 {auto}・確定 {confirmed}・確認待ち {review}・未連結 {unlinked}",
                persons=res["persons"],
                auto=res["auto_links"],
                confirmed=res["confirmed"],
                review=res["review"],
                unlinked=res["unlinked"],
            ),
            error=False,
        )

    def _failed(self, e):
        if isinstance(e, Cancelled):
            self.say(e.message_ja, error=False)
            return
        self.say(
            getattr(e, "message_ja", None) or tr("名寄せできませんでした（{error}）", error=f"{type(e).__name__}: {e}")
        )

    @property
    def queue(self) -> list[dict]:
        """The queue's records fetched so far, in queue order."""
        return self.queue_model.rows

    def on_lock(self):
        """The key is gone: forget the queue and the record on screen (``refresh`` fills them after the unlock)."""
        self._debounce.stop()
        self.list.blockSignals(True)
        self.queue_model.set_rows([])
        self.list.blockSignals(False)
        self.cands.blockSignals(True)
        self.cands.clear()
        self.cands.blockSignals(False)
        self.compare.clearContents()
        self.levels.setRowCount(0)
        self.decision_list.setRowCount(0)
        self.record_title.setText("")

    # -- the queue --------------------------------------------------------------------------------------------------
    def refresh(self, select_record: int | None = None):
        if self.ws.locked:
            return
        self._debounce.stop()
        row = self.list.currentRow()
        self.list.blockSignals(True)
        try:
            n = self.queue_model.set_filters(query=self.search.text().strip() or None)
        except KodomoError as e:
            self.queue_model.set_rows([])
            n = 0
            self.say(e.message_ja)
        self.list.blockSignals(False)
        c = L.link_counts(self.ws)
        self.summary.setText("　".join(f"{tr(LinkStatus.label_of(k))} {v}" for k, v in sorted(c.items())))
        self.queue_label.setText(tr("確認待ち {n} 件（一致の重みの高い順）", n=n))
        self.refresh_decisions()
        if select_record is not None:
            found = self.queue_model.find(lambda q: q["record_id"] == select_record, limit=max(row, 0) + PAGE_ROWS)
            row = found if found >= 0 else row
        if n:
            self.list.blockSignals(True)
            self.list.setCurrentRow(max(0, min(row, n - 1)))
            self.list.blockSignals(False)
            self.show_record(self.list.currentRow())
        else:
            self.show_record(-1)

    def refresh_decisions(self):
        try:
            self.decisions = L.recent_decisions(self.ws, limit=100)
        except KodomoError:
            self.decisions = []
        t = self.decision_list
        t.setRowCount(len(self.decisions))
        for r, d in enumerate(self.decisions):
            when = d["decided_at"].strftime("%m/%d %H:%M") if d["decided_at"] else ""
            state = tr("取消（{by}）", by=d["undone_by"]) if d["undone_at"] else tr("有効")
            target = tr("{source} {row}行", source=_source_label(d["source_type"]), row=d["row_number"]) + (
                f" → {d['person_id']}" if d["person_id"] else ""
            )
            for c, v in enumerate(
                (when, tr(DECISION_JA.get(d["decision"], d["decision"])), target, d["decided_by"], state)
            ):
                item = QTableWidgetItem(v or "")
                if d["undone_at"]:
                    item.setForeground(QColor(pal.GREY))
                t.setItem(r, c, item)

    def current(self):
        i = self.list.currentRow()
        return self.queue_model.row(i)

    def _cands(self, q) -> list[dict]:
        cands = [c for c in (q["candidates"] or []) if c.get("person_id")]
        if not cands and q["person_id"]:
            cands = [
                {
                    "person_id": q["person_id"],
                    "match_weight": q["score"],
                    "match_probability": q["probability"],
                    "explanation": q["explanation"],
                }
            ]
        return cands

    def show_record(self, _):
        q = self.current()
        self.cands.blockSignals(True)
        self.cands.clear()
        self.cands.blockSignals(False)
        if not q:
            self.record_title.setText(tr("確認待ちの候補はありません。"))
            self.compare.clearContents()
            self.levels.setRowCount(0)
            self.waterfall.set_parts([])
            return
        self.record_title.setText(
            tr(
                "<b>{source}</b>　{row} 行目の記録と、住民基本台帳の候補",
                source=tr(_source_label(q["source_type"])),
                row=q["row_number"],
            )
        )
        self.cands.blockSignals(True)
        for c in self._cands(q):
            prob = c.get("match_probability")
            self.cands.addItem(
                tr("{person}　重み {weight}", person=c["person_id"], weight=f"{float(c.get('match_weight') or 0):.1f}")
                + (f"（{float(prob) * 100:.0f}%）" if prob is not None else "")
            )
        self.cands.blockSignals(False)
        self.cands.setCurrentRow(0)
        self.show_candidate(0)

    def candidate(self):
        q = self.current()
        if not q:
            return None
        cands = self._cands(q)
        i = self.cands.currentRow()
        return cands[i] if 0 <= i < len(cands) else None

    def show_candidate(self, _):
        q, c = self.current(), self.candidate()
        if not q:
            return
        pv = persons.person_brief(self.ws, c["person_id"] if c else None)
        for r, (key, label) in enumerate(FIELDS):
            self.compare.setItem(r, 0, QTableWidgetItem(tr(label)))
            a, b = q.get(key), pv.get(key)
            if key == "sex":
                a, b = (tr(SEX_JA[x]) if x in SEX_JA else x for x in (a, b))
            elif isinstance(a, str) or isinstance(b, str):
                a, b = (wide_kana(x) if isinstance(x, str) else x for x in (a, b))  # ｶﾅ shown as カナ
            ia, ib = QTableWidgetItem("" if a is None else str(a)), QTableWidgetItem("" if b is None else str(b))
            if a not in (None, "") and b not in (None, ""):
                col = QColor(pal.TINT_GREEN) if _same(a, b) else QColor(pal.TINT_ORANGE)
                ia.setBackground(col)
                ib.setBackground(col)
            self.compare.setItem(r, 1, ia)
            self.compare.setItem(r, 2, ib)
        parts = (c or {}).get("explanation") or []
        self.levels.setRowCount(len(parts))
        for r, part in enumerate(parts):
            w = float(part.get("weight") or 0)
            self.levels.setItem(r, 0, QTableWidgetItem(label_of(part, "label", part.get("field", ""))))
            self.levels.setItem(r, 1, QTableWidgetItem(label_of(part, "level")))
            wi = QTableWidgetItem(f"{w:+.2f}")
            wi.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            wi.setForeground(QColor(pal.OK if w > 0 else (pal.ERROR if w < 0 else pal.GREY)))
            self.levels.setItem(r, 2, wi)
        self.waterfall.set_parts(parts, (c or {}).get("match_probability"))

    # -- decisions --------------------------------------------------------------------------------------------------
    def decide(self, decision):
        q, c = self.current(), self.candidate()
        if not q:
            self.say(tr("確認待ちの候補はありません。"))
            return None
        if decision in ("accept", "reject") and not c:
            self.say(tr("候補がないため、この判断はできません（N: 台帳にいない を使ってください）。"))
            return None
        try:
            did = L.decide(
                self.ws, q["record_id"], decision, c["person_id"] if c and decision != "not_in_registry" else None
            )
        except KodomoError as e:
            self.say(e.message_ja)
            return None
        self.say(
            tr(
                "{row}行目の記録: 「{decision}」と判断しました（{user}）。Ctrl+Z で取り消せます。",
                row=q["row_number"],
                decision=tr(DECISION_JA[decision]),
                user=self.ws.user.name,
            ),
            error=False,
        )
        self.refresh()
        return did

    def skip(self):
        if self.list.count():  # the next record (fetched as needed), after the last the first again
            self.list.setCurrentRow((self.list.currentRow() + 1) % self.list.count())

    def undo(self, selected: bool = False):
        did = None
        if selected:
            r = self.decision_list.currentRow()
            if (
                0 <= r < len(self.decisions)
                and not self.decisions[r]["undone_at"]
                and self.decision_list.selectionModel().isRowSelected(r)
            ):
                did = self.decisions[r]["decision_id"]
        try:
            res = L.undo_decision(self.ws, did)
        except KodomoError as e:
            self.say(e.message_ja)
            return None
        self.say(tr("判断を取り消しました。記録は確認待ちに戻りました。"), error=False)
        self.refresh(select_record=res["record_id"])
        return res
