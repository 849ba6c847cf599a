"""Governance documents: the disclosure for a resident, the 個人情報ファイル簿 draft (PDF and Excel) and the
self-inspection report. A4, embedded IPAex font, 取扱注意 and page x / y on every page; every file is logged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from ...resources import font_path
from .. import calendar, outputs
from ..importing.fields import SOURCE_TYPES
from ..security.roles import ROLES
from ..services import service
from ..storage.models import SelfInspection
from ..vocab import SEX_LABELS
from .register import DEFAULT_SOURCES, MANUAL_ITEMS, file_register, resident_notice, self_inspection_auto

if TYPE_CHECKING:
    from ..workspace import Workspace

FONT = "IPAexGothic"


def _font():
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font_path("gothic"))))
    return FONT


wareki = calendar.wareki  # one 和暦 table for the whole app


def _styles():
    f = _font()
    return {
        "title": ParagraphStyle("t", fontName=f, fontSize=15, leading=20, spaceAfter=6),
        "h": ParagraphStyle(
            "h",
            fontName=f,
            fontSize=11.5,
            leading=16,
            spaceBefore=8,
            spaceAfter=4,
            textColor=colors.HexColor("#1F3864"),
        ),
        "p": ParagraphStyle("p", fontName=f, fontSize=9.5, leading=14),
        "small": ParagraphStyle("s", fontName=f, fontSize=8, leading=11),
    }


def _page_decor(title: str, printed_by: str, total):
    printed_at = dt.datetime.now()

    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 8.5)
        canvas.drawString(18 * mm, A4[1] - 12 * mm, title)
        canvas.setStrokeColor(colors.HexColor("#C00000"))
        canvas.setFillColor(colors.HexColor("#C00000"))
        canvas.rect(A4[0] - 40 * mm, A4[1] - 15 * mm, 22 * mm, 7 * mm)
        canvas.setFont(FONT, 10)
        canvas.drawCentredString(A4[0] - 29 * mm, A4[1] - 12.8 * mm, "取扱注意")
        canvas.setFillColor(colors.black)
        canvas.setFont(FONT, 8)
        canvas.drawString(18 * mm, 10 * mm, f"出力: {printed_by}　{wareki(printed_at.date())} {printed_at:%H:%M}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{doc.page} / {total} ページ")
        canvas.restoreState()

    return draw


def _build(out: Path, title: str, printed_by: str, make_story) -> int:
    """Two passes (the story is built afresh each time) so the footer can say 'x / y'."""

    def render(total) -> int:
        doc = SimpleDocTemplate(
            str(out),
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=20 * mm,
            bottomMargin=18 * mm,
            title=title,
            author="Kodomo Desktop",
            initialFontName=FONT,
            initialFontSize=9,
        )
        decor = _page_decor(title, printed_by, total)
        pages = {"n": 0}

        def on_page(canvas, d):
            decor(canvas, d)
            pages["n"] = d.page

        doc.build(make_story(), onFirstPage=on_page, onLaterPages=on_page)
        return pages["n"]

    return render(render("?"))


def _table(rows, widths=None, header=True, row_heights=None):
    f = _font()
    st = _styles()["small"]
    data = [[Paragraph(_esc(c), st) for c in r] for r in rows]
    t = Table(data, colWidths=widths, rowHeights=row_heights, repeatRows=1 if header else 0)
    style = [
        ("FONTNAME", (0, 0), (-1, -1), f),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#888888")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")))
    t.setStyle(TableStyle(style))
    return t


def _esc(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False, default=str)
    return str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- disclosure -----------------------------------------------------------------------------------------------------
def disclosure_pdf(ws: Workspace, data: dict, out: Path) -> int:
    st = _styles()
    return _build(out, "保有個人情報の開示", ws.user.name, lambda: _disclosure_story(data, st))


FIELD_LABELS = {
    "person_id": "整理番号",
    "name": "氏名",
    "name_kana": "カナ",
    "birth_date": "生年月日",
    "sex": "性別",
    "address": "住所",
    "relationship": "続柄",
    "resident_no": "宛名番号",
    "household_members": "世帯の人数",
    "record_id": "記録番号",
    "decision": "判断",
    "decided_by": "判断した人",
    "decided_at": "判断日時",
    "undone_at": "取消日時",
    "round": "ラウンド",
    "classification": "分類",
    "reason": "理由",
    "conference": "会議",
    "held_on": "開催日",
    "support_needed": "支援の要否",
    "direction": "方針",
    "lead_organisation": "主担当機関",
    "actions": "役割分担",
    "next_review_on": "次回確認日",
    "minutes": "記録",
    "opened_on": "開始日",
    "plan": "支援計画",
    "closed_on": "終結日",
    "close_reason": "終結理由",
    "on": "日付",
    "kind": "種別",
    "who": "対応者",
    "what": "内容",
    "outcome": "結果",
    "next_action_on": "次回予定日",
    "created_at": "作成日時",
    "by": "作成者",
    "text": "内容",
    "round_id": "回",
    "school": "学校",
    "status": "状態",
    "answers": "回答",
    "remark": "備考",
    "entered_on": "入力日",
    "from_date": "開始日",
    "removed_at": "解除日時",
    "field": "項目",
    "old_value": "訂正前",
    "new_value": "訂正後",
    "at": "日時",
    "seq": "番号",
    "user": "利用者",
    "action": "操作",
    "detail": "詳細",
}
#: The sections of a 開示 (disclosure) answer, in print order.
SECTION_LABELS = {
    "person": "本人の情報",
    "source_rows": "取り込んだ記録（原本のまま）",
    "link_decisions": "名寄せの判断",
    "scores": "スコアと理由",
    "classifications": "分類",
    "conference_decisions": "会議での決定",
    "support_cases": "支援計画",
    "progress_records": "経過記録",
    "notes": "メモ",
    "checklists": "観察チェックリスト",
    "opt_outs": "利用停止",
    "corrections": "訂正の履歴",
    "access_log": "この人に関する操作ログ",
}
SEX = SEX_LABELS
CHUNK = 600  # characters per table cell: a reportlab table row cannot split across pages


def _cell_text(v) -> str:
    if isinstance(v, (dict, list)):
        v = json.dumps(v, ensure_ascii=False, default=str)
    return "" if v is None else str(v)


def _kv_rows(d: dict, labels: dict) -> list[list[str]]:
    """(label, value) rows; a long value continues on further rows so no cell outgrows a page."""
    out = []
    for k, v in d.items():
        t = _cell_text(v)
        parts = [t[i : i + CHUNK] for i in range(0, len(t), CHUNK)] or [""]
        out.append([labels.get(k, k), parts[0]])
        out += [["（続き）", x] for x in parts[1:]]
    return out


def _date_ja(v) -> str:
    try:
        return wareki(dt.date.fromisoformat(str(v)[:10]))
    except (TypeError, ValueError):
        return _cell_text(v)


_CHANGE_LABELS = (
    ("source_types_added", "取込元を追加"),
    ("source_types_removed", "取込元を削除"),
    ("types_added", "困難の種類を追加"),
    ("types_removed", "困難の種類を削除・改名"),
    ("indicators_added", "指標を追加"),
    ("indicators_removed", "指標を削除"),
    ("indicators_changed", "指標を変更"),
    ("takeup_gaps_added", "利用できる可能性のある支援の条件を追加"),
)


def catalogue_rows(changes: list[dict]) -> list[list[str]]:
    """The town's catalogue versions (register.catalogue_changes) as table rows: 版, 採用日, 採用者, 理由, 重みの版, 内容."""
    rows = [["版", "採用日", "採用者", "理由", "重みの版", "内容"]]
    for c in changes:
        what = c.get("changes") or {}
        names = what.get("labels") or {}
        parts = []
        for k, label in _CHANGE_LABELS:
            if what.get(k):
                shown = (
                    [str(names.get(x, x)) for x in what[k]]
                    if k.startswith(("indicators", "takeup"))
                    else [str(x) for x in what[k]]
                    if k.startswith("types")
                    else [str(names[x]) for x in what[k] if x in names]  # a source type by its label, never its key
                )
                named = "（" + "・".join(shown[:3]) + ("ほか" if len(shown) > 3 else "") + "）" if shown else ""
                parts.append(f"{label} {len(what[k])} 件{named}")
        if what.get("rules_changed"):
            parts.append("抽出のルールを変更")
        rows.append(
            [
                f"第{c.get('version')}版",
                _date_ja(c.get("at")),
                _cell_text(c.get("by")),
                _cell_text(c.get("reason")),
                f"第{c.get('weight_set_version')}版",
                "、".join(parts) or "—",
            ]
        )
    return rows


