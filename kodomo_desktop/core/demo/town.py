"""A synthetic town: households, residents with kanji and kana names, schools, and planted situations.

Every name is drawn from generic surname and given-name lists; no real person is described. ``Town.truth``
lists the planted strong cases (for scoring tests), namesakes and twins (for linkage tests).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SURNAMES = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
            ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
            ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("斎藤", "サイトウ"),
            ("松本", "マツモト"), ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("清水", "シミズ"),
            ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
            ("石川", "イシカワ"), ("前田", "マエダ"), ("藤田", "フジタ"), ("小川", "オガワ"), ("岡田", "オカダ"),
            ("長谷川", "ハセガワ"), ("村上", "ムラカミ"), ("近藤", "コンドウ"), ("辺見", "ヘンミ"), ("浜田", "ハマダ"),
            ("沢田", "サワダ"), ("宮崎", "ミヤザキ"), ("広瀬", "ヒロセ"), ("島田", "シマダ"), ("桜井", "サクライ")]
# how another department may write the same surname (旧字体・異体字)
VARIANTS = {"高橋": "髙橋", "斎藤": "齋藤", "渡辺": "渡邊", "山崎": "山﨑", "辺見": "邊見", "浜田": "濱田",
            "沢田": "澤田", "宮崎": "宮﨑", "広瀬": "廣瀬", "島田": "嶋田", "桜井": "櫻井"}
MALE = [("太郎", "タロウ"), ("翔", "ショウ"), ("大輝", "ダイキ"), ("蓮", "レン"), ("悠真", "ユウマ"), ("湊", "ミナト"),
        ("陽翔", "ハルト"), ("健太", "ケンタ"), ("誠", "マコト"), ("拓海", "タクミ"), ("一郎", "イチロウ"),
        ("浩二", "コウジ"), ("直樹", "ナオキ"), ("隆", "タカシ"), ("颯太", "ソウタ"), ("樹", "イツキ")]
FEMALE = [("花子", "ハナコ"), ("結衣", "ユイ"), ("陽菜", "ヒナ"), ("美咲", "ミサキ"), ("葵", "アオイ"), ("凛", "リン"),
          ("さくら", "サクラ"), ("由美", "ユミ"), ("恵子", "ケイコ"), ("真由美", "マユミ"), ("愛", "アイ"),
          ("彩", "アヤ"), ("芽依", "メイ"), ("紬", "ツムギ"), ("明美", "アケミ"), ("智子", "トモコ")]
ELEMENTARY = ["第一小学校", "第二小学校", "東小学校"]
JUNIOR = ["中央中学校"]
HIGH = ["県立高等学校"]
NURSERY = ["みどり保育園", "ひかりこども園"]
AS_OF = dt.date(2026, 10, 1)


@dataclass
class NoiseProfile:
    variant_kanji: float = 0.25     # surname written in its 旧字体/異体字 form by another department
    kana_typo: float = 0.02
    day_month_swap: float = 0.01
    day_off_by_one: float = 0.01
    remarriage: float = 0.01        # surname changed in a department file
    missing_resident_no: float = 0.10  # in non-school files (school files never carry it)
    halfwidth_kana: float = 0.4
    namesakes: int = 2
    twins: int = 3
    moved_away: float = 0.01        # rows about people no longer in the registry

    @classmethod
    def demo(cls):
        return cls()

    @classmethod
    def clean(cls):
        return cls(0, 0, 0, 0, 0, 0, 0, 1, 1, 0)

    @classmethod
    def low(cls):
        return cls(0.1, 0.01, 0.005, 0.005, 0.005, 0.05, 0.3, 2, 2, 0.005)

    @classmethod
    def medium(cls):
        return cls()

    @classmethod
    def high(cls):
        return cls(0.4, 0.05, 0.02, 0.02, 0.02, 0.3, 0.6, 4, 4, 0.02)


@dataclass
class Town:
    persons: pd.DataFrame
    seed: int
    noise: NoiseProfile
    as_of: dt.date = AS_OF
    truth: dict = field(default_factory=dict)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def school_of(birth: dt.date, on: dt.date, rng) -> tuple[str, str]:
    """(school, grade) from the birth date's school year (April 2 – April 1)."""
    fy = on.year if on.month >= 4 else on.year - 1
    by = birth.year if (birth.month, birth.day) >= (4, 2) else birth.year - 1
    grade_year = fy - by - 6  # 0 = first grade of elementary
    if grade_year < 0:
        return (NURSERY[int(rng.integers(len(NURSERY)))] if _age(birth, on) >= 1 else "", "")
    if grade_year < 6:
        return ELEMENTARY[int(rng.integers(len(ELEMENTARY)))], str(grade_year + 1)
    if grade_year < 9:
        return JUNIOR[0], str(grade_year - 5)
    if grade_year < 12:
        return HIGH[0], str(grade_year - 8)
    return "", ""


