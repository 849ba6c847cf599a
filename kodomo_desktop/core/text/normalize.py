"""Japanese normalisation for matching and search. The raw text is always kept; these forms sit beside it.

NFKC alone does not fold 髙/高, 﨑/崎, 齋/斎 or 邊/辺 (notes/anchors.md §2.6): yosina folds 旧字体→新字体 and removes
ideographic variation selectors, and a small table adds the 異体字 that registries and schools write
differently (髙, 﨑, 邉, 濵 …). Kana: hiragana → katakana, half-width → full-width (jaconv). ``fold_kana`` is
a *lower* comparison level (small kana, long vowels, ヂ/ジ …), used as weaker evidence, never stored over
the normal form.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jaconv
from yosina import TransliterationRecipe, make_transliterator

_old_new = make_transliterator(TransliterationRecipe(kanji_old_new=True, remove_ivs_svs="drop-all-selectors"))

# 異体字 common in names that the 旧字体 table does not cover (registry vs school spelling).
_VARIANTS = str.maketrans({
    "髙": "高", "﨑": "崎", "嵜": "崎", "碕": "崎", "邉": "辺", "邊": "辺", "濵": "浜", "濱": "浜", "槗": "橋",
    "𠮷": "吉", "﨔": "欅", "塚": "塚", "隆": "隆", "舘": "館", "嶋": "島", "嶌": "島", "峯": "峰", "冨": "富",
    "桒": "桑", "籐": "藤", "德": "徳", "惠": "恵", "眞": "真", "廣": "広", "澤": "沢", "齊": "斉", "齋": "斎",
    "龍": "竜", "國": "国", "條": "条", "藏": "蔵", "榮": "栄", "與": "与", "曻": "昇", "髪": "髪",
    "々": "々", "ヶ": "ケ", "ヵ": "カ",
})
_SPACES_DOTS = re.compile(r"[\s\u3000・･·.．,，、]+")
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_FOLD = str.maketrans({"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヴ": "ブ", "ヱ": "エ", "ヰ": "イ"})
_KANJI_NUM = str.maketrans("〇一二三四五六七八九", "0123456789")
_DASHES = re.compile(r"[‐‑‒–—―−ーｰ－-]+")


def _blank(s) -> bool:
    return s is None or (isinstance(s, float) and s != s) or s == ""


@lru_cache(maxsize=200_000)
def norm_name(s) -> str:
    """Kanji (or any) name for matching: NFKC, 旧字体→新字体, 異体字, IVS removed, spaces and dots removed."""
    if _blank(s):
        return ""
    t = unicodedata.normalize("NFKC", str(s))
    t = _old_new(t).translate(_VARIANTS)
    t = jaconv.hira2kata(t)  # a name written in hiragana compares with its katakana form
    return _SPACES_DOTS.sub("", t)


@lru_cache(maxsize=200_000)
def norm_kana(s) -> str:
    """Kana for matching: full-width katakana, no spaces or dots (ﾔﾏﾀﾞ ﾀﾛｳ → ヤマダタロウ)."""
    if _blank(s):
        return ""
    t = jaconv.h2z(str(s), kana=True, ascii=False, digit=False)
    t = unicodedata.normalize("NFKC", t)
    t = jaconv.hira2kata(t)
    return _SPACES_DOTS.sub("", t)


@lru_cache(maxsize=200_000)
def fold_kana(s) -> str:
    """A lower comparison level: small kana made large, long-vowel marks dropped, ヂ→ジ ヅ→ズ ヲ→オ ヴ→ブ."""
    t = norm_kana(s)
    return t.translate(_SMALL).translate(_FOLD).replace("ー", "")


def split_name(s) -> tuple[str, str]:
    """(surname, given name) when a half- or full-width space separates them, else (whole, "")."""
    if _blank(s):
        return "", ""
    t = unicodedata.normalize("NFKC", str(s)).strip()
    parts = re.split(r"\s+", t, maxsplit=1)
    if len(parts) == 2:
        return parts[0], parts[1]
    return t, ""


@lru_cache(maxsize=200_000)
def norm_address(s) -> str:
    """Address for matching: NFKC, kanji numerals to digits, 丁目/番地/番/号 and dash forms folded to '-'."""
    if _blank(s):
        return ""
    t = unicodedata.normalize("NFKC", str(s))
    t = _old_new(t).translate(_VARIANTS)
    t = re.sub(r"[〇一二三四五六七八九十]+(?=丁目|番|号|-|$)", lambda m: _kanji_number(m.group()), t)
    t = re.sub(r"丁目|番地の?|番|の(?=\d)", "-", t)
    t = t.replace("号", "")
    t = _DASHES.sub("-", t)
    t = _SPACES_DOTS.sub("", t)
    return t.strip("-")


def _kanji_number(k: str) -> str:
    if "十" not in k:
        return k.translate(_KANJI_NUM)
    left, _, right = k.partition("十")
    tens = int(left.translate(_KANJI_NUM)) if left else 1
    ones = int(right.translate(_KANJI_NUM)) if right else 0
    return str(tens * 10 + ones)


def _series(fn, values):
    """Apply ``fn`` once per distinct value (names repeat: 佐藤 is everywhere)."""
    import pandas as pd
    s = pd.Series(values, dtype="object")
    uniq = s.dropna().unique()
    table = {u: fn(u) for u in uniq}
    return s.map(table).fillna("")


def norm_name_series(values):
    return _series(norm_name, values)


def norm_kana_series(values):
    return _series(norm_kana, values)


def fold_kana_series(values):
    return _series(fold_kana, values)


def norm_address_series(values):
    return _series(norm_address, values)
