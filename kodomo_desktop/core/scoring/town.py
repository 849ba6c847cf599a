"""The town's own catalogue: its source types, difficulty types, indicators and take-up gaps (issue 19).

Stored in the setting ``town_catalogue`` (the shipped ``resources/indicators.json`` format, extended with
``source_types`` — importing/town_types.py — and ``takeup_gaps``); until a town adopts one, the shipped catalogue
is used. Every change goes through :func:`adopt_catalogue`: the whole catalogue is checked (:func:`problems` names
every problem: unknown source or field, a window that is not positive, a difficulty type with no item, a missing
caveat …), previewed with the weight-set preview (current → proposed), adopted *together with* a new weight-set
version (the catalogue version and the weight set it belongs to are recorded side by side in
``town_catalogue_history``), and logged (``catalogue_adopted``).

**Take-up gaps** (``takeup_gaps``): a family that could use a service but does not — present in A and absent in B
within a window (住民税非課税 with no 就学援助; a 乳幼児健診 not attended with no follow-up). They are never scored:
they are shown on the child's page as 「利用できる可能性のある支援」 with the rule that found them (a prompt for
outreach), and are evaluated only once both sources have been imported.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import weakref
from pathlib import Path

from sqlalchemy import func, select

from .. import outputs
from ..errors import InputRefused
from ..importing import fields as F
from ..importing import town_types as TT
from ..settings import get as _get_setting
from ..storage.models import LegalBasis, Setting, WeightSet
from ..workspace import on_close, on_open
from . import catalogue as C
from .rules import RECORD_COLUMNS, RuleError, validate_rule

SETTING_KEY = TT.SETTING_KEY
HISTORY_KEY = "town_catalogue_history"
FORMAT = "kodomo-indicators"
GAP_HEADING = "利用できる可能性のある支援"
OPS_JA = {
    "==": "＝",
    "!=": "≠",
    ">=": "≥",
    ">": "＞",
    "<=": "≤",
    "<": "＜",
    "in": "のいずれか",
    "not_in": "以外",
    "exists": "あり",
    "missing": "なし",
    "is_true": "有",
    "is_false": "無",
    "contains_any": "を含む",
}


# --- the stored catalogue -------------------------------------------------------------------------------------------
def _canonical(cat: dict) -> dict:
    """The catalogue as stored and exported: validated (defaults filled in), without internal keys."""
    out = copy.deepcopy(cat)
    checked = C.validate_catalogue(copy.deepcopy(out))
    out = {k: v for k, v in checked.items() if k != "indicators"}
    out["indicators"] = C.public_view(checked)
    out.setdefault("source_types", {})
    out.setdefault("takeup_gaps", [])
    return out


def shipped() -> dict:
    path = C.catalogue_path()
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    with _types({}):
        return _canonical(raw)


def current(ws) -> dict:
    """The catalogue the town scores with (its own, else the shipped one)."""
    stored = _get_setting(ws, SETTING_KEY)
    return copy.deepcopy(stored) if isinstance(stored, dict) else shipped()


def history(ws) -> list[dict]:
    ws.require("score.read", what="catalogue history")
    h = _get_setting(ws, HISTORY_KEY)
    return list(h) if isinstance(h, list) else []


_APPLIED: list = []  # the workspace whose catalogue is in use (a weak reference)


def apply(ws) -> None:
    """Workspace-open hook: the scoring engine, the reports and the register read the town's catalogue."""

    _APPLIED[:] = [weakref.ref(ws)]
    TT.apply(ws)
    try:
        stored = _get_setting(ws, SETTING_KEY)
    except Exception:  # a locked or half-upgraded workspace: the shipped catalogue
        stored = None
    try:
        C.set_town_catalogue(stored if isinstance(stored, dict) else None)
    except InputRefused:  # a catalogue the app can no longer read: the shipped one (the editor shows why)
        C.set_town_catalogue(None)


def release(ws) -> None:
    """Workspace-close hook: when the workspace whose catalogue is in use closes, back to the shipped one."""
    if _APPLIED and _APPLIED[0]() is ws:
        _APPLIED.clear()
        C.set_town_catalogue(None)
        F.register_town_types(())


