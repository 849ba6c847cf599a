"""Cell value parsers: dates (western, 和暦, Excel serials), sex codes, counts, flags — examples and properties."""

import datetime as dt
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kodomo_desktop.core.importing.values import (
    ERAS,
    MISSING,
    ParsedValue,
    format_wareki,
    parse_code,
    parse_date,
    parse_flag,
    parse_int,
    parse_number,
    parse_sex,
    parse_text,
    parse_year,
    to_text,
)

D = dt.date


@pytest.mark.parametrize(
    "text, expected",
    [
        ("20150405", D(2015, 4, 5)),
        ("2015/4/5", D(2015, 4, 5)),
        ("2015-04-05", D(2015, 4, 5)),
        ("2015.4.5", D(2015, 4, 5)),
        ("2015年4月5日", D(2015, 4, 5)),
        ("２０１５／４／５", D(2015, 4, 5)),
        ("２０１５－０４－０５", D(2015, 4, 5)),
        ("2015/04/05 0:00:00", D(2015, 4, 5)),
        ("2015-04-05T10:30:00", D(2015, 4, 5)),
        ("2015/4/5 10:30", D(2015, 4, 5)),
        (" 2015/4/5 ", D(2015, 4, 5)),
        ("R5.4.1", D(2023, 4, 1)),
        ("r5.4.1", D(2023, 4, 1)),
        ("R05.04.01", D(2023, 4, 1)),
        ("Ｒ５．４．１", D(2023, 4, 1)),
        ("H30/04/01", D(2018, 4, 1)),
        ("H30-4-1", D(2018, 4, 1)),
        ("H300401", D(2018, 4, 1)),
        ("S.60.1.2", D(1985, 1, 2)),
        ("令和5年4月1日", D(2023, 4, 1)),
        ("令5.4.1", D(2023, 4, 1)),
        ("令和 5年 4月 1日", D(2023, 4, 1)),
        ("平成元年5月1日", D(1989, 5, 1)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("㍻30年4月1日", D(2018, 4, 1)),
        ("令和五年四月一日", D(2023, 4, 1)),
        ("平成三十年十二月三十一日", D(2018, 12, 31)),
        ("平成30年4月1日生", D(2018, 4, 1)),
        ("S60.1.2", D(1985, 1, 2)),
        ("T1.8.1", D(1912, 8, 1)),
        ("M45.7.29", D(1912, 7, 29)),
        ("明治元年1月1日", D(1868, 1, 1)),
        ("4300401", D(2018, 4, 1)),
        ("5050401", D(2023, 4, 1)),
        ("3600102", D(1985, 1, 2)),
        ("42099", D(2015, 4, 5)),
        ("42099.75", D(2015, 4, 5)),
    ],
)
def test_dates(text, expected):
    assert parse_date(text) == ParsedValue(expected)


@pytest.mark.parametrize(
    "value, expected",
    [
        (42099, D(2015, 4, 5)),
        (42099.5, D(2015, 4, 5)),
        (20150405, D(2015, 4, 5)),
        (61, D(1900, 3, 1)),
        (1, D(1900, 1, 1)),
        (dt.datetime(2015, 4, 5, 13, 0), D(2015, 4, 5)),
        (D(2015, 4, 5), D(2015, 4, 5)),
    ],
)
def test_dates_from_cells(value, expected):
    assert parse_date(value).value == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "不明",
        "不詳",
        "-",
        "－",
        "ー",
        "―",
        "*",
        "なし",
        "0",
        "00000000",
        "0000/00/00",
        "NULL",
        "nan",
        None,
        float("nan"),
        0,
    ],
)
def test_missing_dates_are_not_errors(text):
    assert parse_date(text) == MISSING


@pytest.mark.parametrize(
    "text, message",
    [
        ("2017/02/30", "2017/02/30 は存在しない日付です"),
        ("20170230", "20170230 は存在しない日付です"),
        ("H30.2.29", "H30.2.29 は存在しない日付です"),
        ("2015/13/01", "2015/13/01 は存在しない日付です"),
        ("H32.1.1", "H32.1.1 は存在しない日付です（平成は31年4月30日まで）"),
        ("平成元年1月7日", "平成元年1月7日 は平成の始まり（1989年1月8日）より前の日付です"),
        ("令和元年4月30日", "令和元年4月30日 は令和の始まり（2019年5月1日）より前の日付です"),
        ("R0.5.1", "R0.5.1 は存在しない日付です（令和0年はありません）"),
        ("15/4/5", "15/4/5 は年が2桁のため日付として読めません（西暦4桁か和暦で記入してください）"),
        ("1850/1/1", "1850/1/1 は範囲外の日付です（1868年〜2200年）"),
        ("150405", "150405 は日付として読めません"),
        ("あした", "あした は日付として読めません"),
        (60, "60 は存在しない日付です（Excel の 1900/2/29）"),
    ],
)
def test_invalid_dates_have_japanese_messages(text, message):
    assert parse_date(text) == ParsedValue(None, message)


