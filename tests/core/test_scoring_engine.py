"""The scoring engine on small hand-made inputs (no database): windows, age bands, households, sibling and 要対協
rules, de-duplication of re-sent extracts, no-data reasons, what-if, rank and basic-item rules."""

import datetime as dt

import numpy as np
import pandas as pd

from kodomo_desktop.core.scoring import engine as E
from kodomo_desktop.core.scoring.catalogue import load_catalogue
from kodomo_desktop.core.scoring.weights import compile_weights, default_weights, validate_weights

ON = dt.date(2026, 10, 1)
CAT = load_catalogue()


class World:
    def __init__(self):
        self.persons, self.records = [], []

    def person(self, pid, age_years, hh="H1", rel="子", days=0):
        birth = dt.date(ON.year - age_years, ON.month, ON.day) - dt.timedelta(days=days + 10)
        self.persons.append(
            {
                "person_id": pid,
                "household_id": hh,
                "birth_date": birth,
                "sex": 1,
                "name": f"試験 {pid}",
                "relationship": rel,
            }
        )
        return pid

    def rec(self, pid, st, attrs, date=ON, batch=1, as_of=ON, file="f.csv"):
        self.records.append(
            {
                "record_id": len(self.records) + 1,
                "person_id": pid,
                "source_type": st,
                "record_date": date,
                "batch_id": batch,
                "batch_as_of": as_of,
                "file_name": file,
                "attributes": attrs,
            }
        )

    def input(self, schools=None, **kw):
        sch = pd.DataFrame(schools or [], columns=["person_id", "school", "grade"])
        kw.setdefault("imported_sources", set(CAT["sources"]))
        return E.ScoringInput(
            ON,
            pd.DataFrame(self.persons),
            pd.DataFrame(self.records),
            sch,
            departments={"school_attendance": "教育委員会・学校"},
            **kw,
        )


def run(world, weights=None, **kw):
    w = validate_weights(weights or default_weights(CAT), CAT)
    m = compile_weights(w, CAT)
    prep = E.prepare(world.input(**kw), CAT)
    hits = E.compute_hits(prep, m.windows)
    sc = E.apply_weights(prep, hits, m)
    sib = E.sibling_index(prep, sc)
    details = {prep.children.at[i, "person_id"]: E.explain(prep, hits, sc, i, sibling_index=sib) for i in range(prep.C)}
    return prep, hits, sc, details


def reasons(d):
    return {r["indicator"]: r for r in d["reasons"]}


def test_children_0_to_18_only_and_age_bands():
    w = World()
    for pid, age in (("A", 0), ("B", 5), ("C", 6), ("D", 11), ("E", 12), ("F", 14), ("G", 15), ("H", 18), ("I", 19)):
        w.person(pid, age, hh=pid)
    prep, _, _, d = run(w)
    assert "I" not in d and len(d) == 8
    assert [d[p]["age_band"] for p in "ABCDEFGH"] == [
        "未就学",
        "未就学",
        "小学生",
        "小学生",
        "中学生",
        "中学生",
        "高校生年代",
        "高校生年代",
    ]


def test_absence_reason_names_points_source_date_batch_and_value():
    w = World()
    w.person("A", 10)
    w.rec("A", "school_attendance", {"absence_days": 35, "late_days": 2}, batch=7, file="出欠.xlsx")
    _, _, sc, d = run(w)
    r = reasons(d["A"])["absence_30"]
    assert r["points"] == 6 and r["points_by_type"]["不登校"] == 6
    assert r["source_label"] == "出欠・遅刻・保健室" and r["department"] == "教育委員会・学校"
    assert r["record_date"] == "2026-10-01" and r["batch_id"] == 7 and r["file_name"] == "出欠.xlsx"
    assert r["value"] == "欠席日数 35" and r["whose"] == "本人" and r["basic_no"] == 12
    assert d["A"]["types"]["不登校"]["band"] == "中" and d["A"]["flagged"] and d["A"]["flagged_types"] == ["不登校"]
    assert d["A"]["school_points"] == 6 and d["A"]["basic_items"] == 1
    assert E.reasons_text(d["A"]) == "欠席日数30日以上(+6)"


def test_old_events_expire_with_the_look_back_window():
    w = World()
    w.person("A", 10, hh="1")
    w.person("B", 10, hh="2")
    w.rec("A", "consultation", {"category": "DV"}, date=ON - dt.timedelta(days=300))  # within 36 months
    w.rec("B", "consultation", {"category": "DV"}, date=dt.date(2022, 1, 10))  # expired
    _, _, _, d = run(w)
    assert "dv_history" in reasons(d["A"]) and "dv_history" not in reasons(d["B"])
    # the town may lengthen the window: the old event counts again
    wt = default_weights(CAT)
    wt["indicators"]["dv_history"]["window_months"] = 120
    _, _, _, d = run(w, wt)
    assert "dv_history" in reasons(d["B"])


