"""Fellegi–Sunter model: comparison vectors for pairs, m/u estimation, term-frequency adjustment, match weights.

How the parameters are estimated (the Splink recipe, unsupervised; notes/anchors.md §2.1):

* **u** (P(level | different people)) from *random pairs*: up to 300,000 (record, registry person) pairs drawn
  uniformly; virtually all are non-matches. Laplace-smoothed per level.
* **m** (P(level | same person)) by *expectation–maximisation* on the blocked candidate pairs with u held
  fixed, in two sessions so that no comparison is trained on pairs chosen because it agrees (Splink's way): pairs
  with equal birth dates train every comparison but birth date; pairs with equal names train birth date. EM starts
  from the pairs that 宛名番号 links deterministically (a labelled training set: the same person for certain) when
  there are ≥ 100 of them, otherwise from generic starting values, with a weak Dirichlet prior of those values.
  The deterministic pairs alone (``method="labelled"``) would make a biased m — rows that carry a resident number
  are cleaner than school rows; EM lets the noise of the number-less rows speak.
* **Term frequency** for names: at the exact level of the name comparisons the weight uses the registry's own
  frequency of the agreed value instead of the average u: ``log2(m / max(tf, 1/N))`` — 佐藤 agreeing is weak
  evidence, 邊見 strong. For given (and full) names the frequency is taken among the registry's people born within
  ±2 years of the candidate: names follow birth years, so "same given name" and "same birth date" are not
  independent among children, and the plain product overrated them by several bits (it auto-linked children who
  had moved away to a child who stayed with the same given name and birth date but another surname).
* **Prior** and **π**: π, the share of records whose person is in the registry, is the fixed point of
  π = mean over records of Σ 2^w / ((1 − π) + Σ 2^w) (``in_registry_share``; started from EM's match share on the
  blocked pairs, kept in [0.5, 0.99]); the pair prior is π / N, its log-odds start every waterfall.

The match weight of a pair is ``prior + Σ field weights`` (log2 posterior odds of the pair seen alone). The
engine then weighs the candidates of a record against each other and against "not in the registry"
(``engine.py``): with π the share of records whose person is in the registry (estimated here, ≤ 0.99),
``P(candidate c is the person) = 2^w_c / ((1 − π) + Σ_candidates 2^w)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..text import normalize as N
from .comparisons import (
    COMPARISONS,
    INDEX,
    NAME_EXACT,
    NULL,
    address_levels,
    birth_date_levels,
    equal_codes,
    infer_split,
    name_ladder_coded,
    sex_levels,
)

C = len(COMPARISONS)
NAME_COMPS = ("name", "surname", "given")
TF_COLS = {c: i for i, c in enumerate(NAME_COMPS)}


@dataclass
class Model:
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float  # P(match) for a random (record, person) pair
    n_registry: int
    tf: dict = field(default_factory=dict)  # (comparison, "k"|"kn") → {value: frequency}
    info: dict = field(default_factory=dict)
    in_registry: float = 0.99  # π: share of records whose person is in the registry (≤ 0.99: see fit)

    @property
    def not_in_registry(self) -> float:
        return 1.0 - self.in_registry

    def rebase(self, in_registry: float) -> float:
        """Set π and the pair prior to π / N; returns the change of every pair weight (bits)."""
        old = self.prior_weight
        self.in_registry = float(in_registry)
        self.prior = min(max(in_registry / max(self.n_registry, 1), 1e-12), 0.5)
        return self.prior_weight - old

    @property
    def prior_weight(self) -> float:
        p = min(max(self.prior, 1e-12), 1 - 1e-12)
        return float(np.log2(p / (1 - p)))

    def tables(self) -> list[np.ndarray]:
        """log2(m/u) per comparison with a trailing 0 for NULL (so gamma == -1 indexes it)."""
        return [np.append(np.log2(m / u), 0.0) for m, u in zip(self.m, self.u)]

    def copy(self) -> Model:
        """An independent copy (a run rebases π on its own copy: the stored model stays as it was fitted)."""
        return Model(
            m=[x.copy() for x in self.m],
            u=[x.copy() for x in self.u],
            prior=self.prior,
            n_registry=self.n_registry,
            tf=self.tf,  # read-only
            info=json.loads(json.dumps(self.info, default=float)),
            in_registry=self.in_registry,
        )

    def to_bytes(self) -> bytes:
        """The whole model (m, u, prior, π, the frozen term-frequency table) as compressed JSON: floats as their
        shortest exact text, so ``from_bytes`` gives back the same bits."""
        tf = []
        for key, val in self.tf.items():
            if isinstance(val, dict):
                if key[0] == "cohort":
                    items = sorted(val.items())
                    tf.append([list(key), [k[0] for k, _ in items], [k[1] for k, _ in items], [v for _, v in items]])
                else:
                    items = sorted(val.items())
                    tf.append([list(key), [k for k, _ in items], [float(v) for _, v in items]])
        doc = {
            "m": [x.tolist() for x in self.m],
            "u": [x.tolist() for x in self.u],
            "prior": self.prior,
            "n_registry": self.n_registry,
            "in_registry": self.in_registry,
            "info": self.info,
            "tf": tf,
        }
        return zlib.compress(json.dumps(doc, ensure_ascii=False, default=float).encode(), 6)

    @staticmethod
    def from_bytes(data: bytes) -> Model:
        doc = json.loads(zlib.decompress(data))
        tf: dict = {}
        for entry in doc["tf"]:
            key = tuple(entry[0])
            if key[0] == "cohort":
                tf[key] = {(v, int(y)): float(f) for v, y, f in zip(entry[1], entry[2], entry[3])}
            else:
                tf[key] = dict(zip(entry[1], (float(f) for f in entry[2])))
        return Model(
            m=[np.array(x, dtype=np.float64) for x in doc["m"]],
            u=[np.array(x, dtype=np.float64) for x in doc["u"]],
            prior=float(doc["prior"]),
            n_registry=int(doc["n_registry"]),
            tf=tf,
            info=doc["info"],
            in_registry=float(doc["in_registry"]),
        )

    def to_dict(self) -> dict:
        return {
            "m": {c.name: self.m[i].round(6).tolist() for i, c in enumerate(COMPARISONS)},
            "u": {c.name: self.u[i].round(8).tolist() for i, c in enumerate(COMPARISONS)},
            "prior": self.prior,
            "prior_weight": self.prior_weight,
            "n_registry": self.n_registry,
            "in_registry": self.in_registry,
            **self.info,
        }


# --- comparison vectors ----------------------------------------------------------------------------------------------
def _fold_k(a: np.ndarray) -> np.ndarray:
    return np.array([N.fold_name(x) for x in a], dtype=object)


def _fold_kn(a: np.ndarray) -> np.ndarray:
    return np.array([N.fold_kana(x) for x in a], dtype=object)


def _codes(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per value, the distinct values): ``uniq[code] == v``."""
    code, uniq = pd.factorize(np.asarray(v, dtype=object), use_na_sentinel=False)
    return code.astype(np.int64), np.asarray(uniq, dtype=object)


