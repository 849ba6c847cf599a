"""Scoring reads only the attribute fields its catalogue names (issue 21) and scores exactly as whole records do.

A generated city (benchmarks/city.py: the demo's department files widened with item columns 項目…, as 和泉市
holds them) is imported and linked once; then the same children are scored from whole records (the loader before
issue 21, ``fields=ALL_FIELDS``) and from the slim records (the default), and the results are compared: every
child's details, and the score CSV byte for byte."""

import importlib.util
import json
from pathlib import Path

import pytest

from kodomo_desktop.core.importing.manifest import import_manifest, read_manifest
from kodomo_desktop.core.linkage.service import run_linkage
from kodomo_desktop.core.scoring import engine as E
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]
PW = "scoring fields pw"


def _city_module():
    spec = importlib.util.spec_from_file_location("city_bench", ROOT / "benchmarks" / "city.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("city")
    files = d / "files"
    files.mkdir()
    info = _city_module().make_town(1200, files, items=120, seed=3)
    assert info["wide_values"] > 10_000
    ws = Workspace.create(d / "c.db", PW)
    try:
        res = import_manifest(ws, read_manifest(files / "sources.csv"))
        assert not [r for r in res if r.get("refused")]
        run_linkage(ws)
    finally:
        ws.close()
    return d / "c.db"


@pytest.fixture
def ws(city_db):
    w = Workspace.open(city_db, PW)
    yield w
    w.close()


def _details(ws, fields):
    inp = S.load_input(ws, S.default_as_of(ws), fields=fields)
    ctx = S.ScoringContext(inp)
    hits, sc, _ = ctx.score(S.active_weights(ws)["data"])
    sib = E.sibling_index(ctx.prep, sc)
    return inp, [
        json.dumps(E.explain(ctx.prep, hits, sc, i, sibling_index=sib), ensure_ascii=False, sort_keys=True)
        for i in range(ctx.prep.C)
    ]


def test_slim_records_hold_only_the_fields_the_catalogue_names(ws):
    need = E.needed_fields(S.catalogue())
    slim = S.load_input(ws, S.default_as_of(ws)).records
    whole = S.load_input(ws, S.default_as_of(ws), fields=S.ALL_FIELDS).records
    assert len(slim) == len(whole) > 1000
    # the wide files' item columns are kept with each record (under ``extra``)
    assert sum(1 for a in whole["attributes"] for k in a.get("extra") or {} if k.startswith("項目")) > 10_000
    for st, a in zip(slim["source_type"], slim["attributes"]):
        assert set(a) <= need.get(st, set()), (st, sorted(set(a) - need.get(st, set())))
    assert not any("extra" in a for a in slim["attributes"])
    # the values kept are the record's own, with their JSON types (numbers stay numbers, flags stay booleans)
    for a, b in zip(slim["attributes"], whole["attributes"]):
        for k, v in a.items():
            assert v == b.get(k) and type(v) is type(b.get(k)), (k, v, b.get(k))


def test_slim_records_score_exactly_as_whole_records(ws):
    _, whole = _details(ws, S.ALL_FIELDS)
    _, slim = _details(ws, None)
    assert len(whole) == len(slim) > 100
    assert any('"flagged": true' in d for d in slim)  # a town with findings, not an empty comparison
    assert whole == slim


def test_the_score_csv_is_the_same_byte_for_byte(ws, tmp_path, monkeypatch):
    S.score_to_csv(ws, tmp_path / "new.csv")
    load = S.load_input
    monkeypatch.setattr(S, "load_input", lambda *a, **k: load(*a, **{**k, "fields": S.ALL_FIELDS}))
    S.score_to_csv(ws, tmp_path / "old.csv", full=True)  # every child read again (not an incremental run)
    new, old = (tmp_path / "new.csv").read_bytes(), (tmp_path / "old.csv").read_bytes()
    assert new.count(b"\n") > 100
    assert new == old


def test_needed_fields_cover_rules_dedupe_closure_and_take_up_gaps():
    cat = S.catalogue()
    need = E.needed_fields(cat)
    assert "round_id" in need["school_checklist"] and "nationality" in need["resident_registry"]
    assert {"closed_date", "status"} <= need["yotaikyo"]  # closed_by
    assert "fiscal_year" in need["tax"]  # dedupe
    assert "tax_status" in need["tax"]  # an indicator's (and a take-up gap's) field
    extra = {
        "indicators": [
            {"source_type": "x", "rule": {"aggregate": "max", "field": "f1", "where": {"field": "f2", "op": "exists"}}},
            {"source_type": "x", "rule": {"any": [{"field": "f3", "op": "exists"}]}, "date_field": "f4"},
            {  # a two-source indicator: present in x, absent in y
                "source_type": "x",
                "rule": {"field": "f6", "op": "exists"},
                "absent": {"source_type": "y", "rule": {"field": "g1", "op": "exists"}, "date_field": "g2"},
            },
        ],
        "sources": {"x": {"dedupe": ["record_date", "f5"]}},
    }
    need = E.needed_fields(extra)
    assert {"f1", "f2", "f3", "f4", "f5", "f6"} <= need["x"] and {"g1", "g2"} <= need["y"]
