"""Weight sets: a town's points, windows, thresholds and rules on top of the catalogue (stored in WeightSet.data,
exported as a readable JSON file). Edit = a new version; adoption needs a reason (service.py).

The data (and the export file) look like this::

    {"format": "kodomo-weights", "format_version": 1, "catalogue_version": 2,
     "types": ["虐待", ...], "age_bands": [{"label": "未就学", "min": 0, "max": 5}, ...],
     "bands": [{"label": "高", "color": "#c62828"}, {"label": "中", ...}, {"label": "低", ...}],  # high → low
     "flag_band": "中",                       # a type is flagged (crossed its threshold) at this band or above
     "thresholds": {"虐待": {"未就学": {"高": 6, "中": 4}, "小学生": {...}, ...},   # null: type not assessed
                    ...},
     "indicators": {"absence_30": {"label_ja": "…", "enabled": true, "points": {"不登校": 6, "虐待": 1},
                                   "window_months": 12}, ...},
     "sibling": {"enabled": true, "points": 2, "types": "same"},   # or a list of types
     "yotaikyo": {"mode": "continue", "label": "支援継続"},          # continue | exclude | lower | none
     "proxy_guard": {"off": {}},             # {type: reason}: types where household facts alone may reach 高
     "fairness": {"max_ratio": 3.0, "min_group": 10},   # preview warns above this top-band/flag rate ratio
     "rank": {"mode": "none", "value": 10, "per": "age_band"},     # none | top_percent | top_n; per age_band|age|all;
                                                                   # "by_type": true ranks each difficulty type
     "basic_items_rule": {"enabled": false, "min": 4},              # 延岡市 ≥4 / 別府市 ≥7 as a second trigger
     "history": {"sharp_rise_points": 5},
     "school_data_expected": {"from_grade": 1, "to_grade": 9}}      # 学年 1–9 = 小1–中3 (12 = 高3)

**Proxy guard** (``proxy_guard``): household circumstances and poverty proxies alone (indicator kinds
``household`` / ``poverty_proxy``, and the sibling rule) cannot place a child in the top band of a type; the type
reaches it only with an own-record reason that has points in it. A town switches it off per type with a reason
(``{"off": {"貧困": "理由"}}``); every list then says so (explain.py ``guard_off``).

**要対協 rule** (``yotaikyo.mode``): ``continue`` — shown as 支援継続 and kept off the new-candidate list;
``exclude`` — off the list altogether, *before* a top-N / top-% rule ranks (top 20 gives 20 others);
``lower`` (優先度を下げる) — kept, but ranked after every child who is not on the ledger; ``none`` — no rule.

An indicator's contribution to the **total** is its largest per-type points (an item counts once in the total);
each type's points are the sum of its per-type points. Protective factors carry 0 (or negative) points.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputRefused

FORMAT = "kodomo-weights"
DEFAULT_BANDS = [
    {"label": "高", "color": "#c62828"},
    {"label": "中", "color": "#ef6c00"},
    {"label": "低", "color": "#78909c"},
]
DEFAULT_THRESHOLDS: dict[str, dict[str, dict[str, int] | None]] = {
    "虐待": {
        "未就学": {"高": 6, "中": 4},
        "小学生": {"高": 7, "中": 5},
        "中学生": {"高": 7, "中": 5},
        "高校生年代": {"高": 7, "中": 5},
    },
    "貧困": {
        "未就学": {"高": 9, "中": 7},
        "小学生": {"高": 9, "中": 7},
        "中学生": {"高": 9, "中": 7},
        "高校生年代": {"高": 9, "中": 7},
    },
    "不登校": {
        "未就学": None,
        "小学生": {"高": 8, "中": 5},
        "中学生": {"高": 8, "中": 5},
        "高校生年代": {"高": 8, "中": 5},
    },
    "ヤングケアラー": {
        "未就学": None,
        "小学生": {"高": 6, "中": 4},
        "中学生": {"高": 6, "中": 4},
        "高校生年代": {"高": 6, "中": 4},
    },
    "産後うつ": {"未就学": {"高": 6, "中": 4}, "小学生": None, "中学生": None, "高校生年代": None},
    "発達": {
        "未就学": {"高": 7, "中": 5},
        "小学生": {"高": 7, "中": 5},
        "中学生": {"高": 7, "中": 5},
        "高校生年代": {"高": 7, "中": 5},
    },
}
YOTAIKYO_MODES = {"continue", "exclude", "lower", "none"}
YOTAIKYO_MODE_LABELS = {
    "continue": "支援継続として表示",
    "exclude": "除く",
    "lower": "優先度を下げる",
    "none": "特別な扱いなし",
}
RANK_MODES = {"none", "top_percent", "top_n"}
RANK_PER = {"age_band", "age", "all"}
META_KEYS = {
    "format",
    "format_version",
    "catalogue_version",
    "name",
    "exported_at",
    "exported_from",
    "version",
    "caveat",
    "note",
    "weight_set_id",
    "adopted_at",
    "adopted_by",
    "reason",
    "preview",
}


def default_weights(cat: dict) -> dict:
    """The default weight set, built from the catalogue's default points and windows."""
    types = cat["difficulty_types"]
    bands = [b["label"] for b in cat["age_bands"]]
    thresholds = {}
    for t in types:
        per = DEFAULT_THRESHOLDS.get(t, {})
        thresholds[t] = {b: copy.deepcopy(per.get(b, {"高": 7, "中": 5})) for b in bands}
    return apply_catalogue_rules(_defaults(cat, types, thresholds), cat)