def generate_town(residents: int = 3000, seed: int = 0, noise: NoiseProfile | None = None) -> Town:
    noise = noise or NoiseProfile.demo()
    rng = np.random.default_rng(seed)
    rows = []
    hh = 0
    on = AS_OF

    def birth_for(age):
        return on - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))

    def person(h, rel, surname, sex, age, given=None):
        g = given or (MALE if sex == 1 else FEMALE)[int(rng.integers(16))]
        rows.append({"household": h, "relationship": rel, "surname": surname[0], "surname_kana": surname[1],
                     "given": g[0], "given_kana": g[1], "sex": sex, "birth_date": birth_for(age)})

    while len(rows) < residents:
        hh += 1
        s = SURNAMES[min(int(rng.zipf(1.6)) - 1, len(SURNAMES) - 1)] if rng.random() < 0.5 else \
            SURNAMES[int(rng.integers(len(SURNAMES)))]
        kind = rng.choice(["family", "single_parent", "elder", "couple", "three_gen", "single"],
                          p=[0.42, 0.08, 0.15, 0.15, 0.1, 0.1])
        pa = int(rng.integers(27, 48))
        if kind in ("family", "three_gen", "couple"):
            person(hh, "世帯主", s, 1, pa + int(rng.integers(0, 4)))
            person(hh, "妻", s, 2, pa)
        elif kind == "single_parent":
            person(hh, "世帯主", s, 2, pa)
        elif kind == "elder":
            person(hh, "世帯主", s, 1, int(rng.integers(65, 90)))
            if rng.random() < 0.6:
                person(hh, "妻", s, 2, int(rng.integers(63, 88)))
            continue
        else:
            person(hh, "世帯主", s, int(rng.integers(1, 3)), int(rng.integers(19, 64)))
            continue
        if kind == "couple":
            continue
        kids = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.4, 0.2, 0.05]))
        ages = sorted({int(rng.integers(0, min(19, pa - 18))) for _ in range(kids)})
        used = set()
        for a in ages:
            sex = int(rng.integers(1, 3))
            names = MALE if sex == 1 else FEMALE
            g = names[int(rng.integers(16))]
            while g in used:
                g = names[int(rng.integers(16))]
            used.add(g)
            person(hh, "子", s, sex, a, g)
        if kind == "three_gen":
            person(hh, "父", s, 1, pa + 28)
            person(hh, "母", s, 2, pa + 26)
    df = pd.DataFrame(rows[:residents])
    # twins: a second child with the same birth date in the same household
    twins, namesakes = [], []
    kids = df[(df.relationship == "子")]
    for idx in kids.sample(min(noise.twins, len(kids)), random_state=seed).index:
        r = df.loc[idx].to_dict()
        g = next(x for x in (FEMALE if r["sex"] == 2 else MALE) if x[0] != r["given"])
        r["given"], r["given_kana"] = g
        df = pd.concat([df, pd.DataFrame([r])], ignore_index=True)
        twins.append((int(idx), len(df) - 1))
    # namesakes: another household's child gets the same name and birth date
    kids = df[(df.relationship == "子")]
    for _ in range(noise.namesakes):
        a, b = kids.sample(2, random_state=int(rng.integers(1 << 30))).index
        if df.at[a, "household"] == df.at[b, "household"]:
            continue
        for col in ("surname", "surname_kana", "given", "given_kana", "sex", "birth_date"):
            df.at[b, col] = df.at[a, col]
        namesakes.append((int(a), int(b)))
    df["person_key"] = np.arange(len(df))
    df["resident_no"] = [f"{100000 + 7 * i:010d}" for i in range(len(df))]
    df["household_no"] = [f"{5000000 + h:07d}" for h in df.household]
    chome = {h: (int(rng.integers(1, 5)), int(rng.integers(1, 30)), int(rng.integers(1, 20))) for h in df.household.unique()}
    df["address"] = [f"みどり町{chome[h][0]}丁目{chome[h][1]}番{chome[h][2]}号" for h in df.household]
    sch = [school_of(b, on, rng) for b in df.birth_date]
    df["school"] = [s for s, _ in sch]
    df["grade"] = [g for _, g in sch]
    df["klass"] = [str(int(rng.integers(1, 3))) if g else "" for _, g in sch]
    df["student_no"] = [f"{i % 40 + 1}" for i in range(len(df))]
    df["age"] = [_age(b, on) for b in df.birth_date]
    town = Town(df, seed, noise)
    town.truth = {"twins": twins, "namesakes": namesakes, **plant_situations(df, rng)}
    return town


