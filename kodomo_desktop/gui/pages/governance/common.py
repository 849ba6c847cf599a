"""What the 個人情報保護 tabs share: legal-basis labels, row colours, table and date helpers."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QAbstractTableModel, QDate
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableView,
)

from ....core.importing.fields import SOURCE_TYPES
from ... import palette as pal
from ...format import when
from ...models import RowsModel as _RowsModel

BASIS_SHORT = {"61-1": "61条1項", "69-2-2": "69条2項2号", "69-2-3": "69条2項3号", "other": "その他"}
BASIS_CHOICES = [
    ("61-1", "61条1項（所掌事務の範囲内での保有・利用）"),
    ("69-2-2", "69条2項2号（庁内での目的外利用・相当の理由）"),
    ("69-2-3", "69条2項3号（他の機関への提供・相当の理由）"),
    ("other", "その他（備考に根拠を記載）"),
]
MISSING_BG = QColor(pal.MISSING_BG)
EXPIRED_BG = QColor(pal.TINT_AMBER)


def source_label(st: str | None) -> str:
    return (SOURCE_TYPES.get(st or "") or {}).get("label", st or "")


def _when(v, r=None) -> str:
    return when(v)


def fiscal_year(on: dt.date | None = None) -> int:
    on = on or dt.date.today()
    return on.year if on.month >= 4 else on.year - 1


def _qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _pydate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


class RowsModel(_RowsModel):
    """Rows of dicts shown by ``columns`` ``[(key, header, formatter or None)]``; ``background(row)`` may colour a
    row (e.g. a source without a legal basis)."""

    def __init__(self, columns: list[tuple], background=None):
        super().__init__(columns, background=background)


def _view(model: QAbstractTableModel, stretch: int | None = None) -> QTableView:
    v = QTableView()
    v.setModel(model)
    v.setSelectionBehavior(QAbstractItemView.SelectRows)
    v.setSelectionMode(QAbstractItemView.SingleSelection)
    v.setEditTriggers(QAbstractItemView.NoEditTriggers)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.setWordWrap(False)
    h = v.horizontalHeader()
    h.setSectionResizeMode(QHeaderView.Interactive)
    h.setStretchLastSection(stretch is None)
    if stretch is not None:
        h.setSectionResizeMode(stretch, QHeaderView.Stretch)
    return v


def _selected(view: QTableView) -> int:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    return rows[0].row() if rows else -1


def _fit(view: QTableView, max_width: int = 260) -> None:
    view.resizeColumnsToContents()
    for c in range(view.model().columnCount()):
        if view.columnWidth(c) > max_width:
            view.setColumnWidth(c, max_width)
