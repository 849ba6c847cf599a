"""Japanese first, English selectable: the app's one translation table (core/i18n.py — the core's messages use it
too: ``translate(error.message_ja)``) and Qt's own translations (qtbase_ja.qm from PySide6's translations folder) for the standard dialogs' buttons.

    from .i18n import tr
    QLabel(tr("こども一覧"))          # → "Children" when the language is English

A string missing from the table stays Japanese. The language is chosen with ``--lang`` or on the 設定 page
(saved per PC, applied at the next start).
"""

from __future__ import annotations

import re

from ..core.i18n import LANGUAGES, Message, language, msg, set_language, tr, translate

__all__ = [
    "LANGUAGES",
    "Message",
    "install_qt_translations",
    "label_of",
    "reason_value",
    "language",
    "msg",
    "set_language",
    "tr",
    "tr_list",
    "translate",
]


def label_of(item: dict, key: str = "label", default: str = "") -> str:
    """A label the core stored with both languages (``label_ja`` / ``label_en``, e.g. a link explanation's parts):
    the table's text first, else the stored English when the language is English, else the Japanese."""
    ja = item.get(f"{key}_ja") or item.get(key) or default
    out = tr(ja) if ja else ja
    if out == ja and language() == "en" and item.get(f"{key}_en"):
        return str(item[f"{key}_en"])
    return out


def reason_value(value: str | None) -> str:
    """A score reason's found value as the engine writes it, ``<field label> <value>`` (「欠席日数 58」,
    「課税区分 非課税」): the label and a coded value through the table; a value not in the table (a number, a town's
    own text) stays as it is, and so does a text whose label has no English."""
    if not value or language() == "ja":
        return value or ""
    whole = tr(value)
    if whole != value:
        return whole
    label, sep, rest = value.partition(" ")
    if not sep or tr(label) == label:
        return value
    counted = _COUNTED.fullmatch(rest)  # a household count: 「18歳以下 3人」, 「きょうだい 2人（本人の記録で抽出）」
    if counted:
        return tr("{label} {n}人", label=tr(label), n=counted[1]) + (tr(counted[2]) if counted[2] else "")
    return f"{tr(label)} {tr(rest)}"


_COUNTED = re.compile(r"(\d+)人(（[^）]*）)?")


def tr_list(text: str, sep: str = "・") -> str:
    """A list of labels joined with ``sep`` (「虐待・貧困」): each translated when every one is in the table, else the
    text as it is (a town's own item keeps its Japanese)."""
    if language() == "ja" or not text:
        return text
    whole = tr(text)
    if whole != text:
        return whole
    parts = text.split(sep)
    done = [tr(x) for x in parts]
    return ", ".join(done) if len(parts) > 1 and all(d != x for d, x in zip(done, parts)) else text


def install_qt_translations(app, lang: str | None = None) -> bool:
    """Load Qt's own catalogue (qtbase_<lang>.qm) so QMessageBox / QFileDialog / QProgressDialog buttons follow the
    language. English needs nothing. Returns whether a catalogue was installed."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    lang = lang or language()
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
