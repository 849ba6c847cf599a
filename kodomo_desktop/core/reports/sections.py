"""Blocks shared by the documents about one child (assessment sheet, conference packet, handover sheet):
each takes the dict from ``data.child_bundle`` and a masking profile and returns flowables."""

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
    P,
    boxes,
    caveat,
    empty_line,
    esc,
    form,
    gap,
    grid,
    styles,
    to_date,
    tstyle,
    wareki,
)
from .data import (
    NO_SCHOOL,
    flag_text,
    fmt_points,
    grade_text,
    reasons_by_type,
    source_label,
    summarise_record,
    visible_reasons,
)

W = CONTENT_W


def school_text(info: dict | None) -> str:
    if not info:
        return NO_SCHOOL
    g = grade_text(info)
    return f"{info['school']}　{g}" if g else info["school"]


def age_text(b: dict) -> str:
    if b.get("age") is None:
        return ""
    return f"{b['age']}歳（{b['age_band']}）" if b.get("age_band") and b["age_band"] != "対象外" else f"{b['age']}歳"


def identity(b: dict, mask, *, compact: bool = False) -> list:
    name = mask.name(b["name"], b["name_kana"])
    kana = mask.kana(b["name_kana"])
    info = b.get("school") or {}
    lw, vw = 24 * mm, W / 2 - 24 * mm
    rows = [
        ["氏名", P(esc(name), "big", raw=True), "フリガナ", kana],
        ["生年月日", wareki(b["birth_date"], seireki=True), "年齢", age_text(b)],
        ["性別", b["sex"], "整理番号", b["person_id"]],
        ["学校・園", info.get("school") or NO_SCHOOL, "学年・組", grade_text(info)],
    ]
    extra = []
    if not compact and not mask.initials:
        rows.append(["住所", b["address"], "", ""])
        extra.append(("SPAN", (1, len(rows) - 1), (3, len(rows) - 1)))
    return [form(rows, [lw, vw, lw, vw], labels=(0, 2), extra=extra)]


def household_table(b: dict, mask, *, compact: bool = False) -> list:
    members = b["household"]
    if not members:
        return [empty_line("（住民基本台帳上の同一世帯員はいません、または世帯情報がありません）")]
    rows = [["続柄", "氏名", "年齢", "学校・学年", "スコア・抽出の状況", "支援"]]
    for m in members:
        rel = m["relationship"] or ("きょうだい" if m["sibling"] else "")
        if m["sibling"] and "きょうだい" not in rel:
            rel = f"{rel}（きょうだい）" if rel else "きょうだい"
        flags = flag_text(m["score"]) if (m["sibling"] or m["score"]) else "—"
        if m["score"] and mask.hide_welfare:
            flags = f"{'抽出あり' if m['score']['flagged'] else '抽出なし'}"
        rows.append(
            [
                rel,
                mask.name(m["name"], m["name_kana"]),
                f"{m['age']}歳" if m["age"] is not None else "",
                school_text(m["school"]) if m["school"] else ("" if not m["sibling"] else NO_SCHOOL),
                flags,
                "支援中" if m["support_open"] else "",
            ]
        )
    widths = [24 * mm, 32 * mm, 13 * mm, 40 * mm, W - 125 * mm, 16 * mm]
    extra = []
    for i, m in enumerate(members, 1):
        if m["score"] and m["score"]["flagged"]:
            extra.append(("BACKGROUND", (4, i), (4, i), colors.HexColor("#FDE9D9")))
    return [grid(rows, widths, align="llrllc", extra=extra)]


