"""Turn a read :class:`~.readers.Table` into canonical records: identity fields parsed (dates ISO, sex 1/2, codes
NFKC), names kept exactly as written, attributes parsed by type, unmapped columns kept as ``extra``.

Rules
  * A mapped column that names no field of the source type, a field taken by two columns, or a required column
    that is missing → :class:`ImportRefused`; nothing is imported.
  * Every invalid typed cell (date, count, number, flag, sex, year) is a rejection
    ``{"row", "column", "message", "raw"}``; a row with any rejection is kept out whole.
  * A row with none of the source's identity fields (宛名番号 / 氏名 / カナ / 生年月日 …) is rejected.
  * A birth date after the as-of date is rejected (生年月日が基準日より後).
  * Missing (empty, 不明, -) is never an error: the key is simply absent from ``attributes`` (no data ≠ no risk).
  * In a source with child forms (児童扶養手当 対象児童 …), a row that names a child is the child's record
    (``subject = "child"``): its identity fields are the child's, and the recipient's identity goes to
    ``attributes["recipient"]``. Otherwise ``subject = "self"``.
  * 個人番号 / マイナンバー columns are never kept (番号法): dropped from ``raw`` and ``extra`` with a warning.

Parsing works column by column on the distinct values of each column (pd.factorize), so a 100,000-row file with
a few thousand distinct birth dates parses each date once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import operator
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import values as V
from .errors import ImportRefused
from .fields import (
    CHILD_BASE,
    SOURCES,
    FieldSpec,
    SourceType,
    check_mapping,
    field_spec,
    header_key,
    missing_required,
    required_label,
)
from .readers import Table

__all__ = ["ParsePlan", "ParseResult", "parse_chunk", "parse_rows", "plan_rows", "normalise_category"]

_IDENTITY_KEYS = (
    "resident_no",
    "household_no",
    "name",
    "name_kana",
    "surname",
    "given_name",
    "surname_kana",
    "given_name_kana",
    "birth_date",
    "sex",
    "address",
    "relationship",
    "student_no",
    "school",
    "grade",
    "class",
)
_IDENTITY_ORDER = (
    "resident_no",
    "child_resident_no",
    "name",
    "surname",
    "given_name",
    "name_kana",
    "surname_kana",
    "given_name_kana",
    "child_name",
    "child_name_kana",
    "birth_date",
    "child_birth_date",
)
_MY_NUMBER = {
    header_key(h)
    for h in (
        "個人番号",
        "マイナンバー",
        "my number",
        "mynumber",
        "個人番号(マイナンバー)",
        "マイナンバー(個人番号)",
        "個人番号カード番号",
    )
}
_SCHOOL_IN_TITLE = re.compile(
    r"([^\s　「」『』（）()]{1,20}?(?:義務教育学校|特別支援学校|小学校|中学校|高等学校|学園))"
)


@dataclass
class ParseResult:
    records: list[dict]  # one per valid row (see module doc for keys)
    rejections: list[dict]  # {"row", "column", "message", "raw"}, by row then column
    mapping: dict[str, str]  # the effective mapping: header → field
    unmapped: list[str]  # headers kept as raw attributes (attributes["extra"])
    rows: int  # data rows read
    warnings: list[str] = field(default_factory=list)
    columns: dict[str, list] = field(default_factory=dict)  # the valid rows column-wise (same order as records)

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({e["row"] for e in self.rejections})

    @property
    def imported(self) -> int:
        return len(self.records) or len(self.columns.get("row_number", ()))

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    @property
    def errors(self) -> list[dict]:
        """The rejections in the CLI's shape (no raw row)."""
        return [{"row": e["row"], "column": e["column"], "message": e["message"]} for e in self.rejections]


# --- category values ---------------------------------------------------------------------------------------------------
_MONTHS = re.compile(r"(?<=\d)[ヶケカヵ箇ｹｶ](?=月)")


def _cat_key(s: str) -> str:
    t = unicodedata.normalize("NFKC", s).replace("〜", "~").replace("～", "~")
    t = re.sub(r"[\s\u3000・]+", "", t)
    return _MONTHS.sub("か", t).lower()


_CAT_CACHE: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {}


def _cat_tables(spec: FieldSpec):
    key = spec.name + "|" + "|".join(spec.values)
    if key not in _CAT_CACHE:
        exact = {_cat_key(v): v for v in spec.values}
        exact.update({_cat_key(a): v for a, v in spec.aliases})
        subs = sorted(((k, v) for k, v in exact.items() if len(k) >= 2), key=lambda kv: -len(kv[0]))
        _CAT_CACHE[key] = (exact, subs)
    return _CAT_CACHE[key]


