"""The list models the pages share: rows of dicts shown by columns (QAbstractTableModel, not item widgets, so a
list of thousands stays fast), and :class:`LazyRowsModel` for the long lists (200,000 persons: a page of rows at a
time, counted, filtered and ordered in SQL by a core query function)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from . import roles as R
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
        row = self.rows[r]
        if row is None:  # a lazy list's row deleted since it was counted
            return ""
        v = row.get(key)
        if fmt is not None:
            return fmt(v, row)
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

    def data(self, index, role=R.DISPLAY):
        if role in R.DISPLAY_OR_TOOLTIP:
            return self.text(index.row(), index.column()) if index.isValid() else None
        if role == R.BACKGROUND and index.isValid():
            row = self.rows[index.row()]
            return self.cell_background(row, self.columns[index.column()][0]) if row is not None else None
        return None

    def headerData(self, section, orientation, role=R.DISPLAY):
        if role == R.DISPLAY and orientation == R.HORIZONTAL:
            return self.columns[section][1]
        return None


PAGE_ROWS = 200  # rows a lazy list fetches at a time as the view scrolls (canFetchMore / fetchMore)

_GONE = object()  # a row of a page that came back short (deleted since the count): shown empty, not asked for again


class LazyPages:
    """The rows of a lazy list, read like a list: a row not fetched yet (a jump far down skips the pages between)
    is fetched with its page the first time it is read — by the view painting it, ``row(i)``, ``rows[i]`` or an
    iteration. ``fill(i)`` fetches the page holding row ``i`` and stores it with :meth:`put`."""

    def __init__(self, fill: Callable[[int], None]):
        self._rows: list = []
        self._fill = fill

    def __len__(self) -> int:
        return len(self._rows)

    def fetched(self, i: int) -> bool:
        return self._rows[i] is not None

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self._rows)))]
        if i < 0:
            i += len(self._rows)
        if self._rows[i] is None:
            self._fill(i)
            if self._rows[i] is None:
                self._rows[i] = _GONE
        r = self._rows[i]
        return None if r is _GONE else r

    def __iter__(self):
        for i in range(len(self._rows)):
            yield self[i]

    def __eq__(self, other) -> bool:
        return isinstance(other, (list, LazyPages)) and list(self) == list(other)

    def extend(self, rows) -> None:
        self._rows.extend(rows)

    def __iadd__(self, rows):
        self._rows.extend(rows)
        return self

    def pad(self, n: int) -> None:
        """Room for ``n`` more rows, not fetched yet."""
        self._rows.extend([None] * n)

    def put(self, start: int, rows: list) -> None:
        """Rows fetched from ``start`` on, stored where nothing was fetched yet."""
        for k, r in enumerate(rows[: max(0, len(self._rows) - start)]):
            if self._rows[start + k] is None:
                self._rows[start + k] = r

    def truncate(self, n: int) -> None:
        del self._rows[n:]


class LazyRowsModel(RowsModel):
    """A long list read from the database a page at a time: Qt's ``canFetchMore``/``fetchMore`` ask for the next
    ``PAGE_ROWS`` rows as the view scrolls; counting, filtering and ordering run in SQL in a core query function.

    ``count(**filters) -> int`` and ``page(limit, offset, order, descending, **filters) -> list[dict]`` are the core
    functions (Qt-free, permission-checked). ``sort_keys`` maps a column key to the core function's ``order`` (columns
    without one do not sort); ``order``/``descending`` are the default. ``set_filters(**filters)`` re-counts and
    fetches the first page; ``matches`` is the count of the filtered list, ``rows`` the rows up to the furthest one
    fetched. A jump far down (``ensure``: 5,000 or 100,000 rows deep) fetches only the page it lands on; the pages
    skipped are fetched when they are read (painted while scrolling back, ``row(i)``): a jump costs one page, never
    every row above it. ``set_rows(rows)`` shows rows held in memory instead (``[]`` forgets everything, e.g. on
    lock)."""

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
        self.rows = LazyPages(self._fill)  # type: ignore[assignment]  # a list of rows, read like one
        self.fetches = 0
        self.matches = int(self._count(**self.filters))
        self._load(self.page_rows)
        self.endResetModel()
        return self.matches

    def _fetch(self, limit: int, offset: int) -> list[dict]:
        assert self._page is not None
        self.fetches += 1
        return list(self._page(limit, offset, self.order, self.descending, **self.filters))

    def _load(self, n: int) -> list[dict]:
        start = len(self.rows)
        want = min(self.matches, start + n)
        if want <= start:
            return []
        new = self._fetch(want - start, start)
        self.rows += new
        if len(new) < want - start:  # rows gone since the count (deleted meanwhile)
            self.matches = len(self.rows)
        return new

    def _fill(self, i: int) -> None:
        """Fetch the page holding row ``i`` (skipped by a jump further down)."""
        if not self.lazy or not isinstance(self.rows, LazyPages):
            return
        start = i - i % self.page_rows
        self.rows.put(start, self._fetch(self.page_rows, start))

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
        """Make ``row`` readable: the next page read on from the end, or — further down — only the page holding
        ``row``, the rows between left to be fetched when read. One query, one insertion."""
        if row < len(self.rows):
            if self.lazy and isinstance(self.rows, LazyPages) and not self.rows.fetched(row):
                self._fill(row)
            return
        if not self.canFetchMore():
            return
        row = min(row, self.matches - 1)
        start = len(self.rows)
        if row < start + self.page_rows:
            self.fetchMore()
            return
        assert isinstance(self.rows, LazyPages)
        first = row - row % self.page_rows
        want = min(self.matches, first + self.page_rows)
        self.beginInsertRows(QModelIndex(), start, want - 1)
        self.rows.pad(want - start)
        new = self._fetch(want - first, first)
        self.rows.put(first, new)
        self.endInsertRows()
        if len(new) < want - first:  # the list is shorter than counted (deleted meanwhile): its real length
            assert self._count is not None
            n = first + len(new) if new else min(first, int(self._count(**self.filters)))
            self.beginResetModel()
            self.rows.truncate(n)
            self.matches = len(self.rows)
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
            r = self.rows[i]
            if r is not None and pred(r):
                return i
            i += 1
