"""School observation checklists: definitions, rounds, in-app entry under a school account, the per-school Excel
round trip, and results that feed the score.

A school user sees only its own school's pupils (``Workspace.require_school``) and never scores or other
departments' data. A school user works in the school's own workspace (core/schoolspace.py): the same functions
read and write its database there (``_is_school``); the coordinator's side fills it and reads it back (sync.py)
when a round opens, at ``status`` and before scoring. Results become ``school_checklist`` source records (attributes: round, group_counts, answers),
so the scoring catalogue reads them like any other source. Workbook rows are matched by a row key, never by name.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

from ...resources import resource_path
from .. import outputs
from .. import queries as Q
from .. import schoolspace as SW
from ..errors import InputRefused, NotFound
from ..i18n import msg
from ..services import service
from ..storage.models import (
    ChecklistDefinition,
    ChecklistEntry,
    ChecklistRound,
    Person,
)
from . import sync
from .results import _write_results, group_counts, round_definition  # noqa: E402,F401  (re-exported)

if TYPE_CHECKING:
    from ..workspace import Workspace

DEFAULT_DEFINITION = "abuse_observation"
ANSWER_CODES = {"1": "該当", "2": "非該当", "0": "不明"}
ANSWER_VALUES = {"該当": "1", "非該当": "2", "不明": "0", "1": "1", "2": "2", "0": "0", "": None}


def _now():
    return dt.datetime.now().replace(microsecond=0)


def _is_school(ws: Workspace) -> bool:
    """A school user's session: the school's own workspace, not the town database."""
    return bool(getattr(ws, "is_school", False))


# --- definitions --------------------------------------------------------------------------------------------------
def load_default_definitions() -> dict[str, dict]:
    out = {}
    for p in sorted(Path(resource_path("checklists")).glob("*.json")):
        d = json.loads(p.read_text(encoding="utf-8"))
        out[d["key"]] = d
    return out


def ensure_definitions(s) -> None:
    if s.bind is not None and "pupil" in _tables(s):
        return  # a school workspace holds the definitions the coordinator pushed, nothing else
    have = {(d.key, d.version) for d in s.scalars(select(ChecklistDefinition))}
    for key, d in load_default_definitions().items():
        if (key, d.get("version", 1)) not in have:
            s.add(ChecklistDefinition(key=key, version=d.get("version", 1), data=d))
    s.flush()


def _tables(s) -> set[str]:
    return {r[0] for r in s.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}


def definitions(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        ensure_definitions(s)
        latest = {}
        for d in s.scalars(select(ChecklistDefinition).order_by(ChecklistDefinition.version)):
            latest[d.key] = d
        return [
            {
                "id": d.id,
                "key": d.key,
                "version": d.version,
                "title": d.data.get("title_ja"),
                "items": len(d.data.get("items", [])),
            }
            for d in latest.values()
        ]


@service("checklist.manage", what="checklist definition")
def save_definition(ws: Workspace, data: dict) -> int:
    """A new version of a definition (edited in the app); old rounds keep the version they were opened with."""
    if not data.get("key") or not data.get("items"):
        raise InputRefused("チェックリストの定義には key と items が必要です。")
    with ws.session() as s:
        v = (
            s.scalar(select(func.max(ChecklistDefinition.version)).where(ChecklistDefinition.key == data["key"])) or 0
        ) + 1
        d = ChecklistDefinition(key=data["key"], version=v, data={**data, "version": v})
        s.add(d)
        s.flush()
        ws.log("settings_changed", detail={"what": "checklist_definition", "key": data["key"], "version": v}, conn=s)
        return d.id


# --- pupils -------------------------------------------------------------------------------------------------------
@service("checklist.enter", what="pupils")
def pupils(ws: Workspace, school: str | None, *, s=None) -> list[dict]:
    """Children of one school (from their newest linked school record), without anyone on the opt-out register."""
    ws.require_school(school)

    def run_school(s):
        rows = s.execute(select(SW.SS.pupil)).all()
        out = [
            {
                "person_id": r.person_id,
                "name": r.name,
                "name_kana": r.kana,
                "grade": r.grade or "",
                "class": r.class_name or "",
            }
            for r in rows
        ]
        out.sort(key=lambda p: (_num(p["grade"]), _num(p["class"]), p["name_kana"] or ""))
        return out

    def run(s):
        if _is_school(ws):
            return run_school(s)
        schools = Q.current_schools(s)
        latest = {pid: (c.school, c.grade, c.class_name) for pid, c in schools.items()}
        ids = [pid for pid, (sch, _, _) in latest.items() if sch == school]
        excluded = Q.opted_out(s)
        persons = {p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))}
        out = [
            {
                "person_id": pid,
                "name": persons[pid].name,
                "name_kana": persons[pid].name_kana,
                "grade": latest[pid][1] or "",
                "class": latest[pid][2] or "",
            }
            for pid in ids
            if pid in persons and pid not in excluded
        ]
        out.sort(key=lambda p: (_num(p["grade"]), _num(p["class"]), p["name_kana"] or ""))
        return out

    if s is not None:
        return run(s)
    with ws.session() as s2:
        out = run(s2)
        ws.log("view_list", detail={"list": "pupils", "school": school, "rows": len(out)}, conn=s2)
        return out


def _num(v):
    try:
        return (0, int(str(v).strip("年組")))
    except ValueError:
        return (1, str(v))


def schools(ws: Workspace) -> list[str]:
    if _is_school(ws):
        return [ws.user.school] if ws.user.school else []
    with ws.session() as s:
        return sorted(
            x
            for (x,) in s.execute(
                text(
                    "SELECT DISTINCT r.school FROM source_record r JOIN source_batch b ON b.id=r.batch_id "
                    "WHERE r.school IS NOT NULL AND b.removed_at IS NULL AND r.source_type != 'school_checklist'"
                )
            ).all()
        )


# --- rounds ------------------------------------------------------------------------------------------------------
@service("checklist.manage", what="checklist round")
def open_round(
    ws: Workspace,
    name: str,
    *,
    definition_key: str = DEFAULT_DEFINITION,
    schools_: list[str] | None = None,
    grades: list[str] | None = None,
    due_on: dt.date | None = None,
    opened_on: dt.date | None = None,
) -> int:
    if not (name or "").strip():
        raise InputRefused("ラウンド名を入力してください。")
    with ws.session() as s:
        ensure_definitions(s)
        d = s.scalar(
            select(ChecklistDefinition)
            .where(ChecklistDefinition.key == definition_key)
            .order_by(ChecklistDefinition.version.desc())
            .limit(1)
        )
        if d is None:
            raise NotFound(f"チェックリスト {definition_key} はありません。")
        r = ChecklistRound(
            name=name.strip(),
            definition_id=d.id,
            schools=schools_ or None,
            grades=grades or None,
            opened_on=opened_on or dt.date.today(),
            due_on=due_on,
            created_by=ws.user.name,
        )
        s.add(r)
        s.flush()
        ws.log("settings_changed", detail={"what": "checklist_round", "round_id": r.id}, conn=s)
        rid = r.id

    sync.sync(ws, quiet=True)
    return rid


def current_round(s, school: str | None = None) -> ChecklistRound | None:
    q = select(ChecklistRound).where(ChecklistRound.closed_at.is_(None)).order_by(ChecklistRound.id.desc())
    for r in s.scalars(q):
        if school is None or not r.schools or school in r.schools:
            return r
    return None


def _ensure_round(ws: Workspace, s, school: str, round_name: str | None) -> ChecklistRound:
    if round_name:
        r = s.scalar(select(ChecklistRound).where(ChecklistRound.name == round_name).order_by(ChecklistRound.id.desc()))
        if r is None:
            raise NotFound(f"チェックリストのラウンド「{round_name}」はありません。")
        return r
    r = current_round(s, school)
    if r is None:
        if not ws.can("checklist.manage"):
            raise InputRefused("実施中のチェックリストのラウンドがありません。コーディネーターに連絡してください。")
        ensure_definitions(s)
        d = s.scalar(
            select(ChecklistDefinition)
            .where(ChecklistDefinition.key == DEFAULT_DEFINITION)
            .order_by(ChecklistDefinition.version.desc())
            .limit(1)
        )
        r = ChecklistRound(
            name=f"{dt.date.today():%Y年%m月}実施",
            definition_id=d.id,
            opened_on=dt.date.today(),
            created_by=ws.user.name,
        )
        s.add(r)
        s.flush()
        s.info["round_created"] = True  # the schools' workspaces get it once committed
    return r


# --- in-app entry -------------------------------------------------------------------------------------------------
@service("checklist.enter", what="checklist read")
def school_round(ws: Workspace, school: str) -> dict | None:
    """The round a school enters now: ``{"id", "name", "due_on", "definition"}``, or None when none is open."""
    ws.require_school(school)
    with ws.session() as s:
        r = current_round(s, school)
        if r is None:
            return None
        return {"id": r.id, "name": r.name, "due_on": r.due_on, "definition": round_definition(s, r)}


@service("checklist.enter", what="checklist read")
def entries(ws: Workspace, round_id: int, school: str) -> dict[str, dict]:
    ws.require_school(school)
    with ws.session() as s:
        return {
            e.person_id: {"answers": e.answers, "remark": e.remark, "status": e.status, "via": e.via}
            for e in s.scalars(
                select(ChecklistEntry).where(
                    ChecklistEntry.round_id == round_id,
                    ChecklistEntry.school == school,
                    ChecklistEntry.superseded.is_(False),
                )
            )
        }


@service("checklist.enter", what="checklist save", person="person_id")
def save_entry(
    ws: Workspace,
    round_id: int,
    person_id: str,
    answers: dict,
    remark: str | None = None,
    *,
    submit: bool = False,
    via: str = "app",
) -> None:
    with ws.session() as s:
        school = _school_of(ws, s, person_id)
    ws.require_school(school)  # outside the session: the refusal is logged, not rolled back
    with ws.session() as s:
        r = s.get(ChecklistRound, round_id)
        if r is None:
            raise NotFound(f"ラウンド {round_id} はありません。")
        d = round_definition(s, r)
        valid = {i["id"] for i in d["items"]}
        clean = {}
        for k, v in answers.items():
            if k not in valid:
                raise InputRefused(f"項目 {k} はこのチェックリストにありません。")
            code = ANSWER_VALUES.get(str(v).strip() if v is not None else "")
            if code is None and v not in (None, ""):
                raise InputRefused(f"回答「{v}」は使えません（該当・非該当・不明）。")
            if code is not None:
                clean[k] = code
        e = s.scalar(
            select(ChecklistEntry).where(
                ChecklistEntry.round_id == round_id,
                ChecklistEntry.person_id == person_id,
                ChecklistEntry.superseded.is_(False),
            )
        )
        if e is not None and e.status == "submitted" and not ws.can("checklist.manage"):
            raise InputRefused("提出済みです。修正はコーディネーターに再開してもらってください。")
        if e is None:
            e = ChecklistEntry(round_id=round_id, person_id=person_id, school=school)
            s.add(e)
        e.answers, e.remark, e.via, e.entered_by, e.entered_on = clean, remark, via, ws.user.name, dt.date.today()
        if e.status == "submitted" and submit:
            pass  # (the coordinator re-saving a submitted entry keeps it submitted)
        elif submit:
            e.status, e.submitted_at = "submitted", _now()
        else:
            e.status = "draft"
        s.flush()
        ws.log("checklist_saved", person_id, {"round_id": round_id, "submitted": submit, "via": via}, conn=s)


@service("checklist.enter", what="checklist submit")
def submit_school(ws: Workspace, round_id: int, school: str) -> int:
    """Submit every draft of one school: results become source records that the score reads."""
    ws.require_school(school)
    with ws.session() as s:
        r = s.get(ChecklistRound, round_id)
        drafts = s.scalars(
            select(ChecklistEntry).where(
                ChecklistEntry.round_id == round_id,
                ChecklistEntry.school == school,
                ChecklistEntry.superseded.is_(False),
            )
        ).all()
        if not any(e.answers or e.remark for e in drafts):
            # an empty return would count as "returned" and hide チェックリスト未回収
            raise InputRefused("まだ誰の回答も入力されていません。入力してから提出してください。")
        if r is None:  # (no round, no drafts: refused above)
            raise NotFound(f"ラウンド {round_id} はありません。")
        for e in drafts:
            if e.status != "submitted":
                e.status, e.submitted_at = "submitted", _now()
        if not _is_school(ws):  # a school's results are written by the town when it reads them back (sync.py)
            _write_results(ws, s, r, school, [e for e in drafts if e.answers], via="app")
        ws.log("checklist_submitted", detail={"round_id": round_id, "pupils": len(drafts)}, conn=s)
        return len(drafts)


@service("checklist.manage", what="checklist reopen", person="person_id")
def reopen(ws: Workspace, round_id: int, person_id: str) -> None:
    with ws.session() as s:
        e = s.scalar(
            select(ChecklistEntry).where(
                ChecklistEntry.round_id == round_id,
                ChecklistEntry.person_id == person_id,
                ChecklistEntry.superseded.is_(False),
            )
        )
        if e is None:
            raise NotFound("このこどものチェックリストはありません。")
        e.status = "draft"
        school = e.school
        ws.log("checklist_reopened", person_id, {"round_id": round_id}, conn=s)
    SW.reopen_entry(ws, school, round_id, person_id)  # the school's copy is a draft again


def _school_of(ws: Workspace, s, person_id: str) -> str | None:
    if _is_school(ws):  # a pupil of the school's workspace, else none of its business (refused by require_school)
        known = s.execute(select(SW.SS.pupil.c.person_id).where(SW.SS.pupil.c.person_id == person_id)).first()
        return ws.user.school if known is not None else None
    cur = Q.current_school(s, person_id)
    if cur is None and s.get(Person, person_id) is None:
        raise NotFound(msg("こども {person_id} はありません。", person_id=person_id))
    return cur.school if cur else None


# --- status ------------------------------------------------------------------------------------------------------
@service("checklist.enter", what="checklist status")
def status(ws: Workspace) -> dict:
    """Per school (and class): pupils, entered, submitted, not yet — for the current round."""
    if not _is_school(ws) and ws.can("checklist.manage"):
        sync.sync(ws, quiet=True)
    with ws.session() as s:
        r = current_round(s)
        sch_list = [ws.user.school] if ws.user.role == "school" else schools(ws)
        out = []
        for sch in sch_list:
            if r is not None and r.schools and sch not in r.schools:
                continue
            ps = pupils(ws, sch, s=s)
            es = (
                {}
                if r is None
                else {
                    e.person_id: e
                    for e in s.scalars(
                        select(ChecklistEntry).where(
                            ChecklistEntry.round_id == r.id,
                            ChecklistEntry.school == sch,
                            ChecklistEntry.superseded.is_(False),
                        )
                    )
                }
            )
            classes: dict[str, dict] = {}
            for p in ps:
                k = f"{p['grade']}年{p['class']}組" if p["grade"] else "—"
                c = classes.setdefault(k, {"class": k, "pupils": 0, "entered": 0, "submitted": 0})
                c["pupils"] += 1
                e = es.get(p["person_id"])
                if e is not None and e.answers:
                    c["entered"] += 1
                    c["submitted"] += e.status == "submitted"
            for c in classes.values():
                c["draft"], c["not_yet"] = c["entered"] - c["submitted"], c["pupils"] - c["entered"]
            entered = sum(c["entered"] for c in classes.values())
            submitted = sum(c["submitted"] for c in classes.values())
            out.append(
                {
                    "school": sch,
                    "pupils": len(ps),
                    "entered": entered,
                    "submitted": submitted,
                    "draft": entered - submitted,
                    "not_yet": len(ps) - entered,
                    "classes": list(classes.values()),
                }
            )
        return {"round": None if r is None else {"round_id": r.id, "name": r.name, "due_on": r.due_on}, "schools": out}


# --- Excel round trip --------------------------------------------------------------------------------------------
row_key = SW.row_key  # one row key for the town's and the school's workbooks
parse_row_key = SW.parse_row_key


@service("checklist.enter", what="checklist template")
def write_template(
    ws: Workspace, school: str, out: Path, *, round_name: str | None = None, password: str | None = None
) -> dict:
    """The school's workbook: instructions, one row per pupil with a row key, drop-downs, locked structure."""
    ws.require_school(school)
    with ws.session() as s:
        if school not in schools(ws):
            raise NotFound(f"学校「{school}」の児童生徒はいません。")
        r = _ensure_round(ws, s, school, round_name)
        d = round_definition(s, r)
        ps = pupils(ws, school, s=s)
        round_id, round_label, due_on = r.id, r.name, r.due_on
        created = s.info.pop("round_created", False)
    if created:
        sync.sync(ws, quiet=True)
    wb = _build_workbook(d, school, round_id, round_label, due_on, ps)
    out = Path(out)
    outputs.save_workbook(wb, out, password=password)  # text cells only; encrypted OOXML with a password
    ws.log(
        "export",
        detail={"what": "checklist_template", "pupils": len(ps), "round_id": round_id, "encrypted": bool(password)},
    )
    return {"pupils": len(ps), "school": school, "round": round_label, "out": str(out)}


