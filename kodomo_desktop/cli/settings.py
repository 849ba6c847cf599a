"""Settings commands: what a document prints (the town's name)."""

from __future__ import annotations

from . import Parser, UsageError, out
from . import open_workspace as _open


def cmd_settings(args):
    from ..core import settings as S

    if args.action != "set":  # pragma: no cover - argparse restricts it
        raise UsageError("settings set だけがあります。")
    if args.town is None:
        raise UsageError("設定する項目を指定してください（--town NAME）。")
    with _open(args) as ws:
        res = S.set_town(ws, args.town)
    out({"settings": {"town_name": res["town_name"]}, "changed": res["changed"]})


def register(cmd, sub) -> None:
    sp = cmd("settings", cmd_settings, "settings a document prints", db=False)
    ssub = sp.add_subparsers(dest="action", required=True, parser_class=Parser)
    s = ssub.add_parser("set")
    s.add_argument("--db", required=True)
    s.add_argument("--town", help="the town's name printed on every document")
    sp.set_defaults(func=cmd_settings)
