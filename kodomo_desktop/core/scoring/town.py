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
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .. import outputs
from ..errors import InputRefused
from ..i18n import Message, msg, msg_join
from ..importing import fields as F
from ..importing import town_types as TT
from ..services import service
from ..settings import get as _get_setting
from ..storage.models import LegalBasis, Setting, WeightSet
from ..workspace import on_close, on_open
from . import catalogue as C
from . import engine as E
from . import service as S
from .rules import RECORD_COLUMNS, RuleError, validate_rule
from .weights import apply_catalogue_rules, diff, strip_meta, validate_weights

if TYPE_CHECKING:
    from ..workspace import Workspace

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


def current(ws: Workspace) -> dict:
    """The catalogue the town scores with (its own, else the shipped one)."""
    stored = _get_setting(ws, SETTING_KEY)
    return copy.deepcopy(stored) if isinstance(stored, dict) else shipped()


@service("score.read", what="catalogue history")
def history(ws: Workspace) -> list[dict]:
    h = _get_setting(ws, HISTORY_KEY)
    return list(h) if isinstance(h, list) else []


_APPLIED: list = []  # the workspace whose catalogue is in use (a weak reference)


def apply(ws: Workspace) -> None:
    """Workspace-open hook: the scoring engine, the reports and the register read the town's catalogue."""
    _APPLIED[:] = [weakref.ref(ws)]
    # the town's source types: importing's own open hook, registered (and so run) before this one, read and
    # registered them a moment ago; the catalogue it read is taken from there instead of reading it again
    stored = TT.read_at_open(ws)  # None for a locked or half-upgraded workspace: the shipped catalogue
    try:
        C.set_town_catalogue(stored if isinstance(stored, dict) else None)
    except InputRefused:  # a catalogue the app can no longer read: the shipped one (the editor shows why)
        C.set_town_catalogue(None)


def release(ws: Workspace) -> None:
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


def _check_reader(cat: dict, ind: dict, where: str, types: list, out: TT._Found, at: tuple = ()) -> None:
    """One reader (an indicator, a take-up gap's part, a two-source indicator's ``absent``): its source, rule,
    fields, window and whose. Problems are filed under ``at + (field,)``."""
    st = ind.get("source_type")
    fields = _fields_of(cat, st) if isinstance(st, str) else None
    out.at = at + ("source_type",)
    if fields is None:
        out.append(f"{where}取込元「{st}」はありません。")
    rule = ind.get("rule")
    out.at = at + ("rule",)
    if not rule:
        out.append(f"{where}rule（条件）がありません。")
    else:
        try:
            used = validate_rule(rule, where)
        except RuleError as e:
            out.append(e.message_ja)
            used = set()
        if fields is not None:
            out.at = at + ("field",)
            for f in sorted(used - fields):
                label = (cat.get("source_types") or {}).get(st, {}).get("label") or F.SOURCE_TYPES.get(str(st), {}).get(
                    "label", st
                )
                out.append(f"{where}項目「{f}」は取込元「{label}」にありません。")
    w = ind.get("window_months")
    out.at = at + ("window_months",)
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w <= 0):
        out.append(f"{where}期間（window_months）は正の整数（か、期限なしの null）にしてください（{w!r}）。")
    out.at = at + ("whose",)
    if ind.get("whose", "child") not in C.WHOSE:
        out.append(f"{where}whose は child・parent・household・other のいずれかです。")


RANK_MODES = {"none": "なし", "top_percent": "上位 N ％", "top_n": "上位 N 人"}
RANK_PER = {"age_band": "年齢区分ごと", "age": "年齢ごと", "all": "全体"}


