"""SQLCipher connections. The raw key is handed over by a ``creator=`` function, never in a URL or a log."""

from __future__ import annotations

import os

import sqlcipher3
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from ..errors import IntegrityFailure, WrongPassword


def _key_pragma(key: bytes) -> str:
    # A raw 256-bit key: SQLCipher skips its own PBKDF2 (we already ran Argon2id).
    return f"PRAGMA key = \"x'{key.hex()}'\""


def raw_connect(path: str | os.PathLike, key: bytes, *, check: bool = True):
    """A keyed sqlcipher3 connection with our pragmas. ``check`` reads the schema to prove the key."""
    con = sqlcipher3.connect(str(path), check_same_thread=False, isolation_level=None)
    con.execute(_key_pragma(key))
    con.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files
    con.execute("PRAGMA cache_size = -32000")  # 32 MB page cache: bulk imports stay in memory until commit
    con.execute("PRAGMA secure_delete = ON")  # deleted rows (削除請求) do not linger in free pages
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 10000")
    if check:
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher3.DatabaseError:
            con.close()
            raise WrongPassword(
                "パスワードが違うか、暗号化データベースではありません。データベースは変更されていません。"
            )
    return con


def make_engine(path: str | os.PathLike, key: bytes) -> Engine:
    path = str(path)

    def creator():
        return raw_connect(path, key, check=False)

    engine = create_engine("sqlite://", creator=creator, poolclass=QueuePool, pool_size=4, max_overflow=4)

    # pysqlite-style drivers do their own transaction handling badly; let SQLAlchemy issue BEGIN itself
    # so a batch import is one real transaction (all or nothing, even if the process is killed).
    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    return engine


def cipher_integrity_check(con) -> list[str]:
    """SQLCipher's page HMAC check plus SQLite's own; returns the problems found (empty = fine)."""
    problems = [r[0] for r in con.execute("PRAGMA cipher_integrity_check").fetchall()]
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    except sqlcipher3.DatabaseError as e:  # a damaged page can make the check itself fail
        rows = [str(e)]
    problems += [r for r in rows if r != "ok"]
    return problems


def assert_encrypted_file(path) -> None:
    with open(path, "rb") as fh:
        if fh.read(16).startswith(b"SQLite format 3"):
            raise IntegrityFailure("データベースが暗号化されていません。使用を中止し、管理者に連絡してください。")
