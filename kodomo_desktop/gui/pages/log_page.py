"""操作ログ (coordinator and auditor): filter by user, action, child and period; the chain check with the first
broken entry; export to CSV/Excel (logged)."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from ...core.audit import export as E
from ...core.audit import log as A
from .casework_page import DictTableModel, table_view


class LogPage(QWidget):
    def __init__(self, ws, main_window=None):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        self.chain = QLabel()
        lay.addWidget(self.chain)
        bar = QHBoxLayout()
        self.user = QLineEdit()
        self.user.setPlaceholderText("利用者")
        self.action = QComboBox()
        self.action.addItem("（すべての操作）", None)
        for k, v in A.ACTION_LABELS.items():
            self.action.addItem(v, k)
        self.person = QLineEdit()
        self.person.setPlaceholderText("こどもID")
        self.since = QLineEdit()
        self.since.setPlaceholderText("開始日 YYYY-MM-DD")
        self.until = QLineEdit()
        self.until.setPlaceholderText("終了日 YYYY-MM-DD")
        go = QPushButton("絞り込む")
        go.clicked.connect(self.refresh)
        exp = QPushButton("出力…")
        exp.clicked.connect(self.export)
        for w in (self.user, self.action, self.person, self.since, self.until, go, exp):
            bar.addWidget(w)
        lay.addLayout(bar)
        self.model = DictTableModel([("seq", "番号"), ("at", "日時"), ("user", "利用者"), ("label", "操作"),
                                     ("person_id", "こどもID"), ("detail", "詳細")])
        lay.addWidget(table_view(self.model), 1)
        self.refresh()

    def filters(self):
        return dict(user=self.user.text().strip() or None, action=self.action.currentData(),
                    person_id=self.person.text().strip() or None, since=self.since.text().strip() or None,
                    until=self.until.text().strip() or None)

    def refresh(self):
        rows = E.read_log(self.ws, **self.filters())
        for r in rows:
            r["label"] = A.ACTION_LABELS.get(r["action"], r["action"])
        self.model.set_rows(rows[::-1])
        with self.ws.engine.connect() as c:
            rep = A.verify_chain(c)
        self.chain.setText(f"記録 {rep.entries} 件　連鎖の検査: " + ("正常" if rep.ok else
                           f"<b style='color:#C00000'>{rep.first_broken} 番で破損（{rep.problem}）</b>"))

    def export(self):
        path, _ = QFileDialog.getSaveFileName(self, "操作ログの出力", "access_log.xlsx", "Excel (*.xlsx);;CSV (*.csv)")
        if path:
            E.export_log(self.ws, path, **self.filters())
