"""Comparison levels for 名寄せ (Fellegi–Sunter): per field, an ordered ladder of agreement levels.

Every comparison maps a (record, registry person) pair to a small integer level (0 = strongest agreement) or
``NULL`` (-1: a value is missing on either side, so the field says nothing and adds 0 to the weight).

Name comparisons combine kanji and kana in *one* ladder (they are two spellings of the same fact; counting them as
two independent fields would count one agreement twice):

=====  ==================================================================  =====================================
level  rule                                                                label
=====  ==================================================================  =====================================
0      kanji equal (after normalisation) and kana equal or missing;         完全一致 / exact
       or, when kanji is missing on a side, kana equal
1      only one of kanji / kana equal (外字 or a variant the tables miss;    漢字またはカナのみ一致 / kanji or kana only
       or a reading typed wrongly)
2      equal after the lower fold (kanji: 々 / ノ之ヶ; kana: small kana,     表記ゆれの範囲で一致 / equal after folding
       long vowels, ヂ/ジ …)
3      Jaro–Winkler ≥ 0.92 (best of kanji and folded kana)                  よく似ている / similar (JW ≥ 0.92)
4      Jaro–Winkler ≥ 0.85                                                  やや似ている / somewhat similar (JW ≥ 0.85)
5      kanji differ by one character and no kana to check the reading       漢字1文字違い / one kanji differs
       (the usual same-reading slip: 陽翔/陽斗)
6      anything else                                                        不一致 / different
=====  ==================================================================  =====================================

Surname and given name are compared separately when both sides can be split (a space in the file, separate
columns, or — per pair — the other side's surname is a prefix of this side's full name); otherwise the full name
is compared with the same ladder. A remarried parent's child therefore keeps its given-name and birth-date
evidence when the surname changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from .. import i18n

NULL = -1


@dataclass(frozen=True)
class Comparison:
    name: str
    label_ja: str
    label_en: str
    levels: tuple[tuple[str, str, str], ...]  # (code, label_ja, label_en)
    tf: bool = False  # term-frequency adjusted at its agreeing levels

    @property
    def n(self) -> int:
        return len(self.levels)

    def level_code(self, lv: int) -> str:
        return "null" if lv < 0 else self.levels[lv][0]


_NAME_LEVELS = (
    ("exact", "完全一致", "exact"),
    ("one", "漢字またはカナのみ一致", "kanji or kana only"),
    ("fold", "表記ゆれの範囲で一致", "equal after folding"),
    ("jw92", "よく似ている（JW≥0.92）", "similar (JW ≥ 0.92)"),
    ("jw85", "やや似ている（JW≥0.85）", "somewhat similar (JW ≥ 0.85)"),
    ("one_char", "漢字1文字違い", "one kanji differs"),
    ("else", "不一致", "different"),
)
NAME_EXACT, NAME_ONE, NAME_FOLD, NAME_JW92, NAME_JW85, NAME_ONE_CHAR, NAME_ELSE = range(7)

BD_EXACT, BD_SWAP, BD_PM1, BD_YEAR, BD_YM, BD_ELSE = range(6)

COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "resident_no", "宛名番号", "resident number", (("agree", "一致", "agree"), ("disagree", "不一致", "disagree"))
    ),
    Comparison("name", "氏名（姓名の区別なし）", "full name", _NAME_LEVELS, tf=True),
    Comparison("surname", "姓", "surname", _NAME_LEVELS, tf=True),
    Comparison("given", "名", "given name", _NAME_LEVELS, tf=True),
    Comparison(
        "birth_date",
        "生年月日",
        "birth date",
        (
            ("exact", "一致", "exact"),
            ("swap", "日と月の入れ替わり", "day and month swapped"),
            ("pm1", "1日違い", "one day apart"),
            ("year", "年が1年違い（月日一致）", "same day and month, year ±1"),
            ("year_month", "年月のみ一致", "same year and month"),
            ("else", "不一致", "different"),
        ),
    ),
    Comparison("sex", "性別", "sex", (("agree", "一致", "agree"), ("disagree", "不一致", "disagree"))),
    Comparison(
        "address",
        "住所",
        "address",
        (
            ("exact", "一致", "exact"),
            ("contains", "一方が他方を含む（町名・建物名の有無）", "one contains the other"),
            ("similar", "よく似ている", "similar"),
            ("else", "不一致", "different"),
        ),
    ),
    Comparison(
        "household", "世帯番号", "household number", (("agree", "一致", "agree"), ("disagree", "不一致", "disagree"))
    ),
)
BY_NAME = {c.name: c for c in COMPARISONS}


def _english(text: str) -> str:
    return text[:1].upper() + text[1:]


# the fields' and levels' English join the one translation table (core/i18n.py)
i18n.register("en", {c.label_ja: _english(c.label_en) for c in COMPARISONS})
i18n.register("en", {ja: _english(en) for c in COMPARISONS for _, ja, en in c.levels})
i18n.register(
    "en",
    {
        "比較できない（欠損）": "Missing",
        "事前確率": "Prior",
        "他の候補・台帳にいない可能性": "Other candidates, not in registry",
    },
)
i18n.register("en", {"ランダムな2件が同一人物である確率": "Two random records match"})
INDEX = {c.name: i for i, c in enumerate(COMPARISONS)}


# --- helpers ---------------------------------------------------------------------------------------------------------
def _nonblank(a: np.ndarray) -> np.ndarray:
    return a != ""


def _jw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Jaro–Winkler similarity (rapidfuzz, C++); "" on either side gives 0.

    Every pair given is computed, on both cores from ``_JW_THREADS_FROM`` pairs. Factorising the *pairs* to find the
    distinct ones cost about what comparing them costs (0.17 s against 0.11 s wall for estimate_u's 300,000 random
    pairs at 3,000 residents); the callers with many pairs (``name_ladder_coded``, ``address_levels``) therefore code
    the *rows* once and pass the distinct pairs of codes only (``_jw_coded``). The floats are the same either way."""
    n = len(a)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    workers = 2 if n >= _JW_THREADS_FROM else 1
    return cpdist(list(a), list(b), scorer=JaroWinkler.normalized_similarity, dtype=np.float32, workers=workers)


