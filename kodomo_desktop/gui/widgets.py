"""Widgets the pages share: the notice line (one way of telling the user something on a page, never a modal box),
read-only tables over rows of dicts, and small form helpers (dates, hint labels, titles)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QAbstractProxyModel, QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
)

from . import palette as pal
from .models import RowsModel

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
