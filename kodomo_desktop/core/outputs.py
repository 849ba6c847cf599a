"""The one writer for every CSV and Excel file the app produces, and the private-file helpers.

Exports that cannot run code (OWASP CSV-injection guidance): a text cell that begins with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is a formula (or the start of a DDE command) to Excel and LibreOffice. Names and remarks
come from department files and teachers' workbooks, so they are never trusted:

- CSV: such a cell gets a leading ``'`` (:func:`neutralise`). Numbers stay numbers: an ``int``/``float`` (and a
  plain numeral in text such as ``-3`` or ``2.5``) is written as it is — a negative number is a number, not text.
- Excel: every value goes through :func:`safe_cell`: a string is stored as a *string* cell (never a formula cell,
  whatever it begins with) and one that begins with a formula character also gets Excel's own quote prefix (the
  style Excel sets when a person types ``'=...``), so it reads exactly as it was and stays text when edited.

Files with children's data are private: :func:`open_private` creates a file 0600 and :func:`private_dir` a folder
0700 on POSIX; :func:`private_file` tightens a file someone else created (SQLite, a backup). On Windows the file
inherits the user's profile ACL, which is already per-user, so nothing is changed there. Every writer here writes
to a temporary file beside the target and renames it at the end: an interrupted export leaves no half-written file.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import platform
from .errors import InputRefused

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_NUMERAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PLAIN = (bool, int, float, decimal.Decimal, dt.date, dt.datetime, dt.time)
_POSIX = os.name == "posix"  # a module flag, so the Windows branch can be tested on any machine


def is_dangerous(value) -> bool:
    """True for a text value a spreadsheet would read as a formula or a DDE command."""
    if not isinstance(value, str) or not value or value[0] not in FORMULA_LEADS:
        return False
    return not _NUMERAL.fullmatch(value)


def neutralise(value):
    """A cell value made safe for a CSV: ``None`` and numbers unchanged, dangerous text prefixed with ``'``."""
    if value is None or isinstance(value, _PLAIN):
        return value
    if not isinstance(value, str):
        value = str(value)
    return "'" + value if is_dangerous(value) else value


# --- private files and folders ---------------------------------------------------------------------------------------
def restrict_umask() -> None:
    """Everything this process creates is owner-only (umask 077) on POSIX: SQLite journals, PDFs, temporary files.
    Called by the CLI and the GUI at start; the explicit helpers below do not rely on it."""
    if _POSIX:
        os.umask(0o077)


def private_dir(path) -> Path:
    """Create (if needed) a folder only its owner can open: 0700 on POSIX; the profile's ACL on Windows."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _POSIX:
        os.chmod(path, 0o700)
    return path


def private_file(path) -> Path:
    """Make an existing file owner-only (0600) on POSIX; on Windows leave the user's profile ACL as it is."""
    path = Path(path)
    if _POSIX and path.exists():
        os.chmod(path, 0o600)
    return path


