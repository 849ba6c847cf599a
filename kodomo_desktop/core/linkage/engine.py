"""名寄せ engine: pure, DataFrame in → DataFrame out. No database, no Qt.

``link_records(registry, records, decisions=None, pinned=None, **options)`` decides, for every record, which
registry person it describes — or that it cannot tell (review) or that none does (unlinked).

Order of precedence per record
------------------------------
1. **Human decisions** (``decisions``: record_id, person_id, decision ∈ accept / reject / split /
   not_in_registry, in the order they were taken; undone decisions are simply not passed). ``accept`` →
   ``confirmed`` to that person, whatever the engine thinks. ``not_in_registry`` → ``unlinked``. ``reject``/
   ``split`` remove that person from the record's candidates for good, and the record can no longer be linked
   automatically (a person looked at it): it goes to review when another candidate remains above the lower
   threshold, else stays unlinked. A later accept overrides earlier rejects of the same person.
2. **宛名番号** (resident number) equal to a registry person's → ``auto`` (method ``resident_no``) unless the
   pair *contradicts* it: birth dates that disagree beyond a typo (level "same year-month" or "different"), or a
   given name (full name when it cannot be split) at level "different". A contradicted number is not trusted:
   the record goes through Fellegi–Sunter with that person among its candidates and cannot be auto-linked to
   that person (twins' numbers swapped, a parent's number on a child's row).
3. **Pinned pupil numbers** (``pinned``: school, student_no, person_id — confirmed once by a person) → ``auto``
   (method ``student_no``) under the same contradiction rule.
4. **Fellegi–Sunter** on the blocked candidates (``blocking.py``, ``comparisons.py``, ``model.py``). Each pair
   gets a *pair weight* (prior + Σ field weights, log2). The candidates of a record then compete: with π the share
   of records whose person is in the registry (estimated, ≤ 0.99), the probability that candidate c is the
   record's person is ``2^w_c / ((1 − π) + Σ_candidates 2^w)``. Its log-odds is the record's **score**
   (``match_weight``; ``match_probability`` is the probability): the pair weight plus a last waterfall bar,
   "other candidates, not in registry" = −log2((1 − π) + Σ other candidates' 2^w). Score ≥ ``upper`` → ``auto``;
   ``lower`` ≤ score < ``upper`` → ``review``; below → ``unlinked``. Guards send an auto-worthy record to review:

   * ``namesake``: the runner-up's pair weight is within ``margin`` bits of the best's (two people with the same
     name and birth date in different households — never the first candidate; their scores are ≈ 0, P ≈ 0.5);
   * ``twins``: best and runner-up share household and birth date, and the given names do not tell them apart
     clearly (best exact in kanji or kana, the other twin at most "somewhat similar"; for twins with one reading,
     kanji exact and the sex pointing the same way);
   * ``given_name_disagrees`` / ``name_disagrees``: the best candidate's given name (or full name) is "different";
   * ``given_name_uncertain``: the given names differ by one kanji and there is no kana to show the reading is the
     same (陽翔/陽斗 is a slip; 翔生/翔朗 are twins — only a person can tell without the reading);
   * ``birth_date_disagrees``: the best candidate's birth date is "different" (not a swap, ±1 day, year or month
     typo);
   * ``surname_differs``: the surname is "different" — a remarriage, or another child with the same given name,
     sex and birth date (a child who moved away) — and nothing else backs the link: neither the address (equal or
     contained), the household number nor the resident number agrees. On the demo's noisiest 10,000-resident towns
     this pattern alone was 97.8 % right, below what an automatic link needs; a person confirms it
     (``surname_guard=False`` turns the guard off);
   * ``rejected_before``, ``resident_no_contradicted``: see above.
5. **Evidence from other rows** (``_corroborate``), after the thresholds, for rows held in review:
   * ``vouched_by_number`` (method ``numbered_rows``): another row with exactly this name, birth date and sex
     carries a resident number (or was confirmed) pointing at the very person who is this row's best candidate,
     with no close runner-up — the department itself says who that is;
   * ``surname_siblings`` (``household_siblings``): two or more rows under one surname match different children of
     one registry household — a step family's children under their former surname;
   * ``given_name_homophone`` (``name_reading``): the given name in other kanji, its one known reading the
     candidate's — or one of its known readings, with the address agreeing too (``given_name_homophone_address``);
   * ``twins_told_apart`` (``given_name``): twins the given name already told apart (see ``twins`` above), held
     only because the other twin is within the namesake margin;
   * ``surname_school_roster`` (``school_zone``): a school row under another surname whose given name, sex and birth
     date point at one child who lives in that school's zone and is not on the same school's list under the
     registry surname (a child who left, sharing given name and birth date, meets the child here on one list);
   * ``namesake_school_zone`` (``school_zone``): a namesake row from a school links to the one namesake living in
     that school's zone. Zones are learned from the run's confident links.
   Evaluation (``benchmarks/linkage_eval.py``, 3,000 residents × 3 seeds, demo towns, high noise): rows without a
   resident number whose person has no registry namesake linked right 98.2 → 99.9 %, still no wrong link; on
   10,000-resident towns also none.

Output (one row per record, in the order of ``records``; ``RESULT_COLUMNS``): ``record_id``, ``status``
(auto / confirmed / review / unlinked), ``person_id`` (None when unlinked), ``match_weight`` (the score, bits),
``match_probability``, ``method`` (resident_no / student_no / fellegi_sunter / human), ``reason`` (a code;
Japanese text in ``REASONS_JA``), ``guard`` (what keeps it from auto, "" if nothing), ``best_person_id`` (the
best candidate even when unlinked, for previews), ``pair_weight`` (the best pair's weight alone),
``second_weight`` (the runner-up's pair weight), ``n_candidates``, ``explanation``, ``candidates``,
``decided_by``. ``explanation`` is a list of dicts — the prior, one per compared field, and the competition bar —
with ``field, label_ja, label_en, level, level_ja, level_en, weight, tf_adjustment`` (a Splink-style waterfall:
the weights add up to ``match_weight``; items are shared between rows, read-only). ``candidates`` holds the top 5
candidates (``person_id, match_weight, match_probability, pair_weight, explanation``) of records in review (and of
records with a rejected candidate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import i18n
from ..text.normalize import norm_name_series
from ..vocab import LINKED
from . import blocking as B
from . import model as M
from .comparisons import (
    BD_ELSE,
    BD_YM,
    COMPARISONS,
    INDEX,
    NAME_ELSE,
    NAME_EXACT,
    NAME_JW85,
    NAME_ONE,
    NAME_ONE_CHAR,
    NULL,
)
from .prepare import _col, _ids, prepare, pupil_keys

# Thresholds are on the record-level score (``match_weight``): log2 odds that the candidate is the record's person,
# weighed against the record's other candidates and against "not in the registry" (see link_records).
# Defaults chosen from the evaluation (benchmarks/linkage_eval.py: the demo's towns read back through the importer
# and the engine's own generator; 3,000 and 10,000 residents, noise clean / low / demo default / medium / high):
# * UPPER = 5 (P ≥ 0.97). Among rows that passed the guards, every best candidate scoring above 2 was right
#   (≈ 160 rows between 2 and 8, 36,000 above); the worst wrong one scored 1.8, so 5 leaves 3.2 bits (9×) of
#   headroom. Raising it costs links and buys nothing measurable: rows without a resident number linked right,
#   demo default noise, at upper 2 / 5 / 8: 99.6 / 99.5 / 98.8 % (guard off), and the same order with it on.
# * LOWER = −2 (P ≥ 0.2). Namesakes sit at ≈ 0 (two equal candidates: P ≈ 0.5 each) and must reach review;
#   every best candidate below −2 in those towns was a person missing from the registry.
# * MARGIN = 6: a runner-up whose pair weight is within 6 bits (64×) of the best's sends the row to review
#   (namesakes), whatever the score.
DEFAULT_UPPER = 5.0
DEFAULT_LOWER = -2.0
DEFAULT_MARGIN = 6.0
TOP_K = 5

RESULT_COLUMNS = [
    "record_id",
    "status",
    "person_id",
    "match_weight",
    "match_probability",
    "method",
    "reason",
    "guard",
    "best_person_id",
    "pair_weight",
    "second_weight",
    "n_candidates",
    "explanation",
    "candidates",
    "decided_by",
]

REASONS_JA = {
    "namesake": "同姓同名・同じ生年月日の候補が複数あります",
    "twins": "同じ世帯・同じ生年月日の候補（双子など）を名で区別できません",
    "given_name_disagrees": "名が一致しません",
    "given_name_uncertain": "名の漢字が1文字違い、カナで読みを確かめられません",
    "name_disagrees": "氏名が一致しません",
    "birth_date_disagrees": "生年月日が一致しません",
    "surname_differs": "姓が異なり（再婚など）、住所・世帯など他に裏付けがありません",
    "rejected_before": "以前に候補が却下されています",
    "resident_no_contradicted": "宛名番号は一致しますが生年月日または名が矛盾します",
    "student_no_contradicted": "学籍番号は確認済みの人と一致しますが生年月日または名が矛盾します",
    "between_thresholds": "一致度が自動リンクの基準に届きません",
    "below_lower": "一致度が低く、候補とみなしません",
    "no_candidate": "候補がありません",
    "not_in_registry": "住民基本台帳にいないと判断されています",
    "accepted": "担当者が確認しました",
    "resident_no": "宛名番号が一致します",
    "student_no": "確認済みの学籍番号です",
    "auto": "一致度が基準を超えています",
    "surname_siblings": "姓は異なりますが、同じ姓で記載された兄弟姉妹の記録も同じ世帯のこどもに一致します",
    "namesake_school_zone": "同姓同名の候補のうち、この学校の通学区域に住むのは1人だけです",
    "given_name_homophone": "名の漢字は異なりますが読みが同じです（読みは台帳の同じ名の人から）。姓・生年月日が一致します",
    "given_name_homophone_address": "名の漢字は異なりますがその読み方の一つが候補の読みです。姓・生年月日・住所が一致します",
    "vouched_by_number": "同じ氏名・生年月日・性別の別の行に宛名番号があり、その人を指しています",
    "surname_school_roster": "姓は異なりますが、名・生年月日・性別が一致し、この学校の通学区域に住み、同じ名簿に本来の姓では載っていません",
    "twins_told_apart": "双子（同じ世帯・同じ生年月日）ですが、名（漢字・読み）で区別できます",
}
REASONS_EN = {
    "namesake": "several candidates with the same name and birth date",
    "twins": "twins (same household and birth date) not told apart by the given name",
    "given_name_disagrees": "the given name differs",
    "given_name_uncertain": "the given name is one kanji off and there is no kana to check the reading",
    "name_disagrees": "the name differs",
    "birth_date_disagrees": "the birth date differs",
    "surname_differs": "the surname differs (remarriage?) and neither address nor household backs the link",
    "rejected_before": "a candidate was rejected before",
    "resident_no_contradicted": "the resident number matches but the birth date or given name contradicts it",
    "student_no_contradicted": "the confirmed pupil number matches but the birth date or given name contradicts it",
    "between_thresholds": "the score is below the automatic-link threshold",
    "below_lower": "the score is too low to count as a candidate",
    "no_candidate": "no candidate",
    "not_in_registry": "judged not to be in the resident registry",
    "accepted": "confirmed by a person",
    "resident_no": "the resident number matches",
    "student_no": "a confirmed pupil number",
    "auto": "the score is above the threshold",
    "surname_siblings": "the surname differs, but siblings' rows under the same surname match children of the same "
    "household",
    "namesake_school_zone": "of the same-name candidates only one lives where this school's pupils live",
    "given_name_homophone": "the given name is written with other kanji but reads the same (the reading known from "
    "others with that name); surname and birth date agree",
    "given_name_homophone_address": "the given name is written with other kanji, one of whose known readings is the "
    "candidate's; surname, birth date and address agree",
    "vouched_by_number": "another row with the same name, birth date and sex carries a resident number, and it points "
    "at this person",
    "surname_school_roster": "the surname differs, but given name, birth date and sex agree, the child lives in this "
    "school's zone and is not on the same list under the registry surname",
    "twins_told_apart": "twins (same household and birth date), told apart by the given name (kanji and reading)",
}
# the reasons' English joins the one translation table (core/i18n.py)
i18n.register("en", {REASONS_JA[k]: v[:1].upper() + v[1:] for k, v in REASONS_EN.items() if k in REASONS_JA})


@dataclass
class LinkRunInfo:
    seconds: float
    pairs: int
    blocking: dict  # per rule: pairs and skipped keys; total; identities
    model: dict  # m, u, prior, π and how they were estimated (JSON-friendly)
    fitted: object = None  # the model.Model itself (as fitted, before this run's π), for link_records(model=...)
    cache: dict | None = None  # this run's pair comparisons, for link_records(pair_cache=...) with the same model
    compared: int = 0  # candidate pairs compared by this run
    reused: int = 0  # candidate pairs whose comparison came from ``pair_cache``


def _decision_state(decisions: pd.DataFrame | None, rec_pos: dict) -> dict[int, dict]:
    """Per record position: accepted person / not_in_registry / rejected persons, applying decisions in order."""
    state: dict[int, dict] = {}
    if decisions is None or len(decisions) == 0:
        return state
    d = decisions
    by = d["decided_by"] if "decided_by" in d.columns else pd.Series([None] * len(d), index=d.index)
    for rid, pid, dec, who in zip(d["record_id"], d["person_id"], d["decision"], by):
        pos = rec_pos.get(_key(rid))
        if pos is None:
            continue
        st = state.setdefault(pos, {"accepted": None, "nir": False, "rejected": set(), "by": None})
        pid = None if pid is None or (isinstance(pid, float) and np.isnan(pid)) else str(pid)
        if dec == "accept" and pid:
            st["accepted"], st["nir"] = pid, False
            st["rejected"].discard(pid)
        elif dec in ("reject", "split") and pid:
            st["rejected"].add(pid)
            if st["accepted"] == pid:
                st["accepted"] = None
        elif dec == "not_in_registry":
            st["nir"], st["accepted"] = True, None
        st["by"] = who
    return state


def _key(v):
    """Record ids compare across int/str/float forms."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return v


