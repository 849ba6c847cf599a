"""Import one department file as one batch: all valid rows or nothing.

File → ``read_table`` (encoding, delimiter, title rows, header row) → ``detect_mapping`` (+ the user's overrides)
→ ``parse_rows`` (dates, 和暦, sex codes; each bad cell becomes a rejection with the row number as the user sees
it) → normalised identity fields for matching → one transaction: the batch, its records, its rejected rows,
supersession of the previous extract of the same source, the remembered mapping profile, the access-log entry.
A killed process leaves no partial batch: SQLite's journal rolls the transaction back on the next open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, text, update

from ..errors import Cancelled as Cancelled  # re-exported: importing.service.Cancelled
from ..errors import InputRefused
from ..policy import ensure_defaults, sources_without_basis
from ..services import service
from ..storage.db import rowcount
from ..storage.models import MappingProfile, RejectedRow, Setting, SourceBatch
from . import fields as F
from . import guards as G
from .result import ImportResult as ImportResult  # re-exported: callers import it from here
from .values import parse_date
from .values import to_date as _date

if TYPE_CHECKING:
    from ..workspace import Workspace

IDENTITY_COLUMNS = [
    "resident_no",
    "household_no",
    "name",
    "name_kana",
    "birth_date",
    "sex",
    "address",
    "relationship",
    "student_no",
    "school",
    "grade",
    "class",
]
SCHOOL_SCOPED = {"school_attendance", "school_health", "school_checklist"}


def header_signature(source_type: str, headers: list[str]) -> str:
    return hashlib.sha256(json.dumps([source_type, headers], ensure_ascii=False).encode()).hexdigest()


def _parse_as_of(as_of) -> dt.date:
    if as_of is None or as_of == "":
        return dt.date.today()
    if isinstance(as_of, dt.date):
        return as_of

    v = parse_date(str(as_of))
    if getattr(v, "error", None) or getattr(v, "value", None) is None:
        raise InputRefused(f"--as-of の日付 {as_of} を読めません。")
    val = v.value
    return val if isinstance(val, dt.date) else dt.date.fromisoformat(str(val))


@service("import", what="import preview")
def preview(
    ws: Workspace,
    path: Path,
    source_type: str | None = None,
    *,
    sheet=None,
    encoding=None,
    header_row=None,
    mapping: dict | None = None,
    max_rows: int = 20,
    file_password: str | None = None,
) -> dict:
    """What the wizard shows before importing: suggested source type, mapping, first rows, remembered profile."""
    from .readers import read_table  # pandas/openpyxl: only when a file is read (batches list stays light)

    table = read_table(path, sheet=sheet, encoding=encoding, header_row=header_row, password=file_password)
    suggestions = F.suggest_source_type(table.headers)
    st = source_type or (suggestions[0] if suggestions else None)
    remembered = None
    if st:
        with ws.session() as s:
            prof = s.scalar(
                select(MappingProfile).where(
                    MappingProfile.source_type == st,
                    MappingProfile.header_signature == header_signature(st, table.headers),
                )
            )
            remembered = dict(prof.mapping) if prof else None
    auto = F.detect_mapping(st, table.headers) if st else {}
    m = F.merge_mapping(auto, remembered or {}, mapping or {})
    return {
        "table": table,
        "source_type": st,
        "suggestions": suggestions,
        "mapping": m,
        "remembered": remembered,
        "rows": table.rows[:max_rows],
    }


def _user_mapping_conflicts(source_type: str, mapping: dict | None) -> None:
    """Two columns the user mapped to one field would silently drop one of them: refuse instead."""
    seen: dict[str, str] = {}
    for h, f in (mapping or {}).items():
        f = F._clean_field(f)
        if not f:
            continue
        if f in seen:
            spec = F.field_spec(source_type, f)
            label = f"{spec.label}（{f}）" if spec else f
            raise InputRefused(
                f"項目「{label}」に2つの列（「{seen[f]}」と「{h}」）が指定されています。"
                "1つの項目には1つの列だけを対応づけてください（--map を確かめてください）。"
            )
        seen[f] = str(h)


def _same_mapping(a, b) -> bool:
    if isinstance(a, str):
        try:
            a = json.loads(a)
        except ValueError:
            return False
    return dict(a or {}) == dict(b or {})


def _duplicate_batch(s, sha256: str, source_type: str, mapping: dict, exclude: int | None = None) -> int | None:
    """A current batch of the same file read with the same mapping (a file imported with a wrong mapping can be
    removed and imported again with the right one, or imported again under another mapping)."""
    for bid, m in s.execute(
        select(SourceBatch.id, SourceBatch.mapping).where(
            SourceBatch.file_hash == sha256,
            SourceBatch.source_type == source_type,
            SourceBatch.removed_at.is_(None),
            SourceBatch.id != (exclude or -1),
        )
    ).all():
        if _same_mapping(m, mapping):
            return bid
    return None


class _Duplicate(Exception):
    def __init__(self, batch_id: int):
        self.batch_id = batch_id


class _Unreadable(Exception):
    """No row of the file can be imported (raised inside the transaction, logged once it is rolled back)."""

    def __init__(self, message: str):
        self.message = message


#: rows parsed, checked and inserted at a time: what an import holds is about one chunk's rows (each with its raw
#: cells and attributes as Python objects), whatever the size of the file
CHUNK_ROWS = 5_000


def import_file(
    ws: Workspace,
    path: Path,
    source_type: str,
    *,
    mapping: dict | None = None,
    sheet=None,
    encoding=None,
    header_row: int | None = None,
    as_of=None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    use_profile: bool = True,
    file_password: str | None = None,
    force: bool = False,
    memo: dict | None = None,
) -> ImportResult:
    """Import one file as one batch. Before it commits a batch that would replace the current extract of its source,
    the guards (``guards.py``) compare the two; an implausible extract is refused (:class:`guards.ReplaceRefused`,
    nothing changed) unless ``force``. A registry row whose 宛名番号 repeats is rejected by row, never merged.

    ``memo``: a dict the caller keeps across the files of one run (``import_manifest``): the current registry's
    keys and names are read once per state of the registry, not once per file."""
    path = Path(path)
    if source_type not in F.SOURCE_TYPES:
        raise InputRefused(f"取込元の種類 {source_type} はありません（{', '.join(F.SOURCE_TYPES)}）。")
    if source_type == "school_checklist":
        from .checklist_answers import import_checklist_workbook  # lazy: openpyxl and pandas, only for checklists

        return import_checklist_workbook(  # matched by row key, never by name
            ws, path, progress=progress, password=file_password
        )
    ws.require("import", what=f"import {source_type}")
    as_of_date = _parse_as_of(as_of)
    try:
        _user_mapping_conflicts(source_type, mapping)
        from .readers import read_table  # lazy: pandas/openpyxl, only when a file is read

        table = read_table(
            path,
            sheet=sheet,
            encoding=encoding,
            header_row=header_row,
            header_hints=list(mapping or {}) or None,
            password=file_password,
        )
    except InputRefused as e:
        ws.log("import_refused", detail={"source_type": source_type, "reason": e.message_ja[:200]})
        raise

    sig = header_signature(source_type, table.headers)
    detected = F.detect_mapping(source_type, table.headers)
    remembered = {}
    if use_profile and not mapping:
        with ws.session() as s:
            prof = s.scalar(
                select(MappingProfile).where(
                    MappingProfile.source_type == source_type, MappingProfile.header_signature == sig
                )
            )
            remembered = dict(prof.mapping) if prof else {}
    final_mapping = F.merge_mapping(detected, remembered, mapping or {})
    unknown = [h for h in (mapping or {}) if h not in table.headers]
    if unknown:
        raise InputRefused(f"--map の列「{unknown[0]}」はファイルにありません。")
    with ws.session() as s:
        dup = _duplicate_batch(s, table.sha256, source_type, final_mapping)
    if dup is not None:
        ws.log("import_refused", detail={"source_type": source_type, "duplicate_of": dup})
        return ImportResult(None, len(table), 0, 0, [], duplicate_of=dup)
    from .parse import parse_chunk, plan_rows  # lazy: loads pandas; `batches list` and the CLI's start stay light

    try:
        plan = plan_rows(table, source_type, final_mapping, as_of_date)
    except InputRefused as e:
        ws.log("import_refused", detail={"source_type": source_type, "reason": e.message_ja[:200]})
        raise
    rows_total = len(table)  # (len(table.rows) copied the whole frame into an array to count it)
    warnings = list(dict.fromkeys([*plan.warnings, *table.warnings]))
    label = F.SOURCES[source_type].label
    registry = source_type == "resident_registry"
    if cancel and cancel():
        raise Cancelled("取込を中止しました。データベースは変更されていません。")

    # Chunk by chunk (CHUNK_ROWS rows): parse, check and insert, all inside the one transaction below, so that what
    # is held at a time is one chunk's parsed rows, not the file's. What the checks need of the whole file is kept
    # small beside it: one person key per valid row (the guards), each 宛名番号's row numbers (a registry's
    # duplicates), the schools named, the rejections. The guards and the duplicate check run once every chunk is
    # in; a refusal then rolls the whole batch back (nothing written), as it did when they ran before the insert.
    rejections: list[dict] = []
    keys: list = []
    valid_rows: list[int] = []  # the registry's: the row number of each key
    by_key: dict[str, list[int]] = {}  # the registry's: 宛名番号 (as compared) → row numbers
    schools: set = set()
    n_valid = 0
    # a file of one chunk says how far it got once it has passed the checks (a refused one shows no progress,
    # as before); a longer file reports each chunk as it goes in
    live = progress if rows_total > CHUNK_ROWS else None
    try:
        with ws.session() as s:
            batch = SourceBatch(
                source_type=source_type,
                file_name=path.name,
                file_hash=table.sha256,
                sheet=getattr(table, "sheet", None),
                encoding=getattr(table, "encoding", None),
                header_row=getattr(table, "header_row", None),
                as_of=as_of_date,
                imported_by=ws.user.name,
                rows_total=rows_total,
                rows_imported=0,
                rows_rejected=0,
                mapping=final_mapping,
                scope=None,
            )
            s.add(batch)
            s.flush()  # the write lock is ours from here: a second process importing the same file waits
            again = _duplicate_batch(s, table.sha256, source_type, final_mapping, exclude=batch.id)
            if again is not None:
                raise _Duplicate(again)
            state = _registry_state(s, batch.id) if memo is not None else None
            if state is not None and memo is not None and memo.get("state") == state:
                registry_keys = memo["keys"]
            else:
                registry_keys = G.current_registry_keys(s, exclude_batch=batch.id)
                if memo is not None:
                    memo.clear()
                    memo.update(state=state, keys=registry_keys)
            links = None if registry else _Links(registry_keys, memo)
            norm_memo: dict = {}
            j = 0
            for chunk, numbers in table.chunks(CHUNK_ROWS):  # a large CSV is read again from its file, chunk by chunk
                i, j = j, j + len(numbers)
                part = parse_chunk(plan, chunk, numbers)
                cols, m = part.columns, part.imported
                rejections += part.rejections
                chunk_keys = G.person_keys(cols, m)
                keys += chunk_keys
                if registry and m:
                    for k, r in zip(cols.get("resident_no") or [None] * m, cols["row_number"]):
                        valid_rows.append(int(r))
                        k = G.resident_key(k)
                        if k:
                            by_key.setdefault(k, []).append(int(r))
                if source_type in SCHOOL_SCOPED:
                    schools.update(v for v in cols.get("school", ()) if v)
                if links is not None and m:
                    links.see(s, chunk_keys, cols, m)
                _insert_records(
                    s,
                    batch.id,
                    source_type,
                    cols,
                    m,
                    as_of_date,
                    live,
                    cancel,
                    memo=norm_memo,
                    done=i,
                    total=rows_total,
                )
                n_valid += m
                del part, cols, chunk
                if live:
                    live(j, rows_total)

            findings = G.Findings()
            dups = {k: v for k, v in by_key.items() if len(v) > 1}
            if dups:
                # one 宛名番号, one person: rows that share one are rejected by row (both of them), never merged
                findings.add(G.duplicates_sentence(dups))
                findings.figures["duplicate_keys"] = sorted(dups.values())
                rejections += _drop_duplicates(s, batch.id, dups, final_mapping)
                drop = {r for rows in dups.values() for r in rows}
                keys = [k for k, r in zip(keys, valid_rows) if r not in drop]
                n_valid -= len(drop)
                rejections.sort(key=lambda e: (e["row"], e.get("column") or ""))
            del by_key, valid_rows
            # nothing readable: a registry like that would empty the town (and a larger file is surely the wrong one)
            if n_valid == 0 and (registry and rows_total or rows_total >= 10):
                first = rejections[0] if rejections else None
                why = f"（例: {first['row']} 行目「{first.get('column') or ''}」: {first['message']}）" if first else ""
                raise _Unreadable(
                    f"「{path.name}」の {rows_total:,} 行はどれも取り込めません{why}。"
                    f"{label}の列の対応づけ・日付の形式を確かめてください。データベースは変更されていません。"
                )
            G.check_fit(source_type, table.headers, final_mapping, findings)
            if cancel and cancel():
                raise Cancelled("取込を中止しました。データベースは変更されていません。")

            scope = next(iter(schools)) if len(schools) == 1 else None
            errors = [{"row": e["row"], "column": e.get("column") or "", "message": e["message"]} for e in rejections]
            n_rejected = len({e["row"] for e in errors})
            batch.rows_imported, batch.rows_rejected, batch.scope = n_valid, n_rejected, scope
            # A newer extract of the same source (and scope) becomes current; the older stays in history.
            older = (
                s.scalars(
                    select(SourceBatch.id).where(
                        SourceBatch.source_type == source_type,
                        SourceBatch.id != batch.id,
                        SourceBatch.removed_at.is_(None),
                        SourceBatch.superseded_by.is_(None),
                        (SourceBatch.scope == scope) if scope is not None else SourceBatch.scope.is_(None),
                        SourceBatch.as_of <= as_of_date,
                    )
                ).all()
                if _supersedes(source_type)
                else []
            )
            prev = G.baseline(s, source_type, scope, list(older), final_mapping, exclude=batch.id) if older else None
            G.check_replacement(
                s,
                source_type=source_type,
                prev=prev,
                rows_total=rows_total,
                imported=n_valid,
                rejected=n_rejected,
                keys=keys,
                registry_keys=registry_keys,
                findings=findings,
            )
            if findings.items and not force:
                raise findings.refuse(path.name, label, prev)
            if findings.items:
                warnings += [f"確認のうえ取り込みました: {f}" for f in findings.items]
            if rejections:
                s.execute(
                    insert(RejectedRow),
                    [
                        {
                            "batch_id": batch.id,
                            "row_number": e["row"],
                            "column": e.get("column"),
                            "message": e["message"],
                            "raw": e.get("raw"),
                        }
                        for e in rejections
                    ],
                )
            if older:
                s.execute(update(SourceBatch).where(SourceBatch.id.in_(older)).values(superseded_by=batch.id))
            prof = s.scalar(
                select(MappingProfile).where(
                    MappingProfile.source_type == source_type, MappingProfile.header_signature == sig
                )
            )
            # The profile also remembers the columns the user deliberately left unmapped ("-"), so next month's file
            # does not map them again by auto-detection.
            remember = dict(final_mapping)
            remember.update(
                {
                    h: "-"
                    for h, f in {**remembered, **(mapping or {})}.items()
                    if h not in final_mapping and F._clean_field(f) is None
                }
            )
            if prof is None:
                s.add(
                    MappingProfile(
                        source_type=source_type,
                        header_signature=sig,
                        mapping=remember,
                        options={"sheet": sheet, "encoding": encoding, "header_row": header_row},
                    )
                )
            else:
                prof.mapping, prof.used_at = remember, dt.datetime.now().replace(microsecond=0)
            ws.log(
                "import",
                detail={
                    "batch_id": batch.id,
                    "source_type": source_type,
                    "rows": rows_total,
                    "imported": n_valid,
                    "rejected": batch.rows_rejected,
                    **({"forced": findings.items} if findings.items else {}),
                    **({"formula_cells": table.formula_cells} if getattr(table, "formula_cells", 0) else {}),
                },
                conn=s,
            )
            batch_id = batch.id
            if links is not None and n_valid and links.nobody():
                warnings.append(
                    f"このファイルの {n_valid:,} 行は、宛名番号でも氏名と生年月日でも現在の住民の誰とも一致しません。"
                    "名寄せしても誰にもつながらない見込みです。取込元の種類・ファイル・基準日を確かめてください"
                    "（取り消すには 取込履歴 から、または batches remove）。"
                )
            if progress and not live:
                progress(rows_total, rows_total)
            ensure_defaults(s)
            if source_type in sources_without_basis(s):
                warnings.append(f"取込元「{source_type}」の利用目的・根拠が未設定です。設定画面で登録してください。")
    except _Unreadable as e:
        ws.log("import_refused", detail={"source_type": source_type, "reason": "どの行も取り込めない"})
        raise InputRefused(e.message) from None
    except _Duplicate as d:
        ws.log("import_refused", detail={"source_type": source_type, "duplicate_of": d.batch_id})
        return ImportResult(None, rows_total, 0, 0, [], duplicate_of=d.batch_id)
    except G.ReplaceRefused as e:
        ws.log("import_refused", detail={"source_type": source_type, "guard": e.findings})
        raise
    return ImportResult(
        batch_id,
        rows_total,
        n_valid,
        n_rejected,
        errors,
        superseded=list(older),
        mapping=final_mapping,
        warnings=warnings,
        unmapped=[h for h in table.headers if h not in final_mapping],
        checks=findings.figures,
    )


def _registry_state(s, batch_id: int) -> tuple:
    """What the current registry's keys and names depend on, cheaply: its current batches (this one left out), and
    the persons (count, and how many are in the registry)."""
    ids = tuple(
        i
        for (i,) in s.execute(
            text(
                "SELECT id FROM source_batch WHERE source_type = 'resident_registry' AND removed_at IS NULL "
                "AND superseded_by IS NULL AND id != :x ORDER BY id"
            ),
            {"x": batch_id},
        )
    )
    return ids, tuple(s.execute(text("SELECT count(*), total(in_registry) FROM person")).one())


class _Links:
    """Does any row of a file name a current resident (by 宛名番号, or by name and birth date)? Asked chunk by chunk
    (:meth:`see`); :meth:`nobody` is true when a registry was there to link to and no row of the file named anyone."""

    def __init__(self, registry_keys: set[str], memo: dict | None):
        self.registry_keys, self.memo = registry_keys, memo
        self.found = False
        self.anyone: bool | None = None

    def see(self, s, keys: list, cols: dict, n: int) -> None:
        if self.found or not n:
            return
        if self.anyone is None:
            self.anyone = self._anyone(s)
        if not self.anyone and not self.registry_keys:
            return  # nothing to link to yet (no registry imported)
        from ..text.normalize import norm_kana, norm_name  # lazy: loads jaconv, yosina, only needed here

        registry_keys = self.registry_keys
        names = None
        names_col = cols.get("name") or [None] * n
        kanas = cols.get("name_kana") or [None] * n
        bds = cols.get("birth_date") or [None] * n
        for k, nm, kn, bd in zip(keys, names_col, kanas, bds):
            if k[0] == "r" and k[1] in registry_keys:
                self.found = True
                return
            d = str(bd)[:10] if bd else None
            if d and (nm or kn):
                # the registry's names are read only for a row its numbers did not find (most files: never)
                by_name, by_kana = names = names or self._names(s)
                if (nm and (norm_name(nm), d) in by_name) or (kn and (norm_kana(kn), d) in by_kana):
                    self.found = True
                    return

    _PEOPLE = (
        "SELECT name_norm, kana_norm, birth_date FROM person WHERE in_registry = 1 UNION ALL "
        "SELECT r.name_norm, r.kana_norm, r.birth_date FROM source_record r "
        "JOIN source_batch b ON b.id = r.batch_id "
        "WHERE r.source_type = 'resident_registry' AND b.removed_at IS NULL AND b.superseded_by IS NULL"
    )

    def _anyone(self, s) -> bool:
        """Whether the registry has anyone (a person in it, or a row of a current extract)."""
        memo = self.memo
        if memo is not None and "names" in memo:
            return memo["names"][2]
        if memo is not None and "anyone" in memo:
            return memo["anyone"]
        anyone = s.execute(text(f"SELECT EXISTS ({self._PEOPLE})")).scalar()
        if memo is not None:
            memo["anyone"] = bool(anyone)
        return bool(anyone)

    def _names(self, s) -> tuple[set, set]:
        """(name, birth date) and (kana, birth date) of everyone in the registry."""
        memo = self.memo
        if memo is not None and "names" in memo:
            by_name, by_kana, _ = memo["names"]
            return by_name, by_kana
        people = s.execute(text(self._PEOPLE)).all()
        by_name = {(nn, str(bd)[:10]) for nn, _, bd in people if nn and bd}
        by_kana = {(kn, str(bd)[:10]) for _, kn, bd in people if kn and bd}
        if memo is not None:
            memo["names"] = (by_name, by_kana, bool(people))
        return by_name, by_kana

    def nobody(self) -> bool:
        return not self.found and self.anyone is not None and bool(self.anyone or self.registry_keys)


def _drop_duplicates(s, batch_id: int, dups: dict[str, list[int]], mapping: dict) -> list[dict]:
    """Take the rows that share a 宛名番号 out of the batch again (they went in with their chunk) and return their
    rejections — each row's own 宛名番号 and raw cells, read back from what was written."""
    rows = sorted(r for rs in dups.values() for r in rs)
    got: dict[int, tuple] = {}
    for i in range(0, len(rows), 500):
        part = rows[i : i + 500]
        marks = ", ".join(f":r{k}" for k in range(len(part)))
        params: dict[str, object] = {"b": batch_id, **{f"r{k}": r for k, r in enumerate(part)}}
        where = f"batch_id = :b AND row_number IN ({marks})"
        got.update(
            (int(r), (rno, raw))
            for r, rno, raw in s.execute(
                text(f"SELECT row_number, resident_no, raw FROM source_record WHERE {where}"), params
            )
        )
        s.execute(text(f"DELETE FROM source_record WHERE {where}"), params)
    column = next((h for h, f in mapping.items() if f == "resident_no"), "")
    out = []
    for same in dups.values():
        for r in same:
            rno, raw = got[r]
            others = "、".join(str(o) for o in same if o != r)
            out.append(
                {
                    "row": r,
                    "column": column,
                    "message": f"宛名番号 {rno} が {others} 行目と重複しています",
                    "raw": json.loads(raw) if isinstance(raw, str) else raw,
                }
            )
    return out


