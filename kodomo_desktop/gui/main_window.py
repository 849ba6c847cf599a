"""The main window: navigation on the left, pages plugged in from ``gui/pages`` (see its registry), the signed-in
user and a lock button on top, auto-lock after idle minutes.

Locking closes the database and drops the key (``Workspace.lock``); every window of the app is covered so that no
child's data stays on screen, the pages' lists are emptied (``on_lock`` of a page, else ``widgets.forget_rows``)
and the unlock dialog asks for the password again. Nothing is closed: a form that was open keeps what was typed;
after the unlock each page fills its lists again (``on_unlock``, else its ``reload``/``refresh``) when it is shown.
A page may save what is pending first (``before_lock``, e.g. a teacher's unsaved checklist answers as drafts).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..resources import icon_path
from . import ops
from . import palette as pal
from .i18n import tr
from .pages import PAGES, MessagePage, build_page, visible_pages
from .widgets import forget_rows

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ..core.workspace import Workspace

log = logging.getLogger(__name__)

NOTICE = "スコアや一覧は支援の要否を検討するためのきっかけであり、判定結果ではありません。"
_ACTIVITY = {
    QEvent.KeyPress,
    QEvent.MouseButtonPress,
    QEvent.MouseButtonDblClick,
    QEvent.MouseMove,
    QEvent.Wheel,
    QEvent.TouchBegin,
    QEvent.ShortcutOverride,
}


class _ActivityFilter(QObject):
    """Notes the time of the last keyboard or mouse input anywhere in the app."""

    def __init__(self, win: MainWindow):
        super().__init__(win)
        self.win = win

    def eventFilter(self, obj, ev):
        if ev.type() in _ACTIVITY:
            self.win.last_input = time.monotonic()
        return False


class LockCover(QFrame):
    """An opaque cover over one window while the app is locked (resized with it)."""

    def __init__(self, target: QWidget):
        super().__init__(target)
        self.target = target
        self.setObjectName("lockCover")
        self.setStyleSheet(f"#lockCover {{ background:{pal.LOCK_BG}; }} QLabel {{ color:white; }}")
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        t = QLabel(tr("ロック中"))
        t.setAlignment(Qt.AlignCenter)
        t.setStyleSheet("font-size:24pt;font-weight:bold;color:white;")
        lay.addWidget(t)
        s = QLabel(tr("パスワードを入力するとロックを解除します"))
        s.setAlignment(Qt.AlignCenter)
        lay.addWidget(s)
        lay.addStretch(2)
        target.installEventFilter(self)
        self.setGeometry(target.rect())
        self.raise_()
        self.show()

    def eventFilter(self, obj, ev):
        if obj is self.target and ev.type() in (QEvent.Resize, QEvent.Show):
            self.setGeometry(self.target.rect())
            self.raise_()
        return False

    def remove(self):
        self.target.removeEventFilter(self)
        self.hide()
        self.deleteLater()


def default_size() -> tuple[int, int]:
    """1280×680, or less on a smaller screen: fits a 1366×768 laptop with its task bar and title bar."""
    screen = QGuiApplication.primaryScreen()
    avail = screen.availableGeometry() if screen is not None else None
    w, h = 1280, 680
    if avail is not None and avail.width() > 0:
        w, h = min(w, avail.width() - 16), min(h, avail.height() - 40)
    return max(w, 800), max(h, 560)


class MainWindow(QMainWindow):
    locked = Signal()
    unlocked = Signal()

    def __init__(self, ws: Workspace, lock_minutes: float | None = None, start_page: str | None = None):
        super().__init__()
        self.ws = ws
        self.setWindowTitle(f"Kodomo Desktop — {ws.path.name}")
        icon = icon_path()
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(*default_size())
        self.pages: dict[str, QWidget] = {}
        self.specs = visible_pages(ws)
        self.keys: list[str] = [p.key for p in self.specs]
        self.lock_dialog = None
        self._covers: list[LockCover] = []
        self._disabled: list[QWidget] = []
        self._stale: set[str] = set()  # pages to fill again after an unlock (when next shown)
        self._quitting = False

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self._header())
        body = QHBoxLayout()
        body.setContentsMargins(8, 8, 8, 8)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(190)
        self.nav.setStyleSheet(
            f"#nav {{ font-size:11pt; border:none; background:{pal.NAV_BG}; }}"
            "#nav::item { padding:9px 12px; }"
            f"#nav::item:selected {{ background:{pal.BRAND}; color:white; }}"
        )
        for n, p in enumerate(self.specs):
            item = QListWidgetItem(tr(p.label))
            item.setData(Qt.UserRole, p.key)
            item.setToolTip(tr(p.hint) + (f"（Ctrl+{n + 1}）" if n < 9 else ""))
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        for _ in self.specs:
            self.stack.addWidget(QWidget())  # placeholder; the page is built on its first visit
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)
        notice = QLabel(tr(NOTICE))
        notice.setStyleSheet(f"color:{pal.MUTED};")
        self.statusBar().addPermanentWidget(notice)
        self.nav.currentRowChanged.connect(self._on_row)
        self._shortcuts()

        # auto-lock
        self.last_input = time.monotonic()
        self._activity = _ActivityFilter(self)
        QApplication.instance().installEventFilter(self._activity)
        self.idle_timer = QTimer(self)
        self.idle_timer.timeout.connect(self._check_idle)
        if lock_minutes is None:
            from .prefs import auto_lock_minutes

            lock_minutes = auto_lock_minutes(ws)
        self.set_lock_minutes(lock_minutes)

        if self.keys:
            # (settings is nobody's work: an auditor, who has no dashboard, starts on the log)
            first = (
                start_page if start_page in self.keys else next((k for k in self.keys if k != "settings"), "settings")
            )
            self.show_page(first)

    # -- layout -------------------------------------------------------------------------------------------------------
    def _header(self) -> QWidget:
        bar = QFrame()
        bar.setObjectName("header")
        bar.setStyleSheet(
            f"#header {{ background:{pal.BRAND}; }} #header QLabel {{ color:white; }}"
            f"#header QPushButton {{ color:white; background:{pal.BRAND_LIGHT}; border:1px solid {pal.BRAND_LINE};"
            " padding:4px 12px; border-radius:3px; }"
        )
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(14, 8, 10, 8)
        title = QLabel(tr("Kodomo Desktop　こどもデータ連携"))
        title.setStyleSheet("font-size:13pt;font-weight:bold;")
        lay.addWidget(title)
        lay.addStretch(1)
        self.user_label = QLabel(f"{self.ws.user.name}（{tr(self.ws.user.role_label)}）　{self.ws.path.name}")
        self.user_label.setToolTip(str(self.ws.path))
        lay.addWidget(self.user_label)
        lock = QPushButton(tr("ロック") + "  Ctrl+L")
        lock.setFocusPolicy(Qt.NoFocus)
        lock.clicked.connect(lambda *_: self.lock(manual=True))
        lay.addWidget(lock)
        return bar

    def _shortcuts(self):
        for n in range(min(9, len(self.keys))):
            QShortcut(QKeySequence(f"Ctrl+{n + 1}"), self, activated=lambda n=n: self.show_page(self.keys[n]))
        QShortcut(QKeySequence("Ctrl+L"), self, activated=lambda: self.lock(manual=True))
        QShortcut(QKeySequence.Find, self, activated=self.focus_search)

    # -- pages --------------------------------------------------------------------------------------------------------
    def _on_row(self, row: int):
        if 0 <= row < len(self.keys):
            self.show_page(self.keys[row])

    def show_page(self, key: str) -> QWidget | None:
        if key not in self.keys:
            return None
        row = self.keys.index(key)
        page = self.pages.get(key)
        built = page is None
        if page is None:
            QApplication.setOverrideCursor(Qt.WaitCursor)
            try:
                page = build_page(self.specs[row], self.ws, self)
            finally:
                QApplication.restoreOverrideCursor()
            old = self.stack.widget(row)
            self.stack.insertWidget(row, page)
            self.stack.removeWidget(old)
            old.deleteLater()
            self.pages[key] = page
        elif key in self._stale and not self.ws.locked:
            self._stale.discard(key)
            self._refill(page)
        if self.nav.currentRow() != row:
            self.nav.blockSignals(True)
            self.nav.setCurrentRow(row)
            self.nav.blockSignals(False)
        self.stack.setCurrentIndex(row)
        hook = getattr(page, "page_shown", None)
        if built and getattr(page, "FILLED_WHEN_BUILT", False):
            hook = None  # its __init__ has just read what page_shown would read again
        if callable(hook) and not self.ws.locked:
            try:
                hook()
            except Exception as e:  # a page's refresh must not take the window down
                ops.show_error(self, tr(self.specs[row].label), e)
        return page

    def page(self, key: str) -> QWidget | None:
        """Show the page and return its widget (for tests and for pages that talk to each other)."""
        return self.show_page(key)

    def current_key(self) -> str | None:
        row = self.stack.currentIndex()
        return self.keys[row] if 0 <= row < len(self.keys) else None

    def open_person(self, person_id: str) -> None:
        """Open a child's page (any page may call this)."""
        page = self.show_page("children")
        if page is None or isinstance(page, MessagePage):
            QMessageBox.information(self, tr("こどものページ"), tr("この役割ではこどものページを開けません。"))
            return
        page.open_person(person_id)

    def focus_search(self):
        page = self.show_page("children")
        hook = getattr(page, "focus_search", None)
        if callable(hook):
            hook()

    def status(self, text: str, ms: int = 6000):
        self.statusBar().showMessage(text, ms)

    # -- auto-lock ----------------------------------------------------------------------------------------------------
    def set_lock_minutes(self, minutes: float):
        """Idle time before locking (minutes; fractions allowed for tests). 0 or less: never."""
        self.lock_after = float(minutes) * 60.0
        self.last_input = time.monotonic()
        if self.lock_after <= 0:
            self.idle_timer.stop()
            return
        self.idle_timer.start(int(max(50, min(5000, self.lock_after * 1000 / 4))))

    def _check_idle(self):
        if self.ws.locked or self.lock_after <= 0:
            return
        if time.monotonic() - self.last_input >= self.lock_after:
            self.lock()

    def lock(self, *, manual: bool = False) -> bool:
        """Lock now (``manual``: the user's Ctrl+L or the button, logged as 手動ロック; else 自動ロック): close the
        database and drop the key, empty the pages' lists, cover every window, ask for the password."""
        if self.ws.locked:
            return True
        if ops.running():  # never pull the database from under a running import or linkage
            self.last_input = time.monotonic()
            self.status(tr("処理中のため、終わってからロックします。"))
            return False
        for page in list(self.pages.values()):
            hook = getattr(page, "before_lock", None)
            if callable(hook):
                try:
                    hook()
                except Exception:  # saving what is pending must not stop the lock
                    log.warning("%s.before_lock failed", type(page).__name__, exc_info=True)
        self.ws.lock(manual=manual)
        self._forget()
        for w in QApplication.topLevelWidgets():
            if w.isVisible() and w is not self and isinstance(w, QDialog):
                self._covers.append(LockCover(w))
                if w.isEnabled():
                    w.setEnabled(False)
                    self._disabled.append(w)
        self._covers.append(LockCover(self))
        self.locked.emit()
        self._ask_unlock()
        return True

    def _forget(self):
        """Empty every built page's lists (the key is gone; nothing of a child stays in the widgets)."""
        for page in self.pages.values():
            hook = getattr(page, "on_lock", None)
            try:
                hook() if callable(hook) else forget_rows(page)
            except Exception:  # the rows are emptied all the same
                log.warning("%s.on_lock failed", type(page).__name__, exc_info=True)
                forget_rows(page)
        self._stale = set(self.pages)

    def _refill(self, page):
        for name in ("on_unlock", "reload", "refresh"):
            fn = getattr(page, name, None)
            if callable(fn):
                try:
                    fn()
                except Exception as e:
                    ops.show_error(self, tr("ロック解除"), e)
                return

    def _ask_unlock(self):
        from .dialogs import SignInDialog

        dlg = SignInDialog(self.ws.path, workspace=self.ws, parent=self)
        dlg.setWindowModality(Qt.ApplicationModal)
        dlg.finished.connect(self._unlock_finished)
        self.lock_dialog = dlg
        dlg.open()

    def _unlock_finished(self, _result):
        dlg = self.lock_dialog
        if dlg is not None and dlg.quit_requested:
            self._quitting = True
            self.close()
            QApplication.instance().quit()
            return
        if self.ws.locked:
            QTimer.singleShot(0, self._ask_unlock)
            return
        for c in self._covers:
            c.remove()
        self._covers.clear()
        for w in self._disabled:
            w.setEnabled(True)
        self._disabled.clear()
        self.lock_dialog = None
        self.last_input = time.monotonic()
        self.raise_()
        self.activateWindow()  # keyboard shortcuts work again at once
        self.unlocked.emit()
        cur = self.pages.get(self.current_key() or "")
        if cur is not None and self.current_key() in self._stale:
            self._stale.discard(self.current_key())
            self._refill(cur)
        hook = getattr(cur, "page_shown", None)
        if callable(hook):
            try:
                hook()
            except Exception:  # the page after unlocking: its own refresh says what failed when it is used
                log.warning("%s.page_shown after unlock failed", type(cur).__name__, exc_info=True)

    def closeEvent(self, ev):
        if ops.running() and not self._quitting:
            if (
                QMessageBox.question(self, "Kodomo Desktop", tr("処理が終わっていません。終了しますか？"))
                != QMessageBox.Yes
            ):
                ev.ignore()
                return
        QApplication.instance().removeEventFilter(self._activity)
        self.idle_timer.stop()
        super().closeEvent(ev)


__all__ = ["MainWindow", "PAGES", "LockCover"]
