"""The demo town's department exports, written the way towns really send them: CP932 CSV with CRLF, Excel with
title rows above the header, 和暦 dates, half-width kana, 旧字体/異体字 spellings, missing 宛名番号 in school files,
a few typos, and a small number of planted invalid rows (their row numbers are returned, not written)."""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import jaconv
import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from .town import VARIANTS, Town

HEADERS_USED: dict[str, list[str]] = {}


@dataclass
class DeptFile:
    file_name: str
    source_type: str
    path: Path
    rows: list[tuple[int, int]] = field(default_factory=list)  # (row number as the user sees it, person_key)
    invalid_rows: list[tuple[int, str]] = field(default_factory=list)


def wareki(d: dt.date, style: str) -> str:
    eras = ((dt.date(2019, 5, 1), "令和", "R"), (dt.date(1989, 1, 8), "平成", "H"), (dt.date(1926, 12, 25), "昭和", "S"))
    for start, kanji, letter in eras:
        if d >= start:
            y = d.year - start.year + 1
            if style == "letter":
                return f"{letter}{y}.{d.month}.{d.day}"
            if style == "slash":
                return f"{letter}{y:02d}/{d.month:02d}/{d.day:02d}"
            return f"{kanji}{'元' if y == 1 else y}年{d.month}月{d.day}日"
    return d.isoformat()


