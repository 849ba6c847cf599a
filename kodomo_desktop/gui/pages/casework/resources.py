"""会議 → 接続先リスト: the local resources directory used in directions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ....core.casework import service as C
from ....core.errors import KodomoError
from ...i18n import tr
from .common import DictTableModel, Notice, _msg, table_view

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- 接続先リスト -------------------------------------------------------------------------------------------------------
class ResourcesTab(QWidget):
    def __init__(self, ws: Workspace, main, on_change=None):
        super().__init__()
        self.ws, self.on_change = ws, on_change
        self.current_id: int | None = None
        lay = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(QLabel(tr("地域の接続先（方向性・主担当機関を選ぶときに使います）")))
        self.model = DictTableModel(
            [
                ("name", tr("名称")),
                ("category", tr("分野")),
                ("contact", tr("連絡先")),
                ("note", tr("備考")),
                ("active", tr("使用中")),
            ]
        )
        self.view = table_view(self.model)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.clicked.connect(lambda i: self.edit(self.model.rows[i.row()]))
        left.addWidget(self.view)
        lay.addLayout(left, 3)
        box = QGroupBox(tr("接続先の編集"))
        f = QFormLayout(box)
        self.name, self.category, self.contact, self.note = QLineEdit(), QLineEdit(), QLineEdit(), QLineEdit()
        self.active = QCheckBox(tr("使用中"))
        self.active.setChecked(True)
        new = QPushButton(tr("新規"))
        new.clicked.connect(lambda: self.edit(None))
        save = QPushButton(tr("保存"))
        save.clicked.connect(self.save)
        for l, w in (
            ("名称", self.name),
            ("分野", self.category),
            ("連絡先", self.contact),
            ("備考", self.note),
            ("", self.active),
        ):
            f.addRow(tr(l), w)
        row = QHBoxLayout()
        row.addWidget(new)
        row.addWidget(save)
        f.addRow(row)
        self.notice = Notice()
        f.addRow(self.notice)
        lay.addWidget(box, 2)
        self.refresh()

    def refresh(self):
        self.model.set_rows(C.resources(self.ws, include_inactive=True))

    def edit(self, row: dict | None):
        row = row or {}
        self.current_id = row.get("id")
        self.name.setText(row.get("name") or "")
        self.category.setText(row.get("category") or "")
        self.contact.setText(row.get("contact") or "")
        self.note.setText(row.get("note") or "")
        self.active.setChecked(row.get("active", True))

    def save(self) -> int | None:
        try:
            rid = C.save_resource(
                self.ws,
                self.name.text(),
                self.category.text().strip() or None,
                self.contact.text().strip() or None,
                self.note.text().strip() or None,
                resource_id=self.current_id,
                active=self.active.isChecked(),
            )
        except KodomoError as e:
            self.notice.error(_msg(e))
            return None
        self.current_id = rid
        self.refresh()
        self.notice.info(tr("保存しました。"))
        if self.on_change:
            self.on_change()
        return rid