def _json_text_std(v, _enc=json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode) -> str:
    return _enc(v)


try:  # orjson writes the rows' JSON (raw cells, attributes) ~3× faster than the standard library
    import orjson as _orjson

    def _json_text(v) -> str:
        return _orjson.dumps(v, default=str).decode()
except ImportError:  # pragma: no cover - same text, slower
    _json_text = _json_text_std


def _insert_records(
    s,
    batch_id: int,
    source_type: str,
    cols: dict[str, list],
    n: int,
    as_of_date: dt.date,
    progress,
    cancel,
    *,
    memo: dict | None = None,
    done: int = 0,
    total: int | None = None,
) -> None:
    """Insert the parsed rows (``cols``: parse_chunk's columns) into ``source_record`` inside the session's
    transaction: a failure or キャンセル anywhere rolls the whole batch back. ``memo``: the normalised names of
    earlier chunks (kept by the caller across a file's chunks); ``progress(done + rows written, total)``.

    Why it looks like this (benchmarks/import_speed.py): the ORM's per-row bookkeeping cost three times the insert
    itself and per-row dicts another third, so rows are built chunk by chunk straight from the parsed columns, each
    distinct name normalised once, and go through executemany. Tried and measured no faster, on this 2-core machine:
    a writer thread calling executemany (it needs the GIL back for every row), and a writer thread inserting each
    chunk as one ``INSERT … SELECT … FROM json_each(?)`` without the GIL (SQLite's JSON path costs more CPU than the
    overlap saves)."""

    from .parse import _no_gc  # lazy: as above

    if not n:
        return
    with _no_gc():  # hundreds of thousands of small objects: the cyclic collector would rescan them repeatedly
        chunks = _RowChunks(batch_id, source_type, cols, n, as_of_date, memo)
        cur = s.connection().connection.driver_connection.cursor()  # same connection, same transaction
        try:
            _write_serial(cur, chunks, n, progress, cancel, done, total)
        finally:
            cur.close()


