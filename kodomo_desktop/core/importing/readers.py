"""Read a department file (CSV/TSV or Excel) into a :class:`Table`: header names, data rows as text, and each
row's number **as the user sees it in the file** (1-based CSV line where the record starts; 1-based spreadsheet
row; title rows, blank rows and header rows count).

CSV
  Encoding: UTF-8 with BOM, UTF-8, CP932 (Shift_JIS with the NEC/IBM extensions; 外字 decode to the private use
  area and are reported in ``warnings``). Anything else (UTF-16/32, binary, text broken part-way) is refused
  with a Japanese message that says which line could not be read. Delimiter: comma, tab or semicolon, whichever
  splits the first lines consistently. Files without quoted line breaks go through pandas' C parser, one row per
  physical line; files with them go through the ``csv`` module, which tells where each record starts. A CSV is
  never held whole: it is read in blocks and parsed READ_ROWS records at a time (see the CSV section below).
Excel
  ``.xlsx``/``.xlsm``/``.xls``/``.xlsb``/``.ods`` through python-calamine (Rust). Cells become text: integral
  numbers without ``.0``, date cells as ISO dates, so the value parsers see one form. Sheet: ``sheet=`` by name,
  by 0-based index (``int``), or a digit string that is no sheet's name as the 1-based tab position; by default
  the first visible sheet whose first rows hold a recognisable header.
Header
  Found by itself among the first 30 rows: each row is scored by how many distinct canonical fields its cells name
  (fields.header_score); a group row above (merged cells such as 受給者 / 対象児童 over 氏名・生年月日) or a
  sub-header row below (or a row of units such as （日） （kg）) is joined in when that names more fields.
  ``header_row`` (1-based, as the user sees it) overrides; ``header_hints`` (the columns named by ``--map``) count
  as known header names. Blank header cells become ``列C`` (Excel) / ``列3`` (CSV); repeated names get ``(2)``, ``(3)``.
Rows
  Fully empty rows are skipped (numbering stays right), as are repeats of the header row (printed exports repeat
  it on every page) and trailing notes (a single cell such as ``※…`` or ``合計``). Columns with neither a header
  nor any value (trailing empty columns) are dropped.
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import datetime as dt
import hashlib
import io
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from .errors import ImportRefused
from .fields import header_key, header_score, known_header
from .values import to_text

__all__ = ["Table", "read_table", "HEADER_SCAN_ROWS", "MIN_HEADER_SCORE", "EXCEL_SUFFIXES"]

# Limits on what one file may hold (Excel's own limits for a cell and a sheet's rows; a department file never needs
# more): past them the file is refused with a message, before it can take the machine's memory.
MAX_FILE_BYTES = 300 * 1024 * 1024  # the file as stored
MAX_SHEET_BYTES = 400 * 1024 * 1024  # one sheet's XML, uncompressed (a 1 MB zip can expand to gigabytes)
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
MAX_ROWS = 1_048_576  # Excel's limit for one sheet
MAX_COLUMNS = 1_000  # used columns (with a header or a value)
MAX_GRID_CELLS = 5_000_000  # rows × columns of a sheet's used range read densely; larger (a stray far-right cell
# such as XFD5 in a 38,000-row sheet) is read cell by cell instead, without a dense grid
HEADER_SCAN_ROWS = 30
MIN_HEADER_SCORE = 2.0
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
_ENCODING_ALIASES = {
    "cp932": "cp932",
    "ms932": "cp932",
    "windows31j": "cp932",
    "windows-31j": "cp932",
    "shiftjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "s-jis": "cp932",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf_8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf8bom": "utf-8-sig",
    "utf-8bom": "utf-8-sig",
    "utf_8_sig": "utf-8-sig",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f\uf8f0-\uf8f3\ufffd]")
_PUA = re.compile(r"[\ue000-\uf8ef]")
_UNIT_CELL = re.compile(r"^[（(［\[【〔].{0,12}[）)］\]】〕]$")
_NOTE = re.compile(r"^\s*(?:※|＊|\*|注|合計|計\s|計$|総計|小計|以上|以下余白|件数|出力日|作成日|印刷日|\d+\s*件)")


_ISSPACE = np.frompyfunc(str.isspace, 1, 1)
_HINTS: contextvars.ContextVar[frozenset] = contextvars.ContextVar("header_hints", default=frozenset())


class _Rows(Sequence):
    """The data rows as lists of text, backed by the table's frame (no copy of 100,000 rows up front)."""

    def __init__(self, values: np.ndarray):
        self._v = values

    def __len__(self):
        return self._v.shape[0]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._v[i].tolist()
        return self._v[i].tolist()


class _StreamRows(Sequence):
    """The data rows of a streamed CSV as lists of text: the first chunk is read for the first rows (a preview), the
    whole file only when asked for all of it."""

    def __init__(self, table: Table):
        self._t = table

    def __len__(self):
        return len(self._t)

    def _first(self, stop: int) -> list[list[str]]:
        out: list[list[str]] = []
        for frame, _nums in self._t.chunks(max(stop, 1)):
            out = frame.to_numpy(dtype=object).tolist()
            break
        return out[:stop]

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step == 1 and stop <= READ_ROWS:
                return self._first(stop)[start:]
            return self._t.data_frame().to_numpy(dtype=object)[i].tolist()
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        if i < READ_ROWS:
            return self._first(i + 1)[i]
        return self._t.data_frame().iloc[i].tolist()


@dataclass
class Table:
    """One sheet or CSV file, read. ``frame`` has one column per header (positional, ``str`` cells, ``""`` empty):
    every data row of a sheet or of a CSV of one chunk; ``None`` for a larger CSV, whose rows are read again from the
    file chunk by chunk (:meth:`chunks`) — the file is never held whole."""

    headers: list[str]
    frame: pd.DataFrame | None
    row_numbers: list[int]
    sha256: str
    kind: str  # csv | xlsx | xls | xlsb | ods
    file_name: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheet_names: list[str] = field(default_factory=list)
    header_row: int | None = None  # 1-based row of the (last) header row, as the user sees it
    header_rows: tuple[int, ...] = ()  # every header row (2 when a group row sits above)
    title: list[str] = field(default_factory=list)  # text above the header (町名・帳票名・基準日 …)
    warnings: list[str] = field(default_factory=list)
    skipped_rows: list[int] = field(default_factory=list)  # repeated headers and trailing notes (not blank rows)
    formula_cells: int = 0  # Excel formula cells in the sheet (read as their cached values, never evaluated)
    stream: _CsvStream | None = field(default=None, repr=False, compare=False)

    def chunks(self, size: int) -> Iterator[tuple[pd.DataFrame, list[int]]]:
        """The data rows ``size`` at a time: (cells, their row numbers). A streamed CSV is read again from its file
        (a file changed since it was read is refused)."""
        if self.frame is None and self.stream is not None:
            yield from self.stream.chunks(size)
            return
        frame = self.data_frame()
        for i in range(0, len(self), size):
            yield frame.iloc[i : i + size], self.row_numbers[i : i + size]

    def data_frame(self) -> pd.DataFrame:
        """Every data row in one frame (for a streamed CSV: the whole file's rows, in memory)."""
        if self.frame is not None:
            return self.frame
        parts = [f for f, _ in self.chunks(READ_ROWS)]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        frame.columns = range(frame.shape[1])
        return frame

    @property
    def rows(self) -> Sequence[list[str]]:
        if self.frame is None:
            return _StreamRows(self)
        return _Rows(self.frame.to_numpy(dtype=object))

    def __len__(self):
        return len(self.row_numbers)

    def column(self, header: str) -> pd.Series:
        return self.data_frame().iloc[:, self.headers.index(header)]

    def row_dict(self, i: int) -> dict[str, str]:
        return dict(zip(self.headers, self.rows[i]))


# --- entry point -----------------------------------------------------------------------------------------------------
def read_table(
    path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    header_row: int | None = None,
    header_hints: Iterable[str] | None = None,
    password: str | None = None,
) -> Table:
    """Read a CSV/TSV or Excel file. Raises :class:`ImportRefused` (Japanese message) when it cannot.

    ``header_hints``: column names the user has mapped (``--map``); a row holding them counts as a header even when
    the dictionary does not know them."""
    path = Path(path)
    hints = frozenset(header_key(h) for h in header_hints or () if str(h).strip())
    token = _HINTS.set(hints)
    try:
        return _read(path, sheet, encoding, header_row, password)
    except MemoryError:
        raise ImportRefused(
            f"ファイル「{path.name}」は大きすぎて読めません（メモリ不足）。期間や対象を分けて抽出してください。"
        ) from None
    finally:
        _HINTS.reset(token)


def _score(cells) -> float:
    hints = _HINTS.get()
    s = header_score(cells)
    if hints:
        s += sum(1.0 for c in set(cells) if c and header_key(c) in hints and not known_header(c))
    return s


