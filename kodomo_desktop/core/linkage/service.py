"""名寄せ service: persons and households from the resident registry, links for every other record, the review
queue, human decisions that stick (and can be undone), and ``export-links``.

The resident registry is the spine: each registry row's 宛名番号 is a person (stable id, reused across extracts);
世帯番号 gives the household. Every other record is linked by the engine (``engine.link_records``): 宛名番号 first,
a confirmed pupil number next, then Fellegi–Sunter on names, kana, birth date, sex, address and household.
Human decisions (``LinkDecision``) override the engine on every re-run until undone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Row, Table, bindparam, delete, insert, select, text, update

from .. import outputs
from ..errors import Cancelled, InputRefused, NotFound
from ..importing.guards import resident_key
from ..queries import opted_out as opted_out_persons  # re-exported: the one opt-out rule lives in queries
from ..services import service
from ..sharing.handover import SOURCE_TYPE as HANDOVER
from ..sharing.handover import open_case_on_accept
from ..storage.models import Household, Link, LinkDecision, LinkModel, LinkRun, Person, SourceRecord
from ..text.search import person_terms_sql, search_terms

if TYPE_CHECKING:
    from ..workspace import Workspace

EXPORT_COLUMNS = ["source_type", "file_name", "row_number", "source_key", "person_id", "status", "score"]


def _now():
    return dt.datetime.now().replace(microsecond=0)


# --- persons from the registry ---------------------------------------------------------------------------------
def _sync_registry(s) -> dict[str, str]:
    """Create/refresh Person and Household rows from registry records; returns resident_no → person id."""
    rows = s.execute(
        text(
            "SELECT r.id, r.resident_no, r.household_no, r.name, r.name_kana, r.name_norm, r.kana_norm, r.birth_date, "
            "r.sex, r.address, r.relationship, b.superseded_by IS NULL AS current, b.as_of, b.id AS batch "
            "FROM source_record r JOIN source_batch b ON b.id = r.batch_id "
            "WHERE r.source_type = 'resident_registry' AND b.removed_at IS NULL AND r.resident_no IS NOT NULL "
            "ORDER BY b.as_of, b.id, r.row_number"
        )
    ).all()
    # resident_key: 0001234567 and 1234567 (re-saved through Excel) are one person
    # Core rows, not ORM objects: at 30,000 residents loading and dirtying every Person cost 15 s. Only the persons
    # and households whose values change are written (the same rows the ORM would have flushed).
    pcols = (
        "id, resident_no, household_id, name, name_kana, name_norm, kana_norm, birth_date, sex, address, "
        "relationship, in_registry"
    )
    persons = {
        resident_key(p.resident_no): p
        for p in s.execute(text(f"SELECT {pcols} FROM person WHERE resident_no IS NOT NULL")).all()
    }
    households = {
        resident_key(h.household_no): {"id": h.id, "household_no": h.household_no, "address": h.address}
        for h in s.execute(text("SELECT id, household_no, address FROM household")).all()
    }
    address_was = {h["id"]: h["address"] for h in households.values()}
    next_p = _next_id(s, "person", "P")
    next_h = _next_id(s, "household", "H")
    latest: dict[str | None, Row[Any]] = {}
    current_residents: set[str | None] = set()
    for r in rows:  # ordered oldest → newest: the newest extract wins
        k = resident_key(r.resident_no)
        latest[k] = r
        if r.current:
            current_residents.add(k)
    new_people, new_households, changed = [], [], []
    ids = {rno: p.id for rno, p in persons.items()}
    for rno, r in latest.items():
        hid = None
        if r.household_no:
            hk = resident_key(r.household_no)  # 世帯番号 loses its leading zeros in Excel too
            h = households.get(hk)
            if h is None:
                h = {"id": f"H{next_h:06d}", "household_no": r.household_no, "address": r.address}
                next_h += 1
                households[hk] = h
                new_households.append(h)
            else:
                h["address"] = r.address or h["address"]
            hid = h["id"]
        bd = _d(r.birth_date)
        fields = dict(
            household_id=hid,
            name=r.name,
            name_kana=r.name_kana,
            name_norm=r.name_norm,
            kana_norm=r.kana_norm,
            birth_date=bd,
            sex=r.sex,
            address=r.address,
            relationship=r.relationship,
            in_registry=rno in current_residents,
        )
        p = persons.get(rno)
        if p is None:
            pid = f"P{next_p:06d}"
            next_p += 1
            ids[rno] = pid
            persons[rno] = fields  # a later row of the same key (another spelling of the number) updates it
            new_people.append({"id": pid, "resident_no": r.resident_no, **fields})
        elif isinstance(p, dict):
            p.update(fields)
        elif _person_differs(p, fields):
            changed.append({"pid": p.id, **fields})
    if new_households:
        s.execute(insert(Household), [h for h in new_households])
    moved = [
        {"hid": h["id"], "address": h["address"]}
        for h in households.values()
        if h["id"] in address_was and h["address"] != address_was[h["id"]]
    ]
    if moved:
        s.execute(
            update(_table(Household)).where(_table(Household).c.id == bindparam("hid")),
            moved,
            execution_options={"synchronize_session": False},
        )
    if new_people:
        now = _now()
        s.execute(insert(Person), [{**p, "created_at": now} for p in new_people])
    if changed:
        s.execute(
            update(_table(Person)).where(_table(Person).c.id == bindparam("pid")),
            changed,
            execution_options={"synchronize_session": False},
        )
    return _ByResidentKey(ids)


def _table(model) -> Table:
    return cast(Table, model.__table__)


def _person_differs(p, fields: dict) -> bool:
    """Whether a person row (Core row, values as stored) differs from the registry's newest values."""
    for k, v in fields.items():
        old = getattr(p, k)
        if k == "birth_date":
            old = _d(old)
        elif k == "in_registry":
            old = bool(old) if old is not None else None
        if old != v:
            return True
    return False


