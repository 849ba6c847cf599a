"""個人情報保護 → 個人情報ファイル簿: the register draft and the resident notice."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core.governance import documents as G
from ....core.governance import register as R
from ...i18n import tr
from .common import (
    BASIS_SHORT,
    RowsModel,
    _fit,
    _view,
)

if TYPE_CHECKING:
    from . import GovernancePage


# --- 個人情報ファイル簿 ------------------------------------------------------------------------------------------------
class RegisterTab(QWidget):
    def __init__(self, page: GovernancePage):
        super().__init__()
        self.page = page
        self.data: dict | None = None
        self.saved: dict | None = None
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        bar.addWidget(self.heading, 1)
        self.xlsx_btn = QPushButton(tr("Excelで保存…"))
        self.xlsx_btn.clicked.connect(lambda: self.save_xlsx())
        self.pdf_btn = QPushButton(tr("PDFで保存…"))
        self.pdf_btn.clicked.connect(lambda: self.save_pdf())
        bar.addWidget(self.xlsx_btn)
        bar.addWidget(self.pdf_btn)
        lay.addLayout(bar)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.facts)
        self.model = RowsModel(
            [
                ("label", tr("取込元")),
                ("department", tr("保有課")),
                ("persons", tr("人数")),
                ("rows", tr("行数")),
                ("basis", tr("根拠"), lambda v, r: BASIS_SHORT.get(r.get("basis_code") or "", v or "")),
                ("purpose", tr("利用目的")),
                ("retention_months", tr("保存期間"), lambda v, r: tr("{m}か月", m=v) if v else ""),
                ("items", tr("記録項目")),
            ]
        )
        self.view = _view(self.model)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.view)
        nbox = QGroupBox(tr("住民向けのお知らせ（案）— ウェブサイト・広報誌用"))
        nl = QVBoxLayout(nbox)
        self.notice_text = QPlainTextEdit()
        self.notice_text.setReadOnly(True)
        nl.addWidget(self.notice_text)
        copy = QPushButton(tr("お知らせをコピー"))
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.notice_text.toPlainText()))
        nl.addWidget(copy, 0, Qt.AlignRight)
        split.addWidget(nbox)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)

    def refresh(self):
        ok, reg = self.page.guard(R.file_register, self.page.ws)
        if not ok:
            return
        self.data = reg
        self.heading.setText(
            f"<b>{tr('個人情報ファイル簿（案）')}</b>　{reg['town']}　"
            + tr("データベースの内容から作成した下書きです。公表前に内容を確認してください。")
        )
        self.facts.setText(
            tr(
                "名称: {f}　／　利用目的: {p}<br>記録範囲: {k}　登録人数 <b>{n}</b> 人（うち 0〜18 歳 {c} 人、"
                "利用停止 {o} 件）<br>経常的提供先: {r}",
                f=reg["file_name"],
                p=reg["purpose"],
                k=reg["kinds_of_persons"],
                n=reg["persons_total"],
                c=reg["children"],
                o=reg["opt_outs"],
                r=reg["recipients"],
            )
        )
        self.model.set_rows(reg["items"])
        _fit(self.view, 280)
        ok, text = self.page.guard(R.resident_notice, self.page.ws)
        if ok:
            self.notice_text.setPlainText(text)

    def save_xlsx(self, path: str | Path | None = None):
        path = path or self.page.ask_path(
            tr("個人情報ファイル簿（Excel）"), "個人情報ファイル簿.xlsx", "Excel (*.xlsx)"
        )
        if not path:
            return None
        return self.page.run(
            tr("個人情報ファイル簿"),
            lambda progress: G.file_register_xlsx(self.page.ws, Path(path)),
            lambda res: self._saved(path, res),
        )

    def save_pdf(self, path: str | Path | None = None):
        path = path or self.page.ask_path(tr("個人情報ファイル簿（PDF）"), "個人情報ファイル簿.pdf", "PDF (*.pdf)")
        if not path:
            return None
        return self.page.run(
            tr("個人情報ファイル簿"),
            lambda progress: G.file_register_pdf(self.page.ws, Path(path)),
            lambda res: self._saved(path, res),
        )

    def _saved(self, path, res):
        self.saved = {"path": str(path), **res}
        pages = tr("（{n} ページ）", n=res["pages"]) if res.get("pages") else ""
        self.page.say(tr("保存しました: {p}{pages}", p=path, pages=pages))
