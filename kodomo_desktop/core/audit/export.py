"""Access-log export (CLI ``log``, the log viewer's CSV/Excel export). Exporting is itself logged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from .. import outputs
from ..services import service
from . import log as audit

if TYPE_CHECKING:
    from ..workspace import Workspace

LOG_COLUMNS = ["seq", "at", "user", "action", "person_id", "detail", "hash"]


def _log_where(user=None, action=None, person_id=None, since=None, until=None) -> tuple[str, dict]:
    where, params = [], {}
    for col, val in (("user", user), ("action", action), ("person_id", person_id)):
        if val:
            where.append(f"{col} = :{col}")
            params[col] = val
    if since:
        where.append("at >= :since")
        params["since"] = str(since)
    if until:
        where.append("at < :until")
        params["until"] = str(until)
    return (" WHERE " + " AND ".join(where)) if where else "", params


@service("log.read", what="log")
def read_log(
    ws: Workspace, *, user=None, action=None, person_id=None, since=None, until=None, limit=None
) -> list[dict]:
    where, params = _log_where(user, action, person_id, since, until)
    sql = "SELECT seq, at, user, action, person_id, detail, hash FROM access_log" + where + " ORDER BY seq"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with ws.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(text(sql), params)]


#: from how many entries down :func:`log_page` finds an unfiltered page by entry number instead of OFFSET
DEEP_OFFSET = 2_000

#: the orders :func:`log_page` knows (the 操作ログ page sorts by these columns)
LOG_ORDERS = {"seq": "seq", "user": "user, seq", "action": "action, seq", "person_id": "person_id, seq"}


@service("log.read", what="log")
def log_count(ws: Workspace, *, user=None, action=None, person_id=None, since=None, until=None) -> int:
    """How many entries match the filters (SQL only; the 操作ログ page's count)."""
    where, params = _log_where(user, action, person_id, since, until)
    with ws.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM access_log" + where), params).scalar() or 0)


@service("log.read", what="log")
def log_page(
    ws: Workspace,
    limit: int,
    offset: int = 0,
    order: str = "seq",
    descending: bool = True,
    *,
    user=None,
    action=None,
    person_id=None,
    since=None,
    until=None,
) -> list[dict]:
    """One page of the entries matching the filters, newest first by default, ordered in SQL (:data:`LOG_ORDERS`);
    each row also has ``label``, the action in Japanese. The 操作ログ page fetches these as it scrolls."""
    where, params = _log_where(user, action, person_id, since, until)
    keys = LOG_ORDERS.get(order, "seq").split(", ")
    direction = " DESC" if descending else ""
    cols = "SELECT seq, at, user, action, person_id, detail, hash FROM access_log"
    sql = (
        cols
        + where
        + " ORDER BY "
        + ", ".join(k + direction for k in keys)
        + f" LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    with ws.engine.connect() as c:
        if not where and order == "seq" and offset > DEEP_OFFSET:
            # far down the whole log in time order: numbers run 1, 2, 3… without a gap (the chain), so the entry
            # ``offset`` places down is found by its number — a jump 100,000 entries deep reads one page, not the
            # 100,000 entries above it (OFFSET walks them). A log with a gap (a broken chain) pages as before.
            lo, hi, n = c.execute(text("SELECT min(seq), max(seq), count(*) FROM access_log")).one()
            if n and hi - lo + 1 == n:
                edge = hi - int(offset) if descending else lo + int(offset)
                sql = cols + (" WHERE seq <= :edge" if descending else " WHERE seq >= :edge")
                sql += f" ORDER BY seq{direction} LIMIT {int(limit)}"
                params = {"edge": edge}
        rows = [dict(r._mapping) for r in c.execute(text(sql), params)]
    for r in rows:
        r["label"] = audit.ACTION_LABELS.get(r["action"], r["action"])
    return rows


def export_log(ws: Workspace, out: Path, **filters) -> dict:
    refresh = getattr(ws, "refresh_audit_copy", None)  # the town's: the auditors' reads are copied in first
    if refresh is not None:
        refresh()
    rows = read_log(ws, **filters)
    with ws.engine.connect() as c:
        chain = audit.verify_chain(c)
    out = Path(out)
    if out.suffix.lower() == ".xlsx":
        from openpyxl import Workbook  # lazy: loads openpyxl, only needed here

        wb = Workbook()
        sh = wb.active
        sh.title = "操作ログ"
        sh.append(["番号", "日時", "利用者", "操作", "操作（日本語）", "こどもID", "詳細", "ハッシュ"])
        for r in rows:
            outputs.safe_append(
                sh,
                [
                    r["seq"],
                    r["at"],
                    r["user"],
                    r["action"],
                    audit.ACTION_LABELS.get(r["action"], ""),
                    r["person_id"],
                    r["detail"],
                    r["hash"],
                ],
            )
        outputs.save_workbook(wb, out)
    else:
        outputs.write_csv(out, LOG_COLUMNS, ([r[c] for c in LOG_COLUMNS] for r in rows))
    ws.log("export", detail={"what": "access_log", "entries": len(rows), "format": out.suffix.lower()})
    return {"entries": len(rows), "chain_ok": chain.ok, "first_broken_entry": chain.first_broken, "out": str(out)}


@service("log.read", what="log chain")
def chain_state(ws: Workspace) -> audit.ChainReport:
    """The hash chain's state for the 操作ログ page (``log.read``): entries, ok, first_broken, problem."""
    with ws.engine.connect() as c:
        return audit.verify_chain(c)
