"""Blocking: which (record, registry person) pairs are compared at all.

A pair is a candidate when it agrees on at least one blocking key (the union of the rules below; duplicates
dropped). Each rule is an exact join on a key that real noise rarely breaks *together* with the others, so a
typo in one field still leaves the pair in another block:

========================  ===========================================================================
rule                      key (same on both sides)
========================  ===========================================================================
birth_date                birth date
birth_date_swapped        the record's birth date with day and month swapped = the person's birth date
kana_prefix_year_month    first three folded kana + birth year-month (a day typo and a kanji variant together)
surname_year_month        kanji surname (or first two characters of the name) + birth year-month
given_year_month          kanji given name + birth year-month (remarriage: the surname changed, and a day typo)
given_kana_year_month     folded given-name kana + birth year-month
full_name                 full kanji name (any birth-date error, incl. a wrong year; block cap 1,000 pairs)
full_kana                 full folded kana (kanji variant + birth-date error; block cap 1,000 pairs)
address_year              normalised address + birth year
resident_no               宛名番号
========================  ===========================================================================

Memory stays bounded: a key whose block would hold more than ``max_block_pairs`` pairs (a blank-ish or
absurdly common value) is skipped for that rule, and pairs are kept as two int32 arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES = (
    "birth_date",
    "birth_date_swapped",
    "kana_prefix_year_month",
    "surname_year_month",
    "given_year_month",
    "given_kana_year_month",
    "full_name",
    "full_kana",
    "address_year",
    "resident_no",
)
# rules without any birth-date part catch every kind of birth-date error, but a common name makes a big block:
# they get a tighter cap
NAME_ONLY = {"full_name": 1_000, "full_kana": 1_000}


def _swapped_days(R: dict) -> np.ndarray:
    y, m, d = R["by"], R["bm"], R["bdd"]
    ok = (R["bd"] >= 0) & (m != d) & (d <= 12)
    out = np.full(len(y), -1, dtype=np.int64)
    if ok.any():
        from .prepare import _DAY_OFFSET  # lazy: loads jaconv, yosina, only needed here

        s = pd.to_datetime(pd.DataFrame({"year": y[ok], "month": d[ok], "day": m[ok]}), errors="coerce")
        v = s.to_numpy().astype("datetime64[D]").astype(np.int64) + _DAY_OFFSET
        v[s.isna().to_numpy()] = -1
        out[ok] = v
    return out


def _cat(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """String key a+"|"+b where ok, else "" (b is an integer: the key is the pair (a, b))."""
    out = np.full(len(a), "", dtype=object)
    idx = np.flatnonzero(ok)
    if len(idx):
        out[idx] = [f"{x}|{y}" for x, y in zip(a[idx], b[idx])]
    return out


def keys(F: dict, rule: str, side: str) -> np.ndarray:
    """The blocking key of ``rule`` for every row of a prepared frame (``""`` or -1 = no key)."""
    has_bd = F["bd"] >= 0
    if rule == "birth_date":
        return F["bd"]
    if rule == "birth_date_swapped":
        return _swapped_days(F) if side == "records" else F["bd"]
    if rule == "kana_prefix_year_month":
        pre = np.array([s[:3] if len(s) >= 3 else "" for s in F["f_full_kn"]], dtype=object)
        return _cat(pre, F["by"] * 100 + F["bm"], has_bd & (pre != ""))
    if rule == "surname_year_month":
        sur = np.where(
            F["sur_k"] != "", F["sur_k"], np.array([s[:2] if len(s) >= 3 else "" for s in F["full_k"]], dtype=object)
        )
        return _cat(sur, F["by"] * 100 + F["bm"], has_bd & (sur != ""))
    if rule == "given_year_month":
        return _cat(F["giv_k"], F["by"] * 100 + F["bm"], has_bd & (F["giv_k"] != ""))
    if rule == "given_kana_year_month":
        return _cat(F["f_giv_kn"], F["by"] * 100 + F["bm"], has_bd & (F["f_giv_kn"] != ""))
    if rule == "full_name":
        return F["full_k"]
    if rule == "full_kana":
        return F["f_full_kn"]
    if rule == "address_year":
        return _cat(F["address"], F["by"], has_bd & (F["address"] != ""))
    if rule == "resident_no":
        return F["resident_no"]
    raise ValueError(rule)


def _join(rk: np.ndarray, pk: np.ndarray, max_block_pairs: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Every (record, person) pair with equal keys (integer codes, -1 = no key), skipping a key whose block would
    hold more than ``max_block_pairs`` pairs: (record positions, person positions, keys skipped), in no particular
    order (``candidate_pairs`` sorts the union). Numpy alone: the person side sorted by key, each record's block
    found by binary search and spelled out. The pandas join it replaces (frames, value_counts, isin, merge) cost
    ~2 ms a rule whatever the size, most of blocking's time at a few thousand rows; the pairs are the same."""
    rpos, ppos = np.flatnonzero(rk >= 0), np.flatnonzero(pk >= 0)
    if not len(rpos) or not len(ppos):
        return np.zeros(0, np.int32), np.zeros(0, np.int32), 0
    rv, pv = rk[rpos], pk[ppos]
    po = np.argsort(pv, kind="stable")
    pkeys, pstart, pcnt = np.unique(pv[po], return_index=True, return_counts=True)
    rkeys, rinv, rcnt = np.unique(rv, return_inverse=True, return_counts=True)
    loc = np.minimum(np.searchsorted(pkeys, rkeys), len(pkeys) - 1)
    both = pkeys[loc] == rkeys
    big = both & (rcnt.astype(np.int64) * pcnt[loc] > max_block_pairs)
    keep = (both & ~big)[rinv]
    kl = loc[rinv[keep]]
    c, st = pcnt[kl], pstart[kl]
    ri = np.repeat(rpos[keep], c)
    offs = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
    pi = ppos[po[np.repeat(st, c) + offs]]
    return ri.astype(np.int32), pi.astype(np.int32), int(big.sum())


