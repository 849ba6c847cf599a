"""「つながらなかった行」: the rows no registry person was linked to, lazily listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ....core.calendar import wareki
from ....core.errors import KodomoError
from ...i18n import tr
from ...widgets import DictTableModel, Notice, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


class UnlinkedView(QWidget):
    """Rows 名寄せ left unlinked: pick one, find the person (candidates by name, kana, birth date — or search),
    and link it, or mark "not in our registry". Decisions stick across re-runs (the review queue's decisions)."""

    def __init__(self, ws: Workspace):
        super().__init__()
        from ....core.linkage import unlinked as U

        self.ws, self.U = ws, U
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel(
                tr(
                    "名寄せで誰にもつながらなかった行です。行を選び、候補から本人を選んでつなぐか、この町の住民でない方なら「住民ではない」としてください。"
                )
            )
        )
        self.model = DictTableModel(
            [
                ("source", tr("取込元")),
                ("file_name", tr("ファイル")),
                ("row", tr("行")),
                ("name", tr("氏名")),
                ("name_kana", tr("カナ")),
                ("birth_text", tr("生年月日")),
                ("address", tr("住所")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.selectionModel().currentRowChanged.connect(lambda *_: self.show_candidates())
        lay.addWidget(self.view, 3)
        srow = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setPlaceholderText(tr("氏名・カナ・宛名番号で探す"))
        self.query.returnPressed.connect(lambda: self.show_candidates())
        srow.addWidget(self.query, 1)
        find = QPushButton(tr("探す"))
        find.clicked.connect(lambda: self.show_candidates())
        srow.addWidget(find)
        lay.addLayout(srow)
        self.cands = DictTableModel(
            [
                ("name", tr("氏名")),
                ("name_kana", tr("カナ")),
                ("birth_text", tr("生年月日")),
                ("address", tr("住所")),
                ("registry", tr("住民基本台帳")),
            ]
        )
        self.cand_view = table_view(self.cands)
        self.cand_view.setSelectionMode(QAbstractItemView.SingleSelection)
        lay.addWidget(self.cand_view, 2)
        brow = QHBoxLayout()
        self.link_btn = QPushButton(tr("この人につなぐ"))
        self.link_btn.clicked.connect(lambda: self.link_selected())
        self.none_btn = QPushButton(tr("この町の住民ではない"))
        self.none_btn.clicked.connect(lambda: self.not_in_registry())
        brow.addStretch(1)
        brow.addWidget(self.none_btn)
        brow.addWidget(self.link_btn)
        lay.addLayout(brow)
        self.notice = Notice("unlinkedNotice")
        lay.addWidget(self.notice)
        self.enabled = ws.can("link.review")
        for w in (self.link_btn, self.none_btn):
            w.setEnabled(self.enabled)

    def refresh(self):
        if not self.enabled:
            self.model.set_rows([])
            self.notice.info(tr("この役割では、つながらなかった行は扱えません。"))
            return
        rows = self.U.unlinked_rows(self.ws)
        for r in rows:
            r["birth_text"] = wareki(r["birth_date"])
        self.model.set_rows(rows)
        self.cands.set_rows([])
        if not rows:
            self.notice.info(tr("つながらなかった行はありません（名寄せを実行した後の状態です）。"))

    def selected(self) -> dict | None:
        i = self.view.currentIndex()
        return self.model.row(i.row()) if i.isValid() else None

    def select_row(self, n: int) -> None:
        self.view.selectRow(n)
        self.view.setCurrentIndex(self.model.index(n, 0))

    def show_candidates(self):
        r = self.selected()
        q = self.query.text().strip()
        if not r and not q:
            self.cands.set_rows([])
            return
        rows = self.U.person_candidates(self.ws, r["record_id"] if r else None, q)
        for p in rows:
            p["birth_text"] = wareki(p["birth_date"])
            p["registry"] = tr("あり") if p["in_registry"] else tr("転出など")
        self.cands.set_rows(rows)

    def link_selected(self, candidate: int | None = None):
        r = self.selected()
        i = self.cand_view.currentIndex() if candidate is None else self.cands.index(candidate, 0)
        if not r or not i.isValid():
            self.notice.error(tr("つなぐ行と、候補の人を選んでください。"))
            return None
        p = self.cands.row(i.row())
        try:
            did = self.U.link_to_person(self.ws, r["record_id"], p["person_id"])
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.notice.info(
            tr("{row} 行目を {name} さんにつなぎました（次の名寄せでも保たれます）。", row=r["row"], name=p["name"])
        )
        self.refresh()
        return did

    def not_in_registry(self):
        r = self.selected()
        if not r:
            self.notice.error(tr("行を選んでください。"))
            return None
        try:
            did = self.U.not_in_registry(self.ws, r["record_id"])
        except KodomoError as e:
            self.notice.error(e.message_ja)
            return None
        self.notice.info(tr("{row} 行目を「この町の住民ではない」としました。", row=r["row"]))
        self.refresh()
        return did
