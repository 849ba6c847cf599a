"""個人情報保護 → 利用目的・法的根拠: purpose and legal basis per source and indicator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.governance import register as R
from ... import palette as pal
from ...i18n import tr
from .common import (
    BASIS_CHOICES,
    BASIS_SHORT,
    MISSING_BG,
    RowsModel,
    _fit,
    _selected,
    _view,
)

if TYPE_CHECKING:
    from . import GovernancePage


# --- 利用目的・法的根拠 ------------------------------------------------------------------------------------------------
class BasisTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.all: list[dict] = []
        self.source_labels: dict[str, str] = {}
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.kind = QComboBox()
        for label, data in (("すべて", None), ("取込元", "source"), ("指標", "indicator")):
            self.kind.addItem(tr(label), data)
        self.kind.currentIndexChanged.connect(self.apply_filter)
        self.only_missing = QCheckBox(tr("根拠が未設定のものだけ"))
        self.only_missing.toggled.connect(self.apply_filter)
        self.summary = QLabel()
        bar.addWidget(QLabel(tr("表示:")))
        bar.addWidget(self.kind)
        bar.addWidget(self.only_missing)
        bar.addStretch(1)
        bar.addWidget(self.summary)
        lay.addLayout(bar)
        self.model = RowsModel(
            [
                ("kind", tr("区分"), lambda v, r: tr("取込元") if v == "source" else tr("指標")),
                ("label", tr("名称")),
                (
                    "source_type",
                    tr("取込元"),
                    lambda v, r: self.source_labels.get(v, v or "") if r["kind"] == "indicator" else "",
                ),
                ("basis", tr("根拠"), lambda v, r: BASIS_SHORT.get(v or "", tr("未設定"))),
                ("purpose", tr("利用目的")),
                ("department", tr("保有課")),
                ("shown_on_sheets", tr("帳票"), lambda v, r: tr("印字") if v else tr("スコアのみ")),
                ("imported", tr("取込済"), lambda v, r: "○" if v else ""),
                ("note", tr("備考")),
            ],
            background=lambda r: MISSING_BG if r.get("missing") else None,
        )
        self.view = _view(self.model)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.view)
        box = QGroupBox(tr("選択した項目の利用目的と根拠"))
        form = QFormLayout(box)
        self.target = QLabel(tr("一覧から取込元または指標を選んでください。"))
        self.purpose = QLineEdit()
        self.basis = QComboBox()
        for code, label in BASIS_CHOICES:
            self.basis.addItem(tr(label), code)
        self.note = QLineEdit()
        self.note.setPlaceholderText(tr("「その他」のときは根拠を必ず記載（例: 児童福祉法第25条の3）"))
        self.department = QLineEdit()
        self.shown = QComboBox()
        self.shown.addItem(tr("帳票に印字する"), True)
        self.shown.addItem(tr("スコアにのみ使う（印字しない）"), False)
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        form.addRow(tr("対象"), self.target)
        form.addRow(tr("利用目的"), self.purpose)
        form.addRow(tr("法的根拠"), self.basis)
        form.addRow(tr("備考"), self.note)
        form.addRow(tr("保有課"), self.department)
        form.addRow(tr("帳票への表示"), self.shown)
        form.addRow("", self.save_btn)
        split.addWidget(box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        self.current: dict | None = None
        for w in (self.purpose, self.basis, self.note, self.department, self.shown, self.save_btn):
            w.setEnabled(False)

    def refresh(self):
        ok, rows = self.page.guard(R.purpose_table, self.page.ws)
        if not ok:
            return
        self.all = rows
        self.source_labels = {r["key"]: r["label"] for r in rows if r["kind"] == "source"}
        self.apply_filter()

    def apply_filter(self):
        kind, missing = self.kind.currentData(), self.only_missing.isChecked()
        keep = self.current
        self.model.set_rows(
            [r for r in self.all if (kind is None or r["kind"] == kind) and (not missing or r["missing"])]
        )
        n_missing = sum(1 for r in self.all if r["missing"])
        self.summary.setText(
            tr("根拠が未設定: {n} 件（赤で表示）", n=n_missing) if n_missing else tr("すべての項目に根拠があります")
        )
        self.summary.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;" if n_missing else f"color:{pal.SUCCESS};")
        _fit(self.view, 300)
        if keep is not None:
            self.select(keep["kind"], keep["key"])

    def select(self, kind: str, key: str) -> bool:
        for i, r in enumerate(self.model.rows):
            if r["kind"] == kind and r["key"] == key:
                self.view.selectRow(i)
                self._selected()
                return True
        return False

    def _selected(self):
        r = self.model.row(_selected(self.view))
        self.current = r
        if r is None:
            return
        self.target.setText(
            f"{tr('取込元') if r['kind'] == 'source' else tr('指標')}: {r['label']}"
            + (tr("　※カタログの既定値") if r.get("default") else "")
        )
        self.purpose.setText(r.get("purpose") or "")
        i = self.basis.findData(r.get("basis"))
        self.basis.setCurrentIndex(i if i >= 0 else 0)
        self.note.setText(r.get("note") or "")
        self.department.setText(r.get("department") or "")
        self.shown.setCurrentIndex(0 if r.get("shown_on_sheets") else 1)
        for w in (self.purpose, self.basis, self.note, self.department, self.shown, self.save_btn):
            w.setEnabled(self.page.can_write)

    def save(self) -> bool:
        r = self.current
        if r is None:
            self.page.say(tr("一覧から項目を選んでください。"), error=True)
            return False
        if not self.purpose.text().strip():
            self.page.say(tr("利用目的を入力してください。"), error=True)
            return False
        ok, _ = self.page.guard(
            R.set_legal_basis,
            self.page.ws,
            r["kind"],
            r["key"],
            purpose=self.purpose.text().strip(),
            basis=self.basis.currentData(),
            department=self.department.text().strip() or None,
            note=self.note.text().strip() or None,
            shown_on_sheets=bool(self.shown.currentData()),
        )
        if ok:
            self.page.say(tr("{label} の利用目的と根拠を保存しました（操作ログに記録）。", label=r["label"]))
            self.refresh()
            self.page.register.refresh()
        return ok
