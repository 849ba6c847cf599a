"""Widgets the pages share: the notice line (one way of telling the user something on a page, never a modal box),
read-only tables over rows of dicts, and small form helpers (dates, hint labels, titles)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractProxyModel, QDate, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHeaderView,
    QLabel,
    QLayout,
    QListView,
    QSizePolicy,
    QTableView,
)

from . import palette as pal
from .i18n import tr
from .models import RowsModel

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ..core.workspace import Workspace

ERROR_STYLE = f"color:{pal.ERROR};font-weight:bold;background:{pal.ERROR_BG};padding:4px;"
INFO_STYLE = f"color:{pal.OK_DARK};background:{pal.OK_BG};padding:4px;"


def forget_rows(root) -> int:
    """Empty every row model shown under ``root`` (on lock, so no child's data stays in the widgets): models with
    ``set_rows`` get ``set_rows([])``, through sort/filter proxies. Item widgets, forms, choices and typed text are
    left alone (a page empties its own item widgets in ``on_lock``). Returns the number of lists emptied."""
    n = 0
    for v in root.findChildren(QAbstractItemView):
        m = v.model()
        while isinstance(m, QAbstractProxyModel):
            m = m.sourceModel()
        if m is not None and callable(getattr(m, "set_rows", None)):
            m.set_rows([])
            n += 1
    return n


def message(e: BaseException) -> str:
    """The Japanese message of a core refusal, else the exception's name and text."""
    return getattr(e, "message_ja", None) or f"{type(e).__name__}: {e}"


class Notice(QLabel):
    """A page's (or tab's) message line: problems in red, confirmations in green; empty is invisible space.

    ``say(text, error=False)``, ``error(text)``, ``info(text)``, ``clear_text()``; ``ok`` is True after a
    confirmation. ``hide_empty`` hides the line while it has no text (pages short of room)."""

    def __init__(self, object_name: str = "", *, hide_empty: bool = False):
        super().__init__("")
        if object_name:
            self.setObjectName(object_name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)  # never squeezed by the tables below
        self.ok = False
        self.hide_empty = hide_empty
        if hide_empty:
            self.hide()

    def say(self, text: str, error: bool = False) -> None:
        if not text:
            self.clear_text()
        elif error:
            self.error(text)
        else:
            self.info(text)

    def error(self, text: str) -> None:
        self.ok = False
        self.setStyleSheet(ERROR_STYLE)
        self._set(text)

    def info(self, text: str) -> None:
        self.ok = True
        self.setStyleSheet(INFO_STYLE)
        self._set(text)

    def fail(self, e: BaseException) -> None:
        self.error(message(e))

    def clear_text(self) -> None:
        self.setStyleSheet("")
        self._set("")

    def _set(self, text: str) -> None:
        self.setText(text)
        if self.hide_empty:
            self.setVisible(bool(text))
        # a word-wrapped label inside tabs and splitters gets squeezed to nothing: keep its full height
        if not text:
            self.setMinimumHeight(0)
            return
        fm = self.fontMetrics()
        avail = max(self.width() - 16, 600)
        lines = sum(max(1, -(-fm.horizontalAdvance(line) // avail)) for line in text.splitlines() or [""])
        self.setMinimumHeight(lines * fm.lineSpacing() + 14)


class DictTableModel(RowsModel):
    """A read-only table over a list of dicts; columns are (key, Japanese header). Score bands, overdue rows and
    children decided in an earlier round are coloured."""

    def cell_background(self, row: dict, key: str):
        v = row.get(key)
        if key == "band":
            c = pal.BAND_TINTS.get(v)
            return QColor(c) if c else None
        if row.get("overdue"):
            return QColor(pal.TINT_SALMON)
        if key == "earlier_text" and v:
            return QColor(pal.TINT_EARLIER)
        return None


def table_view(model) -> QTableView:
    """A read-only, row-selecting table sized to its contents' columns."""
    v = QTableView()
    v.setModel(model)
    v.setSelectionBehavior(QAbstractItemView.SelectRows)
    v.setSelectionMode(QAbstractItemView.ExtendedSelection)
    v.setAlternatingRowColors(True)
    v.verticalHeader().setVisible(False)
    v.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    v.horizontalHeader().setStretchLastSection(True)
    return v


class LazyListView(QListView):
    """A one-column list over a :class:`~kodomo_desktop.gui.models.LazyRowsModel` that reads like a QListWidget:
    ``count()`` (every matching row, fetched or not), ``currentRow()``, ``setCurrentRow(i)`` (fetching up to it) and
    ``currentRowChanged(int)``."""

    currentRowChanged = Signal(int)

    def setModel(self, model):  # noqa: N802 (Qt's name)
        super().setModel(model)
        self.selectionModel().currentRowChanged.connect(lambda cur, prev: self.currentRowChanged.emit(cur.row()))

    def count(self) -> int:
        m = self.model()
        return int(getattr(m, "matches", m.rowCount())) if m is not None else 0

    def currentRow(self) -> int:  # noqa: N802
        i = self.currentIndex()
        return i.row() if i.isValid() else -1

    def setCurrentRow(self, row: int) -> None:  # noqa: N802
        m = self.model()
        if m is None:
            return
        if hasattr(m, "ensure"):
            m.ensure(row)
        if 0 <= row < m.rowCount():
            self.setCurrentIndex(m.index(row, 0))
            self.scrollTo(m.index(row, 0))
        else:
            self.setCurrentIndex(m.index(-1, 0))
            self.currentRowChanged.emit(-1)


# --- form helpers -------------------------------------------------------------------------------------------------
def date_edit(days_ahead: int = 0, on: dt.date | None = None) -> QDateEdit:
    d = QDateEdit(qdate(on) if on else QDate.currentDate().addDays(days_ahead))
    d.setCalendarPopup(True)
    d.setDisplayFormat("yyyy-MM-dd")
    return d


def qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def pydate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def hint(text: str, colour: str = pal.MUTED, wrap: bool = True) -> QLabel:
    """A grey explanatory line under a form."""
    lab = QLabel(text)
    lab.setStyleSheet(f"color:{colour};")
    lab.setWordWrap(wrap)
    return lab


def title(text: str, size_pt: int = 15) -> QLabel:
    lab = QLabel(text)
    lab.setStyleSheet(f"font-size:{size_pt}pt;font-weight:bold;")
    return lab


class FlowLayout(QLayout):
    """Lays widgets out left to right and wraps to the next row when the page is narrow (a filter bar that must
    not widen the window: Japanese fits one row at 1366 px, the longer English labels take two)."""

    def __init__(self, parent=None, spacing: int = 6):
        super().__init__(parent)
        self._items: list = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item):  # noqa: N802 (Qt's name)
        self._items.append(item)

    def count(self):
        return len(self._items)

    def itemAt(self, i):  # noqa: N802
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i):  # noqa: N802
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientations(0)

    def hasHeightForWidth(self):  # noqa: N802
        return True

    def heightForWidth(self, width):  # noqa: N802
        return self._place(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect):  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, apply=True)

    def sizeHint(self):  # noqa: N802
        return self.minimumSize()

    def minimumSize(self):  # noqa: N802
        size = QSize()
        for it in self._items:
            size = size.expandedTo(it.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _place(self, rect, apply: bool) -> int:
        m = self.contentsMargins()
        r = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line = r.x(), r.y(), 0
        for it in self._items:
            if it.widget() is not None and not it.widget().isVisibleTo(it.widget().parentWidget()):
                continue
            hint = it.sizeHint()
            if x + hint.width() > r.right() + 1 and line > 0:
                x, y, line = r.x(), y + line + self.spacing(), 0
            if apply:
                it.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            line = max(line, hint.height())
        return y + line - rect.y() + m.bottom()


def audit_copy_label(ws: Workspace) -> QLabel | None:
    """For an auditor (whose workspace holds a copy of the town's log and registers, core/auditspace.py): a line
    saying as of when the copy is (和暦 date and time); None for everyone else."""
    copied_at = getattr(ws, "copied_at", None)
    if copied_at is None:
        return None
    from ..core.calendar import wareki  # lazy: only an auditor's pages show it

    at = copied_at()
    if at is None:
        text = tr("監査用の写しはまだ町の端末から更新されていません。")
    else:
        text = tr(
            "監査用の写し：{d} {t} 時点の操作ログと台帳です（町の端末でサインアウト・ロックするたびに更新されます）。",
            d=wareki(at.date()),
            t=f"{at.hour}:{at.minute:02d}",
        )
    label = QLabel(text)
    label.setObjectName("auditCopyDate")
    label.setWordWrap(True)
    label.setStyleSheet(f"color:{pal.LABEL};")
    return label