class _RowChunks:
    """The rows of ``source_record`` as tuples (column order: batch_id + _RECORD_COLUMNS), chunk by chunk."""

    def __init__(self, batch_id, source_type, cols, n, as_of_date, memo: dict | None = None):
        from ..text.normalize import (  # lazy: loads jaconv, yosina, only needed here
            norm_address,
            norm_kana,
            norm_name,
            split_name,
        )

        self.fns = {"name": norm_name, "kana": norm_kana, "address": norm_address, "split": split_name}
        self.memo = memo if memo is not None else {}
        for k in self.fns:
            self.memo.setdefault(k, {None: None, "": None})
        self.batch_id, self.source_type, self.cols, self.n = batch_id, source_type, cols, n
        self.as_of_iso = as_of_date.isoformat()

    def col(self, k, i, j):
        v = self.cols.get(k)
        return v[i:j] if v is not None and len(v) == self.n else [None] * (j - i)

    def normed(self, kind, values):  # names and kana repeat within a file: normalise each distinct value once
        memo, fn = self.memo[kind], self.fns[kind]
        out = []
        append = out.append
        for v in values:
            try:
                append(memo[v])
            except KeyError:
                r = memo[v] = fn(v) or None
                append(r)
        return out

    @staticmethod
    def iso(values, default=None):  # parse_rows hands dates over as ISO text already
        out = []
        for v in values:
            if v.__class__ is str and len(v) == 10 and v[4] == "-" and v[7] == "-":
                out.append(v)
            else:
                d = _date(v)
                out.append(d.isoformat() if d else default)
        return out

    def rows(self, i: int, j: int) -> list[tuple]:
        col, m, dumps = self.col, j - i, _json_text
        name, kana = col("name", i, j), col("name_kana", i, j)
        sur, giv = list(col("surname", i, j)), list(col("given_name", i, j))
        splits = self.normed("split", name)
        for k in range(m):
            if not sur[k] and name[k] and splits[k]:
                sur[k], giv[k] = splits[k]
        columns = [
            [self.batch_id] * m,
            [self.source_type] * m,
            col("row_number", i, j),
            col("source_key", i, j),
            [v or "self" for v in col("subject", i, j)],
            [dumps(v or {}) for v in col("raw", i, j)],
            col("resident_no", i, j),
            col("household_no", i, j),
            name,
            kana,
            self.normed("name", name),
            self.normed("kana", kana),
            self.normed("name", sur),
            self.normed("name", giv),
            self.iso(col("birth_date", i, j)),
            col("sex", i, j),
            col("address", i, j),
            self.normed("address", col("address", i, j)),
            col("relationship", i, j),
            col("student_no", i, j),
            col("school", i, j),
            [_s(v) for v in col("grade", i, j)],
            [_s(v) for v in col("class", i, j)],
            self.iso(col("record_date", i, j), self.as_of_iso),
            [dumps(v or {}) for v in col("attributes", i, j)],
        ]
        return list(zip(*columns))


