"""Source types the town defines (給食費, 国保, 上下水道料 …): stored in the town's catalogue (setting
``town_catalogue``, key ``source_types``), registered with the importer when a workspace opens.

A definition (one entry of ``source_types``, keyed by an ASCII name such as ``school_lunch``)::

    {"label": "給食費", "department": "学校教育課",
     "identity": ["resident_no", "name", "birth_date"],        # identity fields a file must carry
     "attributes": [{"field": "arrears_months", "label": "滞納月数", "type": "number",
                     "headers": ["滞納月数", "滞納月"]},         # header synonyms for the auto-mapping
                    {"field": "status", "label": "状況", "type": "code_list", "values": ["納付", "滞納"]}],
     "record_date": "billing_date" | null,                     # a date attribute, or the extract's as-of date
     "dedupe": ["record_date"],                                # what identifies one event across re-sent files
     "purpose": "…", "legal_basis_code": "61-1"}               # for the file register

Attribute types: ``number``, ``date``, ``code_list`` (with ``values``), ``text``.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, Any

from ..settings import get
from . import fields as F

if TYPE_CHECKING:
    from ..workspace import Workspace

TYPES = {"number": "number", "date": "date", "code_list": "category", "text": "text"}
TYPE_LABELS = {"number": "数値", "date": "日付", "code_list": "コード（選択肢）", "text": "文字"}
IDENTITY_GROUPS = {
    "resident_no": ("resident_no",),
    "name": ("name", "surname", "name_kana", "surname_kana"),
    "name_kana": ("name_kana", "surname_kana"),
    "birth_date": ("birth_date",),
    "household_no": ("household_no",),
    "address": ("address",),
    "sex": ("sex",),
}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,38}$")
SETTING_KEY = "town_catalogue"


def problems(key: str, spec) -> list[str]:
    """Every problem of one definition (empty: sound)."""
    return [m for _, m in field_problems(key, spec)]


class _Found(list):
    """(field, message) pairs; ``append(message)`` files a message under the field being checked (``at``)."""

    at: Any = ""

    def append(self, message) -> None:  # type: ignore[override]
        super().append((self.at, message))


def field_problems(key: str, spec) -> list[tuple[str, str]]:
    """Every problem of one definition as (field, message): the field is the definition's key it concerns —
    ``key``, ``label``, ``department``, ``identity``, ``attributes`` / ``attributes.N`` (the N-th attribute, from 0),
    ``record_date``, ``dedupe``, ``purpose``, ``legal_basis_code`` — so an editor can show it next to that field."""
    found = _Found()
    _problems(key, spec, found)
    return list(found)


def _problems(key: str, spec, out: _Found) -> None:
    where = f"取込元「{key}」: "
    out.at = "key"
    if not KEY_RE.match(str(key)):
        out.append(f"{where}名前は英小文字で始まる英数字と _ にしてください（例 school_lunch）。")
    if key in F.SHIPPED_SOURCES:
        out.append(f"{where}既定の取込元と同じ名前です。")
    if not isinstance(spec, dict):
        out.append(f"{where}定義の形式が正しくありません。")
        return
    out.at = "label"
    if not str(spec.get("label") or "").strip():
        out.append(f"{where}label（表示名）がありません。")
    out.at = "department"
    if not str(spec.get("department") or "").strip():
        out.append(f"{where}department（担当課）がありません。")
    out.at = "identity"
    ident = spec.get("identity") or []
    if not isinstance(ident, list) or not ident:
        out.append(f"{where}identity（本人を特定する項目）を1つ以上指定してください。")
        ident = []
    for f in ident:
        if f not in IDENTITY_GROUPS:
            out.append(f"{where}identity の項目「{f}」は使えません（{'、'.join(IDENTITY_GROUPS)}）。")
    out.at = "attributes"
    attrs = spec.get("attributes") or []
    if not isinstance(attrs, list) or not attrs:
        out.append(f"{where}attributes（項目）を1つ以上指定してください。")
        attrs = []
    names: set[str] = set()
    for i, a in enumerate(attrs):
        out.at = f"attributes.{i}"
        if not isinstance(a, dict):
            out.append(f"{where}項目の形式が正しくありません。")
            continue
        n = str(a.get("field") or "")
        if not KEY_RE.match(n):
            out.append(f"{where}項目名「{n}」は英小文字で始まる英数字と _ にしてください。")
        if n in F.IDENTITY_BY_NAME or n in names:
            out.append(f"{where}項目名「{n}」が本人特定項目か他の項目と重なっています。")
        names.add(n)
        if not str(a.get("label") or "").strip():
            out.append(f"{where}項目「{n}」に label（表示名）がありません。")
        if a.get("type") not in TYPES:
            out.append(f"{where}項目「{n}」の type は {'・'.join(TYPES)} のいずれかです。")
        if a.get("type") == "code_list" and not (isinstance(a.get("values"), list) and a["values"]):
            out.append(f"{where}項目「{n}」（code_list）には values（選択肢）が必要です。")
        if not isinstance(a.get("headers", []), list):
            out.append(f"{where}項目「{n}」の headers は見出しのリストにしてください。")
    out.at = "record_date"
    rd = spec.get("record_date")
    if rd is not None and not any(
        isinstance(a, dict) and a.get("field") == rd and a.get("type") == "date" for a in attrs
    ):
        out.append(f"{where}record_date「{rd}」は日付の項目にしてください（なければ null: 抽出の基準日）。")
    out.at = "dedupe"
    dd = spec.get("dedupe", ["record_date"])
    if not isinstance(dd, list) or any(d not in names | {"record_date"} for d in dd):
        out.append(f"{where}dedupe（重複を判定する項目）は record_date か項目名のリストにしてください。")
    out.at = "purpose"
    if not str(spec.get("purpose") or "").strip():
        out.append(f"{where}purpose（利用目的）がありません（個人情報ファイル簿に載ります）。")
    out.at = "legal_basis_code"
    if not str(spec.get("legal_basis_code") or "").strip():
        out.append(f"{where}legal_basis_code（根拠: 61-1・69-2-2・69-2-3・other）がありません。")


def source_type(key: str, spec: dict) -> F.SourceType:
    """The importer's SourceType for a sound definition."""
    attrs = []
    for a in spec["attributes"]:
        headers = [h for h in a.get("headers", []) if str(h).strip()]
        values = tuple(str(v) for v in a.get("values") or ())
        attrs.append(F.FieldSpec(a["field"], a["label"], TYPES[a["type"]], tuple(headers), values))
    ident = list(spec["identity"])
    required = tuple(IDENTITY_GROUPS[f] for f in ident if f != "resident_no") or (("resident_no",),)
    if "resident_no" in ident:
        required = (("resident_no",),) + required
    return F.SourceType(
        key=key,
        label=str(spec["label"]),
        required=required,
        attributes=tuple(attrs),
        record_date=spec.get("record_date"),
        sufficient=("resident_no",) if "resident_no" in ident else (),
        description=f"町が定義した取込元（{spec.get('department', '')}）",
    )


def register(source_types: dict | None) -> None:
    """Register the town's source types (only sound ones; the catalogue is checked before it is stored)."""
    F.register_town_types(source_type(k, v) for k, v in (source_types or {}).items() if not problems(k, v))


_READ_AT_OPEN: list = []  # (a weak reference to the workspace, the catalogue apply read when it opened)


def apply(ws: Workspace) -> None:
    """Workspace-open hook: the stored town catalogue's source types become known to the importer."""

    try:
        cat = get(ws, SETTING_KEY)
    except Exception:  # an old schema being upgraded, a locked workspace: the shipped types only
        cat = None
    _READ_AT_OPEN[:] = [(weakref.ref(ws), cat)]
    register((cat or {}).get("source_types") if isinstance(cat, dict) else None)


def read_at_open(ws: Workspace) -> Any:
    """The stored catalogue as :func:`apply` read it when ``ws`` opened (None when it could not be read), for the
    later open hooks (scoring's), which run right after it with nothing written between; :func:`apply` is run now
    if it has not run for ``ws``."""
    if not (_READ_AT_OPEN and _READ_AT_OPEN[0][0]() is ws):
        apply(ws)
    return _READ_AT_OPEN.pop()[1]
