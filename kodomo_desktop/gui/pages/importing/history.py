"""「取込の履歴」: every batch, lazily listed, with its rejected rows; removing a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.errors import KodomoError
from ....core.importing import fields as F
from ....core.importing import service as S
from ... import palette as pal
from ...i18n import tr
from ...models import LazyRowsModel
from ...widgets import Notice

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


from .common import _lazy_view


class HistoryView(QWidget):
    """Every batch (newest first); the selected batch's rejected rows; removing a batch in two steps (no dialog).

    Both lists fetch a page at a time as they scroll and are filtered and ordered in SQL (``batch_count`` /
    ``batch_page``, ``rejected_count`` / ``rejected_page``): years of monthly school extracts, and a bad file's tens
    of thousands of rejected rows, open at once."""

    def __init__(self, ws: Workspace):
        super().__init__()
        self.ws = ws
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.source = QComboBox()
        self.source.addItem(tr("（すべての取込元）"), None)
        for st, meta in F.SOURCE_TYPES.items():
            self.source.addItem(tr(meta.get("label", st)), st)
        self.source.currentIndexChanged.connect(lambda *_: self.refresh())
        bar.addWidget(self.source)
        self.query = QLineEdit()
        self.query.setPlaceholderText(tr("ファイル名・取込番号で絞り込む"))
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.refresh)
        bar.addWidget(self.query, 1)
        self.count = QLabel()
        bar.addWidget(self.count)
        lay.addLayout(bar)
        self.model = LazyRowsModel(
            [
                ("batch_id", tr("番号")),
                ("label", tr("取込元")),
                ("file_name", tr("ファイル")),
                ("as_of", tr("時点")),
                ("imported_at", tr("取込日時")),
                ("imported_by", tr("取込者")),
                ("imported", tr("取込行")),
                ("rejected", tr("除外行")),
                ("current", tr("最新")),
            ],
            lambda **f: S.batch_count(self.ws, **f),
            lambda limit, offset, order, desc, **f: S.batch_page(self.ws, limit, offset, order, desc, **f),
            self,
            sort_keys={k: k for k in S.BATCH_ORDERS} | {"batch_id": "id", "label": "source_type"},
            order="id",
            descending=True,
        )
        self.view = _lazy_view(self.model, (60, 130, 300, 90, 150, 90, 70, 70))
        self.view.horizontalHeader().setSortIndicator(0, Qt.DescendingOrder)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.show_batch())
        lay.addWidget(self.view, 3)
        drow = QHBoxLayout()
        self.detail_title = QLabel()
        drow.addWidget(self.detail_title, 1)
        self.rejected_query = QLineEdit()
        self.rejected_query.setPlaceholderText(tr("列・理由・行で絞り込む"))
        self.rejected_query.setClearButtonEnabled(True)
        self.rejected_query.returnPressed.connect(self.show_batch)
        drow.addWidget(self.rejected_query)
        lay.addLayout(drow)
        self.rejected = LazyRowsModel(
            [("row", tr("行")), ("column", tr("列")), ("message", tr("理由"))],
            parent=self,
            sort_keys={"row": "row", "column": "column", "message": "message"},
            order="row",
        )
        self.rejected_view = _lazy_view(self.rejected, (70, 160))
        self.rejected_view.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        lay.addWidget(self.rejected_view, 2)
        row = QHBoxLayout()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("取り消す理由（例: 別の課のファイルを誤って取り込んだ）"))
        row.addWidget(self.reason, 1)
        self.remove_btn = QPushButton(tr("このバッチを取り消す…"))
        self.remove_btn.clicked.connect(lambda: self.remove_selected())
        row.addWidget(self.remove_btn)
        self.confirm_btn = QPushButton(tr("取り消しを確定"))
        self.confirm_btn.setStyleSheet(f"color:{pal.ERROR};font-weight:bold;")
        self.confirm_btn.clicked.connect(lambda: self.remove_selected(confirm=True))
        self.confirm_btn.setVisible(False)
        row.addWidget(self.confirm_btn)
        lay.addLayout(row)
        self.notice = Notice("batchNotice")
        lay.addWidget(self.notice)
        self.refresh()

    def refresh(self):
        if self.ws.locked:
            return
        n = self.model.set_filters(source_type=self.source.currentData(), query=self.query.text().strip() or None)
        total = S.batch_count(self.ws) if self.source.currentData() or self.query.text().strip() else n
        self.count.setText(tr("{n} 件", n=n) if n == total else tr("{total} 件中 {n} 件", total=total, n=n))
        self.show_batch()

    def selected(self) -> dict | None:
        i = self.view.currentIndex()
        return self.model.row(i.row()) if i.isValid() else None

    def select_batch(self, batch_id: int) -> None:
        n = self.model.find(lambda r: r["batch_id"] == batch_id)
        if n >= 0:
            self.view.selectRow(n)
            self.view.setCurrentIndex(self.model.index(n, 0))
            self.view.scrollTo(self.model.index(n, 0))

    def show_batch(self):
        b = self.selected()
        self.confirm_btn.setVisible(False)
        can = self.ws.can("import")
        self.remove_btn.setEnabled(bool(b) and can and not (b or {}).get("removed"))
        if not b or not can:
            self.detail_title.setText(tr("バッチを選ぶと、除外した行とその理由が表示されます。"))
            self.rejected.set_rows([])
            return
        bid = b["batch_id"]
        self.rejected.set_source(
            lambda **f: S.rejected_count(self.ws, bid, **f),
            lambda limit, offset, order, desc, **f: S.rejected_page(self.ws, bid, limit, offset, order, desc, **f),
        )
        q = self.rejected_query.text().strip()
        n = self.rejected.set_filters(query=q or None)
        title = tr("{f}：除外した行 {n} 件", f=b["file_name"], n=b["rejected"] or 0)
        if q:
            title += "　" + tr("（絞り込み {n} 件）", n=n)
        self.detail_title.setText(title)

    def remove_selected(self, confirm: bool = False):
        """First press: check and ask for confirmation on the page; second press (確定): remove and log."""
        b = self.selected()
        if not b:
            return None
        if not self.reason.text().strip():
            self.notice.error(tr("取り消す理由を入力してください。"))
            return None
        if not confirm:
            self.notice.info(
                tr(
                    "{f}（{n} 行）を取り消します。記録は一覧と名寄せから外れ、履歴には残ります。"
                    "よければ「取り消しを確定」を押してください。",
                    f=b["file_name"],
                    n=b["imported"],
                )
            )
            self.confirm_btn.setVisible(True)
            return None
        try:
            res = S.remove_batch(self.ws, b["batch_id"], self.reason.text().strip())
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.reason.clear()
        again = res.get("current_again") or []
        self.notice.info(
            tr(
                "取り消しました（{n} 行、操作ログに記録）。名寄せとスコアは次の実行で更新されます。",
                n=res["removed_records"],
            )
            + (
                "　" + tr("前の抽出（取込番号 {ids}）が最新に戻りました。", ids="、".join(map(str, again)))
                if again
                else ""
            )
        )
        self.refresh()
        return res
