"""The screen's own evaluation over the review rounds: does what it flags turn out to need support?

For every review round (its scoring run, its classifications) and every indicator:

* ``with_item`` — children in the run with the item (a reason or a protective factor of that indicator);
* ``flagged`` — of those, flagged by the run;
* ``reviewed`` — of those, classified in the round;
* ``confirmed`` — of those, confirmed in casework: classified 受理相当 (the round's first label, ``a`` by default)
  or a support case opened on or after the round's as-of date (and before the next round's);
* ``confirmed_share`` — confirmed / with_item.

Rows with ``round_id`` = ``all`` add the rounds up (a child counts once per round). **Misses** are the children
confirmed in casework whom the screen never flagged in any round's run. Counts below :data:`SMALL` carry a
caution: with a handful of children a share says little.

**Back-test** (``draft``): each round's children re-scored on the round's as-of date with a draft weight set
(in memory — a trial never becomes a run), and how many of the round's confirmed children it would have flagged
(``confirmed_captured_share``), at what volume (``flagged``), beside the weights the round actually used.

**Suggested weights** — simple likelihood ratios with a Bayesian prior (docs/SCORING_EVALUATION.md says why):
for each risk indicator, LR = P(item | confirmed) / P(item | not confirmed), each proportion shrunk towards the
item's overall prevalence by :data:`PRIOR_CHILDREN` children (so an item nobody confirmed has LR ≈ 1, not a
large ratio from a tiny denominator), read in *points* as 2 × log2 LR (one doubling of the odds = 2 points, the scale of the
shipped weights). The town's current points are the prior (normal on that scale, sd :data:`PRIOR_SD` points), the
town's outcomes the likelihood (normal, its variance by the delta method); the suggestion is the
precision-weighted mean with a 90 % interval. A sparse indicator therefore stays near its current points. The
suggestion is a weights file a person previews and adopts (``weights preview`` / ``weights import --adopt``); it
is never applied here. It inherits the screen's selection — children the screen never flagged are rarely
reviewed — so it can only refine, not validate, the screen.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from .. import outputs
from ..casework.service import DEFAULT_LABELS
from ..errors import InputRefused, NotFound
from ..services import service
from ..storage.models import ChildScore, ReviewRound, RoundCandidate, SupportCase
from .catalogue import load_catalogue
from .explain import ScoreDetails
from .service import ScoringContext, active_weights, read_weights_file

if TYPE_CHECKING:
    from ..workspace import Workspace

SMALL = 5
PRIOR_SD = 2.0  # points
PRIOR_CHILDREN = 2.0  # the proportions' prior: as many children as this, at the item's overall prevalence
Z90 = 1.645
CAUTION = "該当が{n}人と少ないため、割合は参考値です。"
EVAL_COLUMNS = [
    "round_id",
    "indicator",
    "with_item",
    "flagged",
    "reviewed",
    "confirmed",
    "confirmed_share",
    "label",
    "caution",
]
MISS_COLUMNS = ["person_id", "round_id", "label"]


def _confirm_keys(labels: list[dict]) -> set[str]:
    """The labels that count as confirmed: 受理相当 (by name), else the first label."""
    keys = {str(lab.get("key")) for lab in labels or [] if "受理相当" in str(lab.get("label", ""))}
    return keys or ({str(labels[0]["key"])} if labels else {"a"})


def rounds_data(ws: Workspace) -> list[dict]:
    """Each round: its run's children (flags, item sets), classifications and the confirmed children."""
    out = []
    with ws.session() as s:
        rounds = list(s.scalars(select(ReviewRound).order_by(ReviewRound.as_of, ReviewRound.id)))
        cases = [(c.person_id, c.opened_on) for c in s.scalars(select(SupportCase))]
        for n, r in enumerate(rounds):
            nxt = next((x.as_of for x in rounds[n + 1 :] if x.as_of > r.as_of), None)
            labels = r.labels or DEFAULT_LABELS
            ok = _confirm_keys(labels)
            label_text = {str(lab["key"]): lab["label"] for lab in labels}
            cls = {
                c.person_id: c.classification
                for c in s.scalars(select(RoundCandidate).where(RoundCandidate.round_id == r.id))
                if c.classification
            }
            candidates = set(s.scalars(select(RoundCandidate.person_id).where(RoundCandidate.round_id == r.id)))
            supported = {p for p, d in cases if d is not None and d >= r.as_of and (nxt is None or d < nxt)}
            confirmed = {p: label_text.get(k, k) for p, k in cls.items() if k in ok}
            for p in supported:
                confirmed.setdefault(p, "支援開始")
            children: set[str] = set()
            flagged: set[str] = set()
            items: dict[str, set[str]] = {}
            for cs in s.scalars(select(ChildScore).where(ChildScore.run_id == r.score_run_id)):
                d = ScoreDetails.from_dict(cs.details)
                children.add(cs.person_id)
                if cs.flagged:
                    flagged.add(cs.person_id)
                for x in d.reasons + d.protective:
                    items.setdefault(x.indicator, set()).add(cs.person_id)
            out.append(
                {
                    "round_id": r.id,
                    "name": r.name,
                    "as_of": r.as_of,
                    "score_run_id": r.score_run_id,
                    "children": children,
                    "flagged": flagged,
                    "candidates": candidates,
                    "reviewed": set(cls),
                    "confirmed": {p: v for p, v in confirmed.items() if p in children},
                    "items": items,
                }
            )
    return out