def score_summary(b: dict, mask, *, short: bool = False) -> str:
    sc = b["score"]
    if not sc:
        return "このこどもは直近のスコア算出の対象に含まれていません（年齢・取込状況を確認してください）。"
    if mask.hide_welfare:
        return f"抽出: {'あり' if sc['flagged'] else 'なし'}　（学校向け表示: 福祉関係の情報と点数の合計は表示していません）"
    bits = [
        f"合計 {fmt_points(sc['total'])} 点",
        f"区分 {sc['band'] or '-'}",
        "抽出あり" if sc["flagged"] else "抽出なし",
    ]
    if sc["basic_items"] and not short:
        bits.append(f"基本連携項目 {sc['basic_items']} 項目に該当")
    if (sc["school_points"] or sc["total"]) and not short:
        bits.append(
            f"学校保有 {fmt_points(sc['school_points'])} 点 ＋ 学校以外 {fmt_points(sc['total'] - sc['school_points'])} 点"
        )
    if sc["yotaikyo"]:
        bits.append("要対協登録あり（支援継続）")
    if sc.get("new"):
        bits.append("今回新たに抽出")
    if sc.get("sharp_rise"):
        bits.append("前回から急上昇")
    if sc.get("streak", 0) >= 2:
        bits.append(f"{sc['streak']} 回連続で抽出")
    when = f"（{wareki(b['run']['as_of'], short=short)}時点の算出）" if b.get("run") else ""
    return "　／　".join(bits) + when


def type_table(b: dict) -> list:
    sc = b["score"]
    if not sc or not sc["types"]:
        return []
    rows = [["困難の種別", "点数", "基準点（中／高）", "区分", "抽出"]]
    for t in sc["types"]:
        th = t.get("thresholds") or {}
        if th.get("中") is not None or th.get("高") is not None:
            thr = (
                f"{fmt_points(th.get('中')) if th.get('中') is not None else '—'} ／ "
                f"{fmt_points(th.get('高')) if th.get('高') is not None else '—'}"
            )
        else:
            thr = fmt_points(t["threshold"]) if t["threshold"] not in (None, "") else "—"
        rows.append([t["type"], fmt_points(t["points"]), thr, t["band"] or "—", "○" if t["flagged"] else ""])
    extra = [
        ("BACKGROUND", (3, i), (4, i), colors.HexColor("#FDE9D9")) for i, t in enumerate(sc["types"], 1) if t["flagged"]
    ]
    return [grid(rows, [W - 120 * mm, 26 * mm, 40 * mm, 27 * mm, 27 * mm], align="lrccc", extra=extra)]


def reasons_table(b: dict, mask, *, compact: bool = False, max_rows: int | None = None) -> list:
    """Every reason under its difficulty type: item, points, source (department), record date, batch file."""
    reasons = visible_reasons(b["score"], mask)
    if not b["score"]:
        return [empty_line("（スコアがありません）")]
    if not reasons:
        return [empty_line("（該当した項目はありません）")]
    show_points = not mask.hide_welfare
    if compact:
        rows = [["種別", "該当した項目", "点", "情報源", "記録日"]]
        flat = sorted(reasons, key=lambda r: -r["points"])
        for r in flat[: max_rows or len(flat)]:
            label = r["label"] + (f"（{r['subject']}）" if r["subject"] else "")
            rows.append(
                [
                    "・".join(r["types"]) or "—",
                    label,
                    fmt_points(r["points"]) if show_points else "",
                    r["source_label"],
                    wareki(r["record_date"], short=True),
                ]
            )
        if max_rows and len(flat) > max_rows:
            rows.append(["", f"ほか {len(flat) - max_rows} 項目（アセスメントシート参照）", "", "", ""])
        return [grid(rows, [24 * mm, 78 * mm, 10 * mm, 44 * mm, W - 156 * mm], align="llrlc")]
    rows = [["該当した項目", "点", "情報源（担当課）", "記録日", "取込ファイル"]]
    extra = []
    for t, total, items in reasons_by_type(reasons):
        rows.append(
            [
                P(
                    f"{esc(t)}　<font size=8.5>小計 {fmt_points(total)} 点</font>" if show_points else esc(t),
                    "cell",
                    raw=True,
                ),
                "",
                "",
                "",
                "",
            ]
        )
        i = len(rows) - 1
        extra += [("SPAN", (0, i), (-1, i)), ("BACKGROUND", (0, i), (-1, i), LABEL_BG)]
        for r, p in items:
            label = esc(r["label"])
            if r.get("value"):
                label += f"<font size=8.5 color='#404040'>　{esc(r['value'])}</font>"
            if r["subject"]:
                label += f"<font size=8.5 color='#404040'>（{esc(r['subject'])}）</font>"
            if r["basic"]:
                label += "<font size=8.5 color='#404040'>　基本項目</font>"
            src = esc(r["source_label"])
            if r["department"]:
                src += f"<br/><font size=8.5 color='#404040'>{esc(r['department'])}</font>"
            fname = esc(r["file_name"]) + (
                f"<font size=8.5 color='#404040'>　#{r['batch_id']}</font>" if r["batch_id"] else ""
            )
            rows.append(
                [
                    P(label, "cell", raw=True),
                    fmt_points(p) if show_points else "",
                    P(src, "cell", raw=True),
                    wareki(r["record_date"], short=True),
                    P(fname, "small", raw=True),
                ]
            )
    return [grid(rows, [62 * mm, 11 * mm, 40 * mm, 19 * mm, W - 132 * mm], align="lrlcl", extra=extra)]