_CHUNK = 5000


def _insert_sql() -> str:
    cols = ("batch_id",) + _RECORD_COLUMNS
    return f"INSERT INTO source_record ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def _write_serial(cur, chunks: _RowChunks, n: int, progress, cancel, done: int = 0, total: int | None = None) -> None:
    sql = _insert_sql()
    for i in range(0, n, _CHUNK):
        cur.executemany(sql, chunks.rows(i, min(i + _CHUNK, n)))
        if progress:
            progress(done + min(i + _CHUNK, n), total if total is not None else n)
        if cancel and cancel():
            raise Cancelled("取込を中止しました。データベースは変更されていません。")


_RECORD_COLUMNS = (
    "source_type",
    "row_number",
    "source_key",
    "subject",
    "raw",
    "resident_no",
    "household_no",
    "name",
    "name_kana",
    "name_norm",
    "kana_norm",
    "surname_norm",
    "given_norm",
    "birth_date",
    "sex",
    "address",
    "address_norm",
    "relationship",
    "student_no",
    "school",
    "grade",
    "class_name",
    "record_date",
    "attributes",
)


def _supersedes(source_type: str) -> bool:
    # Registry, tax and attendance extracts are snapshots: the newest is the current state. Event sources
    # (checkups, consultations, 要対協 ledger) are snapshots of a ledger too, so the same rule holds; history stays.
    return True


