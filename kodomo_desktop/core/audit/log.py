"""The access log: append-only and hash-chained, from the first day.

Each entry's hash covers its own fields and the previous entry's hash, so changing, removing or reordering any
entry breaks the chain from that entry on; ``verify_chain`` names the first broken one. There is no function
that updates or deletes an entry. ``detail`` carries ids and counts only, never a name or other personal text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote  # the string quoting of json.dumps(..., ensure_ascii=False)
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ..storage.db import write_transaction

GENESIS = "0" * 64
#: the tables a chained log lives in: every database's own ``access_log``; an audit workspace's own log is
#: ``audit_log`` (its ``access_log`` is the copy of the town's, core/auditspace.py)
LOG_TABLES = ("access_log", "audit_log")


def _table(table: str) -> str:
    if table not in LOG_TABLES:
        raise ValueError(f"not a log table: {table!r}")
    return table


# Japanese labels for the log viewer and exports.
ACTION_LABELS = {
    "db_created": "データベース作成",
    "db_open": "データベースを開く",
    "db_close": "データベースを閉じる",
    "db_lock": "自動ロック",
    "db_lock_manual": "手動ロック",
    "sign_in_failed": "パスワード誤り",
    "password_changed": "パスワード変更",
    "permission_denied": "権限のない操作（拒否）",
    "view_person": "こどものページ閲覧",
    "view_list": "一覧の閲覧",
    "search": "検索",
    "import": "取込",
    "import_refused": "取込拒否",
    "batch_removed": "取込バッチ削除",
    "export": "出力",
    "print": "印刷・PDF出力",
    "settings_changed": "設定変更",
    "link_run": "名寄せ実行",
    "link_decision": "名寄せ判断",
    "link_undo": "名寄せ判断の取消",
    "score_run": "スコア算出",
    "score_trial": "スコア試算（試しの重み）",
    "weights_adopted": "重み採用",
    "catalogue_exported": "指標カタログの書き出し",
    "catalogue_adopted": "指標カタログの採用",
    "support_prompts_read": "利用できる可能性のある支援の表示",
    "weights_previewed": "重みの事前確認（グループ別の率）",
    "evaluated": "スクリーニングの自己評価",
    "optout_added": "利用停止の登録",
    "optout_removed": "利用停止の解除",
    "key_slots_converted": "鍵スロットへ変換",
    "disclosure": "開示",
    "correction": "訂正",
    "deletion": "削除",
    "purge": "保存期間切れデータの削除",
    "user_added": "利用者追加",
    "user_removed": "利用者削除",
    "password_reset": "パスワード再発行",
    "backup": "バックアップ",
    "restore": "復元",
    "restore_refused": "復元拒否",
    "key_rotated": "鍵の更新（再暗号化）",
    "keyfile_refused": "鍵ファイルの改ざん・破損の検出",
    "deletion_reapplied": "復元後の削除の再適用",
    "users_reapplied": "復元後の利用者一覧の再適用",
    "verify": "整合性検査",
    "demo_built": "デモ町作成",
    "round_created": "レビューラウンド作成",
    "round_closed": "レビューラウンド締切",
    "classified": "分類（理由つき）",
    "conference_created": "会議作成",
    "conference_item_added": "会議への対象追加",
    "minutes_recorded": "会議記録",
    "progress_recorded": "経過記録",
    "case_closed": "終結",
    "note_added": "メモ追加",
    "school_workspace_created": "学校用データベースの作成",
    "school_pushed": "学校用データベースへの送付（名簿・ラウンド）",
    "school_pulled": "学校用データベースからの読み込み",
    "school_log_refused": "学校用データベースの操作ログの不整合",
    "school_slot_moved": "学校の利用者の鍵を学校用データベースへ移動",
    "school_keys_rotated": "学校用データベースの鍵の更新",
    "audit_workspace_created": "監査用データベースの作成",
    "audit_pulled": "監査用データベースからの読み込み（監査の操作ログ・自己点検の回答）",
    "audit_log_refused": "監査用データベースの操作ログの不整合",
    "audit_slot_moved": "監査の利用者の鍵を監査用データベースへ移動",
    "audit_keys_rotated": "監査用データベースの鍵の更新",
    "checklist_saved": "チェックリスト下書き保存",
    "checklist_submitted": "チェックリスト提出",
    "checklist_reopened": "チェックリスト差し戻し",
    "score_viewed": "スコア閲覧",
    "what_if": "もしもの試算（保存なし）",
    "weights_saved": "重みの保存",
    "weights_exported": "重みの書き出し",
}


def entry_hash(
    seq: int, at: str, user: str, action: str, person_id: str | None, detail: str | None, prev_hash: str
) -> str:
    """SHA-256 of the entry as compact JSON: ``json.dumps([seq, at, …], ensure_ascii=False, separators=(",", ":"))``.
    For the fields' own types (an int, strings, None) the text is joined from the function json.dumps quotes
    strings with — the same characters in about half the time (verifying a year's 300,000 entries); any other value
    goes through json.dumps itself."""
    if type(seq) is int and all(type(x) is str for x in (at, user, action, prev_hash)):
        if (person_id is None or type(person_id) is str) and (detail is None or type(detail) is str):
            q = _quote
            payload = (
                f"[{seq},{q(at)},{q(user)},{q(action)},{'null' if person_id is None else q(person_id)},"
                f"{'null' if detail is None else q(detail)},{q(prev_hash)}]"
            )
            return hashlib.sha256(payload.encode("utf-8")).hexdigest()
    payload = json.dumps(
        [seq, at, user, action, person_id, detail, prev_hash], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    user: str,
    action: str,
    person_id: str | None = None,
    detail: str | dict | None = None,
    at: str | None = None,
    *,
    table: str = "access_log",
) -> int:
    """Append one entry inside the caller's transaction; returns its sequence number."""
    if isinstance(detail, dict):
        detail = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    at = at or dt.datetime.now().astimezone().isoformat(timespec="seconds")
    table = _table(table)
    last = conn.execute(text(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1")).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    h = entry_hash(seq, at, user, action, person_id, detail, prev)
    conn.execute(
        text(
            f"INSERT INTO {table} (seq, at, user, action, person_id, detail, prev_hash, hash) "
            "VALUES (:seq, :at, :user, :action, :pid, :detail, :prev, :hash)"
        ),
        dict(seq=seq, at=at, user=user, action=action, pid=person_id, detail=detail, prev=prev, hash=h),
    )
    return seq


def write(
    engine: Engine, user: str, action: str, person_id=None, detail=None, *, conn=None, table: str = "access_log"
) -> int:
    """A workspace's log entry: inside ``conn``'s transaction when given, else in its own, which takes the write
    lock first so a log written from another thread waits instead of failing at once with "database is locked"."""
    if conn is not None:
        if isinstance(conn, Session):
            conn = conn.connection()
        return append(conn, user, action, person_id, detail, table=table)
    with write_transaction(engine) as c:
        return append(c, user, action, person_id, detail, table=table)


@dataclass
class ChainReport:
    ok: bool
    entries: int
    first_broken: int | None = None
    problem: str | None = None

    def to_json(self) -> dict:
        return {
            "chain_ok": self.ok,
            "entries": self.entries,
            "first_broken_entry": self.first_broken,
            "problem": self.problem,
        }


def verify_chain(conn, table: str = "access_log") -> ChainReport:
    """Walk the chain in order; report the first entry whose hash, link or sequence does not hold."""
    sql = f"SELECT seq, at, user, action, person_id, detail, prev_hash, hash FROM {_table(table)} ORDER BY seq"
    cur: Any = (  # Any: mypy 2.4 crashes inferring Result[tuple[*Ts]] | sqlite3.Cursor here
        conn.execute(text(sql)) if isinstance(conn, Connection) else conn.execute(sql)
    )
    prev, expected_seq, n = GENESIS, 1, 0
    for seq, at, user, action, pid, detail, prev_hash, h in cur:
        n += 1
        if seq != expected_seq:
            return ChainReport(False, n, seq, f"番号 {expected_seq} の記録が欠けています")
        if prev_hash != prev:
            return ChainReport(False, n, seq, "前の記録とのつながりが壊れています")
        if entry_hash(seq, at, user, action, pid, detail, prev_hash) != h:
            return ChainReport(False, n, seq, "記録の内容が書き換えられています")
        prev, expected_seq = h, seq + 1
    return ChainReport(True, n)


def _q(conn, sql: str, params: dict | None = None):
    if isinstance(conn, Connection):
        return conn.execute(text(sql), params or {})
    return conn.execute(sql.replace(":seq", "?"), tuple((params or {}).values()))


def head(conn, table: str = "access_log") -> dict:
    """The log's anchor as of now: its length and the hash of its last entry."""
    row = _q(conn, f"SELECT seq, hash FROM {_table(table)} ORDER BY seq DESC LIMIT 1").fetchone()
    return {"count": row[0], "head": row[1]} if row else {"count": 0, "head": GENESIS}


def check_anchor(conn, anchor: dict | None, table: str = "access_log") -> str | None:
    """None when the log still holds the anchored prefix; otherwise what is wrong (shorter, or diverged)."""
    if not anchor:
        return None
    count, want = int(anchor.get("count", 0)), anchor.get("head")
    if count == 0:
        return None
    table = _table(table)
    row = _q(conn, f"SELECT hash FROM {table} WHERE seq = :seq", {"seq": count}).fetchone()
    total = _q(conn, f"SELECT count(*) FROM {table}").fetchone()[0]
    if row is None or total < count:
        return f"操作ログが短くなっています（記録されていた {count} 件に対し {total} 件）"
    if row[0] != want:
        return f"操作ログの {count} 番が記録されていた値と違います（古いデータベースに置き換えられた可能性）"
    return None


def advance_anchor(conn, anchor: dict | None, *, reset: bool = False, table: str = "access_log") -> dict:
    """The new anchor: the log's head now — but never moved back over a log that no longer holds the old one
    (the old anchor is kept as evidence: verify reports it until a coordinator resets it when keys rotate)."""
    if anchor and not reset and check_anchor(conn, anchor, table):
        return anchor
    return {**head(conn, table), "at": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def short(h: str | None) -> str:
    return (h or "")[:12]