def normalise_category(spec: FieldSpec, text) -> str | None:
    """The canonical value of a category cell (``4ヶ月児健診`` → ``4か月``); unknown values are kept as written
    (NFKC, trimmed) rather than rejected; blank → None."""
    if V.is_missing(text):
        return None
    raw = V.to_text(text)
    exact, subs = _cat_tables(spec)
    k = _cat_key(raw)
    if k in exact:
        return exact[k]
    for a, v in subs:
        if a in k:
            return v
    return unicodedata.normalize("NFKC", raw).strip() or None


# --- per-type cell parsers (all return ParsedValue) ------------------------------------------------------------------
def _p_date(x):
    p = V.parse_date(x)
    return V.ParsedValue(p.value.isoformat()) if p.value is not None else p


def _p_month_date(x):
    p = V.parse_date(x, month_ok=True)
    return V.ParsedValue(p.value.isoformat()) if p.value is not None else p


def _p_grade(x):
    p = V.parse_code(x)
    if p.value is None:
        return p
    return V.ParsedValue(re.sub(r"(?:年生|年)$", "", p.value) or p.value)


def _p_class(x):
    p = V.parse_code(x)
    if p.value is None:
        return p
    return V.ParsedValue(re.sub(r"組$", "", p.value) or p.value)


def _p_strip(x):
    p = V.parse_text(x)
    return V.ParsedValue(p.value.strip()) if p.value is not None else p


_PARSERS = {
    "date": _p_date,
    "sex": V.parse_sex,
    "int": V.parse_int,
    "number": V.parse_number,
    "flag": V.parse_flag,
    "code": V.parse_code,
    "year": V.parse_year,
    "grade": _p_grade,
    "class": _p_class,
    "text": _p_strip,
}
_LABELS = {"date": "日付", "sex": "性別", "int": "整数", "number": "数値", "flag": "有/無", "year": "年度"}


def _spec(source_type: str, name: str) -> FieldSpec:
    spec = field_spec(source_type, name)
    if spec is None:  # a mapping holds only the fields of its source type
        raise KeyError(f"{source_type}: {name}")
    return spec


def _parse_column(col: np.ndarray, spec: FieldSpec) -> tuple[np.ndarray, np.ndarray | None, list[str | None]]:
    """(values, error codes or None, error messages by code) for one column, parsing each distinct value once."""
    n = len(col)
    if spec.type == "name":
        blank = (col == "") | _isspace(col)
        vals = col.copy()
        vals[blank] = None
        return vals, None, []
    if spec.type == "code" and n:
        plain = _ISASCII(col).astype(bool) & _ISALNUM(col).astype(bool)
        # the usual 宛名番号 column: nothing to normalise, nothing can be blank (but "NA", "null" … are blanks, as
        # parse_code reads them: the fast path gives what parse_code gives, in any chunk of the rows)
        if plain.all() and _WORD_BLANKS.isdisjoint(v.lower() for v in set(col) if len(v) <= 4):
            return col.copy(), None, []
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    uniq = np.asarray(uniques, dtype=object)
    if spec.type == "category":
        parsed = [V.ParsedValue(normalise_category(spec, u)) for u in uniq]
    else:
        fn = _PARSERS[spec.type]
        if spec.type == "date" and not spec.name.endswith("birth_date"):
            fn = _p_month_date  # 支給開始月 "R5.4": the first of the month; a birth date needs its day
        parsed = [fn(u) for u in uniq]
    uvals = np.empty(len(parsed), dtype=object)
    uvals[:] = [p.value for p in parsed]
    msgs = [p.error for p in parsed]
    vals = uvals[codes] if n else np.empty(0, dtype=object)
    if any(m is not None for m in msgs):
        return vals, codes, msgs
    return vals, None, msgs


_ISSPACE = np.frompyfunc(str.isspace, 1, 1)
_ISASCII = np.frompyfunc(str.isascii, 1, 1)
_ISALNUM = np.frompyfunc(str.isalnum, 1, 1)
_WORD_BLANKS = frozenset(b for b in V._BLANK if b.isascii() and b.isalnum())  # na, nan, nat, none, null


def _isspace(col: np.ndarray) -> np.ndarray:
    return _ISSPACE(col).astype(bool) if len(col) else np.zeros(0, dtype=bool)