def _check_rules(cat: dict, out: TT._Found) -> None:
    """The catalogue's flagging rules: top N (%) per difficulty type per age band; at least K basic items."""
    rules = cat.get("rules")
    if rules is None:
        return
    out.at = ("rules",)
    if not isinstance(rules, dict):
        out.append("rules（抽出のルール）の形式が正しくありません。")
        return
    rk = rules.get("rank")
    out.at = ("rules", "rank")
    if rk is not None:
        if not isinstance(rk, dict) or rk.get("mode") not in RANK_MODES or rk.get("per", "age_band") not in RANK_PER:
            out.append("上位抽出（rules.rank）の mode は none・top_percent・top_n、per は age_band・age・all です。")
        else:
            v = rk.get("value")
            if rk["mode"] != "none" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                out.append(f"上位抽出の値は正の数にしてください（{v!r}）。")
            elif rk["mode"] == "top_percent" and isinstance(v, (int, float)) and v > 100:
                out.append(f"上位抽出（％）は 100 以下にしてください（{v!r}）。")
            if not isinstance(rk.get("by_type", False), bool):
                out.append("上位抽出の by_type は true か false です（困難の種類ごとに上位を取るか）。")
    bi = rules.get("basic_items")
    out.at = ("rules", "basic_items")
    if bi is not None:
        k = bi.get("min") if isinstance(bi, dict) else None
        if not isinstance(bi, dict) or isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 19:
            out.append(f"基本項目数による抽出（rules.basic_items）の min は 1〜19 の整数にしてください（{k!r}）。")
        elif bi.get("enabled", True):
            nos = {
                i.get("basic_no")
                for i in cat.get("indicators") or []
                if isinstance(i, dict) and i.get("basic") and i.get("kind") != "protective"
            }
            if len(nos) < k:
                out.append(
                    f"基本項目数による抽出: 基本連携データ項目の指標が {len(nos)} 種類しかなく、"
                    f"「{k} 項目以上」に届くこどもはいません。"
                )


def problems(cat) -> list[str]:
    """Every problem that keeps a catalogue from being adopted, in Japanese (empty: sound)."""
    return [m for _, m in problems_at(cat)]


