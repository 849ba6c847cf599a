"""The bundled Japanese font, registered with Qt (the core's PDFs embed the same file: ``resources.font_path``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

from ..resources import UI_FAMILY, font_path

_registered: dict[str, str] = {}


def register_fonts(app=None, point_size: float | None = None) -> Path:
    """Register IPAex Gothic and Mincho with Qt (once per process) and make Gothic the application font.

    Returns the Gothic font file (the one PDFs embed). Needs a QGuiApplication to exist; ``app`` defaults to it.
    """
    app = app or QGuiApplication.instance()
    if app is None:
        raise RuntimeError("register_fonts() needs a QApplication")
    for kind in ("gothic", "mincho"):
        if kind in _registered:
            continue
        path = font_path(kind)
        if not path.exists():
            raise FileNotFoundError(f"同梱フォント {path} が見つかりません。インストールをやり直してください。")
        fid = QFontDatabase.addApplicationFont(str(path))
        families = QFontDatabase.applicationFontFamilies(fid) if fid >= 0 else []
        _registered[kind] = families[0] if families else ("IPAexGothic" if kind == "gothic" else "IPAexMincho")
    font = QFont(_registered["gothic"])
    font.setPointSizeF(point_size or max(app.font().pointSizeF(), 10.0))
    font.setStyleHint(QFont.SansSerif)
    app.setFont(font)
    return font_path("gothic")


def ui_family() -> str:
    """The registered family name of the UI font (after :func:`register_fonts`)."""
    return _registered.get("gothic", UI_FAMILY)
