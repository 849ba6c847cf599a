"""Cell values from department files: dates (western, 和暦, Excel serials), sex codes, counts, flags, codes.

Every parser takes anything a reader can hand over (``str``, ``int``, ``float``, ``bool``, ``datetime``/``date``,
``None``, NaN, ``pd.NA``) and returns a :class:`ParsedValue`: ``value`` (``None`` when the cell is *missing*)
and ``error`` (a Japanese message for the user, ``None`` when the cell is fine). Parsers never raise.

Missing is not an error: empty cells, ``不明``, ``-`` and friends are *missing* (no data), which downstream is
different from "no risk".

Dates
-----
Accepted (after NFKC, so full-width digits and separators ``２０１５／４／５`` work too):

* western ``20150405``, ``2015/4/5``, ``2015-04-05``, ``2015.4.5``, ``2015年4月5日``, with or without a trailing
  time (``2015/04/05 0:00:00``, ``2015-04-05T00:00:00``);
* Excel serials: numbers (``42100``, ``42100.5``) and 5-digit text (``"42100"``), and the ``date``/``datetime``
  objects that Excel date cells arrive as;
* 和暦 with a letter or kanji era: ``R5.4.1``, ``H30/04/01``, ``R05.04.01``, ``r5-4-1``, ``令和5年4月1日``,
  ``令5.4.1``, ``平成元年5月1日``, ``㍻30年4月1日``, kanji numerals (``令和五年四月一日``), compact ``H300401``,
  and the 7-digit era-code form used by 住基 systems (``4300401`` = 平成30年4月1日; 1=明治 2=大正 3=昭和
  4=平成 5=令和);
* a trailing ``生`` (``平成30年4月1日生``) is ignored.

Refused with a message: impossible dates (``2017/02/30 は存在しない日付です``), years outside 1868–2200,
two-digit western years (``15/4/5``: the century is a guess), six-digit numbers, anything else.

Era boundaries (decided): a 和暦 date is converted arithmetically (first year of the era + year − 1) and must
then be a real date **on or after the era's first day** and **no later than 31 December of the era's last
year**. So ``平成31年5月1日`` is accepted as 2019-05-01 — forms and systems went on printing 平成31年 after the
change on 2019-05-01, the government said such documents stay valid, and the date it names is unambiguous — but
``平成32年1月1日`` (no such year was ever current) and ``平成元年1月7日`` / ``令和元年4月30日`` (before the era
began: almost always the wrong era letter) are errors naming the era's span. ``昭和64年1月8日`` is likewise
accepted as 1989-01-08.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..calendar import ERAS, Era, format_wareki, to_date  # re-exported: one 和暦 table for the whole app

__all__ = [
    "ParsedValue",
    "MISSING",
    "ERAS",
    "parse_date",
    "parse_sex",
    "parse_int",
    "parse_number",
    "parse_flag",
    "parse_code",
    "parse_text",
    "parse_year",
    "is_missing",
    "format_wareki",
    "to_date",
    "Era",
    "to_text",
]


@dataclass(frozen=True, slots=True)
class ParsedValue:
    """The outcome of parsing one cell: ``value`` (None = missing) or ``error`` (Japanese, for the user)."""

    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def missing(self) -> bool:
        return self.error is None and self.value is None


MISSING = ParsedValue()


def _err(msg: str) -> ParsedValue:
    return ParsedValue(None, msg)


# --- shared helpers ------------------------------------------------------------------------------------------------
_DASHES = "‐‑‒–—―−ーｰ－─━"
_DASH_TABLE = str.maketrans({c: "-" for c in _DASHES})
_SPACES = re.compile(r"[\s\u3000\u200b]+")
# Words that mean "no data" in any typed column (compared after NFKC, strip, lower-case).
_BLANK = frozenset(
    {
        "",
        "不明",
        "不詳",
        "未詳",
        "未記入",
        "未記載",
        "記載なし",
        "未確認",
        "-",
        "--",
        "---",
        "*",
        "**",
        "・",
        "／",
        "/",
        "?",
        "？",
        "null",
        "none",
        "nan",
        "nat",
        "n/a",
        "na",
        "#n/a",
        "<na>",
    }
)


def _is_nan(x) -> bool:
    try:
        return x != x  # NaN, NaT
    except (TypeError, ValueError):  # pd.NA
        return True


def is_missing(x) -> bool:
    """True for None, NaN/NaT/pd.NA, blank text and the words that mean "no data" (不明, -, …)."""
    if x is None:
        return True
    if isinstance(x, str):
        return _norm(x).lower() in _BLANK
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return isinstance(x, float) and math.isnan(x)
    if type(x).__name__ in ("NAType", "NaTType"):
        return True
    return False


def _norm(s: str) -> str:
    """NFKC, dash-like characters → '-', whitespace removed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", s).translate(_DASH_TABLE))


