"""Issue 19: an indicator a town builds in an editor (the core builder the CLI and the GUI share) — one source, or
two ("present in A and absent in B within a window", scored, or a take-up prompt never scored) — and the flagging
rules its catalogue says (top N % per difficulty type per age band; at least K basic items), on generated towns."""

import copy
import math

import numpy as np
import pytest
from conftest import DEMO_PW
from factories import takeup_world

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.scoring import town as T
from kodomo_desktop.core.workspace import Workspace

TWO_SOURCE = {
    "id": "tax_exempt_no_assistance",
    "label": "非課税で就学援助なし",
    "source": "tax",
    "field": "tax_status",
    "op": "=",
    "value": "非課税",
    "aggregate": "latest",
    "window": 18,
    "whose": "household",
    "kind": "poverty_proxy",
    "points": {"貧困": "2"},
    "absent": {"source": "school_assistance", "window": 15, "whose": "household"},
}


def _hits(ws, iid):
    ctx = S.ScoringContext.load(ws, "2026-11-01")
    hits, sc, _ = ctx.score(S.active_weights(ws)["data"])
    k = hits.ind_ids.index(iid)
    ids = list(ctx.prep.children["person_id"])
    return ctx, hits, sc, k, sorted(ids[i] for i in np.flatnonzero(sc.Hr[:, k]))


def test_a_two_source_indicator_is_scored_on_exactly_the_planted_families(new_db):
    ws = new_db
    world = takeup_world(ws)
    ind, found = T.build_indicator(T.current(ws), TWO_SOURCE)
    assert found == []
    assert ind["absent"] == {
        "source_type": "school_assistance",
        "whose": "household",
        "rule": {"exists": True},
        "window_months": 15,
    }
    assert ind["rule"] == {"aggregate": "latest", "field": "tax_status", "op": "==", "value": "非課税"}
    res = T.add_indicator(ws, ind, "非課税で就学援助のない世帯を点数に")
    assert res["changes"]["indicators_added"] == ["tax_exempt_no_assistance"]
    ctx, hits, sc, k, hit = _hits(ws, "tax_exempt_no_assistance")
    # H1 has a child of 4 too: the household-wide rule finds both of its children
    assert hit == sorted(world["planted"] + ["P001Y"])
    i = list(ctx.prep.children["person_id"]).index(world["planted"][0])
    from kodomo_desktop.core.scoring import engine as E

    r = E.reason_of(ctx.prep, hits, sc, i, k)
    assert r.label == "非課税で就学援助なし" and r.points == 2 and r.source_type == "tax"
    assert "非課税" in r.value and "就学援助の記録なし（15か月以内）" in r.value
    text = T.indicator_text(T.current(ws), next(i for i in T.current(ws)["indicators"] if i["id"] == ind["id"]))
    assert "住民税課税状況" in text and "就学援助" in text and "がない" in text
    # the score run's reasons (the CSV column) name it
    run = S.run_scoring(ws, "2026-11-01")
    d = S.child_explanation(ws, world["planted"][0], run)["details"]
    r = next(x for x in d["reasons"] if x["indicator"] == "tax_exempt_no_assistance")
    assert "就学援助の記録なし" in r["value"]
    assert "非課税で就学援助なし(+2)" in E.reasons_text(d)


def test_a_two_source_indicator_waits_for_both_sources(new_db):
    ws = new_db
    takeup_world(ws)
    form = copy.deepcopy(TWO_SOURCE)
    form["absent"] = {"source": "disability", "whose": "household"}  # never imported
    ind, found = T.build_indicator(T.current(ws), form)
    assert not found
    T.add_indicator(ws, ind, "障害の記録がない非課税世帯")
    assert _hits(ws, "tax_exempt_no_assistance")[-1] == []  # no data is never a finding