def _contradicted(gamma_row: np.ndarray) -> bool:
    bd = gamma_row[INDEX["birth_date"]]
    giv = gamma_row[INDEX["given"]]
    name = gamma_row[INDEX["name"]]
    return bool(bd in (BD_YM, BD_ELSE) or giv == NAME_ELSE or (giv == NULL and name == NAME_ELSE))


def explain(
    model: M.Model, gamma_row: np.ndarray, parts_row: np.ndarray, tf_row: np.ndarray, cache: dict | None = None
) -> list[dict]:
    """A waterfall: the prior, then each field's level and contribution (rounded; sums to the match weight).

    Items are plain dicts ``field, label_ja, label_en, level, level_ja, level_en, weight, tf_adjustment``. With a
    ``cache`` equal items are shared between waterfalls (a town's 30,000 rows have a few hundred distinct items):
    treat them as read-only."""
    cache = {} if cache is None else cache
    key = ("prior", round(model.prior_weight, 3))
    prior = cache.get(key)
    if prior is None:
        prior = cache[key] = {
            "field": "prior",
            "label_ja": "事前確率",
            "label_en": "prior",
            "level": "prior",
            "level_ja": "ランダムな2件が同一人物である確率",
            "level_en": "two random records match",
            "weight": key[1],
            "tf_adjustment": 0.0,
        }
    items = [prior]
    for c, comp in enumerate(COMPARISONS):
        lv = int(gamma_row[c])
        if lv == NULL and comp.name in ("name", "surname", "given"):
            continue  # either the full name or its parts is compared, never both
        ikey = (c, lv, round(float(parts_row[c]), 3), round(float(tf_row[c]), 3))
        item = cache.get(ikey)
        if item is None:
            code, ja, en = ("null", "比較できない（欠損）", "missing") if lv == NULL else comp.levels[lv]
            item = cache[ikey] = {
                "field": comp.name,
                "label_ja": comp.label_ja,
                "label_en": comp.label_en,
                "level": code,
                "level_ja": ja,
                "level_en": en,
                "weight": ikey[2],
                "tf_adjustment": ikey[3],
            }
        items.append(item)
    return items


