"""Settings a document prints (the town's name, …), written through one function that checks the 設定 permission
and logs which keys changed — never their values. The GUI's settings page and ``settings set`` (CLI) use it."""

from __future__ import annotations

import unicodedata

from .errors import InputRefused
from .storage.models import Setting

TOWN_MAX = 40


def clean_town(name: str | None) -> str:
    """A town name as it is printed: NFKC-normalised spaces trimmed; refused when empty, too long or with control
    characters."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    if not text:
        raise InputRefused("町名（市町村名）を入力してください。")
    if len(text) > TOWN_MAX:
        raise InputRefused(f"町名は {TOWN_MAX} 文字以内で入力してください（{len(text)} 文字）。")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise InputRefused("町名に使えない文字（改行・制御文字）が含まれています。")
    return text


def set_settings(ws, values: dict) -> list[str]:
    """Write ``values`` (key → JSON value); returns the keys that changed. Requires ``settings``."""
    ws.require("settings", what="settings")
    changed = []
    with ws.session() as s:
        for key, value in values.items():
            row = s.get(Setting, key)
            if row is None:
                s.add(Setting(key=key, value=value))
                changed.append(key)
            elif row.value != value:
                row.value = value
                changed.append(key)
        if changed:
            ws.log("settings_changed", detail={"keys": sorted(changed)}, conn=s)
    return changed


def get_setting(ws, key: str, default=None):
    with ws.session() as s:
        row = s.get(Setting, key)
        return row.value if row is not None and row.value is not None else default


def set_town(ws, name: str) -> dict:
    town = clean_town(name)
    changed = set_settings(ws, {"town_name": town})
    return {"town_name": town, "changed": changed}
