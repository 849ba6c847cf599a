"""The indicators' small declarative rule language, evaluated vectorised over a frame of records.

A **condition** is evaluated per record (one row of one source type):

* ``{"field": F, "op": OP, "value": V}`` — ``F`` is an attribute of the record (``absence_days``), or one of the
  record's own columns ``record_date`` / ``batch_as_of``. ``OP``:

  ``==  !=  >=  >  <=  <`` · ``in`` / ``not_in`` (V a list) · ``contains_any`` (V a list of substrings) ·
  ``is_true`` / ``is_false`` (flags: true, 1, 有, あり, はい, ○ …) · ``exists`` / ``missing`` (a value or none).

  A missing value never satisfies ``==``, ``in``, comparisons or ``contains_any``; it *does* satisfy ``!=`` and
  ``not_in`` (a 生活保護 row without a status is still a row on the ledger).
* ``{"group_count": {"prefix": "child."} | {"groups": [...]}, "op": OP, "value": V}`` — the sum of the observation
  checklist's ``attributes.group_counts`` over the named groups (prefix ``""`` = every group), compared.
* ``{"all": [c, ...]}``, ``{"any": [c, ...]}``, ``{"not": c}``, ``{"exists": true}`` (every record).

An indicator's **rule** is a condition (hit when any record in the look-back window satisfies it), or an aggregate
over the records in the window (after an optional ``where`` condition):

* ``{"aggregate": "max" | "min" | "sum", "field": F, "op": OP, "value": V}`` — numeric aggregate, compared;
  ``"group_count": {...}`` may stand in for ``field``.
* ``{"aggregate": "count", "op": OP, "value": V}`` — number of records.
* ``{"aggregate": "latest", "by": [F, ...], "field": F, "op": OP, "value": V}`` — the newest record of each group
  (per person whose records are read, per ``by`` values) must satisfy the comparison (any group suffices).
* ``{"aggregate": "all_latest", ...}`` — the newest record of *every* person read must satisfy it (住民税非課税世帯).
* ``{"computed": "household_children", "op": OP, "value": V}`` — a fact computed from the registry: the number of
  residents aged 0–18 in the child's household (多子世帯).

``validate_rule`` checks a rule and returns the attribute fields it reads (so the engine extracts only those).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

OPS = {"==", "!=", ">=", ">", "<=", "<", "in", "not_in", "contains_any", "is_true", "is_false", "exists", "missing"}
NEEDS_VALUE = {"==", "!=", ">=", ">", "<=", "<", "in", "not_in", "contains_any"}
AGGREGATES = {"max", "min", "sum", "count", "latest", "all_latest"}
COMPUTED = {"household_children"}
RECORD_COLUMNS = {"record_date", "batch_as_of"}
TRUE_WORDS = {"true", "1", "有", "あり", "はい", "○", "〇", "yes", "y", "該当", "t"}
FALSE_WORDS = {"false", "0", "無", "なし", "いいえ", "×", "no", "n", "非該当", "f"}


class RuleError(ValueError):
    """A rule the engine cannot evaluate; ``message_ja`` says why, in Japanese."""

    def __init__(self, message_ja: str):
        super().__init__(message_ja)
        self.message_ja = message_ja


# --- validation -----------------------------------------------------------------------------------------------------
def validate_condition(c, where: str = "") -> set[str]:
    if not isinstance(c, dict) or not c:
        raise RuleError(f"{where}条件の形式が正しくありません。")
    if "all" in c or "any" in c:
        key = "all" if "all" in c else "any"
        if not isinstance(c[key], list) or not c[key]:
            raise RuleError(f"{where}「{key}」には条件のリストが必要です。")
        out: set[str] = set()
        for sub in c[key]:
            out |= validate_condition(sub, where)
        return out
    if "not" in c:
        return validate_condition(c["not"], where)
    if "exists" in c and "field" not in c:
        return set()
    if "group_count" in c:
        _validate_group(c["group_count"], where)
        _validate_op(c, where)
        return {"group_counts"}
    if "field" not in c or not isinstance(c["field"], str) or not c["field"]:
        raise RuleError(f"{where}条件に field（項目名）がありません。")
    _validate_op(c, where)
    return set() if c["field"] in RECORD_COLUMNS else {c["field"]}


def _validate_group(g, where):
    if not isinstance(g, dict) or not ("prefix" in g or "groups" in g):
        raise RuleError(f"{where}group_count には prefix か groups を指定してください。")
    if "groups" in g and not isinstance(g["groups"], list):
        raise RuleError(f"{where}group_count の groups はリストにしてください。")


def _validate_op(c, where):
    op = c.get("op")
    if op not in OPS:
        raise RuleError(f"{where}演算子 {op!r} は使えません（{' '.join(sorted(OPS))}）。")
    if op in NEEDS_VALUE and "value" not in c:
        raise RuleError(f"{where}演算子 {op} には value が必要です。")
    v = c.get("value")
    if op in ("in", "not_in", "contains_any") and not isinstance(v, list):
        raise RuleError(f"{where}演算子 {op} の value はリストにしてください。")
    if op in (">=", ">", "<=", "<") and not isinstance(v, (int, float)):
        raise RuleError(f"{where}演算子 {op} の value は数にしてください。")


def validate_rule(rule, where: str = "") -> set[str]:
    """Check an indicator rule; returns the attribute fields it reads."""
    if not isinstance(rule, dict):
        raise RuleError(f"{where}ルールの形式が正しくありません。")
    if "computed" in rule:
        if rule["computed"] not in COMPUTED:
            raise RuleError(f"{where}計算項目 {rule['computed']!r} はありません（{', '.join(sorted(COMPUTED))}）。")
        _validate_op(rule, where)
        return set()
    if "aggregate" not in rule:
        return validate_condition(rule, where)
    agg = rule["aggregate"]
    if agg not in AGGREGATES:
        raise RuleError(f"{where}集計 {agg!r} は使えません（{', '.join(sorted(AGGREGATES))}）。")
    fields: set[str] = set()
    if "where" in rule:
        fields |= validate_condition(rule["where"], where)
    by = rule.get("by") or []
    if not isinstance(by, list) or not all(isinstance(b, str) for b in by):
        raise RuleError(f"{where}by は項目名のリストにしてください。")
    fields |= set(by)
    if agg != "count":
        if "group_count" in rule:
            _validate_group(rule["group_count"], where)
            fields.add("group_counts")
        elif not isinstance(rule.get("field"), str):
            raise RuleError(f"{where}集計 {agg} には field が必要です。")
        elif rule["field"] not in RECORD_COLUMNS:
            fields.add(rule["field"])
    _validate_op(rule, where)
    if agg in ("max", "min", "sum", "count") and rule["op"] not in (">=", ">", "<=", "<", "==", "!="):
        raise RuleError(f"{where}数の集計 {agg} には比較演算子（>= など）を使ってください。")
    return fields


# --- evaluation -----------------------------------------------------------------------------------------------------
def column(recs: pd.DataFrame, field: str) -> pd.Series:
    """The values of one field (an extracted attribute column ``a:<field>`` or a record column)."""
    if field in RECORD_COLUMNS:
        return recs[field]
    name = "a:" + field
    if name in recs.columns:
        return recs[name]
    return pd.Series([None] * len(recs), index=recs.index, dtype=object)


def group_sum(recs: pd.DataFrame, spec: dict) -> pd.Series:
    gc = column(recs, "group_counts")
    prefix = spec.get("prefix")
    groups = set(spec.get("groups") or ())

    def one(d):
        if not isinstance(d, dict):
            return np.nan
        tot = 0.0
        for k, v in d.items():
            if (prefix is not None and str(k).startswith(prefix)) or k in groups:
                try:
                    tot += float(v)
                except (TypeError, ValueError):
                    pass
        return tot

    return pd.Series([one(d) for d in gc.tolist()], index=recs.index, dtype=float)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v == "" or v == [] or v == {}


def _is_missing(s: pd.Series) -> pd.Series:
    return pd.Series(_mask(_missing, s.tolist()), index=s.index, name=s.name)


def _mask(f, vals: list) -> np.ndarray:
    """``f`` of every value as a bool array (``Series.map(f).astype(bool)`` without a Series per step: the values
    are ``tolist()``'s, the same Python objects ``map`` passes)."""
    return np.fromiter((bool(f(v)) for v in vals), dtype=bool, count=len(vals))


def _truthy(v) -> bool | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    s = str(v).strip().lower()
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    return None


def compare(values: pd.Series, op: str, value=None) -> pd.Series:
    """Vectorised comparison of one column with the rule's ``op``/``value`` (see the module docstring): a bool Series
    on ``values``' index. The per-value tests run over ``values.tolist()`` (a pandas call per test cost more than
    the tests on a town's few hundred records)."""
    if not len(values):
        return pd.Series([], dtype=bool, index=values.index)
    vals = values.tolist()
    missing = _mask(_missing, vals)

    def out(mask: np.ndarray) -> pd.Series:
        return pd.Series(mask, index=values.index, name=values.name)

    if op == "exists":
        return out(~missing)
    if op == "missing":
        return out(missing)
    if op in ("is_true", "is_false"):
        want = op == "is_true"
        return out(_mask(lambda v: _truthy(v) is want, vals))
    if op in (">=", ">", "<=", "<"):
        num = pd.to_numeric(values, errors="coerce").astype(float)
        if not isinstance(value, (int, float)):  # a rule not validated: pandas' comparison (None: all False)
            cmp = {">=": num >= value, ">": num > value, "<=": num <= value, "<": num < value}[op]
            return cmp.fillna(False).astype(bool)
        x = num.to_numpy()  # NaN compares False
        return out({">=": x >= value, ">": x > value, "<=": x <= value, "<": x < value}[op])
    if op in ("==", "!="):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            eq = pd.to_numeric(values, errors="coerce").astype(float).to_numpy() == float(value)
        else:
            target = str(value).strip()
            eq = _mask(lambda v: v is not None and str(v).strip() == target, vals)
        eq = eq & ~missing
        return out(eq if op == "==" else ~eq)
    if op in ("in", "not_in"):
        wanted = {str(x).strip() for x in value}
        inside = _mask(lambda v: v is not None and str(v).strip() in wanted, vals) & ~missing
        return out(inside if op == "in" else ~inside)
    if op == "contains_any":
        subs = [str(x) for x in value]
        return out(_mask(lambda v: v is not None and any(s in str(v) for s in subs), vals) & ~missing)
    raise RuleError(f"演算子 {op!r} は使えません。")


def condition(c: dict, recs: pd.DataFrame) -> pd.Series:
    """Boolean mask over ``recs`` for one condition."""
    if not len(recs):
        return pd.Series([], dtype=bool, index=recs.index)
    if "all" in c:
        m = pd.Series(True, index=recs.index)
        for sub in c["all"]:
            m &= condition(sub, recs)
        return m
    if "any" in c:
        m = pd.Series(False, index=recs.index)
        for sub in c["any"]:
            m |= condition(sub, recs)
        return m
    if "not" in c:
        return ~condition(c["not"], recs)
    if "exists" in c and "field" not in c:
        return pd.Series(bool(c["exists"]), index=recs.index)
    if "group_count" in c:
        return compare(group_sum(recs, c["group_count"]), c["op"], c.get("value"))
    return compare(column(recs, c["field"]), c["op"], c.get("value"))


def rule_value(rule: dict, recs: pd.DataFrame) -> pd.Series:
    """The per-record value an aggregate rule compares (numeric for max/min/sum)."""
    if "group_count" in rule:
        return group_sum(recs, rule["group_count"])
    return column(recs, rule["field"])


def fields_in(c) -> list[str]:
    """Attribute fields a condition mentions, in order (for the reason's value text)."""
    if not isinstance(c, dict):
        return []
    out: list[str] = []
    for key in ("all", "any"):
        for sub in c.get(key, []) or []:
            out += fields_in(sub)
    if "not" in c:
        out += fields_in(c["not"])
    if "field" in c:
        out.append(c["field"])
    if "group_count" in c:
        out.append("group_counts")
    return list(dict.fromkeys(out))
