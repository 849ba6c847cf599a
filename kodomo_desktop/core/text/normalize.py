"""Japanese normalisation for matching and search. The raw text is always kept; these forms sit beside it.

NFKC alone does not fold 髙/高, 﨑/崎, 齋/斎 or 邊/辺 (notes/anchors.md §2.6). The pipeline for names:

1. NFKC (half-width kana, full-width digits/latin, CJK compatibility ideographs such as 塚 U+FA10);
2. yosina ``kanji_old_new`` (舊字體→旧字体: 櫻→桜, 濱→浜, 邊→辺, 齋→斎 …) with ideographic/standardised
   variation selectors removed (葛󠄀 → 葛). yosina walks a chain of transliterators per character, which is slow
   (~10 µs a name), so the same mapping is applied as a ``str.translate`` table built from yosina itself (and
   stored, ``_kanji_old_new.py``); strings that carry a variation selector still go through yosina (exact
   behaviour, rare);
3. a small table of 異体字 that names are written with and that the 旧字体 table does not cover
   (髙, 﨑, 邉, 嶋, 冨, 桒 …), and the サイトウ family folded to one key (齋/齊/斉 → 斎);
4. hiragana → katakana (a name written in kana compares with its katakana form), latin upper-cased,
   spaces (half and full width) and middle dots removed.

Kana: half-width → full-width (jaconv), NFKC, hiragana → katakana, dash-like characters between kana → ー,
spaces and dots removed. ``fold_kana`` is a *lower* comparison level (small kana made large, ー dropped,
ヂ→ジ ヅ→ズ ヲ→オ ヴ→ブ), used as weaker evidence, never stored over the normal form.

Every function takes anything (None, NaN, pd.NA, numbers) and returns a ``str``; blank → "". The ``*_series``
helpers normalise each distinct value once (names repeat: 佐藤 is everywhere).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jaconv

from ._kanji_old_new import OLD_NEW

__all__ = [
    "norm_name",
    "fold_name",
    "norm_kana",
    "fold_kana",
    "split_name",
    "norm_address",
    "norm_name_series",
    "fold_name_series",
    "norm_kana_series",
    "fold_kana_series",
    "norm_address_series",
    "split_name_series",
]


@lru_cache(maxsize=1)
def _yosina():
    """yosina itself, for the rare text with a variation selector (built on first use: ~60 ms with its import)."""
    from yosina import TransliterationRecipe, make_transliterator  # lazy: yosina, only for variation selectors

    return make_transliterator(TransliterationRecipe(kanji_old_new=True, remove_ivs_svs="drop-all-selectors"))


def _old_new_table() -> dict[int, str]:
    """yosina's 旧字体→新字体 mapping as a translate table (built by running yosina on each mapped character).

    Stored in ``_kanji_old_new.py`` (building it costs each process ~70 ms); the tests check the two agree."""
    from yosina.transliterators.kanji_old_new import KANJI_OLD_NEW_MAPPINGS  # lazy: loads yosina, only needed here

    table: dict[int, str] = {}
    for key in KANJI_OLD_NEW_MAPPINGS:
        c = key[0]
        out = _yosina()(c)
        if out != c:
            table[ord(c)] = out
    return table


_OLD_NEW = {ord(k): v for k, v in OLD_NEW.items()}
_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")

# 異体字 common in names that the 旧字体 table does not cover (registry vs school spelling). Applied after yosina.
_VARIANTS = str.maketrans(
    {
        "髙": "高",
        "﨑": "崎",
        "嵜": "崎",
        "碕": "崎",
        "𥔎": "崎",
        "邉": "辺",
        "邊": "辺",
        "濵": "浜",
        "濱": "浜",
        "槗": "橋",
        "𠮷": "吉",
        "舘": "館",
        "嶋": "島",
        "嶌": "島",
        "峯": "峰",
        "冨": "富",
        "桒": "桑",
        "栁": "柳",
        "籐": "藤",
        "德": "徳",
        "惠": "恵",
        "眞": "真",
        "廣": "広",
        "澤": "沢",
        "龍": "竜",
        "國": "国",
        "條": "条",
        "藏": "蔵",
        "榮": "栄",
        "與": "与",
        "曻": "昇",
        "曾": "曽",
        "莊": "荘",
        "淵": "渕",
        "渊": "渕",
        "齋": "斎",
        "齊": "斎",
        "斉": "斎",  # サイトウ: 齋藤/齊藤/斉藤/斎藤 are written for one another
        "ヶ": "ケ",
        "ヵ": "カ",
        "ゞ": "ヾ",
    }
)
_SPACES_DOTS = re.compile(r"[\s\u3000\u200b・･·•.．,，、]+")
_SMALL = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_FOLD = str.maketrans({"ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヴ": "ブ", "ヱ": "エ", "ヰ": "イ", "ー": None})
_KANA_DASH = re.compile(r"(?<=[\u30a1-\u30fc])[‐‑‒–—―−－~〜～ｰ-](?=[\u30a1-\u30fc]|$)")
_KANJI_NUM = str.maketrans("〇一二三四五六七八九", "0123456789")
_DASH_CHARS = "‐‑‒–—―−ーｰ－─━-"
_KANA_DASH_IN = re.compile(f"(?<=[\u30a1-\u30fa])[{_DASH_CHARS}]+(?=[\u30a1-\u30fa])")
_DASHES = re.compile(f"(?<![\u30a1-\u30fc])[{_DASH_CHARS}]+|[{_DASH_CHARS}]+(?![\u30a1-\u30fc])")


def _blank(s) -> bool:
    if s is None:
        return True
    if isinstance(s, str):
        return s == ""
    try:
        return bool(s != s)  # NaN, NaT
    except (TypeError, ValueError):  # pd.NA: comparison is ambiguous → treat as blank
        return True


def _text(s) -> str:
    if _blank(s):
        return ""
    if isinstance(s, float) and s.is_integer():  # a number read from Excel
        return str(int(s))
    return str(s)


# 旧字体→新字体 followed by the 異体字 table, as one translate table
_KANJI_TABLE = {
    **{k: (v.translate(_VARIANTS) if isinstance(v, str) else v) for k, v in _OLD_NEW.items()},
    **{k: v for k, v in _VARIANTS.items() if k not in _OLD_NEW},
}


def _kanji(t: str) -> str:
    """旧字体→新字体 and variation selectors (yosina), then the 異体字 table."""
    if _SELECTORS.search(t):
        t = _SELECTORS.sub("", _yosina()(t))
    return t.translate(_KANJI_TABLE)


def _cached(fn):
    """lru_cache that passes unhashable input straight through (never raises on odd input)."""
    c = lru_cache(maxsize=300_000)(fn)

    def wrapper(s) -> str:
        try:
            return c(s)
        except TypeError:
            return fn(s)

    wrapper.__name__, wrapper.__doc__, wrapper.cache_clear = fn.__name__, fn.__doc__, c.cache_clear
    wrapper.raw = fn
    return wrapper


# Output made only of these characters is a fixed point of every step below (the tables are closed: no target is
# itself a key), so the confirming pass is skipped for ordinary names.
_STABLE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u30a1-\u30f6\u30fc-\u30fe\u3005\u3006〇0-9A-Z△▲□■-]*")


def _fixed_point(step, t: str, stable=None) -> str:
    """Apply ``step`` until nothing changes (NFKC, upper-casing and the tables can feed one another on odd input;
    real names settle after one pass). Guarantees norm(norm(x)) == norm(x). ``stable(u)`` → True says a second
    pass could not change ``u`` (skips it)."""
    stable = stable or _STABLE.fullmatch
    for _ in range(6):
        u = step(t)
        if u == t or stable(u):
            return u
        t = u
    return t


# an address the address step would still change: a kanji numeral before a marker, a marker after a digit, 大字,
# a dash at either end or doubled
_ADDR_UNSTABLE = re.compile(r"[〇一二三四五六七八九十百](?:丁目|番|号|-|‐|−|の\d|$)|\d(?:丁目|番|号|の)|大字|^-|-$|--")


def _address_stable(u: str) -> bool:
    return bool(_STABLE.fullmatch(u)) and not _ADDR_UNSTABLE.search(u)


# Text made only of these is left alone by NFKC, kana conversion and upper-casing: most names, in most files.
_PLAIN_KANJI = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\u3005 \u3000]*")
_PLAIN_KATAKANA = re.compile(r"[\u30a1-\u30f6\u30fc \u3000]*")
_PLAIN_SPACES = re.compile(r"[ \u3000]+")


def _name_step(t: str) -> str:
    if _PLAIN_KANJI.fullmatch(t):  # fast path, same result: only the kanji tables and the spaces apply
        return _PLAIN_SPACES.sub("", t.translate(_KANJI_TABLE))
    t = unicodedata.normalize("NFKC", t)
    t = jaconv.hira2kata(t).upper()
    t = _kanji(t)
    return _SPACES_DOTS.sub("", t)


def _kana_step(t: str) -> str:
    if _PLAIN_KATAKANA.fullmatch(t):  # fast path, same result: full-width katakana and spaces
        return _PLAIN_SPACES.sub("", t)
    t = jaconv.h2z(t, kana=True, ascii=False, digit=False)
    t = unicodedata.normalize("NFKC", t)
    t = jaconv.hira2kata(t).upper()
    t = _SPACES_DOTS.sub("", t)
    return _KANA_DASH.sub("ー", t)


@_cached
def norm_name(s) -> str:
    """Kanji (or any) name for matching: NFKC, 旧字体→新字体, 異体字, IVS removed, spaces and dots removed.

    >>> norm_name("髙橋　太郎"), norm_name("渡邊 花子"), norm_name("山﨑")
    ('高橋太郎', '渡辺花子', '山崎')
    """
    t = _text(s)
    return _fixed_point(_name_step, t) if t else ""


_NAME_FOLD_DROP = re.compile(r"(?<=[\u3400-\u9fff])[ノ之ヶケガ](?=[\u3400-\u9fff])")


def _fold_name_step(t: str) -> str:
    t = _name_step(t)
    if "々" in t or "〻" in t:  # 佐々木 → 佐佐木 (each mark repeats the character written before it)
        out: list[str] = []
        for ch in t:
            out.append(out[-1] if ch in "々〻" and out else ch)
        t = "".join(out)
    return _NAME_FOLD_DROP.sub("", t)  # 一ノ瀬 / 一之瀬 / 一の瀬 → 一瀬, 八ヶ代 / 八ケ代 → 八代


@_cached
def fold_name(s) -> str:
    """A lower comparison level for kanji names: ``norm_name`` plus 々 written out and the linking ノ/之/ヶ/ケ
    between kanji dropped (一ノ瀬 = 一之瀬 = 一の瀬)."""
    t = _text(s)
    return _fixed_point(_fold_name_step, t) if t else ""


@_cached
def norm_kana(s) -> str:
    """Kana for matching: full-width katakana, no spaces or dots (ﾔﾏﾀﾞ ﾀﾛｳ → ヤマダタロウ, やまだ → ヤマダ)."""
    t = _text(s)
    return _fixed_point(_kana_step, t) if t else ""


def _vowel_table() -> dict[str, str]:
    rows = {
        "a": "アカサタナハマヤラワガザダバパ",
        "i": "イキシチニヒミリギジヂビピ",
        "u": "ウクスツヌフムユルグズヅブプヴ",
        "e": "エケセテネヘメレゲゼデベペ",
        "o": "オコソトノホモヨロヲゴゾドボポ",
    }
    return {k: v for v, ks in rows.items() for k in ks}


_VOWEL = _vowel_table()
_LENGTHENS = {"a": "ア", "i": "イ", "u": "ウ", "e": "イエ", "o": "ウオ"}


def _drop_long_vowels(t: str) -> str:
    """ー dropped, and a vowel kana that only lengthens the one before it (ユウ, オオ, ケイ, コウ) dropped too, so
    ユーナ = ユウナ = ユナ and オーノ = オオノ = オウノ at the folded level."""
    out: list[str] = []
    for ch in t:
        if ch == "ー":
            continue
        if out and ch in "アイウエオ":
            v = _VOWEL.get(out[-1])
            if v is not None and ch in _LENGTHENS[v]:
                continue
        out.append(ch)
    return "".join(out)


def _fold_step(t: str) -> str:
    # the kana step to its fixed point first: ゐ゙ becomes ヸ and only then composes to ヸ; folding ヰ→イ before
    # that would strand the combining mark (イ゙) and fold(norm(x)) ≠ fold(x)
    return _drop_long_vowels(_fixed_point(_kana_step, t).translate(_SMALL).translate(_FOLD))


@_cached
def fold_kana(s) -> str:
    """A lower comparison level: small kana made large (ジョウ = ジヨウ), ヂ→ジ ヅ→ズ ヲ→オ ヴ→ブ, long vowels dropped
    (ー and a lengthening vowel: ユーキ = ユウキ = ユキ, オーノ = オオノ)."""
    t = _text(s)
    return _fixed_point(_fold_step, t) if t else ""


@_cached
def split_name(s) -> tuple[str, str]:
    """(surname, given name) when a half- or full-width space separates them, else (whole, "").

    Only the first run of spaces splits; leading/trailing spaces are ignored. Nothing is normalised beyond NFKC
    (the caller normalises each part).
    """
    t = _text(s)
    if not t:
        return "", ""
    t = unicodedata.normalize("NFKC", t).strip()
    parts = re.split(r"\s+", t, maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    return t, ""


@_cached
def norm_address(s) -> str:
    """Address for matching: NFKC, 旧字体, kanji numerals → digits, 丁目/番地/番/号/の and dashes → '-'.

    ``〇〇町大字△△三丁目十二番地の五`` → ``〇〇町△△3-12-5``; ``1丁目2番3号`` == ``1-2-3`` == ``１－２－３``.
    """
    t = _text(s)
    return _fixed_point(_address_step, t, _address_stable) if t else ""


_ADDR_KANJI_NUM = re.compile(r"[〇一二三四五六七八九十百]+(?=丁目|番|号|-|‐|−|の\d|$)")
_ADDR_SEP = re.compile(r"(?<=\d)(?:丁目|番地の?|番の?|号の?|の)(?=\d)")
_ADDR_TAIL = re.compile(r"(?<=\d)(?:丁目|番地|番|号)+")
_ADDR_MARK = re.compile(r"丁目|番|号|の")
_HAS_DASH = re.compile(f"[{_DASH_CHARS}]")


def _address_step(t: str) -> str:
    t = unicodedata.normalize("NFKC", t)
    t = _kanji(t)
    t = _SPACES_DOTS.sub("", t)
    if "大字" in t:
        t = t.replace("大字", "")
    if _ADDR_MARK.search(t) or "-" in t:
        t = _ADDR_KANJI_NUM.sub(lambda m: _kanji_number(m.group()), t)
    elif t[-1:] in "〇一二三四五六七八九十百":
        t = _ADDR_KANJI_NUM.sub(lambda m: _kanji_number(m.group()), t)
    if _ADDR_MARK.search(t):
        t = _ADDR_SEP.sub("-", t)
        t = _ADDR_TAIL.sub("", t)
    if _HAS_DASH.search(t):
        t = _KANA_DASH_IN.sub("ー", t)  # コ-ポ → コーポ: a dash between katakana is a long vowel
        t = _DASHES.sub("-", t)
    return t.strip("-")


def _kanji_number(k: str) -> str:
    """二十三 → 23, 百五 → 105, 一〇五 → 105 (positional digits), 十 → 10."""
    if "十" not in k and "百" not in k:
        return k.translate(_KANJI_NUM)
    total, cur = 0, 0
    for ch in k:
        if ch == "百":
            total += (cur or 1) * 100
            cur = 0
        elif ch == "十":
            total += (cur or 1) * 10
            cur = 0
        else:
            cur = cur * 10 + int(ch.translate(_KANJI_NUM))
    return str(total + cur)


# --- vectorised helpers --------------------------------------------------------------------------------------------
def _series(fn, values):
    """Apply ``fn`` once per distinct value and map back; returns an object Series of str (blank → "")."""
    import pandas as pd  # lazy: loads pandas, only needed here

    s = (
        values
        if isinstance(values, pd.Series)
        else pd.Series(list(values) if not hasattr(values, "__len__") else values)
    )
    if s.dtype != object:
        s = s.astype("object")
    # each distinct value once, through the scalar cache: in one process the import has normalised most of these
    # names already (``import --link``), and a registry's names are its records' names (prepare runs twice)
    items = s.to_numpy().tolist()
    table = {}
    for u in pd.unique(s.to_numpy()):
        if _blank(u):
            continue
        try:
            table[u] = fn(u)
        except TypeError:  # unhashable: handled by the slow path below
            pass
    # a dict lookup per row: Series.map(dict) and the where/astype after it were four times the lookups' cost on a
    # town's columns (a few thousand rows), most of the normalisation's time once the scalar caches are warm
    get = table.get
    try:
        out = [get(v, "") for v in items]
    except TypeError:
        out = [get(v, "") if _hashable(v) else fn(v) for v in items]
    return pd.Series(out, index=s.index, name=s.name, dtype="object")


def norm_name_series(values):
    return _series(norm_name, values)


def fold_name_series(values):
    return _series(fold_name, values)


def norm_kana_series(values):
    return _series(norm_kana, values)


def fold_kana_series(values):
    return _series(fold_kana, values)


def norm_address_series(values):
    return _series(norm_address, values)


def split_name_series(values):
    """Two object Series (surname, given) of the *un-normalised* parts."""
    import pandas as pd  # lazy: loads pandas, only needed here

    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if s.dtype != object:
        s = s.astype("object")
    uniq = pd.unique(s.to_numpy())
    table = {}
    for u in uniq:
        if _blank(u):
            continue
        try:
            table[u] = split_name(u)
        except TypeError:
            pass
    get = table.get
    empty = ("", "")
    items = s.to_numpy().tolist()
    try:
        pairs = [get(v, empty) for v in items]
    except TypeError:
        pairs = [get(v, empty) if _hashable(v) else split_name(v) for v in items]
    return (
        pd.Series([p[0] for p in pairs], index=s.index, name=s.name, dtype="object"),
        pd.Series([p[1] for p in pairs], index=s.index, name=s.name, dtype="object"),
    )


def _hashable(v) -> bool:
    try:
        hash(v)
        return True
    except TypeError:
        return False