def _as_of_date(as_of) -> dt.date:
    if as_of is None or as_of == "":
        return dt.date.today()
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    p = V.parse_date(as_of)
    if p.value is None:
        raise ImportRefused(f"基準日（--as-of）「{as_of}」を日付として読めません。")
    return p.value


# --- the parse -------------------------------------------------------------------------------------------------------
@dataclass
class ParsePlan:
    """What :func:`plan_rows` settles once per file (the mapping checked, required columns, constant school, columns
    kept): :func:`parse_chunk` then parses any run of the table's rows under it, chunk by chunk."""

    st: SourceType
    source_type: str
    as_of_iso: str
    headers: list[str]
    pos: dict[str, int]
    mapping: dict[str, str]
    constant: dict[str, str]
    warnings: list[str]
    raw_cols: list[str]
    raw_idx: list[int]
    unmapped: list[str]
    unmapped_pos: list[int]


def plan_rows(table: Table, source_type: str, mapping: dict, as_of=None) -> ParsePlan:
    """Check ``mapping`` against ``table`` (header → field; fields ''/None leave a column unmapped) and settle what
    every chunk of rows is parsed under. Raises ImportRefused for an unusable mapping or a missing required column."""
    st = SOURCES.get(source_type)
    if st is None:
        raise ImportRefused(f"取込元の種類「{source_type}」はありません（{', '.join(SOURCES)}）。")
    as_of_d = _as_of_date(as_of)
    headers = list(table.headers)
    unknown = [h for h in mapping if h not in headers]
    if unknown:
        raise ImportRefused(f"対応づけの列「{unknown[0]}」はファイルにありません（列: {'、'.join(headers[:30])}）。")
    mapping = check_mapping(source_type, mapping)
    warnings: list[str] = []
    pos = {h: i for i, h in enumerate(headers)}

    fields_present = set(mapping.values())
    constant: dict[str, str] = {}
    if "school" not in fields_present and any("school" in g for g in st.required):
        found = next(
            (m.group(1) for t in [*table.title, table.sheet or ""] for m in [_SCHOOL_IN_TITLE.search(t)] if m), None
        )
        if found:
            constant["school"] = found
            fields_present.add("school")
            warnings.append(f"学校名の列がないため、ファイルの見出し（「{found}」）を学校名として使いました。")
    group = missing_required(source_type, fields_present)
    if group is not None:
        label = required_label(source_type, group)
        raise ImportRefused(
            f"必須の列「{label}」が見つかりません（{st.label}）。列名を確かめるか、"
            f"--map 列名={group[0]} で指定してください。"
        )

    my_number = [h for h in headers if header_key(h) in _MY_NUMBER or "マイナンバー" in header_key(h)]
    for h in my_number:
        warnings.append(f"個人番号（マイナンバー）の列「{h}」は取り込みません。")
    mapping = {h: f for h, f in mapping.items() if h not in my_number}
    raw_cols = [h for h in headers if h not in my_number]
    unmapped = [h for h in raw_cols if h not in mapping]
    return ParsePlan(
        st=st,
        source_type=source_type,
        as_of_iso=as_of_d.isoformat(),
        headers=headers,
        pos=pos,
        mapping=mapping,
        constant=constant,
        warnings=warnings,
        raw_cols=raw_cols,
        raw_idx=[pos[h] for h in raw_cols],
        unmapped=unmapped,
        unmapped_pos=[pos[h] for h in unmapped],
    )


def parse_rows(table: Table, source_type: str, mapping: dict, as_of=None, *, records: bool = True) -> ParseResult:
    """Parse every data row of ``table`` as ``source_type`` under ``mapping`` (header → field; fields ''/None
    leave a column unmapped). Raises ImportRefused for an unusable mapping or a missing required column.

    ``columns`` holds the valid rows column-wise, with ``attributes`` and ``raw`` (one dict per row);
    ``records=False`` skips the per-row record dicts (``records`` is then empty) — the importer writes rows
    straight from the columns (and parses a large file chunk by chunk: :func:`plan_rows`, :func:`parse_chunk`)."""
    plan = plan_rows(table, source_type, mapping, as_of)
    res = parse_chunk(plan, table.data_frame(), table.row_numbers, records=records)
    res.warnings = plan.warnings + list(table.warnings)
    return res