def _defaults(cat: dict, types: list, thresholds: dict) -> dict:
    return {
        "format": FORMAT,
        "format_version": 1,
        "catalogue_version": cat.get("version"),
        "types": list(types),
        "age_bands": copy.deepcopy(cat["age_bands"]),
        "bands": copy.deepcopy(DEFAULT_BANDS),
        "flag_band": "中",
        "thresholds": thresholds,
        "indicators": {
            i["id"]: {
                "label_ja": i["label_ja"],
                "enabled": True,
                "points": dict(i["points"]),
                "window_months": i["window_months"],
            }
            for i in cat["indicators"]
        },
        "sibling": {"enabled": True, "points": 2, "types": "same"},
        "yotaikyo": {"mode": "continue", "label": "支援継続"},
        "proxy_guard": {"off": {}},
        "fairness": {"max_ratio": 3.0, "min_group": 10},
        "rank": {"mode": "none", "value": 10, "per": "age_band"},
        "basic_items_rule": {"enabled": False, "min": 4},
        "history": {"sharp_rise_points": 5},
        "school_data_expected": {"from_grade": 1, "to_grade": 9},
    }


def apply_catalogue_rules(data: dict, cat: dict) -> dict:
    """The flagging rules a catalogue says (``rules``: rank — top N / N % per group, per difficulty type —, and
    basic_items — at least K basic items) written into a weight set (in place; returned)."""
    rules = cat.get("rules") or {}
    if isinstance(rules.get("rank"), dict):
        rk = {"mode": "none", "value": 10, "per": "age_band", **copy.deepcopy(rules["rank"])}
        if not rk.get("by_type"):
            rk.pop("by_type", None)
        data["rank"] = rk
    if isinstance(rules.get("basic_items"), dict):
        bi = rules["basic_items"]
        data["basic_items_rule"] = {"enabled": bool(bi.get("enabled", True)), "min": bi.get("min", 4)}
    return data


