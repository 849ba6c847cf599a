"""Case-conference packet: cover (meeting, date, place, attendees, confidentiality notice, children), table of
contents and agenda, then each child on one or two pages with blank decision boxes; page numbers run through."""

from __future__ import annotations

import datetime as dt

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, PageBreak, Table

from . import sections as S
from .base import (
    CONTENT_W,
    GRID,
    LABEL_BG,
    MARGIN_B,
    MARGIN_T,
    NAVY,
    PAGE_H,
    RED,
    DocTitle,
    Heading,
    Mark,
    P,
    PageRef,
    blank_date,
    caveat,
    esc,
    form,
    gap,
    grid,
    note_box,
    styles,
    tstyle,
    wareki,
)
from .genogram import Genogram, people_of

W = CONTENT_W
CONFIDENTIAL = (
    "本資料には、こどもと家庭の個人情報が含まれています。会議の参加者以外に見せないでください。"
    "複写・撮影・持ち出しはしないでください。会議終了後、資料はすべて回収します。"
    "協議の内容は、要保護児童対策地域協議会の守秘義務（児童福祉法第25条の5）の対象です。"
)


def _meeting_rows(conf: dict | None) -> list:
    if conf:
        kind = conf["kind"] + (f"　{conf['title']}" if conf.get("title") else "")
        when = wareki(conf["held_on"], weekday=True) if conf.get("held_on") else blank_date() + "（　）"
        return [["会議", kind], ["日時", f"{when}　　：　　〜　　："], ["場所", conf.get("place") or ""]]
    return [["会議", "ケース会議"], ["日時", f"{blank_date()}（　）　　：　　〜　　："], ["場所", ""]]


def _attendees(conf: dict | None) -> Table:
    att = (conf or {}).get("attendees") or []
    rows = [["所属（機関）", "役割・職名", "出欠"]]
    for a in att:
        if isinstance(a, dict):
            rows.append([a.get("organisation") or a.get("org") or "", a.get("role") or a.get("name") or "", "□出　□欠"])
        else:
            rows.append([str(a), "", "□出　□欠"])
    while len(rows) < max(7, len(att) + 3):
        rows.append(["", "", "□出　□欠"])
    return grid(rows, [80 * mm, 70 * mm, W - 150 * mm], align="llc")


def cover(conf: dict | None, children: list[dict], mask, town: str) -> list:
    st = styles()
    kind = (conf or {}).get("kind") or "ケース会議"
    out = [
        Mark("cover", outline="表紙", subject=""),
        gap(8),
        P(esc(town), st.cover, raw=True),
        gap(2),
        P(f"{esc(kind)}　資料", st.cover_title, raw=True),
    ]
    if conf and conf.get("title"):
        out += [P(esc(conf["title"]), st.cover, raw=True)]
    out += [
        gap(8),
        form(_meeting_rows(conf), [28 * mm, W - 28 * mm]),
        gap(4),
        P("出席者", "small"),
        gap(1),
        _attendees(conf),
        gap(5),
    ]
    notice = Table(
        [[P("<font color='#C00000'>【取扱注意】</font>" + esc(CONFIDENTIAL), "cell", raw=True)]], colWidths=[W]
    )
    notice.setStyle(
        tstyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.4, RED),
                ("LEFTPADDING", (0, 0), (-1, -1), 7),
                ("RIGHTPADDING", (0, 0), (-1, -1), 7),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    out += [
        notice,
        gap(3),
        form(
            [["資料番号", "No.　　　", "配付先", "", "回収", "□済"]],
            [22 * mm, 30 * mm, 22 * mm, W - 108 * mm, 16 * mm, 18 * mm],
            labels=(0, 2, 4),
        ),
        gap(5),
        P(f"検討対象のこども（{len(children)} 名）", "small"),
        gap(1),
    ]
    rows = [["No.", "氏名", "学校・園／学年", "年齢", "スコアで抽出された種別"]]
    for n, c in enumerate(children, 1):
        sc = c["score"]
        types = sc["types_text"] if sc and not mask.hide_welfare else ("抽出あり" if sc and sc["flagged"] else "")
        rows.append(
            [
                str(n),
                mask.name(c["name"], c["name_kana"]),
                S.school_text(c["school"]),
                f"{c['age']}歳" if c["age"] is not None else "",
                types,
            ]
        )
    out += [
        grid(rows, [12 * mm, 40 * mm, 60 * mm, 14 * mm, W - 126 * mm], align="cllcl"),
        gap(1.5),
        P(
            "※ 種別は、連携した記録から機械的に算出したスコアが基準を超えたものです。"
            "判定結果ではありません。支援の要否と内容は、この会議で判断します。",
            "cell",
        ),
    ]
    return out