def problems_at(cat) -> list[tuple[tuple, str]]:
    """Every problem as (where, message): ``where`` names what it concerns so an editor can show the message next
    to that field — ("caveat",), ("difficulty_types",), ("type", name), ("source_type", key, field),
    ("indicator", id, field), ("indicator", id, "absent", field), ("gap", id, "present" | "absent", field),
    ("rules", "rank" | "basic_items")."""
    out = TT._Found()
    out.at = ("catalogue",)
    if not isinstance(cat, dict):
        return [(("catalogue",), "指標カタログの形式が正しくありません（JSON のオブジェクトではありません）。")]
    if cat.get("format") not in (None, FORMAT):
        out.append(f"指標カタログのファイルではありません（format: {cat.get('format')!r}）。")
    out.at = ("caveat",)
    if not str(cat.get("caveat") or "").strip():
        out.append("caveat（スコアは判定ではないという注意書き）がありません。消さずに残してください。")
    out.at = ("difficulty_types",)
    types = cat.get("difficulty_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t.strip() for t in types):
        out.append("difficulty_types（困難の種類）は名前のリストにしてください。")
        types = []
    elif len(set(types)) != len(types):
        out.append("difficulty_types（困難の種類）に同じ名前が2回あります。")
    st_defs = cat.get("source_types") or {}
    out.at = ("source_types",)
    if not isinstance(st_defs, dict):
        out.append("source_types（町が定義した取込元）の形式が正しくありません。")
        st_defs = {}
    for key, spec in st_defs.items():
        for f, m in TT.field_problems(key, spec):
            out.at = ("source_type", key, f)
            out.append(m)
    out.at = ("sources",)
    for key in cat.get("sources") or {}:
        if key not in F.SHIPPED_SOURCES and key not in st_defs:
            out.append(f"sources の取込元「{key}」はありません。")
    inds = cat.get("indicators")
    out.at = ("indicators",)
    if not isinstance(inds, list):
        out.append("indicators（指標）がありません。")
        inds = []
    seen: set = set()
    items = {t: 0 for t in types}
    for ind in inds:
        if not isinstance(ind, dict):
            out.at = ("indicators",)
            out.append("指標の形式が正しくありません。")
            continue
        iid = ind.get("id")
        at = ("indicator", str(iid))
        where = f"指標「{ind.get('label_ja') or iid}」: "
        out.at = at + ("id",)
        if not iid or iid in seen:
            out.append(f"指標の id {iid!r} が空か重複しています。")
        seen.add(str(iid))
        out.at = at + ("label_ja",)
        if not str(ind.get("label_ja") or "").strip():
            out.append(f"{where}label_ja（名前）がありません。")
        _check_reader(cat, ind, where, types, out, at)
        if ind.get("absent") is not None:
            if not isinstance(ind["absent"], dict):
                out.at = at + ("absent", "source_type")
                out.append(f"{where}absent（ない記録の条件）の形式が正しくありません。")
            else:
                _check_reader(
                    cat, {"rule": {"exists": True}, **ind["absent"]}, f"{where}ない記録: ", types, out, at + ("absent",)
                )
        pts = ind.get("points") or {}
        out.at = at + ("points",)
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
        out.at = at + ("kind",)
        if ind.get("kind") not in (None, "risk", *C.KINDS):
            out.append(f"{where}kind は own・household・poverty_proxy・protective のいずれかです。")
    for t, n in items.items():
        out.at = ("type", t)
        if not n:
            out.append(
                f"困難の種類「{t}」には点数のある指標が1つもありません（指標を加えるか、種類を削除してください）。"
            )
    gaps = cat.get("takeup_gaps") or []
    out.at = ("takeup_gaps",)
    if not isinstance(gaps, list):
        out.append("takeup_gaps（利用できる可能性のある支援）の形式が正しくありません。")
        gaps = []
    for g in gaps:
        gid = g.get("id") if isinstance(g, dict) else None
        at = ("gap", str(gid))
        where = f"支援の候補「{(g or {}).get('label_ja') or gid}」: " if isinstance(g, dict) else ""
        out.at = at + ("id",)
        if not isinstance(g, dict) or not gid or gid in seen:
            out.append(f"支援の候補の id {gid!r} が空か重複しています。")
            continue
        seen.add(gid)
        out.at = at + ("label_ja",)
        if not str(g.get("label_ja") or "").strip():
            out.append(f"{where}label_ja（名前）がありません。")
        out.at = at + ("points",)
        if g.get("points"):
            out.append(f"{where}支援の候補は点数を持ちません（アウトリーチのきっかけで、リスクの点ではありません）。")
        for part in ("present", "absent"):
            out.at = at + (part, "source_type")
            if not isinstance(g.get(part), dict):
                out.append(f"{where}{part}（{'ある' if part == 'present' else 'ない'}記録の条件）がありません。")
            else:
                _check_reader(cat, g[part], f"{where}{part}: ", types, out, at + (part,))
    _check_rules(cat, out)
    if not out:
        with _types(st_defs):
            try:
                C.validate_catalogue(copy.deepcopy(cat))
            except InputRefused as e:
                out.at = ("catalogue",)
                out.append(e.message_ja)
    return list(out)


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


@service("score.read", what="catalogue export")
def export(ws: Workspace, out: Path) -> dict:
    """Write the town's catalogue (same format as resources/indicators.json; owner-only file)."""
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
def migrate_weights(data: dict, old: dict, new: dict, renames: dict | None = None, *, rules: bool = True) -> dict:
    """The town's weight set carried over to a new catalogue: renamed types follow, removed types and indicators
    go, an indicator whose default points or window the catalogue changed takes the new defaults, and (``rules``)
    the catalogue's flagging rules apply when they changed."""
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
    if rules and (new.get("rules") or {}) != (old.get("rules") or {}):  # the catalogue's rules changed: they apply
        apply_catalogue_rules(d, new)
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
        "takeup_gaps_added": sorted(
            {g["id"] for g in new.get("takeup_gaps") or []} - {g["id"] for g in old.get("takeup_gaps") or []}
        ),
        "rules_changed": (new.get("rules") or {}) != (old.get("rules") or {}),
        "labels": {
            i["id"]: i["label_ja"]
            for i in [*old.get("indicators", []), *new.get("indicators", []), *(new.get("takeup_gaps") or [])]
        }
        | {
            k: str((spec or {}).get("label") or k)
            for k, spec in {**(old.get("source_types") or {}), **(new.get("source_types") or {})}.items()
        },
    }