def _joint_codes(R: dict, P: dict, col: str) -> tuple[np.ndarray, np.ndarray, int]:
    """A column's values coded over records and registry together: (codes of R's rows, of P's rows, code of "" or
    -1)."""
    n_r = len(R[col])
    code, uniq = _codes(np.concatenate([np.asarray(R[col], dtype=object), np.asarray(P[col], dtype=object)]))
    blank = np.flatnonzero(uniq == "")
    return code[:n_r], code[n_r:], int(blank[0]) if len(blank) else -1


_NAME_COLS = ("full", "sur", "giv", "f_full", "f_sur", "f_giv")


class _Vocab:
    """One name column's values over records and registry together (equal codes = equal text), growing with the
    splits inferred per pair."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        code, uniq = pd.factorize(
            np.concatenate([np.asarray(a, dtype=object), np.asarray(b, dtype=object)]), use_na_sentinel=False
        )
        self.values = np.asarray(uniq, dtype=object)
        blank = np.flatnonzero(self.values == "")
        if len(blank):
            self.blank = int(blank[0])
        else:
            self.blank = len(self.values)
            self.values = np.append(self.values, np.array([""], dtype=object))
        code = code.astype(np.int64)
        self.a, self.b = code[: len(a)], code[len(a) :]
        self._index: dict | None = None

    def codes_of(self, values: np.ndarray) -> np.ndarray:
        """Codes of (new) text, adding what the vocabulary does not hold yet."""
        if self._index is None:
            self._index = {v: i for i, v in enumerate(self.values.tolist())}
        index = self._index
        new: list[str] = []
        out = np.empty(len(values), dtype=np.int64)
        for k, v in enumerate(values.tolist()):
            c = index.get(v)
            if c is None:
                c = index[v] = len(self.values) + len(new)
                new.append(v)
            out[k] = c
        if new:
            self.values = np.concatenate([self.values, np.array(new, dtype=object)])
        return out


def _parts(R, P, ri, pi, kind: str):
    """Surname/given (and full name) codes for both sides of each pair, splitting an unsplit full name per pair from
    the other side's parts. kind: "k" (kanji) or "kn" (kana). Returns (per side ``c_<column>`` code arrays and
    ``inferred``, split mask, the vocabularies by column).

    The names are coded once per record and registry row (``_Vocab``) and the pairs carry integer codes: the
    comparisons are integer ones and nothing takes 300,000 Python strings per column for ``estimate_u``."""
    fold = _fold_k if kind == "k" else _fold_kn
    ri, pi = np.asarray(ri), np.asarray(pi)
    V = {col: _Vocab(R[f"{col}_{kind}"], P[f"{col}_{kind}"]) for col in _NAME_COLS}
    out = {
        side: {"c_" + col: getattr(V[col], side)[idx] for col in _NAME_COLS} | {"inferred": np.zeros(len(idx), bool)}
        for side, idx in (("a", ri), ("b", pi))
    }
    bs, bf = V["sur"].blank, V["full"].blank
    for x, y in (("a", "b"), ("b", "a")):
        X, Y = out[x], out[y]
        need = (X["c_sur"] == bs) & (X["c_full"] != bf) & (Y["c_sur"] != bs) & ~Y["inferred"]
        idx = np.flatnonzero(need)
        if len(idx):
            s, g = infer_split(
                V["full"].values[X["c_full"][idx]], V["sur"].values[Y["c_sur"][idx]], V["giv"].values[Y["c_giv"][idx]]
            )
            ok = s != ""
            j = idx[ok]
            for col, vals in (("sur", s[ok]), ("giv", g[ok]), ("f_sur", fold(s[ok])), ("f_giv", fold(g[ok]))):
                X["c_" + col][j] = V[col].codes_of(vals)
            X["inferred"][j] = True
    bg = V["giv"].blank
    a, b = out["a"], out["b"]
    split = (a["c_sur"] != bs) & (a["c_giv"] != bg) & (b["c_sur"] != bs) & (b["c_giv"] != bg)
    return out, split, V


def compare(R: dict, P: dict, ri: np.ndarray, pi: np.ndarray, tf_table: dict | None = None):
    """Comparison vectors (n × C int8, NULL = -1) and name term frequencies (n × 3 float32, NaN = none; only
    with ``tf_table`` = ``term_frequencies(P)``)."""
    n = len(ri)
    gamma = np.full((n, C), NULL, dtype=np.int8)
    tf = np.full((n, 3), np.nan, dtype=np.float32)
    if n == 0:
        return gamma, tf
    # identifiers and addresses coded per row (a few thousand) rather than compared as objects per pair
    cr, cp, blank = _joint_codes(R, P, "resident_no")
    gamma[:, INDEX["resident_no"]] = equal_codes(cr[ri], cp[pi], blank)
    gamma[:, INDEX["birth_date"]] = birth_date_levels(
        R["bd"][ri], P["bd"][pi], R["by"][ri], P["by"][pi], R["bm"][ri], P["bm"][pi], R["bdd"][ri], P["bdd"][pi]
    )
    gamma[:, INDEX["sex"]] = sex_levels(R["sex"][ri], P["sex"][pi])
    (ca, va), (cb, vb) = _codes(R["address"]), _codes(P["address"])
    gamma[:, INDEX["address"]] = address_levels(R["address"][ri], P["address"][pi], codes=(ca[ri], va, cb[pi], vb))
    cr, cp, blank = _joint_codes(R, P, "household_no")
    gamma[:, INDEX["household"]] = equal_codes(cr[ri], cp[pi], blank)

    K, split_k, VK = _parts(R, P, ri, pi, "k")
    KN, split_kn, VN = _parts(R, P, ri, pi, "kn")
    split = split_k | split_kn

    def coded(X, V, col, idx, mask=None):
        """(codes of side a, of side b, values, code of "") of one column on the pairs ``idx`` (blank where not
        ``mask``)."""
        v = V[col]
        ca, cb = X["a"]["c_" + col][idx], X["b"]["c_" + col][idx]
        if mask is not None:
            ca, cb = np.where(mask, ca, v.blank), np.where(mask, cb, v.blank)
        return ca, cb, v.values, v.blank

    s_idx = np.flatnonzero(split)
    f_idx = np.flatnonzero(~split)
    parts = [(comp, part, s_idx) for comp, part in (("surname", "sur"), ("given", "giv")) if len(s_idx)]
    parts += [("name", "full", f_idx)] if len(f_idx) else []
    for comp, part, idx in parts:
        mk, mkn = (split_k[idx], split_kn[idx]) if comp != "name" else (None, None)
        kanji, kana = coded(K, VK, part, idx, mk), coded(KN, VN, part, idx, mkn)
        lv = name_ladder_coded(kanji, kana, coded(K, VK, "f_" + part, idx, mk), coded(KN, VN, "f_" + part, idx, mkn))
        gamma[idx, INDEX[comp]] = lv
        if tf_table is not None:
            (ka, kb, kv, _), (na, nb, nv, _) = kanji, kana
            tf[idx, TF_COLS[comp]] = _tf(tf_table, comp, lv, kv[ka], kv[kb], nv[na], nv[nb], P, pi[idx])
    return gamma, tf


def compare_chunked(
    R: dict, P: dict, ri: np.ndarray, pi: np.ndarray, tf_table: dict | None = None, chunk: int = 250_000
):
    """``compare`` in slices of ``chunk`` pairs, so the per-pair string arrays never exceed one slice."""
    n = len(ri)
    gamma = np.empty((n, C), dtype=np.int8)
    tf = np.empty((n, 3), dtype=np.float32)
    for a in range(0, n, chunk):
        g, t = compare(R, P, ri[a : a + chunk], pi[a : a + chunk], tf_table)
        gamma[a : a + chunk], tf[a : a + chunk] = g, t
    return gamma, tf


def _tf(
    tf_table: dict, comp: str, lv, a_k, b_k, a_kn, b_kn, P: dict | None = None, pi: np.ndarray | None = None
) -> np.ndarray:
    """Registry frequency of the agreed value at the exact level (kanji when kanji is compared, else kana).

    Only the exact level is adjusted (as Splink does by default): at the lower levels the value's frequency is not
    the probability of that level among non-matches (u of "kana equal, kanji differs" is tiny for any surname).
    Given names (and full names) use their frequency *among people born within ±2 years* of the registry person
    when that is known (``term_frequencies`` → "cohort"): names follow birth years, so among children a name
    agreeing together with the birth date is much weaker evidence than the two taken as independent."""
    out = np.full(len(lv), np.nan, dtype=np.float32)
    agree = lv == NAME_EXACT
    kj = agree & (a_k != "") & (a_k == b_k)
    kn = agree & ~kj & (a_kn != "") & (a_kn == b_kn)
    part = {"given": "giv", "name": "full"}.get(comp)
    for mask, kind, vals, b in ((kj, "k", a_k, b_k), (kn, "kn", a_kn, b_kn)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        freq = tf_table.get((comp, kind), {})
        # a dict lookup per value: Series.map(dict) first builds a Series of the whole table (every registry name)
        # on each call, i.e. per chunk of pairs and per column
        get = freq.get
        out[idx] = np.fromiter((get(v, np.nan) for v in vals[idx]), dtype=np.float64, count=len(idx))
        cohort = tf_table.get(("cohort", comp, kind)) if part else None
        if cohort is not None and P is not None and pi is not None:
            own = P[f"{part}_{kind}"][pi[idx]] == b[idx]  # the registry side's own value (not an inferred split)
            c = cohort[pi[idx]]
            use = own & ~np.isnan(c)
            out[idx[use]] = c[use]
    return out


def _cohort_tf(values: np.ndarray, years: np.ndarray, width: int = 2) -> np.ndarray:
    """Per person: share of the people born within ±``width`` years who carry the same value (NaN if unknown)."""
    n = len(values)
    out = np.full(n, np.nan, dtype=np.float64)
    ok = (values != "") & (years > 0)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    # (value, year) as one integer key; counts looked up by binary search (numpy, no pandas MultiIndex)
    code, _ = pd.factorize(np.asarray(values[idx], dtype=object))
    y = years[idx].astype(np.int64)
    y0 = int(y.min()) - width
    span = int(y.max()) + width - y0 + 1
    key = code.astype(np.int64) * span + (y - y0)
    ukey, ucnt = np.unique(key, return_counts=True)
    uyear, ysize = np.unique(y, return_counts=True)
    num = np.zeros(len(idx))
    den = np.zeros(len(idx))
    for dy in range(-width, width + 1):
        k = key + dy
        pos = np.minimum(np.searchsorted(ukey, k), len(ukey) - 1)
        num += np.where(ukey[pos] == k, ucnt[pos], 0)
        pos = np.minimum(np.searchsorted(uyear, y + dy), len(uyear) - 1)
        den += np.where(uyear[pos] == y + dy, ysize[pos], 0)
    out[idx] = num / np.maximum(den, 1)
    return out


def freeze_tf(tf_table: dict, P: dict) -> dict:
    """The term-frequency table as a model keeps it: the per-person cohort arrays of ``term_frequencies(P)`` become
    ``(value, birth year) → frequency`` (the cohort frequency depends on nothing else), so the table can be applied
    to a later registry whose persons sit at other positions (``tf_for``)."""
    out: dict = {}
    for key, val in tf_table.items():
        if key[0] != "cohort" or not isinstance(val, np.ndarray):
            out[key] = val
            continue
        _, comp, kind = key
        part = {"given": "giv", "name": "full"}[comp]
        vals, years = P[f"{part}_{kind}"], P["by"]
        ok = np.flatnonzero(~np.isnan(val))
        out[key] = {(vals[i], int(years[i])): float(val[i]) for i in ok}
    return out


def tf_for(frozen: dict, P: dict) -> dict:
    """A frozen table (``freeze_tf``) in the form ``compare`` reads for this registry ``P``. A value the table does
    not hold (a name first seen after the fit) has no frequency: NaN, i.e. the exact level's average u — the weight
    an agreeing name had before term frequencies, never stronger than the name's own frequency would give; a
    (value, birth year) missing from the cohort table falls back to the value's frequency, as it does today."""
    out: dict = {}
    for key, val in frozen.items():
        if key[0] != "cohort" or not isinstance(val, dict):
            out[key] = val
            continue
        _, comp, kind = key
        part = {"given": "giv", "name": "full"}[comp]
        get = val.get
        out[key] = np.fromiter(
            (get((v, int(y)), np.nan) for v, y in zip(P[f"{part}_{kind}"], P["by"])),
            dtype=np.float64,
            count=len(P["by"]),
        )
    return out


