"""会議 page: review rounds (classify with reasons), conferences (batch, agenda, minutes), progress records and
closing (終結), the local resources directory (接続先リスト), the funnel.

No modal dialog on the normal path: every form is inline and problems go to a notice label on the tab (so the page
can be driven from code and from tests). Work that may take more than a second (creating a round from a scoring
run, the funnel, the Excel export) runs through :mod:`kodomo_desktop.gui.ops`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ...i18n import tr
from .common import CAVEAT, YOTAIKYO_RULES, DictTableModel, Notice, table_view
from .conferences import ConferencesTab
from .funnel import FUNNEL_COLUMNS, FunnelChart, FunnelTab, export_funnel, funnel_rows
from .progress import ProgressTab
from .resources import ResourcesTab
from .rounds import RoundsTab

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


class CaseworkPage(QWidget):
    def __init__(self, ws: Workspace, main_window=None):
        super().__init__()
        self.ws, self.main = ws, main_window
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.rounds = RoundsTab(ws, main_window)
        self.conferences = ConferencesTab(ws, main_window, self.rounds)
        self.progress = ProgressTab(ws, main_window)
        self.due = self.progress  # older name
        self.resources = ResourcesTab(ws, main_window, on_change=self.conferences.load_resources)
        self.funnel = FunnelTab(ws, main_window, self.rounds)
        self.tabs.addTab(self.rounds, tr("レビューラウンド"))
        self.tabs.addTab(self.conferences, tr("会議・記録"))
        self.tabs.addTab(self.progress, tr("経過記録・終結"))
        self.tabs.addTab(self.resources, tr("接続先リスト"))
        self.tabs.addTab(self.funnel, tr("ファネル"))
        self.tabs.currentChanged.connect(self._on_tab)
        lay.addWidget(self.tabs)

    def _on_tab(self, i):
        w = self.tabs.widget(i)
        if hasattr(w, "refresh"):
            w.refresh()

    def page_shown(self):
        if not self.ws.locked:
            self._on_tab(self.tabs.currentIndex())


__all__ = [
    "CAVEAT",
    "FUNNEL_COLUMNS",
    "YOTAIKYO_RULES",
    "CaseworkPage",
    "ConferencesTab",
    "DictTableModel",
    "FunnelChart",
    "FunnelTab",
    "Notice",
    "ProgressTab",
    "ResourcesTab",
    "RoundsTab",
    "export_funnel",
    "funnel_rows",
    "table_view",
]
