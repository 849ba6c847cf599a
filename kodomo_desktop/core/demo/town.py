"""A synthetic town: households, people, schools and planted support needs, with the ground truth kept.

``generate_town`` builds a population in households (couples with children, single parents, three generations,
grandparents raising grandchildren, step families, single elders, …), assigns schools, grades and classes, and
plants risk situations that hang together (poverty → 生活保護/非課税/就学援助; a parent's mental illness → 精神手帳 and
EPDS; maltreatment → 要対協, missed check-ups, questionnaire answers, absences, caries, …). It writes nothing:
``files.write_department_files`` turns a Town into the files departments send, with the NoiseProfile applied.

Everything is synthetic: names are drawn from common-name lists, the town ひなた町 does not exist.
Deterministic: the same (residents, seed, noise) gives the same Town.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from ..calendar import age_on, fiscal_year_start
from . import names as N

AS_OF = dt.date(2026, 11, 1)  # 作成日 of every extract: 令和8年11月1日
SCHOOL_DAYS = 128  # school days from April to the end of the month before the extract (≈)


def reiwa_fy(as_of: dt.date) -> int:
    """令和 year of the fiscal year (年度) containing ``as_of`` (2026-11-01 → 8)."""
    return fiscal_year_start(as_of).year - 2018


def school_period(as_of: dt.date) -> str:
    """The attendance period of an extract taken on ``as_of``: 令和8年4月～10月."""
    last = (as_of.replace(day=1) - dt.timedelta(days=1)).month
    return f"令和{reiwa_fy(as_of)}年4月～{last}月"


SCHOOL_PERIOD = school_period(AS_OF)


# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoiseProfile:
    """How untidy the department files are. Rates are per data row unless said otherwise."""

    variant_kanji_rate: float = 0.15  # a name char with a variant (髙/高, 﨑/崎, …) written in the other form
    kana_typo_rate: float = 0.02  # a slip in the reading (ユウ→ユー, ヅ→ズ, a dropped ウ, …)
    kanji_typo_rate: float = 0.005  # a homophone kanji in the given name (裕→祐, 智→知, …)
    day_month_swap_rate: float = 0.005  # birth date written with day and month swapped (day ≤ 12 only)
    off_by_one_day_rate: float = 0.005  # birth date one day off
    remarriage_rate: float = 0.03  # share of families with children that are step families (former surname)
    former_surname_use_rate: float = 0.6  # in a step family, a row in MCH/school files that still has the old surname
    missing_resident_no_rate: float = 0.08  # 宛名番号 left blank in non-school files
    halfwidth_kana_share: float = 0.35  # rows whose kana is half-width (ｶﾀｶﾅ) where a file mixes widths
    namesakes: int = 2  # pairs of unrelated children with the same name and birth date
    twins: int = 4  # twin pairs
    moved_away_rate: float = 0.01  # share of families with children who left: in department files, not in the registry
    fullwidth_digit_rate: float = 0.02  # numbers keyed as full-width digits (１２) in some columns
    address_style_rate: float = 0.5  # non-registry rows whose address is written another way (2-5-12, no prefecture)
    invalid_rows_per_file: int = 1  # planted invalid rows (impossible date, sex "X") per department file
    empty_rows_per_file: int = 1  # blank rows in the middle of some files
    unknown_dates_per_file: int = 1  # 「不明」 in an optional date cell of some files
    strip_leading_zeros: bool = False  # 宛名番号 written as a number (0010000051 -> 10000051) in non-registry files

    @classmethod
    def demo(cls) -> NoiseProfile:
        return cls()

    @classmethod
    def clean(cls) -> NoiseProfile:
        return cls(
            variant_kanji_rate=0,
            kana_typo_rate=0,
            kanji_typo_rate=0,
            day_month_swap_rate=0,
            off_by_one_day_rate=0,
            remarriage_rate=0,
            former_surname_use_rate=0,
            missing_resident_no_rate=0,
            halfwidth_kana_share=0,
            namesakes=0,
            twins=0,
            moved_away_rate=0,
            fullwidth_digit_rate=0,
            address_style_rate=0,
            invalid_rows_per_file=0,
            empty_rows_per_file=0,
            unknown_dates_per_file=0,
        )

    @classmethod
    def low(cls) -> NoiseProfile:
        return cls(
            variant_kanji_rate=0.05,
            kana_typo_rate=0.01,
            kanji_typo_rate=0.002,
            day_month_swap_rate=0.002,
            off_by_one_day_rate=0.002,
            remarriage_rate=0.01,
            former_surname_use_rate=0.4,
            missing_resident_no_rate=0.02,
            halfwidth_kana_share=0.2,
            namesakes=1,
            twins=2,
            moved_away_rate=0.005,
            fullwidth_digit_rate=0.01,
            address_style_rate=0.3,
            invalid_rows_per_file=0,
            empty_rows_per_file=0,
            unknown_dates_per_file=0,
        )

    @classmethod
    def medium(cls) -> NoiseProfile:
        return cls(
            variant_kanji_rate=0.15,
            kana_typo_rate=0.03,
            kanji_typo_rate=0.01,
            day_month_swap_rate=0.01,
            off_by_one_day_rate=0.01,
            remarriage_rate=0.03,
            former_surname_use_rate=0.6,
            missing_resident_no_rate=0.10,
            halfwidth_kana_share=0.4,
            namesakes=3,
            twins=5,
            moved_away_rate=0.02,
            fullwidth_digit_rate=0.03,
            address_style_rate=0.5,
            invalid_rows_per_file=1,
            empty_rows_per_file=1,
            unknown_dates_per_file=1,
        )

    @classmethod
    def high(cls) -> NoiseProfile:
        return cls(
            variant_kanji_rate=0.35,
            kana_typo_rate=0.08,
            kanji_typo_rate=0.03,
            day_month_swap_rate=0.03,
            off_by_one_day_rate=0.03,
            remarriage_rate=0.06,
            former_surname_use_rate=0.8,
            missing_resident_no_rate=0.30,
            halfwidth_kana_share=0.6,
            namesakes=8,
            twins=10,
            moved_away_rate=0.05,
            fullwidth_digit_rate=0.08,
            address_style_rate=0.8,
            invalid_rows_per_file=2,
            empty_rows_per_file=2,
            unknown_dates_per_file=2,
            strip_leading_zeros=True,
        )

    @classmethod
    def named(cls, level: str) -> NoiseProfile:
        return {"demo": cls.demo, "clean": cls.clean, "low": cls.low, "medium": cls.medium, "high": cls.high}[level]()


@dataclass
class PlantedCase:
    """A child deliberately given a strong, multi-source picture; scoring should rank them high."""

    person_key: int
    household_key: int
    scenario: str
    planted: dict[str, Any]  # indicator -> value; keys ending in "(mother)"/"(parent)"/"(household)" sit on others


@dataclass
class Truth:
    """Ground truth of the town. Person keys are ints (= ``Town.persons`` index). Dict-style access works too
    (``truth["strong_cases"]``, ``truth["twins"]`` …)."""

    strong_cases: list[int] = field(default_factory=list)  # person keys of the planted strong cases
    planted: list[PlantedCase] = field(default_factory=list)  # what was planted, per strong case
    namesakes: list[tuple[int, int]] = field(default_factory=list)  # unrelated children, same name + birth date
    twins: list[tuple[int, int]] = field(default_factory=list)
    remarried: list[int] = field(default_factory=list)  # people whose old surname may appear in files
    moved_away: list[int] = field(default_factory=list)  # in department files, not in the registry

    def __getitem__(self, key: str):
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    def keys(self):
        return ["strong_cases", "planted", "namesakes", "twins", "remarried", "moved_away"]

    def case(self, person_key: int) -> PlantedCase | None:
        return next((c for c in self.planted if c.person_key == person_key), None)


@dataclass
class Town:
    seed: int
    as_of: dt.date
    noise: NoiseProfile
    name: str
    persons: pd.DataFrame  # one row per person, index == person_key (int); see PEOPLE_COLUMNS
    households: pd.DataFrame
    schools: pd.DataFrame  # school, kind (小学校/中学校/保育所), district list
    events: dict[str, pd.DataFrame]  # source_type -> ground-truth records (person_key + canonical attributes)
    truth: Truth

    @property
    def people(self) -> pd.DataFrame:
        return self.persons

    @property
    def registry(self) -> pd.DataFrame:
        return self.persons[self.persons["in_registry"]]

    def children(self, in_registry: bool = True) -> pd.DataFrame:
        p = self.persons[(self.persons["age"] <= 18)]
        return p[p["in_registry"]] if in_registry else p

    def person(self, key: int) -> dict:
        return self.persons.loc[key].to_dict()

    def summary(self) -> dict:
        ev = {k: len(v) for k, v in self.events.items()}
        return {
            "residents": int(self.persons["in_registry"].sum()),
            "households": int(self.households["in_registry"].sum()),
            "children": int(len(self.children())),
            "moved_away_people": len(self.truth.moved_away),
            "strong_cases": len(self.truth.strong_cases),
            "namesake_pairs": len(self.truth.namesakes),
            "twin_pairs": len(self.truth.twins),
            "events": ev,
        }


PEOPLE_COLUMNS = [
    "person_key",
    "household_key",
    "resident_no",
    "household_no",
    "surname",
    "given_name",
    "surname_kana",
    "given_name_kana",
    "name",
    "name_kana",
    "birth_date",
    "age",
    "sex",
    "relationship",
    "address",
    "district",
    "in_registry",
    "move_in_date",
    "move_out_date",
    "former_surname",
    "former_surname_kana",
    "mother_key",
    "father_key",
    "school",
    "school_kind",
    "grade",
    "class",
    "student_no",
    "nursery",
]


# ---------------------------------------------------------------------------------------------------------------
def _add_months(d: dt.date, months: int) -> dt.date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1
    day = min(
        d.day,
        [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][
            m - 1
        ],
    )
    return dt.date(y, m, day)


def kanji_number(n: int) -> str:
    return (
        "".join(N.KANJI_DIGITS[int(c)] for c in str(n)) if n < 10 else {10: "十", 11: "十一", 12: "十二"}.get(n, str(n))
    )


HH_TYPES = [  # type, weight
    ("couple_children", 0.165),
    ("single_parent", 0.036),
    ("three_gen", 0.052),
    ("skip_gen", 0.005),
    ("single_elder", 0.17),
    ("elder_couple", 0.175),
    ("single_adult", 0.18),
    ("couple_nochild", 0.09),
    ("parents_adult_children", 0.127),
]
CHILD_TYPES = {"couple_children", "single_parent", "three_gen", "skip_gen"}


class _Gen:
    """Household-by-household generation (Python's random for scalar draws: fast and deterministic)."""

    def __init__(self, rng: random.Random, as_of: dt.date):
        self.r = rng
        self.as_of = as_of
        self.ord0 = as_of.toordinal()
        sw = [s[2] for s in N.SURNAMES]
        self.sur_cum = [float(x) for x in np.cumsum(sw) / sum(sw)]

    # --- small helpers
    def birth(self, age: float) -> int:
        return self.ord0 - int(age * 365.2425) - self.r.randrange(7, 365)

    def surname(self) -> tuple[str, str]:
        i = min(bisect.bisect_left(self.sur_cum, self.r.random()), len(N.SURNAMES) - 1)
        k, kana, _, var, share = N.SURNAMES[i]
        if var and self.r.random() < share:
            k = var
        return k, kana

    def given(self, sex: int, birth_ord: int, avoid: set) -> tuple[str, str]:
        year = dt.date.fromordinal(birth_ord).year
        if year >= 2007:
            pool = N.BOYS_CHILD if sex == 1 else N.GIRLS_CHILD
        elif year >= 1962:
            pool = N.BOYS_ADULT if sex == 1 else N.GIRLS_ADULT
        else:
            pool = N.BOYS_ELDER if sex == 1 else N.GIRLS_ELDER
        for _ in range(20):
            g = pool[self.r.randrange(len(pool))]
            if g[0] not in avoid and g[1] not in avoid:
                return g
        return g

    def n_kids(self) -> int:
        x = self.r.random()
        return 1 if x < 0.36 else 2 if x < 0.79 else 3 if x < 0.96 else 4

    def kid_ages(self, n: int, youngest_max: int = 17, twins: bool = False) -> list[float]:
        # half the families drawn from the youngest child up, half from the eldest down: about as many
        # children at every age 0–17, a few grown-up children still at home
        gaps = [1, 2, 2, 2, 3, 3, 4, 5, 6]
        if self.r.random() < 0.5 or twins:  # from the youngest up
            ages: list[float] = [min(youngest_max, int(self.r.uniform(0, 18)))]
            for i in range(1, n):
                ages.append(ages[-1] if twins and i == 1 else ages[-1] + self.r.choice(gaps))
            return ages
        ages = [int(self.r.uniform(0, 19))]  # from the eldest down (stops at a newborn)
        for i in range(1, n):
            a = ages[-1] - self.r.choice(gaps)
            if a < 0:
                break
            ages.append(a)
        return ages

    # --- a household is a list of members: dict(rel, sex, birth, surname, kana, role, parent refs by index)
    def household(self, kind: str, twins: bool = False, remarried: bool = False) -> list[dict]:
        r = self.r
        S, K = self.surname()
        M: list[dict] = []

        def add(rel, sex, birth, role, surname=S, kana=K, **kw):
            M.append(dict(rel=rel, sex=sex, birth=birth, role=role, surname=surname, kana=kana, **kw))
            return len(M) - 1

        if kind in ("couple_children", "three_gen"):
            n = max(2, self.n_kids()) if twins else self.n_kids()
            mother_age_at_first = min(41, max(19, r.gauss(29.5, 4.2)))
            # build parents after knowing the eldest child's age
            tmp_kids_ages = self.kid_ages(n, 15 if twins else 17, twins)
            eldest = max(tmp_kids_ages)
            m_age = eldest + mother_age_at_first
            f_age = m_age + min(12, max(-4, r.gauss(2, 3)))
            old_head = kind == "three_gen" and r.random() < 0.5
            if old_head:
                gf = add("世帯主", 1, self.birth(f_age + r.uniform(24, 34)), "grandparent")
                gm = add("妻", 2, M[gf]["birth"] + int(r.gauss(3, 2) * 365), "grandparent")
                fa = add("子", 1, self.birth(f_age), "parent", mother=gm, father=gf)
                mo = add("子の妻", 2, self.birth(m_age), "parent")
                child_rel = "孫"
            else:
                if remarried:
                    fa = add("世帯主", 1, self.birth(f_age), "parent")
                    S0, K0 = self.surname()
                    mo = add("妻", 2, self.birth(m_age), "parent", former=(S0, K0))
                else:
                    head_is_wife = r.random() < 0.04
                    if head_is_wife:
                        mo = add("世帯主", 2, self.birth(m_age), "parent")
                        fa = add("夫", 1, self.birth(f_age), "parent")
                    else:
                        fa = add("世帯主", 1, self.birth(f_age), "parent")
                        mo = add("妻", 2, self.birth(m_age), "parent")
                child_rel = "子"
            for j, a in enumerate(sorted(tmp_kids_ages)):
                b = self.ord0 - int(a * 365.2425) - r.randrange(7, 365)
                if twins and j == 1:
                    b = M[-1]["birth"]
                if remarried:
                    adopted = r.random() < 0.7
                    if adopted:
                        add(
                            "子",
                            1 if r.random() < 0.512 else 2,
                            b,
                            "child",
                            mother=mo,
                            father=None,
                            former=M[mo]["former"],
                            twin=twins and j < 2,
                        )
                    else:
                        add(
                            "妻の子",
                            1 if r.random() < 0.512 else 2,
                            b,
                            "child",
                            M[mo]["former"][0],
                            M[mo]["former"][1],
                            mother=mo,
                            father=None,
                            twin=twins and j < 2,
                        )
                else:
                    add(
                        child_rel,
                        1 if r.random() < 0.512 else 2,
                        b,
                        "child",
                        mother=mo,
                        father=fa,
                        twin=twins and j < 2,
                    )
            if kind == "three_gen" and not old_head:
                gp_age = f_age + r.uniform(24, 34)
                wife_side = r.random() < 0.2
                s2, k2 = self.surname() if wife_side else (S, K)
                both = r.random() < 0.45
                if both or r.random() < 0.3:
                    add("妻の父" if wife_side else "父", 1, self.birth(gp_age), "grandparent", s2, k2)
                if both or len(M) and M[-1]["role"] != "grandparent":
                    add("妻の母" if wife_side else "母", 2, self.birth(gp_age - r.uniform(0, 5)), "grandparent", s2, k2)
        elif kind == "single_parent":
            n = 1 if r.random() < 0.5 else 2 if r.random() < 0.8 else 3
            ages = self.kid_ages(n, 17)
            eldest = max(ages)
            p_age = eldest + min(40, max(18, r.gauss(27, 5)))
            mum = r.random() < 0.86
            with_gp = r.random() < 0.28
            if with_gp:
                gp = add("世帯主", 1, self.birth(p_age + r.uniform(24, 32)), "grandparent")
                gm = add("妻", 2, M[gp]["birth"] + int(r.gauss(3, 2) * 365), "grandparent")
                par = add("子", 2 if mum else 1, self.birth(p_age), "parent", mother=gm, father=gp)
                child_rel = "孫"
            else:
                par = add("世帯主", 2 if mum else 1, self.birth(p_age), "parent")
                child_rel = "子"
            for a in sorted(ages):
                b = self.ord0 - int(a * 365.2425) - r.randrange(7, 365)
                add(
                    child_rel,
                    1 if r.random() < 0.512 else 2,
                    b,
                    "child",
                    mother=par if mum else None,
                    father=None if mum else par,
                )
            M[par]["single_parent"] = True
        elif kind == "skip_gen":
            n = 1 if r.random() < 0.7 else 2
            ages = self.kid_ages(n, 17)
            gp_age = max(ages) + r.uniform(50, 62)
            gf = None
            if r.random() < 0.6:
                gf = add("世帯主", 1, self.birth(gp_age), "grandparent")
                add("妻", 2, self.birth(gp_age - r.uniform(0, 5)), "grandparent")
            else:
                add("世帯主", 2, self.birth(gp_age), "grandparent")
            for a in sorted(ages):
                add(
                    "孫",
                    1 if r.random() < 0.512 else 2,
                    self.ord0 - int(a * 365.2425) - r.randrange(7, 365),
                    "child",
                    mother=None,
                    father=None,
                )
        elif kind == "single_elder":
            sex = 2 if r.random() < 0.68 else 1
            add("世帯主", sex, self.birth(min(99, 65 + r.expovariate(1 / 11))), "elder")
        elif kind == "elder_couple":
            h = add("世帯主", 1, self.birth(min(97, 65 + r.expovariate(1 / 9))), "elder")
            add("妻", 2, M[h]["birth"] + int(max(-3, r.gauss(3, 2.5)) * 365), "elder")
        elif kind == "single_adult":
            a = r.choice([r.uniform(19, 35), r.uniform(19, 35), r.uniform(35, 64)])
            add("世帯主", 1 if r.random() < 0.55 else 2, self.birth(a), "adult")
        elif kind == "couple_nochild":
            a = r.uniform(24, 64)
            add("世帯主", 1, self.birth(a), "adult")
            add("妻", 2, self.birth(max(20, a - r.gauss(2, 3))), "adult")
        elif kind == "parents_adult_children":
            ka = r.uniform(19, 40)
            pa = ka + r.uniform(24, 36)
            f = add("世帯主", 1, self.birth(pa), "adult")
            m = add("妻", 2, self.birth(pa - r.gauss(2, 2)), "adult")
            for j in range(1 if r.random() < 0.6 else 2):
                add(
                    "子",
                    1 if r.random() < 0.5 else 2,
                    self.birth(ka + j * r.uniform(1, 4)),
                    "adult_child",
                    mother=m,
                    father=f,
                )
        else:
            raise ValueError(kind)
        # given names, distinct within the household (twins first: their pair of similar names)
        used: set = set()
        tw = [m_ for m_ in M if m_.get("twin")]
        if len(tw) == 2:
            key = (
                (1, 1) if tw[0]["sex"] == tw[1]["sex"] == 1 else (2, 2) if tw[0]["sex"] == tw[1]["sex"] == 2 else (1, 2)
            )
            if key == (1, 2) and tw[0]["sex"] == 2:
                tw.reverse()
            name_a, name_b = r.choice(N.TWIN_NAMES[key])
            tw[0]["given"], tw[0]["given_kana"] = name_a
            tw[1]["given"], tw[1]["given_kana"] = name_b
            used.update(name_a + name_b)
        for m_ in M:
            if m_.get("twin"):
                continue
            g, gk = self.given(m_["sex"], m_["birth"], used)
            used.update((g, gk))
            m_["given"], m_["given_kana"] = g, gk
        return M


# ---------------------------------------------------------------------------------------------------------------
def _districts(n_res: int):
    n = max(6, min(len(N.DISTRICTS), round(n_res / 450)))
    ds = N.DISTRICTS[:n]
    urban = max(3, int(n * 0.6))
    return ds, urban


def _schools(n_res: int) -> tuple[list[str], list[str], list[str]]:
    n_elem = max(3 if n_res >= 1500 else 2, round(n_res / 8000))
    n_jh = max(1, round(n_res / 17000))
    base = ["ひなた第一小学校", "ひなた東小学校", "みどり小学校"]
    elem = base[:n_elem] + [f"ひなた第{kanji_number(i)}小学校" for i in range(2, n_elem - 1)][: max(0, n_elem - 3)]
    jh = ["ひなた中学校"] + [f"ひなた第{kanji_number(i)}中学校" for i in range(2, n_jh + 1)]
    nurs = ["ひなた保育園", "わかば保育所", "ひなたこども園"] + [
        f"ひなた第{kanji_number(i)}保育園" for i in range(2, max(0, n_res // 15000) + 2)
    ]
    return elem, jh, nurs[: max(3, n_res // 15000 + 3)]


def generate_town(
    residents: int = 3000, seed: int = 0, noise: NoiseProfile | None = None, as_of: dt.date = AS_OF
) -> Town:
    """Build a synthetic town of about ``residents`` registry residents (plus moved-away families)."""
    if noise is None:
        noise = NoiseProfile.demo()
    residents = max(200, int(residents))
    r = random.Random(seed)
    g = _Gen(r, as_of)

    # 1. household kinds: enough for the registry, plus moved-away families with children
    kinds, weights = zip(*HH_TYPES)
    cum = [float(x) for x in np.cumsum(weights) / sum(weights)]
    plan: list[str] = []
    expected = {
        "couple_children": 4.0,
        "single_parent": 2.7,
        "three_gen": 5.6,
        "skip_gen": 3.0,
        "single_elder": 1,
        "elder_couple": 2,
        "single_adult": 1,
        "couple_nochild": 2,
        "parents_adult_children": 3.4,
    }
    total = 0.0
    while total < residents:
        k = kinds[min(bisect.bisect_left(cum, r.random()), len(kinds) - 1)]
        plan.append(k)
        total += expected[k]
    child_idx = [i for i, k in enumerate(plan) if k in CHILD_TYPES]
    n_moved = max(1, round(noise.moved_away_rate * len(child_idx))) if noise.moved_away_rate > 0 else 0
    for _ in range(n_moved):
        plan.append(r.choice(["couple_children", "couple_children", "single_parent"]))
    moved = set(range(len(plan) - n_moved, len(plan)))
    reg_couples = [i for i, k in enumerate(plan) if k in ("couple_children", "three_gen") and i not in moved]
    twins_hh = set(r.sample(reg_couples, min(noise.twins, len(reg_couples))))
    cc = [i for i, k in enumerate(plan) if k == "couple_children" and i not in moved and i not in twins_hh]
    remarried_hh = set(r.sample(cc, min(len(cc), round(noise.remarriage_rate * len(child_idx)))))

    # 2. members
    districts, n_urban = _districts(residents)
    elem, jh, nurseries = _schools(residents)
    rows: list[dict] = []
    hh_rows: list[dict] = []
    hh_members: list[list[int]] = []
    for h, kind in enumerate(plan):
        M = g.household(kind, twins=h in twins_hh, remarried=h in remarried_hh)
        d = r.randrange(len(districts))
        if d < n_urban:
            chome = r.randint(1, 4)
            addr = f"{districts[d]}{kanji_number(chome)}丁目{r.randint(1, 30)}番地{r.randint(1, 25)}"
            if r.random() < 0.12:
                addr += f" {r.choice(N.BUILDINGS)}{r.randint(1, 4)}0{r.randint(1, 8)}"
        else:
            addr = f"大字{districts[d]}{r.randint(1, 2400)}番地"
            if r.random() < 0.2:  # a 枝番 (…番地の2)
                addr += f"の{r.randint(2, 9)}"
        base = len(rows)
        idx = []
        for j, m in enumerate(M):
            former = m.get("former")
            rows.append(
                dict(
                    person_key=len(rows),
                    household_key=h,
                    surname=m["surname"],
                    given_name=m["given"],
                    surname_kana=m["kana"],
                    given_name_kana=m["given_kana"],
                    birth_ord=m["birth"],
                    sex=m["sex"],
                    relationship=m["rel"],
                    address=N.PREFECTURE + N.TOWN_NAME + addr,
                    district=districts[d],
                    district_idx=d,
                    in_registry=h not in moved,
                    role=m["role"],
                    former_surname=(former[0] if former and m["surname"] != former[0] else None),
                    former_surname_kana=(former[1] if former and m["surname"] != former[0] else None),
                    mother_i=(base + m["mother"]) if m.get("mother") is not None else None,
                    father_i=(base + m["father"]) if m.get("father") is not None else None,
                    twin=bool(m.get("twin")),
                    single_parent=bool(m.get("single_parent")),
                )
            )
            idx.append(base + j)
        hh_members.append(idx)
        hh_rows.append(
            dict(
                household_key=h,
                kind=kind,
                district=districts[d],
                in_registry=h not in moved,
                remarried=h in remarried_hh,
                twins=h in twins_hh,
            )
        )

    # 3. namesakes: an only child in another family gets the same name, surname and birth date as a chosen child
    truth = Truth()
    kids = [
        i
        for i, p in enumerate(rows)
        if p["role"] == "child" and p["in_registry"] and as_of.toordinal() - p["birth_ord"] < 15 * 365
    ]
    only_child = [
        i
        for i in kids
        if sum(1 for j in hh_members[rows[i]["household_key"]] if rows[j]["role"] == "child") == 1
        and not hh_rows[rows[i]["household_key"]]["remarried"]
    ]
    r.shuffle(only_child)
    used_hh: set = set()
    for _ in range(noise.namesakes):
        pair = None
        for b in only_child:
            hb = rows[b]["household_key"]
            if hb in used_hh:
                continue
            for a in kids:
                ha = rows[a]["household_key"]
                if ha == hb or ha in used_hh or rows[a]["sex"] != rows[b]["sex"] or rows[a]["twin"]:
                    continue
                if abs(rows[a]["birth_ord"] - rows[b]["birth_ord"]) < 400:
                    pair = (a, b)
                    break
            if pair:
                break
        if not pair:
            break
        a, b = pair
        hb = rows[b]["household_key"]
        used_hh.update((rows[a]["household_key"], hb))
        old_s = rows[b]["surname"]
        for j in hh_members[hb]:
            if rows[j]["surname"] == old_s:
                rows[j]["surname"], rows[j]["surname_kana"] = rows[a]["surname"], rows[a]["surname_kana"]
        rows[b].update(
            given_name=rows[a]["given_name"], given_name_kana=rows[a]["given_name_kana"], birth_ord=rows[a]["birth_ord"]
        )
        truth.namesakes.append((rows[a]["person_key"], rows[b]["person_key"]))

    # 4. frame + identifiers
    people = pd.DataFrame(rows)
    people.index = people["person_key"].to_numpy()
    n = len(people)
    nrng = np.random.default_rng(seed)
    res_no = 10_000_000 + np.cumsum(nrng.integers(1, 60, n))
    people["resident_no"] = [f"{x:010d}" for x in res_no]
    hh_no = 200_000 + np.cumsum(nrng.integers(1, 25, len(hh_rows)))
    hh_no_s = [f"{x:08d}" for x in hh_no]
    hidx = people["household_key"].to_numpy()
    people["household_no"] = np.array(hh_no_s, dtype=object)[hidx]
    births = [dt.date.fromordinal(int(o)) for o in people["birth_ord"]]
    people["birth_date"] = births
    people["age"] = [age_on(b, as_of) for b in births]
    people["name"] = people["surname"] + "\u3000" + people["given_name"]
    people["name_kana"] = people["surname_kana"] + "\u3000" + people["given_name_kana"]
    people["mother_key"] = pd.array(
        [int(i) if i is not None and i == i else None for i in people["mother_i"]], dtype="Int64"
    )
    people["father_key"] = pd.array(
        [int(i) if i is not None and i == i else None for i in people["father_i"]], dtype="Int64"
    )
    # move-in dates for ~15 % of households, move-out for the moved-away families
    hh_move_in = [as_of - dt.timedelta(days=r.randint(30, 4000)) if r.random() < 0.15 else None for _ in hh_rows]
    hh_move_out = [as_of - dt.timedelta(days=r.randint(20, 500)) if not hh["in_registry"] else None for hh in hh_rows]
    people["move_in_date"] = [
        hh_move_in[h] if hh_move_in[h] and hh_move_in[h] > b else None for h, b in zip(hidx, births)
    ]
    people["move_out_date"] = [hh_move_out[h] for h in hidx]
    households = pd.DataFrame(hh_rows)
    households["household_no"] = hh_no_s
    households["address"] = people.groupby("household_key", sort=True)["address"].first().to_numpy()
    households["size"] = [len(m) for m in hh_members]
    truth.twins = [
        tuple(people.loc[people["twin"] & (people["household_key"] == hk), "person_key"].tolist())
        for hk in households.loc[households["twins"], "household_key"]
    ]
    truth.twins = [t for t in truth.twins if len(t) == 2]
    truth.remarried = people.loc[people["former_surname"].notna() & people["in_registry"], "person_key"].tolist()
    truth.moved_away = people.loc[~people["in_registry"], "person_key"].tolist()

    # 5. schools, grades, classes, nurseries
    _assign_schools(people, r, districts, elem, jh, nurseries, as_of)
    schools = pd.DataFrame(
        [{"school": s, "kind": "小学校"} for s in elem]
        + [{"school": s, "kind": "中学校"} for s in jh]
        + [{"school": s, "kind": "保育所"} for s in nurseries]
    )

    # 6. risks and events
    events = _plant(people, households, hh_members, r, as_of, truth)
    people = people.drop(columns=["birth_ord", "mother_i", "father_i", "district_idx"])
    cols = PEOPLE_COLUMNS + [c for c in people.columns if c not in PEOPLE_COLUMNS]
    return Town(
        seed=seed,
        as_of=as_of,
        noise=noise,
        name=N.PREFECTURE + N.TOWN_NAME,
        persons=people[cols],
        households=households,
        schools=schools,
        events=events,
        truth=truth,
    )


def _assign_schools(people: pd.DataFrame, r: random.Random, districts, elem, jh, nurseries, as_of):
    fy = fiscal_year_start(as_of)
    age_fy = np.array([age_on(b, fy) for b in people["birth_date"]])
    d = people["district_idx"].to_numpy()
    nd = len(districts)
    e_idx = (d * len(elem)) // nd
    j_idx = (e_idx * len(jh)) // len(elem)
    school = np.full(len(people), None, dtype=object)
    kind = np.full(len(people), None, dtype=object)
    grade = np.full(len(people), None, dtype=object)
    is_child = (people["role"] == "child").to_numpy()
    el = is_child & (age_fy >= 6) & (age_fy <= 11)
    jm = is_child & (age_fy >= 12) & (age_fy <= 14)
    school[el] = np.array(elem, dtype=object)[e_idx[el]]
    kind[el] = "小学校"
    grade[el] = age_fy[el] - 5
    school[jm] = np.array(jh, dtype=object)[j_idx[jm]]
    kind[jm] = "中学校"
    grade[jm] = age_fy[jm] - 11
    # a few pupils in special schools / private schools outside the town (no school record)
    away = np.array([r.random() < 0.015 for _ in range(len(people))])
    school[away & (el | jm)] = None
    kind[away & (el | jm)] = None
    grade[away & (el | jm)] = None
    people["school"], people["school_kind"], people["grade"] = school, kind, grade
    people["class"] = None
    people["student_no"] = None
    pupils = people[people["school"].notna()]
    sk_, gk_ = people["surname_kana"].tolist(), people["given_name_kana"].tolist()
    cls = {}
    sno = {}
    for (s, gr), grp in pupils.groupby(["school", "grade"], sort=True):
        n = len(grp)
        ncls = max(1, math.ceil(n / 33))
        order = list(grp.index)
        r.shuffle(order)
        by_class: dict[int, list] = {}
        for k, i in enumerate(order):
            by_class.setdefault(k % ncls + 1, []).append(i)
        for c, members in by_class.items():
            members.sort(key=lambda i: (sk_[i], gk_[i]))
            for no, i in enumerate(members, 1):
                cls[i] = c
                sno[i] = no
    people.loc[list(cls), "class"] = pd.Series(cls)
    people.loc[list(sno), "student_no"] = pd.Series(sno)
    people["grade"] = people["grade"].astype("Int64")
    people["class"] = people["class"].astype("Int64")
    people["student_no"] = people["student_no"].astype("Int64")
    pre = is_child & (age_fy <= 5)
    p_enrol = np.select([age_fy == 0, age_fy <= 2], [0.2, 0.55], 0.95)
    u = np.array([r.random() for _ in range(len(people))])
    nurs = np.full(len(people), None, dtype=object)
    enrol = pre & (u < p_enrol)
    nurs[enrol] = np.array(nurseries, dtype=object)[(d[enrol] * len(nurseries)) // nd]
    people["nursery"] = nurs


# ---------------------------------------------------------------------------------------------------------------
SCENARIOS = [
    "infant_maltreatment",
    "school_neglect",
    "single_parent_poverty_dv",
    "futoko",
    "young_carer",
    "temporary_protection",
]
SCENARIO_AGES = {
    "infant_maltreatment": (1, 2),
    "school_neglect": (7, 11),
    "single_parent_poverty_dv": (6, 14),
    "futoko": (12, 14),
    "young_carer": (10, 14),
    "temporary_protection": (4, 13),
}
MENTAL_CODES = ["F32", "F33", "F41", "F20", "F31", "F43"]


class _ChildFlags(TypedDict):
    """What a child has, decided in ``_plant`` before any record is written."""

    yotaikyo: tuple[str, str, bool] | None  # (category, status, temporary protection)
    futoko: bool
    absence: int
    late: int
    nurse: int
    caries: int
    missed: set[str]  # infant check-ups not attended
    q: dict[str, bool]  # check-up questionnaire answers
    vacc_missing: set[str]
    low_weight: bool
    dev: str | None
    mental: str | None
    carer: bool
    consult: list[tuple[str, bool]]  # (category, DV support measure)


def _plant(
    people: pd.DataFrame,
    households: pd.DataFrame,
    hh_members: list[list[int]],
    r: random.Random,
    as_of: dt.date,
    truth: Truth,
) -> dict[str, pd.DataFrame]:
    """Decide who has what (flags), plant strong cases, then write ground-truth records per source type."""
    P = people
    role = P["role"].to_numpy()
    age = P["age"].to_numpy()
    sex = P["sex"].to_numpy()
    births = P["birth_date"].tolist()
    keys = P["person_key"].tolist()
    mother_i = P["mother_i"].tolist()
    school = [v if isinstance(v, str) else None for v in P["school"].tolist()]
    kind = [v if isinstance(v, str) else None for v in P["school_kind"].tolist()]
    in_reg = P["in_registry"].to_numpy()
    o0 = as_of.toordinal()
    fy0 = fiscal_year_start(as_of)
    U = r.random
    D = dt.timedelta

    def past(lo_days: int, hi_days: int, not_before: dt.date | None = None) -> dt.date:
        d = as_of - D(days=r.randint(lo_days, hi_days))
        if not_before and d < not_before:
            d = not_before + D(days=r.randint(0, max(0, (as_of - not_before).days - 1)))
        return min(d, as_of - D(days=1))

    # --- household flags
    hh_kind = households["kind"].tolist()
    HH = []
    for h, members in enumerate(hh_members):
        k = hh_kind[h]
        ch = [i for i in members if role[i] == "child"]
        adults = [i for i in members if role[i] != "child"]
        parents = [i for i in members if role[i] == "parent"]
        single = k == "single_parent"
        skip = k == "skip_gen"
        f = dict(
            kind=k,
            children=ch,
            adults=adults,
            parents=parents,
            poor=False,
            pa=False,
            pa_ended=False,
            hikazei=False,
            parent_mh=None,
            parent_phys=None,
            dv=False,
            maltreat=False,
            allowance=None,
            mother=next((i for i in parents if sex[i] == 2), None),
        )
        if ch:
            young_parent = any(age[i] < 24 for i in parents)
            f["poor"] = U() < 0.05 + 0.36 * single + 0.25 * skip + 0.1 * young_parent
            f["pa"] = f["poor"] and U() < 0.18 + 0.14 * single
            f["pa_ended"] = (not f["pa"]) and U() < 0.02 + 0.05 * f["poor"]
            f["hikazei"] = f["poor"] or U() < 0.03
            if parents and U() < 0.02 + 0.06 * single + 0.03 * f["poor"]:
                f["parent_mh"] = f["mother"] if f["mother"] is not None else parents[0]
            if parents and U() < 0.015:
                f["parent_phys"] = r.choice(parents)
            f["dv"] = f["mother"] is not None and U() < 0.004 + 0.09 * single
            f["maltreat"] = (
                U() < 0.006 + 0.03 * f["poor"] + 0.05 * bool(f["parent_mh"]) + 0.04 * f["dv"] + 0.01 * single
            )
            if single:
                f["allowance"] = (
                    "全部支給" if f["poor"] else r.choices(["一部支給", "支給停止", None], [0.6, 0.15, 0.25])[0]
                )
            elif skip and f["poor"]:
                f["allowance"] = "全部支給" if U() < 0.5 else None
        HH.append(f)
    hh_of = P["household_key"].to_numpy()

    # --- child flags
    C: dict[int, _ChildFlags] = {}
    for h, f in enumerate(HH):
        for i in f["children"]:
            if age[i] > 18:
                continue
            m = f["maltreat"]
            pupil = school[i] is not None
            c = _ChildFlags(
                yotaikyo=None,
                futoko=False,
                absence=0,
                late=0,
                nurse=0,
                caries=0,
                missed=set(),
                q={},
                vacc_missing=set(),
                low_weight=False,
                dev=None,
                mental=None,
                carer=False,
                consult=[],
            )
            if m and U() < 0.55:
                cat = r.choices(["身体的虐待", "ネグレクト", "心理的虐待", "性的虐待"], [0.3, 0.4, 0.27, 0.03])[0]
                c["yotaikyo"] = (cat, "継続" if U() < 0.7 else "終結", U() < 0.08)
            elif U() < 0.003:
                c["yotaikyo"] = ("要支援", "終結" if U() < 0.6 else "継続", False)
            if pupil:
                jhs = kind[i] == "中学校"
                c["futoko"] = U() < (0.035 if jhs else 0.01) + 0.06 * m + 0.03 * f["poor"]
                c["absence"] = (
                    r.randint(30, 110)
                    if c["futoko"]
                    else min(29, int(r.expovariate(1 / (2.5 + 6 * m + 2 * f["poor"]))))
                )
                c["late"] = min(60, int(r.expovariate(1 / (1.2 + 8 * m + 2 * f["poor"] + 3 * c["futoko"]))))
                c["nurse"] = min(80, int(r.expovariate(1 / (1.8 + 6 * m + 6 * c["futoko"]))))
                c["caries"] = 0 if U() < 0.78 - 0.4 * m - 0.2 * f["poor"] else r.randint(1, 3 + 5 * m)
                c["low_weight"] = U() < 0.02 + 0.25 * m
                if jhs or (kind[i] == "小学校" and age[i] >= 9):
                    p_sup = 0.015 + 0.3 * c["futoko"] + 0.1 * m
                    x = U()
                    c["mental"] = "要支援" if x < p_sup else "要観察" if x < p_sup + 0.07 else "問題なし"
            if age[i] <= 6:
                miss = 0.03 + 0.3 * m + 0.05 * f["poor"]
                for ct in ("4か月", "1歳6か月", "3歳"):
                    if U() < miss:
                        c["missed"].add(ct)
                q_odds = {
                    "q_hit_emotionally": 0.05 + 0.35 * m,
                    "q_left_alone": 0.02 + 0.2 * m,
                    "q_not_fed": 0.004 + 0.12 * m,
                    "q_covered_mouth": 0.003 + 0.1 * m,
                    "q_shook": 0.003 + 0.1 * m,
                }
                c["q"] = {k: (U() < p) for k, p in q_odds.items()}
                for v in ("五種混合", "BCG", "MR1期", "MR2期"):
                    if U() < 0.025 + 0.3 * m + 0.05 * f["poor"]:
                        c["vacc_missing"].add(v)
            if U() < 0.025:
                c["dev"] = "障害児支援" if age[i] <= 15 and U() < 0.7 else "療育"
            carer_home = f["parent_phys"] is not None or f["parent_mh"] is not None
            if 10 <= age[i] <= 17 and carer_home and U() < 0.3:
                c["carer"] = True
                if pupil:
                    c["absence"] = max(c["absence"], r.randint(12, 45))
                    c["late"] = max(c["late"], r.randint(8, 30))
                if U() < 0.5:
                    c["consult"].append(("ヤングケアラー", False))
            if c["futoko"] and U() < 0.4:
                c["consult"].append(("不登校", False))
            if c["dev"] and U() < 0.3:
                c["consult"].append(("発達", False))
            C[i] = c

    # --- mother flags (per mother of a child born in the last 3 years)
    MO: dict[int, dict] = {}
    for i, c in C.items():
        mi = mother_i[i]
        if mi is None or mi != mi:
            continue
        mi = int(mi)
        if o0 - births[i].toordinal() > 3 * 365 + 30:
            continue
        f = HH[hh_of[i]]
        mh = f["parent_mh"] == mi
        mo = MO.setdefault(mi, {"births": []})
        mo["births"].append(i)
        if "epds" not in mo:
            mo["epds"] = r.randint(9, 22) if (mh and U() < 0.7) or U() < 0.07 else min(8, int(r.expovariate(1 / 3)))
            late = U() < 0.05 + 0.25 * f["maltreat"] + 0.08 * f["poor"]
            mo["weeks"] = r.randint(20, 30) if late and U() < 0.3 else r.randint(12, 19) if late else r.randint(6, 11)
            mo["prenatal_missed"] = U() < 0.02 + 0.3 * f["maltreat"] + 0.05 * f["poor"]

    # --- strong cases
    n_children = sum(1 for i in C if in_reg[i])
    n_strong = max(len(SCENARIOS), round(0.012 * n_children))
    used_hh: set = set()
    avoid = {k for pair in truth.namesakes for k in pair} | {k for pair in truth.twins for k in pair}
    twin = P["twin"].tolist()
    hh_remarried = households["remarried"].tolist()
    cands = [i for i in C if in_reg[i] and keys[i] not in avoid and not twin[i] and not hh_remarried[hh_of[i]]]
    r.shuffle(cands)
    for s in range(n_strong):
        scen = SCENARIOS[s % len(SCENARIOS)]
        lo, hi = SCENARIO_AGES[scen]
        pick = None
        for i in cands:
            h = hh_of[i]
            if h in used_hh or not (lo <= age[i] <= hi):
                continue
            f = HH[h]
            if scen in ("school_neglect", "futoko") and school[i] is None:
                continue
            if scen == "school_neglect" and kind[i] != "小学校":
                continue
            if scen == "futoko" and kind[i] != "中学校":
                continue
            if scen == "single_parent_poverty_dv" and not (
                f["kind"] == "single_parent" and f["mother"] is not None and school[i] is not None
            ):
                continue
            if scen == "young_carer" and (not f["parents"] or school[i] is None):
                continue
            if scen == "infant_maltreatment" and (mother_i[i] is None or mother_i[i] != mother_i[i]):
                continue
            pick = i
            break
        if pick is None:
            continue
        i = pick
        h = hh_of[i]
        used_hh.add(h)
        f = HH[h]
        c = C[i]
        pl: dict[str, Any] = {}
        if scen == "infant_maltreatment":
            c["yotaikyo"] = ("身体的虐待", "継続", False)
            pl["yotaikyo"] = "身体的虐待/継続"
            if age[i] >= 2 or o0 - births[i].toordinal() > 600:
                c["missed"].add("1歳6か月")
                pl["checkup_missed"] = "1歳6か月"
            c["q"].update(q_hit_emotionally=True, q_shook=True)
            pl["q_hit_emotionally"] = pl["q_shook"] = True
            c["vacc_missing"].add("MR1期")
            pl["vaccination_missing"] = "MR1期"
            mi = int(mother_i[i])
            mo = MO.setdefault(mi, {"births": [i]})
            mo["epds"], mo["weeks"], mo["prenatal_missed"] = 16, 24, True
            pl["prenatal_missed(mother)"] = True
            pl["epds_score(mother)"] = 16
            pl["weeks_at_notification(mother)"] = 24
            f["maltreat"] = True
            f["consult_ikuji"] = True
            pl["consultation(mother)"] = "育児"
        elif scen == "school_neglect":
            c["yotaikyo"] = ("ネグレクト", "継続", False)
            c.update(
                {
                    "absence": r.randint(34, 60),
                    "late": r.randint(20, 40),
                    "nurse": r.randint(15, 30),
                    "caries": r.randint(5, 9),
                    "low_weight": True,
                }
            )
            f.update(poor=True, pa=True, hikazei=True)
            pl.update(
                yotaikyo="ネグレクト/継続",
                absence_days=c["absence"],
                late_days=c["late"],
                nurse_visits=c["nurse"],
                untreated_caries=c["caries"],
                public_assistance="(household)",
                school_assistance="要保護",
            )
        elif scen == "single_parent_poverty_dv":
            f.update(
                poor=True,
                hikazei=True,
                allowance="全部支給",
                dv=True,
                parent_mh=f["mother"],
                dv_measure=True,
                parent_mh_certain=True,
            )
            c["absence"] = max(c["absence"], r.randint(30, 50))
            pl.update(
                {
                    "child_rearing_allowance": "全部支給",
                    "tax(household)": "非課税",
                    "school_assistance": "準要保護",
                    "consultation(mother)": "DV/支援措置あり",
                    "disability(mother)": "精神",
                    "absence_days": c["absence"],
                }
            )
        elif scen == "futoko":
            c.update(
                {
                    "futoko": True,
                    "absence": r.randint(70, 115),
                    "late": r.randint(15, 30),
                    "nurse": r.randint(10, 25),
                    "mental": "要支援",
                    "yotaikyo": ("要支援", "継続", False),
                }
            )
            c["consult"].append(("不登校", False))
            pl.update(
                absence_days=c["absence"],
                late_days=c["late"],
                nurse_visits=c["nurse"],
                mental_check_result="要支援",
                yotaikyo="要支援/継続",
                consultation="不登校",
            )
        elif scen == "young_carer":
            par = f["mother"] if f["mother"] is not None else f["parents"][0]
            f.update(parent_mh=par, parent_mh_certain=True, hikazei=True)
            c.update(
                {"carer": True, "absence": r.randint(30, 45), "late": r.randint(20, 35), "nurse": r.randint(10, 20)}
            )
            c["consult"].append(("ヤングケアラー", False))
            pl.update(
                {
                    "disability(parent)": "精神",
                    "tax(household)": "非課税",
                    "absence_days": c["absence"],
                    "late_days": c["late"],
                    "nurse_visits": c["nurse"],
                    "consultation": "ヤングケアラー",
                }
            )
        elif scen == "temporary_protection":
            c["yotaikyo"] = ("身体的虐待", "継続", True)
            f["maltreat"] = True
            if f["mother"] is not None:
                f["dv"] = True
                pl["consultation(mother)"] = "DV"
            if school[i] is not None:
                c["absence"] = max(c["absence"], r.randint(30, 40))
                pl["absence_days"] = c["absence"]
            pl["yotaikyo"] = "身体的虐待/継続/一時保護"
        truth.planted.append(PlantedCase(int(keys[i]), int(hh_of[i]), scen, pl))
        truth.strong_cases.append(int(keys[i]))
    strong_children = set(truth.strong_cases)

    # --- ground-truth records per source type
    ev: dict[str, list[dict]] = {
        s: []
        for s in (
            "maternal_child_health",
            "public_assistance",
            "child_rearing_allowance",
            "school_assistance",
            "tax",
            "disability",
            "school_attendance",
            "school_health",
            "yotaikyo",
            "consultation",
        )
    }
    case_no = [0]

    def yota(i, cat, status, tp, lead):
        reg = past(30, 2000, births[i] if age[i] < 19 else None)
        closed = None
        if status == "終結":
            closed = min(as_of - D(days=5), reg + D(days=r.randint(90, 900)))
        case_no[0] += 1
        ev["yotaikyo"].append(
            dict(
                person_key=keys[i],
                case_no=f"{(reg.year - 2018):02d}-{case_no[0]:03d}",
                registered_date=reg,
                category=cat,
                status=status,
                temporary_protection=tp,
                closed_date=closed,
                lead_agency=lead,
            )
        )

    for i, c in C.items():
        f = HH[hh_of[i]]
        if c["yotaikyo"]:
            cat, status, tp = c["yotaikyo"]
            lead = (
                "児童相談所" if tp else r.choice(["こども家庭センター", "こども家庭センター", "学校", "保健センター"])
            )
            yota(i, cat, status, tp, lead)
        if school[i] is not None:
            ev["school_attendance"].append(
                dict(
                    person_key=keys[i],
                    period=school_period(as_of),
                    absence_days=min(c["absence"], SCHOOL_DAYS),
                    late_days=c["late"],
                    nurse_visits=c["nurse"],
                    early_leave_days=min(10, int(r.expovariate(1 / 1.0))),
                    mental_check_result=c["mental"],
                )
            )
            a = age[i]
            h_cm = round(r.gauss(116 + 5.8 * (a - 6), 5), 1)
            bmi = r.gauss(16 + 0.35 * (a - 6), 1.6) - (2.5 if c["low_weight"] else 0)
            ev["school_health"].append(
                dict(
                    person_key=keys[i],
                    checkup_date=min(as_of - D(days=1), dt.date(fy0.year, r.choice([4, 5, 5, 6]), r.randint(8, 28))),
                    height=h_cm,
                    weight=round(max(14, bmi * (h_cm / 100) ** 2), 1),
                    untreated_caries=c["caries"],
                )
            )
            assist: str | None = None
            if f["pa"]:
                assist = "要保護"
            elif f["poor"] and U() < 0.85 or (not f["poor"] and U() < 0.035):
                assist = "準要保護"
            if keys[i] in strong_children and f.get("allowance") == "全部支給" and not f["pa"]:
                assist = "準要保護"
            if assist:
                guardian = (
                    f["mother"] if f["mother"] is not None else (f["parents"][0] if f["parents"] else f["adults"][0])
                )
                ev["school_assistance"].append(
                    dict(
                        person_key=keys[i],
                        guardian_key=keys[guardian],
                        category=assist,
                        start_date=fy0 if U() < 0.75 else past(20, 200, fy0),
                        fiscal_year=f"令和{reiwa_fy(as_of)}年度",
                    )
                )
        # maternal and child health: infant check-ups and vaccinations
        b = births[i]
        if o0 - b.toordinal() <= 5 * 365 + 200:
            for ct, months, spread in (("4か月", 4, 30), ("1歳6か月", 18, 60), ("3歳", 40, 60)):
                due = _add_months(b, months)
                if due + D(days=spread) > as_of:
                    continue
                if ct in c["missed"]:
                    ev["maternal_child_health"].append(
                        dict(
                            person_key=keys[i],
                            record_kind="乳幼児健診",
                            checkup_type=ct,
                            checkup_date=None,
                            checkup_status="未受診",
                        )
                    )
                    continue
                rec: dict[str, object] = dict(
                    person_key=keys[i],
                    record_kind="乳幼児健診",
                    checkup_type=ct,
                    checkup_date=due + D(days=r.randint(0, spread)),
                    checkup_status="受診",
                )
                for q, answer in c["q"].items():
                    if ct == "3歳" and q in ("q_covered_mouth", "q_shook"):
                        continue
                    rec[q] = answer
                if ct != "4か月":
                    rec["weight_percentile"] = (
                        r.choice([1, 2, 3])
                        if c["low_weight"] or U() < 0.02
                        else r.choice([10, 25, 25, 50, 50, 50, 75, 75, 90, 97])
                    )
                ev["maternal_child_health"].append(rec)
            fy = fiscal_year_start(as_of)
            for v, months in (("五種混合", 3), ("BCG", 6), ("MR1期", 13)):
                due = _add_months(b, months)
                if due > as_of:
                    continue
                miss = v in c["vacc_missing"]
                ev["maternal_child_health"].append(
                    dict(
                        person_key=keys[i],
                        record_kind="予防接種",
                        vaccine=v,
                        vaccination_status="未接種" if miss else "接種",
                        vaccination_date=None if miss else min(as_of - D(days=1), due + D(days=r.randint(0, 60))),
                    )
                )
            if age_on(b, fy) == 5:  # 年長: MR 2期 due this fiscal year
                miss = "MR2期" in c["vacc_missing"]
                ev["maternal_child_health"].append(
                    dict(
                        person_key=keys[i],
                        record_kind="予防接種",
                        vaccine="MR2期",
                        vaccination_status="未接種" if miss else "接種",
                        vaccination_date=None if miss else past(1, (as_of - fy).days),
                    )
                )
        if c["dev"]:
            if c["dev"] == "障害児支援":
                ev["disability"].append(
                    dict(
                        person_key=keys[i],
                        certificate_type="障害児支援",
                        grade_level=None,
                        mental_disorder_code=None,
                        recipient_cert_no=f"{r.randint(1000000000, 9999999999)}",
                        start_date=past(30, 1500, b + D(days=365)),
                    )
                )
            else:
                ev["disability"].append(
                    dict(
                        person_key=keys[i],
                        certificate_type="療育",
                        grade_level=r.choice(["A", "B", "B"]),
                        mental_disorder_code=None,
                        recipient_cert_no=None,
                        start_date=past(30, 2500, b + D(days=365)),
                    )
                )
        for cat, meas in c["consult"]:
            ev["consultation"].append(
                dict(person_key=keys[i], consultation_date=past(10, 700), category=cat, dv_support_measure=meas)
            )

    for mi, mo in MO.items():
        for i in sorted(set(mo["births"]), key=lambda j: births[j]):
            b = births[i]
            if any(births[j] == b and j < i for j in mo["births"]):
                continue  # twins: one pregnancy
            w = mo.get("weeks", r.randint(6, 11))
            notif = b - D(days=(39 - w) * 7 + r.randint(0, 10))
            ev["maternal_child_health"].append(
                dict(
                    person_key=keys[mi],
                    record_kind="妊娠届",
                    notification_date=notif,
                    weeks_at_notification=w,
                    due_date=notif + D(days=(40 - w) * 7),
                    child_key=keys[i],
                )
            )
            missed = bool(mo.get("prenatal_missed"))
            ev["maternal_child_health"].append(
                dict(
                    person_key=keys[mi],
                    record_kind="妊婦健診",
                    checkup_date=None if missed else b - D(days=r.randint(3, 20)),
                    checkup_status="未受診" if missed else "受診",
                    child_key=keys[i],
                )
            )
            if o0 - b.toordinal() <= 3 * 365 + 30 and b + D(days=40) <= as_of:
                ev["maternal_child_health"].append(
                    dict(
                        person_key=keys[mi],
                        record_kind="産婦健診",
                        checkup_date=b + D(days=r.choice([14, 14, 28, 30, 35])),
                        epds_score=mo.get("epds", 3),
                        child_key=keys[i],
                    )
                )
            mo["weeks"] = r.randint(6, 11)  # a later pregnancy is notified on time
            mo["prenatal_missed"] = False
            mo["epds"] = min(8, int(r.expovariate(1 / 3))) if mo.get("epds", 0) < 9 or U() < 0.5 else mo["epds"]

    # household-level records
    for h, f in enumerate(HH):
        members = hh_members[h]
        if f["children"] and f["kind"] in CHILD_TYPES:
            if f["pa"] or f["pa_ended"]:
                start = past(200, 3500)
                end = None if f["pa"] else min(as_of - D(days=10), start + D(days=r.randint(180, 1500)))
                case = f"{r.randint(1, 999):03d}-{h + 1:05d}"
                for i in members:
                    if births[i] > start:
                        continue
                    ev["public_assistance"].append(
                        dict(
                            person_key=keys[i],
                            case_no=case,
                            start_date=start,
                            end_date=end,
                            status="保護中" if f["pa"] else "廃止",
                        )
                    )
            if f["allowance"]:
                recip = f["parents"][0] if f["parents"] else f["adults"][0]
                for i in f["children"]:
                    if age[i] > 18:
                        continue
                    start = past(40, 3600, births[i] + D(days=30))
                    ev["child_rearing_allowance"].append(
                        dict(
                            person_key=keys[i],
                            recipient_key=keys[recip],
                            start_date=start,
                            payment_category=f["allowance"],
                        )
                    )
            if any(age[i] <= 18 for i in f["children"]) and in_reg[members[0]]:
                for i in members:
                    if age[i] >= 18 and role[i] != "child":
                        ev["tax"].append(
                            dict(
                                person_key=keys[i],
                                tax_status="非課税" if f["hikazei"] else "課税",
                                fiscal_year=f"令和{reiwa_fy(as_of)}年度",
                            )
                        )
            if f["parent_mh"] is not None:
                i = f["parent_mh"]
                if U() < 0.7 or f.get("parent_mh_certain"):
                    ev["disability"].append(
                        dict(
                            person_key=keys[i],
                            certificate_type="精神",
                            grade_level=r.choice(["2級", "2級", "3級", "1級"]),
                            mental_disorder_code=r.choice(MENTAL_CODES),
                            recipient_cert_no=None,
                            start_date=past(60, 3000),
                        )
                    )
            if f["parent_phys"] is not None:
                ev["disability"].append(
                    dict(
                        person_key=keys[f["parent_phys"]],
                        certificate_type="身体",
                        grade_level=f.get("parent_phys_grade") or r.choice(["1級", "2級", "3級", "4級"]),
                        mental_disorder_code=None,
                        recipient_cert_no=None,
                        start_date=past(60, 4000),
                    )
                )
            if f["dv"] and f["mother"] is not None:
                meas = f.get("dv_measure", U() < 0.5)
                ev["consultation"].append(
                    dict(
                        person_key=keys[f["mother"]],
                        consultation_date=past(10, 900),
                        category="DV",
                        dv_support_measure=bool(meas),
                    )
                )
            if f["mother"] is not None and (
                f.get("consult_ikuji") or (any(age[i] <= 5 for i in f["children"]) and U() < 0.03)
            ):
                ev["consultation"].append(
                    dict(
                        person_key=keys[f["mother"]],
                        consultation_date=past(10, 600),
                        category="育児",
                        dv_support_measure=False,
                    )
                )
            if f["poor"] and f["mother"] is not None and U() < 0.12:
                ev["consultation"].append(
                    dict(
                        person_key=keys[f["mother"]],
                        consultation_date=past(10, 600),
                        category="経済",
                        dv_support_measure=False,
                    )
                )
        else:
            # background: elders and adults with certificates or public assistance
            for i in members:
                if role[i] in ("elder", "adult", "adult_child", "grandparent") and U() < (
                    0.07 if age[i] >= 65 else 0.012
                ):
                    ev["disability"].append(
                        dict(
                            person_key=keys[i],
                            certificate_type="身体",
                            grade_level=r.choice(["1級", "2級", "3級", "4級", "5級", "6級"]),
                            mental_disorder_code=None,
                            recipient_cert_no=None,
                            start_date=past(60, 7000),
                        )
                    )
                elif role[i] in ("adult", "adult_child") and U() < 0.008:
                    ev["disability"].append(
                        dict(
                            person_key=keys[i],
                            certificate_type="精神",
                            grade_level=r.choice(["2級", "3級"]),
                            mental_disorder_code=r.choice(MENTAL_CODES),
                            recipient_cert_no=None,
                            start_date=past(60, 3000),
                        )
                    )
            if U() < (0.025 if f["kind"] in ("single_elder", "single_adult") else 0.004):
                start = past(200, 5000)
                case = f"{r.randint(1, 999):03d}-{h + 1:05d}"
                for i in members:
                    ev["public_assistance"].append(
                        dict(person_key=keys[i], case_no=case, start_date=start, end_date=None, status="保護中")
                    )
    # 特定妊婦: a few young or struggling mothers of newborns, registered before the birth
    for mi, mo in MO.items():
        f = HH[hh_of[mi]]
        if (f["poor"] or f["parent_mh"] == mi) and U() < 0.25:
            b = min(births[j] for j in mo["births"])
            reg = b - D(days=r.randint(30, 150))
            case_no[0] += 1
            ev["yotaikyo"].append(
                dict(
                    person_key=keys[mi],
                    case_no=f"{(reg.year - 2018):02d}-{case_no[0]:03d}",
                    registered_date=reg,
                    category="特定妊婦",
                    status="終結" if U() < 0.6 else "継続",
                    temporary_protection=False,
                    closed_date=None,
                    lead_agency="保健センター",
                )
            )
            if ev["yotaikyo"][-1]["status"] == "終結":
                ev["yotaikyo"][-1]["closed_date"] = min(as_of - D(days=5), b + D(days=r.randint(60, 400)))

    # 要対協 case numbers in order of registration: <和暦年>-<連番>
    ev["yotaikyo"].sort(key=lambda e: (e["registered_date"], e["person_key"]))
    seq: dict[int, int] = {}
    for e in ev["yotaikyo"]:
        y = e["registered_date"].year - 2018
        seq[y] = seq.get(y, 0) + 1
        e["case_no"] = f"{y:02d}-{seq[y]:03d}"
    out: dict[str, pd.DataFrame] = {}
    for src, recs in ev.items():
        df = pd.DataFrame(recs)
        if df.empty:
            df = pd.DataFrame(columns=["person_key"])
        out[src] = df
    return out
