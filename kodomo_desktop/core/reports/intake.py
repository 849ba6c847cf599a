"""受理会議録: the record of the meeting that takes a child on (受理会議), after the 市町村児童家庭相談援助指針's form
in the product's own words — how the child came to notice (here usually the data linkage's round and the
classification made in it), the facts with their sources, the urgency and safety check decided, what will be
found out by whom, the first support, the worker in charge, the next check date and the 確認 stamps."""

from __future__ import annotations

import datetime as dt

from reportlab.lib.units import mm

from . import sections as S
from .base import (
    CONTENT_W,
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
    keep,
    to_date,
    wareki,
)
from .genogram import Genogram, people_of

TITLE = "受理会議録"
W = CONTENT_W


def _route(b: dict) -> str:
    cls = [c for c in b["decisions"]["classifications"] if c["classification"] and c["classification"] != "未分類"]
    if not cls:
        return "データ連携による抽出" + (
            f"（{wareki(b['run']['as_of'], short=True)}時点の算出）" if b.get("run") else ""
        )
    c = cls[-1]
    who = (
        f"　判断: {c['decided_by']} {wareki(to_date(c['decided_at']), short=True)}".rstrip() if c["decided_by"] else ""
    )
    return f"データ連携ラウンド「{c['round']}」での分類: {c['classification']}{who}" + (
        f"\n理由: {c['reason']}" if c["reason"] else ""
    )


def story(b: dict, mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    name = mask.name(b["name"], b["name_kana"])
    out = [
        Mark(f"child:{b['person_id']}", outline=f"{TITLE} {name}", subject=name),
        DocTitle(TITLE, f"作成日 {wareki(today)}"),
        form(
            [
                ["受理番号", "", "受理年月日", blank_date()],
                ["会議日時", blank_date() + "　　：　〜　：", "場所", ""],
                ["出席者", "", "", ""],
            ],
            [22 * mm, W / 2 - 22 * mm, 22 * mm, W / 2 - 22 * mm],
            labels=(0, 2),
            extra=[("SPAN", (1, 2), (3, 2))],
        ),
    ]
    out += [Heading("1. こども・世帯", space_before=3 * mm)] + S.identity(b, mask)
    out += [gap(1.5), Genogram(people_of(b)), P(f"世帯: {S.household_line(b)}", "cell")]
    out += [
        Heading("2. 受理の経路"),
        form(
            [
                ["経路", _route(b)],
                ["要対協", S.yotaikyo_text(b)],
                ["その他の経路", P(boxes(["通告", "相談", "関係機関から", "その他"], sep="　"), "cell")],
            ],
            [26 * mm, W - 26 * mm],
        ),
    ]
    rows = S.reasons_rows(b, mask)
    out += [
        Heading("3. 把握している事実（連携した記録・情報源・記録日）"),
        P(f"連携した記録で確認された項目は {len(rows)} 項目です（保護的要因を含む）。", "cell"),
        gap(1),
    ]
    marks = S.marks_lines(b, mask)
    out += marks + ([gap(1)] if marks else [])
    out += [S.reasons_grid(rows)] if rows else [empty_line("（連携した記録で該当した項目はありません）")]
    prev = S.decisions_tables(b, compact=True, limit=5)
    out += [Heading("4. これまでの判断")] + prev
    out += [
        keep(
            Heading("5. 緊急度の判断と安全確認（記入欄）"),
            form(
                [
                    ["緊急度", P(boxes(["即日対応", "48時間以内", "1週間以内", "定期的な見守り"], sep="　"), "cell")],
                    ["安全確認", P(boxes(["実施する", "確認済み", "不要"], sep="　") + "　方法・担当: ", "cell")],
                    ["一時保護", P(boxes(["要検討（児童相談所へ連絡）", "不要"], sep="　"), "cell")],
                ],
                [26 * mm, W - 26 * mm],
            ),
        ),
        keep(
            Heading("6. 調査と当面の支援（記入欄）"),
            RuledField("調べること・誰が・いつまでに", 3),
            gap(1.5),
            RuledField("当面の支援方針", 3),
            gap(1.5),
            form(
                [["担当者", "", "次回の確認日", blank_date()], ["記録者", "", "記入日", blank_date()]],
                [22 * mm, W / 2 - 22 * mm, 24 * mm, W / 2 - 24 * mm],
                labels=(0, 2),
            ),
            gap(2),
            S.stamp_box(),
        ),
    ]
    return out
