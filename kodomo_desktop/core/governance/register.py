"""Purpose and legal basis, retention, the 個人情報ファイル簿 draft and the annual self-inspection (自己点検).

Small towns have no lawyer on staff: these functions hand them drafts built from what the database really holds,
not blank pages. Defaults follow the guideline's chapter 4: in-purpose use under 個人情報保護法 61条1項, or
out-of-purpose provision under 69条2項2号・3号.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select, text

from .. import figures
from ..audit.log import verify_chain
from ..errors import InputRefused
from ..importing import fields as F
from ..importing.service import remove_batch
from ..policy import DEFAULT_RETENTION_MONTHS as DEFAULT_RETENTION_MONTHS  # re-exported (core/policy.py)
from ..policy import DEFAULT_SOURCES as DEFAULT_SOURCES
from ..policy import _cutoff, ensure_defaults
from ..policy import expired_cutoffs as expired_cutoffs
from ..policy import sources_without_basis as sources_without_basis
from ..services import service
from ..storage.db import raw_connect
from ..storage.models import (
    AppUser,
    LegalBasis,
    OptOut,
    RetentionPolicy,
    SelfInspection,
    Setting,
    SourceBatch,
)
from ..vocab import source_label

if TYPE_CHECKING:
    from ..workspace import Workspace

BASIS_LABELS = {
    "61-1": "個人情報保護法 第61条第1項（所掌事務の遂行に必要な範囲内での保有・利用）",
    "69-2-2": "個人情報保護法 第69条第2項第2号（行政機関等の内部での目的外利用・相当の理由）",
    "69-2-3": "個人情報保護法 第69条第2項第3号（他の行政機関等への提供・相当の理由）",
    "other": "その他（備考欄に根拠を記載）",
}


@service("governance.read", what="legal basis")
def legal_bases(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        ensure_defaults(s)
        return [
            {
                "kind": b.kind,
                "key": b.key,
                "purpose": b.purpose,
                "basis": b.basis,
                "basis_label": BASIS_LABELS.get(b.basis or "", ""),
                "department": b.department,
                "note": b.note,
                "shown_on_sheets": b.shown_on_sheets,
            }
            for b in s.scalars(select(LegalBasis).order_by(LegalBasis.id))
        ]


@service("governance.write", what="legal basis")
def set_legal_basis(
    ws: Workspace,
    kind: str,
    key: str,
    *,
    purpose: str,
    basis: str,
    department: str | None = None,
    note: str | None = None,
    shown_on_sheets: bool = True,
) -> None:
    if basis not in BASIS_LABELS:
        raise InputRefused(f"根拠は {', '.join(BASIS_LABELS)} のいずれかです。")
    if basis == "other" and not (note or "").strip():
        raise InputRefused("「その他」の根拠は備考に記載してください。")
    with ws.session() as s:
        b = s.scalar(select(LegalBasis).where(LegalBasis.kind == kind, LegalBasis.key == key)) or LegalBasis(
            kind=kind, key=key
        )
        b.purpose, b.basis, b.department, b.note, b.shown_on_sheets = purpose, basis, department, note, shown_on_sheets
        b.changed_by, b.changed_at = ws.user.name, dt.datetime.now().replace(microsecond=0)
        s.add(b)
        ws.log("settings_changed", detail={"what": "legal_basis", "kind": kind, "key": key, "basis": basis}, conn=s)


@service("governance.read", what="legal basis")
def purpose_table(ws: Workspace) -> list[dict]:
    """Purpose and legal basis of every source type (imported or known) and every indicator of the catalogue, for
    the governance page. An indicator without its own entry shows the catalogue's default (``default: True``);
    ``missing`` marks a row without a recorded basis (the page highlights it)."""
    from ..scoring.catalogue import load_catalogue  # lazy: loads numpy, pandas, only needed here

    with ws.session() as s:
        ensure_defaults(s)
        rows = {(b.kind, b.key): b for b in s.scalars(select(LegalBasis))}
        imported = set(s.scalars(select(SourceBatch.source_type).where(SourceBatch.removed_at.is_(None)).distinct()))
        out = []
        src_keys = (
            list(DEFAULT_SOURCES)
            + sorted({k for (kind, k) in rows if kind == "source"} - set(DEFAULT_SOURCES))
            + sorted(imported - set(DEFAULT_SOURCES) - {k for (kind, k) in rows if kind == "source"})
        )
        for st in src_keys:
            b = rows.get(("source", st))
            out.append(
                {
                    "kind": "source",
                    "key": st,
                    "label": (F.SOURCE_TYPES.get(st) or {}).get("label", st),
                    "source_type": st,
                    "purpose": b.purpose if b else None,
                    "basis": b.basis if b else None,
                    "department": b.department if b else None,
                    "note": b.note if b else None,
                    "shown_on_sheets": bool(b.shown_on_sheets) if b else False,
                    "imported": st in imported,
                    "default": False,
                    "changed_by": b.changed_by if b else None,
                }
            )
        dept = {r["key"]: r["department"] for r in out}
        for ind in load_catalogue().get("indicators", []):
            b = rows.get(("indicator", ind["id"]))
            st = ind.get("source_type")
            if b is not None:
                row = {
                    "purpose": b.purpose,
                    "basis": b.basis,
                    "department": b.department,
                    "note": b.note,
                    "shown_on_sheets": bool(b.shown_on_sheets),
                    "default": False,
                    "changed_by": b.changed_by,
                }
            else:
                row = {
                    "purpose": ind.get("purpose"),
                    "basis": ind.get("legal_basis_code"),
                    "department": dept.get(st),
                    "note": "既定値（指標カタログ）",
                    "shown_on_sheets": bool(ind.get("shown_on_sheets")),
                    "default": True,
                    "changed_by": None,
                }
            out.append(
                {
                    "kind": "indicator",
                    "key": ind["id"],
                    "label": ind.get("label_ja", ind["id"]),
                    "source_type": st,
                    "imported": st in imported,
                    **row,
                }
            )
    for r in out:
        r["basis_label"] = BASIS_LABELS.get(r["basis"] or "", "")
        r["missing"] = not r["basis"] or (r["basis"] == "other" and not (r["note"] or "").strip())
    return out


def missing_basis_sources(ws: Workspace) -> list[str]:
    """The dashboard's warning: imported source types with no legal basis yet (names of source types only)."""
    with ws.session() as s:
        return sources_without_basis(s)


