"""Where the app's resources live: inside the package (``kodomo_desktop/resources/`` and ``kodomo_desktop/i18n/``),
so that a wheel, a standalone bundle and an editable checkout all find them the same way (``importlib.resources``).

The PDFs (reportlab) embed the same bundled IPAex font file that the GUI registers with Qt (``gui/fonts.py``):
the machine the app runs on may have no Japanese font at all. This module is Qt-free.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

# A package installed as files (wheel, editable checkout, PyInstaller's collected data) is a real folder.
ROOT = Path(str(files(__package__)))
I18N = ROOT.parent / "i18n"

GOTHIC_FILE = "ipaexg.ttf"
MINCHO_FILE = "ipaexm.ttf"
UI_FAMILY = "IPAexGothic"


def resource_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


def i18n_path(*parts: str) -> Path:
    return I18N.joinpath(*parts)


def font_path(kind: str = "gothic") -> Path:
    return resource_path("fonts", GOTHIC_FILE if kind == "gothic" else MINCHO_FILE)


def icon_path(name: str = "app.svg") -> Path:
    return resource_path("icons", name)