def _preview(
    ws: Workspace, old: dict, new: dict, active: dict, new_data: dict, cur_version, renames=None, as_of=None
) -> dict:
    """Current → proposed: the children as the adopted catalogue scores them with the adopted weights, against the
    new catalogue with the weight set adopted with it (a changed cut-off, a new indicator, a changed rule move the
    figures); ``changes`` lists what differs in the weights."""
    on = S._as_date(as_of) or S.default_as_of(ws)
    cat_new = copy.deepcopy(C.validate_catalogue(copy.deepcopy(new)))
    # the records bring the fields both catalogues name (the new one may read items the current one does not)
    inp = S.load_input(ws, on, fields=S.E.needed_fields(cat_new, old, S.catalogue()))
    ctx_new = S.ScoringContext(inp, cat_new)
    _, s_new, m_new = ctx_new.score(new_data)
    try:
        ctx_old = S.ScoringContext(inp, copy.deepcopy(C.validate_catalogue(copy.deepcopy(old))), like=ctx_new)
        _, s_cur, _ = ctx_old.score(active)
    except InputRefused:  # the adopted catalogue reads a source type the new one removes: compare on the new one
        _, s_cur, _ = ctx_new.score(migrate_weights(active, old, new, renames))
    pv = S.preview_from_scores(
        ctx_new,
        s_cur,
        s_new,
        m_new,
        changes=diff(migrate_weights(active, old, new, renames, rules=False), new_data, ctx_new.cat),
        current_version=cur_version,
    )
    return pv


# --- adopting a catalogue -------------------------------------------------------------------------------------------
@service("weights.edit", what="catalogue import")
def adopt_catalogue(
    ws: Workspace, cat: dict, reason: str, *, renames: dict | None = None, dry_run: bool = False, as_of=None
) -> dict:
    """Check, preview and adopt a whole catalogue with a new weight-set version (exit 2 and nothing changed when
    a problem is found). ``renames``: {old type: new type} so the town's thresholds and points follow."""

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
        pv = _preview(ws, old, new, active["data"], new_data, active["version"], renames, as_of)
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


def _save_weight_set(ws: Workspace, data: dict, name: str) -> int:
    """A new weight-set version for a new catalogue version, even when its points equal an earlier one's: the
    catalogue version and the weight set it belongs to go together."""
    with ws.session() as s:
        S._ensure_default(s)
        v = (s.scalar(select(func.max(WeightSet.version))) or 0) + 1
        w = WeightSet(version=v, name=name, data=data, created_by=ws.user.name, active=False)
        s.add(w)
        s.flush()
        ws.log("weights_saved", detail={"weight_set_id": w.id, "version": v}, conn=s)
        return w.id


def _version(ws: Workspace) -> int:
    h = _get_setting(ws, HISTORY_KEY)
    return max((int(e.get("version") or 0) for e in h), default=0) if isinstance(h, list) else 0


BASIS_CODES = ("61-1", "69-2-2", "69-2-3", "other")  # governance/register.py BASIS_LABELS


def _sync_legal_bases(ws: Workspace, cat: dict) -> None:
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


def import_file(ws: Workspace, path: Path, reason: str, *, dry_run: bool = False) -> dict:
    return adopt_catalogue(ws, read_file(path), reason, dry_run=dry_run)


# --- small edits (each one a whole-catalogue adoption) --------------------------------------------------------------
def with_source(cat: dict, key: str, spec: dict) -> dict:
    """A catalogue draft with one more source type of the town (and its ``sources`` entry); the caller adopts it
    (the CLI at once, the editor after its preview)."""
    if key in (cat.get("source_types") or {}) or key in F.SHIPPED_SOURCES:
        raise InputRefused(f"取込元「{key}」はもうあります。")
    cat.setdefault("source_types", {})[key] = spec
    cat.setdefault("sources", {})[key] = {
        "label_ja": spec.get("label", key),
        "dedupe": list(spec.get("dedupe") or ["record_date"]),
        "expect": "imported",
    }
    return cat


def define_source(ws: Workspace, key: str, spec: dict, reason: str) -> dict:
    return adopt_catalogue(ws, with_source(current(ws), key, spec), reason)


def with_indicator(cat: dict, entry: dict, new_types: list[str] | tuple = ()) -> dict:
    """A catalogue draft with one more indicator — or one more take-up gap when ``entry`` has ``present`` (a
    two-source prompt that is never scored) — and its new difficulty types."""
    taken = {i["id"] for i in cat["indicators"]} | {g.get("id") for g in cat.get("takeup_gaps") or []}
    if entry.get("id") in taken:
        raise InputRefused(f"指標「{entry.get('id')}」はもうあります。")
    for t in new_types:
        if t in cat["difficulty_types"]:
            raise InputRefused(f"困難の種類「{t}」はもうあります。")
        cat["difficulty_types"].append(t)
    if "present" in entry:
        cat.setdefault("takeup_gaps", []).append(entry)
    else:
        cat["indicators"].append(entry)
    return cat


