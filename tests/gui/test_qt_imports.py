"""PySide6's import hooks are released (kodomo_desktop/gui/__init__.py): the plain import statement is back once the
GUI is loaded, Qt's lazily made classes still load, and nothing in the package or the tests needs either hook."""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_HOOKED = re.compile(r"^\s*from\s+(__feature__\s+import|PySide6(\.\w+)*\s+import\s+\*)", re.M)


def test_nothing_uses_what_the_hooks_are_for():
    """``from __feature__ import …`` (snake_case, true_property) and a star import of a PySide6 module are the two
    things the hooks serve; with the plain statement back, either would silently do less."""
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0).strip()}"
        for p in [
            *(ROOT / "kodomo_desktop").rglob("*.py"),
            *(ROOT / "tests").rglob("*.py"),
            *(ROOT / "benchmarks").rglob("*.py"),
        ]
        for m in _HOOKED.finditer(p.read_text(encoding="utf-8"))
        if p.resolve() != Path(__file__).resolve()
    ]
    assert not found, found


def test_the_tests_run_with_the_plain_statement(app):
    assert builtins.__import__.__name__ == "__import__" and builtins.__import__.__self__ is builtins


def test_the_app_releases_the_hooks_and_qt_still_loads_its_classes_on_demand():
    """A fresh interpreter as the app starts: after ``gui.app`` is imported the statement is Python's own, and
    classes PySide6 makes only when first asked for still come."""
    code = r"""
import builtins
plain = builtins.__import__
import kodomo_desktop.gui.app
assert builtins.__import__ is plain, builtins.__import__
from PySide6.QtWidgets import QCalendarWidget, QApplication
from PySide6.QtGui import QPdfWriter
from PySide6 import QtPrintSupport
app = QApplication([])
w = QCalendarWidget()
assert w.selectedDate().isValid()
assert QtPrintSupport.QPrinter.PrinterMode.HighResolution is not None
print("ok")
"""
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_only_pysides_hooks_over_the_plain_statement_are_replaced(monkeypatch):
    """Kept too late (the package imported after PySide6: what it kept is a hook), or someone else's hook in place:
    nothing is replaced."""
    import kodomo_desktop.gui as G

    def __feature_import__(*a, **k):  # what PySide6's hook is called
        return plain(*a, **k)

    def their_hook(*a, **k):
        return plain(*a, **k)

    plain = builtins.__import__
    monkeypatch.setattr(G, "_PLAIN_IMPORT", __feature_import__)
    monkeypatch.setattr(builtins, "__import__", __feature_import__)
    assert G.release_import_hooks() is False and builtins.__import__ is __feature_import__
    monkeypatch.setattr(G, "_PLAIN_IMPORT", plain)
    monkeypatch.setattr(builtins, "__import__", their_hook)
    assert G.release_import_hooks() is False and builtins.__import__ is their_hook
    monkeypatch.setattr(builtins, "__import__", __feature_import__)
    assert G.release_import_hooks() is True and builtins.__import__ is plain