_JW_THREADS_FROM = 20_000  # below this a second thread costs more than it saves


def _distinct(key: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct keys, sorted; the position of each key among them) for integer keys in [0, space)."""
    if space <= 4 * len(key) + 1_000_000:  # a dense table: cheaper than sorting the keys
        seen = np.zeros(space, dtype=bool)
        seen[key] = True
        uk = np.flatnonzero(seen)
        pos = np.empty(space, dtype=np.int64)
        pos[uk] = np.arange(len(uk))
        return uk, pos[key]
    uk, inv = np.unique(key, return_inverse=True)
    return uk, inv


def _jw_coded(ca: np.ndarray, va: np.ndarray, cb: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """``_jw(va[ca], vb[cb])``, each distinct pair of codes computed once. The 300,000 random pairs of
    ``estimate_u`` hold a few thousand distinct surname pairs and a few tens of thousands of given-name pairs (3,000
    residents: ~100–200 distinct values a side), so this is a few milliseconds where every pair cost ~40 CPU-ms a
    column on two threads. The floats are the same: Jaro–Winkler is computed pair by pair either way."""
    return _per_distinct_pair(_jw, ca, va, cb, vb)


def _per_distinct_pair(f, ca: np.ndarray, va: np.ndarray, cb: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """``f(va[ca], vb[cb])`` for an ``f`` that works pair by pair on two value arrays, called on each distinct pair
    of codes once (random pairs repeat the same few hundred names)."""
    nb = len(vb)
    uk, inv = _distinct(ca * nb + cb, len(va) * nb)
    return f(va[uk // nb], vb[uk % nb])[inv]


def name_ladder(kanji_a, kanji_b, kana_a, kana_b, fkanji_a, fkanji_b, fkana_a, fkana_b) -> np.ndarray:
    """Levels of the name ladder for aligned arrays (object arrays of str; "" = missing)."""
    return name_ladder_coded(
        *(
            _pair_codes(x, y)
            for x, y in ((kanji_a, kanji_b), (kana_a, kana_b), (fkanji_a, fkanji_b), (fkana_a, fkana_b))
        )
    )


def _pair_codes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Both arrays coded over one vocabulary: (codes of a, codes of b, the values, the code of "" or -1)."""
    code, uniq = pd.factorize(
        np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)]), use_na_sentinel=False
    )
    uniq = np.asarray(uniq, dtype=object)
    blank = np.flatnonzero(uniq == "")
    code = code.astype(np.int64)
    return code[: len(a)], code[len(a) :], uniq, int(blank[0]) if len(blank) else -1


