"""What the 会議 tabs share: the caveat, the 要対協 rules, the notice line and table helpers (from gui.widgets), and
running longer work through gui.ops."""

from __future__ import annotations

from ...widgets import DictTableModel, Notice, table_view
from ...widgets import date_edit as _date_edit
from ...widgets import message as _msg

__all__ = [
    "CAVEAT",
    "YOTAIKYO_RULES",
    "DictTableModel",
    "Notice",
    "_date_edit",
    "_labels_text",
    "_long",
    "_msg",
    "table_view",
]

CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
YOTAIKYO_RULES = [
    ("continue", "要対協の登録児は「支援継続」として載せる"),
    ("exclude", "要対協の登録児は除く（支援中）"),
]


def _long(parent, title: str, fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` through gui.ops (progress after 300 ms, GUI keeps repainting); returns the
    result or raises the exception here."""
    from ...ops import call_with_progress

    return call_with_progress(parent, title, lambda progress, cancel: fn(*args, **kwargs), cancellable=False)


def _labels_text(labels) -> str:
    return ", ".join(l["label"] for l in labels)
