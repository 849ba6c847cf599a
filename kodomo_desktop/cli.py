"""kodomo-desktop-cli: the headless contract (../shared/spec/CLI.md).

One JSON object on stdout for summaries, progress on stderr. Exit codes: 0 ok, 1 usage, 2 input refused and
nothing changed, 3 integrity failure. The password comes from KODOMO_DB_PASSWORD, the user from KODOMO_USER.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .core.errors import IntegrityFailure, KodomoError


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # the contract says usage errors exit 1 (argparse would exit 2)
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def out(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _open(args):
    from .core.workspace import Workspace, env_password
    return Workspace.open(args.db, env_password(), os.environ.get("KODOMO_USER") or None)


# --- commands ------------------------------------------------------------------------------------------------
def cmd_init(args):
    from .core.workspace import Workspace, env_password
    ws = Workspace.create(args.db, env_password(), os.environ.get("KODOMO_USER") or "coordinator")
    ws.close()
    out({"created": str(args.db)})


def cmd_verify(args):
    ws = _open(args)
    try:
        out(ws.verify())
    except IntegrityFailure as e:
        out(getattr(e, "result", {"ok": False}))
        raise
    finally:
        ws.close()


def cmd_fields(args):
    from .core.importing.fields import fields_catalogue
    out(fields_catalogue())


def cmd_import(args):
    from .core.importing.service import import_file
    mapping = {}
    for m in args.map or []:
        if "=" not in m:
            raise UsageError(f"--map は 列名=項目名 の形で指定してください: {m}")
        col, field = m.split("=", 1)
        mapping[col.strip()] = field.strip()
    with _open(args) as ws:
        res = import_file(ws, Path(args.file), args.source, mapping=mapping or None, sheet=args.sheet,
                          encoding=args.encoding, header_row=args.header_row, as_of=args.as_of,
                          progress=lambda done, total: progress(f"{done}/{total}"),
                          file_password=os.environ.get("KODOMO_FILE_PASSWORD") or None)
        out(res.to_json())


def cmd_link(args):
    from .core.linkage.service import run_linkage
    with _open(args) as ws:
        out(run_linkage(ws, progress=progress))


def cmd_export_links(args):
    with _open(args) as ws:
        ws.require("data.export", what="export-links")
        from .core.linkage.service import export_links
        n = export_links(ws, Path(args.out))
        out({"rows": n, "out": str(args.out)})


def cmd_score(args):
    with _open(args) as ws:
        ws.require("score.run", what="score")  # refused (and logged) before anything is computed or written
        from .core.scoring.service import score_to_csv
        out(score_to_csv(ws, Path(args.out), weights_file=Path(args.weights) if args.weights else None,
                         as_of=args.as_of))


def cmd_weights(args):
    from .core.scoring import service as S
    with _open(args) as ws:
        if args.weights_cmd == "export":
            out(S.export_weights(ws, Path(args.out)))
        else:
            out(S.import_weights(ws, Path(args.file), reason=args.reason, adopt=args.adopt))


def cmd_report(args):
    from .core.reports import service as R
    with _open(args) as ws:
        if args.kind == "assessment":
            out(R.assessment_pdf(ws, args.person, Path(args.out)))
        else:
            ids = [p.strip() for p in args.persons.split(",") if p.strip()]
            out(R.conference_pdf(ws, ids, Path(args.out)))


def cmd_demo(args):
    from .core.demo.service import build_demo
    out(build_demo(Path(args.db), residents=args.residents, seed=args.seed,
                   files_out=Path(args.files_out) if args.files_out else None, progress=progress))


def cmd_backup(args):
    from .core.security import backup as B
    with _open(args) as ws:
        out(B.backup(ws, Path(args.out)))


def cmd_restore(args):
    from .core.security import backup as B
    from .core.workspace import env_password
    out(B.restore(Path(args.from_), Path(args.db), env_password(), os.environ.get("KODOMO_USER") or None))


def cmd_users(args):
    with _open(args) as ws:
        if args.users_cmd == "add":
            ws.add_user(args.name, os.environ.get("KODOMO_NEW_PASSWORD", ""), args.role, args.school)
            out({"user": args.name, "role": args.role, **({"school": args.school} if args.school else {})})
        elif args.users_cmd == "remove":
            ws.remove_user(args.name)
            out({"removed": args.name})
        else:
            users = ws.list_users()
            out({"users": users, "count": len(users)})


def cmd_passwd(args):
    from .core.workspace import change_password, env_password
    name = change_password(args.db, os.environ.get("KODOMO_USER") or None, env_password(),
                           os.environ.get("KODOMO_NEW_PASSWORD", ""))
    out({"user": name, "password_changed": True})


def cmd_checklist(args):
    from .core.checklists import service as C
    with _open(args) as ws:
        if args.checklist_cmd == "template":
            out(C.write_template(ws, args.school, Path(args.out), round_name=args.round,
                                 password=os.environ.get("KODOMO_FILE_PASSWORD") or None))
        else:
            out(C.status(ws))


def cmd_optout(args):
    from .core.governance import optout as O
    with _open(args) as ws:
        if args.optout_cmd == "add":
            out(O.add_optout(ws, args.person, args.reason, household=args.household))
        else:
            out(O.remove_optout(ws, args.person, args.reason))


def cmd_disclose(args):
    from .core.governance.disclosure import disclose
    with _open(args) as ws:
        out(disclose(ws, args.person, Path(args.out)))


def cmd_correct(args):
    from .core.governance.disclosure import correct_person
    with _open(args) as ws:
        out(correct_person(ws, args.person, args.field, args.value, args.reason))


def cmd_delete_person(args):
    from .core.governance.disclosure import delete_person
    with _open(args) as ws:
        out(delete_person(ws, args.person, args.reason))


def cmd_file_register(args):
    from .core.governance import documents as G
    with _open(args) as ws:
        o = Path(args.out)
        out(G.file_register_xlsx(ws, o) if o.suffix.lower() == ".xlsx" else G.file_register_pdf(ws, o))


def cmd_self_inspection(args):
    from .core.governance import documents as G
    from .core.governance import register as R
    with _open(args) as ws:
        if args.out:
            out(G.self_inspection_pdf(ws, args.year, Path(args.out)))
        else:
            out(R.self_inspection_auto(ws))


def cmd_retention(args):
    from .core.governance import register as R
    with _open(args) as ws:
        if args.purge:
            out(R.purge_expired(ws))
        else:
            exp = R.expired(ws)
            out({"policies": R.retention(ws), "expired": exp, "expired_batches": len(exp)})


def cmd_log(args):
    from .core.audit.export import export_log
    with _open(args) as ws:
        out(export_log(ws, Path(args.out)))


# --- parser ---------------------------------------------------------------------------------------------------
def build_parser() -> Parser:
    p = Parser(prog="kodomo-desktop-cli", description="Kodomo Desktop — headless commands")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def cmd(name, func, help_, db=True):
        sp = sub.add_parser(name, help=help_)
        if db:
            sp.add_argument("--db", required=True, help="encrypted database file")
        sp.set_defaults(func=func)
        return sp

    cmd("init", cmd_init, "create a new encrypted database")
    cmd("verify", cmd_verify, "cipher integrity check + access-log chain check")
    cmd("fields", cmd_fields, "source types and their fields", db=False)
    sp = cmd("import", cmd_import, "import one department file as one batch")
    sp.add_argument("--source", required=True)
    sp.add_argument("file")
    sp.add_argument("--map", action="append", metavar="COLUMN=FIELD")
    sp.add_argument("--sheet")
    sp.add_argument("--encoding")
    sp.add_argument("--header-row", type=int)
    sp.add_argument("--as-of")
    cmd("link", cmd_link, "run record linkage over everything imported")
    sp = cmd("export-links", cmd_export_links, "one row per imported source row")
    sp.add_argument("--out", required=True)
    sp = cmd("score", cmd_score, "score every child aged 0-18")
    sp.add_argument("--out", required=True)
    sp.add_argument("--weights")
    sp.add_argument("--as-of")
    sp = cmd("weights", cmd_weights, "export or import a weight set as a readable file", db=False)
    wsub = sp.add_subparsers(dest="weights_cmd", required=True, parser_class=Parser)
    w = wsub.add_parser("export"); w.add_argument("--db", required=True); w.add_argument("--out", required=True)
    w = wsub.add_parser("import"); w.add_argument("--db", required=True); w.add_argument("file")
    w.add_argument("--reason"); w.add_argument("--adopt", action="store_true")
    sp.set_defaults(func=cmd_weights)
    sp = cmd("report", cmd_report, "PDF documents", db=False)
    rsub = sp.add_subparsers(dest="kind", required=True, parser_class=Parser)
    r = rsub.add_parser("assessment"); r.add_argument("--db", required=True); r.add_argument("--person", required=True)
    r.add_argument("--out", required=True)
    r = rsub.add_parser("conference"); r.add_argument("--db", required=True); r.add_argument("--persons", required=True)
    r.add_argument("--out", required=True)
    sp.set_defaults(func=cmd_report)
    sp = cmd("demo", cmd_demo, "build a synthetic town")
    sp.add_argument("--residents", type=int, default=3000)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--files-out")
    sp = cmd("backup", cmd_backup, "encrypted backup")
    sp.add_argument("--out", required=True)
    sp = sub.add_parser("restore", help="restore an encrypted backup")
    sp.add_argument("--from", dest="from_", required=True)
    sp.add_argument("--db", required=True)
    sp.set_defaults(func=cmd_restore)
    sp = cmd("users", cmd_users, "manage users", db=False)
    usub = sp.add_subparsers(dest="users_cmd", required=True, parser_class=Parser)
    u = usub.add_parser("add"); u.add_argument("--db", required=True); u.add_argument("--name", required=True)
    u.add_argument("--role", required=True); u.add_argument("--school")
    u = usub.add_parser("list"); u.add_argument("--db", required=True)
    u = usub.add_parser("remove"); u.add_argument("--db", required=True); u.add_argument("--name", required=True)
    sp.set_defaults(func=cmd_users)
    cmd("passwd", cmd_passwd, "change the current user's password to KODOMO_NEW_PASSWORD")
    sp = cmd("checklist", cmd_checklist, "observation checklists", db=False)
    csub = sp.add_subparsers(dest="checklist_cmd", required=True, parser_class=Parser)
    c = csub.add_parser("template"); c.add_argument("--db", required=True); c.add_argument("--school", required=True)
    c.add_argument("--out", required=True); c.add_argument("--round")
    c = csub.add_parser("status"); c.add_argument("--db", required=True)
    sp.set_defaults(func=cmd_checklist)
    sp = cmd("optout", cmd_optout, "opt-out register", db=False)
    osub = sp.add_subparsers(dest="optout_cmd", required=True, parser_class=Parser)
    for n in ("add", "remove"):
        o = osub.add_parser(n); o.add_argument("--db", required=True); o.add_argument("--person", required=True)
        o.add_argument("--reason", required=True); o.add_argument("--household", action="store_true")
    sp.set_defaults(func=cmd_optout)
    sp = cmd("disclose", cmd_disclose, "everything held about one person")
    sp.add_argument("--person", required=True)
    sp.add_argument("--out", required=True)
    sp = cmd("correct", cmd_correct, "訂正: correct one field of a person, keeping the old value")
    sp.add_argument("--person", required=True); sp.add_argument("--field", required=True)
    sp.add_argument("--value", required=True); sp.add_argument("--reason", required=True)
    sp = cmd("delete-person", cmd_delete_person, "削除: remove a person's data from every table")
    sp.add_argument("--person", required=True); sp.add_argument("--reason", required=True)
    sp = cmd("file-register", cmd_file_register, "個人情報ファイル簿 draft (.pdf or .xlsx)")
    sp.add_argument("--out", required=True)
    sp = cmd("self-inspection", cmd_self_inspection, "自己点検: automatic items, or the report PDF")
    sp.add_argument("--year", type=int, default=__import__("datetime").date.today().year)
    sp.add_argument("--out")
    sp = cmd("retention", cmd_retention, "retention periods and expired data (--purge deletes it)")
    sp.add_argument("--purge", action="store_true")
    sp = cmd("log", cmd_log, "the access log as CSV")
    sp.add_argument("--out", required=True)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        return 0
    except UsageError as e:
        print(f"エラー: {e}", file=sys.stderr)
        return 1
    except KodomoError as e:
        print(f"エラー: {e.message_ja}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("kodomo_desktop"):
            print(f"エラー: この機能はまだありません（{e.name}）。", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