def name_ladder_coded(kanji: tuple, kana: tuple, fkanji: tuple, fkana: tuple) -> np.ndarray:
    """``name_ladder`` of coded names: each argument is (codes of side a, codes of side b, the values, the code of ""
    or -1), both sides coded over one vocabulary (equal codes = equal text). Integer comparisons instead of object
    ones, and Jaro–Winkler once per distinct pair of codes (``_jw_coded``) from 20,000 pairs on."""
    ka, kb, _, kblank = kanji
    na, nb, _, nblank = kana
    fka, fkb, fkv, _ = fkanji
    fna, fnb, fnv, _ = fkana
    n = len(ka)
    out = np.full(n, NULL, dtype=np.int8)
    if n == 0:
        return out
    kj = (ka != kblank) & (kb != kblank)
    kn = (na != nblank) & (nb != nblank)
    kj_eq = kj & (ka == kb)
    kn_eq = kn & (na == nb)
    any_ = kj | kn
    exact = (kj_eq & (kn_eq | ~kn)) | (~kj & kn_eq)
    one = ~exact & (kj_eq | kn_eq)
    fold = ~exact & ~one & ((kj & (fka == fkb)) | (kn & (fna == fnb)))
    rest = any_ & ~exact & ~one & ~fold
    out[any_] = NAME_ELSE
    out[exact] = NAME_EXACT
    out[one] = NAME_ONE
    out[fold] = NAME_FOLD
    idx = np.flatnonzero(rest)
    if len(idx):
        if len(idx) >= _JW_THREADS_FROM:
            s1 = np.where(kj[idx], _jw_coded(fka[idx], fkv, fkb[idx], fkv), 0.0)
            s2 = np.where(kn[idx], _jw_coded(fna[idx], fnv, fnb[idx], fnv), 0.0)
        else:
            s1 = np.where(kj[idx], _jw(fkv[fka[idx]], fkv[fkb[idx]]), 0.0)
            s2 = np.where(kn[idx], _jw(fnv[fna[idx]], fnv[fnb[idx]]), 0.0)
        s = np.maximum(s1, s2)
        lv = np.where(s >= 0.92, NAME_JW92, np.where(s >= 0.85, NAME_JW85, NAME_ELSE)).astype(np.int8)
        # one kanji differs and the reading cannot be checked (kana missing on a side): the typical slip
        low = np.flatnonzero((lv == NAME_ELSE) & kj[idx] & ~kn[idx])
        if len(low):
            one = _per_distinct_pair(_one_chars, fka[idx[low]], fkv, fkb[idx[low]], fkv)
            lv[low[one]] = NAME_ONE_CHAR
        out[idx] = lv
    return out