def _read(path: Path, sheet, encoding, header_row, password=None) -> Table:
    if header_row is not None:
        try:
            header_row = int(header_row)
        except (TypeError, ValueError):
            raise ImportRefused(f"見出し行の指定「{header_row}」は行番号（1以上の整数）ではありません。") from None
        if header_row < 1:
            raise ImportRefused(f"見出し行の指定「{header_row}」は行番号（1以上の整数）ではありません。")
    try:
        st = path.stat()
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise ImportRefused(
                f"ファイル「{path.name}」は大きすぎます（{size / 1024 / 1024:,.0f} MB、上限 {MAX_FILE_BYTES // 1024 // 1024} MB）。"
                "期間や対象を分けて抽出してください。"
            )
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        suffix = path.suffix.lower()
        # a workbook is read whole (calamine parses a sheet at once); a CSV is read block by block, never whole
        workbook = (
            head[:4] == b"PK\x03\x04" or head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or suffix in EXCEL_SUFFIXES
        )
        if workbook:
            data = path.read_bytes()
            sha, empty = hashlib.sha256(data).hexdigest(), not data.strip(b" \t\r\n\x00\xef\xbb\xbf")
        else:
            sha, empty = _hash_file(path)
    except FileNotFoundError:
        raise ImportRefused(f"ファイル「{path.name}」が見つかりません。") from None
    except IsADirectoryError:
        raise ImportRefused(f"「{path.name}」はフォルダです。ファイルを指定してください。") from None
    except OSError as e:
        raise ImportRefused(f"ファイル「{path.name}」を開けません（{e.strerror or e}）。") from None
    if empty:
        raise ImportRefused(f"ファイル「{path.name}」は空です。")
    if not workbook:
        table = _read_csv(path, head, encoding, header_row, (st.st_size, st.st_mtime_ns))
    else:
        if suffix in EXCEL_SUFFIXES and _looks_like_markup(data):
            raise ImportRefused(
                f"「{path.name}」は拡張子が {suffix} ですが、中身は Excel のブックではなく Web ページ（HTML）か"
                "XML 形式の表です（業務システムの「Excel 出力」によくあります）。"
                "Excelで開いて.xlsxで保存し直してください（「名前を付けて保存」→「Excel ブック (*.xlsx)」）。"
            )
        if _is_encrypted_ooxml(data):
            if not password:
                raise ImportRefused(
                    f"「{path.name}」はパスワードで保護されたブックです（壊れてはいません）。ファイルのパスワードを"
                    "指定してください（CLI: 環境変数 KODOMO_FILE_PASSWORD、画面: パスワード欄）。"
                    "または Excel で保護を外して保存し直してください。"
                )
            data = _decrypt(path, data, password)
        table = _read_excel(path, data, sheet, header_row)
    table.sha256 = sha
    table.file_name = path.name
    return table


def _looks_like_markup(data: bytes) -> bool:
    """HTML (or the XML Spreadsheet 2003 format) saved under an Excel name."""
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return False
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", errors="ignore").encode().lower()
    return head.startswith(b"<") and any(
        t in head for t in (b"<html", b"<!doctype", b"<table", b"<meta", b"urn:schemas-microsoft-com:office")
    )


def _is_encrypted_ooxml(data: bytes) -> bool:
    """An Office file encrypted with a password: an OLE container holding an ``EncryptedPackage`` stream."""
    return data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and "EncryptedPackage".encode("utf-16-le") in data[: 1 << 20]


def _decrypt(path: Path, data: bytes, password: str) -> bytes:
    try:
        import msoffcrypto  # lazy: an optional dependency, only for password-protected workbooks
    except ImportError:  # pragma: no cover - a dependency
        raise ImportRefused("パスワード付きのブックを開くには msoffcrypto-tool が必要です。") from None
    try:
        f = msoffcrypto.OfficeFile(io.BytesIO(data))
        f.load_key(password=password)
        out = io.BytesIO()
        f.decrypt(out)
    except Exception:
        raise ImportRefused(
            f"「{path.name}」のパスワードが違います（KODOMO_FILE_PASSWORD を確かめてください）。"
        ) from None
    return out.getvalue()


def _check_cells(frame: pd.DataFrame, rownums, name: str, col_label) -> None:
    """Refuse a file past the limits: rows, used columns, characters in one cell."""
    if len(frame) > MAX_ROWS:
        raise ImportRefused(
            f"「{name}」は行が多すぎます（{len(frame):,} 行、上限 {MAX_ROWS:,} 行）。分けて抽出してください。"
        )
    if frame.shape[1] > MAX_COLUMNS:
        used = sum(1 for c in frame.columns if (frame[c].to_numpy(dtype=object) != "").any())
        if used > MAX_COLUMNS:
            raise ImportRefused(f"「{name}」は列が多すぎます（{used:,} 列、上限 {MAX_COLUMNS:,} 列）。")
    for j, c in enumerate(frame.columns):
        col = frame[c].to_numpy(dtype=object)
        if not len(col):
            continue
        try:  # text cells (every CSV cell): the longest at C speed; only a column past the limit is looked into
            if max(map(len, col)) <= MAX_CELL_CHARS:
                continue
        except TypeError:  # numbers, dates, blanks (Excel): cell by cell below
            pass
        lens = np.fromiter((len(v) if v.__class__ is str else 0 for v in col), dtype=np.int64, count=len(col))
        i = int(lens.argmax())
        if lens[i] > MAX_CELL_CHARS:
            raise ImportRefused(
                f"「{name}」の {int(rownums[i])} 行目・{col_label(j)} 列のセルが長すぎます（{int(lens[i]):,} 文字、"
                f"1つのセルの上限 {MAX_CELL_CHARS:,} 文字）。正しいファイルか確かめてください。"
            )


# --- CSV ---------------------------------------------------------------------------------------------------------------
# A CSV is never held whole. Its bytes are read in blocks of _BLOCK: once to hash them, once decoded to check the
# text (encoding, control characters, a cell past Excel's limit, 外字, the delimiter, line breaks inside quotes),
# once parsed READ_ROWS records at a time to settle what only the whole file can say (the header, the columns that
# hold anything, blank and repeated header rows, trailing notes, the size limits), and once more, chunk by chunk, as
# the importer inserts the rows (``Table.chunks``). A file of one chunk keeps its parsed rows from the third pass.
_BLOCK = 1 << 20  # bytes read at a time
READ_ROWS = 5_000  # records parsed at a time
_SAMPLE_CHARS = 65536  # the delimiter is sniffed on the text up to the first line break after this many characters
_BOM = b"\xef\xbb\xbf"


def _blocks(path: Path, skip: int = 0):
    with open(path, "rb") as fh:
        if skip:
            fh.seek(skip)
        while True:
            b = fh.read(_BLOCK)
            if not b:
                return
            yield b


def _hash_file(path: Path) -> tuple[str, bool]:
    """(sha256, whether the file holds nothing but blanks, NULs and BOM bytes)."""
    h, empty = hashlib.sha256(), True
    for b in _blocks(path):
        h.update(b)
        if empty and b.strip(b" \t\r\n\x00\xef\xbb\xbf"):
            empty = False
    return h.hexdigest(), empty


class _BadByte(Exception):
    def __init__(self, pos: int):
        self.pos = pos


def _decoded(path: Path, codec: str, skip: int = 0, on_bytes: Callable[[int, bytes], None] | None = None):
    """The file's text from byte ``skip`` on, decoded block by block; :class:`_BadByte` with the position (counted
    from ``skip``) of the first byte ``codec`` cannot read — where decoding the whole file at once fails."""
    dec = codecs.getincrementaldecoder(codec)()
    off = 0
    it = _blocks(path, skip)
    b = next(it, None)
    while b is not None:
        nxt = next(it, None)
        if on_bytes is not None:
            on_bytes(off, b)
        pending = len(dec.getstate()[0])
        try:
            t = dec.decode(b, final=nxt is None)
        except UnicodeDecodeError as e:
            raise _BadByte(off - pending + e.start) from None
        off += len(b)
        if t:
            yield t
        b = nxt


def _line_at(path: Path, pos: int) -> int:
    """The 1-based line (counting ``\\n``) of byte ``pos``."""
    n, off = 1, 0
    for b in _blocks(path):
        if off + len(b) >= pos:
            return n + b.count(b"\n", 0, pos - off)
        n += b.count(b"\n")
        off += len(b)
    return n


def _line_bytes(path: Path, line: int) -> bytes:
    """The bytes of 1-based ``line`` (without its ``\\n``)."""
    parts: list[bytes] = []
    n = 1
    for b in _blocks(path):
        start = 0
        while n < line:
            nl = b.find(b"\n", start)
            if nl < 0:
                break
            n, start = n + 1, nl + 1
        if n < line:
            continue
        nl = b.find(b"\n", start)
        if nl >= 0:
            parts.append(b[start:nl])
            return b"".join(parts)
        parts.append(b[start:])
    return b"".join(parts)


class _Utf8Lines:
    """The first line of a (mostly CP932) file that is UTF-8 text: valid UTF-8 with at least two multibyte
    characters (Japanese CP932 text is almost never valid UTF-8 too). Fed the raw bytes block by block."""

    def __init__(self):
        self.line: int | None = None
        self._n = 1
        self._cur: list[bytes] = []

    def feed(self, _off: int, b: bytes) -> None:
        if self.line is not None:
            return
        raws = b.split(b"\n")
        if self._cur:
            self._cur.append(raws[0])
            raws[0] = b"".join(self._cur)
            self._cur = []
        for raw in raws[:-1]:
            if self._check(raw):
                return
            self._n += 1
        self._cur = [raws[-1]]

    def _check(self, raw: bytes) -> bool:
        if raw.isascii():
            return False
        try:
            t = raw.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if sum(1 for ch in t if ord(ch) > 0x7F) >= 2:
            self.line = self._n
            return True
        return False

    def finish(self) -> int | None:
        if self.line is None and self._cur:
            self._check(b"".join(self._cur))
            self._cur = []
        return self.line