on_open(apply)
on_close(release)


class _types:
    """Register a candidate catalogue's source types for the duration of a check; restore afterwards."""

    def __init__(self, source_types: dict, keep: bool = False):
        self.new = source_types or {}
        self.keep = keep

    def __enter__(self):
        self.old = {k: F.SOURCES[k] for k in F.town_type_keys()}
        TT.register(self.new)
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is not None or not self.keep:
            F.register_town_types(self.old.values())
        return False


# --- the soundness check --------------------------------------------------------------------------------------------
def _fields_of(cat: dict, st: str) -> set[str] | None:
    town = cat.get("source_types") or {}
    if st in town and isinstance(town[st], dict):
        attrs = {a.get("field") for a in town[st].get("attributes") or [] if isinstance(a, dict)}
    elif st in F.SHIPPED_SOURCES:
        attrs = set(F.SOURCE_TYPES[st]["attributes"])
    else:
        return None
    extra = {"group_counts", "round_id"} if st == "school_checklist" else set()
    return {a for a in attrs if a} | set(F.IDENTITY_BY_NAME) | RECORD_COLUMNS | extra


def _check_reader(cat: dict, ind: dict, where: str, types: list, out: list[str]) -> None:
    st = ind.get("source_type")
    fields = _fields_of(cat, st) if isinstance(st, str) else None
    if fields is None:
        out.append(f"{where}取込元「{st}」はありません。")
    rule = ind.get("rule")
    if not rule:
        out.append(f"{where}rule（条件）がありません。")
    else:
        try:
            used = validate_rule(rule, where)
        except RuleError as e:
            out.append(e.message_ja)
            used = set()
        if fields is not None:
            for f in sorted(used - fields):
                label = (cat.get("source_types") or {}).get(st, {}).get("label") or F.SOURCE_TYPES.get(str(st), {}).get(
                    "label", st
                )
                out.append(f"{where}項目「{f}」は取込元「{label}」にありません。")
    w = ind.get("window_months")
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w <= 0):
        out.append(f"{where}期間（window_months）は正の整数（か、期限なしの null）にしてください（{w!r}）。")
    if ind.get("whose", "child") not in C.WHOSE:
        out.append(f"{where}whose は child・parent・household・other のいずれかです。")