def to_text(x) -> str:
    """A cell as the user sees it (for messages and raw rows): '' for empty, integral floats without '.0'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if isinstance(x, float):
        return str(int(x)) if x.is_integer() and abs(x) < 1e16 else repr(x)
    if isinstance(x, dt.datetime):
        return (
            x.date().isoformat()
            if (x.hour, x.minute, x.second, x.microsecond) == (0, 0, 0, 0)
            else x.isoformat(sep=" ")
        )
    if isinstance(x, dt.date):
        return x.isoformat()
    if _is_nan(x):
        return ""
    return str(x)


def _shown(x) -> str:
    t = to_text(x).strip()
    return t if len(t) <= 40 else t[:39] + "…"


# --- dates -----------------------------------------------------------------------------------------------------------
_ERA_BY_TOKEN: dict[str, Era] = {}
for _e in ERAS:
    _ERA_BY_TOKEN[_e.letter] = _e
    _ERA_BY_TOKEN[_e.letter.lower()] = _e
    _ERA_BY_TOKEN[_e.kanji] = _e
    _ERA_BY_TOKEN[_e.kanji[0]] = _e
_ERA_BY_CODE = {e.code: e for e in ERAS}
_ERA_TOKEN_RE = "明治|大正|昭和|平成|令和|[明大昭平令MTSHRmtshr]"
_SEP = r"(?:[./\-]|年)"
_SEP2 = r"(?:[./\-]|月)"
_TIME_SUFFIX = re.compile(r"(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_WAREKI = re.compile(
    rf"^(?P<era>{_ERA_TOKEN_RE})\.?(?P<y>\d{{1,3}}|元){_SEP}(?P<m>\d{{1,2}}){_SEP2}(?P<d>\d{{1,2}})日?$"
)
_WAREKI_COMPACT = re.compile(rf"^(?P<era>{_ERA_TOKEN_RE})(?P<y>\d{{2}})(?P<m>\d{{2}})(?P<d>\d{{2}})$")
_WESTERN = re.compile(rf"^(?P<y>\d{{4}}){_SEP}(?P<m>\d{{1,2}}){_SEP2}(?P<d>\d{{1,2}})日?$")
_SHORT_YEAR = re.compile(rf"^\d{{1,2}}{_SEP}\d{{1,2}}{_SEP2}\d{{1,2}}日?$")
_SERIAL_TEXT = re.compile(r"^\d{5}(?:\.\d+)?$")
_KANJI_NUM = re.compile("[〇零一二三四五六七八九十]+")
_KANJI_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_EXCEL_EPOCH = dt.date(1899, 12, 30)
MIN_YEAR, MAX_YEAR = 1868, 2200
_DATE_BLANK = _BLANK | {
    "0",
    "00000000",
    "0000/00/00",
    "0000-00-00",
    "0000.00.00",
    "0/0/0",
    "なし",
    "無し",
    "無",
    "未定",
    "未入力",
}


def _kanji_number(run: str) -> str:
    if "十" in run:
        head, _, tail = run.partition("十")
        tens = _KANJI_DIGIT.get(head, 1) if head else 1
        ones = sum(_KANJI_DIGIT.get(c, 0) for c in tail[:1]) if tail else 0
        if len(head) > 1 or len(tail) > 1:
            return run  # not a small number: leave it, the pattern will not match
        return str(tens * 10 + ones)
    return "".join(str(_KANJI_DIGIT[c]) for c in run)


def _in_range(d: dt.date, shown: str) -> ParsedValue:
    if not (MIN_YEAR <= d.year <= MAX_YEAR):
        return _err(f"{shown} は範囲外の日付です（{MIN_YEAR}年〜{MAX_YEAR}年）")
    return ParsedValue(d)


def _ymd(y: int, m: int, d: int, shown: str) -> ParsedValue:
    if not (MIN_YEAR <= y <= MAX_YEAR):
        return _err(f"{shown} は範囲外の日付です（{MIN_YEAR}年〜{MAX_YEAR}年）")
    try:
        return ParsedValue(dt.date(y, m, d))
    except ValueError:
        return _err(f"{shown} は存在しない日付です")


def _fmt_jp(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _wareki(era: Era, y: int, m: int, d: int, shown: str) -> ParsedValue:
    if y < 1:
        return _err(f"{shown} は存在しない日付です（{era.kanji}0年はありません）")
    year = era.start.year + y - 1
    try:
        date = dt.date(year, m, d)
    except ValueError:
        return _err(f"{shown} は存在しない日付です")
    if date < era.start:
        return _err(f"{shown} は{era.kanji}の始まり（{_fmt_jp(era.start)}）より前の日付です")
    if era.end is not None and year > era.end.year:
        return _err(
            f"{shown} は存在しない日付です（{era.kanji}は{era.last_year}年{era.end.month}月{era.end.day}日まで）"
        )
    return ParsedValue(date)


def _serial(v: float, shown: str) -> ParsedValue:
    days = math.floor(v)
    if days < 1:
        return _err(f"{shown} は日付として読めません")
    if days == 60:
        return _err(f"{shown} は存在しない日付です（Excel の 1900/2/29）")
    if days < 60:
        days += 1  # Excel counts the nonexistent 1900-02-29
    try:
        return _in_range(_EXCEL_EPOCH + dt.timedelta(days=days), shown)
    except OverflowError:
        return _err(f"{shown} は範囲外の日付です（{MIN_YEAR}年〜{MAX_YEAR}年）")


def _from_number(v: float, shown: str) -> ParsedValue:
    if v == 0:
        return MISSING  # an empty Excel date cell exported as 0
    if v.is_integer() and 10_000_000 <= v <= 99_999_999:
        n = int(v)
        return _ymd(n // 10000, n // 100 % 100, n % 100, shown)
    if 1 <= v < 10_000_000:
        if v.is_integer() and 1_000_000 <= v:
            return _from_text(str(int(v)))
        return _serial(v, shown)
    return _err(f"{shown} は日付として読めません")


@lru_cache(maxsize=65536)
def _from_text(s: str) -> ParsedValue:
    shown = s.strip()
    t = unicodedata.normalize("NFKC", s).strip()
    if ":" in t:
        t = _TIME_SUFFIX.sub("", t)
    t = _norm(t)
    if t.lower() in _DATE_BLANK:
        return MISSING
    if t.endswith("生") and len(t) > 1:
        t = t[:-1]
    if _KANJI_NUM.search(t):
        t = _KANJI_NUM.sub(lambda m: _kanji_number(m.group()), t)
    if t.isdigit():
        n = len(t)
        if n == 8:
            return _ymd(int(t[:4]), int(t[4:6]), int(t[6:]), shown)
        if n == 7 and int(t[0]) in _ERA_BY_CODE:
            return _wareki(_ERA_BY_CODE[int(t[0])], int(t[1:3]), int(t[3:5]), int(t[5:]), shown)
        if n == 5:
            return _serial(float(t), shown)
        return _err(f"{shown} は日付として読めません")
    m = _WESTERN.match(t)
    if m:
        return _ymd(int(m["y"]), int(m["m"]), int(m["d"]), shown)
    m = _WAREKI.match(t) or _WAREKI_COMPACT.match(t)
    if m:
        y = 1 if m["y"] == "元" else int(m["y"])
        return _wareki(_ERA_BY_TOKEN[m["era"]], y, int(m["m"]), int(m["d"]), shown)
    if _SERIAL_TEXT.match(t):
        return _serial(float(t), shown)
    if _SHORT_YEAR.match(t):
        return _err(f"{shown} は年が2桁のため日付として読めません（西暦4桁か和暦で記入してください）")
    if t.startswith("#"):
        return _err(f"{shown} は Excel のエラー値です")
    return _err(f"{shown} は日付として読めません")


_MONTH_WESTERN = re.compile(r"^(?P<y>\d{4})(?:年|[./-])(?P<m>\d{1,2})月?$|^(?P<y2>\d{4})(?P<m2>\d{2})$")
_MONTH_WAREKI = re.compile(rf"^(?P<era>{_ERA_TOKEN_RE})\.?(?P<y>\d{{1,3}}|元)(?:年|[./-])(?P<m>\d{{1,2}})月?$")


@lru_cache(maxsize=4096)
def _month_text(s: str) -> ParsedValue:
    p = _from_text(s)
    if p.error is None:
        return p
    t = _norm(unicodedata.normalize("NFKC", s))
    if _KANJI_NUM.search(t):
        t = _KANJI_NUM.sub(lambda m: _kanji_number(m.group()), t)
    shown = s.strip()
    m = _MONTH_WESTERN.match(t)
    if m:
        y, mo = (m["y"], m["m"]) if m["y"] else (m["y2"], m["m2"])
        if not (1 <= int(mo) <= 12 and MIN_YEAR <= int(y) <= MAX_YEAR):
            return p
        return _ymd(int(y), int(mo), 1, shown)
    m = _MONTH_WAREKI.match(t)
    if m and 1 <= int(m["m"]) <= 12:
        y = 1 if m["y"] == "元" else int(m["y"])
        era = _ERA_BY_TOKEN[m["era"]]
        if y == 1 and int(m["m"]) == era.start.month:  # 令和元年5月: the era's first month
            return _wareki(era, y, int(m["m"]), era.start.day, shown)
        return _wareki(era, y, int(m["m"]), 1, shown)
    return p


def parse_date(x, *, month_ok: bool = False) -> ParsedValue:
    """A date in any form towns use → ``ParsedValue(datetime.date)``; blank/不明 → missing; else a Japanese error.

    ``month_ok``: also accept a year and month (``2023/4``, ``202304``, ``R5.4``, ``令和5年4月``) as the first day of
    that month — for dates such as 支給開始月 (the importer allows it for attribute dates, never for birth dates)."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return _month_text(x) if month_ok else _from_text(x)
    if isinstance(x, bool):
        return _err(f"{to_text(x)} は日付として読めません")
    if isinstance(x, dt.datetime):
        return _in_range(x.date(), to_text(x)) if not _is_nan(x) else MISSING
    if isinstance(x, dt.date):
        return _in_range(x, x.isoformat())
    if isinstance(x, dt.time):
        return _err(f"{x} は時刻のみで日付がありません")
    if isinstance(x, (int, float)):
        if isinstance(x, float) and math.isnan(x):
            return MISSING
        return _from_number(float(x), _shown(x))
    if _is_nan(x):
        return MISSING
    if hasattr(x, "to_pydatetime"):  # numpy/pandas timestamps
        return parse_date(x.to_pydatetime())
    try:  # numpy numbers
        return _from_number(float(x), _shown(x))
    except (TypeError, ValueError):
        return _from_text(str(x))


