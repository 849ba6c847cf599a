"""Review rounds and the screen's own evaluation: round create / round classify, evaluate."""

from __future__ import annotations

from pathlib import Path

from . import Parser, out
from . import open_workspace as _open


def cmd_round(args):
    from ..core.casework import service as CW
    from ..core.scoring.evaluation import round_summary

    with _open(args) as ws:
        if args.round_cmd == "create":
            rid = CW.create_round(ws, args.label, yotaikyo_rule=args.yotaikyo, top=args.top)
            s = round_summary(ws, rid)
            out(
                {"round_id": rid, "candidates": s["candidates"], "as_of": s["as_of"], "score_run_id": s["score_run_id"]}
            )
        else:
            CW.classify(ws, int(args.round), args.person, args.label, args.reason)
            out({"round_id": int(args.round), "person_id": args.person, "label": args.label, "classified": True})


def cmd_evaluate(args):
    from ..core.scoring.evaluation import evaluate

    with _open(args) as ws:
        out(
            evaluate(
                ws,
                Path(args.out),
                misses_out=Path(args.misses) if args.misses else None,
                draft_file=Path(args.weights) if args.weights else None,
                suggest_out=Path(args.suggest) if args.suggest else None,
            )
        )


def register(cmd, sub) -> None:
    sp = cmd("round", cmd_round, "review rounds from the current scores: create, classify", db=False)
    rsub = sp.add_subparsers(dest="round_cmd", required=True, parser_class=Parser)
    r = rsub.add_parser("create", help="a review round from the current scores")
    r.add_argument("--db", required=True)
    r.add_argument("--label", required=True, help="the round's name")
    r.add_argument("--top", type=int, help="the N highest-priority children (band, then total)")
    r.add_argument("--yotaikyo", choices=["exclude", "lower", "continue"], default="continue")
    r = rsub.add_parser("classify", help="one classification with its reason")
    r.add_argument("--db", required=True)
    r.add_argument("--round", required=True, type=int)
    r.add_argument("--person", required=True)
    r.add_argument("--label", required=True)
    r.add_argument("--reason", required=True)
    sp.set_defaults(func=cmd_round)
    sp = cmd("evaluate", cmd_evaluate, "the screen's own evaluation over the review rounds")
    sp.add_argument("--out", required=True)
    sp.add_argument("--misses")
    sp.add_argument("--weights", help="a draft weight set to back-test on the past rounds")
    sp.add_argument("--suggest", help="write the suggested weights (a file to preview and adopt; never applied)")