def test_era_boundaries():
    # the last day of each era and the first day of the next; 平成31年 after 4/30 is accepted (documented)
    assert parse_date("S64.1.7").value == D(1989, 1, 7)
    assert parse_date("H1.1.8").value == D(1989, 1, 8)
    assert parse_date("H1.1.7").error
    assert parse_date("H31.4.30").value == D(2019, 4, 30)
    assert parse_date("R1.5.1").value == D(2019, 5, 1)
    assert parse_date("H31.5.1").value == D(2019, 5, 1)
    assert parse_date("H31.12.31").value == D(2019, 12, 31)
    assert parse_date("R1.4.30").error
    assert parse_date("T15.12.24").value == D(1926, 12, 24)
    assert parse_date("S1.12.25").value == D(1926, 12, 25)
    assert parse_date("S1.12.24").error
    assert parse_date("M45.7.29").value == D(1912, 7, 29)
    assert parse_date("T1.7.30").value == D(1912, 7, 30)
    assert parse_date("T1.7.29").error


@pytest.mark.parametrize(
    "value, expected",
    [
        ("男", 1),
        ("女", 2),
        ("男性", 1),
        ("女性", 2),
        ("1", 1),
        ("2", 2),
        ("１", 1),
        ("２", 2),
        ("M", 1),
        ("F", 2),
        ("m", 1),
        ("ｆ", 2),
        ("Ｍ", 1),
        (1, 1),
        (2.0, 2),
        ("男子", 1),
        ("女児", 2),
        (" 男 ", 1),
    ],
)
def test_sex(value, expected):
    assert parse_sex(value) == ParsedValue(expected)


@pytest.mark.parametrize("value", ["", "不明", "-", None, "0", "9", float("nan")])
def test_sex_missing(value):
    assert parse_sex(value) == MISSING


def test_sex_error():
    assert parse_sex("X") == ParsedValue(None, "性別「X」を読めません（男/女・1/2・M/F）")
    assert parse_sex(3).error


@pytest.mark.parametrize(
    "value, expected",
    [
        ("12", 12),
        ("１２", 12),
        ("12日", 12),
        ("１２日", 12),
        ("1,234", 1234),
        ("１，２３４", 1234),
        ("3回", 3),
        ("9点", 9),
        ("12週", 12),
        ("12.0", 12),
        (12, 12),
        (12.0, 12),
        ("なし", 0),
        ("無", 0),
        ("0", 0),
        ("-3", -3),
        (" 5 ", 5),
    ],
)
def test_int(value, expected):
    assert parse_int(value) == ParsedValue(expected)


@pytest.mark.parametrize("value", ["", "-", "不明", None, float("nan")])
def test_int_missing(value):
    assert parse_int(value) == MISSING


@pytest.mark.parametrize("value", ["12.5", "abc", "十日くらい", True, float("inf"), "9" * 30])
def test_int_errors(value):
    p = parse_int(value)
    assert p.value is None and p.error


@pytest.mark.parametrize(
    "value, expected",
    [
        ("有", True),
        ("無", False),
        ("あり", True),
        ("なし", False),
        ("有り", True),
        ("無し", False),
        ("○", True),
        ("〇", True),
        ("×", False),
        ("1", True),
        ("0", False),
        ("はい", True),
        ("いいえ", False),
        ("該当", True),
        ("非該当", False),
        ("TRUE", True),
        ("false", False),
        (True, True),
        (False, False),
        (1, True),
        (0.0, False),
        ("Ｙ", True),
        ("ｎ", False),
    ],
)
def test_flag(value, expected):
    assert parse_flag(value) == ParsedValue(expected)


@pytest.mark.parametrize("value", ["", "-", "不明", "未回答", None])
def test_flag_missing(value):
    assert parse_flag(value) == MISSING


def test_flag_error():
    p = parse_flag("たぶん")
    assert p.value is None and "有/無" in p.error


def test_number_code_text_year():
    assert parse_number("25.3kg").value == 25.3
    assert parse_number("10%").value == 10
    assert parse_number("１２．５").value == 12.5
    assert parse_number("重い").error
    assert parse_code(" 00123 ").value == "00123"
    assert parse_code("００１２３").value == "00123"
    assert parse_code(123.0).value == "123"
    assert parse_code("-") == MISSING
    assert parse_text("  山田　太郎 ").value == "  山田　太郎 "  # names and text kept as written
    assert parse_text("　") == MISSING
    assert [parse_year(x).value for x in ("2023", "2023年度", "令和5年度", "R5", "H31", "平成元年度")] == [
        2023,
        2023,
        2023,
        2023,
        2019,
        1989,
    ]
    assert parse_year("H32").error
    assert to_text(12.0) == "12" and to_text(dt.datetime(2015, 4, 5)) == "2015-04-05" and to_text(None) == ""


