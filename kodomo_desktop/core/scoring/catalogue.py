"""The indicator catalogue (``resources/indicators.json``): what can be scored, from which source, by which rule.

Top-level keys: ``difficulty_types`` (虐待, 貧困, 不登校, ヤングケアラー, 産後うつ, 発達), ``age_bands`` (未就学 0–5,
小学生 6–11, 中学生 12–14, 高校生年代 15–18), ``sources`` (per source type: label, the fields that identify one
event across re-sent extracts — ``dedupe`` — and which children are expected to have data — ``expect``),
``supports`` (what-if: a support and the factor it applies to its types' points), ``indicators``, ``takeup_gaps``
(town.py) and the optional ``rules`` — the flagging rules the town's catalogue says (carried into the weight set
adopted with it): ``{"rank": {"mode": "top_percent", "value": 2, "per": "age_band", "by_type": true},
"basic_items": {"enabled": true, "min": 4}}`` (top N % per difficulty type per age band; at least K basic items). A source
may say how a record is closed besides its status: ``closed_by`` {date_field, status_field, closed_value} (要対協:
a 終結日 on or before the as-of date reads as 終結 whatever the status column says).

Each indicator::

    id, label_ja, label_en, source_type,
    whose            child | parent | household | other  (whose records are read: the child's own, an adult
                     household member's, anyone's in the household incl. the child, anyone else's in it)
    rule             see rules.py
    points           {difficulty type: default points}  (protective factors: {} or negative points)
    window_months    look-back window (null = no expiry); the event date is ``date_field``:
                     record_date (default) | as_of (the extract's date: for states like 生活保護 受給中) | an attribute
    absent           optional second source: {source_type, whose, rule, window_months, date_field} — the indicator
                     hits when its own rule hits and this one does not ("present in A and absent in B within a
                     window", e.g. 非課税 with no 就学援助); evaluated only once both sources have been imported
    basic, basic_no  the guideline's 基本連携データ項目 (No. 1–19); the count of distinct numbers met is shown
    kind             own | household | poverty_proxy | protective — what kind of fact it is (explain.py): the child's
                     own record, the household's circumstances, a poverty proxy (生活保護, 非課税, 就学援助, 児童扶養
                     手当), a protective factor. A catalogue of the first format says ``risk``: read as ``own`` for
                     the child's own records (whose = child) and ``household`` otherwise.
    shown_on_sheets  printed on sheets given to schools, or score-only
    school_held      data held by the school (the 喬木村 split of the total: school vs non-school)
    applies_to_ages  [min, max] age of the child the indicator applies to (null = all)
    purpose, legal_basis, legal_basis_code   governance texts (個人情報ファイル簿, 利用目的)

The catalogue is the *what*; a weight set (weights.py) is the town's *how much*: points, windows, thresholds.
"""

from __future__ import annotations

import copy
import json
import pickle
from functools import lru_cache
from pathlib import Path

from ...resources import resource_path
from .. import i18n
from ..errors import InputRefused
from ..importing.fields import SOURCE_TYPES
from .rules import RuleError, validate_rule

WHOSE = {"child", "parent", "household", "other"}
KINDS = {"own", "household", "poverty_proxy", "protective"}
RISK_KINDS = {"own", "household", "poverty_proxy"}
EXPECT = {None, "infant", "school", "household", "checklist", "imported"}
WHOSE_LABELS = {"child": "本人", "parent": "保護者", "household": "世帯", "other": "世帯員"}


def catalogue_path() -> Path:
    return resource_path("indicators.json")


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> bytes:
    """The validated catalogue as a pickled snapshot (see :func:`_fresh`)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputRefused(f"指標カタログ {Path(path).name} を読めません（{e}）。")
    return _snapshot(_register_english(validate_catalogue(raw)))


def _snapshot(cat: dict) -> bytes:
    return pickle.dumps(cat, protocol=pickle.HIGHEST_PROTOCOL)


def _fresh(snapshot: bytes) -> dict:
    """A new copy of a catalogue each caller may change freely. The catalogue is read on almost every service call:
    unpickling our own snapshot is an exact deep copy (types and shared parts kept, as ``copy.deepcopy`` does) at
    a sixth of deepcopy's time. Only snapshots made in this process are ever loaded."""
    return pickle.loads(snapshot)  # noqa: S301 (our own bytes, never a file's)


