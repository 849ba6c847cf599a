"""The demo town's department files, written the way departments really send them.

CP932 CSV with CRLF (a UTF-8-with-BOM CSV from one newer system), Excel with title rows above the header, a merged
title, bold headers and column widths, 和暦 dates in several spellings (``H27.4.5``, ``平成27年4月5日``, ``H27/04/05``),
Excel date cells shown in 和暦, ``YYYYMMDD`` from a mainframe, half-width kana, hiragana readings from schools,
旧字体/異体字 (髙/高, 﨑/崎, 齋/斎, 邊/辺, and 𠮷 in Excel only), kana slips, day/month swaps, missing 宛名番号,
full-width digits, 「不明」 in optional date cells, blank rows, a step family's former surname, people who moved away,
and a few planted invalid rows (impossible dates, sex ``X``).

``write_department_files`` returns, per file, the truth for evaluation — the row number as the user sees it (title and
header rows count) and the true person key of every data row, the planted invalid cells, the 不明 cells, blank rows
and the noise applied per row. None of that is written into the output folder: it holds only the department files
and ``sources.csv`` (``file_name,source_type``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jaconv
import pandas as pd

from ..calendar import ERAS, fiscal_year, format_wareki
from ..vocab import SEX_LABELS
from . import names as N
from .town import Town, reiwa_fy, school_period

# --- headers (module constants: HEADERS_USED is the union, per source type) -----------------------------------------
H_REGISTRY = ["宛名番号", "世帯番号", "氏名", "フリガナ", "生年月日", "性別", "続柄", "住所", "転入年月日"]
H_MCH_INFANT = [
    "宛名番号",
    "氏名",
    "フリガナ",
    "生年月日",
    "性別",
    "住所",
    "健診種別",
    "受診日",
    "受診状況",
    "体重パーセンタイル",
    "感情的に叩いた",
    "家に残して外出",
    "長時間食事を与えなかった",
    "子どもの口をふさいだ",
    "子どもを激しく揺さぶった",
]
H_MCH_MATERNAL = [
    "宛名番号",
    "氏名",
    "フリガナ",
    "生年月日",
    "事業名",
    "実施日",
    "届出時妊娠週数",
    "受診状況",
    "EPDS点数",
]
H_MCH_VACCINE = ["宛名番号", "氏名", "カナ氏名", "生年月日", "性別", "予防接種名", "接種状況", "接種日"]
# school_attendance: four layouts, rotated over the schools (no 宛名番号 in any of them)
H_ATT = [
    ["学年", "組", "出席番号", "児童氏名", "ふりがな", "性別", "生年月日", "欠席日数", "遅刻日数", "保健室来室回数"],
    [
        "学校名",
        "氏名",
        "カナ氏名",
        "性別",
        "生年月日",
        "学年",
        "組",
        "出席番号",
        "欠席日数",
        "遅刻日数",
        "保健室利用回数",
    ],
    ["学年", "組", "出席番号", "姓", "名", "セイ", "メイ", "生年月日", "性別", "欠席", "遅刻", "保健室"],
    [
        "対象期間",
        "学校名",
        "学年",
        "組",
        "出席番号",
        "生徒氏名",
        "フリガナ",
        "性別",
        "生年月日",
        "欠席日数",
        "遅刻日数",
        "保健室来室回数",
        "心の健康観察",
    ],
]
H_SCHOOL_HEALTH = [
    "学校名",
    "学年",
    "組",
    "出席番号",
    "氏名",
    "ふりがな",
    "性別",
    "生年月日",
    "健診日",
    "体重",
    "未処置歯数",
]
H_YOTAIKYO = [
    "ケース番号",
    "登録日",
    "宛名番号",
    "氏名",
    "ふりがな",
    "生年月日",
    "性別",
    "区分",
    "一時保護",
    "進行状況",
    "終結日",
]
H_ALLOWANCE = [
    "受給者宛名番号",
    "受給者氏名",
    "受給者フリガナ",
    "住所",
    "対象児童氏名",
    "対象児童フリガナ",
    "対象児童生年月日",
    "対象児童性別",
    "支給開始年月日",
    "支給区分",
]
H_SCHOOL_ASSIST = [
    "学校名",
    "学年",
    "組",
    "児童宛名番号",
    "児童生徒氏名",
    "ふりがな",
    "生年月日",
    "性別",
    "保護者氏名",
    "区分",
    "認定日",
]
H_TAX = ["宛名番号", "世帯番号", "氏名", "ﾌﾘｶﾞﾅ", "生年月日", "性別", "課税年度", "課税区分"]
H_DISABILITY = [
    "宛名番号",
    "氏名",
    "フリガナ",
    "生年月日",
    "性別",
    "手帳種別",
    "等級",
    "主たる精神障害コード",
    "受給者証番号",
    "交付年月日",
]
H_PUBLIC_ASSIST = [
    "ケース番号",
    "宛名番号",
    "氏名",
    "フリガナ",
    "生年月日",
    "性別",
    "続柄",
    "保護開始日",
    "保護廃止日",
    "保護状況",
]
H_CONSULT = ["受付番号", "相談日", "宛名番号", "氏名", "フリガナ", "生年月日", "性別", "相談種別", "DV等支援措置"]


def _union(*lists) -> list[str]:
    out: list[str] = []
    for lst in lists:
        out += [h for h in lst if h not in out]
    return out


# per source type, the header row of each file layout (a file's headers map as a whole: each field once)
HEADERS_BY_FILE: dict[str, list[list[str]]] = {
    "resident_registry": [list(H_REGISTRY)],
    "maternal_child_health": [list(H_MCH_INFANT), list(H_MCH_MATERNAL), list(H_MCH_VACCINE)],
    "school_attendance": [list(h) for h in H_ATT],
    "school_health": [list(H_SCHOOL_HEALTH)],
    "yotaikyo": [list(H_YOTAIKYO)],
    "child_rearing_allowance": [list(H_ALLOWANCE)],
    "school_assistance": [list(H_SCHOOL_ASSIST)],
    "tax": [list(H_TAX)],
    "disability": [list(H_DISABILITY)],
    "public_assistance": [list(H_PUBLIC_ASSIST)],
    "consultation": [list(H_CONSULT)],
}
# every header string used, per source type (the union of the layouts: synonyms such as 氏名/児童氏名/生徒氏名 appear
# together here although no single file has more than one of them)
HEADERS_USED: dict[str, list[str]] = {k: _union(*v) for k, v in HEADERS_BY_FILE.items()}


@dataclass
class DeptFile:
    """One department file and, for evaluation only, its truth (kept in memory, never written)."""

    file_name: str
    source_type: str
    path: Path
    rows: list[tuple[int, int]] = field(default_factory=list)  # (row number as the user sees it, person_key)
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)  # (row number, column header) planted invalid
    unknown_cells: list[tuple[int, str]] = field(default_factory=list)  # (row number, column header) holding 「不明」
    empty_rows: list[int] = field(default_factory=list)  # blank rows (no data, not in ``rows``)
    noise: dict[int, list[str]] = field(default_factory=dict)  # row number -> noise applied to that row
    related: dict[int, int] = field(default_factory=dict)  # row number -> recipient/guardian person key
    header_row: int = 1
    format: str = ""  # csv / xlsx
    encoding: str | None = None
    sheet: str | None = None

    def truth_frame(self) -> pd.DataFrame:
        """One row per data row: row_number, person_key, invalid (bool), noise (';'-joined), related_key."""
        inv = {r for r, _ in self.invalid_rows}
        return pd.DataFrame(
            {
                "row_number": [r for r, _ in self.rows],
                "person_key": [k for _, k in self.rows],
                "invalid": [r in inv for r, _ in self.rows],
                "noise": [";".join(self.noise.get(r, [])) for r, _ in self.rows],
                "related_key": [self.related.get(r) for r, _ in self.rows],
            }
        )


# --- dates --------------------------------------------------------------------------------------------------------------
def wareki(d: dt.date, style: str = "kanji") -> str:
    """和暦 as departments write it: kanji 平成27年4月5日 (元年 for year 1), letter H27.4.5, slash H27/04/05,
    letter0 H27.04.05 — the importer's own formatter, so the demo writes exactly what the reader parses."""
    if d < ERAS[0].start:
        return d.isoformat()
    return format_wareki(d, "gannen" if style == "kanji" else style)