def _disclosure_story(data, st):
    p = data["person"]
    story = [
        Paragraph("保有個人情報の開示", st["title"]),
        Paragraph(f"対象者: {_esc(p.get('name'))}（{_esc(p.get('name_kana'))}）　整理番号 {p['person_id']}", st["p"]),
        Paragraph(
            f"作成日: {wareki(dt.date.today())}　町が保有しているあなたご本人の記録を、取り込んだ原本の形のまま"
            "記載しています。ほかの方（保護者・世帯員など）の記録は載せていません。ほかの方を特定する情報は"
            "「第三者の情報のため不開示」としています。",
            st["p"],
        ),
        Spacer(1, 4 * mm),
    ]
    W = [40 * mm, 134 * mm]
    for key, label in SECTION_LABELS.items():
        if key not in data:  # a section the audience does not see is left out, not printed empty
            continue
        rows = data[key] if isinstance(data[key], list) else [data[key]]
        story.append(Paragraph(f"{label}（{len(rows)} 件）" if key != "person" else label, st["h"]))
        if not rows:
            story.append(Paragraph("（記録はありません）", st["p"]))
            continue
        if key == "person":
            d = dict(rows[0])
            d["sex"] = SEX.get(d.get("sex"), d.get("sex"))
            d["birth_date"] = _date_ja(d.get("birth_date")) if d.get("birth_date") else ""
            story.append(_table([["項目", "内容"]] + _kv_rows(d, FIELD_LABELS), widths=W))
        elif key == "source_rows":
            for n, r in enumerate(rows, 1):
                story.append(
                    KeepTogether(
                        [
                            Paragraph(
                                f"{n}. {_esc(r['file_name'])}　{r['row_number']} 行目（{_esc(r['source_type'])}、時点 "
                                f"{_date_ja(r['as_of'])}、名寄せ: {_esc(r['link_status'])} {_esc(r['linked_by'])}）",
                                st["small"],
                            ),
                            _table(
                                [["列（原本の見出し）", "値（原本のまま）"]] + _kv_rows(r["raw"] or {}, {}), widths=W
                            ),
                        ]
                    )
                )
                story.append(Spacer(1, 2 * mm))
        elif key == "scores":
            for r in rows:
                pts = "total" in r  # points, band and types only where the audience sees them
                line = f"算出 {r['run_id']}（基準日 {_date_ja(r['as_of'])}）"
                if pts:
                    line += f"　合計 {r['total']:g} 点"
                if "band" in r:
                    line += f"　区分 {_esc(r['band'])}"
                if "types" in r:
                    line += f"　種別 {_esc(r['types']) or 'なし'}"
                head = Paragraph(line, st["small"])
                rs = [
                    [x.get("label", "")]
                    + ([f"{x.get('points', 0):+g}"] if pts else [])
                    + [
                        x.get("whose", ""),
                        f"{x.get('source_label', '')}（{x.get('file_name', '')}）",
                        _date_ja(x.get("record_date")),
                        x.get("value", ""),
                    ]
                    for x in r["reasons"]
                    if isinstance(x, dict)
                ]
                if rs:
                    story.append(
                        KeepTogether(
                            [
                                head,
                                _table(
                                    [["理由"] + (["点"] if pts else []) + ["だれの記録", "情報源", "日付", "内容"]]
                                    + rs,
                                    widths=[40 * mm]
                                    + ([10 * mm] if pts else [])
                                    + [16 * mm, 44 * mm, 26 * mm, 38 * mm + (0 if pts else 10 * mm)],
                                ),
                            ]
                        )
                    )
                else:
                    story.append(head)
                story.append(Spacer(1, 2 * mm))
        else:
            for r in rows:
                story.append(_table([["項目", "内容"]] + _kv_rows(r, FIELD_LABELS), widths=W))
                story.append(Spacer(1, 2 * mm))
    return story


