"""Read a department file (CSV/TSV or Excel) into a :class:`Table`: header names, data rows as text, and each
row's number **as the user sees it in the file** (1-based CSV line where the record starts; 1-based spreadsheet
row; title rows, blank rows and header rows count).

CSV
  Encoding: UTF-8 with BOM, UTF-8, CP932 (Shift_JIS with the NEC/IBM extensions; 外字 decode to the private use
  area and are reported in ``warnings``). Anything else (UTF-16/32, binary, text broken part-way) is refused
  with a Japanese message that says which line could not be read. Delimiter: comma, tab or semicolon, whichever
  splits the first lines consistently. Files without quoted line breaks go through pandas' C parser, one row per
  physical line; files with them go through the ``csv`` module, which tells where each record starts.
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

import contextvars
import csv
import datetime as dt
import hashlib
import io
import posixpath
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Sequence
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


@dataclass
class Table:
    """One sheet or CSV file, read. ``frame`` has one column per header (positional, ``str`` cells, ``""`` empty)."""

    headers: list[str]
    frame: pd.DataFrame
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

    @property
    def rows(self) -> Sequence[list[str]]:
        return _Rows(self.frame.to_numpy(dtype=object))

    def __len__(self):
        return len(self.frame)

    def column(self, header: str) -> pd.Series:
        return self.frame.iloc[:, self.headers.index(header)]

    def row_dict(self, i: int) -> dict[str, str]:
        return dict(zip(self.headers, self.frame.iloc[i].tolist()))


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRefused(
                f"ファイル「{path.name}」は大きすぎます（{size / 1024 / 1024:,.0f} MB、上限 {MAX_FILE_BYTES // 1024 // 1024} MB）。"
                "期間や対象を分けて抽出してください。"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportRefused(f"ファイル「{path.name}」が見つかりません。") from None
    except IsADirectoryError:
        raise ImportRefused(f"「{path.name}」はフォルダです。ファイルを指定してください。") from None
    except OSError as e:
        raise ImportRefused(f"ファイル「{path.name}」を開けません（{e.strerror or e}）。") from None
    sha = hashlib.sha256(data).hexdigest()
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise ImportRefused(f"ファイル「{path.name}」は空です。")
    suffix = path.suffix.lower()
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
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or suffix in EXCEL_SUFFIXES:
        table = _read_excel(path, data, sheet, header_row)
    else:
        table = _read_csv(path, data, encoding, header_row)
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
def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """(text, encoding label). Refuses what is neither UTF-8 nor CP932."""
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff") or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportRefused(
            f"「{name}」は UTF-16/UTF-32 で保存されています。UTF-8 か Shift_JIS（CP932）の CSV で"
            "保存し直してください（Excel なら「CSV UTF-8」か「CSV（コンマ区切り）」）。"
        )
    head = data[:65536]
    if b"\x00" in head:
        nul = head.count(b"\x00")
        if nul * 4 >= len(head) and (
            head[1::2].count(b"\x00") > len(head) // 4 or head[0::2].count(b"\x00") > len(head) // 4
        ):
            raise ImportRefused(
                f"「{name}」は UTF-16 で保存されているようです。UTF-8 か Shift_JIS（CP932）の CSV で"
                "保存し直してください。"
            )
        line = _line_of(data, data.index(b"\0"))
        raise ImportRefused(
            f"「{name}」はテキスト（CSV）ファイルではありません（{line} 行目に"
            "文字でないデータがあります）。CSV か Excel ファイルを指定してください。"
        )
    if encoding and data[:3] != b"\xef\xbb\xbf":  # a UTF-8 BOM settles the question whatever was asked
        enc = _ENCODING_ALIASES.get(encoding.strip().lower().replace(" ", ""))
        if enc is None:
            raise ImportRefused(
                f"文字コード「{encoding}」には対応していません。UTF-8 か CP932（Shift_JIS）を指定してください。"
            )
        if enc == "utf-8" and data[:3] == b"\xef\xbb\xbf":
            enc = "utf-8-sig"
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as e:
            label = "CP932（Shift_JIS）" if enc == "cp932" else "UTF-8"
            raise ImportRefused(
                f"「{name}」の {_line_of(data, e.start)} 行目が {label} として読めません。"
                "文字コードの指定を確かめてください。"
            ) from None
        return _check_text(text, name), enc
    if data[:3] == b"\xef\xbb\xbf":
        try:
            return _check_text(data.decode("utf-8-sig"), name), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise ImportRefused(
                f"「{name}」の {_line_of(data, e.start)} 行目が UTF-8 として読めません"
                "（ファイルが壊れている可能性があります）。"
            ) from None
    try:
        return _check_text(data.decode("utf-8"), name), "utf-8"
    except UnicodeDecodeError as e:
        bad = e.start
        if any(b >= 0x80 for b in data[:bad]):
            # valid multibyte UTF-8 before the bad byte: a UTF-8 file broken part-way, not CP932
            raise ImportRefused(
                f"「{name}」の {_line_of(data, bad)} 行目が UTF-8 として読めません"
                "（ファイルが壊れているか、文字コードが混在しています）。"
            ) from None
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError as e:
        line = _line_of(data, e.start)
        raw = data.split(b"\n")[line - 1]
        try:
            raw.decode("utf-8")
            utf8 = not raw.isascii()
        except UnicodeDecodeError:
            utf8 = False
        if utf8:
            raise ImportRefused(
                f"「{name}」は文字コードが混在しています: ほとんどの行は Shift_JIS（CP932）ですが、{line} 行目は "
                "UTF-8 です。このまま読むと氏名や住所が文字化けするため、取り込みません。元のシステムから出力し直すか、"
                "1つの文字コードで保存し直してください。"
            ) from None
        raise ImportRefused(
            f"「{name}」の文字コードを判別できません（UTF-8 でも Shift_JIS（CP932）でも読めません。"
            f"{_line_of(data, e.start)} 行目）。UTF-8 か Shift_JIS の CSV で保存し直してください。"
        ) from None
    utf8_at = _utf8_line(data)
    if utf8_at:
        raise ImportRefused(
            f"「{name}」は文字コードが混在しています: ほとんどの行は Shift_JIS（CP932）ですが、{utf8_at} 行目は UTF-8 です。"
            "このまま読むと氏名や住所が文字化けするため、取り込みません。元のシステムから出力し直すか、"
            "1つの文字コードで保存し直してください。"
        )
    return _check_text(text, name), "cp932"


def _utf8_line(data: bytes) -> int | None:
    """The first line of a (mostly CP932) file that is UTF-8 text: valid UTF-8 with at least two multibyte
    characters (Japanese CP932 text is almost never valid UTF-8 too)."""
    for i, raw in enumerate(data.split(b"\n"), 1):
        if raw.isascii():
            continue
        try:
            t = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if sum(1 for ch in t if ord(ch) > 0x7F) >= 2:
            return i
    return None


def _check_text(text: str, name: str) -> str:
    m = _CONTROL.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise ImportRefused(
            f"「{name}」はテキスト（CSV）ファイルではないか、壊れています（{line} 行目に文字でないデータがあります）。"
        )
    return text


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


def _long_line(text: str, limit: int) -> tuple[int, int] | None:
    """(start, end) of the first line longer than ``limit`` characters, or None. (What ``re.search("[^\\n]{limit+1,}")``
    finds, without the regex's scan from every position of every line: seconds on a wide file.)"""
    if len(text) <= limit:
        return None
    start, find = 0, text.find
    while True:
        nl = find("\n", start)
        end = len(text) if nl < 0 else nl
        if end - start > limit:
            return start, end
        if nl < 0:
            return None
        start = nl + 1


def _read_csv(path: Path, data: bytes, encoding: str | None, header_row: int | None) -> Table:
    name = path.name
    text, enc = _decode(data, name, encoding)
    long_run = _long_line(text, MAX_CELL_CHARS)
    if long_run and len(max(re.split(r"[,\t;]", text[long_run[0] : long_run[1]]), key=len)) > MAX_CELL_CHARS:
        line = text.count("\n", 0, long_run[0]) + 1
        raise ImportRefused(
            f"「{name}」の {line} 行目に長すぎるセルがあります（1つのセルの上限 {MAX_CELL_CHARS:,} 文字）。"
            "正しいファイルか確かめてください。"
        )
    if enc == "utf-8-sig" and text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ImportRefused(f"ファイル「{name}」は空です。")
    warnings = []
    pua = _PUA.search(text)
    if pua:
        n = len(_PUA.findall(text))
        warnings.append(
            f"外字（私用領域の文字）が {n} 文字あります（最初は {text.count(chr(10), 0, pua.start()) + 1} 行目）。"
            "氏名の照合に影響するため、元のシステムで標準の文字に置き換えることをおすすめします。"
        )
    cut = text.find("\n", 65536)
    delim = _sniff_delimiter(text if cut < 0 else text[:cut])
    quoted_newlines = '"' in text and any(ln.count('"') & 1 for ln in text.split("\n"))
    frame = None
    if not quoted_newlines:
        lines_n = text.count("\n") + (0 if text.endswith("\n") else 1)
        ncols = max(ln.count(delim) for ln in text.split("\n")) + 1
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delim,
                header=None,
                names=range(ncols),
                dtype=object,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
                index_col=False,
                quotechar='"',
                doublequote=True,
            )
            if len(frame) != lines_n:
                frame = None  # something the line-per-record assumption does not cover: take the careful path
            else:
                line_numbers: np.ndarray | list[int] = np.arange(1, len(frame) + 1)
        except (pd.errors.ParserError, ValueError):
            frame = None
    if frame is None:
        frame, line_numbers = _csv_records(text, delim, name)
    frame.columns = range(frame.shape[1])
    return _finish(
        frame,
        np.asarray(line_numbers),
        name,
        "csv",
        header_row,
        merged=None,
        col_label=lambda c: str(c + 1),
        encoding=enc,
        delimiter=delim,
        warnings=warnings,
    )