# --- sex ---------------------------------------------------------------------------------------------------------------
_MALE = frozenset({"男", "男性", "男子", "男児", "m", "male", "1", "♂", "おとこ", "オトコ"})
_FEMALE = frozenset({"女", "女性", "女子", "女児", "f", "female", "2", "♀", "おんな", "オンナ"})
_SEX_BLANK = _BLANK | {"0", "9", "未記入"}


@lru_cache(maxsize=1024)
def _sex_text(s: str) -> ParsedValue:
    t = _norm(s).lower()
    if t.endswith(".0"):
        t = t[:-2]
    if t in _MALE:
        return ParsedValue(1)
    if t in _FEMALE:
        return ParsedValue(2)
    if t in _SEX_BLANK:
        return MISSING
    return _err(f"性別「{_shown(s)}」を読めません（男/女・1/2・M/F）")


def parse_sex(x) -> ParsedValue:
    """男/女, 男性/女性, 1/2, M/F (any width or case) → 1 or 2; blank/不明/0/9 → missing."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return _sex_text(x)
    if isinstance(x, bool):
        return _err(f"性別「{to_text(x)}」を読めません（男/女・1/2・M/F）")
    if _is_nan(x):
        return MISSING
    return _sex_text(to_text(x))


# --- numbers -----------------------------------------------------------------------------------------------------------
_INT_UNITS = re.compile(r"(?:日間|日|回|点|週目|週|人|件|本|歯|個|か月|ヶ月|ヵ月|カ月|ケ月|箇月|歳|才|年生|年|時間)$")
_NUM_UNITS = re.compile(r"(?:kg|キロ|g|cm|mm|%|パーセンタイル|パーセント|ﾊﾟｰｾﾝﾀｲﾙ|点|p|th)$", re.I)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_ZERO_WORDS = frozenset({"なし", "無し", "無", "ゼロ"})


@lru_cache(maxsize=4096)
def _int_text(s: str) -> ParsedValue:
    t = _norm(s)
    if t.lower() in _BLANK:
        return MISSING
    if t in _ZERO_WORDS:
        return ParsedValue(0)
    t = _INT_UNITS.sub("", t.replace(",", ""))
    if t.startswith("-") and len(t) > 1:
        pass
    if not _NUMBER.match(t) or len(t) > 20:
        return _err(f"「{_shown(s)}」は整数として読めません")
    v = float(t)
    if not v.is_integer():
        return _err(f"「{_shown(s)}」は整数ではありません")
    return ParsedValue(int(v))


def parse_int(x) -> ParsedValue:
    """A count: full-width digits, commas, a unit suffix (12日, 3回, 9点, 12週) → int; なし/無 → 0."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return _int_text(x)
    if isinstance(x, bool):
        return _err(f"「{to_text(x)}」は整数として読めません")
    if isinstance(x, int):
        return ParsedValue(int(x))
    if _is_nan(x):
        return MISSING
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        return _int_text(str(x))
    if not math.isfinite(v):
        return _err(f"「{_shown(x)}」は整数として読めません")
    return ParsedValue(int(v)) if v.is_integer() else _err(f"「{_shown(x)}」は整数ではありません")