IDENTITY = (
    "full_k",
    "sur_k",
    "giv_k",
    "full_kn",
    "sur_kn",
    "giv_kn",
    "bd",
    "sex",
    "address",
    "resident_no",
    "household_no",
)


def _identities(R: dict) -> tuple[np.ndarray, np.ndarray]:
    """Records with the same identity fields (a child in twelve monthly attendance files) are compared once:
    (identity id per record, first record of each identity)."""
    # each field coded in order of first appearance, the codes folded in one field at a time: the tuples' codes in
    # order of first appearance, i.e. groupby(IDENTITY, sort=False).ngroup() without a DataFrame and its groupby
    # (~10 ms a call at a few thousand rows)
    uid = np.zeros(len(R["bd"]), dtype=np.int64)
    for k in IDENTITY:
        code, uniq = pd.factorize(R[k], use_na_sentinel=False)
        uid, _ = pd.factorize(uid * len(uniq) + code)
    _, first = np.unique(uid, return_index=True)
    return uid, first


def identity_hashes(X: dict) -> np.ndarray:
    """A 64-bit hash per row of the identity fields (``IDENTITY``: everything ``model.compare`` reads of a record
    or a registry person, the rest being derived from them): the key of a pair's cached comparison. An edited row
    (訂正, a new extract with another name or address) has another hash, so its old comparisons are never reused."""
    n = len(X["bd"])
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    df = pd.DataFrame({k: np.asarray(X[k]).astype(str) for k in IDENTITY})
    return pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)


def _pair_keys(hu: np.ndarray, hp: np.ndarray) -> np.ndarray:
    """One sortable key per pair from its two hashes (a lookup key only: a hit is checked against both hashes)."""
    with np.errstate(over="ignore"):
        return hu ^ (hp * np.uint64(0x9E3779B97F4A7C15))


def _compare_cached(U: dict, P: dict, ri: np.ndarray, pi: np.ndarray, tf_table: dict, cache: dict | None):
    """``model.compare`` of the candidate pairs, taking the comparison of a pair whose record identity and person
    have the same identity fields as in ``cache`` (a former run's, with the same model) from it. Returns gamma, tf,
    the new cache (every pair of this run) and how many pairs were compared."""
    hu, hp = identity_hashes(U), identity_hashes(P)
    ku, kp = hu[ri], hp[pi]
    key = _pair_keys(ku, kp)
    n = len(ri)
    hit = np.zeros(n, dtype=bool)
    pos = np.zeros(n, dtype=np.int64)
    if cache is not None and len(cache["u"]) and n:
        ck = cache["key"] if "key" in cache else _pair_keys(cache["u"], cache["p"])  # stored without it
        pos = np.minimum(np.searchsorted(ck, key), len(ck) - 1)
        hit = (ck[pos] == key) & (cache["u"][pos] == ku) & (cache["p"][pos] == kp)
    miss = np.flatnonzero(~hit)
    gamma = np.empty((n, M.C), dtype=np.int8)
    tf = np.empty((n, 3), dtype=np.float32)
    if hit.any() and cache is not None:
        h = np.flatnonzero(hit)
        gamma[h], tf[h] = cache["gamma"][pos[h]], cache["tf"][pos[h]]
    if len(miss):
        gamma[miss], tf[miss] = M.compare_chunked(U, P, ri[miss], pi[miss], tf_table)
    order = np.argsort(key, kind="stable")
    new = {"key": key[order], "u": ku[order], "p": kp[order], "gamma": gamma[order], "tf": tf[order]}
    return gamma, tf, new, len(miss)


