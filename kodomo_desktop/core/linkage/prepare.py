"""Bring a registry or records DataFrame into the engine's internal form: normalised strings ("" = missing),
integer birth dates and sex, folded forms and blocking keys. Pure; the input frame is not modified.

Accepted input columns (all optional except the id): ``name``/``name_kana`` (raw; when present they are
normalised here, so a changed normaliser takes effect without re-importing), or the normalised forms
``name_norm``, ``surname_norm``, ``given_norm``, ``kana_norm``, ``surname_kana``, ``given_kana``, ``kana_fold``;
``birth_date`` (ISO str, date, datetime64), ``sex`` (1/2, "1"/"2", 男/女), ``address``/``address_norm``,
``resident_no``, ``household_no``, ``student_no``, ``school``, ``grade``, ``class``.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from ..text import normalize as N

STR_COLS = (
    "sur_k",
    "giv_k",
    "full_k",
    "sur_kn",
    "giv_kn",
    "full_kn",
    "f_sur_k",
    "f_giv_k",
    "f_full_k",
    "f_sur_kn",
    "f_giv_kn",
    "f_full_kn",
    "address",
    "resident_no",
    "household_no",
    "student_no",
    "school",
    "pupil",
)


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([None] * len(df), index=df.index, dtype="object")


def _has(df: pd.DataFrame, name: str) -> bool:
    return name in df.columns and df[name].notna().any()


def _ids(s: pd.Series) -> np.ndarray:
    """Identifiers as clean strings: NFKC (full-width digits), spaces dropped, 1234.0 → "1234", and an all-digit
    number without its leading zeros (a number column in Excel turns 0010000051 into 10000051); blanks → ""."""

    def f(v):
        if N._blank(v):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        t = "".join(unicodedata.normalize("NFKC", str(v)).split())
        if t.isdigit():
            t = t.lstrip("0") or "0"
        return t

    a = _objects(s)
    uniq = {u: f(u) for u in pd.unique(a) if not N._blank(u)}
    get = uniq.get
    return np.array([get(v, "") for v in a.tolist()], dtype=object)


def _objects(s: pd.Series) -> np.ndarray:
    """The values as an object array (a dict lookup per value beats ``Series.map(dict)`` several times over on a
    town's few thousand rows: map builds an index of the whole dict on every call)."""
    return (s if s.dtype == object else s.astype("object")).to_numpy()


def _strs(s: pd.Series) -> np.ndarray:
    return (
        s.astype("object")
        .where(s.notna(), "")
        .map(lambda v: v if isinstance(v, str) else N._text(v))
        .to_numpy(dtype=object)
    )


_KATAKANA = re.compile(r"[\u30a1-\u30fa\u30fc]+")
_DAY_OFFSET = 400_000  # days: 1970 − 400,000 days ≈ year 875

_SEX = {"1": 1, "2": 2, "男": 1, "女": 2, "男性": 1, "女性": 2, "M": 1, "F": 2, "m": 1, "f": 2}


def _sex(s: pd.Series) -> np.ndarray:
    def f(v):
        if N._blank(v):
            return 0
        if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()):
            return int(v) if int(v) in (1, 2) else 0
        return _SEX.get(str(v).strip(), 0)

    a = _objects(s)
    table = {u: f(u) for u in pd.unique(a) if not N._blank(u)}
    get = table.get
    return np.fromiter((get(v, 0) for v in a.tolist()), dtype=np.int8, count=len(a))


