"""情報収集シート for one school's teachers: only what a school may see — name, grade, class and which items
matched (indicators shown on sheets, never points, never welfare sources) — with blank fields for the teacher's
observation and judgement."""

from __future__ import annotations

import datetime as dt

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Table

from .base import (
    CONTENT_W,
    GRID,
    LABEL_BG,
    NAVY,
    DocTitle,
    Mark,
    P,
    RuledField,
    blank_date,
    boxes,
    esc,
    form,
    gap,
    keep,
    note_box,
    tstyle,
    wareki,
)
from .data import grade_text

W = CONTENT_W
TITLE = "情報収集シート"
JUDGEMENTS = ["支援が必要と思われる", "しばらく見守る", "特に気になることはない", "わからない"]


def story(school: str, pupils: list[dict], mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    intro = (
        f"{esc(school)} の先生方へ　町内の関係課の情報を連携した結果、学校での様子を確認させていただきたいこどもが"
        f"います（{len(pupils)} 名）。下記の「確認された項目」は学校と共有してよい項目だけを記載しています"
        "（学校が保有する記録から確認できたものです）。該当した項目は支援の要否を検討するためのきっかけであり、"
        "判定結果ではありません。学校での様子と先生のお考えをご記入ください。"
    )
    blocks = [_pupil_block(n, p, mask) for n, p in enumerate(pupils, 1)]
    return request_story(Mark("school", subject=school), TITLE, f"{school}　作成日 {wareki(today)}", intro, blocks)


def request_story(mark, title: str, subtitle: str, intro: str, blocks: list[list]) -> list:
    """A sheet that asks someone outside the centre about children: the intro, the reply box, one block per child
    (kept together on a page). Shared by the school sheet and the sheet for children without a school."""
    out = [mark, DocTitle(title, subtitle), note_box(intro, raw=True, style="cell"), gap(2)]
    out += [
        form(
            [["回答期限", blank_date(), "返送先", "こども家庭センター（担当：　　　　　　）"]],
            [22 * mm, 58 * mm, 20 * mm, W - 100 * mm],
            labels=(0, 2),
        ),
        gap(4),
    ]
    if not blocks:
        out.append(P("このシートの対象となるこどもはいません。", "body"))
        return out
    for b in blocks:
        out.append(keep(*b))
        out.append(gap(5))
    return out


def _pupil_block(n: int, p: dict, mask) -> list:
    name = mask.name(p["name"], p["name_kana"])
    head = Table(
        [
            [
                P(f"<font color='white'>No.{n}　{esc(name)}</font>", "big", raw=True),
                P(f"<font color='white'>{esc(mask.kana(p['name_kana']))}</font>", "cell", raw=True),
                P(f"<font color='white'>{esc(grade_text(p['school']) or '学年・組 不明')}</font>", "cell_r", raw=True),
            ]
        ],
        colWidths=[W * 0.45, W * 0.30, W * 0.25],
        rowHeights=[8.5 * mm],
    )
    head.setStyle(
        tstyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), NAVY),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    items = p["items"]
    if items:
        lines = "<br/>".join(
            f"・{esc(i['label'])}<font size=8.5 color='#404040'>　（{esc(i['source_label'])}"
            f"{'、' + wareki(i['record_date'], short=True) if i['record_date'] else ''}）</font>"
            for i in items
        )
    else:
        lines = "<font color='#404040'>（学校と共有できる項目はありません。学校での様子をお知らせください。）</font>"
    body = Table([[P("確認された項目", "label"), P(lines, "cell", raw=True)]], colWidths=[30 * mm, W - 30 * mm])
    body.setStyle(
        tstyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, GRID),
                ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            ]
        )
    )
    judge = form(
        [["先生の判断", P(boxes(JUDGEMENTS, sep="　"), "cell"), "", ""], ["記入者", "", "記入日", blank_date()]],
        [30 * mm, W - 106 * mm, 20 * mm, 56 * mm],
        labels=(0, 2),
        extra=[("SPAN", (1, 0), (3, 0)), ("BACKGROUND", (2, 0), (2, 0), colors.white)],
    )
    return [
        Mark(f"child:{p['person_id']}"),
        head,
        body,
        RuledField("学校での様子（出欠・身なり・表情・友人関係・保護者の様子など）", 3, spacing=7 * mm),
        judge,
    ]
