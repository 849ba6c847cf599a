"""Catalogue commands (issue 19): the town's own source types, difficulty types, indicators and take-up gaps.

``catalogue export`` / ``import --reason`` (same format as resources/indicators.json), ``check`` (every problem,
exit 2), ``define-source``, ``add-indicator``, ``rename-type``, ``history`` and ``gaps`` (利用できる可能性のある支援).
Every change is checked, previewed and adopted with a new weight-set version (core/scoring/town.py)."""

from __future__ import annotations

import json
from pathlib import Path

from . import Parser, UsageError, out
from . import open_workspace as _open

OP_ALIASES = {"=": "==", "≠": "!=", "≥": ">=", "≤": "<=", "absent": "missing", "present": "exists", "＝": "=="}
WHOSE_ALIASES = {"guardian": "parent"}


def _value(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _indicator_from_args(args) -> dict:
    if args.spec:
        from ..core.scoring.town import read_file

        return read_file(Path(args.spec))
    missing = [f"--{n}" for n in ("id", "label", "source", "field", "op") if not getattr(args, n.replace("-", "_"))]
    if missing:
        raise UsageError("指標には --spec FILE か " + "・".join(missing) + " が必要です。")
    points = {}
    for p in args.points or []:
        t, _, v = p.rpartition(":")
        try:
            points[t] = float(v) if "." in v else int(v)
        except ValueError:
            raise UsageError(f"--points は 種類:点数 の形にしてください（{p}）。")
    args.op = OP_ALIASES.get(args.op, args.op)
    rule: dict = {"field": args.field, "op": args.op}
    if args.value is not None:
        rule["value"] = _value(args.value)
    if args.op in ("in", "not_in") and not isinstance(rule.get("value"), list):
        rule["value"] = [x.strip() for x in str(args.value or "").split(",") if x.strip()]
    if args.aggregate:
        if args.aggregate == "count":
            rule = {
                "aggregate": "count",
                "op": args.op,
                "value": rule.get("value"),
                "where": {"field": args.field, "op": "exists"},
            }
        else:
            rule = {"aggregate": args.aggregate, **rule}
    ind = {
        "id": args.id,
        "label_ja": args.label,
        "source_type": args.source,
        "whose": WHOSE_ALIASES.get(args.whose, args.whose),
        "rule": rule,
        "points": points,
        "window_months": args.window,
        "kind": args.kind,
        "shown_on_sheets": False,
        "purpose": args.purpose or "",
    }
    if args.date_field:
        ind["date_field"] = args.date_field
    if args.basic_no is not None:  # one of the guideline's 基本連携データ項目 (the "at least K basic items" rule)
        ind["basic"], ind["basic_no"] = True, args.basic_no
    return ind


def cmd_catalogue(args):
    from ..core.scoring import town as T

    if args.cat_cmd == "check":
        found = T.problems(T.read_file(Path(args.file)))
        out({"ok": not found, "problems": found})
        if found:
            T.check_or_refuse(T.read_file(Path(args.file)))
        return
    if args.cat_cmd in ("import", "define-source", "add-indicator", "rename-type") and not getattr(
        args, "dry_run", False
    ):
        if not (args.reason or "").strip():
            raise UsageError("--reason（変更する理由）が必要です。何も変更していません。")
    with _open(args) as ws:
        if args.cat_cmd == "export":
            out(T.export(ws, Path(args.out)))
        elif args.cat_cmd == "import":
            out(T.import_file(ws, Path(args.file), args.reason or "", dry_run=args.dry_run))
        elif args.cat_cmd == "define-source":
            spec = T.read_file(Path(args.spec))
            key = args.key or spec.pop("key", None)
            if not key:
                raise UsageError("取込元の名前（--key または定義の key）が必要です。")
            out({"source_type": key, **T.define_source(ws, key, spec, args.reason)})
        elif args.cat_cmd == "add-indicator":
            out(T.add_indicator(ws, _indicator_from_args(args), args.reason, new_types=args.new_type or ()))
        elif args.cat_cmd == "rename-type":
            out(T.rename_type(ws, args.old, args.new, args.reason))
        elif args.cat_cmd == "history":
            out({"history": T.history(ws)})
        elif args.cat_cmd == "gaps":
            out(T.support_prompts(ws, as_of=args.as_of, person_id=args.person))


def register(cmd, sub) -> None:
    sp = cmd("catalogue", cmd_catalogue, "the town's source types, difficulty types and indicators", db=False)
    csub = sp.add_subparsers(dest="cat_cmd", required=True, parser_class=Parser)
    c = csub.add_parser("export", help="write the town's catalogue (same format as the shipped one)")
    c.add_argument("--db", required=True)
    c.add_argument("--out", required=True)
    c = csub.add_parser("import", help="check, preview and adopt a catalogue file (with a new weight set)")
    c.add_argument("--db", required=True)
    c.add_argument("file")
    c.add_argument("--reason")
    c.add_argument("--dry-run", action="store_true", help="check and preview only")
    c = csub.add_parser("check", help="list every problem of a catalogue file (exit 2 if any)")
    c.add_argument("file")
    c = csub.add_parser("define-source", help="define a source type of the town (a JSON file)")
    c.add_argument("--db", required=True)
    c.add_argument("--spec", required=True)
    c.add_argument("--key")
    c.add_argument("--reason")
    c = csub.add_parser("add-indicator", help="add an indicator (flags or --spec FILE)")
    c.add_argument("--db", required=True)
    c.add_argument("--spec")
    c.add_argument("--id")
    c.add_argument("--label")
    c.add_argument("--source")
    c.add_argument("--field")
    c.add_argument("--op", help="= ≠ ≥ ≤ (or == != >= <= > <) in not_in exists absent is_true is_false")
    c.add_argument("--value")
    c.add_argument("--aggregate", choices=["latest", "max", "min", "sum", "count", "all_latest"])
    c.add_argument("--whose", default="child", choices=["child", "guardian", "parent", "household", "other"])
    c.add_argument("--kind", default="own", choices=["own", "household", "poverty_proxy", "protective"])
    c.add_argument("--window", type=int, help="look-back window in months")
    c.add_argument("--date-field")
    c.add_argument("--points", action="append", help="TYPE:POINTS (repeatable)")
    c.add_argument("--basic-no", type=int, help="the 基本連携データ項目 number it counts as (1-19)")
    c.add_argument("--new-type", action="append", help="a difficulty type to add with this indicator")
    c.add_argument("--purpose")
    c.add_argument("--reason")
    c = csub.add_parser("rename-type", help="rename a difficulty type (thresholds and points follow)")
    c.add_argument("--db", required=True)
    c.add_argument("old")
    c.add_argument("new")
    c.add_argument("--reason")
    c = csub.add_parser("history", help="every catalogue version with the weight set it belongs to")
    c.add_argument("--db", required=True)
    c = csub.add_parser("gaps", help="利用できる可能性のある支援: families a take-up-gap rule finds")
    c.add_argument("--db", required=True)
    c.add_argument("--person")
    c.add_argument("--as-of")
    sp.set_defaults(func=cmd_catalogue)
