"""Data commands: fields, import, link, export-links."""

from __future__ import annotations

import os
from pathlib import Path

from . import Parser, UsageError, out, out_folder, progress, settle_memory  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_fields(args):
    from ..core.importing.fields import fields_catalogue

    out(fields_catalogue())


def _mapping(args) -> dict:
    from ..core.errors import InputRefused

    mapping: dict[str, str] = {}
    for m in args.map or []:
        if "=" not in m:
            raise UsageError(f"--map は 列名=項目名 の形で指定してください: {m}")
        col, field = m.split("=", 1)
        col, field = col.strip(), field.strip()
        if col in mapping and mapping[col] != field:
            raise InputRefused(
                f"列「{col}」に2つの項目（{mapping[col]} と {field}）が指定されています。1つの列には1つの項目だけを"
                "対応づけてください。"
            )
        mapping[col] = field
    return mapping


def cmd_import(args):
    from ..core.importing.service import import_file

    if args.manifest:
        if args.file or args.source or args.map:
            raise UsageError("--manifest とファイル名・--source・--map は同時に指定できません。")
        return _import_manifest(args)
    if not args.file or not args.source:
        raise UsageError("取り込むファイルと --source（または --manifest）を指定してください。")
    if args.link or args.score or args.out or args.full:
        raise UsageError("--link・--score・--out・--full は --manifest と一緒に指定してください。")
    mapping = _mapping(args)
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
            force=args.force,
        )
        out(res.to_json())


def _import_manifest(args):
    from ..core.importing.manifest import import_manifest, read_manifest

    _check_then_options(args)
    entries = read_manifest(Path(args.manifest), default_as_of=args.as_of)
    if not (args.link or args.score):
        with _open(args) as ws:
            results = import_manifest(
                ws,
                entries,
                force=args.force,
                progress=progress,
                file_password=os.environ.get("KODOMO_FILE_PASSWORD") or None,
            )
        out({"files": results})
        _refuse_if_any(results)
        return
    from .meter import StepMeter

    meter = StepMeter()
    summary: dict = {}
    stage = "open"
    try:
        with meter.step("open"):
            ws = _open(args)
        with ws:
            # refused (and logged) before any file is read, exactly as `link` / `score` would refuse: nothing changed
            if args.link:
                ws.require("link.run", what="link")
            if args.score:
                ws.require("score.run", what="score")
            stage = "import"
            with meter.step("import"):
                summary["files"] = import_manifest(
                    ws,
                    entries,
                    force=args.force,
                    progress=progress,
                    file_password=os.environ.get("KODOMO_FILE_PASSWORD") or None,
                )
            stage = "link"
            if any(r.get("refused") for r in summary["files"]):
                summary["stopped_before"] = "link"  # a month with a refused file is neither linked nor scored
            else:
                from ..core.linkage.service import run_linkage

                settle_memory()  # (the import's last objects: not scanned again by the link's collections)
                with meter.step("link"):
                    summary["link"] = run_linkage(ws, progress=progress, full=args.full)
                if args.score:
                    stage = "score"
                    from ..core.scoring.service import score_to_csv

                    settle_memory()
                    with meter.step("score"):
                        summary["score"] = score_to_csv(ws, Path(args.out))
    except BaseException:
        if summary:
            summary["stopped_before"] = stage  # what ran is printed; the refusal's own message and exit code follow
        raise
    finally:
        if summary:
            summary["steps"] = meter.steps
            out(summary)
    _refuse_if_any(summary["files"], then=" 名寄せとスコアの算出は行っていません。")


def _check_then_options(args) -> None:
    """--link / --score / --out / --full belong to a manifest run; each refused (exit 1) before anything is read."""
    if not args.link and (args.full or args.score):
        raise UsageError("--full と --score は --link と一緒に指定してください（取り込み → 名寄せ → スコア算出）。")
    if args.score and not args.out:
        raise UsageError("--score には --out（スコアの CSV ファイル）が必要です。")
    if args.out and not args.score:
        raise UsageError("--out は --score と一緒に指定してください。")
    if args.out:
        out_folder(args.out)


def _refuse_if_any(results: list[dict], then: str = "") -> None:
    from ..core.errors import InputRefused, IntegrityFailure

    refused = [r for r in results if r.get("refused")]
    if refused:
        err = IntegrityFailure if any(r.get("exit_code") == 3 for r in refused) else InputRefused
        raise err(
            f"マニフェストの {len(results)} ファイルのうち {len(refused)} ファイルを取り込めませんでした"
            f"（{'、'.join(r['file'] for r in refused[:5])}）。ほかのファイルは取り込みました。{then}"
        )


def cmd_link(args):
    from ..core.linkage.service import run_linkage

    with _open(args) as ws:
        out(run_linkage(ws, progress=progress, full=args.full))


def cmd_export_links(args):
    with _open(args) as ws:
        ws.require("data.export", what="export-links")
        from ..core.linkage.service import export_links

        n = export_links(ws, Path(args.out))
        out({"rows": n, "out": str(args.out)})


def register(cmd, sub) -> None:
    cmd("fields", cmd_fields, "source types and their fields", db=False)
    sp = cmd("import", cmd_import, "import one department file as one batch (or every file of a manifest)")
    sp.add_argument("--source")
    sp.add_argument("file", nargs="?")
    sp.add_argument("--manifest", help="CSV: file_name, source_type[, as_of] (paths relative to it)")
    sp.add_argument("--force", action="store_true", help="import an extract the guards find implausible")
    sp.add_argument("--map", action="append", metavar="COLUMN=FIELD")
    sp.add_argument("--sheet")
    sp.add_argument("--encoding")
    sp.add_argument("--header-row", type=int)
    sp.add_argument("--as-of")
    then = sp.add_argument_group("the monthly run in one process (with --manifest; one unlock)")
    then.add_argument("--link", action="store_true", help="then link everything imported, as `link` does")
    then.add_argument("--full", action="store_true", help="with --link: rewrite every link, as `link --full`")
    then.add_argument("--score", action="store_true", help="then score every child, as `score --out FILE`")
    then.add_argument("--out", help="with --score: the score CSV")
    sp = cmd("link", cmd_link, "run record linkage over everything imported")
    sp.add_argument("--full", action="store_true", help="rewrite every link (by default only the links that changed)")
    sp = cmd("export-links", cmd_export_links, "one row per imported source row")
    sp.add_argument("--out", required=True)