def term_frequencies(P: dict) -> dict:
    """Registry value frequencies of full names, surnames and given names (kanji and kana); for given and full names
    also per registry person the frequency within the person's birth cohort (``("cohort", comp, kind)`` → array)."""
    tf: dict[tuple[str, ...], dict[str, float] | np.ndarray] = {}
    for comp, part in (("name", "full"), ("surname", "sur"), ("given", "giv")):
        for kind in ("k", "kn"):
            v = P[f"{part}_{kind}"]
            nz = v[v != ""]
            if len(nz):
                vc = pd.Series(nz, dtype="object").value_counts()
                tf[(comp, kind)] = (vc / len(nz)).to_dict()
                if comp in ("name", "given"):
                    tf[("cohort", comp, kind)] = _cohort_tf(v, P["by"])
    return tf


# --- scoring -------------------------------------------------------------------------------------------------------
def score(model: Model, gamma: np.ndarray, tf: np.ndarray, with_parts: bool = False):
    """Match weight of each pair (prior + Σ field weights, TF-adjusted); with ``with_parts`` also the per-field
    parts and TF adjustments (n × C — ask for them on a few rows only, e.g. the ones to explain)."""
    tables = model.tables()
    floor = 1.0 / max(model.n_registry, 1)
    n = len(gamma)
    w = np.full(n, model.prior_weight, dtype=np.float64)
    parts = np.zeros(gamma.shape, dtype=np.float64) if with_parts else None
    tf_adj = np.zeros(gamma.shape, dtype=np.float64) if with_parts else None
    for c in range(C):
        col = tables[c][gamma[:, c]]
        w += col
        if parts is not None:
            parts[:, c] = col
    for comp, j in TF_COLS.items():
        c = INDEX[comp]
        f = tf[:, j]
        ok = ~np.isnan(f)
        if ok.any():
            u = model.u[c][gamma[ok, c]]
            adj = np.log2(u / np.maximum(f[ok].astype(np.float64), floor))
            w[ok] += adj
            if parts is not None and tf_adj is not None:
                parts[ok, c] += adj
                tf_adj[ok, c] = adj
    if parts is not None and tf_adj is not None:
        return w, parts, tf_adj
    return w