def test_a_takeup_prompt_is_a_gap_never_a_point(new_db):
    ws = new_db
    world = takeup_world(ws)
    form = {**copy.deepcopy(TWO_SOURCE), "id": "gap_town", "kind": "takeup", "points": {}, "support": "就学援助の案内"}
    form["applies_to_ages"] = [6, 15]
    gap, found = T.build_indicator(T.current(ws), form)
    assert not found and "present" in gap and gap["support_ja"] == "就学援助の案内"
    res = T.add_indicator(ws, gap, "町の支援の候補")
    assert res["changes"]["takeup_gaps_added"] == ["gap_town"]
    got = next(g for g in T.support_prompts(ws, as_of="2026-11-01")["gaps"] if g["id"] == "gap_town")
    assert sorted(got["children"]) == world["planted"]
    ctx = S.ScoringContext.load(ws, "2026-11-01")
    hits, _, _ = ctx.score(S.active_weights(ws)["data"])
    assert "gap_town" not in hits.ind_ids


def test_builder_files_each_problem_under_its_field(new_db):
    cat = T.current(new_db)
    bad = {
        "id": "Bad id",
        "label": "",
        "source": "tax",
        "field": "no_such",
        "op": "≥",
        "value": "三",
        "window": -1,
        "points": {"引きこもり": 1},
        "absent": {"source": "nowhere"},
    }
    _, found = T.build_indicator(cat, bad)
    where = {w for w, _ in found}
    for w in [
        ("id",),
        ("label_ja",),
        ("field",),
        ("value",),
        ("window_months",),
        ("points",),
        ("absent", "source_type"),
    ]:
        assert ("indicator", *w) in where, (w, found)
    assert all(isinstance(m, str) and m for _, m in found)
    _, found = T.build_indicator(cat, {**TWO_SOURCE, "kind": "takeup", "absent": None})
    assert ("indicator", "absent", "source_type") in {w for w, _ in found}
    # the whole-catalogue check names the indicator and the field
    ind, _ = T.build_indicator(cat, TWO_SOURCE)
    ind["absent"]["window_months"] = 0
    cat["indicators"].append(ind)
    assert (("indicator", ind["id"], "absent", "window_months")) in {w for w, _ in T.problems_at(cat)}


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("rules")
    demo_town(d / "r.db", residents=600, seed=1)  # the run's most used town (cached; its score run is not read)
    return d / "r.db"


def test_top_percent_per_difficulty_type_per_age_band(town, tmp_path):
    import shutil

    from kodomo_desktop.core.demo.service import database_files

    for f in database_files(town):
        shutil.copy2(f, tmp_path / f.name)
    ws = Workspace.open(tmp_path / town.name, DEMO_PW)
    try:
        rank = {"mode": "top_percent", "value": 5, "per": "age_band", "by_type": True}
        with pytest.raises(InputRefused):
            T.set_rules(ws, "誤り", rank={**rank, "value": 150})
        res = T.set_rules(ws, "延岡市の方式: 困難の種類ごと・年齢区分ごとに上位5%", rank=rank)
        assert res["changes"]["rules_changed"]
        w = S.active_weights(ws)["data"]
        assert w["rank"] == rank
        ctx = S.ScoringContext.load(ws)
        _, sc, _ = ctx.score(w)
        bands = ctx.prep.children["age_band"].to_numpy()
        want = np.zeros(ctx.prep.C, dtype=bool)
        for t in range(sc.type_points.shape[1]):
            for b in set(bands):
                idx = np.flatnonzero(bands == b)
                tp = sc.type_points[idx, t]
                limit = math.ceil(len(idx) * 5 / 100)
                # the children at or above the limit-th largest, among those with points (ties all in)
                order = np.sort(tp)[::-1]
                cut = order[limit - 1]
                want[idx[(tp >= cut) & (tp > 0)]] = True
        assert (sc.flag_rank == want).all()  # 要対協 mode "continue": every child is ranked
        assert sc.flag_rank.sum() >= 4
        # per age band: each band has its own chosen children
        assert len({bands[i] for i in np.flatnonzero(sc.flag_rank)}) >= 2
    finally:
        ws.close()


