"""The access log's details as Japanese text for people (the 操作ログ page, exports): the stored detail is JSON
with ids and counts only; this turns ``{"batch_id": 1, "imported": 609, "source_type": "resident_registry"}`` into
「取込元 住民基本台帳、取込 609 行、取込番号 1」. A key it does not know is shown as 「その他」 with its value, never dropped."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..i18n import language, tr
from ..roles import PERMISSIONS, ROLES
from ..vocab import source_label

# key -> (label, unit); the order here is the order in the sentence
KEYS: dict[str, tuple[str, str]] = {
    "user": ("利用者", ""),
    "role": ("役割", ""),
    "school_workspace": ("学校用データベース", ""),
    "school_seq": ("学校用データベースの記録番号", ""),
    "school_at": ("学校用データベースでの日時", ""),
    "log_entries": ("操作ログ", "件"),
    "audit_workspace": ("監査用データベース", ""),
    "audit_seq": ("監査用データベースの記録番号", ""),
    "audit_at": ("監査用データベースでの日時", ""),
    "self_inspections": ("自己点検の回答", "件"),
    "school": ("学校", ""),
    "source_type": ("取込元", ""),
    "what": ("対象", ""),
    "kind": ("種類", ""),
    "document": ("帳票", ""),
    "list": ("一覧", ""),
    "scope": ("範囲", ""),
    "permission": ("必要な権限", ""),
    "imported": ("取込", "行"),
    "rejected": ("除外", "行"),
    "rows": ("行数", "行"),
    "records": ("記録", "件"),
    "persons": ("住民", "人"),
    "auto_links": ("自動で名寄せ", "件"),
    "confirmed": ("確認済み", "件"),
    "review": ("確認待ち", "件"),
    "unlinked": ("未連結", "件"),
    "excluded": ("対象外", "件"),
    "children": ("こども", "人"),
    "flagged": ("抽出", "人"),
    "results": ("結果", "件"),
    "entries": ("件数", "件"),
    "pages": ("ページ数", "ページ"),
    "pupils": ("児童生徒", "人"),
    "candidates": ("候補", "件"),
    "files": ("ファイル", "件"),
    "residents": ("住民", "人"),
    "indicators": ("指標", "件"),
    "fields": ("項目", "件"),
    "findings": ("指摘", "件"),
    "months": ("期間", "か月"),
    "as_of": ("基準日", ""),
    "fiscal_year": ("年度", "年度"),
    "version": ("版", "版"),
    "reason": ("理由", ""),
    "keys": ("変更した設定", ""),
    "types": ("種別", ""),
    "format": ("形式", ""),
    "encrypted": ("暗号化", ""),
    "trial": ("試算", ""),
    "unlock": ("ロック解除", ""),
    "failures_since_last": ("前回以降のパスワード誤り", "回"),
    "batch_id": ("取込番号", ""),
    "file_name": ("ファイル", ""),
    "current_again": ("最新に戻した取込番号", ""),
    "guard": ("止めた理由", ""),
    "forced": ("確認のうえ取り込んだ点", ""),
    "run_id": ("スコア算出番号", ""),
    "score_run": ("スコア算出番号", ""),
    "weight_set_id": ("重みの番号", ""),
    "round_id": ("ラウンド番号", ""),
    "conference_id": ("会議番号", ""),
    "export_id": ("出力番号", ""),
    "duplicate_of": ("同じファイルの取込番号", ""),
    "id": ("番号", ""),
    "schema": ("スキーマ", ""),
    "seed": ("乱数の種", ""),
    "sheet": ("シート", ""),
    "key": ("項目", ""),
    "subject": ("対象", ""),
    "basis": ("根拠", ""),
    "lead": ("主担当", ""),
    "plan": ("計画", ""),
    "outcome": ("結果", ""),
    "next": ("次回", ""),
    "notes": ("メモ", ""),
    "text": ("内容", ""),
    "actions": ("操作", ""),
    "formula_cells": ("数式のセル（値のみ取込）", "個"),
    "exports_before": ("削除前の出力", "件"),
    "source_files": ("取込元のファイル", "件"),
    "reason_given": ("理由の記入", ""),
    "mode": ("方式", ""),  # link/score runs: full, incremental, unchanged
    "why": ("方式の理由", ""),
    "recomputed": ("計算し直したこども", "人"),
    "reused": ("前回の結果を使ったこども", "人"),
    "pairs": ("名寄せの候補の組", "組"),  # link runs: candidate pairs, compared now or taken from the last run
    "pairs_compared": ("比較した組", "組"),
    "pairs_reused": ("前回の比較を使った組", "組"),
    "written": ("書き込んだ連結", "件"),
    "full": ("全件の書き直し", ""),
}

# key -> (label, unit) in English (the language the GUI may be set to; core/i18n.py): a detail's keys are codes, so
# their English sits here beside the Japanese, as a catalogue's label_en does
KEYS_EN: dict[str, tuple[str, str]] = {
    "user": ("User", ""),
    "role": ("Role", ""),
    "school_workspace": ("School database", ""),
    "school_seq": ("School database entry", ""),
    "school_at": ("Time in the school database", ""),
    "log_entries": ("Log entries", ""),
    "audit_workspace": ("Audit database", ""),
    "audit_seq": ("Audit database entry", ""),
    "audit_at": ("Time in the audit database", ""),
    "self_inspections": ("Self-inspection answers", ""),
    "school": ("School", ""),
    "source_type": ("Source", ""),
    "what": ("What", ""),
    "kind": ("Kind", ""),
    "document": ("Document", ""),
    "list": ("List", ""),
    "scope": ("Scope", ""),
    "permission": ("Permission needed", ""),
    "imported": ("Imported", "rows"),
    "rejected": ("Left out", "rows"),
    "rows": ("Rows", ""),
    "records": ("Records", ""),
    "persons": ("Residents", ""),
    "auto_links": ("Linked automatically", ""),
    "confirmed": ("Confirmed", ""),
    "review": ("To review", ""),
    "unlinked": ("Unlinked", ""),
    "excluded": ("Excluded", ""),
    "children": ("Children", ""),
    "flagged": ("Flagged", ""),
    "results": ("Results", ""),
    "entries": ("Entries", ""),
    "pages": ("Pages", ""),
    "pupils": ("Pupils", ""),
    "candidates": ("Candidates", ""),
    "files": ("Files", ""),
    "residents": ("Residents", ""),
    "indicators": ("Indicators", ""),
    "fields": ("Fields", ""),
    "findings": ("Findings", ""),
    "months": ("Period", "months"),
    "as_of": ("As of", ""),
    "fiscal_year": ("Fiscal year", ""),
    "version": ("Version", ""),
    "reason": ("Reason", ""),
    "keys": ("Settings changed", ""),
    "types": ("Types", ""),
    "format": ("Format", ""),
    "encrypted": ("Encrypted", ""),
    "trial": ("Trial", ""),
    "unlock": ("Unlock", ""),
    "failures_since_last": ("Wrong passwords since last sign-in", ""),
    "batch_id": ("Import no.", ""),
    "file_name": ("File", ""),
    "current_again": ("Import made current again", ""),
    "guard": ("Stopped because", ""),
    "forced": ("Imported after review despite", ""),
    "run_id": ("Score run no.", ""),
    "score_run": ("Score run no.", ""),
    "weight_set_id": ("Weight set no.", ""),
    "round_id": ("Round no.", ""),
    "conference_id": ("Conference no.", ""),
    "export_id": ("Export no.", ""),
    "duplicate_of": ("Import no. of the same file", ""),
    "id": ("No.", ""),
    "schema": ("Schema", ""),
    "seed": ("Random seed", ""),
    "sheet": ("Sheet", ""),
    "key": ("Item", ""),
    "subject": ("Subject", ""),
    "basis": ("Basis", ""),
    "lead": ("Lead", ""),
    "plan": ("Plan", ""),
    "outcome": ("Outcome", ""),
    "next": ("Next", ""),
    "notes": ("Notes", ""),
    "text": ("Text", ""),
    "actions": ("Actions", ""),
    "formula_cells": ("Formula cells (values imported)", ""),
    "exports_before": ("Exports before deletion", ""),
    "source_files": ("Source files", ""),
    "reason_given": ("Reason given", ""),
    "mode": ("Mode", ""),
    "why": ("Why", ""),
    "recomputed": ("Children computed again", ""),
    "reused": ("Children taken from the last run", ""),
    "pairs": ("Candidate pairs", ""),
    "pairs_compared": ("Pairs compared", ""),
    "pairs_reused": ("Pairs taken from the last run", ""),
    "written": ("Links written", ""),
    "full": ("Full rewrite", ""),
}

SETTING_LABELS = {
    "town_name": "自治体名",
    "auto_lock_minutes": "自動ロックまでの時間",
    "backup_folder": "バックアップの保存先",
    "last_backup_at": "最後のバックアップ",
    "freshness_limits": "取込元ごとの鮮度",
}

# the codes a detail names (lists viewed, what was refused, search scopes), in Japanese; a code's words are also
# looked up one by one (「report conference」 → 帳票 会議), so new codes read sensibly until they are added here
WHAT_LABELS = {
    "settings": "設定",
    "manual": "手動",
    "idle": "操作がない時間の経過",
    "other_school": "他の学校のこども",
    "checklist_round": "チェックリストのラウンド",
    "checklist_definition": "チェックリストの定義",
    "checklist_template": "学校用 Excel",
    "open_cases": "支援中のケース",
    "due": "期日の近い対応",
    "prioritised": "スコアの一覧",
    "review_queue": "名寄せの確認待ち",
    "unlinked_rows": "つながらなかった行",
    "pupils": "児童生徒",
    "round": "レビューラウンド",
    "score_history": "スコアの推移",
    "timeline": "こどもの記録",
    "cases": "ケース",
    "children": "こども",
    "children_list": "こども一覧",
    "town": "町全体",
    "access_log": "操作ログ",
    "file_register": "個人情報ファイル簿",
    "funnel": "ファネル",
    "handover": "引継ぎ",
    "information_sheet": "情報収集シート",
    "legal_basis": "利用目的・法的根拠",
    "links": "名寄せの結果",
    "pooled_statistics": "集計統計",
    "pseudonymised": "仮名加工データ",
    "pseudonymised_results": "仮名加工データの分析結果",
    "resource": "接続先",
    "retention": "保存期間",
    "scores_csv": "スコアの CSV",
    "self_inspection": "自己点検",
    "rejected_rows": "除外行の CSV",
}
WORDS = {
    "attach": "添付",
    "results": "結果",
    "backup": "バックアップ",
    "batch": "取込",
    "remove": "削除",
    "case": "ケース",
    "close": "締切・終結",
    "cases": "ケース",
    "checklist": "チェックリスト",
    "definition": "定義",
    "import": "取込",
    "read": "閲覧",
    "reopen": "再開",
    "round": "ラウンド",
    "save": "保存",
    "status": "状況",
    "submit": "提出",
    "template": "様式",
    "child": "こども",
    "list": "一覧",
    "page": "ページ",
    "classify": "分類",
    "conference": "会議",
    "add": "追加",
    "create": "作成",
    "reorder": "並べ替え",
    "conferences": "会議",
    "correct": "訂正",
    "delete": "削除",
    "disclose": "開示",
    "due": "期日",
    "evaluate": "評価",
    "file": "ファイル",
    "register": "簿・登録",
    "funnel": "ファネル",
    "handover": "引継ぎ",
    "export": "出力",
    "history": "履歴",
    "manifest": "一覧表",
    "preview": "プレビュー",
    "rejected": "除外",
    "rows": "行",
    "information": "情報",
    "sheet": "シート",
    "keys": "鍵",
    "rotate": "更新",
    "legal": "法的",
    "basis": "根拠",
    "link": "名寄せ",
    "candidates": "候補",
    "decisions": "判断",
    "undo": "取消",
    "log": "操作ログ",
    "chain": "連鎖",
    "minutes": "議事",
    "note": "メモ",
    "open": "支援中",
    "optout": "利用停止",
    "lookup": "照会",
    "person": "住民",
    "brief": "概要",
    "pooled": "集計",
    "statistics": "統計",
    "progress": "経過記録",
    "pseudonymised": "仮名加工",
    "exports": "出力",
    "pupils": "児童生徒",
    "purge": "削除",
    "report": "帳票",
    "assessment": "アセスメント",
    "blank": "白紙",
    "intake": "受理",
    "school": "学校",
    "resource": "接続先",
    "resources": "接続先",
    "retention": "保存期間",
    "expired": "期限切れ",
    "review": "確認",
    "queue": "待ち",
    "labels": "ラベル",
    "rounds": "ラウンド",
    "score": "スコア",
    "explanation": "理由",
    "runs": "算出",
    "scores": "スコア",
    "self": "自己",
    "inspection": "点検",
    "settings": "設定",
    "timeline": "記録",
    "trial": "試算",
    "unlinked": "未連結",
    "users": "利用者",
    "reset": "再発行",
    "watch": "見守り",
    "weight": "重み",
    "sets": "版",
    "weights": "重み",
    "adopt": "採用",
    "adoptions": "採用履歴",
    "csv": "CSV",
}


def _code(v: str) -> str:
    """A code in Japanese: the table, else word by word (unknown words stay as they are)."""
    if v in WHAT_LABELS:
        return WHAT_LABELS[v]
    words = v.replace("_", " ").split()
    if words and all(w in WORDS for w in words):
        return "".join(WORDS[w] for w in words)
    return v


def _source_label(v: str) -> str:
    return source_label(v)


def _date(v: str) -> str:
    try:
        d = dt.datetime.fromisoformat(v) if len(v) > 10 else dt.date.fromisoformat(v)
    except ValueError:
        return v
    if isinstance(d, dt.datetime):
        return f"{d.year}年{d.month}月{d.day}日 {d.hour}:{d.minute:02d}"
    return f"{d.year}年{d.month}月{d.day}日"


RUN_MODES = {"full": "全件", "incremental": "変わった分のみ", "unchanged": "変更なし（前回のまま）"}


def _value(key: str, v: Any, en: bool = False) -> str:
    if isinstance(v, bool):
        return ("yes" if v else "no") if en else ("はい" if v else "いいえ")
    if isinstance(v, (list, tuple)):
        if key == "keys":
            return (", " if en else "・").join(tr(SETTING_LABELS.get(str(x), str(x))) for x in v)
        return (", " if en else "・").join(_value(key, x, en) for x in v)
    if isinstance(v, dict):
        return (", " if en else "、").join(f"{k} {_value(k, x, en)}" for k, x in v.items())
    if v is None:
        return "none" if en else "なし"
    s = str(v)
    if key == "role":
        return tr(ROLES.get(s, s))
    if key == "permission":
        return tr(PERMISSIONS.get(s, (s,))[0])
    if key == "source_type":
        return tr(_source_label(s))
    if key == "mode":
        return s if en else RUN_MODES.get(s, s)
    if key in ("what", "list", "scope"):
        ja = WHAT_LABELS.get(s)
        if en:  # the table's English, else the code itself, which is English already (「report conference」)
            return tr(ja) if ja and tr(ja) != ja else s.replace("_", " ")
        return _code(s)
    if key == "as_of" or (len(s) >= 10 and s[4:5] == "-" and s[7:8] == "-"):
        return s[:16].replace("T", " ") if en else _date(s)
    return s


def describe(detail: Any) -> str:
    """The detail (JSON text or a dict) as one line in the current language (Japanese unless the GUI is set to
    English; the CLI's log export is Japanese); '' for none."""
    if detail in (None, "", "null"):
        return ""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            return detail
    en = language() == "en"
    if not isinstance(detail, dict):
        return _value("", detail, en)
    parts = []
    order = list(KEYS) + [k for k in detail if k not in KEYS]
    for key in order:
        if key not in detail:
            continue
        label, unit = (KEYS_EN if en else KEYS).get(key, ("Other" if en else "その他", ""))
        v = _value(key, detail[key], en)
        if unit and not v.endswith(unit):
            v = f"{v} {unit}"
        parts.append(f"{label} {v}")
    return ("; " if en else "、").join(parts)
