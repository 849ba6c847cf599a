"""Information sheets that go out and come back electronically (喬木村 こども情報管理シート, 開成町 情報収集シート,
延岡市): the observation-checklist round trip generalised to any sheet the town designs.

A sheet definition (kept in the database, ``Setting`` ``information_sheet:<key>``) names its fields — text, choice
(a drop-down), number, date, yes/no — and the columns pre-filled from the town's own data. :func:`write_sheet` makes
one workbook per school or nursery: one row per child with a row key (which survives sorting and catches a mistyped
digit), drop-downs, the pre-filled columns locked, optionally encrypted with a file password. :func:`import_sheet`
reads it back all or nothing — every wrong cell by row and column — into a source batch ``information_sheet`` whose
records are linked to their child by the row key (never by name), so the child's page and the scoring read them.

The risk-only hand-off (:func:`write_watch_list`) is one such sheet: the children of a school or nursery who should
be watched, with no points, no department and no welfare fact (``audience`` decides), and a column for the
teacher's notes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import insert, select, update

from .. import audience as A
from ..checklists.service import _decrypt_workbook, pupils
from ..errors import InputRefused, NotFound
from ..importing.values import to_date
from ..outputs import safe_cell, save_workbook
from ..services import service
from ..storage.models import ChildScore, Link, ScoreRun, Setting, SourceBatch, SourceRecord

if TYPE_CHECKING:
    from ..workspace import Workspace

SETTING_PREFIX = "information_sheet:"
SOURCE_TYPE = "information_sheet"
FIELD_TYPES = ("text", "choice", "number", "date", "yesno")
PREFILL = {"name": "氏名", "name_kana": "ふりがな", "grade": "学年", "class": "組"}
YES_NO = {"はい": True, "いいえ": False}
SHEET = "シート"
KEY_HEADER = "行キー"

WATCH_LIST: dict[str, Any] = {  # a sheet definition: the JSON document a defined sheet keeps in settings
    "key": "watch_list",
    "title": "見守りをお願いしたいこどもの一覧",
    "intro": "日ごろの様子で気づいたことを書いてください。取扱注意（校内で保管し、返送後は削除してください）。",
    "prefill": ["name", "name_kana", "grade", "class"],
    "fields": [
        {"key": "recent", "label": "最近の様子", "type": "text"},
        {"key": "change", "label": "気になる変化", "type": "yesno"},
        {"key": "contact", "label": "町に伝えたいこと", "type": "text"},
    ],
}


def validate_definition(d: dict) -> dict:
    """A sheet definition that can be written and read back; refuses with every problem named."""
    errors = []
    key = str(d.get("key") or "").strip()
    if not re.fullmatch(r"[a-z0-9_]{1,40}", key):
        errors.append("key は半角英小文字・数字・_ で 40 文字までにしてください。")
    if not str(d.get("title") or "").strip():
        errors.append("title（シートの題名）がありません。")
    fields = d.get("fields") or []
    if not fields:
        errors.append("fields（記入欄）が 1 つもありません。")
    seen = set()
    for n, f in enumerate(fields, start=1):
        fk, ft = str(f.get("key") or ""), f.get("type")
        if not re.fullmatch(r"[a-z0-9_]{1,40}", fk) or fk in seen:
            errors.append(f"fields の {n} 番目: key が不正か重複しています（{fk or '空'}）。")
        seen.add(fk)
        if ft not in FIELD_TYPES:
            errors.append(f"fields の {n} 番目: type は {', '.join(FIELD_TYPES)} のどれかです（{ft}）。")
        if ft == "choice" and not f.get("choices"):
            errors.append(f"fields の {n} 番目: choice には choices（選択肢）が必要です。")
        if not str(f.get("label") or "").strip():
            errors.append(f"fields の {n} 番目: label（見出し）がありません。")
    if (d.get("audience") or "school") not in A.AUDIENCES:
        errors.append(f"audience は {', '.join(A.AUDIENCES)} のどれかです（{d.get('audience')}）。")
    bad = [p for p in d.get("prefill") or [] if p not in PREFILL]
    if bad:
        errors.append(f"prefill に使えるのは {', '.join(PREFILL)} です（{', '.join(bad)}）。")
    if errors:
        raise InputRefused("シートの定義に誤りがあります。\n" + "\n".join(errors))
    return {
        "key": key,
        "title": str(d["title"]).strip(),
        "intro": str(d.get("intro") or "").strip(),
        "prefill": list(d.get("prefill") or ["name", "name_kana", "grade", "class"]),
        "audience": d.get("audience") or "school",
        "fields": [
            {k: f[k] for k in ("key", "label", "type", "choices") if k in f and f[k] is not None} for f in fields
        ],
    }


@service("settings", what="information sheet definition")
def define_sheet(ws: Workspace, d: dict) -> dict:
    d = validate_definition(d)
    with ws.session() as s:
        row = s.get(Setting, SETTING_PREFIX + d["key"])
        if row is None:
            s.add(Setting(key=SETTING_PREFIX + d["key"], value=d))
        else:
            row.value = d
        ws.log(
            "settings_changed",
            detail={"what": "information_sheet", "key": d["key"], "fields": len(d["fields"])},
            conn=s,
        )
    return {"sheet": d["key"], "fields": len(d["fields"])}


def definition(s, key: str) -> dict:
    if key == WATCH_LIST["key"]:
        return validate_definition(WATCH_LIST)
    row = s.get(Setting, SETTING_PREFIX + key)
    if row is None:
        raise NotFound(f"シート「{key}」の定義はありません。")
    return row.value


@service("data.share", what="information sheets")
def sheet_choices(ws: Workspace) -> list[tuple[str, str]]:
    """(key, title) of the sheets that can go out: the watch list first, then the sheets the town defined."""
    with ws.session() as s:
        rows = s.scalars(select(Setting).where(Setting.key.like(SETTING_PREFIX + "%")).order_by(Setting.key)).all()
        defined = [(r.value["key"], r.value.get("title") or r.value["key"]) for r in rows if r.value]
    return [(WATCH_LIST["key"], WATCH_LIST["title"]), *defined]


def row_key(sheet_key: str, person_id: str) -> str:
    base = f"{sheet_key}-{person_id}"
    return f"{base}-{hashlib.sha256(base.encode()).hexdigest()[:4].upper()}"


def parse_row_key(sheet_key: str, v) -> str | None:
    if not isinstance(v, str) or not v.startswith(sheet_key + "-"):
        return None
    parts = v.strip()[len(sheet_key) + 1 :].split("-")
    if len(parts) != 2 or row_key(sheet_key, parts[0]) != v.strip():
        return None
    return parts[0]


def _pupils(ws: Workspace, school: str, s) -> list[dict]:

    return pupils(ws, school, s=s)


def _build(d: dict, school: str, rows: list[dict], town: str | None):
    wb = Workbook()
    sh = wb.active
    sh.title = SHEET
    safe_cell(sh, 1, 1, f"{d['title']}（{school}）")
    sh.cell(1, 1).font = Font(bold=True, size=14)
    safe_cell(
        sh, 2, 1, d.get("intro") or "取扱注意。記入後、保存して返送してください。行キーの列は変更しないでください。"
    )
    safe_cell(sh, 3, 1, f"シート: {d['key']}　作成: {dt.date.today().isoformat()}　{town or ''}")
    header = [KEY_HEADER] + [PREFILL[p] for p in d["prefill"]] + [f["label"] for f in d["fields"]]
    hr = 5
    for c, h in enumerate(header, start=1):
        safe_cell(sh, hr, c, h)
        sh.cell(hr, c).font = Font(bold=True)
        sh.cell(hr, c).fill = PatternFill("solid", fgColor="DDEBF7")
        sh.cell(hr, c).alignment = Alignment(wrap_text=True, vertical="center")
    first_field = 2 + len(d["prefill"])
    for r, p in enumerate(rows, start=hr + 1):
        safe_cell(sh, r, 1, row_key(d["key"], p["person_id"]))
        for c, k in enumerate(d["prefill"], start=2):
            safe_cell(sh, r, c, p.get(k) or "")
        for c in range(first_field, first_field + len(d["fields"])):
            sh.cell(r, c).protection = Protection(locked=False)
    last = hr + max(len(rows), 1)
    for i, f in enumerate(d["fields"]):
        col = sh.cell(hr, first_field + i).column_letter
        if f["type"] in ("choice", "yesno"):
            opts = f["choices"] if f["type"] == "choice" else list(YES_NO)
            dv = DataValidation(type="list", formula1='"' + ",".join(opts) + '"', allow_blank=True)
            dv.error, dv.errorTitle = "一覧から選んでください。", "入力できない値です"
            sh.add_data_validation(dv)
            dv.add(f"{col}{hr + 1}:{col}{last}")
        sh.column_dimensions[col].width = 30 if f["type"] == "text" else 14
    sh.column_dimensions["A"].width = 22
    sh.column_dimensions["B"].width = 16
    sh.freeze_panes = sh.cell(hr + 1, 2)
    sh.protection.sheet = True  # the row keys and the pre-filled columns cannot be typed over by mistake
    sh.protection.sort = False
    sh.protection.autoFilter = False
    return wb


def _town(s) -> str | None:
    t = s.get(Setting, "town_name")
    v = t.value if t else None
    if isinstance(v, dict):
        v = v.get("name")
    return str(v) if v else None


@service("data.share", what="information sheet")
def write_sheet(
    ws: Workspace,
    key: str,
    school: str,
    out: Path,
    *,
    password: str | None = None,
    person_ids=None,
    audience: str | None = None,
) -> dict:
    """One workbook for one school or nursery: its children, one row each, with a row key."""
    with ws.session() as s:
        d = definition(s, key)
        rows = _pupils(ws, school, s)
        if person_ids is not None:
            keep = set(person_ids)
            rows = [r for r in rows if r["person_id"] in keep]
        if not rows and person_ids is None:
            raise NotFound(f"「{school}」のこどもは見つかりません（学校・園の記録がありません）。")
        town = _town(s)
        ws.log(
            "export",
            detail={"what": "information_sheet", "sheet": key, "rows": len(rows), "encrypted": bool(password)},
            conn=s,
        )
    wb = _build(d, school, rows, town)
    aud = A.get(audience or d.get("audience") or "school")
    # The last guard: nothing printed for a school or nursery may carry a welfare word (names, headings, notes).
    for row in wb[SHEET].iter_rows(values_only=True):
        for v in row:
            if isinstance(v, str):
                aud.assert_clean(v, where=f"{d['title']}")
    save_workbook(wb, out, password=password)
    return {"sheet": key, "school": school, "rows": len(rows), "out": str(out), "encrypted": bool(password)}


def watch_list_ids(s, school_ids: set[str]) -> list[str]:
    """The children to watch: flagged in the newest score run. Only ids leave this function — no points, no
    reasons, no department (the school's audience may not see them)."""
    run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
    if run is None:
        return []
    flagged = s.scalars(select(ChildScore.person_id).where(ChildScore.run_id == run.id, ChildScore.flagged.is_(True)))
    return sorted(set(flagged) & school_ids)


@service("data.share", what="watch list")
def write_watch_list(ws: Workspace, school: str, out: Path, *, password: str | None = None) -> dict:
    """The risk-only hand-off for a school or nursery (an encrypted workbook that comes back with notes)."""
    with ws.session() as s:
        ids = watch_list_ids(s, {p["person_id"] for p in _pupils(ws, school, s)})
    res = write_sheet(ws, WATCH_LIST["key"], school, out, password=password, person_ids=ids, audience="school")
    return {**res, "children": len(ids)}


def _value(f: dict, v, rn: int, errors: list[dict]):
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    t = f["type"]
    if t == "text":
        return str(v).strip()
    if t == "choice":
        if str(v).strip() in f["choices"]:
            return str(v).strip()
        errors.append({"row": rn, "column": f["label"], "message": f"選択肢にない値です（{v}）。"})
    elif t == "yesno":
        if str(v).strip() in YES_NO:
            return YES_NO[str(v).strip()]
        errors.append({"row": rn, "column": f["label"], "message": "「はい」か「いいえ」を選んでください。"})
    elif t == "number":
        try:
            return float(v) if not isinstance(v, (int, float)) else v
        except ValueError:
            errors.append({"row": rn, "column": f["label"], "message": f"数値ではありません（{v}）。"})
    elif t == "date":
        if isinstance(v, dt.datetime):
            return v.date().isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()

        d = to_date(v)
        if d is not None:
            return d.isoformat()
        errors.append({"row": rn, "column": f["label"], "message": f"日付として読めません（{v}）。"})
    return None


@service("import", what="information sheet import")
def import_sheet(ws: Workspace, path: Path, *, password: str | None = None) -> dict:
    """Read a returned sheet back, all or nothing; a later return of the same sheet and school supersedes it."""

    data = Path(path).read_bytes()
    try:
        plain = _decrypt_workbook(data, password)
        wb = load_workbook(io.BytesIO(plain), data_only=True)
        sh = wb[SHEET]
        # A cell the teacher typed as a formula (=…) is never evaluated: its cached value is taken, and where it
        # has none (openpyxl, LibreOffice without recalculation) the formula's text is kept as plain text, flagged.
        formulas = load_workbook(io.BytesIO(plain), data_only=False)[SHEET]
    except InputRefused:
        raise
    except Exception:
        raise InputRefused(f"情報シートのファイルとして読めません（「{SHEET}」シートがありません）。") from None
    meta = str(sh.cell(3, 1).value or "")
    m = re.match(r"シート: ([a-z0-9_]+)", meta)
    title = str(sh.cell(1, 1).value or "")
    school_m = re.search(r"（(.+)）$", title)
    if not m or not school_m:
        raise InputRefused(
            "配布したシートの見出し（1〜3 行目）が変わっています。配布したひな形をそのまま使ってください。"
        )
    key, school = m.group(1), school_m.group(1)
    hr = 5
    headers = [c.value for c in sh[hr]]
    if not headers or headers[0] != KEY_HEADER:
        raise InputRefused("「行キー」の見出しが見つかりません。配布したひな形をそのまま使ってください。")
    digest = hashlib.sha256(data).hexdigest()
    with ws.session() as s:
        d = definition(s, key)
        col = {h: i for i, h in enumerate(headers) if h}
        missing = [f["label"] for f in d["fields"] if f["label"] not in col]
        if missing:
            raise InputRefused(
                f"列が見つかりません: {', '.join(missing)}（列を消したり名前を変えたりしないでください）。"
            )
        errors: list[dict] = []
        warnings: list[str] = []
        good = []
        for row in sh.iter_rows(min_row=hr + 1):
            values = [c.value for c in row]
            if not any(v not in (None, "") for v in values):
                continue
            rn = row[0].row
            for i, c in enumerate(row):
                f = formulas.cell(rn, c.column).value
                if isinstance(f, str) and f.startswith("="):
                    if values[i] is None:
                        values[i] = f
                    warnings.append(
                        f"{rn}行目「{headers[i] if i < len(headers) else i + 1}」: 数式は計算せず文字として読みました。"
                    )
            pid = parse_row_key(key, values[0])
            if pid is None:
                errors.append(
                    {"row": rn, "column": KEY_HEADER, "message": "行キーが配布時と違います（変更しないでください）。"}
                )
                continue
            answers = {}
            for f in d["fields"]:
                v = _value(f, values[col[f["label"]]] if col[f["label"]] < len(values) else None, rn, errors)
                if v is not None:
                    answers[f["key"]] = v
            good.append((rn, pid, answers))
        if errors:
            lines = [f"{e['row']}行目「{e['column']}」: {e['message']}" for e in errors[:10]]
            raise InputRefused(
                f"シートに誤りが {len(errors)} 件あるため、取り込みませんでした。直してからもう一度取り込んでください。\n"
                + "\n".join(lines)
            )
        if s.scalar(select(SourceBatch.id).where(SourceBatch.file_hash == digest, SourceBatch.removed_at.is_(None))):
            raise InputRefused("このファイルは取り込み済みです。")
        scope = f"{key}|{school}"
        older = s.scalars(
            select(SourceBatch.id).where(
                SourceBatch.source_type == SOURCE_TYPE,
                SourceBatch.scope == scope,
                SourceBatch.removed_at.is_(None),
                SourceBatch.superseded_by.is_(None),
            )
        ).all()
        filled = [g for g in good if g[2]]
        b = SourceBatch(
            source_type=SOURCE_TYPE,
            file_name=f"{d['title']} {school}（{Path(path).name}）",
            file_hash=digest,
            as_of=dt.date.today(),
            imported_by=ws.user.name,
            rows_total=len(good),
            rows_imported=len(filled),
            scope=scope,
            mapping={"via": "information_sheet", "sheet": key},
        )
        s.add(b)
        s.flush()
        if filled:
            s.execute(
                insert(SourceRecord),
                [
                    {
                        "batch_id": b.id,
                        "source_type": SOURCE_TYPE,
                        "row_number": rn,
                        "source_key": pid,
                        "subject": "self",
                        "raw": {"answers": ans},
                        "school": school,
                        "record_date": b.as_of,
                        "attributes": {"sheet": key, **ans},
                    }
                    for rn, pid, ans in filled
                ],
            )
            ids = s.execute(select(SourceRecord.id, SourceRecord.source_key).where(SourceRecord.batch_id == b.id)).all()
            s.execute(
                insert(Link),
                [
                    {"record_id": rid, "person_id": pid, "status": "auto", "method": "row_key", "probability": 1.0}
                    for rid, pid in ids
                ],
            )
        if older:
            s.execute(update(SourceBatch).where(SourceBatch.id.in_(older)).values(superseded_by=b.id))
        ws.log(
            "import", detail={"what": "information_sheet", "sheet": key, "batch_id": b.id, "rows": len(filled)}, conn=s
        )
    return {
        "batch_id": b.id,
        "sheet": key,
        "school": school,
        "rows": len(good),
        "filled": len(filled),
        "warnings": warnings,
    }
