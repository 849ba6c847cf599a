"""The month's files in one go: a manifest (``sources.csv``: ``file_name, source_type[, as_of]``, paths relative to
the manifest) read into entries, then each file imported as its own all-or-nothing batch in one unlock.

The manifest itself is checked first (columns, source types, dates, each line): a manifest that cannot be read is
refused whole, before any file is imported. A file that is refused (guards, unreadable, missing) does not stop the
others; its entry says why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputRefused, KodomoError
from ..services import service
from . import fields as F
from .service import import_file
from .values import parse_date

if TYPE_CHECKING:
    from ..workspace import Workspace

MANIFEST_NAME = "sources.csv"
_COLUMNS = {
    "file_name": ("file_name", "file", "ファイル名", "ファイル"),
    "source_type": ("source_type", "source", "取込元", "取込元の種類", "種類"),
    "as_of": ("as_of", "基準日", "時点"),
}


@dataclass
class ManifestEntry:
    line: int
    file_name: str
    path: Path
    source_type: str
    as_of: str | None = None


def _label_to_key() -> dict[str, str]:
    out = {k: k for k in F.SOURCES}
    out.update({st.label: k for k, st in F.SOURCES.items()})
    return out


def read_manifest(path: Path, *, default_as_of: str | None = None) -> list[ManifestEntry]:
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputRefused(f"マニフェスト「{path.name}」が見つかりません（{path.parent}）。") from None
    except OSError as e:
        raise InputRefused(f"マニフェスト「{path.name}」を開けません（{e.strerror or e}）。") from None
    for enc in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputRefused(f"マニフェスト「{path.name}」は UTF-8 でも Shift_JIS でも読めません。")
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text, newline=""))) if any(c.strip() for c in r)]
    if not rows:
        raise InputRefused(f"マニフェスト「{path.name}」は空です。")
    head = [c.strip().lower() for c in rows[0][1]]
    pos: dict[str, int] = {}
    for key, names in _COLUMNS.items():
        for n in names:
            if n.lower() in head:
                pos[key] = head.index(n.lower())
                break
    if "file_name" not in pos or "source_type" not in pos:
        raise InputRefused(
            f"マニフェスト「{path.name}」の1行目に列名 file_name と source_type が必要です（任意で as_of）。"
        )
    types = _label_to_key()
    entries: list[ManifestEntry] = []
    base = path.parent
    for line, r in rows[1:]:

        def cell(k):
            i = pos.get(k)
            return r[i].strip() if i is not None and i < len(r) else ""

        fn, st, as_of = cell("file_name"), cell("source_type"), cell("as_of") or default_as_of
        if not fn:
            raise InputRefused(f"マニフェスト「{path.name}」の {line} 行目にファイル名がありません。")
        st_key = types.get(st)
        if st_key is None:
            raise InputRefused(
                f"マニフェスト「{path.name}」の {line} 行目の取込元の種類「{st}」はありません"
                f"（{', '.join(F.SOURCES)}）。"
            )
        if as_of:
            if parse_date(as_of).value is None:
                raise InputRefused(
                    f"マニフェスト「{path.name}」の {line} 行目の時点「{as_of}」を日付として読めません。"
                )
        p = Path(fn)
        entries.append(ManifestEntry(line, fn, p if p.is_absolute() else base / p, st_key, as_of or None))
    if not entries:
        raise InputRefused(f"マニフェスト「{path.name}」に取り込むファイルがありません。")
    return entries


@service("import", what="import manifest")
def import_manifest(
    ws: Workspace, entries: list[ManifestEntry], *, force: bool = False, progress=None, file_password=None
) -> list[dict]:
    """Import every entry as its own batch (the registry first: the others link to it). Returns one object per
    file: the import's JSON plus ``file``/``source_type``/``as_of``; a refused file has ``refused: true``,
    ``exit_code`` and ``message`` (and the guards' ``findings``)."""

    say = progress or (lambda *_: None)
    results: list[dict] = []
    memo: dict = {}  # the current registry's keys and names, read once per state of the registry
    order = sorted(range(len(entries)), key=lambda i: entries[i].source_type != "resident_registry")
    for n, i in enumerate(order, 1):
        e = entries[i]
        say(f"取込 {n}/{len(entries)}: {e.file_name}")
        base = {"file": e.file_name, "source_type": e.source_type, "as_of": e.as_of}
        try:
            res = import_file(
                ws, e.path, e.source_type, as_of=e.as_of, force=force, file_password=file_password, memo=memo
            )
        except KodomoError as err:
            item = {**base, "batch_id": None, "refused": True, "exit_code": err.exit_code, "message": err.message_ja}
            findings = getattr(err, "findings", None)
            if findings:
                item["findings"] = findings
            results.append(item)
            continue
        results.append({**base, **res.to_json()})
    return results
