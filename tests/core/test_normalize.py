"""Japanese normalisation for matching (synthetic names only)."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kodomo_desktop.core.text.normalize import (
    fold_kana,
    fold_kana_series,
    fold_name,
    fold_name_series,
    norm_address,
    norm_address_series,
    norm_kana,
    norm_kana_series,
    norm_name,
    norm_name_series,
    split_name,
    split_name_series,
)

BLANKS = [None, float("nan"), np.nan, pd.NA, pd.NaT, ""]


@pytest.mark.parametrize(
    "raw, want",
    [
        ("髙橋　太郎", "高橋太郎"),
        ("高橋 太郎", "高橋太郎"),
        ("山﨑", "山崎"),
        ("山嵜", "山崎"),
        ("齋藤", "斎藤"),
        ("齊藤", "斎藤"),
        ("斉藤", "斎藤"),
        ("渡邊", "渡辺"),
        ("渡邉", "渡辺"),
        ("邊見", "辺見"),
        ("濱田", "浜田"),
        ("濵田", "浜田"),
        ("櫻井", "桜井"),
        ("廣瀬", "広瀬"),
        ("澤田", "沢田"),
        ("國男", "国男"),
        ("葛\U000e0100城", "葛城"),
        ("辻\U000e0101", "辻"),
        ("塚本", "塚本"),  # U+FA10 compatibility ideograph
        ("𠮷田", "吉田"),
        ("冨田", "富田"),
        ("嶋田", "島田"),
        ("はなこ", "ハナコ"),
        ("ﾊﾅｺ", "ハナコ"),
        ("山田・花子", "山田花子"),
        (" 山田  花子 ", "山田花子"),
        ("ＡＢＣ", "ABC"),
        ("abc", "ABC"),
    ],
)
def test_norm_name_folds_variants(raw, want):
    assert norm_name(raw) == want


def test_nfkc_alone_does_not_fold_the_variants():
    import unicodedata

    for c in "髙﨑齋邊邉":
        assert unicodedata.normalize("NFKC", c) == c
        assert norm_name(c) != c


@pytest.mark.parametrize(
    "raw, want",
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ"),
        ("やまだ　たろう", "ヤマダタロウ"),
        ("ヤマダ・タロウ", "ヤマダタロウ"),
        ("ﾕｰｷ", "ユーキ"),
        ("ユ-キ", "ユーキ"),
        ("ユ－キ", "ユーキ"),
        ("ジョウ", "ジョウ"),
        ("ｶﾞｯｺｳ", "ガッコウ"),
    ],
)
def test_norm_kana(raw, want):
    assert norm_kana(raw) == want


@pytest.mark.parametrize(
    "a, b",
    [
        ("ジョウ", "ジヨウ"),
        ("ユーキ", "ユキ"),
        ("キョウコ", "キヨウコ"),
        ("ハッタ", "ハツタ"),
        ("チヂワ", "チジワ"),
        ("ツヅキ", "ツズキ"),
        ("ヴィクトル", "ブイクトル"),
        ("カヲル", "カオル"),
        ("ゆうき", "ユウキ"),
    ],
)
def test_fold_kana_lower_level(a, b):
    assert fold_kana(a) == fold_kana(b)


@pytest.mark.parametrize(
    "a, b", [("オーノ", "オオノ"), ("オウノ", "オオノ"), ("ケイコ", "ケーコ"), ("ユウナ", "ユーナ")]
)
def test_fold_kana_long_vowels(a, b):
    assert fold_kana(a) == fold_kana(b)


@pytest.mark.parametrize(
    "a, b", [("一ノ瀬", "一之瀬"), ("一の瀬", "一ノ瀬"), ("佐々木", "佐佐木"), ("八ヶ代", "八ケ代"), ("髙橋", "高橋")]
)
def test_fold_name(a, b):
    assert fold_name(a) == fold_name(b)
    assert fold_name("ノリコ") == "ノリコ"  # kana names keep their ノ


def test_fold_is_not_the_normal_form():
    assert norm_kana("ジョウ") != norm_kana("ジヨウ")
    assert norm_kana("ユーキ") != norm_kana("ユキ")


@pytest.mark.parametrize(
    "raw, want",
    [
        ("山田 太郎", ("山田", "太郎")),
        ("山田　太郎", ("山田", "太郎")),
        ("山田太郎", ("山田太郎", "")),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", ("ヤマダ", "タロウ")),
        ("  山田   太郎  ", ("山田", "太郎")),
        ("山田 太郎 次", ("山田", "太郎 次")),
        (None, ("", "")),
        ("", ("", "")),
    ],
)
def test_split_name(raw, want):
    assert split_name(raw) == want


@pytest.mark.parametrize(
    "raw, want",
    [
        ("1丁目2番3号", "1-2-3"),
        ("１－２－３", "1-2-3"),
        ("1-2-3", "1-2-3"),
        ("1‐2−3", "1-2-3"),
        ("一丁目二番地三", "1-2-3"),
        ("三丁目十二番地の五", "3-12-5"),
        ("1丁目2番地の3", "1-2-3"),
        ("〇〇町大字△△ 二十三番地", "〇〇町△△23"),
        ("〇〇町大字△△２３番地", "〇〇町△△23"),
        ("桜町1丁目2-3 コーポ101", "桜町1-2-3コーポ101"),
        ("櫻町1-2-3", "桜町1-2-3"),
    ],
)
def test_norm_address(raw, want):
    assert norm_address(raw) == want


@pytest.mark.parametrize("fn", [norm_name, fold_name, norm_kana, fold_kana, norm_address])
@pytest.mark.parametrize("blank", BLANKS)
def test_blanks_give_empty_string(fn, blank):
    assert fn(blank) == ""


def test_numbers_and_odd_input_never_raise():
    assert norm_name(12.0) == "12"
    assert norm_kana(3) == "3"
    assert norm_name(["unhashable"]) != ""  # str() of it, no crash


@pytest.mark.parametrize(
    "fn, sfn",
    [
        (norm_name, norm_name_series),
        (fold_name, fold_name_series),
        (norm_kana, norm_kana_series),
        (fold_kana, fold_kana_series),
        (norm_address, norm_address_series),
    ],
)
def test_series_helpers_match_scalar(fn, sfn):
    values = ["髙橋　太郎", None, np.nan, "ﾔﾏﾀﾞ", "1丁目2番3号", "髙橋　太郎", pd.NA, ""]
    out = sfn(pd.Series(values, dtype="object"))
    assert out.tolist() == [fn(v) for v in values]
    assert sfn(values).tolist() == out.tolist()  # a plain list works too
    assert all(isinstance(x, str) for x in out)


def test_series_keeps_index():
    s = pd.Series(["髙橋", "山﨑"], index=[10, 20])
    assert norm_name_series(s).index.tolist() == [10, 20]


def test_split_name_series():
    sur, giv = split_name_series(pd.Series(["山田 太郎", "花子", None]))
    assert sur.tolist() == ["山田", "花子", ""] and giv.tolist() == ["太郎", "", ""]


def test_series_speed_100k_rows():
    """100k rows, many repeats (a town's names) — well under a second (figure printed, no timed assertion)."""
    rng = np.random.default_rng(0)
    sur = np.array(["佐藤", "髙橋", "渡邊", "山﨑", "齋藤", "田中", "伊藤"])
    giv = np.array(["太郎", "花子", "陽翔", "結衣", "蓮", "葵"])
    names = pd.Series(
        [f"{a}　{b}{i % 5000}" for i, (a, b) in enumerate(zip(rng.choice(sur, 100_000), rng.choice(giv, 100_000)))]
    )
    t = time.perf_counter()
    out = norm_name_series(names)
    elapsed = time.perf_counter() - t
    print(f"norm_name_series 100k rows: {elapsed:.2f}s")
    assert len(out) == 100_000 and not out.str.contains("髙").any()


# --- properties ------------------------------------------------------------------------------------------------
_japanese = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),  # kana, punctuation
        st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),  # full/half width
        st.sampled_from(list("髙﨑齋齊斉邊邉濱櫻廣澤國辻葛一二三十百〇丁目番地号の-‐－ー 　・")),
        st.just("\U000e0100"),
        st.just("\ufe00"),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF),
    ),
    max_size=20,
)
_anything = st.one_of(
    _japanese, st.text(max_size=20), st.none(), st.floats(allow_nan=True), st.integers(), st.just(pd.NA)
)


