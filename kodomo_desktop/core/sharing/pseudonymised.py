"""Pseudonymised datasets for an outside body (和泉市's masking with a separate key table; model specification F21–F22).

What goes out (``DIR``): Parquet and CSV tables keyed by a pseudonym made for this export only (random, so two
exports cannot be joined on it), with no name, kana, 宛名番号, address or exact birth date — dates are coarsened to the
month. With ``min_cell`` set, a person whose (birth month, sex, school) group is smaller than ``min_cell`` has the birth
month coarsened to the year, then the school blanked, so that a rare combination does not single a child out.

What stays (``<DIR>.keytable``, written beside the folder, never inside it): the key table pseudonym → person id,
encrypted with AES-256-GCM under a random key that is kept only inside the town's encrypted database. The key table
alone opens nothing; the database alone does not say which pseudonym is whom. Results an outside body sends back
keyed by pseudonym (the SSW's visit notes) come back through :func:`attach_results`.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import os
import secrets
import shutil
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import select

from .. import queries as Q
from ..errors import InputRefused, NotFound
from ..outputs import open_private, private_dir, write_bytes, write_csv
from ..services import service
from ..storage.models import (
    ChildScore,
    Note,
    Person,
    ReviewRound,
    RoundCandidate,
    ScoreRun,
    Setting,
    SupportCase,
)
from .crypto import open_with_key, seal_with_key

if TYPE_CHECKING:
    from ..workspace import Workspace

TABLES = ("persons", "scores", "indicators", "rounds", "cases")
COLUMNS = {
    "persons": ["pseudonym", "household", "birth_month", "sex", "school", "in_registry"],
    "scores": [
        "pseudonym",
        "as_of_month",
        "total",
        "band",
        "types",
        "flagged",
        "basic_items",
        "own_points",
        "household_points",
    ],
    "indicators": ["pseudonym", "indicator", "label", "kind", "points", "source_type", "record_month"],
    "rounds": ["pseudonym", "round_id", "round", "round_month", "label"],
    "cases": ["pseudonym", "opened_month", "closed_month", "lead_organisation"],
}
SETTING_PREFIX = "pseudonymised_export:"


def _month(d) -> str | None:
    if d is None or d == "":
        return None
    if isinstance(d, str):
        return d[:7] if len(d) >= 7 else None
    return f"{d.year:04d}-{d.month:02d}"


def _pseudonym(prefix: str, used: set[str]) -> str:
    while True:
        p = prefix + secrets.token_hex(5).upper()
        if p not in used:
            used.add(p)
            return p


def _opted_out(s, on: dt.date) -> set[str]:
    """Persons on the opt-out register on ``on`` (the one rule: queries.opted_out)."""
    return Q.opted_out(s, on)


def _current_run(s) -> ScoreRun | None:
    return s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))


def _school_of(s) -> dict[str, str]:
    """Each person's current school (queries.current_schools)."""
    return {pid: c.school for pid, c in Q.current_schools(s).items()}


def _suppress(persons: list[dict], min_cell: int) -> int:
    """Coarsen rare (birth month, sex, school) groups: month → year, then school blanked. Returns rows changed."""
    changed = 0
    groups = Counter((p["birth_month"], p["sex"], p["school"]) for p in persons)
    for p in persons:
        if groups[(p["birth_month"], p["sex"], p["school"])] < min_cell and p["birth_month"]:
            p["birth_month"] = p["birth_month"][:4]
            changed += 1
    groups = Counter((p["birth_month"], p["sex"], p["school"]) for p in persons)
    for p in persons:
        if groups[(p["birth_month"], p["sex"], p["school"])] < min_cell and p["school"]:
            p["school"] = None
            changed += 1
    return changed