# --- retention ---------------------------------------------------------------------------------------------------
@service("governance.read", what="retention")
def retention(ws: Workspace) -> list[dict]:
    with ws.session() as s:
        ensure_defaults(s)
        return [
            {"subject": r.subject, "months": r.months, "note": r.note}
            for r in s.scalars(select(RetentionPolicy).order_by(RetentionPolicy.subject))
        ]


@service("governance.write", what="retention")
def set_retention(ws: Workspace, subject: str, months: int, note: str | None = None) -> None:
    if months < 1:
        raise InputRefused("保存期間は1か月以上にしてください。")
    with ws.session() as s:
        r = s.get(RetentionPolicy, subject) or RetentionPolicy(subject=subject)
        r.months, r.note, r.changed_by = months, note, ws.user.name
        s.add(r)
        ws.log("settings_changed", detail={"what": "retention", "subject": subject, "months": months}, conn=s)


@service("governance.read", what="retention expired")
def expired(ws: Workspace, on: dt.date | None = None) -> list[dict]:
    """Batches older than their source's retention period (by as-of date), grouped for the purge view."""
    on = on or dt.date.today()
    with ws.session() as s:
        ensure_defaults(s)
        policy = {r.subject: r.months for r in s.scalars(select(RetentionPolicy))}
        old = [
            b
            for b in s.scalars(select(SourceBatch).where(SourceBatch.removed_at.is_(None)))
            if policy.get(b.source_type) and b.as_of and b.as_of < _cutoff(on, policy[b.source_type])
        ]
        counts = figures.batch_records(ws, s, [b.id for b in old])
        return [
            {
                "batch_id": b.id,
                "source_type": b.source_type,
                "file_name": b.file_name,
                "as_of": b.as_of,
                "records": counts[b.id],
                "retention_months": policy[b.source_type],
            }
            for b in old
        ]


