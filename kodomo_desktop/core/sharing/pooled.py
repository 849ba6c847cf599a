"""Pooled statistics: pool figures, not people (seed 000/003 — the state will not build a central child database).

One file per review round: per indicator, how many children in scope had the item, how many of them the screen
flagged, and how many were confirmed (classified 受理相当 — the round's first label — or had a support case opened
on or after the round's date). No person rows, no names; a count below ``min_cell`` (default 5) is suppressed
(left empty, ``suppressed`` = 1) so that a small town's figure cannot point at a family. A prefecture adds the files
of many towns up with ``docs/pooled_stats.py`` (DuckDB).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..errors import NotFound
from ..outputs import write_csv
from ..services import service
from ..storage.models import ChildScore, ReviewRound, RoundCandidate, Setting, SupportCase

if TYPE_CHECKING:
    from ..workspace import Workspace

COLUMNS = [
    "town",
    "round",
    "round_month",
    "indicator",
    "label",
    "in_scope",
    "with_item",
    "flagged",
    "confirmed",
    "suppressed",
]


def _confirmed_label(r: ReviewRound) -> str:
    labels = r.labels or []
    if labels and isinstance(labels[0], dict):
        return str(labels[0].get("code") or labels[0].get("label") or "a")
    return str(labels[0]) if labels else "a"


@service("score.read", what="pooled statistics")
def round_statistics(ws: Workspace, round_id: int, *, min_cell: int = 5) -> list[dict]:
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        town_row = s.get(Setting, "town_name")
        town = town_row.value if town_row else None
        if isinstance(town, dict):
            town = town.get("name")
        scores = (
            list(s.scalars(select(ChildScore).where(ChildScore.run_id == r.score_run_id))) if r.score_run_id else []
        )
        conf_label = _confirmed_label(r)
        classified = {
            c.person_id: c.classification
            for c in s.scalars(select(RoundCandidate).where(RoundCandidate.round_id == round_id))
        }
        supported = set(s.scalars(select(SupportCase.person_id).where(SupportCase.opened_on >= r.as_of)))
        with_item: dict[str, set] = defaultdict(set)
        labels: dict[str, str] = {}
        for c in scores:
            for reason in (c.details or {}).get("reasons") or []:
                if isinstance(reason, dict) and reason.get("indicator"):
                    with_item[reason["indicator"]].add(c.person_id)
                    labels.setdefault(reason["indicator"], reason.get("label") or reason["indicator"])
        flagged = {c.person_id for c in scores if c.flagged}
        confirmed = {p for p, lab in classified.items() if lab == conf_label} | (
            supported & {c.person_id for c in scores}
        )
        in_scope = len(scores)
        rows = []
        for ind in sorted(with_item):
            members = with_item[ind]
            counts = {
                "with_item": len(members),
                "flagged": len(members & flagged),
                "confirmed": len(members & confirmed),
            }
            small = any(0 < v < min_cell for v in counts.values())
            rows.append(
                {
                    "town": town or "",
                    "round": r.name,
                    "round_month": f"{r.as_of:%Y-%m}",
                    "indicator": ind,
                    "label": labels[ind],
                    "in_scope": in_scope,
                    **{k: (None if 0 < v < min_cell else v) for k, v in counts.items()},
                    "suppressed": int(small),
                }
            )
        ws.log("export", detail={"what": "pooled_statistics", "round_id": round_id, "indicators": len(rows)}, conn=s)
    return rows


def write_round_statistics(ws: Workspace, round_id: int, out: Path, *, min_cell: int = 5) -> dict:
    rows = round_statistics(ws, round_id, min_cell=min_cell)
    write_csv(out, COLUMNS, ([r[c] for c in COLUMNS] for r in rows))
    return {
        "out": str(out),
        "round_id": round_id,
        "indicators": len(rows),
        "suppressed": sum(r["suppressed"] for r in rows),
        "min_cell": min_cell,
    }
