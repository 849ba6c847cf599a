"""個人情報保護 → 利用停止: the opt-out register (利用停止・不同意)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.governance import optout as O
from ... import palette as pal
from ...i18n import tr
from .common import (
    RowsModel,
    _fit,
    _pydate,
    _qdate,
    _selected,
    _view,
    _when,
)

if TYPE_CHECKING:
    from . import GovernancePage


# --- 利用停止 ------------------------------------------------------------------------------------------------------
class OptOutTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.all: list[dict] = []
        lay = QVBoxLayout(self)
        explain = QLabel(
            tr(
                "登録した人（または世帯全員）の記録は、開始日から名寄せ・スコアに使われず、一覧・会議資料・"
                "チェックリストに載りません。取り込んだ記録は残ります（データ出力では「対象外」と表示されます）。"
                "解除には理由が必要で、登録・解除とも操作ログに残ります。"
            )
        )
        explain.setWordWrap(True)
        explain.setStyleSheet(f"color:{pal.MUTED};")
        lay.addWidget(explain)
        bar = QHBoxLayout()
        self.count = QLabel()
        self.show_removed = QCheckBox(tr("解除済みも表示"))
        self.show_removed.toggled.connect(self.apply_filter)
        bar.addWidget(self.count)
        bar.addStretch(1)
        bar.addWidget(self.show_removed)
        lay.addLayout(bar)
        self.model = RowsModel(
            [
                ("id", tr("番号")),
                ("person_id", tr("対象"), lambda v, r: v if v else tr("世帯 {h}", h=r.get("household_id"))),
                ("from_date", tr("開始日")),
                ("reason", tr("理由")),
                ("created_by", tr("登録者")),
                ("created_at", tr("登録日時"), _when),
                ("removed_at", tr("解除日時"), _when),
                ("removed_reason", tr("解除の理由")),
            ],
            background=lambda r: QColor(pal.TINT_GREY) if r.get("removed_at") else None,
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        lay.addWidget(self.view, 1)
        forms = QHBoxLayout()
        add = QGroupBox(tr("利用停止を登録"))
        af = QFormLayout(add)
        pid_row = QHBoxLayout()
        self.person = QLineEdit()
        self.person.setPlaceholderText(tr("整理番号（P…）"))
        self.lookup_btn = QPushButton(tr("確認"))
        self.lookup_btn.clicked.connect(lambda: self.lookup())
        pid_row.addWidget(self.person, 1)
        pid_row.addWidget(self.lookup_btn)
        self.who = QLabel("")
        self.who.setWordWrap(True)
        self.household = QCheckBox(tr("世帯全員を対象にする"))
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("例: 不同意書の提出（受付第3号）"))
        self.from_date = QDateEdit(_qdate(dt.date.today()))
        self.from_date.setCalendarPopup(True)
        self.from_date.setDisplayFormat("yyyy-MM-dd")
        self.add_btn = QPushButton(tr("登録"))
        self.add_btn.clicked.connect(lambda: self.add())
        af.addRow(tr("対象"), pid_row)
        af.addRow("", self.who)
        af.addRow("", self.household)
        af.addRow(tr("理由"), self.reason)
        af.addRow(tr("開始日"), self.from_date)
        af.addRow("", self.add_btn)
        rm = QGroupBox(tr("選択した登録を解除"))
        rf = QFormLayout(rm)
        self.selected_label = QLabel(tr("一覧から登録を選んでください。"))
        self.remove_reason = QLineEdit()
        self.remove_reason.setPlaceholderText(tr("例: 本人から撤回の申出"))
        self.remove_btn = QPushButton(tr("解除"))
        self.remove_btn.clicked.connect(lambda: self.remove())
        rf.addRow(tr("対象"), self.selected_label)
        rf.addRow(tr("解除の理由"), self.remove_reason)
        rf.addRow("", self.remove_btn)
        forms.addWidget(add, 3)
        forms.addWidget(rm, 2)
        lay.addLayout(forms)
        for box in (add, rm):
            box.setEnabled(page.can_write)
            box.setVisible(page.can_write)

    def refresh(self):
        ok, rows = self.page.guard(O.register, self.page.ws)
        if not ok:
            return
        self.all = rows
        self.apply_filter()

    def apply_filter(self):
        rows = self.all if self.show_removed.isChecked() else [r for r in self.all if not r["removed_at"]]
        self.model.set_rows(rows)
        active = sum(1 for r in self.all if not r["removed_at"])
        self.count.setText(tr("登録中 {n} 件（解除済み {m} 件）", n=active, m=len(self.all) - active))
        _fit(self.view, 260)

    def lookup(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.who.setText("")
            return None
        ok, d = self.page.guard(O.describe_person, self.page.ws, pid)
        if not ok:
            self.who.setText("")
            return None
        self.who.setText(
            tr(
                "{name}（{b}生）　世帯 {n} 人{x}",
                name=d["name"] or "",
                b=d["birth_date"],
                n=d["household_members"],
                x=tr("　※すでに登録があります") if d["opted_out"] else "",
            )
        )
        return d

    def add(self) -> dict | None:
        pid = self.person.text().strip()
        if not pid:
            self.page.say(tr("整理番号を入力してください。"), error=True)
            return None
        if not self.reason.text().strip():
            self.page.say(tr("理由を入力してください。"), error=True)
            return None
        ok, res = self.page.guard(
            O.add_optout,
            self.page.ws,
            pid,
            self.reason.text(),
            household=self.household.isChecked(),
            from_date=_pydate(self.from_date.date()),
        )
        if not ok:
            return None
        self.page.say(
            tr(
                "利用停止を登録しました（{n} 人、記録 {r} 件を名寄せ・スコアの対象外にしました）。",
                n=res["persons"],
                r=res["rows_excluded"],
            )
        )
        self.person.clear()
        self.reason.clear()
        self.who.setText("")
        self.household.setChecked(False)
        self.refresh()
        self.page.register.refresh()
        return res

    def select_entry(self, optout_id: int) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["id"] == optout_id:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def _selected(self):
        r = self.model.row(_selected(self.view))
        if r is None:
            self.selected_label.setText(tr("一覧から登録を選んでください。"))
            return
        who = r["person_id"] or tr("世帯 {h}", h=r["household_id"])
        self.selected_label.setText(f"{r['id']}: {who}" + (tr("（解除済み）") if r["removed_at"] else ""))

    def remove(self) -> dict | None:
        r = self.model.row(_selected(self.view))
        if r is None:
            self.page.say(tr("一覧から解除する登録を選んでください。"), error=True)
            return None
        if not self.remove_reason.text().strip():
            self.page.say(tr("解除の理由を入力してください（理由は必須です）。"), error=True)
            return None
        ok, res = self.page.guard(O.remove_optout_entry, self.page.ws, r["id"], self.remove_reason.text())
        if not ok:
            return None
        self.page.say(tr("利用停止を解除しました。") + res["note"])
        self.remove_reason.clear()
        self.refresh()
        self.page.register.refresh()
        return res
