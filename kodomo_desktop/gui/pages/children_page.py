"""こども一覧: every child aged 0–18 in a QAbstractTableModel, searched by 氏名・カナ・宛名番号, and the child page.

Fast at 200,000 persons: the model fetches lazily (``canFetchMore``/``fetchMore``, ``PAGE_ROWS`` rows at a time);
counting, ordering and searching run in SQL over a covering index (``persons.child_count``/``child_ids``), and a
page's rows — with the current school of just those children — come from ``persons.child_rows``. Rows held in
memory (``set_rows``, e.g. ``[]`` on lock) are searched by ``persons.ChildIndex`` with the same semantics. Typing is debounced; the access log gets the number of results when the
search settles (never the text). Double-click or Enter opens the child page; Esc goes back.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...core import persons as P
from .. import palette as pal
from .. import roles as R
from ..i18n import tr
from ..models import LazyPages
from ..widgets import forget_rows
from .child_view import ChildView

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ...core.workspace import Workspace

COLUMNS = [
    ("name", "氏名"),
    ("kana", "カナ"),
    ("birth", "生年月日"),
    ("age", "年齢"),
    ("sex", "性別"),
    ("school", "学校・学年"),
    ("resident_no", "宛名番号"),
]
SEARCH_DEBOUNCE_MS = 200
LOG_SETTLE_MS = 1500


PAGE_ROWS = 200  # rows fetched at a time as the view scrolls (canFetchMore / fetchMore)
# ids read at once where a jump far down left a gap: each read is an OFFSET scan over the index entries above it, so
# reading the gap page by page (scrolling back up, or iterating the rows) cost one scan per page
ID_RUN = 50 * PAGE_ROWS


def _sort_key(col: str):
    if col == "name":
        return lambda r: (r.name_key, r.kana_key)
    if col == "kana":
        return lambda r: (r.kana_key or "\uffff", r.name_key)
    if col in ("birth", "age"):
        return lambda r: r.birth_date or dt.date.max
    if col == "sex":
        return lambda r: (r.sex, r.kana_key)
    if col == "school":
        return lambda r: (r.school or "\uffff", str(r.grade).zfill(3), r.kana_key)
    return lambda r: r.resident_no or "\uffff"


class _HeldRows:
    """Rows already in memory (a caller's list, or none after the lock): searched by ``persons.ChildIndex``."""

    def __init__(self, rows: list[P.ChildRow]):
        self.all = rows
        self.index = P.ChildIndex(rows)
        self.by_id = {r.person_id: r for r in rows}
        self._last: tuple[tuple[str, str, bool], list[str]] | None = None  # the last ordering asked for

    def total(self) -> int:
        return len(self.all)

    def count(self, query: str) -> int:
        return len(self.index.filter(query))

    def ids(self, query: str, order: str, descending: bool, limit: int | None, offset: int) -> list[str]:
        key = (query, order, descending)
        if self._last is None or self._last[0] != key:
            hit = self.index.filter(query)
            col = "birth" if order == "age" else order
            rev = descending != (order == "age")  # ascending age: the youngest first
            hit.sort(key=lambda i: _sort_key(col)(self.all[i]), reverse=rev)
            self._last = (key, [self.all[i].person_id for i in hit])
        ids = self._last[1]
        return list(ids) if limit is None else ids[offset : offset + limit]

    def rows(self, ids: list[str]) -> list[P.ChildRow]:
        return [self.by_id[i] for i in ids]


class _StoreRows:
    """The children in the database: counted, ordered, searched and paged in SQL (persons.child_ids / child_rows)."""

    def __init__(self, ws: Workspace, on: dt.date | None = None):
        self.ws, self.on = ws, on or P.today()

    def total(self) -> int:
        return P.child_count(self.ws, "", self.on)

    def count(self, query: str) -> int:
        return P.child_count(self.ws, query, self.on)

    def ids(self, query: str, order: str, descending: bool, limit: int | None, offset: int) -> list[str]:
        return P.child_ids(self.ws, query, self.on, order, descending, limit=limit, offset=offset)

    def rows(self, ids: list[str]) -> list[P.ChildRow]:
        return P.child_rows(self.ws, ids, self.on)


class ChildListModel(QAbstractTableModel):
    """The children, fetched lazily a page of ``PAGE_ROWS`` at a time: ``ids`` holds the matching person ids known so
    far in view order (all of them after a search, page by page for the whole list; ``None`` where a jump skipped
    them), ``rows`` the rows up to the furthest one fetched (a :class:`~kodomo_desktop.gui.models.LazyPages`: a jump
    50,000 rows down fetches the page it lands on, the pages between when they are read)."""

    def __init__(self, rows: list[P.ChildRow] | None = None, parent=None):
        super().__init__(parent)
        self.query = ""
        self.order, self.descending = "kana", False
        self.set_rows(rows or [])

    # -- data ----------------------------------------------------------------------------------------------------------
    def set_rows(self, rows: list[P.ChildRow]):
        """Show rows held in memory (``[]`` forgets everything, e.g. on lock)."""
        self._use(_HeldRows(rows))

    def set_store(self, ws: Workspace, on: dt.date | None = None):
        """Show the children of the database, fetched in pages."""
        self._use(_StoreRows(ws, on))

    def _use(self, source):
        self.source = source
        self.total = source.total()  # every child, for 「N 人中 n 人」
        self._refill()

    def _refill(self):
        self.beginResetModel()
        self.rows = LazyPages(self._fill)
        self.fetches = 0  # pages of rows read since the last refill (tests check a jump reads one)
        self.ids: list[str | None]
        if self.query:  # a search: every matching id at once (SQL), rows still a page at a time
            self.ids = list(self.source.ids(self.query, self.order, self.descending, None, 0))
            self.matches = len(self.ids)
        else:
            self.ids = []
            self.matches = self.total
        self._load(PAGE_ROWS)
        self.endResetModel()

    def _ids(self, start: int, end: int) -> list[str | None]:
        """The ids of view rows ``start``..``end`` (fetched, for the whole list, where not known yet)."""
        if not self.query and (len(self.ids) < end or None in self.ids[start:end]):
            stop = end
            if end < len(self.ids):  # inside the gap a jump left: read on through it (up to ID_RUN ids) in one query
                limit = min(len(self.ids), start + ID_RUN)
                while stop < limit and self.ids[stop] is None:
                    stop += 1
            got = self.source.ids("", self.order, self.descending, stop - start, start)
            if len(self.ids) < start + len(got):
                self.ids += [None] * (start + len(got) - len(self.ids))
            for k, i in enumerate(got):
                self.ids[start + k] = self.ids[start + k] or i
        return self.ids[start:end]

    def _rows_of(self, ids: list[str | None]) -> list[P.ChildRow | None]:
        self.fetches += 1
        found = {r.person_id: r for r in self.source.rows([i for i in ids if i])}
        return [found.get(i) if i else None for i in ids]

    def _load(self, n: int) -> list[P.ChildRow | None]:
        """Fetch up to ``n`` more rows (ids first when the whole list is paged); returns them (not yet inserted)."""
        start = len(self.rows)
        want = min(self.matches, start + n)
        if want <= start:
            return []
        ids = self._ids(start, want)
        if len(ids) < want - start:  # the whole list is shorter than counted
            self.matches = start + len(ids)
        new = self._rows_of(ids)  # a person deleted meanwhile stays a row (shown empty): rows and ids stay aligned
        self.rows += new
        return new

    def _fill(self, i: int) -> None:
        """Fetch the page holding view row ``i`` (skipped by a jump further down)."""
        start = i - i % PAGE_ROWS
        end = min(len(self.rows), start + PAGE_ROWS)
        self.rows.put(start, self._rows_of(self._ids(start, end)))

    def set_filter(self, query: str) -> int:
        self.query = (query or "").strip()
        self._refill()
        return self.matches

    def sort(self, column: int, order=Qt.AscendingOrder):
        col = COLUMNS[column][0]
        desc = order == Qt.DescendingOrder
        if (col, desc) == (self.order, self.descending):
            return
        self.order, self.descending = col, desc
        self._refill()

    def canFetchMore(self, parent=QModelIndex()):
        return not parent.isValid() and len(self.rows) < self.matches

    def fetchMore(self, parent=QModelIndex()):
        if parent.isValid():
            return
        start = len(self.rows)
        want = min(self.matches, start + PAGE_ROWS)
        if want <= start:
            return
        self.beginInsertRows(QModelIndex(), start, want - 1)
        new = self._load(PAGE_ROWS)
        if len(new) < want - start:  # rows gone since the ids were read (deleted meanwhile)
            self.matches = len(self.rows)
        self.endInsertRows()

    def _ensure(self, view_row: int):
        """Make ``view_row`` readable: the next page on from the end, or — further down — only its own page."""
        if view_row < len(self.rows) or not self.canFetchMore():
            return
        view_row = min(view_row, self.matches - 1)
        start = len(self.rows)
        if view_row < start + PAGE_ROWS:
            self.fetchMore()
            return
        first = view_row - view_row % PAGE_ROWS
        want = min(self.matches, first + PAGE_ROWS)
        self.beginInsertRows(QModelIndex(), start, want - 1)
        self.rows.pad(want - start)
        ids = self._ids(first, want)
        self.rows.put(first, self._rows_of(ids))
        self.endInsertRows()
        if len(ids) < want - first:  # the list is shorter than counted (deleted meanwhile)
            self.beginResetModel()
            self.rows.truncate(first + len(ids) if ids else start)
            self.matches = len(self.rows)
            self.endResetModel()

    def row_at(self, view_row: int) -> P.ChildRow:
        self._ensure(view_row)
        return self.rows[view_row]

    def view_row_of(self, person_id: str) -> int:
        """The view row of a person among the matches (fetching rows up to it), -1 when not listed."""
        if not person_id:
            return -1
        try:
            n = self.ids.index(person_id)
        except ValueError:
            return -1
        self._ensure(n)
        return n if n < len(self.rows) else -1

    # -- Qt model --------------------------------------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def data(self, index, role=R.DISPLAY):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        if r is None:  # deleted since the list was counted
            return None
        col = COLUMNS[index.column()][0]
        if role == R.DISPLAY:
            if col == "name":
                return r.name
            if col == "kana":
                return r.kana_display
            if col == "birth":
                return r.birth_text
            if col == "age":
                return "" if r.age is None else tr("{n}歳", n=r.age)
            if col == "sex":
                return tr(r.sex) if r.sex else ""
            if col == "school":
                return r.school_text
            return r.resident_no
        if role == R.ALIGNMENT and col in ("age", "sex"):
            return int(R.ALIGN_CENTER)
        if role == R.FOREGROUND and (r.opted_out or not r.in_registry):
            return QColor(pal.DISABLED)
        if role == R.FONT and not r.in_registry:
            f = QFont()
            f.setItalic(True)
            return f
        if role == R.TOOLTIP:
            notes = []
            if r.opted_out:
                notes.append(tr("利用停止（不同意）の登録があります"))
            if not r.in_registry:
                notes.append(tr("住民基本台帳の最新の抽出にいません（転出など）"))
            return "\n".join(notes) or None
        if role == R.USER:
            return r.person_id
        return None

    def headerData(self, section, orientation, role=R.DISPLAY):
        if role == R.DISPLAY and orientation == R.HORIZONTAL:
            return tr(COLUMNS[section][1])
        return None


class _EnterOpens(QObject):
    def __init__(self, page: ChildrenPage):
        super().__init__(page)
        self.page = page

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.KeyPress and ev.key() in (Qt.Key_Return, Qt.Key_Enter):
            self.page.open_selected()
            return True
        return False


class _DownToTable(QObject):
    def __init__(self, page: ChildrenPage):
        super().__init__(page)
        self.page = page

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.KeyPress and ev.key() in (Qt.Key_Down, Qt.Key_PageDown):
            self.page.view.setFocus()
            if not self.page.view.currentIndex().isValid() and self.page.model.rowCount():
                self.page.view.selectRow(0)
            return True
        return False


class ChildrenPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        self._logged_query: str | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack)

        # the list
        lst = QWidget()
        ll = QVBoxLayout(lst)
        top = QHBoxLayout()
        title = QLabel(tr("こども一覧"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        top.addWidget(title)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("検索（氏名・カナ・宛名番号）") + "　Ctrl+F")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(360)
        top.addWidget(self.search, 1)
        self.count = QLabel()
        top.addWidget(self.count)
        refresh = QPushButton(tr("更新") + " (F5)")
        refresh.clicked.connect(self.reload)
        top.addWidget(refresh)
        ll.addLayout(top)
        self.model = ChildListModel(parent=self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicator(1, Qt.AscendingOrder)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(26)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setStretchLastSection(True)
        for i, w in enumerate((150, 190, 250, 60, 50, 190, 120)):
            self.view.setColumnWidth(i, w)
        self.view.doubleClicked.connect(lambda idx: self.open_selected())
        self.view.installEventFilter(_EnterOpens(self))
        self.search.installEventFilter(_DownToTable(self))
        ll.addWidget(self.view, 1)
        hint = QLabel(
            tr("ダブルクリックまたは Enter でこどものページを開きます。灰色は利用停止の登録や転出などのある人です。")
        )
        hint.setStyleSheet(f"color:{pal.LABEL};")
        ll.addWidget(hint)
        self.stack.addWidget(lst)

        # the child page
        self.child = ChildView(ws, back=self.back_to_list, open_person=self.open_person)
        self.stack.addWidget(self.child)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.apply_search)
        self._log_timer = QTimer(self)
        self._log_timer.setSingleShot(True)
        self._log_timer.setInterval(LOG_SETTLE_MS)
        self._log_timer.timeout.connect(self._log_search)
        self.search.textChanged.connect(lambda *_: self._debounce.start())
        self.search.returnPressed.connect(self._search_now_and_go)
        QShortcut(QKeySequence(Qt.Key_F5), self, activated=self.reload)
        self.reload()

    # -- data ------------------------------------------------------------------------------------------------------------
    def reload(self):
        if self.ws.locked:
            return
        hdr = self.view.horizontalHeader()
        m = self.model
        m.order = COLUMNS[hdr.sortIndicatorSection()][0]
        m.descending = hdr.sortIndicatorOrder() == Qt.DescendingOrder
        m.query = self.search.text().strip()
        m.set_store(self.ws)  # one count, one page of ids and rows (or the search's ids)
        P.log_child_list(self.ws, m.total)
        self._show_count()

    def apply_search(self, log: bool = True) -> int:
        """Filter now (the debounce calls this); the access log gets the count once the text settles."""
        if self.ws.locked:  # a debounce firing after the lock: the filter waits for the unlock
            return self.model.matches
        n = self.model.set_filter(self.search.text())
        self._show_count()
        if log:
            self._log_timer.start()
        return n

    def _show_count(self):
        n, total = self.model.matches, self.model.total
        self.count.setText(tr("{n} 人", n=n) if n == total else tr("{total} 人中 {n} 人", total=total, n=n))
        if self.model.rowCount():
            self.view.selectRow(0)

    def _search_now_and_go(self):
        self._debounce.stop()
        self.apply_search()
        if self.model.rowCount():
            self.view.setFocus()
            self.view.selectRow(0)

    def _log_search(self):
        q = self.search.text().strip()
        if not q or q == self._logged_query or self.ws.locked:
            return
        self._logged_query = q  # kept in memory only, to avoid logging the same search twice
        P.log_search(self.ws, self.model.matches)

    # -- navigation ------------------------------------------------------------------------------------------------------
    def focus_search(self):
        self.back_to_list()
        self.search.setFocus()
        self.search.selectAll()

    def open_selected(self):
        idx = self.view.currentIndex()
        if not idx.isValid():
            rows = self.view.selectionModel().selectedRows()
            if not rows:
                return
            idx = rows[0]
        self.open_person(self.model.row_at(idx.row()).person_id)

    def open_person(self, person_id: str):
        if self._log_timer.isActive():  # the search that led here is logged before the view
            self._log_timer.stop()
            self._log_search()
        if self.child.show_person(person_id):
            self.stack.setCurrentIndex(1)
            self.child.setFocus()

    # -- lock ----------------------------------------------------------------------------------------------------------
    def on_lock(self):
        """The key is gone: forget the list and the open child's page (the search text stays)."""
        forget_rows(self)
        self.count.setText("")
        self.child.forget()

    def on_unlock(self):
        self.reload()
        if self.stack.currentIndex() == 1 and self.child.person_id:
            self.child.show_person(self.child.person_id)

    def back_to_list(self):
        self.stack.setCurrentIndex(0)
        row = self.model.view_row_of(self.child.person_id or "")
        if row >= 0:
            self.view.selectRow(row)
            self.view.scrollTo(self.model.index(row, 0))
        self.view.setFocus()

    def page_shown(self):
        if self.stack.currentIndex() == 0:
            self.search.setFocus()
