"""Import history and undo: batches list, batches remove."""

from __future__ import annotations

from . import UsageError, out
from . import open_workspace as _open


def cmd_batches_list(args):
    from ..core.importing.service import batch_history

    with _open(args) as ws:
        rows = batch_history(ws)
    out(
        {
            "batches": [
                {
                    "batch_id": b["batch_id"],
                    "source_type": b["source_type"],
                    "label": b["label"],
                    "file_name": b["file_name"],
                    "as_of": b["as_of"].isoformat() if b["as_of"] else None,
                    "imported_at": b["imported_at"].isoformat(sep=" ") if b["imported_at"] else None,
                    "imported_by": b["imported_by"],
                    "rows": b["rows"],
                    "imported": b["imported"],
                    "rejected": b["rejected"],
                    "current": b["current"],
                    "removed": b["removed"],
                    "superseded_by": b.get("superseded_by"),
                    "scope": b["scope"],
                }
                for b in rows
            ]
        }
    )


def cmd_batches_remove(args):
    from ..core.importing.service import remove_batch

    reason = (args.reason or "").strip()
    if not reason:
        raise UsageError("取り消す理由を --reason で指定してください。")
    with _open(args) as ws:
        out(remove_batch(ws, args.batch, reason))


def register(cmd, sub) -> None:
    from . import Parser

    sp = sub.add_parser("batches", help="import history (list) and undo of one batch (remove)")
    bsub = sp.add_subparsers(dest="batches_command", required=True, parser_class=Parser)
    lp = bsub.add_parser("list", help="every imported batch, newest first")
    lp.add_argument("--db", required=True)
    lp.set_defaults(func=cmd_batches_list)
    rp = bsub.add_parser("remove", help="remove one batch; the extract it superseded becomes current again")
    rp.add_argument("--db", required=True)
    rp.add_argument("--batch", required=True, type=int)
    rp.add_argument("--reason", required=True)
    rp.set_defaults(func=cmd_batches_remove)