@settings(max_examples=400, deadline=None)
@given(_anything)
def test_never_raises_and_returns_str(x):
    for fn in (norm_name, fold_name, norm_kana, fold_kana, norm_address):
        assert isinstance(fn(x), str)
    a, b = split_name(x)
    assert isinstance(a, str) and isinstance(b, str)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_japanese, st.text(max_size=20)))
def test_idempotent(x):
    for fn in (norm_name, fold_name, norm_kana, fold_kana, norm_address):
        once = fn(x)
        assert fn(once) == once, (fn.__name__, x, once)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_japanese, st.text(max_size=20)))
def test_no_spaces_or_dots_left(x):
    for fn in (norm_name, norm_kana, fold_kana):
        out = fn(x)
        assert " " not in out and "\u3000" not in out and "・" not in out


@settings(max_examples=300, deadline=None)
@given(st.one_of(_japanese, st.text(max_size=20)))
def test_fold_is_coarser_than_norm(x):
    """Equal normal forms always have equal folded forms."""
    assert fold_kana(norm_kana(x)) == fold_kana(x)


def test_nan_is_not_a_name():
    assert norm_name(math.nan) == "" and norm_kana(float("nan")) == ""


def test_fold_of_decomposed_historical_kana_matches_fold_of_its_normal_form():
    # found by hypothesis: ゐ + combining dakuten composes to ヸ only after hiragana → katakana
    for x in ("ゐ゙", "ゑ゙", "ヸ"):
        assert fold_kana(norm_kana(x)) == fold_kana(x)


