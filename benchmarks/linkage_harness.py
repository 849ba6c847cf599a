"""Evaluation harness for 名寄せ: synthetic towns with ground truth, quality metrics, and the exact
氏名+生年月日 baseline that towns use today.

Towns come from ``kodomo_desktop.core.demo`` when it offers in-memory truth (``town_frames``); otherwise from the
small generator below (``synthetic_town``), which exists so the engine can be measured on its own. All names are
synthetic: common surnames and given names in random combinations.

Metrics (``evaluate``), over the records of a town (registry rows themselves are not counted):

* ``precision``: correct links / links made (links = auto + confirmed; review is not a link);
* ``recall``: correct links / records whose person is in the registry;
* ``no_number_right``: share of records **without a resident number** whose person is in the registry that are
  linked to the right person;
* ``wrong_links``: links to the wrong person, including links made for people who are not in the registry;
* ``review_rate``: review / all records;
* ``no_number_found``: like ``no_number_right``, but a row in review whose best candidate is the right person
  counts too (what the coordinator ends up with after the review queue);
* ``no_number_right_without_namesakes``: ``no_number_right`` over the rows whose person has no namesake in the
  registry (same normalised name and birth date). A namesake's row with nothing else to tell them apart must go
  to review (issue 4), so those rows can never count as linked; ``namesake_rows`` counts them.

Known limit (by construction of the generator): a planted namesake is never a person who left the registry —
a row about someone who left, whose namesake with the same birth date stayed, cannot be told from the one who stayed
by any method that sees only name, sex and birth date.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- synthetic names (generic, no real person) -----------------------------------------------------------------------
# (kanji, kana, weight, variants written by other departments)
SURNAMES = [
    ("佐藤", "サトウ", 40, ()),
    ("鈴木", "スズキ", 36, ()),
    ("高橋", "タカハシ", 30, ("髙橋",)),
    ("田中", "タナカ", 28, ()),
    ("伊藤", "イトウ", 24, ()),
    ("渡辺", "ワタナベ", 22, ("渡邊", "渡邉")),
    ("山本", "ヤマモト", 22, ()),
    ("中村", "ナカムラ", 21, ()),
    ("小林", "コバヤシ", 20, ()),
    ("加藤", "カトウ", 18, ()),
    ("吉田", "ヨシダ", 17, ("𠮷田",)),
    ("山田", "ヤマダ", 16, ()),
    ("佐々木", "ササキ", 15, ()),
    ("山口", "ヤマグチ", 14, ()),
    ("斎藤", "サイトウ", 14, ("齋藤", "齊藤")),
    ("松本", "マツモト", 13, ()),
    ("井上", "イノウエ", 12, ()),
    ("木村", "キムラ", 12, ()),
    ("林", "ハヤシ", 11, ()),
    ("清水", "シミズ", 10, ()),
    ("山崎", "ヤマザキ", 10, ("山﨑", "山嵜")),
    ("森", "モリ", 9, ()),
    ("阿部", "アベ", 9, ()),
    ("池田", "イケダ", 9, ()),
    ("橋本", "ハシモト", 8, ()),
    ("石川", "イシカワ", 8, ()),
    ("前田", "マエダ", 7, ()),
    ("藤田", "フジタ", 7, ()),
    ("小川", "オガワ", 7, ()),
    ("岡田", "オカダ", 7, ()),
    ("後藤", "ゴトウ", 6, ()),
    ("長谷川", "ハセガワ", 6, ()),
    ("村上", "ムラカミ", 6, ()),
    ("近藤", "コンドウ", 6, ()),
    ("石井", "イシイ", 5, ()),
    ("坂本", "サカモト", 5, ()),
    ("遠藤", "エンドウ", 5, ()),
    ("青木", "アオキ", 5, ()),
    ("藤井", "フジイ", 5, ()),
    ("西村", "ニシムラ", 5, ()),
    ("福田", "フクダ", 5, ()),
    ("太田", "オオタ", 5, ()),
    ("三浦", "ミウラ", 4, ()),
    ("藤原", "フジワラ", 4, ()),
    ("岡本", "オカモト", 4, ()),
    ("松田", "マツダ", 4, ()),
    ("中川", "ナカガワ", 4, ()),
    ("中野", "ナカノ", 4, ()),
    ("原田", "ハラダ", 4, ()),
    ("小野", "オノ", 4, ()),
    ("田村", "タムラ", 4, ()),
    ("竹内", "タケウチ", 4, ()),
    ("金子", "カネコ", 4, ()),
    ("和田", "ワダ", 4, ()),
    ("中山", "ナカヤマ", 3, ()),
    ("石田", "イシダ", 3, ()),
    ("上田", "ウエダ", 3, ()),
    ("森田", "モリタ", 3, ()),
    ("原", "ハラ", 3, ()),
    ("柴田", "シバタ", 3, ()),
    ("酒井", "サカイ", 3, ()),
    ("工藤", "クドウ", 3, ()),
    ("横山", "ヨコヤマ", 3, ()),
    ("宮崎", "ミヤザキ", 3, ("宮﨑",)),
    ("宮本", "ミヤモト", 3, ()),
    ("内田", "ウチダ", 3, ()),
    ("高木", "タカギ", 3, ("髙木",)),
    ("安藤", "アンドウ", 3, ()),
    ("島田", "シマダ", 3, ("嶋田",)),
    ("谷口", "タニグチ", 2, ()),
    ("大野", "オオノ", 2, ()),
    ("丸山", "マルヤマ", 2, ()),
    ("今井", "イマイ", 2, ()),
    ("河野", "コウノ", 2, ()),
    ("藤本", "フジモト", 2, ()),
    ("村田", "ムラタ", 2, ()),
    ("武田", "タケダ", 2, ()),
    ("上野", "ウエノ", 2, ()),
    ("杉山", "スギヤマ", 2, ()),
    ("増田", "マスダ", 2, ()),
    ("平野", "ヒラノ", 2, ()),
    ("大塚", "オオツカ", 2, ()),
    ("千葉", "チバ", 2, ()),
    ("久保", "クボ", 2, ()),
    ("松井", "マツイ", 2, ()),
    ("小島", "コジマ", 2, ("小嶋",)),
    ("岩崎", "イワサキ", 2, ("岩﨑",)),
    ("桜井", "サクライ", 2, ("櫻井",)),
    ("野口", "ノグチ", 2, ()),
    ("松尾", "マツオ", 2, ()),
    ("菊地", "キクチ", 2, ()),
    ("野村", "ノムラ", 2, ()),
    ("新井", "アライ", 2, ()),
    ("渡部", "ワタナベ", 2, ()),
    ("浜田", "ハマダ", 2, ("濱田", "濵田")),
    ("辺見", "ヘンミ", 1, ("邊見", "邉見")),
    ("広瀬", "ヒロセ", 1, ("廣瀬",)),
    ("沢田", "サワダ", 1, ("澤田",)),
    ("一ノ瀬", "イチノセ", 1, ("一之瀬",)),
    ("富田", "トミタ", 1, ("冨田",)),
    ("東海林", "ショウジ", 1, ()),
    ("小鳥遊", "タカナシ", 1, ()),
    ("勅使河原", "テシガワラ", 1, ()),
    ("五十嵐", "イガラシ", 1, ()),
]
# Given names are composed from common first and second characters with their usual readings (陽+翔 → 陽翔 ハルト),
# which gives a realistic spread (hundreds of names, a few popular ones) and real same-reading variants
# (陽翔 / 陽斗 — the slip a department makes when it types the reading). (kanji, kana, sex, slip)
_BOY_HEAD = [
    ("陽", "ハル"),
    ("悠", "ユウ"),
    ("優", "ユウ"),
    ("大", "ダイ"),
    ("蒼", "ソウ"),
    ("颯", "ソウ"),
    ("奏", "ソウ"),
    ("湊", "ミナ"),
    ("結", "ユイ"),
    ("健", "ケン"),
    ("翔", "ショウ"),
    ("拓", "タク"),
    ("春", "ハル"),
    ("晴", "ハル"),
    ("瑛", "エイ"),
    ("隼", "ハヤ"),
    ("海", "カイ"),
    ("快", "カイ"),
    ("龍", "リュウ"),
    ("竜", "リュウ"),
    ("慎", "シン"),
    ("真", "シン"),
    ("康", "コウ"),
    ("航", "コウ"),
    ("和", "カズ"),
    ("一", "カズ"),
    ("雄", "ユウ"),
    ("勇", "ユウ"),
    ("智", "トモ"),
    ("友", "トモ"),
]
_BOY_TAIL = [
    ("翔", "ト"),
    ("斗", "ト"),
    ("人", "ト"),
    ("太", "タ"),
    ("汰", "タ"),
    ("真", "マ"),
    ("馬", "マ"),
    ("輝", "キ"),
    ("希", "キ"),
    ("樹", "キ"),
    ("介", "スケ"),
    ("助", "スケ"),
    ("平", "ヘイ"),
    ("也", "ヤ"),
    ("哉", "ヤ"),
    ("生", "セイ"),
    ("志", "シ"),
    ("吾", "ゴ"),
    ("悟", "ゴ"),
    ("朗", "ロウ"),
]
_GIRL_HEAD = [
    ("陽", "ヒ"),
    ("結", "ユイ"),
    ("美", "ミ"),
    ("心", "ココ"),
    ("咲", "サ"),
    ("莉", "リ"),
    ("愛", "アイ"),
    ("彩", "アヤ"),
    ("優", "ユウ"),
    ("悠", "ユウ"),
    ("七", "ナナ"),
    ("菜", "ナ"),
    ("花", "ハナ"),
    ("華", "ハナ"),
    ("紗", "サ"),
    ("沙", "サ"),
    ("千", "チ"),
    ("真", "マ"),
    ("麻", "マ"),
    ("由", "ユ"),
    ("友", "ユ"),
    ("芽", "メ"),
    ("恵", "メグ"),
    ("詩", "ウタ"),
    ("凛", "リン"),
    ("杏", "アン"),
]
_GIRL_TAIL = [
    ("菜", "ナ"),
    ("奈", "ナ"),
    ("那", "ナ"),
    ("子", "コ"),
    ("香", "カ"),
    ("花", "カ"),
    ("佳", "カ"),
    ("衣", "イ"),
    ("依", "イ"),
    ("月", "ツキ"),
    ("桜", "オ"),
    ("央", "オ"),
    ("美", "ミ"),
    ("実", "ミ"),
    ("音", "ネ"),
    ("乃", "ノ"),
    ("葉", "ハ"),
    ("帆", "ホ"),
    ("里", "リ"),
    ("梨", "リ"),
    ("莉", "リ"),
    ("羽", "ハ"),
    ("希", "キ"),
    ("紀", "キ"),
]
_MAN_HEAD = [
    ("健", "ケン"),
    ("正", "マサ"),
    ("浩", "ヒロ"),
    ("博", "ヒロ"),
    ("和", "カズ"),
    ("隆", "タカ"),
    ("孝", "タカ"),
    ("秀", "ヒデ"),
    ("英", "ヒデ"),
    ("修", "シュウ"),
    ("達", "タツ"),
    ("幸", "ユキ"),
    ("義", "ヨシ"),
    ("良", "ヨシ"),
    ("俊", "トシ"),
    ("敏", "トシ"),
    ("直", "ナオ"),
    ("尚", "ナオ"),
    ("雅", "マサ"),
    ("昌", "マサ"),
]
_MAN_TAIL = [
    ("一", "イチ"),
    ("二", "ジ"),
    ("郎", "ロウ"),
    ("朗", "ロウ"),
    ("夫", "オ"),
    ("男", "オ"),
    ("之", "ユキ"),
    ("樹", "キ"),
    ("也", "ヤ"),
    ("司", "ジ"),
    ("彦", "ヒコ"),
    ("人", "ト"),
]
_WOMAN_HEAD = [
    ("恵", "ケイ"),
    ("啓", "ケイ"),
    ("幸", "サチ"),
    ("祥", "サチ"),
    ("洋", "ヨウ"),
    ("陽", "ヨウ"),
    ("明", "アケ"),
    ("久", "ク"),
    ("裕", "ユウ"),
    ("優", "ユウ"),
    ("京", "キョウ"),
    ("恭", "キョウ"),
    ("智", "トモ"),
    ("知", "トモ"),
    ("順", "ジュン"),
    ("純", "ジュン"),
    ("典", "ノリ"),
    ("由", "ユ"),
    ("真", "マ"),
    ("直", "ナオ"),
]
_WOMAN_TAIL = [
    ("子", "コ"),
    ("美", "ミ"),
    ("江", "エ"),
    ("恵", "エ"),
    ("代", "ヨ"),
    ("香", "カ"),
    ("佳", "カ"),
    ("枝", "エ"),
]


def _compose(heads, tails, sex):
    names = [(h[0] + t[0], h[1] + t[1], sex) for h in heads for t in tails if h[0] != t[0]]
    by_reading: dict[str, list[str]] = {}
    for k, kn, _ in names:
        by_reading.setdefault(kn, []).append(k)
    out = []
    for k, kn, sx in names:
        same = [x for x in by_reading[kn] if x != k]
        out.append((k, kn, sx, same[0] if same else k[0] + ("美" if k[1] != "美" else "未")))
    return out


GIVEN_CHILD = _compose(_BOY_HEAD, _BOY_TAIL, 1) + _compose(_GIRL_HEAD, _GIRL_TAIL, 2)
GIVEN_ADULT = _compose(_MAN_HEAD, _MAN_TAIL, 1) + _compose(_WOMAN_HEAD, _WOMAN_TAIL, 2)
# popularity: a few names are common, most are rare (Zipf-like over a fixed shuffled order)
_GIVEN_W = {}
for _pool in (GIVEN_CHILD, GIVEN_ADULT):
    _order = np.random.default_rng(7).permutation(len(_pool))
    for _rank, _i in enumerate(_order):
        _GIVEN_W[_pool[_i][0] + str(_pool[_i][2])] = 1.0 / (_rank + 10) ** 0.9
TOWN = "みどり町"
AREAS = ["本町", "新町", "東町", "西町", "南町", "北町", "桜台", "緑ヶ丘", "旭", "大字上原", "大字下原", "大字中原"]

SOURCES = {  # source_type: (who, share of that group listed, resident_no share, has kana, has household_no)
    "maternal_child_health": ("child0_6", 0.9, 0.8, 0.9, 0.3),
    "public_assistance": ("child", 0.03, 0.9, 0.9, 0.9),
    "child_rearing_allowance": ("child", 0.08, 0.0, 0.9, 0.0),
    "school_assistance": ("child6_15", 0.15, 0.0, 0.8, 0.0),
    "tax": ("adult", 0.6, 1.0, 0.8, 1.0),
    "disability": ("any", 0.03, 0.7, 0.9, 0.0),
    "school_attendance": ("child6_15", 1.0, 0.0, 0.8, 0.0),
    "school_health": ("child6_15", 1.0, 0.0, 0.7, 0.0),
    "yotaikyo": ("child", 0.02, 0.3, 0.9, 0.0),
    "consultation": ("child", 0.05, 0.2, 0.6, 0.0),
}


@dataclass(frozen=True)
class NoiseProfile:
    """Per-record probabilities of each kind of error in a department's row (the registry itself is clean)."""

    name: str = "medium"
    variant_kanji: float = 0.08  # 髙/高, 﨑/崎 … (foldable)
    kanji_slip: float = 0.02  # same reading, other kanji (陽翔 → 陽斗)
    kana_typo: float = 0.04  # one kana replaced / small ↔ large / long vowel
    kana_missing: float = 0.1
    swap_day_month: float = 0.01
    day_off: float = 0.01
    year_off: float = 0.005
    remarriage: float = 0.01  # the surname in the department differs from the registry's
    no_space: float = 0.3  # surname and given name run together
    hiragana_kana: float = 0.1
    halfwidth_kana: float = 0.15
    address_format: float = 0.3  # 1丁目2番3号 vs 1-2-3, town name left out
    address_stale: float = 0.03  # moved within the town since
    sex_missing: float = 0.05
    sex_wrong: float = 0.003
    resident_no_drop: float = 0.2  # the department left its number out
    moved_away: float = 0.015  # the person is not in the registry (moved out / never resident)

    @classmethod
    def clean(cls):
        return cls("clean", 0, 0, 0, 0.05, 0, 0, 0, 0, 0.2, 0.1, 0.1, 0.2, 0, 0, 0, 0.1, 0.01)

    @classmethod
    def low(cls):
        return cls(
            "low",
            0.04,
            0.01,
            0.02,
            0.08,
            0.005,
            0.005,
            0.002,
            0.005,
            0.3,
            0.1,
            0.15,
            0.3,
            0.02,
            0.03,
            0.001,
            0.15,
            0.015,
        )

    @classmethod
    def medium(cls):
        return cls()

    @classmethod
    def high(cls):
        return cls(
            "high", 0.15, 0.04, 0.08, 0.15, 0.02, 0.02, 0.01, 0.02, 0.4, 0.15, 0.2, 0.4, 0.06, 0.08, 0.005, 0.3, 0.02
        )