def _register_english(cat: dict) -> dict:
    """The catalogue's English names (indicators, supports, take-up gaps) join the one translation table."""
    entries = [*cat["indicators"], *(cat.get("supports") or []), *(cat.get("takeup_gaps") or [])]
    i18n.register("en", {e["label_ja"]: e.get("label_en") or "" for e in entries if e.get("label_ja")})
    return cat


_TOWN: bytes | None = None  # the open workspace's own catalogue (core/catalogue/town.py), validated, as a snapshot


def set_town_catalogue(cat: dict | None) -> None:
    """Use the town's catalogue instead of the shipped one (None: back to the shipped one). Called when a workspace
    opens and when the town adopts a new catalogue."""
    global _TOWN
    _TOWN = _snapshot(_register_english(validate_catalogue(copy.deepcopy(cat)))) if cat is not None else None


def town_catalogue_active() -> bool:
    return _TOWN is not None


def load_catalogue(path: Path | None = None) -> dict:
    """The validated catalogue (a deep copy: callers may change it freely): the town's own when it has one."""
    if path is None and _TOWN is not None:
        return _fresh(_TOWN)
    p = Path(path) if path else catalogue_path()
    return _fresh(_load(str(p), p.stat().st_mtime if p.exists() else 0.0))


def indicators_by_id(path: Path | None = None) -> dict[str, dict]:
    """Indicator id → its catalogue entry (used by reports and governance)."""
    return {i["id"]: i for i in load_catalogue(path)["indicators"]}