def protective_table(b: dict, mask) -> list:
    sc = b["score"]
    items = [r for r in (sc or {}).get("protective", []) if mask.shows_source(r["source_type"])]
    if not items:
        return []
    rows = [["保護的要因（強み）", "情報源", "記録日"]] + [
        [r["label"], r["source_label"], wareki(r["record_date"], short=True)] for r in items
    ]
    return [gap(2.5), grid(rows, [100 * mm, 50 * mm, W - 150 * mm], align="llc")]


def sources_table(b: dict, mask) -> list:
    """Each source: its department, newest extract, and what it holds on the child and the household.

    "データなし" is what the scoring run declared (e.g. no school data for a pupil) — it differs from "記録なし"
    in a recipients' list, which only says the child is not on it."""
    rows = [["情報源", "担当課", "最新の取込（時点）", "本人・世帯の記録", "取込ファイル"]]
    extra = []
    shown = [x for x in b["sources"] if mask.shows_source(x["source_type"])]
    for i, x in enumerate(shown, 1):
        if x["no_data"]:
            mine = "データなし"
            extra.append(("BACKGROUND", (3, i), (3, i), colors.HexColor("#E7E6E6")))
        elif x["records"] or x["household_records"]:
            bits = []
            if x["records"]:
                bits.append(
                    f"本人 {x['records']} 件"
                    + (f"（{wareki(x['latest_record'], short=True)}）" if x["latest_record"] else "")
                )
            if x["household_records"]:
                bits.append(f"世帯員 {x['household_records']} 件")
            mine = "<br/>".join(bits)
        else:
            mine = "<font color='#404040'>記録なし</font>"
        rows.append(
            [
                x["label"],
                x["department"],
                wareki(x["as_of"]) if x["as_of"] else "—",
                P(mine, "cell_c", raw=True),
                P(esc(x["file_name"]), "small", raw=True),
            ]
        )
    if len(rows) == 1:
        return [empty_line("（取り込まれた情報源はありません）")]
    out = [grid(rows, [30 * mm, 37 * mm, 28 * mm, 31 * mm, W - 126 * mm], align="llccl", extra=extra)]
    if any(x["no_data"] for x in shown):  # the sources themselves are named once, in the データなし・未取込 line
        out += [gap(1), P("※「データなし」: スコア算出時にこの情報源にこどもの記録がなかったもの。", "small")]
    return out


def checklist_table(b: dict) -> list:
    c = b.get("checklist")
    if not c:
        return [empty_line("（観察チェックリストの記入はありません）")]
    head = (
        f"{c['title']}　{c.get('school') or ''}　ラウンド: {c['round']}　記入日: {wareki(c['entered_on']) or '—'}"
        f"　{c['status']}　該当 {c['hits']} 項目"
    )
    rows = [["区分", "観点", "該当／回答", "該当した項目"]]
    for g in c["groups"]:
        rows.append(
            [
                g["part"],
                g["label"],
                f"{len(g['hits'])} ／ {g['answered']}" + (f"\n（不明 {g['unknown']}）" if g.get("unknown") else ""),
                "\n".join(f"・{h}" for h in g["hits"]) if g["hits"] else "—",
            ]
        )
    out = [P(head, "small"), gap(1), grid(rows, [30 * mm, 34 * mm, 20 * mm, W - 84 * mm], align="llcl")]
    if c["remark"]:
        out += [gap(1), P(f"学校の所見: {c['remark']}", "small")]
    return out