def parse_chunk(plan: ParsePlan, frame: pd.DataFrame, rownums, *, records: bool = False) -> ParseResult:
    """Parse the rows of ``frame`` (a run of the table's rows; ``rownums`` their row numbers as the user sees them)
    under ``plan``. Row by row the result is the same whichever chunks the rows are parsed in: each cell's value and
    rejection depend on the cell and its row alone. ``warnings`` holds only the plan's."""
    st, source_type, as_of_iso, headers, pos = plan.st, plan.source_type, plan.as_of_iso, plan.headers, plan.pos
    mapping = plan.mapping
    n = len(frame)

    # --- parse each mapped column ---
    out: dict[str, np.ndarray] = {}
    bad = np.zeros(n, dtype=bool)
    errs: list[tuple[int, int, str]] = []  # (row index, column position, message)
    for h, f in mapping.items():
        spec = _spec(source_type, f)
        col = frame.iloc[:, pos[h]].to_numpy(dtype=object)
        vals, codes, msgs = _parse_column(col, spec)
        if codes is not None:
            has_err = np.array([m is not None for m in msgs], dtype=bool)[codes]
            for i in np.nonzero(has_err)[0]:
                errs.append((int(i), pos[h], msgs[codes[i]]))
            bad |= has_err
        if f in ("birth_date", "child_birth_date"):
            later = np.array([v is not None and v > as_of_iso for v in vals], dtype=bool) if n else np.zeros(0, bool)
            for i in np.nonzero(later)[0]:
                errs.append((int(i), pos[h], f"{spec.label} {vals[i]} は基準日（{as_of_iso}）より後の日付です"))
            bad |= later
        out[f] = vals
    for f, v in plan.constant.items():
        arr = np.empty(n, dtype=object)
        arr[:] = v
        out[f] = arr

    # split names → whole name when the file has only 姓・名
    for whole, sur, giv in (("name", "surname", "given_name"), ("name_kana", "surname_kana", "given_name_kana")):
        if whole not in out and (sur in out or giv in out):
            a, b = out.get(sur), out.get(giv)
            out[whole] = (
                np.array(
                    [_join(a[i] if a is not None else None, b[i] if b is not None else None) for i in range(n)],
                    dtype=object,
                )
                if n
                else np.empty(0, dtype=object)
            )

    # --- rows with no identity at all ---
    wanted = {f for g in st.required for f in g if f != "school"} | set(st.sufficient)
    ident_fields = [f for f in _IDENTITY_ORDER if f in wanted and f in out]
    has_ident = np.zeros(n, dtype=bool)
    for f in ident_fields:
        has_ident |= np.array([v is not None for v in out[f]], dtype=bool) if n else np.zeros(0, bool)
    no_ident = ~has_ident & ~bad
    if no_ident.any():
        labels = "・".join(dict.fromkeys(_spec(source_type, f).label for f in ident_fields))
        first_col = next((pos[h] for h, f in mapping.items() if f in ident_fields), 0)
        for i in np.nonzero(no_ident)[0]:
            errs.append((int(i), first_col, f"{labels} がいずれも空です"))
        bad |= no_ident

    # --- raw rows, extra columns ---
    raw_cols, raw_idx, unmapped = plan.raw_cols, plan.raw_idx, plan.unmapped
    frame_vals = frame.to_numpy(dtype=object)
    if len(raw_idx) != len(headers):
        frame_vals = frame_vals[:, raw_idx]

    rejections = []
    if errs:
        errs.sort(key=lambda e: (e[0], e[1]))
        for row_i, c, msg in errs:
            rejections.append(
                {
                    "row": int(rownums[row_i]),
                    "column": headers[c],
                    "message": msg,
                    "raw": dict(zip(raw_cols, frame_vals[row_i].tolist())),
                }
            )

    good = np.nonzero(~bad)[0]
    columns: dict[str, list] = {}
    with _no_gc():  # 100,000 small dicts: the cyclic collector would otherwise rescan them again and again
        recs = _build_records(
            st,
            out,
            good,
            frame_vals,
            raw_cols,
            unmapped,
            plan.unmapped_pos,
            raw_idx,
            rownums,
            as_of_iso,
            columns,
            want_records=records,
        )
    return ParseResult(
        records=recs,
        rejections=rejections,
        mapping=mapping,
        unmapped=unmapped,
        rows=n,
        warnings=list(plan.warnings),
        columns=columns,
    )


@contextlib.contextmanager
def _no_gc():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _join(a, b):
    parts = [p.strip() for p in (a, b) if p is not None and p.strip()]
    return "　".join(parts) if parts else None