def link_records(
    registry: pd.DataFrame,
    records: pd.DataFrame,
    decisions: pd.DataFrame | None = None,
    pinned: pd.DataFrame | None = None,
    *,
    upper: float = DEFAULT_UPPER,
    lower: float = DEFAULT_LOWER,
    margin: float = DEFAULT_MARGIN,
    surname_guard: bool = True,
    m_method: str = "em",
    model: M.Model | None = None,
    pair_cache: dict | None = None,
    max_block_pairs: int = 5_000,
    seed: int = 0,
    return_info: bool = False,
    **_ignored,
):
    """Link every record to a registry person (see the module docstring). Returns the result DataFrame
    (``RESULT_COLUMNS``), or (result, LinkRunInfo) with ``return_info``.

    ``surname_guard``: a row whose surname differs from the candidate's links automatically only when the address,
    household or resident number backs it (default; see the ``surname_differs`` guard).
    ``model``: a fitted ``model.Model`` to reuse (e.g. from an earlier run's ``LinkRunInfo.fitted``: m, u, the prior,
    π's starting value and the term-frequency table as fitted; it is not changed); by default all of them are
    estimated from these data. ``pair_cache``: an earlier run's ``LinkRunInfo.cache`` made with the same model — a
    pair whose two sides have the same identity fields is not compared again (the result is the same either way).
    ``m_method``: "em" (default) or "labelled" (resident-number pairs only)."""
    t0 = time.perf_counter()
    registry = registry.reset_index(drop=True)
    records = records.reset_index(drop=True)
    n_r, n_p = len(records), len(registry)
    person_ids = (
        np.array(
            [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in registry["person_id"]],
            dtype=object,
        )
        if n_p
        else np.zeros(0, dtype=object)
    )
    pid_pos = {p: i for i, p in enumerate(person_ids) if p is not None}
    record_ids = (
        records["record_id"].to_numpy(dtype=object) if "record_id" in records.columns else np.arange(n_r, dtype=object)
    )
    rec_pos = {_key(r): i for i, r in enumerate(record_ids)}
    if n_r == 0:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in RESULT_COLUMNS})
        return (empty, LinkRunInfo(0.0, 0, {}, {})) if return_info else empty
    R = prepare(records)
    P = prepare(registry)
    uid, first = _identities(R)
    U = {k: v[first] for k, v in R.items()}
    n_u = len(first)

    # --- fixed candidates: resident numbers (per identity), pinned pupil numbers and accepted decisions (per
    # record, mapped to the record's identity) ------------------------------------------------------------------
    det_u, det_p = _resident_matches(U, P)
    pin_r, pin_p = _pinned_matches(R, pinned, pid_pos)
    state = _decision_state(decisions, rec_pos)
    acc_r = np.array([pos for pos, st in state.items() if st["accepted"] in pid_pos], dtype=np.int64)
    acc_p = np.array([pid_pos[state[pos]["accepted"]] for pos in acc_r], dtype=np.int64)
    extra = [(det_u, det_p), (uid[pin_r], pin_p), (uid[acc_r], acc_p)]

    if n_p:
        ri, pi, stats = B.candidate_pairs(U, P, max_block_pairs=max_block_pairs, extra=extra)
    else:
        ri, pi, stats = np.zeros(0, np.int32), np.zeros(0, np.int32), {"total": 0}
    stats["identities"] = int(n_u)
    # a fitted model's term frequencies are the registry's as it was at the fit (a stored model is reused as is)
    tf_table = M.term_frequencies(P) if model is None or not model.tf else M.tf_for(model.tf, P)
    gamma, tf, new_cache, n_compared = _compare_cached(U, P, ri, pi, tf_table, pair_cache if model else None)
    if model is None:
        labelled = np.zeros(len(ri), dtype=bool)
        if len(det_u):
            det_codes = np.asarray(det_u, np.int64) * n_p + np.asarray(det_p, np.int64)
            labelled = np.isin(ri.astype(np.int64) * n_p + pi, det_codes)
        model = M.fit(
            U, P, gamma, labelled, n_records=n_u, n_pairs=len(ri), method=m_method, seed=seed, tf_table=tf_table
        )
    fitted = model
    model = model.copy()  # π is rebased below on this run's copy; the fitted (or given) model stays as it was
    w = M.score(model, gamma, tf)

    # --- rank each identity's candidates, best first --------------------------------------------------------------
    order = np.lexsort((-w, ri))
    ri_s, pi_s, w_s = ri[order], pi[order], w[order]
    starts = np.searchsorted(ri_s, np.arange(n_u), side="left")
    ends = np.searchsorted(ri_s, np.arange(n_u), side="right")
    det_of = {int(u): int(p) for u, p in zip(det_u, det_p)}
    pin_of = {int(r): int(p) for r, p in zip(pin_r, pin_p)}

    def pair_row(u: int, p: int):
        s, e = starts[u], ends[u]
        hit = np.flatnonzero(pi_s[s:e] == p)
        return int(order[s + hit[0]]) if len(hit) else None

    # the candidates of a record compete with each other and with "not in the registry" (1 − π)
    ew = np.exp2(np.clip(w, -300, 900))
    mass = np.bincount(ri, weights=ew, minlength=n_u) if len(ri) else np.zeros(n_u)
    share = M.in_registry_share(mass, model.prior, n_p, start=model.in_registry)
    shift = model.rebase(share)  # the pair prior becomes π / N with the better π: every pair weight moves by `shift`
    w = w + shift
    w_s = w_s + shift
    ew = ew * 2.0**shift
    mass = mass * 2.0**shift
    k_out = model.not_in_registry

    def competition(row: int, total: float) -> float:
        """−log2((1 − π) + Σ other candidates' 2^w): added to the pair's weight it gives the record-level
        log-odds that this candidate is the person."""
        return float(-np.log2(k_out + max(total - ew[row], 0.0)))

    hh, bdp = P["household_no"], P["bd"]
    rows = []
    for r in range(n_r):
        u = int(uid[r])
        s, e = starts[u], ends[u]
        st = state.get(r)
        rejected = {pid_pos[p] for p in st["rejected"] if p in pid_pos} if st else set()
        ranked = [j for j in range(s, e) if pi_s[j] not in rejected] if rejected else None
        n_c = (e - s) if ranked is None else len(ranked)

        def nth(k):  # position (in the sorted arrays) of the k-th candidate of this record
            if ranked is None:
                return s + k if s + k < e else None
            return ranked[k] if k < len(ranked) else None

        total = float(mass[u]) - (
            sum(float(ew[order[j]]) for j in range(s, e) if pi_s[j] in rejected) if rejected else 0.0
        )
        j2 = nth(1)
        base = {
            "record_id": record_ids[r],
            "n_candidates": int(n_c),
            "guard": "",
            "decided_by": None,
            "second_weight": float(w_s[j2]) if j2 is not None else np.nan,
            "_uid": u,
            "_ranked": ranked,
            "_row": None,
            "_total": total,
        }

        def put(row, status, pid, method, reason, guard=""):
            d = dict(base)
            d.update(
                _row=row, status=status, person_id=pid, best_person_id=pid, method=method, reason=reason, guard=guard
            )
            rows.append(d)

        # 1. human decisions
        if st is not None and st["accepted"] in pid_pos:
            put(pair_row(u, pid_pos[st["accepted"]]), "confirmed", st["accepted"], "human", "accepted")
            rows[-1]["decided_by"] = st["by"]
            continue
        if st is not None and st["nir"]:
            put(None, "unlinked", None, "human", "not_in_registry")
            rows[-1]["decided_by"] = st["by"]
            continue
        # 2./3. deterministic: resident number (identity), pinned pupil number (record)
        contradicted, fixed_person, done = "", None, False
        for kind, p in (("resident_no", det_of.get(u)), ("student_no", pin_of.get(r))):
            if p is None or p in rejected:
                continue
            row = pair_row(u, p)
            if row is None:
                continue
            if _contradicted(gamma[row]):
                contradicted = contradicted or f"{kind}_contradicted"
                fixed_person = p if fixed_person is None else fixed_person
                continue
            put(row, "auto", person_ids[p], kind, kind)
            done = True
            break
        if done:
            continue
        # 4. Fellegi–Sunter
        j1 = nth(0)
        if j1 is None:
            put(None, "unlinked", None, "fellegi_sunter", "no_candidate", contradicted)
            continue
        best_p, best_row = int(pi_s[j1]), int(order[j1])
        g = gamma[best_row]
        guard = ""
        if contradicted and best_p == fixed_person:
            guard = contradicted
        elif rejected:
            guard = "rejected_before"
        elif g[INDEX["given"]] == NAME_ELSE:
            guard = "given_name_disagrees"
        elif g[INDEX["given"]] == NAME_ONE_CHAR:
            guard = "given_name_uncertain"
        elif g[INDEX["given"]] == NULL and g[INDEX["name"]] == NAME_ELSE:
            guard = "name_disagrees"
        elif g[INDEX["birth_date"]] == BD_ELSE:
            guard = "birth_date_disagrees"
        elif (
            surname_guard
            and g[INDEX["surname"]] == NAME_ELSE
            and not (g[INDEX["address"]] in (0, 1) or g[INDEX["household"]] == 0 or g[INDEX["resident_no"]] == 0)
        ):
            guard = "surname_differs"
        elif j2 is not None:
            p2 = int(pi_s[j2])
            if hh[best_p] and hh[best_p] == hh[p2] and bdp[best_p] >= 0 and bdp[best_p] == bdp[p2]:
                if not _twins_told_apart(g, gamma[order[j2]]):
                    guard = "twins"
        put(best_row, "", person_ids[best_p], "fellegi_sunter", "", guard)

    row_of = np.array([-1 if d["_row"] is None else d["_row"] for d in rows], dtype=np.int64)
    ranked_of = [d.pop("_ranked") for d in rows]
    total_of = np.array([d.pop("_total") for d in rows], dtype=np.float64)
    comp_of = np.array([competition(int(x), t) if x >= 0 else np.nan for x, t in zip(row_of, total_of)])
    for d in rows:
        del d["_row"]
    out = pd.DataFrame(rows)
    out["pair_weight"] = np.where(row_of >= 0, w[np.maximum(row_of, 0)] if len(w) else np.nan, np.nan)
    out["match_weight"] = out["pair_weight"].to_numpy() + comp_of
    out["match_probability"] = M.probability(out["match_weight"].to_numpy(dtype=np.float64))
    out = apply_thresholds(out, upper=upper, lower=lower, margin=margin)
    swapped = _corroborate(
        out,
        R,
        P,
        person_ids,
        pid_pos,
        starts,
        ends,
        pi_s,
        w_s,
        upper,
        margin,
        records["source_type"].to_numpy(dtype=object) if "source_type" in records.columns else None,
        np.where(row_of >= 0, gamma[np.maximum(row_of, 0), INDEX["address"]], NULL) if len(gamma) else None,
    )
    for i, j in swapped.items():  # a namesake resolved by the school zone: the pair is now that candidate's
        row_of[i] = int(order[j])
        comp_of[i] = competition(int(order[j]), total_of[i])
        out.at[i, "pair_weight"] = float(w[row_of[i]])
        out.at[i, "match_weight"] = float(w[row_of[i]]) + comp_of[i]
        out.at[i, "match_probability"] = float(M.probability(np.array([out.at[i, "match_weight"]]))[0])

    # --- explanations (one waterfall per distinct pair) and candidate lists for review ----------------------------
    fs_review = (out["method"] == "fellegi_sunter") & (
        (out["status"] == "review") | (out["reason"] == "rejected_before")
    )
    cand_pos: dict[int, list[int]] = {}
    uid_col = out["_uid"].to_numpy()
    for i in np.flatnonzero(fs_review.to_numpy()).tolist():
        u, ranked = int(uid_col[i]), ranked_of[i]
        top = ranked[:TOP_K] if ranked is not None else list(range(starts[u], min(ends[u], starts[u] + TOP_K)))
        cand_pos[i] = top
    need_rows = {int(x) for x in row_of if x >= 0}
    need_rows |= {int(order[j]) for top in cand_pos.values() for j in top}
    need = np.fromiter(sorted(need_rows), dtype=np.int64, count=len(need_rows))
    expl: dict[int, list] = {}  # the pair's own bars (prior + fields), shared by the records of an identity
    item_cache: dict = {}
    if len(need):
        wn, parts, tf_adj = M.score(model, gamma[need], tf[need], with_parts=True)
        for k, row in enumerate(need):
            expl[int(row)] = explain(model, gamma[row], parts[k], tf_adj[k], item_cache)

    def waterfall(row: int, comp: float, n_other: int) -> list[dict]:
        return expl[row] + [_competition_item(comp, n_other, k_out, item_cache)]

    out["explanation"] = [
        waterfall(int(x), c, max(n - 1, 0)) if x >= 0 else None for x, c, n in zip(row_of, comp_of, out["n_candidates"])
    ]
    cands: list[list[dict] | None] = [None] * len(out)
    for i, top in cand_pos.items():
        t, n_other = total_of[i], max(int(out["n_candidates"].iat[i]) - 1, 0)
        lst = []
        for j in top:
            row = int(order[j])
            c = competition(row, t)
            lst.append(
                {
                    "person_id": person_ids[pi_s[j]],
                    "match_weight": round(float(w_s[j]) + c, 3),
                    "match_probability": float(M.probability(w_s[j] + c)),
                    "pair_weight": round(float(w_s[j]), 3),
                    "explanation": waterfall(row, c, n_other),
                }
            )
        cands[i] = lst
    out["candidates"] = cands
    out = out[RESULT_COLUMNS]
    for name in ("person_id", "best_person_id", "decided_by", "method", "reason", "guard", "status"):
        col = out[name].astype(object)
        out[name] = col.where(col.notna(), None)
    info = LinkRunInfo(
        seconds=time.perf_counter() - t0,
        pairs=int(len(ri)),
        blocking=stats,
        model=model.to_dict(),
        fitted=fitted,
        cache=new_cache,
        compared=int(n_compared),
        reused=int(len(ri) - n_compared),
    )
    return (out, info) if return_info else out