class _ByResidentKey(dict):
    """resident key → person id, looked up with a 宛名番号 as written (leading zeros or not)."""

    def get(self, rno, default=None):
        return super().get(resident_key(rno), default)


def _next_id(s, table: str, prefix: str) -> int:
    m = s.execute(text(f"SELECT max(CAST(substr(id, 2) AS INTEGER)) FROM {table} WHERE id LIKE '{prefix}%'")).scalar()
    return (m or 0) + 1


def _d(v):
    if v is None or isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


# --- frames for the engine -------------------------------------------------------------------------------------
def registry_frame(s) -> pd.DataFrame:
    df = pd.read_sql_query(
        text(
            "SELECT p.id AS person_id, p.resident_no, h.household_no, p.name, p.name_kana, p.name_norm, p.kana_norm, "
            "p.birth_date, p.sex, p.address, p.relationship, p.household_id FROM person p "
            "LEFT JOIN household h ON h.id = p.household_id"
        ),
        s.connection(),
    )
    return _with_norm(df)


def records_frame(
    s, where: str = "r.source_type NOT IN ('resident_registry', 'school_checklist', 'information_sheet')"
) -> pd.DataFrame:
    df = pd.read_sql_query(
        text(
            "SELECT r.id AS record_id, r.source_type, r.resident_no, r.household_no, r.name, r.name_kana, r.name_norm, "
            "r.kana_norm, r.surname_norm, r.given_norm, r.birth_date, r.sex, r.address, r.address_norm, "
            "r.student_no, r.school, r.grade, r.class_name AS class FROM source_record r "
            "JOIN source_batch b ON b.id = r.batch_id "
            f"WHERE b.removed_at IS NULL AND {where}"
        ),
        s.connection(),
    )
    return _with_norm(df)


def _with_norm(df: pd.DataFrame) -> pd.DataFrame:
    """Blanks as "" and birth dates as datetimes. The engine's ``prepare`` normalises names, kana and addresses
    from the raw columns itself (once per distinct value); the split, kana parts, folded kana and normalised
    address this function used to derive row by row were read by nothing when the raw columns are there, and are
    all blank when they are not — 2.2 of 4.4 profiled seconds of reading the frames at 30,000 residents."""
    df["name_norm"] = df["name_norm"].fillna("")
    df["kana_norm"] = df["kana_norm"].fillna("")
    if "address_norm" in df.columns:
        df["address_norm"] = df["address_norm"].fillna("")
    df["birth_date"] = pd.to_datetime(df["birth_date"], errors="coerce")
    return df


def _active_decisions(s) -> pd.DataFrame:
    # decided_by travels with each decision so a confirmed link records who confirmed it (the engine passes it on)
    return pd.read_sql_query(
        text(
            "SELECT record_id, person_id, decision, decided_by FROM link_decision WHERE undone_at IS NULL ORDER BY id"
        ),
        s.connection(),
    )


def _pinned_students(s) -> pd.DataFrame:
    """A pupil number a person confirmed stays linked across months (school, grade, class, number → person)."""
    return pd.read_sql_query(
        text(
            "SELECT DISTINCT r.school, r.grade, r.class_name AS class, r.student_no, d.person_id FROM link_decision d "
            "JOIN source_record r ON r.id = d.record_id WHERE d.undone_at IS NULL AND d.decision = 'accept' "
            "AND r.student_no IS NOT NULL AND r.school IS NOT NULL"
        ),
        s.connection(),
    )