def history_table(b: dict) -> list:
    h = b["history"]
    if not h:
        return [empty_line("（スコア算出の履歴はありません）")]
    rows = [["算出（時点）", "重み", "合計", "区分", "抽出", "種別", "変化"]]
    for x in h:
        rows.append(
            [
                wareki(x["as_of"]),
                x["weights"],
                fmt_points(x["total"]),
                x["band"],
                "○" if x["flagged"] else "",
                x["types"],
                x["change"],
            ]
        )
    streak = 0
    for x in reversed(h):
        if not x["flagged"]:
            break
        streak += 1
    out = [grid(rows, [30 * mm, 36 * mm, 14 * mm, 14 * mm, 12 * mm, W - 134 * mm, 28 * mm], align="llrccll")]
    if streak >= 2:
        out += [gap(1), P(f"直近 {streak} 回連続で抽出されています。", "small")]
    return out


def decisions_tables(b: dict, *, compact: bool = False, limit: int | None = 5) -> list:
    d = b["decisions"]
    out = []
    if compact:
        found = []
        for c in d["classifications"]:
            if c["classification"] and c["classification"] != "未分類":
                when = to_date(c["decided_at"]) or c["as_of"]
                found.append(
                    (when, [wareki(when, short=True), f"ラウンド「{c['round']}」", c["classification"], c["reason"]])
                )
        for c in d["conferences"]:
            if c["decided"]:
                what = f"支援{c['support_needed']}" + (f"・{c['direction']}" if c["direction"] else "")
                more = "　".join(
                    x
                    for x in (
                        registration_text(c),
                        f"主担当: {c['lead_organisation']}" if c["lead_organisation"] else "",
                        c["actions"],
                        c["minutes"],
                    )
                    if x
                )
                if c["support_needed"] == "不要" and not c["minutes"]:
                    more = (more + "　" if more else "") + "（理由の記録なし）"
                found.append((c["held_on"], [wareki(c["held_on"], short=True), c["kind"], what, more]))
        if not found:
            return [empty_line("（これまでの判断・会議の記録はありません）")]
        found.sort(key=lambda x: x[0] or dt.date.min)
        shown = found if not limit else found[-limit:]
        rows = [["日付", "場", "判断", "理由・決定事項"]] + [r for _, r in shown]
        out = [grid(rows, [18 * mm, 38 * mm, 36 * mm, W - 92 * mm], align="clll")]
        if len(found) > len(shown):
            out.append(P(f"ほかに、それ以前の判断が {len(found) - len(shown)} 件あります。", "muted"))
        return out
    if d["classifications"]:
        rows = [["ラウンド", "区分", "分類", "理由", "判断者・日"]]
        for c in d["classifications"]:
            rows.append(
                [
                    f"{c['round']}（{wareki(c['as_of'], short=True)}）",
                    c["status"],
                    c["classification"],
                    c["reason"],
                    f"{c['decided_by']} {wareki(c['decided_at'], short=True)}".strip(),
                ]
            )
        out.append(grid(rows, [36 * mm, 18 * mm, 26 * mm, W - 110 * mm, 30 * mm], align="lccll"))
    if d["conferences"]:
        if out:
            out.append(gap(2))
        rows = [["会議（開催日）", "支援要否", "方向性", "主担当機関", "次回見直し", "議事メモ・当面の対応"]]
        for c in d["conferences"]:
            memo = "　".join(x for x in (registration_text(c), c["actions"], c["minutes"]) if x)
            if c["support_needed"] == "不要" and not c["minutes"]:
                memo = (memo + "　" if memo else "") + "（理由の記録なし）"
            rows.append(
                [
                    f"{c['kind']}（{wareki(c['held_on'], short=True)}）",
                    c["support_needed"] or "未決定",
                    c["direction"],
                    c["lead_organisation"],
                    wareki(c["next_review_on"], short=True),
                    memo,
                ]
            )
        out.append(grid(rows, [34 * mm, 16 * mm, 22 * mm, 28 * mm, 18 * mm, W - 118 * mm], align="lcllcl"))
    return out or [empty_line("（これまでの判断・会議の記録はありません）")]


