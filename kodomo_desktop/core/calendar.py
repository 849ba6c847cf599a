"""Dates as the town hall reads them: 和暦 eras, ages, fiscal years (年度, April to March).

A low module (standard library only). Parsing dates out of department files is importing.values.parse_date's
job (with row/column errors); this module holds what every layer shares: the era table, how a date is written in
和暦, how old a child is on a day, which 年度 a day falls in, and turning a stored value back into a date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Era:
    letter: str
    kanji: str
    code: int  # the digit used by 7-digit era codes
    start: dt.date
    end: dt.date | None  # last day (None: current era)

    @property
    def last_year(self) -> int | None:
        return None if self.end is None else self.end.year - self.start.year + 1


ERAS: tuple[Era, ...] = (
    Era("M", "明治", 1, dt.date(1868, 1, 1), dt.date(1912, 7, 29)),
    Era("T", "大正", 2, dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era("S", "昭和", 3, dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era("H", "平成", 4, dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era("R", "令和", 5, dt.date(2019, 5, 1), None),
)


def today() -> dt.date:
    return dt.date.today()


def era_of(d: dt.date) -> Era:
    return next(e for e in reversed(ERAS) if d >= e.start)


def to_date(v) -> dt.date | None:
    """A date from what the database or a form holds: a date, a datetime (its day) or ISO text; else None.
    (Not a parser for department files: importing.values.parse_date reads those, with errors by row and column.)"""
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def format_wareki(d: dt.date, style: str = "kanji", era: Era | None = None) -> str:
    """A date in 和暦 (for tests, previews and prints). style: kanji (令和5年4月1日), gannen (令和元年…),
    letter (R5.4.1), letter0 (R05.04.01), slash (H30/04/01), short (令5.4.1), compact (R050401), code (5050401)."""
    if era is None:
        era = era_of(d)
    y = d.year - era.start.year + 1
    if style == "kanji":
        return f"{era.kanji}{y}年{d.month}月{d.day}日"
    if style == "gannen":
        return f"{era.kanji}{'元' if y == 1 else y}年{d.month}月{d.day}日"
    if style == "letter":
        return f"{era.letter}{y}.{d.month}.{d.day}"
    if style == "letter0":
        return f"{era.letter}{y:02d}.{d.month:02d}.{d.day:02d}"
    if style == "slash":
        return f"{era.letter}{y}/{d.month:02d}/{d.day:02d}"
    if style == "short":
        return f"{era.kanji[0]}{y}.{d.month}.{d.day}"
    if style == "compact":
        return f"{era.letter}{y:02d}{d.month:02d}{d.day:02d}"
    if style == "code":
        return f"{era.code}{y:02d}{d.month:02d}{d.day:02d}"
    raise ValueError(style)


def wareki(d: dt.date | None) -> str:
    """平成30年4月1日 (令和元年5月1日 for an era's first year); "" for no date. The app's one way to show a date."""
    if d is None:
        return ""
    return format_wareki(d, "gannen") if d >= ERAS[0].start else d.isoformat()


def wareki_and_western(d: dt.date | None) -> str:
    """和暦 and 西暦: 平成30年4月1日（2018-04-01）."""
    return f"{wareki(d)}（{d.isoformat()}）" if d else ""


def age_on(birth: dt.date | None, on: dt.date) -> int | None:
    """Completed years on ``on`` (None without a birth date)."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def fiscal_year(on: dt.date) -> int:
    """The 年度 (April–March) ``on`` falls in, by its western starting year: 2024-03-31 → 2023."""
    return on.year if on.month >= 4 else on.year - 1


def fiscal_year_start(on: dt.date) -> dt.date:
    """1 April of the 年度 ``on`` falls in."""
    return dt.date(fiscal_year(on), 4, 1)


def fiscal_year_ja(fy: int) -> str:
    """令和6年度 for 2024 (令和元年度 for 2019)."""
    era = era_of(dt.date(fy, 4, 1))
    y = fy - era.start.year + 1
    return f"{era.kanji}{'元' if y == 1 else y}年度"
