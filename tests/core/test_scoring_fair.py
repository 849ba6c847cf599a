"""Issue 16 on hand-made inputs: indicator kinds and the own/household split, a household fact counted once per
child (the sibling rule reads the sibling's own records), the proxy guard, pending and implausible records, 要対協
closure from 終結日, 要対協 rules before top-N, and the typed ScoreDetails round trip."""

import datetime as dt

import pandas as pd
import pytest
from test_scoring_engine import CAT, ON, World, reasons, run

from kodomo_desktop.core.scoring.catalogue import KINDS, load_catalogue
from kodomo_desktop.core.scoring.explain import Reason, ScoreDetails
from kodomo_desktop.core.scoring.weights import default_weights


def test_every_indicator_says_what_kind_of_fact_it_is():
    kinds = {i["id"]: i["kind"] for i in load_catalogue()["indicators"]}
    assert set(kinds.values()) <= KINDS
    for iid in ("public_assistance", "tax_exempt", "school_assistance", "child_rearing_allowance"):
        assert kinds[iid] == "poverty_proxy"
    assert kinds["absence_30"] == "own" and kinds["parent_disability"] == "household"
    assert kinds["multi_child"] == "household" and kinds["checkups_attended"] == "protective"


def test_a_catalogue_of_the_first_format_reads_risk_by_whose(tmp_path):
    import json

    from kodomo_desktop.resources import resource_path

    raw = json.loads(resource_path("indicators.json").read_text(encoding="utf-8"))
    for i in raw["indicators"]:
        if i["kind"] != "protective":
            i["kind"] = "risk"
    p = tmp_path / "old.json"
    p.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    kinds = {i["id"]: i["kind"] for i in load_catalogue(p)["indicators"]}
    assert kinds["absence_30"] == "own" and kinds["parent_disability"] == "household"


def _three_children_and_a_parent_certificate():
    w = World()
    w.person("M", 40, hh="H", rel="世帯主")
    for pid, age in (("A", 9), ("B", 11), ("C", 13)):
        w.person(pid, age, hh="H")
    w.rec("M", "disability", {"certificate_type": "身体"}, date=ON - dt.timedelta(days=30))
    return w


def test_a_household_fact_is_counted_once_per_child():
    # a parent's disability certificate (+3) and three children (+2): ヤングケアラー 5 = 中 for each child. Before
    # issue 16 the sibling rule then added +2 to every child (the same household fact counted twice) → 7 = 高.
    _, _, sc, d = run(_three_children_and_a_parent_certificate())
    for pid in "ABC":
        x = d[pid]
        assert x["types"]["ヤングケアラー"]["points"] == 5, pid
        assert "sibling_flagged" not in reasons(x)
        assert x["own_points"] == 0 and x["household_points"] == 5 and x["total"] == 5
        assert x["band"] == "中" and x["flagged"]
        kinds = {r["indicator"]: r["kind"] for r in x["reasons"]}
        assert kinds == {"parent_disability": "household", "multi_child": "household"}


def test_the_sibling_rule_adds_what_the_siblings_own_records_say():
    w = _three_children_and_a_parent_certificate()
    w.rec("A", "school_checklist", {"group_counts": {"care.a": 2}, "round_id": 1})  # A's own: ヤングケアラー +4
    _, _, _, d = run(w)
    assert d["A"]["types"]["ヤングケアラー"]["points"] == 9 and d["A"]["own_points"] == 4
    for pid in "BC":
        r = reasons(d[pid])["sibling_flagged"]
        assert r["siblings"] == ["A"] and r["kind"] == "household" and r["points"] == 2
        assert d[pid]["types"]["ヤングケアラー"]["points"] == 7 and d[pid]["household_points"] == 7
        assert d[pid]["own_points"] == 0


def test_the_proxy_guard_keeps_household_facts_alone_out_of_the_top_band():
    w = World()
    w.person("M", 40, hh="H", rel="世帯主")
    w.person("A", 9, hh="H")
    w.rec("M", "public_assistance", {"status": "受給中"})
    w.rec("M", "tax", {"tax_status": "非課税", "fiscal_year": 2026})
    w.rec("M", "school_assistance", {"category": "準要保護"})
    w.rec("M", "child_rearing_allowance", {"payment_category": "全部支給"})
    _, _, sc, d = run(w)
    a = d["A"]
    assert a["types"]["貧困"]["points"] == 9  # 3 + 2 + 2 + 2: the top band's cut (9) is reached …
    assert a["types"]["貧困"]["band"] == "中" and a["band"] == "中"  # … but poverty proxies alone stay 中
    assert a["guard_capped"] == ["貧困"] and a["types"]["貧困"]["guard_capped"]
    assert "虐待" not in a["types"]  # 生活保護 adds no abuse points
    assert a["own_points"] == 0 and a["household_points"] == 9
    # an own-record reason in the type lets the household facts raise the child
    w.rec("A", "school_health", {"untreated_caries": 4}, date=ON - dt.timedelta(days=20))
    _, _, _, d = run(w)
    assert d["A"]["types"]["貧困"]["band"] == "高" and d["A"]["guard_capped"] == []
    # the town switches the guard off for one type, with a reason
    w2 = World()
    w2.persons, w2.records = list(w.persons), [r for r in w.records if r["source_type"] != "school_health"]
    weights = default_weights(CAT)
    weights["proxy_guard"] = {"off": {"貧困": "町の要綱で経済的困窮のみでも最優先とするため"}}
    _, _, _, d = run(w2, weights)
    assert d["A"]["types"]["貧困"]["band"] == "高" and d["A"]["guard_off"] == {
        "貧困": weights["proxy_guard"]["off"]["貧困"]
    }