def test_future_records_and_later_extracts_are_not_read():
    w = World()
    w.person("A", 10)
    w.rec(
        "A",
        "school_attendance",
        {"absence_days": 40},
        date=ON + dt.timedelta(days=30),
        as_of=ON + dt.timedelta(days=30),
    )
    _, _, sc, d = run(w)
    assert not d["A"]["reasons"] and sc.total[0] == 0


def test_thresholds_differ_by_age_band():
    w = World()
    for pid, age in (("P", 4), ("S", 9)):
        w.person(pid, age, hh=pid)
        w.rec(pid, "consultation", {"category": "DV"}, date=ON - dt.timedelta(days=10))  # 虐待 5
    _, _, _, d = run(w)
    assert d["P"]["types"]["虐待"]["band"] == "中" and d["S"]["types"]["虐待"]["band"] == "中"
    wt = default_weights(CAT)
    wt["thresholds"]["虐待"]["小学生"] = {"高": 9, "中": 6}
    _, _, _, d = run(w, wt)
    assert d["P"]["flagged"] and not d["S"]["flagged"]
    assert d["S"]["types"]["虐待"]["threshold"] == 6


def test_household_and_parent_records_reach_the_children():
    w = World()
    w.person("M", 35, rel="世帯主")
    w.person("K1", 1)
    w.person("K2", 12)
    w.rec("M", "maternal_child_health", {"record_kind": "産婦健診", "epds_score": 14}, date=ON - dt.timedelta(days=200))
    w.rec("M", "tax", {"tax_status": "非課税", "fiscal_year": 2026})
    w.rec("M", "disability", {"certificate_type": "精神"}, date=dt.date(2019, 1, 1))
    _, _, _, d = run(w)
    r1 = reasons(d["K1"])
    assert {"epds_high", "tax_exempt", "parent_mental_certificate"} <= set(r1)
    assert r1["epds_high"]["whose"] == "保護者" and r1["epds_high"]["person_id"] == "M"
    assert r1["epds_high"]["relationship"] == "世帯主"
    # EPDS applies to children aged 0–2 only; the household's tax status to every child
    r2 = reasons(d["K2"])
    assert "epds_high" not in r2 and "tax_exempt" in r2 and "parent_mental_certificate" in r2
    assert "M" not in d  # adults are not scored


def test_tax_exempt_needs_every_member_exempt():
    w = World()
    w.person("F", 40, rel="世帯主")
    w.person("M", 38, rel="妻")
    w.person("K", 8)
    w.rec("F", "tax", {"tax_status": "非課税", "fiscal_year": 2026})
    w.rec("M", "tax", {"tax_status": "課税", "fiscal_year": 2026})
    _, _, _, d = run(w)
    assert "tax_exempt" not in reasons(d["K"])


def test_multi_child_household_from_the_registry():
    w = World()
    for pid, age in (("A", 3), ("B", 7), ("C", 12)):
        w.person(pid, age, hh="H9")
        w.rec(pid, "resident_registry", {}, batch=1, file="住基.csv")
    w.person("D", 7, hh="H8")
    _, _, _, d = run(w)
    r = reasons(d["A"])["multi_child"]
    assert r["value"] == "18歳以下 3人" and r["file_name"] == "住基.csv" and "multi_child" not in reasons(d["D"])


def test_sibling_rule_adds_points_and_names_the_sibling():
    w = World()
    w.person("A", 9, hh="H")
    w.person("B", 7, hh="H")
    w.person("C", 7, hh="X")
    w.rec("A", "yotaikyo", {"status": "継続", "category": "ネグレクト"}, date=dt.date(2025, 4, 1))
    w.rec("B", "consultation", {"category": "経済"}, date=ON - dt.timedelta(days=5))
    _, _, _, d = run(w)
    rb = reasons(d["B"])["sibling_flagged"]
    assert rb["points"] == 2 and rb["siblings"] == ["A"] and rb["points_by_type"] == {"虐待": 2.0}
    assert d["B"]["sibling"] == {"points": 2.0, "types": ["虐待"], "from": ["A"]}
    assert d["B"]["total"] == 4 and "sibling_flagged" not in reasons(d["A"]) and not d["C"]["reasons"]
    wt = default_weights(CAT)
    wt["sibling"] = {"enabled": True, "points": 5, "types": "same"}
    _, _, _, d = run(w, wt)
    assert d["B"]["flagged"] and d["B"]["flagged_types"] == ["虐待"]
    wt["sibling"]["enabled"] = False
    _, _, _, d = run(w, wt)
    assert "sibling_flagged" not in reasons(d["B"])


