"""Typed score explanations: what the engine writes and every reader (score CSV, child page, reports, GUI) reads.

The engine builds one :class:`ScoreDetails` per child and stores ``to_dict()`` in ``ChildScore.details`` (JSON).
Readers call :meth:`ScoreDetails.from_dict` (or :func:`details_of` for a raw column value) and use attributes —
nobody guesses keys. ``from_dict`` also reads the version-1 details written before this module existed (no
``own_points``: the split is recomputed from the reasons' indicator kinds in the catalogue).

Indicator kinds (catalogue field ``kind``; :data:`KINDS`):

* ``own`` — the child's own record (欠席, 健診未受診, 要対協 ledger row of the child, チェックリスト …);
* ``household`` — the household's circumstances (a parent's disability certificate, DV相談, 多子世帯, a sibling
  flagged on the sibling's own records);
* ``poverty_proxy`` — 生活保護, 住民税非課税, 就学援助, 児童扶養手当;
* ``protective`` — a protective factor (0 or negative points).

``total = own_points + household_points``: own points are the points of ``own`` and ``protective`` reasons (a
protective factor is the child's own record), household points those of ``household`` and ``poverty_proxy``
reasons and the sibling rule.

**Proxy guard** (``guard``): in the default weight set, household circumstances and poverty proxies alone cannot
place a child in the top band of a difficulty type — the type reaches the top band only when the child has an
own-record reason with points in that type. ``guard_capped`` lists the types held one band below the top by it;
``guard_off`` names the types where the town switched the guard off, with its reason (every list says so).

**Pending** records wait in the 名寄せ review queue with this child as the best candidate: shown, no points
(「名寄せ確認待ち：要対協台帳 1件」). **Implausible** records (dated before the child's birth or after the extract's
own date) are never scored nor printed as fact; they are listed with the problem.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cache, lru_cache
from typing import Any

from ..errors import KodomoError
from ..i18n import Message, msg, msg_join
from . import catalogue as C
from .catalogue import load_catalogue

KINDS = ("own", "household", "poverty_proxy", "protective")
KIND_LABELS = {
    "own": "本人の記録",
    "household": "世帯の状況",
    "poverty_proxy": "経済状況（代理指標）",
    "protective": "保護的要因",
}
OWN_KINDS = {"own", "protective"}
HOUSEHOLD_KINDS = {"household", "poverty_proxy"}
VERSION = 2


def _filter(cls, d: dict) -> dict:
    names = _field_set(cls)
    return {k: v for k, v in d.items() if k in names}


def _num(v, default=0.0) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


@cache
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def _field_set(cls) -> frozenset[str]:
    """``dataclasses.fields`` builds its tuple anew on every call (a city's run asks tens of thousands of times)."""
    return frozenset(_field_names(cls))


_SCALARS = frozenset({str, int, float, bool, type(None)})


def asdict(obj):
    """``dataclasses.asdict`` for these plain records, without its ``deepcopy`` of every leaf: containers are
    copied, scalars (str, numbers, None) shared — the same dict, about ten times faster (a city's run writes
    tens of thousands of details)."""
    if type(obj) in _SCALARS:  # most leaves: returned before the container checks
        return obj
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for n in _field_names(type(obj)):
            v = getattr(obj, n)
            out[n] = v if type(v) in _SCALARS else asdict(v)
        return out
    if isinstance(obj, dict):
        return type(obj)((asdict(k), asdict(v)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
        return type(obj)(*[asdict(v) for v in obj])
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, (str, int, float, bool, type(None))):
        return obj

    return copy.deepcopy(obj)


@dataclass
class Reason:
    """One contributing fact: the item, its points, and where it came from (source, record date, file, batch)."""

    indicator: str
    label: str
    points: float = 0.0
    kind: str = "own"
    label_en: str | None = None
    points_by_type: dict[str, float] = field(default_factory=dict)
    basic: bool = False
    basic_no: int | None = None
    school_held: bool = False
    shown_on_sheets: bool = True
    source_type: str | None = None
    source_label: str = ""
    department: str = ""
    record_id: int | None = None
    record_date: str | None = None
    batch_id: int | None = None
    file_name: str = ""
    batch_as_of: str | None = None
    person_id: str | None = None
    whose: str = ""
    relationship: str | None = None
    value: str | None = None
    window_months: int | None = None
    siblings: list[str] = field(default_factory=list)

    @property
    def own(self) -> bool:
        return self.kind in OWN_KINDS

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.siblings:
            d.pop("siblings")
        return d

    @classmethod
    def from_dict(cls, d: Any, kinds: dict | None = None) -> Reason:
        """From stored JSON; ``kinds`` (indicator id → kind) fills version-1 reasons' ``risk`` kind."""
        if not isinstance(d, dict):
            return cls(indicator="", label=str(d))
        d = dict(d)
        kind = d.get("kind")
        if kind not in KINDS:
            kind = (kinds or {}).get(d.get("indicator")) or (
                "household" if d.get("indicator") == "sibling_flagged" else "own"
            )
        d["kind"] = kind
        d.setdefault("indicator", "")
        d.setdefault("label", d.get("label_ja") or d.get("indicator") or "")
        d["points"] = _num(d.get("points"))
        d["points_by_type"] = {str(k): _num(v) for k, v in (d.get("points_by_type") or {}).items()}
        d["siblings"] = list(d.get("siblings") or [])
        return cls(**_filter(cls, d))


@dataclass
class TypeScore:
    """One difficulty type: its points (own / household), band, the cut points and whether it is flagged."""

    points: float = 0.0
    band: str = ""
    threshold: float | None = None  # the flag band's cut (中 by default)
    top_threshold: float | None = None  # the top band's cut (高)
    cuts: dict[str, float] = field(default_factory=dict)
    flagged: bool = False
    own_points: float = 0.0
    household_points: float = 0.0
    guard_capped: bool = False  # held below the top band by the proxy guard

    @classmethod
    def from_dict(cls, d: Any) -> TypeScore:
        d = dict(d) if isinstance(d, dict) else {}
        out = cls(**_filter(cls, d))
        if out.top_threshold is None and out.cuts:
            vals = [v for v in out.cuts.values() if isinstance(v, (int, float))]
            out.top_threshold = max(vals) if vals else None
        return out


@dataclass
class NoData:
    source_type: str
    label: str
    detail: str = ""
    sources: list[str] = field(default_factory=list)
    scope: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.sources:
            d.pop("sources")
        if self.scope is None:
            d.pop("scope")
        return d

    @classmethod
    def from_dict(cls, d: Any) -> NoData:
        if not isinstance(d, dict):
            return cls(source_type="", label=str(d))
        d = dict(d)
        d.setdefault("source_type", "")
        d.setdefault("label", "")
        return cls(**_filter(cls, d))


@dataclass
class Pending:
    """Records of one source waiting in the 名寄せ review queue for this child (no points until confirmed)."""

    source_type: str
    source_label: str
    count: int
    record_ids: list[int] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"名寄せ確認待ち：{self.source_label} {self.count}件"

    @classmethod
    def from_dict(cls, d: Any) -> Pending:
        d = dict(d) if isinstance(d, dict) else {}
        d.setdefault("source_type", "")
        d.setdefault("source_label", d.get("source_type", ""))
        d["count"] = int(d.get("count") or 0)
        return cls(**_filter(cls, d))


@dataclass
class Implausible:
    """A record that cannot be true as dated: never scored, never printed as fact."""

    source_type: str
    source_label: str
    record_id: int | None
    record_date: str | None
    problem: str  # 生年月日より前 | 抽出日より後
    batch_id: int | None = None
    file_name: str = ""

    @property
    def text(self) -> str:
        return f"日付を確認してください：{self.source_label}（{self.record_date or '日付なし'}・{self.problem}）"

    @classmethod
    def from_dict(cls, d: Any) -> Implausible:
        d = dict(d) if isinstance(d, dict) else {}
        for k, v in (("source_type", ""), ("source_label", ""), ("record_id", None), ("record_date", None)):
            d.setdefault(k, v)
        d.setdefault("problem", "")
        return cls(**_filter(cls, d))


@dataclass
class ScoreDetails:
    """One child's score explained (ChildScore.details). Bands and reasons, never a probability."""

    as_of: str | None = None
    total: float = 0.0
    own_points: float = 0.0
    household_points: float = 0.0
    band: str = ""
    band_level: int | None = None  # 0 = the lowest band … L = the top band (lists sort by it, then total)
    band_color: str | None = None
    version: int = VERSION
    weight_set_id: int | None = None
    weight_set_version: int | None = None
    age: int | None = None
    age_band: str = ""
    grade: int | None = None
    school: str = ""
    school_points: float = 0.0
    other_points: float = 0.0
    types: dict[str, TypeScore] = field(default_factory=dict)
    flagged_types: list[str] = field(default_factory=list)
    flagged: bool = False
    flag_basis: list[str] = field(default_factory=list)
    basic_items: int = 0
    basic_item_nos: list[int] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    protective: list[Reason] = field(default_factory=list)
    no_data: list[NoData] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    implausible: list[Implausible] = field(default_factory=list)
    sibling: dict | None = None
    guard_capped: list[str] = field(default_factory=list)
    guard_off: dict[str, str] = field(default_factory=dict)  # type → the town's reason for switching it off
    yotaikyo_active: bool = False
    yotaikyo_mode: str = "continue"
    status_label: str = ""
    new_candidate: bool = False
    newly_flagged: bool = False
    rank: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)

    # --- reading ---------------------------------------------------------------------------------------------------
    @property
    def pending_text(self) -> str:
        """CSV ``pending_review``: ``source:count;…``."""
        return ";".join(f"{p.source_type}:{p.count}" for p in self.pending if p.count)

    @property
    def pending_lines(self) -> list[str]:
        return [p.text for p in self.pending if p.count]

    @property
    def own_reasons(self) -> list[Reason]:
        return [r for r in self.reasons if r.own]

    @property
    def household_reasons(self) -> list[Reason]:
        return [r for r in self.reasons if not r.own]

    def threshold_text(self, t: str) -> Message:
        """「しきい値 中 5・高 7」 for a type (the bands that type actually uses for this child's age band), a
        template with the bands as parameters (``i18n.translate`` reads it)."""
        ts = self.types.get(t)
        if ts is None or not ts.cuts:
            return msg("")
        cuts = sorted(ts.cuts.items(), key=lambda kv: kv[1])
        return msg(
            "しきい値 {cuts}", cuts=msg_join("・", [msg("{band} {v}", band=msg(b), v=f"{v:g}") for b, v in cuts])
        )

    def reasons_text(self) -> str:
        """CSV ``reasons``: ``item(+points)`` largest first, ``;``-separated."""
        return ";".join(f"{_reason_item(r)}(+{r.points:g})" for r in self.reasons if r.points > 0)

    # --- (de)serialising -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        cls: Any = type(self)  # a class is hashable; mypy reads the unhashable dataclass's instances' __hash__
        d = {n: getattr(self, n) for n in _field_names(cls)}
        d["types"] = {t: asdict(v) for t, v in self.types.items()}
        d["reasons"] = [r.to_dict() for r in self.reasons]
        d["protective"] = [r.to_dict() for r in self.protective]
        d["no_data"] = [n.to_dict() for n in self.no_data]
        d["pending"] = [asdict(p) for p in self.pending]
        d["implausible"] = [asdict(x) for x in self.implausible]
        return d

    @classmethod
    def from_dict(cls, d: Any, kinds: dict | None = None) -> ScoreDetails:
        """From ``ChildScore.details`` (a dict, JSON text, or a version-1 dict). ``kinds``: indicator id → kind
        (default: the shipped catalogue's) for reasons written before kinds existed."""
        if isinstance(d, str):
            try:
                d = json.loads(d)
            except ValueError:
                d = {}
        if isinstance(d, list):
            d = {"reasons": d}
        if not isinstance(d, dict):
            d = {}
        d = dict(d)
        if kinds is None and any(isinstance(r, dict) and r.get("kind") not in KINDS for r in (d.get("reasons") or [])):
            kinds = catalogue_kinds()
        d["types"] = {str(t): TypeScore.from_dict(v) for t, v in (d.get("types") or {}).items()}
        d["reasons"] = [Reason.from_dict(r, kinds) for r in d.get("reasons") or []]
        d["protective"] = [Reason.from_dict({**r, "kind": "protective"}, kinds) for r in d.get("protective") or []]
        d["no_data"] = [NoData.from_dict(x) for x in d.get("no_data") or []]
        d["pending"] = [Pending.from_dict(x) for x in d.get("pending") or []]
        d["implausible"] = [Implausible.from_dict(x) for x in d.get("implausible") or []]
        for k in ("total", "school_points", "other_points"):
            d[k] = _num(d.get(k))
        if "own_points" not in d or "household_points" not in d:  # version 1: recompute the split
            own = sum(r.points for r in d["reasons"] if r.own) + sum(r.points for r in d["protective"])
            d["own_points"] = round(own, 2)
            d["household_points"] = round(d["total"] - own, 2)
        d["guard_off"] = dict(d.get("guard_off") or {})
        d["version"] = int(d.get("version") or 1)
        return cls(**_filter(cls, d))

    @classmethod
    def from_json(cls, text: str | bytes | None) -> ScoreDetails:
        return cls.from_dict(json.loads(text) if text else {})


def details_of(value: Any) -> ScoreDetails:
    """A ChildScore.details column value (dict, JSON text or None) as :class:`ScoreDetails`."""
    return ScoreDetails.from_dict(value)


def catalogue_kinds() -> dict[str, str]:
    """Indicator id → kind in the catalogue in use — the town's own or the shipped one (cached per catalogue:
    first-format details are read row by row)."""
    return dict(_catalogue_kinds(id(getattr(C, "_TOWN", None))))


@lru_cache(maxsize=4)
def _catalogue_kinds(_key: int) -> tuple:
    try:
        return tuple((i["id"], i["kind"]) for i in load_catalogue()["indicators"])
    except KodomoError:  # an unreadable catalogue must not stop a reader: reasons then default by indicator
        return ()


def _reason_item(r: Reason) -> str:
    """The item as the list shows it; a checklist result also names the school, the round and the date
    (観察チェックリスト: 第一小学校 夏休み明け 2026-09-05) — its batch is named after school and round."""
    if r.source_type != "school_checklist":
        return r.label
    where = str(r.file_name or "").split("（")[0].replace("観察チェックリスト", "").strip()
    date = str(r.record_date or "")[:10]
    return f"{r.label}［{' '.join(x for x in (where, date) if x)}］" if where or date else r.label
