"""``kodomo-desktop --self-test [--db PATH]``: the check a town's IT runs after installing.

Without ``--db`` it builds a small synthetic demo town in a private temporary folder (removed afterwards); with
``--db`` it signs in to that database (password from ``KODOMO_DB_PASSWORD``, default ``demo``; user from
``--user``/``KODOMO_USER``, default the first coordinator). Then, as a person would: the sign-in dialog, the main
window, every page in :data:`~kodomo_desktop.gui.pages.PAGES` that the role may see, an assessment sheet previewed
(PDFium) and saved as PDF, and — on the temporary demo town only — printed to a PDF-mode ``QPrinter``. A message
box that a page would open is answered and counted as that page's failure (nothing waits for a click).

Runs offscreen where ``QT_QPA_PLATFORM=offscreen``. Prints one line per step and exits 0, or 1 naming the step
(the page) that failed. Nothing here is a stub: the pages, reports and renderer are the app's own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QAbstractEventDispatcher, QEventLoop
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QInputDialog, QLabel, QMessageBox

from ..core import platform
from . import ops
from .i18n import tr

SELFTEST_RESIDENTS = 300
SELFTEST_SEED = 1
SELFTEST_PASSWORD = "demo"


class StepFailed(Exception):
    pass


class _Modals:
    """While the self-test runs, a dialog that would wait for a click is answered at once and remembered."""

    def __init__(self):
        self.seen: list[str] = []
        self._saved: list[tuple[object, str, object]] = []

    def _patch(self, owner, name, value):
        self._saved.append((owner, name, owner.__dict__.get(name, getattr(owner, name))))
        setattr(owner, name, value)

    def __enter__(self):
        def box(kind):
            def answer(parent, title="", text="", *a, **k):
                self.seen.append(f"{kind}: {title}: {text}".strip())
                return QMessageBox.No if kind == "question" else QMessageBox.Ok

            return staticmethod(answer)

        for kind in ("warning", "information", "critical", "question"):
            self._patch(QMessageBox, kind, box(kind))

        def rejected(dialog, *a, **k):
            self.seen.append(f"dialog: {dialog.windowTitle()}")
            return 0

        self._patch(QMessageBox, "exec", rejected)
        self._patch(QDialog, "exec", rejected)
        for name in ("getText", "getItem", "getInt", "getMultiLineText"):
            self._patch(QInputDialog, name, staticmethod(lambda *a, **k: ("", False)))
        for name in ("getSaveFileName", "getOpenFileName"):
            self._patch(QFileDialog, name, staticmethod(lambda *a, **k: ("", "")))
        self._patch(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
        return self

    def __exit__(self, *exc):
        for owner, name, value in reversed(self._saved):
            setattr(owner, name, value)
        return False

    def take(self) -> list[str]:
        out, self.seen = self.seen, []
        return out


def _pump(ms: int = 30) -> None:
    """Let the GUI settle: events are processed until two passes in a row find none and no background operation is
    running, for at most ``ms`` (a page whose work is still running gets the whole time, as before; a settled one
    is not waited for)."""
    app = QApplication.instance()
    dispatcher = QAbstractEventDispatcher.instance()
    end = time.monotonic() + ms / 1000
    quiet = 0
    while True:
        app.processEvents()
        busy = dispatcher.processEvents(QEventLoop.ProcessEventsFlag.AllEvents) if dispatcher is not None else True
        quiet = 0 if busy or ops.running() else quiet + 1
        if quiet >= 2 or time.monotonic() >= end:
            return
        if not busy:
            time.sleep(0.005)


def _wait_op(op, timeout_s: float = 300) -> None:
    end = time.monotonic() + timeout_s
    while op.is_running:
        if time.monotonic() > end:
            raise StepFailed("時間内に終わりませんでした")
        _pump(20)
    if op.error is not None:
        raise StepFailed(f"{type(op.error).__name__}: {getattr(op.error, 'message_ja', op.error)}")


class SelfTest:
    def __init__(self, db: Path | None, user: str | None = None, out=None):
        self.db = Path(db).expanduser() if db else None
        self.user = user or os.environ.get("KODOMO_USER") or None
        self.out = out or sys.stdout or self._report_file()
        self.tmp: Path | None = None
        self.ws = None
        self.win = None

    @staticmethod
    def _report_file():
        """A windowed Windows executable has no stdout: the report goes to %LOCALAPPDATA%\\KodomoDesktop\\selftest.txt."""
        folder = platform.ensure_private_dir(platform.data_dir())
        return open(folder / "selftest.txt", "w", encoding="utf-8")  # noqa: SIM115 (open for the whole run)

    def say(self, ok: bool, step: str, detail: str = "") -> None:
        print(f"{'ok' if ok else 'NG'}  {step}{'  ' + detail if detail else ''}", file=self.out, flush=True)

    # -- the steps ----------------------------------------------------------------------------------------------------
    def open_town(self) -> tuple[Path, str, bool]:
        if self.db is not None:
            if not self.db.exists():
                raise StepFailed(f"データベースがありません: {self.db}")
            return self.db, os.environ.get("KODOMO_DB_PASSWORD") or SELFTEST_PASSWORD, False
        from ..core.demo.service import build_demo

        self.tmp = platform.private_tempdir("kodomo-selftest-")
        path = self.tmp / "selftest.db"
        t = time.monotonic()
        build_demo(path, residents=SELFTEST_RESIDENTS, seed=SELFTEST_SEED, password=SELFTEST_PASSWORD)
        self.say(True, "デモの町を作成", f"住民 {SELFTEST_RESIDENTS} 人・{time.monotonic() - t:.1f} 秒・{path}")
        return path, SELFTEST_PASSWORD, True

    def sign_in(self, path: Path, password: str):
        from .dialogs import SignInDialog

        dlg = SignInDialog(path, user=self.user, demo=self.db is None)
        dlg.show()
        _pump()
        dlg.pw.setText(password)
        if not dlg.try_open():
            raise StepFailed(dlg.msg.text() or "サインインできませんでした")
        dlg.close()
        self.ws = dlg.workspace
        self.say(True, "サインイン", f"{self.ws.user.name}（{tr(self.ws.user.role_label)}）")

    def visit_pages(self, modals: _Modals) -> list[str]:
        from .main_window import MainWindow
        from .pages import PAGES, MessagePage, allowed

        self.win = MainWindow(self.ws, lock_minutes=0)
        self.win.show()
        _pump(100)
        failed = []
        for spec in PAGES:
            label = f"ページ「{spec.label}」"
            if not allowed(self.ws, spec):
                self.say(True, label, "（この役割では表示されません）")
                continue
            modals.take()
            try:
                page = self.win.show_page(spec.key)
                _pump(60)
            except Exception as e:  # the window promises never to raise; say so if it does
                traceback.print_exc(file=sys.stderr)
                page, problem = None, f"{type(e).__name__}: {e}"
            else:
                problem = ""
                if page is None:
                    problem = "ページが作られませんでした"
                elif isinstance(page, MessagePage) and page.kind in ("error", "pending"):
                    problem = "：".join(w.text() for w in page.findChildren(QLabel) if w.text()) or page.kind
            boxes = modals.take()
            if boxes and not problem:
                problem = "; ".join(boxes)
            self.say(not problem, label, problem)
            if problem:
                failed.append(spec.label)
        return failed

    def documents(self, modals: _Modals, print_too: bool) -> None:
        from ..core import persons as P
        from .pages import MessagePage

        step = "ページ「帳票」: プレビューとPDF保存"
        page = self.win.show_page("print")
        if page is None or isinstance(page, MessagePage):
            raise StepFailed(f"{step}: 帳票ページを開けません")
        child = next((r for r in P.list_children(self.ws, log=False) if r.name_kana and not r.opted_out), None)
        if child is None:
            raise StepFailed(f"{step}: こどもの記録がありません")
        page.set_kind("assessment")
        page.a_child.search.setText(child.name_kana)
        page.a_child.apply_search()
        if not page.a_child.select(child.person_id):
            raise StepFailed(f"{step}: こどもを選べません")
        op = page.preview()
        if op is None:
            raise StepFailed(f"{step}: {page.notice.text()}")
        _wait_op(op)
        _pump(50)
        if not page.current or page.page_count() < 1:
            raise StepFailed(f"{step}: プレビューが表示されません（{page.notice.text()}）")
        pages = page.page_count()
        where = self.tmp or platform.private_tempdir("kodomo-selftest-")
        self.tmp = where
        pdf = where / "selftest.pdf"
        res = page.save_pdf(pdf)
        if not res or not pdf.exists() or pdf.read_bytes()[:5] != b"%PDF-":
            raise StepFailed(f"{step}: PDFを保存できません（{page.notice.text()}）")
        boxes = modals.take()
        if boxes:
            raise StepFailed(f"{step}: {'; '.join(boxes)}")
        self.say(True, step, f"{pages} ページ・{pdf.stat().st_size:,} バイト")
        if print_too:
            from PySide6.QtPrintSupport import QPrinter

            step = "ページ「帳票」: 印刷（PDFプリンター）"
            printer = QPrinter(QPrinter.HighResolution)
            printer.setOutputFormat(QPrinter.PdfFormat)
            printer.setOutputFileName(str(where / "printed.pdf"))
            printer.setResolution(150)
            n = page.print_to(printer)
            if n != pages or not (where / "printed.pdf").exists():
                raise StepFailed(f"{step}: {page.notice.text() or '印刷できません'}")
            self.say(True, step, f"{n} ページ")
        page.clear_preview()

    # -- the run ------------------------------------------------------------------------------------------------------
    def run(self) -> int:
        started = time.monotonic()
        print(f"Kodomo Desktop 自己診断  {platform.describe()['platform']}  Qt {_qt_version()}", file=self.out)
        failed: list[str] = []
        with _Modals() as modals:
            try:
                path, password, temporary = self.open_town()
                self.sign_in(path, password)
                failed = self.visit_pages(modals)
                try:
                    self.documents(modals, print_too=temporary)
                except StepFailed as e:
                    self.say(False, str(e))
                    failed.append("帳票")
            except StepFailed as e:
                self.say(False, str(e))
                failed.append(str(e))
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                self.say(False, f"{type(e).__name__}: {e}")
                failed.append(type(e).__name__)
            finally:
                self.close()
        took = time.monotonic() - started
        if failed:
            print(f"自己診断: 失敗（{'、'.join(failed)}）  {took:.1f} 秒", file=self.out, flush=True)
            print(f"自己診断に失敗しました: {'、'.join(failed)}", file=sys.stderr, flush=True)
            return 1
        print(f"自己診断: すべて正常  {took:.1f} 秒", file=self.out, flush=True)
        return 0

    def close(self) -> None:
        if self.win is not None:
            with contextlib.suppress(Exception):
                page = self.win.pages.get("print")
                if page is not None and hasattr(page, "clear_preview"):
                    page.clear_preview()
            self.win.hide()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                if not self.ws.locked:
                    self.ws.close()
        if self.win is not None:
            self.win._quitting = True
            self.win.deleteLater()
            _pump(20)
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def prepare_environment() -> None:
    """Before the QApplication exists: a Linux machine with no display runs the check offscreen by itself."""
    if not os.environ.get("QT_QPA_PLATFORM") and not platform.has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _quiet_qt_messages() -> None:
    """The offscreen platform warns once per window that it cannot propagate size hints: noise in the report."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_kind, _context, message):
        if "propagateSizeHints" in message:
            return
        if sys.stderr is not None:
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def _qt_version() -> str:
    from PySide6 import __version__

    return __version__


def run(db: str | Path | None = None, user: str | None = None) -> int:
    _quiet_qt_messages()
    try:
        return SelfTest(Path(db) if db else None, user=user).run()
    finally:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(None)
