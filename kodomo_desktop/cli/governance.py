"""Governance: opt-out, disclosure, correction, deletion, file register, self-inspection, retention, log."""

from __future__ import annotations

from pathlib import Path

from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_optout(args):
    from ..core.governance import optout as O

    with _open(args) as ws:
        if args.optout_cmd == "add":
            out(O.add_optout(ws, args.person, args.reason, household=args.household))
        else:
            out(O.remove_optout(ws, args.person, args.reason))


def cmd_disclose(args):
    from ..core.governance.disclosure import disclose

    with _open(args) as ws:
        out(disclose(ws, args.person, Path(args.out)))


def cmd_correct(args):
    from ..core.governance.disclosure import correct_person

    with _open(args) as ws:
        out(correct_person(ws, args.person, args.field, args.value, args.reason))


def cmd_delete_person(args):
    from ..core.governance.disclosure import delete_person

    with _open(args) as ws:
        out(delete_person(ws, args.person, args.reason))


def cmd_file_register(args):
    from ..core.governance import documents as G

    with _open(args) as ws:
        o = Path(args.out)
        out(G.file_register_xlsx(ws, o) if o.suffix.lower() == ".xlsx" else G.file_register_pdf(ws, o))


def cmd_self_inspection(args):
    from ..core.governance import register as R

    with _open(args) as ws:
        if args.out:
            from ..core.governance import documents as G  # reportlab: only for the PDF

            out(G.self_inspection_pdf(ws, args.year, Path(args.out)))
        else:
            out(R.self_inspection_auto(ws))


def cmd_retention(args):
    from ..core.governance import register as R

    with _open(args) as ws:
        if args.purge:
            out(R.purge_expired(ws))
        else:
            exp = R.expired(ws)
            out({"policies": R.retention(ws), "expired": exp, "expired_batches": len(exp)})


def cmd_log(args):
    from ..core.audit.export import export_log

    with _open(args) as ws:
        if ws.can("checklist.manage"):  # the schools' own logs are read back first (core/checklists/sync.py)
            from ..core.checklists import sync

            sync.sync(ws, quiet=True)
        out(export_log(ws, Path(args.out)))


def register(cmd, sub) -> None:
    import datetime as dt

    sp = cmd("optout", cmd_optout, "opt-out register", db=False)
    osub = sp.add_subparsers(dest="optout_cmd", required=True, parser_class=Parser)
    for n in ("add", "remove"):
        o = osub.add_parser(n)
        o.add_argument("--db", required=True)
        o.add_argument("--person", required=True)
        o.add_argument("--reason", required=True)
        o.add_argument("--household", action="store_true")
    sp.set_defaults(func=cmd_optout)
    sp = cmd("disclose", cmd_disclose, "everything held about one person")
    sp.add_argument("--person", required=True)
    sp.add_argument("--out", required=True)
    sp = cmd("correct", cmd_correct, "訂正: correct one field of a person, keeping the old value")
    sp.add_argument("--person", required=True)
    sp.add_argument("--field", required=True)
    sp.add_argument("--value", required=True)
    sp.add_argument("--reason", required=True)
    sp = cmd("delete-person", cmd_delete_person, "削除: remove a person's data from every table")
    sp.add_argument("--person", required=True)
    sp.add_argument("--reason", required=True)
    sp = cmd("file-register", cmd_file_register, "個人情報ファイル簿 draft (.pdf or .xlsx)")
    sp.add_argument("--out", required=True)
    sp = cmd("self-inspection", cmd_self_inspection, "自己点検: automatic items, or the report PDF")
    sp.add_argument("--year", type=int, default=dt.date.today().year)
    sp.add_argument("--out")
    sp = cmd("retention", cmd_retention, "retention periods and expired data (--purge deletes it)")
    sp.add_argument("--purge", action="store_true")
    sp = cmd("log", cmd_log, "the access log as CSV")
    sp.add_argument("--out", required=True)