class _NonAscii:
    """The position of the file's first byte past ASCII."""

    def __init__(self):
        self.pos: int | None = None

    def feed(self, off: int, b: bytes) -> None:
        if self.pos is None and not b.isascii():
            m = re.search(rb"[\x80-\xff]", b)
            self.pos = off + (m.start() if m else 0)


class _TextScan:
    """What the checks need of the whole text, gathered block by block: the first control character, the first line
    longer than a cell may be (and its longest run between delimiters), then — on the text with line breaks as
    ``\\n`` and leading BOMs dropped — 外字, blank or not, the sample the delimiter is sniffed on, the number of
    lines, the most delimiters on one line, whether a line holds an odd number of quotes (a quoted line break)."""

    def __init__(self, sig: bool):
        self.nl = 0
        self.control_line: int | None = None
        self.long_line: tuple[int, bool] | None = None  # (line, whether a run between delimiters is too long)
        self._cur_len = 0
        self._cur_parts: list[str] = []  # the current raw line while it is not (yet) long
        self._long_no: int | None = None  # the long line being measured
        self._piece = self._max_piece = 0
        # on the normalised text
        self._norm = _Normaliser(sig)
        self.pua = 0
        self.pua_line: int | None = None
        self.blank = True
        self.lines = 0  # "\n" in the normalised text
        self.last = ""
        self.sample: str | None = None
        self._sample_parts: list[str] = []
        self._sample_len = 0
        self._held: list[str] = []
        self.delim: str | None = None
        self.quote = False  # a '"' anywhere
        self.odd_quotes = False
        self._q_par = 0
        self.max_delims = 0
        self._d_cur = 0

    # raw text (as decoded)
    def feed(self, t: str) -> None:
        if self.control_line is None:
            m = _CONTROL.search(t)
            if m:
                self.control_line = self.nl + t.count("\n", 0, m.start()) + 1
        if self.long_line is None:
            self._long(t)
        self.nl += t.count("\n")
        self._normalise(t)

    def _long(self, t: str) -> None:
        limit, start, find = MAX_CELL_CHARS, 0, t.find
        if self._long_no is None and self._cur_len + len(t) <= limit:  # no line of this block can be long
            nl = t.rfind("\n")
            if nl < 0:
                self._cur_parts.append(t)
                self._cur_len += len(t)
            else:
                self._cur_parts, self._cur_len = [t[nl + 1 :]], len(t) - nl - 1
            return
        while True:
            nl = find("\n", start)
            end = len(t) if nl < 0 else nl
            if self._long_no is not None:
                self._pieces(t[start:end])
            elif self._cur_len + end - start > limit:
                self._long_no = self.nl + t.count("\n", 0, start) + 1
                self._piece = self._max_piece = 0
                for part in self._cur_parts:
                    self._pieces(part)
                self._pieces(t[start:end])
                self._cur_parts, self._cur_len = [], 0
            elif nl < 0:
                self._cur_parts.append(t[start:end])
                self._cur_len += end - start
            else:
                self._cur_parts, self._cur_len = [], 0
            if nl < 0:
                return
            if self._long_no is not None:
                self._end_long()
                return
            start = nl + 1

    def _pieces(self, seg: str) -> None:
        ps = re.split(r"[,\t;]", seg)
        if len(ps) == 1:
            self._piece += len(ps[0])
            return
        self._max_piece = max(self._max_piece, self._piece + len(ps[0]), *(len(p) for p in ps[1:-1]))
        self._piece = len(ps[-1])

    def _end_long(self) -> None:
        if self._long_no is not None:
            self.long_line = (self._long_no, max(self._max_piece, self._piece) > MAX_CELL_CHARS)
            self._long_no = None

    def _normalise(self, t: str) -> None:
        t = self._norm.feed(t)
        if t:
            self._text(t)

    def finish(self) -> None:
        t = self._norm.finish()
        if t:
            self._text(t)
        if self._long_no is not None:
            self._end_long()
        if self.sample is None:
            self.sample = "".join(self._sample_parts)
            self._sample_parts = []
            self._sniffed()
        self._line_end()

    def _text(self, t: str) -> None:
        """Normalised text, in order."""
        if self.blank and not t.isspace():
            self.blank = False
        if _PUA.search(t):
            if self.pua_line is None:
                self.pua_line = self.lines + t.count("\n", 0, _PUA.search(t).start()) + 1  # type: ignore[union-attr]
            self.pua += len(_PUA.findall(t))
        if self.sample is None:
            self._sample_parts.append(t)
            self._sample_len += len(t)
            self._held.append(t)
            before = self._sample_len - len(t)
            if self._sample_len > _SAMPLE_CHARS:
                i = t.find("\n", max(0, _SAMPLE_CHARS - before))
                if i >= 0:
                    self.sample = "".join(self._sample_parts)[: before + i]
                    self._sample_parts = []
                    self._sniffed()
            self.lines += t.count("\n")
            self.last = t[-1]
            return
        self.lines += t.count("\n")
        self.last = t[-1]
        self._count(t)

    def _sniffed(self) -> None:
        self.delim = _sniff_delimiter(self.sample or "")
        held, self._held = self._held, []
        for t in held:
            self._count(t)

    def _count(self, t: str) -> None:
        """Delimiters per line and quotes per line, over lines that may span blocks."""
        d = self.delim or ","
        parts = t.split("\n")
        self._d_cur += parts[0].count(d)
        has_q = '"' in t
        if has_q:
            self.quote = True
        if self.quote and not self.odd_quotes:
            self._q_par += parts[0].count('"')
        if len(parts) == 1:
            return
        self._line_end()
        if len(parts) > 2:
            self.max_delims = max(self.max_delims, max(p.count(d) for p in parts[1:-1]))
            if has_q and not self.odd_quotes and any(p.count('"') & 1 for p in parts[1:-1]):
                self.odd_quotes = True
        self._d_cur = parts[-1].count(d)
        self._q_par = parts[-1].count('"') if self.quote and not self.odd_quotes else 0

    def _line_end(self) -> None:
        if self._d_cur > self.max_delims:
            self.max_delims = self._d_cur
        if self._q_par & 1:
            self.odd_quotes = True
        self._d_cur = self._q_par = 0


def _scan(path: Path, codec: str, skip: int, sig: bool, *watchers) -> _TextScan:
    scan = _TextScan(sig)
    feeders = [w.feed for w in watchers]

    def on_bytes(off: int, b: bytes) -> None:
        for f in feeders:
            f(off, b)

    for t in _decoded(path, codec, skip, on_bytes if feeders else None):
        scan.feed(t)
    scan.finish()
    return scan


def _decode(path: Path, head: bytes, name: str, encoding: str | None) -> tuple[_TextScan, str, str, int]:
    """(the text's scan, encoding label, codec, bytes skipped). Refuses what is neither UTF-8 nor CP932, with the
    line that could not be read — the same refusals, in the same order, as when the whole file was decoded at once."""
    if head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportRefused(
            f"「{name}」は UTF-16/UTF-32 で保存されています。UTF-8 か Shift_JIS（CP932）の CSV で"
            "保存し直してください（Excel なら「CSV UTF-8」か「CSV（コンマ区切り）」）。"
        )
    head = head[:65536]
    if b"\x00" in head:
        nul = head.count(b"\x00")
        if nul * 4 >= len(head) and (
            head[1::2].count(b"\x00") > len(head) // 4 or head[0::2].count(b"\x00") > len(head) // 4
        ):
            raise ImportRefused(
                f"「{name}」は UTF-16 で保存されているようです。UTF-8 か Shift_JIS（CP932）の CSV で"
                "保存し直してください。"
            )
        line = _line_of(head, head.index(b"\0"))
        raise ImportRefused(
            f"「{name}」はテキスト（CSV）ファイルではありません（{line} 行目に"
            "文字でないデータがあります）。CSV か Excel ファイルを指定してください。"
        )
    if encoding and head[:3] != _BOM:  # a UTF-8 BOM settles the question whatever was asked
        enc = _ENCODING_ALIASES.get(encoding.strip().lower().replace(" ", ""))
        if enc is None:
            raise ImportRefused(
                f"文字コード「{encoding}」には対応していません。UTF-8 か CP932（Shift_JIS）を指定してください。"
            )
        codec = "cp932" if enc == "cp932" else "utf-8"  # utf-8-sig without a BOM reads as UTF-8
        try:
            scan = _scan(path, codec, 0, enc == "utf-8-sig")
        except _BadByte as e:
            label = "CP932（Shift_JIS）" if enc == "cp932" else "UTF-8"
            raise ImportRefused(
                f"「{name}」の {_line_at(path, e.pos)} 行目が {label} として読めません。"
                "文字コードの指定を確かめてください。"
            ) from None
        return _check_text(scan, name), enc, codec, 0
    if head[:3] == _BOM:
        try:
            return _check_text(_scan(path, "utf-8", 3, True), name), "utf-8-sig", "utf-8", 3
        except _BadByte as e:
            # (the position counted after the BOM, then its line counted from the file's start: as before)
            raise ImportRefused(
                f"「{name}」の {_line_at(path, e.pos)} 行目が UTF-8 として読めません"
                "（ファイルが壊れている可能性があります）。"
            ) from None
    ascii_ = _NonAscii()
    try:
        return _check_text(_scan(path, "utf-8", 0, False, ascii_), name), "utf-8", "utf-8", 0
    except _BadByte as e:
        if ascii_.pos is not None and ascii_.pos < e.pos:
            # valid multibyte UTF-8 before the bad byte: a UTF-8 file broken part-way, not CP932
            raise ImportRefused(
                f"「{name}」の {_line_at(path, e.pos)} 行目が UTF-8 として読めません"
                "（ファイルが壊れているか、文字コードが混在しています）。"
            ) from None
    utf8 = _Utf8Lines()
    try:
        scan = _scan(path, "cp932", 0, False, utf8)
    except _BadByte as e:
        line = _line_at(path, e.pos)
        raw = _line_bytes(path, line)
        try:
            raw.decode("utf-8")
            is_utf8 = not raw.isascii()
        except UnicodeDecodeError:
            is_utf8 = False
        if is_utf8:
            raise ImportRefused(
                f"「{name}」は文字コードが混在しています: ほとんどの行は Shift_JIS（CP932）ですが、{line} 行目は "
                "UTF-8 です。このまま読むと氏名や住所が文字化けするため、取り込みません。元のシステムから出力し直すか、"
                "1つの文字コードで保存し直してください。"
            ) from None
        raise ImportRefused(
            f"「{name}」の文字コードを判別できません（UTF-8 でも Shift_JIS（CP932）でも読めません。"
            f"{line} 行目）。UTF-8 か Shift_JIS の CSV で保存し直してください。"
        ) from None
    utf8_at = utf8.finish()
    if utf8_at:
        raise ImportRefused(
            f"「{name}」は文字コードが混在しています: ほとんどの行は Shift_JIS（CP932）ですが、{utf8_at} 行目は UTF-8 です。"
            "このまま読むと氏名や住所が文字化けするため、取り込みません。元のシステムから出力し直すか、"
            "1つの文字コードで保存し直してください。"
        )
    return _check_text(scan, name), "cp932", "cp932", 0


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _check_text(scan: _TextScan, name: str) -> _TextScan:
    if scan.control_line is not None:
        raise ImportRefused(
            f"「{name}」はテキスト（CSV）ファイルではないか、壊れています（{scan.control_line} 行目に文字でないデータがあります）。"
        )
    return scan