def test_at_least_k_basic_items(town, tmp_path):
    import shutil

    from kodomo_desktop.core.demo.service import database_files

    for f in database_files(town):
        shutil.copy2(f, tmp_path / f.name)
    ws = Workspace.open(tmp_path / town.name, DEMO_PW)
    try:
        with pytest.raises(InputRefused) as e:
            T.set_rules(ws, "範囲外", basic_items={"enabled": True, "min": 20})
        assert "1〜19" in e.value.message_ja
        # a catalogue whose basic items cannot reach K is refused too
        cat = T.current(ws)
        for ind in cat["indicators"]:
            if ind.get("basic_no", 0) and ind["basic_no"] > 3:
                ind["basic"], ind["basic_no"] = False, None
        assert any("届く" in p for p in T.problems(T.with_rules(cat, basic_items={"enabled": True, "min": 4})))
        ctx = S.ScoringContext.load(ws)
        _, sc0, _ = ctx.score(S.active_weights(ws)["data"])
        k = int(max(2, np.sort(sc0.basic_count)[-5]))  # a K a few children reach
        T.set_rules(ws, f"基本項目 {k} 項目以上も抽出", basic_items={"enabled": True, "min": k})
        w = S.active_weights(ws)["data"]
        assert w["basic_items_rule"] == {"enabled": True, "min": k}
        _, sc, _ = ctx.score(w)
        assert (sc.flag_basic == (sc.basic_count >= k)).all() and sc.flag_basic.sum() >= 5
        assert T.current(ws)["rules"]["basic_items"]["min"] == k
        # exported and imported again: exact (the rules are part of the catalogue)
        text = T.dumps(T.current(ws))
        assert T.adopt_catalogue(ws, __import__("json").loads(text), "往復")["changed"] is False
    finally:
        ws.close()


def test_a_takeup_prompt_on_a_field_no_indicator_reads(new_db):
    """The prompt's own fields are read even when no scored indicator reads them (就学援助 開始日 here)."""
    ws = new_db
    world = takeup_world(ws)
    assert "start_date" not in str(T.current(ws)["indicators"])
    form = {
        **copy.deepcopy(TWO_SOURCE),
        "id": "gap_start",
        "kind": "takeup",
        "points": {},
        "applies_to_ages": [6, 15],
        "absent": {"source": "school_assistance", "field": "start_date", "op": "exists", "whose": "household"},
    }
    gap, found = T.build_indicator(T.current(ws), form)
    assert not found
    T.add_indicator(ws, gap, "開始日のある就学援助で見る")
    got = next(g for g in T.support_prompts(ws, as_of="2026-11-01")["gaps"] if g["id"] == "gap_start")
    assert sorted(got["children"]) == world["planted"]


def test_the_preview_compares_the_adopted_catalogue_with_the_new_one(town, tmp_path):
    """A lowered cut-off and a new rule move the preview's figures (current: the adopted catalogue and weights)."""
    import shutil

    from kodomo_desktop.core.demo.service import database_files

    for f in database_files(town):
        shutil.copy2(f, tmp_path / f.name)
    ws = Workspace.open(tmp_path / town.name, DEMO_PW)
    try:
        cat = T.current(ws)
        absence = next(i for i in cat["indicators"] if i["id"] == "absence_30")
        absence["rule"]["value"] = 3
        absence["points"] = {**absence["points"], "不登校": 9}
        pv = T.adopt_catalogue(ws, cat, "", dry_run=True)["preview"]
        assert pv["flagged"]["new"] > pv["flagged"]["current"], pv["flagged"]
        rules = T.with_rules(
            T.current(ws), rank={"mode": "top_percent", "value": 10, "per": "age_band", "by_type": True}
        )
        res = T.adopt_catalogue(ws, rules, "", dry_run=True)
        assert res["preview"]["flagged"]["new"] > res["preview"]["flagged"]["current"], res["preview"]["flagged"]
    finally:
        ws.close()