# --- 個人情報ファイル簿 -------------------------------------------------------------------------------------------------
BASIS_CITES = {
    "61-1": "個人情報保護法第61条第1項",
    "69-2-2": "個人情報保護法第69条第2項第2号",
    "69-2-3": "個人情報保護法第69条第2項第3号",
}


def basis_cite(code, note=None) -> str:
    """The short citation a published register uses (the long explanation is in the guideline)."""
    if code == "other":
        return f"その他（{note}）" if note else "その他"
    return BASIS_CITES.get(code or "", "（未設定）")


def _source_order(items):

    order = list(DEFAULT_SOURCES)
    return sorted(
        items,
        key=lambda i: (order.index(i["source_type"]) if i["source_type"] in order else len(order), i["source_type"]),
    )


@service("governance.read", what="file register pdf")
def file_register_pdf(ws: Workspace, out: Path) -> dict:
    reg = file_register(ws)
    st = _styles()
    notice = resident_notice(ws)
    items = _source_order(reg["items"])

    def story():
        return [
            Paragraph("個人情報ファイル簿（案）", st["title"]),
            Paragraph(f"{_esc(reg['town'])}　作成日 {wareki(dt.date.today())}", st["p"]),
            Paragraph(
                "データベースの内容から作成した下書きです。公表前に内容を確認してください。人数は作成日時点の"
                "登録数です。",
                st["small"],
            ),
            *(Paragraph(n, st["small"]) for n in copy_note(ws)),
            Spacer(1, 4 * mm),
            _table(
                [
                    ["項目", "内容"],
                    ["個人情報ファイルの名称", reg["file_name"]],
                    ["利用目的", reg["purpose"]],
                    [
                        "記録範囲（本人の数）",
                        f"{reg['kinds_of_persons']}　登録人数 {reg['persons_total']} 人"
                        f"（うち 0〜18 歳 {reg['children']} 人、利用停止 {reg['opt_outs']} 件）",
                    ],
                    ["記録情報の収集方法", reg["collection"]],
                    ["経常的提供先", reg["recipients"]],
                    [
                        "開示・訂正・利用停止の請求先",
                        "こども家庭センター（請求があった場合は、保有する情報をすべて開示します）",
                    ],
                    [
                        "備考",
                        "利用停止（不同意）の申出があった方の情報は、名寄せ・スコア算出に用いません。"
                        "保存期間を過ぎた情報は削除します。",
                    ],
                ],
                widths=[45 * mm, 129 * mm],
            ),
            Paragraph("記録項目と根拠（取込元ごと）", st["h"]),
            _table(
                [["取込元", "保有課", "記録項目", "利用目的", "根拠", "人数", "保存期間"]]
                + [
                    [
                        i["label"],
                        i["department"],
                        i["items"],
                        i["purpose"],
                        basis_cite(i.get("basis_code"), i.get("basis_note")),
                        f"{i['persons']:,}",
                        f"{i['retention_months']}か月" if i["retention_months"] else "",
                    ]
                    for i in items
                ],
                widths=[22 * mm, 24 * mm, 42 * mm, 32 * mm, 26 * mm, 12 * mm, 16 * mm],
            ),
            *(
                [
                    Paragraph("指標カタログの変更（町が定義した取込元・困難の種類・指標）", st["h"]),
                    _table(
                        catalogue_rows(reg.get("catalogue_changes") or []),
                        widths=[14 * mm, 26 * mm, 22 * mm, 50 * mm, 16 * mm, 46 * mm],
                    ),
                ]
                if reg.get("catalogue_changes")
                else []
            ),
            Paragraph("住民向けのお知らせ（案）", st["h"]),
            Paragraph(_esc(notice).replace("\n", "<br/>"), st["p"]),
        ]

    pages = _build(out, "個人情報ファイル簿（案）", ws.user.name, story)
    ws.log("print", detail={"document": "file_register", "pages": pages})
    return {"pages": pages, "persons_total": reg["persons_total"], "items": len(reg["items"])}