def _row(rid, iid, label, with_, flagged, reviewed, confirmed) -> dict:
    n = len(with_)
    c = len(with_ & confirmed)
    return {
        "round_id": rid,
        "indicator": iid,
        "with_item": n,
        "flagged": len(with_ & flagged),
        "reviewed": len(with_ & reviewed),
        "confirmed": c,
        "confirmed_share": round(c / n, 3) if n else None,
        "label": label,
        "caution": CAUTION.format(n=n) if 0 < n < SMALL else "",
    }


@service("score.read", what="evaluate")
def evaluation(ws: Workspace, *, draft: dict | Path | None = None) -> dict:
    """The evaluation in memory: ``rows`` (per round and indicator, then ``all``), ``misses``, ``summary`` (with
    ``backtest`` when ``draft`` is given and ``suggested``), ``suggested_weights`` (a weights dict). Nothing saved."""
    ws.require("person.read", what="evaluate")
    if draft is not None:
        ws.require("weights.edit", what="back-test")
    rounds = rounds_data(ws)
    if not rounds:
        raise InputRefused("評価できる振り返りラウンドがありません。先に round create で候補を作り、分類してください。")
    cat = load_catalogue()
    labels = {i["id"]: i["label_ja"] for i in cat["indicators"]}
    labels["sibling_flagged"] = "きょうだいに抽出あり"
    ids = [i["id"] for i in cat["indicators"]] + ["sibling_flagged"]
    rows: list[dict] = []
    totals: dict[str, list[int]] = {}
    for r in rounds:
        conf = set(r["confirmed"])
        for iid in ids:
            w = r["items"].get(iid, set())
            rows.append(_row(r["round_id"], iid, labels[iid], w, r["flagged"], r["reviewed"], conf))
            t = totals.setdefault(iid, [0, 0, 0, 0])
            t[0] += len(w)
            t[1] += len(w & r["flagged"])
            t[2] += len(w & r["reviewed"])
            t[3] += len(w & conf)
    for iid in ids:
        n, f, rv, c = totals[iid]
        rows.append(
            {
                "round_id": "all",
                "indicator": iid,
                "with_item": n,
                "flagged": f,
                "reviewed": rv,
                "confirmed": c,
                "confirmed_share": round(c / n, 3) if n else None,
                "label": labels[iid],
                "caution": CAUTION.format(n=n) if 0 < n < SMALL else "",
            }
        )
    ever_flagged = set().union(*(r["flagged"] for r in rounds))
    miss = []
    seen = set()
    for r in rounds:
        for p, lab in sorted(r["confirmed"].items()):
            if p not in ever_flagged and p not in seen:
                seen.add(p)
                miss.append({"person_id": p, "round_id": r["round_id"], "label": lab})
    confirmed_all = sum(len(r["confirmed"]) for r in rounds)
    flagged_conf = sum(len(set(r["confirmed"]) & r["flagged"]) for r in rounds)
    summary: dict[str, object] = {
        "rounds": len(rounds),
        "rows": len(rows),
        "flagged": sum(len(r["flagged"]) for r in rounds),
        "reviewed": sum(len(r["reviewed"]) for r in rounds),
        "confirmed": confirmed_all,
        "confirmed_flagged": flagged_conf,
        "confirmed_captured_share": round(flagged_conf / confirmed_all, 3) if confirmed_all else None,
        "misses": len(miss),
        "caution": (
            f"確認された（受理相当・支援開始）こどもは {confirmed_all} 人です。"
            + ("人数が少ないため、割合は参考値です。" if confirmed_all < 20 else "")
            + "抽出されなかったこどもはほとんど振り返られないため、見逃しは支援記録から分かる分だけです。"
        ),
    }
    if draft is not None:
        summary["backtest"] = backtest(ws, rounds, draft)
    sug = suggest_weights(ws, rounds)
    summary["suggested"] = sug["indicators"]
    ws.log("evaluated", detail={"rounds": len(rounds), "misses": len(miss), "backtest": draft is not None})
    return {"rows": rows, "misses": miss, "summary": summary, "suggested_weights": sug["weights"]}


