"""What the scoring page's tabs share: the caveat, the band tints, the list's constants."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from ....core.scoring import service as S
from ... import palette as pal
from ...i18n import tr

CAVEAT = S.CAVEAT
ALL = "（すべて）"
NO_SCHOOL = "（学校・園なし）"
SEARCH_DEBOUNCE_MS = 250
BAND_TINT = {"高": pal.BAND_HIGH_BG, "中": pal.BAND_MID_BG, "低": pal.BAND_LOW_BG}


def caveat_label() -> QLabel:
    lab = QLabel("⚠ " + tr(CAVEAT))
    lab.setWordWrap(True)
    lab.setObjectName("scoreCaveat")
    lab.setStyleSheet(
        f"background:{pal.CAVEAT_BG};border:1px solid {pal.CAVEAT_BORDER};padding:6px;color:{pal.CAVEAT_TEXT};font-weight:bold;"
    )
    return lab


def _tint(color: str | None, band: str) -> QColor:
    c = QColor(BAND_TINT.get(band) or color or pal.WHITE)
    if band not in BAND_TINT and color:
        c = QColor(color)
        c.setAlpha(60)
    return c


def guard_off_text(off: dict | None) -> str:
    """Every list says so when the proxy guard is switched off for a type."""
    if not off:
        return ""
    return "　" + tr("※世帯・経済の指標だけで最上位の帯にしない規則を外している種別：{t}", t="、".join(off))
