"""Key commands: ``keys rotate`` (鍵の更新: a new database key, every remaining slot re-sealed)."""

from __future__ import annotations

from . import Parser, out
from . import open_workspace as _open


def cmd_keys(args):
    with _open(args) as ws:
        if args.keys_cmd == "rotate":
            out(ws.rotate_keys())
        else:
            out(ws.log_anchor())


def register(cmd, sub) -> None:
    sp = sub.add_parser("keys", help="key management: rotate (re-key the database), anchor (the log anchor)")
    ksub = sp.add_subparsers(dest="keys_cmd", required=True, parser_class=Parser)
    for name in ("rotate", "anchor"):
        k = ksub.add_parser(name)
        k.add_argument("--db", required=True)
    sp.set_defaults(func=cmd_keys)