def _s(v):
    return None if v is None or v == "" else str(v)


@service("import", what="batch remove")
def remove_batch(ws: Workspace, batch_id: int, reason: str | None = None) -> dict:
    """Remove a batch (logged): its records leave every list; the batch row stays as history."""
    with ws.session() as s:
        b = s.get(SourceBatch, batch_id)
        if b is None or b.removed_at is not None:
            raise InputRefused(f"バッチ {batch_id} はありません。")
        n = rowcount(s.execute(text("DELETE FROM source_record WHERE batch_id=:b"), {"b": batch_id}))
        # the stored 名寄せ model and its pair comparisons may hold the removed rows (a registry's names, every row's
        # hash): dropped, the next link run is full (a retention purge removes its batches through here too)
        s.execute(text("DELETE FROM link_model"))
        b.removed_at = dt.datetime.now().replace(microsecond=0)
        # the extract it had superseded becomes current again
        restored = s.scalars(select(SourceBatch.id).where(SourceBatch.superseded_by == batch_id)).all()
        s.execute(update(SourceBatch).where(SourceBatch.superseded_by == batch_id).values(superseded_by=None))
        ws.log(
            "batch_removed",
            detail={
                "batch_id": batch_id,
                "source_type": b.source_type,
                "file_name": b.file_name,
                "records": n,
                "reason": (reason or "")[:500],
                "current_again": list(restored),
            },
            conn=s,
        )
    return {"batch_id": batch_id, "removed_records": n, "current_again": list(restored)}


