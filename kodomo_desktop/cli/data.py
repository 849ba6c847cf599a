"""Data commands: fields, import, link, export-links."""

from __future__ import annotations

import os
from pathlib import Path

from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_fields(args):
    from ..core.importing.fields import fields_catalogue

    out(fields_catalogue())


def cmd_import(args):
    from ..core.importing.service import import_file

    mapping = {}
    for m in args.map or []:
        if "=" not in m:
            raise UsageError(f"--map は 列名=項目名 の形で指定してください: {m}")
        col, field = m.split("=", 1)
        mapping[col.strip()] = field.strip()
    with _open(args) as ws:
        res = import_file(
            ws,
            Path(args.file),
            args.source,
            mapping=mapping or None,
            sheet=args.sheet,
            encoding=args.encoding,
            header_row=args.header_row,
            as_of=args.as_of,
            progress=lambda done, total: progress(f"{done}/{total}"),
            file_password=os.environ.get("KODOMO_FILE_PASSWORD") or None,
        )
        out(res.to_json())


def cmd_link(args):
    from ..core.linkage.service import run_linkage

    with _open(args) as ws:
        out(run_linkage(ws, progress=progress))


def cmd_export_links(args):
    with _open(args) as ws:
        ws.require("data.export", what="export-links")
        from ..core.linkage.service import export_links

        n = export_links(ws, Path(args.out))
        out({"rows": n, "out": str(args.out)})


def register(cmd, sub) -> None:
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
