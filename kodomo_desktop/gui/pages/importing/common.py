"""What the 取込 page's tabs share: lazy table views, the mapping's field choices."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView

from ....core.importing import fields as F
from ...models import LazyRowsModel
from ...widgets import table_view


def _lazy_view(model: LazyRowsModel, widths: tuple[int, ...]):
    """A table over a lazy list: sortable by its header (in SQL), fixed column widths (sizing to the contents
    would read every row), the last column stretched."""
    v = table_view(model)
    hdr = v.horizontalHeader()
    hdr.setSectionResizeMode(QHeaderView.Interactive)
    for i, w in enumerate(widths):
        v.setColumnWidth(i, w)
    v.setSortingEnabled(True)
    return v


NOT_MAPPED = "（取り込まない・そのまま保存）"


def field_choices(source_type: str) -> list[tuple[str, str]]:
    meta = F.SOURCE_TYPES[source_type]
    out = []
    for group in ("identity", "attributes"):
        v = meta.get(group) or {}
        items = v.items() if isinstance(v, dict) else [(x if isinstance(x, str) else x.get("name"), x) for x in v]
        for key, spec in items:
            label = spec.get("label", key) if isinstance(spec, dict) else str(spec)
            out.append((key, label))  # the Japanese label only: no internal field names in the UI
    return out