def evaluate(
    ws: Workspace,
    out: Path,
    *,
    misses_out: Path | None = None,
    draft_file: Path | None = None,
    suggest_out: Path | None = None,
) -> dict:
    """CLI ``evaluate``: the evaluation CSV (and the misses CSV, a back-test of ``draft_file``, a suggested
    weights file to preview and adopt)."""

    ev = evaluation(ws, draft=draft_file)
    outputs.write_csv(Path(out), EVAL_COLUMNS, ([r[c] for c in EVAL_COLUMNS] for r in ev["rows"]))
    if misses_out:
        outputs.write_csv(Path(misses_out), MISS_COLUMNS, ([m[c] for c in MISS_COLUMNS] for m in ev["misses"]))
    summary = {"out": str(out), **ev["summary"], "misses_out": str(misses_out) if misses_out else None}
    if suggest_out:
        text = json.dumps(ev["suggested_weights"], ensure_ascii=False, indent=2) + "\n"
        outputs.write_bytes(Path(suggest_out), text.encode("utf-8"))
        summary["suggested_out"] = str(suggest_out)
    return summary


def backtest(ws: Workspace, rounds: list[dict], draft_file: dict | Path) -> dict:
    """Each round re-scored on its as-of date with the draft weights (a file or a weights dict; nothing kept)."""
    draft = draft_file if isinstance(draft_file, dict) else read_weights_file(draft_file)
    per, tot = [], {"confirmed": 0, "captured_actual": 0, "captured_draft": 0, "flagged_actual": 0, "flagged_draft": 0}
    contexts: dict = {}
    for r in rounds:
        if r["as_of"] not in contexts:
            contexts[r["as_of"]] = ScoringContext.load(ws, r["as_of"])
        ctx = contexts[r["as_of"]]
        _, sc, _ = ctx.score(draft)
        pids = ctx.prep.children["person_id"].to_numpy()
        flagged_draft = set(pids[sc.flagged])
        conf = set(r["confirmed"])
        row = {
            "round_id": r["round_id"],
            "as_of": r["as_of"].isoformat(),
            "confirmed": len(conf),
            "flagged_actual": len(r["flagged"]),
            "flagged_draft": len(flagged_draft),
            "captured_actual": len(conf & r["flagged"]),
            "captured_draft": len(conf & flagged_draft),
        }
        row["confirmed_captured_share_actual"] = round(row["captured_actual"] / len(conf), 3) if conf else None
        row["confirmed_captured_share"] = round(row["captured_draft"] / len(conf), 3) if conf else None
        per.append(row)
        for k in tot:
            tot[k] += row[k]
    c = tot["confirmed"]
    return {
        "weights": draft_file.get("name", "") if isinstance(draft_file, dict) else str(draft_file),
        "rounds": per,
        **tot,
        "confirmed_captured_share_actual": round(tot["captured_actual"] / c, 3) if c else None,
        "confirmed_captured_share": round(tot["captured_draft"] / c, 3) if c else None,
        "caution": "下書きの重みによる過去ラウンドの再計算です（保存されません）。"
        + ("確認された人数が少ないため参考値です。" if c < 20 else ""),
    }


