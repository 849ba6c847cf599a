"""The one list model the pages share: rows of dicts shown by columns (QAbstractTableModel, not item widgets, so a
list of thousands stays fast)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from .format import when

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


class RowsModel(QAbstractTableModel):
    """Read-only rows of dicts. ``columns``: ``[(key, header)]`` or ``[(key, header, formatter)]`` where
    ``formatter(value, row) -> str``; ``background(row) -> QColor | None`` may colour a whole row. Subclasses
    refine a cell with ``cell_background(row, key)``."""

    def __init__(
        self,
        columns: list[tuple],
        rows: list[dict] | None = None,
        parent=None,
        *,
        background: Callable[[dict], QColor | None] | None = None,
    ):
        super().__init__(parent)
        self.columns = [(c[0], c[1], c[2] if len(c) > 2 else None) for c in columns]
        self.background = background
        self.rows: list[dict] = list(rows or [])

    def set_rows(self, rows) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, i: int) -> dict | None:
        return self.rows[i] if 0 <= i < len(self.rows) else None

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.columns)

    def text(self, r: int, c: int) -> str:
        key, _, fmt = self.columns[c]
        v = self.rows[r].get(key)
        if fmt is not None:
            return fmt(v, self.rows[r])
        if isinstance(v, bool):
            return "○" if v else ""
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, dt.datetime) or (isinstance(v, str) and _ISO_TIME.match(v)):
            return when(v)  # 2026年12月1日 19:19, never ISO text
        if isinstance(v, dt.date):
            return v.strftime("%Y-%m-%d")
        return "" if v is None else str(v)

    def cell_background(self, row: dict, key: str) -> QColor | None:
        return self.background(row) if self.background is not None else None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.DisplayRole, Qt.ToolTipRole):
            return self.text(index.row(), index.column())
        if role == Qt.BackgroundRole:
            return self.cell_background(self.rows[index.row()], self.columns[index.column()][0])
        return None

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return self.columns[section][1]
        return None