@service("governance.read", what="retention expired")
def expired_casework(ws: Workspace, on: dt.date | None = None) -> list[dict]:
    """Support cases closed (終結) longer ago than the casework retention period, with their progress records
    (ids, dates and counts only: the purge view names no one)."""
    on = on or dt.date.today()
    with ws.session() as s:
        ensure_defaults(s)
        months = s.scalar(select(RetentionPolicy.months).where(RetentionPolicy.subject == "casework"))
        if not months:
            return []
        return [
            {
                "case_id": cid,
                "person_id": pid,
                "closed_on": dt.date.fromisoformat(closed),
                "progress_records": n,
                "retention_months": months,
            }
            for cid, pid, closed, n in figures.closed_cases(ws, s, _cutoff(on, months))
        ]


def vacuum(ws: Workspace) -> None:
    """Rewrite the file so freed pages (which may hold deleted names) are gone; outside any transaction."""
    con = raw_connect(ws.path, ws.raw_key())
    try:
        con.execute("VACUUM")
    finally:
        con.close()


@service("governance.write", what="purge")
def purge_expired(ws: Workspace, on: dt.date | None = None) -> dict:
    items = expired(ws, on)
    cases = expired_casework(ws, on)
    total = 0
    for it in items:
        total += remove_batch(ws, it["batch_id"], reason="保存期間満了")["removed_records"]
    progress = 0
    if cases:
        ids = {"ids": [c["case_id"] for c in cases]}
        with ws.session() as s:
            c = s.connection()
            progress = c.execute(
                text("DELETE FROM progress_record WHERE case_id IN :ids").bindparams(bindparam("ids", expanding=True)),
                ids,
            ).rowcount
            c.execute(
                text("DELETE FROM support_case WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)), ids
            )
    ws.log(
        "purge",
        detail={
            "batches": [i["batch_id"] for i in items],
            "records": total,
            "cases": [c["case_id"] for c in cases],
            "progress_records": progress,
        },
    )
    vacuum(ws)
    return {"batches": len(items), "records": total, "cases": len(cases), "progress_records": progress}


# --- 個人情報ファイル簿 ------------------------------------------------------------------------------------------------
@service("governance.read", what="file register")
def file_register(ws: Workspace) -> dict:
    """The draft 個人情報ファイル簿 from what the database really holds (counts are live)."""
    with ws.session() as s:
        ensure_defaults(s)
        town = s.get(Setting, "town_name")
        bases = {b.key: b for b in s.scalars(select(LegalBasis).where(LegalBasis.kind == "source"))}
        retention = {r.subject: r.months for r in s.scalars(select(RetentionPolicy))}
        counts = figures.register_counts(ws, s)  # from children's data (the audit copy: as of its sync)
        held, held_items = counts["held"], counts["items_held"]
        persons, children = counts["persons"], counts["children"]
        optouts = s.scalar(select(func.count()).where(OptOut.removed_at.is_(None)))
        provisions = [
            {k: v for k, v in (r.value or {}).items() if k != "key"}
            for r in s.scalars(select(Setting).where(Setting.key.like("pseudonymised_export:%")).order_by(Setting.key))
        ]
    items = []
    for st, n_persons, n_rows in held:
        meta = F.SOURCE_TYPES.get(st, {}) if isinstance(F.SOURCE_TYPES, dict) else {}
        b = bases.get(st)
        items.append(
            {
                "source_type": st,
                "label": meta.get("label") or source_label(st),
                "department": b.department if b else "",
                "purpose": b.purpose if b else "（未設定）",
                "basis": BASIS_LABELS.get(b.basis or "", "（未設定）") if b else "（未設定）",
                "basis_code": b.basis if b else None,
                "basis_note": b.note if b else None,
                "items": "、".join(_held_labels(meta, held_items.get(st, ())) or _field_labels(meta)),
                "persons": int(n_persons or 0),
                "rows": int(n_rows),
                "retention_months": retention.get(st),
            }
        )
    town_v = town.value if town else None
    if isinstance(town_v, dict):
        town_v = town_v.get("name") or town_v.get("value")
    return {
        "town": str(town_v).strip() if town_v and str(town_v).strip() else "（町名未設定）",
        "file_name": "こどもデータ連携ファイル",
        "purpose": "支援が必要なこどもと家庭を早期に把握し、プッシュ型・アウトリーチ型の支援につなぐため",
        "persons_total": persons,
        "children": children,
        "opt_outs": optouts,
        "kinds_of_persons": "町内に住所を有する 0〜18 歳のこども及びその世帯員",
        "recipients": "庁内の支援担当課（こども家庭センター）。"
        + (
            "外部提供なし（要保護児童対策地域協議会での共有を除く）"
            if not provisions
            else "仮名加工した情報の提供 "
            + "、".join(f"{p.get('export_id')}（{p.get('purpose')}、{p.get('persons')}人）" for p in provisions)
            + "（対応表は町が保管）。要保護児童対策地域協議会での共有"
        ),
        "provisions": provisions,
        "collection": "庁内各課の保有する情報（下表）",
        "items": items,
        "catalogue_changes": catalogue_changes(ws),
        "generated_at": dt.date.today().isoformat(),
    }


def catalogue_changes(ws: Workspace) -> list[dict]:
    """Every adoption of the town's own catalogue (issue 19: its source types, difficulty types and indicators),
    oldest first, with the weight-set version it belongs to (aggregates only, no person)."""
    with ws.session() as s:
        h = s.get(Setting, "town_catalogue_history")
        rows = list(h.value) if h is not None and isinstance(h.value, list) else []
    return [
        {
            "version": e.get("version"),
            "at": e.get("at"),
            "by": e.get("by"),
            "reason": e.get("reason"),
            "weight_set_version": e.get("weight_set_version"),
            "changes": e.get("changes") or {},
        }
        for e in rows
    ]


_EXTRA_LABELS = {"recipient": "受給者・保護者の氏名等", "extra": "その他の列（原本のまま）"}


def _held_labels(meta: dict, held) -> list[str]:
    ident, attrs = meta.get("identity") or {}, meta.get("attributes") or {}
    labels: list[str] = []
    for k in held:
        spec = ident.get(k) or attrs.get(k)
        label = str(spec.get("label") or k) if isinstance(spec, dict) else _EXTRA_LABELS.get(k, k)
        if label not in labels:
            labels.append(label)
    return labels


def _field_labels(meta: dict) -> list[str]:
    out = []
    for key in ("identity", "attributes", "fields"):
        v = meta.get(key)
        if isinstance(v, dict):
            out += [str(x.get("label", k)) if isinstance(x, dict) else str(x) for k, x in v.items()]
        elif isinstance(v, list):
            out += [str(x.get("label", x.get("name", ""))) if isinstance(x, dict) else str(x) for x in v]
    return out[:30]


def resident_notice(ws: Workspace) -> str:
    """A short notice for the website and the 広報誌, drawn from the same data."""
    reg = file_register(ws)
    depts = sorted({i["department"] for i in reg["items"] if i["department"]})
    return (
        f"【{reg['town']}からのお知らせ】こどもデータ連携について\n"
        f"{reg['town']}では、{reg['purpose']}、町が保有する情報（{'、'.join(depts) or '各課の情報'}）を、"
        "庁内で連携して活用しています。情報は暗号化した専用の端末でのみ扱い、担当者以外は閲覧できません。"
        "点数は支援を検討するきっかけとして用いるもので、これだけで判断することはありません。\n"
        "ご自身やお子さんの情報の利用停止（不同意）、開示、訂正、削除をご希望の方は、こども家庭センターまで"
        "お申し出ください。"
    )


# --- self-inspection --------------------------------------------------------------------------------------------------
MANUAL_ITEMS = [
    ("policy", "取扱規程（利用目的・根拠・安全管理措置）を定め、職員に周知しているか"),
    ("training", "取扱者に年1回以上の研修を行ったか"),
    ("room", "端末は施錠できる場所に置き、画面ののぞき見を防いでいるか"),
    ("paper", "印刷した会議資料を回収・廃棄（シュレッダー）しているか"),
    ("notice", "住民への周知（ウェブサイト・広報誌）を行ったか"),
    ("optout", "利用停止（不同意）の申出に対応できる手順があるか"),
    ("usb", "バックアップ媒体を施錠保管しているか"),
]


@service("governance.read", what="self inspection")
def self_inspection_auto(ws: Workspace) -> dict:
    """The items the database answers itself."""
    year_ago = dt.datetime.now() - dt.timedelta(days=365)
    with ws.session() as s:
        users = s.scalars(select(AppUser).where(AppUser.removed_at.is_(None))).all()
        idle = [u.name for u in users if (u.last_sign_in_at or u.created_at) < year_ago]
        roles: dict[str, int] = {}
        for u in users:
            roles[u.role] = roles.get(u.role, 0) + 1
        last_backup = s.get(Setting, "last_backup_at")
        missing_basis = sources_without_basis(s)

    with ws.engine.connect() as c:
        chain = verify_chain(c)
    exp = expired(ws)
    exp_cases = expired_casework(ws)
    return {
        "users_without_sign_in_for_a_year": idle,
        "roles": roles,
        "last_backup_at": last_backup.value if last_backup else None,
        "log_chain_ok": chain.ok,
        "log_entries": chain.entries,
        "first_broken_entry": chain.first_broken,
        "sources_without_legal_basis": missing_basis,
        "expired_not_purged": len(exp),
        "expired_cases_not_purged": len(exp_cases),
        "catalogue_changes": [
            c for c in catalogue_changes(ws) if str(c.get("at") or "") >= year_ago.isoformat(timespec="seconds")
        ],
    }


@service("governance.read", what="self inspection")
def load_self_inspection(ws: Workspace, fiscal_year: int) -> dict | None:
    """The saved self-inspection of one fiscal year (manual answers, the automatic items as they were when saved,
    who saved it and when), or None."""
    with ws.session() as s:
        row = s.scalar(select(SelfInspection).where(SelfInspection.fiscal_year == fiscal_year))
        if row is None:
            return None
        a = row.answers or {}
        return {
            "fiscal_year": fiscal_year,
            "manual": a.get("manual", {}),
            "auto": a.get("auto", {}),
            "saved_by": row.saved_by,
            "saved_at": row.saved_at.isoformat() if row.saved_at else None,
        }


@service("governance.read", what="self inspection")
def self_inspection_years(ws: Workspace) -> list[int]:
    with ws.session() as s:
        return sorted(s.scalars(select(SelfInspection.fiscal_year)), reverse=True)


@service("governance.read", what="self inspection save")
def save_self_inspection(ws: Workspace, fiscal_year: int, answers: dict) -> dict:
    bad = [k for k in answers if k not in dict(MANUAL_ITEMS) and not k.endswith("_note")]
    if bad:
        raise InputRefused(f"点検項目 {bad[0]} はありません。")
    auto = self_inspection_auto(ws)
    with ws.session() as s:
        row = s.scalar(select(SelfInspection).where(SelfInspection.fiscal_year == fiscal_year)) or SelfInspection(
            fiscal_year=fiscal_year
        )
        row.answers = {"manual": answers, "auto": auto}
        row.saved_by, row.saved_at = ws.user.name, dt.datetime.now().replace(microsecond=0)
        s.add(row)
        ws.log("settings_changed", detail={"what": "self_inspection", "fiscal_year": fiscal_year}, conn=s)
    return {"fiscal_year": fiscal_year, "auto": auto, "manual": answers}
