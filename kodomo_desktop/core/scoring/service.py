"""Scoring service: weight sets (versioned, adopted with a reason, restorable, exported as a readable file), runs
kept as history, the CSV of the CLI contract, explanations, what-if and the preview before adoption.

Permissions: ``score.run`` to score (a school user is refused and nothing is written), ``score.read`` to read
scores, explanations, previews and to export weights, ``weights.edit`` to save, import or adopt weights. Every run
(``score_run``), adoption (``weights_adopted``), view of a child's reasons (``score_viewed``) and what-if
(``what_if``) is logged with ids and counts only.

Public API::

    score_to_csv(ws, out, weights_file=None, as_of=None) -> {"children", "flagged", "run_id", "as_of", ...}
    run_scoring(ws, as_of=None) -> run_id          # the adopted weights only: a trial is never kept as a run
    latest_scores(ws, run_id=None, *, school=, age_band=, type_=, band=, new=, yotaikyo=, unreviewed=,
                  flagged_only=) -> [row]
    child_explanation(ws, person_id, run_id=None) -> {"details", "history", ...}
    what_if(ws, person_id, disabled_indicators=[...], supports_started=[...]) -> {"before", "after", ...}
    weight sets: active_weights, weight_sets, save_weights, adopt_weight_set, adopt_weights, restore_weights,
                 export_weights, import_weights, preview_weights, ScoringContext (frames kept for re-scoring)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, text, update

from .. import outputs
from .. import queries as Q
from ..checklists import sync
from ..errors import Cancelled, InputRefused, NotFound
from ..importing.values import to_date
from ..policy import DEFAULT_SOURCES, expired_cutoffs
from ..services import service
from ..storage.models import ChildScore, Person, ScoreRun, Setting, WeightSet
from . import engine as E
from . import listing as L
from .catalogue import load_catalogue
from .explain import ScoreDetails
from .listing import band_text as band_text  # re-exported: it lived here
from .weights import compile_weights, diff, strip_meta, validate_weights
from .weights import default_weights as _default_weights

if TYPE_CHECKING:
    from ..workspace import Workspace

CAVEAT = "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
SCORE_COLUMNS = [
    "person_id",
    "name",
    "birth_date",
    "school",
    "total",
    "band",
    "types",
    "reasons",
    "own_points",
    "household_points",
    "pending_review",
]
ADOPTIONS_KEY = "weights_adoptions"


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def catalogue() -> dict:
    return load_catalogue()


def default_weights() -> dict:
    return _default_weights(catalogue())


def _as_date(v) -> dt.date | None:
    if v in (None, ""):
        return None
    d = to_date(v)
    if d is None:
        raise InputRefused(f"基準日 {v} を読めません（YYYY-MM-DD で指定してください）。")
    return d


def default_as_of(ws: Workspace) -> dt.date:
    """The newest extract's as-of date, else today."""
    with ws.session() as s:
        d = s.execute(text("SELECT max(as_of) FROM source_batch WHERE removed_at IS NULL")).scalar()
    return _as_date(d) or dt.date.today()


# --- weight sets ----------------------------------------------------------------------------------------------------------
def _ensure_default(s) -> WeightSet:
    active = s.scalar(select(WeightSet).where(WeightSet.active.is_(True)).order_by(WeightSet.id.desc()).limit(1))
    if active is not None:
        return active
    any_ = s.scalar(select(WeightSet).order_by(WeightSet.version.desc()).limit(1))
    if any_ is not None:  # none adopted (should not happen): the newest becomes current
        any_.active = True
        return any_
    cat = catalogue()
    w = WeightSet(
        version=1,
        name=f"既定（指標カタログ 第{cat.get('version')}版）",
        data=_default_weights(cat),
        created_by="system",
        adopted_at=_now(),
        adopted_by="system",
        reason="初期設定（指標カタログの既定値）",
        active=True,
    )
    s.add(w)
    s.flush()
    return w


def _ws_row(w: WeightSet) -> dict:
    return {
        "weight_set_id": w.id,
        "version": w.version,
        "name": w.name,
        "active": bool(w.active),
        "created_at": w.created_at,
        "created_by": w.created_by,
        "adopted_at": w.adopted_at,
        "adopted_by": w.adopted_by,
        "reason": w.reason,
    }


def active_weights(ws: Workspace) -> dict:
    """The adopted weight set: {weight_set_id, version, name, data, …}."""
    with ws.session() as s:
        w = _ensure_default(s)
        return {**_ws_row(w), "data": validate_weights(w.data, catalogue())}


@service("score.read", what="weight sets")
def weight_sets(ws: Workspace) -> list[dict]:
    """Every version, newest first (with the adoption history kept in settings)."""
    with ws.session() as s:
        _ensure_default(s)
        hist = s.get(Setting, ADOPTIONS_KEY)
        adoptions = list(hist.value) if hist and isinstance(hist.value, list) else []
        out = []
        for w in s.scalars(select(WeightSet).order_by(WeightSet.version.desc())):
            out.append({**_ws_row(w), "adoptions": [a for a in adoptions if a.get("weight_set_id") == w.id]})
        return out


weight_versions = weight_sets


def get_weight_set(ws: Workspace, weight_set_id: int) -> dict:
    with ws.session() as s:
        w = s.get(WeightSet, int(weight_set_id))
        if w is None:
            raise NotFound(f"重みの設定 {weight_set_id} はありません。")
        return {**_ws_row(w), "data": validate_weights(w.data, catalogue())}


@service("weights.edit", what="weights save")
def save_weights(ws: Workspace, data: dict, name: str | None = None) -> dict:
    """Save an edited weight set as a new version (not adopted). Identical data reuses its version."""
    cat = catalogue()
    clean = validate_weights(strip_meta(data), cat)
    with ws.session() as s:
        _ensure_default(s)
        for w in s.scalars(select(WeightSet).order_by(WeightSet.version.desc())):
            if _same(w.data, clean, cat):
                return {"weight_set_id": w.id, "version": w.version, "name": w.name, "created": False}
        v = (s.scalar(select(func.max(WeightSet.version))) or 0) + 1
        w = WeightSet(
            version=v,
            name=(name or clean.get("name") or f"第{v}版").strip(),
            data=clean,
            created_by=ws.user.name,
            active=False,
        )
        s.add(w)
        s.flush()
        ws.log("weights_saved", detail={"weight_set_id": w.id, "version": v}, conn=s)
        return {"weight_set_id": w.id, "version": v, "name": w.name, "created": True}


