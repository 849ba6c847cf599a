"""Guards on an extract before it is committed: is it plausibly the next extract of its source?

A coordinator imports a dozen files a month, often re-saved through Excel, sometimes the wrong one. Before a batch
supersedes the current extract of its source, :func:`check_replacement` compares it with the extract it replaces —
rows accepted, share rejected, rows per person, how many of its 宛名番号 match the current registry — and
:func:`check_fit` asks whether the file's columns fit the chosen source type at all. Each finding is a Japanese
sentence naming the figures (「前回 3,000 行 → 今回 10 行」); the importer refuses with them (exit 2, nothing changed)
unless the user confirms (``--force`` / the wizard's confirmation step).

Identity keys are compared after :func:`resident_key`: NFKC, spaces dropped, and an all-digit number without its
leading zeros — a registry re-saved through Excel (0001234567 → 1234567) is the same registry, not new people.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import text

from ..errors import InputRefused
from . import fields as F

# thresholds (a monthly extract changes by a few percent; these catch the wrong file, not normal turnover)
MIN_ROWS_COMPARED = 20  # below this the previous extract says too little to compare counts with
ROWS_FALL = 0.5  # fewer than half the previous extract's rows
REJECTED_SHARE = 0.5  # more than half of the rows could not be read
KEY_MATCH_MIN = 0.5  # a registry whose 宛名番号 match fewer than half of the current ones
ROWS_PER_PERSON_RISE = 2.0  # twice as many rows per person as before
SAME_LEDGER = 0.6  # share of mapped fields two extracts of one source type must share to be compared


def resident_key(v) -> str | None:
    """The 宛名番号 as compared: NFKC (full-width digits), spaces dropped, 1234.0 → 1234, leading zeros of an
    all-digit number dropped (Excel turns 0010000051 into 10000051). Blank → None."""
    # each value once per process: a link run keys every registry row, person and household (and every record's
    # number looked up), an import every row — the same numbers again and again
    try:
        return _resident_key(v)
    except TypeError:  # unhashable: not cached
        return _resident_key.__wrapped__(v)


@lru_cache(maxsize=1 << 18, typed=True)  # typed: True and 1 are equal keys, but "True" and "1" differ
def _resident_key(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        if v != v:
            return None
        if v.is_integer():
            v = int(v)
    t = "".join(unicodedata.normalize("NFKC", str(v)).split())
    if not t:
        return None
    if t.endswith(".0") and t[:-2].isdigit():
        t = t[:-2]
    if t.isdigit():
        t = t.lstrip("0") or "0"
    return t


def _n(x: int) -> str:
    return f"{x:,}"


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


class ReplaceRefused(InputRefused):
    """The extract looks implausible next to what it would replace; ``findings`` (Japanese sentences) and
    ``figures`` say why. Nothing was imported. The same import with ``force=True`` goes ahead."""

    def __init__(self, message_ja: str, findings: list[str], figures: dict):
        super().__init__(message_ja)
        self.findings = findings
        self.figures = figures


@dataclass
class Findings:
    items: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def add(self, sentence: str) -> None:
        self.items.append(sentence)

    def refuse(self, file_name: str, source_label: str, previous: dict | None) -> ReplaceRefused:
        head = f"「{file_name}」を{source_label}として取り込むのを止めました"
        if previous:
            when = f"、{previous['as_of']} 時点" if previous.get("as_of") else ""
            head += f"（現在の抽出: バッチ {previous['batch_id']}「{previous['file_name']}」{when}と比べて）"
        body = "\n".join(f"・{s}" for s in self.items)
        tail = (
            "ファイルと取込元の種類を確かめてください。内容が正しく、このまま取り込む場合は --force を付けて"
            "ください（画面では確認のうえ「このまま取り込む」）。データベースは変更されていません。"
        )
        return ReplaceRefused(f"{head}。\n{body}\n{tail}", list(self.items), dict(self.figures))


# --- the file's own figures ----------------------------------------------------------------------------------------
def person_keys(cols: dict, n: int) -> list:
    """One key per valid row for counting persons: the 宛名番号 (as compared) or else name + birth date."""

    from ..text.normalize import norm_name as _norm  # lazy: loads jaconv, yosina, only needed here

    norm_name = lru_cache(maxsize=None)(_norm)  # names repeat within a file: normalise each once
    rno = cols.get("resident_no") or [None] * n
    name = cols.get("name") or [None] * n
    bd = cols.get("birth_date") or [None] * n
    out = []
    for r, nm, b in zip(rno, name, bd):
        k = resident_key(r)
        out.append(("r", k) if k else ("n", norm_name(nm) if nm else "", str(b or "")))
    return out


def registry_duplicates(cols: dict, n: int) -> dict[str, list[int]]:
    """宛名番号 (as compared) → the row numbers (as the user sees them) of the rows that share it (2 or more)."""
    rows = cols.get("row_number") or [None] * n
    seen: dict[str, list[int]] = {}
    for k, r in zip(cols.get("resident_no") or [None] * n, rows):
        k = resident_key(k)
        if k:
            seen.setdefault(k, []).append(int(r))
    return {k: v for k, v in seen.items() if len(v) > 1}


def duplicates_sentence(dups: dict[str, list[int]]) -> str:
    pairs = sorted(dups.values())
    shown = "、".join("行 " + " と ".join(str(r) for r in rows) for rows in pairs[:3])
    more = f" ほか {len(pairs) - 3} 組" if len(pairs) > 3 else ""
    return (
        f"宛名番号が重複: {shown}{more}（{len(pairs)} 組）。同じ宛名番号の行は別の人を1人にまとめてしまうため、"
        "取り込みません"
    )


# --- does the file fit the chosen source type? ---------------------------------------------------------------------
def _attributes(source_type: str, mapping: dict) -> list[str]:
    st = F.SOURCES[source_type]
    return [h for h, f in mapping.items() if st.attribute(f) is not None]


def check_fit(source_type: str, headers: list[str], mapping: dict, findings: Findings) -> None:
    """The chosen source type's own columns (受診日, 支給区分 …) against the best other type's: a 乳幼児健診 workbook
    chosen as 児童扶養手当 has none of the allowance's columns and many of 母子保健's."""
    mine = _attributes(source_type, mapping)
    best: str | None = None
    best_cols: list[str] = []
    for other in F.SOURCES:
        if other in (source_type, "school_checklist"):
            continue
        cols = _attributes(other, F.detect_mapping(other, headers))
        if len(cols) > len(best_cols):
            best, best_cols = other, cols
    findings.figures["fit"] = {"columns": len(mine), "best_other": best, "best_other_columns": len(best_cols)}
    if best is None or len(best_cols) < max(2, 2 * len(mine) + 2):
        return
    label, other_label = F.SOURCES[source_type].label, F.SOURCES[best].label
    own = "、".join(a.label for a in F.SOURCES[source_type].attributes[:4])
    have = "、".join(best_cols[:5])
    findings.add(
        f"列が{label}の形式に合いません: {label}の項目（{own} など）の列が {len(mine)} 列なのに対し、"
        f"{other_label}の項目の列が {len(best_cols)} 列あります（{have}）。取込元の種類は「{other_label}」では"
        "ありませんか"
    )


# --- against what it replaces ----------------------------------------------------------------------------------------
def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def baseline(s, source_type: str, scope, older: list[int], mapping: dict, exclude: int | None = None) -> dict | None:
    """The extract this one is compared with: for the registry the current one; for other sources the newest
    extract of the same source and scope whose columns are mostly the same (one source type can hold several
    ledgers — 乳幼児健診, 妊婦健診, 予防接種 are all 母子保健 — and a ledger is compared with its own last month)."""
    rows = s.execute(
        text(
            "SELECT id, file_name, as_of, rows_total, rows_imported, rows_rejected, mapping FROM source_batch "
            "WHERE source_type = :st AND removed_at IS NULL AND "
            + ("scope = :sc" if scope is not None else "scope IS NULL")
            + " ORDER BY as_of DESC, id DESC"
        ),
        {"st": source_type, "sc": scope},
    ).all()
    mine = set(mapping.values())
    for r in rows:
        if r.id == exclude:
            continue
        if source_type == "resident_registry":
            if r.id not in older:
                continue
        else:
            m = r.mapping if isinstance(r.mapping, dict) else (json.loads(r.mapping) if r.mapping else {})
            if _jaccard(mine, set(m.values())) < SAME_LEDGER:
                continue
        return {
            "batch_id": r.id,
            "file_name": r.file_name,
            "as_of": str(r.as_of)[:10] if r.as_of else None,
            "rows": r.rows_total or 0,
            "imported": r.rows_imported or 0,
            "rejected": r.rows_rejected or 0,
        }
    return None


def current_registry_keys(s, exclude_batch: int | None = None) -> set[str]:
    """The 宛名番号 (as compared) of the current registry: its current extract's rows and the persons in it."""
    keys = {
        k
        for (v,) in s.execute(
            text(
                "SELECT r.resident_no FROM source_record r JOIN source_batch b ON b.id = r.batch_id "
                "WHERE r.source_type = 'resident_registry' AND b.removed_at IS NULL AND b.superseded_by IS NULL "
                "AND r.resident_no IS NOT NULL AND b.id != :x"
            ),
            {"x": exclude_batch or -1},
        )
        if (k := resident_key(v)) is not None
    }
    keys |= {
        k
        for (v,) in s.execute(text("SELECT resident_no FROM person WHERE in_registry = 1 AND resident_no IS NOT NULL"))
        if (k := resident_key(v)) is not None
    }
    return keys