GROUP_FILLS = ("DDEBF7", "FCE4D6", "E2EFDA", "FFF2CC", "EDE7F6", "F2F2F2")
ITEM_WIDTH = 7.5  # fits 非該当 at 10 pt
ITEMS_PER_PRINTED_PAGE = 24


def _build_workbook(d: dict, school: str, round_id: int, round_label: str, due_on, ps: list[dict]):
    """Layout of the school's workbook. A teacher fills it on screen (drop-downs, frozen names, item text in the
    header) or prints it: A4 landscape, header rows and the name columns repeated on every page, scaled to a
    whole number of pages wide (one for a short checklist; the 54-item set spreads over a few, still legible)."""
    from openpyxl import Workbook  # lazy: loads openpyxl, only needed here
    from openpyxl.styles import (  # lazy: loads openpyxl, only needed here
        Alignment,
        Border,
        Font,
        PatternFill,
        Protection,
        Side,
    )
    from openpyxl.utils import get_column_letter as L  # lazy: loads openpyxl, only needed here
    from openpyxl.worksheet.datavalidation import DataValidation  # lazy: loads openpyxl, only needed here
    from openpyxl.worksheet.properties import PageSetupProperties  # lazy: loads openpyxl, only needed here

    thin = Side(style="thin", color="808080")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    items, groups = d["items"], {g["id"]: g for g in d["groups"]}
    labels = "・".join(x["label"] for x in d.get("scale", [])) or "該当・非該当・不明"

    wb = Workbook()
    info = wb.active
    info.title = "記入のしかた"
    info.sheet_view.showGridLines = False
    info.column_dimensions["A"].width = 18
    info.column_dimensions["B"].width = 92
    info["A1"] = d["title_ja"]
    info["A1"].font = Font(bold=True, size=16, color="1F3864")
    rows = [
        ("学校", school),
        ("実施回", round_label),
        ("提出期限", f"{due_on:%Y年%m月%d日}" if due_on else "（担当者からの連絡のとおり）"),
        ("返送先", "こども家庭センター（担当者へ直接お渡しいただくか、指定の方法でお送りください）"),
        ("対象", f"{len(ps)} 人（「チェックリスト」シートに学年・組の順で並んでいます）"),
    ]
    for n, (k, v) in enumerate(rows, 3):
        info.cell(n, 1, k).font = Font(bold=True)
        info.cell(n, 1).fill = PatternFill("solid", fgColor="F2F2F2")
        info.cell(n, 2, v)
        for c in (1, 2):
            info.cell(n, c).border, info.cell(n, c).alignment = box, Alignment(vertical="center", wrap_text=True)
    steps = [
        "記入のしかた",
        f"1. 「チェックリスト」シートで、児童生徒ごとに各項目を {labels} から選んでください（セルを選ぶと▼の一覧が出ます）。",
        "2. 気になることや具体的な様子は、行の右端の「所見」欄に書いてください。",
        "3. 分からない項目、まだ観察できていない項目は空欄のままでかまいません。記入した行だけが取り込まれます。",
        "4. 並べ替え・絞り込みはできます。左端の「行キー」は照合に使うので変更・削除しないでください（氏名では照合しません）。",
        "5. 記入が終わったら上書き保存し、期限までに返送してください。同じ回のファイルを返し直すと、新しいほうが使われます。",
        "",
        "取扱い注意：このファイルには児童生徒の氏名が載っています。校外へ持ち出す・メールで送るときは、"
        "パスワードの設定など学校の規程に従ってください。",
        "このチェックリストは、支援が必要かもしれないこどもに早く気づくためのものです。"
        "該当があっても、それだけで虐待などと判断するものではありません。",
    ]
    for n, line in enumerate(steps, 3 + len(rows) + 1):
        c = info.cell(n, 1, line)
        info.merge_cells(start_row=n, start_column=1, end_row=n, end_column=2)
        c.alignment = Alignment(wrap_text=True, vertical="top")
        info.row_dimensions[n].height = 32 if len(line) > 68 else 18
        if n == 3 + len(rows) + 1:
            c.font = Font(bold=True, size=12, color="1F3864")
        elif line.startswith("取扱い注意"):
            c.font = Font(bold=True, color="C00000")
    info.page_setup.orientation = "landscape"
    info.page_setup.paperSize = info.PAPERSIZE_A4
    info.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    info.page_setup.fitToWidth, info.page_setup.fitToHeight = 1, 1
    info.oddHeader.right.text = "取扱注意"
    info.protection.sheet = True

    sh = wb.create_sheet("チェックリスト")
    wb.active = 1
    fixed = ["行キー", "学年", "組", "氏名", "ふりがな"]
    first_item, remark_col = len(fixed) + 1, len(fixed) + len(items) + 1
    sh["B1"] = f"{d['title_ja']}　{school}　{round_label}"  # B: column A (row keys) is not printed
    sh["B1"].font = Font(bold=True, size=13, color="1F3864")
    sh["A1"] = "行キーは変更しない"
    sh["A1"].font = Font(size=8, color="808080")
    note = sh.cell(1, first_item + min(8, max(len(items) - 1, 0)), f"回答は各セルの▼から {labels}。空欄 = 未記入。")
    note.font = Font(size=9, color="595959")
    # row 2: the item groups, merged over their items and coloured; row 3: the item texts
    order: list[str] = []
    spans: dict[int, list[int]] = {}
    for n, it in enumerate(items):
        if not order or order[-1] != it["group"]:
            order.append(it["group"])
            spans[len(order) - 1] = [n, n]
        spans[len(order) - 1][1] = n
    fills = {}
    for gi, g in enumerate(order):
        lo, hi = spans[gi]
        fills[g] = PatternFill("solid", fgColor=GROUP_FILLS[gi % len(GROUP_FILLS)])
        c = sh.cell(
            2,
            first_item + lo,
            f"{groups[g].get('part', '')}：{groups[g]['label_ja']}" if hi - lo >= 2 else groups[g]["label_ja"],
        )
        if hi > lo:
            sh.merge_cells(start_row=2, start_column=first_item + lo, end_row=2, end_column=first_item + hi)
        for col in range(first_item + lo, first_item + hi + 1):
            sh.cell(2, col).fill, sh.cell(2, col).border = fills[g], box
        c.font = Font(bold=True, size=9, color="1F3864")
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    sh.row_dimensions[2].height = 30
    head_fill = PatternFill("solid", fgColor="D9E2F3")
    for col, text_ in enumerate(
        fixed + [f"{n + 1}. {it['text_ja']}" for n, it in enumerate(items)] + ["所見（自由記述）"], 1
    ):
        c = sh.cell(3, col, text_)
        c.border = box
        c.font = Font(bold=True, size=9)
        if first_item <= col < remark_col:
            c.fill = fills[items[col - first_item]["group"]]
            c.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
        else:
            c.fill = head_fill
            c.alignment = Alignment(wrap_text=True, vertical="bottom", horizontal="center")
    sh.row_dimensions[3].height = 100
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(x["label"] for x in d.get("scale", [])) + '"'
        if d.get("scale")
        else '"該当,非該当,不明"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="入力できない値",
        error=f"{labels} から選んでください。",
        showInputMessage=True,
        promptTitle="回答",
        prompt=f"{labels} から選んでください",
    )
    sh.add_data_validation(dv)
    first = 4
    key_font, key_fill = Font(size=8, color="808080"), PatternFill("solid", fgColor="F2F2F2")
    for n, p in enumerate(ps):
        row = first + n
        vals = [row_key(round_id, p["person_id"]), p["grade"], p["class"], p["name"], p["name_kana"] or ""]
        for col, v in enumerate(vals, 1):
            c = outputs.safe_cell(sh, row, col, v)
            c.border = box
            c.alignment = Alignment(vertical="center", horizontal="center" if col in (2, 3) else "left")
        sh.cell(row, 1).font, sh.cell(row, 1).fill = key_font, key_fill
        sh.cell(row, 4).font = Font(bold=True)
        for col in range(first_item, remark_col + 1):
            c = sh.cell(row, col)
            c.protection = Protection(locked=False)
            c.border = box
            c.alignment = (
                Alignment(horizontal="center", vertical="center")
                if col < remark_col
                else Alignment(wrap_text=True, vertical="center")
            )
        sh.row_dimensions[row].height = 22
    if ps:
        dv.add(f"{L(first_item)}{first}:{L(remark_col - 1)}{first + len(ps) - 1}")
    for i, w in enumerate([17, 5, 4, 14, 16] + [ITEM_WIDTH] * len(items) + [40], 1):
        sh.column_dimensions[L(i)].width = w
    last_row = max(first, first + len(ps) - 1)
    sh.freeze_panes = sh.cell(first, first_item)
    sh.auto_filter.ref = f"A3:{L(remark_col)}{last_row}"
    sh.protection.sheet = True
    sh.protection.sort = False
    sh.protection.autoFilter = False
    sh.protection.formatColumns = False
    sh.protection.formatRows = False
    # print: A4 landscape, the header rows and the names on every page, a whole number of pages wide
    sh.page_setup.orientation = "landscape"
    sh.page_setup.paperSize = sh.PAPERSIZE_A4
    sh.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sh.page_setup.fitToWidth = max(1, -(-len(items) // ITEMS_PER_PRINTED_PAGE))
    sh.page_setup.fitToHeight = 0
    sh.print_title_rows = "1:3"
    sh.print_title_cols = "B:E"
    sh.print_area = f"B1:{L(remark_col)}{last_row}"
    sh.page_margins.left = sh.page_margins.right = 0.4
    sh.page_margins.top, sh.page_margins.bottom = 0.75, 0.7
    sh.page_margins.header, sh.page_margins.footer = 0.3, 0.3
    sh.oddFooter.center.text = "&P / &N ページ"
    sh.oddHeader.right.text = "取扱注意"
    sh.oddHeader.right.size = 12
    sh.oddHeader.left.text = "観察チェックリスト（記入用）"
    sh.print_options.gridLines = False
    return wb


class ChecklistRefused(InputRefused):
    """A returned workbook with wrong values: every error by row and column; nothing was imported."""

    def __init__(self, errors: list[dict]):
        rows = sorted({e["row"] for e in errors})
        lines = [f"{e['row']}行目「{e['column']}」: {e['message']}" for e in errors[:10]]
        more = f"\n…ほか {len(errors) - 10} 件" if len(errors) > 10 else ""
        super().__init__(
            f"チェックリストに誤りが {len(errors)} 件（{len(rows)} 行）あるため、取り込みませんでした。"
            "直してからもう一度取り込んでください。\n" + "\n".join(lines) + more
        )
        self.errors = errors


def _decrypt_workbook(data: bytes, password: str | None) -> bytes:
    """An encrypted OOXML workbook (an OLE container) opened with its file password; a plain one as it is."""
    if not data.startswith(b"\xd0\xcf\x11\xe0"):
        return data
    if not password:
        raise InputRefused(
            "パスワード付きのブックです。ファイルのパスワードを指定してください（CLI: 環境変数 KODOMO_FILE_PASSWORD）。"
        )

    try:
        import msoffcrypto  # lazy: an optional dependency, only for password-protected workbooks

        f = msoffcrypto.OfficeFile(io.BytesIO(data))
        f.load_key(password=password)
        out = io.BytesIO()
        f.decrypt(out)
    except ImportError:
        raise InputRefused("パスワード付きのブックを開くには msoffcrypto-tool が必要です。")
    except Exception:
        raise InputRefused("ブックのパスワードが違うか、ファイルが壊れています。")
    return out.getvalue()