def support_tables(b: dict) -> list:
    sp = b["support"]
    out = []
    if sp["cases"]:
        rows = [["開始日", "主担当機関", "支援の内容（支援方針）", "次回対応日", "状態"]]
        for c in sp["cases"]:
            state = f"終結 {wareki(c['closed_on'], short=True)}（{c['close_reason']}）" if c["closed_on"] else "支援中"
            rows.append(
                [
                    wareki(c["opened_on"], short=True),
                    c["lead_organisation"],
                    c["plan"],
                    wareki(c["next_action_on"], short=True),
                    state,
                ]
            )
        out.append(grid(rows, [20 * mm, 34 * mm, W - 112 * mm, 22 * mm, 36 * mm], align="cllcl"))
    else:
        out.append(empty_line("（支援計画はまだありません）"))
    if sp["progress"]:
        out.append(gap(2))
        out.append(P("経過記録（新しい順）", "small"))
        rows = [["日付", "種別", "対応者", "内容", "結果", "次回"]]
        for p in sp["progress"]:
            rows.append(
                [
                    wareki(p["on"], short=True),
                    p["kind"],
                    p["who"],
                    p["what"],
                    p["outcome"],
                    wareki(p["next_action_on"], short=True),
                ]
            )
        out.append(grid(rows, [18 * mm, 20 * mm, 26 * mm, W - 124 * mm, 42 * mm, 18 * mm], align="cclllc"))
    return out


def recent_records(b: dict, mask, *, since=None, limit: int = 8) -> list:
    recs = [
        r
        for r in b["records"]
        if mask.shows_source(r["source_type"])
        and r["source_type"] != "resident_registry"
        and (since is None or (r["date"] and r["date"] >= since))
    ]
    if not recs:
        return [empty_line("（直近の記録はありません）")]
    rows = [["日付", "情報源", "内容"]]

    for r in recs[:limit]:
        rows.append([wareki(r["date"], short=True), source_label(r["source_type"]), summarise_record(r)])
    out = [grid(rows, [18 * mm, 38 * mm, W - 56 * mm], align="cll")]
    if len(recs) > limit:
        out.append(P(f"ほか {len(recs) - limit} 件", "muted"))
    return out


def score_block(b: dict, mask, *, compact: bool = False, max_rows: int | None = None) -> list:
    out = [] if compact else [P(score_summary(b, mask), "cell"), gap(1.5)]
    if not compact and not mask.hide_welfare:
        tt = type_table(b)
        if tt:
            out += tt + [gap(2)]
    out += reasons_table(b, mask, compact=compact, max_rows=max_rows)
    out += [gap(1.5), caveat()]
    return out


# --- the packet page and the fuller assessment sheet (issue 17) -------------------------------------------------------
KIND_LABEL = {"own": "本人の記録", "household": "世帯の事情", "poverty_proxy": "経済的指標", "protective": "保護的要因"}


def household_line(b: dict) -> str:
    """「4 人（本人・きょうだい 2 人〈うち 19 歳以上 2 人〉・世帯主・妻）」: counts that agree with the table."""
    members = b["household"]
    sibs = [m for m in members if m.get("same_generation", m["sibling"])]
    adults = [m for m in sibs if m["age"] is not None and m["age"] > 18]
    others = [m["relationship"] or "続柄不明" for m in members if m not in sibs]
    parts = [f"きょうだい {len(sibs)} 人" + (f"（うち19歳以上 {len(adults)} 人）" if adults else "")] if sibs else []
    parts += others
    return f"{len(members) + 1} 人" + (f"（本人のほか {'・'.join(parts)}）" if parts else "（本人のみ）")


