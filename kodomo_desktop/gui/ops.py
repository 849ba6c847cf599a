"""Long work off the GUI thread (after Anki's CollectionOp/QueryOp): a QThread runs ``fn(progress, cancelled)``,
a QProgressDialog shows progress with キャンセル, and the result or error comes back on the GUI thread."""
from __future__ import annotations

from PySide6.QtCore import QEventLoop, QThread, Signal
from PySide6.QtWidgets import QProgressDialog


class _Worker(QThread):
    message = Signal(str)
    step = Signal(int, int)

    def __init__(self, fn):
        super().__init__()
        self.fn, self.result, self.error, self._cancel = fn, None, None, False

    def run(self):
        def progress(a, b=None):
            if b is None:
                self.message.emit(str(a))
            else:
                self.step.emit(int(a), int(b))
        try:
            self.result = self.fn(progress, lambda: self._cancel)
        except BaseException as e:  # delivered to the GUI thread, never lost
            self.error = e


def run_with_progress(parent, title: str, fn) -> tuple[bool, object]:
    """Run and wait (the GUI stays responsive). Returns (True, result) or (False, error message)."""
    dlg = QProgressDialog(title, "キャンセル", 0, 0, parent)
    dlg.setWindowTitle("Kodomo Desktop")
    dlg.setMinimumDuration(300)
    w = _Worker(fn)
    w.message.connect(dlg.setLabelText)
    w.step.connect(lambda a, b: (dlg.setMaximum(max(b, 1)), dlg.setValue(a)))
    dlg.canceled.connect(lambda: setattr(w, "_cancel", True))
    loop = QEventLoop()
    w.finished.connect(loop.quit)
    w.start()
    loop.exec()
    dlg.close()
    if w.error is not None:
        return False, getattr(w.error, "message_ja", str(w.error))
    return True, w.result