def file_register_xlsx(ws: Workspace, out: Path) -> dict:
    from openpyxl import Workbook  # lazy: loads openpyxl, only needed here
    from openpyxl.styles import Alignment, Font  # lazy: loads openpyxl, only needed here

    reg = file_register(ws)
    wb = Workbook()
    sh = wb.active
    sh.title = "個人情報ファイル簿"
    sh.append([f"個人情報ファイル簿（案）　{reg['town']}"])
    sh["A1"].font = Font(bold=True, size=13)
    for k, v in (
        ("個人情報ファイルの名称", reg["file_name"]),
        ("利用目的", reg["purpose"]),
        ("記録範囲", reg["kinds_of_persons"]),
        ("登録人数", reg["persons_total"]),
        ("うち 0〜18 歳", reg["children"]),
        ("収集方法", reg["collection"]),
        ("経常的提供先", reg["recipients"]),
    ):
        outputs.safe_append(sh, [k, v])
    sh.append([])
    sh.append(["取込元", "保有課", "記録項目", "利用目的", "根拠", "人数", "行数", "保存期間（月）"])
    for i in _source_order(reg["items"]):
        outputs.safe_append(
            sh,
            [
                i["label"],
                i["department"],
                i["items"],
                i["purpose"],
                basis_cite(i.get("basis_code"), i.get("basis_note")),
                i["persons"],
                i["rows"],
                i["retention_months"],
            ],
        )
    for col, w in zip("ABCDEFGH", (24, 22, 50, 40, 40, 8, 8, 12)):
        sh.column_dimensions[col].width = w
    for row in sh.iter_rows():
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    outputs.save_workbook(wb, out)
    ws.log("export", detail={"what": "file_register"})
    return {"persons_total": reg["persons_total"], "items": len(reg["items"])}