def add_indicator(ws: Workspace, ind: dict, reason: str, new_types: list[str] | tuple = ()) -> dict:
    return adopt_catalogue(ws, with_indicator(current(ws), ind, new_types), reason)


def with_rules(cat: dict, rank: dict | None = None, basic_items: dict | None = None) -> dict:
    """A catalogue draft with its flagging rules: ``rank`` {mode none | top_percent | top_n, value, per age_band |
    age | all, by_type} (延岡市: the top 2 % of each difficulty type per age band) and ``basic_items`` {enabled,
    min} (at least K basic items). None leaves a rule as it is."""
    rules = dict(cat.get("rules") or {})
    if rank is not None:
        rules["rank"] = dict(rank)
    if basic_items is not None:
        rules["basic_items"] = dict(basic_items)
    cat["rules"] = rules
    return cat


def set_rules(ws: Workspace, reason: str, rank: dict | None = None, basic_items: dict | None = None) -> dict:
    return adopt_catalogue(ws, with_rules(current(ws), rank, basic_items), reason)


# --- an indicator from an editor's fields (the CLI's flags and the GUI's form) -------------------------------------
CONDITIONS = {  # what an editor offers → the rule language (rules.py)
    "==": "＝",
    "!=": "≠",
    "in": "のいずれか",
    ">=": "≥",
    "<=": "≤",
    "exists": "記入あり",
    "missing": "記入なし",
}
AGGREGATES = {"any": "期間内のいずれかの記録", "latest": "最新の記録", "count": "期間内の記録の件数"}
WHOSE_EDIT = {"child": "本人（こども）", "parent": "保護者", "household": "世帯（本人を含む）"}
KIND_EDIT = {
    "own": "本人の記録",
    "household": "世帯の状況",
    "poverty_proxy": "経済的困難の代わりの指標",
    "protective": "守る要因（点数を下げる）",
    "takeup": GAP_HEADING + "（点数にしない）",
}
OP_ALIASES = {"=": "==", "＝": "==", "≠": "!=", "≥": ">=", "≤": "<=", "absent": "missing", "present": "exists"}


def source_fields(cat: dict, st: str) -> list[dict]:
    """The attribute fields of a source type — the town's own (also a draft's, not yet adopted) or a shipped one:
    [{field, label, type (number | date | code_list | text | …), values}]."""
    town = (cat.get("source_types") or {}).get(st)
    if isinstance(town, dict):
        return [
            {"field": a["field"], "label": a.get("label", a["field"]), "type": a.get("type"), "values": a.get("values")}
            for a in town.get("attributes") or []
            if isinstance(a, dict) and a.get("field")
        ]
    attrs = F.SOURCE_TYPES.get(st, {}).get("attributes", {})
    kinds = {"category": "code_list"}
    return [
        {
            "field": f,
            "label": m.get("label", f),
            "type": kinds.get(m.get("type"), m.get("type")),
            "values": m.get("values"),
        }
        for f, m in attrs.items()
    ]


def source_choices(cat: dict) -> dict[str, str]:
    """Every source type an indicator may read, key → label (the shipped ones, then the town's own)."""
    out = {k: _label(cat, k) for k in F.SHIPPED_SOURCES}
    for k, spec in (cat.get("source_types") or {}).items():
        out[k] = str((spec or {}).get("label") or k)
    return out


def _number(text, where: tuple, out: list) -> float | int | None:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return text
    t = (
        str(text if text is not None else "")
        .strip()
        .replace("，", "")
        .translate(str.maketrans("０１２３４５６７８９．－", "0123456789.-"))
    )
    try:
        return int(t) if t.lstrip("-").isdigit() else float(t)
    except ValueError:
        out.append((where, f"「{text}」は数ではありません。数を入力してください。"))
        return None