def probability(w) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.asarray(w, dtype=np.float64)))


# --- estimation ----------------------------------------------------------------------------------------------------
_M0 = {
    "resident_no": [0.98, 0.02],
    "name": [0.85, 0.05, 0.03, 0.03, 0.02, 0.01, 0.01],
    "surname": [0.85, 0.05, 0.03, 0.02, 0.02, 0.01, 0.02],
    "given": [0.88, 0.05, 0.03, 0.02, 0.01, 0.005, 0.005],
    "birth_date": [0.93, 0.015, 0.015, 0.01, 0.01, 0.02],
    "sex": [0.98, 0.02],
    "address": [0.7, 0.1, 0.05, 0.15],
    "household": [0.9, 0.1],
}


def level_counts(gamma: np.ndarray, weights: np.ndarray | None = None) -> list[np.ndarray]:
    out = []
    for c, comp in enumerate(COMPARISONS):
        g = gamma[:, c].astype(np.int64)
        ok = g >= 0
        out.append(
            np.bincount(g[ok], weights=None if weights is None else weights[ok], minlength=comp.n).astype(np.float64)
        )
    return out


def _arrays_digest(*dicts: dict, extra: tuple = ()) -> bytes:
    """A digest of the arrays' exact contents (dtype, shape, values; an object array by the repr of its values)."""
    h = hashlib.sha256(repr(extra).encode())
    for D in dicts:
        h.update(b"\x00dict")
        for k in sorted(D):
            a = np.asarray(D[k])
            h.update(f"\x00{k}\x00{a.dtype.str}\x00{a.shape}\x00".encode())
            if a.dtype == object:
                h.update(repr(a.tolist()).encode("utf-8", "surrogatepass"))
            else:
                h.update(np.ascontiguousarray(a).tobytes())
    return h.digest()