def fmt_date(d: dt.date | None, style: str) -> str | dt.date:
    if d is None:
        return ""
    if style == "excel":
        return d
    if style == "iso_slash":
        return f"{d.year}/{d.month:02d}/{d.day:02d}"
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "ymd8":
        return f"{d.year}{d.month:02d}{d.day:02d}"
    if style == "hyphen":
        return d.isoformat()
    return wareki(d, style)


def _bad_date(d: dt.date, style: str) -> str:
    """An impossible date in the file's own spelling (what a mistyped cell looks like)."""
    y = d.year if d.year % 4 else d.year + 1  # a non-leap year: 2月29日 would be wrong too, 30 always is
    if style in ("letter", "slash", "letter0"):
        return wareki(dt.date(y, 2, 1), "letter").rsplit(".", 2)[0] + ".2.30"
    if style == "kanji":
        return wareki(dt.date(y, 2, 1), "kanji").split("年")[0] + "年2月30日"
    if style == "ymd8":
        return f"{y}0230"
    return f"{y}/02/30"


_FW = str.maketrans("0123456789", "０１２３４５６７８９")


def fullwidth(s) -> str:
    return str(s).translate(_FW)


_ADDR = re.compile(r"^(?P<pref>.+?県)?(?P<town>.+?町)(?P<rest>.*)$")
_CHOME = re.compile(r"([〇一二三四五六七八九十]+)丁目(\d+)番地(\d+)")
_KNUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def address_variant(addr: str, style: int) -> str:
    """Another department's way of writing the same address."""
    m = _ADDR.match(addr)
    if not m:
        return addr
    town, rest = m.group("town"), m.group("rest")
    c = _CHOME.search(rest)
    if style == 0:  # no prefecture
        return town + rest
    if style == 1 and c:  # 4丁目13-8
        return town + rest[: c.start()] + f"{_KNUM.get(c.group(1), 1)}丁目{c.group(2)}-{c.group(3)}" + rest[c.end() :]
    if style == 2 and c:  # 駅前4-13-8, no town, no building
        return rest[: c.start()] + f"{_KNUM.get(c.group(1), 1)}-{c.group(2)}-{c.group(3)}"
    if style == 3:  # full-width digits
        return fullwidth(town + rest)
    return town + rest


# --- one person as a department writes them -----------------------------------------------------------------------------
class _Ident:
    __slots__ = ("surname", "given", "surname_kana", "given_kana", "birth", "sex", "tags")

    def __init__(self, surname, given, surname_kana, given_kana, birth, sex, tags):
        self.surname, self.given, self.surname_kana, self.given_kana = surname, given, surname_kana, given_kana
        self.birth, self.sex, self.tags = birth, sex, tags

    def name(self, sep="\u3000") -> str:
        return f"{self.surname}{sep}{self.given}"

    def kana(self, form="full", sep=None) -> str:
        if form == "half":
            return jaconv.z2h(f"{self.surname_kana} {self.given_kana}", kana=True, ascii=False, digit=False)
        if form == "hira":
            return jaconv.kata2hira(f"{self.surname_kana}{sep if sep is not None else ' '}{self.given_kana}")
        return f"{self.surname_kana}{sep if sep is not None else chr(0x3000)}{self.given_kana}"