# --- the run ---------------------------------------------------------------------------------------------------
@service("link.run", what="link")
def run_linkage(
    ws: Workspace, *, progress=None, thresholds: dict | None = None, cancel=None, full: bool = False
) -> dict:
    """Link every record (the engine over the whole town: its competition and cross-row evidence depend on every
    record) and write what changed: new persons and households, persons whose registry values changed, and the links
    whose person, status, score, explanation or candidates changed (``written`` in the summary). A confirmed link
    that did not change keeps its time. ``full``: refit the model and rewrite every link.

    The model (m, u, prior, π, term frequencies) is fitted by a full run and stored (``LinkModel``); the runs after it
    reuse it and the stored comparisons of the pairs they saw before (``mode: "incremental"``, ``pairs_compared`` /
    ``pairs_reused``) — the links are exactly those of the engine over everything with that model. A full run (a
    refit) happens on the first run, with ``full``, other settings or engine code, no stored model (after a deletion,
    a removed batch, a purge) or past the drift bound (:data:`DRIFT_SHARE`, :data:`MODEL_MAX_DAYS`); ``why`` says
    which.
    All in one transaction. ``cancel()`` (the GUI's キャンセル) is asked between steps: when it says stop,
    :class:`Cancelled` is raised and nothing changes (rolled back)."""

    def stop():
        if cancel is not None and cancel():
            raise Cancelled("名寄せを中止しました。データベースは変更されていません。")

    say = progress or (lambda *_: None)
    with ws.session() as s:
        inputs = _inputs_digest(s, thresholds or {})
        last = _last_run(s)
        if not full and last is not None and (last.summary or {}).get("inputs") == inputs:
            # nothing the engine reads changed since the last run: its links are this run's links
            summary = {
                k: v
                for k, v in (last.summary or {}).items()
                if k not in ("inputs", "mode", "why", "pairs_compared", "pairs_reused")
            }
            summary.update(mode="unchanged", why="前回の名寄せから入力（取込・判断・利用停止・設定）に変更がありません")
            s.add(
                LinkRun(
                    by=ws.user.name, params=thresholds or {}, finished_at=_now(), summary={**summary, "inputs": inputs}
                )
            )
            ws.log("link_run", detail={**summary, "written": 0}, conn=s)
            return {**summary, "written": 0}
        why = (
            "全件の再書き込み（--full）"
            if full
            else ("初回の名寄せ" if last is None else "前回の名寄せから入力が変わりました")
        )

        from . import engine as E  # lazy: loads rapidfuzz, only needed here

        run = LinkRun(by=ws.user.name, params=thresholds or {})
        s.add(run)
        say("住民基本台帳から人と世帯を作成しています…")
        stop()
        rno_to_person = _sync_registry(s)
        excluded = opted_out_persons(s)
        # registry rows: always their own person
        reg = s.execute(
            text(
                "SELECT r.id, r.resident_no FROM source_record r JOIN source_batch b ON b.id=r.batch_id "
                "WHERE r.source_type='resident_registry' AND b.removed_at IS NULL"
            )
        ).all()
        link_rows = []
        for rid, rno in reg:
            pid = rno_to_person.get(rno)
            status = "excluded" if pid in excluded else ("auto" if pid else "unlinked")
            link_rows.append(
                {
                    "record_id": rid,
                    "person_id": pid,
                    "status": status,
                    "score": None,
                    "probability": 1.0 if pid else None,
                    "method": "resident_no",
                }
            )
        # checklist and information-sheet rows carry their person in the row key (matched when they were
        # imported, never by name)
        for rid, pid in s.execute(
            text(
                "SELECT r.id, r.source_key FROM source_record r JOIN source_batch b ON b.id=r.batch_id "
                "WHERE r.source_type IN ('school_checklist', 'information_sheet') AND b.removed_at IS NULL"
            )
        ).all():
            known = pid if pid in rno_to_person.values() or s.get(Person, pid) is not None else None
            link_rows.append(
                {
                    "record_id": rid,
                    "person_id": known,
                    "status": "excluded" if known in excluded else ("auto" if known else "unlinked"),
                    "score": None,
                    "probability": 1.0 if known else None,
                    "method": "row_key",
                }
            )
        stop()
        say("名寄せの候補を比較しています…")
        registry = registry_frame(s)
        records = records_frame(s)
        decisions = _active_decisions(s)
        pinned = _pinned_students(s)
        stored = s.scalar(select(LinkModel).order_by(LinkModel.id.desc()).limit(1))
        state = _fit_state(registry, records)
        settings = _settings_digest(thresholds or {})
        refit = full or last is None or stored is None or stored.settings != settings
        if not refit and stored is not None:
            drift = _drift(stored, state)
            refit = drift is not None
            if drift is not None:
                why = drift
        elif full or last is None:
            pass
        elif stored is None:
            why = "保存した名寄せモデルがありません（削除・バッチの取消・保存期間の満了の後、または以前の版のデータベース）"
        else:
            why = "名寄せの設定またはプログラムが変わりました"
        frozen = cache = None
        if not refit and stored is not None:
            frozen = E.M.Model.from_bytes(stored.model)
            cache = _load_pairs(stored.pairs)
        result, info = E.link_records(
            registry,
            records,
            decisions=decisions,
            pinned=pinned,
            model=frozen,
            pair_cache=cache,
            return_info=True,
            **(thresholds or {}),
        )
        stop()
        say("名寄せのモデルを保存しています…")
        pairs_blob = _dump_pairs(info.cache)
        if refit:
            s.execute(delete(LinkModel))
            if info.fitted is not None:
                s.add(
                    LinkModel(
                        fitted_at=_now(),
                        settings=settings,
                        n_records=len(state["records"]),
                        n_persons=len(state["persons"]),
                        model=cast(Any, info.fitted).to_bytes(),
                        fit_state=_dump_state(state),
                        pairs=pairs_blob,
                    )
                )
        elif stored is not None:
            stored.pairs = pairs_blob
            why = f"前回の名寄せから入力が変わりました。{stored.fitted_at:%Y-%m-%d}に作成したモデルを使い、初めての組み合わせだけを比較しました"
        mode = "full" if refit else "incremental"
        stop()
        say("連結の結果を記録しています…")
        handed_over = set(records.loc[records["source_type"] == HANDOVER, "record_id"]) if len(records) else set()
        now = _now()
        for r in result.itertuples(index=False):
            pid = r.person_id if isinstance(r.person_id, str) and r.person_id else None
            status = r.status
            if status == "auto" and r.record_id in handed_over:
                status = "review"  # a child handed over by another town is linked by a person, never automatically
            if pid in excluded and status in ("auto", "confirmed", "review"):
                status = "excluded"
            link_rows.append(
                {
                    "record_id": int(r.record_id),
                    "person_id": pid,
                    "status": status,
                    "score": _f(getattr(r, "match_weight", None)),
                    "probability": _f(getattr(r, "match_probability", None)),
                    "method": getattr(r, "method", None),
                    "explanation": _j(getattr(r, "explanation", None)),
                    "candidates": _j(getattr(r, "candidates", None)),
                    "decided_by": getattr(r, "decided_by", None) if status == "confirmed" else None,
                    "decided_at": now if status == "confirmed" else None,
                }
            )
        stop()
        written = _write_links(s, link_rows, full=full, stop=stop)
        counts: dict[str, int] = {}
        for lr in link_rows:
            counts[lr["status"]] = counts.get(lr["status"], 0) + 1
        persons = s.execute(text("SELECT count(*) FROM person")).scalar()
        summary = {
            "persons": persons,
            "auto_links": counts.get("auto", 0),
            "review": counts.get("review", 0),
            "confirmed": counts.get("confirmed", 0),
            "unlinked": counts.get("unlinked", 0),
            "excluded": counts.get("excluded", 0),
            "records": len(link_rows),
            "mode": mode,
            "why": why,
            "pairs": int(info.pairs),
            "pairs_compared": int(info.compared),
            "pairs_reused": int(info.reused),
        }
        # the digest of what this run read: the opt-outs as applied, persons and links as written now
        run.finished_at, run.summary = _now(), {**summary, "inputs": _inputs_digest(s, thresholds or {})}
        ws.log("link_run", detail={**summary, "written": written, **({"full": True} if full else {})}, conn=s)
    return {**summary, "written": written}