def _one_chars(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.fromiter((_one_char(x, y) for x, y in zip(a, b)), dtype=bool, count=len(a))


def _one_char(a: str, b: str) -> bool:
    """Kanji names that differ by one character (陽翔 / 陽斗, 樹 / 樹希): the usual slip of a same-reading kanji."""
    if len(a) == len(b):
        return len(a) >= 2 and sum(x != y for x, y in zip(a, b)) == 1
    if abs(len(a) - len(b)) == 1:
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        return len(short) >= 1 and (long_.startswith(short) or long_.endswith(short))
    return False


def birth_date_levels(da, db, ya, yb, ma, mb, dda, ddb) -> np.ndarray:
    """da/db: days since epoch (int64, -1 = missing); y/m/d: parts (0 = missing)."""
    n = len(da)
    out = np.full(n, NULL, dtype=np.int8)
    ok = (da >= 0) & (db >= 0)
    exact = ok & (da == db)
    swap = ok & ~exact & (ya == yb) & (ma == ddb) & (dda == mb) & (ma != dda)
    pm1 = ok & ~exact & ~swap & (np.abs(da - db) == 1)
    year = ok & ~exact & ~swap & ~pm1 & (ma == mb) & (dda == ddb) & (np.abs(ya - yb) == 1)
    ym = ok & ~exact & ~swap & ~pm1 & ~year & (ya == yb) & (ma == mb)
    out[ok] = BD_ELSE
    out[ym] = BD_YM
    out[year] = BD_YEAR
    out[pm1] = BD_PM1
    out[swap] = BD_SWAP
    out[exact] = BD_EXACT
    return out


def equal_levels(a, b) -> np.ndarray:
    """0 agree / 1 disagree / NULL for str arrays ("" missing)."""
    out = np.full(len(a), NULL, dtype=np.int8)
    ok = _nonblank(a) & _nonblank(b)
    out[ok] = np.where(a[ok] == b[ok], 0, 1)
    return out


def sex_levels(a, b) -> np.ndarray:
    out = np.full(len(a), NULL, dtype=np.int8)
    ok = (a > 0) & (b > 0)
    out[ok] = np.where(a[ok] == b[ok], 0, 1)
    return out


def address_levels(a, b, codes: tuple | None = None) -> np.ndarray:
    """exact / one contains the other (a town prefix or a building name missing) / similar / else. ``codes``: (code
    array, distinct values) of ``a`` and of ``b`` (``a == codes[1][codes[0]]``): the addresses that differ are then
    compared once per distinct pair (random pairs repeat the same few hundred households' addresses)."""
    n = len(a)
    out = np.full(n, NULL, dtype=np.int8)
    ok = _nonblank(a) & _nonblank(b)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    aa, bb = a[idx], b[idx]
    lv = np.full(len(idx), 3, dtype=np.int8)
    eq = aa == bb
    lv[eq] = 0
    rest = np.flatnonzero(~eq)
    if len(rest) >= _JW_THREADS_FROM and codes is not None:
        ca, va, cb, vb = codes
        nb = len(vb)
        uk, inv = _distinct(ca[idx[rest]] * nb + cb[idx[rest]], len(va) * nb)
        lv[rest] = _address_differs(va[uk // nb], vb[uk % nb])[inv]
    elif len(rest):
        lv[rest] = _address_differs(aa[rest], bb[rest])
    out[idx] = lv
    return out


def _address_differs(aa: np.ndarray, bb: np.ndarray) -> np.ndarray:
    """Levels of address pairs that are not equal: 1 one contains the other, 2 similar, 3 else."""
    lv = np.full(len(aa), 3, dtype=np.int8)
    contains = np.fromiter(
        ((len(x) >= 4 and len(y) >= 4 and (x in y or y in x)) for x, y in zip(aa, bb)),
        dtype=bool,
        count=len(aa),
    )
    lv[contains] = 1
    r2 = np.flatnonzero(~contains)
    if len(r2):
        sim = _jw(aa[r2], bb[r2]) >= 0.92
        lv[r2[sim]] = 2
    return lv


def equal_codes(ca: np.ndarray, cb: np.ndarray, blank: int) -> np.ndarray:
    """``equal_levels`` of values coded over both sides together (equal codes = equal values; ``blank`` = the
    code of "", -1 when there is none): integer comparisons instead of object ones."""
    out = np.full(len(ca), NULL, dtype=np.int8)
    ok = (ca != blank) & (cb != blank)
    out[ok] = np.where(ca[ok] == cb[ok], 0, 1)
    return out


def infer_split(full: np.ndarray, sur_other: np.ndarray, giv_other: np.ndarray):
    """Per pair: split this side's full name using the other side's surname (prefix) or given name (suffix).

    Returns (surname, given) arrays ("" where no split could be inferred)."""
    sur = np.full(len(full), "", dtype=object)
    giv = np.full(len(full), "", dtype=object)
    for i, (f, s, g) in enumerate(zip(full, sur_other, giv_other)):
        if not f:
            continue
        if s and len(f) > len(s) and f.startswith(s):
            sur[i], giv[i] = s, f[len(s) :]
        elif g and len(f) > len(g) and f.endswith(g):
            sur[i], giv[i] = f[: -len(g)], g
    return sur, giv
