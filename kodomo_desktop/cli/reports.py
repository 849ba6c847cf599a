"""Report commands: the PDF documents."""

from __future__ import annotations

from pathlib import Path

from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_report(args):
    from ..core.reports import service as R

    with _open(args) as ws:
        if args.kind == "assessment":
            out(R.assessment_pdf(ws, args.person, Path(args.out)))
        elif args.kind == "school":
            out(R.school_sheet_pdf(ws, args.school, Path(args.out)))
        elif args.kind == "handover":
            out(R.handover_pdf(ws, args.person, Path(args.out), args.handover_kind))
        elif args.kind == "round-stats":
            out(R.round_stats_pdf(ws, args.round, Path(args.out)))
        elif args.kind == "intake":
            out(R.intake_pdf(ws, args.person, Path(args.out)))
        elif args.kind == "no-school":
            out(R.no_school_sheet_pdf(ws, Path(args.out), person_ids=_ids(args.persons), contact=args.contact))
        else:
            ids = [p.strip() for p in args.persons.split(",") if p.strip()]
            out(R.conference_pdf(ws, ids, Path(args.out)))


def _ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def register(cmd, sub) -> None:
    sp = cmd("report", cmd_report, "PDF documents", db=False)
    rsub = sp.add_subparsers(dest="kind", required=True, parser_class=Parser)
    r = rsub.add_parser("assessment")
    r.add_argument("--db", required=True)
    r.add_argument("--person", required=True)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("conference")
    r.add_argument("--db", required=True)
    r.add_argument("--persons", required=True)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("school")
    r.add_argument("--db", required=True)
    r.add_argument("--school", required=True)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("handover")
    r.add_argument("--db", required=True)
    r.add_argument("--person", required=True)
    r.add_argument("--kind", dest="handover_kind", required=True, choices=["進学", "転校", "担任交代", "転出"])
    r.add_argument("--out", required=True)
    r = rsub.add_parser("round-stats")
    r.add_argument("--db", required=True)
    r.add_argument("--round", required=True, type=int)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("intake", help="受理会議録")
    r.add_argument("--db", required=True)
    r.add_argument("--person", required=True)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("no-school", help="学校・園のないこどもの情報収集シート")
    r.add_argument("--db", required=True)
    r.add_argument("--contact", choices=["nursery", "public_health_nurse", "family_contact"])
    r.add_argument("--persons")
    r.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_report)