@dataclass
class Town:
    registry: pd.DataFrame  # one row per registry person (person_id, resident_no, household_no, name, …)
    records: pd.DataFrame  # department rows (record_id, source_type, identity fields)
    truth: pd.Series  # record_id → person_id of the person the row describes (None: not in the registry)
    as_of: dt.date


# --- generator -------------------------------------------------------------------------------------------------------
_SMALL_BIG = {"ョ": "ヨ", "ュ": "ユ", "ャ": "ヤ", "ッ": "ツ", "ィ": "イ", "ェ": "エ"}
_KANA_POOL = "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワ"


def _choice(rng, items, weights=None):
    if weights is None:
        return items[int(rng.integers(len(items)))]
    p = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def _kana_typo(rng, k: str) -> str:
    if not k:
        return k
    r = rng.random()
    if r < 0.35:
        for a, b in _SMALL_BIG.items():
            if a in k:
                return k.replace(a, b, 1)
    if r < 0.6 and "ウ" in k[1:]:
        i = k.index("ウ", 1)
        return k[:i] + "ー" + k[i + 1 :]
    if r < 0.7 and "ー" in k:
        return k.replace("ー", "ウ", 1)
    i = int(rng.integers(len(k)))
    return k[:i] + _choice(rng, _KANA_POOL) + k[i + 1 :]