_SCHOOL_KIND = ("小学校", "中学校", "義務教育学校", "高等学校", "保育所", "保育園", "幼稚園", "こども園")


def _area(address) -> str | None:
    """The district part of a normalised registry address (text before the first block number): 駅前, 西町 …"""
    if not isinstance(address, str) or not address:
        return None
    k = 0
    while k < len(address) and not address[k].isdigit():
        k += 1
    return address[:k] or None


def _kind(school: str) -> str:
    return next((k for k in _SCHOOL_KIND if school.endswith(k)), "")


# guards a vouching row can lift: the pair alone was not enough, but nothing points at another person
VOUCHABLE = (
    "surname_differs",
    "between_thresholds",
    "given_name_uncertain",
    "given_name_disagrees",
    "name_disagrees",
    "birth_date_disagrees",
)


def _corroborate(
    out: pd.DataFrame,
    R: dict,
    P: dict,
    person_ids,
    pid_pos: dict,
    starts,
    ends,
    pi_s,
    w_s,
    upper: float,
    margin: float,
    source=None,
    addr_best=None,
) -> dict[int, int]:
    """Evidence the pair comparisons cannot see, because it comes from *other* rows (the module docstring, step 5,
    lists the rules). Changes ``out`` in place; returns {row index: sorted-candidate position} for rows whose linked
    candidate changed. ``source``: each record's source type (a school list is one per source type and school);
    ``addr_best``: the address level of each row's best pair.

    * ``surname_siblings``: rows held back only by the ``surname_differs`` guard (score ≥ upper, no close
      runner-up) link when two or more of them, written with the *same* surname, match *different* children of the
      *same* registry household — a step family's children at school under their former surname. One child alone
      stays in review: another child with the same given name, sex and birth date cannot be ruled out; two
      siblings matching one household under one surname by chance can.
    * ``namesake_school_zone``: a row in review as ``namesake`` (two people with the same name and birth date) that
      comes from a school links to the one namesake living in that school's zone — zones learned from this run's
      confident links (a district whose pupils are linked to the school at least twice), provided every other
      namesake lives in a district whose pupils (three or more) go only to other schools of the same kind. A town
      with one school per kind, or a zone not yet seen, leaves the row in review."""
    fs = (out["method"] == "fellegi_sunter").to_numpy()
    status = out["status"].to_numpy(dtype=object, copy=True)
    reason = out["reason"].to_numpy(dtype=object, copy=True)
    best = out["best_person_id"].to_numpy(dtype=object)
    mw, pw = out["match_weight"].to_numpy(dtype=np.float64), out["pair_weight"].to_numpy(dtype=np.float64)
    sw = out["second_weight"].to_numpy(dtype=np.float64)
    uids = out["_uid"].to_numpy()
    sur = [a if a else b for a, b in zip(R["sur_k"], R["sur_kn"])]
    hh = P["household_no"]

    def settle(i, pid, why: str, how: str):
        """Link row i to pid by a rule below; ``status`` and ``reason`` follow ``out``."""
        ix = out.index[i]
        out.at[ix, "status"], out.at[ix, "person_id"] = "auto", pid
        out.at[ix, "reason"], out.at[ix, "guard"], out.at[ix, "method"] = why, "", how
        status[i], reason[i] = "auto", why

    def close_to_best(u: int) -> list[int]:
        """Sorted positions of identity u's candidates within the namesake margin of its best."""
        return [j for j in range(starts[u], ends[u]) if w_s[j] >= w_s[starts[u]] - margin]

    # the same name and birth date written on rows that carry a resident number (or a confirmed pupil number, or a
    # person's confirmation): the department itself says who that is. A held row with exactly that name, birth date
    # and sex, whose best candidate is that very person with no close runner-up, links too. Namesakes and twins
    # never pass: their rows are held as such (close runner-up), not for the reasons below.
    def ident_key(i):
        if R["bd"][i] < 0:
            return None
        return (
            ("k", R["full_k"][i], R["bd"][i])
            if R["full_k"][i]
            else (("n", R["full_kn"][i], R["bd"][i]) if R["full_kn"][i] else None)
        )

    meth = out["method"].to_numpy(dtype=object)
    pid_now = out["person_id"].to_numpy(dtype=object)
    vouched: dict[tuple, set] = {}
    vouched_kana: dict[tuple, set] = {}
    for i in np.flatnonzero(np.isin(meth, ["resident_no", "student_no", "human"]) & np.isin(status, LINKED)):
        k = ident_key(i)
        if k is not None and pid_now[i] is not None:
            vouched.setdefault(k, set()).add(pid_now[i])
            if R["f_full_kn"][i]:
                vouched_kana.setdefault(k, set()).add(R["f_full_kn"][i])
    held = np.flatnonzero(
        fs & (status == "review") & np.isin(reason, list(VOUCHABLE)) & (np.isnan(sw) | (pw - sw >= margin))
    )
    for i in held:
        k = ident_key(i)
        ps = vouched.get(k, ()) if k is not None else ()
        if len(ps) != 1 or best[i] not in ps:
            continue
        p = pid_pos.get(best[i])
        if p is None or (R["sex"][i] and P["sex"][p] and R["sex"][i] != P["sex"][p]):
            continue
        kn = vouched_kana.get(k, set())
        if R["f_full_kn"][i] and kn and R["f_full_kn"][i] not in kn:
            continue  # the same kanji read another way: perhaps another child of that name
        settle(i, best[i], "vouched_by_number", "numbered_rows")

    # siblings under one surname
    groups: dict[tuple, set] = {}
    held = np.flatnonzero(
        fs & (status == "review") & (reason == "surname_differs") & (mw >= upper) & (np.isnan(sw) | (pw - sw >= margin))
    )
    for i in held:
        p = pid_pos.get(best[i])
        if p is not None and hh[p] and sur[i]:
            groups.setdefault((sur[i], hh[p]), set()).add(p)
    for i in held:
        p = pid_pos.get(best[i])
        if p is not None and hh[p] and sur[i] and len(groups.get((sur[i], hh[p]), ())) >= 2:
            settle(i, best[i], "surname_siblings", "household_siblings")

    # the same given name written with other kanji (優花 / 優香), on a row without kana: the registry (and the rows
    # that carry kana) tell how that kanji name is read; one known reading equal to the candidate's → the same name.
    # Twins never share a reading, so this cannot merge a twin who left into the one who stayed.
    held = np.flatnonzero(
        fs
        & (status == "review")
        & np.isin(reason, ["given_name_uncertain", "given_name_disagrees"])
        & (mw >= upper)
        & (np.isnan(sw) | (pw - sw >= margin))
    )
    if len(held):
        readings: dict[str, set] = {}
        for g, k in list(zip(P["giv_k"], P["giv_kn"])) + list(zip(R["giv_k"], R["giv_kn"])):  # exact, not folded
            if g and k:
                readings.setdefault(g, set()).add(k)
        twins: dict[tuple[str, int], int] = {}
        for q, (h, b) in enumerate(zip(hh, P["bd"])):
            if h and b >= 0:
                twins[(h, b)] = twins.get((h, b), 0) + 1
        for i in held:
            p = pid_pos.get(best[i])
            if p is None or R["full_kn"][i] or not P["giv_kn"][p] or not P["sur_k"][p]:
                continue  # the row's own kana would have told; the candidate's reading must be known
            given = R["giv_k"][i]
            if not given:  # an unsplit name: the candidate's surname in front, the rest is the given name
                full = R["full_k"][i] or ""
                given = full[len(P["sur_k"][p]) :] if full.startswith(P["sur_k"][p]) else None
            same_surname = (R["sur_k"][i] or "") == P["sur_k"][p] or (
                not R["sur_k"][i] and (R["full_k"][i] or "").startswith(P["sur_k"][p])
            )
            known = readings.get(given or "", set())
            # one known reading, the candidate's; or one of several, with the address agreeing as well (a child of
            # that household with that birth date and a name read that way: the twin check below rules out the rest)
            one = len(known) == 1 and P["giv_kn"][p] in known
            at_home = P["giv_kn"][p] in known and addr_best is not None and addr_best[i] in (0, 1)
            if not (given and same_surname and (one or at_home)):
                continue
            if (
                R["bd"][i] < 0
                or R["bd"][i] != P["bd"][p]
                or (R["sex"][i] and P["sex"][p] and R["sex"][i] != P["sex"][p])
            ):
                continue
            if hh[p] and twins.get((hh[p], P["bd"][p]), 0) > 1:
                continue  # twins in the household: a person tells them apart
            settle(i, best[i], "given_name_homophone" if one else "given_name_homophone_address", "name_reading")

    # twins whose given names the main loop told apart (no "twins" guard) held only by the margin: for twins the
    # runner-up within the margin is the other twin, whom the given name already ruled out. Twins share the address,
    # so nothing else could tell them apart.
    swapped: dict[int, int] = {}
    for i in np.flatnonzero(fs & (status == "review") & (reason == "namesake")):
        u = int(uids[i])
        close = close_to_best(u)
        if len(close) != 2:
            continue
        a, b = pi_s[close[0]], pi_s[close[1]]
        if hh[a] and hh[a] == hh[b] and P["bd"][a] >= 0 and P["bd"][a] == P["bd"][b]:
            settle(i, person_ids[a], "twins_told_apart", "given_name")

    # school zones, learned from this run's confident links
    school = R["school"]
    namesakes = [i for i in np.flatnonzero(fs & (status == "review") & (reason == "namesake")) if school[i]]
    former = [
        i
        for i in np.flatnonzero(
            fs
            & (status == "review")
            & (reason == "surname_differs")
            & (mw >= upper)
            & (np.isnan(sw) | (pw - sw >= margin))
        )
        if school[i]
    ]
    if not namesakes and not former:
        return swapped
    src = np.asarray(source if source is not None else [""] * len(out), dtype=object)
    area = [_area(a) for a in P["address"]]
    pupils: dict[tuple, set] = {}
    rostered: set[tuple] = set()  # (source type, school, person): the person is on that school's list already
    linked_to = out["person_id"].to_numpy(dtype=object)  # as the rules above left it
    for i in np.flatnonzero(np.isin(status, LINKED)):
        p = pid_pos.get(linked_to[i])
        if p is not None and school[i]:
            rostered.add((src[i], school[i], p))
            if area[p]:
                pupils.setdefault((area[p], school[i]), set()).add(p)

    # a step family's child on a school list under the former surname: given name, sex and birth date agree with
    # one registry child, who lives where this school's pupils live and is not on this school's list under the
    # registry surname (a school lists a pupil once; a child who left, sharing given name and birth date with a
    # child here, meets the child here on the same list or in another school's zone)
    for i in former:
        p, sc = pid_pos.get(best[i]), school[i]
        if p is None or (src[i], sc, p) in rostered:
            continue
        if not area[p] or len(pupils.get((area[p], sc), ())) < 2:
            continue
        settle(i, best[i], "surname_school_roster", "school_zone")

    by_kind: dict[tuple, int] = {}
    for (a, sc), ps in pupils.items():
        by_kind[(a, _kind(sc))] = by_kind.get((a, _kind(sc)), 0) + len(ps)
    for i in namesakes:
        u, sc = int(uids[i]), school[i]
        close = close_to_best(u)
        fit = [j for j in close if area[pi_s[j]] and len(pupils.get((area[pi_s[j]], sc), ())) >= 2]
        misfit = [
            j
            for j in close
            if area[pi_s[j]] and not pupils.get((area[pi_s[j]], sc)) and by_kind.get((area[pi_s[j]], _kind(sc)), 0) >= 3
        ]
        if len(fit) == 1 and len(misfit) == len(close) - 1:
            j = fit[0]
            pid = person_ids[pi_s[j]]
            settle(i, pid, "namesake_school_zone", "school_zone")
            out.at[out.index[i], "best_person_id"] = pid
            swapped[int(i)] = j
    return swapped


