"""名寄せ page: run linkage, then work through the review queue with the keyboard.

Candidates ranked; the record and the candidate side by side with each field's agreement level and its
contribution to the match weight (a waterfall, as Splink draws it). Keys: A accept, R reject, N not in the
registry, S skip, Ctrl+Z undo, ↑/↓ candidates.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QMessageBox, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QHeaderView, QVBoxLayout, QWidget)

from ...core.errors import KodomoError
from ...core.linkage import service as L
from ...core.storage.models import Person


class Waterfall(QWidget):
    """Bars per field: green adds evidence, red takes it away; the running total ends at the match weight."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self.setMinimumHeight(200)

    def set_parts(self, parts):
        self.parts = parts or []
        self.update()

    def paintEvent(self, _):
        p = QPainter(self)
        if not self.parts:
            p.drawText(10, 20, "（説明なし）")
            return
        ws = [float(x.get("weight") or 0) for x in self.parts]
        run, lo, hi = 0.0, 0.0, 0.0
        for w in ws:
            run += w
            lo, hi = min(lo, run), max(hi, run)
        span = (hi - lo) or 1.0
        left, width = 150, self.width() - 230
        x_of = lambda v: left + int((v - lo) / span * width)
        h = max(14, min(24, (self.height() - 10) // max(1, len(ws) + 1)))
        run = 0.0
        for i, (part, w) in enumerate(zip(self.parts, ws)):
            y = 5 + i * h
            a, b = x_of(run), x_of(run + w)
            p.fillRect(min(a, b), y + 2, max(2, abs(b - a)), h - 4, QColor("#70AD47" if w >= 0 else "#C00000"))
            p.drawText(4, y + h - 5, f"{part.get('label_ja', part.get('field', ''))}")
            p.drawText(self.width() - 75, y + h - 5, f"{w:+.1f}")
            run += w
        y = 5 + len(ws) * h
        p.drawText(4, y + h - 5, "合計（一致の重み）")
        p.drawText(self.width() - 75, y + h - 5, f"{run:.1f}")


FIELDS = [("name", "氏名"), ("name_kana", "カナ"), ("birth_date", "生年月日"), ("sex", "性別"), ("address", "住所"),
          ("resident_no", "宛名番号"), ("school", "学校")]


class LinkagePage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        self.queue, self.pos = [], 0
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        run = QPushButton("名寄せを実行")
        run.clicked.connect(self.run)
        self.summary = QLabel()
        bar.addWidget(run)
        bar.addWidget(self.summary, 1)
        lay.addLayout(bar)
        lay.addWidget(QLabel("確認待ちの候補 —  A: 同一人物（確定）　R: 別人　N: 台帳にいない　S: 保留して次へ　"
                             "Ctrl+Z: 直前の判断を取り消す　↑↓: 候補を切り替え"))
        split = QSplitter()
        self.list = QListWidget()
        self.list.currentRowChanged.connect(self.show_record)
        split.addWidget(self.list)
        right = QWidget()
        rl = QVBoxLayout(right)
        self.compare = QTableWidget(len(FIELDS), 3)
        self.compare.setHorizontalHeaderLabels(["項目", "取り込んだ記録", "候補（住民基本台帳）"])
        self.compare.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.compare.verticalHeader().setVisible(False)
        rl.addWidget(self.compare)
        self.cands = QListWidget()
        self.cands.currentRowChanged.connect(self.show_candidate)
        rl.addWidget(QLabel("候補（一致の重みの順）"))
        rl.addWidget(self.cands)
        self.levels = QTableWidget(0, 3)
        self.levels.setHorizontalHeaderLabels(["項目", "一致の程度", "重み"])
        self.levels.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        rl.addWidget(self.levels)
        self.waterfall = Waterfall()
        rl.addWidget(self.waterfall)
        split.addWidget(right)
        split.setSizes([260, 700])
        lay.addWidget(split, 1)
        for key, fn in (("A", lambda: self.decide("accept")), ("R", lambda: self.decide("reject")),
                        ("N", lambda: self.decide("not_in_registry")), ("S", self.skip),
                        ("Ctrl+Z", self.undo)):
            QShortcut(QKeySequence(key), self, activated=fn)
        QShortcut(QKeySequence(Qt.Key_Down), self, activated=lambda: self._move_cand(1))
        QShortcut(QKeySequence(Qt.Key_Up), self, activated=lambda: self._move_cand(-1))
        self.refresh()

    def _move_cand(self, d):
        self.cands.setCurrentRow(max(0, min(self.cands.count() - 1, self.cands.currentRow() + d)))

    def run(self):
        try:
            res = L.run_linkage(self.ws)
        except KodomoError as e:
            return QMessageBox.warning(self, "名寄せ", e.message_ja)
        self.refresh()
        self.summary.setText(f"人 {res['persons']}・自動 {res['auto_links']}・確認待ち {res['review']}・"
                             f"未連結 {res['unlinked']}")

    def refresh(self):
        self.queue = L.review_queue(self.ws)
        self.list.clear()
        for q in self.queue:
            self.list.addItem(f"{q['name'] or '（氏名なし）'}　{q['birth_date'] or ''}　{q['source_type']} {q['row_number']}行")
        c = L.link_counts(self.ws)
        self.summary.setText("　".join(f"{k}: {v}" for k, v in sorted(c.items())) + f"　確認待ち {len(self.queue)} 件")
        if self.queue:
            self.list.setCurrentRow(0)

    def current(self):
        i = self.list.currentRow()
        return self.queue[i] if 0 <= i < len(self.queue) else None

    def show_record(self, _):
        q = self.current()
        self.cands.clear()
        if not q:
            return
        for c in q["candidates"] or [{"person_id": q["person_id"], "match_weight": q["score"],
                                       "explanation": q["explanation"]}]:
            if c.get("person_id"):
                self.cands.addItem(f"{c['person_id']}　重み {float(c.get('match_weight') or 0):.1f}")
        self.cands.setCurrentRow(0)

    def candidate(self):
        q = self.current()
        if not q:
            return None
        cands = [c for c in (q["candidates"] or []) if c.get("person_id")] or \
            ([{"person_id": q["person_id"], "explanation": q["explanation"]}] if q["person_id"] else [])
        i = self.cands.currentRow()
        return cands[i] if 0 <= i < len(cands) else None

    def show_candidate(self, _):
        q, c = self.current(), self.candidate()
        if not q:
            return
        with self.ws.session() as s:
            p = s.get(Person, c["person_id"]) if c else None
            pv = {"name": p.name, "name_kana": p.name_kana, "birth_date": p.birth_date, "sex": p.sex,
                  "address": p.address, "resident_no": p.resident_no, "school": ""} if p else {}
        for r, (key, label) in enumerate(FIELDS):
            self.compare.setItem(r, 0, QTableWidgetItem(label))
            a, b = q.get(key), pv.get(key)
            ia, ib = QTableWidgetItem("" if a is None else str(a)), QTableWidgetItem("" if b is None else str(b))
            if a not in (None, "") and b not in (None, ""):
                col = QColor("#E2EFDA") if str(a) == str(b) else QColor("#FCE4D6")
                ia.setBackground(col)
                ib.setBackground(col)
            self.compare.setItem(r, 1, ia)
            self.compare.setItem(r, 2, ib)
        parts = (c or {}).get("explanation") or []
        self.levels.setRowCount(len(parts))
        for r, part in enumerate(parts):
            self.levels.setItem(r, 0, QTableWidgetItem(part.get("label_ja", part.get("field", ""))))
            self.levels.setItem(r, 1, QTableWidgetItem(part.get("level_ja", "")))
            self.levels.setItem(r, 2, QTableWidgetItem(f"{float(part.get('weight') or 0):+.2f}"))
        self.waterfall.set_parts(parts)

    def decide(self, decision):
        q, c = self.current(), self.candidate()
        if not q:
            return
        try:
            L.decide(self.ws, q["record_id"], decision, c["person_id"] if c and decision != "not_in_registry" else None)
        except KodomoError as e:
            return QMessageBox.warning(self, "名寄せ", e.message_ja)
        row = self.list.currentRow()
        self.refresh()
        self.list.setCurrentRow(min(row, self.list.count() - 1))

    def skip(self):
        self.list.setCurrentRow((self.list.currentRow() + 1) % max(1, self.list.count()))

    def undo(self):
        try:
            L.undo_decision(self.ws)
        except KodomoError as e:
            return QMessageBox.information(self, "取消", e.message_ja)
        self.refresh()
