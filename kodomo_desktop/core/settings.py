"""Per-database settings (the ``settings`` table, encrypted with the rest): read any key, write with the 設定
permission (only the changed keys' names are logged, never their values). The town's name (``town_name``) is
printed on documents."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from .errors import InputRefused
from .storage.models import Setting

if TYPE_CHECKING:
    from .workspace import Workspace

_VALUE = select(Setting.value).where(Setting.key == bindparam("key"))

TOWN_NAME = "town_name"
BACKUP_FOLDER = "backup_folder"  # where 設定 → バックアップ suggests saving


def get(ws: Workspace, key: str, default: Any = None) -> Any:
    school_setting = getattr(ws, "school_setting", None)
    if school_setting is not None:  # a school user's workspace: the few settings the town copied there
        return school_setting(key, default)
    with ws.reading() as conn:  # read at each open by the catalogue hooks: no ORM session for one row
        value = conn.execute(_VALUE, {"key": key}).scalar()
    return value if value is not None else default


def set_many(ws: Workspace, values: dict[str, Any]) -> list[str]:
    """Write settings (needs ``settings``); returns the keys that changed and logs their names."""
    ws.require("settings", what="settings")
    with ws.session() as s:
        changed = []
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


def town_name(ws: Workspace) -> str:
    return str(get(ws, TOWN_NAME, "") or "")


TOWN_MAX = 40


def clean_town(name: str | None) -> str:
    """A town name as it is printed: NFKC-normalised, trimmed; refused when empty, too long or with control
    characters."""

    text = unicodedata.normalize("NFKC", name or "").strip()
    if not text:
        raise InputRefused("町名（市町村名）を入力してください。")
    if len(text) > TOWN_MAX:
        raise InputRefused(f"町名は {TOWN_MAX} 文字以内で入力してください（{len(text)} 文字）。")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise InputRefused("町名に使えない文字（改行・制御文字）が含まれています。")
    return text


def set_town(ws: Workspace, name: str) -> dict:
    """``settings set --town``: the town's name every document prints."""
    town = clean_town(name)
    return {"town_name": town, "changed": set_many(ws, {TOWN_NAME: town})}
