"""Where the app's resources live (the top-level resources/ folder; the app runs from an editable install)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    return ROOT.joinpath(*parts)


def font_path(kind: str = "gothic") -> Path:
    return resource_path("fonts", "ipaexg.ttf" if kind == "gothic" else "ipaexm.ttf")