def _competition_item(comp: float, n_other: int, k_out: float, cache: dict) -> dict:
    key = ("competition", round(comp, 3), n_other)
    item = cache.get(key)
    if item is None:
        item = cache[key] = {
            "field": "competition",
            "label_ja": "他の候補・台帳にいない可能性",
            "label_en": "other candidates, not in registry",
            "level": "competition",
            "level_ja": f"他の候補 {n_other} 件と台帳外（{k_out:.0%}）",
            "level_en": f"{n_other} other candidate(s) and not in the registry ({k_out:.0%})",
            "weight": float(key[1]),
            "tf_adjustment": 0.0,
        }
    return item


def _twins_told_apart(g_best: np.ndarray, g_second: np.ndarray) -> bool:
    """Twins (same household, same birth date): auto only when the record's given name points clearly at one of
    them — equal to the best candidate's in kanji or kana (levels exact / one) and the other twin's given name at
    most "somewhat similar" (JW < 0.92, one kanji off, or different) — or, for twins whose names share a reading,
    when the kanji is exactly one twin's and the sex agrees with that twin and not with the other."""
    c = INDEX["given"] if g_best[INDEX["given"]] != NULL else INDEX["name"]
    if g_best[c] in (NAME_EXACT, NAME_ONE) and g_second[c] in (NAME_JW85, NAME_ONE_CHAR, NAME_ELSE):
        return True
    # twins whose names share a reading (蒼 / 葵, both アオイ): the kanji and the sex must both point one way
    sx = INDEX["sex"]
    return bool(g_best[c] == NAME_EXACT and g_second[c] == NAME_ONE and g_best[sx] == 0 and g_second[sx] == 1)