def open_private(path, mode: str = "wb", **kw):
    """Open ``path`` for writing, created 0600 from the start (no moment when others could read it)."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    flags |= getattr(os, "O_BINARY", 0) if "b" in mode else 0
    fd = os.open(path, flags, 0o600)
    try:
        if _POSIX:
            os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        return os.fdopen(fd, mode, **kw)
    except BaseException:
        os.close(fd)
        raise


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to a private file in one step (temporary file beside it, then rename)."""
    path = Path(path)
    tmp = _tmp(path)
    try:
        with open_private(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# --- CSV ---------------------------------------------------------------------------------------------------------------
def write_csv(path, header: Sequence | None, rows: Iterable[Sequence], *, encoding: str = "utf-8", **csv_kw) -> int:
    """Write a CSV (a header row, then ``rows``) with every cell neutralised; private, in one step.
    ``encoding``: ``utf-8`` (the contract's exports) or ``utf-8-sig`` (files meant for Excel). Returns the rows."""
    path = Path(path)
    tmp = _tmp(path)
    n = 0
    try:
        with open_private(tmp, "w", encoding=encoding, newline="") as fh:
            w = csv.writer(fh, **csv_kw)
            if header is not None:
                w.writerow([neutralise(h) for h in header])
            for r in rows:
                w.writerow(["" if v is None else neutralise(v) for v in r])
                n += 1
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


# --- Excel -------------------------------------------------------------------------------------------------------------
def safe_value(value):
    """A value for an openpyxl cell: numbers, dates and booleans as they are, everything else as text."""
    if value is None or isinstance(value, _PLAIN):
        return value
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # lazy: loads openpyxl, only needed here

    return ILLEGAL_CHARACTERS_RE.sub("", value if isinstance(value, str) else str(value))


def safe_cell(sheet, row: int, column: int, value=None):
    """``sheet.cell(row, column, value)`` that never makes a formula: text is a string cell; text beginning with a
    formula character carries Excel's quote prefix as well. Returns the cell (style it as usual)."""
    c = sheet.cell(row, column)
    v = safe_value(value)
    if isinstance(v, str):
        c._value, c.data_type = v, "s"  # set directly: openpyxl turns any "=…" string into a formula
        if is_dangerous(v):
            c.quotePrefix = True
    else:
        c.value = v
    return c


def safe_append(sheet, values: Sequence) -> int:
    """``sheet.append(values)`` that never makes a formula (see :func:`safe_cell`). Returns the row written."""
    sheet.append([safe_value(v) for v in values])
    row = sheet._current_row
    for col, v in enumerate(values, 1):
        if isinstance(v, str) or not isinstance(v, _PLAIN + (type(None),)):
            safe_cell(sheet, row, col, v)
    return row


def sanitise_workbook(wb) -> int:
    """Turn every formula or dangerous text cell of a built workbook into a safe text cell (a last line of
    defence for workbooks built with ``ws.append``/``ws.cell``). Returns the number of cells changed."""
    n = 0
    for sh in wb.worksheets:
        for row in sh.iter_rows():
            for c in row:
                v = c.value
                if c.data_type == "f" or is_dangerous(v):
                    text = v if isinstance(v, str) else str(v)
                    c._value, c.data_type = text, "s"
                    c.quotePrefix = True
                    n += 1
    return n


def save_workbook(wb, path, *, password: str | None = None) -> Path:
    """Save an openpyxl workbook privately and in one step, after :func:`sanitise_workbook`. With ``password`` the
    file is encrypted OOXML (Excel's 「パスワードを付けて保存」; needs msoffcrypto-tool)."""

    sanitise_workbook(wb)
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if password:
        try:
            import msoffcrypto  # lazy: an optional dependency, only for password-protected workbooks
        except ImportError:
            raise InputRefused(
                "ファイルのパスワード設定には msoffcrypto-tool が必要です（pip install msoffcrypto-tool）。"
            ) from None
        enc = io.BytesIO()
        msoffcrypto.OfficeFile(io.BytesIO(data)).encrypt(password, enc)
        data = enc.getvalue()
    return write_bytes(path, data)


# --- print-preview folders ---------------------------------------------------------------------------------------------
PREVIEW_PREFIX = "preview-"


def _user_tag() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # Windows: %TEMP% is in the user's profile already
        return re.sub(r"[^\w.-]", "_", os.environ.get("USERNAME", "") or "user")


def preview_root() -> Path:
    """The one per-user folder that holds every print preview (``kodomo-previews-<uid>`` in the user's temp folder),
    0700. A folder of that name that is not this user's own (a trap in a shared /tmp) is never used."""

    root = platform.temp_dir() / f"kodomo-previews-{_user_tag()}"
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise OSError(f"{root} is not a folder of this user")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _POSIX and os.lstat(root).st_uid != os.getuid():
        raise OSError(f"{root} belongs to another user")
    return private_dir(root)


def new_preview_dir() -> Path:
    """A new private folder for one preview, inside :func:`preview_root`, named with this process's id so that the
    next start can tell leftovers (of a crashed run) from the folders of an app still running."""

    try:
        return Path(tempfile.mkdtemp(prefix=f"{PREVIEW_PREFIX}{os.getpid()}-", dir=preview_root()))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"kodomo-{PREVIEW_PREFIX}"))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if not _POSIX:
        return False  # on Windows a running app's files are open and cannot be removed anyway
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def clean_stale_previews() -> int:
    """At start: remove the preview folders that a crashed or killed run left behind (children's PDFs and page
    images). Folders of an app still running (its process id is alive) stay. Returns the number removed."""

    try:
        root = preview_root()
    except OSError:
        return 0
    n = 0
    for d in root.iterdir():
        m = re.match(rf"{PREVIEW_PREFIX}(\d+)-", d.name)
        if m and _alive(int(m.group(1))):
            continue
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
        else:
            d.unlink(missing_ok=True)
        n += 1
    return n
