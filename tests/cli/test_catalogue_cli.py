"""Issue 19 through the CLI on the demo town: a source type of the town (給食費 with 滞納月数) is defined, a file of it
imported and linked, an indicator 給食費滞納 ≥ 3か月 added under a new difficulty type, and the next score shows it
with its reason; the catalogue export/import round trip is exact; a broken catalogue is refused with exit 2 naming
every problem and nothing changed."""

import csv
import json
import os

import pytest
from clirun import run_cli
from conftest import DEMO_PW

PW = DEMO_PW  # the cached demo towns' password (conftest.demo_town)
LUNCH = {
    "key": "school_lunch",
    "label": "給食費",
    "department": "学校教育課",
    "identity": ["resident_no", "name", "birth_date"],
    "attributes": [
        {"field": "arrears_months", "label": "滞納月数", "type": "number", "headers": ["滞納月数", "未納月数"]},
        {"field": "notice_date", "label": "催告日", "type": "date", "headers": ["催告日", "督促日"]},
        {"field": "payment_status", "label": "納付状況", "type": "code_list", "values": ["納付", "滞納"]},
    ],
    "record_date": "notice_date",
    "dedupe": ["record_date"],
    "purpose": "給食費の滞納から経済的な困難を早期に把握し、就学援助等の案内につなぐため",
    "legal_basis_code": "61-1",
}
ARREARS = [0, 1, 3, 5, 4, 2]


def cli(*args, cwd):
    """The CLI in this process (tests/clirun.py: its own folder and environment, empty stdin, captured output)."""
    e = dict(os.environ, KODOMO_DB_PASSWORD=PW)
    e.pop("KODOMO_USER", None)
    return run_cli(args, cwd=cwd, env=e)


def ok(r):
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("town19")
    # what `demo --residents 600 --seed 1 --files-out files` builds (the town and its department files), cached; each
    # `score` here rescores the whole town, and 600 residents hold every case these tests look for
    demo_town(d / "d.db", residents=600, seed=1, files_out=d / "files")
    return d