def yotaikyo_text(b: dict) -> str:
    y = b.get("yotaikyo")
    if not y:
        return "登録なし（要対協台帳に記録なし）"
    cat = y["category"] or "種別不明"
    cat += f"（{y['detail']}）" if y.get("detail") else ""
    since = wareki(y["registered_on"], short=True)
    if y["open"]:
        return (
            f"登録中　{cat}"
            + (f"　{since}〜" if since else "")
            + ("　一時保護歴あり" if y["temporary_protection"] else "")
        )
    return f"終結　{cat}" + (f"　{since}〜{wareki(y['closed_on'], short=True)}" if y["closed_on"] else "")


def marks_lines(b: dict, mask) -> list:
    """One line each, only when there is something: データなし・未取込 (once), 名寄せ確認待ち, 日付要確認, guard off."""
    out = []
    sc = b.get("score") or {}
    nd = no_data_labels(b, mask)
    if nd:
        out.append(
            P(
                f"<b>データなし・未取込</b>: {esc('、'.join(nd))}"
                "　<font color='#404040'>（「データなし」は「リスクがない」ことではありません）</font>",
                "cell",
                raw=True,
            )
        )
    pend = [x for x in b.get("pending") or [] if mask.shows_source(x["source_type"])]
    if pend and mask.sees("pending"):
        txt = "、".join(f"{x['label']} {x['count']}件" for x in pend)
        out.append(P(f"<b>名寄せ確認待ち</b>: {esc(txt)}（確認されるまで点数に含めていません）", "cell", raw=True))
    imp = [x for x in b.get("implausible") or [] if mask.shows_source(x["source_type"])]
    if imp:
        txt = "、".join(f"{x['label']} {wareki(x['date'], short=True) or '日付なし'}（{x['why']}）" for x in imp)
        out.append(P(f"<b>日付要確認</b>: {esc(txt)}　事実としては扱っていません", "cell", raw=True))
    if sc.get("guard_off") and mask.sees("types"):
        g = sc["guard_off"]
        txt = "、".join(f"{k}（{v}）" if v else str(k) for k, v in g.items()) if isinstance(g, dict) else "、".join(g)
        out.append(
            P(
                f"<b>世帯・経済的指標だけでの最上位区分の制限を解除中</b>: {esc(txt)}",
                "cell",
                raw=True,
            )
        )
    return out


def no_data_labels(b: dict, mask) -> list[str]:
    """The sources the scoring run found no data in, and the sources never imported — each named once."""
    sc = b.get("score") or {}
    seen, out = set(), []
    for x in sc.get("no_data") or []:
        if x["source_types"] and not any(mask.shows_source(st) for st in x["source_types"]):
            continue
        label = x["label"] + (f"（{x['detail']}）" if x.get("detail") else "")
        key = x["label"]
        if key not in seen:
            seen.add(key)
            out.append(label)
    missing = [source_label(st) for st in b.get("not_imported") or [] if mask.shows_source(st)]
    if missing:
        out.append(f"{'・'.join(missing)}（未取込）")
    return out


def reasons_rows(b: dict, mask) -> list[list]:
    """Each reason (and protective factor) as a table row: item (with whose and the value), fact kind,
    source (department), record date, file and batch. Points per difficulty type only where the audience sees
    them, in a secondary line — the item is never shown as if it were 虐待 itself."""
    sc = b.get("score") or {}
    rows = []
    items = [r for r in sc.get("reasons") or [] if mask.shows_reason(r)]
    items += [r for r in sc.get("protective") or [] if mask.shows_reason(r)]
    for r in items:
        label = esc(r["label"])
        second = "　".join(x for x in (f"対象: {r['subject']}" if r["subject"] else "", r.get("value") or "") if x)
        if second:
            label += f"<br/><font size=8.5 color='#404040'>{esc(second)}</font>"
        if r.get("implausible"):
            label += "<br/><font size=8.5 color='#C00000'>日付要確認（事実として扱っていません）</font>"
        if mask.sees("points") and r["types"] and not r["protective"]:
            per = "／".join(f"{t} {fmt_points(p)}" for t, p in sorted(r["types"].items(), key=lambda x: -x[1]))
            label += f"<br/><font size=8.5 color='#404040'>数える種別と点: {esc(per)}</font>"
        src = esc(r["source_label"])
        if str(r.get("indicator") or "").startswith("sibling"):  # the sibling's own records, not the registry's
            src = "きょうだいのスコア<br/><font size=8.5 color='#404040'>世帯関係は住民基本台帳</font>"
        elif r["department"] and mask.sees("department"):
            src += f"<br/><font size=8.5 color='#404040'>{esc(r['department'])}</font>"
        fname = ""
        if mask.sees("file"):
            fname = esc(r["file_name"]) + (f"　#{r['batch_id']}" if r["batch_id"] else "")
        rows.append(
            [
                P(label, "cell", raw=True),
                KIND_LABEL.get(r.get("fact_kind") or "", ""),
                P(src, "cell", raw=True),
                wareki(r["record_date"], short=True),
                P(fname, "small", raw=True),
            ]
        )
    return rows


