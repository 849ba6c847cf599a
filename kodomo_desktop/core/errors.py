"""Errors the user sees. Every one carries a Japanese message and the CLI exit code it maps to."""

from __future__ import annotations

import errno
import os


class KodomoError(Exception):
    """Base of all errors shown to a user; ``message_ja`` is what the user reads."""

    exit_code = 1

    def __init__(self, message_ja: str, *, detail: str | None = None):
        super().__init__(message_ja)
        self.message_ja = message_ja
        self.detail = detail


class InputRefused(KodomoError):
    """The input (file, password, id) was refused and nothing was changed (CLI exit 2)."""

    exit_code = 2


class WrongPassword(InputRefused):
    pass


class PermissionDenied(InputRefused):
    """The signed-in user's role may not do this. Logged by Workspace.require."""


class NotFound(InputRefused):
    pass


class Cancelled(InputRefused):
    """The user stopped a long operation (キャンセル) and it stopped where it was safe to: nothing half-done (exit 2).
    The one cancellation error of the app: the importer raises it, the GUI's progress dialogs raise and catch it."""

    def __init__(self, message_ja: str = "キャンセルしました。", **kw):
        super().__init__(message_ja, **kw)


class IntegrityFailure(KodomoError):
    """The database or its access log failed an integrity check (CLI exit 3)."""

    exit_code = 3


# --- faults of the storage underneath: one place that says them in Japanese ------------------------------------------
_LOCKED = (
    "データベースはほかの処理（別の画面・取込・バックアップなど）が使用中で、待っても空きませんでした。"
    "しばらくしてからもう一度お試しください。データベースは変更されていません。"
)
_FULL = (
    "ディスクの空き容量が足りないため書き込めませんでした。空き容量を確保してからもう一度お試しください。"
    "書きかけの内容は取り消され、データベースは変更されていません。"
)
_READONLY = (
    "書き込めない場所です（読み取り専用の媒体か、書き込みの権限がありません）。データベースを書き込める"
    "フォルダーにコピーしてから開いてください。データベースは変更されていません。"
)
_IO = (
    "ディスクの読み書きに失敗しました（媒体が外れたか、故障している可能性があります）。媒体の接続を確かめ、"
    "もう一度お試しください。書きかけの内容は取り消されます。"
)


def storage_failure(exc: BaseException) -> KodomoError | None:
    """A KodomoError (exit 2, Japanese) for a fault of the disk or the database file underneath — ``database is
    locked``, a full disk, a read-only medium, an I/O error — from SQLite/SQLCipher (also wrapped by SQLAlchemy)
    or the operating system; None for anything else. CLI ``main`` and the GUI's error display both use it."""

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:  # SQLAlchemy wraps the driver's error in .orig
        seen.add(id(e))
        if isinstance(e, KodomoError):
            return e
        if isinstance(e, OSError) and e.errno is not None:
            where = f"（{e.filename}）" if getattr(e, "filename", None) else ""
            if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
                return InputRefused(
                    f"ディスクの空き容量が足りないため書き込めませんでした{where}。空き容量を確保してから"
                    "もう一度お試しください。",
                    detail=str(e),
                )
            if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return InputRefused(
                    f"書き込めない場所です{where}（読み取り専用の媒体か、書き込みの権限がありません）。"
                    "書き込めるフォルダーを指定してください。",
                    detail=str(e),
                )
            if e.errno == errno.ENOENT:  # e.g. --out into a folder that does not exist
                folder = os.path.dirname(str(e.filename or ""))
                if folder and not os.path.isdir(folder):  # name the folder, not our temporary file inside it
                    return InputRefused(
                        f"保存先のフォルダーがありません（{folder}）。フォルダーを作るか、別の場所を指定してください。",
                        detail=str(e),
                    )
                return InputRefused(f"ファイルが見つかりません{where}。場所を確かめてください。", detail=str(e))
            if e.errno == errno.EIO:
                return InputRefused(_IO, detail=str(e))
        name = type(e).__name__
        if name in ("OperationalError", "DatabaseError") and type(e).__module__.split(".")[0] in (
            "sqlcipher3",
            "sqlite3",
            "pysqlite2",
        ):
            msg = str(e).lower()
            if "locked" in msg or "busy" in msg:
                return InputRefused(_LOCKED, detail=str(e))
            if "full" in msg:
                return InputRefused(_FULL, detail=str(e))
            if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
                return InputRefused(_READONLY, detail=str(e))
            if "disk i/o" in msg:
                return InputRefused(_IO, detail=str(e))
            return None
        e = getattr(e, "orig", None) or e.__cause__ or e.__context__
    return None