# --- self-inspection ----------------------------------------------------------------------------------------------------
fiscal_year_ja = calendar.fiscal_year_ja  # 令和8年度 for 2026 (the fiscal year starting in April)


def _when(v) -> str:
    try:
        t = dt.datetime.fromisoformat(str(v))
    except (TypeError, ValueError):
        return str(v or "")
    return f"{wareki(t.date())} {t:%H:%M}"


def _anchor_row(ws: Workspace, yes) -> list:
    """The log anchor held in the key file (count + short hash), printed so a paper copy can be compared later."""
    try:
        a = ws.log_anchor()
    except Exception:  # noqa: BLE001 — a report must print even when the key file cannot be read
        return ["操作ログのアンカー（鍵ファイル）", "読み取れません", yes(False)]
    return ["操作ログのアンカー（鍵ファイル）", f"{a['count']} 件・{a['short'] or '—'}", yes(a["ok"])]


def copy_note(ws: Workspace) -> list[str]:
    """An auditor's document (core/auditspace.py) says as of when its copy of the town's log and registers is."""
    copied_at = getattr(ws, "copied_at", None)
    if copied_at is None:
        return []
    at = copied_at()
    when = f"{wareki(at.date())} {at:%H:%M}" if at else "（未更新）"
    return [f"監査用の写し（{when} 時点の操作ログと台帳）から作成しました。"]