# --- the stored model (migration 0012) ---------------------------------------------------------------------------
#: drift bound: a run refits the model (a full run) when, since the model's fit, more than this share of the records
#: the engine reads were added or removed, or of the registry's persons were added, removed or changed, …
DRIFT_SHARE = 0.15
#: … or when the model is older than this (a year's births and moves change the registry's names and cohorts)
MODEL_MAX_DAYS = 90


def _settings_digest(thresholds: dict) -> str:
    """What a stored model is bound to: the run's options (thresholds, m_method, seed …) and the engine's code."""
    return hashlib.sha256((_code_digest() + json.dumps(thresholds, sort_keys=True, default=str)).encode()).hexdigest()


_PERSON_FIELDS = ("resident_no", "household_no", "name", "name_kana", "birth_date", "sex", "address")


def _fit_state(registry: pd.DataFrame, records: pd.DataFrame) -> dict:
    """What the drift bound compares: the ids of the records the engine reads (records are only added or deleted),
    and per person its id and a hash of its identity fields (a 訂正 counts as a change)."""
    rec = np.sort(records["record_id"].to_numpy(dtype=np.int64)) if len(records) else np.zeros(0, np.int64)
    if len(registry):
        ids = registry["person_id"].astype(str).str[1:].astype(np.int64).to_numpy()
        h = pd.util.hash_pandas_object(registry[list(_PERSON_FIELDS)].astype(str), index=False).to_numpy(np.uint64)
        o = np.argsort(ids)
        ids, h = ids[o], h[o]
    else:
        ids, h = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    return {"records": rec, "persons": ids, "person_hash": h}


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _unnpz(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _dump_state(state: dict) -> bytes:
    return _npz(**state)


def _dump_pairs(cache: dict | None) -> bytes | None:
    """The pair cache as stored: the two identity hashes, levels and term frequencies of each pair, sorted by the
    lookup key (which the engine derives again from the hashes)."""
    return None if cache is None else _npz(**{k: v for k, v in cache.items() if k != "key"})


def _load_pairs(data: bytes | None) -> dict | None:
    return None if data is None else _unnpz(data)


def _drift(stored: LinkModel, now: dict) -> str | None:
    """Why the stored model must be refitted (the drift bound), or None when it may be reused."""
    age = (_now() - stored.fitted_at).days
    if age > MODEL_MAX_DAYS:
        return f"名寄せのモデルが作成から{age}日たちました（{MODEL_MAX_DAYS}日を超えると作り直します）"
    was = _unnpz(stored.fit_state)
    r0, r1 = was["records"], now["records"]
    changed = len(np.setdiff1d(r0, r1, assume_unique=True)) + len(np.setdiff1d(r1, r0, assume_unique=True))
    share = changed / max(len(r0), 1)
    if share > DRIFT_SHARE:
        return (
            f"名寄せのモデルの作成から記録の{share:.0%}が追加・削除されました"
            f"（{DRIFT_SHARE:.0%}を超えると作り直します）"
        )
    p0, h0, p1, h1 = was["persons"], was["person_hash"], now["persons"], now["person_hash"]
    both, i0, i1 = np.intersect1d(p0, p1, assume_unique=True, return_indices=True)
    changed = (len(p0) - len(both)) + (len(p1) - len(both)) + int((h0[i0] != h1[i1]).sum())
    share = changed / max(len(p0), 1)
    if share > DRIFT_SHARE:
        return (
            f"名寄せのモデルの作成から住民（台帳）の{share:.0%}が追加・削除・変更されました"
            f"（{DRIFT_SHARE:.0%}を超えると作り直します）"
        )
    return None


def forget_model(s) -> None:
    """Delete the stored model and its pair comparisons (they hold names and hashes of the town's rows): after a
    deletion, a removed batch or a purge nothing of the removed data may stay in them. The next run is full."""
    s.execute(text("DELETE FROM link_model"))


# what the engine's result depends on besides the tables below: its own code and the normaliser's
_CODE = (Path(__file__).parent, Path(__file__).parent.parent / "text")


def _code_digest() -> str:
    h = hashlib.sha256()
    for d in _CODE:
        for f in sorted(d.glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _persons_digest(s) -> str:
    """Every person row's values, not sums of them: a 訂正 that keeps a name's length still changes the digest."""
    h = hashlib.sha256()
    rows = s.execute(
        text(
            "SELECT id, household_id, name, name_kana, address, birth_date, sex, in_registry, resident_no "
            "FROM person ORDER BY id"
        )
    )
    for row in rows:
        h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def _inputs_digest(s, thresholds: dict) -> str:
    """A digest of everything a link run reads: the batches (removed, superseded), the records of the batches in
    use (count and ids: records are only ever added or deleted, never changed in place), the persons, the link rows,
    the human decisions (taken and undone), the opt-outs in force today, the thresholds and the engine's code. Equal
    digests → the engine would give the same links, so :func:`run_linkage` writes nothing and says ``unchanged``."""
    today = dt.date.today().isoformat()
    parts: list[Any] = [
        _code_digest(),
        json.dumps(thresholds, sort_keys=True, default=str),
        s.execute(
            text("SELECT id, source_type, removed_at IS NULL, superseded_by, as_of FROM source_batch ORDER BY id")
        ).all(),
        s.execute(
            text(
                "SELECT count(*), coalesce(max(r.id), 0), coalesce(sum(r.id), 0) FROM source_record r "
                "JOIN source_batch b ON b.id = r.batch_id WHERE b.removed_at IS NULL"
            )
        ).all(),
        _persons_digest(s),
        # the links as they stand (other services change them in place: an opt-out, a disclosure's erasure), read
        # from the person and status indexes, never the explanations
        s.execute(
            text(
                "SELECT count(*), coalesce(sum(record_id), 0), count(person_id), "
                "coalesce(sum(record_id * (CAST(substr(person_id, 2) AS INTEGER) % 1000003)), 0) FROM link"
            )
        ).all(),
        s.execute(
            text("SELECT status, count(*), coalesce(sum(record_id), 0) FROM link GROUP BY status ORDER BY status")
        ).all(),
        s.execute(
            text("SELECT count(*), coalesce(max(id), 0), count(undone_at), coalesce(sum(id), 0) FROM link_decision")
        ).all(),
        s.execute(
            text(
                "SELECT id, person_id, household_id FROM opt_out WHERE removed_at IS NULL AND from_date <= :d "
                "ORDER BY id"
            ),
            {"d": today},
        ).all(),
    ]
    return hashlib.sha256(
        repr([[tuple(r) for r in p] if isinstance(p, list) else p for p in parts]).encode()
    ).hexdigest()


def _last_run(s) -> LinkRun | None:
    """The latest finished link run."""
    return s.scalar(select(LinkRun).where(LinkRun.finished_at.is_not(None)).order_by(LinkRun.id.desc()).limit(1))


_LINK_COLUMNS = (
    "record_id",
    "person_id",
    "status",
    "score",
    "probability",
    "method",
    "explanation",
    "candidates",
    "decided_by",
    "decided_at",
)


def _write_links(s, link_rows: list[dict], *, full: bool = False, stop=None) -> int:
    """Make the ``link`` table hold ``link_rows``, writing only the rows that differ (all of them with ``full``).
    Returns how many rows were written or deleted. The JSON columns are compared as the text they are stored as."""
    table = _table(Link)
    if full:
        s.execute(delete(Link))
        _insert_links(s, table, link_rows, stop)
        return len(link_rows)
    dialect = s.get_bind().dialect
    as_text = {c: table.c[c].type.bind_processor(dialect) for c in ("explanation", "candidates")}
    old = {
        r[0]: r
        for r in s.execute(
            text(f"SELECT {', '.join(_LINK_COLUMNS)} FROM link")  # the JSON columns come back as their stored text
        ).all()
    }
    put, drop = [], []
    seen = set()
    for lr in link_rows:
        rid = lr["record_id"]
        seen.add(rid)
        o = old.get(rid)
        if o is not None and _same_link(o, lr, as_text):
            continue
        if o is not None:
            drop.append(rid)
        put.append(lr)
    drop += [rid for rid in old if rid not in seen]
    for i in range(0, len(drop), 5000):
        s.execute(delete(Link).where(table.c.record_id.in_(drop[i : i + 5000])))
    _insert_links(s, table, put, stop)
    return len(put) + len(drop) - len(set(drop) & {r["record_id"] for r in put})


def _insert_links(s, table: Table, rows: list[dict], stop=None) -> None:
    """Core executemany per set of keys (a registry row has no explanation: SQL NULL, not the JSON null) — the ORM's
    bulk insert checked every row's keys against the mapper."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r), []).append(r)
    for grp in groups.values():
        for i in range(0, len(grp), 5000):
            if stop is not None:
                stop()
            s.execute(insert(table), grp[i : i + 5000])


_CHEAP = [
    (k, c) for k, c in enumerate(_LINK_COLUMNS) if c not in ("record_id", "decided_at", "explanation", "candidates")
]
_JSON = [(k, c) for k, c in enumerate(_LINK_COLUMNS) if c in ("explanation", "candidates")]


def _same_link(old, new: dict, as_text: dict) -> bool:
    """Whether a stored link row (raw values) equals a new one; ``decided_at`` is kept when nothing else moved. The
    plain columns first (a moved link differs there), the JSON last."""
    if (old[9] is None) != (new.get("decided_at") is None):
        return False
    for k, c in _CHEAP:
        a, b = old[k], new.get(c)
        if c in ("score", "probability"):
            if a is None or b is None:
                if (a is None) != (b is None):
                    return False
            elif float(a) != float(b):
                return False
        elif a != b:
            return False
    for k, c in _JSON:
        a = old[k]
        if c not in new:  # a key left out is SQL NULL; a None given is the JSON text null
            if a is not None:
                return False
            continue
        if a is None or not _same_json(a, new[c], as_text[c]):
            return False
    return True


def _same_json(stored: str, value, to_text) -> bool:
    """The stored JSON text against a new value: read back (orjson, fast) and compared as values; what orjson cannot
    read (NaN) is compared as the text the column would store."""
    if _orjson is not None:
        try:
            return _orjson.loads(stored) == value
        except ValueError:
            pass
    return stored == (to_text(value) if to_text else value)


_orjson: Any = None
try:
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - compared as text
    pass


def _f(v):
    try:
        return None if v is None or pd.isna(v) else float(v)
    except (TypeError, ValueError):
        return None


def _j(v):
    if v is None:
        return None
    if isinstance(v, float) and pd.isna(v):
        return None
    return v


# --- export ----------------------------------------------------------------------------------------------------
@service("data.export", what="export-links")
def export_links(ws: Workspace, out: Path) -> int:
    """One row per imported source row, plus the rejected rows (status ``rejected``). UTF-8 CSV."""
    with ws.session() as s:
        rows = s.execute(
            text(
                "SELECT r.source_type, b.file_name, r.row_number, r.source_key, l.person_id, "
                "COALESCE(l.status, 'unlinked') AS status, l.score, b.id AS batch "
                "FROM source_record r JOIN source_batch b ON b.id = r.batch_id LEFT JOIN link l ON l.record_id = r.id "
                "WHERE b.removed_at IS NULL "
                "UNION ALL SELECT b.source_type, b.file_name, x.row_number, NULL, NULL, 'rejected', NULL, b.id "
                "FROM rejected_row x JOIN source_batch b ON b.id = x.batch_id WHERE b.removed_at IS NULL "
                "GROUP BY b.id, x.row_number "
                "ORDER BY batch, row_number"
            )
        ).all()
        outputs.write_csv(
            out,
            EXPORT_COLUMNS,
            (
                [
                    r.source_type,
                    r.file_name,
                    r.row_number,
                    r.source_key or "",
                    (r.person_id or "") if r.status != "unlinked" or r.person_id else "",
                    r.status,
                    "" if r.score is None else f"{r.score:.2f}",
                ]
                for r in rows
            ),
        )
        ws.log("export", detail={"what": "links", "rows": len(rows)}, conn=s)
    return len(rows)


# --- the review queue and decisions --------------------------------------------------------------------------------
#: the orders :func:`review_page` knows: key → ORDER BY (ascending; ``descending`` flips every key)
REVIEW_ORDERS = {
    "score": ("l.score DESC", "l.record_id"),  # the match weight, highest first (NULL last: ix_link_queue)
    "name": ("(r.kana_norm IS NULL OR r.kana_norm = '')", "r.kana_norm", "r.name_norm", "l.record_id"),
    "row": ("r.source_type", "r.batch_id", "r.row_number", "l.record_id"),
}


_QUEUE_FROM = "link l JOIN source_record r ON r.id = l.record_id"
_BARE = "l.status = 'review'"


def _review_where(source_type: str | None, query: str | None) -> tuple[str, dict]:
    where, params = "l.status = 'review'", {}
    if source_type:
        where += " AND r.source_type = :st"
        params["st"] = source_type
    terms = search_terms(query)
    if terms:  # the record's name (旧字体 folded) or kana as the department wrote it, or its 宛名番号
        where += " AND " + person_terms_sql(terms, params, "r")
    return where, params


@service("link.review", what="review queue")
def review_count(ws: Workspace, *, source_type: str | None = None, query: str | None = None, log: bool = True) -> int:
    """How many records wait in the review queue (of one source, matching a name or kana search). Logged once
    per list view as ``view_list`` ``review_queue`` with the count (never the search text)."""
    where, params = _review_where(source_type, query)
    with ws.session() as s:
        n = int(
            s.execute(
                text(f"SELECT count(*) FROM {'link l' if where == _BARE else _QUEUE_FROM} WHERE {where}"), params
            ).scalar()
            or 0
        )
        if log:
            ws.log("view_list", detail={"list": "review_queue", "rows": n}, conn=s)
    return n


@service("link.review", what="review queue")
def review_page(
    ws: Workspace,
    limit: int | None = None,
    offset: int = 0,
    order: str = "score",
    descending: bool = False,
    *,
    source_type: str | None = None,
    query: str | None = None,
) -> list[dict]:
    """One page of the review queue, the highest match weight first by default (:data:`REVIEW_ORDERS`), filtered
    and ordered in SQL; ``limit=None``: the whole queue. Not logged (:func:`review_count` logs the view)."""
    where, params = _review_where(source_type, query)
    keys = REVIEW_ORDERS.get(order, REVIEW_ORDERS["score"])
    if descending:
        keys = tuple(k[:-5] if k.endswith(" DESC") else k + " DESC" for k in keys)
    # the page's ids from ix_link_queue alone when nothing asks for the record (no search, match-weight order)
    frm = "link l" if where == _BARE and order == "score" else _QUEUE_FROM
    sql = f"SELECT l.record_id FROM {frm} WHERE {where} ORDER BY {', '.join(keys)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    with ws.session() as s:
        ids = [i for (i,) in s.execute(text(sql), params)]
        got: dict[int, tuple] = {}
        for k in range(0, len(ids), 500):
            chunk = ids[k : k + 500]
            for link, rec in s.execute(
                select(Link, SourceRecord)
                .join(SourceRecord, SourceRecord.id == Link.record_id)
                .where(Link.record_id.in_(chunk))
            ).all():
                got[rec.id] = (link, rec)
        out = []
        for i in ids:
            if i not in got:
                continue
            link, rec = got[i]
            out.append(
                {
                    "record_id": rec.id,
                    "source_type": rec.source_type,
                    "row_number": rec.row_number,
                    "name": rec.name,
                    "name_kana": rec.name_kana,
                    "birth_date": rec.birth_date,
                    "sex": rec.sex,
                    "address": rec.address,
                    "resident_no": rec.resident_no,
                    "school": rec.school,
                    "person_id": link.person_id,
                    "score": link.score,
                    "probability": link.probability,
                    "explanation": link.explanation,
                    "candidates": link.candidates or [],
                }
            )
        return out


@service("link.review", what="review queue")
def review_queue(ws: Workspace, limit: int | None = None) -> list[dict]:
    """The whole review queue (or its first ``limit`` records), the highest match weight first; logged once."""
    out = review_page(ws, limit or None)
    ws.log("view_list", detail={"list": "review_queue", "rows": len(out)})
    return out


@service("link.review", what="link {decision}")
def decide(ws: Workspace, record_id: int, decision: str, person_id: str | None = None) -> int:
    """accept (link to person_id) / reject (not this person) / not_in_registry / split (off a person's page)."""
    if decision not in ("accept", "reject", "not_in_registry", "split"):
        raise InputRefused(f"判断 {decision} はありません。")
    with ws.session() as s:
        rec = s.get(SourceRecord, record_id)
        if rec is None:
            raise NotFound(f"レコード {record_id} はありません。")
        link = s.get(Link, record_id)
        if decision in ("accept", "reject", "split") and not person_id:
            person_id = link.person_id if link else None
        if decision == "accept" and (not person_id or s.get(Person, person_id) is None):
            raise NotFound(f"こども・住民 {person_id} はありません。")
        d = LinkDecision(record_id=record_id, person_id=person_id, decision=decision, decided_by=ws.user.name)
        s.add(d)
        s.flush()
        new_status, new_pid = {"accept": ("confirmed", person_id)}.get(decision, ("unlinked", None))
        if link is None:
            s.add(
                Link(
                    record_id=record_id,
                    person_id=new_pid,
                    status=new_status,
                    method="human",
                    decided_by=ws.user.name,
                    decided_at=_now(),
                )
            )
        else:
            link.status, link.person_id, link.method = new_status, new_pid, "human"
            link.decided_by, link.decided_at = ws.user.name, _now()
        if decision == "accept" and person_id:  # (always set for accept: checked above)
            open_case_on_accept(s, rec, person_id, ws.user.name)  # a handed-over child's case opens here
        ws.log("link_decision", person_id, {"record_id": record_id, "decision": decision, "decision_id": d.id}, conn=s)
        return d.id


@service("link.review", what="link undo")
def undo_decision(ws: Workspace, decision_id: int | None = None) -> dict:
    """Undo a decision (the latest of this user's when no id is given); the record goes back to review."""
    with ws.session() as s:
        q = select(LinkDecision).where(LinkDecision.undone_at.is_(None))
        q = (
            q.where(LinkDecision.id == decision_id)
            if decision_id
            else q.where(LinkDecision.decided_by == ws.user.name).order_by(LinkDecision.id.desc()).limit(1)
        )
        d = s.scalar(q)
        if d is None:
            raise NotFound("取り消せる判断がありません。")
        d.undone_at, d.undone_by = _now(), ws.user.name
        link = s.get(Link, d.record_id)
        if link is not None:
            cands = link.candidates or []
            best = cands[0].get("person_id") if cands and isinstance(cands[0], dict) else d.person_id
            link.status, link.person_id, link.method = "review", best, "undo"
        ws.log("link_undo", d.person_id, {"record_id": d.record_id, "decision_id": d.id}, conn=s)
        return {"record_id": d.record_id, "decision_id": d.id}


@service("link.review", what="link decisions")
def recent_decisions(ws: Workspace, limit: int = 50) -> list[dict]:
    """The latest human decisions, newest first, with who took them and whether (and by whom) they were undone —
    the review page's undo list."""
    with ws.session() as s:
        q = (
            select(LinkDecision, SourceRecord)
            .join(SourceRecord, SourceRecord.id == LinkDecision.record_id)
            .order_by(LinkDecision.id.desc())
            .limit(limit)
        )
        return [
            {
                "decision_id": d.id,
                "record_id": d.record_id,
                "person_id": d.person_id,
                "decision": d.decision,
                "decided_by": d.decided_by,
                "decided_at": d.decided_at,
                "undone_at": d.undone_at,
                "undone_by": d.undone_by,
                "source_type": rec.source_type,
                "row_number": rec.row_number,
                "name": rec.name,
            }
            for d, rec in s.execute(q).all()
        ]


def link_counts(ws: Workspace) -> dict:
    with ws.session() as s:
        return dict(s.execute(text("SELECT status, count(*) FROM link GROUP BY status")).all())
