"""Shared test setup: Qt offscreen; Argon2 at its floor (64 MiB, t=3 — the target below it only skips calibrating up)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KODOMO_KDF_TARGET_MS", "20")

from pathlib import Path  # noqa: E402

from kodomo_desktop.core.storage import keys as _keys  # noqa: E402

_keys.enable_test_derive_cache()  # the KDF floor holds; the same derivation in one test process runs once

import pytest  # noqa: E402

# Screenshots and rendered pages go to the build folder, never into the tracked tree; `bash tools/update-screenshots.sh`
# runs the GUI/report tests and copies them into docs/images/ when a person decides the README should change.
IMAGES = Path(os.environ.get("KODOMO_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "build" / "screenshots")

PASSWORD = 'test "pass" ü 1'


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def new_db(tmp_path):
    """A fresh encrypted database (path, open Workspace) with its first coordinator."""
    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.create(tmp_path / "t.db", PASSWORD)
    yield ws
    ws.close()


# --- GUI tests ---------------------------------------------------------------------------------------------------------
def forbid_modals(monkeypatch) -> None:
    """A modal dialog under offscreen Qt waits for a click that never comes and hangs the run: fail fast instead."""
    from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

    def no_modal(*a, **k):
        raise AssertionError("a modal dialog was opened in a test")

    for name in ("warning", "information", "critical", "question", "about", "exec"):
        monkeypatch.setattr(QMessageBox, name, no_modal)
    for name in ("getText", "getItem", "getInt", "getMultiLineText"):
        monkeypatch.setattr(QInputDialog, name, no_modal)
    for name in ("getSaveFileName", "getOpenFileName", "getOpenFileNames", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, no_modal)
    monkeypatch.setattr(QDialog, "exec", no_modal)
    try:
        from PySide6.QtPrintSupport import QPrintDialog

        monkeypatch.setattr(QPrintDialog, "exec", no_modal)
    except ImportError:
        pass


@pytest.fixture
def no_modals(monkeypatch):
    forbid_modals(monkeypatch)


@pytest.fixture
def app(qapp, tmp_path, monkeypatch):
    """The Qt application as the app sets it up: its own config folder, the bundled Japanese font, Japanese UI."""
    monkeypatch.setenv("KODOMO_CONFIG_DIR", str(tmp_path / "config"))
    from kodomo_desktop.gui import i18n
    from kodomo_desktop.gui.app import register_fonts

    assert "IPAex" in register_fonts(qapp)  # without it Japanese renders as boxes
    i18n.set_language("ja")
    return qapp


def show_page(qtbot, page, width: int = 1360, height: int = 860):
    qtbot.addWidget(page)
    page.resize(width, height)
    page.show()
    qtbot.waitExposed(page)
    return page
