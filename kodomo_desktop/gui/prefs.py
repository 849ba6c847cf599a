"""Per-PC preferences that must be known before a database is unlocked (language, last database, last user).

Kept in an INI file through QSettings (no personal data: a file path and a user name) in the per-user folder that
``core.platform.config_dir()`` names (~/.config/KodomoDesktop, %LOCALAPPDATA%\\KodomoDesktop); ``KODOMO_CONFIG_DIR``
moves it (tests use a temporary folder). Per-database settings (auto-lock minutes, town name) live in the
encrypted database's ``setting`` table instead (:func:`db_setting` / :func:`set_db_setting`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QStandardPaths

from ..core import platform
from ..core import settings as core_settings

if TYPE_CHECKING:  # annotations only: the GUI gets its workspace from the caller
    from ..core.workspace import Workspace

ORG = "KodomoDesktop"
APP = "KodomoDesktop"
DEFAULT_AUTO_LOCK_MINUTES = 10


def settings() -> QSettings:
    folder = platform.config_dir()
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "kodomo-desktop.ini"), QSettings.IniFormat)


def get(key: str, default=None):
    v = settings().value(key, default)
    return default if v in (None, "") else v


def put(key: str, value) -> None:
    s = settings()
    s.setValue(key, value)
    s.sync()


def data_dir() -> Path:
    """Where the app keeps its own files by default (~/.local/share/KodomoDesktop, %LOCALAPPDATA%\\KodomoDesktop)."""
    return platform.data_dir()


def demo_db_path() -> Path:
    return data_dir() / "demo.db"


def default_db_path() -> Path:
    docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
    return Path(docs) / "KodomoDesktop" / "kodomo.db"


# --- per-database settings (encrypted, logged when changed) ------------------------------------------------------
def db_setting(ws: Workspace, key: str, default=None):
    return core_settings.get(ws, key, default)


def set_db_setting(ws: Workspace, values: dict) -> None:
    """Write settings (needs the 設定 permission) and log which keys changed — never their values."""
    core_settings.set_many(ws, values)


def auto_lock_minutes(ws: Workspace) -> float:
    try:
        return float(db_setting(ws, "auto_lock_minutes", DEFAULT_AUTO_LOCK_MINUTES))
    except (TypeError, ValueError):
        return float(DEFAULT_AUTO_LOCK_MINUTES)