# u of the last few inputs: a re-run over the same records and registry (a full re-link, another threshold or
# decision, a preview) draws the same random pairs (the seed is fixed) and gets the same u — the 300,000
# comparisons are most of a run's time (~0.9 of ~1.2 CPU-s at 1,500 persons). Keyed by the inputs' exact contents.
_U_CACHE: OrderedDict[bytes, list[np.ndarray]] = OrderedDict()
_U_CACHE_SIZE = 4
_U_LOCK = threading.Lock()


def estimate_u(R, P, n_sample: int = 300_000, seed: int = 0) -> list[np.ndarray]:
    key = _arrays_digest(R, P, extra=(n_sample, seed))
    with _U_LOCK:  # the GUI links off its thread
        u = _U_CACHE.get(key)
        if u is not None:
            _U_CACHE.move_to_end(key)
    if u is None:
        u = _estimate_u(R, P, n_sample, seed)
        with _U_LOCK:
            _U_CACHE[key] = u
            while len(_U_CACHE) > _U_CACHE_SIZE:
                _U_CACHE.popitem(last=False)
    return [x.copy() for x in u]


def _estimate_u(R, P, n_sample: int, seed: int) -> list[np.ndarray]:
    n_r, n_p = len(R["bd"]), len(P["bd"])
    rng = np.random.default_rng(seed)
    n = int(min(n_sample, n_r * n_p))
    ri = rng.integers(0, n_r, n).astype(np.int32)
    pi = rng.integers(0, n_p, n).astype(np.int32)
    if n_r * n_p <= 8 * n:
        # a small town: the draws repeat pairs (at 600 residents a third of them), so each distinct pair is compared
        # once and counted as often as it was drawn — the same counts (integers), hence the same u
        times = np.bincount(ri.astype(np.int64) * n_p + pi, minlength=n_r * n_p)
        drawn = np.flatnonzero(times)
        gamma, _ = compare(R, P, (drawn // n_p).astype(np.int32), (drawn % n_p).astype(np.int32))
        counts = level_counts(gamma, times[drawn].astype(np.float64))
    else:
        gamma, _ = compare(R, P, ri, pi)
        counts = level_counts(gamma)
    return [(cnt + 0.5) / (cnt.sum() + 0.5 * len(cnt)) for cnt in counts]


def m_from_labelled(gamma: np.ndarray) -> list[np.ndarray]:
    counts = level_counts(gamma)
    out = []
    for c, comp in enumerate(COMPARISONS):
        cnt = counts[c]
        prior = np.array(_M0[comp.name]) * 5  # a few pseudo-observations of the generic shape
        out.append((cnt + prior) / (cnt.sum() + prior.sum()))
    return out


def expectation_maximisation(
    gamma: np.ndarray,
    u: list[np.ndarray],
    m0: list[np.ndarray],
    lam0: float,
    iters: int = 40,
    tol: float = 1e-5,
    fixed: tuple[str, ...] = (),
    prior_strength: float = 10.0,
):
    """EM for m and the match share λ on the blocked pairs, u fixed. Returns (m, λ, iterations)."""
    m = [x.copy() for x in m0]
    lam = float(min(max(lam0, 1e-4), 1 - 1e-4))
    log_u = np.zeros(len(gamma))
    for c in range(C):
        log_u += np.append(np.log2(u[c]), 0.0)[gamma[:, c]]
    it = 0
    for it in range(1, iters + 1):
        log_m = np.zeros(len(gamma))
        for c in range(C):
            log_m += np.append(np.log2(m[c]), 0.0)[gamma[:, c]]
        z = np.log2(lam) - np.log2(1 - lam) + log_m - log_u
        p = 1.0 / (1.0 + np.exp2(-np.clip(z, -60, 60)))
        new_lam = float(np.clip(p.mean(), 1e-6, 1 - 1e-6))
        counts = level_counts(gamma, p)
        delta = abs(new_lam - lam)
        new_m = []
        for c, comp in enumerate(COMPARISONS):
            if comp.name in fixed:
                new_m.append(m[c])
                continue
            cnt = counts[c] + prior_strength * m0[c]  # a weak Dirichlet prior: rare comparisons keep their start
            nm = cnt / cnt.sum()
            nm = np.maximum(nm, 1e-5)
            nm = nm / nm.sum()
            delta = max(delta, float(np.abs(nm - m[c]).max()))
            new_m.append(nm)
        m, lam = new_m, new_lam
        if delta < tol:
            break
    return m, lam, it


def _session(gamma: np.ndarray, mask: np.ndarray, blanked: tuple[str, ...], u, m0, lam0, seed: int, max_pairs: int):
    """One EM session on the pairs of one blocking rule: the comparisons the rule forces to agree are blanked
    (they say nothing about the pairs it selected)."""
    g = gamma[mask]
    if len(g) > max_pairs:
        g = g[np.random.default_rng(seed).choice(len(g), max_pairs, replace=False)]
    g = g.copy()
    for name in blanked:
        g[:, INDEX[name]] = NULL
    m, lam, it = expectation_maximisation(g, u, m0, lam0, fixed=blanked)
    return m, lam, it, len(g)


def fit(
    R,
    P,
    gamma_blocked: np.ndarray,
    labelled: np.ndarray | None,
    n_records: int,
    n_pairs: int,
    method: str = "em",
    seed: int = 0,
    max_em_pairs: int = 500_000,
    tf_table: dict | None = None,
) -> Model:
    """Estimate u (random pairs), m and the prior; attach the registry's term frequencies.

    ``method="em"`` (default) runs two EM sessions, as Splink does, so that no comparison is trained on pairs that
    were chosen *because* it agrees: (1) pairs with equal birth dates train every comparison except birth date;
    (2) pairs with equal names (full kanji name or both parts) train birth date. u stays fixed. Both sessions
    start from the resident-number pairs when there are ≥ 100 of them. ``method="labelled"`` uses those pairs
    alone. The match share among all blocked pairs (for the prior) comes from one E-step with the final m.
    """
    u = estimate_u(R, P, seed=seed)
    n_p = len(P["bd"])
    info: dict = {"m_method": method, "blocked_pairs": int(n_pairs)}
    n_lab = 0 if labelled is None else int(labelled.sum())
    if n_lab >= 100:
        m0 = m_from_labelled(gamma_blocked[labelled])
        info["m_start"] = f"resident_no ({n_lab} pairs)"
    else:
        m0 = [np.array(_M0[c.name], dtype=np.float64) for c in COMPARISONS]
        info["m_start"] = "generic"
    g = gamma_blocked
    m = [x.copy() for x in m0]
    if method == "labelled" and n_lab >= 100:
        info["em_iterations"] = 0
    else:
        bd = g[:, INDEX["birth_date"]]
        s1 = bd == 0
        names_equal = (g[:, INDEX["name"]] == NAME_EXACT) | (
            (g[:, INDEX["surname"]] == NAME_EXACT) & (g[:, INDEX["given"]] == NAME_EXACT)
        )
        sessions = {}
        if s1.sum() >= 50:
            lam0 = min(0.9, max(0.05, n_records / max(int(s1.sum()), 1)))
            m1, lam1, it1, n1 = _session(g, s1, ("birth_date",), u, m0, lam0, seed, max_em_pairs)
            for c, comp in enumerate(COMPARISONS):
                if comp.name != "birth_date":
                    m[c] = m1[c]
            sessions["birth_date_equal"] = {"pairs": n1, "iterations": it1, "match_share": lam1}
        if names_equal.sum() >= 50:
            lam0 = min(0.9, max(0.05, n_records / max(int(names_equal.sum()), 1)))
            m2, lam2, it2, n2 = _session(g, names_equal, ("name", "surname", "given"), u, m, lam0, seed, max_em_pairs)
            m[INDEX["birth_date"]] = m2[INDEX["birth_date"]]
            sessions["names_equal"] = {"pairs": n2, "iterations": it2, "match_share": lam2}
        info["em_sessions"] = sessions
    # match share among the blocked pairs with the final parameters (one E-step)
    sub = g if len(g) <= max_em_pairs else g[np.random.default_rng(seed).choice(len(g), max_em_pairs, replace=False)]
    lam = _match_share(sub, m, u, 0.5)
    prior = lam * n_pairs / max(n_records * n_p, 1)
    info["match_share_blocked"] = lam
    # π, the share of records whose person is in the registry, from the same expected number of matches; kept in
    # [0.5, 0.99] so that at least 1 % of rows is always allowed to be someone the registry does not know
    in_registry = float(np.clip(lam * n_pairs / max(n_records, 1), 0.5, 0.99))
    info["in_registry_estimated"] = float(lam * n_pairs / max(n_records, 1))
    tf = freeze_tf(term_frequencies(P) if tf_table is None else tf_table, P)
    return Model(m=m, u=u, prior=prior, n_registry=n_p, tf=tf, info=info, in_registry=in_registry)


def in_registry_share(mass: np.ndarray, prior: float, n_registry: int, start: float = 0.95, iters: int = 50) -> float:
    """π, the share of records whose person is in the registry, as the fixed point of
    π = mean over records of P(in registry | its candidates) = Σ 2^w / ((1 − π) + Σ 2^w) — an EM for the mixture
    "one of the registry's people" / "someone else". The pair weights carry a prior of π₀/N (π₀ from the blocked
    pairs' match share); they are rescaled as π changes. Kept in [0.5, 0.99]: at least 1 % of rows may always be
    someone the registry does not know."""
    if len(mass) == 0:
        return 0.99
    p0 = min(max(prior * n_registry, 1e-6), 1.0)  # π₀ implied by the pair prior
    pi = float(np.clip(start, 0.5, 0.99))
    for _ in range(iters):
        scaled = mass * (pi / p0)
        new = float(np.clip(np.mean(scaled / ((1.0 - pi) + scaled)), 0.5, 0.99))
        if abs(new - pi) < 1e-6:
            pi = new
            break
        pi = new
    return pi


def _match_share(g: np.ndarray, m, u, lam: float, iters: int = 20) -> float:
    """λ by EM with m and u fixed."""
    if len(g) == 0:
        return 0.5
    d = np.zeros(len(g))
    for c in range(C):
        d += np.append(np.log2(m[c]) - np.log2(u[c]), 0.0)[g[:, c]]
    for _ in range(iters):
        z = np.log2(lam) - np.log2(1 - lam) + d
        lam = float(np.clip((1.0 / (1.0 + np.exp2(-np.clip(z, -60, 60)))).mean(), 1e-6, 1 - 1e-6))
    return lam