class _Writer:
    def __init__(self, town: Town, out_dir: Path):
        self.t = town
        self.out = out_dir
        self.n = town.noise
        P = town.persons
        self.P = P
        self.surname = P["surname"].tolist()
        self.given = P["given_name"].tolist()
        self.surname_kana = P["surname_kana"].tolist()
        self.given_kana = P["given_name_kana"].tolist()
        self.birth = P["birth_date"].tolist()
        self.sex = P["sex"].tolist()
        self.resno = P["resident_no"].tolist()
        self.hhno = P["household_no"].tolist()
        self.addr = P["address"].tolist()
        self.rel = P["relationship"].tolist()
        self.former = [v if isinstance(v, str) and v else None for v in P["former_surname"].tolist()]
        self.former_kana = [v if isinstance(v, str) and v else None for v in P["former_surname_kana"].tolist()]
        self.in_reg = P["in_registry"].tolist()
        self.age = P["age"].tolist()
        hh_of = P["household_key"].to_numpy()
        strong_hh = {c.household_key for c in town.truth.planted}
        special = (
            set(town.truth.strong_cases)
            | {k for p in town.truth.namesakes for k in p}
            | {k for p in town.truth.twins for k in p}
        )
        # strong-case households get formatting noise only (widths, variants, spaces, blank 宛名番号), never
        # errors (typos, swapped dates, invalid cells): the scoring tests need them linked
        self.protected = {int(k) for k, h in zip(P["person_key"], hh_of) if h in strong_hh}
        self.no_invalid = self.protected | special
        self.files: list[DeptFile] = []
        self.fy = f"R{reiwa_fy(town.as_of)}"

    # --- helpers -----------------------------------------------------------------------------------------------------
    def rng(self, name: str) -> random.Random:
        return random.Random(zlib.crc32(f"{self.t.seed}:{name}".encode()))

    def ident(self, r: random.Random, pk: int, *, variants=True, errors=True, former=False, xlsx=False) -> _Ident:
        n = self.n
        s, g, sk, gk, b = self.surname[pk], self.given[pk], self.surname_kana[pk], self.given_kana[pk], self.birth[pk]
        tags: list[str] = []
        prot = pk in self.protected
        if former and self.former[pk] and not prot and r.random() < n.former_surname_use_rate:
            s, sk = self.former[pk], self.former_kana[pk]
            tags.append("former_surname")
        if variants and n.variant_kanji_rate > 0:
            full = s + g
            if any(ch in N.VARIANT_OF for ch in full) and r.random() < n.variant_kanji_rate:

                def swap(text):
                    out = []
                    for ch in text:
                        v = N.VARIANT_OF.get(ch)
                        if v and (xlsx or (v not in N.NOT_CP932 and ch not in N.NOT_CP932)):
                            if v in N.NOT_CP932 and r.random() < 0.5:
                                v = ch  # 𠮷 only now and then, even in Excel
                            out.append(v)
                        else:
                            out.append(ch)
                    return "".join(out)

                s2, g2 = swap(s), swap(g)
                if (s2, g2) != (s, g):
                    s, g = s2, g2
                    tags.append("variant_kanji")
        if errors and not prot:
            if n.kana_typo_rate and r.random() < n.kana_typo_rate:
                sk, gk, ok = _kana_slip(r, sk, gk)
                if ok:
                    tags.append("kana_typo")
            if n.kanji_typo_rate and r.random() < n.kanji_typo_rate:
                idx = [i for i, ch in enumerate(g) if ch in N.KANJI_TYPO]
                if idx:
                    i = r.choice(idx)
                    g = g[:i] + N.KANJI_TYPO[g[i]] + g[i + 1 :]
                    tags.append("kanji_typo")
            u = r.random()
            if u < n.day_month_swap_rate:
                if b.day <= 12 and b.day != b.month:
                    b2 = dt.date(b.year, b.day, b.month)
                    if b2 < self.t.as_of:
                        b = b2
                        tags.append("day_month_swap")
            elif u < n.day_month_swap_rate + n.off_by_one_day_rate:
                b2 = b + dt.timedelta(days=1 if r.random() < 0.5 else -1)
                if b2 < self.t.as_of:
                    b = b2
                    tags.append("day_off_by_one")
        if not xlsx:
            s, g = _cp932_safe(s), _cp932_safe(g)
        return _Ident(s, g, sk, gk, b, self.sex[pk], tags)

    def kana_form(self, r: random.Random, tags: list[str], default="full") -> str:
        if r.random() < self.n.halfwidth_kana_share:
            tags.append("halfwidth_kana")
            return "half"
        return default

    def resident_no(self, r: random.Random, pk: int, tags: list[str], rate: float | None = None) -> str:
        rate = self.n.missing_resident_no_rate if rate is None else rate
        if rate and r.random() < rate:
            tags.append("no_resident_no")
            return ""
        v = self.resno[pk]
        if self.n.strip_leading_zeros:
            tags.append("resident_no_unpadded")
            return v.lstrip("0")
        if self.n.fullwidth_digit_rate and r.random() < self.n.fullwidth_digit_rate:
            tags.append("fullwidth_digits")
            return fullwidth(v)
        return v

    def address(self, r: random.Random, pk: int, tags: list[str]) -> str:
        a = self.addr[pk]
        if self.n.address_style_rate and r.random() < self.n.address_style_rate:
            tags.append("address_style")
            return address_variant(a, r.randrange(4))
        return a

    def num(self, r: random.Random, v, tags: list[str] | None = None):
        if v is None or v == "":
            return ""
        if self.n.fullwidth_digit_rate and r.random() < self.n.fullwidth_digit_rate:
            if tags is not None:
                tags.append("fullwidth_digits")
            return fullwidth(v)
        return v

    # --- writing -----------------------------------------------------------------------------------------------------
    def _finish(
        self,
        r: random.Random,
        name: str,
        source_type: str,
        headers: list[str],
        rows: list[list],
        keys: list[int],
        tags: list[list[str]],
        *,
        title: Sequence[str] = (),
        blank_after_title: bool = False,
        fmt: str = "csv",
        encoding: str = "cp932",
        date_cols: dict | None = None,
        sheet: str = "Sheet1",
        merge_title: bool = False,
        invalid_cols: Sequence[tuple[str, str]] = (),
        unknown_cols: Sequence[str] = (),
        related: list[int | None] | None = None,
        date_style: dict | None = None,
        empty_rows: int | None = None,
    ):
        """Plant invalid / 不明 cells and blank rows, write the file, record the truth."""
        n = self.n
        pos = {h: i for i, h in enumerate(headers)}
        # planted invalid cells (never on strong cases, namesakes, twins)
        invalid: list[tuple[int, str]] = []
        cand = [i for i, k in enumerate(keys) if k not in self.no_invalid]
        k_inv = min(n.invalid_rows_per_file, len(cand)) if invalid_cols else 0
        for j, i in enumerate(sorted(r.sample(cand, k_inv))):
            col, kind = invalid_cols[j % len(invalid_cols)]
            c = pos[col]
            if kind == "date":
                style = (date_style or {}).get(col, "iso_slash")
                b = rows[i][c]
                b = b if isinstance(b, dt.date) else self.birth[keys[i]]
                rows[i][c] = _bad_date(b, style if style != "excel" else "iso_slash")
            else:
                rows[i][c] = "X"
            invalid.append((i, col))
            tags[i].append("invalid:" + col)
        unknown: list[tuple[int, str]] = []
        if unknown_cols and n.unknown_dates_per_file:
            for col in unknown_cols:
                c = pos[col]
                filled = [
                    i for i, row in enumerate(rows) if row[c] not in ("", None) and all(i != x for x, _ in invalid)
                ]
                for i in r.sample(filled, min(n.unknown_dates_per_file, len(filled))):
                    rows[i][c] = "不明"
                    unknown.append((i, col))
        # blank rows in the middle
        k_empty = n.empty_rows_per_file if empty_rows is None else empty_rows
        blanks = sorted(r.sample(range(1, len(rows)), min(k_empty, max(0, len(rows) - 1)))) if len(rows) > 2 else []
        order: list[int | None] = []
        bi = 0
        for i in range(len(rows)):
            while bi < len(blanks) and blanks[bi] == i:
                order.append(None)
                bi += 1
            order.append(i)
        header_row = len(title) + (1 if blank_after_title and title else 0) + 1
        first = header_row + 1
        rownum: dict[int, int] = {}
        empty_lines: list[int] = []
        for line, ri in enumerate(order):
            if ri is None:
                empty_lines.append(first + line)
            else:
                rownum[ri] = first + line
        path = self.out / name
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            for t in title:
                w.writerow([t])
            w.writerow(headers)
            blank = [""] * len(headers)
            for ri in order:
                w.writerow(blank if ri is None else rows[ri])
            data = buf.getvalue()
            if encoding == "cp932":
                path.write_bytes(data.encode("cp932"))
            else:
                path.write_bytes(data.encode("utf-8-sig"))
        else:
            _write_xlsx(
                path,
                sheet,
                list(title),
                blank_after_title,
                headers,
                [None if i is None else rows[i] for i in order],
                date_cols or {},
                merge_title,
            )
        f = DeptFile(
            file_name=name,
            source_type=source_type,
            path=path,
            rows=[(rownum[i], int(k)) for i, k in enumerate(keys)],
            invalid_rows=[(rownum[i], col) for i, col in invalid],
            unknown_cells=[(rownum[i], col) for i, col in unknown],
            empty_rows=empty_lines,
            noise={rownum[i]: t for i, t in enumerate(tags) if t},
            related={rownum[i]: int(k) for i, k in enumerate(related or []) if k is not None},
            header_row=header_row,
            format=fmt,
            encoding=encoding if fmt == "csv" else None,
            sheet=sheet if fmt == "xlsx" else None,
        )
        self.files.append(f)
        return f

    # --- the departments ---------------------------------------------------------------------------------------------
    def registry(self):
        r = self.rng("registry")
        P = self.P
        reg = P[P["in_registry"]].sort_values(["household_no", "person_key"], kind="stable")
        keys = reg["person_key"].tolist()
        move_in = reg["move_in_date"].tolist()
        rows, tags = [], []
        sexj = SEX_LABELS
        hw = self.n.halfwidth_kana_share
        for pk, mi in zip(keys, move_in):
            tg: list[str] = []
            b = self.birth[pk]
            u = r.random()
            bd = wareki(b, "letter") if u < 0.4 else wareki(b, "kanji") if u < 0.7 else fmt_date(b, "iso_slash")
            if r.random() < hw:
                kana = jaconv.z2h(f"{self.surname_kana[pk]} {self.given_kana[pk]}", kana=True, ascii=False, digit=False)
                tg.append("halfwidth_kana")
            else:
                kana = f"{self.surname_kana[pk]}\u3000{self.given_kana[pk]}"
            rows.append(
                [
                    self.resno[pk],
                    self.hhno[pk],
                    f"{_cp932_safe(self.surname[pk])}\u3000{_cp932_safe(self.given[pk])}",
                    kana,
                    bd,
                    sexj[self.sex[pk]],
                    self.rel[pk],
                    self.addr[pk],
                    wareki(mi, "kanji") if isinstance(mi, dt.date) else "",
                ]
            )
            tags.append(tg)
        # invalid cells only on elders living alone or in couples: their rows link to nothing else
        elders = set(P.index[(P["role"] == "elder")].tolist())
        saved = self.no_invalid
        self.no_invalid = saved | (set(keys) - elders)
        as_of = self.t.as_of
        f = self._finish(
            r,
            f"住民基本台帳_{as_of:%Y%m%d}.csv",
            "resident_registry",
            H_REGISTRY,
            rows,
            keys,
            tags,
            invalid_cols=[("生年月日", "date"), ("性別", "sex")],
            unknown_cols=["転入年月日"],
            date_style={"生年月日": "letter"},
        )
        self.no_invalid = saved
        return f

    def mch_infants(self):
        r = self.rng("mch_infants")
        ev = self.t.events["maternal_child_health"]
        ev = ev[ev["record_kind"] == "乳幼児健診"].copy()
        ev["_b"] = [self.birth[k] for k in ev["person_key"]]
        order = {"4か月": 0, "1歳6か月": 1, "3歳": 2}
        ev["_o"] = ev["checkup_type"].map(order)
        ev = ev.sort_values(["_b", "person_key", "_o"], kind="stable")
        rows, keys, tags = [], [], []
        yn = {True: "有", False: "無"}
        qs = ["q_hit_emotionally", "q_left_alone", "q_not_fed", "q_covered_mouth", "q_shook"]
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, former=True, xlsx=True)
            tg += p.tags
            form = "full"
            kana = p.kana(form)
            done = rec["checkup_status"] == "受診"
            q = [yn[bool(rec.get(c))] if done and _present(rec.get(c)) else "" for c in qs]
            wp = rec.get("weight_percentile")
            cd = _date(rec.get("checkup_date"))
            rows.append(
                [
                    self.resident_no(r, pk, tg),
                    p.name(),
                    kana,
                    wareki(p.birth, "letter"),
                    SEX_LABELS[p.sex],
                    self.address(r, pk, tg),
                    rec["checkup_type"],
                    wareki(cd, "letter") if done and cd else "",
                    rec["checkup_status"],
                    int(wp) if _present(wp) else "",
                ]
                + q
            )
            keys.append(pk)
            tags.append(tg)
        as_of = self.t.as_of
        title = [f"{wareki(as_of, 'kanji').split('年')[0]}年度 乳幼児健診受診状況", f"作成日：{wareki(as_of, 'kanji')}"]
        return self._finish(
            r,
            f"乳幼児健診受診状況_{self.fy}.xlsx",
            "maternal_child_health",
            H_MCH_INFANT,
            rows,
            keys,
            tags,
            title=title,
            fmt="xlsx",
            sheet="健診受診状況",
            invalid_cols=[("生年月日", "date")],
            unknown_cols=["受診日"],
            date_style={"生年月日": "letter", "受診日": "letter"},
        )

    def mch_maternal(self):
        r = self.rng("mch_maternal")
        ev = self.t.events["maternal_child_health"]
        ev = ev[ev["record_kind"].isin(["妊娠届", "妊婦健診", "産婦健診"])].copy()
        kind_name = {"妊娠届": "妊娠届出", "妊婦健診": "妊婦健康診査", "産婦健診": "産婦健康診査"}
        ev["_d"] = [
            _date(rec.get("notification_date"))
            if rec["record_kind"] == "妊娠届"
            else (_date(rec.get("checkup_date")) or self.birth[int(rec["child_key"])])
            for rec in ev.to_dict("records")
        ]
        ev = ev.sort_values(["_d", "person_key"], kind="stable")
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, xlsx=True)
            tg += p.tags
            k = rec["record_kind"]
            if k == "妊娠届":
                day, weeks, status, epds = rec["notification_date"], int(rec["weeks_at_notification"]), "", ""
            elif k == "妊婦健診":
                day, weeks, status, epds = rec.get("checkup_date"), "", rec["checkup_status"], ""
            else:
                day, weeks, status, epds = rec["checkup_date"], "", "受診", int(rec["epds_score"])
            day = _date(day)
            rows.append(
                [
                    self.resident_no(r, pk, tg),
                    p.name(),
                    p.kana(self.kana_form(r, tg)),
                    wareki(p.birth, "letter"),
                    kind_name[k],
                    wareki(day, "letter") if day else "",
                    self.num(r, weeks, tg),
                    status,
                    epds,
                ]
            )
            keys.append(pk)
            tags.append(tg)
        as_of = self.t.as_of
        title = [f"妊娠届出・妊産婦健康診査 状況一覧（{wareki(as_of - dt.timedelta(days=1), 'kanji')}現在）"]
        return self._finish(
            r,
            f"妊娠届出・妊産婦健診_{self.fy}.xlsx",
            "maternal_child_health",
            H_MCH_MATERNAL,
            rows,
            keys,
            tags,
            title=title,
            blank_after_title=True,
            fmt="xlsx",
            sheet="妊産婦",
            invalid_cols=[("実施日", "date")],
            date_style={"実施日": "letter"},
        )

    def mch_vaccines(self):
        r = self.rng("mch_vaccine")
        ev = self.t.events["maternal_child_health"]
        ev = ev[ev["record_kind"] == "予防接種"].copy()
        ev["_b"] = [self.birth[k] for k in ev["person_key"]]
        ev = ev.sort_values(["_b", "person_key"], kind="stable")
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, former=True)
            tg += p.tags
            form = self.kana_form(r, tg)
            vd = rec.get("vaccination_date")
            rows.append(
                [
                    self.resident_no(r, pk, tg),
                    p.name(" "),
                    p.kana(form, " "),
                    fmt_date(p.birth, "iso_slash"),
                    "男" if p.sex == 1 else "女",
                    rec["vaccine"],
                    rec["vaccination_status"],
                    fmt_date(vd, "iso_slash") if isinstance(vd, dt.date) else "",
                ]
            )
            keys.append(pk)
            tags.append(tg)
        return self._finish(
            r,
            "予防接種台帳.csv",
            "maternal_child_health",
            H_MCH_VACCINE,
            rows,
            keys,
            tags,
            invalid_cols=[("性別", "sex")],
            empty_rows=0,
        )

    def school_attendance(self):
        P = self.P
        att = self.t.events["school_attendance"].set_index("person_key")
        pupils = P[P["school"].notna()].sort_values(["school", "grade", "class", "student_no"], kind="stable")
        schools = [s for s in self.t.schools["school"] if s in set(pupils["school"])]
        period = school_period(self.t.as_of)
        out = []
        for n_s, school in enumerate(schools):
            r = self.rng("att:" + school)
            kind = self.t.schools.set_index("school").at[school, "kind"]
            layout = 3 if kind == "中学校" else (n_s % 3)
            headers = H_ATT[layout]
            grp = pupils[pupils["school"] == school]
            rows, keys, tags = [], [], []
            for pk, gr, cl, no in zip(grp["person_key"], grp["grade"], grp["class"], grp["student_no"]):
                pk = int(pk)
                a = att.loc[pk]
                tg: list[str] = []
                p = self.ident(r, pk, former=True, xlsx=True)
                tg += p.tags
                sex = "男" if p.sex == 1 else "女"
                gr, cl, no = int(gr), int(cl), int(no)
                ab, lt, nv = int(a["absence_days"]), int(a["late_days"]), int(a["nurse_visits"])
                if layout == 0:
                    rows.append([gr, cl, no, p.name(), p.kana("hira", " "), sex, p.birth, ab, lt, nv])
                elif layout == 1:
                    rows.append(
                        [
                            school,
                            p.name(" "),
                            p.kana(self.kana_form(r, tg), " "),
                            sex,
                            wareki(p.birth, "kanji"),
                            self.num(r, gr, tg),
                            self.num(r, cl, tg),
                            self.num(r, no, tg),
                            self.num(r, ab, tg),
                            self.num(r, lt, tg),
                            nv,
                        ]
                    )
                elif layout == 2:
                    rows.append(
                        [
                            f"{gr}年",
                            f"{cl}組",
                            no,
                            p.surname,
                            p.given,
                            p.surname_kana,
                            p.given_kana,
                            fmt_date(p.birth, "slash"),
                            p.sex,
                            ab,
                            lt,
                            nv,
                        ]
                    )
                else:
                    mc = a.get("mental_check_result")
                    rows.append(
                        [
                            period,
                            school,
                            gr,
                            cl,
                            no,
                            p.name(),
                            p.kana(self.kana_form(r, tg), " "),
                            sex,
                            p.birth,
                            ab,
                            lt,
                            nv,
                            mc if isinstance(mc, str) else "",
                        ]
                    )
                keys.append(pk)
                tags.append(tg)
            fy = wareki(self.t.as_of, "kanji").split("年")[0]
            if layout == 0:
                title, blank = [f"{fy}年度 出欠状況（{period.split('年', 1)[1]}）　{school}"], True
            elif layout == 2:
                title, blank = [f"{school} 出欠集計 {period}"], False
            else:
                title, blank = [], False
            inv = [("生年月日", "date")] if layout != 2 else [("性別", "sex")]
            style = {"生年月日": {0: "excel", 1: "kanji", 2: "slash", 3: "excel"}[layout]}
            out.append(
                self._finish(
                    r,
                    f"出欠状況_{school}.xlsx",
                    "school_attendance",
                    headers,
                    rows,
                    keys,
                    tags,
                    title=title,
                    blank_after_title=blank,
                    fmt="xlsx",
                    date_cols={"生年月日": "yyyy/m/d" if layout == 0 else '[$-411]ggge"年"m"月"d"日"'},
                    sheet="出欠",
                    invalid_cols=inv,
                    date_style=style,
                    empty_rows=self.n.empty_rows_per_file if n_s == 0 else 0,
                )
            )
        return out

    def school_health(self):
        r = self.rng("school_health")
        P = self.P
        hl = self.t.events["school_health"].set_index("person_key")
        pupils = P[P["school"].notna()].sort_values(["school", "grade", "class", "student_no"], kind="stable")
        rows, keys, tags = [], [], []
        for pk, school, gr, cl, no in zip(
            pupils["person_key"], pupils["school"], pupils["grade"], pupils["class"], pupils["student_no"]
        ):
            pk = int(pk)
            h = hl.loc[pk]
            tg: list[str] = []
            p = self.ident(r, pk, former=True, xlsx=True)
            tg += p.tags
            rows.append(
                [
                    school,
                    int(gr),
                    int(cl),
                    int(no),
                    p.name(),
                    p.kana("hira", " "),
                    "男" if p.sex == 1 else "女",
                    p.birth,
                    h["checkup_date"],
                    float(h["weight"]),
                    self.num(r, int(h["untreated_caries"]), tg),
                ]
            )
            keys.append(pk)
            tags.append(tg)
        title = [f"{wareki(self.t.as_of, 'kanji').split('年')[0]}年度 児童生徒健康診断結果（身体計測・歯科）"]
        return self._finish(
            r,
            f"学校健診結果_{self.fy}.xlsx",
            "school_health",
            H_SCHOOL_HEALTH,
            rows,
            keys,
            tags,
            title=title,
            fmt="xlsx",
            sheet="健診結果",
            date_cols={"生年月日": "yyyy/m/d", "健診日": "yyyy/m/d"},
            invalid_cols=[("性別", "sex")],
            empty_rows=0,
        )

    def yotaikyo(self):
        r = self.rng("yotaikyo")
        ev = self.t.events["yotaikyo"].sort_values(["registered_date", "case_no"], kind="stable")
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, xlsx=True)
            tg += p.tags
            closed = rec.get("closed_date")
            cat = "要支援児童" if rec["category"] == "要支援" else rec["category"]
            rows.append(
                [
                    rec["case_no"],
                    rec["registered_date"],
                    self.resident_no(r, pk, tg),
                    p.name(),
                    p.kana("hira", " "),
                    p.birth,
                    "男" if p.sex == 1 else "女",
                    cat,
                    "有" if rec["temporary_protection"] else "無",
                    rec["status"],
                    closed if isinstance(closed, dt.date) else "",
                ]
            )
            keys.append(pk)
            tags.append(tg)
        as_of = self.t.as_of
        title = [
            f"要保護児童対策地域協議会 進行管理台帳（{wareki(as_of - dt.timedelta(days=1), 'kanji')}現在）",
            "※取扱注意（個人情報）",
        ]
        era = '[$-411]ggge"年"m"月"d"日"'
        return self._finish(
            r,
            "要対協進行管理台帳.xlsx",
            "yotaikyo",
            H_YOTAIKYO,
            rows,
            keys,
            tags,
            title=title,
            fmt="xlsx",
            sheet="進行管理台帳",
            merge_title=True,
            date_cols={"登録日": era, "生年月日": era, "終結日": era},
            empty_rows=0,
            invalid_cols=[("登録日", "date")],
        )

    def allowance(self):
        r = self.rng("allowance")
        ev = self.t.events["child_rearing_allowance"].copy()
        if ev.empty or "recipient_key" not in ev:  # a small town may have no single-parent recipient at all
            return
        ev["_r"] = [self.resno[k] for k in ev["recipient_key"]]
        ev["_b"] = [self.birth[k] for k in ev["person_key"]]
        ev = ev.sort_values(["_r", "_b"], kind="stable")
        rows, keys, tags, rel = [], [], [], []
        for rec in ev.to_dict("records"):
            pk, rk = int(rec["person_key"]), int(rec["recipient_key"])
            tg: list[str] = []
            rp = self.ident(r, rk)
            c = self.ident(r, pk)
            tg += c.tags
            form = self.kana_form(r, tg)
            rows.append(
                [
                    self.resident_no(r, rk, tg),
                    rp.name(),
                    rp.kana(form),
                    self.address(r, rk, tg),
                    c.name(),
                    c.kana(form),
                    wareki(c.birth, "slash"),
                    "男" if c.sex == 1 else "女",
                    wareki(rec["start_date"], "slash"),
                    rec["payment_category"],
                ]
            )
            keys.append(pk)
            rel.append(rk)
            tags.append(tg)
        return self._finish(
            r,
            "児童扶養手当受給者一覧.csv",
            "child_rearing_allowance",
            H_ALLOWANCE,
            rows,
            keys,
            tags,
            related=rel,
            invalid_cols=[("対象児童生年月日", "date")],
            unknown_cols=["支給開始年月日"],
            date_style={"対象児童生年月日": "slash"},
        )

    def school_assistance(self):
        r = self.rng("school_assistance")
        P = self.P
        ev = self.t.events["school_assistance"].copy()
        ev["_s"] = [P.at[k, "school"] for k in ev["person_key"]]
        ev["_g"] = [int(P.at[k, "grade"]) for k in ev["person_key"]]
        ev["_c"] = [int(P.at[k, "class"]) for k in ev["person_key"]]
        ev = ev.sort_values(["_s", "_g", "_c"], kind="stable")
        rows, keys, tags, rel = [], [], [], []
        for rec in ev.to_dict("records"):
            pk, gk = int(rec["person_key"]), int(rec["guardian_key"])
            tg: list[str] = []
            c = self.ident(r, pk, xlsx=True)
            tg += c.tags
            g = self.ident(r, gk, xlsx=True)
            rows.append(
                [
                    rec["_s"],
                    rec["_g"],
                    rec["_c"],
                    self.resident_no(r, pk, tg),
                    c.name(),
                    c.kana("hira", " "),
                    wareki(c.birth, "kanji"),
                    "男" if c.sex == 1 else "女",
                    g.name(),
                    rec["category"],
                    wareki(rec["start_date"], "kanji"),
                ]
            )
            keys.append(pk)
            rel.append(gk)
            tags.append(tg)
        title = [f"{wareki(self.t.as_of, 'kanji').split('年')[0]}年度 就学援助 認定者名簿"]
        return self._finish(
            r,
            f"就学援助認定者名簿_{self.fy}.xlsx",
            "school_assistance",
            H_SCHOOL_ASSIST,
            rows,
            keys,
            tags,
            title=title,
            fmt="xlsx",
            sheet="認定者",
            related=rel,
            invalid_cols=[("性別", "sex")],
            empty_rows=0,
        )

    def tax(self):
        r = self.rng("tax")
        ev = self.t.events["tax"].copy()
        ev["_h"] = [self.hhno[k] for k in ev["person_key"]]
        ev = ev.sort_values(["_h", "person_key"], kind="stable")
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, errors=False)
            tg += p.tags + ["halfwidth_kana"]
            rows.append(
                [
                    self.resident_no(r, pk, tg, rate=0),
                    self.hhno[pk],
                    p.name(" "),
                    p.kana("half"),
                    fmt_date(p.birth, "ymd8"),
                    p.sex,
                    fiscal_year(self.t.as_of),
                    rec["tax_status"],
                ]
            )
            keys.append(pk)
            tags.append(tg)
        return self._finish(
            r,
            f"住民税課税状況_{self.fy}.csv",
            "tax",
            H_TAX,
            rows,
            keys,
            tags,
            invalid_cols=[("生年月日", "date")],
            date_style={"生年月日": "ymd8"},
            empty_rows=0,
        )

    def disability(self):
        r = self.rng("disability")
        ev = self.t.events["disability"].copy()
        ev["_r"] = [self.resno[k] for k in ev["person_key"]]
        ev = ev.sort_values(["_r"], kind="stable")
        label = {
            "身体": "身体障害者手帳",
            "療育": "療育手帳",
            "精神": "精神障害者保健福祉手帳",
            "障害児支援": "障害児通所支援",
        }
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk)
            tg += p.tags
            form = self.kana_form(r, tg)
            gl = rec.get("grade_level")
            rows.append(
                [
                    self.resident_no(r, pk, tg),
                    p.name(),
                    p.kana(form),
                    wareki(p.birth, "letter"),
                    "男" if p.sex == 1 else "女",
                    label[rec["certificate_type"]],
                    gl if isinstance(gl, str) else "",
                    _text(rec.get("mental_disorder_code")),
                    _text(rec.get("recipient_cert_no")),
                    wareki(rec["start_date"], "letter"),
                ]
            )
            keys.append(pk)
            tags.append(tg)
        as_of = self.t.as_of
        return self._finish(
            r,
            "障害者手帳・受給者証交付台帳.csv",
            "disability",
            H_DISABILITY,
            rows,
            keys,
            tags,
            title=[f"障害者手帳・障害児通所受給者証 交付台帳（{wareki(as_of, 'kanji')}現在）"],
            invalid_cols=[("生年月日", "date"), ("性別", "sex")],
            unknown_cols=["交付年月日"],
            date_style={"生年月日": "letter"},
        )

    def public_assistance(self):
        r = self.rng("public_assistance")
        ev = self.t.events["public_assistance"].copy()
        ev = ev.sort_values(["case_no", "person_key"], kind="stable")
        rows, keys, tags = [], [], []
        for rec in ev.to_dict("records"):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk)
            tg += p.tags
            end = rec.get("end_date")
            rows.append(
                [
                    rec["case_no"],
                    self.resident_no(r, pk, tg),
                    p.name(),
                    p.kana(self.kana_form(r, tg)),
                    fmt_date(p.birth, "slash"),
                    "男" if p.sex == 1 else "女",
                    self.rel[pk],
                    fmt_date(rec["start_date"], "slash"),
                    fmt_date(end, "slash") if isinstance(end, dt.date) else "",
                    rec["status"],
                ]
            )
            keys.append(pk)
            tags.append(tg)
        return self._finish(
            r,
            "生活保護受給者一覧.csv",
            "public_assistance",
            H_PUBLIC_ASSIST,
            rows,
            keys,
            tags,
            invalid_cols=[("生年月日", "date")],
            date_style={"生年月日": "slash"},
            empty_rows=0,
        )

    def consultation(self):
        r = self.rng("consultation")
        ev = self.t.events["consultation"].copy().sort_values(["consultation_date", "person_key"], kind="stable")
        rows, keys, tags = [], [], []
        for n_, rec in enumerate(ev.to_dict("records"), 1):
            pk = int(rec["person_key"])
            tg: list[str] = []
            p = self.ident(r, pk, xlsx=True)
            tg += p.tags
            d = rec["consultation_date"]
            rows.append(
                [
                    f"{d.year}-{n_:04d}",
                    fmt_date(d, "iso_slash"),
                    self.resident_no(r, pk, tg),
                    p.name(),
                    p.kana(),
                    fmt_date(p.birth, "iso_slash"),
                    "男" if p.sex == 1 else "女",
                    rec["category"],
                    "有" if rec["dv_support_measure"] else "無",
                ]
            )
            keys.append(pk)
            tags.append(tg)
        return self._finish(
            r,
            "相談記録一覧.csv",
            "consultation",
            H_CONSULT,
            rows,
            keys,
            tags,
            encoding="utf-8",
            invalid_cols=[("生年月日", "date")],
            date_style={"生年月日": "iso_slash"},
            empty_rows=0,
        )

    def run(self) -> list[DeptFile]:
        self.registry()
        self.mch_infants()
        self.mch_maternal()
        self.mch_vaccines()
        self.school_attendance()
        self.school_health()
        self.yotaikyo()
        self.allowance()
        self.school_assistance()
        self.tax()
        self.disability()
        self.public_assistance()
        self.consultation()
        with open(self.out / "sources.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(["file_name", "source_type", "as_of"])
            as_of = getattr(self.t, "as_of", None)
            for f in self.files:
                w.writerow([f.file_name, f.source_type, as_of.isoformat() if as_of else ""])
        return self.files


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA


def _text(v) -> str:
    return v if isinstance(v, str) else ""


def _date(v) -> dt.date | None:
    return v if isinstance(v, dt.date) else None


def _kana_slip(r: random.Random, sk: str, gk: str) -> tuple[str, str, bool]:
    slips = [(which, a, b) for which, s in (("g", gk), ("s", sk)) for a, b in N.KANA_SLIPS if a in s]
    if not slips:
        if len(gk) > 2:
            return sk, gk[:-1], True
        return sk, gk, False
    which, a, b = r.choice(slips)
    if which == "g":
        out = gk.replace(a, b, 1)
        return (sk, out, True) if out else (sk, gk, False)
    out = sk.replace(a, b, 1)
    return (out, gk, True) if out else (sk, gk, False)


def _cp932_safe(s: str) -> str:
    try:
        s.encode("cp932")
        return s
    except UnicodeEncodeError:
        return "".join(N.VARIANT_OF.get(ch, "〓") if ch in N.NOT_CP932 else ch for ch in s)


def _write_xlsx(
    path: Path,
    sheet: str,
    title: list[str],
    blank_after_title: bool,
    headers: list[str],
    rows: list,
    date_cols: dict[str, str],
    merge_title: bool,
) -> None:
    """A workbook as a department saves it: title rows, a bold shaded header, column widths, date cells formatted.
    Small sheets are written with the normal workbook (merged title, frozen header); large ones stream."""
    from openpyxl import Workbook  # lazy: loads openpyxl, only needed here
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # lazy: loads openpyxl, only needed here
    from openpyxl.utils import get_column_letter  # lazy: loads openpyxl, only needed here

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    thin = Side(style="thin", color="808080")
    border = Border(top=thin, bottom=thin, left=thin, right=thin)
    dpos = {headers.index(h): f for h, f in date_cols.items() if h in headers}
    widths = []
    sample = [r for r in rows[:300] if r is not None]
    for c, h in enumerate(headers):
        w = max([len(h) * 2 + 2] + [_cell_width(r[c]) for r in sample])
        widths.append(min(40, max(6, w)))
    big = len(rows) > 4000
    wb = Workbook(write_only=big)
    if big:
        ws = wb.create_sheet(sheet)
    else:
        ws = wb.active
        ws.title = sheet
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    if big:
        from openpyxl.cell import WriteOnlyCell  # lazy: loads openpyxl, only needed here

        def cell(v, font=None, fmt=None, fill_=None):
            c = WriteOnlyCell(ws, value=v)
            if font:
                c.font = font
            if fmt:
                c.number_format = fmt
            if fill_:
                c.fill = fill_
            return c

        for t in title:
            ws.append([cell(t, Font(bold=True, size=12))])
        if title and blank_after_title:
            ws.append([])
        ws.append([cell(h, bold, fill_=fill) for h in headers])
        for row in rows:
            if row is None:
                ws.append([])
                continue
            if dpos:
                row = [cell(v, fmt=dpos[i]) if i in dpos and isinstance(v, dt.date) else v for i, v in enumerate(row)]
            ws.append(row)
    else:
        for t in title:
            ws.append([t])
            ws.cell(ws.max_row, 1).font = Font(bold=True, size=12)
        if merge_title and title:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
            ws.cell(1, 1).alignment = Alignment(horizontal="center")
        if title and blank_after_title:
            ws.append([])
        hr = len(title) + (1 if title and blank_after_title else 0) + 1
        for c, h in enumerate(headers, 1):
            x = ws.cell(hr, c, h)
            x.font = bold
            x.fill = fill
            x.border = border
        ws.freeze_panes = ws.cell(hr + 1, 1)
        rn = hr
        for row in rows:
            rn += 1
            if row is None:
                continue
            for c, v in enumerate(row):
                if v is None or v == "":
                    continue
                x = ws.cell(rn, c + 1, v)
                if c in dpos and isinstance(v, dt.date):
                    x.number_format = dpos[c]
    wb.save(path)


def _cell_width(v) -> int:
    if v is None:
        return 0
    if isinstance(v, dt.date):
        return 12
    s = str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s) + 2


def write_department_files(town: Town, out_dir) -> list[DeptFile]:
    """Write the town's department files and ``sources.csv`` into ``out_dir`` (created if needed; files of the
    same names are replaced, nothing else is touched). Returns the files with their in-memory truth."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _Writer(town, out).run()