def _num(v, what: str, *, lo=None, hi=None, allow_none=False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        raise InputRefused(f"{what} は数にしてください（{v!r}）。")
    if lo is not None and v < lo or hi is not None and v > hi:
        raise InputRefused(f"{what} は {lo}〜{hi} の範囲にしてください（{v}）。")
    return v


def validate_weights(data: dict, cat: dict) -> dict:
    """Complete a (possibly partial) weight set from the defaults and check it. Returns a clean copy.

    Unknown indicators, types or age bands are refused with a Japanese message (the file is not used)."""
    if not isinstance(data, dict):
        raise InputRefused("重みの形式が正しくありません（JSON のオブジェクトではありません）。")
    if data.get("format") not in (None, FORMAT):
        raise InputRefused(f"重みのファイルではありません（format: {data.get('format')!r}）。")
    base = default_weights(cat)
    out = copy.deepcopy(base)
    types = cat["difficulty_types"]
    band_labels_age = [b["label"] for b in cat["age_bands"]]
    if "types" in data and list(data["types"]) != list(types):
        unknown = [t for t in data["types"] if t not in types]
        if unknown:
            raise InputRefused(f"困難の種類「{unknown[0]}」は指標カタログにありません。")
    if "bands" in data:
        bands = data["bands"]
        if (
            not isinstance(bands, list)
            or len(bands) < 2
            or not all(isinstance(b, dict) and b.get("label") for b in bands)
        ):
            raise InputRefused("bands（帯）は label を持つ2つ以上の項目にしてください（高い順）。")
        if len({b["label"] for b in bands}) != len(bands):
            raise InputRefused("bands（帯）の名前が重複しています。")
        out["bands"] = [{"label": str(b["label"]), "color": b.get("color") or "#9e9e9e"} for b in bands]
    labels = [b["label"] for b in out["bands"]]
    out["flag_band"] = data.get("flag_band", out["flag_band"] if out["flag_band"] in labels else labels[-2])
    if out["flag_band"] not in labels[:-1]:
        raise InputRefused(
            f"flag_band「{out['flag_band']}」は一番下以外の帯（{'・'.join(labels[:-1])}）にしてください。"
        )
    cut_labels = labels[:-1]
    if "thresholds" in data:
        th = data["thresholds"]
        if not isinstance(th, dict):
            raise InputRefused("thresholds（しきい値）の形式が正しくありません。")
        for t, per in th.items():
            if t not in types:
                raise InputRefused(f"しきい値の困難の種類「{t}」は指標カタログにありません。")
            if not isinstance(per, dict):
                raise InputRefused(f"{t} のしきい値の形式が正しくありません。")
            for ab, cuts in per.items():
                if ab not in band_labels_age:
                    raise InputRefused(f"年齢区分「{ab}」は指標カタログにありません。")
                out["thresholds"][t][ab] = cuts
    for t in types:
        for ab in band_labels_age:
            cuts = out["thresholds"][t].get(ab)
            if cuts is None:
                continue
            if not isinstance(cuts, dict):
                raise InputRefused(f"{t}（{ab}）のしきい値は {{\"高\": 数, \"中\": 数}} の形にしてください。")
            missing = [c for c in cut_labels if c not in cuts]
            if missing:
                # a band set renamed in the file: take cut points in order
                vals = list(cuts.values())
                if len(vals) != len(cut_labels):
                    raise InputRefused(f"{t}（{ab}）のしきい値に「{missing[0]}」がありません。")
                cuts = dict(zip(cut_labels, vals))
            clean = {c: _num(cuts[c], f"{t}（{ab}）の「{c}」のしきい値", lo=0.001, hi=1000) for c in cut_labels}
            seq = [clean[c] for c in cut_labels]
            if any(a < b for a, b in zip(seq, seq[1:])):
                raise InputRefused(f"{t}（{ab}）のしきい値は上の帯ほど大きくしてください（{seq}）。")
            out["thresholds"][t][ab] = clean
    by_id = {i["id"]: i for i in cat["indicators"]}
    for iid, v in (data.get("indicators") or {}).items():
        if iid not in by_id:
            raise InputRefused(f"指標「{iid}」は指標カタログにありません。")
        if not isinstance(v, dict):
            raise InputRefused(f"指標「{iid}」の設定の形式が正しくありません。")
        cur = out["indicators"][iid]
        if "enabled" in v:
            cur["enabled"] = bool(v["enabled"])
        if "points" in v:
            if not isinstance(v["points"], dict):
                raise InputRefused(f"指標「{iid}」の points は {{種類: 点数}} にしてください。")
            pts = {}
            protective = by_id[iid]["kind"] == "protective"
            for t, p in v["points"].items():
                if t not in types:
                    raise InputRefused(f"指標「{iid}」の困難の種類「{t}」は指標カタログにありません。")
                p = _num(
                    p,
                    f"指標「{by_id[iid]['label_ja']}」の{t}の点数",
                    lo=-50 if protective else 0,
                    hi=0 if protective else 50,
                )
                if p:
                    pts[t] = p
            cur["points"] = pts
        if "window_months" in v:
            w = v["window_months"]
            if w is not None and (isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 240):
                raise InputRefused(f"指標「{by_id[iid]['label_ja']}」の期間（月）は 1〜240 か null にしてください。")
            cur["window_months"] = w
    sib = {**out["sibling"], **(data.get("sibling") or {})}
    sib["enabled"] = bool(sib.get("enabled"))
    sib["points"] = _num(sib.get("points", 0), "きょうだい加点", lo=0, hi=50)
    if sib.get("types") != "same":
        if not isinstance(sib.get("types"), list) or any(t not in types for t in sib["types"]):
            raise InputRefused("きょうだい加点の types は \"same\" か困難の種類のリストにしてください。")
    out["sibling"] = sib
    yt = {**out["yotaikyo"], **(data.get("yotaikyo") or {})}
    if yt.get("mode") not in YOTAIKYO_MODES:
        raise InputRefused(f"要対協ルールの mode は {', '.join(sorted(YOTAIKYO_MODES))} のいずれかです。")
    yt["label"] = str(yt.get("label") or "支援継続")
    out["yotaikyo"] = yt
    pg = data.get("proxy_guard") or {}
    if not isinstance(pg, dict) or not isinstance(pg.get("off", {}), dict):
        raise InputRefused(
            "proxy_guard（世帯・経済の指標だけで最上位の帯にしない規則）は {\"off\": {種類: 理由}} にしてください。"
        )
    off = {}
    for t, why in (pg.get("off") or {}).items():
        if t not in types:
            raise InputRefused(f"proxy_guard の困難の種類「{t}」は指標カタログにありません。")
        if not isinstance(why, str) or not why.strip():
            raise InputRefused(f"{t} で proxy_guard を外すには理由が必要です（{{\"off\": {{\"{t}\": \"理由\"}}}}）。")
        off[t] = why.strip()
    out["proxy_guard"] = {"off": off}
    fr = {**out["fairness"], **(data.get("fairness") or {})}
    fr["max_ratio"] = _num(fr.get("max_ratio", 3.0), "グループ間の比の警告しきい値", lo=1, hi=1000)
    fr["min_group"] = int(_num(fr.get("min_group", 10), "比べるグループの最小人数", lo=1, hi=100000))
    out["fairness"] = fr
    rk = {**out["rank"], **(data.get("rank") or {})}
    if rk.get("mode") not in RANK_MODES or rk.get("per") not in RANK_PER:
        raise InputRefused("上位抽出（rank）の mode は none・top_percent・top_n、per は age_band・age・all です。")
    rk["value"] = _num(rk.get("value", 10), "上位抽出の値", lo=0, hi=100000)
    if rk["mode"] == "top_percent" and rk["value"] > 100:
        raise InputRefused("上位抽出（％）は 0〜100 にしてください。")
    if not isinstance(rk.get("by_type", False), bool):
        raise InputRefused("上位抽出（rank）の by_type は true か false です（困難の種別ごとに上位を取るか）。")
    if rk.get("by_type"):
        rk["by_type"] = True
    else:
        rk.pop("by_type", None)  # absent unless used: earlier versions stay byte-identical
    out["rank"] = rk
    bi = {**out["basic_items_rule"], **(data.get("basic_items_rule") or {})}
    bi["enabled"] = bool(bi.get("enabled"))
    bi["min"] = int(_num(bi.get("min", 4), "基本連携データ項目の該当数", lo=1, hi=19))
    out["basic_items_rule"] = bi
    hist = {**out["history"], **(data.get("history") or {})}
    hist["sharp_rise_points"] = _num(hist.get("sharp_rise_points", 5), "急上昇の点数", lo=0.001, hi=1000)
    out["history"] = hist
    sd = {**out["school_data_expected"], **(data.get("school_data_expected") or {})}
    sd["from_grade"] = int(_num(sd.get("from_grade", 1), "学校データを求める学年（から）", lo=1, hi=12))
    sd["to_grade"] = int(_num(sd.get("to_grade", 9), "学校データを求める学年（まで）", lo=1, hi=12))
    out["school_data_expected"] = sd
    for k in ("name", "note"):
        if data.get(k):
            out[k] = str(data[k])
    return out


def strip_meta(data: dict) -> dict:
    return {
        k: v
        for k, v in data.items()
        if k not in META_KEYS or k in ("format", "format_version", "catalogue_version", "note")
    }


def diff(old: dict, new: dict, cat: dict) -> list[dict]:
    """What changed between two weight sets, in words a coordinator reads before adopting."""
    out = []
    labels = {i["id"]: i["label_ja"] for i in cat["indicators"]}
    for iid in labels:
        a, b = old["indicators"].get(iid, {}), new["indicators"].get(iid, {})
        for key, what in (("enabled", "使用"), ("points", "点数"), ("window_months", "期間（月）")):
            if a.get(key) != b.get(key):
                out.append({"what": f"{labels[iid]}：{what}", "old": a.get(key), "new": b.get(key)})
    for t, per in new["thresholds"].items():
        for ab, cuts in per.items():
            if old["thresholds"].get(t, {}).get(ab) != cuts:
                out.append({"what": f"しきい値 {t}（{ab}）", "old": old["thresholds"].get(t, {}).get(ab), "new": cuts})
    for key, what in (
        ("sibling", "きょうだい加点"),
        ("yotaikyo", "要対協ルール"),
        ("proxy_guard", "世帯・経済の指標だけで最上位にしない規則"),
        ("fairness", "グループ間の比の警告"),
        ("rank", "上位抽出"),
        ("basic_items_rule", "基本項目数による抽出"),
        ("bands", "帯"),
        ("flag_band", "抽出する帯"),
        ("history", "急上昇の点数"),
        ("school_data_expected", "学校データを求める学年"),
    ):
        if old.get(key) != new.get(key):
            out.append({"what": what, "old": old.get(key), "new": new.get(key)})
    return out


# --- compiled for the engine -------------------------------------------------------------------------------------------
@dataclass
class WeightModel:
    """A weight set as arrays, in the catalogue's indicator order (K) and type order (T)."""

    ind_ids: list[str]
    types: list[str]
    age_bands: list[dict]
    P: np.ndarray  # K × T points (0 for disabled indicators)
    contrib: np.ndarray  # K: an indicator's contribution to the total
    enabled: np.ndarray  # K bool
    risk: np.ndarray  # K bool (risk, not protective)
    own: np.ndarray  # K bool: the child's own record (kind own or protective) — household otherwise
    own_risk: np.ndarray  # K bool: kind own (an own-record reason; what lets a type reach the top band)
    guard: np.ndarray  # T bool: the proxy guard applies to this type
    school_held: np.ndarray  # K bool
    basic_no: np.ndarray  # K int (0 = not a basic item)
    windows: dict[str, int | None]
    band_labels: list[str]  # high → low
    band_colors: list[str]
    cuts: np.ndarray  # A × T × L (L = bands - 1; level l+1's cut; inf = not assessed)
    flag_level: int  # a type is flagged at this level or above (levels 0 = lowest band … L = top)
    data: dict = field(repr=False, default_factory=dict)

    @property
    def L(self) -> int:
        return len(self.band_labels) - 1

    def level_label(self, level: int) -> str:
        return self.band_labels[self.L - int(level)]


def compile_weights(data: dict, cat: dict) -> WeightModel:
    inds = cat["indicators"]
    types = list(cat["difficulty_types"])
    K, T = len(inds), len(types)
    P = np.zeros((K, T))
    enabled = np.zeros(K, dtype=bool)
    for k, i in enumerate(inds):
        w = data["indicators"].get(i["id"], {})
        enabled[k] = bool(w.get("enabled", True))
        if enabled[k]:
            for t, p in (w.get("points") or {}).items():
                P[k, types.index(t)] = float(p)
    pos, neg = P.max(axis=1, initial=0.0), P.min(axis=1, initial=0.0)
    contrib = np.where(pos > 0, pos, neg)
    bands = data["bands"]
    labels = [b["label"] for b in bands]
    L = len(labels) - 1
    age_bands = data.get("age_bands") or cat["age_bands"]
    cuts = np.full((len(age_bands), T, L), np.inf)
    for a, ab in enumerate(age_bands):
        for t_i, t in enumerate(types):
            c = (data["thresholds"].get(t) or {}).get(ab["label"])
            if c:
                # level l (1 … L) is band labels[L - l]
                for l in range(1, L + 1):
                    cuts[a, t_i, l - 1] = float(c[labels[L - l]])
    return WeightModel(
        ind_ids=[i["id"] for i in inds],
        types=types,
        age_bands=age_bands,
        P=P,
        contrib=contrib,
        enabled=enabled,
        risk=np.array([i["kind"] != "protective" for i in inds], dtype=bool),
        own=np.array([i["kind"] in ("own", "protective") for i in inds], dtype=bool),
        own_risk=np.array([i["kind"] == "own" for i in inds], dtype=bool),
        guard=np.array([t not in (data.get("proxy_guard") or {}).get("off", {}) for t in types], dtype=bool),
        school_held=np.array([bool(i["school_held"]) for i in inds], dtype=bool),
        basic_no=np.array([int(i["basic_no"] or 0) if i["basic"] else 0 for i in inds], dtype=int),
        windows={i["id"]: data["indicators"].get(i["id"], {}).get("window_months", i["window_months"]) for i in inds},
        band_labels=labels,
        band_colors=[b.get("color") or "#9e9e9e" for b in bands],
        cuts=cuts,
        flag_level=L - labels.index(data["flag_band"]),
        data=data,
    )