def _rejected_where(batch_id: int, query: str | None) -> tuple[str, dict]:
    where = "batch_id = :b"
    params: dict[str, object] = {"b": int(batch_id)}
    q = (query or "").strip()
    if q:  # the column name, the reason, or the row number
        params["q"] = q
        where += " AND (instr(coalesce(\"column\", ''), :q) > 0 OR instr(message, :q) > 0"
        if q.isdigit():
            params["n"] = int(q)
            where += " OR row_number = :n"
        where += ")"
    return where, params


#: the orders :func:`rejected_page` knows: key → ORDER BY columns
REJECTED_ORDERS = {
    "row": ("row_number", "id"),
    "column": ("\"column\"", "row_number", "id"),
    "message": ("message", "id"),
}


@service("import", what="import rejected rows")
def rejected_count(ws: Workspace, batch_id: int, *, query: str | None = None) -> int:
    """How many rows a batch left out (matching ``query``: a column name, a reason or a row number)."""
    where, params = _rejected_where(batch_id, query)
    with ws.session() as s:
        return int(s.execute(text(f"SELECT count(*) FROM rejected_row WHERE {where}"), params).scalar() or 0)


@service("import", what="import rejected rows")
def rejected_page(
    ws: Workspace,
    batch_id: int,
    limit: int | None = None,
    offset: int = 0,
    order: str = "row",
    descending: bool = False,
    *,
    query: str | None = None,
) -> list[dict]:
    """One page of the rows a batch left out, in SQL: the row number as the user sees it in the file, the column
    and the reason (:data:`REJECTED_ORDERS`; ``limit=None``: all of them)."""
    where, params = _rejected_where(batch_id, query)
    direction = " DESC" if descending else ""
    keys = REJECTED_ORDERS.get(order, REJECTED_ORDERS["row"])
    sql = f'SELECT row_number, "column", message FROM rejected_row WHERE {where} ORDER BY ' + ", ".join(
        k + direction for k in keys
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    with ws.session() as s:
        return [{"row": r, "column": c or "", "message": m} for r, c, m in s.execute(text(sql), params)]


@service("import", what="import rejected rows")
def rejected_rows(ws: Workspace, batch_id: int) -> list[dict]:
    """The rows a batch left out, with the row number as the user sees it in the file, the column and the reason."""
    return rejected_page(ws, batch_id)


def _batch_where(source_type: str | None, query: str | None) -> tuple[str, dict]:
    where: list[str] = []
    params: dict[str, object] = {}
    if source_type:
        where.append("source_type = :st")
        params["st"] = source_type
    q = (query or "").strip()
    if q:  # the file name, or the batch number
        params["q"] = q
        if q.isdigit():
            params["n"] = int(q)
            where.append("(instr(file_name, :q) > 0 OR id = :n)")
        else:
            where.append("instr(file_name, :q) > 0")
    return (" WHERE " + " AND ".join(where)) if where else "", params


#: the orders :func:`batch_page` knows: key → ORDER BY columns (the history's columns)
BATCH_ORDERS = {
    "id": ("id",),
    "source_type": ("source_type", "id"),
    "file_name": ("file_name", "id"),
    "as_of": ("as_of", "id"),
    "imported_at": ("imported_at", "id"),
    "imported_by": ("imported_by", "id"),
    "imported": ("rows_imported", "id"),
    "rejected": ("rows_rejected", "id"),
}


@service("person.read", what="import history")
def batch_count(ws: Workspace, *, source_type: str | None = None, query: str | None = None) -> int:
    """How many batches (removed ones too) match: a source type, and ``query`` in the file name or the number."""
    where, params = _batch_where(source_type, query)
    with ws.session() as s:
        return int(s.execute(text("SELECT count(*) FROM source_batch" + where), params).scalar() or 0)


@service("person.read", what="import history")
def batch_page(
    ws: Workspace,
    limit: int | None = None,
    offset: int = 0,
    order: str = "id",
    descending: bool = True,
    *,
    source_type: str | None = None,
    query: str | None = None,
) -> list[dict]:
    """One page of the import history, newest first by default, filtered and ordered in SQL
    (:data:`BATCH_ORDERS`; ``limit=None``: every batch)."""
    where, params = _batch_where(source_type, query)
    direction = " DESC" if descending else ""
    keys = BATCH_ORDERS.get(order, BATCH_ORDERS["id"])
    q = select(SourceBatch).from_statement(
        text(
            "SELECT * FROM source_batch"
            + where
            + " ORDER BY "
            + ", ".join(k + direction for k in keys)
            + (f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else "")
        ).bindparams(**params)
    )
    with ws.session() as s:
        return [
            {
                "batch_id": b.id,
                "source_type": b.source_type,
                "label": F.SOURCE_TYPES.get(b.source_type, {}).get("label", b.source_type)
                if isinstance(F.SOURCE_TYPES, dict)
                else b.source_type,
                "file_name": b.file_name,
                "as_of": b.as_of,
                "imported_at": b.imported_at,
                "imported_by": b.imported_by,
                "rows": b.rows_total,
                "imported": b.rows_imported,
                "rejected": b.rows_rejected,
                "current": b.superseded_by is None and b.removed_at is None,
                "superseded_by": b.superseded_by,
                "removed": b.removed_at is not None,
                "scope": b.scope,
            }
            for b in s.scalars(q)
        ]


@service("person.read", what="import history")
def batch_history(ws: Workspace) -> list[dict]:
    """Every batch, newest first."""
    return batch_page(ws)


DEFAULT_FRESHNESS_DAYS = {"resident_registry": 35, "school_attendance": 35, "school_checklist": 200, "tax": 400}


def freshness(ws: Workspace, today: dt.date | None = None) -> list[dict]:
    """Each source's latest as-of date, with a warning when it is older than the source's limit (days)."""

    today = today or dt.date.today()
    with ws.session() as s:
        limits = {**{st: 100 for st in F.SOURCE_TYPES}, **DEFAULT_FRESHNESS_DAYS}
        custom = s.get(Setting, "freshness_limits")
        if custom and isinstance(custom.value, dict):
            limits.update(custom.value)
        rows = s.execute(
            text("SELECT source_type, max(as_of) FROM source_batch WHERE removed_at IS NULL GROUP BY source_type")
        ).all()
    latest = {st: (dt.date.fromisoformat(str(d)[:10]) if d else None) for st, d in rows}
    out = []
    for st in F.SOURCE_TYPES:
        d = latest.get(st)
        age = (today - d).days if d else None
        out.append(
            {
                "source_type": st,
                "label": _label(st),
                "latest_as_of": d,
                "age_days": age,
                "limit_days": limits.get(st, 100),
                "stale": age is None or age > limits.get(st, 100),
                "missing": d is None,
            }
        )
    return out


def _label(st: str) -> str:
    meta = F.SOURCE_TYPES.get(st) if isinstance(F.SOURCE_TYPES, dict) else None
    if isinstance(meta, dict):
        return meta.get("label", st)
    return getattr(meta, "label", st) if meta is not None else st
