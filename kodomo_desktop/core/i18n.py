"""One translation mechanism for the core and the GUI (Qt-free).

Japanese is the source language: the table ``kodomo_desktop/i18n/<lang>.json`` is keyed by the Japanese text, and
a text missing from it stays Japanese. Messages with values are *templates*: write ``msg("{n} 行目の日付が正しくあり
ません", n=3)`` instead of an f-string, and the text keeps its template and parameters, so whoever shows it can
translate the template first and fill the values after (``translate(text)``). The GUI's ``tr()`` is this module's
:func:`tr`; status, source and role labels (core/vocab.py) and the log's action names go through the same table.

Labels whose English lives next to their Japanese at the source — the indicator catalogue's ``label_en`` (shipped
and the town's own), the linkage comparisons' and reasons' English — are added to the same table with
:func:`register` by the module that owns them; ``en.json`` wins where it has the text too. A town-defined indicator
with only a Japanese name stays Japanese in English mode (its name is the town's data).
"""

from __future__ import annotations

import json
from typing import Any

from ..resources import i18n_path

LANGUAGES = {"ja": "日本語", "en": "English"}
_state: dict[str, Any] = {"lang": "ja", "table": {}}
_registered: dict[str, dict[str, str]] = {}  # lang → Japanese → text, added by the modules that own the labels


class Message(str):
    """A Japanese text made from a template and parameters (it is the filled Japanese text as a ``str``)."""

    template: str
    params: dict[str, Any]
    sep: str | None = None  # set by msg_join

    def __new__(cls, template: str, **params: Any) -> Message:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template, self.params = template, params
        return self


def msg(template: str, **params: Any) -> Message:
    """A template and its parameters. A parameter that is itself a :class:`Message` (a label as ``msg(label)``, a
    part built from its own template) is translated with the template; any other value is data and stays as is."""
    return Message(template, **params)


def msg_join(sep: str, parts: list) -> Message:
    """Parts joined with ``sep`` (「要注意・要観察」); ``sep`` and each part that is a :class:`Message` are
    translated (``・`` reads ``, `` in English)."""
    params = {f"p{i}": x for i, x in enumerate(parts)}
    out = Message(sep.join("{p%d}" % i for i in range(len(parts))), **params)
    out.sep = sep
    return out


def set_language(lang: str) -> None:
    lang = lang if lang in LANGUAGES else "ja"
    table: dict[str, str] = {}
    if lang != "ja":
        path = i18n_path(f"{lang}.json")
        if path.exists():
            table = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}
    _state.update(lang=lang, table=table)


def register(lang: str, entries: dict[str, str]) -> None:
    """Add ``{Japanese: text in lang}`` pairs held at their source (a catalogue's ``label_en``) to the table; a pair
    whose text is empty or the Japanese itself adds nothing."""
    table = _registered.setdefault(lang, {})
    for ja, text in entries.items():
        if ja and text and text != ja:
            table[ja] = text


def language() -> str:
    return _state["lang"]


def tr(text: str, **fmt: Any) -> str:
    """The text in the current language; ``fmt`` fills ``{name}`` placeholders after translation."""
    lang = _state["lang"]
    out = text if lang == "ja" else _state["table"].get(text) or _registered.get(lang, {}).get(text, text)
    return out.format(**fmt) if fmt else out


def translate(text: str) -> str:
    """Any text the core produced, in the current language: a :class:`Message` by its template, else as it is."""
    if isinstance(text, Message):
        params = {k: translate(v) if isinstance(v, Message) else v for k, v in text.params.items()}
        sep = getattr(text, "sep", None)
        if sep is not None:
            return tr(sep).join(str(params[f"p{i}"]) for i in range(len(params)))
        return tr(text.template, **params)
    return tr(text)