def _pair_keys(rk: tuple, pk: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Composite keys (text, integer, ok) of both sides as one int64 code per row (-1 = no key): the text is coded
    over both sides together, so two rows share a code exactly when they share text and integer — the join of
    ``_cat``'s strings, without building them (the string keys and their hashing were most of blocking)."""
    (ra, rb, rok), (pa, pb, pok) = rk, pk
    ri, pi = np.flatnonzero(rok), np.flatnonzero(pok)
    codes, _ = pd.factorize(np.concatenate([np.asarray(ra[ri], dtype=object), np.asarray(pa[pi], dtype=object)]))
    ints = np.concatenate([np.asarray(rb[ri], dtype=np.int64), np.asarray(pb[pi], dtype=np.int64)])
    lo = int(ints.min()) if len(ints) else 0
    span = (int(ints.max()) - lo + 1) if len(ints) else 1
    both = codes.astype(np.int64) * span + (ints - lo)
    out_r = np.full(len(ra), -1, dtype=np.int64)
    out_p = np.full(len(pa), -1, dtype=np.int64)
    out_r[ri], out_p[pi] = both[: len(ri)], both[len(ri) :]
    return out_r, out_p


def _coded(rk: np.ndarray, pk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Text keys of both sides as int64 codes over both sides together ("" → -1); integer keys as they are."""
    if rk.dtype != object:
        return rk, pk
    codes, uniq = pd.factorize(np.concatenate([np.asarray(rk, dtype=object), np.asarray(pk, dtype=object)]))
    codes = codes.astype(np.int64)
    blank = np.flatnonzero(np.asarray(uniq, dtype=object) == "")
    if len(blank):
        codes[codes == blank[0]] = -1
    return codes[: len(rk)], codes[len(rk) :]


def _composite(F: dict, rule: str) -> tuple | None:
    """(text, integer, ok) of a rule whose key is text + a birth-date part; None for the single-column rules."""
    has_bd = F["bd"] >= 0
    ym = F["by"].astype(np.int64) * 100 + F["bm"]
    if rule == "kana_prefix_year_month":
        pre = np.array([s[:3] if len(s) >= 3 else "" for s in F["f_full_kn"]], dtype=object)
        return pre, ym, has_bd & (pre != "")
    if rule == "surname_year_month":
        sur = np.where(
            F["sur_k"] != "", F["sur_k"], np.array([s[:2] if len(s) >= 3 else "" for s in F["full_k"]], dtype=object)
        )
        return sur, ym, has_bd & (sur != "")
    if rule == "given_year_month":
        return F["giv_k"], ym, has_bd & (F["giv_k"] != "")
    if rule == "given_kana_year_month":
        return F["f_giv_kn"], ym, has_bd & (F["f_giv_kn"] != "")
    if rule == "address_year":
        return F["address"], F["by"].astype(np.int64), has_bd & (F["address"] != "")
    return None


def candidate_pairs(
    R: dict,
    P: dict,
    rules=RULES,
    max_block_pairs: int = 5_000,
    extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Union of the blocking rules: (record positions, person positions) sorted by record, and per-rule stats."""
    n_p = len(P["bd"])
    codes = []
    stats: dict[str, dict[str, int] | int] = {}
    for rule in rules:
        cap = min(max_block_pairs, NAME_ONLY.get(rule, max_block_pairs))
        rc, pc = _composite(R, rule), _composite(P, rule)
        if rc is not None and pc is not None:
            rk, pk = _pair_keys(rc, pc)
        else:
            rk, pk = _coded(keys(R, rule, "records"), keys(P, rule, "registry"))
        ri, pi, skipped = _join(rk, pk, cap)
        stats[rule] = {"pairs": int(len(ri)), "skipped_keys": int(skipped)}
        codes.append(ri.astype(np.int64) * n_p + pi)
    for ri, pi in extra or []:
        codes.append(np.asarray(ri, dtype=np.int64) * n_p + np.asarray(pi, dtype=np.int64))
    allc = np.unique(np.concatenate(codes)) if codes else np.zeros(0, np.int64)
    stats["total"] = int(len(allc))
    return (allc // n_p).astype(np.int32), (allc % n_p).astype(np.int32), stats
