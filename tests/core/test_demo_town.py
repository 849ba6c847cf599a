"""The synthetic demo town: determinism, household sanity, department files as towns send them, manifest, truth."""

import csv
import datetime as dt
import io
import os

import pandas as pd
import pytest

from kodomo_desktop.core.demo.files import HEADERS_BY_FILE, HEADERS_USED, write_department_files
from kodomo_desktop.core.demo.town import AS_OF, SCENARIOS, NoiseProfile, generate_town

ALL_TYPES = {
    "resident_registry",
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
}


@pytest.fixture(scope="module")
def town():
    return generate_town(residents=1500, seed=11)


@pytest.fixture(scope="module")
def written(town, tmp_path_factory):
    d = tmp_path_factory.mktemp("demo_files")
    return d, write_department_files(town, d)


def _read(f):
    """A department file as the user sees it: a list of rows (row 1 first), every cell as text."""
    if f.path.suffix == ".csv":
        raw = f.path.read_bytes()
        text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp932")
        return list(csv.reader(io.StringIO(text, newline="")))
    df = pd.read_excel(f.path, header=None, dtype=object, engine="openpyxl")
    return [
        ["" if v is None or v != v else (f"{v:%Y/%m/%d}" if hasattr(v, "strftime") else str(v)) for v in row]
        for row in df.itertuples(index=False)
    ]


# --- the town --------------------------------------------------------------------------------------------------------
def test_same_seed_same_town_other_seed_other_town():
    a, b, c = generate_town(600, seed=3), generate_town(600, seed=3), generate_town(600, seed=4)
    pd.testing.assert_frame_equal(a.persons, b.persons)
    for k in a.events:
        pd.testing.assert_frame_equal(a.events[k], b.events[k])
    assert a.truth == b.truth
    assert not a.persons[["name", "birth_date"]].equals(c.persons[["name", "birth_date"]])


def test_same_seed_same_files(tmp_path):
    t = generate_town(600, seed=3)
    fa, fb = write_department_files(t, tmp_path / "a"), write_department_files(t, tmp_path / "b")
    for x, y in zip(fa, fb):
        assert (x.file_name, x.rows, x.invalid_rows, x.noise) == (y.file_name, y.rows, y.invalid_rows, y.noise)
        if x.path.suffix == ".csv":
            assert x.path.read_bytes() == y.path.read_bytes()
        else:
            assert _read(x) == _read(y)


def test_households_hang_together(town):
    p = town.persons
    assert list(p.index) == list(p["person_key"])  # person key == row label
    assert p["resident_no"].is_unique and p["resident_no"].str.fullmatch(r"\d{10}").all()
    # per household, column-wise (a loop over households with iterrows took 3 s)
    heads = (p["relationship"] == "世帯主").groupby(p["household_key"]).sum()
    assert (heads == 1).all(), heads[heads != 1].index.tolist()
    for col in ("household_no", "address"):
        one = p.groupby("household_key")[col].nunique()
        assert (one == 1).all(), (col, one[one != 1].index.tolist())
    kids = p[p["mother_key"].notna()]
    mothers = p.loc[[int(k) for k in kids["mother_key"]]]
    assert len(kids) > 0
    for ck, hk, born, m_hh, m_sex, m_born in zip(
        kids.index,
        kids["household_key"],
        kids["birth_date"],
        mothers["household_key"],
        mothers["sex"],
        mothers["birth_date"],
    ):
        assert m_hh == hk and m_sex == 2, ck
        assert 15 <= (born - m_born).days / 365.25 <= 50, ck
    assert set(p["sex"]) == {1, 2}
    assert p["birth_date"].max() < AS_OF
    reg = town.registry
    ages = set(reg.loc[reg["age"] <= 18, "age"])
    assert ages == set(range(19))  # children of every age 0–18
    kinds = set(town.households["kind"])
    assert {"couple_children", "single_parent", "three_gen", "single_elder", "elder_couple"} <= kinds
    rels = set(reg["relationship"])
    assert {"世帯主", "妻", "子", "孫"} <= rels and rels & {"父", "母", "妻の父", "妻の母"}
    share = (reg["age"] <= 18).mean()
    assert 0.1 < share < 0.3


def test_schools_grades_and_classes(town):
    p = town.persons
    pupils = p[p["school"].notna()]
    kinds = town.schools.set_index("school")["kind"]
    assert (kinds == "小学校").sum() >= 2 and (kinds == "中学校").sum() >= 1 and (kinds == "保育所").sum() >= 1
    fy = dt.date(AS_OF.year, 4, 1)
    for _, r in pupils.iterrows():  # school year runs April 2 – April 1
        a = fy.year - r["birth_date"].year - ((fy.month, fy.day) < (r["birth_date"].month, r["birth_date"].day))
        assert r["grade"] == (a - 5 if r["school_kind"] == "小学校" else a - 11)
    assert not pupils.duplicated(["school", "grade", "class", "student_no"]).any()
    assert p.loc[p["nursery"].notna(), "age"].max() <= 6