@service("data.share", what="pseudonymised export")
def export_pseudonymised(
    ws: Workspace,
    out_dir: Path,
    purpose: str,
    *,
    tables=TABLES,
    min_cell: int | None = None,
    children_only: bool = True,
) -> dict:
    """Write the chosen tables to ``out_dir`` (Parquet + CSV) and the encrypted key table beside it."""
    purpose = (purpose or "").strip()
    if not purpose:
        raise InputRefused("提供の目的（--purpose）を書いてください。ファイル簿と記録に残ります。")
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise InputRefused(f"出力できる表は {', '.join(TABLES)} です（{', '.join(unknown)} はありません）。")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputRefused(f"出力先 {out_dir} は空ではありません。新しいフォルダを指定してください。")
    key_path = out_dir.with_name(out_dir.name + ".keytable")
    if key_path.exists():
        raise InputRefused(f"対応表 {key_path} が既にあります。別の出力先を指定してください。")
    with ws.session() as s:
        today = dt.date.today()
        opted = _opted_out(s, today)
        run = _current_run(s)
        scores = (
            {c.person_id: c for c in s.scalars(select(ChildScore).where(ChildScore.run_id == run.id))} if run else {}
        )
        people = [p for p in s.scalars(select(Person).order_by(Person.id)) if p.id not in opted]
        if children_only:
            cutoff = today.replace(year=today.year - 19)
            people = [p for p in people if p.birth_date and p.birth_date > cutoff]
        schools = _school_of(s)
        used: set[str] = set()
        pseud = {p.id: _pseudonym("X", used) for p in people}
        households: dict[str | None, str] = {}
        for p in people:
            if p.household_id and p.household_id not in households:
                households[p.household_id] = _pseudonym("H", used)
        data: dict[str, list[dict]] = {t: [] for t in TABLES}
        for p in people:
            data["persons"].append(
                {
                    "pseudonym": pseud[p.id],
                    "household": households.get(p.household_id),
                    "birth_month": _month(p.birth_date),
                    "sex": p.sex,
                    "school": schools.get(p.id),
                    "in_registry": bool(p.in_registry),
                }
            )
            c = scores.get(p.id)
            if c is not None and run is not None:  # (no run, no scores)
                det = c.details or {}
                data["scores"].append(
                    {
                        "pseudonym": pseud[p.id],
                        "as_of_month": _month(run.as_of),
                        "total": c.total,
                        "band": c.band,
                        "types": c.types,
                        "flagged": bool(c.flagged),
                        "basic_items": c.basic_items,
                        "own_points": det.get("own_points"),
                        "household_points": det.get("household_points"),
                    }
                )
                for r in det.get("reasons") or []:
                    if not isinstance(r, dict):
                        continue
                    data["indicators"].append(
                        {
                            "pseudonym": pseud[p.id],
                            "indicator": r.get("indicator"),
                            "label": r.get("label"),
                            "kind": r.get("kind"),
                            "points": r.get("points"),
                            "source_type": r.get("source_type"),
                            "record_month": _month(r.get("record_date")),
                        }
                    )
        rounds = {r.id: r for r in s.scalars(select(ReviewRound))}
        for rc in s.scalars(select(RoundCandidate)):
            if rc.person_id in pseud:
                rr = rounds.get(rc.round_id)
                data["rounds"].append(
                    {
                        "pseudonym": pseud[rc.person_id],
                        "round_id": rc.round_id,
                        "round": rr.name if rr else None,
                        "round_month": _month(rr.as_of) if rr else None,
                        "label": rc.classification,
                    }
                )
        for sc in s.scalars(select(SupportCase)):
            if sc.person_id in pseud:
                data["cases"].append(
                    {
                        "pseudonym": pseud[sc.person_id],
                        "opened_month": _month(sc.opened_on),
                        "closed_month": _month(sc.closed_on),
                        "lead_organisation": sc.lead_organisation,
                    }
                )
        suppressed = _suppress(data["persons"], min_cell) if min_cell and min_cell > 1 else 0
        export_id = f"E{today:%Y%m%d}-{secrets.token_hex(3).upper()}"
        key = os.urandom(32)
        s.add(
            Setting(
                key=SETTING_PREFIX + export_id,
                value={
                    "export_id": export_id,
                    "purpose": purpose,
                    "created_at": dt.datetime.now().replace(microsecond=0).isoformat(),
                    "created_by": ws.user.name,
                    "tables": list(tables),
                    "persons": len(people),
                    "min_cell": min_cell,
                    "out": str(out_dir),
                    "key": base64.b64encode(key).decode(),
                },
            )
        )
        # Written to a temporary folder and renamed at the end; the database records the export only if both the
        # folder and the key table are complete, and a failed export leaves neither behind.
        tmp_dir = out_dir.with_name(f".{out_dir.name}.tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        try:
            written = _write_tables(tmp_dir, {t: data[t] for t in tables}, export_id, purpose, min_cell)
            table = json.dumps({"export_id": export_id, "map": {v: k for k, v in pseud.items()}}).encode()
            write_bytes(key_path, seal_with_key(table, key, export_id.encode()))
            if out_dir.exists():
                out_dir.rmdir()  # empty (checked above)
            os.replace(tmp_dir, out_dir)
            ws.log(
                "export",
                detail={
                    "what": "pseudonymised",
                    "export_id": export_id,
                    "persons": len(people),
                    "tables": list(tables),
                    "suppressed": suppressed,
                },
                conn=s,
            )
            s.flush()
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            shutil.rmtree(out_dir, ignore_errors=True) if out_dir.exists() and not any(out_dir.iterdir()) else None
            key_path.unlink(missing_ok=True)
            raise
    return {
        "export_id": export_id,
        "out": str(out_dir),
        "key_table": str(key_path),
        "persons": len(people),
        "tables": {t: n for t, n in written.items()},
        "suppressed": suppressed,
        "purpose": purpose,
    }


def _write_tables(out_dir: Path, data: dict[str, list[dict]], export_id: str, purpose: str, min_cell) -> dict:
    private_dir(out_dir)
    counts = {}
    for name, rows in data.items():
        df = pd.DataFrame(rows, columns=COLUMNS[name])
        with open_private(out_dir / f"{name}.parquet", "wb") as fh:
            df.to_parquet(fh, index=False)
        write_csv(
            out_dir / f"{name}.csv", list(df.columns), ([_blank(v) for v in r] for r in df.itertuples(index=False))
        )
        counts[name] = len(rows)
    readme = {
        "export_id": export_id,
        "purpose": purpose,
        "tables": counts,
        "dates": "month (YYYY-MM); birth_month coarsened to YYYY where its group was small",
        "min_cell": min_cell,
        "pseudonyms": "made for this export only; the key table stays with the town",
    }
    with open_private(out_dir / "README.json", "w", encoding="utf-8") as fh:
        fh.write(json.dumps(readme, ensure_ascii=False, indent=2))
    return counts


def _blank(v):
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


@service("governance.read", what="pseudonymised exports")
def exports(ws: Workspace) -> list[dict]:
    """The pseudonymised exports made so far (no keys): for the file register and the self-inspection."""
    with ws.session() as s:
        rows = s.scalars(select(Setting).where(Setting.key.like(SETTING_PREFIX + "%"))).all()
        return [{k: v for k, v in (r.value or {}).items() if k != "key"} for r in rows]


def _key_table(s, key_path: Path) -> tuple[str, dict[str, str]]:
    data = Path(key_path).read_bytes()
    for row in s.scalars(select(Setting).where(Setting.key.like(SETTING_PREFIX + "%"))):
        v = row.value or {}
        try:
            plain = open_with_key(data, base64.b64decode(v["key"]), v["export_id"].encode())
        except InputRefused:
            continue
        t = json.loads(plain)
        return t["export_id"], t["map"]
    raise InputRefused("この対応表は、このデータベースから出力したものではありません（または壊れています）。")


@service("casework.write", what="attach pseudonymised results")
def attach_results(ws: Workspace, key_path: Path, results: Path, *, kind: str = "外部機関からの返却") -> dict:
    """Read a CSV keyed by pseudonym (columns ``pseudonym`` and ``note``, optional ``date`` and ``by``) and attach
    each note to its child through the key table. All or nothing: an unknown pseudonym refuses the whole file."""
    try:
        raw = Path(results).read_bytes()
    except OSError as e:
        raise InputRefused(f"ファイル {results} を読めません: {e.strerror}") from None
    for enc in ("utf-8-sig", "cp932"):
        try:
            text_ = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputRefused("文字コードを判別できません（UTF-8 か Shift_JIS で保存してください）。")
    reader = csv.DictReader(text_.splitlines())
    cols = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "pseudonym" not in cols or "note" not in cols:
        raise InputRefused("返却ファイルには列 pseudonym と note が必要です。")
    with ws.session() as s:
        export_id, table = _key_table(s, key_path)
        notes, errors = [], []
        for n, row in enumerate(reader, start=2):
            ps = (row.get(cols["pseudonym"]) or "").strip()
            note = (row.get(cols["note"]) or "").strip()
            if not ps and not note:
                continue
            pid = table.get(ps)
            if pid is None:
                errors.append(f"{n}行目「pseudonym」: {ps or '（空欄）'} はこの提供の仮名ではありません。")
                continue
            if s.get(Person, pid) is None:
                errors.append(f"{n}行目: 対象のこどもはこのデータベースにもういません。")
                continue
            if not note:
                errors.append(f"{n}行目「note」: 空欄です。")
                continue
            extra = " ".join(
                f"{k}: {(row.get(cols[k]) or '').strip()}" for k in ("date", "by") if k in cols and row.get(cols[k])
            )
            notes.append((pid, f"［{kind}・{export_id}］{note}" + (f"（{extra}）" if extra else "")))
        if errors:
            raise InputRefused(
                f"返却ファイルに誤りが {len(errors)} 件あるため、何も取り込みませんでした。\n" + "\n".join(errors[:10])
            )
        if not notes:
            raise NotFound("返却ファイルに取り込む行がありません。")
        for pid, t in notes:
            s.add(Note(person_id=pid, text=t, created_by=ws.user.name))
        ws.log("import", detail={"what": "pseudonymised_results", "export_id": export_id, "notes": len(notes)}, conn=s)
    return {"export_id": export_id, "attached": len(notes), "persons": len({p for p, _ in notes})}
