"""個人情報保護 → 保存期間・削除: retention periods and the two-step purge of expired data."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.governance import register as R
from ... import palette as pal
from ...format import day
from ...i18n import tr
from .common import (
    EXPIRED_BG,
    RowsModel,
    _fit,
    _pydate,
    _qdate,
    _selected,
    _view,
    source_label,
)

if TYPE_CHECKING:
    from . import GovernancePage


# --- 保存期間・削除 ------------------------------------------------------------------------------------------------
class RetentionTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.expired: list[dict] = []
        self.expired_cases: list[dict] = []
        self.purged: dict | None = None
        lay = QVBoxLayout(self)
        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel(tr("保存期間（取込元ごと・ケース記録）")))
        self.model = RowsModel(
            [
                ("subject", tr("対象"), lambda v, r: tr("ケース記録") if v == "casework" else source_label(v)),
                ("months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
                ("note", tr("備考")),
            ]
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        ll.addWidget(self.view, 1)
        ed = QGroupBox(tr("選択した対象の保存期間"))
        ef = QFormLayout(ed)
        self.months = QSpinBox()
        self.months.setRange(1, 1200)
        self.months.setSuffix(tr(" か月"))
        self.note = QLineEdit()
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        ef.addRow(tr("保存期間"), self.months)
        ef.addRow(tr("備考"), self.note)
        ef.addRow("", self.save_btn)
        ed.setEnabled(page.can_write)
        ll.addWidget(ed)
        split.addWidget(left)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("基準日")))
        self.on = QDateEdit(_qdate(dt.date.today()))
        self.on.setCalendarPopup(True)
        self.on.setDisplayFormat("yyyy-MM-dd")
        self.on.dateChanged.connect(lambda _d: self.refresh_expired())
        bar.addWidget(self.on)
        chk = QPushButton(tr("期限切れを確認"))
        chk.clicked.connect(lambda: self.refresh_expired())
        bar.addWidget(chk)
        bar.addStretch(1)
        rl.addLayout(bar)
        self.summary = QLabel()
        rl.addWidget(self.summary)
        self.exp_model = RowsModel(
            [
                ("batch_id", tr("取込番号")),
                ("source_type", tr("取込元"), lambda v, r: source_label(v)),
                ("file_name", tr("ファイル")),
                ("as_of", tr("時点")),
                ("records", tr("件数")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
            ],
            background=lambda r: EXPIRED_BG,
        )
        self.exp_view = _view(self.exp_model)
        rl.addWidget(self.exp_view, 2)
        rl.addWidget(QLabel(tr("ケース記録（終結後、保存期間を過ぎたもの。経過記録を含む）")))
        self.case_model = RowsModel(
            [
                ("case_id", tr("ケース番号")),
                ("person_id", tr("整理番号")),
                ("closed_on", tr("終結日")),
                ("progress_records", tr("経過記録")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v)),
            ],
            background=lambda r: EXPIRED_BG,
        )
        self.case_view = _view(self.case_model)
        rl.addWidget(self.case_view, 1)
        self.purge_btn = QPushButton(tr("期限切れのデータを削除…"))
        self.purge_btn.clicked.connect(lambda: self.ask_purge())
        rl.addWidget(self.purge_btn, 0, Qt.AlignRight)
        # the in-page confirmation (step two); a modal box would not be testable
        self.confirm = QFrame()
        self.confirm.setObjectName("purgeConfirm")
        self.confirm.setStyleSheet(
            f"#purgeConfirm {{ background:{pal.CONFIRM_BG}; border:1px solid {pal.DANGER}; border-radius:4px; }}"
        )
        cl = QVBoxLayout(self.confirm)
        self.confirm_text = QLabel()
        self.confirm_text.setWordWrap(True)
        self.confirm_text.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        cl.addWidget(self.confirm_text)
        cb = QHBoxLayout()
        cb.addStretch(1)
        self.cancel_btn = QPushButton(tr("やめる"))
        self.cancel_btn.clicked.connect(lambda: self.cancel_purge())
        self.confirm_btn = QPushButton(tr("削除を確定"))
        self.confirm_btn.setStyleSheet(f"color:white;background:{pal.DANGER};padding:3px 12px;")
        self.confirm_btn.clicked.connect(lambda: self.confirm_purge())
        cb.addWidget(self.cancel_btn)
        cb.addWidget(self.confirm_btn)
        cl.addLayout(cb)
        self.confirm.setVisible(False)
        rl.addWidget(self.confirm)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        lay.addWidget(split, 1)
        self._armed: tuple | None = None

    def refresh(self):
        ok, rows = self.page.guard(R.retention, self.page.ws)
        if ok:
            self.model.set_rows(rows)
            _fit(self.view, 260)
        self.refresh_expired()

    def _selected(self):
        r = self.model.row(_selected(self.view))
        if r is not None:
            self.months.setValue(int(r["months"]))
            self.note.setText(r.get("note") or "")

    def select(self, subject: str) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["subject"] == subject:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def save(self) -> bool:
        r = self.model.row(_selected(self.view))
        if r is None:
            self.page.say(tr("一覧から対象を選んでください。"), error=True)
            return False
        ok, _ = self.page.guard(
            R.set_retention, self.page.ws, r["subject"], self.months.value(), self.note.text().strip() or None
        )
        if ok:
            self.page.say(tr("保存期間を {m} か月にしました（操作ログに記録）。", m=self.months.value()))
            subject = r["subject"]
            self.refresh()
            self.select(subject)
            self.page.register.refresh()
        return ok

    def on_date(self) -> dt.date:
        return _pydate(self.on.date())

    def refresh_expired(self):
        self.cancel_purge()
        ok, rows = self.page.guard(R.expired, self.page.ws, self.on_date())
        if not ok:
            return
        ok, cases = self.page.guard(R.expired_casework, self.page.ws, self.on_date())
        if not ok:
            return
        self.expired, self.expired_cases = rows, cases
        self.exp_model.set_rows(rows)
        self.case_model.set_rows(cases)
        _fit(self.exp_view, 260)
        _fit(self.case_view, 200)
        if rows or cases:
            self.summary.setText(
                tr("{d} 時点で保存期間を過ぎたデータ: {what}", d=day(self.on_date()), what=self._what())
            )
            self.summary.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        else:
            self.summary.setText(tr("{d} 時点で保存期間を過ぎたデータはありません。", d=day(self.on_date())))
            self.summary.setStyleSheet(f"color:{pal.SUCCESS};")
        self.purge_btn.setEnabled(self.page.can_write and self._anything())

    def _anything(self) -> bool:
        return bool(self.expired or self.expired_cases)

    def _what(self) -> str:
        parts = []
        if self.expired:
            parts.append(
                tr("{b} ファイル・{n} 件の記録", b=len(self.expired), n=sum(r["records"] for r in self.expired))
            )
        if self.expired_cases:
            parts.append(
                tr(
                    "ケース記録 {c} 件（経過記録 {p} 件）",
                    c=len(self.expired_cases),
                    p=sum(r["progress_records"] for r in self.expired_cases),
                )
            )
        return "、".join(parts)

    def ask_purge(self) -> bool:
        """Step one: show what will be deleted and wait for 削除を確定."""
        if not self.page.can_write:
            self.page.say(tr("この役割では削除できません。"), error=True)
            return False
        if not self._anything():
            self.page.say(tr("削除するデータはありません。"), error=True)
            return False
        self._armed = (self.on_date(), self._ids(self.expired, self.expired_cases))
        self.confirm_text.setText(
            tr(
                "{what}を完全に削除します。元に戻せません（バックアップからの復元を除く）。"
                "削除したことは操作ログに残ります。よろしければ「削除を確定」を押してください。",
                what=self._what(),
            )
        )
        self.confirm.setVisible(True)
        self.purge_btn.setEnabled(False)
        return True

    def cancel_purge(self):
        self._armed = None
        self.confirm.setVisible(False)
        self.purge_btn.setEnabled(self.page.can_write and self._anything())

    @staticmethod
    def _ids(batches, cases) -> tuple:
        return tuple(r["batch_id"] for r in batches), tuple(r["case_id"] for r in cases)

    def confirm_purge(self):
        """Step two: delete what step one showed (refused if the list has changed meanwhile)."""
        if self._armed is None:
            self.page.say(tr("先に「期限切れのデータを削除…」で対象を確認してください。"), error=True)
            return None
        on, batches = self._armed
        ok, current = self.page.guard(
            lambda: self._ids(R.expired(self.page.ws, on), R.expired_casework(self.page.ws, on))
        )
        if not ok or current != batches:
            self.page.say(tr("対象が変わりました。もう一度確認してください。"), error=True)
            self.refresh_expired()
            return None
        self.confirm.setVisible(False)
        self._armed = None
        return self.page.run(
            tr("保存期間を過ぎたデータの削除"),
            lambda progress: (progress(tr("削除しています…")), R.purge_expired(self.page.ws, on))[1],
            self._purged,
        )

    def _purged(self, res):
        self.purged = res
        self.page.say(
            tr(
                "{b} ファイル・{n} 件、ケース記録 {c} 件（経過記録 {p} 件）を削除しました（操作ログに記録）。",
                b=res["batches"],
                n=res["records"],
                c=res.get("cases", 0),
                p=res.get("progress_records", 0),
            )
        )
        self.refresh()
        self.page.register.refresh()
        self.page.inspection.refresh_auto()