def _resident_matches(R: dict, P: dict) -> tuple[np.ndarray, np.ndarray]:
    """Record positions and person positions whose 宛名番号 agree (one person per number: the first)."""
    rk, pk = R["resident_no"], P["resident_no"]
    pmap: dict[str, int] = {}
    for i, v in enumerate(pk):
        if v and v not in pmap:
            pmap[v] = i
    rr, pp = [], []
    for i, v in enumerate(rk):
        if v:
            p = pmap.get(v)
            if p is not None:
                rr.append(i)
                pp.append(p)
    return np.array(rr, dtype=np.int64), np.array(pp, dtype=np.int64)


def _pinned_matches(R: dict, pinned: pd.DataFrame | None, pid_pos: dict) -> tuple[np.ndarray, np.ndarray]:
    """Records whose pupil key (school, grade, class, number) a person confirmed before, and that person."""
    if pinned is None or len(pinned) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    pinned = pinned.reset_index(drop=True)
    keys = pupil_keys(
        norm_name_series(pinned["school"]).to_numpy(dtype=object),
        _col(pinned, "grade"),
        _col(pinned, "class"),
        _ids(pinned["student_no"]),
    )
    pmap = {}
    for key, pid in zip(keys, pinned["person_id"].astype("object")):
        if key and pid is not None and str(pid) in pid_pos:
            pmap[key] = pid_pos[str(pid)]
    rr, pp = [], []
    for i, key in enumerate(R["pupil"]):
        if key:
            p = pmap.get(key)
            if p is not None:
                rr.append(i)
                pp.append(p)
    return np.array(rr, dtype=np.int64), np.array(pp, dtype=np.int64)


