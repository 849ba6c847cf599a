"""個人情報保護 (governance): purpose and legal basis per source and indicator, the 個人情報ファイル簿 draft and the
resident notice, the opt-out register (利用停止・不同意), retention and the purge view, and the annual
self-inspection (自己点検), and — for a coordinator (``data.share``) only — 外部提供 (``sharing.py``: pseudonymised
exports, school sheets and handover packages).

Thin over ``core.governance``: every permission check is in the core (``governance.read`` to look,
``governance.write`` to change; the auditor — 監査・個人情報保護担当 — reads everything and answers the
self-inspection, which the core lets ``governance.read`` save). Problems are shown on the page (a notice line), never
in a modal box; file paths can be passed to the save/print methods, so tests never open a file dialog. Deleting
expired data is a two-step, in-page confirmation. PDFs and the purge run off the GUI thread through ``gui.ops``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from ....core.errors import KodomoError
from ... import palette as pal
from ...i18n import tr
from ...widgets import Notice, audit_copy_label
from .basis import BasisTab
from .common import BASIS_CHOICES, BASIS_SHORT, EXPIRED_BG, MISSING_BG, RowsModel, fiscal_year, source_label
from .inspection import ANSWERS, InspectionTab
from .optout import OptOutTab
from .register import RegisterTab
from .retention import RetentionTab
from .sharing import SharingTab

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ....core.workspace import Workspace


# --- the page ----------------------------------------------------------------------------------------------------
class GovernancePage(QWidget):
    FILLED_WHEN_BUILT = True  # the main window skips page_shown (a refresh) right after building it

    def __init__(self, ws: Workspace, main=None):
        super().__init__()
        ws.require("governance.read", what="governance page")
        self.ws, self.main = ws, main
        self.can_write = ws.can("governance.write")
        self.op = None  # the last long operation (tests wait on it)
        lay = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel(tr("個人情報保護"))
        title.setStyleSheet("font-size:15pt;font-weight:bold;")
        head.addWidget(title)
        self.mode = QLabel(
            tr("閲覧のみ（この役割では変更できません。自己点検の回答は入力できます）") if not self.can_write else ""
        )
        self.mode.setObjectName("readOnlyBanner")
        self.mode.setStyleSheet(
            f"color:{pal.AMBER_TEXT};background:{pal.TINT_AMBER};padding:2px 8px;border-radius:3px;"
        )
        self.mode.setVisible(not self.can_write)
        head.addWidget(self.mode)
        head.addStretch(1)
        lay.addLayout(head)
        self.copy_date = audit_copy_label(ws)  # an auditor: as of when the copy of the registers is
        if self.copy_date is not None:
            lay.addWidget(self.copy_date)
        self.notice = Notice("governanceNotice")
        lay.addWidget(self.notice)
        self.tabs = QTabWidget()
        self.basis = BasisTab(self)
        self.register = RegisterTab(self)
        self.optout = OptOutTab(self)
        self.retention = RetentionTab(self)
        self.inspection = InspectionTab(self)
        for w, label in (
            (self.basis, "利用目的・法的根拠"),
            (self.register, "個人情報ファイル簿"),
            (self.optout, "利用停止"),
            (self.retention, "保存期間・削除"),
            (self.inspection, "自己点検"),
        ):
            self.tabs.addTab(w, tr(label))
        # 外部提供: only a coordinator may hand data to an outside body (the core checks it again on every call)
        self.sharing = SharingTab(self) if ws.can("data.share") else None
        if self.sharing is not None:
            self.tabs.addTab(self.sharing, tr("外部提供"))
        lay.addWidget(self.tabs, 1)
        self.tabs.currentChanged.connect(lambda _i: self._tab_shown())
        self.refresh()

    # -- messages: on the page, never a modal --------------------------------------------------------------------
    def say(self, text: str, error: bool = False) -> None:
        self.notice.say(text, error)

    def fail(self, e: BaseException) -> None:
        self.say(e.message_ja if isinstance(e, KodomoError) else f"{type(e).__name__}: {e}", error=True)

    def guard(self, fn, *a, **k):
        """Run a core call; a refusal goes to the notice line. Returns (ok, result)."""
        try:
            return True, fn(*a, **k)
        except KodomoError as e:
            self.fail(e)
            return False, None

    def run(self, title: str, fn: Callable, on_done: Callable[[Any], None]):
        from ...ops import run_with_progress

        self.op = run_with_progress(
            self, title, lambda progress, cancel: fn(progress), on_done=on_done, on_error=self.fail, cancellable=False
        )
        return self.op

    def ask_path(self, title: str, default: str, filt: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, filt)
        return path or None

    # -- refresh --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.ws.locked:
            return
        for t in (self.basis, self.register, self.optout, self.retention, self.inspection, self.sharing):
            if t is not None:
                t.refresh()

    def _tab_shown(self):
        if not self.ws.locked:
            w = self.tabs.currentWidget()
            if hasattr(w, "page_shown"):
                w.page_shown()

    def page_shown(self):
        """Cheap refresh of the lists when the page comes back; what the user typed stays."""
        if self.ws.locked:
            return
        self.register.refresh()
        self.optout.refresh()


__all__ = [
    "ANSWERS",
    "BASIS_CHOICES",
    "BASIS_SHORT",
    "EXPIRED_BG",
    "MISSING_BG",
    "BasisTab",
    "GovernancePage",
    "InspectionTab",
    "OptOutTab",
    "RegisterTab",
    "RetentionTab",
    "RowsModel",
    "SharingTab",
    "fiscal_year",
    "source_label",
]