def test_planted_cases_namesakes_twins(town):
    t, p = town.truth, town.persons
    assert t["strong_cases"] == t.strong_cases and len(t.strong_cases) >= len(SCENARIOS)
    assert {c.scenario for c in t.planted} == set(SCENARIOS)
    for c in t.planted:
        kid = p.loc[c.person_key]
        assert kid["in_registry"] and kid["age"] <= 18 and c.planted
        ev = {k: set(v["person_key"]) if len(v) else set() for k, v in town.events.items()}
        if "yotaikyo" in c.planted:
            assert c.person_key in ev["yotaikyo"]
        if "absence_days" in c.planted:
            att = town.events["school_attendance"].set_index("person_key")
            assert att.at[c.person_key, "absence_days"] >= 30
        if "child_rearing_allowance" in c.planted:
            assert c.person_key in ev["child_rearing_allowance"]
    assert len(t.namesakes) == NoiseProfile.demo().namesakes
    for a, b in t.namesakes:
        x, y = p.loc[a], p.loc[b]
        assert (x["name"], x["name_kana"], x["birth_date"], x["sex"]) == (
            y["name"],
            y["name_kana"],
            y["birth_date"],
            y["sex"],
        )
        assert x["household_key"] != y["household_key"] and x["resident_no"] != y["resident_no"]
    assert len(t.twins) == NoiseProfile.demo().twins
    for a, b in t.twins:
        x, y = p.loc[a], p.loc[b]
        assert x["household_key"] == y["household_key"] and x["birth_date"] == y["birth_date"]
        assert x["given_name"] != y["given_name"]
    assert t.moved_away and not p.loc[t.moved_away, "in_registry"].any()


def test_risks_correlate(town):
    """Poverty signals sit together: most 生活保護 children are also on 就学援助 (要保護)."""
    pa_ev = town.events["public_assistance"]
    pa = set(pa_ev.loc[pa_ev["status"] == "保護中", "person_key"])
    sa = town.events["school_assistance"]
    pupils_pa = [k for k in pa if pd.notna(town.persons.at[k, "school"])]
    on_sa = set(sa.loc[sa["category"] == "要保護", "person_key"])
    assert pupils_pa and len(on_sa & set(pupils_pa)) / len(pupils_pa) > 0.8
    ev = town.events["maternal_child_health"]
    assert (ev["epds_score"].dropna() >= 9).any() and (ev["weeks_at_notification"].dropna() >= 20).any()
    assert (ev["checkup_status"] == "未受診").any() and (ev["vaccination_status"] == "未接種").any()
    y = town.events["yotaikyo"]
    assert {"継続", "終結"} <= set(y["status"]) and y["temporary_protection"].any()
    assert "DV" in set(town.events["consultation"]["category"])
    d = town.events["disability"]
    assert "精神" in set(d["certificate_type"]) and "障害児支援" in set(d["certificate_type"])


# --- the files ---------------------------------------------------------------------------------------------------------
def test_every_source_type_written_and_readable(written):
    d, files = written
    assert {f.source_type for f in files} == ALL_TYPES
    for f in files:
        rows = _read(f)
        if f.format == "csv":
            raw = f.path.read_bytes()
            assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
            enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp932"
            df = pd.read_csv(f.path, encoding=enc, dtype=str, skiprows=f.header_row - 1, skip_blank_lines=False)
        else:
            df = pd.read_excel(f.path, header=f.header_row - 1, dtype=object, engine="openpyxl")
        header = rows[f.header_row - 1]
        assert header[: len(df.columns)] == list(df.columns), f.file_name
        assert any(header == h for h in HEADERS_BY_FILE[f.source_type]), f.file_name
        assert set(header) <= set(HEADERS_USED[f.source_type])
        assert len(df) == len(f.rows) + len(f.empty_rows), f.file_name
        numbers = [r for r, _ in f.rows]
        assert numbers == sorted(numbers) and numbers[0] > f.header_row and numbers[-1] <= len(rows)
        for r in f.empty_rows:
            assert not any(c.strip() for c in rows[r - 1])
    by_type = {}
    for f in files:
        by_type.setdefault(f.source_type, []).append(f)
    assert len(by_type["school_attendance"]) >= 3  # one per school
    assert all(f.format == "csv" for f in by_type["tax"] + by_type["resident_registry"])


