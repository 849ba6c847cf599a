"""Long operations off the GUI thread, after Anki's CollectionOp/QueryOp.

``fn(progress, cancel, *args, **kwargs)`` runs on a QThread while a QProgressDialog (with キャンセル) shows its
progress; the result or the exception comes back on the GUI thread.

* ``progress`` accepts what the core services already emit: ``progress("名寄せの候補を比較しています…")`` (a
  message), ``progress(done, total)`` (a count, as ``import_file`` does), or ``progress(text=…, value=…,
  maximum=…)``. It is thread-safe and cheap to call often (updates are throttled).
* ``cancel`` is a flag: ``cancel()`` / ``cancel.is_set()`` is True once the user pressed キャンセル — pass it as
  ``cancel=cancel`` to services that take a callable (``import_file``), or call ``cancel.check()`` between steps to
  stop with :class:`Cancelled`. Nothing is killed: the function decides where it is safe to stop.

Asynchronous (the usual form; callbacks run on the GUI thread)::

    from kodomo_desktop.gui.ops import run_with_progress
    run_with_progress(self, "名寄せ", lambda progress, cancel: L.run_linkage(self.ws, progress=progress),
                      on_done=self.show_summary)           # errors: a Japanese message box by default

Blocking (the GUI keeps repainting; returns the result or raises the exception, Cancelled when cancelled)::

    res = call_with_progress(self, "取込", lambda progress, cancel: S.import_file(ws, path, st,
                                                                                  progress=progress, cancel=cancel))

While an operation runs the main window postpones its auto-lock (:func:`running`).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

from ..core.errors import Cancelled, KodomoError
from .i18n import tr, translate

log = logging.getLogger(__name__)  # the diagnostic file log (core/logsetup.py: ids and types only)

__all__ = ["Cancelled", "CancelFlag", "Op", "run_with_progress", "call_with_progress", "running", "show_error"]


class CancelFlag:
    """Set from the GUI thread, read from the worker: ``cancel()`` and ``cancel.is_set()`` say whether to stop."""

    def __init__(self):
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    __call__ = is_set

    def __bool__(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self._event.is_set():
            raise Cancelled()


class _Bridge(QObject):
    """Lives on the GUI thread; the worker emits, Qt queues the call across threads."""

    progressed = Signal(object, object, object)  # text, value, maximum


class Progress:
    """The callable handed to ``fn`` as ``progress``."""

    def __init__(self, bridge: _Bridge, interval: float = 0.05):
        self._bridge = bridge
        self._interval = interval
        self._last = 0.0
        self._last_text: str | None = None

    def __call__(self, *args, text: str | None = None, value: float | None = None, maximum: float | None = None):
        nums = []
        for a in args:
            if isinstance(a, str):
                text = a
            elif isinstance(a, (int, float)):
                nums.append(a)
        if nums:
            value = nums[0]
            if len(nums) > 1:
                maximum = nums[1]
        now = time.monotonic()
        changed_text = text is not None and text != self._last_text
        finished = value is not None and maximum is not None and value >= maximum
        if not (changed_text or finished) and now - self._last < self._interval:
            return
        self._last = now
        if text is not None:
            self._last_text = text
        self._bridge.progressed.emit(text, value, maximum)


class _Worker(QThread):
    def __init__(self, fn, args, kwargs, progress, cancel):
        super().__init__()
        self.fn, self.args, self.kwargs, self.progress, self.cancel = fn, args, kwargs, progress, cancel
        self.result: Any = None
        self.error: BaseException | None = None
        self.trace: str | None = None

    def run(self):
        try:
            self.result = self.fn(self.progress, self.cancel, *self.args, **self.kwargs)
        except Exception as e:  # delivered to the GUI thread, never lost
            from ..core.errors import storage_failure

            e = storage_failure(e) or e  # a locked / full / read-only database: said in Japanese
            self.error = e
            if not isinstance(e, KodomoError):
                self.trace = traceback.format_exc()


_RUNNING: set[Op] = set()


def running() -> int:
    """How many operations are running now (the main window does not auto-lock meanwhile)."""
    return len(_RUNNING)


SHOW_DELAY_MS = 300  # how long work runs before its progress dialog appears


class Op(QObject):
    """One running operation. Signals fire on the GUI thread: ``done(result)``, ``failed(exception)``,
    ``finished()`` (after either)."""

    done = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(
        self,
        parent,
        title: str,
        fn: Callable,
        args: tuple,
        kwargs: dict,
        *,
        label: str | None = None,
        cancellable: bool = True,
        delay_ms: int | None = None,
    ):
        super().__init__()
        self.title = title
        self.cancel = CancelFlag()
        self.result: Any = None
        self.error: BaseException | None = None
        self.is_running = True
        self._bridge = _Bridge()
        self.dialog = QProgressDialog(label or title, tr("キャンセル") if cancellable else "", 0, 0, parent)
        d = self.dialog
        d.setWindowTitle(title)
        d.setWindowModality(Qt.WindowModal if parent is not None else Qt.ApplicationModal)
        d.setAutoClose(False)
        d.setAutoReset(False)
        d.setMinimumDuration(0)
        d.setMinimumWidth(420)
        if not cancellable:
            d.setCancelButton(None)
        try:  # keep the dialog up after キャンセル until the work has really stopped
            d.canceled.disconnect(d.cancel)
        except (RuntimeError, TypeError):  # pragma: no cover - older bindings
            pass
        d.canceled.connect(self._on_cancel)
        d.hide()
        self._bridge.progressed.connect(self._on_progress)
        self._worker = _Worker(fn, args, kwargs, Progress(self._bridge), self.cancel)
        self._worker.finished.connect(self._on_finished)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.timeout.connect(self._show)
        _RUNNING.add(self)
        self._worker.start()
        self._show_timer.start(max(0, SHOW_DELAY_MS if delay_ms is None else delay_ms))

    # -- GUI-thread slots ----------------------------------------------------------------------------------------
    def _show(self):
        if self.is_running:
            self.dialog.show()

    def _on_progress(self, text, value, maximum):
        if self.cancel.is_set():
            return
        d = self.dialog
        if text is not None:
            d.setLabelText(str(text))
        if maximum is not None:
            d.setMaximum(max(int(maximum), 1))
        if value is not None:
            if d.maximum() == 0:
                d.setMaximum(100)
            d.setValue(min(int(value), d.maximum()))

    def _on_cancel(self):
        self.cancel.set()
        self.dialog.setLabelText(tr("キャンセルしています…（区切りのよいところで止めます）"))
        self.dialog.setCancelButtonText("")
        self.dialog.setRange(0, 0)
        self.dialog.show()

    def _on_finished(self):
        self.is_running = False
        self._show_timer.stop()
        w = self._worker
        self.result, self.error = w.result, w.error
        if w.trace:
            print(w.trace, file=sys.stderr)
        self.dialog.hide()
        self.dialog.deleteLater()
        _RUNNING.discard(self)
        w.deleteLater()
        if self.error is None:
            self.done.emit(self.result)
        else:
            self.failed.emit(self.error)
        self.finished.emit()

    # -- helpers --------------------------------------------------------------------------------------------------
    def wait(self, timeout_ms: int | None = None) -> bool:
        """Run a local event loop until the operation has finished (the GUI keeps repainting)."""
        if not self.is_running:
            return True
        loop = QEventLoop()
        self.finished.connect(loop.quit)
        if timeout_ms is not None:
            QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        return not self.is_running


def show_error(parent, title: str, error: BaseException) -> None:
    """The standard way to show an operation's failure: the Japanese message of a KodomoError, else a short
    notice. Either way the diagnostic log gets the error's type (and an unexpected one's traceback, its message
    scrubbed): a Windows GUI process has no console where stderr would be read."""
    if isinstance(error, Cancelled):  # core.errors.Cancelled, the importer's too
        return
    if isinstance(error, KodomoError):
        log.warning("refused and shown to the user: %s", type(error).__qualname__)
        QMessageBox.warning(parent, title, translate(error.message_ja))  # a core Message by its template
    else:
        log.error("unexpected error shown to the user", exc_info=(type(error), error, error.__traceback__))
        QMessageBox.critical(
            parent,
            title,
            tr(
                "予期しないエラーが起きました。データは変更されていない可能性が高いですが、"
                "操作をやり直す前に内容を確認してください。"
            )
            + f"\n\n{type(error).__name__}: {error}",
        )


def run_with_progress(
    parent,
    title: str,
    fn: Callable,
    *args,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    label: str | None = None,
    cancellable: bool = True,
    delay_ms: int | None = None,
    **kwargs,
) -> Op:
    """Start ``fn(progress, cancel, *args, **kwargs)`` on a worker thread; returns the :class:`Op` at once.

    ``on_done(result)`` / ``on_error(exception)`` run on the GUI thread. Without ``on_error`` a failure is shown
    with :func:`show_error` (a cancellation silently). The progress dialog appears after ``delay_ms`` (default
    :data:`SHOW_DELAY_MS`: quick operations do not flash a window)."""
    if QApplication.instance() is None:
        raise RuntimeError("run_with_progress() needs a QApplication")
    op = Op(parent, title, fn, args, kwargs, label=label, cancellable=cancellable, delay_ms=delay_ms)
    if on_done is not None:
        op.done.connect(on_done)
    op.failed.connect(on_error if on_error is not None else (lambda e: show_error(parent, title, e)))
    return op


def call_with_progress(
    parent,
    title: str,
    fn: Callable,
    *args,
    label: str | None = None,
    cancellable: bool = True,
    delay_ms: int | None = None,
    **kwargs,
):
    """Blocking form: run like :func:`run_with_progress`, wait (the GUI keeps repainting), then return the result
    or raise the exception on the GUI thread (:class:`Cancelled` after キャンセル)."""
    op = Op(parent, title, fn, args, kwargs, label=label, cancellable=cancellable, delay_ms=delay_ms)
    op.wait()
    if op.error is not None:
        raise op.error
    return op.result