def suggest_weights(ws: Workspace, rounds: list[dict]) -> dict:
    """Suggested points from the town's outcomes (module docstring): a suggestion, never applied."""
    cat = load_catalogue()
    current = active_weights(ws)["data"]
    weights = copy.deepcopy(current)
    weights.pop("name", None)
    weights["name"] = f"町の結果からの提案（{dt.date.today().isoformat()}）"
    weights["note"] = (
        "評価（evaluate）が町の振り返り結果から作った提案です。プレビューで確かめてから、理由を付けて採用してください。"
    )
    out = []
    for ind in cat["indicators"]:
        if ind["kind"] == "protective":
            continue
        iid = ind["id"]
        a = b = n1 = n0 = 0  # a: confirmed with item, b: not confirmed with item
        for r in rounds:
            conf = set(r["confirmed"])
            w = r["items"].get(iid, set())
            a += len(w & conf)
            b += len(w - conf)
            n1 += len(conf)
            n0 += len(r["children"] - conf)
        if not (a + b) or not n1:
            continue
        q = (a + b) / (n1 + n0)  # the item's prevalence: the proportions' prior mean (strength PRIOR_CHILDREN)
        p1 = (a + PRIOR_CHILDREN * q) / (n1 + PRIOR_CHILDREN)
        p0 = (b + PRIOR_CHILDREN * q) / (n0 + PRIOR_CHILDREN)
        obs = 2 * math.log2(p1 / p0)
        var = (2 / math.log(2)) ** 2 * (
            (1 - p1) / (p1 * (n1 + PRIOR_CHILDREN)) + (1 - p0) / (p0 * (n0 + PRIOR_CHILDREN))
        )
        pts = current["indicators"][iid].get("points") or {}
        prior = max(pts.values()) if pts else 0.0
        post_var = 1 / (1 / PRIOR_SD**2 + 1 / var)
        post = post_var * (prior / PRIOR_SD**2 + obs / var)
        sd = math.sqrt(post_var)
        sug = float(np.clip(round(post), 0, 50))
        out.append(
            {
                "indicator": iid,
                "label": ind["label_ja"],
                "current": prior,
                "suggested": sug,
                "low": round(max(0.0, post - Z90 * sd), 1),
                "high": round(post + Z90 * sd, 1),
                "likelihood_ratio": round(p1 / p0, 2),
                "with_item": a + b,
                "confirmed_with_item": a,
                "caution": CAUTION.format(n=a + b) if a + b < SMALL else "",
            }
        )
        if prior > 0 and sug != prior:
            scale = sug / prior
            weights["indicators"][iid]["points"] = {t: round(p * scale, 1) for t, p in pts.items()}
    return {"indicators": out, "weights": weights}


def round_summary(ws: Workspace, round_id: int) -> dict:
    with ws.session() as s:
        r = s.get(ReviewRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        n = s.scalar(select(func.count()).where(RoundCandidate.round_id == round_id))
        return {
            "round_id": r.id,
            "candidates": int(n or 0),
            "as_of": r.as_of.isoformat(),
            "score_run_id": r.score_run_id,
        }