def _dates(s: pd.Series) -> pd.Series:
    """ISO strings, date/datetime objects or datetime64 → datetime64 (NaT where unparseable)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    iso = s.astype("object").map(lambda v: None if N._blank(v) else str(v)[:10])
    return pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")


def prepare(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Internal column arrays (positional, aligned with ``df``)."""
    n = len(df)
    out: dict[str, np.ndarray] = {}
    # --- kanji name -------------------------------------------------------------------------------------
    if _has(df, "name"):
        sur_raw, giv_raw = N.split_name_series(_col(df, "name"))
        full = N.norm_name_series(_col(df, "name")).to_numpy(dtype=object)
        sur = N.norm_name_series(sur_raw).to_numpy(dtype=object)
        giv = N.norm_name_series(giv_raw).to_numpy(dtype=object)
        # separate columns in the file win over a space in the name
        if _has(df, "surname") or _has(df, "given_name"):
            s2 = N.norm_name_series(_col(df, "surname")).to_numpy(dtype=object)
            g2 = N.norm_name_series(_col(df, "given_name")).to_numpy(dtype=object)
            both = (s2 != "") & (g2 != "")
            sur, giv = np.where(both, s2, sur), np.where(both, g2, giv)
        # a stored split from the importer is used when the raw name carried none
        if _has(df, "surname_norm") and _has(df, "given_norm"):
            s3 = N.norm_name_series(_col(df, "surname_norm")).to_numpy(dtype=object)
            g3 = N.norm_name_series(_col(df, "given_norm")).to_numpy(dtype=object)
            use = (giv == "") & (s3 != "") & (g3 != "")
            sur, giv = np.where(use, s3, sur), np.where(use, g3, giv)
    else:
        full = N.norm_name_series(_col(df, "name_norm")).to_numpy(dtype=object)
        sur = N.norm_name_series(_col(df, "surname_norm")).to_numpy(dtype=object)
        giv = N.norm_name_series(_col(df, "given_norm")).to_numpy(dtype=object)
        missing = (full == "") & (sur != "")
        full = np.where(missing, sur + giv, full)
    split = (sur != "") & (giv != "")
    sur, giv = np.where(split, sur, ""), np.where(split, giv, "")
    out["full_k"], out["sur_k"], out["giv_k"] = full, sur, giv
    # --- kana -------------------------------------------------------------------------------------------
    if _has(df, "name_kana"):
        ks_raw, kg_raw = N.split_name_series(_col(df, "name_kana"))
        kfull = N.norm_kana_series(_col(df, "name_kana")).to_numpy(dtype=object)
        ksur = N.norm_kana_series(ks_raw).to_numpy(dtype=object)
        kgiv = N.norm_kana_series(kg_raw).to_numpy(dtype=object)
        if _has(df, "surname_kana") and _has(df, "given_name_kana"):
            s2 = N.norm_kana_series(_col(df, "surname_kana")).to_numpy(dtype=object)
            g2 = N.norm_kana_series(_col(df, "given_name_kana")).to_numpy(dtype=object)
            both = (s2 != "") & (g2 != "")
            ksur, kgiv = np.where(both, s2, ksur), np.where(both, g2, kgiv)
    else:
        kfull = N.norm_kana_series(_col(df, "kana_norm")).to_numpy(dtype=object)
        ksur = N.norm_kana_series(_col(df, "surname_kana")).to_numpy(dtype=object)
        kgiv_col = "given_kana" if "given_kana" in df.columns else "given_name_kana"
        kgiv = N.norm_kana_series(_col(df, kgiv_col)).to_numpy(dtype=object)
        missing = (kfull == "") & (ksur != "")
        kfull = np.where(missing, ksur + kgiv, kfull)
    ksplit = (ksur != "") & (kgiv != "")
    ksur, kgiv = np.where(ksplit, ksur, ""), np.where(ksplit, kgiv, "")
    # a 氏名 column written in kana only (a school's list: やまだ たろう) is kana, not kanji
    kana_only = np.fromiter((bool(_KATAKANA.fullmatch(x)) for x in full), dtype=bool, count=n) & (kfull == "")
    if kana_only.any():
        kfull, ksur, kgiv = (np.where(kana_only, a, b) for a, b in ((full, kfull), (sur, ksur), (giv, kgiv)))
        full, sur, giv = (np.where(kana_only, "", a) for a in (full, sur, giv))
        out["full_k"], out["sur_k"], out["giv_k"] = full, sur, giv
    out["full_kn"], out["sur_kn"], out["giv_kn"] = kfull, ksur, kgiv
    # --- folded forms -----------------------------------------------------------------------------------
    for k in ("full_k", "sur_k", "giv_k"):
        out["f_" + k] = N.fold_name_series(pd.Series(out[k], dtype="object")).to_numpy(dtype=object)
    for k in ("full_kn", "sur_kn", "giv_kn"):
        out["f_" + k] = N.fold_kana_series(pd.Series(out[k], dtype="object")).to_numpy(dtype=object)
    # --- birth date -------------------------------------------------------------------------------------
    bd = _dates(_col(df, "birth_date"))
    if getattr(bd.dt, "tz", None) is not None:
        bd = bd.dt.tz_localize(None)
    ok = bd.notna().to_numpy()
    days = np.full(n, -1, dtype=np.int64)
    y = np.zeros(n, dtype=np.int32)
    m = np.zeros(n, dtype=np.int32)
    d = np.zeros(n, dtype=np.int32)
    if ok.any():
        okd = bd[ok]
        # offset so that every real date is ≥ 0 and -1 alone means "missing"
        days[ok] = okd.to_numpy().astype("datetime64[D]").astype(np.int64) + _DAY_OFFSET
        y[ok], m[ok], d[ok] = okd.dt.year.to_numpy(), okd.dt.month.to_numpy(), okd.dt.day.to_numpy()
    out["bd"], out["by"], out["bm"], out["bdd"] = days, y, m, d
    # --- others -----------------------------------------------------------------------------------------
    out["sex"] = _sex(_col(df, "sex"))
    if _has(df, "address"):
        out["address"] = N.norm_address_series(_col(df, "address")).to_numpy(dtype=object)
    else:
        out["address"] = N.norm_address_series(_col(df, "address_norm")).to_numpy(dtype=object)
    for c in ("resident_no", "household_no", "student_no", "school"):
        out[c] = _ids(_col(df, c))
    out["school"] = N.norm_name_series(pd.Series(out["school"], dtype="object")).to_numpy(dtype=object)
    out["pupil"] = pupil_keys(out["school"], _col(df, "grade"), _col(df, "class"), out["student_no"])
    return out


def pupil_keys(school: np.ndarray, grade: pd.Series, klass: pd.Series, student_no: np.ndarray) -> np.ndarray:
    """A pupil's number within a school: school | grade | class | number ("" without school or number). A 出席番号
    is only unique within a class, so grade and class are part of the key whenever the file has them (a 学籍番号
    file without them keys on school and number alone)."""
    g, k = _ids(grade.reset_index(drop=True)), _ids(klass.reset_index(drop=True))
    return np.array(
        [f"{sc}|{gr}|{kl}|{no}" if sc and no else "" for sc, gr, kl, no in zip(school, g, k, student_no)], dtype=object
    )
