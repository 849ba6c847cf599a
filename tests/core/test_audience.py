"""core/audience.py: one place deciding what each audience may see, and every document asking it. On the demo
town: a child with welfare-only facts whose sibling is flagged for 虐待 — the conference's documents carry those
facts, the school-facing ones (school sheet, handover sheet of every kind) carry no welfare word at all."""

from __future__ import annotations

import shutil

import pytest
from conftest import PASSWORD
from sqlalchemy import select
from test_reports import flat, pages_text

from kodomo_desktop.core import audience as A
from kodomo_desktop.core.errors import InputRefused, IntegrityFailure
from kodomo_desktop.core.reports import base as B
from kodomo_desktop.core.reports import service as R
from kodomo_desktop.core.reports.data import school_info
from kodomo_desktop.core.storage.models import ChildScore
from kodomo_desktop.core.workspace import Workspace

needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) is needed")
WELFARE_FACT_SOURCES = {"public_assistance", "tax", "disability", "yotaikyo", "consultation", "child_rearing_allowance"}
# the words the issue names, and the sibling line that used to leak (credited to 住民基本台帳)
FORBIDDEN = ("虐待", "生活保護", "要対協", "児童扶養手当", "障害", "非課税", "DV", "きょうだいに抽出", "要保護")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_town):

    d = tmp_path_factory.mktemp("demo")
    demo_town(d / "d.db", residents=600, seed=1)  # the run's most used town (cached), not a town of its own
    ws = Workspace.open(d / "d.db", PASSWORD)
    yield ws
    ws.close()


def _welfare_child(ws):
    """A pupil whose sibling is flagged for 虐待 and who has welfare-only facts of their own household."""
    with ws.session() as s:
        info = school_info(s)
        for c in s.scalars(select(ChildScore).order_by(ChildScore.person_id)):
            rs = (c.details or {}).get("reasons") or []
            sib = any(r["indicator"] == "sibling_flagged" and "虐待" in r["label"] for r in rs)
            welfare = [r for r in rs if r.get("source_type") in WELFARE_FACT_SOURCES]
            if sib and welfare and c.person_id in info:
                return c.person_id, info[c.person_id]["school"], rs
    pytest.fail("the demo town has no pupil with a sibling flagged for 虐待 and welfare facts")


def test_audiences_decide_per_fact_kind():
    own_school = {"indicator": "absence_30", "label": "欠席日数30日以上", "source_type": "school_attendance"}
    sibling = {
        "indicator": "sibling_flagged",
        "label": "きょうだいに抽出あり（虐待）",
        "source_type": "resident_registry",
        "whose": "きょうだい",
        "shown_on_sheets": True,
    }
    poverty = {"indicator": "public_assistance", "label": "生活保護 受給世帯", "source_type": "public_assistance"}
    dv = {"indicator": "dv_history", "label": "DV相談歴", "source_type": "consultation"}
    health = {"indicator": "checkup_missed", "label": "乳幼児健診 未受診", "source_type": "maternal_child_health"}
    assert A.fact_kind(sibling) == A.HOUSEHOLD and A.fact_kind(poverty) == A.POVERTY_PROXY
    assert A.fact_kind(own_school) == A.OWN and A.fact_kind({"kind": "protective"}) == A.PROTECTIVE
    conf = A.get("conference")
    assert all(conf.sees_reason(r) for r in (own_school, sibling, poverty, dv, health))
    for key in ("school", "nursery", "handover", "outside_body"):
        a = A.get(key)
        assert a.reasons([own_school, sibling, poverty, dv, health]) == [own_school], key
        assert not a.sees("points") and not a.sees("department") and not a.sees("types") and not a.sees("yotaikyo")
        assert A.is_school_facing(key)
    nurse = A.get("public_health_nurse")
    assert nurse.reasons([own_school, poverty, dv, health]) == [own_school, health]
    fam = A.get("family_disclosure")
    assert fam.reasons([own_school, sibling, poverty, dv]) == [own_school, poverty]  # no third party, no 通告
    guardian = dict(poverty, person_id="P000002")  # the guardian's own record: a third party's fact
    assert fam.reasons([dict(own_school, person_id="P000001"), guardian], "P000001") == [
        dict(own_school, person_id="P000001")
    ]
    assert conf.reasons([guardian], "P000001") == [guardian]
    assert A.get("outside_body").initials_only and not A.get("outside_body").sees("name")
    # the last guard
    assert A.get("school").scrub_check("きょうだいに抽出あり（虐待）") and not conf.scrub_check("虐待")
    with pytest.raises(IntegrityFailure):
        A.get("handover").assert_clean("生活保護 受給世帯")
    with pytest.raises(KeyError):
        A.get("press")
    # an unknown source type is hidden from every restricted audience
    assert not A.get("school").sees_source("new_source") and conf.sees_source("new_source")


def test_school_facing_guard_stops_a_document(demo, tmp_path):
    """render() checks every text of a school-facing story against the audience before writing anything."""
    from reportlab.platypus import Paragraph

    from kodomo_desktop.core.reports.base import styles

    out = tmp_path / "x.pdf"
    with pytest.raises(IntegrityFailure):
        B.render(
            demo,
            out,
            kind="test",
            title="テスト",
            make=lambda: [Paragraph("きょうだいに抽出あり（虐待）", styles().body)],
            mask=B.MASKS["school"],
        )
    assert not out.exists()


@needs_poppler
def test_school_facing_documents_carry_no_welfare_word(demo, tmp_path):
    ws = demo
    pid, school, reasons = _welfare_child(ws)
    # the conference's documents do carry the welfare facts and the sibling line (the test can fail)
    R.conference_pdf(ws, [pid], tmp_path / "packet.pdf")
    packet = flat("".join(pages_text(tmp_path / "packet.pdf")))
    assert "きょうだいに抽出あり（虐待" in packet
    welfare_labels = [r["label"] for r in reasons if r.get("source_type") in WELFARE_FACT_SOURCES]
    assert all(flat(lbl) in packet for lbl in welfare_labels)

    docs = {"school": tmp_path / "school.pdf"}
    R.school_sheet_pdf(ws, school, docs["school"], person_ids=[pid])
    for kind in ("進学", "転校", "担任交代", "転出"):
        docs[kind] = tmp_path / f"handover_{kind}.pdf"
        # even asked for without a mask, a handover sheet is for the receiving school
        R.handover_pdf(ws, pid, docs[kind], kind, mask="none")
    for key, path in docs.items():
        text = flat("".join(pages_text(path)))
        assert pid in text or key == "school"
        found = [w for w in FORBIDDEN if w in text]
        assert not found, (key, found)
        for lbl in welfare_labels:
            assert flat(lbl) not in text, (key, lbl)
        assert "住民基本台帳" not in text, key  # no household fact credited to the registry
    handover = flat("".join(pages_text(docs["転出"])))
    assert "転出先の市町村" in handover and "■転出" in handover


def test_conference_documents_refuse_a_school_mask(demo, tmp_path):
    ws = demo
    pid, _, _ = _welfare_child(ws)
    for mask in ("school", "school_initials"):
        with pytest.raises(InputRefused):
            R.assessment_pdf(ws, pid, tmp_path / "a.pdf", mask=mask)
        with pytest.raises(InputRefused):
            R.conference_pdf(ws, [pid], tmp_path / "c.pdf", mask=mask)
    assert not (tmp_path / "a.pdf").exists()