def _sniff_delimiter(sample: str) -> str:
    """Comma, tab or semicolon: the one under which some row reads as a header (quote-aware); failing that, the one
    that splits the most records into the same number (>1) of fields."""
    best, best_key = ",", (-1.0, -1)
    for d in (",", "\t", ";"):
        if d not in sample:
            continue
        try:
            recs = list(csv.reader(io.StringIO(sample, newline=""), delimiter=d, quotechar='"'))[
                : HEADER_SCAN_ROWS + 10
            ]
        except csv.Error:
            continue
        widths = [len(r) for r in recs if any(c.strip() for c in r)]
        multi = [w for w in widths if w > 1]
        consistency = max((multi.count(w) * w for w in set(multi)), default=0)
        score = max((_score([c.strip() for c in r]) for r in recs[: HEADER_SCAN_ROWS + 5]), default=0.0)
        key = (score if score >= MIN_HEADER_SCORE else 0.0, consistency)
        if key > best_key:
            best, best_key = d, key
    return best


class _TextStream(io.TextIOBase):
    """Text blocks as a file to read (pandas' C parser reads from it)."""

    def __init__(self, blocks):
        self._it, self._buf = iter(blocks), ""

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> str:
        if n is None or n < 0:
            out, self._buf = self._buf + "".join(self._it), ""
            return out
        while len(self._buf) < n:
            nxt = next(self._it, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _lines(blocks):
    """Lines (each with its ``\\n``) of normalised text blocks, as iterating ``io.StringIO(text, newline="")`` gives
    them (the text has no ``\\r`` left)."""
    carry: list[str] = []
    for t in blocks:
        parts = t.split("\n")
        if carry:
            carry.append(parts[0])
            parts[0] = "".join(carry)
            carry = []
        last = parts.pop()
        for p in parts:
            yield p + "\n"
        if last:
            carry = [last]
    if carry:
        yield "".join(carry)


def _pad(rows: list[list[str]], width: int | None = None) -> np.ndarray:
    w = max((len(r) for r in rows), default=0) if width is None else width
    arr = np.empty((len(rows), w), dtype=object)
    if w:
        arr[:] = [r + [""] * (w - len(r)) if len(r) < w else r for r in rows]
    return arr


@dataclass
class _CsvSource:
    """How to read a checked CSV's records again (the text is read from the file each time, never kept)."""

    path: Path
    codec: str
    skip: int
    sig: bool
    delim: str
    parser: str  # "c": pandas' C parser, one record per line; "csv": the csv module (quoted line breaks)
    ncols: int  # columns for the C parser (the most delimiters on a line + 1)
    stamp: tuple[int, int]  # (size, mtime) when it was read: a file changed since is refused, not mixed
    width: int = 0  # the csv module's widest record

    def changed(self) -> ImportRefused:
        return ImportRefused(
            f"ファイル「{self.path.name}」が読み込みの途中で変更されました。保存が終わってから、もう一度取り込んでください。"
        )

    def text(self):
        norm = _Normaliser(self.sig)
        try:
            for t in _decoded(self.path, self.codec, self.skip):
                t = norm.feed(t)
                if t:
                    yield t
        except (_BadByte, OSError):
            raise self.changed() from None
        t = norm.finish()
        if t:
            yield t

    def records(self, rows: int | None = None):
        """(cells, start line of each record) READ_ROWS records at a time; the cells an object array of ``str``."""
        rows = rows or READ_ROWS
        if self.parser == "c":
            reader = pd.read_csv(
                _TextStream(self.text()),
                sep=self.delim,
                header=None,
                names=range(self.ncols),
                dtype=object,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
                index_col=False,
                quotechar='"',
                doublequote=True,
                chunksize=rows,
            )
            g = 0
            with reader:
                for df in reader:
                    vals = df.to_numpy(dtype=object)
                    yield vals, np.arange(g + 1, g + 1 + len(vals))
                    g += len(vals)
            return
        reader = csv.reader(_lines(self.text()), delimiter=self.delim, quotechar='"', doublequote=True, strict=True)
        batch: list[list[str]] = []
        starts: list[int] = []
        prev = 0
        try:
            for rec in reader:
                batch.append(rec)
                starts.append(prev + 1)
                prev = reader.line_num
                if len(batch) == rows:
                    yield _pad(batch, self.width or None), np.array(starts)
                    batch, starts = [], []
        except csv.Error:
            raise ImportRefused(
                f"「{self.path.name}」の {prev + 1} 行目の引用符（\"）が閉じられていないため、読めません。"
            ) from None
        if batch:
            yield _pad(batch, self.width or None), np.array(starts)

    def check_unchanged(self) -> None:
        try:
            st = self.path.stat()
        except OSError:
            raise self.changed() from None
        if (st.st_size, st.st_mtime_ns) != self.stamp:
            raise self.changed()


class _Normaliser:
    """Decoded text → the text the parser reads: leading BOMs dropped (one more after the codec's for UTF-8 with
    BOM, as before), ``\\r\\n`` and ``\\r`` as ``\\n`` (also when a ``\\r\\n`` falls across two blocks)."""

    def __init__(self, sig: bool):
        self.sig, self._started, self._first, self._cr = sig, False, "", False

    def _strip(self, t: str) -> str:
        if self.sig and t.startswith("\ufeff"):
            t = t[1:]
        if t.startswith("\ufeff"):
            t = t[1:]
        return t

    def feed(self, t: str) -> str:
        if not self._started:  # two characters are enough to see the leading BOMs
            self._first += t
            if len(self._first) < 2:
                return ""
            t, self._first, self._started = self._strip(self._first), "", True
        if self._cr:
            t, self._cr = "\r" + t, False
        if t.endswith("\r"):
            t, self._cr = t[:-1], True
        if "\r" in t:
            t = t.replace("\r\n", "\n").replace("\r", "\n")
        return t

    def finish(self) -> str:
        t = ""
        if not self._started:
            self._started = True
            t = self._strip(self._first)
        if "\r" in t:
            t = t.replace("\r\n", "\n").replace("\r", "\n")
        if self._cr:
            self._cr = False
            t += "\n"
        return t


def _read_csv(path: Path, head: bytes, encoding: str | None, header_row: int | None, stamp) -> Table:
    name = path.name
    scan, enc, codec, skip = _decode(path, head, name, encoding)
    if scan.long_line and scan.long_line[1]:
        raise ImportRefused(
            f"「{name}」の {scan.long_line[0]} 行目に長すぎるセルがあります（1つのセルの上限 {MAX_CELL_CHARS:,} 文字）。"
            "正しいファイルか確かめてください。"
        )
    if scan.blank:
        raise ImportRefused(f"ファイル「{name}」は空です。")
    warnings = []
    if scan.pua:
        warnings.append(
            f"外字（私用領域の文字）が {scan.pua} 文字あります（最初は {scan.pua_line} 行目）。"
            "氏名の照合に影響するため、元のシステムで標準の文字に置き換えることをおすすめします。"
        )
    delim = scan.delim or ","
    lines_n = scan.lines + (0 if scan.last == "\n" else 1)
    src = _CsvSource(path, codec, skip, enc == "utf-8-sig", delim, "c", scan.max_delims + 1, stamp)
    settled = None
    if not (scan.quote and scan.odd_quotes):
        try:
            settled = _settle(src, header_row, name, cell_lengths=scan.long_line is not None)
        except (pd.errors.ParserError, ValueError):
            settled = None
        if settled is not None and settled.total != lines_n:
            settled = None  # something the line-per-record assumption does not cover: take the careful path
    if settled is None:
        src.parser = "csv"
        settled = _settle(src, header_row, name, cell_lengths=True)
    return settled.table(src, name, enc, delim, warnings)


class _Settle:
    """The pass over a CSV's records that settles, in bounded memory, what ``_finish`` settles over a whole frame:
    the limits (rows, columns, a cell's length), the header rows and the title above them, the columns kept, the
    blank rows, repeated header rows and trailing notes left out — the same rows, numbers and refusals. It keeps one
    chunk of cells at a time (and the parsed cells themselves when the file is one chunk), a flag and a line number
    per record, and the first rows until the header is found."""

    def __init__(self, header_row: int | None, name: str, cell_lengths: bool):
        self.header_row, self.name, self.cell_lengths = header_row, name, cell_lengths
        self.total = self.width = 0
        self.nonblank = np.zeros(0, dtype=bool)  # a column with any cell != "" (the column limit)
        self.maxlen = np.zeros(0, dtype=np.int64)
        self.maxrow = np.zeros(0, dtype=np.int64)
        self.head_cells: list[list[str]] = []
        self.head_starts: list[int] = []
        self.header: tuple[int, int, list[str]] | None = None
        self.refusal: ImportRefused | None = None
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        self.keep: list[np.ndarray] = []  # per chunk: records that are not blank
        self.starts: list[np.ndarray] = []
        self.used = np.zeros(0, dtype=bool)  # filled in a data row
        self.cands: list[tuple[int, tuple[int, ...]]] = []  # rows equal to the header on its named cells
        self.tail: list[tuple[int, bool]] = []  # (row, is a note): notes and header repeats after the last data row
        self.cells: list[np.ndarray] = []  # the parsed chunk, while there is only one
        self.n_chunks = 0
        self._at: int | None = None  # index of the user's header row among the first rows

    def _grow(self, w: int) -> None:
        if w > self.width:
            extra = w - self.width
            self.nonblank = np.concatenate([self.nonblank, np.zeros(extra, dtype=bool)])
            self.used = np.concatenate([self.used, np.zeros(extra, dtype=bool)])
            self.maxlen = np.concatenate([self.maxlen, np.zeros(extra, dtype=np.int64)])
            self.maxrow = np.concatenate([self.maxrow, np.zeros(extra, dtype=np.int64)])
            if self.header is not None:
                self.header[2].extend([""] * extra)
            self.width = w

    def add(self, vals: np.ndarray, starts: np.ndarray) -> None:
        r, w = vals.shape
        g0 = self.total
        self.total += r
        self._grow(w)
        self.n_chunks += 1
        # the cells of a file of one chunk are kept; a longer file is read again, chunk by chunk
        self.cells = [vals] if self.n_chunks == 1 else []
        nb: np.ndarray = np.asarray(vals != "") if vals.size else np.zeros((r, w), dtype=bool)
        self.nonblank[:w] |= nb.any(axis=0) if r else False
        filled = nb.copy()
        if nb.any():
            filled[nb] = ~_ISSPACE(vals[nb]).astype(bool)
        nonempty: np.ndarray = np.asarray(filled.any(axis=1)) if w else np.zeros(r, dtype=bool)
        self.keep.append(nonempty)
        self.starts.append(starts)
        if self.cell_lengths and r:
            for j in range(w):
                lens = list(map(len, vals[:, j]))
                m = max(lens)
                if m > self.maxlen[j]:
                    self.maxlen[j], self.maxrow[j] = m, starts[lens.index(m)]
        if self.header is None and self.refusal is None:
            self._collect(vals, starts)
        if self.refusal is not None:  # the file is refused: no row is needed again
            self.pending = []
            return
        if self.header is None:
            self.pending.append((vals, filled, nonempty, g0))
            return
        for chunk in self.pending:
            self._data(*chunk)
        self.pending = []
        self._data(vals, filled, nonempty, g0)

    def _head_done(self) -> bool:
        if self.header_row is None:
            return len(self.head_cells) >= HEADER_SCAN_ROWS + 2
        if self._at is not None:
            return len(self.head_cells) >= self._at + 2
        return bool(self.head_starts) and self.head_starts[-1] > self.header_row

    def _collect(self, vals: np.ndarray, starts: np.ndarray, eof: bool = False) -> None:
        """Keep the first rows (cleaned) until the header can be found among them."""
        user = self.header_row
        for i in range(len(vals)):
            if self._head_done():
                break
            self.head_cells.append([_clean_header(v) for v in vals[i]])
            self.head_starts.append(int(starts[i]))
            if user is not None and self._at is None and self.head_starts[-1] == user:
                self._at = len(self.head_starts) - 1
        if not (eof or self._head_done()):
            return
        at = self._at
        cells = [c + [""] * (self.width - len(c)) if len(c) < self.width else c for c in self.head_cells]
        rownums = np.asarray(self.head_starts, dtype=np.int64)
        if user is not None:
            cells = cells[: at + 2] if at is not None else []
        try:
            start, end, head = _find_header(cells, None, user, rownums, self.name)
        except ImportRefused as e:
            self.refusal = e  # said after the limits, as before
            return
        self.header = (start, end, list(head) + [""] * (self.width - len(head)))
        self.head_cells = cells[:start]  # the title rows (the rest is not needed again)
        self.head_starts = self.head_starts[start : end + 1]

    def _data(self, vals: np.ndarray, filled: np.ndarray, nonempty: np.ndarray, g0: int) -> None:
        """The data rows (after the header) of one chunk."""
        assert self.header is not None
        _, end, head = self.header
        r, w = vals.shape
        lo = max(0, end + 1 - g0)
        if lo >= r:
            return
        rows = slice(lo, r)
        f = filled[rows]
        self.used[:w] |= f.any(axis=0)
        kept = nonempty[rows]
        named = [c for c in range(len(head)) if head[c]]
        blank = [c for c in range(w) if c >= len(head) or not head[c]]
        v = vals[rows]
        eq = kept.copy()
        for c in named:
            if not eq.any():
                break
            eq &= (v[:, c] == head[c]) if c < w else False
        nfilled = f.sum(axis=1) if w else np.zeros(len(kept), dtype=np.int64)
        one = np.nonzero(kept & (nfilled == 1))[0]
        note = np.zeros(len(kept), dtype=bool)
        for i in one:
            c = int(np.argmax(f[i]))
            note[i] = bool(_NOTE.match(v[i, c]))
        for i in np.nonzero(eq)[0]:
            self.cands.append((g0 + lo + int(i), tuple(c for c in blank if v[i, c] != "")))
        special = eq | note
        plain = np.nonzero(kept & ~special)[0]
        if len(plain):
            self.tail = []
            after = int(plain[-1]) + 1
        else:
            after = 0
        for i in np.nonzero(special[after:])[0] + after:
            self.tail.append((g0 + lo + int(i), bool(note[i])))

    def finish(self) -> None:
        if self.header is None and self.refusal is None:
            self._collect(np.empty((0, self.width), dtype=object), np.zeros(0, dtype=np.int64), eof=True)
            for chunk in self.pending:
                if self.header is not None:
                    self._data(*chunk)
            self.pending = []

    def table(self, src: _CsvSource, name: str, enc: str, delim: str, warnings: list[str]) -> Table:
        if src.parser == "csv" and self.width == 0:
            raise ImportRefused(f"ファイル「{name}」は空です。")
        if self.total > MAX_ROWS:
            raise ImportRefused(
                f"「{name}」は行が多すぎます（{self.total:,} 行、上限 {MAX_ROWS:,} 行）。分けて抽出してください。"
            )
        if self.width > MAX_COLUMNS:
            n_used = int(self.nonblank.sum())
            if n_used > MAX_COLUMNS:
                raise ImportRefused(f"「{name}」は列が多すぎます（{n_used:,} 列、上限 {MAX_COLUMNS:,} 列）。")
        for j in range(self.width):
            if self.maxlen[j] > MAX_CELL_CHARS:
                raise ImportRefused(
                    f"「{name}」の {int(self.maxrow[j])} 行目・{j + 1} 列のセルが長すぎます（{int(self.maxlen[j]):,} 文字、"
                    f"1つのセルの上限 {MAX_CELL_CHARS:,} 文字）。正しいファイルか確かめてください。"
                )
        if self.refusal is not None:
            raise self.refusal
        assert self.header is not None
        start, end, head = self.header
        used = [bool(head[c]) or bool(self.used[c]) for c in range(self.width)]
        cols = [c for c in range(self.width) if used[c]]
        headers: list[str] = []
        seen: dict[str, int] = {}
        for c in cols:
            h = head[c] or f"列{c + 1}"
            if h in seen:
                seen[h] += 1
                h = f"{h}({seen[h]})"
            else:
                seen[h] = 1
            headers.append(h)
        keep = np.concatenate(self.keep) if self.keep else np.zeros(0, dtype=bool)
        starts = np.concatenate(self.starts) if self.starts else np.zeros(0, dtype=np.int64)
        keep[: end + 1] = False
        rep = {i for i, nb in self.cands if not any(used[c] for c in nb)} if cols else set()
        tail = []
        for i, is_note in reversed(self.tail):
            if i in rep:
                continue
            if not is_note:
                break
            tail.append(i)
        skipped = [int(starts[i]) for i in sorted(rep)] + [int(starts[i]) for i in sorted(tail)]
        for i in rep:
            keep[i] = False
        for i in tail:
            keep[i] = False
        header_line = self.head_starts[-1]
        if not keep.any():
            raise ImportRefused(f"「{name}」にはデータ行がありません（見出し行は {header_line} 行目）。")
        if skipped:
            warnings = warnings + [
                f"見出しの繰り返しや注記の行（{', '.join(map(str, sorted(skipped)[:10]))}"
                f"{' ほか' if len(skipped) > 10 else ''} 行目）は読み飛ばしました。"
            ]
        title = [" ".join(c for c in r if c) for r in self.head_cells if any(r)]
        src.width = self.width
        stream = _CsvStream(src, keep, cols, self.width, self.total)
        frame = None
        if len(self.cells) == 1:  # one chunk: its cells are at hand, no second read
            frame = stream.select(self.cells[0], keep)
            self.cells = []
        return Table(
            headers=headers,
            frame=frame,
            row_numbers=starts[keep].tolist(),
            sha256="",
            kind="csv",
            encoding=enc,
            delimiter=delim,
            header_row=header_line,
            header_rows=tuple(self.head_starts),
            title=title,
            warnings=warnings,
            skipped_rows=sorted(skipped),
            stream=None if frame is not None else stream,
        )


def _settle(src: _CsvSource, header_row: int | None, name: str, *, cell_lengths: bool) -> _Settle:
    st = _Settle(header_row, name, cell_lengths)
    for vals, starts in src.records():
        st.add(vals, starts)
    st.finish()
    src.check_unchanged()
    return st


@dataclass
class _CsvStream:
    """A checked CSV's data rows, read again chunk by chunk (:meth:`Table.chunks`)."""

    src: _CsvSource
    keep: np.ndarray  # per record: a data row
    cols: list[int]  # the columns kept
    width: int
    total: int  # records

    def select(self, vals: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
        if vals.shape[1] < self.width:
            vals = np.concatenate([vals, np.full((len(vals), self.width - vals.shape[1]), "", dtype=object)], axis=1)
        part = vals[keep]
        if len(self.cols) != self.width:
            part = part[:, self.cols]
        return pd.DataFrame(part, dtype=object, copy=False)

    def chunks(self, size: int):
        """(cells, row numbers) of ``size`` data rows at a time."""
        g = 0
        held: list[tuple[np.ndarray, np.ndarray]] = []
        n = 0
        for vals, starts in self.src.records():
            sel = self.keep[g : g + len(vals)]
            g += len(vals)
            if len(sel) != len(vals):
                raise self.src.changed()
            if not sel.any():
                continue
            part = self.select(vals, sel).to_numpy(dtype=object)
            held.append((part, starts[sel]))
            n += len(part)
            del vals
            while n >= size:
                allv = np.concatenate([h[0] for h in held]) if len(held) > 1 else held[0][0]
                alln = np.concatenate([h[1] for h in held]) if len(held) > 1 else held[0][1]
                held = [(allv[size:], alln[size:])] if n > size else []
                n -= size
                yield pd.DataFrame(allv[:size], dtype=object, copy=False), alln[:size].tolist()
        if g != self.total:
            raise self.src.changed()
        self.src.check_unchanged()
        if n:
            allv = np.concatenate([h[0] for h in held]) if len(held) > 1 else held[0][0]
            alln = np.concatenate([h[1] for h in held]) if len(held) > 1 else held[0][1]
            yield pd.DataFrame(allv, dtype=object, copy=False), alln.tolist()


# --- Excel -------------------------------------------------------------------------------------------------------------
def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _open_workbook(path: Path, data: bytes):
    import python_calamine as pc  # lazy: loads python_calamine, only needed here

    try:
        return pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except getattr(pc, "PasswordError", ()):
        raise ImportRefused(
            f"「{path.name}」はパスワードで保護されたブックです（壊れてはいません）。Excel で保護を外して保存し直すか、"
            "ファイルのパスワードを指定してください（CLI: 環境変数 KODOMO_FILE_PASSWORD、画面: パスワード欄）。"
        ) from None
    except Exception:
        if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            raise ImportRefused(
                f"Excel ファイル「{path.name}」を読めません（壊れているか、途中までしか保存されていません）。"
                "Excel で開けるか確かめ、保存し直してください。"
            ) from None
        raise ImportRefused(
            f"「{path.name}」は Excel ファイルではありません（中身が Excel の形式ではありません）。"
        ) from None


def _float_text(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)


def _datetime_text(v) -> str:
    return v.date().isoformat() if not (v.hour or v.minute or v.second or v.microsecond) else v.isoformat(sep=" ")


_CONVERT: dict[type, Callable[[Any], str]] = {  # keyed by the cell value's class, so any value fits
    float: _float_text,
    int: str,
    dt.date: dt.date.isoformat,
    dt.datetime: _datetime_text,
    bool: lambda v: "TRUE" if v else "FALSE",
    dt.time: lambda v: "" if v == dt.time(0) else v.isoformat(),  # serial 0 under a date format: empty
}
_MIDNIGHT = dt.time(0)


def _cells_to_text(rows: list[list]) -> pd.DataFrame:
    """Excel cells → text, column by column (numbers without .0, date cells as ISO dates). Empties ``rows``: the
    sheet's cells are held once, in the frame's array, and converted there."""
    if not rows:
        return pd.DataFrame()
    width = max(len(r) for r in rows)
    arr = np.empty((len(rows), width), dtype=object)
    if any(len(r) != width for r in rows):
        for i, r in enumerate(rows):
            arr[i, : len(r)] = r
            arr[i, len(r) :] = ""
    else:
        arr[:] = rows
    rows.clear()
    conv = _CONVERT
    n_zero, first_zero = 0, None
    for j in range(width):
        col = arr[:, j]
        kinds = set(map(type, col))
        if kinds <= {str}:
            continue
        if kinds <= {str, float, int}:  # a number column (宛名番号, 日数): convert the numbers in one go
            isnum = np.fromiter((v.__class__ is not str for v in col), dtype=bool, count=len(col))
            nums = col[isnum].astype(float)
            whole = np.isfinite(nums) & (nums == np.floor(nums)) & (np.abs(nums) < 1e15)
            text = np.empty(len(nums), dtype=object)
            text[whole] = nums[whole].astype(np.int64).astype(str).astype(object)
            if not whole.all():
                text[~whole] = [repr(float(v)) for v in nums[~whole]]
            col[isnum] = text
            continue
        if dt.time in kinds:
            zero = [i for i, v in enumerate(col) if v.__class__ is dt.time and v == _MIDNIGHT]
            if zero:
                first = min(first_zero or (zero[0], j), (zero[0], j))
                first_zero, n_zero = first, n_zero + len(zero)
        arr[:, j] = [v if v.__class__ is str else conv.get(v.__class__, to_text)(v) for v in col]
    # object columns as they are: pandas would otherwise turn them into Arrow strings (a second copy of the text),
    # which _finish turned back into Python strings (a third)
    frame = pd.DataFrame(arr, dtype=object, copy=False)
    if n_zero:
        frame.attrs["serial0"] = (n_zero, first_zero)
    return frame


_CELL_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\br=\"([A-Z]{1,3})([0-9]{1,7})\"")


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _ooxml_sheet_parts(z) -> dict[str, str]:
    """Sheet name → its XML part in an .xlsx/.xlsm."""

    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    }
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    out: dict[str, str] = {}
    for x in book.iterfind("m:sheets/m:sheet", ns):
        t = target.get(x.get(f"{{{ns['r']}}}id"))
        sheet_name = x.get("name")
        if t and sheet_name is not None:
            out[sheet_name] = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
    return out