def _hira(k: str) -> str:
    import jaconv

    return jaconv.kata2hira(k)


def _half(k: str) -> str:
    import jaconv

    return jaconv.z2h(k, kana=True, ascii=False, digit=False)


def _address(area: str, a: int, b: int, c: int, fmt: int, town: bool) -> str:
    head = TOWN if town else ""
    if area.startswith("大字") and fmt == 1:
        return f"{head}{area}{a * 100 + b}番地{c}" if town else f"{area[2:]}{a * 100 + b}番地{c}"
    if area.startswith("大字"):
        return f"{head}{area}{a * 100 + b}-{c}"
    if fmt == 1:
        return f"{head}{area}{a}丁目{b}番{c}号"
    if fmt == 2:
        return f"{head}{area}{'一二三四五'[a - 1]}丁目{b}番地の{c}"
    return f"{head}{area}{a}-{b}-{c}"


def synthetic_town(
    residents: int = 3000,
    seed: int = 1,
    noise: NoiseProfile | None = None,
    as_of: dt.date = dt.date(2025, 4, 1),
    namesakes: int | None = None,
    twins: int | None = None,
) -> Town:
    """A town of about ``residents`` people (households with children), its registry, and department rows with
    the errors of ``noise``. Namesakes (same name and birth date, different households) and twins are planted."""
    noise = noise or NoiseProfile.medium()
    rng = np.random.default_rng(seed)
    s_w = [s[2] for s in SURNAMES]
    people = []
    hh_no = 0
    while len(people) < residents:
        hh_no += 1
        sur = _choice(rng, SURNAMES, s_w)
        area = _choice(rng, AREAS)
        addr = (area, int(rng.integers(1, 6)), int(rng.integers(1, 30)), int(rng.integers(1, 25)))
        kind = rng.random()
        n_adults = 1 if kind < 0.3 else 2
        n_kids = 0 if kind < 0.15 else int(rng.choice([0, 1, 2, 3, 4], p=[0.3, 0.25, 0.3, 0.12, 0.03]))
        base_year = int(rng.integers(1950, 2000)) if n_kids == 0 else int(rng.integers(1975, 1998))
        members = []
        for a in range(n_adults):
            sex = 1 if (a == 0 and rng.random() < 0.7) or (a == 1 and members and members[0]["sex"] == 2) else 2
            if a == 1:
                sex = 3 - members[0]["sex"]
            pool = [x for x in GIVEN_ADULT if x[2] == sex]
            g = _choice(rng, pool, [_GIVEN_W[x[0] + str(x[2])] for x in pool])
            bd = dt.date(base_year + int(rng.integers(-3, 4)), 1, 1) + dt.timedelta(days=int(rng.integers(365)))
            members.append(
                {
                    "sur": sur,
                    "giv": g,
                    "sex": sex,
                    "bd": bd,
                    "rel": "世帯主" if a == 0 else "妻" if sex == 2 else "夫",
                    "adult": True,
                }
            )
        twin_left = 0
        for k in range(n_kids):
            if twin_left:
                bd = members[-1]["bd"]
                twin_left = 0
            else:
                y = int(rng.integers(max(base_year + 20, as_of.year - 18), as_of.year + 1))
                bd = dt.date(y, 1, 1) + dt.timedelta(days=int(rng.integers(365)))
                if bd >= as_of:
                    bd = as_of - dt.timedelta(days=int(rng.integers(1, 365)))
                if k < n_kids - 1 and rng.random() < 0.03:
                    twin_left = 1
            sex = int(rng.integers(1, 3))
            used = {m["giv"][0] for m in members}
            pool = [x for x in GIVEN_CHILD if x[2] == sex and x[0] not in used]
            g = _choice(rng, pool, [_GIVEN_W[x[0] + str(x[2])] for x in pool])
            members.append({"sur": sur, "giv": g, "sex": sex, "bd": bd, "rel": "子", "adult": False})
        for m in members:
            m.update(hh=f"H{hh_no:07d}", addr=addr)
            people.append(m)
    people = people[:residents]
    # planted twins (same household, same birth date, different given names) and namesakes
    kids = [i for i, p in enumerate(people) if not p["adult"]]
    n_twins = twins if twins is not None else max(2, residents // 600)
    for t in range(n_twins):
        i = kids[int(rng.integers(len(kids)))]
        p = people[i]
        pool = [x for x in GIVEN_CHILD if x[2] == p["sex"] and x[0] != p["giv"][0] and x[1] != p["giv"][1]]
        if t % 2 == 0:  # every other pair of twins has names that look alike (悠真 / 悠人, ユウマ / ユウト)
            alike = [x for x in pool if x[0][0] == p["giv"][0][0] or x[1][:2] == p["giv"][1][:2]]
            pool = alike or pool
        people.append({**p, "giv": _choice(rng, pool), "rel": "子"})
    n_ns = namesakes if namesakes is not None else max(2, residents // 500)
    planted = set()
    for _ in range(n_ns):
        i = kids[int(rng.integers(len(kids)))]
        p = people[i]
        j = kids[int(rng.integers(len(kids)))]
        q = people[j]
        if q["hh"] == p["hh"]:
            continue
        people.append({**q, "sur": p["sur"], "giv": p["giv"], "sex": p["sex"], "bd": p["bd"], "rel": "子"})
        planted |= {i, len(people) - 1}
    # registry
    reg_rows = []
    for i, p in enumerate(people):
        area, a, b, c = p["addr"]
        reg_rows.append(
            {
                "person_id": f"P{i + 1:06d}",
                "resident_no": f"{100000 + i * 7 + 3}",
                "household_no": p["hh"],
                "name": f"{p['sur'][0]}　{p['giv'][0]}",
                "name_kana": f"{p['sur'][1]}　{p['giv'][1]}",
                "birth_date": p["bd"].isoformat(),
                "sex": p["sex"],
                "address": _address(area, a, b, c, 1, True),
                "relationship": p["rel"],
            }
        )
    registry_all = pd.DataFrame(reg_rows)
    # a few people appear in departments but are not (any more) in the registry
    # (never one of a planted pair of namesakes: a row of someone who left, whose namesake with the same birth date
    # stayed, cannot be told from the one who stayed by any method — see the module docstring)
    moved = rng.random(len(people)) < noise.moved_away
    moved[list(planted)] = False
    # department rows
    rec_rows, truth = [], []
    age = np.array([(as_of - p["bd"]).days / 365.25 for p in people])
    for src, (who, share, rno_share, kana_share, hh_share) in SOURCES.items():
        if who == "child0_6":
            pool = np.flatnonzero(age < 6)
        elif who == "child6_15":
            pool = np.flatnonzero((age >= 6) & (age < 15))
        elif who == "child":
            pool = np.flatnonzero(age < 18)
        elif who == "adult":
            pool = np.flatnonzero(age >= 18)
        else:
            pool = np.arange(len(people))
        chosen = pool[rng.random(len(pool)) < share]
        for i in chosen:
            rec_rows.append(
                _department_row(
                    rng, people[i], registry_all.iloc[i], src, noise, rno_share, kana_share, hh_share, len(rec_rows)
                )
            )
            truth.append(None if moved[i] else f"P{i + 1:06d}")
    records = pd.DataFrame(rec_rows)
    registry = registry_all[~moved].reset_index(drop=True)
    return Town(
        registry=registry,
        records=records,
        truth=pd.Series(truth, index=records["record_id"], dtype="object"),
        as_of=as_of,
    )


def _department_row(
    rng,
    p: dict,
    reg: pd.Series,
    src: str,
    noise: NoiseProfile,
    rno_share: float,
    kana_share: float,
    hh_share: float,
    n: int,
) -> dict:
    sur_k, sur_kn = p["sur"][0], p["sur"][1]
    giv_k, giv_kn = p["giv"][0], p["giv"][1]
    r = rng.random
    if r() < noise.remarriage:  # the department still writes (or already writes) another surname
        other = _choice(rng, SURNAMES)
        sur_k, sur_kn = other[0], other[1]
    if r() < noise.variant_kanji and p["sur"][3]:
        sur_k = _choice(rng, p["sur"][3])
    if r() < noise.kanji_slip:
        if r() < 0.5:
            giv_k = p["giv"][3]
        else:
            sur_k = sur_k[:-1] + _choice(rng, "田野山川島本")
    if r() < noise.kana_typo:
        if r() < 0.5:
            giv_kn = _kana_typo(rng, giv_kn)
        else:
            sur_kn = _kana_typo(rng, sur_kn)
    sep = "" if r() < noise.no_space else ("　" if r() < 0.5 else " ")
    name = f"{sur_k}{sep}{giv_k}"
    kana = f"{sur_kn}{sep}{giv_kn}"
    if r() < noise.hiragana_kana:
        kana = _hira(kana)
    elif r() < noise.halfwidth_kana:
        kana = _half(kana)
    if r() > kana_share or r() < noise.kana_missing:
        kana = None
    bd = p["bd"]
    x = r()
    if x < noise.swap_day_month and bd.day <= 12 and bd.day != bd.month:
        bd = dt.date(bd.year, bd.day, bd.month)
    elif x < noise.swap_day_month + noise.day_off:
        bd = bd + dt.timedelta(days=int(rng.choice([-1, 1])))
    elif x < noise.swap_day_month + noise.day_off + noise.year_off:
        try:
            bd = bd.replace(year=bd.year + int(rng.choice([-1, 1])))
        except ValueError:
            pass
    area, a, b, c = p["addr"]
    if r() < noise.address_stale:
        area, a, b, c = _choice(rng, AREAS), int(rng.integers(1, 6)), int(rng.integers(1, 30)), int(rng.integers(1, 25))
    fmt = int(rng.integers(1, 4)) if r() < noise.address_format else 1
    address = _address(area, a, b, c, fmt, town=r() > noise.address_format)
    sex = p["sex"]
    if r() < noise.sex_missing:
        sex = None
    elif r() < noise.sex_wrong:
        sex = 3 - sex
    rno = reg["resident_no"] if (r() < rno_share and r() > noise.resident_no_drop) else None
    row = {
        "record_id": n + 1,
        "source_type": src,
        "resident_no": rno,
        "household_no": p["hh"] if r() < hh_share else None,
        "name": name,
        "name_kana": kana,
        "birth_date": bd.isoformat(),
        "sex": sex,
        "address": address if r() > 0.1 else None,
        "student_no": None,
        "school": None,
    }
    if src.startswith("school"):
        row["school"] = "みどり小学校" if (dt.date(2025, 4, 1) - p["bd"]).days < 12 * 365.25 else "みどり中学校"
        row["student_no"] = f"{int(reg['resident_no']) % 100000:05d}"
        row["household_no"] = None
    return row


# --- demo towns ---------------------------------------------------------------------------------------------------------
def demo_town(residents: int, seed: int, noise: str) -> Town | None:
    """A town from ``kodomo_desktop.core.demo`` in the engine's form, or None when the demo or importer packages
    are not available. The demo writes its department files (CP932 CSV, Excel with title rows, 和暦 …) to a
    temporary directory; they are read back with the importer's pure functions (``read_table``,
    ``detect_mapping``, ``parse_rows`` — no database), and each parsed row's truth comes from the demo's own
    (row number → person) lists. Registry persons get ids ``K{person_key}``."""
    import tempfile
    import warnings

    try:
        from kodomo_desktop.core.demo import files as DF
        from kodomo_desktop.core.demo import town as T
        from kodomo_desktop.core.importing import fields as F
        from kodomo_desktop.core.importing.parse import parse_rows
        from kodomo_desktop.core.importing.readers import read_table
    except ImportError as e:  # optional: the engine's own generator is used instead
        warnings.warn(f"demo towns unavailable: {e}", stacklevel=2)
        return None
    profile = getattr(T.NoiseProfile, noise)()
    town = T.generate_town(residents=residents, seed=seed, noise=profile)
    reg_rows, rec_rows, truth = [], [], []
    with tempfile.TemporaryDirectory(prefix="kodomo-eval-") as d:
        for f in DF.write_department_files(town, d):
            table = read_table(f.path)
            parsed = parse_rows(table, f.source_type, F.detect_mapping(f.source_type, table.headers), town.as_of)
            key_of = dict(f.rows)
            for r in parsed.records:
                pk = key_of.get(r["row_number"])
                ident = {
                    k: r.get(k)
                    for k in (
                        "resident_no",
                        "household_no",
                        "name",
                        "name_kana",
                        "surname",
                        "given_name",
                        "surname_kana",
                        "given_name_kana",
                        "birth_date",
                        "sex",
                        "address",
                        "relationship",
                        "student_no",
                        "school",
                        "grade",
                        "class",
                    )
                }
                if f.source_type == "resident_registry":
                    if pk is not None:
                        reg_rows.append({"person_id": f"K{pk:06d}", **ident})
                    continue
                rec_rows.append({"record_id": len(rec_rows) + 1, "source_type": f.source_type, **ident})
                truth.append(None if pk is None else f"K{pk:06d}")
    registry = pd.DataFrame(reg_rows).drop_duplicates("person_id")
    records = pd.DataFrame(rec_rows)
    known = set(registry["person_id"])
    truth = [t if t in known else None for t in truth]  # people who left: rows about them must stay unlinked
    return Town(
        registry=registry,
        records=records,
        truth=pd.Series(truth, index=records["record_id"], dtype="object"),
        as_of=town.as_of,
    )


# --- metrics -----------------------------------------------------------------------------------------------------------
def evaluate(result: pd.DataFrame, town: Town) -> dict:
    """Quality figures of a ``link_records`` result (or a baseline with the same columns) against the truth."""
    res = result.set_index("record_id")
    truth = town.truth.reindex(res.index)
    linked = res["status"].isin(["auto", "confirmed"]).to_numpy()
    pid = res["person_id"].to_numpy(dtype=object)
    tru = truth.to_numpy(dtype=object)
    in_reg = np.array([t is not None and t == t for t in tru])
    correct = linked & in_reg & (pid == tru)
    wrong = linked & ~correct
    no_number = _blank(town.records.set_index("record_id")["resident_no"].reindex(res.index))
    nn = no_number & in_reg
    # people with a namesake in the registry (same normalised name and birth date): a row about them that carries
    # nothing else (no address, no number) must go to review, so it can never count as linked
    from kodomo_desktop.core.linkage.prepare import prepare

    R = prepare(town.registry)
    key = pd.Series([f"{k or kn}|{b}" for k, kn, b in zip(R["full_k"], R["full_kn"], R["bd"])], dtype="object")
    dup = set(town.registry["person_id"].astype(str)[key.duplicated(keep=False).to_numpy()])
    has_namesake = np.array([t in dup for t in tru])
    indistinct = _indistinguishable(town, R, key, tru) & nn
    review = (res["status"] == "review").to_numpy()
    best = (res["best_person_id"] if "best_person_id" in res.columns else res["person_id"]).to_numpy(dtype=object)
    n = len(res)
    return {
        "records": n,
        "links": int(linked.sum()),
        "precision": float(correct.sum() / linked.sum()) if linked.sum() else 1.0,
        "recall": float(correct.sum() / in_reg.sum()) if in_reg.sum() else 1.0,
        "no_number_rows": int(nn.sum()),
        "no_number_right": float((correct & nn).sum() / nn.sum()) if nn.sum() else 1.0,
        "wrong_links": int(wrong.sum()),
        "review": int(review.sum()),
        "review_rate": float(review.sum() / n) if n else 0.0,
        "no_number_right_without_namesakes": float((correct & nn & ~has_namesake).sum() / (nn & ~has_namesake).sum())
        if (nn & ~has_namesake).sum()
        else 1.0,
        "namesake_rows": int((nn & has_namesake).sum()),
        # the best any linker can do that sends namesakes it cannot tell apart to review, as issue 4 requires
        "ceiling": float(1 - indistinct.sum() / nn.sum()) if nn.sum() else 1.0,
        "indistinguishable_rows": int(indistinct.sum()),
        "no_number_found": float(((correct | (review & (best == tru))) & nn).sum() / nn.sum()) if nn.sum() else 1.0,
        "review_has_right": float(
            np.mean(
                [
                    t in [c["person_id"] for c in (cs or [])]
                    for t, cs in zip(tru[review], res["candidates"].to_numpy()[review])
                ]
            )
        )
        if review.sum() and "candidates" in res.columns
        else float("nan"),
        "not_in_registry": int((~in_reg).sum()),
    }


def _blank(v: pd.Series) -> np.ndarray:
    """Missing or only spaces, per cell."""
    return (v.isna() | (v.astype("object").fillna("").astype(str).str.strip() == "")).to_numpy()


def _indistinguishable(town: Town, R: dict, key: pd.Series, truth: np.ndarray) -> np.ndarray:
    """Rows nobody can link from the data (ground truth used only to find them): the row's person has a registry
    namesake — same normalised name, birth date and sex — and the row carries nothing that differs between them:
    no address, no household number, and either no school or a school the namesake attends too (per the truth of
    the namesake's own school rows). Such a row must go to review, so ``1 − these / rows without a number`` bounds
    the share of rows without a number any rule-abiding linker can link right."""
    reg = town.registry.reset_index(drop=True)
    full = pd.Series([f"{k}|{s}" for k, s in zip(key, R["sex"])], dtype="object")
    groups: dict[str, list] = {}
    for pid, k in zip(reg["person_id"].astype(str), full):
        groups.setdefault(k, []).append(pid)
    others = {p: [q for q in g if q != p] for g in groups.values() if len(g) > 1 for p in g}
    recs = town.records.reset_index(drop=True)
    blank = {
        c: _blank(recs[c]) if c in recs.columns else np.ones(len(recs), dtype=bool) for c in ("address", "household_no")
    }
    school = (
        recs["school"].astype("object").where(recs["school"].notna(), None).to_numpy()
        if "school" in recs.columns
        else np.full(len(recs), None, dtype=object)
    )
    schools_of: dict[str, set] = {}
    for t, sc in zip(truth, school):
        if isinstance(t, str) and sc:
            schools_of.setdefault(t, set()).add(sc)
    no_addr, no_hh = blank["address"], blank["household_no"]
    out = np.zeros(len(recs), dtype=bool)
    for i, t in enumerate(truth):
        if not isinstance(t, str) or t not in others or not (no_addr[i] and no_hh[i]):
            continue
        sc = school[i]
        out[i] = (not sc) or any(sc in schools_of.get(q, ()) for q in others[t])
    return out


def baseline_exact(registry: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """What towns do by hand today: 宛名番号 when the row has one, else exact 氏名 (spaces removed, NFKC — an Excel
    TRIM/ASC at best) + 生年月日, first hit wins (VLOOKUP)."""
    import unicodedata

    def key(name, bd):
        if name is None or (isinstance(name, float) and name != name) or bd is None:
            return None
        n = "".join(unicodedata.normalize("NFKC", str(name)).split())
        return f"{n}|{str(bd)[:10]}"

    first: dict = {}
    for pid, nm, bd in zip(registry["person_id"], registry["name"], registry["birth_date"]):
        k = key(nm, bd)
        if k and k not in first:
            first[k] = pid
    by_rno = {str(r): p for r, p in zip(registry["resident_no"], registry["person_id"]) if r is not None}
    out = []
    for rid, rno, nm, bd in zip(records["record_id"], records["resident_no"], records["name"], records["birth_date"]):
        pid = None
        if rno is not None and rno == rno and str(rno) in by_rno:
            pid = by_rno[str(rno)]
        else:
            pid = first.get(key(nm, bd))
        out.append({"record_id": rid, "status": "auto" if pid else "unlinked", "person_id": pid, "candidates": None})
    return pd.DataFrame(out)


def run(
    residents: int = 3000,
    seeds=(1, 2),
    levels=("clean", "low", "medium", "high"),
    towns=("demo", "engine"),
    **link_options,
) -> pd.DataFrame:
    """Engine and baseline on towns at each noise level; one row per (town source, level, seed, method).

    ``towns``: "demo" (kodomo_desktop.core.demo, read back through the importer; skipped when unavailable) and/or
    "engine" (``synthetic_town`` above)."""
    from kodomo_desktop.core.linkage.engine import link_records

    rows = []
    for source in towns:
        for level in levels:
            for seed in seeds:
                if source != "demo" and not hasattr(NoiseProfile, level):
                    break  # a level only the demo knows (e.g. "demo", its default profile)
                town = (
                    demo_town(residents, seed, level)
                    if source == "demo"
                    else synthetic_town(residents, seed, getattr(NoiseProfile, level)())
                )
                if town is None:
                    print(f"(no {source} towns: see the warning above)", file=sys.stderr)
                    break
                res = link_records(town.registry, town.records, **link_options)
                rows.append({"town": source, "noise": level, "seed": seed, "method": "engine", **evaluate(res, town)})
                base = baseline_exact(town.registry, town.records)
                rows.append(
                    {
                        "town": source,
                        "noise": level,
                        "seed": seed,
                        "method": "baseline 氏名+生年月日",
                        **evaluate(base, town),
                    }
                )
    return pd.DataFrame(rows)