def _batch_keys(s, batch_id: int) -> tuple[int, list]:
    from ..text.normalize import norm_name  # lazy: loads jaconv, yosina, only needed here

    rows = s.execute(
        text("SELECT resident_no, name, name_norm, birth_date FROM source_record WHERE batch_id = :b"),
        {"b": batch_id},
    ).all()
    out = []
    for rno, name, nn, bd in rows:
        k = resident_key(rno)
        out.append(("r", k) if k else ("n", nn or (norm_name(name) if name else ""), str(bd or "")[:10]))
    return len(rows), out


def check_replacement(
    s,
    *,
    source_type: str,
    prev: dict | None,
    rows_total: int,
    imported: int,
    rejected: int,
    keys: list,
    registry_keys: set[str],
    findings: Findings,
) -> None:
    """Compare the new extract's figures with ``prev`` (see :func:`baseline`); append findings."""
    label = F.SOURCES[source_type].label
    fig = findings.figures
    fig.update({"rows": rows_total, "imported": imported, "rejected": rejected})
    if prev is None:
        return
    fig["previous"] = prev
    if prev["imported"] >= MIN_ROWS_COMPARED and imported < prev["imported"] * ROWS_FALL:
        findings.add(
            f"取り込める行数が大きく減っています: 前回 {_n(prev['imported'])} 行 → 今回 {_n(imported)} 行"
            f"（{_pct(imported / prev['imported'])}）。一部だけの抽出や別のファイルではありませんか"
        )
    if rows_total >= 10 and rejected / rows_total > REJECTED_SHARE:
        was = f"（前回は {_n(prev['rows'])} 行中 {_n(prev['rejected'])} 行）" if prev["rows"] else ""
        findings.add(
            f"読めない行が多すぎます: {_n(rows_total)} 行中 {_n(rejected)} 行（{_pct(rejected / rows_total)}）を"
            f"取り込めません{was}。列の対応づけや日付の形式を確かめてください"
        )
    n_prev, prev_keys = _batch_keys(s, prev["batch_id"])
    if source_type != "resident_registry" and imported and n_prev:
        per_new = imported / max(1, len(set(keys)))
        per_old = n_prev / max(1, len(set(prev_keys)))
        fig["rows_per_person"] = {"previous": round(per_old, 2), "now": round(per_new, 2)}
        if per_new >= per_old * ROWS_PER_PERSON_RISE and per_new - per_old >= 0.5:
            findings.add(
                f"1人あたりの行数が増えています: 前回 {per_old:.1f} 行 → 今回 {per_new:.1f} 行。"
                "明細（受診・相談の1回ごと）の一覧など、別の形式のファイルではありませんか"
            )
    new_r = {k[1] for k in keys if k[0] == "r"}
    if source_type == "resident_registry":
        old_r = {k[1] for k in prev_keys if k[0] == "r"} or registry_keys
        if len(old_r) >= MIN_ROWS_COMPARED and new_r:
            hit = len(new_r & old_r)
            fig["keys_matching_current"] = {"keys": len(new_r), "matching": hit, "current": len(old_r)}
            if hit < KEY_MATCH_MIN * len(new_r):
                findings.add(
                    f"宛名番号が現在の住民基本台帳と一致するのは {_n(len(new_r))} 件中 {_n(hit)} 件"
                    f"（{_pct(hit / len(new_r))}）だけです（現在の住民 {_n(len(old_r))} 人）。"
                    "別の町・別の列（世帯番号など）を宛名番号として読んでいませんか"
                )
    elif registry_keys and new_r:
        old_k = {k[1] for k in prev_keys if k[0] == "r"}
        share_new = len(new_r & registry_keys) / len(new_r)
        share_old = len(old_k & registry_keys) / len(old_k) if old_k else None
        fig["keys_matching_current"] = {"keys": len(new_r), "matching": len(new_r & registry_keys)}
        if share_old is not None and share_old >= 0.5 and len(new_r) >= 10 and share_new < share_old * 0.5:
            findings.add(
                f"宛名番号が現在の住民と一致する割合が下がっています: 前回 {_pct(share_old)} → 今回 {_pct(share_new)}"
                f"（{_n(len(new_r))} 件中 {_n(len(new_r & registry_keys))} 件）。{label}の宛名番号の列を確かめてください"
            )