def plant_situations(df: pd.DataFrame, rng) -> dict:
    """Risk situations that correlate sensibly, plus a list of strong cases for scoring tests."""
    n = len(df)
    kids = df.index[(df.age <= 18) & (df.relationship == "子")]
    hh_single = set(df.household[(df.relationship == "世帯主") & (df.sex == 2) &
                                 ~df.household.isin(df.household[df.relationship == "妻"])])
    s = {}
    pick = lambda pool, k: list(rng.choice(pool, size=min(k, len(pool)), replace=False)) if len(pool) else []
    s["single_parent_households"] = sorted(hh_single)
    poor = set(pick(sorted(df.household.unique()), max(1, n // 120))) | set(pick(sorted(hh_single), len(hh_single) // 2))
    s["public_assistance_households"] = sorted(pick(sorted(poor), max(1, len(poor) // 4)))
    s["tax_exempt_households"] = sorted(poor)
    school_kids = [i for i in kids if df.at[i, "grade"]]
    s["absence_30"] = pick([i for i in school_kids if df.at[i, "household"] in poor], max(2, n // 300)) + \
        pick(school_kids, max(1, n // 600))
    s["late_many"] = pick(school_kids, max(2, n // 200))
    s["nurse_visits"] = pick(school_kids, max(2, n // 250))
    s["caries"] = pick(school_kids, max(2, n // 150))
    infants = [i for i in kids if df.at[i, "age"] <= 3]
    s["checkup_missed"] = pick(infants, max(2, len(infants) // 12))
    s["questionnaire_flag"] = pick(s["checkup_missed"], max(1, len(s["checkup_missed"]) // 2)) + pick(infants, 2)
    s["vaccination_missed"] = pick(infants, max(1, len(infants) // 15))
    s["yotaikyo"] = pick(kids, max(2, n // 250))
    s["yotaikyo_closed"] = s["yotaikyo"][: max(1, len(s["yotaikyo"]) // 3)]
    s["temporary_protection"] = s["yotaikyo"][-1:]
    mothers = df.index[(df.relationship.isin(["妻", "世帯主"])) & (df.sex == 2) & (df.age.between(20, 45))]
    mothers_of_infants = [m for m in mothers if df.at[m, "household"] in set(df.household[infants])]
    s["epds_high"] = pick(mothers_of_infants, max(1, len(mothers_of_infants) // 10))
    s["late_pregnancy_notice"] = pick(mothers_of_infants, max(1, len(mothers_of_infants) // 12))
    s["disability_child"] = pick(kids, max(1, n // 300))
    s["disability_parent_mental"] = pick(list(mothers), max(1, n // 400))
    s["school_assistance"] = [i for i in school_kids if df.at[i, "household"] in poor]
    s["dv_consultation"] = pick(list(mothers), max(1, n // 500))
    # strong cases: a child with 要対協 history, or ≥30 days absent, or a missed checkup plus a questionnaire flag
    strong = set(s["yotaikyo"]) | set(s["absence_30"]) | (set(s["checkup_missed"]) & set(s["questionnaire_flag"]))
    s["strong_cases"] = sorted(int(i) for i in strong)
    return {k: [int(x) for x in v] for k, v in s.items()}