# --- properties --------------------------------------------------------------------------------------------------------
DATES = st.dates(min_value=D(1868, 1, 1), max_value=D(2200, 12, 31))
FW = str.maketrans("0123456789/-.", "０１２３４５６７８９／－．")


def _western_forms(d: D) -> list[str]:
    y, m, dd = d.year, d.month, d.day
    forms = [
        f"{y:04d}{m:02d}{dd:02d}",
        f"{y}/{m}/{dd}",
        f"{y}-{m:02d}-{dd:02d}",
        f"{y}.{m}.{dd}",
        f"{y}年{m}月{dd}日",
        f"{y}/{m:02d}/{dd:02d} 0:00:00",
        d.isoformat() + "T00:00:00",
    ]
    return forms + [f.translate(FW) for f in forms[:4]]


@settings(max_examples=300, deadline=None)
@given(DATES)
def test_roundtrip_western(d):
    for form in _western_forms(d):
        assert parse_date(form) == ParsedValue(d), form


@settings(max_examples=300, deadline=None)
@given(DATES)
def test_roundtrip_wareki(d):
    era = next(e for e in reversed(ERAS) if d >= e.start)
    for style in ("kanji", "gannen", "letter", "letter0", "slash", "short", "compact", "code"):
        form = format_wareki(d, style, era)
        if style in ("compact", "code", "letter0") and d.year - era.start.year + 1 > 99:
            continue  # two-digit year forms cannot hold 令和100年+
        assert parse_date(form) == ParsedValue(d), form
        assert parse_date(form.translate(FW)) == ParsedValue(d), form
    lower = format_wareki(d, "letter", era).lower()
    assert parse_date(lower) == ParsedValue(d)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(1868, 1, 1), max_value=D(2019, 12, 31)))
def test_previous_era_until_year_end_is_accepted(d):
    """A date written in the era that had just ended, within that era's last calendar year, keeps its meaning."""
    for era in ERAS:
        if era.end is not None and era.end < d and d.year == era.end.year:
            assert parse_date(format_wareki(d, "kanji", era)) == ParsedValue(d)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=D(1900, 3, 1), max_value=D(2200, 12, 31)), st.floats(min_value=0, max_value=0.999))
def test_roundtrip_excel_serial(d, frac):
    serial = (d - D(1899, 12, 30)).days
    assert parse_date(serial) == ParsedValue(d)
    assert parse_date(serial + frac) == ParsedValue(d)
    if 10000 <= serial < 100000:  # 5-digit text is read as a serial; 4 digits would be a year
        assert parse_date(str(serial)) == ParsedValue(d)


ANY_CELL = st.one_of(
    st.text(),
    st.text(alphabet="0123456789０１２３４５６７８９/-.年月日元令和平成昭RHSTMrhstm不明 　"),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.datetimes(),
    st.dates(),
)


@settings(max_examples=500, deadline=None)
@given(ANY_CELL)
def test_parsers_never_crash(x):
    for fn in (parse_date, parse_sex, parse_int, parse_number, parse_flag, parse_code, parse_text, parse_year):
        p = fn(x)
        assert isinstance(p, ParsedValue)
        assert p.value is None or p.error is None
        if p.error is not None:
            assert isinstance(p.error, str) and p.error
        if fn is parse_date and p.value is not None:
            assert isinstance(p.value, D) and 1868 <= p.value.year <= 2200
        if fn is parse_number and isinstance(p.value, float):
            assert math.isfinite(p.value)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from(["", "日", "回", "点"]),
    st.booleans(),
    st.booleans(),
)
def test_roundtrip_int(n, suffix, commas, wide):
    text = f"{n:,}" if commas else str(n)
    text += suffix
    if wide:
        text = text.translate(str.maketrans("0123456789,-", "０１２３４５６７８９，－"))
    assert parse_int(text) == ParsedValue(n)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2023/4", D(2023, 4, 1)),
        ("202304", D(2023, 4, 1)),
        ("2023年4月", D(2023, 4, 1)),
        ("R5.4", D(2023, 4, 1)),
        ("令和5年4月", D(2023, 4, 1)),
        ("令和元年5月", D(2019, 5, 1)),
        ("H31.5", D(2019, 5, 1)),
        ("R5.4.9", D(2023, 4, 9)),
    ],
)
def test_year_month_when_allowed(text, expected):
    assert parse_date(text, month_ok=True) == ParsedValue(expected)
    if text != "R5.4.9":
        assert parse_date(text).error  # not for a birth date


def test_year_month_errors():
    assert parse_date("2023/13", month_ok=True).error
    assert parse_date("150405", month_ok=True) == ParsedValue(None, "150405 は日付として読めません")
    assert parse_date("R1.4", month_ok=True).error