def _build_records(
    st,
    out,
    good,
    frame_vals,
    raw_cols,
    unmapped,
    unmapped_pos,
    raw_idx,
    rownums,
    as_of_iso,
    columns: dict,
    want_records: bool = True,
):
    m = len(good)
    if m == 0:
        return []
    none = np.full(m, None, dtype=object)

    def col(f):
        v = out.get(f)
        return v[good] if v is not None else none

    ident = {k: col(k) for k in _IDENTITY_KEYS}
    subject = np.full(m, "self", dtype=object)
    recipient = None
    child_fields = [f"child_{b}" for b in CHILD_BASE if f"child_{b}" in out]
    if st.child_forms and child_fields:
        is_child = np.zeros(m, dtype=bool)
        for f in child_fields:
            is_child |= np.array([v is not None for v in col(f)], dtype=bool)
        if is_child.any():
            subject[is_child] = "child"
            rec_keys = [k for k in ("resident_no", "name", "name_kana", "birth_date", "sex") if k in out]
            rec_cols = [ident[k].copy() for k in rec_keys]
            recipient = np.full(m, None, dtype=object)
            for i in np.nonzero(is_child)[0]:
                d = {k: c[i] for k, c in zip(rec_keys, rec_cols) if c[i] is not None}
                recipient[i] = d or None
            for b in ("resident_no", "name", "name_kana", "birth_date", "sex"):
                child = col(f"child_{b}")
                target = ident[b].copy()
                target[is_child] = child[is_child]
                ident[b] = target
            for k in ("surname", "given_name", "surname_kana", "given_name_kana"):
                target = ident[k].copy()
                target[is_child] = None
                ident[k] = target

    # source key: the department's own key, else 宛名番号 as written (the recipient's for a child row), else 学籍番号
    key = col("source_key").copy()
    fallback = out.get("resident_no")
    fallback = fallback[good] if fallback is not None else none
    student = ident["student_no"]
    for i in np.nonzero(np.array([k is None for k in key], dtype=bool))[0]:
        key[i] = fallback[i] if fallback[i] is not None else student[i]

    rd_field = st.record_date
    if rd_field and rd_field in out:
        record_date = np.array([d if d is not None else as_of_iso for d in col(rd_field)], dtype=object)
    else:
        record_date = np.full(m, as_of_iso, dtype=object)

    attr_names = [a.name for a in st.attributes if a.name in out]
    attr_lists = [col(a).tolist() for a in attr_names]
    raw_rows = frame_vals[good].tolist()
    unmapped_local = [(unmapped[t], raw_idx.index(p)) for t, p in enumerate(unmapped_pos)]
    keys = list(_IDENTITY_KEYS) + ["row_number", "subject", "source_key", "record_date"]
    lists = [ident[k].tolist() for k in _IDENTITY_KEYS] + [
        np.asarray(rownums, dtype=object)[good].tolist(),
        subject.tolist(),
        key.tolist(),
        record_date.tolist(),
    ]
    recip = recipient.tolist() if recipient is not None else None
    columns.update(zip(keys, lists))

    attr_rows = zip(*attr_lists) if attr_lists else iter(lambda: (), None)
    attributes, raws = [], []  # one dict of attributes and one of raw cells per valid row
    extra_heads = [h for h, _ in unmapped_local]
    pick = operator.itemgetter(*[p for _, p in unmapped_local]) if len(unmapped_local) > 1 else None
    for j, (row, av) in enumerate(zip(raw_rows, attr_rows)):
        attrs = {a: v for a, v in zip(attr_names, av) if v is not None}
        if unmapped_local:
            # a wide file's hundreds of unmapped cells per row: picked at C speed, kept when not blank
            cells = pick(row) if pick is not None else (row[unmapped_local[0][1]],)
            extra = {h: v for h, v in zip(extra_heads, cells) if v and not v.isspace()}
            if extra:
                attrs["extra"] = extra
        if recip is not None and recip[j] is not None:
            attrs["recipient"] = recip[j]
        attributes.append(attrs)
        raws.append(dict(zip(raw_cols, row)))
    columns["attributes"], columns["raw"] = attributes, raws
    if not want_records:  # the importer writes straight from the columns
        return []
    records: list[dict[str, object]] = []
    append = records.append
    for vals, attrs, raw in zip(zip(*lists), attributes, raws):
        rec = dict(zip(keys, vals))
        rec["attributes"] = attrs
        rec["raw"] = raw
        append(rec)
    return records