def toc_and_agenda(children: list[dict], mask, conf: dict | None) -> list:
    out = [PageBreak(), Mark("toc", outline="目次・議事次第", subject=""), DocTitle("目次", None, size=15)]
    entries = [("", "表紙（会議の概要・出席者・検討対象）", "cover"), ("", "目次・議事次第", "toc")]
    for n, c in enumerate(children, 1):
        entries.append(
            (
                f"No.{n}",
                f"{mask.name(c['name'], c['name_kana'])}　{S.school_text(c['school'])}",
                f"child:{c['person_id']}",
            )
        )
    t = Table(
        [[P(a, "cell"), P(b, "cell"), PageRef(key)] for a, b, key in entries], colWidths=[16 * mm, W - 36 * mm, 20 * mm]
    )
    t.setStyle(
        tstyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, GRID),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    out += [P("ページ", "right"), t, gap(6), DocTitle("議事次第", None, size=15)]
    agenda = [
        ("1", "開会・資料の取扱いの確認（回収・守秘）"),
        ("2", "前回の会議以降の経過報告"),
        ("3", f"個別ケースの検討（{len(children)} 名）"),
    ]
    rows = [[P(a, "cell_c"), P(b, "cell")] for a, b in agenda]
    for n, c in enumerate(children, 1):
        rows.append(
            [
                "",
                P(
                    f"（{n}）{esc(mask.name(c['name'], c['name_kana']))}　"
                    f"<font color='#404040'>{esc(S.school_text(c['school']))}</font>",
                    "cell",
                    raw=True,
                ),
            ]
        )
    rows += [[P("4", "cell_c"), P("役割分担・次回見直し日の確認", "cell")], [P("5", "cell_c"), P("閉会", "cell")]]
    t = Table(rows, colWidths=[12 * mm, W - 12 * mm])
    t.setStyle(
        tstyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    out += [
        t,
        gap(4),
        note_box(
            "決定した内容は、各こどものページ下の「会議での決定」欄に記入してください。"
            "スコアは支援の要否を検討するためのきっかけであり、判定結果ではありません。"
        ),
    ]
    return out


def _banner(n: int, c: dict, mask) -> Table:
    name = mask.name(c["name"], c["name_kana"])
    kana = mask.kana(c["name_kana"])
    right = "　".join(
        x for x in (S.school_text(c["school"]), f"{c['age']}歳" if c["age"] is not None else "", c["sex"]) if x
    )
    left = f"<font size=10>No.{n}</font>　<font size=14>{esc(name)}</font>" + (
        f"　<font size=8.5>{esc(kana)}</font>" if kana else ""
    )
    t = Table(
        [
            [
                P(f"<font color='white'>{left}</font>", "cell", raw=True),
                P(f"<font color='white'>{esc(right)}</font>", "cell_r", raw=True),
            ]
        ],
        colWidths=[W * 0.58, W * 0.42],
        rowHeights=[11 * mm],
    )
    t.setStyle(
        tstyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), NAVY),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return t


def _summary(c: dict, mask) -> Table:
    sp = c["support"]["open"]
    rows = [
        ["生年月日", wareki(c["birth_date"]), "世帯", S.household_line(c)],
        ["スコア", S.score_summary(c, mask, short=True), "", ""],
        ["直近3回", S.last_scores(c, 3), "", ""],
        [
            "要対協",
            S.yotaikyo_text(c),
            "現在の支援",
            (f"{sp['lead_organisation']}（{wareki(sp['opened_on'], short=True)}〜）" if sp else "なし"),
        ],
    ]
    return form(
        rows,
        [20 * mm, W / 2 - 20 * mm, 22 * mm, W / 2 - 22 * mm],
        labels=(0, 2),
        extra=[("SPAN", (1, 1), (3, 1)), ("SPAN", (1, 2), (3, 2))],
    )


FRAME_H = PAGE_H - MARGIN_T - MARGIN_B


