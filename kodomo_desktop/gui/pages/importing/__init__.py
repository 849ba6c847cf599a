"""取込 page: a wizard (file → source type suggested → preview with the mapping auto-filled and editable →
validation report → import with progress and Cancel) and the import history.

One module per tab (``wizard``, ``history``, ``unlinked``), what they share in ``common``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ...i18n import tr
from ...widgets import forget_rows
from .common import NOT_MAPPED, field_choices
from .history import HistoryView
from .unlinked import UnlinkedView
from .wizard import ImportWizard

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace

__all__ = ["NOT_MAPPED", "HistoryView", "ImportPage", "ImportWizard", "UnlinkedView", "field_choices"]


class ImportPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.wizard = ImportWizard(ws, main_window)
        self.history = HistoryView(ws)
        self.unlinked = UnlinkedView(ws)
        self.tabs.addTab(self.wizard, tr("ファイルを取り込む"))
        self.tabs.addTab(self.history, tr("取込の履歴"))
        self.tabs.addTab(self.unlinked, tr("つながらなかった行"))
        self.tabs.currentChanged.connect(
            lambda i: self.history.refresh() if i == 1 else self.unlinked.refresh() if i == 2 else None
        )
        self.wizard.imported.connect(lambda _res: self.history.refresh())
        lay.addWidget(self.tabs)

    # -- lock: forget the lists of rows (the history, unlinked rows, the rejected rows of a validation) --------------
    def on_lock(self):
        forget_rows(self.history)
        forget_rows(self.unlinked)
        self.wizard.errors.set_rows([])

    def on_unlock(self):
        if self.tabs.currentWidget() is self.history:
            self.history.refresh()
        elif self.tabs.currentWidget() is self.unlinked:
            self.unlinked.refresh()
        w = self.wizard
        if w.validated and w.stack.currentIndex() == 2:
            w.validate()  # the rejected rows again, from the file and the mapping still on screen
