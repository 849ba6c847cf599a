"""Scoring commands: score (``--weights``: a trial, never the current run), weights export / import / preview."""

from __future__ import annotations

from pathlib import Path

from . import Parser, UsageError, out, out_folder, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_score(args):
    out_folder(args.out)
    with _open(args) as ws:
        ws.require("score.run", what="score")  # refused (and logged) before anything is computed or written
        from ..core.scoring.service import score_to_csv

        out(
            score_to_csv(
                ws,
                Path(args.out),
                weights_file=Path(args.weights) if args.weights else None,
                as_of=args.as_of,
                full=args.full,
            )
        )


def cmd_weights(args):
    from ..core.scoring import service as S

    if args.weights_cmd == "import" and args.adopt and not (args.reason or "").strip():
        raise UsageError("--adopt には --reason（採用する理由）が必要です。何も変更していません。")
    with _open(args) as ws:
        if args.weights_cmd == "export":
            out(S.export_weights(ws, Path(args.out)))
        elif args.weights_cmd == "preview":
            ws.require("score.read", what="weights preview")
            out(S.preview_weights(ws, S.read_weights_file(Path(args.weights)), as_of=args.as_of))
        else:
            out(S.import_weights(ws, Path(args.file), reason=args.reason, adopt=args.adopt))


def register(cmd, sub) -> None:
    sp = cmd("score", cmd_score, "score every child aged 0-18")
    sp.add_argument("--out", required=True)
    sp.add_argument("--weights")
    sp.add_argument("--as-of")
    sp.add_argument("--full", action="store_true", help="evaluate every child (no reuse of the previous run)")
    sp = cmd("weights", cmd_weights, "export or import a weight set as a readable file", db=False)
    wsub = sp.add_subparsers(dest="weights_cmd", required=True, parser_class=Parser)
    w = wsub.add_parser("export")
    w.add_argument("--db", required=True)
    w.add_argument("--out", required=True)
    w = wsub.add_parser("import")
    w.add_argument("--db", required=True)
    w.add_argument("file")
    w.add_argument("--reason")
    w.add_argument("--adopt", action="store_true")
    w = wsub.add_parser("preview", help="flagged and top-band counts and rates per group, current -> proposed")
    w.add_argument("--db", required=True)
    w.add_argument("--weights", required=True)
    w.add_argument("--as-of")
    sp.set_defaults(func=cmd_weights)