# --- thresholds ----------------------------------------------------------------------------------------------------
def _fs_status(
    w: np.ndarray, pair: np.ndarray, second: np.ndarray, guard: np.ndarray, upper: float, lower: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    has = ~np.isnan(w)
    namesake = has & ~np.isnan(second) & ((pair - second) < margin)
    guarded = (guard != "") | namesake
    status = np.where(~has | (w < lower), "unlinked", np.where((w >= upper) & ~guarded, "auto", "review")).astype(
        object
    )
    reason = np.where(
        ~has,
        "no_candidate",
        np.where(
            w < lower,
            "below_lower",
            np.where(
                guard != "", guard, np.where(namesake, "namesake", np.where(w >= upper, "auto", "between_thresholds"))
            ),
        ),
    )
    return status, reason.astype(object)


def apply_thresholds(
    result: pd.DataFrame, upper: float = DEFAULT_UPPER, lower: float = DEFAULT_LOWER, margin: float = DEFAULT_MARGIN
) -> pd.DataFrame:
    """Recompute auto / review / unlinked of the Fellegi–Sunter rows for other thresholds (human and
    deterministic rows keep theirs). Returns a new frame."""
    out = result.copy()
    fs = (out["method"] == "fellegi_sunter").to_numpy()
    if fs.any():
        w = out.loc[fs, "match_weight"].to_numpy(dtype=np.float64)
        pair = out.loc[fs, "pair_weight"].to_numpy(dtype=np.float64)
        second = out.loc[fs, "second_weight"].to_numpy(dtype=np.float64)
        guard = out.loc[fs, "guard"].fillna("").to_numpy(dtype=object)
        status, reason = _fs_status(w, pair, second, guard, upper, lower, margin)
        out.loc[fs, "status"] = status
        out.loc[fs, "reason"] = reason
        best = out.loc[fs, "best_person_id"].to_numpy(dtype=object)
        person = np.where(status == "unlinked", None, best)
        col = out["person_id"].astype(object).to_numpy(copy=True)
        col[fs] = person
        out["person_id"] = pd.Series(col, index=out.index, dtype=object)
    return out


def preview_thresholds(result: pd.DataFrame, upper: float, lower: float, margin: float = DEFAULT_MARGIN) -> dict:
    """How many records would be auto / review / unlinked with these thresholds, and how many move
    (e.g. ``{"auto": 910, "review": 22, "unlinked": 68, "moves": {"auto→review": 5}}``).

    ``result`` is a ``link_records`` output: every Fellegi–Sunter row keeps its best candidate
    (``best_person_id``, ``match_weight``) and its runner-up's weight, so no re-run is needed."""
    new = apply_thresholds(result, upper=upper, lower=lower, margin=margin)
    counts = new["status"].value_counts().to_dict()
    moves: dict[str, int] = {}
    for a, b in zip(result["status"], new["status"]):
        if a != b:
            k = f"{a}→{b}"
            moves[k] = moves.get(k, 0) + 1
    return {
        "auto": int(counts.get("auto", 0)),
        "confirmed": int(counts.get("confirmed", 0)),
        "review": int(counts.get("review", 0)),
        "unlinked": int(counts.get("unlinked", 0)),
        "moves": moves,
        "upper": upper,
        "lower": lower,
    }