def _same(a: dict, b: dict, cat: dict) -> bool:
    try:
        a = validate_weights(strip_meta(a), cat)
    except InputRefused:
        return False
    drop = ("name", "note")
    return {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


@service("weights.edit", what="weights adopt")
def adopt_weight_set(ws: Workspace, weight_set_id: int, reason: str, *, preview: dict | None = None) -> dict:
    """Adopt a saved version (or an old one again: that is how a previous version is restored).

    Needs a non-empty reason; logged as ``weights_adopted``; the reason is kept on the version and in the
    adoption history (the access log holds ids only). The preview the person saw (``preview``; computed here when
    not given) is kept with the adoption: aggregates only (:func:`preview_summary`)."""
    if not (reason or "").strip():
        raise InputRefused("重みを採用する理由を入力してください（理由は必須です）。")
    with ws.session() as s:
        prev = _ensure_default(s)
        w = s.get(WeightSet, int(weight_set_id))
        if w is None:
            raise NotFound(f"重みの設定 {weight_set_id} はありません。")
        data = validate_weights(w.data, catalogue())
    if preview is None:
        preview = preview_weights(ws, data)
    with ws.session() as s:
        prev = _ensure_default(s)
        w = s.get(WeightSet, int(weight_set_id))
        if w is None:  # removed while the preview ran
            raise NotFound(f"重みの設定 {weight_set_id} はありません。")
        s.execute(update(WeightSet).where(WeightSet.id != w.id).values(active=False))
        w.active, w.adopted_at, w.adopted_by, w.reason = True, _now(), ws.user.name, reason.strip()
        hist = s.get(Setting, ADOPTIONS_KEY)
        entry = {
            "weight_set_id": w.id,
            "version": w.version,
            "at": w.adopted_at.isoformat(),
            "by": ws.user.name,
            "reason": reason.strip(),
            "previous_id": prev.id,
            "previous_version": prev.version,
            "preview": preview_summary(preview),
        }
        if hist is None:
            s.add(Setting(key=ADOPTIONS_KEY, value=[entry]))
        else:
            hist.value = list(hist.value or []) + [entry]
        ws.log(
            "weights_adopted",
            detail={
                "weight_set_id": w.id,
                "version": w.version,
                "previous_id": prev.id,
                "previous_version": prev.version,
                "restored": w.id < prev.id,
            },
            conn=s,
        )
        return {"weight_set_id": w.id, "version": w.version, "previous_version": prev.version, "adopted": True}


@service("weights.edit", what="weights adopt")
def adopt_weights(
    ws: Workspace, data: dict, reason: str, name: str | None = None, *, preview: dict | None = None
) -> dict:
    """Save edited weights as a new version and adopt it (reason required before anything is saved); the preview
    shown before 採用 is kept with the adoption."""
    if not (reason or "").strip():
        raise InputRefused("重みを採用する理由を入力してください（理由は必須です）。")
    saved = save_weights(ws, data, name)
    return {**adopt_weight_set(ws, saved["weight_set_id"], reason, preview=preview), "created": saved["created"]}


def adoptions(ws: Workspace) -> list[dict]:
    """Every adoption, oldest first, with the preview kept with it (for the self-inspection report; aggregates
    only, so the auditor may read it)."""
    if not (ws.can("governance.read") or ws.can("score.read")):
        ws.require("governance.read", what="weights adoptions")
    with ws.session() as s:
        hist = s.get(Setting, ADOPTIONS_KEY)
        return [dict(a) for a in (hist.value if hist and isinstance(hist.value, list) else [])]


@service("weights.edit", what="weights adopt")
def restore_weights(ws: Workspace, version: int, reason: str) -> dict:
    """Adopt an earlier version again."""
    with ws.session() as s:
        w = s.scalar(select(WeightSet).where(WeightSet.version == int(version)))
        if w is None:
            raise NotFound(f"重みの第{version}版はありません。")
        wid = w.id
    return adopt_weight_set(ws, wid, reason)


@service("score.read", what="weights export")
def export_weights(ws: Workspace, out: Path, weight_set_id: int | None = None) -> dict:
    """The weight set as a readable JSON file (indicator labels beside their points)."""
    cat = catalogue()
    with ws.session() as s:
        w = s.get(WeightSet, int(weight_set_id)) if weight_set_id else _ensure_default(s)
        if w is None:
            raise NotFound(f"重みの設定 {weight_set_id} はありません。")
        data = validate_weights(w.data, cat)
        meta = _ws_row(w)
    labels = {i["id"]: i for i in cat["indicators"]}
    for iid, v in data["indicators"].items():
        v["label_ja"] = labels[iid]["label_ja"]
        v["source_type"] = labels[iid]["source_type"]
        v["kind"] = labels[iid]["kind"]
    doc = {
        "format": data["format"],
        "format_version": data["format_version"],
        "name": meta["name"],
        "version": meta["version"],
        "weight_set_id": meta["weight_set_id"],
        "adopted_at": meta["adopted_at"].isoformat() if meta["adopted_at"] else None,
        "reason": meta["reason"],
        "exported_at": _now().isoformat(),
        "caveat": CAVEAT,
        **{k: v for k, v in data.items() if k not in ("format", "format_version", "name")},
    }
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    ws.log("weights_exported", detail={"weight_set_id": meta["weight_set_id"], "version": meta["version"]})
    return {
        "out": str(out),
        "weight_set_id": meta["weight_set_id"],
        "version": meta["version"],
        "indicators": len(data["indicators"]),
    }


def read_weights_file(file: Path) -> dict:
    """A weights file, validated against the catalogue (Japanese InputRefused when it cannot be used)."""
    try:
        raw = json.loads(Path(file).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputRefused(f"重みのファイル {file} がありません。")
    except (OSError, ValueError) as e:
        raise InputRefused(f"重みのファイル {Path(file).name} を読めません（JSON の形式: {e}）。")
    return validate_weights(strip_meta(raw), catalogue()) | ({"name": raw["name"]} if raw.get("name") else {})


def adoption_rows(ws: Workspace, fiscal_year: int | None = None) -> list[list[str]]:
    """The self-inspection's table of adoptions (a header row first): when, version, by whom and why, what the
    preview showed (flagged and top-band counts current → new) and its warnings. ``fiscal_year``: April–March."""
    rows = [["採用日時", "版", "採用者・理由", "プレビュー（現行 → 採用した案）", "グループ間の比の警告"]]
    for a in adoptions(ws):
        at = str(a.get("at") or "")
        try:
            d = dt.date.fromisoformat(at[:10])
        except ValueError:
            d = None
        if fiscal_year is not None and d is not None and (d.year if d.month >= 4 else d.year - 1) != fiscal_year:
            continue
        pv = a.get("preview") or {}
        if pv:
            f, t = pv.get("flagged") or {}, pv.get("top_band") or {}
            shown = (
                f"対象 {pv.get('children', 0)} 人（基準日 {pv.get('as_of', '')}）：抽出 {f.get('current')} → "
                f"{f.get('new')} 人、{pv.get('top_band_label', '高')} {t.get('current')} → {t.get('new')} 人"
            )
            if pv.get("proxy_guard_off"):
                shown += "。世帯・経済の指標だけで最上位にしない規則を外した種類：" + "、".join(pv["proxy_guard_off"])
            warn = "；".join(w.get("text", "") for w in pv.get("warnings") or []) or "なし"
        else:
            shown, warn = "（この採用にはプレビューの記録がありません）", ""
        rows.append(
            [
                at[:16].replace("T", " "),
                f"第{a.get('version')}版",
                f"{a.get('by', '')}：{a.get('reason', '')}",
                shown,
                warn,
            ]
        )
    if len(rows) == 1:
        rows.append(["", "", "この年度の採用はありません。", "", ""])
    return rows


@service("weights.edit", what="weights import")
def import_weights(
    ws: Workspace, file: Path, reason: str | None = None, adopt: bool = False, name: str | None = None
) -> dict:
    """Read a weights file as a new version; with ``adopt`` also adopt it (a reason is then required)."""
    if adopt and not (reason or "").strip():
        raise InputRefused("取り込んだ重みを採用するには理由（--reason）が必要です。何も変更していません。")
    data = read_weights_file(file)
    pv = preview_weights(ws, data) if adopt else None  # shown (printed) and kept with the adoption
    saved = save_weights(ws, data, name or data.get("name") or f"{Path(file).stem}（取込）")
    out = {
        "weight_set_id": saved["weight_set_id"],
        "version": saved["version"],
        "created": saved["created"],
        "adopted": False,
    }
    if adopt:
        out.update(adopt_weight_set(ws, saved["weight_set_id"], reason or "", preview=pv))
        out["preview"] = pv
    return out


# --- inputs from the database ----------------------------------------------------------------------------------------------
def _departments(s) -> dict[str, str]:
    out = {k: v[0] for k, v in DEFAULT_SOURCES.items()}
    for key, dept in s.execute(text("SELECT key, department FROM legal_basis WHERE kind='source'")).all():
        if dept:
            out[key] = dept
    return out


def _opted_out(s, on: dt.date | None = None) -> set[str]:
    """Persons on the opt-out register on ``on`` (its start date respected: an opt-out from a later date does not
    yet apply): the one rule in core/queries.py."""
    return Q.opted_out(s, on)


def _json(a):
    if isinstance(a, dict):
        return a
    if isinstance(a, str) and a:
        try:
            v = json.loads(a)
            return v if isinstance(v, dict) else {}
        except ValueError:
            return {}
    return {}


#: ``load_input(fields=ALL_FIELDS)``: every attribute of every record (what the engine read before issue 21)
ALL_FIELDS = "all"
READ_ROWS = 20_000  # linked records fetched at a time


def _attributes_sql(fields) -> tuple[str, dict]:
    """The SQL expression for a record's attributes holding only ``fields`` (source type → names), and its
    parameters. SQLite extracts the fields (``->`` keeps each value's JSON type: true stays true, 1.50 a number),
    so Python parses a few values per record instead of hundreds (和泉市: ~750 item columns, 29 million values)."""
    if fields == ALL_FIELDS:
        return "r.attributes", {}
    params: dict = {}
    whens = []
    for i, (st, names) in enumerate(sorted(fields.items())):
        names = sorted(names)
        if not names:
            continue
        params[f"st{i}"] = st
        parts = []
        for j, f in enumerate(names):
            params[f"k{i}_{j}"] = f
            params[f"p{i}_{j}"] = '$."' + f.replace("\\", "\\\\").replace('"', '\\"') + '"'
            parts.append(f":k{i}_{j}, r.attributes -> :p{i}_{j}")
        whens.append(f"WHEN :st{i} THEN json_object({', '.join(parts)})")
    if not whens:
        return "'{}'", params
    return (
        f"CASE WHEN json_valid(r.attributes) THEN CASE r.source_type {' '.join(whens)} ELSE '{{}}' END END",
        params,
    )


@dataclass
class People:
    """What :func:`load_input` reads besides the linked records: the residents (opted-out persons removed), the
    records waiting in review, the open checklist rounds, the sources imported, departments, retention cut-offs."""

    as_of: dt.date
    persons: pd.DataFrame
    excluded: set
    pending: pd.DataFrame
    rounds: list
    returned: set
    imported: set
    departments: dict
    cutoffs: dict


def load_people(ws: Workspace, as_of: dt.date, *, household_of: str | None = None) -> People:
    """The residents and everything else :func:`load_input` reads except the linked records (one session)."""
    with ws.session() as s:
        # the processing date, not the data's as-of: an opt-out applies to every run from its start date on,
        # whatever date the department files describe (a run today on 1 November's files leaves today's opt-outs out)
        excluded = _opted_out(s, max(as_of, dt.date.today()))
        conn = s.connection()
        where_p, params = "in_registry = 1", {}
        if household_of:
            p = s.get(Person, household_of)
            if p is None:
                raise NotFound(f"こども {household_of} はありません。")
            if p.household_id:
                where_p += " AND household_id = :h"
                params["h"] = p.household_id
            else:
                where_p += " AND id = :p"
                params["p"] = household_of
        persons = pd.read_sql_query(
            text(
                f"SELECT id AS person_id, household_id, birth_date, sex, name, relationship FROM person WHERE {where_p}"
            ),
            conn,
            params=params,
        )
        persons = persons[~persons["person_id"].isin(excluded)]
        pending = pd.read_sql_query(
            text(
                "SELECT l.person_id, r.source_type, r.id AS record_id FROM link l "
                "JOIN source_record r ON r.id = l.record_id JOIN source_batch b ON b.id = r.batch_id "
                "WHERE l.status = 'review' AND l.person_id IS NOT NULL AND b.removed_at IS NULL "
                "AND (b.as_of IS NULL OR b.as_of <= :d)"
            ),
            conn,
            params={"d": as_of.isoformat()},
        )
        cutoffs = expired_cutoffs(s, as_of)
        rounds = [
            {"round_id": rid, "name": name, "schools": _json_list(sch), "grades": _json_list(gr)}
            for rid, name, sch, gr, opened in s.execute(
                text(
                    "SELECT id, name, schools, grades, opened_on FROM checklist_round WHERE closed_at IS NULL "
                    "ORDER BY id DESC"
                )
            ).all()
            if (opened_on := _as_date(opened)) is None or opened_on <= as_of
        ]
        returned = set()
        for (scope,) in s.execute(
            text(
                "SELECT scope FROM source_batch WHERE source_type='school_checklist' "
                "AND removed_at IS NULL AND scope IS NOT NULL"
            )
        ).all():
            school, _, rid = str(scope).rpartition("|")
            if rid.isdigit():
                returned.add((school, int(rid)))
        imported = {
            st
            for (st,) in s.execute(
                text(
                    "SELECT DISTINCT source_type FROM source_batch WHERE removed_at IS NULL AND (as_of IS NULL OR as_of <= :d)"
                ),
                {"d": as_of.isoformat()},
            )
        }
        depts = _departments(s)
    return People(
        as_of=as_of,
        persons=persons,
        excluded=excluded,
        pending=pending[~pending["person_id"].isin(excluded)],
        rounds=rounds,
        returned=returned,
        imported=imported,
        departments=depts,
        cutoffs=cutoffs,
    )


def load_input(
    ws: Workspace,
    as_of: dt.date,
    *,
    household_of: str | None = None,
    fields: dict | str | None = None,
    people: People | None = None,
    only: set[str] | None = None,
) -> E.ScoringInput:
    """Everything the engine reads, from the database. ``household_of``: only that person's household.

    ``fields`` (source type → attribute names) says which attributes each record brings; by default those the
    current catalogue's indicators, take-up gaps and dedupe rules name (``engine.needed_fields``) — pass the
    fields of another catalogue when scoring with it, or :data:`ALL_FIELDS` for whole records. Records are read
    ``READ_ROWS`` at a time, so the raw rows never sit in memory beside the frame.

    ``people``: :func:`load_people`'s result when the caller has read it already; ``only`` (person ids): just these
    persons and their records (an incremental run's changed households) — the frames are those of the whole town
    restricted to them, in the same order."""
    if fields is None:
        fields = E.needed_fields(catalogue())
    if people is None:
        people = load_people(ws, as_of, household_of=household_of)
    persons, pending = people.persons, people.pending
    if only is not None:
        persons = persons[persons["person_id"].isin(only)]
        pending = pending[pending["person_id"].isin(only)]
    with ws.session() as s:
        conn = s.connection()
        attrs_sql, params = _attributes_sql(fields)
        q = (
            "SELECT r.id AS record_id, l.person_id, r.source_type, r.record_date, r.batch_id, b.as_of AS batch_as_of, "
            f"b.file_name, {attrs_sql} AS attributes, r.school, r.grade FROM {Q.LINKED_FROM} WHERE {Q.LINKED_WHERE} "
            "AND l.person_id IS NOT NULL"
        )
        if household_of:
            ids = list(persons["person_id"]) or [household_of]
            q += " AND l.person_id IN (" + ",".join(f":q{i}" for i in range(len(ids))) + ")"
            params.update({f"q{i}": v for i, v in enumerate(ids)})
        records = _read_records(conn, q, params, only=None if only is None else list(persons["person_id"]))
    linked = records[["person_id", "record_id"]]
    records = records[~records["person_id"].isin(people.excluded)]
    cutoffs = people.cutoffs
    if cutoffs and len(records):
        bas = pd.to_datetime(records["batch_as_of"], errors="coerce")
        cut = records["source_type"].map({k: pd.Timestamp(v) for k, v in cutoffs.items()})
        records = records[~(bas.notna() & cut.notna() & (bas < cut))]
    records = records.copy()
    sch = records[records["school"].notna() & (records["source_type"] != "school_checklist")]
    sch = sch[pd.to_datetime(sch["batch_as_of"], errors="coerce") <= pd.Timestamp(as_of)]
    sch = sch.sort_values(["batch_as_of", "batch_id", "record_id"])[["person_id", "school", "grade"]]
    return E.ScoringInput(
        as_of=as_of,
        persons=persons,
        records=records.drop(columns=["school", "grade"]),
        schools=sch,
        checklist_rounds=people.rounds,
        checklist_returned=people.returned,
        imported_sources=people.imported,
        departments=people.departments,
        pending=pending,
        linked=linked,
    )


RECORD_COLUMNS = [
    "record_id",
    "person_id",
    "source_type",
    "record_date",
    "batch_id",
    "batch_as_of",
    "file_name",
    "attributes",
    "school",
    "grade",
]


def _read_records(conn, q: str, params: dict, *, only: list[str] | None = None) -> pd.DataFrame:
    """The linked records as a frame (as ``pd.read_sql_query`` builds it), fetched ``READ_ROWS`` at a time with
    each chunk's attributes parsed as it arrives. ``only`` (person ids): just their records, read by person id
    ``MAX_SQL_IDS`` at a time and put in record order (the order of the whole town's query)."""
    a = RECORD_COLUMNS.index("attributes")
    rows: list[tuple] = []

    def read(sql: str, p: dict) -> None:
        res = conn.execute(text(sql), p)
        while chunk := res.fetchmany(READ_ROWS):
            rows.extend((*r[:a], _json(r[a]), *r[a + 1 :]) for r in chunk)

    if only is None:
        read(q, params)
    else:
        for k in range(0, len(only), Q.MAX_SQL_IDS):
            ids = only[k : k + Q.MAX_SQL_IDS]
            sql = q + " AND l.person_id IN (" + ",".join(f":o{i}" for i in range(len(ids))) + ")"
            read(sql, {**params, **{f"o{i}": v for i, v in enumerate(ids)}})
        rows.sort(key=lambda r: r[0])
    return pd.DataFrame.from_records(rows, columns=RECORD_COLUMNS, coerce_float=True)


def _json_list(v):
    if v is None:
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return None
    return list(v) if isinstance(v, (list, tuple)) and v else None


class ScoringContext:
    """The frames of one as-of date, kept while weights are edited: re-scoring is then only the matrix step."""

    def __init__(self, inp: E.ScoringInput, cat: dict | None = None, *, like: ScoringContext | None = None):
        """``like``: a context of the same input for another catalogue, whose frames may be reused
        (``engine.prepare(like=…)``)."""
        self.cat = cat or catalogue()
        self.inp = inp
        self.as_of = inp.as_of
        self.prep: E.Prepared = E.prepare(inp, self.cat, like=like.prep if like is not None else None)
        self._groups: dict[str, np.ndarray] | None = None
        self._group_kinds: dict[str, dict[str, np.ndarray]] | None = None
        self._hits: dict = {}  # per look-back windows: a weight change re-uses the indicator hits

    def hits(self, windows):
        try:
            key = repr(sorted(windows.items())) if isinstance(windows, dict) else repr(windows)
        except TypeError:
            key = None
        if key is None:
            return E.compute_hits(self.prep, windows)
        if key not in self._hits:
            self._hits = {key: E.compute_hits(self.prep, windows)}  # keep the latest only
        return self._hits[key]

    @classmethod
    def load(cls, ws: Workspace, as_of=None, *, household_of: str | None = None) -> ScoringContext:
        on = _as_date(as_of) or default_as_of(ws)
        return cls(load_input(ws, on, household_of=household_of))

    def score(self, data: dict, **kw):
        model = compile_weights(validate_weights(strip_meta(data), self.cat), self.cat)
        hits = self.hits(model.windows)
        return hits, E.apply_weights(self.prep, hits, model, **kw), model

    def groups(self) -> dict[str, np.ndarray]:
        """Fairness groups (children's households): single parent (児童扶養手当), a disability certificate."""
        if self._groups is None:
            gk = self.group_kinds()
            self._groups = {
                "ひとり親世帯（児童扶養手当）": gk["single_parent"]["該当"],
                "障害者手帳等のある世帯": gk["disability_household"]["該当"],
            }
        return self._groups

    def group_kinds(self) -> dict[str, dict[str, np.ndarray]]:
        """The preview's groups: kind → {group name: C bool}. Household circumstances are read as the catalogue's
        indicators see them on the as-of date (its default look-back windows), whatever the weights say:
        single_parent = 児童扶養手当 受給, public_assistance = 生活保護 受給, tax_exempt = 住民税非課税世帯;
        disability_household = someone in the household (the child too) has a disability record; sex and
        nationality from the registry (nationality only where the registry file holds it)."""
        if self._group_kinds is not None:
            return self._group_kinds
        prep = self.prep
        ch = prep.children
        C = prep.C
        by_id = {i["id"]: i for i in self.cat["indicators"]}

        def indicator(iid):
            ind = by_id.get(iid)
            if ind is None:
                return np.zeros(C, dtype=bool)
            return E.evaluate_indicator(prep, ind, ind["window_months"])[0]

        def yes_no(mask):
            return {"該当": mask, "非該当": ~mask}

        R = prep.R
        hh_of = prep.persons["household_id"]
        dis_p = R.loc[R["source_type"] == "disability", "person_id"]
        dis_hh = set(hh_of.reindex(dis_p).dropna())
        disab = ch["household_id"].isin(dis_hh).to_numpy() | ch["person_id"].isin(set(dis_p)).to_numpy()
        school = ch["school"].replace("", "（学校・園なし）").to_numpy()
        out = {
            "school": {x: school == x for x in sorted(set(school))},
            "age_band": {b["label"]: ch["age_band"].to_numpy() == b["label"] for b in self.cat["age_bands"]},
            "sex": {},
            "single_parent": yes_no(indicator("child_rearing_allowance")),
            "public_assistance": yes_no(indicator("public_assistance")),
            "tax_exempt": yes_no(indicator("tax_exempt")),
            "disability_household": yes_no(disab),
        }
        sex = ch["sex"].map(lambda v: SEX_LABELS.get(v, SEX_LABELS.get(str(v), "不明")) if v == v else "不明")
        for x in ("男", "女", "不明"):
            m = (sex == x).to_numpy()
            if m.any():
                out["sex"][x] = m
        nat = self._nationality()
        if nat is not None:
            out["nationality"] = {x: nat == x for x in sorted(set(nat))}
        self._group_kinds = out
        return out

    def _nationality(self) -> np.ndarray | None:
        """日本 / 日本以外 from the newest registry record's ``nationality`` attribute, when the registry holds it."""
        R = self.prep.R
        reg = R[R["source_type"] == "resident_registry"]
        if not len(reg):
            return None
        vals = reg["attributes"].map(lambda a: (a or {}).get("nationality") if isinstance(a, dict) else None)
        if vals.isna().all():
            return None
        last = pd.Series(vals.to_numpy(), index=reg["person_id"].to_numpy()).groupby(level=0).last()
        raw = self.prep.children["person_id"].map(last)
        return np.array(
            [
                "不明"
                if v is None or v != v or not str(v).strip()
                else ("日本" if str(v) in ("日本", "JP", "JPN") else "日本以外")
                for v in raw
            ],
            dtype=object,
        )


# --- runs ---------------------------------------------------------------------------------------------------------------------
def _weights_for_run(ws: Workspace, weight_set) -> tuple[int, int, dict]:
    """(weight set id, version, data) for a run: only the adopted set makes a run (the current run). Other weights
    are a trial (``score_to_csv(weights_file=…)``, the preview, the back-test), computed in memory and never kept."""
    a = active_weights(ws)
    if weight_set is None or (not isinstance(weight_set, dict) and int(weight_set) == a["weight_set_id"]):
        return a["weight_set_id"], a["version"], a["data"]
    raise InputRefused(
        "採用されていない重みでは算出結果を保存できません（試行は score --weights で、保存されません）。"
        "先に理由を付けて採用してください。"
    )


def _previous(s, as_of: dt.date, before_id: int | None) -> tuple[int | None, dict]:
    q = select(ScoreRun).where(ScoreRun.as_of <= as_of)
    if before_id is not None:
        q = q.where(ScoreRun.id < before_id)
    prev = s.scalar(q.order_by(ScoreRun.as_of.desc(), ScoreRun.id.desc()).limit(1))
    if prev is None:
        return None, {}
    out = {}
    # SQLite hands over each child's ``history`` (JSON text, or NULL: none, or details not a JSON object) rather than
    # the whole details: parsing every details JSON in Python was most of this step. Details SQLite does not take for
    # JSON (Python's json writes NaN) come whole and are read as before.
    for pid, total, flagged, history, raw in s.execute(
        text(
            "SELECT person_id, total, flagged, CASE WHEN json_valid(details) THEN details -> '$.history' END, "
            "CASE WHEN json_valid(details) THEN NULL ELSE details END FROM child_score WHERE run_id = :r"
        ),
        {"r": prev.id},
    ):
        if raw is not None:
            h = _json(raw).get("history") or {}
        else:
            h = (json.loads(history) if history is not None else None) or {}
        out[pid] = {
            "total": float(total or 0),
            "flagged": bool(flagged),
            "streak": int(h.get("flagged_streak", 1 if flagged else 0) or 0),
        }
    return prev.id, out


# --- incremental runs ------------------------------------------------------------------------------------------------------
#: the person columns a child's input key reads, for every member of its household
KEY_PERSON_COLUMNS = ["person_id", "household_id", "birth_date", "sex", "name", "relationship"]
_LANES = ("kodomo-inputs-01", "kodomo-inputs-02")  # the hash keys (16 characters) of the key's two 64-bit lanes
#: above this share of children to recompute, a full run is as cheap (the changed households' records are read by id)
INCREMENTAL_MAX_SHARE = 0.5
_CODE_FILES = ("engine.py", "rules.py", "explain.py", "weights.py", "service.py", "catalogue.py")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def input_keys(persons: pd.DataFrame, linked: pd.DataFrame, pending: pd.DataFrame, child_ids) -> list[str]:
    """Per child (``child_ids``), a fingerprint (32 hex digits) of everything its indicators read: the rows of its
    household's members (:data:`KEY_PERSON_COLUMNS` — who lives there, births, relationships; an opted-out person is
    not in ``persons``), the ids of every record linked to each member (a new, removed or relinked record changes
    it; records are never edited in place) and the ids of the child's records waiting in review. Two runs on the same
    date with the same catalogue and weights give a child the same indicators when its key is the same
    (the engine reads nothing of another household). Vectorised: a multiset hash (sums of mixed ids) per person,
    summed per household, in two independent 64-bit lanes."""
    P = len(persons)
    pids = pd.Index(persons["person_id"].astype(str).to_numpy())
    hh = (
        persons["household_id"]
        .astype(object)
        .where(persons["household_id"].notna(), "self:" + persons["person_id"].astype(str))
    )
    hh_code = pd.factorize(hh)[0]
    rows = persons[KEY_PERSON_COLUMNS].astype(str)
    lpos = pids.get_indexer(linked["person_id"].astype(str)) if len(linked) else np.zeros(0, dtype=np.int64)
    lok = lpos >= 0
    lpos, lrid = lpos[lok], linked["record_id"].to_numpy()[lok].astype(np.uint64)
    cids = pd.Index([str(c) for c in child_ids])
    cpos = pids.get_indexer(cids)
    ppos = cids.get_indexer(pending["person_id"].astype(str)) if len(pending) else np.zeros(0, dtype=np.int64)
    pok = ppos >= 0
    ppos, prid = ppos[pok], pending["record_id"].to_numpy()[pok].astype(np.uint64)
    lanes = []
    for n, hk in enumerate(_LANES):
        salt = _mix(np.array([n + 1], dtype=np.uint64))[0]
        row_h = pd.util.hash_pandas_object(rows, index=False, hash_key=hk).to_numpy(np.uint64)
        rec = np.zeros(P, dtype=np.uint64)
        np.add.at(rec, lpos, _mix(lrid ^ salt))
        count = np.bincount(lpos, minlength=P).astype(np.uint64)
        sig = _mix(row_h ^ _mix(rec + count * salt))
        hh_sig = np.zeros(int(hh_code.max()) + 1 if P else 0, dtype=np.uint64)
        np.add.at(hh_sig, hh_code, sig)
        pend = np.zeros(len(cids), dtype=np.uint64)
        np.add.at(pend, ppos, _mix(prid ^ (salt + np.uint64(7))))
        own = np.where(cpos >= 0, hh_sig[hh_code[np.clip(cpos, 0, None)]] if P else 0, 0).astype(np.uint64)
        lanes.append(_mix(own ^ _mix(pend + salt)))
    return [f"{int(a):016x}{int(b):016x}" for a, b in zip(*lanes)]


@functools.cache
def _code_digest() -> str:
    """The scoring code itself (an engine change makes the next run full); a frozen build names its files."""
    h = hashlib.sha256()
    for name in _CODE_FILES:
        try:
            h.update((Path(__file__).with_name(name)).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.hexdigest()


def _json_default(o):
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=str)
    return str(o)


def global_key(cat: dict, data: dict, weight_set_id: int, people: People) -> str:
    """What every child's indicators read beside its own household: the code, the catalogue, the weights, the as-of
    date, the sources imported, the open checklist rounds and the returned ones, the departments, the retention
    cut-offs. A run may reuse an earlier run's indicators only when this is the same."""
    doc = {
        "code": _code_digest(),
        "catalogue": cat,
        "weights": data,
        "weight_set_id": weight_set_id,
        "as_of": people.as_of.isoformat(),
        "imported": sorted(people.imported),
        "rounds": people.rounds,
        "returned": sorted(people.returned, key=str),
        "departments": people.departments,
        "cutoffs": {k: str(v) for k, v in sorted(people.cutoffs.items())},
    }
    raw = json.dumps(doc, sort_keys=True, ensure_ascii=False, default=_json_default)
    return hashlib.sha256(raw.encode()).hexdigest()


def _linked_pairs(ws: Workspace) -> pd.DataFrame:
    """person_id, record_id of every linked record (what :func:`load_input` reads, without reading a record)."""
    with ws.session() as s:
        rows = (
            s.connection()
            .exec_driver_sql(
                f"SELECT l.person_id, l.record_id FROM {Q.LINKED_FROM} WHERE {Q.LINKED_WHERE} "
                "AND l.person_id IS NOT NULL"
            )
            .fetchall()
        )
    return pd.DataFrame.from_records(rows, columns=["person_id", "record_id"])


def _reusable_run(ws: Workspace, on: dt.date, weight_set_id: int, gkey: str) -> tuple[int | None, dict]:
    """(run id, {person_id: (input key, hit ids, details JSON)}) of the newest run an incremental run may build
    on: the same as-of date, weight set and :func:`global_key`."""
    with ws.session() as s:
        for r in s.scalars(
            select(ScoreRun)
            .where(ScoreRun.as_of == on, ScoreRun.weight_set_id == weight_set_id)
            .order_by(ScoreRun.id.desc())
            .limit(5)
        ):
            if ((r.summary or {}).get("incremental") or {}).get("global_key") != gkey:
                continue
            rows = s.execute(
                text("SELECT person_id, input_key, hit_ids, details FROM child_score WHERE run_id = :r"), {"r": r.id}
            ).all()
            return r.id, {p: (k, h, d) for p, k, h, d in rows if k is not None and h is not None}
    return None, {}


def _ranked(d: dict, sc: E.Scores, i: int) -> dict:
    """A reused child's details with what depends on every other child taken from this run's ranking: the flag
    (a top-N/％ rule), its basis, the candidate mark and the rank (:func:`engine.explain_details` writes the same)."""
    d["flagged"] = bool(sc.flagged[i])
    d["flag_basis"] = [
        b
        for b, f in (("threshold", sc.flag_threshold[i]), ("rank", sc.flag_rank[i]), ("basic_items", sc.flag_basic[i]))
        if f
    ]
    d["new_candidate"] = bool(sc.new_candidate[i])
    d["rank"] = {
        "position": int(sc.rank_position[i]),
        "of": sc.of if sc.of is not None else len(sc.total),
        "group": str(sc.group_labels[i]),
        "group_position": int(sc.group_position[i]),
        "group_size": int(sc.group_size[i]),
    }
    return d


@service("score.run", what="score")
def run_scoring(
    ws: Workspace,
    as_of=None,
    weight_set=None,
    *,
    context: ScoringContext | None = None,
    progress=None,
    cancel=None,
    full: bool = False,
) -> int:
    """Score every child aged 0–18 on ``as_of`` and keep the run (ScoreRun + ChildScore rows). Returns its id.

    **Incremental**: when an earlier run has the same as-of date, weight set, catalogue (and code, sources imported,
    checklist rounds, retention — :func:`global_key`), only the children whose inputs changed (:func:`input_keys`:
    a new, removed or relinked record of their household, a household change, an opt-out, a record waiting in
    review) have their indicators evaluated; every other child's indicator hits and details are taken from that
    run. The ranks and rules (top N %, at least K basic items, the sibling rule) are then computed over every child,
    so the run is exactly what a full run gives (tests/core/test_scoring_incremental.py). ``full=True``, a given
    ``context``, a new date, catalogue or weight set, or more than half the children changed: a full run. The
    run's summary says which (``mode``: full | incremental, ``recomputed``, ``reused``).

    ``cancel()`` (the GUI's キャンセル) is asked between steps and every 1,000 children while the run is written:
    when it says stop, :class:`Cancelled` is raised and nothing is kept (the run's transaction rolls back)."""
    return _score_run(ws, as_of, weight_set, context=context, progress=progress, cancel=cancel, full=full)["run_id"]


def _score_run(
    ws: Workspace,
    as_of=None,
    weight_set=None,
    *,
    context: ScoringContext | None = None,
    progress=None,
    cancel=None,
    full: bool = False,
    csv_rows: list | None = None,
) -> dict:
    """:func:`run_scoring`; with ``csv_rows`` (a list) also each child's CSV row (``_csv_row``), from the details as
    they are written. Returns {run_id, mode, recomputed, reused}."""
    say = progress or (lambda *_: None)

    def stop():
        if cancel is not None and cancel():
            raise Cancelled("スコアの算出を中止しました。算出結果は保存していません。")

    t0 = time.perf_counter()
    if ws.can("checklist.manage"):  # what the schools entered in their own workspaces, read back first
        sync.sync(ws, quiet=True)
    on = _as_date(as_of) or (context.as_of if context else default_as_of(ws))
    wid, version, data = _weights_for_run(ws, weight_set)
    cat = context.cat if context is not None and context.as_of == on else catalogue()
    model = compile_weights(validate_weights(strip_meta(data), cat), cat)
    people = load_people(ws, on) if context is None or context.as_of != on else None
    gkey = global_key(cat, data, wid, people) if people is not None else None
    prev_run, kept = (None, {}) if full or gkey is None else _reusable_run(ws, on, wid, gkey)
    mode, sub = "full", None
    keys: list[str] | None = None
    if prev_run is not None and people is not None:
        linked = _linked_pairs(ws)
        everyone = E.rank_frame(people.persons, cat, on)
        pids_all = everyone.children["person_id"].to_numpy()
        keys = input_keys(people.persons, linked, people.pending, pids_all)
        changed = [p for p, k in zip(pids_all, keys) if (kept.get(p) or (None,))[0] != k]
        if len(changed) <= INCREMENTAL_MAX_SHARE * max(1, len(pids_all)):
            mode = "incremental"
            P = people.persons
            hh = P.loc[P["person_id"].isin(changed), "household_id"].dropna()
            only = set(changed) | set(P.loc[P["household_id"].isin(set(hh)), "person_id"])
            sub = ScoringContext(load_input(ws, on, people=people, only=only), cat) if only else None
    if mode == "full":
        if context is not None and context.as_of == on:
            ctx = context
        else:
            assert people is not None
            ctx = ScoringContext(load_input(ws, on, people=people), cat)
        everyone = ctx.prep
        pids_all = everyone.children["person_id"].to_numpy()
        keys = None
        if ctx.inp.linked is not None and people is not None:
            keys = input_keys(people.persons, ctx.inp.linked, people.pending, pids_all)
    stop()
    C = everyone.C
    ids = [i["id"] for i in cat["indicators"]]
    col = {iid: k for k, iid in enumerate(ids)}
    say(f"{C} 人のこどもを採点しています…")
    if mode == "full":
        hits = ctx.hits(model.windows)
        H = hits.H
        fresh = np.arange(C)
        local = np.arange(C)
        sub_prep, sub_hits = ctx.prep, hits
    else:
        H = np.zeros((C, len(ids)), dtype=bool)
        local = np.full(C, -1, dtype=np.int64)
        if sub is not None:
            sub_prep, sub_hits = sub.prep, sub.hits(model.windows)
            at = pd.Index(pids_all).get_indexer(sub_prep.children["person_id"].to_numpy())
            H[at] = sub_hits.H
            local[at] = np.arange(sub_prep.C)
        for c in np.nonzero(local < 0)[0]:
            for iid in filter(None, kept[pids_all[c]][1].split(",")):
                H[c, col[iid]] = True
        fresh = np.nonzero(local >= 0)[0]
    sc = E.apply_weights(everyone, E.Hits(ids, H, np.zeros((0, 0), dtype=np.int64), []), model)
    stop()
    sc_sub = sc if mode == "full" else sc.take(fresh)
    sib = E.sibling_index(sub_prep, sc_sub) if len(fresh) else {}
    rise = float((data.get("history") or {}).get("sharp_rise_points", 5))
    names = dict(zip(everyone.children["person_id"], everyone.children["name"]))
    births = dict(zip(everyone.children["person_id"], everyone.children["birth_date"]))
    with ws.session() as s:
        prev_id, prev = _previous(s, on, None)
        run = ScoreRun(as_of=on, weight_set_id=wid, created_by=ws.user.name)
        s.add(run)
        s.flush()
        rows, newly, rises = [], 0, 0
        say(f"理由を記録しています…（{C:,} 人）")
        for i in range(C):
            if i % 1000 == 0 and i:
                stop()
                if i % 5000 == 0:
                    say(f"理由を記録しています… {i:,} / {C:,} 人")
            pid = pids_all[i]
            j = int(local[i])
            if j >= 0:
                sd = E.explain_details(sub_prep, sub_hits, sc_sub, j, sibling_index=sib)
                d = sd.to_dict()
                d["weight_set_id"], d["weight_set_version"] = wid, version
            else:
                sd = None
                d = _ranked(json.loads(kept[pid][2]), sc, i)
            p = prev.get(pid)
            flagged = bool(sc.flagged[i])
            new = bool(sc.new_candidate[i]) and not (p and p["flagged"])
            sharp = bool(p is not None and float(sc.total[i]) - p["total"] >= rise)
            streak = (p["streak"] + 1 if (p and p["flagged"]) else 1) if flagged else 0
            d["history"] = {
                "previous_run_id": prev_id,
                "previous_total": p["total"] if p else None,
                "rise": round(float(sc.total[i]) - p["total"], 2) if p else None,
                "newly_flagged": new,
                "sharp_rise": sharp,
                "flagged_streak": streak,
                "flagged_runs_in_a_row": streak,
            }
            d["newly_flagged"] = new
            newly += new
            rises += sharp
            rows.append(
                {
                    "run_id": run.id,
                    "person_id": pid,
                    "total": round(float(sc.total[i]), 2),
                    "band": d["band"],
                    "types": "、".join(d["flagged_types"]),
                    "basic_items": d["basic_items"],
                    "flagged": flagged,
                    "school_points": d["school_points"],
                    "details": d,
                    "input_key": keys[i] if keys is not None else None,
                    "hit_ids": ",".join(ids[k] for k in np.nonzero(H[i])[0]),
                }
            )
            if csv_rows is not None:
                b = births.get(pid)
                birth = b.date().isoformat() if b is not None and pd.notna(b) else ""
                csv_rows.append(_csv_row(pid, names.get(pid) or "", birth, sd or ScoreDetails.from_dict(d)))
        stop()
        L.fill_list_keys(rows)  # the list's order and filters as columns (the page lists them in SQL)
        for k in range(0, len(rows), 2000):
            s.execute(insert(ChildScore), rows[k : k + 2000])
        bands = pd.Series([r["band"] for r in rows]).value_counts().to_dict() if rows else {}
        recomputed = int(len(fresh))
        run.summary = {
            "children": len(rows),
            "flagged": int(sc.flagged.sum()),
            "new_candidates": int(sc.new_candidate.sum()),
            "newly_flagged": int(newly),
            "sharp_rise": int(rises),
            "yotaikyo_continuing": int((sc.flagged & sc.yotaikyo_active).sum()),
            "by_band": {str(k): int(v) for k, v in bands.items()},
            "rank_cutoffs": sc.rank_cutoffs,
            "proxy_guard_off": dict((data.get("proxy_guard") or {}).get("off") or {}),
            "pending_review": int(sum(1 for r in rows if r["details"].get("pending"))),
            # records of the children scored that were never scored (dated before the birth / after the extract)
            "implausible_records": int(sum(len(r["details"].get("implausible") or ()) for r in rows)),
            "weight_set_version": version,
            "catalogue_version": cat.get("version"),
            "sources_not_imported": sorted(set(cat["sources"]) - _imported(everyone, people) - {"resident_registry"}),
            "previous_run_id": prev_id,
            "mode": mode,
            "recomputed": recomputed,
            "reused": len(rows) - recomputed,
            "incremental": {"global_key": gkey, "based_on": prev_run if mode == "incremental" else None},
            "seconds": round(time.perf_counter() - t0, 2),
        }
        ws.log(
            "score_run",
            detail={
                "run_id": run.id,
                "as_of": on.isoformat(),
                "weight_set_id": wid,
                "children": len(rows),
                "flagged": run.summary["flagged"],
                "mode": mode,
                "recomputed": recomputed,
            },
            conn=s,
        )
        return {"run_id": run.id, "mode": mode, "recomputed": recomputed, "reused": len(rows) - recomputed}


def _imported(prep: E.Prepared, people: People | None) -> set:
    return set(people.imported) if people is not None else set(prep.imported_sources)


@service("score.run", what="score")
def score_to_csv(ws: Workspace, out: Path, weights_file: Path | None = None, as_of=None, *, full: bool = False) -> dict:
    """CLI ``score``: score every child, keep the run, write the CSV (person_id, name, birth_date, school, total,
    band, types, reasons, own_points, household_points, pending_review), band first, then total.

    With ``weights_file`` it is a **trial**: the children are scored in memory with those weights and the CSV is
    written, but no run is kept and no weight set saved — a trial never becomes the current run. Only a role that
    may set weights may run a trial. Refused (exit 2, logged, no file) without the permission."""
    if weights_file:
        ws.require("weights.edit", what="trial score")
    weights = read_weights_file(weights_file) if weights_file else None
    on = _as_date(as_of)
    if weights is not None:
        ctx = ScoringContext.load(ws, on)
        hits, sc, _ = ctx.score(weights)
        sib = E.sibling_index(ctx.prep, sc)
        names = dict(zip(ctx.prep.children["person_id"], ctx.prep.children["name"]))
        births = dict(zip(ctx.prep.children["person_id"], ctx.prep.children["birth_date"]))
        rows = []
        for i, pid in enumerate(ctx.prep.children["person_id"]):
            d = E.explain_details(ctx.prep, hits, sc, i, sibling_index=sib)
            b = births.get(pid)
            rows.append(
                _csv_row(pid, names.get(pid) or "", b.date().isoformat() if b is not None and pd.notna(b) else "", d)
            )
        run_id, as_of_s, mode = None, ctx.as_of.isoformat(), "full"
        ws.log("score_trial", detail={"as_of": as_of_s, "children": len(rows), "flagged": int(sc.flagged.sum())})
    else:
        # the CSV lines are made from the details as they are written (nothing read back); a trial never gets here
        rows = []
        res = _score_run(ws, as_of=on, full=full, csv_rows=rows)
        run_id, mode = res["run_id"], res["mode"]
        with ws.session() as s:
            as_of_s = s.get_one(ScoreRun, run_id).as_of.isoformat()
    rows.sort(key=lambda r: r[0])
    outputs.write_csv(Path(out), SCORE_COLUMNS, (r[1] for r in rows))
    flagged = sum(1 for r in rows if r[2])
    ws.log("export", detail={"what": "scores_csv", "run_id": run_id, "rows": len(rows), "trial": run_id is None})
    guard_off = rows[0][4] if rows else {}
    return {
        "children": len(rows),
        "flagged": flagged,
        "run_id": run_id,
        "trial": run_id is None,
        "mode": mode,
        "as_of": as_of_s,
        "out": str(out),
        "pending_review": sum(1 for r in rows if r[3]),
        "proxy_guard_off": guard_off,
        "caveat": CAVEAT,
    }


def _csv_row(pid: str, name: str, birth: str, d: ScoreDetails) -> tuple:
    """(sort key, CSV line, flagged, pending, proxy guard off) of one child: band first, then total."""
    key = (-(d.band_level or 0), -d.total, -(d.basic_items or 0), pid)
    line = [
        pid,
        name,
        birth,
        d.school,
        f"{d.total:g}",
        d.band,
        ";".join(d.flagged_types),
        d.reasons_text(),
        f"{d.own_points:g}",
        f"{d.household_points:g}",
        d.pending_text,
    ]
    return key, line, bool(d.flagged), bool(d.pending), d.guard_off


# --- reading ----------------------------------------------------------------------------------------------------------------
def latest_run(ws: Workspace) -> dict | None:
    with ws.session() as s:
        r = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
        return (
            None
            if r is None
            else {
                "run_id": r.id,
                "as_of": r.as_of,
                "weight_set_id": r.weight_set_id,
                "summary": r.summary or {},
                "created_at": r.created_at,
            }
        )


@service("score.read", what="score runs")
def runs(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        return [
            {
                "run_id": r.id,
                "as_of": r.as_of,
                "weight_set_id": r.weight_set_id,
                "created_at": r.created_at,
                "created_by": r.created_by,
                "summary": r.summary or {},
            }
            for r in s.scalars(select(ScoreRun).order_by(ScoreRun.id.desc()))
        ]


@service("score.read", what="scores")
def latest_scores(
    ws: Workspace,
    run_id: int | None = None,
    *,
    school: str | None = None,
    age_band: str | None = None,
    type_: str | None = None,
    band: str | None = None,
    new: bool | None = None,
    yotaikyo: bool | None = None,
    unreviewed: bool | None = None,
    flagged_only: bool = False,
    log: bool = True,
) -> list[dict]:
    """The prioritised list of a run (the latest by default), highest total first, with filters:
    school, age band, difficulty type crossed, band, 新規 (newly flagged, not 支援継続), 要対協, 未確認 (not yet
    classified in a review round)."""
    out = L.score_page(  # filtered and ordered in SQL (listing.py)
        ws,
        run_id=run_id,
        school=school,
        age_band=age_band,
        type_=type_,
        band=band,
        new=new,
        yotaikyo=yotaikyo,
        unreviewed=unreviewed,
        flagged_only=flagged_only,
    )
    if log and out:  # one entry per list view: ids and counts, never names
        ws.log("view_list", detail={"list": "prioritised", "run_id": out[0]["run_id"], "rows": len(out)})
    elif log:
        rid = run_id if run_id is not None else (latest_run(ws) or {}).get("run_id")
        if rid is not None:
            ws.log("view_list", detail={"list": "prioritised", "run_id": rid, "rows": 0})
    return out


@service("score.read", what="score explanation", person="person_id")
def child_explanation(ws: Workspace, person_id: str, run_id: int | None = None) -> dict:
    """One child's reasons (latest run by default) and score history; the view is logged."""
    with ws.session() as s:
        q = (
            select(ChildScore, ScoreRun)
            .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
            .where(ChildScore.person_id == person_id)
        )
        if run_id is not None:
            q = q.where(ChildScore.run_id == run_id)
        got = s.execute(q.order_by(ScoreRun.id.desc()).limit(1)).first()
        if got is None:
            raise NotFound(f"こども {person_id} のスコアはまだありません（0〜18歳で、利用停止でない人が対象です）。")
        c, run = got
        p = s.get(Person, person_id)
        hist = [
            {
                "run_id": r.id,
                "as_of": r.as_of,
                "total": cs.total,
                "band": cs.band,
                "flagged": bool(cs.flagged),
                "types": cs.types or "",
                "weight_set_id": r.weight_set_id,
            }
            for cs, r in s.execute(
                select(ChildScore, ScoreRun)
                .join(ScoreRun, ScoreRun.id == ChildScore.run_id)
                .where(ChildScore.person_id == person_id)
                .order_by(ScoreRun.as_of, ScoreRun.id)
            ).all()
        ]
        ws.log("score_viewed", person_id, {"run_id": run.id}, conn=s)
        d = c.details if isinstance(c.details, dict) else _json(c.details)
        return {
            "person_id": person_id,
            "name": p.name if p else "",
            "birth_date": p.birth_date if p else None,
            "run_id": run.id,
            "as_of": run.as_of,
            "total": c.total,
            "band": c.band,
            "types": c.types or "",
            "flagged": bool(c.flagged),
            "basic_items": c.basic_items,
            "school_points": c.school_points,
            "details": d,
            "history": hist,
            "caveat": CAVEAT,
        }


@service("score.read", what="what-if", person="person_id")
def what_if(ws: Workspace, person_id: str, disabled_indicators=(), supports_started=()) -> dict:
    """The child's score recomputed with indicators switched off or supports marked as started — nothing saved.

    The child's household is scored on the latest run's as-of date with the adopted weights; a top-N/％ rule
    uses the latest run's cut-off totals."""
    cat = catalogue()
    ids = [i["id"] for i in cat["indicators"]]
    bad = [i for i in disabled_indicators if i not in ids]
    if bad:
        raise InputRefused(f"指標「{bad[0]}」はありません。")
    sup = {sp["id"]: sp for sp in cat["supports"]}
    bad = [x for x in supports_started if x not in sup]
    if bad:
        raise InputRefused(f"支援「{bad[0]}」はありません（{'、'.join(sup)}）。")
    run = latest_run(ws)
    on = run["as_of"] if run else default_as_of(ws)
    weights = active_weights(ws)
    ctx = ScoringContext.load(ws, on, household_of=person_id)
    pids = list(ctx.prep.children["person_id"])
    if person_id not in pids:
        raise NotFound(f"こども {person_id} は採点の対象ではありません（0〜18歳で、利用停止でない住民が対象です）。")
    i = pids.index(person_id)
    cutoffs = (run or {}).get("summary", {}).get("rank_cutoffs") if run else None
    hits, base, model = ctx.score(weights["data"], rank_cutoffs=cutoffs or {})
    C, K, T = ctx.prep.C, len(ids), len(model.types)
    disabled = np.zeros((C, K), dtype=bool)
    for iid in disabled_indicators:
        disabled[i, ids.index(iid)] = True
    factors = np.ones((C, T))
    for x in supports_started:
        for t, f in sup[x]["factors"].items():
            factors[i, model.types.index(t)] *= float(f)
    after = E.apply_weights(ctx.prep, hits, model, disabled=disabled, factors=factors, rank_cutoffs=cutoffs or {})
    b = E.explain(ctx.prep, hits, base, i, sibling_index=E.sibling_index(ctx.prep, base))
    a = E.explain(ctx.prep, hits, after, i, sibling_index=E.sibling_index(ctx.prep, after))
    ws.log("what_if", person_id, {"disabled": len(disabled_indicators), "supports": len(supports_started)})

    def view(d):
        return {
            "total": d["total"],
            "band": d["band"],
            "flagged": d["flagged"],
            "flagged_types": d["flagged_types"],
            "types": {t: v["points"] for t, v in d["types"].items()},
            "type_bands": {t: v["band"] for t, v in d["types"].items()},
            "school_points": d["school_points"],
            "basic_items": d["basic_items"],
            "reasons": d["reasons"],
            "protective": d["protective"],
            "no_data": d["no_data"],
            "status_label": d["status_label"],
        }

    bv, av = view(b), view(a)
    return {
        "person_id": person_id,
        "as_of": on,
        "weight_set_version": weights["version"],
        "before": bv,
        "after": av,
        "change": round(av["total"] - bv["total"], 2),
        "type_changes": {
            t: round(av["types"].get(t, 0) - bv["types"].get(t, 0), 2)
            for t in set(av["types"]) | set(bv["types"])
            if av["types"].get(t, 0) != bv["types"].get(t, 0)
        },
        "disabled_indicators": list(disabled_indicators),
        "supports_started": [
            {"id": x, "label": sup[x]["label_ja"], "factors": sup[x]["factors"]} for x in supports_started
        ],
        "saved": False,
        "caveat": CAVEAT,
    }


def supports() -> list[dict]:
    return catalogue()["supports"]


# --- preview before adoption -----------------------------------------------------------------------------------------------
GROUP_KINDS = {
    "school": "学校・園",
    "age_band": "年齢区分",
    "sex": "性別",
    "single_parent": "ひとり親世帯（児童扶養手当）",
    "public_assistance": "生活保護世帯",
    "tax_exempt": "住民税非課税世帯",
    "disability_household": "障害者手帳等のある世帯",
    "nationality": "国籍",
}
SEX_LABELS = {1: "男", 2: "女", "1": "男", "2": "女", "男": "男", "女": "女", "M": "男", "F": "女"}


@service("score.read", what="weights preview")
def preview_weights(ws: Workspace, data: dict, as_of=None, *, context: ScoringContext | None = None) -> dict:
    """Before adoption: flagged and top-band counts and rates, current → proposed, per school, age band, sex,
    ひとり親, 生活保護, 非課税, 障害者手帳等のある世帯 (and nationality where held), the largest ratio between the groups
    of one kind and ``warnings`` above the town's threshold (``fairness.max_ratio``) — 西宮市 was flooded; AFST's
    groups were never reported. Also the per-school × age-band band counts the editor shows. Nothing is saved."""
    cat = catalogue()
    proposed = validate_weights(strip_meta(data), cat)
    current = active_weights(ws)
    ctx = context or ScoringContext.load(ws, as_of)
    _, s_new, m_new = ctx.score(proposed)
    _, s_cur, _ = ctx.score(current["data"])
    pv = preview_from_scores(
        ctx, s_cur, s_new, m_new, changes=diff(current["data"], proposed, cat), current_version=current["version"]
    )
    ws.log("weights_previewed", detail={"children": pv["children"], "warnings": len(pv["warnings"])})
    return pv


def _rate(k: int, n: int) -> float | None:
    return round(100.0 * k / n, 1) if n else None


def _ratio(rows: list[dict], key: str, which: str, min_group: int) -> dict | None:
    """The largest ratio of ``key`` rates between groups of one kind with at least ``min_group`` children. A group
    with none flagged counts as half a child (so a 0 % group gives a finite, conservative ratio)."""
    ok = [r for r in rows if r["children"] >= min_group]
    if len(ok) < 2:
        return None
    adj = [((r[key][which] or 0) + (0.5 if not r[key][which] else 0)) / r["children"] for r in ok]
    hi, lo = max(range(len(ok)), key=adj.__getitem__), min(range(len(ok)), key=adj.__getitem__)
    if not ok[hi][key][which]:
        return {"ratio": 1.0, "high": ok[hi]["group"], "low": ok[lo]["group"]}
    return {"ratio": round(adj[hi] / adj[lo], 2), "high": ok[hi]["group"], "low": ok[lo]["group"]}


def preview_from_scores(ctx: ScoringContext, s_cur, s_new, model, *, changes=None, current_version=None) -> dict:
    prep = ctx.prep
    labels = model.band_labels
    ch = prep.children
    top_new = s_new.band_level == model.L
    top_cur = s_cur.band_level == s_cur.model.L
    df = pd.DataFrame(
        {
            "school": ch["school"].replace("", "（学校・園なし）").to_numpy(),
            "age_band": ch["age_band"].to_numpy(),
            "band_new": [model.level_label(l) for l in s_new.band_level],
            "band_cur": [s_cur.model.level_label(l) for l in s_cur.band_level],
            "flag_new": s_new.flagged,
            "flag_cur": s_cur.flagged,
        }
    )
    table = []
    order = {b["label"]: n for n, b in enumerate(ctx.cat["age_bands"])}
    for (school, ab), g in sorted(
        df.groupby(["school", "age_band"]), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))
    ):
        table.append(
            {
                "school": school,
                "age_band": ab,
                "children": int(len(g)),
                "new": {b: int((g["band_new"] == b).sum()) for b in labels},
                "current": {b: int((g["band_cur"] == b).sum()) for b in s_cur.model.band_labels},
                "flagged_new": int(g["flag_new"].sum()),
                "flagged_current": int(g["flag_cur"].sum()),
            }
        )

    def rate(mask):
        n = int(mask.sum())
        if not n:
            return {"children": 0, "current": None, "new": None}
        return {
            "children": n,
            "current": round(float(100.0 * s_cur.flagged[mask].mean()), 1),
            "new": round(float(100.0 * s_new.flagged[mask].mean()), 1),
        }

    def counts(mask, name):
        n = int(mask.sum())
        fc, fn = int(s_cur.flagged[mask].sum()), int(s_new.flagged[mask].sum())
        tc, tn = int(top_cur[mask].sum()), int(top_new[mask].sum())
        return {
            "group": name,
            "children": n,
            "flagged": {"current": fc, "new": fn},
            "flagged_rate": {"current": _rate(fc, n), "new": _rate(fn, n)},
            "top_band": {"current": tc, "new": tn},
            "top_band_rate": {"current": _rate(tc, n), "new": _rate(tn, n)},
        }

    everyone = np.ones(prep.C, dtype=bool)
    rates = [{"group": "全体", **rate(everyone)}]
    old_groups = ctx.groups()
    for name in ("ひとり親世帯（児童扶養手当）", "障害者手帳等のある世帯"):
        mask = old_groups[name]
        rates.append({"group": name, **rate(mask)})
        rates.append({"group": name.split("（")[0] + "以外", **rate(~mask)})
    for school in sorted(df["school"].unique()):
        rates.append({"group": f"学校・園: {school}", **rate(df["school"].to_numpy() == school)})
    fair = model.data.get("fairness") or {"max_ratio": 3.0, "min_group": 10}
    groups: dict[str, list[dict]] = {}
    ratios: dict[str, dict[str, dict]] = {}
    warnings: list[dict] = []
    for kind, members in ctx.group_kinds().items():
        rows = [counts(mask, name) for name, mask in members.items() if mask.any()]
        groups[kind] = rows
        ratios[kind] = {}
        for key, what in (("top_band", f"{labels[0]}の帯"), ("flagged", "抽出")):
            cur = _ratio(rows, key, "current", fair["min_group"])
            new = _ratio(rows, key, "new", fair["min_group"])
            ratios[kind][key] = {"current": cur, "new": new}
            if new and new["ratio"] > fair["max_ratio"]:
                hi = next(r for r in rows if r["group"] == new["high"])
                lo = next(r for r in rows if r["group"] == new["low"])
                warnings.append(
                    {
                        "group_kind": kind,
                        "measure": key,
                        "ratio": new["ratio"],
                        "high": new["high"],
                        "low": new["low"],
                        "text": (
                            f"{GROUP_KINDS[kind]}：{what}の率が「{new['high']}」{hi[key + '_rate']['new']}% と"
                            f"「{new['low']}」{lo[key + '_rate']['new']}% で {new['ratio']:g} 倍"
                            + (f"（現行 {cur['ratio']:g} 倍）" if cur else "")
                            + f"（警告のしきい値 {fair['max_ratio']:g} 倍）"
                        ),
                    }
                )
    n = prep.C
    fc, fn, tc, tn = (int(s_cur.flagged.sum()), int(s_new.flagged.sum()), int(top_cur.sum()), int(top_new.sum()))
    return {
        "as_of": ctx.as_of.isoformat(),
        "children": n,
        "current_version": current_version,
        "top_band_label": labels[0],
        "flagged": {"current": fc, "new": fn},
        "flagged_rate": {"current": _rate(fc, n), "new": _rate(fn, n)},
        "top_band": {"current": tc, "new": tn},
        "top_band_rate": {"current": _rate(tc, n), "new": _rate(tn, n)},
        "new_candidates": {"current": int(s_cur.new_candidate.sum()), "new": int(s_new.new_candidate.sum())},
        "bands": {
            "current": {b: int((df["band_cur"] == b).sum()) for b in s_cur.model.band_labels},
            "new": {b: int((df["band_new"] == b).sum()) for b in labels},
        },
        "moved": {
            "newly_flagged": int((s_new.flagged & ~s_cur.flagged).sum()),
            "no_longer_flagged": int((~s_new.flagged & s_cur.flagged).sum()),
        },
        "groups": groups,
        "ratios": ratios,
        "warnings": warnings,
        "fairness": {"max_ratio": fair["max_ratio"], "min_group": fair["min_group"]},
        "proxy_guard_off": dict((model.data.get("proxy_guard") or {}).get("off") or {}),
        "by_school_age": table,
        "flag_rates": rates,
        "changes": changes or [],
        "caveat": CAVEAT,
    }


def preview_summary(pv: dict) -> dict:
    """What is kept with an adopted version (and printed in the self-inspection): counts, rates, ratios, warnings —
    aggregates only, no child."""
    keep = (
        "as_of",
        "children",
        "current_version",
        "top_band_label",
        "flagged",
        "flagged_rate",
        "top_band",
        "top_band_rate",
        "groups",
        "ratios",
        "warnings",
        "fairness",
        "proxy_guard_off",
        "changes",
    )
    return json.loads(json.dumps({k: pv.get(k) for k in keep}, ensure_ascii=False, default=str))