def problems(cat) -> list[str]:
    """Every problem that keeps a catalogue from being adopted, in Japanese (empty: sound)."""
    out: list[str] = []
    if not isinstance(cat, dict):
        return ["指標カタログの形式が正しくありません（JSON のオブジェクトではありません）。"]
    if cat.get("format") not in (None, FORMAT):
        out.append(f"指標カタログのファイルではありません（format: {cat.get('format')!r}）。")
    if not str(cat.get("caveat") or "").strip():
        out.append("caveat（スコアは判定ではないという注意書き）がありません。消さずに残してください。")
    types = cat.get("difficulty_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t.strip() for t in types):
        out.append("difficulty_types（困難の種類）は名前のリストにしてください。")
        types = []
    elif len(set(types)) != len(types):
        out.append("difficulty_types（困難の種類）に同じ名前が2回あります。")
    st_defs = cat.get("source_types") or {}
    if not isinstance(st_defs, dict):
        out.append("source_types（町が定義した取込元）の形式が正しくありません。")
        st_defs = {}
    for key, spec in st_defs.items():
        out += TT.problems(key, spec)
    for key in cat.get("sources") or {}:
        if key not in F.SHIPPED_SOURCES and key not in st_defs:
            out.append(f"sources の取込元「{key}」はありません。")
    inds = cat.get("indicators")
    if not isinstance(inds, list):
        out.append("indicators（指標）がありません。")
        inds = []
    seen: set = set()
    items = {t: 0 for t in types}
    for ind in inds:
        if not isinstance(ind, dict):
            out.append("指標の形式が正しくありません。")
            continue
        iid = ind.get("id")
        where = f"指標「{ind.get('label_ja') or iid}」: "
        if not iid or iid in seen:
            out.append(f"指標の id {iid!r} が空か重複しています。")
        seen.add(str(iid))
        if not str(ind.get("label_ja") or "").strip():
            out.append(f"{where}label_ja（名前）がありません。")
        _check_reader(cat, ind, where, types, out)
        pts = ind.get("points") or {}
        if not isinstance(pts, dict):
            out.append(f"{where}points は {{困難の種類: 点数}} にしてください。")
            pts = {}
        for t, p in pts.items():
            if t not in items:
                out.append(f"{where}困難の種類「{t}」は difficulty_types にありません。")
            elif isinstance(p, bool) or not isinstance(p, (int, float)):
                out.append(f"{where}{t} の点数は数にしてください。")
            elif p > 0 and ind.get("kind") != "protective":
                items[t] += 1
        if ind.get("kind") not in (None, "risk", *C.KINDS):
            out.append(f"{where}kind は own・household・poverty_proxy・protective のいずれかです。")
    for t, n in items.items():
        if not n:
            out.append(
                f"困難の種類「{t}」には点数のある指標が1つもありません（指標を加えるか、種類を削除してください）。"
            )
    gaps = cat.get("takeup_gaps") or []
    if not isinstance(gaps, list):
        out.append("takeup_gaps（利用できる可能性のある支援）の形式が正しくありません。")
        gaps = []
    for g in gaps:
        gid = g.get("id") if isinstance(g, dict) else None
        where = f"支援の候補「{(g or {}).get('label_ja') or gid}」: " if isinstance(g, dict) else ""
        if not isinstance(g, dict) or not gid or gid in seen:
            out.append(f"支援の候補の id {gid!r} が空か重複しています。")
            continue
        seen.add(gid)
        if not str(g.get("label_ja") or "").strip():
            out.append(f"{where}label_ja（名前）がありません。")
        if g.get("points"):
            out.append(f"{where}支援の候補は点数を持ちません（アウトリーチのきっかけで、リスクの点ではありません）。")
        for part in ("present", "absent"):
            if not isinstance(g.get(part), dict):
                out.append(f"{where}{part}（{'ある' if part == 'present' else 'ない'}記録の条件）がありません。")
            else:
                _check_reader(cat, g[part], f"{where}{part}: ", types, out)
    if not out:
        with _types(st_defs):
            try:
                C.validate_catalogue(copy.deepcopy(cat))
            except InputRefused as e:
                out.append(e.message_ja)
    return out


def check_or_refuse(cat) -> None:
    found = problems(cat)
    if found:
        raise InputRefused(
            f"指標カタログに {len(found)} 件の問題があります。何も変更していません。\n"
            + "\n".join(f"・{p}" for p in found)
        )


def read_file(path: Path) -> dict:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputRefused(f"ファイル {path} が見つかりません。")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputRefused(f"指標カタログ {Path(path).name} を読めません（{e}）。")
    if not isinstance(raw, dict):
        raise InputRefused("指標カタログの形式が正しくありません（JSON のオブジェクトではありません）。")
    return raw


def dumps(cat: dict) -> str:
    return json.dumps(cat, ensure_ascii=False, indent=2) + "\n"


def export(ws, out: Path) -> dict:
    """Write the town's catalogue (same format as resources/indicators.json; owner-only file)."""
    ws.require("score.read", what="catalogue export")
    cat = current(ws)
    text = dumps(cat)
    outputs.write_bytes(Path(out), text.encode("utf-8"))
    ws.log("catalogue_exported", detail={"indicators": len(cat["indicators"]), "sha256": _sha(text)})
    return {
        "out": str(out),
        "indicators": len(cat["indicators"]),
        "difficulty_types": len(cat["difficulty_types"]),
        "source_types": len(cat.get("source_types") or {}),
        "takeup_gaps": len(cat.get("takeup_gaps") or []),
        "sha256": _sha(text),
    }


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- weights that follow a catalogue change -------------------------------------------------------------------------
def migrate_weights(data: dict, old: dict, new: dict, renames: dict | None = None) -> dict:
    """The town's weight set carried over to a new catalogue: renamed types follow, removed types and indicators
    go, and an indicator whose default points or window the catalogue changed takes the new defaults."""
    from .weights import strip_meta  # lazy: loads numpy, only needed here

    r = dict(renames or {})
    types = list(new["difficulty_types"])
    bands = {b["label"] for b in new["age_bands"]}
    d = strip_meta(copy.deepcopy(data))
    d["types"] = types
    d["age_bands"] = copy.deepcopy(new["age_bands"])
    th = {}
    for t, per in (d.get("thresholds") or {}).items():
        t2 = r.get(t, t)
        if t2 in types and isinstance(per, dict):
            th[t2] = {ab: v for ab, v in per.items() if ab in bands}
    d["thresholds"] = th
    old_by = {i["id"]: i for i in old.get("indicators", [])}
    new_by = {i["id"]: i for i in new["indicators"]}
    inds = {}
    for iid, v in (d.get("indicators") or {}).items():
        if iid not in new_by or not isinstance(v, dict):
            continue
        v = dict(v)
        v["points"] = {r.get(t, t): p for t, p in (v.get("points") or {}).items() if r.get(t, t) in types}
        o, n = old_by.get(iid), new_by[iid]
        if o is not None:
            o_pts = {r.get(t, t): p for t, p in (o.get("points") or {}).items()}
            if o_pts != n.get("points", {}):
                v["points"] = dict(n.get("points", {}))
            if o.get("window_months") != n.get("window_months"):
                v["window_months"] = n.get("window_months")
        v["label_ja"] = n["label_ja"]
        inds[iid] = v
    d["indicators"] = inds
    pg = (d.get("proxy_guard") or {}).get("off") or {}
    d["proxy_guard"] = {"off": {r.get(t, t): why for t, why in pg.items() if r.get(t, t) in types}}
    sib = d.get("sibling") or {}
    if isinstance(sib.get("types"), list):
        sib["types"] = [r.get(t, t) for t in sib["types"] if r.get(t, t) in types]
    return d


def _changes(old: dict, new: dict) -> dict:
    o = {i["id"]: i for i in old.get("indicators", [])}
    n = {i["id"]: i for i in new.get("indicators", [])}
    return {
        "indicators_added": sorted(set(n) - set(o)),
        "indicators_removed": sorted(set(o) - set(n)),
        "indicators_changed": sorted(k for k in set(o) & set(n) if o[k] != n[k]),
        "types_added": [t for t in new["difficulty_types"] if t not in old.get("difficulty_types", [])],
        "types_removed": [t for t in old.get("difficulty_types", []) if t not in new["difficulty_types"]],
        "source_types_added": sorted(set(new.get("source_types") or {}) - set(old.get("source_types") or {})),
        "source_types_removed": sorted(set(old.get("source_types") or {}) - set(new.get("source_types") or {})),
        "takeup_gaps": [g["id"] for g in new.get("takeup_gaps") or []],
    }


def _preview(ws, old: dict, new: dict, cur_data: dict, new_data: dict, cur_version, as_of=None) -> dict:
    from . import service as S  # lazy: loads numpy, pandas, only needed here
    from .weights import diff  # lazy: loads numpy, only needed here

    on = S._as_date(as_of) or S.default_as_of(ws)
    cat_new = copy.deepcopy(C.validate_catalogue(copy.deepcopy(new)))
    # the records bring the fields both catalogues name (the new one may read items the current one does not)
    inp = S.load_input(ws, on, fields=S.E.needed_fields(cat_new, old, S.catalogue()))
    ctx_new = S.ScoringContext(inp, cat_new)
    _, s_new, m_new = ctx_new.score(new_data)
    _, s_cur, _ = ctx_new.score(migrate_weights(cur_data, old, new))
    pv = S.preview_from_scores(
        ctx_new,
        s_cur,
        s_new,
        m_new,
        changes=diff(migrate_weights(cur_data, old, new), new_data, ctx_new.cat),
        current_version=cur_version,
    )
    return pv


# --- adopting a catalogue -------------------------------------------------------------------------------------------
def adopt_catalogue(
    ws, cat: dict, reason: str, *, renames: dict | None = None, dry_run: bool = False, as_of=None
) -> dict:
    """Check, preview and adopt a whole catalogue with a new weight-set version (exit 2 and nothing changed when
    a problem is found). ``renames``: {old type: new type} so the town's thresholds and points follow."""
    from . import service as S  # lazy: loads numpy, pandas, only needed here
    from .weights import validate_weights  # lazy: loads numpy, only needed here

    ws.require("weights.edit", what="catalogue import")
    if not dry_run and not (reason or "").strip():
        raise InputRefused("指標カタログを変更する理由を入力してください（理由は必須です）。")
    check_or_refuse(cat)
    old = current(ws)
    with _types(cat.get("source_types") or {}, keep=not dry_run):
        new = _canonical(cat)
        if {k: v for k, v in new.items() if k != "version"} == {k: v for k, v in old.items() if k != "version"}:
            return {"changed": False, "version": _version(ws), "message": "指標カタログは変わっていません。"}
        # a new catalogue version: the weight set adopted with it is a new version too (catalogue_version)
        new["version"] = max(int(old.get("version") or 0), int(new.get("version") or 0)) + 1
        active = S.active_weights(ws)
        new_data = validate_weights(
            migrate_weights(active["data"], old, new, renames), C.validate_catalogue(copy.deepcopy(new))
        )
        pv = _preview(
            ws, old, new, migrate_weights(active["data"], old, new, renames), new_data, active["version"], as_of
        )
        changes = _changes(old, new)
        if dry_run:
            return {"changed": True, "dry_run": True, "changes": changes, "preview": S.preview_summary(pv)}
        previous = C._TOWN
        C.set_town_catalogue(new)
        try:
            wid = _save_weight_set(ws, new_data, f"指標カタログ 第{new['version']}版（{reason.strip()[:30]}）")
            adopted = S.adopt_weight_set(ws, wid, reason, preview=pv)
        except BaseException:
            C._TOWN = previous
            raise
    text = dumps(new)
    version = _version(ws) + 1
    entry = {
        "version": version,
        "at": dt.datetime.now().replace(microsecond=0).isoformat(),
        "by": ws.user.name,
        "reason": reason.strip(),
        "sha256": _sha(text),
        "weight_set_id": adopted["weight_set_id"],
        "weight_set_version": adopted["version"],
        "changes": changes,
        "preview": S.preview_summary(pv),
    }
    with ws.session() as s:
        row = s.get(Setting, SETTING_KEY)
        if row is None:
            s.add(Setting(key=SETTING_KEY, value=new))
        else:
            row.value = new
        h = s.get(Setting, HISTORY_KEY)
        if h is None:
            s.add(Setting(key=HISTORY_KEY, value=[entry]))
        else:
            h.value = list(h.value or []) + [entry]
        ws.log(
            "catalogue_adopted",
            detail={
                "version": version,
                "weight_set_version": adopted["version"],
                "indicators": len(new["indicators"]),
                "source_types": len(new.get("source_types") or {}),
            },
            conn=s,
        )
    _sync_legal_bases(ws, new)
    return {
        "changed": True,
        "version": version,
        "weight_set_id": adopted["weight_set_id"],
        "weight_set_version": adopted["version"],
        "changes": changes,
        "preview": S.preview_summary(pv),
    }


def _save_weight_set(ws, data: dict, name: str) -> int:
    """A new weight-set version for a new catalogue version, even when its points equal an earlier one's: the
    catalogue version and the weight set it belongs to go together."""

    from . import service as S  # lazy: loads numpy, pandas, only needed here

    with ws.session() as s:
        S._ensure_default(s)
        v = (s.scalar(select(func.max(WeightSet.version))) or 0) + 1
        w = WeightSet(version=v, name=name, data=data, created_by=ws.user.name, active=False)
        s.add(w)
        s.flush()
        ws.log("weights_saved", detail={"weight_set_id": w.id, "version": v}, conn=s)
        return w.id


def _version(ws) -> int:
    h = _get_setting(ws, HISTORY_KEY)
    return max((int(e.get("version") or 0) for e in h), default=0) if isinstance(h, list) else 0


BASIS_CODES = ("61-1", "69-2-2", "69-2-3", "other")  # governance/register.py BASIS_LABELS


def _sync_legal_bases(ws, cat: dict) -> None:
    """A town source type's purpose, basis and department go to the file register (its legal_basis row; written
    here, not through governance/register.py, which reads the catalogue: no import cycle)."""

    now = dt.datetime.now().replace(microsecond=0)
    with ws.session() as s:
        for key, spec in (cat.get("source_types") or {}).items():
            code = spec.get("legal_basis_code")
            code = code if code in BASIS_CODES else "other"
            b = s.scalar(select(LegalBasis).where(LegalBasis.kind == "source", LegalBasis.key == key))
            if b is None:
                b = LegalBasis(kind="source", key=key)
                s.add(b)
            b.purpose = str(spec.get("purpose") or "")
            b.basis = code
            b.department = str(spec.get("department") or "")
            b.note = str(spec.get("legal_basis") or "") or ("町が定義した取込元" if code == "other" else None)
            b.shown_on_sheets = False
            b.changed_by, b.changed_at = ws.user.name, now
        if cat.get("source_types"):
            ws.log("settings_changed", detail={"what": "legal_basis", "kind": "source"}, conn=s)


def import_file(ws, path: Path, reason: str, *, dry_run: bool = False) -> dict:
    return adopt_catalogue(ws, read_file(path), reason, dry_run=dry_run)


# --- small edits (each one a whole-catalogue adoption) --------------------------------------------------------------
def define_source(ws, key: str, spec: dict, reason: str) -> dict:
    cat = current(ws)
    if key in (cat.get("source_types") or {}) or key in F.SHIPPED_SOURCES:
        raise InputRefused(f"取込元「{key}」はもうあります。")
    cat.setdefault("source_types", {})[key] = spec
    cat.setdefault("sources", {})[key] = {
        "label_ja": spec.get("label", key),
        "dedupe": list(spec.get("dedupe") or ["record_date"]),
        "expect": "imported",
    }
    return adopt_catalogue(ws, cat, reason)


def add_indicator(ws, ind: dict, reason: str, new_types: list[str] | tuple = ()) -> dict:
    cat = current(ws)
    if any(i["id"] == ind.get("id") for i in cat["indicators"]):
        raise InputRefused(f"指標「{ind.get('id')}」はもうあります。")
    for t in new_types:
        if t in cat["difficulty_types"]:
            raise InputRefused(f"困難の種類「{t}」はもうあります。")
        cat["difficulty_types"].append(t)
    cat["indicators"].append(ind)
    return adopt_catalogue(ws, cat, reason)


def rename_in(cat: dict, old: str, new: str) -> dict:
    """Rename a difficulty type inside a catalogue draft (its indicators' points and the supports follow)."""
    new = (new or "").strip()
    if old not in cat["difficulty_types"]:
        raise InputRefused(f"困難の種類「{old}」はありません。")
    if not new or new in cat["difficulty_types"]:
        raise InputRefused(f"新しい名前「{new}」は空か、もうあります。")
    cat["difficulty_types"] = [new if t == old else t for t in cat["difficulty_types"]]
    for ind in cat["indicators"]:
        ind["points"] = {(new if t == old else t): p for t, p in (ind.get("points") or {}).items()}
    for sp in cat.get("supports") or []:
        sp["factors"] = {(new if t == old else t): f for t, f in (sp.get("factors") or {}).items()}
    return cat


def rename_type(ws, old: str, new: str, reason: str) -> dict:
    cat = rename_in(current(ws), old, new)
    return adopt_catalogue(ws, cat, reason, renames={old: (new or "").strip()})


# --- take-up gaps ---------------------------------------------------------------------------------------------------
def _label(cat: dict, st: str) -> str:
    return (cat.get("sources") or {}).get(st, {}).get("label_ja") or F.SOURCE_TYPES.get(st, {}).get("label", st)


def _field_label(st: str, f: str) -> str:
    meta = F.SOURCE_TYPES.get(st, {})
    return (meta.get("attributes", {}).get(f) or meta.get("identity", {}).get(f) or {}).get("label", f)


def rule_text(cat: dict, part: dict) -> str:
    """A reader's rule in words: 住民税課税状況: 課税区分 ＝ 非課税（18か月以内）."""
    st = part["source_type"]
    rule = part.get("rule") or {}
    if rule.get("exists") is True and "field" not in rule:
        cond = "記録"
    elif "field" in rule:
        v = rule.get("value")
        v = "・".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v))
        cond = f"{_field_label(st, rule['field'])} {OPS_JA.get(str(rule.get('op')), rule.get('op'))} {v}".strip()
    elif rule.get("aggregate") == "count":
        cond = f"件数 {OPS_JA.get(str(rule.get('op')), rule.get('op'))} {rule.get('value')}"
    else:
        cond = "条件に合う記録"
    w = part.get("window_months")
    return f"{_label(cat, st)}: {cond}" + (f"（{w}か月以内）" if w else "")


