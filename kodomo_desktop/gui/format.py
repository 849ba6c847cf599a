"""How the GUI writes dates and times for people: 「2026年12月1日 19:19」 (never an ISO string; in English
“1 Dec 2026 19:19”), 和暦 for dates of birth, and half-width kana widened for display (ｶﾅ → カナ)."""

from __future__ import annotations

import datetime as dt
import unicodedata

from ..core.i18n import language


def _parse(v) -> dt.datetime | dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, (dt.datetime, dt.date)):
        return v
    s = str(v).strip()
    if len(s) == 10:
        try:
            return dt.date.fromisoformat(s)
        except ValueError:
            return None
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.date.fromisoformat(s[:10])
        except ValueError:
            return None


def when(v, *, seconds: bool = False) -> str:
    """「2026年12月1日 19:19」 for a datetime (or its ISO text), 「2026年12月1日」 for a date; '' for nothing.
    Text that is not a date is returned as it is."""
    d = _parse(v)
    if d is None:
        return "" if v in (None, "") else str(v)
    if isinstance(d, dt.datetime):
        if d.tzinfo is not None:
            d = d.astimezone().replace(tzinfo=None)
        t = f"{d.hour}:{d.minute:02d}" + (f":{d.second:02d}" if seconds else "")
        return f"{_date_text(d)} {t}"
    return _date_text(d)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date_text(d: dt.date) -> str:
    if language() == "en":
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
    return f"{d.year}年{d.month}月{d.day}日"


def day(v) -> str:
    """「2026年12月1日」 (a datetime loses its time)."""
    d = _parse(v)
    if d is None:
        return "" if v in (None, "") else str(v)
    return _date_text(d)


def wide_kana(text) -> str:
    """Half-width katakana (and their voiced marks) as full-width, the rest unchanged: ｻﾄｳ ﾊﾅｺ → サトウ ハナコ."""
    if not text:
        return "" if text is None else str(text)
    s = str(text)
    if not any("\uff61" <= c <= "\uff9f" for c in s):
        return s
    out = []
    for c in s:
        out.append(unicodedata.normalize("NFKC", c) if "\uff61" <= c <= "\uff9f" else c)
    # NFKC per character leaves ｶ+ﾞ as カ+゛: join voiced marks properly
    return unicodedata.normalize("NFC", "".join(out).replace("\u309b", "\u3099").replace("\u309c", "\u309a"))
