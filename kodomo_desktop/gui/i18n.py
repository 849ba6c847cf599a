"""Japanese first, English selectable: a small translation table (``i18n/en.json``, keyed by the Japanese text)
and Qt's own translations (qtbase_ja.qm from PySide6's translations folder) for the standard dialogs' buttons.

    from .i18n import tr
    QLabel(tr("こども一覧"))          # → "Children" when the language is English

A string missing from the table stays Japanese. The language is chosen with ``--lang`` or on the 設定 page
(saved per PC, applied at the next start).
"""

from __future__ import annotations

import json

from ..resources import i18n_path

LANGUAGES = {"ja": "日本語", "en": "English"}
_LANG = "ja"
_TABLE: dict[str, str] = {}


def set_language(lang: str) -> None:
    global _LANG, _TABLE
    _LANG = lang if lang in LANGUAGES else "ja"
    _TABLE = {}
    if _LANG != "ja":
        path = i18n_path(f"{_LANG}.json")
        if path.exists():
            _TABLE = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def language() -> str:
    return _LANG


def tr(text: str, **fmt) -> str:
    """The text in the current language; ``fmt`` fills ``{name}`` placeholders after translation."""
    out = _TABLE.get(text, text) if _LANG != "ja" else text
    return out.format(**fmt) if fmt else out


def install_qt_translations(app, lang: str | None = None) -> bool:
    """Load Qt's own catalogue (qtbase_<lang>.qm) so QMessageBox / QFileDialog / QProgressDialog buttons follow the
    language. English needs nothing. Returns whether a catalogue was installed."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    lang = lang or _LANG
    old = getattr(app, "_kodomo_qt_translator", None)
    if old is not None:
        app.removeTranslator(old)
        app._kodomo_qt_translator = None
    if lang == "en":
        QLocale.setDefault(QLocale(QLocale.English, QLocale.UnitedStates))
        return False
    QLocale.setDefault(QLocale(QLocale.Japanese, QLocale.Japan))
    translator = QTranslator(app)
    ok = translator.load(f"qtbase_{lang}", QLibraryInfo.path(QLibraryInfo.TranslationsPath))
    if ok:
        app.installTranslator(translator)
        app._kodomo_qt_translator = translator
    return ok
