"""Catalogue commands (issue 19): the town's own source types, difficulty types, indicators and take-up gaps.

``catalogue export`` / ``import --reason`` (same format as resources/indicators.json), ``check`` (every problem,
exit 2), ``define-source``, ``add-indicator`` (one source, or two: ``--absent-source``; ``--kind takeup`` for a
利用できる可能性のある支援 prompt), ``rules`` (top N % per difficulty type per age band; at least K basic items),
``rename-type``, ``history`` and ``gaps`` (利用できる可能性のある支援).
Every change is checked, previewed and adopted with a new weight-set version (core/scoring/town.py)."""

from __future__ import annotations

import json
from pathlib import Path

from . import Parser, UsageError, out
from . import open_workspace as _open


def _value(text: str | None):
    """A flag's value: a JSON list stays a list; everything else is the text (the core reads it by the field's
    type and the condition: a number for ≥ ≤, a list for in)."""
    if text is None:
        return None
    if text.strip().startswith("["):
        try:
            v = json.loads(text)
        except ValueError:
            return text
        return v if isinstance(v, list) else text
    return text


def _points(items) -> dict:
    points = {}
    for p in items or []:
        t, _, v = p.rpartition(":")
        if not t:
            raise UsageError(f"--points は 種類:点数 の形にしてください（{p}）。")
        points[t] = v
    return points


def _indicator_from_args(args, cat: dict | None = None) -> dict:
    """The catalogue entry add-indicator's flags describe, built by the core (town.build_indicator, which the GUI
    editor uses too); a problem is refused (exit 2) naming the flag."""
    from ..core.errors import InputRefused
    from ..core.scoring import town as T

    if args.spec:
        return T.read_file(Path(args.spec))
    need = ("id", "label", "source") + (() if args.aggregate == "count" else ("field",)) + ("op",)
    missing = [f"--{n}" for n in need if not getattr(args, n.replace("-", "_"))]
    if missing:
        raise UsageError("指標には --spec FILE か " + "・".join(missing) + " が必要です。")
    form = {
        "id": args.id,
        "label": args.label,
        "source": args.source,
        "field": args.field,
        "op": args.op,
        "value": _value(args.value),
        "aggregate": args.aggregate or "any",
        "window": args.window,
        "whose": args.whose,
        "kind": args.kind,
        "points": _points(args.points),
        "new_types": args.new_type or (),
        "basic_no": args.basic_no,
        "purpose": args.purpose or "",
        "support": args.support or "",
    }
    if args.date_field:
        form["date_field"] = args.date_field
    if args.ages:
        lo, _, hi = args.ages.partition("-")
        try:
            form["applies_to_ages"] = [int(lo), int(hi)]
        except ValueError:
            raise UsageError(f"--ages は 最小-最大 の形にしてください（{args.ages}）。")
    if args.absent_source:
        form["absent"] = {
            "source": args.absent_source,
            "field": args.absent_field,
            "op": args.absent_op,
            "value": _value(args.absent_value),
            "window": args.absent_window,
            "whose": args.absent_whose,
        }
        if args.absent_date_field:
            form["absent"]["date_field"] = args.absent_date_field
    elif args.kind == "takeup":
        raise UsageError("--kind takeup には --absent-source（ない記録の取込元）が必要です。")
    flag = {"label_ja": "label", "source_type": "source", "window_months": "window", "rule": "op"}
    entry, found = T.build_indicator(cat if cat is not None else T.shipped(), form)
    if found:
        lines = []
        for where, msg in found:
            name = flag.get(where[-1], where[-1]).replace("_", "-")
            lines.append(f"・--{'absent-' if 'absent' in where else ''}{name}: {msg}")
        raise InputRefused(f"指標に {len(found)} 件の問題があります。何も変更していません。\n" + "\n".join(lines))
    return entry


def cmd_catalogue(args):
    from ..core.scoring import town as T

    if args.cat_cmd == "check":
        found = T.problems(T.read_file(Path(args.file)))
        out({"ok": not found, "problems": found})
        if found:
            T.check_or_refuse(T.read_file(Path(args.file)))
        return
    if args.cat_cmd in ("import", "define-source", "add-indicator", "rename-type", "rules") and not getattr(
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
            entry = _indicator_from_args(args, T.current(ws))
            out(T.add_indicator(ws, entry, args.reason, new_types=args.new_type or ()))
        elif args.cat_cmd == "rename-type":
            out(T.rename_type(ws, args.old, args.new, args.reason))
        elif args.cat_cmd == "rules":
            rank = basic = None
            if args.rank_mode:
                rank = {"mode": args.rank_mode, "value": args.rank_value, "per": args.per, "by_type": args.by_type}
            if args.basic_min is not None:
                basic = {"enabled": args.basic_min > 0, "min": max(args.basic_min, 1)}
            if rank is None and basic is None:
                raise UsageError("--rank-mode か --basic-min を指定してください。")
            out(T.set_rules(ws, args.reason, rank=rank, basic_items=basic))
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
    c.add_argument(
        "--kind",
        default="own",
        choices=["own", "household", "poverty_proxy", "protective", "takeup"],
        help="takeup: 利用できる可能性のある支援 (two sources, never scored)",
    )
    c.add_argument("--window", type=int, help="look-back window in months")
    c.add_argument("--date-field")
    c.add_argument("--points", action="append", help="TYPE:POINTS (repeatable)")
    c.add_argument("--basic-no", type=int, help="the 基本連携データ項目 number it counts as (1-19)")
    c.add_argument("--new-type", action="append", help="a difficulty type to add with this indicator")
    c.add_argument("--purpose")
    c.add_argument("--absent-source", help="two sources: present in --source and absent in this one")
    c.add_argument("--absent-field", help="a field of the absent source (none: any record of it)")
    c.add_argument("--absent-op")
    c.add_argument("--absent-value")
    c.add_argument("--absent-window", type=int, help="the absent source's look-back window in months")
    c.add_argument("--absent-whose", default="household", choices=["child", "guardian", "parent", "household"])
    c.add_argument("--absent-date-field", help="record_date (default) | as_of | a date field of the absent source")
    c.add_argument("--ages", help="MIN-MAX: the ages of the child it applies to (6-15)")
    c.add_argument("--support", help="takeup: the service to offer (就学援助の案内 …)")
    c.add_argument("--reason")
    c = csub.add_parser("rules", help="flagging rules: top N (%%) per difficulty type per age band; ≥ K basic items")
    c.add_argument("--db", required=True)
    c.add_argument("--rank-mode", choices=["none", "top_percent", "top_n"])
    c.add_argument("--rank-value", type=float, default=10)
    c.add_argument("--per", default="age_band", choices=["age_band", "age", "all"])
    c.add_argument("--by-type", action="store_true", help="rank each difficulty type (延岡市: top 2 %% of each)")
    c.add_argument("--basic-min", type=int, help="at least K basic items (0: off)")
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
