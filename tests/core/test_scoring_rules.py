"""The scoring rule language, the catalogue and weight-set validation (no database)."""

import copy

import pandas as pd
import pytest

from kodomo_desktop.core.errors import InputRefused
from kodomo_desktop.core.scoring import rules as R
from kodomo_desktop.core.scoring.catalogue import load_catalogue, validate_catalogue
from kodomo_desktop.core.scoring.weights import compile_weights, default_weights, diff, validate_weights


def frame(**cols):
    n = len(next(iter(cols.values())))
    return pd.DataFrame(
        {("a:" + k if k not in ("record_date", "batch_as_of") else k): v for k, v in cols.items()}, index=range(n)
    )


def test_comparisons_and_missing_values():
    f = frame(
        absence_days=[35, 29, None, "31"],
        status=["継続", "終結", None, " 継続 "],
        flag=[True, "有", "無", None],
        code=["F32", "", None, "F20"],
    )
    assert R.condition({"field": "absence_days", "op": ">=", "value": 30}, f).tolist() == [True, False, False, True]
    assert R.condition({"field": "status", "op": "==", "value": "継続"}, f).tolist() == [True, False, False, True]
    # a missing value satisfies != and not_in (a row on a ledger without a status is still on the ledger)
    assert R.condition({"field": "status", "op": "!=", "value": "終結"}, f).tolist() == [True, False, True, True]
    assert R.condition({"field": "status", "op": "not_in", "value": ["終結"]}, f).tolist() == [True, False, True, True]
    assert R.condition({"field": "flag", "op": "is_true"}, f).tolist() == [True, True, False, False]
    assert R.condition({"field": "flag", "op": "is_false"}, f).tolist() == [False, False, True, False]
    assert R.condition({"field": "code", "op": "exists"}, f).tolist() == [True, False, False, True]
    assert R.condition({"field": "nothing", "op": "missing"}, f).all()
    assert R.condition(
        {
            "any": [
                {"field": "code", "op": "==", "value": "F20"},
                {
                    "all": [
                        {"field": "flag", "op": "is_true"},
                        {"not": {"field": "status", "op": "==", "value": "終結"}},
                    ]
                },
            ]
        },
        f,
    ).tolist() == [True, False, False, True]
    assert R.condition({"exists": True}, f).all()
    assert R.condition({"field": "status", "op": "contains_any", "value": ["継"]}, f).tolist() == [
        True,
        False,
        False,
        True,
    ]


def test_group_counts_of_the_checklist():
    f = frame(group_counts=[{"child.food": 2, "child.emotion": 1, "home.home": 4}, {"care.care": 2}, None])
    assert R.condition({"group_count": {"prefix": "child."}, "op": ">=", "value": 3}, f).tolist() == [
        True,
        False,
        False,
    ]
    assert R.condition({"group_count": {"groups": ["home.home", "care.care"]}, "op": ">=", "value": 2}, f).tolist() == [
        True,
        True,
        False,
    ]
    assert R.group_sum(f, {"prefix": ""}).tolist()[:2] == [7.0, 2.0]


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "x", "op": "~"},
        {"field": "x", "op": ">="},
        {"field": "x", "op": ">=", "value": "30"},
        {"field": "x", "op": "in", "value": "a"},
        {"aggregate": "median", "field": "x", "op": ">=", "value": 1},
        {"aggregate": "max", "op": ">=", "value": 1},
        {"computed": "moon_phase", "op": ">=", "value": 1},
        {"all": []},
        {"group_count": {}, "op": ">=", "value": 1},
        {"aggregate": "max", "field": "x", "op": "is_true"},
    ],
)
def test_invalid_rules_are_refused_in_japanese(rule):
    with pytest.raises(R.RuleError) as e:
        R.validate_rule(rule)
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in e.value.message_ja)