def test_yotaikyo_rule_continue_exclude_none():
    w = World()
    w.person("A", 9, hh="1")
    w.rec("A", "yotaikyo", {"status": "継続", "category": "ネグレクト"}, date=dt.date(2024, 4, 1))
    w.rec("A", "school_attendance", {"absence_days": 40})
    w.person("B", 9, hh="2")
    w.rec("B", "school_attendance", {"absence_days": 40})
    _, _, sc, d = run(w)
    assert d["A"]["flagged"] and d["A"]["yotaikyo_active"] and d["A"]["status_label"] == "支援継続"
    assert not d["A"]["new_candidate"] and d["B"]["new_candidate"]
    wt = default_weights(CAT)
    wt["yotaikyo"] = {"mode": "exclude", "label": "支援継続"}
    _, _, sc, d = run(w, wt)
    assert not d["A"]["flagged"] and d["A"]["status_label"] == "支援継続" and d["B"]["flagged"]
    wt["yotaikyo"] = {"mode": "none"}
    _, _, sc, d = run(w, wt)
    assert d["A"]["flagged"] and d["A"]["new_candidate"] and d["A"]["status_label"] == ""


def test_closed_yotaikyo_is_history_and_expires_from_closure():
    w = World()
    w.person("A", 9, hh="1")
    w.rec("A", "yotaikyo", {"status": "終結", "closed_date": "2025-01-10"}, date=dt.date(2019, 4, 1))
    w.person("B", 9, hh="2")
    w.rec("B", "yotaikyo", {"status": "終結", "closed_date": "2020-01-10"}, date=dt.date(2019, 4, 1))
    _, _, _, d = run(w)
    assert set(reasons(d["A"])) == {"yotaikyo_history"} and not d["A"]["yotaikyo_active"]
    assert not d["B"]["reasons"]


def test_resent_extracts_do_not_double_count_and_newest_wins():
    w = World()
    w.person("A", 2, hh="1")
    # the 1歳6か月 check-up: missed in the spring extract, attended later (newer extract)
    w.rec(
        "A",
        "maternal_child_health",
        {"record_kind": "乳幼児健診", "checkup_type": "1歳6か月", "checkup_status": "未受診"},
        date=dt.date(2026, 4, 1),
        batch=1,
        as_of=dt.date(2026, 4, 1),
    )
    w.rec(
        "A",
        "maternal_child_health",
        {
            "record_kind": "乳幼児健診",
            "checkup_type": "1歳6か月",
            "checkup_status": "受診",
            "checkup_date": "2026-05-10",
        },
        date=dt.date(2026, 5, 10),
        batch=2,
    )
    w.person("B", 10, hh="2")
    # the same consultation in two ledger extracts counts once
    for b in (1, 2):
        w.rec(
            "B",
            "consultation",
            {"category": "経済"},
            date=dt.date(2026, 3, 3),
            batch=b,
            as_of=dt.date(2026, 4, 1) if b == 1 else ON,
        )
    prep, _, _, d = run(w)
    assert "checkup_missed" not in reasons(d["A"]) and "checkups_attended" in {
        p["indicator"] for p in d["A"]["protective"]
    }
    assert (prep.R["source_type"] == "consultation").sum() == 1
    assert reasons(d["B"])["consultation_economic"]["batch_id"] == 2


def test_attendance_extracts_are_read_with_max_not_summed():
    w = World()
    w.person("A", 10)
    w.rec("A", "school_attendance", {"period": "4月〜6月", "absence_days": 18}, batch=1, as_of=dt.date(2026, 7, 1))
    w.rec("A", "school_attendance", {"period": "4月〜9月", "absence_days": 25}, batch=2)
    _, _, _, d = run(w)
    assert "absence_30" not in reasons(d["A"])  # 18 + 25 would have crossed 30


def test_checkup_missed_plus_questionnaire_is_strong():
    w = World()
    w.person("A", 2)
    w.rec(
        "A",
        "maternal_child_health",
        {"record_kind": "乳幼児健診", "checkup_type": "4か月", "checkup_status": "受診", "q_hit_emotionally": True},
        date=dt.date(2024, 12, 1),
    )
    w.rec(
        "A",
        "maternal_child_health",
        {"record_kind": "乳幼児健診", "checkup_type": "1歳6か月", "checkup_status": "未受診"},
    )
    _, _, _, d = run(w)
    assert {"checkup_missed", "q_hit_emotionally"} <= set(reasons(d["A"]))
    assert d["A"]["types"]["虐待"]["band"] == "高" and d["A"]["basic_items"] == 2


def test_checklist_group_counts_feed_the_score():
    w = World()
    w.person("A", 9)
    w.rec(
        "A", "school_checklist", {"round_id": 1, "group_counts": {"child.food": 2, "child.emotion": 2, "home.home": 1}}
    )
    _, _, _, d = run(w)
    r = reasons(d["A"])["checklist_child_state"]
    assert r["school_held"] and r["value"] == "該当の数 4" and d["A"]["school_points"] == 3