def sheet_names(path, password: str | None = None) -> list[str]:
    """The sheet names of an .xlsx/.xlsm (decrypted with ``password`` when it has one); [] for anything else or a
    file that cannot be read. Cheap: only the workbook part is read (the wizard recognises a returned checklist)."""

    try:
        data = Path(path).read_bytes()
        if _is_encrypted_ooxml(data):
            if not password:
                return []
            data = _decrypt(Path(path), data, password)
        return list(_ooxml_sheet_parts(zipfile.ZipFile(io.BytesIO(data))))
    except Exception:
        return []


def _ooxml_sizes(path: Path, data: bytes) -> dict[str, tuple[int, int]]:
    """(last row, last column) of every sheet's cells, read from the sheet XML as a stream — before a reader builds
    a dense grid of that size — and the uncompressed size of each sheet held to MAX_SHEET_BYTES (a zip bomb is
    refused, not expanded). {} when the file is not readable OOXML (the reader then says why)."""

    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        parts = _ooxml_sheet_parts(z)
    except Exception:
        return {}
    declared = sum(i.file_size for i in z.infolist())
    if declared > MAX_SHEET_BYTES * 2:
        raise ImportRefused(
            f"Excel ファイル「{path.name}」は展開すると大きすぎます（{declared / 1024 / 1024:,.0f} MB、"
            f"上限 {MAX_SHEET_BYTES * 2 // 1024 // 1024} MB）。正しいファイルか確かめてください。"
        )
    sizes = {}
    for name, part in parts.items():
        try:
            fh = z.open(part)
        except KeyError:
            continue
        rmax = cmax = 0
        total, tail = 0, b""
        with fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
                if total > MAX_SHEET_BYTES:
                    raise ImportRefused(
                        f"Excel ファイル「{path.name}」のシート「{name}」は展開すると大きすぎます（上限 "
                        f"{MAX_SHEET_BYTES // 1024 // 1024} MB）。正しいファイルか確かめてください。"
                    )
                buf = tail + chunk
                refs = _CELL_REF.findall(buf)
                if refs:  # (the distinct letters and numbers only: a column's letters repeat on every row)
                    letters, numbers = zip(*refs)
                    cmax = max(cmax, max(map(_col_index, set(letters))))
                    rmax = max(rmax, max(map(int, set(numbers))))
                tail = buf[-64:]
        sizes[name] = (rmax, cmax)
    return sizes


