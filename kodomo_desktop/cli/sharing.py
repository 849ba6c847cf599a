"""Working with others: pseudonymised exports, information sheets and watch lists, handover packages, pooled stats."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import Parser, UsageError, out
from . import open_workspace as _open


def _file_password() -> str | None:
    return os.environ.get("KODOMO_FILE_PASSWORD") or None


def _sheet_password(args) -> str | None:
    """A workbook with children's names leaves the PC encrypted unless the user says otherwise (--no-password)."""
    pw = _file_password()
    if pw is None and not args.no_password:
        from ..core.errors import InputRefused

        raise InputRefused(
            "こどもの氏名が載るブックです。ファイルのパスワードを環境変数 KODOMO_FILE_PASSWORD で指定してください"
            "（パスワードなしで作るときは --no-password）。"
        )
    return pw


def cmd_export(args):
    from ..core.sharing import pseudonymised as P

    with _open(args) as ws:
        if args.export_cmd == "pseudonymised":
            tables = [t.strip() for t in args.tables.split(",")] if args.tables else list(P.TABLES)
            out(P.export_pseudonymised(ws, Path(args.out), args.purpose, tables=tables, min_cell=args.min_cell))
        else:
            out(P.attach_results(ws, Path(args.key_table), Path(args.file)))


def cmd_handover(args):
    from ..core.sharing import handover as H

    with _open(args) as ws:
        if args.handover_cmd == "export":
            out(
                H.export_handover(
                    ws,
                    args.person,
                    args.to,
                    Path(args.out),
                    _file_password(),
                    with_scores=args.with_scores,
                    contact=args.contact,
                )
            )
        else:
            out(H.import_handover(ws, Path(args.from_), _file_password()))


def cmd_sheet(args):
    from ..core.sharing import sheets as S

    with _open(args) as ws:
        if args.sheet_cmd == "define":
            try:
                d = json.loads(Path(args.file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise UsageError(f"シートの定義ファイルを読めません: {e}") from None
            out(S.define_sheet(ws, d))
        elif args.sheet_cmd == "template":
            out(S.write_sheet(ws, args.sheet, args.school, Path(args.out), password=_sheet_password(args)))
        elif args.sheet_cmd == "watch-list":
            out(S.write_watch_list(ws, args.school, Path(args.out), password=_sheet_password(args)))
        else:
            out(S.import_sheet(ws, Path(args.file), password=_file_password()))


def cmd_stats(args):
    from ..core.sharing import pooled

    with _open(args) as ws:
        out(pooled.write_round_statistics(ws, args.round, Path(args.out), min_cell=args.min_cell))


def register(cmd, sub) -> None:
    sp = cmd("export", cmd_export, "pseudonymised datasets for an outside body", db=False)
    esub = sp.add_subparsers(dest="export_cmd", required=True, parser_class=Parser)
    e = esub.add_parser("pseudonymised", help="Parquet + CSV with per-export pseudonyms; key table kept encrypted")
    e.add_argument("--db", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--purpose", required=True)
    e.add_argument("--tables", help="comma-separated: persons,scores,indicators,rounds,cases (default: all)")
    e.add_argument("--min-cell", type=int, help="coarsen rare (birth month, sex, school) groups below this size")
    e = esub.add_parser("results", help="attach an outside body's notes keyed by pseudonym, through the key table")
    e.add_argument("--db", required=True)
    e.add_argument("--key-table", required=True)
    e.add_argument("file")
    sp.set_defaults(func=cmd_export)
    sp = cmd("handover", cmd_handover, "a family's support file for the receiving town", db=False)
    hsub = sp.add_subparsers(dest="handover_cmd", required=True, parser_class=Parser)
    h = hsub.add_parser("export")
    h.add_argument("--db", required=True)
    h.add_argument("--person", required=True)
    h.add_argument("--to", required=True)
    h.add_argument("--out", required=True)
    h.add_argument("--with-scores", action="store_true")
    h.add_argument("--contact")
    h = hsub.add_parser("import")
    h.add_argument("--db", required=True)
    h.add_argument("--from", dest="from_", required=True)
    sp.set_defaults(func=cmd_handover)
    sp = cmd("sheet", cmd_sheet, "information sheets that go out and come back", db=False)
    ssub = sp.add_subparsers(dest="sheet_cmd", required=True, parser_class=Parser)
    x = ssub.add_parser("define")
    x.add_argument("--db", required=True)
    x.add_argument("file")
    x = ssub.add_parser("template")
    x.add_argument("--db", required=True)
    x.add_argument("--sheet", required=True)
    x.add_argument("--school", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--no-password", action="store_true", help="write the workbook without a file password")
    x = ssub.add_parser("watch-list", help="risk-only list of a school's children to watch (no points, no reasons)")
    x.add_argument("--db", required=True)
    x.add_argument("--school", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--no-password", action="store_true", help="write the workbook without a file password")
    x = ssub.add_parser("import")
    x.add_argument("--db", required=True)
    x.add_argument("file")
    sp.set_defaults(func=cmd_sheet)
    sp = cmd("stats", cmd_stats, "pooled per-round statistics with no person rows")
    sp.add_argument("--round", type=int, required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--min-cell", type=int, default=5)
