"""アセスメントシート: what the town holds about one child that bears on support, laid out after the structure of
the 市町村児童家庭相談援助指針's assessment form (in the product's own words): 緊急度・重症度, 安全確認, the
household with a ジェノグラム, the facts with their sources, the child's and the family's wishes, strengths,
総合評価 and a 確認 stamp box — printed facts first, then the fields the worker fills in by pen."""

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
    caveat,
    empty_line,
    form,
    gap,
    keep,
    wareki,
)
from .genogram import Genogram, people_of

TITLE = "アセスメントシート"
W = CONTENT_W
SEVERITY = ["生命に危険がある", "重度", "中度", "軽度", "危惧あり", "現時点で該当なし", "不明"]
URGENCY = ["即日対応", "48時間以内", "1週間以内", "定期的な見守り"]
OVERALL = ["要保護児童", "要支援児童", "特定妊婦", "見守り（登録なし）", "支援の対象外"]


def facts(b: dict, mask) -> list:
    """The facts and their sources: marks (no data, pending, dates to check), every reason, the sources table."""
    out = []
    marks = S.marks_lines(b, mask)
    out += marks + ([gap(1.5)] if marks else [])
    out += [P(S.score_summary(b, mask), "cell"), gap(1)]
    tt = S.type_table(b)
    if tt:
        out += tt + [gap(1.5)]
    rows = S.reasons_rows(b, mask)
    out += [S.reasons_grid(rows)] if rows else [empty_line("（該当した項目はありません）")]
    out += [gap(1.5), caveat()]
    return out


def story(b: dict, mask, *, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    name = mask.name(b["name"], b["name_kana"])
    run = b.get("run")
    sub = f"作成日 {wareki(today)}" + (
        f"　／　スコアは {wareki(run['as_of'])} 時点の算出（#{run['id']}）" if run else ""
    )
    out = [Mark(f"child:{b['person_id']}", outline=f"{TITLE} {name}", subject=name), DocTitle(TITLE, sub)]
    out += [Heading("1. 対象のこども", space_before=1 * mm)] + S.identity(b, mask)
    out += [
        gap(1),
        form(
            [
                ["要対協", S.yotaikyo_text(b), "受理の経路", "データ連携による抽出　□通告　□相談　□その他"],
            ],
            [20 * mm, W / 2 - 20 * mm, 22 * mm, W / 2 - 22 * mm],
            labels=(0, 2),
        ),
    ]
    out += [
        Heading("2. 緊急度・重症度（記入欄）"),
        form(
            [
                ["重症度", P(boxes(SEVERITY, sep="　"), "cell"), "", ""],
                ["緊急度", P(boxes(URGENCY, sep="　"), "cell"), "", ""],
                ["一時保護の要否", P(boxes(["要検討", "不要"], sep="　"), "cell"), "判断日", blank_date()],
            ],
            [30 * mm, W / 2 - 30 * mm, 20 * mm, W / 2 - 20 * mm],
            labels=(0, 2),
            extra=[("SPAN", (1, 0), (3, 0)), ("SPAN", (1, 1), (3, 1))],
        ),
    ]
    out += [
        Heading("3. 安全確認（記入欄）"),
        form(
            [
                ["確認日時", blank_date() + "　　：", "確認者", ""],
                [
                    "方法",
                    P(boxes(["目視", "面接", "家庭訪問", "学校・園で確認", "関係機関から聴取"], sep="　"), "cell"),
                    "",
                    "",
                ],
                ["結果", P(boxes(["安全を確認", "確認できず", "一部確認"], sep="　"), "cell"), "", ""],
            ],
            [22 * mm, W / 2 - 22 * mm, 20 * mm, W / 2 - 20 * mm],
            labels=(0, 2),
            extra=[("SPAN", (1, 1), (3, 1)), ("SPAN", (1, 2), (3, 2))],
        ),
    ]
    out += [
        Heading("4. 世帯の構成（ジェノグラム: 住民基本台帳の続柄から作成）"),
        keep(Genogram(people_of(b)), gap(1), *S.household_table(b, mask)),
        P(f"世帯: {S.household_line(b)}", "cell"),
    ]
    out += [Heading("5. 連携した記録で該当した項目（情報源・記録日・取込ファイル）")] + facts(b, mask)
    out += [Heading("6. 情報源ごとの状況（データの鮮度・データなし）")] + S.sources_table(b, mask)
    out += [Heading("7. 観察チェックリストの結果")] + S.checklist_table(b)
    out += [Heading("8. 抽出の履歴")] + S.history_table(b)
    out += [Heading("9. これまでの判断（分類・会議）")] + S.decisions_tables(b)
    out += [Heading("10. 支援計画と経過記録")] + S.support_tables(b)
    out += [
        keep(
            Heading("11. 本人の意向・保護者の意向（記入欄）"),
            RuledField("こども本人の思い・希望（聞き取った言葉のまま）", 3),
            gap(1.5),
            RuledField("保護者の思い・希望、支援への受け止め", 3),
        ),
        keep(
            Heading("12. 強み・支えになる人や場（記入欄）"),
            RuledField("本人・家庭の強み、支えになる親族・友人・地域の資源", 3, hint="保護的要因は 5. に記載"),
        ),
        keep(
            Heading("13. 総合評価（記入欄）"),
            form(
                [["評価", P(boxes(OVERALL, sep="　"), "cell")]],
                [22 * mm, W - 22 * mm],
            ),
            gap(1.5),
            RuledField("評価の理由・支援の方向性（案）", 4, hint="事実と推測を分けて記入"),
            gap(2),
            form([["記入者", "", "記入日", blank_date()]], [22 * mm, 68 * mm, 22 * mm, W - 112 * mm], labels=(0, 2)),
            gap(2),
            S.stamp_box(),
        ),
    ]
    return out
