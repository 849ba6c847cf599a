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
        else:
            ids = [p.strip() for p in args.persons.split(",") if p.strip()]
            out(R.conference_pdf(ws, ids, Path(args.out)))


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
    sp.set_defaults(func=cmd_report)