@lru_cache(maxsize=4096)
def _number_text(s: str) -> ParsedValue:
    t = _norm(s)
    if t.lower() in _BLANK:
        return MISSING
    t = _NUM_UNITS.sub("", t.replace(",", ""))
    if not _NUMBER.match(t) or len(t) > 40:
        return _err(f"「{_shown(s)}」は数値として読めません")
    v = float(t)
    if not math.isfinite(v):
        return _err(f"「{_shown(s)}」は数値として読めません")
    return ParsedValue(int(v) if v.is_integer() else v)


def parse_number(x) -> ParsedValue:
    """A measurement (体重 25.3kg, パーセンタイル 10%) → int or float."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return _number_text(x)
    if isinstance(x, bool):
        return _err(f"「{to_text(x)}」は数値として読めません")
    if _is_nan(x):
        return MISSING
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _number_text(str(x))
    if not math.isfinite(v):
        return _err(f"「{_shown(x)}」は数値として読めません")
    return ParsedValue(int(v) if v.is_integer() else v)


# --- flags ------------------------------------------------------------------------------------------------------------
_TRUE = frozenset(
    {
        "有",
        "有り",
        "あり",
        "アリ",
        "○",
        "〇",
        "◯",
        "◎",
        "●",
        "1",
        "はい",
        "ハイ",
        "該当",
        "該当あり",
        "y",
        "yes",
        "true",
        "t",
        "レ",
        "✓",
        "✔",
        "済",
        "対象",
        "実施",
        "有る",
        "ある",
    }
)
_FALSE = frozenset(
    {
        "無",
        "無し",
        "なし",
        "ナシ",
        "×",
        "✕",
        "✖",
        "x",
        "0",
        "いいえ",
        "イイエ",
        "非該当",
        "該当なし",
        "n",
        "no",
        "false",
        "f",
        "対象外",
        "未実施",
        "無い",
        "ない",
    }
)
_FLAG_BLANK = _BLANK | {"未回答", "無回答", "回答なし"}


@lru_cache(maxsize=1024)
def _flag_text(s: str) -> ParsedValue:
    t = _norm(s).lower()
    if t.endswith(".0"):
        t = t[:-2]
    if t in _TRUE:
        return ParsedValue(True)
    if t in _FALSE:
        return ParsedValue(False)
    if t in _FLAG_BLANK:
        return MISSING
    return _err(f"「{_shown(s)}」は 有/無 として読めません（有/無・あり/なし・○/×・1/0・はい/いいえ・該当/非該当）")


def parse_flag(x) -> ParsedValue:
    """有/無, あり/なし, ○/×, 1/0, はい/いいえ, 該当/非該当, TRUE/FALSE → True/False; blank/未回答 → missing."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return ParsedValue(x)
    if isinstance(x, str):
        return _flag_text(x)
    if _is_nan(x):
        return MISSING
    return _flag_text(to_text(x))