def gap_rule_text(cat: dict, g: dict) -> str:
    return f"{rule_text(cat, g['present'])} があり、{rule_text(cat, g['absent'])} がない"


def _reader(g: dict, part: str) -> dict:
    p = g[part]
    return {
        "id": f"{g['id']}:{part}",
        "label_ja": g["label_ja"],
        "source_type": p["source_type"],
        "whose": p.get("whose", "child"),
        "rule": p["rule"],
        "window_months": p.get("window_months"),
        "date_field": p.get("date_field", "record_date"),
        "applies_to_ages": g.get("applies_to_ages") if part == "present" else None,
        "points": {},
        "kind": "protective",
    }


def support_prompts(ws, as_of=None, person_id: str | None = None) -> dict:
    """Children a take-up-gap rule finds: {"heading", "gaps": [{id, label, support, rule, children, skipped}],
    "children": {person_id: [{id, label, support, rule}]}}. Never scored, never a risk point."""
    from . import engine as E  # lazy: loads numpy, pandas, only needed here
    from . import service as S  # lazy: loads numpy, pandas, only needed here

    ws.require("score.read", what="support prompts")
    cat = C.load_catalogue()
    gaps = [g for g in (cat.get("takeup_gaps") or []) if g.get("enabled", True)]
    on = S._as_date(as_of) or S.default_as_of(ws)
    need = E.needed_fields(cat)
    inp = S.load_input(ws, on, household_of=person_id, fields=need) if person_id else S.load_input(ws, on, fields=need)
    prep = E.prepare(inp, cat)
    ids = prep.children["person_id"].tolist()
    out_gaps: list[dict] = []
    per_child: dict[str, list[dict]] = {}
    for g in gaps:
        srcs = {g["present"]["source_type"], g["absent"]["source_type"]}
        rule = gap_rule_text(cat, g)
        row = {"id": g["id"], "label": g["label_ja"], "support": g.get("support_ja", ""), "rule": rule}
        missing = sorted(srcs - set(prep.imported_sources))
        if missing:
            out_gaps.append(
                {
                    **row,
                    "children": [],
                    "skipped": "取込元がまだありません: " + "、".join(_label(cat, m) for m in missing),
                }
            )
            continue
        a = _reader(g, "present")
        b = _reader(g, "absent")
        ha = E.evaluate_indicator(prep, a, a["window_months"])[0]
        hb = E.evaluate_indicator(prep, b, b["window_months"])[0]
        found = [ids[i] for i in range(len(ids)) if ha[i] and not hb[i]]
        if person_id:
            found = [p for p in found if p == person_id]
        out_gaps.append({**row, "children": found, "skipped": None})
        for p in found:
            per_child.setdefault(p, []).append(row)
    ws.log("support_prompts_read", detail={"gaps": len(out_gaps), "children": len(per_child)})
    return {"heading": GAP_HEADING, "as_of": on.isoformat(), "gaps": out_gaps, "children": per_child}