def _sparse_sheet(path: Path, data: bytes, name: str, nrows: int | None = None):
    """A sheet read cell by cell from its XML (a streaming parse): only the columns that hold something, so a stray
    cell at XFD5 costs one column, not 16,384 × every row. Shared strings, inline strings, numbers, booleans, and
    numbers under a date format as dates (1900 or 1904 system), as calamine reads them. Returns (rows, real column
    index of each kept column)."""

    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format  # lazy: loads openpyxl, only needed here
    from openpyxl.utils.datetime import (  # lazy: loads openpyxl, only needed here
        CALENDAR_MAC_1904,
        CALENDAR_WINDOWS_1900,
        from_excel,
    )

    z = zipfile.ZipFile(io.BytesIO(data))
    part = _ooxml_sheet_parts(z)[name]
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    book = ET.fromstring(z.read("xl/workbook.xml"))
    pr = book.find(f"{ns}workbookPr")
    epoch = CALENDAR_MAC_1904 if pr is not None and pr.get("date1904") in ("1", "true") else CALENDAR_WINDOWS_1900

    T, R_, SI, ROW, C, V, IS = (f"{ns}{tag}" for tag in ("t", "r", "si", "row", "c", "v", "is"))
    digits = "0123456789"
    col_of: dict[str, int] = {}  # a reference's letters → its column (the same few letters on every row)

    def text_of(el) -> str:
        """A string item's text: its own ``t`` or its rich-text runs' (``r/t``) — not the phonetic runs (``rPh/t``,
        the furigana Japanese Excel stores beside a name typed through the IME), which calamine leaves out too."""
        parts = []
        for ch in el:
            if ch.tag == T:
                parts.append(ch.text or "")
            elif ch.tag == R_:
                parts.extend(t.text or "" for t in ch.iter(T))
        return "".join(parts)

    shared: list[str] = []
    if "xl/sharedStrings.xml" in z.namelist():
        with z.open("xl/sharedStrings.xml") as fh:
            for _ev, el in ET.iterparse(fh):
                if el.tag == SI:
                    shared.append(text_of(el))
                    el.clear()
    date_styles: set[int] = set()
    if "xl/styles.xml" in z.namelist():
        st = ET.fromstring(z.read("xl/styles.xml"))
        custom = {int(f.get("numFmtId") or 0): f.get("formatCode") or "" for f in st.iter(f"{ns}numFmt")}
        xfs = st.find(f"{ns}cellXfs")
        for i, xf in enumerate(xfs if xfs is not None else []):
            fid = int(xf.get("numFmtId") or 0)
            code = custom.get(fid) or BUILTIN_FORMATS.get(fid) or ""
            if code and is_date_format(code):
                date_styles.add(i)

    rows: dict[int, dict[int, object]] = {}
    with z.open(part) as fh:
        for _ev, el in ET.iterparse(fh):
            if el.tag != ROW:
                continue
            r = int(el.get("r") or (max(rows, default=0) + 1))
            if nrows and r > nrows:
                break
            vals: dict[int, object] = {}
            for c in el.iter(C):
                letters = (c.get("r") or "").rstrip(digits)
                if letters and not letters.isalpha():  # (a malformed reference: its letters, as before)
                    letters = "".join(ch for ch in letters if ch.isalpha())
                if letters:
                    col = col_of.get(letters) or col_of.setdefault(letters, _col_index(letters.encode()))
                else:
                    col = max(vals, default=0) + 1
                t = c.get("t")
                v = c.find(V)
                raw = v.text if v is not None else None
                if t == "inlineStr":
                    inline = c.find(IS)
                    val: object = text_of(inline) if inline is not None else ""
                elif raw is None:
                    continue
                elif t == "s":
                    val = shared[int(raw)] if raw.isdigit() and int(raw) < len(shared) else ""
                elif t in ("str", "e"):
                    val = raw
                elif t == "b":
                    val = raw == "1"
                else:
                    try:
                        num = float(raw)
                    except ValueError:
                        val = raw
                    else:
                        if int(c.get("s") or 0) in date_styles:
                            val = dt.time(0) if num == 0 else from_excel(num, epoch)
                        else:
                            val = num
                if val is not None and val != "":
                    vals[col] = val
            if vals:
                rows[r] = vals
            el.clear()
    cols = sorted({c for v in rows.values() for c in v})
    pos = {c: i for i, c in enumerate(cols)}
    last = max(rows, default=0)
    out = []
    for r in range(1, last + 1):
        line: list = [""] * len(cols)
        for ci, cv in rows.get(r, {}).items():
            line[pos[ci]] = cv
        out.append(line)
    return out, [c - 1 for c in cols]


