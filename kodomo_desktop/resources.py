"""Where the app's resources live: the repository's top-level ``resources/`` folder (the app runs from an editable
install), and the bundled Japanese font.

The machine the app runs on may have no Japanese font at all (a fresh Windows install in English, a minimal Linux):
Qt then draws boxes. :func:`register_fonts` registers the bundled IPAex Gothic (and Mincho) with Qt and returns the
font file, so that the PDFs (reportlab) embed exactly the same file.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "resources"
I18N = Path(__file__).resolve().parent.parent / "i18n"

GOTHIC_FILE = "ipaexg.ttf"
MINCHO_FILE = "ipaexm.ttf"
UI_FAMILY = "IPAexGothic"

_registered: dict[str, str] = {}


def resource_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


def i18n_path(*parts: str) -> Path:
    return I18N.joinpath(*parts)


def font_path(kind: str = "gothic") -> Path:
    return resource_path("fonts", GOTHIC_FILE if kind == "gothic" else MINCHO_FILE)


def icon_path(name: str = "app.svg") -> Path:
    return resource_path("icons", name)


def register_fonts(app=None, point_size: float | None = None) -> Path:
    """Register IPAex Gothic and Mincho with Qt (once per process) and make Gothic the application font.

    Returns the Gothic font file (the one PDFs embed). Needs a QGuiApplication to exist; ``app`` defaults to it.
    """
    from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

    app = app or QGuiApplication.instance()
    if app is None:
        raise RuntimeError("register_fonts() needs a QApplication")
    for kind in ("gothic", "mincho"):
        if kind in _registered:
            continue
        path = font_path(kind)
        if not path.exists():
            raise FileNotFoundError(f"同梱フォント {path} が見つかりません。resources/fonts/ を確認してください。")
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
