"""Qt's item-data roles, orientations and alignments as plain constants, for the list models' ``data`` and
``headerData``, which a view calls for every role of every visible cell at each paint. PySide6 resolves the old
short names (``Qt.DisplayRole``) through a compatibility lookup of ~5 µs a use (PySide6 6.12 on this project's
machine: ``role in (Qt.DisplayRole, Qt.ToolTipRole)`` ~10 µs); a module constant is one global read."""

from __future__ import annotations

from PySide6.QtCore import Qt

DISPLAY = Qt.ItemDataRole.DisplayRole
EDIT = Qt.ItemDataRole.EditRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
BACKGROUND = Qt.ItemDataRole.BackgroundRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
FONT = Qt.ItemDataRole.FontRole
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
USER = Qt.ItemDataRole.UserRole
DISPLAY_OR_TOOLTIP = frozenset((DISPLAY, TOOLTIP))
DISPLAY_OR_EDIT = frozenset((DISPLAY, EDIT))

HORIZONTAL = Qt.Orientation.Horizontal
VERTICAL = Qt.Orientation.Vertical

ALIGN_CENTER = Qt.AlignmentFlag.AlignCenter
RIGHT_MIDDLE = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)  # numbers in a column