class _Writer:
    def __init__(self, town: Town, out_dir: Path):
        self.t, self.p, self.out = town, town.persons, Path(out_dir)
        self.rng = np.random.default_rng(town.seed + 101)
        self.n = town.noise
        self.files: list[DeptFile] = []

    # --- noisy renderings ----------------------------------------------------------------------------------
    def name(self, i, *, variants=True, remarriage=True, space="　"):
        r = self.p.loc[i]
        sur = r.surname
        if variants and sur in VARIANTS and self.rng.random() < self.n.variant_kanji:
            sur = VARIANTS[sur]
        if remarriage and r.relationship in ("妻", "世帯主") and self.rng.random() < self.n.remarriage:
            sur = "村田"
        return f"{sur}{space}{r.given}"

    def kana(self, i, *, half=None):
        r = self.p.loc[i]
        k = f"{r.surname_kana} {r.given_kana}"
        if self.rng.random() < self.n.kana_typo and len(r.given_kana) > 1:
            k = k[:-1] + ("ー" if k[-1] != "ー" else "ウ")
        if half if half is not None else self.rng.random() < self.n.halfwidth_kana:
            k = jaconv.z2h(k, kana=True, ascii=False, digit=False)
        return k

    def birth(self, i, style="iso"):
        d = self.p.at[i, "birth_date"]
        u = self.rng.random()
        if u < self.n.day_month_swap and d.day <= 12 and d.day != d.month:
            d = d.replace(month=d.day, day=d.month)
        elif u < self.n.day_month_swap + self.n.day_off_by_one:
            d = d + dt.timedelta(days=1)
        if style == "iso":
            return d.strftime("%Y/%m/%d")
        if style == "compact":
            return d.strftime("%Y%m%d")
        if style == "mixed":
            return wareki(d, "kanji") if self.rng.random() < 0.3 else d.strftime("%Y/%-m/%-d")
        return wareki(d, style)

    def rno(self, i, *, missing=None):
        rate = self.n.missing_resident_no if missing is None else missing
        return "" if self.rng.random() < rate else self.p.at[i, "resident_no"]

    # --- writers ---------------------------------------------------------------------------------------------------
    def csv(self, fname, source_type, header, rows, keys, *, encoding="cp932", title=(), invalid=()):
        path = self.out / fname
        with open(path, "w", encoding=encoding, newline="", errors="strict") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            for t in title:
                w.writerow([t])
            w.writerow(header)
            for r in rows:
                w.writerow(r)
        first = len(title) + 2
        self._record(fname, source_type, path, header, keys, first, invalid)

    def xlsx(self, fname, source_type, header, rows, keys, *, title=(), sheet="Sheet1", invalid=()):
        path = self.out / fname
        wb = Workbook()
        sh = wb.active
        sh.title = sheet
        for t in title:
            sh.append([t])
        if title:
            sh.cell(1, 1).font = Font(bold=True, size=13)
            sh.append([])
        sh.append(header)
        hr = sh.max_row
        for c in sh[hr]:
            c.font = Font(bold=True)
            c.fill = PatternFill("solid", fgColor="DDEBF7")
        for r in rows:
            sh.append(r)
        for col in sh.columns:
            sh.column_dimensions[col[0].column_letter].width = max(10, min(30, max(len(str(c.value or "")) for c in col) * 2))
        wb.save(path)
        self._record(fname, source_type, path, header, keys, hr + 1, invalid)

    def _record(self, fname, source_type, path, header, keys, first, invalid):
        HEADERS_USED.setdefault(source_type, [])
        HEADERS_USED[source_type] += [h for h in header if h not in HEADERS_USED[source_type]]
        f = DeptFile(fname, source_type, path, [(first + n, k) for n, k in enumerate(keys) if k is not None],
                     [(first + n, col) for n, col in invalid])
        self.files.append(f)

    # --- the departments ---------------------------------------------------------------------------------------------
    def run(self):
        p, s, on = self.p, self.t.truth, self.t.as_of
        sexj = {1: "男", 2: "女"}
        # 住民基本台帳: CP932 CSV, half-width kana for some, 和暦 mixed with western
        rows, keys = [], []
        for i in p.index:
            rows.append([p.at[i, "resident_no"], p.at[i, "household_no"], self.name(i, variants=False, remarriage=False),
                         self.kana(i), self.birth(i, "mixed") if self.rng.random() < 0.99 else self.birth(i, "iso"),
                         sexj[p.at[i, "sex"]], p.at[i, "relationship"], p.at[i, "address"]])
            keys.append(int(p.at[i, "person_key"]))
        inv = []
        rows.insert(40, ["9999999999", "5999999", "試験　無効", "ｼｹﾝ ﾑｺｳ", "2017/02/30", "女", "子", "みどり町1丁目1番1号"])
        keys.insert(40, None)
        inv.append((40, "生年月日"))
        self.csv("住民基本台帳_児童世帯.csv", "resident_registry",
                 ["宛名番号", "世帯番号", "氏名", "フリガナ", "生年月日", "性別", "続柄", "住所"], rows, keys, invalid=inv)

        def person_rows(ids, make, missing=None):
            out, ks = [], []
            for i in ids:
                out.append(make(i))
                ks.append(int(p.at[i, "person_key"]))
            return out, ks

        # 母子保健: Excel with two title rows; infants' checkups (R-letter dates) and mothers' notifications / EPDS
        infants = [i for i in p.index if p.at[i, "age"] <= 3 and p.at[i, "relationship"] == "子"]
        missed, flag = set(s["checkup_missed"]), set(s["questionnaire_flag"])
        mrows, mkeys = [], []
        for i in infants:
            ctype = {0: "4か月", 1: "1歳6か月", 2: "1歳6か月"}.get(int(p.at[i, "age"]), "3歳")
            done = i not in missed
            visit = p.at[i, "birth_date"] + dt.timedelta(days=130 if ctype == "4か月" else 560 if ctype.startswith("1") else 1110)
            visit = min(visit, on - dt.timedelta(days=10))
            mrows.append([self.rno(i), self.name(i), self.kana(i, half=False), self.birth(i, "letter"), "乳幼児健診", ctype,
                          wareki(visit, "letter") if done else "", "受診" if done else "未受診",
                          "有" if i in flag else "無", "有" if (i in flag and self.rng.random() < 0.5) else "無",
                          "", ""])
            mkeys.append(int(p.at[i, "person_key"]))
        for i in s["epds_high"] + s["late_pregnancy_notice"]:
            high = i in s["epds_high"]
            mrows.append([self.rno(i), self.name(i), self.kana(i, half=False), self.birth(i, "letter"),
                          "産婦健診" if high else "妊娠届", "", wareki(on - dt.timedelta(days=90), "letter"), "受診",
                          "", "", "" if high else int(self.rng.integers(20, 28)), int(self.rng.integers(10, 20)) if high else ""])
            mkeys.append(int(p.at[i, "person_key"]))
        mrows.append(["", "試験　無効", "シケン　ムコウ", "R5.2.30", "乳幼児健診", "4か月", "", "未受診", "無", "無", "", ""])
        mkeys.append(None)
        self.xlsx("乳幼児健診・母子保健.xlsx", "maternal_child_health",
                  ["宛名番号", "氏名", "フリガナ", "生年月日", "記録種別", "健診種別", "受診日", "受診状況", "感情的に叩いた",
                   "家に残して外出", "届出時妊娠週数", "EPDS点数"], mrows, mkeys,
                  title=["令和8年度 母子保健 健診受診状況", f"作成日：{wareki(on, 'kanji')}　保健センター"],
                  invalid=[(len(mrows) - 1, "生年月日")])

        # 学校: one file per school, columns differ by school, no 宛名番号
        pupils = p[(p.grade != "") & (p.age <= 18)]
        absent, late, nurse = set(s["absence_30"]), set(s["late_many"]), set(s["nurse_visits"])
        for n, (school, grp) in enumerate(sorted(pupils.groupby("school"), key=lambda x: x[0])):
            rows, keys = [], []
            for i in grp.index:
                ab = int(self.rng.integers(30, 60)) if i in absent else int(self.rng.poisson(3))
                lt = int(self.rng.integers(15, 40)) if i in late else int(self.rng.poisson(2))
                nv = int(self.rng.integers(12, 30)) if i in nurse else int(self.rng.poisson(1))
                base = [p.at[i, "grade"], p.at[i, "klass"], p.at[i, "student_no"], self.name(i), self.kana(i, half=False),
                        self.birth(i, "iso" if n % 2 == 0 else "compact"), sexj[p.at[i, "sex"]]]
                rows.append(base + [ab, lt, nv] if n % 2 == 0 else [school] + base + [f"{ab}日", lt, nv])
                keys.append(int(p.at[i, "person_key"]))
            if n % 2 == 0:
                header = ["学年", "組", "出席番号", "児童氏名", "ふりがな", "生年月日", "性別", "欠席日数", "遅刻日数",
                          "保健室来室回数"]
                self.xlsx(f"出欠状況_{school}.xlsx", "school_attendance", header, rows, keys,
                          title=[f"{school}　出欠状況（令和8年4月〜9月）"], sheet="出欠")
            else:
                header = ["学校名", "学年", "組", "番号", "氏名", "カナ氏名", "生年月日", "性別", "欠席日数", "遅刻日数",
                          "保健室来室回数"]
                self.xlsx(f"出欠状況_{school}.xlsx", "school_attendance", header, rows, keys)

        # 学校健診 (未処置歯)
        caries = set(s["caries"])
        rows, keys = person_rows(pupils.index, lambda i: [p.at[i, "school"], p.at[i, "grade"], self.name(i),
                                                          self.birth(i, "iso"), wareki(dt.date(on.year, 5, 20), "letter"),
                                                          int(self.rng.integers(2, 7)) if i in caries else 0])
        self.xlsx("学校健診_歯科.xlsx", "school_health", ["学校名", "学年", "氏名", "生年月日", "健診日", "未処置歯数"],
                  rows, keys, title=["令和8年度 学校歯科健診 結果一覧"])

        # 児童扶養手当: recipient + 対象児童 (one row per child), BOM-less CP932 CSV
        rows, keys = [], []
        for h in s["single_parent_households"]:
            members = p[p.household == h]
            parent = members[members.relationship == "世帯主"].index[0]
            for c in members[(members.relationship == "子") & (members.age <= 18)].index:
                rows.append([self.rno(parent, missing=0), self.name(parent), self.kana(parent), self.birth(parent, "kanji"),
                             self.name(c), self.kana(c), self.birth(c, "kanji"),
                             wareki(on - dt.timedelta(days=int(self.rng.integers(100, 2000))), "kanji"),
                             "全部支給" if self.rng.random() < 0.6 else "一部支給"])
                keys.append(int(p.at[c, "person_key"]))
        self.csv("児童扶養手当_受給者一覧.csv", "child_rearing_allowance",
                 ["受給者宛名番号", "受給者氏名", "受給者フリガナ", "受給者生年月日", "対象児童氏名", "対象児童フリガナ",
                  "対象児童生年月日", "認定日", "支給区分"], rows, keys)

        # 要対協 進行管理台帳
        closed, tp = set(s["yotaikyo_closed"]), set(s["temporary_protection"])
        cats = ["ネグレクト", "身体的虐待", "心理的虐待", "要支援"]
        rows, keys = person_rows(s["yotaikyo"], lambda i: [
            self.rno(i), self.name(i), self.kana(i, half=False), self.birth(i, "kanji"),
            wareki(on - dt.timedelta(days=int(self.rng.integers(60, 900))), "kanji"), cats[int(self.rng.integers(4))],
            "終結" if i in closed else "継続", "有" if i in tp else "無"])
        self.xlsx("要対協_進行管理台帳.xlsx", "yotaikyo",
                  ["宛名番号", "児童氏名", "フリガナ", "生年月日", "登録日", "種別", "状況", "一時保護"], rows, keys,
                  title=["要保護児童対策地域協議会 ケース進行管理台帳", "取扱注意"])

        # 障害 (child certificates and a parent's 精神 certificate)
        rows, keys = [], []
        for i in s["disability_child"]:
            rows.append([self.rno(i), self.name(i), self.kana(i), self.birth(i, "iso"), "障害児支援", "", f"J{i:06d}",
                         wareki(on - dt.timedelta(days=400), "slash")])
            keys.append(int(p.at[i, "person_key"]))
        for i in s["disability_parent_mental"]:
            rows.append([self.rno(i), self.name(i), self.kana(i), self.birth(i, "iso"), "精神", "2級", "",
                         wareki(on - dt.timedelta(days=700), "slash")])
            keys.append(int(p.at[i, "person_key"]))
        self.csv("障害者手帳・障害児支援.csv", "disability",
                 ["宛名番号", "氏名", "フリガナ", "生年月日", "手帳種別", "等級", "受給者証番号", "交付日"], rows, keys)

        # 生活保護, 就学援助, 住民税 (household heads / pupils)
        heads = lambda hs: [i for i in p.index if p.at[i, "household"] in set(hs) and p.at[i, "relationship"] == "世帯主"]
        rows, keys = person_rows(heads(s["public_assistance_households"]), lambda i: [
            self.rno(i), p.at[i, "household_no"], self.name(i), self.kana(i), self.birth(i, "iso"),
            wareki(on - dt.timedelta(days=int(self.rng.integers(100, 1500))), "letter"), "保護中"])
        self.csv("生活保護_被保護世帯.csv", "public_assistance",
                 ["宛名番号", "世帯番号", "氏名", "フリガナ", "生年月日", "開始日", "状況"], rows, keys)
        rows, keys = person_rows(s["school_assistance"], lambda i: [
            p.at[i, "school"], p.at[i, "grade"], self.name(i), self.kana(i, half=False), self.birth(i, "iso"),
            "要保護" if p.at[i, "household"] in set(s["public_assistance_households"]) else "準要保護",
            wareki(dt.date(on.year, 4, 1), "kanji")])
        self.xlsx("就学援助_認定者.xlsx", "school_assistance",
                  ["学校名", "学年", "児童生徒氏名", "フリガナ", "生年月日", "認定区分", "認定日"], rows, keys,
                  title=["令和8年度 就学援助 認定者名簿"])
        taxed = heads(sorted(set(p.household)))
        rows, keys = person_rows(taxed, lambda i: [self.rno(i, missing=0), self.name(i, variants=False), self.birth(i, "compact"),
                                                   "非課税" if p.at[i, "household"] in set(s["tax_exempt_households"]) else "課税",
                                                   on.year])
        self.csv("住民税_課税状況.csv", "tax", ["宛名番号", "氏名", "生年月日", "課税区分", "年度"], rows, keys)
        # 相談記録 (DV)
        rows, keys = person_rows(s["dv_consultation"], lambda i: [
            self.rno(i), self.name(i), self.kana(i), self.birth(i, "iso"),
            (on - dt.timedelta(days=int(self.rng.integers(10, 300)))).strftime("%Y/%m/%d"), "DV", "有"])
        self.csv("相談記録.csv", "consultation", ["宛名番号", "氏名", "フリガナ", "生年月日", "相談日", "相談種別", "DV等支援措置"],
                 rows, keys, encoding="utf-8-sig")
        with open(self.out / "sources.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file_name", "source_type"])
            for f in self.files:
                w.writerow([f.file_name, f.source_type])
        return self.files


def write_department_files(town: Town, out_dir) -> list[DeptFile]:
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return _Writer(town, Path(out_dir)).run()
