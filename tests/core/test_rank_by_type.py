"""A rank rule per difficulty type (延岡市: the top 2 % of each type; issue 19): each type's points are ranked within
the group, so the child at the top of one type is flagged even when another type's child has the larger total."""

import datetime as dt

import numpy as np
import pytest
from test_scoring_engine import CAT, ON, World, run

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.scoring.weights import default_weights, validate_weights


def _world():
    w = World()
    for n in range(8):
        w.person(f"K{n}", 9, hh=f"K{n}")
    w.rec("K0", "school_attendance", {"absence_days": 3, "late_days": 15, "nurse_visits": 12})
    w.rec("K1", "school_attendance", {"absence_days": 3, "late_days": 16})
    w.rec("K3", "consultation", {"category": "DV"}, date=ON - dt.timedelta(days=10))
    return w


def test_top_n_per_type_flags_the_top_child_of_each_type():
    wt = default_weights(CAT)
    wt["rank"] = {"mode": "top_n", "value": 1, "per": "all"}
    prep, _, sc, _ = run(_world(), wt)
    ids = list(prep.children["person_id"])
    assert sum(sc.flag_rank) == 1  # by total: one child
    wt["rank"]["by_type"] = True
    prep, _, sc, d = run(_world(), wt)
    want = set()
    for ti in range(sc.type_points.shape[1]):
        col = sc.type_points[:, ti]
        if col.max() > 0:
            want |= {ids[i] for i in np.flatnonzero(col == col.max())}
    got = {ids[i] for i in np.flatnonzero(sc.flag_rank)}
    assert got == want and len(got) >= 2
    assert "K0" in got and "K3" in got and "K2" not in got
    assert all("|" in k for k in sc.rank_cutoffs)  # cut-offs kept per group and type (what-if uses them)


def test_by_type_is_checked_and_left_out_unless_used():
    v = validate_weights(
        {**default_weights(CAT), "rank": {"mode": "top_percent", "value": 2, "per": "age_band", "by_type": True}}, CAT
    )
    assert v["rank"]["by_type"] is True
    plain = validate_weights(
        {**default_weights(CAT), "rank": {"mode": "top_percent", "value": 2, "per": "age_band"}}, CAT
    )
    assert "by_type" not in plain["rank"]
    with pytest.raises(InputRefused):
        validate_weights(
            {**default_weights(CAT), "rank": {"mode": "top_n", "value": 1, "per": "all", "by_type": "yes"}}, CAT
        )
