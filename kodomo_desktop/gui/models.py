"""The list models the pages share: rows of dicts shown by columns (QAbstractTableModel, not item widgets, so a
list of thousands stays fast), and :class:`LazyRowsModel` for the long lists (200,000 persons: a page of rows at a
time, counted, filtered and ordered in SQL by a core query function)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from .format import when
from .i18n import tr_list

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
        """The cell as shown: a cell whose text is a label of the translation table (a status, a source, a difficulty
        type, 高/中/低, a list of them joined with ・) shows it in the current language; other text (names, schools,
        a town's own items) as it is."""
        out = self._text(r, c)
        return tr_list(out) if out and not out.isascii() else out

    def _text(self, r: int, c: int) -> str:
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


PAGE_ROWS = 200  # rows a lazy list fetches at a time as the view scrolls (canFetchMore / fetchMore)


class LazyRowsModel(RowsModel):
    """A long list read from the database a page at a time: Qt's ``canFetchMore``/``fetchMore`` ask for the next
    ``PAGE_ROWS`` rows as the view scrolls; counting, filtering and ordering run in SQL in a core query function.

    ``count(**filters) -> int`` and ``page(limit, offset, order, descending, **filters) -> list[dict]`` are the core
    functions (Qt-free, permission-checked). ``sort_keys`` maps a column key to the core function's ``order`` (columns
    without one do not sort); ``order``/``descending`` are the default. ``set_filters(**filters)`` re-counts and
    fetches the first page; ``matches`` is the count of the filtered list, ``rows`` the rows fetched so far.
    ``set_rows(rows)`` shows rows held in memory instead (``[]`` forgets everything, e.g. on lock)."""

    def __init__(
        self,
        columns: list[tuple],
        count: Callable[..., int] | None = None,
        page: Callable[..., list[dict]] | None = None,
        parent=None,
        *,
        sort_keys: dict[str, str] | None = None,
        order: str = "",
        descending: bool = False,
        page_rows: int = PAGE_ROWS,
        background: Callable[[dict], QColor | None] | None = None,
    ):
        super().__init__(columns, [], parent, background=background)
        self._count, self._page = count, page
        self.sort_keys = dict(sort_keys or {})
        self.order, self.descending = order, descending
        self.page_rows = page_rows
        self.filters: dict = {}
        self.matches = 0
        self.fetches = 0  # pages read from the database since the last refill (tests check the list stays lazy)
        self.lazy = False

    # -- data ------------------------------------------------------------------------------------------------------
    def set_source(self, count: Callable[..., int], page: Callable[..., list[dict]]) -> None:
        self._count, self._page = count, page

    def set_rows(self, rows) -> None:
        """Rows held in memory (no fetching); ``[]`` forgets every fetched row."""
        self.beginResetModel()
        self.lazy = False
        self.rows = list(rows)
        self.matches = len(self.rows)
        self.endResetModel()

    def set_filters(self, **filters) -> int:
        """Count the list with these filters (one call of ``count``) and fetch its first page; returns the count."""
        self.filters = dict(filters)
        return self.refill()

    def refill(self) -> int:
        if self._count is None or self._page is None:
            self.set_rows([])
            return 0
        self.beginResetModel()
        self.lazy = True
        self.rows = []
        self.fetches = 0
        self.matches = int(self._count(**self.filters))
        self._load(self.page_rows)
        self.endResetModel()
        return self.matches

    def _load(self, n: int) -> list[dict]:
        start = len(self.rows)
        want = min(self.matches, start + n)
        if want <= start:
            return []
        new = list(self._page(want - start, start, self.order, self.descending, **self.filters))
        self.fetches += 1
        self.rows += new
        if len(new) < want - start:  # rows gone since the count (deleted meanwhile)
            self.matches = len(self.rows)
        return new

    def sort(self, column: int, order=Qt.AscendingOrder):
        key = self.sort_keys.get(self.columns[column][0]) if 0 <= column < len(self.columns) else None
        if key is None:
            return
        desc = order == Qt.DescendingOrder
        if (key, desc) == (self.order, self.descending):
            return
        self.order, self.descending = key, desc
        if self.lazy:
            self.refill()

    def canFetchMore(self, parent=QModelIndex()):
        return self.lazy and not parent.isValid() and len(self.rows) < self.matches

    def fetchMore(self, parent=QModelIndex()):
        if parent.isValid() or not self.canFetchMore():
            return
        start = len(self.rows)
        want = min(self.matches, start + self.page_rows)
        self.beginInsertRows(QModelIndex(), start, want - 1)
        new = self._load(self.page_rows)
        self.endInsertRows()
        if len(new) < want - start:  # fewer than announced: tell the view the real length
            self.beginResetModel()
            self.endResetModel()

    def ensure(self, row: int) -> None:
        """Fetch up to ``row`` (or the end of the list) in one read: whole pages, one query, one insertion."""
        if row < len(self.rows) or not self.canFetchMore():
            return
        start = len(self.rows)
        n = -(-(row + 1 - start) // self.page_rows) * self.page_rows
        want = min(self.matches, start + n)
        self.beginInsertRows(QModelIndex(), start, want - 1)
        new = self._load(n)
        self.endInsertRows()
        if len(new) < want - start:  # fewer than announced: tell the view the real length
            self.beginResetModel()
            self.endResetModel()

    def row_at(self, i: int) -> dict | None:
        if i < 0:
            return None
        self.ensure(i)
        return self.row(i)

    def find(self, pred: Callable[[dict], bool], limit: int | None = None) -> int:
        """The first fetched row (fetching further up to ``limit`` rows) for which ``pred`` holds, -1 if none."""
        i = 0
        while True:
            if i >= len(self.rows):
                if (limit is not None and i >= limit) or not self.canFetchMore():
                    return -1
                self.fetchMore()
                if i >= len(self.rows):
                    return -1
            if pred(self.rows[i]):
                return i
            i += 1
