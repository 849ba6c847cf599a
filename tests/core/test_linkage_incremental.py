"""名寄せ after a new batch: the links, persons and households written by re-running after each batch are the ones one
run over everything gives, human decisions stick, and a re-run with nothing new writes nothing."""

import csv
import datetime as dt

import pytest
from conftest import PASSWORD
from sqlalchemy import text

from kodomo_desktop.core.demo.files import write_department_files
from kodomo_desktop.core.demo.town import generate_town
from kodomo_desktop.core.importing.manifest import import_manifest, read_manifest
from kodomo_desktop.core.importing.service import import_file
from kodomo_desktop.core.linkage import service as L
from kodomo_desktop.core.workspace import Workspace

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


def test_link_after_each_batch_equals_one_run_over_everything(files, tmp_path):
    entries, registry2 = files
    step = Workspace.create(tmp_path / "step.db", PASSWORD)
    once = Workspace.create(tmp_path / "once.db", PASSWORD)
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


def test_a_run_with_nothing_new_is_skipped_and_any_change_links_again(files, tmp_path):
    """The inputs' digest: unchanged → nothing compared, nothing written (``mode: unchanged``); a decision, an
    opt-out, other thresholds or a removed batch → the engine runs (``mode: full``, with why), and the result is the
    one a forced full run gives."""
    from kodomo_desktop.core.governance.optout import add_optout

    entries, _ = files
    ws = Workspace.create(tmp_path / "skip.db", PASSWORD)
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
        assert after["mode"] == "full"
        with ws.session() as s:
            row = s.execute(text("SELECT person_id, status FROM link WHERE record_id = :r"), {"r": rid}).one()
        assert row[0] != pid or row[1] not in ("auto", "confirmed")
        assert L.run_linkage(ws)["mode"] == "unchanged"

        # an opt-out in force today
        add_optout(ws, pid, "本人の申出")
        assert L.run_linkage(ws)["mode"] == "full"
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
