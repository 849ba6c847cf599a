"""名寄せ after a new batch: the links, persons and households written by re-running after each batch are the ones one
run over everything gives, human decisions stick, and a re-run with nothing new writes nothing."""

import csv
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from kodomo_desktop.core.demo.files import write_department_files
from kodomo_desktop.core.demo.town import generate_town
from kodomo_desktop.core.importing.manifest import import_manifest, read_manifest
from kodomo_desktop.core.importing.service import import_file
from kodomo_desktop.core.linkage import service as L

LINK_SQL = (
    "SELECT record_id, person_id, status, score, probability, method, explanation, candidates, decided_by, "
    "decided_at IS NULL FROM link ORDER BY record_id"
)
PERSON_SQL = (
    "SELECT id, household_id, resident_no, name, name_kana, name_norm, kana_norm, birth_date, sex, address, "
    "relationship, in_registry FROM person ORDER BY id"
)
HOUSEHOLD_SQL = "SELECT id, household_no, address FROM household ORDER BY id"


def _state(ws) -> dict:
    with ws.session() as s:
        return {
            k: s.execute(text(q)).all() for k, q in (("link", LINK_SQL), ("person", PERSON_SQL), ("hh", HOUSEHOLD_SQL))
        }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("incremental_town")
    write_department_files(generate_town(residents=700, seed=5), d)
    entries = read_manifest(d / "sources.csv")
    registry = next(e for e in entries if e.source_type == "resident_registry")
    # next month's registry: one household moved (a new address), one resident left
    with open(registry.path, encoding="cp932", errors="strict", newline="") as fh:
        rows = list(csv.reader(fh))
    head = next(i for i, r in enumerate(rows) if any("宛名" in c for c in r))
    cols = rows[head]
    addr = next(i for i, c in enumerate(cols) if "住所" in c)
    rows[head + 3][addr] = rows[head + 3][addr] + "（転居先）"
    del rows[head + 7]
    nxt = d / "住民基本台帳_翌月.csv"
    with open(nxt, "w", encoding="cp932", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return entries, nxt


def _import_in_order(ws, entries, registry2, *, link_between: bool):
    """A, B (the registry and half the files) · [link] · C (the rest) · next month's registry · link."""
    others = [e for e in entries if e.source_type != "resident_registry"]
    reg = [e for e in entries if e.source_type == "resident_registry"]
    first, second = reg + others[: len(others) // 2], others[len(others) // 2 :]
    assert all(not r.get("refused") for r in import_manifest(ws, first))
    if link_between:
        L.run_linkage(ws)
    assert all(not r.get("refused") for r in import_manifest(ws, second))
    later = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert import_file(ws, registry2, "resident_registry", as_of=later).batch_id is not None


def _one_decision(ws) -> tuple[int, str]:
    """A person's decision on a non-registry row: confirm its link to its registry person."""
    with ws.session() as s:
        rid, pid = s.execute(
            text(
                "SELECT l.record_id, l.person_id FROM link l JOIN source_record r ON r.id = l.record_id "
                "WHERE r.source_type != 'resident_registry' AND l.status = 'auto' AND l.method = 'fellegi_sunter' "
                "ORDER BY l.record_id LIMIT 1"
            )
        ).one()
    return rid, pid


def test_link_after_each_batch_equals_one_run_over_everything(files, tmp_path, new_db_at):
    entries, registry2 = files
    step = new_db_at(tmp_path / "step.db")  # new databases: copies of one Workspace.create (tests/conftest.py)
    once = new_db_at(tmp_path / "once.db")
    try:
        _import_in_order(step, entries, registry2, link_between=True)
        # the decision taken between the batches (after the first run) …
        rid, pid = _one_decision(step)
        L.decide(step, rid, "accept", pid)
        summary = L.run_linkage(step)
        assert summary["written"] > 0

        # … and the same decision on the town imported at once, linked once
        _import_in_order(once, entries, registry2, link_between=False)
        L.run_linkage(once)
        L.decide(once, rid, "accept", pid)
        L.run_linkage(once)

        a, b = _state(step), _state(once)
        assert len(a["link"]) > 500 and len(a["person"]) > 600
        for k in a:
            assert a[k] == b[k], k
        confirmed = [r for r in a["link"] if r[0] == rid][0]
        assert confirmed[1] == pid and confirmed[2] == "confirmed"
        # the registry's changes reached the persons: the moved household's new address, the resident who left
        assert any("（転居先）" in (r[9] or "") for r in a["person"])
        assert any(not r[11] for r in a["person"])
        assert L.review_queue(step) == L.review_queue(once)

        # nothing new: nothing written; --full rewrites every link, the same links
        again = L.run_linkage(step)
        assert again["written"] == 0
        full = L.run_linkage(step, full=True)
        assert full["written"] == len(a["link"])
        assert _state(step) == a
    finally:
        step.close()
        once.close()


def test_a_run_with_nothing_new_is_skipped_and_any_change_links_again(files, tmp_path, new_db_at):
    """The inputs' digest: unchanged → nothing compared, nothing written (``mode: unchanged``); a decision or an
    opt-out → the engine runs with the stored model (``mode: incremental``); other thresholds or a removed batch →
    the engine runs and refits (``mode: full``, with why), and the result is the one a forced full run gives."""
    from kodomo_desktop.core.governance.optout import add_optout

    entries, _ = files
    ws = new_db_at(tmp_path / "skip.db")
    try:
        results = import_manifest(ws, entries)
        first = L.run_linkage(ws)
        assert first["mode"] == "full" and first["why"]
        state = _state(ws)
        again = L.run_linkage(ws)
        assert again["mode"] == "unchanged" and again["written"] == 0
        assert {k: again[k] for k in ("persons", "auto_links", "review")} == {
            k: first[k] for k in ("persons", "auto_links", "review")
        }
        assert _state(ws) == state

        # a reviewer's decision: the engine runs again and the decision holds
        rid, pid = _one_decision(ws)
        L.decide(ws, rid, "reject", pid)
        after = L.run_linkage(ws)
        assert after["mode"] == "incremental" and after["why"]
        with ws.session() as s:
            row = s.execute(text("SELECT person_id, status FROM link WHERE record_id = :r"), {"r": rid}).one()
        assert row[0] != pid or row[1] not in ("auto", "confirmed")
        assert L.run_linkage(ws)["mode"] == "unchanged"

        # an opt-out in force today
        add_optout(ws, pid, "本人の申出")
        assert L.run_linkage(ws)["mode"] == "incremental"
        assert L.run_linkage(ws)["mode"] == "unchanged"

        # other thresholds, then the same again
        assert L.run_linkage(ws, thresholds={"upper": 6.0})["mode"] == "full"
        assert L.run_linkage(ws, thresholds={"upper": 6.0})["mode"] == "unchanged"

        # a removed batch: its rows leave the links
        from kodomo_desktop.core.importing.service import remove_batch

        batch = next(
            r["batch_id"] for r in results if r.get("batch_id") and r.get("source_type") != "resident_registry"
        )
        remove_batch(ws, batch, reason="別の課のファイル")
        removed = L.run_linkage(ws, thresholds={"upper": 6.0})
        assert removed["mode"] == "full"
        state = _state(ws)
        with ws.session() as s:
            left = s.execute(
                text("SELECT count(*) FROM link l JOIN source_record r ON r.id = l.record_id WHERE r.batch_id = :b"),
                {"b": batch},
            ).scalar()
        assert left == 0
        # the skipped run's links are exactly the ones a forced full run writes
        assert L.run_linkage(ws, thresholds={"upper": 6.0})["mode"] == "unchanged"
        forced = L.run_linkage(ws, thresholds={"upper": 6.0}, full=True)
        assert forced["mode"] == "full" and forced["written"] == len(state["link"])
        assert _state(ws) == state
    finally:
        ws.close()


# --- the stored model and the pair cache (issue #21: a new batch compares only what it changes) -------------------
def _stored(ws):
    with ws.session() as s:
        return s.execute(text("SELECT id, fitted_at, model, pairs FROM link_model")).all()


def _same_model_compare_all(ws) -> dict:
    """The engine over everything with the stored model and no cached comparison: forget the pair cache and the last
    run's digest, link again. Returns that run's summary; the caller compares the links with the ones before."""
    with ws.session() as s:
        s.execute(text("UPDATE link_model SET pairs = NULL"))
        s.execute(text("UPDATE link_run SET summary = json_set(summary, '$.inputs', 'forgotten')"))
    return L.run_linkage(ws)


def _pairs(ws) -> dict:
    (row,) = _stored(ws)
    return L._load_pairs(row[3])


def _next_registry(files, d) -> "object":
    """Next month's registry after the one in ``files``: a birth (a new resident), a move (a new address) and a
    changed name (a 訂正 of one child's given name)."""
    entries, nxt = files
    with open(nxt, encoding="cp932", errors="strict", newline="") as fh:
        rows = list(csv.reader(fh))
    head = next(i for i, r in enumerate(rows) if any("宛名" in c for c in r))
    cols = rows[head]
    no = next(i for i, c in enumerate(cols) if "宛名" in c)
    name = next(i for i, c in enumerate(cols) if c == "氏名")
    kana = next(i for i, c in enumerate(cols) if "フリガナ" in c)
    bd = next(i for i, c in enumerate(cols) if "生年月日" in c)
    addr = next(i for i, c in enumerate(cols) if "住所" in c)
    rows[head + 11][addr] = rows[head + 11][addr] + "（転居）"
    sur = rows[head + 20][name].split("　")[0]
    rows[head + 20][name] = sur + "　改名"
    rows[head + 20][kana] = ""
    baby = list(rows[head + 30])
    baby[no], baby[name], baby[kana], baby[bd] = "0019999999", sur + "　新生", "", "2026-11-20"
    rows.append(baby)
    out = d / "住民基本台帳_翌々月.csv"
    with open(out, "w", encoding="cp932", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return out


def test_incremental_runs_equal_the_engine_over_everything_with_the_stored_model(files, tmp_path, new_db_at):
    """Step by step — a new department batch, next month's registry (a birth, a move, a changed name), a reviewer's
    decision, an opt-out — each run reuses the stored model and the cached comparisons, compares only new pairs, and
    its links, persons and households are exactly those of the engine over everything with that model and no cache
    (which writes nothing after it, and leaves the same cache). A removed batch drops model and cache: the next run
    refits, and ``--full`` after it equals a fresh fit."""
    from kodomo_desktop.core.governance.optout import add_optout
    from kodomo_desktop.core.importing.service import remove_batch

    entries, nxt = files
    ws = new_db_at(tmp_path / "steps.db")
    try:
        small = next(e for e in entries if e.source_type == "public_assistance")
        first = [e for e in entries if e is not small]
        assert all(not r.get("refused") for r in import_manifest(ws, first))
        fit = L.run_linkage(ws)
        assert fit["mode"] == "full" and fit["pairs_compared"] == fit["pairs"] > 0 and fit["pairs_reused"] == 0
        ((mid, fitted_at, model, _),) = _stored(ws)

        def step(label):
            run = L.run_linkage(ws)
            assert run["mode"] == "incremental", (label, run["why"])
            assert "モデル" in run["why"]
            assert run["pairs_reused"] > 0 and run["pairs_compared"] + run["pairs_reused"] == run["pairs"], label
            state, cache = _state(ws), _pairs(ws)
            ref = _same_model_compare_all(ws)
            assert ref["mode"] == "incremental" and ref["pairs_reused"] == 0 and ref["written"] == 0, label
            assert _state(ws) == state, label
            again = _pairs(ws)
            assert again.keys() == cache.keys() and all(
                np.array_equal(cache[k], again[k], equal_nan=True) for k in cache
            ), label
            ((mid2, at2, model2, _),) = _stored(ws)
            assert (mid2, at2, model2) == (mid, fitted_at, model), label  # the model is the one fitted first
            return run

        # a new department file: only its rows' pairs are compared
        assert import_file(ws, small.path, small.source_type, as_of=small.as_of).batch_id is not None
        run = step("new batch")
        assert run["pairs_compared"] < run["pairs"] / 10

        # next month's registry: a birth, a move, a changed name
        import_file(ws, nxt, "resident_registry", as_of=(dt.date.today() + dt.timedelta(days=1)).isoformat())
        later = _next_registry(files, tmp_path)
        import_file(ws, later, "resident_registry", as_of=(dt.date.today() + dt.timedelta(days=2)).isoformat())
        run = step("registry")
        with ws.session() as s:
            names = {r[0] for r in s.execute(text("SELECT name FROM person")).all()}
        assert any(n.endswith("改名") for n in names) and any(n.endswith("新生") for n in names)

        # a reviewer's decision, then an opt-out
        rid, pid = _one_decision(ws)
        L.decide(ws, rid, "reject", pid)
        run = step("decision")
        assert run["pairs_compared"] == 0
        add_optout(ws, pid, "本人の申出")
        step("opt-out")

        # a removed batch: model and cache are gone, the next run refits
        remove_batch(ws, next(iter(_batches(ws, "public_assistance"))), reason="別の課のファイル")
        assert _stored(ws) == []
        removed = L.run_linkage(ws)
        assert removed["mode"] == "full" and "モデルがありません" in removed["why"]
        assert removed["pairs_reused"] == 0
        state = _state(ws)
        forced = L.run_linkage(ws, full=True)
        assert forced["mode"] == "full" and forced["why"] == "全件の再書き込み（--full）"
        assert _state(ws) == state
    finally:
        ws.close()


def _batches(ws, source_type) -> list[int]:
    with ws.session() as s:
        return [
            b
            for (b,) in s.execute(
                text("SELECT id FROM source_batch WHERE source_type = :t AND removed_at IS NULL ORDER BY id"),
                {"t": source_type},
            ).all()
        ]


def test_full_refits_and_equals_a_fresh_fit(files, tmp_path, new_db_at):
    """``--full`` fits the model afresh: after incremental runs it gives exactly the links of a new workspace that
    imported the same files and linked once."""
    entries, nxt = files
    small = next(e for e in entries if e.source_type == "public_assistance")
    first = [e for e in entries if e is not small]
    step = new_db_at(tmp_path / "step.db")
    once = new_db_at(tmp_path / "once.db")
    try:
        import_manifest(step, first)
        L.run_linkage(step)
        import_file(step, small.path, small.source_type, as_of=small.as_of)
        assert L.run_linkage(step)["mode"] == "incremental"
        full = L.run_linkage(step, full=True)
        assert full["mode"] == "full" and full["pairs_reused"] == 0

        import_manifest(once, first)
        import_file(once, small.path, small.source_type, as_of=small.as_of)
        assert L.run_linkage(once)["why"] == "初回の名寄せ"
        assert _state(step) == _state(once)
        (a,), (b,) = _stored(step), _stored(once)
        assert a[2] == b[2]  # the same model, to the bit
    finally:
        step.close()
        once.close()


def test_drift_and_age_refit_the_model(files, tmp_path, monkeypatch, new_db_at):
    """More than ``DRIFT_SHARE`` of the records or of the registry's persons changed since the fit, or a model older
    than ``MODEL_MAX_DAYS``: the run refits (``mode: full``) and says why; other thresholds refit too."""
    entries, _ = files
    small = next(e for e in entries if e.source_type == "public_assistance")
    ws = new_db_at(tmp_path / "drift.db")
    try:
        import_manifest(ws, [e for e in entries if e is not small])
        L.run_linkage(ws)
        monkeypatch.setattr(L, "DRIFT_SHARE", 0.001)
        import_file(ws, small.path, small.source_type, as_of=small.as_of)
        run = L.run_linkage(ws)
        assert run["mode"] == "full" and "記録の" in run["why"] and "作り直します" in run["why"]
        monkeypatch.setattr(L, "DRIFT_SHARE", 0.15)

        rid, pid = _one_decision(ws)
        L.decide(ws, rid, "reject", pid)
        with ws.session() as s:
            s.execute(text("UPDATE link_model SET fitted_at = :t"), {"t": dt.datetime.now() - dt.timedelta(days=92)})
        run = L.run_linkage(ws)
        assert run["mode"] == "full" and "日たちました" in run["why"]

        run = L.run_linkage(ws, thresholds={"upper": 6.0})
        assert run["mode"] == "full" and "設定" in run["why"]
    finally:
        ws.close()


def test_the_cache_never_reuses_a_comparison_of_an_edited_registry_row(files, tmp_path, new_db_at):
    """A person whose name or address changed (a 訂正) has other identity fields: every pair with that person is
    compared again, and the result equals the engine with the same model and no cache."""
    from kodomo_desktop.core.linkage import engine as E
    from kodomo_desktop.core.linkage import model as M

    entries, _ = files
    ws = new_db_at(tmp_path / "edit.db")
    try:
        import_manifest(ws, entries)
        L.run_linkage(ws)
        with ws.session() as s:
            registry, records = L.registry_frame(s), L.records_frame(s)
    finally:
        ws.close()
    res, info = E.link_records(registry, records, return_info=True)
    model = info.fitted
    # two persons with candidate pairs (children) and a third one
    hp = E.identity_hashes(E.prepare(registry))
    p, q, o = np.flatnonzero(np.isin(hp, info.cache["p"]))[:3]
    edited = registry.copy()
    edited.loc[p, "name"] = str(edited.loc[p, "name"]).split("　")[0] + "　訂正"
    edited.loc[p, "name_norm"] = ""
    edited.loc[q, "address"] = "どこか別の町1番地"

    # the comparisons themselves: every record against persons p, q and a third one left as it was
    R, P, P2 = E.prepare(records), E.prepare(registry), E.prepare(edited)
    n = len(records)
    ri = np.tile(np.arange(n), 3)
    pi = np.repeat(np.array([p, q, o]), n)
    _, _, cache, compared = E._compare_cached(R, P, ri, pi, M.tf_for(model.tf, P), None)
    assert compared == 3 * n
    g, t, _, compared = E._compare_cached(R, P2, ri, pi, M.tf_for(model.tf, P2), cache)
    assert compared == 2 * n  # p and q compared again, the third person's pairs reused
    g2, t2 = M.compare_chunked(R, P2, ri, pi, M.tf_for(model.tf, P2))
    assert np.array_equal(g, g2) and np.array_equal(t, t2, equal_nan=True)
    assert not np.array_equal(g[:n], E._compare_cached(R, P, ri, pi, M.tf_for(model.tf, P), None)[0][:n])

    # the engine: with the cache as without it
    a, ia = E.link_records(edited, records, model=model, pair_cache=info.cache, return_info=True)
    b, ib = E.link_records(edited, records, model=model, return_info=True)
    assert 0 < ia.compared < ia.pairs and ib.compared == ib.pairs
    pd.testing.assert_frame_equal(a, b)
    c, ic = E.link_records(edited, records, model=model, pair_cache=ia.cache, return_info=True)
    assert ic.compared == 0
    pd.testing.assert_frame_equal(a, c)
