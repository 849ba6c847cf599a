"""個人情報保護 → 自己点検: the annual self-inspection and its report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
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

from ....core.governance import documents as G
from ....core.governance import register as R
from ....core.security.roles import ROLES
from ....core.vocab import source_label
from ...i18n import tr
from .common import (
    MISSING_BG,
    RowsModel,
    _view,
    _when,
    fiscal_year,
)

if TYPE_CHECKING:
    from . import GovernancePage

# --- 自己点検 ------------------------------------------------------------------------------------------------------
ANSWERS = [("未回答", None), ("はい", True), ("いいえ", False)]


class InspectionTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.auto: dict | None = None
        self.saved: dict | None = None
        self.printed: dict | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(tr("年度")))
        self.year = QSpinBox()
        self.year.setRange(2000, 2100)
        self.year.setValue(fiscal_year())
        self.year.setSuffix(tr(" 年度"))
        self.year.valueChanged.connect(lambda _v: self.load())
        bar.addWidget(self.year)
        self.state = QLabel()
        bar.addWidget(self.state, 1)
        self.save_btn = QPushButton(tr("保存"))
        self.save_btn.clicked.connect(lambda: self.save())
        self.pdf_btn = QPushButton(tr("報告書をPDFで保存…"))
        self.pdf_btn.clicked.connect(lambda: self.print_pdf())
        bar.addWidget(self.save_btn)
        bar.addWidget(self.pdf_btn)
        lay.addLayout(bar)
        split = QSplitter(Qt.Horizontal)
        abox = QGroupBox(tr("データベースから自動で点検した項目"))
        al = QVBoxLayout(abox)
        self.auto_model = RowsModel(
            [("item", tr("点検項目")), ("result", tr("結果")), ("ok", tr("状態"), lambda v, r: "○" if v else "×")],
            background=lambda r: None if r["ok"] else MISSING_BG,
        )
        self.auto_view = _view(self.auto_model, stretch=1)
        self.auto_view.setWordWrap(True)
        al.addWidget(self.auto_view, 1)
        again = QPushButton(tr("もう一度点検"))
        again.clicked.connect(lambda: self.refresh_auto())
        al.addWidget(again, 0, Qt.AlignRight)
        split.addWidget(abox)
        mbox = QGroupBox(tr("個人情報保護担当が回答する項目"))
        grid = QGridLayout(mbox)
        grid.addWidget(QLabel(tr("点検項目")), 0, 0)
        grid.addWidget(QLabel(tr("回答")), 0, 1)
        grid.addWidget(QLabel(tr("備考")), 0, 2)
        self.items: dict[str, tuple[QComboBox, QLineEdit]] = {}
        for i, (key, label) in enumerate(R.MANUAL_ITEMS, 1):
            q = QLabel(tr(label))
            q.setWordWrap(True)
            combo = QComboBox()
            for text, val in ANSWERS:
                combo.addItem(tr(text), val)
            note = QLineEdit()
            grid.addWidget(q, i, 0)
            grid.addWidget(combo, i, 1)
            grid.addWidget(note, i, 2)
            self.items[key] = (combo, note)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(2, 2)
        grid.setRowStretch(len(R.MANUAL_ITEMS) + 1, 1)
        split.addWidget(mbox)
        split.setSizes([620, 740])
        lay.addWidget(split, 1)

    def refresh(self):
        self.refresh_auto()
        self.load()

    def page_shown(self):
        self.refresh_auto()

    def refresh_auto(self):
        ok, a = self.page.guard(R.self_inspection_auto, self.page.ws)
        if not ok:
            return
        self.auto = a
        idle = a["users_without_sign_in_for_a_year"]
        rows = [
            {"item": tr("1年以上サインインのない利用者"), "result": tr("、").join(idle) or tr("なし"), "ok": not idle},
            {
                "item": tr("役割ごとの利用者数"),
                "result": tr("、").join(
                    tr("{role} {n} 人", role=tr(ROLES.get(k, k)), n=v) for k, v in a["roles"].items()
                ),
                "ok": True,
            },
            {
                "item": tr("最後のバックアップ"),
                "result": str(a["last_backup_at"] or tr("未実施")),
                "ok": bool(a["last_backup_at"]),
            },
            {
                "item": tr("操作ログの連鎖"),
                "result": tr("{n} 件、正常", n=a["log_entries"])
                if a["log_chain_ok"]
                else tr("{n} 番で切れています", n=a["first_broken_entry"]),
                "ok": a["log_chain_ok"],
            },
            {
                "item": tr("根拠が未設定の取込元"),
                "result": tr("、").join(tr(source_label(k)) for k in a["sources_without_legal_basis"]) or tr("なし"),
                "ok": not a["sources_without_legal_basis"],
            },
            {
                "item": tr("保存期間を過ぎた未削除のデータ"),
                "result": tr(
                    "{n} ファイル、ケース記録 {c} 件", n=a["expired_not_purged"], c=a.get("expired_cases_not_purged", 0)
                ),
                "ok": a["expired_not_purged"] == 0 and not a.get("expired_cases_not_purged"),
            },
        ]
        self.auto_model.set_rows(rows)
        self.auto_view.resizeColumnToContents(0)
        self.auto_view.resizeRowsToContents()

    def load(self):
        ok, saved = self.page.guard(R.load_self_inspection, self.page.ws, self.year.value())
        if not ok:
            return
        manual = (saved or {}).get("manual", {})
        for key, (combo, note) in self.items.items():
            combo.setCurrentIndex(combo.findData(manual.get(key)) if manual.get(key) is not None else 0)
            note.setText(manual.get(f"{key}_note", "") or "")
        if saved:
            self.state.setText(tr("保存済み（{by}、{at}）", by=saved["saved_by"] or "", at=_when(saved["saved_at"])))
        else:
            self.state.setText(tr("この年度はまだ保存されていません。"))

    def set_answer(self, key: str, value: bool | None, note: str = "") -> None:
        combo, edit = self.items[key]
        combo.setCurrentIndex(combo.findData(value) if value is not None else 0)
        edit.setText(note)

    def answers(self) -> dict:
        out = {}
        for key, (combo, note) in self.items.items():
            v = combo.currentData()
            if v is not None:
                out[key] = bool(v)
            if note.text().strip():
                out[f"{key}_note"] = note.text().strip()
        return out

    def save(self) -> bool:
        ok, res = self.page.guard(R.save_self_inspection, self.page.ws, self.year.value(), self.answers())
        if ok:
            self.saved = res
            self.page.say(tr("{y} 年度の自己点検を保存しました。", y=self.year.value()))
            self.load()
            self.refresh_auto()
        return ok

    def print_pdf(self, path: str | Path | None = None):
        year = self.year.value()
        path = path or self.page.ask_path(tr("自己点検報告書（PDF）"), f"自己点検報告書_{year}年度.pdf", "PDF (*.pdf)")
        if not path:
            return None
        if not self.save():  # the report prints what is saved
            return None
        return self.page.run(
            tr("自己点検報告書"), lambda progress: G.self_inspection_pdf(self.page.ws, year, Path(path)), self._printed
        )

    def _printed(self, res):
        self.printed = res
        self.page.say(tr("自己点検報告書を保存しました（{n} ページ）。", n=res["pages"]))
