"""Observation checklists."""

from __future__ import annotations

import os
from pathlib import Path

from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_checklist(args):
    from ..core.checklists import service as C

    with _open(args) as ws:
        if args.checklist_cmd == "template":
            out(
                C.write_template(
                    ws,
                    args.school,
                    Path(args.out),
                    round_name=args.round,
                    password=os.environ.get("KODOMO_FILE_PASSWORD") or None,
                )
            )
        elif args.checklist_cmd == "sync":
            from ..core.checklists import sync

            out(sync.sync(ws, args.school))
        else:
            out(C.status(ws))


def register(cmd, sub) -> None:
    sp = cmd("checklist", cmd_checklist, "observation checklists", db=False)
    csub = sp.add_subparsers(dest="checklist_cmd", required=True, parser_class=Parser)
    c = csub.add_parser("template")
    c.add_argument("--db", required=True)
    c.add_argument("--school", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--round")
    c = csub.add_parser("status")
    c.add_argument("--db", required=True)
    c = csub.add_parser("sync", help="read the schools' own workspaces back and fill them again")
    c.add_argument("--db", required=True)
    c.add_argument("--school", help="one school (default: every school with a workspace)")
    sp.set_defaults(func=cmd_checklist)