def test_town_source_type_indicator_and_score(town):
    d = town
    (d / "lunch.json").write_text(json.dumps(LUNCH, ensure_ascii=False), encoding="utf-8")
    r = cli("catalogue", "define-source", "--db", "d.db", "--spec", "lunch.json", cwd=d)
    assert r.returncode == 1  # no reason: usage, nothing changed
    res = ok(cli("catalogue", "define-source", "--db", "d.db", "--spec", "lunch.json", "--reason", "給食費", cwd=d))
    assert res["changes"]["source_types_added"] == ["school_lunch"]

    from kodomo_desktop.core.importing.values import parse_date

    with open(d / "files" / "住民基本台帳_20261101.csv", encoding="cp932") as fh:
        residents = list(csv.DictReader(fh))
    pupils = [r for r in residents if (b := parse_date(r["生年月日"]).value) and 2012 <= b.year <= 2019][:12]
    with open(d / "給食費滞納_R8.csv", "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["宛名番号", "氏名", "生年月日", "未納月数", "督促日", "納付状況"])
        for i, p in enumerate(pupils):
            n = ARREARS[i % 6]
            w.writerow([p["宛名番号"], p["氏名"], p["生年月日"], n, "2026-10-15", "滞納" if n else "納付"])
    imp = ok(
        cli("import", "--db", "d.db", "--source", "school_lunch", "給食費滞納_R8.csv", "--as-of", "2026-11-01", cwd=d)
    )
    assert imp["imported"] == 12 and imp["rejected"] == 0
    ok(cli("link", "--db", "d.db", cwd=d))

    add = ok(
        cli(
            "catalogue", "add-indicator", "--db", "d.db", "--id", "lunch_arrears_3", "--label", "給食費滞納 ≥ 3か月",
            "--source", "school_lunch", "--field", "arrears_months", "--aggregate", "latest", "--op", "≥",
            "--value", "3", "--window", "12", "--new-type", "給食費", "--points", "給食費:3", "--kind", "household",
            "--reason", "給食費の滞納を見る", cwd=d,
        )
    )  # fmt: skip
    assert add["changes"]["types_added"] == ["給食費"] and add["changes"]["indicators_added"] == ["lunch_arrears_3"]
    assert add["preview"]["children"] > 0
    ok(cli("score", "--db", "d.db", "--out", "s.csv", cwd=d))
    with open(d / "s.csv", encoding="utf-8-sig", newline="") as fh:
        scored = {r["name"]: r for r in csv.DictReader(fh)}
    expected = {p["氏名"].replace("\u3000", "　") for i, p in enumerate(pupils) if ARREARS[i % 6] >= 3}
    found = {n for n, r in scored.items() if "給食費滞納 ≥ 3か月(+3)" in r["reasons"]}
    assert found == expected and len(found) == 6
    hist = ok(cli("catalogue", "history", "--db", "d.db", cwd=d))["history"]
    assert [h["version"] for h in hist] == [1, 2]
    assert hist[-1]["weight_set_version"] > hist[0]["weight_set_version"] >= 1


def test_round_trip_is_exact_and_a_broken_catalogue_is_refused(town):
    d = town
    ok(cli("catalogue", "export", "--db", "d.db", "--out", "c1.json", cwd=d))
    again = ok(cli("catalogue", "import", "--db", "d.db", "c1.json", "--reason", "往復", cwd=d))
    assert again["changed"] is False
    ok(cli("catalogue", "export", "--db", "d.db", "--out", "c2.json", cwd=d))
    assert (d / "c1.json").read_bytes() == (d / "c2.json").read_bytes()

    cat = json.loads((d / "c1.json").read_text(encoding="utf-8"))
    cat["indicators"][0]["rule"]["field"] = "no_such_field"
    cat["indicators"][1]["window_months"] = 0
    cat["difficulty_types"].append("引きこもり")
    cat.pop("caveat")
    (d / "bad.json").write_text(json.dumps(cat, ensure_ascii=False), encoding="utf-8")
    r = cli("catalogue", "import", "--db", "d.db", "bad.json", "--reason", "壊れた", cwd=d)
    assert r.returncode == 2
    for part in ("4 件", "no_such_field", "（0）", "引きこもり", "caveat"):
        assert part in r.stderr
    assert cli("catalogue", "check", "bad.json", cwd=d).returncode == 2
    ok(cli("catalogue", "export", "--db", "d.db", "--out", "c3.json", cwd=d))
    assert (d / "c3.json").read_bytes() == (d / "c1.json").read_bytes()  # nothing changed


def test_gaps_on_the_demo_town(town):
    res = ok(cli("catalogue", "gaps", "--db", "d.db", cwd=town))
    assert res["heading"] == "利用できる可能性のある支援"
    gap = next(g for g in res["gaps"] if g["id"] == "gap_tax_exempt_no_school_assistance")
    assert gap["skipped"] is None and "非課税" in gap["rule"]


def test_two_source_indicator_and_rules_through_the_cli(town):
    d = town
    add = ok(
        cli(
            "catalogue", "add-indicator", "--db", "d.db", "--id", "exempt_no_assist", "--label", "非課税で就学援助なし",
            "--source", "tax", "--field", "tax_status", "--aggregate", "all_latest", "--op", "=", "--value", "非課税",
            "--window", "18", "--whose", "household", "--kind", "poverty_proxy", "--points", "貧困:2",
            "--absent-source", "school_assistance", "--absent-window", "15", "--ages", "6-15",
            "--date-field", "as_of", "--absent-date-field", "as_of",
            "--reason", "非課税で就学援助のない世帯", cwd=d,
        )
    )  # fmt: skip
    assert add["changes"]["indicators_added"] == ["exempt_no_assist"]
    rules = ok(
        cli(
            "catalogue", "rules", "--db", "d.db", "--rank-mode", "top_percent", "--rank-value", "2", "--by-type",
            "--basic-min", "4", "--reason", "延岡市の方式", cwd=d,
        )
    )  # fmt: skip
    assert rules["changes"]["rules_changed"] is True
    ok(cli("score", "--db", "d.db", "--out", "s2.csv", cwd=d))
    with open(d / "s2.csv", encoding="utf-8-sig", newline="") as fh:
        found = [r for r in csv.DictReader(fh) if "非課税で就学援助なし(+2)" in r["reasons"]]
    gaps = ok(cli("catalogue", "gaps", "--db", "d.db", cwd=d))
    shipped_gap = next(g for g in gaps["gaps"] if g["id"] == "gap_tax_exempt_no_school_assistance")
    # the scored two-source indicator finds the families the shipped take-up gap finds (same rule, same window)
    assert {r["person_id"] for r in found} == set(shipped_gap["children"]) and found
    exported = ok(cli("catalogue", "export", "--db", "d.db", "--out", "c4.json", cwd=d))
    cat = json.loads((d / "c4.json").read_text(encoding="utf-8"))
    assert exported["indicators"] == len(cat["indicators"])
    assert cat["rules"]["rank"] == {"mode": "top_percent", "value": 2.0, "per": "age_band", "by_type": True}