REASON_HEAD = ["該当した項目", "事実の種類", "情報源（担当課）", "記録日", "取込ファイル（#取込番号）"]
REASON_W = [68 * mm, 20 * mm, 38 * mm, 18 * mm, W - 144 * mm]


def reasons_grid(rows: list[list]) -> Table:
    return grid([REASON_HEAD] + rows, REASON_W, align="lclcl")


def last_scores(b: dict, n: int = 3) -> str:
    h = b.get("history") or []
    if not h:
        return "スコア算出の履歴はありません"
    return "　→　".join(
        f"{wareki(x['as_of'], short=True)} {x['band'] or '-'}（{fmt_points(x['total'])}点{'・抽出' if x['flagged'] else ''}）"
        for x in h[-n:]
    )


# what record_minutes stores → the words on the pen form's check boxes
REG_BOX = {"登録する": "新規登録", "継続": "登録継続", "登録しない": "登録しない"}
CAT_BOX = {"要保護児童": "要保護", "要支援児童": "要支援", "特定妊婦": "特定妊婦"}


def registration_text(c: dict) -> str:
    """「要対協: 登録する（要支援児童）」 for a recorded decision, "" when the meeting recorded none."""
    if not c.get("registration"):
        return ""
    return f"要対協: {c['registration']}" + (f"（{c['category']}）" if c.get("category") else "")


