"""Searching persons by 氏名・カナ・宛名番号 in SQL: the terms of a query and the condition each term puts on a
``person`` row (its normalised name and kana, its 宛名番号, its id) — the child list's search, shared by every list
that searches persons (こども一覧, the prioritised list).

Every whitespace-separated term must hit 氏名 (normalised: 旧字体 folded)・カナ (any width, hiragana)・宛名番号 digits
or be the person id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any


def _plain(s) -> str:
    t = unicodedata.normalize("NFKC", str(s or ""))
    return "".join(t.split()).replace("・", "").upper()


@lru_cache(maxsize=1)
def normalisers() -> tuple[Callable[[Any], str], Callable[[Any], str], Callable[[Any], str], Callable[[Any], str]]:
    """(norm_name, norm_kana, fold_name, fold_kana) — the linkage's own functions when importable."""
    try:
        from . import normalize as N  # lazy: loads yosina and jaconv; the child list starts without them

        nn, nk = N.norm_name, N.norm_kana
        fn = getattr(N, "fold_name", nn)
        fk = getattr(N, "fold_kana", nk)
        return nn, nk, fn, fk
    except Exception:  # pragma: no cover - only in a partial checkout
        return _plain, _plain, _plain, _plain


def search_terms(query: str | None) -> list[str]:
    """The terms of a search (NFKC, split on any whitespace)."""
    return [t for t in unicodedata.normalize("NFKC", query or "").split() if t]


def person_terms_sql(terms: list[str], params: dict, alias: str = "p") -> str:
    """SQL (AND of the terms) over ``person`` rows aliased ``alias``; adds its parameters to ``params``."""
    nn, nk, _, _ = normalisers()
    conds = []
    for i, t in enumerate(terms):
        n, k, raw = nn(t), nk(t), t.upper()
        alts = []
        if n:
            params[f"n{i}"] = n
            alts.append(f"instr({alias}.name_norm, :n{i}) > 0")
        if k:
            params[f"k{i}"] = k
            alts.append(f"instr({alias}.kana_norm, :k{i}) > 0")
        if raw.isdigit():
            params[f"r{i}"] = raw
            alts.append(f"instr({alias}.resident_no, :r{i}) > 0")
        params[f"i{i}"] = raw
        alts.append(f"{alias}.id = :i{i}")
        conds.append("(" + " OR ".join(alts) + ")")
    return " AND ".join(conds)
