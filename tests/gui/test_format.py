"""The one formatter for dates and times people read, and half-width kana widened for display."""

import datetime as dt

from kodomo_desktop.gui.format import day, when, wide_kana


def test_times_read_as_japanese_dates_never_iso():
    assert when("2026-12-01T19:19:33") == "2026年12月1日 19:19"
    assert when(dt.datetime(2026, 12, 1, 9, 5)) == "2026年12月1日 9:05"
    assert when("2026-12-01") == "2026年12月1日" and when(dt.date(2026, 4, 1)) == "2026年4月1日"
    assert when(None) == "" and when("") == "" and when("未設定") == "未設定"
    assert day("2026-12-01T19:19") == "2026年12月1日"


def test_half_width_kana_is_widened_for_display():
    assert wide_kana("ｻﾄｳ ﾀﾞｲｽｹ") == "サトウ ダイスケ"
    assert wide_kana("ﾊﾟﾝ") == "パン"
    assert wide_kana("佐藤 ABC１２") == "佐藤 ABC１２"  # only kana changes
    assert wide_kana(None) == ""


def test_models_show_iso_timestamps_as_japanese(app):
    from kodomo_desktop.gui.models import RowsModel

    m = RowsModel([("at", "日時"), ("d", "日付")], [{"at": "2026-12-01T19:19:33", "d": dt.date(2026, 12, 1)}])
    assert m.text(0, 0) == "2026年12月1日 19:19"


def test_dates_in_english_mode():
    import datetime as dt

    from kodomo_desktop.core import i18n
    from kodomo_desktop.gui.format import day, when

    try:
        i18n.set_language("en")
        assert when(dt.datetime(2026, 12, 1, 19, 19)) == "1 Dec 2026 19:19"
        assert day("2026-04-01") == "1 Apr 2026"
    finally:
        i18n.set_language("ja")
    assert when(dt.datetime(2026, 12, 1, 19, 19)) == "2026年12月1日 19:19"
