"""The documents read the scoring engine's typed explanation (issue 18: no key guessing): every reason and
protective factor the engine wrote reaches ``ScoreReader`` with its indicator, points, kind and per-type points,
and what a reason leaves out comes from the database. A legal-basis table tightened after the run keeps an
indicator off the school's paper even though the run's reasons said it could be shown."""

from __future__ import annotations

import pytest
from conftest import PASSWORD
from sqlalchemy import select

from kodomo_desktop.core.reports import data as D
from kodomo_desktop.core.scoring.explain import ScoreDetails
from kodomo_desktop.core.storage.models import ChildScore, LegalBasis, ScoreRun
from kodomo_desktop.core.workspace import Workspace


@pytest.fixture(scope="module")
def town(tmp_path_factory, demo_town):
    d = tmp_path_factory.mktemp("typed")
    demo_town(d / "d.db", residents=600, seed=1)
    ws = Workspace.open(d / "d.db", PASSWORD)
    yield ws
    ws.close()


def _latest(s):
    run = s.scalar(select(ScoreRun).order_by(ScoreRun.id.desc()).limit(1))
    return run, list(s.scalars(select(ChildScore).where(ChildScore.run_id == run.id)))


def test_every_engine_reason_reaches_the_documents_as_written(town):
    with town.session() as s:
        run, scores = _latest(s)
        reader = D.ScoreReader(s)
        seen = filled = 0
        for cs in scores:
            sd = ScoreDetails.from_dict(cs.details)
            got = reader.score(cs, run)
            assert got is not None
            printed = [r for r in got["reasons"] if r["indicator"] != "sibling"] + got["protective"]
            wrote = sd.reasons + sd.protective
            key = lambda r: (r["indicator"], r["points"], r["kind"])  # noqa: E731
            assert sorted(map(key, printed)) == sorted((r.indicator, r.points, r.kind) for r in wrote), cs.person_id
            for r in printed:
                assert r["label"] and r["label"] != "（項目名なし）"
                assert r["fact_kind"] == r["kind"]
            by_ind = {r.indicator: r for r in wrote}
            for r in printed:
                w = by_ind[r["indicator"]]
                assert r["types"] == w.points_by_type
                if w.record_id is not None:  # a record's reason: where it came from, from the record and its batch
                    assert r["record_date"] is not None and r["file_name"] and r["batch_id"], r
                    filled += 1
                if r["source_type"]:
                    assert r["source_label"] and r["department"], r
            assert [x["label"] for x in got["no_data"]] == [x.label for x in sd.no_data]
            assert {t["type"] for t in got["types"]} == set(sd.types)
            flagged = set(D._split_types(cs.types)) | set(sd.flagged_types)
            for t in got["types"]:
                ts = sd.types[t["type"]]
                assert (t["points"], t["band"]) == (ts.points, ts.band)
                assert t["flagged"] == (ts.flagged or t["type"] in flagged), (cs.person_id, t)
            assert (got["own_points"], got["household_points"]) == (sd.own_points, sd.household_points)
            seen += len(printed)
    assert seen > 100 and filled > 50  # the demo town's run: hundreds of reasons, most from a record


def test_an_indicator_hidden_after_the_run_stays_off_school_sheets(town):
    with town.session() as s:
        run, scores = _latest(s)
        cs, r = next((cs, r) for cs in scores for r in ScoreDetails.from_dict(cs.details).reasons if r.shown_on_sheets)
        before = [x for x in D.ScoreReader(s).score(cs, run)["reasons"] if x["indicator"] == r.indicator]
        assert before and all(x["shown_on_sheets"] for x in before)
        row = s.scalar(select(LegalBasis).where(LegalBasis.kind == "indicator", LegalBasis.key == r.indicator))
        if row is None:
            row = LegalBasis(kind="indicator", key=r.indicator)
            s.add(row)
        row.shown_on_sheets = False
        s.flush()
        after = [x for x in D.ScoreReader(s).score(cs, run)["reasons"] if x["indicator"] == r.indicator]
        assert after and not any(x["shown_on_sheets"] for x in after)
        s.rollback()