def _reader_from(cat: dict, part: dict, at: tuple, out: list) -> dict:
    """A reader {source_type, whose, rule, window_months} from an editor's fields: source, field, op, value,
    aggregate (any | latest | count), window, whose."""
    st = str(part.get("source") or "").strip()
    if not st:
        out.append((at + ("source_type",), "取込元を選んでください。"))
    elif st not in source_choices(cat):
        out.append((at + ("source_type",), f"取込元「{st}」はありません。"))
    field = str(part.get("field") or "").strip() or None
    op = OP_ALIASES.get(str(part.get("op") or ""), part.get("op") or None)
    agg = part.get("aggregate") or "any"
    value = part.get("value")
    meta = {f["field"]: f for f in source_fields(cat, st)} if st else {}
    if field and meta and field not in meta and field not in F.IDENTITY_BY_NAME and field not in RECORD_COLUMNS:
        out.append((at + ("field",), f"項目「{field}」は取込元「{source_choices(cat).get(st, st)}」にありません。"))
    ftype = (meta.get(field or "") or {}).get("type")
    rule: dict
    if agg not in AGGREGATES and agg not in ("max", "min", "sum", "all_latest"):
        out.append((at + ("aggregate",), f"集計「{agg}」は使えません（{'・'.join(AGGREGATES.values())}）。"))
        agg = "any"
    if field is None and op is None and agg == "any":  # any record of the source
        rule = {"exists": True}
    elif op not in ({*CONDITIONS, ">", "<", "not_in", "is_true", "is_false", "contains_any"}):
        out.append((at + ("op",), "条件（＝・≠・のいずれか・≥・≤・記入あり・記入なし）を選んでください。"))
        rule = {"exists": True}
    else:
        v: Any
        if op in ("in", "not_in", "contains_any"):
            v = (
                value
                if isinstance(value, list)
                else [x.strip() for x in str(value or "").replace("、", ",").replace("，", ",").split(",") if x.strip()]
            )
            if not v:
                out.append((at + ("value",), "値を1つ以上（、で区切って）入力してください。"))
        elif op in (">=", "<=", ">", "<") or (op in ("==", "!=") and (ftype == "number" or agg == "count")):
            v = _number(value, at + ("value",), out)
        elif op in ("==", "!="):
            v = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value or "").strip()
            if v == "":
                out.append((at + ("value",), "値を入力してください。"))
        else:
            v = None
        if agg == "count":
            if op not in (">=", "<=", ">", "<", "==", "!="):
                out.append((at + ("op",), "件数には ≥ か ≤ などの比較を選んでください。"))
            rule = {"aggregate": "count", "op": op, "value": v}
            if field:
                rule["where"] = {"field": field, "op": "exists"}
        else:
            if not field:
                out.append((at + ("field",), "項目を選んでください。"))
            rule = {"field": field or "", "op": op}
            if op not in ("exists", "missing", "is_true", "is_false"):
                rule["value"] = v
            if agg != "any":
                rule = {"aggregate": agg, **rule}
    w = part.get("window")
    window = None
    if w not in (None, "", 0):
        window = _number(w, at + ("window_months",), out)
        if window is not None and (not isinstance(window, int) or window <= 0):
            out.append((at + ("window_months",), "期間（月）は1以上の整数にしてください。"))
    whose = {"guardian": "parent"}.get(str(part.get("whose") or "child"), str(part.get("whose") or "child"))
    if whose not in C.WHOSE:
        out.append((at + ("whose",), "だれの記録か（本人・保護者・世帯）を選んでください。"))
    reader = {"source_type": st, "whose": whose, "rule": rule, "window_months": window}
    if part.get("date_field"):
        reader["date_field"] = part["date_field"]
    return reader


