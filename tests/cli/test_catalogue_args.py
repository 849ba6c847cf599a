"""Issue 19: the indicator the CLI builds from add-indicator's flags (the conditions =, ≠, in, ≥, ≤, exists, absent,
count in window, latest; whose child / guardian / household) is one the catalogue check accepts."""

import pytest

from kodomo_desktop.cli import UsageError, build_parser
from kodomo_desktop.cli.catalogue import _indicator_from_args
from kodomo_desktop.core.scoring import town as T


def build(*flags):
    args = build_parser().parse_args(["catalogue", "add-indicator", "--db", "x.db", *flags])
    return _indicator_from_args(args)


@pytest.mark.parametrize(
    "op, value, expect",
    [
        ("=", "非課税", {"field": "tax_status", "op": "==", "value": "非課税"}),
        ("≠", "課税", {"field": "tax_status", "op": "!=", "value": "課税"}),
        ("in", "非課税,課税", {"field": "tax_status", "op": "in", "value": ["非課税", "課税"]}),
        ("exists", None, {"field": "tax_status", "op": "exists"}),
        ("absent", None, {"field": "tax_status", "op": "missing"}),
    ],
)
def test_conditions(op, value, expect):
    flags = ["--id", "t1", "--label", "試験", "--source", "tax", "--field", "tax_status", "--op", op]
    flags += ["--value", value] if value is not None else []
    ind = build(*flags, "--whose", "guardian", "--points", "貧困:1")
    assert ind["rule"] == expect and ind["whose"] == "parent" and ind["points"] == {"貧困": 1}
    cat = T.shipped()
    cat["indicators"].append(ind)
    assert T.problems(cat) == []


def test_count_in_window_latest_and_basic_item():
    ind = build(
        "--id", "c1", "--label", "相談 3件以上", "--source", "consultation", "--field", "category",
        "--aggregate", "count", "--op", "≥", "--value", "3", "--window", "12", "--points", "虐待:2",
        "--whose", "household", "--basic-no", "12",
    )  # fmt: skip
    assert ind["rule"] == {"aggregate": "count", "op": ">=", "value": 3, "where": {"field": "category", "op": "exists"}}
    assert ind["window_months"] == 12 and ind["basic"] and ind["basic_no"] == 12
    latest = build(
        "--id", "l1", "--label", "最新の EPDS 9点以上", "--source", "maternal_child_health", "--field", "epds_score",
        "--aggregate", "latest", "--op", "≤", "--value", "9", "--points", "産後うつ:2",
    )  # fmt: skip
    assert latest["rule"] == {"aggregate": "latest", "field": "epds_score", "op": "<=", "value": 9}
    cat = T.shipped()
    cat["indicators"] += [ind, latest]
    assert T.problems(cat) == []


def test_missing_flags_is_a_usage_error():
    with pytest.raises(UsageError):
        build("--id", "x")


def test_two_sources_and_a_takeup_prompt():
    ind = build(
        "--id", "t2", "--label", "非課税で就学援助なし", "--source", "tax", "--field", "tax_status", "--op", "=",
        "--value", "非課税", "--whose", "household", "--kind", "poverty_proxy", "--points", "貧困:2",
        "--absent-source", "school_assistance", "--absent-window", "15",
    )  # fmt: skip
    assert ind["absent"] == {
        "source_type": "school_assistance",
        "whose": "household",
        "rule": {"exists": True},
        "window_months": 15,
    }
    gap = build(
        "--id", "g2", "--label", "非課税で就学援助なし", "--source", "tax", "--field", "tax_status", "--op", "=",
        "--value", "非課税", "--whose", "household", "--kind", "takeup", "--support", "就学援助の案内",
        "--absent-source", "school_assistance", "--absent-field", "category", "--absent-op", "in",
        "--absent-value", "要保護,準要保護",
    )  # fmt: skip
    assert gap["present"]["source_type"] == "tax" and "points" not in gap
    assert gap["absent"]["rule"] == {"field": "category", "op": "in", "value": ["要保護", "準要保護"]}
    cat = T.shipped()
    cat["indicators"].append(ind)
    cat["takeup_gaps"].append(gap)
    assert T.problems(cat) == []
    with pytest.raises(UsageError):
        build(
            "--id",
            "g3",
            "--label",
            "x",
            "--source",
            "tax",
            "--field",
            "tax_status",
            "--op",
            "exists",
            "--kind",
            "takeup",
        )


def test_a_problem_names_the_flag():
    from kodomo_desktop.core.errors import InputRefused

    with pytest.raises(InputRefused) as e:
        build("--id", "t4", "--label", "x", "--source", "tax", "--field", "nope", "--op", "≥", "--value", "多い")
    assert "--field" in e.value.message_ja and "--value" in e.value.message_ja and "--points" in e.value.message_ja
