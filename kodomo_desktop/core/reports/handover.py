"""引継ぎシート (進学・転校・担任交代・転出) for one child: who the child is, what the school side should know
(always for the receiving school: what ``core.audience`` lets the ``handover`` audience see — the child's own
school-held records, no welfare fact, no points, no department), and blanks for both sides."""

from __future__ import annotations

import datetime as dt

from reportlab.lib.units import mm

from . import sections as S
from .base import (
    CONTENT_W,
    ITEMS_CAVEAT,
    DocTitle,
    Heading,
    Mark,
    P,
    RuledField,
    blank_date,
    boxes,
    empty_line,
    form,
    gap,
    grid,
    keep,
    note_box,
    wareki,
)
from .data import source_label, summarise_record

W = CONTENT_W
KINDS = {
    "進学": "進学",
    "転校": "転校",
    "担任交代": "担任交代",
    "転出": "転出",
    "move_out": "転出",
    "advance": "進学",
    "transfer": "転校",
    "teacher_change": "担任交代",
    "enrolment": "進学",
}


ORDER = ("進学", "転校", "担任交代", "転出")
FROM_LABEL = {"進学": "進学前の学校・園", "転校": "転校前の学校", "担任交代": "前の担任", "転出": "転出前の学校・園"}
TO_LABEL = {"進学": "進学先の学校", "転校": "転校先の学校", "担任交代": "新しい担任", "転出": "転出先の学校・園"}


def title_of(kind: str) -> str:
    return f"引継ぎシート（{kind}）"


def story(b: dict, kind: str, mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    name = mask.name(b["name"], b["name_kana"])
    out = [
        Mark(f"child:{b['person_id']}", subject=name),
        DocTitle(title_of(kind), f"作成日 {wareki(today)}　／　引継ぎの種類: {boxes(list(ORDER), kind)}"),
    ]
    out += [Heading("1. 対象のこども", space_before=1 * mm)] + S.identity(b, mask, compact=True)
    from_label, to_label = FROM_LABEL[kind], TO_LABEL[kind]
    info = b.get("school") or {}
    out += [
        Heading("2. 引継ぎ元・引継ぎ先"),
        form(
            [
                ["", "学校・園名／氏名", "担当者・連絡先", "引継ぎ日"],
                [from_label, f"{info.get('school') or ''}　{S.grade_text(info) if info else ''}", "", blank_date()],
                [to_label, "", "", ""],
            ],
            [30 * mm, 52 * mm, 44 * mm, W - 126 * mm],
            labels=(0,),
            extra=[("BACKGROUND", (0, 0), (-1, 0), S.LABEL_BG)],
        ),
    ]
    if kind == "転出":
        out += [
            gap(1),
            form(
                [["転出先の市町村", "", "転出予定日", blank_date()], ["転出先の連絡先", "", "", ""]],
                [30 * mm, 52 * mm, 44 * mm, W - 126 * mm],
                labels=(0, 2),
                extra=[("SPAN", (1, 1), (3, 1))],
            ),
        ]
    # the support running is the town's casework: only for an audience that may see it
    if mask.sees("support"):
        sp = b["support"]["open"]
        confs = [c for c in b["decisions"]["conferences"] if c["decided"]]
        last = confs[-1] if confs else None
        rows = [
            [
                "現在の支援",
                "あり" if sp else "なし",
                "主担当機関",
                (sp or {}).get("lead_organisation") or (last or {}).get("lead_organisation", ""),
            ],
            [
                "方向性",
                (last or {}).get("direction", ""),
                "次回見直し",
                wareki((sp or {}).get("next_action_on") or (last or {}).get("next_review_on")),
            ],
            ["支援の内容", (sp or {}).get("plan") or (last or {}).get("actions", ""), "", ""],
        ]
        out += [
            Heading("3. 現在の支援"),
            form(
                rows,
                [26 * mm, W / 2 - 26 * mm, 24 * mm, W / 2 - 24 * mm],
                labels=(0, 2),
                extra=[("SPAN", (1, 2), (3, 2))],
            ),
        ]
    else:
        out += [
            Heading("3. 学校での支援・配慮（記入欄）"),
            RuledField("これまで学校で行ってきた支援・配慮（座席・声かけ・個別の対応など）", 3),
        ]
    # what the school side should know
    items = [r for r in mask.audience.reasons((b["score"] or {}).get("reasons")) if not r["protective"]]
    out += [Heading("4. 連携した情報で確認された項目")]
    if items:
        out += [
            grid(
                [["項目", "情報源", "記録日"]]
                + [
                    [r["label"], r["source_label"], wareki(r["record_date"], short=True)]
                    for r in sorted(items, key=lambda r: -r["points"])
                ],
                [W - 70 * mm, 48 * mm, 22 * mm],
                align="llc",
            ),
            gap(1),
            note_box("※ " + ITEMS_CAVEAT),
        ]
    else:
        out += [empty_line("（共有できる項目はありません）")]
    school_recs = [
        r
        for r in b["records"]
        if r["source_type"] in ("school_attendance", "school_health", "school_checklist", "school_assistance")
        and mask.audience.sees_record(r)
    ]
    out += [Heading("5. 学校での記録（最近のもの）")]
    if school_recs:
        out += [
            grid(
                [["日付", "情報源", "内容"]]
                + [
                    [wareki(r["date"], short=True), source_label(r["source_type"]), summarise_record(r)]
                    for r in school_recs[:6]
                ],
                [20 * mm, 40 * mm, W - 60 * mm],
                align="cll",
            )
        ]
    else:
        out += [empty_line("（学校の記録はありません）")]
    c = b.get("checklist")
    if c and c["hits"]:
        out += [
            gap(1),
            P(
                f"観察チェックリスト: 該当 {c['hits']} 項目 — "
                + "、".join(f"{g['label']} {len(g['hits'])}" for g in c["groups"] if g["hits"]),
                "small",
            ),
        ]
    out += [
        keep(
            Heading("6. 引継ぎ事項（手書き記入欄）"),
            RuledField("本人の様子・配慮してほしいこと・有効だった関わり", 5),
            gap(2),
            RuledField("家庭との連絡で配慮すること・関係機関", 3),
            gap(2),
            form(
                [
                    ["保護者への説明", boxes(["済", "未", "不要"]), "引継ぎ後の連絡先", ""],
                    ["引継ぎ者（署名）", "", "受取者（署名）", ""],
                ],
                [30 * mm, W / 2 - 30 * mm, 30 * mm, W / 2 - 30 * mm],
                labels=(0, 2),
            ),
        )
    ]
    return out
