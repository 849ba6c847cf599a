"""SQLCipher connections. The raw key is handed over by a ``creator=`` function, never in a URL or a log."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any, cast

import sqlcipher3
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import LRUCache

from ..errors import InputRefused, IntegrityFailure, WrongPassword

DAMAGED = (
    "データベースの先頭が壊れているか、鍵ファイルが別のデータベースのもの（または鍵の更新より前の古い鍵ファイル）です"
    "（パスワードは正しく確認できました）。"
    "バックアップから復元してください。データベースは変更されていません。"
)


#: How long a connection waits for another one's lock before "database is locked" (a test of the refusal shortens it).
BUSY_TIMEOUT_MS = 10_000


def _key_pragma(key: bytes) -> str:
    # A raw 256-bit key: SQLCipher skips its own PBKDF2 (we already ran Argon2id).
    return f"PRAGMA key = \"x'{key.hex()}'\""


def quiet(con) -> None:
    """SQLCipher's own log (``ERROR CORE sqlcipher_page_cipher`` … on stderr) off: the user reads our message only."""
    for pragma in ("PRAGMA cipher_log_level = NONE", "PRAGMA cipher_log = off"):
        try:
            con.execute(pragma)
        except sqlcipher3.DatabaseError:
            pass


def raw_connect(path: str | os.PathLike, key: bytes, *, check: bool = True, key_proven: bool = False):
    """A keyed sqlcipher3 connection with our pragmas. ``check`` reads the schema to prove the key.

    ``key_proven``: the key came out of an authenticated slot, so a file that does not open with it is damaged
    (or belongs to another key file) — IntegrityFailure, not "wrong password".
    """
    try:
        # timeout: the pragmas below read the schema, so the wait must be in force from the connect on (the
        # driver's own default of 5 s applied there, not BUSY_TIMEOUT_MS)
        con = sqlcipher3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlcipher3.Error as e:
        raise InputRefused(f"データベース {os.path.basename(str(path))} を開けません（{e}）。")
    quiet(con)
    try:
        con.execute(_key_pragma(key))
        con.execute("PRAGMA temp_store = MEMORY")  # no plaintext temp files
        con.execute("PRAGMA cache_size = -32000")  # 32 MB page cache: bulk imports stay in memory until commit
        con.execute("PRAGMA secure_delete = ON")  # deleted rows (削除請求) do not linger in free pages
        con.execute("PRAGMA foreign_keys = ON")
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
        if check:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as e:
        con.close()
        if "locked" in str(e) or "busy" in str(e):
            raise InputRefused("データベースは別の処理が使用中です。しばらくしてからもう一度お試しください。")
        if key_proven:
            raise IntegrityFailure(DAMAGED)
        raise WrongPassword("パスワードが違うか、暗号化データベースではありません。データベースは変更されていません。")
    return con


# One dialect and one compiled-statement cache for every store this process opens (the town's database, the
# auditor's copy, the schools' stores, a restore's re-keyed copy, a lock and unlock): SQLAlchemy keys a compiled
# statement by its dialect instance, so an engine with a dialect of its own compiled every statement again — the
# ORM's loads, the log's appends, each page's queries. The statements are the same for every store (one schema, one
# SQLCipher build); the cache holds SQL text and bind layouts, never a key or a row. The dialect shared is the first
# one initialised on a real connection (the driver's version read), so no engine compiles with an uninitialised one.
_SHARED_DIALECT: Dialect | None = None
_SHARED_LOCK = threading.Lock()
_STATEMENTS: LRUCache[Any, Any] = LRUCache(2000)  # (SQLAlchemy's own default is 500 per engine)


def _share_dialect(engine: Engine) -> None:
    global _SHARED_DIALECT
    with _SHARED_LOCK:
        shared = _SHARED_DIALECT
    if shared is not None:
        engine.dialect = shared
        return
    own = engine.dialect

    @event.listens_for(engine, "connect")
    def _initialised(dbapi_con, record):  # after create_engine's own first-connect initialise (inserted first)
        global _SHARED_DIALECT
        with _SHARED_LOCK:
            if _SHARED_DIALECT is None and own.server_version_info is not None:
                _SHARED_DIALECT = own


def make_engine(path: str | os.PathLike, key: bytes) -> Engine:
    path = str(path)

    def creator():
        return raw_connect(path, key, check=False)

    engine = create_engine(
        "sqlite://",
        creator=creator,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=4,
        execution_options={"compiled_cache": _STATEMENTS},
    )
    _share_dialect(engine)

    # pysqlite-style drivers do their own transaction handling badly; let SQLAlchemy issue BEGIN itself
    # so a batch import is one real transaction (all or nothing, even if the process is killed).
    # A transaction that reads and then writes (the access log reads the last hash, then appends) takes the write
    # lock first (``execution_options(immediate=True)``): two deferred ones in two threads deadlock on the upgrade,
    # and SQLite answers one of them "database is locked" at once instead of letting busy_timeout wait.
    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and then writes (the log reads its last hash, then appends), committed on leaving:
    it takes the write lock at its start (``BEGIN IMMEDIATE``), so another thread or process writing meanwhile makes
    it wait (busy_timeout) instead of answering "database is locked" at once."""
    with engine.connect() as conn, conn.execution_options(immediate=True).begin():
        yield conn


def cipher_integrity_check(con, *, free_pages: bool = True) -> list[str]:
    """SQLCipher's page HMAC check plus SQLite's own; returns the problems found (empty = fine).

    SQLite's structure check reads — and so decrypts and HMAC-checks — every page in use; SQLCipher's check reads
    every page of the file, the free ones too. ``free_pages=False`` leaves that second pass out, for a file whose
    every page was just read under its old key and written under this one (restore's re-keyed copy)."""
    problems = [r[0] for r in con.execute("PRAGMA cipher_integrity_check").fetchall()] if free_pages else []
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


def rowcount(result: Result[Any]) -> int:
    """The rows a DELETE/UPDATE touched. ``Session.execute`` is typed as returning a ``Result``; for a DML statement
    it is a ``CursorResult``, which carries the count."""
    return cast(CursorResult[Any], result).rowcount
