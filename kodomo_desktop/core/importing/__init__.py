"""Department import: readers (CSV/Excel → Table), values (dates, 和暦, sex, counts, flags), fields (source types,
header dictionaries, mapping detection), parse (Table → canonical records and rejections), service (one batch)."""

from ..workspace import on_open as _on_open
from .town_types import apply as _apply_town_types

_on_open(_apply_town_types)
