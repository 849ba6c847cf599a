"""The prioritised list of a score run in SQL (issue 21: the scoring page at 200,000 persons).

A run's list order and its filters are columns of ``child_score`` (migration 0007): ``position`` (1 = first: the
highest band of any type, then the total, then the basic items, then the id — the one band rule), ``band_level``,
``school``, ``age_band``, ``newly_flagged``, ``yotaikyo``; ``types`` (the types crossed, 「、」-joined), ``band`` and
``flagged`` were columns already. :func:`list_keys` fills them when a run is written (``run_scoring``); a run
written without them (an older writer) is filled the first time it is listed.

* :func:`score_count` — how many children of a run match the filters; the list view is logged here, once, with the
  count (never a name, never the search text).
* :func:`score_page` — one page of matching rows in list order (or by name, age, total, school), each the dict
  ``latest_scores`` returns, with ``position`` (the place in the whole run's list).
* :func:`score_schools` — the schools of a run, for the page's filter.

Every call is a ``@service("score.read")``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from ..calendar import to_date
from ..i18n import Message, msg
from ..services import service
from ..storage.models import ScoreRun
from ..text.search import person_terms_sql, search_terms
from .explain import ScoreDetails

if TYPE_CHECKING:
    from ..workspace import Workspace

#: the filters of :func:`score_count` / :func:`score_page` (keyword arguments)
FILTERS = ("school", "age_band", "type_", "band", "new", "yotaikyo", "unreviewed", "flagged_only", "query")

#: the orders :func:`score_page` knows: key → ORDER BY (ascending; ``descending`` flips every key)
SCORE_ORDERS = {
    "position": ("cs.position",),
    "name": ("(p.kana_norm IS NULL OR p.kana_norm = '')", "p.kana_norm", "p.name_norm", "cs.position"),
    "age": ("p.birth_date DESC", "cs.position"),  # ascending age: the youngest first
    "school": ("(cs.school IS NULL OR cs.school = '')", "cs.school", "cs.position"),
    "total": ("cs.total DESC", "cs.position"),
    "basic_items": ("cs.basic_items DESC", "cs.position"),
}


#: the run's children from the persons' covering index (birth date, kana, name, 宛名番号, sex, id: migration 0006),
#: each probing the run's scores by primary key — a search or a sort by name or age reads index entries only
_BY_PERSON = "person p INDEXED BY ix_person_child_list CROSS JOIN child_score cs ON cs.person_id = p.id"
#: the run's scores from the list's covering index, each probing the person's sort keys by id (migration 0009): a
#: sort by name or age over a filtered run reads index entries only
_BY_SCORE = (
    "child_score cs INDEXED BY ix_child_score_list_keys CROSS JOIN person p INDEXED BY ix_person_sort_keys "
    "ON p.id = cs.person_id"
)


def list_keys(details: Any) -> dict:
    """The list columns of one ``child_score`` row from its details (a dict or JSON text)."""
    d = _as_dict(details)
    h = d.get("history")
    history: dict = h if isinstance(h, dict) else {}
    return {
        "band_level": int(d.get("band_level") or 0),
        "school": str(d.get("school") or ""),
        "age_band": str(d.get("age_band") or ""),
        "newly_flagged": bool(d.get("newly_flagged", history.get("newly_flagged", False))),
        "yotaikyo": bool(d.get("yotaikyo_active")),
    }


def fill_list_keys(rows: list[dict]) -> None:
    """``run_scoring``'s rows (dicts with ``person_id``, ``total``, ``basic_items``, ``details``): add the list
    columns and each row's ``position`` in the run's list."""
    for r in rows:
        r.update(list_keys(r["details"]))
    order = sorted(
        range(len(rows)),
        key=lambda i: (
            -rows[i]["band_level"],
            -float(rows[i]["total"] or 0),
            -int(rows[i]["basic_items"] or 0),
            str(rows[i]["person_id"]),
        ),
    )
    for n, i in enumerate(order):
        rows[i]["position"] = n + 1


def _ensure_keys(s, run_id: int) -> None:
    """Fill the list columns of a run written without them (one index probe when they are there)."""
    if (
        s.execute(
            text("SELECT 1 FROM child_score WHERE run_id = :r AND position IS NULL LIMIT 1"), {"r": run_id}
        ).first()
        is None
    ):
        return
    rows = [
        {"person_id": p, "total": t, "basic_items": b, "details": d}
        for p, t, b, d in s.execute(
            text("SELECT person_id, total, basic_items, details FROM child_score WHERE run_id = :r"), {"r": run_id}
        )
    ]
    fill_list_keys(rows)
    s.execute(
        text(
            "UPDATE child_score SET position = :position, band_level = :band_level, school = :school, "
            "age_band = :age_band, newly_flagged = :newly_flagged, yotaikyo = :yotaikyo "
            "WHERE run_id = :run_id AND person_id = :person_id"
        ),
        [
            {k: r[k] for k in ("position", "band_level", "school", "age_band", "newly_flagged", "yotaikyo")}
            | {"run_id": run_id, "person_id": r["person_id"]}
            for r in rows
        ],
    )


def _born_after(s, run_id: int, filters: dict) -> str | None:
    """For a search: a birth date before every child of the run (its as-of date less 20 years: 0–18 only)."""
    if not search_terms(filters.get("query")):
        return None
    as_of = _date(s.execute(text("SELECT as_of FROM score_run WHERE id = :r"), {"r": run_id}).scalar())
    return f"{as_of.year - 20:04d}-01-01" if as_of else "0000-01-01"


def _run(s, run_id: int | None) -> int | None:
    if run_id is None:
        run_id = s.execute(text("SELECT id FROM score_run ORDER BY id DESC LIMIT 1")).scalar()
    elif s.get(ScoreRun, run_id) is None:
        return None
    if run_id is not None:
        _ensure_keys(s, int(run_id))
    return run_id


def _where(
    run_id: int,
    *,
    school: str | None = None,
    age_band: str | None = None,
    type_: str | None = None,
    band: str | None = None,
    new: bool | None = None,
    yotaikyo: bool | None = None,
    unreviewed: bool | None = None,
    flagged_only: bool = False,
    query: str | None = None,
    born_after: str | None = None,
) -> tuple[str, dict[str, Any], bool]:
    """(WHERE, params, needs the person join). ``school=""``: children with no school or nursery."""
    conds: list[str] = ["cs.run_id = :run"]
    params: dict[str, Any] = {"run": run_id}
    if school is not None:
        conds.append("coalesce(cs.school, '') = :school")
        params["school"] = school
    if age_band:
        conds.append("cs.age_band = :age_band")
        params["age_band"] = age_band
    if type_:
        conds.append("instr('、' || coalesce(cs.types, '') || '、', :type_) > 0")
        params["type_"] = f"、{type_}、"
    if band:
        conds.append("cs.band = :band")
        params["band"] = band
    if new is not None:
        conds.append("coalesce(cs.newly_flagged, 0) = :new")
        params["new"] = int(bool(new))
    if yotaikyo is not None:
        conds.append("coalesce(cs.yotaikyo, 0) = :yotaikyo")
        params["yotaikyo"] = int(bool(yotaikyo))
    reviewed = (
        "EXISTS (SELECT 1 FROM round_candidate rc WHERE rc.person_id = cs.person_id AND rc.classification IS NOT NULL)"
    )
    if unreviewed is not None:
        cond = f"(cs.flagged AND NOT {reviewed})"
        conds.append(cond if unreviewed else f"NOT {cond}")
    if flagged_only:
        conds.append("cs.flagged")
    join = False
    if query and query.strip():
        terms = search_terms(query)  # the child list's search, same semantics
        if terms:
            conds.append(person_terms_sql(terms, params, "p"))
            join = True
    if join:  # the persons' covering index by birth date: only children are in a run (a superset of the range)
        conds.append("p.birth_date > :born_after")
        params["born_after"] = born_after or "0000-01-01"
    return " AND ".join(conds), params, join


@service("score.read", what="scores")
def score_count(ws: Workspace, run_id: int | None = None, *, log: bool = True, **filters) -> int:
    """How many children of the run (the latest by default) match the filters (:data:`FILTERS`). Logged once per
    list view as ``view_list`` ``prioritised`` with the run and the count."""
    with ws.session() as s:
        run_id = _run(s, run_id)
        if run_id is None:
            n = 0
        else:
            where, params, join = _where(run_id, born_after=_born_after(s, run_id, filters), **filters)
            frm = _BY_PERSON if join else "child_score cs"
            n = int(s.execute(text(f"SELECT count(*) FROM {frm} WHERE {where}"), params).scalar() or 0)
    if log and run_id is not None:
        ws.log("view_list", detail={"list": "prioritised", "run_id": run_id, "rows": n})
    return n


@service("score.read", what="scores")
def score_page(
    ws: Workspace,
    limit: int | None = None,
    offset: int = 0,
    order: str = "position",
    descending: bool = False,
    *,
    run_id: int | None = None,
    **filters,
) -> list[dict]:
    """One page of the run's prioritised list (the latest run by default) matching the filters, ordered in SQL
    (:data:`SCORE_ORDERS`); ``limit=None``: every matching row. Not logged (:func:`score_count` logs the view)."""
    with ws.session() as s:
        run_id = _run(s, run_id)
        if run_id is None:
            return []
        keys = SCORE_ORDERS.get(order, SCORE_ORDERS["position"])
        if descending:
            keys = tuple(k[:-5] if k.endswith(" DESC") else k + " DESC" for k in keys)
        by_name_or_age = any(k.startswith(("p.", "(p.")) for k in keys)
        where, params, join = _where(run_id, born_after=_born_after(s, run_id, filters), **filters)
        # 1. the page's ids from the indexes only: the list keys (ix_child_score_list_keys) and, to search or order
        #    by name or age, the persons' (ix_person_child_list) — CROSS JOIN keeps the person side first
        frm = _BY_PERSON if join else _BY_SCORE if by_name_or_age else "child_score cs"
        sql = f"SELECT cs.person_id FROM {frm} WHERE {where} ORDER BY {', '.join(keys)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        ids = [p for (p,) in s.execute(text(sql), params)]
        # 2. the rows of just those children, details and all
        rows: dict[str, tuple] = {}
        for k in range(0, len(ids), 500):
            chunk = ids[k : k + 500]
            q = {f"p{i}": p for i, p in enumerate(chunk)} | {"run": run_id}
            for r in s.execute(
                text(
                    "SELECT cs.person_id, cs.total, cs.band, cs.types, cs.flagged, cs.basic_items, cs.school_points, "
                    "cs.details, cs.position, p.name, p.name_kana, p.birth_date "
                    "FROM child_score cs JOIN person p ON p.id = cs.person_id WHERE cs.run_id = :run AND cs.person_id "
                    "IN (" + ",".join(f":p{i}" for i in range(len(chunk))) + ")"
                ),
                q,
            ):
                rows[r[0]] = tuple(r)
        got = [rows[p] for p in ids if p in rows]
        reviewed = _reviewed(s, ids)
    out = []
    for pid, total, band, types, flagged, basic, school_points, details, position, name, kana, birth in got:
        d = _as_dict(details)
        sd = ScoreDetails.from_dict(d)
        out.append(
            {
                "run_id": run_id,
                "person_id": pid,
                "position": position,
                "name": name or "",
                "name_kana": kana or "",
                "birth_date": _date(birth),
                "age": d.get("age"),
                "age_band": d.get("age_band", ""),
                "school": d.get("school", ""),
                "total": total,
                "band": band or "",
                "band_color": d.get("band_color"),
                "types": list(d.get("flagged_types") or []),
                "types_text": types or "",
                "flagged": bool(flagged),
                "basic_items": basic or 0,
                "school_points": school_points or 0.0,
                "other_points": d.get("other_points", 0.0),
                "yotaikyo": bool(d.get("yotaikyo_active")),
                "status_label": d.get("status_label", ""),
                "new": bool(d.get("newly_flagged")),
                "new_candidate": bool(d.get("new_candidate")),
                "sharp_rise": bool((d.get("history") or {}).get("sharp_rise")),
                "streak": int((d.get("history") or {}).get("flagged_streak") or 0),
                "no_data": [x.get("label") if isinstance(x, dict) else str(x) for x in d.get("no_data") or []],
                "reviewed": pid in reviewed,
                "band_level": sd.band_level,
                "band_text": band_text(sd),
                "own_points": sd.own_points,
                "household_points": sd.household_points,
                "pending": sd.pending_lines,
                "implausible": len(sd.implausible),
                "guard_off": dict(sd.guard_off),
                "details": d,
            }
        )
    return out


def band_text(d: ScoreDetails) -> Message:
    """The band with the type and points that set it — 「高（虐待 7点）」 — so a band never sits beside a total it
    was not decided by (the band is per difficulty type; the total adds every type), and a band held below the top
    by the proxy guard is marked as such."""
    if not d.band:
        return msg("")
    top = [(t, v) for t, v in d.types.items() if v.band == d.band]
    if not top or d.band_level == 0:
        return msg(d.band)
    t, v = max(top, key=lambda tv: tv[1].points)
    # a type held below the top band by the proxy guard says so: 「中（虐待 7点・世帯の状況のみ）」
    template = "{band}（{type} {points}点・世帯の状況のみ）" if v.guard_capped else "{band}（{type} {points}点）"
    return msg(template, band=msg(d.band), type=msg(t), points=f"{v.points:g}")


@service("score.read", what="scores")
def score_schools(ws: Workspace, run_id: int | None = None) -> list[str]:
    """The schools and nurseries of the run's children ("" for none), for the page's filter."""
    with ws.session() as s:
        run_id = _run(s, run_id)
        if run_id is None:
            return []
        got = s.execute(text("SELECT DISTINCT coalesce(school, '') FROM child_score WHERE run_id = :r"), {"r": run_id})
        return sorted(v for (v,) in got)


def _reviewed(s, ids: list[str]) -> set[str]:
    """Those of ``ids`` classified in a review round."""
    out: set[str] = set()
    for k in range(0, len(ids), 500):
        chunk = ids[k : k + 500]
        params = {f"p{i}": p for i, p in enumerate(chunk)}
        out |= {
            p
            for (p,) in s.execute(
                text(
                    "SELECT DISTINCT person_id FROM round_candidate WHERE classification IS NOT NULL AND person_id IN ("
                    + ",".join(f":p{i}" for i in range(len(chunk)))
                    + ")"
                ),
                params,
            )
        }
    return out


def _as_dict(v: Any) -> dict:
    if isinstance(v, str) and v:
        try:
            v = json.loads(v)
        except ValueError:
            return {}
    return v if isinstance(v, dict) else {}


def _date(v):
    return to_date(v)