def _read_excel(path: Path, data: bytes, sheet, header_row: int | None) -> Table:
    sizes = _ooxml_sizes(path, data) if data[:4] == b"PK\x03\x04" else {}
    sparse = {n for n, (r, c) in sizes.items() if r * c > MAX_GRID_CELLS}
    real_cols: dict[str, list[int]] = {}
    wb = _open_workbook(path, data)
    kind = path.suffix.lower().lstrip(".") or "xlsx"
    if kind not in ("xlsx", "xlsm", "xls", "xlsb", "ods"):
        kind = "xls" if data[:4] == b"\xd0\xcf\x11\xe0" else "xlsx"
    names = list(wb.sheet_names)
    if not names:
        raise ImportRefused(f"「{path.name}」にシートがありません。")
    try:
        meta = {m.name: m for m in wb.sheets_metadata}
    except Exception:
        meta = {}

    def visible(n):
        m = meta.get(n)
        return m is None or str(getattr(m, "visible", "Visible")).endswith("Visible")

    def worksheet(n):
        m = meta.get(n)
        return m is None or "Chart" not in str(getattr(m, "typ", ""))

    sheets: dict = {}

    def load(n: str, nrows: int | None = None):
        if n in sparse:
            try:
                rows, real = _sparse_sheet(path, data, n, nrows)
            except ImportRefused:
                raise
            except Exception:
                raise ImportRefused(
                    f"Excel ファイル「{path.name}」のシート「{n}」を読めません（壊れている可能性があります）。"
                ) from None
            if not nrows:
                real_cols[n] = real
            return rows, []
        try:
            if n not in sheets:  # calamine parses the whole sheet here: do it once per sheet
                sheets[n] = wb.get_sheet_by_name(n)
            sh = sheets[n]
            rows = sh.to_python(skip_empty_area=False, nrows=nrows) if nrows else sh.to_python(skip_empty_area=False)
            merged = getattr(sh, "merged_cell_ranges", None) or []
        except ImportRefused:
            raise
        except Exception:
            raise ImportRefused(
                f"Excel ファイル「{path.name}」のシート「{n}」を読めません（壊れている可能性があります）。"
            ) from None
        return rows, merged

    chosen: str | None = None
    if sheet is not None and sheet != "":
        if isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise ImportRefused(
                    f"シート番号 {sheet} はありません（シートは {len(names)} 枚: {'、'.join(names)}）。"
                )
            chosen = names[sheet]
        else:
            s = str(sheet)
            key = unicodedata.normalize("NFKC", s).strip()
            chosen = next((n for n in names if n == s), None) or next(
                (n for n in names if unicodedata.normalize("NFKC", n).strip() == key), None
            )
            if chosen is None and key.isdigit() and 1 <= int(key) <= len(names):
                chosen = names[int(key) - 1]
            if chosen is None:
                raise ImportRefused(f"シート「{s}」はありません（このファイルのシート: {'、'.join(names)}）。")
    elif header_row is None:
        first_nonempty = None
        for n in [n for n in names if visible(n) and worksheet(n)] + [
            n for n in names if not visible(n) and worksheet(n)
        ]:
            rows, _ = load(n, HEADER_SCAN_ROWS)
            cells = [[to_text(v).strip() for v in r] for r in rows]
            if first_nonempty is None and any(any(c for c in r) for r in cells):
                first_nonempty = n
            if any(_score(r) >= MIN_HEADER_SCORE for r in cells):
                chosen = n
                break
        chosen = chosen or first_nonempty or names[0]
    else:
        chosen = next((n for n in names if visible(n)), names[0])
    rows, merged = load(chosen)
    frame = _cells_to_text(rows)
    if frame.empty:
        raise ImportRefused(f"「{path.name}」のシート「{chosen}」は空です。")
    line_numbers = np.arange(1, len(frame) + 1)
    real = real_cols.get(chosen)
    col_label = (lambda c: _col_letter(real[c])) if real is not None else _col_letter
    notes = []
    zeros = frame.attrs.get("serial0")
    if zeros:
        r, c = zeros[1]
        notes.append(
            f"日付・時刻のセルに 0（Excel の空の日付「1900/1/0」）が {zeros[0]} 個あり、空欄として扱いました"
            f"（最初は {col_label(c)}{r + 1}）。"
        )
    formulas = formula_cells(data, chosen) if kind in ("xlsx", "xlsm", "ods") else 0
    table = _finish(
        frame,
        line_numbers,
        path.name,
        kind,
        header_row,
        merged=merged,
        col_label=col_label,
        sheet=chosen,
        warnings=notes
        + (
            [
                f"シート「{chosen}」には数式のセルが {formulas} 個あります。数式は計算せず、"
                "Excel が最後に保存した値をそのまま取り込みました（値が古い・空のことがあります）。"
            ]
            if formulas
            else []
        ),
    )
    table.sheet_names = names
    table.formula_cells = formulas
    return table


