"""Incremental scoring (issue 21): after each new batch, a run that re-evaluates only the children whose inputs
changed gives exactly what a full run gives — the score CSV byte for byte and every stored row (details as stored
text, list columns, input keys, hits) — through a new batch, a child moved to another household, an opt-out, a
removed batch and a run with nothing new. The ranks and rules (top 10 % per age band, at least 3 basic items) are
on, so a changed total moves other children's ranks and flags.

Each step: the workspace (``step``) is copied to ``once`` before scoring; ``step`` scores incrementally, ``once``
with ``full=True``; the two runs (the same run id, the same previous run) must be equal."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import PASSWORD
from sqlalchemy import text

from kodomo_desktop.core.demo.files import write_department_files
from kodomo_desktop.core.demo.town import generate_town
from kodomo_desktop.core.governance.optout import add_optout
from kodomo_desktop.core.importing.manifest import import_manifest, read_manifest
from kodomo_desktop.core.importing.service import import_file, remove_batch
from kodomo_desktop.core.linkage.service import run_linkage
from kodomo_desktop.core.scoring import service as S
from kodomo_desktop.core.workspace import Workspace

ROWS_SQL = (
    "SELECT person_id, total, band, types, basic_items, flagged, school_points, details, position, band_level, "
    "school, age_band, newly_flagged, yotaikyo, input_key, hit_ids FROM child_score WHERE run_id = :r "
    "ORDER BY person_id"
)
VOLATILE = {"mode", "recomputed", "reused", "seconds", "incremental"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inc_files")
    town = generate_town(residents=450, seed=4)
    write_department_files(town, d)
    return d, town.as_of


def _copy(src: Path, dest: Path) -> None:
    for suffix in ("", ".keys"):
        shutil.copy2(str(src) + suffix, str(dest) + suffix)


def _rows(ws, run_id) -> list:
    with ws.session() as s:
        return [tuple(r) for r in s.execute(text(ROWS_SQL), {"r": run_id}).all()]


def _summary(ws, run_id) -> dict:
    with ws.session() as s:
        return json.loads(s.execute(text("SELECT summary FROM score_run WHERE id = :r"), {"r": run_id}).scalar_one())


class Town:
    def __init__(self, root: Path, on, new_db_at):
        self.root, self.on = root, on
        self.step_db, self.once_db = root / "step.db", root / "once.db"
        self.ws = new_db_at(self.step_db)  # a new database: a copy of one Workspace.create (tests/conftest.py)
        self.n = 0
        self.runs: list[int] = []

    def score(self) -> tuple[dict, list]:
        """Score ``step`` incrementally and a copy of it in full; assert the two runs are the same."""
        self.n += 1
        self.ws.close()
        _copy(self.step_db, self.once_db)
        self.ws = Workspace.open(self.step_db, PASSWORD)
        once = Workspace.open(self.once_db, PASSWORD)
        try:
            a = S.score_to_csv(self.ws, self.root / f"inc{self.n}.csv", as_of=self.on)
            b = S.score_to_csv(once, self.root / f"full{self.n}.csv", as_of=self.on, full=True)
            assert b["mode"] == "full" and a["run_id"] == b["run_id"]
            self.runs.append(a["run_id"])
            ca, cb = (self.root / f"inc{self.n}.csv").read_bytes(), (self.root / f"full{self.n}.csv").read_bytes()
            assert ca.count(b"\n") > 50
            assert ca == cb
            ra, rb = _rows(self.ws, a["run_id"]), _rows(once, b["run_id"])
            assert len(ra) == len(rb) == a["children"]
            for x, y in zip(ra, rb):
                assert x == y, x[0]
            sa, sb = _summary(self.ws, a["run_id"]), _summary(once, b["run_id"])
            assert {k: v for k, v in sa.items() if k not in VOLATILE} == {
                k: v for k, v in sb.items() if k not in VOLATILE
            }
            return sa, ra
        finally:
            once.close()


def _read_csv(path: Path) -> tuple[str, list[list[str]]]:
    raw = path.read_bytes()
    enc = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp932"
    return enc, list(csv.reader(raw.decode(enc).splitlines()))


def _write_csv(path: Path, enc: str, rows: list[list[str]]) -> None:
    with open(path, "w", encoding=enc, newline="") as fh:
        csv.writer(fh).writerows(rows)


def _registry_moving_a_child(path: Path, out: Path) -> str:
    """The registry with one child (one with a sibling) moved into another household; returns its 宛名番号."""
    enc, rows = _read_csv(path)
    head = next(i for i, r in enumerate(rows) if any("宛名" in c for c in r))
    cols = rows[head]
    no, hh, rel = cols.index("宛名番号"), cols.index("世帯番号"), cols.index("続柄")
    kids: dict[str, list[list[str]]] = {}
    for r in rows[head + 1 :]:
        if r[rel] == "子":
            kids.setdefault(r[hh], []).append(r)
    child = next(v[0] for v in kids.values() if len(v) >= 2)
    child[hh] = next(h for h in kids if h != child[hh])
    _write_csv(out, enc, rows)
    return child[no]


def test_incremental_runs_equal_full_runs(files, tmp_path, new_db_at):
    d, on = files
    entries = read_manifest(d / "sources.csv")
    by_type = {e.source_type: e for e in entries}
    t = Town(tmp_path, on, new_db_at)
    pa = by_type["public_assistance"]
    enc, rows = _read_csv(pa.path)
    half = tmp_path / "生活保護_前半.csv"
    _write_csv(half, enc, rows[: len(rows) // 2])
    try:
        first = [e for e in entries if e.source_type != "public_assistance"]
        assert all(not r.get("refused") for r in import_manifest(t.ws, first))
        import_file(t.ws, half, "public_assistance", as_of=on)
        run_linkage(t.ws)
        rules = S.default_weights()
        rules["rank"] = {"mode": "top_percent", "value": 10, "per": "age_band"}
        rules["basic_items_rule"] = {"enabled": True, "min": 3}
        S.adopt_weights(t.ws, rules, "上位10%と基本項目3つ以上（試験）", preview={})

        s1, rows1 = t.score()
        assert s1["mode"] == "full"  # nothing to build on
        assert any(r[5] for r in rows1) and all('"rank"' in r[7] for r in rows1)

        # a new batch: the whole public assistance extract (the half before, and the other half) for the same date
        import_file(t.ws, pa.path, "public_assistance", as_of=on, force=True)
        run_linkage(t.ws)
        s2, rows2 = t.score()
        assert s2["mode"] == "incremental" and s2["incremental"]["based_on"] == t.runs[0]
        assert 0 < s2["recomputed"] < s2["children"] and s2["reused"] == s2["children"] - s2["recomputed"]
        old = {r[0]: r for r in rows1}
        reused = [r for r in rows2 if r[0] in old and r[14] == old[r[0]][14]]
        assert len(reused) == s2["reused"]
        assert any(r[8] != old[r[0]][8] for r in reused)  # children not re-evaluated moved in the list

        # that batch removed: the first half is what there is again
        with t.ws.session() as s:
            bid = s.execute(
                text("SELECT max(id) FROM source_batch WHERE source_type = 'public_assistance'")
            ).scalar_one()
        remove_batch(t.ws, bid, "誤った抽出（試験）")
        s3, rows3 = t.score()
        assert s3["mode"] == "incremental" and 0 < s3["recomputed"] < s3["children"]
        assert [r[:14] for r in rows3] != [r[:14] for r in rows2]
        assert [(r[0], r[1], r[7].count('"indicator"')) for r in rows3] == [
            (r[0], r[1], r[7].count('"indicator"')) for r in rows1
        ]  # the same totals and reasons as before the batch

        # a child moved to another household, as 名寄せ writes a registry change (the person's household)
        with t.ws.session() as s:
            kid, hh = s.execute(
                text(
                    "SELECT id, household_id FROM person WHERE household_id IN (SELECT household_id FROM person "
                    "WHERE birth_date > '2010-01-01' GROUP BY household_id HAVING count(*) >= 2) "
                    "AND birth_date > '2010-01-01' ORDER BY id LIMIT 1"
                )
            ).one()
            other = s.execute(
                text("SELECT household_id FROM person WHERE household_id != :h AND birth_date > '2010-01-01' LIMIT 1"),
                {"h": hh},
            ).scalar_one()
            s.execute(text("UPDATE person SET household_id = :o WHERE id = :p"), {"o": other, "p": kid})
        s4, rows4 = t.score()
        assert s4["mode"] == "incremental" and 2 <= s4["recomputed"] < s4["children"]
        before = next(r for r in rows3 if r[0] == kid)
        after = next(r for r in rows4 if r[0] == kid)
        assert before[14] != after[14]  # its input key changed

        # an opt-out (a whole household): its children leave the run; nobody else is re-evaluated for it
        flagged = next(r for r in rows4 if r[5] and r[0] != kid)
        add_optout(t.ws, flagged[0], "本人・保護者の申出（試験）", household=True)
        s5, rows5 = t.score()
        assert s5["mode"] == "incremental" and s5["recomputed"] == 0
        assert not any(r[0] == flagged[0] for r in rows5) and len(rows5) < len(rows4)

        # a trial (other weights) is computed in full and never kept: the next run still builds on the last one
        w = S.default_weights()
        w["sibling"]["points"] = 3
        (tmp_path / "w.json").write_text(json.dumps(w, ensure_ascii=False), encoding="utf-8")
        trial = S.score_to_csv(t.ws, tmp_path / "t.csv", weights_file=tmp_path / "w.json", as_of=on)
        assert trial["trial"] and trial["run_id"] is None and trial["mode"] == "full"
        s6, _ = t.score()
        # nothing new: nothing re-evaluated, and the same as a full run (checked in score())
        assert s6["mode"] == "incremental" and s6["recomputed"] == 0 and s6["previous_run_id"] == t.runs[-2]

        # another as-of date, or --full: a full run
        other = on.replace(day=2) if on.day == 1 else on.replace(day=1)
        assert S.score_to_csv(t.ws, tmp_path / "other.csv", as_of=other)["mode"] == "full"
    finally:
        t.ws.close()
