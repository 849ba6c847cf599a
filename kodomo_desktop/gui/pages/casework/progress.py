"""会議 → 経過記録・終結: progress records per child and closing a case (終結)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.casework import service as C
from ....core.errors import KodomoError
from ...i18n import tr
from .common import DictTableModel, Notice, _date_edit, _msg, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- 経過記録・終結 ---------------------------------------------------------------------------------------------------
class ProgressTab(QWidget):
    def __init__(self, ws: Workspace, main):
        super().__init__()
        self.ws, self.main = ws, main
        lay = QVBoxLayout(self)
        self.notice = Notice()
        lay.addWidget(self.notice)
        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel(tr("2週間以内の予定（期限切れは赤）")))
        self.model = DictTableModel(
            [("due_on", tr("期日")), ("name", tr("氏名")), ("what", tr("内容")), ("detail", tr("詳細"))]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.clicked.connect(lambda i: self.set_person(self.model.rows[i.row()]["person_id"]))
        ll.addWidget(self.view, 1)
        ll.addWidget(QLabel(tr("進行中の支援")))
        self.cases = DictTableModel(
            [
                ("opened_on", tr("開始")),
                ("name", tr("氏名")),
                ("lead_organisation", tr("主担当")),
                ("next_action_on", tr("次回対応")),
                ("still_flagged", tr("最新スコアで抽出")),
            ]
        )
        self.cases_view = table_view(self.cases)
        self.cases_view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.cases_view.clicked.connect(lambda i: self.set_person(self.cases.rows[i.row()]["person_id"]))
        ll.addWidget(self.cases_view, 1)
        split.addWidget(left)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox(tr("経過記録を追加"))
        f = QFormLayout(box)
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（例：P000123）— 左の一覧を選ぶと入ります"))
        self.on = _date_edit()
        self.kind = QComboBox()
        for k in C.PROGRESS_KINDS:
            self.kind.addItem(tr(k), k)
        self.who = QLineEdit()
        self.who.setPlaceholderText(tr("例：保健師（保健センター）"))
        self.what = QPlainTextEdit()
        self.what.setMaximumHeight(80)
        self.outcome = QLineEdit()
        self.next_action = _date_edit(14)
        self.add_btn = QPushButton(tr("記録を保存"))
        self.add_btn.clicked.connect(self.add_progress)
        for l, w in (
            ("こども", self.person),
            ("日付", self.on),
            ("種類", self.kind),
            ("対応者", self.who),
            ("内容", self.what),
            ("結果", self.outcome),
            ("次回対応日", self.next_action),
        ):
            f.addRow(tr(l), w)
        f.addRow(self.add_btn)
        rl.addWidget(box)
        close = QGroupBox(tr("支援の終結"))
        cf = QFormLayout(close)
        self.close_reason = QLineEdit()
        self.close_reason.setPlaceholderText(tr("終結の理由（必須）"))
        self.close_btn = QPushButton(tr("終結する"))
        self.close_btn.clicked.connect(self.close_case)
        cf.addRow(tr("理由"), self.close_reason)
        cf.addRow(self.close_btn)
        rl.addWidget(close)
        rl.addStretch(1)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay.addWidget(split, 1)
        self.refresh()

    def refresh(self):
        self.model.set_rows(C.due_list(self.ws))
        self.cases.set_rows(C.open_cases(self.ws))

    def set_person(self, person_id: str):
        self.person.setText(person_id)

    def add_progress(self) -> int | None:
        pid = self.person.text().strip()
        if not pid:
            self.notice.error(tr("こどもを選ぶか、整理番号を入力してください。"))
            return None
        try:
            rec = C.add_progress(
                self.ws,
                pid,
                self.on.date().toPython(),
                self.kind.currentData() or self.kind.currentText(),
                who=self.who.text().strip() or None,
                what=self.what.toPlainText(),
                outcome=self.outcome.text().strip() or None,
                next_action_on=self.next_action.date().toPython(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.what.clear()
        self.outcome.clear()
        self.refresh()
        self.notice.info(tr("経過記録（{kind}）を保存しました。", kind=self.kind.currentText()))
        return rec

    def close_case(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.notice.error(tr("終結するこどもを選んでください。"))
            return None
        try:
            res = C.close_case(self.ws, pid, self.close_reason.text())
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.close_reason.clear()
        self.refresh()
        if res["warning"]:
            self.notice.error(tr("終結しました。") + res["warning"])
        else:
            self.notice.info(tr("終結しました。最新のスコアでは抽出対象ではありません。"))
        return res