def formula_cells(data: bytes, sheet: str | None = None) -> int:
    """How many formula cells an .xlsx/.xlsm holds (in ``sheet``, or in every sheet; an .ods: in the whole workbook).
    Workbooks are read as the values Excel cached when it saved them (calamine, openpyxl ``data_only``); formulas
    are never evaluated. This counts them from the sheet XML (``<f>`` elements; ``table:formula`` in OpenDocument)
    so an import can say so. 0 for .xls/.xlsb (binary) and anything that is not a zip of XML."""

    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        if "content.xml" in z.namelist():  # OpenDocument (.ods): formulas are table:formula attributes (any sheet)
            return len(re.findall(rb"table:formula=", z.read("content.xml")))
        parts = [n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        if sheet is not None:
            ns = {
                "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
            }
            book = ET.fromstring(z.read("xl/workbook.xml"))
            rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
            target = {r.get("Id"): r.get("Target") for r in rels}
            rid = next(
                (x.get(f"{{{ns['r']}}}id") for x in book.iterfind("m:sheets/m:sheet", ns) if x.get("name") == sheet),
                None,
            )
            t = target.get(rid)
            if t is None:
                return 0
            parts = [t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))]
        return sum(len(re.findall(rb"<(?:\w+:)?f[ >/]", z.read(n))) for n in parts)
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError):
        return 0


# --- header, rows ------------------------------------------------------------------------------------------------------
def _clean_header(h: str) -> str:
    return re.sub(r"[\r\n]+", "", str(h)).strip()


def _combine(upper: list[str], lower: list[str], merged_spans: dict[int, int] | None) -> list[str]:
    """Join a group row above with the header row: a group label covers the columns of its merged cell (or, without
    merge information, the following columns left blank in the group row)."""
    width = len(lower)
    filled = list(upper)
    if merged_spans:
        for c0, c1 in merged_spans.items():
            for c in range(c0 + 1, min(c1, width - 1) + 1):
                if not filled[c]:
                    filled[c] = upper[c0]
    else:
        last = ""
        for c in range(width):
            if upper[c]:
                last = upper[c] if lower[c] else ""  # a label over a blank is a header of its own (merged down)
            elif lower[c] and last:
                filled[c] = last
            else:
                last = ""
    out = []
    for c in range(width):
        u, lo = filled[c], lower[c]
        if u and lo and u != lo:
            both = f"{u} {lo}"
            # a label spread over a column it may not cover: keep the sub-header alone when only that is known
            out.append(lo if filled[c] != upper[c] and not known_header(both) and known_header(lo) else both)
        else:
            out.append(lo or u)
    return out


def _row_spans(merged, r: int) -> dict[int, int]:
    spans = {}
    for (r0, c0), (r1, c1) in merged or []:
        if r0 <= r <= r1 and c1 > c0:
            spans[c0] = c1
    return spans


def _find_header(cells: list[list[str]], merged, user_row: int | None, rownums: np.ndarray, name: str):
    """(first index, last index, header cells) of the header rows in ``cells`` (indices into the read rows)."""
    n = len(cells)
    if user_row is not None:
        idx = np.nonzero(rownums == user_row)[0]
        if len(idx) == 0:
            raise ImportRefused(
                f"見出し行に指定された {user_row} 行目は「{name}」にありません"
                "（ファイルの行数を超えているか、複数行にまたがるセルの途中です）。"
            )
        i = int(idx[0])
        if not any(cells[i]):
            raise ImportRefused(f"見出し行に指定された {user_row} 行目は空です。")
        if i > 0 and merged is not None and _row_spans(merged, i - 1) and any(cells[i - 1]):
            comb = _combine(cells[i - 1], cells[i], _row_spans(merged, i - 1))
            if _score(comb) > _score(cells[i]):
                return i - 1, i, comb
        return i, i, cells[i]
    limit = min(n, HEADER_SCAN_ROWS)
    scores = [_score(cells[i]) if any(cells[i]) else 0.0 for i in range(limit)]
    if not scores or max(scores) < MIN_HEADER_SCORE:
        raise ImportRefused(
            f"「{name}」の先頭 {HEADER_SCAN_ROWS} 行に見出し行（「氏名」「生年月日」などの列名）が見つかりません。"
            "見出し行の行番号を指定してください（--header-row）。"
        )
    best = max(range(limit), key=lambda i: (scores[i], -i))
    start, end, head = best, best, cells[best]
    best_score = scores[best]
    if best > 0 and sum(1 for c in cells[best - 1] if c) >= 1:
        spans = _row_spans(merged, best - 1) or None
        comb = _combine(cells[best - 1], cells[best], spans)
        s = _score(comb)
        if s > best_score:
            start, head, best_score = best - 1, comb, s
    if start == best and best + 1 < n and any(cells[best + 1]):
        spans = _row_spans(merged, best) or None
        comb = _combine(cells[best], cells[best + 1], spans)
        s = _score(comb)
        units = all(_UNIT_CELL.match(c) for c in cells[best + 1] if c)  # a row of units: （日） （回） （kg）
        if s > best_score or (units and s >= best_score):
            end, head = best + 1, comb
    return start, end, head


def _finish(
    frame: pd.DataFrame,
    rownums: np.ndarray,
    name: str,
    kind: str,
    header_row: int | None,
    *,
    merged,
    col_label,
    encoding=None,
    delimiter=None,
    sheet=None,
    warnings=None,
) -> Table:
    frame = frame.astype(object) if frame.dtypes.ne(object).any() else frame
    _check_cells(frame, rownums, name, col_label)
    ncols = frame.shape[1]
    # cells with something in them (whitespace-only cells count as empty)
    filled_cells = {}
    for c in frame.columns:
        col = frame[c].to_numpy(dtype=object)
        filled_cells[c] = (col != "") & ~_ISSPACE(col).astype(bool)
    nonempty = np.zeros(len(frame), dtype=bool)
    for c in frame.columns:
        nonempty |= filled_cells[c]
    head_n = min(len(frame), HEADER_SCAN_ROWS + 2) if header_row is None else len(frame)
    if header_row is not None:
        pos = np.nonzero(rownums == header_row)[0]
        head_n = min(len(frame), int(pos[0]) + 2) if len(pos) else 0
    cells = [[_clean_header(v) for v in row] for row in frame.iloc[:head_n].to_numpy(dtype=object).tolist()]
    start, end, head = _find_header(cells, merged, header_row, rownums, name)
    title = [" ".join(c for c in r if c) for r in cells[:start] if any(r)]

    data = frame.iloc[end + 1 :]
    nums = rownums[end + 1 :]
    keep = nonempty[end + 1 :]
    # which columns carry anything (header or a value)?
    used = [bool(head[c]) or bool(filled_cells[frame.columns[c]][end + 1 :].any()) for c in range(ncols)]
    cols = [c for c in range(ncols) if used[c]]
    headers: list[str] = []
    seen: dict[str, int] = {}
    for c in cols:
        h = head[c] or f"列{col_label(c)}"
        if h in seen:
            seen[h] += 1
            h = f"{h}({seen[h]})"
        else:
            seen[h] = 1
        headers.append(h)
    data = data.iloc[keep, cols] if len(cols) != ncols else data.iloc[keep]
    nums = nums[keep]
    skipped: list[int] = []
    if len(data):
        # repeated header rows (printed exports repeat the header on every page)
        hdr = np.array([head[c] for c in cols], dtype=object)
        rep = (data.to_numpy(dtype=object) == hdr).all(axis=1) if len(cols) else np.zeros(len(data), bool)
        if rep.any():
            skipped += nums[rep].tolist()
            data, nums = data.iloc[~rep], nums[~rep]
        # trailing notes: a single cell such as ※… / 合計 / 以上 after the last data row
        tail = 0
        vals = data.to_numpy(dtype=object)
        for i in range(len(vals) - 1, -1, -1):
            filled = [v for v in vals[i] if v.strip()]
            if len(filled) == 1 and _NOTE.match(filled[0]):
                tail += 1
            else:
                break
        if tail:
            skipped += nums[len(nums) - tail :].tolist()
            data, nums = data.iloc[: len(data) - tail], nums[: len(nums) - tail]
    if not len(data):
        raise ImportRefused(f"「{name}」にはデータ行がありません（見出し行は {int(rownums[end])} 行目）。")
    data = data.reset_index(drop=True)
    data.columns = range(len(cols))
    warnings = list(warnings or [])
    if skipped:
        warnings.append(
            f"見出しの繰り返しや注記の行（{', '.join(map(str, sorted(skipped)[:10]))}"
            f"{' ほか' if len(skipped) > 10 else ''} 行目）は読み飛ばしました。"
        )
    return Table(
        headers=headers,
        frame=data,
        row_numbers=nums.tolist(),
        sha256="",
        kind=kind,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=int(rownums[end]),
        header_rows=tuple(int(rownums[i]) for i in range(start, end + 1)),
        title=title,
        warnings=warnings,
        skipped_rows=sorted(skipped),
    )
