"""The 時点 (as-of date) of an extract, read from what the department wrote: a title row such as
「令和8年10月1日現在」 or 「基準日: 2026/10/01」, or the file name (``住民基本台帳_20261101.csv``, ``R8.10.1``).
None when nothing says it — the wizard then asks, and never falls back to today silently."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from .values import parse_date

_ERA = r"(?:令和|平成|昭和|R|H|S)\s*(?:元|\d{1,2})\s*[年./-]\s*\d{1,2}\s*[月./-]\s*\d{1,2}\s*日?"
_WEST = r"(?:19|20)\d{2}\s*[年./-]\s*\d{1,2}\s*[月./-]\s*\d{1,2}\s*日?"
_COMPACT = r"(?<!\d)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)"
_DATE = re.compile(f"({_ERA}|{_WEST}|{_COMPACT})")
_GANNEN = re.compile(r"元(?=\s*[年./-])")
_MARK = re.compile(r"現在|時点|基準日|末日")  # the extract's date
_MADE = re.compile(r"作成日|抽出日|出力日|作成|出力")  # the day it was made: usually the same, second best


def _dates(text: str) -> list[tuple[int, dt.date, int]]:
    t = unicodedata.normalize("NFKC", text)
    out: list[tuple[int, dt.date, int]] = []
    for m in _DATE.finditer(t):
        v = parse_date(_GANNEN.sub("1", re.sub(r"\s+", "", m.group(1)))).value
        if isinstance(v, dt.date) and dt.date(1990, 1, 1) <= v <= dt.date(2100, 1, 1):
            near = t[max(0, m.start() - 8) : m.end() + 8]
            out.append((m.start(), v, 0 if _MARK.search(near) else 1 if _MADE.search(near) else 2))
    return out


def guess_as_of(file_name: str | None, title: list[str] | None = None) -> tuple[dt.date, str] | None:
    """(date, where it was read) — a title row saying 現在/時点/基準日 first, then any date in the title rows,
    then a date in the file name; None when there is none."""
    found: list[tuple[int, dt.date, str]] = []
    for line in title or []:
        for _pos, d, rank in _dates(line):
            found.append((rank, d, f"見出し「{line.strip()[:40]}」"))
    stem = (file_name or "").rsplit(".", 1)[0]
    for _pos, d, _ in _dates(stem):
        found.append((3, d, f"ファイル名「{file_name}」"))
    if not found:
        return None
    found.sort(key=lambda x: x[0])
    return found[0][1], found[0][2]
