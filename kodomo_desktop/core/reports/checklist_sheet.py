"""観察チェックリスト（記入用・紙）: a blank checklist per class for schools that fill in by pen.

One block per class: a short header form (school, class, who filled it in, when, due date), then the items as rows
grouped as in the definition (区分 / 観点), and the class's pupils as columns (up to ``PER_PAGE`` pupils a block, the
header with the names repeated on every page), a cell per pupil and item for ○ (該当) / × (非該当) / ？ (不明);
then a page of ruled remark lines per pupil. Printed on the shared A4 template (取扱注意, page x / y, printed by),
through ``reports.service.blank_checklist_pdf``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Table

from ..checklists import service as CL
from ..errors import NotFound
from .base import (
    CONTENT_W,
    GRID,
    HEAD_BG,
    LABEL_BG,
    DocTitle,
    Mark,
    P,
    blank_date,
    esc,
    form,
    gap,
    note_box,
    tstyle,
    wareki,
)

if TYPE_CHECKING:
    from ..workspace import Workspace

W = CONTENT_W
TITLE = "観察チェックリスト（記入用）"
PER_PAGE = 10  # pupils per block (columns)
NO_W, TEXT_W = 8 * mm, 72 * mm


def class_label(p: dict) -> str:
    return f"{p['grade']}年{p['class']}組" if p.get("grade") else "学年・組 不明"


def _definition(ws: Workspace, definition) -> dict:
    if isinstance(definition, dict):
        return definition
    key = definition or CL.DEFAULT_DEFINITION
    with ws.session() as s:
        r = CL.current_round(s)
        if r is not None and definition is None:
            return CL.round_definition(s, r)
    defs = CL.load_default_definitions()
    if key not in defs:
        raise NotFound(f"チェックリスト {key} はありません。")
    return defs[key]


def _matches(p: dict, klass: str | None) -> bool:
    if not klass:
        return True
    k = klass.replace(" ", "").replace("　", "")
    return k in (class_label(p), f"{p['grade']}-{p['class']}", f"{p['grade']}年{p['class']}")


def build_story(
    ws: Workspace, school: str, klass: str | None, definition, *, today: dt.date | None = None
) -> tuple[str, list, list[str]]:
    """(title, flowables, person_ids) for one class (``klass`` like 「3年1組」 or 「3-1」), or for every class of
    the school when ``klass`` is None (each class starting on a new page)."""
    today = today or dt.date.today()
    d = _definition(ws, definition)
    pupils = [p for p in CL.pupils(ws, school) if _matches(p, klass)]
    if not pupils:
        raise NotFound(f"{school}{' ' + klass if klass else ''} の児童生徒はいません。")
    with ws.session() as s:
        r = CL.current_round(s, school)
        round_name, due = (r.name, r.due_on) if r is not None else ("", None)
    classes: dict[str, list[dict]] = {}
    for p in pupils:
        classes.setdefault(class_label(p), []).append(p)
    out: list = []
    for n, (label, ps) in enumerate(classes.items()):
        if n:
            out.append(PageBreak())
        out += class_block(d, school, label, ps, round_name=round_name, due=due, today=today)
    title = f"{TITLE} {school}" + (f" {klass}" if klass else "")
    return title, out, [p["person_id"] for p in pupils]


def class_block(
    d: dict, school: str, label: str, ps: list[dict], *, round_name: str = "", due=None, today: dt.date | None = None
) -> list:
    today = today or dt.date.today()
    sub = f"{school}　{label}" + (f"　{round_name}" if round_name else "") + f"　作成日 {wareki(today)}"
    out = [Mark(f"class:{school}:{label}", outline=f"{label}", subject=school), DocTitle(TITLE, sub)]
    out.append(
        form(
            [
                ["学校", school, "学級", label, "提出期限", wareki(due) if due else blank_date()],
                ["記入者", "", "", "", "記入日", blank_date()],
            ],
            [16 * mm, 52 * mm, 14 * mm, 30 * mm, 18 * mm, W - 130 * mm],
            labels=(0, 2, 4),
            extra=[("SPAN", (1, 1), (3, 1))],
        )
    )
    out.append(gap(2))
    out.append(
        note_box(
            f"{esc(d.get('title_ja', ''))}　児童生徒ごとの列に、各項目について <b>○ 該当</b>　<b>× 該当しない</b>　"
            "<b>？ 分からない</b> を記入してください。観察できていない項目は空欄のままでかまいません。"
            "気づいたことは最後のページの「所見」欄に書いてください。該当があっても、それだけで虐待などと判断する"
            "ものではありません。",
            raw=True,
        )
    )
    out.append(gap(2))
    for i in range(0, len(ps), PER_PAGE):
        chunk = ps[i : i + PER_PAGE]
        if i:
            out.append(PageBreak())
        out.append(_grid(d, chunk))
    out.append(PageBreak())
    out += _remarks(school, label, ps)
    return out


def _grid(d: dict, ps: list[dict]) -> Table:
    groups = {g["id"]: g for g in d.get("groups", [])}
    pw = (W - NO_W - TEXT_W) / PER_PAGE
    head = [P("No.", "head"), P("項目", "head")] + [
        P(esc(p["name"]).replace("\u3000", "<br/>"), "head", raw=True) for p in ps
    ]
    head += [""] * (PER_PAGE - len(ps))
    rows, style = [head], []
    last_group = None
    for n, it in enumerate(d.get("items", []), 1):
        if it["group"] != last_group:
            g = groups.get(it["group"], {})
            rows.append(
                [P(f"<b>{esc(g.get('part', ''))}</b>　{esc(g.get('label_ja', it['group']))}", "cell", raw=True)]
                + [""] * (PER_PAGE + 1)
            )
            r = len(rows) - 1
            style += [
                ("SPAN", (0, r), (-1, r)),
                ("BACKGROUND", (0, r), (-1, r), LABEL_BG),
                ("TOPPADDING", (0, r), (-1, r), 1.2),
                ("BOTTOMPADDING", (0, r), (-1, r), 1.6),
            ]
            last_group = it["group"]
        rows.append([P(str(n), "cell_c"), P(it["text_ja"], "small")] + [""] * PER_PAGE)
    t = Table(rows, colWidths=[NO_W, TEXT_W] + [pw] * PER_PAGE, repeatRows=1)
    st = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.9, GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if len(ps) < PER_PAGE:  # unused pupil columns greyed out
        st.append(("BACKGROUND", (2 + len(ps), 1), (-1, -1), colors.HexColor("#EDEDED")))
    t.setStyle(tstyle(st + style))
    return t


def _remarks(school: str, label: str, ps: list[dict]) -> list:
    out = [DocTitle("所見（気づいたこと・具体的な様子）", f"{school}　{label}", size=14)]
    rows = [["No.", "氏名", "所見"]]
    for n, p in enumerate(ps, 1):
        rows.append([str(n), p["name"], ""])
    t = Table(
        [
            [P(c, "head") if r == 0 else (P(c, "cell_c") if i == 0 else P(c, "cell")) for i, c in enumerate(row)]
            for r, row in enumerate(rows)
        ],
        colWidths=[10 * mm, 36 * mm, W - 46 * mm],
        rowHeights=[None] + [14 * mm] * len(ps),
        repeatRows=1,
    )
    t.setStyle(
        tstyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, GRID),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
            ]
        )
    )
    return out + [t]