def build_indicator(cat: dict, form: dict) -> tuple[dict, list[tuple[tuple, str]]]:
    """(catalogue entry, problems) from an editor's fields — the CLI's ``add-indicator`` flags and the GUI's form::

        id, label, source, field, op (= ≠ in ≥ ≤ exists absent), value, aggregate (any | latest | count), window,
        whose (child | guardian | household), kind (own | household | poverty_proxy | protective | takeup),
        points {type: points}, basic_no, purpose, support (take-up prompts: the service to offer),
        absent: {source, field, op, value, window, whose} — a second source: present in A, absent in B

    ``kind`` takeup makes a take-up gap (利用できる可能性のある支援: never scored) and needs ``absent``. Each
    problem is (("indicator", field) or ("indicator", "absent", field), message in Japanese) so an editor can show
    it next to the field; the whole catalogue is checked again when it is adopted (:func:`problems_at`)."""
    out: list[tuple[tuple, str]] = []
    at = ("indicator",)
    iid = str(form.get("id") or "").strip()
    if not iid:
        out.append((at + ("id",), "id（英数字の名前）を入力してください。"))
    elif not TT.KEY_RE.match(iid):
        out.append((at + ("id",), "id は英小文字で始まる英数字と _ にしてください（例 lunch_arrears_3）。"))
    label = str(form.get("label") or "").strip()
    if not label:
        out.append((at + ("label_ja",), "名前を入力してください。"))
    kind = form.get("kind") or "own"
    if kind not in KIND_EDIT:
        out.append((at + ("kind",), "種類（本人の記録・世帯の状況・…）を選んでください。"))
    main = _reader_from(cat, form, at, out)
    absent = form.get("absent")
    second = _reader_from(cat, absent, at + ("absent",), out) if isinstance(absent, dict) else None
    if second is not None and isinstance(absent, dict) and not absent.get("field") and not absent.get("op"):
        second["rule"] = {"exists": True}
    points: dict = {}
    for t, p in (form.get("points") or {}).items():
        if t not in cat["difficulty_types"] and t not in (form.get("new_types") or ()):
            out.append((at + ("points",), f"困難の種類「{t}」はありません。"))
        n = _number(p, at + ("points",), out)
        if n is not None:
            points[t] = n
    if kind == "takeup":
        if second is None:
            out.append(
                (at + ("absent", "source_type"), "利用できる可能性のある支援には「ない記録」の取込元が必要です。")
            )
        if any(points.values()):
            out.append((at + ("points",), "利用できる可能性のある支援は点数を持ちません（点数を空にしてください）。"))
        gap = {
            "id": iid,
            "label_ja": label,
            "support_ja": str(form.get("support") or "").strip(),
            "enabled": True,
            "present": main,
            "absent": second or {},
        }
        if form.get("applies_to_ages"):
            gap["applies_to_ages"] = list(form["applies_to_ages"])
        return gap, out
    if kind != "protective" and not any((v or 0) > 0 for v in points.values()):
        out.append((at + ("points",), "点数を1つ以上入力してください（種類:点数）。"))
    ind = {
        "id": iid,
        "label_ja": label,
        **main,
        "points": points,
        "kind": kind,
        "shown_on_sheets": False,
        "purpose": str(form.get("purpose") or ""),
    }
    if second is not None:
        ind["absent"] = second
    if form.get("basic_no") not in (None, ""):
        n = _number(form["basic_no"], at + ("basic_no",), out)
        if n is not None and (not isinstance(n, int) or not 1 <= n <= 19):
            out.append((at + ("basic_no",), "基本連携データ項目の番号は 1〜19 です。"))
        ind["basic"], ind["basic_no"] = True, n
    if form.get("applies_to_ages"):
        ind["applies_to_ages"] = list(form["applies_to_ages"])
    return ind, out


def source_spec(form: dict) -> tuple[str, dict]:
    """(key, definition) of a source type from an editor's fields: key, label, department, identity [..],
    attributes [{field, label, type, values (text or list), headers (text or list)}], record_date, dedupe, purpose,
    legal_basis, legal_basis_code. Texts are split on 、 and , ; checked by importing/town_types.field_problems."""

    def items(v) -> list[str]:
        if isinstance(v, list):
            return [str(x).strip() for x in v if str(x).strip()]
        return [x.strip() for x in str(v or "").replace("、", ",").replace("，", ",").split(",") if x.strip()]

    attrs = []
    for a in form.get("attributes") or []:
        one: dict[str, Any] = {"field": str(a.get("field") or "").strip(), "label": str(a.get("label") or "").strip()}
        one["type"] = a.get("type") or "text"
        if one["type"] == "code_list":
            one["values"] = items(a.get("values"))
        one["headers"] = items(a.get("headers"))
        attrs.append(one)
    spec = {
        "label": str(form.get("label") or "").strip(),
        "department": str(form.get("department") or "").strip(),
        "identity": items(form.get("identity")),
        "attributes": attrs,
        "record_date": form.get("record_date") or None,
        "dedupe": items(form.get("dedupe")) or ["record_date"],
        "purpose": str(form.get("purpose") or "").strip(),
        "legal_basis_code": str(form.get("legal_basis_code") or "").strip(),
    }
    if str(form.get("legal_basis") or "").strip():
        spec["legal_basis"] = str(form["legal_basis"]).strip()
    return str(form.get("key") or "").strip(), spec


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