def decision_box_full(b: dict, item: dict | None = None, *, title: str = "会議での決定（記入欄）") -> Table:
    """The decision the meeting fills in by pen (■ where a decision is already recorded in the app): 要対協
    registration and category, support needed with its reason, direction, roles per agency with their next date,
    the next review, 協議メモ, and the 記録者 / 確認 lines."""
    item = item or {}
    y = b.get("yotaikyo") or {}
    reg_now = "登録中" if y.get("open") else ("終結" if y else "未登録")
    cat_now = y.get("category") if y.get("open") else None
    reg = boxes(["新規登録", "登録継続", "終結", "登録しない"], REG_BOX.get(item.get("registration") or ""), sep="　")
    cat = boxes(["要保護", "要支援", "特定妊婦"], CAT_BOX.get(item.get("category") or ""), sep="　")
    need = item.get("support_needed")
    reason = item.get("reason") or ""
    if need == "不要" and not reason and not item.get("minutes"):
        reason = "（理由の記録なし）"
    dirs = {"A": "A 校内支援", "B": "B 地域資源", "C": "C 専門機関"}
    dir_text = "　".join(("■" if item.get("direction_key") == k else "□") + v for k, v in dirs.items())
    roles = [r for r in (item.get("roles") or []) if isinstance(r, dict)]
    if item.get("decided_at") and item.get("direction_key") is None and need:
        dir_text += "　（記録なし）"
    nxt = wareki(item["next_review_on"]) if item.get("next_review_on") else "令和　　年　　月　　日"
    role_rows = [
        [
            r.get("organisation") or r.get("org") or "",
            r.get("role") or "",
            wareki(r.get("next") or r.get("next_on"), short=True) or "　月　日",
        ]
        for r in roles
    ]
    while len(role_rows) < 3:
        role_rows.append(["", "", "　月　日"])
    st = styles()
    hdr = P(
        f"<font color='white'>{esc(title)}</font>　<font color='white' size=8.5>現在の要対協: {esc(reg_now)}"
        + (f"（{esc(cat_now)}）" if cat_now else "")
        + "</font>",
        "cell",
        raw=True,
    )
    inner_w = W - 24 * mm
    roles_t = Table(
        [[P("機関", "head"), P("役割", "head"), P("次回（期日）", "head")]]
        + [[P(esc(a), "cell", raw=True), P(esc(r_), "cell", raw=True), P(n, "cell_c")] for a, r_, n in role_rows],
        colWidths=[46 * mm, inner_w - 76 * mm, 30 * mm],
        rowHeights=[None] + [7 * mm] * len(role_rows),
    )
    roles_t.setStyle(
        tstyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    rows = [
        [hdr, "", "", ""],
        ["要対協登録", P(reg + "　／　種別: " + cat, "cell"), "", ""],
        ["支援要否", P(boxes(["要", "不要", "継続検討"], need), "cell"), "方向性", P(dir_text, "cell")],
        ["判断の理由", P(esc(reason), "cell", raw=True), "", ""],
        ["役割分担", roles_t, "", ""],
        ["主担当機関", item.get("lead_organisation") or "", "次回見直し日", nxt],
        ["当面の対応", P(esc(item.get("actions") or ""), "cell", raw=True), "", ""],
        ["協議メモ", P(esc(item.get("minutes") or ""), "cell", raw=True), "", ""],
        ["記録者", item.get("decided_by") or "", "確認", ""],
    ]
    t = Table(
        [[c if not isinstance(c, str) else P(c, st.label) for c in r] for r in rows],
        colWidths=[24 * mm, W / 2 - 34 * mm, 24 * mm, W / 2 - 14 * mm],
        rowHeights=[None, 8 * mm, 8 * mm, 11 * mm, None, 8 * mm, 10 * mm, 14 * mm, 10 * mm],
    )
    t.setStyle(
        tstyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, NAVY),
                ("GRID", (0, 1), (-1, -1), 0.5, GRID),
                ("SPAN", (0, 0), (-1, 0)),
                ("BACKGROUND", (0, 0), (-1, 0), NAVY),
                ("SPAN", (1, 1), (3, 1)),
                ("SPAN", (1, 3), (3, 3)),
                ("SPAN", (1, 4), (3, 4)),
                ("SPAN", (1, 6), (3, 6)),
                ("SPAN", (1, 7), (3, 7)),
                ("BACKGROUND", (0, 1), (0, -1), LABEL_BG),
                ("BACKGROUND", (2, 2), (2, 2), LABEL_BG),
                ("BACKGROUND", (2, 5), (2, 5), LABEL_BG),
                ("BACKGROUND", (2, 8), (2, 8), LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("VALIGN", (1, 3), (1, 3), "TOP"),
                ("VALIGN", (1, 6), (1, 7), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (1, 4), (1, 4), 0),
                ("RIGHTPADDING", (1, 4), (1, 4), 0),
                ("TOPPADDING", (1, 4), (1, 4), 0),
                ("BOTTOMPADDING", (1, 4), (1, 4), 0),
            ]
        )
    )
    return t


def stamp_box(labels=("担当", "係長", "課長")) -> Table:
    """確認 stamp boxes (押印・サイン欄)."""
    t = Table(
        [[P("確認", "label")] + [P(x, "cell_c") for x in labels], [""] + ["" for _ in labels]],
        colWidths=[14 * mm] + [20 * mm] * len(labels),
        rowHeights=[6 * mm, 16 * mm],
        hAlign="RIGHT",
    )
    t.setStyle(
        tstyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, GRID),
                ("SPAN", (0, 0), (0, 1)),
                ("BACKGROUND", (0, 0), (0, 1), LABEL_BG),
                ("BACKGROUND", (1, 0), (-1, 0), LABEL_BG),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return t