def _height(flowables: list) -> float:
    h = 0.0
    for f in flowables:
        _, fh = f.wrap(W, FRAME_H)
        h += fh + f.getSpaceBefore() + f.getSpaceAfter()
    return h


def first_page(n: int, c: dict, mask, conf_item: dict | None) -> tuple[list, int]:
    """The child's first page, kept together: banner, summary, marks, as many reasons as fit, the decision box.
    Returns the flowables and how many reason rows it holds (the rest go on continuation pages)."""
    rows = S.reasons_rows(c, mask)
    sp = 2.5 * mm
    head = [_banner(n, c, mask), gap(2), _summary(c, mask)]
    marks = S.marks_lines(c, mask)
    if marks:
        head += [gap(1.5), note_box_flow(marks)]
    box = [gap(3), S.decision_box_full(c, conf_item)]
    head_h = [_height([f]) for f in head]  # measured once: only the reasons part changes with k
    box_h = [_height([f]) for f in box]

    def attempt(k: int) -> tuple[list, bool]:
        body = [Heading("抽出の理由", space_before=sp)]
        if not c["score"]:
            body.append(P("このこどもは直近のスコア算出の対象に含まれていません。", "cell"))
        elif not rows:
            body.append(P("（該当した項目はありません）", "cell"))
        elif k:
            body.append(S.reasons_grid(rows[:k]))
        if k < len(rows):
            body.append(gap(1))
            body.append(P(f"ほか {len(rows) - k} 項目は次のページに続きます（全 {len(rows)} 項目）。", "cell"))
        body += [gap(1), caveat()]
        h = 0.0  # summed in the page's order, as _height(head + body + box) sums it
        for x in head_h:
            h += x
        for f in body:
            h += _height([f])
        for x in box_h:
            h += x
        return head + body + box, h <= FRAME_H - 2 * mm or k == 0

    # every reason on the first page if they fit; otherwise the most that fit beside the "continued" line — found
    # by halving (below len(rows) the block only grows with k), not by trying each k from the top (a child with
    # 30 reasons typeset its first page 30 times)
    block, ok = attempt(len(rows))
    if ok:
        return block, len(rows)
    lo, hi = 0, len(rows) - 1
    best = attempt(0)[0]  # always accepted
    while lo < hi:
        mid = (lo + hi + 1) // 2
        b, fits = attempt(mid)
        if fits:
            lo, best = mid, b
        else:
            hi = mid - 1
    return best, lo


def note_box_flow(lines: list) -> Table:
    t = Table([[x] for x in lines], colWidths=[W])
    t.setStyle(
        tstyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.7, GRID),
                ("BACKGROUND", (0, 0), (-1, -1), LABEL_BG),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return t


def child_pages(n: int, c: dict, mask, conf_item: dict | None, since: dt.date) -> list:
    name = mask.name(c["name"], c["name_kana"])
    sp = 2.5 * mm
    block, k = first_page(n, c, mask, conf_item)
    out = [
        PageBreak(),
        Mark(f"child:{c['person_id']}", outline=f"No.{n} {name}", subject=f"No.{n} {name}", level=0),
        KeepTogether(block),
    ]
    rows = S.reasons_rows(c, mask)
    if k < len(rows):
        out += [Heading(f"抽出の理由（続き: {k + 1}〜{len(rows)} 項目）", space_before=sp), S.reasons_grid(rows[k:])]
    out += [Heading("きょうだい・世帯（ジェノグラムは住民基本台帳の続柄から作成）", space_before=sp)]
    out += [Genogram(people_of(c)), gap(1)] + S.household_table(c, mask, compact=True)
    out += [Heading("スコアの推移", space_before=sp)] + S.history_table(c)
    out += [Heading("最近の記録（直近1年）", space_before=sp)] + S.recent_records(c, mask, since=since, limit=8)
    out += [Heading("これまでの判断", space_before=sp)] + S.decisions_tables(c, compact=True, limit=None)
    return out


def story(conf: dict | None, children: list[dict], items: dict, mask, town: str, today: dt.date | None = None) -> list:
    today = today or dt.date.today()
    since = dt.date(today.year - 1, today.month, min(today.day, 28))
    out = cover(conf, children, mask, town) + toc_and_agenda(children, mask, conf)
    for n, c in enumerate(children, 1):
        out += child_pages(n, c, mask, items.get(c["person_id"]), since)
    return out
