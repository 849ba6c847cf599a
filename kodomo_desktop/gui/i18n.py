"""A small translation table: Japanese is the default; English selectable (``--lang en`` or 設定)."""
from __future__ import annotations

import json
from pathlib import Path

_LANG = "ja"
_EN: dict[str, str] = {}
_FILE = Path(__file__).resolve().parents[2] / "i18n" / "en.json"


def set_language(lang: str) -> None:
    global _LANG, _EN
    _LANG = lang
    if lang == "en" and not _EN and _FILE.exists():
        _EN = json.loads(_FILE.read_text(encoding="utf-8"))


def tr(text: str) -> str:
    return _EN.get(text, text) if _LANG == "en" else text


def language() -> str:
    return _LANG