def test_no_data_is_listed_not_scored_as_no_risk():
    w = World()
    w.person("A", 9, hh="1")  # school age, no school record
    w.person("B", 9, hh="2")
    w.rec("B", "school_attendance", {"absence_days": 1})
    w.rec("B", "school_health", {"untreated_caries": 0})
    w.person("C", 1, hh="3")  # infant without check-up records
    w.person("D", 9, hh="4")
    w.rec("D", "school_attendance", {"absence_days": 1})
    rounds = [{"round_id": 5, "name": "2026年度1学期", "schools": None, "grades": None}]
    schools = [("B", "第一小学校", "3"), ("D", "第二小学校", "3")]
    _, _, _, d = run(
        w,
        schools=schools,
        checklist_rounds=rounds,
        checklist_returned={("第二小学校", 5)},
        imported_sources={
            "resident_registry",
            "school_attendance",
            "school_health",
            "maternal_child_health",
            "tax",
            "school_checklist",
        },
    )
    labels = lambda p: [x["label"] for x in d[p]["no_data"]]
    assert "学校データなし" in labels("A") and "学校データなし" not in labels("B")
    assert "チェックリスト未回収" in labels("B") and "チェックリスト未記入" in labels("D")
    assert "学校健診データなし" in labels("D")
    assert any("母子保健" in x for x in labels("C"))
    assert "要対協：未取込" in labels("A")  # never imported: not "not registered"
    assert "課税データなし（世帯）" in labels("A")


def test_what_if_switches_off_an_indicator_and_applies_a_support():
    w = World()
    w.person("A", 10)
    w.rec("A", "school_attendance", {"absence_days": 40, "late_days": 20})
    prep = E.prepare(w.input(), CAT)
    m = compile_weights(validate_weights(default_weights(CAT), CAT), CAT)
    hits = E.compute_hits(prep, m.windows)
    base = E.apply_weights(prep, hits, m)
    off = np.zeros_like(hits.H)
    off[0, m.ind_ids.index("absence_30")] = True
    after = E.apply_weights(prep, hits, m, disabled=off)
    assert base.total[0] == 8 and after.total[0] == 2 and not after.flagged[0]
    factors = np.ones((1, len(m.types)))
    factors[0, m.types.index("不登校")] = 0.5
    sup = E.apply_weights(prep, hits, m, factors=factors)
    d = E.explain(prep, hits, sup, 0)
    assert d["types"]["不登校"]["points"] == 4.0 and reasons(d)["absence_30"]["points_by_type"]["不登校"] == 3.0


def test_rank_and_basic_item_rules_flag_in_addition_to_thresholds():
    w = World()
    for n in range(10):
        w.person(f"K{n}", 9, hh=f"K{n}")
    w.rec("K0", "school_attendance", {"absence_days": 3, "late_days": 15, "nurse_visits": 12})  # 4 points
    w.rec("K1", "school_attendance", {"absence_days": 3, "late_days": 16})  # 2 points
    w.rec("K2", "school_attendance", {"absence_days": 3, "nurse_visits": 10})  # 2 points
    wt = default_weights(CAT)
    wt["rank"] = {"mode": "top_percent", "value": 10, "per": "age_band"}
    _, _, sc, d = run(w, wt)
    assert [p for p in sorted(d) if d[p]["flagged"]] == ["K0"] and d["K0"]["flag_basis"] == ["rank"]
    assert sc.rank_cutoffs == {"小学生": 4.0}
    wt["rank"]["value"] = 20  # 2 of 10: a tie at the cut-off is kept in (nobody is dropped by the order of rows)
    _, _, sc, d = run(w, wt)
    assert [p for p in sorted(d) if d[p]["flagged"]] == ["K0", "K1", "K2"]
    wt["rank"] = {"mode": "top_n", "value": 1, "per": "all"}
    _, _, sc, d = run(w, wt)
    assert [p for p in sorted(d) if d[p]["flagged"]] == ["K0"]
    wt = default_weights(CAT)
    wt["basic_items_rule"] = {"enabled": True, "min": 1}
    _, _, _, d = run(w, wt)
    assert [p for p in sorted(d) if d[p]["flagged"]] == ["K0", "K1"]  # 遅刻 is basic item 13; 保健室 is not basic
    assert d["K1"]["flag_basis"] == ["basic_items"] and d["K0"]["basic_item_nos"] == [13]


def test_summary_frame_and_empty_input():
    w = World()
    prep, hits, sc, d = run(w)
    assert prep.C == 0 and d == {} and len(E.summary_frame(prep, sc)) == 0
