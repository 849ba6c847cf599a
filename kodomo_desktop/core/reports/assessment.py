"""アセスメントシート: everything the town holds about one child that bears on support, on a few A4 pages, with
ruled fields for the handwritten assessment."""

from __future__ import annotations

import datetime as dt

from reportlab.lib.units import mm

from . import sections as S
from .base import DocTitle, Heading, Mark, RuledField, blank_date, form, gap, keep, wareki

TITLE = "アセスメントシート"


def story(b: dict, mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    name = mask.name(b["name"], b["name_kana"])
    run = b.get("run")
    sub = f"作成日 {wareki(today)}" + (
        f"　／　スコアは {wareki(run['as_of'])} 時点の算出（#{run['id']}）" if run else ""
    )
    out = [Mark(f"child:{b['person_id']}", outline=f"{TITLE} {name}", subject=name), DocTitle(TITLE, sub)]
    out += [Heading("1. 対象のこども", space_before=1 * mm)] + S.identity(b, mask)
    out += [Heading("2. 世帯・きょうだい")] + S.household_table(b, mask)
    out += [Heading("3. 困難の種別ごとのスコアと理由")] + S.score_block(b, mask) + S.protective_table(b, mask)
    out += [Heading("4. 情報源ごとの状況（データの鮮度・データなし）")] + S.sources_table(b, mask)
    out += [Heading("5. 観察チェックリストの結果")] + S.checklist_table(b)
    out += [Heading("6. 抽出の履歴")] + S.history_table(b)
    out += [Heading("7. これまでの判断（分類・会議）")] + S.decisions_tables(b)
    out += [Heading("8. 支援計画と経過記録")] + S.support_tables(b)
    sign = form([["記入者", "", "記入日", blank_date()]], [22 * mm, 68 * mm, 22 * mm, 66 * mm], labels=(0, 2))
    out += [
        keep(
            Heading("9. アセスメント（手書き記入欄）"),
            RuledField("本人・家庭の状況、強み、気になる点", 6, hint="事実と推測を分けて記入"),
        ),
        gap(2),
        keep(RuledField("支援の必要性と方向性（案）", 4), gap(2), sign),
    ]
    return out