def _slow(fn, x):
    """The step without its fast path (patterns that never match)."""
    import re

    from kodomo_desktop.core.text import normalize as N

    saved = N._PLAIN_KANJI, N._PLAIN_KATAKANA
    N._PLAIN_KANJI = N._PLAIN_KATAKANA = re.compile(r"(?!)")
    try:
        return fn.raw(x)
    finally:
        N._PLAIN_KANJI, N._PLAIN_KATAKANA = saved


@given(st.text(alphabet=st.sampled_from(list("高髙橋邊辺﨑崎齋斎佐々木太郎花子一之瀬吉𠮷 　ア")), max_size=12))
def test_name_fast_path_equals_the_full_step(x):
    assert norm_name(x) == _slow(norm_name, x)


@given(
    st.text(
        alphabet=st.sampled_from(
            list(
                "アイウエオカキクケコサシスセソタチツテトナハヒフヘホマヤユヨラワヲン"
                "ガギグゲゴパピプペポァィゥェォッャュョヮヴヰヱー 　"
            )
        ),
        max_size=12,
    )
)
def test_kana_fast_path_equals_the_full_step(x):
    assert norm_kana(x) == _slow(norm_kana, x)


def test_stored_kanji_table_is_yosinas():
    # _kanji_old_new.py is yosina's 旧字体→新字体 mapping written out (building it cost every process ~70 ms)
    from kodomo_desktop.core.text import normalize as N
    from kodomo_desktop.core.text._kanji_old_new import OLD_NEW

    built = {chr(k): v for k, v in N._old_new_table().items()}
    missing = {k: v for k, v in built.items() if OLD_NEW.get(k) != v}
    extra = sorted(set(OLD_NEW) - set(built))
    assert not missing and not extra, f"yosina changed: add {missing}, remove {extra} in _kanji_old_new.py"


def test_variation_selectors_still_go_through_yosina():
    assert norm_name("葛\U000e0100飾") == "葛飾" and norm_name("邊\ufe00") == "辺"