@service("governance.read", what="self-inspection pdf")
def self_inspection_pdf(ws: Workspace, fiscal_year: int, out: Path) -> dict:
    """自己点検 of one fiscal year as a PDF. The check runs before the saved answers are read (it used to come with
    the automatic items, after them)."""
    with ws.session() as s:
        row = s.scalar(select(SelfInspection).where(SelfInspection.fiscal_year == fiscal_year))
        saved = row.answers if row else {}
        saved_by, saved_at = (row.saved_by, row.saved_at) if row else (None, None)
    auto = self_inspection_auto(ws)
    manual = saved.get("manual", {})
    st = _styles()
    yes = lambda b: "○" if b else "×"
    checks = [
        (not auto["users_without_sign_in_for_a_year"]),
        True,
        bool(auto["last_backup_at"]),
        auto["log_chain_ok"],
        not auto["sources_without_legal_basis"],
        auto["expired_not_purged"] == 0 and not auto.get("expired_cases_not_purged"),
    ]
    auto_rows = [
        ["自動点検項目（印刷時点）", "結果", "適合"],
        [
            "1年以上サインインのない利用者",
            "、".join(auto["users_without_sign_in_for_a_year"]) or "なし",
            yes(checks[0]),
        ],
        [
            "役割ごとの利用者数",
            "、".join(f"{ROLES.get(k, k)} {v} 人" for k, v in auto["roles"].items()),
            yes(checks[1]),
        ],
        ["最後のバックアップ", _when(auto["last_backup_at"]) if auto["last_backup_at"] else "未実施", yes(checks[2])],
        [
            "操作ログの連鎖（改ざん検知）",
            f"{auto['log_entries']} 件、"
            + ("正常" if auto["log_chain_ok"] else f"{auto['first_broken_entry']} 番で切れています"),
            yes(checks[3]),
        ],
        _anchor_row(ws, yes),
        [
            "法的根拠が未設定の取込元",
            "、".join((SOURCE_TYPES.get(k) or {}).get("label", k) for k in auto["sources_without_legal_basis"])
            or "なし",
            yes(checks[4]),
        ],
        [
            "保存期間を過ぎた未削除のデータ",
            f"{auto['expired_not_purged']} ファイル、ケース記録 {auto.get('expired_cases_not_purged', 0)} 件",
            yes(checks[5]),
        ],
    ]
    answer = {True: "はい", False: "いいえ", None: "未回答"}
    manual_rows = [["点検項目（個人情報保護担当が回答）", "回答", "備考"]] + [
        [label, answer.get(manual.get(k)), manual.get(f"{k}_note", "")] for k, label in MANUAL_ITEMS
    ]
    counts = {v: sum(1 for k, _ in MANUAL_ITEMS if manual.get(k) is v) for v in (True, False, None)}
    summary = (
        f"自動点検 {len(checks)} 項目のうち適合 {sum(checks)} 項目。担当者回答 {len(MANUAL_ITEMS)} 項目のうち"
        f"「はい」{counts[True]}・「いいえ」{counts[False]}・未回答 {counts[None]}。"
    )
    saved_line = (
        f"回答の保存: {_esc(saved_by)}　{_when(saved_at.isoformat())}"
        if saved_at
        else "この年度の回答はまだ保存されていません。"
    )
    title = f"自己点検報告書（{fiscal_year_ja(fiscal_year)}）"
    from ..scoring.service import adoption_rows  # lazy: loads numpy, pandas, only needed here

    adopt_rows = adoption_rows(ws, fiscal_year)

    def story():
        t_auto = _table(auto_rows, widths=[62 * mm, 94 * mm, 18 * mm])
        t_auto.setStyle(TableStyle([("ALIGN", (2, 0), (2, -1), "CENTER")]))
        sign = _table(
            [["点検実施者", "個人情報保護担当", "所属長"], ["", "", ""]],
            widths=[58 * mm] * 3,
            row_heights=[None, 18 * mm],
        )
        return [
            Paragraph(title, st["title"]),
            Paragraph(
                f"対象年度 {fiscal_year_ja(fiscal_year)}（{fiscal_year}年4月〜{fiscal_year + 1}年3月）"
                f"　作成日 {wareki(dt.date.today())}",
                st["p"],
            ),
            Paragraph("個人情報保護法及びこどもデータ連携ガイドライン第4章に基づく年次の自己点検", st["small"]),
            Paragraph(saved_line, st["small"]),
            *(Paragraph(n, st["small"]) for n in copy_note(ws)),
            Spacer(1, 4 * mm),
            Paragraph(summary, st["p"]),
            Spacer(1, 3 * mm),
            t_auto,
            Spacer(1, 5 * mm),
            _table(manual_rows, widths=[90 * mm, 18 * mm, 66 * mm]),
            Spacer(1, 5 * mm),
            Paragraph("重みの採用と採用前のプレビュー（この年度）", st["h"]),
            _table(adopt_rows, widths=[22 * mm, 12 * mm, 36 * mm, 48 * mm, 56 * mm]),
            *(
                [
                    Paragraph("指標カタログの変更（直近1年）", st["h"]),
                    _table(
                        catalogue_rows(auto.get("catalogue_changes") or []),
                        widths=[14 * mm, 26 * mm, 22 * mm, 50 * mm, 16 * mm, 46 * mm],
                    ),
                ]
                if auto.get("catalogue_changes")
                else []
            ),
            Spacer(1, 8 * mm),
            Paragraph("確認欄", st["h"]),
            sign,
        ]

    pages = _build(out, title, ws.user.name, story)
    ws.log("print", detail={"document": "self_inspection", "fiscal_year": fiscal_year, "pages": pages})
    return {"pages": pages, "fiscal_year": fiscal_year}
