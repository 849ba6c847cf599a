"""The documents on the demo town (imported, linked and scored through the real services): what the scoring
engine writes into ChildScore.details must print — reasons with sources, no-data labels, siblings. Skipped (with
the reason) when the demo cannot be built; test_reports.py covers every document on a model-built town."""

from __future__ import annotations

import shutil

import pytest
from conftest import PASSWORD
from sqlalchemy import select
from test_reports import check_document, flat, pages_text

from kodomo_desktop.core.reports import service as R
from kodomo_desktop.core.reports.data import school_info
from kodomo_desktop.core.storage.models import ChildScore, Person
from kodomo_desktop.core.workspace import Workspace

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdffonts", "pdftoppm")),
    reason="poppler-utils (pdftotext, pdffonts, pdftoppm) are needed",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_town):
    try:
        from kodomo_desktop.core.demo.service import build_demo  # noqa: F401  (is the demo there?)
    except ImportError as e:  # pragma: no cover - the demo ships with the app
        pytest.skip(f"demo town not available: {e}")
    d = tmp_path_factory.mktemp("demo")
    try:
        demo_town(d / "d.db", residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    except Exception as e:  # the demo is another capability: if it is broken, test_reports.py's town still runs
        pytest.skip(
            f"build_demo failed ({type(e).__name__}: {e}); the model-built town in test_reports.py covers the documents"
        )
    ws = Workspace.open(d / "d.db", PASSWORD)
    with ws.session() as s:
        flagged = list(
            s.scalars(
                select(ChildScore.person_id)
                .where(ChildScore.flagged.is_(True))
                .order_by(ChildScore.run_id.desc(), ChildScore.total.desc())
            )
        )
    if len(flagged) < 5:
        ws.close()
        pytest.skip("the demo town flagged fewer than five children")
    yield ws, list(dict.fromkeys(flagged))
    ws.close()


def test_demo_packet_and_assessment(demo, tmp_path):
    ws, flagged = demo
    ids = flagged[:5]
    out = tmp_path / "packet.pdf"
    res = R.conference_pdf(ws, ids, out)
    texts = check_document(out, res["pages"], tmp_path)
    assert res["pages"] >= 2 + 5
    with ws.session() as s:
        who = {p.id: p.name for p in s.scalars(select(Person).where(Person.id.in_(ids)))}
        reasons = {
            c.person_id: c.details.get("reasons", [])
            for c in s.scalars(select(ChildScore).where(ChildScore.person_id.in_(ids)))
        }
    body = flat("".join(texts[2:]))
    for pid in ids:
        assert flat(who[pid]) in flat(texts[0]) and flat(who[pid]) in body
        for r in reasons[pid][:3]:  # the strongest reasons are printed with their labels
            assert flat(r["label"]) in body, r["label"]

    out = tmp_path / "assessment.pdf"
    res = R.assessment_pdf(ws, ids[0], out)
    all_ = flat("".join(check_document(out, res["pages"], tmp_path)))
    for r in reasons[ids[0]]:
        assert flat(r["label"]) in all_
        if r.get("file_name"):
            assert flat(r["file_name"]) in all_


def test_demo_school_sheet_and_stats(demo, tmp_path):
    ws, flagged = demo
    with ws.session() as s:
        school = next(i["school"] for pid, i in school_info(s, flagged).items())
    out = tmp_path / "school.pdf"
    res = R.school_sheet_pdf(ws, school, out)
    all_ = flat("".join(check_document(out, res["pages"], tmp_path)))
    assert flat(school) in all_ and "確認された項目" in all_
    for hidden in ("生活保護", "児童扶養手当", "住民税非課税", "要対協"):
        assert hidden not in all_
    from kodomo_desktop.core.casework import service as C

    rid = C.create_round(ws, "デモ 2学期")
    out = tmp_path / "stats.pdf"
    res = R.round_stats_pdf(ws, rid, out)
    assert "ラウンド統計" in flat("".join(pages_text(out)))
    check_document(out, res["pages"], tmp_path)