# --- codes, text, years ----------------------------------------------------------------------------------------------
def parse_code(x) -> ParsedValue:
    """An identifier (宛名番号, 世帯番号, 学籍番号): NFKC, spaces removed, leading zeros kept; numbers → digits."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        t = _SPACES.sub("", unicodedata.normalize("NFKC", x))
        return MISSING if t.lower() in _BLANK else ParsedValue(t)
    if _is_nan(x):
        return MISSING
    t = to_text(x).strip()
    return ParsedValue(t) if t else MISSING


def parse_text(x) -> ParsedValue:
    """Free text kept exactly as written; blank (only spaces) → missing."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return ParsedValue(x) if x.strip() else MISSING
    if _is_nan(x):
        return MISSING
    t = to_text(x)
    return ParsedValue(t) if t.strip() else MISSING


_FY_WAREKI = re.compile(rf"^(?P<era>{_ERA_TOKEN_RE})\.?(?P<y>\d{{1,2}}|元)(?:年度?)?$")
_FY_WESTERN = re.compile(r"^(?P<y>\d{4})(?:年度?)?$")


@lru_cache(maxsize=256)
def _year_text(s: str) -> ParsedValue:
    t = _norm(s)
    if t.lower() in _BLANK:
        return MISSING
    if _KANJI_NUM.search(t):
        t = _KANJI_NUM.sub(lambda m: _kanji_number(m.group()), t)
    m = _FY_WESTERN.match(t)
    if m and MIN_YEAR <= int(m["y"]) <= MAX_YEAR:
        return ParsedValue(int(m["y"]))
    m = _FY_WAREKI.match(t)
    if m:
        era = _ERA_BY_TOKEN[m["era"]]
        y = 1 if m["y"] == "元" else int(m["y"])
        if y >= 1 and (era.last_year is None or y <= era.last_year):
            return ParsedValue(era.start.year + y - 1)
    return _err(f"「{_shown(s)}」は年度として読めません（2023、令和5年度、R5 など）")


def parse_year(x) -> ParsedValue:
    """A (fiscal) year: 2023, 2023年度, 令和5年度, R5 → 2023."""
    if x is None:
        return MISSING
    if isinstance(x, str):
        return _year_text(x)
    if isinstance(x, bool) or _is_nan(x):
        return MISSING if not isinstance(x, bool) else _err(f"「{to_text(x)}」は年度として読めません")
    return _year_text(to_text(x))