def rename_type(ws: Workspace, old: str, new: str, reason: str) -> dict:
    cat = rename_in(current(ws), old, new)
    return adopt_catalogue(ws, cat, reason, renames={old: (new or "").strip()})


# --- take-up gaps ---------------------------------------------------------------------------------------------------
def _label(cat: dict, st: str) -> str:
    return (cat.get("sources") or {}).get(st, {}).get("label_ja") or F.SOURCE_TYPES.get(st, {}).get("label", st)


def _field_label(st: str, f: str, cat: dict | None = None) -> str:
    town = ((cat or {}).get("source_types") or {}).get(st)
    if isinstance(town, dict):
        for a in town.get("attributes") or []:
            if isinstance(a, dict) and a.get("field") == f:
                return str(a.get("label") or f)
    meta = F.SOURCE_TYPES.get(st, {})
    return (meta.get("attributes", {}).get(f) or meta.get("identity", {}).get(f) or {}).get("label", f)


def _value(v) -> Message:
    """A rule's value: a coded value (「終結」) reads in the table's language, a town's own text stays as it is."""
    return msg("") if v is None else msg(str(v))


def rule_text(cat: dict, part: dict) -> Message:
    """A reader's rule in words: 住民税課税状況: 課税区分 ＝ 非課税（18か月以内） — a template with parameters (the
    source, field and condition labels and coded values through the one table; ``i18n.translate`` reads it)."""
    st = part["source_type"]
    rule = part.get("rule") or {}
    op = rule.get("op")
    op_label = msg(OPS_JA.get(str(op), str(op)))
    if rule.get("exists") is True and "field" not in rule:
        cond: Message = msg("記録")
    elif "field" in rule:
        v = rule.get("value")
        value: Message = msg_join("・", [_value(x) for x in v]) if isinstance(v, list) else _value(v)
        field = msg(_field_label(st, rule["field"], cat))
        if rule.get("aggregate") == "latest" and not isinstance(v, list):
            cond = msg("{field} {op} {value}（最新の記録）", field=field, op=op_label, value=value)
        elif str(value):
            cond = msg("{field} {op} {value}", field=field, op=op_label, value=value)
        else:
            cond = msg("{field} {op}", field=field, op=op_label)
    elif rule.get("aggregate") == "count":
        if isinstance(rule.get("where"), dict) and rule["where"].get("field"):
            where = msg(_field_label(st, rule["where"]["field"], cat))
            cond = msg("{field}の件数 {op} {value}", field=where, op=op_label, value=rule.get("value"))
        else:
            cond = msg("件数 {op} {value}", op=op_label, value=rule.get("value"))
    else:
        cond = msg("条件に合う記録")
    w = part.get("window_months")
    source = msg(_label(cat, st))
    if w:
        return msg("{source}: {cond}（{w}か月以内）", source=source, cond=cond, w=w)
    return msg("{source}: {cond}", source=source, cond=cond)


def indicator_text(cat: dict, ind: dict) -> Message:
    """An indicator's rule in words; a two-source one names both: 「A: … があり、B: 記録 がない」."""
    if isinstance(ind.get("absent"), dict):
        return gap_rule_text(cat, {"present": ind, "absent": {"rule": {"exists": True}, **ind["absent"]}})
    return rule_text(cat, ind)


def gap_rule_text(cat: dict, g: dict) -> Message:
    return msg(
        "{present} があり、{absent} がない", present=rule_text(cat, g["present"]), absent=rule_text(cat, g["absent"])
    )


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


@service("score.read", what="support prompts")
def support_prompts(ws: Workspace, as_of=None, person_id: str | None = None) -> dict:
    """Children a take-up-gap rule finds: {"heading", "gaps": [{id, label, support, rule, children, skipped}],
    "children": {person_id: [{id, label, support, rule}]}}. Never scored, never a risk point."""
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
