"""Comparison levels, preparation, blocking and term-frequency weights of the 名寄せ engine (synthetic values)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from kodomo_desktop.core.linkage import blocking as B
from kodomo_desktop.core.linkage import comparisons as C
from kodomo_desktop.core.linkage import model as M
from kodomo_desktop.core.linkage.prepare import prepare
from kodomo_desktop.core.text.normalize import fold_kana, fold_name, norm_kana, norm_name


def _a(*xs):
    return np.array(list(xs), dtype=object)


def ladder(k1, k2, kn1, kn2):
    a, b = norm_name(k1), norm_name(k2)
    c, d = norm_kana(kn1), norm_kana(kn2)
    return int(
        C.name_ladder(
            _a(a), _a(b), _a(c), _a(d), _a(fold_name(a)), _a(fold_name(b)), _a(fold_kana(c)), _a(fold_kana(d))
        )[0]
    )


@pytest.mark.parametrize(
    "k1, k2, kn1, kn2, level",
    [
        ("髙橋", "高橋", "タカハシ", "ﾀｶﾊｼ", C.NAME_EXACT),  # variant kanji and half-width kana fold to one form
        ("渡邊", "渡辺", "", "ワタナベ", C.NAME_EXACT),  # kana missing on one side: kanji decides
        ("", "", "やまだ", "ヤマダ", C.NAME_EXACT),  # kana only
        ("陽翔", "陽斗", "ハルト", "ハルト", C.NAME_ONE),  # same reading, other kanji
        ("結衣", "結衣", "ユイ", "ユウイ", C.NAME_ONE),  # kanji equal, reading typed wrongly
        ("譲", "穣", "ジョウ", "ジヨウ", C.NAME_FOLD),  # small kana written large
        ("優菜", "裕奈", "ユーナ", "ユウナ", C.NAME_FOLD),  # long vowel
        ("一ノ瀬", "一之瀬", "イチノセ", "イチノセ", C.NAME_ONE),
        ("一ノ瀬", "一之瀬", "", "", C.NAME_FOLD),  # kanji fold: ノ / 之 between kanji
        ("", "", "イガラシユウマ", "イガラシユウタ", C.NAME_JW92),
        ("", "", "タカハシ", "タカハス", C.NAME_JW85),
        ("陽翔", "陽太", "", "", C.NAME_ONE_CHAR),
        ("陽翔", "結衣", "ハルト", "ユイ", C.NAME_ELSE),
        ("", "陽翔", "", "", C.NULL),
    ],
)
def test_name_ladder(k1, k2, kn1, kn2, level):
    assert ladder(k1, k2, kn1, kn2) == level


def _bd_levels(d1, d2):
    f1 = prepare(pd.DataFrame({"birth_date": [d1]}))
    f2 = prepare(pd.DataFrame({"birth_date": [d2]}))
    return int(C.birth_date_levels(f1["bd"], f2["bd"], f1["by"], f2["by"], f1["bm"], f2["bm"], f1["bdd"], f2["bdd"])[0])


@pytest.mark.parametrize(
    "d1, d2, level",
    [
        ("2015-04-03", "2015-04-03", C.BD_EXACT),
        ("2015-03-04", "2015-04-03", C.BD_SWAP),
        ("2015-04-04", "2015-04-03", C.BD_PM1),
        ("2015-01-01", "2014-12-31", C.BD_PM1),
        ("2016-04-03", "2015-04-03", C.BD_YEAR),
        ("2017-04-03", "2015-04-03", C.BD_ELSE),  # two years apart: not a typo level
        ("2015-04-20", "2015-04-03", C.BD_YM),
        ("2012-07-08", "2015-04-03", C.BD_ELSE),
        (None, "2015-04-03", C.NULL),
        ("2015-04-04", "2015-04-04", C.BD_EXACT),  # day == month cannot be a swap
    ],
)
def test_birth_date_levels(d1, d2, level):
    assert _bd_levels(d1, d2) == level


@pytest.mark.parametrize(
    "a, b, level",
    [
        ("みどり町本町1丁目2番3号", "みどり町本町1-2-3", 0),
        ("本町1丁目2番3号", "みどり町本町1-2-3", 1),  # town name left out
        ("みどり町本町1-2-3", "みどり町本町1-2-3 コーポ101", 1),  # building name added
        ("みどり町本町1-2-3", "みどり町本町1-2-8", 2),
        ("みどり町本町1-2-3", "みどり町大字上原512-4", 3),
        ("", "みどり町本町1-2-3", C.NULL),
    ],
)
def test_address_levels(a, b, level):
    from kodomo_desktop.core.text.normalize import norm_address

    assert int(C.address_levels(_a(norm_address(a)), _a(norm_address(b)))[0]) == level


def test_sex_and_equal_levels():
    assert C.sex_levels(np.array([1, 1, 0]), np.array([1, 2, 2])).tolist() == [0, 1, C.NULL]
    assert C.equal_levels(_a("H1", "H1", ""), _a("H1", "H2", "H3")).tolist() == [0, 1, C.NULL]


def test_infer_split_from_the_other_side():
    sur, giv = C.infer_split(_a("山田太郎", "鈴木太郎", "山田"), _a("山田", "佐藤", "山田"), _a("太郎", "太郎", "花子"))
    assert sur.tolist() == ["山田", "鈴木", ""] and giv.tolist() == ["太郎", "太郎", ""]


def test_prepare_accepts_the_forms_departments_send():
    df = pd.DataFrame(
        {
            "name": ["髙橋　太郎", "山田花子", None],
            "name_kana": ["ﾀｶﾊｼ ﾀﾛｳ", "やまだ はなこ", None],
            "birth_date": [dt.date(2015, 4, 3), "2016-05-06", None],
            "sex": ["男", 2, None],
            "address": ["本町1丁目2番3号", None, "x"],
            "resident_no": [12345.0, "  678 ", None],
        }
    )
    F = prepare(df)
    assert F["sur_k"].tolist() == ["高橋", "", ""] and F["giv_k"].tolist() == ["太郎", "", ""]
    assert F["full_k"].tolist() == ["高橋太郎", "山田花子", ""]
    assert F["sur_kn"].tolist() == ["タカハシ", "ヤマダ", ""] and F["giv_kn"].tolist() == ["タロウ", "ハナコ", ""]
    assert F["sex"].tolist() == [1, 2, 0]
    assert F["bd"][2] == -1 and F["by"].tolist()[:2] == [2015, 2016]
    assert F["resident_no"].tolist() == ["12345", "678", ""]
    assert prepare(pd.DataFrame({"resident_no": ["0010000051", "１２", "10000051"]}))["resident_no"].tolist() == [
        "10000051",
        "12",
        "10000051",
    ]
    assert F["address"][0] == "本町1-2-3"


def test_prepare_uses_normalised_columns_when_raw_ones_are_absent():
    df = pd.DataFrame(
        {
            "name_norm": ["高橋太郎"],
            "surname_norm": ["高橋"],
            "given_norm": ["太郎"],
            "kana_norm": ["タカハシタロウ"],
            "birth_date": pd.to_datetime(["2015-04-03"]),
        }
    )
    F = prepare(df)
    assert (F["sur_k"][0], F["giv_k"][0], F["full_kn"][0]) == ("高橋", "太郎", "タカハシタロウ")
    assert F["by"][0] == 2015


def test_a_name_column_in_kana_is_read_as_kana():
    F = prepare(pd.DataFrame({"name": ["やまだ たろう", "山田 太郎"], "name_kana": [None, None]}))
    assert F["full_k"].tolist() == ["", "山田太郎"] and F["full_kn"].tolist() == ["ヤマダタロウ", ""]
    assert (F["sur_kn"][0], F["giv_kn"][0]) == ("ヤマダ", "タロウ")


def test_blocking_finds_swapped_birth_dates_and_resident_numbers():
    reg = prepare(
        pd.DataFrame(
            {"name": ["山田 太郎", "鈴木 花子"], "birth_date": ["2015-04-03", "2016-01-01"], "resident_no": ["1", "2"]}
        )
    )
    rec = prepare(
        pd.DataFrame(
            {"name": ["全然違う 名前", "別の 人"], "birth_date": ["2015-03-04", None], "resident_no": [None, "2"]}
        )
    )
    ri, pi, stats = B.candidate_pairs(rec, reg)
    pairs = set(zip(ri.tolist(), pi.tolist()))
    assert (0, 0) in pairs and (1, 1) in pairs
    assert stats["birth_date_swapped"]["pairs"] == 1 and stats["resident_no"]["pairs"] == 1


def test_term_frequency_common_surname_is_weak_evidence():
    """佐藤 agreeing adds less than a rare surname agreeing (the registry's own frequencies)."""
    n = 400
    sur = ["佐藤"] * 200 + [f"珍{i:03d}" for i in range(n - 200)]
    reg = pd.DataFrame({"name": [f"{s} 太郎" for s in sur], "birth_date": ["2015-04-03"] * n})
    P = prepare(reg)
    R = prepare(pd.DataFrame({"name": ["佐藤 太郎", "珍001 太郎"], "birth_date": ["2015-04-03"] * 2}))
    model = M.Model(
        m=[np.array(M._M0[c.name]) for c in C.COMPARISONS],
        u=[np.full(c.n, 1.0 / c.n) for c in C.COMPARISONS],
        prior=1e-3,
        n_registry=n,
        tf=M.term_frequencies(P),
    )
    g, tf = M.compare(R, P, np.array([0, 1]), np.array([0, 201]), model.tf)
    w, parts, tf_adj = M.score(model, g, tf, with_parts=True)
    s = C.INDEX["surname"]
    assert g[0, s] == g[1, s] == C.NAME_EXACT
    assert parts[1, s] > parts[0, s] + 5
