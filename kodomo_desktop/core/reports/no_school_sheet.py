"""情報収集シート for children without a school (乳幼児, 未就園, 不就学): the same sheet a school gets, sent instead to
the contact who has the child — the nursery, the 保健師 (母子保健), or the family's other contact — with only
what that contact's audience (``core.audience``) may see, and blank fields for their observation."""

from __future__ import annotations

import datetime as dt

from reportlab.lib.units import mm
from reportlab.platypus import Table

from .base import (
    CONTENT_W,
    GRID,
    LABEL_BG,
    NAVY,
    Mark,
    P,
    RuledField,
    blank_date,
    boxes,
    esc,
    form,
    tstyle,
    wareki,
)
from .school_sheet import request_story

W = CONTENT_W
TITLE = "情報収集シート（学校・園に在籍していないこども）"
# contact → (who receives it, audience, what to observe)
CONTACTS = {
    "nursery": ("保育所・こども園", "nursery", "園での様子（登園・身なり・表情・食事・保護者の送迎の様子など）"),
    "public_health_nurse": (
        "保健師（母子保健）",
        "public_health_nurse",
        "健診・訪問での様子（発育・発達・養育の様子・保護者の心身の状態など）",
    ),
    "family_contact": (
        "家庭の連絡窓口（担当者）",
        "nursery",
        "関わりの中での様子（表情・生活の様子・保護者との関係など）",
    ),
}
JUDGEMENTS = ["支援が必要と思われる", "しばらく見守る", "特に気になることはない", "わからない"]


def route(age: int | None, has_health_record: bool) -> str:
    """Who has a child without a school: infants and children seen by 母子保健 go to the 保健師, children of
    nursery age to the nursery, older children (not enrolled anywhere the town knows) to the family's contact."""
    if age is None or age < 3 or (has_health_record and age < 6):
        return "public_health_nurse"
    if age < 6:
        return "nursery"
    return "family_contact"


def story(contact: str, children: list[dict], mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    who, _, observe = CONTACTS[contact]
    intro = (
        f"{esc(who)} ご担当者様　学校・園の記録がないこどものうち、様子を確認させていただきたいこどもがいます"
        f"（{len(children)} 名）。下記の「確認された項目」は{esc(who)}と共有してよい項目だけを記載しています。"
        "該当した項目は支援の要否を検討するためのきっかけであり、判定結果ではありません。"
        "ご存じの様子とお考えをご記入ください。"
    )
    blocks = [_block(n, c, mask, observe) for n, c in enumerate(children, 1)]
    return request_story(Mark("no_school", subject=who), TITLE, f"送付先: {who}　作成日 {wareki(today)}", intro, blocks)


def _block(n: int, c: dict, mask, observe: str) -> list:
    name = mask.name(c["name"], c["name_kana"])
    age = f"{c['age']}歳" if c["age"] is not None else ""
    head = Table(
        [
            [
                P(f"<font color='white'>No.{n}　{esc(name)}</font>", "big", raw=True),
                P(f"<font color='white'>{esc(mask.kana(c['name_kana']))}</font>", "cell", raw=True),
                P(
                    f"<font color='white'>{esc(wareki(c['birth_date'], short=True))}生　{esc(age)}</font>",
                    "cell_r",
                    raw=True,
                ),
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
    items = c["items"]
    if items:
        lines = "<br/>".join(
            f"・{esc(i['label'])}<font size=8.5 color='#404040'>　（{esc(i['source_label'])}"
            f"{'、' + wareki(i['record_date'], short=True) if i['record_date'] else ''}）</font>"
            for i in items
        )
    else:
        lines = "<font color='#404040'>（共有できる項目はありません。ご存じの様子をお知らせください。）</font>"
    rows = [[P("確認された項目", "label"), P(lines, "cell", raw=True)]]
    if mask.sees("address") and c.get("address"):
        rows.insert(0, [P("住所", "label"), P(esc(c["address"]), "cell", raw=True)])
    body = Table(rows, colWidths=[30 * mm, W - 30 * mm])
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
        [["判断", P(boxes(JUDGEMENTS, sep="　"), "cell"), "", ""], ["記入者", "", "記入日", blank_date()]],
        [30 * mm, W - 106 * mm, 20 * mm, 56 * mm],
        labels=(0, 2),
        extra=[("SPAN", (1, 0), (3, 0))],
    )
    return [Mark(f"child:{c['person_id']}"), head, body, RuledField(observe, 3, spacing=7 * mm), judge]