def _csv_records(text: str, delim: str, name: str) -> tuple[pd.DataFrame, list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"', doublequote=True, strict=True)
    rows, starts = [], []
    prev = 0
    try:
        for rec in reader:
            rows.append(rec)
            starts.append(prev + 1)
            prev = reader.line_num
    except csv.Error:
        raise ImportRefused(f"「{name}」の {prev + 1} 行目の引用符（\"）が閉じられていないため、読めません。") from None
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        raise ImportRefused(f"ファイル「{name}」は空です。")
    padded = [r + [""] * (width - len(r)) if len(r) < width else r for r in rows]
    return pd.DataFrame(padded, dtype=object), starts


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
    """Excel cells → text, column by column (numbers without .0, date cells as ISO dates)."""
    if not rows:
        return pd.DataFrame()
    width = max(len(r) for r in rows)
    if any(len(r) != width for r in rows):
        rows = [r + [""] * (width - len(r)) for r in rows]
    arr = np.empty((len(rows), width), dtype=object)
    arr[:] = rows
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
    frame = pd.DataFrame(arr)
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
                for m in _CELL_REF.finditer(buf):
                    c, r = _col_index(m.group(1)), int(m.group(2))
                    if c > cmax:
                        cmax = c
                    if r > rmax:
                        rmax = r
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

    def text_of(el) -> str:
        return "".join(t.text or "" for t in el.iter(f"{ns}t"))

    shared: list[str] = []
    if "xl/sharedStrings.xml" in z.namelist():
        with z.open("xl/sharedStrings.xml") as fh:
            for _ev, el in ET.iterparse(fh):
                if el.tag == f"{ns}si":
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
            if el.tag != f"{ns}row":
                continue
            r = int(el.get("r") or (max(rows, default=0) + 1))
            if nrows and r > nrows:
                break
            vals: dict[int, object] = {}
            for c in el.iter(f"{ns}c"):
                ref = c.get("r") or ""
                letters = "".join(ch for ch in ref if ch.isalpha())
                col = _col_index(letters.encode()) if letters else (max(vals, default=0) + 1)
                t = c.get("t")
                v = c.find(f"{ns}v")
                raw = v.text if v is not None else None
                if t == "inlineStr":
                    val: object = text_of(c)
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