def test_registry_forms(written, town):
    d, files = written
    reg = next(f for f in files if f.source_type == "resident_registry")
    rows = _read(reg)
    kana = [r[3] for r in rows[1:] if len(r) > 3]
    assert any("ｱ" <= ch <= "ﾝ" for k in kana for ch in k) and any("ア" <= ch <= "ン" for k in kana for ch in k)
    births = [r[4] for r in rows[1:] if len(r) > 4]
    assert any(b[:1] in "SHR" and "." in b for b in births)  # H27.4.5
    assert any("年" in b for b in births) and any(b[:4].isdigit() for b in births)
    in_reg = {k for _, k in reg.rows}
    assert in_reg == set(town.registry.index)
    first_school = next(f for f in files if f.source_type == "school_attendance")
    assert "宛名番号" not in _read(first_school)[first_school.header_row - 1]


def test_manifest_matches_directory(written):
    d, files = written
    assert sorted(os.listdir(d)) == sorted([f.file_name for f in files] + ["sources.csv"])
    with open(d / "sources.csv", encoding="utf-8", newline="") as fh:
        body = list(csv.reader(fh))
    assert body[0] == ["file_name", "source_type", "as_of"]  # the as-of date: `import --manifest` reads it
    assert {r[0]: r[1] for r in body[1:]} == {f.file_name: f.source_type for f in files}
    assert {r[2] for r in body[1:]} == {"2026-11-01"}


def test_invalid_rows_recorded(written):
    d, files = written
    planted = 0
    for f in files:
        rows = _read(f)
        header = rows[f.header_row - 1]
        numbers = {r for r, _ in f.rows}
        for r, col in f.invalid_rows:
            assert r in numbers
            cell = rows[r - 1][header.index(col)]
            assert cell == "X" or "2.30" in cell or "2月30日" in cell or "0230" in cell or "/02/30" in cell, (
                f.file_name,
                cell,
            )
            planted += 1
        for r, col in f.unknown_cells:
            assert rows[r - 1][header.index(col)] == "不明"
    assert planted >= len(files) - 1


def test_invalid_rows_are_what_the_importer_rejects(written, town):
    pytest.importorskip("kodomo_desktop.core.importing.parse")
    from kodomo_desktop.core.importing import fields as F
    from kodomo_desktop.core.importing.parse import parse_rows
    from kodomo_desktop.core.importing.readers import read_table

    d, files = written
    for f in files:
        table = read_table(f.path)
        res = parse_rows(table, f.source_type, F.detect_mapping(f.source_type, table.headers), town.as_of)
        assert {e["row"] for e in res.rejections} == {r for r, _ in f.invalid_rows}, f.file_name
        assert {r["row_number"] for r in res.records} == {r for r, _ in f.rows} - {r for r, _ in f.invalid_rows}


def test_noise_levels(tmp_path):
    clean = generate_town(800, seed=2, noise=NoiseProfile.clean())
    cf = write_department_files(clean, tmp_path / "clean")
    assert not any(f.invalid_rows or f.empty_rows or f.unknown_cells for f in cf)
    assert not clean.truth.namesakes and not clean.truth.twins and not clean.truth.moved_away
    assert not any(t for f in cf for tags in f.noise.values() for t in tags if t != "halfwidth_kana")
    high = generate_town(800, seed=2, noise=NoiseProfile.high())
    hf = write_department_files(high, tmp_path / "high")
    low = write_department_files(generate_town(800, seed=2, noise=NoiseProfile.low()), tmp_path / "low")
    count = lambda fs: sum(len(t) for f in fs for t in f.noise.values()) / sum(len(f.rows) for f in fs)
    assert count(hf) > count(low) > 0
    moved = set(high.truth.moved_away)
    assert moved and any(k in moved for f in hf if f.source_type != "resident_registry" for _, k in f.rows)
    reg = next(f for f in hf if f.source_type == "resident_registry")
    assert not moved & {k for _, k in reg.rows}
    assert NoiseProfile.named("medium") == NoiseProfile.medium()


def test_quick_look_command(tmp_path, capsys):
    from kodomo_desktop.core.demo.__main__ import main

    assert main([str(tmp_path / "out"), "--residents", "400", "--seed", "1", "--truth", str(tmp_path / "t.json")]) == 0
    assert "sources.csv" in os.listdir(tmp_path / "out") and (tmp_path / "t.json").exists()
    assert '"strong_cases"' in capsys.readouterr().out


def test_a_small_town_without_single_parent_recipients_still_builds(tmp_path):
    """Seed 3 at 200 residents has no 児童扶養手当 recipient: the demo must build, not stop with a KeyError."""
    from conftest import PASSWORD

    from kodomo_desktop.core.demo.service import build_demo

    res = build_demo(tmp_path / "small.db", residents=200, seed=3, password=PASSWORD)
    assert res["residents"] == 200 and res["files"] >= 10
