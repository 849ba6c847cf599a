"""The auditor's workspace: ``audit sync`` (the coordinator brings the auditor's copy of the log and the registers up
to date now; core/auditspace.py)."""

from __future__ import annotations

from . import Parser, out
from . import open_workspace as _open


def cmd_audit(args):
    from ..core import auditspace

    with _open(args) as ws:
        out(auditspace.bring_up_to_date(ws))


def register(cmd, sub) -> None:
    sp = sub.add_parser(
        "audit", help="the auditor's workspace: sync (bring its copy of the log and registers up to date)"
    )
    asub = sp.add_subparsers(dest="audit_cmd", required=True, parser_class=Parser)
    k = asub.add_parser("sync")
    k.add_argument("--db", required=True)
    sp.set_defaults(func=cmd_audit)