def validate_catalogue(cat: dict) -> dict:

    if not isinstance(cat, dict) or not isinstance(cat.get("indicators"), list):
        raise InputRefused("指標カタログに indicators がありません。")
    types = cat.get("difficulty_types")
    if not types or len(set(types)) != len(types):
        raise InputRefused("指標カタログの difficulty_types（困難の種類）が正しくありません。")
    bands = cat.get("age_bands") or []
    if not bands:
        raise InputRefused("指標カタログに age_bands（年齢区分）がありません。")
    for b in bands:
        if not {"label", "min", "max"} <= set(b) or b["min"] > b["max"]:
            raise InputRefused(f"年齢区分 {b} が正しくありません。")
    cat.setdefault("sources", {})
    cat.setdefault("supports", [])
    for st, meta in cat["sources"].items():
        if st not in SOURCE_TYPES:
            raise InputRefused(f"指標カタログの取込元 {st} はありません。")
        if meta.get("expect") not in EXPECT:
            raise InputRefused(f"取込元 {st} の expect {meta.get('expect')!r} は使えません。")
        meta.setdefault("label_ja", SOURCE_TYPES[st]["label"])
        meta.setdefault("dedupe", ["record_date"])
    seen = set()
    for ind in cat["indicators"]:
        iid = ind.get("id")
        where = f"指標 {iid}: "
        if not iid or iid in seen:
            raise InputRefused(f"指標の id {iid!r} が空か重複しています。")
        seen.add(iid)
        for k in ("label_ja", "source_type", "rule"):
            if not ind.get(k):
                raise InputRefused(f"{where}{k} がありません。")
        if ind["source_type"] not in SOURCE_TYPES:
            raise InputRefused(f"{where}取込元 {ind['source_type']} はありません。")
        ind.setdefault("label_en", ind["label_ja"])
        ind.setdefault("whose", "child")
        ind.setdefault("points", {})
        ind.setdefault("window_months", None)
        ind.setdefault("date_field", "record_date")
        ind.setdefault("basic", False)
        ind.setdefault("basic_no", None)
        if ind.get("kind") in (None, "risk"):  # the first format: risk | protective
            ind["kind"] = "own" if ind["whose"] == "child" else "household"
        ind.setdefault("shown_on_sheets", True)
        ind.setdefault("school_held", bool(cat["sources"].get(ind["source_type"], {}).get("school_held")))
        ind.setdefault("applies_to_ages", None)
        ind.setdefault("purpose", "")
        ind.setdefault("legal_basis", "")
        if ind["whose"] not in WHOSE:
            raise InputRefused(f"{where}whose は {', '.join(sorted(WHOSE))} のいずれかです。")
        if ind["kind"] not in KINDS:
            raise InputRefused(f"{where}kind は own・household・poverty_proxy・protective のいずれかです。")
        if ind["basic"] and not isinstance(ind["basic_no"], int):
            raise InputRefused(f"{where}基本連携データ項目には basic_no（番号）が必要です。")
        for t, p in ind["points"].items():
            if t not in types:
                raise InputRefused(f"{where}困難の種類「{t}」はカタログにありません。")
            if not isinstance(p, (int, float)):
                raise InputRefused(f"{where}{t} の点数は数にしてください。")
        w = ind["window_months"]
        if w is not None and (not isinstance(w, int) or w <= 0):
            raise InputRefused(f"{where}window_months は正の整数か null にしてください。")
        ages = ind["applies_to_ages"]
        if ages is not None and (not isinstance(ages, list) or len(ages) != 2):
            raise InputRefused(f"{where}applies_to_ages は [最小, 最大] にしてください。")
        try:
            ind["_fields"] = sorted(validate_rule(ind["rule"], where))
        except RuleError as e:
            raise InputRefused(e.message_ja)
        if "computed" in ind["rule"] and ind["source_type"] != "resident_registry":
            raise InputRefused(f"{where}計算項目は住民基本台帳（resident_registry）から作ります。")
        if ind.get("absent") is not None:
            ind["absent"] = _validate_absent(ind["absent"], where)
    rules = cat.get("rules")
    if rules is not None and not isinstance(rules, dict):
        raise InputRefused("指標カタログの rules（抽出のルール）の形式が正しくありません。")
    for sp in cat["supports"]:
        if not sp.get("id") or not isinstance(sp.get("factors"), dict):
            raise InputRefused(f"支援 {sp} に id と factors が必要です。")
        for t, f in sp["factors"].items():
            if t not in types or not isinstance(f, (int, float)) or not 0 <= f <= 1:
                raise InputRefused(f"支援 {sp['id']} の係数 {t}={f} は 0〜1 の数にしてください。")
    return cat


def _validate_absent(part, where: str) -> dict:
    """The second source of a two-source indicator ("present in A and absent in B within a window"): a reader
    {source_type, whose, rule, window_months, date_field}; the indicator hits when its own rule hits and this one
    does not (evaluated only once both sources have been imported)."""
    where = f"{where}ない記録（absent）: "
    if not isinstance(part, dict):
        raise InputRefused(f"{where}形式が正しくありません。")
    part = dict(part)
    if part.get("source_type") not in SOURCE_TYPES:
        raise InputRefused(f"{where}取込元 {part.get('source_type')} はありません。")
    part.setdefault("whose", "child")
    part.setdefault("rule", {"exists": True})
    part.setdefault("window_months", None)
    part.setdefault("date_field", "record_date")
    if part["whose"] not in WHOSE:
        raise InputRefused(f"{where}whose は {', '.join(sorted(WHOSE))} のいずれかです。")
    w = part["window_months"]
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w <= 0):
        raise InputRefused(f"{where}window_months は正の整数か null にしてください。")
    try:
        part["_fields"] = sorted(validate_rule(part["rule"], where))
    except RuleError as e:
        raise InputRefused(e.message_ja)
    return part


def public_view(cat: dict) -> list[dict]:
    """The indicators without internal keys (for governance lists and the GUI)."""
    out = []
    for i in cat["indicators"]:
        v = {k: x for k, x in i.items() if not k.startswith("_")}
        if isinstance(v.get("absent"), dict):
            v["absent"] = {k: x for k, x in v["absent"].items() if not k.startswith("_")}
        out.append(v)
    return out
