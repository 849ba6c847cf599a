"""Main window: navigation on the left, pages plugged in from ``gui/pages`` (each a factory taking
(workspace, main_window)); a page the role may not use is hidden. Auto-lock after idle minutes."""
from __future__ import annotations

import importlib

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QLabel, QListWidget, QMainWindow, QStackedWidget,
                               QStatusBar, QWidget)

from .i18n import tr

# key, label, module:factory, permission needed to see it
PAGES = [
    ("dashboard", "ダッシュボード", "dashboard_page:DashboardPage", "person.read"),
    ("import", "取込", "import_page:ImportPage", "import"),
    ("linkage", "名寄せ", "linkage_page:LinkagePage", "link.review"),
    ("scoring", "スコア", "scoring_page:ScoringPage", "score.read"),
    ("children", "こども一覧", "children_page:ChildrenPage", "person.read"),
    ("conference", "会議", "casework_page:CaseworkPage", "person.read"),
    ("checklist", "チェックリスト", "checklist_page:ChecklistPage", "checklist.enter"),
    ("settings", "設定", "settings_page:SettingsPage", None),
    ("log", "操作ログ", "log_page:LogPage", "log.read"),
]


class _Idle(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win

    def eventFilter(self, obj, ev):
        if ev.type() in (QEvent.KeyPress, QEvent.MouseButtonPress, QEvent.MouseMove, QEvent.Wheel):
            self.win.idle.start()
        return False


class MainWindow(QMainWindow):
    def __init__(self, ws, lock_minutes: int | None = None):
        super().__init__()
        self.ws = ws
        self.setWindowTitle(f"Kodomo Desktop — {ws.path.name}（{ws.user.name}・{ws.user.role_label}）")
        self.resize(1280, 820)
        central = QWidget()
        lay = QHBoxLayout(central)
        self.nav = QListWidget()
        self.nav.setFixedWidth(170)
        self.stack = QStackedWidget()
        lay.addWidget(self.nav)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.pages: dict[str, QWidget] = {}
        self.keys: list[str] = []
        for key, label, target, perm in PAGES:
            if perm and not ws.can(perm):
                continue
            self.keys.append(key)
            self.nav.addItem(tr(label))
            self.stack.addWidget(QLabel(""))  # built on first visit
        self.nav.currentRowChanged.connect(self.show_page)
        self.setStatusBar(QStatusBar())
        self.statusBar().showMessage("スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。")
        for n in range(min(9, len(self.keys))):
            a = QAction(self)
            a.setShortcut(QKeySequence(f"Ctrl+{n + 1}"))
            a.triggered.connect(lambda _=False, n=n: self.nav.setCurrentRow(n))
            self.addAction(a)
        lock = QAction(tr("ロック"), self)
        lock.setShortcut(QKeySequence("Ctrl+L"))
        lock.triggered.connect(self.lock)
        self.addAction(lock)
        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.timeout.connect(self.lock)
        self.set_lock_minutes(lock_minutes if lock_minutes is not None else self._setting("auto_lock_minutes", 10))
        QApplication.instance().installEventFilter(_Idle(self))
        self.nav.setCurrentRow(0)

    def _setting(self, key, default):
        from ..core.storage.models import Setting
        with self.ws.session() as s:
            row = s.get(Setting, key)
            return row.value if row else default

    def set_lock_minutes(self, minutes: int):
        self.idle.setInterval(max(1, int(minutes)) * 60_000)
        self.idle.start()

    def page(self, key: str) -> QWidget:
        i = self.keys.index(key)
        self.nav.setCurrentRow(i)
        return self.pages[key]

    def show_page(self, row: int):
        if row < 0:
            return
        key = self.keys[row]
        if key not in self.pages:
            target = next(t for k, _, t, _ in PAGES if k == key)
            mod, cls = target.split(":")
            try:
                factory = getattr(importlib.import_module(f"kodomo_desktop.gui.pages.{mod}"), cls)
                w = factory(self.ws, self)
            except (ImportError, AttributeError):
                w = QLabel(tr("準備中"))
            old = self.stack.widget(row)
            self.stack.removeWidget(old)
            self.stack.insertWidget(row, w)
            self.pages[key] = w
        self.stack.setCurrentIndex(row)

    def lock(self):
        """Close the connection, drop the key; the window and any open form keep their contents."""
        if self.ws.locked:
            return
        from .dialogs import SignInDialog
        self.ws.lock()
        self.setEnabled(False)
        dlg = SignInDialog(self.ws.path, workspace=self.ws, parent=self)
        self.lock_dialog = dlg
        dlg.finished.connect(self._after_unlock)
        dlg.open()

    def _after_unlock(self, result):
        if self.ws.locked:  # cancelled: stay locked, ask again
            QTimer.singleShot(0, self._relock_prompt)
            return
        self.setEnabled(True)
        self.idle.start()

    def _relock_prompt(self):
        from .dialogs import SignInDialog
        dlg = SignInDialog(self.ws.path, workspace=self.ws, parent=self)
        self.lock_dialog = dlg
        dlg.finished.connect(self._after_unlock)
        dlg.open()