def test_validate_rule_returns_the_fields_read():
    assert R.validate_rule(
        {
            "aggregate": "latest",
            "by": ["checkup_type"],
            "where": {"field": "record_kind", "op": "exists"},
            "field": "checkup_status",
            "op": "==",
            "value": "未受診",
        }
    ) == {"checkup_type", "record_kind", "checkup_status"}


def test_default_catalogue_has_the_19_basic_items_and_the_extras():
    cat = load_catalogue()
    inds = {i["id"]: i for i in cat["indicators"]}
    assert sorted({i["basic_no"] for i in inds.values() if i["basic"]}) == list(range(1, 20))
    for extra in (
        "school_assistance",
        "tax_exempt",
        "multi_child",
        "nurse_visits",
        "untreated_caries",
        "vaccination_missed",
        "dv_history",
        "yotaikyo_history",
        "temporary_protection",
        "checklist_child_state",
        "checklist_home",
        "checklist_school_adjustment",
        "checklist_young_carer",
    ):
        assert extra in inds
    for i in inds.values():
        assert i["purpose"] and i["legal_basis"] and i["label_en"] and i["whose"] in ("child", "parent", "household")
        assert all(p > 0 for p in i["points"].values()) or i["kind"] == "protective"
    assert any(i["kind"] == "protective" for i in inds.values())
    assert set(cat["difficulty_types"]) == {"虐待", "貧困", "不登校", "ヤングケアラー", "産後うつ", "発達"}
    assert [b["label"] for b in cat["age_bands"]] == ["未就学", "小学生", "中学生", "高校生年代"]
    # the checklist rules read group_counts, as the checklist service writes them
    assert inds["checklist_child_state"]["rule"]["group_count"] == {"prefix": "child."}


def test_catalogue_errors_are_refused():
    cat = load_catalogue()
    bad = copy.deepcopy(cat)
    bad["indicators"][0]["points"] = {"宇宙": 3}
    with pytest.raises(InputRefused):
        validate_catalogue(bad)
    bad = copy.deepcopy(cat)
    bad["indicators"][1]["id"] = bad["indicators"][0]["id"]
    with pytest.raises(InputRefused):
        validate_catalogue(bad)
    bad = copy.deepcopy(cat)
    bad["indicators"][0]["source_type"] = "horoscope"
    with pytest.raises(InputRefused):
        validate_catalogue(bad)


def test_weights_defaults_validation_and_compile():
    cat = load_catalogue()
    w = validate_weights(default_weights(cat), cat)
    m = compile_weights(w, cat)
    k = m.ind_ids.index("absence_30")
    assert m.P[k, m.types.index("不登校")] == 6 and m.contrib[k] == 6  # an item counts once: its largest points
    assert m.band_labels == ["高", "中", "低"] and m.flag_level == 1
    # preschoolers are not assessed for 不登校
    assert (m.cuts[0, m.types.index("不登校")] == float("inf")).all()
    for bad in (
        {"indicators": {"nope": {"points": {"虐待": 1}}}},
        {"indicators": {"absence_30": {"points": {"虐待": -1}}}},
        {"indicators": {"absence_30": {"points": {"宇宙": 1}}}},
        {"indicators": {"absence_30": {"window_months": 0}}},
        {"thresholds": {"虐待": {"小学生": {"高": 3, "中": 5}}}},
        {"thresholds": {"虐待": {"幼稚園": {"高": 3, "中": 2}}}},
        {"yotaikyo": {"mode": "ignore"}},
        {"rank": {"mode": "top_percent", "value": 150}},
        {"flag_band": "低"},
        {"format": "something-else"},
    ):
        with pytest.raises(InputRefused):
            validate_weights(bad, cat)
    # partial data is completed from the defaults; a change is described in words
    w2 = validate_weights({"indicators": {"absence_30": {"points": {"不登校": 8}}}}, cat)
    assert w2["indicators"]["dv_history"] == w["indicators"]["dv_history"]
    changes = diff(w, w2, cat)
    assert len(changes) == 1 and "欠席日数30日以上" in changes[0]["what"]