def test_switching_the_guard_off_needs_a_reason():
    from kodomo_desktop.core.errors import InputRefused
    from kodomo_desktop.core.scoring.weights import validate_weights

    with pytest.raises(InputRefused):
        validate_weights({"proxy_guard": {"off": {"貧困": ""}}}, CAT)
    with pytest.raises(InputRefused):
        validate_weights({"proxy_guard": {"off": {"なし": "x"}}}, CAT)


def test_pending_review_records_show_without_points():
    w = World()
    w.person("A", 9, hh="H")
    pending = pd.DataFrame([{"person_id": "A", "source_type": "yotaikyo", "record_id": 99}])
    _, _, _, d = run(w, pending=pending)
    x = ScoreDetails.from_dict(d["A"])
    assert x.pending_lines == ["名寄せ確認待ち：要対協台帳 1件"] and x.pending_text == "yotaikyo:1"
    assert x.total == 0 and x.band == "低"


def test_records_dated_before_birth_or_after_their_extract_are_never_facts():
    w = World()
    w.person("A", 5, hh="H")
    w.rec("A", "yotaikyo", {"status": "継続", "category": "ネグレクト"}, date=dt.date(2015, 4, 1))  # years before birth
    w.rec("A", "consultation", {"category": "不登校"}, date=ON + dt.timedelta(days=40), as_of=ON)  # after the extract
    _, _, _, d = run(w)
    x = ScoreDetails.from_dict(d["A"])
    assert x.total == 0 and not x.reasons
    assert sorted(i.problem for i in x.implausible) == ["抽出日より後の日付", "生年月日より前の日付"]


def test_a_ledger_closed_by_its_closing_date_is_not_continuing_support():
    w = World()
    w.person("A", 9, hh="H")
    w.rec(
        "A", "yotaikyo", {"status": "", "category": "ネグレクト", "closed_date": "2026-03-31"}, date=dt.date(2024, 5, 1)
    )
    _, _, sc, d = run(w)
    assert not d["A"]["yotaikyo_active"] and d["A"]["status_label"] == ""
    rs = reasons(d["A"])
    assert "yotaikyo_active" not in rs and "yotaikyo_history" in rs


BITS = ("late_15", "nurse_visits", "absence_30", "consultation_school_refusal", "checklist_school_adjustment")


def _ranked_world(n=30, ledger=5):
    """n children with distinct totals 1 … n (points 1, 2, 4, 8, 16 on five own-record items); the first
    ``ledger`` (the highest totals) are on the 要対協 ledger."""
    w = World()
    for k in range(n):
        pid = f"C{k:02d}"
        w.person(pid, 9, hh=pid)
        v = n - k
        att = {"late_days": 15 if v & 1 else 0, "nurse_visits": 10 if v & 2 else 0, "absence_days": 30 if v & 4 else 0}
        w.rec(pid, "school_attendance", att)
        if v & 8:
            w.rec(pid, "consultation", {"category": "不登校"})
        if v & 16:
            w.rec(pid, "school_checklist", {"group_counts": {"school.a": 2}, "round_id": 1})
        if k < ledger:
            w.rec(pid, "yotaikyo", {"status": "継続", "category": "ネグレクト"}, date=dt.date(2025, 4, 1))
    return w


def _rank_weights(mode):
    weights = default_weights(CAT)
    for b, iid in enumerate(BITS):
        weights["indicators"][iid]["points"] = {"不登校": 2**b}
    weights["indicators"]["yotaikyo_active"]["points"] = {"虐待": 0.5}
    weights["thresholds"]["不登校"]["小学生"] = {"高": 900, "中": 800}  # only the rank rule flags
    weights["thresholds"]["虐待"]["小学生"] = {"高": 900, "中": 800}
    weights["rank"] = {"mode": "top_n", "value": 20, "per": "all"}
    weights["yotaikyo"] = {"mode": mode, "label": "支援継続"}
    return weights


def test_top_n_with_the_yotaikyo_exclusion_gives_n():
    _, _, sc, d = run(_ranked_world(), _rank_weights("exclude"))
    flagged = [p for p, x in d.items() if x["flagged"]]
    assert len(flagged) == 20 and not any(d[p]["yotaikyo_active"] for p in flagged)
    # lower priority: kept, but ranked after every other child
    _, _, sc, d = run(_ranked_world(), _rank_weights("lower"))
    ledger = [p for p, x in d.items() if x["yotaikyo_active"]]
    others = [p for p, x in d.items() if not x["yotaikyo_active"]]
    assert min(d[p]["rank"]["position"] for p in ledger) > max(d[p]["rank"]["position"] for p in others)
    assert d[ledger[0]]["status_label"] == "要対協 登録中（優先度を下げる）"


def test_the_details_round_trip_and_read_the_first_format():
    _, _, _, d = run(_three_children_and_a_parent_certificate())
    x = ScoreDetails.from_dict(d["A"])
    assert ScoreDetails.from_dict(x.to_dict()) == x
    assert all(isinstance(r, Reason) for r in x.reasons) and x.types["ヤングケアラー"].top_threshold == 6
    assert x.threshold_text("ヤングケアラー") == "しきい値 中 4・高 6"
    old = {
        "total": 5,
        "reasons": [{"indicator": "parent_disability", "label": "保護者の手帳", "kind": "risk", "points": 3}],
    }
    y = ScoreDetails.from_dict(old)
    assert y.reasons[0].kind == "household" and y.own_points == 0 and y.household_points == 5
